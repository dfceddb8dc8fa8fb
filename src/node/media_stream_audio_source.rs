//! `MediaStreamAudioSourceNode`: the microphone as a source in the graph.
//!
//! The processor ([`MediaStreamSourceProcessor`], in
//! `webaudio_engine::node::media_stream_audio_source`, re-exported here) owns its own capture
//! ring (connected when it is built, on the control side) and reads it every render quantum
//! on the render thread:
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
//! - Counters (underruns, skipped, fill, target, ratio in ppm) are on
//!   [`Microphone::consumers`](crate::microphone::Microphone::consumers).
//! - **A device that opens later.** A node spawned while the microphone is unavailable is
//!   built for the stream's provisional format. When a device opens with another rate or
//!   channel count ([`MediaStream::format_generation`] moves), [`follow_stream_format`] marks
//!   the node changed; its attributes (the stream's format) differ, so a new processor with
//!   a ring of the right width is built on the control side and swapped in on the render
//!   thread (the old one travels back to be freed), and the schedule is recompiled for the
//!   new channel count.
//! - **A 33rd reader.** The microphone feeds at most
//!   [`MAX_CONSUMERS`](crate::microphone::capture::MAX_CONSUMERS) readers (taps, source
//!   nodes, its analysis). A node built beyond that has a refused ring and plays silence; the
//!   refusal is counted in
//!   [`Microphone::refused_consumers`](crate::microphone::Microphone::refused_consumers),
//!   logged once, and shown as `refused` in its consumer report.

use bevy::prelude::*;

pub use webaudio_engine::node::media_stream_audio_source::{
    MediaStreamSourceProcessor, SourceLatency,
};
use webaudio_engine::param::NoParams;
use webaudio_engine::stream::{CaptureConsumer, CaptureSource};

use super::{AudioNode, BuildContext, ChannelConfig, MessageOf, NodeShape, OutputChannels};
use crate::error::WebAudioError;
use crate::microphone::capture::{ConsumerKind, MediaStream};
use crate::param::AudioParam;

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

    /// With other latency settings (used as [`sanitize_latency`] says; see
    /// [`MediaStreamAudioSourceNode::try_with_latency`] for the checked form).
    pub fn with_latency(mut self, latency: SourceLatency) -> Self {
        self.latency = latency;
        self
    }

    /// With other latency settings, checked.
    ///
    /// # Errors
    /// `RangeError` when a value is not finite, is negative, or exceeds
    /// [`MAX_LATENCY_MS`].
    pub fn try_with_latency(mut self, latency: SourceLatency) -> Result<Self, WebAudioError> {
        let l = &latency;
        for (name, v) in [
            ("min_target_ms", l.min_target_ms),
            ("max_target_ms", l.max_target_ms),
            ("step_ms", l.step_ms),
            ("ring_ms", l.ring_ms),
        ] {
            if !(0.0..=MAX_LATENCY_MS).contains(&v) {
                return Err(WebAudioError::Range(format!(
                    "{name} must be in 0..={MAX_LATENCY_MS} ms, got {v}"
                )));
            }
        }
        self.latency = latency;
        Ok(self)
    }

    /// The stream it plays (`mediaStream`); `None` for a default-constructed (silent) node.
    pub fn media_stream(&self) -> Option<&MediaStream> {
        self.stream.as_ref()
    }

    /// Builds the render-side processor directly (tests and custom hosts; the ECS sync does
    /// this through [`AudioNode::build_processor`]). Connects a new ring on the stream.
    pub fn processor(&self, output_rate: f32) -> MediaStreamSourceProcessor {
        MediaStreamSourceProcessor::new(
            self.stream.as_ref(),
            output_rate,
            sanitize_latency(self.latency),
        )
    }
}

impl AudioNode for MediaStreamAudioSourceNode {
    type Processor = MediaStreamSourceProcessor;
    /// The stream's format (rate, channels) and the latency tuning: a change rebuilds the
    /// processor.
    type Attributes = Option<(u32, u16, [u32; 4])>;
    const NAME: &'static str = "MediaStreamAudioSourceNode";

    fn register(app: &mut App) {
        app.add_systems(
            crate::WebAudioSync,
            follow_stream_format.in_set(crate::WebAudioSystems::WriteNodes),
        );
    }

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 0,
            outputs: 1,
            is_delay: false,
        }
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) -> Self::Attributes {
        let l = &self.latency;
        let tuning = [l.min_target_ms, l.max_target_ms, l.step_ms, l.ring_ms].map(f32::to_bits);
        self.stream
            .as_ref()
            .map(|s| (s.sample_rate(), s.channels(), tuning))
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> MediaStreamSourceProcessor {
        self.processor(ctx.sample_rate)
    }

    /// A new processor (a new ring of the stream's current width), swapped in whole.
    fn attributes_message(&self, ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(self.processor(ctx.sample_rate))
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(
            self.stream
                .as_ref()
                .map_or(1, |s| usize::from(s.channels())),
        )
    }
}

/// The largest latency setting, in milliseconds (a ring of a minute).
pub const MAX_LATENCY_MS: f32 = 60_000.0;

/// The latency a processor is built with: each value that is not finite or is negative (a
/// direct field write can store one) is the default's, and each is at most
/// [`MAX_LATENCY_MS`] (an infinite ring would be an impossible allocation).
pub fn sanitize_latency(latency: SourceLatency) -> SourceLatency {
    let d = SourceLatency::default();
    let fix = |v: f32, default: f32| {
        if v.is_finite() && v >= 0.0 {
            v.min(MAX_LATENCY_MS)
        } else {
            default
        }
    };
    SourceLatency {
        min_target_ms: fix(latency.min_target_ms, d.min_target_ms),
        max_target_ms: fix(latency.max_target_ms, d.max_target_ms),
        step_ms: fix(latency.step_ms, d.step_ms),
        ring_ms: fix(latency.ring_ms, d.ring_ms),
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

/// The microphone's stream as the engine's processor sees it: a source node connects its own
/// ring on it.
impl CaptureSource for MediaStream {
    fn sample_rate(&self) -> u32 {
        MediaStream::sample_rate(self)
    }

    fn channels(&self) -> u16 {
        MediaStream::channels(self)
    }

    fn connect_source_node(&self, capacity_frames: usize) -> CaptureConsumer {
        self.connect(ConsumerKind::SourceNode, capacity_frames)
    }
}
