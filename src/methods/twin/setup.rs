//! Resolves what a twin or an assimilation run does: the scene's
//! `[assimilation]` section, overridden by command options, checked against
//! the model (observables, fields, parameters), with the observation
//! schedule and the plans it needs (time extended to cover the last
//! analysis and the forecast horizon).
//!
//! Owns: precedence (command line > scene > documented defaults) and every
//! check that needs the plan. Errors name the scene key or file line.

use std::path::Path;

use super::error::TwinError;
use super::obs::{self, ObsTime, step_of};
use crate::core::plan::{Plan, PlanOptions, member_unit_point};
use crate::input::scene::assimilation::{AssimilationSection, EventKind, MethodName, ScaleName};
use crate::input::scene::{Scene, SceneError};
use crate::methods::assim::joint::ParamScale;
use crate::methods::assim::obs_file::ObsRecord;

/// Command-line overrides (`vtwin twin`, `vtwin assimilate`).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub method: Option<MethodName>,
    pub members: Option<u32>,
    pub inflation: Option<f64>,
    pub loc_radius: Option<f64>,
    /// Turns rotation on (the scene's `rotate` otherwise).
    pub rotate: bool,
    pub resample_threshold: Option<f64>,
    pub jitter: Option<f64>,
    pub cycles: Option<u64>,
    pub seed: Option<u64>,
}

/// Where observations come from.
pub enum ObsSource<'a> {
    /// Drawn from a truth run, as the scene's `[[assimilation.observe]]` says.
    Twin,
    /// An observation file (records already parsed).
    File(&'a Path, &'a [ObsRecord]),
}

enum SourceKind {
    Twin,
    File,
}

/// A named event, resolved: plan observable `op`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: String,
    pub observable: String,
    pub op: usize,
    pub kind: EventKind,
    pub threshold: f64,
    pub relative: bool,
    pub by: f64,
}

/// Filter settings after precedence.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterSettings {
    pub method: MethodName,
    pub inflation: f64,
    pub loc_radius: Option<f64>,
    pub rotate: bool,
    pub resample_threshold: f64,
    pub jitter: f64,
}

pub struct Setup {
    /// The scene with its time extended to the last step needed.
    pub scene: Scene,
    pub section: AssimilationSection,
    pub filter: FilterSettings,
    pub members: u32,
    pub seed: u64,
    /// Arm simulated during the assimilation window.
    pub arm: String,
    /// The ensemble's plan (arm `arm`).
    pub plan: Plan,
    pub schedule: Vec<ObsTime>,
    /// Estimated parameters: (index in the plan's block, scale, name).
    pub estimate: Vec<(usize, ParamScale, String)>,
    /// Bounds per field: (field, low, high).
    pub clamp: Vec<(usize, f64, f64)>,
    pub horizon_step: Option<u64>,
    pub burn_in_step: u64,
    pub events: Vec<Event>,
    /// The twin truth's parameters (block order).
    pub truth_params: Vec<f64>,
}

/// Default PF settings (docs/assimilation.md).
pub const DEFAULT_RESAMPLE_THRESHOLD: f64 = 0.5;
pub const DEFAULT_JITTER: f64 = 0.5;

