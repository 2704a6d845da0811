//! Model error for data assimilation: process noise on states and
//! random-walk drift of estimated parameters (`[assimilation.model_error]`,
//! docs/assimilation.md).
//!
//! - **Process noise** is applied inside the step kernel of models with
//!   user kinetics, after the deterministic explicit-Euler update, at every
//!   site of the named species:
//!   - `additive`: x ← x + σ·√dt·ξ (Euler–Maruyama for dx = f dt + σ dW),
//!     so with f = 0 the variance grows as σ²t;
//!   - `multiplicative`: x ← x·exp(σ·√dt·ξ − σ²dt/2), Gaussian noise on
//!     log x (dx = f dt + σ x dW in the Stratonovich-free log form, mean
//!     preserving, sign preserving), so with f = 0 the variance of log x
//!     grows as σ²t.
//!
//!   ξ is a standard normal drawn from Philox counter
//!   (species·sites + site, global member, step, `Stream::Dynamics`) and
//!   the run seed, by Box–Muller in f32 on both backends (`normal_f32`
//!   here, `philox_normal` in `shaders/shared/philox.wgsl`).
//! - **Parameter drift** is a random walk θ ← θ + τ·√Δt·ξ applied by the
//!   host between analyses ([`drift_params`]), ξ from counter
//!   (`DRIFT_SITE` + parameter index, global member, cycle,
//!   `Stream::Dynamics`).
//!
//! Owns: the f32 noise draw both backends share and the drift step; the
//! section's schema and checks are the scene layer's
//! (`input::scene::model_error`). Never imports wgpu.

use crate::core::rng::{self, Stream};

pub use crate::input::scene::model_error::{ModelErrorSection, NoiseKind, ProcessNoise};

/// Counter site of parameter drift draws: far above any grid site index
/// (grids have at most 8192² sites per species).
pub const DRIFT_SITE: u32 = 0xF000_0000;

/// σ·√dt and σ²·dt/2 rounded once to f32: the constants both backends use.
pub fn noise_constants(sigma: f64, dt: f64) -> (f32, f32) {
    (
        (sigma * dt.sqrt()) as f32,
        (0.5 * sigma * sigma * dt) as f32,
    )
}

/// The standard normal of one Philox output, in f32 by Box–Muller:
/// u₁ = (top 24 bits of r₀ + ½)/2²⁴ ∈ (0, 1), u₂ = top 24 bits of r₁ / 2²⁴,
/// ξ = √(−2 ln u₁)·cos(2π u₂). Mirrors `philox_normal` in
/// `shaders/shared/philox.wgsl` operation by operation (the last bits of
/// `ln` and `cos` may differ between libm and a GPU driver).
#[inline]
pub fn normal_f32(r: [u32; 4]) -> f32 {
    let u1 = ((r[0] >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0);
    let u2 = (r[1] >> 8) as f32 * (1.0 / 16_777_216.0);
    (-2.0 * u1.ln()).sqrt() * (6.283_185_5 * u2).cos()
}

/// The process-noise draw at (state word `word` of a member = species ·
/// sites + site, global member, step).
#[inline]
pub fn state_noise(seed: u64, word: u32, member: u32, step: u32) -> f32 {
    normal_f32(rng::draw4(
        seed,
        word,
        member,
        step,
        Stream::Dynamics as u32,
    ))
}

/// One random-walk step of estimated parameters over `dt_cycle` model time
/// units: `params[m][k] += τₖ·√dt_cycle·ξ` for every member m (global
/// index `member_offset + m`) and every `(k, τₖ)` in `drift` (k the
/// column in the rows). `cycle` numbers the analysis cycle, so each cycle
/// draws afresh; results depend only on (seed, member, parameter, cycle).
pub fn drift_params(
    seed: u64,
    cycle: u32,
    member_offset: u32,
    dt_cycle: f64,
    drift: &[(usize, f64)],
    params: &mut [Vec<f64>],
) {
    let s = dt_cycle.max(0.0).sqrt();
    for (m, row) in params.iter_mut().enumerate() {
        let member = member_offset + m as u32;
        for &(k, tau) in drift {
            let z = rng::normal2_f64(
                seed,
                DRIFT_SITE + k as u32,
                member,
                cycle,
                Stream::Dynamics as u32,
            )[0];
            row[k] += tau * s * z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `normal_f32` gives unit-variance, zero-mean draws (20,000 draws:
    /// mean within 4·σ/√n, variance within 4·√(2/n) of 1).
    #[test]
    fn normal_draws_are_standard() {
        let n = 20_000;
        let z: Vec<f64> = (0..n).map(|i| state_noise(9, i, 3, 7) as f64).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!(mean.abs() < 4.0 / (n as f64).sqrt(), "mean {mean}");
        assert!(
            (var - 1.0).abs() < 4.0 * (2.0 / n as f64).sqrt(),
            "var {var}"
        );
        assert!(z.iter().all(|x| x.is_finite()));
    }

    /// Drift: after K cycles of Δt the spread of a parameter over members
    /// has variance τ²KΔt (4,000 members, within 4 standard errors), and
    /// undrifted columns are untouched.
    #[test]
    fn drift_variance_grows_linearly() {
        let members = 4_000;
        let mut p = vec![vec![1.0, 2.0]; members];
        for c in 0..10 {
            drift_params(3, c, 0, 0.5, &[(1, 0.2)], &mut p);
        }
        assert!(p.iter().all(|r| r[0] == 1.0));
        let n = members as f64;
        let mean = p.iter().map(|r| r[1]).sum::<f64>() / n;
        let var = p.iter().map(|r| (r[1] - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let expect = 0.04 * 10.0 * 0.5;
        assert!(
            (var / expect - 1.0).abs() < 4.0 * (2.0 / n).sqrt(),
            "var {var} vs {expect}"
        );
    }

    #[test]
    fn section_checks() {
        let s: ModelErrorSection =
            toml::from_str("process = [{ species = \"u\", sigma = -1, kind = \"additive\" }]")
                .unwrap();
        assert_eq!(s.validate().unwrap_err().0, "process.0.sigma");
        let s: ModelErrorSection = toml::from_str("drift = { k = nan }").unwrap();
        assert_eq!(s.validate().unwrap_err().0, "drift.k");
        assert!(
            toml::from_str::<ModelErrorSection>(
                "process = [{ species = \"u\", sigma = 1, kind = \"lognormal\" }]"
            )
            .is_err()
        );
    }
}
