//! Maps between byte offsets, line/column pairs and dotted key paths in a
//! TOML source, so that every scene error can point at the file position of
//! the key it is about.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// 1-based line and column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

/// The line and column of a dotted key path such as `grid.nx` or
/// `arms.1.rt.dose` (array elements by 0-based index).
pub fn locate_key(source: &str, path: &str) -> Option<(usize, usize)> {
    let root = DeTable::parse(source).ok()?;
    let mut table: &DeTable = root.get_ref();
    let parts: Vec<&str> = path.split('.').collect();
    let mut best: Option<usize> = None;
    let mut i = 0;
    while i < parts.len() {
        let (k, v) = table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == parts[i])?;
        best = Some(k.span().start);
        i += 1;
        let mut value: &Spanned<DeValue> = v;
        // Descend through array indices.
        while let DeValue::Array(a) = value.get_ref() {
            let Some(idx) = parts.get(i).and_then(|p| p.parse::<usize>().ok()) else {
                break;
            };
            let Some(elem) = a.get(idx) else { break };
            best = Some(elem.span().start);
            value = elem;
            i += 1;
        }
        match value.get_ref() {
            DeValue::Table(t) if i < parts.len() => table = t,
            _ => break,
        }
    }
    best.map(|o| line_col(source, o))
}

/// The dotted key path whose value or key contains `offset` (the deepest
/// one), for errors reported by the TOML deserializer with only a span.
pub fn key_at(source: &str, offset: Option<usize>) -> Option<String> {
    let offset = offset?;
    let root = DeTable::parse(source).ok()?;
    let mut path = Vec::new();
    walk(root.get_ref(), offset, &mut path).then(|| path.join("."))
}

fn walk(table: &DeTable, offset: usize, path: &mut Vec<String>) -> bool {
    for (k, v) in table.iter() {
        path.push(k.get_ref().to_string());
        if descend(v, offset, path) {
            return true;
        }
        let (ks, vs) = (k.span(), v.span());
        if (ks.start <= offset && offset < ks.end) || (vs.start <= offset && offset < vs.end) {
            return true;
        }
        path.pop();
    }
    false
}

/// True when a key below `v` contains `offset` (its path is pushed). The
/// span of a `[table]` header's value does not cover the table's body, so
/// every child is searched.
fn descend(v: &Spanned<DeValue>, offset: usize, path: &mut Vec<String>) -> bool {
    match v.get_ref() {
        DeValue::Table(t) => walk(t, offset, path),
        DeValue::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                path.push(i.to_string());
                if descend(e, offset, path) {
                    return true;
                }
                let s = e.span();
                if s.start <= offset && offset < s.end {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "[grid]\nnx = 64\nny = 32\n\n[[arms]]\nname = \"a\"\n\n[[arms]]\nname = \"b\"\nrt = { dose = 2.0 }\n";

    #[test]
    fn finds_nested_keys_and_array_elements() {
        assert_eq!(locate_key(SRC, "grid.ny"), Some((3, 1)));
        assert_eq!(locate_key(SRC, "arms.1.name"), Some((9, 1)));
        assert_eq!(locate_key(SRC, "arms.1.rt.dose"), Some((10, 8)));
        assert_eq!(locate_key(SRC, "nope"), None);
    }

    #[test]
    fn finds_the_key_at_an_offset() {
        let off = SRC.find("32").unwrap();
        assert_eq!(key_at(SRC, Some(off)).as_deref(), Some("grid.ny"));
    }
}
