//! Every kind of bad scene gives its documented error: the file, the line
//! and the key, and a message that says what is wrong.

mod common;

use std::path::Path;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::input::scene::{Scene, SceneError};

const GOOD: &str = r#"[model]
kind = "gray_scott"
[grid]
nx = 16
ny = 16
dx = 0.04
[time]
dt = 1.0
steps = 10
[parameters]
F = { dist = "uniform", low = 0.02, high = 0.05 }
"#;

fn load(text: &str) -> Result<Plan, SceneError> {
    let s = Scene::parse(Path::new("scenes/bad.toml"), text)?;
    Plan::freeze(&s, &PlanOptions::default())
}

/// The error names the file, the line (1-based) and key, and its message
/// contains `needle`.
fn check(text: &str, line: usize, key: &str, needle: &str) {
    let e = load(text).expect_err("scene should be rejected");
    let shown = e.to_string();
    assert_eq!(e.path, Path::new("scenes/bad.toml"), "{shown}");
    assert_eq!(e.line, Some(line), "{shown}");
    assert_eq!(e.key.as_deref(), Some(key), "{shown}");
    assert!(e.message.contains(needle), "{shown}");
    assert!(
        shown.starts_with(&format!("scenes/bad.toml:{line}:")),
        "{shown}"
    );
}

#[test]
fn the_good_scene_loads() {
    let p = load(GOOD).unwrap();
    assert_eq!(p.members, 16);
    assert_eq!(p.block.names(), ["F", "Du", "Dv", "k"]);
}

#[test]
fn unknown_key() {
    check(
        &GOOD.replace("ny = 16", "ny = 16\nnz = 4"),
        6,
        "grid.nz",
        "unknown field `nz`",
    );
}

#[test]
fn wrong_type() {
    check(
        &GOOD.replace("nx = 16", "nx = \"sixteen\""),
        4,
        "grid.nx",
        "invalid type",
    );
}

#[test]
fn bad_distribution() {
    check(
        &GOOD.replace("low = 0.02, high = 0.05", "low = 0.05, high = 0.02"),
        11,
        "parameters.F",
        "must be less than `high`",
    );
}

/// Du·dt/dx² = 0.2·1/0.0016 ≫ 1/4: names the parameter, the value and the
/// largest stable dt = dx²/(4·Du) = 0.002.
#[test]
fn unstable_time_step() {
    let text = GOOD.replace("[parameters]\n", "[parameters]\nDu = 0.2\n");
    let e = load(&text).expect_err("unstable");
    assert_eq!(e.key.as_deref(), Some("time.dt"));
    assert_eq!(e.line, Some(8));
    assert!(e.message.contains("parameter `Du` = 0.2"), "{e}");
    assert!(e.message.contains("largest stable dt = 2.000000e-3"), "{e}");
}

/// The largest stable dt is evaluated against every member's sampled value.
#[test]
fn unstable_for_some_members_only() {
    let text = GOOD.replace(
        "[parameters]\n",
        "[parameters]\nDv = { dist = \"uniform\", low = 1e-5, high = 1e-3 }\n",
    );
    let e = load(&text).expect_err("unstable for the largest Dv");
    assert!(e.message.contains("parameter `Dv`"), "{e}");
}

#[test]
fn invalid_expression_points_at_the_reaction() {
    let text = r#"[model]
kind = "custom"
species = ["u"]
diffusion = { u = "D" }

[model.reactions]
u = "a * u * * u"

[time]
dt = 0.1
steps = 5
[parameters]
a = 1.0
D = 0.1
"#;
    check(
        text,
        7,
        "model.reactions.u",
        "invalid expression at column 9: expected a number, a name or `(`, found `*`",
    );
    check(
        &text.replace("a * u * * u", "a * w"),
        7,
        "model.reactions.u",
        "invalid expression at column 5: unknown name `w`",
    );
}

#[test]
fn unknown_parameter_of_a_builtin_model() {
    check(
        &GOOD.replace("[parameters]\n", "[parameters]\nfeed = 0.1\n"),
        11,
        "parameters.feed",
        "has no parameter `feed`",
    );
}

#[test]
fn unknown_field_in_an_observable() {
    let text = format!("{GOOD}\n[[observables]]\nkind = \"max\"\nfield = \"w\"\n");
    check(&text, 15, "observables.0.field", "unknown field `w`");
}

