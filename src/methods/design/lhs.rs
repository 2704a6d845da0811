//! Latin hypercube designs in the unit cube: in every dimension, each of the
//! `n` strata `[k/n, (k+1)/n)` holds exactly one point, placed uniformly at
//! random inside its stratum (McKay, Beckman & Conover 1979).
//!
//! `maximin_lhs` draws [`MAXIMIN_CANDIDATES`] Latin hypercubes from the
//! same seeded generator (the first is the plain `lhs` with that seed) and
//! keeps the one whose smallest pairwise Euclidean distance is largest; its
//! cost is O(candidates · n² · d), meant for designs up to a few thousand
//! rows (refused above [`MAXIMIN_MAX_ROWS`]).
//!
//! Owns: unit-cube points only.

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// How many Latin hypercubes `maximin_lhs` compares.
pub const MAXIMIN_CANDIDATES: usize = 32;

/// The largest `n` for which `--maximin` is allowed (its cost grows as n²).
pub const MAXIMIN_MAX_ROWS: usize = 10_000;

/// A random Latin hypercube of `n` points in `d` dimensions.
pub fn lhs(n: usize, d: usize, rng: &mut StdRng) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0.0; d]; n];
    let mut perm: Vec<usize> = (0..n).collect();
    for j in 0..d {
        perm.shuffle(rng);
        for (row, &k) in out.iter_mut().zip(&perm) {
            row[j] = (k as f64 + rng.random::<f64>()) / n as f64;
        }
    }
    out
}

/// The smallest squared Euclidean distance between two rows (infinity for
/// fewer than two rows).
pub fn min_sq_distance(points: &[Vec<f64>]) -> f64 {
    let mut best = f64::INFINITY;
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            let d2: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
            best = best.min(d2);
        }
    }
    best
}

/// The best of [`MAXIMIN_CANDIDATES`] Latin hypercubes by the maximin
/// criterion.
pub fn maximin_lhs(n: usize, d: usize, rng: &mut StdRng) -> Vec<Vec<f64>> {
    let mut best = lhs(n, d, rng);
    let mut best_dist = min_sq_distance(&best);
    for _ in 1..MAXIMIN_CANDIDATES {
        let cand = lhs(n, d, rng);
        let dist = min_sq_distance(&cand);
        if dist > best_dist {
            best = cand;
            best_dist = dist;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn assert_stratified(points: &[Vec<f64>], d: usize) {
        let n = points.len();
        for j in 0..d {
            let mut hit = vec![false; n];
            for p in points {
                assert!((0.0..1.0).contains(&p[j]));
                let k = (p[j] * n as f64) as usize;
                assert!(!hit[k], "dimension {j}: stratum {k} holds two points");
                hit[k] = true;
            }
        }
    }

    /// One point per stratum in every dimension, for plain and maximin LHS.
    #[test]
    fn every_stratum_holds_one_point() {
        let mut rng = StdRng::seed_from_u64(3);
        assert_stratified(&lhs(97, 5, &mut rng), 5);
        assert_stratified(&maximin_lhs(40, 3, &mut rng), 3);
    }

    /// Maximin keeps the best candidate, and the first candidate is the
    /// plain design from the same seed: its minimum distance can only be as
    /// large or larger — and over 32 candidates it is strictly larger here.
    #[test]
    fn maximin_spreads_points_at_least_as_well_as_plain_lhs() {
        for seed in 0..5 {
            let plain = lhs(30, 2, &mut StdRng::seed_from_u64(seed));
            let best = maximin_lhs(30, 2, &mut StdRng::seed_from_u64(seed));
            assert!(
                min_sq_distance(&best) > min_sq_distance(&plain),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn same_seed_same_design() {
        let a = lhs(10, 3, &mut StdRng::seed_from_u64(9));
        let b = lhs(10, 3, &mut StdRng::seed_from_u64(9));
        let c = lhs(10, 3, &mut StdRng::seed_from_u64(10));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
