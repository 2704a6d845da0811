//! A small typed columnar table: what every command hands to the writers
//! (`io::parquet`, `io::csv`). Columns are nullable; a null prints as an
//! empty CSV field and is a Parquet null.
//!
//! Owns: the in-memory shape of tabular output. Never touches files.

message_error!(
    /// Tables that cannot be stacked into one.
    pub TableError
);

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

    /// Stacks tables of the same columns (names and types, in order) one
    /// under the other, with a first string column `key` holding each
    /// part's label (`run --arm all`: one part per arm). Errors name the
    /// first column that does not match.
    pub fn stack(name: &str, key: &str, parts: Vec<(String, Table)>) -> Result<Table, TableError> {
        let mut out = Table::new(name);
        let Some((_, first)) = parts.first() else {
            return Ok(out);
        };
        let labels: Vec<Option<String>> = parts
            .iter()
            .flat_map(|(label, t)| std::iter::repeat_n(Some(label.clone()), t.rows()))
            .collect();
        let mut columns: Vec<Column> = first
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                values: match c.values {
                    Values::F64(_) => Values::F64(vec![]),
                    Values::I64(_) => Values::I64(vec![]),
                    Values::Str(_) => Values::Str(vec![]),
                    Values::Bool(_) => Values::Bool(vec![]),
                },
            })
            .collect();
        for (label, t) in &parts {
            if t.columns.len() != columns.len() {
                return Err(format!(
                    "table `{}` of `{label}` has {} columns, expected {}",
                    t.name,
                    t.columns.len(),
                    columns.len()
                )
                .into());
            }
            for (to, from) in columns.iter_mut().zip(&t.columns) {
                let ok = to.name == from.name
                    && match (&mut to.values, &from.values) {
                        (Values::F64(a), Values::F64(b)) => {
                            a.extend_from_slice(b);
                            true
                        }
                        (Values::I64(a), Values::I64(b)) => {
                            a.extend_from_slice(b);
                            true
                        }
                        (Values::Str(a), Values::Str(b)) => {
                            a.extend_from_slice(b);
                            true
                        }
                        (Values::Bool(a), Values::Bool(b)) => {
                            a.extend_from_slice(b);
                            true
                        }
                        _ => false,
                    };
                if !ok {
                    return Err(format!(
                        "table `{}` of `{label}`: column `{}` does not match `{}`",
                        t.name, from.name, to.name
                    )
                    .into());
                }
            }
        }
        out.push_column(key, Values::Str(labels));
        for c in columns {
            out.push_column(c.name, c.values);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_prefixes_a_key_column() {
        let a = Table::new("obs")
            .with_i64("member", [0, 1])
            .with_f64("value", [1.0, 2.0]);
        let b = Table::new("obs")
            .with_i64("member", [0])
            .with_f64("value", [3.0]);
        let t = Table::stack(
            "obs",
            "arm",
            vec![("rt".into(), a.clone()), ("control".into(), b)],
        )
        .unwrap();
        assert_eq!(t.column_names(), ["arm", "member", "value"]);
        assert_eq!(
            t.column("arm"),
            Some(&Values::Str(
                ["rt", "rt", "control"]
                    .map(|s| Some(s.to_string()))
                    .to_vec()
            ))
        );
        assert_eq!(
            t.column("value"),
            Some(&Values::F64(vec![Some(1.0), Some(2.0), Some(3.0)]))
        );
        let bad = Table::new("obs")
            .with_i64("member", [0])
            .with_i64("value", [3]);
        let err =
            Table::stack("obs", "arm", vec![("rt".into(), a), ("x".into(), bad)]).unwrap_err();
        assert!(err.contains("`value`"), "{err}");
    }
}
