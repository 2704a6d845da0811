//! Assimilation on the agent-based model: a particle filter (whole members
//! resampled, only parameters jittered) estimates a spheroid's doubling
//! time from noisy cell counts, and ensemble-transform filters, which
//! would average agent pools across members, are refused.

mod common;

use common::abm_scene;
use std::path::Path;
use vtwin::engine::backend::Backend;
use vtwin::input::scene::Scene;
use vtwin::methods::twin::setup::ObsSource;
use vtwin::methods::twin::{Options, Setup, tables};

fn scene(method: &str) -> Scene {
    let text = abm_scene(
        20,
        24,
        144,
        18,
        1024,
        "initial_radius = 120.0\ndoubling_time = { dist = \"uniform\", low = 500.0, high = 1500.0 }\n\
         o2_uptake = 2.0",
        &format!(
            "[assimilation]\nmethod = \"{method}\"\nhorizon = 1440.0\n\
             truth = {{ doubling_time = 800.0 }}\n\
             [[assimilation.observe]]\nobservable = \"live_tumour\"\n\
             times = [240.0, 480.0, 720.0, 960.0]\nrel_sd = 0.03\nsd = 2.0\n\
             [[assimilation.estimate]]\nparam = \"doubling_time\"\nscale = \"log\"\n"
        ),
    );
    Scene::parse(Path::new("abm_twin.toml"), &text).unwrap()
}

/// Counts of ~150–400 cells with 3 % noise pin the doubling time: the
/// posterior's 90 % interval covers the truth and is at most half as wide
/// as the prior's.
#[test]
fn particle_filter_estimates_the_doubling_time_from_counts() {
    let s = scene("pf");
    let setup = Setup::new(&s, &Options::default(), ObsSource::Twin).unwrap();
    let out = vtwin::methods::twin::run(&setup, &Backend::Cpu, None, true, &mut |_, _| {}).unwrap();
    let (_, summary) = tables::posterior_summary(&out.posterior);
    let d = &summary["doubling_time"];
    println!("{d:#}");
    assert_eq!(d["covered90"], true, "{d}");
    let width = d["q95"].as_f64().unwrap() - d["q05"].as_f64().unwrap();
    let prior = d["prior_q95"].as_f64().unwrap() - d["prior_q05"].as_f64().unwrap();
    assert!(width <= 0.5 * prior, "posterior {width} vs prior {prior}");
    assert!(out.scores.unwrap().rmse_analysis.is_finite());
}

#[test]
fn ensemble_transform_filters_are_refused_for_agent_pools() {
    for method in ["etkf", "enkf"] {
        let Err(err) = Setup::new(&scene(method), &Options::default(), ObsSource::Twin) else {
            panic!("{method} accepted for an agent-based model");
        };
        let text = err.to_string();
        assert!(
            text.contains("assimilation.method") && text.contains("pf"),
            "{text}"
        );
    }
}
