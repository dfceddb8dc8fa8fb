//! Type-erased access to node components by entity: [`AudioNodeRegistry`] holds, per
//! registered node type ([`AudioNodeAppExt::add_audio_node`](crate::AudioNodeAppExt)), keyed by
//! the component's `TypeId`, functions that read a node's shape and params and set a param, so
//! tools (the inspector) can work on any node entity without knowing its type.

use std::any::TypeId;
use std::collections::HashMap;

use bevy::prelude::*;

use crate::error::WebAudioError;
use crate::node::{AudioNode, NodeShape};
use crate::param::AudioParam;
use webaudio_engine::param::{NodeParams, ParamId, ParamSlot};

/// One param of a node as read through the registry.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    /// Which param.
    pub id: ParamId,
    /// Its slot on the render side (where its meter reading is).
    pub slot: ParamSlot,
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
    let node = node.bypass_change_detection();
    for param in node.params().to_vec() {
        let p: &mut AudioParam = node.param_mut(param);
        out.push(ParamInfo {
            id: param.id(),
            slot: param.slot(),
            value: p.value(),
            descriptor: p.descriptor(),
            rate: p.automation_rate(),
        });
    }
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
    let param = node.param_by_id(param).ok_or_else(missing)?;
    param.set_value(value).map(|_| ())
}

/// Every registered node type, by its component's `TypeId`.
///
/// Reflected as an opaque resource: its entries are function pointers, built by
/// [`add_audio_node`](crate::AudioNodeAppExt::add_audio_node), not data.
#[derive(Resource, Default, Debug, Reflect)]
#[reflect(Resource, Default)]
pub struct AudioNodeRegistry {
    #[reflect(ignore)]
    kinds: HashMap<TypeId, NodeAccess>,
}

impl AudioNodeRegistry {
    /// Registers `T` (done by `add_audio_node`). Returns `false`, changing nothing, when `T`
    /// was registered before.
    pub fn register<T: AudioNode>(&mut self) -> bool {
        if self.kinds.contains_key(&TypeId::of::<T>()) {
            return false;
        }
        self.kinds.insert(TypeId::of::<T>(), NodeAccess::of::<T>());
        true
    }

    /// Whether `T` is registered.
    pub fn contains<T: AudioNode>(&self) -> bool {
        self.kinds.contains_key(&TypeId::of::<T>())
    }

    /// The access functions of the node type whose component has `TypeId` `kind`.
    pub fn get(&self, kind: TypeId) -> Option<NodeAccess> {
        self.kinds.get(&kind).copied()
    }

    /// Every registered node type: its component's `TypeId` and access functions (in no
    /// particular order).
    pub fn iter(&self) -> impl Iterator<Item = (TypeId, NodeAccess)> + '_ {
        self.kinds.iter().map(|(&kind, &access)| (kind, access))
    }
}
