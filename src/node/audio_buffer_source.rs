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
//! - 'ended' ([`ProcessStatus::Ended`], once) at the stop time, when `duration` is exhausted, or
//!   when a non-looping playhead leaves the buffer.
//!
//! **Buffers arrive late.** The component holds a `Handle<AudioBuffer>`; the processor holds the
//! asset's shared samples (`Arc`, from [`AudioBuffer::shared_channels`]). If the asset is not
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

use std::sync::Arc;

use bevy::prelude::*;

use super::scheduled::{AudioScheduledSourceNode, ScheduleEvent, ScheduledSource, SourceClock};
use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, NodeMessage, NodeShape, OutputChannels,
    ProcessContext, ProcessIo, ProcessPhase, ProcessStatus,
};
use crate::asset::AudioBuffer;
use crate::error::{self, WebAudioError};
use crate::param::{AudioParam, ParamDescriptor, ParamId};
use crate::render::bus::MAX_CHANNELS;

/// Blink's sanity limit on the computed rate (in buffer frames per output frame).
const MAX_RATE: f64 = 1024.0;

const PLAYBACK_RATE: ParamDescriptor =
    ParamDescriptor::k_rate(1.0, -ParamDescriptor::MAX, ParamDescriptor::MAX).fixed();
const DETUNE: ParamDescriptor =
    ParamDescriptor::k_rate(0.0, -ParamDescriptor::MAX, ParamDescriptor::MAX).fixed();

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
    /// `loopStart` in seconds of buffer time.
    pub loop_start: f64,
    /// `loopEnd` in seconds of buffer time (0: the buffer's end).
    pub loop_end: f64,
    buffer: Option<Handle<AudioBuffer>>,
    offset: f64,
    duration: Option<f64>,
    /// Bumped by [`resync_buffer_nodes`](crate::asset::resync_buffer_nodes) when the buffer asset is added, loaded or modified,
    /// so the attributes change and the samples are sent again.
    #[reflect(ignore)]
    buffer_generation: u32,
    /// start/stop state.
    pub source: ScheduledSource,
}

