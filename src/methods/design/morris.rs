//! Morris trajectories (Morris 1991) in the unit cube, built as SALib does:
//! on a `p`-level grid `{0, 1/(p−1), …, 1}` with step Δ = p/(2(p−1)), a base
//! point is drawn from the levels `x ≤ 1 − Δ`; each coordinate starts at `x`
//! (moving up) or `x + Δ` (moving down), with a random direction per
//! coordinate, and the coordinates change one at a time in a random order.
//! A trajectory is `D + 1` rows; consecutive rows differ in exactly one
//! coordinate, by ±Δ, and each coordinate moves exactly once. `p` must be
//! even so that `x + Δ` is a grid level.
//!
//! Owns: unit-cube points only.

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Morris' step Δ = p / (2(p − 1)) for `p` levels.
pub fn delta(levels: u32) -> f64 {
    let p = levels as f64;
    p / (2.0 * (p - 1.0))
}

/// `n` trajectories of `d + 1` rows each, stacked (`levels` even, ≥ 2).
pub fn trajectories(n: usize, d: usize, levels: u32, rng: &mut StdRng) -> Vec<Vec<f64>> {
    let step = delta(levels);
    let grid = (levels - 1) as f64;
    // Base levels k/(p−1) with k/(p−1) + Δ ≤ 1, i.e. k < p/2.
    let base_levels = levels / 2;
    let mut out = Vec::with_capacity(n * (d + 1));
    let mut order: Vec<usize> = (0..d).collect();
    for _ in 0..n {
        let mut x: Vec<f64> = Vec::with_capacity(d);
        let mut up: Vec<bool> = Vec::with_capacity(d);
        for _ in 0..d {
            let k = rng.random_range(0..base_levels);
            let goes_up = rng.random::<bool>();
            let base = k as f64 / grid;
            x.push(if goes_up { base } else { base + step });
            up.push(goes_up);
        }
        order.shuffle(rng);
        out.push(x.clone());
        for &i in &order {
            x[i] += if up[i] { step } else { -step };
            // Snap tiny rounding so values stay on the grid's representation.
            x[i] = (x[i] * grid).round() / grid;
            out.push(x.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Each step changes one coordinate by ±Δ, every coordinate once per
    /// trajectory, and all points sit on the p-level grid.
    #[test]
    fn trajectories_move_one_factor_at_a_time() {
        for levels in [2, 4, 6] {
            let (n, d) = (20, 5);
            let step = delta(levels);
            let t = trajectories(n, d, levels, &mut StdRng::seed_from_u64(1));
            assert_eq!(t.len(), n * (d + 1));
            for traj in t.chunks(d + 1) {
                let mut moved = vec![0; d];
                for w in traj.windows(2) {
                    let changed: Vec<usize> = (0..d).filter(|&j| w[0][j] != w[1][j]).collect();
                    assert_eq!(changed.len(), 1);
                    let j = changed[0];
                    assert!(((w[1][j] - w[0][j]).abs() - step).abs() < 1e-12);
                    moved[j] += 1;
                }
                assert!(moved.iter().all(|&m| m == 1));
                for row in traj {
                    for &v in row {
                        let k = v * (levels - 1) as f64;
                        assert!(
                            (0.0..=1.0).contains(&v) && (k - k.round()).abs() < 1e-12,
                            "{v}"
                        );
                    }
                }
            }
        }
        assert_eq!(delta(4), 2.0 / 3.0);
    }
}
