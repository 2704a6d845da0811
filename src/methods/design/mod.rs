//! Experimental designs over a parameter block: random, Latin hypercube,
//! Sobol, full grid, Saltelli (for Sobol indices) and Morris trajectories.
//!
//! A design is first built in the unit cube over the *varying* (non-fixed)
//! parameters, in block order; each row is then mapped to values of *every*
//! parameter through [`ParamBlock::map_unit`] (inverse CDFs, Gaussian copula
//! for correlations; fixed parameters keep their value). Unbounded
//! distributions clamp unit values to `[ε, 1 − ε]` with
//! ε = [`crate::input::params::UNIT_EPS`] = 1e-9 before their inverse CDF, so point 0
//! of a Sobol design or a grid end point never maps to infinity.
//!
//! What `n` means per method: `random`, `lhs`, `sobol` give `n` rows; `grid`
//! gives `n` levels per dimension (`n^D` rows, levels `i/(n−1)`, end points
//! included, or 0.5 when `n = 1`); `saltelli` takes base `n` and gives
//! `n(D+2)` rows (`n(2D+2)` with second order); `morris` gives `n`
//! trajectories of `D+1` rows.
//!
//! Saltelli and Morris designs refuse correlated blocks: their estimators
//! assume independent inputs.
//!
//! Owns: design generation and the value ↔ unit-cube maps. Never reads or
//! writes files (the `design` command does) and never runs a model.

pub mod grid;
mod joe_kuo;
pub mod lhs;
pub mod morris;
pub mod saltelli;
pub mod sobol_seq;

use crate::input::params::{Distribution, ParamBlock};
use crate::output::table::Table;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The largest number of rows a design may have (a guard against `grid`
/// with many dimensions and typos in `-n`).
/// The same as the member limit of a plan (`limits::MAX_MEMBERS`).
pub const MAX_ROWS: usize = crate::input::limits::MAX_MEMBERS as usize;

/// How the points of a design are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DesignMethod {
    /// Independent uniform draws (seeded).
    Random,
    /// Latin hypercube: one point per stratum in every dimension.
    Lhs,
    /// Sobol low-discrepancy sequence (Joe–Kuo), point 0 kept.
    Sobol,
    /// Full factorial grid with `n` levels per dimension.
    Grid,
    /// Saltelli's cross-sampling design for Sobol indices.
    Saltelli,
    /// Morris elementary-effect trajectories.
    Morris,
}

impl DesignMethod {
    pub fn name(&self) -> &'static str {
        match self {
            DesignMethod::Random => "random",
            DesignMethod::Lhs => "lhs",
            DesignMethod::Sobol => "sobol",
            DesignMethod::Grid => "grid",
            DesignMethod::Saltelli => "saltelli",
            DesignMethod::Morris => "morris",
        }
    }
}

/// Method options; each is read only by the methods it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesignOptions {
    /// Seed for `random`, `lhs`, `morris` and scrambled Sobol/Saltelli.
    pub seed: u64,
    /// `lhs`: keep the best of several candidates by minimum pairwise distance.
    pub maximin: bool,
    /// `sobol`, `saltelli`: Owen scrambling.
    pub scramble: bool,
    /// `saltelli`: add the BA_i rows needed for second-order indices.
    pub second_order: bool,
    /// `morris`: number of grid levels p (even, ≥ 2).
    pub levels: u32,
}

impl Default for DesignOptions {
    fn default() -> Self {
        DesignOptions {
            seed: 0,
            maximin: false,
            scramble: false,
            second_order: false,
            levels: 4,
        }
    }
}

/// A generated design.
#[derive(Clone, Debug, PartialEq)]
pub struct Design {
    /// Rows over the varying parameters, in block order, in [0, 1].
    pub unit: Vec<Vec<f64>>,
    /// Rows over all parameters, in block order (fixed ones constant).
    pub values: Vec<Vec<f64>>,
    pub method: DesignMethod,
    /// `n` as given: rows, grid levels, Saltelli base size or trajectories.
    pub base_n: usize,
    /// Saltelli only: the design holds the BA_i rows.
    pub second_order: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DesignError {
    #[error("the parameter block has no varying parameter: every parameter is fixed")]
    NoVaryingParameters,
    #[error("invalid parameter block: {0}")]
    InvalidBlock(String),
    #[error("--method {method}: -n must be at least {min}, got {n}")]
    TooFew {
        method: &'static str,
        n: usize,
        min: usize,
    },
    #[error("--method {method} would give {rows} rows, more than the limit of {limit}")]
    TooManyRows {
        method: &'static str,
        rows: String,
        limit: usize,
    },
    #[error("--method {method} supports at most {max} varying parameters, the block has {d}")]
    TooManyDimensions {
        method: &'static str,
        d: usize,
        max: usize,
    },
    #[error("--maximin compares all pairs of points, so it is limited to n ≤ {limit}; got n = {n}")]
    MaximinTooLarge { n: usize, limit: usize },
    #[error(
        "--levels must be even and at least 2 (Morris' Δ = p/(2(p−1)) lands on the grid only then), got {0}"
    )]
    BadLevels(u32),
    #[error("--method {0} assumes independent parameters; remove the [[correlations]] entries")]
    Correlated(&'static str),
}

