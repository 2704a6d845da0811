//! Bootstrap particle filter for deterministic models: log weights,
//! resampling when the effective sample size N_eff = 1/Σw² falls below a
//! threshold × N, systematic resampling, and Gaussian regularisation jitter
//! added only to duplicated particles (Doucet et al. 2001, §12.2; the
//! Lorenz-63 set-up of Sakov, Oliver & Bertino 2012 and DAPPER's `PartFilt`). Owns the weights'
//! arithmetic and the resampling plan; never touches state values, so the GPU
//! engine can apply the plan as member copies plus an ensemble-space jitter.
//!
//! Jitter covariance: (h N^(−1/(M+4)))² × the weighted ensemble covariance
//! (weights before resampling, reliability-corrected by 1/(1 − Σw²)), M the
//! state dimension. It is drawn in ensemble space: jitter of new member j =
//! E_f (I − w 1ᵀ) diag(√(ub w)) zⱼ · h N^(−1/(M+4)), zⱼ ~ N(0, I_N), which has
//! exactly that covariance; that costs N draws per duplicate, so above
//! `ENSEMBLE_JITTER_MAX` members (when M < N) the same Gaussian is drawn in
//! state space instead, F ζⱼ with ζⱼ ~ N(0, I_M) and F Fᵀ the covariance
//! (built from the forecast states when the plan is applied). Every step is
//! O(N) in the members or O(N M²): weights, systematic resampling, the
//! duplicate count, the copies; nothing is N × N at N = 10⁴.

use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};
use rayon::prelude::*;

use super::dense;
use super::error::{AssimError, check_len};
use super::gauss::std_normal_matrix;
use super::obs::ObsBatch;

/// Largest ensemble whose jitter is drawn in ensemble space (N draws per
/// duplicate, an N × #duplicates coefficient matrix: 32 MiB at this size).
/// Larger ensembles with fewer state rows than members draw it in state
/// space instead (M draws per duplicate, M = state dimension).
pub const ENSEMBLE_JITTER_MAX: usize = 2048;

/// How the duplicated members are jittered.
#[derive(Clone, Debug, PartialEq)]
pub enum Jitter {
    /// No jitter (h = 0, or no member was duplicated).
    None,
    /// Ensemble space: new member `dups[d]` gets E_f · `coeffs[:, d]`
    /// (coeffs N × #dups).
    Ensemble {
        dups: Vec<usize>,
        coeffs: DMatrix<f64>,
    },
    /// State space: new member `dups[d]` gets F ζ_d with F Fᵀ = `scale`² ×
    /// Σ wᵢ (xᵢ − x̄_w)(xᵢ − x̄_w)ᵀ (the same covariance as the ensemble-space
    /// draw), F from the M × M eigendecomposition of that matrix, computed
    /// when the plan is applied to the forecast states; ζ = `noise[:, d]`
    /// (noise M × #dups, M = state dimension).
    State {
        dups: Vec<usize>,
        weights: DVector<f64>,
        scale: f64,
        noise: DMatrix<f64>,
    },
}

/// The resampling plan: new member j is forecast member `idx[j]` plus its
/// jitter (none for a particle that was not duplicated).
#[derive(Clone, Debug, PartialEq)]
pub struct ParticleUpdate {
    /// Source member of each new member.
    pub idx: Vec<usize>,
    pub jitter: Jitter,
}

impl ParticleUpdate {
    /// Whether any member is jittered.
    pub fn has_jitter(&self) -> bool {
        !matches!(self.jitter, Jitter::None)
    }

    /// M = S + J with E_a = E_f M (S the selection matrix of `idx`), where
    /// one exists: not for a state-space jitter.
    pub fn right_multiplier(&self) -> Option<DMatrix<f64>> {
        let n = self.idx.len();
        let mut m = DMatrix::zeros(n, n);
        match &self.jitter {
            Jitter::None => {}
            Jitter::Ensemble { dups, coeffs } => {
                for (d, &j) in dups.iter().enumerate() {
                    m.set_column(j, &coeffs.column(d));
                }
            }
            Jitter::State { .. } => return None,
        }
        for (j, &i) in self.idx.iter().enumerate() {
            m[(i, j)] += 1.0;
        }
        Some(m)
    }

