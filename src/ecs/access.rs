//! Type-erased access to node components by entity: [`AudioNodeRegistry`] holds, per
//! registered node type ([`AudioNodeAppExt::add_audio_node`](crate::AudioNodeAppExt)), functions
//! that read a node's shape and params and set a param, so tools (the inspector) can work on
//! any node entity without knowing its type.

use std::collections::HashMap;

use bevy::prelude::*;

use crate::error::WebAudioError;
use crate::node::{AudioNode, NodeShape};
use crate::param::{AudioParam, ParamId};

/// One param of a node as read through the registry.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    /// Which param.
    pub id: ParamId,
    /// The intrinsic value.
    pub value: f32,
    /// `defaultValue`, `minValue`/`maxValue` (unresolved: see `nyquist_range`), rate.
    pub descriptor: crate::param::ParamDescriptor,
    /// `automationRate`.
    pub rate: crate::param::AutomationRate,
}

/// Functions reaching one node type's component.
#[derive(Clone, Copy)]
pub struct NodeAccess {
    /// The Web Audio interface name (`AudioNode::NAME`).
    pub name: &'static str,
    shape: fn(&World, Entity) -> Option<NodeShape>,
    params: fn(&mut World, Entity, &mut Vec<ParamInfo>),
    set_param: fn(&mut World, Entity, ParamId, f32) -> Result<(), WebAudioError>,
}

impl std::fmt::Debug for NodeAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAccess")
            .field("name", &self.name)
            .finish()
    }
}

impl NodeAccess {
    fn of<T: AudioNode>() -> Self {
        Self {
            name: T::NAME,
            shape: |world, entity| world.get::<T>(entity).map(T::shape),
            params: read_params::<T>,
            set_param: set_param::<T>,
        }
    }

    /// The node's inputs and outputs.
    pub fn shape(&self, world: &World, entity: Entity) -> Option<NodeShape> {
        (self.shape)(world, entity)
    }

    /// Appends the node's params, in render order, to `out` (does not mark the component
    /// changed).
    pub fn params(&self, world: &mut World, entity: Entity, out: &mut Vec<ParamInfo>) {
        (self.params)(world, entity, out);
    }

    /// `param.value = value` on the component (the normal sync sends it on).
    ///
    /// # Errors
    /// `RangeError` for a non-finite value; `InvalidAccessError` when the entity has no such
    /// node or the node no such param.
    pub fn set_param(
        &self,
        world: &mut World,
        entity: Entity,
        param: ParamId,
        value: f32,
    ) -> Result<(), WebAudioError> {
        (self.set_param)(world, entity, param, value)
    }
}

fn read_params<T: AudioNode>(world: &mut World, entity: Entity, out: &mut Vec<ParamInfo>) {
    let Some(mut node) = world.get_mut::<T>(entity) else {
        return;
    };
    node.bypass_change_detection()
        .for_each_param(&mut |id, p: &mut AudioParam| {
            out.push(ParamInfo {
                id,
                value: p.value(),
                descriptor: p.descriptor(),
                rate: p.automation_rate(),
            });
        });
}

fn set_param<T: AudioNode>(
    world: &mut World,
    entity: Entity,
    param: ParamId,
    value: f32,
) -> Result<(), WebAudioError> {
    let missing =
        || WebAudioError::InvalidAccess(format!("{entity} has no {} param {param}", T::NAME));
    let mut node = world.get_mut::<T>(entity).ok_or_else(missing)?;
    let mut result = Err(missing());
    node.for_each_param(&mut |id, p| {
        if id == param {
            result = p.set_value(value).map(|_| ());
        }
    });
    result
}

/// Every registered node type, by its Web Audio name.
#[derive(Resource, Default, Debug)]
pub struct AudioNodeRegistry {
    kinds: HashMap<&'static str, NodeAccess>,
}

impl AudioNodeRegistry {
    /// Registers `T` (done by `add_audio_node`).
    pub fn register<T: AudioNode>(&mut self) {
        self.kinds.insert(T::NAME, NodeAccess::of::<T>());
    }

    /// The access functions of the node type called `name`.
    pub fn get(&self, name: &str) -> Option<NodeAccess> {
        self.kinds.get(name).copied()
    }
}
