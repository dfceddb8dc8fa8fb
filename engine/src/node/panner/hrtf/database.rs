//! The HRTF database: the browsers' impulse-response set turned into convolution kernels for
//! one sample rate.
//!
//! Built once per sample rate on the control thread (see [`HrtfDatabase::for_sample_rate`])
//! and shared by every HRTF panner of that rate; the render thread only reads it.
//!
//! Construction, from the description of the browsers' scheme:
//! 1. Each stored response (256 samples at 44.1 kHz, left ear) is resampled to the context
//!    rate with a windowed-sinc interpolator.
//! 2. Its first `fft_size / 2` samples are analysed: the magnitude-weighted average group
//!    delay is measured from the phase slope, that delay less 20 samples of headroom is
//!    removed from the response (a linear phase shift) and kept as the ear's *frame delay*
//!    (applied at render time by a fractional delay line: the interaural time difference),
//!    and the DC bin is cleared.
//! 3. The last `sample_rate / 4410` samples fade out linearly; the zero-padded response's
//!    spectrum (size `fft_size`) is the kernel.
//! 4. Between two measured azimuths (15° apart) seven more kernels are interpolated (1.875°
//!    steps, 192 per elevation): magnitudes blended in decibels (with a bias that keeps
//!    deep notches), phases by blending the unwrapped phase increments, delays linearly; the
//!    blended response's second half is cleared so the kernel stays causal and short.
//! 5. Elevations are not interpolated: −45° … 90° in 15° steps; at azimuths the set does not
//!    measure high up (60° exists every 30°, 75° every 60°, 90° only straight ahead) the
//!    highest measured elevation is used.
//!
//! The right ear's kernel at azimuth `a` is the left ear's at `−a` (the subject is symmetric:
//! the set's right channels are exactly its mirrored left channels), so only left kernels are
//! stored.

use std::sync::{Arc, OnceLock};

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

/// The stored set: IRCAM LISTEN "Composite" (IRC_Composite_C_R0195), left ear, as 16-bit
/// little-endian samples: 24 azimuths (0°, 15°, … counter-clockwise seen from above, i.e.
/// towards the left) × 10 elevations (−45° … 90°) × 256 samples at 44.1 kHz. Public domain:
/// see `LICENSE-HRTF-DATA.md` beside this file.
static DATA: &[u8] = include_bytes!("irc_composite_c_r0195.i16");

/// Sample rate of the stored responses.
pub const RAW_SAMPLE_RATE: f64 = 44_100.0;
/// Samples per stored response.
pub const RAW_LENGTH: usize = 256;
/// Measured azimuths (15° apart).
const RAW_AZIMUTHS: usize = 24;
/// Elevations, −45° … 90° in 15° steps.
pub const ELEVATIONS: usize = 10;
/// Lowest elevation, degrees.
pub const MIN_ELEVATION: f64 = -45.0;
/// Highest elevation, degrees.
pub const MAX_ELEVATION: f64 = 90.0;
/// Degrees between elevations.
pub const ELEVATION_SPACING: f64 = 15.0;
/// Kernels per measured azimuth interval.
const AZIMUTH_INTERPOLATION: usize = 8;
/// Kernels per elevation (1.875° apart).
pub const AZIMUTHS: usize = RAW_AZIMUTHS * AZIMUTH_INTERPOLATION;
/// Highest elevation measured at each of the 24 azimuths.
const HIGHEST_MEASURED: [i32; RAW_AZIMUTHS] = [
    90, 45, 60, 45, 75, 45, 60, 45, 75, 45, 60, 45, 75, 45, 60, 45, 75, 45, 60, 45, 75, 45, 60, 45,
];

/// The FFT size the kernels use at `sample_rate`: twice the power of two at or below the
/// resampled response length (512 at 44.1 and 48 kHz, so the kernels hold 256 samples).
pub fn fft_size_for(sample_rate: f64) -> usize {
    let resampled = RAW_LENGTH as f64 * sample_rate / RAW_SAMPLE_RATE;
    (2usize << (resampled.log2().floor().max(0.0) as u32)).max(2)
}

