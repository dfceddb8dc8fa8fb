//! # bevy_webaudio
//!
//! A Web Audio API–style audio graph for Bevy. Audio nodes are ECS components
//! ([`OscillatorNode`](node::oscillator::OscillatorNode), [`GainNode`](node::gain::GainNode),
//! ...), connections are entities, params are automated with the spec's methods, and a
//! dedicated real-time thread (the cpal output callback) renders the graph. Changes travel
//! there through a lock-free command queue; the render thread never allocates, locks or
//! blocks in steady state.
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_webaudio::prelude::*;
//!
//! fn main() {
//!     App::new()
//!         .add_plugins((MinimalPlugins, WebAudioPlugin::default()))
//!         .add_systems(Startup, beep)
//!         .run();
//! }
//!
//! fn beep(mut commands: Commands, context: Res<AudioContext>) -> Result {
//!     let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
//!     osc.start(0.0)?;
//!     let mut gain = GainNode::new(0.0);
//!     let now = context.current_time();
//!     gain.gain
//!         .linear_ramp_to_value_at_time(0.3, now + 0.05)?
//!         .set_target_at_time(0.0, now + 0.5, 0.1)?;
//!     let gain = commands.spawn(gain).connect(context.destination()).id();
//!     commands.spawn(osc).connect(gain);
//!     Ok(())
//! }
//! ```
//!
//! Offline rendering is the same plugin with [`Backend::Offline`]: `app.update()` syncs the
//! ECS, then [`OfflineRenderExt::render`] renders on the calling thread, deterministically.
//!
//! See `DESIGN.md` for the threads, the node lifecycle and the real-time rules.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod asset;
mod backend;
pub mod context;
mod device;
pub mod ecs;
pub mod game;
#[cfg(feature = "inspector_panels")]
pub mod inspector;
pub mod microphone;
pub mod node;
pub mod param;
#[cfg(feature = "scene")]
pub mod scene;

/// The render engine this crate drives (no Bevy): processors, timelines, the schedule
/// compiler, the command protocol, offline rendering.
pub use webaudio_engine as engine;
/// The spec's exceptions as a Rust enum (shared with the engine).
pub use webaudio_engine::error;
use webaudio_engine::{command, render};

use bevy::ecs::schedule::{ScheduleLabel, SingleThreadedExecutor};
use bevy::prelude::*;
use bevy::transform::TransformSystems;

pub use backend::slot::RenderHooks;
pub use backend::{
    ActiveBackend, AudioBackendError, AudioOutputConfig, Backend, DeviceInfo, LatencyHint,
};
pub use context::{AudioContext, AudioContextState, AudioContextStateChanged, RenderCounters};
pub use ecs::warnings::AudioWarnings;
pub use ecs::{AudioBackendFault, AudioGraphError, AudioNodeFault, AudioNodeFaultKind, Ended};
pub use error::{AudioParamError, WebAudioError};

use backend::Supervisor;
use command::{COMMAND_CAPACITY, FEEDBACK_CAPACITY};
use ecs::engine::{ARENA_CAPACITY, AudioEngine, EngineBackend};
use node::{AudioNode, ChannelConfig, ChannelCountMode, ChannelInterpretation};
use render::Renderer;
use webaudio_engine::offline::OfflineBackend;

