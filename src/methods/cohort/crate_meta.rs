//! RO-Crate 1.1 metadata (`ro-crate-metadata.json`) for a cohort folder.
//!
//! Owns: the JSON-LD graph: the metadata descriptor, the root `Dataset`
//! `./`, a `SoftwareApplication` for vtwin (name, version), a `CreateAction`
//! whose instrument is vtwin, whose `object` is the scene file and the
//! parameter settings, whose `result` is every data file, with start and end
//! times and `additionalProperty` values (seed, adapter, shard), and one
//! `File` entity per file with `@id` = path relative to the folder, `sha256`
//! and `contentSize`. Also re-checks hashes (`verify`). Reads files to hash
//! them; never writes any (the caller writes the JSON it gets).

use super::error::CohortError;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const METADATA_FILE: &str = "ro-crate-metadata.json";
pub const CONTEXT: &str = "https://w3id.org/ro/crate/1.1/context";
const CONFORMS_TO: &str = "https://w3id.org/ro/crate/1.1";

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A file of the crate, hashed.
#[derive(Clone, Debug, PartialEq)]
pub struct FileEntry {
    /// Path relative to the crate folder, `/`-separated.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// MIME type, e.g. `application/vnd.apache.parquet`.
    pub encoding_format: Option<String>,
    pub description: Option<String>,
}

impl FileEntry {
    /// Hashes `dir/rel`; the format is guessed from the extension.
    pub fn hash(dir: &Path, rel: &str) -> Result<FileEntry, CohortError> {
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|e| CohortError::file(&path, e))?;
        let ext = Path::new(rel)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        let format = match ext {
            "parquet" => Some("application/vnd.apache.parquet"),
            "csv" => Some("text/csv"),
            "json" => Some("application/json"),
            "toml" => Some("application/toml"),
            _ => None,
        };
        Ok(FileEntry {
            path: rel.to_string(),
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
            encoding_format: format.map(String::from),
            description: None,
        })
    }

    fn entity(&self) -> Value {
        let mut e = json!({
            "@id": self.path,
            "@type": "File",
            "name": self.path,
            "sha256": self.sha256,
            "contentSize": self.size.to_string(),
        });
        if let Some(f) = &self.encoding_format {
            e["encodingFormat"] = json!(f);
        }
        if let Some(d) = &self.description {
            e["description"] = json!(d);
        }
        e
    }
}

/// A named value (`PropertyValue` entity), e.g. seed or a parameter setting.
#[derive(Clone, Debug, PartialEq)]
pub struct Property {
    pub name: String,
    pub value: Value,
}

impl Property {
    pub fn new(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Property {
            name: name.into(),
            value: value.into(),
        }
    }
    fn id(&self, prefix: &str) -> String {
        format!("#{prefix}-{}", self.name)
    }
}

