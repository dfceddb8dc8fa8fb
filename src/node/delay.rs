//! `DelayNode`: a variable delay line with a-rate `delayTime` and linear interpolation. The
//! only node allowed inside a cycle: there the schedule splits it into a read (first) and a
//! write (after its inputs), and its delay is clamped to at least one render quantum (spec).

use bevy::prelude::*;

use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, NodeShape, ProcessContext, ProcessIo,
    ProcessPhase, ProcessStatus,
};
use crate::error::WebAudioError;
use crate::param::{AudioParam, ParamDescriptor, ParamId};
use crate::render::bus::{AudioBus, MAX_CHANNELS, RENDER_QUANTUM};

/// The spec's `DelayNode`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut echo = DelayNode::new(2.0)?;
/// echo.delay_time.set_value(0.25)?;
/// assert!(DelayNode::new(180.0).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct DelayNode {
    /// `delayTime` in seconds: a-rate, default 0, nominal range `0..=maxDelayTime`.
    pub delay_time: AudioParam,
    max_delay_time: f64,
}

impl Default for DelayNode {
    fn default() -> Self {
        Self::with_delay(1.0, 0.0).unwrap_or_else(|_| unreachable!("1 s is a valid maxDelayTime"))
    }
}

impl DelayNode {
    /// `new DelayNode(ctx, { maxDelayTime })`.
    ///
    /// # Errors
    /// `NotSupportedError` unless `0 < max_delay_time < 180`.
    pub fn new(max_delay_time: f64) -> Result<Self, WebAudioError> {
        Self::with_delay(max_delay_time, 0.0)
    }

    /// `new DelayNode(ctx, { maxDelayTime, delayTime })`.
    ///
    /// # Errors
    /// As [`DelayNode::new`].
    pub fn with_delay(max_delay_time: f64, delay_time: f32) -> Result<Self, WebAudioError> {
        if !(max_delay_time > 0.0 && max_delay_time < 180.0) {
            return Err(WebAudioError::NotSupported(format!(
                "maxDelayTime must be in (0, 180) seconds, got {max_delay_time}"
            )));
        }
        let descriptor = ParamDescriptor::a_rate(0.0, 0.0, max_delay_time as f32);
        Ok(Self {
            delay_time: AudioParam::with_value(descriptor, delay_time),
            max_delay_time,
        })
    }

    /// `maxDelayTime` (fixed at construction).
    pub fn max_delay_time(&self) -> f64 {
        self.max_delay_time
    }
}

impl AudioNode for DelayNode {
    type Attributes = ();
    const NAME: &'static str = "DelayNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: 1,
            is_delay: true,
        }
    }

    fn for_each_param(&mut self, f: &mut dyn FnMut(ParamId, &mut AudioParam)) {
        f(ParamId::DelayTime, &mut self.delay_time);
    }

    fn attributes(&self) {}

    fn build_processor(&self, ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        // Room for the longest delay plus one quantum written ahead of the read position.
        let frames = (self.max_delay_time * f64::from(ctx.sample_rate)).ceil() as usize;
        Box::new(DelayProcessor {
            ring: DelayRing::new(ctx.max_channels, frames + 2 * RENDER_QUANTUM + 1),
            sample_rate: ctx.sample_rate,
            channels: 1,
        })
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

struct DelayProcessor {
    ring: DelayRing,
    sample_rate: f32,
    /// The channel count of the most recent input (the output has as many).
    channels: usize,
}

impl DelayProcessor {
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
    fn process(
        &mut self,
        io: ProcessIo<'_>,
        ctx: &ProcessContext,
        phase: ProcessPhase,
    ) -> ProcessStatus {
        let delay = io.params[0];
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
