//! Observation files (also used for calibration and cohort data): CSV with
//! the columns `time, observable, location, value, sd`, in any order, named
//! in a header row. `location` is empty for a scalar (e.g. tumour burden),
//! `x;y` for a point probe and `x0;y0;x1;y1` for a block average, in the
//! model's physical units. Times may be irregular; records come back sorted
//! by time, stably (equal times keep file order). Lines starting with `#`
//! and blank lines are skipped.
//!
//! Patient observation files (`vtwin assimilate`, docs/patients.md) may add a
//! text column `patient` and leave `sd` empty (the scene's observation-error
//! model then applies); [`read_patient_obs`] reads them, [`read_obs_file`]
//! refuses both.
//!
//! Owns parsing and validation of these files; every error names the file,
//! the line and the column. Knows nothing of models or observation operators.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::obs::Site;

message_error!(
    /// A `location` cell of an observation file that does not parse.
    pub LocationError
);

/// Where an observation was taken.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Location {
    /// A whole-domain reduction (empty location field).
    Scalar,
    /// A point probe at (x, y).
    Probe { x: f64, y: f64 },
    /// The average over the rectangle [x0, x1] × [y0, y1] (coarse imaging).
    Block { x0: f64, y0: f64, x1: f64, y1: f64 },
}

impl Location {
    /// Site for localisation: the probe point, the block centre, or `Global`.
    pub fn site(&self) -> Site {
        match *self {
            Location::Scalar => Site::Global,
            Location::Probe { x, y } => Site::At([x, y]),
            Location::Block { x0, y0, x1, y1 } => Site::At([0.5 * (x0 + x1), 0.5 * (y0 + y1)]),
        }
    }
}

/// One row of an observation file.
#[derive(Clone, Debug, PartialEq)]
pub struct ObsRecord {
    pub time: f64,
    pub observable: String,
    pub location: Location,
    pub value: f64,
    /// Observation error standard deviation (> 0).
    pub sd: f64,
    /// Line of the file the record came from (for later error messages).
    pub line: usize,
}

