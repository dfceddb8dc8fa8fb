//! The cpal output backend: the stream's data callback is the render thread.
//!
//! The callback takes the renderer from the [`RendererSlot`], fills the device buffer (any
//! size: whole quanta are rendered and the remainder carried over), converts to the device's
//! sample format if it is not f32, and puts the renderer back. Health is reported through
//! atomics that the supervisor polls from the control side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, SampleFormat, SizedSample, StreamConfig, SupportedBufferSize};

use super::slot::RendererSlot;
use super::{AudioBackendError, AudioOutputConfig, DeviceInfo, LatencyHint};
use crate::command::RenderShared;

/// Largest device buffer converted in one go for non-f32 formats (bigger ones are chunked).
const CONVERT_FRAMES: usize = 4096;

/// What the stream's callbacks report, read by the supervisor.
#[derive(Debug, Default)]
pub struct StreamHealth {
    /// Data callbacks run.
    pub callbacks: AtomicU64,
    /// Frames delivered to the device.
    pub frames: AtomicU64,
    /// Non-xrun stream errors (transient ones included).
    pub errors: AtomicU64,
    /// A fatal error happened: the stream must be torn down.
    pub fatal: AtomicBool,
    /// Frames in the most recent callback.
    pub buffer_frames: AtomicU32,
    /// Output latency (callback to playback) of the most recent callback, in microseconds.
    pub output_latency_us: AtomicU32,
}

/// A running output stream.
pub struct CpalBackend {
    _stream: cpal::Stream,
    /// The stream's health counters.
    pub health: Arc<StreamHealth>,
    /// What was opened.
    pub info: DeviceInfo,
}

fn device_error(message: impl Into<String>) -> AudioBackendError {
    AudioBackendError::DeviceUnavailable(message.into())
}

/// Finds the configured device (by name) or the default one.
fn find_device(config: &AudioOutputConfig) -> Result<cpal::Device, AudioBackendError> {
    let host = cpal::default_host();
    match &config.device {
        None => host.default_output_device().ok_or_else(|| {
            device_error("no default output device (no sound card or audio server)")
        }),
        Some(name) => host
            .output_devices()
            .map_err(|e| device_error(e.to_string()))?
            .find(|d| d.description().is_ok_and(|desc| desc.name() == name))
            .ok_or_else(|| device_error(format!("no output device named {name:?}"))),
    }
}

/// Whether the configured device exists and reports a default format (a quick probe that
/// does not open a stream).
pub fn device_available(config: &AudioOutputConfig) -> bool {
    find_device(config).is_ok_and(|d| d.default_output_config().is_ok())
}

/// The buffer size for a latency hint within the device's range.
fn buffer_size(hint: LatencyHint, range: &SupportedBufferSize) -> BufferSize {
    let (min, max) = match *range {
        SupportedBufferSize::Range { min, max } => (min, max),
        SupportedBufferSize::Unknown => (64, 8192),
    };
    let frames = match hint {
        LatencyHint::Interactive => min.max(64),
        LatencyHint::Balanced => 512,
        LatencyHint::Playback => 2048,
        LatencyHint::Frames(n) => n,
    };
    BufferSize::Fixed(frames.clamp(min, max.max(min)))
}

impl CpalBackend {
    /// Opens the output stream. `sample_rate`/`channels` fix the context's format when the
    /// graph already exists (reopening after a fault); otherwise the config or the device's
    /// defaults decide. Returns the rate and channel count actually opened.
    ///
    /// # Errors
    /// [`AudioBackendError::DeviceUnavailable`] when there is no device or audio server, or
    /// [`AudioBackendError::StreamFailed`] when the stream cannot be built or started.
    pub fn open(
        config: &AudioOutputConfig,
        slot: RendererSlot,
        shared: Arc<RenderShared>,
        format: Option<(u32, u16)>,
    ) -> Result<Self, AudioBackendError> {
        let device = find_device(config)?;
        let name = device
            .description()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let default = device
            .default_output_config()
            .map_err(|e| device_error(format!("{name}: {e} (no sound card or audio server?)")))?;
        let sample_rate = format
            .map(|f| f.0)
            .or(config.sample_rate)
            .unwrap_or(default.sample_rate());
        let channels = format
            .map(|f| f.1)
            .or(config.channels)
            .unwrap_or(default.channels());
        let stream_config = StreamConfig {
            channels,
            sample_rate,
            buffer_size: buffer_size(config.latency, default.buffer_size()),
        };
        let health = Arc::new(StreamHealth::default());
        let stream = build(
            &device,
            &stream_config,
            default.sample_format(),
            slot,
            shared,
            health.clone(),
        )?;
        stream
            .play()
            .map_err(|e| AudioBackendError::StreamFailed(e.to_string()))?;
        let requested = match stream_config.buffer_size {
            BufferSize::Fixed(n) => n,
            BufferSize::Default => 0,
        };
        Ok(Self {
            _stream: stream,
            health,
            info: DeviceInfo {
                name,
                sample_rate,
                channels,
                requested_buffer_frames: requested,
                sample_format: format!("{:?}", default.sample_format()),
            },
        })
    }
}

