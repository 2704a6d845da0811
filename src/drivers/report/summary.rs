//! The short results summary a command prints after writing its folder:
//! read back from the folder itself, so it states exactly what the files
//! hold (final observables by arm, top sensitivity indices, response
//! rates, posterior medians, event probabilities).

use super::data::{self, distinct};
use super::{Kind, ReportError, plot::tick};
use std::path::Path;

/// How many parameters per output the sweep summary names.
const TOP: usize = 3;

/// Summary lines for the output at `path` (no trailing newlines).
pub fn lines(path: &Path) -> Result<Vec<String>, ReportError> {
    match super::detect(path)? {
        Kind::Run => run(path),
        Kind::Sweep => sweep(path),
        Kind::Calibrate => calibrate(path),
        Kind::Twin | Kind::Assimilate => twin(path),
        Kind::Cohort => cohort(path),
        Kind::Bench => Ok(vec![]),
    }
}

fn run(dir: &Path) -> Result<Vec<String>, ReportError> {
    let m = data::read_json(&dir.join("manifest.json"))?;
    let obs = data::require(dir, "observables")?;
    let arm = m["arm"].as_str().unwrap_or("arm");
    let bands = super::kinds::run_bands(&obs, arm)?;
    let tu = m["time_unit"].as_str().filter(|u| *u != "1").unwrap_or("");
    let mut out = vec![];
    for ((a, n), b) in &bands {
        if let Some((t, q)) = b.last() {
            out.push(format!(
                "  {n:<24} arm {a:<16} at t = {}{}{tu}: median {} (90 % of members {} to {}; {} members)",
                tick(*t),
                if tu.is_empty() { "" } else { " " },
                tick(q.q50),
                tick(q.q05),
                tick(q.q95),
                q.n
            ));
        }
    }
    Ok(out)
}

fn sweep(dir: &Path) -> Result<Vec<String>, ReportError> {
    let (t, key, name) = if let Some(t) = data::table(dir, "indices")? {
        (t, "ST", "total-order Sobol")
    } else if let Some(t) = data::table(dir, "morris")? {
        (t, "mu_star", "Morris μ*")
    } else {
        return Ok(vec![
            "  (no sensitivity indices for this design; outputs.csv holds the summaries)".into(),
        ]);
    };
    let (o, p, v) = (t.str("output")?, t.str("parameter")?, t.f64(key)?);
    let mut out = vec![format!("  most influential parameters ({name}):")];
    for name in distinct(&o) {
        let mut rows: Vec<usize> = (0..t.rows()).filter(|&r| o[r] == name).collect();
        rows.sort_by(|a, b| v[*b].total_cmp(&v[*a]));
        let top: Vec<String> = rows
            .iter()
            .take(TOP)
            .map(|&r| format!("{} {}", p[r], tick(v[r])))
            .collect();
        out.push(format!("  {name:<28} {}", top.join(", ")));
    }
    Ok(out)
}

fn calibrate(dir: &Path) -> Result<Vec<String>, ReportError> {
    if let Some(mc) = data::table(dir, "model_choice")? {
        let (m, p) = (mc.str("model")?, mc.f64("probability")?);
        return Ok(m
            .iter()
            .zip(&p)
            .map(|(m, p)| format!("  P({m} | data) = {}", tick(*p)))
            .collect());
    }
    let Some(s) = data::table(dir, "posterior_summary")? else {
        return Ok(vec![]);
    };
    let (n, q05, q50, q95) = (
        s.str("parameter")?,
        s.f64("q05")?,
        s.f64("q50")?,
        s.f64("q95")?,
    );
    Ok((0..s.rows())
        .filter(|&r| q05[r] != q95[r])
        .map(|r| {
            format!(
                "  {:<16} posterior median {} (90 % interval {} to {})",
                n[r],
                tick(q50[r]),
                tick(q05[r]),
                tick(q95[r])
            )
        })
        .collect())
}

fn twin(dir: &Path) -> Result<Vec<String>, ReportError> {
    let mut out = vec![];
    if let Some(e) = data::table(dir, "events")? {
        let (a, ev, p) = (e.str("arm")?, e.str("event")?, e.f64("probability")?);
        for r in 0..e.rows() {
            out.push(format!("  arm {:<16} P({}) = {}", a[r], ev[r], tick(p[r])));
        }
    }
    if let Some(c) = data::table(dir, "cycles")?.filter(|c| c.has("rmse_analysis")) {
        {
            let v = c.f64("rmse_analysis")?;
            if let Some(last) = v.iter().rev().find(|x| x.is_finite()) {
                out.push(format!("  RMSE of the last analysis: {}", tick(*last)));
            }
        }
    }
    Ok(out)
}

fn cohort(dir: &Path) -> Result<Vec<String>, ReportError> {
    let Some(o) = data::table(dir, "outcomes")? else {
        return Ok(vec![]);
    };
    let arm = o.str("arm")?;
    let resp = if o.has("responded") {
        Some(o.bool("responded")?)
    } else {
        None
    };
    let prog = if o.has("progressed") {
        Some(o.bool("progressed")?)
    } else {
        None
    };
    let mut out = vec![];
    for a in distinct(&arm) {
        let rows: Vec<usize> = (0..o.rows()).filter(|&r| arm[r] == a).collect();
        let rate = |v: &Option<Vec<Option<bool>>>| {
            v.as_ref().map(|v| {
                let known: Vec<bool> = rows.iter().filter_map(|&r| v[r]).collect();
                100.0 * known.iter().filter(|x| **x).count() as f64 / known.len().max(1) as f64
            })
        };
        let mut s = format!("  arm {a:<16} {} patients", rows.len());
        if let Some(r) = rate(&resp) {
            s += &format!(", response rate {r:.1} %");
        }
        if let Some(p) = rate(&prog) {
            s += &format!(", progressed {p:.1} %");
        }
        out.push(s);
    }
    Ok(out)
}
