//! Scenes of audio graphs (feature `scene`): save the node and connection entities through
//! Bevy's world serialization, load them back, and they play the same.
//!
//! Every node component, [`ChannelConfig`](crate::node::ChannelConfig) and connection is
//! reflected and registered by [`WebAudioPlugin`](crate::WebAudioPlugin), so a
//! [`DynamicWorld`] of them serializes to RON and loads like any Bevy scene (a
//! `DynamicWorldRoot` of a `.scn.ron` asset, or `DynamicWorld::write_to_world`). What
//! comes back:
//!
//! - **Nodes and connections**, with their attributes, param values and channel settings.
//!   Param descriptors are not saved: the sync restores them from each node's declarations.
//! - **Sources stay started**: a scheduled source's `start(when)` and latest `stop(when)` are
//!   saved ([`ScheduledSource`](crate::node::scheduled::ScheduledSource)) and sent again when
//!   the restored node's render side is built. Times are context times: a time already past
//!   when the scene is loaded takes effect at once (a source started at 0 plays from the
//!   loading frame, its waveform's phase restarting there; one stopped in the past ends).
//! - **The destination**: the saved graph's connections name the saving context's
//!   destination entity. A destination loaded from a scene is merged into the running
//!   context's: its connections move there and the loaded entity is despawned, so keep the
//!   destination in the scene ([`audio_graph`] does).
//!
//! What does not come back:
//!
//! - **Automation.** A param is saved as its `value` and automation rate; its timeline
//!   (`setValueAtTime`, ramps, `setTargetAtTime`, curves, ...) is not, since the control side
//!   keeps only the events not yet sent. Schedule the automation again after loading.
//! - **Render-side state**: a delay line's contents, a filter's memory, where a buffer
//!   source's play head was. Restored nodes start from silence at the loading frame.
//! - **Buffers that are not files**: an `AudioBufferSourceNode`'s or `ConvolverNode`'s
//!   handle is saved as Bevy saves handles: by asset path for loaded files (loaded again with
//!   the scene); a buffer made in code has no path to load from.
//! - **Run-time objects**: an `AudioWorkletNode`'s processor factory, a
//!   `MediaElementAudioSourceNode`'s open file, a `MediaStreamAudioSourceNode`'s stream, a
//!   `LatencyProbe`'s recording. They are not reflected; such nodes come back silent.
//!
//! The resources ([`AudioContext`](crate::AudioContext), the `Microphone`) describe the
//! running device and do not belong in a scene; [`audio_graph`] leaves every resource out.
//! Applied from a scene anyway, `AudioContext` keeps its destination, rate, channel count and
//! state, which are not reflected.
//!
//! # Examples
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy::world_serialization::DynamicWorldRoot;
//! use bevy_webaudio::scene::audio_graph;
//!
//! /// Saves the graph to `assets/graph.scn.ron`.
//! fn save(world: &mut World) {
//!     let registry = world.resource::<AppTypeRegistry>().read();
//!     let ron = audio_graph(world).serialize(&registry).unwrap();
//!     std::fs::write("assets/graph.scn.ron", ron).unwrap();
//! }
//!
//! /// Loads it again (with `WorldSerializationPlugin`, which `DefaultPlugins` has).
//! fn load(mut commands: Commands, assets: Res<AssetServer>) {
//!     commands.spawn(DynamicWorldRoot(assets.load("graph.scn.ron")));
//! }
//! ```

use bevy::prelude::*;
use bevy::world_serialization::{DynamicWorld, DynamicWorldBuilder};

use crate::ecs::access::AudioNodeRegistry;
use crate::ecs::connection::AudioConnection;

/// The audio graph of `world` as a scene: every entity with a node component of a registered
/// type (the destination included) or a connection, with all of its reflected components, and
/// no resources. Serialize it with `DynamicWorld::serialize` and the app's type registry.
pub fn audio_graph(world: &World) -> DynamicWorld {
    let mut kinds: Vec<_> = world
        .get_resource::<AudioNodeRegistry>()
        .map(|registry| registry.iter().map(|(kind, _)| kind).collect())
        .unwrap_or_default();
    kinds.push(std::any::TypeId::of::<AudioConnection>());
    let ids: Vec<_> = kinds
        .into_iter()
        .filter_map(|kind| world.components().get_id(kind))
        .collect();
    let entities = world
        .archetypes()
        .iter()
        .filter(|archetype| ids.iter().any(|&id| archetype.contains(id)))
        .flat_map(|archetype| archetype.entities().iter().map(|e| e.id()));
    let registry = world.resource::<AppTypeRegistry>().read();
    DynamicWorldBuilder::from_world(world, &registry)
        .deny_all_resources()
        .extract_entities(entities)
        .build()
}
