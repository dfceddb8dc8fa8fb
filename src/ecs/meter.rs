//! [`Metered`]: opt-in, per node, read-backs of the node's output level (peak/RMS), its
//! params' computed values and automation state, and its node-specific readout, fed from the
//! render thread through the atomics of a [`NodeProbe`]. Nodes without it cost nothing.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::prelude::*;

use super::engine::AudioEngine;
use webaudio_engine::command::Command;
use webaudio_engine::render::probe::NodeProbe;

/// Put on a node entity to meter it: the render thread then publishes the node's output
/// peak and RMS (every [`METER_WINDOW`](crate::render::probe::METER_WINDOW) frames), each
/// param's computed value and whether it is automating, and the node's readout (a buffer
/// source's play position). Removing the component detaches the probe.
///
/// A clone gets a probe of its own (it meters another node).
#[derive(Component, Debug, Default, Reflect)]
#[reflect(Component, Default)]
pub struct Metered {
    #[reflect(ignore)]
    probe: Arc<NodeProbe>,
}

impl Clone for Metered {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl Metered {
    /// The probe the render thread writes.
    pub fn probe(&self) -> &NodeProbe {
        &self.probe
    }

    /// Peak of the node's first output over the last window (linear).
    pub fn peak(&self) -> f32 {
        self.probe.peak()
    }

    /// RMS of the node's first output over the last window (linear).
    pub fn rms(&self) -> f32 {
        self.probe.rms()
    }
}

/// Attaches probes of new (or re-added) metered nodes and detaches removed ones.
pub(crate) fn sync_meters(
    mut engine: ResMut<AudioEngine>,
    meters: Query<(Entity, Ref<Metered>)>,
    mut removed: RemovedComponents<Metered>,
    mut attached: Local<HashMap<Entity, webaudio_engine::command::RenderId>>,
) {
    for entity in removed.read() {
        if let Some(id) = attached.remove(&entity)
            && engine.nodes.get(&entity).map(|r| r.id) == Some(id)
        {
            engine.send(Command::SetProbe {
                node: id,
                probe: None,
            });
        }
    }
    for (entity, meter) in &meters {
        let Some(id) = engine.nodes.get(&entity).map(|r| r.id) else {
            continue;
        };
        if attached.get(&entity) != Some(&id) || meter.is_changed() {
            attached.insert(entity, id);
            engine.send(Command::SetProbe {
                node: id,
                probe: Some(meter.probe.clone()),
            });
        }
    }
}
