//! The outputs of a twin or an assimilation run as tables and JSON:
//! `cycles`, `analysis`, `observations`, `posterior`, `posterior_summary`,
//! `forecast` (quantiles with Monte Carlo intervals), `events`, `decision`
//! (arms side by side), `predictability` (twin) and the metrics. Formats
//! are documented in docs/assimilation.md.
//!
//! Owns: the table shapes and the statistics over recorded frames. Writes
//! nothing (the CLI hands these to `io::RunDir`).

use serde_json::{Map, Value, json};

use super::forecast::{ArmForecast, ForecastOutput};
use super::obs::location_text;
use super::run::{Posterior, RunOutput};
use super::scores::{self, crps, mean_sd, probability, quantile, quantile_interval};
use super::setup::{Event, Setup};
use crate::input::scene::assimilation::EventKind;
use crate::methods::assim::obs_file::Location;
use crate::output::table::{Table, Values};

/// The forecast quantiles (`forecast.parquet`).
pub const QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

fn f(v: impl IntoIterator<Item = Option<f64>>) -> Values {
    Values::F64(v.into_iter().collect())
}

fn s(v: impl IntoIterator<Item = String>) -> Values {
    Values::Str(v.into_iter().map(Some).collect())
}

fn i(v: impl IntoIterator<Item = i64>) -> Values {
    Values::I64(v.into_iter().map(Some).collect())
}

/// One row per analysis cycle.
pub fn cycles_table(out: &RunOutput) -> Table {
    let c = &out.cycles;
    let mut t = Table::new("cycles");
    t.push_column("cycle", i(c.iter().map(|r| r.cycle as i64)))
        .push_column("step", i(c.iter().map(|r| r.step as i64)))
        .push_column("time", f(c.iter().map(|r| Some(r.time))))
        .push_column("n_obs", i(c.iter().map(|r| r.items.len() as i64)))
        .push_column("rmse_forecast", f(c.iter().map(|r| r.rmse_forecast)))
        .push_column("rmse_analysis", f(c.iter().map(|r| r.rmse_analysis)))
        .push_column("rmse_free", f(c.iter().map(|r| r.rmse_free)))
        .push_column(
            "spread_forecast",
            f(c.iter().map(|r| Some(r.analysis.forecast.spread()))),
        )
        .push_column(
            "spread_analysis",
            f(c.iter().map(|r| Some(r.analysis.analysis.spread()))),
        )
        .push_column(
            "innovation_chi2",
            f(c.iter().map(|r| Some(r.analysis.chi2))),
        )
        .push_column("ess", f(c.iter().map(|r| r.analysis.ess)))
        .push_column(
            "resampled",
            Values::Bool(c.iter().map(|r| Some(r.analysis.resampled)).collect()),
        )
        .push_column(
            "scored",
            Values::Bool(c.iter().map(|r| Some(r.scored)).collect()),
        );
    t
}

/// Forecast and analysis mean and SD of every observable and estimated
/// parameter at every analysis, with the observed and (twin) true values.
pub fn analysis_table(out: &RunOutput) -> Table {
    let (mut cyc, mut time, mut var, mut kind) = (vec![], vec![], vec![], vec![]);
    let (mut fm, mut fs, mut am, mut asd, mut obs, mut truth) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for r in &out.cycles {
        let a = &r.analysis;
        for (k, name) in out.observable_names.iter().enumerate() {
            cyc.push(r.cycle as i64);
            time.push(Some(r.time));
            var.push(name.clone());
            kind.push("observable".to_string());
            fm.push(Some(a.forecast.obs[k].0));
            fs.push(Some(a.forecast.obs[k].1));
            am.push(Some(a.analysis.obs[k].0));
            asd.push(Some(a.analysis.obs[k].1));
            obs.push(
                r.items
                    .iter()
                    .find(|it| it.location == Location::Scalar && it.observable == *name)
                    .and_then(|it| it.value),
            );
            truth.push(r.truth_obs.as_ref().map(|t| t[k]));
        }
        for (k, name) in out.posterior.names.iter().enumerate() {
            cyc.push(r.cycle as i64);
            time.push(Some(r.time));
            var.push(name.clone());
            kind.push("parameter".to_string());
            fm.push(Some(a.forecast.params[k].0));
            fs.push(Some(a.forecast.params[k].1));
            am.push(Some(a.analysis.params[k].0));
            asd.push(Some(a.analysis.params[k].1));
            obs.push(None);
            truth.push(out.posterior.truth.as_ref().map(|t| t[k]));
        }
    }
    let mut t = Table::new("analysis");
    t.push_column("cycle", i(cyc))
        .push_column("time", f(time))
        .push_column("variable", s(var))
        .push_column("kind", s(kind))
        .push_column("forecast_mean", f(fm))
        .push_column("forecast_sd", f(fs))
        .push_column("analysis_mean", f(am))
        .push_column("analysis_sd", f(asd))
        .push_column("observed", f(obs))
        .push_column("truth", f(truth));
    t
}

