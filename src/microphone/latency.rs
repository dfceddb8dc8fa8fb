//! Measured input→output latency: a probe that plays a known chirp into the graph's output
//! and listens for it through the microphone, in the graph's own clock.
//!
//! ```text
//!  LatencyProbe node ── chirp at frame E ──▶ destination ──▶ output device ─▶ air / loopback
//!        ▲                                                                          │
//!        └── its own MediaStreamSourceProcessor ◀── ring ◀── input callback ◀───────┘
//!            (records from frame E on)
//! ```
//!
//! The chirp leaves the graph at context frame `E` and comes back through the same path a
//! `MediaStreamAudioSourceNode` plays: output buffering, the device and server, the input
//! callback, the ring and its adaptive fill. So the lag `L` at which the recording best
//! matches the chirp (normalized cross-correlation through realfft) is exactly what a player
//! monitoring their microphone through the graph hears: the **input→output latency**. Both
//! ends are counted in frames of one clock; no wall clock or cpal timestamp is compared.
//!
//! Spawn [`LatencyProbe::bundle`] connected to the destination; when the recording is
//! complete the [`MicrophonePlugin`](super::MicrophonePlugin) computes the lag, stores it on
//! [`Microphone::measured_latency`](super::Microphone::measured_latency) and despawns the
//! probe. The chirp (linear 500 → 5000 Hz, 85 ms, Hann window, −6 dBFS) is audible: measure
//! at a calibration step, not during play.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use bevy::prelude::*;
use crossbeam_queue::ArrayQueue;
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

use super::MicrophoneError;
use super::capture::MediaStream;
use crate::error::WebAudioError;
use crate::node::ProcessContext;
use crate::node::audio_worklet::{
    AudioWorkletNode, AudioWorkletProcessor, WorkletParams, WorkletScope,
};
use crate::node::media_stream_audio_source::{MediaStreamSourceProcessor, SourceLatency};
use crate::render::bus::{AudioBus, RENDER_QUANTUM};

/// The chirp's length in seconds.
pub const CHIRP_SECONDS: f64 = 4096.0 / 48_000.0;
/// The longest latency the probe can find, in seconds.
pub const MAX_LATENCY_SECONDS: f64 = 1.0;
/// How long the microphone must have played before the chirp goes out (its target fill
/// settles first), in seconds.
const SETTLE_SECONDS: f64 = 0.3;
/// The lowest normalized correlation accepted as "the chirp was heard".
pub const MIN_CORRELATION: f32 = 0.5;

/// A finished measurement.
#[derive(Clone, Copy, Debug, PartialEq, Reflect)]
pub struct LatencyMeasurement {
    /// Input→output latency in milliseconds (graph frame the chirp left → graph frame it
    /// came back through the microphone).
    pub latency_ms: f64,
    /// The same in frames of the context's rate.
    pub frames: usize,
    /// Normalized cross-correlation at that lag (1.0: an exact copy).
    pub correlation: f32,
}

/// The chirp at `rate`: a Hann-windowed linear sweep from 500 to 5000 Hz, amplitude 0.5.
pub fn chirp(rate: f32) -> Vec<f32> {
    let n = (CHIRP_SECONDS * f64::from(rate)).round() as usize;
    let (f0, f1, duration) = (500.0, 5000.0, n as f64 / f64::from(rate));
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let phase = std::f64::consts::TAU * (f0 * t + (f1 - f0) * t * t / (2.0 * duration));
            let window = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
            (0.5 * window * phase.sin()) as f32
        })
        .collect()
}

/// What the render thread records: the microphone from the frame the chirp went out, one
/// atomic slot per frame (lock-free, allocated on the control side).
struct Recording {
    rate: f32,
    samples: Box<[AtomicU32]>,
    written: AtomicUsize,
    done: AtomicBool,
}

impl Recording {
    fn new(rate: f32) -> Self {
        let frames = ((MAX_LATENCY_SECONDS + CHIRP_SECONDS) * f64::from(rate)).ceil() as usize;
        Self {
            rate,
            samples: (0..frames).map(|_| AtomicU32::new(0)).collect(),
            written: AtomicUsize::new(0),
            done: AtomicBool::new(false),
        }
    }

