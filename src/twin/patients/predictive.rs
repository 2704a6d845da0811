//! Predictive distribution of a future reading from a forecast ensemble:
//! an equal-weight mixture over members of the observation-error
//! distribution around each member's value — N(v_j, s_j²) with
//! s_j = max(sd, rel_sd·|v_j|), or for an observable assimilated on a log
//! scale the log-normal with ln-median ln v_j and ln-SD s_j / v_j. Mean and
//! SD are the mixture's exact moments; quantiles invert the mixture CDF by
//! bisection (to 1e-12 relative). Non-finite members are left out.
//!
//! Owns: these numbers only (no tables, no engine).

use super::analysis::LOG_FLOOR;
use super::data::ErrorModel;
use crate::params::norm_cdf;

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
    let (mut m1, mut m2) = (0.0, 0.0);
    for &(mu, s) in &comps {
        let (a, b) = if log {
            // Log-normal moments.
            ((mu + 0.5 * s * s).exp(), (2.0 * mu + 2.0 * s * s).exp())
        } else {
            (mu, mu * mu + s * s)
        };
        m1 += a / n as f64;
        m2 += b / n as f64;
    }
    let cdf = |x: f64| -> f64 {
        comps
            .iter()
            .map(|&(mu, s)| {
                let z = if log {
                    x.max(f64::MIN_POSITIVE).ln()
                } else {
                    x
                };
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
    let quantiles = levels
        .iter()
        .map(|&q| {
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
}
