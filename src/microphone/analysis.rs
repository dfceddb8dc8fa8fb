//! Microphone analysis: level (RMS dBFS) and peak, a smoothed envelope, fundamental pitch
//! (YIN) with a confidence, and voice activity with hysteresis.
//!
//! This runs on the analysis worker thread (not real-time: it may allocate at start-up, and
//! pitch detection is too heavy for the input callback), fed by its own capture ring. The
//! pieces are public and pure so they can be tested on synthetic signals and reused:
//! [`rms_dbfs`], [`peak`], [`Yin`], [`VoiceDetector`], and [`Analyzer`], which strings them
//! together over a sliding window.
//!
//! **Level convention.** `level_dbfs` is `20·log10(rms)`: 0 dB is the RMS of a full-scale
//! square wave (or DC of 1.0), so a full-scale sine reads −3.01 dB and a sine of amplitude
//! `a` reads `20·log10(a/√2)`. Silence reads [`MIN_DBFS`].

use std::sync::Arc;

use bevy::prelude::{Reflect, ReflectDefault};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// The floor of every dB reading (silence).
pub const MIN_DBFS: f32 = -120.0;

/// `20·log10(x)`, floored at [`MIN_DBFS`].
pub fn amplitude_to_dbfs(x: f32) -> f32 {
    if x > 0.0 {
        (20.0 * x.log10()).max(MIN_DBFS)
    } else {
        MIN_DBFS
    }
}

/// The RMS of `samples` in dBFS (`20·log10(rms)`; see the module docs for the convention).
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    amplitude_to_dbfs(rms(samples))
}

/// The RMS of `samples` (0 for an empty slice).
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// The largest absolute sample value.
pub fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

/// What the analysis settles on for one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Reflect)]
pub struct Analysis {
    /// RMS level over the window, dBFS.
    pub level_dbfs: f32,
    /// Peak absolute sample over the window (linear, 0..=1 for in-range input).
    pub peak: f32,
    /// The peak in dBFS.
    pub peak_dbfs: f32,
    /// The RMS smoothed with the attack/release times of [`AnalysisSettings`] (linear).
    pub envelope: f32,
    /// The fundamental frequency in Hz, when the window is voiced and loud enough.
    pub pitch_hz: Option<f32>,
    /// How periodic the window is, 0..=1 (YIN: one minus the normalized difference at the
    /// chosen period). Reported even when `pitch_hz` is `None`.
    pub pitch_confidence: f32,
    /// Voice activity after hysteresis.
    pub voice_active: bool,
    /// Input frames analysed so far, at the end of this window.
    pub frames: u64,
}

/// A voice activity edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoiceEdge {
    /// The level rose to the on threshold.
    Started,
    /// The level stayed under the off threshold for the hang time.
    Stopped,
}

/// Tuning of the analysis (times in milliseconds, levels in dBFS).
#[derive(Clone, Debug, PartialEq, Reflect)]
#[reflect(Default)]
pub struct AnalysisSettings {
    /// Analysis window in input frames (level, peak and pitch are measured over it). The
    /// lowest detectable pitch is `sample_rate / (window / 2)`: 47 Hz for 2048 at 48 kHz.
    pub window: usize,
    /// Frames between two analyses (the update rate: 512 at 48 kHz is ~94 per second).
    pub hop: usize,
    /// Envelope attack time constant.
    pub attack_ms: f32,
    /// Envelope release time constant.
    pub release_ms: f32,
    /// Voice turns on when the level reaches this.
    pub voice_on_dbfs: f32,
    /// Voice turns off when the level stays under this for `voice_hang_ms`.
    pub voice_off_dbfs: f32,
    /// How long the level must stay under the off threshold before voice turns off.
    pub voice_hang_ms: f32,
    /// Pitch search range, lowest frequency.
    pub min_pitch_hz: f32,
    /// Pitch search range, highest frequency.
    pub max_pitch_hz: f32,
    /// YIN threshold on the normalized difference (0.1–0.2 typical): a pitch is reported
    /// when the confidence is at least `1 - yin_threshold`.
    pub yin_threshold: f32,
    /// No pitch is reported for windows quieter than this.
    pub pitch_gate_dbfs: f32,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        Self {
            window: 2048,
            hop: 512,
            attack_ms: 10.0,
            release_ms: 200.0,
            voice_on_dbfs: -40.0,
            voice_off_dbfs: -50.0,
            voice_hang_ms: 200.0,
            min_pitch_hz: 60.0,
            max_pitch_hz: 1500.0,
            yin_threshold: 0.15,
            pitch_gate_dbfs: -60.0,
        }
    }
}

