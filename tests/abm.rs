//! Known behaviour of the agent-based tumour model on the CPU backend (the
//! GPU is compared against it in tests/abm_gpu.rs): exponential growth at
//! the configured doubling time, a necrotic core under limited oxygen, the
//! mechanics' relaxation law, no immune kills without immune cells, and
//! saturation of a full agent pool.

mod common;

use common::{abm_scene, cpu, plan_of as plan, series};
use std::path::Path;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::MemberStatus;
use vtwin::engine::record::record;
use vtwin::input::scene::Scene;

fn run(p: &Plan) -> (Vec<Vec<f32>>, Vec<MemberStatus>) {
    let mut e = cpu().engine(p, None).expect("engine");
    let rec = record(e.as_mut(), &mut |_| {}).expect("run");
    (rec.frames, rec.status)
}

/// With oxygen everywhere at the supply value and no death, division is a
/// Poisson process at rate ln 2 / T_d with per-step probability
/// exp(r·dt) − 1, so E[N(t)] = N₀·2^(t/T_d) exactly. 200 members, two
/// doubling times: the ensemble mean must lie within 4 standard errors.
#[test]
fn early_growth_is_exponential_at_the_doubling_time() {
    let td = 600.0;
    let p = plan(&abm_scene(
        20,
        200,
        120,
        60,
        1024,
        &format!(
            "doubling_time = {td}\no2_uptake = 0.0\no2_decay = 0.0\nprolif_o2_high = 30.0\n\
             apoptosis_rate = 0.0\nnecrosis_rate = 0.0\ninitial_radius = 30.0"
        ),
        "",
    ));
    let (frames, status) = run(&p);
    assert!(status.iter().all(|s| s.is_ok()));
    let live = series(&p, &frames, "live");
    let n0 = live[0][0] as f64;
    assert!(
        n0 >= 3.0 && live[0].iter().all(|&v| v as f64 == n0),
        "N0 = {n0}"
    );
    for (k, t) in [(1usize, 600.0), (2, 1200.0)] {
        let v: Vec<f64> = live[k].iter().map(|&x| x as f64).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
        let se = (var / v.len() as f64).sqrt();
        let want = n0 * 2f64.powf(t / td);
        assert!(
            (mean - want).abs() < 4.0 * se,
            "t = {t}: mean {mean:.2} vs N0·2^(t/Td) = {want:.2} (se {se:.2})"
        );
    }
}

/// A spheroid past the diffusion-limited size (oxygen uptake 10/min, D =
/// 10⁵ µm²/min) turns necrotic in its centre; the same spheroid with a
/// tenth of the uptake does not.
#[test]
fn limited_oxygen_forms_a_necrotic_core() {
    let tail = "[[observables]]\nname = \"min_o2\"\nkind = \"min\"\nfield = \"o2\"\n";
    let base = "initial_radius = 300.0\ndoubling_time = 900.0";
    let p = plan(&abm_scene(40, 6, 60, 60, 2048, base, tail));
    let (frames, _) = run(&p);
    let nec = series(&p, &frames, "necrotic");
    let nec_r = series(&p, &frames, "necrotic_radius");
    let tum_r = series(&p, &frames, "tumour_radius");
    let min_o2 = series(&p, &frames, "min_o2");
    for m in 0..6 {
        assert!(min_o2[0][m] < 5.0, "centre is hypoxic: {}", min_o2[0][m]);
        assert!(nec[1][m] > 0.0, "member {m} has no necrotic cells");
        assert!(
            nec_r[1][m] < 0.6 * tum_r[1][m],
            "necrosis is central: {} vs tumour {}",
            nec_r[1][m],
            tum_r[1][m]
        );
    }
    let p = plan(&abm_scene(
        40,
        6,
        60,
        60,
        2048,
        &format!("{base}\no2_uptake = 1.0"),
        tail,
    ));
    let (frames, _) = run(&p);
    assert!(series(&p, &frames, "min_o2")[0].iter().all(|&v| v > 20.0));
    assert!(series(&p, &frames, "necrotic")[1].iter().all(|&v| v == 0.0));
}

