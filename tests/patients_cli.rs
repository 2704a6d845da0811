//! Patient runs of `vtwin assimilate` (docs/patients.md) as a user runs
//! them (the built binary, CPU backend): many patients in one engine, an
//! empty `sd` taking the scene's error model, censoring, forecasts at
//! requested times from the predictive distribution, per-patient failure,
//! and the bad inputs of issue 11, each refused with file and line.

#[path = "io_common/mod.rs"]
mod io_common;

mod common;

use common::vtwin;
use io_common::Scratch;
use rand::RngExt;
use std::path::Path;
use std::process::Output;
use vtwin::methods::assim::gauss::std_normal;
use vtwin::methods::assim::testbed::stream;
use vtwin::output::io::read_csv;
use vtwin::output::table::{Table, Values};

const SCENE: &str = "tests/data/patients_growth.toml";
const LOD: f64 = 0.01;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(args: &[&str]) -> Output {
    vtwin(args)
}

fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "vtwin {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `vtwin assimilate SCENE --obs OBS --forecast-at AT` on the CPU backend
/// with CSV tables into `out`; fails the test unless it succeeds.
fn forecast(scene: &str, obs: &Path, at: &Path, out: &Path) -> Output {
    forecast_with(scene, obs, at, out, &[])
}

/// [`forecast`] with `extra` arguments.
fn forecast_with(scene: &str, obs: &Path, at: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "assimilate",
        scene,
        "--obs",
        s(obs),
        "--forecast-at",
        s(at),
        "--backend",
        "cpu",
        "--format",
        "csv",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

fn strs(t: &Table, c: &str) -> Vec<String> {
    match t.column(c) {
        Some(Values::Str(v)) => v.iter().map(|x| x.clone().unwrap_or_default()).collect(),
        other => panic!("column {c}: {other:?}"),
    }
}

fn nums(t: &Table, c: &str) -> Vec<f64> {
    match t.column(c) {
        Some(Values::F64(v)) => v.iter().map(|x| x.unwrap_or(f64::NAN)).collect(),
        Some(Values::I64(v)) => v.iter().map(|x| x.unwrap_or(0) as f64).collect(),
        other => panic!("column {c}: {other:?}"),
    }
}

/// A synthetic cohort with known truth, as the scene describes it: rate
/// r ~ U(−0.4, 0.3), initial volume the mean of 3 sites N(0.5, 0.01),
/// 4–8 visits at irregular times (gaps U(0.5, 2)), each missed with
/// probability 0.1, readings v·exp(0.1 z) reported as 0 at or below the
/// detection limit. The last two visits of every patient are held out.
struct Cohort {
    obs: String,
    at: String,
    /// (patient, time, true reading) of the held-out visits.
    truth: Vec<(String, f64, f64)>,
    /// The last reading kept, per held-out row (last value carried forward).
    last: Vec<f64>,
}

fn cohort(n: usize, seed: u64) -> Cohort {
    let mut rng = stream(seed, 77);
    let u = |rng: &mut rand::rngs::StdRng| rng.random::<f64>();
    let mut obs = String::from("patient,time,observable,location,value,sd\n");
    let mut at = String::from("patient,time,observable\n");
    let (mut truth, mut last) = (Vec::new(), Vec::new());
    for p in 0..n {
        let name = format!("P{p:04}");
        let r = -0.4 + 0.7 * u(&mut rng);
        let v0: f64 = (0..3)
            .map(|_| 0.5 + 0.1 * std_normal(&mut rng))
            .sum::<f64>()
            / 3.0;
        let k = 4 + (u(&mut rng) * 5.0) as usize;
        let mut t = 0.5 + u(&mut rng);
        let mut visits = Vec::new();
        for _ in 0..k {
            let missed = u(&mut rng) < 0.1;
            let y = v0 * (r * t).exp() * (0.1 * std_normal(&mut rng)).exp();
            if !missed || visits.is_empty() {
                visits.push((t, if y <= LOD { 0.0 } else { y }));
            }
            t += 0.5 + 1.5 * u(&mut rng);
        }
        if visits.len() < 3 {
            continue;
        }
        let kept = visits.len() - 2;
        for &(t, y) in &visits[..kept] {
            obs.push_str(&format!("{name},{t:.4},volume,,{y:.6e},\n"));
        }
        for &(t, y) in &visits[kept..] {
            at.push_str(&format!("{name},{t:.4},volume\n"));
            truth.push((name.clone(), format!("{t:.4}").parse().unwrap(), y));
            last.push(visits[kept - 1].1);
        }
    }
    Cohort {
        obs,
        at,
        truth,
        last,
    }
}

/// ≥ 1,000 synthetic patients with known truth: the predictive intervals
/// are calibrated (90 % covers 85–95 %, 50 % covers 40–60 % of held-out
/// readings) and the predictive mean beats last value carried forward.
#[test]
fn synthetic_cohort_forecasts_are_calibrated_and_beat_carry_forward() {
    let dir = Scratch::new("patients-cohort");
    let c = cohort(1000, 2026);
    let (obs, at, out) = (
        dir.path().join("obs.csv"),
        dir.path().join("at.csv"),
        dir.path().join("run"),
    );
    std::fs::write(&obs, &c.obs).unwrap();
    std::fs::write(&at, &c.at).unwrap();
    let o = forecast(SCENE, &obs, &at, &out);
    let err = String::from_utf8_lossy(&o.stderr);
    let f = read_csv(&out.join("forecast.csv")).unwrap();
    assert_eq!(f.rows(), c.truth.len(), "one row per request");
    assert!(strs(&f, "status").iter().all(|s| s == "ok"), "{err}");
    let sc = score(&c, &f);
    eprintln!("synthetic cohort: {sc:?}");
    assert!(
        (0.85..=0.95).contains(&sc.c90),
        "90 % interval covers {}",
        sc.c90
    );
    assert!(
        (0.40..=0.60).contains(&sc.c50),
        "50 % interval covers {}",
        sc.c50
    );
    assert!(
        sc.mae < sc.mae_lvcf,
        "MAE {} vs LVCF {}",
        sc.mae,
        sc.mae_lvcf
    );
    assert!(sc.zeros > 0, "the cohort has censored held-out readings");
}

/// Scores of a forecast table against a cohort's held-out readings.
#[derive(Debug)]
struct Scores {
    n: usize,
    /// Held-out readings reported as 0 (at or below the detection limit).
    zeros: usize,
    c90: f64,
    c50: f64,
    /// MAE of the predictive mean and of q50.
    mae: f64,
    mae_q50: f64,
    mae_lvcf: f64,
}

/// Every held-out reading counts, zeros included: the predictive
/// distribution is that of the reading as reported (0 at or below the
/// detection limit), so a reported 0 is covered when q05 (q25) is 0.
fn score(c: &Cohort, f: &Table) -> Scores {
    let (pat, time) = (strs(f, "patient"), nums(f, "time"));
    let (mean, q05, q25, q50, q75, q95) = (
        nums(f, "mean"),
        nums(f, "q05"),
        nums(f, "q25"),
        nums(f, "q50"),
        nums(f, "q75"),
        nums(f, "q95"),
    );
    assert_eq!(f.rows(), c.truth.len(), "one row per request");
    let mut sc = Scores {
        n: 0,
        zeros: 0,
        c90: 0.0,
        c50: 0.0,
        mae: 0.0,
        mae_q50: 0.0,
        mae_lvcf: 0.0,
    };
    for (i, (p, t, y)) in c.truth.iter().enumerate() {
        assert_eq!((&pat[i], time[i]), (p, *t), "rows follow the request file");
        sc.n += 1;
        sc.zeros += (*y == 0.0) as usize;
        sc.c90 += (q05[i] <= *y && *y <= q95[i]) as usize as f64;
        sc.c50 += (q25[i] <= *y && *y <= q75[i]) as usize as f64;
        sc.mae += (mean[i] - y).abs();
        sc.mae_q50 += (q50[i] - y).abs();
        sc.mae_lvcf += (c.last[i] - y).abs();
    }
    let n = sc.n as f64;
    sc.c90 /= n;
    sc.c50 /= n;
    sc.mae /= n;
    sc.mae_q50 /= n;
    sc.mae_lvcf /= n;
    sc
}

/// `--population-prior leave-one-out` on 1,000 synthetic patients whose
/// rates come from U(−0.4, 0.3) while the scene's prior is the much
/// broader U(−1.5, 1.5): each patient's prior learned from the others'
/// first-pass posteriors makes the forecasts better than the scene prior
/// (lower MAE of the mean and of q50) and keeps them calibrated (90 %
/// covers 85–95 %); `pooled` also beats the scene prior and differs from
/// leave-one-out.
#[test]
fn leave_one_out_population_prior_beats_the_scene_prior() {
    let dir = Scratch::new("patients-population");
    let c = cohort(1000, 4711);
    let scene = dir.path().join("broad.toml");
    std::fs::write(
        &scene,
        std::fs::read_to_string(SCENE).unwrap().replace(
            "r = { dist = \"uniform\", low = -0.4, high = 0.3 }",
            "r = { dist = \"uniform\", low = -1.5, high = 1.5 }",
        ),
    )
    .unwrap();
    let (obs, at) = (dir.path().join("obs.csv"), dir.path().join("at.csv"));
    std::fs::write(&obs, &c.obs).unwrap();
    std::fs::write(&at, &c.at).unwrap();
    let table = |tag: &str, kind: &str| {
        let out = dir.path().join(tag);
        forecast_with(s(&scene), &obs, &at, &out, &["--population-prior", kind]);
        read_csv(&out.join("forecast.csv")).unwrap()
    };
    let none = score(&c, &table("none", "none"));
    let loo_table = table("loo", "leave-one-out");
    let loo = score(&c, &loo_table);
    eprintln!("scene prior: {none:?}\nleave-one-out: {loo:?}");
    assert!(
        loo.mae < none.mae,
        "MAE {} vs {} with the scene prior",
        loo.mae,
        none.mae
    );
    assert!(
        loo.mae_q50 < none.mae_q50,
        "q50 MAE {} vs {}",
        loo.mae_q50,
        none.mae_q50
    );
    assert!(
        (0.85..=0.95).contains(&loo.c90),
        "90 % interval covers {}",
        loo.c90
    );
    let man: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("loo/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(man["patients"]["population_prior"], "leave-one-out");
    // Two held-out visits per patient; every patient learns a prior.
    assert_eq!(man["patients"]["learned_priors"], c.truth.len() / 2);
    // A patient's own data enter a pooled prior, not a leave-one-out one.
    let pooled = score(&c, &table("pooled", "pooled"));
    assert!(
        pooled.mae < none.mae,
        "pooled MAE {} vs {}",
        pooled.mae,
        none.mae
    );
    assert_ne!(pooled.mae, loo.mae);
}

const SMALL_OBS: &str = "\
patient,time,observable,location,value,sd
A,1.0,volume,,0.55,
B,0.7,volume,,0.42,0.04
A,2.5,volume,,0.66,
B,3.1,volume,,0.30,
C,1.2,volume,,0.0,
C,2.2,volume,,0.004,
D,1.5,volume,,0.5,
";

/// One row per request in request order, `time` echoed (also between
/// model steps), the contracted columns, ordered quantiles, extra levels
/// from --quantiles, members from --members-out; censored readings
/// counted; a one-reading patient (D) is assimilated once.
#[test]
fn forecast_table_has_one_row_per_request() {
    let dir = Scratch::new("patients-table");
    let (obs, at, out) = (
        dir.path().join("obs.csv"),
        dir.path().join("at.csv"),
        dir.path().join("run"),
    );
    std::fs::write(&obs, SMALL_OBS).unwrap();
    std::fs::write(&at, "patient,time\nB,4.013\nA,3.0\nC,4.0\nD,2.0\nA,6.25\n").unwrap();
    ok(&[
        "assimilate",
        SCENE,
        "--obs",
        s(&obs),
        "--forecast-at",
        s(&at),
        "--quantiles",
        "0.025,0.975",
        "--members-out",
        "--backend",
        "cpu",
        "--format",
        "csv",
        "--out",
        s(&out),
    ]);
    let f = read_csv(&out.join("forecast.csv")).unwrap();
    let names: Vec<&str> = f.column_names();
    assert_eq!(
        &names[..13],
        [
            "patient",
            "time",
            "observable",
            "status",
            "mean",
            "sd",
            "q05",
            "q25",
            "q50",
            "q75",
            "q95",
            "q025",
            "q975"
        ]
    );
    assert_eq!(strs(&f, "patient"), ["B", "A", "C", "D", "A"]);
    assert_eq!(nums(&f, "time"), [4.013, 3.0, 4.0, 2.0, 6.25]);
    assert!(strs(&f, "observable").iter().all(|o| o == "volume"));
    for i in 0..f.rows() {
        let q: Vec<f64> = ["q025", "q05", "q25", "q50", "q75", "q95", "q975"]
            .iter()
            .map(|c| nums(&f, c)[i])
            .collect();
        assert!(
            q.windows(2).all(|w| w[0] < w[1]) && q[0] > 0.0,
            "row {i}: {q:?}"
        );
        let (m, sd) = (nums(&f, "mean")[i], nums(&f, "sd")[i]);
        assert!(m.is_finite() && sd > 0.0, "row {i}: mean {m} sd {sd}");
    }
    // The predictive SD includes the 10 % reading error: it is at least
    // the error of a reading at the median.
    let (q50, sd) = (nums(&f, "q50"), nums(&f, "sd"));
    assert!(
        (0..f.rows()).all(|i| sd[i] >= 0.09 * q50[i]),
        "{sd:?} vs {q50:?}"
    );
    let m = read_csv(&out.join("forecast_members.csv")).unwrap();
    assert_eq!(m.rows(), 5 * 32);
    let p = read_csv(&out.join("patients.csv")).unwrap();
    assert_eq!(strs(&p, "patient"), ["A", "B", "C", "D"]);
    assert_eq!(nums(&p, "censored"), [0.0, 0.0, 2.0, 0.0]);
    assert_eq!(nums(&p, "analyses"), [2.0, 2.0, 2.0, 1.0]);
    assert!(strs(&p, "status").iter().all(|s| s == "ok"));
    // Censored patient C: its readings (0 and 0.004 ≤ 0.01) enter as the
    // pseudo-observation ln 0.01 − 1 with ln-SD 1 (value = SD = 0.01/e),
    // which pulls its forecast far below the prior median at t = 4
    // (0.5·e^(−0.05·4) ≈ 0.41).
    let a = read_csv(&out.join("analysis.csv")).unwrap();
    assert_eq!(a.rows(), 7);
    let c_rows: Vec<usize> = (0..a.rows())
        .filter(|&i| strs(&a, "patient")[i] == "C")
        .collect();
    assert_eq!(c_rows.len(), 2);
    for &i in &c_rows {
        assert!((nums(&a, "value")[i] - LOD / std::f64::consts::E).abs() < 1e-15);
        assert!((nums(&a, "sd")[i] - LOD / std::f64::consts::E).abs() < 1e-15);
    }
    let c_median = nums(&f, "q50")[2];
    assert!(c_median < 0.2, "C's median {c_median}");
    let post = read_csv(&out.join("posterior.csv")).unwrap();
    assert_eq!(strs(&post, "param"), ["r"; 4]);
}

/// A patient with absurd readings fails alone: it is reported with a
/// reason, still gets its (prior) forecast rows, the run exits 0, and every
/// other patient's forecast is the same as in a run without it.
#[test]
fn a_patient_with_absurd_data_fails_alone() {
    let dir = Scratch::new("patients-absurd");
    let at_text = "patient,time\nA,4.0\nB,4.0\nC,4.0\nD,4.0\n";
    let run_with = |extra: &str, tag: &str| {
        let (obs, at, out) = (
            dir.path().join(format!("obs-{tag}.csv")),
            dir.path().join(format!("at-{tag}.csv")),
            dir.path().join(format!("run-{tag}")),
        );
        std::fs::write(&obs, format!("{SMALL_OBS}{extra}")).unwrap();
        let at_rows = if extra.is_empty() { "" } else { "Z,4.0\n" };
        std::fs::write(&at, format!("{at_text}{at_rows}")).unwrap();
        let o = forecast(SCENE, &obs, &at, &out);
        (out, String::from_utf8_lossy(&o.stderr).to_string())
    };
    let (base, _) = run_with("", "base");
    let (bad, err) = run_with("Z,1.0,volume,,5e7,\nZ,2.0,volume,,9e9,\n", "bad");
    let p = read_csv(&bad.join("patients.csv")).unwrap();
    assert_eq!(strs(&p, "status"), ["ok", "ok", "ok", "ok", "failed"]);
    let reason = &strs(&p, "reason")[4];
    assert!(reason.contains("healthy"), "reason: {reason}");
    assert!(err.contains("1 failed") && err.contains("\"Z\""), "{err}");
    let (fb, fa) = (
        read_csv(&base.join("forecast.csv")).unwrap(),
        read_csv(&bad.join("forecast.csv")).unwrap(),
    );
    assert_eq!(fa.rows(), 5);
    assert_eq!(strs(&fa, "status")[4], "failed");
    for c in ["mean", "sd", "q05", "q50", "q95"] {
        assert_eq!(nums(&fa, c)[..4], nums(&fb, c)[..], "column {c}");
        assert!(nums(&fa, c)[4].is_finite(), "failed patient's prior {c}");
    }
    let (a, b) = (
        read_csv(&base.join("analysis.csv")).unwrap(),
        read_csv(&bad.join("analysis.csv")).unwrap(),
    );
    let keep: Vec<usize> = (0..b.rows())
        .filter(|&i| strs(&b, "patient")[i] != "Z")
        .collect();
    assert_eq!(keep.len(), a.rows());
    for c in ["time", "forecast_mean", "analysis_mean", "analysis_sd"] {
        let bv: Vec<f64> = keep.iter().map(|&i| nums(&b, c)[i]).collect();
        assert_eq!(bv, nums(&a, c), "other patients' analyses unchanged ({c})");
    }
}

/// Bad input: each a clear error naming the file and line, exit non-zero,
/// no output folder.
#[test]
fn bad_input_names_file_and_line() {
    let dir = Scratch::new("patients-bad");
    let good_obs = dir.path().join("good.csv");
    std::fs::write(&good_obs, SMALL_OBS).unwrap();
    let cases: [(&str, &str, &str); 6] = [
        (
            SMALL_OBS,
            "patient,time\nA,3.0\nNOBODY,3.0\n",
            "at.csv:3: patient \"NOBODY\"",
        ),
        (
            SMALL_OBS,
            "patient,time\nA,0.5\n",
            "at.csv:2: time 0.5 is before patient \"A\"'s first observation",
        ),
        (
            SMALL_OBS,
            "patient,time,observable\nA,3,size\n",
            "at.csv:2: `size` is not a scene observable",
        ),
        (
            "patient,time,observable,location,value,sd\nA,1,volume,,big,\n",
            "patient,time\nA,3\n",
            "obs.csv:2: column 5 (value): \"big\" is not a number",
        ),
        (
            "patient,time,observable,location,value,sd\nA,1,volume,,0.5,-0.1\n",
            "patient,time\nA,3\n",
            "obs.csv:2: column 6 (sd): sd must be > 0",
        ),
        (
            "patient,time,observable,location,value,sd\nA,1,u_max,,0.5,\n",
            "patient,time\nA,3\n",
            "obs.csv:2: unknown observable `u_max`",
        ),
    ];
    for (i, (obs_text, at_text, want)) in cases.iter().enumerate() {
        let (obs, at, out) = (
            dir.path().join("obs.csv"),
            dir.path().join("at.csv"),
            dir.path().join(format!("run{i}")),
        );
        std::fs::write(&obs, obs_text).unwrap();
        std::fs::write(&at, at_text).unwrap();
        let o = run(&[
            "assimilate",
            SCENE,
            "--obs",
            s(&obs),
            "--forecast-at",
            s(&at),
            "--backend",
            "cpu",
            "--out",
            s(&out),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "case {i} succeeded");
        assert!(err.contains(want), "case {i}: want {want:?} in\n{err}");
        assert!(!out.exists(), "case {i} left an output folder");
    }
}

/// `init_from_first = true`: a patient's state starts at its first reading
/// (through the mean observable's inverse, with the reading's 10 % error)
/// instead of being pulled part of the way from the prior (median 0.5).
#[test]
fn initial_state_from_the_first_reading() {
    let dir = Scratch::new("patients-init");
    let scene = dir.path().join("scene.toml");
    let text = std::fs::read_to_string(SCENE).unwrap();
    std::fs::write(
        &scene,
        text.replace(
            "log_fields = [\"u\"]",
            "log_fields = [\"u\"]\ninit_from_first = true",
        ),
    )
    .unwrap();
    let obs = dir.path().join("obs.csv");
    std::fs::write(
        &obs,
        "patient,time,observable,location,value,sd\nA,1.0,volume,,0.05,\nA,2.0,volume,,0.06,\n",
    )
    .unwrap();
    let means = |scene: &Path, tag: &str| {
        let out = dir.path().join(tag);
        ok(&[
            "assimilate",
            s(scene),
            "--obs",
            s(&obs),
            "--backend",
            "cpu",
            "--format",
            "csv",
            "--out",
            s(&out),
        ]);
        let a = read_csv(&out.join("analysis.csv")).unwrap();
        (nums(&a, "forecast_mean")[0], nums(&a, "analysis_mean")[0])
    };
    let (prior, from_first) = means(&scene, "init");
    assert!((prior - 0.5).abs() < 0.1, "prior mean {prior}");
    assert!(
        (from_first - 0.05).abs() < 0.005,
        "initialised mean {from_first}"
    );
    let (_, analysed) = means(Path::new(SCENE), "plain");
    assert!(
        analysed > 0.06,
        "without init_from_first the analysis keeps some prior: {analysed}"
    );
}

/// The documented lesion loop (docs/patients.md) at 100 lesions: synthetic
/// data from `scenes/lesion_cohort.toml`, the patient twin
/// `scenes/lesion_growth.toml`, scored by `vtwin score`. Every lesion gets
/// finite forecasts (no absolute error floor blows up the log-normal
/// predictive of a tiny volume), no posterior is reported at a bound that
/// a log-scale parameter can never reach, and the median forecast beats
/// carrying the last value forward (at 1,000 lesions it halves its error).
#[test]
fn lesion_loop_forecasts_every_lesion_and_beats_carry_forward() {
    let dir = Scratch::new("patients-lesions");
    let (data, fc, json) = (
        dir.path().join("data"),
        dir.path().join("fc"),
        dir.path().join("score.json"),
    );
    ok(&[
        "cohort",
        "scenes/lesion_cohort.toml",
        "--patients",
        "100",
        "--export-obs",
        "--format",
        "csv",
        "--backend",
        "cpu",
        "--out",
        s(&data),
    ]);
    let o = forecast(
        "scenes/lesion_growth.toml",
        &data.join("visits_fit.csv"),
        &data.join("forecast_at.csv"),
        &fc,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("of a bound"), "{err}");
    let f = read_csv(&fc.join("forecast.csv")).unwrap();
    let held = read_csv(&data.join("visits_heldout.csv")).unwrap();
    assert_eq!(f.rows(), held.rows());
    assert!(
        nums(&f, "mean").iter().all(|m| m.is_finite()),
        "non-finite means"
    );
    assert!(strs(&f, "status").iter().all(|s| s == "ok"), "{err}");
    ok(&[
        "score",
        s(&fc),
        "--truth",
        s(&data.join("visits_heldout.csv")),
        "--obs",
        s(&data.join("visits_fit.csv")),
        "--json",
        s(&json),
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let lv = &v["overall"]["lvcf"];
    let (ours, base) = (
        lv["forecast_mae_q50"].as_f64().unwrap(),
        lv["mae"].as_f64().unwrap(),
    );
    assert!(
        ours < base,
        "MAE of q50 {ours} vs last value carried forward {base}"
    );
}

/// `[assimilation.model_error] process` applies in patient runs: the same
/// readings and requests with multiplicative process noise give a wider
/// predictive distribution at every requested time (the noise adds
/// variance to every member's path between the last reading and the
/// forecast), while the run stays reproducible.
#[test]
fn process_noise_widens_patient_forecasts() {
    let dir = Scratch::new("patients-noise");
    let base = std::fs::read_to_string(SCENE).unwrap();
    let noisy = dir.path().join("noisy.toml");
    std::fs::write(
        &noisy,
        format!(
            "{base}\n[assimilation.model_error]\nprocess = [{{ species = \"u\", sigma = 0.3, kind = \"multiplicative\" }}]\n"
        ),
    )
    .unwrap();
    let (obs, at) = (dir.path().join("obs.csv"), dir.path().join("at.csv"));
    std::fs::write(&obs, SMALL_OBS).unwrap();
    std::fs::write(&at, "patient,time\nA,6.0\nB,8.0\nD,5.0\n").unwrap();
    let sd_of = |scene: &str, tag: &str| {
        let out = dir.path().join(tag);
        forecast(scene, &obs, &at, &out);
        nums(&read_csv(&out.join("forecast.csv")).unwrap(), "sd")
    };
    let plain = sd_of(SCENE, "plain");
    let wide = sd_of(s(&noisy), "noisy");
    assert_eq!(wide, sd_of(s(&noisy), "noisy-again"), "reproducible");
    for (i, (a, b)) in plain.iter().zip(&wide).enumerate() {
        assert!(b > a, "row {i}: sd {b} with process noise vs {a} without");
    }
}

/// `--events`: a dose reaches only its patient. Patient A's bolus of 0.2
/// of `u` at time 4, after its last reading and before its forecast at 5,
/// raises every one of A's members by 0.2·(1 + r·dt)^k for its own rate
/// r ∈ [−2, 2] (the scene's bounds) over the k ≤ 20 steps between, so by
/// between 0.2·0.9²⁰ and 0.2·1.1²⁰; every other patient's members are
/// unchanged to the bit. An event for a patient without readings is
/// refused, naming the file.
#[test]
fn treatment_events_reach_only_their_patient() {
    let dir = Scratch::new("patients-events");
    let (obs, at, ev) = (
        dir.path().join("obs.csv"),
        dir.path().join("at.csv"),
        dir.path().join("events.csv"),
    );
    std::fs::write(&obs, SMALL_OBS).unwrap();
    std::fs::write(&at, "patient,time\nA,5.0\nB,5.0\nD,5.0\n").unwrap();
    std::fs::write(&ev, "patient,time,species,amount\nA,4.0,u,0.2\n").unwrap();
    let members = |tag: &str, extra: &[&str]| {
        let out = dir.path().join(tag);
        let mut args = vec!["--members-out"];
        args.extend_from_slice(extra);
        forecast_with(SCENE, &obs, &at, &out, &args);
        let t = read_csv(&out.join("forecast_members.csv")).unwrap();
        (strs(&t, "patient"), nums(&t, "value"))
    };
    let (pa, plain) = members("plain", &[]);
    let (pb, dosed) = members("dosed", &["--events", s(&ev)]);
    assert_eq!(pa, pb);
    let (lo, hi) = (0.2 * 0.9f64.powi(20), 0.2 * 1.1f64.powi(20));
    let mut a_members = 0;
    for (i, p) in pa.iter().enumerate() {
        if p == "A" {
            let d = dosed[i] - plain[i];
            assert!(
                lo * 0.999 <= d && d <= hi * 1.001,
                "member {i}: raised by {d}"
            );
            a_members += 1;
        } else {
            assert_eq!(
                dosed[i].to_bits(),
                plain[i].to_bits(),
                "patient {p} changed"
            );
        }
    }
    assert_eq!(a_members, 32);
    std::fs::write(&ev, "patient,time,species,amount\nZ,4.0,u,0.2\n").unwrap();
    let o = run(&[
        "assimilate",
        SCENE,
        "--obs",
        s(&obs),
        "--forecast-at",
        s(&at),
        "--events",
        s(&ev),
        "--backend",
        "cpu",
        "--out",
        s(&dir.path().join("bad")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("events.csv") && err.contains("`Z`"), "{err}");
    assert!(!dir.path().join("bad").exists());
}

/// `[assimilation.model_error] drift` in patient runs: a random walk of
/// the estimated rate between readings keeps the posterior from
/// collapsing, so every patient's 90 % posterior interval of r is wider
/// than without drift, and the run is reproducible. Drift of a parameter
/// that is not estimated is refused with the scene key.
#[test]
fn parameter_drift_widens_patient_posteriors() {
    let dir = Scratch::new("patients-drift");
    let base = std::fs::read_to_string(SCENE).unwrap();
    let scene = |tag: &str, section: &str| {
        let p = dir.path().join(format!("{tag}.toml"));
        std::fs::write(
            &p,
            format!("{base}\n[assimilation.model_error]\n{section}\n"),
        )
        .unwrap();
        p
    };
    let drifting = scene("drift", "drift = { r = 0.2 }");
    let (obs, at) = (dir.path().join("obs.csv"), dir.path().join("at.csv"));
    std::fs::write(&obs, SMALL_OBS).unwrap();
    std::fs::write(&at, "patient,time\nA,6.0\nB,8.0\nD,5.0\n").unwrap();
    let widths = |scene: &str, tag: &str| {
        let out = dir.path().join(tag);
        forecast(scene, &obs, &at, &out);
        let t = read_csv(&out.join("posterior.csv")).unwrap();
        let (lo, hi) = (nums(&t, "q05"), nums(&t, "q95"));
        lo.iter().zip(&hi).map(|(a, b)| b - a).collect::<Vec<_>>()
    };
    let plain = widths(SCENE, "plain");
    let wide = widths(s(&drifting), "drift");
    assert_eq!(wide, widths(s(&drifting), "drift-again"), "reproducible");
    assert_eq!(plain.len(), 4);
    for (i, (a, b)) in plain.iter().zip(&wide).enumerate() {
        assert!(
            b > a,
            "patient {i}: 90 % width {b} with drift vs {a} without"
        );
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "{}\n[assimilation.model_error]\ndrift = {{ k2 = 0.1 }}\n",
            base.replace("[parameters]\n", "[parameters]\nk2 = 1.0\n")
        ),
    )
    .unwrap();
    let o = run(&[
        "assimilate",
        s(&bad),
        "--obs",
        s(&obs),
        "--forecast-at",
        s(&at),
        "--backend",
        "cpu",
        "--out",
        s(&dir.path().join("bad-out")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("drift.k2") && err.contains("not estimated"),
        "{err}"
    );
}

/// An `[[assimilation.observe]]` entry without `times`/`every` declares an
/// observable and its error model only: a patient run (its times come
/// from the file) gives the same bytes as with an `every` it never uses,
/// while a twin, which needs a synthetic schedule, refuses it naming the
/// key. `vtwin check` refuses an `init_var` of the wrong length.
#[test]
fn observe_entries_need_times_only_for_a_twin() {
    let dir = Scratch::new("patients-no-every");
    let text = std::fs::read_to_string(SCENE).unwrap();
    let bare = dir.path().join("bare.toml");
    assert!(text.contains("\nevery = 1.0\n"));
    std::fs::write(&bare, text.replace("\nevery = 1.0\n", "\n")).unwrap();
    let (obs, at) = (dir.path().join("obs.csv"), dir.path().join("at.csv"));
    std::fs::write(&obs, SMALL_OBS).unwrap();
    std::fs::write(&at, "patient,time\nA,3.0\nB,4.0\n").unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    forecast(SCENE, &obs, &at, &a);
    forecast(s(&bare), &obs, &at, &b);
    for f in [
        "forecast.csv",
        "analysis.csv",
        "posterior.csv",
        "patients.csv",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    let o = run(&[
        "twin",
        s(&bare),
        "--backend",
        "cpu",
        "--out",
        s(&dir.path().join("t")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bare.toml") && err.contains("assimilation.observe.0.every"),
        "{err}"
    );
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        text.replace("init_var = [0.01, 0.01, 0.01]", "init_var = [0.01, 0.01]"),
    )
    .unwrap();
    let o = run(&["check", s(&wrong)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("wrong.toml")
            && err.contains("assimilation.init_var")
            && err.contains("got 2"),
        "{err}"
    );
    ok(&["check", SCENE]);
}
