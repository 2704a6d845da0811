//! Random and weighted-sample helpers shared by the calibration drivers:
//! keyed sub-streams of `crate::core::rng` (Philox), Latin hypercubes, and
//! weighted means, covariances and quantiles.
//!
//! Owns: small numerical helpers only. Never touches files, the simulator or
//! the parameter block.

use crate::core::rng::{KeyedStream, Stream, draw4};
use nalgebra::{DMatrix, DVector};

/// A 64-bit seed derived from `seed` and three counters by one Philox
/// draw on the `Method` stream: independent sub-streams such as
/// (generation, batch, purpose) without any hidden state.
pub fn sub_seed(seed: u64, keys: [u32; 3]) -> u64 {
    let r = draw4(seed, keys[0], keys[1], keys[2], Stream::Method as u32);
    ((r[0] as u64) << 32) | r[1] as u64
}

/// A keyed generator of uniforms and normals for (seed, keys).
pub fn keyed(seed: u64, keys: [u32; 3]) -> KeyedStream {
    KeyedStream::new(sub_seed(seed, keys), 0, Stream::Method as u32)
}

/// A uniform index in 0..n (n > 0).
pub fn index_below(rng: &mut KeyedStream, n: usize) -> usize {
    ((rng.uniform() * n as f64) as usize).min(n - 1)
}

/// A Latin hypercube of `n` points in `[0, 1]^d`: each coordinate has one
/// point in each of its `n` strata, at a random place inside the stratum.
pub fn latin_hypercube(n: usize, d: usize, rng: &mut KeyedStream) -> Vec<Vec<f64>> {
    let mut pts = vec![vec![0.0; d]; n];
    for j in 0..d {
        let mut perm: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let k = index_below(rng, i + 1);
            perm.swap(i, k);
        }
        for (i, p) in pts.iter_mut().enumerate() {
            p[j] = (perm[i] as f64 + rng.uniform()) / n as f64;
        }
    }
    pts
}

/// Normalises weights to sum to one; `None` when their sum is not positive.
pub fn normalise(weights: &[f64]) -> Option<Vec<f64>> {
    let s: f64 = weights.iter().sum();
    (s > 0.0 && s.is_finite()).then(|| weights.iter().map(|w| w / s).collect())
}

/// Turns log weights into normalised weights (log-sum-exp).
pub fn normalise_log(logw: &[f64]) -> Option<Vec<f64>> {
    let m = logw.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return None;
    }
    normalise(&logw.iter().map(|l| (l - m).exp()).collect::<Vec<_>>())
}

/// Effective sample size 1 / Σ w² of normalised weights.
pub fn ess(weights: &[f64]) -> f64 {
    1.0 / weights.iter().map(|w| w * w).sum::<f64>()
}

/// The weighted mean and covariance (divided by 1 − Σw², the unbiased
/// form for normalised weights) of `points` (rows).
pub fn weighted_mean_cov(points: &[Vec<f64>], weights: &[f64]) -> (DVector<f64>, DMatrix<f64>) {
    let d = points.first().map_or(0, Vec::len);
    let mut mean = DVector::zeros(d);
    for (p, w) in points.iter().zip(weights) {
        for k in 0..d {
            mean[k] += w * p[k];
        }
    }
    let mut cov = DMatrix::zeros(d, d);
    for (p, w) in points.iter().zip(weights) {
        for a in 0..d {
            for b in 0..=a {
                cov[(a, b)] += w * (p[a] - mean[a]) * (p[b] - mean[b]);
            }
        }
    }
    let denom = 1.0 - weights.iter().map(|w| w * w).sum::<f64>();
    let denom = if denom > 1e-12 { denom } else { 1.0 };
    for a in 0..d {
        for b in 0..=a {
            cov[(a, b)] /= denom;
            cov[(b, a)] = cov[(a, b)];
        }
    }
    (mean, cov)
}

