//! Table files: Parquet and CSV round trips, the Parquet schema we promise
//! to pandas/pyarrow, CSV text, and errors that name the file.

mod io_common;

use io_common::{Scratch, assert_same_table};
use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use vtwin::output::io::{self, ColumnType, IoError, TableFormat};
use vtwin::output::table::{Table, Values};

/// Every column type, with a null in each and a non-ASCII string.
fn mixed_table() -> Table {
    let mut t = Table::new("mixed");
    t.push_column(
        "x",
        Values::F64(vec![
            Some(0.1),
            None,
            Some(-2.5e-300),
            Some(f64::NAN),
            Some(f64::INFINITY),
        ]),
    );
    t.push_column(
        "n",
        Values::I64(vec![
            Some(i64::MIN),
            Some(0),
            None,
            Some(42),
            Some(i64::MAX),
        ]),
    );
    t.push_column(
        "label",
        Values::Str(vec![
            Some("Zürich – 東京 🧫".into()),
            None,
            Some("a,b \"quoted\"\nnext line".into()),
            Some("plain".into()),
            Some("x".into()),
        ]),
    );
    t.push_column(
        "ok",
        Values::Bool(vec![Some(true), Some(false), None, Some(true), None]),
    );
    t
}

#[test]
fn parquet_round_trip_keeps_nulls_types_and_text() {
    let dir = Scratch::new("pq");
    let mut table = mixed_table();
    // Parquet, unlike CSV, keeps an empty string apart from a null.
    if let Values::Str(v) = &mut table.columns[2].values {
        v[4] = Some(String::new());
    }
    let path = io::write_table(dir.path(), &table, TableFormat::Parquet).unwrap();
    assert_eq!(path, dir.path().join("mixed.parquet"));
    let back = io::read_parquet(&path).unwrap();
    assert_eq!(back.name, "mixed");
    assert_same_table(&back, &table);
}

#[test]
fn parquet_schema_is_what_pandas_expects() {
    let dir = Scratch::new("pq-schema");
    let path = dir.path().join("mixed.parquet");
    io::write_parquet(&path, &mixed_table()).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let want = [
        ("x", Physical::DOUBLE, None),
        ("n", Physical::INT64, None),
        ("label", Physical::BYTE_ARRAY, Some(LogicalType::String)),
        ("ok", Physical::BOOLEAN, None),
    ];
    assert_eq!(schema.num_columns(), want.len());
    for (i, (name, physical, logical)) in want.into_iter().enumerate() {
        let c = schema.column(i);
        assert_eq!(c.name(), name);
        assert_eq!(c.physical_type(), physical, "{name}");
        assert_eq!(c.logical_type_ref(), logical.as_ref(), "{name}");
        assert_eq!(
            c.self_type().get_basic_info().repetition(),
            Repetition::OPTIONAL,
            "{name}"
        );
        assert_eq!(c.max_def_level(), 1, "{name}");
    }
    let group = reader.metadata().row_group(0);
    assert_eq!(group.num_rows(), 5);
    for c in group.columns() {
        assert_eq!(c.compression(), Compression::SNAPPY);
    }
    // Null counts per column, as readers see them in the statistics.
    let nulls: Vec<Option<u64>> = group
        .columns()
        .iter()
        .map(|c| c.statistics().and_then(|s| s.null_count_opt()))
        .collect();
    assert_eq!(nulls, vec![Some(1), Some(1), Some(1), Some(2)]);
}

#[test]
fn parquet_splits_long_tables_into_row_groups() {
    let dir = Scratch::new("pq-groups");
    let path = dir.path().join("long.parquet");
    let n = 10;
    let mut t = Table::new("long");
    t.push_column(
        "i",
        Values::I64((0..n).map(|i| (i % 4 != 1).then_some(i)).collect()),
    );
    t.push_column(
        "s",
        Values::Str(
            (0..n)
                .map(|i| (i % 3 != 0).then(|| format!("r{i}")))
                .collect(),
        ),
    );
    io::parquet::write_parquet_grouped(&path, &t, 3).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let sizes: Vec<i64> = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    assert_same_table(&io::read_parquet(&path).unwrap(), &t);
    assert_eq!(io::parquet::ROW_GROUP_ROWS, 1_048_576);
}

#[test]
fn parquet_of_an_empty_table_reads_back_empty() {
    let dir = Scratch::new("pq-empty");
    let path = dir.path().join("none.parquet");
    let mut t = Table::new("none");
    t.push_column("x", Values::F64(vec![]));
    t.push_column("s", Values::Str(vec![]));
    io::write_parquet(&path, &t).unwrap();
    assert_same_table(&io::read_parquet(&path).unwrap(), &t);
}

