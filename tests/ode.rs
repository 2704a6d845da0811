//! ODE / compartment models (issue 11, item 1): a custom model on a single
//! site (nx = ny = 1, no diffusion) is a batch of ODE systems, one per
//! member. Checked against closed forms (explicit Euler's first-order
//! convergence included), with the model time `t` in the reaction terms,
//! and the GPU kernel against the CPU twin.

mod common;

use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;

/// A one-site custom model: `species`, `reactions` (TOML inline table
/// body), parameters and initial values; `dt`, `steps`.
fn ode_scene(
    species: &str,
    reactions: &str,
    params: &str,
    init: &str,
    dt: f64,
    steps: u64,
) -> String {
    format!(
        r#"[model]
kind = "custom"
species = [{species}]
reactions = {{ {reactions} }}
[grid]
nx = 1
ny = 1
[time]
dt = {dt}
steps = {steps}
[ensemble]
members = 4
seed = 5
[parameters]
{params}
[initial]
background = {{ {init} }}
"#
    )
}

fn plan(text: &str) -> Plan {
    let s = Scene::parse(std::path::Path::new("ode.toml"), text).expect("scene parses");
    Plan::freeze(&s, &PlanOptions::default()).expect("plan freezes")
}

fn final_state(b: &Backend, p: &Plan) -> Vec<f32> {
    let mut e = b.engine(p, None).expect("engine");
    e.advance(p.steps).expect("advance");
    e.read_state().expect("state")
}

/// Logistic growth u' = r u (1 − u/K), u(0) = 0.1, r drawn per member:
/// u(T) = K / (1 + (K/u0 − 1) e^{−rT}). Explicit Euler is first order: the
/// error at T = 4 is below 5e-3 at dt = 0.01 and halves (ratio 1.8–2.2)
/// when dt halves, for every member.
#[test]
fn logistic_growth_matches_closed_form_at_first_order() {
    let err = |dt: f64| -> Vec<f64> {
        let steps = (4.0 / dt).round() as u64;
        let p = plan(&ode_scene(
            "\"u\"",
            "u = \"r * u * (1.0 - u / K)\"",
            "r = { dist = \"uniform\", low = 0.5, high = 1.5 }\nK = 2.0",
            "u = 0.1",
            dt,
            steps,
        ));
        let s = final_state(&Backend::Cpu, &p);
        assert_eq!(s.len(), p.members as usize, "one word per member");
        s.iter()
            .zip(&p.params)
            .map(|(&u, row)| {
                let r = row[0];
                let exact = 2.0 / (1.0 + (2.0 / 0.1 - 1.0) * (-r * 4.0).exp());
                (u as f64 - exact).abs()
            })
            .collect()
    };
    let (e1, e2) = (err(0.01), err(0.005));
    for (a, b) in e1.iter().zip(&e2) {
        assert!(*a < 5e-3, "error {a:e} at dt = 0.01");
        let ratio = a / b;
        assert!(
            (1.8..2.2).contains(&ratio),
            "error ratio {ratio} ({a:e} / {b:e})"
        );
    }
}

/// Decay with a time-dependent rate, u' = −k t u: u(T) = exp(−k T²/2).
/// With t read as the step's start time, Euler's error at dt = 1e-3 and
/// T = 2 is below 1e-3 absolute, and zero-rate (k = 0) stays exactly 1.
#[test]
fn time_dependent_rate_reads_model_time() {
    let p = plan(&ode_scene(
        "\"u\"",
        "u = \"-k * t * u\"",
        "k = { dist = \"uniform\", low = 0.0, high = 1.0 }",
        "u = 1.0",
        0.001,
        2000,
    ));
    let s = final_state(&Backend::Cpu, &p);
    for (&u, row) in s.iter().zip(&p.params) {
        let exact = (-row[0] * 4.0 / 2.0).exp();
        assert!(
            (u as f64 - exact).abs() < 1e-3,
            "k = {}: {u} vs {exact}",
            row[0]
        );
    }
    // Without `t` the same scene is exponential decay, far from exp(−2k).
    let q = plan(&ode_scene(
        "\"u\"",
        "u = \"-k * u\"",
        "k = { dist = \"uniform\", low = 0.5, high = 1.0 }",
        "u = 1.0",
        0.001,
        2000,
    ));
    let s = final_state(&Backend::Cpu, &q);
    for (&u, row) in s.iter().zip(&q.params) {
        let exact = (-row[0] * 2.0).exp();
        assert!(
            (u as f64 - exact).abs() < 1e-3,
            "k = {}: {u} vs {exact}",
            row[0]
        );
    }
}

