//! A member's initial state: a spheroid of tumour cells on a hexagonal
//! lattice (touching neighbours) within `initial_radius` of the domain
//! centre, `immune_count` immune cells at keyed-random places outside it,
//! both fields solved to their quasi-steady state on the host, and the
//! header scalars. Host code, shared by both backends, so every backend
//! starts from the same bits.
//!
//! Owns: initial placement. Not the step.

use super::AbmModel;
use super::cpu::{Bins, denominators, observe_header};
use super::fields::sor_sweeps;
use super::layout::*;
use super::params::Params;
use crate::core::rng::{KeyedStream, Stream};

/// Centres of the initial tumour cells, row by row.
pub fn spheroid(m: &AbmModel, p: &Params) -> Vec<(f32, f32)> {
    let r = p.cell_radius as f64;
    let big = p.initial_radius as f64;
    let (cx, cy) = (0.5 * m.lx as f64, 0.5 * m.ly as f64);
    let a = 2.0 * r;
    let row = a * 3f64.sqrt() / 2.0;
    let reach = (big - r).max(0.0);
    let jmax = (reach / row).floor() as i64;
    let imax = (reach / a).ceil() as i64 + 1;
    let mut out = Vec::new();
    for j in -jmax..=jmax {
        let y = cy + j as f64 * row;
        let shift = if j.rem_euclid(2) == 1 { 0.5 * a } else { 0.0 };
        for i in -imax..=imax {
            let x = cx + i as f64 * a + shift;
            if (x - cx).powi(2) + (y - cy).powi(2) <= reach * reach + 1e-9 {
                out.push((x as f32, y as f32));
            }
        }
    }
    if out.is_empty() && big > 0.0 {
        out.push((cx as f32, cy as f32));
    }
    out
}

/// About how many cells [`spheroid`] places (disc area over the area of
/// one lattice cell, 2√3·r²), without laying them out; at least the exact
/// count minus a ring of cells.
pub fn spheroid_estimate(p: &Params) -> f64 {
    let r = p.cell_radius as f64;
    let reach = (p.initial_radius as f64 - r).max(0.0);
    std::f64::consts::PI * reach * reach / (2.0 * 3f64.sqrt() * r * r)
}

/// Writes member `member`'s initial state into `out` (`state_len` words).
pub fn init_member(m: &AbmModel, seed: u64, member: u32, p: &Params, out: &mut [f32]) {
    let l = m.layout;
    out.fill(0.0);
    let mut cells: Vec<(f32, f32, u32)> = spheroid(m, p)
        .into_iter()
        .map(|(x, y)| (x, y, TUMOUR))
        .collect();
    let immune = p.immune_count.max(0.0).round() as usize;
    let mut rng = KeyedStream::new(seed, member, Stream::Init as u32);
    let (cx, cy) = (0.5 * m.lx as f64, 0.5 * m.ly as f64);
    let ri = p.immune_radius as f64;
    let clear = p.initial_radius as f64 + 2.0 * ri;
    for _ in 0..immune {
        // Rejection sampling; a domain with no room outside the spheroid
        // gives up after a bounded number of tries (placing fewer cells).
        for _ in 0..1000 {
            let x = ri + rng.uniform() * (m.lx as f64 - 2.0 * ri);
            let y = ri + rng.uniform() * (m.ly as f64 - 2.0 * ri);
            if (x - cx).powi(2) + (y - cy).powi(2) > clear * clear {
                cells.push((x as f32, y as f32, IMMUNE));
                break;
            }
        }
    }
    cells.truncate(l.cap);
    let n = cells.len();
    for (i, &(x, y, k)) in cells.iter().enumerate() {
        out[l.x() + i] = x;
        out[l.y() + i] = y;
        out[l.kind() + i] = k as f32;
        out[l.state() + i] = LIVE as f32;
        out[l.clock() + i] = 0.0;
        out[l.id() + i] = i as f32;
    }
    out[l.h(H_COUNT)] = n as f32;
    out[l.h(H_NEXT_ID)] = n as f32;
    let g = l.sites();
    let (xs, ys) = (&out[l.x()..l.x() + n], &out[l.y()..l.y() + n]);
    let bins = Bins::build(m, xs, ys);
    let (d_o2, d_drug) = denominators(
        m,
        p,
        &bins,
        &out[l.kind()..l.kind() + n],
        &out[l.state()..l.state() + n],
    );
    let edge = m.drug_edge(0);
    let (o2, rest) = out.split_at_mut(g);
    let drug = &mut rest[..g];
    o2.fill(p.o2_boundary);
    drug.fill(edge);
    sor_sweeps(o2, &d_o2, l.nx, l.ny, p.o2_boundary, m.omega, m.init_sweeps);
    sor_sweeps(drug, &d_drug, l.nx, l.ny, edge, m.omega, m.init_sweeps);
    observe_header(m, p, out);
}
