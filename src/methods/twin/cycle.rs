//! One analysis: read the forecast ensemble (states, estimated parameters,
//! observables) from the engine, apply the observation operators, ask the
//! filter for a transform (f64, ensemble space), apply it to the augmented
//! ensemble on the host, clamp, and write states and parameters back.
//! Particle resampling first copies members inside the engine
//! (`Engine::copy_members`: states, parameters and status), then writes
//! the jittered duplicates.
//!
//! Owns: the filter's configuration from the setup (sites, domain, state
//! dimension), its random stream, and the per-analysis summaries.

use nalgebra::{DMatrix, DVector};

use super::ensemble::Ensemble;
use super::error::TwinError;
use super::obs::{self, ObsItem, Operator};
use super::scores;
use super::setup::Setup;
use crate::engine::mix::{MemberMix, MixWeights};
use crate::input::scene::MethodName;
use crate::methods::assim::joint::JointLayout;
use crate::methods::assim::stats::weighted_mean_var;
use crate::methods::assim::testbed::stream_at;
use crate::methods::assim::{
    AnalysisForm, AnomalyWeights, Domain, EnsembleTransform, Filter, FilterConfig, GaspariCohn,
    LetkfConfig, Method, ObsBatch, PfConfig, Site, Transform,
};

/// Ensemble summary at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub state_mean: DVector<f64>,
    pub state_var: DVector<f64>,
    /// (mean, sd) of every plan observable.
    pub obs: Vec<(f64, f64)>,
    /// (mean, sd) of every estimated parameter, in natural units.
    pub params: Vec<(f64, f64)>,
}

impl Snapshot {
    /// √(mean variance over the state): the ensemble spread.
    pub fn spread(&self) -> f64 {
        (self.state_var.sum() / self.state_var.len().max(1) as f64).sqrt()
    }
}

/// What one analysis did.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub forecast: Snapshot,
    pub analysis: Snapshot,
    /// Particle filter: effective sample size before resampling.
    pub ess: Option<f64>,
    pub resampled: bool,
    /// Mean over observations of (y − mean HX)² / (var HX + R): ≈ 1 when the
    /// forecast spread accounts for the innovations.
    pub chi2: f64,
    /// The algebra the filter used (recorded in `metrics.json`).
    pub form: AnalysisForm,
    /// Where the transform was applied, on an engine whose states live on a
    /// device (`None`: a host engine, where it always is on the host).
    pub application: Option<Application>,
}

/// Where one analysis applied its transform on a device engine, and why the
/// states were read back to the host when they were (`metrics.json`'s
/// `transform_application`).
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub on_device: bool,
    /// Why the member states were read back, if they were.
    pub state_read_back: Option<String>,
}

pub struct Assimilator {
    filter: Filter,
    rng: chacha20::ChaCha12Rng,
    layout: JointLayout,
    est: Vec<usize>,
    clamp: Vec<(usize, f64, f64)>,
    sites: usize,
}

/// Smallest member value taken on a log scale (a member with no tumour).
const LOG_FLOOR: f64 = 1e-12;

/// Stream 4 of the run seed, as in `assim::testbed`.
const FILTER_STREAM: u64 = 4;

