//! `ConstantSourceNode`'s render side: its `offset` param and the processor that outputs it
//! between `start` and `stop`.

use super::scheduled::{ScheduleEvent, SourceClock};
use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{ParamDescriptor, ParamId};

node_params! {
    /// `ConstantSourceNode`'s params.
    pub enum ConstantSourceParam {
        /// `offset`: a-rate, default 1, nominal range ±3.4e38.
        Offset = (ParamId::Offset, ParamDescriptor::a_rate(1.0, -ParamDescriptor::MAX, ParamDescriptor::MAX)),
    }
}

/// Outputs `offset` (one channel) while the source plays, silence otherwise.
pub struct ConstantSourceProcessor {
    clock: SourceClock,
    sample_rate: f32,
}

impl ConstantSourceProcessor {
    /// A source not yet started, for a context running at `sample_rate` Hz.
    pub fn new(sample_rate: f32) -> Self {
        Self {
            clock: SourceClock::default(),
            sample_rate,
        }
    }
}

impl AudioProcessor for ConstantSourceProcessor {
    type Params = ConstantSourceParam;
    type Message = ();

    fn process(
        &mut self,
        io: ProcessIo<'_, ConstantSourceParam>,
        ctx: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let (range, ended) = self.clock.active_range(ctx.frame);
        let output = &mut io.outputs[0];
        if range.is_empty() {
            output.make_silent(1);
        } else {
            output.set_channels(1);
            let out = output.channel_mut(0);
            out.fill(0.0);
            let offset = io.params.get(ConstantSourceParam::Offset);
            for i in range {
                out[i] = if let [v] = offset { *v } else { offset[i] };
            }
        }
        ProcessStatus::ended_if(ended)
    }

    fn skips_params(&self, ctx: &ProcessContext, _inputs_silent: bool) -> bool {
        self.clock.is_idle(ctx.frame)
    }

    fn schedule(&mut self, event: ScheduleEvent) {
        self.clock.schedule(event, self.sample_rate);
    }
}
