//! Layering rules of the crate, checked on the source text of every
//! `src/**/*.rs` (comments and string literals removed first):
//!
//! 1. **GPU boundary.** Only `src/gpu/` and `src/backend.rs` (or a future
//!    `src/backend/`) name the `gpu` module (`crate::gpu…`,
//!    `use crate::{gpu, …}`, `super::gpu`, `vtwin::gpu`) or `wgpu`. Everyone
//!    else reaches the GPU through `backend` (`Backend`, `EngineOptions`,
//!    `InstrumentedEngine`) and the `Engine` trait. `src/lib.rs` declares the
//!    module (`pub mod gpu;`) and is allowed that one line.
//! 2. **Methods and the CPU engine are backend-agnostic.** The method
//!    modules (`src/twin/`, `src/calibrate*`, `src/cohort*`, `src/design*`,
//!    `src/sensitivity*`, `src/fit*`, `src/assim/`) and the CPU engine
//!    (`src/engine/`) never import `gpu` or `wgpu` and never name a GPU type
//!    or the GPU backend variant (`GpuEngine`, `GpuContext`, `Backend::Gpu`).
//! 3. **The GPU layer sits below the methods.** `src/gpu/` imports only what
//!    an engine needs: `backend` (engine options), `engine`, `model`,
//!    `observe`, `plan`, `shaders`, `io` (atomic writes of its cache files),
//!    and in its tests `fixtures`, `verify` and `scene`; never a method, driver
//!    (`bench`, `sweep`, `twin`, …), report or CLI module.
//! 4. **Parsing and catch-all errors stay in the CLI.** Only `src/cli/` and
//!    `src/main.rs` name `clap` or `anyhow`; the library's choice enums get
//!    their flag spellings in `src/cli/values.rs`, and library errors are
//!    `thiserror` enums the CLI turns into messages and exit codes.
//! 5. **Library errors are typed.** Outside `src/cli/` and `src/main.rs` no
//!    function or closure returns `Result<…, String>` and no `TryFrom` has
//!    `type Error = String`: each module family has a `thiserror` type
//!    (or a `message_error!` type for one-sentence located messages).
//! 6. **Input sits below methods, engines and drivers.** The scene
//!    (`src/scene/`), parameter (`src/params*`) and expression (`src/expr/`)
//!    modules import no method module (`twin`, `calibrate`, `cohort*`,
//!    `design`, `sensitivity`, `fit`, `assim`, `score`), no engine module
//!    (`engine`, `gpu`, `backend`) and no driver (`drivers`, `cli`, `sweep`,
//!    `bench`, `verify`, `report`, `slurm`, `shard`, `checkpoint*`). A
//!    method's scene section (`[cohort]`, `[calibrate]`) stays raw in the
//!    scene and is parsed by the method (`Scene::section`).
//! 7. **Models never see files.** `src/models/` names no `toml`, `std::fs`,
//!    `File::open` or `read_npy…`: the scene layer reads what a scene
//!    points at (a tissue map: `Scene::tissue_map_file`) and hands the
//!    model arrays.
//!
//! Each rule is also run against a small source that breaks it, so a rule
//! that could never fail is itself a failure.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `code` with comments, string and char literals blanked out.
fn strip(code: &str) -> String {
    let b = code.as_bytes();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
            out.push(' ');
        } else if c == b'r' && (next == Some(b'"') || next == Some(b'#')) && !ident_before(b, i) {
            // Raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j < b.len() && b[j] == b'"' {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                j += 1;
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            } else {
                out.push('r');
                i += 1;
            }
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == b'\'' && (b.get(i + 2) == Some(&b'\'') || next == Some(b'\\')) {
            // A char literal ('x' or '\n'); lifetimes stay.
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            let ch = code[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// Identifiers of `code` with what precedes each (`::`, `{`, `,` or other).
fn tokens(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut prev = String::new();
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = code[i..end].to_string();
            out.push((word.clone(), std::mem::take(&mut prev)));
            prev = word;
        } else if c == ':' && chars.peek().map(|&(_, d)| d) == Some(':') {
            chars.next();
            prev = format!("{prev}::");
        } else if !c.is_whitespace() {
            prev = c.to_string();
        }
    }
    out
}

