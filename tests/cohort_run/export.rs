//! `vtwin cohort --export-obs` on the real engine, then `vtwin score` on the
//! exported split: the files are hashed and listed, `visits.csv` is exactly
//! the observed rows of each patient's assigned arm, and an oracle forecast
//! (the noiseless value plus the known measurement noise) scores as a
//! calibrated forecast should, within binomial tolerances.

use crate::common::{cohort_cli, scene_path, tmp, vtwin};
use serde_json::Value;
use statrs::distribution::{ContinuousCDF, Normal};
use std::collections::HashMap;
use vtwin::methods::cohort::crate_meta;
use vtwin::output::io::read_csv;
use vtwin::output::table::{Table, Values};

const PATIENTS: u64 = 400;

fn text(t: &Table, c: &str) -> Vec<String> {
    match t.column(c).unwrap_or_else(|| panic!("{}: no {c}", t.name)) {
        Values::Str(v) => v.iter().map(|x| x.clone().unwrap_or_default()).collect(),
        Values::I64(v) => v.iter().map(|x| x.unwrap().to_string()).collect(),
        Values::Bool(v) => v.iter().map(|x| x.unwrap().to_string()).collect(),
        Values::F64(v) => v
            .iter()
            .map(|x| x.map(|x| x.to_string()).unwrap_or_default())
            .collect(),
    }
}

fn num(t: &Table, c: &str) -> Vec<f64> {
    match t.column(c).unwrap_or_else(|| panic!("{}: no {c}", t.name)) {
        Values::F64(v) => v.iter().map(|x| x.unwrap()).collect(),
        Values::I64(v) => v.iter().map(|x| x.unwrap() as f64).collect(),
        _ => panic!("{c} is not numeric"),
    }
}

