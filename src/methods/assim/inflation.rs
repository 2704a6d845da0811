//! Post-analysis treatments of the ensemble spread: multiplicative inflation
//! of anomalies, the mean-preserving random rotation, and additive noise.
//! Owns these operations; the filters fold inflation and rotation into their
//! transforms, so the GPU never applies them separately.

use nalgebra::{DMatrix, DVector};
use rand::Rng;

use super::error::{AssimError, check_len};
use super::gauss::{std_normal, std_normal_matrix};

/// E ← x̄ 1ᵀ + λ (E − x̄ 1ᵀ) on a host ensemble.
pub fn inflate(ens: &mut DMatrix<f64>, lambda: f64) {
    let mean = ens.column_mean();
    for mut c in ens.column_iter_mut() {
        let a = (&c - &mean) * lambda;
        c.copy_from(&(a + &mean));
    }
}

/// A random orthogonal N × N matrix Q with Q 1 = 1 (so it rotates anomalies
/// without moving the mean), Haar-distributed on the complement of 1
/// (Sakov & Oke 2008's mean-preserving rotation).
///
/// Built as Q = H diag(1, Q₀) H, with Q₀ Haar on O(N−1) (QR of a Gaussian
/// matrix with the signs of R's diagonal fixed) and H the Householder
/// reflection that swaps e₁ and 1/√N.
pub fn random_rotation<R: Rng + ?Sized>(n: usize, rng: &mut R) -> DMatrix<f64> {
    if n < 2 {
        return DMatrix::identity(n, n);
    }
    let g = std_normal_matrix(rng, n - 1, n - 1);
    let qr = g.qr();
    let mut q0 = qr.q();
    let r = qr.r();
    for j in 0..n - 1 {
        if r[(j, j)] < 0.0 {
            q0.column_mut(j).neg_mut();
        }
    }
    let mut inner = DMatrix::identity(n, n);
    inner.view_mut((1, 1), (n - 1, n - 1)).copy_from(&q0);
    // Householder vector u = e₁ − 1/√N; H = I − 2 u uᵀ / (uᵀ u).
    let mut u = DVector::from_element(n, -1.0 / (n as f64).sqrt());
    u[0] += 1.0;
    let h = DMatrix::identity(n, n) - &u * u.transpose() * (2.0 / u.norm_squared());
    &h * inner * &h
}

/// Adds independent N(0, sd_i²) noise to every member's row i.
pub fn add_noise<R: Rng + ?Sized>(
    ens: &mut DMatrix<f64>,
    sd: &DVector<f64>,
    rng: &mut R,
) -> Result<(), AssimError> {
    check_len(
        "additive-noise sd (one per state row)",
        ens.nrows(),
        sd.len(),
    )?;
    if let Some(i) = sd.iter().position(|s| !(s.is_finite() && *s >= 0.0)) {
        return Err(AssimError::config(
            "additive-noise sd",
            sd[i],
            "must be finite and non-negative",
        ));
    }
    for j in 0..ens.ncols() {
        for i in 0..ens.nrows() {
            ens[(i, j)] += sd[i] * std_normal(rng);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn rotation_is_orthogonal_and_keeps_ones() {
        let mut rng = StdRng::seed_from_u64(9);
        for n in [2, 3, 10, 28] {
            let q = random_rotation(n, &mut rng);
            let ones = DVector::from_element(n, 1.0);
            assert!((&q * &ones - &ones).abs().max() < 1e-12);
            assert!((q.transpose() * &q - DMatrix::identity(n, n)).abs().max() < 1e-12);
        }
    }

    /// Haar check: E[Q] restricted to the complement of 1 is 0, so
    /// E[Q] = 1 1ᵀ/N. Averaged over 4000 draws (N = 5) each entry must be
    /// within 0.03 of 1/N (entry SD ≈ 0.45/√4000 ≈ 0.007).
    #[test]
    fn rotation_averages_to_the_mean_projector() {
        let mut rng = StdRng::seed_from_u64(10);
        let n = 5;
        let reps = 4000;
        let mut sum = DMatrix::zeros(n, n);
        for _ in 0..reps {
            sum += random_rotation(n, &mut rng);
        }
        let avg = sum / reps as f64;
        let err = avg.map(|v| (v - 1.0 / n as f64).abs()).max();
        assert!(err < 0.03, "max deviation {err}");
    }

    #[test]
    fn inflation_scales_anomalies_only() {
        let mut e = DMatrix::from_row_slice(1, 3, &[1.0, 2.0, 6.0]);
        inflate(&mut e, 2.0);
        assert_eq!(e, DMatrix::from_row_slice(1, 3, &[-1.0, 1.0, 9.0]));
    }

    /// Added noise has the requested SD: 2000 members, SD 0.5, sample SD
    /// within 5 % (SE of an SD estimate ≈ 1/√(2n) ≈ 1.6 %).
    #[test]
    fn additive_noise_has_requested_sd() {
        let mut rng = StdRng::seed_from_u64(12);
        let mut e = DMatrix::zeros(2, 2000);
        add_noise(&mut e, &DVector::from_vec(vec![0.5, 0.0]), &mut rng).unwrap();
        let sd = (e.row(0).norm_squared() / 2000.0).sqrt();
        assert!((sd - 0.5).abs() < 0.025, "sd {sd}");
        assert_eq!(e.row(1).abs().max(), 0.0);
        assert!(add_noise(&mut e, &DVector::from_vec(vec![0.5]), &mut rng).is_err());
    }
}
