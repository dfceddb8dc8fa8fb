//! The `AudioContext` resource: the context's clock, format, state and engine readings,
//! refreshed from the render side at the start of every frame.

use bevy::prelude::*;

use crate::backend::{ActiveBackend, DeviceInfo};
use crate::error::WebAudioError;
use crate::render::bus::RENDER_QUANTUM;

/// `AudioContextState`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Reflect)]
pub enum AudioContextState {
    /// Rendering.
    #[default]
    Running,
    /// Suspended by [`AudioContext::suspend`]: the clock stops, nothing renders (the device
    /// is released; offline, `render` returns silence without advancing the clock).
    Suspended,
    /// Closed by [`AudioContext::close`]: the renderer and its nodes are freed; it cannot
    /// run again.
    Closed,
}

/// The spec's `statechange` event: the context's state changed (a message).
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioContextStateChanged {
    /// The state before.
    pub previous: AudioContextState,
    /// The state now.
    pub state: AudioContextState,
}

/// The context, like the Web Audio `AudioContext`: names the destination node entity and
/// reports sample rate, `currentTime`, latency, state and the engine's health.
///
/// Reflected for inspection: the readings refreshed from the render side every frame (the
/// clock, backend, device, load, counters) are fields; what the running context is fixed to
/// or changes only through its methods (the destination entity, sample rate, channel count,
/// state) is not, so a scene that carries this resource cannot retarget or re-rate a running
/// context (it describes the running device: leave it out of scenes).
#[derive(Resource, Clone, Debug, Reflect)]
#[reflect(Resource)]
pub struct AudioContext {
    #[reflect(ignore, default = "no_destination")]
    pub(crate) destination: Entity,
    #[reflect(ignore)]
    pub(crate) sample_rate: f32,
    #[reflect(ignore)]
    pub(crate) channels: u16,
    pub(crate) frames: u64,
    #[reflect(ignore)]
    pub(crate) state: AudioContextState,
    #[reflect(ignore)]
    pub(crate) requested_state: Option<AudioContextState>,
    pub(crate) backend: ActiveBackend,
    pub(crate) device: DeviceInfo,
    pub(crate) buffer_frames: u32,
    pub(crate) output_latency: f64,
    pub(crate) render_load: (f32, f32, f32),
    pub(crate) xruns: u64,
    pub(crate) back_pressure: u64,
    pub(crate) command_backlog: usize,
    pub(crate) node_count: usize,
    pub(crate) render_node_count: u64,
    pub(crate) device_frames: u64,
    pub(crate) counters: RenderCounters,
}

/// Counters of the render side that should stay at zero, read each frame
/// ([`AudioContext::counters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Reflect)]
pub struct RenderCounters {
    /// Feedback messages that waited in the render side's overflow queue because the feedback
    /// ring was full (they arrive later, in order).
    pub feedback_stalls: u64,
    /// Garbage the render side could not hand back (ring and overflow full) and leaked rather
    /// than free on the real-time thread.
    pub leaked: u64,
    /// Nodes whose processor panicked (each silent since; see `AudioNodeFault`).
    pub faulted_nodes: u64,
    /// Quanta whose output had NaN or infinite samples, replaced by silence.
    pub non_finite_quanta: u64,
    /// Processor messages of the wrong type (dropped; zero through the plugin).
    pub message_mismatches: u64,
    /// Automation events dropped because their param's render-side timeline was full (each
    /// node reported once as an `AudioNodeFault`; zero through the plugin, which grows a
    /// timeline before sending the events that need the room).
    pub automation_dropped: u64,
    /// Render quanta that applied their budget of commands
    /// ([`COMMAND_BUDGET`](crate::engine::render::COMMAND_BUDGET)) and left the rest for the
    /// next quanta: a burst, as after resuming a context whose commands piled up while it was
    /// suspended. Not a loss: the commands follow, in order.
    pub deferred_command_quanta: u64,
    /// The most commands the render side applied before one quantum (at most the budget).
    pub peak_commands_per_quantum: u64,
}