/// The things most apps need.
pub mod prelude {
    pub use crate::asset::export::{OfflineExportExt, WavFormat};
    pub use crate::asset::{AudioBuffer, AudioLoadError};
    pub use crate::backend::{AudioBackendError, AudioOutputConfig, Backend, LatencyHint};
    pub use crate::context::{AudioContext, AudioContextState, AudioContextStateChanged};
    pub use crate::ecs::connection::{
        AudioConnectExt, AudioConnection, AudioInputs, AudioOutputs, ConnectionFrom,
        ConnectionTarget, ConnectionTo,
    };
    pub use crate::ecs::doppler::Doppler;
    pub use crate::ecs::meter::Metered;
    pub use crate::ecs::spatial::{SpatialAudio, SpatialMode, SpatialSettings};
    pub use crate::ecs::warnings::AudioWarnings;
    pub use crate::ecs::{
        AudioBackendFault, AudioGraphError, AudioNodeFault, AudioNodeFaultKind, Ended,
    };
    pub use crate::error::WebAudioError;
    pub use crate::game::{
        AudioLabel, Bus, BusConfig, BusVolumes, DespawnOnEnded, DuckFlag, DuckFlags, DuckRule,
        DuckTrigger, Fade, FadeCurve, GameAudioPlugin, MixBus, MixBuses, PlaySound, PlaySoundExt,
        SoundControlExt, SoundDropped, SoundSettingsExt, StealPolicy, SuspendPolicy, Voice,
        VoiceLimit, VoiceState, Volume, WindowFocusState,
    };
    pub use crate::microphone::{
        LatencyMeasurement, LatencyProbe, Microphone, MicrophoneConfig, MicrophoneError,
        MicrophoneFault, MicrophonePlugin, MicrophoneStatus, MicrophoneTap, VoiceStarted,
        VoiceStopped,
    };
    pub use crate::node::analyser::AnalyserNode;
    pub use crate::node::audio_buffer_source::AudioBufferSourceNode;
    pub use crate::node::audio_listener::AudioListener;
    pub use crate::node::audio_worklet::{
        AudioParamDescriptor, AudioWorkletNode, AudioWorkletProcessor, WorkletParams, WorkletScope,
    };
    pub use crate::node::biquad_filter::{BiquadFilterNode, BiquadFilterType};
    pub use crate::node::channel_merger::ChannelMergerNode;
    pub use crate::node::channel_splitter::ChannelSplitterNode;
    pub use crate::node::constant_source::ConstantSourceNode;
    pub use crate::node::convolver::ConvolverNode;
    pub use crate::node::delay::DelayNode;
    pub use crate::node::destination::AudioDestinationNode;
    pub use crate::node::dynamics_compressor::{DynamicsCompressorNode, DynamicsCompressorOptions};
    pub use crate::node::gain::GainNode;
    pub use crate::node::iir_filter::IIRFilterNode;
    pub use crate::node::media_element_audio_source::MediaElementAudioSourceNode;
    pub use crate::node::media_stream_audio_source::MediaStreamAudioSourceNode;
    pub use crate::node::oscillator::{OscillatorNode, OscillatorType};
    pub use crate::node::panner::{DistanceModel, PannerNode, PanningModel};
    pub use crate::node::periodic_wave::PeriodicWave;
    pub use crate::node::scheduled::AudioScheduledSourceNode;
    pub use crate::node::stereo_panner::StereoPannerNode;
    pub use crate::node::wave_shaper::{OverSampleType, WaveShaperNode};
    pub use crate::node::{ChannelConfig, ChannelCountMode, ChannelInterpretation};
    pub use crate::param::{AudioParam, AutomationRate, ParamId};
    pub use crate::{
        AudioNodeAppExt, OfflineRenderExt, WebAudioPlugin, WebAudioSync, WebAudioSystems,
    };
}

