//! Full factorial grids in the unit cube: `n` levels per dimension at
//! `i/(n−1)`, `i = 0 … n−1` (end points included; a single level sits at
//! 0.5). Rows run in lexicographic order, the first dimension slowest.
//! End points of unbounded distributions are clamped to `[ε, 1 − ε]` by the
//! parameter map, so they stay finite.
//!
//! Owns: unit-cube points only.

/// The level values of an `n`-level grid axis.
pub fn levels(n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![0.5];
    }
    (0..n).map(|i| i as f64 / (n - 1) as f64).collect()
}

/// All `n^d` grid points (the caller bounds `n^d`).
pub fn grid(n: usize, d: usize) -> Vec<Vec<f64>> {
    let axis = levels(n);
    let rows = n.pow(d as u32);
    (0..rows)
        .map(|mut r| {
            let mut row = vec![0.0; d];
            for j in (0..d).rev() {
                row[j] = axis[r % n];
                r /= n;
            }
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_lexicographic_with_end_points() {
        let g = grid(3, 2);
        assert_eq!(g.len(), 9);
        assert_eq!(g[0], [0.0, 0.0]);
        assert_eq!(g[1], [0.0, 0.5]);
        assert_eq!(g[3], [0.5, 0.0]);
        assert_eq!(g[8], [1.0, 1.0]);
        assert_eq!(grid(1, 3), vec![vec![0.5; 3]]);
        assert_eq!(levels(5), [0.0, 0.25, 0.5, 0.75, 1.0]);
    }
}
