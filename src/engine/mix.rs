//! Ensemble-space transforms applied to member states where they live
//! (`Engine::mix_members`), and the CPU twin of `shaders/assim/mix.wgsl`.
//!
//! A `MemberMix` is what an analysis asks of the engine: over the state
//! words `words` of every member, E_a = x̄ 1ᵀ + X' T with T = w 1ᵀ + W and W
//! dense or α I + L Rᵀ (the forms of `assim::transform`, in plain vectors so
//! that engines need not know the filters). Members whose status is not ok
//! are excluded: they take no part in the mean or the products, and keep
//! their state word for word; the transform's rows and columns for them are
//! ignored.
//!
//! Owns: the description, its checks, and the f32 reference whose passes and
//! summation order (members in global order, one running sum per word) the
//! kernel follows, so the result never depends on the batch layout. Never
//! imports wgpu.

use std::ops::Range;

use super::{EngineError, MemberStatus};

/// The anomaly weights W.
#[derive(Clone, Debug, PartialEq)]
pub enum MixWeights {
    /// W, N × N, column-major (W[j, m] at `m * N + j`).
    Dense(Vec<f64>),
    /// W = `scale` I + L Rᵀ with L and R N × `rank`, column-major.
    LowRank {
        scale: f64,
        rank: usize,
        left: Vec<f64>,
        right: Vec<f64>,
    },
}

/// One transform for the state words `words` of every member.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberMix {
    pub words: Range<usize>,
    /// Mean weights w (N).
    pub w: Vec<f64>,
    pub anomaly: MixWeights,
    /// (lo, hi) per word of `words` (clamps); empty: none.
    pub bounds: Vec<(f32, f32)>,
}

/// How an engine applied a `MemberMix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixOutcome {
    /// Whether the states were read back to the host for it.
    pub read_back: bool,
    /// Why, when they were.
    pub reason: Option<String>,
}

impl MixOutcome {
    pub fn on_device() -> Self {
        MixOutcome {
            read_back: false,
            reason: None,
        }
    }

    pub fn on_host(reason: impl Into<String>) -> Self {
        MixOutcome {
            read_back: true,
            reason: Some(reason.into()),
        }
    }
}

impl MemberMix {
    pub fn members(&self) -> usize {
        self.w.len()
    }

    /// Checks sizes against `members` members of `state_len` words.
    pub fn check(&self, members: usize, state_len: usize) -> Result<(), EngineError> {
        let bad = |what: String| Err(EngineError::Invalid(format!("mix_members: {what}")));
        let n = self.members();
        if n != members {
            return bad(format!("transform for {n} members, engine has {members}"));
        }
        if self.words.start > self.words.end || self.words.end > state_len {
            return bad(format!(
                "words {}..{} outside the state's {state_len}",
                self.words.start, self.words.end
            ));
        }
        if !self.bounds.is_empty() && self.bounds.len() != self.words.len() {
            return bad(format!(
                "{} bounds for {} words",
                self.bounds.len(),
                self.words.len()
            ));
        }
        match &self.anomaly {
            MixWeights::Dense(w) if w.len() != n * n => bad(format!("dense W of {}", w.len())),
            MixWeights::LowRank {
                rank, left, right, ..
            } if left.len() != n * rank || right.len() != n * rank => {
                bad(format!("low-rank factors for rank {rank}"))
            }
            _ => Ok(()),
        }
    }

    /// Coefficient columns of the projection pass (`kc`) and right factor
    /// columns (`kr`).
    pub fn columns(&self) -> (usize, usize) {
        match &self.anomaly {
            MixWeights::Dense(_) => (self.members(), 0),
            MixWeights::LowRank { rank, .. } => (rank + 1, *rank),
        }
    }

    /// The f32 coefficients the kernel reads: C (N × kc, member-major:
    /// C[m, c] at `m * kc + c`), then R (N × kr, member-major).
    pub fn coefficients(&self) -> Vec<f32> {
        let n = self.members();
        let (kc, kr) = self.columns();
        let mut out = Vec::with_capacity(n * (kc + kr));
        match &self.anomaly {
            MixWeights::Dense(big_w) => {
                for j in 0..n {
                    for m in 0..n {
                        out.push((self.w[j] + big_w[m * n + j]) as f32);
                    }
                }
            }
            MixWeights::LowRank { left, right, .. } => {
                for j in 0..n {
                    out.push(self.w[j] as f32);
                    for l in 0..kr {
                        out.push(left[l * n + j] as f32);
                    }
                }
                for j in 0..n {
                    for l in 0..kr {
                        out.push(right[l * n + j] as f32);
                    }
                }
            }
        }
        out
    }

