//! The microphone: a lock-free capture path, a [`Microphone`]
//! resource for voice-reactive gameplay, and the stream behind
//! [`MediaStreamAudioSourceNode`](crate::node::media_stream_audio_source::MediaStreamAudioSourceNode).
//!
//! Opt-in: add [`MicrophonePlugin`] (after [`WebAudioPlugin`](crate::WebAudioPlugin) if you
//! also want the microphone in the graph). Without it no input device is opened and no
//! thread runs.
//!
//! ```text
//!  cpal input callback ──▶ one rtrb ring per consumer ──▶ analysis worker thread ──▶ Microphone
//!   (capture.rs: convert,   (drop newest on overflow,     (analysis.rs: level,       (First:
//!    no alloc/lock/block)    counted per consumer)          peak, pitch, voice)        resource
//!                                              ──▶ MediaStreamAudioSourceNode          + messages)
//!                                              ──▶ MicrophoneTap (gameplay reads raw samples)
//! ```
//!
//! - The **capture callback** ([`capture`]) converts f32/i16/u16/i32 to f32 and copies each
//!   buffer into every consumer's ring. Rings are allocated on the control side and handed
//!   over through a lock-free queue; see that module for the overflow policy (drop newest,
//!   counted exactly).
//! - The **analysis** ([`analysis`]) runs on a worker thread with its own ring and sends each
//!   window's [`Analysis`] back through an rtrb ring (FIFO: voice edges must not be lost; the
//!   resource keeps the latest reading). When the app stops updating and that ring fills, the
//!   worker keeps every edge, in order (readings in between are superseded by later ones):
//!   the next update sees every edge (up to 1,024 at once; any beyond follow in the next
//!   updates, none is lost), and the latest reading one frame later.
//! - The **resource** is refreshed in `First` ([`MicrophoneSystems::Update`]): readings,
//!   counters, device health. Voice edges become [`VoiceStarted`] / [`VoiceStopped`] messages
//!   (and global observer events); device problems a [`MicrophoneFault`] message, logged
//!   once per outage. With no device the resource reports [`MicrophoneStatus::Unavailable`]
//!   and the game runs on; the configured device (by name, or the default) is retried every
//!   two seconds and picked up, at the rate it gives, when it appears. Devices, formats,
//!   stream health and tear-down are the device layer's (`crate::device`, shared with the
//!   output): a stream is always dropped on a helper thread with a bounded wait, since
//!   dropping one whose sound server died can block forever.
//! - The **input→output latency** is measured, not guessed: a [`LatencyProbe`] ([`latency`])
//!   plays a chirp and finds it coming back through the microphone; the result is on
//!   [`Microphone::measured_latency`].
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_webaudio::prelude::*;
//!
//! fn main() {
//!     App::new()
//!         .add_plugins((MinimalPlugins, WebAudioPlugin::default(), MicrophonePlugin::default()))
//!         .add_systems(Update, meter)
//!         .run();
//! }
//!
//! fn meter(mic: Res<Microphone>, mut started: MessageReader<VoiceStarted>) {
//!     if let Some(error) = mic.error() {
//!         return warn_once!("no microphone: {error}");
//!     }
//!     for _ in started.read() {
//!         info!("voice!");
//!     }
//!     info!("{:.1} dBFS, pitch {:?}", mic.level_dbfs(), mic.pitch_hz());
//! }
//! ```

// Without the `cpal` feature there is no input device: its bookkeeping goes unused.
#![cfg_attr(not(feature = "cpal"), allow(dead_code))]

pub mod analysis;
pub mod capture;
pub mod latency;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bevy::platform::cell::SyncCell;
use bevy::prelude::*;
use thiserror::Error;

pub use analysis::{Analysis, AnalysisSettings, VoiceEdge};
pub use capture::{
    CaptureConsumer, ConsumerKind, ConsumerStats, CoreSlot, MediaStream, MicrophoneTap,
};
pub use latency::{LatencyMeasurement, LatencyProbe};

/// How often to try (re)opening the device while it is unavailable.
const RETRY: Duration = Duration::from_secs(2);
/// The analysis worker's ring: half a second of input.
const ANALYSIS_RING_SECONDS: f32 = 0.5;

