//! Parameter blocks: the `[parameters]` table shared by scenes, designs,
//! calibration and cohorts.
//!
//! Owns: parsing a parameter (fixed value or distribution), validating it,
//! and mapping a point of the unit cube to parameter values through each
//! distribution's inverse CDF (with an optional Gaussian copula for
//! correlations). Never touches the file system or the GPU.

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use statrs::distribution::{ContinuousCDF, Normal};
use std::fmt;

message_error!(
    /// A parameter distribution, copula or block that is not valid.
    pub ParamError
);

/// Unit-cube values are clamped to `[UNIT_EPS, 1 - UNIT_EPS]` before the
/// inverse CDF of an unbounded distribution, so that a design point at 0 or 1
/// (Sobol point 0, grid end points) never maps to ±infinity.
pub const UNIT_EPS: f64 = 1e-9;

/// One parameter: a fixed value or a distribution to sample from.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Fixed(f64),
    Uniform {
        low: f64,
        high: f64,
    },
    LogUniform {
        low: f64,
        high: f64,
    },
    Normal {
        mean: f64,
        sd: f64,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    TruncNormal {
        mean: f64,
        sd: f64,
        low: f64,
        high: f64,
    },
    /// Discrete choice among values, with optional weights (normalised).
    Choice {
        values: Vec<f64>,
        weights: Option<Vec<f64>>,
    },
}

fn std_normal() -> Normal {
    // Normal::new(0, 1) cannot fail.
    Normal::new(0.0, 1.0).unwrap_or_else(|_| unreachable!())
}

/// Standard normal CDF.
pub fn norm_cdf(z: f64) -> f64 {
    std_normal().cdf(z)
}

/// Standard normal inverse CDF (quantile function).
pub fn norm_ppf(p: f64) -> f64 {
    std_normal().inverse_cdf(p)
}

