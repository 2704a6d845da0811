//! Small statistics shared by `select` and `compare`: the two-sample
//! Kolmogorov–Smirnov test, means and standardised mean differences, and a
//! binned Gaussian kernel density estimate.
//!
//! Owns: these formulas only. Never touches tables or files.

/// Mean and sample standard deviation (n − 1); `None` for an empty sample,
/// sd 0 for a single value. The mean is taken about the first value, so a
/// constant sample has exactly its value as mean and sd 0 (a plain
/// `Σx / n` can miss by an ulp, and then two constant samples of different
/// sizes would get a meaningless SMD of rounding error over rounding error).
pub fn mean_sd(x: &[f64]) -> Option<(f64, f64)> {
    let &x0 = x.first()?;
    let n = x.len() as f64;
    let m = x0 + x.iter().map(|v| v - x0).sum::<f64>() / n;
    let v = if x.len() > 1 {
        x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((m, v.sqrt()))
}

/// Standardised mean difference `(m_a − m_b) / sqrt((s_a² + s_b²) / 2)`.
/// `Some(0)` when both samples are constant and equal, `None` when the pooled
/// sd is 0 but the means differ, or a sample is empty.
pub fn smd(a: &[f64], b: &[f64]) -> Option<f64> {
    let ((ma, sa), (mb, sb)) = (mean_sd(a)?, mean_sd(b)?);
    smd_from(ma, sa * sa, mb, sb * sb)
}

/// The SMD from means and variances (for proportions pass `p (1 − p)`).
pub fn smd_from(ma: f64, va: f64, mb: f64, vb: f64) -> Option<f64> {
    let pooled = ((va + vb) / 2.0).sqrt();
    if pooled > 0.0 {
        Some((ma - mb) / pooled)
    } else if ma == mb {
        Some(0.0)
    } else {
        None
    }
}

/// Two-sample KS statistic `D = sup |F_a − F_b|` for samples already sorted
/// ascending (NaNs removed). Ties are handled by stepping past equal values
/// in both samples together.
pub fn ks_statistic_sorted(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// Sorts a copy with NaNs dropped.
pub fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Kolmogorov's limiting survival function `Q(λ) = 2 Σ_{k≥1} (−1)^{k−1}
/// exp(−2 k² λ²)`, with the Jacobi-theta form `1 − (√(2π)/λ) Σ
/// exp(−(2k−1)² π² / (8 λ²))` below λ = 1.18 where the first converges slowly.
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    let q = if lambda < 1.18 {
        let y = std::f64::consts::PI.powi(2) / (8.0 * lambda * lambda);
        let s: f64 = (1..=6)
            .map(|k| (-((2 * k - 1) as f64).powi(2) * y).exp())
            .sum();
        1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * s
    } else {
        let s: f64 = (1..=100)
            .map(|k| {
                let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
                sign * (-2.0 * (k * k) as f64 * lambda * lambda).exp()
            })
            .sum();
        2.0 * s
    };
    q.clamp(0.0, 1.0)
}

/// Result of a two-sample KS test.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct KsTest {
    pub statistic: f64,
    /// Asymptotic p-value with Stephens' small-sample correction:
    /// `Q((√n_e + 0.12 + 0.11/√n_e) D)`, `n_e = n_a n_b / (n_a + n_b)`.
    pub p_value: f64,
}

/// KS test on sorted samples.
pub fn ks_test_sorted(a: &[f64], b: &[f64]) -> KsTest {
    let d = ks_statistic_sorted(a, b);
    let ne = (a.len() * b.len()) as f64 / (a.len() + b.len()).max(1) as f64;
    let p = if d.is_nan() {
        f64::NAN
    } else {
        kolmogorov_q((ne.sqrt() + 0.12 + 0.11 / ne.sqrt()) * d)
    };
    KsTest {
        statistic: d,
        p_value: p,
    }
}

/// KS test on unsorted samples (NaNs dropped).
pub fn ks_test(a: &[f64], b: &[f64]) -> KsTest {
    ks_test_sorted(&sorted(a), &sorted(b))
}

/// A Gaussian kernel density estimate, binned on a regular grid (linear
/// binning, kernel cut at 5 bandwidths, linear interpolation between grid
/// points), so evaluating it at n points costs O(n + grid).
#[derive(Clone, Debug)]
pub struct Kde {
    lo: f64,
    dx: f64,
    density: Vec<f64>,
    pub bandwidth: f64,
}

const KDE_GRID: usize = 2048;

impl Kde {
    /// Silverman's rule of thumb `h = 0.9 min(sd, IQR/1.34) n^(−1/5)` (falling
    /// back to the sd, then to 1e-3 of the scale, for degenerate samples).
    pub fn new(samples: &[f64]) -> Option<Kde> {
        let x = sorted(samples);
        let (_, sd) = mean_sd(&x)?;
        let q = |p: f64| x[((x.len() - 1) as f64 * p).round() as usize];
        let iqr = (q(0.75) - q(0.25)) / 1.34;
        let spread = if iqr > 0.0 { sd.min(iqr) } else { sd };
        let scale = x[x.len() - 1].abs().max(x[0].abs()).max(1.0);
        let h = if spread > 0.0 {
            0.9 * spread * (x.len() as f64).powf(-0.2)
        } else {
            1e-3 * scale
        };
        Some(Kde::with_bandwidth(&x, h))
    }

