//! `AnalyserNode`: passes its input through unchanged and lets the game read the most recent
//! audio, as waveform or spectrum (the spec's "FFT Windowing and Smoothing over Time").
//!
//! **Threads.** The render side down-mixes each quantum to mono (speakers rules, as the spec's
//! "Time-Domain Down-Mixing" says) and appends it to a lock-free ring shared with the
//! component ([`AnalyserTap`]). The ring keeps the last 65 536 frames (twice the largest
//! `fftSize`); the render side never waits, and a getter copies the newest `fftSize` frames
//! without blocking (a sequence check: frames the writer may have overwritten during the copy
//! make it copy again, which needs the writer to get 32 768 frames ahead during one copy).
//! This is latest-value-wins read-back, like fundsp's `Snoop`: a getter sees the audio up to
//! the last rendered quantum, and nothing is queued.
//!
//! **Analysis** runs on the calling (control) thread when the game calls a getter: the
//! Blackman window `w[n] = 0.42 − 0.5 cos(2πn/N) + 0.08 cos(4πn/N)`, `X[k] = (1/N) Σ x̂[n]
//! e^(−2πikn/N)`, smoothing `X̂[k] = τ X̂₋₁[k] + (1 − τ)|X[k]|` (non-finite values become 0),
//! `Y[k] = 20 log₁₀ X̂[k]`, and the byte conversions `⌊255 (Y − dB_min) / (dB_max − dB_min)⌋`
//! and `⌊128 (1 + x)⌋`, clipped to 0..=255. As the spec says, a second frequency getter within
//! the same render quantum returns the previous result instead of smoothing again, and a new
//! `fftSize` resets the smoothing state. The FFT runs in `f64`.
//!
//! The getters take `&mut self` (smoothing state): call them through `Query<&mut
//! AnalyserNode>`; the change this flags costs the sync one attribute comparison.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use bevy::prelude::*;
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, ChannelInterpretation, NodeShape,
    ProcessContext, ProcessIo, ProcessPhase, ProcessStatus,
};
use crate::error::WebAudioError;
use crate::param::{AudioParam, ParamId};
use crate::render::bus::{AudioBus, RENDER_QUANTUM};
use crate::render::mix;

/// The largest `fftSize`.
pub const MAX_FFT_SIZE: usize = 32768;
/// The smallest `fftSize`.
pub const MIN_FFT_SIZE: usize = 32;
/// Frames the ring keeps (twice [`MAX_FFT_SIZE`], so a reader copying the largest window has
/// 32 768 frames of slack).
const RING: usize = 2 * MAX_FFT_SIZE;

/// The spec's `AnalyserNode`.
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
///
/// fn meter(mut analysers: Query<&mut AnalyserNode>) {
///     for mut analyser in &mut analysers {
///         let mut spectrum = vec![0.0f32; analyser.frequency_bin_count()];
///         analyser.get_float_frequency_data(&mut spectrum);
///         let mut wave = vec![0u8; analyser.fft_size()];
///         analyser.get_byte_time_domain_data(&mut wave);
///     }
/// }
///
/// let mut analyser = AnalyserNode::default();
/// analyser.set_fft_size(4096)?.set_smoothing_time_constant(0.5)?;
/// assert_eq!(analyser.frequency_bin_count(), 2048);
/// assert!(analyser.set_fft_size(1000).is_err());
/// assert!(analyser.set_min_decibels(-20.0).is_err()); // above maxDecibels (-30)
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct AnalyserNode {
    fft_size: usize,
    min_decibels: f64,
    max_decibels: f64,
    smoothing_time_constant: f64,
    #[reflect(ignore)]
    tap: AnalyserTap,
    #[reflect(ignore)]
    analysis: Analysis,
}

impl Default for AnalyserNode {
    fn default() -> Self {
        Self {
            fft_size: 2048,
            min_decibels: -100.0,
            max_decibels: -30.0,
            smoothing_time_constant: 0.8,
            tap: AnalyserTap::default(),
            analysis: Analysis::default(),
        }
    }
}

