//! Devices and streams through cpal: lookup by name, the stream config to open, the health
//! the callbacks report and the watchdog that decides a stream is dead, and the owning
//! [`Stream`] whose drop is always bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bevy::log::warn;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, SampleFormat, SizedSample, StreamConfig, SupportedBufferSize};
use thiserror::Error;

use super::release::{RELEASE_TIMEOUT, release};
use super::sample::DeviceSample;

/// Why a device could not be found or a stream not opened. Each side turns it into its own
/// error ([`crate::AudioBackendError`], [`crate::microphone::MicrophoneError`]).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DeviceError {
    /// No such device, no default device, or no audio server.
    #[error("{0}")]
    Unavailable(String),
    /// The device's sample format has no conversion (see [`super::SampleKind::of`]).
    #[error("unsupported sample format {0:?} (streams open as F32, I16, U16 or I32)")]
    UnsupportedFormat(SampleFormat),
    /// The stream could not be built or started.
    #[error("{0}")]
    Stream(String),
}

/// A side's error type (the backend's, the microphone's), built from the device layer's
/// failures: the mapping lives here, the side gives its variants and its word.
pub trait DeviceFault: Sized {
    /// Which side (used in the messages).
    const DIRECTION: Direction;
    /// No device, no default device, or no audio server.
    fn unavailable(message: String) -> Self;
    /// The stream could not be built or started, or failed while running.
    fn failed(message: String) -> Self;
    /// No callback for `ms` milliseconds.
    fn stalled(ms: u64) -> Self;
}

impl DeviceError {
    /// As the side's error.
    pub fn into_fault<E: DeviceFault>(self) -> E {
        match self {
            Self::Unavailable(message) => E::unavailable(message),
            Self::UnsupportedFormat(_) | Self::Stream(_) => E::failed(self.to_string()),
        }
    }
}

impl Death {
    /// As the side's error.
    pub fn into_fault<E: DeviceFault>(self) -> E {
        let word = E::DIRECTION.word();
        match self {
            Self::Gone { errors } => E::failed(format!(
                "the {word} device went away ({errors} stream errors)"
            )),
            Self::Errors { errors, silent_ms } => E::failed(format!(
                "{errors} stream errors and no {word} for {silent_ms} ms"
            )),
            Self::Stalled { silent_ms } => E::stalled(silent_ms),
        }
    }
}

/// Which way samples flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// To the speakers (the backend).
    Output,
    /// From the microphone.
    Input,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Self::Output => "output",
            Self::Input => "input",
        }
    }
}

fn named(mut devices: impl Iterator<Item = cpal::Device>, name: &str) -> Option<cpal::Device> {
    devices.find(|d| d.description().is_ok_and(|desc| desc.name() == name))
}

fn find(direction: Direction, name: Option<&str>) -> Result<cpal::Device, DeviceError> {
    let host = cpal::default_host();
    let word = direction.word();
    let Some(name) = name else {
        let device = match direction {
            Direction::Output => host.default_output_device(),
            Direction::Input => host.default_input_device(),
        };
        return device.ok_or_else(|| {
            DeviceError::Unavailable(format!(
                "no default {word} device (no sound card or audio server)"
            ))
        });
    };
    let unavailable = |e: cpal::Error| DeviceError::Unavailable(e.to_string());
    let device = match direction {
        Direction::Output => named(host.output_devices().map_err(unavailable)?, name),
        Direction::Input => named(host.input_devices().map_err(unavailable)?, name),
    };
    device.ok_or_else(|| DeviceError::Unavailable(format!("no {word} device named {name:?}")))
}

/// The output device called `name`, or the host's default output for `None`.
///
/// # Errors
/// [`DeviceError::Unavailable`] when there is no such device (or no audio server).
pub fn output_device(name: Option<&str>) -> Result<cpal::Device, DeviceError> {
    find(Direction::Output, name)
}

/// The input device called `name`, or the host's default input for `None`.
///
/// # Errors
/// [`DeviceError::Unavailable`] when there is no such device (or no audio server).
pub fn input_device(name: Option<&str>) -> Result<cpal::Device, DeviceError> {
    find(Direction::Input, name)
}

/// What to open: the device (by name, `None` for the default) and the format wanted (`None`:
/// what the device gives).
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    /// Device name, or `None` for the default.
    pub device: Option<&'a str>,
    /// Sample rate in Hz, or `None` for the device's.
    pub sample_rate: Option<u32>,
    /// Channels, or `None` for the device's.
    pub channels: Option<u16>,
}

/// A device found and the stream config to open it with.
pub struct Plan {
    /// The device.
    pub device: cpal::Device,
    /// Its name ("unknown" when it has no description).
    pub name: String,
    /// Rate, channels and buffer size to open with.
    pub config: StreamConfig,
    /// The device's sample format (checked when the stream is built, see
    /// [`super::with_sample`]).
    pub format: SampleFormat,
}

