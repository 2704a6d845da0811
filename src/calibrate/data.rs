//! Calibration data (`vtwin calibrate --data DATA.csv`): rows of
//! `time, observable, location, value, sd` — the observation format of data
//! assimilation. `location` is empty for a scalar observable of the scene
//! (by name), `x;y` for a point probe of a field and `x0;y0;x1;y1` for the
//! mean of a field over a block, in the model's physical units.
//!
//! TO BE REPLACED: the shared observation-file parser
//! (`crate::assim::obs_file`, written for data assimilation) is not on
//! main yet. [`ObsRecord`] and [`Location`] mirror its types field for
//! field, so that once it lands this file shrinks to
//! `pub use crate::assim::obs_file::{Location, ObsRecord};` plus a
//! [`read_data`] that maps its error. Everything downstream takes
//! already-parsed `&[ObsRecord]`.
//!
//! Owns: reading DATA.csv into records (errors name the file, line and
//! column). Knows nothing of models or plans.

use super::CalibrateError;
use std::path::Path;

/// Where an observation was taken.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Location {
    /// A whole-domain observable of the scene (empty location field).
    Scalar,
    /// A point probe at (x, y).
    Probe { x: f64, y: f64 },
    /// The mean over the rectangle [x0, x1] × [y0, y1].
    Block { x0: f64, y0: f64, x1: f64, y1: f64 },
}

impl Location {
    /// The location as written in the file (empty, `x;y`, `x0;y0;x1;y1`).
    pub fn to_field(&self) -> String {
        match *self {
            Location::Scalar => String::new(),
            Location::Probe { x, y } => format!("{x};{y}"),
            Location::Block { x0, y0, x1, y1 } => format!("{x0};{y0};{x1};{y1}"),
        }
    }
}

/// One row of a data file.
#[derive(Clone, Debug, PartialEq)]
pub struct ObsRecord {
    pub time: f64,
    pub observable: String,
    pub location: Location,
    pub value: f64,
    /// Observation error standard deviation (> 0).
    pub sd: f64,
    /// Line of the file the record came from.
    pub line: usize,
}

const COLUMNS: [&str; 5] = ["time", "observable", "location", "value", "sd"];

/// Reads a data file. PLACEHOLDER until `crate::assim::obs_file` lands.
pub fn read_data(path: &Path) -> Result<Vec<ObsRecord>, CalibrateError> {
    let text = std::fs::read_to_string(path).map_err(|source| CalibrateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_data(&text, path)
}

/// Parses data text (`path` for messages only). Blank lines and lines
/// starting with `#` are skipped; the header names the five columns in any
/// order. PLACEHOLDER until `crate::assim::obs_file` lands.
pub fn parse_data(text: &str, path: &Path) -> Result<Vec<ObsRecord>, CalibrateError> {
    let err = |line: usize, column: &str, message: String| CalibrateError::Parse {
        path: path.to_path_buf(),
        line: line as u64,
        column: column.to_string(),
        message,
    };
    let mut order: Option<[usize; 5]> = None;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = t.split(',').map(str::trim).collect();
        let Some(cols) = order else {
            let mut o = [0; 5];
            for (k, name) in COLUMNS.iter().enumerate() {
                o[k] = fields.iter().position(|f| f == name).ok_or_else(|| {
                    err(
                        line,
                        name,
                        format!(
                            "the header lacks column `{name}`; expected {}",
                            COLUMNS.join(", ")
                        ),
                    )
                })?;
            }
            order = Some(o);
            continue;
        };
        if fields.len() != COLUMNS.len() {
            return Err(err(
                line,
                "",
                format!("expected 5 fields, found {}", fields.len()),
            ));
        }
        let f = |k: usize| fields[cols[k]];
        let num = |k: usize| -> Result<f64, CalibrateError> {
            f(k).parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    err(
                        line,
                        COLUMNS[k],
                        format!("{:?} is not a finite number", f(k)),
                    )
                })
        };
        let time = num(0)?;
        let value = num(3)?;
        let sd = num(4)?;
        if sd <= 0.0 {
            return Err(err(line, "sd", format!("sd must be positive, got {sd}")));
        }
        if f(1).is_empty() {
            return Err(err(line, "observable", "empty observable name".into()));
        }
        let loc = f(2);
        let parts: Vec<&str> = if loc.is_empty() {
            vec![]
        } else {
            loc.split(';').map(str::trim).collect()
        };
        let coords = parts
            .iter()
            .map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| {
                err(
                    line,
                    "location",
                    format!("{loc:?} is not x;y or x0;y0;x1;y1 with finite numbers"),
                )
            })?;
        let location = match coords.as_slice() {
            [] => Location::Scalar,
            &[x, y] => Location::Probe { x, y },
            &[x0, y0, x1, y1] => Location::Block { x0, y0, x1, y1 },
            _ => {
                return Err(err(
                    line,
                    "location",
                    format!(
                        "{loc:?} has {} numbers; expected none (scalar), x;y (probe) or x0;y0;x1;y1 (block)",
                        coords.len()
                    ),
                ));
            }
        };
        out.push(ObsRecord {
            time,
            observable: f(1).to_string(),
            location,
            value,
            sd,
            line,
        });
    }
    if order.is_none() {
        return Err(err(
            1,
            "",
            format!("no header row; expected {}", COLUMNS.join(", ")),
        ));
    }
    if out.is_empty() {
        return Err(err(1, "", "the file holds no data rows".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_three_locations() {
        let text = "# twin data\nobservable,time,location,value,sd\nburden,7,,12.5,0.5\n\nN,14,3;4.5,0.2,0.01\nN,14,0;0;8;8,0.1,0.02\n";
        let r = parse_data(text, Path::new("d.csv")).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].location, Location::Scalar);
        assert_eq!(
            (r[0].time, r[0].value, r[0].sd, r[0].line),
            (7.0, 12.5, 0.5, 3)
        );
        assert_eq!(r[1].location, Location::Probe { x: 3.0, y: 4.5 });
        assert_eq!(r[1].line, 5);
        assert_eq!(
            r[2].location,
            Location::Block {
                x0: 0.0,
                y0: 0.0,
                x1: 8.0,
                y1: 8.0
            }
        );
        assert_eq!(r[2].location.to_field(), "0;0;8;8");
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = |t: &str| parse_data(t, Path::new("d.csv")).unwrap_err().to_string();
        let h = "time,observable,location,value,sd\n";
        assert!(e(&format!("{h}1,b,,x,1\n")).contains("d.csv, line 2, column `value`"));
        assert!(e(&format!("{h}1,b,,2,0\n")).contains("column `sd`: sd must be positive"));
        assert!(e(&format!("{h}1,b,1;2;3,2,1\n")).contains("line 2, column `location`"));
        assert!(e(&format!("{h}1,b,,2\n")).contains("expected 5 fields"));
        assert!(e("time,observable,value,sd\n").contains("lacks column `location`"));
        assert!(e(h).contains("no data rows"));
    }
}
