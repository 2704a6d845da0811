//! `vtwin report` end to end: small outputs of every kind (run, sweep,
//! calibrate, twin, cohort, bench) are written by the built binary, turned
//! into reports, and the pages are checked twice:
//! - as text: one inline `<svg>` per expected figure with the expected
//!   `<title>`, no scripts, no http(s) URL in any `src=`/`href=`;
//! - in a real headless browser (Debian's `chromium`): the page loads from
//!   disk with no request initiated by the page (Chromium's NetLog) and no
//!   console message, the parsed DOM holds the same figures, and a
//!   screenshot is not blank (luminance variance above a threshold).
//!
//! Without chromium the browser half prints a visible skip, unless CI
//! (`CI`), `VTWIN_REQUIRE_BROWSER=1` or `REQUIRE_GPU=1` is set, which makes
//! a missing browser a failure. `VTWIN_CHROMIUM` names the browser binary.

mod common;

use common::{TempDir, vtwin, write_scene};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ok(args: &[&str]) -> String {
    let o = vtwin(args);
    assert!(
        o.status.success(),
        "vtwin {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `<title>` of every inline `<svg>` in a page, in order.
fn svg_titles(html: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        rest = &rest[i + 4..];
        let t0 = rest.find("<title>").expect("an svg without a <title>");
        let t1 = rest.find("</title>").unwrap();
        let next_svg = rest.find("<svg").unwrap_or(usize::MAX);
        assert!(t0 < next_svg, "an svg without a <title>");
        out.push(
            rest[t0 + 7..t1]
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">"),
        );
    }
    out
}

/// Checks the page as text and returns its figure titles.
fn check_page(html_path: &Path, expected: &[&str]) -> Vec<String> {
    let html = std::fs::read_to_string(html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.to_lowercase().contains("<script"),
        "a script in the page"
    );
    for attr in ["src=\"", "href=\"", "src='", "href='"] {
        for (i, _) in html.match_indices(attr) {
            let v = html[i + attr.len()..].to_lowercase();
            assert!(
                !v.starts_with("http:") && !v.starts_with("https:") && !v.starts_with("//"),
                "external reference {}",
                &html[i..(i + 60).min(html.len())]
            );
        }
    }
    let titles = svg_titles(&html);
    for e in expected {
        assert!(
            titles.iter().any(|t| t == e),
            "no figure titled {e:?} in {titles:?}"
        );
    }
    titles
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VTWIN_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn browser_required() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0");
    set("CI") || set("VTWIN_REQUIRE_BROWSER") || set("REQUIRE_GPU")
}

/// Runs headless chromium on `url` with `extra` arguments; returns
/// (stdout, stderr). Fails after two minutes.
fn run_chromium(bin: &Path, scratch: &Path, extra: &[String], url: &str) -> (String, String) {
    let profile = scratch.join(format!(
        "profile-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&profile).unwrap();
    let (out_path, err_path) = (scratch.join("chromium.out"), scratch.join("chromium.err"));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(&err_path).unwrap_or_default();
            assert!(status.success(), "chromium failed ({status}):\n{err}");
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default(),
    )
}

/// Requests in a Chromium NetLog that the page started: the browser's own
/// background requests (update checks and the like) carry the initiator
/// "not an origin"; a page opened from disk has the opaque origin "null".
fn page_requests(netlog: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(netlog).expect("a NetLog was written"))
            .expect("the NetLog is JSON");
    let code = v["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_i64()
        .expect("NetLog constants");
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_i64() == Some(code))
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|u| !u.is_empty() && !u.starts_with("file:") && !u.starts_with("data:"))
        .map(String::from)
        .collect()
}