#[test]
fn unknown_arm() {
    let s = Scene::parse(Path::new("scenes/bad.toml"), GOOD).unwrap();
    let e = Plan::freeze(
        &s,
        &PlanOptions {
            arm: Some("rt".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.message.contains("no arm named `rt`"), "{e}");
}

#[test]
fn therapy_on_a_model_without_it() {
    let text = format!("{GOOD}\n[[arms]]\nname = \"rt\"\nrt = {{ dose = 2.0, fractions = 3 }}\n");
    check(&text, 13, "arms", "takes no therapy schedule");
}

#[test]
fn missing_file_is_named() {
    let e = Scene::load(Path::new("scenes/does_not_exist.toml")).unwrap_err();
    assert!(e.to_string().contains("does_not_exist.toml"), "{e}");
}

#[test]
fn every_shipped_scene_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes");
    let mut n = 0;
    for f in std::fs::read_dir(dir).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let s = Scene::load(&p).unwrap_or_else(|e| panic!("{e}"));
            Plan::freeze(&s, &PlanOptions::default()).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 4);
}

// Issue 14, item 4: each silent hole is an error naming its entry. Each
// test replays the defect as the issue reported it.

/// A tumour scene with an `rt` arm whose inline table is `rt`, for the
/// therapy checks.
fn tumour(rt: &str) -> String {
    format!(
        "[model]\nkind = \"tumour\"\n[grid]\nnx = 16\nny = 16\n[time]\ndt = 0.25\nsteps = 40\n\
         [[arms]]\nname = \"rt\"\nrt = {{ {rt} }}\n"
    )
}

/// `per_week = 0` left the arm silently untreated.
#[test]
fn per_week_must_be_one_to_seven() {
    for pw in [0, 8] {
        check(
            &tumour(&format!(
                "start = 1.0, fractions = 5, dose = 2.0, per_week = {pw}"
            )),
            11,
            "arms.0.rt.per_week",
            &format!("per_week must be 1 to 7 fractions a week, got {pw}"),
        );
    }
    let s = Scene::parse(
        Path::new("scenes/bad.toml"),
        &tumour("start = 1.0, fractions = 5, dose = 2.0, per_week = 7"),
    )
    .unwrap();
    assert_eq!(
        s.arms()[0].rt.as_ref().unwrap().times(),
        [1.0, 2.0, 3.0, 4.0, 5.0]
    );
}

/// A threshold of NaN, ∞ or 1e300 was an error only in `check` (with the
/// generated WGSL in the message) and gave `visible_area = 0` on the CPU
/// backend. Now `Plan::freeze`, which every backend runs, refuses it at
/// the entry, in words.
#[test]
fn thresholds_must_be_finite_f32() {
    for t in ["nan", "inf", "-inf", "1e300"] {
        let text = format!(
            "{GOOD}\n[[observables]]\nkind = \"area_above\"\nfield = \"v\"\nthreshold = {t}\n"
        );
        check(
            &text,
            16,
            "observables.0.threshold",
            "threshold must be a finite number",
        );
        let e = load(&text).unwrap_err().to_string();
        assert!(
            !e.contains("fn ") && !e.contains("u32") && !e.contains("WGSL"),
            "{e}"
        );
        let fc = format!(
            "{GOOD}\n[[observables]]\nkind = \"max\"\nfield = \"v\"\n\
             [[observables]]\nkind = \"first_crossing\"\nof = \"max_v\"\nthreshold = {t}\n"
        );
        check(
            &fc,
            19,
            "observables.1.threshold",
            "threshold must be a finite number",
        );
    }
    // The largest finite f32 is accepted.
    let ok = format!(
        "{GOOD}\n[[observables]]\nkind = \"area_above\"\nfield = \"v\"\nthreshold = 3.4e38\n"
    );
    load(&ok).unwrap();
}

/// The threshold error on the CPU run path end to end: exit 2, no output.
#[test]
fn a_bad_threshold_stops_a_cpu_run() {
    let dir = common::TempDir::new("scene-threshold");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/tumour_rd.toml"),
    )
    .unwrap()
    .replace("threshold = 0.1", "threshold = nan");
    assert!(text.contains("threshold = nan"));
    let s = common::write_scene(dir.path(), "t.toml", &text);
    let out = dir.path().join("out");
    let o = common::vtwin(&[
        "run",
        &s,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("threshold must be a finite number"), "{err}");
    assert!(!out.exists());
}

/// `at`/`center` with 3 numbers were accepted (the third ignored).
#[test]
fn positions_take_exactly_two_numbers() {
    let probe =
        format!("{GOOD}\n[[observables]]\nkind = \"probe\"\nfield = \"v\"\nat = [0.1, 0.2, 0.3]\n");
    check(&probe, 16, "observables.0.at", "expected 2 numbers, got 3");
    let one = probe.replace("[0.1, 0.2, 0.3]", "[0.1]");
    check(&one, 16, "observables.0.at", "expected 2 numbers, got 1");
    let patch = format!(
        "{GOOD}\n[initial]\npatches = [{{ shape = \"disk\", center = [0.3, 0.3, 0.3], size = 0.1, values = {{ u = 0.5 }} }}]\n"
    );
    let e = load(&patch).unwrap_err();
    assert_eq!(e.line, Some(14), "{e}");
    assert!(e.message.contains("expected 2 numbers, got 3"), "{e}");
    assert!(
        e.key
            .as_deref()
            .unwrap_or("")
            .starts_with("initial.patches"),
        "{e}"
    );
    let block = format!(
        "{GOOD}\n[[observables]]\nkind = \"block_mean\"\nfield = \"v\"\nregion = [0.0, 0.0, 0.3]\n"
    );
    check(
        &block,
        16,
        "observables.0.region",
        "expected 4 numbers, got 3",
    );
}

