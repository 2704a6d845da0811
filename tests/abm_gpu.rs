//! The agent-based model on the GPU (lavapipe in CI) against its CPU twin:
//! identical counts and near-identical positions over a short horizon,
//! final counts equal in distribution over 200 members (two-sample KS),
//! bit-identical results for any batch size, and saturation handled alike.

mod common;

use common::{abm_scene, cpu, gpu, plan_of as plan, series};
use vtwin::core::plan::Plan;
use vtwin::engine::MemberStatus;
use vtwin::engine::backend::Backend;
use vtwin::engine::record::{Recording, record};
use vtwin::methods::cohort::stats::ks_test;

fn run(b: &Backend, p: &Plan, batch: Option<u32>) -> (Recording, Vec<f32>) {
    let mut e = b.engine(p, batch).expect("engine");
    let rec = record(e.as_mut(), &mut |_| {}).expect("run");
    let state = e.read_state().expect("state");
    (rec, state)
}

/// Immune cells, drug and growth: every kind of event happens.
fn therapy(members: u32, steps: u64) -> String {
    abm_scene(
        20,
        members,
        steps,
        5,
        1024,
        "initial_radius = { dist = \"uniform\", low = 90.0, high = 130.0 }\n\
         immune_count = 30.0\nimmune_speed = 0.5\nkill_probability = 0.1\n\
         doubling_time = 500.0\ndrug_kill_rate = 0.01",
        "[[arms]]\nname = \"drug\"\nchemo = { times = [20.0], dose = 2.0, decay = 0.01 }\n",
    )
}

const COUNTS: [&str; 6] = [
    "live",
    "live_tumour",
    "live_immune",
    "apoptotic",
    "necrotic",
    "immune_kills",
];

/// Over 30 steps (5 h) both backends make the same decisions: counts are
/// identical at every observation and every agent has the same id, type
/// and state. Positions and fields differ only by round-off: the GPU's
/// sqrt, exp, cos/sin and division are not correctly rounded (WGSL allows
/// a few ulp), which moves a cell by ~1e-5 µm per step; 1e-2 µm and 1e-2
/// mmHg leave two orders of magnitude of room.
#[test]
fn gpu_matches_the_cpu_twin_over_a_short_horizon() {
    let Some(g) = gpu() else { return };
    let p = plan(&therapy(8, 30));
    let (rc, sc) = run(&cpu(), &p, None);
    let (rg, sg) = run(&g, &p, None);
    for name in COUNTS {
        assert_eq!(
            series(&p, &rc.frames, name),
            series(&p, &rg.frames, name),
            "{name}"
        );
    }
    let kills = series(&p, &rc.frames, "immune_kills");
    assert!(
        kills.last().unwrap().iter().any(|&k| k > 0.0),
        "immune kills happen"
    );
    let params = p.params_f32();
    let (len, np) = (p.model.state_len(), p.n_params());
    let grid = p.model.grid().len();
    for m in 0..8 {
        let (a, b) = (&sc[m * len..(m + 1) * len], &sg[m * len..(m + 1) * len]);
        let pm = &params[m * np..(m + 1) * np];
        let (ca, cb) = (
            p.model.agents(pm, a).unwrap(),
            p.model.agents(pm, b).unwrap(),
        );
        assert_eq!(ca.len(), cb.len());
        for (x, y) in ca.iter().zip(&cb) {
            assert_eq!((x.id, x.kind, x.state), (y.id, y.kind, y.state));
            assert!(
                (x.x - y.x).abs() < 1e-2 && (x.y - y.y).abs() < 1e-2,
                "{x:?} {y:?}"
            );
        }
        let worst = a[..grid]
            .iter()
            .zip(&b[..grid])
            .map(|(u, v)| (u - v).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-2, "fields differ by {worst}");
    }
}

/// Over 12 h the backends' round-off can flip a rare decision, so the
/// ensembles are compared statistically: final live tumour counts of 200
/// members, two-sample Kolmogorov–Smirnov, fail at p < 0.01. The same test
/// rejects two CPU ensembles whose doubling times differ by half (its
/// power on this sample size).
#[test]
fn final_counts_agree_in_distribution_over_a_long_horizon() {
    let Some(g) = gpu() else { return };
    let scene = |td: f64| {
        abm_scene(
            16,
            200,
            72,
            72,
            512,
            &format!(
                "initial_radius = 50.0\ndoubling_time = {td}\nimmune_count = 10.0\n\
                 kill_probability = 0.05"
            ),
            "",
        )
    };
    let p = plan(&scene(600.0));
    let finals = |r: &Recording| -> Vec<f64> {
        series(&p, &r.frames, "live_tumour")
            .last()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect()
    };
    let c = finals(&run(&cpu(), &p, None).0);
    let gg = finals(&run(&g, &p, None).0);
    let ks = ks_test(&c, &gg);
    assert!(
        ks.p_value > 0.01,
        "GPU vs CPU: D = {}, p = {}",
        ks.statistic,
        ks.p_value
    );
    let slow = plan(&scene(900.0));
    let s = series(&slow, &run(&cpu(), &slow, None).0.frames, "live_tumour");
    let s: Vec<f64> = s.last().unwrap().iter().map(|&v| v as f64).collect();
    let power = ks_test(&c, &s);
    assert!(
        power.p_value < 0.01,
        "KS detects T_d 600 vs 900: p = {}",
        power.p_value
    );
}

/// Same seed, different batch sizes: bit-identical observables and state.
#[test]
fn batch_size_does_not_change_gpu_results() {
    let Some(g) = gpu() else { return };
    let p = plan(&therapy(7, 12));
    let (ra, sa) = run(&g, &p, None);
    let (rb, sb) = run(&g, &p, Some(3));
    assert_eq!(ra.frames, rb.frames);
    assert_eq!(sa, sb);
    let (rc, sc) = run(&g, &p, Some(1));
    assert_eq!(ra.frames, rc.frames);
    assert_eq!(sa, sc);
}

/// A pool that fills up is reported saturated at the same step on both
/// backends, and its member keeps its cells.
#[test]
fn saturation_is_detected_alike_on_both_backends() {
    let Some(g) = gpu() else { return };
    let p = plan(&abm_scene(
        16,
        6,
        60,
        10,
        64,
        "initial_radius = { dist = \"choice\", values = [20.0, 60.0] }\n\
         doubling_time = 200.0\no2_uptake = 0.0\napoptosis_rate = 0.0",
        "",
    ));
    let (rc, _) = run(&cpu(), &p, None);
    let (rg, _) = run(&g, &p, None);
    assert_eq!(rc.status, rg.status);
    assert!(
        rg.status
            .iter()
            .any(|s| matches!(s, MemberStatus::Saturated { .. }))
    );
    assert_eq!(
        series(&p, &rc.frames, "live"),
        series(&p, &rg.frames, "live")
    );
}
