//! The stochastic EnKF with perturbed observations (Burgers et al. 1998;
//! Evensen 2009), in ensemble space. Owns the perturbation draw and the gain
//! solve; knows nothing of state values.
//!
//! Each member assimilates y + εⱼ with εⱼ ~ N(0, R). The perturbations are
//! re-centred to mean zero (so the mean update is the Kalman one exactly) and
//! rescaled by √(N/(N−1)) to keep their expected variance. In whitened form,
//! with D̃ the whitened perturbations,
//! E_a = E + X' Z, Z = (SᵀS + (N−1) I)⁻¹ Sᵀ (d 1ᵀ + D̃ − S),
//! which needs only an N × N solve (push-through identity).

use nalgebra::DMatrix;
use rand::Rng;

use super::dense;
use super::error::AssimError;
use super::gauss::std_normal_matrix;
use super::obs::{ObsBatch, Whitened};
use super::transform::{AnomalyWeights, EnsembleTransform};

/// Stochastic EnKF transform for a batch, before inflation: the
/// observation-space form when p < N, the ensemble-space one otherwise.
pub(crate) fn enkf_transform<R: Rng + ?Sized>(
    obs: &ObsBatch,
    rng: &mut R,
) -> Result<EnsembleTransform, AssimError> {
    let (s, innov) = enkf_inputs(obs, rng);
    if s.nrows() < s.ncols() {
        enkf_observation_space(&s, &innov)
    } else {
        enkf_ensemble_space(&s, &innov)
    }
}

/// Whitened anomalies S and the innovations of every member d 1ᵀ + D̃ − S
/// (both p × N), with the re-centred, rescaled perturbations D̃.
fn enkf_inputs<R: Rng + ?Sized>(obs: &ObsBatch, rng: &mut R) -> (DMatrix<f64>, DMatrix<f64>) {
    let n = obs.members();
    let m = obs.len();
    let wh = Whitened::of(obs);
    let mut pert = std_normal_matrix(rng, m, n);
    let scale = (n as f64 / (n - 1) as f64).sqrt();
    for i in 0..m {
        let row_mean = pert.row(i).sum() / n as f64;
        for j in 0..n {
            pert[(i, j)] = (pert[(i, j)] - row_mean) * scale;
        }
    }
    let mut innov = pert - &wh.s;
    for mut c in innov.column_iter_mut() {
        c += &wh.d;
    }
    (wh.s, innov)
}

/// Ensemble-space form, O(N³ + N² p): Z = (SᵀS + (N−1) I)⁻¹ Sᵀ innov by an
/// N × N Cholesky solve.
fn enkf_ensemble_space(
    s: &DMatrix<f64>,
    innov: &DMatrix<f64>,
) -> Result<EnsembleTransform, AssimError> {
    let n = s.ncols();
    let mut a = dense::tr_mul(s, s);
    for i in 0..n {
        a[(i, i)] += (n - 1) as f64;
    }
    let chol = a
        .cholesky()
        .ok_or(AssimError::Numerical("EnKF gain (Cholesky)"))?;
    let z = chol.solve(&dense::tr_mul(s, innov));
    // E_a = x̄ 1ᵀ + X'(I + Z): mean weights Z 1/N, anomaly weights I + Z Π.
    let w = z.column_mean();
    let mut big_w = z;
    for mut c in big_w.column_iter_mut() {
        c -= &w;
    }
    big_w += DMatrix::identity(n, n);
    Ok(EnsembleTransform {
        w,
        anomaly: AnomalyWeights::Dense(big_w),
    })
}

