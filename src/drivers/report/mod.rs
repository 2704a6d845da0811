//! `vtwin report`: any output folder vtwin writes (run, sweep, calibrate,
//! twin, assimilate, cohort) or a `vtwin bench --json` file turned into one
//! self-contained HTML page of figures (inline SVG drawn by `plotters`),
//! and each figure as PNG on request (rasterised by `resvg`).
//!
//! Owns: recognising the kind of an output (`detect`), choosing the figures
//! for it (`kinds`), the numbers behind them (`stats`), drawing (`plot`)
//! and the page (`html`). Reads files; writes none (the command writes).

pub mod data;
pub mod fields;
pub mod html;
pub mod kinds;
pub mod patients;
pub mod plot;
pub mod stats;
pub mod summary;

use std::path::{Path, PathBuf};

/// Errors of the report: the path they concern and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    #[error(transparent)]
    Io(#[from] crate::output::io::IoError),
    #[error("{0}")]
    Plot(String),
}

impl ReportError {
    pub fn input(path: &Path, message: impl Into<String>) -> ReportError {
        ReportError::Input {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// What wrote the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Run,
    Sweep,
    Calibrate,
    Twin,
    Assimilate,
    Cohort,
    Bench,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Sweep => "sweep",
            Kind::Calibrate => "calibrate",
            Kind::Twin => "twin",
            Kind::Assimilate => "assimilate",
            Kind::Cohort => "cohort",
            Kind::Bench => "bench",
        }
    }
}

/// One figure: its SVG (with a `<title>`), a caption, and a file-name stem.
#[derive(Clone, Debug)]
pub struct Figure {
    pub name: String,
    pub title: String,
    pub caption: String,
    pub svg: String,
}

#[derive(Clone, Debug)]
pub enum Block {
    Text(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Figure(Figure),
    Png {
        alt: String,
        bytes: Vec<u8>,
    },
    /// PNG pictures side by side in time order (the time-lapse montages of
    /// `run --save-fields --every K`), each with its caption.
    Strip {
        alt: String,
        frames: Vec<(String, Vec<u8>)>,
    },
}

#[derive(Clone, Debug)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

impl Section {
    pub fn new(heading: impl Into<String>) -> Section {
        Section {
            heading: heading.into(),
            blocks: Vec::new(),
        }
    }

    /// Draws `chart` and adds it as a figure named after its title.
    pub fn figure(&mut self, chart: &plot::Chart, caption: &str) -> Result<(), ReportError> {
        let svg = chart.svg().map_err(|e| ReportError::Plot(e.into()))?;
        self.blocks.push(Block::Figure(Figure {
            name: slug(&chart.title),
            title: chart.title.clone(),
            caption: caption.to_string(),
            svg: plot::titled(&svg, &chart.title),
        }));
        Ok(())
    }

    pub fn text(&mut self, t: impl Into<String>) {
        self.blocks.push(Block::Text(t.into()));
    }

    pub fn table(&mut self, header: &[&str], rows: Vec<Vec<String>>) {
        self.blocks.push(Block::Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows,
        });
    }
}

#[derive(Clone, Debug)]
pub struct Report {
    pub kind: Kind,
    pub title: String,
    pub source: PathBuf,
    pub sections: Vec<Section>,
}

impl Report {
    pub fn html(&self) -> String {
        html::page(self)
    }

    pub fn figures(&self) -> impl Iterator<Item = &Figure> {
        self.sections.iter().flat_map(|s| {
            s.blocks.iter().filter_map(|b| match b {
                Block::Figure(f) => Some(f),
                _ => None,
            })
        })
    }
}

/// A lowercase file-name stem from a title: letters and digits, runs of
/// anything else as one `-`.
pub fn slug(title: &str) -> String {
    let mut s = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-');
    if s.is_empty() {
        "figure".into()
    } else {
        s.into()
    }
}

