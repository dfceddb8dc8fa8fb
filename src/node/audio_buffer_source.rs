//! `AudioBufferSourceNode`: a scheduled source playing an [`AudioBuffer`] asset, following the
//! spec's playback algorithm ("Playback of AudioBuffer Contents") in buffer-frame units:
//!
//! - `computedPlaybackRate = playbackRate × 2^(detune / 1200)` (both k-rate, fixed), times
//!   `buffer.sampleRate / context.sampleRate` so a buffer at another rate is resampled on the
//!   fly;
//! - linear interpolation between neighbouring frames, as the browsers do (at the last frame of
//!   a non-looping buffer, Blink extrapolates from the last two frames; so does this node);
//! - a sub-sample accurate start: the first frame is rendered at `ceil(when × sampleRate)` and
//!   the playhead is advanced by the fraction of a frame between `when` and that frame;
//! - `loop`, `loopStart`, `loopEnd` with the spec's rules (invalid loop points mean the whole
//!   buffer, `loopEnd` is clamped to the buffer's duration, an `offset` past `loopEnd` starts at
//!   `loopEnd`, the loop is entered only once the playhead reaches it);
//! - `start(when, offset, duration)` with `duration` counted in buffer seconds, independent of
//!   the rate;
//! - 'ended' (`ProcessStatus::Ended`, once) at the stop time, when `duration` is exhausted, or
//!   when a non-looping playhead leaves the buffer.
//!
//! **Buffers arrive late.** The component holds a `Handle<AudioBuffer>`; the processor (in
//! `webaudio_engine::node::audio_buffer_source`) holds the asset's shared samples (`Arc`, from
//! [`AudioBuffer::shared_channels`]), sent in a [`BufferMessage`]. If the asset is not
//! loaded when the node is built, [`resync_buffer_nodes`](crate::asset::resync_buffer_nodes) bumps the node on the
//! `AssetEvent<AudioBuffer>` that announces it, the attributes change, and the samples are sent
//! in an attributes message. Until then the source is silent and its playhead waits (it starts
//! from `offset` at the first frame it has samples). A replaced `Arc` goes back to the control
//! side inside the message box; nothing is freed on the render thread.
//!
//! **Hot reload** (a documented deviation: the spec sets `buffer` once). When the asset changes
//! while the source plays — a reloaded file, or a decoded file resampled to the context's rate
//! (see [`crate::asset`]) — the new samples replace the old at the next quantum boundary and the
//! playhead keeps its position in seconds (rescaled if the rate changed).
//!
//! **Output channels.** The output carries as many channels as the buffer. The schedule sizes
//! buffers once, when the node is added, before the asset may be known, so the node declares
//! `OutputChannels::Fixed(32)` (the maximum) as its capacity bound; the bus it writes has the
//! buffer's channel count (1 with no buffer or after 'ended').

use bevy::prelude::*;

pub use webaudio_engine::node::audio_buffer_source::{
    AudioBufferSourceParam, AudioBufferSourceProcessor, BufferMessage, BufferSettings,
};
use webaudio_engine::param::NodeParams;
use webaudio_engine::render::bus::MAX_CHANNELS;

use super::scheduled::{AudioScheduledSourceNode, ScheduledSource};
use super::{AudioNode, BuildContext, ChannelConfig, MessageOf, NodeShape, OutputChannels};
use crate::asset::AudioBuffer;
use crate::error::{self, WebAudioError};
use crate::param::AudioParam;

