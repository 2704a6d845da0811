//! The field snapshots of a run (`fields.npy`, written by `--save-fields`)
//! as one figure per field: a panel per member on one shared colour scale
//! (viridis), each labelled with its member id and arm, and a colour bar
//! with the field's unit: equal colours mean equal values across members
//! (as in `montage.png` by default). Also the time-lapse montages of
//! `run --save-fields --every K` (`montage_t<step>.png`), in time order.
//!
//! The figure is laid out by hand as SVG: each panel is a small PNG
//! (`data:` URI) placed at its position, which plotters has no element for
//! without an image-codec dependency.

use super::html::escape;
use super::{Figure, ReportError};
use base64::Engine as _;
use std::fmt::Write;
use std::path::Path;

/// Members shown per field.
pub const PANELS: usize = 16;
/// Fields shown (the first ones of the model).
pub const FIELDS: usize = 4;
const PANEL_PX: usize = 128;

/// The shared range of the finite values of `panels`; None when none is finite.
pub fn shared_range(panels: &[&[f32]]) -> Option<(f32, f32)> {
    let (lo, hi) = panels
        .iter()
        .flat_map(|p| p.iter())
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    lo.is_finite().then_some((lo, hi))
}

fn png_bytes(w: usize, h: usize, rgba: &[u8]) -> Result<Vec<u8>, ReportError> {
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(::png::ColorType::Rgba);
        enc.set_depth(::png::BitDepth::Eight);
        let mut wr = enc
            .write_header()
            .map_err(|e| ReportError::Plot(format!("png: {e}")))?;
        wr.write_image_data(rgba)
            .map_err(|e| ReportError::Plot(format!("png: {e}")))?;
    }
    Ok(out)
}

/// One panel on the shared scale [lo, hi] (NaN grey), one pixel per site.
fn panel_png(field: &[f32], nx: usize, ny: usize, lo: f32, hi: f32) -> Result<String, ReportError> {
    let span = hi - lo;
    let mut rgba = Vec::with_capacity(nx * ny * 4);
    for &v in field {
        let c = if v.is_nan() {
            [128, 128, 128]
        } else if span > 0.0 {
            crate::output::io::colormap(((v - lo) / span).clamp(0.0, 1.0))
        } else {
            crate::output::io::colormap(0.5)
        };
        rgba.extend_from_slice(&[c[0], c[1], c[2], 255]);
    }
    let bytes = png_bytes(nx, ny, &rgba)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Figures of `dir/fields.npy`; `names` gives (name, unit) per field and
/// `arm` the run's arm.
pub fn figures(
    dir: &Path,
    names: &[(String, String)],
    arm: &str,
) -> Result<Vec<Figure>, ReportError> {
    let path = dir.join("fields.npy");
    if !path.is_file() {
        return Ok(vec![]);
    }
    let (shape, data) = crate::output::io::read_npy_f32(&path)?;
    let [members, nf, ny, nx] = shape[..] else {
        return Err(ReportError::input(
            &path,
            format!("shape {shape:?} is not members × fields × ny × nx"),
        ));
    };
    let shown = members.min(PANELS);
    let cols = (shown as f64).sqrt().ceil().max(1.0) as usize;
    let rows = shown.div_ceil(cols);
    let scale = (PANEL_PX / nx.max(ny)).max(1);
    let (pw, ph) = (nx * scale, ny * scale);
    let (gap, label_h, top, left) = (8, 16, 40, 10);
    let bar_x = left + cols * (pw + gap) + 10;
    let width = bar_x + 140;
    let height = top + rows * (ph + label_h + gap) + 10;
    let mut out = Vec::new();
    for f in 0..nf.min(FIELDS) {
        let (name, unit) = names
            .get(f)
            .cloned()
            .unwrap_or_else(|| (format!("field {f}"), String::new()));
        let panel = |m: usize| {
            let start = (m * nf + f) * nx * ny;
            &data[start..start + nx * ny]
        };
        let panels: Vec<&[f32]> = (0..shown).map(panel).collect();
        let Some((lo, hi)) = shared_range(&panels) else {
            continue;
        };
        let title = format!(
            "Final {name} of members 0–{} on one colour scale",
            shown - 1
        );
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
             <rect width=\"100%\" height=\"100%\" fill=\"#FFFFFF\"/>\
             <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"16\">{}</text>",
            width / 2,
            escape(&title)
        );
        for (m, p) in panels.iter().enumerate() {
            let (x, y) = (
                left + (m % cols) * (pw + gap),
                top + (m / cols) * (ph + label_h + gap),
            );
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"11\">member {m} ({})</text>\
                 <image x=\"{x}\" y=\"{}\" width=\"{pw}\" height=\"{ph}\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>",
                x + pw / 2,
                y + 12,
                escape(arm),
                y + label_h,
                panel_png(p, nx, ny, lo, hi)?
            );
        }
        // Colour bar: 32 steps from hi (top) to lo (bottom), labelled ends and middle.
        let (by, bh) = (top + label_h, rows * (ph + label_h + gap) - label_h - gap);
        let steps = 32;
        for k in 0..steps {
            let t = 1.0 - (k as f32 + 0.5) / steps as f32;
            let c = crate::output::io::colormap(t);
            let _ = write!(
                svg,
                "<rect x=\"{bar_x}\" y=\"{:.1}\" width=\"14\" height=\"{:.1}\" fill=\"#{:02X}{:02X}{:02X}\"/>",
                by as f64 + k as f64 * bh as f64 / steps as f64,
                bh as f64 / steps as f64 + 0.5,
                c[0],
                c[1],
                c[2]
            );
        }
        for (v, frac) in [(hi, 0.0), ((lo + hi) / 2.0, 0.5), (lo, 1.0)] {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"11\">{}</text>",
                bar_x + 18,
                by as f64 + frac * bh as f64 + 4.0,
                super::plot::tick(v as f64)
            );
        }
        let unit_label = if unit.is_empty() || unit == "1" {
            format!("{name} (dimensionless)")
        } else {
            format!("{name} ({unit})")
        };
        let _ = write!(
            svg,
            "<text x=\"{bar_x}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"11\">{}</text></svg>",
            by + bh + 16,
            escape(&unit_label)
        );
        out.push(Figure {
            name: super::slug(&title),
            title: title.clone(),
            caption: format!(
                "{name} at the end of the run, members 0–{} of {members}, arm {arm}; one colour scale for all panels \
                 ({} to {}), grey = not a number.",
                shown - 1,
                super::plot::tick(lo as f64),
                super::plot::tick(hi as f64)
            ),
            svg: super::plot::titled(&svg, &title),
        });
    }
    Ok(out)
}

