//! Backends and their supervisor.
//!
//! - **cpal** (`cpal.rs`): a device stream whose callback renders.
//! - **null** (`null.rs`): a paced thread with no device — chosen by config, or automatically
//!   (with one clear warning) when no output device exists, and as the fallback after a fault.
//! - **offline** (`offline.rs`): no thread; `render(frames)` runs on the caller.
//!
//! The [`Supervisor`] owns the renderer's [`slot::RendererSlot`]: when the stream errors or
//! stops calling back, it stops the stream, takes the renderer (the whole graph, state and
//! all) and hands it to a null backend, reports one typed [`AudioBackendError`], and later
//! reopens the configured device (by name, or the default) when it is available again.
//!
//! Finding devices, sample formats, stream health and tear-down are the device layer's
//! (`crate::device`, shared with the microphone): a stream is always dropped on a helper
//! thread with a bounded wait, since dropping one whose sound server died can block forever.

#[cfg(feature = "cpal")]
pub mod cpal;
pub mod null;
pub mod slot;

use std::sync::Arc;
#[cfg(feature = "cpal")]
use std::sync::atomic::Ordering;
#[cfg(feature = "cpal")]
use std::time::Duration;
use std::time::Instant;

use bevy::prelude::*;
use thiserror::Error;

use crate::command::RenderShared;
use crate::render::Renderer;
use slot::RendererSlot;

/// Which backend renders the graph.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    /// A real output device through cpal (falls back to `Null` when there is none).
    #[cfg(feature = "cpal")]
    Cpal(AudioOutputConfig),
    /// No device: a thread renders at real-time pace and discards the output.
    Null {
        /// Sample rate in Hz.
        sample_rate: u32,
        /// Output channels.
        channels: u16,
    },
    /// No thread: [`crate::OfflineRenderExt::render`] renders on the caller, as fast as it can.
    Offline {
        /// Sample rate in Hz.
        sample_rate: u32,
        /// Output channels.
        channels: u16,
    },
}

impl Default for Backend {
    fn default() -> Self {
        #[cfg(feature = "cpal")]
        {
            Self::Cpal(AudioOutputConfig::default())
        }
        #[cfg(not(feature = "cpal"))]
        {
            Self::Null {
                sample_rate: 48_000,
                channels: 2,
            }
        }
    }
}

/// How to open the output device.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AudioOutputConfig {
    /// A device name, or `None` for the default device.
    pub device: Option<String>,
    /// Sample rate in Hz, or `None` for the device's.
    pub sample_rate: Option<u32>,
    /// Channels, or `None` for the device's.
    pub channels: Option<u16>,
    /// Buffer size preference.
    pub latency: LatencyHint,
}

/// The `latencyHint` of `AudioContextOptions`, mapped to a device buffer size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LatencyHint {
    /// The smallest buffer the device allows (lowest latency, most risk of xruns).
    Interactive,
    /// 512 frames: low latency with headroom.
    #[default]
    Balanced,
    /// 2048 frames: for music playback, power-friendly.
    Playback,
    /// Exactly this many frames, clamped to the device's range.
    Frames(u32),
}

/// A backend problem, reported once as a Bevy message; the game keeps running on the null
/// backend.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum AudioBackendError {
    /// No output device or audio server.
    #[error("audio device unavailable: {0}")]
    DeviceUnavailable(String),
    /// The stream could not be built, or failed while running.
    #[error("audio stream failed: {0}")]
    StreamFailed(String),
    /// The stream stopped calling back (the device or server went away).
    #[error("audio stream stalled: no callback for {0} ms")]
    StreamStalled(u64),
    /// The spec's `NotSupportedError` for a context option: a sample rate outside 3 to 768 kHz
    /// or a channel count outside 1 to 32 (the context uses 48 kHz stereo instead).
    #[error("NotSupportedError: {0}")]
    NotSupported(String),
}

