//! `MediaStreamAudioSourceNode`'s render side: its processor, which reads its own capture
//! ring ([`CaptureConsumer`], connected when it is built, on the control side) every render
//! quantum, and its latency tuning ([`SourceLatency`]).
//!
//! - **Resampling and drift.** A rubato `FastFixedOut` resampler (septic polynomial) turns
//!   input-rate frames into exactly 128 output frames per quantum, at the ratio
//!   `output_rate / input_rate` times a small correction. The correction comes from a PI
//!   controller on the ring's fill level (smoothed over ~0.5 s): a fuller ring than the target
//!   lowers the ratio (more input consumed per quantum), an emptier one raises it, within
//!   ±0.5 %. So two device clocks that disagree (48 000 vs 48 048 Hz) neither drain nor grow
//!   the ring over minutes, and different rates (44.1 kHz mic, 48 kHz output) are converted.
//! - **Target fill that adapts.** Playback starts once the ring holds the target (at least
//!   [`SourceLatency::min_target_ms`] and 1.5 input callbacks). An underrun (the ring has less
//!   than the resampler needs) outputs a quantum of silence, is counted, and raises the target
//!   by [`SourceLatency::step_ms`] up to the maximum; ten seconds without an underrun lower it
//!   by a step again. After a stall (the smoothed fill above target + max(target, 10 ms):
//!   an output xrun leaves its length in the ring) the oldest frames are skipped back to the
//!   target, counted, so latency does not stay high.
//! - Counters (underruns, skipped, fill, target, ratio in ppm) are in the ring's
//!   [`ConsumerStats`].
//! - **A new format** (a device that opened later with another rate or channel count) is
//!   handled by building a new processor on the control side and sending it as this
//!   processor's message: it is swapped in, and the old one travels back to be freed.
//! - **A refused ring** (the host's stream already fed its most readers:
//!   [`CaptureConsumer::refused`]) never fills: the processor plays silence, and the host has
//!   counted the refusal where the application sees it.

use std::sync::Arc;

use rubato::{FastFixedOut, PolynomialDegree, Resampler};
use serde::{Deserialize, Serialize};

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;
use crate::render::bus::RENDER_QUANTUM;
use crate::stream::{CaptureConsumer, CaptureSource, ConsumerStats};

/// Latency tuning of a `MediaStreamAudioSourceNode` (milliseconds of input).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct SourceLatency {
    /// The lowest target fill.
    pub min_target_ms: f32,
    /// The highest target fill (underruns stop raising it here).
    pub max_target_ms: f32,
    /// How much an underrun raises the target (and ten quiet seconds lower it).
    pub step_ms: f32,
    /// The ring's capacity; input beyond it is dropped (counted) while the graph is stalled.
    pub ring_ms: f32,
}

impl Default for SourceLatency {
    fn default() -> Self {
        Self {
            min_target_ms: 5.0,
            max_target_ms: 120.0,
            step_ms: 2.5,
            ring_ms: 500.0,
        }
    }
}

/// Controller gains: correction = KP·error + KI·∫error, error in seconds of input.
const KP: f64 = 0.5;
const KI: f64 = 0.02;
/// The largest drift correction (±0.5 %).
const MAX_CORRECTION: f64 = 0.005;
/// Fill smoothing time constant in seconds.
const SMOOTHING: f64 = 0.5;
/// Seconds without an underrun before the target is lowered a step.
const CALM_SECONDS: f64 = 10.0;
/// How far above the target the smoothed fill may stay before the oldest frames are skipped
/// back to it, when the target itself is smaller: an output stall (the device asked for no
/// audio for a while) leaves its length in the ring, which the drift correction alone
/// (±0.5 %) drains at 5 ms a second at most.
const SKIP_MARGIN_SECONDS: f64 = 0.010;

