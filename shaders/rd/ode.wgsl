// The reaction-diffusion step of a single-site grid (NX = NY = 1: a custom
// model without diffusion, i.e. one ODE system per member), one invocation
// per member in workgroups of ODE_WG, so members share workgroups instead
// of each taking a whole grid-shaped workgroup. The site is updated by
// rd/site.wgsl with the neighbours rd_neighbours gives a one-site line (the
// site itself), exactly as rd/stencil.wgsl would update it, so both kernels
// give the same bits. Dispatch: ceil(members / ODE_WG) × 1 × 1
// (`model::TunedProgram::workgroups`, `models::rd::wgsl::workgroups`).
// CPU twin: src/models/rd/cpu.rs.

//#include "rd/site.wgsl"

const ODE_WG: u32 = 64u;

@compute @workgroup_size(ODE_WG, 1, 1)
fn step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = gid.x;
    if (m >= U.members) {
        return;
    }
    // A failed member is frozen: copy its values through.
    if (status[2u * m] != 0u) {
        for (var s = 0u; s < NS; s = s + 1u) {
            dst[m * NS + s] = src[m * NS + s];
        }
        return;
    }
    var c: array<f32, NS>;
    for (var s = 0u; s < NS; s = s + 1u) {
        c[s] = src[m * NS + s];
    }
    let xn = rd_neighbours(0u, NX);
    let yn = rd_neighbours(0u, NY);
    let w = rd_faces(0u, 0u, xn, yn);
    let out = rd_site(m, 0u, 0u, w, c, c, c, c, c);
    for (var s = 0u; s < NS; s = s + 1u) {
        dst[m * NS + s] = out[s];
    }
}
