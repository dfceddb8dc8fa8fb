//! The main-thread side: systems that mirror node components, connection entities and
//! despawns into commands, and that bring feedback (the clock, 'ended', faults) back.

pub mod access;
pub mod connection;
pub mod doppler;
pub(crate) mod engine;
pub mod meter;
pub mod spatial;
pub mod warnings;

use bevy::ecs::entity::{EntityHashMap, EntityHashSet};
use bevy::ecs::system::SystemState;
use bevy::prelude::*;

use crate::asset::AudioBuffer;
use crate::backend::AudioBackendError;
use crate::context::{AudioContext, AudioContextState, AudioContextStateChanged};
use crate::error::WebAudioError;
use crate::node::{AudioNode, ChannelConfig};
use connection::{AudioConnection, ConnectionFrom, ConnectionTo};
use engine::{AudioEngine, EdgeRecord, EngineBackend};
use webaudio_engine::command::Feedback;
use webaudio_engine::render::fault::NodeFault;

/// A scheduled source reached its stop time: a Bevy message, and an observer event on the
/// node's entity (`On<Ended>`).
#[derive(Message, EntityEvent, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The source node's entity.
    pub entity: Entity,
}

/// A graph operation failed the spec's checks (an invalid channel configuration, a
/// connection to a missing output or param).
#[derive(Message, Clone, Debug, PartialEq)]
pub struct AudioGraphError {
    /// The entity concerned (node or edge).
    pub entity: Entity,
    /// What was wrong.
    pub error: WebAudioError,
}

/// A node faulted on the render thread: its processor panicked (the node outputs silence from
/// then on; the rest of the graph keeps playing), or it produced NaN or infinite samples
/// (replaced by silence before the device). Sent once per node and kind, and logged as a
/// warning.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct AudioNodeFault {
    /// The node's entity.
    pub entity: Entity,
    /// Its Web Audio interface name.
    pub node: &'static str,
    /// What happened.
    pub kind: AudioNodeFaultKind,
}

/// What an [`AudioNodeFault`] was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioNodeFaultKind {
    /// The processor panicked, with this message.
    Panic(String),
    /// The node's output had NaN or infinite samples.
    NonFinite,
    /// An automation event for one of its params was dropped because the param's render-side
    /// timeline was full. The plugin grows timelines before sending events, so this only
    /// happens to commands built by hand; counted in `RenderCounters::automation_dropped`.
    AutomationDropped,
}

impl std::fmt::Display for AudioNodeFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            AudioNodeFaultKind::Panic(message) => write!(
                f,
                "{} {} panicked on the render thread and is silent from now on: {message}",
                self.node, self.entity
            ),
            AudioNodeFaultKind::NonFinite => write!(
                f,
                "{} {} output NaN or infinite samples (replaced by silence before the device)",
                self.node, self.entity
            ),
            AudioNodeFaultKind::AutomationDropped => write!(
                f,
                "{} {} dropped an automation event: its param's timeline was full",
                self.node, self.entity
            ),
        }
    }
}

/// The output backend failed; rendering continues on the null backend.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct AudioBackendFault(pub AudioBackendError);

/// What `sync_nodes::<T>` remembers between frames.
pub(crate) struct SyncedNodes<T: AudioNode> {
    /// Each node's attributes as last sent (a change sends a message).
    sent: EntityHashMap<T::Attributes>,
    /// Entities whose `T` was refused (another node type is there), reported once.
    rejected: EntityHashSet,
}

impl<T: AudioNode> Default for SyncedNodes<T> {
    fn default() -> Self {
        Self {
            sent: EntityHashMap::default(),
            rejected: EntityHashSet::default(),
        }
    }
}

