//! The report of a patient run (`vtwin assimilate --obs` with a `patient`
//! column): a summary over patients (counts, failures, the spread of the
//! estimated parameters across patients) and one section per shown patient
//! (readings, the analysis mean ± sd at each reading, the predictive
//! forecast at each requested time).
//!
//! Owns: which patients are shown (`Pick`) and the figures; reads the
//! `patients`, `analysis`, `posterior` and `forecast` tables written by
//! `twin::patients::tables`.

use super::data::{self, Loaded, distinct};
use super::kinds::{manifest, manifest_section, time_unit};
use super::plot::{Chart, Mark, Series};
use super::{ReportError, Section};
use std::path::Path;

/// Patients shown one by one when none are named.
pub const DEFAULT_SHOWN: usize = 12;

/// Which patients get their own section.
#[derive(Clone, Debug, Default)]
pub enum Pick {
    /// The first `DEFAULT_SHOWN` in file order, failed patients first.
    #[default]
    First,
    /// These, by name (each must exist).
    Named(Vec<String>),
}

/// Sections of a patient run's report; `scores` is a `vtwin score --json`
/// file of its forecasts.
pub fn patients(
    dir: &Path,
    pick: &Pick,
    scores: Option<&Path>,
) -> Result<Vec<Section>, ReportError> {
    let m = manifest(dir)?;
    let tu = time_unit(&m);
    let pt = data::require(dir, "patients")?;
    let names = pt.str("patient")?;
    let status = pt.str("status")?;
    let reason = pt.str("reason")?;
    let int = |c: &str| -> Result<Vec<f64>, ReportError> { pt.f64(c) };
    let (readings, censored, replaced) = (int("readings")?, int("censored")?, int("replaced")?);
    let failed: Vec<usize> = (0..pt.rows()).filter(|&r| status[r] != "ok").collect();

    let mut summary = Section::new("Patients");
    summary.text(format!(
        "{} patients: {} ok, {} failed; {} readings ({} censored at the detection limit); {} members replaced after leaving their bounds or turning non-finite.",
        pt.rows(),
        pt.rows() - failed.len(),
        failed.len(),
        readings.iter().sum::<f64>(),
        censored.iter().sum::<f64>(),
        replaced.iter().sum::<f64>(),
    ));
    if !failed.is_empty() {
        summary.table(
            &["patient", "status", "reason"],
            failed
                .iter()
                .take(50)
                .map(|&r| vec![names[r].clone(), status[r].clone(), reason[r].clone()])
                .collect(),
        );
    }
    if let Some(post) = data::table(dir, "posterior")? {
        posterior_figures(&mut summary, &post, &names)?;
    }

    let shown: Vec<String> = match pick {
        Pick::Named(list) => {
            for n in list {
                if !names.contains(n) {
                    return Err(ReportError::input(
                        dir,
                        format!("--patients: no patient `{n}` in the patients table"),
                    ));
                }
            }
            list.clone()
        }
        // Failed patients first, then the others in file order: row
        // indices, each once (rows are distinct patients), lazily.
        Pick::First => failed
            .iter()
            .copied()
            .chain((0..names.len()).filter(|r| status[*r] == "ok"))
            .take(DEFAULT_SHOWN)
            .map(|r| names[r].clone())
            .collect(),
    };
    if shown.len() < names.len() {
        summary.text(format!(
            "{} of {} patients are shown below (failed patients first); choose others with `vtwin report DIR --patients A,B,…`.",
            shown.len(),
            names.len()
        ));
    }
    let mut sections = vec![summary];
    if let Some(path) = scores {
        sections.push(scores_section(path, &data::read_json(path)?)?);
    }
    let an = data::table(dir, "analysis")?;
    let fc = data::table(dir, "forecast")?;
    for p in &shown {
        let row = names.iter().position(|n| n == p).unwrap_or(0);
        let mut sec = Section::new(format!("Patient {p}"));
        if status[row] != "ok" {
            sec.text(format!("Status {}: {}", status[row], reason[row]));
        }
        for c in patient_charts(p, an.as_ref(), fc.as_ref(), &tu)? {
            sec.figure(&c, &format!(
                "Patient {p}: readings (crosses at the detection limit are censored), the analysis mean ± 1 sd after each reading, and the predictive forecast (median with 50 % and 90 % intervals) at each requested time."
            ))?;
        }
        sections.push(sec);
    }
    sections.push(manifest_section(&m));
    Ok(sections)
}

