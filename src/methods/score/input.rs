//! Reading the three inputs of `vtwin score`: the wide forecast table (CSV or
//! Parquet), the truth file and the long observation file (CSV).
//!
//! Owns the tabular reading and every check on the inputs (columns present,
//! numbers that parse, no duplicate keys); each error names the file, the
//! line (CSV; `row N` for Parquet, counting data rows from 1) and the column.
//! Lines starting with `#` and blank lines of a CSV file are skipped. Knows
//! nothing of the metrics.

use super::ScoreError;
use crate::output::table::Values;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One cell as read: CSV fields are text; Parquet keeps its types.
#[derive(Clone, Debug)]
enum Cell {
    Null,
    Text(String),
    Num(f64),
    Int(i64),
}

/// A table read from disk with the position of every row.
struct Source {
    path: PathBuf,
    /// `true`: CSV (positions are file lines); `false`: Parquet (data rows).
    csv: bool,
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
    lines: Vec<u64>,
}

impl Source {
    fn read(path: &Path) -> Result<Source, ScoreError> {
        let is_parquet = path.extension().and_then(|e| e.to_str()) == Some("parquet");
        if is_parquet {
            Self::read_parquet(path)
        } else {
            Self::read_csv(path)
        }
    }

    fn read_csv(path: &Path) -> Result<Source, ScoreError> {
        let err = |source| ScoreError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut rdr = ::csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(::csv::Trim::All)
            .from_path(path)
            .map_err(err)?;
        let header: Vec<String> = rdr
            .headers()
            .map_err(err)?
            .iter()
            .map(String::from)
            .collect();
        let (mut rows, mut lines) = (Vec::new(), Vec::new());
        for record in rdr.records() {
            let record = record.map_err(err)?;
            lines.push(record.position().map_or(0, |p| p.line()));
            rows.push(
                record
                    .iter()
                    .map(|f| {
                        if f.is_empty() {
                            Cell::Null
                        } else {
                            Cell::Text(f.to_string())
                        }
                    })
                    .collect(),
            );
        }
        Ok(Source {
            path: path.to_path_buf(),
            csv: true,
            header,
            rows,
            lines,
        })
    }

    fn read_parquet(path: &Path) -> Result<Source, ScoreError> {
        let table = crate::output::io::read_parquet(path)?;
        let n = table.rows();
        let mut rows = vec![Vec::with_capacity(table.columns.len()); n];
        for c in &table.columns {
            for (r, row) in rows.iter_mut().enumerate() {
                row.push(match &c.values {
                    Values::F64(v) => v[r].map_or(Cell::Null, Cell::Num),
                    Values::I64(v) => v[r].map_or(Cell::Null, Cell::Int),
                    Values::Str(v) => v[r].clone().map_or(Cell::Null, Cell::Text),
                    Values::Bool(v) => v[r].map_or(Cell::Null, |b| Cell::Text(b.to_string())),
                });
            }
        }
        Ok(Source {
            path: path.to_path_buf(),
            csv: false,
            header: table.column_names().iter().map(|s| s.to_string()).collect(),
            rows,
            lines: (1..=n as u64).collect(),
        })
    }

    /// "line 7" (CSV) or "row 7" (Parquet).
    fn at(&self, r: usize) -> String {
        if self.csv {
            format!("line {}", self.lines[r])
        } else {
            format!("row {}", self.lines[r])
        }
    }

    fn column(&self, name: &str) -> Result<usize, ScoreError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ScoreError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
                have: self.header.join(", "),
            })
    }

    fn field_error(&self, r: usize, c: usize, message: String) -> ScoreError {
        ScoreError::Field {
            path: self.path.clone(),
            at: self.at(r),
            column: c + 1,
            name: self.header[c].clone(),
            message,
        }
    }

    fn cell(&self, r: usize, c: usize) -> &Cell {
        self.rows[r].get(c).unwrap_or(&Cell::Null)
    }

    /// A required text field (an integer Parquet column reads as its digits).
    fn text(&self, r: usize, c: usize) -> Result<String, ScoreError> {
        match self.cell(r, c) {
            Cell::Text(s) => Ok(s.clone()),
            Cell::Int(i) => Ok(i.to_string()),
            Cell::Num(x) => {
                Err(self.field_error(r, c, format!("expected text, found the number {x}")))
            }
            Cell::Null => Err(self.field_error(r, c, "empty; a value is required".into())),
        }
    }

    /// An optional number: `None` for an empty field; text that is not a
    /// number is an error.
    fn opt_num(&self, r: usize, c: usize) -> Result<Option<f64>, ScoreError> {
        match self.cell(r, c) {
            Cell::Null => Ok(None),
            Cell::Num(x) => Ok(Some(*x)),
            Cell::Int(i) => Ok(Some(*i as f64)),
            Cell::Text(s) => s
                .parse::<f64>()
                .map(Some)
                .map_err(|_| self.field_error(r, c, format!("cannot read {s:?} as a number"))),
        }
    }

    /// A required finite number.
    fn finite(&self, r: usize, c: usize) -> Result<f64, ScoreError> {
        match self.opt_num(r, c)? {
            Some(x) if x.is_finite() => Ok(x),
            Some(x) => Err(self.field_error(r, c, format!("{x} is not a finite number"))),
            None => Err(self.field_error(r, c, "empty; a number is required".into())),
        }
    }

    fn duplicate(&self, r: usize, first: usize, key: &Key) -> ScoreError {
        ScoreError::Duplicate {
            path: self.path.clone(),
            at: self.at(r),
            key: key.describe(),
            first: self.at(first),
        }
    }
}