/// Where the microphone's samples come from.
#[derive(Clone, Debug, Default, PartialEq, Reflect)]
pub enum MicrophoneInput {
    /// A cpal input device (by name, or the default).
    #[default]
    Device,
    /// No device: samples are fed by hand through [`Microphone::simulated_input`] (tests,
    /// replays). The same capture code runs.
    Simulated {
        /// Sample rate in Hz.
        sample_rate: u32,
        /// Channels per frame.
        channels: u16,
    },
}

/// How to open the microphone.
#[derive(Clone, Debug, PartialEq, Reflect)]
#[reflect(Default)]
pub struct MicrophoneConfig {
    /// A device or a simulated input.
    pub input: MicrophoneInput,
    /// An input device name, or `None` for the default input.
    pub device: Option<String>,
    /// Sample rate in Hz, or `None` for the device's.
    pub sample_rate: Option<u32>,
    /// Channels, or `None` for the device's.
    pub channels: Option<u16>,
    /// Device buffer size to request in frames (`None`: the device's default). Through
    /// PulseAudio the callback is about 2/3 of the request.
    pub buffer_frames: Option<u32>,
    /// Analysis settings, or `None` for no analysis worker (only taps and source nodes).
    pub analysis: Option<AnalysisSettings>,
}

impl Default for MicrophoneConfig {
    fn default() -> Self {
        Self {
            input: MicrophoneInput::Device,
            device: None,
            sample_rate: None,
            channels: None,
            buffer_frames: Some(512),
            analysis: Some(AnalysisSettings::default()),
        }
    }
}

/// Opens the microphone and keeps the [`Microphone`] resource up to date. Opt-in: games
/// without it open no input device and run no capture thread.
#[derive(Clone, Debug, Default)]
pub struct MicrophonePlugin {
    /// Device and analysis settings.
    pub config: MicrophoneConfig,
}

impl MicrophonePlugin {
    /// A plugin fed by hand (see [`MicrophoneInput::Simulated`]).
    pub fn simulated(sample_rate: u32, channels: u16) -> Self {
        Self {
            config: MicrophoneConfig {
                input: MicrophoneInput::Simulated {
                    sample_rate,
                    channels,
                },
                ..default()
            },
        }
    }
}

/// The microphone's system set.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MicrophoneSystems {
    /// `First`: read the analysis worker and the capture counters into [`Microphone`], write
    /// the voice and fault messages, and watch the device (reopen when it comes back).
    Update,
}

impl Plugin for MicrophonePlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<VoiceStarted>()
            .add_message::<VoiceStopped>()
            .add_message::<MicrophoneFault>()
            .insert_resource(Microphone::open(self.config.clone()))
            .register_type::<Microphone>()
            .register_type::<LatencyProbe>()
            .add_systems(
                First,
                (update_microphone, read_latency_probes)
                    .chain()
                    .in_set(MicrophoneSystems::Update),
            );
    }
}

/// A microphone problem. The game keeps running; the resource says
/// [`MicrophoneStatus::Unavailable`] until the device works again.
#[derive(Clone, Debug, Error, PartialEq, Eq, Reflect)]
pub enum MicrophoneError {
    /// No input device, no permission, or no audio server.
    #[error("no microphone: {0}")]
    NoDevice(String),
    /// The input stream could not be built or failed while running.
    #[error("microphone stream failed: {0}")]
    StreamFailed(String),
    /// The input stream stopped calling back (device unplugged, server gone).
    #[error("microphone stalled: no input for {0} ms")]
    Stalled(u64),
    /// A [`LatencyProbe`] did not hear its chirp come back through the microphone.
    #[error("latency probe: the chirp was not heard back ({0})")]
    ProbeNotHeard(String),
    /// A reader (tap, source node, analysis) was refused: the input already feeds this many
    /// live readers, the most it feeds ([`capture::MAX_CONSUMERS`]). Drop one first. Counted
    /// in [`Microphone::refused_consumers`].
    #[error("microphone: {0} readers are connected already, the most one input feeds")]
    TooManyConsumers(usize),
    /// A reader asked for 0 channels, or more than [`capture::MAX_READER_CHANNELS`].
    #[error("microphone: a reader of {0} channels is not supported")]
    UnsupportedChannels(u16),
}

