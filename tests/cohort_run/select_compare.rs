//! `vtwin select` (virtual-population selection against a target sample)
//! and `vtwin compare` (drift and bias report) on engine-made cohorts.

use crate::common::{cohort_cli, read, scene_path, tmp, vtwin, vtwin_ok};
use serde_json::Value;
use vtwin::core::rng::uniform_f64;
use vtwin::input::params::norm_ppf;
use vtwin::methods::cohort::columns;
use vtwin::methods::cohort_files;

fn json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&read(path)).expect("valid JSON")
}

#[test]
fn select_picks_plausible_patients_that_fit_the_target_better() {
    let dir = tmp("select");
    let cohort = dir.join("c");
    cohort_cli(&scene_path(), 300, &cohort, &[]);
    let folder = cohort_files::read(&cohort).unwrap();
    let plausible = columns::bools(&folder.tables.patients, "plausible")
        .unwrap()
        .iter()
        .filter(|b| **b == Some(true))
        .count();
    // Target: baseline burden narrower than the cohort's and shifted up.
    let target = dir.join("target.csv");
    let mut text = String::from("subject,burden\n");
    for i in 0..200u32 {
        let z = norm_ppf(uniform_f64(77, 0, i, 0, 0));
        text.push_str(&format!("s{i},{}\n", 39.0 + 1.5 * z));
    }
    std::fs::write(&target, text).unwrap();
    let out = dir.join("sel");
    let o = vtwin_ok(&[
        "select",
        cohort.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
        "--observable",
        "burden",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.stderr.contains("acceptance rate"), "{}", o.stderr);
    let report = json(&out.join("selection.json"));
    let r = &report["result"];
    let (n_p, n_s) = (
        r["n_plausible"].as_u64().unwrap() as usize,
        r["n_selected"].as_u64().unwrap() as usize,
    );
    // Plausible patients minus those whose baseline was missing (MCAR 0.2).
    assert!(
        n_p <= plausible && n_p as f64 > 0.6 * plausible as f64,
        "{n_p} of {plausible}"
    );
    assert!(n_s >= 20 && n_s < n_p, "{n_s} of {n_p}");
    assert!((r["acceptance_rate"].as_f64().unwrap() - n_s as f64 / n_p as f64).abs() < 1e-12);
    let (after, before) = (
        r["ks"]["statistic"].as_f64().unwrap(),
        r["ks_plausible"]["statistic"].as_f64().unwrap(),
    );
    assert!(after < before, "KS after {after} vs before {before}");
    let sel = vtwin::output::io::read_parquet(&out.join("selection.parquet")).unwrap();
    assert_eq!(sel.rows(), n_p);
    let picked = columns::bools(&sel, "selected").unwrap();
    assert_eq!(picked.iter().filter(|b| **b == Some(true)).count(), n_s);

    // A shard is not a whole cohort.
    let shard = dir.join("shard");
    cohort_cli(&scene_path(), 300, &shard, &["--shard", "0/2"]);
    let o = vtwin(&[
        "select",
        shard.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
        "--observable",
        "burden",
        "--out",
        dir.join("sel2").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("vtwin merge"), "{}", o.stderr);
}

fn numeric<'a>(r: &'a Value, table: &str, variable: &str) -> Vec<&'a Value> {
    r["numeric"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["table"] == table && x["variable"] == variable)
        .collect()
}

#[test]
fn compare_reports_drift_between_cohorts_and_none_against_itself() {
    let dir = tmp("compare");
    let (a, b) = (dir.join("a"), dir.join("b"));
    cohort_cli(&scene_path(), 120, &a, &[]);
    cohort_cli(&scene_path(), 120, &b, &["--seed", "99"]);
    let self_json = dir.join("self.json");
    vtwin_ok(&[
        "compare",
        a.to_str().unwrap(),
        a.to_str().unwrap(),
        "--json",
        self_json.to_str().unwrap(),
    ]);
    let r = json(&self_json);
    for x in r["numeric"].as_array().unwrap() {
        assert!(x["ks"] == 0.0 || x["ks"].is_null(), "{x}");
        assert!(x["smd"] == 0.0 || x["smd"].is_null(), "{x}");
    }
    let ab = dir.join("ab.json");
    let o = vtwin_ok(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
        ab.to_str().unwrap(),
    ]);
    assert!(
        o.stdout.contains("KS") && o.stdout.contains("SMD"),
        "{}",
        o.stdout
    );
    let r = json(&ab);
    let k = numeric(&r, "patients", "k");
    assert_eq!(k.len(), 1);
    let ks = k[0]["ks"].as_f64().unwrap();
    assert!(ks > 0.0 && ks < 1.0, "{ks}");
    assert_eq!(k[0]["n_a"], 120);
    let sex: Vec<&Value> = r["subgroups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["table"] == "patients" && x["variable"] == "sex")
        .collect();
    assert_eq!(sex.len(), 2);
    let total: u64 = sex.iter().map(|x| x["n_a"].as_u64().unwrap()).sum();
    assert_eq!(total, 120);
    assert!(!numeric(&r, "observations", "value").is_empty());

    // A cohort against a reference table of ages: only `age` is compared.
    let reference = dir.join("registry.csv");
    let mut text = String::from("age\n");
    for i in 0..150u32 {
        text.push_str(&format!(
            "{}\n",
            70.0 + 8.0 * norm_ppf(uniform_f64(5, 0, i, 0, 0))
        ));
    }
    std::fs::write(&reference, text).unwrap();
    let rj = dir.join("ref.json");
    vtwin_ok(&[
        "compare",
        a.to_str().unwrap(),
        reference.to_str().unwrap(),
        "--json",
        rj.to_str().unwrap(),
    ]);
    let r = json(&rj);
    let age = numeric(&r, "patients", "age");
    assert_eq!(r["numeric"].as_array().unwrap().len(), 1);
    // Cohort ages ~ N(58, 12) truncated vs registry N(70, 8): SMD about −1.
    let smd = age[0]["smd"].as_f64().unwrap();
    assert!(smd < -0.7 && smd > -1.5, "{smd}");
}
