//! `DynamicsCompressorNode`: the WebKit/Blink compressor kernel (its processor is in
//! `webaudio_engine::node::dynamics_compressor`), which the spec's processing
//! section describes in simplified form (its choices are the ones the spec leaves open, taken
//! from the browsers so that a graph measures as in Chromium):
//!
//! - **Look-ahead**: the signal is delayed by 6 ms (288 frames at 48 kHz) while the detector
//!   reads the undelayed input, so the gain is already down when a transient comes out.
//! - **Static curve** (the spec's compression curve): the identity up to `threshold`, then an
//!   exponential soft knee `y = T + (1 − e^{−k(x − T)})/k` (linear units, first derivative
//!   matched at `T`), whose `k` is found by bisection so that its slope in dB at
//!   `threshold + knee` equals `1/ratio`, then a constant `1/ratio` slope in dB.
//! - **Make-up gain**: `(1 / curve(1.0))^0.6`, a fixed gain that only depends on the params.
//! - **Detector**: per frame, the attenuation `curve(|x|)/|x|` of the loudest channel; the
//!   detector average falls to it at once and rises back at a rate that grows with the
//!   attenuation (the "saturation release", ≥ 2 dB per 2.5 ms).
//! - **Envelope**: every 32 frames the gain heads for the detector average (pre-warped by
//!   `asin`, the applied gain being `sin(π/2 · gain)`): attacking at a rate set by `attack` and
//!   the largest dB difference seen in this attack, releasing at an adaptive rate — a quartic
//!   through 9 %, 16 %, 42 % and 98 % of `release` (per 5 dB) chosen by how much compression
//!   is left to release, so heavy compression lets go faster.
//! - **`reduction`**: a meter of the applied gain in dB that follows drops at once and
//!   recovers with a 0.325 s time constant, published once per render quantum through an atomic
//!   shared with the component (latest value wins: a meter needs no history).
//!
//! The params are k-rate (their rate cannot change), sampled once per render quantum.

use bevy::prelude::*;

use webaudio_engine::node::dynamics_compressor::{
    CompressorProcessor, DynamicsCompressorParam, MeterUpdate, ReductionMeter, StaticCurve,
};
use webaudio_engine::param::NodeParams;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, MessageOf,
    NodeShape,
};
use crate::error::WebAudioError;
use crate::param::AudioParam;

pub use webaudio_engine::node::dynamics_compressor::DynamicsCompressorOptions;

/// The spec's `DynamicsCompressorNode`.
///
/// Its `channelCount` is at most 2 and its `channelCountMode` is never `max`
/// ([`DynamicsCompressorNode::validate_channels`]).
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut limiter = DynamicsCompressorNode::new(DynamicsCompressorOptions {
///     threshold: -6.0,
///     knee: 0.0,
///     ratio: 20.0,
///     ..Default::default()
/// });
/// limiter.release.set_value(0.1)?;
/// // Below the threshold the curve is the identity; above it the ratio applies (in dB).
/// assert_eq!(limiter.compression_curve(0.25), 0.25);
/// let out_db = 20.0 * limiter.compression_curve(1.0).log10();
/// assert!((out_db - (-6.0 + 6.0 / 20.0)).abs() < 0.01);
/// assert_eq!(limiter.reduction(), 0.0);
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig = ChannelConfig::new(2, ChannelCountMode::ClampedMax, ChannelInterpretation::Speakers))]
pub struct DynamicsCompressorNode {
    /// `threshold` in dB: k-rate, default −24, nominal range −100..=0.
    pub threshold: AudioParam,
    /// `knee` in dB: k-rate, default 30, nominal range 0..=40.
    pub knee: AudioParam,
    /// `ratio`: k-rate, default 12, nominal range 1..=20.
    pub ratio: AudioParam,
    /// `attack` in seconds: k-rate, default 0.003, nominal range 0..=1.
    pub attack: AudioParam,
    /// `release` in seconds: k-rate, default 0.25, nominal range 0..=1.
    pub release: AudioParam,
    #[reflect(ignore)]
    meter: ReductionMeter,
}

impl Default for DynamicsCompressorNode {
    fn default() -> Self {
        Self::new(DynamicsCompressorOptions::default())
    }
}

