//! The WGSL `observe` kernel generated for a plan's reductions.

use super::{GridShape, ObsOp, Reduction};

/// Generates the WGSL `observe` kernel for these ops (one workgroup per
/// member, `state_len` words each; fields first, `grid.fields × sites`).
/// With a `status_word`, a nonzero value there marks the member saturated
/// at step `value − 1`. Uses the standard bindings of
/// `shaders/shared/bindings.wgsl`.
pub fn observe_wgsl(
    ops: &[ObsOp],
    grid: &GridShape,
    state_len: usize,
    status_word: Option<usize>,
) -> String {
    let mut body = String::new();
    let nops = ops.len();
    for (k, op) in ops.iter().enumerate() {
        let base = format!("m * NSTATE + {}u * NSITES", op.field);
        let code = match op.reduction {
            Reduction::Total | Reduction::Mean => {
                let fin = if op.reduction == Reduction::Total {
                    "red_f[0] * CELL_AREA".to_string()
                } else {
                    "red_f[0] / f32(NSITES)".to_string()
                };
                format!(
                    "    {{ var acc = 0.0; for (var i = t; i < NSITES; i = i + THREADS) {{ acc = acc + src[{base} + i]; }}\n      red_f[t] = acc; reduce_sum(t);\n      if (t == 0u) {{ obs[m * NOUT + {k}u] = {fin}; }} workgroupBarrier(); }}\n"
                )
            }
            Reduction::Max | Reduction::Min => {
                let (init, f) = if op.reduction == Reduction::Max {
                    ("-3.40282347e38", "max")
                } else {
                    ("3.40282347e38", "min")
                };
                format!(
                    "    {{ var acc = {init}; for (var i = t; i < NSITES; i = i + THREADS) {{ acc = {f}(acc, src[{base} + i]); }}\n      red_f[t] = acc; reduce_{f}(t);\n      if (t == 0u) {{ obs[m * NOUT + {k}u] = red_f[0]; }} workgroupBarrier(); }}\n"
                )
            }
            Reduction::AreaAbove(thr) => format!(
                "    {{ var acc = 0u; for (var i = t; i < NSITES; i = i + THREADS) {{ acc = acc + select(0u, 1u, src[{base} + i] > {thr:e}); }}\n      red_u[t] = acc; reduce_usum(t);\n      if (t == 0u) {{ obs[m * NOUT + {k}u] = f32(red_u[0]) * CELL_AREA; }} workgroupBarrier(); }}\n"
            ),
            Reduction::Probe(site) => {
                format!("    if (t == 0u) {{ obs[m * NOUT + {k}u] = src[{base} + {site}u]; }}\n")
            }
            Reduction::Word(off) => {
                format!("    if (t == 0u) {{ obs[m * NOUT + {k}u] = src[m * NSTATE + {off}u]; }}\n")
            }
            // Same visiting order as `Reduction::block_site`.
            Reduction::BlockMean { x0, y0, w, h } => {
                let n = w * h;
                let nx = grid.nx;
                format!(
                    "    {{ var acc = 0.0; for (var i = t; i < {n}u; i = i + THREADS) {{ let s = ({y0}u + i / {w}u) * {nx}u + {x0}u + i % {w}u; acc = acc + src[{base} + s]; }}\n      red_f[t] = acc; reduce_sum(t);\n      if (t == 0u) {{ obs[m * NOUT + {k}u] = red_f[0] / f32({n}u); }} workgroupBarrier(); }}\n"
                )
            }
        };
        body.push_str(&code);
    }
    format!(
        "const NSTATE: u32 = {state_len}u;\nconst NSITES: u32 = {sites}u;\nconst NOUT: u32 = {nout}u;\nconst CELL_AREA: f32 = {area:e};\nconst STATUS_WORD: i32 = {sw};\n{template}\nfn observe_ops(m: u32, t: u32) {{\n{body}}}\n",
        sw = status_word.map_or(-1, |w| w as i64),
        sites = grid.sites(),
        nout = nops + 1,
        area = grid.cell_area(),
        template =
            crate::core::shaders::compose(crate::core::shaders::source("shared/observe.wgsl")),
    )
}
