//! Sweeps: a design run as one ensemble (one member per design row), with
//! each member's recorded observables reduced to scalar summaries that a
//! sensitivity analysis can use.
//!
//! Summaries per observable `OBS` (names as written in `outputs.csv`):
//! - `OBS_final`: the value at the last recorded step;
//! - `OBS_max`: the largest recorded value;
//! - `OBS_t<THR>` (only when asked for with a threshold): the time of the
//!   first upward crossing of THR, linearly interpolated between recorded
//!   steps (the first recorded time when the series starts above THR),
//!   null when THR is never exceeded.
//!
//! A member that failed (diverged, saturated) has every summary null.
//! [`analysis`] turns the summaries of a Saltelli or Morris design into
//! indices.
//!
//! Owns: summary naming and reduction, and which design rows survive
//! failures. Never runs an engine, never touches files and never imports
//! wgpu (the `sweep` command does the running and writing).

pub mod analysis;

use crate::core::observe::first_crossing_series;
use crate::core::plan::Plan;
use crate::engine::Recordings;

/// How one observable's series becomes one number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SummaryKind {
    Final,
    Max,
    /// Time of the first upward crossing of the threshold.
    TimeTo(f64),
}

/// One output column of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SummarySpec {
    /// The observable's name.
    pub observable: String,
    /// Its index in the plan's observables (output order).
    pub index: usize,
    pub kind: SummaryKind,
    /// The observable's unit (the time unit for crossing times).
    pub unit: String,
}

impl SummarySpec {
    /// `OBS_final`, `OBS_max` or `OBS_t<THR>`.
    pub fn name(&self) -> String {
        match self.kind {
            SummaryKind::Final => format!("{}_final", self.observable),
            SummaryKind::Max => format!("{}_max", self.observable),
            SummaryKind::TimeTo(t) => format!("{}_t{t}", self.observable),
        }
    }

    pub fn description(&self) -> String {
        match self.kind {
            SummaryKind::Final => format!("{} at the last recorded step", self.observable),
            SummaryKind::Max => format!("largest recorded value of {}", self.observable),
            SummaryKind::TimeTo(t) => format!(
                "time at which {} first rises above {t} (null when it never does)",
                self.observable
            ),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SweepError {
    #[error("--outputs names `{name}`, which is not an observable of this scene; it has {known}")]
    UnknownObservable { name: String, known: String },
    #[error("--threshold `{0}`: expected OBS=VALUE with a finite number, e.g. burden=100")]
    BadThreshold(String),
    #[error("--threshold names `{name}`, which is not an observable of this scene; it has {known}")]
    UnknownThreshold { name: String, known: String },
}

/// Parses `OBS=VALUE`.
pub fn parse_threshold(s: &str) -> Result<(String, f64), SweepError> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| SweepError::BadThreshold(s.to_string()))?;
    let v: f64 = value
        .trim()
        .parse()
        .map_err(|_| SweepError::BadThreshold(s.to_string()))?;
    if name.trim().is_empty() || !v.is_finite() {
        return Err(SweepError::BadThreshold(s.to_string()));
    }
    Ok((name.trim().to_string(), v))
}

/// The summaries of a sweep: for each chosen observable (all of them when
/// `outputs` is empty, in the plan's order otherwise in the given order)
/// `_final` and `_max`, then `_t<THR>` for each threshold on it.
pub fn summary_specs(
    plan: &Plan,
    outputs: &[String],
    thresholds: &[(String, f64)],
) -> Result<Vec<SummarySpec>, SweepError> {
    let names = plan.observables.names();
    let described = plan.observables.describe();
    let known = || {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen: Vec<usize> = if outputs.is_empty() {
        (0..names.len()).collect()
    } else {
        outputs
            .iter()
            .map(|o| {
                names
                    .iter()
                    .position(|n| n == o)
                    .ok_or_else(|| SweepError::UnknownObservable {
                        name: o.clone(),
                        known: known(),
                    })
            })
            .collect::<Result<_, _>>()?
    };
    for (name, _) in thresholds {
        if !chosen.iter().any(|&i| names[i] == *name) {
            return Err(SweepError::UnknownThreshold {
                name: name.clone(),
                known: chosen
                    .iter()
                    .map(|&i| format!("`{}`", names[i]))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let time_unit = plan.model.info().time_unit.clone();
    let mut specs = Vec::new();
    for &i in &chosen {
        let spec = |kind, unit: &str| SummarySpec {
            observable: names[i].clone(),
            index: i,
            kind,
            unit: unit.to_string(),
        };
        specs.push(spec(SummaryKind::Final, &described[i].1));
        specs.push(spec(SummaryKind::Max, &described[i].1));
        for (_, t) in thresholds.iter().filter(|(n, _)| *n == names[i]) {
            specs.push(spec(SummaryKind::TimeTo(*t), &time_unit));
        }
    }
    Ok(specs)
}

/// One summary of one recorded series (None entries are steps after a
/// failure; the caller passes only series of members that did not fail).
pub fn summarise_series(times: &[f64], series: &[Option<f64>], kind: SummaryKind) -> Option<f64> {
    match kind {
        SummaryKind::Final => series.last().copied().flatten(),
        SummaryKind::Max => series
            .iter()
            .flatten()
            .copied()
            .reduce(f64::max)
            .filter(|v| !v.is_nan()),
        SummaryKind::TimeTo(thr) => {
            let vals: Vec<f64> = series.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            first_crossing_series(times, &vals, thr)
                .last()
                .copied()
                .flatten()
        }
    }
}

/// Rows × summaries of a batch's recordings; every summary of a failed
/// row is None.
pub fn summarise(rec: &Recordings, specs: &[SummarySpec]) -> Vec<Vec<Option<f64>>> {
    (0..rec.rows())
        .map(|m| {
            if !rec.status[m].is_ok() {
                return vec![None; specs.len()];
            }
            let series = rec.series(m);
            specs
                .iter()
                .map(|s| summarise_series(&rec.times, &series[s.index], s.kind))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_of_a_known_series() {
        let t = [0.0, 1.0, 2.0, 3.0];
        let s = [Some(0.0), Some(4.0), Some(2.0), Some(3.0)];
        assert_eq!(summarise_series(&t, &s, SummaryKind::Final), Some(3.0));
        assert_eq!(summarise_series(&t, &s, SummaryKind::Max), Some(4.0));
        // Crosses 1 between t = 0 and 1 at a quarter of the way.
        assert_eq!(
            summarise_series(&t, &s, SummaryKind::TimeTo(1.0)),
            Some(0.25)
        );
        assert_eq!(summarise_series(&t, &s, SummaryKind::TimeTo(5.0)), None);
        // Starting above the threshold: the first recorded time.
        assert_eq!(
            summarise_series(&t, &s, SummaryKind::TimeTo(-1.0)),
            Some(0.0)
        );
    }

    #[test]
    fn thresholds_parse_and_refuse_nonsense() {
        assert_eq!(
            parse_threshold("burden=100").unwrap(),
            ("burden".into(), 100.0)
        );
        assert_eq!(parse_threshold(" a = 1e-3").unwrap(), ("a".into(), 1e-3));
        for bad in ["burden", "=3", "b=x", "b=inf"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }
}
