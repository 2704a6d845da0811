//! Flush-to-zero for the CPU twin kernels: a guard that, while it lives,
//! makes this thread's float unit flush subnormal (denormal) f32 results to
//! zero and read subnormal inputs as zero, and restores the previous mode
//! when dropped.
//!
//! Why. Reaction–diffusion states decay towards zero away from their
//! patterns (Gray–Scott's v shrinks by 1 − (F + k) per step). Under IEEE
//! gradual underflow the values, and products such as u·v·v before them,
//! pass through the subnormal range, where x86 cores take a microcode
//! assist of some hundred cycles per operation, and they stay there: once
//! (F + k)·v rounds to zero, v stops decaying at a few units of the last
//! place. `scenes/gray_scott.toml` at 256 members took 29× as long for
//! 2,000 steps as for 400 (docs/performance.md).
//!
//! GPUs differ: Vulkan leaves subnormal handling to the driver unless a
//! shader asks for a mode (naga's SPIR-V asks for none). Lavapipe keeps
//! them: its states are bit-identical to the IEEE twin through the regime
//! (docs/performance.md); hardware GPUs may flush. Either way the backends
//! now differ there by less than about 1e-37
//! (`verify::subnormal_agreement`).
//!
//! How. x86_64: MXCSR bits FTZ (15) and DAZ (6); DAZ only where the CPU
//! supports it (MXCSR_MASK from `fxsave`, read once). aarch64: FPCR bit FZ
//! (24), which flushes inputs and outputs of scalar and vector f32/f64
//! operations. Other targets: the guard does nothing ([`FLUSHES`] is false)
//! and the CPU backend keeps IEEE gradual underflow: slower in that regime,
//! and equal to lavapipe rather than to a flushing GPU.
//!
//! Caveat, accepted knowingly. Rust documents running Rust code with a
//! non-default floating-point environment as undefined behaviour (see the
//! docs of `core::arch::x86_64::_mm_setcsr`): LLVM folds constants and moves
//! float operations assuming gradual underflow. What we rely on: the mode
//! is switched by `asm!` blocks that the compiler treats as opaque memory
//! barriers, so every load the kernel makes happens under the new mode;
//! between them only plain f32 arithmetic on those loaded values runs (the
//! models' `step_cpu` through a trait object, `observe_member`), with no
//! unsafe code whose soundness depends on a float value. The worst a
//! compile-time fold can do there is evaluate one operation with gradual
//! underflow, a difference below 1.2e-38. The mode is restored before the
//! thread returns to rayon or to any other code, panics included (Drop).
//!
//! Owns: the thread's float control register, only inside the guard's
//! lifetime. Must not leave the mode changed on any path, and is used only
//! around CPU twin kernels (src/engine/cpu.rs).

use std::marker::PhantomData;

/// Whether [`FlushToZero`] changes anything on this target.
pub const FLUSHES: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// While alive, subnormal f32/f64 results are flushed to zero (and, where
/// the CPU supports it, subnormal inputs read as zero) on this thread.
/// Not `Send`: it must be dropped on the thread that created it.
#[must_use = "the mode lasts only while the guard lives"]
pub struct FlushToZero {
    saved: arch::Word,
    _this_thread: PhantomData<*const ()>,
}

impl FlushToZero {
    #[inline]
    pub fn new() -> FlushToZero {
        let saved = arch::read();
        arch::write(saved | arch::flush_bits());
        FlushToZero {
            saved,
            _this_thread: PhantomData,
        }
    }
}

impl Default for FlushToZero {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushToZero {
    #[inline]
    fn drop(&mut self) {
        arch::write(self.saved);
    }
}

/// Runs `f` with subnormals flushed on this thread.
#[inline]
pub fn flush_to_zero<R>(f: impl FnOnce() -> R) -> R {
    let _g = FlushToZero::new();
    f()
}

/// Whether this thread flushes subnormal results right now (for tests and
/// diagnostics).
pub fn flushing() -> bool {
    FLUSHES && arch::read() & arch::flush_bits() != 0
}

#[cfg(target_arch = "x86_64")]
mod arch {
    use std::arch::asm;
    use std::sync::OnceLock;

    pub type Word = u32;

    const FTZ: u32 = 1 << 15;
    const DAZ: u32 = 1 << 6;