/// The plugin's system sets.
///
/// The plugin's own systems of `WriteNodes`, `Spatial`, `Sync` and `Commit` run in the
/// [`WebAudioSync`] schedule, which one exclusive system in `PostUpdate`'s `Sync` set runs; the
/// sets are configured in both schedules, in the same order, so a system of yours in
/// `PostUpdate`'s `WriteNodes` still runs before the sync sees the frame's components.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebAudioSystems {
    /// `First`: read the render side back (clock, 'ended', faults) into [`AudioContext`].
    Feedback,
    /// `PostUpdate`, after transform propagation and before `Sync`: every system that writes
    /// node components for this frame's sync (node types' own systems, buffer checks, the
    /// game layer). Put your own such systems here too.
    WriteNodes,
    /// `PostUpdate`, after `WriteNodes`: turn `GlobalTransform`s of
    /// [`SpatialAudio`](ecs::spatial::SpatialAudio) panners and of the
    /// [`AudioListener`](node::audio_listener::AudioListener) into param events, and the motion
    /// of [`Doppler`](ecs::doppler::Doppler) emitters into `detune` glides (it sees the nodes
    /// that `WriteNodes` spawned this frame).
    Spatial,
    /// `PostUpdate`, after `Spatial`: mirror node components and connection entities into
    /// commands.
    Sync,
    /// `PostUpdate`, after `Sync`: compile the schedule if the graph changed and push the
    /// commands to the render thread.
    Commit,
}

/// The schedule of the plugin's per-frame sync: its own node writes (buffer checks, splitter
/// channel counts, stream formats), the spatial and Doppler sync, every node type's sync, the
/// connection and meter sync and the commit, in [`WebAudioSystems`] order, one after the other
/// on the calling thread. It runs once a frame, from an exclusive system in `PostUpdate`'s
/// [`WebAudioSystems::Sync`] set (after transform propagation and the asset events).
///
/// These systems all share the engine and so could never run side by side; on one thread, an
/// idle frame costs a few microseconds instead of a task (and a thread wake-up) per system.
/// Custom node types registered with [`AudioNodeAppExt::add_audio_node`] sync here too; add
/// your own systems with `app.add_systems(WebAudioSync, ...)` when they must run between
/// these (an [`AudioNode::register`] system), or in `PostUpdate`'s
/// [`WebAudioSystems::WriteNodes`] otherwise.
#[derive(ScheduleLabel, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WebAudioSync;

/// Runs [`WebAudioSync`].
fn run_sync(world: &mut World) {
    world.run_schedule(WebAudioSync);
}

/// The four sets, in order.
fn ordered_sets() -> impl IntoScheduleConfigs<bevy::ecs::schedule::InternedSystemSet, ()> {
    (
        WebAudioSystems::WriteNodes,
        WebAudioSystems::Spatial,
        WebAudioSystems::Sync,
        WebAudioSystems::Commit,
    )
        .chain()
}

/// Adds the audio context, its destination entity, and the systems that mirror the graph.
#[derive(Clone, Debug, Default)]
pub struct WebAudioPlugin {
    /// Which backend renders.
    pub backend: Backend,
    /// Called on the render thread around every render (profiling, allocation checks).
    pub render_hooks: Option<backend::slot::RenderHooks>,
}

impl WebAudioPlugin {
    /// An offline context (no thread, no device) at `sample_rate` with `channels` outputs.
    pub fn offline(sample_rate: u32, channels: u16) -> Self {
        Self {
            backend: Backend::Offline {
                sample_rate,
                channels,
            },
            render_hooks: None,
        }
    }
}

