//! `MediaStreamAudioSourceNode`: the microphone as a source in the graph.
//!
//! The processor owns its own capture ring (connected when it is built, on the control
//! side) and reads it every render quantum on the render thread:
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
//!   by a step again. After a long stall (fill above target + max(target, 20 ms)) the oldest
//!   frames are skipped back to the target, counted, so latency does not stay high.
//! - Counters (underruns, skipped, fill, target, ratio in ppm) are on
//!   [`Microphone::consumers`](crate::microphone::Microphone::consumers).
//! - **A device that opens later.** A node spawned while the microphone is unavailable is
//!   built for the stream's provisional format. When a device opens with another rate or
//!   channel count ([`MediaStream::format_generation`] moves), [`follow_stream_format`] marks
//!   the node changed; its attributes (the stream's format) differ, so a new processor with
//!   a ring of the right width is built on the control side and swapped in on the render
//!   thread (the old one travels back to be freed), and the schedule is recompiled for the
//!   new channel count.

use bevy::prelude::*;
use rubato::{FastFixedOut, PolynomialDegree, Resampler};

use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, NodeMessage, NodeShape, OutputChannels,
    ProcessContext, ProcessIo, ProcessPhase, ProcessStatus,
};
use crate::microphone::capture::{CaptureConsumer, ConsumerKind, MediaStream};
use crate::param::{AudioParam, ParamId};
use crate::render::bus::RENDER_QUANTUM;

use std::sync::atomic::Ordering;

/// Latency tuning of a [`MediaStreamAudioSourceNode`] (milliseconds of input).
#[derive(Clone, Copy, Debug, PartialEq, Reflect)]
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

/// The spec's `MediaStreamAudioSourceNode`: plays a [`MediaStream`] (the microphone) into the
/// graph. No inputs, one output with the stream's channel count. Several may exist; each
/// has its own ring.
///
/// # Examples
/// ```no_run
/// # use bevy::prelude::*;
/// # use bevy_webaudio::prelude::*;
/// fn monitor(mut commands: Commands, mic: Res<Microphone>, context: Res<AudioContext>) {
///     let gain = commands.spawn(GainNode::new(0.5)).connect(context.destination()).id();
///     commands
///         .spawn(MediaStreamAudioSourceNode::new(mic.stream()))
///         .connect(gain);
/// }
/// ```
#[derive(Component, Clone, Debug, Default, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct MediaStreamAudioSourceNode {
    #[reflect(ignore)]
    stream: Option<MediaStream>,
    /// The stream's format generation this node was last synced at.
    #[reflect(ignore)]
    format_seen: u64,
    /// Latency tuning (a change rebuilds the processor, emptying its ring).
    pub latency: SourceLatency,
}

impl MediaStreamAudioSourceNode {
    /// `new MediaStreamAudioSourceNode(context, { mediaStream })`.
    pub fn new(stream: &MediaStream) -> Self {
        Self {
            stream: Some(stream.clone()),
            format_seen: stream.format_generation(),
            latency: SourceLatency::default(),
        }
    }

    /// With other latency settings.
    pub fn with_latency(mut self, latency: SourceLatency) -> Self {
        self.latency = latency;
        self
    }

    /// The stream it plays (`mediaStream`); `None` for a default-constructed (silent) node.
    pub fn media_stream(&self) -> Option<&MediaStream> {
        self.stream.as_ref()
    }

    /// Builds the render-side processor directly (tests and custom hosts; the ECS sync does
    /// this through [`AudioNode::build_processor`]). Connects a new ring on the stream.
    pub fn processor(&self, output_rate: f32) -> MediaStreamSourceProcessor {
        MediaStreamSourceProcessor::new(self.stream.as_ref(), output_rate, self.latency)
    }
}

impl AudioNode for MediaStreamAudioSourceNode {
    /// The stream's format (rate, channels) and the latency tuning: a change rebuilds the
    /// processor.
    type Attributes = Option<(u32, u16, [u32; 4])>;
    const NAME: &'static str = "MediaStreamAudioSourceNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 0,
            outputs: 1,
            is_delay: false,
        }
    }

    fn for_each_param(&mut self, _f: &mut dyn FnMut(ParamId, &mut AudioParam)) {}

    fn attributes(&self) -> Self::Attributes {
        let l = &self.latency;
        let tuning = [l.min_target_ms, l.max_target_ms, l.step_ms, l.ring_ms].map(f32::to_bits);
        self.stream
            .as_ref()
            .map(|s| (s.sample_rate(), s.channels(), tuning))
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(self.processor(ctx.sample_rate))
    }

    fn attributes_message(&self, ctx: &mut BuildContext) -> Option<NodeMessage> {
        Some(Box::new(self.processor(ctx.sample_rate)))
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(
            self.stream
                .as_ref()
                .map_or(1, |s| usize::from(s.channels())),
        )
    }
}

/// Marks source nodes whose stream changed format (a device opened after they were built)
/// as changed, so the sync rebuilds their processors. `PostUpdate`, before the sync.
pub fn follow_stream_format(mut nodes: Query<&mut MediaStreamAudioSourceNode>) {
    for mut node in &mut nodes {
        let generation = node
            .stream
            .as_ref()
            .map_or(0, MediaStream::format_generation);
        if node.format_seen != generation {
            node.format_seen = generation;
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

/// The render-side half of [`MediaStreamAudioSourceNode`]. Every method but `new` is called
/// on the real-time thread.
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
    pub fn new(stream: Option<&MediaStream>, output_rate: f32, latency: SourceLatency) -> Self {
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
            (Some(_), Some(s)) => Some(s.connect(
                ConsumerKind::SourceNode,
                (ms(latency.ring_ms) as usize).max(4 * max_in),
            )),
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
    pub fn stats(&self) -> Option<&std::sync::Arc<crate::microphone::ConsumerStats>> {
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
        stats.fill_frames.store(available as u32, Ordering::Relaxed);
        let need = resampler.input_frames_next();
        if !self.primed {
            // Start once the target is there, and at least 1.5 device callbacks plus one
            // quantum's need (input arrives in callback-sized bursts).
            let callback = f64::from(consumer.callback_frames());
            self.target = self
                .target
                .max(1.5 * callback + need as f64)
                .min(self.max_target.max(1.5 * callback + need as f64));
            stats
                .target_frames
                .store(self.target as u32, Ordering::Relaxed);
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
        let soft_limit = self.target + self.target.max(0.040 * self.input_rate);
        if available > hard_limit || self.fill_avg > soft_limit {
            let skip = (available - self.target) as usize;
            let skipped = consumer.skip(skip);
            stats.skipped.fetch_add(skipped as u64, Ordering::Relaxed);
            self.fill_avg = self.target;
            self.integral = 0.0;
            return self.render_inner(out);
        }
        if (available as usize) < need {
            stats.underruns.fetch_add(1, Ordering::Relaxed);
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
        stats
            .target_frames
            .store(self.target as u32, Ordering::Relaxed);
        stats
            .ratio_ppm
            .store((-self.correction * 1e6) as i32, Ordering::Relaxed);
        true
    }
}

impl AudioProcessor for MediaStreamSourceProcessor {
    /// A processor rebuilt for a new stream format: swapped in; the old one (its ring and
    /// resampler) goes back in the message to be freed on the control side.
    fn update(&mut self, message: &mut NodeMessage) {
        if let Some(rebuilt) = message.downcast_mut::<MediaStreamSourceProcessor>() {
            std::mem::swap(self, rebuilt);
        }
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