/// Recognises what wrote `path`: a folder's `manifest.json` (its
/// `command_kind`, else the command's subcommand word), or a bench JSON
/// report (`results` and `scaling` keys).
pub fn detect(path: &Path) -> Result<Kind, ReportError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ReportError::Io(crate::output::io::IoError::io(path, e)))?;
    if meta.is_file() {
        let v = data::read_json(path)?;
        if v.get("results").is_some() && v.get("scaling").is_some() {
            return Ok(Kind::Bench);
        }
        return Err(ReportError::input(
            path,
            "is a file but not a `vtwin bench --json` report (no `results` and `scaling`); \
             give an output folder or a bench report",
        ));
    }
    let mpath = path.join("manifest.json");
    if !mpath.is_file() {
        return Err(ReportError::input(
            path,
            "holds no manifest.json: not an output folder written by vtwin",
        ));
    }
    let m = data::read_json(&mpath)?;
    let kind = m["command_kind"].as_str().map(str::to_string).or_else(|| {
        m["command"]
            .as_array()
            .and_then(|c| c.get(1))
            .and_then(|w| w.as_str())
            .map(str::to_string)
    });
    match kind.as_deref() {
        Some("run") => Ok(Kind::Run),
        Some("sweep") => Ok(Kind::Sweep),
        Some("calibrate") => Ok(Kind::Calibrate),
        Some("twin") => Ok(Kind::Twin),
        Some("assimilate") => Ok(Kind::Assimilate),
        Some("cohort") | Some("merge") | Some("select") => {
            if data::find_table(path, "outcomes").is_some()
                || data::find_table(path, "patients").is_some()
            {
                Ok(Kind::Cohort)
            } else {
                Err(ReportError::input(
                    path,
                    "a cohort folder without patients or outcomes tables",
                ))
            }
        }
        _ if data::find_table(path, "observables").is_some() => Ok(Kind::Run),
        other => Err(ReportError::input(
            &mpath,
            format!(
                "key `command_kind`: cannot tell which vtwin command wrote this folder ({})",
                other.unwrap_or("none recorded")
            ),
        )),
    }
}

/// Builds the report of `path`.
pub fn build(path: &Path) -> Result<Report, ReportError> {
    build_with(path, &patients::Pick::First, None)
}

/// `build`, choosing which patients of a patient run get their own section,
/// with the `vtwin score --json` file of its forecasts, if any.
pub fn build_with(
    path: &Path,
    pick: &patients::Pick,
    scores: Option<&Path>,
) -> Result<Report, ReportError> {
    let kind = detect(path)?;
    let patient_run = kind == Kind::Assimilate && data::find_table(path, "patients").is_some();
    if !patient_run && (scores.is_some() || matches!(pick, patients::Pick::Named(_))) {
        return Err(ReportError::input(
            path,
            "--scores and --patients apply to patient runs (`vtwin assimilate` with a `patient` column)",
        ));
    }
    let sections = match kind {
        Kind::Run => kinds::run(path)?,
        Kind::Sweep => kinds::sweep(path)?,
        Kind::Calibrate => kinds::calibrate(path)?,
        Kind::Assimilate if patient_run => patients::patients(path, pick, scores)?,
        Kind::Twin | Kind::Assimilate => kinds::twin(path)?,
        Kind::Cohort => kinds::cohort(path)?,
        Kind::Bench => kinds::bench(path)?,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string());
    Ok(Report {
        kind,
        title: format!("vtwin {}: {name}", kind.name()),
        source: path.to_path_buf(),
        sections,
    })
}

/// Rasterises a figure's SVG to PNG bytes at `scale` (1 = the SVG's own
/// size), with the system's fonts for its text.
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>, ReportError> {
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_system_fonts();
    // The figures ask for the generic `sans-serif`: map it to a sans face
    // that is installed (fontdb's default, Arial, rarely is on Linux).
    let have = |name: &str| {
        db.faces()
            .any(|f| f.families.iter().any(|(n, _)| n == name))
    };
    if let Some(name) = [
        "DejaVu Sans",
        "Liberation Sans",
        "Arial",
        "Helvetica",
        "Noto Sans",
    ]
    .into_iter()
    .find(|n| have(n))
    {
        db.set_sans_serif_family(name);
        opt.font_family = name.into();
    }
    let tree =
        usvg::Tree::from_str(svg, &opt).map_err(|e| ReportError::Plot(format!("svg: {e}")))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or_else(|| ReportError::Plot("svg: empty image".into()))?;
    let mut pix = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| ReportError::Plot("svg: image too large".into()))?;
    pix.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pix.as_mut(),
    );
    pix.encode_png()
        .map_err(|e| ReportError::Plot(format!("png: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Kaplan–Meier: progression-free"),
            "kaplan-meier-progression-free"
        );
        assert_eq!(slug("  "), "figure");
    }

    #[test]
    fn png_of_a_chart_has_ink() {
        let c = plot::Chart::new("t", "x (1)", "y (1)").with(plot::Series::new(
            "s",
            0,
            plot::Mark::Line(vec![(0.0, 0.0), (1.0, 1.0)]),
        ));
        let png = svg_to_png(&c.svg().unwrap(), 1.0).unwrap();
        let dec = ::png::Decoder::new(std::io::Cursor::new(png));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (720, 400));
        // Some pixels are not white: the line, axes and text were drawn.
        let dark = buf
            .chunks(info.line_size / info.width as usize)
            .filter(|p| p[0] < 128)
            .count();
        assert!(dark > 500, "{dark} dark pixels");
    }
}
