//! The observation model's noise, jitter, detection-limit and missingness
//! rates match their configuration. Each check uses ≥ 20,000 independent
//! draws and a 4-sigma tolerance from the binomial or normal sampling sd.

use crate::toy::{scene, trajectory};
use vtwin::input::params::norm_cdf;
use vtwin::methods::cohort::observe::{ObservationRow, observe};

/// Observation rows of the control arm for patients 0..n.
fn rows(cohort: &str, seed: u64, n: u64) -> Vec<ObservationRow> {
    let s = scene(cohort);
    let sampler = s.sampler(seed);
    let mut out = Vec::new();
    for p in sampler.patients(0..n).unwrap() {
        out.extend(observe(&sampler, &p, &trajectory(&s.params, &p, "control")).unwrap());
    }
    out.retain(|r| r.observable == "marker");
    out
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

/// `|observed − p| ≤ 4 sqrt(p (1 − p) / n)`.
fn assert_rate(what: &str, hits: usize, n: usize, p: f64) {
    let r = hits as f64 / n as f64;
    let tol = 4.0 * (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (r - p).abs() <= tol,
        "{what}: rate {r} vs {p} ± {tol} (n = {n})"
    );
}

const VISITS: &str = "visits = [0, 28, 56, 84, 112]\n";

#[test]
fn additive_noise_lod_mcar_and_jitter_match_their_settings() {
    let r = rows(
        &format!(
            "[cohort.observation.marker]\n{VISITS}jitter_sd = 3.0\nnoise = {{ kind = \"additive\", sd = 2.0 }}\nlod = 8.0\nmcar = 0.1\n"
        ),
        11,
        4_000,
    );
    assert_eq!(r.len(), 20_000);
    let missing = r.iter().filter(|r| r.missing).count();
    assert_rate("MCAR", missing, r.len(), 0.1);
    assert!(
        r.iter()
            .filter(|r| r.missing)
            .all(|r| r.value.is_none() && !r.censored)
    );
    // 10 + 2 z < 8  ⇔  z < −1.
    let measured: Vec<&ObservationRow> = r.iter().filter(|r| !r.missing).collect();
    let censored = measured.iter().filter(|r| r.censored).count();
    assert_rate("below LOD", censored, measured.len(), norm_cdf(-1.0));
    assert!(
        measured
            .iter()
            .filter(|r| r.censored)
            .all(|r| r.value == Some(8.0))
    );
    assert!(
        measured
            .iter()
            .filter(|r| !r.censored)
            .all(|r| r.value.unwrap() >= 8.0)
    );
    // Jitter: N(0, 3²) around the scheduled day, none at baseline.
    assert!(r.iter().filter(|r| r.visit == 0).all(|r| r.time == 0.0));
    let dev: Vec<f64> = r
        .iter()
        .filter(|r| r.visit > 0)
        .map(|r| r.time - 28.0 * r.visit as f64)
        .collect();
    let (m, sd) = mean_sd(&dev);
    let n = dev.len() as f64;
    assert!(m.abs() < 4.0 * 3.0 / n.sqrt(), "jitter mean {m}");
    assert!(
        (sd - 3.0).abs() < 4.0 * 3.0 / (2.0 * n).sqrt(),
        "jitter sd {sd}"
    );
}

#[test]
fn multiplicative_and_lognormal_noise_have_the_configured_sd() {
    for (kind, sd_cfg) in [("multiplicative", 0.1), ("lognormal", 0.2)] {
        let r = rows(
            &format!(
                "[cohort.observation.marker]\n{VISITS}noise = {{ kind = \"{kind}\", sd = {sd_cfg} }}\n"
            ),
            5,
            4_000,
        );
        // multiplicative: y/10 − 1 = sd z;  lognormal: ln(y/10) = sd z.
        let z: Vec<f64> = r
            .iter()
            .map(|r| r.value.unwrap() / 10.0)
            .map(|q| if kind == "lognormal" { q.ln() } else { q - 1.0 })
            .collect();
        let (m, sd) = mean_sd(&z);
        let n = z.len() as f64;
        assert!(m.abs() < 4.0 * sd_cfg / n.sqrt(), "{kind}: mean {m}");
        assert!(
            (sd - sd_cfg).abs() < 4.0 * sd_cfg / (2.0 * n).sqrt(),
            "{kind}: sd {sd}"
        );
    }
}

/// MAR by sex: logit P(missing) = logit(0.05) + [F] (logit(0.3) − logit(0.05)).
#[test]
fn missingness_at_random_follows_the_covariate_rule() {
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let cohort = format!(
        "[cohort.covariates.sex]\nlevels = [\"F\", \"M\"]\nprobabilities = [0.5, 0.5]\n\
         [cohort.observation.marker]\n{VISITS}\
         mar = {{ covariate = \"sex\", level = \"F\", intercept = {}, slope = {} }}\n",
        logit(0.05),
        logit(0.3) - logit(0.05)
    );
    let s = scene(&cohort);
    let sampler = s.sampler(21);
    let (mut f, mut m) = ((0, 0), (0, 0));
    for p in sampler.patients(0..8_000).unwrap() {
        let is_f = sampler.covariate(&p, "sex")
            == Some(&vtwin::methods::cohort::spec::CovariateValue::Level(
                "F".into(),
            ));
        let rows = observe(&sampler, &p, &trajectory(&s.params, &p, "control")).unwrap();
        let miss = rows
            .iter()
            .filter(|r| r.observable == "marker" && r.missing)
            .count();
        let g = if is_f { &mut f } else { &mut m };
        g.0 += miss;
        g.1 += VISITS.matches(',').count() + 1;
    }
    assert_rate("MAR | F", f.0, f.1, 0.3);
    assert_rate("MAR | M", m.0, m.1, 0.05);
}