#[cfg(feature = "cpal")]
impl crate::device::DeviceFault for MicrophoneError {
    const DIRECTION: crate::device::Direction = crate::device::Direction::Input;
    fn unavailable(message: String) -> Self {
        Self::NoDevice(message)
    }
    fn failed(message: String) -> Self {
        Self::StreamFailed(message)
    }
    fn stalled(ms: u64) -> Self {
        Self::Stalled(ms)
    }
}

#[cfg(feature = "cpal")]
impl From<crate::device::DeviceError> for MicrophoneError {
    fn from(error: crate::device::DeviceError) -> Self {
        error.into_fault()
    }
}

/// Whether the microphone delivers samples.
#[derive(Clone, Debug, PartialEq, Eq, Reflect)]
pub enum MicrophoneStatus {
    /// A stream (or the simulated input) is running.
    Running,
    /// No input; the error says why. Retried every two seconds.
    Unavailable(MicrophoneError),
}

/// Voice activity started (the level reached the on threshold): a message, and a global
/// observer event.
#[derive(Message, Event, Clone, Copy, Debug, PartialEq)]
pub struct VoiceStarted {
    /// Level at the edge, dBFS.
    pub level_dbfs: f32,
}

/// Voice activity stopped (the level stayed under the off threshold for the hang time): a
/// message, and a global observer event.
#[derive(Message, Event, Clone, Copy, Debug, PartialEq)]
pub struct VoiceStopped {
    /// Level at the edge, dBFS.
    pub level_dbfs: f32,
}

/// The microphone failed or is missing (reported once per failure).
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct MicrophoneFault(pub MicrophoneError);

/// What was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Reflect)]
pub struct InputDeviceInfo {
    /// Device name (`"simulated"` for a simulated input).
    pub name: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// The device's sample format (converted to f32 in the callback).
    pub sample_format: String,
    /// The buffer size requested, if any.
    pub requested_buffer_frames: Option<u32>,
}

/// One reader of the capture rings, for the diagnostics.
#[derive(Clone, Debug, PartialEq, Reflect)]
pub struct ConsumerReport {
    /// Who reads.
    pub kind: ConsumerKind,
    /// Refused because the input already fed [`capture::MAX_CONSUMERS`] readers: it
    /// receives nothing (listed while its reader lives; counted in
    /// [`Microphone::refused_consumers`]).
    pub refused: bool,
    /// Frames written into its ring.
    pub written: u64,
    /// Frames dropped because its ring was full.
    pub dropped: u64,
    /// Source nodes: quanta of silence because the ring ran dry.
    pub underruns: u64,
    /// Source nodes: frames skipped to restore latency.
    pub skipped: u64,
    /// Source nodes: current ring fill in milliseconds.
    pub fill_ms: f32,
    /// Source nodes: the adaptive target fill in milliseconds.
    pub target_ms: f32,
    /// Source nodes: drift correction in parts per million.
    pub ratio_ppm: i32,
}

enum WorkerEvent {
    Analysis(Analysis),
    Voice(VoiceEdge, f32),
}

/// The analysis thread: reads its ring, analyses, sends results back. Stopped and joined on
/// drop.
struct AnalysisWorker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    events: rtrb::Consumer<WorkerEvent>,
}

