//! The render side's ends of the streams that feed source nodes from other threads: lock-free
//! ring readers (rtrb) and the atomics they share with their writers. The writers (a file
//! decoder thread, an input device callback) belong to the host.
//!
//! - [`RingReader`] and [`StreamStatus`]: one play session of a streamed file
//!   (`MediaElementAudioSourceNode`). The host's decoder fills the ring; the processor copies
//!   frames out of it and never waits.
//! - [`CaptureConsumer`] and [`ConsumerStats`]: one reader of a captured input
//!   (`MediaStreamAudioSourceNode`, a raw tap). The host's input callback writes every frame
//!   into each reader's ring; [`CaptureSource`] is how a host's stream connects a new reader.
//!   A reader's ring may be narrower or wider than the input: the writer converts each frame
//!   with [`speaker_mix`] (the spec's speaker rules for 1, 2, 4 and 6 channels, discrete
//!   otherwise), so a reader never gets nothing because of its width.
//!
//! Counters are latest-value-wins readings (relaxed atomics) unless a method says otherwise;
//! nothing here blocks, allocates after construction, or frees on the reading side.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use rtrb::Consumer;

use crate::render::bus::RENDER_QUANTUM;

// -------------------------------------------------------------------------------------------
// Streamed files

/// Counters and state of a streamed file, shared by the control side, the decoder thread and
/// the render thread (atomics only).
#[derive(Debug, Default)]
pub struct StreamStatus {
    underruns: AtomicU64,
    underrun_frames: AtomicU64,
    ended: AtomicBool,
    failed: AtomicBool,
    looping: AtomicBool,
    decoded: AtomicU64,
    position_bits: AtomicU64,
    /// The seek generation whose session was started last (control side).
    session_generation: AtomicU32,
}

impl StreamStatus {
    /// Render quanta that found fewer frames in the ring than they needed (the rest was
    /// silence).
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    /// Frames of silence output because of underruns.
    pub fn underrun_frames(&self) -> u64 {
        self.underrun_frames.load(Ordering::Relaxed)
    }

    /// Whether playback reached the end of a non-looping stream ('ended' was sent).
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Whether decoding stopped on an error (the stream then ends early).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Frames the decoder has written into the current session's ring.
    pub fn decoded_frames(&self) -> u64 {
        self.decoded.load(Ordering::Acquire)
    }

    /// The playhead in seconds of the file (`currentTime`), as of the last render quantum.
    pub fn current_time(&self) -> f64 {
        f64::from_bits(self.position_bits.load(Ordering::Relaxed))
    }

    /// Whether the decoder loops the file (the element's `loop`).
    pub fn looping(&self) -> bool {
        self.looping.load(Ordering::Relaxed)
    }

    /// The seek generation whose session was started last.
    pub fn session_generation(&self) -> u32 {
        self.session_generation.load(Ordering::Relaxed)
    }

    /// Counts an underrun of `frames` frames. Called on the real-time thread.
    pub fn count_underrun(&self, frames: usize) {
        self.underruns.fetch_add(1, Ordering::Relaxed);
        self.underrun_frames
            .fetch_add(frames as u64, Ordering::Relaxed);
    }

