//! `AudioBufferSourceNode`'s render side: its params, its processor and the message that
//! carries the buffer's samples and the loop/start settings to it.
//!
//! The processor follows the spec's playback algorithm ("Playback of AudioBuffer Contents") in
//! buffer-frame units:
//!
//! - `computedPlaybackRate = playbackRate × 2^(detune / 1200)` (both k-rate, fixed), times
//!   `buffer.sampleRate / context.sampleRate` so a buffer at another rate is resampled on the
//!   fly;
//! - linear interpolation between neighbouring frames, as the browsers do (at the last frame of
//!   a non-looping buffer, Blink extrapolates from the last two frames; so does this node; at
//!   a loop's last frame the next one is the frame a loop length back, so the loop end is
//!   spliced to its start, as Blink reads it);
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
//! The processor holds plain shared samples ([`BufferChannels`]), never an asset: the host
//! resolves its buffer and sends the samples, their rate and length in a [`BufferMessage`].
//! Until samples arrive the source is silent and its playhead waits (it starts from `offset`
//! at the first frame it has samples). New samples replace the old at the next quantum
//! boundary (a late load or a hot reload) and the playhead keeps its position in seconds
//! (rescaled if the rate changed); the replaced `Arc` goes back to the control side inside
//! the message, so nothing is freed on the render thread.

use std::sync::Arc;

use super::scheduled::{ScheduleEvent, SourceClock};
use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{ParamDescriptor, ParamId};

/// Blink's sanity limit on the computed rate (in buffer frames per output frame).
const MAX_RATE: f64 = 1024.0;

node_params! {
    /// `AudioBufferSourceNode`'s params.
    pub enum AudioBufferSourceParam {
        /// `playbackRate`: k-rate (fixed), default 1, nominal range ±3.4e38.
        PlaybackRate = (
            ParamId::PlaybackRate,
            ParamDescriptor::k_rate(1.0, -ParamDescriptor::MAX, ParamDescriptor::MAX).fixed()
        ),
        /// `detune` in cents: k-rate (fixed), default 0, nominal range ±3.4e38.
        Detune = (
            ParamId::Detune,
            ParamDescriptor::k_rate(0.0, -ParamDescriptor::MAX, ParamDescriptor::MAX).fixed()
        ),
    }
}

/// A buffer's samples as the processor holds them: one boxed slice per channel, shared with
/// the asset that owns them.
pub type BufferChannels = Arc<[Box<[f32]>]>;

/// The attributes the processor sees: everything but the params and the samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BufferSettings {
    /// The spec's `loop`.
    pub looping: bool,
    /// `loopStart` in seconds of buffer time.
    pub loop_start: f64,
    /// `loopEnd` in seconds of buffer time (0: the buffer's end).
    pub loop_end: f64,
    /// `start`'s `offset` in seconds of buffer time.
    pub offset: f64,
    /// `start`'s `duration` in seconds of buffer time (`None`: no limit).
    pub duration: Option<f64>,
}

/// The buffer and settings for a processor: what it is built from, and the attributes message
/// that updates a running one. The replaced samples come back in it.
#[derive(Clone, Debug, Default)]
pub struct BufferMessage {
    /// The resolved samples (`None` while the buffer is not loaded).
    pub buffer: Option<BufferChannels>,
    /// The samples' rate in Hz (the context's rate when there are none).
    pub sample_rate: f64,
    /// Frames per channel (0 without samples).
    pub length: usize,
    /// Whether the node has a buffer at all (loaded or not): without one the source ends as
    /// soon as it would play; with one still loading it waits.
    pub has_handle: bool,
    /// Loop and start settings.
    pub settings: BufferSettings,
}

/// The render-side half of `AudioBufferSourceNode`. Every method but `new` is called on the
/// real-time thread.
pub struct AudioBufferSourceProcessor {
    /// The buffer's samples, once resolved.
    buffer: Option<BufferChannels>,
    play: PlayState,
}

impl AudioBufferSourceProcessor {
    /// A processor for `message`'s buffer and settings, at the context's `sample_rate`
    /// (control side).
    pub fn new(message: BufferMessage, sample_rate: f32) -> Self {
        Self {
            buffer: message.buffer,
            play: PlayState {
                buffer_rate: message.sample_rate,
                length: message.length,
                has_handle: message.has_handle,
                settings: message.settings,
                clock: SourceClock::default(),
                when: 0.0,
                sample_rate,
                started: false,
                entered_loop: false,
                position: 0.0,
                elapsed: 0.0,
                finished: false,
            },
        }
    }
}