impl Plugin for WebAudioPlugin {
    fn build(&self, app: &mut App) {
        app.edit_schedule(WebAudioSync, |schedule| {
            schedule
                .set_executor(SingleThreadedExecutor::new())
                .configure_sets(ordered_sets());
        });
        app.add_message::<Ended>()
            .add_message::<AudioContextStateChanged>()
            .add_message::<AudioGraphError>()
            .add_message::<AudioBackendFault>()
            .add_message::<AudioNodeFault>()
            .register_type::<ChannelConfig>()
            .register_type::<ecs::connection::ConnectionFrom>()
            .register_type::<ecs::connection::ConnectionTo>()
            .register_type::<ecs::connection::AudioOutputs>()
            .register_type::<ecs::connection::AudioInputs>()
            .register_type::<ecs::connection::AudioConnection>()
            .register_type::<ecs::meter::Metered>()
            .init_resource::<AudioWarnings>()
            .register_type::<AudioWarnings>()
            .add_systems(Last, ecs::warnings::log_graph_errors)
            .init_resource::<ecs::connection::InsertedEdges>()
            .add_observer(ecs::connection::note_inserted_edge)
            .configure_sets(
                PostUpdate,
                ordered_sets().after(TransformSystems::Propagate),
            )
            .add_systems(First, ecs::run_feedback.in_set(WebAudioSystems::Feedback))
            .add_systems(
                PostUpdate,
                run_sync
                    .in_set(WebAudioSystems::Sync)
                    .after(bevy::asset::AssetEventSystems),
            )
            .add_systems(
                WebAudioSync,
                (
                    ecs::sync_connections.in_set(WebAudioSystems::Sync),
                    ecs::meter::sync_meters
                        .in_set(WebAudioSystems::Sync)
                        .after(ecs::sync_connections),
                    ecs::commit.in_set(WebAudioSystems::Commit),
                ),
            );
        asset::register(app);
        quiet_contained_panics();
        let (engine, context) = start_engine(app.world_mut(), &self.backend, self.render_hooks);
        app.insert_resource(context)
            .insert_resource(engine)
            .register_type::<AudioContext>()
            .register_type::<ecs::access::AudioNodeRegistry>();
        app.register_type::<ecs::spatial::SpatialAudio>()
            .register_type::<ecs::spatial::SpatialSettings>()
            .init_resource::<ecs::spatial::SpatialSettings>()
            .register_type::<ecs::doppler::Doppler>()
            .add_systems(
                WebAudioSync,
                (ecs::spatial::sync_spatial, ecs::doppler::sync_doppler)
                    .in_set(WebAudioSystems::Spatial),
            );
        app.add_audio_node::<node::destination::AudioDestinationNode>()
            .add_audio_node::<node::gain::GainNode>()
            .add_audio_node::<node::oscillator::OscillatorNode>()
            .add_audio_node::<node::constant_source::ConstantSourceNode>()
            .add_audio_node::<node::delay::DelayNode>()
            .add_audio_node::<node::stereo_panner::StereoPannerNode>()
            .add_audio_node::<node::audio_buffer_source::AudioBufferSourceNode>()
            .add_audio_node::<node::channel_splitter::ChannelSplitterNode>()
            .add_audio_node::<node::channel_merger::ChannelMergerNode>()
            .add_audio_node::<node::biquad_filter::BiquadFilterNode>()
            .add_audio_node::<node::iir_filter::IIRFilterNode>()
            .add_audio_node::<node::media_stream_audio_source::MediaStreamAudioSourceNode>()
            .add_audio_node::<node::media_element_audio_source::MediaElementAudioSourceNode>()
            .add_audio_node::<node::convolver::ConvolverNode>()
            .add_audio_node::<node::analyser::AnalyserNode>()
            .add_audio_node::<node::audio_worklet::AudioWorkletNode>()
            .add_audio_node::<node::wave_shaper::WaveShaperNode>()
            .add_audio_node::<node::dynamics_compressor::DynamicsCompressorNode>()
            .add_audio_node::<node::panner::PannerNode>()
            .add_audio_node::<node::audio_listener::AudioListener>();
    }

    fn finish(&self, app: &mut App) {
        if asset::registered_too_early(app) {
            warn!(
                "WebAudioPlugin was added before AssetPlugin: audio files cannot be loaded \
                 (no AudioBuffer loader). Add WebAudioPlugin after DefaultPlugins or AssetPlugin"
            );
        }
    }
}

/// Installs (once per process) a panic hook that stays quiet for panics the renderer contains
/// (inside a processor call: they are reported as [`AudioNodeFault`] instead, and printing
/// from the render thread would block it) and passes every other panic to the previous hook.
/// Containment needs unwinding: under `panic = "abort"` a panicking processor ends the process.
fn quiet_contained_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !webaudio_engine::render::fault::in_processor() {
                previous(info);
            }
        }));
    });
}

