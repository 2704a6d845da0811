//! Layering rules of the crate, checked on the source text of every
//! `src/**/*.rs` (comments and string literals removed first).
//!
//! The crate is in wings, one folder each, ordered from the bottom up:
//! `output` (file formats and folders, `Table`, the stop flag) < `input`
//! (scenes, parameters, dosing, limits) < `core` (model, models, plan,
//! observe, shaders, expressions, rng, model error) < `engine` (the `Engine`
//! trait, the simulator port, the CPU and GPU engines, backend choice,
//! recording) < `fixtures` (embedded test scenes) < `methods` (designs,
//! sensitivity, calibration, assimilation, twins, cohorts, sweeps, scoring)
//! < `drivers` (jobs behind the commands, checkpoints, manifests, reports,
//! bench, verify, Slurm) < `cli`.
//!
//! 1. **GPU boundary.** Only `src/engine/gpu/` and `src/engine/backend.rs`
//!    name the `gpu` module (`crate::engine::gpu…`, `super::gpu`,
//!    `vtwin::engine::gpu`, a `gpu` item of a `use crate::engine::{…}`
//!    group) or `wgpu`. Everyone else reaches the GPU through `backend`
//!    (`Backend`, `EngineOptions`, `InstrumentedEngine`) and the `Engine`
//!    trait.
//! 2. **Methods and the CPU engine are backend-agnostic.** `src/methods/`
//!    and the CPU side of the engine wing (`src/engine/{mod,cpu,mix,record}.rs`)
//!    never import `gpu` or `wgpu` and never name a GPU type or the GPU
//!    backend variant (`GpuEngine`, `GpuContext`, `Backend::Gpu`).
//! 3. **Wings import downwards only.** Outside its `#[cfg(test)]` modules a
//!    file imports only from its own wing and the wings below it, so there
//!    is no import cycle between wings; in particular `output` imports no
//!    other wing, `input` only `output`, and `core` no engine, method or
//!    driver. `src/lib.rs`,
//!    `src/main.rs` and `src/message_error.rs` sit outside the wings.
//! 4. **Parsing and catch-all errors stay in the CLI.** Only `src/cli/` and
//!    `src/main.rs` name `clap` or `anyhow`; the library's choice enums get
//!    their flag spellings in `src/cli/values.rs`, and library errors are
//!    `thiserror` enums the CLI turns into messages and exit codes.
//! 5. **Library errors are typed.** Outside `src/cli/` and `src/main.rs` no
//!    function or closure returns `Result<…, String>` and no `TryFrom` has
//!    `type Error = String`: each module family has a `thiserror` type
//!    (or a `message_error!` type for one-sentence located messages).
//! 6. **Models never see files, TOML or the scene.** `src/core/models/`
//!    names no `toml`, `std::fs`, `File::open` or `read_npy…`, and outside
//!    its `#[cfg(test)]` modules no `Scene`, `SceneFile`, `SceneError` or
//!    `error_at`: each family reads a typed config, returns `KeyedError`s,
//!    and `core::model_scene` takes configs from the scene (tissue maps
//!    loaded by the scene layer) and locates the keys.
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

/// The module path of the file `path` (`src/methods/cohort/mod.rs` →
/// `["methods", "cohort"]`).
fn module_of(path: &str) -> Vec<String> {
    let rel = path.strip_prefix("src/").unwrap_or(path);
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut segs: Vec<String> = rel.split('/').map(str::to_string).collect();
    if segs
        .last()
        .is_some_and(|s| s == "mod" || s == "lib" || s == "main")
    {
        segs.pop();
    }
    segs
}

/// `code` without its `#[cfg(test)]` items (a test module or function):
/// unit tests may use test support from any wing.
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(p) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..p]);
        let after = &rest[p..];
        let (Some(open), semi) = (after.find('{'), after.find(';')) else {
            rest = "";
            break;
        };
        if semi.is_some_and(|s| s < open) {
            rest = &after[semi.expect("checked") + 1..];
            continue;
        }
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The crate paths `code` (already stripped) names through `crate::`,
/// `super::` (resolved against the file's module `module`) or `vtwin::`,
/// with `use` groups expanded: `use crate::{a::b, c::{d, e}}` gives
/// `a::b`, `c::d`, `c::e`. Each path is given from the crate root.
fn crate_paths(code: &str, module: &[String]) -> BTreeSet<Vec<String>> {
    paths_under(code, module, &["crate::", "super::", "vtwin::"])
}

