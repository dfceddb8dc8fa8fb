//! `AudioWorkletNode`'s render side: the [`AudioWorkletProcessor`] trait that custom
//! processors implement, what their factory and `process` see ([`WorkletScope`],
//! [`WorkletParams`]), the spec's [`AudioParamDescriptor`], the run-time declared params'
//! typed id ([`WorkletParamId`]) and [`WorkletProcessor`], which runs a user processor under
//! the spec's rules.
//!
//! - **Params** are declared at run time, in order: param `i` has the id
//!   [`ParamId::Custom(i)`](ParamId::Custom) and the render slot `i`. The processor sees each
//!   one's values for the quantum as the spec's `parameters` do: one value when constant over
//!   the quantum (or k-rate), else 128.
//! - **Outputs** are zeroed before `process` is called, with the channel count set by
//!   `outputChannelCount` (or following the computed input for one input and one output).
//! - **Lifetime**: `process` returns the spec's *active source* flag. After `false` the
//!   processor is called again only while an input carries sound (the spec: the node is
//!   actively processing while an input is); otherwise the node outputs one channel of silence
//!   without calling it. Returning `true` again re-arms it.
//! - **Real-time rules**: the factory runs on the control thread (allocate there); `process`
//!   runs on the real-time thread and must not allocate, free, lock, block or panic.

use serde::{Deserialize, Serialize};

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::{AutomationRate, NodeParams, ParamDescriptor, ParamId, ParamSlot, Params};
use crate::render::MAX_PARAMS;
use crate::render::bus::{AudioBus, MAX_CHANNELS};

/// A custom processor: the render-side half of an `AudioWorkletNode`.
pub trait AudioWorkletProcessor: Send + 'static {
    /// Renders one quantum (the spec's `process(inputs, outputs, parameters)`). Called on the
    /// real-time thread: must not allocate, free, lock, block or panic.
    ///
    /// `inputs` are mixed to each input's computed channel count (`is_silent()` tells when
    /// nothing audible is connected); `outputs` have their channel count set and are zeroed;
    /// `params` holds the declared params' values in declaration order. Returns the *active
    /// source* flag: `true` to keep being called without input (a source, a tail), `false` to
    /// be called only while an input carries sound.
    fn process(
        &mut self,
        inputs: &[AudioBus],
        outputs: &mut [AudioBus],
        params: &WorkletParams<'_>,
        ctx: &ProcessContext,
    ) -> bool;
}

/// What a processor factory knows when it builds a processor (on the control thread).
#[derive(Clone, Copy, Debug)]
pub struct WorkletScope {
    /// The context's sample rate (the spec's `AudioWorkletGlobalScope.sampleRate`).
    pub sample_rate: f32,
    /// Number of inputs.
    pub number_of_inputs: usize,
    /// Number of outputs.
    pub number_of_outputs: usize,
}

/// The typed id of an `AudioWorkletNode`'s param: its declaration index (its render slot).
/// The type covers all [`MAX_PARAMS`] possible slots; a node has only the ones it declared
/// (its `params()`), each named `ParamId::Custom(index)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkletParamId(ParamSlot);

impl WorkletParamId {
    /// The param declared at `index` (panics at or above [`MAX_PARAMS`]; declarations are
    /// checked against that bound when the node is built).
    pub const fn declared(index: usize) -> Self {
        Self(ParamSlot::declared(index))
    }

    /// Its declaration index.
    pub const fn index(self) -> usize {
        self.0.index()
    }
}

/// Every possible slot, in order.
const ALL_SLOTS: [WorkletParamId; MAX_PARAMS] = {
    let mut all = [WorkletParamId::declared(0); MAX_PARAMS];
    let mut i = 0;
    while i < MAX_PARAMS {
        all[i] = WorkletParamId::declared(i);
        i += 1;
    }
    all
};

impl NodeParams for WorkletParamId {
    /// All [`MAX_PARAMS`] possible slots (a node declares a prefix of them).
    const ALL: &'static [Self] = &ALL_SLOTS;

    fn id(self) -> ParamId {
        ParamId::Custom(self.index() as u8)
    }

    /// The type's placeholder (a-rate, default 0, unbounded): a worklet param's real
    /// descriptor is declared at run time ([`AudioParamDescriptor`]) and lives on the node's
    /// param.
    fn descriptor(self) -> ParamDescriptor {
        ParamDescriptor::a_rate(0.0, -ParamDescriptor::MAX, ParamDescriptor::MAX)
    }

    fn slot(self) -> ParamSlot {
        self.0
    }
}

/// The declared params' values for one quantum, in declaration order.
#[derive(Clone, Copy)]
pub struct WorkletParams<'a> {
    params: Params<'a, WorkletParamId>,
}

