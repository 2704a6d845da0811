//! Figures as SVG text, drawn with the `plotters` crate's SVG backend.
//!
//! One figure type covers every report: an x–y chart holding lines,
//! shaded bands, points with error bars, step curves, bars and vertical
//! markers, with optional category labels on the x axis (bar charts) and
//! optional lines of text under the plot (numbers at risk). Every figure
//! has a caption (its title), labelled axes with units and a legend; the
//! colours are the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal
//! Design"), distinguishable with the common colour-vision deficiencies.
//!
//! Owns: drawing. Never reads files; the numbers come from `report::stats`.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

message_error!(
    /// A figure that could not be drawn.
    pub PlotError
);

/// The Okabe–Ito palette, in the order series get it (black last).
pub const PALETTE: [(u8, u8, u8); 8] = [
    (0, 114, 178),   // blue
    (230, 159, 0),   // orange
    (0, 158, 115),   // bluish green
    (213, 94, 0),    // vermillion
    (204, 121, 167), // reddish purple
    (86, 180, 233),  // sky blue
    (240, 228, 66),  // yellow
    (0, 0, 0),       // black
];

pub fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// What one legend entry draws.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// A polyline through (x, y).
    Line(Vec<(f64, f64)>),
    /// A dashed polyline.
    Dashed(Vec<(f64, f64)>),
    /// A right-continuous step function through (x, y) (Kaplan–Meier).
    Step(Vec<(f64, f64)>),
    /// A shaded band: (x, low, high), filled at `alpha`.
    Band(Vec<(f64, f64, f64)>, f64),
    /// Points.
    Points(Vec<(f64, f64)>),
    /// Points with vertical error bars: (x, y, low, high).
    ErrorPoints(Vec<(f64, f64, f64, f64)>),
    /// Bars from y = 0: (x0, x1, y).
    Bars(Vec<(f64, f64, f64)>),
    /// Vertical lines at these x.
    VLines(Vec<f64>),
    /// A horizontal line at this y.
    HLine(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub colour: usize,
    pub mark: Mark,
}

impl Series {
    pub fn new(label: impl Into<String>, colour: usize, mark: Mark) -> Series {
        Series {
            label: label.into(),
            colour,
            mark,
        }
    }
}

/// A row of text under a chart: its label, colour index and (x, text) cells.
pub type BelowRow = (String, usize, Vec<(f64, String)>);

/// An x–y chart. Axis labels carry their units ("time (h)").
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Names for x = 0, 1, 2, … (bar charts); ticks fall on integers.
    pub x_categories: Option<Vec<String>>,
    /// Axis ranges; computed from the data when None.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Rows of text under the plot, each (row label, [(x, text)]) placed
    /// at data x (numbers at risk under a survival curve).
    pub below: Vec<BelowRow>,
    pub width: u32,
    pub height: u32,
}

