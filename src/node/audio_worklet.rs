//! Custom processors, this crate's `AudioWorklet`: write a Rust [`AudioWorkletProcessor`],
//! give an [`AudioWorkletNode`] a factory for it and its params, and it runs on the render
//! thread like a built-in node.
//!
//! - **Params** are declared like the spec's `parameterDescriptors` ([`AudioParamDescriptor`]:
//!   name, default, range, automation rate) and are full [`AudioParam`]s on the component:
//!   automation, connections from audio ([`ParamId::Custom`] with the declaration index,
//!   found by name with [`AudioWorkletNode::param_id`]), clamping to the nominal range. The
//!   processor sees each one's values for the quantum as the spec's `parameters` do: one value
//!   when constant over the quantum (or k-rate), else 128.
//! - **Inputs and outputs** follow `AudioWorkletNodeOptions`: `numberOfInputs`,
//!   `numberOfOutputs`, `outputChannelCount`. Without `outputChannelCount`, a node with one
//!   input and one output gets as many output channels as its computed input, others one per
//!   output. Outputs are zeroed before `process` is called.
//! - **Lifetime**: `process` returns the spec's *active source* flag. After `false` the
//!   processor is called again only while an input carries sound (the spec: the node is
//!   actively processing while an input is); otherwise the node outputs one channel of silence
//!   without calling it. Returning `true` again re-arms it.
//! - **Real-time rules**: the factory runs on the control thread (allocate there); `process`
//!   runs on the real-time thread and must not allocate, free, lock, block or panic.
//!
//! The render-side types ([`AudioWorkletProcessor`], [`WorkletScope`], [`WorkletParams`],
//! [`AudioParamDescriptor`], [`WorkletProcessor`], [`WorkletParamId`]) live in
//! `webaudio_engine::node::audio_worklet` and are re-exported here.
//!
//! # Examples
//! ```
//! use bevy::prelude::*;
//! use bevy_webaudio::node::audio_worklet::*;
//! use bevy_webaudio::node::ProcessContext;
//! use bevy_webaudio::prelude::*;
//! use bevy_webaudio::engine::render::bus::AudioBus;
//!
//! /// Multiplies its input by a sine at `frequency` Hz.
//! struct RingModulator { phase: f64 }
//!
//! impl AudioWorkletProcessor for RingModulator {
//!     fn process(&mut self, inputs: &[AudioBus], outputs: &mut [AudioBus], params: &WorkletParams, ctx: &ProcessContext) -> bool {
//!         let (input, output) = (&inputs[0], &mut outputs[0]);
//!         for i in 0..128 {
//!             let carrier = (std::f64::consts::TAU * self.phase).sin() as f32;
//!             self.phase = (self.phase + f64::from(params.at(0, i)) / f64::from(ctx.sample_rate)).fract();
//!             for (out, inp) in output.channels_mut().iter_mut().zip(input.channels_slice()) {
//!                 out[i] = inp[i] * carrier;
//!             }
//!         }
//!         true
//!     }
//! }
//!
//! fn setup(mut commands: Commands, ctx: Res<AudioContext>) -> Result {
//!     let node = AudioWorkletNode::builder("ring-modulator", |_: &WorkletScope| RingModulator { phase: 0.0 })
//!         .param(AudioParamDescriptor::new("frequency").default_value(30.0).range(0.0, 20_000.0))
//!         .build()?;
//!     commands.spawn(node).connect(ctx.destination());
//!     Ok(())
//! }
//! # let node = AudioWorkletNode::builder("x", |_: &WorkletScope| RingModulator { phase: 0.0 })
//! #     .param(AudioParamDescriptor::new("frequency")).build().unwrap();
//! # assert_eq!(node.param_id("frequency"), Some(ParamId::Custom(0)));
//! ```

use std::sync::Arc;
use webaudio_engine::param::ParamDescriptor;

use bevy::prelude::*;

use webaudio_engine::node::ProcessContext;
pub use webaudio_engine::node::audio_worklet::{
    AudioParamDescriptor, AudioWorkletProcessor, WorkletParamId, WorkletParams, WorkletProcessor,
    WorkletScope,
};
use webaudio_engine::param::{NodeParams, ParamId};
use webaudio_engine::render::MAX_PARAMS;
use webaudio_engine::render::bus::{AudioBus, MAX_CHANNELS};

use super::{AudioNode, BuildContext, ChannelConfig, NodeShape, OutputChannels};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// One declared param of an [`AudioWorkletNode`].
#[derive(Clone, Debug, Reflect)]
pub struct WorkletParam {
    /// Its name.
    pub name: String,
    /// The param.
    pub param: AudioParam,
}

/// Builds a node's processor on the control thread.
pub type ProcessorFactory =
    Arc<dyn Fn(&WorkletScope) -> Box<dyn AudioWorkletProcessor> + Send + Sync>;