#[test]
fn exported_visits_are_the_assigned_arms_observations_and_score_as_an_oracle() {
    let dir = tmp("export");
    let out = dir.join("c");
    let o = cohort_cli(
        &scene_path(),
        PATIENTS,
        &out,
        &["--export-obs", "--format", "csv"],
    );
    assert!(o.stderr.contains("exported"), "{}", o.stderr);
    assert_eq!(crate_meta::verify(&out).unwrap(), Vec::<String>::new());
    vtwin::output::io::rundir::verify_outputs(&out).unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    for f in [
        "visits.csv",
        "visits_truth.csv",
        "visits_fit.csv",
        "visits_heldout.csv",
        "forecast_at.csv",
    ] {
        assert!(
            manifest["outputs"].to_string().contains(f),
            "{f} not in the manifest"
        );
    }
    let counts = &manifest["export_obs"];

    // visits.csv = the non-missing rows of observations.csv under the
    // patient's assigned arm, in the same order (patient, observable, visit:
    // this scene has no jitter).
    let obs = read_csv(&out.join("observations.csv")).unwrap();
    let patients = read_csv(&out.join("patients.csv")).unwrap();
    let arm_of: HashMap<String, String> = text(&patients, "patient_id")
        .into_iter()
        .zip(text(&patients, "assigned_arm"))
        .collect();
    let (op, oa, ot, oo, ov, om) = (
        text(&obs, "patient_id"),
        text(&obs, "arm"),
        num(&obs, "time"),
        text(&obs, "observable"),
        text(&obs, "value"),
        text(&obs, "missing"),
    );
    let want: Vec<(String, f64, String, String)> = (0..obs.rows())
        .filter(|&i| arm_of[&op[i]] == oa[i] && om[i] == "false")
        .map(|i| (op[i].clone(), ot[i], oo[i].clone(), ov[i].clone()))
        .collect();
    let visits = read_csv(&out.join("visits.csv")).unwrap();
    assert_eq!(
        visits.column_names(),
        ["patient", "time", "observable", "location", "value", "sd"]
    );
    let got: Vec<(String, f64, String, String)> = (0..visits.rows())
        .map(|i| {
            (
                text(&visits, "patient")[i].clone(),
                num(&visits, "time")[i],
                text(&visits, "observable")[i].clone(),
                text(&visits, "value")[i].clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(counts["visits"], want.len());

    // Oracle forecast of burden at the held-out visits: N(x, 2²), the
    // noiseless value and the scene's additive noise (sd 2).
    let truth = read_csv(&out.join("visits_truth.csv")).unwrap();
    let x: HashMap<(String, u64, String), f64> = (0..truth.rows())
        .map(|i| {
            let k = (
                text(&truth, "patient")[i].clone(),
                num(&truth, "time")[i].to_bits(),
                text(&truth, "observable")[i].clone(),
            );
            (k, num(&truth, "value")[i])
        })
        .collect();
    let at = read_csv(&out.join("forecast_at.csv")).unwrap();
    let n01 = Normal::standard();
    let levels = [0.05, 0.25, 0.5, 0.75, 0.95];
    let mut csv = String::from("patient,time,observable,status,mean,sd,q05,q25,q50,q75,q95\n");
    let (ap, atm, ao) = (
        text(&at, "patient"),
        text(&at, "time"),
        text(&at, "observable"),
    );
    let mut burden_rows = 0;
    for i in 0..at.rows() {
        if ao[i] != "burden" {
            continue;
        }
        burden_rows += 1;
        let mean = x[&(ap[i].clone(), num(&at, "time")[i].to_bits(), ao[i].clone())];
        let q: Vec<String> = levels
            .iter()
            .map(|&t| (mean + 2.0 * n01.inverse_cdf(t)).to_string())
            .collect();
        csv.push_str(&format!(
            "{},{},burden,ok,{mean},2,{}\n",
            ap[i],
            atm[i],
            q.join(",")
        ));
    }
    let fc = dir.join("fc");
    std::fs::create_dir_all(&fc).unwrap();
    std::fs::write(fc.join("forecast.csv"), csv).unwrap();
    let json = dir.join("score.json");
    let s = vtwin(&[
        "score",
        fc.to_str().unwrap(),
        "--truth",
        out.join("visits_heldout.csv").to_str().unwrap(),
        "--obs",
        out.join("visits_fit.csv").to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let r: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let c = &r["counts"];
    let n = burden_rows as f64;
    // About 0.74 of 400 burden series keep 4 of 5 visits (MCAR 0.2): ~590 rows.
    assert!(n > 450.0, "{n}");
    assert_eq!(c["scored"], burden_rows);
    // The held-out visible_area rows have no forecast: counted, not dropped.
    assert_eq!(c["truth_without_forecast"], at.rows() - burden_rows);
    assert_eq!(c["forecast_without_truth"], 0);
    let o = &r["overall"];
    // Calibrated by construction: coverage within 4 binomial sd.
    let cov = |k: &str, p: f64| {
        let f = o[k]["fraction"].as_f64().unwrap();
        assert!((f - p).abs() < 4.0 * (p * (1.0 - p) / n).sqrt(), "{k}: {f}");
    };
    cov("coverage_50", 0.5);
    cov("coverage_90", 0.9);
    // MAE of the median = E|2 z| = 2·√(2/π) ≈ 1.596; sd of |2z| ≈ 1.206.
    let mae = o["mae_q50"].as_f64().unwrap();
    assert!((mae - 1.596).abs() < 4.0 * 1.206 / n.sqrt(), "{mae}");
    // Every held-out visit follows at least two fitted ones.
    assert_eq!(o["lvcf"]["without_previous"], 0);

    // The export covers the whole cohort only.
    let refused = vtwin(&[
        "cohort",
        scene_path().to_str().unwrap(),
        "--patients",
        "10",
        "--shard",
        "0/2",
        "--export-obs",
        "--backend",
        "cpu",
        "--out",
        dir.join("s").to_str().unwrap(),
    ]);
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("--export-obs writes whole-cohort files"),
        "{}",
        refused.stderr
    );
}
