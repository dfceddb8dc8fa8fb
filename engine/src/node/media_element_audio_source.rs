//! `MediaElementAudioSourceNode`'s render side: a processor that copies a streamed file's
//! frames out of the current session's ring ([`RingReader`]), and the message that pauses it
//! or hands it a new ring after a seek.
//!
//! The render thread only copies frames out of the ring. When the decoder has not kept up
//! (a slow disk), the missing frames are silence and the quantum is counted
//! ([`StreamStatus::underruns`]); it never waits. Playback of a session starts once the ring
//! is primed (see [`RingReader::primed`]), so the start of a stream is not counted as an
//! underrun. After 'ended' the processor is finished, like a scheduled source.

use std::sync::Arc;

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;
use crate::render::bus::RENDER_QUANTUM;
use crate::stream::{RingReader, StreamStatus};

/// The smallest ring, in frames.
pub const MIN_RING_FRAMES: usize = 4 * RENDER_QUANTUM;

/// New controls for a running processor, and a new ring after a seek (the old one comes back
/// in it, to be dropped on the control side).
#[derive(Debug, Default)]
pub struct ElementMessage {
    /// The element's `paused`.
    pub paused: bool,
    /// The new session's ring (`None`: keep the current one).
    pub ring: Option<RingReader>,
}

/// The render-side half of `MediaElementAudioSourceNode`: copies frames out of the session's
/// ring. Every method but `new` is called on the real-time thread.
pub struct MediaElementProcessor {
    ring: Option<RingReader>,
    status: Option<Arc<StreamStatus>>,
    channels: usize,
    paused: bool,
    sample_rate: f64,
}

impl MediaElementProcessor {
    /// A processor reading `ring` (`None`: no file, silence) of a `channels`-wide file whose
    /// counters are `status`, at the context's `sample_rate` (control side).
    pub fn new(
        ring: Option<RingReader>,
        status: Option<Arc<StreamStatus>>,
        channels: usize,
        paused: bool,
        sample_rate: f32,
    ) -> Self {
        Self {
            ring,
            status,
            channels,
            paused,
            sample_rate: f64::from(sample_rate),
        }
    }
}

impl AudioProcessor for MediaElementProcessor {
    type Params = NoParams;
    type Message = ElementMessage;

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let Some(output) = io.outputs.first_mut() else {
            return ProcessStatus::Active;
        };
        let channels = self.channels.clamp(1, output.capacity());
        output.make_silent(channels);
        let (Some(ring), Some(status)) = (self.ring.as_mut(), self.status.as_deref()) else {
            return ProcessStatus::Active;
        };
        if self.paused || !ring.primed() {
            return ProcessStatus::Active;
        }
        output.set_channels(channels);
        let read = ring.read(output.channels_mut(), RENDER_QUANTUM);
        status.set_position(ring.from() + ring.frames_read() as f64 / self.sample_rate);
        if read == RENDER_QUANTUM {
            return ProcessStatus::Active;
        }
        for channel in output.channels_mut() {
            channel[read..].fill(0.0);
        }
        if ring.finished() {
            status.set_ended();
            return ProcessStatus::Ended;
        }
        status.count_underrun(RENDER_QUANTUM - read);
        ProcessStatus::Active
    }

    fn update(&mut self, message: &mut ElementMessage) {
        self.paused = message.paused;
        if message.ring.is_some() {
            std::mem::swap(&mut self.ring, &mut message.ring);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::node::audio_listener::ListenerValues;
    use crate::param::Params;
    use crate::render::bus::AudioBus;

    fn run(p: &mut MediaElementProcessor, out: &mut AudioBus) -> ProcessStatus {
        let listener = ListenerValues::default();
        let io = ProcessIo {
            inputs: &[],
            outputs: std::slice::from_mut(out),
            params: Params::new(&[]),
            listener: &listener,
        };
        let ctx = ProcessContext {
            sample_rate: 48_000.0,
            frame: 0,
        };
        p.process(io, &ctx, ProcessPhase::Whole)
    }

    #[test]
    fn plays_the_ring_then_counts_an_underrun_then_ends() {
        let (mut producer, consumer) = rtrb::RingBuffer::new(4 * RENDER_QUANTUM);
        let end = Arc::new(AtomicBool::new(false));
        let status = Arc::new(StreamStatus::default());
        let ring = RingReader::new(consumer, end.clone(), 1, 2.0, RENDER_QUANTUM);
        let mut p =
            MediaElementProcessor::new(Some(ring), Some(status.clone()), 1, false, 48_000.0);
        let mut out = AudioBus::with_capacity(2);

        // Not primed: silence, no underrun.
        assert_eq!(run(&mut p, &mut out), ProcessStatus::Active);
        assert_eq!(status.underruns(), 0);

        for i in 0..RENDER_QUANTUM + 28 {
            producer.push(i as f32).unwrap();
        }
        assert_eq!(run(&mut p, &mut out), ProcessStatus::Active);
        assert_eq!(out.channel(0)[5], 5.0);
        assert_eq!(
            status.current_time(),
            2.0 + RENDER_QUANTUM as f64 / 48_000.0
        );

        // 28 frames left: the rest is silence, counted.
        assert_eq!(run(&mut p, &mut out), ProcessStatus::Active);
        assert_eq!(out.channel(0)[27], (RENDER_QUANTUM + 27) as f32);
        assert_eq!(out.channel(0)[28], 0.0);
        assert_eq!((status.underruns(), status.underrun_frames()), (1, 100));

        end.store(true, Ordering::Release);
        assert_eq!(run(&mut p, &mut out), ProcessStatus::Ended);
        assert!(status.ended());
    }
}
