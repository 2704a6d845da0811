//! CPU twin of `shaders/rd/stencil.wgsl`: the same explicit Euler step with
//! the flux-form 5-point Laplacian, in the same operation order, in f32.
//!
//! `step_member` takes a specialised path where one exists (`fast.rs`:
//! Gray–Scott without a tissue map; `fast_tumour.rs`: the tumour model
//! with precomputed face weights; rows as slices so the compiler
//! vectorises them) and otherwise the general site-by-site loop
//! `step_member_general`, which mirrors the WGSL line by line. Both give
//! bit-identical results (a test compares them on random states).
//!
//! Every new state value is stored through [`flush_tiny`], the twin of
//! `shaders/rd/flush.wgsl`: subnormal results become +0.0 on both
//! backends, by a bit test rather than by changing the float environment.

use super::{Kinetics, RdModel, kinetics};
use crate::core::model::StepCtx;

const MAX_SPECIES: usize = 8;

/// Exponent bits of an f32.
const EXP_BITS: u32 = 0x7f80_0000;

/// `v`, or +0.0 where `v` is zero or subnormal (exponent bits 0, i.e.
/// |v| < `f32::MIN_POSITIVE`); NaN and infinities are kept. The same bit
/// test as `flush_tiny` in `shaders/rd/flush.wgsl`, written as an and-mask
/// so the specialised row loops (`fast.rs`) still vectorise.
///
/// Why: states decaying towards zero (Gray–Scott's v away from a pattern)
/// would otherwise stay subnormal, where x86 cores and software GPU
/// adapters take a slow path for every operation (docs/performance.md).
#[inline(always)]
pub fn flush_tiny(v: f32) -> f32 {
    let b = v.to_bits();
    let keep = if b & EXP_BITS == 0 { 0 } else { u32::MAX };
    f32::from_bits(b & keep)
}

pub fn step_member(m: &RdModel, step: u32, params: &[f32], src: &[f32], dst: &mut [f32]) {
    let ctx = StepCtx {
        seed: 0,
        member: 0,
        step,
    };
    step_member_at(m, &ctx, params, src, dst);
}

/// One step of global member `ctx.member` (what process noise and
/// per-member events are keyed by).
pub fn step_member_at(m: &RdModel, ctx: &StepCtx, params: &[f32], src: &[f32], dst: &mut [f32]) {
    if !super::fast::step_member(m, params, src, dst)
        && !super::fast_tumour::step_member(m, ctx.step, params, src, dst)
    {
        general(m, ctx, params, src, dst);
    }
}

/// The general CPU twin: every model, tissue map and boundary, one site at a time.
pub fn step_member_general(m: &RdModel, step: u32, params: &[f32], src: &[f32], dst: &mut [f32]) {
    let ctx = StepCtx {
        seed: 0,
        member: 0,
        step,
    };
    general(m, &ctx, params, src, dst);
}

