//! Model families. Each family implements [`Family`]: the scene sections it
//! reads as a typed config, what `vtwin models` prints for it, and how it
//! builds a frozen [`Model`] for one arm. A family returns [`KeyedError`]s
//! (a dotted scene key and a message); the scene-facing glue in
//! `core::model_scene` turns the key into file, line and column and
//! dispatches on `model.kind` (`model_scene::build`, `info_for`,
//! `resolve_params`); `catalogue` lists every family for `vtwin models`.
//!
//! Owns: the `Family` trait, `KeyedError`, the catalogue, `treatment_of` and
//! `no_custom_keys` (the check every built-in kind shares);
//! the mapping from `model.kind` to a family is `core::model_scene`. Never
//! imports wgpu.

pub mod abm;
pub mod custom;
pub mod lorenz;
pub mod rd;

use crate::core::model::{Model, ModelInfo};
use crate::input::params::ParamBlock;
use crate::input::scene::{Arm, ModelSection};

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

/// Refuses the `[model]` keys only a custom model takes (`species`,
/// `reactions`, `diffusion`), at the first one set.
pub fn no_custom_keys(m: &ModelSection) -> Result<(), KeyedError> {
    for (key, set) in [
        ("species", !m.species.is_empty()),
        ("reactions", !m.reactions.is_empty()),
        ("diffusion", !m.diffusion.is_empty()),
    ] {
        if set {
            return Err(KeyedError::new(
                format!("model.{key}"),
                format!("`{key}` is only for kind = \"custom\""),
            ));
        }
    }
    Ok(())
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

/// Every built-in family, for `vtwin models`.
pub fn catalogue() -> Vec<ModelInfo> {
    let mut all = rd::Rd::describe();
    all.extend(lorenz::Lorenz::describe());
    all.extend(abm::Abm::describe());
    all
}
