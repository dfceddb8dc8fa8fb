//! `AudioEngine`: the control side's private state — the command channel, the backend, the
//! Entity → render-id map and the graph the schedule compiler works on. All allocation for the
//! render side happens here.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::ecs::entity::EntityHashMap;
use bevy::platform::cell::SyncCell;
use bevy::prelude::*;

use super::connection::{AudioConnection, ConnectionTarget};
use webaudio_engine::command::{
    Command, ControlChannel, ParamGlide, RenderId, RenderIds, RenderShared,
};
use webaudio_engine::graph::{Edge, EdgeTarget, Graph, GraphNode};
use webaudio_engine::node::oscillator::WaveTableCache;
use webaudio_engine::node::{ChannelConfig, NodeMessage};
use webaudio_engine::offline::OfflineBackend;
use webaudio_engine::param::{NodeParams, ParamId, ParamSlot};
use webaudio_engine::render::Renderer;
use webaudio_engine::render::timeline::{AutomationEvent, Timeline};

use crate::asset::AudioBuffer;
use crate::backend::{ActiveBackend, AudioBackendError, DeviceInfo, Supervisor};
use crate::error::WebAudioError;
use crate::node::{AudioNode, BuildContext, NodeShape, OutputChannels, SpatialRole};

/// Initial event capacity of a param's render-side timeline.
const TIMELINE_CAPACITY: usize = 16;
/// Initial node arena size.
pub(crate) const ARENA_CAPACITY: usize = 256;

/// Where rendering happens.
pub(crate) enum EngineBackend {
    /// A thread (cpal callback or null) under the supervisor; `parked` holds the renderer
    /// while the context is suspended.
    Realtime {
        supervisor: Box<Supervisor>,
        parked: Option<Box<Renderer>>,
    },
    /// On the caller of `render()`.
    Offline(OfflineBackend),
    /// `close()`d: no renderer; what was active and open is kept for the readings.
    Closed {
        was: ActiveBackend,
        info: DeviceInfo,
    },
}

impl EngineBackend {
    /// Checks the stream's health (real time only).
    pub fn poll(&mut self) -> Vec<AudioBackendError> {
        match self {
            Self::Realtime { supervisor, parked } if parked.is_none() => supervisor.poll(),
            _ => Vec::new(),
        }
    }

    /// Suspends (stops the stream, parks the renderer) or resumes.
    pub fn set_running(&mut self, running: bool) {
        if let Self::Realtime { supervisor, parked } = self {
            if running {
                if let Some(renderer) = parked.take() {
                    supervisor.resume(renderer);
                }
            } else if parked.is_none() {
                *parked = supervisor.stop();
            }
        }
    }

    /// Stops rendering for good: the stream stops and the renderer (with every node) is
    /// dropped here, on the control side.
    pub fn close(&mut self) {
        let was = self.active();
        let info = self.device_info();
        if let Self::Realtime { supervisor, .. } = self {
            drop(supervisor.stop());
        }
        *self = Self::Closed { was, info };
    }

    /// Which backend renders (closed: the one that did).
    pub fn active(&self) -> ActiveBackend {
        match self {
            Self::Realtime { supervisor, .. } => supervisor.active(),
            Self::Offline(_) => ActiveBackend::Offline,
            Self::Closed { was, .. } => *was,
        }
    }

    /// What is open.
    pub fn device_info(&self) -> DeviceInfo {
        match self {
            Self::Realtime { supervisor, .. } => supervisor.info().clone(),
            Self::Offline(o) => DeviceInfo {
                name: "offline".into(),
                sample_rate: o.sample_rate(),
                channels: o.channels(),
                requested_buffer_frames: 0,
                sample_format: "F32".into(),
            },
            Self::Closed { info, .. } => info.clone(),
        }
    }

    /// Frames the device took from the current stream.
    pub fn device_frames(&self) -> u64 {
        match self {
            Self::Realtime { supervisor, .. } => supervisor.device_frames(),
            Self::Offline(_) | Self::Closed { .. } => 0,
        }
    }

    /// Frames per callback and output latency in seconds.
    pub fn device_readings(&self) -> (u32, f64) {
        match self {
            Self::Realtime { supervisor, .. } => supervisor.device_readings(),
            Self::Offline(_) | Self::Closed { .. } => (0, 0.0),
        }
    }
}

/// The control side's record of one node.
pub(crate) struct NodeRecord {
    pub id: RenderId,
    /// The component's type (the key of `AudioNodeRegistry`; one node type per entity).
    pub kind: std::any::TypeId,
    pub name: &'static str,
    /// Each param's spec name and slot, from the node type's typed ids.
    pub params: Vec<(ParamId, ParamSlot)>,
    pub capacities: Vec<usize>,
    pub shape: NodeShape,
    pub config: ChannelConfig,
    pub outputs: Vec<OutputChannels>,
    pub spatial: SpatialRole,
}