/// Two overlapping cells separate by the linearly implicit spring law:
/// with a = dt·rep/R the overlap gap g = R − d shrinks by (1 − a)/(1 + a)
/// per step (a trapezoidal decay of g' = −2·rep·g/R), on the CPU twin
/// exactly up to f32 round-off. (No division: oxygen stays below the
/// proliferation threshold.)
#[test]
fn overlapping_cells_relax_by_the_repulsion_law() {
    let p = plan(&abm_scene(
        12,
        1,
        10,
        10,
        16,
        "initial_radius = 0.0\napoptosis_rate = 0.0\nprolif_o2_low = 100.0\nprolif_o2_high = 200.0\nrepulsion = 0.5",
        "",
    ));
    let mut e = cpu().engine(&p, None).unwrap();
    let mut state = e.read_state().unwrap();
    let (big_r, rep, dt) = (2.0 * 8.41f64, 0.5f64, 10.0f64);
    let a = dt * rep / big_r;
    let d0 = 6.0f64;
    set_two_cells(&p, &mut state, 150.0, 150.0 + d0 as f32);
    e.write_state(&state).unwrap();
    let mut gap = big_r - d0;
    for _ in 0..10 {
        e.advance(1).unwrap();
        gap *= (1.0 - a) / (1.0 + a);
        let cells = p
            .model
            .agents(&p.params_f32(), &e.read_state().unwrap())
            .unwrap();
        let got = (cells[1].x - cells[0].x) as f64;
        assert!(
            (got - (big_r - gap)).abs() < 1e-3,
            "distance {got} vs {}",
            big_r - gap
        );
        assert!((cells[0].y - 150.0).abs() < 1e-4);
    }
    assert!(gap < 0.05, "the cells reached contact (gap {gap})");
}

/// Places two live tumour cells at (x0, 150) and (x1, 150) in member 0.
fn set_two_cells(p: &Plan, state: &mut [f32], x0: f32, x1: f32) {
    // Layout (src/models/abm/layout.rs): fields, 16 header words, then
    // x, y, kind, state, clock, id arrays of `capacity` each.
    let g = 2 * 12 * 12;
    let cap = 16;
    let (h, ax) = (g, g + 16);
    state[h] = 2.0; // count
    state[h + 1] = 2.0; // next id
    for (i, x) in [x0, x1].into_iter().enumerate() {
        state[ax + i] = x;
        state[ax + cap + i] = 150.0;
        state[ax + 2 * cap + i] = 0.0;
        state[ax + 3 * cap + i] = 0.0;
        state[ax + 4 * cap + i] = 0.0;
        state[ax + 5 * cap + i] = i as f32;
    }
    assert_eq!(p.model.state_len(), ax + 6 * cap);
}

/// Largest and mean overlap (1 − d/(rᵢ + rⱼ)) over touching pairs of cells
/// older than an hour (a daughter is placed one radius from its parent, an
/// overlap of ½), after 20 h of growth from a 120 µm spheroid.
fn overlaps_after_growth(repulsion: f64) -> (f32, f32) {
    let p = plan(&abm_scene(
        24,
        3,
        120,
        120,
        2048,
        &format!("initial_radius = 120.0\ndoubling_time = 900.0\nrepulsion = {repulsion}"),
        "",
    ));
    let mut e = cpu().engine(&p, None).unwrap();
    let n0 = e.observe().unwrap()[0];
    e.advance(120).unwrap();
    let state = e.read_state().unwrap();
    let params = p.params_f32();
    let (len, np) = (p.model.state_len(), p.n_params());
    let (mut worst, mut sum, mut pairs) = (0.0f32, 0.0f32, 0usize);
    for m in 0..3 {
        let s = &state[m * len..(m + 1) * len];
        let a = p.model.agents(&params[m * np..(m + 1) * np], s).unwrap();
        assert!(
            a.len() as f32 > 1.3 * n0,
            "the spheroid grew: {} from {n0}",
            a.len()
        );
        // Clocks follow x, y, kind, state (src/models/abm/layout.rs).
        let clock_of = |slot: u32| s[2 * 24 * 24 + 16 + 4 * 2048 + slot as usize];
        let old: Vec<_> = a.iter().filter(|c| clock_of(c.slot) >= 60.0).collect();
        for (i, c) in old.iter().enumerate() {
            for d in &old[i + 1..] {
                let dist = ((c.x - d.x).powi(2) + (c.y - d.y).powi(2)).sqrt();
                let ov = 1.0 - dist / (c.radius + d.radius);
                if ov > 0.0 {
                    worst = worst.max(ov);
                    sum += ov;
                    pairs += 1;
                }
            }
        }
    }
    (worst, sum / pairs.max(1) as f32)
}