impl Assimilator {
    pub fn new(setup: &Setup) -> Result<Self, TwinError> {
        let plan = &setup.plan;
        let g = plan.model.grid();
        let layout = JointLayout {
            n_state: plan.model.state_len(),
            scales: setup.estimate.iter().map(|e| e.1).collect(),
        };
        let f = &setup.filter;
        let method = match f.method {
            MethodName::Enkf => Method::EnKF,
            MethodName::Etkf => Method::Etkf { rotate: f.rotate },
            MethodName::Letkf => {
                let radius = f.loc_radius.unwrap_or(f64::NAN);
                let taper = GaspariCohn::from_radius(radius)
                    .map_err(|e| TwinError::Invalid(format!("--loc-radius: {e}")))?;
                let (lx, ly) = (g.nx as f64 * g.dx, g.ny as f64 * g.dx);
                let domain = match (g.periodic, g.ny) {
                    (false, _) => Domain::bounded(),
                    (true, 1) => Domain::ring(lx),
                    (true, _) => Domain::torus(lx, ly),
                };
                let mut cells = Vec::with_capacity(layout.n_state);
                for _ in 0..g.fields {
                    for iy in 0..g.ny {
                        for ix in 0..g.nx {
                            cells.push(Site::At([
                                (ix as f64 + 0.5) * g.dx,
                                (iy as f64 + 0.5) * g.dx,
                            ]));
                        }
                    }
                }
                let state_sites = layout
                    .sites(&cells)
                    .map_err(|e| TwinError::Invalid(e.to_string()))?;
                Method::Letkf(LetkfConfig {
                    taper,
                    domain,
                    state_sites,
                    rotate: f.rotate,
                })
            }
            MethodName::Pf => Method::Pf(PfConfig {
                resample_threshold: f.resample_threshold,
                jitter: f.jitter,
                state_dim: layout.rows(),
            }),
        };
        let filter = Filter::new(FilterConfig {
            method,
            inflation: f.inflation,
        })
        .map_err(|e| TwinError::Invalid(e.to_string()))?;
        Ok(Assimilator {
            filter,
            rng: stream_at(setup.seed, FILTER_STREAM),
            layout,
            est: setup.estimate.iter().map(|e| e.0).collect(),
            clamp: setup.clamp.clone(),
            sites: g.sites(),
        })
    }

    /// The filter's position for a checkpoint: its random stream's word
    /// position and the particle filter's log weights.
    pub fn position(&self) -> (u128, Option<Vec<f64>>) {
        (
            self.rng.get_word_pos(),
            self.filter
                .log_weights()
                .map(|l| l.iter().copied().collect()),
        )
    }

    /// Puts back a position saved by [`Assimilator::position`].
    pub fn restore(&mut self, word: u128, log_w: Option<Vec<f64>>) {
        self.rng.set_word_pos(word);
        self.filter.set_log_weights(log_w.map(DVector::from_vec));
    }

    /// The members' current weights (equal unless a particle filter has
    /// reweighted without resampling).
    pub fn weights(&self, n: usize) -> Vec<f64> {
        match self.filter.weights() {
            Some(w) => w.iter().copied().collect(),
            None => scores::equal(n),
        }
    }

    fn snapshot(
        &self,
        ens: &Ensemble,
        state: &DMatrix<f64>,
        frame: &[f32],
        params: &DMatrix<f64>,
        w: &[f64],
    ) -> Snapshot {
        let wv = DVector::from_column_slice(w);
        let (state_mean, state_var) = weighted_mean_var(state, &wv);
        let obs = (0..ens.n_ops())
            .map(|k| scores::mean_sd(&ens.column(frame, k), w))
            .collect();
        let params = self
            .est
            .iter()
            .map(|&j| scores::mean_sd(&params.row(j).iter().copied().collect::<Vec<_>>(), w))
            .collect();
        Snapshot {
            state_mean,
            state_var,
            obs,
            params,
        }
    }

