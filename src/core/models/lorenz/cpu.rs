//! CPU twins of `shaders/lorenz/l96.wgsl` and `shaders/lorenz/l63.wgsl`:
//! one classical RK4 step in f32, written in the same operation order as
//! the WGSL (constants `dt/2` and `dt/6` rounded to f32 once, on the host).

/// Largest Lorenz-96 dimension the GPU kernel supports (its private arrays
/// are sized by the plan's n, so this bounds per-thread memory).
pub const MAX_L96: usize = 1024;

/// Step constants shared with the WGSL header.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rk4Consts {
    pub dt: f32,
    pub half_dt: f32,
    pub sixth_dt: f32,
}

impl Rk4Consts {
    pub fn new(dt: f64) -> Self {
        let dt = dt as f32;
        Rk4Consts {
            dt,
            half_dt: 0.5 * dt,
            sixth_dt: dt / 6.0,
        }
    }
}

/// Lorenz-96 tendency: dxᵢ = (xᵢ₊₁ − xᵢ₋₂) xᵢ₋₁ − xᵢ + F, periodic.
fn l96_tendency(x: &[f32], f: f32, dx: &mut [f32]) {
    let n = x.len();
    for i in 0..n {
        let ip1 = if i + 1 == n { 0 } else { i + 1 };
        let im1 = if i == 0 { n - 1 } else { i - 1 };
        let im2 = if i >= 2 { i - 2 } else { i + n - 2 };
        dx[i] = (x[ip1] - x[im2]) * x[im1] - x[i] + f;
    }
}

/// One RK4 step of Lorenz-96 with forcing `f`: `src` → `dst`.
pub fn l96_step(c: &Rk4Consts, f: f32, src: &[f32], dst: &mut [f32]) {
    let n = src.len();
    let mut k1 = vec![0.0f32; n];
    let mut k2 = vec![0.0f32; n];
    let mut k3 = vec![0.0f32; n];
    let mut k4 = vec![0.0f32; n];
    let mut tmp = vec![0.0f32; n];
    l96_tendency(src, f, &mut k1);
    for i in 0..n {
        tmp[i] = src[i] + c.half_dt * k1[i];
    }
    l96_tendency(&tmp, f, &mut k2);
    for i in 0..n {
        tmp[i] = src[i] + c.half_dt * k2[i];
    }
    l96_tendency(&tmp, f, &mut k3);
    for i in 0..n {
        tmp[i] = src[i] + c.dt * k3[i];
    }
    l96_tendency(&tmp, f, &mut k4);
    for i in 0..n {
        dst[i] = src[i] + c.sixth_dt * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
    }
}

/// Lorenz-63 tendency with (σ, ρ, β).
fn l63_tendency(x: [f32; 3], p: [f32; 3]) -> [f32; 3] {
    [
        p[0] * (x[1] - x[0]),
        x[0] * (p[1] - x[2]) - x[1],
        x[0] * x[1] - p[2] * x[2],
    ]
}

fn axpy(x: [f32; 3], a: f32, k: [f32; 3]) -> [f32; 3] {
    [x[0] + a * k[0], x[1] + a * k[1], x[2] + a * k[2]]
}

/// One RK4 step of Lorenz-63 with parameters (σ, ρ, β): `src` → `dst`.
pub fn l63_step(c: &Rk4Consts, p: [f32; 3], src: &[f32], dst: &mut [f32]) {
    let x = [src[0], src[1], src[2]];
    let k1 = l63_tendency(x, p);
    let k2 = l63_tendency(axpy(x, c.half_dt, k1), p);
    let k3 = l63_tendency(axpy(x, c.half_dt, k2), p);
    let k4 = l63_tendency(axpy(x, c.dt, k3), p);
    for i in 0..3 {
        dst[i] = x[i] + c.sixth_dt * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::assim::lorenz::{Lorenz63, Lorenz96};
    use crate::methods::assim::testbed::Forecast;
    use nalgebra::DMatrix;

    /// The f32 step follows the f64 reference integrator of `assim::lorenz`
    /// over a short horizon: after 0.5 time units (L96: 10 steps, L63: 50)
    /// the difference is at f32 round-off amplified by the flow (< 1e-4
    /// relative to the state's size).
    #[test]
    fn f32_steps_follow_the_f64_reference() {
        let c = Rk4Consts::new(0.05);
        let x0: Vec<f64> = (0..40)
            .map(|i| 8.0 + if i == 0 { 1.0 } else { 0.01 * i as f64 })
            .collect();
        let mut a: Vec<f32> = x0.iter().map(|&v| v as f32).collect();
        let mut b = a.clone();
        for _ in 0..10 {
            l96_step(&c, 8.0, &a, &mut b);
            std::mem::swap(&mut a, &mut b);
        }
        let mut e = DMatrix::from_column_slice(40, 1, &x0);
        Lorenz96::standard().forecast(&mut e, 10);
        let err = a
            .iter()
            .zip(e.iter())
            .map(|(&x, &y)| (x as f64 - y).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-4 * 8.0, "L96 max error {err}");

        let c = Rk4Consts::new(0.01);
        let x0 = [1.509f64, -1.531, 25.46];
        let mut a: Vec<f32> = x0.iter().map(|&v| v as f32).collect();
        let mut b = a.clone();
        for _ in 0..50 {
            l63_step(&c, [10.0, 28.0, 8.0 / 3.0], &a, &mut b);
            std::mem::swap(&mut a, &mut b);
        }
        let mut e = DMatrix::from_column_slice(3, 1, &x0);
        Lorenz63::standard().forecast(&mut e, 50);
        let err = a
            .iter()
            .zip(e.iter())
            .map(|(&x, &y)| (x as f64 - y).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-4 * 25.0, "L63 max error {err}");
    }

    /// x = F everywhere is a fixed point of Lorenz-96 in f32 too.
    #[test]
    fn l96_fixed_point() {
        let c = Rk4Consts::new(0.05);
        let a = vec![8.0f32; 40];
        let mut b = vec![0.0f32; 40];
        l96_step(&c, 8.0, &a, &mut b);
        assert_eq!(a, b);
    }
}
