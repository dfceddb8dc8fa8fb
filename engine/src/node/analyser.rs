//! `AnalyserNode`'s render side and analysis: its processor passes its input through unchanged
//! and feeds a lock-free ring that a host reads the most recent audio from, as waveform or
//! spectrum (the spec's "FFT Windowing and Smoothing over Time").
//!
//! **Threads.** The render side down-mixes each quantum to mono (speakers rules, as the spec's
//! "Time-Domain Down-Mixing" says) and appends it to a lock-free ring shared with the
//! node's control side ([`AnalyserTap`]). The ring keeps the last 65 536 frames (twice the largest
//! `fftSize`); the render side never waits, and a getter copies the newest `fftSize` frames
//! without blocking (a sequence check: frames the writer may have overwritten during the copy
//! make it copy again, which needs the writer to get 32 768 frames ahead during one copy).
//! This is latest-value-wins read-back, like fundsp's `Snoop`: a getter sees the audio up to
//! the last rendered quantum, and nothing is queued.
//!
//! **Analysis** runs on the calling (control) thread when the host calls a getter: the
//! Blackman window `w[n] = 0.42 − 0.5 cos(2πn/N) + 0.08 cos(4πn/N)`, `X[k] = (1/N) Σ x̂[n]
//! e^(−2πikn/N)`, smoothing `X̂[k] = τ X̂₋₁[k] + (1 − τ)|X[k]|` (non-finite values become 0),
//! `Y[k] = 20 log₁₀ X̂[k]`, and the byte conversions `⌊255 (Y − dB_min) / (dB_max − dB_min)⌋`
//! and `⌊128 (1 + x)⌋`, clipped to 0..=255. As the spec says, a second frequency getter within
//! the same render quantum returns the previous result instead of smoothing again, and a new
//! `fftSize` resets the smoothing state. The FFT runs in `f64`.
//!
//! The analysis state ([`Analysis`]) lives with the host's node, not with the processor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::{
    AudioProcessor, ChannelInterpretation, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus,
};
use crate::param::NoParams;
use crate::render::bus::{AudioBus, RENDER_QUANTUM};
use crate::render::mix;

/// The largest `fftSize`.
pub const MAX_FFT_SIZE: usize = 32768;
/// The smallest `fftSize`.
pub const MIN_FFT_SIZE: usize = 32;
/// Frames the ring keeps (twice [`MAX_FFT_SIZE`], so a reader copying the largest window has
/// 32 768 frames of slack).
const RING: usize = 2 * MAX_FFT_SIZE;

/// The spec's Blackman window of length `n` (α = 0.16).
pub fn blackman_window(n: usize) -> Vec<f64> {
    let alpha = 0.16;
    let (a0, a1, a2) = ((1.0 - alpha) / 2.0, 0.5, alpha / 2.0);
    let tau = std::f64::consts::TAU;
    (0..n)
        .map(|i| {
            let x = i as f64 / n as f64;
            a0 - a1 * (tau * x).cos() + a2 * (2.0 * tau * x).cos()
        })
        .collect()
}

/// The control side's analysis state: FFT plan and buffers for the current `fftSize`, and
/// the previous block for smoothing. Runs on the calling (control) thread.
#[derive(Default)]
pub struct Analysis {
    fft: Option<Arc<dyn RealToComplex<f64>>>,
    input: Vec<f32>,
    window: Vec<f64>,
    time: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    /// `X̂₋₁[k]`, `frequencyBinCount` values.
    smoothed: Vec<f64>,
    /// `Y[k]`.
    decibels: Vec<f64>,
    /// The render progress the current frequency data were computed at.
    computed_at: Option<u64>,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("fft_size", &self.input.len())
            .field("computed_at", &self.computed_at)
            .finish()
    }
}

impl Analysis {
    /// Forgets the smoothing history (a new `fftSize`).
    pub fn reset(&mut self) {
        self.smoothed.clear();
        self.decibels.clear();
        self.computed_at = None;
    }