/// Generates a design of `method` over the varying parameters of `block`.
pub fn generate(
    block: &ParamBlock,
    method: DesignMethod,
    n: usize,
    opts: &DesignOptions,
) -> Result<Design, DesignError> {
    block
        .validate()
        .map_err(|e| DesignError::InvalidBlock(e.into()))?;
    let d = block.varying().len();
    if d == 0 {
        return Err(DesignError::NoVaryingParameters);
    }
    let name = method.name();
    if n == 0 {
        return Err(DesignError::TooFew {
            method: name,
            n,
            min: 1,
        });
    }
    if matches!(method, DesignMethod::Saltelli | DesignMethod::Morris)
        && !block.correlations.is_empty()
    {
        return Err(DesignError::Correlated(name));
    }
    let rows = expected_rows(method, n, d, opts.second_order)
        .filter(|&r| r <= MAX_ROWS)
        .ok_or_else(|| DesignError::TooManyRows {
            method: name,
            rows: rows_text(method, n, d, opts.second_order),
            limit: MAX_ROWS,
        })?;
    if method == DesignMethod::Lhs && opts.maximin && n > lhs::MAXIMIN_MAX_ROWS {
        return Err(DesignError::MaximinTooLarge {
            n,
            limit: lhs::MAXIMIN_MAX_ROWS,
        });
    }
    let too_many_dims = |max: usize| DesignError::TooManyDimensions {
        method: name,
        d,
        max,
    };
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let scramble = opts
        .scramble
        .then_some(sobol_seq::Scramble { seed: opts.seed });
    let unit = match method {
        DesignMethod::Random => (0..n)
            .map(|_| (0..d).map(|_| rng.random::<f64>()).collect())
            .collect(),
        DesignMethod::Lhs if opts.maximin => lhs::maximin_lhs(n, d, &mut rng),
        DesignMethod::Lhs => lhs::lhs(n, d, &mut rng),
        DesignMethod::Sobol => sobol_seq::sobol_points(n, d, scramble)
            .ok_or_else(|| too_many_dims(sobol_seq::MAX_SOBOL_DIMS))?,
        DesignMethod::Grid => grid::grid(n, d),
        DesignMethod::Saltelli => saltelli::saltelli_design(n, d, opts.second_order, scramble)
            .ok_or_else(|| too_many_dims(sobol_seq::MAX_SOBOL_DIMS / 2))?,
        DesignMethod::Morris => {
            if opts.levels < 2 || opts.levels % 2 == 1 {
                return Err(DesignError::BadLevels(opts.levels));
            }
            morris::trajectories(n, d, opts.levels, &mut rng)
        }
    };
    debug_assert_eq!(unit.len(), rows);
    let values = unit.iter().map(|u| block.map_unit(u)).collect();
    Ok(Design {
        unit,
        values,
        method,
        base_n: n,
        second_order: method == DesignMethod::Saltelli && opts.second_order,
    })
}

impl Design {
    /// The design as a table named `design`: one float column per
    /// parameter of `block` (the block it was made from), in block order.
    pub fn to_table(&self, block: &ParamBlock) -> Table {
        let mut t = Table::new("design");
        for (j, p) in block.params.iter().enumerate() {
            t = t.with_f64(&p.name, self.values.iter().map(|row| row[j]));
        }
        t
    }
}

/// Rows a design of `method` with `n` over `d` dimensions has, or `None` on
/// overflow.
pub fn expected_rows(
    method: DesignMethod,
    n: usize,
    d: usize,
    second_order: bool,
) -> Option<usize> {
    match method {
        DesignMethod::Random | DesignMethod::Lhs | DesignMethod::Sobol => Some(n),
        DesignMethod::Grid => n.checked_pow(u32::try_from(d).ok()?),
        DesignMethod::Saltelli => n.checked_mul(saltelli::rows_per_base(d, second_order)),
        DesignMethod::Morris => n.checked_mul(d + 1),
    }
}

fn rows_text(method: DesignMethod, n: usize, d: usize, second_order: bool) -> String {
    match expected_rows(method, n, d, second_order) {
        Some(r) => r.to_string(),
        None if method == DesignMethod::Grid => format!("{n}^{d}"),
        None => format!("more than {}", usize::MAX),
    }
}