/// Top-level modules `code` reaches through `crate::` (also inside
/// `use crate::{a, b::c}` groups), `super::` or `vtwin::`.
fn modules_named(code: &str) -> BTreeSet<String> {
    modules_under(code, &["crate::", "super::", "vtwin::"])
}

/// Modules `code` reaches through the path roots `roots`.
fn modules_under(code: &str, roots: &[&str]) -> BTreeSet<String> {
    let code = strip(code);
    let mut out = BTreeSet::new();
    for root in roots {
        let mut rest = code.as_str();
        while let Some(p) = rest.find(root) {
            let before = rest[..p].chars().last();
            rest = &rest[p + root.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let t = rest.trim_start();
            if let Some(group) = t.strip_prefix('{') {
                let mut depth = 1;
                let mut item = String::new();
                let mut first = true;
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 1 => {
                            first = true;
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                    if depth == 1 && first {
                        if c.is_alphanumeric() || c == '_' {
                            item.push(c);
                        } else if !item.is_empty() {
                            out.insert(item.clone());
                            first = false;
                        }
                    }
                }
                if first && !item.is_empty() {
                    out.insert(item);
                }
            } else {
                let name: String = t
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// Whether `code` names `wgpu` (a path, `use` or `extern crate`).
fn names_wgpu(code: &str) -> bool {
    tokens(&strip(code)).iter().any(|(w, _)| w == "wgpu")
}

/// GPU types or the GPU backend variant named in `code`.
fn gpu_types(code: &str) -> Vec<String> {
    tokens(&strip(code))
        .into_iter()
        .filter(|(w, before)| {
            w == "GpuEngine" || w == "GpuContext" || (w == "Gpu" && before == "Backend::")
        })
        .map(|(w, b)| format!("{b}{w}"))
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `src/**/*.rs` as (path relative to the root, text).
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("readable src/") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    files.sort();
    assert!(files.len() > 50, "found only {} sources", files.len());
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).expect("readable source"))
        })
        .collect()
}

fn in_gpu_layer(path: &str) -> bool {
    path.starts_with("src/gpu/") || path == "src/backend.rs" || path.starts_with("src/backend/")
}

fn is_method_or_cpu_engine(path: &str) -> bool {
    [
        "src/twin/",
        "src/calibrate",
        "src/cohort",
        "src/design",
        "src/sensitivity",
        "src/fit",
        "src/assim/",
        "src/engine/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

/// What the GPU layer may import from the crate.
const GPU_LAYER_MAY_USE: [&str; 11] = [
    "gpu", "backend", "engine", "model", "observe", "plan", "shaders", "io", "verify", "scene",
    "fixtures",
];

/// Rule 1 for one file: what it names that it must not.
fn rule1(path: &str, code: &str) -> Vec<String> {
    if in_gpu_layer(path) {
        return vec![];
    }
    let code = match path {
        "src/lib.rs" => code.replace("pub mod gpu;", ""),
        _ => code.to_string(),
    };
    let mut bad = Vec::new();
    if modules_named(&code).contains("gpu") {
        bad.push("the gpu module".to_string());
    }
    if names_wgpu(&code) {
        bad.push("wgpu".to_string());
    }
    bad
}

/// Rule 2 for one file.
fn rule2(path: &str, code: &str) -> Vec<String> {
    if !is_method_or_cpu_engine(path) {
        return vec![];
    }
    let mut bad = gpu_types(code);
    if modules_named(code).contains("gpu") {
        bad.push("the gpu module".to_string());
    }
    if names_wgpu(code) {
        bad.push("wgpu".to_string());
    }
    bad
}

/// Rule 3 for one file.
fn rule3(path: &str, code: &str) -> Vec<String> {
    if !path.starts_with("src/gpu/") {
        return vec![];
    }
    // `super::` inside src/gpu/ stays inside the GPU layer.
    modules_under(code, &["crate::"])
        .into_iter()
        .filter(|m| !GPU_LAYER_MAY_USE.contains(&m.as_str()))
        .collect()
}

fn in_cli(path: &str) -> bool {
    path.starts_with("src/cli/") || path == "src/main.rs"
}

/// Rule 4 for one file: the CLI-only crates it names.
fn rule4(path: &str, code: &str) -> Vec<String> {
    if in_cli(path) {
        return vec![];
    }
    let named: BTreeSet<String> = tokens(&strip(code))
        .into_iter()
        .map(|(w, _)| w)
        .filter(|w| w == "clap" || w == "anyhow")
        .collect();
    named.into_iter().collect()
}

/// The generic arguments of the `Result<…>` starting at `t` (which begins
/// right after `Result`), split at top-level commas; `None` if `t` does not
/// open a generic list.
fn result_args(t: &str) -> Option<Vec<String>> {
    let t = t.trim_start().strip_prefix('<')?;
    let mut depth = 1;
    let mut args = vec![String::new()];
    for c in t.chars() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(args);
                }
            }
            ',' if depth == 1 => {
                args.push(String::new());
                continue;
            }
            _ => {}
        }
        args.last_mut().expect("one arg").push(c);
    }
    None
}