/// The weighted `q`-quantile of `values` (normalised weights): the smallest
/// value whose cumulative weight reaches `q`.
pub fn weighted_quantile(values: &[f64], weights: &[f64], q: f64) -> f64 {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    for &i in &idx {
        acc += weights[i] / total;
        if acc >= q - 1e-12 {
            return values[i];
        }
    }
    idx.last().map_or(f64::NAN, |&i| values[i])
}

/// A lower-triangular Cholesky factor of a covariance matrix; a growing
/// ridge is added to the diagonal when the matrix is (numerically) not
/// positive definite. `None` only for a matrix with non-finite entries.
pub fn robust_cholesky(cov: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    if cov.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let scale = (0..cov.nrows())
        .map(|i| cov[(i, i)].abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    let mut ridge = 0.0;
    for _ in 0..12 {
        let m = cov + DMatrix::identity(cov.nrows(), cov.ncols()) * ridge;
        if let Some(c) = nalgebra::linalg::Cholesky::new(m) {
            return Some(c.l());
        }
        ridge = if ridge == 0.0 {
            scale * 1e-12
        } else {
            ridge * 100.0
        };
    }
    None
}

/// Picks an index by weight with one uniform `u` in [0, 1), from the
/// cumulative weights (last entry = total).
pub fn pick_by_cumulative(cumulative: &[f64], u: f64) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let target = u * total;
    let i = cumulative.partition_point(|&c| c <= target);
    i.min(cumulative.len().saturating_sub(1))
}

/// Running sums of `weights`.
pub fn cumulative(weights: &[f64]) -> Vec<f64> {
    weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_streams_differ_and_repeat() {
        assert_eq!(sub_seed(7, [1, 2, 0]), sub_seed(7, [1, 2, 0]));
        assert_ne!(sub_seed(7, [1, 2, 0]), sub_seed(7, [2, 1, 0]));
        assert_ne!(sub_seed(7, [1, 0, 0]), sub_seed(8, [1, 0, 0]));
        let mut rng = keyed(3, [0, 0, 0]);
        let counts = (0..30_000).fold([0usize; 3], |mut c, _| {
            c[index_below(&mut rng, 3)] += 1;
            c
        });
        // Each count is Binomial(30 000, 1/3): sd ≈ 82.
        assert!(
            counts.iter().all(|&c| (c as f64 - 10_000.0).abs() < 400.0),
            "{counts:?}"
        );
    }

    #[test]
    fn latin_hypercube_fills_every_stratum_once() {
        let pts = latin_hypercube(17, 3, &mut keyed(3, [0, 0, 0]));
        for j in 0..3 {
            let mut strata: Vec<usize> = pts.iter().map(|p| (p[j] * 17.0) as usize).collect();
            strata.sort();
            assert_eq!(strata, (0..17).collect::<Vec<_>>());
        }
    }

    #[test]
    fn weighted_statistics_match_hand_values() {
        let v = [1.0, 2.0, 3.0, 4.0];
        let w = [0.1, 0.2, 0.3, 0.4];
        assert_eq!(weighted_quantile(&v, &w, 0.5), 3.0);
        assert_eq!(weighted_quantile(&v, &w, 0.05), 1.0);
        assert_eq!(weighted_quantile(&v, &w, 1.0), 4.0);
        let pts: Vec<Vec<f64>> = v.iter().map(|x| vec![*x]).collect();
        let (m, c) = weighted_mean_cov(&pts, &w);
        assert!((m[0] - 3.0).abs() < 1e-12);
        // Σ w (x − 3)² = 0.4 + 0.2 + 0 + 0.4 = 1.0; 1 − Σ w² = 0.7.
        assert!((c[(0, 0)] - 1.0 / 0.7).abs() < 1e-12);
        assert!((ess(&w) - 1.0 / 0.3).abs() < 1e-12);
        let cum = cumulative(&w);
        assert_eq!(pick_by_cumulative(&cum, 0.0), 0);
        assert_eq!(pick_by_cumulative(&cum, 0.15), 1);
        assert_eq!(pick_by_cumulative(&cum, 0.999), 3);
    }
}
