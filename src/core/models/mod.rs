//! Model families. Each family implements [`Family`]: the scene sections it
//! reads as a typed config, what `vtwin models` prints for it, and how it
//! builds a frozen [`Model`] for one arm. A family returns [`KeyedError`]s
//! (a dotted scene key and a message); the scene-facing glue in
//! `core::model_scene` turns the key into file, line and column. `build`
//! turns a validated scene (and a chosen arm) into a model; `catalogue`
//! lists every family for `vtwin models`.
//!
//! Owns: the mapping from scene `model.kind` to an implementation. Never
//! imports wgpu.

pub mod abm;
pub mod custom;
pub mod lorenz;
pub mod rd;

use crate::core::model::{Model, ModelInfo};
use crate::input::params::{Distribution, ParamBlock, ParamSpec};
use crate::input::scene::{Arm, ModelKind, Scene, SceneError};

/// What a family reports about a scene: the dotted key it concerns
/// (`grid.nx`, `initial.background.y`) and what is wrong. The scene layer
/// adds the file, line and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("key `{key}`: {message}")]
pub struct KeyedError {
    pub key: String,
    pub message: String,
}

impl KeyedError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> KeyedError {
        KeyedError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// One model family (reaction–diffusion, agent-based, Lorenz).
pub trait Family {
    /// The scene sections the family reads, typed (the scene's own schema
    /// types, so a config can be read from the document as it stands).
    type Config: serde::de::DeserializeOwned;

    /// The entries `vtwin models` prints for the family, in catalogue order.
    fn describe() -> Vec<ModelInfo>;

    /// The description (parameters with defaults) of the kind `config` names.
    fn info(config: &Self::Config) -> Result<ModelInfo, KeyedError>;

    /// The model `config` describes, for one arm, with the scene's
    /// parameter block (see [`resolve_params`]) and step count.
    fn build(
        config: &Self::Config,
        block: &ParamBlock,
        arm: &Arm,
        steps: u64,
    ) -> Result<Box<dyn Model>, KeyedError>;
}

/// The parameter block a plan uses: the scene's parameters in file order,
/// then every model parameter the scene leaves out, fixed at its default.
/// Unknown parameters of built-in models are errors naming the key.
pub fn resolve_params(scene: &Scene, info: &ModelInfo) -> Result<ParamBlock, SceneError> {
    let mut block = scene.params.clone();
    // Parameters the scene uses outside the model: initial values that name
    // them and a calibration's error scale.
    let used_elsewhere = |name: &str| {
        scene.file.initial.param_refs().any(|r| r == name)
            || scene.file.calibrate_error_scale() == Some(name)
    };
    if scene.file.model.kind != ModelKind::Custom {
        for p in &block.params {
            if !info.params.iter().any(|q| q.name == p.name) && !used_elsewhere(&p.name) {
                return Err(scene.error_at(
                    &format!("parameters.{}", p.name),
                    format!(
                        "model `{}` has no parameter `{}`; it has {}",
                        info.kind,
                        p.name,
                        info.params
                            .iter()
                            .map(|q| q.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        for q in &info.params {
            if block.index_of(&q.name).is_none() {
                block.params.push(ParamSpec {
                    name: q.name.clone(),
                    dist: Distribution::Fixed(q.default),
                });
            }
        }
    }
    Ok(block)
}

/// Builds the model a scene describes, for one treatment arm.
pub fn build(
    scene: &Scene,
    block: &ParamBlock,
    arm: &Arm,
    steps: u64,
) -> Result<Box<dyn Model>, SceneError> {
    match scene.file.model.kind {
        ModelKind::Lorenz96 | ModelKind::Lorenz63 => {
            crate::core::model_scene::build::<lorenz::Lorenz>(scene, block, arm, steps)
        }
        ModelKind::TumourAbm => {
            crate::core::model_scene::build::<abm::Abm>(scene, block, arm, steps)
        }
        _ => Ok(Box::new(rd::RdModel::build(scene, block, arm, steps)?)),
    }
}

/// The treatment a model parameter acts through, for parameters that
/// change nothing in an arm without that treatment: `"rt"` for the
/// linear-quadratic radiosensitivities and `"chemo"` for the drug kill
/// rate of the `tumour` model, whose drug exists only through an arm's
/// `chemo` schedule. None for every other parameter (or model).
pub fn treatment_of(kind: &str, param: &str) -> Option<&'static str> {
    match (kind, param) {
        ("tumour", "alpha" | "beta") => Some("rt"),
        ("tumour", "kappa") => Some("chemo"),
        _ => None,
    }
}

/// The family's description (parameters with defaults) without a scene.
pub fn info_for(scene: &Scene) -> Result<ModelInfo, SceneError> {
    match scene.file.model.kind {
        ModelKind::Lorenz96 | ModelKind::Lorenz63 => {
            crate::core::model_scene::info::<lorenz::Lorenz>(scene)
        }
        ModelKind::TumourAbm => crate::core::model_scene::info::<abm::Abm>(scene),
        _ => rd::info_for_scene(scene),
    }
}

/// Every built-in family, for `vtwin models`.
pub fn catalogue() -> Vec<ModelInfo> {
    let mut all = vec![
        rd::kinetics::gray_scott_info(),
        rd::kinetics::tumour_info(),
        rd::kinetics::cardiac_info(),
        custom::custom_info_template(),
    ];
    all.extend(lorenz::Lorenz::describe());
    all.extend(abm::Abm::describe());
    all
}
