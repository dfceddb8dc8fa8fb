//! Faults the renderer contains instead of passing on: a processor that panics, samples that are
//! not finite, and denormal arithmetic.
//!
//! - **Panics.** Each processor call runs under `catch_unwind`. A processor that panics is
//!   faulted: it outputs silence from then on and is never called again, and the panic's payload
//!   goes back to the control side (as feedback, to be read and dropped there) to be reported
//!   once with the node. The rest of the graph and the clock keep going. Unwinding allocates (the
//!   payload and the unwinder's own state): that is the one allocation the render thread makes,
//!   once per faulted node. [`in_processor`] tells a host's panic hook that the panic is being
//!   contained, so it can stay quiet on the render thread. Containment needs unwinding: under
//!   `panic = "abort"` a panicking processor aborts the process.
//! - **Non-finite samples** never reach the output: the destination's mix is scrubbed (each
//!   NaN or ±infinity becomes 0) every quantum. When one is found, the renderer checks every
//!   node's outputs in the next quantum to name the first node that produces one, and reports it
//!   once per node. Filters whose state goes non-finite reset it (see the biquad and IIR
//!   processors).
//! - **Denormals** are flushed to zero while a quantum renders ([`FlushDenormals`]), and the
//!   thread's previous floating-point mode is restored afterwards, since the offline renderer
//!   runs on the game's own thread.

use std::any::Any;
use std::cell::Cell;

use super::bus::AudioBus;

thread_local! {
    static IN_PROCESSOR: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a processor call right now (a panic here is contained by the
/// renderer and reported as a fault; a host's panic hook can stay quiet for it).
pub fn in_processor() -> bool {
    IN_PROCESSOR.with(Cell::get)
}

/// Runs `f` (a processor call), catching a panic. `Err` holds the panic's payload.
pub(crate) fn contain<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    IN_PROCESSOR.with(|p| p.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_PROCESSOR.with(|p| p.set(false));
    result
}

/// What went wrong with a node, sent back to the control side once per node.
pub enum NodeFault {
    /// Its processor panicked; the payload (usually a `&str` or `String`) is dropped on the
    /// control side. The node outputs silence from then on.
    Panic(Box<dyn Any + Send>),
    /// It output a NaN or an infinity (scrubbed before the device).
    NonFinite,
    /// An automation event for one of its params was dropped: the param's timeline was full
    /// (the host did not send a larger one first). Counted in `RenderShared::automation_dropped`.
    AutomationDropped,
}

impl NodeFault {
    /// The panic message, or a description of the fault.
    pub fn message(&self) -> String {
        match self {
            Self::Panic(payload) => payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-text payload".to_owned()),
            Self::NonFinite => "output non-finite samples (NaN or infinity)".to_owned(),
            Self::AutomationDropped => {
                "dropped an automation event: the param's timeline was full".to_owned()
            }
        }
    }
}

impl std::fmt::Debug for NodeFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Panic(_) => write!(f, "Panic({:?})", self.message()),
            Self::NonFinite => f.write_str("NonFinite"),
            Self::AutomationDropped => f.write_str("AutomationDropped"),
        }
    }
}

/// Whether any sample of `bus` is NaN or infinite.
pub fn has_non_finite(bus: &AudioBus) -> bool {
    !bus.is_silent() && bus.channels_slice().iter().any(|c| !all_finite(c))
}

/// The bits of an `f32` whose exponent field is all ones: NaN or ±infinity.
const EXPONENT_BITS: u32 = 0x7f80_0000;

fn all_finite(channel: &[f32]) -> bool {
    // A sample is finite when its exponent field is not all ones. The largest magnitude's bits
    // (sign cleared) are an integer max, which vectorizes; a float sum would be one serial
    // chain of adds per sample, the renderer's largest fixed cost per quantum.
    let widest = channel
        .iter()
        .fold(0u32, |m, &x| m.max(x.to_bits() & !(1 << 31)));
    widest < EXPONENT_BITS
}

/// Replaces every NaN and infinity in `bus` with 0. Returns whether there was any.
pub fn scrub(bus: &mut AudioBus) -> bool {
    if !has_non_finite(bus) {
        return false;
    }
    for channel in bus.channels_mut() {
        for x in channel.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
            }
        }
    }
    true
}

/// Flush-to-zero and denormals-are-zero while alive; the thread's previous mode comes back on
/// drop. A no-op on targets other than x86/x86_64 (SSE) and aarch64.
pub struct FlushDenormals {
    #[cfg_attr(
        not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )]
    saved: u64,
}

