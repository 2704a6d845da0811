//! Host-side mirrors of WGSL structs (`#[repr(C)]`, bytemuck `Pod`). One
//! source of truth: a test compares each with naga's layout of the WGSL.

use bytemuck::{Pod, Zeroable};

/// Keep in sync with `struct Step` in `shaders/shared/step.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable, PartialEq)]
pub struct StepUniform {
    pub step: u32,
    pub member_offset: u32,
    pub members: u32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    pub t: f32,
    /// Steps the dispatch takes (read by the fused kernel only; 0
    /// elsewhere). Formerly a padding word: same offset, same layout.
    pub steps_per_dispatch: u32,
    pub pad1: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::shaders;

    /// Sizes and member offsets of `Step` as naga lays it out equal the Rust
    /// struct's, and every kernel takes `Step` from the one shared file.
    #[test]
    fn step_uniform_matches_wgsl() {
        for file in ["shared/bindings.wgsl", "shared/observe.wgsl"] {
            assert!(
                shaders::source(file).contains("//#include \"shared/step.wgsl\""),
                "{file} declares Step itself"
            );
        }
        {
            let file = "shared/step.wgsl";
            let (module, _) = shaders::validate(file, shaders::source(file)).unwrap();
            let ty = module
                .types
                .iter()
                .find(|(_, t)| t.name.as_deref() == Some("Step"))
                .map(|(_, t)| t.clone())
                .expect("Step declared");
            let naga::TypeInner::Struct { members, span } = ty.inner else {
                panic!("Step is a struct")
            };
            assert_eq!(span as usize, std::mem::size_of::<StepUniform>(), "{file}");
            let offs: Vec<(String, u32)> = members
                .iter()
                .map(|m| (m.name.clone().unwrap(), m.offset))
                .collect();
            let expect = [
                ("step", std::mem::offset_of!(StepUniform, step)),
                (
                    "member_offset",
                    std::mem::offset_of!(StepUniform, member_offset),
                ),
                ("members", std::mem::offset_of!(StepUniform, members)),
                ("seed_lo", std::mem::offset_of!(StepUniform, seed_lo)),
                ("seed_hi", std::mem::offset_of!(StepUniform, seed_hi)),
                ("t", std::mem::offset_of!(StepUniform, t)),
                (
                    "steps_per_dispatch",
                    std::mem::offset_of!(StepUniform, steps_per_dispatch),
                ),
                ("pad1", std::mem::offset_of!(StepUniform, pad1)),
            ];
            for ((n, o), (en, eo)) in offs.iter().zip(expect) {
                assert_eq!((n.as_str(), *o as usize), (en, eo), "{file}");
            }
        }
    }
}
