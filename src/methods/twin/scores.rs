//! Ensemble statistics of the twin outputs: weighted moments, quantiles
//! with their Monte Carlo intervals, event probabilities with their
//! standard errors, and the continuous ranked probability score.
//!
//! Conventions: weights are normalised (Σw = 1); equal weights 1/N for the
//! Kalman-type filters. Quantiles interpolate the weighted empirical CDF at
//! the mid-points of the sorted members' weights (Hazen's rule for equal
//! weights: the k-th of N sorted values sits at (k − ½)/N).

/// Equal weights.
pub fn equal(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}

/// Effective sample size 1/Σw².
pub fn ess(w: &[f64]) -> f64 {
    1.0 / w.iter().map(|x| x * x).sum::<f64>()
}

/// Weighted mean and standard deviation (variance with the unbiased
/// factor 1/(1 − Σw²), which is N/(N − 1) for equal weights).
pub fn mean_sd(x: &[f64], w: &[f64]) -> (f64, f64) {
    let mean: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum();
    let s2: f64 = w.iter().map(|b| b * b).sum();
    let var: f64 = x.iter().zip(w).map(|(a, b)| b * (a - mean).powi(2)).sum();
    let unbias = if s2 < 1.0 { 1.0 / (1.0 - s2) } else { 1.0 };
    (mean, (var * unbias).sqrt())
}

/// Weighted quantile `q` ∈ [0, 1] (see the module docs for the rule).
pub fn quantile(x: &[f64], w: &[f64], q: f64) -> f64 {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut cum = 0.0;
    let mut prev: Option<(f64, f64)> = None;
    // Members without weight carry no probability mass: they are not
    // interpolation nodes.
    for &i in idx.iter().filter(|&&i| w[i] > 0.0) {
        let p = cum + 0.5 * w[i];
        cum += w[i];
        if p >= q {
            return match prev {
                None => x[i],
                Some((pp, xp)) if p > pp => xp + (x[i] - xp) * (q - pp) / (p - pp),
                Some(_) => x[i],
            };
        }
        prev = Some((p, x[i]));
    }
    prev.map_or(f64::NAN, |p| p.1)
}

/// A distribution-free 95 % Monte Carlo interval for quantile `q`: the
/// quantiles at q ± 1.96 √(q(1 − q)/N_eff) (the order-statistic interval).
pub fn quantile_interval(x: &[f64], w: &[f64], q: f64) -> (f64, f64) {
    let half = 1.96 * (q * (1.0 - q) / ess(w)).sqrt();
    (
        quantile(x, w, (q - half).max(0.0)),
        quantile(x, w, (q + half).min(1.0)),
    )
}

/// Probability of `hit` under the weights and its Monte Carlo standard
/// error √(p(1 − p)/N_eff).
pub fn probability(hit: &[bool], w: &[f64]) -> (f64, f64) {
    let p = hit
        .iter()
        .zip(w)
        .filter(|(h, _)| **h)
        .fold(0.0, |acc, (_, b)| acc + b);
    let p = p.clamp(0.0, 1.0);
    (p, (p * (1.0 - p) / ess(w)).sqrt())
}

/// CRPS of the weighted ensemble for outcome `y`:
/// Σ wᵢ|xᵢ − y| − ½ Σᵢⱼ wᵢwⱼ|xᵢ − xⱼ| (the ensemble's own distribution).
pub fn crps(x: &[f64], w: &[f64], y: f64) -> f64 {
    let a: f64 = x.iter().zip(w).map(|(v, b)| b * (v - y).abs()).sum();
    // Σᵢⱼ wᵢwⱼ|xᵢ − xⱼ| = 2 Σ over sorted pairs, in O(N log N).
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let (mut cw, mut cwx, mut pair) = (0.0, 0.0, 0.0);
    for &i in &idx {
        pair += w[i] * (x[i] * cw - cwx);
        cw += w[i];
        cwx += w[i] * x[i];
    }
    a - pair
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_follow_hazen_for_equal_weights() {
        let x = [3.0, 1.0, 4.0, 2.0];
        let w = equal(4);
        // Sorted 1, 2, 3, 4 at 0.125, 0.375, 0.625, 0.875.
        assert_eq!(quantile(&x, &w, 0.5), 2.5);
        assert_eq!(quantile(&x, &w, 0.125), 1.0);
        assert_eq!(quantile(&x, &w, 0.05), 1.0);
        assert_eq!(quantile(&x, &w, 0.95), 4.0);
        assert!((quantile(&x, &w, 0.25) - 1.5).abs() < 1e-12);
        // All weight on one member: every quantile is that member.
        assert_eq!(quantile(&x, &[0.0, 0.0, 1.0, 0.0], 0.3), 4.0);
    }

    /// CRPS of a two-member ensemble by hand, and against the integral
    /// definition ∫ (F(t) − 1{t ≥ y})² dt on a fine grid.
    #[test]
    fn crps_matches_its_definition() {
        let x = [0.0, 1.0];
        let w = equal(2);
        // E|X − y| − ½ E|X − X'| at y = 0.25: (0.25 + 0.75)/2 − ½·½ = 0.25.
        assert!((crps(&x, &w, 0.25) - 0.25).abs() < 1e-12);
        let x = [0.3, -1.2, 2.0, 0.7, 0.1];
        let w = [0.1, 0.3, 0.2, 0.25, 0.15];
        let y = 0.5;
        let n = 200_000;
        let (lo, hi) = (-3.0, 4.0);
        let h = (hi - lo) / n as f64;
        let mut integral = 0.0;
        for k in 0..n {
            let t = lo + (k as f64 + 0.5) * h;
            let f: f64 = x
                .iter()
                .zip(&w)
                .filter(|(v, _)| **v <= t)
                .map(|(_, b)| b)
                .sum();
            let step = if t >= y { 1.0 } else { 0.0 };
            integral += (f - step).powi(2) * h;
        }
        assert!((crps(&x, &w, y) - integral).abs() < 1e-4);
    }

    #[test]
    fn moments_and_probabilities() {
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0, 6.0], &equal(4));
        assert_eq!(m, 3.0);
        assert!((s - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let (p, se) = probability(&[true, false, false, true], &equal(4));
        assert_eq!(p, 0.5);
        assert!((se - 0.25).abs() < 1e-12);
    }
}