#[test]
fn parquet_errors_name_the_file() {
    let dir = Scratch::new("pq-bad");
    let path = dir.path().join("not.parquet");
    std::fs::write(&path, b"id,value\n1,2\n").unwrap();
    let err = io::read_parquet(&path).unwrap_err();
    assert!(matches!(err, IoError::Parquet { .. }), "{err:?}");
    assert!(err.to_string().contains("not.parquet"), "{err}");
    let missing = io::read_parquet(&dir.path().join("missing.parquet")).unwrap_err();
    assert!(missing.to_string().contains("missing.parquet"), "{missing}");
}

/// Awkward floats: a non-terminating binary fraction, a subnormal, f32
/// values widened to f64, the extremes, -0, NaN and infinities.
fn awkward_floats() -> Vec<Option<f64>> {
    vec![
        Some(0.1),
        Some(1e-310),
        Some(f64::from(0.1f32)),
        Some(f64::from(16_777_217.0f32)),
        Some(f64::from(std::f32::consts::PI)),
        Some(f64::MAX),
        Some(f64::MIN_POSITIVE),
        Some(-0.0),
        Some(3.0),
        None,
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
    ]
}

#[test]
fn csv_round_trip_is_exact_for_awkward_floats() {
    let dir = Scratch::new("csv");
    let floats = awkward_floats();
    let n = floats.len();
    let mut t = Table::new("awkward");
    t.push_column("x", Values::F64(floats));
    t.push_column(
        "whole",
        Values::F64(
            (0..n)
                .map(|i| (i != 2).then_some(i as f64 * 1000.0))
                .collect(),
        ),
    );
    t.push_column(
        "n",
        Values::I64(
            (0..n as i64)
                .map(|i| (i % 5 != 0).then_some(i - 6))
                .collect(),
        ),
    );
    t.push_column(
        "b",
        Values::Bool((0..n).map(|i| (i % 4 != 3).then_some(i % 2 == 0)).collect()),
    );
    t.push_column(
        "s",
        Values::Str(
            (0..n)
                .map(|i| (i != 1).then(|| format!("näme, {i}")))
                .collect(),
        ),
    );
    let path = io::write_table(dir.path(), &t, TableFormat::Csv).unwrap();
    assert_eq!(path, dir.path().join("awkward.csv"));
    // Inferred types come back as written (whole-number floats stay F64).
    assert_same_table(&io::read_csv(&path).unwrap(), &t);
    let schema = [
        ("s", ColumnType::Str),
        ("x", ColumnType::F64),
        ("n", ColumnType::I64),
        ("b", ColumnType::Bool),
    ];
    let typed = io::read_csv_typed(&path, &schema).unwrap();
    assert_eq!(typed.column_names(), vec!["s", "x", "n", "b"]);
    let mut want = Table::new("awkward");
    for (name, _) in schema {
        want.push_column(name, t.column(name).unwrap().clone());
    }
    assert_same_table(&typed, &want);
}

#[test]
fn csv_text_is_plain() {
    let dir = Scratch::new("csv-text");
    let mut t = Table::new("small");
    t.push_column("x", Values::F64(vec![Some(0.1), None, Some(f64::NAN)]));
    t.push_column("n", Values::I64(vec![Some(3), None, Some(-1)]));
    t.push_column(
        "s",
        Values::Str(vec![Some("a,b".into()), None, Some("q\"".into())]),
    );
    t.push_column("b", Values::Bool(vec![Some(true), None, Some(false)]));
    let path = dir.path().join("small.csv");
    io::write_csv(&path, &t).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "x,n,s,b\n0.1,3,\"a,b\",true\n,,,\nNaN,-1,\"q\"\"\",false\n"
    );
}

#[test]
fn csv_errors_name_file_line_and_column() {
    let dir = Scratch::new("csv-bad");
    let path = dir.path().join("obs.csv");
    std::fs::write(&path, "t,value\n0,1.5\n1,oops\n").unwrap();
    let err = io::read_csv_typed(&path, &[("t", ColumnType::I64), ("value", ColumnType::F64)])
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("obs.csv")
            && msg.contains("line 3")
            && msg.contains("`value`")
            && msg.contains("oops"),
        "{msg}"
    );
    let err = io::read_csv_typed(&path, &[("dose", ColumnType::F64)]).unwrap_err();
    assert!(
        err.to_string().contains("obs.csv") && err.to_string().contains("`dose`"),
        "{err}"
    );
    // Inference turns the bad column into text instead of failing.
    let inferred = io::read_csv(&path).unwrap();
    assert_eq!(
        inferred.column("value"),
        Some(&Values::Str(vec![Some("1.5".into()), Some("oops".into())]))
    );
    std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
    let ragged = io::read_csv(&path).unwrap_err();
    assert!(ragged.to_string().contains("obs.csv"), "{ragged}");
}

#[test]
fn table_names_cannot_leave_the_folder() {
    let dir = Scratch::new("names");
    let t = Table::new("../escape").with_f64("x", [1.0]);
    let err = io::write_table(dir.path(), &t, TableFormat::Csv).unwrap_err();
    assert!(
        err.to_string().contains("cannot be used as a file name"),
        "{err}"
    );
}
