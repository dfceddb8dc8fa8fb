//! The capture path: the input callback writes every frame into one rtrb ring per consumer.
//!
//! ```text
//!  control side                              input callback (real-time)
//!  ────────────                              ──────────────────────────
//!  MediaStream::connect ─ Box<Registration> ─▶ CaptureCore::write: adopt new consumers,
//!    (allocates the ring)   (incoming queue)     convert f32/i16/u16/i32 → f32,
//!  collect_garbage      ◀─ Box<Registration> ─   copy into each consumer's ring,
//!    (drops it here)        (retired queue)      retire consumers whose reader is gone
//! ```
//!
//! - **Nothing is allocated, freed, locked or blocked on in [`CaptureCore::write`].** Rings
//!   are allocated by [`MediaStream::connect`] on the control side and handed over through a
//!   lock-free queue; the consumer list has a fixed capacity ([`MAX_CONSUMERS`]); a consumer
//!   whose reading end was dropped is sent back through a second queue and freed by
//!   [`MediaStream::collect_garbage`] on the control side.
//! - **Overflow policy: drop newest.** When a consumer's ring is full, the frames of the
//!   current callback that do not fit are discarded for that consumer (the ring keeps the
//!   older frames it holds; only whole frames are written) and counted exactly in its
//!   [`ConsumerStats::dropped`]. Other consumers are unaffected. A single-producer ring cannot
//!   discard from the reader's end, and readers that care about latency (the source node)
//!   skip ahead themselves.
//! - With no consumer the frames are counted as captured and not kept (nothing is "lost").
//! - **No reader silently gets nothing.**
//!   - *Width.* A reader whose ring is narrower or wider than the input (one that asked for
//!     another channel count with [`MediaStream::try_connect_channels`], or one connected
//!     before a device opened with another count) gets every frame converted by the speaker
//!     rules ([`speaker_mix`]: mono → stereo copies, stereo → mono is `0.5·(L + R)`), at the
//!     stream's current rate. Converting costs a few operations per sample in the callback;
//!     refusing would leave the reader with nothing. (A source node's ring of another width
//!     is the exception: it belongs to a processor built for the old format, which the node
//!     is replacing with one of the new width, so it is not fed.)
//!   - *Limit.* The stream feeds at most [`MAX_CONSUMERS`] live readers. The control side
//!     counts them (each [`CaptureConsumer`] holds a lease it gives back when dropped), so a
//!     33rd is refused where it is connected: [`MediaStream::try_connect`] returns
//!     [`MicrophoneError::TooManyConsumers`], and [`MediaStream::connect`] (which cannot
//!     fail: a source node's processor, a tap of [`Microphone::tap`](super::Microphone::tap))
//!     returns a reader marked [`CaptureConsumer::refused`]. Every refusal is counted in
//!     [`MediaStream::refused_consumers`] (the microphone resource logs the first one). The
//!     callback retires the readers that were dropped before it adopts new ones, so a reader
//!     dropped and replaced between two callbacks is never the reason for a refusal; the
//!     callback's own refusal (counted the same way) is left for a list still full of
//!     dropped readers it could not retire because the control side stopped collecting them.
//! - The core lives in a one-place lock-free slot ([`CoreSlot`]) that the callback borrows
//!   for each call, so when a stream dies the consumers survive and the next stream (after a
//!   device comes back) feeds the same rings.

// Without the `cpal` feature there is no input device: its bookkeeping goes unused.
#![cfg_attr(not(feature = "cpal"), allow(dead_code))]

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use bevy::prelude::Reflect;
use crossbeam_queue::{ArrayQueue, SegQueue};
use rtrb::{Producer, RingBuffer};
pub use webaudio_engine::stream::{CaptureConsumer, ConsumerStats, speaker_mix};

use super::MicrophoneError;

/// The most consumers (source nodes, taps, the analysis worker) one input feeds at once.
pub const MAX_CONSUMERS: usize = 32;

/// The widest reader [`MediaStream::try_connect_channels`] accepts (the spec's
/// `maxChannelCount` for an `AudioContext` is at least 32).
pub const MAX_READER_CHANNELS: u16 = 32;