/// The paths `code` (already stripped) names under the path roots `roots`
/// (see [`crate_paths`]); a path under any root but `super::` is given
/// without its root.
fn paths_under(code: &str, module: &[String], roots: &[&str]) -> BTreeSet<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let n = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (&s[..n], &s[n..])
    }
    /// Parses a use tree at `s` under `prefix` into `out`; returns the rest.
    fn tree<'a>(
        mut s: &'a str,
        mut prefix: Vec<String>,
        out: &mut BTreeSet<Vec<String>>,
    ) -> &'a str {
        loop {
            s = s.trim_start();
            if let Some(group) = s.strip_prefix('{') {
                s = group;
                loop {
                    s = tree(s, prefix.clone(), out).trim_start();
                    if let Some(r) = s.strip_prefix(',') {
                        s = r;
                        if let Some(r) = s.trim_start().strip_prefix('}') {
                            return r;
                        }
                    } else {
                        return s.strip_prefix('}').unwrap_or(s);
                    }
                }
            }
            let (name, rest) = ident(s);
            if name.is_empty() || name == "self" {
                out.insert(prefix);
                return if name.is_empty() { s } else { rest };
            }
            if name == "super" && !prefix.is_empty() {
                // `super` after a root resolves upwards from where we are.
                prefix.pop();
            } else {
                prefix.push(name.to_string());
            }
            match rest.trim_start().strip_prefix("::") {
                Some(r) => s = r,
                None => {
                    out.insert(prefix);
                    return rest;
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    for root in roots {
        let mut rest = code;
        while let Some(p) = rest.find(root) {
            let before = rest[..p].chars().last();
            rest = &rest[p + root.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let prefix = match *root {
                "super::" => {
                    let mut m = module.to_vec();
                    m.pop();
                    m
                }
                _ => Vec::new(),
            };
            tree(rest, prefix.clone(), &mut out);
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Whether `code`, in the file `path`, names the `gpu` module.
fn names_gpu_module(path: &str, code: &str) -> bool {
    crate_paths(&strip(code), &module_of(path))
        .iter()
        .any(|p| p.len() >= 2 && p[0] == "engine" && p[1] == "gpu")
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
    path.starts_with("src/engine/gpu/") || path == "src/engine/backend.rs"
}

fn is_method_or_cpu_engine(path: &str) -> bool {
    path.starts_with("src/methods/")
        || [
            "src/engine/mod.rs",
            "src/engine/cpu.rs",
            "src/engine/mix.rs",
            "src/engine/record.rs",
        ]
        .contains(&path)
}

/// The wings from the bottom up.
const WINGS: [&str; 8] = [
    "output", "input", "core", "engine", "fixtures", "methods", "drivers", "cli",
];

fn wing_rank(wing: &str) -> Option<usize> {
    WINGS.iter().position(|w| *w == wing)
}

/// Rule 1 for one file: what it names that it must not.
fn rule1(path: &str, code: &str) -> Vec<String> {
    if in_gpu_layer(path) {
        return vec![];
    }
    let mut bad = Vec::new();
    if names_gpu_module(path, code) {
        bad.push("the gpu module".to_string());
    }
    if names_wgpu(code) {
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
    if names_gpu_module(path, code) {
        bad.push("the gpu module".to_string());
    }
    if names_wgpu(code) {
        bad.push("wgpu".to_string());
    }
    bad
}

/// Rule 3 for one file: each import of a wing above the file's own.
fn rule3(path: &str, code: &str) -> Vec<String> {
    let module = module_of(path);
    let Some(own) = module.first().and_then(|w| wing_rank(w)) else {
        return vec![];
    };
    let code = without_tests(&strip(code));
    crate_paths(&code, &module)
        .into_iter()
        .filter(|p| wing_rank(&p[0]).is_some_and(|r| r > own))
        .map(|p| format!("{} (above {})", p.join("::"), WINGS[own]))
        .collect()
}

/// Every source file lives in a wing, apart from the crate root files.
fn rule3_placement(path: &str) -> Vec<String> {
    let module = module_of(path);
    let top = module.first().map(String::as_str).unwrap_or("");
    let outside = ["src/lib.rs", "src/main.rs", "src/message_error.rs"];
    if outside.contains(&path) || wing_rank(top).is_some() {
        vec![]
    } else {
        vec!["not in a wing folder".to_string()]
    }
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

/// Rule 6 for one file: the file, TOML or scene access a model names.
fn rule6(path: &str, code: &str) -> Vec<String> {
    if !path.starts_with("src/core/models/") {
        return vec![];
    }
    let scene_words = ["Scene", "SceneFile", "SceneError", "error_at"];
    let scene_use: Vec<String> = tokens(&strip(&without_tests(code)))
        .into_iter()
        .filter(|(w, _)| scene_words.contains(&w.as_str()))
        .map(|(w, _)| w)
        .collect();
    let code = strip(code);
    let mut bad: BTreeSet<String> = tokens(&code)
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
    if paths_under(&code, &[], &["std::"])
        .iter()
        .any(|p| p.first().is_some_and(|s| s == "fs"))
    {
        bad.insert("std::fs".to_string());
    }
    bad.extend(scene_use);
    bad.into_iter().collect()
}

fn check(rule: impl Fn(&str, &str) -> Vec<String>, name: &str) {
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
fn wings_import_downwards_only() {
    check(rule3, "rule 3 (wings import downwards only)");
    check(|p, _| rule3_placement(p), "rule 3 (every file in a wing)");
}

#[test]
fn models_never_see_files_toml_or_the_scene() {
    check(rule6, "rule 6 (models never see files, TOML or the scene)");
}

#[test]
fn only_the_cli_uses_clap_or_anyhow() {
    check(rule4, "rule 4 (clap and anyhow only in the CLI)");
}

#[test]
fn library_errors_are_typed_not_strings() {
    check(rule5, "rule 5 (no Result<_, String> in the library)");
}

/// Every rule fails on a source that breaks it, and comments and strings
/// mentioning the names do not trip them.
#[test]
fn each_rule_can_fail() {
    let clean = "//! Never imports wgpu or crate::engine::gpu or crate::drivers.\nuse crate::engine::Engine;\n\
                 fn f() -> &'static str { \"wgpu crate::engine::gpu crate::cli\" }\n\
                 fn g(c: char) -> bool { c == '{' }\n";
    for path in [
        "src/cli/run.rs",
        "src/methods/twin/run.rs",
        "src/engine/gpu/engine.rs",
    ] {
        assert!(rule1(path, clean).is_empty(), "{path}");
        assert!(rule2(path, clean).is_empty(), "{path}");
        assert!(rule3(path, clean).is_empty(), "{path}");
        assert!(rule4(path, clean).is_empty(), "{path}");
        assert!(rule5(path, clean).is_empty(), "{path}");
    }
    for bad in [
        "use crate::engine::gpu::engine::GpuOptions;",
        "use crate::{engine::Engine, engine::gpu};",
        "use crate::engine::{\n    gpu::GpuContext,\n    Engine,\n};",
        "use crate::{engine::{self, gpu}, core::plan::Plan};",
        "fn f() { crate::engine::gpu::context::adapters(); }",
        "fn f() { vtwin::engine::gpu::context::adapters(); }",
        "fn f(l: &wgpu::Limits) {}",
    ] {
        assert!(
            !rule1("src/cli/info.rs", bad).is_empty(),
            "rule 1 missed {bad}"
        );
        assert!(
            !rule2("src/methods/cohort/mod.rs", bad).is_empty(),
            "rule 2 missed {bad}"
        );
        assert!(
            rule1("src/engine/backend.rs", bad).is_empty(),
            "backend may: {bad}"
        );
    }
    // `super::gpu` names the GPU module from the engine wing's own files.
    assert!(!rule1("src/engine/record.rs", "use super::gpu::kat;").is_empty());
    assert!(rule1("src/methods/fit/mod.rs", "use super::gpu::kat;").is_empty());
    for bad in [
        "fn f(b: &Backend) -> bool { matches!(b, Backend::Gpu(_)) }",
        "fn f(e: &GpuEngine) {}",
    ] {
        assert!(
            !rule2("src/methods/fit/simulator.rs", bad).is_empty(),
            "{bad}"
        );
        assert!(!rule2("src/engine/cpu.rs", bad).is_empty(), "{bad}");
        assert!(rule2("src/drivers/bench/rd.rs", bad).is_empty(), "{bad}");
    }
    for (path, bad) in [
        (
            "src/engine/gpu/engine.rs",
            "use crate::methods::cohort::CohortSpec;",
        ),
        (
            "src/engine/gpu/engine.rs",
            "use crate::{core::plan::Plan, methods::twin::run};",
        ),
        ("src/engine/gpu/engine.rs", "fn f() { crate::cli::run(); }"),
        (
            "src/input/scene/schema.rs",
            "use crate::core::dosing::Schedule;",
        ),
        (
            "src/input/scene/schema.rs",
            "use crate::{input::params::Block, methods::cohort::CohortSpec};",
        ),
        ("src/core/model.rs", "use crate::engine::EngineError;"),
        (
            "src/methods/twin/run.rs",
            "use super::super::super::drivers::job::Job;",
        ),
        (
            "src/output/io/rundir.rs",
            "fn f() { crate::engine::check_interrupt(); }",
        ),
        (
            "src/methods/calibrate/mod.rs",
            "#[cfg(test)]\nfn t() {}\nuse crate::drivers::job;",
        ),
    ] {
        assert_eq!(rule3(path, bad).len(), 1, "rule 3 missed {bad} in {path}");
    }
    for (path, ok) in [
        (
            "src/engine/gpu/engine.rs",
            "use super::schedule::Kernel;\nuse crate::core::plan::Plan;",
        ),
        (
            "src/methods/twin/run.rs",
            "use super::super::cohort::Patient;\nuse crate::output::io;",
        ),
        (
            "src/core/model.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::drivers::verify;\n}\n",
        ),
        ("src/lib.rs", "use crate::cli;"),
    ] {
        assert!(
            rule3(path, ok).is_empty(),
            "{ok} in {path}: {:?}",
            rule3(path, ok)
        );
    }
    assert!(!rule3_placement("src/plan.rs").is_empty());
    assert!(rule3_placement("src/core/plan.rs").is_empty());
    assert!(rule3_placement("src/lib.rs").is_empty());
    let clean = "//! Not clap, not anyhow.\nfn f() -> &'static str { \"anyhow::bail! clap\" }\n";
    assert!(rule4("src/methods/calibrate/mod.rs", clean).is_empty());
    for bad in [
        "#[derive(Clone, Copy, clap::ValueEnum)]\nenum E { A }",
        "use clap::ValueEnum;",
        "fn f() -> anyhow::Result<()> { Ok(()) }",
        "fn f() -> Result<(), anyhow::Error> { anyhow::bail!(\"no\") }",
        "use anyhow::{Context, Result};",
    ] {
        assert!(
            !rule4("src/methods/design/mod.rs", bad).is_empty(),
            "rule 4 missed {bad}"
        );
        assert!(
            !rule4("src/methods/fit/simulator.rs", bad).is_empty(),
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
        rule5("src/input/params/mod.rs", typed).is_empty(),
        "{:?}",
        rule5("src/input/params/mod.rs", typed)
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
            rule5("src/methods/cohort/assemble.rs", bad).len(),
            1,
            "rule 5 missed {bad}"
        );
        assert!(rule5("src/cli/run.rs", bad).is_empty(), "cli may: {bad}");
    }
    let clean = "//! Not toml, not std::fs, not read_npy_f32, not Scene.\n\
                 use crate::input::scene::InitialSection;\n\
                 fn f(s: &InitialSection) -> &str { \"File::open scene.toml error_at\" }\n\
                 fn toml_like(c: &SceneConfigLike) {}\n\
                 #[cfg(test)]\nmod tests {\n    use crate::input::scene::Scene;\n}\n";
    assert!(rule6("src/core/models/rd/init.rs", clean).is_empty());
    for bad in [
        "let v: toml::Value = toml::from_str(s)?;",
        "use std::fs;",
        "use std::{fs::read, path::Path};",
        "let b = std::fs::read(p)?;",
        "let f = std::fs::File::open(p)?;",
        "use std::fs::File;\nfn f() { let _ = File::open(\"x\"); }",
        "let (shape, data) = crate::output::io::read_npy_f32(&full)?;",
        "use crate::input::scene::Scene;",
        "fn build(scene: &Scene) {}",
        "fn info(f: &crate::input::scene::SceneFile) {}",
        "fn f() -> Result<(), SceneError> { Ok(()) }",
        "return Err(scene.error_at(\"grid.nx\", \"too small\"));",
    ] {
        assert!(
            !rule6("src/core/models/rd/init.rs", bad).is_empty(),
            "rule 6 missed {bad}"
        );
        assert!(
            rule6("src/input/scene/tissue.rs", bad).is_empty(),
            "scene may: {bad}"
        );
    }
}
