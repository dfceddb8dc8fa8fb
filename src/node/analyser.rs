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

use bevy::prelude::*;

use webaudio_engine::node::analyser::{AnalyserProcessor, Analysis};
use webaudio_engine::param::NoParams;

use super::{AudioNode, BuildContext, ChannelConfig, NodeShape};
use crate::error::WebAudioError;
use crate::param::AudioParam;

pub use webaudio_engine::node::analyser::{
    AnalyserTap, MAX_FFT_SIZE, MIN_FFT_SIZE, blackman_window,
};

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
    /// `IndexSizeError` when not below `maxDecibels` or not finite.
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
    /// `IndexSizeError` when not above `minDecibels` or not finite.
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
        self.tap.frames_written()
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
        let decibels =
            self.analysis
                .frequency_data(&self.tap, self.fft_size, self.smoothing_time_constant);
        for (a, &y) in array.iter_mut().zip(decibels) {
            *a = y as f32;
        }
    }

    /// `getByteFrequencyData`: `⌊255 (Y − minDecibels) / (maxDecibels − minDecibels)⌋`,
    /// clipped to 0..=255.
    pub fn get_byte_frequency_data(&mut self, array: &mut [u8]) {
        let (min, max) = (self.min_decibels, self.max_decibels);
        let scale = 255.0 / (max - min);
        let decibels =
            self.analysis
                .frequency_data(&self.tap, self.fft_size, self.smoothing_time_constant);
        for (b, &y) in array.iter_mut().zip(decibels) {
            // From the value `getFloatFrequencyData` reports, so the two agree exactly.
            let y = f64::from(y as f32);
            let v = (scale * (y - min)).floor();
            // NaN cannot occur (smoothing replaces it); −∞ clips to 0.
            *b = v.clamp(0.0, 255.0) as u8;
        }
    }
}

/// `minDecibels < maxDecibels`, both finite (an infinite bound would turn the byte
/// conversion's scale into NaN). Non-finite values are an `IndexSizeError` like NaN
/// `smoothingTimeConstant` (the spec's WebIDL `double` would raise a `TypeError`).
fn check_decibels(min: f64, max: f64) -> Result<(), WebAudioError> {
    if min.is_finite() && max.is_finite() && min < max {
        Ok(())
    } else {
        Err(WebAudioError::IndexSize(format!(
            "minDecibels ({min}) must be below maxDecibels ({max}), both finite"
        )))
    }
}

impl AudioNode for AnalyserNode {
    type Processor = AnalyserProcessor;
    type Attributes = ();
    const NAME: &'static str = "AnalyserNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: 1,
            is_delay: false,
        }
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> AnalyserProcessor {
        AnalyserProcessor::new(self.tap.clone())
    }
}
