//! WGSL generation for reaction-diffusion plans: a header of constants
//! (grid, time step, parameter indices, aux offsets) + the shared bindings +
//! the model's reaction terms + the generic stencil kernel.

use super::{Kinetics, RdModel};
use crate::core::model::{KernelConfig, TunedProgram};
use crate::core::observe::GridShape;
use crate::core::shaders::{compose, f32_lit, source};

/// The header of constants every RD kernel sees.
pub fn header(m: &RdModel) -> String {
    let g = &m.grid;
    let mut h = format!(
        "const NX: u32 = {}u;\nconst NY: u32 = {}u;\nconst NS: u32 = {}u;\nconst NP: u32 = {}u;\nconst NSITES: u32 = {}u;\n\
         const DT: f32 = {};\nconst DX: f32 = {};\nconst DX2INV: f32 = {};\nconst PERIODIC: bool = {};\nconst HAS_MAP: bool = {};\n\
         const MAP_OFF: u32 = {}u;\nconst SCHED_OFF: u32 = {}u;\nconst STIM_OFF: u32 = {}u;\n",
        g.nx,
        g.ny,
        g.fields,
        m.n_params.max(1),
        g.sites(),
        f32_lit(m.dt32),
        f32_lit(g.dx as f32),
        f32_lit(m.dx2inv),
        g.periodic,
        m.map_off.is_some(),
        m.map_off.unwrap_or(0),
        m.sched_off,
        m.stim_off,
    );
    for (i, n) in m.param_names.iter().enumerate() {
        h.push_str(&format!("const P_{n}: u32 = {i}u;\n"));
    }
    h
}

/// User kinetics: one function per species, printed from the parsed
/// expression (`crate::core::expr`): statements over `c[i]` and `param(m, j)`,
/// never the scene's text.
fn custom_kinetics(m: &RdModel, exprs: &[crate::core::expr::Expr]) -> String {
    let ns = m.info.fields.len();
    // Variables: species, parameters, then the model time (`U.t`, the
    // host's f32 of step · dt, as the CPU twin's `t32`).
    let var = |k: usize| {
        if k < ns {
            format!("c[{k}u]")
        } else if k < ns + m.n_params {
            format!("param(m, {}u)", k - ns)
        } else {
            "U.t".to_string()
        }
    };
    let mut s = String::new();
    for (i, e) in exprs.iter().enumerate() {
        let (body, result) = e.wgsl("t", &var);
        s.push_str(&format!(
            "fn rate_{i}(m: u32, c: array<f32, NS>) -> f32 {{\n{body}    return {result};\n}}\n"
        ));
    }
    let calls: Vec<String> = (0..exprs.len())
        .map(|i| format!("rate_{i}(m, c)"))
        .collect();
    s.push_str(&format!(
        "fn kinetics(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {{\n    return array<f32, NS>({});\n}}\n",
        calls.join(", ")
    ));
    s.push_str("fn diffusivity(m: u32, s: u32) -> f32 {\n");
    for (si, d) in m.diff_ix.iter().enumerate() {
        if let Some(p) = d {
            s.push_str(&format!(
                "    if (s == {si}u) {{ return param(m, {p}u); }}\n"
            ));
        }
    }
    s.push_str("    return 0.0;\n}\n");
    if m.extras.any() {
        s.push_str(&custom_post(m));
    } else {
        s.push_str("fn post(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {\n    return c;\n}\n");
    }
    s
}

/// `post` of models with doses, events or process noise: the twin of
/// `cpu::custom_post`, in the same order (arm doses by column, the
/// member's events in time order, then noise species by species). Aux
/// offsets, species indices and noise constants are printed as literals.
fn custom_post(m: &RdModel) -> String {
    let e = &m.extras;
    let mut s = String::new();
    if !e.noise.is_empty() {
        s.push_str("//#include \"shared/philox.wgsl\"\n");
    }
    s.push_str(
        "fn post(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS> {\n    var o = c;\n",
    );
    if !e.dose_species.is_empty() {
        let cols = e.dose_species.len();
        s.push_str(&format!(
            "    if (U.step < {}u) {{\n        let row = {}u + U.step * {cols}u;\n",
            e.dose_rows, e.dose_off
        ));
        for (j, sp) in e.dose_species.iter().enumerate() {
            s.push_str(&format!("        o[{sp}u] = o[{sp}u] + aux[row + {j}u];\n"));
        }
        s.push_str("    }\n");
    }
    if let Some((off, block, groups)) = e.events {
        s.push_str(&format!(
            "    let g = (U.member_offset + m) / {block}u;\n    if (g < {groups}u) {{\n\
             \x20       let hi = u32(aux[{off}u + g + 1u]);\n\
             \x20       for (var ev = u32(aux[{off}u + g]); ev < hi; ev = ev + 1u) {{\n\
             \x20           let q = {base}u + 3u * ev;\n\
             \x20           if (u32(aux[q]) == U.step) {{\n\
             \x20               let sp = u32(aux[q + 1u]);\n\
             \x20               o[sp] = o[sp] + aux[q + 2u];\n\
             \x20           }}\n        }}\n    }}\n",
            base = off + groups as usize + 1
        ));
    }
    for t in &e.noise {
        let sp = t.species;
        s.push_str(&format!(
            "    {{\n        let z = philox_normal(philox4x32_10(vec4<u32>({sp}u * NSITES + y * NX + x, U.member_offset + m, U.step, STREAM_DYNAMICS), vec2<u32>(U.seed_lo, U.seed_hi)));\n"
        ));
        if t.multiplicative {
            s.push_str(&format!(
                "        o[{sp}u] = o[{sp}u] * exp({} * z - {});\n    }}\n",
                f32_lit(t.scale),
                f32_lit(t.half_var)
            ));
        } else {
            s.push_str(&format!(
                "        o[{sp}u] = o[{sp}u] + {} * z;\n    }}\n",
                f32_lit(t.scale)
            ));
        }
    }
    s.push_str("    return o;\n}\n");
    s
}

