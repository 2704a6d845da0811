//! `vtwin compare A B`: drift and bias report between two cohorts, or a
//! cohort and a reference table (CSV or Parquet): per-variable KS statistic
//! and standardised mean difference, subgroup sizes by categorical
//! variable; printed as text, and written as JSON with `--json FILE`.

use crate::methods::cohort::compare::{self, CompareReport, Layout};
use crate::methods::cohort_files;
use crate::output::table::Table;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Which cohort table a reference table stands for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhichTable {
    /// One row per patient: covariates, parameters, arm, plausibility.
    Patients,
    /// Long table of measurements (compared per observable, arm and visit).
    Observations,
    /// One row per patient and arm (compared per arm).
    Outcomes,
}

impl WhichTable {
    fn layout(self) -> Layout<'static> {
        match self {
            WhichTable::Patients => compare::PATIENTS,
            WhichTable::Observations => compare::OBSERVATIONS,
            WhichTable::Outcomes => compare::OUTCOMES,
        }
    }
    fn name(self) -> &'static str {
        match self {
            WhichTable::Patients => "patients",
            WhichTable::Observations => "observations",
            WhichTable::Outcomes => "outcomes",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// A cohort folder (from `vtwin cohort` or `vtwin merge`) or a reference
    /// table (.csv or .parquet).
    pub a: PathBuf,
    /// Second cohort folder or reference table.
    pub b: PathBuf,
    /// When a side is a table: the cohort table it is compared with (its
    /// columns are matched by name; rows are grouped as that table's are).
    #[arg(long, value_enum, default_value = "patients")]
    pub table: WhichTable,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Replace an existing --json file (never one of the compared inputs).
    #[arg(long)]
    pub force: bool,
}

enum Side {
    Cohort(Box<cohort_files::CohortFolder>),
    Table(Table),
}

fn load(path: &Path) -> Result<Side> {
    if path.is_dir() {
        return Ok(Side::Cohort(Box::new(
            cohort_files::read(path)
                .with_context(|| format!("reading cohort {}", path.display()))?,
        )));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    Ok(Side::Table(match ext {
        "parquet" => crate::output::io::read_parquet(path)?,
        "csv" => crate::output::io::read_csv(path)?,
        _ => bail!(
            "{}: not a cohort folder, a .csv or a .parquet file",
            path.display()
        ),
    }))
}

fn pick(side: &Side, which: WhichTable) -> &Table {
    match side {
        Side::Table(t) => t,
        Side::Cohort(c) => match which {
            WhichTable::Patients => &c.tables.patients,
            WhichTable::Observations => &c.tables.observations,
            WhichTable::Outcomes => &c.tables.outcomes,
        },
    }
}

pub fn run(args: &CompareArgs) -> Result<()> {
    if let Some(path) = &args.json {
        super::check_output_file(path, args.force, &[&args.a, &args.b])?;
    }
    let (a, b) = (load(&args.a)?, load(&args.b)?);
    let (na, nb) = (args.a.display().to_string(), args.b.display().to_string());
    let report = match (&a, &b) {
        (Side::Cohort(x), Side::Cohort(y)) => {
            compare::compare_cohorts(&na, &x.tables, &nb, &y.tables)
        }
        _ => {
            let mut r = CompareReport {
                a: na,
                b: nb,
                ..Default::default()
            };
            let (ta, tb) = (pick(&a, args.table), pick(&b, args.table));
            let shared = ta
                .column_names()
                .iter()
                .filter(|c| tb.column(c).is_some())
                .count();
            if shared == 0 {
                bail!(
                    "{} and {} have no column in common (compared as `{}` tables; see --table)",
                    args.a.display(),
                    args.b.display(),
                    args.table.name()
                );
            }
            let mut ta = ta.clone();
            ta.name = args.table.name().into();
            compare::compare_tables(&mut r, &ta, tb, &args.table.layout());
            r
        }
    };
    print!("{}", compare::render_text(&report));
    if let Some(path) = &args.json {
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        crate::output::io::write_atomic(path, text.as_bytes())?;
        eprintln!("vtwin compare: report written to {}", path.display());
    }
    Ok(())
}
