//! Sobol sensitivity indices from outputs on a Saltelli design (rows in
//! SALib's order, see [`crate::methods::design::saltelli`]).
//!
//! With `f_A`, `f_B`, `f_ABi`, `f_BAi` the outputs on the rows of each base
//! block and `V` the variance (1/n) of `[f_A; f_B]`:
//! - first order (Saltelli et al. 2010): `S1_i = mean(f_B (f_ABi − f_A)) / V`;
//! - total (Jansen 1999): `ST_i = ½ mean((f_A − f_ABi)²) / V`;
//! - second order (Saltelli 2002, as in SALib):
//!   `S2_ij = mean(f_BAi f_ABj − f_A f_B) / V − S1_i − S1_j`.
//!
//! Outputs are centred on their mean first (as SALib does), which makes the
//! estimates independent of an output offset. Whether the design is first
//! or second order follows from the number of rows (`N(D+2)` or
//! `N(2D+2)`); a count that fits both must be settled by the caller
//! ([`SobolOptions::second_order`]), e.g. from the design's layout.
//!
//! Owns: these estimators and their result tables.

use super::{AnalysisError, Bootstrap, check_finite, default_names};
use crate::output::table::Table;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SobolOptions {
    pub bootstrap: Bootstrap,
    /// `None`: infer the order from the row count.
    pub second_order: Option<bool>,
}

/// Second-order indices for every pair `i < j`.
#[derive(Clone, Debug, PartialEq)]
pub struct SecondOrder {
    pub pairs: Vec<(usize, usize)>,
    pub s2: Vec<f64>,
    pub s2_conf: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SobolResult {
    /// Parameter names (`x1 … xD` unless set with [`SobolResult::named`]).
    pub names: Vec<String>,
    /// Base size N of the design.
    pub base_n: usize,
    pub s1: Vec<f64>,
    pub s1_conf: Vec<f64>,
    pub st: Vec<f64>,
    pub st_conf: Vec<f64>,
    pub s2: Option<SecondOrder>,
}

/// The base size and order of a Saltelli design with `rows` rows over `d`
/// parameters. `second_order` forces the order; `None` infers it and
/// refuses a count that fits neither or both.
pub fn saltelli_order(
    rows: usize,
    d: usize,
    second_order: Option<bool>,
) -> Result<(usize, bool), AnalysisError> {
    let (p1, p2) = (d + 2, 2 * d + 2);
    let fits = |p: usize| rows > 0 && rows.is_multiple_of(p);
    let near = |p: usize| {
        let lo = rows / p * p;
        if lo == 0 {
            format!("{p}")
        } else {
            format!("{lo} or {}", lo + p)
        }
    };
    let neither = || AnalysisError::NotSaltelli {
        rows,
        d,
        first: p1,
        first_near: near(p1),
        second: p2,
        second_near: near(p2),
    };
    match second_order {
        Some(true) if fits(p2) => Ok((rows / p2, true)),
        Some(true) => Err(AnalysisError::NotSecondOrder { rows, d, per: p2 }),
        Some(false) if fits(p1) => Ok((rows / p1, false)),
        Some(false) => Err(neither()),
        None => match (fits(p1), fits(p2)) {
            (true, true) => Err(AnalysisError::AmbiguousOrder {
                rows,
                d,
                n_first: rows / p1,
                n_second: rows / p2,
            }),
            (true, false) => Ok((rows / p1, false)),
            (false, true) => Ok((rows / p2, true)),
            (false, false) => Err(neither()),
        },
    }
}

/// Outputs of one Saltelli design split by role, centred.
struct Split {
    a: Vec<f64>,
    b: Vec<f64>,
    ab: Vec<Vec<f64>>,
    ba: Vec<Vec<f64>>,
}

impl Split {
    fn new(y: &[f64], n: usize, d: usize, second_order: bool) -> Self {
        let per = y.len() / n;
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let at = |j: usize, k: usize| y[j * per + k] - mean;
        Split {
            a: (0..n).map(|j| at(j, 0)).collect(),
            b: (0..n).map(|j| at(j, per - 1)).collect(),
            ab: (0..d)
                .map(|i| (0..n).map(|j| at(j, 1 + i)).collect())
                .collect(),
            ba: if second_order {
                (0..d)
                    .map(|i| (0..n).map(|j| at(j, 1 + d + i)).collect())
                    .collect()
            } else {
                vec![]
            },
        }
    }

