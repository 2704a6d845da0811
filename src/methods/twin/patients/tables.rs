//! Output tables of a patient run (docs/patients.md): `patients`
//! (status and counts per patient), `analysis` (every assimilated reading
//! with the ensemble before and after), `posterior` (every estimated
//! parameter per patient, with the prior), `forecast` (one row per
//! requested patient, time and observable: the predictive distribution)
//! and `forecast_members` (each member's value at each request).
//!
//! Owns: column names and order. `forecast`'s columns are a contract with
//! `vtwin score`: keep `patient, time, observable, status, mean, sd, q05,
//! q25, q50, q75, q95`.

use super::run::PatientOutput;
use crate::output::table::Table;

/// The column name of quantile level `q` (0.05 → `q05`, 0.025 → `q025`).
pub fn quantile_name(q: f64) -> String {
    let s = format!("{:.6}", q);
    let digits = s.trim_start_matches("0.").trim_end_matches('0');
    let digits = if digits.len() < 2 {
        format!("{digits:0<2}")
    } else {
        digits.to_string()
    };
    format!("q{digits}")
}

fn name(out: &PatientOutput, p: usize) -> String {
    out.patients[p].name.clone()
}

pub fn patients_table(out: &PatientOutput) -> Table {
    let p = &out.patients;
    Table::new("patients")
        .with_str("patient", p.iter().map(|r| r.name.clone()))
        .with_str("status", p.iter().map(|r| r.status().to_string()))
        .with_f64(
            "failed_at",
            p.iter()
                .map(|r| r.failed.as_ref().map_or(f64::NAN, |f| f.0)),
        )
        .with_str(
            "reason",
            p.iter()
                .map(|r| r.failed.as_ref().map_or(String::new(), |f| f.1.clone())),
        )
        .with_i64("readings", p.iter().map(|r| r.readings as i64))
        .with_i64("censored", p.iter().map(|r| r.censored as i64))
        .with_i64("analyses", p.iter().map(|r| r.analyses as i64))
        .with_i64("replaced", p.iter().map(|r| r.replaced as i64))
}

pub fn analysis_table(out: &PatientOutput) -> Table {
    let a = &out.analyses;
    Table::new("analysis")
        .with_str("patient", a.iter().map(|r| name(out, r.patient)))
        .with_f64("time", a.iter().map(|r| r.time))
        .with_str("observable", a.iter().map(|r| r.observable.clone()))
        .with_f64("observed", a.iter().map(|r| r.observed))
        .with_bool("censored", a.iter().map(|r| r.censored))
        .with_f64("value", a.iter().map(|r| r.value))
        .with_f64("sd", a.iter().map(|r| r.sd))
        .with_f64("forecast_mean", a.iter().map(|r| r.forecast.0))
        .with_f64("forecast_sd", a.iter().map(|r| r.forecast.1))
        .with_f64("analysis_mean", a.iter().map(|r| r.analysis.0))
        .with_f64("analysis_sd", a.iter().map(|r| r.analysis.1))
}

pub fn posterior_table(out: &PatientOutput) -> Table {
    let r = &out.posterior;
    Table::new("posterior")
        .with_str("patient", r.iter().map(|x| name(out, x.patient)))
        .with_str(
            "status",
            r.iter()
                .map(|x| out.patients[x.patient].status().to_string()),
        )
        .with_str("param", r.iter().map(|x| x.param.clone()))
        .with_f64("median", r.iter().map(|x| x.median))
        .with_f64("q05", r.iter().map(|x| x.q05))
        .with_f64("q95", r.iter().map(|x| x.q95))
        .with_f64("prior_median", r.iter().map(|x| x.prior.0))
        .with_f64("prior_q05", r.iter().map(|x| x.prior.1))
        .with_f64("prior_q95", r.iter().map(|x| x.prior.2))
}

/// The wide forecast table: one row per request, `levels` as quantile
/// columns (the five defaults first).
pub fn forecast_table(out: &PatientOutput, levels: &[f64]) -> Table {
    let f = &out.forecasts;
    let mut t = Table::new("forecast")
        .with_str("patient", f.iter().map(|r| name(out, r.patient)))
        .with_f64("time", f.iter().map(|r| r.time))
        .with_str("observable", f.iter().map(|r| r.observable.clone()))
        .with_str(
            "status",
            f.iter()
                .map(|r| out.patients[r.patient].status().to_string()),
        )
        .with_f64("mean", f.iter().map(|r| r.predictive.mean))
        .with_f64("sd", f.iter().map(|r| r.predictive.sd));
    for (k, &q) in levels.iter().enumerate() {
        t = t.with_f64(
            &quantile_name(q),
            f.iter().map(|r| r.predictive.quantiles[k]),
        );
    }
    t.with_bool("prior", f.iter().map(|r| r.prior))
        .with_i64("members", f.iter().map(|r| r.predictive.members as i64))
}

/// Every member's forecast value (no observation noise), long format.
pub fn members_table(out: &PatientOutput) -> Table {
    let f = &out.forecasts;
    let rows = || {
        f.iter()
            .flat_map(|r| r.members.iter().enumerate().map(move |(j, v)| (r, j, *v)))
    };
    Table::new("forecast_members")
        .with_str("patient", rows().map(|(r, _, _)| name(out, r.patient)))
        .with_f64("time", rows().map(|(r, _, _)| r.time))
        .with_str("observable", rows().map(|(r, _, _)| r.observable.clone()))
        .with_i64("member", rows().map(|(_, j, _)| j as i64))
        .with_f64("value", rows().map(|(_, _, v)| v))
}

#[cfg(test)]
mod tests {
    use super::quantile_name;

    #[test]
    fn quantile_column_names() {
        let got: Vec<String> = [0.05, 0.25, 0.5, 0.75, 0.95, 0.025, 0.975, 0.1]
            .iter()
            .map(|&q| quantile_name(q))
            .collect();
        assert_eq!(
            got,
            ["q05", "q25", "q50", "q75", "q95", "q025", "q975", "q10"]
        );
    }
}