/// Errors reading an observation file.
#[derive(Debug, Error)]
pub enum ObsFileError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: header: {reason}")]
    Header {
        file: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{file}:{line}: {reason}")]
    Row {
        file: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{file}:{line}: column {column} ({name}): {reason}")]
    Field {
        file: PathBuf,
        line: usize,
        column: usize,
        name: &'static str,
        reason: String,
    },
}

const COLUMNS: [&str; 6] = ["time", "observable", "location", "value", "sd", "patient"];

/// Index of the optional `patient` column in `COLUMNS`.
const PATIENT: usize = 5;

/// One row of a patient observation file.
#[derive(Clone, Debug, PartialEq)]
pub struct PatientRecord {
    /// The `patient` column ("" when the file has none).
    pub patient: String,
    /// `sd` as given; `None` when left empty (then `record.sd` is NaN and the
    /// scene's observation-error model decides).
    pub sd: Option<f64>,
    pub record: ObsRecord,
}

/// Reads and validates an observation file.
pub fn read_obs_file(path: &Path) -> Result<Vec<ObsRecord>, ObsFileError> {
    parse_obs(&read_text(path)?, path)
}

fn read_text(path: &Path) -> Result<String, ObsFileError> {
    std::fs::read_to_string(path).map_err(|source| ObsFileError::Io {
        file: path.to_path_buf(),
        source,
    })
}

/// Reads a patient observation file: an optional `patient` column, `sd` may
/// be empty. Returns the records sorted by time (stably) and whether the
/// file has a `patient` column.
pub fn read_patient_obs(path: &Path) -> Result<(Vec<PatientRecord>, bool), ObsFileError> {
    parse_patient_obs(&read_text(path)?, path)
}

/// Parses patient observation CSV text (see [`read_patient_obs`]).
pub fn parse_patient_obs(
    text: &str,
    file: &Path,
) -> Result<(Vec<PatientRecord>, bool), ObsFileError> {
    parse_rows(text, file, true)
}

/// Parses observation CSV text; `file` is used in error messages only.
pub fn parse_obs(text: &str, file: &Path) -> Result<Vec<ObsRecord>, ObsFileError> {
    let (rows, _) = parse_rows(text, file, false)?;
    Ok(rows.into_iter().map(|r| r.record).collect())
}

/// Parses either form; `patients` allows the `patient` column and empty `sd`.
fn parse_rows(
    text: &str,
    file: &Path,
    patients: bool,
) -> Result<(Vec<PatientRecord>, bool), ObsFileError> {
    let row_err = |line: usize, reason: String| ObsFileError::Row {
        file: file.to_path_buf(),
        line,
        reason,
    };
    let mut order: Option<[usize; 6]> = None;
    let mut width = 0;
    let mut records = Vec::new();
    // Line by line, so that line numbers count blank and comment lines too
    // (a record never spans lines in this format).
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let rec =
            split_csv_line(trimmed).map_err(|e| row_err(line, format!("malformed CSV: {e}")))?;
        let Some(cols) = order else {
            let o = header_order(&rec, file, line, patients)?;
            width = rec.len();
            order = Some(o);
            continue;
        };
        if rec.len() != width {
            return Err(row_err(
                line,
                format!("expected {width} fields, found {}", rec.len()),
            ));
        }
        let field = |k: usize| (cols[k] + 1, COLUMNS[k], &rec[cols[k]]);
        let sd_empty = patients && field(4).2.is_empty();
        let patient = if cols[PATIENT] == usize::MAX {
            String::new()
        } else {
            let p = field(PATIENT).2;
            if p.is_empty() {
                return Err(ObsFileError::Field {
                    file: file.to_path_buf(),
                    line,
                    column: cols[PATIENT] + 1,
                    name: "patient",
                    reason: "empty patient".into(),
                });
            }
            p.to_string()
        };
        let record = parse_row(field, file, line, sd_empty)?;
        records.push(PatientRecord {
            patient,
            sd: (!sd_empty).then_some(record.sd),
            record,
        });
    }
    let Some(cols) = order else {
        return Err(ObsFileError::Header {
            file: file.to_path_buf(),
            line: 1,
            reason: format!("missing header row (expected: {})", COLUMNS[..5].join(", ")),
        });
    };
    records.sort_by(|a, b| a.record.time.total_cmp(&b.record.time));
    Ok((records, cols[PATIENT] != usize::MAX))
}

/// Splits one CSV line into trimmed fields (RFC 4180 quoting allowed).
fn split_csv_line(line: &str) -> Result<csv::StringRecord, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(line.as_bytes());
    let mut rec = csv::StringRecord::new();
    reader.read_record(&mut rec)?;
    Ok(rec)
}

/// Position of each expected column in the header.
fn header_order(
    rec: &csv::StringRecord,
    file: &Path,
    line: usize,
    patients: bool,
) -> Result<[usize; 6], ObsFileError> {
    let err = |reason: String| ObsFileError::Header {
        file: file.to_path_buf(),
        line,
        reason,
    };
    let known = if patients { 6 } else { 5 };
    let mut order = [usize::MAX; 6];
    for (pos, name) in rec.iter().enumerate() {
        let key = name.to_ascii_lowercase();
        let Some(k) = COLUMNS[..known].iter().position(|c| *c == key) else {
            return Err(err(format!(
                "unknown column {:?} (expected: {})",
                name,
                COLUMNS[..known].join(", ")
            )));
        };
        if order[k] != usize::MAX {
            return Err(err(format!("column {:?} appears twice", COLUMNS[k])));
        }
        order[k] = pos;
    }
    if let Some(k) = order[..5].iter().position(|&p| p == usize::MAX) {
        return Err(err(format!("missing column {:?}", COLUMNS[k])));
    }
    Ok(order)
}

