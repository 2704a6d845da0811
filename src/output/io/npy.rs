//! NumPy `.npy` arrays of `f32` (fields, maps). Writes format version 1.0:
//! the magic `\x93NUMPY`, version bytes 1 0, a little-endian u16 header
//! length, then an ASCII Python dict literal padded with spaces and ended by
//! `\n` so that the data starts at a multiple of 64 bytes; the data is
//! little-endian `<f4` in C (row-major) order.
//!
//! Reads versions 1.0, 2.0 and 3.0 with `<f4`, `>f4`, `<f8` or `>f8` data
//! (f8 narrowed to f32, for user-provided maps) in C or Fortran order
//! (Fortran is reordered to C order).
//!
//! Owns: the byte layout of .npy files. Never decides what the arrays mean.

use super::IoError;
use std::fs;
use std::path::Path;

message_error!(
    /// A `.npy` array vtwin cannot write or read (the message names what).
    pub NpyError
);

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Data starts at a multiple of this many bytes (the spec's alignment).
const ALIGN: usize = 64;

/// Writes a C-order `<f4` array of the given shape. `data.len()` must equal
/// the product of `shape` (an empty shape is a 0-d array of one value).
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), IoError> {
    let bytes = encode_f32(shape, data).map_err(|m| IoError::invalid(path, m))?;
    fs::write(path, bytes).map_err(|e| IoError::io(path, e))
}

/// Reads an .npy array as (shape, C-order values).
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>), IoError> {
    let bytes = fs::read(path).map_err(|e| IoError::io(path, e))?;
    decode_f32(&bytes).map_err(|message| IoError::Npy {
        path: path.to_path_buf(),
        message: message.into(),
    })
}

/// The Python literal numpy uses for a shape: `()`, `(5,)`, `(2, 3)`.
fn shape_literal(shape: &[usize]) -> String {
    match shape {
        [] => "()".into(),
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|n| n.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// The whole file as bytes: header then data.
pub fn encode_f32(shape: &[usize], data: &[f32]) -> Result<Vec<u8>, NpyError> {
    let count = element_count(shape)?;
    if count != data.len() {
        return Err(format!(
            "shape {} holds {count} values but {} were given",
            shape_literal(shape),
            data.len()
        )
        .into());
    }
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}",
        shape_literal(shape)
    );
    // magic (6) + version (2) + length (2) + dict + padding + '\n'
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    let pad = (ALIGN - unpadded % ALIGN) % ALIGN;
    let header_len = u16::try_from(dict.len() + pad + 1)
        .map_err(|_| "shape too long for a version 1.0 header".to_string())?;
    let mut out = Vec::with_capacity(unpadded + pad + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + pad, b' ');
    out.push(b'\n');
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    Ok(out)
}

fn element_count(shape: &[usize]) -> Result<usize, NpyError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .ok_or_else(|| NpyError(format!("shape {} is too large", shape_literal(shape))))
}

/// Parses a whole .npy file held in memory.
pub fn decode_f32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), NpyError> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("missing the \\x93NUMPY magic at the start".into());
    }
    let (header_start, header_len) = match (bytes[6], bytes[7]) {
        (1, 0) => (10, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        (2 | 3, 0) if bytes.len() >= 12 => {
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (
                12,
                usize::try_from(n).map_err(|_| "header length too large".to_string())?,
            )
        }
        (major, minor) => return Err(format!("unsupported format version {major}.{minor}").into()),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or("file ends inside the header")?;
    let header = String::from_utf8_lossy(header);
    let descr = dict_value(&header, "descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = match dict_value(&header, "fortran_order")? {
        "True" => true,
        "False" => false,
        other => {
            return Err(format!("fortran_order is {other:?}, expected True or False").into());
        }
    };
    let shape = parse_shape(dict_value(&header, "shape")?)?;
    let count = element_count(&shape)?;
    let (size, little, wide) = match descr {
        "<f4" => (4, true, false),
        ">f4" => (4, false, false),
        "<f8" => (8, true, true),
        ">f8" => (8, false, true),
        other => {
            return Err(format!(
                "data type {other:?} is not supported (use float32 '<f4' or float64 '<f8')"
            )
            .into());
        }
    };
    let data = &bytes[data_start..];
    let expected = count.checked_mul(size).ok_or("shape is too large")?;
    if data.len() != expected {
        return Err(format!(
            "shape {} of {descr} needs {expected} data bytes, the file has {}",
            shape_literal(&shape),
            data.len()
        )
        .into());
    }
    let values: Vec<f32> = data
        .chunks_exact(size)
        .map(|c| match (wide, little) {
            (false, true) => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            (false, false) => f32::from_be_bytes([c[0], c[1], c[2], c[3]]),
            (true, l) => {
                let b = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
                let x = if l {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                x as f32
            }
        })
        .collect();
    let values = if fortran {
        fortran_to_c(&shape, &values)
    } else {
        values
    };
    Ok((shape, values))
}

/// The raw text of `key`'s value in the header's dict literal, up to the
/// next top-level comma or the closing brace.
fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let start = [format!("'{key}'"), format!("\"{key}\"")]
        .iter()
        .find_map(|k| header.find(k.as_str()).map(|i| i + k.len()))
        .ok_or_else(|| format!("header has no '{key}' entry: {}", header.trim()))?;
    let rest = header[start..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| format!("header entry '{key}' has no ':'"))?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find([',', '}'])
    }
    .ok_or_else(|| format!("header entry '{key}' is not terminated"))?;
    Ok(rest[..end].trim())
}

