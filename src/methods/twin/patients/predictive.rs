//! Predictive distribution of a future reading from a forecast ensemble:
//! an equal-weight mixture over members of the observation-error
//! distribution around each member's value — N(v_j, s_j²) with
//! s_j = max(sd, rel_sd·|v_j|), or for an observable assimilated on a log
//! scale the log-normal with ln-median ln v_j and ln-SD s_j / v_j. Mean and
//! SD are the mixture's exact moments; quantiles invert the mixture CDF by
//! bisection (to 1e-12 relative). Non-finite members are left out.
//!
//! With a detection limit L in the error model, the distribution is that
//! of the reading *as it would be reported*: a reading at or below L is
//! reported as 0, as clinical series report a complete response, so the
//! predictive has an atom of mass F(L) at 0 (F the mixture's CDF). Its
//! quantiles at levels ≤ F(L) are 0; its mean and SD come from the
//! mixture's exact partial moments above L (normal: E[Y; Y > L] =
//! μ(1 − Φ(z)) + sφ(z), E[Y²; Y > L] = (μ² + s²)(1 − Φ(z)) + sφ(z)(μ + L),
//! z = (L − μ)/s; log-normal: E[Yᵏ; Y > L] = exp(kμ + k²s²/2)·
//! Φ((μ + ks² − ln L)/s)).
//!
//! Owns: these numbers only (no tables, no engine).

use super::analysis::LOG_FLOOR;
use super::data::ErrorModel;
use crate::input::params::norm_cdf;

/// Standard normal density.
fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// E[Yᵏ; Y > limit] for k = 1, 2 of one component: normal (`log` false)
/// or log-normal with ln-location `mu` and ln-scale `s`.
fn partial_moments(mu: f64, s: f64, log: bool, limit: f64) -> (f64, f64) {
    if s <= 0.0 {
        let y = if log { mu.exp() } else { mu };
        return if y > limit { (y, y * y) } else { (0.0, 0.0) };
    }
    if log {
        let ll = limit.max(f64::MIN_POSITIVE).ln();
        (
            (mu + 0.5 * s * s).exp() * norm_cdf((mu + s * s - ll) / s),
            (2.0 * mu + 2.0 * s * s).exp() * norm_cdf((mu + 2.0 * s * s - ll) / s),
        )
    } else {
        let z = (limit - mu) / s;
        let (tail, dens) = (1.0 - norm_cdf(z), norm_pdf(z));
        (
            mu * tail + s * dens,
            (mu * mu + s * s) * tail + s * dens * (mu + limit),
        )
    }
}

/// Summary of a predictive distribution.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictive {
    pub mean: f64,
    pub sd: f64,
    /// At the requested levels, in order.
    pub quantiles: Vec<f64>,
    /// Members that entered.
    pub members: usize,
}

