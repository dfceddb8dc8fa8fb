//! The processor side of a node: the traits and types every render-side node implements, and
//! one file per Web Audio node type holding its param declarations and its processor.
//!
//! A node is two halves: its control-side description (in a host such as the Bevy layer: the
//! spec's attributes and `AudioParam`s), and its **processor**, built on the control thread
//! (where it may allocate), boxed, and sent to the render thread, where it implements
//! [`AudioProcessor`] and must never allocate, free, lock, block or panic.

use std::any::Any;

use serde::{Deserialize, Serialize};

use crate::error::WebAudioError;
use crate::param::{NoParams, NodeParams, Params};
use crate::render::bus::{AudioBus, MAX_CHANNELS};

pub mod analyser;
pub mod audio_buffer_source;
pub mod audio_listener;
pub mod audio_worklet;
pub mod biquad_filter;
pub mod channel_merger;
pub mod channel_splitter;
pub mod constant_source;
pub mod convolver;
pub mod delay;
pub mod destination;
pub mod dynamics_compressor;
pub mod gain;
pub mod iir_filter;
pub mod media_element_audio_source;
pub mod media_stream_audio_source;
pub mod oscillator;
pub mod panner;
pub mod periodic_wave;
pub mod scheduled;
pub mod stereo_panner;
pub mod wave_shaper;
pub mod wavetable;

/// How a node's input channel count is computed from its connections (spec: `channelCountMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum ChannelCountMode {
    /// The widest connection decides; `channelCount` is ignored.
    #[default]
    Max,
    /// The widest connection, but at most `channelCount`.
    ClampedMax,
    /// Exactly `channelCount`.
    Explicit,
}

/// How channels are up- or down-mixed (spec: `channelInterpretation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum ChannelInterpretation {
    /// The speaker layouts mono, stereo, quad and 5.1 mix by the spec's equations.
    #[default]
    Speakers,
    /// Channels are matched by index; extra channels are dropped or filled with silence.
    Discrete,
}

/// A node's `channelCount`, `channelCountMode` and `channelInterpretation`, as a component on
/// the node's entity. Each node type requires it with the spec's default; changing it rebuilds
/// the render schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct ChannelConfig {
    /// `channelCount`: 1 to 32.
    pub count: usize,
    /// `channelCountMode`.
    pub mode: ChannelCountMode,
    /// `channelInterpretation`.
    pub interpretation: ChannelInterpretation,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self::new(2, ChannelCountMode::Max, ChannelInterpretation::Speakers)
    }
}

impl ChannelConfig {
    /// A configuration (not validated; see [`ChannelConfig::validate`]).
    pub const fn new(
        count: usize,
        mode: ChannelCountMode,
        interpretation: ChannelInterpretation,
    ) -> Self {
        Self {
            count,
            mode,
            interpretation,
        }
    }

    /// The spec's generic check: `channelCount` must be 1..=32 (`NotSupportedError`).
    ///
    /// # Errors
    /// [`WebAudioError::NotSupported`] when the count is out of range.
    pub fn validate(&self) -> Result<(), WebAudioError> {
        if (1..=MAX_CHANNELS).contains(&self.count) {
            Ok(())
        } else {
            Err(WebAudioError::NotSupported(format!(
                "channelCount {} is outside 1..=32",
                self.count
            )))
        }
    }

    /// The check of the nodes that mix down to stereo (`StereoPannerNode`, `PannerNode`,
    /// `DynamicsCompressorNode`): the generic one, then `channelCount` ≤ 2 and
    /// `channelCountMode` ≠ `max`.
    ///
    /// # Errors
    /// [`WebAudioError::NotSupported`] naming `node` otherwise.
    pub fn validate_up_to_stereo(&self, node: &str) -> Result<(), WebAudioError> {
        self.validate()?;
        if self.count > 2 || self.mode == ChannelCountMode::Max {
            return Err(WebAudioError::NotSupported(format!(
                "{node} needs channelCount <= 2 and a mode other than max"
            )));
        }
        Ok(())
    }
}

/// The static shape of a node, read by the schedule compiler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeShape {
    /// Number of inputs.
    pub inputs: usize,
    /// Number of outputs.
    pub outputs: usize,
    /// Whether this node may break a cycle (a DelayNode).
    pub is_delay: bool,
}

/// How many channels a node output carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputChannels {
    /// As many as the node's computed input channel count.
    FollowInput,
    /// A fixed count (an oscillator's 1, a stereo panner's 2).
    Fixed(usize),
}

impl OutputChannels {
    /// The count for a computed input of `input_channels` channels.
    pub fn resolve(self, input_channels: usize) -> usize {
        match self {
            Self::FollowInput => input_channels,
            Self::Fixed(n) => n,
        }
    }
}