/// The spec's `AudioBufferSourceNode`.
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
///
/// fn play(mut commands: Commands, mut buffers: ResMut<Assets<AudioBuffer>>, ctx: Res<AudioContext>) -> Result {
///     let click = buffers.add(AudioBuffer::from_samples(vec![vec![1.0, 0.5, 0.25]], 48_000.0)?);
///     let mut source = AudioBufferSourceNode::new(click);
///     source.playback_rate.set_value(2.0)?;
///     source.looping = true;
///     source.start_with(0.0, 0.0, Some(1.0))?;
///     commands.spawn(source).connect(ctx.destination());
///     Ok(())
/// }
/// # let mut source = AudioBufferSourceNode::default();
/// # assert!(source.playback_rate.set_automation_rate(AutomationRate::ARate).is_err());
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct AudioBufferSourceNode {
    /// `playbackRate`: k-rate (fixed), default 1.
    pub playback_rate: AudioParam,
    /// `detune` in cents: k-rate (fixed), default 0.
    pub detune: AudioParam,
    /// The spec's `loop` attribute (`loop` is a Rust keyword).
    pub looping: bool,
    /// `loopStart` in seconds of buffer time (a non-finite value, which only a direct field
    /// write can store, counts as 0; [`AudioBufferSourceNode::set_loop_start`] rejects it).
    pub loop_start: f64,
    /// `loopEnd` in seconds of buffer time (0: the buffer's end; non-finite counts as 0).
    pub loop_end: f64,
    buffer: Option<Handle<AudioBuffer>>,
    offset: f64,
    duration: Option<f64>,
    /// Bumped by [`resync_buffer_nodes`](crate::asset::resync_buffer_nodes) when the buffer asset is added, loaded or modified,
    /// so the attributes change and the samples are sent again.
    #[reflect(ignore)]
    buffer_generation: u32,
    /// The buffer's file failed to load: play as a source without a buffer (it ends at once).
    #[reflect(ignore)]
    load_failed: bool,
    /// start/stop state.
    pub source: ScheduledSource,
}

impl Default for AudioBufferSourceNode {
    fn default() -> Self {
        Self {
            playback_rate: AudioParam::new(AudioBufferSourceParam::PlaybackRate.descriptor()),
            detune: AudioParam::new(AudioBufferSourceParam::Detune.descriptor()),
            looping: false,
            loop_start: 0.0,
            loop_end: 0.0,
            buffer: None,
            offset: 0.0,
            duration: None,
            buffer_generation: 0,
            load_failed: false,
            source: ScheduledSource::default(),
        }
    }
}

impl AudioBufferSourceNode {
    /// A source playing `buffer` (`AudioBufferSourceOptions { buffer }`, the rest default).
    pub fn new(buffer: Handle<AudioBuffer>) -> Self {
        Self {
            buffer: Some(buffer),
            ..Self::default()
        }
    }

    /// `buffer`.
    pub fn buffer(&self) -> Option<&Handle<AudioBuffer>> {
        self.buffer.as_ref()
    }

    /// Assigns `buffer`.
    ///
    /// # Errors
    /// `InvalidStateError` when a buffer was already set (the spec allows it once).
    pub fn set_buffer(&mut self, buffer: Handle<AudioBuffer>) -> Result<&mut Self, WebAudioError> {
        if self.buffer.is_some() {
            return Err(WebAudioError::InvalidState(
                "the buffer of an AudioBufferSourceNode can only be set once".into(),
            ));
        }
        self.buffer = Some(buffer);
        Ok(self)
    }

    /// Sets `loopStart` (seconds of buffer time; a negative value loops from 0, as the spec
    /// says).
    ///
    /// # Errors
    /// `RangeError` for a non-finite value (the spec's WebIDL `TypeError`).
    pub fn set_loop_start(&mut self, seconds: f64) -> Result<&mut Self, WebAudioError> {
        error::finite("loopStart", seconds)?;
        self.loop_start = seconds;
        Ok(self)
    }

    /// Sets `loopEnd` (seconds of buffer time; 0 or less, or past the buffer's end, means the
    /// buffer's end, as the spec says).
    ///
    /// # Errors
    /// `RangeError` for a non-finite value (the spec's WebIDL `TypeError`).
    pub fn set_loop_end(&mut self, seconds: f64) -> Result<&mut Self, WebAudioError> {
        error::finite("loopEnd", seconds)?;
        self.loop_end = seconds;
        Ok(self)
    }

