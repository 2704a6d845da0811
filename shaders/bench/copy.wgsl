// The bandwidth reference of `vtwin bench --suite rd`'s `copy` row: every
// invocation reads one vec4<f32> (16 B) and writes it elsewhere. Workgroups
// are laid out 2-D (x up to ROW_WG) so large buffers stay under the
// per-dimension dispatch limit. Header: N4 (vec4s to copy), ROW_WG.

@group(0) @binding(0) var<storage, read> copy_src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> copy_dst: array<vec4<f32>>;

@compute @workgroup_size(256, 1, 1)
fn copy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * ROW_WG + wg.x) * 256u + li;
    if (i < N4) {
        copy_dst[i] = copy_src[i];
    }
}