impl FlushDenormals {
    /// Sets flush-to-zero (and denormals-are-zero on x86) on this thread.
    #[inline]
    pub fn new() -> Self {
        Self {
            saved: fp_mode::set_flush(),
        }
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    #[inline]
    fn drop(&mut self) {
        fp_mode::restore(self.saved);
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod fp_mode {
    /// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
    const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

    #[inline]
    pub fn set_flush() -> u64 {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr/ldmxcsr read and write this thread's SSE control register; the only
        // bits changed are FTZ and DAZ, which change no memory and no other state.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
            let new = csr | FTZ_DAZ;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &new, options(nostack, preserves_flags));
        }
        u64::from(csr)
    }

    #[inline]
    pub fn restore(saved: u64) {
        let csr = saved as u32;
        // SAFETY: writes back the value read by `set_flush` on this thread.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags));
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod fp_mode {
    /// FPCR's flush-to-zero bit.
    const FZ: u64 = 1 << 24;

    #[inline]
    pub fn set_flush() -> u64 {
        let fpcr: u64;
        // SAFETY: reads and writes this thread's FPCR; only the FZ bit changes.
        unsafe {
            std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack));
            std::arch::asm!("msr fpcr, {}", in(reg) fpcr | FZ, options(nomem, nostack));
        }
        fpcr
    }

    #[inline]
    pub fn restore(saved: u64) {
        // SAFETY: writes back the value read by `set_flush` on this thread.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) saved, options(nomem, nostack));
        }
    }
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
mod fp_mode {
    #[inline]
    pub fn set_flush() -> u64 {
        0
    }

    #[inline]
    pub fn restore(_: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Half the smallest normal f32: a denormal, unless flushed. Opaque to the optimizer, so
    /// each call multiplies at run time under the thread's current mode.
    #[inline(never)]
    fn half_of_smallest_normal() -> f32 {
        std::hint::black_box(f32::MIN_POSITIVE) * std::hint::black_box(0.5f32)
    }

    #[test]
    fn denormals_flush_inside_the_guard_and_the_mode_comes_back() {
        assert!(
            half_of_smallest_normal() > 0.0,
            "denormals exist outside the guard"
        );
        {
            let _guard = FlushDenormals::new();
            if cfg!(any(
                target_arch = "x86",
                target_arch = "x86_64",
                target_arch = "aarch64"
            )) {
                assert_eq!(half_of_smallest_normal(), 0.0, "flushed to zero inside");
            }
        }
        assert!(half_of_smallest_normal() > 0.0, "the previous mode is back");
    }

    #[test]
    fn scrub_replaces_only_non_finite_samples() {
        let mut bus = AudioBus::with_capacity(2);
        bus.set_channels(2);
        bus.channel_mut(0).fill(0.25);
        bus.channel_mut(1).fill(-0.5);
        assert!(!scrub(&mut bus));
        bus.channel_mut(0)[3] = f32::NAN;
        bus.channel_mut(1)[127] = f32::NEG_INFINITY;
        bus.channel_mut(1)[0] = f32::INFINITY;
        assert!(has_non_finite(&bus));
        assert!(scrub(&mut bus));
        assert_eq!(bus.channel(0)[3], 0.0);
        assert_eq!(bus.channel(0)[4], 0.25);
        assert_eq!((bus.channel(1)[0], bus.channel(1)[127]), (0.0, 0.0));
        assert_eq!(bus.channel(1)[1], -0.5);
        assert!(!has_non_finite(&bus));
    }

    #[test]
    fn every_non_finite_value_is_found_at_every_position_and_no_finite_one() {
        let finite = [
            f32::MAX,
            -f32::MAX,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE * 0.5,
            -0.0,
            1.0,
        ];
        let mut channel = [0.25f32; 128];
        for (k, &x) in finite.iter().enumerate() {
            channel[k * 20] = x;
        }
        assert!(all_finite(&channel));
        // Quiet and signalling NaNs of both signs, and both infinities.
        let non_finite = [
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0xffc0_0000),
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for &bad in &non_finite {
            for i in [0, 1, 63, 64, 126, 127] {
                let mut c = channel;
                c[i] = bad;
                assert!(!all_finite(&c), "{bad:?} at {i}");
            }
        }
    }

    #[test]
    fn a_contained_panic_returns_its_payload() {
        let result = contain(|| -> u32 { panic!("boom") });
        let fault = NodeFault::Panic(result.unwrap_err());
        assert_eq!(fault.message(), "boom");
        assert!(!in_processor());
        assert_eq!(contain(|| 7).unwrap(), 7);
    }
}
