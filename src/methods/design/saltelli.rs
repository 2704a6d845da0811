//! Saltelli's cross-sampling design for Sobol indices (Saltelli 2002, 2010),
//! in SALib's row order. From two base matrices A and B (the first and last
//! `D` columns of a `2D`-dimensional Sobol sequence, point 0 kept), each
//! base row `j` gives the block
//!
//! `A_j, AB_1j, …, AB_Dj, [BA_1j, …, BA_Dj,] B_j`
//!
//! where `AB_i` is A with column `i` taken from B and `BA_i` is B with
//! column `i` taken from A (second order only). So a base size `N` gives
//! `N(D+2)` rows, or `N(2D+2)` with second order.
//!
//! Owns: the layout of Saltelli designs (building and recognising it).

use super::sobol_seq::{Scramble, sobol_points};

/// Rows per base row: `D + 2`, or `2D + 2` with second order.
pub fn rows_per_base(d: usize, second_order: bool) -> usize {
    if second_order { 2 * d + 2 } else { d + 2 }
}

/// The Saltelli design of base size `n` over `d` dimensions, from a
/// `2d`-dimensional Sobol sequence; `None` when `2d` exceeds the table.
pub fn saltelli_design(
    n: usize,
    d: usize,
    second_order: bool,
    scramble: Option<Scramble>,
) -> Option<Vec<Vec<f64>>> {
    let base = sobol_points(n, 2 * d, scramble)?;
    let (a, b): (Vec<Vec<f64>>, Vec<Vec<f64>>) = base
        .into_iter()
        .map(|mut row| (row.drain(..d).collect(), row))
        .unzip();
    Some(saltelli_rows(&a, &b, second_order))
}

/// Interleaves base matrices `a` and `b` (same shape) into Saltelli's row
/// order.
pub fn saltelli_rows(a: &[Vec<f64>], b: &[Vec<f64>], second_order: bool) -> Vec<Vec<f64>> {
    let d = a.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(a.len() * rows_per_base(d, second_order));
    for (ra, rb) in a.iter().zip(b) {
        out.push(ra.clone());
        for i in 0..d {
            let mut ab = ra.clone();
            ab[i] = rb[i];
            out.push(ab);
        }
        if second_order {
            for i in 0..d {
                let mut ba = rb.clone();
                ba[i] = ra[i];
                out.push(ba);
            }
        }
        out.push(rb.clone());
    }
    out
}

/// Where the first row whose layout breaks Saltelli's order sits (0-based),
/// checking `rows` (over the `d` varying parameters) against the layout for
/// `second_order`; `None` when every block fits. Comparisons are exact: a
/// design read back from its CSV repeats values bit for bit.
pub fn first_mismatch(rows: &[Vec<f64>], d: usize, second_order: bool) -> Option<usize> {
    let per = rows_per_base(d, second_order);
    if !rows.len().is_multiple_of(per) {
        return Some(rows.len() - rows.len() % per);
    }
    for (blk, chunk) in rows.chunks(per).enumerate() {
        let (a, b) = (&chunk[0], &chunk[per - 1]);
        let fits = |row: &Vec<f64>, base: &Vec<f64>, other: &Vec<f64>, i: usize| {
            (0..d).all(|j| {
                if j == i {
                    row[j] == other[j]
                } else {
                    row[j] == base[j]
                }
            })
        };
        for i in 0..d {
            if !fits(&chunk[1 + i], a, b, i) {
                return Some(blk * per + 1 + i);
            }
            if second_order && !fits(&chunk[1 + d + i], b, a, i) {
                return Some(blk * per + 1 + d + i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row counts and SALib's order: A, AB_1..AB_D, [BA_1..BA_D,] B, with A
    /// and B the two halves of the 2D-dimensional Sobol point.
    #[test]
    fn rows_follow_salibs_order() {
        let (n, d) = (8, 3);
        let base = sobol_points(n, 2 * d, None).unwrap();
        for second_order in [false, true] {
            let rows = saltelli_design(n, d, second_order, None).unwrap();
            let per = rows_per_base(d, second_order);
            assert_eq!(rows.len(), n * if second_order { 8 } else { 5 });
            for (j, blk) in rows.chunks(per).enumerate() {
                let (a, b) = (&base[j][..d], &base[j][d..]);
                assert_eq!(blk[0], a);
                assert_eq!(blk[per - 1], b);
                for i in 0..d {
                    let mut ab = a.to_vec();
                    ab[i] = b[i];
                    assert_eq!(blk[1 + i], ab, "block {j} AB_{}", i + 1);
                    if second_order {
                        let mut ba = b.to_vec();
                        ba[i] = a[i];
                        assert_eq!(blk[1 + d + i], ba, "block {j} BA_{}", i + 1);
                    }
                }
            }
            assert_eq!(first_mismatch(&rows, d, second_order), None);
        }
    }

    /// A first-order design read as second order (and vice versa) is caught.
    #[test]
    fn layout_check_tells_the_orders_apart() {
        let d = 2;
        // 12 rows fit both N = 3 first order (4 per base) and N = 2 second
        // order (6 per base).
        let first = saltelli_design(3, d, false, None).unwrap();
        let second = saltelli_design(2, d, true, None).unwrap();
        assert_eq!(first.len(), 12);
        assert_eq!(second.len(), 12);
        assert_eq!(first_mismatch(&first, d, false), None);
        assert!(first_mismatch(&first, d, true).is_some());
        assert_eq!(first_mismatch(&second, d, true), None);
        assert!(first_mismatch(&second, d, false).is_some());
    }
}
