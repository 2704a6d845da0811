//! Data assimilation: the host-side analysis core.
//!
//! The forecast runs elsewhere (the GPU engine, or a CPU reference model);
//! this module owns the *analysis*: given the observation operator applied to
//! every member (`ObsBatch::hx`, m × N) it computes, in f64 and in ensemble
//! space, how the members must be recombined. Every method ends in a
//! [`Transform`]: a global N × N right-multiplier (EnKF, ETKF), one per state
//! point (LETKF), or a copy-and-jitter plan (particle filter). A host ensemble
//! (n × N, one column per member) is updated by [`Transform::apply`]; the GPU
//! engine applies the same numbers to its buffers without reading states back.
//!
//! Owns: the filters (`enkf`, `etkf`, `letkf`, `pf`), localisation tapers,
//! inflation and rotation, joint state–parameter augmentation, the
//! observation-file parser, and a CPU twin-experiment testbed with Lorenz-63 and
//! Lorenz-96 reference integrators used by the benchmark tests.
//!
//! Must not touch: wgpu, the engine, scenes or files other than the
//! observation CSV handed to [`obs_file`]. Nothing here keeps global state;
//! all randomness comes from the caller's seeded generator.

mod dense;
mod enkf;
mod error;
mod etkf;
mod filter;
pub mod gauss;
pub mod inflation;
pub mod joint;
mod letkf;
pub mod localize;
pub mod lorenz;
mod obs;
pub mod obs_file;
pub mod obs_op;
mod pf;
pub mod stats;
pub mod testbed;
mod transform;

pub use error::AssimError;
pub use etkf::etkf_transform;
pub use filter::{
    AnalysisForm, AnalysisReport, Filter, FilterConfig, LetkfConfig, Method, PfConfig,
};
pub use letkf::local_transforms;
pub use localize::GaspariCohn;
pub use obs::{Domain, ObsBatch, Site};
pub use pf::{ENSEMBLE_JITTER_MAX, Jitter, ParticleUpdate, systematic_resample};
pub use transform::{AnomalyWeights, EnsembleTransform, Transform};