impl Backend {
    /// The backend with its sample rate and channel count checked as the spec checks an
    /// `AudioContext`'s options: a bad value is replaced by 48 kHz / 2 channels, and the error
    /// says what was wrong.
    pub(crate) fn validated(&self) -> (Self, Option<AudioBackendError>) {
        let (sample_rate, channels) = match *self {
            Self::Null {
                sample_rate,
                channels,
            }
            | Self::Offline {
                sample_rate,
                channels,
            } => (sample_rate, channels),
            #[cfg(feature = "cpal")]
            Self::Cpal(_) => return (self.clone(), None),
        };
        let rate_ok = (3_000..=768_000).contains(&sample_rate);
        let channels_ok = (1..=32).contains(&channels);
        if rate_ok && channels_ok {
            return (self.clone(), None);
        }
        let error = AudioBackendError::NotSupported(format!(
            "sample rate {sample_rate} Hz (3000..=768000) and {channels} channels (1..=32): \
             using {} Hz and {} channels",
            if rate_ok { sample_rate } else { 48_000 },
            if channels_ok { channels } else { 2 }
        ));
        let (sample_rate, channels) = (
            if rate_ok { sample_rate } else { 48_000 },
            if channels_ok { channels } else { 2 },
        );
        let fixed = match self {
            Self::Null { .. } => Self::Null {
                sample_rate,
                channels,
            },
            _ => Self::Offline {
                sample_rate,
                channels,
            },
        };
        (fixed, Some(error))
    }
}

/// What was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Reflect)]
pub struct DeviceInfo {
    /// Device name ("null" or "offline" without one).
    pub name: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u16,
    /// The buffer size requested (the device may use another; see the context's readings).
    pub requested_buffer_frames: u32,
    /// The device's sample format.
    pub sample_format: String,
}

/// Which backend is running now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Reflect)]
pub enum ActiveBackend {
    /// A cpal stream.
    Cpal,
    /// The null thread.
    Null,
    /// Offline rendering.
    Offline,
}

#[cfg(feature = "cpal")]
impl crate::device::DeviceFault for AudioBackendError {
    const DIRECTION: crate::device::Direction = crate::device::Direction::Output;
    fn unavailable(message: String) -> Self {
        Self::DeviceUnavailable(message)
    }
    fn failed(message: String) -> Self {
        Self::StreamFailed(message)
    }
    fn stalled(ms: u64) -> Self {
        Self::StreamStalled(ms)
    }
}

#[cfg(feature = "cpal")]
impl From<crate::device::DeviceError> for AudioBackendError {
    fn from(error: crate::device::DeviceError) -> Self {
        error.into_fault()
    }
}

/// What renders now. Replacing or dropping a `Cpal` releases its stream through the device
/// layer (off this thread, bounded wait).
enum Active {
    #[cfg(feature = "cpal")]
    Cpal(Box<cpal::CpalBackend>),
    Null(#[allow(dead_code)] null::NullBackend),
    Stopped,
}

/// How often to try reopening the device after falling back.
#[cfg(feature = "cpal")]
const RETRY: Duration = Duration::from_secs(2);

/// Owns the real-time backends and moves the renderer between them.
pub struct Supervisor {
    slot: RendererSlot,
    active: Active,
    wanted: Backend,
    #[cfg_attr(not(feature = "cpal"), allow(dead_code))]
    shared: Arc<RenderShared>,
    sample_rate: u32,
    channels: u16,
    info: DeviceInfo,
    last_retry: Instant,
    injected_fault: bool,
    /// A null backend handing over to a new stream (dropped once the stream has claimed).
    retiring: Option<Active>,
}

impl Supervisor {
    /// Starts the configured real-time backend with `renderer`, falling back to null. Returns
    /// the supervisor and the error that caused a fallback, if any.
    pub fn start(
        wanted: Backend,
        make_renderer: impl FnOnce(u32, u16) -> Renderer,
        shared: Arc<RenderShared>,
        hooks: Option<slot::RenderHooks>,
    ) -> (Self, Option<AudioBackendError>) {
        let slot = RendererSlot::new(hooks);
        let mut supervisor = Self {
            slot,
            active: Active::Stopped,
            wanted: wanted.clone(),
            shared,
            sample_rate: 48_000,
            channels: 2,
            info: DeviceInfo::default(),
            last_retry: Instant::now(),
            injected_fault: false,
            retiring: None,
        };
        let error = match wanted {
            #[cfg(feature = "cpal")]
            Backend::Cpal(config) => supervisor.start_cpal_first(&config, make_renderer),
            Backend::Null {
                sample_rate,
                channels,
            }
            | Backend::Offline {
                sample_rate,
                channels,
            } => {
                supervisor.sample_rate = sample_rate;
                supervisor.channels = channels;
                let _ = supervisor
                    .slot
                    .put(Box::new(make_renderer(sample_rate, channels)));
                supervisor.start_null();
                None
            }
        };
        (supervisor, error)
    }