/// The assimilated observations in the observation-file format (`time,
/// observable, location, value, sd`): a twin's synthetic data can be fed
/// back to `vtwin assimilate --obs`.
pub fn observations_table(out: &RunOutput) -> Table {
    let rows: Vec<(f64, &super::obs::ObsItem)> = out
        .cycles
        .iter()
        .flat_map(|r| r.items.iter().map(move |it| (r.time, it)))
        .collect();
    let mut t = Table::new("observations");
    t.push_column("time", f(rows.iter().map(|r| Some(r.0))))
        .push_column("observable", s(rows.iter().map(|r| r.1.observable.clone())))
        .push_column(
            "location",
            s(rows.iter().map(|r| location_text(&r.1.location))),
        )
        .push_column("value", f(rows.iter().map(|r| r.1.value)))
        .push_column("sd", f(rows.iter().map(|r| Some(r.1.sd))));
    t
}

/// Analysed parameter draws: member, weight, one column per parameter.
pub fn posterior_table(p: &Posterior) -> Table {
    let n = p.weights.len();
    let mut t = Table::new("posterior");
    t.push_column("member", i(0..n as i64))
        .push_column("weight", f(p.weights.iter().map(|&w| Some(w))));
    for (k, name) in p.names.iter().enumerate() {
        t.push_column(name.clone(), f(p.draws.row(k).iter().map(|&v| Some(v))));
    }
    t
}

/// Posterior summaries (weighted), prior 90 % range and (twin) the truth
/// with whether the 90 % interval covers it.
pub fn posterior_summary(p: &Posterior) -> (Table, Value) {
    let eq = scores::equal(p.prior.ncols());
    let mut cols: Vec<Vec<Option<f64>>> = vec![Vec::new(); 8];
    let mut covered = Vec::new();
    let mut json = Map::new();
    for (k, name) in p.names.iter().enumerate() {
        let x: Vec<f64> = p.draws.row(k).iter().copied().collect();
        let px: Vec<f64> = p.prior.row(k).iter().copied().collect();
        let (m, sd) = mean_sd(&x, &p.weights);
        let q = |q| quantile(&x, &p.weights, q);
        let truth = p.truth.as_ref().map(|t| t[k]);
        let cov = truth.map(|t| q(0.05) <= t && t <= q(0.95));
        let vals = [
            Some(m),
            Some(sd),
            Some(q(0.05)),
            Some(q(0.5)),
            Some(q(0.95)),
            Some(quantile(&px, &eq, 0.05)),
            Some(quantile(&px, &eq, 0.95)),
            truth,
        ];
        for (c, v) in cols.iter_mut().zip(vals) {
            c.push(v);
        }
        covered.push(cov);
        json.insert(
            name.clone(),
            json!({"mean": m, "sd": sd, "q05": q(0.05), "q50": q(0.5), "q95": q(0.95),
                   "prior_q05": vals[5], "prior_q95": vals[6], "truth": truth, "covered90": cov}),
        );
    }
    let mut t = Table::new("posterior_summary");
    t.push_column("parameter", s(p.names.iter().cloned()));
    for (name, c) in [
        "mean",
        "sd",
        "q05",
        "q50",
        "q95",
        "prior_q05",
        "prior_q95",
        "truth",
    ]
    .iter()
    .zip(cols)
    {
        t.push_column(*name, f(c));
    }
    t.push_column("covered90", Values::Bool(covered));
    (t, Value::Object(json))
}

fn member_values(frame: &[f32], n_ops: usize, k: usize) -> Vec<f64> {
    frame.chunks(n_ops + 1).map(|c| c[k] as f64).collect()
}

