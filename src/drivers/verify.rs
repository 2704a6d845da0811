//! The verification suite behind `vtwin verify` and the tests: known
//! answers (Philox), analytic solutions (heat kernel convergence order,
//! Fisher–KPP front speed, mass conservation), GPU–CPU agreement per model
//! and through the subnormal regime, determinism and batch independence.
//! Each check returns what it expected, what it measured and the tolerance.
//!
//! Owns: the checks and their tolerances. Scenes are built from TOML text
//! (`fixtures`, re-exported here) so the suite needs no files. Never
//! imports wgpu directly.

use crate::engine::EngineError;
use crate::engine::backend::Backend;

pub use crate::fixtures::{DECAYING_GRAY_SCOTT, model_scenes, plan, run_to_end, scene};

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass,
    Fail,
    /// Not applicable on this backend (needs the other backend or a GPU).
    NotApplicable,
}

#[derive(Clone, Debug)]
pub struct Check {
    pub name: String,
    pub expected: String,
    pub measured: String,
    pub tolerance: String,
    pub outcome: Outcome,
}

impl Check {
    fn new(name: &str, expected: String, measured: String, tolerance: String, pass: bool) -> Check {
        Check {
            name: name.into(),
            expected,
            measured,
            tolerance,
            outcome: if pass { Outcome::Pass } else { Outcome::Fail },
        }
    }
    fn na(name: &str, why: &str) -> Check {
        Check {
            name: name.into(),
            expected: "-".into(),
            measured: why.into(),
            tolerance: "-".into(),
            outcome: Outcome::NotApplicable,
        }
    }
    fn error(name: &str, e: impl std::fmt::Display) -> Check {
        Check {
            name: name.into(),
            expected: "-".into(),
            measured: format!("error: {e}"),
            tolerance: "-".into(),
            outcome: Outcome::Fail,
        }
    }
}

/// Largest |a − b| / (atol + rtol·|b|); ≤ 1 means agreement.
pub fn agreement(a: &[f32], b: &[f32], atol: f64, rtol: f64) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let (x, y) = (x as f64, y as f64);
            if x.is_nan() || y.is_nan() {
                f64::INFINITY
            } else {
                (x - y).abs() / (atol + rtol * y.abs())
            }
        })
        .fold(0.0, f64::max)
}

/// Tolerances for GPU–CPU agreement over the short horizons of
/// [`model_scenes`]: f32
/// with possibly fused multiply-adds and different `exp` on the GPU, a few
/// hundred steps: |gpu − cpu| ≤ 1e-5 + 1e-4·|cpu|.
pub const GPU_CPU_ATOL: f64 = 1e-5;
pub const GPU_CPU_RTOL: f64 = 1e-4;

pub fn gpu_cpu_agreement(backend: &Backend) -> Vec<Check> {
    let mut out = Vec::new();
    for (name, text) in model_scenes() {
        let check = format!("gpu_vs_cpu.{name}");
        if !matches!(backend, Backend::Gpu(_)) {
            out.push(Check::na(&check, "needs a GPU backend"));
            continue;
        }
        let s = scene(name, &text);
        let p = plan(&s, None);
        let res = run_to_end(backend, &p, None)
            .and_then(|g| Ok((g, run_to_end(&Backend::Cpu, &p, None)?)));
        match res {
            Ok((g, c)) => {
                let a = agreement(&g, &c, GPU_CPU_ATOL, GPU_CPU_RTOL);
                out.push(Check::new(
                    &check,
                    "max |gpu−cpu|/(atol+rtol|cpu|) ≤ 1".into(),
                    format!("{a:.3}"),
                    format!(
                        "atol {GPU_CPU_ATOL:e}, rtol {GPU_CPU_RTOL:e}, {} steps",
                        p.steps
                    ),
                    a <= 1.0,
                ));
            }
            Err(e) => out.push(Check::error(&check, e)),
        }
    }
    out
}

