//! Specialised CPU step of the `tumour` model, bit-identical to the general
//! twin (`cpu::step_member_general`) and so to the WGSL order of operations.
//!
//! The general twin recomputes the four face weights of the flux-form
//! Laplacian, 0.5·(w + w_neighbour), at every site of every member and
//! step, and visits the sites one at a time through index arithmetic. Here
//! the weights are computed once per plan ([`Faces`], with the general
//! twin's own expression, so the same bits) and each row is written as
//! slices that the compiler vectorises (8 lanes with AVX2 where the CPU has
//! it, detected at run time; SSE2's 4 otherwise), with the two edge sites
//! done one at a time. Plain f32 multiplies, adds and divides in the
//! general twin's order: Rust never fuses them into FMAs, so the bits do
//! not depend on the instruction set.
//!
//! Owns: speed only. Any change of arithmetic belongs in the general twin
//! and the WGSL first; the test in this file holds the paths equal.

use super::cpu::flush_tiny;
use super::fast::{around, row};
use super::{Kinetics, RdModel};
use crate::core::observe::GridShape;

/// The face weights of every site, precomputed from the tissue map (all
/// 1.0 without one): four planes of `nx·ny` values, in the order
/// x−, x+, y−, y+. Each is `0.5 · (w + w_neighbour)` with the neighbour
/// chosen as the general twin chooses it (wrapped or clamped).
#[derive(Clone, Debug)]
pub struct Faces {
    w: Vec<f32>,
}

impl Faces {
    /// The weights for `grid` and its tissue map (`nx·ny` multipliers, row
    /// by row), the general twin's expressions site by site.
    pub fn build(grid: &GridShape, map: Option<&[f32]>) -> Faces {
        let (nx, ny) = (grid.nx as usize, grid.ny as usize);
        let n = nx * ny;
        let tissue = |x: usize, y: usize| map.map_or(1.0, |m| m[y * nx + x]);
        let mut w = vec![0.0f32; 4 * n];
        for y in 0..ny {
            let (ym, yp) = around(y, ny, grid.periodic);
            for x in 0..nx {
                let (xm, xp) = around(x, nx, grid.periodic);
                let c = tissue(x, y);
                let i = y * nx + x;
                w[i] = 0.5 * (c + tissue(xm, y));
                w[n + i] = 0.5 * (c + tissue(xp, y));
                w[2 * n + i] = 0.5 * (c + tissue(x, ym));
                w[3 * n + i] = 0.5 * (c + tissue(x, yp));
            }
        }
        Faces { w }
    }

    /// The four planes (x−, x+, y−, y+).
    fn planes(&self) -> [&[f32]; 4] {
        let n = self.w.len() / 4;
        let (a, rest) = self.w.split_at(n);
        let (b, rest) = rest.split_at(n);
        let (c, d) = rest.split_at(n);
        [a, b, c, d]
    }
}

/// Per-member, per-step constants of a tumour step.
#[derive(Clone, Copy)]
struct Tu {
    d: f32,
    k: f32,
    theta: f32,
    /// κ·drug, the general twin's `p[κ] * drug` (then `· n`).
    kd: f32,
    dt: f32,
    dx2inv: f32,
    /// Radiotherapy survival exp(−α d − β d²) of this step (used only when
    /// the step's dose is positive).
    survival: f32,
}

impl Tu {
    /// One site: `kinetics::tumour`, the Euler update, `tumour_post` and
    /// the flush, in the general twin's order.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn site<const RT: bool>(
        &self,
        u: f32,
        uxm: f32,
        uxp: f32,
        uym: f32,
        uyp: f32,
        wxm: f32,
        wxp: f32,
        wym: f32,
        wyp: f32,
    ) -> f32 {
        let lap =
            (wxm * (uxm - u) + wxp * (uxp - u) + wym * (uym - u) + wyp * (uyp - u)) * self.dx2inv;
        let r = self.k * u * (1.0 - u / self.theta) - self.kd * u;
        let mut out = u + self.dt * (self.d * lap + r);
        if RT {
            out *= self.survival;
        }
        flush_tiny(out)
    }
}

/// Advances one tumour member by step `step` if this path applies (a
/// built-in tumour model with its face table and no additions after the
/// step, at least 3 sites wide); returns false (writing nothing) otherwise.
pub(super) fn step_member(
    m: &RdModel,
    step: u32,
    params: &[f32],
    src: &[f32],
    dst: &mut [f32],
) -> bool {
    step_member_with(m, step, params, src, dst, true)
}