impl Default for AudioBufferSourceNode {
    fn default() -> Self {
        Self {
            playback_rate: AudioParam::new(PLAYBACK_RATE),
            detune: AudioParam::new(DETUNE),
            looping: false,
            loop_start: 0.0,
            loop_end: 0.0,
            buffer: None,
            offset: 0.0,
            duration: None,
            buffer_generation: 0,
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

    /// `start(when, offset, duration)`: play from `offset` seconds into the buffer, for at most
    /// `duration` seconds of buffer content (`None`: no limit).
    ///
    /// # Errors
    /// `RangeError` for a negative or non-finite `when`, `offset` or `duration`;
    /// `InvalidStateError` if `start` was already called.
    pub fn start_with(
        &mut self,
        when: f64,
        offset: f64,
        duration: Option<f64>,
    ) -> Result<&mut Self, WebAudioError> {
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

    fn settings(&self) -> Settings {
        Settings {
            looping: self.looping,
            loop_start: self.loop_start,
            loop_end: self.loop_end,
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
            has_handle: self.buffer.is_some(),
            settings: self.settings(),
        }
    }
}

/// The attributes the processor sees: everything but the params.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Settings {
    looping: bool,
    loop_start: f64,
    loop_end: f64,
    offset: f64,
    duration: Option<f64>,
}

/// New attributes for a running processor; the replaced samples come back in it.
struct BufferMessage {
    /// The resolved samples (`None` while the asset is not loaded).
    buffer: Option<Arc<[Box<[f32]>]>>,
    sample_rate: f64,
    length: usize,
    has_handle: bool,
    settings: Settings,
}

/// The node's attributes as compared by the sync: the buffer's id and generation, loop
/// settings, and the `start` offset and duration.
pub type AudioBufferSourceAttributes = (Option<AssetId<AudioBuffer>>, u32, [f64; 4], bool);

impl AudioNode for AudioBufferSourceNode {
    type Attributes = AudioBufferSourceAttributes;
    const NAME: &'static str = "AudioBufferSourceNode";

    fn shape(&self) -> NodeShape {
        NodeShape::SOURCE
    }

    fn for_each_param(&mut self, f: &mut dyn FnMut(ParamId, &mut AudioParam)) {
        f(ParamId::PlaybackRate, &mut self.playback_rate);
        f(ParamId::Detune, &mut self.detune);
    }

    fn attributes(&self) -> Self::Attributes {
        (
            self.buffer.as_ref().map(Handle::id),
            self.buffer_generation,
            [
                self.loop_start,
                self.loop_end,
                self.offset,
                self.duration.unwrap_or(-1.0),
            ],
            self.looping,
        )
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        let message = self.message(ctx);
        Box::new(AudioBufferSourceProcessor {
            buffer: message.buffer,
            play: PlayState {
                buffer_rate: message.sample_rate,
                length: message.length,
                has_handle: message.has_handle,
                settings: message.settings,
                clock: SourceClock::default(),
                when: 0.0,
                sample_rate: ctx.sample_rate,
                started: false,
                entered_loop: false,
                position: 0.0,
                elapsed: 0.0,
                finished: false,
            },
        })
    }

    fn attributes_message(&self, ctx: &mut BuildContext) -> Option<NodeMessage> {
        Some(Box::new(self.message(ctx)))
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
}

struct AudioBufferSourceProcessor {
    /// The buffer's samples, once resolved.
    buffer: Option<Arc<[Box<[f32]>]>>,
    play: PlayState,
}

/// Everything but the samples (so the samples can be borrowed while this changes).
struct PlayState {
    buffer_rate: f64,
    length: usize,
    has_handle: bool,
    settings: Settings,
    clock: SourceClock,
    /// The `when` of `start`, for the sub-sample start.
    when: f64,
    sample_rate: f32,
    started: bool,
    entered_loop: bool,
    /// The playhead, in buffer frames.
    position: f64,
    /// Buffer frames played, for `duration`.
    elapsed: f64,
    finished: bool,
}

/// One channel's value at `position` (≥ 0, < length), linearly interpolated as Blink does.
/// `wrap` is the loop length in frames when the frame after the last one wraps to the loop.
#[inline]
fn interpolate(channel: &[f32], position: f64, wrap: Option<f64>) -> f32 {
    let i0 = position as usize;
    let frac = position - i0 as f64;
    let Some(&s0) = channel.get(i0) else {
        return 0.0;
    };
    if frac == 0.0 {
        return s0;
    }
    let next = match channel.get(i0 + 1) {
        Some(&s1) => Some(s1),
        None => wrap.and_then(|delta| {
            let j = (position + 1.0 - delta).max(0.0) as usize;
            channel.get(j).copied()
        }),
    };
    let value = match next {
        Some(s1) => (1.0 - frac) * f64::from(s0) + frac * f64::from(s1),
        // The last frame of a non-looping buffer: extrapolate from the last two frames.
        None => match i0.checked_sub(1).and_then(|k| channel.get(k)) {
            Some(&prev) => f64::from(s0) + (f64::from(s0) - f64::from(prev)) * frac,
            None => f64::from(s0),
        },
    };
    value as f32
}

/// [`interpolate`] where frame `position + 1` is inside `channel`.
#[inline]
fn interpolate_inside(channel: &[f32], position: f64) -> f32 {
    let i0 = position as usize;
    let frac = position - i0 as f64;
    match channel.get(i0..i0 + 2) {
        Some(&[s0, _]) if frac == 0.0 => s0,
        Some(&[s0, s1]) => ((1.0 - frac) * f64::from(s0) + frac * f64::from(s1)) as f32,
        _ => 0.0,
    }
}

impl PlayState {
    /// The loop region in buffer frames: `(start, end)`, the whole buffer when the loop points
    /// are invalid (spec).
    fn loop_region(&self) -> (f64, f64) {
        let length = self.length as f64;
        let s = &self.settings;
        let (start, end) = (
            s.loop_start * self.buffer_rate,
            (s.loop_end * self.buffer_rate).min(length),
        );
        if s.loop_start >= 0.0 && s.loop_end > 0.0 && start < end {
            (start, end)
        } else {
            (0.0, length)
        }
    }
}

impl PlayState {
    /// The playhead at the first frame it plays (`frame`): `offset` with the spec's loop
    /// clamps, advanced by the sub-sample part of the start time.
    fn begin(&mut self, frame: u64, step: f64, loop_start: f64, loop_end: f64) {
        let length = self.length as f64;
        let mut offset = (self.settings.offset * self.buffer_rate).clamp(0.0, length);
        if self.settings.looping && step >= 0.0 && offset >= loop_end {
            offset = loop_end;
        }
        if self.settings.looping && step < 0.0 && offset < loop_start {
            offset = loop_start;
        }
        self.settings.offset = offset / self.buffer_rate;
        self.position = offset;
        // The first frame is `ceil(when × sr)`; the playhead has already moved by the fraction
        // of a frame between `when` and it (a start in the past starts now, without skipping).
        if self.clock.start_frame() == Some(frame) {
            let sr = f64::from(self.sample_rate);
            self.position += (frame as f64 - self.when * sr) * step;
        }
        self.started = true;
    }

    /// How many frames from here play whole buffer frames in order (rate exactly 1, the
    /// playhead on a frame, no `duration` limit), up to the loop end (when the playhead is
    /// before it and looping), the buffer's end, or `max`: those frames are a plain copy of the
    /// buffer. 0 when the frame-by-frame path must run.
    fn unit_run(&self, step: f64, unlimited: bool, loop_end: f64, max: usize) -> usize {
        if step != 1.0 || !unlimited || self.position < 0.0 || self.position.fract() != 0.0 {
            return 0;
        }
        let bound = if self.settings.looping && self.position < loop_end {
            loop_end
        } else {
            self.length as f64
        };
        let frames = (bound - self.position).ceil();
        if frames > 0.0 {
            (frames as usize).min(max)
        } else {
            0
        }
    }

    /// How many frames from here, at a forward rate with no `duration` limit, keep the
    /// playhead and the frame after it inside the buffer and before the loop end (when
    /// looping), up to `max`: those frames need neither loop wraps nor the edge cases of
    /// [`interpolate`]. One frame of margin absorbs the rounding of the accumulated playhead.
    /// 0 when the frame-by-frame path must run.
    fn interpolation_run(&self, step: f64, unlimited: bool, loop_end: f64, max: usize) -> usize {
        if step <= 0.0 || !unlimited || self.position < 0.0 {
            return 0;
        }
        let mut limit = self.length as f64 - 1.0;
        if self.settings.looping && self.position < loop_end {
            limit = limit.min(loop_end);
        }
        let frames = ((limit - self.position) / step).floor() - 1.0;
        if frames >= 1.0 {
            (frames as usize).min(max)
        } else {
            0
        }
    }

    /// The spec's loop bookkeeping for the frame about to play.
    fn wrap(&mut self, loop_start: f64, loop_end: f64) {
        let loop_length = loop_end - loop_start;
        if !self.entered_loop {
            let offset = self.settings.offset * self.buffer_rate;
            if (offset < loop_end && self.position >= loop_start)
                || (offset >= loop_end && self.position < loop_end)
            {
                self.entered_loop = true;
            }
        }
        if self.entered_loop && loop_length > 0.0 {
            // The spec's `while` loops, in closed form.
            if self.position >= loop_end {
                self.position = loop_start + (self.position - loop_start) % loop_length;
            } else if self.position < loop_start {
                let r = (loop_start - self.position) % loop_length;
                self.position = if r == 0.0 { loop_start } else { loop_end - r };
            }
        }
    }
}

/// A k-rate param's value this quantum (0 if absent).
fn k_value(params: &[&[f32]], index: usize) -> f64 {
    params
        .get(index)
        .and_then(|p| p.first())
        .map_or(0.0, |&v| f64::from(v))
}

impl AudioProcessor for AudioBufferSourceProcessor {
    fn process(
        &mut self,
        io: ProcessIo<'_>,
        ctx: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let play = &mut self.play;
        let Some(output) = io.outputs.first_mut() else {
            return ProcessStatus::Active;
        };
        if play.finished {
            output.make_silent(1);
            return ProcessStatus::Active;
        }
        let (range, stopped) = play.clock.active_range(ctx.frame);
        let Some(buffer) = self.buffer.as_deref() else {
            output.make_silent(1);
            // No buffer at all: the spec stops the source as soon as it would play. A buffer
            // that is still loading keeps the source waiting.
            if stopped || (!play.has_handle && !range.is_empty()) {
                play.finished = true;
                return ProcessStatus::Ended;
            }
            return ProcessStatus::Active;
        };
        let channels = buffer.len().clamp(1, output.capacity());
        if range.is_empty() {
            output.make_silent(channels);
            play.finished = stopped;
            return if stopped {
                ProcessStatus::Ended
            } else {
                ProcessStatus::Active
            };
        }
        output.set_channels(channels);
        for ch in output.channels_mut() {
            ch.fill(0.0);
        }

        // computedPlaybackRate, in buffer frames per output frame.
        let computed = k_value(io.params, 0) * (k_value(io.params, 1) / 1200.0).exp2();
        let step = computed * play.buffer_rate / f64::from(play.sample_rate);
        let step = if step.is_finite() {
            step.clamp(-MAX_RATE, MAX_RATE)
        } else {
            0.0
        };
        let looping = play.settings.looping;
        let (loop_start, loop_end) = play.loop_region();
        if !looping {
            play.entered_loop = false;
        }
        let length = play.length as f64;
        let duration = play.settings.duration.map(|d| d * play.buffer_rate);
        let mut ended = false;

        let mut i = range.start;
        while i < range.end {
            if !play.started {
                play.begin(ctx.frame + i as u64, step, loop_start, loop_end);
            }
            if duration.is_some_and(|d| play.elapsed >= d) {
                ended = true;
                break;
            }
            if looping {
                play.wrap(loop_start, loop_end);
            }
            let run = play.unit_run(step, duration.is_none(), loop_end, range.end - i);
            if run > 0 {
                // The same samples `interpolate` returns on whole frames, copied in one go.
                let p = play.position as usize;
                for (out, data) in output.channels_mut().iter_mut().zip(buffer) {
                    if let (Some(o), Some(d)) = (out.get_mut(i..i + run), data.get(p..p + run)) {
                        o.copy_from_slice(d);
                    }
                }
                play.position += run as f64;
                play.elapsed += run as f64;
                i += run;
                if !looping && play.position >= length {
                    ended = true;
                    break;
                }
                continue;
            }
            let run = play.interpolation_run(step, duration.is_none(), loop_end, range.end - i);
            if run > 0 {
                // Frames whose two neighbours are both inside the buffer and before any loop
                // wrap: the frame-by-frame arithmetic, one channel at a time.
                let start = play.position;
                for (out, data) in output.channels_mut().iter_mut().zip(buffer) {
                    let mut position = start;
                    for o in &mut out[i..i + run] {
                        *o = interpolate_inside(data, position);
                        position += step;
                    }
                }
                for _ in 0..run {
                    play.position += step;
                }
                play.elapsed += step * run as f64;
                i += run;
                continue;
            }
            if play.position >= 0.0 && play.position < length {
                let wrap = (looping && play.entered_loop).then_some(loop_end - loop_start);
                for (out, data) in output.channels_mut().iter_mut().zip(buffer) {
                    if let Some(o) = out.get_mut(i) {
                        *o = interpolate(data, play.position, wrap);
                    }
                }
            }
            play.position += step;
            play.elapsed += step.abs();
            let outside = if step >= 0.0 {
                play.position >= length
            } else {
                play.position < 0.0
            };
            if !looping && outside {
                ended = true;
                break;
            }
            i += 1;
        }
        if ended || stopped {
            play.finished = true;
            ProcessStatus::Ended
        } else {
            ProcessStatus::Active
        }
    }

    fn schedule(&mut self, event: ScheduleEvent) {
        if let ScheduleEvent::Start(when) = event {
            self.play.when = when;
        }
        self.play.clock.schedule(event, self.play.sample_rate);
    }

    /// The playhead in seconds of buffer time (once started and while a buffer is set).
    fn readout(&self) -> Option<f32> {
        let play = &self.play;
        (play.started && play.buffer_rate > 0.0).then(|| (play.position / play.buffer_rate) as f32)
    }

    fn update(&mut self, message: &mut NodeMessage) {
        let Some(message) = message.downcast_mut::<BufferMessage>() else {
            return;
        };
        let play = &mut self.play;
        if !play.started {
            play.settings.offset = message.settings.offset;
        }
        play.settings.looping = message.settings.looping;
        play.settings.loop_start = message.settings.loop_start;
        play.settings.loop_end = message.settings.loop_end;
        play.settings.duration = message.settings.duration;
        play.has_handle = message.has_handle;
        if message.buffer.is_some() {
            // Swap: the old samples (if any) travel back in the message box. A playing source
            // keeps its playhead time when the new samples have another rate (a resample or a
            // hot reload).
            std::mem::swap(&mut self.buffer, &mut message.buffer);
            if play.started && self.buffer.is_some() {
                let scale = message.sample_rate / play.buffer_rate;
                play.position *= scale;
                play.elapsed *= scale;
            }
            play.buffer_rate = message.sample_rate;
            play.length = message.length;
        }
    }
}

impl AudioScheduledSourceNode for AudioBufferSourceNode {
    fn scheduled_source(&mut self) -> &mut ScheduledSource {
        &mut self.source
    }
}