impl Chart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            width: 720,
            height: 400,
            ..Default::default()
        }
    }

    pub fn with(mut self, s: Series) -> Chart {
        self.series.push(s);
        self
    }

    /// The data's extent over all series, padded; degenerate ranges widened.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for s in &self.series {
            match &s.mark {
                Mark::Line(p) | Mark::Dashed(p) | Mark::Step(p) | Mark::Points(p) => {
                    for &(x, y) in p {
                        xs.push(x);
                        ys.push(y);
                    }
                }
                Mark::Band(p, _) => {
                    for &(x, lo, hi) in p {
                        xs.push(x);
                        ys.push(lo);
                        ys.push(hi);
                    }
                }
                Mark::ErrorPoints(p) => {
                    for &(x, y, lo, hi) in p {
                        xs.push(x);
                        ys.extend([y, lo, hi]);
                    }
                }
                Mark::Bars(p) => {
                    for &(x0, x1, y) in p {
                        xs.extend([x0, x1]);
                        ys.extend([0.0, y]);
                    }
                }
                Mark::VLines(v) => xs.extend(v),
                Mark::HLine(y) => ys.push(*y),
            }
        }
        let span = |v: &[f64], pad: f64| {
            let finite = v.iter().copied().filter(|x| x.is_finite());
            let lo = finite.clone().fold(f64::INFINITY, f64::min);
            let hi = finite.fold(f64::NEG_INFINITY, f64::max);
            if !lo.is_finite() {
                return (0.0, 1.0);
            }
            if hi - lo <= f64::EPSILON * lo.abs().max(1e-300) {
                let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
                return (lo - d, hi + d);
            }
            let d = (hi - lo) * pad;
            (lo - d, hi + d)
        };
        let x = match (&self.x_range, &self.x_categories) {
            (Some(r), _) => *r,
            (None, Some(c)) => (-0.6, c.len() as f64 - 0.4),
            (None, None) => span(&xs, 0.02),
        };
        let y = self.y_range.unwrap_or_else(|| span(&ys, 0.05));
        (x, y)
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String, PlotError> {
        let mut out = String::new();
        {
            let root =
                SVGBackend::with_string(&mut out, (self.width, self.height)).into_drawing_area();
            self.draw(&root)
                .map_err(|e| format!("drawing `{}`: {e}", self.title))?;
            root.present()
                .map_err(|e| format!("drawing `{}`: {e}", self.title))?;
        }
        Ok(out)
    }

    fn draw(
        &self,
        root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let below_h = if self.below.is_empty() {
            0
        } else {
            22 + 18 * self.below.len() as u32
        };
        let (upper, lower) = root.split_vertically(self.height - below_h);
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut chart = ChartBuilder::on(&upper)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(match &self.x_categories {
                Some(c) if rotate_categories(c) => {
                    44 + 6 * c
                        .iter()
                        .map(|s| s.chars().count())
                        .max()
                        .unwrap_or(0)
                        .min(28) as u32
                }
                _ => 42,
            })
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let cats = self.x_categories.clone();
        let fmt_x = move |v: &f64| match &cats {
            Some(c) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < c.len() {
                    c[i as usize].clone()
                } else {
                    String::new()
                }
            }
            None => tick(*v),
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&|v| tick(*v))
            .max_light_lines(0)
            .bold_line_style(RGBColor(225, 225, 225))
            .label_style(("sans-serif", 12));
        if let Some(c) = &self.x_categories {
            mesh.x_labels(c.len().max(2) * 2 + 1).disable_x_mesh();
        }
        let rotated = self
            .x_categories
            .as_deref()
            .filter(|c| rotate_categories(c));
        if rotated.is_some() {
            // Drawn below, reading downwards from each tick: plotters
            // centres rotated axis labels on the tick, across the axis.
            mesh.x_label_formatter(&|_| String::new());
        }
        mesh.draw()?;
        if let Some(c) = rotated {
            let style = TextStyle::from(
                ("sans-serif", 11)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .pos(Pos::new(HPos::Left, VPos::Center))
            .color(&BLACK);
            for (k, name) in c.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(k as f64, y0));
                upper.draw(&Text::new(name.clone(), (px, py + 8), style.clone()))?;
            }
        }
        for s in &self.series {
            let c = colour(s.colour);
            let label = s.label.clone();
            match &s.mark {
                Mark::Line(p) => chart
                    .draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    }),
                Mark::Dashed(p) => chart
                    .draw_series(DashedLineSeries::new(
                        p.iter().copied(),
                        6,
                        4,
                        c.stroke_width(2),
                    ))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(1))
                    }),
                Mark::Step(p) => {
                    let mut pts = Vec::with_capacity(2 * p.len());
                    for (k, &(x, y)) in p.iter().enumerate() {
                        if k > 0 {
                            pts.push((x, p[k - 1].1));
                        }
                        pts.push((x, y));
                    }
                    chart
                        .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
                        .label(label)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                        })
                }
                Mark::Band(p, alpha) => {
                    let mut poly: Vec<(f64, f64)> = p.iter().map(|&(x, lo, _)| (x, lo)).collect();
                    poly.extend(p.iter().rev().map(|&(x, _, hi)| (x, hi)));
                    let fill = c.mix(*alpha).filled();
                    chart
                        .draw_series(std::iter::once(Polygon::new(poly, fill)))?
                        .label(label)
                        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], fill))
                }
                Mark::Points(p) => chart
                    .draw_series(
                        p.iter()
                            .map(|&(x, y)| Circle::new((x, y), 3, c.mix(0.7).filled())),
                    )?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 9, y), 3, c.filled())),
                Mark::ErrorPoints(p) => chart
                    .draw_series(p.iter().map(|&(x, y, lo, hi)| {
                        ErrorBar::new_vertical(x, lo, y, hi, c.filled().stroke_width(2), 8)
                    }))?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 9, y), 3, c.filled())),
                Mark::Bars(p) => chart
                    .draw_series(p.iter().map(|&(a, b, y)| {
                        Rectangle::new([(a, 0.0), (b, y)], c.mix(0.85).filled())
                    }))?
                    .label(label)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.filled())
                    }),
                Mark::VLines(v) => chart
                    .draw_series(v.iter().map(|&x| {
                        PathElement::new(vec![(x, y0), (x, y1)], c.mix(0.6).stroke_width(1))
                    }))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x + 9, y - 6), (x + 9, y + 6)], c.stroke_width(1))
                    }),
                Mark::HLine(h) => chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x0, *h), (x1, *h)],
                        c.stroke_width(1),
                    )))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(1))
                    }),
            };
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font(("sans-serif", 12))
            .draw()?;
        if !self.below.is_empty() {
            // Rows of text at data x, under the x axis's own labels.
            let top = self.height - below_h;
            let style = TextStyle::from(("sans-serif", 12).into_font());
            let head = TextStyle::from(("sans-serif", 12).into_font())
                .pos(Pos::new(HPos::Left, VPos::Center));
            lower.draw(&Text::new("Number at risk", (8, 10), head.clone()))?;
            for (r, (name, col, cells)) in self.below.iter().enumerate() {
                let y = 28 + 18 * r as i32;
                lower.draw(&Text::new(
                    name.clone(),
                    (8, y),
                    head.clone().color(&colour(*col)),
                ))?;
                for (x, text) in cells {
                    let (px, _) = chart.backend_coord(&(*x, y0));
                    lower.draw(&Text::new(
                        text.clone(),
                        (px, y),
                        style
                            .clone()
                            .pos(Pos::new(HPos::Center, VPos::Center))
                            .color(&colour(*col)),
                    ))?;
                }
            }
            let _ = top;
        }
        Ok(())
    }
}

