//! Dosing for models with user kinetics: arm-level schedules
//! (`[[arms.doses]]`: a target species, `times`, `amount`, optional first-order
//! `decay`) and per-member treatment events handed in by an upper layer
//! (a patient file `patient, time, species, amount`, mapped onto blocks of
//! members).
//!
//! Both become amounts *added to a species after a step*, tabulated on the
//! host in f64 and rounded once to f32, so the GPU kernel and the CPU twin
//! add the same f32 values in the same order (arm doses in schedule order,
//! then the member's events in time order):
//! - a bolus at time tᵢ (no `decay`) is added after the step that contains
//!   it, the step k with k·dt ≤ tᵢ < (k+1)·dt (as radiotherapy fractions);
//! - with `decay = λ` the dose enters through a first-order depot (the
//!   one-compartment absorption model of pharmacokinetics, e.g. Gabrielsson
//!   & Weiner, *Pharmacokinetic and Pharmacodynamic Data Analysis*, ch. 2):
//!   step k receives exactly what the depot releases during it,
//!   A·(e^{−λ·max(0, k·dt − tᵢ)} − e^{−λ·max(0, (k+1)·dt − tᵢ)}), so the
//!   amounts over all steps sum to A.
//!
//! Owns: the schedule and event types, the event file parser (errors name
//! file, line and column), and the f32 tables the RD family binds as aux.
//! Never imports wgpu.

use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Most dose schedules per arm (one table column each).
pub const MAX_DOSE_SCHEDULES: usize = 8;

/// Largest step index or event count a table may hold: f32 represents
/// every integer up to 2²⁴ exactly.
pub const MAX_EXACT: u64 = 1 << 24;

/// One arm-level dose schedule (`[[arms.doses]]`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DoseSchedule {
    /// Target species.
    pub species: String,
    /// Dose times in the model's time unit.
    pub times: Vec<f64>,
    /// Amount per dose, in the species' unit.
    pub amount: f64,
    /// First-order release rate (1/time) of a depot; absent: bolus.
    #[serde(default)]
    pub decay: Option<f64>,
}

impl DoseSchedule {
    /// Checks within one schedule: (key under the schedule, message).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.times.len() as u64 > crate::input::limits::MAX_SCHEDULE {
            return Err((
                "times",
                crate::input::limits::over(
                    "dose times",
                    self.times.len() as u64,
                    crate::input::limits::MAX_SCHEDULE,
                ),
            ));
        }
        if let Some(t) = self.times.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err((
                "times",
                format!("dose times must be finite and ≥ 0, got {t}"),
            ));
        }
        if !self.amount.is_finite() {
            return Err((
                "amount",
                format!("amount must be finite, got {}", self.amount),
            ));
        }
        if let Some(d) = self.decay
            && !(d.is_finite() && d > 0.0)
        {
            return Err(("decay", format!("decay must be a positive rate, got {d}")));
        }
        Ok(())
    }

    /// What a depot schedule (`decay` given) releases during [a, b), in
    /// f64; 0 for a bolus schedule, whose amounts `arm_table` places.
    pub fn released(&self, a: f64, b: f64) -> f64 {
        let Some(l) = self.decay else { return 0.0 };
        self.times
            .iter()
            .filter(|&&ti| b > ti)
            .map(|&ti| {
                self.amount * ((-l * (a - ti).max(0.0)).exp() - (-l * (b - ti).max(0.0)).exp())
            })
            .sum()
    }
}

/// The step whose interval [k·dt, (k+1)·dt) holds time `t` (times within
/// 1e-9 steps below a step boundary count as on it, as for radiotherapy).
pub fn step_of(t: f64, dt: f64) -> u64 {
    (t / dt + 1e-9).floor().max(0.0) as u64
}

/// The arm table: `rows = steps + 1` rows of one value per schedule, row k
/// holding what each schedule adds after step k, as f32.
pub fn arm_table(doses: &[DoseSchedule], dt: f64, steps: u64) -> Vec<f32> {
    let rows = steps as usize + 1;
    let mut out = vec![0.0f32; rows * doses.len()];
    for (j, d) in doses.iter().enumerate() {
        match d.decay {
            None => {
                // Sum coinciding boluses in f64 first, then round once.
                let mut acc: std::collections::BTreeMap<u64, f64> = Default::default();
                for &t in &d.times {
                    *acc.entry(step_of(t, dt)).or_default() += d.amount;
                }
                for (k, a) in acc {
                    if (k as usize) < rows {
                        out[k as usize * doses.len() + j] = a as f32;
                    }
                }
            }
            Some(_) => {
                for k in 0..rows {
                    let a = k as f64 * dt;
                    out[k * doses.len() + j] = d.released(a, a + dt) as f32;
                }
            }
        }
    }
    out
}

