//! Pictures of members: the annotated montage of `montage.png` (a panel
//! per member, each labelled with its member id and arm, on one colour
//! scale by default, with a colour bar naming the field, its unit and the
//! scale's ends), and the agent panels of agent-based members, each the
//! member's first field (oxygen for `tumour_abm`) in a muted grey ramp with
//! every agent drawn on top as a filled disc of its radius, coloured by
//! what it is (type and state, see [`agent_colour`] for the legend).
//!
//! Text is drawn with the 8 × 8 bitmap glyphs of the `font8x8` crate, so
//! the pixels are the same on every machine, with or without system fonts.
//!
//! Owns: drawing discs, text and colour bars into RGBA buffers and laying
//! out panels. Never decides which members, fields or agents are shown,
//! and sees no model: agents arrive as [`Disc`]s in site units, their
//! colour already chosen.

use super::png::{SEPARATOR_COLOUR, colour_in, field_montage_with, finite_range, tile_origin};

/// Background ramp of agent panels, dark grey (lowest value of the panel's
/// field) to light grey (highest). Grey rather than the viridis colormap of
/// `field_montage` because viridis's purples, greens and yellows would
/// compete with the agent colours; a hue-free ramp keeps every disc colour
/// distinct from the background while the oxygen gradient stays readable.
/// Its ends (96 and 224) keep clear of both the near-black necrotic colour
/// and the yellow apoptotic one.
pub fn grey(t: f32) -> [u8; 3] {
    let v = (96.0 + 128.0 * t.clamp(0.0, 1.0)).round() as u8;
    [v, v, v]
}

/// Live tumour cells: vermillion (Okabe–Ito #D55E00).
pub const LIVE_TUMOUR: [u8; 3] = [213, 94, 0];
/// Live immune cells: blue (Okabe–Ito #0072B2).
pub const LIVE_IMMUNE: [u8; 3] = [0, 114, 178];
/// Apoptotic cells of any type: yellow (Okabe–Ito #F0E442).
pub const APOPTOTIC: [u8; 3] = [240, 228, 66];
/// Necrotic cells of any type: near-black.
pub const NECROTIC: [u8; 3] = [28, 28, 28];
/// An agent whose type or state has no entry in the legend: magenta.
pub const UNKNOWN: [u8; 3] = [255, 0, 255];

/// The legend of agent panels, by the names of `model::AGENT_TYPES` and
/// `model::AGENT_STATES`: live tumour vermillion, live immune blue,
/// apoptotic (any type) yellow, necrotic (any type) near-black, anything
/// else magenta. Returns the colour and a drawing layer (lower layers are
/// drawn first, so the few immune cells stay visible on top of the
/// tumour).
pub fn agent_colour(kind: &str, state: &str) -> ([u8; 3], u8) {
    match (kind, state) {
        (_, "necrotic") => (NECROTIC, 0),
        (_, "apoptotic") => (APOPTOTIC, 1),
        ("tumour", "live") => (LIVE_TUMOUR, 2),
        ("immune", "live") => (LIVE_IMMUNE, 3),
        _ => (UNKNOWN, 4),
    }
}

/// Discs of at least this radius (pixels) get a rim.
pub const RIM_FROM: f32 = 3.0;

/// The rim colour of a disc: its colour at 60 % intensity.
pub fn rim(c: [u8; 3]) -> [u8; 3] {
    c.map(|v| (u16::from(v) * 3 / 5) as u8)
}

/// An agent to draw: centre and radius in site units (a length divided by
/// the grid's site size, x to the right, y downwards like the field's
/// rows), and its colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Disc {
    pub x: f32,
    pub y: f32,
    pub r: f32,
    pub colour: [u8; 3],
}

/// A pixel rectangle of an image: left, top, width, height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