/// A pitch estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PitchEstimate {
    /// Frequency in Hz.
    pub frequency: f32,
    /// 0..=1: one minus YIN's cumulative-mean-normalized difference at the period.
    pub confidence: f32,
}

/// The YIN pitch detector (de Cheveigné & Kawahara, 2002) over a fixed window, with the
/// difference function computed through FFT cross-correlation (O(n log n) per window).
/// All buffers are allocated in [`Yin::new`]; [`Yin::detect`] does not allocate.
pub struct Yin {
    size: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    a: Vec<f64>,
    b: Vec<f64>,
    spec_a: Vec<Complex<f64>>,
    spec_b: Vec<Complex<f64>>,
    corr: Vec<f64>,
    diff: Vec<f64>,
    scratch_fwd: Vec<Complex<f64>>,
    scratch_inv: Vec<Complex<f64>>,
}

impl Yin {
    /// A detector for windows of `size` frames (periods up to `size / 2`).
    pub fn new(size: usize) -> Self {
        let size = size.max(16);
        let fft_len = (2 * size).next_power_of_two();
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        Self {
            size,
            a: forward.make_input_vec(),
            b: forward.make_input_vec(),
            spec_a: forward.make_output_vec(),
            spec_b: forward.make_output_vec(),
            corr: inverse.make_output_vec(),
            diff: vec![0.0; size / 2],
            scratch_fwd: forward.make_scratch_vec(),
            scratch_inv: inverse.make_scratch_vec(),
            forward,
            inverse,
        }
    }