    /// Marks the stream ended. Called on the real-time thread.
    pub fn set_ended(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Publishes the playhead (`currentTime`). Called on the real-time thread.
    pub fn set_position(&self, seconds: f64) {
        self.position_bits
            .store(seconds.to_bits(), Ordering::Relaxed);
    }

    /// Sets whether the decoder loops the file (control side).
    pub fn set_looping(&self, looping: bool) {
        self.looping.store(looping, Ordering::Relaxed);
    }

    /// A new session of seek generation `generation` starts (control side): nothing decoded
    /// yet, not ended.
    pub fn begin_session(&self, generation: u32) {
        self.decoded.store(0, Ordering::Release);
        self.ended.store(false, Ordering::Release);
        self.session_generation.store(generation, Ordering::Relaxed);
    }

    /// Decoding stopped on an error (decoder thread).
    pub fn set_failed(&self) {
        self.failed.store(true, Ordering::Release);
    }

    /// The decoder wrote `frames` more frames into the session's ring (decoder thread).
    pub fn add_decoded(&self, frames: u64) {
        self.decoded.fetch_add(frames, Ordering::Release);
    }
}

/// The render side's end of one play session's ring: interleaved frames from the decoder.
pub struct RingReader {
    consumer: Consumer<f32>,
    end: Arc<AtomicBool>,
    channels: usize,
    /// Where the session started, in seconds of the file.
    from: f64,
    /// Frames read so far.
    read: u64,
    /// Frames to wait for before the first read (or the end).
    prime: usize,
}

impl fmt::Debug for RingReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingReader")
            .field("channels", &self.channels)
            .field("from", &self.from)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl RingReader {
    /// The reading end of a session's ring (control side): `channels` interleaved, starting
    /// at `from` seconds of the file, playable once `prime` frames are there (or `end` is set:
    /// the writer wrote the session's last frame).
    pub fn new(
        consumer: Consumer<f32>,
        end: Arc<AtomicBool>,
        channels: usize,
        from: f64,
        prime: usize,
    ) -> Self {
        Self {
            consumer,
            end,
            channels: channels.max(1),
            from,
            read: 0,
            prime,
        }
    }

    /// Where the session started, in seconds of the file.
    pub fn from(&self) -> f64 {
        self.from
    }

    /// Frames read so far.
    pub fn frames_read(&self) -> u64 {
        self.read
    }

    /// Whether playback may start: the ring holds the priming amount, or the whole rest.
    /// Called on the real-time thread.
    pub fn primed(&mut self) -> bool {
        if self.prime > 0
            && (self.consumer.slots() >= self.prime * self.channels
                || self.end.load(Ordering::Acquire))
        {
            self.prime = 0;
        }
        self.prime == 0
    }

    /// Reads up to `frames` frames into `out` (deinterleaving); returns how many were read.
    /// Called on the real-time thread.
    pub fn read(&mut self, out: &mut [[f32; RENDER_QUANTUM]], frames: usize) -> usize {
        let available = (self.consumer.slots() / self.channels).min(frames);
        let Ok(chunk) = self.consumer.read_chunk(available * self.channels) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        for (i, &sample) in a.iter().chain(b).enumerate() {
            if let Some(channel) = out.get_mut(i % self.channels) {
                channel[i / self.channels] = sample;
            }
        }
        chunk.commit_all();
        self.read += available as u64;
        available
    }

    /// Whether the decoder wrote the session's last frame and all of it was read.
    pub fn finished(&self) -> bool {
        self.end.load(Ordering::Acquire) && self.consumer.is_empty()
    }
}

// -------------------------------------------------------------------------------------------
// Captured input

/// Counters of one capture reader, written by the input callback (frames written, dropped)
/// and by the reader (a source node's drift control).
#[derive(Debug, Default)]
pub struct ConsumerStats {
    written: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicBool,
    // Reader side (a source node's processor): latest-value-wins readings.
    underruns: AtomicU64,
    skipped: AtomicU64,
    fill_frames: AtomicU32,
    target_frames: AtomicU32,
    ratio_ppm: AtomicI32,
}

impl ConsumerStats {
    /// Frames written into the ring.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Frames that did not fit (overflow, drop newest).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Acquire)
    }

    /// Whether this consumer was refused: its stream already fed the most readers it can
    /// (the host's limit, 32 for `bevy_webaudio`'s microphone). A refused consumer receives
    /// nothing, ever; its host counts the refusal (once) where the application can see it.
    pub fn rejected(&self) -> bool {
        self.rejected.load(Ordering::Acquire)
    }

    /// Source nodes: quanta rendered as silence because the ring ran dry after playing.
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    /// Source nodes: frames skipped to bring latency back after the ring filled far past its
    /// target (a stalled render thread).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Source nodes: frames in the ring at the last quantum (input rate).
    pub fn fill_frames(&self) -> u32 {
        self.fill_frames.load(Ordering::Relaxed)
    }

    /// Source nodes: the fill level the drift control aims at (input frames).
    pub fn target_frames(&self) -> u32 {
        self.target_frames.load(Ordering::Relaxed)
    }

    /// Source nodes: the drift correction applied to the resampling ratio, parts per million.
    pub fn ratio_ppm(&self) -> i32 {
        self.ratio_ppm.load(Ordering::Relaxed)
    }

    /// Writer side: `frames` more frames were written into the ring.
    pub fn add_written(&self, frames: u64) {
        self.written.fetch_add(frames, Ordering::Release);
    }