    /// (lo, hi) per mixed word as the kernel reads them (±f32::MAX: none).
    pub fn bounds_f32(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(2 * self.words.len());
        for r in 0..self.words.len() {
            let (lo, hi) = self.bounds.get(r).copied().unwrap_or((f32::MIN, f32::MAX));
            out.push(lo);
            out.push(hi);
        }
        out
    }

    /// α of the low-rank form (0 when dense).
    pub fn alpha(&self) -> f32 {
        match &self.anomaly {
            MixWeights::Dense(_) => 0.0,
            MixWeights::LowRank { scale, .. } => *scale as f32,
        }
    }
}

/// Number of ok members and the scale factors 1/n and 1/(n − 1) the kernel
/// uses (0 where undefined).
pub fn scales(status: &[MemberStatus]) -> (usize, f32, f32) {
    let n = status.iter().filter(|s| s.is_ok()).count();
    let inv_n = if n > 0 { (1.0 / n as f64) as f32 } else { 0.0 };
    let inv_dof = if n > 1 {
        (1.0 / (n - 1) as f64) as f32
    } else {
        0.0
    };
    (n, inv_n, inv_dof)
}

/// Per-word mean and variance (divisor n_ok − 1) over the ok members of a
/// member-major state (`state_len` words per member), words `words`: the CPU
/// twin of `mix_mean` and `mix_var`.
pub fn moments(
    state: &[f32],
    state_len: usize,
    status: &[MemberStatus],
    words: Range<usize>,
) -> (Vec<f32>, Vec<f32>) {
    let (_, inv_n, inv_dof) = scales(status);
    let nw = words.len();
    let ok: Vec<usize> = (0..status.len()).filter(|&m| status[m].is_ok()).collect();
    let x = |m: usize, i: usize| state[m * state_len + words.start + i];
    let mean: Vec<f32> = (0..nw)
        .map(|i| {
            let mut s = 0.0f32;
            for &m in &ok {
                s += x(m, i);
            }
            s * inv_n
        })
        .collect();
    let var = (0..nw)
        .map(|i| {
            let mut s = 0.0f32;
            for &m in &ok {
                let d = x(m, i) - mean[i];
                s += d * d;
            }
            s * inv_dof
        })
        .collect();
    (mean, var)
}