impl NodeRecord {
    /// The slot of the param named `id`, if this node has it.
    pub fn slot_of(&self, id: ParamId) -> Option<ParamSlot> {
        self.params.iter().find(|(p, _)| *p == id).map(|&(_, s)| s)
    }
}

/// One edge as the ECS has it.
#[derive(Clone, Copy)]
pub(crate) struct EdgeRecord {
    pub from: Entity,
    pub to: Entity,
    pub connection: AudioConnection,
}

/// The control side's engine state.
#[derive(Resource)]
pub(crate) struct AudioEngine {
    pub control: SyncCell<ControlChannel>,
    pub backend: SyncCell<EngineBackend>,
    pub shared: Arc<RenderShared>,
    pub sample_rate: f32,
    pub channels: u16,
    pub destination: Entity,
    pub nodes: EntityHashMap<NodeRecord>,
    pub ids: HashMap<RenderId, Entity>,
    pub edges: EntityHashMap<EdgeRecord>,
    render_ids: RenderIds,
    arena_capacity: usize,
    pub dirty: bool,
    pending_removals: Vec<RenderId>,
    wavetables: WaveTableCache,
    /// Frames an offline backend has rendered (whole quanta).
    pub offline_frames: u64,
    /// Why the configured device could not be opened at start, reported once as a message.
    pub startup_error: Option<AudioBackendError>,
    /// `AudioListener` entities in the order they were added; the first is the listener.
    pub listeners: Vec<Entity>,
    /// Nodes the last compiled schedule mutes (a cycle without a `DelayNode`).
    muted: Vec<Entity>,
    /// `drain_params`' scratch list of one param's events (kept: no allocation per frame).
    events: Vec<AutomationEvent>,
    /// This frame's glides of moving spatial nodes, sent at commit (after the frame's param
    /// events, in the order the spatial sync queued them).
    glides: Vec<(RenderId, ParamGlide)>,
}

impl AudioEngine {
    pub fn new(
        control: ControlChannel,
        backend: EngineBackend,
        shared: Arc<RenderShared>,
        sample_rate: f32,
        channels: u16,
        destination: Entity,
    ) -> Self {
        Self {
            control: SyncCell::new(control),
            backend: SyncCell::new(backend),
            shared,
            sample_rate,
            channels,
            destination,
            nodes: EntityHashMap::default(),
            ids: HashMap::new(),
            edges: EntityHashMap::default(),
            render_ids: RenderIds::default(),
            arena_capacity: ARENA_CAPACITY,
            dirty: true,
            pending_removals: Vec::new(),
            wavetables: WaveTableCache::default(),
            offline_frames: 0,
            startup_error: None,
            listeners: Vec::new(),
            muted: Vec::new(),
            events: Vec::new(),
            glides: Vec::new(),
        }
    }

    pub(crate) fn send(&mut self, command: Command) {
        self.control.get().send(command);
    }

    /// A free render id (a reused slot gets a new generation); grows the render-side arena
    /// first when needed.
    fn allocate_id(&mut self) -> RenderId {
        let id = self.render_ids.allocate();
        let slot = id.slot() as usize;
        if slot >= self.arena_capacity {
            self.arena_capacity = (self.arena_capacity * 2).max(slot + 1);
            let arena = (0..self.arena_capacity).map(|_| None).collect();
            self.send(Command::ReplaceArena(arena));
        }
        id
    }

    /// Builds the node's processor and params and sends them over.
    pub fn add_node<T: AudioNode>(
        &mut self,
        entity: Entity,
        node: &mut T,
        config: ChannelConfig,
        buffers: Option<&Assets<AudioBuffer>>,
    ) {
        let id = self.allocate_id();
        let (sample_rate, channels) = (self.sample_rate, usize::from(self.channels));
        let mut ctx = BuildContext {
            sample_rate,
            max_channels: channels.max(config.count),
            wavetables: &mut self.wavetables,
            buffers,
        };
        let render_node = crate::node::build_render_node(node, &mut ctx, TIMELINE_CAPACITY);
        // A new render node gets the source's recorded start/stop (also those of a component
        // rebuilt from a scene, which has nothing queued); `drain_schedule` sends them.
        if let Some(source) = node.scheduled() {
            source.queue_recorded();
        }
        let params: Vec<_> = node.params().iter().map(|p| (p.id(), p.slot())).collect();
        let shape = node.shape();
        let record = NodeRecord {
            id,
            kind: std::any::TypeId::of::<T>(),
            name: T::NAME,
            capacities: vec![TIMELINE_CAPACITY; params.len()],
            params,
            shape,
            config,
            outputs: (0..shape.outputs)
                .map(|k| node.output_channels(k))
                .collect(),
            spatial: T::SPATIAL,
        };
        if T::SPATIAL == SpatialRole::Listener {
            self.listeners.push(entity);
            if self.listeners.len() == 2 {
                warn!(
                    "a second AudioListener ({entity}) is ignored: a context has one listener, \
                     {} stays it",
                    self.listeners[0]
                );
            }
        }
        self.send(Command::AddNode {
            id,
            node: render_node,
        });
        self.nodes.insert(entity, record);
        self.ids.insert(id, entity);
        self.dirty = true;
    }