/// Quantiles of every observable of every arm at every forecast time.
pub fn forecast_table(fc: &ForecastOutput, names: &[String]) -> Table {
    let mut t = Table::new("forecast");
    let (mut arm, mut time, mut lead, mut obs, mut qs) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut val, mut lo, mut hi) = (vec![], vec![], vec![]);
    for a in &fc.arms {
        for (ti, frame) in a.frames.iter().enumerate() {
            for (k, name) in names.iter().enumerate() {
                let x = member_values(frame, fc.n_ops, k);
                for q in QUANTILES {
                    let (l, h) = quantile_interval(&x, &fc.weights, q);
                    arm.push(a.arm.clone());
                    time.push(Some(a.times[ti]));
                    lead.push(Some(a.times[ti] - fc.start_time));
                    obs.push(name.clone());
                    qs.push(Some(q));
                    val.push(Some(quantile(&x, &fc.weights, q)));
                    lo.push(Some(l));
                    hi.push(Some(h));
                }
            }
        }
    }
    t.push_column("arm", s(arm))
        .push_column("time", f(time))
        .push_column("lead", f(lead))
        .push_column("observable", s(obs))
        .push_column("quantile", f(qs))
        .push_column("value", f(val))
        .push_column("mc_lo", f(lo))
        .push_column("mc_hi", f(hi));
    t
}

/// Whether each series (one per member) meets the event by its deadline.
fn event_hits(e: &Event, a: &ArmForecast, series: &dyn Fn(usize) -> Vec<f64>) -> Vec<bool> {
    let last = a
        .times
        .iter()
        .rposition(|&t| t <= e.by * (1.0 + 1e-12))
        .unwrap_or(0);
    let per_time: Vec<Vec<f64>> = (0..=last).map(series).collect();
    (0..per_time[0].len())
        .map(|j| {
            let v0 = per_time[0][j];
            let thr = if e.relative {
                e.threshold * v0
            } else {
                e.threshold
            };
            per_time.iter().any(|v| match e.kind {
                EventKind::Above => v[j] > thr,
                EventKind::Below => v[j] < thr,
            })
        })
        .collect()
}

/// Event probabilities per arm, with Monte Carlo standard errors and (twin)
/// whether the truth met the event.
pub fn events_table(fc: &ForecastOutput, events: &[Event]) -> Table {
    let mut t = Table::new("events");
    let (mut arm, mut ev, mut obs, mut by) = (vec![], vec![], vec![], vec![]);
    let (mut p, mut se, mut truth) = (vec![], vec![], vec![]);
    for a in &fc.arms {
        for e in events {
            let hits = event_hits(e, a, &|ti| member_values(&a.frames[ti], fc.n_ops, e.op));
            let (pr, err) = probability(&hits, &fc.weights);
            arm.push(a.arm.clone());
            ev.push(e.name.clone());
            obs.push(e.observable.clone());
            by.push(Some(e.by));
            p.push(Some(pr));
            se.push(Some(err));
            truth.push(
                a.truth
                    .as_ref()
                    .map(|tr| event_hits(e, a, &|ti| vec![tr[ti][e.op]])[0]),
            );
        }
    }
    t.push_column("arm", s(arm))
        .push_column("event", s(ev))
        .push_column("observable", s(obs))
        .push_column("by", f(by))
        .push_column("probability", f(p))
        .push_column("mc_se", f(se))
        .push_column("truth_occurred", Values::Bool(truth));
    t
}

