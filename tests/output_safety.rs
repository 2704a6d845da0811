//! Outputs never destroy what the user owns (docs/reliability.md), replayed
//! with the built binary:
//! - `--force` replaces only a folder vtwin wrote (it holds a vtwin
//!   manifest), never a folder of the user's own files, and never a folder
//!   holding the command's inputs;
//! - every file-writing flag (`design -o`, `analyze -o`, `compare --json`,
//!   `bench --json`, `estimate --json`) refuses an existing file unless
//!   `--force`, and never overwrites the command's own inputs;
//! - SIGINT, SIGTERM and SIGHUP remove the temporary folder within 2 s and
//!   exit 130;
//! - stale temporary folders of killed runs beside a target are removed
//!   (only vtwin's, i.e. marked, of dead processes), and the run says so;
//! - `analyze --resamples` is limited to 2..=100,000, and an empty outputs
//!   file gets a message that says what is wrong.

mod common;

use common::{TempDir, vtwin, write_scene};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scene that runs in a moment.
const QUICK: &str = r#"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "-r * u" }
[grid]
nx = 8
ny = 8
[time]
dt = 0.1
steps = 10
[ensemble]
members = 2
seed = 1
[parameters]
r = 0.5
[initial]
background = { u = 1.0 }
[observe]
every = 5
[[observables]]
kind = "mean"
field = "u"
"#;

/// A scene that runs for minutes on the CPU backend (killed by the tests).
const LONG: &str = r#"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "-r * u" }
diffusion = { u = "Du" }
[grid]
nx = 128
ny = 128
[time]
dt = 0.1
steps = 1000000
[ensemble]
members = 64
seed = 1
[parameters]
r = 0.001
Du = 0.1
[initial]
background = { u = 1.0 }
[observe]
every = 1000000
[[observables]]
kind = "mean"
field = "u"
"#;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run_quick(scene: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        scene,
        "--backend",
        "cpu",
        "--out",
        s(out),
        "--format",
        "csv",
    ];
    args.extend_from_slice(extra);
    vtwin(&args)
}

/// Names in `dir` that look like temporary folders or files.
fn temp_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.contains(".old-"))
        .collect()
}