/// Mirrors one node type: adds new nodes, sends param events, start/stop, attributes and
/// channel configuration changes, and removes despawned ones.
#[allow(clippy::type_complexity)]
pub(crate) fn sync_nodes<T: AudioNode>(
    mut engine: ResMut<AudioEngine>,
    context: Res<AudioContext>,
    mut nodes: Query<
        (Entity, &mut T, Ref<ChannelConfig>),
        Or<(Changed<T>, Changed<ChannelConfig>)>,
    >,
    mut seen: Local<SyncedNodes<T>>,
    mut removed: RemovedComponents<T>,
    mut errors: MessageWriter<AudioGraphError>,
    buffers: Option<Res<Assets<AudioBuffer>>>,
) {
    let buffers = buffers.as_deref();
    let kind = std::any::TypeId::of::<T>();
    for entity in removed.read() {
        engine.remove_node(entity, kind);
        seen.sent.remove(&entity);
        seen.rejected.remove(&entity);
    }
    let now = context.current_time();
    for (entity, mut node, config) in &mut nodes {
        let node = node.bypass_change_detection();
        // One node type per entity: a second node component there would share the first's
        // render node (its param events landing on the other's params).
        if let Some(other) = engine.nodes.get(&entity).filter(|r| r.kind != kind) {
            if seen.rejected.insert(entity) {
                let error = WebAudioError::InvalidState(format!(
                    "{} on an entity that already is a {}: put each node on its own entity",
                    T::NAME,
                    other.name
                ));
                errors.write(AudioGraphError { entity, error });
            }
            continue;
        }
        let valid = match node.validate_channels(&config) {
            Ok(()) => Some(config.0),
            Err(error) => {
                if config.is_changed() {
                    errors.write(AudioGraphError { entity, error });
                }
                None
            }
        };
        if !engine.nodes.contains_key(&entity) {
            let config = valid.unwrap_or_else(|| fallback_config(node).0);
            engine.add_node(entity, node, config, buffers);
            seen.sent.insert(entity, node.attributes());
        } else {
            if let Some(config) = valid {
                engine.set_config(entity, config);
            }
            let attributes = node.attributes();
            if seen.sent.get(&entity) != Some(&attributes) {
                engine.update_attributes(entity, node, buffers);
                seen.sent.insert(entity, attributes);
            }
        }
        engine.drain_params(entity, node, now);
        engine.drain_schedule(entity, node);
    }
}

/// A configuration this node type accepts, for a node spawned with an invalid one (the
/// error is reported; the node still renders, with the first of the common layouts its
/// spec section allows).
fn fallback_config<T: AudioNode>(node: &T) -> ChannelConfig {
    use crate::node::{ChannelCountMode as M, ChannelInterpretation as I};
    [
        ChannelConfig::default(),
        ChannelConfig::new(2, M::ClampedMax, I::Speakers),
        ChannelConfig::new(2, M::Explicit, I::Speakers),
        ChannelConfig::new(1, M::Explicit, I::Speakers),
        ChannelConfig::new(1, M::Explicit, I::Discrete),
    ]
    .into_iter()
    .find(|c| node.validate_channels(c).is_ok())
    .unwrap_or_default()
}

/// Mirrors connection entities: the removed ones, then those whose components were inserted
/// since the last sync (their components are immutable, so nothing else changes an edge).
pub(crate) fn sync_connections(
    mut engine: ResMut<AudioEngine>,
    edges: Query<(&ConnectionFrom, &ConnectionTo, &AudioConnection)>,
    mut inserted: ResMut<connection::InsertedEdges>,
    mut removed: RemovedComponents<AudioConnection>,
    mut errors: MessageWriter<AudioGraphError>,
    mut commands: Commands,
) {
    for entity in removed.read() {
        if engine.edges.remove(&entity).is_some() {
            engine.dirty = true;
        }
    }
    if inserted.0.is_empty() {
        return;
    }
    let mut fresh = std::mem::take(&mut inserted.0);
    fresh.sort_unstable();
    fresh.dedup();
    for entity in fresh.drain(..) {
        let Ok((from, to, connection)) = edges.get(entity) else {
            continue; // despawned since, or not a whole edge (yet)
        };
        let record = EdgeRecord {
            from: from.0,
            to: to.0,
            connection: *connection,
        };
        if let Err(error) = engine.validate_edge(&record) {
            errors.write(AudioGraphError { entity, error });
            commands.entity(entity).despawn();
            continue;
        }
        engine.edges.insert(entity, record);
        engine.dirty = true;
    }
    inserted.0 = fresh; // empty: its storage is reused
}

/// Compiles the schedule if anything changed and pushes the commands out.
pub(crate) fn commit(mut engine: ResMut<AudioEngine>, mut errors: MessageWriter<AudioGraphError>) {
    for entity in engine.commit() {
        let error = WebAudioError::NotSupported(
            "in a cycle without a DelayNode: the cycle outputs silence, as the spec says".into(),
        );
        errors.write(AudioGraphError { entity, error });
    }
    engine.flush();
}

/// [`receive_feedback`]'s params.
type FeedbackParams = (
    ResMut<'static, AudioEngine>,
    ResMut<'static, AudioContext>,
    MessageWriter<'static, Ended>,
    MessageWriter<'static, AudioBackendFault>,
    MessageWriter<'static, AudioNodeFault>,
    MessageWriter<'static, AudioContextStateChanged>,
    Commands<'static, 'static>,
);