impl Setup {
    pub fn new(scene: &Scene, opts: &Options, source: ObsSource) -> Result<Setup, TwinError> {
        let section = scene.file.assimilation.clone().unwrap_or_default();
        let filter = filter_settings(scene, &section, opts)?;
        let members = opts.members.unwrap_or(scene.file.ensemble.members);
        if members < 2 {
            return Err(TwinError::Invalid(format!(
                "an ensemble needs at least 2 members, got {members}"
            )));
        }
        let seed = opts.seed.unwrap_or(scene.file.ensemble.seed);
        let arm = match &section.arm {
            Some(a) => {
                scene
                    .arm(Some(a))
                    .map_err(|e| scene.error_at("assimilation.arm", e.message))?
                    .name
            }
            None => scene.arm(None)?.name,
        };
        let freeze = |s: &Scene| {
            Plan::freeze(
                s,
                &PlanOptions {
                    members: Some(members),
                    seed: Some(seed),
                    arm: Some(arm.clone()),
                    member_params: None,
                    member_offset: 0,
                },
            )
        };
        let provisional = freeze(scene)?;
        check_log_observables(scene, &section, &provisional)?;
        if !provisional.model.continuous_state() && filter.method != MethodName::Pf {
            let msg = format!(
                "model `{}` keeps agents, not fields: `{}` would average agent positions, ids \
                 and counts across members; use method = \"pf\" (a particle filter resamples \
                 whole members and jitters only the estimated parameters)",
                provisional.model.info().kind,
                filter.method.name()
            );
            return Err(if opts.method.is_some() {
                TwinError::Invalid(format!("--method: {msg}"))
            } else {
                scene.error_at("assimilation.method", msg).into()
            });
        }
        let dt = provisional.model.dt();
        let cycles = opts.cycles.or(section.cycles);
        let source_kind = match source {
            ObsSource::Twin => SourceKind::Twin,
            ObsSource::File(..) => SourceKind::File,
        };
        let schedule = match source {
            ObsSource::Twin => obs::scene_schedule(scene, &section, &provisional, cycles)?,
            ObsSource::File(path, records) => {
                let mut s =
                    obs::file_schedule(path, records, &provisional, &section.log_observables)?;
                if let Some(k) = opts.cycles {
                    s.truncate(k as usize);
                }
                s
            }
        };
        let Some(last) = schedule.last().map(|o| o.step) else {
            return Err(TwinError::Invalid("no observations to assimilate".into()));
        };
        let horizon_step = match section.horizon {
            Some(h) => {
                let (s, _) = step_of(h, dt);
                if s < last {
                    return Err(scene
                        .error_at(
                            "assimilation.horizon",
                            format!(
                                "the forecast horizon {h} is before the last analysis ({})",
                                provisional.model.time_at(last)
                            ),
                        )
                        .into());
                }
                Some(s)
            }
            None => None,
        };
        let needed = horizon_step.unwrap_or(last).max(last);
        let mut scene = scene.clone();
        if needed > scene.file.time.total_steps() {
            scene.file.time.steps = Some(needed);
            scene.file.time.end = None;
        }
        let plan = freeze(&scene)?;
        let estimate = estimated(&scene, &section, &plan)?;
        let clamp = clamps(&scene, &section, &plan)?;
        let events = events(&scene, &section, &plan, horizon_step, last)?;
        check_init(&scene, &section, &plan)?;
        let truth_params = truth_params(&scene, &section, &plan, seed)?;
        let burn_in_step = (section.burn_in / dt).round() as u64;
        if matches!(source_kind, SourceKind::Twin) && last <= burn_in_step {
            return Err(scene
                .error_at(
                    "assimilation.burn_in",
                    format!(
                        "the burn-in ({}) covers every analysis (the last is at {}): nothing would be scored",
                        section.burn_in,
                        plan.model.time_at(last)
                    ),
                )
                .into());
        }
        Ok(Setup {
            scene,
            section,
            filter,
            members,
            seed,
            arm,
            plan,
            schedule,
            estimate,
            clamp,
            horizon_step,
            burn_in_step,
            events,
            truth_params,
        })
    }

    /// A plan of the (extended) scene for another arm or member table.
    pub fn plan_for(
        &self,
        arm: &str,
        member_params: Option<Vec<Vec<f64>>>,
    ) -> Result<Plan, SceneError> {
        Plan::freeze(
            &self.scene,
            &PlanOptions {
                members: Some(self.members),
                seed: Some(self.seed),
                arm: Some(arm.to_string()),
                member_params,
                member_offset: 0,
            },
        )
    }
}

