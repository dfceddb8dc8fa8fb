//! `AudioDestinationNode`: the graph's sink, whose mixed input is what the device (or the
//! offline render) receives. The plugin spawns exactly one, named by the `AudioContext`.

use bevy::prelude::*;

use webaudio_engine::node::destination::DestinationProcessor;
use webaudio_engine::param::NoParams;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, NodeShape,
};
use crate::param::AudioParam;

/// The spec's `AudioDestinationNode`. `channelCount` defaults to the context's channel count,
/// mode `explicit`, interpretation `speakers`; `maxChannelCount` is the device's.
#[derive(Component, Clone, Debug, Default, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig = ChannelConfig::new(2, ChannelCountMode::Explicit, ChannelInterpretation::Speakers))]
pub struct AudioDestinationNode {
    /// `maxChannelCount`: the most channels the output can take.
    pub max_channel_count: usize,
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
}
