//! Validation of a parsed `[cohort]` section against the rest of the scene
//! (arm names, parameter block, the model's observables).
//!
//! Owns: every value check, collected in full so a user sees all problems at
//! once, each naming its dotted key (`cohort.observation.burden.mcar`,
//! array elements by 0-based index: `cohort.modulation.1.param`), the form
//! `scene::locate::locate_key` turns into a line and column.
//! Never draws random numbers, never reads files.

use super::error::{CohortError, SpecIssue};
use super::spec::*;
use crate::input::params::ParamBlock;

/// What the rest of the scene tells the cohort section.
#[derive(Clone, Copy, Debug)]
pub struct SceneContext<'a> {
    /// Treatment arms in scene order.
    pub arms: &'a [String],
    pub params: &'a ParamBlock,
    /// Observables the model can output, when known (checked if given).
    pub observables: Option<&'a [String]>,
}

struct Issues(Vec<SpecIssue>);

impl Issues {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(SpecIssue {
            key: key.into(),
            message: message.into(),
        });
    }
    fn finite(&mut self, key: &str, v: f64) {
        if !v.is_finite() {
            self.push(key, format!("{v} must be a finite number"));
        }
    }
    fn rate(&mut self, key: &str, v: f64) {
        if !(0.0..=1.0).contains(&v) {
            self.push(key, format!("rate {v} must be in [0, 1]"));
        }
    }
    fn non_negative(&mut self, key: &str, v: f64) {
        if !(v.is_finite() && v >= 0.0) {
            self.push(key, format!("{v} must be a finite number ≥ 0"));
        }
    }
}

impl CohortSpec {
    /// Checks the section; on failure the error lists every problem found.
    pub fn validate(&self, ctx: &SceneContext) -> Result<(), CohortError> {
        let mut is = Issues(Vec::new());
        if ctx.arms.is_empty() {
            is.push("arms", "the scene lists no treatment arm");
        }
        self.check_covariates(ctx, &mut is);
        self.check_modulation(ctx, &mut is);
        self.check_assignment(ctx, &mut is);
        self.check_observation(ctx, &mut is);
        self.check_outcomes(&mut is);
        self.check_plausibility(ctx, &mut is);
        if is.0.is_empty() {
            Ok(())
        } else {
            Err(CohortError::Spec(is.0))
        }
    }

    fn check_covariates(&self, ctx: &SceneContext, is: &mut Issues) {
        for (name, c) in &self.covariates {
            let key = format!("cohort.covariates.{name}");
            if RESERVED_COLUMNS.contains(&name.as_str()) {
                is.push(&key, format!("`{name}` is a reserved column name"));
            }
            if ctx.params.index_of(name).is_some() {
                is.push(
                    &key,
                    format!("`{name}` is also a parameter; columns must have distinct names"),
                );
            }
            match &c.kind {
                CovariateKind::Categorical {
                    levels,
                    probabilities,
                } => {
                    if levels.is_empty() {
                        is.push(format!("{key}.levels"), "must list at least one level");
                    }
                    for (i, l) in levels.iter().enumerate() {
                        if levels[..i].contains(l) {
                            is.push(
                                format!("{key}.levels"),
                                format!("level `{l}` is listed twice"),
                            );
                        }
                    }
                    if probabilities.len() != levels.len() {
                        is.push(
                            format!("{key}.probabilities"),
                            format!(
                                "has {} entries but `levels` has {}",
                                probabilities.len(),
                                levels.len()
                            ),
                        );
                    }
                    check_probabilities(
                        is,
                        &format!("{key}.probabilities"),
                        probabilities.iter().copied(),
                    );
                }
                CovariateKind::Continuous(d) => {
                    if let Err(e) = d.validate() {
                        is.push(format!("{key}.distribution"), e);
                    }
                }
            }
        }
    }