/// A small agent-based scene with every kind of event (growth, immune
/// killing, drug, death) over 20 steps.
const ABM_SCENE: &str = r#"
[model]
kind = "tumour_abm"
[grid]
nx = 16
ny = 16
dx = 25.0
[time]
dt = 10.0
steps = 20
[ensemble]
members = 6
seed = 3
[agents]
capacity = 512
init_sweeps = 300
[observe]
every = 5
[parameters]
initial_radius = { dist = "uniform", low = 60.0, high = 100.0 }
immune_count = 20.0
kill_probability = 0.1
doubling_time = 400.0
drug_kill_rate = 0.01
[[arms]]
name = "drug"
chemo = { times = [10.0], dose = 2.0, decay = 0.01 }
"#;

/// The agent-based model on the GPU against its CPU twin: identical cell
/// counts at every observation over a short horizon (the decisions agree;
/// positions differ by round-off only, docs/abm.md).
pub fn abm_agreement(backend: &Backend) -> Check {
    let name = "gpu_vs_cpu.tumour_abm";
    if !matches!(backend, Backend::Gpu(_)) {
        return Check::na(name, "needs a GPU backend");
    }
    let p = plan(&scene("tumour_abm", ABM_SCENE), None);
    let counts = |b: &Backend| -> Result<Vec<f32>, EngineError> {
        let mut e = b.engine(&p, None)?;
        let rec = crate::engine::record::record(e.as_mut(), &mut |_| {})?;
        // The six count observables come first (models::abm::layout).
        let stride = p.observables.ops.len() + 1;
        Ok(rec
            .frames
            .iter()
            .flat_map(|f| f.chunks(stride).flat_map(|c| c[..6].to_vec()))
            .collect())
    };
    match counts(backend).and_then(|g| Ok((g, counts(&Backend::Cpu)?))) {
        Ok((g, c)) => {
            let differ = g.iter().zip(&c).filter(|(a, b)| a != b).count();
            Check::new(
                name,
                "identical cell counts".into(),
                format!("{differ} of {} differ", c.len()),
                format!("exact, {} steps", p.steps),
                differ == 0,
            )
        }
        Err(e) => Check::error(name, e),
    }
}

/// Bound on |gpu − cpu| through the decaying regime of
/// [`DECAYING_GRAY_SCOTT`]. Both backends store every new state value
/// through the same bit test (`flush_tiny`: subnormal → +0.0), so a device
/// that keeps subnormal intermediates, as the CPU does (lavapipe), matches
/// the CPU bit for bit. A device that flushes subnormal intermediates
/// (u·v·v, Dv·∇²v once v is near 1e-37) changes a step's result by less
/// than about MIN_POSITIVE; those changes decay by 1 − (F + k) = 0.9 per
/// step, so they add up to less than MIN_POSITIVE / (F + k), and a factor 2
/// covers rounding. u ≈ 1 is untouched either way.
pub const SUBNORMAL_ATOL: f64 = 2.0 * f32::MIN_POSITIVE as f64 / 0.1;

/// After 800 steps of [`DECAYING_GRAY_SCOTT`] neither backend's state holds
/// a subnormal value and GPU and CPU agree to [`SUBNORMAL_ATOL`] (absolute,
/// ≈ 2.4e-37). The measured column says how many values were bit-identical
/// and how many v values both flushed to zero.
pub fn subnormal_agreement(backend: &Backend) -> Check {
    let name = "gpu_vs_cpu.subnormal";
    if !matches!(backend, Backend::Gpu(_)) {
        return Check::na(name, "needs a GPU backend");
    }
    let p = plan(&scene("decaying_gray_scott", DECAYING_GRAY_SCOTT), None);
    let res =
        run_to_end(backend, &p, None).and_then(|g| Ok((g, run_to_end(&Backend::Cpu, &p, None)?)));
    match res {
        Ok((g, c)) => {
            let s = DecayComparison::of(&g, &c);
            Check::new(
                name,
                format!("no subnormal state values; max |gpu−cpu| ≤ {SUBNORMAL_ATOL:.3e}"),
                format!(
                    "{:.3e}; {} of {} values bit-identical; subnormal values: gpu {}, cpu {}; \
                     zeros: gpu {}, cpu {}",
                    s.worst, s.identical, s.len, s.subnormal.0, s.subnormal.1, s.zeros.0, s.zeros.1
                ),
                format!("absolute, {} steps", p.steps),
                s.passes(),
            )
        }
        Err(e) => Check::error(name, e),
    }
}

