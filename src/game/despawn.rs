//! Cleanup of finished sources. Web Audio frees a finished node by garbage collection; the
//! ECS has none, so a fired sound would leak its entity and its render-side node. A
//! [`DespawnOnEnded`] source despawns itself, and the chain it owns, when its 'ended'
//! ([`Ended`]) arrives.
//!
//! **The chain a source owns is its descendants** (Bevy's `ChildOf`): the gain, panner or
//! filter entities spawned as its children go with it, and their connection entities go with
//! them (`linked_spawn` on [`AudioOutputs`](crate::ecs::connection::AudioOutputs) /
//! [`AudioInputs`](crate::ecs::connection::AudioInputs)). Nodes it merely connects to (a bus,
//! the destination) stay. [`play_sound`](super::play_sound::PlaySoundExt::play_sound) builds
//! its voices this way and adds [`DespawnOnEnded`] by default.

use bevy::prelude::*;

use crate::ecs::Ended;

/// Despawns this source entity and its descendants when it reports 'ended'.
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
/// fn fire(mut commands: Commands, ctx: Res<AudioContext>) -> Result {
///     let mut osc = OscillatorNode::default();
///     osc.start(0.0)?.stop(0.2)?;
///     let source = commands.spawn((osc, DespawnOnEnded)).id();
///     // The gain is owned by the source (a child): it is despawned with it.
///     let gain = commands
///         .spawn((GainNode::new(0.3), ChildOf(source)))
///         .connect(ctx.destination())
///         .id();
///     commands.entity(source).connect(gain);
///     Ok(())
/// }
/// ```
#[derive(Component, Clone, Copy, Debug, Default, Reflect)]
#[reflect(Component)]
pub struct DespawnOnEnded;

/// Despawns every [`DespawnOnEnded`] source whose 'ended' arrived this frame, with its
/// descendants. Runs in `First`, after the feedback is read.
pub(crate) fn despawn_ended(
    mut ended: MessageReader<Ended>,
    owners: Query<(), With<DespawnOnEnded>>,
    mut commands: Commands,
) {
    for Ended { entity } in ended.read() {
        if owners.contains(*entity) {
            commands.entity(*entity).try_despawn();
        }
    }
}