/// For each estimated parameter: every patient's posterior median with its
/// 90 % interval, against the prior's median and 90 % interval.
fn posterior_figures(
    sec: &mut Section,
    post: &Loaded,
    patients: &[String],
) -> Result<(), ReportError> {
    let (who, param) = (post.str("patient")?, post.str("param")?);
    let (med, lo, hi) = (post.f64("median")?, post.f64("q05")?, post.f64("q95")?);
    let (pm, plo, phi) = (
        post.f64("prior_median")?,
        post.f64("prior_q05")?,
        post.f64("prior_q95")?,
    );
    for name in distinct(&param) {
        let rows: Vec<usize> = (0..post.rows()).filter(|&r| param[r] == name).collect();
        let x = |r: usize| patients.iter().position(|p| *p == who[r]).unwrap_or(0) as f64;
        let mut c = Chart::new(
            format!("Posterior of {name} per patient"),
            "patient (file order)",
            format!("{name} (parameter units)"),
        );
        c.series.push(Series::new(
            "posterior median, 90 % interval",
            0,
            Mark::ErrorPoints(
                rows.iter()
                    .filter(|&&r| med[r].is_finite())
                    .map(|&r| (x(r), med[r], lo[r], hi[r]))
                    .collect(),
            ),
        ));
        if let Some(&r) = rows.first() {
            c.series
                .push(Series::new("prior median", 7, Mark::HLine(pm[r])));
            c.series
                .push(Series::new("prior 5 %", 6, Mark::HLine(plo[r])));
            c.series
                .push(Series::new("prior 95 %", 5, Mark::HLine(phi[r])));
        }
        sec.figure(
            &c,
            &format!("Each patient's posterior of {name} (median and 90 % interval over its members) against the prior (horizontal lines): patients learned from their data where the intervals are narrower than the prior's."),
        )?;
    }
    Ok(())
}

/// One chart per observable of patient `p`.
fn patient_charts(
    p: &str,
    an: Option<&Loaded>,
    fc: Option<&Loaded>,
    tu: &str,
) -> Result<Vec<Chart>, ReportError> {
    let mut by_obs: Vec<(String, Chart)> = Vec::new();
    let chart = |by_obs: &mut Vec<(String, Chart)>, o: &str| -> usize {
        if let Some(k) = by_obs.iter().position(|(n, _)| n == o) {
            return k;
        }
        by_obs.push((
            o.to_string(),
            Chart::new(
                format!("Patient {p}: {o}"),
                format!("time ({tu})"),
                format!("{o} (observable units)"),
            ),
        ));
        by_obs.len() - 1
    };
    if let Some(an) = an {
        let (who, t, o) = (an.str("patient")?, an.f64("time")?, an.str("observable")?);
        let (obs, am, asd) = (
            an.f64("observed")?,
            an.f64("analysis_mean")?,
            an.f64("analysis_sd")?,
        );
        let cens: Vec<bool> = an
            .bool("censored")?
            .into_iter()
            .map(|c| c.unwrap_or(false))
            .collect();
        for name in distinct(&o) {
            let rows: Vec<usize> = (0..an.rows())
                .filter(|&r| who[r] == p && o[r] == name)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let k = chart(&mut by_obs, &name);
            let c = &mut by_obs[k].1;
            let band: Vec<(f64, f64, f64)> = rows
                .iter()
                .filter(|&&r| am[r].is_finite() && asd[r].is_finite())
                .map(|&r| (t[r], am[r] - asd[r], am[r] + asd[r]))
                .collect();
            if band.len() >= 2 {
                c.series
                    .push(Series::new("analysis mean ± sd", 0, Mark::Band(band, 0.25)));
            } else {
                c.series.push(Series::new(
                    "analysis mean ± sd",
                    0,
                    Mark::ErrorPoints(
                        band.iter()
                            .map(|b| (b.0, (b.1 + b.2) / 2.0, b.1, b.2))
                            .collect(),
                    ),
                ));
            }
            let pts = |want: bool| -> Vec<(f64, f64)> {
                rows.iter()
                    .filter(|&&r| cens[r] == want && obs[r].is_finite())
                    .map(|&r| (t[r], obs[r]))
                    .collect()
            };
            let (seen, low) = (pts(false), pts(true));
            if !seen.is_empty() {
                c.series.push(Series::new("reading", 3, Mark::Points(seen)));
            }
            if !low.is_empty() {
                c.series
                    .push(Series::new("censored reading", 5, Mark::Points(low)));
            }
        }
    }
    if let Some(fc) = fc {
        let (who, t, o) = (fc.str("patient")?, fc.f64("time")?, fc.str("observable")?);
        let col = |n: &str| fc.f64(n);
        let (q05, q25, q50, q75, q95) = (
            col("q05")?,
            col("q25")?,
            col("q50")?,
            col("q75")?,
            col("q95")?,
        );
        for name in distinct(&o) {
            let rows: Vec<usize> = (0..fc.rows())
                .filter(|&r| who[r] == p && o[r] == name && q50[r].is_finite())
                .collect();
            if rows.is_empty() {
                continue;
            }
            let k = chart(&mut by_obs, &name);
            let c = &mut by_obs[k].1;
            c.series.push(Series::new(
                "forecast median, 90 % interval",
                1,
                Mark::ErrorPoints(
                    rows.iter()
                        .map(|&r| (t[r], q50[r], q05[r], q95[r]))
                        .collect(),
                ),
            ));
            c.series.push(Series::new(
                "forecast 50 % interval",
                2,
                Mark::ErrorPoints(
                    rows.iter()
                        .map(|&r| (t[r], q50[r], q25[r], q75[r]))
                        .collect(),
                ),
            ));
        }
    }
    Ok(by_obs.into_iter().map(|(_, c)| c).collect())
}

