//! `ChannelSplitterNode`: one input, `numberOfOutputs` mono outputs; output `k` carries input
//! channel `k` (silence when the input has fewer channels).
//!
//! The spec fixes the channel configuration: `channelCount` = `numberOfOutputs`,
//! `channelCountMode` "explicit", `channelInterpretation` "discrete" (so the input is mixed to
//! exactly `numberOfOutputs` channels by index). The required [`ChannelConfig`] is set to that
//! when the component is inserted; another mode or interpretation is rejected by
//! [`ChannelSplitterNode::validate_channels`], and another count by
//! [`enforce_splitter_channel_count`] (both `InvalidStateError`, reported as
//! [`AudioGraphError`]).

use bevy::ecs::lifecycle::HookContext;
use bevy::ecs::world::DeferredWorld;
use bevy::prelude::*;

use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, ChannelCountMode,
    ChannelInterpretation, NodeShape, OutputChannels, ProcessContext, ProcessIo, ProcessPhase,
    ProcessStatus,
};
use crate::ecs::AudioGraphError;
use crate::error::WebAudioError;
use crate::param::{AudioParam, ParamId};
use crate::render::bus::MAX_CHANNELS;

/// The spec's `ChannelSplitterNode`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let split = ChannelSplitterNode::new(2)?;
/// assert_eq!(split.number_of_outputs(), 2);
/// assert!(ChannelSplitterNode::new(0).is_err());
/// assert!(ChannelSplitterNode::new(33).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig = ChannelConfig::new(6, ChannelCountMode::Explicit, ChannelInterpretation::Discrete))]
#[component(on_insert = set_channel_count)]
pub struct ChannelSplitterNode {
    number_of_outputs: usize,
}

impl Default for ChannelSplitterNode {
    fn default() -> Self {
        Self {
            number_of_outputs: 6,
        }
    }
}

impl ChannelSplitterNode {
    /// `new ChannelSplitterNode(ctx, { numberOfOutputs })`.
    ///
    /// # Errors
    /// `IndexSizeError` unless `1 <= number_of_outputs <= 32`.
    pub fn new(number_of_outputs: usize) -> Result<Self, WebAudioError> {
        if !(1..=MAX_CHANNELS).contains(&number_of_outputs) {
            return Err(WebAudioError::IndexSize(format!(
                "numberOfOutputs must be 1..=32, got {number_of_outputs}"
            )));
        }
        Ok(Self { number_of_outputs })
    }

    /// `numberOfOutputs`.
    pub fn number_of_outputs(&self) -> usize {
        self.number_of_outputs
    }

    /// The spec's constraints on mode and interpretation (the count must also equal
    /// `numberOfOutputs`, checked by [`enforce_splitter_channel_count`]).
    ///
    /// # Errors
    /// `InvalidStateError` for a mode other than explicit or an interpretation other than
    /// discrete.
    pub fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate()?;
        if config.mode != ChannelCountMode::Explicit {
            return Err(WebAudioError::InvalidState(
                "ChannelSplitterNode's channelCountMode must be explicit".into(),
            ));
        }
        if config.interpretation != ChannelInterpretation::Discrete {
            return Err(WebAudioError::InvalidState(
                "ChannelSplitterNode's channelInterpretation must be discrete".into(),
            ));
        }
        Ok(())
    }
}

/// Sets `channelCount` to `numberOfOutputs` when the node is inserted.
fn set_channel_count(mut world: DeferredWorld, ctx: HookContext) {
    let Some(outputs) = world
        .get::<ChannelSplitterNode>(ctx.entity)
        .map(ChannelSplitterNode::number_of_outputs)
    else {
        return;
    };
    if let Some(mut config) = world.get_mut::<ChannelConfig>(ctx.entity)
        && config.count != outputs
    {
        config.count = outputs;
    }
}

/// Rejects a `channelCount` other than `numberOfOutputs` (`InvalidStateError`) and puts the
/// right count back. Runs before the sync.
pub fn enforce_splitter_channel_count(
    mut nodes: Query<(Entity, &ChannelSplitterNode, &mut ChannelConfig), Changed<ChannelConfig>>,
    mut errors: MessageWriter<AudioGraphError>,
) {
    for (entity, node, mut config) in &mut nodes {
        if config.count != node.number_of_outputs {
            errors.write(AudioGraphError {
                entity,
                error: WebAudioError::InvalidState(format!(
                    "ChannelSplitterNode's channelCount must be numberOfOutputs ({}), got {}",
                    node.number_of_outputs, config.count
                )),
            });
            config.count = node.number_of_outputs;
        }
    }
}

impl AudioNode for ChannelSplitterNode {
    type Attributes = ();
    const NAME: &'static str = "ChannelSplitterNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: self.number_of_outputs,
            is_delay: false,
        }
    }

    fn for_each_param(&mut self, _f: &mut dyn FnMut(ParamId, &mut AudioParam)) {}

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(ChannelSplitterProcessor)
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(1)
    }

    fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        Self::validate_channels(config)
    }
}

struct ChannelSplitterProcessor;

impl AudioProcessor for ChannelSplitterProcessor {
    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let Some(input) = io.inputs.first() else {
            return ProcessStatus::Active;
        };
        for (k, output) in io.outputs.iter_mut().enumerate() {
            if input.is_silent() || k >= input.channels() {
                output.make_silent(1);
            } else {
                output.set_channels(1);
                output.channel_mut(0).copy_from_slice(input.channel(k));
            }
        }
        ProcessStatus::Active
    }
}
