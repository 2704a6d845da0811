//! `vtwin score` as a user runs it: a hand-made forecast table (CSV and
//! Parquet), outcomes and an observation file, with every number checked
//! against a hand computation; and the input errors, each naming the file,
//! line and column, exit 2.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vtwin::output::table::{Table, Values};

/// A fresh folder under the system temp dir, removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("vtwin-score-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn vtwin(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .arg("score")
        .args(args)
        .output()
        .unwrap()
}

const HEADER: &str = "patient,time,observable,status,mean,sd,q05,q25,q50,q75,q95\n";
const ROWS: &[&str] = &[
    "a,10,volume,ok,3,1,1,2,3,4,5",
    "a,12,volume,ok,3,1,1,2,3,4,5",
    "b,10.0,volume,failed,0.5,0.2,0.1,0.3,0.5,0.7,0.9",
    "b,20,volume,failed,0.5,0.2,0.1,0.3,0.5,0.7,0.9",
];
const TRUTH: &str = "patient,time,observable,value\na,10,volume,3.5\na,12,volume,6\nb,10,volume,0.6\nb,30,volume,1.0\n";
const OBS: &str = "patient,time,observable,location,value,sd\n\
a,1,volume,,2,\na,8,volume,,3,0.1\na,9,volume,1;1,100,\na,11,volume,,9,\n\
b,5,volume,,0.45,\nb,10,volume,,0.4,\n";

