//! The ensemble transform Kalman filter with the symmetric square root
//! (Bishop et al. 2001; Hunt et al. 2007; Sakov & Oke 2008). Owns the
//! ensemble-space solve shared with the LETKF; knows nothing of state values.
//!
//! With S = R^(−1/2) Y (Y = obs-space anomalies) and d = R^(−1/2)(y − ȳ):
//! Pw = (SᵀS + (N−1) I)⁻¹, w = Pw Sᵀ d, W = √(N−1) Pw^(1/2). The symmetric
//! root keeps W 1 = 1, so the analysis mean is exactly x̄ + X' w.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use super::error::AssimError;
use super::obs::{ObsBatch, Whitened};
use super::transform::EnsembleTransform;

/// The ETKF transform from whitened anomalies `s` (m × N) and innovation `d`
/// (m). With m = 0 it returns the identity.
pub(crate) fn etkf_from_whitened(
    s: &DMatrix<f64>,
    d: &DVector<f64>,
) -> Result<EnsembleTransform, AssimError> {
    let n = s.ncols();
    let n1 = (n - 1) as f64;
    let mut a = s.transpose() * s;
    for i in 0..n {
        a[(i, i)] += n1;
    }
    let eig = SymmetricEigen::try_new(a, f64::EPSILON, 0)
        .ok_or(AssimError::Numerical("ETKF eigen-decomposition"))?;
    let v = &eig.eigenvectors;
    // All eigenvalues are ≥ N − 1 > 0 in exact arithmetic.
    if eig.eigenvalues.iter().any(|&l| !(l.is_finite() && l > 0.0)) {
        return Err(AssimError::Numerical("ETKF eigenvalues not positive"));
    }
    let inv = eig.eigenvalues.map(|l| 1.0 / l);
    let inv_sqrt = eig.eigenvalues.map(|l| (n1 / l).sqrt());
    let pw = v * DMatrix::from_diagonal(&inv) * v.transpose();
    let big_w = v * DMatrix::from_diagonal(&inv_sqrt) * v.transpose();
    let w = pw * (s.transpose() * d);
    Ok(EnsembleTransform { w, big_w })
}

/// ETKF transform for a batch, before inflation and rotation. Public so the
/// engine can compute it from `hx` alone and apply it on the GPU.
pub fn etkf_transform(obs: &ObsBatch) -> Result<EnsembleTransform, AssimError> {
    obs.validate()?;
    let wh = Whitened::of(obs);
    etkf_from_whitened(&wh.s, &wh.d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assim::gauss::std_normal_matrix;
    use crate::assim::stats::mean_cov;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Linear-Gaussian check: with a linear H, the ETKF analysis mean and
    /// covariance equal the Kalman filter's for the ensemble's own prior
    /// covariance P = X'X'ᵀ/(N−1): x_a = x̄ + K (y − H x̄),
    /// P_a = (I − K H) P, K = P Hᵀ (H P Hᵀ + R)⁻¹. Exact up to round-off (1e-10).
    #[test]
    fn matches_kalman_filter_on_linear_gaussian_problem() {
        let mut rng = StdRng::seed_from_u64(11);
        let (n_state, n_mem, m) = (5, 8, 3);
        let e = std_normal_matrix(&mut rng, n_state, n_mem) * 2.0;
        let h = std_normal_matrix(&mut rng, m, n_state);
        let r = DVector::from_vec(vec![0.5, 1.0, 2.0]);
        let y = DVector::from_vec(vec![0.3, -1.0, 2.0]);
        let obs = ObsBatch::new(y.clone(), r.clone(), &h * &e);

        let t = etkf_transform(&obs).unwrap();
        let mut ea = e.clone();
        t.apply(&mut ea).unwrap();

        let (xb, pb) = mean_cov(&e);
        let rm = DMatrix::from_diagonal(&r);
        let k = &pb * h.transpose() * (&h * &pb * h.transpose() + rm).try_inverse().unwrap();
        let xa = &xb + &k * (&y - &h * &xb);
        let pa = (DMatrix::identity(n_state, n_state) - &k * &h) * &pb;

        let (xa_e, pa_e) = mean_cov(&ea);
        assert!((xa - xa_e).abs().max() < 1e-10);
        assert!((pa - pa_e).abs().max() < 1e-10);
        // The symmetric root preserves the ones vector.
        let ones = DVector::from_element(n_mem, 1.0);
        assert!((&t.big_w * &ones - ones).abs().max() < 1e-12);
    }
}
