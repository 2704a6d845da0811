//! Matching forecasts to outcomes and grouping the scores: overall, by the
//! forecast's `status`, and per patient (with the mean and median of the
//! per-patient errors, the figures a per-lesion comparison uses).
//!
//! Rows are matched on (patient, time, observable) with times equal as
//! parsed numbers. Nothing is dropped silently: forecasts without an outcome,
//! outcomes without a forecast and matched rows that cannot be scored (an
//! empty or non-finite `mean`, `sd` or quantile) are counted, with a few
//! examples. Rows of every status are scored; `by_status` keeps `ok` and the
//! others (e.g. `failed`) apart.
//!
//! The baseline is the last value carried forward: for a forecast of patient
//! p, observable o at time t, the value of p's last observation of o strictly
//! before t in the observation file (scalar rows, i.e. an empty `location`,
//! as recorded: a value reported at a detection limit counts as that value).

use super::input::{Forecast, Key, ObsSeries};
use super::metrics::{Acc, Central, Metrics, score_row};
use indexmap::IndexMap;
use serde::Serialize;

/// How many example keys of unmatched rows the report lists.
const EXAMPLES: usize = 10;

#[derive(Clone, Debug, Serialize)]
pub struct ScoreReport {
    pub forecast: String,
    pub truth: String,
    pub obs: Option<String>,
    pub levels: Vec<f64>,
    pub counts: Counts,
    /// Every scored row.
    pub overall: Metrics,
    /// Scored rows by the forecast's `status` (`ok`, `failed`, …).
    pub by_status: IndexMap<String, Metrics>,
    /// Mean and median over patients of the per-patient errors.
    pub per_patient_summary: PatientSummary,
    pub patients: Vec<PatientScore>,
    pub methods: Methods,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub forecast_rows: usize,
    pub truth_rows: usize,
    /// Forecast rows with an outcome.
    pub matched: usize,
    /// Matched rows with every number needed.
    pub scored: usize,
    /// Matched rows with an empty or non-finite mean, sd or quantile.
    pub unscorable: usize,
    pub forecast_without_truth: usize,
    pub truth_without_forecast: usize,
    /// Matched rows per status.
    pub matched_by_status: IndexMap<String, usize>,
    pub examples_forecast_without_truth: Vec<String>,
    pub examples_truth_without_forecast: Vec<String>,
    pub examples_unscorable: Vec<String>,
    pub obs_rows: Option<usize>,
    /// Observation rows with a `location` (not used by the baseline).
    pub obs_rows_with_location: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PatientScore {
    pub patient: String,
    /// The distinct statuses of the patient's forecast rows, joined by `,`.
    pub status: String,
    pub forecast_rows: usize,
    pub metrics: Metrics,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MeanMedian {
    pub patients: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
}

impl MeanMedian {
    fn of(mut v: Vec<f64>) -> MeanMedian {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        MeanMedian {
            patients: n,
            mean: (n > 0).then(|| v.iter().sum::<f64>() / n as f64),
            median: (n > 0).then(|| {
                if n % 2 == 1 {
                    v[n / 2]
                } else {
                    0.5 * (v[n / 2 - 1] + v[n / 2])
                }
            }),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PatientSummary {
    pub mae_q50: MeanMedian,
    pub mae_mean: MeanMedian,
    pub crps: MeanMedian,
    /// Per-patient MAE of the baseline, over the rows that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvcf_mae: Option<MeanMedian>,
    /// Per-patient MAE of q50 over the same rows as `lvcf_mae`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_mae_q50_on_lvcf_rows: Option<MeanMedian>,
}

/// The methods, in words, for the JSON reader.
#[derive(Clone, Debug, Serialize)]
pub struct Methods {
    pub crps: &'static str,
    pub crps_gaussian: &'static str,
    pub pit: &'static str,
    pub coverage: &'static str,
    pub lvcf: &'static str,
    pub matching: &'static str,
}

const METHODS: Methods = Methods {
    crps: "2/K * sum_k QS_tau_k(q_k, y), QS_tau(q, y) = (1{y<q} - tau)(q - y), over the forecast's K quantile levels: the quantile-score form of the CRPS (Gneiting & Raftery 2007, JASA 102:359), equal to the weighted interval score of Bracher et al. 2021 for levels 0.05, 0.25, 0.5, 0.75, 0.95",
    crps_gaussian: "closed-form CRPS of N(mean, sd^2) (Gneiting & Raftery 2007, eq. 21)",
    pit: "counts of outcomes between consecutive forecast quantiles; bins [0, tau_1), ..., [tau_K, 1]; ties with several quantiles spread uniformly over their levels (non-randomised PIT, Czado, Gneiting & Held 2009)",
    coverage: "outcome inside [q25, q75] (50 %) or [q05, q95] (90 %), ends included",
    lvcf: "the patient's last observed value of the observable strictly before the forecast time (rows with an empty location), as recorded",
    matching: "forecast and truth rows match on (patient, time, observable), times equal as parsed numbers",
};

/// Scores `forecast` against `truth`, with the baseline from `obs` if given.
pub fn score(
    forecast: &Forecast,
    truth_path: &str,
    truth: &IndexMap<Key, f64>,
    obs: Option<(&str, &ObsSeries)>,
) -> ScoreReport {
    let levels = &forecast.levels;
    let central = Central::find(levels);
    let mut counts = Counts {
        forecast_rows: forecast.rows.len(),
        truth_rows: truth.len(),
        obs_rows: obs.map(|(_, o)| o.rows),
        obs_rows_with_location: obs.map(|(_, o)| o.located_rows),
        ..Default::default()
    };
    let mut used = vec![false; truth.len()];
    let mut overall = Acc::default();
    let mut by_status: IndexMap<String, Acc> = IndexMap::new();
    // patient → (statuses, forecast rows, sums)
    let mut patients: IndexMap<String, (Vec<String>, usize, Acc)> = IndexMap::new();
    for row in &forecast.rows {
        let p = patients
            .entry(row.key.patient.clone())
            .or_insert_with(|| (Vec::new(), 0, Acc::default()));
        p.1 += 1;
        if !p.0.contains(&row.status) {
            p.0.push(row.status.clone());
        }
        let Some((i, _, &y)) = truth.get_full(&row.key) else {
            counts.forecast_without_truth += 1;
            if counts.examples_forecast_without_truth.len() < EXAMPLES {
                counts.examples_forecast_without_truth.push(format!(
                    "{} ({})",
                    row.key.describe(),
                    row.at
                ));
            }
            continue;
        };
        used[i] = true;
        counts.matched += 1;
        *counts
            .matched_by_status
            .entry(row.status.clone())
            .or_default() += 1;
        let finite = |x: Option<f64>| x.filter(|v| v.is_finite());
        let qs: Option<Vec<f64>> = row.quantiles.iter().map(|&q| finite(q)).collect();
        let (Some(c), Some(mean), Some(sd), Some(qs)) =
            (central, finite(row.mean), finite(row.sd), qs)
        else {
            counts.unscorable += 1;
            if counts.examples_unscorable.len() < EXAMPLES {
                counts
                    .examples_unscorable
                    .push(format!("{} ({})", row.key.describe(), row.at));
            }
            continue;
        };
        counts.scored += 1;
        let lvcf = obs.and_then(|(_, o)| {
            o.last_before(&row.key.patient, &row.key.observable, row.key.time())
        });
        let s = score_row(levels, c, mean, sd, &qs, y, lvcf);
        overall.add(&s);
        by_status.entry(row.status.clone()).or_default().add(&s);
        p.2.add(&s);
    }
    for (k, _) in truth.keys().zip(&used).filter(|(_, u)| !**u) {
        counts.truth_without_forecast += 1;
        if counts.examples_truth_without_forecast.len() < EXAMPLES {
            counts.examples_truth_without_forecast.push(k.describe());
        }
    }
    let baseline = obs.is_some();
    let patients: Vec<PatientScore> = patients
        .into_iter()
        .map(|(patient, (statuses, rows, acc))| PatientScore {
            patient,
            status: statuses.join(","),
            forecast_rows: rows,
            metrics: acc.finish(levels, baseline),
        })
        .collect();
    let over = |f: &dyn Fn(&Metrics) -> Option<f64>| {
        MeanMedian::of(patients.iter().filter_map(|p| f(&p.metrics)).collect())
    };
    let per_patient_summary = PatientSummary {
        mae_q50: over(&|m| m.mae_q50),
        mae_mean: over(&|m| m.mae_mean),
        crps: over(&|m| m.crps),
        lvcf_mae: baseline.then(|| over(&|m| m.lvcf.as_ref().and_then(|l| l.mae))),
        forecast_mae_q50_on_lvcf_rows: baseline
            .then(|| over(&|m| m.lvcf.as_ref().and_then(|l| l.forecast_mae_q50))),
    };
    ScoreReport {
        forecast: forecast.path.display().to_string(),
        truth: truth_path.to_string(),
        obs: obs.map(|(p, _)| p.to_string()),
        levels: levels.clone(),
        counts,
        overall: overall.finish(levels, baseline),
        by_status: by_status
            .into_iter()
            .map(|(s, a)| (s, a.finish(levels, baseline)))
            .collect(),
        per_patient_summary,
        patients,
        methods: METHODS,
    }
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// The short table `vtwin score` prints.
pub fn render_text(r: &ScoreReport) -> String {
    use std::fmt::Write;
    let c = &r.counts;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "rows: {} forecasts, {} outcomes; {} matched ({} scored, {} unscorable); {} forecasts without an outcome; {} outcomes without a forecast",
        c.forecast_rows,
        c.truth_rows,
        c.matched,
        c.scored,
        c.unscorable,
        c.forecast_without_truth,
        c.truth_without_forecast
    );
    let _ = writeln!(
        s,
        "{:<10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7} {:>10} {:>10}",
        "group",
        "n",
        "MAE mean",
        "RMSE mean",
        "MAE q50",
        "RMSE q50",
        "CRPS",
        "cov50",
        "cov90",
        "MAE LVCF",
        "RMSE LVCF"
    );
    let line = |s: &mut String, name: &str, m: &Metrics| {
        let (lm, lr) = m.lvcf.as_ref().map_or((None, None), |l| (l.mae, l.rmse));
        let _ = writeln!(
            s,
            "{:<10} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7} {:>10} {:>10}",
            name,
            m.n,
            num(m.mae_mean),
            num(m.rmse_mean),
            num(m.mae_q50),
            num(m.rmse_q50),
            num(m.crps),
            pct(m.coverage_50.fraction),
            pct(m.coverage_90.fraction),
            num(lm),
            num(lr)
        );
    };
    line(&mut s, "all", &r.overall);
    for (status, m) in &r.by_status {
        line(&mut s, &format!("[{status}]"), m);
    }
    if r.patients.len() <= 20 {
        for p in &r.patients {
            line(&mut s, &p.patient, &p.metrics);
        }
    }
    let ps = &r.per_patient_summary;
    let _ = write!(
        s,
        "per patient ({} scored): MAE q50 mean {} median {}",
        ps.mae_q50.patients,
        num(ps.mae_q50.mean),
        num(ps.mae_q50.median)
    );
    if let (Some(l), Some(f)) = (&ps.lvcf_mae, &ps.forecast_mae_q50_on_lvcf_rows) {
        let _ = write!(
            s,
            "; on rows with a baseline: MAE q50 mean {} median {}, MAE LVCF mean {} median {}",
            num(f.mean),
            num(f.median),
            num(l.mean),
            num(l.median)
        );
    }
    let _ = writeln!(s);
    let bins: Vec<String> = r
        .overall
        .pit
        .iter()
        .map(|b| format!("{} ({})", pct(b.fraction), pct(Some(b.expected))))
        .collect();
    let _ = writeln!(
        s,
        "PIT by quantile bin, observed (expected): {}",
        bins.join("  ")
    );
    s
}