/// Whether a processor keeps going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessStatus {
    /// Still running.
    Active,
    /// A scheduled source reached its stop time this quantum: report 'ended' once. The
    /// renderer does not call `process` again; the outputs are one channel of silence from
    /// then on (a source that ended is not "actively processing").
    Ended,
}

impl ProcessStatus {
    /// `Ended` when `ended`, else `Active`.
    pub fn ended_if(ended: bool) -> Self {
        if ended { Self::Ended } else { Self::Active }
    }
}

impl NodeShape {
    /// One input, one output (most effects).
    pub const ONE_TO_ONE: Self = Self {
        inputs: 1,
        outputs: 1,
        is_delay: false,
    };
    /// No input, one output (sources).
    pub const SOURCE: Self = Self {
        inputs: 0,
        outputs: 1,
        is_delay: false,
    };
}

/// The buffers and param values a processor works on for one render quantum.
pub struct ProcessIo<'a, P = NoParams> {
    /// Mixed inputs, each already up/down-mixed to the computed channel count.
    pub inputs: &'a [AudioBus],
    /// Outputs; the processor sets each one's channel count and fills it.
    pub outputs: &'a mut [AudioBus],
    /// Each param's computed values, read by the node's typed param id: 128 values (a-rate)
    /// or 1 (k-rate or constant).
    pub params: Params<'a, P>,
    /// The context's listener this quantum (its defaults when no entity has an
    /// `AudioListener`). Nodes with [`SpatialRole::Panner`] run after the listener, so these
    /// are this quantum's values.
    pub listener: &'a audio_listener::ListenerValues,
}

/// A node's part in spatialization, read by the schedule compiler: the listener's params are
/// computed before any node that reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpatialRole {
    /// Neither.
    #[default]
    None,
    /// The context's `AudioListener` (the first one; later ones are ignored with a warning).
    Listener,
    /// Reads the listener's params (`PannerNode`).
    Panner,
}

/// Per-quantum facts every processor may need.
#[derive(Clone, Copy, Debug)]
pub struct ProcessContext {
    /// Sample rate in Hz.
    pub sample_rate: f32,
    /// The first frame of this quantum, counted from the context's start.
    pub frame: u64,
}

/// How a processor takes part in the schedule this quantum (only a DelayNode in a cycle sees
/// anything but `Whole`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessPhase {
    /// Read inputs and produce outputs.
    Whole,
    /// In a cycle: produce the outputs from state only (before anything else runs).
    CycleRead,
    /// In a cycle: consume the inputs only (after its inputs ran).
    CycleWrite,
}

/// The render-side half of a node. Every method is called on the real-time thread: it must
/// not allocate, free, lock, block or panic.
///
/// A processor names its node's params ([`AudioProcessor::Params`], declared once with
/// [`node_params!`](crate::node_params)) and the message that carries new attributes to it
/// ([`AudioProcessor::Message`]); the renderer holds it as a [`BoxedProcessor`].
pub trait AudioProcessor: Send + 'static {
    /// The node type's params ([`NoParams`] for none).
    type Params: NodeParams;

    /// What the control side sends when attributes change (`()` for nodes without any).
    type Message: Send + 'static;

    /// Renders one quantum.
    fn process(
        &mut self,
        io: ProcessIo<'_, Self::Params>,
        ctx: &ProcessContext,
        phase: ProcessPhase,
    ) -> ProcessStatus;

    /// Asked before this quantum's params are computed, with whether every input is
    /// silent (always `true` for a node without inputs). Return `true` to promise that
    /// [`AudioProcessor::process`] will not read `io.params` this quantum: a source before
    /// its start or after its end, a node whose output is silence when its inputs are and
    /// that has no tail. The renderer then only advances the params' timelines (no values,
    /// no audio-rate param inputs), and `io.params` holds stale values. Default: `false`.
    fn skips_params(&self, _ctx: &ProcessContext, _inputs_silent: bool) -> bool {
        false
    }

    /// A `start(when)` / `stop(when)` call arrived (scheduled sources only).
    fn schedule(&mut self, _event: scheduled::ScheduleEvent) {}

    /// New attributes arrived: take what is needed out of `message` (swap, do not drop);
    /// the message then goes back to the control side to be dropped there.
    fn update(&mut self, _message: &mut Self::Message) {}

    /// A node-specific reading for the inspector, published each quantum while the node is
    /// metered (a buffer source's play position in seconds). Default: none.
    fn readout(&self) -> Option<f32> {
        None
    }
}

