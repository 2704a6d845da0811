//! Parameter blocks: the `[parameters]` table shared by scenes, designs,
//! calibration and cohorts.
//!
//! Owns: parsing a parameter (fixed value or distribution), validating it,
//! and mapping a point of the unit cube to parameter values through each
//! distribution's inverse CDF (with an optional Gaussian copula for
//! correlations). Never touches the file system or the GPU.
//!
//! - `distribution`: the distributions, their checks, inverse CDFs and CDFs;
//! - `decode`: a distribution from its TOML form (number or `dist` table);
//! - `block`: the ordered parameter block and its unit-cube mapping;
//! - `copula`: correlations through a Gaussian copula.

mod block;
mod copula;
mod decode;
mod distribution;

pub use block::{ParamBlock, ParamSpec};
pub use copula::Correlation;
pub use distribution::{Distribution, UNIT_EPS, norm_cdf, norm_ppf};

message_error!(
    /// A parameter distribution, copula or block that is not valid.
    pub ParamError
);