/// Two states of the decaying case compared: the worst absolute difference
/// (∞ for NaN), bit-identical values, and (gpu, cpu) counts of subnormal
/// and of exactly +0.0 values.
#[derive(Debug, Clone, PartialEq)]
pub struct DecayComparison {
    pub worst: f64,
    pub identical: usize,
    pub len: usize,
    pub subnormal: (usize, usize),
    pub zeros: (usize, usize),
}

impl DecayComparison {
    pub fn of(gpu: &[f32], cpu: &[f32]) -> DecayComparison {
        let worst = gpu
            .iter()
            .zip(cpu)
            .map(|(&x, &y)| (x as f64 - y as f64).abs())
            .fold(
                0.0,
                |m: f64, d| if d.is_nan() { f64::INFINITY } else { m.max(d) },
            );
        let subs = |a: &[f32]| a.iter().filter(|x| x.is_subnormal()).count();
        let zeros = |a: &[f32]| a.iter().filter(|x| x.to_bits() == 0).count();
        DecayComparison {
            worst,
            identical: gpu
                .iter()
                .zip(cpu)
                .filter(|(x, y)| x.to_bits() == y.to_bits())
                .count(),
            len: if gpu.len() == cpu.len() { gpu.len() } else { 0 },
            subnormal: (subs(gpu), subs(cpu)),
            zeros: (zeros(gpu), zeros(cpu)),
        }
    }

    /// Same (non-zero) length, no subnormal on either side, within
    /// [`SUBNORMAL_ATOL`].
    pub fn passes(&self) -> bool {
        self.subnormal == (0, 0) && self.worst <= SUBNORMAL_ATOL && self.len > 0
    }
}

/// Philox4x32-10 known answers on the CPU, and on the GPU when there is one.
pub fn philox(backend: &Backend) -> Vec<Check> {
    let mut out = Vec::new();
    let cpu_ok = crate::core::rng::KNOWN_ANSWERS
        .iter()
        .all(|(c, k, e)| crate::core::rng::philox4x32_10(*c, *k) == *e);
    out.push(Check::new(
        "philox.cpu",
        "3 Random123 vectors".into(),
        (if cpu_ok { "3/3" } else { "mismatch" }).to_string(),
        "exact".into(),
        cpu_ok,
    ));
    let cases: Vec<_> = crate::core::rng::KNOWN_ANSWERS
        .iter()
        .map(|(c, k, _)| (*c, *k))
        .collect();
    match backend.philox_on_device(&cases) {
        Some(answers) => match answers {
            Ok(got) => {
                let n = got
                    .iter()
                    .zip(crate::core::rng::KNOWN_ANSWERS.iter())
                    .filter(|(g, (_, _, e))| *g == e)
                    .count();
                out.push(Check::new(
                    "philox.gpu",
                    "3 Random123 vectors".into(),
                    format!("{n}/3"),
                    "exact".into(),
                    n == 3,
                ));
            }
            Err(e) => out.push(Check::error("philox.gpu", e)),
        },
        None => out.push(Check::na("philox.gpu", "needs a GPU backend")),
    }
    out
}

