//! Command-line spellings of the library's choice enums: `clap` stays in
//! `cli/` (and `main.rs`), so the library types carry no parser derive and
//! the CLI gives them their `--flag VALUE` names and help lines here.
//!
//! The names are the library's own (`name()`/`extension()`), so a scene
//! key, a manifest field and a flag spell a choice the same way.

use crate::drivers::bench::options::Suite;
use crate::engine::BackendChoice;
use crate::input::scene::assimilation::MethodName;
use crate::methods::design::DesignMethod;
use crate::output::io::TableFormat;
use clap::ValueEnum;
use clap::builder::PossibleValue;

impl ValueEnum for TableFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[TableFormat::Parquet, TableFormat::Csv]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.extension()))
    }
}

impl ValueEnum for DesignMethod {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            DesignMethod::Random,
            DesignMethod::Lhs,
            DesignMethod::Sobol,
            DesignMethod::Grid,
            DesignMethod::Saltelli,
            DesignMethod::Morris,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            DesignMethod::Random => "Independent uniform draws (seeded)",
            DesignMethod::Lhs => "Latin hypercube: one point per stratum in every dimension",
            DesignMethod::Sobol => "Sobol low-discrepancy sequence (Joe–Kuo), point 0 kept",
            DesignMethod::Grid => "Full factorial grid with `n` levels per dimension",
            DesignMethod::Saltelli => "Saltelli's cross-sampling design for Sobol indices",
            DesignMethod::Morris => "Morris elementary-effect trajectories",
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

impl ValueEnum for BackendChoice {
    fn value_variants<'a>() -> &'a [Self] {
        &[BackendChoice::Auto, BackendChoice::Gpu, BackendChoice::Cpu]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let (name, help) = match self {
            BackendChoice::Auto => (
                "auto",
                "A hardware GPU when there is one, otherwise the CPU backend",
            ),
            BackendChoice::Gpu => (
                "gpu",
                "A GPU adapter (hardware or software such as lavapipe); fails if none",
            ),
            BackendChoice::Cpu => ("cpu", "The multi-threaded CPU backend"),
        };
        Some(PossibleValue::new(name).help(help))
    }
}

impl ValueEnum for MethodName {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            MethodName::Enkf,
            MethodName::Etkf,
            MethodName::Letkf,
            MethodName::Pf,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            MethodName::Enkf => "Stochastic EnKF with perturbed observations",
            MethodName::Etkf => "Ensemble transform Kalman filter (symmetric square root)",
            MethodName::Letkf => "Local ETKF with Gaspari–Cohn localisation",
            MethodName::Pf => "Bootstrap particle filter with systematic resampling and jitter",
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

impl ValueEnum for Suite {
    fn value_variants<'a>() -> &'a [Self] {
        &[Suite::Rd, Suite::Abm, Suite::Da, Suite::Peer, Suite::All]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let (name, help) = match self {
            Suite::Rd => (
                "rd",
                "Reaction-diffusion: single-step and fused kernels, per-step synchronisation, \
                 observation, one large member, a copy-bandwidth row, scaling over members",
            ),
            Suite::Abm => ("abm", "Agent-based models"),
            Suite::Da => ("da", "Data assimilation (ETKF/EnKF analysis)"),
            Suite::Peer => (
                "peer",
                "The pinned Gray–Scott problem at one size (what compare.sh runs)",
            ),
            Suite::All => ("all", "rd, abm and da"),
        };
        Some(PossibleValue::new(name).help(help))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_parse_and_unknown_ones_do_not() {
        assert_eq!(
            TableFormat::from_str("parquet", false),
            Ok(TableFormat::Parquet)
        );
        assert_eq!(TableFormat::from_str("csv", false), Ok(TableFormat::Csv));
        assert!(TableFormat::from_str("xlsx", false).is_err());
    }

    #[test]
    fn every_choice_is_spelled_by_its_library_name() {
        for m in DesignMethod::value_variants() {
            assert_eq!(DesignMethod::from_str(m.name(), false), Ok(*m));
        }
        for m in MethodName::value_variants() {
            assert_eq!(MethodName::from_str(m.name(), false), Ok(*m));
        }
        let names: Vec<String> = BackendChoice::value_variants()
            .iter()
            .map(|b| b.to_possible_value().unwrap().get_name().to_string())
            .collect();
        assert_eq!(names, ["auto", "gpu", "cpu"]);
        assert_eq!(DesignMethod::value_variants().len(), 6);
        assert_eq!(MethodName::value_variants().len(), 4);
    }
}
