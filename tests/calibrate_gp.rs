//! The Gaussian-process emulator on known functions: interpolation error,
//! calibrated prediction variance, leave-one-out diagnostics, and ARD
//! length scales that single out an input the function ignores.

use vtwin::methods::calibrate::sampling::{keyed, latin_hypercube};
use vtwin::methods::calibrate::{Gp, GpConfig, GpKernel};

fn sine(x: f64) -> f64 {
    (2.0 * std::f64::consts::PI * x).sin()
}

/// sin(2πx) from 12 evenly spread points: the emulator interpolates the
/// training points, predicts 200 fresh points within 0.01, brackets ≥ 95 %
/// of its errors by 3 predictive sd's, and passes its own LOO check.
#[test]
fn interpolates_a_sine_with_calibrated_errors() {
    for kernel in [GpKernel::Matern52, GpKernel::SquaredExponential] {
        let x: Vec<Vec<f64>> = (0..12).map(|i| vec![(i as f64 + 0.5) / 12.0]).collect();
        let y: Vec<f64> = x.iter().map(|p| sine(p[0])).collect();
        let cfg = GpConfig {
            kernel,
            ..GpConfig::default()
        };
        let gp = Gp::fit(&x, &y, &cfg, 7).unwrap();
        for (p, v) in x.iter().zip(&y) {
            let (m, var) = gp.predict(p);
            assert!(
                (m - v).abs() < 1e-3,
                "{kernel:?}: training point {p:?}: {m} vs {v}"
            );
            assert!(var < 1e-4, "{kernel:?}: variance {var} at a training point");
        }
        let mut worst: f64 = 0.0;
        let mut bracketed = 0;
        for i in 0..200 {
            let t = (i as f64 + 0.5) / 200.0;
            let (m, var) = gp.predict(&[t]);
            let err = (m - sine(t)).abs();
            worst = worst.max(err);
            if err <= 3.0 * var.sqrt() + 1e-9 {
                bracketed += 1;
            }
        }
        assert!(worst < 0.01, "{kernel:?}: worst error {worst}");
        assert!(
            bracketed >= 190,
            "{kernel:?}: only {bracketed}/200 errors within 3 sd"
        );
        let loo = gp.loo();
        assert!(loo.passes(), "{kernel:?}: {loo:?}");
        assert!(loo.rmse < 0.05, "{kernel:?}: LOO rmse {}", loo.rmse);
    }
}

/// f(x) = sin(2π x₁) + x₂² with a third input f ignores, on a 40-point
/// Latin hypercube: held-out error stays small and the ignored input gets a
/// length scale of at least 10 (the cube is 1 wide; the bound is e³ ≈ 20),
/// over 5× that of x₁ and 2× that of the smooth x₂.
#[test]
fn ard_length_scales_find_the_ignored_input() {
    let f = |p: &[f64]| sine(p[0]) + p[1] * p[1];
    let x = latin_hypercube(40, 3, &mut keyed(11, [0, 0, 0]));
    let y: Vec<f64> = x.iter().map(|p| f(p)).collect();
    let gp = Gp::fit(&x, &y, &GpConfig::default(), 3).unwrap();
    let ls = gp.lengthscales();
    assert!(
        ls[2] >= 10.0 && ls[2] > 5.0 * ls[0] && ls[2] > 2.0 * ls[1],
        "length scales {ls:?}"
    );
    let test = latin_hypercube(100, 3, &mut keyed(12, [0, 0, 0]));
    let rmse = (test
        .iter()
        .map(|p| (gp.predict(p).0 - f(p)).powi(2))
        .sum::<f64>()
        / 100.0)
        .sqrt();
    assert!(rmse < 0.05, "held-out rmse {rmse}");
    assert!(gp.loo().passes(), "{:?}", gp.loo());
}

/// Noisy observations of a line: the nugget absorbs the noise, whose
/// variance the fit recovers within a factor of 2.
#[test]
fn the_nugget_estimates_observation_noise() {
    let mut rng = keyed(5, [0, 0, 0]);
    let x = latin_hypercube(60, 1, &mut rng);
    let noise_sd = 0.1;
    let y: Vec<f64> = x
        .iter()
        .map(|p| 2.0 * p[0] + noise_sd * rng.normal())
        .collect();
    let gp = Gp::fit(&x, &y, &GpConfig::default(), 1).unwrap();
    let nv = gp.nugget_variance();
    assert!(
        nv > 0.5 * noise_sd * noise_sd && nv < 2.0 * noise_sd * noise_sd,
        "nugget variance {nv}"
    );
    let (m, _) = gp.predict(&[0.5]);
    assert!((m - 1.0).abs() < 0.06, "mean at 0.5: {m}");
    let loo = gp.loo();
    assert!(loo.within_2 >= 0.85, "{loo:?}");
}