/// Opens the backend, spawns the destination, and builds the engine and context resources.
fn start_engine(
    world: &mut World,
    backend: &Backend,
    hooks: Option<backend::slot::RenderHooks>,
) -> (AudioEngine, AudioContext) {
    let shared = command::shared();
    let (control, render_channel) = command::channel(COMMAND_CAPACITY, FEEDBACK_CAPACITY);
    let renderer_shared = shared.clone();
    let make_renderer = move |rate: u32, channels: u16| {
        Renderer::new(
            render_channel,
            renderer_shared,
            rate as f32,
            usize::from(channels),
            ARENA_CAPACITY,
        )
    };
    let (backend, config_error) = backend.validated();
    if let Some(error) = &config_error {
        warn!("{error}");
    }
    let mut startup_error = config_error;
    let offline = matches!(backend, Backend::Offline { .. });
    let (engine_backend, rate, channels) = match backend {
        Backend::Offline {
            sample_rate,
            channels,
        } => (
            EngineBackend::Offline(OfflineBackend::new(make_renderer(sample_rate, channels))),
            sample_rate,
            channels,
        ),
        realtime => {
            let (supervisor, error) =
                Supervisor::start(realtime, make_renderer, shared.clone(), hooks);
            if let Some(error) = &error {
                backend::warn_fallback(error);
            }
            startup_error = startup_error.or(error);
            let (rate, channels) = (supervisor.sample_rate(), supervisor.channels());
            let backend = EngineBackend::Realtime {
                supervisor: Box::new(supervisor),
                parked: None,
            };
            (backend, rate, channels)
        }
    };
    let destination = world
        .spawn((
            node::destination::AudioDestinationNode::new(usize::from(channels), offline),
            ChannelConfig::new(
                usize::from(channels),
                ChannelCountMode::Explicit,
                ChannelInterpretation::Speakers,
            ),
            Name::new("AudioDestinationNode"),
        ))
        .id();
    let context = AudioContext {
        destination,
        sample_rate: rate as f32,
        channels,
        frames: 0,
        state: AudioContextState::Running,
        requested_state: None,
        backend: engine_backend.active(),
        device: engine_backend.device_info(),
        buffer_frames: 0,
        output_latency: 0.0,
        render_load: (0.0, 0.0, 0.0),
        xruns: 0,
        back_pressure: 0,
        command_backlog: 0,
        node_count: 0,
        render_node_count: 0,
        device_frames: 0,
        counters: Default::default(),
    };
    let mut engine = AudioEngine::new(
        control,
        engine_backend,
        shared,
        rate as f32,
        channels,
        destination,
    );
    engine.startup_error = startup_error;
    (engine, context)
}

/// Registers a node type (built-in ones are registered by the plugin; custom processors use
/// this too).
pub trait AudioNodeAppExt {
    /// Mirrors components of type `T` into the graph: its reflection, its sync system, its
    /// type-erased access for tools, and whatever extra systems the type needs
    /// ([`AudioNode::register`]). Registering a type twice is a no-op with a warning.
    fn add_audio_node<T: AudioNode + bevy::reflect::GetTypeRegistration>(&mut self) -> &mut Self;
}

impl AudioNodeAppExt for App {
    fn add_audio_node<T: AudioNode + bevy::reflect::GetTypeRegistration>(&mut self) -> &mut Self {
        let fresh = self
            .world_mut()
            .get_resource_or_init::<ecs::access::AudioNodeRegistry>()
            .register::<T>();
        if !fresh {
            warn!(
                "{} is already registered as an audio node; ignored",
                T::NAME
            );
            return self;
        }
        self.register_type::<T>().add_systems(
            WebAudioSync,
            ecs::sync_nodes::<T>
                .in_set(WebAudioSystems::Sync)
                .before(ecs::sync_connections),
        );
        T::register(self);
        self
    }
}

