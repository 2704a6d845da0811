//! `vtwin report DIR`: one self-contained HTML page of figures for an
//! output folder (or a `vtwin bench --json` file), and each figure as PNG
//! with `--png DIR`. Files are written atomically (temporary name, then
//! rename) and follow the output rule of `io::target`.

use crate::drivers::report;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// An output folder of `vtwin run`, `sweep`, `calibrate`, `twin`,
    /// `assimilate`, `cohort` (or `merge`/`select`), or a `vtwin bench
    /// --json` file. The kind is read from its manifest.
    pub dir: PathBuf,
    /// HTML file to write (default: DIR.html beside the folder, or the
    /// bench file with extension .html). Refused if it exists, unless --force.
    #[arg(long, value_name = "FILE.html")]
    pub out: Option<PathBuf>,
    /// Also write every figure as a PNG into this folder (created if
    /// missing; existing PNGs of the same name need --force).
    #[arg(long, value_name = "DIR")]
    pub png: Option<PathBuf>,
    /// Patients of a patient run (`assimilate` with a `patient` column)
    /// that get their own section, comma-separated (default: the first 12,
    /// failed patients first).
    #[arg(long, value_name = "A,B,…", value_delimiter = ',')]
    pub patients: Option<Vec<String>>,
    /// A `vtwin score --json` file of a patient run's forecasts: adds the
    /// scores (errors against the last value carried forward, coverage,
    /// PIT histogram).
    #[arg(long, value_name = "FILE.json")]
    pub scores: Option<PathBuf>,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
}

/// The default page of `path`: `DIR.html` beside a folder (never inside it:
/// a folder's files are all listed and hashed in its manifest), the bench
/// file with extension `.html`.
pub fn default_out(path: &Path) -> PathBuf {
    let trimmed: PathBuf = path.components().collect();
    if trimmed.is_file() {
        trimmed.with_extension("html")
    } else {
        let mut s = trimmed.into_os_string();
        s.push(".html");
        PathBuf::from(s)
    }
}

/// The line other commands print under their results.
pub fn hint(dir: &Path) -> String {
    format!("view the results: vtwin report {}", dir.display())
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.dir));
    let mut inputs = vec![args.dir.as_path()];
    inputs.extend(args.scores.as_deref());
    super::check_output_file(&out, args.force, &inputs)?;
    let pick = match &args.patients {
        Some(list) => report::patients::Pick::Named(list.clone()),
        None => report::patients::Pick::First,
    };
    let r = report::build_with(&args.dir, &pick, args.scores.as_deref())?;
    let mut pngs = Vec::new();
    if let Some(pdir) = &args.png {
        std::fs::create_dir_all(pdir).with_context(|| format!("creating {}", pdir.display()))?;
        let mut used = std::collections::BTreeSet::new();
        for f in r.figures() {
            let mut name = f.name.clone();
            let mut k = 2;
            while !used.insert(name.clone()) {
                name = format!("{}-{k}", f.name);
                k += 1;
            }
            let path = pdir.join(format!("{name}.png"));
            super::check_output_file(&path, args.force, &inputs)?;
            pngs.push((path, f.svg.clone()));
        }
    }
    crate::output::io::write_atomic(&out, r.html().as_bytes())?;
    for (path, svg) in &pngs {
        let bytes = report::svg_to_png(svg, 1.0)
            .with_context(|| format!("rasterising {}", path.display()))?;
        crate::output::io::write_atomic(path, &bytes)?;
    }
    let n = r.figures().count();
    println!("{}", out.display());
    eprintln!(
        "vtwin report: {} ({}): {n} figures in {}{}",
        args.dir.display(),
        r.kind.name(),
        out.display(),
        match &args.png {
            Some(p) => format!(", {} PNGs in {}", pngs.len(), p.display()),
            None => String::new(),
        }
    );
    Ok(())
}

/// Prints (to stderr, so stdout stays the folder's path) the results
/// summary of a folder a command just wrote and the `vtwin report` line.
/// A summary that cannot be read is reported, never fatal: the outputs are
/// already complete.
pub fn print_summary(command: &str, dir: &Path) {
    match report::summary::lines(dir) {
        Ok(lines) if !lines.is_empty() => {
            eprintln!("vtwin {command}: results");
            for l in lines {
                eprintln!("{l}");
            }
        }
        Ok(_) => {}
        Err(e) => eprintln!("vtwin {command}: no summary: {e}"),
    }
    eprintln!("vtwin {command}: {}", hint(dir));
}