/// The key rows are matched on: patient, time and observable. Times match
/// exactly (as parsed `f64`; `-0` is `0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub patient: String,
    time_bits: u64,
    pub observable: String,
}

impl Key {
    pub fn new(patient: String, time: f64, observable: String) -> Key {
        let t = if time == 0.0 { 0.0 } else { time };
        Key {
            patient,
            time_bits: t.to_bits(),
            observable,
        }
    }
    pub fn time(&self) -> f64 {
        f64::from_bits(self.time_bits)
    }
    pub fn describe(&self) -> String {
        format!(
            "patient {:?}, time {}, observable {:?}",
            self.patient,
            self.time(),
            self.observable
        )
    }
}

/// One forecast row. Numbers are `None` when the field was empty.
#[derive(Clone, Debug)]
pub struct ForecastRow {
    pub key: Key,
    pub status: String,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    /// Values at [`Forecast::levels`], in that order.
    pub quantiles: Vec<Option<f64>>,
    /// Where the row came from ("line 7"), for messages.
    pub at: String,
}

/// The forecast table.
#[derive(Clone, Debug)]
pub struct Forecast {
    pub path: PathBuf,
    /// Quantile levels in increasing order, from columns `qDIGITS`
    /// (`q05` → 0.05, `q50` → 0.5, `q025` → 0.025).
    pub levels: Vec<f64>,
    pub rows: Vec<ForecastRow>,
}

/// The quantile levels `vtwin score` needs: q05, q25, q50, q75, q95.
pub const REQUIRED_LEVELS: [&str; 5] = ["q05", "q25", "q50", "q75", "q95"];

/// The level of a column named `q` followed by digits: the digits read as a
/// decimal fraction. `None` for other names and for `q0`/`q00`.
pub fn quantile_level(name: &str) -> Option<f64> {
    let digits = name.strip_prefix('q')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let level = format!("0.{digits}").parse::<f64>().ok()?;
    (level > 0.0).then_some(level)
}

/// `FORECAST_DIR/forecast.parquet`, else `FORECAST_DIR/forecast.csv`; a
/// file path is taken as it is.
pub fn forecast_path(dir: &Path) -> Result<PathBuf, ScoreError> {
    if dir.is_file() {
        return Ok(dir.to_path_buf());
    }
    for name in ["forecast.parquet", "forecast.csv"] {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(ScoreError::NoForecast {
        dir: dir.to_path_buf(),
    })
}

/// Reads and checks the forecast table: columns `patient, time, observable,
/// status, mean, sd` and at least q05, q25, q50, q75, q95; unique keys;
/// quantiles non-decreasing where present.
pub fn read_forecast(path: &Path) -> Result<Forecast, ScoreError> {
    let src = Source::read(path)?;
    let cols: Vec<usize> = ["patient", "time", "observable", "status", "mean", "sd"]
        .iter()
        .map(|c| src.column(c))
        .collect::<Result<_, _>>()?;
    for q in REQUIRED_LEVELS {
        src.column(q)?;
    }
    let mut qcols: Vec<(f64, usize)> = src
        .header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| quantile_level(h).map(|l| (l, i)))
        .filter(|(l, _)| *l < 1.0)
        .collect();
    qcols.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(w) = qcols.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ScoreError::Columns {
            path: src.path.clone(),
            message: format!(
                "columns `{}` and `{}` name the same quantile level; keep one",
                src.header[w[0].1], src.header[w[1].1]
            ),
        });
    }
    let mut rows = Vec::with_capacity(src.rows.len());
    let mut seen: HashMap<Key, usize> = HashMap::new();
    for r in 0..src.rows.len() {
        let key = Key::new(
            src.text(r, cols[0])?,
            src.finite(r, cols[1])?,
            src.text(r, cols[2])?,
        );
        if let Some(&first) = seen.get(&key) {
            return Err(src.duplicate(r, first, &key));
        }
        seen.insert(key.clone(), r);
        let quantiles: Vec<Option<f64>> = qcols
            .iter()
            .map(|&(_, c)| src.opt_num(r, c))
            .collect::<Result<_, _>>()?;
        let present: Vec<(usize, f64)> = quantiles
            .iter()
            .enumerate()
            .filter_map(|(k, q)| q.filter(|x| x.is_finite()).map(|x| (k, x)))
            .collect();
        if let Some(w) = present.windows(2).find(|w| w[1].1 < w[0].1) {
            let c = qcols[w[1].0].1;
            return Err(src.field_error(
                r,
                c,
                format!(
                    "quantiles must not decrease: {} = {} is below {} = {}",
                    src.header[c], w[1].1, src.header[qcols[w[0].0].1], w[0].1
                ),
            ));
        }
        let sd = src.opt_num(r, cols[5])?;
        if let Some(x) = sd.filter(|x| *x < 0.0) {
            return Err(src.field_error(r, cols[5], format!("negative sd {x}")));
        }
        rows.push(ForecastRow {
            key,
            status: src.text(r, cols[3])?,
            mean: src.opt_num(r, cols[4])?,
            sd,
            quantiles,
            at: src.at(r),
        });
    }
    Ok(Forecast {
        path: path.to_path_buf(),
        levels: qcols.iter().map(|&(l, _)| l).collect(),
        rows,
    })
}