/// Opens the page in headless chromium: no page request, no console
/// message, the DOM holds the figures, the screenshot has content.
fn check_in_browser(html_path: &Path, titles: &[String]) {
    let Some(bin) = chromium() else {
        if browser_required() {
            panic!(
                "chromium not found (CI / VTWIN_REQUIRE_BROWSER / REQUIRE_GPU set): \
                 install Debian's `chromium` (.ci/run does) or set VTWIN_CHROMIUM"
            );
        }
        // The real stderr (eprintln! is captured by the harness): visible.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED browser check of {}: no chromium on PATH (install `chromium`, or set VTWIN_CHROMIUM)",
            html_path.display()
        );
        return;
    };
    let scratch = TempDir::new("report-browser");
    let abs = std::fs::canonicalize(html_path).unwrap();
    let url = format!("file://{}", abs.display());
    let netlog = scratch.path().join("net.json");
    let (dom, log) = run_chromium(
        &bin,
        scratch.path(),
        &[
            format!("--log-net-log={}", netlog.display()),
            "--enable-logging=stderr".into(),
            "--v=0".into(),
            "--dump-dom".into(),
        ],
        &url,
    );
    let requests = page_requests(&netlog);
    assert!(requests.is_empty(), "the page made requests: {requests:?}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let dom_titles = svg_titles(&dom);
    assert_eq!(&dom_titles, titles, "figures in the browser's DOM");

    let shot = scratch.path().join("shot.png");
    run_chromium(
        &bin,
        scratch.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600".into(),
        ],
        &url,
    );
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    let bpp = info.line_size / info.width as usize;
    assert!(bpp >= 3, "screenshot colour type {:?}", info.color_type);
    let lum: Vec<f64> = buf[..info.buffer_size()]
        .chunks(bpp)
        .map(|p| 0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64)
        .collect();
    let n = lum.len() as f64;
    let mean = lum.iter().sum::<f64>() / n;
    let var = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n;
    let inked = lum.iter().filter(|l| **l < 200.0).count() as f64 / n;
    // A blank page has variance 0; text and figures on white give hundreds.
    assert!(
        var > 100.0 && inked > 0.005,
        "screenshot of {} looks blank: luminance variance {var:.1}, {:.2} % dark pixels",
        html_path.display(),
        100.0 * inked
    );
}

/// `vtwin report` on `what`, then both checks; returns the page's titles.
fn report(scratch: &Path, what: &Path, expected: &[&str]) -> Vec<String> {
    report_with(scratch, what, &[], expected)
}

/// `report` with further arguments of `vtwin report`.
fn report_with(scratch: &Path, what: &Path, extra: &[&str], expected: &[&str]) -> Vec<String> {
    let html = scratch.join(format!(
        "{}.html",
        what.file_name().unwrap().to_string_lossy()
    ));
    let mut args = vec!["report", s(what), "--out", s(&html)];
    args.extend_from_slice(extra);
    ok(&args);
    let titles = check_page(&html, expected);
    check_in_browser(&html, &titles);
    titles
}

#[test]
fn run_report() {
    let t = TempDir::new("report-run");
    let out = t.path().join("run");
    let err = ok(&[
        "run",
        "tests/data/tiny_cohort.toml",
        "--members",
        "8",
        "--backend",
        "cpu",
        "--save-fields",
        "--every",
        "2",
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains(&format!("vtwin report {}", out.display())),
        "{err}"
    );
    assert!(err.contains("burden") && err.contains("median"), "{err}");
    let titles = report(
        t.path(),
        &out,
        &[
            "burden over time",
            "visible_area over time",
            "Member status",
            "Final N of members 0–7 on one colour scale",
        ],
    );
    assert_eq!(titles.len(), 4, "{titles:?}");
    let html = std::fs::read_to_string(t.path().join("run.html")).unwrap();
    assert!(
        html.contains("src=\"data:image/png;base64,"),
        "montage embedded"
    );
    // The time-lapse montages of --every 2 as one strip, a frame each.
    let snaps = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            let n = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .to_string();
            n.starts_with("montage_t") && n.ends_with(".png")
        })
        .count();
    assert!(snaps >= 2, "{snaps} snapshots");
    assert_eq!(html.matches("<div class=\"strip\">").count(), 1);
    assert_eq!(html.matches("<img class=\"frame\"").count(), snaps);
    // The folder itself is untouched: still verifies against its manifest.
    vtwin::output::io::rundir::verify_outputs(&out).unwrap();
}