/// A processor as the renderer holds it: its params and message types erased. Implemented
/// for every [`AudioProcessor`]; not meant to be implemented by hand.
pub trait ErasedProcessor: Send + 'static {
    /// [`AudioProcessor::process`] over the render node's param values in slot order.
    fn process_erased(
        &mut self,
        io: ErasedIo<'_>,
        ctx: &ProcessContext,
        phase: ProcessPhase,
    ) -> ProcessStatus;

    /// [`AudioProcessor::skips_params`].
    fn skips_params_erased(&self, ctx: &ProcessContext, inputs_silent: bool) -> bool;

    /// [`AudioProcessor::schedule`].
    fn schedule_erased(&mut self, event: scheduled::ScheduleEvent);

    /// [`AudioProcessor::update`], with the message as built by
    /// [`NodeMessage::new`] for this processor type.
    fn update_erased(&mut self, message: &mut NodeMessage) -> Result<(), MessageMismatch>;

    /// [`AudioProcessor::readout`].
    fn readout_erased(&self) -> Option<f32>;
}

/// A processor, boxed on the control side and sent to the render thread.
pub type BoxedProcessor = Box<dyn ErasedProcessor>;

/// [`ProcessIo`] with the params untyped (the renderer's side of [`ErasedProcessor`]).
pub struct ErasedIo<'a> {
    /// Mixed inputs.
    pub inputs: &'a [AudioBus],
    /// Outputs.
    pub outputs: &'a mut [AudioBus],
    /// Each param's computed values, in slot order.
    pub params: &'a [&'a [f32]],
    /// The listener this quantum.
    pub listener: &'a audio_listener::ListenerValues,
}

/// A message whose type is not the one its processor takes (a bug in a host that builds
/// messages by hand; counted by the renderer, never a panic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageMismatch;

impl<T: AudioProcessor> ErasedProcessor for T {
    #[inline]
    fn process_erased(
        &mut self,
        io: ErasedIo<'_>,
        ctx: &ProcessContext,
        phase: ProcessPhase,
    ) -> ProcessStatus {
        let io = ProcessIo {
            inputs: io.inputs,
            outputs: io.outputs,
            params: Params::new(io.params),
            listener: io.listener,
        };
        self.process(io, ctx, phase)
    }

    fn skips_params_erased(&self, ctx: &ProcessContext, inputs_silent: bool) -> bool {
        self.skips_params(ctx, inputs_silent)
    }

    fn schedule_erased(&mut self, event: scheduled::ScheduleEvent) {
        self.schedule(event);
    }

    fn update_erased(&mut self, message: &mut NodeMessage) -> Result<(), MessageMismatch> {
        let message = message
            .0
            .downcast_mut::<T::Message>()
            .ok_or(MessageMismatch)?;
        self.update(message);
        Ok(())
    }

    fn readout_erased(&self) -> Option<f32> {
        self.readout()
    }
}

/// New attributes for a running processor, typed by the processor that takes them: built only
/// from an [`AudioProcessor::Message`] and sent with that processor's node. It comes back as
/// garbage to be dropped on the control side.
pub struct NodeMessage(Box<dyn Any + Send>);

impl NodeMessage {
    /// The message for a processor of type `P`.
    pub fn new<P: AudioProcessor>(message: P::Message) -> Self {
        Self(Box::new(message))
    }
}

impl std::fmt::Debug for NodeMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeMessage")
    }
}

/// The shared body of `getFrequencyResponse` (BiquadFilterNode, IIRFilterNode): the three
/// arrays must have one length (`InvalidAccessError`); frequencies outside `0..=Nyquist` give
/// NaN; elsewhere `response(f / nyquist)` gives `(magnitude, phase)`.
pub fn frequency_response(
    sample_rate: f32,
    frequency_hz: &[f32],
    mag_response: &mut [f32],
    phase_response: &mut [f32],
    response: impl Fn(f64) -> (f64, f64),
) -> Result<(), WebAudioError> {
    if mag_response.len() != frequency_hz.len() || phase_response.len() != frequency_hz.len() {
        return Err(WebAudioError::InvalidAccess(format!(
            "getFrequencyResponse needs arrays of one length, got {}, {} and {}",
            frequency_hz.len(),
            mag_response.len(),
            phase_response.len()
        )));
    }
    let nyquist = f64::from(sample_rate) / 2.0;
    for ((&f, mag), phase) in frequency_hz.iter().zip(mag_response).zip(phase_response) {
        let f = f64::from(f);
        let (m, p) = if (0.0..=nyquist).contains(&f) {
            response(f / nyquist)
        } else {
            (f64::NAN, f64::NAN)
        };
        *mag = m as f32;
        *phase = p as f32;
    }
    Ok(())
}
