// Temporally blocked reaction-diffusion: one workgroup takes a TILE × TILE
// block of one member, loads it with a halo of HALO sites on every side into
// workgroup memory (SIDE = TILE + 2·HALO), takes U.steps_per_dispatch ≤ HALO explicit
// Euler steps there, and writes the block back: one global read and write
// per U.steps_per_dispatch steps instead of per step. After j steps the sites at least j
// from the tile's edge are exact, so the block is exact after HALO steps.
//
// The arithmetic of a site is stencil.wgsl's, term for term (same face
// weights, same order of the Laplacian sum, same kinetics/diffusivity/post),
// so the two kernels agree to the last bit unless the compiler contracts
// differently; each new value goes through the same flush_tiny
// (rd/flush.wgsl) before it is kept. Halo sites come from the periodic
// image on periodic grids and from the mirror image on no-flux grids: the
// mirror-extended field evolves as its mirror, which is what the
// single-step kernel's clamped neighbour (x − 1 → x at x = 0) computes at
// the edge.
//
// One workgroup array, no ping-pong: each invocation computes the new
// values of its sites into registers, a barrier, then writes them, a
// barrier. The generated header adds TILE, HALO, SIDE, TILE_LEN
// (SIDE²·NS), CPT (sites per invocation) and NV (CPT·NS).

//#include "rd/flush.wgsl"

const WG: u32 = 256u;

var<workgroup> wg_tile: array<f32, TILE_LEN>;
var<workgroup> wg_frozen: u32;

fn at(m: u32, s: u32, x: u32, y: u32) -> u32 {
    return (m * NS + s) * NSITES + y * NX + x;
}

fn tissue(x: u32, y: u32) -> f32 {
    if (HAS_MAP) {
        return aux[MAP_OFF + y * NX + x];
    }
    return 1.0;
}

// A global coordinate outside 0..n mapped onto the grid: the periodic image,
// or the mirror image about the edge faces (even extension, period 2n).
fn fold(i: i32, n: i32) -> u32 {
    if (PERIODIC) {
        return u32(((i % n) + n) % n);
    }
    let p = 2 * n;
    var j = ((i % p) + p) % p;
    if (j >= n) {
        j = p - 1 - j;
    }
    return u32(j);
}

@compute @workgroup_size(16, 16, 1)
fn fused(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m = wg.z;
    let x0 = i32(wg.x * TILE) - i32(HALO);
    let y0 = i32(wg.y * TILE) - i32(HALO);
    let plane = SIDE * SIDE;
    if (li == 0u) {
        wg_frozen = status[2u * m];
    }
    for (var i = li; i < plane; i = i + WG) {
        let gx = fold(x0 + i32(i % SIDE), i32(NX));
        let gy = fold(y0 + i32(i / SIDE), i32(NY));
        for (var s = 0u; s < NS; s = s + 1u) {
            wg_tile[s * plane + i] = src[at(m, s, gx, gy)];
        }
    }
    // A failed member is frozen: zero steps copies its block through.
    let steps = select(min(U.steps_per_dispatch, HALO), 0u, workgroupUniformLoad(&wg_frozen) != 0u);
    var nv: array<f32, NV>;
    for (var j = 1u; j <= steps; j = j + 1u) {
        for (var q = 0u; q < CPT; q = q + 1u) {
            let i = li + q * WG;
            let lx = i % SIDE;
            let ly = i / SIDE;
            if (i < plane && lx >= j && lx + j < SIDE && ly >= j && ly + j < SIDE) {
                let gx = fold(x0 + i32(lx), i32(NX));
                let gy = fold(y0 + i32(ly), i32(NY));
                let w = tissue(gx, gy);
                let wxm = 0.5 * (w + tissue(fold(x0 + i32(lx) - 1, i32(NX)), gy));
                let wxp = 0.5 * (w + tissue(fold(x0 + i32(lx) + 1, i32(NX)), gy));
                let wym = 0.5 * (w + tissue(gx, fold(y0 + i32(ly) - 1, i32(NY))));
                let wyp = 0.5 * (w + tissue(gx, fold(y0 + i32(ly) + 1, i32(NY))));
                var c: array<f32, NS>;
                var lap: array<f32, NS>;
                for (var s = 0u; s < NS; s = s + 1u) {
                    let b = s * plane + i;
                    let v = wg_tile[b];
                    c[s] = v;
                    lap[s] = (wxm * (wg_tile[b - 1u] - v) + wxp * (wg_tile[b + 1u] - v)
                        + wym * (wg_tile[b - SIDE] - v) + wyp * (wg_tile[b + SIDE] - v)) * DX2INV;
                }
                let r = kinetics(m, gx, gy, c);
                var out: array<f32, NS>;
                for (var s = 0u; s < NS; s = s + 1u) {
                    out[s] = c[s] + DT * (diffusivity(m, s) * lap[s] + r[s]);
                }
                out = post(m, gx, gy, out);
                for (var s = 0u; s < NS; s = s + 1u) {
                    nv[q * NS + s] = flush_tiny(out[s]);
                }
            }
        }
        workgroupBarrier();
        for (var q = 0u; q < CPT; q = q + 1u) {
            let i = li + q * WG;
            let lx = i % SIDE;
            let ly = i / SIDE;
            if (i < plane && lx >= j && lx + j < SIDE && ly >= j && ly + j < SIDE) {
                for (var s = 0u; s < NS; s = s + 1u) {
                    wg_tile[s * plane + i] = nv[q * NS + s];
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = li; i < TILE * TILE; i = i + WG) {
        let gx = wg.x * TILE + i % TILE;
        let gy = wg.y * TILE + i / TILE;
        if (gx < NX && gy < NY) {
            let l = (i / TILE + HALO) * SIDE + i % TILE + HALO;
            for (var s = 0u; s < NS; s = s + 1u) {
                dst[at(m, s, gx, gy)] = wg_tile[s * plane + l];
            }
        }
    }
}
