//! Pictures of 2-D fields: a viridis-like colormap, a montage that tiles
//! several fields into one RGBA image, and an RGBA PNG writer.
//!
//! Owns: turning `f32` fields into pixels and pixels into PNG files. Never
//! decides which fields are shown.

use super::IoError;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Anchors of the colormap at t = 0, 1/8, …, 1 (sRGB). The end points are
/// viridis's published #440154 and #FDE725; the inner ones sample viridis at
/// the same steps, so lightness rises monotonically from dark purple through
/// blue and green to yellow.
const ANCHORS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [72, 40, 120],
    [62, 73, 137],
    [49, 104, 142],
    [38, 130, 142],
    [31, 158, 137],
    [53, 183, 121],
    [110, 206, 88],
    [253, 231, 37],
];

/// Colour of a missing value (NaN).
pub const NAN_COLOUR: [u8; 3] = [255, 0, 255];
/// Colour of the separators between montage tiles and of empty tiles.
pub const SEPARATOR_COLOUR: [u8; 3] = [24, 24, 24];

/// Maps `t` in [0, 1] (clamped) to a colour by linear interpolation between
/// the anchors; NaN gives [`NAN_COLOUR`].
pub fn colormap(t: f32) -> [u8; 3] {
    if t.is_nan() {
        return NAN_COLOUR;
    }
    ramp(t).map(|c| c.round() as u8)
}

