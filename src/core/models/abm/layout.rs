//! Where everything of an agent-based member lives: the state words (the
//! oxygen and drug fields first, as every grid model's, so the generic
//! field observables work; then a header of scalars; then the agent pool
//! as structure-of-arrays) and the GPU scratch words (bins, sorted indices and
//! the per-agent results of a step before compaction). One table for the
//! CPU twin, the WGSL header (`wgsl.rs`) and snapshots, so the three agree.
//!
//! Owns: offsets and codes. No behaviour.

/// Invocations per member on the GPU (one workgroup per member); the CPU
/// twin splits work and reductions the same way.
pub const THREADS: usize = 256;

/// Header words after the fields (`Layout::h` gives their offsets).
pub const HEADER: usize = 16;
/// Agents in the pool (slots `0..count` are in use).
pub const H_COUNT: usize = 0;
/// Id the next new agent gets.
pub const H_NEXT_ID: usize = 1;
/// 0, or step + 1 of the step at which the pool would have overflowed.
pub const H_SATURATED: usize = 2;
/// Tumour cells killed by immune cells so far.
pub const H_KILLS: usize = 3;
/// Scalars recomputed at the end of every step (see `OBSERVABLES`).
pub const H_LIVE: usize = 4;
pub const H_LIVE_TUMOUR: usize = 5;
pub const H_LIVE_IMMUNE: usize = 6;
pub const H_APOPTOTIC: usize = 7;
pub const H_NECROTIC: usize = 8;
pub const H_TUMOUR_AREA: usize = 9;
pub const H_TUMOUR_RADIUS: usize = 10;
pub const H_NECROTIC_RADIUS: usize = 11;
pub const H_MEAN_O2: usize = 12;
pub const H_MEAN_DRUG: usize = 13;

/// Agent types (`AgentRow::kind`, `model::AGENT_TYPES`).
pub const TUMOUR: u32 = 0;
pub const IMMUNE: u32 = 1;
/// Agent states (`model::AGENT_STATES`).
pub const LIVE: u32 = 0;
pub const APOPTOTIC: u32 = 1;
pub const NECROTIC: u32 = 2;

/// (name, header word, unit, description) of every preset observable.
pub const OBSERVABLES: [(&str, usize, &str, &str); 11] = [
    ("live", H_LIVE, "cells", "live cells of every type"),
    ("live_tumour", H_LIVE_TUMOUR, "cells", "live tumour cells"),
    (
        "live_immune",
        H_LIVE_IMMUNE,
        "cells",
        "live immune effector cells",
    ),
    (
        "apoptotic",
        H_APOPTOTIC,
        "cells",
        "apoptotic cells not yet cleared",
    ),
    (
        "necrotic",
        H_NECROTIC,
        "cells",
        "necrotic cells not yet cleared",
    ),
    (
        "immune_kills",
        H_KILLS,
        "cells",
        "tumour cells killed by immune cells so far",
    ),
    (
        "tumour_area",
        H_TUMOUR_AREA,
        "µm²",
        "area of all tumour cells (any state)",
    ),
    (
        "tumour_radius",
        H_TUMOUR_RADIUS,
        "µm",
        "equivalent disc radius of the tumour cells, sqrt(2·mean squared distance from their centroid)",
    ),
    (
        "necrotic_radius",
        H_NECROTIC_RADIUS,
        "µm",
        "equivalent disc radius of the necrotic cells about the tumour centroid (0 without any)",
    ),
    ("mean_o2", H_MEAN_O2, "mmHg", "mean oxygen over the domain"),
    (
        "mean_drug",
        H_MEAN_DRUG,
        "drug units",
        "mean drug concentration over the domain",
    ),
];

/// Sizes of one member's arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub nx: usize,
    pub ny: usize,
    /// Agent capacity.
    pub cap: usize,
}

