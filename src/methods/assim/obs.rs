//! What an analysis sees of the observations: the values, their error
//! variances, the observation operator applied to each member, and (for
//! localisation) where each observation sits. Owns the geometry of sites and
//! domains; knows nothing of files or of how `hx` was computed.

use nalgebra::{DMatrix, DVector};

use super::error::{AssimError, check_len};

/// Where a state variable or an observation lives, for localisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Site {
    /// Not tied to a place (a scalar reduction such as tumour burden, or a
    /// model parameter): it is at distance 0 from everything.
    Global,
    /// A point in the model's physical units; 1-D models use `[x, 0.0]`.
    At([f64; 2]),
}

/// The geometry distances are measured in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Domain {
    /// Period along x and y; `None` for a bounded (non-periodic) axis.
    pub period: [Option<f64>; 2],
}

impl Domain {
    /// No periodic axis.
    pub fn bounded() -> Self {
        Domain {
            period: [None, None],
        }
    }

    /// Periodic along x with length `lx` (a ring such as Lorenz-96).
    pub fn ring(lx: f64) -> Self {
        Domain {
            period: [Some(lx), None],
        }
    }

    /// Periodic along both axes (a torus).
    pub fn torus(lx: f64, ly: f64) -> Self {
        Domain {
            period: [Some(lx), Some(ly)],
        }
    }

    /// Euclidean distance, taking the shorter way round on periodic axes.
    /// A `Global` site is at distance 0 from every site.
    pub fn distance(&self, a: Site, b: Site) -> f64 {
        let (Site::At(p), Site::At(q)) = (a, b) else {
            return 0.0;
        };
        let mut sum = 0.0;
        for axis in 0..2 {
            let mut d = (p[axis] - q[axis]).abs();
            if let Some(l) = self.period[axis] {
                d %= l;
                d = d.min(l - d);
            }
            sum += d * d;
        }
        sum.sqrt()
    }
}

/// The observations of one analysis time, with the ensemble seen through the
/// observation operator.
#[derive(Clone, Debug)]
pub struct ObsBatch {
    /// Observed values (m).
    pub y: DVector<f64>,
    /// Observation error variances (m), the diagonal of R.
    pub r_diag: DVector<f64>,
    /// The observation operator applied to each member (m × N, column = member).
    pub hx: DMatrix<f64>,
    /// Where each observation sits (m); all `Global` unless set.
    pub sites: Vec<Site>,
}

impl ObsBatch {
    /// A batch with every observation `Global` (no localisation).
    pub fn new(y: DVector<f64>, r_diag: DVector<f64>, hx: DMatrix<f64>) -> Self {
        let sites = vec![Site::Global; y.len()];
        ObsBatch {
            y,
            r_diag,
            hx,
            sites,
        }
    }

    /// Sets the observation sites (for LETKF).
    pub fn with_sites(mut self, sites: Vec<Site>) -> Self {
        self.sites = sites;
        self
    }

    /// Number of observations.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when the batch holds no observation.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Number of ensemble members.
    pub fn members(&self) -> usize {
        self.hx.ncols()
    }

    /// Checks shapes, variances and finiteness; every method calls this first.
    pub fn validate(&self) -> Result<(), AssimError> {
        let m = self.y.len();
        check_len("ObsBatch r_diag", m, self.r_diag.len())?;
        check_len("ObsBatch hx rows", m, self.hx.nrows())?;
        check_len("ObsBatch sites", m, self.sites.len())?;
        if self.hx.ncols() < 2 {
            return Err(AssimError::config(
                "ensemble size",
                self.hx.ncols(),
                "an ensemble needs at least 2 members",
            ));
        }
        for (i, &r) in self.r_diag.iter().enumerate() {
            if !(r.is_finite() && r > 0.0) {
                return Err(AssimError::ObsVariance { index: i, value: r });
            }
        }
        if let Some(i) = self.y.iter().position(|v| !v.is_finite()) {
            return Err(AssimError::NonFinite {
                what: "observations y",
                row: i,
                col: 0,
            });
        }
        check_finite("hx", &self.hx)
    }
}

/// Fails with `NonFinite` at the first NaN or infinity of `a`.
pub(crate) fn check_finite(what: &'static str, a: &DMatrix<f64>) -> Result<(), AssimError> {
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            if !a[(i, j)].is_finite() {
                return Err(AssimError::NonFinite {
                    what,
                    row: i,
                    col: j,
                });
            }
        }
    }
    Ok(())
}

/// The whitened ensemble-space view of a batch: S = R^(−1/2) (HX − ȳ 1ᵀ)
/// (m × N) and d = R^(−1/2) (y − ȳ) (m).
pub(crate) struct Whitened {
    pub s: DMatrix<f64>,
    pub d: DVector<f64>,
}

impl Whitened {
    pub fn of(obs: &ObsBatch) -> Self {
        let n = obs.members();
        let ybar = obs.hx.column_mean();
        let mut s = obs.hx.clone();
        let mut d = &obs.y - &ybar;
        for i in 0..obs.len() {
            let inv_sd = 1.0 / obs.r_diag[i].sqrt();
            d[i] *= inv_sd;
            for j in 0..n {
                s[(i, j)] = (s[(i, j)] - ybar[i]) * inv_sd;
            }
        }
        Whitened { s, d }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_distance_takes_the_short_way() {
        let ring = Domain::ring(40.0);
        let d = ring.distance(Site::At([1.0, 0.0]), Site::At([39.0, 0.0]));
        assert!((d - 2.0).abs() < 1e-12);
        let open = Domain::bounded();
        let d = open.distance(Site::At([1.0, 0.0]), Site::At([39.0, 0.0]));
        assert!((d - 38.0).abs() < 1e-12);
        let torus = Domain::torus(10.0, 10.0);
        let d = torus.distance(Site::At([9.0, 1.0]), Site::At([1.0, 9.0]));
        assert!((d - 8f64.sqrt()).abs() < 1e-12);
        assert_eq!(ring.distance(Site::Global, Site::At([3.0, 0.0])), 0.0);
    }

    #[test]
    fn validate_rejects_bad_variance_and_shapes() {
        let hx = DMatrix::from_element(2, 3, 1.0);
        let ok = ObsBatch::new(DVector::zeros(2), DVector::from_element(2, 1.0), hx.clone());
        assert!(ok.validate().is_ok());
        let bad_r = ObsBatch::new(
            DVector::zeros(2),
            DVector::from_vec(vec![1.0, 0.0]),
            hx.clone(),
        );
        assert_eq!(
            bad_r.validate(),
            Err(AssimError::ObsVariance {
                index: 1,
                value: 0.0
            })
        );
        let bad_shape = ObsBatch::new(DVector::zeros(3), DVector::from_element(3, 1.0), hx);
        assert!(matches!(
            bad_shape.validate(),
            Err(AssimError::Shape { .. })
        ));
    }
}
