//! `ChannelMergerNode`: `numberOfInputs` inputs, each down-mixed to mono, combined into one
//! output whose channel `k` is input `k` (an unconnected input is a silent channel). When no
//! input carries sound (every input bus is silent), the output is one channel of silence, as
//! the spec says for inputs that are not actively processing.
//!
//! The spec fixes `channelCount` to 1 and `channelCountMode` to "explicit"
//! ([`ChannelMergerNode::validate_channels`], `InvalidStateError`); the interpretation may
//! change.

use bevy::prelude::*;

use webaudio_engine::node::channel_merger::ChannelMergerProcessor;
use webaudio_engine::param::NoParams;
use webaudio_engine::render::bus::MAX_CHANNELS;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, NodeShape,
    OutputChannels,
};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// The spec's `ChannelMergerNode`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let merge = ChannelMergerNode::new(2)?;
/// assert_eq!(merge.number_of_inputs(), 2);
/// assert!(ChannelMergerNode::new(0).is_err());
/// let stereo = ChannelConfig::new(2, ChannelCountMode::Explicit, ChannelInterpretation::Speakers);
/// assert!(ChannelMergerNode::validate_channels(&stereo).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig = ChannelConfig::new(1, ChannelCountMode::Explicit, ChannelInterpretation::Speakers))]
pub struct ChannelMergerNode {
    number_of_inputs: usize,
}

impl Default for ChannelMergerNode {
    fn default() -> Self {
        Self {
            number_of_inputs: 6,
        }
    }
}

impl ChannelMergerNode {
    /// `new ChannelMergerNode(ctx, { numberOfInputs })`.
    ///
    /// # Errors
    /// `IndexSizeError` unless `1 <= number_of_inputs <= 32`.
    pub fn new(number_of_inputs: usize) -> Result<Self, WebAudioError> {
        if !(1..=MAX_CHANNELS).contains(&number_of_inputs) {
            return Err(WebAudioError::IndexSize(format!(
                "numberOfInputs must be 1..=32, got {number_of_inputs}"
            )));
        }
        Ok(Self { number_of_inputs })
    }

    /// `numberOfInputs`.
    pub fn number_of_inputs(&self) -> usize {
        self.number_of_inputs
    }

    /// The spec's constraints: `channelCount` 1 and mode explicit.
    ///
    /// # Errors
    /// `InvalidStateError` otherwise.
    pub fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate()?;
        if config.count != 1 || config.mode != ChannelCountMode::Explicit {
            return Err(WebAudioError::InvalidState(
                "ChannelMergerNode needs channelCount 1 and channelCountMode explicit".into(),
            ));
        }
        Ok(())
    }
}

impl AudioNode for ChannelMergerNode {
    type Processor = ChannelMergerProcessor;
    type Attributes = ();
    const NAME: &'static str = "ChannelMergerNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: self.number_of_inputs,
            outputs: 1,
            is_delay: false,
        }
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> ChannelMergerProcessor {
        ChannelMergerProcessor::new()
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(self.number_of_inputs)
    }

    fn validate_channels(&self, config: &ChannelConfig) -> Result<(), WebAudioError> {
        Self::validate_channels(config)
    }
}
