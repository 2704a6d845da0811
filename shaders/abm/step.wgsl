// One step of the agent-based tumour model for every member: one workgroup
// of 256 invocations per member, phases separated by barriers. The CPU
// twin is src/models/abm/cpu.rs: keep phases, operation order and
// reductions equal. Constants (sizes, offsets, P_* indices) come from the
// generated header (src/models/abm/wgsl.rs).
//
// Phases: bin agents by site (workgroup atomics, prefix sum, scatter, then
// sort each site's list by index so nothing depends on thread timing);
// quasi-steady oxygen and drug (red–black SOR on dst); per agent forces,
// migration and fate into scratch; compaction in agent order with
// daughters after their parents (a member that would exceed CAP keeps its
// cells, stops dividing and records the step in H_SATURATED); header
// scalars by fixed-order reductions.

@group(0) @binding(7) var<storage, read_write> scratch: array<f32>;

const W: u32 = 256u;
const TUMOUR: u32 = 0u;
const IMMUNE: u32 = 1u;
const LIVE: u32 = 0u;
const APOPTOTIC: u32 = 1u;
const NECROTIC: u32 = 2u;
const TAU: f32 = 6.2831855;
const PI: f32 = 3.1415927;
const LN2: f32 = 0.6931472;
const ADH_RANGE: f32 = 1.25;

var<workgroup> cnt: array<atomic<u32>, NSITES>;
var<workgroup> scan: array<vec4<u32>, 256>;
var<workgroup> red: array<vec4<f32>, 256>;
var<workgroup> wg_frozen: u32;
var<workgroup> wg_n: u32;

struct Scan {
    excl: vec4<u32>,
    total: vec4<u32>,
}

fn sync() {
    storageBarrier();
    workgroupBarrier();
}

// Exclusive prefix sums over invocations (integers: any order is exact).
fn scan_excl(t: u32, v: vec4<u32>) -> Scan {
    scan[t] = v;
    workgroupBarrier();
    for (var o = 1u; o < W; o = o << 1u) {
        var add = vec4<u32>(0u);
        if (t >= o) { add = scan[t - o]; }
        workgroupBarrier();
        scan[t] = scan[t] + add;
        workgroupBarrier();
    }
    let out = Scan(scan[t] - v, scan[W - 1u]);
    workgroupBarrier();
    return out;
}