fn filter_settings(
    scene: &Scene,
    a: &AssimilationSection,
    o: &Options,
) -> Result<FilterSettings, TwinError> {
    let method = o.method.or(a.method).unwrap_or(MethodName::Etkf);
    let loc_radius = o.loc_radius.or(a.loc_radius);
    if let Some(r) = o.loc_radius
        && !(r.is_finite() && r > 0.0)
    {
        return Err(TwinError::Invalid(format!(
            "--loc-radius must be > 0, got {r}"
        )));
    }
    if method == MethodName::Letkf && loc_radius.is_none() {
        return Err(TwinError::Invalid(
            "LETKF needs a localisation radius: --loc-radius R or assimilation.loc_radius".into(),
        ));
    }
    let inflation = o.inflation.or(a.inflation).unwrap_or(1.0);
    if !(inflation.is_finite() && inflation > 0.0) {
        return Err(TwinError::Invalid(format!(
            "--inflation must be > 0, got {inflation}"
        )));
    }
    if method == MethodName::Pf && inflation != 1.0 {
        let msg = format!("the particle filter takes no inflation (got {inflation})");
        return Err(if o.inflation.is_some() {
            TwinError::Invalid(format!("--inflation: {msg}"))
        } else {
            scene.error_at("assimilation.inflation", msg).into()
        });
    }
    let resample_threshold = o
        .resample_threshold
        .or(a.resample_threshold)
        .unwrap_or(DEFAULT_RESAMPLE_THRESHOLD);
    if !(0.0..=1.0).contains(&resample_threshold) {
        return Err(TwinError::Invalid(format!(
            "--resample-threshold must be in [0, 1], got {resample_threshold}"
        )));
    }
    let jitter = o.jitter.or(a.jitter).unwrap_or(DEFAULT_JITTER);
    if !(jitter.is_finite() && jitter >= 0.0) {
        return Err(TwinError::Invalid(format!(
            "--jitter must be ≥ 0, got {jitter}"
        )));
    }
    Ok(FilterSettings {
        method,
        inflation,
        loc_radius,
        rotate: o.rotate || a.rotate,
        resample_threshold,
        jitter,
    })
}

fn estimated(
    scene: &Scene,
    a: &AssimilationSection,
    plan: &Plan,
) -> Result<Vec<(usize, ParamScale, String)>, TwinError> {
    let mut out = Vec::new();
    for (i, e) in a.estimate.iter().enumerate() {
        let key = format!("assimilation.estimate.{i}.param");
        let Some(j) = plan.block.index_of(&e.param) else {
            return Err(scene
                .error_at(
                    &key,
                    format!(
                        "no parameter `{}`; the model has {}",
                        e.param,
                        plan.block.names().join(", ")
                    ),
                )
                .into());
        };
        let dist = &plan.block.params[j].dist;
        if dist.is_fixed() {
            return Err(scene
                .error_at(
                    &key,
                    format!(
                        "`{}` is fixed in the scene: give it a prior distribution to estimate it",
                        e.param
                    ),
                )
                .into());
        }
        let scale = match e.scale {
            ScaleName::Linear => ParamScale::Linear,
            ScaleName::Log => {
                if dist.support().0 <= 0.0 {
                    return Err(scene
                        .error_at(
                            &format!("assimilation.estimate.{i}.scale"),
                            format!(
                                "log scale needs a prior on positive values; `{}` can be ≤ 0",
                                e.param
                            ),
                        )
                        .into());
                }
                ParamScale::Log
            }
        };
        out.push((j, scale, e.param.clone()));
    }
    Ok(out)
}

fn field_index(plan: &Plan, name: &str) -> Option<usize> {
    plan.model.info().fields.iter().position(|f| f.name == name)
}

fn clamps(
    scene: &Scene,
    a: &AssimilationSection,
    plan: &Plan,
) -> Result<Vec<(usize, f64, f64)>, TwinError> {
    a.clamp
        .iter()
        .map(|(name, [lo, hi])| {
            field_index(plan, name)
                .map(|f| (f, *lo, *hi))
                .ok_or_else(|| {
                    scene
                        .error_at(
                            &format!("assimilation.clamp.{name}"),
                            format!("`{name}` is not a field of the model"),
                        )
                        .into()
                })
        })
        .collect()
}