impl Clone for AnalyserNode {
    /// A new analyser with the same settings, its own ring and no smoothing history (two
    /// nodes must not write into one ring).
    fn clone(&self) -> Self {
        Self {
            fft_size: self.fft_size,
            min_decibels: self.min_decibels,
            max_decibels: self.max_decibels,
            smoothing_time_constant: self.smoothing_time_constant,
            ..Self::default()
        }
    }
}

impl AnalyserNode {
    /// `new AnalyserNode(ctx, { fftSize, maxDecibels, minDecibels, smoothingTimeConstant })`.
    ///
    /// # Errors
    /// As the setters.
    pub fn new(
        fft_size: usize,
        min_decibels: f64,
        max_decibels: f64,
        smoothing_time_constant: f64,
    ) -> Result<Self, WebAudioError> {
        let mut node = Self::default();
        node.set_fft_size(fft_size)?
            .set_smoothing_time_constant(smoothing_time_constant)?;
        check_decibels(min_decibels, max_decibels)?;
        node.min_decibels = min_decibels;
        node.max_decibels = max_decibels;
        Ok(node)
    }

    /// `fftSize` (default 2048).
    pub fn fft_size(&self) -> usize {
        self.fft_size
    }

    /// Sets `fftSize`; a new size resets the smoothing state.
    ///
    /// # Errors
    /// `IndexSizeError` unless a power of two in 32..=32768.
    pub fn set_fft_size(&mut self, fft_size: usize) -> Result<&mut Self, WebAudioError> {
        if !fft_size.is_power_of_two() || !(MIN_FFT_SIZE..=MAX_FFT_SIZE).contains(&fft_size) {
            return Err(WebAudioError::IndexSize(format!(
                "fftSize must be a power of two in 32..=32768, got {fft_size}"
            )));
        }
        if fft_size != self.fft_size {
            self.fft_size = fft_size;
            self.analysis.reset();
        }
        Ok(self)
    }

    /// `frequencyBinCount`: half the `fftSize`.
    pub fn frequency_bin_count(&self) -> usize {
        self.fft_size / 2
    }

    /// `minDecibels` (default −100).
    pub fn min_decibels(&self) -> f64 {
        self.min_decibels
    }

    /// Sets `minDecibels`.
    ///
    /// # Errors
    /// `IndexSizeError` when not below `maxDecibels`.
    pub fn set_min_decibels(&mut self, value: f64) -> Result<&mut Self, WebAudioError> {
        check_decibels(value, self.max_decibels)?;
        self.min_decibels = value;
        Ok(self)
    }

    /// `maxDecibels` (default −30).
    pub fn max_decibels(&self) -> f64 {
        self.max_decibels
    }

    /// Sets `maxDecibels`.
    ///
    /// # Errors
    /// `IndexSizeError` when not above `minDecibels`.
    pub fn set_max_decibels(&mut self, value: f64) -> Result<&mut Self, WebAudioError> {
        check_decibels(self.min_decibels, value)?;
        self.max_decibels = value;
        Ok(self)
    }

    /// `smoothingTimeConstant` (default 0.8).
    pub fn smoothing_time_constant(&self) -> f64 {
        self.smoothing_time_constant
    }

    /// Sets `smoothingTimeConstant`.
    ///
    /// # Errors
    /// `IndexSizeError` outside 0..=1 (or NaN).
    pub fn set_smoothing_time_constant(&mut self, value: f64) -> Result<&mut Self, WebAudioError> {
        if !(0.0..=1.0).contains(&value) {
            return Err(WebAudioError::IndexSize(format!(
                "smoothingTimeConstant must be in 0..=1, got {value}"
            )));
        }
        self.smoothing_time_constant = value;
        Ok(self)
    }

    /// Frames rendered through this analyser so far (the render side's progress; the data
    /// a getter sees ends there).
    pub fn frames_analysed(&self) -> u64 {
        self.tap.shared.written.load(Ordering::Acquire)
    }

    /// `getFloatTimeDomainData`: the most recent `fftSize` frames (down-mixed to mono) into
    /// `array`; excess elements of either are left alone / dropped.
    pub fn get_float_time_domain_data(&self, array: &mut [f32]) {
        let n = self.fft_size;
        if array.len() >= n {
            self.tap.latest(&mut array[..n]);
        } else {
            let mut window = vec![0.0; n];
            self.tap.latest(&mut window);
            array.copy_from_slice(&window[..array.len()]);
        }
    }