/// One treatment event of one patient (or member block).
#[derive(Debug, Clone, PartialEq)]
pub struct TreatmentEvent {
    /// Model time at which `amount` is added (after the step holding it).
    pub time: f64,
    /// Target species name.
    pub species: String,
    pub amount: f64,
}

/// Per-member treatment events: global member `m` (the plan's member
/// offset included) takes `groups[m / block]`; members past the last group
/// get none. With `block = 1` every member has its own list; an upper
/// layer that gives each patient a block of N members passes `block = N`
/// and the patients' events in block order.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberEvents {
    pub block: u32,
    pub groups: Vec<Vec<TreatmentEvent>>,
}

/// Errors of an event file or of events that do not fit a model.
#[derive(Debug, thiserror::Error)]
pub enum DosingError {
    #[error("cannot read {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {reason}", file.display())]
    Line {
        file: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("treatment events: {0}")]
    Invalid(String),
}

const COLUMNS: [&str; 4] = ["patient", "time", "species", "amount"];

/// Reads a treatment-event file: CSV with a header naming the columns
/// `patient, time, species, amount` (any order, case-insensitive), `#`
/// comments and blank lines allowed. Returns each patient's events in
/// file order of first appearance, each list sorted by time (stable).
pub fn read_events(path: &Path) -> Result<IndexMap<String, Vec<TreatmentEvent>>, DosingError> {
    let text = std::fs::read_to_string(path).map_err(|source| DosingError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_events(path, &text)
}

/// [`read_events`] on text (`path` names it in errors).
pub fn parse_events(
    path: &Path,
    text: &str,
) -> Result<IndexMap<String, Vec<TreatmentEvent>>, DosingError> {
    let fail = |line: usize, reason: String| DosingError::Line {
        file: path.to_path_buf(),
        line,
        reason,
    };
    let mut order: Option<[usize; 4]> = None;
    let mut out: IndexMap<String, Vec<TreatmentEvent>> = IndexMap::new();
    let mut rows = 0u64;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(trimmed.as_bytes());
        let mut rec = csv::StringRecord::new();
        reader
            .read_record(&mut rec)
            .map_err(|e| fail(line, format!("malformed CSV: {e}")))?;
        let Some(cols) = order else {
            let mut o = [usize::MAX; 4];
            for (pos, name) in rec.iter().enumerate() {
                let key = name.to_ascii_lowercase();
                let k = COLUMNS.iter().position(|c| *c == key).ok_or_else(|| {
                    fail(
                        line,
                        format!("unknown column {name:?} (expected: {})", COLUMNS.join(", ")),
                    )
                })?;
                if o[k] != usize::MAX {
                    return Err(fail(line, format!("column {:?} appears twice", COLUMNS[k])));
                }
                o[k] = pos;
            }
            if let Some(k) = o.iter().position(|&p| p == usize::MAX) {
                return Err(fail(line, format!("missing column {:?}", COLUMNS[k])));
            }
            order = Some(o);
            continue;
        };
        if rec.len() != COLUMNS.len() {
            return Err(fail(
                line,
                format!("expected {} fields, found {}", COLUMNS.len(), rec.len()),
            ));
        }
        rows += 1;
        if rows > crate::input::limits::MAX_SCHEDULE * 1000 {
            return Err(fail(line, "too many treatment events".into()));
        }
        let field = |k: usize| &rec[cols[k]];
        let number = |k: usize| -> Result<f64, DosingError> {
            let t = field(k);
            let v: f64 = t.parse().map_err(|_| {
                fail(
                    line,
                    format!(
                        "column {} ({}): {t:?} is not a number",
                        cols[k] + 1,
                        COLUMNS[k]
                    ),
                )
            })?;
            if !v.is_finite() {
                return Err(fail(
                    line,
                    format!("column {} ({}): {t} is not finite", cols[k] + 1, COLUMNS[k]),
                ));
            }
            Ok(v)
        };
        let patient = field(0).to_string();
        if patient.is_empty() {
            return Err(fail(
                line,
                format!("column {} (patient) is empty", cols[0] + 1),
            ));
        }
        let time = number(1)?;
        if time < 0.0 {
            return Err(fail(
                line,
                format!("column {} (time): {time} is before time 0", cols[1] + 1),
            ));
        }
        let species = field(2).to_string();
        if species.is_empty() {
            return Err(fail(
                line,
                format!("column {} (species) is empty", cols[2] + 1),
            ));
        }
        let amount = number(3)?;
        out.entry(patient).or_default().push(TreatmentEvent {
            time,
            species,
            amount,
        });
    }
    if order.is_none() {
        return Err(fail(
            1,
            format!("missing header row (expected: {})", COLUMNS.join(", ")),
        ));
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.time.total_cmp(&b.time));
    }
    Ok(out)
}