/// Finds the device of `request` and decides the stream config: the requested rate and
/// channels where given, the device's default otherwise; `buffer` picks the buffer size from
/// the device's range. Opens nothing.
///
/// # Errors
/// [`DeviceError::Unavailable`] when there is no such device or it reports no default
/// config (no sound card or audio server).
pub fn plan(
    direction: Direction,
    request: Request<'_>,
    buffer: impl FnOnce(&SupportedBufferSize) -> BufferSize,
) -> Result<Plan, DeviceError> {
    let device = match direction {
        Direction::Output => output_device(request.device),
        Direction::Input => input_device(request.device),
    }?;
    let name = device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let default = match direction {
        Direction::Output => device.default_output_config(),
        Direction::Input => device.default_input_config(),
    }
    .map_err(|e| {
        DeviceError::Unavailable(format!("{name}: {e} (no sound card or audio server?)"))
    })?;
    let config = StreamConfig {
        channels: request.channels.unwrap_or(default.channels()),
        sample_rate: request.sample_rate.unwrap_or(default.sample_rate()),
        buffer_size: buffer(default.buffer_size()),
    };
    Ok(Plan {
        device,
        name,
        config,
        format: default.sample_format(),
    })
}

/// What a stream's callbacks report; read by its [`Watchdog`].
#[derive(Debug, Default)]
pub struct StreamHealth {
    /// Data callbacks run.
    pub callbacks: AtomicU64,
    /// Non-xrun stream errors (transient ones included).
    pub errors: AtomicU64,
    /// A fatal error happened (`DeviceNotAvailable`, `StreamInvalidated`,
    /// `HostUnavailable`): the stream must be torn down.
    pub fatal: AtomicBool,
    /// The stream is being let go: its callbacks do nothing more (an output writes silence),
    /// even if its drop is stuck and it calls back once more.
    retired: AtomicBool,
}

impl StreamHealth {
    /// Whether the stream was let go. Real-time safe.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    /// Counts one error reported by cpal; xruns go to `on_xrun` instead. Real-time safe.
    fn record_error(&self, kind: cpal::ErrorKind, on_xrun: &impl Fn()) {
        match kind {
            cpal::ErrorKind::Xrun => on_xrun(),
            cpal::ErrorKind::DeviceChanged => {}
            // The device or server is gone for good: tear down now.
            cpal::ErrorKind::DeviceNotAvailable
            | cpal::ErrorKind::StreamInvalidated
            | cpal::ErrorKind::HostUnavailable => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.fatal.store(true, Ordering::Release);
            }
            // Backend hiccups can be transient (a server still starting up): the watchdog
            // only gives up when errors come and the data callbacks stop.
            _ => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// When a stream counts as dead (each side keeps its own numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// No callback for this long.
    pub stall: Duration,
    /// No callback for this long before the first one (a sound server that was just
    /// restarted can take a couple of seconds).
    pub first_callback: Duration,
    /// New errors and no data callback for this long (`None`: errors alone never decide).
    pub errors_and_no_data: Option<Duration>,
}

/// The output's thresholds.
pub const OUTPUT: Thresholds = Thresholds {
    stall: Duration::from_millis(1500),
    first_callback: Duration::from_secs(5),
    errors_and_no_data: Some(Duration::from_millis(300)),
};

/// The microphone's thresholds.
pub const INPUT: Thresholds = Thresholds {
    stall: Duration::from_millis(1500),
    first_callback: Duration::from_millis(4500),
    errors_and_no_data: None,
};

/// Why a stream was declared dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Death {
    /// A fatal error from cpal (`errors` errors in all).
    Gone {
        /// Errors reported.
        errors: u64,
    },
    /// New errors and no data callback for `silent_ms`.
    Errors {
        /// Errors since the last data callback.
        errors: u64,
        /// Milliseconds without a data callback.
        silent_ms: u64,
    },
    /// No data callback for `silent_ms`.
    Stalled {
        /// Milliseconds without a data callback.
        silent_ms: u64,
    },
}

/// The health bookkeeping of one stream, polled from the control side.
#[derive(Debug)]
pub struct Watchdog {
    health: Arc<StreamHealth>,
    thresholds: Thresholds,
    last_seen: Instant,
    last_count: u64,
    errors_seen: u64,
}

impl Watchdog {
    /// Starts watching `health` now.
    pub fn new(health: Arc<StreamHealth>, thresholds: Thresholds) -> Self {
        let last_count = health.callbacks.load(Ordering::Acquire);
        Self {
            health,
            thresholds,
            last_seen: Instant::now(),
            last_count,
            errors_seen: 0,
        }
    }