    /// A KDE of sorted, NaN-free `x` with bandwidth `h > 0`.
    pub fn with_bandwidth(x: &[f64], h: f64) -> Kde {
        let lo = x[0] - 5.0 * h;
        let hi = x[x.len() - 1] + 5.0 * h;
        let dx = (hi - lo) / (KDE_GRID - 1) as f64;
        let mut counts = vec![0.0; KDE_GRID];
        for &v in x {
            let g = (v - lo) / dx;
            let k = (g.floor() as usize).min(KDE_GRID - 2);
            let w = g - k as f64;
            counts[k] += 1.0 - w;
            counts[k + 1] += w;
        }
        let reach = (5.0 * h / dx).ceil() as isize;
        let kernel: Vec<f64> = (-reach..=reach)
            .map(|o| {
                let z = o as f64 * dx / h;
                (-0.5 * z * z).exp() / (h * (2.0 * std::f64::consts::PI).sqrt())
            })
            .collect();
        let n = x.len() as f64;
        let mut density = vec![0.0; KDE_GRID];
        for (k, &c) in counts.iter().enumerate().filter(|(_, c)| **c > 0.0) {
            for (o, kv) in kernel.iter().enumerate() {
                let t = k as isize + o as isize - reach;
                if (0..KDE_GRID as isize).contains(&t) {
                    density[t as usize] += c * kv / n;
                }
            }
        }
        Kde {
            lo,
            dx,
            density,
            bandwidth: h,
        }
    }

    /// The density at `v` (0 outside the grid).
    pub fn eval(&self, v: f64) -> f64 {
        let g = (v - self.lo) / self.dx;
        if !(g >= 0.0 && g <= (KDE_GRID - 1) as f64) {
            return 0.0;
        }
        let k = (g.floor() as usize).min(KDE_GRID - 2);
        let w = g - k as f64;
        self.density[k] * (1.0 - w) + self.density[k + 1] * w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_samples_of_any_size_have_zero_smd() {
        let (a, b) = (vec![0.0035; 1000], vec![0.0035; 10_000]);
        assert_eq!(mean_sd(&a), Some((0.0035, 0.0)));
        assert_eq!(smd(&a, &b), Some(0.0));
        assert_eq!(smd(&a, &[0.004; 3]), None);
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(m, 2.5);
        assert!((s * s - 5.0 / 3.0).abs() < 1e-15, "variance {}", s * s);
    }

    /// Hand-computed statistics on small samples.
    #[test]
    fn ks_statistic_known_values() {
        assert_eq!(
            ks_statistic_sorted(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]),
            0.5
        );
        assert_eq!(ks_statistic_sorted(&[1.0, 2.0], &[3.0, 4.0, 5.0]), 1.0);
        // F_a − F_b at 0.3: 1 − 1/4.
        assert_eq!(
            ks_statistic_sorted(&[0.1, 0.2, 0.3], &[0.25, 0.35, 0.45, 0.55]),
            0.75
        );
        // Ties across samples: equal samples give 0.
        assert_eq!(ks_statistic_sorted(&[1.0, 1.0, 2.0], &[1.0, 1.0, 2.0]), 0.0);
        assert_eq!(
            ks_test(&[3.0, 1.0, 2.0], &[f64::NAN, 2.0, 1.0, 3.0]).statistic,
            0.0
        );
    }

    /// Kolmogorov distribution: Q(1) = 0.26999967, Q(0.5) = 0.96394524 and
    /// Q(1.3581) = 0.0499996 (the familiar 5 % critical value 1.358); both
    /// series forms agree at 1.18.
    #[test]
    fn kolmogorov_survival_known_values() {
        assert!((kolmogorov_q(1.0) - 0.269_999_671_677_354_6).abs() < 1e-9);
        assert!((kolmogorov_q(1.358_1) - 0.05).abs() < 1e-5);
        assert!((kolmogorov_q(0.5) - 0.963_945_243_664_875_1).abs() < 1e-9);
        let lam: f64 = 1.18;
        let series: f64 = (1..=100)
            .map(|k| {
                (if k % 2 == 1 { 2.0 } else { -2.0 }) * (-2.0 * (k * k) as f64 * lam * lam).exp()
            })
            .sum();
        assert!((kolmogorov_q(lam - 1e-12) - series).abs() < 1e-10);
    }

    #[test]
    fn smd_known_values() {
        assert_eq!(smd(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0]), Some(-1.0));
        assert_eq!(smd(&[1.0, 1.0], &[1.0]), Some(0.0));
        assert_eq!(smd(&[1.0, 1.0], &[2.0]), None);
        assert_eq!(smd(&[], &[2.0]), None);
    }

    /// The KDE of a large normal sample integrates to 1 and matches the
    /// normal density at its mode within the smoothing bias (h²/2 · |f''|).
    #[test]
    fn kde_recovers_a_normal_density() {
        let n = 20_000;
        let x: Vec<f64> = (0..n)
            .map(|i| crate::input::params::norm_ppf((i as f64 + 0.5) / n as f64))
            .collect();
        let kde = Kde::new(&x).unwrap();
        let f0 = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        // Smoothing by h inflates the variance to 1 + h²: f(0) = f0 / sqrt(1 + h²).
        let expect = f0 / (1.0 + kde.bandwidth * kde.bandwidth).sqrt();
        assert!(
            (kde.eval(0.0) - expect).abs() < 2e-3,
            "{} vs {expect}",
            kde.eval(0.0)
        );
        let integral: f64 = (-800..800).map(|k| kde.eval(k as f64 * 0.01) * 0.01).sum();
        assert!((integral - 1.0).abs() < 1e-3, "integral {integral}");
        assert_eq!(kde.eval(50.0), 0.0);
    }
}
