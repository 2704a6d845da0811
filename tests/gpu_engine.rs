//! GPU engine tests (lavapipe in CI): known answers, agreement with the CPU
//! twin, batch independence, determinism, divergence handling and the
//! state/parameter/member-copy interface.

mod common;

use vtwin::drivers::verify::{self, Outcome};
use vtwin::engine::MemberStatus;
use vtwin::engine::backend::Backend;

fn assert_all_pass(checks: &[verify::Check]) {
    for c in checks {
        assert_eq!(
            c.outcome,
            Outcome::Pass,
            "{}: expected {}, measured {} (tolerance {})",
            c.name,
            c.expected,
            c.measured,
            c.tolerance
        );
    }
}

/// Philox4x32-10 in WGSL reproduces Random123's known answers.
#[test]
fn philox_known_answers_on_gpu() {
    let Some(b) = common::gpu() else { return };
    assert_all_pass(&verify::philox(&b));
}

/// Every model's GPU kernel agrees with its CPU twin over a short horizon
/// (|gpu − cpu| ≤ 1e-5 + 1e-4·|cpu|; see verify::GPU_CPU_*).
#[test]
fn every_model_agrees_with_its_cpu_twin() {
    let Some(b) = common::gpu() else { return };
    let mut checks = verify::gpu_cpu_agreement(&b);
    assert_eq!(checks.len(), 4);
    // The agent-based model: identical counts (exact).
    checks.push(verify::abm_agreement(&b));
    assert_all_pass(&checks);
}

/// Through the decaying regime (Gray–Scott's v falling below 1.2e-38)
/// both backends flush stored values the same way (`flush_tiny`), so
/// neither state holds a subnormal and they agree to 2.4e-37 absolute
/// (`verify::subnormal_agreement`). A software adapter (lavapipe) keeps
/// subnormal intermediates as the CPU does, so there the two must be
/// bit-identical.
#[test]
fn gpu_and_cpu_agree_through_the_subnormal_regime() {
    let Some(b) = common::gpu() else { return };
    let c = verify::subnormal_agreement(&b);
    eprintln!("{}: {}", c.name, c.measured);
    assert_all_pass(&[c]);
    // Also midway through the flush: after 740 steps 84 of the 1,024 v
    // values are +0.0 and the rest still normal.
    let p = verify::plan(
        &verify::scene("decaying", verify::DECAYING_GRAY_SCOTT),
        None,
    );
    let state = |backend: &Backend, steps: u64| {
        let mut e = backend.engine(&p, None).unwrap();
        e.advance(steps).unwrap();
        e.read_state().unwrap()
    };
    for steps in [740, p.steps] {
        let s = verify::DecayComparison::of(&state(&b, steps), &state(&Backend::Cpu, steps));
        eprintln!("{steps} steps: {s:?}");
        assert!(s.passes(), "{steps} steps: {s:?}");
        assert!(s.zeros.0 > 0, "{steps} steps: nothing flushed: {s:?}");
        if steps == 740 {
            assert!(
                s.zeros.0 < s.len / 2,
                "740 steps: v all flushed already: {s:?}"
            );
        }
        if b.adapter().is_some_and(|a| a.is_software()) {
            assert_eq!(
                s.identical, s.len,
                "{steps} steps: software adapter differs from the CPU twin: {s:?}"
            );
        }
    }
}

/// The analytic checks hold on the GPU too.
#[test]
fn analytic_checks_on_gpu() {
    let Some(b) = common::gpu() else { return };
    assert_all_pass(&[
        verify::heat_order(&b).0,
        verify::fisher_speed(&b),
        verify::mass_conservation(&b),
    ]);
}

/// Batches of 1, 2 and 3 members give bit-identical states to one batch, for
/// every model; repeating a run is bit-identical.
#[test]
fn batching_never_changes_results() {
    let Some(b) = common::gpu() else { return };
    for (name, text) in verify::model_scenes() {
        let s = verify::scene(name, &text);
        let p = verify::plan(&s, Some(5));
        let whole = verify::run_to_end(&b, &p, None).unwrap();
        for batch in [1, 2, 3] {
            let part = verify::run_to_end(&b, &p, Some(batch)).unwrap();
            assert!(
                whole
                    .iter()
                    .zip(&part)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{name}: batch {batch} differs"
            );
        }
        let again = verify::run_to_end(&b, &p, None).unwrap();
        assert!(
            whole
                .iter()
                .zip(&again)
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name}: repeat differs"
        );
    }
}

