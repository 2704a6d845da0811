//! CPU twin of `shaders/rd/stencil.wgsl`: the same explicit Euler step with
//! the flux-form 5-point Laplacian, in the same operation order, in f32.

use super::{Kinetics, RdModel, kinetics};

const MAX_SPECIES: usize = 8;

pub fn step_member(m: &RdModel, step: u32, params: &[f32], src: &[f32], dst: &mut [f32]) {
    let g = &m.grid;
    let (nx, ny) = (g.nx as usize, g.ny as usize);
    let n = g.sites();
    let ns = g.fields as usize;
    let tissue = |x: usize, y: usize| -> f32 {
        match m.map_off {
            Some(o) => m.aux[o + y * nx + x],
            None => 1.0,
        }
    };
    let t32 = (step as f64 * m.dt) as f32;
    let (drug, dose) = match m.kinetics {
        Kinetics::Tumour => (
            m.aux[m.sched_off + 2 * step as usize],
            m.aux[m.sched_off + 2 * step as usize + 1],
        ),
        _ => (0.0, 0.0),
    };
    let mut scratch = Vec::new();
    let mut args = vec![0.0f32; ns + m.n_params];
    let mut c = [0.0f32; MAX_SPECIES];
    let mut lap = [0.0f32; MAX_SPECIES];
    let mut r = [0.0f32; MAX_SPECIES];
    let diff: Vec<f32> = m
        .diff_ix
        .iter()
        .map(|d| d.map_or(0.0, |i| params[i]))
        .collect();
    for y in 0..ny {
        let (ym, yp) = if g.periodic {
            (
                if y == 0 { ny - 1 } else { y - 1 },
                if y + 1 == ny { 0 } else { y + 1 },
            )
        } else {
            (
                if y == 0 { y } else { y - 1 },
                if y + 1 == ny { y } else { y + 1 },
            )
        };
        for x in 0..nx {
            let (xm, xp) = if g.periodic {
                (
                    if x == 0 { nx - 1 } else { x - 1 },
                    if x + 1 == nx { 0 } else { x + 1 },
                )
            } else {
                (
                    if x == 0 { x } else { x - 1 },
                    if x + 1 == nx { x } else { x + 1 },
                )
            };
            let w = tissue(x, y);
            let wxm = 0.5 * (w + tissue(xm, y));
            let wxp = 0.5 * (w + tissue(xp, y));
            let wym = 0.5 * (w + tissue(x, ym));
            let wyp = 0.5 * (w + tissue(x, yp));
            for s in 0..ns {
                let b = s * n;
                let v = src[b + y * nx + x];
                c[s] = v;
                lap[s] = (wxm * (src[b + y * nx + xm] - v)
                    + wxp * (src[b + y * nx + xp] - v)
                    + wym * (src[b + ym * nx + x] - v)
                    + wyp * (src[b + yp * nx + x] - v))
                    * m.dx2inv;
            }
            match &m.kinetics {
                Kinetics::GrayScott => kinetics::gray_scott(&m.ix, params, &c, &mut r),
                Kinetics::Tumour => kinetics::tumour(&m.ix, params, &c, drug, &mut r),
                Kinetics::Cardiac => {
                    let i_stim = stimulus(m, x, y, t32);
                    kinetics::cardiac(&m.ix, params, &c, i_stim, &mut r)
                }
                Kinetics::Custom { exprs, .. } => {
                    args[..ns].copy_from_slice(&c[..ns]);
                    args[ns..].copy_from_slice(&params[..m.n_params]);
                    for (s, e) in exprs.iter().enumerate() {
                        r[s] = e.eval(&args, &mut scratch);
                    }
                }
            }
            let mut out = [0.0f32; MAX_SPECIES];
            for s in 0..ns {
                out[s] = c[s] + m.dt32 * (diff[s] * lap[s] + r[s]);
            }
            if let Kinetics::Tumour = m.kinetics {
                kinetics::tumour_post(&m.ix, params, dose, &mut out);
            }
            for s in 0..ns {
                dst[s * n + y * nx + x] = out[s];
            }
        }
    }
}

/// Stimulus current at a site: mirrors `stimulus()` in shaders/rd/cardiac.wgsl.
fn stimulus(m: &RdModel, x: usize, y: usize, t: f32) -> f32 {
    let a = &m.aux;
    let count = a[m.stim_off] as usize;
    let dx = m.grid.dx as f32;
    let px = (x as f32 + 0.5) * dx;
    let py = (y as f32 + 0.5) * dx;
    let mut i_stim = 0.0f32;
    for i in 0..count {
        let b = m.stim_off + 1 + 7 * i;
        if t >= a[b]
            && t < a[b + 1]
            && px >= a[b + 2]
            && py >= a[b + 3]
            && px < a[b + 4]
            && py < a[b + 5]
        {
            i_stim += a[b + 6];
        }
    }
    i_stim
}

/// The most species a grid model may have (fixed-size scratch arrays).
pub const fn max_species() -> usize {
    MAX_SPECIES
}
