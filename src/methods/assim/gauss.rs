//! Standard normal draws from any seeded `rand` generator (Box–Muller), so
//! the filters need no distribution crate. Owns nothing else.

use nalgebra::DMatrix;
use rand::{Rng, RngExt};

/// Two independent N(0, 1) draws from two uniforms (Box–Muller).
pub fn std_normal_pair<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    // `random::<f64>()` is in [0, 1); 1 − u is in (0, 1], so ln never sees 0.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let radius = (-2.0 * u1.ln()).sqrt();
    let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
    (radius * cos, radius * sin)
}

/// One N(0, 1) draw (the first of a Box–Muller pair; every call consumes
/// exactly two uniforms).
pub fn std_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    std_normal_pair(rng).0
}

/// A rows × cols matrix of independent N(0, 1) draws, filled column by column
/// with both draws of each pair.
pub fn std_normal_matrix<R: Rng + ?Sized>(rng: &mut R, rows: usize, cols: usize) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(rows, cols);
    for pair in m.as_mut_slice().chunks_mut(2) {
        let (a, b) = std_normal_pair(rng);
        pair[0] = a;
        if let Some(second) = pair.get_mut(1) {
            *second = b;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Both members of a pair are standard normal and uncorrelated: the
    /// sample correlation of 100 000 pairs is within 4 SE (4/√n ≈ 0.013) of 0.
    #[test]
    fn matrix_draws_are_uncorrelated_within_pairs() {
        let mut rng = StdRng::seed_from_u64(8);
        let m = std_normal_matrix(&mut rng, 2, 100_000);
        let (a, b) = (m.row(0), m.row(1));
        let corr = a.dot(&b) / (a.norm() * b.norm());
        assert!(corr.abs() < 0.013, "correlation {corr}");
        let var = m.norm_squared() / 200_000.0;
        assert!(
            (var - 1.0).abs() < 4.0 * (2.0 / 200_000f64).sqrt(),
            "var {var}"
        );
    }

    /// Sample moments of 200 000 draws: mean within 4 standard errors of 0
    /// (SE = 1/√n ≈ 0.0022), variance within 4 SE of 1 (SE = √(2/n) ≈ 0.0032),
    /// kurtosis within 0.05 of 3.
    #[test]
    fn moments_are_standard_normal() {
        let mut rng = StdRng::seed_from_u64(7);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| std_normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let kurt = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n as f64 / var / var;
        assert!(mean.abs() < 4.0 / (n as f64).sqrt(), "mean {mean}");
        assert!(
            (var - 1.0).abs() < 4.0 * (2.0 / n as f64).sqrt(),
            "var {var}"
        );
        assert!((kurt - 3.0).abs() < 0.05, "kurtosis {kurt}");
    }
}