/// Members whose state blows up are marked diverged at the same observation
/// step on both backends, and the others finish with finite values.
#[test]
fn divergence_is_per_member_and_matches_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let s = verify::scene("diverging", common::DIVERGING);
    let p = verify::plan(&s, None);
    let mut status = Vec::new();
    for b in [&gpu, &Backend::Cpu] {
        let mut e = b.engine(&p, Some(4)).unwrap();
        let rec = vtwin::engine::record::record(e.as_mut(), &mut |_| {}).unwrap();
        status.push(rec.status.clone());
        let g: Vec<f64> = p.params.iter().map(|r| r[0]).collect();
        for (m, st) in rec.status.iter().enumerate() {
            if g[m] == 0.0 {
                assert_eq!(*st, MemberStatus::Ok, "member {m}");
            } else {
                assert!(
                    matches!(st, MemberStatus::Diverged { .. }),
                    "member {m}: {st:?}"
                );
            }
        }
    }
    assert!(
        status[1].iter().any(|s| !s.is_ok()) && status[1].iter().any(|s| s.is_ok()),
        "the scene should mix outcomes"
    );
    assert_eq!(status[0], status[1]);
}

/// write_state/read_state round-trip, write_params changes the dynamics
/// exactly as on the CPU, and copy_members permutes members.
#[test]
fn state_params_and_member_copies() {
    let Some(gpu) = common::gpu() else { return };
    let (name, text) = verify::model_scenes().swap_remove(0);
    let s = verify::scene(name, &text);
    let p = verify::plan(&s, Some(4));
    let mut results = Vec::new();
    for b in [&gpu, &Backend::Cpu] {
        let mut e = b.engine(&p, Some(3)).unwrap();
        let st = e.read_state().unwrap();
        let mut modified = st.clone();
        modified[5] = 0.123;
        e.write_state(&modified).unwrap();
        assert_eq!(e.read_state().unwrap(), modified);
        let mut params = e.read_params().unwrap();
        assert_eq!(params, p.params_f32());
        params[2] = 0.05; // member 0's F
        e.write_params(&params).unwrap();
        e.copy_members(&[3, 0, 0, 1]).unwrap();
        let after = e.read_state().unwrap();
        let n = p.model.state_len();
        assert_eq!(&after[..n], &modified[3 * n..4 * n]);
        assert_eq!(&after[n..2 * n], &modified[..n]);
        assert_eq!(&after[3 * n..], &modified[n..2 * n]);
        let pp = e.read_params().unwrap();
        assert_eq!(pp[4 + 2], 0.05);
        e.advance(20).unwrap();
        results.push(e.read_state().unwrap());
    }
    let a = verify::agreement(
        &results[0],
        &results[1],
        verify::GPU_CPU_ATOL,
        verify::GPU_CPU_RTOL,
    );
    assert!(a <= 1.0, "gpu vs cpu after edits: {a}");
}

/// `Engine::restart` puts an engine back at its start under new
/// parameters: recording again then equals a new engine built for those
/// parameters, bit for bit (frames, status, final state), on the CPU and
/// on the GPU, for the stochastic agent model (keyed draws, agent pools).
#[test]
fn restart_equals_a_new_engine() {
    use vtwin::core::plan::{Plan, PlanOptions};
    use vtwin::engine::record::record;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/tumour_abm_therapy.toml");
    let scene = vtwin::input::scene::Scene::load(&path).unwrap();
    let opts = PlanOptions {
        members: Some(4),
        seed: Some(3),
        ..Default::default()
    };
    let plan = Plan::freeze(&scene, &opts).unwrap();
    let mut rows = plan.params.clone();
    rows.reverse();
    let second = plan.with_params(rows);
    let mut backends = vec![Backend::Cpu];
    backends.extend(common::gpu());
    for b in backends {
        let mut e = b.engine(&plan, None).unwrap();
        let first = record(e.as_mut(), &mut |_| {}).unwrap();
        e.restart(&second.params_f32()).unwrap();
        assert_eq!(e.step(), 0);
        let again = record(e.as_mut(), &mut |_| {}).unwrap();
        let mut f = b.engine(&second, None).unwrap();
        let fresh = record(f.as_mut(), &mut |_| {}).unwrap();
        let name = b.name();
        assert_ne!(first.frames, again.frames, "{name}: the parameters changed");
        assert_eq!(again.frames, fresh.frames, "{name}: frames");
        assert_eq!(again.status, fresh.status, "{name}: status");
        assert_eq!(
            e.read_state().unwrap(),
            f.read_state().unwrap(),
            "{name}: state"
        );
        assert_eq!(
            e.read_params().unwrap(),
            f.read_params().unwrap(),
            "{name}: params"
        );
        // A wrong number of values is refused, naming the counts.
        let err = e.restart(&[1.0]).unwrap_err().to_string();
        assert!(err.contains("1 parameter values for 4 members"), "{err}");
    }
}

