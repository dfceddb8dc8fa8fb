//! `IIRFilterNode`: a general IIR filter given by its transfer function's coefficients,
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

use bevy::prelude::*;

use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, NodeShape, ProcessContext, ProcessIo,
    ProcessPhase, ProcessStatus,
};
use crate::error::WebAudioError;
use crate::param::{AudioParam, ParamId};
use crate::render::bus::{MAX_CHANNELS, RENDER_QUANTUM};

/// The most coefficients in `feedforward` or `feedback` (spec).
pub const MAX_IIR_COEFFICIENTS: usize = 20;

/// History length (a power of two ≥ [`MAX_IIR_COEFFICIENTS`]).
const HISTORY: usize = 32;
const MASK: usize = HISTORY - 1;

/// The spec's `IIRFilterNode`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// // A one-pole smoother y[n] = 0.1 x[n] + 0.9 y[n-1].
/// let smooth = IIRFilterNode::new(&[0.1], &[1.0, -0.9])?;
/// let (mut mag, mut phase) = ([0.0; 1], [0.0; 1]);
/// smooth.get_frequency_response(48_000.0, &[0.0], &mut mag, &mut phase)?;
/// assert!((mag[0] - 1.0).abs() < 1e-6);
/// assert!(IIRFilterNode::new(&[0.0, 0.0], &[1.0]).is_err());
/// assert!(IIRFilterNode::new(&[1.0], &[0.0, 1.0]).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct IIRFilterNode {
    feedforward: Vec<f64>,
    feedback: Vec<f64>,
}

impl Default for IIRFilterNode {
    /// A wire (`feedforward [1]`, `feedback [1]`); the spec has no default, the options are
    /// required.
    fn default() -> Self {
        Self {
            feedforward: vec![1.0],
            feedback: vec![1.0],
        }
    }
}

fn check_length(name: &str, coefficients: &[f64]) -> Result<(), WebAudioError> {
    if coefficients.is_empty() || coefficients.len() > MAX_IIR_COEFFICIENTS {
        return Err(WebAudioError::NotSupported(format!(
            "{name} needs 1..=20 coefficients, got {}",
            coefficients.len()
        )));
    }
    if let Some(v) = coefficients.iter().find(|v| !v.is_finite()) {
        return Err(WebAudioError::Range(format!(
            "{name} coefficients must be finite, got {v}"
        )));
    }
    Ok(())
}

impl IIRFilterNode {
    /// `new IIRFilterNode(ctx, { feedforward, feedback })`.
    ///
    /// # Errors
    /// `NotSupportedError` for an empty array or more than 20 coefficients;
    /// `InvalidStateError` when every feedforward coefficient is 0 or `feedback[0]` is 0;
    /// `RangeError` for a non-finite coefficient (WebIDL's `TypeError`).
    pub fn new(feedforward: &[f64], feedback: &[f64]) -> Result<Self, WebAudioError> {
        check_length("feedforward", feedforward)?;
        check_length("feedback", feedback)?;
        if feedforward.iter().all(|&b| b == 0.0) {
            return Err(WebAudioError::InvalidState(
                "at least one feedforward coefficient must be non-zero".into(),
            ));
        }
        if feedback[0] == 0.0 {
            return Err(WebAudioError::InvalidState(
                "feedback[0] must not be 0".into(),
            ));
        }
        Ok(Self {
            feedforward: feedforward.to_vec(),
            feedback: feedback.to_vec(),
        })
    }

    /// The feedforward (numerator) coefficients, as given.
    pub fn feedforward(&self) -> &[f64] {
        &self.feedforward
    }

    /// The feedback (denominator) coefficients, as given.
    pub fn feedback(&self) -> &[f64] {
        &self.feedback
    }

    /// `getFrequencyResponse(frequencyHz, magResponse, phaseResponse)` for a context at
    /// `sample_rate`. Frequencies outside `0..=sample_rate/2` give NaN.
    ///
    /// # Errors
    /// `InvalidAccessError` when the three slices differ in length.
    pub fn get_frequency_response(
        &self,
        sample_rate: f32,
        frequency_hz: &[f32],
        mag_response: &mut [f32],
        phase_response: &mut [f32],
    ) -> Result<(), WebAudioError> {
        super::frequency_response(
            sample_rate,
            frequency_hz,
            mag_response,
            phase_response,
            |x| {
                // Σ c_k z^-k with z^-1 = e^{-iω}.
                let w = -std::f64::consts::PI * x;
                let poly = |c: &[f64]| {
                    c.iter().enumerate().fold((0.0, 0.0), |(re, im), (k, &v)| {
                        let (s, co) = (w * k as f64).sin_cos();
                        (re + v * co, im + v * s)
                    })
                };
                let ((nr, ni), (dr, di)) = (poly(&self.feedforward), poly(&self.feedback));
                let den = dr * dr + di * di;
                let (hr, hi) = ((nr * dr + ni * di) / den, (ni * dr - nr * di) / den);
                (hr.hypot(hi), hi.atan2(hr))
            },
        )
    }
}

impl AudioNode for IIRFilterNode {
    type Attributes = ();
    const NAME: &'static str = "IIRFilterNode";

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn for_each_param(&mut self, _f: &mut dyn FnMut(ParamId, &mut AudioParam)) {}

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        let a0 = self.feedback.first().copied().unwrap_or(1.0);
        let mut b = [0.0; MAX_IIR_COEFFICIENTS];
        let mut a = [0.0; MAX_IIR_COEFFICIENTS];
        for (dst, src) in b.iter_mut().zip(&self.feedforward) {
            *dst = src / a0;
        }
        for (dst, src) in a.iter_mut().zip(&self.feedback) {
            *dst = src / a0;
        }
        Box::new(IIRFilterProcessor {
            coefficients: Coefficients {
                b,
                a,
                nb: self.feedforward.len().min(MAX_IIR_COEFFICIENTS),
                na: self.feedback.len().min(MAX_IIR_COEFFICIENTS),
            },
            history: Box::new([History::default(); MAX_CHANNELS]),
            channels: 0,
        })
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

struct IIRFilterProcessor {
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
            // A decayed tail: forget it so the node goes silent.
            if silent && h.y.iter().all(|v| v.abs() < f64::from(f32::MIN_POSITIVE)) {
                *h = History::default();
            }
        }
        ProcessStatus::Active
    }
}