/// Offline rendering on an [`App`] or [`World`] whose plugin uses [`Backend::Offline`].
pub trait OfflineRenderExt {
    /// Applies every pending command, then renders `frames` frames on the calling thread.
    /// Returns one `Vec` per output channel. Call `app.update()` first so the ECS is synced.
    /// While the context is suspended this is `frames` of silence and the clock stays put.
    ///
    /// The renderer works in 128-frame quanta: after `render(n)` with `n` not a multiple of
    /// 128 the rest of the last quantum is kept for the next call, and
    /// [`AudioContext::current_time`] is, as the spec defines it, the time after the last
    /// rendered quantum (up to 127 frames ahead of the frames returned so far).
    ///
    /// # Errors
    /// `InvalidStateError` when the context is not offline, or closed.
    fn render(&mut self, frames: usize) -> Result<Vec<Vec<f32>>, WebAudioError>;
}

impl OfflineRenderExt for World {
    fn render(&mut self, frames: usize) -> Result<Vec<Vec<f32>>, WebAudioError> {
        let context = self.resource::<AudioContext>();
        match context.state() {
            AudioContextState::Closed => {
                return Err(WebAudioError::InvalidState(
                    "render() on a closed AudioContext".into(),
                ));
            }
            AudioContextState::Suspended => {
                return Ok(vec![vec![0.0; frames]; usize::from(context.channels())]);
            }
            AudioContextState::Running => {}
        }
        let mut engine = self.resource_mut::<AudioEngine>();
        let engine = &mut *engine;
        let EngineBackend::Offline(offline) = engine.backend.get() else {
            return Err(WebAudioError::InvalidState(
                "render() needs WebAudioPlugin with Backend::Offline".into(),
            ));
        };
        let out = offline.render(engine.control.get(), frames);
        // The spec's currentTime: the frame after the last rendered quantum (a multiple of
        // 128, at or ahead of the frames returned; the rest of that quantum waits for the next
        // call), so events scheduled at `current_time()` land exactly on the next quantum.
        engine.offline_frames = offline.frame();
        let frames_now = engine.offline_frames;
        self.resource_mut::<AudioContext>().frames = frames_now;
        Ok(out)
    }
}

impl OfflineRenderExt for App {
    fn render(&mut self, frames: usize) -> Result<Vec<Vec<f32>>, WebAudioError> {
        self.world_mut().render(frames)
    }
}

/// Test hooks (not part of the stable API).
#[doc(hidden)]
pub mod testing {
    use bevy::prelude::*;

    /// The device layer's sample formats and errors.
    #[cfg(feature = "cpal")]
    pub use crate::device::{DeviceError, SampleKind};
    /// The device layer's bounded tear-down and sample conversions.
    pub use crate::device::{DeviceSample, RELEASE_TIMEOUT, Release, release};

    use crate::ecs::engine::{AudioEngine, EngineBackend};

    /// The stream sample type the output backend opens for a device sample `format` (through
    /// the same dispatch as the real stream), or its typed error.
    #[cfg(feature = "cpal")]
    pub fn output_sample_type(
        format: cpal::SampleFormat,
    ) -> Result<&'static str, crate::AudioBackendError> {
        crate::backend::cpal::output_sample_type(format)
    }

    /// Makes the running output stream report a fatal error, as a device failure would.
    pub fn inject_stream_error(world: &mut World) {
        let mut engine = world.resource_mut::<AudioEngine>();
        if let EngineBackend::Realtime { supervisor, .. } = engine.backend.get() {
            supervisor.inject_stream_error();
        }
    }
}

/// The README's and the guide's Rust examples, compiled as doc tests so they cannot rot
/// (blocks marked `ignore` are fragments and are skipped).
#[cfg(doctest)]
mod readme_doctests {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/GUIDE.md")]
    struct Guide;
}