/// The unit-cube coordinate of `value` under `dist`: the inverse of
/// [`Distribution::from_unit`] (its CDF), clamped to [0, 1]. A fixed
/// parameter gives 0.5; a `choice` value gives the middle of its
/// probability interval (the nearest listed value is used).
pub fn value_to_unit(dist: &Distribution, value: f64) -> f64 {
    let u = match dist {
        Distribution::Fixed(_) => 0.5,
        Distribution::Choice { values, weights } => {
            let k = values
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| (*a - value).abs().total_cmp(&(*b - value).abs()))
                .map_or(0, |(k, _)| k);
            let probs: Vec<f64> = match weights {
                None => vec![1.0; values.len()],
                Some(w) => w.clone(),
            };
            let total: f64 = probs.iter().sum();
            let before: f64 = probs[..k].iter().sum();
            (before + 0.5 * probs[k]) / total
        }
        continuous => continuous.cdf(value),
    };
    u.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::params::Correlation;

    fn block() -> ParamBlock {
        ParamBlock::from_pairs([
            ("k".to_string(), Distribution::Fixed(0.05)),
            (
                "D".to_string(),
                Distribution::Uniform {
                    low: 0.1,
                    high: 0.5,
                },
            ),
            ("a".to_string(), Distribution::Normal { mean: 1.0, sd: 0.2 }),
            (
                "r".to_string(),
                Distribution::LogUniform {
                    low: 1e-3,
                    high: 1e-1,
                },
            ),
        ])
    }

    /// Row counts per method, as the issue defines `-n`.
    #[test]
    fn row_counts_follow_the_method() {
        let b = block();
        let opts = DesignOptions::default();
        let rows = |m, n, o: &DesignOptions| generate(&b, m, n, o).unwrap().values.len();
        assert_eq!(rows(DesignMethod::Random, 7, &opts), 7);
        assert_eq!(rows(DesignMethod::Lhs, 7, &opts), 7);
        assert_eq!(rows(DesignMethod::Sobol, 7, &opts), 7);
        assert_eq!(rows(DesignMethod::Grid, 3, &opts), 27);
        assert_eq!(rows(DesignMethod::Saltelli, 8, &opts), 8 * 5);
        let so = DesignOptions {
            second_order: true,
            ..opts.clone()
        };
        assert_eq!(rows(DesignMethod::Saltelli, 8, &so), 8 * 8);
        assert_eq!(rows(DesignMethod::Morris, 6, &opts), 6 * 4);
    }

    /// Values cover every parameter in block order; the fixed one stays put
    /// and Sobol point 0 maps to finite values (ε clamp).
    #[test]
    fn values_cover_all_parameters_and_stay_finite() {
        let d = generate(&block(), DesignMethod::Sobol, 16, &DesignOptions::default()).unwrap();
        assert_eq!(d.unit[0], vec![0.0; 3]);
        for row in &d.values {
            assert_eq!(row.len(), 4);
            assert_eq!(row[0], 0.05);
            assert!(row.iter().all(|v| v.is_finite()));
            assert!((0.1..=0.5).contains(&row[1]));
        }
        assert!(
            (d.values[0][2] - (1.0 + 0.2 * crate::input::params::norm_ppf(1e-9))).abs() < 1e-12
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        let b = block();
        let opts = DesignOptions::default();
        let fixed = ParamBlock::from_pairs([("k".to_string(), Distribution::Fixed(1.0))]);
        assert_eq!(
            generate(&fixed, DesignMethod::Random, 4, &opts),
            Err(DesignError::NoVaryingParameters)
        );
        assert!(matches!(
            generate(&b, DesignMethod::Grid, 1000, &opts),
            Err(DesignError::TooManyRows { .. })
        ));
        assert!(matches!(
            generate(&b, DesignMethod::Lhs, 0, &opts),
            Err(DesignError::TooFew { .. })
        ));
        let odd = DesignOptions {
            levels: 5,
            ..opts.clone()
        };
        assert_eq!(
            generate(&b, DesignMethod::Morris, 4, &odd),
            Err(DesignError::BadLevels(5))
        );
        let mut c = b.clone();
        c.correlations.push(Correlation {
            a: "D".into(),
            b: "a".into(),
            rho: 0.3,
        });
        assert_eq!(
            generate(&c, DesignMethod::Saltelli, 4, &opts),
            Err(DesignError::Correlated("saltelli"))
        );
        assert!(generate(&c, DesignMethod::Lhs, 4, &opts).is_ok());
    }

    /// `value_to_unit` inverts `from_unit` for every continuous distribution
    /// and lands inside the right interval for `choice`.
    #[test]
    fn value_to_unit_inverts_from_unit() {
        let dists = [
            Distribution::Uniform {
                low: -2.0,
                high: 3.0,
            },
            Distribution::LogUniform {
                low: 1e-3,
                high: 1e-1,
            },
            Distribution::Normal { mean: 1.0, sd: 0.2 },
            Distribution::LogNormal {
                mu: 0.5,
                sigma: 0.3,
            },
            Distribution::TruncNormal {
                mean: 1.0,
                sd: 0.5,
                low: 0.0,
                high: 2.0,
            },
        ];
        for dist in &dists {
            for u in [0.01, 0.25, 0.5, 0.8, 0.99] {
                let back = value_to_unit(dist, dist.from_unit(u));
                assert!((back - u).abs() < 1e-9, "{dist:?} u={u} back={back}");
            }
        }
        let c = Distribution::Choice {
            values: vec![1.0, 2.0, 3.0],
            weights: Some(vec![1.0, 2.0, 1.0]),
        };
        assert_eq!(value_to_unit(&c, 2.0), 0.5);
        assert_eq!(c.from_unit(value_to_unit(&c, 3.0)), 3.0);
        assert_eq!(c.from_unit(value_to_unit(&c, 1.0)), 1.0);
    }
}