    /// Writer side: `frames` frames did not fit.
    pub fn add_dropped(&self, frames: u64) {
        self.dropped.fetch_add(frames, Ordering::Release);
    }

    /// Writer side: this consumer is refused. Returns true the first time (count it then),
    /// false when it already was.
    pub fn set_rejected(&self) -> bool {
        !self.rejected.swap(true, Ordering::AcqRel)
    }

    /// Reader side: one more underrun. Called on the real-time thread.
    pub fn count_underrun(&self) {
        self.underruns.fetch_add(1, Ordering::Relaxed);
    }

    /// Reader side: `frames` more frames skipped. Called on the real-time thread.
    pub fn add_skipped(&self, frames: u64) {
        self.skipped.fetch_add(frames, Ordering::Relaxed);
    }

    /// Reader side: the ring's fill at this quantum. Called on the real-time thread.
    pub fn set_fill_frames(&self, frames: u32) {
        self.fill_frames.store(frames, Ordering::Relaxed);
    }

    /// Reader side: the drift control's target fill. Called on the real-time thread.
    pub fn set_target_frames(&self, frames: u32) {
        self.target_frames.store(frames, Ordering::Relaxed);
    }

    /// Reader side: the drift correction in ppm. Called on the real-time thread.
    pub fn set_ratio_ppm(&self, ppm: i32) {
        self.ratio_ppm.store(ppm, Ordering::Relaxed);
    }
}

/// The reading end of one capture reader's ring: interleaved f32 frames. `Send`, not `Sync`:
/// one reader.
pub struct CaptureConsumer {
    consumer: Consumer<f32>,
    stats: Arc<ConsumerStats>,
    channels: usize,
    callback_frames: Arc<AtomicU32>,
    /// The stream's count of live readers, released (decremented) when this one is dropped.
    lease: Option<Arc<AtomicUsize>>,
}

impl Drop for CaptureConsumer {
    fn drop(&mut self) {
        if let Some(lease) = &self.lease {
            lease.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl fmt::Debug for CaptureConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureConsumer")
            .field("channels", &self.channels)
            .field("available_frames", &self.available_frames())
            .field("dropped", &self.stats.dropped())
            .finish()
    }
}

impl CaptureConsumer {
    /// The reading end of a ring of `channels`-wide frames (control side), with its counters
    /// and the stream's "frames in the most recent device callback" reading.
    pub fn new(
        consumer: Consumer<f32>,
        stats: Arc<ConsumerStats>,
        channels: usize,
        callback_frames: Arc<AtomicU32>,
    ) -> Self {
        Self {
            consumer,
            stats,
            channels: channels.max(1),
            callback_frames,
            lease: None,
        }
    }

    /// Holds one unit of `readers` (the stream's count of live readers, already incremented
    /// by the caller for this one) and gives it back when dropped, so a host can refuse a
    /// reader beyond its limit when the reader is connected, not later.
    pub fn with_lease(mut self, readers: Arc<AtomicUsize>) -> Self {
        self.lease = Some(readers);
        self
    }

    /// Interleaved channels per frame: the width this reader asked for, which may differ
    /// from the input's (each frame is converted by [`speaker_mix`]).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Whether this reader was refused (see [`ConsumerStats::rejected`]): it will never
    /// receive a frame.
    pub fn refused(&self) -> bool {
        self.stats.rejected()
    }

    /// Frames waiting to be read. The callback may add more at any moment.
    pub fn available_frames(&self) -> usize {
        self.consumer.slots() / self.channels
    }

    /// The ring's capacity in frames.
    pub fn capacity_frames(&self) -> usize {
        self.consumer.buffer().capacity() / self.channels
    }

    /// Frames in the input device's most recent callback (0 before the first).
    pub fn callback_frames(&self) -> u32 {
        self.callback_frames.load(Ordering::Relaxed)
    }

    /// This consumer's counters.
    pub fn stats(&self) -> &Arc<ConsumerStats> {
        &self.stats
    }

    /// Reads the oldest frames into `out` (interleaved; as many whole frames as fit and are
    /// available) and returns the number of frames read. Does not allocate.
    pub fn read(&mut self, out: &mut [f32]) -> usize {
        let frames = (out.len() / self.channels).min(self.available_frames());
        if frames == 0 {
            return 0;
        }
        let Ok(chunk) = self.consumer.read_chunk(frames * self.channels) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
        chunk.commit_all();
        frames
    }