// Pairwise tree over invocations: `cpu::chunked_sum`'s order.
fn reduce4(t: u32, v: vec4<f32>) -> vec4<f32> {
    red[t] = v;
    workgroupBarrier();
    for (var s = W / 2u; s > 0u; s = s >> 1u) {
        if (t < s) { red[t] = red[t] + red[t + s]; }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn site_of(x: f32, y: f32) -> u32 {
    let ix = clamp(i32(floor(x * INV_DX)), 0, i32(NX) - 1);
    let iy = clamp(i32(floor(y * INV_DX)), 0, i32(NY) - 1);
    return u32(iy) * NX + u32(ix);
}

fn radius_of(kind: u32, rt: f32, ri: f32) -> f32 {
    return select(rt, ri, kind == IMMUNE);
}

fn denominator(h2: f32, d: f32, decay: f32, uptake: f32, cover: f32) -> f32 {
    let k = decay + uptake * cover;
    return 4.0 + (h2 / d) * k;
}

// One SOR update of site b of the field at `off` (ghost value `edge`).
fn sor_site(base: u32, off: u32, b: u32, ix: u32, iy: u32, edge: f32, den: f32) {
    let c = dst[base + off + b];
    var w = edge;
    if (ix > 0u) { w = dst[base + off + b - 1u]; }
    var e = edge;
    if (ix + 1u < NX) { e = dst[base + off + b + 1u]; }
    var s = edge;
    if (iy > 0u) { s = dst[base + off + b - NX]; }
    var n = edge;
    if (iy + 1u < NY) { n = dst[base + off + b + NX]; }
    let sum = ((w + e) + s) + n;
    dst[base + off + b] = KEEP * c + OMEGA * (sum / den);
}

fn o2_at(base: u32, x: i32, y: i32, edge: f32) -> f32 {
    if (x < 0 || y < 0 || x >= i32(NX) || y >= i32(NY)) { return edge; }
    return dst[base + u32(y) * NX + u32(x)];
}

@compute @workgroup_size(256, 1, 1)
fn step(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let m = wid.x;
    let t = lid.x;
    if (m >= U.members) { return; }
    let base = m * NSTATE;
    let sb = m * NSCRATCH;
    if (t == 0u) {
        wg_frozen = status[2u * m];
        wg_n = u32(src[base + HB + H_COUNT]);
    }
    let frozen = workgroupUniformLoad(&wg_frozen);
    let n = workgroupUniformLoad(&wg_n);
    // A failed member is frozen, as on the CPU.
    if (frozen != 0u) {
        for (var i = t; i < NSTATE; i = i + W) { dst[base + i] = src[base + i]; }
        return;
    }
    let member = U.member_offset + m;
    let key = vec2<u32>(U.seed_lo, U.seed_hi);
    let rt = param(m, P_cell_radius);
    let rim = param(m, P_immune_radius);
    let rep = param(m, P_repulsion);
    let adh = param(m, P_adhesion);
    let o2_edge = param(m, P_o2_boundary);
    if (t < 16u) { dst[base + HB + t] = src[base + HB + t]; }

    // --- Bins: count, prefix sum, scatter, sort each site's list.
    for (var b = t; b < NSITES; b = b + W) { atomicStore(&cnt[b], 0u); }
    workgroupBarrier();
    for (var i = t; i < n; i = i + W) {
        atomicAdd(&cnt[site_of(src[base + OX + i], src[base + OY + i])], 1u);
    }
    workgroupBarrier();
    let chb = (NSITES + W - 1u) / W;
    let blo = min(t * chb, NSITES);
    let bhi = min(blo + chb, NSITES);
    var acc = 0u;
    for (var b = blo; b < bhi; b = b + 1u) { acc = acc + atomicLoad(&cnt[b]); }
    let sc0 = scan_excl(t, vec4<u32>(acc, 0u, 0u, 0u));
    var off = sc0.excl.x;
    for (var b = blo; b < bhi; b = b + 1u) {
        let c = atomicLoad(&cnt[b]);
        scratch[sb + S_START + b] = f32(off);
        atomicStore(&cnt[b], off);
        off = off + c;
    }
    if (t == 0u) { scratch[sb + S_START + NSITES] = f32(n); }
    sync();
    for (var i = t; i < n; i = i + W) {
        let p = atomicAdd(&cnt[site_of(src[base + OX + i], src[base + OY + i])], 1u);
        scratch[sb + S_SORTED + p] = f32(i);
    }
    sync();
    for (var b = t; b < NSITES; b = b + W) {
        let lo = u32(scratch[sb + S_START + b]);
        let hi = u32(scratch[sb + S_START + b + 1u]);
        for (var k = lo + 1u; k < hi; k = k + 1u) {
            let v = scratch[sb + S_SORTED + k];
            var j = k;
            loop {
                if (j <= lo) { break; }
                let w = scratch[sb + S_SORTED + j - 1u];
                if (w <= v) { break; }
                scratch[sb + S_SORTED + j] = w;
                j = j - 1u;
            }
            scratch[sb + S_SORTED + j] = v;
        }
    }
    sync();
    // Gather the sorted agents' positions, kinds and states into consecutive
    // words: the coverage and neighbour loops below then read a site's agents
    // from one run of memory instead of at random indices (at 10k agents per
    // member those indices span more than an H200's L2 cache). Pure copies of
    // f32 values and small integers, so results are unchanged.
    for (var k = t; k < n; k = k + W) {
        let j = u32(scratch[sb + S_SORTED + k]);
        scratch[sb + S_GX + k] = src[base + OX + j];
        scratch[sb + S_GY + k] = src[base + OY + j];
        scratch[sb + S_GKS + k] = f32(u32(src[base + OKIND + j]) * 16u + u32(src[base + OSTATE + j]));
    }
    sync();

    // --- Fields: uptake from live-cell coverage, then SOR sweeps on dst.
    let h2 = DX * DX;
    for (var b = t; b < NSITES; b = b + W) {
        let lo = u32(scratch[sb + S_START + b]);
        let hi = u32(scratch[sb + S_START + b + 1u]);
        var cover = 0.0;
        for (var k = lo; k < hi; k = k + 1u) {
            let ks = u32(scratch[sb + S_GKS + k]);
            if ((ks & 15u) == LIVE) {
                let r = radius_of(ks >> 4u, rt, rim);
                cover = cover + (PI * r) * r;
            }
        }
        let f = cover * INV_SITE_AREA;
        scratch[sb + S_DEN_O2 + b] = denominator(h2, param(m, P_o2_diffusion), param(m, P_o2_decay), param(m, P_o2_uptake), f);
        scratch[sb + S_DEN_DRUG + b] = denominator(h2, param(m, P_drug_diffusion), param(m, P_drug_decay), param(m, P_drug_uptake), f);
        dst[base + b] = src[base + b];
        dst[base + NSITES + b] = src[base + NSITES + b];
    }
    sync();
    let drug_edge = aux[min(U.step, NAUX - 1u)];
    // Both fields in one pass per colour (they are independent).
    for (var s = 0u; s < SWEEPS; s = s + 1u) {
        for (var colour = 0u; colour < 2u; colour = colour + 1u) {
            for (var b = t; b < NSITES; b = b + W) {
                let ix = b % NX;
                let iy = b / NX;
                if (((ix + iy) & 1u) == colour) {
                    sor_site(base, 0u, b, ix, iy, o2_edge, scratch[sb + S_DEN_O2 + b]);
                    sor_site(base, NSITES, b, ix, iy, drug_edge, scratch[sb + S_DEN_DRUG + b]);
                }
            }
            sync();
        }
    }

    // --- Per agent: forces, migration, fate.
    let saturated = src[base + HB + H_SATURATED] > 0.0;
    // Invocations take agents in sorted (site) order, so neighbouring
    // invocations read neighbouring sites; each agent's results go to its
    // own index, so the order does not change them.
    for (var q = t; q < n; q = q + W) {
        let i = u32(scratch[sb + S_SORTED + q]);
        let xi = src[base + OX + i];
        let yi = src[base + OY + i];
        let ki = u32(src[base + OKIND + i]);
        let si = u32(src[base + OSTATE + i]);
        let id = u32(src[base + OID + i]);
        let ri = radius_of(ki, rt, rim);
        let b = site_of(xi, yi);
        let bx = b % NX;
        let by = b / NX;
        var fx = 0.0;
        var fy = 0.0;
        var stiff = 0.0;
        var vx = 0.0;
        var vy = 0.0;
        var contacts = 0u;
        let y0 = select(by - 1u, 0u, by == 0u);
        let x0 = select(bx - 1u, 0u, bx == 0u);
        let y1 = min(by + 1u, NY - 1u);
        let x1 = min(bx + 1u, NX - 1u);
        for (var yy = y0; yy <= y1; yy = yy + 1u) {
            for (var xx = x0; xx <= x1; xx = xx + 1u) {
                let nb = yy * NX + xx;
                let lo = u32(scratch[sb + S_START + nb]);
                let hi = u32(scratch[sb + S_START + nb + 1u]);
                for (var k = lo; k < hi; k = k + 1u) {
                    if (k == q) { continue; }
                    let ks = u32(scratch[sb + S_GKS + k]);
                    let kj = ks >> 4u;
                    let sj = ks & 15u;
                    let dx = xi - scratch[sb + S_GX + k];
                    let dy = yi - scratch[sb + S_GY + k];
                    let d2 = dx * dx + dy * dy;
                    let r = ri + radius_of(kj, rt, rim);
                    let ra = r * ADH_RANGE;
                    if (kj == IMMUNE && sj == LIVE && d2 < r * r) { contacts = contacts + 1u; }
                    if (d2 < ra * ra && d2 > 0.0) {
                        let d = sqrt(d2);
                        if (d < r) {
                            let q = 1.0 - d / r;
                            fx = fx + rep * q * dx / d;
                            fy = fy + rep * q * dy / d;
                            stiff = stiff + rep / r;
                        }
                        if (adh > 0.0 && si == LIVE && sj == LIVE) {
                            let qa = 1.0 - d / ra;
                            let f = adh * qa * qa;
                            vx = vx - f * dx / d;
                            vy = vy - f * dy / d;
                        }
                    }
                }
            }
        }
        var mx = 0.0;
        var my = 0.0;
        let r4 = philox4x32_10(vec4<u32>(id, member, U.step, STREAM_AGENTS), key);
        let u0 = philox_unit(r4.x);
        let u1 = philox_unit(r4.y);
        let u2 = philox_unit(r4.z);
        let u3 = philox_unit(r4.w);
        if (ki == IMMUNE && si == LIVE) {
            let cx = i32(bx);
            let cy = i32(by);
            let gx = o2_at(base, cx + 1, cy, o2_edge) - o2_at(base, cx - 1, cy, o2_edge);
            let gy = o2_at(base, cx, cy + 1, o2_edge) - o2_at(base, cx, cy - 1, o2_edge);
            let g2 = gx * gx + gy * gy;
            var tx = 0.0;
            var ty = 0.0;
            // Contact inhibition (cpu.rs).
            if (g2 > 0.0 && stiff == 0.0) {
                let inv = 1.0 / sqrt(g2);
                tx = -gx * inv;
                ty = -gy * inv;
            }
            let th = TAU * u3;
            let bias = param(m, P_immune_bias);
            let rw = 1.0 - bias;
            let speed = param(m, P_immune_speed);
            mx = speed * (bias * tx + rw * cos(th));
            my = speed * (bias * ty + rw * sin(th));
        }
        // Springs and migration in one overdamped balance, linearly
        // implicit in the springs (cpu.rs explains).
        let damp = 1.0 / (1.0 + DT * stiff);
        vx = vx + (fx + mx) * damp;
        vy = vy + (fy + my) * damp;
        let nx = min(max(xi + DT * vx, ri), LX - ri);
        let ny = min(max(yi + DT * vy, ri), LY - ri);
        var slots = 1u;
        var killed = 0u;
        var st = f32(si);
        var clock = src[base + OCLOCK + i] + DT;
        if (ki == TUMOUR && si == LIVE) {
            let c = dst[base + b];
            let cd = dst[base + NSITES + b];
            if (contacts > 0u) {
                var q = 1.0;
                let keep = 1.0 - param(m, P_kill_probability);
                for (var k = 0u; k < contacts; k = k + 1u) { q = q * keep; }
                if (u0 < 1.0 - q) {
                    st = f32(APOPTOTIC);
                    clock = 0.0;
                    killed = 1u;
                }
            }
            if (killed == 0u) {
                let nec_o2 = param(m, P_necrosis_o2);
                let nec = clamp((nec_o2 - c) / (nec_o2 - param(m, P_necrosis_o2_max)), 0.0, 1.0);
                let h_nec = param(m, P_necrosis_rate) * nec;
                var h_drug = 0.0;
                if (cd > 0.0) {
                    let hill = param(m, P_drug_hill);
                    let ch = pow(cd, hill);
                    h_drug = param(m, P_drug_kill_rate) * ch / (ch + pow(param(m, P_drug_ec50), hill));
                }
                let h = param(m, P_apoptosis_rate) + h_drug + h_nec;
                let p_die = 1.0 - exp(-h * DT);
                if (u1 < p_die) {
                    st = select(f32(APOPTOTIC), f32(NECROTIC), u1 < p_die * (h_nec / h));
                    clock = 0.0;
                } else {
                    let lo = param(m, P_prolif_o2_low);
                    let grow = clamp((c - lo) / (param(m, P_prolif_o2_high) - lo), 0.0, 1.0);
                    let rate = LN2 / param(m, P_doubling_time) * grow;
                    let p_div = min(exp(rate * DT) - 1.0, 1.0);
                    if (u2 < p_div && !saturated) { slots = 2u; }
                }
            }
        } else if (ki == IMMUNE && si == LIVE) {
            let p_die = 1.0 - exp(-param(m, P_immune_death_rate) * DT);
            if (u1 < p_die) { slots = 0u; }
        } else if (si == APOPTOTIC) {
            if (clock >= param(m, P_apoptotic_duration)) { slots = 0u; }
        } else if (si == NECROTIC) {
            if (clock >= param(m, P_necrotic_duration)) { slots = 0u; }
        }
        scratch[sb + S_X + i] = nx;
        scratch[sb + S_Y + i] = ny;
        scratch[sb + S_FATE + i] = f32(slots + 4u * killed);
        scratch[sb + S_STATE + i] = st;
        scratch[sb + S_CLOCK + i] = clock;
    }
    sync();

    // --- Compaction in agent order, daughters right after their parents.
    let cha = (n + W - 1u) / W;
    let alo = min(t * cha, n);
    let ahi = min(alo + cha, n);
    var v = vec4<u32>(0u);
    for (var i = alo; i < ahi; i = i + 1u) {
        let f = u32(scratch[sb + S_FATE + i]);
        let slots = f & 3u;
        v = v + vec4<u32>(slots, select(0u, 1u, slots == 2u), f >> 2u, 0u);
    }
    let sc = scan_excl(t, v);
    let overflow = sc.total.x > CAP;
    var at = sc.excl.x;
    var born = sc.excl.y;
    if (overflow) {
        at = sc.excl.x - sc.excl.y;
        born = 0u;
    }
    let next_id = u32(src[base + HB + H_NEXT_ID]);
    for (var i = alo; i < ahi; i = i + 1u) {
        let slots = u32(scratch[sb + S_FATE + i]) & 3u;
        if (slots == 0u) { continue; }
        let ki = u32(src[base + OKIND + i]);
        let ri = radius_of(ki, rt, rim);
        let fx = scratch[sb + S_X + i];
        let fy = scratch[sb + S_Y + i];
        var px = fx;
        var py = fy;
        var clock = scratch[sb + S_CLOCK + i];
        let divides = slots == 2u && !overflow;
        if (divides) {
            let id = u32(src[base + OID + i]);
            let r4 = philox4x32_10(vec4<u32>(id, member, U.step, STREAM_AGENTS), key);
            let th = TAU * philox_unit(r4.w);
            let half = 0.5 * ri;
            let ox = half * cos(th);
            let oy = half * sin(th);
            px = min(max(fx - ox, ri), LX - ri);
            py = min(max(fy - oy, ri), LY - ri);
            let d = at + 1u;
            dst[base + OX + d] = min(max(fx + ox, ri), LX - ri);
            dst[base + OY + d] = min(max(fy + oy, ri), LY - ri);
            dst[base + OKIND + d] = f32(ki);
            dst[base + OSTATE + d] = f32(LIVE);
            dst[base + OCLOCK + d] = 0.0;
            dst[base + OID + d] = f32(next_id + born);
            born = born + 1u;
            clock = 0.0;
        }
        dst[base + OX + at] = px;
        dst[base + OY + at] = py;
        dst[base + OKIND + at] = f32(ki);
        dst[base + OSTATE + at] = scratch[sb + S_STATE + i];
        dst[base + OCLOCK + at] = clock;
        dst[base + OID + at] = src[base + OID + i];
        at = at + select(1u, 2u, divides);
    }
    var n2 = sc.total.x;
    var births = sc.total.y;
    if (overflow) {
        n2 = sc.total.x - sc.total.y;
        births = 0u;
    }
    if (t == 0u) {
        dst[base + HB + H_COUNT] = f32(n2);
        dst[base + HB + H_NEXT_ID] = f32(next_id + births);
        dst[base + HB + H_KILLS] = src[base + HB + H_KILLS] + f32(sc.total.z);
        if (overflow) { dst[base + HB + H_SATURATED] = f32(U.step + 1u); }
    }
    sync();

    // --- Header scalars (cpu::observe_header).
    let ch2 = (n2 + W - 1u) / W;
    let lo2 = min(t * ch2, n2);
    let hi2 = min(lo2 + ch2, n2);
    var a = vec4<f32>(0.0);
    var tb = vec4<f32>(0.0);
    for (var i = lo2; i < hi2; i = i + 1u) {
        let k = u32(dst[base + OKIND + i]);
        let s = u32(dst[base + OSTATE + i]);
        a = a + vec4<f32>(
            select(0.0, 1.0, k == TUMOUR && s == LIVE),
            select(0.0, 1.0, k == IMMUNE && s == LIVE),
            select(0.0, 1.0, s == APOPTOTIC),
            select(0.0, 1.0, s == NECROTIC));
        if (k == TUMOUR) { tb = tb + vec4<f32>(1.0, dst[base + OX + i], dst[base + OY + i], 0.0); }
    }
    let counts = reduce4(t, a);
    let tum = reduce4(t, tb);
    var fs = vec4<f32>(0.0);
    for (var b = blo; b < bhi; b = b + 1u) {
        fs = fs + vec4<f32>(dst[base + b], dst[base + NSITES + b], 0.0, 0.0);
    }
    let fields = reduce4(t, fs);
    var cx = 0.5 * LX;
    var cy = 0.5 * LY;
    if (tum.x > 0.0) {
        cx = tum.y / tum.x;
        cy = tum.z / tum.x;
    }
    var sp = vec4<f32>(0.0);
    for (var i = lo2; i < hi2; i = i + 1u) {
        if (u32(dst[base + OKIND + i]) == TUMOUR) {
            let dx = dst[base + OX + i] - cx;
            let dy = dst[base + OY + i] - cy;
            let r2 = dx * dx + dy * dy;
            var nec = 0.0;
            if (u32(dst[base + OSTATE + i]) == NECROTIC) { nec = r2; }
            sp = sp + vec4<f32>(r2, nec, 0.0, 0.0);
        }
    }
    let spread = reduce4(t, sp);
    if (t == 0u) {
        dst[base + HB + H_LIVE] = counts.x + counts.y;
        dst[base + HB + H_LIVE_TUMOUR] = counts.x;
        dst[base + HB + H_LIVE_IMMUNE] = counts.y;
        dst[base + HB + H_APOPTOTIC] = counts.z;
        dst[base + HB + H_NECROTIC] = counts.w;
        dst[base + HB + H_TUMOUR_AREA] = tum.x * ((PI * rt) * rt);
        var rad = 0.0;
        if (tum.x > 0.0) { rad = sqrt((2.0 * spread.x) / tum.x); }
        dst[base + HB + H_TUMOUR_RADIUS] = rad;
        var nrad = 0.0;
        if (counts.w > 0.0) { nrad = sqrt((2.0 * spread.y) / counts.w); }
        dst[base + HB + H_NECROTIC_RADIUS] = nrad;
        dst[base + HB + H_MEAN_O2] = fields.x * INV_SITES;
        dst[base + HB + H_MEAN_DRUG] = fields.y * INV_SITES;
    }
}