    fn read(&self) -> Vec<f32> {
        self.samples
            .iter()
            .map(|s| f32::from_bits(s.load(Ordering::Relaxed)))
            .collect()
    }
}

/// The probe's render-side processor: plays the microphone (silently) until it has settled,
/// then emits the chirp and records the microphone from that frame on.
struct ProbeProcessor {
    source: MediaStreamSourceProcessor,
    mic: Vec<[f32; RENDER_QUANTUM]>,
    chirp: Vec<f32>,
    recording: Arc<Recording>,
    settle_quanta: u32,
    played_quanta: u32,
    emit_frame: Option<u64>,
}

impl AudioWorkletProcessor for ProbeProcessor {
    fn process(
        &mut self,
        _inputs: &[AudioBus],
        outputs: &mut [AudioBus],
        _params: &WorkletParams<'_>,
        ctx: &ProcessContext,
    ) -> bool {
        let played = self.source.render(&mut self.mic);
        let emit = match self.emit_frame {
            Some(frame) => frame,
            None if played && self.played_quanta >= self.settle_quanta => {
                *self.emit_frame.insert(ctx.frame)
            }
            None => {
                self.played_quanta += u32::from(played);
                return true;
            }
        };
        let offset = (ctx.frame - emit) as usize;
        if let Some(out) = outputs
            .first_mut()
            .and_then(|o| o.channels_mut().first_mut())
        {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.chirp.get(offset + i).copied().unwrap_or(0.0);
            }
        }
        let recording = &self.recording;
        let start = recording.written.load(Ordering::Relaxed);
        let slots = recording.samples.get(start..).unwrap_or_default();
        let n = slots.len().min(RENDER_QUANTUM);
        for (slot, &x) in slots[..n].iter().zip(&self.mic[0]) {
            slot.store(x.to_bits(), Ordering::Relaxed);
        }
        recording.written.store(start + n, Ordering::Relaxed);
        if start + n == recording.samples.len() {
            recording.done.store(true, Ordering::Release);
        }
        true
    }
}

/// A running measurement: the control side of the probe node on the same entity (see the
/// module docs). The microphone plugin reads it and despawns the entity when done.
///
/// Reflected as an opaque marker: its fields are the queue its probe node's processor fills
/// on the render thread, which only [`LatencyProbe::bundle`] can connect. One built from
/// reflection (a scene) has no node feeding it and never completes.
#[derive(Component, Reflect)]
#[reflect(Component)]
pub struct LatencyProbe {
    #[reflect(ignore, default = "unconnected_recordings")]
    recordings: Arc<ArrayQueue<Arc<Recording>>>,
    #[reflect(ignore)]
    latest: Option<Arc<Recording>>,
}

/// The queue of a probe that no node feeds.
fn unconnected_recordings() -> Arc<ArrayQueue<Arc<Recording>>> {
    Arc::new(ArrayQueue::new(1))
}

impl LatencyProbe {
    /// The probe node and its control side, to spawn together and connect to the
    /// destination: `commands.spawn(LatencyProbe::bundle(mic.stream())?).connect(dest)`.
    ///
    /// # Errors
    /// From the worklet builder (none expected: the node's shape is fixed).
    pub fn bundle(stream: &MediaStream) -> Result<(AudioWorkletNode, LatencyProbe), WebAudioError> {
        let recordings = Arc::new(ArrayQueue::new(4));
        let queue = recordings.clone();
        let stream = stream.clone();
        let node = AudioWorkletNode::builder("latency-probe", move |scope: &WorkletScope| {
            let rate = scope.sample_rate;
            let recording = Arc::new(Recording::new(rate));
            queue.force_push(recording.clone());
            let source =
                MediaStreamSourceProcessor::new(Some(&stream), rate, SourceLatency::default());
            ProbeProcessor {
                mic: vec![[0.0; RENDER_QUANTUM]; source.channels()],
                source,
                chirp: chirp(rate),
                recording,
                settle_quanta: (SETTLE_SECONDS * f64::from(rate) / RENDER_QUANTUM as f64) as u32,
                played_quanta: 0,
                emit_frame: None,
            }
        })
        .inputs(0)
        .output_channel_count(vec![1])
        .build()?;
        Ok((
            node,
            LatencyProbe {
                recordings,
                latest: None,
            },
        ))
    }