    /// Applies the plan to a host ensemble (n × N): O(n N) copies plus the
    /// jitter of the duplicates (O(n N #dups) in ensemble space,
    /// O(n² N + n³ + n² #dups) in state space).
    pub fn apply(&self, ens: &mut DMatrix<f64>) -> Result<(), AssimError> {
        let n = ens.nrows();
        check_len("ensemble members", self.idx.len(), ens.ncols())?;
        let (dups, add) = match &self.jitter {
            Jitter::None => (&[][..], DMatrix::zeros(n, 0)),
            Jitter::Ensemble { dups, coeffs } => (&dups[..], dense::mul(ens, coeffs)),
            Jitter::State {
                dups,
                weights,
                scale,
                noise,
            } => {
                check_len("state rows (PF state_dim)", noise.nrows(), n)?;
                (&dups[..], state_jitter(ens, weights, *scale, noise)?)
            }
        };
        let src = ens.clone();
        ens.as_mut_slice()
            .par_chunks_mut(n.max(1))
            .enumerate()
            .for_each(|(j, col)| col.copy_from_slice(src.column(self.idx[j]).as_slice()));
        for (d, &j) in dups.iter().enumerate() {
            let mut c = ens.column_mut(j);
            c += add.column(d);
        }
        Ok(())
    }
}

/// F ζ for every column ζ of `noise`, F Fᵀ = scale² Σ wᵢ (xᵢ − x̄_w)(xᵢ − x̄_w)ᵀ
/// over the members xᵢ of `ens` (F = U Λ^(1/2) from the eigendecomposition;
/// round-off negatives clipped to 0).
fn state_jitter(
    ens: &DMatrix<f64>,
    w: &DVector<f64>,
    scale: f64,
    noise: &DMatrix<f64>,
) -> Result<DMatrix<f64>, AssimError> {
    let mean = ens * w;
    let mut b = ens.clone();
    for (j, mut c) in b.column_iter_mut().enumerate() {
        c -= &mean;
        c *= scale * w[j].sqrt();
    }
    let g = dense::mul(&b, &b.transpose());
    let (values, mut f) =
        dense::sym_eigen(g).ok_or(AssimError::Numerical("PF jitter covariance"))?;
    for (k, mut c) in f.column_iter_mut().enumerate() {
        c *= values[k].max(0.0).sqrt();
    }
    Ok(dense::mul(&f, noise))
}

/// Systematic resampling: N positions (u + j)/N, j = 0..N, through the
/// cumulative weights; `u` in [0, 1). Member i is drawn ⌊N wᵢ⌋ or ⌈N wᵢ⌉ times.
pub fn systematic_resample(w: &DVector<f64>, u: f64) -> Vec<usize> {
    let n = w.len();
    let mut idx = Vec::with_capacity(n);
    let mut cdf = 0.0;
    let mut i = 0;
    for j in 0..n {
        let pos = (u + j as f64) / n as f64;
        while i < n - 1 && cdf + w[i] < pos {
            cdf += w[i];
            i += 1;
        }
        idx.push(i);
    }
    idx
}

/// Normalised weights from log weights (log-sum-exp), and the normalised log
/// weights.
fn normalise(log_w: &DVector<f64>) -> (DVector<f64>, DVector<f64>) {
    let max = log_w.max();
    let w = log_w.map(|l| (l - max).exp());
    let w = &w / w.sum();
    let log_w = w.map(f64::ln);
    (w, log_w)
}

/// One PF analysis: updates `log_w` in place with the likelihood of `obs`,
/// and resamples if N_eff < threshold × N. Returns the normalised weights
/// before any resampling, N_eff, and the plan (None when not resampled).
pub(crate) fn pf_analysis<R: Rng + ?Sized>(
    log_w: &mut DVector<f64>,
    obs: &ObsBatch,
    threshold: f64,
    jitter: f64,
    state_dim: usize,
    rng: &mut R,
) -> Result<(DVector<f64>, f64, Option<ParticleUpdate>), AssimError> {
    let n = obs.members();
    check_len("particle weights", n, log_w.len())?;
    for j in 0..n {
        let mut chi2 = 0.0;
        for k in 0..obs.len() {
            chi2 += (obs.y[k] - obs.hx[(k, j)]).powi(2) / obs.r_diag[k];
        }
        log_w[j] -= 0.5 * chi2;
    }
    let (w, normalised) = normalise(log_w);
    *log_w = normalised;
    let ess = 1.0 / w.norm_squared();
    if ess >= threshold * n as f64 {
        return Ok((w, ess, None));
    }
    let idx = systematic_resample(&w, rng.random::<f64>());
    let jitter = jitter_plan(&w, &idx, jitter, state_dim, rng);
    log_w.fill(-(n as f64).ln());
    Ok((w, ess, Some(ParticleUpdate { idx, jitter })))
}