    /// The window size in frames.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Estimates the fundamental of `window` (its first [`Yin::size`] frames) between
    /// `min_hz` and `max_hz`. Returns the best candidate with its confidence: the first
    /// period whose normalized difference dips under `threshold` (then its local minimum),
    /// or the global minimum if none does. `None` for silence or a too-short window.
    pub fn detect(
        &mut self,
        window: &[f32],
        sample_rate: f32,
        min_hz: f32,
        max_hz: f32,
        threshold: f32,
    ) -> Option<PitchEstimate> {
        let n = self.size;
        let w = n / 2;
        if window.len() < n {
            return None;
        }
        let x = &window[..n];
        // Cross term c(τ) = Σ_{j<w} x_j x_{j+τ}, via conj(FFT(a))·FFT(b).
        self.a.fill(0.0);
        self.b.fill(0.0);
        for (dst, &src) in self.a.iter_mut().zip(&x[..w]) {
            *dst = f64::from(src);
        }
        for (dst, &src) in self.b.iter_mut().zip(x) {
            *dst = f64::from(src);
        }
        self.forward
            .process_with_scratch(&mut self.a, &mut self.spec_a, &mut self.scratch_fwd)
            .ok()?;
        self.forward
            .process_with_scratch(&mut self.b, &mut self.spec_b, &mut self.scratch_fwd)
            .ok()?;
        for (sa, sb) in self.spec_a.iter_mut().zip(&self.spec_b) {
            *sa = sa.conj() * sb;
        }
        // A real signal's spectrum has real DC and Nyquist bins; rounding may leave residue.
        if let Some(first) = self.spec_a.first_mut() {
            first.im = 0.0;
        }
        if let Some(last) = self.spec_a.last_mut() {
            last.im = 0.0;
        }
        self.inverse
            .process_with_scratch(&mut self.spec_a, &mut self.corr, &mut self.scratch_inv)
            .ok()?;
        let scale = 1.0 / self.corr.len() as f64;
        // d(τ) = e(0) + e(τ) − 2c(τ), with e(τ) = Σ_{j<w} x_{j+τ}² by a sliding sum.
        let sq = |i: usize| f64::from(x[i]) * f64::from(x[i]);
        let e0: f64 = (0..w).map(sq).sum();
        if e0 <= 1e-12 {
            return None;
        }
        let mut e_tau = e0;
        for tau in 0..w {
            if tau > 0 {
                e_tau += sq(tau + w - 1) - sq(tau - 1);
            }
            self.diff[tau] = (e0 + e_tau - 2.0 * self.corr[tau] * scale).max(0.0);
        }
        // Cumulative mean normalized difference d'(τ).
        self.diff[0] = 1.0;
        let mut running = 0.0;
        for tau in 1..w {
            running += self.diff[tau];
            self.diff[tau] = if running > 0.0 {
                self.diff[tau] * tau as f64 / running
            } else {
                1.0
            };
        }
        let min_tau = ((sample_rate / max_hz).floor() as usize).max(2);
        let max_tau = ((sample_rate / min_hz).ceil() as usize).min(w - 2);
        if min_tau >= max_tau {
            return None;
        }
        let d = &self.diff;
        let threshold = f64::from(threshold);
        let mut chosen = None;
        let mut tau = min_tau;
        while tau <= max_tau {
            if d[tau] < threshold {
                while tau < max_tau && d[tau + 1] < d[tau] {
                    tau += 1;
                }
                chosen = Some(tau);
                break;
            }
            tau += 1;
        }
        let tau = chosen.unwrap_or_else(|| {
            (min_tau..=max_tau)
                .min_by(|&i, &j| d[i].total_cmp(&d[j]))
                .unwrap_or(min_tau)
        });
        // Parabolic interpolation of the minimum.
        let (l, c, r) = (d[tau - 1], d[tau], d[tau + 1]);
        let denom = l - 2.0 * c + r;
        let offset = if denom.abs() > 1e-12 {
            (0.5 * (l - r) / denom).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let period = tau as f64 + offset;
        Some(PitchEstimate {
            frequency: (f64::from(sample_rate) / period) as f32,
            confidence: (1.0 - c).clamp(0.0, 1.0) as f32,
        })
    }
}

/// Voice activity with hysteresis: on as soon as the level reaches `on_dbfs`; off once it
/// has stayed below `off_dbfs` for `hang` seconds. Levels between the thresholds keep the
/// current state.
#[derive(Clone, Debug)]
pub struct VoiceDetector {
    on_dbfs: f32,
    off_dbfs: f32,
    hang: f32,
    active: bool,
    quiet_for: f32,
}

impl VoiceDetector {
    /// A detector (inactive) with thresholds in dBFS and a hang time in seconds.
    pub fn new(on_dbfs: f32, off_dbfs: f32, hang_seconds: f32) -> Self {
        Self {
            on_dbfs,
            off_dbfs: off_dbfs.min(on_dbfs),
            hang: hang_seconds.max(0.0),
            active: false,
            quiet_for: 0.0,
        }
    }

    /// Whether voice is active.
    pub fn active(&self) -> bool {
        self.active
    }

