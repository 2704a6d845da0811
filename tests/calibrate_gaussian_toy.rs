//! A conjugate Gaussian toy: prior x ~ N(0, 1),
//! data y | x ~ N(x, 0.5²), observed y = 2, exact posterior
//! N(1.6, 0.4472²) — checked for ABC-SMC and for history matching.

use vtwin::core::rng::{Stream, normal2_f64};
use vtwin::input::params::{Distribution, ParamBlock};
use vtwin::methods::calibrate::{
    AbcConfig, AbcMode, AbcStop, HmConfig, ProgressEvent, Summaries, run_abc_smc,
    run_history_matching,
};

const POST_MEAN: f64 = 1.6;
const POST_SD: f64 = 0.447_213_595_499_958; // √0.2

/// y = x + 0.5 ε, with ε keyed by (batch seed, row): a stochastic simulator.
struct NoisyIdentity;
impl vtwin::engine::Simulator for NoisyIdentity {
    fn simulate(
        &mut self,
        batch: &vtwin::engine::Batch<'_>,
    ) -> Result<vtwin::engine::Recordings, vtwin::engine::SimulatorError> {
        let (thetas, seed) = (batch.rows, batch.seed);
        Ok(vtwin::engine::Recordings::from_values(
            thetas
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    Some(vec![
                        t[0] + 0.5 * normal2_f64(seed, 0, i as u32, 0, Stream::ObsNoise as u32)[0],
                    ])
                })
                .collect(),
        ))
    }
}

/// f(x) = x, no noise: the history-matching toy.
fn identity() -> vtwin::engine::PerRow<impl FnMut(&[f64]) -> Option<Vec<f64>>> {
    vtwin::engine::PerRow(|t: &[f64]| Some(vec![t[0]]))
}

fn weighted_mean_sd(xs: &[f64], w: &[f64]) -> (f64, f64) {
    let m: f64 = xs.iter().zip(w).map(|(x, w)| x * w).sum();
    let v: f64 = xs.iter().zip(w).map(|(x, w)| w * (x - m).powi(2)).sum();
    (m, v.sqrt())
}

/// ABC-SMC down to a tolerance of 0.04 observation sd's (|y − 2| ≤ 0.02,
/// which widens the posterior sd by under 0.1 %) with 2000 particles: the
/// weighted posterior mean is within ±0.05 of 1.6 and the sd within ±15 %
/// of 0.4472, and the 5 / 50 / 95 % quantiles within 0.1 of N(1.6, 0.4472²)'s.
/// Over 30 other seeds the largest errors were 0.047 (mean) and 9.5 % (sd).
/// ABC-SMC's importance weights are heavy-tailed: with an earlier random
/// generator one seed in 40 reached 0.059 / 24 % when a single rare
/// particle deep in the left tail took 4 % of the weight, so the mean is
/// also held to 4 Monte Carlo standard errors at the final ESS.
#[test]
fn abc_smc_recovers_the_exact_gaussian_posterior() {
    let block = ParamBlock::from_pairs([("x".into(), Distribution::Normal { mean: 0.0, sd: 1.0 })]);
    // NoisyIdentity adds the observation noise itself: mode deterministic.
    let cfg = AbcConfig {
        mode: AbcMode::Deterministic,
        population: 2000,
        final_epsilon: 0.04,
        max_generations: 20,
        max_simulations: 1_000_000,
        seed: 2024,
        ..AbcConfig::default()
    };
    let mut generations = 0;
    let r = run_abc_smc(
        &block,
        &mut Summaries::last(&mut NoisyIdentity),
        &[2.0],
        &[0.5],
        &cfg,
        &mut |e| {
            if let ProgressEvent::AbcGeneration { .. } = e {
                generations += 1;
            }
        },
    )
    .unwrap();
    assert_eq!(
        r.stop,
        AbcStop::FinalEpsilon,
        "stopped by {:?} after {} generations",
        r.stop,
        r.generations.len()
    );
    assert_eq!(generations, r.generations.len());
    let last = r.last();
    let xs: Vec<f64> = last.particles.iter().map(|p| p[0]).collect();
    let (m, sd) = weighted_mean_sd(&xs, &last.weights);
    assert!((m - POST_MEAN).abs() < 0.05, "posterior mean {m}");
    assert!(
        (m - POST_MEAN).abs() < 4.0 * POST_SD / last.ess.sqrt(),
        "posterior mean {m} at ESS {}",
        last.ess
    );
    assert!((sd / POST_SD - 1.0).abs() < 0.15, "posterior sd {sd}");
    let s = &r.summary()[0];
    assert!(
        (s.q05 - (POST_MEAN - 1.644_853_6 * POST_SD)).abs() < 0.1,
        "q05 {}",
        s.q05
    );
    assert!((s.q50 - POST_MEAN).abs() < 0.1, "q50 {}", s.q50);
    assert!(
        (s.q95 - (POST_MEAN + 1.644_853_6 * POST_SD)).abs() < 0.1,
        "q95 {}",
        s.q95
    );
}

