//! Data rows → plan observables → simulated values, on a model with a
//! known answer: `u' = a` without diffusion, so u(t) = u(0) + a·t exactly
//! (explicit Euler is exact for a constant rate). Site 0 starts at 1,
//! the others at 0, so probes and blocks must pick the right sites.

use std::path::Path;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;
use vtwin::methods::calibrate::data::parse_data;
use vtwin::methods::fit::{EngineSimulator, attach_targets};

/// du/dt = a from a patch, observed as its mean `mu` and the time `tc` the
/// mean first crosses 0.5 (shared with the other simulator tests).
const SCENE: &str = include_str!("data/custom_linear_growth.toml");

fn plan() -> Plan {
    let scene = Scene::parse(Path::new("lin.toml"), SCENE).unwrap();
    Plan::freeze(
        &scene,
        &PlanOptions {
            members: Some(1),
            ..Default::default()
        },
    )
    .unwrap()
}

fn data(rows: &str) -> Vec<vtwin::methods::calibrate::data::ObsRecord> {
    parse_data(
        &format!("time,observable,location,value,sd\n{rows}"),
        Path::new("DATA.csv"),
    )
    .unwrap()
}

/// Cadence is the gcd of the bracketing steps; values are exact on the
/// linear model, interpolated ones included; probes and blocks read the
/// right sites; a shared location shares one observable.
#[test]
fn rows_map_to_the_right_values() {
    let mut p = plan();
    let rows = data(
        "0.2,mu,,0,1\n0.6,u,0.5;0.5,0,1\n0.8,u,0.5;0.5,0,1\n1.0,u,0;0;2;1,0,1\n1.0,u,2.5;0.5,0,1\n",
    );
    let t = attach_targets(&mut p, &rows, Path::new("DATA.csv")).unwrap();
    assert_eq!(p.every, 2, "steps 2, 6, 8, 10 have gcd 2");
    assert_eq!(t[1].index, t[2].index, "same probe, one observable");
    assert_eq!(p.observables.ops.len(), 4, "mu, two probes and one block");
    let names: Vec<&str> = t.iter().map(|t| t.observable.as_str()).collect();
    assert_eq!(
        names,
        [
            "mu",
            "u_at_0.5_0.5",
            "u_at_0.5_0.5",
            "u_block_0_0_2_1",
            "u_at_2.5_0.5"
        ]
    );
    let a = 2.0;
    let mut sim = EngineSimulator::new(&Backend::Cpu, p, t, None);
    let out = sim.summaries().simulate(&[vec![a]], 0).unwrap();
    let v = out[0].as_ref().expect("member ran");
    // Mean over 4 sites starting at 1/4; site 0 starts at 1; sites 0..=1 average 0.5.
    let expect = [
        0.25 + a * 0.2,
        1.0 + a * 0.6,
        1.0 + a * 0.8,
        0.5 + a * 1.0,
        a * 1.0,
    ];
    for (k, (got, want)) in v.iter().zip(expect).enumerate() {
        assert!((got - want).abs() < 1e-5, "row {k}: {got} vs {want}");
    }

    // A time between steps: 0.25 sits halfway between steps 2 and 3.
    let mut p = plan();
    let t = attach_targets(&mut p, &data("0.25,mu,,0,1\n0.6,mu,,0,1\n"), Path::new("D")).unwrap();
    assert_eq!(p.every, 1, "steps 2, 3 and 6 have gcd 1");
    assert_eq!((t[0].lo, t[0].hi), (2, 3));
    assert!((t[0].frac - 0.5).abs() < 1e-9);
    let mut sim = EngineSimulator::new(&Backend::Cpu, p, t, None);
    let out = sim.summaries().simulate(&[vec![a], vec![3.0]], 7).unwrap();
    let v0 = out[0].as_ref().unwrap();
    let v1 = out[1].as_ref().unwrap();
    assert!((v0[0] - (0.25 + a * 0.25)).abs() < 1e-5, "{}", v0[0]);
    assert!((v1[1] - (0.25 + 3.0 * 0.6)).abs() < 1e-5, "{}", v1[1]);
    assert_eq!(sim.stats.batches, 1);
    assert_eq!(sim.stats.rows, 2);
}

/// Bad rows are refused with the data file's line and a useful reason.
#[test]
fn bad_rows_name_their_line() {
    let err = |rows: &str| {
        let mut p = plan();
        attach_targets(&mut p, &data(rows), Path::new("DATA.csv"))
            .unwrap_err()
            .to_string()
    };
    let e = err("0.2,mu,,0,1\n1.5,mu,,0,1\n");
    assert!(
        e.contains("DATA.csv, line 3") && e.contains("outside the run [0, 1]"),
        "{e}"
    );
    let e = err("0.2,nope,,0,1\n");
    assert!(
        e.contains("line 2") && e.contains("no observable `nope`") && e.contains("`mu`"),
        "{e}"
    );
    let e = err("0.2,tc,,0,1\n");
    assert!(
        e.contains("first-crossing") && e.contains("against `mu`"),
        "{e}"
    );
    let e = err("0.2,w,1;0.5,0,1\n");
    assert!(e.contains("fields: u"), "{e}");
    let e = err("0.2,u,0;0;9;1,0,1\n");
    assert!(
        e.contains("line 2") && e.contains("leaves the domain"),
        "{e}"
    );
    let e = err("0.2,u,7;0.5,0,1\n");
    assert!(e.contains("outside the domain"), "{e}");
}

/// Rows the explicit scheme cannot run stably are not simulated and come
/// back as failed (a diffusing variant with a huge diffusivity).
#[test]
fn unstable_rows_come_back_failed() {
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
    let mut p = Plan::freeze(
        &scene,
        &PlanOptions {
            member_params: Some(vec![vec![1.0, 0.1]]),
            ..Default::default()
        },
    )
    .unwrap();
    let t = attach_targets(&mut p, &data("0.5,mu,,0,1\n"), Path::new("D")).unwrap();
    let mut sim = EngineSimulator::new(&Backend::Cpu, p, t, None);
    let out = sim
        .summaries()
        .simulate(&[vec![1.0, 0.1], vec![1.0, 90.0]], 0)
        .unwrap();
    assert!(out[0].is_some());
    assert!(out[1].is_none());
    assert_eq!(sim.stats.unstable, 1);
}
