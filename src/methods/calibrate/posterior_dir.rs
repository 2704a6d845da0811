//! The posterior directory: `posterior.csv` and `posterior.toml`.
//!
//! `posterior.csv` has a `weight` column, then one column per parameter in
//! block order; floats are written in Rust's shortest round-trip form, so
//! they read back bit for bit. `posterior.toml` has a `[posterior]` header
//! (method, draws, ess), the fitted `[parameters]` block in scene syntax,
//! optional `[[correlations]]` (a, b, rho) and a `[summary.NAME]` table per
//! parameter. Reading checks that both files name the same parameters.
//!
//! Owns: the file format only (the only calibration file that touches the
//! file system). Never touches the simulator.

use super::CalibrateError;
use super::posterior::Posterior;
use crate::input::params::{Correlation, Distribution, ParamBlock, ParamSpec};
use indexmap::IndexMap;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::Path;

pub const POSTERIOR_CSV: &str = "posterior.csv";
pub const POSTERIOR_TOML: &str = "posterior.toml";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CalibrateError + '_ {
    move |source| CalibrateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A TOML value for a distribution in scene syntax.
fn dist_toml(d: &Distribution) -> String {
    match d {
        Distribution::Fixed(v) => format!("{v:?}"),
        Distribution::Uniform { low, high } => {
            format!("{{ dist = \"uniform\", low = {low:?}, high = {high:?} }}")
        }
        Distribution::LogUniform { low, high } => {
            format!("{{ dist = \"loguniform\", low = {low:?}, high = {high:?} }}")
        }
        Distribution::Normal { mean, sd } => {
            format!("{{ dist = \"normal\", mean = {mean:?}, sd = {sd:?} }}")
        }
        Distribution::LogNormal { mu, sigma } => {
            format!("{{ dist = \"lognormal\", mu = {mu:?}, sigma = {sigma:?} }}")
        }
        Distribution::TruncNormal {
            mean,
            sd,
            low,
            high,
        } => {
            format!(
                "{{ dist = \"truncnormal\", mean = {mean:?}, sd = {sd:?}, low = {low:?}, high = {high:?} }}"
            )
        }
        Distribution::Choice { values, weights } => {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match weights {
                Some(w) => format!(
                    "{{ dist = \"choice\", values = [{}], weights = [{}] }}",
                    list(values),
                    list(w)
                ),
                None => format!("{{ dist = \"choice\", values = [{}] }}", list(values)),
            }
        }
    }
}

/// A bare TOML key, quoted when it is not a plain identifier.
fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// Writes `posterior.csv` and `posterior.toml` into `dir` (created if
/// missing).
pub fn write_posterior(dir: &Path, post: &Posterior) -> Result<(), CalibrateError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let csv_path = dir.join(POSTERIOR_CSV);
    let mut csv = String::from("weight");
    for n in &post.names {
        csv.push(',');
        csv.push_str(&csv_field(n));
    }
    csv.push('\n');
    for (w, d) in post.weights.iter().zip(&post.draws) {
        let _ = write!(csv, "{w:?}");
        for v in d {
            let _ = write!(csv, ",{v:?}");
        }
        csv.push('\n');
    }
    std::fs::write(&csv_path, csv).map_err(io_err(&csv_path))?;

    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Posterior written by `vtwin calibrate`: the draws in {POSTERIOR_CSV} are the posterior;"
    );
    let _ = writeln!(
        t,
        "# [parameters] is a parameter block fitted to them (scene syntax)."
    );
    let _ = writeln!(
        t,
        "[posterior]\nmethod = {:?}\ndraws = {}\ness = {:?}\n",
        post.method,
        post.draws.len(),
        post.ess()
    );
    let _ = writeln!(t, "[parameters]");
    for p in &post.block.params {
        let _ = writeln!(t, "{} = {}", toml_key(&p.name), dist_toml(&p.dist));
    }
    for c in &post.block.correlations {
        let _ = writeln!(
            t,
            "\n[[correlations]]\na = {:?}\nb = {:?}\nrho = {:?}",
            c.a, c.b, c.rho
        );
    }
    for s in post.summary() {
        let _ = writeln!(
            t,
            "\n[summary.{}]\nmean = {:?}\nsd = {:?}\nq05 = {:?}\nq50 = {:?}\nq95 = {:?}",
            toml_key(&s.name),
            s.mean,
            s.sd,
            s.q05,
            s.q50,
            s.q95
        );
    }
    let toml_path = dir.join(POSTERIOR_TOML);
    std::fs::write(&toml_path, t).map_err(io_err(&toml_path))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PosteriorToml {
    posterior: Header,
    parameters: IndexMap<String, Distribution>,
    #[serde(default)]
    correlations: Vec<Correlation>,
    #[serde(default)]
    #[allow(dead_code)]
    summary: IndexMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    method: String,
    #[allow(dead_code)]
    draws: usize,
    #[allow(dead_code)]
    ess: f64,
}