/// The render-side half of `MediaStreamAudioSourceNode`. Every method but `new` and
/// `ring_frames` is called on the real-time thread.
pub struct MediaStreamSourceProcessor {
    consumer: Option<CaptureConsumer>,
    channels: usize,
    resampler: Option<FastFixedOut<f32>>,
    input: Vec<Vec<f32>>,
    output: Vec<Vec<f32>>,
    input_rate: f64,
    /// Quanta per second at the output rate.
    quantum_seconds: f64,
    primed: bool,
    fill_avg: f64,
    integral: f64,
    target: f64,
    min_target: f64,
    max_target: f64,
    step: f64,
    calm: f64,
    /// The lowest fill after a read during the current calm period (headroom seen).
    calm_min_fill: f64,
    correction: f64,
}

impl MediaStreamSourceProcessor {
    /// Connects a ring on `stream` and builds the resampler (control side: allocates).
    /// Without a stream (or when the rates cannot be converted) the processor outputs
    /// silence.
    pub fn new<S: CaptureSource + ?Sized>(
        stream: Option<&S>,
        output_rate: f32,
        latency: SourceLatency,
    ) -> Self {
        let input_rate = stream.map_or(f64::from(output_rate), |s| f64::from(s.sample_rate()));
        let channels = stream.map_or(1, |s| usize::from(s.channels()));
        let ms = |v: f32| f64::from(v) / 1000.0 * input_rate;
        let ratio = f64::from(output_rate) / input_rate;
        let resampler = FastFixedOut::<f32>::new(
            ratio,
            1.0 + 2.0 * MAX_CORRECTION,
            PolynomialDegree::Septic,
            RENDER_QUANTUM,
            channels,
        )
        .ok();
        let max_in = resampler.as_ref().map_or(0, |r| r.input_frames_max());
        let consumer = match (&resampler, stream) {
            (Some(_), Some(s)) => {
                Some(s.connect_source_node((ms(latency.ring_ms) as usize).max(4 * max_in)))
            }
            _ => None,
        };
        Self {
            consumer,
            channels,
            input: vec![vec![0.0; max_in]; channels],
            output: vec![vec![0.0; RENDER_QUANTUM]; channels],
            resampler,
            input_rate,
            quantum_seconds: RENDER_QUANTUM as f64 / f64::from(output_rate),
            primed: false,
            fill_avg: 0.0,
            integral: 0.0,
            target: ms(latency.min_target_ms),
            min_target: ms(latency.min_target_ms),
            max_target: ms(latency.max_target_ms).max(ms(latency.min_target_ms)),
            step: ms(latency.step_ms).max(1.0),
            calm: 0.0,
            calm_min_fill: f64::MAX,
            correction: 0.0,
        }
    }

    /// The counters of its ring (`None` without a stream).
    pub fn stats(&self) -> Option<&Arc<ConsumerStats>> {
        self.consumer.as_ref().map(CaptureConsumer::stats)
    }

    /// Output channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The current target fill in input frames.
    pub fn target_frames(&self) -> f64 {
        self.target
    }

    /// The current drift correction (relative ratio − 1).
    pub fn correction(&self) -> f64 {
        self.correction
    }

    /// Renders one quantum into `out` (one slice per channel). Returns false when it rendered
    /// silence (not primed yet, or an underrun). Called on the real-time thread.
    pub fn render(&mut self, out: &mut [[f32; RENDER_QUANTUM]]) -> bool {
        let played = self.render_inner(out);
        if !played {
            for channel in out.iter_mut() {
                channel.fill(0.0);
            }
        }
        played
    }