    /// Analyses the ensemble (already advanced to the analysis step) with
    /// observations `items` of values `y`.
    pub fn analyse(
        &mut self,
        ens: &mut Ensemble,
        items: &[ObsItem],
        y: &DVector<f64>,
        cycle: usize,
        time: f64,
    ) -> Result<Analysis, TwinError> {
        let n = ens.members();
        let frame = ens.frame()?;
        if ens.frame_has_non_finite(&frame) {
            return Err(TwinError::NonFinite {
                what: "a member's state",
                cycle,
                time,
            });
        }
        // On a device engine, global transforms (EnKF, ETKF) of continuous
        // states are applied where the states live; they are read back only
        // for what the host needs (docs/assimilation.md).
        let device = ens.engine.backend() == "gpu"
            && ens.engine.plan().model.continuous_state()
            && matches!(
                self.filter.config().method,
                Method::EnKF | Method::Etkf { .. }
            );
        let mut read_back: Option<String> = if !device && ens.engine.backend() == "gpu" {
            Some(
                match self.filter.config().method {
                    Method::Letkf(_) => "LETKF: one transform per state word, applied on the host",
                    Method::Pf(_) => "particle filter: jitter applied on the host",
                    _ => "agent-based state: members are copied whole on the host's plan",
                }
                .to_string(),
            )
        } else {
            None
        };
        let field_ops = items
            .iter()
            .any(|it| matches!(it.op, Operator::Field { .. }));
        let mut e_f = None;
        if !device || field_ops {
            if device {
                read_back = Some("field observation operators need the states".to_string());
            }
            e_f = Some(ens.state()?);
        }
        let p_all = ens.params()?;
        let w_f = self.weights(n);
        let forecast = match &e_f {
            Some(e) => self.snapshot(ens, e, &frame, &p_all, &w_f),
            None => self.device_snapshot(ens, &frame, &p_all, &w_f)?,
        };
        let no_state = DMatrix::zeros(0, n);
        let mut hx = obs::apply(
            items,
            &frame,
            ens.n_ops(),
            e_f.as_ref().unwrap_or(&no_state),
            self.sites,
        );
        let mut y = y.clone();
        let mut r = DVector::from_iterator(items.len(), items.iter().map(|it| it.sd * it.sd));
        for (k, it) in items.iter().enumerate().filter(|(_, it)| it.log) {
            if y[k].is_nan() || y[k] <= 0.0 {
                return Err(TwinError::Invalid(format!(
                    "cycle {cycle} (time {time}): `{}` is assimilated on a log scale but its observed value is {}",
                    it.observable, y[k]
                )));
            }
            r[k] = (it.sd / y[k]).powi(2);
            y[k] = y[k].ln();
            hx.row_mut(k).apply(|v| *v = v.max(LOG_FLOOR).ln());
        }
        let chi2 = innovation_chi2(&hx, &y, &r, &w_f);
        let batch = ObsBatch::new(y, r, hx).with_sites(items.iter().map(|it| it.site).collect());
        let fail = |source| TwinError::Analysis {
            cycle,
            time,
            source,
        };
        let report = self.filter.plan(&batch, &mut self.rng).map_err(fail)?;
        if device && let Transform::Global(t) = &report.transform {
            let mx = self.member_mix(t, ens.n_state());
            let outcome = ens.engine.mix_members(&mx)?;
            let mut p_new = p_all.clone();
            if !self.est.is_empty() {
                // Parameters are small: the same transform on the host.
                let pl = JointLayout {
                    n_state: 0,
                    scales: self.layout.scales.clone(),
                };
                let p_est = p_all.select_rows(self.est.iter());
                let mut z = pl.augment(&DMatrix::zeros(0, n), &p_est).map_err(fail)?;
                t.apply(&mut z).map_err(fail)?;
                let (_, p_est_new) = pl.split(&z).map_err(fail)?;
                for (k, &j) in self.est.iter().enumerate() {
                    p_new.set_row(j, &p_est_new.row(k));
                }
                ens.write_params(&p_new)?;
            }
            if outcome.read_back {
                read_back = outcome.reason;
            }
            let frame_a = ens.frame()?;
            let analysis = self.device_snapshot(ens, &frame_a, &p_new, &scores::equal(n))?;
            return Ok(Analysis {
                forecast,
                analysis,
                ess: report.ess,
                resampled: report.resampled,
                chi2,
                form: report.form,
                application: Some(Application {
                    on_device: !outcome.read_back,
                    state_read_back: read_back,
                }),
            });
        }
        let e_f = match e_f {
            Some(e) => e,
            None => {
                read_back = Some("the filter returned no global transform".to_string());
                ens.state()?
            }
        };
        let p_est = p_all.select_rows(self.est.iter());
        let mut z = self.layout.augment(&e_f, &p_est).map_err(fail)?;
        let mut p_new = p_all.clone();
        let mut resampled: Vec<usize> = (0..n).collect();
        let changed = match &report.transform {
            Transform::Keep => false,
            Transform::Resample(p) => {
                resampled = p.idx.clone();
                let idx: Vec<u32> = p.idx.iter().map(|&i| i as u32).collect();
                ens.engine.copy_members(&idx)?;
                p_new = p_all.select_columns(p.idx.iter());
                let jittered = p.has_jitter();
                report.transform.apply(&mut z).map_err(fail)?;
                jittered
            }
            t => {
                t.apply(&mut z).map_err(fail)?;
                true
            }
        };
        let (mut state, p_est_new) = self.layout.split(&z).map_err(fail)?;
        // Agent pools are resampled whole by `copy_members`; the jitter
        // (a linear combination of members) reaches only the parameters.
        let whole_members = !ens.engine.plan().model.continuous_state();
        if changed {
            if whole_members {
                state = e_f.select_columns(resampled.iter());
            } else {
                self.clamp_state(&mut state);
                ens.write_state(&state)?;
            }
            for (k, &j) in self.est.iter().enumerate() {
                p_new.set_row(j, &p_est_new.row(k));
            }
            if !self.est.is_empty() {
                ens.write_params(&p_new)?;
            }
        }
        let analysis = match &report.weights {
            // A particle filter's analysis is the reweighted forecast.
            Some(w) => {
                let w: Vec<f64> = w.iter().copied().collect();
                self.snapshot(ens, &e_f, &frame, &p_all, &w)
            }
            None => {
                let frame_a = if changed { ens.frame()? } else { frame };
                self.snapshot(ens, &state, &frame_a, &p_new, &scores::equal(n))
            }
        };
        Ok(Analysis {
            forecast,
            analysis,
            ess: report.ess,
            resampled: report.resampled,
            chi2,
            form: report.form,
            application: (ens.engine.backend() == "gpu").then_some(Application {
                on_device: false,
                state_read_back: read_back,
            }),
        })
    }