/// One stored response (left ear) at measured azimuth index `az` (0..24, 15° steps towards
/// the left) and elevation index `el` (0..10), as floats.
pub fn raw_response(az: usize, el: usize) -> [f32; RAW_LENGTH] {
    let start = (az * ELEVATIONS + el) * RAW_LENGTH * 2;
    std::array::from_fn(|i| {
        let b = &DATA[start + 2 * i..start + 2 * i + 2];
        f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0
    })
}

/// Resamples a response from 44.1 kHz to `sample_rate` (Blackman-windowed sinc, 32 taps,
/// cut-off at 90 % of the lower Nyquist frequency); `length` output samples.
fn resample(x: &[f32], sample_rate: f64, length: usize) -> Vec<f64> {
    if sample_rate == RAW_SAMPLE_RATE {
        let mut y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        y.resize(length, 0.0);
        return y;
    }
    let ratio = RAW_SAMPLE_RATE / sample_rate; // input samples per output sample
    let scale = if ratio > 1.0 { 1.0 / ratio } else { 1.0 } * 0.9;
    const HALF: f64 = 16.0;
    (0..length)
        .map(|j| {
            let t = j as f64 * ratio;
            let lo = (t - HALF).ceil().max(0.0) as usize;
            let hi = ((t + HALF).floor() as usize).min(x.len() - 1);
            (lo..=hi)
                .map(|k| {
                    let d = t - k as f64;
                    let arg = std::f64::consts::PI * scale * d;
                    let sinc = if arg.abs() < 1e-12 {
                        1.0
                    } else {
                        arg.sin() / arg
                    };
                    let w = 0.5 * (d / HALF + 1.0); // 0..1 across the window
                    let blackman = 0.42 - 0.5 * (std::f64::consts::TAU * w).cos()
                        + 0.08 * (2.0 * std::f64::consts::TAU * w).cos();
                    f64::from(x[k]) * scale * sinc * blackman
                })
                .sum()
        })
        .collect()
}

/// A spectrum in the browsers' packing: bin 0 holds DC (real) and Nyquist (imaginary).
type Frame = Vec<Complex<f64>>;

/// Forward transform of `x` (length `n`), packed (bins 0..n/2; Nyquist in bin 0's imaginary
/// part). Scaled by 2 like the browsers' frames (so the decibel thresholds of
/// [`interpolate`] see the same magnitudes).
fn forward(planner: &mut RealFftPlanner<f64>, x: &[f64]) -> Frame {
    let n = x.len();
    let fft = planner.plan_fft_forward(n);
    let mut input = x.to_vec();
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum)
        .expect("sizes match the plan");
    let mut frame: Frame = spectrum[..n / 2].iter().map(|c| c * 2.0).collect();
    frame[0] = Complex::new(2.0 * spectrum[0].re, 2.0 * spectrum[n / 2].re);
    frame
}

/// Inverse of [`forward`].
fn inverse(planner: &mut RealFftPlanner<f64>, frame: &Frame) -> Vec<f64> {
    let n = frame.len() * 2;
    let ifft = planner.plan_fft_inverse(n);
    let mut spectrum = ifft.make_input_vec();
    spectrum[0] = Complex::new(frame[0].re, 0.0);
    spectrum[n / 2] = Complex::new(frame[0].im, 0.0);
    spectrum[1..n / 2].copy_from_slice(&frame[1..]);
    let mut out = ifft.make_output_vec();
    ifft.process(&mut spectrum, &mut out)
        .expect("sizes match the plan");
    // realfft is unnormalised; undo it and the factor 2 of `forward`.
    let k = 1.0 / (2.0 * n as f64);
    out.iter().map(|v| v * k).collect()
}

/// Wraps a phase difference into −π…π (one step, as the browsers do).
fn unwrap(mut d: f64) -> f64 {
    use std::f64::consts::{PI, TAU};
    if d < -PI {
        d += TAU;
    }
    if d > PI {
        d -= TAU;
    }
    d
}