fn close(v: &serde_json::Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

/// Checks the report of the ROWS/TRUTH/OBS case against hand values.
fn check_report(j: &serde_json::Value) {
    let c = &j["counts"];
    assert_eq!(c["forecast_rows"], 4);
    assert_eq!(c["truth_rows"], 4);
    assert_eq!(c["matched"], 3);
    assert_eq!(c["scored"], 3);
    assert_eq!(c["forecast_without_truth"], 1);
    assert_eq!(c["truth_without_forecast"], 1);
    assert_eq!(c["matched_by_status"]["ok"], 2);
    assert_eq!(c["matched_by_status"]["failed"], 1);
    assert_eq!(c["obs_rows_with_location"], 1);
    let o = &j["overall"];
    // Errors of mean (= q50 here): −0.5, −3, −0.1.
    close(&o["mae_mean"], 3.6 / 3.0);
    close(&o["rmse_q50"], (9.26f64 / 3.0).sqrt());
    // Quantile CRPS per row: 0.38, 2.08, 0.076 (see tests in score::metrics).
    close(&o["crps"], (0.38 + 2.08 + 0.076) / 3.0);
    assert_eq!(o["coverage_50"]["inside"], 2);
    assert_eq!(o["coverage_90"]["inside"], 2);
    let pit: Vec<f64> = o["pit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_f64().unwrap())
        .collect();
    assert_eq!(pit, vec![0.0, 0.0, 0.0, 2.0, 0.0, 1.0]);
    // Last values strictly before: a@10 → 3 (t=8), a@12 → 9 (t=11; the
    // located row at t=9 is not used), b@10 → 0.45 (t=5; t=10 is not before).
    let l = &o["lvcf"];
    assert_eq!(l["n"], 3);
    close(&l["mae"], (0.5 + 3.0 + 0.15) / 3.0);
    close(&j["by_status"]["ok"]["mae_q50"], 1.75);
    close(&j["by_status"]["failed"]["mae_q50"], 0.1);
    assert_eq!(j["patients"][1]["patient"], "b");
    assert_eq!(j["patients"][1]["status"], "failed");
    assert_eq!(j["patients"][1]["forecast_rows"], 2);
    let s = &j["per_patient_summary"];
    close(&s["mae_q50"]["mean"], (1.75 + 0.1) / 2.0);
    close(&s["lvcf_mae"]["median"], (1.75 + 0.15) / 2.0);
}

#[test]
fn scores_a_csv_forecast_against_hand_values() {
    let t = Tmp::new("csv");
    t.write(
        "run/forecast.csv",
        &format!("{HEADER}{}\n", ROWS.join("\n")),
    );
    let truth = t.write("truth.csv", TRUTH);
    let obs = t.write("obs.csv", OBS);
    let json = t.0.join("score.json");
    let out = vtwin(&[
        &t.0.join("run"),
        "--truth".as_ref(),
        &truth,
        "--obs".as_ref(),
        &obs,
        "--json".as_ref(),
        &json,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 matched (3 scored, 0 unscorable); 1 forecasts without an outcome; 1 outcomes without a forecast"), "{stdout}");
    assert!(stdout.contains("[failed]"), "{stdout}");
    let j: serde_json::Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    check_report(&j);
    // The report exists: a second run without --force is refused.
    let again = vtwin(&[
        &t.0.join("run"),
        "--truth".as_ref(),
        &truth,
        "--json".as_ref(),
        &json,
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn scores_a_parquet_forecast_the_same() {
    let t = Tmp::new("pq");
    let cells: Vec<Vec<&str>> = ROWS.iter().map(|r| r.split(',').collect()).collect();
    let text = |k: usize| Values::Str(cells.iter().map(|r| Some(r[k].to_string())).collect());
    let num = |k: usize| Values::F64(cells.iter().map(|r| Some(r[k].parse().unwrap())).collect());
    let mut table = Table::new("forecast");
    for (k, name) in HEADER.trim().split(',').enumerate() {
        table.push_column(
            name,
            if [0, 2, 3].contains(&k) {
                text(k)
            } else {
                num(k)
            },
        );
    }
    fs::create_dir_all(t.0.join("run")).unwrap();
    vtwin::output::io::write_parquet(&t.0.join("run/forecast.parquet"), &table).unwrap();
    let truth = t.write("truth.csv", TRUTH);
    let obs = t.write("obs.csv", OBS);
    let json = t.0.join("score.json");
    let out = vtwin(&[
        &t.0.join("run"),
        "--truth".as_ref(),
        &truth,
        "--obs".as_ref(),
        &obs,
        "--json".as_ref(),
        &json,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    check_report(&j);
}

/// Runs score on a forecast with `rows` and returns (exit code, stderr).
fn fails_with(forecast: &str, truth: &str, obs: Option<&str>) -> (Option<i32>, String) {
    let t = Tmp::new("bad");
    let dir = t.0.join("run");
    t.write("run/forecast.csv", forecast);
    let truth = t.write("truth.csv", truth);
    let mut args: Vec<PathBuf> = vec![dir, "--truth".into(), truth];
    if let Some(o) = obs {
        args.extend(["--obs".into(), t.write("obs.csv", o)]);
    }
    let refs: Vec<&Path> = args.iter().map(|p| p.as_path()).collect();
    let out = vtwin(&refs);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_inputs_name_file_line_and_column() {
    let good = format!("{HEADER}{}\n", ROWS.join("\n"));
    // Text in a number: line 3 of the forecast (header is line 1).
    let bad = good.replacen("a,12,volume,ok,3,", "a,12,volume,ok,three,", 1);
    let (code, err) = fails_with(&bad, TRUTH, None);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("forecast.csv: line 3, column 5 (`mean`): cannot read \"three\" as a number"),
        "{err}"
    );
    // A duplicate row.
    let dup = format!("{good}a,12,volume,ok,3,1,1,2,3,4,5\n");
    let (code, err) = fails_with(&dup, TRUTH, None);
    assert_eq!(code, Some(2));
    assert!(err.contains("forecast.csv: line 6: a second row for patient \"a\", time 12, observable \"volume\" (the first is at line 3)"), "{err}");
    // A missing column.
    let noq = good
        .replace(",q95", "")
        .replace(",5\n", "\n")
        .replace(",0.9\n", "\n");
    let (code, err) = fails_with(&noq, TRUTH, None);
    assert_eq!(code, Some(2));
    assert!(err.contains("forecast.csv: missing column `q95`"), "{err}");
    // Decreasing quantiles.
    let cross = good.replacen("1,2,3,4,5", "1,2,3,2.5,5", 1);
    let (_, err) = fails_with(&cross, TRUTH, None);
    assert!(
        err.contains("line 2, column 10 (`q75`): quantiles must not decrease"),
        "{err}"
    );
    // Truth: text in value, empty value.
    let (code, err) = fails_with(&good, &TRUTH.replace("3.5", "n/a"), None);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("truth.csv: line 2, column 4 (`value`): cannot read \"n/a\" as a number"),
        "{err}"
    );
    let (_, err) = fails_with(&good, &TRUTH.replace(",6\n", ",\n"), None);
    assert!(
        err.contains("truth.csv: line 3, column 4 (`value`): empty"),
        "{err}"
    );
    // Observation file: duplicate (patient, time, observable, location).
    let (code, err) = fails_with(&good, TRUTH, Some(&format!("{OBS}a,8,volume,,3.1,\n")));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("obs.csv: line 8: a second row for patient \"a\", time 8"),
        "{err}"
    );
    // No forecast table in the folder.
    let t = Tmp::new("empty");
    let truth = t.write("truth.csv", TRUTH);
    let out = vtwin(&[&t.0, "--truth".as_ref(), &truth]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no forecast.parquet or forecast.csv"));
}
