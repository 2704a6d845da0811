//! Calibration data (`vtwin calibrate --data DATA.csv`): the observation
//! format of data assimilation, parsed by [`crate::methods::assim::obs_file`] —
//! rows of `time, observable, location, value, sd`, where `location` is
//! empty for a scalar observable of the scene (by name), `x;y` for a point
//! probe of a field and `x0;y0;x1;y1` for the mean of a field over a block,
//! in the model's physical units. Records come back sorted by time
//! (stably); each keeps its line for later messages.
//!
//! Owns: what calibration adds to that format (a file must hold at least
//! one row; the location written back as text). Knows nothing of models
//! or plans.

pub use crate::methods::assim::obs_file::{Location, ObsFileError, ObsRecord, parse_obs};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    File(#[from] ObsFileError),
    #[error("{}: the file holds no observations", path.display())]
    Empty { path: PathBuf },
}

/// Reads a data file; an empty one (header only) is an error.
pub fn read_data(path: &Path) -> Result<Vec<ObsRecord>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| ObsFileError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    parse_data(&text, path)
}

/// Parses data text (`path` for messages only); an empty file is an error.
pub fn parse_data(text: &str, path: &Path) -> Result<Vec<ObsRecord>, DataError> {
    let rows = parse_obs(text, path)?;
    if rows.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

/// The location as written in the file: empty, `x;y` or `x0;y0;x1;y1`.
pub fn location_field(loc: &Location) -> String {
    match *loc {
        Location::Scalar => String::new(),
        Location::Probe { x, y } => format!("{x};{y}"),
        Location::Block { x0, y0, x1, y1 } => format!("{x0};{y0};{x1};{y1}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_locations_and_empty_files() {
        let text = "# twin data\nobservable,time,location,value,sd\nburden,7,,12.5,0.5\n\nN,14,3;4.5,0.2,0.01\nN,14,0;0;8;8,0.1,0.02\n";
        let r = parse_data(text, Path::new("d.csv")).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(location_field(&r[0].location), "");
        assert_eq!(location_field(&r[1].location), "3;4.5");
        assert_eq!(location_field(&r[2].location), "0;0;8;8");
        assert_eq!(r[1].line, 5);
        let e = parse_data("time,observable,location,value,sd\n", Path::new("d.csv"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "d.csv: the file holds no observations");
        let e = parse_data(
            "time,observable,location,value,sd\n1,b,,x,1\n",
            Path::new("d.csv"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("d.csv:2") && e.contains("value"), "{e}");
    }
}