/// Reads a posterior directory written by [`write_posterior`]. Errors name
/// the file, and for the CSV the line and column.
pub fn load_posterior(dir: &Path) -> Result<Posterior, CalibrateError> {
    let toml_path = dir.join(POSTERIOR_TOML);
    let text = std::fs::read_to_string(&toml_path).map_err(io_err(&toml_path))?;
    let meta: PosteriorToml = toml::from_str(&text).map_err(|e| CalibrateError::Posterior {
        path: toml_path.clone(),
        message: e.to_string(),
    })?;
    let csv_path = dir.join(POSTERIOR_CSV);
    let file = std::fs::File::open(&csv_path).map_err(io_err(&csv_path))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let perr = |line: u64, column: &str, message: String| CalibrateError::Parse {
        path: csv_path.clone(),
        line,
        column: column.to_string(),
        message,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| perr(1, "(header)", e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.first().map(String::as_str) != Some("weight") {
        return Err(perr(
            1,
            "(header)",
            "the first column must be `weight`".into(),
        ));
    }
    let names: Vec<String> = header[1..].to_vec();
    let toml_names: Vec<&String> = meta.parameters.keys().collect();
    if names.iter().collect::<Vec<_>>() != toml_names {
        return Err(CalibrateError::Posterior {
            path: toml_path,
            message: format!(
                "[parameters] lists {toml_names:?} but {POSTERIOR_CSV} has columns {names:?}"
            ),
        });
    }
    let mut weights = Vec::new();
    let mut draws = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            perr(line, "(row)", e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let mut vals = Vec::with_capacity(header.len());
        for (field, col) in rec.iter().zip(&header) {
            let v: f64 = field
                .trim()
                .parse()
                .map_err(|_| perr(line, col, format!("`{field}` is not a number")))?;
            if !v.is_finite() || (col == "weight" && v < 0.0) {
                return Err(perr(
                    line,
                    col,
                    format!(
                        "`{field}` must be a finite{} number",
                        if col == "weight" {
                            ", non-negative"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            vals.push(v);
        }
        weights.push(vals[0]);
        draws.push(vals[1..].to_vec());
    }
    let block = ParamBlock {
        params: meta
            .parameters
            .into_iter()
            .map(|(name, dist)| ParamSpec { name, dist })
            .collect(),
        correlations: meta.correlations,
    };
    Posterior::new(&meta.posterior.method, names, draws, weights, block).map_err(|e| match e {
        CalibrateError::PosteriorMismatch(message) => CalibrateError::Posterior {
            path: csv_path.clone(),
            message,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::calibrate::posterior::test_sample;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vtwin-posterior-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn round_trips_exactly_with_odd_names_and_tiny_values() {
        let p = test_sample();
        let dir = scratch("roundtrip");
        write_posterior(&dir, &p).unwrap();
        assert_eq!(load_posterior(&dir).unwrap(), p);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_files_are_named_with_line_and_column() {
        let p = test_sample();
        let dir = scratch("bad");
        write_posterior(&dir, &p).unwrap();
        let csv_path = dir.join(POSTERIOR_CSV);
        let text = std::fs::read_to_string(&csv_path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[3] = lines[3].replacen(",3.0", ",x3", 1);
        std::fs::write(&csv_path, lines.join("\n")).unwrap();
        let e = load_posterior(&dir).unwrap_err().to_string();
        assert!(
            e.contains("posterior.csv, line 4, column `c`: `x3` is not a number"),
            "{e}"
        );
        lines[3] = lines[3].replacen(",x3", ",3.0", 1);
        lines[5] = format!("-1{}", &lines[5][lines[5].find(',').unwrap()..]);
        std::fs::write(&csv_path, lines.join("\n")).unwrap();
        let e = load_posterior(&dir).unwrap_err().to_string();
        assert!(e.contains("line 6, column `weight`"), "{e}");
        let toml_path = dir.join(POSTERIOR_TOML);
        let t = std::fs::read_to_string(&toml_path)
            .unwrap()
            .replace("\n[parameters]\n", "\n[parameters]\nextra = 1.0\n");
        std::fs::write(&toml_path, t).unwrap();
        let e = load_posterior(&dir).unwrap_err().to_string();
        assert!(
            e.contains("posterior.toml") && e.contains("\"extra\""),
            "{e}"
        );
        let e = load_posterior(&dir.join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing/posterior.toml"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
