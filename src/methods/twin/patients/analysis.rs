//! One patient's analysis on the host, in the analysis space: state words
//! of `log_fields` and log-scale parameters as their natural logarithms
//! (so positive quantities stay positive once transformed back), linear
//! otherwise; observables of `log_observables` as ln(value) with SD
//! sd/value. The filter's transform (ETKF or EnKF, f64, ensemble space)
//! applies to the augmented block [state; estimated parameters].
//!
//! Also member health: a member is unhealthy when its state, observables
//! or estimated parameters are non-finite or a parameter leaves its bounds;
//! it is replaced by a copy of a healthy member of the same patient plus a
//! small jitter (`JITTER` × the healthy members' spread of each analysed
//! row, in the analysis space).
//!
//! Owns: the transforms into and out of the analysis space, the block
//! analysis and the replacement plan. Never touches the engine.

use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};

use super::super::obs::ObsItem;
use crate::methods::assim::gauss::std_normal;
use crate::methods::assim::joint::ParamScale;
use crate::methods::assim::{AssimError, Filter, ObsBatch};

/// Smallest value taken on a log scale.
pub const LOG_FLOOR: f64 = 1e-12;

/// Jitter of a replaced member: this fraction of the healthy members' SD.
pub const JITTER: f64 = 0.1;

/// How a block's rows map to the analysis space.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    /// Per state word: analysed as ln(value).
    pub log_words: Vec<bool>,
    /// Per estimated parameter.
    pub scales: Vec<ParamScale>,
    /// Per estimated parameter: [low, high] in natural units.
    pub bounds: Vec<(f64, f64)>,
}

impl Space {
    pub fn n_state(&self) -> usize {
        self.log_words.len()
    }

    /// [state; params] in the analysis space.
    pub fn forward(&self, state: &DMatrix<f64>, params: &DMatrix<f64>) -> DMatrix<f64> {
        let (n, p) = (self.n_state(), self.scales.len());
        DMatrix::from_fn(n + p, state.ncols(), |i, j| {
            if i < n {
                let v = state[(i, j)];
                if self.log_words[i] {
                    v.max(LOG_FLOOR).ln()
                } else {
                    v
                }
            } else {
                let v = params[(i - n, j)];
                match self.scales[i - n] {
                    ParamScale::Log => v.max(LOG_FLOOR).ln(),
                    ParamScale::Linear => v,
                }
            }
        })
    }

    /// Back to natural units: (state, params).
    pub fn back(&self, z: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        let (n, p) = (self.n_state(), self.scales.len());
        let state = DMatrix::from_fn(n, z.ncols(), |i, j| {
            let v = z[(i, j)];
            if self.log_words[i] { v.exp() } else { v }
        });
        let params = DMatrix::from_fn(p, z.ncols(), |k, j| {
            let v = z[(n + k, j)];
            match self.scales[k] {
                ParamScale::Log => v.exp(),
                ParamScale::Linear => v,
            }
        });
        (state, params)
    }

    /// Whether member `j` is healthy: finite state, observables and
    /// parameters, parameters within bounds.
    pub fn healthy(
        &self,
        state: &DMatrix<f64>,
        params: &DMatrix<f64>,
        obs_ok: &[bool],
        j: usize,
    ) -> bool {
        obs_ok[j]
            && state.column(j).iter().all(|v| v.is_finite())
            && params
                .column(j)
                .iter()
                .zip(&self.bounds)
                .all(|(v, (lo, hi))| v.is_finite() && *v >= *lo && *v <= *hi)
    }
}

/// The observation batch of one analysis: y, R and HX in the analysis
/// space (log observables as logarithms).
pub fn batch(items: &[ObsItem], mut hx: DMatrix<f64>) -> ObsBatch {
    let mut y = DVector::from_iterator(
        items.len(),
        items.iter().map(|it| it.value.unwrap_or(f64::NAN)),
    );
    let mut r = DVector::from_iterator(items.len(), items.iter().map(|it| it.sd * it.sd));
    for (k, it) in items.iter().enumerate().filter(|(_, it)| it.log) {
        r[k] = (it.sd / y[k]).powi(2);
        y[k] = y[k].ln();
        hx.row_mut(k).apply(|v| *v = v.max(LOG_FLOOR).ln());
    }
    ObsBatch::new(y, r, hx).with_sites(items.iter().map(|it| it.site).collect())
}

/// Analyses one block (analysis-space matrix `z`, one column per member)
/// in place.
pub fn analyse<R: Rng + ?Sized>(
    filter: &mut Filter,
    rng: &mut R,
    z: &mut DMatrix<f64>,
    obs: &ObsBatch,
) -> Result<(), AssimError> {
    let report = filter.plan(obs, rng)?;
    report.transform.apply(z)
}