    /// `[S1…, ST…, S2 pairs…]` over the base rows `idx`.
    fn estimate(&self, idx: &[usize], pairs: &[(usize, usize)]) -> Vec<f64> {
        let m = idx.len() as f64;
        let mean_ab = idx.iter().map(|&j| self.a[j] + self.b[j]).sum::<f64>() / (2.0 * m);
        let var = idx
            .iter()
            .map(|&j| (self.a[j] - mean_ab).powi(2) + (self.b[j] - mean_ab).powi(2))
            .sum::<f64>()
            / (2.0 * m);
        let d = self.ab.len();
        let mut out = Vec::with_capacity(2 * d + pairs.len());
        for ab in &self.ab {
            out.push(
                idx.iter()
                    .map(|&j| self.b[j] * (ab[j] - self.a[j]))
                    .sum::<f64>()
                    / m
                    / var,
            );
        }
        for ab in &self.ab {
            out.push(
                0.5 * idx
                    .iter()
                    .map(|&j| (self.a[j] - ab[j]).powi(2))
                    .sum::<f64>()
                    / m
                    / var,
            );
        }
        for &(i, k) in pairs {
            let v = idx
                .iter()
                .map(|&j| self.ba[i][j] * self.ab[k][j] - self.a[j] * self.b[j])
                .sum::<f64>()
                / m
                / var;
            out.push(v - out[i] - out[k]);
        }
        out
    }
}

/// Sobol indices from outputs `y` (one per design row, in Saltelli order)
/// over `d` varying parameters.
pub fn sobol_indices(
    design_rows: usize,
    d: usize,
    y: &[f64],
    opts: &SobolOptions,
) -> Result<SobolResult, AnalysisError> {
    if d == 0 {
        return Err(AnalysisError::NoParameters);
    }
    if y.len() != design_rows {
        return Err(AnalysisError::RowMismatch {
            design: design_rows,
            outputs: y.len(),
        });
    }
    let (n, second_order) = saltelli_order(design_rows, d, opts.second_order)?;
    check_finite(y)?;
    if y.iter().all(|&v| v == y[0]) {
        return Err(AnalysisError::ConstantOutput(y[0]));
    }
    let split = Split::new(y, n, d, second_order);
    let pairs: Vec<(usize, usize)> = if second_order {
        (0..d)
            .flat_map(|i| (i + 1..d).map(move |k| (i, k)))
            .collect()
    } else {
        vec![]
    };
    let all: Vec<usize> = (0..n).collect();
    let est = split.estimate(&all, &pairs);
    if est.iter().any(|v| !v.is_finite()) {
        // A and B rows all equal while other rows differ: V = 0.
        return Err(AnalysisError::ConstantOutput(y[0]));
    }
    let conf = opts.bootstrap.conf(n, |idx| split.estimate(idx, &pairs))?;
    Ok(SobolResult {
        names: default_names(d),
        base_n: n,
        s1: est[..d].to_vec(),
        s1_conf: conf[..d].to_vec(),
        st: est[d..2 * d].to_vec(),
        st_conf: conf[d..2 * d].to_vec(),
        s2: second_order.then(|| SecondOrder {
            pairs,
            s2: est[2 * d..].to_vec(),
            s2_conf: conf[2 * d..].to_vec(),
        }),
    })
}

impl SobolResult {
    /// Sets the parameter names (one per varying parameter, in order).
    pub fn named(mut self, names: Vec<String>) -> Self {
        debug_assert_eq!(names.len(), self.s1.len());
        self.names = names;
        self
    }

    /// `parameter, S1, S1_conf, ST, ST_conf`, one row per parameter.
    pub fn to_table(&self) -> Table {
        Table::new("sobol")
            .with_str("parameter", self.names.iter().cloned())
            .with_f64("S1", self.s1.iter().copied())
            .with_f64("S1_conf", self.s1_conf.iter().copied())
            .with_f64("ST", self.st.iter().copied())
            .with_f64("ST_conf", self.st_conf.iter().copied())
    }

    /// `parameter_i, parameter_j, S2, S2_conf`, one row per pair `i < j`
    /// (second-order designs only).
    pub fn s2_table(&self) -> Option<Table> {
        let s2 = self.s2.as_ref()?;
        Some(
            Table::new("sobol_s2")
                .with_str(
                    "parameter_i",
                    s2.pairs.iter().map(|&(i, _)| self.names[i].clone()),
                )
                .with_str(
                    "parameter_j",
                    s2.pairs.iter().map(|&(_, k)| self.names[k].clone()),
                )
                .with_f64("S2", s2.s2.iter().copied())
                .with_f64("S2_conf", s2.s2_conf.iter().copied()),
        )
    }

