//! Data-assimilation acceptance benchmarks: each configuration of the issue
//! must reproduce its published analysis RMSE within sampling error, on the
//! set-ups of (Sakov & Oke 2008 for Lorenz-96; Sakov, Oliver &
//! Bertino 2012 for Lorenz-63), and the filter without inflation must fail.
//!
//! Tolerances = rounding of the published figure (±0.005, it is quoted to two
//! decimals) + 3 × the seed-to-seed standard deviation of our time-averaged
//! RMSE at the test's run length (measured over several seeds; the numbers
//! are in docs/benchmarks.md, with full-length runs).

use vtwin::methods::assim::lorenz::{Lorenz63, Lorenz96};
use vtwin::methods::assim::testbed::{TwinExperiment, TwinMetrics};
use vtwin::methods::assim::{
    Domain, Filter, FilterConfig, GaspariCohn, LetkfConfig, Method, PfConfig,
};

fn run_l96(members: usize, scored: usize, seed: u64, config: FilterConfig) -> TwinMetrics {
    let mut filter = Filter::new(config).unwrap();
    TwinExperiment::lorenz96_sakov2008(members, scored, seed)
        .run(&mut Lorenz96::standard(), &mut filter)
        .unwrap()
}

fn run_l63(members: usize, scored: usize, seed: u64, config: FilterConfig) -> TwinMetrics {
    let mut filter = Filter::new(config).unwrap();
    TwinExperiment::lorenz63_sakov2012(members, scored, seed)
        .run(&mut Lorenz63::standard(), &mut filter)
        .unwrap()
}

/// Checks the published RMSE and that assimilation is doing the work.
fn check(name: &str, m: &TwinMetrics, published: f64, tol: f64) {
    println!("{name}: {m:?}");
    assert_eq!(m.diverged_at, None, "{name} diverged");
    assert!(
        (m.rmse_analysis - published).abs() <= tol,
        "{name}: analysis RMSE {:.4}, published {published} ± {tol}",
        m.rmse_analysis
    );
    assert!(
        m.rmse_forecast > m.rmse_analysis,
        "{name}: forecast should be worse than analysis"
    );
    assert!(
        m.rmse_analysis < 0.1 * m.rmse_free,
        "{name}: no better than the free run"
    );
    assert!(m.spread_analysis.is_finite() && m.spread_analysis > 0.0);
}

fn etkf(rotate: bool, inflation: f64) -> FilterConfig {
    FilterConfig {
        method: Method::Etkf { rotate },
        inflation,
    }
}

/// Lorenz-96, ETKF (symmetric square root), N = 28, inflation 1.02, random
/// rotation. Published 0.18: DAPPER's benchmark list for `Lorenz96/sakov2008`
/// (`EnKF('Sqrt', N=28, infl=1.02, rot=True)  # 0.18`, in its examples and
/// the "Other analysis schemes" block of `sakov2008.py`), on Sakov & Oke's
/// (2008) set-up. 4000 scored cycles; seed SD 0.004 (8 seeds) →
/// tol 0.005 + 0.012 ≈ 0.02.
#[test]
fn lorenz96_etkf_n28() {
    let m = run_l96(28, 4000, 2024, etkf(true, 1.02));
    check("L96 ETKF N=28", &m, 0.18, 0.02);
}

/// Lorenz-96, stochastic EnKF with perturbed observations, N = 40, inflation
/// 1.06. Published 0.22: Sakov & Oke (2008) Table 1, as reproduced in
/// DAPPER's `sakov2008.py` (`EnKF('PertObs', N=40, infl=1.06)  # 0.22`).
/// 4000 scored cycles; seed SD 0.006 (8 seeds) → tol 0.005 + 0.018 ≈ 0.025.
#[test]
fn lorenz96_enkf_n40() {
    let config = FilterConfig {
        method: Method::EnKF,
        inflation: 1.06,
    };
    let m = run_l96(40, 4000, 2024, config);
    check("L96 EnKF N=40", &m, 0.22, 0.025);
}

