//! Benchmark (not a test): the simulations and wall time each calibration
//! method needs on the decay known-answer problem
//! (`scenes/decay_calibration.toml`, `tests/data/decay_data.csv`), against
//! the exact posterior by quadrature. Prints a Markdown table, the one in
//! docs/exploration.md.
//!
//! ```text
//! cargo run --release --example calibrate_decay            # CPU backend
//! cargo run --release --example calibrate_decay -- gpu     # GPU backend
//! ```
//!
//! Each line is one run with the scene's seed; "seeds ok" repeats the
//! posterior samplers over seeds 1–5 and counts the runs whose mean is
//! within 0.25 exact sd's and sd within ±20 % (issue 18's tolerances).

use std::path::Path;
use std::time::Instant;
use vtwin::core::plan::{Plan, PlanOptions};
use vtwin::engine::BackendChoice;
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;
use vtwin::methods::calibrate::{
    AbcConfig, AbcMode, CalibrateConfig, HmConfig, Likelihood, Posterior, TemperedConfig,
    run_abc_smc_lik, run_history_matching, run_tempered_smc,
};
use vtwin::methods::fit::{EngineSimulator, attach_targets};

fn exact(data: &[(f64, f64)]) -> (f64, f64) {
    let n = 200_000;
    let h = 0.45 / n as f64;
    let mut acc = Vec::with_capacity(n);
    for i in 0..n {
        let k = 0.05 + (i as f64 + 0.5) * h;
        let l: f64 = data
            .iter()
            .map(|(t, y)| -0.5 * ((y - (1.0 - k * 0.01f64).powf(t / 0.01)) / 0.05).powi(2))
            .sum();
        acc.push((k, l));
    }
    let m = acc.iter().map(|a| a.1).fold(f64::NEG_INFINITY, f64::max);
    let (mut z, mut s1, mut s2) = (0.0, 0.0, 0.0);
    for (k, l) in acc {
        let w = (l - m).exp();
        z += w;
        s1 += w * k;
        s2 += w * k * k;
    }
    (s1 / z, (s2 / z - (s1 / z).powi(2)).sqrt())
}

fn mean_sd(p: &Posterior) -> (f64, f64) {
    let s = p.summary();
    let k = s.iter().find(|s| s.name == "k").expect("k");
    (k.mean, k.sd)
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scene_path = root.join("scenes/decay_calibration.toml");
    let data_path = root.join("tests/data/decay_data.csv");
    let choice = match std::env::args().nth(1).as_deref() {
        Some("gpu") => BackendChoice::Gpu,
        _ => BackendChoice::Cpu,
    };
    let backend = Backend::open(choice, None, &mut |_| {})?;
    let scene = Scene::load(&scene_path)?;
    let records = vtwin::methods::calibrate::data::read_data(&data_path)?;
    let data: Vec<(f64, f64)> = records.iter().map(|r| (r.time, r.value)).collect();
    let (em, esd) = exact(&data);
    let mut plan = Plan::freeze(
        &scene,
        &PlanOptions {
            members: Some(1),
            ..Default::default()
        },
    )?;
    let targets = attach_targets(&mut plan, &records, &data_path)?;
    let prior = plan.block.clone();
    let cfg = CalibrateConfig::from_scene(&scene)?;
    let new_sim = || EngineSimulator::new(&backend, plan.clone(), targets.clone(), None);
    let (obs, sd) = new_sim().observed();
    let lik = Likelihood::gaussian(&obs, &sd)?;
    println!(
        "backend {}; exact posterior of k: mean {em:.5}, sd {esd:.5}\n",
        backend.name()
    );
    println!(
        "| method, settings | mean | sd | sd ÷ exact | (mean − exact) ÷ exact sd | simulations | wall s | seeds 1–5 within tolerance |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let ok = |p: &Posterior| {
        let (m, s) = mean_sd(p);
        (m - em).abs() < 0.25 * esd && (s / esd - 1.0).abs() < 0.2
    };
    let row = |name: &str, p: &Posterior, sims: usize, secs: f64, seeds: &str| {
        let (m, s) = mean_sd(p);
        println!(
            "| {name} | {m:.4} | {s:.5} | {:.3} | {:+.2} | {sims} | {secs:.2} | {seeds} |",
            s / esd,
            (m - em) / esd
        );
    };
    let abc = |c: &AbcConfig| -> anyhow::Result<(Posterior, usize, f64)> {
        let mut sim = new_sim();
        let t = Instant::now();
        let r = run_abc_smc_lik(&prior, &mut sim.summaries(), &lik, c, &mut |_| {})?;
        Ok((r.posterior()?, r.simulations, t.elapsed().as_secs_f64()))
    };
    let tsmc = |c: &TemperedConfig| -> anyhow::Result<(Posterior, usize, f64)> {
        let mut sim = new_sim();
        let t = Instant::now();
        let r = run_tempered_smc(&prior, &mut sim.summaries(), &lik, c, &mut |_| {})?;
        Ok((r.posterior()?, r.simulations, t.elapsed().as_secs_f64()))
    };
    for pop in [500, 250, 100] {
        let c = AbcConfig {
            population: pop,
            ..cfg.abc.clone()
        };
        let (p, n, s) = abc(&c)?;
        let mut good = 0;
        for seed in 1..=5 {
            good += ok(&abc(&AbcConfig { seed, ..c.clone() })?.0) as usize;
        }
        row(
            &format!("`abc-smc` (kernel), population {pop}"),
            &p,
            n,
            s,
            &format!("{good}/5"),
        );
    }
    for pop in [500, 250, 100] {
        let c = TemperedConfig {
            population: pop,
            ..cfg.tempered_smc.clone()
        };
        let (p, n, s) = tsmc(&c)?;
        let mut good = 0;
        for seed in 1..=5 {
            good += ok(&tsmc(&TemperedConfig { seed, ..c.clone() })?.0) as usize;
        }
        row(
            &format!("`tempered-smc`, population {pop}"),
            &p,
            n,
            s,
            &format!("{good}/5"),
        );
    }
    let noisy = AbcConfig {
        mode: AbcMode::Noisy,
        ..cfg.abc.clone()
    };
    let (p, n, s) = abc(&noisy)?;
    row("`abc-smc --mode noisy`, defaults", &p, n, s, "");
    for (label, c) in [
        (
            "`abc-smc --mode deterministic`, 10 generations (the old default)",
            AbcConfig {
                mode: AbcMode::Deterministic,
                max_generations: 10,
                ..cfg.abc.clone()
            },
        ),
        (
            "`abc-smc --mode deterministic --final-epsilon 3.938`",
            AbcConfig {
                mode: AbcMode::Deterministic,
                final_epsilon: 3.938,
                ..cfg.abc.clone()
            },
        ),
    ] {
        let (p, n, s) = abc(&c)?;
        row(label, &p, n, s, "");
    }
    let mut sim = new_sim();
    let t = Instant::now();
    let hm = run_history_matching(
        &prior,
        &mut sim.summaries(),
        &obs,
        &sd,
        &HmConfig::default(),
        &mut |_| {},
    )?;
    row(
        "`history-matching`, defaults (a not-ruled-out set)",
        &hm.posterior()?,
        sim.stats.rows,
        t.elapsed().as_secs_f64(),
        "",
    );
    Ok(())
}
