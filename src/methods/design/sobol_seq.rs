//! The Sobol low-discrepancy sequence in base 2, 32-bit, with Joe–Kuo
//! direction numbers (`new-joe-kuo-6.21201`, up to [`MAX_SOBOL_DIMS`]
//! dimensions), generated in Gray-code order (Antonov–Saleev) with point 0
//! (the origin) kept, and optional Owen scrambling.
//!
//! Owen scrambling here is exact nested uniform scrambling (Owen 1995) of
//! the 32 leading binary digits: digit `k` of a coordinate is flipped when a
//! hash of `(seed, dimension, k, the k digits above it)` is odd, so every
//! node of the binary tree of intervals gets its own random flip. Below the
//! 32nd digit the point is spread uniformly in its cell by one more hash, so
//! scrambled coordinates are exactly uniform on [0, 1) and never 0.
//! Scrambling keeps the net properties of the sequence.
//!
//! Owns: unit-cube points only. Knows nothing of parameters or files.

use super::joe_kuo::JOE_KUO;

/// Number of dimensions the embedded direction-number table supports.
pub const MAX_SOBOL_DIMS: usize = JOE_KUO.len() + 1;

const BITS: usize = 32;
const TWO_POW_32: f64 = 4_294_967_296.0;

/// The 32 direction integers `v_1 … v_32` of one dimension (0-based),
/// left-aligned in a `u32`: `v_k = m_k · 2^(32 − k)`.
pub fn direction_numbers(dim: usize) -> Option<[u32; BITS]> {
    let mut v = [0u32; BITS];
    if dim == 0 {
        for (k, vk) in v.iter_mut().enumerate() {
            *vk = 1 << (31 - k);
        }
        return Some(v);
    }
    let &(s, a, m) = JOE_KUO.get(dim - 1)?;
    let s = s as usize;
    for k in 0..s.min(BITS) {
        v[k] = m[k] << (31 - k);
    }
    // Bratley–Fox recurrence with the polynomial's inner coefficients `a`.
    for k in s..BITS {
        let mut x = v[k - s] ^ (v[k - s] >> s);
        for j in 1..s {
            if (a >> (s - 1 - j)) & 1 == 1 {
                x ^= v[k - j];
            }
        }
        v[k] = x;
    }
    Some(v)
}

/// Owen-scrambling settings: `None` gives the plain sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scramble {
    pub seed: u64,
}

/// The first `n` points of the `dims`-dimensional Sobol sequence (point 0
/// included), each row a point in [0, 1)^dims. Returns `None` when `dims`
/// exceeds [`MAX_SOBOL_DIMS`] or `n` exceeds 2^32.
pub fn sobol_points(n: usize, dims: usize, scramble: Option<Scramble>) -> Option<Vec<Vec<f64>>> {
    if dims > MAX_SOBOL_DIMS || (n as u64) > (1u64 << 32) {
        return None;
    }
    let dirs: Vec<[u32; BITS]> = (0..dims).map(direction_numbers).collect::<Option<_>>()?;
    let mut x = vec![0u32; dims];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 {
            // Gray code: point i differs from point i − 1 by the direction
            // number of the lowest zero bit of i − 1.
            let c = (i - 1).trailing_ones() as usize;
            for (xd, v) in x.iter_mut().zip(&dirs) {
                *xd ^= v[c];
            }
        }
        let row = x
            .iter()
            .enumerate()
            .map(|(d, &xd)| match scramble {
                None => xd as f64 / TWO_POW_32,
                Some(s) => owen_scramble(xd, d as u64, s.seed),
            })
            .collect();
        out.push(row);
    }
    Some(out)
}

/// Nested uniform scrambling of one 32-bit coordinate, returned in (0, 1).
fn owen_scramble(x: u32, dim: u64, seed: u64) -> f64 {
    let base = mix(seed ^ mix(dim.wrapping_add(0x9E37_79B9_7F4A_7C15)));
    let mut out = 0u32;
    for k in 0..BITS {
        // The k digits above digit k identify the node of the tree.
        let prefix = if k == 0 { 0 } else { (x >> (BITS - k)) as u64 };
        let node = mix(base ^ mix(((k as u64) << 32) | prefix));
        let bit = 31 - k;
        out |= (((x >> bit) & 1) ^ (node as u32 & 1)) << bit;
    }
    let tail = mix(base ^ mix((BITS as u64) << 32 | x as u64));
    let frac = (tail >> 11) as f64 / (1u64 << 53) as f64;
    ((out as f64 + frac) / TWO_POW_32).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0)
}

