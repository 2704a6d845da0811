//! The ensemble transform Kalman filter with the symmetric square root
//! (Bishop et al. 2001; Hunt et al. 2007; Sakov & Oke 2008). Owns the
//! ensemble-space solve shared with the LETKF; knows nothing of state values.
//!
//! With S = R^(−1/2) Y (Y = obs-space anomalies) and d = R^(−1/2)(y − ȳ):
//! Pw = (SᵀS + (N−1) I)⁻¹, w = Pw Sᵀ d, W = √(N−1) Pw^(1/2). The symmetric
//! root keeps W 1 = 1, so the analysis mean is exactly x̄ + X' w.
//!
//! Two equivalent forms: the ensemble-space one (N × N eigendecomposition)
//! and, when there are fewer observations than members (p < N), the
//! observation-space one (p × p eigendecomposition, W = I + low rank),
//! chosen automatically by `etkf_from_whitened`.

use nalgebra::{DMatrix, DVector};

use super::dense;
use super::error::AssimError;
use super::obs::{ObsBatch, Whitened};
use super::transform::{AnomalyWeights, EnsembleTransform};

/// The ETKF transform from whitened anomalies `s` (p × N) and innovation `d`
/// (p), in the cheaper of the two equivalent forms: observation space when
/// p < N, ensemble space otherwise. With p = 0 it returns the identity.
pub(crate) fn etkf_from_whitened(
    s: &DMatrix<f64>,
    d: &DVector<f64>,
) -> Result<EnsembleTransform, AssimError> {
    if s.nrows() < s.ncols() {
        etkf_observation_space(s, d)
    } else {
        etkf_ensemble_space(s, d)
    }
}

/// Ensemble-space form, O(N³ + N² p): the eigendecomposition of the N × N
/// matrix SᵀS + (N−1) I gives Pw and its symmetric root directly.
pub(crate) fn etkf_ensemble_space(
    s: &DMatrix<f64>,
    d: &DVector<f64>,
) -> Result<EnsembleTransform, AssimError> {
    let n = s.ncols();
    let n1 = (n - 1) as f64;
    let mut a = dense::tr_mul(s, s);
    for i in 0..n {
        a[(i, i)] += n1;
    }
    let (values, v) =
        dense::sym_eigen(a).ok_or(AssimError::Numerical("ETKF eigen-decomposition"))?;
    // All eigenvalues are ≥ N − 1 > 0 in exact arithmetic.
    if values.iter().any(|&l| !(l.is_finite() && l > 0.0)) {
        return Err(AssimError::Numerical("ETKF eigenvalues not positive"));
    }
    let mut v_root = v.clone();
    for (j, mut c) in v_root.column_iter_mut().enumerate() {
        c *= (n1 / values[j]).sqrt();
    }
    let big_w = dense::mul(&v_root, &v.transpose());
    // w = V diag(1/λ) Vᵀ Sᵀ d.
    let mut coef = v.tr_mul(&s.tr_mul(d));
    for (j, c) in coef.iter_mut().enumerate() {
        *c /= values[j];
    }
    let w = &v * coef;
    Ok(EnsembleTransform {
        w,
        anomaly: AnomalyWeights::Dense(big_w),
    })
}

/// Observation-space form, O(N p² + p³), for p < N. With the p × p
/// eigendecomposition S Sᵀ = V diag(λ) Vᵀ and L = Sᵀ V (N × p, = U Σ in
/// the thin SVD Sᵀ = U Σ Vᵀ), the push-through identity gives
/// w = L diag(1/(λ + N−1)) Vᵀ d and the symmetric root
/// W = I + L diag(f(λ)) Lᵀ with f(λ) = (√((N−1)/(λ+N−1)) − 1)/λ, written
/// as −1/((λ+N−1)(1 + √((N−1)/(λ+N−1)))) so that it stays accurate as
/// λ → 0. This is the ensemble-space W exactly: on the complement of
/// range(L) both are the identity.
pub(crate) fn etkf_observation_space(
    s: &DMatrix<f64>,
    d: &DVector<f64>,
) -> Result<EnsembleTransform, AssimError> {
    let n = s.ncols();
    let n1 = (n - 1) as f64;
    let c = dense::mul(s, &s.transpose());
    let (values, v) =
        dense::sym_eigen(c).ok_or(AssimError::Numerical("ETKF eigen-decomposition"))?;
    // Round-off may leave λ slightly negative; NaN stays NaN.
    let shifted = values.map(|l| if l < 0.0 { n1 } else { l + n1 });
    if shifted.iter().any(|&l| !(l.is_finite() && l > 0.0)) {
        return Err(AssimError::Numerical("ETKF eigenvalues not positive"));
    }
    let left = dense::tr_mul(s, &v);
    let mut coef = v.tr_mul(d);
    for (j, c) in coef.iter_mut().enumerate() {
        *c /= shifted[j];
    }
    let w = &left * coef;
    let mut right = left.clone();
    for (j, mut col) in right.column_iter_mut().enumerate() {
        let l = shifted[j];
        col *= -1.0 / (l * (1.0 + (n1 / l).sqrt()));
    }
    Ok(EnsembleTransform {
        w,
        anomaly: AnomalyWeights::LowRank {
            scale: 1.0,
            left,
            right,
        },
    })
}

