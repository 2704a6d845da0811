//! `vtwin twin` and `vtwin assimilate` as a user runs them (the built
//! binary, CPU backend): the files they write, their shapes, exit codes and
//! error messages, and that a failed run leaves no output folder.

#[path = "io_common/mod.rs"]
mod io_common;

mod common;

use common::vtwin;
use io_common::Scratch;
use std::path::Path;
use std::process::Output;
use vtwin::output::io::read_csv;
use vtwin::output::table::Values;

fn ok(args: &[&str]) -> Output {
    let o = vtwin(args);
    assert!(
        o.status.success(),
        "vtwin {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A short Lorenz-63 twin: metrics with finite scores, one cycles row per
/// cycle (`--cycles` counts analyses, burn-in included), observations in
/// the observation-file format, a manifest listing every output.
#[test]
fn twin_writes_metrics_cycles_and_manifest() {
    let dir = Scratch::new("twin-cli-l63");
    let out = dir.path().join("run");
    ok(&[
        "twin",
        "scenes/lorenz63_sakov2012.toml",
        "--backend",
        "cpu",
        "--cycles",
        "120",
        "--out",
        s(&out),
        "--format",
        "csv",
    ]);
    let m = json(&out.join("metrics.json"));
    for k in ["rmse_analysis", "rmse_forecast", "spread", "rmse_free"] {
        assert!(m[k].as_f64().is_some_and(f64::is_finite), "{k}: {}", m[k]);
    }
    assert_eq!(m["cycles"], 120);
    assert_eq!(m["scored_cycles"], 40); // 80 burn-in cycles = 20 time units
    // The filter works, not just runs (bands from Sakov et al. 2012's
    // setting: every variable observed every 0.25 with R = 2I, 10
    // members; over 40 scored cycles seeds 1–3 and 2024 gave RMSE 0.51–1.10
    // against a free run of 7.3–8.5, spread/RMSE 0.60–1.38 and innovation
    // χ²/dof 0.98–1.32):
    let f = |k: &str| m[k].as_f64().unwrap();
    let (rmse, free, spread) = (f("rmse_analysis"), f("rmse_free"), f("spread"));
    // the analysis beats the observations (sd √2) and the free run by 5×;
    assert!(rmse < 2f64.sqrt(), "rmse {rmse}");
    assert!(rmse < 0.2 * free, "rmse {rmse}, free run {free}");
    assert!(f("rmse_forecast") < 0.5 * free, "{m}");
    // a consistent ensemble: spread/error and innovation χ²/dof near 1.
    let ratio = spread / rmse;
    assert!((0.5..=2.0).contains(&ratio), "spread/rmse {ratio}");
    let chi2 = f("innovation_chi2");
    assert!((0.5..=2.0).contains(&chi2), "innovation chi2 {chi2}");
    let cycles = read_csv(&out.join("cycles.csv")).unwrap();
    assert_eq!(cycles.rows(), 120);
    let Some(Values::F64(t)) = cycles.column("time") else {
        panic!()
    };
    assert_eq!(t[0], Some(0.25));
    let obs =
        vtwin::methods::assim::obs_file::read_obs_file(&out.join("observations.csv")).unwrap();
    assert_eq!(obs.len(), 120 * 3);
    let manifest = json(&out.join("manifest.json"));
    let listed: Vec<&str> = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "analysis.csv",
            "cycles.csv",
            "metrics.json",
            "observations.csv"
        ]
    );
    assert_eq!(manifest["assimilation"]["method"], "etkf");
}

/// A filter that degrades (ETKF without inflation on Lorenz-96) still
/// exits 0 with finite metrics.
#[test]
fn degraded_filter_exits_zero_with_finite_metrics() {
    let dir = Scratch::new("twin-cli-degraded");
    let out = dir.path().join("run");
    ok(&[
        "twin",
        "scenes/lorenz96_sakov2008.toml",
        "--backend",
        "cpu",
        "--members",
        "40",
        "--inflation",
        "1.0",
        "--cycles",
        "1400",
        "--out",
        s(&out),
    ]);
    let m = json(&out.join("metrics.json"));
    let (rmse, spread) = (
        m["rmse_analysis"].as_f64().unwrap(),
        m["spread"].as_f64().unwrap(),
    );
    assert!(rmse.is_finite() && spread.is_finite());
    assert!(rmse > 3.0 * spread, "rmse {rmse}, spread {spread}");
}

