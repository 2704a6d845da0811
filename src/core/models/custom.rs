//! User-defined kinetics: a scene gives one expression per species over
//! species and parameter names. The expressions are parsed by
//! [`crate::core::expr`] into typed trees when the scene loads (errors name the
//! scene key, line and column); `models::rd` prints them as WGSL for the GPU
//! and evaluates the same trees on the CPU.
//!
//! Owns: the `custom` model's catalogue entry. Never imports wgpu.

use crate::core::model::{ModelInfo, ParamInfo};

/// A template entry for `vtwin models`.
pub fn custom_info_template() -> ModelInfo {
    ModelInfo {
        kind: "custom".into(),
        description: "User-defined reaction terms: expressions over named species and parameters \
                      (parsed once, run on both backends)"
            .into(),
        time_unit: "1".into(),
        length_unit: "1".into(),
        fields: Vec::new(),
        params: Vec::<ParamInfo>::new(),
    }
}