    /// FTZ, plus DAZ where MXCSR_MASK says the CPU has it (setting an
    /// unsupported MXCSR bit faults).
    pub fn flush_bits() -> u32 {
        static BITS: OnceLock<u32> = OnceLock::new();
        *BITS.get_or_init(|| {
            #[repr(C, align(16))]
            struct Area([u8; 512]);
            let mut a = Area([0; 512]);
            // SAFETY: fxsave writes 512 bytes to a 16-byte aligned buffer of
            // that size; fxsr is part of the x86_64 baseline.
            unsafe { std::arch::x86_64::_fxsave(a.0.as_mut_ptr()) };
            let mask = u32::from_le_bytes([a.0[28], a.0[29], a.0[30], a.0[31]]);
            // A zero mask means the default 0xFFBF: no DAZ.
            if mask & DAZ != 0 { FTZ | DAZ } else { FTZ }
        })
    }

    #[inline]
    pub fn read() -> u32 {
        let mut csr = 0u32;
        // SAFETY: stmxcsr stores the 4-byte MXCSR into `csr`.
        unsafe {
            asm!("stmxcsr [{}]", in(reg) &mut csr as *mut u32, options(nostack, preserves_flags));
        }
        csr
    }

    #[inline]
    pub fn write(csr: u32) {
        // SAFETY: `csr` is a value read from MXCSR with only supported bits
        // added (flush_bits). No `nomem`: the block is a compiler barrier.
        unsafe {
            asm!("ldmxcsr [{}]", in(reg) &csr as *const u32, options(nostack, preserves_flags));
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    use std::arch::asm;

    pub type Word = u64;

    /// FPCR.FZ.
    pub fn flush_bits() -> u64 {
        1 << 24
    }

    #[inline]
    pub fn read() -> u64 {
        let fpcr: u64;
        // SAFETY: reading FPCR has no side effects.
        unsafe {
            asm!("mrs {}, fpcr", out(reg) fpcr, options(nostack, preserves_flags));
        }
        fpcr
    }

    #[inline]
    pub fn write(fpcr: u64) {
        // SAFETY: a value read from FPCR with FZ added or restored. No
        // `nomem`: the block is a compiler barrier.
        unsafe {
            asm!("msr fpcr, {}", in(reg) fpcr, options(nostack, preserves_flags));
        }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod arch {
    pub type Word = u32;
    pub fn flush_bits() -> u32 {
        0
    }
    pub fn read() -> u32 {
        0
    }
    pub fn write(_: u32) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// 1e-20² = 1e-40 is subnormal in f32.
    fn tiny_square() -> f32 {
        let x = black_box(1e-20f32);
        black_box(x * x)
    }

    #[test]
    fn flushes_inside_the_guard_and_restores_after() {
        let before = tiny_square();
        assert!(before.is_subnormal(), "IEEE default: {before:e}");
        assert!(!flushing());
        let inside = flush_to_zero(|| {
            assert_eq!(flushing(), FLUSHES);
            tiny_square()
        });
        if FLUSHES {
            assert_eq!(inside.to_bits(), 0, "flushed to +0: {inside:e}");
        } else {
            assert_eq!(inside.to_bits(), before.to_bits());
        }
        assert!(!flushing());
        assert_eq!(tiny_square().to_bits(), before.to_bits(), "mode restored");
    }

    #[test]
    fn subnormal_inputs_read_as_zero_where_supported() {
        let sub = black_box(f32::from_bits(1 << 20)); // 1.5e-39
        assert!(sub.is_subnormal());
        // The sum is normal, so only DAZ (not FTZ) can change it.
        let ieee = black_box(sub + black_box(1e-37f32));
        let guarded = flush_to_zero(|| black_box(sub + black_box(1e-37f32)));
        #[cfg(target_arch = "x86_64")]
        let daz = arch::flush_bits() & (1 << 6) != 0;
        #[cfg(target_arch = "aarch64")]
        let daz = true;
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let daz = false;
        if daz {
            assert_eq!(guarded, 1e-37f32);
            assert_ne!(ieee, 1e-37f32);
        } else {
            assert_eq!(guarded, ieee);
        }
    }

    #[test]
    fn nested_guards_restore_the_outer_mode() {
        let outer = FlushToZero::new();
        {
            let _inner = FlushToZero::new();
            assert_eq!(flushing(), FLUSHES);
        }
        assert_eq!(flushing(), FLUSHES, "inner drop keeps the outer mode");
        drop(outer);
        assert!(!flushing());
    }

    #[test]
    fn the_mode_is_restored_when_the_kernel_panics() {
        let r = std::panic::catch_unwind(|| flush_to_zero(|| panic!("kernel failed")));
        assert!(r.is_err());
        assert!(!flushing());
        assert!(tiny_square().is_subnormal());
    }
}
