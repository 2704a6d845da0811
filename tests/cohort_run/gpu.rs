//! Sharding on the GPU: patients simulated in any shard and chunk split give
//! the same trajectories and tables, bit for bit, as the whole cohort in
//! one plan; and the GPU agrees with the CPU reference within f32
//! tolerances. With `REQUIRE_GPU=1` a missing adapter is a failure;
//! otherwise the test prints that it was skipped.

use crate::common::{build, scene_path};
use vtwin::engine::BackendChoice;
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;
use vtwin::methods::cohort::merge::concat_tables;

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

#[test]
fn gpu_shards_equal_the_unsharded_cohort_bit_for_bit() {
    let Some(g) = gpu() else { return };
    let scene = Scene::load(&scene_path()).unwrap();
    let (whole, tw) = build(&scene, &g, 0..9, 64);
    let (a, ta) = build(&scene, &g, 0..4, 3);
    let (b, tb) = build(&scene, &g, 4..9, 2);
    // Trajectories come arm by arm; compare them by (patient, arm).
    let key = |t: &vtwin::methods::cohort::Trajectory| (t.patient, t.arm.clone());
    let mut parts: Vec<_> = ta.into_iter().chain(tb).collect();
    parts.sort_by_key(key);
    let mut all = tw.clone();
    all.sort_by_key(key);
    assert_eq!(parts.len(), all.len());
    for (p, w) in parts.iter().zip(&all) {
        assert_eq!(key(p), key(w));
        for (name, v) in &w.observables {
            let same = v
                .iter()
                .zip(&p.observables[name])
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "patient {} arm {} {name}", w.patient, w.arm);
        }
    }
    for (k, t) in whole.tables().iter().enumerate() {
        let joined = concat_tables(&[a.tables()[k], b.tables()[k]]).unwrap();
        assert_eq!(&&joined, t, "table {}", t.name);
    }

    // GPU vs CPU: same trajectories within f32 rounding (relative 1e-3 of
    // the series' largest magnitude over 56 steps).
    let (_, tc) = build(&scene, &Backend::Cpu, 0..9, 64);
    let mut cpu = tc;
    cpu.sort_by_key(key);
    for (gt, ct) in all.iter().zip(&cpu) {
        for (name, v) in &gt.observables {
            let c = &ct.observables[name];
            let scale = c.iter().fold(1.0f64, |m, x| m.max(x.abs()));
            for (x, y) in v.iter().zip(c) {
                assert!(
                    (x - y).abs() <= 1e-3 * scale,
                    "patient {} {name}: gpu {x} cpu {y}",
                    gt.patient
                );
            }
        }
    }
}
