//! The local ETKF (Hunt, Kostelich & Szunyogh 2007): one ETKF per state
//! point, using only nearby observations, each with its error variance
//! divided by the Gaspari–Cohn taper of its distance (R-localisation).
//! Owns the selection of local observations; the solve is `etkf`'s.
//!
//! The GPU engine may compute transforms on a coarse set of points and
//! interpolate them to the grid (weight interpolation, Yang et al. 2009):
//! `local_transforms` takes any list of points.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::error::AssimError;
use super::etkf::etkf_from_whitened;
use super::localize::GaspariCohn;
use super::obs::{Domain, ObsBatch, Site, Whitened};
use super::transform::EnsembleTransform;

/// Local ETKF transforms (before inflation and rotation), one per point,
/// computed in parallel; each in the observation-space form when it has
/// fewer local observations than members (`etkf_from_whitened`). A point
/// with no observation within the taper's support gets the identity.
pub fn local_transforms(
    obs: &ObsBatch,
    taper: &GaspariCohn,
    domain: &Domain,
    points: &[Site],
) -> Result<Vec<EnsembleTransform>, AssimError> {
    obs.validate()?;
    let wh = Whitened::of(obs);
    let n = obs.members();
    // Each point is independent: one task per point (rayon keeps the
    // output in point order).
    points
        .par_iter()
        .map(|&p| {
            let local: Vec<(usize, f64)> = obs
                .sites
                .iter()
                .enumerate()
                .filter_map(|(k, &site)| {
                    let rho = taper.at(domain.distance(p, site));
                    (rho > 0.0).then(|| (k, rho.sqrt()))
                })
                .collect();
            if local.is_empty() {
                return Ok(EnsembleTransform::identity(n));
            }
            let s = DMatrix::from_fn(local.len(), n, |i, j| local[i].1 * wh.s[(local[i].0, j)]);
            let d = DVector::from_fn(local.len(), |i, _| local[i].1 * wh.d[local[i].0]);
            etkf_from_whitened(&s, &d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::etkf::etkf_transform;
    use crate::methods::assim::gauss::std_normal_matrix;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn batch(rng: &mut StdRng) -> ObsBatch {
        let hx = std_normal_matrix(rng, 6, 5);
        let y = std_normal_matrix(rng, 6, 1).column(0).into_owned();
        let sites = (0..6).map(|k| Site::At([k as f64 * 3.0, 0.0])).collect();
        ObsBatch::new(y, DVector::from_element(6, 0.8), hx).with_sites(sites)
    }

    /// With a taper much wider than the domain every weight is ≈ 1, so each
    /// local transform equals the global ETKF (to the taper's deviation
    /// from 1, here < 1e-6).
    #[test]
    fn huge_radius_recovers_global_etkf() {
        let mut rng = StdRng::seed_from_u64(3);
        let obs = batch(&mut rng);
        let global = etkf_transform(&obs).unwrap();
        let gc = GaspariCohn::from_half_width(1e5).unwrap();
        let pts = [Site::At([0.0, 0.0]), Site::At([7.5, 0.0])];
        for t in local_transforms(&obs, &gc, &Domain::bounded(), &pts).unwrap() {
            assert!((&t.w - &global.w).abs().max() < 1e-6);
            assert!((t.big_w() - global.big_w()).abs().max() < 1e-6);
        }
    }

    /// A point farther than 2c from every observation is not updated; a
    /// `Global` state point (a parameter) sees every observation untapered.
    #[test]
    fn far_points_are_untouched_and_global_points_see_all() {
        let mut rng = StdRng::seed_from_u64(4);
        let obs = batch(&mut rng);
        let gc = GaspariCohn::from_radius(1.0).unwrap();
        let ts = local_transforms(
            &obs,
            &gc,
            &Domain::bounded(),
            &[Site::At([100.0, 0.0]), Site::Global],
        )
        .unwrap();
        assert_eq!(ts[0], EnsembleTransform::identity(5));
        let global = etkf_transform(&obs).unwrap();
        assert!((&ts[1].w - &global.w).abs().max() < 1e-12);
    }
}
