//! The front door of the analysis: a validated filter configuration, the
//! state a filter carries between cycles (particle weights), and dispatch to
//! the methods. Owns `Filter::plan` (observations → transform, no state
//! values needed) and `Filter::analyse` (plan + apply on a host ensemble).

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rayon::prelude::*;

use super::enkf::enkf_transform;
use super::error::{AssimError, check_len};
use super::etkf::etkf_transform;
use super::inflation::random_rotation;
use super::letkf::local_transforms;
use super::localize::GaspariCohn;
use super::obs::{Domain, ObsBatch, Site};
use super::pf::pf_analysis;
use super::transform::{EnsembleTransform, Transform};

/// LETKF settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LetkfConfig {
    /// Localisation taper (R-localisation: variance divided by the taper).
    pub taper: GaspariCohn,
    /// Geometry for distances (periodic axes where the model has them).
    pub domain: Domain,
    /// Site of every state row, in row order (`Global` for parameters).
    /// For weight interpolation on the GPU, list coarse points here instead:
    /// `plan` then returns one transform per coarse point.
    pub state_sites: Vec<Site>,
    /// Apply one mean-preserving random rotation to all points.
    pub rotate: bool,
}

/// Particle-filter settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PfConfig {
    /// Resample when N_eff < threshold × N (0 ≤ threshold ≤ 1).
    pub resample_threshold: f64,
    /// Regularisation factor h of the jitter bandwidth h N^(−1/(M+4)).
    pub jitter: f64,
    /// State dimension M of the bandwidth rule.
    pub state_dim: usize,
}

/// The analysis method.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// Stochastic EnKF with perturbed observations (re-centred).
    EnKF,
    /// ETKF, symmetric square root; optional mean-preserving random rotation.
    Etkf { rotate: bool },
    /// Local ETKF with Gaspari–Cohn localisation.
    Letkf(LetkfConfig),
    /// Bootstrap particle filter with systematic resampling and jitter.
    Pf(PfConfig),
}

/// A filter: method plus multiplicative inflation of the analysis anomalies.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterConfig {
    pub method: Method,
    /// λ in E ← x̄ + λ (E − x̄) after the analysis; must be 1 for the PF.
    pub inflation: f64,
}

/// Which algebra an analysis used (see docs/assimilation.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnalysisForm {
    /// N × N solve in ensemble space (p ≥ N).
    EnsembleSpace,
    /// p × p solve in observation space, W = I + low rank (p < N).
    ObservationSpace,
    /// LETKF whose points used both forms.
    Mixed,
    /// Particle filter: weights, and a resampling plan.
    Particle,
}

impl AnalysisForm {
    /// The name written to the outputs.
    pub fn name(self) -> &'static str {
        match self {
            AnalysisForm::EnsembleSpace => "ensemble-space",
            AnalysisForm::ObservationSpace => "observation-space",
            AnalysisForm::Mixed => "mixed",
            AnalysisForm::Particle => "particle",
        }
    }

    fn of(t: &EnsembleTransform) -> Self {
        if t.is_low_rank() {
            AnalysisForm::ObservationSpace
        } else {
            AnalysisForm::EnsembleSpace
        }
    }
}

/// What one analysis produced.
#[derive(Clone, Debug)]
pub struct AnalysisReport {
    /// The algebra used (before inflation and rotation were folded in).
    pub form: AnalysisForm,
    /// How to update the members (inflation and rotation folded in).
    pub transform: Transform,
    /// PF only: normalised weights of the forecast members at this analysis,
    /// before any resampling (the analysis mean is E_f w).
    pub weights: Option<DVector<f64>>,
    /// PF only: effective sample size 1/Σw² before resampling.
    pub ess: Option<f64>,
    /// PF only: whether the members were resampled.
    pub resampled: bool,
}

/// A configured filter and the state it carries between analyses.
#[derive(Clone, Debug)]
pub struct Filter {
    config: FilterConfig,
    /// PF log weights (normalised); `None` until the first analysis.
    log_w: Option<DVector<f64>>,
}

impl Filter {
    /// Validates the configuration.
    pub fn new(config: FilterConfig) -> Result<Self, AssimError> {
        let lambda = config.inflation;
        if !(lambda.is_finite() && lambda > 0.0) {
            return Err(AssimError::config(
                "inflation",
                lambda,
                "must be positive and finite",
            ));
        }
        if let Method::Pf(pf) = &config.method {
            if lambda != 1.0 {
                return Err(AssimError::config(
                    "inflation",
                    lambda,
                    "the particle filter takes no inflation",
                ));
            }
            if !(0.0..=1.0).contains(&pf.resample_threshold) {
                return Err(AssimError::config(
                    "resample_threshold",
                    pf.resample_threshold,
                    "must be in [0, 1]",
                ));
            }
            if !(pf.jitter.is_finite() && pf.jitter >= 0.0) {
                return Err(AssimError::config(
                    "jitter",
                    pf.jitter,
                    "must be finite and non-negative",
                ));
            }
            if pf.state_dim == 0 {
                return Err(AssimError::config("state_dim", 0, "must be at least 1"));
            }
        }
        Ok(Filter {
            config,
            log_w: None,
        })
    }

    pub fn config(&self) -> &FilterConfig {
        &self.config
    }

    /// Current normalised particle weights: `None` for the Kalman-type
    /// methods and, for the PF, before its first analysis (equal weights).
    pub fn weights(&self) -> Option<DVector<f64>> {
        self.log_w.as_ref().map(|l| l.map(f64::exp))
    }

    /// The particle filter's normalised log weights (a checkpoint's).
    pub fn log_weights(&self) -> Option<&DVector<f64>> {
        self.log_w.as_ref()
    }