fn build(
    device: &cpal::Device,
    config: &StreamConfig,
    format: SampleFormat,
    slot: RendererSlot,
    shared: Arc<RenderShared>,
    health: Arc<StreamHealth>,
) -> Result<cpal::Stream, AudioBackendError> {
    match format {
        SampleFormat::I16 => build_typed::<i16>(device, config, slot, shared, health),
        SampleFormat::U16 => build_typed::<u16>(device, config, slot, shared, health),
        SampleFormat::I32 => build_typed::<i32>(device, config, slot, shared, health),
        _ => build_typed::<f32>(device, config, slot, shared, health),
    }
}

fn build_typed<T>(
    device: &cpal::Device,
    config: &StreamConfig,
    slot: RendererSlot,
    shared: Arc<RenderShared>,
    health: Arc<StreamHealth>,
) -> Result<cpal::Stream, AudioBackendError>
where
    T: SizedSample + cpal::FromSample<f32> + Send + 'static,
{
    let channels = usize::from(config.channels);
    let sample_rate = config.sample_rate as f32;
    let mut scratch = vec![0.0f32; CONVERT_FRAMES * channels];
    let data_health = health.clone();
    let error_shared = shared.clone();
    let data_callback = move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
        let started = Instant::now();
        render_callback(data, channels, &slot, &mut scratch);
        let frames = data.len() / channels.max(1);
        record(&data_health, &shared, info, frames, started, sample_rate);
    };
    let error_callback = move |error: cpal::Error| match error.kind() {
        cpal::ErrorKind::Xrun => {
            error_shared.xruns.fetch_add(1, Ordering::Relaxed);
        }
        cpal::ErrorKind::DeviceChanged => {}
        // The device or server is gone for good: tear down now.
        cpal::ErrorKind::DeviceNotAvailable
        | cpal::ErrorKind::StreamInvalidated
        | cpal::ErrorKind::HostUnavailable => {
            health.errors.fetch_add(1, Ordering::Relaxed);
            health.fatal.store(true, Ordering::Release);
        }
        // Backend hiccups can be transient (a server still starting up): the supervisor only
        // gives up when errors come and the data callbacks stop.
        _ => {
            health.errors.fetch_add(1, Ordering::Relaxed);
        }
    };
    device
        .build_output_stream::<T, _, _>(*config, data_callback, error_callback, None)
        .map_err(|e| AudioBackendError::StreamFailed(e.to_string()))
}

/// Fills `data` from the renderer (silence if the renderer is elsewhere). Called on the
/// real-time thread.
fn render_callback<T: SizedSample + cpal::FromSample<f32>>(
    data: &mut [T],
    channels: usize,
    slot: &RendererSlot,
    scratch: &mut [f32],
) {
    slot.claim();
    let chunk = scratch.len().max(channels);
    for block in data.chunks_mut(chunk) {
        let out = &mut scratch[..block.len()];
        if slot.with(|r| r.fill_interleaved(out, channels)).is_none() {
            out.fill(0.0);
        }
        for (d, s) in block.iter_mut().zip(out.iter()) {
            *d = T::from_sample(*s);
        }
    }
}

/// Updates load, latency and counters after a callback. Called on the real-time thread.
fn record(
    health: &StreamHealth,
    shared: &RenderShared,
    info: &cpal::OutputCallbackInfo,
    frames: usize,
    started: Instant,
    sample_rate: f32,
) {
    let budget = frames as f32 / sample_rate;
    let load = started.elapsed().as_secs_f32() / budget.max(f32::EPSILON);
    shared.record_load(load);
    if load > 1.0 {
        shared.overruns.fetch_add(1, Ordering::Relaxed);
    }
    let ts = info.timestamp();
    if let Some(latency) = ts.playback.checked_duration_since(ts.callback) {
        health.output_latency_us.store(
            latency.as_micros().min(u128::from(u32::MAX)) as u32,
            Ordering::Relaxed,
        );
    }
    health.buffer_frames.store(frames as u32, Ordering::Relaxed);
    health.frames.fetch_add(frames as u64, Ordering::Relaxed);
    health.callbacks.fetch_add(1, Ordering::Release);
}
