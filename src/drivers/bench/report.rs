//! The bench report: one row per case with throughput, bytes/s and its
//! fraction of peak, the scaling curves, the suites that could not run and
//! why, and where it ran (adapter or CPU, commit, date). Written as JSON
//! (`--json`) and printed as a table.
//!
//! JSON keys: `adapter`, `backend`, `commit`, `date`, `vtwin_version`,
//! `peak` (`{gbs, source}` or null), `results` (rows below), `scaling`,
//! `unavailable`. A row: `suite`, `case`, `members`, `grid` (side of the
//! square grid, null without one), `steps`, `seconds` (median), `timing`
//! (`gpu` or `wall`), `wall_seconds`, `cell_updates_per_s` or
//! `agent_steps_per_s`, `member_steps_per_s`, `bytes_per_update`,
//! `bytes_per_s`, `fraction_of_peak` (null when the peak is unknown), and
//! `checksum` / `note` where they apply; the da suite's `patients` row adds
//! `patients` (`bench::patients::PatientsRow`: patients,
//! members_per_patient, observations, forecast_requests, failed,
//! run_seconds, analysis_seconds_per_patient, cpu_seconds).
//!
//! Owns: the report's shape. Never runs anything.

use super::peak::Peak;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub suite: String,
    pub case: String,
    pub members: u32,
    pub grid: Option<u32>,
    pub steps: u64,
    pub seconds: f64,
    pub timing: String,
    pub wall_seconds: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell_updates_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_steps_per_s: Option<f64>,
    pub member_steps_per_s: f64,
    pub bytes_per_update: f64,
    pub bytes_per_s: f64,
    pub fraction_of_peak: Option<f64>,
    /// `bytes_per_s` over the `copy` row's (a vec4 copy kernel on the same
    /// adapter): the roofline reachable through wgpu. GPU rd rows only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraction_of_copy: Option<f64>,
    /// The single-step kernel's shape and where it came from
    /// (`gpu::autotune::Chosen`), on GPU rows of shaped kernels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The patient-run row's counts and times (`bench::patients`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patients: Option<super::patients::PatientsRow>,
}

impl CaseResult {
    /// A grid case: `members × grid² × steps` site updates in `seconds`.
    #[allow(clippy::too_many_arguments)]
    pub fn grid_case(
        suite: &str,
        case: &str,
        members: u32,
        grid: u32,
        steps: u64,
        timed: &super::timed::Timed,
        bytes_per_update: f64,
        peak: Option<&Peak>,
    ) -> CaseResult {
        let updates = members as f64 * (grid as f64).powi(2) * steps as f64;
        let cups = updates / timed.seconds;
        let bytes_per_s = cups * bytes_per_update;
        CaseResult {
            suite: suite.into(),
            case: case.into(),
            members,
            grid: Some(grid),
            steps,
            seconds: timed.seconds,
            timing: timed.timing.into(),
            wall_seconds: timed.wall.clone(),
            cell_updates_per_s: Some(cups),
            agent_steps_per_s: None,
            member_steps_per_s: members as f64 * steps as f64 / timed.seconds,
            bytes_per_update,
            bytes_per_s,
            fraction_of_peak: peak.map(|p| bytes_per_s / (p.gbs * 1e9)),
            fraction_of_copy: None,
            kernel: None,
            checksum: None,
            note: None,
            patients: None,
        }
    }
}

/// Throughput against members for one case: where the device saturates.
#[derive(Clone, Debug, Serialize)]
pub struct Scaling {
    pub case: String,
    pub grid: u32,
    pub members: Vec<u32>,
    pub cell_updates_per_s: Vec<f64>,
    /// The fewest members reaching 90 % of the best throughput.
    pub saturates_at: Option<u32>,
}