/// How a kernel shape maps onto grid `g`: (vec4 kernel?, sites one
/// workgroup covers in x and y). The vec4 kernel needs a row width that is
/// a multiple of 4; other widths take the scalar kernel at any shape.
pub fn shape(g: &GridShape, cfg: &KernelConfig) -> (bool, [u32; 2]) {
    let vec4 = cfg.sites == 4 && g.nx.is_multiple_of(4) && g.sites() > 1;
    (vec4, [cfg.wg[0] * cfg.sites, cfg.wg[1]])
}

/// The complete step module in shape `cfg`.
pub fn tuned_program(m: &RdModel, cfg: &KernelConfig) -> TunedProgram {
    let (vec4, cover) = shape(&m.grid, cfg);
    let consts = format!(
        "const WGX: u32 = {}u;\nconst WGY: u32 = {}u;\nconst SPI: u32 = {}u;\n",
        cfg.wg[0], cfg.wg[1], cfg.sites
    );
    let (bindings, kernel) = if m.grid.sites() == 1 {
        ("shared/bindings.wgsl", "rd/ode.wgsl")
    } else if vec4 {
        ("rd/bindings_vec4.wgsl", "rd/stencil_vec4.wgsl")
    } else {
        ("shared/bindings.wgsl", "rd/stencil.wgsl")
    };
    let text = format!(
        "{}{consts}\n//#include \"{bindings}\"\n{}\n//#include \"{kernel}\"\n",
        header(m),
        kinetics_source(m)
    );
    TunedProgram {
        source: compose(&text),
        config: *cfg,
        vec4,
        cover,
    }
}

/// The complete step module in the default shape.
pub fn step_source(m: &RdModel) -> String {
    tuned_program(m, &KernelConfig::DEFAULT).source
}

/// Workgroup size of `rd/fused.wgsl` (16 × 16).
pub const FUSED_THREADS: u32 = 256;

/// The temporally blocked module (`rd/fused.wgsl`): `tile × tile` sites per
/// workgroup with a halo of `halo` sites, so up to `halo` steps per
/// dispatch. `None` when the reaction terms read the step or the time
/// (`U.step`, `U.t`: therapy schedules, stimuli), which stay on the
/// single-step kernel.
pub fn fused_source(m: &RdModel, tile: u32, halo: u32) -> Option<String> {
    let kin = kinetics_source(m);
    if kin.contains("U.") || tile == 0 || halo == 0 {
        return None;
    }
    let side = tile + 2 * halo;
    let consts = format!(
        "const TILE: u32 = {tile}u;\nconst HALO: u32 = {halo}u;\nconst SIDE: u32 = {side}u;\n\
         const TILE_LEN: u32 = {}u;\nconst CPT: u32 = {}u;\nconst NV: u32 = {}u;\n",
        side * side * m.grid.fields,
        (side * side).div_ceil(FUSED_THREADS),
        (side * side).div_ceil(FUSED_THREADS) * m.grid.fields,
    );
    let text = format!(
        "{}{consts}\n//#include \"shared/bindings.wgsl\"\n{kin}\n//#include \"rd/fused.wgsl\"\n",
        header(m),
    );
    Some(compose(&text))
}

/// Bytes of workgroup memory `rd/fused.wgsl` needs for a tile.
pub fn fused_workgroup_bytes(fields: u32, tile: u32, halo: u32) -> u64 {
    let side = (tile + 2 * halo) as u64;
    side * side * fields as u64 * 4 + 4
}

fn kinetics_source(m: &RdModel) -> String {
    match &m.kinetics {
        Kinetics::GrayScott => source("rd/gray_scott.wgsl").to_string(),
        Kinetics::Tumour => source("rd/tumour.wgsl").to_string(),
        Kinetics::Cardiac => source("rd/cardiac.wgsl").to_string(),
        Kinetics::Custom { exprs } => custom_kinetics(m, exprs),
    }
}

/// Workgroups of the default shape (`KernelConfig::DEFAULT`): one member
/// per z slice.
pub fn workgroups(g: &GridShape, members: u32) -> [u32; 3] {
    if g.sites() == 1 {
        return crate::core::model::single_site_workgroups(members);
    }
    let (_, [cx, cy]) = shape(g, &KernelConfig::DEFAULT);
    [g.nx.div_ceil(cx), g.ny.div_ceil(cy), members]
}

#[cfg(test)]
mod tests {
    use crate::fixtures::{model_scenes, plan, scene};

    /// The fused module validates for every model whose kinetics do not
    /// read the step or time, and is refused for the two that do.
    #[test]
    fn fused_sources_validate_or_are_refused() {
        for (name, text) in model_scenes() {
            let p = plan(&scene(name, &text), None);
            let prog = p.model.fused_program(32, 8);
            match name {
                "tumour" | "cardiac" => assert!(prog.is_none(), "{name}"),
                _ => {
                    let prog = prog.unwrap_or_else(|| panic!("{name}: no fused program"));
                    crate::core::shaders::validate(name, &prog.source).unwrap();
                    // 48² sites × species × 4 B + the frozen flag.
                    let fields = p.model.grid().fields as u64;
                    assert_eq!(prog.workgroup_bytes, 48 * 48 * fields * 4 + 4, "{name}");
                }
            }
        }
    }
}
