//! The CPU twin of the generated `observe` kernel, in the kernel's
//! reduction order (256 strided partial sums, then the pairwise tree), and
//! the saturation status word.

use super::{GridShape, OBSERVE_THREADS, ObsOp, Reduction};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::observe::{block_reduction, probe_reduction};

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
}