/// History matching with f(x) = x, z = 2, Var_obs = 0.25 over a uniform
/// prior on [−4, 4]: the exact non-implausible set is |x − 2| ≤ 1.5, i.e.
/// [0.5, 3.5], 37.5 % of the space. After two waves the emulator is exact
/// enough that the set is ⊂ [0.4, 3.6], holds 1.6 and 2, its sample
/// reaches both ends (within 0.2), and the fraction ruled out is
/// 0.625 ± 0.02 (Monte Carlo sd with 20 000 points: 0.0034).
#[test]
fn history_matching_finds_the_three_sigma_interval() {
    let block = ParamBlock::from_pairs([(
        "x".into(),
        Distribution::Uniform {
            low: -4.0,
            high: 4.0,
        },
    )]);
    let cfg = HmConfig {
        waves: 2,
        seed: 5,
        ..HmConfig::default()
    };
    let r = run_history_matching(
        &block,
        &mut Summaries::last(&mut identity()),
        &[2.0],
        &[0.5],
        &cfg,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(r.waves.len(), 2);
    let unit = |x: f64| [(x + 4.0) / 8.0];
    for x in [1.6, 2.0, 0.6, 3.4] {
        assert!(
            r.is_non_implausible(&unit(x)),
            "x = {x}: I = {}",
            r.implausibility(&unit(x))
        );
    }
    for x in [-3.0, 0.0, 0.35, 3.65, 4.0] {
        assert!(
            !r.is_non_implausible(&unit(x)),
            "x = {x}: I = {}",
            r.implausibility(&unit(x))
        );
    }
    let xs: Vec<f64> = r.nroy.iter().map(|p| p[0]).collect();
    let lo = xs.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        lo >= 0.4 && hi <= 3.6,
        "non-implausible sample spans [{lo}, {hi}]"
    );
    assert!(
        lo < 0.7 && hi > 3.3,
        "non-implausible sample spans only [{lo}, {hi}]"
    );
    let ruled_out = r.waves[1].fraction_ruled_out;
    assert!(
        (ruled_out - 0.625).abs() < 0.02,
        "fraction ruled out {ruled_out}"
    );
    assert!(r.waves[0].fraction_ruled_out <= ruled_out);
    for w in &r.waves {
        assert!(w.loo[0].passes(), "wave {}: {:?}", w.wave, w.loo[0]);
    }
    assert_eq!(r.posterior().unwrap().draws.len(), cfg.nroy_samples);
}

/// The same toy over the N(0, 1) prior itself: emulators work on the
/// parameter's own scale, so the steep normal tail of the unit cube does
/// not fool them. The exact non-implausible set [0.5, 3.5] has prior mass
/// Φ(3.5) − Φ(0.5) = 0.30831, so 0.69169 is ruled out; after two waves the
/// estimate is within ±0.012 (3.5 Monte Carlo sd's of 20 000 points).
#[test]
fn history_matching_over_a_normal_prior_rules_out_its_mass() {
    let block = ParamBlock::from_pairs([("x".into(), Distribution::Normal { mean: 0.0, sd: 1.0 })]);
    let cfg = HmConfig {
        waves: 2,
        seed: 8,
        ..HmConfig::default()
    };
    let r = run_history_matching(
        &block,
        &mut Summaries::last(&mut identity()),
        &[2.0],
        &[0.5],
        &cfg,
        &mut |_| {},
    )
    .unwrap();
    let ruled_out = r.waves[1].fraction_ruled_out;
    assert!(
        (ruled_out - 0.69169).abs() < 0.012,
        "fraction ruled out {ruled_out}"
    );
    let unit = |x: f64| [vtwin::input::params::norm_cdf(x)];
    for x in [0.6, 1.6, 2.0, 3.4] {
        assert!(
            r.is_non_implausible(&unit(x)),
            "x = {x}: I = {}",
            r.implausibility(&unit(x))
        );
    }
    for x in [-1.0, 0.35, 3.7] {
        assert!(
            !r.is_non_implausible(&unit(x)),
            "x = {x}: I = {}",
            r.implausibility(&unit(x))
        );
    }
    assert!(r.nroy.iter().all(|p| (0.45..=3.55).contains(&p[0])));
}
