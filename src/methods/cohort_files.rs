//! Cohort folders on disk: what `vtwin cohort` and `vtwin merge` write and
//! what `merge`, `select` and `compare` read back.
//!
//! Owns: the folder layout — `patients`, `observations` and `outcomes`
//! tables (`.parquet` or `.csv`), `data_dictionary.json`, `scene.toml` (a
//! byte copy of the scene), `ro-crate-metadata.json` — and reading it back
//! with the column types the dictionary records (so CSV reads back exactly
//! as written). Writes through `crate::output::io`; never simulates, never decides
//! what goes into the tables (`crate::methods::cohort`).

use crate::methods::cohort::crate_meta::{self, FileEntry, Property};
use crate::methods::cohort::merge::ShardInfo;
use crate::methods::cohort::{CohortError, CohortTables};
use crate::output::io::{ColumnType, IoError, TableFormat};
use crate::output::table::Table;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The data tables, in file order.
pub const TABLES: [&str; 3] = ["patients", "observations", "outcomes"];
pub const DICTIONARY: &str = "data_dictionary.json";
/// The scene the cohort was made from, copied byte for byte.
pub const SCENE_COPY: &str = "scene.toml";

#[derive(Debug, thiserror::Error)]
pub enum CohortFilesError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Cohort(#[from] CohortError),
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

fn invalid(path: &Path, message: impl Into<String>) -> CohortFilesError {
    CohortFilesError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A cohort folder read back.
#[derive(Clone, Debug)]
pub struct CohortFolder {
    pub dir: PathBuf,
    pub format: TableFormat,
    pub tables: CohortTables,
    /// Which patients the folder holds (from its RO-Crate).
    pub info: ShardInfo,
    /// The RO-Crate metadata document.
    pub meta: Value,
    /// The data dictionary document.
    pub dictionary: Value,
}

impl CohortFolder {
    /// Whether the folder holds every patient of its cohort.
    pub fn is_whole(&self) -> bool {
        self.info.range == (0..self.info.patients)
    }
}

/// Writes the three tables, the dictionary and the scene copy into `dir`
/// (a run folder being written) and returns the hashed entries of the data
/// files (tables and dictionary, in that order) and of the scene copy.
pub fn write_data(
    dir: &Path,
    tables: &CohortTables,
    fmt: TableFormat,
    dictionary: &Value,
    scene_bytes: &[u8],
) -> Result<(Vec<FileEntry>, FileEntry), CohortFilesError> {
    let mut names = Vec::new();
    for t in tables.tables() {
        let path = crate::output::io::write_table(dir, t, fmt)?;
        names.push(file_name(&path));
    }
    let mut text = serde_json::to_string_pretty(dictionary)
        .map_err(|e| invalid(&dir.join(DICTIONARY), format!("cannot serialise: {e}")))?;
    text.push('\n');
    crate::output::io::write_atomic(&dir.join(DICTIONARY), text.as_bytes())?;
    names.push(DICTIONARY.to_string());
    crate::output::io::write_atomic(&dir.join(SCENE_COPY), scene_bytes)?;
    let results = names
        .iter()
        .map(|n| FileEntry::hash(dir, n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((results, FileEntry::hash(dir, SCENE_COPY)?))
}

/// Writes the patient-file export (`vtwin cohort --export-obs`) as CSV into
/// `dir` and returns the hashed entries of the files, in writing order.
pub fn write_patient_files(
    dir: &Path,
    files: &crate::methods::cohort::export::PatientFiles,
) -> Result<Vec<FileEntry>, CohortFilesError> {
    let mut tables = vec![&files.visits, &files.truth];
    tables.extend(files.split.iter().flatten());
    let mut out = Vec::new();
    for t in tables {
        let path = crate::output::io::write_table(dir, t, TableFormat::Csv)?;
        out.push(FileEntry::hash(dir, &file_name(&path))?);
    }
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Writes `ro-crate-metadata.json` into `dir`.
pub fn write_crate(dir: &Path, meta: &Value) -> Result<(), CohortFilesError> {
    let path = dir.join(crate_meta::METADATA_FILE);
    let mut text = serde_json::to_string_pretty(meta)
        .map_err(|e| invalid(&path, format!("cannot serialise: {e}")))?;
    text.push('\n');
    crate::output::io::write_atomic(&path, text.as_bytes())?;
    Ok(())
}

/// The table format of a cohort folder, from the files present.
pub fn detect_format(dir: &Path) -> Result<TableFormat, CohortFilesError> {
    for fmt in [TableFormat::Parquet, TableFormat::Csv] {
        if dir.join(format!("patients.{}", fmt.extension())).is_file() {
            return Ok(fmt);
        }
    }
    Err(invalid(
        dir,
        "not a cohort folder: no patients.parquet or patients.csv (made by `vtwin cohort`)",
    ))
}

/// Column types of `table` as the dictionary records them, in order.
fn schema(
    dictionary: &Value,
    table: &str,
    path: &Path,
) -> Result<Vec<(String, ColumnType)>, CohortFilesError> {
    let cols = dictionary["columns"]
        .as_array()
        .ok_or_else(|| invalid(path, "no `columns` list"))?;
    let mut out = Vec::new();
    for c in cols.iter().filter(|c| c["table"] == table) {
        let name = c["column"]
            .as_str()
            .ok_or_else(|| invalid(path, "an entry has no `column`"))?;
        let ty = match c["type"].as_str() {
            Some("float64") => ColumnType::F64,
            Some("int64") => ColumnType::I64,
            Some("string") => ColumnType::Str,
            Some("bool") => ColumnType::Bool,
            other => {
                return Err(invalid(
                    path,
                    format!("column `{table}.{name}` has unknown type {other:?}"),
                ));
            }
        };
        out.push((name.to_string(), ty));
    }
    Ok(out)
}

/// Reads one data table of a cohort folder.
fn read_table(
    dir: &Path,
    name: &str,
    fmt: TableFormat,
    dictionary: &Value,
) -> Result<Table, CohortFilesError> {
    let path = dir.join(format!("{name}.{}", fmt.extension()));
    Ok(match fmt {
        TableFormat::Parquet => crate::output::io::read_parquet(&path)?,
        TableFormat::Csv => {
            let s = schema(dictionary, name, &dir.join(DICTIONARY))?;
            let s: Vec<(&str, ColumnType)> = s.iter().map(|(n, t)| (n.as_str(), *t)).collect();
            crate::output::io::read_csv_typed(&path, &s)?
        }
    })
}

/// Reads a cohort folder (tables, dictionary, RO-Crate).
pub fn read(dir: &Path) -> Result<CohortFolder, CohortFilesError> {
    let format = detect_format(dir)?;
    let dict_path = dir.join(DICTIONARY);
    let text = std::fs::read_to_string(&dict_path).map_err(|e| IoError::io(&dict_path, e))?;
    let dictionary: Value =
        serde_json::from_str(&text).map_err(|e| invalid(&dict_path, format!("not JSON: {e}")))?;
    let meta = crate_meta::read(dir)?;
    let info = ShardInfo::from_crate(&meta, &dir.join(crate_meta::METADATA_FILE))?;
    let [p, o, u] = TABLES.map(|t| read_table(dir, t, format, &dictionary));
    Ok(CohortFolder {
        dir: dir.to_path_buf(),
        format,
        tables: CohortTables {
            patients: p?,
            observations: o?,
            outcomes: u?,
        },
        info,
        meta,
        dictionary,
    })
}

/// The parameter settings (`#param-*` PropertyValues) of a crate.
pub fn crate_parameters(meta: &Value) -> Vec<Property> {
    meta["@graph"]
        .as_array()
        .map(|g| {
            g.iter()
                .filter(|e| {
                    e["@type"] == "PropertyValue"
                        && e["@id"].as_str().is_some_and(|i| i.starts_with("#param-"))
                })
                .filter_map(|e| Some(Property::new(e["name"].as_str()?, e["value"].clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// A parameter's distribution as text for the RO-Crate (a fixed value as
/// its number; a distribution as compact JSON in scene-file keys, e.g.
/// `{"dist":"uniform","low":0.03,"high":0.08}`). Text keeps the graph flat.
pub fn describe_distribution(d: &crate::input::params::Distribution) -> String {
    use crate::input::params::Distribution as D;
    use serde_json::json;
    let v = match d {
        D::Fixed(v) => return crate::output::io::csv::format_f64(*v),
        D::Uniform { low, high } => json!({"dist": "uniform", "low": low, "high": high}),
        D::LogUniform { low, high } => json!({"dist": "loguniform", "low": low, "high": high}),
        D::Normal { mean, sd } => json!({"dist": "normal", "mean": mean, "sd": sd}),
        D::LogNormal { mu, sigma } => json!({"dist": "lognormal", "mu": mu, "sigma": sigma}),
        D::TruncNormal {
            mean,
            sd,
            low,
            high,
        } => json!({"dist": "truncnormal", "mean": mean, "sd": sd, "low": low, "high": high}),
        D::Choice { values, weights } => {
            json!({"dist": "choice", "values": values, "weights": weights})
        }
    };
    v.to_string()
}
