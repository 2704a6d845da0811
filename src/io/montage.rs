//! Pictures of agent-based members: a montage of panels, each the member's
//! first field (oxygen for `tumour_abm`) in a muted grey ramp with every
//! agent drawn on top as a filled disc of its radius, coloured by what it
//! is (type and state, see [`agent_colour`] for the legend).
//!
//! Owns: drawing discs into RGBA buffers and laying out agent panels. Never
//! decides which members or agents are shown, and sees no model: agents
//! arrive as [`Disc`]s in site units, their colour already chosen.

use super::png::{field_montage_with, tile_origin};

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
}
