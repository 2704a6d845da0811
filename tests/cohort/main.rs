//! Integration tests of the cohort module with an analytic toy model
//! (exponential tumour burden), standing in for the simulation engine.

mod export;
mod files;
mod observation;
mod pipeline;
mod spec_errors;
mod toy;