/// The arms side by side: every event probability (± 1.96 SE, clipped to
/// [0, 1]) and the 5/50/95 % quantiles of every observable at the horizon
/// with their Monte Carlo intervals.
pub fn decision_table(fc: &ForecastOutput, events: &[Event], names: &[String]) -> Table {
    let mut t = Table::new("decision");
    let (mut arm, mut qty, mut est, mut lo, mut hi) = (vec![], vec![], vec![], vec![], vec![]);
    for a in &fc.arms {
        for e in events {
            let hits = event_hits(e, a, &|ti| member_values(&a.frames[ti], fc.n_ops, e.op));
            let (p, se) = probability(&hits, &fc.weights);
            arm.push(a.arm.clone());
            qty.push(format!("P({})", e.name));
            est.push(Some(p));
            lo.push(Some((p - 1.96 * se).max(0.0)));
            hi.push(Some((p + 1.96 * se).min(1.0)));
        }
        let Some(last) = a.frames.last() else {
            continue;
        };
        for (k, name) in names.iter().enumerate() {
            let x = member_values(last, fc.n_ops, k);
            for q in [0.05, 0.5, 0.95] {
                let (l, h) = quantile_interval(&x, &fc.weights, q);
                arm.push(a.arm.clone());
                qty.push(format!(
                    "{name} q{:02} at {}",
                    (q * 100.0).round(),
                    a.times.last().unwrap_or(&0.0)
                ));
                est.push(Some(quantile(&x, &fc.weights, q)));
                lo.push(Some(l));
                hi.push(Some(h));
            }
        }
    }
    t.push_column("arm", s(arm))
        .push_column("quantity", s(qty))
        .push_column("estimate", f(est))
        .push_column("mc_lo", f(lo))
        .push_column("mc_hi", f(hi));
    t
}

/// Twin: forecast skill against the truth by lead time, for the analysed
/// ensemble and the population prior, per arm and observable (plus the
/// state RMSE as observable `state`); and the summary metrics (coverage of
/// the 90 % band, mean CRPS, lead time beyond which the forecast is no
/// better than the prior).
pub fn predictability(fc: &ForecastOutput, names: &[String]) -> Option<(Table, Value)> {
    let eq_prior = |frame: &[f32]| scores::equal(frame.len() / (fc.n_ops + 1));
    let mut t = Table::new("predictability");
    let (mut arm, mut time, mut lead, mut obs) = (vec![], vec![], vec![], vec![]);
    let (mut truth_c, mut mean_c, mut err, mut err_p) = (vec![], vec![], vec![], vec![]);
    let (mut cr, mut cr_p, mut band) = (vec![], vec![], vec![]);
    let (mut inside, mut counted) = (0usize, 0usize);
    let mut crps_sum = vec![(0.0, 0.0, 0usize); names.len()];
    let mut no_skill = Map::new();
    for a in &fc.arms {
        let (truth, prior) = (a.truth.as_ref()?, a.prior_frames.as_ref()?);
        let mut arm_lead = Map::new();
        for (k, name) in names.iter().enumerate() {
            let mut first: Option<f64> = None;
            for ti in 0..a.frames.len() {
                let x = member_values(&a.frames[ti], fc.n_ops, k);
                let xp = member_values(&prior[ti], fc.n_ops, k);
                let wp = eq_prior(&prior[ti]);
                let y = truth[ti][k];
                let (m, _) = mean_sd(&x, &fc.weights);
                let (mp, _) = mean_sd(&xp, &wp);
                let (c, cp) = (crps(&x, &fc.weights, y), crps(&xp, &wp, y));
                let in_band =
                    quantile(&x, &fc.weights, 0.05) <= y && y <= quantile(&x, &fc.weights, 0.95);
                let l = a.times[ti] - fc.start_time;
                if l > 0.0 {
                    inside += in_band as usize;
                    counted += 1;
                    crps_sum[k].0 += c;
                    crps_sum[k].1 += cp;
                    crps_sum[k].2 += 1;
                    if first.is_none() && c >= cp {
                        first = Some(l);
                    }
                }
                arm.push(a.arm.clone());
                time.push(Some(a.times[ti]));
                lead.push(Some(l));
                obs.push(name.clone());
                truth_c.push(Some(y));
                mean_c.push(Some(m));
                err.push(Some((m - y).abs()));
                err_p.push(Some((mp - y).abs()));
                cr.push(Some(c));
                cr_p.push(Some(cp));
                band.push(Some(in_band));
            }
            arm_lead.insert(name.clone(), json!(first));
        }
        let (sr, srp) = (a.state_rmse.as_ref()?, a.state_rmse_prior.as_ref()?);
        for ti in 0..a.frames.len() {
            arm.push(a.arm.clone());
            time.push(Some(a.times[ti]));
            lead.push(Some(a.times[ti] - fc.start_time));
            obs.push("state".to_string());
            truth_c.push(None);
            mean_c.push(None);
            err.push(Some(sr[ti]));
            err_p.push(Some(srp[ti]));
            cr.push(None);
            cr_p.push(None);
            band.push(None);
        }
        no_skill.insert(a.arm.clone(), Value::Object(arm_lead));
    }
    t.push_column("arm", s(arm))
        .push_column("time", f(time))
        .push_column("lead", f(lead))
        .push_column("observable", s(obs))
        .push_column("truth", f(truth_c))
        .push_column("mean", f(mean_c))
        .push_column("abs_error", f(err))
        .push_column("abs_error_prior", f(err_p))
        .push_column("crps", f(cr))
        .push_column("crps_prior", f(cr_p))
        .push_column("in_band90", Values::Bool(band));
    let per_obs = |which: usize| -> Value {
        Value::Object(
            names
                .iter()
                .zip(&crps_sum)
                .map(|(n, c)| {
                    let v = if which == 0 { c.0 } else { c.1 };
                    (
                        n.clone(),
                        json!(if c.2 > 0 { Some(v / c.2 as f64) } else { None }),
                    )
                })
                .collect(),
        )
    };
    let summary = json!({
        "coverage90": if counted > 0 { Some(inside as f64 / counted as f64) } else { None },
        "coverage_count": counted,
        "crps": per_obs(0),
        "crps_prior": per_obs(1),
        "no_skill_lead": Value::Object(no_skill),
    });
    Some((t, summary))
}

