//! What a finished calibration should tell its user: where ABC-SMC
//! stopped short of its target and what to change, and posteriors that pile
//! at a prior bound. Returns the messages; the caller prints them.

use super::{AbcConfig, AbcMode, AbcResult, AbcStop, Posterior};
use crate::input::params::{Distribution, ParamBlock};

/// Warnings for when a varying parameter's posterior piles up at a bound of its
/// prior: more than 10 % of the weight within the 2 % of the prior range
/// nearest to the bound (on the log scale for log-uniform priors).
pub fn prior_bound_warnings(prior: &ParamBlock, post: &Posterior) -> Vec<String> {
    let mut out = Vec::new();
    for &i in &prior.varying() {
        let p = &prior.params[i];
        let (lo, hi, log) = match p.dist {
            Distribution::Uniform { low, high } => (low, high, false),
            Distribution::TruncNormal { low, high, .. } if low.is_finite() && high.is_finite() => {
                (low, high, false)
            }
            Distribution::LogUniform { low, high } => (low.ln(), high.ln(), true),
            _ => continue,
        };
        let width = hi - lo;
        let mut mass = [0.0, 0.0];
        let total: f64 = post.weights.iter().sum();
        for (d, w) in post.draws.iter().zip(&post.weights) {
            let x = if log { d[i].ln() } else { d[i] };
            if x - lo <= 0.02 * width {
                mass[0] += w / total;
            }
            if hi - x <= 0.02 * width {
                mass[1] += w / total;
            }
        }
        for (side, m, bound) in [("lower", mass[0], lo), ("upper", mass[1], hi)] {
            if m > 0.1 {
                let bound = if log { bound.exp() } else { bound };
                out.push(format!(
                    "warning: the posterior of `{}` piles at its prior's {side} bound {bound} \
                     ({:.0} % of the weight within 2 % of the prior range): the data may favour values \
                     outside the prior; widen it if such values are plausible",
                    p.name,
                    100.0 * m
                ));
            }
        }
    }
    out
}

/// Warnings about where ABC-SMC stopped.
pub fn abc_warnings(res: &AbcResult, c: &AbcConfig, rows: usize) -> Vec<String> {
    let mut out = Vec::new();
    let last = res.last();
    let early = matches!(
        res.stop,
        AbcStop::MaxGenerations | AbcStop::SimulationBudget | AbcStop::LowAcceptance
    );
    match c.mode {
        AbcMode::Kernel if early => {
            let target = if c.final_epsilon > 0.0 {
                c.final_epsilon
            } else {
                1.0
            };
            out.push(format!(
                "warning: stopped at {} with the kernel bandwidth at ε = {:.4}, not yet {target} \
                 (1 = the error model, the exact posterior): the sample is wider than the posterior by about \
                 that factor. Raise --generations (calibrate.abc.max_generations, now {}) or --max-simulations \
                 (now {}), lower calibrate.abc.alpha for larger steps, or use --method tempered-smc",
                res.stop.name(),
                last.epsilon,
                c.max_generations,
                c.max_simulations
            ));
        }
        AbcMode::Noisy if early => {
            out.push(format!(
                "warning: stopped at {} with ε = {:.4}: noisy ABC reaches the posterior only as \
                 ε → 0, so the sample is wider than the posterior. Raise --generations / --max-simulations, \
                 or use --mode kernel or --method tempered-smc, which reach it at a finite cost",
                res.stop.name(),
                last.epsilon
            ));
        }
        AbcMode::Deterministic => {
            let noise_level = noise_epsilon(rows);
            if last.epsilon < noise_level {
                out.push(format!(
                    "note: mode deterministic: the final tolerance ε = {:.3} is below {noise_level:.3}, \
                     the distance the true parameters stay within with 95 % probability for {rows} rows with the \
                     stated sd's (√ of the χ² 95 % quantile); the sample collapses towards the best fit and is \
                     narrower than the posterior. Use --mode kernel (the default) for the posterior, or set \
                     --final-epsilon {noise_level:.3} to stop at the noise level (a confidence set)",
                    last.epsilon
                ));
            }
        }
        _ => {}
    }
    out
}

/// √ of the χ² 95 % quantile with `rows` degrees of freedom: with
/// independent Gaussian errors of the stated sd's, the distance of the
/// true parameters' simulation from the data stays below this with
/// probability 95 % (the distance² is χ²-distributed with `rows` degrees of
/// freedom).
pub fn noise_epsilon(rows: usize) -> f64 {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    ChiSquared::new(rows.max(1) as f64)
        .map(|c| c.inverse_cdf(0.95).sqrt())
        .unwrap_or((rows as f64).sqrt())
}

#[cfg(test)]
mod tests {
    /// χ² 95 % quantiles from tables: 16 dof 26.296, 1 dof 3.841.
    #[test]
    fn noise_epsilon_is_the_chi2_quantile() {
        assert!((super::noise_epsilon(16) - 26.296f64.sqrt()).abs() < 1e-3);
        assert!((super::noise_epsilon(1) - 3.841f64.sqrt()).abs() < 1e-3);
    }
}
