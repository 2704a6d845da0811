// Every reaction-diffusion kernel stores each new state value through
// flush_tiny: zero and subnormal values (exponent bits 0, i.e.
// |v| < 1.17549435e-38, f32's smallest normal) become +0.0, everything else
// (NaN and infinities included) is kept. A bit test, not a float compare,
// so the answer does not depend on whether the device flushes subnormal
// operands. Why: states decaying towards zero would otherwise sit in the
// subnormal range, slow on CPUs and software adapters, and stored
// differently by devices that flush and devices that do not.
// CPU twin: models::rd::cpu::flush_tiny (same test).

fn flush_tiny(v: f32) -> f32 {
    return select(v, 0.0, (bitcast<u32>(v) & 0x7f800000u) == 0u);
}
