//! The scores of one predictive distribution against one outcome, and their
//! sums over a group of rows.
//!
//! - **CRPS from quantiles** (the headline `crps`). The CRPS is twice the
//!   integral of the quantile (pinball) score over all levels,
//!   CRPS(F, y) = 2 ∫₀¹ QS_τ(F⁻¹(τ), y) dτ with QS_τ(q, y) = (1{y < q} − τ)(q − y)
//!   (Gneiting & Raftery 2007, *JASA* 102:359, Section 4.2; Laio & Tamea 2007,
//!   *HESS* 11:1267). With the K quantile levels a forecast gives, the
//!   integral becomes the average, 2/K Σₖ QS_τₖ(qₖ, y). For the levels 0.05,
//!   0.25, 0.5, 0.75, 0.95 this is exactly the weighted interval score of
//!   Bracher, Ray, Gneiting & Reich (2021, *PLoS Comput. Biol.* 17:e1008618)
//!   with the 50 % and 90 % intervals and the median. It uses no
//!   distributional assumption, and it approaches the CRPS as levels are
//!   added (it leaves out the tails beyond the outermost levels).
//! - **CRPS of a Gaussian** (`crps_gaussian`) with the row's `mean` and `sd`:
//!   σ [z (2Φ(z) − 1) + 2φ(z) − 1/√π], z = (y − μ)/σ (Gneiting & Raftery
//!   2007, eq. 21); |y − μ| when σ = 0. Exact when the predictive
//!   distribution is Gaussian, for comparison.
//! - **PIT histogram from quantiles.** The bins are the intervals between the
//!   forecast's own levels, [0, τ₁), [τ₁, τ₂), …, [τ_K, 1]; the outcome falls
//!   in bin j when q_j < y < q_{j+1}, which a calibrated forecast does with
//!   probability τ_{j+1} − τ_j (printed as `expected`). No interpolation
//!   between quantiles is needed. When y equals several quantiles (a point
//!   mass, e.g. every quantile 0 and y = 0) its one unit of count is spread
//!   uniformly over the levels of the tied quantiles, the non-randomised PIT
//!   of Czado, Gneiting & Held (2009, *Biometrics* 65:1254); when it equals
//!   one quantile q_k it counts in the bin above τ_k.
//! - **Coverage**: y inside [q25, q75] (50 %) or [q05, q95] (90 %), ends
//!   included.
//!
//! Pure functions; no files, no printing.

use serde::Serialize;

/// The quantile (pinball) score QS_τ(q, y) = (1{y < q} − τ)(q − y) ≥ 0.
pub fn pinball(tau: f64, q: f64, y: f64) -> f64 {
    let below = if y < q { 1.0 } else { 0.0 };
    (below - tau) * (q - y)
}

/// CRPS from quantiles: 2/K Σₖ QS_τₖ(qₖ, y) (module docs).
pub fn crps_quantiles(levels: &[f64], quantiles: &[f64], y: f64) -> f64 {
    let k = levels.len() as f64;
    let sum: f64 = levels
        .iter()
        .zip(quantiles)
        .map(|(&t, &q)| pinball(t, q, y))
        .sum();
    2.0 * sum / k
}

/// Standard normal cumulative distribution function.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2)
}

/// Closed-form CRPS of N(mu, sd²) at y (module docs).
pub fn crps_gaussian(mu: f64, sd: f64, y: f64) -> f64 {
    if sd == 0.0 {
        return (y - mu).abs();
    }
    let z = (y - mu) / sd;
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    sd * (z * (2.0 * normal_cdf(z) - 1.0) + 2.0 * pdf - 1.0 / std::f64::consts::PI.sqrt())
}

/// The PIT count of one outcome over the K + 1 bins between 0, the levels
/// and 1 (module docs). The result sums to 1.
pub fn pit_mass(levels: &[f64], quantiles: &[f64], y: f64) -> Vec<f64> {
    let k = levels.len();
    let mut mass = vec![0.0; k + 1];
    let below = quantiles.iter().filter(|&&q| q < y).count();
    let at_or_below = quantiles.iter().filter(|&&q| q <= y).count();
    if at_or_below <= below + 1 {
        mass[at_or_below] = 1.0;
        return mass;
    }
    // Tied quantiles below+1 ..= at_or_below (1-based): spread over the
    // levels τ_{below+1} .. τ_{at_or_below}, i.e. bins below+1 .. at_or_below-1.
    let (lo, hi) = (levels[below], levels[at_or_below - 1]);
    for (j, m) in mass
        .iter_mut()
        .enumerate()
        .take(at_or_below)
        .skip(below + 1)
    {
        *m = (levels[j] - levels[j - 1]) / (hi - lo);
    }
    mass
}

