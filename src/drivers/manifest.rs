//! The manifest every output folder carries: what produced it (engine
//! version and commit, command line, scene and plan hashes, seed, backend,
//! adapter) and when. `io::RunDir::finish` adds the hashed `outputs` list.
//!
//! Owns: the manifest's keys (schema version 1). Never touches files.

use crate::core::plan::Plan;
use crate::engine::backend::Backend;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

pub const SCHEMA_VERSION: u32 = 1;

/// The git commit this binary was built from, if known.
pub fn commit() -> Option<&'static str> {
    option_env!("VTWIN_COMMIT")
}

pub fn engine_json() -> Value {
    json!(EngineInfo::current())
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `engine` key: what produced the folder.
#[derive(Clone, Debug, Serialize)]
pub struct EngineInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub commit: Option<&'static str>,
}

impl EngineInfo {
    pub fn current() -> EngineInfo {
        EngineInfo {
            name: "vtwin",
            version: env!("CARGO_PKG_VERSION"),
            commit: commit(),
        }
    }
}

/// The `scene` key: the scene file and its hash.
#[derive(Clone, Debug, Serialize)]
pub struct SceneRef {
    pub path: String,
    pub sha256: String,
}

/// The typed manifest of a job over one plan: the provenance keys
/// (schema version, engine, command, scene, plan hash, seed, backend,
/// adapter, members, arm, times, failures) and the command's own keys
/// (`extra`, flattened). `io::RunDir::finish` adds `outputs`; keys are
/// written sorted, so field order here does not change the file.
#[derive(Clone, Debug, Serialize)]
pub struct PlanManifest<X: Serialize> {
    pub schema_version: u32,
    pub engine: EngineInfo,
    pub command: Vec<String>,
    pub scene: SceneRef,
    pub plan_sha256: String,
    pub seed: u64,
    pub backend: String,
    pub adapter: Option<crate::engine::backend::AdapterSummary>,
    pub members: u32,
    pub arm: String,
    pub started: String,
    pub finished: String,
    pub members_failed: usize,
    #[serde(flatten)]
    pub extra: X,
}

impl<X: Serialize> PlanManifest<X> {
    /// The manifest of a job of `plan` on `backend` that started at
    /// `started` and finishes now.
    pub fn new(
        plan: &Plan,
        backend: &Backend,
        started: DateTime<Utc>,
        members_failed: usize,
        extra: X,
    ) -> PlanManifest<X> {
        PlanManifest {
            schema_version: SCHEMA_VERSION,
            engine: EngineInfo::current(),
            command: crate::drivers::checkpoint::Invocation::command_line(),
            scene: SceneRef {
                path: plan.scene_path.display().to_string(),
                sha256: plan.scene_sha256.clone(),
            },
            plan_sha256: plan.sha256.clone(),
            seed: plan.seed,
            backend: backend.name().to_string(),
            adapter: backend.adapter(),
            members: plan.members,
            arm: plan.arm.name.clone(),
            started: rfc3339(started),
            finished: rfc3339(now()),
            members_failed,
            extra,
        }
    }
}

/// The manifest of a run of `plan` as JSON. `extra` keys (an object) are
/// merged in.
pub fn for_plan(
    plan: &Plan,
    backend: &Backend,
    started: DateTime<Utc>,
    members_failed: usize,
    extra: Value,
) -> Value {
    // Strings, numbers and plain structs only: serialising cannot fail.
    let mut m = serde_json::to_value(PlanManifest::new(
        plan,
        backend,
        started,
        members_failed,
        (),
    ))
    .unwrap_or_default();
    if let (Some(obj), Value::Object(more)) = (m.as_object_mut(), extra) {
        obj.extend(more);
    }
    m
}