/// The truth file `patient, time, observable, value`: key → (value, line).
pub fn read_truth(path: &Path) -> Result<IndexMap<Key, f64>, ScoreError> {
    let src = Source::read(path)?;
    let cols: Vec<usize> = ["patient", "time", "observable", "value"]
        .iter()
        .map(|c| src.column(c))
        .collect::<Result<_, _>>()?;
    let mut out: IndexMap<Key, f64> = IndexMap::with_capacity(src.rows.len());
    for r in 0..src.rows.len() {
        let key = Key::new(
            src.text(r, cols[0])?,
            src.finite(r, cols[1])?,
            src.text(r, cols[2])?,
        );
        let value = src.finite(r, cols[3])?;
        if let Some(first) = out.get_index_of(&key) {
            return Err(src.duplicate(r, first, &key));
        }
        out.insert(key, value);
    }
    Ok(out)
}

/// Scalar observations per (patient, observable): (time, value) sorted by
/// time, for the last-value-carried-forward baseline.
#[derive(Clone, Debug, Default)]
pub struct ObsSeries {
    pub series: HashMap<(String, String), Vec<(f64, f64)>>,
    /// Rows with a non-empty `location` (not used by the baseline).
    pub located_rows: usize,
    pub rows: usize,
}

impl ObsSeries {
    /// The last observed value strictly before `time`, if any.
    pub fn last_before(&self, patient: &str, observable: &str, time: f64) -> Option<f64> {
        let s = self
            .series
            .get(&(patient.to_string(), observable.to_string()))?;
        let k = s.partition_point(|&(t, _)| t < time);
        (k > 0).then(|| s[k - 1].1)
    }
}

/// The long observation file `patient, time, observable, location, value,
/// sd` (`location` and `sd` optional here; `sd` is not used). Only rows with
/// an empty location enter the baseline. Two rows with the same patient,
/// time, observable and location are an error.
pub fn read_obs(path: &Path) -> Result<ObsSeries, ScoreError> {
    let src = Source::read(path)?;
    let cols: Vec<usize> = ["patient", "time", "observable", "value"]
        .iter()
        .map(|c| src.column(c))
        .collect::<Result<_, _>>()?;
    let loc = src.header.iter().position(|h| h == "location");
    let mut seen: HashMap<(Key, String), usize> = HashMap::new();
    let mut out = ObsSeries {
        rows: src.rows.len(),
        ..Default::default()
    };
    for r in 0..src.rows.len() {
        let key = Key::new(
            src.text(r, cols[0])?,
            src.finite(r, cols[1])?,
            src.text(r, cols[2])?,
        );
        let value = src.finite(r, cols[3])?;
        let location = match loc {
            Some(c) => match src.cell(r, c) {
                Cell::Null => String::new(),
                _ => src.text(r, c)?,
            },
            None => String::new(),
        };
        if let Some(&first) = seen.get(&(key.clone(), location.clone())) {
            return Err(src.duplicate(r, first, &key));
        }
        seen.insert((key.clone(), location.clone()), r);
        if !location.is_empty() {
            out.located_rows += 1;
            continue;
        }
        let t = key.time();
        out.series
            .entry((key.patient, key.observable))
            .or_default()
            .push((t, value));
    }
    for s in out.series.values_mut() {
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_levels_read_digits_as_a_fraction() {
        assert_eq!(quantile_level("q05"), Some(0.05));
        assert_eq!(quantile_level("q50"), Some(0.5));
        assert_eq!(quantile_level("q025"), Some(0.025));
        assert_eq!(quantile_level("q975"), Some(0.975));
        assert_eq!(quantile_level("q00"), None);
        assert_eq!(quantile_level("q"), None);
        assert_eq!(quantile_level("qx"), None);
        assert_eq!(quantile_level("mean"), None);
    }

    #[test]
    fn last_value_is_strictly_before_the_time() {
        let mut o = ObsSeries::default();
        o.series.insert(
            ("p".into(), "v".into()),
            vec![(1.0, 10.0), (3.0, 30.0), (5.0, 50.0)],
        );
        assert_eq!(o.last_before("p", "v", 1.0), None);
        assert_eq!(o.last_before("p", "v", 1.5), Some(10.0));
        assert_eq!(o.last_before("p", "v", 5.0), Some(30.0));
        assert_eq!(o.last_before("p", "v", 9.0), Some(50.0));
        assert_eq!(o.last_before("q", "v", 9.0), None);
        assert_eq!(o.last_before("p", "w", 9.0), None);
    }
}
