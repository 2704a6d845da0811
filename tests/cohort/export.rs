//! The patient-file export (`cohort --export-obs`): its shape (columns, the
//! assigned arm only, time order, the fit/held-out split) and its statistics
//! against the observation model that made it (multiplicative noise,
//! detection limit, missing visits, jittered times), with stated tolerances.

use crate::toy::{Toy, scene};
use std::collections::{HashMap, HashSet};
use vtwin::methods::cohort::build_cohort_with_visits;
use vtwin::methods::cohort::columns;
use vtwin::methods::cohort::export::patient_files;
use vtwin::output::table::{Table, Values};

const COHORT: &str = r#"
[cohort.observation.burden]
visits = [0, 28, 56, 84, 112, 140, 168]
jitter_sd = 4.0
noise = { kind = "multiplicative", sd = 0.1 }
lod = 40.0
mcar = 0.15
[cohort.export]
holdout = 2
min_fit_visits = 2
"#;

const PATIENTS: u64 = 2000;
const VISITS: [f64; 7] = [0.0, 28.0, 56.0, 84.0, 112.0, 140.0, 168.0];

fn f64s(t: &Table, c: &str) -> Vec<f64> {
    match t.column(c) {
        Some(Values::F64(v)) => v.iter().map(|x| x.expect("no null")).collect(),
        _ => panic!("{}: no float column {c}", t.name),
    }
}

fn strs(t: &Table, c: &str) -> Vec<String> {
    columns::strs(t, c)
        .unwrap()
        .iter()
        .map(|s| s.clone().unwrap())
        .collect()
}

fn keys(t: &Table) -> Vec<(String, u64)> {
    strs(t, "patient")
        .into_iter()
        .zip(f64s(t, "time"))
        .map(|(p, x)| (p, x.to_bits()))
        .collect()
}

#[test]
fn export_has_the_observation_models_statistics_and_a_clean_split() {
    let s = scene(COHORT);
    let sampler = s.sampler(11);
    let (tables, rows) =
        build_cohort_with_visits(&sampler, 0..PATIENTS, &mut Toy::new(&s.params), true).unwrap();
    let f = patient_files(&rows, &s.spec.export);

    // Only the assigned arm, one row per scheduled visit of each patient.
    let assigned = columns::strs(&tables.patients, "assigned_arm").unwrap();
    assert_eq!(rows.len(), PATIENTS as usize * VISITS.len());
    assert!(
        rows.iter()
            .all(|r| Some(&r.arm) == assigned[r.patient_id as usize].as_ref())
    );
    // Both arms are represented (randomised 1:1): 2000 draws, 4σ ≈ 90.
    let treated = assigned
        .iter()
        .filter(|a| a.as_deref() == Some("treated"))
        .count();
    assert!((treated as i64 - 1000).abs() < 90, "{treated}");

    assert_eq!(
        f.visits.column_names(),
        ["patient", "time", "observable", "location", "value", "sd"]
    );
    let c = &f.counts;
    let total = rows.len() as f64;
    // Missing completely at random with p = 0.15: 4σ = 4·√(0.15·0.85/14000).
    let missing = c.missing as f64 / total;
    assert!(
        (missing - 0.15).abs() < 4.0 * (0.15f64 * 0.85 / total).sqrt(),
        "{missing}"
    );
    assert_eq!(c.visits + c.missing, rows.len());
    assert_eq!(c.non_finite, 0);

    // Multiplicative noise y = x (1 + 0.1 z), seen where x ≥ 2·LOD (so the
    // limit never truncates it: that would need z < −5).
    let rel: Vec<f64> = rows
        .iter()
        .filter(|r| r.true_value >= 80.0)
        .filter_map(|r| r.value.map(|y| y / r.true_value - 1.0))
        .collect();
    let n = rel.len() as f64;
    assert!(n > 3000.0, "{n}");
    let mean = rel.iter().sum::<f64>() / n;
    let sd = (rel.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!(mean.abs() < 4.0 * 0.1 / n.sqrt(), "mean {mean}");
    // sd of a sample sd ≈ σ/√(2n): 4 of them.
    assert!((sd - 0.1).abs() < 4.0 * 0.1 / (2.0 * n).sqrt(), "sd {sd}");

    // Detection limit: a censored value is written as the limit, and a true
    // value below LOD/1.5 is always censored (escaping needs z > 5).
    for r in rows.iter().filter(|r| !r.missing) {
        if r.censored {
            assert_eq!(r.value, Some(40.0));
        }
        if r.true_value < 40.0 / 1.5 {
            assert!(r.censored, "{r:?}");
        }
    }
    assert!(c.censored > 500, "{}", c.censored);

    // Irregular times: jitter sd 4 days on every visit but the baseline.
    let jit: Vec<f64> = rows
        .iter()
        .filter(|r| r.visit > 0)
        .map(|r| r.time - VISITS[r.visit as usize])
        .collect();
    let m = jit.len() as f64;
    let jsd = (jit.iter().map(|e| e * e).sum::<f64>() / m).sqrt();
    assert!((jsd - 4.0).abs() < 4.0 * 4.0 / (2.0 * m).sqrt(), "{jsd}");

    // Every series is in time order in visits.csv.
    let (p, t) = (strs(&f.visits, "patient"), f64s(&f.visits, "time"));
    for i in 1..p.len() {
        if p[i] == p[i - 1] {
            assert!(t[i] > t[i - 1], "row {i}");
        }
    }

    // The split: per series, the last two observed visits are held out;
    // series with fewer than 4 observed visits are in no split file.
    let [fit, held, at] = f.split.as_ref().unwrap();
    let mut per: HashMap<String, usize> = HashMap::new();
    for q in &p {
        *per.entry(q.clone()).or_default() += 1;
    }
    let short = per.values().filter(|&&k| k < 4).count();
    assert_eq!(c.series, per.len());
    assert_eq!(c.series_too_short, short);
    assert_eq!(held.rows(), 2 * (per.len() - short));
    assert_eq!(
        fit.rows() + held.rows(),
        per.values().filter(|&&k| k >= 4).sum::<usize>()
    );
    assert_eq!(keys(held), keys(at));
    let last_fit: HashMap<String, f64> = strs(fit, "patient")
        .into_iter()
        .zip(f64s(fit, "time"))
        .collect();
    for (q, time) in strs(held, "patient").into_iter().zip(f64s(held, "time")) {
        assert!(time > last_fit[&q], "patient {q}");
    }
    let fit_keys: HashSet<_> = keys(fit).into_iter().collect();
    assert!(keys(held).iter().all(|k| !fit_keys.contains(k)));

    // The truth: every scheduled visit, observed or not.
    assert_eq!(f.truth.rows(), rows.len());
    let observed = columns::bools(&f.truth, "observed").unwrap();
    assert_eq!(
        observed.iter().filter(|b| **b == Some(true)).count(),
        c.visits
    );
}
