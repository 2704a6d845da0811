// rd/stencil.wgsl for rows whose width NX is a multiple of 4: each
// invocation updates 4 consecutive x-sites, reading its row, the rows above
// and below as vec4 (16-byte) loads plus one scalar lane either side, and
// writing one vec4 per species. Every site goes through rd_site
// (rd/site.wgsl) with the same operands as the scalar kernel, so results
// are bit-identical to it and to the CPU twin. Bindings:
// rd/bindings_vec4.wgsl. Header: WGX × WGY invocations per workgroup.

//#include "rd/site.wgsl"

const NX4: u32 = NX / 4u;

fn at4(m: u32, s: u32, x4: u32, y: u32) -> u32 {
    return (m * NS + s) * (NSITES / 4u) + y * NX4 + x4;
}

// The scalar at (x, y) of species s.
fn lane(m: u32, s: u32, x: u32, y: u32) -> f32 {
    return src[at4(m, s, x / 4u, y)][x % 4u];
}

@compute @workgroup_size(WGX, WGY, 1)
fn step(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x4 = gid.x;
    let y = gid.y;
    let m = gid.z;
    if (x4 >= NX4 || y >= NY || m >= U.members) {
        return;
    }
    // A failed member is frozen: copy its sites through.
    if (status[2u * m] != 0u) {
        for (var s = 0u; s < NS; s = s + 1u) {
            dst[at4(m, s, x4, y)] = src[at4(m, s, x4, y)];
        }
        return;
    }
    let x0 = 4u * x4;
    let yn = rd_neighbours(y, NY);
    let xl = rd_neighbours(x0, NX).x;
    let xr = rd_neighbours(x0 + 3u, NX).y;
    var row: array<vec4<f32>, NS>;
    var up: array<vec4<f32>, NS>;
    var dn: array<vec4<f32>, NS>;
    var left: array<f32, NS>;
    var right: array<f32, NS>;
    for (var s = 0u; s < NS; s = s + 1u) {
        row[s] = src[at4(m, s, x4, y)];
        up[s] = src[at4(m, s, x4, yn.x)];
        dn[s] = src[at4(m, s, x4, yn.y)];
        left[s] = lane(m, s, xl, y);
        right[s] = lane(m, s, xr, y);
    }
    var o: array<vec4<f32>, NS>;
    for (var k = 0u; k < 4u; k = k + 1u) {
        let x = x0 + k;
        var c: array<f32, NS>;
        var l: array<f32, NS>;
        var r: array<f32, NS>;
        var u: array<f32, NS>;
        var d: array<f32, NS>;
        for (var s = 0u; s < NS; s = s + 1u) {
            c[s] = row[s][k];
            l[s] = select(row[s][max(k, 1u) - 1u], left[s], k == 0u);
            r[s] = select(row[s][min(k + 1u, 3u)], right[s], k == 3u);
            u[s] = up[s][k];
            d[s] = dn[s][k];
        }
        let w = rd_faces(x, y, rd_neighbours(x, NX), yn);
        let out = rd_site(m, x, y, w, c, l, r, u, d);
        for (var s = 0u; s < NS; s = s + 1u) {
            o[s][k] = out[s];
        }
    }
    for (var s = 0u; s < NS; s = s + 1u) {
        dst[at4(m, s, x4, y)] = o[s];
    }
}