/// A Lorenz `init_mean` of the wrong length passed `check` and failed only
/// in `twin`.
#[test]
fn lorenz_init_mean_length_is_checked_by_check() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/lorenz63_sakov2012.toml"),
    )
    .unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("init_mean"))
        .unwrap()
        + 1;
    let bad = text.replace(
        "init_mean = [1.509, -1.531, 25.46]",
        "init_mean = [1.509, -1.531]",
    );
    assert_ne!(bad, text);
    check(
        &bad,
        line,
        "assimilation.init_mean",
        "give 1 value or one per state word (3), got 2",
    );
}

/// `beta = nan` and a correlation `rho = 2` pointed at the `[parameters]`
/// header, not at the entry.
#[test]
fn parameter_and_correlation_errors_point_at_the_entry() {
    check(
        &GOOD.replace("[parameters]\n", "[parameters]\nk = nan\n"),
        11,
        "parameters.k",
        "parameter `k`: `value` must be a finite number, got NaN",
    );
    let corr = format!(
        "{GOOD}k = {{ dist = \"uniform\", low = 0.05, high = 0.06 }}\n\n[[correlations]]\na = \"F\"\nb = \"k\"\nrho = 2\n"
    );
    check(
        &corr,
        17,
        "correlations.0.rho",
        "rho = 2 must lie in (-1, 1)",
    );
}

/// A duplicate table said "duplicate key" without its name.
#[test]
fn duplicates_are_named() {
    check(
        &format!("{GOOD}[grid]\nnx = 8\n"),
        12,
        "grid",
        "duplicate table `[grid]`",
    );
    check(
        &GOOD.replace("steps = 10\n", "steps = 10\ndt = 2.0\n"),
        10,
        "time.dt",
        "duplicate key `dt`",
    );
}

/// Duplicate species `["u", "u"]` reported "`v` is not a species".
#[test]
fn duplicate_species_are_named() {
    let text = r#"[model]
kind = "custom"
species = ["u", "u"]
reactions = { u = "-u", v = "u" }
[time]
dt = 0.1
steps = 5
"#;
    check(
        text,
        3,
        "model.species.1",
        "duplicate species `u` (entries 0 and 1)",
    );
    let clash = r#"[model]
kind = "custom"
species = ["u"]
reactions = { u = "-u * D" }
[time]
dt = 0.1
steps = 5
[parameters]
u = 1.0
D = 0.5
"#;
    check(clash, 9, "parameters.u", "has the name of a species");
}

/// A method's section (`[cohort]`, `[calibrate]`) stays raw in the scene and
/// is parsed by its method; every command loads scenes through
/// `drivers::scenes`, which parses both, so a misspelt key in either is
/// still an error at its file, line and key, also for a command (`run`)
/// that never reads the section.
#[test]
fn every_command_parses_the_method_sections() {
    let dir = common::TempDir::new("scene-methods");
    for (tail, line, key) in [
        (
            "[cohort.observation.b]\nvisits = [0]\nmcar_rate = 0.1\n",
            14,
            "cohort.observation.b.mcar_rate",
        ),
        (
            "[calibrate.abc]\npopulaton = 200\n",
            13,
            "calibrate.abc.populaton",
        ),
    ] {
        let text = format!("{GOOD}{tail}");
        Scene::parse(Path::new("scenes/bad.toml"), &text).expect("the scene itself loads");
        let s = common::write_scene(dir.path(), "m.toml", &text);
        let out = dir.path().join("never");
        let out = out.to_str().unwrap();
        for args in [
            vec!["check", &s, "--backend", "cpu"],
            vec![
                "run",
                &s,
                "--backend",
                "cpu",
                "--members",
                "2",
                "--out",
                out,
            ],
        ] {
            let o = common::vtwin(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            let field = key.rsplit('.').next().unwrap();
            assert!(
                err.contains(&format!(
                    "{s}:{line}:1: key `{key}`: unknown field `{field}`"
                )),
                "{args:?}: {err}"
            );
        }
        assert!(!Path::new(out).exists(), "no output for a bad scene");
    }
}