/// The event table bound as aux: `groups + 1` start offsets (in events),
/// then (step, species index, amount) per event, each group's events in
/// time order. Every integer is below 2²⁴ so that f32 holds it exactly.
pub fn event_table(
    ev: &MemberEvents,
    species: &[String],
    dt: f64,
) -> Result<Vec<f32>, DosingError> {
    let bad = |m: String| Err(DosingError::Invalid(m));
    if ev.block == 0 {
        return bad("the member block size must be at least 1".into());
    }
    let total: usize = ev.groups.iter().map(Vec::len).sum();
    if total as u64 >= MAX_EXACT || ev.groups.len() as u64 >= MAX_EXACT {
        return bad(format!(
            "{total} events in {} groups: at most {} of each",
            ev.groups.len(),
            MAX_EXACT - 1
        ));
    }
    let mut offsets = Vec::with_capacity(ev.groups.len() + 1);
    let mut rows = Vec::with_capacity(3 * total);
    let mut n = 0u64;
    for (g, list) in ev.groups.iter().enumerate() {
        offsets.push(n as f32);
        let mut sorted: Vec<&TreatmentEvent> = list.iter().collect();
        sorted.sort_by(|a, b| a.time.total_cmp(&b.time));
        for e in sorted {
            let Some(s) = species.iter().position(|x| *x == e.species) else {
                return bad(format!(
                    "group {g}: `{}` is not a species (species: {})",
                    e.species,
                    species.join(", ")
                ));
            };
            if !(e.time.is_finite() && e.time >= 0.0 && e.amount.is_finite()) {
                return bad(format!(
                    "group {g}: event at time {} with amount {} (times must be finite and ≥ 0, amounts finite)",
                    e.time, e.amount
                ));
            }
            let k = step_of(e.time, dt);
            if k >= MAX_EXACT {
                return bad(format!(
                    "group {g}: event at time {} is step {k}, past step {}",
                    e.time,
                    MAX_EXACT - 1
                ));
            }
            rows.extend([k as f32, s as f32, e.amount as f32]);
            n += 1;
        }
    }
    offsets.push(n as f32);
    offsets.extend(rows);
    Ok(offsets)
}