    /// Puts back log weights saved by [`Filter::log_weights`].
    pub fn set_log_weights(&mut self, log_w: Option<DVector<f64>>) {
        self.log_w = log_w;
    }

    /// Forgets the particle weights (equal weights from the next analysis on),
    /// e.g. after the members were replaced outside the filter.
    pub fn reset_weights(&mut self) {
        self.log_w = None;
    }

    /// Computes the analysis as an ensemble-space transform from the batch
    /// alone (values, variances, `hx`): no member state is read. Call it once
    /// per analysis time: it advances the filter (the PF's weights), and the
    /// caller must apply the returned transform to the members.
    pub fn plan<R: Rng + ?Sized>(
        &mut self,
        obs: &ObsBatch,
        rng: &mut R,
    ) -> Result<AnalysisReport, AssimError> {
        obs.validate()?;
        let n = obs.members();
        let lambda = self.config.inflation;
        let global = |mut t: EnsembleTransform, rotate: bool, rng: &mut R| {
            let form = AnalysisForm::of(&t);
            let q = rotate.then(|| random_rotation(n, rng));
            t.post_process(lambda, q.as_ref());
            report(Transform::Global(t), form)
        };
        match &self.config.method {
            Method::EnKF => Ok(global(enkf_transform(obs, rng)?, false, rng)),
            Method::Etkf { rotate } => Ok(global(etkf_transform(obs)?, *rotate, rng)),
            Method::Letkf(cfg) => {
                let mut ts = local_transforms(obs, &cfg.taper, &cfg.domain, &cfg.state_sites)?;
                let low = ts.iter().filter(|t| t.is_low_rank()).count();
                let form = match low {
                    0 => AnalysisForm::EnsembleSpace,
                    l if l == ts.len() => AnalysisForm::ObservationSpace,
                    _ => AnalysisForm::Mixed,
                };
                let q = cfg.rotate.then(|| random_rotation(n, rng));
                ts.par_iter_mut()
                    .for_each(|t| t.post_process(lambda, q.as_ref()));
                Ok(report(Transform::Local(ts), form))
            }
            Method::Pf(cfg) => {
                let log_w = self
                    .log_w
                    .get_or_insert_with(|| DVector::from_element(n, -(n as f64).ln()));
                let (w, ess, plan) = pf_analysis(
                    log_w,
                    obs,
                    cfg.resample_threshold,
                    cfg.jitter,
                    cfg.state_dim,
                    rng,
                )?;
                let resampled = plan.is_some();
                Ok(AnalysisReport {
                    form: AnalysisForm::Particle,
                    transform: plan.map_or(Transform::Keep, Transform::Resample),
                    weights: Some(w),
                    ess: Some(ess),
                    resampled,
                })
            }
        }
    }

    /// `plan`, then applies the transform to a host ensemble (n × N).
    pub fn analyse<R: Rng + ?Sized>(
        &mut self,
        ens: &mut DMatrix<f64>,
        obs: &ObsBatch,
        rng: &mut R,
    ) -> Result<AnalysisReport, AssimError> {
        check_len(
            "ensemble members (columns) vs hx columns",
            obs.members(),
            ens.ncols(),
        )?;
        let report = self.plan(obs, rng)?;
        report.transform.apply(ens)?;
        Ok(report)
    }
}

fn report(transform: Transform, form: AnalysisForm) -> AnalysisReport {
    AnalysisReport {
        form,
        transform,
        weights: None,
        ess: None,
        resampled: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::gauss::std_normal_matrix;
    use crate::methods::assim::stats::mean_cov;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// ETKF with inflation 1.1 and rotation: the mean is the un-inflated ETKF
    /// mean and the covariance is 1.1² times the un-inflated one (rotation
    /// leaves the covariance unchanged).
    #[test]
    fn folded_inflation_and_rotation() {
        let mut rng = StdRng::seed_from_u64(31);
        let e = std_normal_matrix(&mut rng, 3, 6);
        let hx = e.rows(0, 2).into_owned();
        let obs = ObsBatch::new(
            DVector::from_vec(vec![0.5, -0.5]),
            DVector::from_element(2, 1.0),
            hx,
        );
        let mut plain = Filter::new(FilterConfig {
            method: Method::Etkf { rotate: false },
            inflation: 1.0,
        })
        .unwrap();
        let mut fancy = Filter::new(FilterConfig {
            method: Method::Etkf { rotate: true },
            inflation: 1.1,
        })
        .unwrap();
        let (mut e1, mut e2) = (e.clone(), e.clone());
        plain.analyse(&mut e1, &obs, &mut rng).unwrap();
        fancy.analyse(&mut e2, &obs, &mut rng).unwrap();
        let (m1, c1) = mean_cov(&e1);
        let (m2, c2) = mean_cov(&e2);
        assert!((m1 - m2).abs().max() < 1e-12);
        assert!((c1 * 1.21 - c2).abs().max() < 1e-12);
    }

    #[test]
    fn rejects_bad_settings() {
        let pf = |t: f64, inflation: f64| FilterConfig {
            method: Method::Pf(PfConfig {
                resample_threshold: t,
                jitter: 0.5,
                state_dim: 3,
            }),
            inflation,
        };
        assert!(Filter::new(pf(0.2, 1.0)).is_ok());
        assert!(Filter::new(pf(1.5, 1.0)).is_err());
        assert!(Filter::new(pf(0.2, 1.02)).is_err());
        let etkf = FilterConfig {
            method: Method::Etkf { rotate: false },
            inflation: -1.0,
        };
        assert!(Filter::new(etkf).is_err());
    }
}
