//! `IIRFilterNode`'s render side: a general IIR filter given by its transfer function's
//! coefficients,
//!
//! ```text
//!        Σ_{m=0}^{M} b_m z^-m
//! H(z) = ────────────────────
//!        Σ_{n=0}^{N} a_n z^-n
//! ```
//!
//! with `b` = `feedforward` and `a` = `feedback`, 1 to 20 of each, normalized by `a_0`
//! (spec). The coefficients are fixed at construction. The difference equation runs in `f64`
//! per channel (histories of 32 frames in circular buffers, preallocated); after the input goes
//! silent the tail is rendered until the output history decays below the smallest normal
//! `f32`, then the node outputs silence.

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;
use crate::render::bus::{MAX_CHANNELS, RENDER_QUANTUM};

/// The most coefficients in `feedforward` or `feedback` (spec).
pub const MAX_IIR_COEFFICIENTS: usize = 20;

/// History length (a power of two ≥ [`MAX_IIR_COEFFICIENTS`]).
const HISTORY: usize = 32;
const MASK: usize = HISTORY - 1;

/// The filter's response at `x` = frequency / Nyquist (0..=1): `(magnitude, phase)` of
/// `H(e^{iπx})` for the coefficients as given (the ratio does not depend on normalization).
/// The body of `getFrequencyResponse`, passed to [`frequency_response`](super::frequency_response).
pub fn iir_response(feedforward: &[f64], feedback: &[f64], x: f64) -> (f64, f64) {
    // Σ c_k z^-k with z^-1 = e^{-iω}.
    let w = -std::f64::consts::PI * x;
    let poly = |c: &[f64]| {
        c.iter().enumerate().fold((0.0, 0.0), |(re, im), (k, &v)| {
            let (s, co) = (w * k as f64).sin_cos();
            (re + v * co, im + v * s)
        })
    };
    let ((nr, ni), (dr, di)) = (poly(feedforward), poly(feedback));
    let den = dr * dr + di * di;
    let (hr, hi) = ((nr * dr + ni * di) / den, (ni * dr - nr * di) / den);
    (hr.hypot(hi), hi.atan2(hr))
}

impl IIRFilterProcessor {
    /// A filter with these coefficients (validated by the caller: 1..=20 of each, finite,
    /// `feedback[0]` ≠ 0; extra coefficients are ignored), normalized by `feedback[0]`, with
    /// silent histories (allocates).
    pub fn new(feedforward: &[f64], feedback: &[f64]) -> Self {
        let a0 = feedback.first().copied().unwrap_or(1.0);
        let mut b = [0.0; MAX_IIR_COEFFICIENTS];
        let mut a = [0.0; MAX_IIR_COEFFICIENTS];
        for (dst, src) in b.iter_mut().zip(feedforward) {
            *dst = src / a0;
        }
        for (dst, src) in a.iter_mut().zip(feedback) {
            *dst = src / a0;
        }
        Self {
            coefficients: Coefficients {
                b,
                a,
                nb: feedforward.len().min(MAX_IIR_COEFFICIENTS),
                na: feedback.len().min(MAX_IIR_COEFFICIENTS),
            },
            history: Box::new([History::default(); MAX_CHANNELS]),
            channels: 0,
        }
    }
}

/// One channel's past inputs and outputs.
#[derive(Clone, Copy, Default)]
struct History {
    x: [f64; HISTORY],
    y: [f64; HISTORY],
    /// Index of the most recent frame.
    index: usize,
}

impl History {
    fn is_zero(&self) -> bool {
        self.x.iter().chain(&self.y).all(|&v| v == 0.0)
    }
}

/// The difference equation per channel, with its histories (preallocated for 32 channels).
pub struct IIRFilterProcessor {
    coefficients: Coefficients,
    history: Box<[History; MAX_CHANNELS]>,
    channels: usize,
}

struct Coefficients {
    /// Normalized feedforward coefficients (`b / a0`).
    b: [f64; MAX_IIR_COEFFICIENTS],
    /// Normalized feedback coefficients (`a / a0`; `a[0]` = 1 is not used).
    a: [f64; MAX_IIR_COEFFICIENTS],
    nb: usize,
    na: usize,
}

impl Coefficients {
    /// One sample of the difference equation.
    #[inline]
    fn step(&self, h: &mut History, x: f64) -> f64 {
        let n = (h.index + 1) & MASK;
        h.x[n] = x;
        let mut y = 0.0;
        for (k, b) in self.b[..self.nb].iter().enumerate() {
            y += b * h.x[n.wrapping_sub(k) & MASK];
        }
        for (k, a) in self.a[..self.na].iter().enumerate().skip(1) {
            y -= a * h.y[n.wrapping_sub(k) & MASK];
        }
        h.y[n] = y;
        h.index = n;
        y
    }
}

impl AudioProcessor for IIRFilterProcessor {
    type Params = NoParams;
    type Message = ();

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let (Some(input), Some(output)) = (io.inputs.first(), io.outputs.first_mut()) else {
            return ProcessStatus::Active;
        };
        let channels = input.channels().min(MAX_CHANNELS);
        if channels > self.channels {
            for h in &mut self.history[self.channels..channels] {
                *h = History::default();
            }
        }
        self.channels = channels;
        if input.is_silent() && self.history[..channels].iter().all(History::is_zero) {
            output.make_silent(channels);
            return ProcessStatus::Active;
        }
        output.set_channels(channels);
        let silent = input.is_silent();
        let history = &mut self.history;
        for (c, out) in output.channels_mut().iter_mut().enumerate() {
            let (Some(h), Some(inp)) = (history.get_mut(c), input.channels_slice().get(c)) else {
                out.fill(0.0);
                continue;
            };
            for i in 0..RENDER_QUANTUM {
                let x = if silent { 0.0 } else { f64::from(inp[i]) };
                out[i] = self.coefficients.step(h, x) as f32;
            }
            // A decayed tail: forget it so the node goes silent. A history that overflowed (an
            // unstable filter, which the spec accepts) or took a NaN starts again from silence
            // instead of staying non-finite for good (the renderer scrubs what got out and
            // reports the node once).
            let decayed = silent && h.y.iter().all(|v| v.abs() < f64::from(f32::MIN_POSITIVE));
            let overflowed = out.iter().any(|v| !v.is_finite())
                || h.y.iter().chain(&h.x).any(|v| !v.is_finite());
            if decayed || overflowed {
                *h = History::default();
            }
        }
        ProcessStatus::Active
    }
}
