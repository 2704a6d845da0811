// The f16-storage experiment (bench only): the pinned Gray–Scott problem
// (periodic, no tissue map) with the state stored as f16 and all
// arithmetic in f32, in stencil.wgsl's order of operations. Halves the
// bytes per site update (8 instead of 16); the bench measures what it costs
// in accuracy against the f32 engine. Needs SHADER_F16. The generated
// header supplies NX, NY, NSITES, MEMBERS, DT and DX2INV. No flush_tiny
// (rd/flush.wgsl) here: every f32 below 1.2e-38 rounds to f16 zero on the
// store anyway.

enable f16;

// Per member: Du, Dv, F, k.
@group(0) @binding(0) var<storage, read> gs_params: array<f32>;
@group(0) @binding(1) var<storage, read> src16: array<f16>;
@group(0) @binding(2) var<storage, read_write> dst16: array<f16>;

fn at16(m: u32, s: u32, x: u32, y: u32) -> u32 {
    return (m * 2u + s) * NSITES + y * NX + x;
}

@compute @workgroup_size(8, 8, 1)
fn step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let y = gid.y;
    let m = gid.z;
    if (x >= NX || y >= NY || m >= MEMBERS) {
        return;
    }
    let xm = select(x - 1u, NX - 1u, x == 0u);
    let xp = select(x + 1u, 0u, x + 1u == NX);
    let ym = select(y - 1u, NY - 1u, y == 0u);
    let yp = select(y + 1u, 0u, y + 1u == NY);
    var c: array<f32, 2>;
    var lap: array<f32, 2>;
    for (var s = 0u; s < 2u; s = s + 1u) {
        let v = f32(src16[at16(m, s, x, y)]);
        c[s] = v;
        lap[s] = ((f32(src16[at16(m, s, xm, y)]) - v) + (f32(src16[at16(m, s, xp, y)]) - v)
            + (f32(src16[at16(m, s, x, ym)]) - v) + (f32(src16[at16(m, s, x, yp)]) - v)) * DX2INV;
    }
    let u = c[0];
    let v = c[1];
    let f = gs_params[4u * m + 2u];
    let k = gs_params[4u * m + 3u];
    let uvv = u * v * v;
    let ru = f * (1.0 - u) - uvv;
    let rv = uvv - (f + k) * v;
    dst16[at16(m, 0u, x, y)] = f16(u + DT * (gs_params[4u * m] * lap[0] + ru));
    dst16[at16(m, 1u, x, y)] = f16(v + DT * (gs_params[4u * m + 1u] * lap[1] + rv));
}
