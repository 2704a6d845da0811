//! The figures of each kind of output: which tables are read, which numbers
//! are plotted and how they are captioned.

use super::data::{self, Loaded, distinct};
use super::plot::{Chart, Mark, Series};
use super::stats::{self, Band};
use super::{Block, ReportError, Section};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Member traces drawn over a run's bands.
const TRACES: usize = 3;
/// Parameters plotted against each output in a sweep's scatter plots.
const SCATTER_PARAMS: usize = 2;
/// State variables of a twin's analysis table drawn.
const ANALYSED_VARIABLES: usize = 3;

pub(super) fn manifest(dir: &Path) -> Result<Value, ReportError> {
    data::read_json(&dir.join("manifest.json"))
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// "name (unit)" or just the name when the unit is empty.
fn with_unit(name: &str, unit: &str) -> String {
    if unit.is_empty() || unit == "1" {
        format!("{name} (dimensionless)")
    } else {
        format!("{name} ({unit})")
    }
}

/// The manifest's provenance as a two-column table.
pub(super) fn manifest_section(m: &Value) -> Section {
    let mut sec = Section::new("Provenance");
    let adapter = if m["adapter"].is_null() {
        "— (CPU backend)".to_string()
    } else {
        format!(
            "{} ({}, {})",
            s(&m["adapter"]["name"]),
            s(&m["adapter"]["backend"]),
            s(&m["adapter"]["device_type"])
        )
    };
    let command = m["command"]
        .as_array()
        .map(|c| c.iter().map(s).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "—".into());
    let rows = vec![
        ("scene", s(&m["scene"]["path"])),
        ("scene sha256", s(&m["scene"]["sha256"])),
        ("seed", s(&m["seed"])),
        ("backend", s(&m["backend"])),
        ("adapter", adapter),
        ("members", s(&m["members"])),
        ("arm", s(&m["arm"])),
        ("members failed", s(&m["members_failed"])),
        (
            "vtwin",
            format!(
                "{} (commit {})",
                s(&m["engine"]["version"]),
                s(&m["engine"]["commit"])
            ),
        ),
        ("command", command),
        ("started", s(&m["started"])),
        ("finished", s(&m["finished"])),
    ];
    sec.table(
        &["key", "value"],
        rows.into_iter()
            .map(|(k, v)| vec![k.to_string(), v])
            .collect(),
    );
    sec
}

/// Units of the observables a manifest describes.
fn units(m: &Value, key: &str) -> BTreeMap<String, String> {
    m[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| Some((o["name"].as_str()?.to_string(), s(&o["unit"]))))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn time_unit(m: &Value) -> String {
    m["time_unit"].as_str().unwrap_or("time units").to_string()
}

/// Per (arm, observable): the band across members at every recorded time,
/// in time order. Rows with a null value (failed members, no crossing yet)
/// are left out of that time's band.
pub type Bands = BTreeMap<(String, String), Vec<(f64, Band)>>;

pub fn run_bands(obs: &Loaded, default_arm: &str) -> Result<Bands, ReportError> {
    let time = obs.f64("time")?;
    let name = obs.str("observable")?;
    let value = obs.f64("value")?;
    let arm = if obs.has("arm") {
        obs.str("arm")?
    } else {
        vec![default_arm.to_string(); obs.rows()]
    };
    type ByTime = BTreeMap<u64, (f64, Vec<f64>)>;
    let mut groups: BTreeMap<(String, String), ByTime> = BTreeMap::new();
    for r in 0..obs.rows() {
        let g = groups
            .entry((arm[r].clone(), name[r].clone()))
            .or_default()
            .entry(time[r].to_bits())
            .or_insert((time[r], Vec::new()));
        g.1.push(value[r]);
    }
    let mut out = Bands::new();
    for (k, by_t) in groups {
        let mut v: Vec<(f64, Band)> = by_t
            .into_values()
            .filter_map(|(t, vals)| Some((t, stats::band(vals)?)))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        out.insert(k, v);
    }
    Ok(out)
}

/// Adds the median, 50 % and 90 % bands of one arm to a chart.
fn band_series(chart: &mut Chart, label: &str, col: usize, b: &[(f64, Band)]) {
    chart.series.push(Series::new(
        format!("{label}: 90 % band"),
        col,
        Mark::Band(b.iter().map(|(t, q)| (*t, q.q05, q.q95)).collect(), 0.15),
    ));
    chart.series.push(Series::new(
        format!("{label}: 50 % band"),
        col,
        Mark::Band(b.iter().map(|(t, q)| (*t, q.q25, q.q75)).collect(), 0.35),
    ));
    chart.series.push(Series::new(
        format!("{label}: median"),
        col,
        Mark::Line(b.iter().map(|(t, q)| (*t, q.q50)).collect()),
    ));
}

pub fn run(dir: &Path) -> Result<Vec<Section>, ReportError> {
    let m = manifest(dir)?;
    let obs = data::require(dir, "observables")?;
    let default_arm = m["arm"].as_str().unwrap_or("arm").to_string();
    let bands = run_bands(&obs, &default_arm)?;
    let unit = units(&m, "observables");
    let tu = time_unit(&m);
    let arms = {
        let a: Vec<String> = bands.keys().map(|(a, _)| a.clone()).collect();
        distinct(&a)
    };
    let names = {
        let n: Vec<String> = bands.keys().map(|(_, n)| n.clone()).collect();
        let mut ordered: Vec<String> = m["observables"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        ordered.retain(|o| n.contains(o));
        for x in distinct(&n) {
            if !ordered.contains(&x) {
                ordered.push(x);
            }
        }
        ordered
    };
    // A few member traces (the lowest member ids) of the first arm.
    let member = obs.f64("member")?;
    let time = obs.f64("time")?;
    let oname = obs.str("observable")?;
    let value = obs.f64("value")?;
    let oarm = if obs.has("arm") {
        obs.str("arm")?
    } else {
        vec![default_arm.clone(); obs.rows()]
    };
    let mut ids: Vec<i64> = member
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| x as i64)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(TRACES);

    let mut sec = Section::new("Observables over time");
    sec.text(format!(
        "Median and central 50 % and 90 % bands across members at every observation time, per arm; \
         thin dashed lines are members {} of arm `{}`.",
        ids.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        arms.first().cloned().unwrap_or_default()
    ));
    for n in &names {
        let u = unit.get(n).cloned().unwrap_or_default();
        let mut c = Chart::new(
            format!("{n} over time"),
            format!("time ({tu})"),
            with_unit(n, &u),
        );
        for (k, a) in arms.iter().enumerate() {
            if let Some(b) = bands.get(&(a.clone(), n.clone())) {
                band_series(&mut c, a, k, b);
            }
        }
        for id in &ids {
            let pts: Vec<(f64, f64)> = (0..obs.rows())
                .filter(|&r| {
                    member[r] as i64 == *id && oname[r] == *n && Some(&oarm[r]) == arms.first()
                })
                .filter(|&r| value[r].is_finite())
                .map(|r| (time[r], value[r]))
                .collect();
            if !pts.is_empty() {
                c.series
                    .push(Series::new(format!("member {id}"), 7, Mark::Dashed(pts)));
            }
        }
        sec.figure(
            &c,
            &format!("{n}: median (line), 50 % and 90 % bands (shaded) across members, per arm."),
        )?;
    }
    let mut sections = vec![sec];

    if let Some(st) = data::table(dir, "status")? {
        let status = st.str("status")?;
        let order = ["ok", "diverged", "saturated"];
        let mut cats: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        for x in distinct(&status) {
            if !cats.contains(&x) {
                cats.push(x);
            }
        }
        let counts: Vec<usize> = cats
            .iter()
            .map(|c| status.iter().filter(|s| *s == c).count())
            .collect();
        let mut c = Chart::new("Member status", "status", "members (count)");
        c.series.push(Series::new(
            "members",
            0,
            Mark::Bars(
                counts
                    .iter()
                    .enumerate()
                    .map(|(k, &n)| (k as f64 - 0.35, k as f64 + 0.35, n as f64))
                    .collect(),
            ),
        ));
        c.x_categories = Some(cats.clone());
        c.height = 320;
        let mut sec = Section::new("Member status");
        sec.figure(&c, "Members by final status: ok, diverged (non-finite state) or saturated (agent pool full).")?;
        sec.table(
            &["status", "members"],
            cats.iter()
                .zip(&counts)
                .map(|(c, n)| vec![c.clone(), n.to_string()])
                .collect(),
        );
        sections.push(sec);
    }
    // Field snapshots on one shared colour scale (`--save-fields`).
    let names: Vec<(String, String)> = m["scene"]["path"]
        .as_str()
        .and_then(|p| crate::drivers::scenes::load(Path::new(p)).ok())
        .and_then(|sc| crate::core::model_scene::info_for(&sc).ok())
        .map(|info| {
            info.fields
                .iter()
                .map(|f| (f.name.clone(), f.unit.clone()))
                .collect()
        })
        .unwrap_or_default();
    let field_figs = super::fields::figures(dir, &names, &default_arm)?;
    if !field_figs.is_empty() {
        let mut sec = Section::new("Final fields");
        sec.blocks.extend(field_figs.into_iter().map(Block::Figure));
        sections.push(sec);
    }
    let montage = dir.join("montage.png");
    if montage.is_file() {
        let bytes = std::fs::read(&montage)
            .map_err(|e| ReportError::Io(crate::output::io::IoError::io(&montage, e)))?;
        let mut sec = Section::new("Montage");
        sec.blocks.push(Block::Png {
            alt: "montage.png: the final field of the first members, labelled with member id and arm, \
                  with its colour bar"
                .into(),
            bytes,
        });
        sections.push(sec);
    }
    let frames = super::fields::snapshots(dir)?;
    if !frames.is_empty() {
        let mut sec = Section::new("Time-lapse");
        sec.blocks.push(Block::Strip {
            alt: format!(
                "The montages of --save-fields --every K ({} snapshots, montage_t<step>.png), \
                 earliest on the left; scroll sideways for the later ones.",
                frames.len()
            ),
            frames,
        });
        sections.push(sec);
    }
    sections.push(manifest_section(&m));
    Ok(sections)
}

/// Sensitivity bars for one output: (parameter, first, first CI, total,
/// total CI), ranked by the total (or μ*) descending.
pub fn sweep(dir: &Path) -> Result<Vec<Section>, ReportError> {
    let m = manifest(dir)?;
    let outputs = data::require(dir, "outputs")?;
    let design = data::require(dir, "design")?;
    let unit = units(&m, "outputs_described");
    let varying: Vec<String> = m["design"]["varying"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let out_names: Vec<String> = outputs
        .table
        .column_names()
        .into_iter()
        .filter(|c| *c != "member" && *c != "status")
        .map(String::from)
        .collect();
    let mut sections = Vec::new();
    // Ranking of parameters per output, for the scatter plots.
    let mut ranking: BTreeMap<String, Vec<String>> = BTreeMap::new();

    let sobol = data::table(dir, "indices")?;
    let morris = data::table(dir, "morris")?;
    if let Some(t) = sobol.as_ref().or(morris.as_ref()) {
        let is_sobol = sobol.is_some();
        let output = t.str("output")?;
        let param = t.str("parameter")?;
        let (a, a_ci, b, b_ci, la, lb) = if is_sobol {
            (
                t.f64("S1")?,
                t.f64("S1_conf")?,
                t.f64("ST")?,
                t.f64("ST_conf")?,
                "first order S1",
                "total order ST",
            )
        } else {
            let sigma = t.f64("sigma")?;
            (
                t.f64("mu_star")?,
                t.f64("mu_star_conf")?,
                sigma.clone(),
                vec![f64::NAN; sigma.len()],
                "μ*",
                "σ",
            )
        };
        let mut sec = Section::new(if is_sobol {
            "Sobol indices"
        } else {
            "Morris elementary effects"
        });
        sec.text(if is_sobol {
            "Per output, parameters ranked by total-order index; bars are estimates, whiskers the bootstrap \
             confidence interval (estimate ± half-width)."
        } else {
            "Per output, parameters ranked by μ* (mean absolute elementary effect); whiskers on μ* are the \
             bootstrap confidence interval; σ is the spread of the effects."
        });
        for o in distinct(&output) {
            let rows: Vec<usize> = (0..t.rows()).filter(|&r| output[r] == o).collect();
            let mut rows = rows;
            let key = |r: &usize| if is_sobol { b[*r] } else { a[*r] };
            rows.sort_by(|x, y| key(y).total_cmp(&key(x)));
            ranking.insert(o.clone(), rows.iter().map(|&r| param[r].clone()).collect());
            let bar = |v: &[f64], off: f64| -> Vec<(f64, f64, f64)> {
                rows.iter()
                    .enumerate()
                    .map(|(k, &r)| (k as f64 + off - 0.17, k as f64 + off + 0.17, v[r]))
                    .collect()
            };
            let err = |v: &[f64], ci: &[f64], off: f64| -> Vec<(f64, f64, f64, f64)> {
                rows.iter()
                    .enumerate()
                    .filter(|(_, r)| ci[**r].is_finite())
                    .map(|(k, &r)| (k as f64 + off, v[r], v[r] - ci[r], v[r] + ci[r]))
                    .collect()
            };
            let u = unit.get(&o).cloned().unwrap_or_default();
            let mut c = Chart::new(
                format!(
                    "{} of {o}",
                    if is_sobol {
                        "Sobol indices"
                    } else {
                        "Morris μ* and σ"
                    }
                ),
                "parameter",
                if is_sobol {
                    "index (fraction of variance)".to_string()
                } else {
                    format!(
                        "effect ({})",
                        if u.is_empty() {
                            "output units".into()
                        } else {
                            u
                        }
                    )
                },
            );
            c.series
                .push(Series::new(la, 0, Mark::Bars(bar(&a, -0.18))));
            c.series.push(Series::new(lb, 1, Mark::Bars(bar(&b, 0.18))));
            c.series.push(Series::new(
                format!("{la} CI"),
                7,
                Mark::ErrorPoints(err(&a, &a_ci, -0.18)),
            ));
            if is_sobol {
                c.series.push(Series::new(
                    format!("{lb} CI"),
                    7,
                    Mark::ErrorPoints(err(&b, &b_ci, 0.18)),
                ));
            }
            c.x_categories = Some(rows.iter().map(|&r| param[r].clone()).collect());
            sec.figure(
                &c,
                &format!("Sensitivity of {o} to each varying parameter, most influential first."),
            )?;
        }
        sections.push(sec);
    }

    // Scatter plots: each output against its most influential parameters
    // (or every varying parameter up to the limit when there are no indices).
    let ok: Vec<bool> = outputs.str("status")?.iter().map(|s| s == "ok").collect();
    let mut sec = Section::new("Outputs against parameters");
    sec.text("Each dot is one member (failed members left out).");
    for o in &out_names {
        let y = outputs.f64(o)?;
        let params = ranking.get(o).cloned().unwrap_or_else(|| varying.clone());
        for p in params.iter().take(SCATTER_PARAMS) {
            if !design.has(p) {
                continue;
            }
            let x = design.f64(p)?;
            let pts: Vec<(f64, f64)> = (0..x.len().min(y.len()))
                .filter(|&r| ok[r] && x[r].is_finite() && y[r].is_finite())
                .map(|r| (x[r], y[r]))
                .collect();
            let u = unit.get(o).cloned().unwrap_or_default();
            let c = Chart::new(
                format!("{o} against {p}"),
                format!("{p} (parameter units)"),
                with_unit(o, &u),
            )
            .with(Series::new("members", 0, Mark::Points(pts)));
            sec.figure(
                &c,
                &format!("{o} of every member against its value of {p}."),
            )?;
        }
    }
    sections.push(sec);
    sections.push(manifest_section(&m));
    Ok(sections)
}

/// Posterior histogram (weighted) against the prior density, per parameter.
pub fn calibrate(dir: &Path) -> Result<Vec<Section>, ReportError> {
    let m = manifest(dir)?;
    let mut sections = Vec::new();
    if let Some(mc) = data::table(dir, "model_choice")? {
        let model = mc.str("model")?;
        let p = if mc.has("probability") {
            mc.f64("probability")?
        } else {
            vec![f64::NAN; mc.rows()]
        };
        let mut c = Chart::new("Posterior model probabilities", "model", "probability");
        c.series.push(Series::new(
            "P(model | data)",
            0,
            Mark::Bars(
                p.iter()
                    .enumerate()
                    .map(|(k, &v)| (k as f64 - 0.3, k as f64 + 0.3, v))
                    .collect(),
            ),
        ));
        c.x_categories = Some(model.clone());
        let mut sec = Section::new("Model choice");
        sec.figure(
            &c,
            "Posterior probability of each model from the evidence estimates.",
        )?;
        sec.text("Each model's own calibration is in its subfolder; run `vtwin report` on it.");
        sections.push(sec);
        sections.push(manifest_section(&m));
        return Ok(sections);
    }
    let post_path = dir.join("posterior.csv");
    let post = data::table(dir, "posterior")?.ok_or_else(|| {
        ReportError::input(
            &post_path,
            "missing: a calibrate folder holds posterior.csv",
        )
    })?;
    let names: Vec<String> = post
        .table
        .column_names()
        .into_iter()
        .filter(|c| *c != "weight")
        .map(String::from)
        .collect();
    let w = post.f64("weight")?;
    // The prior: the scene's parameter block, when the scene is still there.
    let prior = m["scene"]["path"]
        .as_str()
        .and_then(|p| crate::drivers::scenes::load(Path::new(p)).ok())
        .and_then(|sc| {
            let info = crate::core::model_scene::info_for(&sc).ok()?;
            crate::core::model_scene::resolve_params(&sc, &info).ok()
        });
    let estimated: Vec<String> = names
        .iter()
        .filter(|n| {
            let v = post.f64(n).unwrap_or_default();
            let first = v.first().copied().unwrap_or(0.0);
            v.iter().any(|x| *x != first)
        })
        .cloned()
        .collect();
    let mut sec = Section::new("Marginal posteriors");
    sec.text(match &prior {
        Some(_) => "Weighted histogram of the posterior draws (bars) and the prior density (line), per estimated parameter.".to_string(),
        None => format!(
            "Weighted histogram of the posterior draws; the prior is not drawn because the scene {} could not be read.",
            s(&m["scene"]["path"])
        ),
    });
    for n in &estimated {
        let x = post.f64(n)?;
        let bins = 24;
        let h = stats::histogram(&x, bins);
        let total: f64 = x
            .iter()
            .zip(&w)
            .filter(|(v, _)| v.is_finite())
            .map(|(_, w)| w)
            .sum();
        let mut dens = vec![0.0; h.len()];
        if let (Some(first), Some(last)) = (h.first(), h.last()) {
            let (lo, hi) = (first.0, last.1);
            let width = (hi - lo) / h.len() as f64;
            for (v, wt) in x.iter().zip(&w) {
                if v.is_finite() {
                    let k = (((v - lo) / width) as usize).min(h.len() - 1);
                    dens[k] += wt / (total * width);
                }
            }
        }
        let mut c = Chart::new(
            format!("Posterior of {n}"),
            format!("{n} (parameter units)"),
            "density (1 / parameter unit)",
        );
        c.series.push(Series::new(
            "posterior",
            0,
            Mark::Bars(h.iter().zip(&dens).map(|(b, d)| (b.0, b.1, *d)).collect()),
        ));
        if let Some(dist) = prior.as_ref().and_then(|b| b.get(n)) {
            let (lo, hi) = h
                .first()
                .zip(h.last())
                .map(|(a, b)| (a.0, b.1))
                .unwrap_or((0.0, 1.0));
            let (slo, shi) = dist.support();
            let (lo, hi) = (
                lo.min(if slo.is_finite() { slo } else { lo }),
                hi.max(if shi.is_finite() { shi } else { hi }),
            );
            let k = 120;
            let step = (hi - lo) / k as f64;
            let pts: Vec<(f64, f64)> = (0..k)
                .map(|i| {
                    let a = lo + i as f64 * step;
                    (a + step / 2.0, (dist.cdf(a + step) - dist.cdf(a)) / step)
                })
                .collect();
            c.series.push(Series::new("prior", 3, Mark::Line(pts)));
        }
        sec.figure(&c, &format!("Marginal posterior of {n} against its prior."))?;
    }
    sections.push(sec);

    if estimated.len() >= 2 {
        let mut sec = Section::new("Pairs");
        sec.text("Posterior draws of each pair of estimated parameters (darker = heavier weight is not shown; all draws equal size).");
        for i in 0..estimated.len() {
            for j in i + 1..estimated.len() {
                let (a, b) = (post.f64(&estimated[i])?, post.f64(&estimated[j])?);
                let pts = a
                    .iter()
                    .zip(&b)
                    .map(|(x, y)| (*x, *y))
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .collect();
                let c = Chart::new(
                    format!("Posterior draws of {} and {}", estimated[i], estimated[j]),
                    format!("{} (parameter units)", estimated[i]),
                    format!("{} (parameter units)", estimated[j]),
                )
                .with(Series::new("posterior draws", 0, Mark::Points(pts)));
                sec.figure(&c, "Joint posterior sample of two estimated parameters.")?;
            }
        }
        sections.push(sec);
    }

    if let Some(pred) = data::table(dir, "predictive")? {
        let obs = pred.str("observable")?;
        let t = pred.f64("time")?;
        let (v, sd) = (pred.f64("value")?, pred.f64("sd")?);
        let q: Vec<Vec<f64>> = ["q05", "q25", "q50", "q75", "q95"]
            .iter()
            .map(|c| pred.f64(c))
            .collect::<Result<_, _>>()?;
        let mut sec = Section::new("Posterior predictive");
        sec.text("Posterior predictive median and 50 %/90 % bands (observation noise included) at each data row, with the data (points, ± 1 sd).");
        for o in distinct(&obs) {
            let mut rows: Vec<usize> = (0..pred.rows()).filter(|&r| obs[r] == o).collect();
            rows.sort_by(|a, b| t[*a].total_cmp(&t[*b]));
            let mut c = Chart::new(
                format!("Posterior predictive of {o}"),
                "time (scene time unit)",
                format!("{o} (data units)"),
            );
            c.series.push(Series::new(
                "90 % band",
                0,
                Mark::Band(
                    rows.iter().map(|&r| (t[r], q[0][r], q[4][r])).collect(),
                    0.15,
                ),
            ));
            c.series.push(Series::new(
                "50 % band",
                0,
                Mark::Band(
                    rows.iter().map(|&r| (t[r], q[1][r], q[3][r])).collect(),
                    0.35,
                ),
            ));
            c.series.push(Series::new(
                "median",
                0,
                Mark::Line(rows.iter().map(|&r| (t[r], q[2][r])).collect()),
            ));
            c.series.push(Series::new(
                "data ± sd",
                3,
                Mark::ErrorPoints(
                    rows.iter()
                        .map(|&r| (t[r], v[r], v[r] - sd[r].max(0.0), v[r] + sd[r].max(0.0)))
                        .collect(),
                ),
            ));
            sec.figure(&c, &format!("Posterior predictive check of {o}."))?;
        }
        sections.push(sec);
    }

    let mut sec = Section::new("Progress of the method");
    if let Some(g) = data::table(dir, "abc_generations")? {
        let (gen_, eps) = (g.f64("generation")?, g.f64("epsilon")?);
        let c = Chart::new(
            "ABC tolerance ε per generation",
            "generation",
            "ε (distance units)",
        )
        .with(Series::new(
            "ε",
            0,
            Mark::Line(gen_.iter().zip(&eps).map(|(a, b)| (*a, *b)).collect()),
        ))
        .with(Series::new(
            "ε (points)",
            0,
            Mark::Points(gen_.iter().zip(&eps).map(|(a, b)| (*a, *b)).collect()),
        ));
        sec.figure(
            &c,
            "The ABC-SMC tolerance schedule: each generation accepts particles closer than ε.",
        )?;
    }
    if let Some(wv) = data::table(dir, "hm_waves")? {
        let (wave, f) = (wv.f64("wave")?, wv.f64("fraction_ruled_out")?);
        let mut c = Chart::new(
            "History matching: implausible fraction by wave",
            "wave",
            "prior volume ruled out (fraction)",
        );
        c.series.push(Series::new(
            "ruled out (implausibility above the cut-off)",
            0,
            Mark::Bars(
                wave.iter()
                    .zip(&f)
                    .map(|(a, b)| (a - 0.3, a + 0.3, *b))
                    .collect(),
            ),
        ));
        c.y_range = Some((0.0, 1.05));
        sec.figure(
            &c,
            "Fraction of the prior whose implausibility exceeds the cut-off after each wave.",
        )?;
    }
    if let Some(st) = data::table(dir, "smc_stages")? {
        let (k, beta) = (st.f64("stage")?, st.f64("beta")?);
        let c = Chart::new(
            "Tempered SMC: temperature per stage",
            "stage",
            "β (likelihood exponent)",
        )
        .with(Series::new(
            "β",
            0,
            Mark::Line(k.iter().zip(&beta).map(|(a, b)| (*a, *b)).collect()),
        ));
        sec.figure(
            &c,
            "Likelihood tempering from prior (β = 0) to posterior (β = 1).",
        )?;
    }
    if !sec.blocks.is_empty() {
        sections.push(sec);
    }
    if let Some(ps) = data::table(dir, "posterior_summary")? {
        let mut sec = Section::new("Posterior summary");
        let header: Vec<String> = ps
            .table
            .column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let cols: Vec<Vec<String>> = header.iter().map(|h| ps.str(h)).collect::<Result<_, _>>()?;
        let rows = (0..ps.rows())
            .map(|r| cols.iter().map(|c| c[r].clone()).collect())
            .collect();
        let h: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
        sec.table(&h, rows);
        sections.push(sec);
    }
    sections.push(manifest_section(&m));
    Ok(sections)
}

/// Fan charts of the forecast per observable and arm, observations with
/// error bars, analysis times, event probabilities and RMSE/spread.
pub fn twin(dir: &Path) -> Result<Vec<Section>, ReportError> {
    let m = manifest(dir)?;
    let mut sections = Vec::new();
    let obs = data::table(dir, "observations")?;
    let cycles = data::table(dir, "cycles")?;
    let analysis_times: Vec<f64> = match &cycles {
        Some(c) => c.f64("time")?,
        None => vec![],
    };
    if let Some(fc) = data::table(dir, "forecast")? {
        let arm = fc.str("arm")?;
        let t = fc.f64("time")?;
        let o = fc.str("observable")?;
        let q = fc.f64("quantile")?;
        let v = fc.f64("value")?;
        let qs = stats::sorted_finite(
            distinct(&q.iter().map(|x| x.to_string()).collect::<Vec<_>>())
                .iter()
                .filter_map(|s| s.parse().ok()),
        );
        let mut sec = Section::new("Forecasts");
        sec.text("Forecast quantiles per arm from the decision point: the median (line) and the central bands between the outer and inner quantiles written; observations with ± 1 sd error bars; grey vertical lines are analysis times.");
        for name in distinct(&o) {
            let mut c = Chart::new(
                format!("Forecast of {name}"),
                format!("time ({})", time_unit(&m)),
                format!("{name} (observable units)"),
            );
            for (k, a) in distinct(&arm).iter().enumerate() {
                let at = |p: f64| -> Vec<(f64, f64)> {
                    let mut pts: Vec<(f64, f64)> = (0..fc.rows())
                        .filter(|&r| arm[r] == *a && o[r] == name && (q[r] - p).abs() < 1e-9)
                        .map(|r| (t[r], v[r]))
                        .collect();
                    pts.sort_by(|x, y| x.0.total_cmp(&y.0));
                    pts
                };
                let pairs = qs.len() / 2;
                for j in 0..pairs {
                    let (lo, hi) = (at(qs[j]), at(qs[qs.len() - 1 - j]));
                    let band = lo.iter().zip(&hi).map(|(l, h)| (l.0, l.1, h.1)).collect();
                    let width = ((qs[qs.len() - 1 - j] - qs[j]) * 100.0).round();
                    c.series.push(Series::new(
                        format!("{a}: {width} % band"),
                        k,
                        Mark::Band(band, 0.12 + 0.15 * j as f64),
                    ));
                }
                let med = at(0.5);
                if !med.is_empty() {
                    c.series
                        .push(Series::new(format!("{a}: median"), k, Mark::Line(med)));
                }
            }
            if let Some(ob) = &obs {
                let (ot, on, ov) = (ob.f64("time")?, ob.str("observable")?, ob.f64("value")?);
                let sd = if ob.has("sd") {
                    ob.f64("sd")?
                } else {
                    vec![0.0; ob.rows()]
                };
                let pts: Vec<(f64, f64, f64, f64)> = (0..ob.rows())
                    .filter(|&r| on[r] == name && ov[r].is_finite())
                    .map(|r| (ot[r], ov[r], ov[r] - sd[r], ov[r] + sd[r]))
                    .collect();
                if !pts.is_empty() {
                    c.series
                        .push(Series::new("observations ± sd", 7, Mark::ErrorPoints(pts)));
                }
            }
            if !analysis_times.is_empty() {
                c.series.push(Series::new(
                    "analysis times",
                    7,
                    Mark::VLines(analysis_times.clone()),
                ));
            }
            sec.figure(&c, &format!("Fan chart of {name} per arm."))?;
        }
        sections.push(sec);
    }
    if let Some(an) = data::table(dir, "analysis")? {
        // The assimilation window: truth, observations and the analysis
        // mean ± sd of the first state variables.
        let (t, var, am, asd) = (
            an.f64("time")?,
            an.str("variable")?,
            an.f64("analysis_mean")?,
            an.f64("analysis_sd")?,
        );
        let truth = if an.has("truth") {
            an.f64("truth")?
        } else {
            vec![f64::NAN; an.rows()]
        };
        let observed = if an.has("observed") {
            an.f64("observed")?
        } else {
            vec![f64::NAN; an.rows()]
        };
        let mut sec = Section::new("Assimilation");
        sec.text("Analysis mean ± 1 sd at each analysis time, with the truth (twin experiments) and the observed value where the variable is observed.");
        for v in distinct(&var).iter().take(ANALYSED_VARIABLES) {
            let rows: Vec<usize> = (0..an.rows()).filter(|&r| var[r] == *v).collect();
            let mut c = Chart::new(
                format!("Analysis of {v}"),
                format!("time ({})", time_unit(&m)),
                format!("{v} (state units)"),
            );
            c.series.push(Series::new(
                "analysis mean ± sd",
                0,
                Mark::Band(
                    rows.iter()
                        .map(|&r| (t[r], am[r] - asd[r], am[r] + asd[r]))
                        .collect(),
                    0.3,
                ),
            ));
            c.series.push(Series::new(
                "analysis mean",
                0,
                Mark::Line(rows.iter().map(|&r| (t[r], am[r])).collect()),
            ));
            let tr: Vec<(f64, f64)> = rows
                .iter()
                .filter(|&&r| truth[r].is_finite())
                .map(|&r| (t[r], truth[r]))
                .collect();
            if !tr.is_empty() {
                c.series.push(Series::new("truth", 7, Mark::Dashed(tr)));
            }
            let ob: Vec<(f64, f64)> = rows
                .iter()
                .filter(|&&r| observed[r].is_finite())
                .map(|&r| (t[r], observed[r]))
                .collect();
            if !ob.is_empty() {
                c.series.push(Series::new("observed", 3, Mark::Points(ob)));
            }
            sec.figure(
                &c,
                &format!("Filter estimate of {v} over the assimilation window."),
            )?;
        }
        if !sec.blocks.is_empty() {
            sections.push(sec);
        }
    }
    if let Some(ev) = data::table(dir, "events")? {
        let (arm, event, p) = (ev.str("arm")?, ev.str("event")?, ev.f64("probability")?);
        let se = if ev.has("mc_se") {
            ev.f64("mc_se")?
        } else {
            vec![f64::NAN; ev.rows()]
        };
        let events = distinct(&event);
        let arms = distinct(&arm);
        let mut c = Chart::new("Event probabilities per arm", "event", "probability");
        let width = 0.8 / arms.len().max(1) as f64;
        for (k, a) in arms.iter().enumerate() {
            let off = -0.4 + width * (k as f64 + 0.5);
            let rows: Vec<usize> = (0..ev.rows()).filter(|&r| arm[r] == *a).collect();
            let x = |r: usize| events.iter().position(|e| *e == event[r]).unwrap_or(0) as f64 + off;
            c.series.push(Series::new(
                a.clone(),
                k,
                Mark::Bars(
                    rows.iter()
                        .map(|&r| (x(r) - width / 2.2, x(r) + width / 2.2, p[r]))
                        .collect(),
                ),
            ));
            c.series.push(Series::new(
                format!("{a}: ± 2 MC se"),
                7,
                Mark::ErrorPoints(
                    rows.iter()
                        .filter(|&&r| se[r].is_finite())
                        .map(|&r| (x(r), p[r], p[r] - 2.0 * se[r], p[r] + 2.0 * se[r]))
                        .collect(),
                ),
            ));
        }
        c.x_categories = Some(events);
        c.y_range = Some((0.0, 1.05));
        let mut sec = Section::new("Events");
        sec.figure(
            &c,
            "Probability of each event by its horizon, per arm, with Monte Carlo error bars.",
        )?;
        sections.push(sec);
    }
    if let Some(cy) = &cycles {
        let t = cy.f64("time")?;
        let mut c = Chart::new(
            "RMSE and spread over cycles",
            "analysis time (scene time unit)",
            "error (observation units)",
        );
        let mut any = false;
        for (k, (col, label)) in [
            ("rmse_forecast", "RMSE of the forecast"),
            ("rmse_analysis", "RMSE of the analysis"),
            ("rmse_free", "RMSE of the free run"),
            ("spread_forecast", "spread of the forecast"),
            ("spread_analysis", "spread of the analysis"),
        ]
        .iter()
        .enumerate()
        {
            if cy.has(col) {
                let v = cy.f64(col)?;
                let pts: Vec<(f64, f64)> = t
                    .iter()
                    .zip(&v)
                    .filter(|(_, y)| y.is_finite())
                    .map(|(a, b)| (*a, *b))
                    .collect();
                if !pts.is_empty() {
                    any = true;
                    let mark = if col.starts_with("spread") {
                        Mark::Dashed(pts)
                    } else {
                        Mark::Line(pts)
                    };
                    c.series.push(Series::new(*label, k, mark));
                }
            }
        }
        if any {
            let mut sec = Section::new("Filter performance");
            sec.figure(&c, "Root-mean-square error against the truth (solid) and ensemble spread (dashed) at each analysis; a well-tuned filter has spread ≈ RMSE.")?;
            sections.push(sec);
        }
    }
    if sections.is_empty() {
        return Err(ReportError::input(
            dir,
            "has none of forecast, events or cycles tables to plot",
        ));
    }
    sections.push(manifest_section(&m));
    Ok(sections)
}

/// Kaplan–Meier per arm, waterfall, ITE, covariate balance, missingness.
pub fn cohort(dir: &Path) -> Result<Vec<Section>, ReportError> {
    let m = manifest(dir)?;
    let mut sections = Vec::new();
    let out = data::table(dir, "outcomes")?;
    let patients = data::table(dir, "patients")?;
    let dict = data::read_json(&dir.join("data_dictionary.json")).ok();
    let assigned: BTreeMap<i64, String> = match &patients {
        Some(p) if p.has("assigned_arm") => p
            .f64("patient_id")?
            .iter()
            .zip(p.str("assigned_arm")?)
            .map(|(i, a)| (*i as i64, a))
            .collect(),
        _ => BTreeMap::new(),
    };
    if let Some(o) = &out {
        let arm = o.str("arm")?;
        let pid = o.f64("patient_id")?;
        let arms = distinct(&arm);
        if o.has("time_to_progression") && o.has("progressed") {
            let t = o.f64("time_to_progression")?;
            let ev = o.bool("progressed")?;
            let mut c = Chart::new(
                "Kaplan–Meier: progression-free survival per arm",
                "time (days)",
                "progression-free (fraction)",
            );
            c.y_range = Some((0.0, 1.05));
            c.height = 400 + 22 + 18 * arms.len() as u32;
            let tmax = t
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(0.0, f64::max);
            let ticks: Vec<f64> = (0..=5).map(|k| tmax * k as f64 / 5.0).collect();
            for (k, a) in arms.iter().enumerate() {
                let d: Vec<(f64, bool)> = (0..o.rows())
                    .filter(|&r| arm[r] == *a)
                    .map(|r| (t[r], ev[r].unwrap_or(false)))
                    .collect();
                let km = stats::kaplan_meier(&d);
                let mut pts = stats::km_points(&km);
                pts.push((tmax, pts.last().map_or(1.0, |p| p.1)));
                c.series.push(Series::new(
                    format!("{a} (n = {})", d.len()),
                    k,
                    Mark::Step(pts),
                ));
                c.below.push((
                    a.clone(),
                    k,
                    ticks
                        .iter()
                        .map(|&x| (x, stats::at_risk(&d, x).to_string()))
                        .collect(),
                ));
            }
            let mut sec = Section::new("Survival");
            sec.text("Every patient is simulated under every arm; each curve uses all patients under that arm. Censored at the end of follow-up.");
            sec.figure(&c, "Kaplan–Meier estimate of progression-free survival per arm; numbers at risk below.")?;
            sections.push(sec);
        }
        if o.has("best_relative_change") {
            let b = o.f64("best_relative_change")?;
            // Waterfall of each patient under the assigned arm (or every row).
            let mut rows: Vec<usize> = (0..o.rows())
                .filter(|&r| b[r].is_finite())
                .filter(|&r| assigned.get(&(pid[r] as i64)).is_none_or(|a| *a == arm[r]))
                .collect();
            rows.sort_by(|x, y| b[*y].total_cmp(&b[*x]));
            let mut c = Chart::new(
                "Waterfall of best response",
                "patients (sorted)",
                "best change from baseline (%)",
            );
            for (k, a) in arms.iter().enumerate() {
                let bars: Vec<(f64, f64, f64)> = rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| arm[**r] == *a)
                    .map(|(i, &r)| (i as f64 + 0.05, i as f64 + 0.95, 100.0 * b[r]))
                    .collect();
                if !bars.is_empty() {
                    c.series.push(Series::new(a.clone(), k, Mark::Bars(bars)));
                }
            }
            c.series.push(Series::new(
                "partial response (−30 %)",
                7,
                Mark::HLine(-30.0),
            ));
            c.series
                .push(Series::new("progression (+20 %)", 3, Mark::HLine(20.0)));
            let mut sec = Section::new("Response");
            sec.figure(&c, "Best relative change of burden from baseline per patient under the assigned arm, sorted; RECIST-style thresholds marked.")?;
            if o.has("responded") {
                let resp = o.bool("responded")?;
                let rows = arms
                    .iter()
                    .map(|a| {
                        let r: Vec<bool> = (0..o.rows())
                            .filter(|&r| arm[r] == *a)
                            .filter_map(|r| resp[r])
                            .collect();
                        let n = r.iter().filter(|x| **x).count();
                        vec![
                            a.clone(),
                            r.len().to_string(),
                            n.to_string(),
                            format!("{:.1} %", 100.0 * n as f64 / r.len().max(1) as f64),
                        ]
                    })
                    .collect();
                sec.table(&["arm", "patients", "responders", "response rate"], rows);
            }
            // Individual treatment effects: every patient has both potential outcomes.
            if arms.len() >= 2 {
                let by: BTreeMap<(i64, String), f64> = (0..o.rows())
                    .map(|r| ((pid[r] as i64, arm[r].clone()), b[r]))
                    .collect();
                let ids: Vec<i64> = distinct(
                    &pid.iter()
                        .map(|p| (*p as i64).to_string())
                        .collect::<Vec<_>>(),
                )
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
                let mut c = Chart::new(
                    format!("Individual treatment effects against {}", arms[0]),
                    "difference in best change from baseline (percentage points)",
                    "patients (count)",
                );
                for (k, a) in arms.iter().enumerate().skip(1) {
                    let ite: Vec<f64> = ids
                        .iter()
                        .filter_map(|i| {
                            Some(
                                100.0
                                    * (by.get(&(*i, a.clone()))?
                                        - by.get(&(*i, arms[0].clone()))?),
                            )
                        })
                        .collect();
                    let h = stats::histogram(&ite, 20);
                    c.series.push(Series::new(
                        format!("{a} − {}", arms[0]),
                        k,
                        Mark::Bars(h.iter().map(|(l, r, n)| (*l, *r, *n as f64)).collect()),
                    ));
                }
                c.series
                    .push(Series::new("no effect", 7, Mark::VLines(vec![0.0])));
                sec.figure(&c, "Per patient, best change under each arm minus under the reference arm (negative = more shrinkage).")?;
            }
            sections.push(sec);
        }
    }
    if let Some(p) = patients.as_ref().filter(|p| p.has("assigned_arm")) {
        {
            let arm = p.str("assigned_arm")?;
            let arms = distinct(&arm);
            let covs: Vec<String> = dict
                .as_ref()
                .and_then(|d| d["columns"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter(|c| {
                    c["table"] == "patients"
                        && c["description"]
                            .as_str()
                            .is_some_and(|s| s.to_lowercase().contains("covariate ("))
                })
                .filter_map(|c| c["column"].as_str().map(String::from))
                .collect();
            if arms.len() >= 2 && !covs.is_empty() {
                let mut names = Vec::new();
                let mut vals = Vec::new();
                for cv in &covs {
                    if !p.has(cv) {
                        continue;
                    }
                    let x = p.f64(cv)?;
                    if x.iter().all(|v| v.is_nan()) {
                        // Categorical: one indicator per level.
                        let lv = p.str(cv)?;
                        for l in distinct(&lv) {
                            let ind: Vec<f64> = lv.iter().map(|v| (*v == l) as u8 as f64).collect();
                            let g = |a: &str| {
                                (0..ind.len())
                                    .filter(|&r| arm[r] == a)
                                    .map(|r| ind[r])
                                    .collect::<Vec<_>>()
                            };
                            if let Some(d) = stats::smd(&g(&arms[0]), &g(&arms[1])) {
                                names.push(format!("{cv} = {l}"));
                                vals.push(d);
                            }
                        }
                    } else {
                        let g = |a: &str| {
                            (0..x.len())
                                .filter(|&r| arm[r] == a)
                                .map(|r| x[r])
                                .collect::<Vec<_>>()
                        };
                        if let Some(d) = stats::smd(&g(&arms[0]), &g(&arms[1])) {
                            names.push(cv.clone());
                            vals.push(d);
                        }
                    }
                }
                let mut c = Chart::new(
                    format!("Covariate balance: {} against {}", arms[1], arms[0]),
                    "covariate",
                    "standardised mean difference (sd units)",
                );
                c.series.push(Series::new(
                    "SMD",
                    0,
                    Mark::ErrorPoints(
                        vals.iter()
                            .enumerate()
                            .map(|(k, v)| (k as f64, *v, *v, *v))
                            .collect(),
                    ),
                ));
                c.series
                    .push(Series::new("± 0.1 (balanced)", 7, Mark::HLine(0.1)));
                c.series.push(Series::new("− 0.1", 7, Mark::HLine(-0.1)));
                c.x_categories = Some(names);
                let mut sec = Section::new("Covariate balance");
                sec.figure(&c, "Standardised mean difference of each covariate between the assigned arms; |SMD| < 0.1 is the usual balance threshold.")?;
                sections.push(sec);
            }
        }
    }
    if let Some(ob) = data::table(dir, "observations")? {
        let (pid, arm, visit, name) = (
            ob.f64("patient_id")?,
            ob.str("arm")?,
            ob.f64("visit")?,
            ob.str("observable")?,
        );
        let missing = ob.bool("missing")?;
        let mut c = Chart::new(
            "Missingness per visit",
            "visit (index)",
            "missing measurements (fraction)",
        );
        for (k, n) in distinct(&name).iter().enumerate() {
            let mut by: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
            for r in 0..ob.rows() {
                if name[r] != *n || assigned.get(&(pid[r] as i64)).is_some_and(|a| *a != arm[r]) {
                    continue;
                }
                let e = by.entry(visit[r] as i64).or_default();
                e.0 += missing[r].unwrap_or(false) as usize;
                e.1 += 1;
            }
            let pts: Vec<(f64, f64)> = by
                .iter()
                .map(|(v, (mi, n))| (*v as f64, *mi as f64 / (*n).max(1) as f64))
                .collect();
            c.series
                .push(Series::new(n.clone(), k, Mark::Line(pts.clone())));
            c.series
                .push(Series::new(format!("{n} (visits)"), k, Mark::Points(pts)));
        }
        c.y_range = Some((0.0, 1.05));
        let mut sec = Section::new("Missingness");
        sec.figure(
            &c,
            "Fraction of measurements missing at each visit (assigned arm), per observable.",
        )?;
        sections.push(sec);
    }
    if sections.is_empty() {
        return Err(ReportError::input(
            dir,
            "has no outcomes, patients or observations to plot",
        ));
    }
    sections.push(manifest_section(&m));
    Ok(sections)
}

/// Scaling curves and fraction of peak from a `vtwin bench --json` report.
pub fn bench(path: &Path) -> Result<Vec<Section>, ReportError> {
    let v = data::read_json(path)?;
    let mut sections = Vec::new();
    let mut sec = Section::new("Scaling over members");
    if let Some(sc) = v["scaling"].as_array().filter(|a| !a.is_empty()) {
        let mut c = Chart::new(
            "Throughput against members",
            "members (log10)",
            "cell updates per second (log10)",
        );
        for (k, s) in sc.iter().enumerate() {
            let mem: Vec<f64> = s["members"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default();
            let th: Vec<f64> = s["cell_updates_per_s"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default();
            let pts: Vec<(f64, f64)> = mem
                .iter()
                .zip(&th)
                .filter(|(m, t)| **m > 0.0 && **t > 0.0)
                .map(|(m, t)| (m.log10(), t.log10()))
                .collect();
            let label = format!("{} ({}²)", s["case"].as_str().unwrap_or("case"), s["grid"]);
            c.series
                .push(Series::new(label.clone(), k, Mark::Line(pts.clone())));
            c.series.push(Series::new(
                format!("{label} (measured)"),
                k,
                Mark::Points(pts),
            ));
        }
        sec.figure(&c, "Cell updates per second against ensemble size (both log10); the curve flattens where the device saturates.")?;
    }
    if let Some(res) = v["results"].as_array().filter(|a| !a.is_empty()) {
        // Throughput against members per case from the results, too.
        let mut cases: Vec<String> = Vec::new();
        for r in res {
            let n = r["case"].as_str().unwrap_or("").to_string();
            if !cases.contains(&n) {
                cases.push(n);
            }
        }
        let mut c = Chart::new(
            "Member-steps per second by case",
            "members (log10)",
            "member-steps per second (log10)",
        );
        for (k, case) in cases.iter().enumerate() {
            let mut pts: Vec<(f64, f64)> = res
                .iter()
                .filter(|r| r["case"].as_str() == Some(case))
                .filter_map(|r| Some((r["members"].as_f64()?, r["member_steps_per_s"].as_f64()?)))
                .filter(|(m, t)| *m > 0.0 && *t > 0.0)
                .map(|(m, t)| (m.log10(), t.log10()))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            c.series
                .push(Series::new(case.clone(), k, Mark::Line(pts.clone())));
            c.series.push(Series::new(
                format!("{case} (measured)"),
                k,
                Mark::Points(pts),
            ));
        }
        sec.figure(
            &c,
            "Member-steps per second of every benchmark case against members (log10 axes).",
        )?;
        sections.push(sec);
        let peak: Vec<(String, f64)> = res
            .iter()
            .filter_map(|r| {
                Some((
                    format!("{} × {}", r["case"].as_str()?, r["members"]),
                    r["fraction_of_peak"].as_f64()?,
                ))
            })
            .collect();
        let mut sec = Section::new("Fraction of peak bandwidth");
        if peak.is_empty() {
            sec.text(
                "No peak bandwidth is known for this device, so no fraction of peak was computed.",
            );
        } else {
            let mut c = Chart::new(
                "Fraction of peak memory bandwidth",
                "case × members",
                "fraction of peak (1 = peak)",
            );
            c.series.push(Series::new(
                "achieved / peak bandwidth",
                0,
                Mark::Bars(
                    peak.iter()
                        .enumerate()
                        .map(|(k, (_, f))| (k as f64 - 0.35, k as f64 + 0.35, *f))
                        .collect(),
                ),
            ));
            c.x_categories = Some(peak.iter().map(|p| p.0.clone()).collect());
            c.height = 460;
            sec.figure(
                &c,
                "Bytes moved per second as a fraction of the device's peak memory bandwidth.",
            )?;
        }
        sections.push(sec);
    } else {
        sections.push(sec);
    }
    let mut prov = Section::new("Provenance");
    prov.table(
        &["key", "value"],
        vec![
            vec!["backend".into(), s(&v["backend"])],
            vec!["adapter".into(), s(&v["adapter"]["name"])],
            vec![
                "vtwin".into(),
                format!("{} (commit {})", s(&v["vtwin_version"]), s(&v["commit"])),
            ],
            vec!["date".into(), s(&v["date"])],
        ],
    );
    if let Some(u) = v["unavailable"].as_array() {
        for x in u {
            prov.text(format!(
                "suite {} unavailable: {}",
                s(&x["suite"]),
                s(&x["reason"])
            ));
        }
    }
    sections.push(prov);
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::table::Table;

    #[test]
    fn run_bands_are_the_quantiles_of_the_table() {
        // 5 members, 2 times, one observable; member 4 failed at t = 1 (null → NaN).
        let mut t = Table::new("observables")
            .with_i64("member", [0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
            .with_f64("time", [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
            .with_str("observable", (0..10).map(|_| "burden".to_string()));
        t.push_column(
            "value",
            crate::output::table::Values::F64(vec![
                Some(1.0),
                Some(2.0),
                Some(3.0),
                Some(4.0),
                Some(5.0),
                Some(10.0),
                Some(30.0),
                Some(20.0),
                Some(40.0),
                None,
            ]),
        );
        let l = Loaded {
            path: "observables.parquet".into(),
            table: t,
        };
        let b = run_bands(&l, "control").unwrap();
        let v = &b[&("control".to_string(), "burden".to_string())];
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].0, 0.0);
        assert_eq!(
            (v[0].1.q25, v[0].1.q50, v[0].1.q75, v[0].1.n),
            (2.0, 3.0, 4.0, 5)
        );
        // t = 1: {10, 20, 30, 40}: median 25, q25 17.5, q75 32.5, q05 11.5, q95 38.5.
        let q = v[1].1;
        assert_eq!((q.q50, q.q25, q.q75, q.n), (25.0, 17.5, 32.5, 4));
        assert!((q.q05 - 11.5).abs() < 1e-12 && (q.q95 - 38.5).abs() < 1e-12);
    }
}
