//! `ConstantSourceNode`: a scheduled source whose output is its a-rate `offset` param.

use bevy::prelude::*;

use super::scheduled::{AudioScheduledSourceNode, ScheduleEvent, ScheduledSource, SourceClock};
use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, NodeShape, OutputChannels,
    ProcessContext, ProcessIo, ProcessPhase, ProcessStatus,
};
use crate::param::{AudioParam, ParamDescriptor, ParamId};

/// The spec's `ConstantSourceNode`: outputs `offset` (a-rate, default 1) between `start` and
/// `stop`, one channel.
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct ConstantSourceNode {
    /// `offset`: a-rate, default 1.
    pub offset: AudioParam,
    /// start/stop state.
    pub source: ScheduledSource,
}

const OFFSET: ParamDescriptor =
    ParamDescriptor::a_rate(1.0, -ParamDescriptor::MAX, ParamDescriptor::MAX);

impl Default for ConstantSourceNode {
    fn default() -> Self {
        Self::new(1.0)
    }
}

impl ConstantSourceNode {
    /// A constant source with `ConstantSourceOptions { offset }`.
    pub fn new(offset: f32) -> Self {
        Self {
            offset: AudioParam::with_value(OFFSET, offset),
            source: ScheduledSource::default(),
        }
    }
}

impl AudioNode for ConstantSourceNode {
    type Attributes = ();
    const NAME: &'static str = "ConstantSourceNode";

    fn shape(&self) -> NodeShape {
        NodeShape::SOURCE
    }

    fn for_each_param(&mut self, f: &mut dyn FnMut(ParamId, &mut AudioParam)) {
        f(ParamId::Offset, &mut self.offset);
    }

    fn attributes(&self) {}

    fn build_processor(&self, ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(ConstantSourceProcessor {
            clock: SourceClock::default(),
            sample_rate: ctx.sample_rate,
        })
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(1)
    }

    fn scheduled(&mut self) -> Option<&mut ScheduledSource> {
        Some(&mut self.source)
    }
}

struct ConstantSourceProcessor {
    clock: SourceClock,
    sample_rate: f32,
}

impl AudioProcessor for ConstantSourceProcessor {
    fn process(
        &mut self,
        io: ProcessIo<'_>,
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
            let offset = io.params[0];
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

impl AudioScheduledSourceNode for ConstantSourceNode {
    fn scheduled_source(&mut self) -> &mut ScheduledSource {
        &mut self.source
    }
}