/// The section of a `vtwin score --json` file: the overall errors against
/// the last value carried forward, interval coverage against nominal, and
/// the PIT histogram against the shares a calibrated forecast gives.
pub fn scores_section(path: &Path, json: &serde_json::Value) -> Result<Section, ReportError> {
    let num = |v: &serde_json::Value| v.as_f64().filter(|x| x.is_finite());
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.4}"));
    let o = &json["overall"];
    if !o.is_object() {
        return Err(ReportError::input(
            path,
            "key `overall`: not a `vtwin score --json` file",
        ));
    }
    let mut sec = Section::new("Scores");
    sec.text(format!(
        "Scored against held-out readings ({}): {} rows. Coverage is the share of readings inside the forecast interval; a calibrated forecast's 50 % and 90 % intervals hold about 50 % and 90 %.",
        path.display(),
        o["n"].as_u64().unwrap_or(0)
    ));
    let lv = &o["lvcf"];
    let pp = &json["per_patient_summary"];
    let cov = |k: &str| num(&o[k]["fraction"]).map(|f| 100.0 * f);
    sec.table(
        &["score", "forecast", "last value carried forward"],
        vec![
            vec!["MAE of q50".into(), fmt(num(&o["mae_q50"])), "".into()],
            vec!["MAE of mean".into(), fmt(num(&o["mae_mean"])), "".into()],
            vec![
                "MAE on rows with an earlier reading".into(),
                fmt(num(&lv["forecast_mae_q50"])),
                fmt(num(&lv["mae"])),
            ],
            vec![
                "per-patient MAE (mean / median over patients)".into(),
                format!(
                    "{} / {}",
                    fmt(num(&pp["forecast_mae_q50_on_lvcf_rows"]["mean"])),
                    fmt(num(&pp["forecast_mae_q50_on_lvcf_rows"]["median"]))
                ),
                format!(
                    "{} / {}",
                    fmt(num(&pp["lvcf_mae"]["mean"])),
                    fmt(num(&pp["lvcf_mae"]["median"]))
                ),
            ],
            vec![
                "CRPS (quantile form)".into(),
                fmt(num(&o["crps"])),
                "".into(),
            ],
            vec![
                "coverage of the 50 % interval (%)".into(),
                fmt(cov("coverage_50")),
                "".into(),
            ],
            vec![
                "coverage of the 90 % interval (%)".into(),
                fmt(cov("coverage_90")),
                "".into(),
            ],
        ],
    );
    let bins: Vec<(f64, f64, f64, f64)> = o["pit"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| {
                    Some((
                        num(&b["lo"])?,
                        num(&b["hi"])?,
                        num(&b["fraction"])?,
                        num(&b["expected"])?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if !bins.is_empty() {
        let mut c = Chart::new(
            "PIT histogram of the forecasts",
            "probability integral transform (quantile level)",
            "share of readings per unit level",
        );
        // Heights as densities: a calibrated forecast is flat at 1.
        c.series.push(Series::new(
            "observed",
            0,
            Mark::Bars(bins.iter().map(|b| (b.0, b.1, b.2 / (b.1 - b.0))).collect()),
        ));
        c.series
            .push(Series::new("calibrated (uniform)", 7, Mark::HLine(1.0)));
        c.x_range = Some((0.0, 1.0));
        sec.figure(&c, "Probability integral transform of the held-out readings under the forecasts, as a density over quantile levels: flat at 1 when calibrated; high outer bins mean intervals too narrow, a central hump too wide.")?;
    }
    Ok(sec)
}