impl Layout {
    pub fn sites(&self) -> usize {
        self.nx * self.ny
    }
    pub fn o2(&self) -> usize {
        0
    }
    pub fn drug(&self) -> usize {
        self.sites()
    }
    /// Offset of header word `w` (`H_*`).
    pub fn h(&self, w: usize) -> usize {
        2 * self.sites() + w
    }
    fn agents(&self) -> usize {
        2 * self.sites() + HEADER
    }
    pub fn x(&self) -> usize {
        self.agents()
    }
    pub fn y(&self) -> usize {
        self.agents() + self.cap
    }
    pub fn kind(&self) -> usize {
        self.agents() + 2 * self.cap
    }
    pub fn state(&self) -> usize {
        self.agents() + 3 * self.cap
    }
    /// Time in the current state (age of a live cell, time since death).
    pub fn clock(&self) -> usize {
        self.agents() + 4 * self.cap
    }
    pub fn id(&self) -> usize {
        self.agents() + 5 * self.cap
    }
    pub fn state_len(&self) -> usize {
        self.agents() + 6 * self.cap
    }

    // Scratch (GPU only; the CPU twin keeps its own vectors).
    /// Bin start offsets, sites + 1 words.
    pub fn s_start(&self) -> usize {
        0
    }
    /// Agent indices sorted by (bin, index).
    pub fn s_sorted(&self) -> usize {
        self.sites() + 1
    }
    /// New positions after mechanics.
    pub fn s_x(&self) -> usize {
        self.s_sorted() + self.cap
    }
    pub fn s_y(&self) -> usize {
        self.s_x() + self.cap
    }
    /// 0 removed, 1 kept, 2 divides; + 4 when killed by an immune cell.
    pub fn s_fate(&self) -> usize {
        self.s_y() + self.cap
    }
    pub fn s_state(&self) -> usize {
        self.s_fate() + self.cap
    }
    pub fn s_clock(&self) -> usize {
        self.s_state() + self.cap
    }
    /// The sorted agents' positions and `kind * 16 + state`, gathered once
    /// per step in `S_SORTED` order so that the neighbour loops read each
    /// site's agents from consecutive words instead of at random indices.
    pub fn s_gx(&self) -> usize {
        self.s_clock() + self.cap
    }
    pub fn s_gy(&self) -> usize {
        self.s_gx() + self.cap
    }
    pub fn s_gks(&self) -> usize {
        self.s_gy() + self.cap
    }
    /// Field-solver denominators per site, oxygen then drug.
    pub fn s_den_o2(&self) -> usize {
        self.s_gks() + self.cap
    }
    pub fn s_den_drug(&self) -> usize {
        self.s_den_o2() + self.sites()
    }
    pub fn scratch_len(&self) -> usize {
        self.s_den_drug() + self.sites()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each region starts where the previous one ends, and they end at `len`.
    fn assert_tiles(regions: &[(usize, usize)], len: usize) {
        let mut at = 0;
        for &(off, n) in regions {
            assert_eq!(off, at);
            at += n;
        }
        assert_eq!(at, len);
    }

    #[test]
    fn regions_tile_the_state_and_scratch_without_overlap() {
        let l = Layout {
            nx: 5,
            ny: 3,
            cap: 7,
        };
        let state = [
            (l.o2(), 15),
            (l.drug(), 15),
            (l.h(0), HEADER),
            (l.x(), 7),
            (l.y(), 7),
            (l.kind(), 7),
            (l.state(), 7),
            (l.clock(), 7),
            (l.id(), 7),
        ];
        assert_tiles(&state, l.state_len());
        let scratch = [
            (l.s_start(), 16),
            (l.s_sorted(), 7),
            (l.s_x(), 7),
            (l.s_y(), 7),
            (l.s_fate(), 7),
            (l.s_state(), 7),
            (l.s_clock(), 7),
            (l.s_gx(), 7),
            (l.s_gy(), 7),
            (l.s_gks(), 7),
            (l.s_den_o2(), 15),
            (l.s_den_drug(), 15),
        ];
        assert_tiles(&scratch, l.scratch_len());
        let words: Vec<usize> = OBSERVABLES.iter().map(|o| o.1).collect();
        assert!(words.iter().all(|&w| w < HEADER && w != H_COUNT));
    }
}