impl DynamicsCompressorNode {
    /// `new DynamicsCompressorNode(ctx, options)`, checked. Values outside a param's nominal
    /// range are kept and clamped when computed, as the spec says.
    ///
    /// # Errors
    /// `RangeError` for a non-finite option (the spec's WebIDL `TypeError`).
    pub fn try_new(options: DynamicsCompressorOptions) -> Result<Self, WebAudioError> {
        let p =
            |id: DynamicsCompressorParam, v: f32| AudioParam::try_with_value(id.descriptor(), v);
        Ok(Self {
            threshold: p(DynamicsCompressorParam::Threshold, options.threshold)?,
            knee: p(DynamicsCompressorParam::Knee, options.knee)?,
            ratio: p(DynamicsCompressorParam::Ratio, options.ratio)?,
            attack: p(DynamicsCompressorParam::Attack, options.attack)?,
            release: p(DynamicsCompressorParam::Release, options.release)?,
            meter: ReductionMeter::default(),
        })
    }

    /// `new DynamicsCompressorNode(ctx, options)` (a non-finite option becomes that param's
    /// default, with a warning; [`DynamicsCompressorNode::try_new`] returns the error).
    pub fn new(options: DynamicsCompressorOptions) -> Self {
        Self {
            threshold: AudioParam::with_value(
                DynamicsCompressorParam::Threshold.descriptor(),
                options.threshold,
            ),
            knee: AudioParam::with_value(DynamicsCompressorParam::Knee.descriptor(), options.knee),
            ratio: AudioParam::with_value(
                DynamicsCompressorParam::Ratio.descriptor(),
                options.ratio,
            ),
            attack: AudioParam::with_value(
                DynamicsCompressorParam::Attack.descriptor(),
                options.attack,
            ),
            release: AudioParam::with_value(
                DynamicsCompressorParam::Release.descriptor(),
                options.release,
            ),
            meter: ReductionMeter::default(),
        }
    }

    /// `reduction`: the gain reduction the compressor applied at the end of the last rendered
    /// quantum, in dB (0 or negative; 0 before the node has rendered). The render thread
    /// updates it every quantum; reading it never blocks.
    pub fn reduction(&self) -> f32 {
        self.meter.get()
    }

    /// The static compression curve at the params' current intrinsic values (clamped to their
    /// nominal ranges): the output level for a steady input level `x` (linear, ≥ 0), before
    /// the make-up gain.
    pub fn compression_curve(&self, x: f32) -> f32 {
        self.static_curve().saturate(x)
    }

    /// The make-up gain (linear) at the params' current intrinsic values:
    /// `(1 / curve(1))^0.6`.
    pub fn makeup_gain(&self) -> f32 {
        self.static_curve().makeup_gain()
    }

    fn static_curve(&self) -> StaticCurve {
        let clamp = |p: &AudioParam, id: DynamicsCompressorParam| {
            let d = id.descriptor();
            p.value().clamp(d.min_value, d.max_value)
        };
        StaticCurve::new(
            clamp(&self.threshold, DynamicsCompressorParam::Threshold),
            clamp(&self.knee, DynamicsCompressorParam::Knee),
            clamp(&self.ratio, DynamicsCompressorParam::Ratio),
        )
    }

    /// The spec's channel constraints: `channelCount` ≤ 2 and `channelCountMode` ≠ `max`.
    ///
    /// # Errors
    /// `NotSupportedError` otherwise (and for a count outside 1..=32).
    pub fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate_up_to_stereo(Self::NAME)
    }
}

impl AudioNode for DynamicsCompressorNode {
    type Processor = CompressorProcessor;
    /// The identity of the shared meter: a replaced component hands its meter over.
    type Attributes = usize;
    const NAME: &'static str = "DynamicsCompressorNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: 1,
            is_delay: false,
        }
    }

    fn param_mut(&mut self, param: DynamicsCompressorParam) -> &mut AudioParam {
        match param {
            DynamicsCompressorParam::Threshold => &mut self.threshold,
            DynamicsCompressorParam::Knee => &mut self.knee,
            DynamicsCompressorParam::Ratio => &mut self.ratio,
            DynamicsCompressorParam::Attack => &mut self.attack,
            DynamicsCompressorParam::Release => &mut self.release,
        }
    }

    fn attributes(&self) -> usize {
        self.meter.id()
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> CompressorProcessor {
        CompressorProcessor::new(ctx.sample_rate, self.meter.shared())
    }

    fn attributes_message(&self, _ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(MeterUpdate(Some(self.meter.shared())))
    }

    fn validate_channels(&self, config: &ChannelConfig) -> Result<(), WebAudioError> {
        Self::validate_channels(config)
    }
}