/// The mixture of one requested reading: member values `v`, error model
/// `err` (None: no observation noise), `log` scale, quantile `levels`.
pub fn predictive(v: &[f64], err: Option<&ErrorModel>, log: bool, levels: &[f64]) -> Predictive {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let n = v.len();
    if n == 0 {
        return Predictive {
            mean: f64::NAN,
            sd: f64::NAN,
            quantiles: vec![f64::NAN; levels.len()],
            members: 0,
        };
    }
    // Components: (location, scale) in the natural (linear) or log space.
    let comps: Vec<(f64, f64)> = v
        .iter()
        .map(|&x| {
            let s = err.map_or(0.0, |e| e.sd_at(x));
            if log {
                let x = x.max(LOG_FLOOR);
                (x.ln(), s / x)
            } else {
                (x, s)
            }
        })
        .collect();
    let limit = err.and_then(|e| e.detection_limit);
    let (mut m1, mut m2) = (0.0, 0.0);
    for &(mu, s) in &comps {
        let (a, b) = if let Some(l) = limit {
            partial_moments(mu, s, log, l)
        } else if log {
            // Log-normal moments.
            ((mu + 0.5 * s * s).exp(), (2.0 * mu + 2.0 * s * s).exp())
        } else {
            (mu, mu * mu + s * s)
        };
        m1 += a / n as f64;
        m2 += b / n as f64;
    }
    let cdf = |x: f64| -> f64 {
        // The point on the components' scale, once per evaluation.
        let z = if log {
            x.max(f64::MIN_POSITIVE).ln()
        } else {
            x
        };
        comps
            .iter()
            .map(|&(mu, s)| {
                if s > 0.0 {
                    norm_cdf((z - mu) / s)
                } else if z >= mu {
                    1.0
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            / n as f64
    };
    // Bracket: every component's ±12 SD.
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(mu, s) in &comps {
        lo = lo.min(mu - 12.0 * s);
        hi = hi.max(mu + 12.0 * s);
    }
    if log {
        (lo, hi) = (lo.exp(), hi.exp());
    }
    // Mass reported as 0 (at or below the detection limit).
    let atom = limit.map_or(0.0, &cdf);
    let quantiles = levels
        .iter()
        .map(|&q| {
            if q <= atom {
                return 0.0;
            }
            let (mut a, mut b) = (lo, hi);
            for _ in 0..200 {
                let mid = if log && a > 0.0 {
                    (a * b).sqrt()
                } else {
                    0.5 * (a + b)
                };
                if cdf(mid) < q {
                    a = mid;
                } else {
                    b = mid;
                }
                if (b - a).abs() <= 1e-12 * b.abs().max(f64::MIN_POSITIVE) {
                    break;
                }
            }
            b
        })
        .collect();
    Predictive {
        mean: m1,
        sd: (m2 - m1 * m1).max(0.0).sqrt(),
        quantiles,
        members: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_member_gives_the_error_distribution() {
        let e = ErrorModel {
            sd: 0.5,
            rel_sd: 0.0,
            detection_limit: None,
        };
        let p = predictive(&[2.0], Some(&e), false, &[0.05, 0.5, 0.95]);
        assert!((p.mean - 2.0).abs() < 1e-12 && (p.sd - 0.5).abs() < 1e-12);
        assert!((p.quantiles[0] - (2.0 - 1.6448536269514722 * 0.5)).abs() < 1e-6);
        assert!((p.quantiles[1] - 2.0).abs() < 1e-9);
        // Log scale, 10 % error: ln-SD 0.1 around ln 2.
        let e = ErrorModel {
            sd: 0.0,
            rel_sd: 0.1,
            detection_limit: None,
        };
        let p = predictive(&[2.0], Some(&e), true, &[0.95]);
        assert!((p.quantiles[0] - 2.0 * (1.6448536269514722f64 * 0.1).exp()).abs() < 1e-6);
        assert!((p.mean - 2.0 * (0.005f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn members_without_noise_give_the_empirical_mixture() {
        let v: Vec<f64> = (0..4).map(|i| i as f64).collect();
        let p = predictive(&v, None, false, &[0.5]);
        assert!((p.mean - 1.5).abs() < 1e-12);
        // Var over 4 point masses with divisor n.
        assert!((p.sd - 1.25f64.sqrt()).abs() < 1e-12);
        assert!((p.quantiles[0] - 1.0).abs() < 1e-9);
        let p = predictive(&[f64::NAN, 1.0], None, false, &[0.5]);
        assert_eq!(p.members, 1);
    }

    /// With a detection limit the reading is reported as 0 at or below it:
    /// one normal member N(1, 1) with L = 1 puts half the mass at 0, so
    /// q25 = 0, q75 is the uncensored quartile, and the moments are those
    /// of Y·1{Y > 1}: mean 1·½ + φ(0) = ½ + 1/√(2π), also checked, with
    /// the SD, against numerical integration.
    #[test]
    fn censored_readings_are_reported_as_zero() {
        let e = ErrorModel {
            sd: 1.0,
            rel_sd: 0.0,
            detection_limit: Some(1.0),
        };
        let p = predictive(&[1.0], Some(&e), false, &[0.25, 0.75]);
        assert_eq!(p.quantiles[0], 0.0);
        assert!((p.quantiles[1] - (1.0 + 0.6744897501960817)).abs() < 1e-6);
        // Trapezoid rule of y·φ(y − 1) and y²·φ(y − 1) over (1, 13).
        let (mut e1, mut e2) = (0.0, 0.0);
        let h = 1e-4;
        for i in 0..120_000 {
            let y = 1.0 + (i as f64 + 0.5) * h;
            let w = norm_pdf(y - 1.0) * h;
            e1 += y * w;
            e2 += y * y * w;
        }
        assert!((p.mean - e1).abs() < 1e-6, "{} vs {e1}", p.mean);
        assert!((p.sd - (e2 - e1 * e1).sqrt()).abs() < 1e-6);
        assert!((p.mean - (0.5 + 1.0 / (2.0 * std::f64::consts::PI).sqrt())).abs() < 1e-9);
        // Log-normal: ln-median ln 0.01, ln-SD 1, limit 0.01 → half at 0;
        // mean e^{μ+½}·Φ(1) (numerically integrated the same way).
        let e = ErrorModel {
            sd: 0.0,
            rel_sd: 1.0,
            detection_limit: Some(0.01),
        };
        let p = predictive(&[0.01], Some(&e), true, &[0.4, 0.6]);
        assert_eq!(p.quantiles[0], 0.0);
        assert!((p.quantiles[1] - 0.01 * 0.2533471031357997f64.exp()).abs() < 1e-9);
        let want = (0.01f64.ln() + 0.5).exp() * norm_cdf(1.0);
        assert!((p.mean - want).abs() < 1e-12 * want.max(1.0) + 1e-15);
        // No member near the limit: the same numbers as without it.
        let far = ErrorModel {
            detection_limit: Some(1e-9),
            ..e.clone()
        };
        let (a, b) = (
            predictive(&[0.5], Some(&far), true, &[0.05, 0.5]),
            predictive(
                &[0.5],
                Some(&ErrorModel {
                    detection_limit: None,
                    ..e
                }),
                true,
                &[0.05, 0.5],
            ),
        );
        assert!((a.mean - b.mean).abs() < 1e-12 && a.quantiles == b.quantiles);
    }
}