#[test]
fn run_report_refuses_to_overwrite_without_force() {
    let t = TempDir::new("report-force");
    let out = t.path().join("run");
    ok(&[
        "run",
        "tests/data/tiny_cohort.toml",
        "--members",
        "2",
        "--backend",
        "cpu",
        "--out",
        s(&out),
    ]);
    ok(&["report", s(&out)]);
    let page = t.path().join("run.html");
    assert!(page.is_file(), "default output beside the folder");
    let o = vtwin(&["report", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    ok(&["report", s(&out), "--force"]);
    // Not an output folder: a clear error naming it.
    let o = vtwin(&["report", s(t.path())]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("manifest.json"));
}

#[test]
fn sweep_report() {
    let t = TempDir::new("report-sweep");
    let scene = write_scene(
        t.path(),
        "lin.toml",
        &common::linear_sweep_scene("a * b", 100, 10),
    );
    let out = t.path().join("sweep");
    let err = ok(&[
        "sweep",
        &scene,
        "--method",
        "saltelli",
        "-n",
        "64",
        "--backend",
        "cpu",
        "--out",
        s(&out),
    ]);
    // u(1) = a + b: b carries 0.8 of the variance, so it is named first.
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("u_final"))
        .unwrap();
    assert!(
        line.trim_start()["u_final".len()..]
            .trim_start()
            .starts_with("b "),
        "{err}"
    );
    let titles = report(
        t.path(),
        &out,
        &[
            "Sobol indices of u_final",
            "Sobol indices of v_max",
            "u_final against b",
        ],
    );
    // 4 outputs × (1 index figure + 2 scatter plots).
    assert_eq!(titles.len(), 12, "{titles:?}");
}

#[test]
fn calibrate_report() {
    let t = TempDir::new("report-cal");
    let text = std::fs::read_to_string("scenes/decay_calibration.toml")
        .unwrap()
        .replace("population = 500", "population = 100");
    let scene = write_scene(t.path(), "decay.toml", &text);
    let out = t.path().join("cal");
    let err = ok(&[
        "calibrate",
        &scene,
        "--data",
        "tests/data/decay_data.csv",
        "--backend",
        "cpu",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("posterior median"), "{err}");
    let titles = report(
        t.path(),
        &out,
        &[
            "Posterior of k",
            "Posterior predictive of u_mean",
            "ABC tolerance ε per generation",
        ],
    );
    assert_eq!(titles.len(), 3);
    // The prior density is drawn: the scene is where the manifest says.
    let html = std::fs::read_to_string(t.path().join("cal.html")).unwrap();
    assert!(html.contains(">\nprior\n<") || html.contains(">prior<"));
}

#[test]
fn twin_report() {
    let t = TempDir::new("report-twin");
    let out = t.path().join("twin");
    let err = ok(&[
        "twin",
        "scenes/tumour_twin.toml",
        "--backend",
        "cpu",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("P(burden_doubles)"), "{err}");
    let titles = report(
        t.path(),
        &out,
        &[
            "Forecast of burden",
            "Event probabilities per arm",
            "RMSE and spread over cycles",
        ],
    );
    assert!(
        titles.iter().any(|t| t.starts_with("Analysis of ")),
        "{titles:?}"
    );
}

/// A patient run (docs/patients.md) scored by `vtwin score`: the page has
/// the summary, the posterior per patient, the scores with their PIT
/// histogram and one section per shown patient; the scores table carries
/// the numbers of the score file; `--patients` picks patients and refuses
/// unknown ones; both options are refused for other kinds.
#[test]
fn patient_run_report() {
    let t = TempDir::new("report-patients");
    let (obs, at, truth, out, json) = (
        t.path().join("obs.csv"),
        t.path().join("at.csv"),
        t.path().join("truth.csv"),
        t.path().join("pat"),
        t.path().join("score.json"),
    );
    std::fs::write(
        &obs,
        "patient,time,observable,location,value,sd\nA,1.0,volume,,0.55,\nB,0.7,volume,,0.42,\n\
         A,2.5,volume,,0.66,\nB,3.1,volume,,0.30,\nC,1.2,volume,,0.0,\nC,2.2,volume,,0.004,\n",
    )
    .unwrap();
    std::fs::write(&at, "patient,time\nA,3.5\nB,4.0\nC,4.0\nA,5.0\n").unwrap();
    std::fs::write(
        &truth,
        "patient,time,observable,value\nA,3.5,volume,0.7\nB,4.0,volume,0.28\nC,4.0,volume,0.003\nA,5.0,volume,0.8\n",
    )
    .unwrap();
    ok(&[
        "assimilate",
        "tests/data/patients_growth.toml",
        "--obs",
        s(&obs),
        "--forecast-at",
        s(&at),
        "--backend",
        "cpu",
        "--format",
        "csv",
        "--out",
        s(&out),
    ]);
    ok(&[
        "score",
        s(&out),
        "--truth",
        s(&truth),
        "--obs",
        s(&obs),
        "--json",
        s(&json),
    ]);
    let titles = report_with(
        t.path(),
        &out,
        &["--scores", s(&json)],
        &[
            "Posterior of r per patient",
            "PIT histogram of the forecasts",
            "Patient A: volume",
            "Patient B: volume",
            "Patient C: volume",
        ],
    );
    assert_eq!(
        titles.iter().filter(|t| t.starts_with("Patient ")).count(),
        3,
        "{titles:?}"
    );
    let html = std::fs::read_to_string(t.path().join("pat.html")).unwrap();
    let score: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let mae = score["overall"]["mae_q50"].as_f64().unwrap();
    assert!(
        html.contains(&format!("{mae:.4}")),
        "MAE {mae:.4} not on the page"
    );
    assert!(
        html.contains("3 patients: 3 ok, 0 failed"),
        "summary missing"
    );
    // One patient picked by name; an unknown one refused.
    let one = t.path().join("one.html");
    ok(&["report", s(&out), "--patients", "B", "--out", s(&one)]);
    let page = std::fs::read_to_string(&one).unwrap();
    assert!(page.contains("Patient B: volume") && !page.contains("Patient A: volume"));
    let bad = vtwin(&[
        "report",
        s(&out),
        "--patients",
        "Z",
        "--out",
        s(&t.path().join("z.html")),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no patient `Z`"));
    assert!(!t.path().join("z.html").exists());
}

#[test]
fn cohort_report() {
    let t = TempDir::new("report-cohort");
    let out = t.path().join("cohort");
    let err = ok(&[
        "cohort",
        "tests/data/tiny_cohort.toml",
        "--patients",
        "30",
        "--backend",
        "cpu",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("response rate"), "{err}");
    let titles = report(
        t.path(),
        &out,
        &[
            "Kaplan–Meier: progression-free survival per arm",
            "Waterfall of best response",
            "Individual treatment effects against rt",
            "Covariate balance: rt_chemo against rt",
            "Missingness per visit",
        ],
    );
    assert_eq!(titles.len(), 5);
    assert!(titles[0].starts_with("Kaplan–Meier"));
    let html = std::fs::read_to_string(t.path().join("cohort.html")).unwrap();
    assert!(html.contains("Number at risk"));
}

#[test]
fn bench_report_and_pngs() {
    let t = TempDir::new("report-bench");
    let json = t.path().join("bench.json");
    ok(&[
        "bench",
        "--suite",
        "rd",
        "--backend",
        "cpu",
        "--max-members",
        "16",
        "--steps",
        "2",
        "--repeats",
        "1",
        "--peak-gbs",
        "10",
        "--json",
        s(&json),
    ]);
    let pngs = t.path().join("png");
    ok(&["report", s(&json), "--png", s(&pngs)]);
    let page = t.path().join("bench.html");
    let titles = check_page(
        &page,
        &[
            "Throughput against members",
            "Fraction of peak memory bandwidth",
        ],
    );
    check_in_browser(&page, &titles);
    // One PNG per figure, each a real picture.
    let mut files: Vec<_> = std::fs::read_dir(&pngs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), titles.len());
    for f in files {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&f).unwrap()));
        let r = dec.read_info().unwrap();
        assert_eq!(r.info().width, 720, "{}", f.display());
    }
    // Existing PNGs need --force.
    let o = vtwin(&[
        "report",
        s(&json),
        "--png",
        s(&pngs),
        "--out",
        s(&t.path().join("b2.html")),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// With stderr not a terminal (a pipe here), a long run prints plain
/// progress lines instead of a redrawn bar.
#[test]
fn progress_lines_when_stderr_is_not_a_terminal() {
    let t = TempDir::new("report-progress");
    let out = t.path().join("gs");
    let o = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args([
            "run",
            "scenes/gray_scott.toml",
            "--members",
            "16",
            "--backend",
            "cpu",
            "--out",
            s(&out),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VTWIN_PROGRESS_SECS", "0.001")
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("vtwin: progress "))
        .collect();
    assert!(!lines.is_empty(), "{err}");
    assert!(
        lines.iter().all(|l| l.contains("/10000 steps")),
        "{lines:?}"
    );
    assert!(
        !err.contains('\r') && !err.contains('\u{1b}'),
        "terminal control characters in a log"
    );
}

/// `vtwin analyze` with several `--column`s stacks one result per output
/// (with an `output` column) and each equals the sweep's own indices.
#[test]
fn analyze_takes_several_output_columns() {
    let t = TempDir::new("report-analyze");
    let scene = write_scene(
        t.path(),
        "lin.toml",
        &common::linear_sweep_scene("a * b", 100, 10),
    );
    let out = t.path().join("sweep");
    ok(&[
        "sweep",
        &scene,
        "--method",
        "saltelli",
        "-n",
        "64",
        "--backend",
        "cpu",
        "--out",
        s(&out),
    ]);
    let res = t.path().join("res.csv");
    ok(&[
        "analyze",
        "sobol",
        "--params",
        s(&out.join("params.toml")),
        "--design",
        s(&out.join("design.csv")),
        "--outputs",
        s(&out.join("outputs.csv")),
        "--column",
        "v_final,u_final",
        "-o",
        s(&res),
    ]);
    let got = vtwin::output::io::read_csv(&res).unwrap();
    let want = vtwin::output::io::read_csv(&out.join("indices.csv")).unwrap();
    let col = |t: &vtwin::output::table::Table, n: &str| -> Vec<String> {
        match t.column(n).unwrap() {
            vtwin::output::table::Values::Str(v) => {
                v.iter().map(|x| x.clone().unwrap_or_default()).collect()
            }
            vtwin::output::table::Values::F64(v) => {
                v.iter().map(|x| format!("{:?}", x.unwrap())).collect()
            }
            other => panic!("{other:?}"),
        }
    };
    let (go, gp) = (col(&got, "output"), col(&got, "parameter"));
    assert_eq!(
        go,
        [
            "v_final", "v_final", "v_final", "u_final", "u_final", "u_final"
        ]
    );
    let (wo, wp) = (col(&want, "output"), col(&want, "parameter"));
    for idx in ["S1", "ST"] {
        let (g, w) = (col(&got, idx), col(&want, idx));
        for r in 0..go.len() {
            let k = (0..wo.len())
                .find(|&k| wo[k] == go[r] && wp[k] == gp[r])
                .unwrap();
            assert_eq!(g[r], w[k], "{idx} of {} / {}", go[r], gp[r]);
        }
    }
}