impl std::fmt::Debug for WorkletParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkletParams")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<'a> WorkletParams<'a> {
    /// Wraps a quantum's computed values (one slice per declared param, in order).
    pub fn new(params: Params<'a, WorkletParamId>) -> Self {
        Self { params }
    }

    /// Param `index`'s values: one (constant over the quantum, or k-rate) or 128. Empty for
    /// an index that was not declared.
    pub fn get(&self, index: usize) -> &'a [f32] {
        if index < self.params.len() {
            self.params.get(WorkletParamId::declared(index))
        } else {
            &[]
        }
    }

    /// Param `index`'s value at frame `i` of the quantum (0 for an undeclared index).
    #[inline]
    pub fn at(&self, index: usize, i: usize) -> f32 {
        let v = self.get(index);
        v.get(i).or_else(|| v.first()).copied().unwrap_or(0.0)
    }

    /// Number of params.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are no params.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

/// The spec's `AudioParamDescriptor`: a custom param's name, default, nominal range and
/// automation rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct AudioParamDescriptor {
    /// `name`.
    pub name: String,
    /// `defaultValue` (0).
    pub default_value: f32,
    /// `minValue` (the most negative `f32`).
    pub min_value: f32,
    /// `maxValue` (the largest `f32`).
    pub max_value: f32,
    /// `automationRate` (a-rate).
    pub automation_rate: AutomationRate,
}

impl AudioParamDescriptor {
    /// A descriptor with the spec's defaults.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            default_value: 0.0,
            min_value: -ParamDescriptor::MAX,
            max_value: ParamDescriptor::MAX,
            automation_rate: AutomationRate::ARate,
        }
    }

    /// With `defaultValue`.
    pub fn default_value(mut self, value: f32) -> Self {
        self.default_value = value;
        self
    }

    /// With `minValue` and `maxValue`.
    pub fn range(mut self, min: f32, max: f32) -> Self {
        self.min_value = min;
        self.max_value = max;
        self
    }

    /// With `automationRate`.
    pub fn automation_rate(mut self, rate: AutomationRate) -> Self {
        self.automation_rate = rate;
        self
    }

    /// The param's [`ParamDescriptor`] (default, nominal range and rate; not validated).
    pub fn descriptor(&self) -> ParamDescriptor {
        let d = ParamDescriptor::a_rate(self.default_value, self.min_value, self.max_value);
        ParamDescriptor {
            rate: self.automation_rate,
            ..d
        }
    }
}

/// The render-side half of an `AudioWorkletNode`: runs a user processor under the spec's
/// rules. Every method but `new` is called on the real-time thread.
pub struct WorkletProcessor {
    processor: Box<dyn AudioWorkletProcessor>,
    /// The spec's *active source* flag (the last `process` result).
    active_source: bool,
    /// One input and one output without `outputChannelCount`: the output follows the input.
    follow_input: bool,
    /// Each output's channel count otherwise.
    channels: [usize; MAX_CHANNELS],
}

impl WorkletProcessor {
    /// Wraps `processor` for a node with `number_of_inputs` inputs, `number_of_outputs`
    /// outputs and the spec's `outputChannelCount` (control side). Without
    /// `output_channel_count`, a node with one input and one output gets as many output
    /// channels as its computed input, others one per output.
    pub fn new(
        processor: Box<dyn AudioWorkletProcessor>,
        number_of_inputs: usize,
        number_of_outputs: usize,
        output_channel_count: Option<&[usize]>,
    ) -> Self {
        let follow_input =
            output_channel_count.is_none() && number_of_inputs == 1 && number_of_outputs == 1;
        let mut channels = [1usize; MAX_CHANNELS];
        if let Some(counts) = output_channel_count {
            for (c, &n) in channels.iter_mut().zip(counts) {
                *c = n;
            }
        }
        Self {
            processor,
            active_source: true,
            follow_input,
            channels,
        }
    }
}

impl AudioProcessor for WorkletProcessor {
    type Params = WorkletParamId;
    type Message = ();

    fn process(
        &mut self,
        io: ProcessIo<'_, WorkletParamId>,
        ctx: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let audible_input = io.inputs.iter().any(|i| !i.is_silent());
        if !self.active_source && !audible_input {
            for output in io.outputs.iter_mut() {
                output.make_silent(1);
            }
            return ProcessStatus::Active;
        }
        for (k, output) in io.outputs.iter_mut().enumerate() {
            let channels = if self.follow_input {
                io.inputs.first().map_or(1, AudioBus::channels)
            } else {
                self.channels.get(k).copied().unwrap_or(1)
            };
            output.make_silent(channels);
        }
        let params = WorkletParams::new(io.params);
        self.active_source = self.processor.process(io.inputs, io.outputs, &params, ctx);
        ProcessStatus::Active
    }
}