    /// Reads the most recent frames into `out`, discarding older ones: for a tap that wants
    /// "the latest N samples" (a scope, a meter). Returns the frames read.
    pub fn read_latest(&mut self, out: &mut [f32]) -> usize {
        let want = out.len() / self.channels;
        let available = self.available_frames();
        self.skip(available.saturating_sub(want));
        self.read(out)
    }

    /// Discards up to `frames` of the oldest frames; returns how many were discarded.
    pub fn skip(&mut self, frames: usize) -> usize {
        let frames = frames.min(self.available_frames());
        if frames > 0
            && let Ok(chunk) = self.consumer.read_chunk(frames * self.channels)
        {
            chunk.commit_all();
        }
        frames
    }

    /// Reads exactly `frames` frames, deinterleaved into the first `frames` samples of each of
    /// `planar` (one slice per channel). Returns false (and reads nothing) when fewer are
    /// available. Called on the real-time thread by the source node: does not allocate.
    pub fn read_planar(&mut self, planar: &mut [Vec<f32>], frames: usize) -> bool {
        if self.available_frames() < frames {
            return false;
        }
        let Ok(chunk) = self.consumer.read_chunk(frames * self.channels) else {
            return false;
        };
        let (a, b) = chunk.as_slices();
        let channels = self.channels;
        for (i, &sample) in a.iter().chain(b.iter()).enumerate() {
            let (frame, channel) = (i / channels, i % channels);
            if let Some(dst) = planar.get_mut(channel) {
                dst[frame] = sample;
            }
        }
        chunk.commit_all();
        true
    }
}

const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Output channel `channel` of `out_channels` for one interleaved input `frame` (its length is
/// the input's channel count): the Web Audio spec's speaker rules ("Channel up-mixing and
/// down-mixing") between mono, stereo, quad and 5.1 (L, R, C, LFE, SL, SR), and the
/// discrete rule otherwise (the first channels copied, missing ones silent). Mono → stereo
/// copies the channel to both sides; stereo → mono is `0.5·(L + R)`. Called on the real-time
/// thread by capture writers: no allocation.
#[inline]
pub fn speaker_mix(frame: &[f32], out_channels: usize, channel: usize) -> f32 {
    let s = |i: usize| frame.get(i).copied().unwrap_or(0.0);
    match (frame.len(), out_channels, channel) {
        (from, to, c) if from == to => s(c),
        // Up-mixing.
        (1, 2 | 4, 0 | 1) | (1, 6, 2) => s(0),
        (1, 2 | 4 | 6, _) => 0.0,
        (2, 4 | 6, 0 | 1) | (4, 6, 0 | 1) => s(channel),
        (2, 4 | 6, _) => 0.0,
        (4, 6, 4 | 5) => s(channel - 2),
        (4, 6, _) => 0.0,
        // Down-mixing.
        (2, 1, _) => 0.5 * (s(0) + s(1)),
        (4, 1, _) => 0.25 * (s(0) + s(1) + s(2) + s(3)),
        (6, 1, _) => SQRT_HALF * (s(0) + s(1)) + s(2) + 0.5 * (s(4) + s(5)),
        (4, 2, c) => 0.5 * (s(c) + s(c + 2)),
        (6, 2, c) => s(c) + SQRT_HALF * (s(2) + s(4 + c)),
        (6, 4, 0 | 1) => s(channel) + SQRT_HALF * s(2),
        (6, 4, c) => s(c + 2),
        // Discrete.
        (_, _, c) => s(c),
    }
}

/// A captured input a source node can read: its format, and a way to connect a new reader
/// (implemented by the host's stream, e.g. `bevy_webaudio`'s `MediaStream`).
pub trait CaptureSource {
    /// The input sample rate in Hz.
    fn sample_rate(&self) -> u32;

    /// Interleaved channels per frame.
    fn channels(&self) -> u16;

    /// Connects a new source-node reader with room for `capacity_frames` frames (control
    /// side: allocates the ring). A host that cannot feed another reader returns a refused
    /// one ([`CaptureConsumer::refused`]) and counts the refusal; the node then plays
    /// silence.
    fn connect_source_node(&self, capacity_frames: usize) -> CaptureConsumer;
}