/// The unrounded colour (sRGB, 0..=255 per channel) at `t` (clamped).
fn ramp(t: f32) -> [f32; 3] {
    let x = t.clamp(0.0, 1.0) * (ANCHORS.len() - 1) as f32;
    let i = (x.floor() as usize).min(ANCHORS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    std::array::from_fn(|c| f32::from(a[c]) + f * (f32::from(b[c]) - f32::from(a[c])))
}

/// Tiles `fields` (each `nx × ny`, row-major with y outer, row y = 0 at the
/// top of its tile) into `cols` columns of tiles, left to right then top to
/// bottom, with a 1-pixel [`SEPARATOR_COLOUR`] line between tiles. Each
/// field is normalised to its own finite min..max (a constant field is the
/// middle colour, NaN is [`NAN_COLOUR`], ±inf take the end colours) and
/// every cell becomes a `scale × scale` block. Returns (width, height, RGBA
/// bytes); no fields give an empty image.
///
/// Panics if a field does not have `nx * ny` values: the caller's shapes are
/// fixed by the engine, never by user input.
pub fn field_montage(
    fields: &[&[f32]],
    nx: usize,
    ny: usize,
    cols: usize,
    scale: usize,
) -> (u32, u32, Vec<u8>) {
    field_montage_with(fields, nx, ny, cols, scale, colormap)
}

/// [`field_montage`] with another colour ramp: `colour(t)` for `t` in
/// [0, 1] (NaN cells are still [`NAN_COLOUR`]).
pub fn field_montage_with(
    fields: &[&[f32]],
    nx: usize,
    ny: usize,
    cols: usize,
    scale: usize,
    colour: fn(f32) -> [u8; 3],
) -> (u32, u32, Vec<u8>) {
    if fields.is_empty() || nx == 0 || ny == 0 {
        return (0, 0, Vec::new());
    }
    let scale = scale.max(1);
    let cols = cols.clamp(1, fields.len());
    let rows = fields.len().div_ceil(cols);
    let (tile_w, tile_h) = (nx * scale, ny * scale);
    let width = cols * tile_w + cols - 1;
    let height = rows * tile_h + rows - 1;
    let mut rgba = Vec::with_capacity(width * height * 4);
    for _ in 0..width * height {
        rgba.extend_from_slice(&[
            SEPARATOR_COLOUR[0],
            SEPARATOR_COLOUR[1],
            SEPARATOR_COLOUR[2],
            255,
        ]);
    }
    for (k, field) in fields.iter().enumerate() {
        assert_eq!(
            field.len(),
            nx * ny,
            "montage field {k} has {} values, expected {nx}×{ny}",
            field.len()
        );
        let colours = field_colours(field, colour);
        let (x0, y0) = tile_origin(k, cols, tile_w, tile_h);
        for py in 0..tile_h {
            let row = &colours[(py / scale) * nx..(py / scale + 1) * nx];
            let start = ((y0 + py) * width + x0) * 4;
            for (px, pixel) in rgba[start..start + tile_w * 4]
                .chunks_exact_mut(4)
                .enumerate()
            {
                let c = row[px / scale];
                pixel.copy_from_slice(&[c[0], c[1], c[2], 255]);
            }
        }
    }
    (width as u32, height as u32, rgba)
}

/// Top-left pixel of tile `k` in a montage of `cols` columns of
/// `tile_w × tile_h` tiles separated by 1-pixel lines.
pub fn tile_origin(k: usize, cols: usize, tile_w: usize, tile_h: usize) -> (usize, usize) {
    let cols = cols.max(1);
    ((k % cols) * (tile_w + 1), (k / cols) * (tile_h + 1))
}

/// One colour per cell, normalised to the field's finite range.
fn field_colours(field: &[f32], colour: fn(f32) -> [u8; 3]) -> Vec<[u8; 3]> {
    let (lo, hi) = finite_range(field.iter().copied());
    field
        .iter()
        .map(|&v| colour_in(v, lo, hi, colour))
        .collect()
}

/// The finite minimum and maximum of `values`; (+inf, -inf) when none is
/// finite.
pub fn finite_range(values: impl Iterator<Item = f32>) -> (f32, f32) {
    values
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// The colour of `v` on the scale `lo..hi`: `colour((v - lo) / (hi - lo))`
/// clamped to [0, 1]; NaN is [`NAN_COLOUR`], ±inf take the end colours and
/// a scale of zero (or no finite) width gives the middle colour.
pub fn colour_in(v: f32, lo: f32, hi: f32, colour: fn(f32) -> [u8; 3]) -> [u8; 3] {
    let span = hi - lo;
    if v.is_nan() {
        NAN_COLOUR
    } else if span > 0.0 && span.is_finite() {
        colour(((v - lo) / span).clamp(0.0, 1.0))
    } else if v.is_infinite() {
        colour(if v > 0.0 { 1.0 } else { 0.0 })
    } else {
        colour(0.5)
    }
}

/// Writes an 8-bit RGBA image (`width × height × 4` bytes, rows top to
/// bottom) as a PNG file.
pub fn write_png_rgba(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<(), IoError> {
    let expected = width as usize * height as usize * 4;
    if rgba.len() != expected {
        return Err(IoError::invalid(
            path,
            format!(
                "a {width}×{height} RGBA image needs {expected} bytes, got {}",
                rgba.len()
            ),
        ));
    }
    let err = |source| IoError::Png {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(|e| IoError::io(path, e))?;
    let mut encoder = ::png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(::png::ColorType::Rgba);
    encoder.set_depth(::png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(rgba).map_err(err)?;
    writer.finish().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative luminance of an sRGB colour given on 0..=255 (IEC 61966-2-1
    /// transfer curve, Rec. 709 weights).
    fn luminance(c: [f32; 3]) -> f64 {
        let lin = |v: f32| {
            let s = f64::from(v) / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    }

    #[test]
    fn colormap_ends_are_viridis_and_lightness_rises() {
        assert_eq!(colormap(0.0), [0x44, 0x01, 0x54]);
        assert_eq!(colormap(1.0), [0xFD, 0xE7, 0x25]);
        assert_eq!(colormap(-3.0), colormap(0.0));
        assert_eq!(colormap(7.0), colormap(1.0));
        assert_eq!(colormap(f32::NAN), NAN_COLOUR);
        // The ramp's luminance rises strictly (8-bit rounding of the output
        // may add dips of one step where channels move in opposite ways).
        let ts: Vec<f32> = (0..=1024).map(|i| i as f32 / 1024.0).collect();
        for w in ts.windows(2) {
            let (y0, y1) = (luminance(ramp(w[0])), luminance(ramp(w[1])));
            assert!(y1 > y0, "luminance falls between t = {} and {}", w[0], w[1]);
            assert_eq!(colormap(w[1]), ramp(w[1]).map(|c| c.round() as u8));
        }
        let (dark, light) = (luminance(ramp(0.0)), luminance(ramp(1.0)));
        assert!(light > 20.0 * dark, "{dark} {light}");
    }

    #[test]
    fn montage_layout_scaling_and_special_values() {
        let ramp: Vec<f32> = (0..6).map(|i| i as f32).collect(); // 3 × 2
        let flat = [2.5f32; 6];
        let holes = [0.0, f32::NAN, 1.0, 1.0, 1.0, 1.0];
        let (w, h, px) = field_montage(&[&ramp, &flat, &holes], 3, 2, 2, 2);
        // Two tiles of 6 px across plus one separator; two rows of 4 px plus one.
        assert_eq!((w, h), (13, 9));
        assert_eq!(px.len(), 13 * 9 * 4);
        let at =
            |x: usize, y: usize| -> [u8; 4] { px[(y * 13 + x) * 4..][..4].try_into().unwrap() };
        let rgb = |c: [u8; 3]| [c[0], c[1], c[2], 255];
        // Ramp tile: cell (0, 0) is the minimum, cell (2, 1) the maximum, 2×2 blocks.
        for (x, y) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            assert_eq!(at(x, y), rgb(colormap(0.0)));
        }
        assert_eq!(at(5, 3), rgb(colormap(1.0)));
        assert_eq!(at(2, 0), rgb(colormap(0.2)));
        // Separator column, constant tile, separator row, NaN, empty slot.
        assert_eq!(at(6, 0), rgb(SEPARATOR_COLOUR));
        assert_eq!(at(7, 0), rgb(colormap(0.5)));
        assert_eq!(at(0, 4), rgb(SEPARATOR_COLOUR));
        assert_eq!(at(2, 5), rgb(NAN_COLOUR));
        assert_eq!(at(0, 5), rgb(colormap(0.0)));
        assert_eq!(at(12, 8), rgb(SEPARATOR_COLOUR));
    }

    #[test]
    fn no_fields_no_pixels() {
        assert_eq!(field_montage(&[], 4, 4, 3, 1), (0, 0, Vec::new()));
    }
}