    /// Sizes everything for an FFT of `n`.
    fn prepare(&mut self, n: usize) {
        if self.input.len() == n && self.smoothed.len() == n / 2 {
            return;
        }
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        self.input = vec![0.0; n];
        self.window = blackman_window(n);
        self.time = vec![0.0; n];
        self.spectrum = fft.make_output_vec();
        self.scratch = fft.make_scratch_vec();
        self.smoothed = vec![0.0; n / 2];
        self.decibels = vec![f64::NEG_INFINITY; n / 2];
        self.fft = Some(fft);
    }

    /// The current frequency data `Y[k]` in dB (`fft_size / 2` values, `−∞` for an exactly
    /// silent bin) of `tap`'s newest `fft_size` frames: windowed, transformed and smoothed
    /// with `smoothing_time_constant`, unless already computed at the tap's current progress
    /// (a second getter within one render quantum returns the previous result).
    pub fn frequency_data(
        &mut self,
        tap: &AnalyserTap,
        fft_size: usize,
        smoothing_time_constant: f64,
    ) -> &[f64] {
        let n = fft_size;
        let frame = tap.frames_written();
        if self.computed_at == Some(frame) && self.decibels.len() == n / 2 {
            return &self.decibels;
        }
        self.prepare(n);
        tap.latest(&mut self.input);
        let Self {
            input,
            window,
            time,
            spectrum,
            scratch,
            smoothed,
            decibels,
            fft,
            ..
        } = self;
        for ((t, &x), &w) in time.iter_mut().zip(input.iter()).zip(window.iter()) {
            *t = f64::from(x) * w;
        }
        if let Some(fft) = fft {
            let _ = fft.process_with_scratch(time, spectrum, scratch);
        }
        let tau = smoothing_time_constant;
        let inv_n = 1.0 / n as f64;
        for ((s, y), x) in smoothed
            .iter_mut()
            .zip(decibels.iter_mut())
            .zip(spectrum.iter())
        {
            let magnitude = x.norm() * inv_n;
            let mut v = tau * *s + (1.0 - tau) * magnitude;
            if !v.is_finite() {
                v = 0.0;
            }
            *s = v;
            *y = 20.0 * v.log10();
        }
        self.computed_at = Some(frame);
        &self.decibels
    }
}

/// The ring the render side writes and the control side reads: the most recent [`RING`] frames
/// of down-mixed input.
///
/// One writer (the node's processor, on the real-time thread) and any number of readers; no
/// locks. The writer announces the frames it is about to overwrite in `reserved` before
/// writing them and publishes them in `written` after; a reader copies a window and then
/// checks `reserved` to know whether the writer may have overwritten part of it meanwhile
/// (a seqlock's check, but the writer never waits).
#[derive(Debug)]
struct TapShared {
    /// Samples as `f32` bits, indexed by frame modulo [`RING`].
    samples: Box<[AtomicU32]>,
    /// Frames the writer may have started to write.
    reserved: AtomicU64,
    /// Frames completely written.
    written: AtomicU64,
}

/// An analyser's ring: the processor writes it, the node's control side reads it. Clones
/// share the ring.
#[derive(Clone, Debug)]
pub struct AnalyserTap {
    shared: Arc<TapShared>,
}

impl Default for AnalyserTap {
    fn default() -> Self {
        Self {
            shared: Arc::new(TapShared {
                samples: (0..RING).map(|_| AtomicU32::new(0)).collect(),
                reserved: AtomicU64::new(0),
                written: AtomicU64::new(0),
            }),
        }
    }
}

impl AnalyserTap {
    /// Frames written so far (the render side's progress; the data a reader sees ends there).
    pub fn frames_written(&self) -> u64 {
        self.shared.written.load(Ordering::Acquire)
    }

