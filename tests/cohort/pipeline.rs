//! The assembled cohort: determinism, shard + merge equality, counterfactual
//! arms that share parameters and random streams, modulation and assignment
//! rules, outcomes against hand-derived answers, plausibility and dropout.

use crate::toy::{PARAMS, Toy, scene, scene_from, trajectory};
use vtwin::methods::cohort::columns;
use vtwin::methods::cohort::compare::{compare_cohorts, render_text};
use vtwin::methods::cohort::merge::{Shard, ShardInfo, merge};
use vtwin::methods::cohort::select::{SelectOn, candidates};
use vtwin::methods::cohort::spec::CovariateValue;
use vtwin::methods::cohort::{CohortTables, build_cohort};
use vtwin::output::table::Table;

pub const COHORT: &str = r#"
[cohort.covariates.sex]
levels = ["F", "M"]
probabilities = [0.5, 0.5]
[cohort.covariates.age]
distribution = { dist = "truncnormal", mean = 62, sd = 10, low = 18, high = 90 }
unit = "years"
[[cohort.modulation]]
covariate = "sex"
level = "F"
param = "g"
multiply = 0.9
[[cohort.modulation]]
covariate = "age"
param = "b0"
per_unit = 0.01
reference = 60
[cohort.observation.burden]
visits = [0, 42, 84, 126, 168]
jitter_sd = 3.0
noise = { kind = "additive", sd = 2.0 }
lod = 5.0
mcar = 0.05
dropout_after_progression = true
unit = "mm"
[cohort.observation.marker]
visits = [0, 84, 168]
noise = { kind = "lognormal", sd = 0.1 }
[cohort.outcomes]
burden = "burden"
follow_up = 168
events = [{ name = "large", observable = "burden", above = 150.0 }]
[[cohort.plausibility]]
observable = "burden"
max = 400.0
"#;

pub fn build(cohort: &str, seed: u64, range: std::ops::Range<u64>) -> CohortTables {
    let s = scene(cohort);
    let sampler = s.sampler(seed);
    build_cohort(&sampler, range, &mut Toy::new(&s.params)).unwrap()
}

/// The exact bytes a table would be written as (CSV; f64 prints its
/// shortest round-trip form, so different bits give different bytes).
pub fn csv_bytes(t: &Table) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(t.column_names()).unwrap();
    for i in 0..t.rows() {
        let cells: Vec<String> = t
            .columns
            .iter()
            .map(|c| match &c.values {
                vtwin::output::table::Values::F64(v) => v[i].map(|x| x.to_string()),
                vtwin::output::table::Values::I64(v) => v[i].map(|x| x.to_string()),
                vtwin::output::table::Values::Str(v) => v[i].clone(),
                vtwin::output::table::Values::Bool(v) => v[i].map(|x| x.to_string()),
            })
            .map(Option::unwrap_or_default)
            .collect();
        w.write_record(cells).unwrap();
    }
    w.into_inner().unwrap()
}

#[test]
fn shards_merge_into_the_unsharded_cohort_byte_for_byte() {
    let n = 240;
    let full = build(COHORT, 7, 0..n);
    let again = build(COHORT, 7, 0..n);
    for (a, b) in full.tables().iter().zip(again.tables()) {
        assert_eq!(
            csv_bytes(a),
            csv_bytes(b),
            "table {} differs between runs",
            a.name
        );
    }
    assert_eq!(full.observations.rows() as u64, n * 2 * (5 + 3));
    for k in [3, 7] {
        let shards = (0..k)
            .map(|i| {
                let range = Shard { index: i, count: k }.range(n);
                let t = build(COHORT, 7, range.clone());
                let info = ShardInfo {
                    scene_sha256: "abc".into(),
                    seed: 7,
                    patients: n,
                    range,
                };
                (info, vec![t.patients, t.observations, t.outcomes])
            })
            .rev() // merge sorts by range: order given must not matter
            .collect();
        let (info, merged) = merge(shards).unwrap();
        assert_eq!(info.range, 0..n);
        for (m, f) in merged.iter().zip(full.tables()) {
            assert_eq!(
                csv_bytes(m),
                csv_bytes(f),
                "K = {k}: merged table {} differs",
                m.name
            );
        }
    }
    let other_seed = build(COHORT, 8, 0..n);
    assert_ne!(csv_bytes(&other_seed.patients), csv_bytes(&full.patients));
}

