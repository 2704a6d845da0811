//! Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
//!
//! Every draw in vtwin is a pure function of a key `(seed)` and a counter
//! `(site or agent, member, step, stream)`, so no result depends on batch
//! size, dispatch order or thread count. `shaders/shared/philox.wgsl` is the
//! GPU twin of this file (keep the two in step); both are checked against the
//! Random123 known-answer vectors.
//!
//! Owns: the generator and the conversions to uniform/normal variates.
//! Never holds state: there is no global generator.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = (a as u64) * (b as u64);
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds: `ctr` is the 128-bit counter, `key` the 64-bit key.
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = ctr;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Named random streams, so two uses of randomness at the same
/// (member, site, step) never share numbers. Keep in step with
/// `shaders/shared/philox.wgsl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Stream {
    /// Initial conditions.
    Init = 1,
    /// Parameter draws for members (scene distributions).
    Params = 2,
    /// Model noise during time stepping.
    Dynamics = 3,
    /// Observation noise (twin experiments, cohorts).
    ObsNoise = 4,
    /// Host-side methods (filters, designs) that want keyed draws.
    Method = 5,
    /// Agent-based models: behaviour decisions.
    Agents = 6,
}

/// The key for a run seed.
pub fn key_of(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// Four 32-bit draws for one (seed, site, member, step, stream) tuple.
pub fn draw4(seed: u64, site: u32, member: u32, step: u32, stream: u32) -> [u32; 4] {
    philox4x32_10([site, member, step, stream], key_of(seed))
}

/// A u32 to a uniform f32 in [0, 1): the top 24 bits, exactly as in WGSL.
#[inline]
pub fn u32_to_unit_f32(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Two u32 to a uniform f64 in (0, 1): 53 bits, never exactly 0.
#[inline]
pub fn u32x2_to_unit_f64(a: u32, b: u32) -> f64 {
    let bits = ((a as u64) << 21) ^ (b as u64 >> 11);
    ((bits & ((1u64 << 53) - 1)) as f64 + 0.5) * (1.0 / 9_007_199_254_740_992.0)
}

/// Two standard normal f64 draws (Box–Muller) for one counter.
pub fn normal2_f64(seed: u64, site: u32, member: u32, step: u32, stream: u32) -> [f64; 2] {
    let r = draw4(seed, site, member, step, stream);
    let u1 = u32x2_to_unit_f64(r[0], r[1]);
    let u2 = u32x2_to_unit_f64(r[2], r[3]);
    let rad = (-2.0 * u1.ln()).sqrt();
    let th = std::f64::consts::TAU * u2;
    [rad * th.cos(), rad * th.sin()]
}

/// One uniform f64 in (0, 1) for one counter.
pub fn uniform_f64(seed: u64, site: u32, member: u32, step: u32, stream: u32) -> f64 {
    let r = draw4(seed, site, member, step, stream);
    u32x2_to_unit_f64(r[0], r[1])
}

/// A deterministic sequence of uniforms keyed by (seed, member, stream):
/// the i-th value uses counter (i, member, 0, stream). For host-side code
/// that needs "a generator per member" without any hidden state.
#[derive(Clone, Debug)]
pub struct KeyedStream {
    seed: u64,
    member: u32,
    stream: u32,
    counter: u32,
    buf: [u32; 4],
    used: usize,
}

impl KeyedStream {
    pub fn new(seed: u64, member: u32, stream: u32) -> Self {
        KeyedStream {
            seed,
            member,
            stream,
            counter: 0,
            buf: [0; 4],
            used: 4,
        }
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.used == 4 {
            self.buf = draw4(self.seed, self.counter, self.member, 0, self.stream);
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let v = self.buf[self.used];
        self.used += 1;
        v
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        let a = self.next_u32();
        let b = self.next_u32();
        u32x2_to_unit_f64(a, b)
    }

    /// Standard normal (Box–Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Random123's known-answer vectors for Philox4x32-10 (Salmon et al. 2011, SC11; the Random123 distribution).
pub const KNOWN_ANSWERS: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
    (
        [0, 0, 0, 0],
        [0, 0],
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ),
    (
        [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
        [0xffffffff, 0xffffffff],
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ),
    (
        [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
        [0xa4093822, 0x299f31d0],
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors of the Random123 distribution (Salmon et al.
    /// 2011, "Parallel random numbers: as easy as 1, 2, 3", SC'11).
    #[test]
    fn philox_known_answers() {
        for (ctr, key, expect) in KNOWN_ANSWERS {
            assert_eq!(
                philox4x32_10(ctr, key),
                expect,
                "ctr {ctr:08x?} key {key:08x?}"
            );
        }
    }

    #[test]
    fn uniforms_are_in_range_and_roughly_uniform() {
        let n = 100_000;
        let mut s = KeyedStream::new(7, 3, Stream::Method as u32);
        let mut sum = 0.0;
        for _ in 0..n {
            let u = s.uniform();
            assert!(u > 0.0 && u < 1.0);
            sum += u;
        }
        // mean of U(0,1): sd of the mean is 1/sqrt(12 n) ≈ 0.00091; allow 5 sd.
        assert!((sum / n as f64 - 0.5).abs() < 0.0046);
        assert_eq!(u32_to_unit_f32(u32::MAX), 16_777_215.0 / 16_777_216.0);
    }

    #[test]
    fn normals_have_unit_variance() {
        let n = 50_000;
        let mut s2 = 0.0;
        let mut s1 = 0.0;
        for i in 0..n {
            let [a, b] = normal2_f64(11, i, 0, 0, Stream::ObsNoise as u32);
            s1 += a + b;
            s2 += a * a + b * b;
        }
        let m = s1 / (2 * n) as f64;
        let v = s2 / (2 * n) as f64 - m * m;
        // sd of the sample variance ≈ sqrt(2/(2n)) ≈ 0.0045; allow 5 sd.
        assert!((v - 1.0).abs() < 0.023, "variance {v}");
        assert!(m.abs() < 0.016, "mean {m}");
    }
}
