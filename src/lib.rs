//! vtwin: a GPU ensemble engine for virtual-tissue digital twins.
//!
//! The one path data takes: scene (`scene`) → plan (`plan`) → engine
//! (`engine`, `gpu`, `backend`) → observations (`observe`) → writers (`io`).
//! See ARCHITECTURE.md for the code map and the invariants.

#[macro_use]
mod message_error;

pub mod cli;
pub mod core;
pub mod drivers;
pub mod engine;
pub mod fixtures;
pub mod input;
pub mod methods;
pub mod output;
