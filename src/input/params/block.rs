//! The ordered parameter block and its mapping from the unit cube.

use super::copula::copula;
use super::{Correlation, Distribution, ParamError};

/// A named parameter as it stands in a parameter block.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub dist: Distribution,
}

/// An ordered parameter block (file order is kept) plus optional
/// correlations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamBlock {
    pub params: Vec<ParamSpec>,
    pub correlations: Vec<Correlation>,
}

impl ParamBlock {
    pub fn names(&self) -> Vec<&str> {
        self.params.iter().map(|p| p.name.as_str()).collect()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&Distribution> {
        self.params.iter().find(|p| p.name == name).map(|p| &p.dist)
    }

    /// Parameters that vary (not fixed): the dimensions of a design.
    pub fn varying(&self) -> Vec<usize> {
        (0..self.params.len())
            .filter(|&i| !self.params[i].dist.is_fixed())
            .collect()
    }

    /// Maps one unit-cube point over the *varying* parameters (in block
    /// order) to a full value vector over all parameters. Correlations, if
    /// any, are applied through a Gaussian copula first.
    pub fn map_unit(&self, u: &[f64]) -> Vec<f64> {
        self.map_units(std::slice::from_ref(&u.to_vec())).remove(0)
    }

    /// `map_unit` over many points, factorising the correlation matrix once.
    pub fn map_units(&self, points: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let varying = self.varying();
        // Validated at load; an invalid matrix leaves the points uncorrelated.
        let chol = if self.correlations.is_empty() {
            None
        } else {
            self.correlation_cholesky().ok()
        };
        let base: Vec<f64> = self.params.iter().map(|p| p.dist.median()).collect();
        points
            .iter()
            .map(|u| {
                assert_eq!(u.len(), varying.len(), "unit point has the wrong dimension");
                let u = match &chol {
                    Some(l) => copula(l, u),
                    None => u.clone(),
                };
                let mut out = base.clone();
                for (k, &i) in varying.iter().enumerate() {
                    out[i] = self.params[i].dist.from_unit(u[k]);
                }
                out
            })
            .collect()
    }

    /// Checks every distribution and the correlations.
    pub fn validate(&self) -> Result<(), ParamError> {
        for p in &self.params {
            p.dist
                .validate()
                .map_err(|e| format!("parameter `{}`: {e}", p.name))?;
        }
        if !self.correlations.is_empty() {
            self.correlation_cholesky()?;
        }
        Ok(())
    }

    /// Builds a block from `(name, dist)` pairs in order.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, Distribution)>) -> Self {
        ParamBlock {
            params: pairs
                .into_iter()
                .map(|(name, dist)| ParamSpec { name, dist })
                .collect(),
            correlations: Vec::new(),
        }
    }
}