    /// A snapshot whose state moments the engine computes where the states
    /// live (f32, members in order), so they are not read back.
    fn device_snapshot(
        &self,
        ens: &mut Ensemble,
        frame: &[f32],
        params: &DMatrix<f64>,
        w: &[f64],
    ) -> Result<Snapshot, TwinError> {
        let (mean, var) = ens.engine.state_moments(0..ens.n_state())?;
        let empty = DMatrix::zeros(0, ens.members());
        let mut s = self.snapshot(ens, &empty, frame, params, w);
        s.state_mean = DVector::from_iterator(mean.len(), mean.iter().map(|&v| v as f64));
        s.state_var = DVector::from_iterator(var.len(), var.iter().map(|&v| v as f64));
        Ok(s)
    }

    /// The engine's description of a global transform on the whole state,
    /// with the scene's clamps as per-word bounds.
    fn member_mix(&self, t: &EnsembleTransform, n_state: usize) -> MemberMix {
        let n = t.members();
        let anomaly = match &t.anomaly {
            AnomalyWeights::Dense(w) => MixWeights::Dense(w.as_slice().to_vec()),
            AnomalyWeights::LowRank { scale, left, right } => MixWeights::LowRank {
                scale: *scale,
                rank: left.ncols(),
                left: left.as_slice().to_vec(),
                right: right.as_slice().to_vec(),
            },
        };
        let mut bounds = Vec::new();
        if !self.clamp.is_empty() {
            bounds = vec![(f32::MIN, f32::MAX); n_state];
            for &(f, lo, hi) in &self.clamp {
                for b in &mut bounds[f * self.sites..(f + 1) * self.sites] {
                    *b = (b.0.max(lo as f32), b.1.min(hi as f32));
                }
            }
        }
        debug_assert_eq!(t.w.len(), n);
        MemberMix {
            words: 0..n_state,
            w: t.w.as_slice().to_vec(),
            anomaly,
            bounds,
        }
    }

    fn clamp_state(&self, state: &mut DMatrix<f64>) {
        for &(f, lo, hi) in &self.clamp {
            for mut col in state.column_iter_mut() {
                for v in col.rows_mut(f * self.sites, self.sites).iter_mut() {
                    *v = v.clamp(lo, hi);
                }
            }
        }
    }
}

fn innovation_chi2(hx: &DMatrix<f64>, y: &DVector<f64>, r: &DVector<f64>, w: &[f64]) -> f64 {
    let m = y.len();
    if m == 0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for k in 0..m {
        let row: Vec<f64> = hx.row(k).iter().copied().collect();
        let (mean, sd) = scores::mean_sd(&row, w);
        sum += (y[k] - mean).powi(2) / (sd * sd + r[k]);
    }
    sum / m as f64
}