impl Distribution {
    /// The distribution's keyword in scene files (`dist = "..."`).
    pub fn kind(&self) -> &'static str {
        match self {
            Distribution::Fixed(_) => "fixed",
            Distribution::Uniform { .. } => "uniform",
            Distribution::LogUniform { .. } => "loguniform",
            Distribution::Normal { .. } => "normal",
            Distribution::LogNormal { .. } => "lognormal",
            Distribution::TruncNormal { .. } => "truncnormal",
            Distribution::Choice { .. } => "choice",
        }
    }

    pub fn is_fixed(&self) -> bool {
        matches!(self, Distribution::Fixed(_))
    }

    /// Checks the distribution's own arguments; the message names the
    /// offending argument.
    pub fn validate(&self) -> Result<(), ParamError> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!("`{name}` must be a finite number, got {v}").into())
            }
        };
        match self {
            Distribution::Fixed(v) => finite("value", *v),
            Distribution::Uniform { low, high } => {
                finite("low", *low)?;
                finite("high", *high)?;
                if low >= high {
                    return Err(format!("`low` ({low}) must be less than `high` ({high})").into());
                }
                Ok(())
            }
            Distribution::LogUniform { low, high } => {
                finite("low", *low)?;
                finite("high", *high)?;
                if *low <= 0.0 {
                    return Err(format!(
                        "`low` ({low}) must be positive for a log-uniform distribution"
                    )
                    .into());
                }
                if low >= high {
                    return Err(format!("`low` ({low}) must be less than `high` ({high})").into());
                }
                Ok(())
            }
            Distribution::Normal { mean, sd } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                if *sd <= 0.0 {
                    return Err(format!("`sd` ({sd}) must be positive").into());
                }
                Ok(())
            }
            Distribution::LogNormal { mu, sigma } => {
                finite("mu", *mu)?;
                finite("sigma", *sigma)?;
                if *sigma <= 0.0 {
                    return Err(format!("`sigma` ({sigma}) must be positive").into());
                }
                Ok(())
            }
            Distribution::TruncNormal {
                mean,
                sd,
                low,
                high,
            } => {
                finite("mean", *mean)?;
                finite("sd", *sd)?;
                finite("low", *low)?;
                finite("high", *high)?;
                if *sd <= 0.0 {
                    return Err(format!("`sd` ({sd}) must be positive").into());
                }
                if low >= high {
                    return Err(format!("`low` ({low}) must be less than `high` ({high})").into());
                }
                let (a, b) = (norm_cdf((low - mean) / sd), norm_cdf((high - mean) / sd));
                if b - a < 1e-12 {
                    return Err(format!(
                        "[{low}, {high}] holds no probability mass of N({mean}, {sd}²)"
                    )
                    .into());
                }
                Ok(())
            }
            Distribution::Choice { values, weights } => {
                if values.is_empty() {
                    return Err("`values` must list at least one value".into());
                }
                for v in values {
                    finite("values", *v)?;
                }
                if let Some(w) = weights {
                    if w.len() != values.len() {
                        return Err(format!(
                            "`weights` has {} entries but `values` has {}",
                            w.len(),
                            values.len()
                        )
                        .into());
                    }
                    if w.iter().any(|x| !(x.is_finite() && *x >= 0.0))
                        || w.iter().sum::<f64>() <= 0.0
                    {
                        return Err("`weights` must be non-negative with a positive sum".into());
                    }
                }
                Ok(())
            }
        }
    }

    /// Maps `u` in [0, 1] to a value through the inverse CDF. Unbounded
    /// distributions clamp `u` to `[UNIT_EPS, 1 - UNIT_EPS]` first.
    pub fn from_unit(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        let uc = u.clamp(UNIT_EPS, 1.0 - UNIT_EPS);
        match self {
            Distribution::Fixed(v) => *v,
            Distribution::Uniform { low, high } => low + u * (high - low),
            Distribution::LogUniform { low, high } => (low.ln() + u * (high.ln() - low.ln())).exp(),
            Distribution::Normal { mean, sd } => mean + sd * norm_ppf(uc),
            Distribution::LogNormal { mu, sigma } => (mu + sigma * norm_ppf(uc)).exp(),
            Distribution::TruncNormal {
                mean,
                sd,
                low,
                high,
            } => {
                let a = norm_cdf((low - mean) / sd);
                let b = norm_cdf((high - mean) / sd);
                let p = (a + u * (b - a)).clamp(UNIT_EPS, 1.0 - UNIT_EPS);
                (mean + sd * norm_ppf(p)).clamp(*low, *high)
            }
            Distribution::Choice { values, weights } => {
                let n = values.len();
                match weights {
                    None => values[((u * n as f64) as usize).min(n - 1)],
                    Some(w) => {
                        let total: f64 = w.iter().sum();
                        let mut acc = 0.0;
                        for (v, wi) in values.iter().zip(w) {
                            acc += wi / total;
                            if u < acc {
                                return *v;
                            }
                        }
                        values[n - 1]
                    }
                }
            }
        }
    }

    /// The CDF at `x`: the inverse of `from_unit` for continuous
    /// distributions, clamped to [0, 1]; for `choice`, the probability mass
    /// at or below `x`; for a fixed value, a step at the value.
    pub fn cdf(&self, x: f64) -> f64 {
        let clamp01 = |p: f64| p.clamp(0.0, 1.0);
        match self {
            Distribution::Fixed(v) => f64::from(x >= *v),
            Distribution::Uniform { low, high } => clamp01((x - low) / (high - low)),
            Distribution::LogUniform { low, high } => {
                if x <= *low {
                    0.0
                } else {
                    clamp01((x.ln() - low.ln()) / (high.ln() - low.ln()))
                }
            }
            Distribution::Normal { mean, sd } => norm_cdf((x - mean) / sd),
            Distribution::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    norm_cdf((x.ln() - mu) / sigma)
                }
            }
            Distribution::TruncNormal {
                mean,
                sd,
                low,
                high,
            } => {
                let (a, b) = (norm_cdf((low - mean) / sd), norm_cdf((high - mean) / sd));
                clamp01((norm_cdf((x - mean) / sd) - a) / (b - a))
            }
            Distribution::Choice { values, weights } => {
                let total: f64 = weights
                    .as_ref()
                    .map_or(values.len() as f64, |w| w.iter().sum());
                let below: f64 = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v <= x)
                    .map(|(i, _)| weights.as_ref().map_or(1.0, |w| w[i]))
                    .sum();
                below / total
            }
        }
    }

    /// The smallest interval holding all of the distribution's mass, where
    /// finite (used for stability checks and plot ranges).
    pub fn support(&self) -> (f64, f64) {
        match self {
            Distribution::Fixed(v) => (*v, *v),
            Distribution::Uniform { low, high }
            | Distribution::LogUniform { low, high }
            | Distribution::TruncNormal { low, high, .. } => (*low, *high),
            Distribution::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Distribution::LogNormal { .. } => (0.0, f64::INFINITY),
            Distribution::Choice { values, .. } => (
                values.iter().cloned().fold(f64::INFINITY, f64::min),
                values.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            ),
        }
    }

    /// The median (value at u = 0.5): the "nominal" value of a parameter.
    pub fn median(&self) -> f64 {
        self.from_unit(0.5)
    }
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Distribution;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a number or a table like { dist = \"uniform\", low = 0.1, high = 0.5 }",
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Distribution, E> {
                Ok(Distribution::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Distribution, E> {
                Ok(Distribution::Fixed(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Distribution, E> {
                Ok(Distribution::Fixed(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Distribution, A::Error> {
                let mut fields: IndexMap<String, toml::Value> = IndexMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v: toml::Value = map.next_value()?;
                    fields.insert(k, v);
                }
                dist_from_fields(fields).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

fn dist_from_fields(mut f: IndexMap<String, toml::Value>) -> Result<Distribution, ParamError> {
    let kind = match f.shift_remove("dist") {
        Some(toml::Value::String(s)) => s,
        Some(other) => return Err(format!("`dist` must be a string, got {}", other.type_str()).into()),
        None => return Err("a distribution table needs a `dist` key (uniform, loguniform, normal, lognormal, truncnormal, choice)".into()),
    };
    let allowed: &[&str] = match kind.as_str() {
        "uniform" | "loguniform" => &["low", "high"],
        "normal" => &["mean", "sd"],
        "lognormal" => &["mu", "sigma"],
        "truncnormal" => &["mean", "sd", "low", "high"],
        "choice" => &["values", "weights"],
        other => {
            return Err(format!(
                "unknown distribution `{other}`; expected one of uniform, loguniform, normal, lognormal, truncnormal, choice"
            ).into());
        }
    };
    if let Some(k) = f.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "unknown key `{k}` for dist = \"{kind}\"; expected {}",
            allowed.join(", ")
        )
        .into());
    }
    let num = |f: &IndexMap<String, toml::Value>, key: &str| -> Result<f64, ParamError> {
        match f.get(key) {
            Some(toml::Value::Float(x)) => Ok(*x),
            Some(toml::Value::Integer(i)) => Ok(*i as f64),
            Some(other) => {
                Err(format!("`{key}` must be a number, got {}", other.type_str()).into())
            }
            None => Err(format!("dist = \"{kind}\" needs `{key}`").into()),
        }
    };
    let list = |f: &IndexMap<String, toml::Value>,
                key: &str|
     -> Result<Option<Vec<f64>>, ParamError> {
        match f.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    toml::Value::Float(x) => Ok(*x),
                    toml::Value::Integer(i) => Ok(*i as f64),
                    other => {
                        Err(format!("`{key}` must hold numbers, got {}", other.type_str()).into())
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => {
                Err(format!("`{key}` must be an array, got {}", other.type_str()).into())
            }
        }
    };
    let d = match kind.as_str() {
        "uniform" => Distribution::Uniform {
            low: num(&f, "low")?,
            high: num(&f, "high")?,
        },
        "loguniform" => Distribution::LogUniform {
            low: num(&f, "low")?,
            high: num(&f, "high")?,
        },
        "normal" => Distribution::Normal {
            mean: num(&f, "mean")?,
            sd: num(&f, "sd")?,
        },
        "lognormal" => Distribution::LogNormal {
            mu: num(&f, "mu")?,
            sigma: num(&f, "sigma")?,
        },
        "truncnormal" => Distribution::TruncNormal {
            mean: num(&f, "mean")?,
            sd: num(&f, "sd")?,
            low: num(&f, "low")?,
            high: num(&f, "high")?,
        },
        _ => Distribution::Choice {
            values: list(&f, "values")?
                .ok_or_else(|| "dist = \"choice\" needs `values`".to_string())?,
            weights: list(&f, "weights")?,
        },
    };
    d.validate()?;
    Ok(d)
}

/// A named parameter as it stands in a parameter block.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub dist: Distribution,
}

/// A correlation between two parameters, applied through a Gaussian copula.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    pub a: String,
    pub b: String,
    pub rho: f64,
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

/// Gaussian copula: unit point → normal scores → correlated by `l` → unit point.
fn copula(l: &nalgebra::DMatrix<f64>, u: &[f64]) -> Vec<f64> {
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

    fn parse(src: &str) -> IndexMap<String, Distribution> {
        #[derive(Deserialize)]
        struct F {
            parameters: IndexMap<String, Distribution>,
        }
        toml::from_str::<F>(src).expect("parses").parameters
    }

    #[test]
    fn parses_every_form_in_file_order() {
        let p = parse(
            r#"
[parameters]
k = 0.05
D = { dist = "uniform", low = 0.1, high = 0.5 }
r = { dist = "loguniform", low = 1e-3, high = 1e-1 }
a = { dist = "normal", mean = 1.0, sd = 0.2 }
b = { dist = "lognormal", mu = 0.0, sigma = 0.3 }
c = { dist = "truncnormal", mean = 1.0, sd = 0.5, low = 0.0, high = 2.0 }
s = { dist = "choice", values = [1, 2, 3] }
"#,
        );
        let names: Vec<_> = p.keys().cloned().collect();
        assert_eq!(names, ["k", "D", "r", "a", "b", "c", "s"]);
        assert_eq!(p["k"], Distribution::Fixed(0.05));
        assert_eq!(
            p["D"],
            Distribution::Uniform {
                low: 0.1,
                high: 0.5
            }
        );
        assert_eq!(p["s"].from_unit(0.99), 3.0);
    }

    #[test]
    fn bad_distributions_name_the_argument() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct F {
            parameters: IndexMap<String, Distribution>,
        }
        let e = toml::from_str::<F>(
            "[parameters]\nD = { dist = \"uniform\", low = 1.0, high = 0.5 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`low` (1) must be less than `high` (0.5)"),
            "{e}"
        );
        assert!(e.contains("line 2"), "{e}");
        let e = toml::from_str::<F>("[parameters]\nD = { dist = \"gamma\", k = 1 }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown distribution `gamma`"), "{e}");
        let e = toml::from_str::<F>(
            "[parameters]\nD = { dist = \"normal\", mean = 1, sd = 1, low = 0 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown key `low`"), "{e}");
    }

    #[test]
    fn inverse_cdfs_hit_known_quantiles() {
        let n = Distribution::Normal { mean: 1.0, sd: 2.0 };
        assert!((n.from_unit(0.975) - (1.0 + 2.0 * 1.959963984540054)).abs() < 1e-9);
        assert!(n.from_unit(0.0).is_finite());
        let lu = Distribution::LogUniform {
            low: 1e-3,
            high: 1e-1,
        };
        assert!((lu.from_unit(0.5) - 1e-2).abs() < 1e-12);
        let ln = Distribution::LogNormal {
            mu: 0.0,
            sigma: 0.3,
        };
        assert!((ln.from_unit(0.5) - 1.0).abs() < 1e-12);
        let t = Distribution::TruncNormal {
            mean: 1.0,
            sd: 0.5,
            low: 0.0,
            high: 2.0,
        };
        assert!((t.from_unit(0.5) - 1.0).abs() < 1e-9);
        assert_eq!(t.from_unit(0.0), 0.0);
        assert!((t.from_unit(1.0) - 2.0).abs() < 1e-6);
    }

    /// `cdf` inverts `from_unit` for every continuous distribution.
    #[test]
    fn cdf_inverts_the_quantile_function() {
        let dists = [
            Distribution::Uniform {
                low: 0.1,
                high: 0.5,
            },
            Distribution::LogUniform {
                low: 1e-3,
                high: 1e-1,
            },
            Distribution::Normal { mean: 1.0, sd: 0.2 },
            Distribution::LogNormal {
                mu: 0.0,
                sigma: 0.3,
            },
            Distribution::TruncNormal {
                mean: 1.0,
                sd: 0.5,
                low: 0.0,
                high: 2.0,
            },
        ];
        for d in &dists {
            for u in [0.01, 0.25, 0.5, 0.9, 0.99] {
                let back = d.cdf(d.from_unit(u));
                assert!((back - u).abs() < 1e-9, "{d:?}: {u} -> {back}");
            }
        }
        let c = Distribution::Choice {
            values: vec![1.0, 2.0, 3.0],
            weights: Some(vec![1.0, 1.0, 2.0]),
        };
        assert_eq!(c.cdf(2.5), 0.5);
    }

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
