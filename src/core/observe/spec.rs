//! What an observable is: the grid it reduces, the reduction, its name,
//! unit and meaning, and the checks that turn scene entries into an
//! `ObservableSet`.

use crate::input::scene::{ObsKind, ObservableSpec};

message_error!(
    /// A probe or region that does not lie on the grid.
    pub ObserveError
);

/// The shape of a grid model's state: `fields × ny × nx` f32 per member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridShape {
    pub nx: u32,
    pub ny: u32,
    pub fields: u32,
    pub dx: f64,
    pub periodic: bool,
}

impl GridShape {
    pub fn sites(&self) -> usize {
        self.nx as usize * self.ny as usize
    }
    pub fn len(&self) -> usize {
        self.sites() * self.fields as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The site nearest a physical position (site i's centre is at (i + ½)·dx).
    pub fn site_at(&self, x: f64, y: f64) -> u32 {
        let ix = ((x / self.dx).floor().max(0.0) as u32).min(self.nx - 1);
        let iy = ((y / self.dx).floor().max(0.0) as u32).min(self.ny - 1);
        iy * self.nx + ix
    }
    /// Area of one site.
    pub fn cell_area(&self) -> f32 {
        (self.dx * self.dx) as f32
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reduction {
    /// Integral over the domain: Σ value · dx².
    Total,
    Mean,
    Max,
    Min,
    /// Area (Σ dx²) of sites whose value exceeds the threshold.
    AreaAbove(f32),
    /// Value at one site.
    Probe(u32),
    /// One word of the member's state at this offset: a scalar the step
    /// kernel keeps (agent counts, radii of agent-based models). The op's
    /// `field` is ignored.
    Word(u32),
    /// Mean over the sites `x0..x0+w` × `y0..y0+h` (site indices): a
    /// coarse-imaging voxel.
    BlockMean {
        x0: u32,
        y0: u32,
        w: u32,
        h: u32,
    },
}

impl Reduction {
    /// Sites a block mean averages, in the order both twins visit them.
    pub(super) fn block_site(x0: u32, y0: u32, w: u32, nx: u32, i: usize) -> usize {
        let (w, i) = (w as usize, i);
        (y0 as usize + i / w) * nx as usize + x0 as usize + i % w
    }
}

/// The probe reduction at physical position (x, y): the site containing it.
/// Errors (as text) when the point lies outside the domain.
pub fn probe_reduction(grid: &GridShape, x: f64, y: f64) -> Result<Reduction, ObserveError> {
    let (w, h) = (grid.nx as f64 * grid.dx, grid.ny as f64 * grid.dx);
    if !(0.0..=w).contains(&x) || !(0.0..=h).contains(&y) {
        return Err(format!("probe ({x}, {y}) lies outside the domain [0, {w}]×[0, {h}]").into());
    }
    Ok(Reduction::Probe(grid.site_at(x, y)))
}

/// The block-mean reduction over the physical rectangle [x0, x1] × [y0, y1]:
/// the mean over every site whose centre ((i + ½)·dx) lies inside it.
/// Errors (as text) when the rectangle is inverted, leaves the domain or
/// holds no site centre.
pub fn block_reduction(
    grid: &GridShape,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
) -> Result<Reduction, ObserveError> {
    let (w, h) = (grid.nx as f64 * grid.dx, grid.ny as f64 * grid.dx);
    let all_finite = [x0, y0, x1, y1].iter().all(|v| v.is_finite());
    if !all_finite || x0 >= x1 || y0 >= y1 {
        return Err(
            format!("block [{x0}, {x1}]×[{y0}, {y1}] is empty: need x0 < x1 and y0 < y1").into(),
        );
    }
    if x0 < 0.0 || y0 < 0.0 || x1 > w || y1 > h {
        return Err(
            format!("block [{x0}, {x1}]×[{y0}, {y1}] leaves the domain [0, {w}]×[0, {h}]").into(),
        );
    }
    // Site i's centre (i + ½)·dx lies in [a, b] for i in [ceil(a/dx − ½), floor(b/dx − ½)].
    let range = |a: f64, b: f64, n: u32| {
        let lo = (a / grid.dx - 0.5).ceil().max(0.0) as u32;
        let hi = ((b / grid.dx - 0.5).floor() as i64).min(n as i64 - 1);
        (hi >= lo as i64).then(|| (lo, hi as u32 - lo + 1))
    };
    match (range(x0, x1, grid.nx), range(y0, y1, grid.ny)) {
        (Some((ix, nw)), Some((iy, nh))) => Ok(Reduction::BlockMean {
            x0: ix,
            y0: iy,
            w: nw,
            h: nh,
        }),
        _ => Err(format!(
            "block [{x0}, {x1}]×[{y0}, {y1}] holds no site centre (sites are {} wide)",
            grid.dx
        )
        .into()),
    }
}

/// One reduction the GPU computes.
#[derive(Clone, Debug, PartialEq)]
pub struct ObsOp {
    pub name: String,
    pub field: u32,
    pub reduction: Reduction,
    pub unit: String,
    pub description: String,
}

/// An observable derived on the host: time of the first upward crossing of
/// `threshold` by observable `of` (linear interpolation between recorded
/// steps; null before the crossing).
#[derive(Clone, Debug, PartialEq)]
pub struct FirstCrossing {
    pub name: String,
    pub of: usize,
    pub threshold: f64,
    pub unit: String,
    pub description: String,
}

/// Every observable of a plan, in output order: GPU reductions first, then
/// derived ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservableSet {
    pub ops: Vec<ObsOp>,
    pub derived: Vec<FirstCrossing>,
}

impl ObservableSet {
    pub fn names(&self) -> Vec<String> {
        self.ops
            .iter()
            .map(|o| o.name.clone())
            .chain(self.derived.iter().map(|d| d.name.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.ops.len() + self.derived.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (name, unit, description) of every observable in output order.
    pub fn describe(&self) -> Vec<(String, String, String)> {
        self.ops
            .iter()
            .map(|o| (o.name.clone(), o.unit.clone(), o.description.clone()))
            .chain(
                self.derived
                    .iter()
                    .map(|d| (d.name.clone(), d.unit.clone(), d.description.clone())),
            )
            .collect()
    }

    /// Builds the set from scene entries. `preset` are the model's own
    /// observables (`Model::preset_observables`), always first. `fields` are
    /// (name, unit) of the model's fields. A scene with no observables and
    /// a model without presets gets total and max of every field.
    /// Errors are (dotted key, message).
    pub fn from_specs(
        preset: Vec<ObsOp>,
        specs: &[ObservableSpec],
        fields: &[(String, String)],
        grid: &GridShape,
        length_unit: &str,
        time_unit: &str,
    ) -> Result<ObservableSet, (String, String)> {
        let mut set = ObservableSet {
            ops: preset,
            derived: Vec::new(),
        };
        let default_specs;
        let specs = if specs.is_empty() && set.ops.is_empty() {
            default_specs = fields
                .iter()
                .flat_map(|(f, _)| {
                    [ObsKind::Total, ObsKind::Max].map(|kind| ObservableSpec {
                        name: None,
                        kind,
                        field: Some(f.clone()),
                        threshold: None,
                        at: None,
                        region: None,
                        of: None,
                    })
                })
                .collect::<Vec<_>>();
            &default_specs[..]
        } else {
            specs
        };
        let mut pending = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let key = |k: &str| format!("observables.{i}.{k}");
            // Thresholds are compared in f32 on both backends.
            if let Some(t) = s.threshold
                && !(t as f32).is_finite()
            {
                return Err((
                    key("threshold"),
                    format!(
                        "threshold must be a finite number within ±{:e} (f32), got {t:e}",
                        f32::MAX
                    ),
                ));
            }
            if s.kind == ObsKind::FirstCrossing {
                let of =
                    s.of.clone()
                        .ok_or_else(|| (key("of"), "first_crossing needs `of`".to_string()))?;
                let thr = s.threshold.ok_or_else(|| {
                    (
                        key("threshold"),
                        "first_crossing needs `threshold`".to_string(),
                    )
                })?;
                let name = s
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("first_crossing_{of}_{thr}"));
                pending.push((i, name, of, thr));
                continue;
            }
            let fname = s
                .field
                .clone()
                .ok_or_else(|| (key("field"), format!("`{:?}` needs a `field`", s.kind)))?;
            let (fidx, (fname, funit)) = fields
                .iter()
                .enumerate()
                .find(|(_, (n, _))| *n == fname)
                .ok_or_else(|| {
                    (
                        key("field"),
                        format!(
                            "unknown field `{fname}`; the model has {}",
                            fields
                                .iter()
                                .map(|f| f.0.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
            let (reduction, default_name, unit, description) = match s.kind {
                ObsKind::Total => (
                    Reduction::Total,
                    format!("total_{fname}"),
                    format!("{funit}·{length_unit}²"),
                    format!("integral of {fname} over the domain"),
                ),
                ObsKind::Mean => (
                    Reduction::Mean,
                    format!("mean_{fname}"),
                    funit.clone(),
                    format!("mean of {fname} over all sites"),
                ),
                ObsKind::Max => (
                    Reduction::Max,
                    format!("max_{fname}"),
                    funit.clone(),
                    format!("largest value of {fname}"),
                ),
                ObsKind::Min => (
                    Reduction::Min,
                    format!("min_{fname}"),
                    funit.clone(),
                    format!("smallest value of {fname}"),
                ),
                ObsKind::AreaAbove => {
                    let t = s.threshold.ok_or_else(|| {
                        (key("threshold"), "area_above needs `threshold`".to_string())
                    })?;
                    (
                        Reduction::AreaAbove(t as f32),
                        format!("area_{fname}_above_{t}"),
                        format!("{length_unit}²"),
                        format!("area where {fname} > {t}"),
                    )
                }
                ObsKind::Probe => {
                    let [x, y] =
                        s.at.ok_or_else(|| (key("at"), "probe needs `at = [x, y]`".to_string()))?;
                    (
                        probe_reduction(grid, x, y).map_err(|m| (key("at"), m.into()))?,
                        format!("{fname}_at_{x}_{y}"),
                        funit.clone(),
                        format!("{fname} at the site containing ({x}, {y})"),
                    )
                }
                ObsKind::BlockMean => {
                    let [x0, y0, x1, y1] = s.region.ok_or_else(|| {
                        (
                            key("region"),
                            "block_mean needs `region = [x0, y0, x1, y1]`".to_string(),
                        )
                    })?;
                    (
                        block_reduction(grid, x0, y0, x1, y1)
                            .map_err(|m| (key("region"), m.into()))?,
                        format!("{fname}_block_{x0}_{y0}_{x1}_{y1}"),
                        funit.clone(),
                        format!(
                            "mean of {fname} over the sites centred in [{x0}, {x1}]×[{y0}, {y1}]"
                        ),
                    )
                }
                ObsKind::FirstCrossing => unreachable!(),
            };
            set.ops.push(ObsOp {
                name: s.name.clone().unwrap_or(default_name),
                field: fidx as u32,
                reduction,
                unit,
                description,
            });
        }
        for (i, name, of, thr) in pending {
            let idx = set.ops.iter().position(|o| o.name == of).ok_or_else(|| {
                (
                    format!("observables.{i}.of"),
                    format!("`of` names `{of}`, which is not a reduction observable"),
                )
            })?;
            set.derived.push(FirstCrossing {
                description: format!("time at which {of} first rises above {thr} (null before)"),
                name,
                of: idx,
                threshold: thr,
                unit: time_unit.to_string(),
            });
        }
        let names = set.names();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err((
                    "observables".into(),
                    format!("two observables are named `{n}`; give them unique names"),
                ));
            }
        }
        Ok(set)
    }
}
