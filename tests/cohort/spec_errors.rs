//! Bad `[cohort]` entries are clear errors naming the key.

use crate::toy::scene;
use vtwin::methods::cohort::{CohortError, PatientSampler};

fn errors(cohort: &str) -> String {
    let s = scene(cohort);
    match PatientSampler::new(&s.spec, &s.ctx(), 0) {
        Ok(_) => panic!("accepted:\n{cohort}"),
        Err(e @ CohortError::Spec(_)) => e.to_string(),
        Err(other) => panic!("unexpected error kind: {other}"),
    }
}

#[test]
fn negative_rate_and_unknown_arm_name_their_keys() {
    let e = errors("[cohort.observation.burden]\nvisits = [0, 10]\nmcar = -0.1\n");
    assert!(
        e.contains("cohort.observation.burden.mcar: rate -0.1 must be in [0, 1]"),
        "{e}"
    );
    let e = errors(
        "[cohort.assignment]\nmethod = \"randomised\"\nprobabilities = { control = 0.5, placebo = 0.5 }\n",
    );
    assert!(
        e.contains("cohort.assignment.probabilities.placebo: unknown arm `placebo`"),
        "{e}"
    );
    assert!(e.contains("control, treated"), "{e}");
    let e = errors(
        "[cohort.covariates.sex]\nlevels = [\"F\", \"M\"]\nprobabilities = [0.5, 0.5]\n\
         [cohort.assignment]\nmethod = \"confounded\"\narm = \"treated\"\notherwise = \"treated\"\n\
         rule = { covariate = \"sex\" }\n",
    );
    assert!(
        e.contains("cohort.assignment.otherwise: must differ"),
        "{e}"
    );
    assert!(
        e.contains("cohort.assignment.rule.level: `sex` is categorical"),
        "{e}"
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    let e = errors(
        r#"
[cohort.covariates.age]
distribution = { dist = "normal", mean = 60, sd = 10 }
[cohort.covariates.sex]
levels = ["F", "M"]
probabilities = [0.5, 0.6]
[[cohort.modulation]]
covariate = "age"
param = "kk"
per_unit = 0.1
[[cohort.modulation]]
covariate = "age"
param = "g"
level = "F"
multiply = 2.0
[[cohort.modulation]]
covariate = "weight"
param = "g"
per_unit = 1.0
[cohort.observation.burden]
visits = [0, 10, 10]
noise = { kind = "additive", sd = -1 }
dropout_after_progression = true
mar = { covariate = "age", level = "F" }
[cohort.observation.volume]
visits = [0]
[[cohort.plausibility]]
observable = "burden"
min = 5.0
max = 1.0
"#,
    );
    for want in [
        "cohort.covariates.sex.probabilities: probabilities sum to 1.1",
        "cohort.modulation.0.param: unknown parameter `kk`; the scene has b0, g, d",
        "cohort.modulation.1.level: `age` is continuous",
        "cohort.modulation.2.covariate: unknown covariate `weight`",
        "cohort.observation.burden.visits: visit days must be strictly increasing",
        "cohort.observation.burden.noise.sd: -1 must be a finite number ≥ 0",
        "cohort.observation.burden.dropout_after_progression: needs a [cohort.outcomes] section",
        "cohort.observation.burden.mar.level: `age` is continuous: drop `level`",
        "cohort.observation.volume: the model has no observable `volume`; it has burden, marker",
        "cohort.plausibility.0: `min` (5) must be less than `max` (1)",
    ] {
        assert!(e.contains(want), "missing `{want}` in:\n{e}");
    }
    assert_eq!(e.lines().count(), 11, "{e}");
}

#[test]
fn outcome_rules_are_checked() {
    let e = errors(
        "[cohort.observation.burden]\nvisits = [0, 10]\n\
         [cohort.outcomes]\nburden = \"marker\"\npr = 0.3\npd = -0.2\nfollow_up = -5\n\
         events = [{ name = \"response\", observable = \"burden\", above = 1.0, below = 0.5 }]\n",
    );
    for want in [
        "cohort.outcomes.burden: `marker` has no [cohort.observation.marker] model",
        "cohort.outcomes.pr: 0.3 must be a relative change in (-1, 0)",
        "cohort.outcomes.pd: -0.2 must be a relative change > 0",
        "cohort.outcomes.follow_up: -5 must be a positive number of days",
        "cohort.outcomes.events.0: give exactly one of `above` and `below`",
        "cohort.outcomes.events.0.name: `response` is a reserved outcome column name",
    ] {
        assert!(e.contains(want), "missing `{want}` in:\n{e}");
    }
}

#[test]
fn reserved_and_clashing_column_names_are_rejected() {
    let e = errors(
        "[cohort.covariates.g]\nlevels = [\"a\"]\nprobabilities = [1.0]\n[cohort.covariates.plausible]\ndistribution = 1.0\n",
    );
    assert!(
        e.contains("cohort.covariates.g: `g` is also a parameter"),
        "{e}"
    );
    assert!(
        e.contains("cohort.covariates.plausible: `plausible` is a reserved column name"),
        "{e}"
    );
}