/// What an `AudioContext` built from reflection names as its destination: no entity (such a
/// context is never the running one; the plugin inserts that).
fn no_destination() -> Entity {
    Entity::PLACEHOLDER
}

impl AudioContext {
    /// The `AudioDestinationNode` entity: connect to it to be heard.
    pub fn destination(&self) -> Entity {
        self.destination
    }

    /// `sampleRate` in Hz.
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    /// Output channels.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// `currentTime` in seconds: frames rendered / sample rate (read at the start of this
    /// frame; the render thread may be slightly ahead).
    pub fn current_time(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }

    /// Frames rendered so far.
    pub fn current_frame(&self) -> u64 {
        self.frames
    }

    /// `state`.
    pub fn state(&self) -> AudioContextState {
        self.state
    }

    /// `suspend()`: stops the render thread (the device is closed) at the start of the next
    /// frame; [`AudioContextStateChanged`] reports it.
    ///
    /// # Errors
    /// `InvalidStateError` once the context is closed (or closing).
    pub fn suspend(&mut self) -> Result<(), WebAudioError> {
        self.request(AudioContextState::Suspended)
    }

    /// `resume()`: reopens the device and continues from where the clock stopped.
    ///
    /// # Errors
    /// `InvalidStateError` once the context is closed (or closing).
    pub fn resume(&mut self) -> Result<(), WebAudioError> {
        self.request(AudioContextState::Running)
    }

    /// `close()`: stops rendering for good and frees the renderer and every render-side node
    /// at the start of the next frame. Commands sent afterwards are dropped.
    ///
    /// # Errors
    /// `InvalidStateError` if already closed (or closing).
    pub fn close(&mut self) -> Result<(), WebAudioError> {
        self.request(AudioContextState::Closed)
    }

    fn request(&mut self, state: AudioContextState) -> Result<(), WebAudioError> {
        if self.state == AudioContextState::Closed
            || self.requested_state == Some(AudioContextState::Closed)
        {
            return Err(WebAudioError::InvalidState(
                "the AudioContext is closed".into(),
            ));
        }
        self.requested_state = Some(state);
        Ok(())
    }

    /// `baseLatency`: the processing latency of one render quantum, in seconds.
    pub fn base_latency(&self) -> f64 {
        RENDER_QUANTUM as f64 / f64::from(self.sample_rate)
    }

    /// `outputLatency`: from the callback to the speaker, as the device reports it (seconds).
    pub fn output_latency(&self) -> f64 {
        self.output_latency
    }

    /// Which backend renders now.
    pub fn backend(&self) -> ActiveBackend {
        self.backend
    }

    /// The open device.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// Frames per device callback, as last observed.
    pub fn buffer_frames(&self) -> u32 {
        self.buffer_frames
    }

    /// Render load like `AudioRenderCapacity`: `(last, average, peak)` of time spent rendering
    /// over the audio time rendered (1.0 = no headroom left).
    pub fn render_load(&self) -> (f32, f32, f32) {
        self.render_load
    }

    /// Device xruns and callbacks that took longer than their audio.
    pub fn xruns(&self) -> u64 {
        self.xruns
    }

    /// How often commands had to wait a frame because the command queue was full.
    pub fn back_pressure(&self) -> u64 {
        self.back_pressure
    }

    /// The render side's fault and loss counters.
    pub fn counters(&self) -> RenderCounters {
        self.counters
    }

    /// Commands waiting on the control side for room in the queue.
    pub fn command_backlog(&self) -> usize {
        self.command_backlog
    }

    /// Frames the output device has taken from the current stream (0 without a device).
    pub fn device_frames(&self) -> u64 {
        self.device_frames
    }

    /// Nodes alive on the render side (as the control side knows them).
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Nodes the render side actually holds in its arena, as it last reported (a node leaves
    /// once the render side has applied its removal; offline, at the next `render`).
    pub fn render_node_count(&self) -> u64 {
        self.render_node_count
    }
}
