//! `GainNode`'s render side: its `gain` param and the processor that multiplies the input by it.

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{ParamDescriptor, ParamId};

node_params! {
    /// `GainNode`'s params.
    pub enum GainParam {
        /// `gain`: a-rate, default 1, nominal range ±3.4e38.
        Gain = (ParamId::Gain, ParamDescriptor::a_rate(1.0, -ParamDescriptor::MAX, ParamDescriptor::MAX)),
    }
}

/// Output = input × `gain`.
pub struct GainProcessor;

impl GainProcessor {
    /// A gain processor (it has no state).
    pub fn new() -> Self {
        Self
    }
}

impl Default for GainProcessor {
    fn default() -> Self {
        Self::new()
    }
}

impl AudioProcessor for GainProcessor {
    type Params = GainParam;
    type Message = ();

    fn skips_params(&self, _: &ProcessContext, inputs_silent: bool) -> bool {
        // A silent input gives a silent output without reading the param.
        inputs_silent
    }

    fn process(
        &mut self,
        io: ProcessIo<'_, GainParam>,
        _: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let input = &io.inputs[0];
        let output = &mut io.outputs[0];
        let gain = io.params.get(GainParam::Gain);
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
