//! Counterfactual arms and the observation model on real engine output
//! (CPU backend, 400 patients of the tiny scene). Rates are checked against
//! their configuration with 4-sigma binomial or normal tolerances, using
//! one arm only (arms share their draws, so they are not independent).

use crate::common::{build, scene_path};
use std::collections::HashMap;
use vtwin::engine::backend::Backend;
use vtwin::input::params::norm_cdf;
use vtwin::input::scene::Scene;
use vtwin::methods::cohort::{CohortTables, Trajectory, columns};

const N: u64 = 400;
/// From tests/data/tiny_cohort.toml.
const MCAR: f64 = 0.2;
const BURDEN_SD: f64 = 2.0;
const AREA_SD: f64 = 3.0;
const AREA_LOD: f64 = 120.0;
const RT_START: f64 = 14.0;

struct Row {
    id: u64,
    arm: String,
    visit: i64,
    time: f64,
    observable: String,
    value: Option<f64>,
    censored: bool,
    missing: bool,
}

fn rows(t: &CohortTables) -> Vec<Row> {
    let o = &t.observations;
    let id = columns::i64s(o, "patient_id").unwrap();
    let arm = columns::strs(o, "arm").unwrap();
    let visit = columns::i64s(o, "visit").unwrap();
    let time = columns::numbers(o, "time").unwrap();
    let obs = columns::strs(o, "observable").unwrap();
    let value = columns::numbers(o, "value").unwrap();
    let cens = columns::bools(o, "censored").unwrap();
    let miss = columns::bools(o, "missing").unwrap();
    (0..o.rows())
        .map(|i| Row {
            id: id[i].unwrap() as u64,
            arm: arm[i].clone().unwrap(),
            visit: visit[i].unwrap(),
            time: time[i].unwrap(),
            observable: obs[i].clone().unwrap(),
            value: value[i],
            censored: cens[i].unwrap(),
            missing: miss[i].unwrap(),
        })
        .collect()
}

fn cohort() -> (CohortTables, HashMap<(u64, String), Trajectory>) {
    let scene = Scene::load(&scene_path()).unwrap();
    let (t, trajs) = build(&scene, &Backend::Cpu, 0..N, 128);
    let map = trajs
        .into_iter()
        .map(|t| ((t.patient, t.arm.clone()), t))
        .collect();
    (t, map)
}

#[test]
fn counterfactual_arms_share_parameters_and_random_streams() {
    let (t, trajs) = cohort();
    assert_eq!(trajs.len(), 2 * N as usize);
    for id in 0..N {
        let (a, b) = (&trajs[&(id, "rt".into())], &trajs[&(id, "rt_chemo".into())]);
        assert_eq!(a.times, b.times);
        for (name, va) in &a.observables {
            let vb = &b.observables[name];
            for (k, &time) in a.times.iter().enumerate() {
                // Same parameters and initial noise: identical bits until
                // treatment starts (the step at day 14 is the first to differ).
                if time <= RT_START {
                    assert_eq!(va[k].to_bits(), vb[k].to_bits(), "{id} {name} t={time}");
                }
            }
        }
        // Chemotherapy only adds killing: less burden at the end.
        let end = a.times.len() - 1;
        assert!(
            b.observables["burden"][end] < a.observables["burden"][end],
            "patient {id}"
        );
    }
    // Observations before treatment are identical across arms (same noise,
    // same missingness draws).
    let rows = rows(&t);
    type Seen = (Option<u64>, bool, bool); // value bits, censored, missing
    let mut pre: HashMap<(u64, String, i64), Seen> = HashMap::new();
    let mut compared = 0;
    for r in rows.iter().filter(|r| r.time < RT_START) {
        let key = (r.id, r.observable.clone(), r.visit);
        let v = (r.value.map(f64::to_bits), r.censored, r.missing);
        match pre.get(&key) {
            None => {
                pre.insert(key, v);
            }
            Some(w) => {
                assert_eq!(*w, v, "patient {} {} visit {}", r.id, r.observable, r.visit);
                compared += 1;
            }
        }
    }
    assert_eq!(
        compared,
        N as usize * 2 * 2,
        "two pre-treatment visits × two observables"
    );
}

#[test]
fn missingness_noise_and_detection_limit_match_their_configuration() {
    let (t, trajs) = cohort();
    let rows = rows(&t);
    let rt = |obs: &str| -> Vec<&Row> {
        rows.iter()
            .filter(|r| r.arm == "rt" && r.observable == obs)
            .collect()
    };

    // MCAR on burden: binomial, 4 sd.
    let burden = rt("burden");
    let n = burden.len() as f64;
    let missing = burden.iter().filter(|r| r.missing).count() as f64;
    let tol = 4.0 * (MCAR * (1.0 - MCAR) / n).sqrt();
    assert!(
        (missing / n - MCAR).abs() < tol,
        "missing rate {} vs {MCAR} ± {tol}",
        missing / n
    );
    assert!(
        burden
            .iter()
            .filter(|r| r.missing)
            .all(|r| r.value.is_none())
    );
    assert_eq!(rt("visible_area").iter().filter(|r| r.missing).count(), 0);

    // Additive noise on burden: residuals against the noiseless trajectory
    // are N(0, sd²); mean within 4 sd/√n, sd within 4 sd/√(2(n−1)).
    let res: Vec<f64> = burden
        .iter()
        .filter(|r| !r.missing)
        .map(|r| {
            let x = trajs[&(r.id, r.arm.clone())]
                .value_at("burden", r.time)
                .unwrap();
            r.value.unwrap() - x
        })
        .collect();
    let n = res.len() as f64;
    let mean = res.iter().sum::<f64>() / n;
    let sd = (res.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!(mean.abs() < 4.0 * BURDEN_SD / n.sqrt(), "noise mean {mean}");
    assert!(
        (sd - BURDEN_SD).abs() < 4.0 * BURDEN_SD / (2.0 * (n - 1.0)).sqrt(),
        "noise sd {sd}"
    );

    // Detection limit on visible_area: a row is censored with probability
    // Φ((lod − x)/sd); the count is within 4 sd of its expectation.
    let area = rt("visible_area");
    let (mut expect, mut var) = (0.0, 0.0);
    for r in &area {
        let x = trajs[&(r.id, r.arm.clone())]
            .value_at("visible_area", r.time)
            .unwrap();
        let p = norm_cdf((AREA_LOD - x) / AREA_SD);
        expect += p;
        var += p * (1.0 - p);
    }
    let censored = area.iter().filter(|r| r.censored).count() as f64;
    assert!(
        expect > 50.0 && (censored - expect).abs() < 4.0 * var.sqrt(),
        "censored {censored} vs expected {expect} ± {}",
        4.0 * var.sqrt()
    );
    for r in &area {
        let v = r.value.unwrap();
        if r.censored {
            assert_eq!(v, AREA_LOD, "a censored value reports the limit");
        } else {
            assert!(
                v >= AREA_LOD,
                "an uncensored value is at or above the limit"
            );
        }
    }
}
