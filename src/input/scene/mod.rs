//! Scenes: the TOML files under `scenes/` that describe a model, its grid,
//! time schedule, parameters, ensemble, treatment arms and observables.
//!
//! Owns: parsing (serde, `deny_unknown_fields`) and validation of a scene
//! into a typed [`Scene`]. Every error names the file, line and key.
//! Never touches the GPU and never decides numerics: `plan` freezes a scene
//! into what the engine runs.

pub mod assimilation;
mod locate;
pub mod model_error;
mod schema;
mod tissue;

pub use assimilation::{AssimilationSection, MethodName};
pub use locate::locate_key;
pub use schema::*;

use crate::input::params::{ParamBlock, ParamSpec};
use serde::Deserialize;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use sha2::{Digest, Sha256};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// A scene error: where (file, line, column, key path) and what.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for SceneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        if let Some(k) = &self.key {
            write!(f, ": key `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SceneError {}

/// A parsed, validated scene.
#[derive(Debug, Clone)]
pub struct Scene {
    pub path: PathBuf,
    pub source: String,
    pub sha256: String,
    pub file: SceneFile,
    pub params: ParamBlock,
}

impl Scene {
    /// Reads and validates a scene file.
    pub fn load(path: &Path) -> Result<Scene, SceneError> {
        let source = std::fs::read_to_string(path).map_err(|e| SceneError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message: format!("cannot read scene: {e}"),
        })?;
        Scene::parse(path, &source)
    }

    /// Parses and validates scene text; `path` is used in messages only.
    pub fn parse(path: &Path, source: &str) -> Result<Scene, SceneError> {
        let file: SceneFile = toml::from_str(source).map_err(|e| toml_error(path, source, &e))?;
        let params = ParamBlock {
            params: file
                .parameters
                .iter()
                .map(|(k, v)| ParamSpec {
                    name: k.clone(),
                    dist: v.clone(),
                })
                .collect(),
            correlations: file.correlations.clone(),
        };
        let sha256 = hex(&Sha256::digest(source.as_bytes()));
        let scene = Scene {
            path: path.to_path_buf(),
            source: source.to_string(),
            sha256,
            file,
            params,
        };
        schema::validate(&scene.file, &scene.params)
            .map_err(|(key, msg)| scene.error_at(&key, msg))?;
        Ok(scene)
    }

    /// An error attached to a dotted key path (`grid.nx`, `arms.1.rt.dose`),
    /// with the line and column of that key in the file when it is present.
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> SceneError {
        let pos = locate_key(&self.source, key);
        SceneError {
            path: self.path.clone(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    /// The top-level table `name` (`cohort`, `calibrate`, …) deserialised
    /// as `T`, or `None` when the scene has no such table. Errors name the
    /// file, line, column and key exactly as [`Scene::parse`] does: the
    /// scene keeps a method's section raw and the method parses it here.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, SceneError> {
        let de = toml::Deserializer::parse(&self.source)
            .map_err(|e| toml_error(&self.path, &self.source, &e))?;
        Section {
            name,
            _t: PhantomData,
        }
        .deserialize(de)
        .map_err(|e| toml_error(&self.path, &self.source, &e))
    }

    /// The arm to simulate: by name, or the first (the implicit untreated
    /// arm `none` when the scene lists none).
    pub fn arm(&self, name: Option<&str>) -> Result<Arm, SceneError> {
        let arms = self.arms();
        match name {
            None => Ok(arms[0].clone()),
            Some(n) => arms
                .iter()
                .find(|a| a.name == n)
                .cloned()
                .ok_or_else(|| SceneError {
                    path: self.path.clone(),
                    line: None,
                    column: None,
                    key: Some("arms".into()),
                    message: format!(
                        "no arm named `{n}`; the scene has {}",
                        arms.iter()
                            .map(|a| format!("`{}`", a.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
        }
    }

    /// Every arm of the scene; a scene without `[[arms]]` has one untreated
    /// arm named `none`.
    pub fn arms(&self) -> Vec<Arm> {
        if self.file.arms.is_empty() {
            vec![Arm {
                name: "none".into(),
                rt: None,
                chemo: None,
                doses: Vec::new(),
            }]
        } else {
            self.file.arms.clone()
        }
    }
}

/// A TOML error located at its span: line, column, the dotted key there
/// and the message (a duplicate key or table named).
fn toml_error(path: &Path, source: &str, e: &toml::de::Error) -> SceneError {
    let (line, column) = e
        .span()
        .map(|s| locate::line_col(source, s.start))
        .map_or((None, None), |(l, c)| (Some(l), Some(c)));
    SceneError {
        path: path.to_path_buf(),
        line,
        column,
        // A duplicate table header lies in no table: name it.
        key: locate::key_at(source, e.span().map(|s| s.start)).or_else(|| {
            e.span()
                .filter(|_| e.message().trim() == "duplicate key")
                .and_then(|s| duplicate_path(source, s))
        }),
        message: name_duplicate(source, e.span(), e.message().trim()),
    }
}

/// Deserialises one top-level table of a document and skips the rest, so
/// that errors inside it carry the same spans and keys as when the whole
/// scene is deserialised.
struct Section<'a, T> {
    name: &'a str,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Section<'_, T> {
    type Value = Option<T>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Section<'_, T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a scene table")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Option<T>, M::Error> {
        let mut out = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.name {
                out = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// toml's "duplicate key" names neither the key nor the table: add the
/// name from the source at the error's span.
fn name_duplicate(source: &str, span: Option<std::ops::Range<usize>>, msg: &str) -> String {
    let Some(span) = span.filter(|_| msg == "duplicate key") else {
        return msg.to_string();
    };
    let Some(name) = source
        .get(span.clone())
        .map(str::trim)
        .filter(|n| !n.is_empty())
    else {
        return msg.to_string();
    };
    let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let header = source[line_start..span.start].trim_start();
    if header.starts_with("[[") {
        format!(
            "duplicate table `{name}`: it is defined above as a table; use `[{name}]` or `[[{name}]]`, not both"
        )
    } else if header.starts_with('[') {
        format!("duplicate table `[{name}]`: a table may appear only once")
    } else {
        format!("duplicate key `{name}`: a key may appear only once in a table")
    }
}

/// The dotted path of a duplicate key or table at `span`: a table header
/// names itself; a key is prefixed with the header above it.
fn duplicate_path(source: &str, span: std::ops::Range<usize>) -> Option<String> {
    let name = source.get(span.clone())?.trim();
    let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
    if source[line_start..span.start].trim_start().starts_with('[') {
        return Some(name.to_string());
    }
    let header = source[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
        });
    Some(match header {
        Some(h) if !h.is_empty() => format!("{h}.{name}"),
        _ => name.to_string(),
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