/// Fills every pixel of `clip` whose centre lies within `r` pixels of
/// (`cx`, `cy`) (pixel coordinates relative to `clip`'s corner, pixel
/// (i, j) centred at (i + ½, j + ½)) with `colour`, opaque. `rgba` is a
/// `width`-pixel-wide RGBA image; `clip` must lie inside it. A disc
/// partly outside `clip` is cut at its edge; a non-finite centre or
/// radius draws nothing.
pub fn fill_disc(
    rgba: &mut [u8],
    width: usize,
    clip: Rect,
    cx: f32,
    cy: f32,
    r: f32,
    colour: [u8; 3],
) {
    if !(cx.is_finite() && cy.is_finite() && r.is_finite()) || r <= 0.0 {
        return;
    }
    let span = |c: f32, n: usize| {
        let lo = (c - r - 0.5).floor().max(0.0) as usize;
        let hi = ((c + r - 0.5).ceil().max(-1.0) + 1.0).min(n as f32) as usize;
        lo..hi
    };
    let r2 = r * r;
    for j in span(cy, clip.h) {
        let dy = j as f32 + 0.5 - cy;
        for i in span(cx, clip.w) {
            let dx = i as f32 + 0.5 - cx;
            if dx * dx + dy * dy <= r2 {
                let at = ((clip.y + j) * width + clip.x + i) * 4;
                rgba[at..at + 4].copy_from_slice(&[colour[0], colour[1], colour[2], 255]);
            }
        }
    }
}

/// Tiles panels like `field_montage` (`cols` columns, 1-pixel separators,
/// every site a `scale × scale` block, row y = 0 at the top): panel k shows
/// `fields[k]` (`nx × ny` values) in the [`grey`] ramp, normalised to its
/// own range, and then `discs[k]` in order, each scaled by `scale` and
/// clipped to its panel; a disc of [`RIM_FROM`] pixels or more is drawn
/// with a 1-pixel [`rim`] so that touching cells stay apart. Returns (width, height, RGBA bytes).
///
/// Panics if `fields` and `discs` differ in length or a field does not have
/// `nx * ny` values (shapes fixed by the engine, never by user input).
pub fn agent_montage(
    fields: &[&[f32]],
    discs: &[Vec<Disc>],
    nx: usize,
    ny: usize,
    cols: usize,
    scale: usize,
) -> (u32, u32, Vec<u8>) {
    assert_eq!(fields.len(), discs.len(), "one list of discs per panel");
    let (w, h, mut rgba) = field_montage_with(fields, nx, ny, cols, scale, grey);
    if w == 0 {
        return (w, h, rgba);
    }
    // The same tiling as field_montage_with.
    let scale = scale.max(1);
    let cols = cols.clamp(1, fields.len());
    let (tile_w, tile_h) = (nx * scale, ny * scale);
    let s = scale as f32;
    for (k, panel) in discs.iter().enumerate() {
        let (x, y) = tile_origin(k, cols, tile_w, tile_h);
        let clip = Rect {
            x,
            y,
            w: tile_w,
            h: tile_h,
        };
        for d in panel {
            fill_disc(
                &mut rgba,
                w as usize,
                clip,
                d.x * s,
                d.y * s,
                d.r * s,
                d.colour,
            );
        }
    }
    (w, h, rgba)
}

/// Colour of text on montages, light grey on the dark background.
pub const TEXT_COLOUR: [u8; 3] = [235, 235, 235];

/// The 8 × 8 glyph of `c` (row by row, bit 0 the leftmost pixel): basic
/// Latin, Latin-1 (², µ, ·, ×) and Greek (α, β, κ) from `font8x8`; a dash
/// or minus sign is drawn as `-`, anything else as `?`.
fn glyph(c: char) -> [u8; 8] {
    use font8x8::legacy::{BASIC_LEGACY, GREEK_LEGACY, LATIN_LEGACY};
    let u = c as u32;
    match u {
        0x20..=0x7E => BASIC_LEGACY[u as usize],
        0xA0..=0xFF => LATIN_LEGACY[(u - 0xA0) as usize],
        0x390..=0x3C9 => GREEK_LEGACY[(u - 0x390) as usize],
        0x2010..=0x2015 | 0x2212 => BASIC_LEGACY[b'-' as usize],
        _ => BASIC_LEGACY[b'?' as usize],
    }
}