    /// Forgets the node of type `kind` on `entity` (another type's node there stays); its slot
    /// is freed after the next schedule no longer uses it.
    pub fn remove_node(&mut self, entity: Entity, kind: std::any::TypeId) {
        if self.nodes.get(&entity).is_some_and(|r| r.kind == kind)
            && let Some(record) = self.nodes.remove(&entity)
        {
            self.listeners.retain(|&l| l != entity);
            self.ids.remove(&record.id);
            self.pending_removals.push(record.id);
            self.dirty = true;
        }
    }

    /// New attributes for a running processor.
    pub fn update_attributes<T: AudioNode>(
        &mut self,
        entity: Entity,
        node: &T,
        buffers: Option<&Assets<AudioBuffer>>,
    ) {
        let Some(id) = self.nodes.get(&entity).map(|r| r.id) else {
            return;
        };
        let mut ctx = BuildContext {
            sample_rate: self.sample_rate,
            max_channels: usize::from(self.channels)
                .max(self.nodes.get(&entity).map_or(0, |r| r.config.count)),
            wavetables: &mut self.wavetables,
            buffers,
        };
        if let Some(message) = node.attributes_message(&mut ctx) {
            let message = NodeMessage::new::<T::Processor>(message);
            self.send(Command::Message { node: id, message });
        }
        // New attributes may change an output's width (a microphone stream's channels).
        if let Some(record) = self.nodes.get_mut(&entity) {
            let outputs: Vec<_> = (0..record.shape.outputs)
                .map(|k| node.output_channels(k))
                .collect();
            if record.outputs != outputs {
                record.outputs = outputs;
                self.dirty = true;
            }
        }
    }

    /// A new channel configuration (validated by the caller).
    pub fn set_config(&mut self, entity: Entity, config: ChannelConfig) {
        if let Some(record) = self.nodes.get_mut(&entity)
            && record.config != config
        {
            record.config = config;
            self.dirty = true;
        }
    }

    /// Sends each param's pending events in call order, growing timelines first if needed.
    pub fn drain_params<T: AudioNode>(&mut self, entity: Entity, node: &mut T, now: f64) {
        let Some(id) = self.nodes.get(&entity).map(|r| r.id) else {
            return;
        };
        let mut events = std::mem::take(&mut self.events);
        for index in 0..node.params().len() {
            let param = node.params()[index];
            let p = node.param_mut(param);
            if !p.needs_sync() {
                continue;
            }
            let rate = p.drain_pending(&mut |e| events.push(e));
            p.forget_before(now);
            let (slot, scheduled) = (param.slot(), p.scheduled_len());
            self.ensure_capacity(entity, id, slot, scheduled + 2 * events.len() + 4);
            if let Some(rate) = rate {
                self.send(Command::SetAutomationRate {
                    node: id,
                    param: slot,
                    rate,
                });
            }
            for event in events.drain(..) {
                self.send(Command::ParamEvent {
                    node: id,
                    param: slot,
                    event,
                });
            }
        }
        self.events = events;
    }

    /// Queues a glide of `entity`'s params from slot `first` on to `values` over `start..end`
    /// (one command, sent at commit), growing their timelines first: each may hold up to
    /// `scheduled` events of its own besides. Returns `false` (nothing queued) when the entity
    /// is not a synced node or the values do not fit one glide.
    pub fn queue_glide(
        &mut self,
        entity: Entity,
        first: ParamSlot,
        values: &[f32],
        (start, end): (f64, f64),
        scheduled: usize,
    ) -> bool {
        let Some(id) = self.nodes.get(&entity).map(|r| r.id) else {
            return false;
        };
        let Some(glide) = ParamGlide::new(first, values, start, end) else {
            return false;
        };
        for (param, _) in glide.params() {
            // The glide's hold and ramp, last frame's if nothing rendered since, and room.
            self.ensure_capacity(entity, id, param, scheduled + 8);
        }
        self.glides.push((id, glide));
        true
    }

    fn ensure_capacity(&mut self, entity: Entity, id: RenderId, param: ParamSlot, required: usize) {
        let Some(capacity) = self
            .nodes
            .get_mut(&entity)
            .and_then(|r| r.capacities.get_mut(param.index()))
        else {
            return;
        };
        if required <= *capacity {
            return;
        }
        let new = required.next_power_of_two().max(*capacity * 2);
        *capacity = new;
        self.send(Command::ReplaceTimeline {
            node: id,
            param,
            timeline: Box::new(Timeline::new(0.0, new)),
        });
    }

