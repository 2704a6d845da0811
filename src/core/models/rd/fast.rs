//! Specialised CPU steps for the commonest plans, bit-identical to the
//! general twin (`cpu::step_member_general`) and so to the WGSL order of
//! operations: Gray–Scott without a tissue map. Without a map every face
//! weight is 0.5·(1 + 1) = 1 exactly and 1·x = x, so dropping the weights
//! changes no bit; what is left is written over whole rows as slices, which
//! the compiler vectorises (with AVX2 where the CPU has it), with the two
//! edge sites done one at a time.
//!
//! Owns: speed only. Any change of arithmetic belongs in the general twin
//! and the WGSL first; the test in `cpu.rs` holds the two paths equal.

use super::cpu::flush_tiny;
use super::{Kinetics, RdModel};

/// Per-member constants of a Gray–Scott step.
#[derive(Clone, Copy)]
struct Gs {
    du: f32,
    dv: f32,
    f: f32,
    k: f32,
    dt: f32,
    dx2inv: f32,
}

impl Gs {
    /// One site: the general twin's arithmetic with unit face weights,
    /// and its flush of subnormal results (a compare and an and-mask per
    /// lane once vectorised).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn site(
        &self,
        u: f32,
        uxm: f32,
        uxp: f32,
        uym: f32,
        uyp: f32,
        v: f32,
        vxm: f32,
        vxp: f32,
        vym: f32,
        vyp: f32,
    ) -> (f32, f32) {
        let lu = ((uxm - u) + (uxp - u) + (uym - u) + (uyp - u)) * self.dx2inv;
        let lv = ((vxm - v) + (vxp - v) + (vym - v) + (vyp - v)) * self.dx2inv;
        let uvv = u * v * v;
        let ru = self.f * (1.0 - u) - uvv;
        let rv = uvv - (self.f + self.k) * v;
        (
            flush_tiny(u + self.dt * (self.du * lu + ru)),
            flush_tiny(v + self.dt * (self.dv * lv + rv)),
        )
    }
}

/// Neighbour indices of `i` in `0..n` (periodic wrap or no-flux clamp),
/// as the general twin chooses them (also used by `fast_tumour`).
#[inline(always)]
pub(super) fn around(i: usize, n: usize, periodic: bool) -> (usize, usize) {
    let lo = if i > 0 {
        i - 1
    } else if periodic {
        n - 1
    } else {
        i
    };
    let hi = if i + 1 < n {
        i + 1
    } else if periodic {
        0
    } else {
        i
    };
    (lo, hi)
}

/// Advances one member by one step if a specialised path applies; returns
/// false (writing nothing) otherwise.
pub(super) fn step_member(m: &RdModel, params: &[f32], src: &[f32], dst: &mut [f32]) -> bool {
    step_member_with(m, params, src, dst, true)
}

/// `step_member`, with the AVX2 build allowed or not (tests run both).
pub(super) fn step_member_with(
    m: &RdModel,
    params: &[f32],
    src: &[f32],
    dst: &mut [f32],
    allow_avx2: bool,
) -> bool {
    let g = &m.grid;
    let (nx, ny) = (g.nx as usize, g.ny as usize);
    if m.map_off.is_some() || !matches!(m.kinetics, Kinetics::GrayScott) || g.fields != 2 || nx < 3
    {
        return false;
    }
    let (Some(iu), Some(iv)) = (m.diff_ix[0], m.diff_ix[1]) else {
        return false;
    };
    let c = Gs {
        du: params[iu],
        dv: params[iv],
        f: params[m.ix[2]],
        k: params[m.ix[3]],
        dt: m.dt32,
        dx2inv: m.dx2inv,
    };
    let n = nx * ny;
    let (su, sv) = src[..2 * n].split_at(n);
    let (du, dv) = dst[..2 * n].split_at_mut(n);
    #[cfg(target_arch = "x86_64")]
    if allow_avx2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { rows_avx2(&c, nx, ny, g.periodic, su, sv, du, dv) };
        return true;
    }
    rows(&c, nx, ny, g.periodic, su, sv, du, dv);
    true
}

/// The same rows compiled for AVX2 (8 lanes instead of SSE2's 4). Plain
/// f32 multiplies and adds either way: Rust never fuses them into FMAs, so
/// the bits do not depend on the instruction set.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_avx2(
    c: &Gs,
    nx: usize,
    ny: usize,
    periodic: bool,
    su: &[f32],
    sv: &[f32],
    du: &mut [f32],
    dv: &mut [f32],
) {
    rows(c, nx, ny, periodic, su, sv, du, dv)
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rows(
    c: &Gs,
    nx: usize,
    ny: usize,
    periodic: bool,
    su: &[f32],
    sv: &[f32],
    du: &mut [f32],
    dv: &mut [f32],
) {
    let rows_u = du.chunks_exact_mut(nx);
    let rows_v = dv.chunks_exact_mut(nx);
    for (y, (ou, ov)) in rows_u.zip(rows_v).enumerate() {
        let (ym, yp) = around(y, ny, periodic);
        let u = [row(su, nx, y), row(su, nx, ym), row(su, nx, yp)];
        let v = [row(sv, nx, y), row(sv, nx, ym), row(sv, nx, yp)];
        row_step(c, u, v, ou, ov, periodic);
    }
}

/// Row `r` of a row-major `nx`-wide plane.
#[inline(always)]
pub(super) fn row(a: &[f32], nx: usize, r: usize) -> &[f32] {
    &a[r * nx..(r + 1) * nx]
}

/// One row: edge sites one at a time, the interior as slices.
#[inline(always)]
fn row_step(
    c: &Gs,
    u: [&[f32]; 3],
    v: [&[f32]; 3],
    ou: &mut [f32],
    ov: &mut [f32],
    periodic: bool,
) {
    let nx = ou.len();
    for x in [0, nx - 1] {
        let (xm, xp) = around(x, nx, periodic);
        let (a, b) = c.site(
            u[0][x], u[0][xm], u[0][xp], u[1][x], u[2][x], v[0][x], v[0][xm], v[0][xp], v[1][x],
            v[2][x],
        );
        ou[x] = a;
        ov[x] = b;
    }
    let w = nx - 2;
    let (uc, ul, ur, um, up) = (
        &u[0][1..][..w],
        &u[0][..w],
        &u[0][2..][..w],
        &u[1][1..][..w],
        &u[2][1..][..w],
    );
    let (vc, vl, vr, vm, vp) = (
        &v[0][1..][..w],
        &v[0][..w],
        &v[0][2..][..w],
        &v[1][1..][..w],
        &v[2][1..][..w],
    );
    let (ou, ov) = (&mut ou[1..][..w], &mut ov[1..][..w]);
    for i in 0..w {
        let (a, b) = c.site(
            uc[i], ul[i], ur[i], um[i], up[i], vc[i], vl[i], vr[i], vm[i], vp[i],
        );
        ou[i] = a;
        ov[i] = b;
    }
}