/// How many analyses used each algebra (`observation-space`,
/// `ensemble-space`, `mixed`, `particle`; docs/assimilation.md).
fn analysis_forms(out: &RunOutput) -> Value {
    let mut counts = std::collections::BTreeMap::new();
    for c in &out.cycles {
        *counts.entry(c.analysis.form.name()).or_insert(0u64) += 1;
    }
    json!(counts)
}

/// Where the analyses applied their transforms on a device engine, and why
/// states were read back (`{"device": k, "host": j, "state_read_back":
/// {reason: count}}`); `None` on a host engine.
fn transform_application(out: &RunOutput) -> Option<Value> {
    let apps: Vec<_> = out
        .cycles
        .iter()
        .filter_map(|c| c.analysis.application.as_ref())
        .collect();
    if apps.is_empty() {
        return None;
    }
    let device = apps.iter().filter(|a| a.on_device).count();
    let mut reasons = std::collections::BTreeMap::new();
    for a in &apps {
        if let Some(r) = &a.state_read_back {
            *reasons.entry(r.clone()).or_insert(0u64) += 1;
        }
    }
    Some(json!({
        "device": device,
        "host": apps.len() - device,
        "state_read_back": reasons,
    }))
}

/// Settings and scores: `metrics.json` of a twin (scores present) or the
/// run summary of an assimilation.
pub fn metrics(setup: &Setup, out: &RunOutput, extra: Map<String, Value>) -> Value {
    let f = &setup.filter;
    let mut m = json!({
        "method": f.method.name(),
        "members": setup.members,
        "inflation": f.inflation,
        "loc_radius": f.loc_radius,
        "rotate": f.rotate,
        "resample_threshold": f.resample_threshold,
        "jitter": f.jitter,
        "seed": setup.seed,
        "cycles": out.cycles.len(),
        "burn_in": setup.section.burn_in,
        "innovation_chi2": out.cycles.iter().map(|c| c.analysis.chi2).sum::<f64>() / out.cycles.len().max(1) as f64,
        "analysis_forms": analysis_forms(out),
    });
    if let (Some(s), Some(obj)) = (&out.scores, m.as_object_mut()) {
        obj.insert("rmse_analysis".into(), json!(s.rmse_analysis));
        obj.insert("rmse_forecast".into(), json!(s.rmse_forecast));
        obj.insert("spread".into(), json!(s.spread));
        obj.insert("spread_forecast".into(), json!(s.spread_forecast));
        obj.insert("rmse_free".into(), json!(s.rmse_free));
        obj.insert("scored_cycles".into(), json!(s.scored_cycles));
        obj.insert("resamplings".into(), json!(s.resamplings));
    }
    if let (Some(a), Some(obj)) = (transform_application(out), m.as_object_mut()) {
        obj.insert("transform_application".into(), a);
    }
    if let Some(obj) = m.as_object_mut() {
        obj.extend(extra);
    }
    m
}