#[test]
fn merge_rejects_inconsistent_shards() {
    let part = |seed, range: std::ops::Range<u64>| {
        let t = build(COHORT, seed, range.clone());
        (
            ShardInfo {
                scene_sha256: "abc".into(),
                seed,
                patients: 20,
                range,
            },
            vec![t.patients],
        )
    };
    let e = merge(vec![part(1, 0..10), part(2, 10..20)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("different seed"), "{e}");
    let e = merge(vec![part(1, 0..10), part(1, 12..20)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no shard holds patients 10..12"), "{e}");
    let e = merge(vec![part(1, 0..12), part(1, 10..20)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("overlap"), "{e}");
    let e = merge(vec![part(1, 0..10)]).unwrap_err().to_string();
    assert!(e.contains("no shard holds patients 10..20"), "{e}");
    let (info, mut t) = part(1, 0..10);
    let mut wrong = info.clone();
    wrong.range = 10..20;
    t[0].name = "patients".into();
    let e = merge(vec![part(1, 0..10), (wrong, t)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("out of range"), "{e}");
}

#[test]
fn arms_share_parameters_and_random_streams() {
    let s = scene(COHORT);
    let sampler = s.sampler(3);
    let mut toy = Toy::new(&s.params);
    let t = build_cohort(&sampler, 0..200, &mut toy).unwrap();
    let (control, treated): (Vec<_>, Vec<_>) = toy.seen.iter().partition(|x| x.0 == "control");
    assert_eq!(control.len(), 200);
    for (c, tr) in control.iter().zip(&treated) {
        assert_eq!(
            (c.1, &c.2),
            (tr.1, &tr.2),
            "patient {} got different parameters per arm",
            c.1
        );
    }
    // Observations: rows of the two arms pair up (same visit, same time);
    // the flat marker reads the same value under both arms, and additive
    // burden noise cancels in the difference of the two arms.
    let rows = &t.observations;
    let (arm, obs) = (
        columns::strs(rows, "arm").unwrap(),
        columns::strs(rows, "observable").unwrap(),
    );
    let (time, value) = (
        columns::numbers(rows, "time").unwrap(),
        columns::numbers(rows, "value").unwrap(),
    );
    let (cens, ids) = (
        columns::bools(rows, "censored").unwrap(),
        columns::i64s(rows, "patient_id").unwrap(),
    );
    let per_arm = 8; // 5 burden + 3 marker visits
    let mut compared = 0;
    for start in (0..rows.rows()).step_by(2 * per_arm) {
        for k in 0..per_arm {
            let (c, r) = (start + k, start + per_arm + k);
            assert_eq!(
                (arm[c].as_deref(), arm[r].as_deref()),
                (Some("control"), Some("treated"))
            );
            assert_eq!(time[c], time[r]);
            if obs[c].as_deref() == Some("marker") {
                assert_eq!(value[c], value[r]);
            } else if let (Some(vc), Some(vr), Some(false), Some(false)) =
                (value[c], value[r], cens[c], cens[r])
            {
                let p = sampler.patient(ids[c].unwrap() as u64).unwrap();
                let truth = |a: &str| trajectory(&s.params, &p, a);
                let tt = time[c].unwrap();
                let d_true = truth("treated").value_at("burden", tt).unwrap()
                    - truth("control").value_at("burden", tt).unwrap();
                assert!(
                    (vr - vc - d_true).abs() < 1e-9,
                    "noise not shared: {vr} − {vc} vs {d_true}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 300, "only {compared} burden pairs compared");
}

/// With `g` and `b0` fixed, modulation is exact: g_F = 0.9 g, b0 = 50 e^{0.01 (age − 60)}.
#[test]
fn modulation_rules_and_confounded_assignment() {
    let params = "arms = [\"control\", \"treated\"]\n[parameters]\nb0 = 50.0\ng = 0.01\nd = 0.02\n";
    let cohort = COHORT.to_string()
        + "[cohort.assignment]\nmethod = \"confounded\"\narm = \"treated\"\notherwise = \"control\"\n\
           rule = { covariate = \"sex\", level = \"F\", intercept = -1.0, slope = 2.0 }\n";
    let s = scene_from(params, &cohort);
    let sampler = s.sampler(5);
    let (mut f, mut m) = ((0, 0), (0, 0));
    for p in sampler.patients(0..8_000).unwrap() {
        let is_f = p.covariates[0] == CovariateValue::Level("F".into());
        let CovariateValue::Number(age) = p.covariates[1] else {
            panic!("age is continuous")
        };
        assert_eq!(p.params[1], if is_f { 0.01 * 0.9 } else { 0.01 });
        assert!((p.params[0] - 50.0 * (0.01 * (age - 60.0)).exp()).abs() < 1e-12);
        let g = if is_f { &mut f } else { &mut m };
        g.0 += (p.assigned_arm == 1) as usize;
        g.1 += 1;
    }
    // P(treated | F) = logistic(1), P(treated | M) = logistic(−1); 4 binomial sd.
    for ((hits, n), p) in [
        (f, 1.0 / (1.0 + (-1.0f64).exp())),
        (m, 1.0 / (1.0 + 1.0f64.exp())),
    ] {
        let r = hits as f64 / n as f64;
        assert!(
            (r - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt(),
            "assignment rate {r} vs {p}"
        );
    }
}

/// Outcomes on the noiseless basis against answers derived by hand from
/// b(t) = b0 e^{r t}: monotone, so for r > 0 the nadir is the baseline and
/// progression comes at the first visit with e^{r v} ≥ 1.2; for r ≤ 0 there
/// is none and the best change is e^{168 r} − 1 (PR when ≤ −0.3).
#[test]
fn true_basis_outcomes_match_the_analytic_answers() {
    let cohort = COHORT.replace("follow_up = 168", "follow_up = 168\nbasis = \"true\"");
    let s = scene(&cohort);
    let sampler = s.sampler(9);
    let t = build_cohort(&sampler, 0..300, &mut Toy::new(&s.params)).unwrap();
    let o = &t.outcomes;
    let ids = columns::i64s(o, "patient_id").unwrap();
    let arm = columns::strs(o, "arm").unwrap();
    let resp = columns::strs(o, "response").unwrap();
    let ttp = columns::numbers(o, "time_to_progression").unwrap();
    let best = columns::numbers(o, "best_relative_change").unwrap();
    let large_t = columns::numbers(o, "large_time").unwrap();
    let visits = [42.0, 84.0, 126.0, 168.0];
    let (mut n_pd, mut n_pr) = (0, 0);
    for i in 0..o.rows() {
        let p = sampler.patient(ids[i].unwrap() as u64).unwrap();
        let v = |n: &str| p.params[s.params.index_of(n).unwrap()];
        let r = v("g")
            - if arm[i].as_deref() == Some("treated") {
                v("d")
            } else {
                0.0
            };
        let prog = visits
            .iter()
            .copied()
            .find(|&d| r > 0.0 && (r * d).exp() >= 1.2);
        let (want_resp, want_best) = match prog {
            Some(42.0) => ("PD", (r * 42.0).exp() - 1.0),
            Some(_) => ("SD", (r * 42.0).exp() - 1.0),
            None if r > 0.0 => ("SD", (r * 42.0).exp() - 1.0),
            None => (
                if (r * 168.0).exp() - 1.0 <= -0.3 {
                    "PR"
                } else {
                    "SD"
                },
                (r * 168.0).exp() - 1.0,
            ),
        };
        assert_eq!(
            resp[i].as_deref(),
            Some(want_resp),
            "patient {} rate {r}",
            p.id
        );
        assert_eq!(ttp[i], Some(prog.unwrap_or(168.0)));
        assert!((best[i].unwrap() - want_best).abs() < 1e-12);
        let b0 = v("b0");
        let large = [0.0]
            .iter()
            .chain(&visits)
            .copied()
            .find(|&d| b0 * (r * d).exp() > 150.0);
        assert_eq!(large_t[i], large);
        n_pd += prog.is_some() as usize;
        n_pr += (want_resp == "PR") as usize;
    }
    assert!(
        n_pd > 50 && n_pr > 50,
        "cases exercised: {n_pd} progressions, {n_pr} partial responses"
    );
}

#[test]
fn dropout_plausibility_and_selection_candidates() {
    let s = scene(COHORT);
    let sampler = s.sampler(13);
    let t = build_cohort(&sampler, 0..300, &mut Toy::new(&s.params)).unwrap();
    // Dropout: every burden visit after an observed progression is missing;
    // the marker has no dropout rule and stays measured.
    let o = &t.outcomes;
    let (oid, oarm) = (
        columns::i64s(o, "patient_id").unwrap(),
        columns::strs(o, "arm").unwrap(),
    );
    let (prog, ttp) = (
        columns::bools(o, "progressed").unwrap(),
        columns::numbers(o, "time_to_progression").unwrap(),
    );
    let r = &t.observations;
    let (rid, rarm) = (
        columns::i64s(r, "patient_id").unwrap(),
        columns::strs(r, "arm").unwrap(),
    );
    let (time, missing) = (
        columns::numbers(r, "time").unwrap(),
        columns::bools(r, "missing").unwrap(),
    );
    let obs = columns::strs(r, "observable").unwrap();
    let (mut progressed, mut marker_after) = (0, 0);
    for i in (0..o.rows()).filter(|&i| prog[i] == Some(true)) {
        progressed += 1;
        let after =
            (0..r.rows()).filter(|&j| rid[j] == oid[i] && rarm[j] == oarm[i] && time[j] > ttp[i]);
        for j in after {
            if obs[j].as_deref() == Some("burden") {
                assert_eq!(
                    missing[j],
                    Some(true),
                    "patient {:?} {:?} at {:?}",
                    oid[i],
                    oarm[i],
                    time[j]
                );
            } else {
                marker_after += (missing[j] == Some(false)) as usize;
            }
        }
    }
    assert!(
        progressed > 20 && marker_after > 0,
        "{progressed} progressions, {marker_after} marker rows after"
    );
    // Plausible ⇔ burden ≤ 400 over the whole trajectory under both arms.
    let plaus = columns::bools(&t.patients, "plausible").unwrap();
    for (i, p) in sampler.patients(0..300).unwrap().iter().enumerate() {
        let max = ["control", "treated"]
            .iter()
            .flat_map(|a| trajectory(&s.params, p, a).observables["burden"].clone())
            .fold(f64::MIN, f64::max);
        assert_eq!(plaus[i], Some(max <= 400.0), "patient {}", p.id);
    }
    let n_plausible = plaus.iter().filter(|p| **p == Some(true)).count();
    assert!(
        n_plausible < 300 && n_plausible > 150,
        "{n_plausible} plausible"
    );
    let on = |name: &str| SelectOn {
        name: name.into(),
        arm: None,
        visit: 0,
    };
    assert_eq!(candidates(&t, &on("b0")).unwrap().len(), n_plausible);
    let base = candidates(&t, &on("burden")).unwrap();
    assert!(base.len() <= n_plausible && base.len() > n_plausible * 8 / 10);
    assert!(
        base.iter()
            .all(|c| plaus[c.patient_id as usize] == Some(true))
    );
    let e = candidates(&t, &on("nothing")).unwrap_err().to_string();
    assert!(e.contains("`nothing`"), "{e}");
}

#[test]
fn compare_reports_zero_drift_for_itself_and_finds_a_shifted_parameter() {
    let a = build(COHORT, 1, 0..300);
    let same = compare_cohorts("a", &a, "a", &a);
    assert!(
        same.numeric
            .iter()
            .all(|s| s.ks.is_none_or(|k| k == 0.0) && s.smd.is_none_or(|d| d == 0.0))
    );
    let shifted = PARAMS.replace("mean = 0.01, sd = 0.003", "mean = 0.013, sd = 0.003");
    let sb = scene_from(&shifted, COHORT);
    let b = build_cohort(&sb.sampler(1), 0..300, &mut Toy::new(&sb.params)).unwrap();
    let r = compare_cohorts("a", &a, "b", &b);
    let g = r
        .numeric
        .iter()
        .find(|s| s.table == "patients" && s.variable == "g")
        .unwrap();
    // Same seed: every g moves by 0.003 (0.0027 for F) against a spread of ≈ 0.003.
    assert!(g.smd.unwrap() < -0.8 && g.ks.unwrap() > 0.3, "{g:?}");
    let age = r.numeric.iter().find(|s| s.variable == "age").unwrap();
    assert_eq!(age.smd, Some(0.0), "covariates do not depend on parameters");
    let sex: Vec<_> = r.subgroups.iter().filter(|l| l.variable == "sex").collect();
    assert_eq!(sex.iter().map(|l| l.n_a).sum::<usize>(), 300);
    assert!(render_text(&r).contains("patients"));
}
