//! Parquet tables through the `parquet` crate's low-level column API (no
//! Arrow). Every column is OPTIONAL with definition levels, so nulls survive:
//! F64 → DOUBLE, I64 → INT64, Str → BYTE_ARRAY annotated as UTF-8 String
//! (pandas reads it as text, not bytes), Bool → BOOLEAN. Snappy pages, row
//! groups of at most [`ROW_GROUP_ROWS`] rows.
//!
//! Owns: the mapping between [`Table`] and Parquet files. Never decides file
//! names or folders.

use super::IoError;
use crate::output::table::{Table, Values};
use ::parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use ::parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use ::parquet::column::writer::{ColumnWriter, ColumnWriterImpl};
use ::parquet::data_type::{ByteArray, DataType};
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::reader::{FileReader, RowGroupReader};
use ::parquet::file::serialized_reader::SerializedFileReader;
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::schema::types::{ColumnDescriptor, Type};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

/// Largest row group written (2^20 rows): big enough for fast scans, small
/// enough that a reader never has to hold a whole large cohort at once.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Writes `table` to `path` (replacing any file there).
pub fn write_parquet(path: &Path, table: &Table) -> Result<(), IoError> {
    write_parquet_grouped(path, table, ROW_GROUP_ROWS)
}

/// [`write_parquet`] with a chosen row-group size (tests use small ones).
pub fn write_parquet_grouped(path: &Path, table: &Table, group_rows: usize) -> Result<(), IoError> {
    let pq = |source| IoError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let schema = Arc::new(schema_of(table).map_err(pq)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("vtwin {}", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let file = File::create(path).map_err(|e| IoError::io(path, e))?;
    let mut writer = SerializedFileWriter::new(BufWriter::new(file), schema, props).map_err(pq)?;
    let rows = table.rows();
    let group_rows = group_rows.max(1);
    let mut start = 0;
    while start < rows {
        let end = (start + group_rows).min(rows);
        let mut group = writer.next_row_group().map_err(pq)?;
        for column in &table.columns {
            let mut col = group
                .next_column()
                .map_err(pq)?
                .ok_or_else(|| pq(ParquetError::General("schema has fewer columns".into())))?;
            write_column(col.untyped(), &column.values, start..end).map_err(pq)?;
            col.close().map_err(pq)?;
        }
        group.close().map_err(pq)?;
        start = end;
    }
    let buffered = writer.into_inner().map_err(pq)?;
    let file = buffered
        .into_inner()
        .map_err(|e| IoError::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| IoError::io(path, e))
}

fn schema_of(table: &Table) -> Result<Type, ParquetError> {
    let fields = table
        .columns
        .iter()
        .map(|c| {
            let (physical, logical) = match c.values {
                Values::F64(_) => (Physical::DOUBLE, None),
                Values::I64(_) => (Physical::INT64, None),
                Values::Str(_) => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                Values::Bool(_) => (Physical::BOOLEAN, None),
            };
            Type::primitive_type_builder(&c.name, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(logical)
                .build()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
}

fn write_column(
    writer: &mut ColumnWriter<'_>,
    values: &Values,
    rows: std::ops::Range<usize>,
) -> Result<(), ParquetError> {
    match (writer, values) {
        (ColumnWriter::DoubleColumnWriter(w), Values::F64(v)) => {
            write_optional(w, &v[rows], |x| *x)
        }
        (ColumnWriter::Int64ColumnWriter(w), Values::I64(v)) => write_optional(w, &v[rows], |x| *x),
        (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => write_optional(w, &v[rows], |x| *x),
        (ColumnWriter::ByteArrayColumnWriter(w), Values::Str(v)) => {
            write_optional(w, &v[rows], |s| ByteArray::from(s.as_bytes().to_vec()))
        }
        _ => Err(ParquetError::General(
            "column writer does not match the column type".into(),
        )),
    }
}

/// Writes one chunk of a nullable column: definition level 1 for a value, 0
/// for a null; only the present values go into the value stream.
fn write_optional<T: DataType, X>(
    writer: &mut ColumnWriterImpl<'_, T>,
    values: &[Option<X>],
    convert: impl Fn(&X) -> T::T,
) -> Result<(), ParquetError> {
    let defs: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
    let present: Vec<T::T> = values.iter().flatten().map(convert).collect();
    writer.write_batch(&present, Some(&defs), None)?;
    Ok(())
}

/// Reads a flat Parquet file into a [`Table`] named after the file stem.
/// Besides what [`write_parquet`] writes it accepts INT32 (widened to I64)
/// and FLOAT (widened to F64) columns, and REQUIRED columns.
pub fn read_parquet(path: &Path) -> Result<Table, IoError> {
    let pq = |source| IoError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(pq)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let mut columns = Vec::with_capacity(schema.num_columns());
    for descr in schema.columns() {
        columns.push(empty_values(path, descr)?);
    }
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(pq)?;
        let rows = usize::try_from(group.metadata().num_rows()).map_err(|_| {
            IoError::invalid(path, format!("row group {g} has a negative row count"))
        })?;
        for (i, values) in columns.iter_mut().enumerate() {
            let descr = schema.column(i);
            let col_err = |message: String| IoError::Column {
                path: path.to_path_buf(),
                column: descr.name().to_string(),
                message,
            };
            read_chunk(group.as_ref(), i, rows, values).map_err(|e| col_err(e.to_string()))?;
        }
    }
    let name = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let mut table = Table::new(name);
    for (descr, values) in schema.columns().iter().zip(columns) {
        table.push_column(descr.name(), values);
    }
    Ok(table)
}

/// The empty column a Parquet leaf column is read into, or an error for the
/// types and shapes vtwin does not read.
fn empty_values(path: &Path, descr: &ColumnDescriptor) -> Result<Values, IoError> {
    let unsupported = |what: String| IoError::Column {
        path: path.to_path_buf(),
        column: descr.path().string(),
        message: what,
    };
    if descr.max_rep_level() > 0 || descr.path().parts().len() > 1 {
        return Err(unsupported(
            "nested or repeated columns are not supported".into(),
        ));
    }
    Ok(match descr.physical_type() {
        Physical::DOUBLE | Physical::FLOAT => Values::F64(Vec::new()),
        Physical::INT64 | Physical::INT32 => Values::I64(Vec::new()),
        Physical::BOOLEAN => Values::Bool(Vec::new()),
        Physical::BYTE_ARRAY => Values::Str(Vec::new()),
        other => {
            return Err(unsupported(format!(
                "physical type {other} is not supported"
            )));
        }
    })
}

fn read_chunk(
    group: &dyn RowGroupReader,
    i: usize,
    rows: usize,
    out: &mut Values,
) -> Result<(), ParquetError> {
    let max_def = group.metadata().schema_descr().column(i).max_def_level();
    match (group.get_column_reader(i)?, out) {
        (ColumnReader::DoubleColumnReader(mut r), Values::F64(v)) => {
            v.extend(read_optional(&mut r, rows, max_def)?)
        }
        (ColumnReader::FloatColumnReader(mut r), Values::F64(v)) => v.extend(
            read_optional(&mut r, rows, max_def)?
                .into_iter()
                .map(|x| x.map(f64::from)),
        ),
        (ColumnReader::Int64ColumnReader(mut r), Values::I64(v)) => {
            v.extend(read_optional(&mut r, rows, max_def)?)
        }
        (ColumnReader::Int32ColumnReader(mut r), Values::I64(v)) => v.extend(
            read_optional(&mut r, rows, max_def)?
                .into_iter()
                .map(|x| x.map(i64::from)),
        ),
        (ColumnReader::BoolColumnReader(mut r), Values::Bool(v)) => {
            v.extend(read_optional(&mut r, rows, max_def)?)
        }
        (ColumnReader::ByteArrayColumnReader(mut r), Values::Str(v)) => {
            for (row, x) in read_optional(&mut r, rows, max_def)?
                .into_iter()
                .enumerate()
            {
                let s = match x {
                    Some(bytes) => Some(
                        bytes
                            .as_utf8()
                            .map_err(|_| {
                                ParquetError::General(format!(
                                    "value {} is not valid UTF-8",
                                    v.len() + row
                                ))
                            })?
                            .to_string(),
                    ),
                    None => None,
                };
                v.push(s);
            }
        }
        _ => {
            return Err(ParquetError::General(
                "unexpected column reader type".into(),
            ));
        }
    }
    Ok(())
}

/// Reads `rows` records of one flat column chunk, putting nulls back where
/// the definition level is below the column's maximum.
fn read_optional<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    rows: usize,
    max_def: i16,
) -> Result<Vec<Option<T::T>>, ParquetError> {
    let mut defs: Vec<i16> = Vec::with_capacity(rows);
    let mut present: Vec<T::T> = Vec::new();
    let mut read = 0;
    while read < rows {
        let (records, _, _) =
            reader.read_records(rows - read, Some(&mut defs), None, &mut present)?;
        if records == 0 {
            break;
        }
        read += records;
    }
    if read != rows {
        return Err(ParquetError::General(format!(
            "expected {rows} rows in a row group, found {read}"
        )));
    }
    if max_def == 0 {
        return Ok(present.into_iter().map(Some).collect());
    }
    let mut values = present.into_iter();
    defs.iter()
        .map(|&d| {
            if d == max_def {
                values.next().map(Some).ok_or_else(|| {
                    ParquetError::General("fewer values than definition levels".into())
                })
            } else {
                Ok(None)
            }
        })
        .collect()
}
