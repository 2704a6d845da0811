// Applies an analysis's ensemble-space transform to member states where they
// live: E_a = x̄ 1ᵀ + X' T over the state words [first_word, first_word +
// words) of every member whose status is ok (failed members are excluded
// from the mean and the products and copied through unchanged).
// T is held either dense (T = w 1ᵀ + W, N × N) or as the mean-plus-low-rank
// form of the observation-space analyses (T = w 1ᵀ + α I + L Rᵀ).
// CPU twin: engine::mix (same passes, same summation order).
//
// Passes, each dispatched batch after batch in member order, so every sum
// runs over members in global order whatever the batch layout:
//   mix_mean    rows[i]            = Σ_m x_mi / n_ok
//   mix_var     rows[W + i]        = Σ_m (x_mi − x̄_i)² / (n_ok − 1)
//   mix_project rows[2W + c W + i] = Σ_m (x_mi − x̄_i) C[m, c]
//               (C = [w, L] for the low-rank form, C = T when dense)
//   mix_apply   dst = x̄ + B[·, m]                         (dense)
//               dst = x̄ + B[·, 0] + α a + Σ_l B[·, 1+l] R[m, l] (low rank)
//               clamped to the word's bounds, stored through flush_tiny.
// A partial sum is carried from batch to batch in `rows` (FIRST starts it,
// LAST scales it).

// Keep in sync with gpu::mix::MixUniform.
struct Mix {
    words: u32,
    first_word: u32,
    state_len: u32,
    members: u32,
    offset: u32,
    kc: u32,
    kr: u32,
    flags: u32,
    alpha: f32,
    inv_n: f32,
    inv_dof: f32,
    right_offset: u32,
}

const FIRST: u32 = 1u;
const LAST: u32 = 2u;
const DENSE: u32 = 4u;

@group(0) @binding(0) var<uniform> cfg: Mix;
@group(0) @binding(1) var<storage, read> mix_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> mix_dst: array<f32>;
@group(0) @binding(3) var<storage, read> mix_status: array<u32>;
@group(0) @binding(4) var<storage, read_write> mix_rows: array<f32>;
@group(0) @binding(5) var<storage, read> mix_coef: array<f32>;
@group(0) @binding(6) var<storage, read> mix_bounds: array<f32>;

fn member_ok(m: u32) -> bool {
    return mix_status[2u * m] == 0u;
}

fn word(m: u32, i: u32) -> f32 {
    return mix_src[m * cfg.state_len + cfg.first_word + i];
}

@compute @workgroup_size(64, 1, 1)
fn mix_mean(@builtin(global_invocation_id) g: vec3<u32>) {
    let i = g.x;
    if (i >= cfg.words) {
        return;
    }
    var s = 0.0;
    if ((cfg.flags & FIRST) == 0u) {
        s = mix_rows[i];
    }
    for (var m = 0u; m < cfg.members; m++) {
        if (member_ok(m)) {
            s = s + word(m, i);
        }
    }
    if ((cfg.flags & LAST) != 0u) {
        s = s * cfg.inv_n;
    }
    mix_rows[i] = s;
}

@compute @workgroup_size(64, 1, 1)
fn mix_var(@builtin(global_invocation_id) g: vec3<u32>) {
    let i = g.x;
    if (i >= cfg.words) {
        return;
    }
    let mean = mix_rows[i];
    var s = 0.0;
    if ((cfg.flags & FIRST) == 0u) {
        s = mix_rows[cfg.words + i];
    }
    for (var m = 0u; m < cfg.members; m++) {
        if (member_ok(m)) {
            let d = word(m, i) - mean;
            s = s + d * d;
        }
    }
    if ((cfg.flags & LAST) != 0u) {
        s = s * cfg.inv_dof;
    }
    mix_rows[cfg.words + i] = s;
}

@compute @workgroup_size(64, 1, 1)
fn mix_project(@builtin(global_invocation_id) g: vec3<u32>) {
    let i = g.x;
    let c = g.y;
    if (i >= cfg.words || c >= cfg.kc) {
        return;
    }
    let mean = mix_rows[i];
    let at = 2u * cfg.words + c * cfg.words + i;
    var s = 0.0;
    if ((cfg.flags & FIRST) == 0u) {
        s = mix_rows[at];
    }
    for (var m = 0u; m < cfg.members; m++) {
        if (member_ok(m)) {
            s = s + (word(m, i) - mean) * mix_coef[(cfg.offset + m) * cfg.kc + c];
        }
    }
    mix_rows[at] = s;
}

@compute @workgroup_size(64, 1, 1)
fn mix_apply(@builtin(global_invocation_id) g: vec3<u32>) {
    let i = g.x;
    let m = g.y;
    if (i >= cfg.state_len || m >= cfg.members) {
        return;
    }
    let at = m * cfg.state_len + i;
    let v = mix_src[at];
    if (!member_ok(m) || i < cfg.first_word || i >= cfg.first_word + cfg.words) {
        mix_dst[at] = v;
        return;
    }
    let r = i - cfg.first_word;
    let mean = mix_rows[r];
    let b = 2u * cfg.words;
    var out: f32;
    if ((cfg.flags & DENSE) != 0u) {
        out = mean + mix_rows[b + (cfg.offset + m) * cfg.words + r];
    } else {
        out = (mean + mix_rows[b + r]) + cfg.alpha * (v - mean);
        for (var l = 0u; l < cfg.kr; l++) {
            out = out + mix_rows[b + (1u + l) * cfg.words + r]
                * mix_coef[cfg.right_offset + (cfg.offset + m) * cfg.kr + l];
        }
    }
    out = clamp(out, mix_bounds[2u * r], mix_bounds[2u * r + 1u]);
    mix_dst[at] = flush_tiny(out);
}