    #[cfg(feature = "cpal")]
    fn start_cpal_first(
        &mut self,
        config: &AudioOutputConfig,
        make_renderer: impl FnOnce(u32, u16) -> Renderer,
    ) -> Option<AudioBackendError> {
        // Probe the device format first, so the renderer is built at the device's rate.
        let probe = cpal::CpalBackend::open(config, self.slot.clone(), self.shared.clone(), None);
        match probe {
            Ok(backend) => {
                self.sample_rate = backend.info.sample_rate;
                self.channels = backend.info.channels;
                let _ = self
                    .slot
                    .put(Box::new(make_renderer(self.sample_rate, self.channels)));
                self.info = backend.info.clone();
                self.active = Active::Cpal(Box::new(backend));
                None
            }
            Err(error) => {
                self.sample_rate = config.sample_rate.unwrap_or(48_000);
                self.channels = config.channels.unwrap_or(2);
                let _ = self
                    .slot
                    .put(Box::new(make_renderer(self.sample_rate, self.channels)));
                self.start_null();
                Some(error)
            }
        }
    }

    fn start_null(&mut self) {
        self.active = Active::Stopped;
        self.slot.release();
        self.info = DeviceInfo {
            name: "null".into(),
            sample_rate: self.sample_rate,
            channels: self.channels,
            requested_buffer_frames: 512,
            sample_format: "F32".into(),
        };
        if let Ok(null) = null::NullBackend::start(
            self.slot.clone(),
            self.sample_rate as f32,
            usize::from(self.channels),
        ) {
            self.active = Active::Null(null);
        }
    }

    /// The context's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The context's channel count.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// What is open.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Which backend runs now.
    pub fn active(&self) -> ActiveBackend {
        match self.active {
            #[cfg(feature = "cpal")]
            Active::Cpal(..) => ActiveBackend::Cpal,
            _ => ActiveBackend::Null,
        }
    }

    /// Frames in the device's most recent callback, and its output latency in seconds.
    pub fn device_readings(&self) -> (u32, f64) {
        match &self.active {
            #[cfg(feature = "cpal")]
            Active::Cpal(b) => (
                b.readings.buffer_frames.load(Ordering::Relaxed),
                f64::from(b.readings.output_latency_us.load(Ordering::Relaxed)) / 1e6,
            ),
            _ => (512, 0.0),
        }
    }

    /// Frames delivered to the device by the current stream (0 on the null backend).
    pub fn device_frames(&self) -> u64 {
        match &self.active {
            #[cfg(feature = "cpal")]
            Active::Cpal(b) => b.readings.frames.load(Ordering::Relaxed),
            _ => 0,
        }
    }

    /// Test hook: makes the running stream look as if its error callback reported a fatal
    /// error, to exercise the fallback path without breaking a device.
    #[doc(hidden)]
    pub fn inject_stream_error(&mut self) {
        self.injected_fault = true;
    }