/// Repulsion keeps overlaps bounded while the spheroid grows: no pair of
/// settled cells overlaps as much as a newborn pair (½), and the typical
/// contact is shallow; without repulsion cells pile onto each other.
#[test]
fn repulsion_keeps_overlaps_bounded_while_growing() {
    let (worst, mean) = overlaps_after_growth(2.0);
    eprintln!("worst {worst} mean {mean}");
    assert!(worst < 0.5, "largest overlap {worst}");
    assert!(mean < 0.15, "mean overlap {mean}");
    let (worst0, mean0) = overlaps_after_growth(0.0);
    eprintln!("no repulsion: worst {worst0} mean {mean0}");
    assert!(worst0 > 0.9 && mean0 > 2.0 * mean, "{worst0} {mean0}");
}

/// Migrating immune cells pressed against each other (chemotaxis drives
/// them all towards the spheroid's hypoxic centre) settle where the springs
/// balance their drive: no two live immune cells overlap by more than half
/// their contact distance after a day, instead of piling onto one spot.
#[test]
fn migrating_immune_cells_do_not_pile_up() {
    let p = plan(&abm_scene(
        24,
        2,
        144,
        144,
        1024,
        "initial_radius = 150.0\nimmune_count = 80.0\nimmune_speed = 0.5\nimmune_bias = 0.8\n\
         kill_probability = 0.0\nimmune_death_rate = 0.0",
        "",
    ));
    let mut e = cpu().engine(&p, None).unwrap();
    e.advance(144).unwrap();
    let state = e.read_state().unwrap();
    let params = p.params_f32();
    let (len, np) = (p.model.state_len(), p.n_params());
    for m in 0..2 {
        let cells = p
            .model
            .agents(
                &params[m * np..(m + 1) * np],
                &state[m * len..(m + 1) * len],
            )
            .unwrap();
        let immune: Vec<_> = cells
            .iter()
            .filter(|c| c.kind == 1 && c.state == 0)
            .collect();
        assert_eq!(immune.len(), 80);
        let mut worst = 0.0f32;
        for (i, a) in immune.iter().enumerate() {
            for b in &immune[i + 1..] {
                let d = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
                worst = worst.max(1.0 - d / (a.radius + b.radius));
            }
        }
        assert!(worst < 0.5, "member {m}: immune cells overlap by {worst}");
        // They did migrate inwards (the test is not about idle cells).
        let (cx, cy) = (300.0f32, 300.0f32);
        let mean_r = immune
            .iter()
            .map(|c| ((c.x - cx).powi(2) + (c.y - cy).powi(2)).sqrt())
            .sum::<f32>()
            / immune.len() as f32;
        assert!(mean_r < 200.0, "mean distance from centre {mean_r}");
    }
}

