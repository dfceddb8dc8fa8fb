//! `GainNode`: multiplies its input by the a-rate `gain` param.

use bevy::prelude::*;

use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, NodeShape, ProcessContext, ProcessIo,
    ProcessPhase, ProcessStatus,
};
use crate::param::{AudioParam, ParamDescriptor, ParamId};

/// The spec's `GainNode`: output = input × `gain` (a-rate, default 1).
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let quiet = GainNode::new(0.25);
/// assert_eq!(quiet.gain.value(), 0.25);
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct GainNode {
    /// `gain`: a-rate, default 1, nominal range ±3.4e38.
    pub gain: AudioParam,
}

const GAIN: ParamDescriptor =
    ParamDescriptor::a_rate(1.0, -ParamDescriptor::MAX, ParamDescriptor::MAX);

impl Default for GainNode {
    fn default() -> Self {
        Self {
            gain: AudioParam::new(GAIN),
        }
    }
}

impl GainNode {
    /// A gain node with `GainOptions { gain }`.
    pub fn new(gain: f32) -> Self {
        Self {
            gain: AudioParam::with_value(GAIN, gain),
        }
    }
}

impl AudioNode for GainNode {
    type Attributes = ();
    const NAME: &'static str = "GainNode";

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn for_each_param(&mut self, f: &mut dyn FnMut(ParamId, &mut AudioParam)) {
        f(ParamId::Gain, &mut self.gain);
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(GainProcessor)
    }
}

struct GainProcessor;

impl AudioProcessor for GainProcessor {
    fn skips_params(&self, _: &ProcessContext, inputs_silent: bool) -> bool {
        // A silent input gives a silent output without reading the param.
        inputs_silent
    }

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let input = &io.inputs[0];
        let output = &mut io.outputs[0];
        let gain = io.params[0];
        if input.is_silent() || (gain.len() == 1 && gain[0] == 0.0) {
            output.make_silent(input.channels());
            return ProcessStatus::Active;
        }
        output.set_channels(input.channels());
        for (out, inp) in output.channels_mut().iter_mut().zip(input.channels_slice()) {
            if let [g] = gain {
                for (o, i) in out.iter_mut().zip(inp) {
                    *o = i * g;
                }
            } else {
                for ((o, i), g) in out.iter_mut().zip(inp).zip(gain) {
                    *o = i * g;
                }
            }
        }
        ProcessStatus::Active
    }
}
