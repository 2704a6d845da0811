//! CPU twin of `shaders/abm/step.wgsl`: one member, one step, the same
//! phases in the same order with the same f32 operations and the same
//! keyed draws. Where the GPU splits work over 256 invocations and then
//! reduces, the twin splits and reduces identically, so counts agree
//! exactly and positions to round-off (the GPU's sqrt, exp, cos and
//! division are not correctly rounded; see docs/abm.md).
//!
//! Phases: bin the agents (counting sort by site, ascending index within a
//! site); quasi-steady oxygen and drug (`fields::sor_sweeps`, uptake from
//! live-cell coverage); per agent, forces from neighbours in the 3 × 3
//! sites around it, migration, and fate (death, division, immune kill);
//! compaction of survivors and daughters in agent order; the header
//! scalars.
//!
//! Owns: the step. Parameters, layout and initial state live elsewhere.

use super::AbmModel;
use super::fields::{denominator, sor_sweeps};
use super::layout::*;
use super::params::Params;
use crate::core::model::StepCtx;
use crate::core::rng::{Stream, draw4, u32_to_unit_f32};

pub const TAU: f32 = std::f32::consts::TAU;
pub const PI: f32 = std::f32::consts::PI;
pub const LN2: f32 = std::f32::consts::LN_2;
/// Adhesion reaches this multiple of the contact distance.
pub const ADH_RANGE: f32 = 1.25;

/// Agents binned by site: `start[b]..start[b + 1]` index `sorted`, which
/// holds agent indices by (site, index).
pub struct Bins {
    pub site: Vec<usize>,
    pub start: Vec<usize>,
    pub sorted: Vec<usize>,
}

impl Bins {
    pub fn build(m: &AbmModel, x: &[f32], y: &[f32]) -> Bins {
        let g = m.layout.sites();
        let site: Vec<usize> = x.iter().zip(y).map(|(&a, &b)| m.site_of(a, b)).collect();
        let mut start = vec![0usize; g + 1];
        for &b in &site {
            start[b + 1] += 1;
        }
        for b in 0..g {
            start[b + 1] += start[b];
        }
        let mut cursor = start.clone();
        let mut sorted = vec![0usize; site.len()];
        for (i, &b) in site.iter().enumerate() {
            sorted[cursor[b]] = i;
            cursor[b] += 1;
        }
        Bins {
            site,
            start,
            sorted,
        }
    }

    pub fn members(&self, b: usize) -> &[usize] {
        &self.sorted[self.start[b]..self.start[b + 1]]
    }
}

/// Area of an agent of `kind`, (π·r)·r as the WGSL computes it.
#[inline]
pub fn cell_area(p: &Params, kind: u32) -> f32 {
    let r = p.radius(kind);
    (PI * r) * r
}

/// The solver denominators of both fields from live-cell coverage (summed
/// over a site's agents in sorted order).
pub fn denominators(
    m: &AbmModel,
    p: &Params,
    bins: &Bins,
    kind: &[f32],
    state: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let g = m.layout.sites();
    let h2 = m.dx * m.dx;
    let mut d_o2 = vec![0.0f32; g];
    let mut d_drug = vec![0.0f32; g];
    for b in 0..g {
        let mut cover = 0.0f32;
        for &i in bins.members(b) {
            if state[i] as u32 == LIVE {
                cover += cell_area(p, kind[i] as u32);
            }
        }
        let f = cover * m.inv_site_area;
        d_o2[b] = denominator(h2, p.o2_diffusion, p.o2_decay, p.o2_uptake, f);
        d_drug[b] = denominator(h2, p.drug_diffusion, p.drug_decay, p.drug_uptake, f);
    }
    (d_o2, d_drug)
}

/// What happens to one agent in a step, before compaction.
#[derive(Clone, Copy, Debug, Default)]
struct Fate {
    x: f32,
    y: f32,
    /// 0 removed, 1 kept, 2 divides.
    slots: u32,
    killed: bool,
    state: f32,
    clock: f32,
}

