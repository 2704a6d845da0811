//! Patient observation data resolved against a plan: records grouped by
//! patient (order of first appearance in the file), each with its operator,
//! the error SD it is assimilated with (the file's `sd`, or the scene's
//! observation-error model when `sd` is empty), censoring at a declared
//! detection limit, and the forecast requests of `--forecast-at`.
//!
//! Censoring (docs/patients.md): a value at or below the detection limit L
//! says only that the true value lies in [0, L]. It is assimilated as one
//! pseudo-observation carrying the first two moments of a uniform
//! distribution on [0, L] — substitution at the limit with an error that
//! covers the whole censored interval (Hornung & Reed, Appl. Occup.
//! Environ. Hyg. 5(1), 1990, for substitution at L/2 and L/√2). In linear
//! space that is value L/2, SD L/√12; for an observable assimilated on a log
//! scale it is ln-value ln L − 1 with ln-SD 1 (the mean and SD of ln U for
//! U uniform on [0, L]), given here as value L/e and SD L/e.
//!
//! Owns: parsing of the request file and every check that names a file line.

use std::collections::HashMap;
use std::path::Path;

use super::super::error::TwinError;
use super::super::obs::{ObsItem, Operator, operator, step_of};
use crate::core::plan::Plan;
use crate::input::scene::assimilation::AssimilationSection;
use crate::methods::assim::obs_file::{Location, PatientRecord};

/// The scene's observation-error model of one observable
/// (`[[assimilation.observe]]`): SD = max(sd, rel_sd·|value|).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorModel {
    pub sd: f64,
    pub rel_sd: f64,
    pub detection_limit: Option<f64>,
}

impl ErrorModel {
    pub fn sd_at(&self, value: f64) -> f64 {
        self.sd.max(self.rel_sd * value.abs())
    }
}

/// Error models of the scene's `[[assimilation.observe]]` entries that name
/// an `observable` (first entry wins).
pub fn error_models(section: &AssimilationSection) -> HashMap<String, ErrorModel> {
    let mut out = HashMap::new();
    for o in &section.observe {
        if let Some(name) = &o.observable {
            out.entry(name.clone()).or_insert(ErrorModel {
                sd: o.sd,
                rel_sd: o.rel_sd,
                detection_limit: o.detection_limit,
            });
        }
    }
    out
}

