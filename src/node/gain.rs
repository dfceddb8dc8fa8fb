//! `GainNode`: multiplies its input by the a-rate `gain` param.

use bevy::prelude::*;

use webaudio_engine::node::gain::{GainParam, GainProcessor};
use webaudio_engine::param::NodeParams;

use super::{AudioNode, BuildContext, ChannelConfig, NodeShape};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// The spec's `GainNode`: output = input × `gain` (a-rate, default 1).
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let quiet = GainNode::new(0.25);
/// assert_eq!(quiet.gain.value(), 0.25);
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct GainNode {
    /// `gain`: a-rate, default 1, nominal range ±3.4e38.
    pub gain: AudioParam,
}

impl Default for GainNode {
    fn default() -> Self {
        Self {
            gain: AudioParam::new(GainParam::Gain.descriptor()),
        }
    }
}

impl GainNode {
    /// A gain node with `GainOptions { gain }` (a non-finite `gain` becomes the default 1,
    /// with a warning; [`GainNode::try_new`] returns the error).
    pub fn new(gain: f32) -> Self {
        Self {
            gain: AudioParam::with_value(GainParam::Gain.descriptor(), gain),
        }
    }

    /// `new GainNode(ctx, { gain })`, checked.
    ///
    /// # Errors
    /// `RangeError` for a non-finite `gain` (the spec's WebIDL `TypeError`).
    pub fn try_new(gain: f32) -> Result<Self, WebAudioError> {
        Ok(Self {
            gain: AudioParam::try_with_value(GainParam::Gain.descriptor(), gain)?,
        })
    }
}

impl AudioNode for GainNode {
    type Processor = GainProcessor;
    type Attributes = ();
    const NAME: &'static str = "GainNode";

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn param_mut(&mut self, param: GainParam) -> &mut AudioParam {
        match param {
            GainParam::Gain => &mut self.gain,
        }
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> GainProcessor {
        GainProcessor::new()
    }
}
