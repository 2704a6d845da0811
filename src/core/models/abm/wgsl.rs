//! The WGSL of the agent-based step: a header of constants (sizes,
//! offsets from `layout`, geometry, parameter indices) in front of
//! `shaders/abm/step.wgsl`.
//!
//! Owns: the header text. The kernel itself is the .wgsl file.

use super::AbmModel;
use super::layout::*;
use super::params::TABLE;
use crate::core::model::Model;
use crate::core::shaders::{compose, f32_lit, source};

pub fn step_source(m: &AbmModel) -> String {
    let l = m.layout;
    let mut h = String::new();
    let mut u = |name: &str, v: usize| h.push_str(&format!("const {name}: u32 = {v}u;\n"));
    u("NX", l.nx);
    u("NY", l.ny);
    u("NSITES", l.sites());
    u("CAP", l.cap);
    u("NSTATE", l.state_len());
    u("NSCRATCH", l.scratch_len());
    u("NP", m.n_params().max(1));
    u("NAUX", m.aux().len());
    u("SWEEPS", m.sweeps as usize);
    u("HB", l.h(0));
    u("OX", l.x());
    u("OY", l.y());
    u("OKIND", l.kind());
    u("OSTATE", l.state());
    u("OCLOCK", l.clock());
    u("OID", l.id());
    u("S_START", l.s_start());
    u("S_SORTED", l.s_sorted());
    u("S_X", l.s_x());
    u("S_Y", l.s_y());
    u("S_FATE", l.s_fate());
    u("S_STATE", l.s_state());
    u("S_CLOCK", l.s_clock());
    u("S_GX", l.s_gx());
    u("S_GY", l.s_gy());
    u("S_GKS", l.s_gks());
    u("S_DEN_O2", l.s_den_o2());
    u("S_DEN_DRUG", l.s_den_drug());
    for (name, w) in [
        ("H_COUNT", H_COUNT),
        ("H_NEXT_ID", H_NEXT_ID),
        ("H_SATURATED", H_SATURATED),
        ("H_KILLS", H_KILLS),
        ("H_LIVE", H_LIVE),
        ("H_LIVE_TUMOUR", H_LIVE_TUMOUR),
        ("H_LIVE_IMMUNE", H_LIVE_IMMUNE),
        ("H_APOPTOTIC", H_APOPTOTIC),
        ("H_NECROTIC", H_NECROTIC),
        ("H_TUMOUR_AREA", H_TUMOUR_AREA),
        ("H_TUMOUR_RADIUS", H_TUMOUR_RADIUS),
        ("H_NECROTIC_RADIUS", H_NECROTIC_RADIUS),
        ("H_MEAN_O2", H_MEAN_O2),
        ("H_MEAN_DRUG", H_MEAN_DRUG),
    ] {
        u(name, w);
    }
    for (k, row) in TABLE.iter().enumerate() {
        u(&format!("P_{}", row.0), m.param_index(k));
    }
    let mut f = |name: &str, v: f32| h.push_str(&format!("const {name}: f32 = {};\n", f32_lit(v)));
    f("DX", m.dx);
    f("INV_DX", m.inv_dx);
    f("INV_SITE_AREA", m.inv_site_area);
    f("INV_SITES", m.inv_sites);
    f("LX", m.lx);
    f("LY", m.ly);
    f("DT", m.dt);
    f("OMEGA", m.omega);
    f("KEEP", 1.0 - m.omega);
    let text = format!(
        "{h}\n//#include \"shared/bindings.wgsl\"\n//#include \"shared/philox.wgsl\"\n{}\n",
        source("abm/step.wgsl")
    );
    compose(&text)
}
