//! Analytic and known-answer checks on the CPU backend (the GPU runs the
//! same checks in gpu_engine.rs): heat-kernel convergence order, Fisher–KPP
//! front speed, mass conservation, determinism. Tolerances are stated in
//! `vtwin::drivers::verify`.

use vtwin::drivers::verify::{self, Outcome};
use vtwin::engine::backend::Backend;

#[test]
fn heat_kernel_converges_with_order_two() {
    let (c, errs) = verify::heat_order(&Backend::Cpu);
    assert_eq!(c.outcome, Outcome::Pass, "{}", c.measured);
    assert!(
        errs.windows(2).all(|w| w[1].1 < w[0].1),
        "errors must fall with refinement: {errs:?}"
    );
}

#[test]
fn fisher_kpp_front_speed() {
    let c = verify::fisher_speed(&Backend::Cpu);
    assert_eq!(c.outcome, Outcome::Pass, "{}", c.measured);
}

#[test]
fn no_flux_boundaries_conserve_mass() {
    let c = verify::mass_conservation(&Backend::Cpu);
    assert_eq!(c.outcome, Outcome::Pass, "{}", c.measured);
}

#[test]
fn cpu_runs_are_deterministic() {
    for c in verify::determinism(&Backend::Cpu) {
        assert_ne!(c.outcome, Outcome::Fail, "{}: {}", c.name, c.measured);
    }
}

/// The CPU engine's result does not depend on the thread count.
#[test]
fn thread_count_does_not_matter() {
    let (name, text) = verify::model_scenes().swap_remove(1);
    let s = verify::scene(name, &text);
    let p = verify::plan(&s, Some(6));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let a = one.install(|| verify::run_to_end(&Backend::Cpu, &p, None).unwrap());
    let b = verify::run_to_end(&Backend::Cpu, &p, None).unwrap();
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
}