/// Advances one member by one step (see the module docs).
pub fn step(m: &AbmModel, ctx: &StepCtx, p: &Params, src: &[f32], dst: &mut [f32]) {
    let l = m.layout;
    let g = l.sites();
    let n = src[l.h(H_COUNT)] as usize;
    let xs = &src[l.x()..l.x() + n];
    let ys = &src[l.y()..l.y() + n];
    let kinds = &src[l.kind()..l.kind() + n];
    let states = &src[l.state()..l.state() + n];
    let clocks = &src[l.clock()..l.clock() + n];
    let ids = &src[l.id()..l.id() + n];
    dst[l.h(0)..l.h(HEADER)].copy_from_slice(&src[l.h(0)..l.h(HEADER)]);

    // Bins and fields.
    let bins = Bins::build(m, xs, ys);
    let (d_o2, d_drug) = denominators(m, p, &bins, kinds, states);
    dst[..2 * g].copy_from_slice(&src[..2 * g]);
    let drug_edge = m.drug_edge(ctx.step);
    let (o2, drug) = dst[..2 * g].split_at_mut(g);
    sor_sweeps(o2, &d_o2, l.nx, l.ny, p.o2_boundary, m.omega, m.sweeps);
    sor_sweeps(drug, &d_drug, l.nx, l.ny, drug_edge, m.omega, m.sweeps);
    let o2 = &dst[..g];
    let drug = &dst[g..2 * g];

    // Per agent: forces, migration, fate.
    let saturated = src[l.h(H_SATURATED)] > 0.0;
    let fates: Vec<Fate> = (0..n)
        .map(|i| {
            let ki = kinds[i] as u32;
            let si = states[i] as u32;
            let ri = p.radius(ki);
            let b = bins.site[i];
            let (bx, by) = (b % l.nx, b / l.nx);
            // Repulsion (linear springs, summed with their stiffness for the
            // linearly implicit update below) and adhesion (explicit).
            let (mut fx, mut fy, mut stiff) = (0.0f32, 0.0f32, 0.0f32);
            let (mut vx, mut vy) = (0.0f32, 0.0f32);
            let mut contacts = 0u32;
            for yy in by.saturating_sub(1)..=(by + 1).min(l.ny - 1) {
                for xx in bx.saturating_sub(1)..=(bx + 1).min(l.nx - 1) {
                    for &j in bins.members(yy * l.nx + xx) {
                        if j == i {
                            continue;
                        }
                        let kj = kinds[j] as u32;
                        let sj = states[j] as u32;
                        let dx = xs[i] - xs[j];
                        let dy = ys[i] - ys[j];
                        let d2 = dx * dx + dy * dy;
                        let r = ri + p.radius(kj);
                        let ra = r * ADH_RANGE;
                        if kj == IMMUNE && sj == LIVE && d2 < r * r {
                            contacts += 1;
                        }
                        if d2 < ra * ra && d2 > 0.0 {
                            let d = d2.sqrt();
                            if d < r {
                                let q = 1.0 - d / r;
                                fx += p.repulsion * q * dx / d;
                                fy += p.repulsion * q * dy / d;
                                stiff += p.repulsion / r;
                            }
                            if p.adhesion > 0.0 && si == LIVE && sj == LIVE {
                                let qa = 1.0 - d / ra;
                                let f = p.adhesion * qa * qa;
                                vx -= f * dx / d;
                                vy -= f * dy / d;
                            }
                        }
                    }
                }
            }
            let u = agent_uniforms(ctx, ids[i]);
            let (mut mx, mut my) = (0.0f32, 0.0f32);
            if ki == IMMUNE && si == LIVE {
                // Down the oxygen gradient (towards consuming tissue), mixed
                // with a random direction.
                let at = |x: isize, y: isize| {
                    if x < 0 || y < 0 || x >= l.nx as isize || y >= l.ny as isize {
                        p.o2_boundary
                    } else {
                        o2[y as usize * l.nx + x as usize]
                    }
                };
                let (cx, cy) = (bx as isize, by as isize);
                let gx = at(cx + 1, cy) - at(cx - 1, cy);
                let gy = at(cx, cy + 1) - at(cx, cy - 1);
                let g2 = gx * gx + gy * gy;
                let (mut tx, mut ty) = (0.0f32, 0.0f32);
                // Contact inhibition: a cell touching another stops its
                // directed migration (its random walk goes on).
                if g2 > 0.0 && stiff == 0.0 {
                    let inv = 1.0 / g2.sqrt();
                    tx = -gx * inv;
                    ty = -gy * inv;
                }
                let th = TAU * u[3];
                let rw = 1.0 - p.immune_bias;
                mx = p.immune_speed * (p.immune_bias * tx + rw * th.cos());
                my = p.immune_speed * (p.immune_bias * ty + rw * th.sin());
            }
            // Springs and migration share one overdamped balance, linearly
            // implicit in the springs: a pair's overlap shrinks by
            // (1 − a)/(1 + a) per step (a = dt·rep/R), stable for any dt,
            // and a migrating cell pressed into others settles where the
            // springs balance its drive instead of climbing over them.
            let damp = 1.0 / (1.0 + m.dt * stiff);
            vx += (fx + mx) * damp;
            vy += (fy + my) * damp;
            let nx = (xs[i] + m.dt * vx).max(ri).min(m.lx - ri);
            let ny = (ys[i] + m.dt * vy).max(ri).min(m.ly - ri);
            let mut f = Fate {
                x: nx,
                y: ny,
                slots: 1,
                killed: false,
                state: si as f32,
                clock: clocks[i] + m.dt,
            };
            match (ki, si) {
                (TUMOUR, LIVE) => {
                    let c = o2[b];
                    let cd = drug[b];
                    if contacts > 0 {
                        let mut q = 1.0f32;
                        for _ in 0..contacts {
                            q *= 1.0 - p.kill_probability;
                        }
                        if u[0] < 1.0 - q {
                            f.state = APOPTOTIC as f32;
                            f.clock = 0.0;
                            f.killed = true;
                        }
                    }
                    if !f.killed {
                        let nec = ((p.necrosis_o2 - c) / (p.necrosis_o2 - p.necrosis_o2_max))
                            .clamp(0.0, 1.0);
                        let h_nec = p.necrosis_rate * nec;
                        let mut h_drug = 0.0f32;
                        if cd > 0.0 {
                            let ch = cd.powf(p.drug_hill);
                            h_drug = p.drug_kill_rate * ch / (ch + p.drug_ec50.powf(p.drug_hill));
                        }
                        let h = p.apoptosis_rate + h_drug + h_nec;
                        let p_die = 1.0 - (-h * m.dt).exp();
                        if u[1] < p_die {
                            f.state = if u[1] < p_die * (h_nec / h) {
                                NECROTIC
                            } else {
                                APOPTOTIC
                            } as f32;
                            f.clock = 0.0;
                        } else {
                            let grow = ((c - p.prolif_o2_low)
                                / (p.prolif_o2_high - p.prolif_o2_low))
                                .clamp(0.0, 1.0);
                            let rate = LN2 / p.doubling_time * grow;
                            // exp(r·dt) − 1 per step: the expected count grows
                            // by exactly 2 per doubling time.
                            let p_div = ((rate * m.dt).exp() - 1.0).min(1.0);
                            if u[2] < p_div && !saturated {
                                f.slots = 2;
                            }
                        }
                    }
                }
                (IMMUNE, LIVE) => {
                    let p_die = 1.0 - (-p.immune_death_rate * m.dt).exp();
                    if u[1] < p_die {
                        f.slots = 0;
                    }
                }
                (_, APOPTOTIC) if f.clock >= p.apoptotic_duration => f.slots = 0,
                (_, NECROTIC) if f.clock >= p.necrotic_duration => f.slots = 0,
                _ => {}
            }
            f
        })
        .collect();

    // Compaction in agent order; daughters right after their parent.
    let total: u32 = fates.iter().map(|f| f.slots).sum();
    let overflow = total as usize > l.cap;
    if overflow {
        dst[l.h(H_SATURATED)] = (ctx.step + 1) as f32;
    }
    let next_id = src[l.h(H_NEXT_ID)] as u32;
    let (mut at, mut born, mut kills) = (0usize, 0u32, 0u32);
    for (i, f) in fates.iter().enumerate() {
        kills += f.killed as u32;
        if f.slots == 0 {
            continue;
        }
        let ki = kinds[i] as u32;
        let (mut px, mut py) = (f.x, f.y);
        let divides = f.slots == 2 && !overflow;
        let mut clock = f.clock;
        if divides {
            let th = TAU * agent_uniforms(ctx, ids[i])[3];
            let half = 0.5 * p.radius(ki);
            let ox = half * th.cos();
            let oy = half * th.sin();
            let r = p.radius(ki);
            px = (f.x - ox).max(r).min(m.lx - r);
            py = (f.y - oy).max(r).min(m.ly - r);
            let dxp = (f.x + ox).max(r).min(m.lx - r);
            let dyp = (f.y + oy).max(r).min(m.ly - r);
            clock = 0.0;
            write_agent(
                &l,
                dst,
                at + 1,
                [
                    dxp,
                    dyp,
                    ki as f32,
                    LIVE as f32,
                    0.0,
                    (next_id + born) as f32,
                ],
            );
            born += 1;
        }
        write_agent(&l, dst, at, [px, py, ki as f32, f.state, clock, ids[i]]);
        at += if divides { 2 } else { 1 };
    }
    dst[l.h(H_COUNT)] = at as f32;
    dst[l.h(H_NEXT_ID)] = (next_id + born) as f32;
    dst[l.h(H_KILLS)] = src[l.h(H_KILLS)] + kills as f32;
    observe_header(m, p, dst);
}