/// Maps patients' events onto member blocks: patient `i` of `patients`
/// (in block order) gets block `i`, with `block` members each. Patients
/// without events get an empty list; events of a patient not in
/// `patients` are an error naming it.
pub fn events_for_patients(
    events: &IndexMap<String, Vec<TreatmentEvent>>,
    patients: &[String],
    block: u32,
) -> Result<MemberEvents, DosingError> {
    if let Some(p) = events.keys().find(|p| !patients.contains(p)) {
        return Err(DosingError::Invalid(format!(
            "patient `{p}` has treatment events but no observations"
        )));
    }
    Ok(MemberEvents {
        block,
        groups: patients
            .iter()
            .map(|p| events.get(p).cloned().unwrap_or_default())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IndexMap<String, Vec<TreatmentEvent>>, DosingError> {
        parse_events(Path::new("ev.csv"), text)
    }

    #[test]
    fn event_file_parses_and_sorts() {
        let ev = parse(
            "# doses\nPatient,species,time,amount\np1,u,2.0,0.5\np2,u,1,1\n\np1,\"u\",1.0,0.25\n",
        )
        .unwrap();
        assert_eq!(ev.keys().collect::<Vec<_>>(), ["p1", "p2"]);
        let times: Vec<f64> = ev["p1"].iter().map(|e| e.time).collect();
        assert_eq!(times, [1.0, 2.0]);
        assert_eq!(ev["p1"][0].amount, 0.25);
    }

    #[test]
    fn event_file_errors_name_file_and_line() {
        for (text, want) in [
            (
                "patient,time,species\n",
                "ev.csv:1: missing column \"amount\"",
            ),
            (
                "patient,time,species,dose\n",
                "ev.csv:1: unknown column \"dose\"",
            ),
            (
                "patient,time,species,amount\np,x,u,1\n",
                "ev.csv:2: column 2 (time): \"x\" is not a number",
            ),
            (
                "patient,time,species,amount\n\np,1,u\n",
                "ev.csv:3: expected 4 fields, found 3",
            ),
            (
                "patient,time,species,amount\np,-1,u,1\n",
                "ev.csv:2: column 2 (time): -1 is before time 0",
            ),
            (
                "patient,time,species,amount\np,1,u,inf\n",
                "ev.csv:2: column 4 (amount): inf is not finite",
            ),
            (",1,u,1\n", "ev.csv:1: unknown column \"\""),
            (
                "patient,time,species,amount\n,1,u,1\n",
                "ev.csv:2: column 1 (patient) is empty",
            ),
            ("# only a comment\n", "ev.csv:1: missing header row"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    /// Bolus amounts land in the step holding their time; a depot's
    /// releases sum to the amount and follow A·(e^{−λa} − e^{−λb}).
    #[test]
    fn arm_table_boluses_and_depot() {
        let bolus = DoseSchedule {
            species: "u".into(),
            times: vec![0.0, 0.3, 0.3, 0.95],
            amount: 2.0,
            decay: None,
        };
        let depot = DoseSchedule {
            decay: Some(0.5),
            times: vec![0.25],
            ..bolus.clone()
        };
        let t = arm_table(&[bolus, depot], 0.1, 100);
        assert_eq!(t.len(), 101 * 2);
        let col = |j: usize| -> Vec<f32> { t.iter().skip(j).step_by(2).copied().collect() };
        let b = col(0);
        assert_eq!((b[0], b[3], b[9]), (2.0, 4.0, 2.0));
        assert_eq!(b.iter().filter(|x| **x != 0.0).count(), 3);
        let d = col(1);
        assert_eq!(d[0..2], [0.0, 0.0]);
        let exact2 = 2.0 * (1.0 - (-0.5f64 * 0.05).exp());
        assert!((d[2] as f64 - exact2).abs() < 1e-7, "{}", d[2]);
        // 10 time units after a dose, e^{-5} of it is still in the depot.
        let total: f64 = d.iter().map(|x| *x as f64).sum();
        let expect = 2.0 * (1.0 - (-0.5f64 * (10.1 - 0.25)).exp());
        assert!((total - expect).abs() < 1e-5, "{total} vs {expect}");
    }

    #[test]
    fn event_table_layout_and_errors() {
        let e = |t: f64, s: &str, a: f64| TreatmentEvent {
            time: t,
            species: s.into(),
            amount: a,
        };
        let ev = MemberEvents {
            block: 2,
            groups: vec![
                vec![e(0.5, "b", 1.0), e(0.1, "a", 2.0)],
                vec![],
                vec![e(0.0, "a", 3.0)],
            ],
        };
        let sp = vec!["a".to_string(), "b".to_string()];
        let t = event_table(&ev, &sp, 0.1).unwrap();
        assert_eq!(
            t,
            [
                0.0, 2.0, 2.0, 3.0, 1.0, 0.0, 2.0, 5.0, 1.0, 1.0, 0.0, 0.0, 3.0
            ]
        );
        let bad = MemberEvents {
            block: 1,
            groups: vec![vec![e(0.5, "c", 1.0)]],
        };
        let msg = event_table(&bad, &sp, 0.1).unwrap_err().to_string();
        assert!(msg.contains("`c` is not a species"), "{msg}");
        let mut map = IndexMap::new();
        map.insert("x".to_string(), vec![e(1.0, "a", 1.0)]);
        let msg = events_for_patients(&map, &["y".into()], 4)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("patient `x`"), "{msg}");
        let ok = events_for_patients(&map, &["y".into(), "x".into()], 4).unwrap();
        assert_eq!(ok.groups[0].len(), 0);
        assert_eq!(ok.groups[1].len(), 1);
    }
}