/// `step_member`, with the AVX2 build allowed or not (tests run both).
pub(super) fn step_member_with(
    m: &RdModel,
    step: u32,
    params: &[f32],
    src: &[f32],
    dst: &mut [f32],
    allow_avx2: bool,
) -> bool {
    let g = &m.grid;
    let (nx, ny) = (g.nx as usize, g.ny as usize);
    if !matches!(m.kinetics, Kinetics::Tumour) || m.extras.any() || g.fields != 1 || nx < 3 {
        return false;
    }
    let (Some(faces), Some(id)) = (m.faces.as_deref(), m.diff_ix[0]) else {
        return false;
    };
    let s = m.sched_off + 2 * step as usize;
    let (drug, dose) = (m.aux[s], m.aux[s + 1]);
    let ix = &m.ix;
    let c = Tu {
        d: params[id],
        k: params[ix[1]],
        theta: params[ix[2]],
        kd: params[ix[5]] * drug,
        dt: m.dt32,
        dx2inv: m.dx2inv,
        survival: if dose > 0.0 {
            (-(params[ix[3]] * dose + params[ix[4]] * dose * dose)).exp()
        } else {
            1.0
        },
    };
    let n = nx * ny;
    let (src, dst) = (&src[..n], &mut dst[..n]);
    let w = faces.planes();
    #[cfg(target_arch = "x86_64")]
    if allow_avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe {
            if dose > 0.0 {
                rows_avx2::<true>(&c, nx, ny, g.periodic, w, src, dst)
            } else {
                rows_avx2::<false>(&c, nx, ny, g.periodic, w, src, dst)
            }
        };
        return true;
    }
    if dose > 0.0 {
        rows::<true>(&c, nx, ny, g.periodic, w, src, dst)
    } else {
        rows::<false>(&c, nx, ny, g.periodic, w, src, dst)
    }
    true
}

/// The same rows compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rows_avx2<const RT: bool>(
    c: &Tu,
    nx: usize,
    ny: usize,
    periodic: bool,
    w: [&[f32]; 4],
    src: &[f32],
    dst: &mut [f32],
) {
    rows::<RT>(c, nx, ny, periodic, w, src, dst)
}

#[inline(always)]
fn rows<const RT: bool>(
    c: &Tu,
    nx: usize,
    ny: usize,
    periodic: bool,
    w: [&[f32]; 4],
    src: &[f32],
    dst: &mut [f32],
) {
    for (y, out) in dst.chunks_exact_mut(nx).enumerate() {
        let (ym, yp) = around(y, ny, periodic);
        let u = [row(src, nx, y), row(src, nx, ym), row(src, nx, yp)];
        let f = [
            row(w[0], nx, y),
            row(w[1], nx, y),
            row(w[2], nx, y),
            row(w[3], nx, y),
        ];
        row_step::<RT>(c, u, f, out, periodic);
    }
}

