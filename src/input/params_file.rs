//! Stand-alone parameter files (`PARAMS.toml`) for `vtwin design`,
//! `vtwin analyze` and posterior export: a `[parameters]` table in the same
//! form as a scene's, plus optional `[[correlations]]` entries
//! `{ a = "x", b = "y", rho = 0.5 }`. Unknown top-level keys are refused.
//!
//! ```toml
//! [parameters]
//! k = 0.05                                          # fixed
//! D = { dist = "uniform", low = 0.1, high = 0.5 }
//! r = { dist = "lognormal", mu = -3.0, sigma = 0.4 }
//!
//! [[correlations]]
//! a = "D"
//! b = "r"
//! rho = 0.3
//! ```
//!
//! Every error names the file, the line and the key.
//!
//! Owns: reading and writing this file format. The meaning of parameters
//! and distributions lives in [`crate::input::params`].

use crate::input::params::{Correlation, Distribution, ParamBlock, ParamSpec};
use indexmap::IndexMap;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, thiserror::Error)]
pub enum ParamFileError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Syntax and per-parameter errors; toml's message carries the line.
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{}: line {line}, `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    parameters: Spanned<IndexMap<String, Spanned<Distribution>>>,
    #[serde(default)]
    correlations: Vec<Spanned<Correlation>>,
}

/// Reads and validates a parameter file; parameters keep file order.
pub fn load_param_file(path: &Path) -> Result<ParamBlock, ParamFileError> {
    let src = std::fs::read_to_string(path).map_err(|source| ParamFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_param_file(&src, path)
}

/// Parses parameter-file text; `path` only names the source in errors.
pub fn parse_param_file(src: &str, path: &Path) -> Result<ParamBlock, ParamFileError> {
    let form: FileForm = toml::from_str(src).map_err(|e| ParamFileError::Toml {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let invalid =
        |span: std::ops::Range<usize>, key: &str, message: String| ParamFileError::Invalid {
            path: path.to_path_buf(),
            line: line_of(src, span.start),
            key: key.to_string(),
            message,
        };
    let params_span = form.parameters.span();
    let params: Vec<ParamSpec> = form
        .parameters
        .into_inner()
        .into_iter()
        .map(|(name, dist)| ParamSpec {
            name,
            dist: dist.into_inner(),
        })
        .collect();
    if params.is_empty() {
        return Err(invalid(
            params_span,
            "parameters",
            "the table lists no parameter".into(),
        ));
    }
    let mut block = ParamBlock {
        params,
        correlations: Vec::new(),
    };
    // Check each entry alone first, so an error points at its own line.
    let mut pairs = std::collections::HashSet::new();
    for c in &form.correlations {
        let single = ParamBlock {
            params: block.params.clone(),
            correlations: vec![c.get_ref().clone()],
        };
        single
            .correlation_cholesky()
            .map_err(|m| invalid(c.span(), "correlations", m.into()))?;
        let (a, b) = (c.get_ref().a.as_str(), c.get_ref().b.as_str());
        let key = if a < b { (a, b) } else { (b, a) };
        if !pairs.insert(key) {
            return Err(invalid(
                c.span(),
                "correlations",
                format!("correlation between `{a}` and `{b}` given twice"),
            ));
        }
    }
    block.correlations = form
        .correlations
        .iter()
        .map(|c| c.get_ref().clone())
        .collect();
    if let Some(first) = form.correlations.first() {
        block
            .correlation_cholesky()
            .map_err(|m| invalid(first.span(), "correlations", m.into()))?;
    }
    Ok(block)
}

/// 1-based line number of byte offset `at` in `src`.
fn line_of(src: &str, at: usize) -> usize {
    src.as_bytes()[..at.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Renders a block as a parameter file that [`load_param_file`] reads back
/// to an equal block (floats in shortest round-trip form).
pub fn write_param_file(block: &ParamBlock) -> String {
    let num = |v: f64| format!("{v:?}");
    let list = |v: &[f64]| {
        format!(
            "[{}]",
            v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(", ")
        )
    };
    let mut out = String::from("[parameters]\n");
    for p in &block.params {
        let body = match &p.dist {
            Distribution::Fixed(v) => num(*v),
            Distribution::Uniform { low, high } => {
                format!(
                    "{{ dist = \"uniform\", low = {}, high = {} }}",
                    num(*low),
                    num(*high)
                )
            }
            Distribution::LogUniform { low, high } => {
                format!(
                    "{{ dist = \"loguniform\", low = {}, high = {} }}",
                    num(*low),
                    num(*high)
                )
            }
            Distribution::Normal { mean, sd } => {
                format!(
                    "{{ dist = \"normal\", mean = {}, sd = {} }}",
                    num(*mean),
                    num(*sd)
                )
            }
            Distribution::LogNormal { mu, sigma } => {
                format!(
                    "{{ dist = \"lognormal\", mu = {}, sigma = {} }}",
                    num(*mu),
                    num(*sigma)
                )
            }
            Distribution::TruncNormal {
                mean,
                sd,
                low,
                high,
            } => format!(
                "{{ dist = \"truncnormal\", mean = {}, sd = {}, low = {}, high = {} }}",
                num(*mean),
                num(*sd),
                num(*low),
                num(*high)
            ),
            Distribution::Choice { values, weights } => match weights {
                None => format!("{{ dist = \"choice\", values = {} }}", list(values)),
                Some(w) => format!(
                    "{{ dist = \"choice\", values = {}, weights = {} }}",
                    list(values),
                    list(w)
                ),
            },
        };
        let _ = writeln!(out, "{} = {body}", toml_key(&p.name));
    }
    for c in &block.correlations {
        let _ = write!(
            out,
            "\n[[correlations]]\na = {}\nb = {}\nrho = {}\n",
            toml::Value::String(c.a.clone()),
            toml::Value::String(c.b.clone()),
            num(c.rho)
        );
    }
    out
}

/// A bare key where TOML allows one, else a quoted string.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<ParamBlock, ParamFileError> {
        parse_param_file(src, Path::new("p.toml"))
    }

    #[test]
    fn keeps_file_order_and_reads_correlations() {
        let b = parse(
            "[parameters]\nz = 1\nD = { dist = \"uniform\", low = 0.1, high = 0.5 }\n\
             a = { dist = \"normal\", mean = 0, sd = 1 }\n\n[[correlations]]\na = \"D\"\nb = \"a\"\nrho = 0.5\n",
        )
        .unwrap();
        assert_eq!(b.names(), ["z", "D", "a"]);
        assert_eq!(b.params[0].dist, Distribution::Fixed(1.0));
        assert_eq!(
            b.correlations,
            [Correlation {
                a: "D".into(),
                b: "a".into(),
                rho: 0.5
            }]
        );
    }

    /// Errors name the file, the line and the key.
    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse(
            "[parameters]\nD = { dist = \"uniform\", low = 0.1, high = 0.5 }\n[extra]\nx = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("p.toml:") && e.contains("line 3") && e.contains("extra"),
            "{e}"
        );
        let e = parse("[parameters]\nD = 0.2\nr = { dist = \"normal\", mean = 1, sd = -1 }\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("`sd` (-1) must be positive"),
            "{e}"
        );
        let src = "[parameters]\nD = { dist = \"uniform\", low = 0.1, high = 0.5 }\nk = 2\n\n\
                   [[correlations]]\na = \"D\"\nb = \"k\"\nrho = 0.5\n";
        let e = parse(src).unwrap_err().to_string();
        assert_eq!(
            e,
            "p.toml: line 5, `correlations`: correlation names `k`, which is fixed"
        );
        let src = "[parameters]\nx = { dist = \"normal\", mean = 0, sd = 1 }\ny = { dist = \"normal\", mean = 0, sd = 1 }\n\
                   z = { dist = \"normal\", mean = 0, sd = 1 }\n\
                   [[correlations]]\na = \"x\"\nb = \"y\"\nrho = 0.9\n\
                   [[correlations]]\na = \"y\"\nb = \"z\"\nrho = 0.9\n\
                   [[correlations]]\na = \"x\"\nb = \"z\"\nrho = -0.9\n";
        let e = parse(src).unwrap_err().to_string();
        assert!(
            e.contains("line 5") && e.contains("not positive definite"),
            "{e}"
        );
        let e = parse("[parameters]\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("`parameters`"), "{e}");
        let e = parse(
            "[parameters]\nx = 1\n[[correlations]]\na = \"x\"\nb = \"x\"\nrho = 0.1\nc = 2\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 7") && e.contains("`c`"), "{e}");
    }

    /// Writing then reading gives back an equal block, bit for bit.
    #[test]
    fn write_then_load_round_trips() {
        let mut b = ParamBlock::from_pairs([
            ("k".to_string(), Distribution::Fixed(0.1 + 0.2)),
            (
                "D coef".to_string(),
                Distribution::Uniform {
                    low: 1e-7,
                    high: 2.5e20,
                },
            ),
            (
                "r".to_string(),
                Distribution::LogUniform {
                    low: 1e-3,
                    high: 1e-1,
                },
            ),
            (
                "a".to_string(),
                Distribution::Normal {
                    mean: -1.0 / 3.0,
                    sd: 0.2,
                },
            ),
            (
                "b".to_string(),
                Distribution::LogNormal {
                    mu: 0.0,
                    sigma: 0.3,
                },
            ),
            (
                "c".to_string(),
                Distribution::TruncNormal {
                    mean: 1.0,
                    sd: 0.5,
                    low: 0.0,
                    high: 2.0,
                },
            ),
            (
                "s".to_string(),
                Distribution::Choice {
                    values: vec![1.0, 2.0],
                    weights: Some(vec![0.3, 0.7]),
                },
            ),
            (
                "t".to_string(),
                Distribution::Choice {
                    values: vec![-4.0],
                    weights: None,
                },
            ),
        ]);
        b.correlations.push(Correlation {
            a: "a".into(),
            b: "D coef".into(),
            rho: 0.25,
        });
        let text = write_param_file(&b);
        assert_eq!(parse(&text).unwrap(), b, "{text}");
    }
}