/// Parses one data row; `field(k)` gives (1-based column, name, text) of the
/// k-th expected column. `sd_empty`: `sd` was left empty (patient files),
/// kept as NaN.
fn parse_row<'a>(
    field: impl Fn(usize) -> (usize, &'static str, &'a str),
    file: &Path,
    line: usize,
    sd_empty: bool,
) -> Result<ObsRecord, ObsFileError> {
    let fail = |k: usize, reason: String| {
        let (column, name, _) = field(k);
        ObsFileError::Field {
            file: file.to_path_buf(),
            line,
            column,
            name,
            reason,
        }
    };
    let number = |k: usize| -> Result<f64, ObsFileError> {
        let text = field(k).2;
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(fail(k, format!("{text:?} is not finite"))),
            Err(_) => Err(fail(k, format!("{text:?} is not a number"))),
        }
    };
    let time = number(0)?;
    let observable = field(1).2.to_string();
    if observable.is_empty() {
        return Err(fail(1, "empty observable name".into()));
    }
    let location = parse_location(field(2).2).map_err(|reason| fail(2, reason.into()))?;
    let value = number(3)?;
    let sd = if sd_empty { f64::NAN } else { number(4)? };
    if sd <= 0.0 {
        return Err(fail(4, format!("sd must be > 0, got {sd}")));
    }
    Ok(ObsRecord {
        time,
        observable,
        location,
        value,
        sd,
        line,
    })
}

/// `""` → Scalar, `x;y` → Probe, `x0;y0;x1;y1` → Block (x1 > x0, y1 > y0).
fn parse_location(text: &str) -> Result<Location, LocationError> {
    if text.is_empty() {
        return Ok(Location::Scalar);
    }
    let parts: Vec<&str> = text.split(';').map(str::trim).collect();
    let mut v = [0.0; 4];
    for (slot, part) in v.iter_mut().zip(&parts) {
        *slot = match part.parse::<f64>() {
            Ok(x) if x.is_finite() => x,
            _ => {
                return Err(format!("{part:?} in location {text:?} is not a finite number").into());
            }
        };
    }
    match parts.len() {
        2 => Ok(Location::Probe { x: v[0], y: v[1] }),
        4 if v[2] > v[0] && v[3] > v[1] => Ok(Location::Block {
            x0: v[0],
            y0: v[1],
            x1: v[2],
            y1: v[3],
        }),
        4 => Err(format!("block {text:?} needs x1 > x0 and y1 > y0").into()),
        k => Err(format!(
            "location {text:?} has {k} coordinates; expected empty, x;y or x0;y0;x1;y1"
        )
        .into()),
    }
}

