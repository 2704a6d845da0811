// The one reaction-diffusion step: explicit Euler with the 5-point
// flux-form Laplacian ∇·(D w ∇c), w the tissue map (1 without one), on
// periodic or no-flux boundaries. Model files supply
//   fn kinetics(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS>
//   fn diffusivity(m: u32, s: u32) -> f32
//   fn post(m: u32, x: u32, y: u32, c: array<f32, NS>) -> array<f32, NS>
// and the generated header supplies NX, NY, NS, NP, NSITES, DT, DX2INV,
// PERIODIC, HAS_MAP, MAP_OFF, the P_<name> parameter indices and the
// kernel's shape (src/gpu/autotune.rs chooses it per adapter):
//   WGX × WGY invocations per workgroup, SPI consecutive x-sites per
//   invocation.
// The vec4 variant for rows whose width is a multiple of 4 is
// rd/stencil_vec4.wgsl; both share rd/site.wgsl, so every site is updated
// by the same expressions in the same order whatever the shape.
// CPU twin: src/models/rd/cpu.rs (same operation order).

//#include "rd/site.wgsl"

fn at(m: u32, s: u32, x: u32, y: u32) -> u32 {
    return (m * NS + s) * NSITES + y * NX + x;
}

@compute @workgroup_size(WGX, WGY, 1)
fn step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = gid.z;
    let x0 = gid.x * SPI;
    let y = gid.y;
    if (x0 >= NX || y >= NY || m >= U.members) {
        return;
    }
    // A failed member is frozen: copy its sites through.
    if (status[2u * m] != 0u) {
        for (var k = 0u; k < SPI && x0 + k < NX; k = k + 1u) {
            for (var s = 0u; s < NS; s = s + 1u) {
                dst[at(m, s, x0 + k, y)] = src[at(m, s, x0 + k, y)];
            }
        }
        return;
    }
    let yn = rd_neighbours(y, NY);
    // Neighbours along the row are carried from one site to the next: for
    // k ≥ 1 the left neighbour is the previous centre (x ≥ 1, no wrap) and
    // the centre the previous right neighbour (the loop ends at NX − 1).
    let xn0 = rd_neighbours(x0, NX);
    var l: array<f32, NS>;
    var c: array<f32, NS>;
    var r: array<f32, NS>;
    for (var s = 0u; s < NS; s = s + 1u) {
        l[s] = src[at(m, s, xn0.x, y)];
        c[s] = src[at(m, s, x0, y)];
    }
    for (var k = 0u; k < SPI; k = k + 1u) {
        let x = x0 + k;
        if (x >= NX) {
            break;
        }
        let xn = rd_neighbours(x, NX);
        var u: array<f32, NS>;
        var d: array<f32, NS>;
        for (var s = 0u; s < NS; s = s + 1u) {
            r[s] = src[at(m, s, xn.y, y)];
            u[s] = src[at(m, s, x, yn.x)];
            d[s] = src[at(m, s, x, yn.y)];
        }
        let w = rd_faces(x, y, xn, yn);
        let out = rd_site(m, x, y, w, c, l, r, u, d);
        for (var s = 0u; s < NS; s = s + 1u) {
            dst[at(m, s, x, y)] = out[s];
        }
        l = c;
        c = r;
    }
}
