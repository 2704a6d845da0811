//! Summaries of a weighted sample of parameter vectors: per parameter the
//! weighted mean, sd and 5 / 50 / 95 % quantiles, as values and as a table.
//!
//! Owns: these statistics only. Never touches files.

use super::sampling::weighted_quantile;
use crate::output::table::Table;

/// One parameter's weighted summary.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSummary {
    pub name: String,
    pub mean: f64,
    /// Weighted sd, √(Σ wᵢ (xᵢ − mean)²) with normalised weights.
    pub sd: f64,
    pub q05: f64,
    pub q50: f64,
    pub q95: f64,
}

/// Summarises column `k` of `draws` for every name in `names` (one name per
/// column). `weights` need not be normalised.
pub fn summarise(names: &[String], draws: &[Vec<f64>], weights: &[f64]) -> Vec<ParamSummary> {
    let total: f64 = weights.iter().sum();
    names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let col: Vec<f64> = draws.iter().map(|d| d[k]).collect();
            if col.iter().all(|v| *v == col[0]) {
                let v = col[0];
                return ParamSummary {
                    name: name.clone(),
                    mean: v,
                    sd: 0.0,
                    q05: v,
                    q50: v,
                    q95: v,
                };
            }
            let mean = col.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>() / total;
            let var = col
                .iter()
                .zip(weights)
                .map(|(x, w)| w * (x - mean).powi(2))
                .sum::<f64>()
                / total;
            ParamSummary {
                name: name.clone(),
                mean,
                sd: var.max(0.0).sqrt(),
                q05: weighted_quantile(&col, weights, 0.05),
                q50: weighted_quantile(&col, weights, 0.5),
                q95: weighted_quantile(&col, weights, 0.95),
            }
        })
        .collect()
}

/// The summaries as a table `posterior_summary` (parameter, mean, sd, q05,
/// q50, q95).
pub fn summary_table(rows: &[ParamSummary]) -> Table {
    Table::new("posterior_summary")
        .with_str("parameter", rows.iter().map(|r| r.name.clone()))
        .with_f64("mean", rows.iter().map(|r| r.mean))
        .with_f64("sd", rows.iter().map(|r| r.sd))
        .with_f64("q05", rows.iter().map(|r| r.q05))
        .with_f64("q50", rows.iter().map(|r| r.q50))
        .with_f64("q95", rows.iter().map(|r| r.q95))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_weights_give_the_plain_statistics() {
        let draws: Vec<Vec<f64>> = (1..=100).map(|i| vec![i as f64, 5.0]).collect();
        let s = summarise(&["a".into(), "b".into()], &draws, &[2.0; 100]);
        assert!((s[0].mean - 50.5).abs() < 1e-12);
        assert!((s[0].sd - (9999.0f64 / 12.0).sqrt()).abs() < 1e-9);
        assert_eq!((s[0].q05, s[0].q50, s[0].q95), (5.0, 50.0, 95.0));
        assert_eq!((s[1].mean, s[1].sd), (5.0, 0.0));
        let t = summary_table(&s);
        assert_eq!(t.rows(), 2);
        assert_eq!(
            t.column_names(),
            ["parameter", "mean", "sd", "q05", "q50", "q95"]
        );
    }
}