    /// Whether the stream is dead, and why. Control thread, once per frame.
    pub fn check(&mut self) -> Option<Death> {
        let errors = self.health.errors.load(Ordering::Relaxed);
        if self.health.fatal.load(Ordering::Acquire) {
            return Some(Death::Gone { errors });
        }
        let count = self.health.callbacks.load(Ordering::Acquire);
        let silent_for = self.last_seen.elapsed();
        let silent_ms = silent_for.as_millis() as u64;
        if count != self.last_count {
            self.last_count = count;
            self.last_seen = Instant::now();
            self.errors_seen = errors;
            return None;
        }
        if let Some(limit) = self.thresholds.errors_and_no_data
            && errors > self.errors_seen
            && silent_for > limit
        {
            return Some(Death::Errors {
                errors: errors - self.errors_seen,
                silent_ms,
            });
        }
        let limit = if count == 0 {
            self.thresholds.first_callback
        } else {
            self.thresholds.stall
        };
        (silent_for > limit).then_some(Death::Stalled { silent_ms })
    }
}

/// Builds an output stream on `plan`: `render` fills each buffer; retired streams write
/// silence; callbacks and errors are counted on `health`, xruns go to `on_xrun`.
///
/// # Errors
/// [`DeviceError::Stream`] when cpal cannot build it.
pub fn build_output<T: DeviceSample + SizedSample>(
    plan: &Plan,
    health: &Arc<StreamHealth>,
    on_xrun: impl Fn() + Send + 'static,
    mut render: impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static,
) -> Result<cpal::Stream, DeviceError> {
    let data_health = health.clone();
    let error_health = health.clone();
    plan.device
        .build_output_stream::<T, _, _>(
            plan.config,
            move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
                if data_health.is_retired() {
                    data.fill(T::EQUILIBRIUM);
                    return;
                }
                render(data, info);
                data_health.callbacks.fetch_add(1, Ordering::Release);
            },
            move |error: cpal::Error| error_health.record_error(error.kind(), &on_xrun),
            None,
        )
        .map_err(|e| DeviceError::Stream(e.to_string()))
}

/// Builds an input stream on `plan`: `capture` takes each buffer; retired streams drop
/// theirs; callbacks and errors are counted on `health`, xruns go to `on_xrun`.
///
/// # Errors
/// [`DeviceError::Stream`] when cpal cannot build it.
pub fn build_input<T: DeviceSample + SizedSample>(
    plan: &Plan,
    health: &Arc<StreamHealth>,
    on_xrun: impl Fn() + Send + 'static,
    mut capture: impl FnMut(&[T]) + Send + 'static,
) -> Result<cpal::Stream, DeviceError> {
    let data_health = health.clone();
    let error_health = health.clone();
    plan.device
        .build_input_stream::<T, _, _>(
            plan.config,
            move |data: &[T], _: &cpal::InputCallbackInfo| {
                if data_health.is_retired() {
                    return;
                }
                capture(data);
                data_health.callbacks.fetch_add(1, Ordering::Release);
            },
            move |error: cpal::Error| error_health.record_error(error.kind(), &on_xrun),
            None,
        )
        .map_err(|e| DeviceError::Stream(e.to_string()))
}

/// A running stream, watched. Dropping it retires its callbacks and releases it with
/// [`release`] (at most [`RELEASE_TIMEOUT`] on the dropping thread, one warning if that ran
/// out): every stream of the crate is torn down this way.
pub struct Stream {
    stream: Option<cpal::Stream>,
    health: Arc<StreamHealth>,
    watchdog: Watchdog,
    label: &'static str,
}

impl Stream {
    /// Starts `stream`, built with `health`, watched with `thresholds`; `label` names it in
    /// the warning about a stuck tear-down ("output", "microphone").
    ///
    /// # Errors
    /// [`DeviceError::Stream`] when it does not start (it is released).
    pub fn play(
        stream: cpal::Stream,
        health: Arc<StreamHealth>,
        thresholds: Thresholds,
        label: &'static str,
    ) -> Result<Self, DeviceError> {
        let played = stream.play();
        let stream = Self {
            stream: Some(stream),
            watchdog: Watchdog::new(health.clone(), thresholds),
            health,
            label,
        };
        played.map_err(|e| DeviceError::Stream(e.to_string()))?;
        Ok(stream)
    }

    /// Whether the stream is dead, and why (see [`Watchdog::check`]).
    pub fn check(&mut self) -> Option<Death> {
        self.watchdog.check()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.health.retire();
        if let Some(stream) = self.stream.take()
            && release(stream, RELEASE_TIMEOUT).timed_out()
        {
            warn!(
                "bevy_webaudio: the {} stream did not close within {} ms (its device or sound \
                 server is gone?); it is left to a helper thread and the game goes on",
                self.label,
                RELEASE_TIMEOUT.as_millis()
            );
        }
    }
}
