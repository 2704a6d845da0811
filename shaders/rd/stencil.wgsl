// The one reaction-diffusion step: explicit Euler with the 5-point
// flux-form Laplacian ∇·(D w ∇c), w the tissue map (1 without one), on
// periodic or no-flux boundaries. Model files supply
//   fn kinetics(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS>
//   fn diffusivity(m: u32, s: u32) -> f32
//   fn post(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS>
// and the generated header supplies NX, NY, NS, NP, NSITES, DT, DX2INV,
// PERIODIC, HAS_MAP, MAP_OFF and the P_<name> parameter indices.
// New values are stored through flush_tiny (rd/flush.wgsl): subnormal
// results become +0.0.
// CPU twin: src/models/rd/cpu.rs (same operation order).

//#include "rd/flush.wgsl"

fn at(m: u32, s: u32, x: u32, y: u32) -> u32 {
    return (m * NS + s) * NSITES + y * NX + x;
}

fn tissue(x: u32, y: u32) -> f32 {
    if (HAS_MAP) {
        return aux[MAP_OFF + y * NX + x];
    }
    return 1.0;
}

@compute @workgroup_size(8, 8, 1)
fn step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let y = gid.y;
    let m = gid.z;
    if (x >= NX || y >= NY || m >= U.members) {
        return;
    }
    // A failed member is frozen: copy its state through.
    if (status[2u * m] != 0u) {
        for (var s = 0u; s < NS; s = s + 1u) {
            dst[at(m, s, x, y)] = src[at(m, s, x, y)];
        }
        return;
    }
    var xm: u32;
    var xp: u32;
    var ym: u32;
    var yp: u32;
    if (PERIODIC) {
        xm = select(x - 1u, NX - 1u, x == 0u);
        xp = select(x + 1u, 0u, x + 1u == NX);
        ym = select(y - 1u, NY - 1u, y == 0u);
        yp = select(y + 1u, 0u, y + 1u == NY);
    } else {
        xm = select(x - 1u, x, x == 0u);
        xp = select(x + 1u, x, x + 1u == NX);
        ym = select(y - 1u, y, y == 0u);
        yp = select(y + 1u, y, y + 1u == NY);
    }
    let w = tissue(x, y);
    let wxm = 0.5 * (w + tissue(xm, y));
    let wxp = 0.5 * (w + tissue(xp, y));
    let wym = 0.5 * (w + tissue(x, ym));
    let wyp = 0.5 * (w + tissue(x, yp));
    var c: array<f32, NS>;
    var lap: array<f32, NS>;
    for (var s = 0u; s < NS; s = s + 1u) {
        let v = src[at(m, s, x, y)];
        c[s] = v;
        lap[s] = (wxm * (src[at(m, s, xm, y)] - v) + wxp * (src[at(m, s, xp, y)] - v)
            + wym * (src[at(m, s, x, ym)] - v) + wyp * (src[at(m, s, x, yp)] - v)) * DX2INV;
    }
    let r = kinetics(m, x, y, c);
    var out: array<f32, NS>;
    for (var s = 0u; s < NS; s = s + 1u) {
        out[s] = c[s] + DT * (diffusivity(m, s) * lap[s] + r[s]);
    }
    out = post(m, x, y, out);
    for (var s = 0u; s < NS; s = s + 1u) {
        dst[at(m, s, x, y)] = flush_tiny(out[s]);
    }
}