    /// Checks the stream's health; on a fault moves the renderer to the null backend and
    /// returns the error. While on the fallback, retries the device. Control thread, once per
    /// frame.
    pub fn poll(&mut self) -> Vec<AudioBackendError> {
        if self.slot.is_claimed() {
            self.retiring = None;
        }
        let mut errors = Vec::new();
        if let Some(error) = self.check_stream() {
            errors.push(error);
            self.fall_back();
        }
        self.maybe_reopen();
        errors
    }

    fn check_stream(&mut self) -> Option<AudioBackendError> {
        let injected = std::mem::take(&mut self.injected_fault);
        #[cfg(feature = "cpal")]
        if let Active::Cpal(backend) = &mut self.active {
            if injected {
                return Some(AudioBackendError::StreamFailed(
                    "injected test fault".into(),
                ));
            }
            return backend.stream.check().map(crate::device::Death::into_fault);
        }
        let _ = injected;
        None
    }

    /// Stops the stream (its callback no longer runs), recovers the renderer from the slot,
    /// and starts the null backend with it.
    fn fall_back(&mut self) {
        // Releases the stream (its callbacks do nothing more; the drop waits at most
        // `device::RELEASE_TIMEOUT`, so a stream stuck with a dead server cannot hang us).
        self.active = Active::Stopped;
        self.retiring = None; // a null thread still handing over keeps rendering no more
        self.last_retry = Instant::now();
        self.start_null();
    }

    fn maybe_reopen(&mut self) {
        #[cfg(feature = "cpal")]
        if let (Active::Null(_), Backend::Cpal(config)) = (&self.active, &self.wanted) {
            if self.last_retry.elapsed() < RETRY {
                return;
            }
            self.last_retry = Instant::now();
            // The device the user chose (by name, or the default), at the context's rate and
            // channels: the renderer (the graph, its filters and its clock) runs at that rate.
            // The null thread keeps rendering until the new stream's first callback claims
            // the slot (then it stops by itself), so the clock never pauses.
            let format = Some((self.sample_rate, self.channels));
            if let Ok(backend) =
                cpal::CpalBackend::open(config, self.slot.clone(), self.shared.clone(), format)
            {
                self.info = backend.info.clone();
                // Dropping the old null backend joins its thread, which has stopped or stops
                // at the claim.
                let old = std::mem::replace(&mut self.active, Active::Cpal(Box::new(backend)));
                self.retiring = Some(old);
            }
        }
    }

    /// Stops everything and returns the renderer (suspend, or shutting down). The stream is
    /// released through the device layer (bounded wait).
    pub fn stop(&mut self) -> Option<Box<Renderer>> {
        self.active = Active::Stopped;
        self.retiring = None;
        self.slot.take()
    }

    /// Restarts after [`Supervisor::stop`] with the renderer it returned.
    pub fn resume(&mut self, renderer: Box<Renderer>) {
        let _ = self.slot.put(renderer);
        match &self.wanted {
            #[cfg(feature = "cpal")]
            Backend::Cpal(config) => {
                let format = Some((self.sample_rate, self.channels));
                match cpal::CpalBackend::open(
                    config,
                    self.slot.clone(),
                    self.shared.clone(),
                    format,
                ) {
                    Ok(backend) => {
                        self.info = backend.info.clone();
                        self.active = Active::Cpal(Box::new(backend));
                    }
                    Err(_) => self.start_null(),
                }
            }
            _ => self.start_null(),
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Releases the stream through the device layer (bounded wait).
        self.active = Active::Stopped;
    }
}

/// Logged once when the game starts without a device.
pub(crate) fn warn_fallback(error: &AudioBackendError) {
    warn!(
        "bevy_webaudio: {error}; rendering on the null backend (no sound), the game keeps running"
    );
}
