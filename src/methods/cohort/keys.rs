//! Keyed random draws for cohorts: every number is a pure function of
//! (seed, patient, purpose, site, step), computed with the engine's
//! counter-based Philox4x32-10 (`crate::core::rng`).
//!
//! Owns: how cohort draws map onto Philox counters. The 128-bit counter is
//! `[site, patient, step, stream]`, where `site` names what is drawn (a hash of
//! the covariate, parameter or observable name, so adding one never shifts the
//! others), `step` is a visit index, and `stream` is the engine's `Stream`
//! code (`Params`, `ObsNoise`, `Method`) with the purpose in bits 8–15 and a
//! cohort tag in bits 16–31, so cohort draws never coincide with engine draws.
//! The treatment arm is never part of the key: all arms of a patient share
//! their random numbers. Never holds state.

use crate::core::rng::{self, Stream};
use crate::input::params::{UNIT_EPS, norm_ppf};

/// What a draw is for; each purpose is an independent stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    Covariate = 1,
    Param = 2,
    Arm = 3,
    Jitter = 4,
    Noise = 5,
    Mcar = 6,
    Mar = 7,
    Select = 8,
}

/// Bits 16–31 of the stream word for every cohort draw ("CO").
const COHORT_TAG: u32 = 0x434F;

fn stream_word(p: Purpose) -> u32 {
    let base = match p {
        Purpose::Param => Stream::Params,
        Purpose::Jitter | Purpose::Noise | Purpose::Mcar | Purpose::Mar => Stream::ObsNoise,
        Purpose::Covariate | Purpose::Arm | Purpose::Select => Stream::Method,
    };
    (COHORT_TAG << 16) | ((p as u32) << 8) | base as u32
}

/// The `site` of a named quantity: 32-bit FNV-1a of its name.
pub fn site_of(name: &str) -> u32 {
    name.bytes().fold(0x811C_9DC5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// A uniform in (0, 1).
pub fn uniform(seed: u64, patient: u32, purpose: Purpose, site: u32, step: u32) -> f64 {
    rng::uniform_f64(seed, site, patient, step, stream_word(purpose))
}

/// A standard normal by inverse CDF of the keyed uniform (one uniform per
/// normal, so the draw for a visit never depends on any other visit).
pub fn normal(seed: u64, patient: u32, purpose: Purpose, site: u32, step: u32) -> f64 {
    norm_ppf(uniform(seed, patient, purpose, site, step).clamp(UNIT_EPS, 1.0 - UNIT_EPS))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a 32 reference values (Fowler–Noll–Vo test suite): "" and "a".
    #[test]
    fn fnv1a_matches_reference_values() {
        assert_eq!(site_of(""), 0x811C_9DC5);
        assert_eq!(site_of("a"), 0xE40C_292C);
        assert_eq!(site_of("foobar"), 0xBF9C_F968);
    }

    #[test]
    fn purposes_are_distinct_streams() {
        let a = uniform(1, 5, Purpose::Noise, 7, 2);
        let b = uniform(1, 5, Purpose::Mcar, 7, 2);
        assert_ne!(a, b);
        assert_eq!(a, uniform(1, 5, Purpose::Noise, 7, 2));
        for p in [
            Purpose::Covariate,
            Purpose::Param,
            Purpose::Jitter,
            Purpose::Select,
        ] {
            assert!(
                stream_word(p) > 0xFFFF,
                "tagged stream words never equal an engine stream"
            );
        }
    }
}