/// `--force` on a folder of the user's own files (a scene and notes, no
/// vtwin manifest) is refused with the reason, and every file survives;
/// on a folder vtwin wrote it replaces it.
#[test]
fn force_replaces_only_folders_vtwin_wrote() {
    let t = TempDir::new("force-user");
    let scene = write_scene(t.path(), "quick.toml", QUICK);
    let mine = t.path().join("project");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "my notes").unwrap();
    std::fs::write(mine.join("scene.toml"), QUICK).unwrap();
    let o = run_quick(&scene, &mine, &["--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not written by vtwin"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "my notes"
    );
    assert!(mine.join("scene.toml").exists());
    assert!(
        temp_entries(t.path()).is_empty(),
        "{:?}",
        temp_entries(t.path())
    );

    // A plain file where the folder would go is not replaced either.
    let file = t.path().join("file-out");
    std::fs::write(&file, "keep").unwrap();
    let o = run_quick(&scene, &file, &["--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");

    // vtwin's own run folder is replaced with --force.
    let run = t.path().join("run");
    assert!(run_quick(&scene, &run, &[]).status.success());
    std::fs::write(run.join("extra.txt"), "x").unwrap();
    let o = run_quick(&scene, &run, &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!run.join("extra.txt").exists() && run.join("manifest.json").exists());
}

/// A run folder holding the command's own scene is never replaced.
#[test]
fn force_never_replaces_a_folder_holding_an_input() {
    let t = TempDir::new("force-input");
    let scene = write_scene(t.path(), "quick.toml", QUICK);
    let run = t.path().join("run");
    assert!(run_quick(&scene, &run, &[]).status.success());
    let inner = write_scene(&run, "inner.toml", QUICK);
    let o = run_quick(&inner, &run, &["--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("an input of this command"),
        "{}",
        stderr(&o)
    );
    assert!(Path::new(&inner).exists());
}

const PARAMS: &str = "[parameters]\na = { dist = \"uniform\", low = 0.0, high = 1.0 }\n\
                      b = { dist = \"uniform\", low = 0.0, high = 2.0 }\n";

/// `design -o`, `analyze -o` and `compare --json` refuse an existing file
/// without `--force`, replace it with `--force`, and never overwrite an
/// input of the command, not even with `--force`.
#[test]
fn file_outputs_need_force_and_never_overwrite_inputs() {
    let t = TempDir::new("files");
    let params = t.path().join("p.toml");
    std::fs::write(&params, PARAMS).unwrap();
    let design = t.path().join("design.csv");
    let design_args = |force: bool| {
        let mut a = vec![
            "design",
            "--params",
            s(&params),
            "--method",
            "saltelli",
            "-n",
            "8",
            "-o",
            s(&design),
        ];
        if force {
            a.push("--force");
        }
        vtwin(&a)
    };
    assert!(design_args(false).status.success());
    let before = std::fs::read(&design).unwrap();
    let o = design_args(false);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("exists; pass --force"),
        "{}",
        stderr(&o)
    );
    assert!(design_args(true).status.success());
    assert_eq!(std::fs::read(&design).unwrap(), before, "same design again");
    // -o onto the parameter file is refused even with --force.
    let o = vtwin(&[
        "design",
        "--params",
        s(&params),
        "--method",
        "lhs",
        "-n",
        "4",
        "-o",
        s(&params),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("an input of this command"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&params).unwrap(), PARAMS);

    // Outputs y = a + 2b, one per design row.
    let rows = vtwin::output::io::read_csv(&design).unwrap();
    let col = |n: &str| match rows.column(n) {
        Some(vtwin::output::table::Values::F64(v)) => {
            v.iter().map(|x| x.unwrap()).collect::<Vec<_>>()
        }
        _ => panic!("column {n}"),
    };
    let (a, b) = (col("a"), col("b"));
    let ys: String = a
        .iter()
        .zip(&b)
        .map(|(x, y)| format!("{}\n", x + 2.0 * y))
        .collect();
    let outputs = t.path().join("y.csv");
    std::fs::write(&outputs, format!("y\n{ys}")).unwrap();
    let analyze = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "analyze",
            "sobol",
            "--params",
            s(&params),
            "--design",
            s(&design),
            "--outputs",
            s(&outputs),
            "-o",
            s(out),
        ];
        args.extend_from_slice(extra);
        vtwin(&args)
    };
    // analyze -o onto its own design file: refused, design intact.
    let o = analyze(&design, &["--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("an input of this command"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&design).unwrap(), before);
    let result = t.path().join("result.csv");
    std::fs::write(&result, "precious").unwrap();
    let o = analyze(&result, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&result).unwrap(), "precious");
    assert!(analyze(&result, &["--force"]).status.success());
    assert!(
        std::fs::read_to_string(&result)
            .unwrap()
            .starts_with("parameter,S1")
    );

    // compare --json: an existing file needs --force; an input never.
    let ref_a = t.path().join("a.csv");
    let ref_b = t.path().join("b.csv");
    std::fs::write(&ref_a, "x\n1\n2\n3\n").unwrap();
    std::fs::write(&ref_b, "x\n1\n2\n4\n").unwrap();
    let report = t.path().join("report.json");
    std::fs::write(&report, "keep").unwrap();
    let compare = |json: &Path, force: bool| {
        let mut args = vec!["compare", s(&ref_a), s(&ref_b), "--json", s(json)];
        if force {
            args.push("--force");
        }
        vtwin(&args)
    };
    assert_eq!(compare(&report, false).status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "keep");
    let o = compare(&ref_b, true);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&ref_b).unwrap(), "x\n1\n2\n4\n");
    assert!(compare(&report, true).status.success());
    assert!(std::fs::read_to_string(&report).unwrap().starts_with('{'));
    assert!(
        temp_entries(t.path()).is_empty(),
        "{:?}",
        temp_entries(t.path())
    );
}

/// `bench --json` and `estimate --json` refuse an existing file before any
/// work is done.
#[test]
fn json_reports_refuse_existing_files() {
    let t = TempDir::new("json");
    let scene = write_scene(t.path(), "quick.toml", QUICK);
    let f = t.path().join("r.json");
    std::fs::write(&f, "keep").unwrap();
    for args in [
        vec![
            "bench",
            "--suite",
            "da",
            "--backend",
            "cpu",
            "--json",
            s(&f),
        ],
        vec!["estimate", &scene, "--backend", "cpu", "--json", s(&f)],
    ] {
        let o = vtwin(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("pass --force"), "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep");
    }
    let o = vtwin(&[
        "estimate",
        &scene,
        "--backend",
        "cpu",
        "--json",
        &scene,
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&scene).unwrap(), QUICK);
}

