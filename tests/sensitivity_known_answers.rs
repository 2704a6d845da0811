//! Known-answer tests of the Sobol and Morris estimators on designs made by
//! `vtwin::methods::design`: the Ishigami and G-function analytic indices
//! (Ishigami & Homma 1990; Saltelli et al. 2010), Morris on a linear function, and the bootstrap
//! intervals against the actual spread of the estimates.

use std::f64::consts::PI;
use vtwin::input::params::{Distribution, ParamBlock};
use vtwin::methods::design::{DesignMethod, DesignOptions, generate, saltelli};
use vtwin::methods::sensitivity::{
    Bootstrap, MorrisOptions, SobolOptions, morris_indices, sobol_indices,
};

fn uniform_block(ranges: &[(f64, f64)]) -> ParamBlock {
    ParamBlock::from_pairs(
        ranges
            .iter()
            .enumerate()
            .map(|(i, &(low, high))| (format!("x{}", i + 1), Distribution::Uniform { low, high })),
    )
}

/// Ishigami: f = sin x1 + 7 sin² x2 + 0.1 x3⁴ sin x1, xi ~ U[−π, π].
fn ishigami(x: &[f64]) -> f64 {
    x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
}

/// Ishigami & Homma (1990), a = 7, b = 0.1: S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437),
/// S13 = 0.2437.
const ISHIGAMI_S1: [f64; 3] = [0.3139051911, 0.4424111448, 0.0];
const ISHIGAMI_ST: [f64; 3] = [0.5575888552, 0.4424111448, 0.2436836641];
const ISHIGAMI_S13: f64 = 0.2436836641;

fn quick() -> Bootstrap {
    Bootstrap {
        resamples: 200,
        seed: 1,
        conf_level: 0.95,
    }
}

fn run_sobol(
    block: &ParamBlock,
    n: usize,
    opts: &DesignOptions,
    f: impl Fn(&[f64]) -> f64,
) -> vtwin::methods::sensitivity::SobolResult {
    let d = generate(block, DesignMethod::Saltelli, n, opts).unwrap();
    let y: Vec<f64> = d.values.iter().map(|x| f(x)).collect();
    // Power-of-two base sizes often fit both layouts (5·4096 = 8·2560 for
    // D = 3), so the design says which it is.
    let so = SobolOptions {
        bootstrap: quick(),
        second_order: Some(d.second_order),
    };
    sobol_indices(d.values.len(), block.varying().len(), &y, &so).unwrap()
}

fn max_err(got: &[f64], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max)
}

/// Ishigami at N = 4096. Unscrambled Saltelli design (deterministic):
/// every |S1 − exact| and |ST − exact| ≤ 0.005 (observed ~0.0005).
/// Owen-scrambled, seeds 0..9: each ≤ 0.03, and the median over seeds of
/// the max error ≤ 0.008 (S1) and ≤ 0.006 (ST) (observed ~0.003 / ~0.002;
/// the published ~0.0015 / ~0.001 matches a linear matrix scramble, which
/// has a different error distribution from nested uniform scrambling).
#[test]
fn ishigami_indices_at_n_4096() {
    let block = uniform_block(&[(-PI, PI); 3]);
    let r = run_sobol(&block, 4096, &DesignOptions::default(), ishigami);
    assert!(max_err(&r.s1, &ISHIGAMI_S1) <= 0.005, "S1 {:?}", r.s1);
    assert!(max_err(&r.st, &ISHIGAMI_ST) <= 0.005, "ST {:?}", r.st);
    assert!(r.s2.is_none());
    let (mut e1, mut et) = (Vec::new(), Vec::new());
    for seed in 0..9 {
        let opts = DesignOptions {
            scramble: true,
            seed,
            ..Default::default()
        };
        let r = run_sobol(&block, 4096, &opts, ishigami);
        e1.push(max_err(&r.s1, &ISHIGAMI_S1));
        et.push(max_err(&r.st, &ISHIGAMI_ST));
    }
    assert!(
        e1.iter().chain(&et).all(|&e| e <= 0.03),
        "S1 {e1:?} ST {et:?}"
    );
    e1.sort_by(f64::total_cmp);
    et.sort_by(f64::total_cmp);
    assert!(
        e1[4] <= 0.008 && et[4] <= 0.006,
        "median errors S1 {} ST {}",
        e1[4],
        et[4]
    );
}

/// Second-order Ishigami design at N = 4096 (unscrambled): S1 and ST
/// within 0.005, and the only interaction S13 = 0.2437 while S12 = S23 = 0,
/// each within 0.01.
#[test]
fn ishigami_second_order() {
    let block = uniform_block(&[(-PI, PI); 3]);
    let opts = DesignOptions {
        second_order: true,
        ..Default::default()
    };
    let r = run_sobol(&block, 4096, &opts, ishigami);
    assert!(max_err(&r.s1, &ISHIGAMI_S1) <= 0.005);
    assert!(max_err(&r.st, &ISHIGAMI_ST) <= 0.005);
    assert!(
        (r.s2_of(0, 2).unwrap() - ISHIGAMI_S13).abs() <= 0.01,
        "{:?}",
        r.s2
    );
    assert!(r.s2_of(0, 1).unwrap().abs() <= 0.01, "{:?}", r.s2);
    assert!(r.s2_of(1, 2).unwrap().abs() <= 0.01, "{:?}", r.s2);
}

