//! Every kind of bad scene gives its documented error: the file, the line
//! and the key, and a message that says what is wrong.

use std::path::Path;
use vtwin::plan::{Plan, PlanOptions};
use vtwin::scene::{Scene, SceneError};

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