/// The four uniforms of an agent's step: Philox counter (id, member, step,
/// `Stream::Agents`), as the WGSL draws them.
fn agent_uniforms(ctx: &StepCtx, id: f32) -> [f32; 4] {
    draw4(
        ctx.seed,
        id as u32,
        ctx.member,
        ctx.step,
        Stream::Agents as u32,
    )
    .map(u32_to_unit_f32)
}

fn write_agent(l: &Layout, dst: &mut [f32], slot: usize, a: [f32; 6]) {
    for (k, v) in a.into_iter().enumerate() {
        dst[l.x() + k * l.cap + slot] = v;
    }
}

/// Per-invocation partial sums over `n` items in contiguous chunks, then
/// the workgroup's pairwise tree: the GPU's reduction order.
pub fn chunked_sum(n: usize, item: impl Fn(usize) -> [f32; 4]) -> [f32; 4] {
    let ch = n.div_ceil(THREADS);
    let mut part = [[0.0f32; 4]; THREADS];
    for (t, slot) in part.iter_mut().enumerate() {
        let lo = (t * ch).min(n);
        let hi = (lo + ch).min(n);
        for i in lo..hi {
            let v = item(i);
            for (a, b) in slot.iter_mut().zip(v) {
                *a += b;
            }
        }
    }
    let mut s = THREADS / 2;
    while s > 0 {
        for t in 0..s {
            let other = part[t + s];
            for (a, b) in part[t].iter_mut().zip(other) {
                *a += b;
            }
        }
        s /= 2;
    }
    part[0]
}

