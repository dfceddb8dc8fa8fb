//! `ConstantSourceNode`: a scheduled source whose output is its a-rate `offset` param.

use bevy::prelude::*;

use webaudio_engine::node::constant_source::{ConstantSourceParam, ConstantSourceProcessor};
use webaudio_engine::param::NodeParams;

use super::scheduled::{AudioScheduledSourceNode, ScheduledSource};
use super::{AudioNode, BuildContext, ChannelConfig, NodeShape, OutputChannels};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// The spec's `ConstantSourceNode`: outputs `offset` (a-rate, default 1) between `start` and
/// `stop`, one channel.
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct ConstantSourceNode {
    /// `offset`: a-rate, default 1.
    pub offset: AudioParam,
    /// start/stop state.
    pub source: ScheduledSource,
}

impl Default for ConstantSourceNode {
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl ConstantSourceNode {
    /// A constant source with `ConstantSourceOptions { offset }` (a non-finite `offset`
    /// becomes the default 1, with a warning; [`ConstantSourceNode::try_new`] returns the
    /// error).
    pub fn new(offset: f32) -> Self {
        Self {
            offset: AudioParam::with_value(ConstantSourceParam::Offset.descriptor(), offset),
            source: ScheduledSource::default(),
        }
    }

    /// `new ConstantSourceNode(ctx, { offset })`, checked.
    ///
    /// # Errors
    /// `RangeError` for a non-finite `offset` (the spec's WebIDL `TypeError`).
    pub fn try_new(offset: f32) -> Result<Self, WebAudioError> {
        Ok(Self {
            offset: AudioParam::try_with_value(ConstantSourceParam::Offset.descriptor(), offset)?,
            source: ScheduledSource::default(),
        })
    }
}

impl AudioNode for ConstantSourceNode {
    type Processor = ConstantSourceProcessor;
    type Attributes = ();
    const NAME: &'static str = "ConstantSourceNode";

    fn shape(&self) -> NodeShape {
        NodeShape::SOURCE
    }

    fn param_mut(&mut self, param: ConstantSourceParam) -> &mut AudioParam {
        match param {
            ConstantSourceParam::Offset => &mut self.offset,
        }
    }

    fn attributes(&self) {}

    fn build_processor(&self, ctx: &mut BuildContext) -> ConstantSourceProcessor {
        ConstantSourceProcessor::new(ctx.sample_rate)
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(1)
    }

    fn scheduled(&mut self) -> Option<&mut ScheduledSource> {
        Some(&mut self.source)
    }
}

impl AudioScheduledSourceNode for ConstantSourceNode {
    fn scheduled_source(&mut self) -> &mut ScheduledSource {
        &mut self.source
    }
}
