//! End-to-end tests of `vtwin cohort`, `merge`, `select` and `compare` on
//! the real engine, with the tiny tumour scene `tests/data/tiny_cohort.toml`
//! (8 × 8 grid, 28 days, two arms).

mod common;
mod errors;
mod export;
mod files;
mod gpu;
mod python;
mod select_compare;
mod shards;
mod stats;