/// Measures the magnitude-weighted average group delay of `frame` (samples), removes it
/// less 20 samples of headroom, clears DC; returns the delay removed.
fn remove_group_delay(frame: &mut Frame) -> f64 {
    let n = frame.len() * 2;
    let per_bin = std::f64::consts::TAU / n as f64;
    let (mut sum, mut weights, mut last) = (0.0, 0.0, 0.0);
    for c in frame.iter() {
        // Bin 0 is read as one complex number (DC, Nyquist), as the browsers do.
        let (mag, phase) = c.to_polar();
        let d = unwrap(phase - last);
        last = phase;
        sum += mag * d;
        weights += mag;
    }
    let mut delay = if weights > 0.0 {
        -(sum / weights) / per_bin
    } else {
        0.0
    };
    if delay > 20.0 {
        delay -= 20.0;
    }
    for (i, c) in frame.iter_mut().enumerate().skip(1) {
        let (mag, phase) = c.to_polar();
        *c = Complex::from_polar(mag, phase + i as f64 * delay * per_bin);
    }
    frame[0].re = 0.0;
    delay
}

/// One kernel (spectrum of size `fft_size`, packed) and its frame delay, built from a
/// stored response.
fn measured_kernel(
    planner: &mut RealFftPlanner<f64>,
    raw: &[f32],
    sample_rate: f64,
    fft_size: usize,
) -> (Frame, f64) {
    let half = fft_size / 2;
    let length = ((RAW_LENGTH as f64 * sample_rate / RAW_SAMPLE_RATE) as usize).max(half);
    let resampled = resample(raw, sample_rate, length);
    let mut analysis = forward(planner, &resampled[..half]);
    let delay = remove_group_delay(&mut analysis);
    let mut response = inverse(planner, &analysis);
    let fade = ((sample_rate / 4410.0) as usize).min(half);
    for (k, v) in response[half - fade..half].iter_mut().enumerate() {
        *v *= 1.0 - k as f64 / fade as f64;
    }
    response.resize(fft_size, 0.0);
    (forward(planner, &response), delay)
}

/// The kernel a fraction `x` of the way from `a` to `b`.
fn interpolate(planner: &mut RealFftPlanner<f64>, a: &Frame, b: &Frame, x: f64) -> Frame {
    let (s1base, s2base) = (1.0 - x, x);
    let mut out = vec![Complex::new(0.0, 0.0); a.len()];
    out[0] = a[0] * s1base + b[0] * s2base;
    let (mut accum, mut last1, mut last2) = (0.0f64, 0.0f64, 0.0f64);
    for i in 1..a.len() {
        let (mag1, phase1) = a[i].to_polar();
        let (mag2, phase2) = b[i].to_polar();
        let (db1, db2) = (20.0 * mag1.log10(), 20.0 * mag2.log10());
        let (mut s1, mut s2) = (s1base, s2base);
        let diff = db1 - db2;
        let threshold = if i > 16 { 5.0 } else { 2.0 };
        // Keep deep notches: lean towards the quieter response.
        if diff < -threshold && db1 < 0.0 {
            s1 = s1.powf(0.75);
            s2 = 1.0 - s1;
        } else if diff > threshold && db2 < 0.0 {
            s2 = s2.powf(0.75);
            s1 = 1.0 - s2;
        }
        let db = s1 * db1 + s2 * db2;
        let mag = if db.is_finite() {
            10f64.powf(0.05 * db)
        } else {
            0.0
        };
        let d1 = unwrap(phase1 - last1);
        let d2 = unwrap(phase2 - last2);
        last1 = phase1;
        last2 = phase2;
        use std::f64::consts::{PI, TAU};
        let blend = if d1 - d2 > PI {
            s1 * d1 + s2 * (TAU + d2)
        } else if d2 - d1 > PI {
            s1 * (TAU + d1) + s2 * d2
        } else {
            s1 * d1 + s2 * d2
        };
        accum += blend;
        if accum > PI {
            accum -= TAU;
        }
        if accum < -PI {
            accum += TAU;
        }
        out[i] = Complex::from_polar(mag, accum);
    }
    let mut response = inverse(planner, &out);
    let half = response.len() / 2;
    response[half..].fill(0.0);
    forward(planner, &response)
}

