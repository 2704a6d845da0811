//! Observables derived on the host from a recorded series.

/// First-crossing times from a recorded series: for each recorded index,
/// the crossing time so far (None before it happens).
pub fn first_crossing_series(times: &[f64], values: &[f64], threshold: f64) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    let mut found: Option<f64> = None;
    for i in 0..values.len() {
        if found.is_none() && values[i] > threshold {
            found = Some(if i == 0 || values[i - 1].is_nan() {
                times[i]
            } else {
                let (t0, t1, v0, v1) = (times[i - 1], times[i], values[i - 1], values[i]);
                t0 + (threshold - v0) / (v1 - v0) * (t1 - t0)
            });
        }
        out.push(found);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_crossing_interpolates() {
        let t = [0.0, 1.0, 2.0, 3.0];
        let v = [0.0, 0.2, 0.6, 1.0];
        let s = first_crossing_series(&t, &v, 0.4);
        assert_eq!(s[..2], [None, None]);
        assert!((s[2].unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(s[3], s[2]);
    }
}