fn parse_shape(text: &str) -> Result<Vec<usize>, NpyError> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("shape {text:?} is not a tuple"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| NpyError(format!("shape {text:?} has a bad size {s:?}")))
        })
        .collect()
}

/// Reorders a column-major (Fortran) array to row-major (C) order.
fn fortran_to_c(shape: &[usize], values: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; shape.len()];
    for _ in 0..values.len() {
        // Fortran offset: the first axis varies fastest.
        let mut offset = 0;
        let mut stride = 1;
        for (i, n) in index.iter().zip(shape) {
            offset += i * stride;
            stride *= n;
        }
        out.push(values[offset]);
        // Advance the C-order multi-index: the last axis varies fastest.
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_for_a_2_by_3_array() {
        let bytes = encode_f32(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        // 10 prefix bytes + 59-char dict + 1 newline = 70 -> padded to 128,
        // so the header (dict + 58 spaces + '\n') is 118 = 0x76 bytes.
        assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00");
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        assert_eq!(dict.len(), 59);
        let expected = format!("{dict}{}\n", " ".repeat(58));
        assert_eq!(&bytes[10..128], expected.as_bytes());
        assert_eq!(bytes.len(), 128 + 6 * 4);
        assert_eq!(&bytes[128 + 4..128 + 8], &1.0f32.to_le_bytes());
    }

    #[test]
    fn data_is_aligned_for_many_shapes() {
        for shape in [
            vec![],
            vec![7],
            vec![1, 1],
            vec![3, 4, 5],
            vec![100_000, 2],
            vec![1; 12],
        ] {
            let n = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let bytes = encode_f32(&shape, &data).unwrap();
            let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
            assert_eq!((10 + header_len) % ALIGN, 0, "{shape:?}");
            assert_eq!(bytes[10 + header_len - 1], b'\n');
            assert_eq!(decode_f32(&bytes).unwrap(), (shape, data));
        }
    }

    #[test]
    fn shape_literals_match_python() {
        assert_eq!(shape_literal(&[]), "()");
        assert_eq!(shape_literal(&[5]), "(5,)");
        assert_eq!(shape_literal(&[2, 3, 4]), "(2, 3, 4)");
    }

    #[test]
    fn reads_f8_and_fortran_order() {
        // numpy's own header for np.asfortranarray([[1,2,3],[4,5,6]], '<f8'),
        // without its in-place growth padding.
        let dict = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let header = format!("{dict}{}\n", " ".repeat(128 - 10 - dict.len() - 1));
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for x in [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0] {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let (shape, data) = decode_f32(&bytes).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let good = encode_f32(&[4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let err = decode_f32(&good[..good.len() - 2]).unwrap_err();
        assert!(
            err.contains("needs 16 data bytes, the file has 14"),
            "{err}"
        );
        let err = decode_f32(b"PK\x03\x04 not numpy").unwrap_err();
        assert!(err.contains("magic"), "{err}");
        let mut int = good.clone();
        let at = int.windows(3).position(|w| w == b"<f4").unwrap();
        int[at + 2] = b'4';
        int[at + 1] = b'i';
        let err = decode_f32(&int).unwrap_err();
        assert!(err.contains("\"<i4\" is not supported"), "{err}");
        assert!(
            encode_f32(&[2, 2], &[1.0])
                .unwrap_err()
                .contains("holds 4 values but 1")
        );
    }
}
