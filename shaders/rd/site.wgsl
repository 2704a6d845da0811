// One site of the reaction-diffusion step, shared by rd/stencil.wgsl and
// rd/stencil_vec4.wgsl: the neighbour indices, the face weights of the
// flux-form Laplacian and the explicit Euler update, each new value stored
// through flush_tiny (rd/flush.wgsl: subnormal results become +0.0).
// CPU twin: src/models/rd/cpu.rs, term for term:
//   lap = (wxm (c[x−1] − c) + wxp (c[x+1] − c) + wym (c[y−1] − c)
//          + wyp (c[y+1] − c)) · DX2INV
//   new = c + DT (D lap + kinetics(c)), then post, then flush_tiny.

//#include "rd/flush.wgsl"

fn tissue(x: u32, y: u32) -> f32 {
    if (HAS_MAP) {
        return aux[MAP_OFF + y * NX + x];
    }
    return 1.0;
}

// (i − 1, i + 1) on a line of n sites: wrapped when periodic, clamped
// (no-flux) otherwise.
fn rd_neighbours(i: u32, n: u32) -> vec2<u32> {
    if (PERIODIC) {
        return vec2<u32>(select(i - 1u, n - 1u, i == 0u), select(i + 1u, 0u, i + 1u == n));
    }
    return vec2<u32>(select(i - 1u, i, i == 0u), select(i + 1u, i, i + 1u == n));
}

// Face weights (wxm, wxp, wym, wyp) of site (x, y): the mean of the tissue
// multipliers either side of each face.
fn rd_faces(x: u32, y: u32, xn: vec2<u32>, yn: vec2<u32>) -> vec4<f32> {
    let w = tissue(x, y);
    return vec4<f32>(
        0.5 * (w + tissue(xn.x, y)),
        0.5 * (w + tissue(xn.y, y)),
        0.5 * (w + tissue(x, yn.x)),
        0.5 * (w + tissue(x, yn.y)),
    );
}

// New values at (x, y) from the site's values c and its neighbours' (left,
// right, up = y − 1, down = y + 1).
fn rd_site(m: u32, x: u32, y: u32, w: vec4<f32>, c: array<f32, NS>, l: array<f32, NS>, r: array<f32, NS>, u: array<f32, NS>, d: array<f32, NS>) -> array<f32, NS> {
    var lap: array<f32, NS>;
    for (var s = 0u; s < NS; s = s + 1u) {
        let v = c[s];
        lap[s] = (w.x * (l[s] - v) + w.y * (r[s] - v) + w.z * (u[s] - v) + w.w * (d[s] - v)) * DX2INV;
    }
    let rate = kinetics(m, x, y, c);
    var out: array<f32, NS>;
    for (var s = 0u; s < NS; s = s + 1u) {
        out[s] = c[s] + DT * (diffusivity(m, s) * lap[s] + rate[s]);
    }
    out = post(m, x, y, out);
    for (var s = 0u; s < NS; s = s + 1u) {
        out[s] = flush_tiny(out[s]);
    }
    return out;
}
