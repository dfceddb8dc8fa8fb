//! The cpal output backend: the stream's data callback is the render thread.
//!
//! The callback takes the renderer from the [`RendererSlot`], fills the device buffer (any
//! size: whole quanta are rendered and the remainder carried over), converts to the device's
//! sample format if it is not f32, and puts the renderer back. Devices, formats, health and
//! tear-down are the shared device layer's (`crate::device`); this file is the rendering.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use cpal::{BufferSize, SampleFormat, SizedSample, SupportedBufferSize};

use super::slot::RendererSlot;
use super::{AudioBackendError, AudioOutputConfig, DeviceInfo, LatencyHint};
use crate::command::RenderShared;
pub use crate::device::StreamHealth;
use crate::device::{self, DeviceSample, Direction, Plan, Request, WithSample};

/// Largest device buffer converted in one go for non-f32 formats (bigger ones are chunked).
const CONVERT_FRAMES: usize = 4096;

/// What the output callback measures besides the stream's health, read by the supervisor.
#[derive(Debug, Default)]
pub struct OutputReadings {
    /// Frames delivered to the device.
    pub frames: AtomicU64,
    /// Frames in the most recent callback.
    pub buffer_frames: AtomicU32,
    /// Output latency (callback to playback) of the most recent callback, in microseconds.
    pub output_latency_us: AtomicU32,
}

/// A running output stream (dropping it releases the stream with a bounded wait).
pub struct CpalBackend {
    pub(super) stream: device::Stream,
    /// Frames, buffer size and latency.
    pub readings: Arc<OutputReadings>,
    /// What was opened.
    pub info: DeviceInfo,
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
    /// Opens the output stream on the configured device (by name, or the default).
    /// `format` fixes the rate and channels when the graph already exists (reopening after
    /// a fault, resuming): the renderer runs at the context's rate. Otherwise the config or
    /// the device's defaults decide.
    ///
    /// # Errors
    /// [`AudioBackendError::DeviceUnavailable`] when there is no device or audio server, or
    /// [`AudioBackendError::StreamFailed`] when the device's sample format is not supported
    /// or the stream cannot be built or started.
    pub fn open(
        config: &AudioOutputConfig,
        slot: RendererSlot,
        shared: Arc<RenderShared>,
        format: Option<(u32, u16)>,
    ) -> Result<Self, AudioBackendError> {
        let request = Request {
            device: config.device.as_deref(),
            sample_rate: format.map(|f| f.0).or(config.sample_rate),
            channels: format.map(|f| f.1).or(config.channels),
        };
        let plan = device::plan(Direction::Output, request, |range| {
            buffer_size(config.latency, range)
        })?;
        let health = Arc::new(StreamHealth::default());
        let readings = Arc::new(OutputReadings::default());
        let stream = with_output_sample(
            plan.format,
            OutputStream {
                plan: &plan,
                slot,
                shared,
                health: health.clone(),
                readings: readings.clone(),
            },
        )??;
        let stream = device::Stream::play(stream, health, device::OUTPUT, "output")?;
        let requested = match plan.config.buffer_size {
            BufferSize::Fixed(n) => n,
            BufferSize::Default => 0,
        };
        Ok(Self {
            stream,
            readings,
            info: DeviceInfo {
                name: plan.name,
                sample_rate: plan.config.sample_rate,
                channels: plan.config.channels,
                requested_buffer_frames: requested,
                sample_format: format!("{:?}", plan.format),
            },
        })
    }
}

/// The output's choice of stream sample type for a device `format`: the device layer's one
/// dispatch, with its error as the backend's. An unsupported format is
/// [`AudioBackendError::StreamFailed`], never a stream of another type.
pub(crate) fn with_output_sample<W: WithSample>(
    format: SampleFormat,
    builder: W,
) -> Result<W::Output, AudioBackendError> {
    Ok(device::with_sample(format, builder)?)
}

/// Builds the output stream for one sample type.
struct OutputStream<'a> {
    plan: &'a Plan,
    slot: RendererSlot,
    shared: Arc<RenderShared>,
    health: Arc<StreamHealth>,
    readings: Arc<OutputReadings>,
}

impl WithSample for OutputStream<'_> {
    type Output = Result<cpal::Stream, AudioBackendError>;

    fn run<T: DeviceSample + SizedSample>(self) -> Self::Output {
        let Self {
            plan,
            slot,
            shared,
            health,
            readings,
        } = self;
        let channels = usize::from(plan.config.channels);
        let sample_rate = plan.config.sample_rate as f32;
        let mut scratch = vec![0.0f32; CONVERT_FRAMES * channels];
        let xruns = shared.clone();
        let render = move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
            let started = Instant::now();
            render_callback(data, channels, &slot, &mut scratch);
            let frames = data.len() / channels.max(1);
            record(&readings, &shared, info, frames, started, sample_rate);
        };
        let on_xrun = move || {
            xruns.xruns.fetch_add(1, Ordering::Relaxed);
        };
        Ok(device::build_output(plan, &health, on_xrun, render)?)
    }
}

/// Fills `data` from the renderer (silence if the renderer is elsewhere). Called on the
/// real-time thread.
fn render_callback<T: DeviceSample>(
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
            *d = T::from_f32(*s);
        }
    }
}

/// Updates load, latency and counters after a callback. Called on the real-time thread.
fn record(
    readings: &OutputReadings,
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
        readings.output_latency_us.store(
            latency.as_micros().min(u128::from(u32::MAX)) as u32,
            Ordering::Relaxed,
        );
    }
    readings
        .buffer_frames
        .store(frames as u32, Ordering::Relaxed);
    readings.frames.fetch_add(frames as u64, Ordering::Relaxed);
}

/// Test hook: the stream sample type the output would open for a device `format` (through
/// [`with_output_sample`], the dispatch [`CpalBackend::open`] uses), or its error.
pub(crate) fn output_sample_type(format: SampleFormat) -> Result<&'static str, AudioBackendError> {
    struct TypeName;
    impl WithSample for TypeName {
        type Output = &'static str;
        fn run<T: DeviceSample + SizedSample>(self) -> &'static str {
            std::any::type_name::<T>()
        }
    }
    with_output_sample(format, TypeName)
}