/// The time-lapse montages `montage_t<step>.png` of `dir`, in step order,
/// each with its caption ("step 120"). Their names are zero-padded to the
/// width of the last step, so the name order is the step order.
pub fn snapshots(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, ReportError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ReportError::Io(crate::output::io::IoError::io(dir, e)))?;
    let mut found: Vec<(u64, std::path::PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let step = name.strip_prefix("montage_t")?.strip_suffix(".png")?;
            Some((step.parse::<u64>().ok()?, e.path()))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(step, path)| {
            let bytes = std::fs::read(&path)
                .map_err(|e| ReportError::Io(crate::output::io::IoError::io(&path, e)))?;
            Ok((format!("step {step}"), bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_scale_for_every_panel() {
        let a = [0.0f32, 1e-4];
        let b = [0.1f32, 0.2, f32::NAN];
        assert_eq!(shared_range(&[&a, &b]), Some((0.0, 0.2)));
        assert_eq!(shared_range(&[&[f32::NAN]]), None);
    }

    /// Snapshots come in step order whatever the name padding, and only
    /// `montage_t<digits>.png` files count.
    #[test]
    fn snapshots_in_step_order() {
        let dir = std::env::temp_dir().join(format!("vtwin-snapshots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in [
            ("montage_t100.png", b"c".as_slice()),
            ("montage_t20.png", b"b"),
            ("montage_t0.png", b"a"),
            ("montage.png", b"final"),
            ("montage_tx.png", b"no"),
            ("fields_t20.npy", b"no"),
        ] {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let got = snapshots(&dir).unwrap();
        assert_eq!(
            got,
            vec![
                ("step 0".to_string(), b"a".to_vec()),
                ("step 20".to_string(), b"b".to_vec()),
                ("step 100".to_string(), b"c".to_vec()),
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