    /// `start(when, offset, duration)`: play from `offset` seconds into the buffer, for at most
    /// `duration` seconds of buffer content (`None`: no limit).
    ///
    /// # Errors
    /// `InvalidStateError` if `start` was already called (checked first, as the spec's steps
    /// do); `RangeError` for a negative or non-finite `when`, `offset` or `duration`.
    pub fn start_with(
        &mut self,
        when: f64,
        offset: f64,
        duration: Option<f64>,
    ) -> Result<&mut Self, WebAudioError> {
        self.source.check_not_started()?;
        error::time("when", when)?;
        error::time("offset", offset)?;
        if let Some(d) = duration {
            error::time("duration", d)?;
        }
        self.source.start(when)?;
        self.offset = offset;
        self.duration = duration;
        Ok(self)
    }

    fn settings(&self) -> BufferSettings {
        BufferSettings {
            looping: self.looping,
            loop_start: finite_or_zero(self.loop_start),
            loop_end: finite_or_zero(self.loop_end),
            offset: self.offset,
            duration: self.duration,
        }
    }

    fn message(&self, ctx: &BuildContext) -> BufferMessage {
        let asset = self
            .buffer
            .as_ref()
            .and_then(|h| ctx.buffers.and_then(|assets| assets.get(h)));
        BufferMessage {
            buffer: asset.map(AudioBuffer::shared_channels),
            sample_rate: asset.map_or(f64::from(ctx.sample_rate), |b| f64::from(b.sample_rate())),
            length: asset.map_or(0, AudioBuffer::length),
            has_handle: self.buffer.is_some() && !self.load_failed,
            settings: self.settings(),
        }
    }
}

/// A loop point as the processor sees it: a non-finite one is 0 (the spec's defaults).
fn finite_or_zero(seconds: f64) -> f64 {
    if seconds.is_finite() { seconds } else { 0.0 }
}

/// The node's attributes as compared by the sync: the buffer's id and generation, loop
/// settings, and the `start` offset and duration.
pub type AudioBufferSourceAttributes = (Option<AssetId<AudioBuffer>>, u32, [f64; 4], bool);

impl AudioNode for AudioBufferSourceNode {
    type Processor = AudioBufferSourceProcessor;
    type Attributes = AudioBufferSourceAttributes;
    const NAME: &'static str = "AudioBufferSourceNode";

    fn register(app: &mut App) {
        crate::asset::register_buffer_node::<Self>(app);
    }

    fn shape(&self) -> NodeShape {
        NodeShape::SOURCE
    }

    fn param_mut(&mut self, param: AudioBufferSourceParam) -> &mut AudioParam {
        match param {
            AudioBufferSourceParam::PlaybackRate => &mut self.playback_rate,
            AudioBufferSourceParam::Detune => &mut self.detune,
        }
    }

    fn attributes(&self) -> Self::Attributes {
        (
            self.buffer.as_ref().map(Handle::id),
            self.buffer_generation,
            [
                finite_or_zero(self.loop_start),
                finite_or_zero(self.loop_end),
                self.offset,
                self.duration.unwrap_or(-1.0),
            ],
            self.looping,
        )
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> AudioBufferSourceProcessor {
        AudioBufferSourceProcessor::new(self.message(ctx), ctx.sample_rate)
    }

    fn attributes_message(&self, ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(self.message(ctx))
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(MAX_CHANNELS)
    }

    fn scheduled(&mut self) -> Option<&mut ScheduledSource> {
        Some(&mut self.source)
    }
}

impl crate::asset::BufferNode for AudioBufferSourceNode {
    fn buffer_id(&self) -> Option<AssetId<AudioBuffer>> {
        self.buffer.as_ref().map(Handle::id)
    }

    fn buffer_changed(&mut self) {
        self.buffer_generation = self.buffer_generation.wrapping_add(1);
    }

    fn buffer_failed(&mut self) {
        self.load_failed = true;
        self.buffer_changed();
    }
}

impl AudioScheduledSourceNode for AudioBufferSourceNode {
    fn scheduled_source(&mut self) -> &mut ScheduledSource {
        &mut self.source
    }
}