/// Observation-space form, O(N p² + p³), for p < N: by the push-through
/// identity Z = Sᵀ K with K = (S Sᵀ + (N−1) I)⁻¹ innov (a p × p Cholesky
/// solve), so w = Sᵀ K 1/N and W = I + Sᵀ (K Π), a rank-p correction.
fn enkf_observation_space(
    s: &DMatrix<f64>,
    innov: &DMatrix<f64>,
) -> Result<EnsembleTransform, AssimError> {
    let (p, n) = s.shape();
    let mut c = dense::mul(s, &s.transpose());
    for i in 0..p {
        c[(i, i)] += (n - 1) as f64;
    }
    let chol = c
        .cholesky()
        .ok_or(AssimError::Numerical("EnKF gain (Cholesky)"))?;
    let mut k = chol.solve(innov);
    let k_mean = k.column_mean();
    let left = s.transpose();
    let w = &left * &k_mean;
    for mut col in k.column_iter_mut() {
        col -= &k_mean;
    }
    Ok(EnsembleTransform {
        w,
        anomaly: AnomalyWeights::LowRank {
            scale: 1.0,
            left,
            right: k.transpose(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::gauss::std_normal_matrix;
    use crate::methods::assim::stats::mean_cov;
    use nalgebra::DVector;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Linear-Gaussian check against the Kalman filter with the ensemble's own
    /// prior covariance P. The mean must match exactly (re-centred
    /// perturbations; 1e-10). The analysis covariance matches only in
    /// expectation, E[P_a] = (I − K H) P: averaged over 4000 perturbation
    /// draws (N = 10), every entry must be within 0.03 of the Kalman value
    /// (relative to max |P_a| ≈ 1; the Monte-Carlo standard error of an
    /// entry is about 0.005).
    #[test]
    fn matches_kalman_filter_in_mean_and_expected_covariance() {
        let mut rng = StdRng::seed_from_u64(5);
        let (n_state, n_mem, m) = (4, 10, 2);
        let e = std_normal_matrix(&mut rng, n_state, n_mem);
        let h = std_normal_matrix(&mut rng, m, n_state);
        let r = DVector::from_vec(vec![0.7, 1.3]);
        let y = DVector::from_vec(vec![1.0, -0.5]);
        let obs = ObsBatch::new(y.clone(), r.clone(), &h * &e);

        let (xb, pb) = mean_cov(&e);
        let k = &pb
            * h.transpose()
            * (&h * &pb * h.transpose() + DMatrix::from_diagonal(&r))
                .try_inverse()
                .unwrap();
        let xa = &xb + &k * (&y - &h * &xb);
        let pa = (DMatrix::identity(n_state, n_state) - &k * &h) * &pb;

        let reps = 4000;
        let mut pa_sum = DMatrix::zeros(n_state, n_state);
        for _ in 0..reps {
            let t = enkf_transform(&obs, &mut rng).unwrap();
            let mut ea = e.clone();
            t.apply(&mut ea).unwrap();
            let (xa_e, pa_e) = mean_cov(&ea);
            assert!((&xa - xa_e).abs().max() < 1e-10);
            pa_sum += pa_e;
        }
        let pa_mc = pa_sum / reps as f64;
        let err = (&pa_mc - &pa).abs().max();
        assert!(
            err < 0.03 * pa.abs().max().max(1.0),
            "max error {err}\n{pa_mc}\n{pa}"
        );
    }

    /// The observation-space form equals the ensemble-space one (the
    /// original N × N algorithm) for the same perturbation draw, to 1e-10
    /// relative in the right-multiplier, with p < N and p ≥ N, raw and with
    /// inflation 1.1 folded in; `enkf_transform` is observation-space
    /// exactly when p < N.
    #[test]
    fn observation_space_form_equals_ensemble_space_form() {
        let mut rng = StdRng::seed_from_u64(6);
        for (p, n) in [(1, 5), (4, 30), (25, 25), (40, 12), (6, 280)] {
            let e = std_normal_matrix(&mut rng, p + 2, n);
            let hx = e.rows(0, p).into_owned() * 2.0;
            let y = std_normal_matrix(&mut rng, p, 1).column(0).into_owned();
            let r = DVector::from_fn(p, |i, _| 0.5 + 0.1 * i as f64);
            let obs = ObsBatch::new(y, r, hx);
            let draw = || StdRng::seed_from_u64(100 + p as u64);
            let (s, innov) = enkf_inputs(&obs, &mut draw());
            let auto = enkf_transform(&obs, &mut draw()).unwrap();
            assert_eq!(auto.is_low_rank(), p < n);
            for lambda in [1.0, 1.1] {
                let mut fast = enkf_observation_space(&s, &innov).unwrap();
                let mut slow = enkf_ensemble_space(&s, &innov).unwrap();
                fast.post_process(lambda, None);
                slow.post_process(lambda, None);
                let (mf, ms) = (fast.right_multiplier(), slow.right_multiplier());
                let rel = (&mf - &ms).abs().max() / ms.abs().max();
                assert!(rel < 1e-10, "p = {p}, N = {n}, λ = {lambda}: {rel}");
            }
        }
    }
}
