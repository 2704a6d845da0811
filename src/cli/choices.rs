//! Command-line spellings of the choice enums of `run` and `calibrate`
//! (`--on-member-error`, `--montage-scale`, `--method`, `--mode`), kept
//! beside [`values`](super::values) for the same reason: the library types
//! carry no parser derive.

use crate::drivers::job::MemberFailure;
use crate::drivers::snapshots::MontageScale;
use crate::methods::calibrate::{AbcMode, Method};
use clap::ValueEnum;
use clap::builder::PossibleValue;

impl ValueEnum for MemberFailure {
    fn value_variants<'a>() -> &'a [Self] {
        &[MemberFailure::Continue, MemberFailure::Fail]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let (name, help) = match self {
            MemberFailure::Continue => (
                "continue",
                "Finish the other members and exit 0, reporting how many failed",
            ),
            MemberFailure::Fail => (
                "fail",
                "Exit non-zero when any member failed (outputs are still written)",
            ),
        };
        Some(PossibleValue::new(name).help(help))
    }
}

impl ValueEnum for MontageScale {
    fn value_variants<'a>() -> &'a [Self] {
        &[MontageScale::Shared, MontageScale::PerPanel]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let (name, help) = match self {
            MontageScale::Shared => (
                "shared",
                "One colour scale for every panel: equal colours are equal values",
            ),
            MontageScale::PerPanel => (
                "per-panel",
                "Each panel on its own range (printed under its label)",
            ),
        };
        Some(PossibleValue::new(name).help(help))
    }
}

impl ValueEnum for Method {
    fn value_variants<'a>() -> &'a [Self] {
        &[Method::AbcSmc, Method::TemperedSmc, Method::HistoryMatching]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Method::AbcSmc => {
                "ABC-SMC: sequential Monte Carlo approximate Bayesian computation (mode kernel by \
                 default: the exact posterior under the error model); writes every generation's \
                 particles and weights and the weighted posterior"
            }
            Method::TemperedSmc => {
                "Likelihood-tempered SMC: the posterior under the error model with adaptive \
                 temperatures, resampling and Metropolis moves; reports the log evidence"
            }
            Method::HistoryMatching => {
                "History matching: waves of Gaussian-process emulators ruling out implausible \
                 parameter space; writes the fraction ruled out per wave and the non-implausible \
                 sample (not a posterior)"
            }
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

impl ValueEnum for AbcMode {
    fn value_variants<'a>() -> &'a [Self] {
        &[AbcMode::Kernel, AbcMode::Noisy, AbcMode::Deterministic]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            AbcMode::Kernel => "The error model as the ABC kernel (exact posterior at ε = 1)",
            AbcMode::Noisy => "Error-model noise added to the simulations (exact as ε → 0)",
            AbcMode::Deterministic => {
                "Noise-free simulations (best fit / confidence set, not a posterior)"
            }
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_by_their_flag_names() {
        assert_eq!(
            Method::from_str("history-matching", false),
            Ok(Method::HistoryMatching)
        );
        for m in Method::value_variants() {
            assert_eq!(Method::from_str(m.name(), false), Ok(*m));
        }
        for m in AbcMode::value_variants() {
            assert_eq!(AbcMode::from_str(m.name(), false), Ok(*m));
        }
        assert_eq!(
            MemberFailure::from_str("fail", false),
            Ok(MemberFailure::Fail)
        );
        assert_eq!(
            MontageScale::from_str("per-panel", false),
            Ok(MontageScale::PerPanel)
        );
        assert!(MontageScale::from_str("perpanel", false).is_err());
    }
}
