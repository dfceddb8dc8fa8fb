//! Streaming decode for [`MediaElementAudioSourceNode`](crate::node::media_element_audio_source::MediaElementAudioSourceNode):
//! a background thread decodes a file packet by packet (resampled to the context's rate with
//! the same high-quality resampler as buffers) into a lock-free SPSC ring (rtrb) that the
//! render thread reads, so a 10-minute track never sits decoded in memory.
//!
//! Each play position is a *session*: the control side makes a new ring, sends its producer to
//! the decoder thread with the position to seek to, and sends the consumer to the processor
//! in an attributes message. The decoder serves the newest session; the replaced ring goes
//! back to the control side. Looping is done by the decoder (it seeks to 0 at the end of the
//! file and keeps the resampler running), so the loop seam has no gap. The decoder waits on
//! its command channel with a short timeout while the ring is full; the render thread only
//! reads what is there, and counts an underrun when it is not enough.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::Duration;

use webaudio_engine::stream::RingReader;
pub use webaudio_engine::stream::StreamStatus;

use super::loader::{AudioLoadError, OpenStream};
use super::resample::StreamResampler;

/// How long the decoder sleeps when the ring is full (it also wakes on a command).
const REFILL_POLL: Duration = Duration::from_millis(4);

/// One play position: the ring the decoder fills.
struct Session {
    from: f64,
    rate: f32,
    producer: rtrb::Producer<f32>,
    end: Arc<AtomicBool>,
}

/// An open file streamed by a decoder thread (shared by the clones of a node component).
pub struct MediaElement {
    commands: Sender<Session>,
    status: Arc<StreamStatus>,
    channels: usize,
    sample_rate: u32,
}

impl fmt::Debug for MediaElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaElement")
            .field("channels", &self.channels)
            .field("sample_rate", &self.sample_rate)
            .finish_non_exhaustive()
    }
}

impl MediaElement {
    /// Opens `path` and starts its decoder thread (idle until a node plays it).
    ///
    /// # Errors
    /// An [`AudioLoadError`] when the file cannot be read or is not decodable audio.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AudioLoadError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Err(AudioLoadError::Empty);
        }
        let extension = path.extension().and_then(|e| e.to_str());
        Self::from_source(Box::new(file), extension)
    }

    /// As [`MediaElement::open`], from any seekable source (a slow network reader, a test's
    /// stalling reader).
    ///
    /// # Errors
    /// As [`MediaElement::open`].
    pub fn from_source(
        source: Box<dyn symphonia::core::io::MediaSource>,
        extension: Option<&str>,
    ) -> Result<Self, AudioLoadError> {
        let stream = OpenStream::open(source, extension)?;
        let (channels, sample_rate) = (stream.channels.max(1), stream.sample_rate);
        let status = Arc::new(StreamStatus::default());
        let (commands, receiver) = std::sync::mpsc::channel();
        let decoder = Decoder {
            stream,
            commands: receiver,
            status: status.clone(),
        };
        std::thread::Builder::new()
            .name("webaudio-stream".into())
            .spawn(move || decoder.run())?;
        Ok(Self {
            commands,
            status,
            channels,
            sample_rate,
        })
    }

    /// The file's channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The file's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The shared counters.
    pub fn status(&self) -> &Arc<StreamStatus> {
        &self.status
    }

    /// Starts a session at `from` seconds, resampled to `rate`, with a ring of `ring_frames`
    /// frames (control side: allocates). Records `generation` as the started one.
    pub(crate) fn start(
        &self,
        from: f64,
        rate: f32,
        ring_frames: usize,
        generation: u32,
    ) -> RingReader {
        let (producer, consumer) = rtrb::RingBuffer::new(ring_frames * self.channels);
        let end = Arc::new(AtomicBool::new(false));
        self.status.begin_session(generation);
        let session = Session {
            from,
            rate,
            producer,
            end: end.clone(),
        };
        if self.commands.send(session).is_err() {
            // The decoder thread is gone: the ring ends at once.
            end.store(true, Ordering::Release);
        }
        RingReader::new(consumer, end, self.channels, from, ring_frames / 4)
    }

    /// The seek generation whose session was started last.
    pub(crate) fn started_generation(&self) -> u32 {
        self.status.session_generation()
    }
}

/// The decoder thread's state.
struct Decoder {
    stream: OpenStream,
    commands: Receiver<Session>,
    status: Arc<StreamStatus>,
}

/// The session being filled.
struct Active {
    session: Session,
    resampler: Option<StreamResampler>,
    /// Decoded, interleaved samples not yet in the ring.
    pending: Vec<f32>,
    offset: usize,
    planar: Vec<Vec<f32>>,
    /// The file (or error) ended: nothing more to decode.
    done: bool,
    /// Frames decoded since this pass through the file began (the session's start, or the
    /// last loop back to 0).
    pass_frames: u64,
    /// Whether this pass began at the file's start (then an empty pass means an empty file).
    pass_from_start: bool,
}