/// Lorenz-96, LETKF, N = 7, inflation 1.04, localisation radius 4 (taper
/// e^(−1/2) at 4 grid points, periodic distance), random rotation.
/// Published 0.22: DAPPER's `sakov2008.py` (`LETKF(N=7, rot=True,
/// infl=1.04, loc_rad=4)  # 0.22`). DAPPER scales its GC width by √(10/3)
/// instead of 1.7386 and analyses points in pairs; both change our RMSE by
/// < 0.004 (docs/benchmarks.md). 4000 scored cycles; seed SD 0.009 over 8
/// seeds, one of which has a transient divergence episode (0.24) →
/// tol 0.005 + 0.028 ≈ 0.035.
#[test]
fn lorenz96_letkf_n7() {
    let sites = TwinExperiment::lorenz96_sakov2008(7, 1, 0).sites;
    let config = FilterConfig {
        method: Method::Letkf(LetkfConfig {
            taper: GaspariCohn::from_radius(4.0).unwrap(),
            domain: Domain::ring(40.0),
            state_sites: sites,
            rotate: true,
        }),
        inflation: 1.04,
    };
    let m = run_l96(7, 4000, 2024, config);
    check("L96 LETKF N=7", &m, 0.22, 0.035);
}

/// Negative control (Sakov & Oke 2008: without inflation a square-root filter on
/// Lorenz-96 degrades badly). The same ETKF with N = 40 and rotation, once
/// with inflation 1.02 and once with none, over the same truth and
/// observations: the un-inflated filter must lose track (RMSE more than twice
/// the inflated one and above the 0.5 that no working filter here reaches),
/// while still returning finite metrics.
#[test]
fn lorenz96_etkf_without_inflation_fails() {
    let inflated = run_l96(40, 3000, 2024, etkf(true, 1.02));
    let bare = run_l96(40, 3000, 2024, etkf(true, 1.0));
    println!("inflated {inflated:?}\nbare {bare:?}");
    assert!(
        inflated.rmse_analysis < 0.2,
        "inflated ETKF N=40: {}",
        inflated.rmse_analysis
    );
    assert!(bare.rmse_analysis.is_finite() && bare.spread_analysis.is_finite());
    assert_eq!(bare.diverged_at, None);
    assert!(bare.rmse_analysis > 2.0 * inflated.rmse_analysis && bare.rmse_analysis > 0.5);
    // Filter divergence: the spread no longer accounts for the error.
    assert!(bare.rmse_analysis > 3.0 * bare.spread_analysis);
}

/// Lorenz-63, ETKF, N = 10, inflation 1.02, rotation. Published 0.60 in
/// DAPPER's `Lorenz63/sakov2012.py` (`EnKF('Sqrt', N=10, infl=1.02,
/// rot=True)  # 0.60`); DAPPER's example lists 0.63 and Sakov et al. (2012,
/// Table 1) 0.65, all from runs of ~1000 cycles, whose seed SD we measure at
/// 0.03. The error series is heavy-tailed, so we run 20 000 scored cycles
/// (seed SD 0.013 over 24 seeds; long-run mean 0.587) → tol 0.005 + 0.039.
#[test]
fn lorenz63_etkf_n10() {
    let m = run_l63(10, 20_000, 2024, etkf(true, 1.02));
    check("L63 ETKF N=10", &m, 0.60, 0.045);
}

/// Lorenz-63, bootstrap particle filter, N = 800, resampling when
/// N_eff < 0.2 N, jitter h = 0.9 on duplicated particles. Published 0.28:
/// DAPPER's `Lorenz63/sakov2012.py` and its example
/// (`PartFilt(N=800, reg=0.9, NER=0.2)  # 0.28`). 2000 scored cycles; seed
/// SD 0.009–0.011 over runs that stay on track → tol 0.005 + 0.033 ≈ 0.04.
/// This filter, as specified, can lose track for good when the truth passes
/// near the saddle at the origin (weights collapse onto one particle and the
/// jitter, scaled by the collapsed covariance, cannot re-spread it): 1 of 24
/// runs of 2000 cycles and 3 of 8 runs of 10 000 cycles did
/// (docs/benchmarks.md). The published 0.28 describes the filter on track;
/// the run of this test (seed 2024) stays on track, and a lost track would
/// fail the tolerance (RMSE ≥ 1).
#[test]
fn lorenz63_particle_filter_n800() {
    let config = FilterConfig {
        method: Method::Pf(PfConfig {
            resample_threshold: 0.2,
            jitter: 0.9,
            state_dim: 3,
        }),
        inflation: 1.0,
    };
    let m = run_l63(800, 2000, 2024, config);
    check("L63 PF N=800", &m, 0.28, 0.04);
    // Resampling happens, but not at every cycle.
    assert!(
        m.resamplings > 50 && m.resamplings < 1000,
        "{} resamplings",
        m.resamplings
    );
}