/// Width in pixels of `text` drawn with glyph pixels of `size`.
pub fn text_width(text: &str, size: usize) -> usize {
    text.chars().count() * 8 * size
}

/// Draws `text` in `colour` with its top-left corner at (`x`, `y`), every
/// glyph pixel a `size × size` block, clipped to `clip`. `rgba` is a
/// `width`-pixel-wide RGBA image; `clip` must lie inside it.
#[allow(clippy::too_many_arguments)]
pub fn draw_text(
    rgba: &mut [u8],
    width: usize,
    clip: Rect,
    x: usize,
    y: usize,
    text: &str,
    size: usize,
    colour: [u8; 3],
) {
    let inside = |px: usize, py: usize| {
        (clip.x..clip.x + clip.w).contains(&px) && (clip.y..clip.y + clip.h).contains(&py)
    };
    for (k, ch) in text.chars().enumerate() {
        let x0 = x + k * 8 * size;
        for (row, bits) in glyph(ch).iter().enumerate() {
            for col in 0..8 {
                if (bits >> col) & 1 == 0 {
                    continue;
                }
                for dy in 0..size {
                    for dx in 0..size {
                        let (px, py) = (x0 + col * size + dx, y + row * size + dy);
                        if inside(px, py) {
                            let at = (py * width + px) * 4;
                            rgba[at..at + 4]
                                .copy_from_slice(&[colour[0], colour[1], colour[2], 255]);
                        }
                    }
                }
            }
        }
    }
}

/// A value at an end of a colour scale as text: four significant digits,
/// `e` notation below 10⁻³ and from 10⁵ on.
pub fn format_value(v: f32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.3e}")
    }
}

/// One panel of [`annotated_montage`].
#[derive(Clone, Debug)]
pub struct Panel<'a> {
    /// `nx × ny` values, row y = 0 at the top.
    pub field: &'a [f32],
    /// Shown above the panel: the member id and arm.
    pub label: String,
    /// Agents drawn over the field, in drawing order (none for grid models).
    pub discs: &'a [Disc],
}

/// How [`annotated_montage`] draws its panels.
#[derive(Clone, Debug)]
pub struct MontageStyle<'a> {
    pub nx: usize,
    pub ny: usize,
    /// Panels per row.
    pub cols: usize,
    /// Pixels per site (each site a `scale × scale` block).
    pub scale: usize,
    /// One colour scale for every panel (the finite range of all of them),
    /// or each panel on its own finite range (printed under its label).
    pub shared: bool,
    /// The colour ramp, `t` in [0, 1].
    pub ramp: fn(f32) -> [u8; 3],
    /// The line above the panels.
    pub title: &'a str,
    /// Above the colour bar: the field's name and unit.
    pub bar_label: &'a str,
    /// Colour swatches listed under the colour bar (the agent legend).
    pub legend: &'a [([u8; 3], &'a str)],
}

/// Where the parts of an annotated montage lie (pixels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MontageLayout {
    pub width: usize,
    pub height: usize,
    pub cols: usize,
    pub tile_w: usize,
    pub tile_h: usize,
    /// Pixel size of one glyph pixel (1 or 2).
    pub text: usize,
    /// Height of the label strip above each panel.
    pub label_h: usize,
    /// Space between panels.
    pub gap: usize,
    /// Top of the first row of label strips.
    pub top: usize,
    /// Left edge of the first column of panels.
    pub left: usize,
    /// The colour bar, highest value at the top.
    pub bar: Rect,
}

impl MontageLayout {
    /// The pixel rectangle of panel `k` (its field, below its label).
    pub fn panel(&self, k: usize) -> Rect {
        let (c, r) = (k % self.cols, k / self.cols);
        Rect {
            x: self.left + c * (self.tile_w + self.gap),
            y: self.top + r * (self.label_h + self.tile_h + self.gap) + self.label_h,
            w: self.tile_w,
            h: self.tile_h,
        }
    }
}

