//! Bayesian model choice from evidence estimates (Kass & Raftery 1995):
//! with equal prior model probabilities, P(M_i | y) = Z_i / Σ_j Z_j, where
//! Z_i = p(y | M_i) comes from `tempered-smc` (the product of its stages'
//! mean incremental weights, Del Moral, Doucet & Jasra 2006) or from
//! `abc-smc` in `kernel` mode (the importance-sampling estimate of its last
//! generation; with the error model as the ABC kernel this is the exact
//! evidence, Wilkinson 2013, and the ABC model-choice estimate of Didelot
//! et al. 2011 / Toni & Stumpf 2010).
//!
//! The Monte Carlo error of each probability follows from the standard
//! errors of ln Z_i by the delta method: ∂P_i/∂ln Z_j = P_i (δ_ij − P_j).
//!
//! Owns: the arithmetic and the `model_choice` table. Never runs anything.

use crate::output::table::Table;

/// One model's evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEvidence {
    pub model: String,
    pub log_evidence: f64,
    pub log_evidence_se: f64,
}

/// (probability, Monte Carlo standard error) per model, equal priors.
pub fn model_probabilities(models: &[ModelEvidence]) -> Vec<(f64, f64)> {
    let m = models
        .iter()
        .map(|e| e.log_evidence)
        .fold(f64::NEG_INFINITY, f64::max);
    let z: Vec<f64> = models.iter().map(|e| (e.log_evidence - m).exp()).collect();
    let total: f64 = z.iter().sum();
    let p: Vec<f64> = z.iter().map(|z| z / total).collect();
    (0..models.len())
        .map(|i| {
            let var: f64 = (0..models.len())
                .map(|j| {
                    let d = if i == j { 1.0 } else { 0.0 };
                    (p[i] * (d - p[j]) * models[j].log_evidence_se).powi(2)
                })
                .sum();
            (p[i], var.sqrt())
        })
        .collect()
}

/// `model_choice`: model, log_evidence, log_evidence_se, probability,
/// probability_se.
pub fn model_choice_table(models: &[ModelEvidence]) -> Table {
    let p = model_probabilities(models);
    Table::new("model_choice")
        .with_str("model", models.iter().map(|m| m.model.clone()))
        .with_f64("log_evidence", models.iter().map(|m| m.log_evidence))
        .with_f64("log_evidence_se", models.iter().map(|m| m.log_evidence_se))
        .with_f64("probability", p.iter().map(|p| p.0))
        .with_f64("probability_se", p.iter().map(|p| p.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evidences e^−1 : 1 give 0.2689 / 0.7311; an se of 0.1 on each
    /// ln Z gives √2 · 0.1 · 0.2689 · 0.7311 = 0.0278 on both.
    #[test]
    fn probabilities_and_their_errors() {
        let m = [
            ModelEvidence {
                model: "a".into(),
                log_evidence: -3.0,
                log_evidence_se: 0.1,
            },
            ModelEvidence {
                model: "b".into(),
                log_evidence: -2.0,
                log_evidence_se: 0.1,
            },
        ];
        let p = model_probabilities(&m);
        assert!((p[0].0 - 0.268_941_4).abs() < 1e-6);
        assert!((p[1].0 - 0.731_058_6).abs() < 1e-6);
        let se = 2f64.sqrt() * 0.1 * 0.268_941_4 * 0.731_058_6;
        assert!((p[0].1 - se).abs() < 1e-6 && (p[1].1 - se).abs() < 1e-6);
        assert_eq!(model_choice_table(&m).rows(), 2);
    }
}
