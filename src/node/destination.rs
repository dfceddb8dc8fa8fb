//! `AudioDestinationNode`: the graph's sink, whose mixed input is what the device (or the
//! offline render) receives. The plugin spawns exactly one, named by the `AudioContext`.

use bevy::prelude::*;

use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, ChannelCountMode,
    ChannelInterpretation, NodeShape, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus,
};
use crate::param::{AudioParam, ParamId};

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
    type Attributes = ();
    const NAME: &'static str = "AudioDestinationNode";

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn for_each_param(&mut self, _f: &mut dyn FnMut(ParamId, &mut AudioParam)) {}

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(DestinationProcessor)
    }
}

/// Passes the mixed input through; the renderer reads this node's output.
pub(crate) struct DestinationProcessor;

impl AudioProcessor for DestinationProcessor {
    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        io.outputs[0].copy_from(&io.inputs[0]);
        ProcessStatus::Active
    }
}