/// Frames converted per step in the callback (bigger device buffers are processed in chunks).
const CONVERT_FRAMES: usize = 2048;

/// A device sample format the capture path converts to f32 (the device layer's
/// conversions, shared with the output).
pub use crate::device::DeviceSample as InputSample;

/// Who reads a ring (for the diagnostics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Reflect)]
pub enum ConsumerKind {
    /// The level/pitch/voice analysis worker.
    Analysis,
    /// A raw tap ([`crate::microphone::Microphone::tap`]).
    Tap,
    /// A `MediaStreamAudioSourceNode`'s processor.
    SourceNode,
}

/// One consumer as the callback holds it: the writing end of its ring and its counters.
pub struct Registration {
    producer: Producer<f32>,
    stats: Arc<ConsumerStats>,
    /// Frame width of the ring. When it differs from the input's, each frame is converted
    /// ([`speaker_mix`]).
    channels: usize,
    /// False for a source node's ring: one of another width belongs to a processor built for
    /// an older format, which its node is replacing (it would only fill up and count drops
    /// until the old processor is freed), so it is not fed.
    convert: bool,
}

impl Registration {
    /// Writes as many whole frames of `samples` (interleaved, `from` channels wide),
    /// converted to the ring's width, as fit and counts the rest as dropped. Called on the
    /// real-time thread.
    fn push(&mut self, samples: &[f32], from: usize) {
        let to = self.channels;
        if to != from && !self.convert {
            return;
        }
        let frames = samples.len() / from;
        let fit = (self.producer.slots() / to).min(frames);
        if fit > 0
            && let Ok(chunk) = self.producer.write_chunk_uninit(fit * to)
        {
            if from == to {
                chunk.fill_from_iter(samples[..fit * to].iter().copied());
            } else {
                chunk.fill_from_iter(
                    samples[..fit * from]
                        .chunks_exact(from)
                        .flat_map(|frame| (0..to).map(move |c| speaker_mix(frame, to, c))),
                );
            }
        }
        self.stats.add_written(fit as u64);
        if fit < frames {
            self.stats.add_dropped((frames - fit) as u64);
        }
    }
}

/// What the input callback reports, and the queues between it and the control side.
pub struct CaptureShared {
    incoming: ArrayQueue<Box<Registration>>,
    retired: ArrayQueue<Box<Registration>>,
    registry: SegQueue<(ConsumerKind, Arc<ConsumerStats>)>,
    /// Frames delivered by the device (kept or not).
    pub(crate) captured: AtomicU64,
    /// Device-side overruns (cpal `Xrun` on the input streams, all of them).
    pub(crate) xruns: AtomicU64,
    /// Frames in the most recent callback (shared with every reader).
    pub(crate) callback_frames: Arc<AtomicU32>,
    /// Consumers the callback currently feeds.
    pub(crate) active: AtomicUsize,
    /// Live readers (connected and not dropped), each holding a lease on this count.
    readers: Arc<AtomicUsize>,
    /// Readers refused (the limit was reached), by the control side or the callback.
    refused: AtomicU64,
    sample_rate: AtomicU32,
    channels: AtomicU32,
    /// Bumped each time the format changes (a device opened with another rate or channel
    /// count): readers built for the old format rebuild their rings.
    format_generation: AtomicU64,
}

impl CaptureShared {
    fn new(sample_rate: u32, channels: u16) -> Self {
        Self {
            incoming: ArrayQueue::new(MAX_CONSUMERS),
            retired: ArrayQueue::new(MAX_CONSUMERS * 2),
            registry: SegQueue::new(),
            captured: AtomicU64::new(0),
            xruns: AtomicU64::new(0),
            callback_frames: Arc::new(AtomicU32::new(0)),
            active: AtomicUsize::new(0),
            readers: Arc::new(AtomicUsize::new(0)),
            refused: AtomicU64::new(0),
            sample_rate: AtomicU32::new(sample_rate),
            channels: AtomicU32::new(u32::from(channels)),
            format_generation: AtomicU64::new(0),
        }
    }

