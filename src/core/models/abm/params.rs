//! The agent-based tumour model's parameters: names, units, defaults (the
//! PhysiCell 1.14 values (Ghaffarizadeh et al. 2018) where they exist) and the struct
//! the CPU twin reads them into. The WGSL reads the same values through
//! `P_<name>` index constants (`wgsl.rs`).
//!
//! Owns: the parameter table. No behaviour.

use crate::core::model::ParamInfo;

/// (name, unit, default, bounds, description), in canonical order.
type Row = (&'static str, &'static str, f64, (f64, f64), &'static str);

pub const TABLE: [Row; 29] = [
    (
        "doubling_time",
        "min",
        1200.0,
        (60.0, 1e5),
        "doubling time of well-oxygenated tumour cells (division is a Poisson process at rate ln 2 / doubling_time)",
    ),
    (
        "o2_boundary",
        "mmHg",
        38.0,
        (0.0, 160.0),
        "oxygen at the domain edge (≈5 % O₂)",
    ),
    (
        "o2_diffusion",
        "µm²/min",
        1.0e5,
        (1e2, 1e6),
        "oxygen diffusivity",
    ),
    (
        "o2_decay",
        "1/min",
        0.1,
        (0.0, 10.0),
        "oxygen decay in tissue",
    ),
    (
        "o2_uptake",
        "1/min",
        10.0,
        (0.0, 100.0),
        "oxygen uptake where live cells cover a site completely",
    ),
    (
        "prolif_o2_low",
        "mmHg",
        5.0,
        (0.0, 100.0),
        "oxygen below which tumour cells do not divide",
    ),
    (
        "prolif_o2_high",
        "mmHg",
        38.0,
        (0.0, 160.0),
        "oxygen above which tumour cells divide at the full rate (linear in between)",
    ),
    (
        "necrosis_o2",
        "mmHg",
        5.0,
        (0.0, 100.0),
        "oxygen below which necrosis starts",
    ),
    (
        "necrosis_o2_max",
        "mmHg",
        2.5,
        (0.0, 100.0),
        "oxygen at and below which necrosis has its full rate",
    ),
    (
        "necrosis_rate",
        "1/min",
        1.0 / 360.0,
        (0.0, 1.0),
        "full necrosis rate",
    ),
    (
        "apoptosis_rate",
        "1/min",
        5.31667e-5,
        (0.0, 1.0),
        "background apoptosis rate of tumour cells",
    ),
    (
        "apoptotic_duration",
        "min",
        516.0,
        (0.0, 1e6),
        "time before an apoptotic cell is cleared",
    ),
    (
        "necrotic_duration",
        "min",
        86400.0,
        (0.0, 1e7),
        "time before necrotic debris is cleared",
    ),
    (
        "cell_radius",
        "µm",
        8.41,
        (1.0, 50.0),
        "tumour cell radius (volume 2494 µm³)",
    ),
    (
        "immune_radius",
        "µm",
        6.0,
        (1.0, 50.0),
        "immune effector cell radius",
    ),
    (
        "repulsion",
        "µm/min",
        2.0,
        (0.0, 100.0),
        "overdamped linear repulsion: a cell overlapping a neighbour by a fraction q of their contact distance is pushed at repulsion·q (integrated linearly implicitly, stable for any dt)",
    ),
    (
        "adhesion",
        "µm/min",
        0.0,
        (0.0, 100.0),
        "cell–cell adhesion between live cells within 1.25 × the contact distance",
    ),
    (
        "immune_speed",
        "µm/min",
        0.5,
        (0.0, 100.0),
        "immune cell migration speed (needs dt · immune_speed ≤ immune_radius: a step must not carry a cell past a neighbour it has not seen)",
    ),
    (
        "immune_bias",
        "1",
        0.5,
        (0.0, 1.0),
        "weight of chemotaxis (down the oxygen gradient, towards consuming tissue) against a random walk",
    ),
    (
        "kill_probability",
        "1",
        0.02,
        (0.0, 1.0),
        "probability per step that one live immune cell in contact kills a live tumour cell",
    ),
    (
        "immune_death_rate",
        "1/min",
        2.3e-4,
        (0.0, 1.0),
        "immune cell death (removal) rate",
    ),
    (
        "drug_diffusion",
        "µm²/min",
        3.0e4,
        (1e1, 1e6),
        "drug diffusivity",
    ),
    (
        "drug_decay",
        "1/min",
        0.01,
        (0.0, 10.0),
        "drug decay in tissue",
    ),
    (
        "drug_uptake",
        "1/min",
        0.5,
        (0.0, 100.0),
        "drug uptake where live cells cover a site completely",
    ),
    (
        "drug_ec50",
        "drug units",
        0.5,
        (1e-6, 1e6),
        "drug concentration of half-maximal kill",
    ),
    (
        "drug_hill",
        "1",
        2.0,
        (0.1, 10.0),
        "Hill coefficient of the dose–response curve",
    ),
    (
        "drug_kill_rate",
        "1/min",
        0.002,
        (0.0, 1.0),
        "maximal drug-induced apoptosis rate",
    ),
    (
        "initial_radius",
        "µm",
        150.0,
        (0.0, 1e5),
        "radius of the initial spheroid (cells on a hexagonal lattice)",
    ),
    (
        "immune_count",
        "cells",
        0.0,
        (0.0, 1e6),
        "immune cells placed at random outside the spheroid at the start",
    ),
];

pub fn infos() -> Vec<ParamInfo> {
    TABLE
        .iter()
        .map(|&(name, unit, default, bounds, description)| ParamInfo {
            name: name.into(),
            unit: unit.into(),
            description: description.into(),
            default,
            bounds,
        })
        .collect()
}

/// One member's parameters as the kernels see them (f32).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Params {
    pub doubling_time: f32,
    pub o2_boundary: f32,
    pub o2_diffusion: f32,
    pub o2_decay: f32,
    pub o2_uptake: f32,
    pub prolif_o2_low: f32,
    pub prolif_o2_high: f32,
    pub necrosis_o2: f32,
    pub necrosis_o2_max: f32,
    pub necrosis_rate: f32,
    pub apoptosis_rate: f32,
    pub apoptotic_duration: f32,
    pub necrotic_duration: f32,
    pub cell_radius: f32,
    pub immune_radius: f32,
    pub repulsion: f32,
    pub adhesion: f32,
    pub immune_speed: f32,
    pub immune_bias: f32,
    pub kill_probability: f32,
    pub immune_death_rate: f32,
    pub drug_diffusion: f32,
    pub drug_decay: f32,
    pub drug_uptake: f32,
    pub drug_ec50: f32,
    pub drug_hill: f32,
    pub drug_kill_rate: f32,
    pub initial_radius: f32,
    pub immune_count: f32,
}

