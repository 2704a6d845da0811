//! Observation operators on a regular 2-D grid: point probes (bilinear),
//! block averages (coarse imaging; area-weighted) and scalar reductions
//! (sum, mean, integral; e.g. tumour burden). All three are linear, so each
//! is held as sparse cell weights: the CPU reference here and a GPU kernel
//! can apply the same list to every member. Owns the grid convention and the
//! weights; knows nothing of which field or model an observable refers to.
//!
//! Grid convention: `nx × ny` cells of size `dx × dy` with the domain's
//! corner at (0, 0); cell (ix, iy) covers [ix dx, (ix+1) dx] × [iy dy,
//! (iy+1) dy], its value sits at the centre, and its index is iy·nx + ix
//! (x fastest).

use nalgebra::DMatrix;

use super::error::AssimError;
use super::obs_file::Location;

/// A regular 2-D grid of cell-centred values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid2 {
    pub nx: usize,
    pub ny: usize,
    pub dx: f64,
    pub dy: f64,
}

/// How a scalar (location-less) observable reduces the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// Σ cells.
    Sum,
    /// Σ cells / number of cells.
    Mean,
    /// Σ cells × cell area.
    Integral,
}

/// A linear observation operator: Σ weight × field[cell].
#[derive(Clone, Debug, PartialEq)]
pub struct LinearObs {
    pub weights: Vec<(usize, f64)>,
}

impl LinearObs {
    /// The operator applied to one field.
    pub fn apply(&self, field: &[f64]) -> f64 {
        self.weights.iter().map(|&(c, w)| w * field[c]).sum()
    }
}

impl Grid2 {
    fn cells(&self) -> usize {
        self.nx * self.ny
    }

    fn extent(&self) -> (f64, f64) {
        (self.nx as f64 * self.dx, self.ny as f64 * self.dy)
    }

    /// The operator for an observation location; `scalar` says how a
    /// location-less observable reduces the field.
    pub fn operator(
        &self,
        location: &Location,
        scalar: Reduction,
    ) -> Result<LinearObs, AssimError> {
        if self.nx == 0 || self.ny == 0 || !(self.dx > 0.0 && self.dy > 0.0) {
            return Err(AssimError::config(
                "grid",
                format!("{self:?}"),
                "needs cells of positive size",
            ));
        }
        match *location {
            Location::Scalar => Ok(self.reduction(scalar)),
            Location::Probe { x, y } => self.probe(x, y),
            Location::Block { x0, y0, x1, y1 } => self.block(x0, y0, x1, y1),
        }
    }

    fn reduction(&self, kind: Reduction) -> LinearObs {
        let w = match kind {
            Reduction::Sum => 1.0,
            Reduction::Mean => 1.0 / self.cells() as f64,
            Reduction::Integral => self.dx * self.dy,
        };
        LinearObs {
            weights: (0..self.cells()).map(|c| (c, w)).collect(),
        }
    }

    /// Bilinear interpolation between the four surrounding cell centres;
    /// between the outermost centres and the boundary the value is held.
    fn probe(&self, x: f64, y: f64) -> Result<LinearObs, AssimError> {
        let (lx, ly) = self.extent();
        if !(0.0..=lx).contains(&x) || !(0.0..=ly).contains(&y) {
            return Err(AssimError::config(
                "probe location",
                format!("{x};{y}"),
                "outside the domain",
            ));
        }
        // Position in units of cells, relative to the first centre.
        let axis = |p: f64, d: f64, n: usize| {
            let s = (p / d - 0.5).clamp(0.0, (n - 1) as f64);
            let i0 = (s.floor() as usize).min(n.saturating_sub(2));
            let i1 = (i0 + 1).min(n - 1);
            let t = if i1 == i0 { 0.0 } else { s - i0 as f64 };
            (i0, i1, t)
        };
        let (ix0, ix1, tx) = axis(x, self.dx, self.nx);
        let (iy0, iy1, ty) = axis(y, self.dy, self.ny);
        let mut weights = Vec::with_capacity(4);
        for (iy, wy) in [(iy0, 1.0 - ty), (iy1, ty)] {
            for (ix, wx) in [(ix0, 1.0 - tx), (ix1, tx)] {
                let w = wx * wy;
                if w != 0.0 {
                    add(&mut weights, iy * self.nx + ix, w);
                }
            }
        }
        Ok(LinearObs { weights })
    }

