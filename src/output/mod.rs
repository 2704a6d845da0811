//! Output wing: the file formats and folders vtwin reads and writes, at the
//! bottom of the crate.
//!
//! CSV, Parquet, NPY and PNG codecs, montages, atomic writes, run folders
//! with their atomic finish, signal clean-up, output targets and stale
//! temporary folders (`io`); the typed columnar `Table` every result is
//! handed to the writers in (`table`); the per-call stop flag that halts
//! long work and withholds an unfinished folder (`interrupt`). File formats
//! that belong to one method (the posterior folder, the cohort folder and
//! its RO-Crate) live with that method in `methods`.
//!
//! Architecture invariant: imports no other wing. It knows no scene, model,
//! engine or method: everything above hands it tables, arrays and bytes.

pub mod interrupt;
pub mod io;
pub mod table;
