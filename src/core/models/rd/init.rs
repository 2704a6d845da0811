//! Host-side inputs of a reaction-diffusion plan: initial state (background,
//! patches, keyed noise), tissue map (the scene's NPY file, loaded by the
//! scene, or generated blobs), therapy schedule table and stimulus table.
//! All are deterministic functions of the scene and seed, computed
//! identically for both backends.

use crate::core::models::KeyedError;
use crate::core::observe::GridShape;
use crate::core::rng::{self, KeyedStream, Stream};
use crate::input::scene::{Arm, InitValue, InitialSection, Patch, Shape, Stimulus, TissueSection};

/// An initial value resolved against the parameter block: a constant or
/// the member's value of parameter `i`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Value {
    Const(f32),
    Param(usize),
}

impl Value {
    fn at(self, params: &[f32]) -> f32 {
        match self {
            Value::Const(v) => v,
            Value::Param(i) => params.get(i).copied().unwrap_or(0.0),
        }
    }
}

#[derive(Clone, Debug)]
pub struct InitialState {
    background: Vec<Value>,
    patches: Vec<(Patch, Vec<(usize, Value)>)>,
    noise: f32,
    noise_species: Vec<usize>,
}

impl InitialState {
    /// `param_names` are the plan's parameters in block order: an initial
    /// value that names one takes the member's value of it.
    pub fn new(
        ini: &InitialSection,
        species: &[String],
        param_names: &[String],
    ) -> Result<InitialState, KeyedError> {
        let value = |key: String, v: &InitValue| match v {
            InitValue::Number(x) => Ok(Value::Const(*x as f32)),
            InitValue::Param(name) => param_names
                .iter()
                .position(|p| p == name)
                .map(Value::Param)
                .ok_or_else(|| {
                    KeyedError::new(
                        key,
                        format!(
                            "`{name}` is not a parameter of the scene; an initial value is a \
                             number or the name of a [parameters] entry"
                        ),
                    )
                }),
        };
        let sidx = |key: &str, name: &str| {
            species.iter().position(|s| s == name).ok_or_else(|| {
                KeyedError::new(
                    key,
                    format!(
                        "`{name}` is not a field of this model (fields: {})",
                        species.join(", ")
                    ),
                )
            })
        };
        let mut background = vec![Value::Const(0.0); species.len()];
        for (k, v) in &ini.background {
            let key = format!("initial.background.{k}");
            let si = sidx(&key, k)?;
            background[si] = value(key, v)?;
        }
        let mut patches = Vec::new();
        for (i, p) in ini.patches.iter().enumerate() {
            if !(p.size.is_finite() && p.size > 0.0) {
                return Err(KeyedError::new(
                    format!("initial.patches.{i}.size"),
                    "size must be positive",
                ));
            }
            let mut vals = Vec::new();
            for (k, v) in &p.values {
                let key = format!("initial.patches.{i}.values.{k}");
                let si = sidx(&key, k)?;
                vals.push((si, value(key, v)?));
            }
            patches.push((p.clone(), vals));
        }
        let mut noise_species = Vec::new();
        for (i, s) in ini.noise_species.iter().enumerate() {
            noise_species.push(sidx(&format!("initial.noise_species.{i}"), s)?);
        }
        Ok(InitialState {
            background,
            patches,
            noise: ini.noise as f32,
            noise_species,
        })
    }

    /// Member `member`'s initial fields (`params`: its parameter row).
    /// Noise at site i of species s uses Philox counter (site, member, s,
    /// Init).
    pub fn fill(&self, g: &GridShape, seed: u64, member: u32, params: &[f32], out: &mut [f32]) {
        let n = g.sites();
        for (s, &b) in self.background.iter().enumerate() {
            out[s * n..(s + 1) * n].fill(b.at(params));
        }
        for (p, vals) in &self.patches {
            let vals: Vec<(usize, f32)> = vals.iter().map(|&(s, v)| (s, v.at(params))).collect();
            for y in 0..g.ny as usize {
                for x in 0..g.nx as usize {
                    let px = (x as f64 + 0.5) * g.dx - p.center[0];
                    let py = (y as f64 + 0.5) * g.dx - p.center[1];
                    let i = y * g.nx as usize + x;
                    match p.shape {
                        Shape::Square if px.abs() <= p.size && py.abs() <= p.size => {
                            vals.iter().for_each(|&(s, v)| out[s * n + i] = v)
                        }
                        Shape::Disk if px * px + py * py <= p.size * p.size => {
                            vals.iter().for_each(|&(s, v)| out[s * n + i] = v)
                        }
                        Shape::Gaussian => {
                            let w = (-(px * px + py * py) / (2.0 * p.size * p.size)).exp() as f32;
                            vals.iter().for_each(|&(s, v)| out[s * n + i] += v * w)
                        }
                        _ => {}
                    }
                }
            }
        }
        if self.noise > 0.0 {
            for &s in &self.noise_species {
                for i in 0..n {
                    let r = rng::draw4(seed, i as u32, member, s as u32, Stream::Init as u32);
                    out[s * n + i] += self.noise * (rng::u32_to_unit_f32(r[0]) - 0.5);
                }
            }
        }
    }
}