/// Lays out `panels` labelled panels (see [`annotated_montage`]). Where the
/// panels lie depends only on their number and `style`'s grid, scale and
/// colour-scale choice; the title, bar label and legend only widen the
/// picture.
pub fn montage_layout(panels: &[Panel], style: &MontageStyle) -> MontageLayout {
    let scale = style.scale.max(1);
    let (tile_w, tile_h) = (style.nx * scale, style.ny * scale);
    let cols = style.cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    // Glyphs twice as large on panels wide enough for 24 of them.
    let text = if tile_w >= 384 { 2 } else { 1 };
    let line = 10 * text;
    let lines = if style.shared { 1 } else { 2 };
    let label_h = lines * line + 2 * text;
    let gap = 4 * text;
    let left = gap;
    let top = line + 4 * text;
    let grid_w = cols * tile_w + (cols - 1) * gap;
    let grid_h = rows * (label_h + tile_h) + (rows - 1) * gap;
    let bar_x = left + grid_w + 3 * gap;
    let bar = Rect {
        x: bar_x,
        y: top + label_h,
        w: 12 * text,
        h: (grid_h - label_h).max(48 * text),
    };
    let values = if style.shared { 10 } else { 9 }; // "-1.234e-4" / "panel max"
    let column = (bar.w + 2 * text + values * 8 * text)
        .max(text_width(style.bar_label, text))
        .max(
            style
                .legend
                .iter()
                .map(|(_, name)| 10 * text + text_width(name, text))
                .max()
                .unwrap_or(0),
        );
    let legend_bottom = bar.y + bar.h + 2 * text + style.legend.len() * line;
    let width = (bar_x + column + gap).max(2 * left + text_width(style.title, text));
    let height = (top + grid_h).max(legend_bottom) + gap;
    MontageLayout {
        width,
        height,
        cols,
        tile_w,
        tile_h,
        text,
        label_h,
        gap,
        top,
        left,
        bar,
    }
}