    /// The result once the recording is complete: the lag of the best match, or
    /// [`MicrophoneError::ProbeNotHeard`] when nothing correlates well enough. `None` while
    /// recording. Computes once (an FFT of about two seconds of audio): call it when needed.
    pub fn poll(&mut self) -> Option<Result<LatencyMeasurement, MicrophoneError>> {
        while let Some(recording) = self.recordings.pop() {
            self.latest = Some(recording);
        }
        let recording = self.latest.as_ref()?;
        if !recording.done.load(Ordering::Acquire) {
            return None;
        }
        let chirp = chirp(recording.rate);
        Some(find_lag(&recording.read(), &chirp, recording.rate))
    }
}

/// Finds `reference` in `recorded` by normalized cross-correlation (FFT-based); the lag in
/// frames of the best match and its correlation.
///
/// # Errors
/// [`MicrophoneError::ProbeNotHeard`] when the best correlation is under
/// [`MIN_CORRELATION`].
pub fn find_lag(
    recorded: &[f32],
    reference: &[f32],
    rate: f32,
) -> Result<LatencyMeasurement, MicrophoneError> {
    let correlation = cross_correlate(recorded, reference);
    let energy_ref: f64 = reference.iter().map(|&x| f64::from(x).powi(2)).sum();
    // Sliding energy of the recording under the reference, by prefix sums.
    let mut prefix = Vec::with_capacity(recorded.len() + 1);
    prefix.push(0.0f64);
    for &x in recorded {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(x).powi(2));
    }
    let lags = recorded.len().saturating_sub(reference.len()) + 1;
    let (mut best, mut best_lag) = (0.0f64, 0);
    for (lag, &c) in correlation.iter().enumerate().take(lags) {
        let energy = prefix[lag + reference.len()] - prefix[lag];
        let denominator = (energy * energy_ref).sqrt();
        if denominator > 1e-12 {
            let r = c / denominator;
            if r > best {
                (best, best_lag) = (r, lag);
            }
        }
    }
    let found = LatencyMeasurement {
        latency_ms: best_lag as f64 * 1000.0 / f64::from(rate),
        frames: best_lag,
        correlation: best as f32,
    };
    if found.correlation < MIN_CORRELATION {
        return Err(MicrophoneError::ProbeNotHeard(format!(
            "best correlation {:.2} at {:.1} ms",
            found.correlation, found.latency_ms
        )));
    }
    Ok(found)
}

/// `c[lag] = Σ recorded[lag + i]·reference[i]` for every lag, through one real FFT size.
fn cross_correlate(recorded: &[f32], reference: &[f32]) -> Vec<f64> {
    let n = (recorded.len() + reference.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let (forward, inverse) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    let spectrum = |signal: &mut dyn Iterator<Item = f64>| {
        let mut time: Vec<f64> = signal.collect();
        time.resize(n, 0.0);
        let mut freq = forward.make_output_vec();
        let _ = forward.process(&mut time, &mut freq);
        freq
    };
    let a = spectrum(&mut recorded.iter().map(|&x| f64::from(x)));
    let b = spectrum(&mut reference.iter().map(|&x| f64::from(x)));
    let mut product: Vec<Complex<f64>> = a.iter().zip(&b).map(|(x, y)| x * y.conj()).collect();
    // Real signals: DC and Nyquist are real (clear the rounding the inverse would reject).
    for bin in [0, product.len() - 1] {
        product[bin].im = 0.0;
    }
    let mut out = inverse.make_output_vec();
    let _ = inverse.process(&mut product, &mut out);
    let scale = 1.0 / n as f64;
    out.iter().map(|x| x * scale).collect()
}
