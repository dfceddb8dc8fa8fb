//! `StereoPannerNode`: the spec's equal-power stereo panning of a mono or stereo input.

use bevy::prelude::*;

use webaudio_engine::node::stereo_panner::{StereoPannerParam, StereoPannerProcessor};
use webaudio_engine::param::NodeParams;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, NodeShape,
    OutputChannels,
};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// The spec's `StereoPannerNode`: `pan` (a-rate, −1 left … 1 right). `channelCount` is at
/// most 2 and `channelCountMode` is never `max` ([`StereoPannerNode::validate_channels`]).
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig = ChannelConfig::new(2, ChannelCountMode::ClampedMax, ChannelInterpretation::Speakers))]
pub struct StereoPannerNode {
    /// `pan`: a-rate, default 0, nominal range −1..=1.
    pub pan: AudioParam,
}

impl Default for StereoPannerNode {
    fn default() -> Self {
        Self::new(0.0)
    }
}

impl StereoPannerNode {
    /// A panner with `StereoPannerOptions { pan }` (a non-finite `pan` becomes the default 0,
    /// with a warning; [`StereoPannerNode::try_new`] returns the error). A `pan` outside
    /// −1..=1 is kept and clamped when computed, as the spec's nominal range says.
    pub fn new(pan: f32) -> Self {
        Self {
            pan: AudioParam::with_value(StereoPannerParam::Pan.descriptor(), pan),
        }
    }

    /// `new StereoPannerNode(ctx, { pan })`, checked.
    ///
    /// # Errors
    /// `RangeError` for a non-finite `pan` (the spec's WebIDL `TypeError`).
    pub fn try_new(pan: f32) -> Result<Self, WebAudioError> {
        Ok(Self {
            pan: AudioParam::try_with_value(StereoPannerParam::Pan.descriptor(), pan)?,
        })
    }

    /// The spec's constraints on this node's channel configuration.
    ///
    /// # Errors
    /// `NotSupportedError` for `channelCount` > 2 or mode `max`.
    pub fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate_up_to_stereo(Self::NAME)
    }
}

impl AudioNode for StereoPannerNode {
    type Processor = StereoPannerProcessor;
    type Attributes = ();
    const NAME: &'static str = "StereoPannerNode";

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn param_mut(&mut self, param: StereoPannerParam) -> &mut AudioParam {
        match param {
            StereoPannerParam::Pan => &mut self.pan,
        }
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> StereoPannerProcessor {
        StereoPannerProcessor::new()
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(2)
    }

    fn validate_channels(&self, config: &ChannelConfig) -> Result<(), WebAudioError> {
        Self::validate_channels(config)
    }
}