/// One observation of a patient, ready to assimilate.
#[derive(Clone, Debug, PartialEq)]
pub struct PatientObs {
    pub step: u64,
    pub time: f64,
    /// Value and SD as assimilated (the pseudo-observation when censored).
    pub item: ObsItem,
    /// The file's value.
    pub observed: f64,
    pub censored: bool,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Patient {
    pub name: String,
    /// In time order.
    pub obs: Vec<PatientObs>,
}

impl Patient {
    pub fn first_time(&self) -> f64 {
        self.obs.first().map_or(f64::INFINITY, |o| o.time)
    }
}

/// Groups and resolves the records (sorted by time) of `file`.
pub fn patients(
    file: &Path,
    records: &[PatientRecord],
    plan: &Plan,
    section: &AssimilationSection,
) -> Result<Vec<Patient>, TwinError> {
    let models = error_models(section);
    let dt = plan.model.dt();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<Patient> = Vec::new();
    // Patients in order of first appearance in the file (by line).
    let mut by_line: Vec<&PatientRecord> = records.iter().collect();
    by_line.sort_by_key(|r| r.record.line);
    for r in &by_line {
        if !index.contains_key(r.patient.as_str()) {
            index.insert(&r.patient, out.len());
            out.push(Patient {
                name: r.patient.clone(),
                obs: Vec::new(),
            });
        }
    }
    for pr in records {
        let r = &pr.record;
        let fail = |m: String| TwinError::Invalid(format!("{}:{}: {m}", file.display(), r.line));
        if r.time < 0.0 {
            return Err(fail(format!("time {} is before the start (0)", r.time)));
        }
        let (op, site) = operator(plan, &r.observable, &r.location).map_err(|e| fail(e.into()))?;
        let log = section.log_observables.contains(&r.observable);
        let model = models.get(&r.observable);
        let sd = match (pr.sd, model) {
            (Some(sd), _) => sd,
            (None, Some(m)) => m.sd_at(r.value),
            (None, None) => {
                return Err(fail(format!(
                    "sd is empty and the scene declares no error model for `{}` \
                     (an [[assimilation.observe]] entry with observable = \"{}\" and sd/rel_sd)",
                    r.observable, r.observable
                )));
            }
        };
        let limit = model.and_then(|m| m.detection_limit);
        let censored = limit.is_some_and(|l| r.value <= l);
        let (value, sd) = match limit {
            Some(l) if censored && log => (l / std::f64::consts::E, l / std::f64::consts::E),
            Some(l) if censored => (0.5 * l, l / 12f64.sqrt()),
            _ => (r.value, sd),
        };
        if log && value <= 0.0 {
            return Err(fail(format!(
                "`{}` is assimilated on a log scale but the value is {}; declare a \
                 detection_limit for it in [[assimilation.observe]] to treat such values as censored",
                r.observable, r.value
            )));
        }
        if !(sd.is_finite() && sd > 0.0) {
            return Err(fail(format!(
                "the error SD of this reading is {sd}: the error model of `{}` needs sd > 0 \
                 (or rel_sd > 0 with a non-zero value)",
                r.observable
            )));
        }
        let p = index[pr.patient.as_str()];
        out[p].obs.push(PatientObs {
            step: step_of(r.time, dt).0,
            time: r.time,
            item: ObsItem {
                observable: r.observable.clone(),
                location: r.location,
                op,
                site,
                sd,
                rel_sd: 0.0,
                value: Some(value),
                log,
            },
            observed: r.value,
            censored,
            line: r.line,
        });
    }
    Ok(out)
}

/// One requested forecast (a row of `--forecast-at`).
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub patient: usize,
    pub time: f64,
    pub observable: String,
    /// Plan observable.
    pub op: usize,
    /// The step at or before `time`, and the fraction of a step beyond it.
    pub step: u64,
    pub frac: f64,
    pub line: usize,
}

impl Request {
    /// Steps whose frames the forecast needs (one, or two to interpolate).
    pub fn steps(&self) -> Vec<u64> {
        if self.frac > 0.0 {
            vec![self.step, self.step + 1]
        } else {
            vec![self.step]
        }
    }
}

/// The step at or before `time` and the fraction beyond it (times within
/// 1e-9 of a step count as on it).
pub fn step_below(time: f64, dt: f64) -> (u64, f64) {
    let s = time / dt;
    let r = s.round();
    if (s - r).abs() <= 1e-9 * s.abs().max(1.0) {
        return (r.max(0.0) as u64, 0.0);
    }
    let f = s.floor();
    (f as u64, s - f)
}

/// Reads `--forecast-at`: columns `patient, time[, observable]` (any
/// order, header row). Without `observable`, every scene observable the
/// patient has readings of is forecast. `patient` may be absent only when
/// the observation file has no patient column.
/// Treatment events of a patient run (`--events`, `crate::input::dosing`
/// format: patient, time, species, amount): every patient named must have
/// readings; patients without events get none.
pub fn read_patient_events(
    file: &Path,
    patients: &[Patient],
) -> Result<indexmap::IndexMap<String, Vec<crate::input::dosing::TreatmentEvent>>, TwinError> {
    let events =
        crate::input::dosing::read_events(file).map_err(|e| TwinError::Invalid(e.to_string()))?;
    let known: std::collections::HashSet<&str> = patients.iter().map(|p| p.name.as_str()).collect();
    if let Some(p) = events.keys().find(|p| !known.contains(p.as_str())) {
        return Err(TwinError::Invalid(format!(
            "{}: patient `{p}` has treatment events but no readings in the observation file",
            file.display()
        )));
    }
    Ok(events)
}

