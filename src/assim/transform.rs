//! The result of every analysis: how members are recombined, in ensemble
//! space. Owns the algebra of N × N transforms (building the right-multiplier,
//! folding inflation and rotation in, applying to a host ensemble); computes
//! no analysis itself.
//!
//! Convention: an ensemble E is n × N (column = member), x̄ = E 1/N its mean and
//! X' = E − x̄ 1ᵀ its anomalies. A transform (w, W) maps it to
//! E_a = x̄ 1ᵀ + X' (w 1ᵀ + W), which is the same as E_a = E M with
//! M = 1 1ᵀ/N + Π (w 1ᵀ + W), Π = I − 1 1ᵀ/N.

use nalgebra::{DMatrix, DVector};

use super::error::{AssimError, check_len};
use super::pf::ParticleUpdate;

/// Ensemble-space transform (w, W) for one set of state rows.
#[derive(Clone, Debug, PartialEq)]
pub struct EnsembleTransform {
    /// Mean weights w (N): the analysis mean is x̄ + X' w.
    pub w: DVector<f64>,
    /// Anomaly weights W (N × N): the analysis anomalies are X' W (up to a
    /// multiple of 1ᵀ on the left of W, which X' annihilates).
    pub big_w: DMatrix<f64>,
}

impl EnsembleTransform {
    /// The transform that leaves an ensemble of `n` members unchanged.
    pub fn identity(n: usize) -> Self {
        EnsembleTransform {
            w: DVector::zeros(n),
            big_w: DMatrix::identity(n, n),
        }
    }

    /// Number of members.
    pub fn members(&self) -> usize {
        self.w.len()
    }

    /// M (N × N) with E_a = E_f M: what the GPU multiplies member states by.
    pub fn right_multiplier(&self) -> DMatrix<f64> {
        let n = self.members();
        let inv_n = 1.0 / n as f64;
        let mut m = self.big_w.clone();
        for j in 0..n {
            for i in 0..n {
                m[(i, j)] += self.w[i];
            }
        }
        // Π (w 1ᵀ + W): subtract the column means.
        for j in 0..n {
            let col_mean = m.column(j).sum() * inv_n;
            for i in 0..n {
                m[(i, j)] += inv_n - col_mean;
            }
        }
        m
    }

    /// Folds multiplicative inflation `lambda` and a mean-preserving rotation
    /// `q` (Q 1 = 1) into the anomaly weights: W ← λ W Π Qᵀ. The mean is
    /// untouched, as in E ← x̄ + λ (E − x̄) Qᵀ applied after the analysis.
    pub fn post_process(&mut self, lambda: f64, q: Option<&DMatrix<f64>>) {
        let n = self.members();
        let inv_n = 1.0 / n as f64;
        // W Π: subtract each row's mean.
        for i in 0..n {
            let row_mean = self.big_w.row(i).sum() * inv_n;
            for j in 0..n {
                self.big_w[(i, j)] -= row_mean;
            }
        }
        if let Some(q) = q {
            self.big_w = &self.big_w * q.transpose();
        }
        self.big_w *= lambda;
    }

    /// E ← E M on a host ensemble (n × N).
    pub fn apply(&self, ens: &mut DMatrix<f64>) -> Result<(), AssimError> {
        check_len("ensemble members", self.members(), ens.ncols())?;
        *ens = &*ens * self.right_multiplier();
        Ok(())
    }
}

/// What the analysis asks of the members.
#[derive(Clone, Debug)]
pub enum Transform {
    /// Leave the members as they are (a particle filter that only reweighted).
    Keep,
    /// One transform for every state row (EnKF, ETKF).
    Global(EnsembleTransform),
    /// One transform per state row, in row order (LETKF).
    Local(Vec<EnsembleTransform>),
    /// Copy members and jitter the duplicates (particle filter).
    Resample(ParticleUpdate),
}

impl Transform {
    /// Applies the transform to a host ensemble (n × N).
    pub fn apply(&self, ens: &mut DMatrix<f64>) -> Result<(), AssimError> {
        match self {
            Transform::Keep => Ok(()),
            Transform::Global(t) => t.apply(ens),
            Transform::Local(rows) => {
                check_len(
                    "local transforms (one per state row)",
                    ens.nrows(),
                    rows.len(),
                )?;
                for (i, t) in rows.iter().enumerate() {
                    check_len("ensemble members", t.members(), ens.ncols())?;
                    let new_row = ens.row(i) * t.right_multiplier();
                    ens.set_row(i, &new_row);
                }
                Ok(())
            }
            Transform::Resample(p) => p.apply(ens),
        }
    }

    /// The single N × N right-multiplier, where one exists (everything but
    /// `Local`).
    pub fn right_multiplier(&self, members: usize) -> Option<DMatrix<f64>> {
        match self {
            Transform::Keep => Some(DMatrix::identity(members, members)),
            Transform::Global(t) => Some(t.right_multiplier()),
            Transform::Local(_) => None,
            Transform::Resample(p) => Some(p.right_multiplier()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ens() -> DMatrix<f64> {
        DMatrix::from_row_slice(2, 4, &[1.0, 2.0, 4.0, 9.0, -1.0, 0.5, 3.0, 0.0])
    }

    /// E M equals x̄ 1ᵀ + X'(w 1ᵀ + W) computed directly.
    #[test]
    fn right_multiplier_matches_definition() {
        let e = ens();
        let t = EnsembleTransform {
            w: DVector::from_vec(vec![0.1, -0.2, 0.3, 0.05]),
            big_w: DMatrix::from_fn(4, 4, |i, j| {
                0.1 * (i as f64) - 0.05 * (j as f64) + 0.7 * ((i == j) as u8 as f64)
            }),
        };
        let mean = e.column_mean();
        let mut anom = e.clone();
        for mut c in anom.column_iter_mut() {
            c -= &mean;
        }
        let ones = DVector::from_element(4, 1.0);
        let direct = &mean * ones.transpose() + &anom * (&t.w * ones.transpose() + &t.big_w);
        let via_m = &e * t.right_multiplier();
        assert!((direct - via_m).abs().max() < 1e-12);
    }

    /// Folding λ = 1.5 into the identity transform inflates anomalies by 1.5
    /// and keeps the mean.
    #[test]
    fn post_process_inflates_anomalies() {
        let e = ens();
        let mut t = EnsembleTransform::identity(4);
        t.post_process(1.5, None);
        let mut ea = e.clone();
        t.apply(&mut ea).unwrap();
        let (m0, m1) = (e.column_mean(), ea.column_mean());
        assert!((&m0 - &m1).abs().max() < 1e-12);
        for j in 0..4 {
            let a0 = e.column(j) - &m0;
            let a1 = ea.column(j) - &m1;
            assert!((a0 * 1.5 - a1).abs().max() < 1e-12);
        }
    }
}
