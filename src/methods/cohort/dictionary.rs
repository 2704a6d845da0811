//! The data dictionary (`data_dictionary.json`): for every column of every
//! cohort table its type, unit and description.
//!
//! Owns: the descriptions of the cohort's own columns and the check that no
//! column goes undocumented. Types come from the tables themselves. Never
//! writes files (the caller writes the JSON it gets).

use super::error::CohortError;
use super::spec::{CohortSpec, CovariateKind};
use crate::input::params::ParamBlock;
use crate::output::table::Table;
use indexmap::IndexMap;
use serde::Serialize;

/// One documented column.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DictEntry {
    pub table: String,
    pub column: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Empty when dimensionless or not a quantity.
    pub unit: String,
    pub description: String,
}

/// Unit and description per (table, column).
#[derive(Clone, Debug, Default)]
pub struct ColumnDocs {
    docs: IndexMap<(String, String), (String, String)>,
}

impl ColumnDocs {
    pub fn add(&mut self, table: &str, column: &str, unit: &str, description: &str) -> &mut Self {
        self.docs.insert(
            (table.into(), column.into()),
            (unit.into(), description.into()),
        );
        self
    }

    /// Descriptions of every column the cohort tables (and the selection
    /// table) can hold. `param_units` gives parameter units where the model
    /// knows them.
    pub fn for_cohort(
        spec: &CohortSpec,
        params: &ParamBlock,
        param_units: &IndexMap<String, String>,
    ) -> Self {
        let mut d = ColumnDocs::default();
        let id =
            "Patient index; everything about a patient depends only on (scene, seed, patient_id)";
        for t in ["patients", "observations", "outcomes", "selection"] {
            d.add(t, "patient_id", "", id);
        }
        for (name, c) in &spec.covariates {
            let what = match &c.kind {
                CovariateKind::Categorical { levels, .. } => {
                    format!("Categorical covariate (levels {})", levels.join(", "))
                }
                CovariateKind::Continuous(dist) => {
                    format!("Continuous covariate ({})", dist.kind())
                }
            };
            let desc = c.description.clone().unwrap_or(what);
            d.add("patients", name, c.unit.as_deref().unwrap_or(""), &desc);
        }
        for p in &params.params {
            let unit = param_units.get(&p.name).map_or("", |u| u.as_str());
            let desc = format!(
                "Model parameter `{}` ({} population distribution), after covariate modulation",
                p.name,
                p.dist.kind()
            );
            d.add("patients", &p.name, unit, &desc);
        }
        d.add("patients", "assigned_arm", "", "Arm a real trial would have given this patient (randomised or confounded by a covariate rule)")
            .add("patients", "plausible", "", "All plausibility bounds hold on the noiseless outputs under every arm, and every arm's simulation finished (none diverged or saturated)");
        let units: Vec<String> = spec
            .observation
            .iter()
            .map(|(n, m)| format!("{n}: {}", m.unit.as_deref().unwrap_or("-")))
            .collect();
        d.add("observations", "arm", "", "Treatment arm the patient was simulated under (every patient runs under every arm)")
            .add("observations", "visit", "", "Index into the observable's visit schedule (0 = baseline)")
            .add("observations", "time", "day", "Visit time: scheduled day plus jitter (baseline not jittered)")
            .add("observations", "observable", "", "Name of the measured model output")
            .add("observations", "value", &units.join("; "), "Measured value (noise applied); the detection limit when censored; empty when missing")
            .add("observations", "censored", "", "Measured value fell below the limit of detection")
            .add("observations", "missing", "", "Measurement missing (completely at random, at random given a covariate, or dropout after progression)");
        let burden_unit = spec
            .outcomes
            .as_ref()
            .and_then(|o| spec.observation.get(&o.burden))
            .and_then(|m| m.unit.clone())
            .unwrap_or_default();
        d.add(
            "outcomes",
            "arm",
            "",
            "Treatment arm of this potential outcome",
        )
        .add(
            "outcomes",
            "baseline",
            &burden_unit,
            "Burden at the baseline visit",
        )
        .add(
            "outcomes",
            "best_relative_change",
            "1",
            "Smallest relative change of burden from baseline up to progression",
        )
        .add(
            "outcomes",
            "response",
            "",
            "Best overall response: CR, PR, SD, PD or NE (not evaluable)",
        )
        .add(
            "outcomes",
            "responded",
            "",
            "Best overall response is CR or PR",
        )
        .add(
            "outcomes",
            "progressed",
            "",
            "Progression observed within follow-up",
        )
        .add(
            "outcomes",
            "time_to_progression",
            "day",
            "Time of progression, or end of follow-up when censored",
        )
        .add(
            "outcomes",
            "progression_censored",
            "",
            "Time to progression is censored at the end of follow-up",
        );
        if let Some(o) = &spec.outcomes {
            for e in &o.events {
                let rule = match (e.above, e.below) {
                    (Some(a), _) => format!("{} above {a}", e.observable),
                    (_, Some(b)) => format!("{} below {b}", e.observable),
                    _ => e.observable.clone(),
                };
                d.add(
                    "outcomes",
                    &e.name,
                    "",
                    &format!("Event: {rule} within follow-up"),
                )
                .add(
                    "outcomes",
                    &format!("{}_time", e.name),
                    "day",
                    &format!("First time of event `{}`", e.name),
                );
            }
        }
        d.add("selection", "value", "", "Value of the selection variable")
            .add(
                "selection",
                "acceptance_probability",
                "1",
                "Probability of inclusion at the chosen scaling factor",
            )
            .add(
                "selection",
                "selected",
                "",
                "Patient is part of the virtual population",
            );
        d
    }
}

/// Entries for every column of `tables`; an undocumented column is an error.
pub fn build(tables: &[&Table], docs: &ColumnDocs) -> Result<Vec<DictEntry>, CohortError> {
    let mut out = Vec::new();
    for t in tables {
        for c in &t.columns {
            let Some((unit, description)) = docs.docs.get(&(t.name.clone(), c.name.clone())) else {
                return Err(CohortError::Column {
                    table: t.name.clone(),
                    column: c.name.clone(),
                    message: "has no entry in the data dictionary".into(),
                });
            };
            out.push(DictEntry {
                table: t.name.clone(),
                column: c.name.clone(),
                kind: c.values.type_name().into(),
                unit: unit.clone(),
                description: description.clone(),
            });
        }
    }
    Ok(out)
}

/// The document written as `data_dictionary.json`.
pub fn to_json(entries: &[DictEntry]) -> serde_json::Value {
    serde_json::json!({ "columns": entries })
}