/// Sends `signal` to a `vtwin run` of a long scene once its temporary
/// folder exists; the process must exit 130 within 2 s, leaving nothing.
fn killed_run_leaves_nothing(signal: &str) {
    let t = TempDir::new(&format!("signal-{signal}"));
    let scene = write_scene(t.path(), "long.toml", LONG);
    let out = t.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args(["run", &scene, "--backend", "cpu", "--out", s(&out)])
        .env("VTWIN_PIPELINE_CACHE", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while temp_entries(t.path()).is_empty() {
        assert!(Instant::now() < deadline, "no temporary folder appeared");
        assert!(child.try_wait().unwrap().is_none(), "run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let it get into the stepping loop.
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let sent = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if sent.elapsed() > Duration::from_secs(2) {
            let _ = child.kill();
            panic!("SIG{signal}: still running 2 s after the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(code, Some(130), "SIG{signal}");
    assert!(
        temp_entries(t.path()).is_empty(),
        "SIG{signal} left {:?}",
        temp_entries(t.path())
    );
    assert!(!out.exists());
}

#[test]
fn sigterm_removes_the_temporary_folder() {
    killed_run_leaves_nothing("TERM");
}

#[test]
fn sighup_removes_the_temporary_folder() {
    killed_run_leaves_nothing("HUP");
}

#[test]
fn sigint_removes_the_temporary_folder() {
    killed_run_leaves_nothing("INT");
}

/// This machine's host name, as the marker records it.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0);
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// After `kill -9` a temporary folder stays; the next run beside it
/// removes it and says so. An unmarked look-alike (not vtwin's) is kept.
#[test]
fn stale_temporary_folders_of_killed_runs_are_removed() {
    let t = TempDir::new("stale");
    let scene = write_scene(t.path(), "quick.toml", QUICK);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vtwin"))
        .args([
            "run",
            &write_scene(t.path(), "long.toml", LONG),
            "--backend",
            "cpu",
        ])
        .args(["--out", s(&t.path().join("killed"))])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while temp_entries(t.path()).is_empty() {
        assert!(Instant::now() < deadline, "no temporary folder appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL: no clean-up possible
    child.wait().unwrap();
    let left = temp_entries(t.path());
    assert_eq!(left.len(), 1, "{left:?}");
    // A user's folder with a look-alike name but no marker.
    let lookalike = t.path().join(".mine.tmp-999999999-1");
    std::fs::create_dir(&lookalike).unwrap();
    // A marked folder of a process on another host is not ours to judge.
    let far = t.path().join(".far.tmp-999999999-1");
    std::fs::create_dir(&far).unwrap();
    std::fs::write(
        far.join(".vtwin-temp"),
        format!("pid=999999999\nhost={}-elsewhere\nstarted=1\n", host_name()),
    )
    .unwrap();
    let o = run_quick(&scene, &t.path().join("next"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&left[0]) && stderr(&o).contains("was killed"),
        "{}",
        stderr(&o)
    );
    assert!(!t.path().join(&left[0]).exists());
    assert!(lookalike.exists() && far.exists());
    // The marker never reaches a finished run or its manifest.
    let next = t.path().join("next");
    assert!(!next.join(".vtwin-temp").exists());
    let m = std::fs::read_to_string(next.join("manifest.json")).unwrap();
    assert!(!m.contains(".vtwin-temp"));
}

/// `--resamples` outside 2..=100,000 is refused (0 gave NaN intervals,
/// 10⁹ ran without limit); an empty outputs file says what is wrong.
#[test]
fn analyze_limits_resamples_and_explains_empty_outputs() {
    let t = TempDir::new("analyze");
    let params = t.path().join("p.toml");
    std::fs::write(&params, PARAMS).unwrap();
    let design = t.path().join("design.csv");
    let o = vtwin(&[
        "design",
        "--params",
        s(&params),
        "--method",
        "saltelli",
        "-n",
        "8",
        "-o",
        s(&design),
    ]);
    assert!(o.status.success());
    let outputs = t.path().join("y.csv");
    std::fs::write(&outputs, format!("y\n{}", "1\n".repeat(32))).unwrap();
    for r in ["0", "1", "100001", "1000000000"] {
        let o = vtwin(&[
            "analyze",
            "sobol",
            "--params",
            s(&params),
            "--design",
            s(&design),
            "--outputs",
            s(&outputs),
            "--resamples",
            r,
        ]);
        assert_eq!(o.status.code(), Some(2), "--resamples {r}");
        assert!(
            stderr(&o).contains("--resamples must be between 2 and 100000"),
            "{}",
            stderr(&o)
        );
    }
    std::fs::write(&outputs, "").unwrap();
    let o = vtwin(&[
        "analyze",
        "sobol",
        "--params",
        s(&params),
        "--design",
        s(&design),
        "--outputs",
        s(&outputs),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("y.csv") && e.contains("empty"), "{e}");
    assert!(!e.contains("several columns"), "{e}");
}
