//! Dense f64 linear algebra of the analyses, with the library chosen by size:
//! nalgebra for the small matrices of everyday problems, faer (blocked,
//! multi-threaded) for eigendecompositions from `THREADED` rows up and for
//! products from `THREADED_WORK` multiply-adds up, where the work is worth
//! splitting across cores.
//! Owns that choice; the algebra of the filters is in their own modules.
//!
//! Matrices stay `nalgebra::DMatrix` (column-major); faer reads and writes
//! their storage in place through column-major views.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par, Side};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// From this dimension on, eigendecompositions go to faer with threads
/// (below it nalgebra's unblocked routine is as fast and starts none).
pub const THREADED: usize = 256;

/// Products of at least this many multiply-adds go to faer with threads.
/// faer's workers spin between jobs, which costs the engine's own threads
/// CPU time: measured on the 2-core machine, sending the twin's small
/// products (1,026 × 1,000 × 6) to faer doubled the 52-analysis twin's CPU
/// time, so only products worth ≳ 20 ms on one core are threaded.
pub const THREADED_WORK: f64 = 1.0e8;

fn threaded(m: usize, k: usize, n: usize) -> bool {
    m as f64 * k as f64 * n as f64 >= THREADED_WORK
}

fn view(a: &DMatrix<f64>) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(a.as_slice(), a.nrows(), a.ncols())
}

fn view_mut(a: &mut DMatrix<f64>) -> MatMut<'_, f64> {
    let (r, c) = (a.nrows(), a.ncols());
    MatMut::from_column_major_slice_mut(a.as_mut_slice(), r, c)
}

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix; `None` when
/// the iteration fails.
pub fn sym_eigen(a: DMatrix<f64>) -> Option<(DVector<f64>, DMatrix<f64>)> {
    let n = a.nrows();
    if n < THREADED {
        let e = SymmetricEigen::try_new(a, f64::EPSILON, 0)?;
        return Some((e.eigenvalues, e.eigenvectors));
    }
    let e = view(&a).self_adjoint_eigen(Side::Lower).ok()?;
    let s = e.S().column_vector();
    let values = DVector::from_fn(n, |i, _| s[i]);
    let u = e.U();
    let vectors = DMatrix::from_fn(n, n, |i, j| u[(i, j)]);
    Some((values, vectors))
}

/// A B, threaded from `THREADED_WORK` multiply-adds.
pub fn mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    assert_eq!(a.ncols(), b.nrows(), "inner dimensions");
    if !threaded(a.nrows(), a.ncols(), b.ncols()) {
        return a * b;
    }
    let mut c = DMatrix::zeros(a.nrows(), b.ncols());
    matmul(
        view_mut(&mut c),
        Accum::Replace,
        view(a),
        view(b),
        1.0,
        Par::rayon(0),
    );
    c
}

/// C += A B, threaded from `THREADED_WORK` multiply-adds.
pub fn mul_add(c: &mut DMatrix<f64>, a: &DMatrix<f64>, b: &DMatrix<f64>) {
    assert_eq!(a.ncols(), b.nrows(), "inner dimensions");
    assert_eq!((c.nrows(), c.ncols()), (a.nrows(), b.ncols()), "shapes");
    if !threaded(a.nrows(), a.ncols(), b.ncols()) {
        c.gemm(1.0, a, b, 1.0);
        return;
    }
    matmul(
        view_mut(c),
        Accum::Add,
        view(a),
        view(b),
        1.0,
        Par::rayon(0),
    );
}

/// Aᵀ B, threaded from `THREADED_WORK` multiply-adds.
pub fn tr_mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    assert_eq!(a.nrows(), b.nrows(), "inner dimensions");
    if !threaded(a.ncols(), a.nrows(), b.ncols()) {
        return a.tr_mul(b);
    }
    let mut c = DMatrix::zeros(a.ncols(), b.ncols());
    matmul(
        view_mut(&mut c),
        Accum::Replace,
        view(a).transpose(),
        view(b),
        1.0,
        Par::rayon(0),
    );
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::gauss::std_normal_matrix;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Both paths (small: nalgebra; large: faer) give V diag(λ) Vᵀ = A and
    /// orthonormal V to 1e-10 relative, and the products agree with
    /// nalgebra's to 1e-12 relative.
    #[test]
    fn both_paths_reconstruct() {
        let mut rng = StdRng::seed_from_u64(1);
        // 7: nalgebra everywhere; 480: faer for the eigendecomposition and
        // for the n × n × n products (1.1e8 multiply-adds).
        for n in [7, 480] {
            let g = std_normal_matrix(&mut rng, n, n);
            let a = &g + g.transpose();
            let (l, v) = sym_eigen(a.clone()).unwrap();
            let back = &v * DMatrix::from_diagonal(&l) * v.transpose();
            let scale = a.abs().max();
            assert!((&back - &a).abs().max() < 1e-10 * scale, "n = {n}");
            let eye = v.transpose() * &v - DMatrix::identity(n, n);
            assert!(eye.abs().max() < 1e-10, "n = {n}");
            assert_eq!(threaded(n, n, n), n == 480);
            let b = std_normal_matrix(&mut rng, n, n);
            let want = &a * &b;
            assert!((mul(&a, &b) - &want).abs().max() < 1e-12 * want.abs().max());
            let want = a.transpose() * &g;
            assert!((tr_mul(&a, &g) - &want).abs().max() < 1e-12 * want.abs().max());
            let mut acc = g.clone();
            mul_add(&mut acc, &a, &g);
            let want = &g + &a * &g;
            assert!((acc - &want).abs().max() < 1e-12 * want.abs().max());
        }
    }
}
