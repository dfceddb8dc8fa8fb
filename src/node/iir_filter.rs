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

use webaudio_engine::node::frequency_response;
use webaudio_engine::node::iir_filter::{IIRFilterProcessor, iir_response};
use webaudio_engine::param::NoParams;

pub use webaudio_engine::node::iir_filter::MAX_IIR_COEFFICIENTS;

use super::{AudioNode, BuildContext, ChannelConfig, NodeShape};
use crate::error::WebAudioError;
use crate::param::AudioParam;

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
    /// `InvalidAccessError` when the three slices differ in length; `NotSupportedError` for
    /// a `sample_rate` that is not finite and positive (no context has it).
    pub fn get_frequency_response(
        &self,
        sample_rate: f32,
        frequency_hz: &[f32],
        mag_response: &mut [f32],
        phase_response: &mut [f32],
    ) -> Result<(), WebAudioError> {
        super::check_context_rate(sample_rate)?;
        frequency_response(
            sample_rate,
            frequency_hz,
            mag_response,
            phase_response,
            |x| iir_response(&self.feedforward, &self.feedback, x),
        )
    }
}

impl AudioNode for IIRFilterNode {
    type Processor = IIRFilterProcessor;
    type Attributes = ();
    const NAME: &'static str = "IIRFilterNode";

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> IIRFilterProcessor {
        IIRFilterProcessor::new(&self.feedforward, &self.feedback)
    }
}
