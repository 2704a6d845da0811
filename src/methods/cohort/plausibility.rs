//! Plausibility: bounds on model outputs that mark a virtual patient as
//! implausible.
//!
//! Owns: the per-patient decision. A patient is plausible when, under every
//! arm, every bound holds on the noiseless trajectory (at `at`, linearly
//! interpolated, or at every output time) and no checked value is NaN.
//! Never draws random numbers, never touches files.

use super::error::CohortError;
use super::observe::Trajectory;
use super::spec::PlausibilityBound;

fn within(b: &PlausibilityBound, v: f64) -> bool {
    !v.is_nan() && b.min.is_none_or(|lo| v >= lo) && b.max.is_none_or(|hi| v <= hi)
}

/// Whether one trajectory meets every bound.
pub fn trajectory_plausible(
    bounds: &[PlausibilityBound],
    traj: &Trajectory,
) -> Result<bool, CohortError> {
    for b in bounds {
        let ok = match b.at {
            Some(t) => within(b, traj.value_at(&b.observable, t)?),
            None => traj.series(&b.observable)?.iter().all(|&v| within(b, v)),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether a patient is plausible: every arm's trajectory meets every bound.
pub fn patient_plausible<'a>(
    bounds: &[PlausibilityBound],
    trajectories: impl IntoIterator<Item = &'a Trajectory>,
) -> Result<bool, CohortError> {
    for t in trajectories {
        if !trajectory_plausible(bounds, t)? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_at_a_time_and_over_the_trajectory() {
        let t = Trajectory {
            patient: 1,
            arm: "a".into(),
            times: vec![0.0, 10.0],
            observables: [("b".to_string(), vec![1.0, 5.0])].into_iter().collect(),
        };
        let at = |min, max, at| PlausibilityBound {
            observable: "b".into(),
            min,
            max,
            at,
        };
        assert!(trajectory_plausible(&[at(Some(2.0), Some(4.0), Some(5.0))], &t).unwrap());
        assert!(!trajectory_plausible(&[at(Some(3.5), None, Some(5.0))], &t).unwrap());
        assert!(!trajectory_plausible(&[at(None, Some(4.0), None)], &t).unwrap());
        assert!(trajectory_plausible(&[at(Some(1.0), Some(5.0), None)], &t).unwrap());
        let mut nan = t.clone();
        nan.observables[0][1] = f64::NAN;
        assert!(!patient_plausible(&[at(None, Some(9.0), None)], [&t, &nan]).unwrap());
    }
}
