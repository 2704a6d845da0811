//! Reference models for the data-assimilation benchmarks: Lorenz-63
//! (σ, ρ, β) and Lorenz-96 (forcing F, periodic), each integrated with plain
//! f64 fourth-order Runge–Kutta. Owns these integrators only; they implement
//! the testbed's `Forecast` trait the way the engine will.

use nalgebra::DMatrix;

use super::testbed::Forecast;

/// Lorenz (1963): dx = σ(y − x), dy = x(ρ − z) − y, dz = x y − β z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lorenz63 {
    pub sigma: f64,
    pub rho: f64,
    pub beta: f64,
    /// RK4 step.
    pub dt: f64,
}

impl Lorenz63 {
    /// σ = 10, ρ = 28, β = 8/3, dt = 0.01 (Sakov, Oliver & Bertino 2012).
    pub fn standard() -> Self {
        Lorenz63 {
            sigma: 10.0,
            rho: 28.0,
            beta: 8.0 / 3.0,
            dt: 0.01,
        }
    }

    fn tendency(&self, x: &[f64], dx: &mut [f64]) {
        dx[0] = self.sigma * (x[1] - x[0]);
        dx[1] = x[0] * (self.rho - x[2]) - x[1];
        dx[2] = x[0] * x[1] - self.beta * x[2];
    }
}

/// Lorenz (1996): dxᵢ/dt = (xᵢ₊₁ − xᵢ₋₂) xᵢ₋₁ − xᵢ + F, indices periodic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lorenz96 {
    pub forcing: f64,
    /// RK4 step.
    pub dt: f64,
}

impl Lorenz96 {
    /// F = 8, dt = 0.05 (Sakov & Oke 2008).
    pub fn standard() -> Self {
        Lorenz96 {
            forcing: 8.0,
            dt: 0.05,
        }
    }

    fn tendency(&self, x: &[f64], dx: &mut [f64]) {
        let n = x.len();
        for i in 0..n {
            let xp1 = x[(i + 1) % n];
            let xm1 = x[(i + n - 1) % n];
            let xm2 = x[(i + n - 2) % n];
            dx[i] = (xp1 - xm2) * xm1 - x[i] + self.forcing;
        }
    }
}

/// Work space for one RK4 step of an n-dimensional system.
struct Rk4 {
    k: [Vec<f64>; 4],
    tmp: Vec<f64>,
}

impl Rk4 {
    fn new(n: usize) -> Self {
        Rk4 {
            k: std::array::from_fn(|_| vec![0.0; n]),
            tmp: vec![0.0; n],
        }
    }

    /// x ← x + dt/6 (k1 + 2 k2 + 2 k3 + k4) for the autonomous system `f`.
    fn step(&mut self, x: &mut [f64], dt: f64, f: &impl Fn(&[f64], &mut [f64])) {
        let n = x.len();
        let [k1, k2, k3, k4] = &mut self.k;
        f(x, k1);
        for i in 0..n {
            self.tmp[i] = x[i] + 0.5 * dt * k1[i];
        }
        f(&self.tmp, k2);
        for i in 0..n {
            self.tmp[i] = x[i] + 0.5 * dt * k2[i];
        }
        f(&self.tmp, k3);
        for i in 0..n {
            self.tmp[i] = x[i] + dt * k3[i];
        }
        f(&self.tmp, k4);
        for i in 0..n {
            x[i] += dt / 6.0 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i]);
        }
    }
}

/// Advances every column of `ens` by `steps` RK4 steps of `f`.
fn integrate(ens: &mut DMatrix<f64>, steps: usize, dt: f64, f: impl Fn(&[f64], &mut [f64])) {
    let n = ens.nrows();
    if n == 0 {
        return;
    }
    let mut rk = Rk4::new(n);
    // Column-major storage: each chunk of n values is one member.
    for member in ens.as_mut_slice().chunks_exact_mut(n) {
        for _ in 0..steps {
            rk.step(member, dt, &f);
        }
    }
}

impl Forecast for Lorenz63 {
    fn forecast(&mut self, ens: &mut DMatrix<f64>, steps: usize) {
        // A programming error, not input: the testbed sizes states itself.
        assert_eq!(ens.nrows(), 3, "a Lorenz-63 state has 3 rows");
        // Fixed-size arrays: the particle filter runs 800 members.
        let dt = self.dt;
        let f = |x: [f64; 3]| {
            let mut dx = [0.0; 3];
            self.tendency(&x, &mut dx);
            dx
        };
        let axpy = |x: [f64; 3], a: f64, k: [f64; 3]| std::array::from_fn(|i| x[i] + a * k[i]);
        for member in ens.as_mut_slice().chunks_exact_mut(3) {
            let mut x = [member[0], member[1], member[2]];
            for _ in 0..steps {
                let k1 = f(x);
                let k2 = f(axpy(x, 0.5 * dt, k1));
                let k3 = f(axpy(x, 0.5 * dt, k2));
                let k4 = f(axpy(x, dt, k3));
                x = std::array::from_fn(|i| {
                    x[i] + dt / 6.0 * (k1[i] + 2.0 * (k2[i] + k3[i]) + k4[i])
                });
            }
            member.copy_from_slice(&x);
        }
    }
}

impl Forecast for Lorenz96 {
    fn forecast(&mut self, ens: &mut DMatrix<f64>, steps: usize) {
        let model = *self;
        integrate(ens, steps, self.dt, |x, dx| model.tendency(x, dx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x = F everywhere is a fixed point of Lorenz-96.
    #[test]
    fn lorenz96_fixed_point() {
        let mut m = Lorenz96::standard();
        let mut e = DMatrix::from_element(40, 2, 8.0);
        m.forecast(&mut e, 100);
        assert!((e.add_scalar(-8.0)).abs().max() < 1e-12);
    }

    /// Fourth-order convergence: over 0.5 time units, halving dt cuts the
    /// error against a dt/16 reference by 2⁴ = 16 (accept 13–19).
    #[test]
    fn rk4_converges_with_order_four() {
        let x0 = DMatrix::from_column_slice(3, 1, &[1.509, -1.531, 25.46]);
        let run = |dt: f64| {
            let mut m = Lorenz63 {
                dt,
                ..Lorenz63::standard()
            };
            let mut e = x0.clone();
            m.forecast(&mut e, (0.5 / dt).round() as usize);
            e
        };
        let reference = run(0.01 / 16.0);
        let e1 = (run(0.01) - &reference).norm();
        let e2 = (run(0.005) - &reference).norm();
        let ratio = e1 / e2;
        assert!((13.0..19.0).contains(&ratio), "ratio {ratio}");

        let x96 = DMatrix::from_fn(40, 1, |i, _| {
            8.0 + if i == 0 { 1.0 } else { 0.01 * i as f64 }
        });
        let run96 = |dt: f64| {
            let mut m = Lorenz96 {
                dt,
                ..Lorenz96::standard()
            };
            let mut e = x96.clone();
            m.forecast(&mut e, (0.5 / dt).round() as usize);
            e
        };
        let reference = run96(0.05 / 16.0);
        let ratio = (run96(0.05) - &reference).norm() / (run96(0.025) - &reference).norm();
        assert!((13.0..19.0).contains(&ratio), "ratio {ratio}");
    }
}
