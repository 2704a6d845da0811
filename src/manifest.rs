//! The manifest every output folder carries: what produced it (engine
//! version and commit, command line, scene and plan hashes, seed, backend,
//! adapter) and when. `io::RunDir::finish` adds the hashed `outputs` list.
//!
//! Owns: the manifest's keys (schema version 1). Never touches files.

use crate::backend::Backend;
use crate::plan::Plan;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

pub const SCHEMA_VERSION: u32 = 1;

/// The git commit this binary was built from, if known.
pub fn commit() -> Option<&'static str> {
    option_env!("VTWIN_COMMIT")
}

pub fn engine_json() -> Value {
    json!({ "name": "vtwin", "version": env!("CARGO_PKG_VERSION"), "commit": commit() })
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The manifest of a run of `plan`. `extra` keys are merged in.
pub fn for_plan(
    plan: &Plan,
    backend: &Backend,
    started: DateTime<Utc>,
    members_failed: usize,
    extra: Value,
) -> Value {
    let mut m = json!({
        "schema_version": SCHEMA_VERSION,
        "engine": engine_json(),
        "command": crate::checkpoint::Invocation::command_line(),
        "scene": { "path": plan.scene_path.display().to_string(), "sha256": plan.scene_sha256 },
        "plan_sha256": plan.sha256,
        "seed": plan.seed,
        "backend": backend.name(),
        "adapter": backend.adapter(),
        "members": plan.members,
        "arm": plan.arm.name,
        "started": rfc3339(started),
        "finished": rfc3339(now()),
        "members_failed": members_failed,
    });
    if let (Some(obj), Value::Object(more)) = (m.as_object_mut(), extra) {
        obj.extend(more);
    }
    m
}