/// Running sums of a group of scored rows.
#[derive(Clone, Debug, Default)]
pub struct Acc {
    n: usize,
    abs_mean: f64,
    sq_mean: f64,
    abs_q50: f64,
    sq_q50: f64,
    crps: f64,
    crps_gauss: f64,
    in50: usize,
    in90: usize,
    pit: Vec<f64>,
    lvcf_n: usize,
    lvcf_none: usize,
    lvcf_abs: f64,
    lvcf_sq: f64,
    lvcf_abs_q50: f64,
    lvcf_abs_mean: f64,
}

/// What one row contributes (computed once, added to several groups).
#[derive(Clone, Debug)]
pub struct RowScore {
    pub err_mean: f64,
    pub err_q50: f64,
    pub crps: f64,
    pub crps_gaussian: f64,
    pub in50: bool,
    pub in90: bool,
    pub pit: Vec<f64>,
    /// Error of the last value carried forward, when there is one.
    pub err_lvcf: Option<f64>,
}

/// Indices of q05, q25, q50, q75, q95 among a forecast's levels.
#[derive(Clone, Copy, Debug)]
pub struct Central {
    pub q05: usize,
    pub q25: usize,
    pub q50: usize,
    pub q75: usize,
    pub q95: usize,
}

impl Central {
    pub fn find(levels: &[f64]) -> Option<Central> {
        let at = |l: f64| levels.iter().position(|&x| x == l);
        Some(Central {
            q05: at(0.05)?,
            q25: at(0.25)?,
            q50: at(0.5)?,
            q75: at(0.75)?,
            q95: at(0.95)?,
        })
    }
}

/// Scores one row: predictive `mean`, `sd`, `quantiles` at `levels`,
/// outcome `y`, baseline value `lvcf`.
pub fn score_row(
    levels: &[f64],
    c: Central,
    mean: f64,
    sd: f64,
    quantiles: &[f64],
    y: f64,
    lvcf: Option<f64>,
) -> RowScore {
    let inside = |lo: usize, hi: usize| quantiles[lo] <= y && y <= quantiles[hi];
    RowScore {
        err_mean: mean - y,
        err_q50: quantiles[c.q50] - y,
        crps: crps_quantiles(levels, quantiles, y),
        crps_gaussian: crps_gaussian(mean, sd, y),
        in50: inside(c.q25, c.q75),
        in90: inside(c.q05, c.q95),
        pit: pit_mass(levels, quantiles, y),
        err_lvcf: lvcf.map(|v| v - y),
    }
}

impl Acc {
    pub fn add(&mut self, s: &RowScore) {
        self.n += 1;
        self.abs_mean += s.err_mean.abs();
        self.sq_mean += s.err_mean * s.err_mean;
        self.abs_q50 += s.err_q50.abs();
        self.sq_q50 += s.err_q50 * s.err_q50;
        self.crps += s.crps;
        self.crps_gauss += s.crps_gaussian;
        self.in50 += usize::from(s.in50);
        self.in90 += usize::from(s.in90);
        if self.pit.len() < s.pit.len() {
            self.pit.resize(s.pit.len(), 0.0);
        }
        for (a, b) in self.pit.iter_mut().zip(&s.pit) {
            *a += b;
        }
        match s.err_lvcf {
            Some(e) => {
                self.lvcf_n += 1;
                self.lvcf_abs += e.abs();
                self.lvcf_sq += e * e;
                self.lvcf_abs_q50 += s.err_q50.abs();
                self.lvcf_abs_mean += s.err_mean.abs();
            }
            None => self.lvcf_none += 1,
        }
    }