/// The CPU twin of the kernel's passes: applies `mix` to a member-major
/// state in place, in f32, in the kernel's order.
pub fn apply_f32(
    state: &mut [f32],
    state_len: usize,
    status: &[MemberStatus],
    mix: &MemberMix,
) -> Result<(), EngineError> {
    mix.check(status.len(), state_len)?;
    let words = mix.words.clone();
    let nw = words.len();
    let (mean, _) = moments(state, state_len, status, words.clone());
    let ok: Vec<usize> = (0..status.len()).filter(|&m| status[m].is_ok()).collect();
    let (kc, kr) = mix.columns();
    let coef = mix.coefficients();
    let bounds = mix.bounds_f32();
    let alpha = mix.alpha();
    let x = |s: &[f32], m: usize, i: usize| s[m * state_len + words.start + i];
    // B[c * nw + i] = Σ_m (x_mi − x̄_i) C[m, c], members in order.
    let mut b = vec![0.0f32; kc * nw];
    for c in 0..kc {
        for i in 0..nw {
            let mut s = 0.0f32;
            for &m in &ok {
                s += (x(state, m, i) - mean[i]) * coef[m * kc + c];
            }
            b[c * nw + i] = s;
        }
    }
    let dense = matches!(mix.anomaly, MixWeights::Dense(_));
    let right = &coef[status.len() * kc..];
    for &m in &ok {
        for r in 0..nw {
            let at = m * state_len + words.start + r;
            let v = state[at];
            let mut out = if dense {
                mean[r] + b[m * nw + r]
            } else {
                (mean[r] + b[r]) + alpha * (v - mean[r])
            };
            for l in 0..kr {
                out += b[(1 + l) * nw + r] * right[m * kr + l];
            }
            out = out.clamp(bounds[2 * r], bounds[2 * r + 1]);
            state[at] = crate::core::models::rd::cpu::flush_tiny(out);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::gauss::std_normal_matrix;
    use crate::methods::assim::{AnomalyWeights, EnsembleTransform};
    use nalgebra::{DMatrix, DVector};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// The f32 twin equals the f64 host application
    /// (`EnsembleTransform::apply`) to 20 N ε of the largest value, for
    /// both forms, with member 2 failed (left out and untouched) and a clamp
    /// on the first word.
    #[test]
    fn twin_matches_host_transform() {
        let mut rng = StdRng::seed_from_u64(5);
        let (rows, n, k) = (30, 9, 2);
        let e = std_normal_matrix(&mut rng, rows, n);
        let state: Vec<f32> = e.iter().map(|&v| v as f32).collect();
        let mut status = vec![MemberStatus::Ok; n];
        status[2] = MemberStatus::Diverged { step: 3 };
        let ok: Vec<usize> = (0..n).filter(|&m| m != 2).collect();
        let w = std_normal_matrix(&mut rng, n, 1).column(0).into_owned() * 0.2;
        let (left, right) = (
            std_normal_matrix(&mut rng, n, k),
            std_normal_matrix(&mut rng, n, k),
        );
        let dense = DMatrix::identity(n, n) + std_normal_matrix(&mut rng, n, n) * 0.2;
        for is_dense in [false, true] {
            let (t, anomaly) = if is_dense {
                (
                    AnomalyWeights::Dense(dense.select_rows(&ok).select_columns(&ok)),
                    MixWeights::Dense(dense.as_slice().to_vec()),
                )
            } else {
                (
                    AnomalyWeights::LowRank {
                        scale: 0.7,
                        left: left.select_rows(&ok),
                        right: right.select_rows(&ok),
                    },
                    MixWeights::LowRank {
                        scale: 0.7,
                        rank: k,
                        left: left.as_slice().to_vec(),
                        right: right.as_slice().to_vec(),
                    },
                )
            };
            let mut bounds = vec![(f32::MIN, f32::MAX); rows];
            bounds[0] = (-0.5, 0.5);
            let mx = MemberMix {
                words: 0..rows,
                w: w.as_slice().to_vec(),
                anomaly,
                bounds,
            };
            let mut got = state.clone();
            apply_f32(&mut got, rows, &status, &mx).unwrap();
            let f32e: DMatrix<f64> =
                DMatrix::from_iterator(rows, n, state.iter().map(|&v| v as f64));
            let mut want = f32e.select_columns(&ok);
            EnsembleTransform {
                w: DVector::from_iterator(ok.len(), ok.iter().map(|&i| w[i])),
                anomaly: t,
            }
            .apply(&mut want)
            .unwrap();
            let scale = want.abs().max();
            for (c, &m) in ok.iter().enumerate() {
                for i in 0..rows {
                    let h = if i == 0 {
                        want[(i, c)].clamp(-0.5, 0.5)
                    } else {
                        want[(i, c)]
                    };
                    let d = (got[m * rows + i] as f64 - h).abs();
                    assert!(
                        d <= 20.0 * n as f64 * f32::EPSILON as f64 * scale,
                        "dense {is_dense} member {m} word {i}: {d}"
                    );
                }
            }
            assert_eq!(got[2 * rows..3 * rows], state[2 * rows..3 * rows]);
        }
    }

    #[test]
    fn sizes_are_checked() {
        let mx = MemberMix {
            words: 0..5,
            w: vec![0.0; 3],
            anomaly: MixWeights::Dense(vec![0.0; 8]),
            bounds: vec![],
        };
        assert!(mx.check(3, 5).is_err());
        assert!(mx.check(4, 5).is_err());
        let ok = MemberMix {
            anomaly: MixWeights::Dense(vec![0.0; 9]),
            ..mx
        };
        assert!(ok.check(3, 5).is_ok() && ok.check(3, 4).is_err());
    }
}