/// Heat equation from a point mass, started at t0 from the exact Gaussian
/// u = M/(4πDt) exp(−r²/4Dt), run to t1 on 32², 64², 128² grids over a unit
/// periodic domain at fixed D·dt/dx² = 0.2; max-norm errors against the exact
/// solution should fall with order 2 (the five-point Laplacian is second-order accurate).
pub fn heat_order(backend: &Backend) -> (Check, Vec<(u32, f64)>) {
    let (d, t0) = (1.0f64, 0.002f64);
    let t_run = 5.0 / 1024.0; // a whole number of steps at every resolution
    let mut errs = Vec::new();
    for n in [32u32, 64, 128] {
        let dx = 1.0 / n as f64;
        let dt = 0.2 * dx * dx / d;
        let steps = (t_run / dt).round() as u64;
        let peak0 = 1.0 / (4.0 * std::f64::consts::PI * d * t0);
        let text = format!(
            r#"
[model]
kind = "custom"
species = ["u"]
reactions = {{ u = "0.0" }}
diffusion = {{ u = "D" }}
[grid]
nx = {n}
ny = {n}
dx = {dx}
[time]
dt = {dt}
steps = {steps}
[ensemble]
members = 1
[parameters]
D = {d}
[initial]
patches = [{{ shape = "gaussian", center = [0.5, 0.5], size = {sigma}, values = {{ u = {peak0} }} }}]
"#,
            sigma = (2.0 * d * t0).sqrt()
        );
        let s = scene("heat", &text);
        let p = plan(&s, None);
        let state = match run_to_end(backend, &p, None) {
            Ok(s) => s,
            Err(e) => return (Check::error("heat.order", e), errs),
        };
        let t1 = t0 + steps as f64 * dt;
        let mut err: f64 = 0.0;
        for y in 0..n as usize {
            for x in 0..n as usize {
                let (px, py) = ((x as f64 + 0.5) * dx - 0.5, (y as f64 + 0.5) * dx - 0.5);
                let exact = (-(px * px + py * py) / (4.0 * d * t1)).exp()
                    / (4.0 * std::f64::consts::PI * d * t1);
                err = err.max((state[y * n as usize + x] as f64 - exact).abs());
            }
        }
        errs.push((n, err));
    }
    let o1 = (errs[0].1 / errs[1].1).log2();
    let o2 = (errs[1].1 / errs[2].1).log2();
    let pass = (o1 - 2.0).abs() <= 0.25 && (o2 - 2.0).abs() <= 0.25;
    (
        Check::new(
            "heat.order",
            "2".into(),
            format!(
                "{o1:.3}, {o2:.3} (max errors {:.2e}, {:.2e}, {:.2e})",
                errs[0].1, errs[1].1, errs[2].1
            ),
            "±0.25".into(),
            pass,
        ),
        errs,
    )
}

/// Fisher–KPP u_t = D u_xx + r u(1 − u) from a step: the front speed over
/// the late window t ∈ [100, 200] against c = 2√(rD). The front approaches c
/// from below (Bramson: position ≈ ct − (3/2)·ln t, so the window average is
/// c − 1.5·ln 2/100 ≈ c − 0.0104); with dx = 0.25 the discretisation adds
/// O(dx²). Tolerance: 2 % of c. Speed = d/dt of ∫u dx (the front's shape is
/// steady, so the mass grows at the front speed).
pub fn fisher_speed(backend: &Backend) -> Check {
    let (d, r) = (1.0f64, 1.0f64);
    let text = r#"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "r * u * (1.0 - u)" }
diffusion = { u = "D" }
[grid]
nx = 2000
ny = 1
dx = 0.25
boundary = "noflux"
[time]
dt = 0.0125
steps = 16000
[ensemble]
members = 1
[parameters]
D = 1.0
r = 1.0
[initial]
patches = [{ shape = "square", center = [0.0, 0.125], size = 10.0, values = { u = 1.0 } }]
[observe]
every = 8000
[[observables]]
name = "mass"
kind = "total"
field = "u"
"#;
    let s = scene("fisher", text);
    let p = plan(&s, None);
    let mut e = match backend.engine(&p, None) {
        Ok(e) => e,
        Err(err) => return Check::error("fisher_kpp.speed", err),
    };
    let rec = match crate::engine::record::record(e.as_mut(), &mut |_| {}) {
        Ok(r) => r,
        Err(err) => return Check::error("fisher_kpp.speed", err),
    };
    // steps 0, 8000 (t = 100), 16000 (t = 200); ∫u dx = total / dx (ny = 1).
    let mass = |k: usize| rec.frames[k][0] as f64 / 0.25;
    let speed = (mass(2) - mass(1)) / (rec.times[2] - rec.times[1]);
    let c = 2.0 * (r * d).sqrt();
    Check::new(
        "fisher_kpp.speed",
        format!("{c} (2√(rD))"),
        format!("{speed:.4} over t ∈ [100, 200]"),
        "2 % (front approaches c from below)".into(),
        (speed - c).abs() <= 0.02 * c,
    )
}