/// Without immune cells there are no immune kills; with them (and the same
/// seeds) there are.
#[test]
fn immune_free_runs_record_no_immune_kills() {
    let base = "initial_radius = 100.0\nkill_probability = 0.2";
    let p = plan(&abm_scene(20, 8, 60, 20, 512, base, ""));
    let (frames, _) = run(&p);
    for k in series(&p, &frames, "immune_kills") {
        assert!(k.iter().all(|&v| v == 0.0));
    }
    assert!(
        series(&p, &frames, "live_immune")[3]
            .iter()
            .all(|&v| v == 0.0)
    );
    let p = plan(&abm_scene(
        20,
        8,
        60,
        20,
        512,
        &format!("{base}\nimmune_count = 60.0\nimmune_speed = 0.5"),
        "",
    ));
    let (frames, _) = run(&p);
    let kills = series(&p, &frames, "immune_kills");
    assert!(
        kills[3].iter().filter(|&&v| v > 0.0).count() >= 6,
        "{:?}",
        kills[3]
    );
}

/// Members whose pool would overflow are marked saturated (with the step),
/// never exceed their capacity and stop dividing; the other members run on
/// exactly as with room to spare.
#[test]
fn capacity_overflow_marks_the_member_saturated() {
    let params = "initial_radius = { dist = \"choice\", values = [20.0, 60.0] }\n\
                  doubling_time = 200.0\no2_uptake = 0.0\napoptosis_rate = 0.0";
    let tight = plan(&abm_scene(16, 8, 60, 10, 64, params, ""));
    let roomy = plan(&abm_scene(16, 8, 60, 10, 1024, params, ""));
    let (f_tight, s_tight) = run(&tight);
    let (f_roomy, s_roomy) = run(&roomy);
    assert!(s_roomy.iter().all(|s| s.is_ok()));
    let live_t = series(&tight, &f_tight, "live");
    let live_r = series(&roomy, &f_roomy, "live");
    let mut saturated = 0;
    for m in 0..8 {
        match s_tight[m] {
            MemberStatus::Saturated { step } => {
                saturated += 1;
                assert!(step < 60);
                assert!(live_t.iter().all(|f| f[m] <= 64.0));
                assert!(live_r[6][m] > 64.0, "only members that outgrow 64 saturate");
            }
            MemberStatus::Ok => {
                assert!(live_r[6][m] <= 64.0);
                for (a, b) in live_t.iter().zip(&live_r) {
                    assert_eq!(a[m], b[m], "unsaturated member {m} is unaffected");
                }
            }
            other => panic!("member {m}: {other:?}"),
        }
    }
    assert!(saturated >= 2, "{saturated} saturated");
}

/// Bad agent settings are refused with the key and a reason.
#[test]
fn bad_agent_scenes_name_the_key() {
    let err = |text: &str| {
        let s = Scene::parse(Path::new("abm.toml"), text).unwrap();
        Plan::freeze(&s, &PlanOptions::default()).unwrap_err()
    };
    let e = err(&abm_scene(80, 1, 1, 1, 64, "", ""));
    assert_eq!(e.key.as_deref(), Some("grid.nx"), "{e}");
    let e = err(&abm_scene(12, 1, 1, 1, 0, "", ""));
    assert_eq!(e.key.as_deref(), Some("agents.capacity"), "{e}");
    let e = err(&abm_scene(12, 1, 1, 1, 64, "cell_radius = 12.0", ""));
    assert!(e.to_string().contains("grid.dx"), "{e}");
    let e = err(&abm_scene(12, 1, 1, 1, 64, "adhesion = 1.0", ""));
    assert!(e.to_string().contains("largest stable dt"), "{e}");
    let e = err(&abm_scene(12, 1, 1, 1, 64, "immune_speed = 1.0", ""));
    assert!(
        e.to_string().contains("largest dt for this speed is 6 min"),
        "{e}"
    );
    let e = err(&abm_scene(12, 1, 1, 1, 4, "initial_radius = 100.0", ""));
    assert!(e.to_string().contains("agents.capacity"), "{e}");
    let e = err(&abm_scene(
        12,
        1,
        1,
        1,
        64,
        "",
        "[[arms]]\nname = \"rt\"\nrt = { dose = 2.0, times = [1.0] }",
    ));
    assert_eq!(e.key.as_deref(), Some("arms"), "{e}");
}