/// All kernels for one sample rate. Read-only once built.
pub struct HrtfDatabase {
    /// Context sample rate the kernels were built for.
    pub sample_rate: f32,
    /// Convolution FFT size (kernels hold `fft_size / 2` samples).
    pub fft_size: usize,
    /// Left-ear kernel spectra, `[elevation][azimuth][bin]`, `fft_size / 2 + 1` bins each in
    /// realfft's layout, pre-scaled by `1 / fft_size` (realfft does not normalise).
    spectra: Box<[Complex<f32>]>,
    /// Left-ear frame delays in samples, `[elevation][azimuth]`.
    delays: Box<[f32]>,
    /// The time-domain kernels, `[elevation][azimuth][sample]` (for inspection and tests).
    responses: Box<[f32]>,
}

impl HrtfDatabase {
    /// Builds every kernel for `sample_rate`. Allocates and runs FFTs: control thread only.
    pub fn new(sample_rate: f32) -> Self {
        let sr = f64::from(sample_rate);
        let fft_size = fft_size_for(sr);
        let half = fft_size / 2;
        let bins = half + 1;
        let mut planner = RealFftPlanner::<f64>::new();
        let mut spectra = vec![Complex::new(0.0f32, 0.0); ELEVATIONS * AZIMUTHS * bins];
        let mut delays = vec![0.0f32; ELEVATIONS * AZIMUTHS];
        let mut responses = vec![0.0f32; ELEVATIONS * AZIMUTHS * half];
        let scale = 1.0 / fft_size as f64;
        for el in 0..ELEVATIONS {
            let elevation = MIN_ELEVATION as i32 + el as i32 * ELEVATION_SPACING as i32;
            let measured: Vec<(Frame, f64)> = (0..RAW_AZIMUTHS)
                .map(|az| {
                    let e = elevation.min(HIGHEST_MEASURED[az]);
                    let e_index = ((e - MIN_ELEVATION as i32) / ELEVATION_SPACING as i32) as usize;
                    measured_kernel(&mut planner, &raw_response(az, e_index), sr, fft_size)
                })
                .collect();
            for az in 0..AZIMUTHS {
                let (i, j) = (
                    az / AZIMUTH_INTERPOLATION,
                    (az / AZIMUTH_INTERPOLATION + 1) % RAW_AZIMUTHS,
                );
                let x = (az % AZIMUTH_INTERPOLATION) as f64 / AZIMUTH_INTERPOLATION as f64;
                let (frame, delay) = if x == 0.0 {
                    measured[i].clone()
                } else {
                    (
                        interpolate(&mut planner, &measured[i].0, &measured[j].0, x),
                        (1.0 - x) * measured[i].1 + x * measured[j].1,
                    )
                };
                let k = el * AZIMUTHS + az;
                delays[k] = delay as f32;
                let spectrum = &mut spectra[k * bins..(k + 1) * bins];
                // The browsers' frames are 2 × the DFT; realfft's inverse is unnormalised.
                spectrum[0] = Complex::new((frame[0].re * 0.5 * scale) as f32, 0.0);
                spectrum[half] = Complex::new((frame[0].im * 0.5 * scale) as f32, 0.0);
                for (b, c) in frame.iter().enumerate().skip(1) {
                    spectrum[b] =
                        Complex::new((c.re * 0.5 * scale) as f32, (c.im * 0.5 * scale) as f32);
                }
                let response = inverse(&mut planner, &frame);
                for (dst, src) in responses[k * half..(k + 1) * half]
                    .iter_mut()
                    .zip(&response)
                {
                    *dst = *src as f32;
                }
            }
        }
        Self {
            sample_rate,
            fft_size,
            spectra: spectra.into_boxed_slice(),
            delays: delays.into_boxed_slice(),
            responses: responses.into_boxed_slice(),
        }
    }

