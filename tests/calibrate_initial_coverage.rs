//! Calibration of the calibration (Cook, Gelman & Rubin 2006; Talts et al.
//! 2018) for an initial condition: the amplitude of a tumour's initial
//! Gaussian patch is a parameter (`values = { N = "amp" }`) with prior
//! U(0.2, 1). For each of 40 synthetic datasets a truth is drawn from the
//! prior, the tumour scene is simulated at it (one ensemble of all 40
//! truths, in-process), Gaussian noise of the stated sd is added to its
//! burden at four times, and `vtwin calibrate` (abc-smc in its default
//! kernel mode, population 200) is run on the data. If the method returns
//! the posterior, each truth falls inside its 90 % interval with
//! probability 0.9, so the count over 40 datasets is Binomial(40, 0.9): at
//! least 34 with probability 0.90, at least 32 with probability 0.985. The
//! test asks for ≥ 34 (the issue's 85 %); its seeds are fixed, so it is
//! deterministic.

mod common;

use common::{TempDir, vtwin, write_scene};
use std::path::Path;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::core::rng::{Stream, normal2_f64, uniform_f64};
use vtwin::input::scene::Scene;
use vtwin::methods::calibrate::data::parse_data;
use vtwin::methods::fit::{EngineSimulator, attach_targets};

const DATASETS: usize = 40;
const TIMES: [f64; 4] = [4.0, 8.0, 12.0, 16.0];
const SD: f64 = 0.5;

const SCENE: &str = r#"
[model]
kind = "tumour"
[grid]
nx = 12
ny = 12
dx = 1.0
boundary = "noflux"
[time]
dt = 0.5
end = 16.0
[ensemble]
members = 1
seed = 3
[parameters]
D = 0.02
k = 0.05
alpha = 0.12
beta = 0.012
theta = 1.0
kappa = 0.3
amp = { dist = "uniform", low = 0.2, high = 1.0 }
[initial]
patches = [{ shape = "gaussian", center = [6.0, 6.0], size = 2.0, values = { N = "amp" } }]
[observe]
every = 8
[[observables]]
name = "burden"
kind = "total"
field = "N"
[calibrate.abc]
population = 200
"#;

fn data_text(values: &[f64]) -> String {
    let mut s = String::from("time,observable,location,value,sd\n");
    for (t, v) in TIMES.iter().zip(values) {
        s.push_str(&format!("{t},burden,,{v},{SD}\n"));
    }
    s
}

#[test]
fn patch_amplitude_truth_is_inside_the_90_percent_interval_in_85_percent_of_datasets() {
    let tmp = TempDir::new("init-coverage");
    let scene_path = write_scene(tmp.path(), "tumour_amp.toml", SCENE);
    // Truths from the prior and their noise-free burdens, in one ensemble.
    let truths: Vec<f64> = (0..DATASETS as u32)
        .map(|i| 0.2 + 0.8 * uniform_f64(2026, 0, i, 0, Stream::Params as u32))
        .collect();
    let scene = Scene::parse(Path::new(&scene_path), SCENE).unwrap();
    let mut plan = Plan::freeze(
        &scene,
        &PlanOptions {
            members: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let records = parse_data(&data_text(&[0.0; 4]), Path::new("d.csv")).unwrap();
    let targets = attach_targets(&mut plan, &records, Path::new("d.csv")).unwrap();
    let amp = plan.block.index_of("amp").unwrap();
    let base: Vec<f64> = plan.block.params.iter().map(|p| p.dist.median()).collect();
    let thetas: Vec<Vec<f64>> = truths
        .iter()
        .map(|a| {
            let mut t = base.clone();
            t[amp] = *a;
            t
        })
        .collect();
    let backend = common::cpu();
    let mut sim = EngineSimulator::new(&backend, plan, targets, None);
    let clean: Vec<Vec<f64>> = sim
        .summaries()
        .simulate(&thetas, 1)
        .unwrap()
        .into_iter()
        .map(|c| c.expect("the truth runs"))
        .collect();
    // The burden at the first reading grows with the amplitude (by far more
    // than the noise): the initial condition is identifiable.
    let pairs = |f: fn(f64, f64) -> bool| {
        truths
            .iter()
            .zip(&clean)
            .fold(None, |best: Option<(f64, f64)>, (t, c)| match best {
                Some(b) if !f(*t, b.0) => Some(b),
                _ => Some((*t, c[0])),
            })
            .unwrap()
    };
    let (lo, hi) = (pairs(|a, b| a < b), pairs(|a, b| a > b));
    assert!(hi.1 > lo.1 + 10.0 * SD, "burden {lo:?} → {hi:?}");
    let mut covered = 0;
    for (i, (truth, values)) in truths.iter().zip(&clean).enumerate() {
        let noisy: Vec<f64> = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                v + SD * normal2_f64(77, j as u32, i as u32, 0, Stream::ObsNoise as u32)[0]
            })
            .collect();
        let data = tmp.path().join(format!("d{i}.csv"));
        std::fs::write(&data, data_text(&noisy)).unwrap();
        let out = tmp.path().join(format!("c{i}"));
        let o = vtwin(&[
            "calibrate",
            &scene_path,
            "--data",
            data.to_str().unwrap(),
            "--method",
            "abc-smc",
            "--backend",
            "cpu",
            "--seed",
            &i.to_string(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(out.join("posterior_summary.csv")).unwrap();
        // parameter, mean, sd, q05, q50, q95
        let row: Vec<f64> = text
            .lines()
            .find(|l| l.starts_with("amp,"))
            .unwrap()
            .split(',')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        let inside = *truth >= row[2] && *truth <= row[4];
        covered += inside as usize;
        eprintln!(
            "dataset {i}: truth {truth:.4}, 90 % interval [{:.4}, {:.4}]{}",
            row[2],
            row[4],
            if inside { "" } else { "  missed" }
        );
    }
    eprintln!("covered {covered} of {DATASETS}");
    assert!(
        covered >= 34,
        "truth inside the 90 % interval in {covered} of {DATASETS}"
    );
}