/// SplitMix64's finaliser: a strong 64-bit mixing function.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 12 points in 6 dimensions of the Sobol' sequence with the
    /// Joe & Kuo (2008) direction numbers (file new-joe-kuo-6.21201),
    /// unscrambled, Gray-code order, point 0 kept.
    const REFERENCE_POINTS: [[f64; 6]; 12] = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
        [0.75, 0.25, 0.25, 0.25, 0.75, 0.75],
        [0.25, 0.75, 0.75, 0.75, 0.25, 0.25],
        [0.375, 0.375, 0.625, 0.875, 0.375, 0.125],
        [0.875, 0.875, 0.125, 0.375, 0.875, 0.625],
        [0.625, 0.125, 0.875, 0.625, 0.625, 0.875],
        [0.125, 0.625, 0.375, 0.125, 0.125, 0.375],
        [0.1875, 0.3125, 0.9375, 0.4375, 0.5625, 0.3125],
        [0.6875, 0.8125, 0.4375, 0.9375, 0.0625, 0.8125],
        [0.9375, 0.0625, 0.6875, 0.1875, 0.3125, 0.5625],
        [0.4375, 0.5625, 0.1875, 0.6875, 0.8125, 0.0625],
    ];

    #[test]
    fn unscrambled_points_equal_the_reference_exactly() {
        let p = sobol_points(12, 6, None).unwrap();
        for (i, (row, want)) in p.iter().zip(REFERENCE_POINTS.iter()).enumerate() {
            assert_eq!(row.as_slice(), want.as_slice(), "point {i}");
        }
    }

    /// Direction numbers (s, a, m) for dimensions 2..10 as published by
    /// Joe & Kuo (2008), "Constructing Sobol sequences with better
    /// two-dimensional projections", SIAM J. Sci. Comput. 30(5).
    #[test]
    fn table_starts_with_the_reference_direction_numbers() {
        let want: [(u32, u32, &[u32]); 9] = [
            (1, 0, &[1]),
            (2, 1, &[1, 3]),
            (3, 1, &[1, 3, 1]),
            (3, 2, &[1, 1, 1]),
            (4, 1, &[1, 1, 3, 3]),
            (4, 4, &[1, 3, 5, 13]),
            (5, 2, &[1, 1, 5, 5, 17]),
            (5, 4, &[1, 1, 5, 5, 5]),
            (5, 7, &[1, 1, 7, 11, 19]),
        ];
        assert_eq!(&JOE_KUO[..9], &want);
    }

    /// Every entry is a well-formed Joe–Kuo row: degree s ≥ 1, non-decreasing
    /// with the dimension, `a` has s − 1 bits, each m_k odd and < 2^k, and no
    /// two dimensions share a polynomial.
    #[test]
    fn table_entries_are_well_formed() {
        let mut seen = std::collections::HashSet::new();
        let mut last_s = 0;
        for (i, &(s, a, m)) in JOE_KUO.iter().enumerate() {
            assert!(s >= 1 && s >= last_s, "dimension {}", i + 2);
            assert!(a < 1 << (s - 1), "dimension {}", i + 2);
            assert_eq!(m.len(), s as usize, "dimension {}", i + 2);
            for (k, &mk) in m.iter().enumerate() {
                assert!(
                    mk % 2 == 1 && mk < 1 << (k + 1),
                    "dimension {} m_{}",
                    i + 2,
                    k + 1
                );
            }
            assert!(
                seen.insert((s, a)),
                "polynomial repeated at dimension {}",
                i + 2
            );
            last_s = s;
        }
        assert_eq!(MAX_SOBOL_DIMS, 1024);
    }

    /// The first 2^m points of every dimension put exactly one point in each
    /// interval [k/2^m, (k+1)/2^m): checks all 1024 direction-number sets.
    #[test]
    fn every_dimension_is_stratified() {
        let m = 10;
        let n = 1 << m;
        let p = sobol_points(n, MAX_SOBOL_DIMS, None).unwrap();
        for d in 0..MAX_SOBOL_DIMS {
            let mut hit = vec![false; n];
            for row in &p {
                let cell = (row[d] * n as f64) as usize;
                assert!(!hit[cell], "dimension {} cell {cell} hit twice", d + 1);
                hit[cell] = true;
            }
        }
    }

    /// The 2D projection of dimensions (1, 2) of the first 2^m points is a
    /// (0, m, 2)-net: every elementary box of area 2^-m holds one point.
    #[test]
    fn first_two_dimensions_form_a_zero_net() {
        for scramble in [None, Some(Scramble { seed: 7 })] {
            let m = 8;
            let n = 1usize << m;
            let p = sobol_points(n, 2, scramble).unwrap();
            for a in 0..=m {
                let (nx, ny) = (1usize << a, 1usize << (m - a));
                let mut count = vec![0; n];
                for row in &p {
                    let (i, j) = ((row[0] * nx as f64) as usize, (row[1] * ny as f64) as usize);
                    count[i * ny + j] += 1;
                }
                assert!(
                    count.iter().all(|&c| c == 1),
                    "boxes 2^-{a} × 2^-{}, {scramble:?}",
                    m - a
                );
            }
        }
    }

    /// Owen scrambling: keeps one point per 2^-m stratum, never yields 0,
    /// depends on the seed, and is reproducible for the same seed.
    #[test]
    fn scrambled_points_keep_strata_and_follow_the_seed() {
        let n = 1 << 9;
        let a = sobol_points(n, 5, Some(Scramble { seed: 1 })).unwrap();
        let b = sobol_points(n, 5, Some(Scramble { seed: 1 })).unwrap();
        let c = sobol_points(n, 5, Some(Scramble { seed: 2 })).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        for d in 0..5 {
            let mut hit = vec![false; n];
            for row in &a {
                assert!(row[d] > 0.0 && row[d] < 1.0);
                let cell = (row[d] * n as f64) as usize;
                assert!(!hit[cell], "dimension {d} cell {cell}");
                hit[cell] = true;
            }
        }
    }

    #[test]
    fn refuses_too_many_dimensions() {
        assert!(sobol_points(4, MAX_SOBOL_DIMS + 1, None).is_none());
        assert!(direction_numbers(MAX_SOBOL_DIMS).is_none());
    }
}