/// One row: edge sites one at a time, the interior as slices.
#[inline(always)]
fn row_step<const RT: bool>(
    c: &Tu,
    u: [&[f32]; 3],
    f: [&[f32]; 4],
    out: &mut [f32],
    periodic: bool,
) {
    let nx = out.len();
    for x in [0, nx - 1] {
        let (xm, xp) = around(x, nx, periodic);
        out[x] = c.site::<RT>(
            u[0][x], u[0][xm], u[0][xp], u[1][x], u[2][x], f[0][x], f[1][x], f[2][x], f[3][x],
        );
    }
    let k = nx - 2;
    let (uc, ul, ur, um, up) = (
        &u[0][1..][..k],
        &u[0][..k],
        &u[0][2..][..k],
        &u[1][1..][..k],
        &u[2][1..][..k],
    );
    let (fxm, fxp, fym, fyp) = (
        &f[0][1..][..k],
        &f[1][1..][..k],
        &f[2][1..][..k],
        &f[3][1..][..k],
    );
    let out = &mut out[1..][..k];
    for i in 0..k {
        out[i] = c.site::<RT>(
            uc[i], ul[i], ur[i], um[i], up[i], fxm[i], fxp[i], fym[i], fyp[i],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::rd::cpu::step_member_general;
    use crate::input::scene::Scene;

    fn tumour_model(nx: u32, ny: u32, boundary: &str, tissue: bool) -> RdModel {
        let tissue = if tissue {
            "[tissue]\ngenerate = { kind = \"blobs\", contrast = 0.5, scale = 3.0, seed = 7 }\n"
        } else {
            ""
        };
        let text = format!(
            r#"
[model]
kind = "tumour"
[grid]
nx = {nx}
ny = {ny}
dx = 2.0
boundary = "{boundary}"
[time]
dt = 0.5
steps = 40
[parameters]
D = 0.03
k = 0.07
alpha = 0.12
beta = 0.012
theta = 0.9
kappa = 0.4
{tissue}
[initial]
patches = [{{ shape = "gaussian", center = [4.0, 3.0], size = 3.0, values = {{ N = 0.8 }} }}]
[[arms]]
name = "rt_chemo"
rt = {{ start = 1.0, fractions = 3, dose = 2.0, per_week = 7 }}
chemo = {{ times = [0.5], dose = 1.0, decay = 0.3 }}
"#
        );
        let scene = Scene::parse(std::path::Path::new("<tumour fast-path test>"), &text).unwrap();
        let info = crate::core::model_scene::info_for(&scene).unwrap();
        let block = crate::core::model_scene::resolve_params(&scene, &info).unwrap();
        let arm = scene.arm(None).unwrap();
        crate::core::model_scene::rd_model(&scene, &block, &arm, 40).unwrap()
    }

    /// xorshift64*: random test inputs without a dependency.
    struct Rand(u64);
    impl Rand {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    /// Equal bits, or NaN on both sides: which NaN operand an instruction
    /// propagates (sign and payload) is not fixed by IEEE 754 and changes
    /// when the compiler commutes operands in vector code, on either path.
    fn same(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    /// The specialised tumour path (AVX2 build where the CPU has it, and
    /// the portable build) and the general twin give identical bits, step
    /// after step, from random states (values in [0, 1.2) with some exactly
    /// 0; the same scaled to around f32's smallest normal, where results
    /// flush; one NaN and one infinity on the edges)
    /// and random parameters (NaN compared as NaN, see `same`), on both boundaries, with and without a
    /// tissue map, on odd widths, a single row and the smallest width, and
    /// through steps with chemotherapy and radiotherapy doses.
    #[test]
    fn fast_tumour_path_is_bit_identical_to_general_twin() {
        let mut rng = Rand(0x9e37_79b9_7f4a_7c15);
        let mut dosed = (0, 0);
        for (nx, ny) in [(3, 3), (5, 1), (17, 4), (32, 32), (33, 7)] {
            for boundary in ["noflux", "periodic"] {
                for tissue in [false, true] {
                    let m = tumour_model(nx, ny, boundary, tissue);
                    assert!(m.faces.is_some());
                    let n = m.grid.sites();
                    for trial in 0..3 {
                        // D, k, theta, alpha, beta, kappa within their ranges.
                        let mut params = vec![0.0f32; m.n_params];
                        let ix = &m.ix;
                        params[ix[0]] = 0.005 + 0.2 * rng.next();
                        params[ix[1]] = 0.01 + 0.1 * rng.next();
                        params[ix[2]] = 0.1 + 0.9 * rng.next();
                        params[ix[3]] = 0.1 + 0.3 * rng.next();
                        params[ix[4]] = 0.01 + 0.03 * rng.next();
                        params[ix[5]] = 2.0 * rng.next();
                        let mut a: Vec<f32> = (0..n).map(|_| 1.2 * rng.next()).collect();
                        for (i, v) in a.iter_mut().enumerate() {
                            if i % 11 == 3 {
                                *v = 0.0;
                            }
                            if trial == 1 {
                                *v *= 1e-38; // around f32's smallest normal
                            }
                        }
                        if trial == 2 {
                            a[0] = f32::NAN;
                            a[n - 1] = f32::INFINITY;
                        }
                        let (mut b, mut c) = (a.clone(), a.clone());
                        let (mut a2, mut b2, mut c2) = (a.clone(), a.clone(), a.clone());
                        for step in 0..12u32 {
                            let s = m.sched_off + 2 * step as usize;
                            dosed.0 += (m.aux[s] > 0.0) as usize;
                            dosed.1 += (m.aux[s + 1] > 0.0) as usize;
                            assert!(step_member_with(&m, step, &params, &a, &mut a2, true));
                            assert!(step_member_with(&m, step, &params, &c, &mut c2, false));
                            step_member_general(&m, step, &params, &b, &mut b2);
                            std::mem::swap(&mut a, &mut a2);
                            std::mem::swap(&mut b, &mut b2);
                            std::mem::swap(&mut c, &mut c2);
                            let at = format!("{nx}×{ny} {boundary} tissue={tissue} step {step}");
                            assert!(same(&a, &b), "{at}: AVX2 path differs");
                            assert!(same(&c, &b), "{at}: portable path differs");
                        }
                        if trial == 1 {
                            assert!(b.iter().any(|v| v.to_bits() == 0), "nothing flushed");
                        }
                    }
                }
            }
        }
        assert!(dosed.0 > 0 && dosed.1 > 0, "no dosed steps: {dosed:?}");
    }

    /// The face table holds the general twin's weights: 1 without a map,
    /// 0.5·(w + w_neighbour) with one, the site's own weight across a
    /// no-flux edge and the far site's across a periodic one.
    #[test]
    fn faces_are_half_sums_of_neighbouring_multipliers() {
        let g = GridShape {
            nx: 3,
            ny: 2,
            fields: 1,
            dx: 1.0,
            periodic: false,
        };
        assert!(Faces::build(&g, None).w.iter().all(|&v| v == 1.0));
        let map = [1.0f32, 2.0, 4.0, 8.0, 16.0, 32.0];
        let f = Faces::build(&g, Some(&map));
        let [xm, xp, ym, yp] = f.planes();
        assert_eq!(xm, [1.0, 1.5, 3.0, 8.0, 12.0, 24.0]);
        assert_eq!(xp, [1.5, 3.0, 4.0, 12.0, 24.0, 32.0]);
        assert_eq!(ym, [1.0, 2.0, 4.0, 4.5, 9.0, 18.0]);
        assert_eq!(yp, [4.5, 9.0, 18.0, 8.0, 16.0, 32.0]);
        let f = Faces::build(
            &GridShape {
                periodic: true,
                ..g
            },
            Some(&map),
        );
        let [xm, xp, ym, _] = f.planes();
        assert_eq!(xm[0], 2.5);
        assert_eq!(xp[2], 2.5);
        assert_eq!(ym[0], 4.5);
    }
}