impl AnalysisWorker {
    fn spawn(stream: &MediaStream, settings: AnalysisSettings) -> Option<Self> {
        let rate = stream.sample_rate();
        let channels = usize::from(stream.channels());
        let mut input = stream.connect(
            ConsumerKind::Analysis,
            (rate as f32 * ANALYSIS_RING_SECONDS) as usize,
        );
        let (mut tx, events) = rtrb::RingBuffer::new(WORKER_EVENTS);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("webaudio-mic-analysis".into())
            .spawn(move || {
                let mut analyzer = analysis::Analyzer::new(settings, rate as f32);
                let mut interleaved = vec![0.0f32; 1024 * channels];
                let mut mono = vec![0.0f32; 1024];
                // What the app has not taken yet, when the ring to it is full (the app stopped
                // updating): every voice edge in order, with only the latest analysis between
                // two edges (readings are latest-value; edges must never be lost).
                let mut backlog = std::collections::VecDeque::new();
                while !flag.load(Ordering::Acquire) {
                    send_backlog(&mut tx, &mut backlog);
                    let frames = input.read(&mut interleaved);
                    if frames == 0 {
                        std::thread::sleep(Duration::from_millis(4));
                        continue;
                    }
                    let gain = 1.0 / channels as f32;
                    for (m, frame) in mono.iter_mut().zip(interleaved.chunks(channels)) {
                        *m = frame.iter().sum::<f32>() * gain;
                    }
                    analyzer.push(&mono[..frames], |a, edge| {
                        if let Some(edge) = edge {
                            backlog.push_back(WorkerEvent::Voice(edge, a.level_dbfs));
                        }
                        match backlog.back_mut() {
                            Some(WorkerEvent::Analysis(last)) => *last = *a,
                            _ => backlog.push_back(WorkerEvent::Analysis(*a)),
                        }
                        send_backlog(&mut tx, &mut backlog);
                    });
                }
            })
            .ok()?;
        Some(Self {
            stop,
            handle: Some(handle),
            events,
        })
    }
}

/// Capacity of the ring from the analysis worker to the app.
const WORKER_EVENTS: usize = 4096;
/// Slots of that ring kept for voice edges: readings stop taking slots when fewer are free.
const EDGE_RESERVE: usize = 1024;

/// Moves as much of the worker's backlog into the ring to the app as fits, oldest first.
/// Edges take any free slot; a reading takes one only while more than [`EDGE_RESERVE`] are
/// free, else it waits (the last one) or is dropped (a later reading supersedes it). So an
/// app that stops updating still gets [`EDGE_RESERVE`] edges in its next update, and any
/// beyond wait here, in order, for the updates after.
fn send_backlog(
    tx: &mut rtrb::Producer<WorkerEvent>,
    backlog: &mut std::collections::VecDeque<WorkerEvent>,
) {
    while let Some(front) = backlog.front() {
        let room = tx.slots();
        if room == 0 {
            return;
        }
        if matches!(front, WorkerEvent::Analysis(_)) && room <= EDGE_RESERVE {
            if backlog.len() == 1 {
                return;
            }
            backlog.pop_front();
            continue;
        }
        if let Some(event) = backlog.pop_front() {
            let _ = tx.push(event);
        }
    }
}

