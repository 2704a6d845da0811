//! Dense f64 linear algebra of the analyses, with the library chosen by size:
//! nalgebra for the small matrices of everyday problems, faer (blocked,
//! multi-threaded through rayon) from `THREADED` rows up, where one
//! symmetric eigendecomposition or product is worth splitting across cores.
//! Owns that choice; the algebra of the filters is in their own modules.
//!
//! Matrices stay `nalgebra::DMatrix` (column-major); faer reads and writes
//! their storage in place through column-major views.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par, Side};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// From this dimension on, eigendecompositions and products go to faer with
/// rayon threads (measured on a 2-core machine: below it nalgebra's
/// unblocked routines are as fast and start no threads).
pub const THREADED: usize = 256;

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

/// A B, threaded when any dimension reaches `THREADED`.
pub fn mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    assert_eq!(a.ncols(), b.nrows(), "inner dimensions");
    if a.nrows().max(a.ncols()).max(b.ncols()) < THREADED {
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

/// C += A B, threaded when any dimension reaches `THREADED`.
pub fn mul_add(c: &mut DMatrix<f64>, a: &DMatrix<f64>, b: &DMatrix<f64>) {
    assert_eq!(a.ncols(), b.nrows(), "inner dimensions");
    assert_eq!((c.nrows(), c.ncols()), (a.nrows(), b.ncols()), "shapes");
    if a.nrows().max(a.ncols()).max(b.ncols()) < THREADED {
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

/// Aᵀ B, threaded when any dimension reaches `THREADED`.
pub fn tr_mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    assert_eq!(a.nrows(), b.nrows(), "inner dimensions");
    if a.nrows().max(a.ncols()).max(b.ncols()) < THREADED {
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
    use crate::assim::gauss::std_normal_matrix;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Both paths (small: nalgebra; large: faer) give V diag(λ) Vᵀ = A and
    /// orthonormal V to 1e-10 relative, and the products agree with
    /// nalgebra's to 1e-12 relative.
    #[test]
    fn both_paths_reconstruct() {
        let mut rng = StdRng::seed_from_u64(1);
        for n in [7, THREADED + 3] {
            let g = std_normal_matrix(&mut rng, n, n);
            let a = &g + g.transpose();
            let (l, v) = sym_eigen(a.clone()).unwrap();
            let back = &v * DMatrix::from_diagonal(&l) * v.transpose();
            let scale = a.abs().max();
            assert!((&back - &a).abs().max() < 1e-10 * scale, "n = {n}");
            let eye = v.transpose() * &v - DMatrix::identity(n, n);
            assert!(eye.abs().max() < 1e-10, "n = {n}");
            let b = std_normal_matrix(&mut rng, n, 5);
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
