//! `AudioDestinationNode`: the graph's sink, whose mixed input is what the device (or the
//! offline render) receives. The plugin spawns exactly one, named by the `AudioContext`.

use bevy::prelude::*;

use webaudio_engine::node::destination::DestinationProcessor;
use webaudio_engine::param::NoParams;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, NodeShape,
};
use crate::ecs::connection::{ConnectionFrom, ConnectionTo};
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

/// A destination restored from a scene (an `AudioDestinationNode` added to an entity other
/// than the context's) stands for the context's destination: the connections into (and out
/// of) it move to the context's destination, and it is despawned before the sync sees it. So
/// a saved graph, whose connections name the saving context's destination entity, plays
/// through the running context's output. Only this frame's added destinations are looked at:
/// an idle frame costs nothing.
fn merge_restored_destinations(
    context: Res<crate::AudioContext>,
    added: Query<Entity, Added<AudioDestinationNode>>,
    into: Query<(Entity, &ConnectionTo)>,
    out_of: Query<(Entity, &ConnectionFrom)>,
    mut commands: Commands,
) {
    let destination = context.destination();
    for alias in &added {
        if alias == destination {
            continue;
        }
        for (edge, to) in &into {
            if to.0 == alias {
                commands.entity(edge).insert(ConnectionTo(destination));
            }
        }
        for (edge, from) in &out_of {
            if from.0 == alias {
                commands.entity(edge).insert(ConnectionFrom(destination));
            }
        }
        // Its edges have moved by now (commands apply in order), so despawning it despawns
        // none of them.
        commands.entity(alias).despawn();
    }
}

impl AudioNode for AudioDestinationNode {
    type Processor = DestinationProcessor;
    type Attributes = ();
    const NAME: &'static str = "AudioDestinationNode";

    /// A system that merges a destination loaded from a scene into the context's (its
    /// connections move there, the loaded entity is despawned).
    fn register(app: &mut App) {
        app.add_systems(
            crate::WebAudioSync,
            merge_restored_destinations.in_set(crate::WebAudioSystems::WriteNodes),
        );
    }

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