/// `observe_ranges` gives exactly the listed members' rows of `observe`,
/// range after range, on the CPU backend (which computes only those rows)
/// and on the GPU (the trait's default); a range past the ensemble is an
/// error, not a panic.
#[test]
fn observe_ranges_equals_the_rows_of_observe() {
    use vtwin::core::plan::{Plan, PlanOptions};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/gray_scott.toml");
    let scene = vtwin::input::scene::Scene::load(&path).unwrap();
    let opts = PlanOptions {
        members: Some(7),
        seed: Some(5),
        ..Default::default()
    };
    let plan = Plan::freeze(&scene, &opts).unwrap();
    let mut backends = vec![Backend::Cpu];
    backends.extend(common::gpu());
    for b in backends {
        let mut e = b.engine(&plan, None).unwrap();
        e.advance(20).unwrap();
        let all = e.observe().unwrap();
        let stride = all.len() / 7;
        let ranges = [5..7, 0..2, 3..3];
        let some = e.observe_ranges(&ranges).unwrap();
        let want: Vec<f32> = ranges
            .iter()
            .flat_map(|r| all[r.start * stride..r.end * stride].to_vec())
            .collect();
        assert_eq!(some, want, "{}", b.name());
        assert!(e.observe_ranges(std::slice::from_ref(&(6..8))).is_err());
    }
}

/// The ranged state/parameter/status reads give exactly the listed members'
/// rows of the full reads, and the ranged writes change exactly those
/// members, as the trait's default (read all, replace, write all) does:
/// on the CPU override and the GPU's per-batch ranged reads and writes, in
/// one batch and in batches of 2 members (ranges spanning batches, out of
/// order); a range past the ensemble or data of the wrong length is an
/// error.
#[test]
fn ranged_reads_and_writes_touch_only_the_listed_members() {
    use vtwin::core::plan::{Plan, PlanOptions};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/gray_scott.toml");
    let scene = vtwin::input::scene::Scene::load(&path).unwrap();
    let opts = PlanOptions {
        members: Some(6),
        seed: Some(9),
        ..Default::default()
    };
    let plan = Plan::freeze(&scene, &opts).unwrap();
    let mut cases = vec![(Backend::Cpu, None, vec![4..6, 1..2])];
    if let Some(g) = common::gpu() {
        cases.push((g.clone(), None, vec![4..6, 1..2]));
        // Batches {0,1}, {2,3}, {4,5}: 3..6 spans two, 0..2 fills one.
        cases.push((g, Some(2), vec![3..6, 0..2]));
    }
    for (b, batch, ranges) in cases {
        let name = format!("{} batch {batch:?}", b.name());
        let mut e = b.engine(&plan, batch).unwrap();
        e.advance(10).unwrap();
        let state = e.read_state().unwrap();
        let params = e.read_params().unwrap();
        let status = e.status().unwrap();
        let (n, np) = (state.len() / 6, params.len() / 6);
        let order: Vec<usize> = ranges.iter().flat_map(|r| r.clone()).collect();
        let k = order.len();
        let rows = |all: &[f32], w: usize| -> Vec<f32> {
            ranges
                .iter()
                .flat_map(|r| all[r.start * w..r.end * w].to_vec())
                .collect()
        };
        assert_eq!(
            e.read_state_ranges(&ranges).unwrap(),
            rows(&state, n),
            "{name}"
        );
        assert_eq!(
            e.read_params_ranges(&ranges).unwrap(),
            rows(&params, np),
            "{name}"
        );
        let st: Vec<MemberStatus> = ranges
            .iter()
            .flat_map(|r| status[r.clone()].to_vec())
            .collect();
        assert_eq!(e.status_ranges(&ranges).unwrap(), st, "{name}");

        // Write distinct values into the listed members only.
        let new_state: Vec<f32> = (0..k * n).map(|i| 0.25 + (i % 97) as f32 * 1e-3).collect();
        let new_params: Vec<f32> = (0..k * np).map(|i| 0.01 * (i + 1) as f32).collect();
        e.write_state_ranges(&ranges, &new_state).unwrap();
        e.write_params_ranges(&ranges, &new_params).unwrap();
        let state2 = e.read_state().unwrap();
        let params2 = e.read_params().unwrap();
        for m in 0..6 {
            let (s, p) = match order.iter().position(|&o| o == m) {
                Some(k) => (
                    &new_state[k * n..(k + 1) * n],
                    &new_params[k * np..(k + 1) * np],
                ),
                None => (&state[m * n..(m + 1) * n], &params[m * np..(m + 1) * np]),
            };
            assert_eq!(
                &state2[m * n..(m + 1) * n],
                s,
                "{name}: state of member {m}"
            );
            assert_eq!(
                &params2[m * np..(m + 1) * np],
                p,
                "{name}: params of member {m}"
            );
        }
        // The ranged reads see the ranged writes.
        assert_eq!(e.read_state_ranges(&ranges).unwrap(), new_state, "{name}");
        assert_eq!(e.read_params_ranges(&ranges).unwrap(), new_params, "{name}");
        assert!(e.read_state_ranges(std::slice::from_ref(&(5..7))).is_err());
        assert!(e.write_params_ranges(&ranges, &new_params[1..]).is_err());
    }
}