    /// Copies the most recent `dst.len()` (≤ 32768) frames into `dst` (zeros before the first
    /// frame). Returns the frame count the copy ends at. Never blocks.
    pub fn latest(&self, dst: &mut [f32]) -> u64 {
        let s = &*self.shared;
        let n = dst.len().min(MAX_FFT_SIZE) as u64;
        let mut end = 0;
        // The writer would need to render 32 768 frames during one copy for a retry; bound
        // the retries anyway.
        for _ in 0..8 {
            end = s.written.load(Ordering::Acquire);
            let start = end.saturating_sub(n);
            let zeros = (n - (end - start)) as usize;
            dst[..zeros].fill(0.0);
            for (d, frame) in dst[zeros..].iter_mut().zip(start..end) {
                *d = f32::from_bits(s.samples[(frame as usize) % RING].load(Ordering::Relaxed));
            }
            fence(Ordering::Acquire);
            let reserved = s.reserved.load(Ordering::Relaxed);
            // Frame `f` lives in slot `f % RING` until frame `f + RING` is reserved.
            if reserved <= start + RING as u64 {
                break;
            }
        }
        end
    }

    /// Appends one quantum. Called on the real-time thread (the only writer).
    pub fn write(&self, quantum: &[f32; RENDER_QUANTUM]) {
        let s = &*self.shared;
        let w = s.written.load(Ordering::Relaxed);
        s.reserved
            .store(w + RENDER_QUANTUM as u64, Ordering::Relaxed);
        fence(Ordering::Release);
        for (i, &x) in quantum.iter().enumerate() {
            s.samples[(w as usize + i) % RING].store(x.to_bits(), Ordering::Relaxed);
        }
        s.written
            .store(w + RENDER_QUANTUM as u64, Ordering::Release);
    }
}

/// The analyser's processor: passes its input through and appends its mono down-mix to the
/// ring.
pub struct AnalyserProcessor {
    tap: AnalyserTap,
    /// The down-mix scratch.
    mono: AudioBus,
}

impl AnalyserProcessor {
    /// A processor writing to `tap` (a clone of the node's).
    pub fn new(tap: AnalyserTap) -> Self {
        Self {
            tap,
            mono: AudioBus::with_capacity(1),
        }
    }
}

impl AudioProcessor for AnalyserProcessor {
    type Params = NoParams;
    type Message = ();

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let (Some(input), Some(output)) = (io.inputs.first(), io.outputs.first_mut()) else {
            return ProcessStatus::Active;
        };
        output.copy_from(input);
        self.mono.make_silent(1);
        mix::mix_into(&mut self.mono, input, ChannelInterpretation::Speakers);
        self.tap.write(self.mono.channel(0));
        ProcessStatus::Active
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_macros, clippy::disallowed_methods)]
mod tests {
    use super::*;

    /// A writer thread appends quanta whose samples are their own frame numbers while this
    /// thread reads windows: every window must be consecutive frames ending where the read
    /// says (no torn or stale samples), and reading never blocks the writer.
    #[test]
    fn concurrent_reads_see_consistent_windows() {
        let tap = AnalyserTap::default();
        let writer = tap.clone();
        const QUANTA: u64 = 120_000; // 15 360 000 frames, exact in f32 (< 2^24)
        let handle = std::thread::spawn(move || {
            let mut q = [0.0f32; RENDER_QUANTUM];
            for n in 0..QUANTA {
                for (i, v) in q.iter_mut().enumerate() {
                    *v = (n * RENDER_QUANTUM as u64 + i as u64) as f32;
                }
                writer.write(&q);
            }
        });
        let mut window = vec![0.0f32; MAX_FFT_SIZE];
        let mut checked = 0;
        while !handle.is_finished() || checked == 0 {
            let end = tap.latest(&mut window);
            if end as usize >= MAX_FFT_SIZE {
                let first = end as usize - MAX_FFT_SIZE;
                for (i, &v) in window.iter().enumerate() {
                    assert_eq!(v, (first + i) as f32, "window ending at {end}");
                }
                checked += 1;
            }
        }
        handle.join().unwrap();
        assert_eq!(
            tap.latest(&mut window[..32]),
            QUANTA * RENDER_QUANTUM as u64
        );
        assert_eq!(window[31], (QUANTA * RENDER_QUANTUM as u64 - 1) as f32);
        println!("{checked} windows checked");
    }
}