pub fn read_requests(
    file: &Path,
    plan: &Plan,
    patients: &[Patient],
) -> Result<Vec<Request>, TwinError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| TwinError::Invalid(format!("{}: cannot read: {e}", file.display())))?;
    parse_requests(&text, file, plan, patients)
}

pub fn parse_requests(
    text: &str,
    file: &Path,
    plan: &Plan,
    patients: &[Patient],
) -> Result<Vec<Request>, TwinError> {
    let at = |line: usize, m: String| TwinError::Invalid(format!("{}:{line}: {m}", file.display()));
    let ops = &plan.observables.ops;
    let dt = plan.model.dt();
    let mut header: Option<(Option<usize>, usize, Option<usize>)> = None;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<String> = csv::ReaderBuilder::new()
            .has_headers(false)
            .trim(csv::Trim::All)
            .from_reader(trimmed.as_bytes())
            .records()
            .next()
            .transpose()
            .map_err(|e| at(line, format!("malformed CSV: {e}")))?
            .map(|r| r.iter().map(str::to_string).collect())
            .unwrap_or_default();
        let Some((pc, tc, oc)) = header else {
            let pos = |n: &str| fields.iter().position(|f| f.eq_ignore_ascii_case(n));
            if let Some(f) = fields.iter().find(|f| {
                !["patient", "time", "observable"].contains(&f.to_ascii_lowercase().as_str())
            }) {
                return Err(at(
                    line,
                    format!("header: unknown column {f:?} (expected: patient, time[, observable])"),
                ));
            }
            let Some(tc) = pos("time") else {
                return Err(at(line, "header: missing column \"time\"".into()));
            };
            let pc = pos("patient");
            if pc.is_none() && !(patients.len() == 1 && patients[0].name.is_empty()) {
                return Err(at(line, "header: missing column \"patient\"".into()));
            }
            header = Some((pc, tc, pos("observable")));
            continue;
        };
        let width = 1 + pc.is_some() as usize + oc.is_some() as usize;
        if fields.len() != width {
            return Err(at(
                line,
                format!("expected {width} fields, found {}", fields.len()),
            ));
        }
        let name = pc.map_or("", |c| fields[c].as_str());
        let Some(p) = patients.iter().position(|x| x.name == name) else {
            return Err(at(
                line,
                format!("patient {name:?} has no observations in the observation file"),
            ));
        };
        let time = match fields[tc].parse::<f64>() {
            Ok(t) if t.is_finite() && t >= 0.0 => t,
            _ => {
                return Err(at(
                    line,
                    format!("time {:?} is not a number ≥ 0", fields[tc]),
                ));
            }
        };
        if time < patients[p].first_time() {
            return Err(at(
                line,
                format!(
                    "time {time} is before patient {name:?}'s first observation (time {})",
                    patients[p].first_time()
                ),
            ));
        }
        let names: Vec<String> = match oc {
            Some(c) => vec![fields[c].clone()],
            None => {
                let mut v: Vec<String> = Vec::new();
                for o in &patients[p].obs {
                    if matches!(o.item.op, Operator::Engine(_)) && !v.contains(&o.item.observable) {
                        v.push(o.item.observable.clone());
                    }
                }
                v
            }
        };
        let (step, frac) = step_below(time, dt);
        for observable in names {
            let Some(op) = ops.iter().position(|o| o.name == observable) else {
                return Err(at(
                    line,
                    format!(
                        "`{observable}` is not a scene observable ({})",
                        ops.iter()
                            .map(|o| o.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            out.push(Request {
                patient: p,
                time,
                observable,
                op,
                step,
                frac,
                line,
            });
        }
    }
    if header.is_none() {
        return Err(at(
            1,
            "header: missing header row (expected: patient, time[, observable])".into(),
        ));
    }
    Ok(out)
}

/// Whether a record's location is the scalar form (used by the tables).
pub fn is_scalar(loc: &Location) -> bool {
    matches!(loc, Location::Scalar)
}