impl Decoder {
    fn run(mut self) {
        let mut active: Option<Active> = None;
        loop {
            let busy = active.as_mut().is_some_and(|a| self.fill(a));
            let next = if busy {
                self.commands
                    .try_recv()
                    .map_err(|e| e == TryRecvError::Disconnected)
            } else if active.is_some() {
                self.commands
                    .recv_timeout(REFILL_POLL)
                    .map_err(|e| e == RecvTimeoutError::Disconnected)
            } else {
                self.commands.recv().map_err(|_| true)
            };
            match next {
                Ok(session) => active = Some(self.begin(session)),
                Err(true) => return,
                Err(false) => {}
            }
        }
    }

    /// Seeks to the session's position and sets up its resampler.
    fn begin(&mut self, session: Session) -> Active {
        let mut done = false;
        if let Err(error) = self.stream.seek(session.from) {
            bevy::log::warn!("stream seek to {} s failed: {error}", session.from);
            self.status.set_failed();
            done = true;
        }
        let channels = self.stream.channels.max(1);
        let session_from_start = session.from <= 0.0;
        Active {
            resampler: StreamResampler::new(self.stream.sample_rate as f32, session.rate, channels),
            session,
            pending: Vec::new(),
            offset: 0,
            planar: vec![Vec::new(); channels],
            done,
            pass_frames: 0,
            pass_from_start: session_from_start,
        }
    }

    /// Moves decoded audio into the ring. `false` when there is nothing to do now (the ring
    /// is full, or the session is done).
    fn fill(&mut self, a: &mut Active) -> bool {
        if a.offset < a.pending.len() && !self.push_pending(a) {
            return false;
        }
        if a.done {
            a.session.end.store(true, Ordering::Release);
            return false;
        }
        self.decode_packet(a);
        true
    }

    /// Writes as much of the pending samples as fits. `true` when all of them fit.
    fn push_pending(&self, a: &mut Active) -> bool {
        let channels = a.planar.len();
        let room = a.session.producer.slots() / channels * channels;
        let n = room.min(a.pending.len() - a.offset);
        if let Ok(chunk) = a.session.producer.write_chunk_uninit(n) {
            chunk.fill_from_iter(a.pending[a.offset..a.offset + n].iter().copied());
        }
        a.offset += n;
        self.status.add_decoded((n / channels) as u64);
        a.offset == a.pending.len()
    }

    /// Decodes one packet (or handles the end of the file) into `pending`.
    fn decode_packet(&mut self, a: &mut Active) {
        a.pending.clear();
        a.offset = 0;
        a.planar.iter_mut().for_each(Vec::clear);
        let outcome = match self.stream.next_frames() {
            Ok(Some(frames)) => {
                a.pass_frames += frames.first().map_or(0, |f| f.len() as u64);
                match a.resampler.as_mut() {
                    Some(r) => r.push(&frames, &mut a.planar),
                    None => {
                        for (p, f) in a.planar.iter_mut().zip(&frames) {
                            p.extend_from_slice(f);
                        }
                    }
                }
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(true) => {}
            // A whole pass from the start with nothing decodable (an empty or wholly corrupt
            // file): looping again would spin a core for ever. The session ends, failed.
            Ok(false) if self.status.looping() && a.pass_from_start && a.pass_frames == 0 => {
                let error = AudioLoadError::Corrupt {
                    frames: 0,
                    reason: "a looping stream found no decodable frames in the file".into(),
                };
                self.fail(a, &error);
            }
            Ok(false) if self.status.looping() => {
                a.pass_frames = 0;
                a.pass_from_start = true;
                if let Err(error) = self.stream.seek(0.0) {
                    self.fail(a, &error);
                }
            }
            Ok(false) => {
                if let Some(r) = a.resampler.as_mut() {
                    r.finish(&mut a.planar);
                }
                a.done = true;
            }
            Err(error) => self.fail(a, &error),
        }
        interleave(&a.planar, &mut a.pending);
    }

    /// Decoding stopped on `error`: the session ends with what was decoded.
    fn fail(&self, a: &mut Active, error: &AudioLoadError) {
        bevy::log::warn!("streaming decode stopped: {error}");
        self.status.set_failed();
        a.done = true;
    }
}

/// Appends planar `channels` to `out`, interleaved.
fn interleave(channels: &[Vec<f32>], out: &mut Vec<f32>) {
    let frames = channels.first().map_or(0, Vec::len);
    out.reserve(frames * channels.len());
    for i in 0..frames {
        out.extend(channels.iter().map(|c| c[i]));
    }
}
