//! The posterior of a calibration: weighted draws plus a parameter block
//! fitted to them (`posterior_dir` writes and reads it).
//!
//! The draws are the posterior; the fitted block is a faithful summary that
//! a scene can paste in: per parameter fixed (all draws equal), log-normal
//! (log-uniform or log-normal prior), normal (normal prior) or a normal
//! truncated to the prior's bounds (uniform or truncated-normal prior), plus
//! the correlations of the normal scores where |ρ| ≥ 0.1.
//!
//! [`Posterior::draw_member`] gives member i a draw that depends only on
//! (seed, i), so `--posterior DIR` stays deterministic whatever the batch
//! or shard.
//!
//! Owns: the posterior type, the fitted block, resampling and re-ordering
//! to a scene's block. Never touches files or the simulator.

use super::CalibrateError;
use super::sampling::{cumulative, ess, normalise, pick_by_cumulative, weighted_mean_cov};
use super::summary::{ParamSummary, summarise};
use crate::core::rng::{Stream, uniform_f64};
use crate::input::params::{Correlation, Distribution, ParamBlock, ParamSpec};

/// Correlations weaker than this are left out of the fitted block.
const MIN_CORRELATION: f64 = 0.1;
/// Correlations are capped at this magnitude so the block stays valid.
const MAX_CORRELATION: f64 = 0.99;
/// The Philox site of a member's posterior draw (on the `Params` stream,
/// which a posterior replaces).
const DRAW_SITE: u32 = 0;

/// Weighted draws over named parameters plus a parameter block fitted to
/// them.
#[derive(Clone, Debug, PartialEq)]
pub struct Posterior {
    pub method: String,
    pub names: Vec<String>,
    /// Weights, one per draw (normalised when built from a calibration;
    /// kept bit for bit as read from a file).
    pub weights: Vec<f64>,
    /// One full parameter vector per draw, columns as in `names`.
    pub draws: Vec<Vec<f64>>,
    /// The fitted block (same names and order).
    pub block: ParamBlock,
    cumulative: Vec<f64>,
}

pub(crate) fn mismatch(message: String) -> CalibrateError {
    CalibrateError::PosteriorMismatch(message)
}

impl Posterior {
    /// Builds a posterior from weighted draws over the parameters of `prior`
    /// (block order); the fitted block follows each prior's family.
    pub fn from_weighted(
        method: &str,
        prior: &ParamBlock,
        draws: Vec<Vec<f64>>,
        weights: Vec<f64>,
    ) -> Result<Posterior, CalibrateError> {
        let names: Vec<String> = prior.params.iter().map(|p| p.name.clone()).collect();
        let weights =
            normalise(&weights).ok_or_else(|| mismatch("the weights sum to zero".into()))?;
        let block = fit_block(prior, &draws, &weights);
        Posterior::new(method, names, draws, weights, block)
    }

