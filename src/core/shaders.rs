//! WGSL sources: the files under `shaders/`, embedded at compile time, a
//! small `//#include "path"` step that composes them, and validation with
//! naga (parse + validate, every error collected with its location).
//!
//! Owns: shader text and its validation. Never creates GPU objects, so the
//! CPU engine and `vtwin check` validate shaders without an adapter.

use std::fmt;

/// Every shader file, by path relative to `shaders/`.
const FILES: &[(&str, &str)] = &[
    (
        "shared/philox.wgsl",
        include_str!("../../shaders/shared/philox.wgsl"),
    ),
    (
        "shared/step.wgsl",
        include_str!("../../shaders/shared/step.wgsl"),
    ),
    (
        "shared/bindings.wgsl",
        include_str!("../../shaders/shared/bindings.wgsl"),
    ),
    (
        "shared/observe.wgsl",
        include_str!("../../shaders/shared/observe.wgsl"),
    ),
    (
        "rd/stencil.wgsl",
        include_str!("../../shaders/rd/stencil.wgsl"),
    ),
    (
        "rd/gray_scott.wgsl",
        include_str!("../../shaders/rd/gray_scott.wgsl"),
    ),
    (
        "rd/stencil_vec4.wgsl",
        include_str!("../../shaders/rd/stencil_vec4.wgsl"),
    ),
    ("rd/site.wgsl", include_str!("../../shaders/rd/site.wgsl")),
    (
        "rd/bindings_vec4.wgsl",
        include_str!("../../shaders/rd/bindings_vec4.wgsl"),
    ),
    ("rd/fused.wgsl", include_str!("../../shaders/rd/fused.wgsl")),
    ("rd/ode.wgsl", include_str!("../../shaders/rd/ode.wgsl")),
    ("rd/flush.wgsl", include_str!("../../shaders/rd/flush.wgsl")),
    (
        "rd/tumour.wgsl",
        include_str!("../../shaders/rd/tumour.wgsl"),
    ),
    (
        "bench/copy.wgsl",
        include_str!("../../shaders/bench/copy.wgsl"),
    ),
    ("abm/step.wgsl", include_str!("../../shaders/abm/step.wgsl")),
    (
        "rd/cardiac.wgsl",
        include_str!("../../shaders/rd/cardiac.wgsl"),
    ),
    (
        "lorenz/l96.wgsl",
        include_str!("../../shaders/lorenz/l96.wgsl"),
    ),
    (
        "lorenz/l63.wgsl",
        include_str!("../../shaders/lorenz/l63.wgsl"),
    ),
    (
        "assim/mix.wgsl",
        include_str!("../../shaders/assim/mix.wgsl"),
    ),
    (
        "tests/philox_kat.wgsl",
        include_str!("../../shaders/tests/philox_kat.wgsl"),
    ),
];

/// Paths of every embedded shader file.
pub fn files() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(p, _)| *p)
}

/// The text of an embedded shader file. Panics on an unknown path: paths
/// are compile-time constants of this crate, and a test checks them all.
pub fn source(path: &str) -> &'static str {
    FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("no embedded shader `{path}`"))
}

/// Resolves `//#include "path"` lines (once each, recursively).
pub fn compose(text: &str) -> String {
    let mut seen = Vec::new();
    let mut out = String::new();
    compose_into(text, &mut seen, &mut out);
    out
}

fn compose_into(text: &str, seen: &mut Vec<String>, out: &mut String) {
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("//#include") {
            let path = rest.trim().trim_matches('"').to_string();
            if !seen.contains(&path) {
                seen.push(path.clone());
                compose_into(source(&path), seen, out);
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
}

/// A WGSL float literal that parses back to exactly `x` as f32.
pub fn f32_lit(x: f32) -> String {
    if x.is_finite() {
        format!("{x:?}f")
    } else {
        "0.0f".to_string()
    }
}

/// One shader error with its position in the composed source.
#[derive(Debug, Clone, PartialEq)]
pub struct ShaderError {
    /// Name of the shader (e.g. `rd.gray_scott.step`).
    pub shader: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The offending source line, when known.
    pub snippet: Option<String>,
}

impl fmt::Display for ShaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shader `{}`", self.shader)?;
        if let Some(l) = self.line {
            write!(f, " line {l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(s) = &self.snippet {
            write!(f, "\n    {}", s.trim())?;
        }
        Ok(())
    }
}

impl std::error::Error for ShaderError {}

/// Parses and validates WGSL with naga; returns the module and its info.
pub fn validate(
    name: &str,
    src: &str,
) -> Result<(naga::Module, naga::valid::ModuleInfo), ShaderError> {
    let module = naga::front::wgsl::parse_str(src).map_err(|e| {
        let loc = e.location(src);
        ShaderError {
            shader: name.to_string(),
            line: loc.as_ref().map(|l| l.line_number as usize),
            column: loc.as_ref().map(|l| l.line_position as usize),
            message: e.message().to_string(),
            snippet: loc.and_then(|l| {
                src.lines()
                    .nth(l.line_number as usize - 1)
                    .map(str::to_string)
            }),
        }
    })?;
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    );
    let info = validator.validate(&module).map_err(|e| {
        let span = e.spans().next().map(|(s, _)| *s);
        let loc = span.map(|s| s.location(src));
        let mut message = e.as_inner().to_string();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e.as_inner());
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        ShaderError {
            shader: name.to_string(),
            line: loc.as_ref().map(|l| l.line_number as usize),
            column: loc.as_ref().map(|l| l.line_position as usize),
            message,
            snippet: loc.and_then(|l| {
                src.lines()
                    .nth((l.line_number as usize).saturating_sub(1))
                    .map(str::to_string)
            }),
        }
    })?;
    Ok((module, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_listed_and_includes_resolve() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
        let mut on_disk = Vec::new();
        for sub in std::fs::read_dir(&dir).unwrap() {
            let sub = sub.unwrap().path();
            for f in std::fs::read_dir(&sub).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "wgsl") {
                    on_disk.push(
                        f.strip_prefix(&dir)
                            .unwrap()
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
        }
        on_disk.sort();
        let mut listed: Vec<_> = files().map(str::to_string).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "shaders/ and shaders::FILES disagree");
        assert!(!listed.is_empty());
    }

    #[test]
    fn philox_kernel_validates() {
        let src =
            compose("//#include \"shared/philox.wgsl\"\n//#include \"tests/philox_kat.wgsl\"\n");
        validate("tests.philox_kat", &src).unwrap();
    }

    #[test]
    fn mix_kernel_validates() {
        let src = compose("//#include \"rd/flush.wgsl\"\n//#include \"assim/mix.wgsl\"\n");
        validate("assim.mix", &src).unwrap();
    }

    #[test]
    fn errors_carry_line_and_message() {
        let e = validate("bad", "fn f() -> f32 {\n  return 1.0 +;\n}\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.to_string().contains("bad"));
        let e = validate(
            "bad2",
            "fn f() -> f32 {\n  return vec2<f32>(1.0, 2.0);\n}\n",
        )
        .unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn float_literals_round_trip() {
        for x in [0.1f32, 1.0, 1e-5, 3.4e38, 2.5e-1] {
            let lit = f32_lit(x);
            let back: f32 = lit.trim_end_matches('f').parse().unwrap();
            assert_eq!(back, x);
        }
    }
}