/// Rule 5 for one file: each `-> Result<…, String>` or `type Error = String`.
fn rule5(path: &str, code: &str) -> Vec<String> {
    if in_cli(path) {
        return vec![];
    }
    let code = strip(code);
    let mut bad = Vec::new();
    let mut rest = code.as_str();
    while let Some(p) = rest.find("->") {
        rest = &rest[p + 2..];
        let t = rest.trim_start();
        let t = t
            .strip_prefix("std::result::")
            .or_else(|| t.strip_prefix("core::result::"))
            .unwrap_or(t);
        let Some(after) = t.strip_prefix("Result") else {
            continue;
        };
        if let Some(args) = result_args(after) {
            let err: String = args
                .last()
                .expect("an argument")
                .split_whitespace()
                .collect();
            if args.len() == 2 && (err == "String" || err == "std::string::String") {
                bad.push(format!("-> Result<{}, String>", args[0].trim()));
            }
        }
    }
    let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.contains("type Error = String;") || flat.contains("type Error = std::string::String;") {
        bad.push("type Error = String".to_string());
    }
    bad
}

fn in_input_layer(path: &str) -> bool {
    path.starts_with("src/scene/")
        || path.starts_with("src/params")
        || path.starts_with("src/expr/")
}

/// Modules the input layer may not import: methods, engines, drivers; a
/// name ending in `*` stands for every module it begins.
const ABOVE_INPUT: [&str; 21] = [
    "twin",
    "calibrate",
    "cohort*",
    "design",
    "sensitivity",
    "fit",
    "assim",
    "score",
    "engine",
    "gpu",
    "backend",
    "drivers",
    "cli",
    "sweep",
    "bench",
    "verify",
    "report",
    "slurm",
    "shard",
    "checkpoint*",
    "main",
];

/// Rule 6 for one file: the method, engine or driver modules it imports.
fn rule6(path: &str, code: &str) -> Vec<String> {
    if !in_input_layer(path) {
        return vec![];
    }
    modules_named(code)
        .into_iter()
        .filter(|m| {
            ABOVE_INPUT.iter().any(|a| match a.strip_suffix('*') {
                Some(prefix) => m.starts_with(prefix),
                None => m == a,
            })
        })
        .collect()
}

/// Rule 7 for one file: the file or TOML access a model names.
fn rule7(path: &str, code: &str) -> Vec<String> {
    if !path.starts_with("src/models/") {
        return vec![];
    }
    let mut bad: BTreeSet<String> = tokens(&strip(code))
        .into_iter()
        .filter_map(|(w, before)| {
            if w == "toml" || w.starts_with("read_npy") {
                Some(w)
            } else if (w == "fs" && before == "std::") || (w == "open" && before == "File::") {
                Some(format!("{before}{w}"))
            } else {
                None
            }
        })
        .collect();
    if modules_under(code, &["std::"]).contains("fs") {
        bad.insert("std::fs".to_string());
    }
    bad.into_iter().collect()
}

fn check(rule: fn(&str, &str) -> Vec<String>, name: &str) {
    let broken: Vec<String> = sources()
        .iter()
        .filter_map(|(p, code)| {
            let bad = rule(p, code);
            (!bad.is_empty()).then(|| format!("{p}: {}", bad.join(", ")))
        })
        .collect();
    assert!(
        broken.is_empty(),
        "{name} broken by:\n{}",
        broken.join("\n")
    );
}

#[test]
fn only_the_gpu_layer_and_backend_import_gpu_or_wgpu() {
    check(rule1, "rule 1 (GPU boundary)");
}