    /// The group's metrics; `levels` gives the PIT bins, `baseline` whether
    /// an observation file was given.
    pub fn finish(&self, levels: &[f64], baseline: bool) -> Metrics {
        let n = self.n as f64;
        let avg = |s: f64, k: usize| (k > 0).then(|| s / k as f64);
        let rms = |s: f64, k: usize| (k > 0).then(|| (s / k as f64).sqrt());
        let edges: Vec<f64> = std::iter::once(0.0)
            .chain(levels.iter().copied())
            .chain(std::iter::once(1.0))
            .collect();
        let pit = (0..=levels.len())
            .map(|j| {
                let count = self.pit.get(j).copied().unwrap_or(0.0);
                PitBin {
                    lo: edges[j],
                    hi: edges[j + 1],
                    count,
                    fraction: (self.n > 0).then(|| count / n),
                    expected: edges[j + 1] - edges[j],
                }
            })
            .collect();
        let coverage = |inside: usize, nominal: f64| Coverage {
            nominal,
            inside,
            n: self.n,
            fraction: avg(inside as f64, self.n),
        };
        Metrics {
            n: self.n,
            mae_mean: avg(self.abs_mean, self.n),
            rmse_mean: rms(self.sq_mean, self.n),
            mae_q50: avg(self.abs_q50, self.n),
            rmse_q50: rms(self.sq_q50, self.n),
            crps: avg(self.crps, self.n),
            crps_gaussian: avg(self.crps_gauss, self.n),
            coverage_50: coverage(self.in50, 0.5),
            coverage_90: coverage(self.in90, 0.9),
            pit,
            lvcf: baseline.then(|| Lvcf {
                n: self.lvcf_n,
                without_previous: self.lvcf_none,
                mae: avg(self.lvcf_abs, self.lvcf_n),
                rmse: rms(self.lvcf_sq, self.lvcf_n),
                forecast_mae_q50: avg(self.lvcf_abs_q50, self.lvcf_n),
                forecast_mae_mean: avg(self.lvcf_abs_mean, self.lvcf_n),
            }),
        }
    }
}

/// Scores of a group of rows. A metric is `null` when the group is empty.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    /// Rows scored.
    pub n: usize,
    pub mae_mean: Option<f64>,
    pub rmse_mean: Option<f64>,
    pub mae_q50: Option<f64>,
    pub rmse_q50: Option<f64>,
    /// CRPS from the quantiles (weighted interval score).
    pub crps: Option<f64>,
    /// CRPS of N(mean, sd²).
    pub crps_gaussian: Option<f64>,
    pub coverage_50: Coverage,
    pub coverage_90: Coverage,
    pub pit: Vec<PitBin>,
    /// The last-value-carried-forward baseline (absent without `--obs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvcf: Option<Lvcf>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub nominal: f64,
    pub inside: usize,
    pub n: usize,
    pub fraction: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PitBin {
    pub lo: f64,
    pub hi: f64,
    /// Outcomes in the bin (fractional where ties are spread).
    pub count: f64,
    pub fraction: Option<f64>,
    /// The fraction a calibrated forecast puts here: hi − lo.
    pub expected: f64,
}

/// Point errors of the last value carried forward, over the rows that have
/// an earlier observation, with the forecast's errors on the same rows.
#[derive(Clone, Debug, Serialize)]
pub struct Lvcf {
    pub n: usize,
    /// Scored rows with no observation of that patient and observable
    /// strictly before the forecast time (left out of the baseline).
    pub without_previous: usize,
    pub mae: Option<f64>,
    pub rmse: Option<f64>,
    pub forecast_mae_q50: Option<f64>,
    pub forecast_mae_mean: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const L5: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

    #[test]
    fn gaussian_crps_matches_hand_values() {
        // N(0,1) at y = 0: 2φ(0) − 1/√π = 0.797884561 − 0.564189584.
        assert!((crps_gaussian(0.0, 1.0, 0.0) - 0.233_694_977).abs() < 1e-8);
        // At y = 1: 1·(2Φ(1) − 1) + 2φ(1) − 1/√π
        // = 0.682689492 + 0.483941449 − 0.564189584 = 0.602441358.
        assert!((crps_gaussian(0.0, 1.0, 1.0) - 0.602_441_358).abs() < 1e-8);
        // Scale and shift: N(3, 2²) at 5 is 2 × the N(0,1) value at 1.
        assert!((crps_gaussian(3.0, 2.0, 5.0) - 1.204_882_715).abs() < 1e-8);
        assert_eq!(crps_gaussian(1.0, 0.0, 3.5), 2.5);
    }