/// A two-compartment system with `t` and transcendental terms: the GPU
/// kernel and the CPU twin agree within 1e-5 relative after 500 steps
/// (the libm/driver ulps of `exp` and `sin` aside, the same f32 operations).
#[test]
fn gpu_and_cpu_agree_on_a_compartment_model() {
    let Some(gpu) = common::gpu() else { return };
    let p = plan(&ode_scene(
        "\"a\", \"b\"",
        "a = \"-ka * a + 0.1 * sin(t)\", b = \"ka * a - ke * b * exp(-0.1 * t)\"",
        "ka = { dist = \"uniform\", low = 0.5, high = 2.0 }\nke = { dist = \"uniform\", low = 0.1, high = 0.4 }",
        "a = 1.0, b = 0.0",
        0.01,
        500,
    ));
    let (g, c) = (final_state(&gpu, &p), final_state(&Backend::Cpu, &p));
    assert_eq!(g.len(), c.len());
    assert_eq!(c.len(), 2 * p.members as usize);
    for (x, y) in g.iter().zip(&c) {
        assert!(
            ((x - y).abs() / y.abs().max(1e-3)) < 1e-5,
            "gpu {x} vs cpu {y}"
        );
    }
    // The state moved away from its start.
    assert!(c.iter().skip(1).step_by(2).all(|b| *b > 0.05), "{c:?}");
}

