//! The quasi-steady field solve of the agent-based model, CPU side: red–
//! black successive over-relaxation of D∇²c − k(x)c = 0 on the site grid
//! with c = c_b on the ghost ring outside the domain (supply from the
//! edge). One sweep updates every red site, then every black one; a
//! site's update reads only sites of the other colour, so the result does
//! not depend on the order within a colour, and the WGSL twin
//! (`shaders/abm/step.wgsl`, `sor_sweeps`) computes the same numbers.
//!
//! Why quasi-steady: at tissue diffusivities (10⁵ µm²/min, 25 µm sites) an
//! explicit step needs dt ≤ h²/4D ≈ 1.6·10⁻³ min, against mechanics steps
//! of minutes; oxygen relaxes in ~0.1 min, so it is at steady state on the
//! time scale of cells. A few warm-started sweeps per step track it.
//!
//! Owns: the sweep and the over-relaxation factor. Not where k comes from.

/// Over-relaxation factor for an n × n grid: the optimum of the pure
/// Laplacian, 2 / (1 + sin(π/n)); uptake only makes the problem better
/// conditioned.
pub fn omega(nx: usize, ny: usize) -> f32 {
    let n = nx.max(ny).max(2) as f64;
    (2.0 / (1.0 + (std::f64::consts::PI / n).sin())) as f32
}

/// The denominator of a site's update, 4 + h²·k / D, in the operation
/// order of the WGSL (`h2` = dx², `k` = decay + uptake · coverage).
#[inline]
pub fn denominator(h2: f32, diffusion: f32, decay: f32, uptake: f32, coverage: f32) -> f32 {
    let k = decay + uptake * coverage;
    4.0 + (h2 / diffusion) * k
}

/// `sweeps` red–black SOR sweeps over `c` (nx × ny, row-major).
pub fn sor_sweeps(
    c: &mut [f32],
    den: &[f32],
    nx: usize,
    ny: usize,
    boundary: f32,
    omega: f32,
    sweeps: u32,
) {
    let keep = 1.0 - omega;
    for _ in 0..sweeps {
        for colour in 0..2 {
            for iy in 0..ny {
                for ix in 0..nx {
                    if (ix + iy) % 2 != colour {
                        continue;
                    }
                    let b = iy * nx + ix;
                    let w = if ix > 0 { c[b - 1] } else { boundary };
                    let e = if ix + 1 < nx { c[b + 1] } else { boundary };
                    let s = if iy > 0 { c[b - nx] } else { boundary };
                    let n = if iy + 1 < ny { c[b + nx] } else { boundary };
                    let sum = ((w + e) + s) + n;
                    c[b] = keep * c[b] + omega * (sum / den[b]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Explicit Euler on c_t = D∇²c − k c (same ghost boundary) run to
    /// steady state: the reference the quasi-steady solver must match.
    fn explicit_steady(k: &[f64], nx: usize, ny: usize, d: f64, h: f64, cb: f64) -> Vec<f64> {
        let dt = 0.2 * h * h / d;
        let mut c = vec![cb; nx * ny];
        for _ in 0..200_000 {
            let mut next = c.clone();
            let mut change = 0.0f64;
            for iy in 0..ny {
                for ix in 0..nx {
                    let b = iy * nx + ix;
                    let at = |x: isize, y: isize| {
                        if x < 0 || y < 0 || x >= nx as isize || y >= ny as isize {
                            cb
                        } else {
                            c[y as usize * nx + x as usize]
                        }
                    };
                    let (x, y) = (ix as isize, iy as isize);
                    let lap = (at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1)
                        - 4.0 * c[b])
                        / (h * h);
                    next[b] = c[b] + dt * (d * lap - k[b] * c[b]);
                    change = change.max((next[b] - c[b]).abs());
                }
            }
            c = next;
            if change < 1e-12 {
                break;
            }
        }
        c
    }

    #[test]
    fn sor_matches_the_explicit_steady_state() {
        // A 12 × 9 tissue patch, oxygen-like numbers: D = 1e5 µm²/min,
        // 25 µm sites, uptake 10/min where a "spheroid" covers the middle.
        let (nx, ny, h, d, cb) = (12usize, 9usize, 25.0f32, 1.0e5f32, 38.0f32);
        let mut cover = vec![0.0f32; nx * ny];
        for iy in 0..ny {
            for ix in 0..nx {
                let r2 = (ix as f32 - 5.5).powi(2) + (iy as f32 - 4.0).powi(2);
                cover[iy * nx + ix] = if r2 < 9.0 { 0.9 } else { 0.0 };
            }
        }
        let den: Vec<f32> = cover
            .iter()
            .map(|&f| denominator(h * h, d, 0.1, 10.0, f))
            .collect();
        let k: Vec<f64> = cover.iter().map(|&f| 0.1 + 10.0 * f as f64).collect();
        let want = explicit_steady(&k, nx, ny, d as f64, h as f64, cb as f64);
        let mut c = vec![cb; nx * ny];
        sor_sweeps(&mut c, &den, nx, ny, cb, omega(nx, ny), 200);
        let worst = c
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        // f32 round-off on values of ~30 mmHg: a few 1e-5 mmHg at most.
        assert!(
            worst < 1e-3,
            "SOR vs explicit steady state: max |Δ| = {worst} mmHg"
        );
        // The spheroid really draws oxygen down (the test is not trivial).
        let centre = want[4 * nx + 5];
        assert!(centre < 0.9 * cb as f64, "centre {centre}");
    }

    #[test]
    fn uniform_field_without_sinks_is_a_fixed_point() {
        let (nx, ny) = (6, 5);
        let den = vec![4.0f32; nx * ny];
        let mut c = vec![7.5f32; nx * ny];
        sor_sweeps(&mut c, &den, nx, ny, 7.5, omega(nx, ny), 3);
        assert!(c.iter().all(|&v| (v - 7.5).abs() < 1e-5), "{c:?}");
    }
}