fn events(
    scene: &Scene,
    a: &AssimilationSection,
    plan: &Plan,
    horizon: Option<u64>,
    last: u64,
) -> Result<Vec<Event>, TwinError> {
    let mut out = Vec::new();
    for (i, e) in a.events.iter().enumerate() {
        let key = |k: &str| format!("assimilation.events.{i}.{k}");
        let Some(h) = horizon else {
            return Err(scene
                .error_at(
                    &key("by"),
                    "events need a forecast: set assimilation.horizon",
                )
                .into());
        };
        let op = plan
            .observables
            .ops
            .iter()
            .position(|o| o.name == e.observable)
            .ok_or_else(|| {
                scene.error_at(
                    &key("observable"),
                    format!("`{}` is not a scene observable", e.observable),
                )
            })?;
        let (t0, t1) = (plan.model.time_at(last), plan.model.time_at(h));
        if !(e.by > t0 && e.by <= t1 * (1.0 + 1e-12)) {
            return Err(scene
                .error_at(
                    &key("by"),
                    format!(
                        "`by` must lie in the forecast window ({t0}, {t1}], got {}",
                        e.by
                    ),
                )
                .into());
        }
        out.push(Event {
            name: e.name.clone(),
            observable: e.observable.clone(),
            op,
            kind: e.kind,
            threshold: e.threshold,
            relative: e.relative,
            by: e.by,
        });
    }
    Ok(out)
}

fn check_log_observables(
    scene: &Scene,
    a: &AssimilationSection,
    plan: &Plan,
) -> Result<(), TwinError> {
    for (i, name) in a.log_observables.iter().enumerate() {
        let known = plan.observables.ops.iter().any(|o| o.name == *name)
            || field_index(plan, name).is_some();
        if !known {
            return Err(scene
                .error_at(
                    &format!("assimilation.log_observables.{i}"),
                    format!("`{name}` is neither a scene observable nor a field"),
                )
                .into());
        }
    }
    Ok(())
}

/// The `[assimilation]` checks that need the frozen plan but no
/// observations (`vtwin check`): observables in log space, estimated
/// parameters, clamps and the lengths of `init_mean`/`init_var`. `twin` and
/// `assimilate` run the same checks (and more) in [`Setup::new`].
pub fn check_section(scene: &Scene, plan: &Plan) -> Result<(), TwinError> {
    let Some(section) = &scene.file.assimilation else {
        return Ok(());
    };
    check_log_observables(scene, section, plan)?;
    estimated(scene, section, plan)?;
    clamps(scene, section, plan)?;
    check_init(scene, section, plan)
}

fn check_init(scene: &Scene, a: &AssimilationSection, plan: &Plan) -> Result<(), TwinError> {
    if let Some(m) = &a.init_mean {
        let n = plan.model.state_len();
        if m.len() != n && m.len() != 1 {
            return Err(scene
                .error_at(
                    "assimilation.init_mean",
                    format!("give 1 value or one per state word ({n}), got {}", m.len()),
                )
                .into());
        }
    }
    let (v, n) = (a.init_var.len(), plan.model.state_len());
    if v > 1 && v != n {
        return Err(scene
            .error_at(
                "assimilation.init_var",
                format!("give 1 value or one per state word ({n}), got {v}"),
            )
            .into());
    }
    Ok(())
}

/// Stream of the truth's parameter draw (distinct from every member's).
const TRUTH_SEED: u64 = 0x7472_7574_6800_0001;

fn truth_params(
    scene: &Scene,
    a: &AssimilationSection,
    plan: &Plan,
    seed: u64,
) -> Result<Vec<f64>, TwinError> {
    let dims = plan.block.varying().len();
    let u = if a.truth_from_prior {
        member_unit_point(seed ^ TRUTH_SEED, 0, dims)
    } else {
        vec![0.5; dims]
    };
    let mut p = plan.block.map_unit(&u);
    for (name, v) in &a.truth {
        let j = plan.block.index_of(name).ok_or_else(|| {
            scene.error_at(
                &format!("assimilation.truth.{name}"),
                format!(
                    "no parameter `{name}`; the model has {}",
                    plan.block.names().join(", ")
                ),
            )
        })?;
        p[j] = *v;
    }
    Ok(p)
}