fn check(text: &str) -> (Option<i32>, String) {
    let dir = common::TempDir::new("ode");
    let path = common::write_scene(dir.path(), "s.toml", text);
    let out = common::vtwin(&["check", &path, "--backend", "cpu"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A single site needs a model without diffusion; `t` cannot name a species
/// or parameter of a custom model (it is the model time).
#[test]
fn single_site_and_time_name_errors() {
    let with_diffusion = ode_scene(
        "\"u\"",
        "u = \"-k * u\"",
        "k = 1.0\nD = 0.1",
        "u = 1.0",
        0.01,
        10,
    )
    .replace("[grid]", "diffusion = { u = \"D\" }\n[grid]");
    let (code, err) = check(&with_diffusion);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("grid.nx") && err.contains("only without `diffusion`"),
        "{err}"
    );
    let (code, err) = check(&ode_scene(
        "\"t\"",
        "t = \"-t\"",
        "k = 1.0",
        "t = 1.0",
        0.01,
        10,
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("model.species.0") && err.contains("model time"),
        "{err}"
    );
    let (code, err) = check(&ode_scene(
        "\"u\"",
        "u = \"-t * u\"",
        "t = 1.0",
        "u = 1.0",
        0.01,
        10,
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("parameters.t") && err.contains("model time"),
        "{err}"
    );
    let (code, err) = check(&ode_scene(
        "\"u\"",
        "u = \"-k * t * u\"",
        "k = 1.0",
        "u = 1.0",
        0.01,
        10,
    ));
    assert_eq!(code, Some(0), "{err}");
}

// ---------------------------------------------------------------------
// Dosing (issue 11, item 1): arm schedules and per-member events.

/// Decay u' = −k u (k = 0.5) with an arm schedule appended to the scene.
fn dosed(doses: &str, members: u32, steps: u64) -> String {
    ode_scene(
        "\"u\", \"w\"",
        "u = \"-k * u\", w = \"0.0\"",
        "k = 0.5",
        "u = 1.0, w = 0.0",
        0.001,
        steps,
    )
    .replace("members = 4", &format!("members = {members}"))
        + &format!("[[arms]]\nname = \"dosed\"\n{doses}")
}

/// Boluses of 1 at t = 1 and 2 into u' = −k u: u(3) = e^{−3k} + e^{−2k} +
/// e^{−k}, within Euler's and the one-step placement error (2e-3); the
/// undosed species w stays exactly 0.
#[test]
fn arm_bolus_doses_add_to_their_species() {
    let p = plan(&dosed(
        "[[arms.doses]]\nspecies = \"u\"\ntimes = [1.0, 2.0]\namount = 1.0\n",
        2,
        3000,
    ));
    let s = final_state(&Backend::Cpu, &p);
    let k: f64 = 0.5;
    let exact = (-3.0 * k).exp() + (-2.0 * k).exp() + (-k).exp();
    for m in s.chunks(2) {
        assert!((m[0] as f64 - exact).abs() < 2e-3, "{} vs {exact}", m[0]);
        assert_eq!(m[1], 0.0);
    }
}

/// A depot dose (amount A = 2 at t = 0.5, release rate λ = 3) into
/// u' = −k u: the Bateman function u(t) = e^{−kt} + A λ/(λ − k)
/// (e^{−k(t−t₀)} − e^{−λ(t−t₀)}) at t = 3, within 2e-3.
#[test]
fn arm_depot_dose_follows_the_bateman_function() {
    let p = plan(&dosed(
        "[[arms.doses]]\nspecies = \"u\"\ntimes = [0.5]\namount = 2.0\ndecay = 3.0\n",
        1,
        3000,
    ));
    let s = final_state(&Backend::Cpu, &p);
    let (k, l, a, t0, t): (f64, f64, f64, f64, f64) = (0.5, 3.0, 2.0, 0.5, 3.0);
    let exact = (-k * t).exp() + a * l / (l - k) * ((-k * (t - t0)).exp() - (-l * (t - t0)).exp());
    assert!((s[0] as f64 - exact).abs() < 2e-3, "{} vs {exact}", s[0]);
}

fn ev(time: f64, species: &str, amount: f64) -> vtwin::input::dosing::TreatmentEvent {
    vtwin::input::dosing::TreatmentEvent {
        time,
        species: species.into(),
        amount,
    }
}

/// Per-member events in blocks of 2 members: block 0 gets a bolus of 1
/// into u at t = 1, block 1 one of 0.5 into w at t = 2, members past the
/// last block nothing. Compared with the undosed plan's members.
#[test]
fn member_events_reach_only_their_block() {
    let base = plan(&dosed("", 5, 3000));
    let events = vtwin::input::dosing::MemberEvents {
        block: 2,
        groups: vec![vec![ev(1.0, "u", 1.0)], vec![ev(2.0, "w", 0.5)]],
    };
    let p = base.with_member_events(&events).expect("events fit");
    assert_ne!(p.sha256, base.sha256, "the plan hash covers the events");
    let (s0, s) = (
        final_state(&Backend::Cpu, &base),
        final_state(&Backend::Cpu, &p),
    );
    let k: f64 = 0.5;
    let dosed_u = (-3.0 * k).exp() + (-2.0 * k).exp();
    for m in 0..5 {
        let (u, w, u0) = (s[2 * m] as f64, s[2 * m + 1], s0[2 * m] as f64);
        match m {
            0 | 1 => {
                assert!((u - dosed_u).abs() < 2e-3, "member {m}: {u} vs {dosed_u}");
                assert_eq!(w, 0.0, "member {m}");
            }
            2 | 3 => {
                assert_eq!(u, u0, "member {m}");
                assert_eq!(w, 0.5, "member {m}");
            }
            _ => {
                assert_eq!(u, u0, "member {m}");
                assert_eq!(w, 0.0, "member {m}");
            }
        }
    }
    // An unknown species is refused, naming it.
    let bad = vtwin::input::dosing::MemberEvents {
        block: 1,
        groups: vec![vec![ev(1.0, "x", 1.0)]],
    };
    let e = base.with_member_events(&bad).unwrap_err().to_string();
    assert!(e.contains("`x` is not a species"), "{e}");
}

/// Arm doses, per-member events and process noise on the GPU kernel and
/// the CPU twin: doses and events are exact f32 additions of the same
/// tabulated values, so without noise lavapipe and the CPU agree bit for
/// bit; with additive and multiplicative noise (f32 Box–Muller on both,
/// `ln`/`cos`/`exp` from different libraries) within 1e-4 relative.
#[test]
fn gpu_and_cpu_agree_with_doses_events_and_noise() {
    let Some(gpu) = common::gpu() else { return };
    let base = plan(&dosed(
        "[[arms.doses]]\nspecies = \"u\"\ntimes = [0.05, 0.1]\namount = 1.0\n\
         [[arms.doses]]\nspecies = \"w\"\ntimes = [0.0]\namount = 1.5\ndecay = 4.0\n",
        6,
        300,
    ));
    let events = vtwin::input::dosing::MemberEvents {
        block: 2,
        groups: vec![
            vec![ev(0.12, "u", 0.75), ev(0.02, "w", 0.25)],
            vec![],
            vec![ev(0.2, "u", 2.0)],
        ],
    };
    let p = base.with_member_events(&events).expect("events");
    let (g, c) = (final_state(&gpu, &p), final_state(&Backend::Cpu, &p));
    let differ = g
        .iter()
        .zip(&c)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    if gpu.adapter().is_some_and(|a| a.is_software()) {
        assert_eq!(differ, 0, "{g:?} vs {c:?}");
    }
    for (x, y) in g.iter().zip(&c) {
        assert!(
            (x - y).abs() <= 1e-6 * y.abs().max(1.0),
            "gpu {x} vs cpu {y}"
        );
    }
    use vtwin::core::model_error::{NoiseKind, ProcessNoise};
    let noisy = p
        .with_process_noise(&[
            ProcessNoise {
                species: "u".into(),
                sigma: 0.3,
                kind: NoiseKind::Multiplicative,
            },
            ProcessNoise {
                species: "w".into(),
                sigma: 0.2,
                kind: NoiseKind::Additive,
            },
        ])
        .expect("noise");
    let (g, c) = (
        final_state(&gpu, &noisy),
        final_state(&Backend::Cpu, &noisy),
    );
    for (x, y) in g.iter().zip(&c) {
        assert!(
            (x - y).abs() <= 1e-4 * y.abs().max(1.0),
            "gpu {x} vs cpu {y}"
        );
    }
    // The noise moved the members apart.
    let plain = final_state(&Backend::Cpu, &p);
    assert!(c.iter().zip(&plain).all(|(a, b)| a != b));
}

/// Scene errors of dose schedules name the key.
#[test]
fn dose_schedule_errors_name_the_key() {
    let (code, err) = check(&dosed(
        "[[arms.doses]]\nspecies = \"x\"\ntimes = [1.0]\namount = 1.0\n",
        2,
        10,
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("arms.0.doses.0.species") && err.contains("`x` is not a species"),
        "{err}"
    );
    let (code, err) = check(&dosed(
        "[[arms.doses]]\nspecies = \"u\"\ntimes = [-1.0]\namount = 1.0\n",
        2,
        10,
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("arms.0.doses.0.times"), "{err}");
    let (code, err) = check(&dosed(
        "[[arms.doses]]\nspecies = \"u\"\ntimes = [1.0]\namount = 1.0\ndecay = 0.0\n",
        2,
        10,
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("arms.0.doses.0.decay"), "{err}");
}

// ---------------------------------------------------------------------
// Model error (issue 11, item 4): process noise.

/// u' = 0 with noise only, `members` members, T = steps · 0.01.
fn noise_only(kind: &str, sigma: f64, members: u32, steps: u64) -> Plan {
    let text = ode_scene("\"u\"", "u = \"0.0\"", "k = 1.0", "u = 1.0", 0.01, steps)
        .replace("members = 4", &format!("members = {members}"))
        + &format!(
            "[assimilation.model_error]\nprocess = [{{ species = \"u\", sigma = {sigma}, kind = \"{kind}\" }}]\n"
        );
    let p = plan(&text);
    let s = Scene::parse(std::path::Path::new("ode.toml"), &text).unwrap();
    let me = s
        .file
        .assimilation
        .as_ref()
        .unwrap()
        .model_error
        .clone()
        .unwrap();
    p.with_process_noise(&me.process).expect("noise")
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

/// Zero drift, additive σ = 0.5: the ensemble variance is σ²t at t = 1
/// and t = 4 and the mean stays 1; multiplicative σ = 0.3: the variance of
/// ln u is σ²t and the mean of u stays 1 (mean-preserving). 4,000
/// members: tolerances are 4 standard errors (variance: 4·√(2/(n−1))
/// relative; mean: 4·sd/√n).
#[test]
fn process_noise_variance_grows_as_sigma_squared_t() {
    let n = 4000;
    for (steps, t) in [(100u64, 1.0f64), (400, 4.0)] {
        let s = final_state(&Backend::Cpu, &noise_only("additive", 0.5, n, steps));
        let x: Vec<f64> = s.iter().map(|v| *v as f64).collect();
        let (m, v) = mean_var(&x);
        let expect = 0.25 * t;
        let tol = 4.0 * (2.0 / (n as f64 - 1.0)).sqrt();
        assert!(
            (v / expect - 1.0).abs() < tol,
            "t = {t}: var {v} vs {expect}"
        );
        assert!(
            (m - 1.0).abs() < 4.0 * expect.sqrt() / (n as f64).sqrt(),
            "t = {t}: mean {m}"
        );
    }
    let s = final_state(&Backend::Cpu, &noise_only("multiplicative", 0.3, n, 400));
    assert!(
        s.iter().all(|v| *v > 0.0),
        "multiplicative noise keeps the sign"
    );
    let logs: Vec<f64> = s.iter().map(|v| (*v as f64).ln()).collect();
    let (_, v) = mean_var(&logs);
    let expect = 0.09 * 4.0;
    assert!(
        (v / expect - 1.0).abs() < 4.0 * (2.0 / (n as f64 - 1.0)).sqrt(),
        "var ln u {v} vs {expect}"
    );
    let x: Vec<f64> = s.iter().map(|v| *v as f64).collect();
    let (m, _) = mean_var(&x);
    let sd = (expect.exp() - 1.0).sqrt();
    assert!((m - 1.0).abs() < 4.0 * sd / (n as f64).sqrt(), "mean {m}");
}

/// The same on the GPU (fewer members: lavapipe), and each member's noisy
/// path equals the CPU twin's within 1e-4: the draws come from the same
/// Philox counters. 517 members (the single-site kernel's workgroups of
/// 64, the last one partial), t = 1: variance within 4·√(2/516).
#[test]
fn process_noise_on_gpu_matches_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let p = noise_only("additive", 0.5, 517, 100);
    let (g, c) = (final_state(&gpu, &p), final_state(&Backend::Cpu, &p));
    for (x, y) in g.iter().zip(&c) {
        assert!((x - y).abs() < 1e-4, "gpu {x} vs cpu {y}");
    }
    let x: Vec<f64> = g.iter().map(|v| *v as f64).collect();
    let (_, v) = mean_var(&x);
    assert!(
        (v / 0.25 - 1.0).abs() < 4.0 * (2.0f64 / 516.0).sqrt(),
        "gpu var {v}"
    );
}

/// `[assimilation.model_error]` is checked against the model when the
/// plan freezes: unknown species, unknown drifting parameter, and a model
/// without user kinetics.
#[test]
fn model_error_section_errors_name_the_key() {
    let base = ode_scene("\"u\"", "u = \"-k * u\"", "k = 1.0", "u = 1.0", 0.01, 10);
    let (code, err) = check(
        &(base.clone()
            + "[assimilation.model_error]\nprocess = [{ species = \"v\", sigma = 0.1, kind = \"additive\" }]\n"),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("assimilation.model_error.process.0.species"),
        "{err}"
    );
    let (code, err) = check(&(base.clone() + "[assimilation.model_error]\ndrift = { q = 0.1 }\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("assimilation.model_error.drift.q"), "{err}");
    let (code, err) = check(&(base + "[assimilation.model_error]\ndrift = { k = 0.1 }\n"));
    assert_eq!(code, Some(0), "{err}");
}