    pub(crate) fn set_format(&self, sample_rate: u32, channels: u16) {
        let old = (
            self.sample_rate.swap(sample_rate, Ordering::AcqRel),
            self.channels.swap(u32::from(channels), Ordering::AcqRel),
        );
        if old != (sample_rate, u32::from(channels)) {
            self.format_generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Marks `stats` refused and counts it, once per reader.
    fn refuse(&self, stats: &ConsumerStats) {
        if stats.set_rejected() {
            self.refused.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Takes one unit of the live-reader count, unless [`MAX_CONSUMERS`] are live.
    fn lease(&self) -> bool {
        self.readers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CONSUMERS).then_some(n + 1)
            })
            .is_ok()
    }

    pub(crate) fn drain_registry(
        &self,
    ) -> impl Iterator<Item = (ConsumerKind, Arc<ConsumerStats>)> + '_ {
        std::iter::from_fn(|| self.registry.pop())
    }
}

/// A handle to the microphone's sample stream (the Web Audio `MediaStream`): cheap to clone,
/// used to connect readers. Build a `MediaStreamAudioSourceNode` from it.
#[derive(Clone)]
pub struct MediaStream {
    shared: Arc<CaptureShared>,
}

impl fmt::Debug for MediaStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaStream")
            .field("sample_rate", &self.sample_rate())
            .field("channels", &self.channels())
            .finish()
    }
}

impl PartialEq for MediaStream {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl MediaStream {
    /// A stream with no device behind it yet, at the given format, and the (empty) slot its
    /// capture core lives in.
    pub fn new(sample_rate: u32, channels: u16) -> (Self, CoreSlot) {
        let shared = Arc::new(CaptureShared::new(sample_rate, channels.max(1)));
        let mut core = CaptureCore::new(shared.clone());
        core.prepare(channels.max(1));
        let slot = CoreSlot(Arc::new(ArrayQueue::new(1)));
        let _ = slot.0.push(Box::new(core));
        (Self { shared }, slot)
    }

    /// The input sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.shared.sample_rate.load(Ordering::Acquire)
    }

    /// Interleaved channels per frame.
    pub fn channels(&self) -> u16 {
        self.shared.channels.load(Ordering::Acquire) as u16
    }

    /// How many times the format changed since the stream was made (a device that opened
    /// after the stream was created, with another rate or channel count). Readers connected
    /// before a change receive nothing until they reconnect; source nodes do so by
    /// themselves.
    pub fn format_generation(&self) -> u64 {
        self.shared.format_generation.load(Ordering::Acquire)
    }

    pub(crate) fn shared(&self) -> &CaptureShared {
        &self.shared
    }

    /// Connects a new reader with room for `capacity_frames` frames of the stream's width.
    /// Allocates the ring here (control side) and hands its writing end to the callback,
    /// which adopts it on its next call. Dropping the returned consumer disconnects it.
    ///
    /// Never fails: when [`MAX_CONSUMERS`] readers are live, the reader returned is refused
    /// ([`CaptureConsumer::refused`]; it will never receive a frame) and the refusal is
    /// counted in [`MediaStream::refused_consumers`]. [`MediaStream::try_connect`] says so
    /// with an error instead.
    pub fn connect(&self, kind: ConsumerKind, capacity_frames: usize) -> CaptureConsumer {
        let channels = self.channels();
        self.try_connect_channels(kind, capacity_frames, channels)
            .unwrap_or_else(|_| {
                // Not connected: a one-frame ring nobody writes, marked refused and counted.
                let channels = usize::from(channels.max(1));
                let (_, consumer) = RingBuffer::new(channels);
                let stats = Arc::new(ConsumerStats::default());
                stats.set_rejected(); // counted by `try_connect_channels`
                self.shared.registry.push((kind, stats.clone()));
                CaptureConsumer::new(
                    consumer,
                    stats,
                    channels,
                    self.shared.callback_frames.clone(),
                )
            })
    }

