//! Ensemble statistics on host matrices (n × N, column = member): means,
//! anomalies, covariances, weighted moments. Pure functions; no filtering.

use nalgebra::{DMatrix, DVector};

/// Mean (n) and anomalies X' = E − x̄ 1ᵀ (n × N).
pub fn mean_and_anomalies(e: &DMatrix<f64>) -> (DVector<f64>, DMatrix<f64>) {
    let mean = e.column_mean();
    let mut a = e.clone();
    for mut c in a.column_iter_mut() {
        c -= &mean;
    }
    (mean, a)
}

/// Mean and unbiased sample covariance X'X'ᵀ/(N−1).
pub fn mean_cov(e: &DMatrix<f64>) -> (DVector<f64>, DMatrix<f64>) {
    let (mean, a) = mean_and_anomalies(e);
    let cov = &a * a.transpose() / (e.ncols() - 1) as f64;
    (mean, cov)
}

/// Weighted mean E w and per-row weighted variance with the reliability
/// correction 1/(1 − Σ w²) (= N/(N−1) for equal weights). `w` sums to 1.
pub fn weighted_mean_var(e: &DMatrix<f64>, w: &DVector<f64>) -> (DVector<f64>, DVector<f64>) {
    let mean = e * w;
    let sum_w2 = w.norm_squared();
    let unbias = if sum_w2 < 1.0 {
        1.0 / (1.0 - sum_w2)
    } else {
        1.0
    };
    let mut var = DVector::zeros(e.nrows());
    for j in 0..e.ncols() {
        for i in 0..e.nrows() {
            var[i] += w[j] * (e[(i, j)] - mean[i]).powi(2);
        }
    }
    (mean, var * unbias)
}

/// Root-mean-square over the rows of `a − b`.
pub fn rms_diff(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    ((a - b).norm_squared() / a.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal weights reproduce the plain mean and unbiased variance.
    #[test]
    fn equal_weights_give_sample_moments() {
        let e = DMatrix::from_row_slice(2, 4, &[1.0, 2.0, 3.0, 6.0, 0.0, 0.0, 1.0, -1.0]);
        let w = DVector::from_element(4, 0.25);
        let (m, v) = weighted_mean_var(&e, &w);
        let (m0, c0) = mean_cov(&e);
        assert!((m - m0).abs().max() < 1e-14);
        assert!((&v - c0.diagonal()).abs().max() < 1e-14);
        assert!((v[0] - 14.0 / 3.0).abs() < 1e-14);
    }
}