    /// `getByteTimeDomainData`: `⌊128 (1 + x)⌋` clipped to 0..=255.
    pub fn get_byte_time_domain_data(&self, array: &mut [u8]) {
        let mut window = vec![0.0; self.fft_size];
        self.tap.latest(&mut window);
        for (b, &x) in array.iter_mut().zip(&window) {
            *b = (128.0 * (1.0 + f64::from(x))).floor().clamp(0.0, 255.0) as u8;
        }
    }

    /// `getFloatFrequencyData`: the current frequency data in dB (`−∞` for an exactly silent
    /// bin) into the first `frequencyBinCount` elements of `array`.
    pub fn get_float_frequency_data(&mut self, array: &mut [f32]) {
        self.update_frequency_data();
        for (a, &y) in array.iter_mut().zip(&self.analysis.decibels) {
            *a = y as f32;
        }
    }

    /// `getByteFrequencyData`: `⌊255 (Y − minDecibels) / (maxDecibels − minDecibels)⌋`,
    /// clipped to 0..=255.
    pub fn get_byte_frequency_data(&mut self, array: &mut [u8]) {
        self.update_frequency_data();
        let (min, max) = (self.min_decibels, self.max_decibels);
        let scale = 255.0 / (max - min);
        for (b, &y) in array.iter_mut().zip(&self.analysis.decibels) {
            // From the value `getFloatFrequencyData` reports, so the two agree exactly.
            let y = f64::from(y as f32);
            let v = (scale * (y - min)).floor();
            // NaN cannot occur (smoothing replaces it); −∞ clips to 0.
            *b = v.clamp(0.0, 255.0) as u8;
        }
    }

    /// Recomputes the current frequency data unless it was computed for the same render
    /// quantum.
    fn update_frequency_data(&mut self) {
        let n = self.fft_size;
        let frame = self.frames_analysed();
        let analysis = &mut self.analysis;
        if analysis.computed_at == Some(frame) && analysis.decibels.len() == n / 2 {
            return;
        }
        analysis.prepare(n);
        self.tap.latest(&mut analysis.input);
        let Analysis {
            input,
            window,
            time,
            spectrum,
            scratch,
            smoothed,
            decibels,
            fft,
            ..
        } = analysis;
        for ((t, &x), &w) in time.iter_mut().zip(input.iter()).zip(window.iter()) {
            *t = f64::from(x) * w;
        }
        if let Some(fft) = fft {
            let _ = fft.process_with_scratch(time, spectrum, scratch);
        }
        let tau = self.smoothing_time_constant;
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
        analysis.computed_at = Some(frame);
    }
}

fn check_decibels(min: f64, max: f64) -> Result<(), WebAudioError> {
    if min < max {
        Ok(())
    } else {
        Err(WebAudioError::IndexSize(format!(
            "minDecibels ({min}) must be below maxDecibels ({max})"
        )))
    }
}

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
/// the previous block for smoothing.
#[derive(Default)]
struct Analysis {
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
    fn reset(&mut self) {
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
}

/// The ring the render side writes and the component reads: the most recent [`RING`] frames
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

/// The component's end of an analyser's ring.
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
    /// Copies the most recent `dst.len()` (≤ 32768) frames into `dst` (zeros before the first
    /// frame). Returns the frame count the copy ends at. Never blocks.
    fn latest(&self, dst: &mut [f32]) -> u64 {
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
    fn write(&self, quantum: &[f32; RENDER_QUANTUM]) {
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

impl AudioNode for AnalyserNode {
    type Attributes = ();
    const NAME: &'static str = "AnalyserNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: 1,
            is_delay: false,
        }
    }

    fn for_each_param(&mut self, _f: &mut dyn FnMut(ParamId, &mut AudioParam)) {}

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(AnalyserProcessor {
            tap: self.tap.clone(),
            mono: AudioBus::with_capacity(1),
        })
    }
}

struct AnalyserProcessor {
    tap: AnalyserTap,
    /// The down-mix scratch.
    mono: AudioBus,
}

impl AudioProcessor for AnalyserProcessor {
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