    /// The shared database for `sample_rate`, built on first use (control thread only: may
    /// allocate, lock and take some milliseconds).
    pub fn for_sample_rate(sample_rate: f32) -> Arc<Self> {
        // Lock-free cache: a few write-once slots, one sample rate each (a context rarely
        // changes rate; past the slots each panner builds its own).
        static CACHE: [OnceLock<Arc<HrtfDatabase>>; 8] = [const { OnceLock::new() }; 8];
        for slot in &CACHE {
            let db = slot.get_or_init(|| Arc::new(Self::new(sample_rate)));
            if db.sample_rate == sample_rate {
                return Arc::clone(db);
            }
        }
        Arc::new(Self::new(sample_rate))
    }

    /// Index of `(elevation index, azimuth index)` for ear `ear` (0 left, 1 right): the
    /// right ear reads the left ear's kernel at the mirrored azimuth.
    #[inline]
    fn index(el: usize, az: usize, ear: usize) -> usize {
        let az = if ear == 0 {
            az
        } else {
            (AZIMUTHS - az) % AZIMUTHS
        };
        el * AZIMUTHS + az
    }

    /// The kernel spectrum (realfft layout, `fft_size / 2 + 1` bins) of `ear` at the
    /// elevation index `el` and azimuth index `az` (the database's azimuth, counter-clockwise).
    #[inline]
    pub fn spectrum(&self, el: usize, az: usize, ear: usize) -> &[Complex<f32>] {
        let bins = self.fft_size / 2 + 1;
        let k = Self::index(el, az, ear);
        &self.spectra[k * bins..(k + 1) * bins]
    }

    /// The time-domain kernel (`fft_size / 2` samples) of `ear` at `el`, `az`.
    pub fn response(&self, el: usize, az: usize, ear: usize) -> &[f32] {
        let half = self.fft_size / 2;
        let k = Self::index(el, az, ear);
        &self.responses[k * half..(k + 1) * half]
    }

    /// The frame delay (samples) of `ear` at `el`, `az`.
    #[inline]
    pub fn delay(&self, el: usize, az: usize, ear: usize) -> f32 {
        self.delays[Self::index(el, az, ear)]
    }

    /// The frame delay of `ear` between azimuth indices `az` and `az + 1`, `blend` (0…1) of
    /// the way.
    #[inline]
    pub fn blended_delay(&self, el: usize, az: usize, blend: f64, ear: usize) -> f64 {
        let d1 = f64::from(self.delay(el, az, ear));
        let d2 = f64::from(self.delay(el, (az + 1) % AZIMUTHS, ear));
        (1.0 - blend) * d1 + blend * d2
    }

    /// The elevation index for `elevation` degrees (clamped to −45…90, then truncated to
    /// the 15° step at or below it: elevations are not interpolated).
    #[inline]
    pub fn elevation_index(elevation: f64) -> usize {
        let e = if elevation.is_nan() {
            0.0
        } else {
            elevation.clamp(MIN_ELEVATION, MAX_ELEVATION)
        };
        (((e - MIN_ELEVATION) / ELEVATION_SPACING) as usize).min(ELEVATIONS - 1)
    }

    /// The database's azimuth index and the blend towards the next one for the spec's
    /// `azimuth` (degrees, positive to the right; the database counts towards the left).
    #[inline]
    pub fn azimuth_index(azimuth: f64) -> (usize, f64) {
        let mut a = if azimuth.is_nan() { 0.0 } else { -azimuth };
        if a < 0.0 {
            a += 360.0;
        }
        let f = a / (360.0 / AZIMUTHS as f64);
        let i = f as usize;
        let blend = (f - i as f64).clamp(0.0, 1.0);
        (i.min(AZIMUTHS - 1), blend)
    }
}