    pub(crate) fn new(
        method: &str,
        names: Vec<String>,
        draws: Vec<Vec<f64>>,
        weights: Vec<f64>,
        block: ParamBlock,
    ) -> Result<Posterior, CalibrateError> {
        if draws.is_empty() || draws.len() != weights.len() {
            return Err(mismatch(format!(
                "{} draws but {} weights",
                draws.len(),
                weights.len()
            )));
        }
        if let Some(i) = draws.iter().position(|d| d.len() != names.len()) {
            return Err(mismatch(format!(
                "draw {i} has {} values for {} parameters",
                draws[i].len(),
                names.len()
            )));
        }
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(mismatch("weights must be finite and non-negative".into()));
        }
        if weights.iter().sum::<f64>() <= 0.0 {
            return Err(mismatch("the weights sum to zero".into()));
        }
        let cumulative = cumulative(&weights);
        Ok(Posterior {
            method: method.into(),
            names,
            weights,
            draws,
            block,
            cumulative,
        })
    }

    /// Effective sample size of the weights.
    pub fn ess(&self) -> f64 {
        normalise(&self.weights).map_or(0.0, |w| ess(&w))
    }

    /// Weighted summaries of every parameter.
    pub fn summary(&self) -> Vec<ParamSummary> {
        summarise(&self.names, &self.draws, &self.weights)
    }

    /// Member `member`'s draw: one uniform at the Philox counter (site 0,
    /// member, step 0, `Stream::Params`) picks a draw by weight.
    pub fn draw_member(&self, seed: u64, member: u32) -> Vec<f64> {
        let u = uniform_f64(seed, DRAW_SITE, member, 0, Stream::Params as u32);
        self.draws[pick_by_cumulative(&self.cumulative, u)].clone()
    }

    /// Draws for members 0..n.
    pub fn draw(&self, n: usize, seed: u64) -> Vec<Vec<f64>> {
        (0..n as u32).map(|i| self.draw_member(seed, i)).collect()
    }

    /// The posterior re-expressed over a scene's parameter block: columns in
    /// the block's order; a fixed block parameter the posterior lacks is
    /// held at its value. A varying block parameter the posterior lacks, or
    /// a posterior parameter the block lacks, is an error naming it.
    pub fn aligned_to(&self, block: &ParamBlock) -> Result<Posterior, CalibrateError> {
        if let Some(extra) = self.names.iter().find(|n| block.index_of(n).is_none()) {
            return Err(mismatch(format!(
                "the posterior has parameter `{extra}`, which the scene does not"
            )));
        }
        let mut source = Vec::with_capacity(block.params.len());
        let mut specs = Vec::with_capacity(block.params.len());
        for p in &block.params {
            match self.names.iter().position(|n| *n == p.name) {
                Some(k) => {
                    source.push(Ok(k));
                    specs.push(self.block.params[k].clone());
                }
                None => match p.dist {
                    Distribution::Fixed(v) => {
                        source.push(Err(v));
                        specs.push(p.clone());
                    }
                    _ => {
                        return Err(mismatch(format!(
                            "scene parameter `{}` varies but the posterior has no draws for it",
                            p.name
                        )));
                    }
                },
            }
        }
        let draws = self
            .draws
            .iter()
            .map(|d| {
                source
                    .iter()
                    .map(|s| s.map_or_else(|v| v, |k| d[k]))
                    .collect()
            })
            .collect();
        let block = ParamBlock {
            params: specs,
            correlations: self.block.correlations.clone(),
        };
        Posterior::new(
            &self.method,
            block.names().iter().map(|s| s.to_string()).collect(),
            draws,
            self.weights.clone(),
            block,
        )
    }
}

/// Fits one parameter's posterior: fixed when every draw is equal,
/// log-normal for log-uniform / log-normal priors, normal for normal priors,
/// and for bounded priors a normal truncated to the prior's bounds
/// (falling back to the prior when that is degenerate).
fn fit_one(prior: &Distribution, col: &[f64], weights: &[f64]) -> Distribution {
    if col.iter().all(|v| *v == col[0]) {
        return Distribution::Fixed(col[0]);
    }
    let total: f64 = weights.iter().sum();
    let moments = |f: &dyn Fn(f64) -> f64| {
        let m = col.iter().zip(weights).map(|(x, w)| w * f(*x)).sum::<f64>() / total;
        let v = col
            .iter()
            .zip(weights)
            .map(|(x, w)| w * (f(*x) - m).powi(2))
            .sum::<f64>()
            / total;
        (m, v.sqrt())
    };
    let fitted = match prior {
        Distribution::LogUniform { .. } | Distribution::LogNormal { .. }
            if col.iter().all(|v| *v > 0.0) =>
        {
            let (mu, sigma) = moments(&f64::ln);
            Distribution::LogNormal { mu, sigma }
        }
        Distribution::Uniform { low, high } | Distribution::TruncNormal { low, high, .. } => {
            let (mean, sd) = moments(&|x| x);
            Distribution::TruncNormal {
                mean,
                sd,
                low: *low,
                high: *high,
            }
        }
        _ => {
            let (mean, sd) = moments(&|x| x);
            Distribution::Normal { mean, sd }
        }
    };
    if fitted.validate().is_ok() {
        fitted
    } else {
        prior.clone()
    }
}

