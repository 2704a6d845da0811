//! Observables: per-member reductions of grid state (total, mean, max, min,
//! area above a threshold, value at a probe, mean over a block) computed on the GPU by a
//! generated `observe` kernel and on the CPU by its twin, plus observables
//! derived on the host from the recorded series (first-crossing time).
//!
//! The CPU twin mirrors the GPU's reduction order (256 strided partial sums,
//! then a pairwise tree), so GPU and CPU observables of identical states are
//! identical.
//!
//! Owns: naming, units and meaning of observables; the reductions. Never
//! imports wgpu.

use crate::scene::{ObsKind, ObservableSpec};

message_error!(
    /// A probe or region that does not lie on the grid.
    pub ObserveError
);

/// Threads per member in the observe kernel (keep in step with the WGSL).
pub const OBSERVE_THREADS: usize = 256;

/// The shape of a grid model's state: `fields × ny × nx` f32 per member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridShape {
    pub nx: u32,
    pub ny: u32,
    pub fields: u32,
    pub dx: f64,
    pub periodic: bool,
}

impl GridShape {
    pub fn sites(&self) -> usize {
        self.nx as usize * self.ny as usize
    }
    pub fn len(&self) -> usize {
        self.sites() * self.fields as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The site nearest a physical position (site i's centre is at (i + ½)·dx).
    pub fn site_at(&self, x: f64, y: f64) -> u32 {
        let ix = ((x / self.dx).floor().max(0.0) as u32).min(self.nx - 1);
        let iy = ((y / self.dx).floor().max(0.0) as u32).min(self.ny - 1);
        iy * self.nx + ix
    }
    /// Area of one site.
    pub fn cell_area(&self) -> f32 {
        (self.dx * self.dx) as f32
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reduction {
    /// Integral over the domain: Σ value · dx².
    Total,
    Mean,
    Max,
    Min,
    /// Area (Σ dx²) of sites whose value exceeds the threshold.
    AreaAbove(f32),
    /// Value at one site.
    Probe(u32),
    /// One word of the member's state at this offset: a scalar the step
    /// kernel keeps (agent counts, radii of agent-based models). The op's
    /// `field` is ignored.
    Word(u32),
    /// Mean over the sites `x0..x0+w` × `y0..y0+h` (site indices): a
    /// coarse-imaging voxel.
    BlockMean {
        x0: u32,
        y0: u32,
        w: u32,
        h: u32,
    },
}

impl Reduction {
    /// Sites a block mean averages, in the order both twins visit them.
    fn block_site(x0: u32, y0: u32, w: u32, nx: u32, i: usize) -> usize {
        let (w, i) = (w as usize, i);
        (y0 as usize + i / w) * nx as usize + x0 as usize + i % w
    }
}

/// The probe reduction at physical position (x, y): the site containing it.
/// Errors (as text) when the point lies outside the domain.
pub fn probe_reduction(grid: &GridShape, x: f64, y: f64) -> Result<Reduction, ObserveError> {
    let (w, h) = (grid.nx as f64 * grid.dx, grid.ny as f64 * grid.dx);
    if !(0.0..=w).contains(&x) || !(0.0..=h).contains(&y) {
        return Err(format!("probe ({x}, {y}) lies outside the domain [0, {w}]×[0, {h}]").into());
    }
    Ok(Reduction::Probe(grid.site_at(x, y)))
}

/// The block-mean reduction over the physical rectangle [x0, x1] × [y0, y1]:
/// the mean over every site whose centre ((i + ½)·dx) lies inside it.
/// Errors (as text) when the rectangle is inverted, leaves the domain or
/// holds no site centre.
pub fn block_reduction(
    grid: &GridShape,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
) -> Result<Reduction, ObserveError> {
    let (w, h) = (grid.nx as f64 * grid.dx, grid.ny as f64 * grid.dx);
    let all_finite = [x0, y0, x1, y1].iter().all(|v| v.is_finite());
    if !all_finite || x0 >= x1 || y0 >= y1 {
        return Err(
            format!("block [{x0}, {x1}]×[{y0}, {y1}] is empty: need x0 < x1 and y0 < y1").into(),
        );
    }
    if x0 < 0.0 || y0 < 0.0 || x1 > w || y1 > h {
        return Err(
            format!("block [{x0}, {x1}]×[{y0}, {y1}] leaves the domain [0, {w}]×[0, {h}]").into(),
        );
    }
    // Site i's centre (i + ½)·dx lies in [a, b] for i in [ceil(a/dx − ½), floor(b/dx − ½)].
    let range = |a: f64, b: f64, n: u32| {
        let lo = (a / grid.dx - 0.5).ceil().max(0.0) as u32;
        let hi = ((b / grid.dx - 0.5).floor() as i64).min(n as i64 - 1);
        (hi >= lo as i64).then(|| (lo, hi as u32 - lo + 1))
    };
    match (range(x0, x1, grid.nx), range(y0, y1, grid.ny)) {
        (Some((ix, nw)), Some((iy, nh))) => Ok(Reduction::BlockMean {
            x0: ix,
            y0: iy,
            w: nw,
            h: nh,
        }),
        _ => Err(format!(
            "block [{x0}, {x1}]×[{y0}, {y1}] holds no site centre (sites are {} wide)",
            grid.dx
        )
        .into()),
    }
}

/// One reduction the GPU computes.
#[derive(Clone, Debug, PartialEq)]
pub struct ObsOp {
    pub name: String,
    pub field: u32,
    pub reduction: Reduction,
    pub unit: String,
    pub description: String,
}

/// An observable derived on the host: time of the first upward crossing of
/// `threshold` by observable `of` (linear interpolation between recorded
/// steps; null before the crossing).
#[derive(Clone, Debug, PartialEq)]
pub struct FirstCrossing {
    pub name: String,
    pub of: usize,
    pub threshold: f64,
    pub unit: String,
    pub description: String,
}

/// Every observable of a plan, in output order: GPU reductions first, then
/// derived ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservableSet {
    pub ops: Vec<ObsOp>,
    pub derived: Vec<FirstCrossing>,
}

impl ObservableSet {
    pub fn names(&self) -> Vec<String> {
        self.ops
            .iter()
            .map(|o| o.name.clone())
            .chain(self.derived.iter().map(|d| d.name.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.ops.len() + self.derived.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (name, unit, description) of every observable in output order.
    pub fn describe(&self) -> Vec<(String, String, String)> {
        self.ops
            .iter()
            .map(|o| (o.name.clone(), o.unit.clone(), o.description.clone()))
            .chain(
                self.derived
                    .iter()
                    .map(|d| (d.name.clone(), d.unit.clone(), d.description.clone())),
            )
            .collect()
    }

    /// Builds the set from scene entries. `preset` are the model's own
    /// observables (`Model::preset_observables`), always first. `fields` are
    /// (name, unit) of the model's fields. A scene with no observables and
    /// a model without presets gets total and max of every field.
    /// Errors are (dotted key, message).
    pub fn from_specs(
        preset: Vec<ObsOp>,
        specs: &[ObservableSpec],
        fields: &[(String, String)],
        grid: &GridShape,
        length_unit: &str,
        time_unit: &str,
    ) -> Result<ObservableSet, (String, String)> {
        let mut set = ObservableSet {
            ops: preset,
            derived: Vec::new(),
        };
        let default_specs;
        let specs = if specs.is_empty() && set.ops.is_empty() {
            default_specs = fields
                .iter()
                .flat_map(|(f, _)| {
                    [ObsKind::Total, ObsKind::Max].map(|kind| ObservableSpec {
                        name: None,
                        kind,
                        field: Some(f.clone()),
                        threshold: None,
                        at: None,
                        region: None,
                        of: None,
                    })
                })
                .collect::<Vec<_>>();
            &default_specs[..]
        } else {
            specs
        };
        let mut pending = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let key = |k: &str| format!("observables.{i}.{k}");
            // Thresholds are compared in f32 on both backends.
            if let Some(t) = s.threshold
                && !(t as f32).is_finite()
            {
                return Err((
                    key("threshold"),
                    format!(
                        "threshold must be a finite number within ±{:e} (f32), got {t:e}",
                        f32::MAX
                    ),
                ));
            }
            if s.kind == ObsKind::FirstCrossing {
                let of =
                    s.of.clone()
                        .ok_or_else(|| (key("of"), "first_crossing needs `of`".to_string()))?;
                let thr = s.threshold.ok_or_else(|| {
                    (
                        key("threshold"),
                        "first_crossing needs `threshold`".to_string(),
                    )
                })?;
                let name = s
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("first_crossing_{of}_{thr}"));
                pending.push((i, name, of, thr));
                continue;
            }
            let fname = s
                .field
                .clone()
                .ok_or_else(|| (key("field"), format!("`{:?}` needs a `field`", s.kind)))?;
            let (fidx, (fname, funit)) = fields
                .iter()
                .enumerate()
                .find(|(_, (n, _))| *n == fname)
                .ok_or_else(|| {
                    (
                        key("field"),
                        format!(
                            "unknown field `{fname}`; the model has {}",
                            fields
                                .iter()
                                .map(|f| f.0.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
            let (reduction, default_name, unit, description) = match s.kind {
                ObsKind::Total => (
                    Reduction::Total,
                    format!("total_{fname}"),
                    format!("{funit}·{length_unit}²"),
                    format!("integral of {fname} over the domain"),
                ),
                ObsKind::Mean => (
                    Reduction::Mean,
                    format!("mean_{fname}"),
                    funit.clone(),
                    format!("mean of {fname} over all sites"),
                ),
                ObsKind::Max => (
                    Reduction::Max,
                    format!("max_{fname}"),
                    funit.clone(),
                    format!("largest value of {fname}"),
                ),
                ObsKind::Min => (
                    Reduction::Min,
                    format!("min_{fname}"),
                    funit.clone(),
                    format!("smallest value of {fname}"),
                ),
                ObsKind::AreaAbove => {
                    let t = s.threshold.ok_or_else(|| {
                        (key("threshold"), "area_above needs `threshold`".to_string())
                    })?;
                    (
                        Reduction::AreaAbove(t as f32),
                        format!("area_{fname}_above_{t}"),
                        format!("{length_unit}²"),
                        format!("area where {fname} > {t}"),
                    )
                }
                ObsKind::Probe => {
                    let [x, y] =
                        s.at.ok_or_else(|| (key("at"), "probe needs `at = [x, y]`".to_string()))?;
                    (
                        probe_reduction(grid, x, y).map_err(|m| (key("at"), m.into()))?,
                        format!("{fname}_at_{x}_{y}"),
                        funit.clone(),
                        format!("{fname} at the site containing ({x}, {y})"),
                    )
                }
                ObsKind::BlockMean => {
                    let [x0, y0, x1, y1] = s.region.ok_or_else(|| {
                        (
                            key("region"),
                            "block_mean needs `region = [x0, y0, x1, y1]`".to_string(),
                        )
                    })?;
                    (
                        block_reduction(grid, x0, y0, x1, y1)
                            .map_err(|m| (key("region"), m.into()))?,
                        format!("{fname}_block_{x0}_{y0}_{x1}_{y1}"),
                        funit.clone(),
                        format!(
                            "mean of {fname} over the sites centred in [{x0}, {x1}]×[{y0}, {y1}]"
                        ),
                    )
                }
                ObsKind::FirstCrossing => unreachable!(),
            };
            set.ops.push(ObsOp {
                name: s.name.clone().unwrap_or(default_name),
                field: fidx as u32,
                reduction,
                unit,
                description,
            });
        }
        for (i, name, of, thr) in pending {
            let idx = set.ops.iter().position(|o| o.name == of).ok_or_else(|| {
                (
                    format!("observables.{i}.of"),
                    format!("`of` names `{of}`, which is not a reduction observable"),
                )
            })?;
            set.derived.push(FirstCrossing {
                description: format!("time at which {of} first rises above {thr} (null before)"),
                name,
                of: idx,
                threshold: thr,
                unit: time_unit.to_string(),
            });
        }
        let names = set.names();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err((
                    "observables".into(),
                    format!("two observables are named `{n}`; give them unique names"),
                ));
            }
        }
        Ok(set)
    }
}

/// True for Inf and NaN, by bit pattern (as the WGSL does, which must not
/// rely on `x != x` surviving fast-math).
#[inline]
pub fn non_finite(x: f32) -> bool {
    (x.to_bits() & 0x7f80_0000) == 0x7f80_0000
}

/// The per-lane partial results of a strided reduction: lanes at and
/// after `live` never saw an element and hold the identity `init`.
struct Lanes<T> {
    p: [T; OBSERVE_THREADS],
    live: usize,
}

/// The kernel's shared-memory tree over the lanes, in the kernel's order.
/// A pair of lanes that both hold the identity is skipped: f(init, init)
/// is init for every reduction here (+0 + +0, max/min of the extreme, u32
/// sums and maxima), so the result is bit for bit the full tree's, at a
/// cost that follows the live lanes (8 steps for a one-site grid instead
/// of 255).
fn tree<T: Copy>(l: &mut Lanes<T>, f: impl Fn(T, T) -> T) -> T {
    let p = &mut l.p;
    let mut live = l.live;
    let mut s = OBSERVE_THREADS / 2;
    while s > 0 {
        for t in 0..s.min(live) {
            p[t] = f(p[t], p[t + s]);
        }
        live = live.min(s);
        s /= 2;
    }
    p[0]
}

fn strided<T: Copy>(n: usize, init: T, v: impl Fn(usize) -> T, f: impl Fn(T, T) -> T) -> Lanes<T> {
    let mut p = [init; OBSERVE_THREADS];
    let live = n.min(OBSERVE_THREADS);
    for (t, slot) in p.iter_mut().enumerate().take(live) {
        let mut acc = init;
        let mut i = t;
        while i < n {
            acc = f(acc, v(i));
            i += OBSERVE_THREADS;
        }
        *slot = acc;
    }
    Lanes { p, live }
}

/// CPU twin of the observe kernel for one member: the op values followed by
/// the non-finite flag (1.0 when any state word is Inf or NaN).
pub fn observe_member(ops: &[ObsOp], grid: &GridShape, state: &[f32], out: &mut [f32]) {
    let n = grid.sites();
    let bad = {
        let mut p = strided(
            state.len(),
            0u32,
            |i| non_finite(state[i]) as u32,
            |a, b| a.max(b),
        );
        tree(&mut p, |a, b| a.max(b))
    };
    for (k, op) in ops.iter().enumerate() {
        let f = match op.reduction {
            Reduction::Word(_) => &state[..0],
            _ => &state[op.field as usize * n..(op.field as usize + 1) * n],
        };
        out[k] = match op.reduction {
            Reduction::Total | Reduction::Mean => {
                let mut p = strided(n, 0.0f32, |i| f[i], |a, b| a + b);
                let s = tree(&mut p, |a, b| a + b);
                if op.reduction == Reduction::Total {
                    s * grid.cell_area()
                } else {
                    s / n as f32
                }
            }
            Reduction::Max => {
                let mut p = strided(n, f32::MIN, |i| f[i], f32::max);
                tree(&mut p, f32::max)
            }
            Reduction::Min => {
                let mut p = strided(n, f32::MAX, |i| f[i], f32::min);
                tree(&mut p, f32::min)
            }
            Reduction::AreaAbove(t) => {
                let mut p = strided(n, 0u32, |i| (f[i] > t) as u32, |a, b| a + b);
                tree(&mut p, |a, b| a + b) as f32 * grid.cell_area()
            }
            Reduction::Probe(site) => f[site as usize],
            Reduction::Word(off) => state[off as usize],
            Reduction::BlockMean { x0, y0, w, h } => {
                let k = w as usize * h as usize;
                let site = |i| Reduction::block_site(x0, y0, w, grid.nx, i);
                let mut p = strided(k, 0.0f32, |i| f[site(i)], |a, b| a + b);
                tree(&mut p, |a, b| a + b) / k as f32
            }
        };
    }
    out[ops.len()] = bad as f32;
}

/// The status a member's state reports through the model's status word
/// (`Model::status_word`): `Some(step)` once it saturated at `step`.
pub fn saturated_at(state: &[f32], status_word: Option<usize>) -> Option<u64> {
    let w = state[status_word?];
    (w > 0.0).then(|| w as u64 - 1)
}

/// Generates the WGSL `observe` kernel for these ops (one workgroup per
/// member, `state_len` words each; fields first, `grid.fields × sites`).
/// With a `status_word`, a nonzero value there marks the member saturated
/// at step `value − 1`. Uses the standard bindings of
/// `shaders/shared/bindings.wgsl`.
pub fn observe_wgsl(
    ops: &[ObsOp],
    grid: &GridShape,
    state_len: usize,
    status_word: Option<usize>,
) -> String {
    let mut body = String::new();
    let nops = ops.len();
    for (k, op) in ops.iter().enumerate() {
        let base = format!("m * NSTATE + {}u * NSITES", op.field);
        let code = match op.reduction {
            Reduction::Total | Reduction::Mean => {
                let fin = if op.reduction == Reduction::Total {
                    "red_f[0] * CELL_AREA".to_string()
                } else {
                    "red_f[0] / f32(NSITES)".to_string()
                };
                format!(
                    "    {{ var acc = 0.0; for (var i = t; i < NSITES; i = i + THREADS) {{ acc = acc + src[{base} + i]; }}\n      red_f[t] = acc; reduce_sum(t);\n      if (t == 0u) {{ obs[m * NOUT + {k}u] = {fin}; }} workgroupBarrier(); }}\n"
                )
            }
            Reduction::Max | Reduction::Min => {
                let (init, f) = if op.reduction == Reduction::Max {
                    ("-3.40282347e38", "max")
                } else {
                    ("3.40282347e38", "min")
                };
                format!(
                    "    {{ var acc = {init}; for (var i = t; i < NSITES; i = i + THREADS) {{ acc = {f}(acc, src[{base} + i]); }}\n      red_f[t] = acc; reduce_{f}(t);\n      if (t == 0u) {{ obs[m * NOUT + {k}u] = red_f[0]; }} workgroupBarrier(); }}\n"
                )
            }
            Reduction::AreaAbove(thr) => format!(
                "    {{ var acc = 0u; for (var i = t; i < NSITES; i = i + THREADS) {{ acc = acc + select(0u, 1u, src[{base} + i] > {thr:e}); }}\n      red_u[t] = acc; reduce_usum(t);\n      if (t == 0u) {{ obs[m * NOUT + {k}u] = f32(red_u[0]) * CELL_AREA; }} workgroupBarrier(); }}\n"
            ),
            Reduction::Probe(site) => {
                format!("    if (t == 0u) {{ obs[m * NOUT + {k}u] = src[{base} + {site}u]; }}\n")
            }
            Reduction::Word(off) => {
                format!("    if (t == 0u) {{ obs[m * NOUT + {k}u] = src[m * NSTATE + {off}u]; }}\n")
            }
            // Same visiting order as `Reduction::block_site`.
            Reduction::BlockMean { x0, y0, w, h } => {
                let n = w * h;
                let nx = grid.nx;
                format!(
                    "    {{ var acc = 0.0; for (var i = t; i < {n}u; i = i + THREADS) {{ let s = ({y0}u + i / {w}u) * {nx}u + {x0}u + i % {w}u; acc = acc + src[{base} + s]; }}\n      red_f[t] = acc; reduce_sum(t);\n      if (t == 0u) {{ obs[m * NOUT + {k}u] = red_f[0] / f32({n}u); }} workgroupBarrier(); }}\n"
                )
            }
        };
        body.push_str(&code);
    }
    format!(
        "const NSTATE: u32 = {state_len}u;\nconst NSITES: u32 = {sites}u;\nconst NOUT: u32 = {nout}u;\nconst CELL_AREA: f32 = {area:e};\nconst STATUS_WORD: i32 = {sw};\n{template}\nfn observe_ops(m: u32, t: u32) {{\n{body}}}\n",
        sw = status_word.map_or(-1, |w| w as i64),
        sites = grid.sites(),
        nout = nops + 1,
        area = grid.cell_area(),
        template = crate::shaders::compose(crate::shaders::source("shared/observe.wgsl")),
    )
}

/// First-crossing times from a recorded series: for each recorded index,
/// the crossing time so far (None before it happens).
pub fn first_crossing_series(times: &[f64], values: &[f64], threshold: f64) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    let mut found: Option<f64> = None;
    for i in 0..values.len() {
        if found.is_none() && values[i] > threshold {
            found = Some(if i == 0 || values[i - 1].is_nan() {
                times[i]
            } else {
                let (t0, t1, v0, v1) = (times[i - 1], times[i], values[i - 1], values[i]);
                t0 + (threshold - v0) / (v1 - v0) * (t1 - t0)
            });
        }
        out.push(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> GridShape {
        GridShape {
            nx: 20,
            ny: 10,
            fields: 2,
            dx: 0.5,
            periodic: true,
        }
    }

    #[test]
    fn reductions_match_direct_formulas() {
        let g = grid();
        let state: Vec<f32> = (0..g.len()).map(|i| (i % 7) as f32 * 0.25).collect();
        let ops = vec![
            ObsOp {
                name: "t".into(),
                field: 1,
                reduction: Reduction::Total,
                unit: String::new(),
                description: String::new(),
            },
            ObsOp {
                name: "m".into(),
                field: 0,
                reduction: Reduction::Mean,
                unit: String::new(),
                description: String::new(),
            },
            ObsOp {
                name: "x".into(),
                field: 0,
                reduction: Reduction::Max,
                unit: String::new(),
                description: String::new(),
            },
            ObsOp {
                name: "a".into(),
                field: 0,
                reduction: Reduction::AreaAbove(1.0),
                unit: String::new(),
                description: String::new(),
            },
            ObsOp {
                name: "p".into(),
                field: 1,
                reduction: Reduction::Probe(g.site_at(3.2, 1.1)),
                unit: String::new(),
                description: String::new(),
            },
        ];
        let mut out = vec![0.0; ops.len() + 1];
        observe_member(&ops, &g, &state, &mut out);
        let n = g.sites();
        let f0 = &state[..n];
        let f1 = &state[n..];
        let total: f64 = f1.iter().map(|&v| v as f64).sum::<f64>() * 0.25;
        assert!((out[0] as f64 - total).abs() < 1e-4 * total);
        let mean: f64 = f0.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!((out[1] as f64 - mean).abs() < 1e-5);
        assert_eq!(out[2], 1.5);
        assert_eq!(
            out[3],
            f0.iter().filter(|&&v| v > 1.0).count() as f32 * 0.25
        );
        assert_eq!(out[4], f1[2 * 20 + 6]);
        assert_eq!(out[5], 0.0);
        let mut bad = state.clone();
        bad[n + 3] = f32::NAN;
        observe_member(&ops, &g, &bad, &mut out);
        assert_eq!(out[5], 1.0);
    }

    /// A block's sites are those whose centres lie in the rectangle; its
    /// mean matches the direct average; bad rectangles are refused.
    #[test]
    fn block_mean_averages_the_sites_centred_in_the_block() {
        let g = grid(); // 20 × 10 sites of 0.5: centres at 0.25, 0.75, …
        let r = block_reduction(&g, 1.0, 0.5, 2.6, 1.5).unwrap();
        // x centres 1.25..2.25 (sites 2..=4), y centres 0.75, 1.25 (sites 1..=2).
        assert_eq!(
            r,
            Reduction::BlockMean {
                x0: 2,
                y0: 1,
                w: 3,
                h: 2
            }
        );
        let state: Vec<f32> = (0..g.len()).map(|i| (i % 13) as f32 * 0.1).collect();
        let ops = vec![ObsOp {
            name: "b".into(),
            field: 1,
            reduction: r,
            unit: String::new(),
            description: String::new(),
        }];
        let mut out = vec![0.0; 2];
        observe_member(&ops, &g, &state, &mut out);
        let f1 = &state[g.sites()..];
        let direct: f64 = [1, 2]
            .iter()
            .flat_map(|&y| (2..=4).map(move |x| f1[y * 20 + x] as f64))
            .sum::<f64>()
            / 6.0;
        assert!(
            (out[0] as f64 - direct).abs() < 1e-6,
            "{} vs {direct}",
            out[0]
        );
        let whole = block_reduction(&g, 0.0, 0.0, 10.0, 5.0).unwrap();
        assert_eq!(
            whole,
            Reduction::BlockMean {
                x0: 0,
                y0: 0,
                w: 20,
                h: 10
            }
        );
        assert!(block_reduction(&g, 1.0, 1.0, 0.5, 2.0).is_err());
        assert!(
            block_reduction(&g, 0.0, 0.0, 11.0, 1.0)
                .unwrap_err()
                .contains("leaves the domain")
        );
        assert!(
            block_reduction(&g, 1.0, 1.0, 1.1, 1.1)
                .unwrap_err()
                .contains("no site centre")
        );
        assert!(probe_reduction(&g, 10.5, 1.0).is_err());
    }

    #[test]
    fn first_crossing_interpolates() {
        let t = [0.0, 1.0, 2.0, 3.0];
        let v = [0.0, 0.2, 0.6, 1.0];
        let s = first_crossing_series(&t, &v, 0.4);
        assert_eq!(s[..2], [None, None]);
        assert!((s[2].unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(s[3], s[2]);
    }
}
