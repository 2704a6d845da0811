//! A small typed columnar table: what every command hands to the writers
//! (`io::parquet`, `io::csv`). Columns are nullable; a null prints as an
//! empty CSV field and is a Parquet null.
//!
//! Owns: the in-memory shape of tabular output. Never touches files.

/// The values of one column. `None` is a null (a missing measurement, a
/// failure step that never happened).
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
    Str(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::F64(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::Str(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type's name as written in data dictionaries.
    pub fn type_name(&self) -> &'static str {
        match self {
            Values::F64(_) => "float64",
            Values::I64(_) => "int64",
            Values::Str(_) => "string",
            Values::Bool(_) => "bool",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: Values,
}

/// A named table. All columns have the same length (checked by `push_column`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

impl Table {
    pub fn new(name: impl Into<String>) -> Self {
        Table {
            name: name.into(),
            columns: Vec::new(),
        }
    }

    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    /// Adds a column; panics if its length differs from the others (a
    /// programming error, never a user error).
    pub fn push_column(&mut self, name: impl Into<String>, values: Values) -> &mut Self {
        let name = name.into();
        if let Some(first) = self.columns.first() {
            assert_eq!(
                first.values.len(),
                values.len(),
                "table `{}`: column `{name}` has {} rows, expected {}",
                self.name,
                values.len(),
                first.values.len()
            );
        }
        self.columns.push(Column { name, values });
        self
    }

    pub fn with_f64(mut self, name: &str, v: impl IntoIterator<Item = f64>) -> Self {
        self.push_column(name, Values::F64(v.into_iter().map(Some).collect()));
        self
    }

    pub fn with_i64(mut self, name: &str, v: impl IntoIterator<Item = i64>) -> Self {
        self.push_column(name, Values::I64(v.into_iter().map(Some).collect()));
        self
    }

    pub fn with_str(mut self, name: &str, v: impl IntoIterator<Item = String>) -> Self {
        self.push_column(name, Values::Str(v.into_iter().map(Some).collect()));
        self
    }

    pub fn with_bool(mut self, name: &str, v: impl IntoIterator<Item = bool>) -> Self {
        self.push_column(name, Values::Bool(v.into_iter().map(Some).collect()));
        self
    }

    pub fn column(&self, name: &str) -> Option<&Values> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.values)
    }

    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}
