// Known-answer test kernel: one Philox call per input record
// (counter.xyzw, key.xy, pad.xy) → output.xyzw.

@group(0) @binding(0) var<storage, read> inputs: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> outputs: array<vec4<u32>>;

@compute @workgroup_size(1, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&outputs)) {
        return;
    }
    outputs[i] = philox4x32_10(inputs[2u * i], inputs[2u * i + 1u].xy);
}
