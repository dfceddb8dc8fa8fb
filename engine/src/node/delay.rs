//! `DelayNode`'s render side: its `delayTime` param and a variable delay line with linear
//! interpolation. The only node allowed inside a cycle: there the schedule splits it into a
//! read (first) and a write (after its inputs), and its delay is clamped to at least one render
//! quantum (spec).

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{NodeParams, ParamDescriptor, ParamId};
use crate::render::bus::{AudioBus, MAX_CHANNELS, RENDER_QUANTUM};

node_params! {
    /// `DelayNode`'s params.
    pub enum DelayParam {
        /// `delayTime` in seconds: a-rate, default 0, nominal range `0..=maxDelayTime`. The
        /// declared range is that of the default `maxDelayTime` (1 s); a node's param uses
        /// [`DelayParam::delay_time_descriptor`] with its own.
        DelayTime = (ParamId::DelayTime, ParamDescriptor::a_rate(0.0, 0.0, 1.0)),
    }
}

impl DelayParam {
    /// `delayTime`'s descriptor for a node whose `maxDelayTime` is `max_delay_time` seconds.
    pub fn delay_time_descriptor(max_delay_time: f64) -> ParamDescriptor {
        ParamDescriptor {
            max_value: max_delay_time as f32,
            ..Self::DelayTime.descriptor()
        }
    }
}

/// Per-channel circular buffers indexed by absolute frame.
struct DelayRing {
    channels: Vec<Vec<f32>>,
    len: usize,
}

impl DelayRing {
    fn new(channels: usize, len: usize) -> Self {
        Self {
            channels: vec![vec![0.0; len]; channels.clamp(1, MAX_CHANNELS)],
            len,
        }
    }

    /// Stores the quantum starting at `frame`; channels beyond the input's get silence.
    fn write(&mut self, frame: u64, input: &AudioBus) {
        let base = (frame % self.len as u64) as usize;
        for (c, ring) in self.channels.iter_mut().enumerate() {
            for i in 0..RENDER_QUANTUM {
                let sample = if c < input.channels() && !input.is_silent() {
                    input.channel(c)[i]
                } else {
                    0.0
                };
                ring[(base + i) % self.len] = sample;
            }
        }
    }

    /// The sample `delay` frames (fractional) before absolute frame `at`, linearly interpolated.
    fn read(&self, channel: usize, at: u64, delay: f64) -> f32 {
        let position = at as f64 - delay;
        let floor = position.floor();
        let frac = (position - floor) as f32;
        let len = self.len as i64;
        let i0 = (floor as i64).rem_euclid(len) as usize;
        let i1 = (i0 + 1) % self.len;
        let ring = &self.channels[channel];
        ring[i0] + (ring[i1] - ring[i0]) * frac
    }
}

/// A delay line of up to `maxDelayTime`, one ring per input channel.
pub struct DelayProcessor {
    ring: DelayRing,
    sample_rate: f32,
    /// The channel count of the most recent input (the output has as many).
    channels: usize,
}

impl DelayProcessor {
    /// A silent delay line holding up to `max_delay_time` seconds at `sample_rate` Hz for up to
    /// `max_channels` channels (allocates).
    pub fn new(max_delay_time: f64, sample_rate: f32, max_channels: usize) -> Self {
        // Room for the longest delay plus one quantum written ahead of the read position.
        let frames = (max_delay_time * f64::from(sample_rate)).ceil() as usize;
        Self {
            ring: DelayRing::new(max_channels, frames + 2 * RENDER_QUANTUM + 1),
            sample_rate,
            channels: 1,
        }
    }

    fn read_into(&self, output: &mut AudioBus, frame: u64, delay: &[f32], min_frames: f64) {
        let channels = self.channels.min(self.ring.channels.len());
        output.set_channels(channels);
        let max_frames = (self.ring.len - RENDER_QUANTUM - 1) as f64;
        let sr = f64::from(self.sample_rate);
        for (c, out) in output.channels_mut().iter_mut().enumerate() {
            for (i, o) in out.iter_mut().enumerate() {
                let seconds = f64::from(if let [d] = delay { *d } else { delay[i] });
                let frames = (seconds * sr).clamp(min_frames, max_frames);
                *o = self.ring.read(c, frame + i as u64, frames);
            }
        }
    }
}

impl AudioProcessor for DelayProcessor {
    type Params = DelayParam;
    type Message = ();

    fn process(
        &mut self,
        io: ProcessIo<'_, DelayParam>,
        ctx: &ProcessContext,
        phase: ProcessPhase,
    ) -> ProcessStatus {
        let delay = io.params.get(DelayParam::DelayTime);
        match phase {
            ProcessPhase::Whole => {
                self.channels = io.inputs[0].channels();
                self.ring.write(ctx.frame, &io.inputs[0]);
                self.read_into(&mut io.outputs[0], ctx.frame, delay, 0.0);
            }
            ProcessPhase::CycleRead => {
                self.read_into(&mut io.outputs[0], ctx.frame, delay, RENDER_QUANTUM as f64);
            }
            ProcessPhase::CycleWrite => {
                self.channels = io.inputs[0].channels();
                self.ring.write(ctx.frame, &io.inputs[0]);
            }
        }
        ProcessStatus::Active
    }
}