    fn check_modulation(&self, ctx: &SceneContext, is: &mut Issues) {
        for (i, r) in self.modulation.iter().enumerate() {
            let key = format!("cohort.modulation.{i}");
            if ctx.params.index_of(&r.param).is_none() {
                is.push(
                    format!("{key}.param"),
                    format!(
                        "unknown parameter `{}`; the scene has {}",
                        r.param,
                        ctx.params.names().join(", ")
                    ),
                );
            }
            let Some(c) = self.covariates.get(&r.covariate) else {
                is.push(
                    format!("{key}.covariate"),
                    format!("unknown covariate `{}`", r.covariate),
                );
                continue;
            };
            match (&r.effect, &c.kind) {
                (Effect::Multiply { level, factor }, CovariateKind::Categorical { levels, .. }) => {
                    check_level(is, &key, level, levels);
                    if !(factor.is_finite() && *factor > 0.0) {
                        is.push(
                            format!("{key}.multiply"),
                            format!("{factor} must be a positive number"),
                        );
                    }
                }
                (Effect::Add { level, amount }, CovariateKind::Categorical { levels, .. }) => {
                    check_level(is, &key, level, levels);
                    is.finite(&format!("{key}.add"), *amount);
                }
                (
                    Effect::Slope {
                        per_unit,
                        reference,
                        ..
                    },
                    CovariateKind::Continuous(_),
                ) => {
                    is.finite(&format!("{key}.per_unit"), *per_unit);
                    is.finite(&format!("{key}.reference"), *reference);
                }
                (Effect::Slope { .. }, _) => is.push(
                    format!("{key}.per_unit"),
                    format!(
                        "`{}` is categorical: use `level` with `multiply` or `add`",
                        r.covariate
                    ),
                ),
                _ => is.push(
                    format!("{key}.level"),
                    format!(
                        "`{}` is continuous: use `per_unit` (and `reference`)",
                        r.covariate
                    ),
                ),
            }
        }
    }

    fn check_assignment(&self, ctx: &SceneContext, is: &mut Issues) {
        let arm_ok = |is: &mut Issues, key: &str, arm: &str| {
            if !ctx.arms.iter().any(|a| a == arm) {
                is.push(
                    key,
                    format!(
                        "unknown arm `{arm}`; the scene's arms are {}",
                        ctx.arms.join(", ")
                    ),
                );
            }
        };
        match &self.assignment {
            None => {}
            Some(Assignment::Randomised { probabilities }) => {
                let key = "cohort.assignment.probabilities";
                for arm in probabilities.keys() {
                    arm_ok(is, &format!("{key}.{arm}"), arm);
                }
                check_probabilities(is, key, probabilities.values().copied());
            }
            Some(Assignment::Confounded {
                arm,
                otherwise,
                rule,
            }) => {
                arm_ok(is, "cohort.assignment.arm", arm);
                arm_ok(is, "cohort.assignment.otherwise", otherwise);
                if arm == otherwise {
                    is.push(
                        "cohort.assignment.otherwise",
                        format!("must differ from `arm` (`{arm}`)"),
                    );
                }
                self.check_logistic(is, "cohort.assignment.rule", rule);
            }
        }
    }

    fn check_logistic(&self, is: &mut Issues, key: &str, r: &LogisticRule) {
        is.finite(&format!("{key}.intercept"), r.intercept);
        is.finite(&format!("{key}.slope"), r.slope);
        is.finite(&format!("{key}.reference"), r.reference);
        match (self.covariates.get(&r.covariate).map(|c| &c.kind), &r.level) {
            (None, _) => is.push(
                format!("{key}.covariate"),
                format!("unknown covariate `{}`", r.covariate),
            ),
            (Some(CovariateKind::Categorical { levels, .. }), Some(l)) => {
                check_level(is, key, l, levels)
            }
            (Some(CovariateKind::Categorical { .. }), None) => is.push(
                format!("{key}.level"),
                format!("`{}` is categorical: name the `level`", r.covariate),
            ),
            (Some(CovariateKind::Continuous(_)), Some(_)) => is.push(
                format!("{key}.level"),
                format!("`{}` is continuous: drop `level`", r.covariate),
            ),
            (Some(CovariateKind::Continuous(_)), None) => {}
        }
    }