/// The `[tissue] map` file as the scene layer loaded it (models never read
/// files): no file named, its multipliers (checked against the grid), or
/// the problem with it, reported when the model is built.
#[derive(Clone, Debug, Default)]
pub enum MapFile {
    #[default]
    Absent,
    Loaded(Vec<f32>),
    Failed(KeyedError),
}

/// The tissue diffusivity multiplier per site, if the scene has one: the
/// loaded map file, else a generated map.
pub fn tissue_map(
    tissue: Option<&TissueSection>,
    file: &MapFile,
    g: &GridShape,
) -> Result<Option<Vec<f32>>, KeyedError> {
    let Some(t) = tissue else {
        return Ok(None);
    };
    let map = match file {
        MapFile::Failed(e) => return Err(e.clone()),
        MapFile::Loaded(data) => data.clone(),
        MapFile::Absent => match &t.generate {
            Some(spec) => blobs(g, spec.contrast, spec.scale, spec.seed),
            None => return Ok(None),
        },
    };
    Ok(Some(map))
}

/// A smooth random field in [1 − contrast, 1 + contrast]: a sum of Gaussian
/// blobs of standard deviation `scale` with random centres and signs,
/// normalised by its largest magnitude. Deterministic in `seed`.
pub fn blobs(g: &GridShape, contrast: f64, scale: f64, seed: u64) -> Vec<f32> {
    let (w, h) = (g.nx as f64 * g.dx, g.ny as f64 * g.dx);
    let count = ((w * h) / (scale * scale)).ceil().clamp(1.0, 4096.0) as usize;
    let mut s = KeyedStream::new(seed, 0, Stream::Init as u32);
    let blobs: Vec<(f64, f64, f64)> = (0..count)
        .map(|_| {
            (
                s.uniform() * w,
                s.uniform() * h,
                if s.uniform() < 0.5 { -1.0 } else { 1.0 },
            )
        })
        .collect();
    let mut f = vec![0.0f64; g.sites()];
    for y in 0..g.ny as usize {
        for x in 0..g.nx as usize {
            let (px, py) = ((x as f64 + 0.5) * g.dx, (y as f64 + 0.5) * g.dx);
            f[y * g.nx as usize + x] = blobs
                .iter()
                .map(|(cx, cy, a)| {
                    a * (-((px - cx).powi(2) + (py - cy).powi(2)) / (2.0 * scale * scale)).exp()
                })
                .sum();
        }
    }
    let peak = f.iter().fold(0.0f64, |a, b| a.max(b.abs())).max(1e-12);
    f.iter()
        .map(|v| (1.0 + contrast * v / peak) as f32)
        .collect()
}

/// Per step: drug concentration at the start of the step, and the RT dose
/// delivered during [t, t + dt). Two f32 per step, for steps 0..=steps.
pub fn therapy_schedule(arm: &Arm, dt: f64, steps: u64) -> Vec<f32> {
    let n = steps as usize + 1;
    let mut out = vec![0.0f32; 2 * n];
    if let Some(c) = &arm.chemo {
        for s in 0..n {
            out[2 * s] = c.concentration(s as f64 * dt) as f32;
        }
    }
    if let Some(rt) = &arm.rt {
        for t in rt.times() {
            if t < 0.0 {
                continue;
            }
            let s = (t / dt + 1e-9).floor() as usize;
            if s < n {
                out[2 * s + 1] += rt.dose as f32;
            }
        }
    }
    out
}

/// `[count, (t0, t1, x0, y0, x1, y1, amplitude)…]` with repeats expanded.
pub fn stimulus_table(stimuli: &[Stimulus]) -> Vec<f32> {
    let mut rows = Vec::new();
    for s in stimuli {
        for k in 0..s.count {
            let t0 = s.start + k as f64 * s.period;
            rows.extend([
                t0,
                t0 + s.duration,
                s.region[0],
                s.region[1],
                s.region[2],
                s.region[3],
                s.amplitude,
            ]);
        }
    }
    let mut out = vec![(rows.len() / 7) as f32];
    out.extend(rows.iter().map(|&v| v as f32));
    out
}