    #[test]
    fn quantile_crps_is_the_weighted_interval_score() {
        // Quantiles 1, 2, 3, 4, 5 at 0.05 … 0.95, outcome 3.5:
        // QS: 0.05·2.5, 0.25·1.5, 0.5·0.5, (1−0.75)·0.5, (1−0.95)·1.5
        //   = 0.125 + 0.375 + 0.25 + 0.125 + 0.075 = 0.95; CRPS = 2·0.95/5 = 0.38.
        let q = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!((crps_quantiles(&L5, &q, 3.5) - 0.38).abs() < 1e-12);
        // Bracher et al.: WIS = (|y−m|/2 + Σ α/2·IS_α)/(K + 1/2), with
        // IS_0.5 = 2 and IS_0.1 = 4 here: (0.25 + 0.25·2 + 0.05·4)/2.5 = 0.38.
        // Outcome above every quantile: each QS is τ (y − q).
        let far = crps_quantiles(&L5, &q, 10.0);
        let hand = 2.0 * (0.05 * 9.0 + 0.25 * 8.0 + 0.5 * 7.0 + 0.75 * 6.0 + 0.95 * 5.0) / 5.0;
        assert!((far - hand).abs() < 1e-12);
    }

    #[test]
    fn many_quantiles_of_a_gaussian_approach_its_crps() {
        // 99 levels 0.01..0.99 of N(0,1): the average over levels is a
        // Riemann sum of 2∫QS dτ; it comes within about 1 % of the exact
        // CRPS (computed independently: +0.95 %, +0.99 %, +1.01 %).
        let levels: Vec<f64> = (1..=99).map(|k| k as f64 / 100.0).collect();
        let n = statrs::distribution::Normal::standard();
        use statrs::distribution::ContinuousCDF;
        let q: Vec<f64> = levels.iter().map(|&t| n.inverse_cdf(t)).collect();
        for y in [0.0, 0.7, -2.0] {
            let exact = crps_gaussian(0.0, 1.0, y);
            let approx = crps_quantiles(&levels, &q, y);
            assert!(
                (approx - exact).abs() < 0.015 * exact,
                "y={y}: {approx} vs {exact}"
            );
        }
    }

    #[test]
    fn pit_bins_follow_the_quantiles() {
        let q = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(pit_mass(&L5, &q, 0.5), vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(pit_mass(&L5, &q, 2.5), vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(pit_mass(&L5, &q, 9.0), vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        // Equal to one quantile: the bin above its level.
        assert_eq!(pit_mass(&L5, &q, 3.0), vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        // A point mass at 0 covering every level: spread over [0.05, 0.95]
        // in proportion 0.2 : 0.25 : 0.25 : 0.2 of 0.9.
        let z = [0.0; 5];
        let m = pit_mass(&L5, &z, 0.0);
        let want = [0.0, 0.2 / 0.9, 0.25 / 0.9, 0.25 / 0.9, 0.2 / 0.9, 0.0];
        for (a, b) in m.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{m:?}");
        }
        // Ties at q25 = q50 = q75 = 2: spread over [0.25, 0.75].
        let t = [1.0, 2.0, 2.0, 2.0, 5.0];
        assert_eq!(pit_mass(&L5, &t, 2.0), vec![0.0, 0.0, 0.5, 0.5, 0.0, 0.0]);
    }

    #[test]
    fn sums_give_mae_rmse_coverage_and_baseline() {
        let c = Central::find(&L5).unwrap();
        let q = [1.0, 2.0, 3.0, 4.0, 5.0];
        let mut acc = Acc::default();
        // y = 3.5: inside both intervals; y = 4.5: only the 90 %; y = 6: none.
        for (y, lvcf) in [(3.5, Some(3.0)), (4.5, Some(6.5)), (6.0, None)] {
            acc.add(&score_row(&L5, c, 3.0, 1.0, &q, y, lvcf));
        }
        let m = acc.finish(&L5, true);
        assert_eq!(m.n, 3);
        // |3 − y| = 0.5, 1.5, 3 → MAE 5/3, RMSE √(11.5/3).
        assert!((m.mae_mean.unwrap() - 5.0 / 3.0).abs() < 1e-12);
        assert!((m.rmse_q50.unwrap() - (11.5f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!((m.coverage_50.inside, m.coverage_90.inside), (1, 2));
        let l = m.lvcf.unwrap();
        // Baseline errors 0.5 and 2 on the two rows that have one.
        assert_eq!((l.n, l.without_previous), (2, 1));
        assert!((l.mae.unwrap() - 1.25).abs() < 1e-12);
        assert!((l.forecast_mae_q50.unwrap() - 1.0).abs() < 1e-12);
        let counts: Vec<f64> = m.pit.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(m.pit[0].expected, 0.05);
        // An empty group has null metrics.
        let e = Acc::default().finish(&L5, false);
        assert!(e.mae_mean.is_none() && e.lvcf.is_none() && e.coverage_90.fraction.is_none());
    }
}
