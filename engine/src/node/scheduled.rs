//! The render-side clock of `start(when)` / `stop(when)` for AudioScheduledSourceNode types
//! (oscillator, constant source, buffer source): it turns the times into sample-accurate frame
//! ranges.

use crate::render::bus::RENDER_QUANTUM;

/// A start or stop request, in context seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScheduleEvent {
    /// `start(when)`.
    Start(f64),
    /// `stop(when)`.
    Stop(f64),
}

/// The render-side half: when the source plays, in frames.
#[derive(Clone, Copy, Debug, Default)]
pub struct SourceClock {
    start: Option<u64>,
    /// How far (in frames, `[0, 1)`) the first played frame lies after the exact start time.
    start_offset: f64,
    stop: Option<u64>,
    ended: bool,
}

/// The first frame at or after `when` seconds.
fn frame_at(when: f64, sample_rate: f32) -> u64 {
    (when * f64::from(sample_rate)).ceil().max(0.0) as u64
}

impl SourceClock {
    /// Applies a start/stop call. Called on the real-time thread.
    pub fn schedule(&mut self, event: ScheduleEvent, sample_rate: f32) {
        match event {
            ScheduleEvent::Start(when) => {
                let frame = frame_at(when, sample_rate);
                self.start = Some(frame);
                self.start_offset = (frame as f64 - when * f64::from(sample_rate)).clamp(0.0, 1.0);
            }
            ScheduleEvent::Stop(when) => self.stop = Some(frame_at(when, sample_rate)),
        }
    }

    /// The frame at which the source started, if it has been scheduled.
    pub fn start_frame(&self) -> Option<u64> {
        self.start
    }

    /// The time in frames from the exact start time to the first played frame (`[0, 1)`;
    /// 0 when the start falls on a frame). A periodic source advances its phase by this much
    /// so that frame `k` plays the waveform at `k / sample_rate - when`.
    pub fn start_offset(&self) -> f64 {
        self.start_offset
    }

    /// The part of the quantum starting at `frame` in which the source plays, as
    /// `start..end` sample indices (empty when silent), and whether it ended in this quantum.
    /// Called on the real-time thread.
    pub fn active_range(&mut self, frame: u64) -> (std::ops::Range<usize>, bool) {
        let (range, ended) = self.range(frame);
        self.ended |= ended;
        (range, ended)
    }

    /// Whether the source plays nothing in the quantum starting at `frame` (before its
    /// start, after its end, or not scheduled). Called on the real-time thread.
    pub fn is_idle(&self, frame: u64) -> bool {
        self.range(frame).0.is_empty()
    }

    /// [`SourceClock::active_range`] without recording the end.
    fn range(&self, frame: u64) -> (std::ops::Range<usize>, bool) {
        let Some(start) = self.start else {
            return (0..0, false);
        };
        if self.ended {
            return (0..0, false);
        }
        let end_frame = frame + RENDER_QUANTUM as u64;
        let stop = self.stop.unwrap_or(u64::MAX).max(start);
        let from = start.clamp(frame, end_frame);
        let to = stop.clamp(frame, end_frame);
        let ended = stop < end_frame;
        (
            (from - frame) as usize..(to.max(from) - frame) as usize,
            ended,
        )
    }
}