thread_local! {
    /// Per-thread buffers of custom reactions (variables, evaluation
    /// scratch), reused across steps: a single-site model (an ODE) would
    /// otherwise allocate for every member and step.
    static EXPR_BUFS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

fn general(m: &RdModel, ctx: &StepCtx, params: &[f32], src: &[f32], dst: &mut [f32]) {
    EXPR_BUFS
        .with_borrow_mut(|(args, scratch)| general_with(m, ctx, params, src, dst, args, scratch))
}

fn general_with(
    m: &RdModel,
    ctx: &StepCtx,
    params: &[f32],
    src: &[f32],
    dst: &mut [f32],
    args: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
) {
    let step = ctx.step;
    let g = &m.grid;
    let (nx, ny) = (g.nx as usize, g.ny as usize);
    let n = g.sites();
    let ns = g.fields as usize;
    let tissue = |x: usize, y: usize| -> f32 {
        match m.map_off {
            Some(o) => m.aux[o + y * nx + x],
            None => 1.0,
        }
    };
    let t32 = (step as f64 * m.dt) as f32;
    let (drug, dose) = match m.kinetics {
        Kinetics::Tumour => (
            m.aux[m.sched_off + 2 * step as usize],
            m.aux[m.sched_off + 2 * step as usize + 1],
        ),
        _ => (0.0, 0.0),
    };
    // Custom reactions' variables: species, parameters, then `t`.
    args.clear();
    args.resize(ns + m.n_params + 1, 0.0);
    args[ns + m.n_params] = t32;
    let mut c = [0.0f32; MAX_SPECIES];
    let mut lap = [0.0f32; MAX_SPECIES];
    let mut r = [0.0f32; MAX_SPECIES];
    let mut diff = [0.0f32; MAX_SPECIES];
    for (s, d) in m.diff_ix.iter().enumerate() {
        diff[s] = d.map_or(0.0, |i| params[i]);
    }
    for y in 0..ny {
        let (ym, yp) = if g.periodic {
            (
                if y == 0 { ny - 1 } else { y - 1 },
                if y + 1 == ny { 0 } else { y + 1 },
            )
        } else {
            (
                if y == 0 { y } else { y - 1 },
                if y + 1 == ny { y } else { y + 1 },
            )
        };
        for x in 0..nx {
            let (xm, xp) = if g.periodic {
                (
                    if x == 0 { nx - 1 } else { x - 1 },
                    if x + 1 == nx { 0 } else { x + 1 },
                )
            } else {
                (
                    if x == 0 { x } else { x - 1 },
                    if x + 1 == nx { x } else { x + 1 },
                )
            };
            let w = tissue(x, y);
            let wxm = 0.5 * (w + tissue(xm, y));
            let wxp = 0.5 * (w + tissue(xp, y));
            let wym = 0.5 * (w + tissue(x, ym));
            let wyp = 0.5 * (w + tissue(x, yp));
            for s in 0..ns {
                let b = s * n;
                let v = src[b + y * nx + x];
                c[s] = v;
                lap[s] = (wxm * (src[b + y * nx + xm] - v)
                    + wxp * (src[b + y * nx + xp] - v)
                    + wym * (src[b + ym * nx + x] - v)
                    + wyp * (src[b + yp * nx + x] - v))
                    * m.dx2inv;
            }
            match &m.kinetics {
                Kinetics::GrayScott => kinetics::gray_scott(&m.ix, params, &c, &mut r),
                Kinetics::Tumour => kinetics::tumour(&m.ix, params, &c, drug, &mut r),
                Kinetics::Cardiac => {
                    let i_stim = stimulus(m, x, y, t32);
                    kinetics::cardiac(&m.ix, params, &c, i_stim, &mut r)
                }
                Kinetics::Custom { exprs } => {
                    args[..ns].copy_from_slice(&c[..ns]);
                    args[ns..ns + m.n_params].copy_from_slice(&params[..m.n_params]);
                    for (s, e) in exprs.iter().enumerate() {
                        r[s] = e.eval(args, scratch);
                    }
                }
            }
            let mut out = [0.0f32; MAX_SPECIES];
            for s in 0..ns {
                out[s] = c[s] + m.dt32 * (diff[s] * lap[s] + r[s]);
            }
            if let Kinetics::Tumour = m.kinetics {
                kinetics::tumour_post(&m.ix, params, dose, &mut out);
            }
            if m.extras.any() {
                custom_post(m, ctx, (y * nx + x) as u32, &mut out);
            }
            for s in 0..ns {
                dst[s * n + y * nx + x] = flush_tiny(out[s]);
            }
        }
    }
}

/// What models with user kinetics add after the Euler update at site
/// `site` (= y·nx + x), in the order of the generated WGSL `post`
/// (`wgsl::custom_post`): arm doses by column, the member's events in
/// time order, then process noise species by species.
fn custom_post(m: &RdModel, ctx: &StepCtx, site: u32, out: &mut [f32; MAX_SPECIES]) {
    let e = &m.extras;
    let a = &m.aux;
    let step = ctx.step as usize;
    if step < e.dose_rows {
        let row = e.dose_off + step * e.dose_species.len();
        for (j, &s) in e.dose_species.iter().enumerate() {
            out[s as usize] += a[row + j];
        }
    }
    if let Some((off, block, groups)) = e.events {
        let g = ctx.member / block;
        if g < groups {
            let (lo, hi) = (
                a[off + g as usize] as usize,
                a[off + g as usize + 1] as usize,
            );
            let base = off + groups as usize + 1;
            for ev in lo..hi {
                let q = base + 3 * ev;
                if a[q] as u32 == ctx.step {
                    out[a[q + 1] as usize] += a[q + 2];
                }
            }
        }
    }
    for t in &e.noise {
        let word = t.species * m.grid.sites() as u32 + site;
        let z = crate::core::model_error::state_noise(ctx.seed, word, ctx.member, ctx.step);
        let s = t.species as usize;
        if t.multiplicative {
            out[s] *= (t.scale * z - t.half_var).exp();
        } else {
            out[s] += t.scale * z;
        }
    }
}

/// Stimulus current at a site: mirrors `stimulus()` in shaders/rd/cardiac.wgsl.
fn stimulus(m: &RdModel, x: usize, y: usize, t: f32) -> f32 {
    let a = &m.aux;
    let count = a[m.stim_off] as usize;
    let dx = m.grid.dx as f32;
    let px = (x as f32 + 0.5) * dx;
    let py = (y as f32 + 0.5) * dx;
    let mut i_stim = 0.0f32;
    for i in 0..count {
        let b = m.stim_off + 1 + 7 * i;
        if t >= a[b]
            && t < a[b + 1]
            && px >= a[b + 2]
            && py >= a[b + 3]
            && px < a[b + 4]
            && py < a[b + 5]
        {
            i_stim += a[b + 6];
        }
    }
    i_stim
}

/// The most species a grid model may have (fixed-size scratch arrays).
pub const fn max_species() -> usize {
    MAX_SPECIES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::scene::Scene;

    fn gs_model(nx: u32, ny: u32, boundary: &str) -> RdModel {
        let text = format!(
            r#"
[model]
kind = "gray_scott"
[grid]
nx = {nx}
ny = {ny}
dx = 0.7
boundary = "{boundary}"
[time]
dt = 1.0
steps = 10
[parameters]
Du = 0.09
Dv = 0.05
F = 0.037
k = 0.06
[initial]
background = {{ u = 1.0, v = 0.0 }}
noise = 0.9
noise_species = ["u", "v"]
"#
        );
        let scene = Scene::parse(std::path::Path::new("<fast-path test>"), &text).unwrap();
        let info = crate::core::model_scene::info_for(&scene).unwrap();
        let block = crate::core::model_scene::resolve_params(&scene, &info).unwrap();
        let arm = scene.arm(None).unwrap();
        crate::core::model_scene::rd_model(&scene, &block, &arm, 10).unwrap()
    }

    fn subnormals(a: &[f32]) -> usize {
        a.iter().filter(|x| x.is_subnormal()).count()
    }

    /// `flush_tiny` zeroes exactly the f32 values with exponent bits 0
    /// (|v| < MIN_POSITIVE, −0.0 included, always to +0.0) and keeps every
    /// other value bit for bit, NaN and infinities included.
    #[test]
    fn flush_tiny_zeroes_exactly_the_subnormals() {
        let largest_subnormal = f32::from_bits(0x007f_ffff);
        assert!(largest_subnormal.is_subnormal());
        for v in [
            largest_subnormal,
            -largest_subnormal,
            f32::from_bits(1),
            -f32::from_bits(1),
            0.0,
            -0.0,
        ] {
            assert_eq!(flush_tiny(v).to_bits(), 0, "{v:e}");
        }
        for v in [
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            1.0,
            -3.5e-30,
            f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ] {
            assert_eq!(flush_tiny(v).to_bits(), v.to_bits(), "{v:e}");
        }
        // Exponent-0 bit patterns, sampled: all are |v| < MIN_POSITIVE and
        // all flush.
        for bits in (0u32..0x0080_0000).step_by(4099).chain([0x8000_0001]) {
            let v = f32::from_bits(bits);
            assert!(v.abs() < f32::MIN_POSITIVE);
            assert_eq!(flush_tiny(v).to_bits(), 0);
        }
    }

    /// The specialised Gray–Scott path (AVX2 build where the CPU has it, and
    /// the portable build) and the general twin give identical bits over
    /// several steps of a noisy state, on both boundaries, on grids with odd
    /// widths, a single row and the smallest width scenes allow; and the
    /// same from a state whose v is scaled down to around f32's smallest
    /// normal (4e-38), where steps produce subnormal results that both
    /// paths must flush to +0.0 alike.
    #[test]
    fn fast_path_is_bit_identical_to_general_twin() {
        for (nx, ny) in [(3, 3), (5, 1), (17, 4), (64, 9)] {
            for (boundary, tiny) in [
                ("periodic", false),
                ("noflux", false),
                ("periodic", true),
                ("noflux", true),
            ] {
                let m = gs_model(nx, ny, boundary);
                let params = [0.09f32, 0.05, 0.037, 0.06];
                let mut a = vec![0.0f32; m.grid.len()];
                m.init.fill(&m.grid, 7, 0, &[], &mut a);
                let n = m.grid.sites();
                if tiny {
                    a[n..].iter_mut().for_each(|v| *v *= 4e-38);
                }
                let mut flushed = 0;
                let mut b = a.clone();
                let mut c = a.clone();
                let (mut a2, mut b2, mut c2) = (a.clone(), b.clone(), c.clone());
                for step in 0..6 {
                    use super::super::fast::step_member_with;
                    assert!(step_member_with(&m, &params, &a, &mut a2, true));
                    assert!(step_member_with(&m, &params, &c, &mut c2, false));
                    step_member_general(&m, step, &params, &b, &mut b2);
                    std::mem::swap(&mut a, &mut a2);
                    std::mem::swap(&mut b, &mut b2);
                    std::mem::swap(&mut c, &mut c2);
                    let same =
                        |p: &[f32]| p.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(
                        same(&a),
                        "{nx}×{ny} {boundary}: AVX2 path differs after step {step}"
                    );
                    assert!(
                        same(&c),
                        "{nx}×{ny} {boundary}: portable path differs after step {step}"
                    );
                    assert_eq!(subnormals(&b), 0, "{nx}×{ny} {boundary}: step {step}");
                    flushed += b[n..].iter().filter(|v| **v == 0.0).count();
                }
                if tiny {
                    assert!(flushed > 0, "{nx}×{ny} {boundary}: nothing was flushed");
                }
            }
        }
    }

    /// Through the decaying regime (`fixtures::DECAYING_GRAY_SCOTT`: v decays
    /// by 0.9 per step from noise of 0.02 and would be subnormal everywhere
    /// after 800 steps under IEEE rules) the CPU backend's state holds no
    /// subnormal value, most of v has been flushed to exactly +0.0, and u,
    /// far from underflow, stays near 1.
    #[test]
    fn decaying_state_holds_no_subnormals() {
        use crate::engine::backend::Backend;
        use crate::fixtures::{self, DECAYING_GRAY_SCOTT};
        let p = fixtures::plan(&fixtures::scene("decaying", DECAYING_GRAY_SCOTT), None);
        let state = fixtures::run_to_end(&Backend::Cpu, &p, None).unwrap();
        assert_eq!(subnormals(&state), 0);
        let n = p.model.state_len() / 2;
        for (m, member) in state.chunks(2 * n).enumerate() {
            let (u, v) = member.split_at(n);
            let zeros = v.iter().filter(|x| x.to_bits() == 0).count();
            assert!(
                zeros > n / 2,
                "member {m}: only {zeros} of {n} v values flushed"
            );
            assert!(
                v.iter().all(|x| x.abs() < 1e-36),
                "member {m}: v did not decay"
            );
            assert!(
                u.iter().all(|x| (x - 1.0).abs() < 1e-3),
                "member {m}: u moved"
            );
        }
    }
}