/// Runs [`receive_feedback`] in place, on the thread running `First` (as an exclusive system,
/// like the sync: a task of its own would cost a thread wake-up for a few microseconds of
/// work).
pub(crate) fn run_feedback(world: &mut World, params: &mut SystemState<FeedbackParams>) {
    // The params are the plugin's own resources and messages: always there.
    let Ok((engine, context, ended, faults, node_faults, state_changes, commands)) =
        params.get_mut(world)
    else {
        return;
    };
    receive_feedback(
        engine,
        context,
        ended,
        faults,
        node_faults,
        state_changes,
        commands,
    );
    params.apply(world);
}

/// Reads the render side back: the clock, 'ended', garbage, faults, state changes.
fn receive_feedback(
    mut engine: ResMut<AudioEngine>,
    mut context: ResMut<AudioContext>,
    mut ended: MessageWriter<Ended>,
    mut faults: MessageWriter<AudioBackendFault>,
    mut node_faults: MessageWriter<AudioNodeFault>,
    mut state_changes: MessageWriter<AudioContextStateChanged>,
    mut commands: Commands,
) {
    let engine = &mut *engine;
    while let Some(feedback) = engine.control.get().receive() {
        match feedback {
            Feedback::Ended(id) => {
                if let Some(&entity) = engine.ids.get(&id) {
                    ended.write(Ended { entity });
                    commands.trigger(Ended { entity });
                }
            }
            Feedback::Fault(id, fault) => {
                if let Some(&entity) = engine.ids.get(&id) {
                    let node = engine.nodes.get(&entity).map_or("AudioNode", |r| r.name);
                    let kind = match fault {
                        NodeFault::Panic(_) => AudioNodeFaultKind::Panic(fault.message()),
                        NodeFault::NonFinite => AudioNodeFaultKind::NonFinite,
                        NodeFault::AutomationDropped => AudioNodeFaultKind::AutomationDropped,
                    };
                    let fault = AudioNodeFault { entity, node, kind };
                    warn!("{fault}");
                    node_faults.write(fault);
                }
            }
            Feedback::Garbage(garbage) => drop(garbage),
        }
    }
    if let Some(error) = engine.startup_error.take() {
        faults.write(AudioBackendFault(error));
    }
    for error in engine.backend.get().poll() {
        crate::backend::warn_fallback(&error);
        faults.write(AudioBackendFault(error));
    }
    if let Some(change) = apply_state_request(engine, &mut context) {
        state_changes.write(change);
    }
    refresh_context(engine, &mut context);
}

fn apply_state_request(
    engine: &mut AudioEngine,
    context: &mut AudioContext,
) -> Option<AudioContextStateChanged> {
    let state = context.requested_state.take()?;
    let previous = context.state;
    if state == previous {
        return None;
    }
    let backend = engine.backend.get();
    match state {
        AudioContextState::Closed => {
            backend.close();
            engine
                .shared
                .live_nodes
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        _ => backend.set_running(state == AudioContextState::Running),
    }
    context.state = state;
    Some(AudioContextStateChanged { previous, state })
}

fn refresh_context(engine: &mut AudioEngine, context: &mut AudioContext) {
    let backend = engine.backend.get();
    context.frames = match backend {
        EngineBackend::Offline(_) => engine.offline_frames,
        EngineBackend::Realtime { .. } => engine.shared.frames(),
        EngineBackend::Closed { .. } => context.frames,
    };
    context.backend = backend.active();
    context.device = backend.device_info();
    let (buffer_frames, latency) = backend.device_readings();
    context.device_frames = backend.device_frames();
    context.buffer_frames = buffer_frames;
    context.output_latency = latency;
    context.render_load = engine.shared.loads();
    let shared = &engine.shared;
    context.xruns = shared.xruns.load(std::sync::atomic::Ordering::Relaxed)
        + shared.overruns.load(std::sync::atomic::Ordering::Relaxed);
    let control = engine.control.get();
    context.back_pressure = control.back_pressure;
    context.command_backlog = control.backlog_len();
    context.node_count = engine.nodes.len();
    context.render_node_count = shared.live_nodes.load(std::sync::atomic::Ordering::Relaxed);
    let read = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    context.counters = crate::context::RenderCounters {
        feedback_stalls: read(&shared.feedback_stalls),
        leaked: read(&shared.leaked),
        faulted_nodes: read(&shared.faulted_nodes),
        non_finite_quanta: read(&shared.non_finite_quanta),
        message_mismatches: read(&shared.message_mismatches),
        automation_dropped: read(&shared.automation_dropped),
        deferred_command_quanta: read(&shared.deferred_quanta),
        peak_commands_per_quantum: read(&shared.peak_commands_per_quantum),
    };
}