/// Mass conservation under no-flux boundaries with a heterogeneous tissue
/// map and no reaction: relative change of the total after 400 steps. In
/// exact arithmetic the flux form conserves mass exactly; f32 rounding
/// allows ~1e-6 relative drift; tolerance 1e-5.
pub fn mass_conservation(backend: &Backend) -> Check {
    let text = r#"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "0.0" }
diffusion = { u = "D" }
[grid]
nx = 48
ny = 40
dx = 1.0
boundary = "noflux"
[time]
dt = 0.1
steps = 400
[ensemble]
members = 3
seed = 9
[parameters]
D = { dist = "uniform", low = 0.5, high = 1.2 }
[tissue]
generate = { kind = "blobs", contrast = 0.6, scale = 5.0, seed = 1 }
[initial]
background = { u = 0.2 }
patches = [{ shape = "disk", center = [10.0, 30.0], size = 6.0, values = { u = 1.0 } }]
noise = 0.1
noise_species = ["u"]
[observe]
every = 400
[[observables]]
name = "mass"
kind = "total"
field = "u"
"#;
    let s = scene("mass", text);
    let p = plan(&s, None);
    let res = backend
        .engine(&p, None)
        .and_then(|mut e| crate::engine::record::record(e.as_mut(), &mut |_| {}));
    match res {
        Ok(rec) => {
            let stride = rec.n_ops + 1;
            let worst = (0..rec.members())
                .map(|m| {
                    let (a, b) = (
                        rec.frames[0][m * stride] as f64,
                        rec.frames[1][m * stride] as f64,
                    );
                    ((b - a) / a).abs()
                })
                .fold(0.0, f64::max);
            Check::new(
                "mass.noflux",
                "0".into(),
                format!("{worst:.2e}"),
                "1e-5 relative".into(),
                worst <= 1e-5,
            )
        }
        Err(e) => Check::error("mass.noflux", e),
    }
}

/// Same plan twice → bit-identical state; and on the GPU, batches of 2
/// members → bit-identical to one batch.
pub fn determinism(backend: &Backend) -> Vec<Check> {
    let (name, text) = model_scenes().swap_remove(1);
    let s = scene(name, &text);
    let p = plan(&s, Some(7));
    let mut out = Vec::new();
    let a = run_to_end(backend, &p, None);
    let b = run_to_end(backend, &p, None);
    match (a, b) {
        (Ok(a), Ok(b)) => {
            let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
            out.push(Check::new(
                "determinism.repeat",
                "bit-identical".into(),
                if same { "identical" } else { "differs" }.into(),
                "exact".into(),
                same,
            ));
            if matches!(backend, Backend::Gpu(_)) {
                match run_to_end(backend, &p, Some(2)) {
                    Ok(c) => {
                        let same = a.iter().zip(&c).all(|(x, y)| x.to_bits() == y.to_bits());
                        out.push(Check::new(
                            "determinism.batched",
                            "batch 2 == batch 7".into(),
                            if same { "identical" } else { "differs" }.into(),
                            "exact".into(),
                            same,
                        ));
                    }
                    Err(e) => out.push(Check::error("determinism.batched", e)),
                }
            } else {
                out.push(Check::na(
                    "determinism.batched",
                    "batches exist on the GPU backend only",
                ));
            }
        }
        (Err(e), _) | (_, Err(e)) => out.push(Check::error("determinism.repeat", e)),
    }
    out
}

/// Every check, in table order.
pub fn all(backend: &Backend) -> Vec<Check> {
    let mut v = philox(backend);
    v.extend(gpu_cpu_agreement(backend));
    v.push(abm_agreement(backend));
    v.push(subnormal_agreement(backend));
    v.push(heat_order(backend).0);
    v.push(fisher_speed(backend));
    v.push(mass_conservation(backend));
    v.extend(determinism(backend));
    v
}
