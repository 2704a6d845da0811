//! Custom reaction expressions end to end (issue 14): text that is not an
//! expression is refused by `vtwin check` with its column, an expression
//! over the size limit is refused at once, and a valid expression means the
//! same on the GPU (WGSL printed from the parsed tree) and on the CPU twin
//! (the tree evaluated in f32).

mod common;

use std::time::Instant;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;

fn scene(u: &str, v: &str) -> String {
    format!(
        r#"[model]
kind = "custom"
species = ["u", "v"]
diffusion = {{ u = "Du", v = "Dv" }}

[model.reactions]
u = "{u}"
v = "{v}"

[grid]
nx = 16
ny = 16
[time]
dt = 0.005
steps = 60
[ensemble]
members = 5
seed = 3
[parameters]
a = 0.1
b = {{ dist = "uniform", low = 0.8, high = 1.0 }}
Du = 1.0
Dv = 40.0
[initial]
background = {{ u = 1.0, v = 0.9 }}
noise = 0.2
noise_species = ["u", "v"]
"#
    )
}

/// `check` on scene text: (exit code, stderr, seconds).
fn check(text: &str) -> (Option<i32>, String, f64) {
    let dir = common::TempDir::new("expr");
    let path = common::write_scene(dir.path(), "s.toml", text);
    let t = Instant::now();
    let out = common::vtwin(&["check", &path, "--backend", "cpu"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
        t.elapsed().as_secs_f64(),
    )
}

/// Issue 14: `a-u+u*u*v); loop {} return (1000.0` was spliced into WGSL
/// and accepted. Now it is an error at column 10, the unmatched `)`.
#[test]
fn injection_is_refused_with_its_column() {
    let (code, err, _) = check(&scene(
        "a-u+u*u*v); loop {} return (1000.0",
        "b - u * u * v",
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("key `model.reactions.u`")
            && err.contains("invalid expression at column 10: `)` has no matching `(`"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // Extra functions and globals are not expressions either.
    for (text, col) in [
        ("u; } fn evil() -> f32 { return 1.0", 2),
        ("u + P_a", 5),
        ("u + U.t", 5),
    ] {
        let (code, err, _) = check(&scene(text, "b - u * u * v"));
        assert_eq!(code, Some(2), "{text}: {err}");
        assert!(err.contains(&format!("column {col}:")), "{text}: {err}");
    }
}

/// Issue 14: ~15,000 terms overflowed the stack in naga (exit 134). Now
/// the term limit refuses it before any parser recursion, in well under
/// the time a check takes to start a GPU.
#[test]
fn an_expression_over_the_term_limit_is_refused_quickly() {
    let long = vec!["u * v"; 7_500].join(" + ");
    let (code, err, secs) = check(&scene(&long, "b - u * u * v"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("has 15000 terms") && err.contains("the limit is 10000"),
        "{err}"
    );
    assert!(secs < 5.0, "took {secs} s");
}

/// The largest accepted expression (10,000 terms) compiles for the GPU
/// (naga never sees nesting deeper than one operator per statement).
#[test]
fn the_largest_expression_passes_check() {
    let long = vec!["0.0001 * u * v"; 3_333].join(" + ");
    let (code, err, _) = check(&scene(&format!("{long} - u"), "b - u * u * v"));
    assert_eq!(code, Some(0), "{err}");
}

fn plan(u: &str, v: &str) -> Plan {
    let s = Scene::parse(std::path::Path::new("expr.toml"), &scene(u, v)).unwrap();
    Plan::freeze(&s, &PlanOptions::default()).unwrap()
}

fn final_state(b: &Backend, p: &Plan) -> Vec<f32> {
    let mut e = b.engine(p, None).unwrap();
    e.advance(p.steps).unwrap();
    e.read_state().unwrap()
}

/// Arithmetic, comparisons, `select`, `min`/`max`/`abs`/`clamp`: exactly
/// rounded operations, so lavapipe and the CPU twin agree bit for bit; with
/// transcendental built-ins (whose last bits differ between libm and the
/// driver) within 1e-5 relative.
#[test]
fn gpu_and_cpu_evaluate_the_same_tree() {
    let Some(gpu) = common::gpu() else { return };
    let exact = plan(
        "a - u + u * u * v + select(0.0, -0.05 * (u - 1.0), u > 1.0 && v < 1.0) - min(abs(u - v), 0.1) / 8",
        "b - u * u * v + clamp(0.5 - v, -0.01, 0.01) * -(-1)",
    );
    let (g, c) = (
        final_state(&gpu, &exact),
        final_state(&Backend::Cpu, &exact),
    );
    assert_eq!(g.len(), c.len());
    let differ = g
        .iter()
        .zip(&c)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    let software = gpu.adapter().is_some_and(|a| a.is_software());
    if software {
        assert_eq!(differ, 0, "{differ} of {} words differ", c.len());
    }
    let transcendental = plan(
        "a - u + u * u * v + 0.01 * sin(3.0 * u) * exp(-v) - 0.001 * pow(abs(v), 1.5)",
        "b - u * u * v + 0.01 * tanh(u - v) + 0.001 * log(1.0 + u * u)",
    );
    let (g, c) = (
        final_state(&gpu, &transcendental),
        final_state(&Backend::Cpu, &transcendental),
    );
    let worst = g
        .iter()
        .zip(&c)
        .map(|(x, y)| ((x - y).abs() / y.abs().max(1e-3)) as f64)
        .fold(0.0, f64::max);
    assert!(worst < 1e-5, "largest relative difference {worst:e}");
    // The dynamics moved the state: the comparison is not of initial values.
    let p0 = Backend::Cpu
        .engine(&transcendental, None)
        .unwrap()
        .read_state()
        .unwrap();
    assert!(p0.iter().zip(&c).any(|(x, y)| (x - y).abs() > 1e-3));
}