/// Replaces every unhealthy member of a block: member j takes the column of
/// a healthy member chosen uniformly (`rng`), plus N(0, (JITTER·sd_i)²) on
/// every analysis-space row i, where sd_i is the healthy members' spread.
/// Returns the source of each member (itself when healthy), or `None` when
/// fewer than 2 members are healthy.
pub fn replace<R: Rng + ?Sized>(
    z: &mut DMatrix<f64>,
    healthy: &[bool],
    rng: &mut R,
) -> Option<Vec<usize>> {
    let good: Vec<usize> = (0..healthy.len()).filter(|&j| healthy[j]).collect();
    if good.len() < 2 {
        return None;
    }
    let sd: Vec<f64> = (0..z.nrows())
        .map(|i| {
            let v: Vec<f64> = good.iter().map(|&j| z[(i, j)]).collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
        })
        .collect();
    let mut src: Vec<usize> = (0..healthy.len()).collect();
    for j in 0..healthy.len() {
        if healthy[j] {
            continue;
        }
        let s = good[rng.random_range(0..good.len())];
        src[j] = s;
        for (i, sdi) in sd.iter().enumerate() {
            z[(i, j)] = z[(i, s)] + JITTER * sdi * std_normal(rng);
        }
    }
    Some(src)
}

#[cfg(test)]
mod tests {
    use super::super::super::obs::Operator;
    use super::*;
    use crate::methods::assim::obs_file::Location;
    use crate::methods::assim::testbed::stream;
    use crate::methods::assim::{FilterConfig, Method, Site};

    fn item(value: f64, sd: f64, log: bool) -> ObsItem {
        ObsItem {
            observable: "v".into(),
            location: Location::Scalar,
            op: Operator::Engine(0),
            site: Site::Global,
            sd,
            rel_sd: 0.0,
            value: Some(value),
            log,
        }
    }

    /// A linear-Gaussian problem in log space: x = ln u observed directly
    /// through y = ln(obs) with ln-SD s. The ETKF analysis of the log-space
    /// ensemble must equal the Kalman filter update of its sample mean and
    /// variance: m_a = m + K (y − m), P_a = (1 − K) P, K = P / (P + s²).
    #[test]
    fn log_space_analysis_equals_the_kalman_filter_in_log_space() {
        let n = 40;
        let mut rng = stream(7, 1);
        let state = DMatrix::from_fn(1, n, |_, _| (0.3 * std_normal(&mut rng) - 2.0).exp());
        let space = Space {
            log_words: vec![true],
            scales: vec![],
            bounds: vec![],
        };
        let mut z = space.forward(&state, &DMatrix::zeros(0, n));
        let x: Vec<f64> = z.row(0).iter().copied().collect();
        let m = x.iter().sum::<f64>() / n as f64;
        let p = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
        // Observation 0.2 with multiplicative error 10 %: ln-SD 0.1.
        let (obs, s) = (0.2f64, 0.1f64);
        let b = batch(&[item(obs, obs * s, true)], state.clone());
        let mut filter = Filter::new(FilterConfig {
            method: Method::Etkf { rotate: false },
            inflation: 1.0,
        })
        .unwrap();
        analyse(&mut filter, &mut rng, &mut z, &b).unwrap();
        let k = p / (p + s * s);
        let (ma, pa) = (m + k * (obs.ln() - m), (1.0 - k) * p);
        let xa: Vec<f64> = z.row(0).iter().copied().collect();
        let m2 = xa.iter().sum::<f64>() / n as f64;
        let p2 = xa.iter().map(|v| (v - m2).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!((m2 - ma).abs() < 1e-10, "mean {m2} vs Kalman {ma}");
        assert!(
            (p2 - pa).abs() < 1e-10 * pa.max(1.0),
            "var {p2} vs Kalman {pa}"
        );
        let (back, _) = space.back(&z);
        assert!(back.iter().all(|v| *v > 0.0), "members stay positive");
    }

    #[test]
    fn replacement_copies_healthy_members_and_keeps_the_size() {
        let n = 8;
        let mut z = DMatrix::from_fn(2, n, |i, j| (i * 10 + j) as f64);
        let healthy = [true, false, true, true, false, true, true, true];
        z[(0, 1)] = f64::NAN;
        let mut rng = stream(3, 9);
        let src = replace(&mut z, &healthy, &mut rng).unwrap();
        assert_eq!(z.ncols(), n);
        for j in 0..n {
            if healthy[j] {
                assert_eq!(src[j], j);
                assert_eq!(z[(1, j)], (10 + j) as f64, "a healthy member is untouched");
            } else {
                assert!(healthy[src[j]], "source {} of {j} is healthy", src[j]);
                for i in 0..2 {
                    let d = (z[(i, j)] - z[(i, src[j])]).abs();
                    assert!(
                        d.is_finite() && d > 0.0 && d < 2.0,
                        "jittered copy, row {i}: {d}"
                    );
                }
            }
        }
        let one = [true, false, false, false];
        assert!(replace(&mut DMatrix::zeros(1, 4), &one, &mut rng).is_none());
    }
}