impl Params {
    /// Reads a member's parameter vector; `ix[k]` is where canonical
    /// parameter k sits in it.
    pub fn read(ix: &[usize], p: &[f32]) -> Params {
        let v = |k: usize| p[ix[k]];
        Params {
            doubling_time: v(0),
            o2_boundary: v(1),
            o2_diffusion: v(2),
            o2_decay: v(3),
            o2_uptake: v(4),
            prolif_o2_low: v(5),
            prolif_o2_high: v(6),
            necrosis_o2: v(7),
            necrosis_o2_max: v(8),
            necrosis_rate: v(9),
            apoptosis_rate: v(10),
            apoptotic_duration: v(11),
            necrotic_duration: v(12),
            cell_radius: v(13),
            immune_radius: v(14),
            repulsion: v(15),
            adhesion: v(16),
            immune_speed: v(17),
            immune_bias: v(18),
            kill_probability: v(19),
            immune_death_rate: v(20),
            drug_diffusion: v(21),
            drug_decay: v(22),
            drug_uptake: v(23),
            drug_ec50: v(24),
            drug_hill: v(25),
            drug_kill_rate: v(26),
            initial_radius: v(27),
            immune_count: v(28),
        }
    }

    /// Radius of an agent of `kind`.
    pub fn radius(&self, kind: u32) -> f32 {
        if kind == super::layout::IMMUNE {
            self.immune_radius
        } else {
            self.cell_radius
        }
    }
}