impl Scaling {
    pub fn new(case: &str, grid: u32, points: &[(u32, f64)]) -> Scaling {
        let best = points.iter().map(|p| p.1).fold(0.0, f64::max);
        Scaling {
            case: case.into(),
            grid,
            members: points.iter().map(|p| p.0).collect(),
            cell_updates_per_s: points.iter().map(|p| p.1).collect(),
            saturates_at: points.iter().find(|p| p.1 >= 0.9 * best).map(|p| p.0),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Unavailable {
    pub suite: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub adapter: serde_json::Value,
    pub backend: String,
    pub commit: Option<String>,
    pub date: String,
    pub vtwin_version: String,
    pub peak: Option<Peak>,
    pub results: Vec<CaseResult>,
    pub scaling: Vec<Scaling>,
    pub unavailable: Vec<Unavailable>,
}

/// A CPU's name (from /proc/cpuinfo where there is one) and thread count,
/// standing in for the adapter on the CPU backend.
pub fn cpu_description() -> serde_json::Value {
    let name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|n| n.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    serde_json::json!({
        "name": name,
        "backend": "cpu",
        "device_type": "Cpu",
        "threads": rayon::current_num_threads(),
    })
}

/// `1.23e9`-style numbers for the table.
fn sci(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3e}"))
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "vtwin bench: backend {} on {} (commit {}){}\n",
            self.backend,
            self.adapter
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("?"),
            self.commit.as_deref().unwrap_or("unknown"),
            self.peak
                .as_ref()
                .map(|p| format!(", peak {} GB/s ({})", p.gbs, p.source))
                .unwrap_or_else(|| ", peak bandwidth unknown (--peak-gbs)".into())
        );
        s.push_str(&format!(
            "{:<6} {:<26} {:>7} {:>5} {:>6} {:>10} {:>5} {:>11} {:>11} {:>10} {:>7} {:>6}\n",
            "suite",
            "case",
            "members",
            "grid",
            "steps",
            "seconds",
            "time",
            "updates/s",
            "member-st/s",
            "GB/s",
            "%peak",
            "%copy"
        ));
        for r in &self.results {
            s.push_str(&format!(
                "{:<6} {:<26} {:>7} {:>5} {:>6} {:>10.4} {:>5} {:>11} {:>11} {:>10.2} {:>7} {:>6}\n",
                r.suite,
                r.case,
                r.members,
                r.grid.map_or("-".into(), |g| g.to_string()),
                r.steps,
                r.seconds,
                r.timing,
                sci(r.cell_updates_per_s.or(r.agent_steps_per_s)),
                sci(Some(r.member_steps_per_s)),
                r.bytes_per_s / 1e9,
                r.fraction_of_peak
                    .map_or("-".into(), |f| format!("{:.1}", 100.0 * f)),
                r.fraction_of_copy
                    .map_or("-".into(), |f| format!("{:.1}", 100.0 * f)),
            ));
            if let Some(n) = &r.note {
                s.push_str(&format!("       {n}\n"));
            }
            if let Some(k) = &r.kernel {
                s.push_str(&format!(
                    "       kernel {} ({}{})\n",
                    k.get("label").and_then(|v| v.as_str()).unwrap_or("?"),
                    k.get("source").and_then(|v| v.as_str()).unwrap_or("?"),
                    if k.get("vec4").and_then(|v| v.as_bool()) == Some(true) {
                        ", vec4"
                    } else {
                        ""
                    }
                ));
            }
        }
        for c in &self.scaling {
            s.push_str(&format!(
                "scaling {} at {}×{}: saturates at {} members\n",
                c.case,
                c.grid,
                c.grid,
                c.saturates_at.map_or("?".into(), |m| m.to_string())
            ));
            for (m, u) in c.members.iter().zip(&c.cell_updates_per_s) {
                s.push_str(&format!("  {m:>7} members  {u:.3e} updates/s\n"));
            }
        }
        for u in &self.unavailable {
            s.push_str(&format!("{}: not available: {}\n", u.suite, u.reason));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_is_the_first_point_within_ten_percent_of_best() {
        let s = Scaling::new(
            "x",
            64,
            &[(1, 1.0), (4, 3.0), (16, 9.5), (64, 10.0), (256, 9.8)],
        );
        assert_eq!(s.saturates_at, Some(16));
    }

    #[test]
    fn rows_serialise_with_the_documented_keys() {
        let t = super::super::timed::Timed {
            seconds: 2.0,
            timing: "wall",
            wall: vec![2.0],
            gpu: vec![],
        };
        let peak = Peak {
            gbs: 1.0,
            source: "--peak-gbs".into(),
        };
        let r = CaseResult::grid_case("rd", "single-step", 4, 10, 50, &t, 16.0, Some(&peak));
        let v = serde_json::to_value(&r).unwrap();
        for k in [
            "suite",
            "case",
            "members",
            "grid",
            "steps",
            "seconds",
            "cell_updates_per_s",
            "bytes_per_s",
            "fraction_of_peak",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert!(v.get("agent_steps_per_s").is_none());
        // 4 · 100 · 50 = 20000 updates in 2 s; 16 B each; peak 1 GB/s.
        assert_eq!(v["cell_updates_per_s"], 10000.0);
        assert_eq!(v["bytes_per_s"], 160000.0);
        assert_eq!(v["fraction_of_peak"], 1.6e-4);
    }
}
