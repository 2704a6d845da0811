//! A plan's member offset: members a..b of an ensemble, frozen as a plan of
//! b − a members with `member_offset = a`, compute bit for bit what members
//! a..b compute inside the whole ensemble (drawn parameters and keyed
//! initial noise), on the CPU and on the GPU (lavapipe in CI). The scene has
//! initial noise, so a wrong member index changes the state (checked too).
//!
//! GPU tests: with `REQUIRE_GPU=1` a missing adapter is a failure;
//! otherwise they print that they were skipped.

use std::path::PathBuf;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::BackendChoice;
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;

fn scene() -> Scene {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_cohort.toml");
    Scene::load(&p).expect("tiny scene loads")
}

fn plan(s: &Scene, opts: PlanOptions) -> Plan {
    Plan::freeze(s, &opts).expect("plan freezes")
}

/// State after 24 steps, all members.
fn state(backend: &Backend, p: &Plan, batch: Option<u32>) -> Vec<f32> {
    let mut e = backend.engine(p, batch).expect("engine");
    e.advance(24).expect("advance");
    e.read_state().expect("read state")
}

fn gpu() -> Option<Backend> {
    match Backend::open(BackendChoice::Gpu, None, &mut |_| {}) {
        Ok(b) => Some(b),
        Err(e) if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("REQUIRE_GPU=1 but no GPU adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipped: no GPU adapter ({e}); set REQUIRE_GPU=1 to make this a failure");
            None
        }
    }
}

fn check_slices(backend: &Backend, whole_batch: Option<u32>) {
    let s = scene();
    let whole = plan(
        &s,
        PlanOptions {
            members: Some(7),
            ..Default::default()
        },
    );
    let n = whole.model.state_len();
    let full = state(backend, &whole, whole_batch);
    // Drawn parameters: a slice draws what the whole ensemble drew.
    let drawn = plan(
        &s,
        PlanOptions {
            members: Some(3),
            member_offset: 2,
            ..Default::default()
        },
    );
    assert_eq!(drawn.params, whole.params[2..5].to_vec());
    // Explicit parameters (what cohorts pass), in another batch split.
    let given = plan(
        &s,
        PlanOptions {
            member_params: Some(whole.params[2..5].to_vec()),
            member_offset: 2,
            ..Default::default()
        },
    );
    for (p, batch) in [(&drawn, None), (&given, Some(2))] {
        let part = state(backend, p, batch);
        let same = part
            .iter()
            .zip(&full[2 * n..5 * n])
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "members 2..5 differ from the whole ensemble's");
    }
    // Negative control: the same parameters at offset 0 get member 0's
    // initial noise, hence a different state.
    let wrong = plan(
        &s,
        PlanOptions {
            member_params: Some(whole.params[2..5].to_vec()),
            ..Default::default()
        },
    );
    assert_ne!(state(backend, &wrong, None), full[2 * n..5 * n].to_vec());
    assert_ne!(
        given.sha256, wrong.sha256,
        "the offset is part of the plan hash"
    );
}

#[test]
fn cpu_slices_of_an_ensemble_equal_the_whole_bit_for_bit() {
    check_slices(&Backend::Cpu, None);
}

#[test]
fn gpu_slices_of_an_ensemble_equal_the_whole_bit_for_bit() {
    if let Some(b) = gpu() {
        check_slices(&b, None);
        check_slices(&b, Some(3));
    }
}

#[test]
fn offsets_past_the_member_index_range_are_refused() {
    let s = scene();
    let e = Plan::freeze(
        &s,
        &PlanOptions {
            members: Some(2),
            member_offset: u32::MAX,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("exceed 2³² member indices"), "{e}");
}