fn fit_block(prior: &ParamBlock, draws: &[Vec<f64>], weights: &[f64]) -> ParamBlock {
    let params: Vec<ParamSpec> = prior
        .params
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let col: Vec<f64> = draws.iter().map(|d| d[k]).collect();
            ParamSpec {
                name: p.name.clone(),
                dist: fit_one(&p.dist, &col, weights),
            }
        })
        .collect();
    // Correlations between the varying fitted parameters, on the scale of
    // their normal scores (log for log-normal fits).
    let varying: Vec<usize> = (0..params.len())
        .filter(|&i| !params[i].dist.is_fixed())
        .collect();
    let score = |i: usize, x: f64| {
        if matches!(params[i].dist, Distribution::LogNormal { .. }) {
            x.ln()
        } else {
            x
        }
    };
    let pts: Vec<Vec<f64>> = draws
        .iter()
        .map(|d| varying.iter().map(|&i| score(i, d[i])).collect())
        .collect();
    let w = normalise(weights).unwrap_or_else(|| vec![1.0 / draws.len() as f64; draws.len()]);
    let (_, cov) = weighted_mean_cov(&pts, &w);
    let mut correlations = Vec::new();
    for a in 0..varying.len() {
        for b in a + 1..varying.len() {
            let rho = cov[(a, b)] / (cov[(a, a)] * cov[(b, b)]).sqrt();
            if rho.is_finite() && rho.abs() >= MIN_CORRELATION {
                let rho = ((rho * 1e4).round() / 1e4).clamp(-MAX_CORRELATION, MAX_CORRELATION);
                correlations.push(Correlation {
                    a: params[varying[a]].name.clone(),
                    b: params[varying[b]].name.clone(),
                    rho,
                });
            }
        }
    }
    let mut block = ParamBlock {
        params,
        correlations,
    };
    if block.validate().is_err() {
        block.correlations.clear();
    }
    block
}

#[cfg(test)]
pub(crate) use tests::test_sample;

#[cfg(test)]
mod tests {
    use super::*;

    /// Weighted draws over a bounded, a log-normal and a fixed parameter.
    pub(crate) fn test_sample() -> Posterior {
        let prior = ParamBlock::from_pairs([
            (
                "a".into(),
                Distribution::Uniform {
                    low: 0.0,
                    high: 10.0,
                },
            ),
            (
                "b rate".into(),
                Distribution::LogNormal {
                    mu: 0.0,
                    sigma: 1.0,
                },
            ),
            ("c".into(), Distribution::Fixed(3.0)),
        ]);
        // log b rises with a, plus a wiggle: a correlation near 0.93.
        let draws: Vec<Vec<f64>> = (0..200)
            .map(|i| {
                let wiggle = if i % 2 == 0 { 0.1 } else { -0.1 };
                vec![
                    4.0 + i as f64 * 0.01,
                    (0.1 + i as f64 * 0.004 + wiggle).exp() * 1e-7,
                    3.0,
                ]
            })
            .collect();
        let weights: Vec<f64> = (0..200).map(|i| 1.0 + (i % 3) as f64).collect();
        Posterior::from_weighted("abc-smc", &prior, draws, weights).unwrap()
    }

    #[test]
    fn fitted_block_follows_the_prior_families_and_correlations() {
        let p = test_sample();
        assert!(matches!(
            p.block.params[0].dist,
            Distribution::TruncNormal {
                low: 0.0,
                high: 10.0,
                ..
            }
        ));
        match p.block.params[1].dist {
            Distribution::LogNormal { mu, .. } => assert!(
                (mu - (0.1 + 0.398 - 16.118_095_650_958_32)).abs() < 0.05,
                "{mu}"
            ),
            ref other => panic!("{other:?}"),
        }
        assert_eq!(p.block.params[2].dist, Distribution::Fixed(3.0));
        assert_eq!(p.block.correlations.len(), 1);
        let rho = p.block.correlations[0].rho;
        assert!(rho > 0.9 && rho < 0.96, "{rho}");
        assert!((p.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