/// Everything but the samples (so the samples can be borrowed while this changes).
struct PlayState {
    buffer_rate: f64,
    length: usize,
    has_handle: bool,
    settings: BufferSettings,
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

/// The loop region a playhead interpolates across: `(start, end)` in buffer frames.
#[derive(Clone, Copy)]
struct Seam {
    start: f64,
    end: f64,
}

/// The frame that follows frame `i0` (the one under `position`) for linear interpolation, as
/// Blink reads it: across the loop end (`i0` before it, `i0 + 1` at or past it) the next frame
/// is the one a loop length back, `floor(position + 1 − (end − start))`, so the loop's last
/// frame is spliced to its beginning ("as if the looped audio occurred in sequential,
/// non-looped regions of the buffer", the spec's looping section); past the buffer's last
/// frame there is none (`None`).
#[inline]
fn next_frame(i0: usize, position: f64, length: usize, seam: Option<Seam>) -> Option<usize> {
    let i1 = i0 + 1;
    if let Some(Seam { start, end }) = seam
        && (i0 as f64) < end
        && i1 as f64 >= end
    {
        let delta = end - start;
        let wrapped = if delta >= 1.0 {
            position + 1.0 - delta
        } else if delta > 0.0 {
            start + (position + 1.0 - start) % delta
        } else {
            start
        };
        // `as` saturates: a negative index reads frame 0.
        return Some((wrapped as usize).min(length.saturating_sub(1)));
    }
    (i1 < length).then_some(i1)
}

/// One channel's value at `position` (≥ 0, < length), linearly interpolated as Blink does.
/// `seam` is the loop region while looping (see [`next_frame`]).
#[inline]
fn interpolate(channel: &[f32], position: f64, seam: Option<Seam>) -> f32 {
    let i0 = position as usize;
    let frac = position - i0 as f64;
    let Some(&s0) = channel.get(i0) else {
        return 0.0;
    };
    if frac == 0.0 {
        return s0;
    }
    let next = next_frame(i0, position, channel.len(), seam).filter(|&i1| i1 != i0);
    let value = match next.and_then(|i1| channel.get(i1)) {
        Some(&s1) => (1.0 - frac) * f64::from(s0) + frac * f64::from(s1),
        // The last frame of a non-looping buffer (or a loop a frame long): extrapolate from
        // the last two frames.
        None => match i0.checked_sub(1).and_then(|k| channel.get(k)) {
            Some(&prev) => f64::from(s0) + (f64::from(s0) - f64::from(prev)) * frac,
            None => f64::from(s0),
        },
    };
    value as f32
}

/// Fills `out` with [`interpolate`] at `position`, `position + step`, … (the playhead
/// accumulated one addition per frame, as Blink does), for a run whose frames all have their
/// next frame inside `channel` (see [`PlayState::interpolation_run`]); returns the playhead
/// after the last frame.
///
/// Branch-free per frame: whole frames pick `s0` by a select, and the frame index is clamped
/// into the buffer (a no-op for such a run) so the reads need no other check.
#[inline]
fn interpolate_run(channel: &[f32], mut position: f64, step: f64, out: &mut [f32]) -> f64 {
    let Some(last) = channel.len().checked_sub(2) else {
        out.fill(0.0);
        return out.iter().fold(position, |p, _| p + step);
    };
    // Frame indices fit in u32 here (the run stays inside the buffer), which converts cheaply.
    let last = last.min(u32::MAX as usize) as u32;
    for o in out {
        let i0 = (position as u32).min(last);
        let frac = position - f64::from(i0);
        let (s0, s1) = (channel[i0 as usize], channel[i0 as usize + 1]);
        let mixed = ((1.0 - frac) * f64::from(s0) + frac * f64::from(s1)) as f32;
        *o = if frac == 0.0 { s0 } else { mixed };
        position += step;
    }
    position
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
            // The frame after the playhead must be before the loop end too (it wraps there).
            limit = limit.min(loop_end - 1.0);
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

impl AudioProcessor for AudioBufferSourceProcessor {
    type Params = AudioBufferSourceParam;
    type Message = BufferMessage;

    fn process(
        &mut self,
        io: ProcessIo<'_, AudioBufferSourceParam>,
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
        let rate = f64::from(io.params.at(AudioBufferSourceParam::PlaybackRate, 0));
        let detune = f64::from(io.params.at(AudioBufferSourceParam::Detune, 0));
        let computed = rate * (detune / 1200.0).exp2();
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
                // Each channel walks the playhead the same way (one addition per frame, as
                // Blink accumulates it); where it ends is the next playhead.
                let start = play.position;
                let mut end = None;
                for (out, data) in output.channels_mut().iter_mut().zip(buffer) {
                    end = Some(interpolate_run(data, start, step, &mut out[i..i + run]));
                }
                play.position = end.unwrap_or_else(|| (0..run).fold(start, |p, _| p + step));
                play.elapsed += step * run as f64;
                i += run;
                continue;
            }
            if play.position >= 0.0 && play.position < length {
                let seam = looping.then_some(Seam {
                    start: loop_start,
                    end: loop_end,
                });
                for (out, data) in output.channels_mut().iter_mut().zip(buffer) {
                    if let Some(o) = out.get_mut(i) {
                        *o = interpolate(data, play.position, seam);
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

    fn update(&mut self, message: &mut BufferMessage) {
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
            // Swap: the old samples (if any) travel back in the message. A playing source
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::audio_listener::ListenerValues;
    use crate::param::Params;
    use crate::render::bus::AudioBus;

    fn run(
        p: &mut AudioBufferSourceProcessor,
        rate: f32,
        frame: u64,
        out: &mut AudioBus,
    ) -> ProcessStatus {
        let listener = ListenerValues::default();
        let (rate, detune) = ([rate], [0.0]);
        let values: [&[f32]; 2] = [&rate, &detune];
        let io = ProcessIo {
            inputs: &[],
            outputs: std::slice::from_mut(out),
            params: Params::new(&values),
            listener: &listener,
        };
        let ctx = ProcessContext {
            sample_rate: 48_000.0,
            frame,
        };
        p.process(io, &ctx, ProcessPhase::Whole)
    }

    fn source(samples: Vec<f32>, settings: BufferSettings) -> AudioBufferSourceProcessor {
        let length = samples.len();
        let buffer: BufferChannels = Arc::from(vec![samples.into_boxed_slice()]);
        let message = BufferMessage {
            buffer: Some(buffer),
            sample_rate: 48_000.0,
            length,
            has_handle: true,
            settings,
        };
        let mut p = AudioBufferSourceProcessor::new(message, 48_000.0);
        p.schedule(ScheduleEvent::Start(0.0));
        p
    }

    #[test]
    fn plays_the_buffer_then_ends() {
        let mut p = source(vec![1.0, 0.5, 0.25], BufferSettings::default());
        let mut out = AudioBus::with_capacity(2);
        assert_eq!(run(&mut p, 1.0, 0, &mut out), ProcessStatus::Ended);
        assert_eq!(&out.channel(0)[..4], &[1.0, 0.5, 0.25, 0.0]);
    }

    #[test]
    fn half_rate_interpolates_and_a_loop_wraps() {
        let mut p = source(vec![0.0, 1.0], BufferSettings::default());
        let mut out = AudioBus::with_capacity(1);
        run(&mut p, 0.5, 0, &mut out);
        // The last frame extrapolates from the last two (as Blink does).
        assert_eq!(&out.channel(0)[..5], &[0.0, 0.5, 1.0, 1.5, 0.0]);

        let looping = BufferSettings {
            looping: true,
            ..BufferSettings::default()
        };
        let mut p = source(vec![1.0, 2.0, 3.0], looping);
        assert_eq!(run(&mut p, 1.0, 0, &mut out), ProcessStatus::Active);
        assert_eq!(&out.channel(0)[..7], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]);
        assert_eq!(p.readout(), Some((RENDER_QUANTUM_F % 3.0) / 48_000.0));
    }

    #[test]
    fn the_frame_after_the_loop_end_is_the_loop_start() {
        // Loop 1 .. 3.5 frames at rate 0.25: at position 3.25 the frame after frame 3 is past
        // the loop end, so the interpolation reads floor(3.25 + 1 − 2.5) = frame 1 (Blink),
        // not frame 4.
        let looping = BufferSettings {
            looping: true,
            loop_start: 1.0 / 48_000.0,
            loop_end: 3.5 / 48_000.0,
            ..BufferSettings::default()
        };
        let mut p = source(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], looping);
        let mut out = AudioBus::with_capacity(1);
        run(&mut p, 0.25, 0, &mut out);
        // (Position 3.5 is at the loop end up to the rounding of 3.5 / 48000 × 48000.)
        let got = &out.channel(0)[11..14];
        let want = [2.75, 3.0, 0.75 * 3.0 + 0.25 * 1.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} != {want:?}");
        }
    }

    #[test]
    fn a_loop_end_moved_before_the_playhead_wraps_by_whole_loop_lengths() {
        // Loop 1 .. 5 frames at rate 1: after one quantum the playhead is at 1 + 127 % 4 = 4.
        // loopEnd moved to 3.25 wraps it as the spec's `while` loop does: 4 − 2.25 = 1.75
        // (not to loopStart, where Chromium 156 puts it).
        let frames = |f: f64| f / 48_000.0;
        let mut settings = BufferSettings {
            looping: true,
            loop_start: frames(1.0),
            loop_end: frames(5.0),
            ..BufferSettings::default()
        };
        let mut p = source(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], settings);
        let mut out = AudioBus::with_capacity(1);
        run(&mut p, 1.0, 0, &mut out);
        settings.loop_end = frames(3.25);
        p.update(&mut BufferMessage {
            settings,
            has_handle: true,
            ..BufferMessage::default()
        });
        run(&mut p, 1.0, 128, &mut out);
        let got = &out.channel(0)[..4];
        // 1.75, 2.75, then 3.75 wraps to 1.5.
        for (g, w) in got.iter().zip([1.75, 2.75, 1.5, 2.5]) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
    }

    const RENDER_QUANTUM_F: f32 = crate::render::bus::RENDER_QUANTUM as f32;
}