    fn render_inner(&mut self, out: &mut [[f32; RENDER_QUANTUM]]) -> bool {
        let (Some(consumer), Some(resampler)) = (&mut self.consumer, &mut self.resampler) else {
            return false;
        };
        let stats = consumer.stats().clone();
        let available = consumer.available_frames() as f64;
        stats.set_fill_frames(available as u32);
        let need = resampler.input_frames_next();
        if !self.primed {
            // Start once the target is there, and at least 1.5 device callbacks plus one
            // quantum's need (input arrives in callback-sized bursts).
            let callback = f64::from(consumer.callback_frames());
            self.target = self
                .target
                .max(1.5 * callback + need as f64)
                .min(self.max_target.max(1.5 * callback + need as f64));
            stats.set_target_frames(self.target as u32);
            if available < self.target {
                return false;
            }
            self.primed = true;
            self.fill_avg = available;
            self.integral = 0.0;
        }
        // Far too full (the graph was stalled): skip back to the target. Either way past the
        // largest target right now, or well above the target on average (a short burst after
        // an input stall is not a reason: it is what the target is there to absorb).
        let hard_limit = self.target + self.max_target;
        let soft_limit = self.target + self.target.max(SKIP_MARGIN_SECONDS * self.input_rate);
        if available > hard_limit || self.fill_avg > soft_limit {
            let skip = (available - self.target) as usize;
            let skipped = consumer.skip(skip);
            stats.add_skipped(skipped as u64);
            self.fill_avg = self.target;
            self.integral = 0.0;
            return self.render_inner(out);
        }
        if (available as usize) < need {
            stats.count_underrun();
            self.primed = false;
            self.calm = 0.0;
            self.calm_min_fill = f64::MAX;
            self.target = (self.target + self.step).min(self.max_target);
            return false;
        }
        if !consumer.read_planar(&mut self.input, need) {
            return false;
        }
        if resampler
            .process_into_buffer(&self.input, &mut self.output, None)
            .is_err()
        {
            return false;
        }
        for (dst, src) in out.iter_mut().zip(&self.output) {
            dst.copy_from_slice(&src[..RENDER_QUANTUM]);
        }
        // Drift control on the smoothed fill (after this quantum's read).
        let fill = available - need as f64;
        let alpha = self.quantum_seconds / SMOOTHING;
        self.fill_avg += alpha * (fill - self.fill_avg);
        let error = (self.fill_avg - self.target) / self.input_rate;
        self.integral = (self.integral + error * self.quantum_seconds)
            .clamp(-MAX_CORRECTION / KI, MAX_CORRECTION / KI);
        self.correction = (KP * error + KI * self.integral).clamp(-MAX_CORRECTION, MAX_CORRECTION);
        let _ = resampler.set_resample_ratio_relative(1.0 - self.correction, true);
        // Lower the target a step after a calm period that showed at least two steps of
        // headroom (so lowering does not walk back into the underrun that raised it).
        self.calm += self.quantum_seconds;
        self.calm_min_fill = self.calm_min_fill.min(fill);
        if self.calm >= CALM_SECONDS {
            if self.calm_min_fill > 2.0 * self.step {
                self.target = (self.target - self.step).max(self.min_target);
            }
            self.calm = 0.0;
            self.calm_min_fill = f64::MAX;
        }
        stats.set_target_frames(self.target as u32);
        stats.set_ratio_ppm((-self.correction * 1e6) as i32);
        true
    }
}

impl AudioProcessor for MediaStreamSourceProcessor {
    type Params = NoParams;
    /// A processor rebuilt for a new stream format or latency tuning.
    type Message = MediaStreamSourceProcessor;

    /// A processor rebuilt for a new stream format: swapped in; the old one (its ring and
    /// resampler) goes back in the message to be freed on the control side.
    fn update(&mut self, rebuilt: &mut MediaStreamSourceProcessor) {
        std::mem::swap(self, rebuilt);
    }

    fn process(
        &mut self,
        io: ProcessIo<'_>,
        _ctx: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let output = &mut io.outputs[0];
        output.set_channels(self.channels);
        let channels = output.channels();
        if !self.render(&mut output.channels_mut()[..channels]) {
            output.make_silent(channels);
        }
        ProcessStatus::Active
    }
}
