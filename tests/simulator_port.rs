//! The simulator port (`engine::Simulator`) on a model with a known answer:
//! `u' = a` without diffusion on 4 sites, site 0 starting at 1, so the mean
//! is 0.25 + a·t exactly (explicit Euler is exact for a constant rate) and
//! it first crosses 0.5 at t = 0.25 / a.

use std::path::Path;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::backend::Backend;
use vtwin::engine::{
    Batch, EnginePort, MemberStatus, PerRow, Recordings, RowStatus, Simulator, SimulatorError,
};
use vtwin::input::scene::Scene;
use vtwin::methods::calibrate::Summaries;

/// du/dt = a from a patch, observed as its mean `mu` and the time `tc` the
/// mean first crosses 0.5 (shared with the other simulator tests).
const SCENE: &str = include_str!("data/custom_linear_growth.toml");

fn batch(rows: &[Vec<f64>], member_offset: u32) -> Batch<'_> {
    Batch {
        rows,
        arm: None,
        member_offset,
        seed: 1,
    }
}

#[test]
fn rows_come_back_as_members_with_their_series() {
    let scene = Scene::parse(Path::new("lin.toml"), SCENE).unwrap();
    let mut port = EnginePort::from_scene(&scene, &Backend::Cpu, None);
    let rows = vec![vec![1.0], vec![2.0]];
    let rec = port.simulate(&batch(&rows, 3)).unwrap();
    assert_eq!(rec.observables, ["mu", "tc"]);
    assert_eq!(rec.status, vec![RowStatus::Ran(MemberStatus::Ok); 2]);
    assert_eq!(rec.steps.first(), Some(&0));
    assert_eq!(rec.steps.last(), Some(&10));
    for (row, a) in [1.0, 2.0].into_iter().enumerate() {
        let s = rec.series(row);
        for (k, t) in rec.times.iter().enumerate() {
            let mu = s[0][k].expect("a running member has values");
            assert!((mu - (0.25 + a * t)).abs() < 1e-5, "row {row} t {t}: {mu}");
        }
        let tc = s[1].last().copied().flatten().expect("crossed by t = 1");
        assert!((tc - 0.25 / a).abs() < 1e-4, "row {row}: {tc}");
    }
}

/// Chunks of a batch (the cohort's way) laid end to end read as the whole.
#[test]
fn chunks_concatenate_to_the_whole_batch() {
    let scene = Scene::parse(Path::new("lin.toml"), SCENE).unwrap();
    let mut port = EnginePort::from_scene(&scene, &Backend::Cpu, None);
    let rows = vec![vec![0.5], vec![1.5], vec![3.0]];
    let whole = port.simulate(&batch(&rows, 0)).unwrap();
    let parts = vec![
        port.simulate(&batch(&rows[..1], 0)).unwrap(),
        port.simulate(&batch(&rows[1..], 1)).unwrap(),
    ];
    let joined = Recordings::concat(whole.observables.clone(), parts);
    assert_eq!(joined.rows(), 3);
    assert_eq!(joined.times, whole.times);
    assert_eq!(joined.status, whole.status);
    for row in 0..3 {
        assert_eq!(joined.series(row), whole.series(row), "row {row}");
    }
    assert_ne!(joined.series(0), joined.series(2));
}

/// A row the explicit scheme cannot run (huge diffusivity) is not run and
/// keeps its place; the others run as members in row order, so row 2 is
/// member 1 of the stable rows' run.
#[test]
fn refused_rows_keep_their_place() {
    let text = SCENE
        .replace(
            "reactions = { u = \"a\" }",
            "reactions = { u = \"a\" }\ndiffusion = { u = \"D\" }",
        )
        .replace(
            "[initial]",
            "D = { dist = \"uniform\", low = 0.0, high = 100.0 }\n[initial]",
        );
    let scene = Scene::parse(Path::new("d.toml"), &text).unwrap();
    let plan = Plan::freeze(
        &scene,
        &PlanOptions {
            member_params: Some(vec![vec![1.0, 0.1]]),
            ..Default::default()
        },
    )
    .unwrap();
    let mut port = EnginePort::from_plan(plan.clone(), &Backend::Cpu, None).refusing_unstable();
    let rows = vec![vec![1.0, 0.1], vec![1.0, 90.0], vec![2.0, 0.1]];
    let rec = port.simulate(&batch(&rows, 0)).unwrap();
    assert_eq!(
        rec.status,
        [
            RowStatus::Ran(MemberStatus::Ok),
            RowStatus::Unstable,
            RowStatus::Ran(MemberStatus::Ok)
        ]
    );
    assert_eq!(rec.failed(), 1);
    assert!(rec.series(1).iter().flatten().all(|v| v.is_none()));
    let stable = vec![rows[0].clone(), rows[2].clone()];
    let mut plain = EnginePort::from_plan(plan, &Backend::Cpu, None);
    let alone = plain.simulate(&batch(&stable, 0)).unwrap();
    assert_eq!(rec.series(0), alone.series(0));
    assert_eq!(rec.series(2), alone.series(1));
    let short = vec![vec![1.0]];
    assert!(matches!(
        plain.simulate(&batch(&short, 0)),
        Err(SimulatorError::RowLength {
            row: 0,
            got: 1,
            expected: 2
        })
    ));
}

/// A closure is a simulator; calibration reads its summaries off the
/// recordings, a failed row as None.
#[test]
fn a_closure_is_a_simulator() {
    let mut twice = |b: &Batch<'_>| -> Result<Recordings, SimulatorError> {
        Ok(Recordings::from_values(
            b.rows
                .iter()
                .map(|r| (r[0] >= 0.0).then(|| vec![2.0 * r[0], r[0] + b.seed as f64]))
                .collect(),
        ))
    };
    let out = Summaries::last(&mut twice)
        .simulate(&[vec![1.5], vec![-1.0]], 10)
        .unwrap();
    assert_eq!(out, vec![Some(vec![3.0, 11.5]), None]);
}

/// `PerRow` maps each row by its function, whatever the arm, offset and
/// seed; a row it gives None for comes back failed in its place.
#[test]
fn per_row_maps_each_row_and_keeps_failures_in_place() {
    let mut sim = PerRow(|t: &[f64]| (t[0] > 0.0).then(|| vec![t[0] * t[1], -t[1]]));
    let rows = vec![vec![2.0, 3.0], vec![-1.0, 5.0], vec![0.5, 4.0]];
    let a = sim.simulate(&batch(&rows, 7)).unwrap();
    for seed in [3, 9] {
        assert_eq!(
            Summaries::last(&mut sim).simulate(&rows, seed).unwrap(),
            vec![Some(vec![6.0, -3.0]), None, Some(vec![2.0, -4.0])]
        );
    }
    assert!(matches!(
        a.status[1],
        RowStatus::Ran(MemberStatus::Diverged { step: 0 })
    ));
    assert!(matches!(a.status[0], RowStatus::Ran(MemberStatus::Ok)));
}
