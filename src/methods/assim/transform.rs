//! The result of every analysis: how members are recombined, in ensemble
//! space. Owns the algebra of the transforms (building the right-multiplier,
//! folding inflation and rotation in, applying to a host ensemble, threaded);
//! computes no analysis itself.
//!
//! Convention: an ensemble E is n × N (column = member), x̄ = E 1/N its mean and
//! X' = E − x̄ 1ᵀ its anomalies. A transform (w, W) maps it to
//! E_a = x̄ 1ᵀ + X' (w 1ᵀ + W), which is the same as E_a = E M with
//! M = 1 1ᵀ/N + Π (w 1ᵀ + W), Π = I − 1 1ᵀ/N.
//!
//! W is held in one of two forms (`AnomalyWeights`): a dense N × N matrix,
//! or, from the observation-space analyses (p < N observations), the
//! identity plus a rank-k correction W = α I + L Rᵀ with L, R N × k, k ≤ p.
//! The low-rank form is applied as E_a = (x̄ + X'w) 1ᵀ + α X' + (X'L) Rᵀ in
//! O(n N k) instead of the O(n N²) of E M; both give the same analysis.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::dense;
use super::error::{AssimError, check_len};
use super::pf::ParticleUpdate;

/// The anomaly weights W of a transform.
#[derive(Clone, Debug, PartialEq)]
pub enum AnomalyWeights {
    /// W as an N × N matrix.
    Dense(DMatrix<f64>),
    /// W = `scale` I + `left` `right`ᵀ (both N × k). Only Π W matters
    /// (X' Π = X'), so forms that differ by a multiple of 1ᵀ on the left are
    /// the same transform.
    LowRank {
        scale: f64,
        left: DMatrix<f64>,
        right: DMatrix<f64>,
    },
}

/// Ensemble-space transform (w, W) for one set of state rows.
#[derive(Clone, Debug, PartialEq)]
pub struct EnsembleTransform {
    /// Mean weights w (N): the analysis mean is x̄ + X' w.
    pub w: DVector<f64>,
    /// Anomaly weights W: the analysis anomalies are X' W.
    pub anomaly: AnomalyWeights,
}

/// Rows of a host ensemble per parallel task in the row-wise passes.
const ROW_BLOCK: usize = 64;

impl EnsembleTransform {
    /// The transform that leaves an ensemble of `n` members unchanged.
    pub fn identity(n: usize) -> Self {
        EnsembleTransform {
            w: DVector::zeros(n),
            anomaly: AnomalyWeights::LowRank {
                scale: 1.0,
                left: DMatrix::zeros(n, 0),
                right: DMatrix::zeros(n, 0),
            },
        }
    }

    /// Number of members.
    pub fn members(&self) -> usize {
        self.w.len()
    }

    /// Whether W is held as a low-rank correction of the identity.
    pub fn is_low_rank(&self) -> bool {
        matches!(self.anomaly, AnomalyWeights::LowRank { .. })
    }

    /// W as a dense N × N matrix (O(N² k) for the low-rank form).
    pub fn big_w(&self) -> DMatrix<f64> {
        match &self.anomaly {
            AnomalyWeights::Dense(w) => w.clone(),
            AnomalyWeights::LowRank { scale, left, right } => {
                let n = self.members();
                let mut w = left * right.transpose();
                for i in 0..n {
                    w[(i, i)] += scale;
                }
                w
            }
        }
    }

