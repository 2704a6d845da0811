//! Correlations between parameters through a Gaussian copula.

use super::{ParamBlock, ParamError, UNIT_EPS, norm_cdf, norm_ppf};
use serde::Deserialize;

/// A correlation between two parameters, applied through a Gaussian copula.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    pub a: String,
    pub b: String,
    pub rho: f64,
}

impl ParamBlock {
    /// The Cholesky factor of the correlation matrix over the varying
    /// parameters; errors name the offending pair.
    pub fn correlation_cholesky(&self) -> Result<nalgebra::DMatrix<f64>, ParamError> {
        let varying = self.varying();
        let d = varying.len();
        let mut m = nalgebra::DMatrix::<f64>::identity(d, d);
        for c in &self.correlations {
            let pos = |name: &str| {
                let i = self
                    .index_of(name)
                    .ok_or_else(|| format!("correlation names unknown parameter `{name}`"))?;
                varying
                    .iter()
                    .position(|&v| v == i)
                    .ok_or_else(|| format!("correlation names `{name}`, which is fixed"))
            };
            let (i, j) = (pos(&c.a)?, pos(&c.b)?);
            if i == j {
                return Err(format!("correlation of `{}` with itself", c.a).into());
            }
            if !(c.rho > -1.0 && c.rho < 1.0) {
                return Err(format!(
                    "correlation {}–{}: rho = {} must lie in (-1, 1)",
                    c.a, c.b, c.rho
                )
                .into());
            }
            m[(i, j)] = c.rho;
            m[(j, i)] = c.rho;
        }
        nalgebra::linalg::Cholesky::new(m)
            .map(|c| c.l())
            .ok_or_else(|| ParamError::from("the correlation matrix is not positive definite"))
    }
}

/// Gaussian copula: unit point → normal scores → correlated by `l` → unit point.
pub(super) fn copula(l: &nalgebra::DMatrix<f64>, u: &[f64]) -> Vec<f64> {
    let z = nalgebra::DVector::from_iterator(
        u.len(),
        u.iter()
            .map(|&x| norm_ppf(x.clamp(UNIT_EPS, 1.0 - UNIT_EPS))),
    );
    let zc = l * z;
    zc.iter().map(|&x| norm_cdf(x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::params::Distribution;

    #[test]
    fn copula_induces_the_requested_rank_correlation() {
        let mut b = ParamBlock::from_pairs([
            ("x".to_string(), Distribution::Normal { mean: 0.0, sd: 1.0 }),
            ("y".to_string(), Distribution::Normal { mean: 0.0, sd: 1.0 }),
        ]);
        b.correlations.push(Correlation {
            a: "x".into(),
            b: "y".into(),
            rho: 0.6,
        });
        b.validate().unwrap();
        // A regular grid over the unit square gives a deterministic estimate.
        let n = 200;
        let mut sxy = 0.0;
        let mut sxx = 0.0;
        let mut syy = 0.0;
        for i in 0..n {
            for j in 0..n {
                let u = [(i as f64 + 0.5) / n as f64, (j as f64 + 0.5) / n as f64];
                let v = b.map_unit(&u);
                sxy += v[0] * v[1];
                sxx += v[0] * v[0];
                syy += v[1] * v[1];
            }
        }
        let r = sxy / (sxx * syy).sqrt();
        assert!((r - 0.6).abs() < 0.02, "correlation {r}");
    }
}