    fn check_observation(&self, ctx: &SceneContext, is: &mut Issues) {
        for (name, m) in &self.observation {
            let key = format!("cohort.observation.{name}");
            check_observable(is, ctx, &key, name);
            if m.visits.is_empty() {
                is.push(format!("{key}.visits"), "must list at least one visit day");
            }
            if m.visits.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                is.push(format!("{key}.visits"), "visit days must be finite and ≥ 0");
            }
            if m.visits.windows(2).any(|w| w[1] <= w[0]) {
                is.push(
                    format!("{key}.visits"),
                    "visit days must be strictly increasing",
                );
            }
            is.non_negative(&format!("{key}.jitter_sd"), m.jitter_sd);
            if let Some(n) = &m.noise {
                is.non_negative(&format!("{key}.noise.sd"), n.sd);
            }
            if let Some(l) = m.lod {
                is.finite(&format!("{key}.lod"), l);
            }
            is.rate(&format!("{key}.mcar"), m.mcar);
            if let Some(r) = &m.mar {
                self.check_logistic(is, &format!("{key}.mar"), r);
            }
            if m.dropout_after_progression && self.outcomes.is_none() {
                is.push(
                    format!("{key}.dropout_after_progression"),
                    "needs a [cohort.outcomes] section that defines progression",
                );
            }
        }
    }

    fn check_outcomes(&self, is: &mut Issues) {
        let Some(o) = &self.outcomes else { return };
        let key = "cohort.outcomes";
        if !self.observation.contains_key(&o.burden) {
            is.push(
                format!("{key}.burden"),
                format!(
                    "`{}` has no [cohort.observation.{}] model",
                    o.burden, o.burden
                ),
            );
        }
        if !(o.pr.is_finite() && o.pr < 0.0 && o.pr > -1.0) {
            is.push(
                format!("{key}.pr"),
                format!("{} must be a relative change in (-1, 0)", o.pr),
            );
        }
        if !(o.pd.is_finite() && o.pd > 0.0) {
            is.push(
                format!("{key}.pd"),
                format!("{} must be a relative change > 0", o.pd),
            );
        }
        is.non_negative(&format!("{key}.pd_min_increase"), o.pd_min_increase);
        is.finite(&format!("{key}.cr_below"), o.cr_below);
        if let Some(f) = o.follow_up
            && !(f.is_finite() && f > 0.0)
        {
            is.push(
                format!("{key}.follow_up"),
                format!("{f} must be a positive number of days"),
            );
        }
        for (i, e) in o.events.iter().enumerate() {
            let k = format!("{key}.events.{i}");
            if !self.observation.contains_key(&e.observable) {
                is.push(
                    format!("{k}.observable"),
                    format!("`{}` has no observation model", e.observable),
                );
            }
            match (e.above, e.below) {
                (Some(v), None) => is.finite(&format!("{k}.above"), v),
                (None, Some(v)) => is.finite(&format!("{k}.below"), v),
                _ => is.push(&k, "give exactly one of `above` and `below`"),
            }
            if super::outcomes::OUTCOME_COLUMNS.contains(&e.name.as_str()) {
                is.push(
                    format!("{k}.name"),
                    format!("`{}` is a reserved outcome column name", e.name),
                );
            }
            if o.events[..i].iter().any(|p| p.name == e.name) {
                is.push(
                    format!("{k}.name"),
                    format!("event `{}` is defined twice", e.name),
                );
            }
        }
    }

    fn check_plausibility(&self, ctx: &SceneContext, is: &mut Issues) {
        for (i, b) in self.plausibility.iter().enumerate() {
            let key = format!("cohort.plausibility.{i}");
            check_observable(is, ctx, &key, &b.observable);
            if b.min.is_none() && b.max.is_none() {
                is.push(&key, "give `min`, `max` or both");
            }
            if let (Some(lo), Some(hi)) = (b.min, b.max)
                && lo >= hi
            {
                is.push(&key, format!("`min` ({lo}) must be less than `max` ({hi})"));
            }
            if let Some(t) = b.at {
                is.finite(&format!("{key}.at"), t);
            }
        }
    }
}

fn check_level(is: &mut Issues, key: &str, level: &str, levels: &[String]) {
    if !levels.iter().any(|l| l == level) {
        is.push(
            format!("{key}.level"),
            format!("unknown level `{level}`; levels are {}", levels.join(", ")),
        );
    }
}

fn check_observable(is: &mut Issues, ctx: &SceneContext, key: &str, name: &str) {
    if let Some(obs) = ctx.observables
        && !obs.iter().any(|o| o == name)
    {
        is.push(
            key,
            format!(
                "the model has no observable `{name}`; it has {}",
                obs.join(", ")
            ),
        );
    }
}

fn check_probabilities(is: &mut Issues, key: &str, p: impl Iterator<Item = f64>) {
    let mut sum = 0.0;
    for v in p {
        if !(0.0..=1.0).contains(&v) {
            is.push(key, format!("probability {v} must be in [0, 1]"));
        }
        sum += v;
    }
    if (sum - 1.0).abs() > 1e-9 {
        is.push(key, format!("probabilities sum to {sum}, not 1"));
    }
}