/// The montage of `montage.png`: a title line, then `panels` in
/// `style.cols` columns, each under a label strip with its `label`, and to
/// their right a colour bar from the scale's highest value (top) to its
/// lowest, labelled with `style.bar_label` above and the values at its top,
/// middle and bottom (or "panel max"/"panel min" when every panel has its
/// own scale, whose ends are then printed under each panel's label), then
/// the `legend` swatches. Values map to colours as in `field_montage`
/// (NaN magenta, ±inf the ends, a scale of zero width the middle colour);
/// discs are drawn over their panel like [`agent_montage`]. Pure integer
/// work after the colour mapping: the same input gives the same bytes.
///
/// Returns the layout and the RGBA bytes (`layout.width × layout.height`).
/// Panics if a panel's field does not have `nx * ny` values (shapes fixed by
/// the engine, never by user input).
pub fn annotated_montage(panels: &[Panel], style: &MontageStyle) -> (MontageLayout, Vec<u8>) {
    let lay = montage_layout(panels, style);
    let (width, t) = (lay.width, lay.text);
    let mut rgba = Vec::with_capacity(width * lay.height * 4);
    for _ in 0..width * lay.height {
        rgba.extend_from_slice(&[
            SEPARATOR_COLOUR[0],
            SEPARATOR_COLOUR[1],
            SEPARATOR_COLOUR[2],
            255,
        ]);
    }
    let all = Rect {
        x: 0,
        y: 0,
        w: width,
        h: lay.height,
    };
    draw_text(
        &mut rgba,
        width,
        all,
        lay.left,
        2 * t,
        style.title,
        t,
        TEXT_COLOUR,
    );
    let shared = finite_range(panels.iter().flat_map(|p| p.field.iter().copied()));
    let s = style.scale.max(1) as f32;
    for (k, p) in panels.iter().enumerate() {
        assert_eq!(
            p.field.len(),
            style.nx * style.ny,
            "montage panel {k} has {} values, expected {}×{}",
            p.field.len(),
            style.nx,
            style.ny
        );
        let (lo, hi) = if style.shared {
            shared
        } else {
            finite_range(p.field.iter().copied())
        };
        let r = lay.panel(k);
        let strip = Rect {
            x: r.x,
            y: r.y - lay.label_h,
            w: r.w,
            h: lay.label_h,
        };
        draw_text(
            &mut rgba,
            width,
            strip,
            r.x,
            strip.y + t,
            &p.label,
            t,
            TEXT_COLOUR,
        );
        if !style.shared {
            let range = if lo <= hi {
                format!("{}..{}", format_value(lo), format_value(hi))
            } else {
                "no finite value".into()
            };
            draw_text(
                &mut rgba,
                width,
                strip,
                r.x,
                strip.y + 11 * t,
                &range,
                t,
                TEXT_COLOUR,
            );
        }
        let colours: Vec<[u8; 3]> = p
            .field
            .iter()
            .map(|&v| colour_in(v, lo, hi, style.ramp))
            .collect();
        for py in 0..r.h {
            let row = &colours[(py / style.scale.max(1)) * style.nx..][..style.nx];
            let start = ((r.y + py) * width + r.x) * 4;
            for (px, pixel) in rgba[start..start + r.w * 4].chunks_exact_mut(4).enumerate() {
                let c = row[px / style.scale.max(1)];
                pixel.copy_from_slice(&[c[0], c[1], c[2], 255]);
            }
        }
        for d in p.discs {
            fill_disc(&mut rgba, width, r, d.x * s, d.y * s, d.r * s, d.colour);
        }
    }
    // The colour bar, highest value at the top.
    let b = lay.bar;
    for j in 0..b.h {
        let c = (style.ramp)(1.0 - (j as f32 + 0.5) / b.h as f32);
        let start = ((b.y + j) * width + b.x) * 4;
        for pixel in rgba[start..start + b.w * 4].chunks_exact_mut(4) {
            pixel.copy_from_slice(&[c[0], c[1], c[2], 255]);
        }
    }
    draw_text(
        &mut rgba,
        width,
        all,
        b.x,
        b.y - 10 * t,
        style.bar_label,
        t,
        TEXT_COLOUR,
    );
    let vx = b.x + b.w + 2 * t;
    let (lo, hi) = shared;
    let ends: Vec<(usize, String)> = if !style.shared {
        vec![
            (b.y, "panel max".into()),
            (b.y + b.h - 8 * t, "panel min".into()),
        ]
    } else if lo <= hi {
        vec![
            (b.y, format_value(hi)),
            (b.y + b.h / 2 - 4 * t, format_value(lo + (hi - lo) / 2.0)),
            (b.y + b.h - 8 * t, format_value(lo)),
        ]
    } else {
        vec![(b.y, "no finite value".into())]
    };
    for (y, text) in ends {
        draw_text(&mut rgba, width, all, vx, y, &text, t, TEXT_COLOUR);
    }
    for (i, (colour, name)) in style.legend.iter().enumerate() {
        // A swatch with a light 1-px frame, so that dark colours show on
        // the dark background.
        let y = b.y + b.h + 4 * t + i * 10 * t;
        let side = 8 * t;
        for j in 0..side {
            let start = ((y + j) * width + b.x) * 4;
            for (i, pixel) in rgba[start..start + side * 4]
                .chunks_exact_mut(4)
                .enumerate()
            {
                let edge = i == 0 || j == 0 || i == side - 1 || j == side - 1;
                let c = if edge { TEXT_COLOUR } else { *colour };
                pixel.copy_from_slice(&[c[0], c[1], c[2], 255]);
            }
        }
        draw_text(&mut rgba, width, all, b.x + 10 * t, y, name, t, TEXT_COLOUR);
    }
    (lay, rgba)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(rgba: &[u8], colour: [u8; 3]) -> usize {
        rgba.chunks_exact(4)
            .filter(|p| p[..3] == colour && p[3] == 255)
            .count()
    }

    /// A disc of radius r covers about π r² pixels: the pixels whose centre
    /// lies inside it number π r² + O(r) (Gauss's circle problem; the error
    /// is below 2π r + 4, a ring of one pixel around the circle).
    #[test]
    fn disc_covers_pi_r_squared_pixels() {
        let (w, h) = (120usize, 100usize);
        for (cx, cy, r) in [(60.0, 50.0, 30.0f32), (40.3, 47.8, 12.5), (70.5, 50.5, 4.0)] {
            let mut px = vec![0u8; w * h * 4];
            let clip = Rect { x: 0, y: 0, w, h };
            fill_disc(&mut px, w, clip, cx, cy, r, LIVE_TUMOUR);
            let n = count(&px, LIVE_TUMOUR) as f32;
            let area = std::f32::consts::PI * r * r;
            assert!(
                (n - area).abs() <= 2.0 * std::f32::consts::PI * r + 4.0,
                "r = {r}: {n} pixels, π r² = {area}"
            );
            // And within 3 % for the large disc.
            if r >= 30.0 {
                assert!((n - area).abs() / area < 0.03, "{n} vs {area}");
            }
            // Every coloured pixel is inside the circle, the centre pixel is coloured.
            for (k, p) in px.chunks_exact(4).enumerate() {
                if p[..3] == LIVE_TUMOUR {
                    let (i, j) = ((k % w) as f32 + 0.5, (k / w) as f32 + 0.5);
                    assert!((i - cx).powi(2) + (j - cy).powi(2) <= r * r);
                }
            }
            let c = ((cy as usize) * w + cx as usize) * 4;
            assert_eq!(px[c..c + 3], LIVE_TUMOUR);
        }
    }

    #[test]
    fn discs_are_clipped_to_their_panel() {
        let (w, h) = (40usize, 20usize);
        let mut px = vec![0u8; w * h * 4];
        // A disc centred on the right edge of a 20 × 20 panel at x = 10.
        let clip = Rect {
            x: 10,
            y: 0,
            w: 20,
            h: 20,
        };
        fill_disc(&mut px, w, clip, 20.0, 10.0, 8.0, NECROTIC);
        let n = count(&px, NECROTIC) as f32;
        let half = 0.5 * std::f32::consts::PI * 64.0;
        assert!(
            (n - half).abs() <= std::f32::consts::PI * 8.0 + 4.0,
            "{n} vs {half}"
        );
        for (k, p) in px.chunks_exact(4).enumerate() {
            if p[..3] == NECROTIC {
                assert!((10..30).contains(&(k % w)));
            }
        }
        // Nothing drawn for bad input.
        let before = px.clone();
        fill_disc(&mut px, w, clip, f32::NAN, 3.0, 2.0, APOPTOTIC);
        fill_disc(&mut px, w, clip, 3.0, 3.0, -1.0, APOPTOTIC);
        fill_disc(&mut px, w, clip, -50.0, 3.0, 2.0, APOPTOTIC);
        assert_eq!(px, before);
    }

    #[test]
    fn panels_show_grey_fields_and_coloured_agents() {
        let ramp: Vec<f32> = (0..16).map(|i| i as f32).collect(); // 4 × 4
        let discs = vec![
            vec![Disc {
                x: 2.0,
                y: 2.0,
                r: 1.0,
                colour: LIVE_IMMUNE,
            }],
            vec![],
        ];
        let (w, h, px) = agent_montage(&[&ramp, &ramp], &discs, 4, 4, 2, 10);
        assert_eq!((w, h), (81, 40));
        let at =
            |x: usize, y: usize| -> [u8; 3] { px[(y * 81 + x) * 4..][..3].try_into().unwrap() };
        assert_eq!(at(0, 0), grey(0.0));
        assert_eq!(at(39, 39), grey(1.0));
        assert_eq!(at(20, 20), LIVE_IMMUNE);
        // The same spot of the second panel keeps its background.
        assert_eq!(at(41 + 20, 20), grey(10.0 / 15.0));
        let n = count(&px, LIVE_IMMUNE) as f32;
        assert!(
            (n - std::f32::consts::PI * 100.0).abs() <= 2.0 * std::f32::consts::PI * 10.0 + 4.0
        );
        // The legend's colours differ from each other and from every grey.
        let legend = [LIVE_TUMOUR, LIVE_IMMUNE, APOPTOTIC, NECROTIC];
        for (i, a) in legend.iter().enumerate() {
            assert!(legend[i + 1..].iter().all(|b| a != b));
            assert!((0..=100).all(|t| grey(t as f32 / 100.0) != *a));
        }
        assert_eq!(agent_colour("immune", "necrotic").0, NECROTIC);
        assert_eq!(agent_colour("tumour", "apoptotic").0, APOPTOTIC);
        assert_eq!(agent_colour("tumour", "live").0, LIVE_TUMOUR);
        assert_eq!(agent_colour("immune", "live").0, LIVE_IMMUNE);
        assert_eq!(agent_colour("stroma", "live").0, UNKNOWN);
    }

    fn style<'a>(shared: bool, legend: &'a [([u8; 3], &'a str)]) -> MontageStyle<'a> {
        MontageStyle {
            nx: 2,
            ny: 2,
            cols: 2,
            scale: 20,
            shared,
            ramp: crate::output::io::colormap,
            title: "N at step 8",
            bar_label: "N (cells)",
            legend,
        }
    }

    fn pixel(lay: &MontageLayout, px: &[u8], x: usize, y: usize) -> [u8; 3] {
        px[(y * lay.width + x) * 4..][..3].try_into().unwrap()
    }

    /// Colour of site (i, j) of panel k.
    fn site(lay: &MontageLayout, px: &[u8], k: usize, i: usize, j: usize) -> [u8; 3] {
        let r = lay.panel(k);
        pixel(lay, px, r.x + i * 20 + 10, r.y + j * 20 + 10)
    }

    const A: [f32; 4] = [0.0, 0.1, 0.2, 0.3];
    const B: [f32; 4] = [0.1, 1e-4, f32::NAN, 0.1];

    fn panels() -> Vec<Panel<'static>> {
        vec![
            Panel {
                field: &A,
                label: "member 0 rt".into(),
                discs: &[],
            },
            Panel {
                field: &B,
                label: "member 1 rt".into(),
                discs: &[],
            },
        ]
    }

    /// The shared scale (the default) maps one value to one colour in every
    /// panel: 0.1 is the same colour in both panels, one third up the
    /// scale 0..0.3 of both, although panel 1 alone spans only 1e-4..0.1.
    #[test]
    fn shared_scale_gives_equal_values_equal_colours() {
        let (lay, px) = annotated_montage(&panels(), &style(true, &[]));
        assert_eq!(px.len(), lay.width * lay.height * 4);
        let want = crate::output::io::colormap(0.1 / 0.3);
        assert_eq!(site(&lay, &px, 0, 1, 0), want);
        assert_eq!(site(&lay, &px, 1, 0, 0), want);
        assert_eq!(site(&lay, &px, 1, 1, 1), want);
        assert_eq!(site(&lay, &px, 0, 0, 0), crate::output::io::colormap(0.0));
        assert_eq!(site(&lay, &px, 0, 1, 1), crate::output::io::colormap(1.0));
        assert_eq!(site(&lay, &px, 1, 0, 1), crate::output::io::png::NAN_COLOUR);
        // 1e-4 is near the bottom of the shared scale, not at the top of its own.
        assert_eq!(
            site(&lay, &px, 1, 1, 0),
            crate::output::io::colormap(1e-4 / 0.3)
        );
        // Same input, same bytes.
        assert_eq!(annotated_montage(&panels(), &style(true, &[])).1, px);
    }

    /// `--montage-scale per-panel` keeps the colours of the old montage:
    /// every panel pixel equals `field_montage`'s, each panel on its own range.
    #[test]
    fn per_panel_scale_keeps_the_old_colours() {
        let (lay, px) = annotated_montage(&panels(), &style(false, &[]));
        let (w, _, old) = crate::output::io::field_montage(&[&A, &B], 2, 2, 2, 20);
        for k in 0..2 {
            let r = lay.panel(k);
            let (ox, oy) = tile_origin(k, 2, 40, 40);
            for y in 0..40 {
                for x in 0..40 {
                    let o: [u8; 3] = old[((oy + y) * w as usize + ox + x) * 4..][..3]
                        .try_into()
                        .unwrap();
                    assert_eq!(
                        pixel(&lay, &px, r.x + x, r.y + y),
                        o,
                        "panel {k} ({x}, {y})"
                    );
                }
            }
        }
        // Panel 1's own maximum 0.1 is the top colour here.
        assert_eq!(site(&lay, &px, 1, 0, 0), crate::output::io::colormap(1.0));
    }

    /// sRGB relative luminance (IEC 61966-2-1, Rec. 709 weights).
    fn luminance(c: [u8; 3]) -> f64 {
        let lin = |v: u8| {
            let s = f64::from(v) / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    }

    /// The colour bar runs from the top colour down to the bottom one with
    /// luminance falling row by row (one 8-bit rounding step of slack), is
    /// uniform across its width, and its ends are the ramp's ends.
    #[test]
    fn colour_bar_is_monotone() {
        let legend = [(LIVE_TUMOUR, "live tumour")];
        let (lay, px) = annotated_montage(&panels(), &style(true, &legend));
        let b = lay.bar;
        assert!(b.h >= 40, "bar {b:?}");
        assert!(
            b.x >= lay.panel(1).x + lay.tile_w,
            "bar right of the panels"
        );
        let column: Vec<[u8; 3]> = (0..b.h)
            .map(|j| pixel(&lay, &px, b.x + b.w / 2, b.y + j))
            .collect();
        for (j, c) in column.iter().enumerate() {
            for i in 0..b.w {
                assert_eq!(pixel(&lay, &px, b.x + i, b.y + j), *c);
            }
        }
        for w in column.windows(2) {
            assert!(
                luminance(w[1]) <= luminance(w[0]) + 2e-3,
                "{:?} then {:?}",
                w[0],
                w[1]
            );
        }
        let dist =
            |a: [u8; 3], b: [u8; 3]| (0..3).map(|c| a[c].abs_diff(b[c]) as u32).max().unwrap();
        assert!(dist(column[0], crate::output::io::colormap(1.0)) <= 16);
        assert!(dist(column[b.h - 1], crate::output::io::colormap(0.0)) <= 16);
        assert!(luminance(column[0]) > 10.0 * luminance(column[b.h - 1]));
        // The legend swatch lies under the bar, inside the picture, framed.
        let y = b.y + b.h + 4 * lay.text;
        assert_eq!(pixel(&lay, &px, b.x + 1, y + 1), LIVE_TUMOUR);
        assert_eq!(pixel(&lay, &px, b.x, y), TEXT_COLOUR);
        assert!(y + 8 * lay.text <= lay.height);
    }

    /// Labels are drawn glyph by glyph from the font: the label strip of
    /// panel 0 holds `m` of "member 0 rt" at its left edge, pixel for bit.
    #[test]
    fn labels_are_font_glyphs() {
        let (lay, px) = annotated_montage(&panels(), &style(true, &[]));
        let r = lay.panel(0);
        let (x0, y0) = (r.x, r.y - lay.label_h + lay.text);
        let g = glyph('m');
        for (row, bits) in g.iter().enumerate() {
            for col in 0..8 {
                let on = (bits >> col) & 1 == 1;
                let c = pixel(&lay, &px, x0 + col, y0 + row);
                assert_eq!(c == TEXT_COLOUR, on, "m ({col}, {row})");
            }
        }
        assert!(g.iter().any(|&b| b != 0));
        assert_eq!(glyph('\u{2013}'), glyph('-'));
        assert_eq!(glyph('\u{4e00}'), glyph('?'));
        assert_ne!(glyph('µ'), glyph('?'));
        assert_ne!(glyph('κ'), glyph('?'));
    }

    #[test]
    fn scale_ends_as_text() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(0.2), "0.2");
        assert_eq!(format_value(1.0e-4), "1.000e-4");
        assert_eq!(format_value(12.345_67), "12.35");
        assert_eq!(format_value(-3.0), "-3");
        assert_eq!(format_value(250_000.0), "2.500e5");
    }
}