/// The factory, wrapped so the component can derive `Reflect` (ignored) and `Debug`.
#[derive(Clone)]
struct Factory(ProcessorFactory);

impl Default for Factory {
    /// A processor that outputs silence and is inactive.
    fn default() -> Self {
        Self(Arc::new(|_: &WorkletScope| Box::new(Silence)))
    }
}

impl std::fmt::Debug for Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessorFactory")
    }
}

struct Silence;

impl AudioWorkletProcessor for Silence {
    fn process(
        &mut self,
        _: &[AudioBus],
        _: &mut [AudioBus],
        _: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        false
    }
}

/// The spec's `AudioWorkletNode`: a node whose processing is an [`AudioWorkletProcessor`].
/// Build one with [`AudioWorkletNode::builder`] (see the [module docs](self) for an
/// example). Cloning shares the factory: each spawned clone gets its own processor.
#[derive(Component, Clone, Debug, Default, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct AudioWorkletNode {
    name: String,
    number_of_inputs: usize,
    number_of_outputs: usize,
    output_channel_count: Option<Vec<usize>>,
    params: Vec<WorkletParam>,
    #[reflect(ignore)]
    factory: Factory,
}

/// Builds an [`AudioWorkletNode`] with the spec's `AudioWorkletNodeOptions` checks.
pub struct AudioWorkletNodeBuilder {
    node: AudioWorkletNode,
    descriptors: Vec<AudioParamDescriptor>,
    values: Vec<(String, f32)>,
}

impl AudioWorkletNode {
    /// A builder for a node named `name` whose processors `factory` makes (one input, one
    /// output, no params until declared).
    pub fn builder<P, F>(name: impl Into<String>, factory: F) -> AudioWorkletNodeBuilder
    where
        P: AudioWorkletProcessor,
        F: Fn(&WorkletScope) -> P + Send + Sync + 'static,
    {
        let factory: ProcessorFactory = Arc::new(move |scope: &WorkletScope| {
            Box::new(factory(scope)) as Box<dyn AudioWorkletProcessor>
        });
        AudioWorkletNodeBuilder {
            node: AudioWorkletNode {
                name: name.into(),
                number_of_inputs: 1,
                number_of_outputs: 1,
                output_channel_count: None,
                params: Vec::new(),
                factory: Factory(factory),
            },
            descriptors: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The name the node was built with (the spec's processor name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `numberOfInputs`.
    pub fn number_of_inputs(&self) -> usize {
        self.number_of_inputs
    }

    /// `numberOfOutputs`.
    pub fn number_of_outputs(&self) -> usize {
        self.number_of_outputs
    }

    /// The declared params (the spec's `parameters` map), in declaration order.
    pub fn parameters(&self) -> impl Iterator<Item = (&str, &AudioParam)> {
        self.params.iter().map(|p| (p.name.as_str(), &p.param))
    }

    /// `parameters.get(name)`.
    pub fn param(&self, name: &str) -> Option<&AudioParam> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.param)
    }

    /// `parameters.get(name)`, to automate it.
    pub fn param_mut(&mut self, name: &str) -> Option<&mut AudioParam> {
        self.params
            .iter_mut()
            .find(|p| p.name == name)
            .map(|p| &mut p.param)
    }

    /// The id that connects audio into param `name` (`ParamId::Custom(index)`).
    pub fn param_id(&self, name: &str) -> Option<ParamId> {
        self.params
            .iter()
            .position(|p| p.name == name)
            .map(|i| ParamId::Custom(i as u8))
    }
}

impl AudioWorkletNodeBuilder {
    /// `numberOfInputs` (default 1).
    pub fn inputs(mut self, n: usize) -> Self {
        self.node.number_of_inputs = n;
        self
    }

    /// `numberOfOutputs` (default 1).
    pub fn outputs(mut self, n: usize) -> Self {
        self.node.number_of_outputs = n;
        self
    }

    /// `outputChannelCount`: one count per output.
    pub fn output_channel_count(mut self, counts: Vec<usize>) -> Self {
        self.node.output_channel_count = Some(counts);
        self
    }

    /// Declares a param (the processor's `parameterDescriptors`, in order).
    pub fn param(mut self, descriptor: AudioParamDescriptor) -> Self {
        self.descriptors.push(descriptor);
        self
    }

    /// An initial value for a declared param (`parameterData`).
    pub fn param_value(mut self, name: impl Into<String>, value: f32) -> Self {
        self.values.push((name.into(), value));
        self
    }