/// Sobol's G-function, f = Π (|4xi − 2| + ai)/(1 + ai) on U[0, 1]^6 with
/// a = (0, 1, 4.5, 9, 99, 99): indices from the closed form
/// Vi = 1/(3(1+ai)²), V = Π(1+Vi) − 1, Si = Vi/V, STi = Vi Π_{j≠i}(1+Vj)/V
/// (Saltelli et al. 2010). N = 4096, unscrambled: every |S1 − exact| and
/// |ST − exact| ≤ 0.01 (observed ≤ 0.0025).
#[test]
fn g_function_indices_match_the_closed_form() {
    let a = [0.0, 1.0, 4.5, 9.0, 99.0, 99.0];
    let vi: Vec<f64> = a
        .iter()
        .map(|ai| 1.0 / (3.0 * (1.0 + ai) * (1.0 + ai)))
        .collect();
    let v = vi.iter().map(|x| 1.0 + x).product::<f64>() - 1.0;
    let s1: Vec<f64> = vi.iter().map(|x| x / v).collect();
    let st: Vec<f64> = (0..6)
        .map(|i| {
            vi[i]
                * (0..6)
                    .filter(|&j| j != i)
                    .map(|j| 1.0 + vi[j])
                    .product::<f64>()
                / v
        })
        .collect();
    let g = |x: &[f64]| {
        x.iter()
            .zip(&a)
            .map(|(xi, ai)| ((4.0 * xi - 2.0).abs() + ai) / (1.0 + ai))
            .product::<f64>()
    };
    let block = uniform_block(&[(0.0, 1.0); 6]);
    let r = run_sobol(&block, 4096, &DesignOptions::default(), g);
    assert!(max_err(&r.s1, &s1) <= 0.01, "S1 {:?} vs {s1:?}", r.s1);
    assert!(max_err(&r.st, &st) <= 0.01, "ST {:?} vs {st:?}", r.st);
}

/// The bootstrap half-widths describe the real sampling spread: with plain
/// Monte Carlo Saltelli designs (random A, B) at N = 512, over 200 seeds,
/// the mean of conf/1.96 for each S1 and ST is within 20 % of the observed
/// standard deviation of that index across seeds (the spread itself is
/// known to ~5 % with 200 seeds; a 400-seed run gave ratios 0.98–1.05).
#[test]
fn bootstrap_intervals_match_the_spread_over_seeds() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    let (n, d, seeds) = (512, 3, 200);
    let mut est = vec![Vec::new(); 2 * d];
    let mut conf = vec![Vec::new(); 2 * d];
    for seed in 0..seeds {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut draw = || -> Vec<Vec<f64>> {
            (0..n)
                .map(|_| {
                    (0..d)
                        .map(|_| -PI + 2.0 * PI * rng.random::<f64>())
                        .collect()
                })
                .collect()
        };
        let (a, b) = (draw(), draw());
        let rows = saltelli::saltelli_rows(&a, &b, false);
        let y: Vec<f64> = rows.iter().map(|x| ishigami(x)).collect();
        let boot = Bootstrap {
            resamples: 100,
            seed,
            conf_level: 0.95,
        };
        let r = sobol_indices(
            rows.len(),
            d,
            &y,
            &SobolOptions {
                bootstrap: boot,
                second_order: Some(false),
            },
        )
        .unwrap();
        for i in 0..d {
            est[i].push(r.s1[i]);
            conf[i].push(r.s1_conf[i] / 1.959964);
            est[d + i].push(r.st[i]);
            conf[d + i].push(r.st_conf[i] / 1.959964);
        }
    }
    for k in 0..2 * d {
        let m = est[k].iter().sum::<f64>() / seeds as f64;
        let sd = (est[k].iter().map(|e| (e - m).powi(2)).sum::<f64>() / (seeds - 1) as f64).sqrt();
        let boot = conf[k].iter().sum::<f64>() / seeds as f64;
        assert!(
            (boot / sd - 1.0).abs() < 0.2,
            "index {k}: bootstrap sd {boot} vs spread {sd}"
        );
    }
}

/// Morris on f = Σ ci xi with xi ~ U[low_i, high_i]: every elementary effect
/// equals ci·(high_i − low_i), so μ = ci·range, μ* = |ci|·range and σ = 0
/// (to 1e-9 relative), for p = 4 and p = 6.
#[test]
fn morris_is_exact_on_a_linear_function() {
    let ranges = [(0.0, 1.0), (-2.0, 3.0), (10.0, 10.5), (1e-3, 2e-3)];
    let c = [2.0, -0.5, 4.0, 1000.0];
    let block = uniform_block(&ranges);
    for levels in [4, 6] {
        let opts = DesignOptions {
            levels,
            seed: 3,
            ..Default::default()
        };
        let d = generate(&block, DesignMethod::Morris, 30, &opts).unwrap();
        let y: Vec<f64> = d
            .values
            .iter()
            .map(|x| x.iter().zip(&c).map(|(xi, ci)| xi * ci).sum())
            .collect();
        let r = morris_indices(&d.unit, &y, 4, levels, &MorrisOptions::default()).unwrap();
        for i in 0..4 {
            let want = c[i] * (ranges[i].1 - ranges[i].0);
            let tol = 1e-9 * want.abs().max(1.0);
            assert!(
                (r.mu[i] - want).abs() < tol,
                "mu {i}: {} vs {want}",
                r.mu[i]
            );
            assert!((r.mu_star[i] - want.abs()).abs() < tol, "mu* {i}");
            assert!(r.sigma[i] < tol, "sigma {i}: {}", r.sigma[i]);
            assert!(r.mu_star_conf[i] < tol, "conf {i}");
        }
    }
}
