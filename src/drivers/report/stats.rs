//! The numbers behind the report's figures: quantile bands across members,
//! Kaplan–Meier survival with numbers at risk, standardised mean
//! differences, histogram bins. Pure functions, unit-tested against hand
//! computations.

/// The p-quantile of sorted, finite values by linear interpolation between
/// order statistics (Hyndman & Fan 1996, definition 7; numpy's default).
/// None for an empty slice.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Sorted copy of the finite values.
pub fn sorted_finite(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Median and the 50 % and 90 % central bands of one time point's values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    pub q05: f64,
    pub q25: f64,
    pub q50: f64,
    pub q75: f64,
    pub q95: f64,
    /// How many finite values it summarises.
    pub n: usize,
}

pub fn band(values: impl IntoIterator<Item = f64>) -> Option<Band> {
    let s = sorted_finite(values);
    let q = |p| quantile_sorted(&s, p);
    Some(Band {
        q05: q(0.05)?,
        q25: q(0.25)?,
        q50: q(0.5)?,
        q75: q(0.75)?,
        q95: q(0.95)?,
        n: s.len(),
    })
}

/// One step of a Kaplan–Meier curve: just after `time`, the survival
/// estimate is `survival`; `at_risk` subjects were at risk at `time`,
/// `events` had the event there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KmStep {
    pub time: f64,
    pub at_risk: usize,
    pub events: usize,
    pub survival: f64,
}

/// The Kaplan–Meier product-limit estimate (Kaplan & Meier 1958) from
/// (time, event) pairs, `event = false` meaning censored at `time`. One
/// step per distinct event time; censored subjects leave the risk set after
/// events at the same time (the usual convention). Starts implicitly at
/// S(0) = 1.
pub fn kaplan_meier(data: &[(f64, bool)]) -> Vec<KmStep> {
    let mut d: Vec<(f64, bool)> = data
        .iter()
        .copied()
        .filter(|(t, _)| t.is_finite())
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut at_risk = d.len();
    let mut s = 1.0;
    let mut steps = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let t = d[i].0;
        let mut j = i;
        let mut events = 0;
        while j < d.len() && d[j].0 == t {
            events += d[j].1 as usize;
            j += 1;
        }
        if events > 0 {
            s *= 1.0 - events as f64 / at_risk as f64;
            steps.push(KmStep {
                time: t,
                at_risk,
                events,
                survival: s,
            });
        }
        at_risk -= j - i;
        i = j;
    }
    steps
}

/// Subjects still at risk at time t (time ≥ t).
pub fn at_risk(data: &[(f64, bool)], t: f64) -> usize {
    data.iter()
        .filter(|(u, _)| u.is_finite() && *u >= t)
        .count()
}

/// The Kaplan–Meier curve as plot points from (0, 1): one point per step.
pub fn km_points(steps: &[KmStep]) -> Vec<(f64, f64)> {
    let mut p = vec![(0.0, 1.0)];
    p.extend(steps.iter().map(|s| (s.time, s.survival)));
    p
}

/// Mean and sample standard deviation (n − 1) of the finite values.
pub fn mean_sd(values: &[f64]) -> Option<(f64, f64)> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((m, var.sqrt()))
}

/// Standardised mean difference (b − a) / sqrt((s_a² + s_b²) / 2), the
/// covariate-balance measure of Austin (2009, Stat Med 28:3083). Zero
/// when both groups are constant and equal; None when a group is empty.
pub fn smd(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ma, sa) = mean_sd(a)?;
    let (mb, sb) = mean_sd(b)?;
    let pooled = ((sa * sa + sb * sb) / 2.0).sqrt();
    if pooled == 0.0 {
        return Some(if ma == mb { 0.0 } else { f64::INFINITY });
    }
    Some((mb - ma) / pooled)
}

/// Equal-width histogram of the finite values: (left edge, right edge,
/// count) for `bins` bins over [min, max].
pub fn histogram(values: &[f64], bins: usize) -> Vec<(f64, f64, usize)> {
    let v = sorted_finite(values.iter().copied());
    let (Some(&lo), Some(&hi)) = (v.first(), v.last()) else {
        return vec![];
    };
    let bins = bins.max(1);
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    };
    let w = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for x in v {
        let k = (((x - lo) / w) as usize).min(bins - 1);
        counts[k] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(k, c)| (lo + k as f64 * w, lo + (k + 1) as f64 * w, c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let s = [1.0, 2.0, 3.0, 4.0];
        // numpy.quantile([1,2,3,4], [0, .25, .5, .9, 1]) = 1, 1.75, 2.5, 3.7, 4
        assert_eq!(quantile_sorted(&s, 0.0), Some(1.0));
        assert_eq!(quantile_sorted(&s, 0.25), Some(1.75));
        assert_eq!(quantile_sorted(&s, 0.5), Some(2.5));
        assert!((quantile_sorted(&s, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(quantile_sorted(&s, 1.0), Some(4.0));
        assert_eq!(quantile_sorted(&[], 0.5), None);
        let b = band([5.0, f64::NAN, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(b.n, 5);
        assert_eq!((b.q25, b.q50, b.q75), (2.0, 3.0, 4.0));
        assert!((b.q05 - 1.2).abs() < 1e-12 && (b.q95 - 4.8).abs() < 1e-12);
    }

    #[test]
    fn kaplan_meier_matches_a_hand_computation() {
        // Times 1, 2+, 3, 3, 4+, 5 (+ = censored), n = 6:
        // t=1: 6 at risk, 1 event: S = 5/6
        // t=2 censored → 4 at risk at t=3, 2 events: S = 5/6 · 2/4 = 5/12
        // t=4 censored → 1 at risk at t=5, 1 event: S = 0
        let d = [
            (3.0, true),
            (1.0, true),
            (2.0, false),
            (3.0, true),
            (4.0, false),
            (5.0, true),
        ];
        let km = kaplan_meier(&d);
        assert_eq!(km.len(), 3);
        assert_eq!((km[0].time, km[0].at_risk, km[0].events), (1.0, 6, 1));
        assert!((km[0].survival - 5.0 / 6.0).abs() < 1e-15);
        assert_eq!((km[1].time, km[1].at_risk, km[1].events), (3.0, 4, 2));
        assert!((km[1].survival - 5.0 / 12.0).abs() < 1e-15);
        assert_eq!((km[2].time, km[2].at_risk, km[2].events), (5.0, 1, 1));
        assert_eq!(km[2].survival, 0.0);
        assert_eq!(at_risk(&d, 0.0), 6);
        assert_eq!(at_risk(&d, 3.0), 4);
        assert_eq!(at_risk(&d, 4.5), 1);
        assert_eq!(km_points(&km)[0], (0.0, 1.0));
        // A censoring at an event time leaves after the event.
        let tie = kaplan_meier(&[(2.0, true), (2.0, false), (3.0, true)]);
        assert!((tie[0].survival - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(tie[1].at_risk, 1);
    }

    #[test]
    fn smd_and_histogram() {
        // a: mean 2, sd 1; b: mean 3, sd 1 → SMD 1.
        assert!((smd(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0]).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(smd(&[1.0, 1.0], &[1.0]), Some(0.0));
        assert_eq!(smd(&[], &[1.0]), None);
        let h = histogram(&[0.0, 0.1, 0.5, 1.0], 2);
        assert_eq!(h, vec![(0.0, 0.5, 2), (0.5, 1.0, 2)]);
    }
}