    /// Feeds one level reading covering `dt` seconds; returns an edge when the state flips.
    pub fn update(&mut self, level_dbfs: f32, dt: f32) -> Option<VoiceEdge> {
        if !self.active {
            if level_dbfs >= self.on_dbfs {
                self.active = true;
                self.quiet_for = 0.0;
                return Some(VoiceEdge::Started);
            }
            return None;
        }
        if level_dbfs < self.off_dbfs {
            self.quiet_for += dt;
            if self.quiet_for >= self.hang {
                self.active = false;
                self.quiet_for = 0.0;
                return Some(VoiceEdge::Stopped);
            }
        } else {
            self.quiet_for = 0.0;
        }
        None
    }
}

/// The whole analysis over a sliding window of mono input: every `hop` frames it measures
/// the last `window` frames. Allocates in `new` only.
pub struct Analyzer {
    settings: AnalysisSettings,
    sample_rate: f32,
    history: Vec<f32>,
    filled: usize,
    since_hop: usize,
    frames: u64,
    yin: Yin,
    envelope: f32,
    attack: f32,
    release: f32,
    voice: VoiceDetector,
    last: Analysis,
}

impl Analyzer {
    /// An analyzer for mono input at `sample_rate`.
    pub fn new(settings: AnalysisSettings, sample_rate: f32) -> Self {
        let window = settings.window.max(64);
        let hop = settings.hop.clamp(1, window);
        let hop_seconds = hop as f32 / sample_rate;
        let coefficient = |ms: f32| 1.0 - (-hop_seconds / (ms.max(0.001) / 1000.0)).exp();
        let settings = AnalysisSettings {
            window,
            hop,
            ..settings
        };
        Self {
            attack: coefficient(settings.attack_ms),
            release: coefficient(settings.release_ms),
            voice: VoiceDetector::new(
                settings.voice_on_dbfs,
                settings.voice_off_dbfs,
                settings.voice_hang_ms / 1000.0,
            ),
            history: vec![0.0; window],
            filled: 0,
            since_hop: 0,
            frames: 0,
            yin: Yin::new(window),
            envelope: 0.0,
            sample_rate,
            settings,
            last: Analysis {
                level_dbfs: MIN_DBFS,
                peak_dbfs: MIN_DBFS,
                ..Analysis::default()
            },
        }
    }

    /// The settings in use (window and hop after clamping).
    pub fn settings(&self) -> &AnalysisSettings {
        &self.settings
    }

    /// The most recent analysis.
    pub fn last(&self) -> &Analysis {
        &self.last
    }

    /// Feeds mono samples; calls `on_window` after each completed hop with the analysis and
    /// the voice edge it caused, if any.
    pub fn push(
        &mut self,
        mut samples: &[f32],
        mut on_window: impl FnMut(&Analysis, Option<VoiceEdge>),
    ) {
        let window = self.history.len();
        while !samples.is_empty() {
            let take = (self.settings.hop - self.since_hop).min(samples.len());
            let (chunk, rest) = samples.split_at(take);
            samples = rest;
            self.history.copy_within(take.., 0);
            self.history[window - take..].copy_from_slice(chunk);
            self.filled = (self.filled + take).min(window);
            self.since_hop += take;
            self.frames += take as u64;
            if self.since_hop == self.settings.hop {
                self.since_hop = 0;
                let edge = self.analyse();
                on_window(&self.last, edge);
            }
        }
    }

    fn analyse(&mut self) -> Option<VoiceEdge> {
        let s = &self.settings;
        let recent = &self.history[self.history.len() - self.filled..];
        let level = rms(recent);
        let level_dbfs = amplitude_to_dbfs(level);
        let pk = peak(recent);
        let k = if level > self.envelope {
            self.attack
        } else {
            self.release
        };
        self.envelope += k * (level - self.envelope);
        let estimate = if self.filled == self.history.len() && level_dbfs >= s.pitch_gate_dbfs {
            self.yin.detect(
                &self.history,
                self.sample_rate,
                s.min_pitch_hz,
                s.max_pitch_hz,
                s.yin_threshold,
            )
        } else {
            None
        };
        let confidence = estimate.map_or(0.0, |e| e.confidence);
        let pitch_hz = estimate
            .filter(|e| e.confidence >= 1.0 - s.yin_threshold)
            .map(|e| e.frequency);
        let edge = self
            .voice
            .update(level_dbfs, s.hop as f32 / self.sample_rate);
        self.last = Analysis {
            level_dbfs,
            peak: pk,
            peak_dbfs: amplitude_to_dbfs(pk),
            envelope: self.envelope,
            pitch_hz,
            pitch_confidence: confidence,
            voice_active: self.voice.active(),
            frames: self.frames,
        };
        edge
    }
}
