//! Connections are entities: one entity per edge, with two
//! relationship components naming its ends and an [`AudioConnection`] saying which output feeds
//! which input or param. Despawning either endpoint despawns its edges (`linked_spawn`);
//! despawning an edge disconnects it.

use bevy::ecs::system::EntityCommands;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::param::ParamId;

/// The edge's source node.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Reflect)]
#[reflect(Component)]
#[relationship(relationship_target = AudioOutputs)]
pub struct ConnectionFrom(pub Entity);

/// On a node: the edges leaving it.
#[derive(Component, Clone, Debug, Default, Reflect)]
#[reflect(Component)]
#[relationship_target(relationship = ConnectionFrom, linked_spawn)]
pub struct AudioOutputs(Vec<Entity>);

impl AudioOutputs {
    /// The edge entities.
    pub fn edges(&self) -> &[Entity] {
        &self.0
    }
}

/// The edge's destination node.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Reflect)]
#[reflect(Component)]
#[relationship(relationship_target = AudioInputs)]
pub struct ConnectionTo(pub Entity);

/// On a node: the edges arriving at it.
#[derive(Component, Clone, Debug, Default, Reflect)]
#[reflect(Component)]
#[relationship_target(relationship = ConnectionTo, linked_spawn)]
pub struct AudioInputs(Vec<Entity>);

impl AudioInputs {
    /// The edge entities.
    pub fn edges(&self) -> &[Entity] {
        &self.0
    }
}

/// What an edge feeds at its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Reflect, Serialize, Deserialize)]
pub enum ConnectionTarget {
    /// A node input, by index.
    Input(u32),
    /// A param, by its spec name.
    Param(ParamId),
}

/// The rest of an edge: which output of the source, into what.
///
/// Immutable, like the edge's two ends: to change an edge, insert a new `AudioConnection` (or
/// disconnect and connect again). The sync hears of edges when their components are inserted,
/// so idle edges cost a frame nothing.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Hash, Reflect, Serialize, Deserialize)]
#[component(immutable)]
#[reflect(Component)]
pub struct AudioConnection {
    /// The source's output index.
    pub output: u32,
    /// The destination's input or param.
    pub target: ConnectionTarget,
}

/// `connect` / `disconnect` on [`EntityCommands`], mirroring `AudioNode.connect()`.
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
/// fn setup(mut commands: Commands, context: Res<AudioContext>) {
///     let mut osc = OscillatorNode::default();
///     osc.start(0.0).unwrap();
///     let gain = commands.spawn(GainNode::new(0.2)).id();
///     let lfo = commands.spawn(OscillatorNode::new(OscillatorType::Sine, 5.0)).id();
///     commands.spawn(osc).connect(gain);
///     commands.entity(lfo).connect_param(gain, ParamId::Gain);
///     commands.entity(gain).connect(context.destination());
/// }
/// ```
pub trait AudioConnectExt {
    /// `connect(destination)`: output 0 into input 0. A no-op if that edge exists.
    fn connect(&mut self, destination: Entity) -> &mut Self;
    /// `connect(destination, output, input)`.
    fn connect_with(&mut self, destination: Entity, output: u32, input: u32) -> &mut Self;
    /// `connect(destination[param], output)` (output 0; see [`AudioConnectExt::connect_param_from`]).
    fn connect_param(&mut self, destination: Entity, param: ParamId) -> &mut Self;
    /// `connect(destination[param], output)`.
    fn connect_param_from(&mut self, destination: Entity, param: ParamId, output: u32)
    -> &mut Self;
    /// `disconnect(destination)`: despawns every edge from this node to `destination`.
    fn disconnect(&mut self, destination: Entity) -> &mut Self;
    /// `disconnect()`: despawns every edge leaving this node.
    fn disconnect_all(&mut self) -> &mut Self;
}

/// Edge entities that got one of their components inserted since the last sync (in insertion
/// order, possibly repeated): the only edges the sync looks at.
#[derive(Resource, Default)]
pub(crate) struct InsertedEdges(pub Vec<Entity>);

/// Notes an edge whose end or connection was inserted.
pub(crate) fn note_inserted_edge(
    insert: On<Insert, (ConnectionFrom, ConnectionTo, AudioConnection)>,
    mut inserted: ResMut<InsertedEdges>,
) {
    inserted.0.push(insert.entity);
}

pub(crate) fn spawn_edge(world: &mut World, from: Entity, to: Entity, connection: AudioConnection) {
    let exists = world
        .get::<AudioOutputs>(from)
        .into_iter()
        .flat_map(|o| o.edges().iter().copied())
        .any(|edge| {
            world.get::<ConnectionTo>(edge).map(|t| t.0) == Some(to)
                && world.get::<AudioConnection>(edge) == Some(&connection)
        });
    if !exists && world.get_entity(to).is_ok() {
        world.spawn((ConnectionFrom(from), ConnectionTo(to), connection));
    }
}

fn edges_to(world: &World, from: Entity, to: Option<Entity>) -> Vec<Entity> {
    world
        .get::<AudioOutputs>(from)
        .into_iter()
        .flat_map(|o| o.edges().iter().copied())
        .filter(|&e| to.is_none() || world.get::<ConnectionTo>(e).map(|t| t.0) == to)
        .collect()
}

impl AudioConnectExt for EntityCommands<'_> {
    fn connect(&mut self, destination: Entity) -> &mut Self {
        self.connect_with(destination, 0, 0)
    }

    fn connect_with(&mut self, destination: Entity, output: u32, input: u32) -> &mut Self {
        let connection = AudioConnection {
            output,
            target: ConnectionTarget::Input(input),
        };
        self.queue(move |entity: EntityWorldMut| {
            let from = entity.id();
            let world = entity.into_world_mut();
            spawn_edge(world, from, destination, connection);
        })
    }

    fn connect_param(&mut self, destination: Entity, param: ParamId) -> &mut Self {
        self.connect_param_from(destination, param, 0)
    }

    fn connect_param_from(
        &mut self,
        destination: Entity,
        param: ParamId,
        output: u32,
    ) -> &mut Self {
        let connection = AudioConnection {
            output,
            target: ConnectionTarget::Param(param),
        };
        self.queue(move |entity: EntityWorldMut| {
            let from = entity.id();
            let world = entity.into_world_mut();
            spawn_edge(world, from, destination, connection);
        })
    }

    fn disconnect(&mut self, destination: Entity) -> &mut Self {
        self.queue(move |entity: EntityWorldMut| {
            let from = entity.id();
            let world = entity.into_world_mut();
            for edge in edges_to(world, from, Some(destination)) {
                world.despawn(edge);
            }
        })
    }

    fn disconnect_all(&mut self) -> &mut Self {
        self.queue(move |entity: EntityWorldMut| {
            let from = entity.id();
            let world = entity.into_world_mut();
            for edge in edges_to(world, from, None) {
                world.despawn(edge);
            }
        })
    }
}