/// Consecutive records with the same time, as (time, records), in time order.
pub fn group_by_time(records: &[ObsRecord]) -> Vec<(f64, &[ObsRecord])> {
    records
        .chunk_by(|a, b| a.time == b.time)
        .map(|chunk| (chunk[0].time, chunk))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ObsRecord>, ObsFileError> {
        parse_obs(text, Path::new("obs.csv"))
    }

    /// The error message of a failing parse.
    fn error_of(text: &str) -> String {
        match parse(text) {
            Ok(r) => panic!("expected an error, parsed {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_all_location_kinds_and_sorts_stably() {
        let text = "\
# tumour twin observations
time, observable, location, value, sd
2.5, burden, , 120, 5
1.0, oxygen, 10;20, 38.0, 1.5

1.0, cells, 0;0;50;25, 0.4, 0.05
0.5, burden, , 100, 5
";
        let recs = parse(text).unwrap();
        let times: Vec<f64> = recs.iter().map(|r| r.time).collect();
        assert_eq!(times, vec![0.5, 1.0, 1.0, 2.5]);
        // Equal times keep file order: oxygen (line 4) before cells (line 6).
        assert_eq!(recs[1].observable, "oxygen");
        assert_eq!(recs[1].location, Location::Probe { x: 10.0, y: 20.0 });
        assert_eq!(recs[1].line, 4);
        assert_eq!(recs[2].observable, "cells");
        assert_eq!(recs[2].line, 6);
        assert_eq!(
            recs[2].location,
            Location::Block {
                x0: 0.0,
                y0: 0.0,
                x1: 50.0,
                y1: 25.0
            }
        );
        assert_eq!(recs[2].location.site(), Site::At([25.0, 12.5]));
        assert_eq!(recs[0].location, Location::Scalar);
        assert_eq!(recs[0].location.site(), Site::Global);
        let groups = group_by_time(&recs);
        assert_eq!(
            groups.iter().map(|g| (g.0, g.1.len())).collect::<Vec<_>>(),
            vec![(0.5, 1), (1.0, 2), (2.5, 1)]
        );
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let recs = parse("sd,value,time,location,observable\n0.1,3,7,1;2,probe\n").unwrap();
        assert_eq!(recs[0].time, 7.0);
        assert_eq!(recs[0].value, 3.0);
        assert_eq!(recs[0].sd, 0.1);
        assert_eq!(recs[0].observable, "probe");
    }

    /// Every error names the file, the line and (for a field) the column.
    #[test]
    fn errors_name_file_line_and_column() {
        let head = "time,observable,location,value,sd\n";
        let cases = [
            (
                format!("{head}1,a,,2,0.1\n1,a,,2,0\n"),
                "obs.csv:3: column 5 (sd): sd must be > 0",
            ),
            (
                format!("{head}1,a,,2,-1\n"),
                "obs.csv:2: column 5 (sd): sd must be > 0",
            ),
            (
                format!("{head}x,a,,2,1\n"),
                "obs.csv:2: column 1 (time): \"x\" is not a number",
            ),
            (
                format!("{head}1,a,,nan,1\n"),
                "obs.csv:2: column 4 (value): \"nan\" is not finite",
            ),
            (
                format!("{head}1,,,2,1\n"),
                "obs.csv:2: column 2 (observable): empty",
            ),
            (
                format!("{head}1,a,1;2;3,2,1\n"),
                "obs.csv:2: column 3 (location): location \"1;2;3\" has 3",
            ),
            (
                format!("{head}1,a,5;0;1;1,2,1\n"),
                "obs.csv:2: column 3 (location): block",
            ),
            (
                format!("{head}1,a,1;y,2,1\n"),
                "obs.csv:2: column 3 (location): \"y\"",
            ),
            (
                format!("{head}\n# c\n1,a,,2\n"),
                "obs.csv:4: expected 5 fields, found 4",
            ),
            (
                "time,observable,location,value\n".to_string(),
                "obs.csv:1: header: missing column \"sd\"",
            ),
            (
                "time,observable,place,value,sd\n".to_string(),
                "obs.csv:1: header: unknown column \"place\"",
            ),
            (
                "time,time,location,value,sd\n".to_string(),
                "obs.csv:1: header: column \"time\" appears twice",
            ),
            (String::new(), "obs.csv:1: header: missing header row"),
        ];
        for (text, want) in cases {
            let got = error_of(&text);
            assert!(
                got.starts_with(want),
                "for {text:?}\n got: {got}\nwant: {want}…"
            );
        }
    }

    /// Patient files: an optional text `patient` column and an empty `sd`
    /// (kept as `None`); plain observation files refuse both.
    #[test]
    fn patient_files_take_a_patient_column_and_empty_sd() {
        let text = "patient,time,observable,location,value,sd\nB,2,v,,0.5,\nA,1,v,,0.4,0.1\n";
        let (recs, has) = parse_patient_obs(text, Path::new("obs.csv")).unwrap();
        assert!(has);
        assert_eq!(recs[0].patient, "A");
        assert_eq!(recs[0].sd, Some(0.1));
        assert_eq!((recs[1].patient.as_str(), recs[1].sd), ("B", None));
        assert!(recs[1].record.sd.is_nan());
        let (recs, has) = parse_patient_obs(
            "time,observable,location,value,sd\n1,v,,2,\n",
            Path::new("o.csv"),
        )
        .unwrap();
        assert!(!has && recs[0].patient.is_empty() && recs[0].sd.is_none());
        let e = parse_patient_obs(
            "patient,time,observable,location,value,sd\n,1,v,,2,1\n",
            Path::new("o.csv"),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("o.csv:2: column 1 (patient): empty patient"),
            "{e}"
        );
        assert!(error_of(text).starts_with("obs.csv:1: header: unknown column \"patient\""));
        let e = error_of("time,observable,location,value,sd\n1,v,,2,\n");
        assert!(
            e.starts_with("obs.csv:2: column 5 (sd): \"\" is not a number"),
            "{e}"
        );
    }

    #[test]
    fn reading_a_missing_file_names_it() {
        let err = read_obs_file(Path::new("/nonexistent/obs.csv")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/obs.csv: cannot read")
        );
    }
}
