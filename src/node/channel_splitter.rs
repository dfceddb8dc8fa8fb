//! `ChannelSplitterNode`: one input, `numberOfOutputs` mono outputs; output `k` carries input
//! channel `k` (silence when the input has fewer channels).
//!
//! The spec fixes the channel configuration: `channelCount` = `numberOfOutputs`,
//! `channelCountMode` "explicit", `channelInterpretation` "discrete" (so the input is mixed to
//! exactly `numberOfOutputs` channels by index). The required [`ChannelConfig`] is set to that
//! when the component is inserted; another mode or interpretation is rejected by
//! [`ChannelSplitterNode::validate_channels`], and the node's
//! [`AudioNode::validate_channels`] also rejects another count. A changed count is reported
//! and put back by [`enforce_splitter_channel_count`] (all `InvalidStateError`, reported as
//! [`AudioGraphError`]).

use bevy::ecs::lifecycle::HookContext;
use bevy::ecs::world::DeferredWorld;
use bevy::prelude::*;

use webaudio_engine::node::channel_splitter::ChannelSplitterProcessor;
use webaudio_engine::param::NoParams;
use webaudio_engine::render::bus::MAX_CHANNELS;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, NodeShape,
    OutputChannels,
};
use crate::ecs::AudioGraphError;
use crate::error::WebAudioError;
use crate::param::AudioParam;

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

    /// The spec's constraints on mode and interpretation, for any splitter (the count must
    /// also equal `numberOfOutputs`, which the node's [`AudioNode::validate_channels`] checks).
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

/// The `InvalidStateError` of a `channelCount` other than `numberOfOutputs`.
fn count_error(number_of_outputs: usize, count: usize) -> WebAudioError {
    WebAudioError::InvalidState(format!(
        "ChannelSplitterNode's channelCount must be numberOfOutputs ({number_of_outputs}), got {count}"
    ))
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
                error: count_error(node.number_of_outputs, config.count),
            });
            config.count = node.number_of_outputs;
        }
    }
}

impl AudioNode for ChannelSplitterNode {
    type Processor = ChannelSplitterProcessor;
    type Attributes = ();
    const NAME: &'static str = "ChannelSplitterNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: self.number_of_outputs,
            is_delay: false,
        }
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> ChannelSplitterProcessor {
        ChannelSplitterProcessor::new()
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(1)
    }

    /// [`ChannelSplitterNode::validate_channels`], and `channelCount` = `numberOfOutputs`.
    fn register(app: &mut App) {
        app.add_systems(
            crate::WebAudioSync,
            enforce_splitter_channel_count.in_set(crate::WebAudioSystems::WriteNodes),
        );
    }

    fn validate_channels(&self, config: &ChannelConfig) -> Result<(), WebAudioError> {
        Self::validate_channels(config)?;
        if config.count != self.number_of_outputs {
            return Err(count_error(self.number_of_outputs, config.count));
        }
        Ok(())
    }
}
