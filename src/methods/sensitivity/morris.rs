//! Morris elementary effects (Morris 1991; μ* from Campolongo et al. 2007)
//! from outputs on Morris trajectories (see [`crate::methods::design::morris`]).
//!
//! In each trajectory of `D + 1` unit-cube rows, consecutive rows differ in
//! one parameter `i` by ±Δ, Δ = p/(2(p−1)). Its elementary effect is
//! `EE_i = (y(x + Δ e_i) − y(x)) / Δ`: output change per unit-cube step, so
//! for `f = Σ c_i x_i` with `x_i` uniform on a range of width `r_i`,
//! `EE_i = c_i r_i` exactly (SALib's convention). Per parameter:
//! `mu` = mean EE, `mu_star` = mean |EE|, `sigma` = standard deviation of EE
//! (n − 1; NaN for a single trajectory) and `mu_star_conf` its bootstrap
//! half-width over trajectories.
//!
//! A step whose unit coordinates did not change (a `choice` parameter whose
//! step stayed inside one choice, after mapping values back to the unit
//! cube) is given to the trajectory's parameters not seen moving, in
//! parameter order, with a positive sign.
//!
//! Owns: this estimator and its result table.

use super::{AnalysisError, Bootstrap, check_finite, default_names};
use crate::output::table::Table;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MorrisOptions {
    pub bootstrap: Bootstrap,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MorrisResult {
    pub names: Vec<String>,
    pub trajectories: usize,
    pub mu: Vec<f64>,
    pub mu_star: Vec<f64>,
    pub sigma: Vec<f64>,
    pub mu_star_conf: Vec<f64>,
}

/// Coordinates closer than this count as unchanged.
const MOVE_TOL: f64 = 1e-12;

/// Elementary effects per trajectory (`ee[t][i]`).
fn elementary_effects(
    unit: &[Vec<f64>],
    y: &[f64],
    d: usize,
    delta: f64,
) -> Result<Vec<Vec<f64>>, AnalysisError> {
    let mut all = Vec::with_capacity(unit.len() / (d + 1));
    for (t, (traj, yt)) in unit.chunks(d + 1).zip(y.chunks(d + 1)).enumerate() {
        let mut ee: Vec<Option<f64>> = vec![None; d];
        let mut unresolved = Vec::new();
        for s in 0..d {
            let row = t * (d + 1) + s + 1;
            let (x0, x1) = (&traj[s], &traj[s + 1]);
            if x0.len() != d || x1.len() != d {
                return Err(AnalysisError::BadTrajectory(format!(
                    "row {row} has {} coordinates, expected {d}",
                    x1.len()
                )));
            }
            let moved: Vec<usize> = (0..d)
                .filter(|&j| (x1[j] - x0[j]).abs() > MOVE_TOL)
                .collect();
            let dy = (yt[s + 1] - yt[s]) / delta;
            match moved.as_slice() {
                [] => unresolved.push(dy),
                [i] => {
                    if ee[*i].is_some() {
                        return Err(AnalysisError::BadTrajectory(format!(
                            "row {row} (0-based) moves parameter {} a second time in trajectory {t}",
                            i + 1
                        )));
                    }
                    ee[*i] = Some(if x1[*i] > x0[*i] { dy } else { -dy });
                }
                many => {
                    return Err(AnalysisError::BadTrajectory(format!(
                        "row {row} (0-based) changes {} parameters at once; Morris steps change one",
                        many.len()
                    )));
                }
            }
        }
        let mut rest = unresolved.into_iter();
        let ee: Vec<f64> = ee
            .into_iter()
            .map(|e| e.or_else(|| rest.next()).unwrap_or(f64::NAN))
            .collect();
        all.push(ee);
    }
    Ok(all)
}

/// Morris statistics from unit-cube trajectories `unit` (over the `d`
/// varying parameters) and outputs `y`, with `levels` grid levels.
pub fn morris_indices(
    unit: &[Vec<f64>],
    y: &[f64],
    d: usize,
    levels: u32,
    opts: &MorrisOptions,
) -> Result<MorrisResult, AnalysisError> {
    if d == 0 {
        return Err(AnalysisError::NoParameters);
    }
    if y.len() != unit.len() {
        return Err(AnalysisError::RowMismatch {
            design: unit.len(),
            outputs: y.len(),
        });
    }
    if unit.is_empty() || !unit.len().is_multiple_of(d + 1) {
        return Err(AnalysisError::NotMorris {
            rows: unit.len(),
            d,
            per: d + 1,
        });
    }
    check_finite(y)?;
    let delta = crate::methods::design::morris::delta(levels);
    let ee = elementary_effects(unit, y, d, delta)?;
    let r = ee.len();
    let mean = |idx: &[usize], f: &dyn Fn(f64) -> f64| -> Vec<f64> {
        (0..d)
            .map(|i| idx.iter().map(|&t| f(ee[t][i])).sum::<f64>() / idx.len() as f64)
            .collect()
    };
    let all: Vec<usize> = (0..r).collect();
    let mu = mean(&all, &|e| e);
    let mu_star = mean(&all, &f64::abs);
    let sigma = (0..d)
        .map(|i| {
            let ss: f64 = ee.iter().map(|e| (e[i] - mu[i]).powi(2)).sum();
            if r > 1 {
                (ss / (r - 1) as f64).sqrt()
            } else {
                f64::NAN
            }
        })
        .collect();
    let mu_star_conf = opts.bootstrap.conf(r, |idx| mean(idx, &f64::abs))?;
    Ok(MorrisResult {
        names: default_names(d),
        trajectories: r,
        mu,
        mu_star,
        sigma,
        mu_star_conf,
    })
}

impl MorrisResult {
    /// Sets the parameter names (one per varying parameter, in order).
    pub fn named(mut self, names: Vec<String>) -> Self {
        debug_assert_eq!(names.len(), self.mu.len());
        self.names = names;
        self
    }

    /// `parameter, mu, mu_star, sigma, mu_star_conf`, one row per parameter.
    pub fn to_table(&self) -> Table {
        Table::new("morris")
            .with_str("parameter", self.names.iter().cloned())
            .with_f64("mu", self.mu.iter().copied())
            .with_f64("mu_star", self.mu_star.iter().copied())
            .with_f64("sigma", self.sigma.iter().copied())
            .with_f64("mu_star_conf", self.mu_star_conf.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::design::morris::trajectories;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Steps that change two coordinates, or one coordinate twice, are
    /// refused.
    #[test]
    fn malformed_trajectories_are_refused() {
        let y = [0.0, 1.0, 2.0];
        let two_at_once = vec![vec![0.0, 0.0], vec![0.5, 0.5], vec![0.5, 0.0]];
        let e = morris_indices(&two_at_once, &y, 2, 4, &MorrisOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("changes 2 parameters at once"),
            "{e}"
        );
        let twice = vec![vec![0.0, 0.0], vec![0.5, 0.0], vec![0.0, 0.0]];
        let e = morris_indices(&twice, &y, 2, 4, &MorrisOptions::default()).unwrap_err();
        assert!(e.to_string().contains("a second time"), "{e}");
        let e = morris_indices(&twice[..2], &y[..2], 2, 4, &MorrisOptions::default()).unwrap_err();
        assert_eq!(
            e,
            AnalysisError::NotMorris {
                rows: 2,
                d: 2,
                per: 3
            }
        );
    }

    /// A step that changes no coordinate (a `choice` parameter staying in
    /// one choice) goes to the parameter not seen moving, with + sign.
    #[test]
    fn unchanged_step_goes_to_the_missing_parameter() {
        let unit = vec![vec![0.0, 0.25], vec![0.0, 0.25], vec![2.0 / 3.0, 0.25]];
        let y = [1.0, 1.5, 3.0];
        let ee = elementary_effects(&unit, &y, 2, 2.0 / 3.0).unwrap();
        assert!(
            (ee[0][0] - 2.25).abs() < 1e-12 && (ee[0][1] - 0.75).abs() < 1e-12,
            "{ee:?}"
        );
    }

    /// f = x1² on [0, 1] with p = 4 (Δ = 2/3): a step up from x gives
    /// EE = 2x + Δ with x ∈ {0, 1/3}, so every EE is 2/3 or 4/3, μ* = μ,
    /// and σ > 0.
    #[test]
    fn quadratic_effects_take_the_two_expected_values() {
        let unit = trajectories(200, 2, 4, &mut StdRng::seed_from_u64(5));
        let y: Vec<f64> = unit.iter().map(|x| x[0] * x[0]).collect();
        let delta = crate::methods::design::morris::delta(4);
        let ee = elementary_effects(&unit, &y, 2, delta).unwrap();
        for e in &ee {
            assert!(
                (e[0] - 2.0 / 3.0).abs() < 1e-12 || (e[0] - 4.0 / 3.0).abs() < 1e-12,
                "{}",
                e[0]
            );
            assert_eq!(e[1], 0.0);
        }
        let r = morris_indices(&unit, &y, 2, 4, &MorrisOptions::default()).unwrap();
        assert!((r.mu[0] - r.mu_star[0]).abs() < 1e-12);
        assert!((r.mu[0] - 1.0).abs() < 0.1, "mu {}", r.mu[0]);
        assert!(r.sigma[0] > 0.2 && r.sigma[1] == 0.0);
    }
}