#[test]
fn methods_and_the_cpu_engine_never_see_the_gpu() {
    check(rule2, "rule 2 (backend-agnostic methods)");
}

#[test]
fn the_gpu_layer_imports_no_method_driver_or_output_module() {
    check(rule3, "rule 3 (GPU layer below methods)");
}

#[test]
fn only_the_cli_uses_clap_or_anyhow() {
    check(rule4, "rule 4 (clap and anyhow only in the CLI)");
}

#[test]
fn library_errors_are_typed_not_strings() {
    check(rule5, "rule 5 (no Result<_, String> in the library)");
}

#[test]
fn scene_params_and_expr_import_no_method_engine_or_driver() {
    check(rule6, "rule 6 (input below methods, engines and drivers)");
}

#[test]
fn models_never_read_files_or_toml() {
    check(rule7, "rule 7 (models never see files)");
}

/// Every rule fails on a source that breaks it, and comments and strings
/// mentioning the names do not trip them.
#[test]
fn each_rule_can_fail() {
    let clean = "//! Never imports wgpu or crate::gpu.\nuse crate::engine::Engine;\n\
                 fn f() -> &'static str { \"wgpu crate::gpu\" }\n\
                 fn g(c: char) -> bool { c == '{' }\n";
    for path in ["src/cli/run.rs", "src/twin/run.rs", "src/gpu/engine.rs"] {
        assert!(rule1(path, clean).is_empty(), "{path}");
        assert!(rule2(path, clean).is_empty(), "{path}");
        assert!(rule3(path, clean).is_empty(), "{path}");
        assert!(rule4(path, clean).is_empty(), "{path}");
        assert!(rule5(path, clean).is_empty(), "{path}");
    }
    for bad in [
        "use crate::gpu::engine::GpuOptions;",
        "use crate::{engine::Engine, gpu};",
        "use crate::{\n    gpu::GpuContext,\n    plan::Plan,\n};",
        "fn f() { crate::gpu::context::adapters(); }",
        "fn f(l: &wgpu::Limits) {}",
        "use super::gpu::kat;",
    ] {
        assert!(
            !rule1("src/cli/info.rs", bad).is_empty(),
            "rule 1 missed {bad}"
        );
        assert!(
            !rule2("src/cohort/mod.rs", bad).is_empty(),
            "rule 2 missed {bad}"
        );
        assert!(
            rule1("src/backend.rs", bad).is_empty(),
            "backend may: {bad}"
        );
    }
    let gpu_lib = "pub mod gpu;\npub mod plan;\n";
    assert!(rule1("src/lib.rs", gpu_lib).is_empty());
    assert!(!rule1("src/lib.rs", "pub use crate::gpu::GpuEngine;").is_empty());
    for bad in [
        "fn f(b: &Backend) -> bool { matches!(b, Backend::Gpu(_)) }",
        "fn f(e: &GpuEngine) {}",
    ] {
        assert!(!rule2("src/fit/simulator.rs", bad).is_empty(), "{bad}");
        assert!(!rule2("src/engine/cpu.rs", bad).is_empty(), "{bad}");
        assert!(rule2("src/bench/rd.rs", bad).is_empty(), "{bad}");
    }
    for bad in [
        "use crate::cohort::CohortSpec;",
        "use crate::{plan::Plan, twin::run};",
        "fn f() { crate::cli::run(); }",
        "fn f(x: &[f64]) -> f64 { crate::bench::median(x) }",
    ] {
        assert_eq!(rule3("src/gpu/engine.rs", bad).len(), 1, "{bad}");
    }
    assert!(rule3("src/gpu/engine.rs", "use super::schedule::Kernel;").is_empty());
    let clean = "//! Not clap, not anyhow.\nfn f() -> &'static str { \"anyhow::bail! clap\" }\n";
    assert!(rule4("src/calibrate/mod.rs", clean).is_empty());
    for bad in [
        "#[derive(Clone, Copy, clap::ValueEnum)]\nenum E { A }",
        "use clap::ValueEnum;",
        "fn f() -> anyhow::Result<()> { Ok(()) }",
        "fn f() -> Result<(), anyhow::Error> { anyhow::bail!(\"no\") }",
        "use anyhow::{Context, Result};",
    ] {
        assert!(
            !rule4("src/design/mod.rs", bad).is_empty(),
            "rule 4 missed {bad}"
        );
        assert!(
            !rule4("src/fit/simulator.rs", bad).is_empty(),
            "rule 4 missed {bad}"
        );
        assert!(rule4("src/cli/values.rs", bad).is_empty(), "cli may: {bad}");
        assert!(rule4("src/main.rs", bad).is_empty(), "main may: {bad}");
    }
    let typed = "fn f() -> Result<String, ParseError> { todo!() }\n\
                 fn g() -> Result<Vec<(String, String)>, Error> { todo!() }\n\
                 // fn h() -> Result<(), String>\n\
                 static S: OnceLock<Result<(), String>> = OnceLock::new();\n\
                 fn k() -> &'static str { \"-> Result<(), String>\" }\n";
    assert!(
        rule5("src/params.rs", typed).is_empty(),
        "{:?}",
        rule5("src/params.rs", typed)
    );
    for bad in [
        "pub fn parse(t: &str) -> Result<KernelConfig, String> { todo!() }",
        "fn f() -> Result<(), String> { Ok(()) }",
        "fn f() -> Result<Vec<Option<Vec<f64>>>, String> { todo!() }",
        "fn f() -> std::result::Result<(), std::string::String> { Ok(()) }",
        "trait T {\n    fn simulate(&mut self, p: &[u8], arm: &str)\n        -> Result<Vec<u8>,\n String>;\n}",
        "fn f() { let num = |k: &str| -> Result<f64, String> { Ok(1.0) }; }",
        "impl TryFrom<Raw> for Spec {\n    type Error = String;\n}",
    ] {
        assert_eq!(
            rule5("src/cohort/assemble.rs", bad).len(),
            1,
            "rule 5 missed {bad}"
        );
        assert!(rule5("src/cli/run.rs", bad).is_empty(), "cli may: {bad}");
    }
    let clean = "//! Parsed later by crate::cohort::CohortSpec.\nuse crate::params::ParamBlock;\n\
                 use super::schema::exact;\nuse crate::{limits, dosing::DoseSchedule};\n";
    for path in [
        "src/scene/schema.rs",
        "src/params/block.rs",
        "src/expr/mod.rs",
    ] {
        assert!(
            rule6(path, clean).is_empty(),
            "{path}: {:?}",
            rule6(path, clean)
        );
    }
    for bad in [
        "pub cohort: Option<crate::cohort::CohortSpec>,",
        "use crate::calibrate::CalibrateConfig;",
        "use crate::{params::ParamBlock, cohort_sim::CohortSetup};",
        "fn f() { crate::engine::cpu::run(); }",
        "use crate::backend::Backend;",
        "use crate::drivers::job::Error;",
        "fn f() -> crate::checkpoint_twin::Header { todo!() }",
        "use super::twin::setup;",
    ] {
        for path in [
            "src/scene/mod.rs",
            "src/params_file.rs",
            "src/expr/parse.rs",
        ] {
            assert_eq!(rule6(path, bad).len(), 1, "rule 6 missed {bad} in {path}");
        }
        assert!(rule6("src/plan.rs", bad).is_empty(), "plan may: {bad}");
    }
    let clean = "//! Not toml, not std::fs, not read_npy_f32.\nuse crate::scene::Scene;\n\
                 fn f(s: &Scene) -> &str { \"File::open scene.toml\" }\nfn toml_like() {}\n";
    assert!(
        rule7("src/models/rd/init.rs", clean).is_empty(),
        "{:?}",
        rule7("src/models/rd/init.rs", clean)
    );
    for bad in [
        "let v: toml::Value = toml::from_str(s)?;",
        "use std::fs;",
        "use std::{fs::read, path::Path};",
        "let b = std::fs::read(p)?;",
        "let f = std::fs::File::open(p)?;",
        "use std::fs::File;\nfn f() { let _ = File::open(\"x\"); }",
        "let (shape, data) = crate::io::read_npy_f32(&full)?;",
    ] {
        assert!(
            !rule7("src/models/rd/init.rs", bad).is_empty(),
            "rule 7 missed {bad}"
        );
        assert!(
            rule7("src/scene/tissue.rs", bad).is_empty(),
            "scene may: {bad}"
        );
    }
}