/// Long or many category names are written vertically.
fn rotate_categories(c: &[String]) -> bool {
    c.len() > 8 || c.iter().any(|s| s.chars().count() > 10)
}

/// A tick label: short, no trailing zeros, scientific when large or small.
pub fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Inserts a `<title>` (and an accessible name) as the first child of an
/// SVG document's root element, so that the figure names itself in the
/// page, in screen readers and to tests.
pub fn titled(svg: &str, title: &str) -> String {
    let esc = crate::drivers::report::html::escape(title);
    match svg.find("<svg") {
        Some(start) => match svg[start..].find('>') {
            Some(end) => {
                let at = start + end;
                format!(
                    "{} role=\"img\" aria-label=\"{esc}\">\n<title>{esc}</title>{}",
                    &svg[..at],
                    &svg[at + 1..]
                )
            }
            None => svg.to_string(),
        },
        None => svg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(100.0), "100");
        assert_eq!(tick(1.0e-5), "1e-5");
        assert_eq!(tick(2.5e7), "2.5e7");
    }

    #[test]
    fn a_chart_is_an_svg_with_its_title_axes_and_legend() {
        let c = Chart::new("Burden over time", "time (h)", "burden (cells)")
            .with(Series::new(
                "median",
                0,
                Mark::Line(vec![(0.0, 1.0), (1.0, 2.0)]),
            ))
            .with(Series::new(
                "90 % band",
                0,
                Mark::Band(vec![(0.0, 0.5, 1.5), (1.0, 1.0, 3.0)], 0.2),
            ));
        let svg = titled(&c.svg().unwrap(), "Burden over time");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<title>Burden over time</title>"));
        for text in ["time (h)", "burden (cells)", "median", "90 % band"] {
            assert!(svg.contains(text), "missing {text}");
        }
        // Okabe–Ito blue is used for the first series.
        assert!(svg.to_uppercase().contains("#0072B2"));
    }
}