/// The jitter of every duplicated new member: in ensemble space for
/// N ≤ `ENSEMBLE_JITTER_MAX` or N ≤ M, in state space otherwise. Duplicates
/// are found with a count per particle (O(N)).
fn jitter_plan<R: Rng + ?Sized>(
    w: &DVector<f64>,
    idx: &[usize],
    h: f64,
    state_dim: usize,
    rng: &mut R,
) -> Jitter {
    let n = w.len();
    let mut count = vec![0usize; n];
    for &i in idx {
        count[i] += 1;
    }
    let dups: Vec<usize> = (0..n).filter(|&j| count[idx[j]] >= 2).collect();
    if h == 0.0 || dups.is_empty() {
        return Jitter::None;
    }
    // Degenerate weights give no covariance: fall back to equal weights.
    let cov_w = if 1.0 - w.max() < 1e-10 {
        DVector::from_element(n, 1.0 / n as f64)
    } else {
        w.clone()
    };
    let unbias = 1.0 / (1.0 - cov_w.norm_squared());
    let bandwidth = h * (n as f64).powf(-1.0 / (state_dim as f64 + 4.0));
    if n > ENSEMBLE_JITTER_MAX && state_dim < n {
        let noise = std_normal_matrix(rng, state_dim, dups.len());
        return Jitter::State {
            dups,
            weights: cov_w,
            scale: bandwidth * unbias.sqrt(),
            noise,
        };
    }
    let root_w = cov_w.map(|v| (unbias * v).sqrt() * bandwidth);
    let mut coeffs = std_normal_matrix(rng, n, dups.len());
    for mut c in coeffs.column_iter_mut() {
        // c = diag(√(ub w)) z scaled; then (I − w 1ᵀ) c = c − w Σc.
        c.component_mul_assign(&root_w);
        let total = c.sum();
        c.axpy(-total, &cov_w, 1.0);
    }
    Jitter::Ensemble { dups, coeffs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::gauss::std_normal_matrix;
    use crate::methods::assim::stats::weighted_mean_var;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Hand-worked case: w = (0.1, 0.6, 0.05, 0.25), CDF 0.1, 0.7, 0.75, 1.0.
    /// u = 0.5: positions 0.125, 0.375, 0.625, 0.875 → 1, 1, 1, 3;
    /// u = 0.1: positions 0.025, 0.275, 0.525, 0.775 → 0, 1, 1, 3.
    #[test]
    fn systematic_resampling_known_indices() {
        let w = DVector::from_vec(vec![0.1, 0.6, 0.05, 0.25]);
        assert_eq!(systematic_resample(&w, 0.5), vec![1, 1, 1, 3]);
        assert_eq!(systematic_resample(&w, 0.1), vec![0, 1, 1, 3]);
    }

    /// For random weights and offsets, each particle is drawn ⌊N wᵢ⌋ or
    /// ⌈N wᵢ⌉ times, and the indices are sorted.
    #[test]
    fn systematic_resampling_counts() {
        let mut rng = StdRng::seed_from_u64(21);
        for _ in 0..200 {
            let n = 50;
            let raw = DVector::from_fn(n, |_, _| rng.random::<f64>().powi(3));
            let w = &raw / raw.sum();
            let idx = systematic_resample(&w, rng.random::<f64>());
            assert_eq!(idx.len(), n);
            assert!(idx.windows(2).all(|p| p[0] <= p[1]));
            let mut count = vec![0usize; n];
            for &i in &idx {
                count[i] += 1;
            }
            for i in 0..n {
                let nw = n as f64 * w[i];
                let c = count[i] as f64;
                assert!(
                    c >= nw.floor() - 1e-9 && c <= nw.ceil() + 1e-9,
                    "particle {i}: {c} copies for N w = {nw}"
                );
            }
        }
    }

    /// The jitter of a duplicated particle has covariance
    /// (h N^(−1/(M+4)))² × weighted covariance, whichever space it is drawn
    /// in: over many resamplings of a fixed 2-D ensemble the sample variance
    /// of the jitter is within 8 % of that value (SE of a variance estimate
    /// from ≥ 20 000 draws is well under 3 %). Non-duplicated particles get
    /// no jitter.
    #[test]
    fn jitter_has_the_weighted_covariance() {
        // Ensemble-space draws (N = 20, 3000 resamplings) and state-space
        // draws (N = 2100 > ENSEMBLE_JITTER_MAX, 2 state rows, 40
        // resamplings of ≈ 700 duplicates each).
        for (n, reps, state) in [(20, 3000, false), (ENSEMBLE_JITTER_MAX + 52, 40, true)] {
            let mut rng = StdRng::seed_from_u64(22);
            let e = std_normal_matrix(&mut rng, 2, n);
            let raw = DVector::from_fn(n, |_, _| rng.random::<f64>() + 0.2);
            let w = &raw / raw.sum();
            let h = 0.9;
            let (_, var) = weighted_mean_var(&e, &w);
            let bw = h * (n as f64).powf(-1.0 / 6.0);
            let mut sum2 = DVector::zeros(2);
            let mut draws = 0usize;
            for _ in 0..reps {
                let idx = systematic_resample(&w, rng.random::<f64>());
                let plan = ParticleUpdate {
                    jitter: jitter_plan(&w, &idx, h, 2, &mut rng),
                    idx: idx.clone(),
                };
                assert_eq!(matches!(plan.jitter, Jitter::State { .. }), state);
                assert_eq!(plan.right_multiplier().is_some(), !state);
                let mut ea = e.clone();
                plan.apply(&mut ea).unwrap();
                let mut count = vec![0; n];
                idx.iter().for_each(|&i| count[i] += 1);
                for (col, &src) in idx.iter().enumerate() {
                    let jit = ea.column(col) - e.column(src);
                    if count[src] < 2 {
                        assert_eq!(jit.abs().max(), 0.0);
                    } else {
                        sum2 += jit.map(|v| v * v);
                        draws += 1;
                    }
                }
            }
            let emp = sum2 / draws as f64;
            for r in 0..2 {
                let want = bw * bw * var[r];
                assert!(
                    (emp[r] / want - 1.0).abs() < 0.08,
                    "N = {n}, row {r}: {} vs {want}",
                    emp[r]
                );
            }
        }
    }

    /// A plan whose right-multiplier exists applies as E M (1e-12).
    #[test]
    fn plan_applies_as_its_right_multiplier() {
        let mut rng = StdRng::seed_from_u64(24);
        let n = 30;
        let e = std_normal_matrix(&mut rng, 3, n);
        let raw = DVector::from_fn(n, |_, _| rng.random::<f64>().powi(4));
        let w = &raw / raw.sum();
        let idx = systematic_resample(&w, 0.3);
        let plan = ParticleUpdate {
            jitter: jitter_plan(&w, &idx, 0.7, 3, &mut rng),
            idx,
        };
        assert!(plan.has_jitter());
        let want = &e * plan.right_multiplier().unwrap();
        let mut ea = e.clone();
        plan.apply(&mut ea).unwrap();
        assert!((ea - want).abs().max() < 1e-12);
    }

    /// Weights follow Bayes' rule with a Gaussian likelihood, and a collapse
    /// triggers resampling that resets the weights to uniform.
    #[test]
    fn reweighting_and_trigger() {
        let mut rng = StdRng::seed_from_u64(23);
        let hx = DMatrix::from_row_slice(1, 3, &[0.0, 1.0, 2.0]);
        let obs = ObsBatch::new(
            DVector::from_element(1, 1.0),
            DVector::from_element(1, 1.0),
            hx,
        );
        let mut log_w = DVector::from_element(3, -(3f64).ln());
        let (w, ess, plan) = pf_analysis(&mut log_w, &obs, 0.1, 0.5, 1, &mut rng).unwrap();
        let e = (-0.5f64).exp();
        let want = DVector::from_vec(vec![e, 1.0, e]) / (1.0 + 2.0 * e);
        assert!((&w - want).abs().max() < 1e-14);
        assert!(plan.is_none() && ess > 2.0);
        // A sharp observation collapses the weights: resample.
        let sharp = ObsBatch::new(
            DVector::from_element(1, 2.0),
            DVector::from_element(1, 1e-3),
            obs.hx.clone(),
        );
        let (_, ess, plan) = pf_analysis(&mut log_w, &sharp, 0.5, 0.5, 1, &mut rng).unwrap();
        assert!(ess < 1.01);
        assert_eq!(plan.unwrap().idx, vec![2, 2, 2]);
        assert!(
            (log_w.map(f64::exp) - DVector::from_element(3, 1.0 / 3.0))
                .abs()
                .max()
                < 1e-14
        );
    }
}