    /// M (N × N) with E_a = E_f M: what the GPU multiplies member states by.
    pub fn right_multiplier(&self) -> DMatrix<f64> {
        let n = self.members();
        let inv_n = 1.0 / n as f64;
        let mut m = self.big_w();
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
    /// A low-rank W stays low-rank without rotation
    /// (λ (α I + L Rᵀ) Π ≡ λ α I + L (λ Π R)ᵀ, since Π α Π = Π α I);
    /// a rotation makes it dense.
    pub fn post_process(&mut self, lambda: f64, q: Option<&DMatrix<f64>>) {
        let n = self.members();
        let inv_n = 1.0 / n as f64;
        if q.is_none()
            && let AnomalyWeights::LowRank { scale, right, .. } = &mut self.anomaly
        {
            for mut c in right.column_iter_mut() {
                let mean = c.sum() * inv_n;
                c.apply(|v| *v = lambda * (*v - mean));
            }
            *scale *= lambda;
            return;
        }
        let mut big_w = self.big_w();
        // W Π: subtract each row's mean.
        for i in 0..n {
            let row_mean = big_w.row(i).sum() * inv_n;
            for j in 0..n {
                big_w[(i, j)] -= row_mean;
            }
        }
        if let Some(q) = q {
            big_w = dense::mul(&big_w, &q.transpose());
        }
        big_w *= lambda;
        self.anomaly = AnomalyWeights::Dense(big_w);
    }

    /// E ← E M on a host ensemble (n × N), threaded over rows and members.
    pub fn apply(&self, ens: &mut DMatrix<f64>) -> Result<(), AssimError> {
        check_len("ensemble members", self.members(), ens.ncols())?;
        match &self.anomaly {
            AnomalyWeights::Dense(_) => {
                *ens = dense::mul(ens, &self.right_multiplier());
            }
            AnomalyWeights::LowRank { scale, left, right } => {
                apply_low_rank(ens, &self.w, *scale, left, right);
            }
        }
        Ok(())
    }

    /// The same as `apply` on one state row (N values).
    fn apply_row(&self, row: &[f64], out: &mut [f64]) {
        let n = row.len();
        let mean = row.iter().sum::<f64>() / n as f64;
        match &self.anomaly {
            AnomalyWeights::Dense(_) => {
                let m = self.right_multiplier();
                for (j, o) in out.iter_mut().enumerate() {
                    *o = row.iter().zip(m.column(j).iter()).map(|(a, b)| a * b).sum();
                }
            }
            AnomalyWeights::LowRank { scale, left, right } => {
                let a: Vec<f64> = row.iter().map(|v| v - mean).collect();
                let shift = mean + a.iter().zip(self.w.iter()).map(|(x, y)| x * y).sum::<f64>();
                for (o, x) in out.iter_mut().zip(&a) {
                    *o = shift + scale * x;
                }
                for (lc, rc) in left.column_iter().zip(right.column_iter()) {
                    let b: f64 = a.iter().zip(lc.iter()).map(|(x, y)| x * y).sum();
                    for (o, r) in out.iter_mut().zip(rc.iter()) {
                        *o += b * r;
                    }
                }
            }
        }
    }
}

/// E ← (x̄ + X'w) 1ᵀ + α X' + (X'L) Rᵀ as two threaded products
/// (`dense::mul`, `dense::mul_add`) around O(n N) passes threaded over
/// members. Each sum runs in a fixed order, so the result does not depend
/// on the thread count.
fn apply_low_rank(
    ens: &mut DMatrix<f64>,
    w: &DVector<f64>,
    scale: f64,
    left: &DMatrix<f64>,
    right: &DMatrix<f64>,
) {
    let (n, m) = (ens.nrows(), ens.ncols());
    let k = left.ncols();
    if n == 0 || m == 0 {
        return;
    }
    let inv_m = 1.0 / m as f64;
    // Row means, by blocks of rows (each block sums members in order).
    let data = ens.as_slice();
    let mean: Vec<f64> = (0..n)
        .step_by(ROW_BLOCK)
        .collect::<Vec<_>>()
        .par_iter()
        .flat_map_iter(|&r0| {
            let r1 = (r0 + ROW_BLOCK).min(n);
            let mut acc = vec![0.0; r1 - r0];
            for j in 0..m {
                for (a, v) in acc.iter_mut().zip(&data[j * n + r0..j * n + r1]) {
                    *a += v;
                }
            }
            acc.into_iter().map(move |a| a * inv_m)
        })
        .collect();
    // X' in place.
    ens.as_mut_slice().par_chunks_mut(n).for_each(|col| {
        for (v, mu) in col.iter_mut().zip(&mean) {
            *v -= mu;
        }
    });
    // [X'w, X'L] in one product.
    let mut wl = DMatrix::zeros(m, k + 1);
    wl.set_column(0, w);
    wl.columns_mut(1, k).copy_from(left);
    let b = dense::mul(ens, &wl);
    let shift: Vec<f64> = (0..n).map(|r| mean[r] + b[(r, 0)]).collect();
    // E_a = α X' + (X'L) Rᵀ + shift 1ᵀ.
    ens.as_mut_slice().par_chunks_mut(n).for_each(|col| {
        for (v, s) in col.iter_mut().zip(&shift) {
            *v = scale * *v + s;
        }
    });
    if k > 0 {
        dense::mul_add(ens, &b.columns(1, k).into_owned(), &right.transpose());
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
    /// Applies the transform to a host ensemble (n × N), threaded.
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
                let (n, m) = (ens.nrows(), ens.ncols());
                for t in rows {
                    check_len("ensemble members", t.members(), m)?;
                }
                // Row-major copy of the result, one row per task.
                let mut out = vec![0.0; n * m];
                let data = ens.as_slice();
                out.par_chunks_mut(m.max(1))
                    .zip(rows.par_iter())
                    .enumerate()
                    .for_each(|(i, (o, t))| {
                        let row: Vec<f64> = (0..m).map(|j| data[j * n + i]).collect();
                        t.apply_row(&row, o);
                    });
                ens.as_mut_slice()
                    .par_chunks_mut(n.max(1))
                    .enumerate()
                    .for_each(|(j, col)| {
                        for (i, v) in col.iter_mut().enumerate() {
                            *v = out[i * m + j];
                        }
                    });
                Ok(())
            }
            Transform::Resample(p) => p.apply(ens),
        }
    }

    /// The single N × N right-multiplier, where one exists (not for
    /// `Local`, nor for a particle plan with state-space jitter).
    pub fn right_multiplier(&self, members: usize) -> Option<DMatrix<f64>> {
        match self {
            Transform::Keep => Some(DMatrix::identity(members, members)),
            Transform::Global(t) => Some(t.right_multiplier()),
            Transform::Local(_) => None,
            Transform::Resample(p) => p.right_multiplier(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::gauss::std_normal_matrix;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn ens() -> DMatrix<f64> {
        DMatrix::from_row_slice(2, 4, &[1.0, 2.0, 4.0, 9.0, -1.0, 0.5, 3.0, 0.0])
    }

    /// E M equals x̄ 1ᵀ + X'(w 1ᵀ + W) computed directly.
    #[test]
    fn right_multiplier_matches_definition() {
        let e = ens();
        let big_w = DMatrix::from_fn(4, 4, |i, j| {
            0.1 * (i as f64) - 0.05 * (j as f64) + 0.7 * ((i == j) as u8 as f64)
        });
        let t = EnsembleTransform {
            w: DVector::from_vec(vec![0.1, -0.2, 0.3, 0.05]),
            anomaly: AnomalyWeights::Dense(big_w.clone()),
        };
        let mean = e.column_mean();
        let mut anom = e.clone();
        for mut c in anom.column_iter_mut() {
            c -= &mean;
        }
        let ones = DVector::from_element(4, 1.0);
        let direct = &mean * ones.transpose() + &anom * (&t.w * ones.transpose() + &big_w);
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

    /// A random low-rank transform (k = 3, N = 9) and its dense copy give the
    /// same right-multiplier and the same analysed ensemble (1e-12 relative),
    /// before and after inflation; the threaded host application equals
    /// E M, for the global and the per-row (local) paths alike, on an
    /// ensemble of 150 rows (more than one row block).
    #[test]
    fn low_rank_and_dense_agree() {
        let mut rng = StdRng::seed_from_u64(2);
        let (rows, n, k) = (150, 9, 3);
        let e = std_normal_matrix(&mut rng, rows, n);
        let mut low = EnsembleTransform {
            w: std_normal_matrix(&mut rng, n, 1).column(0).into_owned(),
            anomaly: AnomalyWeights::LowRank {
                scale: 0.8,
                left: std_normal_matrix(&mut rng, n, k),
                right: std_normal_matrix(&mut rng, n, k),
            },
        };
        let mut dense = EnsembleTransform {
            w: low.w.clone(),
            anomaly: AnomalyWeights::Dense(low.big_w()),
        };
        for step in 0..2 {
            if step == 1 {
                low.post_process(1.3, None);
                dense.post_process(1.3, None);
                assert!(low.is_low_rank() && !dense.is_low_rank());
            }
            let m = low.right_multiplier();
            let rel = |a: &DMatrix<f64>, b: &DMatrix<f64>| (a - b).abs().max() / b.abs().max();
            assert!(rel(&dense.right_multiplier(), &m) < 1e-12);
            let want = &e * &m;
            let (mut a, mut b) = (e.clone(), e.clone());
            low.apply(&mut a).unwrap();
            dense.apply(&mut b).unwrap();
            assert!(rel(&a, &want) < 1e-12, "low rank, step {step}");
            assert!(rel(&b, &want) < 1e-12, "dense, step {step}");
            for t in [&low, &dense] {
                let mut c = e.clone();
                Transform::Local(vec![t.clone(); rows])
                    .apply(&mut c)
                    .unwrap();
                assert!(rel(&c, &want) < 1e-12, "local, step {step}");
            }
        }
    }
}