    /// Area-weighted average over the cells the rectangle overlaps (clipped
    /// to the domain).
    fn block(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> Result<LinearObs, AssimError> {
        let (lx, ly) = self.extent();
        let (cx0, cx1, cy0, cy1) = (x0.max(0.0), x1.min(lx), y0.max(0.0), y1.min(ly));
        if !(cx1 > cx0 && cy1 > cy0) {
            return Err(AssimError::config(
                "block location",
                format!("{x0};{y0};{x1};{y1}"),
                "does not overlap the domain",
            ));
        }
        let overlap = |lo: f64, hi: f64, d: f64, i: usize| {
            let (a, b) = (i as f64 * d, (i + 1) as f64 * d);
            (hi.min(b) - lo.max(a)).max(0.0)
        };
        let range = |lo: f64, hi: f64, d: f64, n: usize| {
            let first = ((lo / d).floor() as usize).min(n - 1);
            let last = ((hi / d).ceil() as usize).clamp(first + 1, n);
            first..last
        };
        let area = (cx1 - cx0) * (cy1 - cy0);
        let mut weights = Vec::new();
        for iy in range(cy0, cy1, self.dy, self.ny) {
            let oy = overlap(cy0, cy1, self.dy, iy);
            for ix in range(cx0, cx1, self.dx, self.nx) {
                let w = overlap(cx0, cx1, self.dx, ix) * oy / area;
                if w > 0.0 {
                    weights.push((iy * self.nx + ix, w));
                }
            }
        }
        Ok(LinearObs { weights })
    }
}

/// Adds `w` to the weight of `cell`, merging repeated cells.
fn add(weights: &mut Vec<(usize, f64)>, cell: usize, w: f64) {
    match weights.iter_mut().find(|(c, _)| *c == cell) {
        Some(entry) => entry.1 += w,
        None => weights.push((cell, w)),
    }
}

/// HX for an ensemble of fields (cells × N, column = member): m × N.
pub fn apply_all(ops: &[LinearObs], fields: &DMatrix<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(ops.len(), fields.ncols(), |k, j| {
        ops[k].apply(fields.column(j).as_slice())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: Grid2 = Grid2 {
        nx: 4,
        ny: 3,
        dx: 2.0,
        dy: 1.0,
    };

    /// f(x, y) = 3 + 2x − y sampled at the cell centres.
    fn linear_field() -> Vec<f64> {
        (0..12)
            .map(|c| {
                let (ix, iy) = (c % 4, c / 4);
                3.0 + 2.0 * (ix as f64 + 0.5) * 2.0 - (iy as f64 + 0.5)
            })
            .collect()
    }

    /// Bilinear interpolation is exact for a linear field inside the hull of
    /// the centres, and holds the edge value outside it.
    #[test]
    fn probe_is_exact_for_linear_fields() {
        let f = linear_field();
        let at = |x: f64, y: f64| {
            GRID.operator(&Location::Probe { x, y }, Reduction::Sum)
                .unwrap()
                .apply(&f)
        };
        assert!((at(3.3, 1.7) - (3.0 + 6.6 - 1.7)).abs() < 1e-12);
        assert!((at(1.0, 0.5) - (3.0 + 2.0 - 0.5)).abs() < 1e-12);
        // Left of the first centre (x < 1): held at x = 1.
        assert!((at(0.2, 1.5) - (3.0 + 2.0 - 1.5)).abs() < 1e-12);
        assert!(
            GRID.operator(&Location::Probe { x: 9.0, y: 1.0 }, Reduction::Sum)
                .is_err()
        );
    }

    /// A block's weights are the overlap fractions and sum to 1; the block
    /// average of a linear field over whole cells is its value at the centre.
    #[test]
    fn block_weights_are_area_fractions() {
        let f = linear_field();
        let op = GRID
            .operator(
                &Location::Block {
                    x0: 1.0,
                    y0: 0.0,
                    x1: 5.0,
                    y1: 2.0,
                },
                Reduction::Sum,
            )
            .unwrap();
        let total: f64 = op.weights.iter().map(|w| w.1).sum();
        assert!((total - 1.0).abs() < 1e-12);
        // Cells ix = 0 and 2 are half covered, ix = 1 fully: weights 1/8, 1/4.
        let w_of = |c: usize| op.weights.iter().find(|w| w.0 == c).map_or(0.0, |w| w.1);
        assert!((w_of(0) - 0.125).abs() < 1e-12 && (w_of(1) - 0.25).abs() < 1e-12);
        let whole = GRID
            .operator(
                &Location::Block {
                    x0: 0.0,
                    y0: 0.0,
                    x1: 8.0,
                    y1: 3.0,
                },
                Reduction::Sum,
            )
            .unwrap();
        assert!((whole.apply(&f) - (3.0 + 8.0 - 1.5)).abs() < 1e-12);
        assert!(
            GRID.operator(
                &Location::Block {
                    x0: 9.0,
                    y0: 0.0,
                    x1: 10.0,
                    y1: 1.0
                },
                Reduction::Sum
            )
            .is_err()
        );
    }

    #[test]
    fn scalar_reductions() {
        let f = vec![1.0; 12];
        let op = |r| GRID.operator(&Location::Scalar, r).unwrap().apply(&f);
        assert_eq!(op(Reduction::Sum), 12.0);
        assert_eq!(op(Reduction::Mean), 1.0);
        assert_eq!(op(Reduction::Integral), 24.0);
        let fields = DMatrix::from_fn(12, 2, |_, j| j as f64 + 1.0);
        let ops = [GRID.operator(&Location::Scalar, Reduction::Mean).unwrap()];
        assert_eq!(
            apply_all(&ops, &fields),
            DMatrix::from_row_slice(1, 2, &[1.0, 2.0])
        );
    }
}