    /// The second-order index of parameters `i` and `j` (either order).
    pub fn s2_of(&self, i: usize, j: usize) -> Option<f64> {
        let s2 = self.s2.as_ref()?;
        let key = (i.min(j), i.max(j));
        s2.pairs.iter().position(|&p| p == key).map(|k| s2.s2[k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row counts decide the order; a count fitting both or neither is
    /// refused with the expected counts named.
    #[test]
    fn order_follows_the_row_count() {
        assert_eq!(saltelli_order(50, 3, None), Ok((10, false)));
        assert_eq!(saltelli_order(24, 3, None), Ok((3, true)));
        assert_eq!(
            saltelli_order(40, 3, None),
            Err(AnalysisError::AmbiguousOrder {
                rows: 40,
                d: 3,
                n_first: 8,
                n_second: 5
            })
        );
        assert_eq!(saltelli_order(40, 3, Some(true)), Ok((5, true)));
        assert_eq!(saltelli_order(40, 3, Some(false)), Ok((8, false)));
        let e = saltelli_order(41, 3, None).unwrap_err().to_string();
        assert_eq!(
            e,
            "41 rows fit no Saltelli design over D = 3 parameters: expected a multiple of 5 \
             (first order, N·(D+2); nearest 40 or 45) or of 8 (second order, N·(2D+2); nearest 40 or 48)"
        );
        assert_eq!(
            saltelli_order(50, 3, Some(true)),
            Err(AnalysisError::NotSecondOrder {
                rows: 50,
                d: 3,
                per: 8
            })
        );
        assert!(saltelli_order(0, 3, None).is_err());
    }

    /// f = x1 + 2·x2 on a random Saltelli-shaped input (additive, so
    /// S1 = ST; variances 1 : 4) and the same outputs shifted by 1000: the
    /// centring makes the indices independent of the offset (to 1e-9).
    #[test]
    fn indices_ignore_an_output_offset() {
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        let mut rng = StdRng::seed_from_u64(4);
        let mut draw = || -> Vec<Vec<f64>> {
            (0..2000)
                .map(|_| vec![rng.random(), rng.random()])
                .collect()
        };
        let (a, b) = (draw(), draw());
        let rows = crate::methods::design::saltelli::saltelli_rows(&a, &b, false);
        let y: Vec<f64> = rows.iter().map(|x| x[0] + 2.0 * x[1]).collect();
        let shifted: Vec<f64> = y.iter().map(|v| v + 1000.0).collect();
        let opts = SobolOptions {
            bootstrap: Bootstrap {
                resamples: 0,
                ..Default::default()
            },
            second_order: None,
        };
        let r = sobol_indices(rows.len(), 2, &y, &opts).unwrap();
        let s = sobol_indices(rows.len(), 2, &shifted, &opts).unwrap();
        for i in 0..2 {
            assert!((r.s1[i] - s.s1[i]).abs() < 1e-9 && (r.st[i] - s.st[i]).abs() < 1e-9);
        }
        // Exact values 0.2 and 0.8; Monte Carlo at N = 2000 is within 0.05.
        assert!(
            (r.s1[0] - 0.2).abs() < 0.05 && (r.s1[1] - 0.8).abs() < 0.05,
            "{:?}",
            r.s1
        );
        assert!(
            (r.st[0] - 0.2).abs() < 0.05 && (r.st[1] - 0.8).abs() < 0.05,
            "{:?}",
            r.st
        );
        assert!(r.s1_conf[0].is_nan(), "no resamples, no interval");
    }

    #[test]
    fn bad_outputs_are_refused() {
        let opts = SobolOptions::default();
        assert_eq!(
            sobol_indices(10, 3, &[1.0; 9], &opts),
            Err(AnalysisError::RowMismatch {
                design: 10,
                outputs: 9
            })
        );
        assert_eq!(
            sobol_indices(10, 3, &[2.0; 10], &opts),
            Err(AnalysisError::ConstantOutput(2.0))
        );
        let mut y: Vec<f64> = (0..10).map(f64::from).collect();
        y[6] = f64::NAN;
        assert!(matches!(
            sobol_indices(10, 3, &y, &opts),
            Err(AnalysisError::NonFinite { row: 6, .. })
        ));
        assert_eq!(
            sobol_indices(10, 0, &y, &opts),
            Err(AnalysisError::NoParameters)
        );
    }
}
