//! The node traits, and one file per Web Audio node type.
//!
//! A node is two halves (ARCHITECTURE.md, decision 1):
//! - its **component** (public, in the ECS): plain data with the spec's attributes and
//!   [`AudioParam`](crate::param::AudioParam)s, implementing [`AudioNode`];
//! - its **processor** (private, on the render thread): built from the component on the
//!   control thread by [`AudioNode::build_processor`], boxed, and sent over; it implements
//!   [`AudioProcessor`].

use std::any::Any;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::WebAudioError;
use crate::param::{AudioParam, ParamId};
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
pub(crate) mod wavetable;

/// How a node's input channel count is computed from its connections (spec: `channelCountMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Reflect, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Reflect, Serialize, Deserialize)]
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
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Reflect, Serialize, Deserialize)]
#[reflect(Component)]
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

/// What a node needs to know to build its processor (on the control thread).
pub struct BuildContext<'a> {
    /// The context's sample rate in Hz.
    pub sample_rate: f32,
    /// The most channels the node's input is expected to carry (state such as a delay line is
    /// sized for it).
    pub max_channels: usize,
    /// Shared band-limited tables of the built-in oscillator types.
    pub wavetables: &'a mut oscillator::WaveTableCache,
    /// Loaded audio buffers, to resolve a node's `Handle<AudioBuffer>`.
    pub buffers: Option<&'a Assets<crate::asset::AudioBuffer>>,
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

/// The control-side half of a node: a component with the spec's attributes and params.
pub trait AudioNode: Component<Mutability = bevy::ecs::component::Mutable> + Clone {
    /// Attributes that are not params and are sent to the processor when they change
    /// (an oscillator's `type`, a periodic wave). `()` for nodes without any.
    type Attributes: PartialEq + Clone + Send + Sync + 'static;

    /// The Web Audio interface name, for messages and the inspector.
    const NAME: &'static str;

    /// Whether this node is the listener or reads it (see [`SpatialRole`]).
    const SPATIAL: SpatialRole = SpatialRole::None;

    /// Inputs, outputs and whether it is a delay.
    fn shape(&self) -> NodeShape;

    /// Visits every param with its id, in a fixed order (the render side's param index).
    fn for_each_param(&mut self, f: &mut dyn FnMut(ParamId, &mut AudioParam));

    /// The current attributes.
    fn attributes(&self) -> Self::Attributes;

    /// Builds the processor (on the control thread: may allocate).
    fn build_processor(&self, ctx: &mut BuildContext) -> Box<dyn AudioProcessor>;

    /// Builds the message that tells a running processor about new attributes.
    fn attributes_message(&self, _ctx: &mut BuildContext) -> Option<NodeMessage> {
        None
    }

    /// How many channels output `index` carries (the schedule sizes buffers with it).
    /// Default: as many as the computed input.
    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::FollowInput
    }

    /// Checks a channel configuration against this node's constraints (the generic 1..=32
    /// rule unless the spec adds more).
    ///
    /// # Errors
    /// `NotSupportedError` (or `InvalidStateError`) as the node's spec section says.
    fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate()
    }

    /// The scheduled-source state, for nodes that have `start`/`stop`.
    fn scheduled(&mut self) -> Option<&mut scheduled::ScheduledSource> {
        None
    }
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

/// Data for a running processor (new attributes); it comes back as garbage to be dropped on
/// the control side.
pub type NodeMessage = Box<dyn Any + Send>;

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
pub struct ProcessIo<'a> {
    /// Mixed inputs, each already up/down-mixed to the computed channel count.
    pub inputs: &'a [AudioBus],
    /// Outputs; the processor sets each one's channel count and fills it.
    pub outputs: &'a mut [AudioBus],
    /// Each param's computed values: 128 values (a-rate) or 1 (k-rate or constant).
    pub params: &'a [&'a [f32]],
    /// The context's listener this quantum (its defaults when no entity has an
    /// [`AudioListener`](audio_listener::AudioListener)). Nodes with
    /// [`SpatialRole::Panner`] run after the listener, so these are this quantum's values.
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
pub trait AudioProcessor: Send + 'static {
    /// Renders one quantum.
    fn process(
        &mut self,
        io: ProcessIo<'_>,
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
    /// the message box then goes back to the control side.
    fn update(&mut self, _message: &mut NodeMessage) {}

    /// A node-specific reading for the inspector, published each quantum while the node is
    /// [`Metered`](crate::ecs::meter::Metered) (a buffer source's play position in seconds).
    /// Default: none.
    fn readout(&self) -> Option<f32> {
        None
    }
}

/// The shared body of `getFrequencyResponse` (BiquadFilterNode, IIRFilterNode): the three
/// arrays must have one length (`InvalidAccessError`); frequencies outside `0..=Nyquist` give
/// NaN; elsewhere `response(f / nyquist)` gives `(magnitude, phase)`.
pub(crate) fn frequency_response(
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