    /// The node.
    ///
    /// # Errors
    /// `NotSupportedError` when both input and output counts are 0, an `outputChannelCount`
    /// is 0 or above 32, a param name repeats, or more than 16 params are declared;
    /// `IndexSizeError` when `outputChannelCount`'s length is not `numberOfOutputs` (or a
    /// count exceeds 32 inputs/outputs); `InvalidStateError` when a default lies outside its
    /// range; `RangeError` for a non-finite `defaultValue`, `minValue` or `maxValue` (the
    /// spec's WebIDL `TypeError`) or `param_value`; `NotSupportedError` for `param_value` of an
    /// undeclared name.
    pub fn build(self) -> Result<AudioWorkletNode, WebAudioError> {
        let mut node = self.node;
        if node.number_of_inputs == 0 && node.number_of_outputs == 0 {
            return Err(WebAudioError::NotSupported(
                "numberOfInputs and numberOfOutputs cannot both be 0".into(),
            ));
        }
        if node.number_of_inputs > MAX_CHANNELS || node.number_of_outputs > MAX_CHANNELS {
            return Err(WebAudioError::IndexSize(
                "an AudioWorkletNode has at most 32 inputs and 32 outputs".into(),
            ));
        }
        if let Some(counts) = &node.output_channel_count {
            if counts.iter().any(|&c| c == 0 || c > MAX_CHANNELS) {
                return Err(WebAudioError::NotSupported(format!(
                    "outputChannelCount values must be 1..=32, got {counts:?}"
                )));
            }
            if counts.len() != node.number_of_outputs {
                return Err(WebAudioError::IndexSize(format!(
                    "outputChannelCount has {} values for {} outputs",
                    counts.len(),
                    node.number_of_outputs
                )));
            }
        }
        if self.descriptors.len() > MAX_PARAMS {
            return Err(WebAudioError::NotSupported(format!(
                "at most {MAX_PARAMS} params per AudioWorkletNode, got {}",
                self.descriptors.len()
            )));
        }
        for (i, d) in self.descriptors.iter().enumerate() {
            if self.descriptors[..i].iter().any(|e| e.name == d.name) {
                return Err(WebAudioError::NotSupported(format!(
                    "param name {:?} is declared twice",
                    d.name
                )));
            }
            if let Some(v) = [d.default_value, d.min_value, d.max_value]
                .into_iter()
                .find(|v| !v.is_finite())
            {
                return Err(WebAudioError::Range(format!(
                    "param {:?}: defaultValue, minValue and maxValue must be finite, got {v}",
                    d.name
                )));
            }
            if !(d.min_value <= d.default_value && d.default_value <= d.max_value) {
                return Err(WebAudioError::InvalidState(format!(
                    "param {:?}: defaultValue {} is outside [{}, {}]",
                    d.name, d.default_value, d.min_value, d.max_value
                )));
            }
            node.params.push(WorkletParam {
                name: d.name.clone(),
                param: AudioParam::new(d.descriptor()),
            });
        }
        for (name, value) in self.values {
            let param = node.param_mut(&name).ok_or_else(|| {
                WebAudioError::NotSupported(format!("parameterData names no param {name:?}"))
            })?;
            param.set_value(value)?;
            // The initial value is the param's intrinsic value, not an event.
            *param = AudioParam::with_value(param.descriptor(), value);
        }
        Ok(node)
    }
}

impl AudioNode for AudioWorkletNode {
    type Processor = WorkletProcessor;
    type Attributes = ();
    const NAME: &'static str = "AudioWorkletNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: self.number_of_inputs,
            outputs: self.number_of_outputs,
            is_delay: false,
        }
    }

    /// The declared param `param` (one of [`AudioNode::params`]: an undeclared index
    /// panics).
    fn param_mut(&mut self, param: WorkletParamId) -> &mut AudioParam {
        &mut self.params[param.index()].param
    }

    /// Declared at run time: the param keeps the descriptor its builder gave it.
    fn param_descriptor(&self, param: WorkletParamId) -> ParamDescriptor {
        self.params[param.index()].param.descriptor()
    }

    /// The declared params only: the first `n` of [`WorkletParamId`]'s slots.
    fn params(&self) -> &[WorkletParamId] {
        &WorkletParamId::ALL[..self.params.len().min(MAX_PARAMS)]
    }

    fn attributes(&self) {}

    fn build_processor(&self, ctx: &mut BuildContext) -> WorkletProcessor {
        let scope = WorkletScope {
            sample_rate: ctx.sample_rate,
            number_of_inputs: self.number_of_inputs,
            number_of_outputs: self.number_of_outputs,
        };
        WorkletProcessor::new(
            (self.factory.0)(&scope),
            self.number_of_inputs,
            self.number_of_outputs,
            self.output_channel_count.as_deref(),
        )
    }

    fn output_channels(&self, index: usize) -> OutputChannels {
        match &self.output_channel_count {
            Some(counts) => OutputChannels::Fixed(counts.get(index).copied().unwrap_or(1)),
            None if self.number_of_inputs == 1 && self.number_of_outputs == 1 => {
                OutputChannels::FollowInput
            }
            None => OutputChannels::Fixed(1),
        }
    }
}