/// ETKF transform for a batch, before inflation and rotation. Public so the
/// engine can compute it from `hx` alone and apply it on the GPU.
pub fn etkf_transform(obs: &ObsBatch) -> Result<EnsembleTransform, AssimError> {
    obs.validate()?;
    let wh = Whitened::of(obs);
    etkf_from_whitened(&wh.s, &wh.d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::gauss::std_normal_matrix;
    use crate::methods::assim::stats::mean_cov;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Linear-Gaussian check: with a linear H, the ETKF analysis mean and
    /// covariance equal the Kalman filter's for the ensemble's own prior
    /// covariance P = X'X'ᵀ/(N−1): x_a = x̄ + K (y − H x̄),
    /// P_a = (I − K H) P, K = P Hᵀ (H P Hᵀ + R)⁻¹. Exact up to round-off (1e-10).
    #[test]
    fn matches_kalman_filter_on_linear_gaussian_problem() {
        let mut rng = StdRng::seed_from_u64(11);
        let (n_state, n_mem, m) = (5, 8, 3);
        let e = std_normal_matrix(&mut rng, n_state, n_mem) * 2.0;
        let h = std_normal_matrix(&mut rng, m, n_state);
        let r = DVector::from_vec(vec![0.5, 1.0, 2.0]);
        let y = DVector::from_vec(vec![0.3, -1.0, 2.0]);
        let obs = ObsBatch::new(y.clone(), r.clone(), &h * &e);

        let t = etkf_transform(&obs).unwrap();
        let mut ea = e.clone();
        t.apply(&mut ea).unwrap();

        let (xb, pb) = mean_cov(&e);
        let rm = DMatrix::from_diagonal(&r);
        let k = &pb * h.transpose() * (&h * &pb * h.transpose() + rm).try_inverse().unwrap();
        let xa = &xb + &k * (&y - &h * &xb);
        let pa = (DMatrix::identity(n_state, n_state) - &k * &h) * &pb;

        let (xa_e, pa_e) = mean_cov(&ea);
        assert!((xa - xa_e).abs().max() < 1e-10);
        assert!((pa - pa_e).abs().max() < 1e-10);
        // The symmetric root preserves the ones vector.
        let ones = DVector::from_element(n_mem, 1.0);
        assert!((t.big_w() * &ones - ones).abs().max() < 1e-12);
    }

    /// The observation-space form equals the ensemble-space one (the
    /// original N × N algorithm) to 1e-10 relative in the right-multiplier
    /// M, on random problems with p < N and p ≥ N (the observation-space
    /// algebra is exact for any p), raw and with inflation 1.07 and a
    /// random rotation folded in, and `etkf_from_whitened` picks the
    /// observation-space form exactly when p < N.
    #[test]
    fn observation_space_form_equals_ensemble_space_form() {
        use crate::methods::assim::inflation::random_rotation;
        let mut rng = StdRng::seed_from_u64(12);
        for (p, n) in [(1, 6), (3, 20), (12, 40), (20, 20), (30, 9), (5, 300)] {
            let mut s = std_normal_matrix(&mut rng, p, n) * 1.7;
            // Whitened anomalies have zero row means.
            for mut r in s.row_iter_mut() {
                let m = r.sum() / n as f64;
                r.add_scalar_mut(-m);
            }
            let d = std_normal_matrix(&mut rng, p, 1).column(0).into_owned();
            let auto = etkf_from_whitened(&s, &d).unwrap();
            assert_eq!(auto.is_low_rank(), p < n, "p = {p}, N = {n}");
            let q = random_rotation(n, &mut rng);
            for post in [None, Some((1.07, None)), Some((1.07, Some(&q)))] {
                let mut fast = etkf_observation_space(&s, &d).unwrap();
                let mut slow = etkf_ensemble_space(&s, &d).unwrap();
                if let Some((lambda, q)) = post {
                    fast.post_process(lambda, q);
                    slow.post_process(lambda, q);
                }
                let (mf, ms) = (fast.right_multiplier(), slow.right_multiplier());
                let rel = (&mf - &ms).abs().max() / ms.abs().max();
                assert!(rel < 1e-10, "p = {p}, N = {n}, {post:?}: {rel}");
            }
        }
    }
}