    /// [`MediaStream::connect`], or an error when the reader cannot be fed.
    ///
    /// # Errors
    /// [`MicrophoneError::TooManyConsumers`] when [`MAX_CONSUMERS`] readers are live (the
    /// refusal is also counted in [`MediaStream::refused_consumers`]).
    pub fn try_connect(
        &self,
        kind: ConsumerKind,
        capacity_frames: usize,
    ) -> Result<CaptureConsumer, MicrophoneError> {
        self.try_connect_channels(kind, capacity_frames, self.channels())
    }

    /// A reader whose frames are `channels` wide whatever the input's width: the callback
    /// converts each frame by the speaker rules ([`speaker_mix`]; a mono reader of a stereo
    /// microphone gets `0.5·(L + R)`, a stereo reader of a mono one gets the channel on both
    /// sides). Otherwise as [`MediaStream::try_connect`].
    ///
    /// # Errors
    /// [`MicrophoneError::UnsupportedChannels`] for 0 or more than [`MAX_READER_CHANNELS`]
    /// channels; [`MicrophoneError::TooManyConsumers`] when [`MAX_CONSUMERS`] readers are
    /// live (counted in [`MediaStream::refused_consumers`]).
    pub fn try_connect_channels(
        &self,
        kind: ConsumerKind,
        capacity_frames: usize,
        channels: u16,
    ) -> Result<CaptureConsumer, MicrophoneError> {
        if channels == 0 || channels > MAX_READER_CHANNELS {
            return Err(MicrophoneError::UnsupportedChannels(channels));
        }
        if !self.shared.lease() {
            self.shared.refused.fetch_add(1, Ordering::AcqRel);
            return Err(MicrophoneError::TooManyConsumers(MAX_CONSUMERS));
        }
        let channels = usize::from(channels);
        let (producer, consumer) = RingBuffer::new(capacity_frames.max(1) * channels);
        let stats = Arc::new(ConsumerStats::default());
        let registration = Box::new(Registration {
            producer,
            stats: stats.clone(),
            channels,
            convert: kind != ConsumerKind::SourceNode,
        });
        if let Err(registration) = self.push_incoming(registration) {
            // Only when other threads connect at the same moment: the reader is refused
            // (counted), not left waiting.
            self.shared.refuse(&registration.stats);
        }
        self.shared.registry.push((kind, stats.clone()));
        let consumer = CaptureConsumer::new(
            consumer,
            stats,
            channels,
            self.shared.callback_frames.clone(),
        );
        Ok(consumer.with_lease(self.shared.readers.clone()))
    }

    /// Hands a registration to the callback. The queue holds [`MAX_CONSUMERS`]; when no
    /// callback ran for a while (no device) it may be full of readers dropped before they
    /// were adopted: those are taken out and freed here (control side), so a live reader
    /// always finds room.
    fn push_incoming(&self, registration: Box<Registration>) -> Result<(), Box<Registration>> {
        let registration = match self.shared.incoming.push(registration) {
            Ok(()) => return Ok(()),
            Err(registration) => registration,
        };
        for _ in 0..MAX_CONSUMERS {
            let Some(waiting) = self.shared.incoming.pop() else {
                break;
            };
            if !waiting.producer.is_abandoned() && self.shared.incoming.push(waiting).is_err() {
                break;
            }
        }
        self.shared.incoming.push(registration)
    }

    /// Drops the consumers the callback has retired (their readers are gone). Control side.
    /// Returns how many were freed.
    pub fn collect_garbage(&self) -> usize {
        let mut n = 0;
        while let Some(registration) = self.shared.retired.pop() {
            drop(registration);
            n += 1;
        }
        n
    }

    /// Frames delivered by the device so far.
    pub fn captured_frames(&self) -> u64 {
        self.shared.captured.load(Ordering::Acquire)
    }

