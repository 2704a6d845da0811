// shared/bindings.wgsl with the state seen as vec4<f32> (16-byte loads and
// stores), for rd/stencil_vec4.wgsl. Same bindings, same buffers: the
// engine binds them identically; only the shader's view differs. Used
// only when the row width NX is a multiple of 4, so every row, plane and
// member starts on a vec4 boundary and the buffer length is a multiple
// of 16 bytes.

//#include "shared/step.wgsl"

@group(0) @binding(0) var<uniform> U: Step;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> status: array<u32>;

fn param(m: u32, i: u32) -> f32 {
    return params[m * NP + i];
}