/// Recomputes the header scalars (counts, radii, mean fields) from the
/// member's agents and fields.
pub fn observe_header(m: &AbmModel, p: &Params, s: &mut [f32]) {
    let l = m.layout;
    let g = l.sites();
    let n = s[l.h(H_COUNT)] as usize;
    let (x, y) = (&s[l.x()..l.x() + n], &s[l.y()..l.y() + n]);
    let (kind, state) = (&s[l.kind()..l.kind() + n], &s[l.state()..l.state() + n]);
    let counts = chunked_sum(n, |i| {
        let (k, st) = (kind[i] as u32, state[i] as u32);
        [
            (k == TUMOUR && st == LIVE) as u32 as f32,
            (k == IMMUNE && st == LIVE) as u32 as f32,
            (st == APOPTOTIC) as u32 as f32,
            (st == NECROTIC) as u32 as f32,
        ]
    });
    let tum = chunked_sum(n, |i| {
        if kind[i] as u32 == TUMOUR {
            [1.0, x[i], y[i], 0.0]
        } else {
            [0.0; 4]
        }
    });
    let o2_sum = chunked_sum(g, |b| [s[l.o2() + b], s[l.drug() + b], 0.0, 0.0]);
    let (cx, cy) = if tum[0] > 0.0 {
        (tum[1] / tum[0], tum[2] / tum[0])
    } else {
        (0.5 * m.lx, 0.5 * m.ly)
    };
    let spread = chunked_sum(n, |i| {
        if kind[i] as u32 != TUMOUR {
            return [0.0; 4];
        }
        let dx = x[i] - cx;
        let dy = y[i] - cy;
        let r2 = dx * dx + dy * dy;
        let nec = if state[i] as u32 == NECROTIC { r2 } else { 0.0 };
        [r2, nec, 0.0, 0.0]
    });
    let radius = |sum: f32, count: f32| {
        if count > 0.0 {
            ((2.0 * sum) / count).sqrt()
        } else {
            0.0
        }
    };
    let h = |w| l.h(w);
    s[h(H_LIVE)] = counts[0] + counts[1];
    s[h(H_LIVE_TUMOUR)] = counts[0];
    s[h(H_LIVE_IMMUNE)] = counts[1];
    s[h(H_APOPTOTIC)] = counts[2];
    s[h(H_NECROTIC)] = counts[3];
    s[h(H_TUMOUR_AREA)] = tum[0] * cell_area(p, TUMOUR);
    s[h(H_TUMOUR_RADIUS)] = radius(spread[0], tum[0]);
    s[h(H_NECROTIC_RADIUS)] = radius(spread[1], counts[3]);
    s[h(H_MEAN_O2)] = o2_sum[0] * m.inv_sites;
    s[h(H_MEAN_DRUG)] = o2_sum[1] * m.inv_sites;
}