    /// Sends start/stop calls.
    pub fn drain_schedule<T: AudioNode>(&mut self, entity: Entity, node: &mut T) {
        let Some(id) = self.nodes.get(&entity).map(|r| r.id) else {
            return;
        };
        if let Some(source) = node.scheduled()
            && source.has_pending()
        {
            let events: Vec<_> = source.drain().collect();
            for event in events {
                self.send(Command::Schedule { node: id, event });
            }
        }
    }

    /// Checks an edge against its endpoints' shapes.
    pub fn validate_edge(&self, edge: &EdgeRecord) -> Result<(), WebAudioError> {
        let (Some(from), Some(to)) = (self.nodes.get(&edge.from), self.nodes.get(&edge.to)) else {
            return Ok(()); // an endpoint is not an audio node yet; checked again at compile
        };
        if edge.connection.output as usize >= from.shape.outputs {
            return Err(WebAudioError::IndexSize(format!(
                "{} has {} outputs, output {} does not exist",
                from.name, from.shape.outputs, edge.connection.output
            )));
        }
        match edge.connection.target {
            ConnectionTarget::Input(i) if i as usize >= to.shape.inputs => {
                Err(WebAudioError::IndexSize(format!(
                    "{} has {} inputs, input {i} does not exist",
                    to.name, to.shape.inputs
                )))
            }
            ConnectionTarget::Param(p) if to.slot_of(p).is_none() => Err(
                WebAudioError::InvalidState(format!("{} has no param {p}", to.name)),
            ),
            _ => Ok(()),
        }
    }

    fn graph(&self) -> Graph {
        let nodes = self
            .nodes
            .values()
            .map(|r| {
                (
                    r.id,
                    GraphNode {
                        shape: r.shape,
                        config: r.config,
                        outputs: r.outputs.clone(),
                    },
                )
            })
            .collect();
        let edges = self
            .edges
            .values()
            .filter_map(|e| self.resolve(e))
            .collect();
        Graph {
            nodes,
            edges,
            destination: self.nodes.get(&self.destination).map(|r| r.id),
            listener: self
                .listeners
                .first()
                .and_then(|l| self.nodes.get(l))
                .map(|r| r.id),
            listener_readers: self
                .nodes
                .values()
                .filter(|r| r.spatial == SpatialRole::Panner)
                .map(|r| r.id)
                .collect(),
        }
    }

    fn resolve(&self, edge: &EdgeRecord) -> Option<Edge> {
        let from = self.nodes.get(&edge.from)?;
        let to = self.nodes.get(&edge.to)?;
        self.validate_edge(edge).ok()?;
        let target = match edge.connection.target {
            ConnectionTarget::Input(i) => EdgeTarget::Input(i as usize),
            ConnectionTarget::Param(p) => EdgeTarget::Param(to.slot_of(p)?),
        };
        Some(Edge {
            from: from.id,
            output: edge.connection.output as usize,
            to: to.id,
            target,
        })
    }

    /// Compiles and sends a new schedule if the graph changed, then frees removed slots.
    /// Returns the nodes newly muted for sitting in a cycle without a `DelayNode`.
    pub fn commit(&mut self) -> Vec<Entity> {
        let glides = std::mem::take(&mut self.glides);
        for &(node, glide) in &glides {
            self.send(Command::Glide { node, glide });
        }
        self.glides = glides;
        self.glides.clear();
        let mut newly_muted = Vec::new();
        if self.dirty {
            let (schedule, report) = self.graph().compile();
            self.send(Command::SetSchedule(Box::new(schedule)));
            self.dirty = false;
            let muted: Vec<Entity> = report
                .muted
                .iter()
                .filter_map(|id| self.ids.get(id).copied())
                .collect();
            newly_muted = muted
                .iter()
                .copied()
                .filter(|e| !self.muted.contains(e))
                .collect();
            self.muted = muted;
        }
        let removals = std::mem::take(&mut self.pending_removals);
        for id in removals {
            self.send(Command::RemoveNode { id });
            self.render_ids.free(id);
        }
        newly_muted
    }

    /// Pushes queued commands to the render thread (real time only; offline applies them in
    /// `render`).
    pub fn flush(&mut self) {
        match self.backend.get() {
            EngineBackend::Realtime { .. } => {
                self.control.get().flush();
            }
            // Nothing renders any more: what was sent is dropped here.
            EngineBackend::Closed { .. } => self.control.get().take_backlog().for_each(drop),
            EngineBackend::Offline(_) => {}
        }
    }
}