impl Drop for AnalysisWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The microphone, for gameplay: level, peak, envelope, pitch and voice activity (updated in
/// `First` each frame from the analysis worker), counters and device state, and the
/// [`MediaStream`] to build source nodes and taps from.
///
/// Readings are those of the latest analysis window (see [`AnalysisSettings`]: 2048 frames,
/// a new one every 512 at 48 kHz). When the microphone is unavailable they read silence.
///
/// Reflected for inspection: the readings (status, device, analysis, readers) are fields;
/// the device, the capture rings and the worker are not (they are threads and lock-free
/// queues), nor is the configuration, which takes effect only when the input is opened. It
/// describes a running device, so leave it out of scenes. Built from reflection (a scene that
/// carries it, loaded where there is none) it is an unopened microphone: unavailable, no
/// device, no thread.
#[derive(Resource, Reflect)]
#[reflect(Resource, FromReflect, from_reflect = false)]
pub struct Microphone {
    #[reflect(ignore)]
    config: MicrophoneConfig,
    #[reflect(ignore)]
    stream: MediaStream,
    #[reflect(ignore)]
    slot: CoreSlot,
    /// The open stream; dropping it releases it through the device layer (bounded wait).
    #[cfg(feature = "cpal")]
    #[reflect(ignore)]
    device: SyncCell<Option<capture::device::InputStream>>,
    #[reflect(ignore)]
    worker: Option<SyncCell<AnalysisWorker>>,
    status: MicrophoneStatus,
    info: Option<InputDeviceInfo>,
    analysis: Analysis,
    #[reflect(ignore)]
    registry: Vec<(ConsumerKind, Arc<ConsumerStats>)>,
    reports: Vec<ConsumerReport>,
    #[reflect(ignore)]
    fault_pending: Option<MicrophoneError>,
    /// The current outage was logged and sent (once per outage, however many retries fail).
    #[reflect(ignore)]
    outage_reported: bool,
    #[reflect(ignore)]
    measured_latency: Option<Result<LatencyMeasurement, MicrophoneError>>,
    #[reflect(ignore)]
    last_retry: Instant,
    /// The format of the device opened last (the simulated input's, for one).
    #[reflect(ignore)]
    format: Option<(u32, u16)>,
    /// A refused reader was logged (once per microphone).
    #[reflect(ignore)]
    refusal_logged: bool,
}

impl FromReflect for Microphone {
    /// An unopened microphone (the default configuration, never opened: no device, no worker
    /// thread) with the reflected readings applied.
    fn from_reflect(reflect: &dyn PartialReflect) -> Option<Self> {
        let mut mic = Self::unopened(MicrophoneConfig::default());
        mic.try_apply(reflect).ok()?;
        Some(mic)
    }
}

impl Microphone {
    /// Opens the configured input (the plugin does this); never fails: without a device the
    /// resource is [`MicrophoneStatus::Unavailable`].
    pub fn open(config: MicrophoneConfig) -> Self {
        let mut mic = Self::unopened(config);
        if let MicrophoneInput::Simulated {
            sample_rate,
            channels,
        } = mic.config.input
        {
            mic.slot.with(|core| core.prepare(channels));
            mic.info = Some(InputDeviceInfo {
                name: "simulated".into(),
                sample_rate,
                channels,
                sample_format: "F32".into(),
                requested_buffer_frames: None,
            });
            mic.status = MicrophoneStatus::Running;
            mic.format = Some((sample_rate, channels));
            mic.start_worker();
        } else {
            mic.try_open();
        }
        mic
    }

    /// The resource before anything is opened: [`MicrophoneStatus::Unavailable`], no stream,
    /// no worker.
    fn unopened(config: MicrophoneConfig) -> Self {
        let (rate, channels) = match config.input {
            MicrophoneInput::Simulated {
                sample_rate,
                channels,
            } => (sample_rate, channels),
            MicrophoneInput::Device => (
                config.sample_rate.unwrap_or(48_000),
                config.channels.unwrap_or(1),
            ),
        };
        let (stream, slot) = MediaStream::new(rate, channels);
        Self {
            config,
            stream,
            slot,
            #[cfg(feature = "cpal")]
            device: SyncCell::new(None),
            worker: None,
            status: MicrophoneStatus::Unavailable(MicrophoneError::NoDevice("not opened".into())),
            info: None,
            analysis: Analysis {
                level_dbfs: analysis::MIN_DBFS,
                peak_dbfs: analysis::MIN_DBFS,
                ..default()
            },
            registry: Vec::new(),
            reports: Vec::new(),
            fault_pending: None,
            outage_reported: false,
            measured_latency: None,
            last_retry: Instant::now(),
            format: None,
            refusal_logged: false,
        }
    }

    fn start_worker(&mut self) {
        self.worker = None;
        if let Some(settings) = self.config.analysis.clone() {
            self.worker = AnalysisWorker::spawn(&self.stream, settings).map(SyncCell::new);
        }
    }

    #[cfg(feature = "cpal")]
    fn try_open(&mut self) {
        self.last_retry = Instant::now();
        // The device the user chose, at the rate it gives (or the configured one): a device
        // that comes back with another format moves the stream's format generation on, and
        // its readers rebuild.
        match capture::device::open(&self.config, &self.stream, &self.slot) {
            Ok(input) => {
                let format = Some((input.info.sample_rate, input.info.channels));
                let new_format = self.format != format;
                self.format = format;
                self.info = Some(input.info.clone());
                if self.outage_reported {
                    info!("bevy_webaudio: microphone {:?} is back", input.info.name);
                }
                // Replacing a stream releases the old one through the device layer.
                *self.device.get() = Some(input);
                self.status = MicrophoneStatus::Running;
                self.outage_reported = false;
                if new_format || self.worker.is_none() {
                    self.start_worker();
                }
            }
            Err(error) => self.fail(error),
        }
    }

    #[cfg(not(feature = "cpal"))]
    fn try_open(&mut self) {
        self.last_retry = Instant::now();
        self.fail(MicrophoneError::NoDevice(
            "bevy_webaudio was built without the `cpal` feature".into(),
        ));
    }

    /// Records a failure: the status always holds the latest error; the first failure of an
    /// outage is logged and sent as a [`MicrophoneFault`], later retries stay quiet.
    fn fail(&mut self, error: MicrophoneError) {
        self.status = MicrophoneStatus::Unavailable(error.clone());
        if !self.outage_reported {
            warn!("bevy_webaudio: {error}; the game keeps running without microphone input");
            self.fault_pending = Some(error);
            self.outage_reported = true;
        }
    }

    /// Checks the running stream; drops it on a fault and retries the device while it is
    /// unavailable. Control thread, once per frame.
    fn watch_device(&mut self) {
        if let MicrophoneInput::Simulated { .. } = self.config.input {
            return;
        }
        #[cfg(feature = "cpal")]
        if let Some(input) = self.device.get() {
            if let Some(death) = input.stream.check() {
                // Releases the dead stream through the device layer (bounded wait).
                *self.device.get() = None;
                self.fail(death.into_fault());
                self.last_retry = Instant::now();
            }
            return;
        }
        if self.last_retry.elapsed() >= RETRY {
            self.try_open();
        }
    }

    fn refresh(&mut self) {
        self.stream.collect_garbage();
        self.registry.extend(self.stream.shared().drain_registry());
        // A consumer whose reader is gone holds the only other reference once retired (a
        // refused one too: the list does not grow with refusals).
        self.registry
            .retain(|(_, stats)| Arc::strong_count(stats) > 1);
        let refused = self.stream.refused_consumers();
        if refused > 0 && !self.refusal_logged {
            warn!(
                "bevy_webaudio: a microphone reader was refused: the input already feeds {} \
                 readers (taps, source nodes, analysis); it receives nothing. Drop a reader \
                 first; Microphone::refused_consumers counts refusals",
                capture::MAX_CONSUMERS
            );
            self.refusal_logged = true;
        }
        let rate = self.format.map_or(48_000.0, |f| f.0 as f32);
        self.reports = self
            .registry
            .iter()
            .map(|(kind, s)| ConsumerReport {
                kind: *kind,
                refused: s.rejected(),
                written: s.written(),
                dropped: s.dropped(),
                underruns: s.underruns(),
                skipped: s.skipped(),
                fill_ms: s.fill_frames() as f32 * 1000.0 / rate,
                target_ms: s.target_frames() as f32 * 1000.0 / rate,
                ratio_ppm: s.ratio_ppm(),
            })
            .collect();
    }

    /// Whether input is flowing (a device stream or the simulated input).
    pub fn is_available(&self) -> bool {
        self.status == MicrophoneStatus::Running
    }

    /// Running, or unavailable with the reason.
    pub fn status(&self) -> &MicrophoneStatus {
        &self.status
    }

    /// Why there is no input, if there is none.
    pub fn error(&self) -> Option<&MicrophoneError> {
        match &self.status {
            MicrophoneStatus::Unavailable(e) => Some(e),
            MicrophoneStatus::Running => None,
        }
    }

    /// The device that was opened (name, rate, channels, format).
    pub fn device(&self) -> Option<&InputDeviceInfo> {
        self.info.as_ref()
    }

    /// The latest analysis window, complete.
    pub fn analysis(&self) -> &Analysis {
        &self.analysis
    }

    /// RMS level in dBFS (`20·log10(rms)`: a full-scale sine reads −3.01).
    pub fn level_dbfs(&self) -> f32 {
        self.analysis.level_dbfs
    }

    /// Peak absolute sample of the latest window (linear).
    pub fn peak(&self) -> f32 {
        self.analysis.peak
    }

    /// Peak in dBFS.
    pub fn peak_dbfs(&self) -> f32 {
        self.analysis.peak_dbfs
    }

    /// Smoothed RMS envelope (linear), for meters and voice-reactive animation.
    pub fn envelope(&self) -> f32 {
        self.analysis.envelope
    }

    /// The fundamental pitch in Hz, when the input is voiced.
    pub fn pitch_hz(&self) -> Option<f32> {
        self.analysis.pitch_hz
    }

    /// How periodic the input is, 0..=1.
    pub fn pitch_confidence(&self) -> f32 {
        self.analysis.pitch_confidence
    }

    /// Voice activity (with hysteresis).
    pub fn voice_active(&self) -> bool {
        self.analysis.voice_active
    }

    /// The latest input→output latency measured by a [`LatencyProbe`] (the chirp's round
    /// trip from the graph's output back through the microphone into the graph), or why it
    /// failed; `None` before any probe finished.
    pub fn measured_latency(&self) -> Option<&Result<LatencyMeasurement, MicrophoneError>> {
        self.measured_latency.as_ref()
    }

    /// Frames delivered by the device since start.
    pub fn captured_frames(&self) -> u64 {
        self.stream.captured_frames()
    }

    /// Frames dropped on overflow, summed over the current consumers.
    pub fn dropped_frames(&self) -> u64 {
        self.reports.iter().map(|r| r.dropped).sum()
    }

    /// Underruns of the source nodes, summed.
    pub fn underruns(&self) -> u64 {
        self.reports.iter().map(|r| r.underruns).sum()
    }

    /// Device-side input overruns reported by the driver.
    pub fn device_xruns(&self) -> u64 {
        self.stream.shared().xruns.load(Ordering::Relaxed)
    }

    /// Frames in the most recent input callback.
    pub fn callback_frames(&self) -> u32 {
        self.stream.shared().callback_frames.load(Ordering::Relaxed)
    }

    /// Readers refused since start because [`capture::MAX_CONSUMERS`] were live (a tap, a
    /// source node or the analysis worker that would otherwise get nothing, silently). The
    /// first refusal is also logged as a warning. Zero when every reader is fed.
    pub fn refused_consumers(&self) -> u64 {
        self.stream.refused_consumers()
    }

    /// Per-consumer counters (analysis worker, taps, source nodes), as of this frame.
    pub fn consumers(&self) -> &[ConsumerReport] {
        &self.reports
    }

    /// The sample stream, to build a
    /// [`MediaStreamAudioSourceNode`](crate::node::media_stream_audio_source::MediaStreamAudioSourceNode).
    pub fn stream(&self) -> &MediaStream {
        &self.stream
    }

    /// A raw tap holding up to `capacity_frames` frames (interleaved f32 at the input rate).
    /// Read it with [`CaptureConsumer::read`] (every frame, for recording) or
    /// [`CaptureConsumer::read_latest`] (the newest, for a scope); drop it to disconnect.
    /// Frames that do not fit are dropped and counted on [`Microphone::consumers`].
    ///
    /// The input feeds at most [`capture::MAX_CONSUMERS`] readers (the analysis worker and
    /// each source node count); beyond that the tap returned is refused
    /// ([`CaptureConsumer::refused`]: it never receives a frame), counted in
    /// [`Microphone::refused_consumers`] and logged once. [`Microphone::try_tap`] returns an
    /// error instead.
    pub fn tap(&self, capacity_frames: usize) -> MicrophoneTap {
        self.stream.connect(ConsumerKind::Tap, capacity_frames)
    }

    /// [`Microphone::tap`], or an error when the tap cannot be fed.
    ///
    /// # Errors
    /// [`MicrophoneError::TooManyConsumers`] when [`capture::MAX_CONSUMERS`] readers are
    /// live (also counted in [`Microphone::refused_consumers`]).
    pub fn try_tap(&self, capacity_frames: usize) -> Result<MicrophoneTap, MicrophoneError> {
        self.stream.try_connect(ConsumerKind::Tap, capacity_frames)
    }

    /// A tap of `channels` interleaved channels whatever the device's width: each frame is
    /// converted in the callback by the speaker rules (a mono tap of a stereo microphone
    /// reads `0.5·(L + R)`; a stereo tap of a mono one reads the channel on both sides). A
    /// tap keeps its width when a device with another channel count opens later.
    ///
    /// # Errors
    /// [`MicrophoneError::UnsupportedChannels`] for 0 or more than
    /// [`capture::MAX_READER_CHANNELS`]; [`MicrophoneError::TooManyConsumers`] as
    /// [`Microphone::try_tap`].
    pub fn try_tap_channels(
        &self,
        capacity_frames: usize,
        channels: u16,
    ) -> Result<MicrophoneTap, MicrophoneError> {
        self.stream
            .try_connect_channels(ConsumerKind::Tap, capacity_frames, channels)
    }

    /// Simulated input only: as if the device went away and another came back with this
    /// format (what [`MicrophoneInput::Device`] does when a device first opens after the
    /// stream was made). Source nodes rebuild their rings; the analysis worker restarts;
    /// taps connected before keep their width and receive the new input converted to it by
    /// the speaker rules, at the new rate.
    ///
    /// # Errors
    /// `InvalidStateError` for a device input; `NotSupportedError` for a zero rate or
    /// channel count.
    pub fn reopen_simulated(
        &mut self,
        sample_rate: u32,
        channels: u16,
    ) -> Result<(), crate::error::WebAudioError> {
        use crate::error::WebAudioError;
        if !matches!(self.config.input, MicrophoneInput::Simulated { .. }) {
            return Err(WebAudioError::InvalidState(
                "reopen_simulated needs a simulated input".into(),
            ));
        }
        if sample_rate == 0 || channels == 0 {
            return Err(WebAudioError::NotSupported(format!(
                "a simulated input of {sample_rate} Hz, {channels} channels"
            )));
        }
        self.config.input = MicrophoneInput::Simulated {
            sample_rate,
            channels,
        };
        self.stream.shared().set_format(sample_rate, channels);
        self.slot.with(|core| core.prepare(channels));
        self.format = Some((sample_rate, channels));
        if let Some(info) = &mut self.info {
            info.sample_rate = sample_rate;
            info.channels = channels;
        }
        self.start_worker();
        Ok(())
    }

    /// The simulated input's feeding end (`None` for a device): write interleaved buffers as
    /// a device callback would.
    pub fn simulated_input(&self) -> Option<CoreSlot> {
        matches!(self.config.input, MicrophoneInput::Simulated { .. }).then(|| self.slot.clone())
    }
}

/// Reads the worker's results and the counters into the resource; writes the messages.
fn update_microphone(
    mut mic: ResMut<Microphone>,
    mut started: MessageWriter<VoiceStarted>,
    mut stopped: MessageWriter<VoiceStopped>,
    mut faults: MessageWriter<MicrophoneFault>,
    mut commands: Commands,
) {
    let mic = &mut *mic;
    mic.watch_device();
    if let Some(error) = mic.fault_pending.take() {
        faults.write(MicrophoneFault(error));
    }
    if let Some(worker) = &mut mic.worker {
        let worker = worker.get();
        while let Ok(event) = worker.events.pop() {
            match event {
                WorkerEvent::Analysis(a) => mic.analysis = a,
                WorkerEvent::Voice(VoiceEdge::Started, level_dbfs) => {
                    started.write(VoiceStarted { level_dbfs });
                    commands.trigger(VoiceStarted { level_dbfs });
                }
                WorkerEvent::Voice(VoiceEdge::Stopped, level_dbfs) => {
                    stopped.write(VoiceStopped { level_dbfs });
                    commands.trigger(VoiceStopped { level_dbfs });
                }
            }
        }
    }
    mic.refresh();
}

/// Finished [`LatencyProbe`]s: the result goes on the resource (and the log), the probe is
/// despawned.
fn read_latency_probes(
    mut mic: ResMut<Microphone>,
    mut probes: Query<(Entity, &mut LatencyProbe)>,
    mut commands: Commands,
) {
    for (entity, mut probe) in &mut probes {
        let Some(result) = probe.poll() else {
            continue;
        };
        match &result {
            Ok(m) => info!(
                "bevy_webaudio: microphone input→output latency {:.1} ms (correlation {:.2})",
                m.latency_ms, m.correlation
            ),
            Err(error) => warn!("bevy_webaudio: {error}"),
        }
        mic.measured_latency = Some(result);
        commands.entity(entity).despawn();
    }
}
