//! The node components: the [`AudioNode`] trait, the [`ChannelConfig`] component, and one
//! file per Web Audio node type.
//!
//! A node is two halves:
//! - its **component** (here, in the ECS): plain data with the spec's attributes and
//!   [`AudioParam`]s, implementing [`AudioNode`];
//! - its **processor** (in `webaudio_engine::node::<same name>`, with the node's param
//!   declarations): built from the component on the control thread by
//!   [`AudioNode::build_processor`], boxed, and sent to the render thread.
//!
//! Both halves name params by the node's one typed id ([`ParamsOf`]), declared once in the
//! engine with `webaudio_engine::node_params!`.

use bevy::prelude::*;

use crate::error::WebAudioError;
use crate::param::AudioParam;

pub use webaudio_engine::node::{
    AudioProcessor, ChannelCountMode, ChannelInterpretation, NodeShape, OutputChannels,
    ProcessContext, SpatialRole,
};
use webaudio_engine::param::NodeParams;

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
pub mod scheduled;
pub mod stereo_panner;
pub mod wave_shaper;

pub use webaudio_engine::node::periodic_wave;

/// A node's `channelCount`, `channelCountMode` and `channelInterpretation`, as a component on
/// the node's entity. Each node type requires it with the spec's default; changing it rebuilds
/// the render schedule. It derefs to the engine's plain
/// [`ChannelConfig`](webaudio_engine::node::ChannelConfig) (fields `count`, `mode`,
/// `interpretation`).
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq, Reflect, Deref, DerefMut)]
#[reflect(Component)]
pub struct ChannelConfig(pub webaudio_engine::node::ChannelConfig);

impl ChannelConfig {
    /// A configuration (not validated; see [`AudioNode::validate_channels`]).
    pub const fn new(
        count: usize,
        mode: ChannelCountMode,
        interpretation: ChannelInterpretation,
    ) -> Self {
        Self(webaudio_engine::node::ChannelConfig::new(
            count,
            mode,
            interpretation,
        ))
    }
}

/// A context sample rate given to a node method (`getFrequencyResponse`): finite and
/// positive, or the spec's `NotSupportedError` for an unsupported rate (a rate of 0 would
/// make every response NaN).
pub(crate) fn check_context_rate(sample_rate: f32) -> Result<(), WebAudioError> {
    if sample_rate.is_finite() && sample_rate > 0.0 {
        Ok(())
    } else {
        Err(WebAudioError::NotSupported(format!(
            "sample rate must be finite and positive, got {sample_rate}"
        )))
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
    pub wavetables: &'a mut webaudio_engine::node::oscillator::WaveTableCache,
    /// Loaded audio buffers, to resolve a node's `Handle<AudioBuffer>`.
    pub buffers: Option<&'a Assets<crate::asset::AudioBuffer>>,
}

/// The typed param id of node type `T` (declared once in the engine, next to its processor).
pub type ParamsOf<T> = <<T as AudioNode>::Processor as AudioProcessor>::Params;

/// The message type that carries node type `T`'s new attributes to its processor.
pub type MessageOf<T> = <<T as AudioNode>::Processor as AudioProcessor>::Message;

/// The control-side half of a node: a component with the spec's attributes and params.
pub trait AudioNode: Component<Mutability = bevy::ecs::component::Mutable> + Clone {
    /// The render-side half (in the engine); its `Params` are this node's typed param ids.
    type Processor: AudioProcessor;

    /// Attributes that are not params; when they change, [`AudioNode::attributes_message`]
    /// tells the running processor (an oscillator's `type`, a periodic wave). `()` for nodes
    /// without any.
    type Attributes: PartialEq + Clone + Send + Sync + 'static;

    /// The Web Audio interface name, for messages and the inspector.
    const NAME: &'static str;

    /// Whether this node is the listener or reads it (see [`SpatialRole`]).
    const SPATIAL: SpatialRole = SpatialRole::None;

    /// Inputs, outputs and whether it is a delay.
    fn shape(&self) -> NodeShape;

    /// The `AudioParam` field of `param`.
    fn param_mut(&mut self, param: ParamsOf<Self>) -> &mut AudioParam;

    /// The param named `id` (the serializable name on edges and in scenes, resolved once to
    /// the typed id), if this node has it.
    fn param_by_id(&mut self, id: webaudio_engine::param::ParamId) -> Option<&mut AudioParam> {
        let param = self.params().iter().copied().find(|p| p.id() == id)?;
        Some(self.param_mut(param))
    }

    /// The params this node has: every one its type declares, unless the node declares its
    /// params at run time (an `AudioWorkletNode`).
    fn params(&self) -> &[ParamsOf<Self>] {
        <ParamsOf<Self> as NodeParams>::ALL
    }

    /// `param`'s descriptor on this node: its declaration's, unless a node setting changes it
    /// (a `DelayNode`'s `maxDelayTime` bounds `delayTime`). Restores the descriptors of a
    /// component rebuilt through reflection (a scene), which does not carry them.
    fn param_descriptor(&self, param: ParamsOf<Self>) -> webaudio_engine::param::ParamDescriptor {
        param.descriptor()
    }

    /// The current attributes.
    fn attributes(&self) -> Self::Attributes;

    /// Builds the processor (on the control thread: may allocate).
    fn build_processor(&self, ctx: &mut BuildContext) -> Self::Processor;

    /// Builds the message that tells a running processor about new attributes.
    fn attributes_message(&self, _ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        None
    }

    /// How many channels output `index` carries (the schedule sizes buffers with it).
    /// Default: as many as the computed input.
    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::FollowInput
    }

    /// Checks a channel configuration against this node's constraints, seeing the node's own
    /// settings (the generic 1..=32 rule unless the spec adds more).
    ///
    /// # Errors
    /// `NotSupportedError` (or `InvalidStateError`) as the node's spec section says.
    fn validate_channels(&self, config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate()
    }

    /// The scheduled-source state, for nodes that have `start`/`stop`.
    fn scheduled(&mut self) -> Option<&mut scheduled::ScheduledSource> {
        None
    }

    /// Installs anything else this node type needs (systems in the
    /// [`WebAudioSync`](crate::WebAudioSync) schedule's
    /// [`WebAudioSystems::WriteNodes`](crate::WebAudioSystems::WriteNodes), resources), once,
    /// from [`add_audio_node`](crate::AudioNodeAppExt::add_audio_node). Default: nothing.
    fn register(_app: &mut App) {}
}

/// Builds `node`'s render half: its processor and its params' starting states (in slot
/// order, with room for `capacity` timeline events each), and marks the params' values sent.
/// The plugin's sync adds every node this way; a host that drives a
/// [`Renderer`](webaudio_engine::render::Renderer) itself (a test, a tool) can too.
pub fn build_render_node<T: AudioNode>(
    node: &mut T,
    ctx: &mut BuildContext,
    capacity: usize,
) -> Box<webaudio_engine::render::RenderNode> {
    for param in node.params().to_vec() {
        let descriptor = node.param_descriptor(param);
        node.param_mut(param).adopt_declaration(descriptor);
    }
    let processor = node.build_processor(ctx);
    let mut inits = Vec::new();
    for (position, param) in node.params().to_vec().into_iter().enumerate() {
        // A render node holds its params' states in slot order.
        debug_assert_eq!(
            param.slot().index(),
            position,
            "{} params out of slot order",
            T::NAME
        );
        let p = node.param_mut(param);
        inits.push(p.render_init());
        p.mark_sent();
    }
    webaudio_engine::render::RenderNode::build(processor, ctx.sample_rate, inits, capacity)
}
