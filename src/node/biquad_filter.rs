//! `BiquadFilterNode`: the spec's eight second-order filters, with coefficients exactly from
//! its "Filters Characteristics" section (the Audio EQ Cookbook formulas).
//!
//! - `frequency`, `detune`, `Q`, `gain` are a-rate; `computedFrequency = frequency ×
//!   2^(detune / 1200)`. When every param is constant over a render quantum the coefficients
//!   are computed once for it; when any is automated (or driven by audio) they are computed for
//!   every sample.
//! - The limits where the formulas degenerate (frequency 0 or Nyquist, `Q` ≤ 0 for the types
//!   using `α_Q`) take the formulas' limiting values, as the browsers do: e.g. a lowpass at
//!   Nyquist is a wire, a bandpass at 0 Hz is silence, a peaking filter with `Q` = 0 is the
//!   gain `A²`.
//! - The difference equation runs in `f64` (state and coefficients) with the output rounded to
//!   `f32` per sample, as Blink does; the tail after the input goes silent is rendered until
//!   the state decays to zero (denormals are flushed).

use bevy::prelude::*;

use webaudio_engine::node::biquad_filter::{
    BiquadFilterParam, BiquadFilterProcessor, intrinsic_coefficients, response,
};
use webaudio_engine::node::frequency_response;
use webaudio_engine::param::NodeParams;

pub use webaudio_engine::node::biquad_filter::BiquadFilterType;

use super::{AudioNode, BuildContext, ChannelConfig, MessageOf, NodeShape};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// The spec's `BiquadFilterNode`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut eq = BiquadFilterNode::new(BiquadFilterType::Peaking);
/// eq.frequency.set_value(2000.0)?;
/// eq.gain.set_value(6.0)?;
/// let (mut mag, mut phase) = ([0.0; 1], [0.0; 1]);
/// eq.get_frequency_response(48_000.0, &[2000.0], &mut mag, &mut phase)?;
/// assert!((20.0 * mag[0].log10() - 6.0).abs() < 1e-3);
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct BiquadFilterNode {
    /// The spec's `type`.
    pub filter_type: BiquadFilterType,
    /// `frequency` in Hz: a-rate, default 350, nominal range 0..=Nyquist.
    pub frequency: AudioParam,
    /// `detune` in cents: a-rate, default 0, nominal range ±153600.
    pub detune: AudioParam,
    /// `Q`: a-rate, default 1 (in dB for lowpass and highpass).
    pub q: AudioParam,
    /// `gain` in dB: a-rate, default 0, at most ≈1541 (shelves and peaking only).
    pub gain: AudioParam,
}

impl Default for BiquadFilterNode {
    fn default() -> Self {
        Self::new(BiquadFilterType::Lowpass)
    }
}

impl BiquadFilterNode {
    /// A filter of `type`, with the other `BiquadFilterOptions` at their defaults
    /// (frequency 350 Hz, Q 1, gain 0, detune 0).
    pub fn new(filter_type: BiquadFilterType) -> Self {
        Self {
            filter_type,
            frequency: AudioParam::new(BiquadFilterParam::Frequency.descriptor()),
            detune: AudioParam::new(BiquadFilterParam::Detune.descriptor()),
            q: AudioParam::new(BiquadFilterParam::Q.descriptor()),
            gain: AudioParam::new(BiquadFilterParam::Gain.descriptor()),
        }
    }

    /// `new BiquadFilterNode(ctx, { type, frequency, Q, gain })`, checked.
    ///
    /// # Errors
    /// `RangeError` for a non-finite `frequency`, `Q` or `gain` (the spec's WebIDL
    /// `TypeError`).
    pub fn try_with_options(
        filter_type: BiquadFilterType,
        frequency: f32,
        q: f32,
        gain: f32,
    ) -> Result<Self, WebAudioError> {
        Ok(Self {
            frequency: AudioParam::try_with_value(
                BiquadFilterParam::Frequency.descriptor(),
                frequency,
            )?,
            q: AudioParam::try_with_value(BiquadFilterParam::Q.descriptor(), q)?,
            gain: AudioParam::try_with_value(BiquadFilterParam::Gain.descriptor(), gain)?,
            ..Self::new(filter_type)
        })
    }

    /// `BiquadFilterOptions { type, frequency, Q, gain }` (a non-finite value becomes that
    /// param's default, with a warning; [`BiquadFilterNode::try_with_options`] returns the
    /// error).
    pub fn with_options(filter_type: BiquadFilterType, frequency: f32, q: f32, gain: f32) -> Self {
        Self {
            frequency: AudioParam::with_value(BiquadFilterParam::Frequency.descriptor(), frequency),
            q: AudioParam::with_value(BiquadFilterParam::Q.descriptor(), q),
            gain: AudioParam::with_value(BiquadFilterParam::Gain.descriptor(), gain),
            ..Self::new(filter_type)
        }
    }

    /// `getFrequencyResponse(frequencyHz, magResponse, phaseResponse)` at the params' current
    /// intrinsic values, for a context at `sample_rate`. Frequencies outside `0..=sample_rate/2`
    /// give NaN.
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
        let c = intrinsic_coefficients(
            self.filter_type,
            sample_rate,
            self.frequency.value(),
            self.detune.value(),
            self.q.value(),
            self.gain.value(),
        );
        frequency_response(
            sample_rate,
            frequency_hz,
            mag_response,
            phase_response,
            |x| response(&c, x),
        )
    }
}

impl AudioNode for BiquadFilterNode {
    type Processor = BiquadFilterProcessor;
    type Attributes = BiquadFilterType;
    const NAME: &'static str = "BiquadFilterNode";

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn param_mut(&mut self, param: BiquadFilterParam) -> &mut AudioParam {
        match param {
            BiquadFilterParam::Frequency => &mut self.frequency,
            BiquadFilterParam::Detune => &mut self.detune,
            BiquadFilterParam::Q => &mut self.q,
            BiquadFilterParam::Gain => &mut self.gain,
        }
    }

    fn attributes(&self) -> BiquadFilterType {
        self.filter_type
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> BiquadFilterProcessor {
        BiquadFilterProcessor::new(self.filter_type, ctx.sample_rate)
    }

    fn attributes_message(&self, _ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(self.filter_type)
    }
}