/// Everything the crate records about a cohort run.
#[derive(Clone, Debug)]
pub struct CrateInfo {
    pub name: String,
    pub description: String,
    pub license: Option<String>,
    pub software_version: String,
    /// e.g. `vtwin cohort`.
    pub action_name: String,
    pub scene: FileEntry,
    /// Parameter settings (objects of the action), e.g. `k` → its distribution.
    pub parameters: Vec<Property>,
    /// Every data file (results of the action).
    pub results: Vec<FileEntry>,
    pub seed: u64,
    /// The compute adapter that ran the simulation (GPU name or "cpu").
    pub adapter: String,
    /// Further run properties (shard, patients, scene hash...).
    pub properties: Vec<Property>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The JSON-LD document.
pub fn build(info: &CrateInfo) -> Value {
    let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let files: Vec<&FileEntry> = std::iter::once(&info.scene).chain(&info.results).collect();
    let id = |s: &str| json!({ "@id": s });
    let mut props = vec![
        Property::new("seed", info.seed.to_string()),
        Property::new("adapter", info.adapter.clone()),
    ];
    props.extend(info.properties.iter().cloned());
    let mut object = vec![id(&info.scene.path)];
    object.extend(info.parameters.iter().map(|p| id(&p.id("param"))));
    let mut root = json!({
        "@id": "./",
        "@type": "Dataset",
        "name": info.name,
        "description": info.description,
        "datePublished": time(&info.end),
        "hasPart": files.iter().map(|f| id(&f.path)).collect::<Vec<_>>(),
        "mentions": id("#run"),
    });
    if let Some(l) = &info.license {
        root["license"] = json!(l);
    }
    let mut graph = vec![
        json!({
            "@id": METADATA_FILE,
            "@type": "CreativeWork",
            "conformsTo": id(CONFORMS_TO),
            "about": id("./"),
        }),
        root,
        json!({
            "@id": "#vtwin",
            "@type": "SoftwareApplication",
            "name": "vtwin",
            "version": info.software_version,
        }),
        json!({
            "@id": "#run",
            "@type": "CreateAction",
            "name": info.action_name,
            "instrument": id("#vtwin"),
            "object": object,
            "result": info.results.iter().map(|f| id(&f.path)).collect::<Vec<_>>(),
            "startTime": time(&info.start),
            "endTime": time(&info.end),
            "additionalProperty": props.iter().map(|p| id(&p.id("prop"))).collect::<Vec<_>>(),
        }),
    ];
    graph.extend(files.iter().map(|f| f.entity()));
    let pv = |p: &Property, prefix: &str| json!({ "@id": p.id(prefix), "@type": "PropertyValue", "name": p.name, "value": p.value });
    graph.extend(info.parameters.iter().map(|p| pv(p, "param")));
    graph.extend(props.iter().map(|p| pv(p, "prop")));
    json!({ "@context": CONTEXT, "@graph": graph })
}

fn graph(meta: &Value) -> &[Value] {
    meta["@graph"].as_array().map_or(&[], |v| v.as_slice())
}

fn entity<'m>(meta: &'m Value, id: &str) -> Option<&'m Value> {
    graph(meta).iter().find(|e| e["@id"] == id)
}

/// The `@id`s the `CreateAction` lists as results.
pub fn result_ids(meta: &Value) -> Vec<String> {
    let action = graph(meta).iter().find(|e| e["@type"] == "CreateAction");
    action
        .and_then(|a| a["result"].as_array())
        .map(|r| {
            r.iter()
                .filter_map(|x| x["@id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The value of the run property `name` (seed, adapter, or an extra one).
pub fn property<'m>(meta: &'m Value, name: &str) -> Option<&'m Value> {
    graph(meta)
        .iter()
        .find(|e| {
            e["@type"] == "PropertyValue"
                && e["name"] == name
                && e["@id"].as_str().is_some_and(|i| i.starts_with("#prop-"))
        })
        .map(|e| &e["value"])
}

/// Reads `dir/ro-crate-metadata.json`.
pub fn read(dir: &Path) -> Result<Value, CohortError> {
    let path = dir.join(METADATA_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| CohortError::file(&path, e))?;
    serde_json::from_str(&text).map_err(|e| CohortError::Crate {
        path,
        message: e.to_string(),
    })
}

/// Re-hashes every `File` entity of the crate in `dir`; returns one line per
/// problem (missing file, missing or wrong `sha256`, a result without a File
/// entity). Empty when all is well.
pub fn verify(dir: &Path) -> Result<Vec<String>, CohortError> {
    let meta = read(dir)?;
    let mut problems = Vec::new();
    for r in result_ids(&meta) {
        if entity(&meta, &r).is_none_or(|e| e["@type"] != "File") {
            problems.push(format!("result `{r}` has no File entity"));
        }
    }
    for e in graph(&meta).iter().filter(|e| e["@type"] == "File") {
        let Some(id) = e["@id"].as_str() else {
            problems.push("a File entity has no @id".into());
            continue;
        };
        let Some(want) = e["sha256"].as_str() else {
            problems.push(format!("`{id}` has no sha256"));
            continue;
        };
        match std::fs::read(dir.join(id)) {
            Ok(bytes) if sha256_hex(&bytes) == want => {}
            Ok(_) => problems.push(format!("`{id}`: sha256 does not match the file")),
            Err(e) => problems.push(format!("`{id}`: {e}")),
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256 test vectors (FIPS 180-2): "" and "abc".
    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
