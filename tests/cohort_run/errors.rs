//! Bad scene entries are clear errors naming the file, line and key; the
//! command exits non-zero and leaves no output folder behind.

use crate::common::{scene_text, tmp, vtwin};
use std::path::Path;

/// Writes `text` as a scene, runs `vtwin cohort` on it, checks the failure
/// and returns stderr.
fn fails(name: &str, text: &str) -> String {
    let dir = tmp(&format!("err-{name}"));
    let scene = dir.join("scene.toml");
    std::fs::write(&scene, text).unwrap();
    let out = dir.join("out");
    let o = vtwin(&[
        "cohort",
        scene.to_str().unwrap(),
        "--patients",
        "4",
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert_eq!(o.code, 2, "{name}: {}", o.stderr);
    assert!(!out.exists(), "{name}: no output folder");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("scene.toml")],
        "{name}: no temp folders"
    );
    assert!(
        o.stderr.contains(scene.to_str().unwrap()),
        "{name}: names the file: {}",
        o.stderr
    );
    o.stderr
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

fn edit(from: &str, to: &str) -> String {
    let t = scene_text();
    assert!(t.contains(from), "fixture has `{from}`");
    t.replacen(from, to, 1)
}

#[test]
fn an_unknown_arm_is_an_error_at_its_line() {
    let text = edit(
        "probabilities = { rt = 0.5, rt_chemo = 0.5 }",
        "probabilities = { rt = 0.5, chemo = 0.5 }",
    );
    let e = fails("arm", &text);
    let line = line_of(&text, "chemo = 0.5 }");
    assert!(e.contains(&format!(":{line}:")), "line {line}: {e}");
    assert!(e.contains("cohort.assignment.probabilities.chemo"), "{e}");
    assert!(
        e.contains("unknown arm `chemo`; the scene's arms are rt, rt_chemo"),
        "{e}"
    );
}

#[test]
fn a_negative_rate_is_an_error_at_its_line() {
    let text = edit("mcar = 0.2", "mcar = -0.1");
    let e = fails("rate", &text);
    let line = line_of(&text, "mcar = -0.1");
    assert!(e.contains(&format!(":{line}:")), "line {line}: {e}");
    assert!(e.contains("cohort.observation.burden.mcar"), "{e}");
    assert!(e.contains("rate -0.1 must be in [0, 1]"), "{e}");
}

#[test]
fn every_problem_is_listed_at_once() {
    let text = edit("mcar = 0.2", "mcar = 1.5").replacen("param = \"k\"", "param = \"kk\"", 1);
    let e = fails("two", &text);
    assert!(e.contains("cohort.observation.burden.mcar"), "{e}");
    assert!(e.contains("cohort.modulation.0.param"), "{e}");
    assert!(e.contains("unknown parameter `kk`"), "{e}");
}

#[test]
fn an_unknown_observable_and_a_misspelt_key_are_errors() {
    let text = edit(
        "[cohort.observation.visible_area]",
        "[cohort.observation.area]",
    );
    let e = fails("obs", &text);
    assert!(e.contains("the model has no observable `area`"), "{e}");
    let text = edit("mcar = 0.2", "mcar_rate = 0.2");
    let e = fails("typo", &text);
    let line = line_of(&text, "mcar_rate");
    assert!(
        e.contains("unknown field `mcar_rate`") && e.contains(&format!(":{line}:")),
        "{e}"
    );
}

#[test]
fn a_scene_without_a_cohort_section_is_refused() {
    let t = scene_text();
    let cut = t.find("[cohort.").unwrap();
    let e = fails("none", &t[..cut]);
    assert!(e.contains("no [cohort] section"), "{e}");
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/cohort.md")
            .is_file()
    );
}
