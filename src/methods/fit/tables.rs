//! The tables a calibration writes about its data rows: `targets.csv`
//! (how each row was read), `predictive.csv` (each row with its posterior
//! predictive quantiles, PIT and band membership) and
//! `predictive_summary.csv` (coverage and PIT statistics).

use super::Target;
use crate::methods::calibrate::data;
use crate::methods::calibrate::predictive::Predictive;
use crate::output::table::Table;

/// line, time, observable, location, value, sd: how each data row was read.
pub fn targets_table(targets: &[Target]) -> Table {
    Table::new("targets")
        .with_i64("line", targets.iter().map(|t| t.line as i64))
        .with_f64("time", targets.iter().map(|t| t.time))
        .with_str("observable", targets.iter().map(|t| t.observable.clone()))
        .with_str(
            "location",
            targets.iter().map(|t| data::location_field(&t.location)),
        )
        .with_f64("value", targets.iter().map(|t| t.value))
        .with_f64("sd", targets.iter().map(|t| t.sd))
}

/// `predictive`: each data row with its posterior predictive mean,
/// quantiles, PIT and whether the value lies inside the 50 % / 90 % bands.
pub fn predictive_table(targets: &[Target], p: &Predictive) -> Table {
    let q = |k: usize| p.rows.iter().map(move |r| r.quantiles[k]);
    let inside = |lo: usize, hi: usize| {
        targets
            .iter()
            .zip(&p.rows)
            .map(move |(t, r)| (t.value >= r.quantiles[lo] && t.value <= r.quantiles[hi]) as i64)
    };
    let mut t = targets_table(targets);
    t.name = "predictive".into();
    t.with_f64("mean", p.rows.iter().map(|r| r.mean))
        .with_f64("q05", q(0))
        .with_f64("q25", q(1))
        .with_f64("q50", q(2))
        .with_f64("q75", q(3))
        .with_f64("q95", q(4))
        .with_f64("pit", p.rows.iter().map(|r| r.pit))
        .with_i64("inside50", inside(1, 3))
        .with_i64("inside90", inside(0, 4))
}

/// `predictive_summary`: one row of coverage and PIT statistics.
pub fn predictive_summary_table(observed: &[f64], p: &Predictive) -> Table {
    let (m, sd, ks) = p.pit_summary();
    Table::new("predictive_summary")
        .with_i64("rows", [p.rows.len() as i64])
        .with_i64("draws", [p.draws as i64])
        .with_i64("failed_draws", [p.failed as i64])
        .with_f64("coverage50", [p.coverage50(observed)])
        .with_f64("coverage90", [p.coverage90(observed)])
        .with_f64("pit_mean", [m])
        .with_f64("pit_sd", [sd])
        .with_f64("pit_ks", [ks])
}
