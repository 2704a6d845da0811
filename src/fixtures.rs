//! Embedded scenes and the helpers that run them, shared by the
//! verification suite (`verify`, which re-exports them) and the unit tests:
//! short-horizon scenes of every model, the decaying Gray–Scott case of the
//! subnormal check, and parse / freeze / run-to-end without files. Keeping
//! them here means a unit test needs no part of the `vtwin verify` driver.

use crate::core::plan::{Plan, PlanOptions};
use crate::engine::EngineError;
use crate::engine::backend::Backend;
use crate::input::scene::Scene;
use std::path::Path;

/// Parses an embedded verification scene.
pub fn scene(name: &str, text: &str) -> Scene {
    Scene::parse(Path::new(&format!("<verify:{name}>")), text)
        .unwrap_or_else(|e| panic!("embedded verification scene is invalid: {e}"))
}

pub fn plan(s: &Scene, members: Option<u32>) -> Plan {
    Plan::freeze(
        s,
        &PlanOptions {
            members,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("embedded verification plan is invalid: {e}"))
}

/// Advances and returns the final state.
pub fn run_to_end(
    backend: &Backend,
    plan: &Plan,
    batch: Option<u32>,
) -> Result<Vec<f32>, EngineError> {
    let mut e = backend.engine(plan, batch)?;
    e.advance(plan.steps)?;
    e.read_state()
}

/// Short-horizon scenes of every model for GPU–CPU comparison.
pub fn model_scenes() -> Vec<(&'static str, String)> {
    vec![
        (
            "gray_scott",
            r#"
[model]
kind = "gray_scott"
[grid]
nx = 32
ny = 24
dx = 0.0390625
[time]
dt = 1.0
steps = 60
[ensemble]
members = 6
seed = 3
[parameters]
Du = 2e-5
Dv = 1e-5
F = { dist = "uniform", low = 0.03, high = 0.05 }
k = { dist = "uniform", low = 0.055, high = 0.065 }
[initial]
background = { u = 1.0, v = 0.0 }
patches = [{ shape = "square", center = [0.625, 0.47], size = 0.12, values = { u = 0.5, v = 0.25 } }]
noise = 0.02
noise_species = ["u", "v"]
"#
            .to_string(),
        ),
        (
            "tumour",
            r#"
[model]
kind = "tumour"
[grid]
nx = 32
ny = 32
dx = 1.0
boundary = "noflux"
[time]
dt = 0.1
steps = 80
[ensemble]
members = 5
seed = 4
[parameters]
D = { dist = "loguniform", low = 0.01, high = 0.1 }
k = { dist = "uniform", low = 0.05, high = 0.1 }
[tissue]
generate = { kind = "blobs", contrast = 0.5, scale = 6.0, seed = 2 }
[initial]
patches = [{ shape = "gaussian", center = [16.0, 16.0], size = 3.0, values = { N = 0.6 } }]
[[arms]]
name = "rt_chemo"
rt = { times = [2.0, 5.0], dose = 2.0 }
chemo = { times = [1.0], dose = 1.0, decay = 0.5 }
"#
            .to_string(),
        ),
        (
            "cardiac",
            r#"
[model]
kind = "cardiac"
[grid]
nx = 32
ny = 32
dx = 0.5
boundary = "noflux"
[time]
dt = 0.02
steps = 100
[ensemble]
members = 4
seed = 5
[parameters]
D = { dist = "uniform", low = 0.8, high = 1.2 }
[[stimulus]]
start = 0.0
duration = 1.0
amplitude = 1.0
region = [0.0, 0.0, 2.0, 16.0]
"#
            .to_string(),
        ),
        (
            "custom",
            r#"
[model]
kind = "custom"
species = ["u", "v"]
reactions = { u = "a - u + u * u * v", v = "b - u * u * v" }
diffusion = { u = "Du", v = "Dv" }
[grid]
nx = 24
ny = 24
dx = 1.0
[time]
dt = 0.01
steps = 100
[ensemble]
members = 4
seed = 6
[parameters]
a = 0.1
b = { dist = "uniform", low = 0.8, high = 1.0 }
Du = 1.0
Dv = 20.0
[initial]
background = { u = 1.0, v = 0.9 }
noise = 0.1
noise_species = ["u", "v"]
"#
            .to_string(),
        ),
    ]
}

/// Gray–Scott with nothing to feed v (no patch, F + k = 0.1): v decays by
/// 0.9 per step from noise of 0.02 and is below f32's smallest normal
/// (1.2e-38) after about 750 steps, so 800 steps cross the range where,
/// without the flush of stored values, it would turn subnormal.
pub const DECAYING_GRAY_SCOTT: &str = r#"
[model]
kind = "gray_scott"
[grid]
nx = 16
ny = 16
dx = 0.0390625
[time]
dt = 1.0
steps = 800
[ensemble]
members = 4
seed = 3
[parameters]
Du = 2e-5
Dv = 1e-5
F = 0.04
k = 0.06
[initial]
background = { u = 1.0, v = 0.0 }
noise = 0.02
noise_species = ["v"]
"#;