/// The tissue twin writes every table; `vtwin assimilate` on its
/// observations writes the same tables minus those that need a truth, and
/// its manifest records the observation file's hash.
#[test]
fn tissue_twin_and_assimilate_write_their_tables() {
    let dir = Scratch::new("twin-cli-tissue");
    let (a, b) = (dir.path().join("twin"), dir.path().join("assim"));
    ok(&[
        "twin",
        "scenes/tumour_twin.toml",
        "--backend",
        "cpu",
        "--members",
        "12",
        "--out",
        s(&a),
    ]);
    let mut files: Vec<String> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "analysis.parquet",
            "cycles.parquet",
            "decision.parquet",
            "events.parquet",
            "forecast.parquet",
            "manifest.json",
            "metrics.json",
            "observations.csv",
            "posterior.parquet",
            "posterior_summary.parquet",
            "predictability.parquet",
        ]
    );
    let f = vtwin::output::io::read_parquet(&a.join("forecast.parquet")).unwrap();
    // 3 arms × 16 times (day 40, 42, 49, …, 140) × 4 observables × 5 quantiles.
    assert_eq!(f.rows(), 3 * 16 * 4 * 5);
    let m = json(&a.join("metrics.json"));
    assert!(m["parameters"]["k"]["truth"].as_f64() == Some(0.07));
    assert!(m["forecast"]["coverage90"].as_f64().is_some());
    ok(&[
        "assimilate",
        "scenes/tumour_twin.toml",
        "--obs",
        s(&a.join("observations.csv")),
        "--backend",
        "cpu",
        "--members",
        "12",
        "--out",
        s(&b),
        "--format",
        "csv",
    ]);
    for file in [
        "analysis.csv",
        "cycles.csv",
        "decision.csv",
        "events.csv",
        "forecast.csv",
        "posterior.csv",
        "posterior_summary.csv",
    ] {
        assert!(b.join(file).exists(), "{file}");
    }
    assert!(!b.join("metrics.json").exists() && !b.join("predictability.csv").exists());
    let manifest = json(&b.join("manifest.json"));
    assert_eq!(
        manifest["observations"]["sha256"].as_str().unwrap(),
        vtwin::output::io::sha256_file(&a.join("observations.csv")).unwrap()
    );
    let events = read_csv(&b.join("events.csv")).unwrap();
    let Some(Values::F64(p)) = events.column("probability") else {
        panic!()
    };
    assert!(
        p.iter()
            .all(|v| v.is_some_and(|v| (0.0..=1.0).contains(&v)))
    );
}

/// Bad settings fail before anything is written, with a message naming the
/// flag or the scene key.
#[test]
fn bad_settings_fail_clearly_and_write_nothing() {
    let dir = Scratch::new("twin-cli-bad");
    let out = dir.path().join("run");
    let cases: [(&[&str], &str); 5] = [
        (&["--method", "letkf"], "LETKF needs a localisation radius"),
        (
            &["--method", "pf", "--inflation", "1.02"],
            "takes no inflation",
        ),
        (&["--members", "1"], "at least 2 members"),
        (&["--resample-threshold", "1.5"], "must be in [0, 1]"),
        (
            &["--cycles", "50"],
            "key `assimilation.burn_in`: the burn-in (20) covers every analysis",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec![
            "twin",
            "scenes/lorenz63_sakov2012.toml",
            "--backend",
            "cpu",
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        let o = vtwin(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!out.exists());
    }
    let scene = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/tumour_twin.toml"),
    )
    .unwrap()
    .replace("param = \"D\"", "param = \"Dx\"");
    std::fs::write(&scene, text).unwrap();
    let o = vtwin(&["twin", s(&scene), "--backend", "cpu", "--out", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("key `assimilation.estimate.1.param`") && err.contains("no parameter `Dx`"),
        "{err}"
    );
    assert!(err.contains("bad.toml:"), "{err}");
    assert!(!out.exists());
}