    /// Consumers the callback feeds now.
    pub fn active_consumers(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Readers connected and not dropped yet (at most [`MAX_CONSUMERS`]).
    pub fn live_readers(&self) -> usize {
        self.shared.readers.load(Ordering::Acquire)
    }

    /// Readers refused since the stream was made because [`MAX_CONSUMERS`] were live: by
    /// [`MediaStream::try_connect`] (an error), [`MediaStream::connect`] (a reader that
    /// never receives a frame) or, rarely, the callback. Zero when every reader is fed.
    pub fn refused_consumers(&self) -> u64 {
        self.shared.refused.load(Ordering::Acquire)
    }
}

/// A raw tap on the microphone: read the latest samples without any allocation in the
/// callback (for recording or speech recognition). See [`CaptureConsumer`] for the methods.
pub type MicrophoneTap = CaptureConsumer;

/// The callback's state: the consumers it feeds and a conversion buffer. Lives in a
/// [`CoreSlot`].
pub struct CaptureCore {
    shared: Arc<CaptureShared>,
    // Boxed: registrations travel through the queues as one pointer, allocated and freed on
    // the control side only.
    #[allow(clippy::vec_box)]
    consumers: Vec<Box<Registration>>,
    scratch: Vec<f32>,
}

impl CaptureCore {
    fn new(shared: Arc<CaptureShared>) -> Self {
        Self {
            shared,
            consumers: Vec::with_capacity(MAX_CONSUMERS),
            scratch: Vec::new(),
        }
    }

    /// Sizes the conversion buffer for `channels` (control side, before a stream starts).
    pub(crate) fn prepare(&mut self, channels: u16) {
        self.scratch = vec![0.0; CONVERT_FRAMES * usize::from(channels.max(1))];
    }

    /// Retires the consumers whose reader was dropped, then adopts those handed over by the
    /// control side (in that order, so a reader replaced between two calls finds its
    /// predecessor's place). Called on the real-time thread: nothing is freed here.
    fn adopt(&mut self) {
        let mut i = 0;
        while i < self.consumers.len() {
            if self.consumers[i].producer.is_abandoned() {
                let registration = self.consumers.swap_remove(i);
                if let Err(registration) = self.shared.retired.push(registration) {
                    // The control side has not collected for a while: keep it, next call.
                    self.consumers.push(registration);
                    break;
                }
            } else {
                i += 1;
            }
        }
        // Bounded by the queue's capacity (a control side connecting all along cannot keep
        // the callback here).
        for _ in 0..MAX_CONSUMERS {
            let Some(mut registration) = self.shared.incoming.pop() else {
                break;
            };
            if registration.producer.is_abandoned() {
                match self.shared.retired.push(registration) {
                    Ok(()) => continue,
                    // Adopted, and retired on a later call.
                    Err(back) => registration = back,
                }
            }
            if self.consumers.len() < MAX_CONSUMERS && !registration.stats.rejected() {
                self.consumers.push(registration);
                continue;
            }
            self.shared.refuse(&registration.stats);
            if let Err(registration) = self.shared.retired.push(registration) {
                // No room anywhere: it waits (refused, counted once) for the control side to
                // collect; if even that queue filled meanwhile, leak it rather than free here.
                if let Err(registration) = self.shared.incoming.push(registration) {
                    std::mem::forget(registration);
                }
                break;
            }
        }
        self.shared
            .active
            .store(self.consumers.len(), Ordering::Release);
    }

    /// Takes one device buffer (interleaved, the stream's channel count): converts it to f32
    /// and copies it into every consumer's ring. Called on the real-time thread: no
    /// allocation, lock or blocking.
    pub fn write<T: InputSample>(&mut self, data: &[T]) {
        self.adopt();
        let channels = self.shared.channels.load(Ordering::Relaxed).max(1) as usize;
        let frames = data.len() / channels;
        self.shared
            .callback_frames
            .store(frames as u32, Ordering::Relaxed);
        self.shared
            .captured
            .fetch_add(frames as u64, Ordering::Release);
        if self.consumers.is_empty() || frames == 0 {
            return;
        }
        let chunk = (self.scratch.len() / channels) * channels;
        if chunk == 0 {
            return; // not prepared (control-side bug): keep nothing rather than allocate
        }
        for block in data[..frames * channels].chunks(chunk) {
            let out = &mut self.scratch[..block.len()];
            for (d, s) in out.iter_mut().zip(block) {
                *d = s.to_f32();
            }
            for consumer in &mut self.consumers {
                consumer.push(out, channels);
            }
        }
    }
}

/// A one-place lock-free home for the [`CaptureCore`]: the input callback pops it, writes,
/// and pushes it back (no allocation: the box moves). When the stream is dropped the core is
/// in the slot again, consumers and all.
#[derive(Clone)]
pub struct CoreSlot(Arc<ArrayQueue<Box<CaptureCore>>>);

impl CoreSlot {
    /// Runs `f` with the core if it is home. Called on the real-time thread (or by a test
    /// feeding simulated input).
    pub fn with<R>(&self, f: impl FnOnce(&mut CaptureCore) -> R) -> Option<R> {
        let mut core = self.0.pop()?;
        let result = f(&mut core);
        let _ = self.0.push(core);
        Some(result)
    }

