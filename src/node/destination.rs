//! `AudioDestinationNode`: the graph's sink, whose mixed input is what the device (or the
//! offline render) receives. The plugin spawns exactly one, named by the `AudioContext`.

use bevy::prelude::*;

use webaudio_engine::node::destination::DestinationProcessor;
use webaudio_engine::param::NoParams;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, NodeShape,
};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// The spec's `AudioDestinationNode`. `channelCount` defaults to the context's channel count,
/// mode `explicit`, interpretation `speakers`; `maxChannelCount` is the device's.
///
/// Its channel constraints ([`AudioNode::validate_channels`]): an `OfflineAudioContext`'s
/// destination keeps the `channelCount` and `channelCountMode` it was created with
/// (`InvalidStateError`); an `AudioContext`'s takes any `channelCount` up to
/// `maxChannelCount` (`IndexSizeError` above it).
#[derive(Component, Clone, Debug, Default, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig = ChannelConfig::new(2, ChannelCountMode::Explicit, ChannelInterpretation::Speakers))]
pub struct AudioDestinationNode {
    /// `maxChannelCount`: the most channels the output can take.
    pub max_channel_count: usize,
    /// Whether the context renders offline (an `OfflineAudioContext`).
    offline: bool,
}

impl AudioDestinationNode {
    /// The destination of a context with `channels` output channels (`offline`: an
    /// `OfflineAudioContext`, whose `numberOfChannels` they are).
    pub(crate) fn new(channels: usize, offline: bool) -> Self {
        Self {
            max_channel_count: channels,
            offline,
        }
    }
}

impl AudioNode for AudioDestinationNode {
    type Processor = DestinationProcessor;
    type Attributes = ();
    const NAME: &'static str = "AudioDestinationNode";

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> DestinationProcessor {
        DestinationProcessor
    }

    /// The generic check, then the destination's ("channelCount constraints",
    /// "channelCountMode constraints" of `AudioDestinationNode`).
    ///
    /// # Errors
    /// `NotSupportedError` for a `channelCount` outside 1..=32. Offline: `InvalidStateError`
    /// for a `channelCount` other than `numberOfChannels` or a `channelCountMode` other than
    /// `explicit`. Real time: `IndexSizeError` for a `channelCount` above `maxChannelCount`.
    fn validate_channels(&self, config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate()?;
        if self.offline
            && (config.count != self.max_channel_count || config.mode != ChannelCountMode::Explicit)
        {
            return Err(WebAudioError::InvalidState(format!(
                "an OfflineAudioContext's destination keeps channelCount {} and channelCountMode explicit",
                self.max_channel_count
            )));
        }
        if config.count > self.max_channel_count {
            return Err(WebAudioError::IndexSize(format!(
                "channelCount {} exceeds the destination's maxChannelCount {}",
                config.count, self.max_channel_count
            )));
        }
        Ok(())
    }
}
