//! [`InspectorEdit`]: what the panels ask for, applied to the ECS by [`apply_edits`] through
//! the same data a game writes (param values on components, connection entities spawned and
//! despawned, the [`Metered`] marker), so the normal sync carries them to the render thread.

use bevy::prelude::*;

use crate::ecs::access::AudioNodeRegistry;
use crate::ecs::connection::{AudioConnection, ConnectionTarget, spawn_edge};
use crate::ecs::engine::AudioEngine;
use crate::ecs::meter::Metered;
use crate::error::WebAudioError;
use crate::param::ParamId;

/// One change asked for by a panel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InspectorEdit {
    /// Set a param's intrinsic value (`param.value = value`).
    SetParam {
        /// The node entity.
        node: Entity,
        /// The param.
        param: ParamId,
        /// The new value.
        value: f32,
    },
    /// Spawn a connection entity (a no-op if the same edge exists).
    Connect {
        /// Source node.
        from: Entity,
        /// Destination node.
        to: Entity,
        /// Source output.
        output: u32,
        /// Destination input or param.
        target: ConnectionTarget,
    },
    /// Despawn a connection entity.
    Disconnect {
        /// The connection entity.
        edge: Entity,
    },
    /// Insert or remove [`Metered`] on a node.
    SetMetered {
        /// The node entity.
        node: Entity,
        /// Metered or not.
        metered: bool,
    },
}

/// Applies `edits` in order. Each failure (a non-finite value, an entity that is gone) is
/// returned; the other edits still apply.
pub fn apply_edits(world: &mut World, edits: &[InspectorEdit]) -> Vec<WebAudioError> {
    edits
        .iter()
        .filter_map(|edit| apply_edit(world, *edit).err())
        .collect()
}

fn apply_edit(world: &mut World, edit: InspectorEdit) -> Result<(), WebAudioError> {
    match edit {
        InspectorEdit::SetParam { node, param, value } => {
            let kind = world
                .get_resource::<AudioEngine>()
                .and_then(|e| e.nodes.get(&node))
                .map(|r| r.kind)
                .ok_or_else(|| gone(node))?;
            let access = world
                .get_resource::<AudioNodeRegistry>()
                .and_then(|r| r.get(kind))
                .ok_or_else(|| gone(node))?;
            access.set_param(world, node, param, value)
        }
        InspectorEdit::Connect {
            from,
            to,
            output,
            target,
        } => {
            world.get_entity(from).map_err(|_| gone(from))?;
            world.get_entity(to).map_err(|_| gone(to))?;
            spawn_edge(world, from, to, AudioConnection { output, target });
            Ok(())
        }
        InspectorEdit::Disconnect { edge } => {
            if world.get::<AudioConnection>(edge).is_none() {
                return Err(gone(edge));
            }
            world.despawn(edge);
            Ok(())
        }
        InspectorEdit::SetMetered { node, metered } => {
            let mut entity = world.get_entity_mut(node).map_err(|_| gone(node))?;
            if metered {
                entity.insert(Metered::default());
            } else {
                entity.remove::<Metered>();
            }
            Ok(())
        }
    }
}

fn gone(entity: Entity) -> WebAudioError {
    WebAudioError::InvalidAccess(format!("{entity} is not an audio node or connection"))
}