    /// Feeds one buffer of input as a device callback would (simulated devices and tests).
    pub fn write<T: InputSample>(&self, data: &[T]) {
        self.with(|core| core.write(data));
    }
}

/// The cpal input stream, on the shared device layer (`crate::device`).
#[cfg(feature = "cpal")]
pub(crate) mod device {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use cpal::{BufferSize, SizedSample};

    use super::{CoreSlot, MediaStream};
    use crate::device::{self, DeviceSample, Direction, Plan, Request, StreamHealth, WithSample};
    use crate::microphone::{InputDeviceInfo, MicrophoneConfig, MicrophoneError};

    /// An open input stream, watched. Dropping it releases the stream through the device
    /// layer (off this thread, bounded wait).
    pub(crate) struct InputStream {
        pub(crate) stream: device::Stream,
        pub(crate) info: InputDeviceInfo,
    }

    /// Opens the configured input device (by name, or the default) at the rate and channels
    /// configured, or else those the device gives, and starts a stream feeding `slot`. When
    /// the format differs from the stream's, its format generation moves on and readers
    /// rebuild their rings.
    pub(crate) fn open(
        config: &MicrophoneConfig,
        stream: &MediaStream,
        slot: &CoreSlot,
    ) -> Result<InputStream, MicrophoneError> {
        let request = Request {
            device: config.device.as_deref(),
            sample_rate: config.sample_rate,
            channels: config.channels,
        };
        let plan = device::plan(Direction::Input, request, |_| {
            config
                .buffer_frames
                .map_or(BufferSize::Default, BufferSize::Fixed)
        })?;
        let health = Arc::new(StreamHealth::default());
        let cpal_stream = device::with_sample(
            plan.format,
            Capture {
                plan: &plan,
                stream,
                slot,
                health: &health,
            },
        )??;
        let (sample_rate, channels) = (plan.config.sample_rate, plan.config.channels);
        Ok(InputStream {
            stream: device::Stream::play(cpal_stream, health, device::INPUT, "microphone")?,
            info: InputDeviceInfo {
                name: plan.name,
                sample_rate,
                channels,
                sample_format: format!("{:?}", plan.format),
                requested_buffer_frames: config.buffer_frames,
            },
        })
    }

    /// Builds the input stream for one sample type.
    struct Capture<'a> {
        plan: &'a Plan,
        stream: &'a MediaStream,
        slot: &'a CoreSlot,
        health: &'a Arc<StreamHealth>,
    }

    impl WithSample for Capture<'_> {
        type Output = Result<cpal::Stream, MicrophoneError>;

        fn run<T: DeviceSample + SizedSample>(self) -> Self::Output {
            let (sample_rate, channels) = (self.plan.config.sample_rate, self.plan.config.channels);
            self.stream.shared().set_format(sample_rate, channels);
            self.slot
                .with(|core| core.prepare(channels))
                .ok_or_else(|| MicrophoneError::StreamFailed("capture core busy".into()))?;
            let slot = self.slot.clone();
            let xruns = self.stream.clone();
            let on_xrun = move || {
                xruns.shared().xruns.fetch_add(1, Ordering::Relaxed);
            };
            let capture = move |data: &[T]| slot.write(data);
            Ok(device::build_input(
                self.plan,
                self.health,
                on_xrun,
                capture,
            )?)
        }
    }
}
