//! Band-limited wavetables for `OscillatorNode` and `PeriodicWave`.
//!
//! This is the WebKit/Blink wavetable scheme, which every browser engine uses
//! (Chromium, WebKit, and Gecko's port of it), re-implemented from its
//! description so that an oscillator here sounds — sample for sample, up to
//! float rounding — like one in a browser:
//!
//! * **Table size** depends on the sample rate: 2048 samples up to 24 kHz,
//!   4096 up to 88.2 kHz, 16384 above (`PeriodicWaveSize`). A table holds one
//!   cycle, so it can carry partials `1 ..= size / 2 - 1`.
//! * **Ranges**: three per octave, `round(3 · log2(size))` of them (36 at
//!   48 kHz). Range `r` keeps the first `⌊(size / 2) · 2^(−r/3)⌋` partials, so
//!   higher ranges are meant for higher fundamentals and have more partials
//!   culled. Every range is built from the Fourier coefficients with an inverse
//!   real FFT.
//! * **Normalization** (the spec's "waveform normalization"): unless
//!   `disableNormalization`, every range is scaled by `1 / max |x|` of range 0,
//!   the table that keeps all partials. One factor for all ranges, so the
//!   loudness does not jump between ranges. Without normalization the table is
//!   the plain Fourier sum `Σ a[k]·cos(2πkn/N) + b[k]·sin(2πkn/N)`.
//! * **Basic waveforms** use the spec's coefficients (only sine terms; the
//!   waveforms are odd with a positive slope at phase 0), computed in `f32`
//!   exactly as Blink's `GenerateBasicWaveform` does.
//! * **Rendering** (Blink's `OscillatorHandler`): for a fundamental `f`, the
//!   pitch range is `p = 1 + 3 · log2(|f| / f_lowest)` with
//!   `f_lowest = nyquist / (size / 2)`, clamped to `[0, ranges − 1]`; the
//!   tables `⌊p⌋` (more partials) and `⌊p⌋ + 1` (fewer) are read and
//!   cross-faded by `p − ⌊p⌋`. The "+1" rounds up to the next range early, so
//!   no partial of either table ever exceeds Nyquist. Each table is read at a
//!   virtual read index (the phase in table samples, a `f64`) with linear
//!   interpolation, or 3-/5-point Lagrange interpolation at very low
//!   increments (below 0.3 and 0.16 table samples per output sample) as Blink
//!   does; the index is advanced by `f · size / sample_rate` per sample and
//!   wrapped into `[0, size)`.
//! * **Frequencies** are clamped to `[−nyquist, nyquist]` (NaN and ±∞ become
//!   Nyquist, like Blink). Negative frequencies play the cycle backwards. At
//!   `|f| = nyquist` the selected tables keep no partial at all, so the output
//!   is exactly 0 (we short-cut that case); the phase still advances as in
//!   Blink, and no NaN can appear.
//!
//! Tables are built on the control thread (this allocates and runs FFTs) and
//! are immutable afterwards; `WaveTable::render` and
//! `WaveTable::render_constant` only read them and never allocate, lock or
//! panic, so a `WaveTable` can be shared in an `Arc` with the real-time thread.
//! One set is `ranges × size` floats (576 KiB at 48 kHz), so the four basic
//! waveforms are best built once per context and shared, as Blink does.
//!
//! Against Chromium's own renders (the conformance references), the tests
//! below measure −140 dB error energy: the scheme matches to float rounding.

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

/// Pitch ranges per octave (Blink's `kNumberOfOctaveBands`).
const RANGES_PER_OCTAVE: f32 = 3.0;

/// Cents covered by one pitch range (`kCentsPerRange`, `1200 / 3`).
const CENTS_PER_RANGE: f32 = 400.0;

/// At or above this many table samples per output sample, tables are read
/// with linear interpolation (Blink's `kInterpolate2Point`).
const INTERPOLATE_2_POINT: f32 = 0.3;

/// At or above this increment (and below [`INTERPOLATE_2_POINT`]) tables are
/// read with 3-point Lagrange interpolation, below it with 5-point Lagrange
/// (Blink's `kInterpolate3Point`).
const INTERPOLATE_3_POINT: f32 = 0.16;

/// Which built-in waveform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BasicWaveform {
    /// `sin(x)`.
    Sine,
    /// `+1` for the first half cycle, `−1` for the second.
    Square,
    /// Ramps from 0 up to the peak over the first half cycle, jumps to minus
    /// the peak and ramps back to 0 over the second.
    Sawtooth,
    /// 0 at phase 0, 1 at a quarter cycle, 0 at half, −1 at three quarters.
    Triangle,
}

impl BasicWaveform {
    /// The sine coefficient `b[n]` of partial `n >= 1`, in `f32` exactly as
    /// Blink computes it (the cosine coefficients are all 0).
    fn sine_coefficient(self, n: usize) -> f32 {
        let pi_factor = 2.0 / (n as f32 * std::f32::consts::PI);
        let odd = n % 2 == 1;
        match self {
            BasicWaveform::Sine => f32::from(u8::from(n == 1)),
            BasicWaveform::Square if odd => 2.0 * pi_factor,
            BasicWaveform::Sawtooth if odd => pi_factor,
            BasicWaveform::Sawtooth => -pi_factor,
            BasicWaveform::Triangle if odd => {
                let sign = if (n - 1) / 2 % 2 == 1 { -1.0 } else { 1.0 };
                2.0 * (pi_factor * pi_factor) * sign
            }
            BasicWaveform::Square | BasicWaveform::Triangle => 0.0,
        }
    }
}

/// Band-limited tables for one waveform at one sample rate. Built on the
/// control thread (allocates), immutable afterwards; shared in an Arc and read
/// on the real-time thread. Built by
/// [`WaveTableCache::table`](super::oscillator::WaveTableCache::table).
pub struct WaveTable {
    /// Samples per table (one cycle); a power of two.
    size: usize,
    /// Number of pitch ranges, i.e. of tables.
    ranges: usize,
    /// All tables back to back: range `r` is `tables[r * size..(r + 1) * size]`.
    tables: Vec<f32>,
    /// Half the sample rate, the clamp for frequencies.
    nyquist: f32,
    /// Table samples per output sample per Hz: `size / sample_rate`.
    rate_scale: f32,
    /// The fundamental whose highest table partial sits at Nyquist:
    /// `nyquist / (size / 2)`.
    lowest_fundamental: f32,
}

/// The two tables a fundamental frequency reads, and how to blend them.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TablePair {
    /// Start (in [`WaveTable::tables`]) of the table with more partials.
    higher: usize,
    /// Start of the table with fewer partials (the next range up).
    lower: usize,
    /// Cross-fade factor: 0 reads only `higher`, 1 only `lower`.
    factor: f32,
}

/// Everything the per-sample kernel needs for one frequency.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Voice {
    /// The tables to read and their blend.
    pair: TablePair,
    /// Phase increment in table samples per output sample (signed).
    increment: f32,
    /// True when the frequency is at (or clamped to) Nyquist: output 0.
    silent: bool,
}

/// Blink's `PeriodicWaveSize`: the table length for a sample rate.
fn table_size(sample_rate: f32) -> usize {
    if sample_rate <= 24_000.0 {
        2048
    } else if sample_rate <= 88_200.0 {
        4096
    } else {
        16384
    }
}

/// Number of pitch ranges for a table size: `0.5 + 3 · log2(size)`, truncated.
fn number_of_ranges(size: usize) -> usize {
    (0.5 + RANGES_PER_OCTAVE * (size as f32).log2()) as usize
}

/// Blink's `NumberOfPartialsForRange`: how many partials range `range` keeps
/// out of `max_partials` (`size / 2`). The exponent is formed in `f32` and the
/// power in `f64`, as in Blink, so the truncation agrees with it.
fn partials_for_range(range: usize, max_partials: usize) -> usize {
    let cents_to_cull = range as f32 * CENTS_PER_RANGE;
    let culling_scale = 2f64.powf(f64::from(-cents_to_cull / 1200.0));
    (culling_scale * max_partials as f64) as usize
}

/// Largest absolute value of a table (0 for an empty one).
fn peak(table: &[f32]) -> f32 {
    table.iter().fold(0.0, |m, &x| m.max(x.abs()))
}

/// Builds every range's time-domain table from the coefficients with inverse
/// real FFTs: `x[n] = Σ_{k=1}^{K} a[k]·cos(2πkn/N) + b[k]·sin(2πkn/N)`, with
/// `K` the range's partial count (limited by the coefficients given). Returns
/// the unnormalized tables back to back.
fn build_tables(real: &[f32], imag: &[f32], size: usize, ranges: usize) -> Vec<f32> {
    let half = size / 2;
    let components = real.len().min(imag.len()).min(half);
    let inverse = RealFftPlanner::<f64>::new().plan_fft_inverse(size);
    let mut spectrum = inverse.make_input_vec();
    let mut scratch = inverse.make_scratch_vec();
    let mut time = inverse.make_output_vec();
    let mut tables = Vec::with_capacity(ranges * size);
    for range in 0..ranges {
        let keep = components.min(partials_for_range(range, half) + 1);
        spectrum.fill(Complex::new(0.0, 0.0));
        // A bin (a − ib)/2 and its mirror sum to a·cos + b·sin in the inverse
        // transform (which realfft leaves unscaled). Bin 0 (DC) stays 0.
        for k in 1..keep {
            spectrum[k] = Complex::new(f64::from(real[k]), -f64::from(imag[k])) * 0.5;
        }
        // The only possible error is a non-zero imaginary part at DC or
        // Nyquist, both of which are 0 here.
        let _ = inverse.process_with_scratch(&mut spectrum, &mut time, &mut scratch);
        tables.extend(time.iter().map(|&x| x as f32));
    }
    tables
}

impl WaveTable {
    /// Tables for a custom PeriodicWave. `real` and `imag` have equal
    /// length, at least 2 (validated by the caller); index 0 (DC) is ignored
    /// as the spec says. Coefficients beyond `size / 2 − 1` cannot be represented and are
    /// dropped, as in Blink. `sample_rate` must be positive and finite (a
    /// context's rate always is); anything else is replaced by 48 kHz so that
    /// rendering stays free of NaN.
    pub(crate) fn from_coefficients(
        real: &[f32],
        imag: &[f32],
        disable_normalization: bool,
        sample_rate: f32,
    ) -> WaveTable {
        debug_assert!(sample_rate.is_finite() && sample_rate > 0.0);
        let sample_rate = if sample_rate.is_finite() && sample_rate > 0.0 {
            sample_rate
        } else {
            48_000.0
        };
        let size = table_size(sample_rate);
        let ranges = number_of_ranges(size);
        let mut tables = build_tables(real, imag, size, ranges);
        let full_band_peak = peak(&tables[..size]);
        if !disable_normalization && full_band_peak > 0.0 {
            let scale = 1.0 / full_band_peak;
            tables.iter_mut().for_each(|x| *x *= scale);
        }
        let nyquist = 0.5 * sample_rate;
        WaveTable {
            size,
            ranges,
            tables,
            nyquist,
            rate_scale: size as f32 / sample_rate,
            lowest_fundamental: nyquist / (size / 2) as f32,
        }
    }

    /// Tables for a built-in oscillator type (always normalized, per the
    /// spec's "Oscillator Coefficients").
    pub(crate) fn basic(kind: BasicWaveform, sample_rate: f32) -> WaveTable {
        let half = table_size(sample_rate) / 2;
        let real = vec![0.0; half];
        let imag: Vec<f32> = (0..half)
            .map(|n| {
                if n == 0 {
                    0.0
                } else {
                    kind.sine_coefficient(n)
                }
            })
            .collect();
        WaveTable::from_coefficients(&real, &imag, false, sample_rate)
    }

    /// Blink's `WaveDataForFundamentalFrequency`: the two tables around a
    /// fundamental and their cross-fade factor, computed in `f32` like Blink.
    fn table_pair(&self, frequency: f32) -> TablePair {
        let frequency = frequency.abs();
        let ratio = if frequency > 0.0 {
            frequency / self.lowest_fundamental
        } else {
            0.5
        };
        let cents_above_lowest = ratio.log2() * 1200.0;
        let last = (self.ranges - 1) as f32;
        // "+1" rounds up to the next range just in time to cull partials
        // before they alias.
        let pitch_range = (1.0 + cents_above_lowest / CENTS_PER_RANGE).clamp(0.0, last);
        let index = pitch_range as usize;
        let next = (index + 1).min(self.ranges - 1);
        TablePair {
            higher: index * self.size,
            lower: next * self.size,
            factor: pitch_range - index as f32,
        }
    }

    /// Clamps a computed frequency to `[−nyquist, nyquist]` (NaN becomes
    /// Nyquist, as in Blink) and derives the table choice and increment.
    fn voice(&self, frequency: f32) -> Voice {
        let frequency = if frequency.is_nan() {
            self.nyquist
        } else {
            frequency.max(-self.nyquist).min(self.nyquist)
        };
        Voice {
            pair: self.table_pair(frequency),
            increment: frequency * self.rate_scale,
            silent: frequency.abs() >= self.nyquist,
        }
    }

    /// The read-position increment, in table samples per output sample, that
    /// [`WaveTable::render`] uses for `frequency` (after the Nyquist clamp):
    /// `frequency · size / sample_rate`. For a start between two frames, Blink
    /// advances the starting phase by `(1 − offset) · phase_increment(f)`.
    pub(crate) fn phase_increment(&self, frequency: f32) -> f64 {
        f64::from(self.voice(frequency).increment)
    }

    /// Advances a read index in `[0, size)` by `increment` and wraps it into `[0, size)`.
    ///
    /// `|increment|` is at most `size / 2` (frequencies are clamped to Nyquist), so one
    /// conditional add or subtract of `size` wraps it: the same arithmetic, to the bit, as
    /// `index - floor(index / size) * size`, without a `floor` call per sample (a libm call
    /// on baseline x86-64).
    #[inline]
    fn advance(&self, index: f64, increment: f32) -> f64 {
        let size = self.size as f64;
        let index = index + f64::from(increment);
        if index >= size {
            index - size
        } else if index < 0.0 {
            index + size
        } else {
            index
        }
    }

    /// Linear interpolation of both tables at `index`, then the cross-fade;
    /// all in `f32` with the operation order of Blink's vector kernels.
    #[inline]
    fn sample_linear(&self, index: f64, pair: TablePair) -> f32 {
        let mask = self.size - 1;
        let whole = index as usize;
        let i0 = whole & mask;
        let i1 = (whole + 1) & mask;
        let fraction = index as f32 - whole as f32;
        let (h0, h1) = (self.tables[pair.higher + i0], self.tables[pair.higher + i1]);
        let (l0, l1) = (self.tables[pair.lower + i0], self.tables[pair.lower + i1]);
        let higher = h0 + fraction * (h1 - h0);
        let lower = l0 + fraction * (l1 - l0);
        higher + pair.factor * (lower - higher)
    }

    /// [`WaveTable::sample_linear`] over `out` for one voice, with the tables' size `N` known
    /// at compile time: the two tables are borrowed once as arrays, so the masked reads need
    /// no bounds checks, and the read index converts through `u32` (it is below `N`). Same
    /// arithmetic, bit for bit. Returns the read index after the last sample.
    fn render_linear<const N: usize>(&self, mut index: f64, voice: &Voice, out: &mut [f32]) -> f64 {
        let table = |start: usize| -> Option<&[f32; N]> {
            self.tables.get(start..start + N)?.try_into().ok()
        };
        let (Some(higher), Some(lower)) = (table(voice.pair.higher), table(voice.pair.lower))
        else {
            out.fill(0.0);
            return index;
        };
        let factor = voice.pair.factor;
        for out in out.iter_mut() {
            let whole = index as u32;
            let i0 = whole as usize & (N - 1);
            let i1 = (i0 + 1) & (N - 1);
            let fraction = index as f32 - whole as f32;
            let high = higher[i0] + fraction * (higher[i1] - higher[i0]);
            let low = lower[i0] + fraction * (lower[i1] - lower[i0]);
            *out = high + factor * (low - high);
            index = self.advance(index, voice.increment);
        }
        index
    }

    /// Lagrange interpolation of both tables at `index` through the points
    /// `⌊index⌋ − R ..= ⌊index⌋ + R` with the given weights (`R` = 1 or 2),
    /// in `f64`, then the cross-fade, as Blink's `DoInterpolation`.
    fn sample_lagrange<const N: usize>(
        &self,
        index: f64,
        weights: [f64; N],
        pair: TablePair,
    ) -> f32 {
        let mask = self.size - 1;
        let whole = index as usize;
        let (mut higher, mut lower) = (0.0, 0.0);
        for (k, weight) in weights.iter().enumerate() {
            // `whole + size − N/2 + k`, masked, is `whole + k − N/2` wrapped.
            let i = (whole + self.size + k - N / 2) & mask;
            higher += weight * f64::from(self.tables[pair.higher + i]);
            lower += weight * f64::from(self.tables[pair.lower + i]);
        }
        let factor = f64::from(pair.factor);
        ((1.0 - factor) * higher + factor * lower) as f32
    }

    /// One output sample at read index `index` for `voice`.
    fn sample(&self, index: f64, voice: &Voice) -> f32 {
        if voice.silent {
            return 0.0;
        }
        let step = voice.increment.abs();
        if step >= INTERPOLATE_2_POINT {
            return self.sample_linear(index, voice.pair);
        }
        let t = index - (index as usize) as f64;
        if step >= INTERPOLATE_3_POINT {
            let weights = [0.5 * t * (t - 1.0), 1.0 - t * t, 0.5 * t * (t + 1.0)];
            return self.sample_lagrange(index, weights, voice.pair);
        }
        let t2 = t * t;
        let weights = [
            t * (t2 - 1.0) * (t - 2.0) / 24.0,
            -t * (t - 1.0) * (t2 - 4.0) / 6.0,
            (t2 - 1.0) * (t2 - 4.0) / 4.0,
            -t * (t + 1.0) * (t2 - 4.0) / 6.0,
            t * (t2 - 1.0) * (t + 2.0) / 24.0,
        ];
        self.sample_lagrange(index, weights, voice.pair)
    }

    /// A usable starting read index: non-finite values restart at 0, others
    /// are wrapped into `[0, size)`.
    fn start_index(&self, phase: f64) -> f64 {
        if phase.is_finite() {
            let size = self.size as f64;
            phase - (phase * (1.0 / size)).floor() * size
        } else {
            0.0
        }
    }

    /// Called on the real-time thread: never allocates, locks or panics.
    ///
    /// Fills `out` with samples; `frequency(i)` gives the computed frequency
    /// in Hz (already including detune) of sample `i`. `phase` is the
    /// oscillator's running read position **in table samples** (Blink's
    /// virtual read index, in `[0, size)`; start it at 0.0 at the start
    /// frame) and is advanced past the last sample written.
    pub(crate) fn render(
        &self,
        phase: &mut f64,
        frequency: impl Fn(usize) -> f32,
        out: &mut [f32],
    ) {
        let mut index = self.start_index(*phase);
        let mut last: Option<(u32, Voice)> = None;
        for (i, out) in out.iter_mut().enumerate() {
            let f = frequency(i);
            // The table choice costs a log2: reuse it while f is unchanged.
            let voice = match last {
                Some((bits, voice)) if bits == f.to_bits() => voice,
                _ => self.voice(f),
            };
            last = Some((f.to_bits(), voice));
            *out = self.sample(index, &voice);
            index = self.advance(index, voice.increment);
        }
        *phase = index;
    }

    /// Same as render for a constant frequency over the block (fast path:
    /// table choice computed once). Bit-identical to [`WaveTable::render`]
    /// given the same constant.
    pub(crate) fn render_constant(&self, phase: &mut f64, frequency: f32, out: &mut [f32]) {
        let voice = self.voice(frequency);
        let mut index = self.start_index(*phase);
        // One loop per kernel, chosen once per block instead of once per sample.
        if voice.silent {
            for out in out.iter_mut() {
                *out = 0.0;
                index = self.advance(index, voice.increment);
            }
        } else if voice.increment.abs() >= INTERPOLATE_2_POINT {
            index = match self.size {
                2048 => self.render_linear::<2048>(index, &voice, out),
                4096 => self.render_linear::<4096>(index, &voice, out),
                16384 => self.render_linear::<16384>(index, &voice, out),
                _ => {
                    for out in out.iter_mut() {
                        *out = self.sample_linear(index, voice.pair);
                        index = self.advance(index, voice.increment);
                    }
                    index
                }
            };
        } else {
            for out in out.iter_mut() {
                *out = self.sample(index, &voice);
                index = self.advance(index, voice.increment);
            }
        }
        *phase = index;
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_macros)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;
    use std::f64::consts::PI;

    /// Render quantum used by the tests.
    const BLOCK: usize = 128;

    /// Renders `len` samples in 128-frame blocks with a per-sample frequency.
    fn render_blocks(table: &WaveTable, frequency: impl Fn(usize) -> f32, len: usize) -> Vec<f32> {
        let mut out = vec![0.0; len];
        let mut phase = 0.0;
        for (b, block) in out.chunks_mut(BLOCK).enumerate() {
            table.render(&mut phase, |i| frequency(b * BLOCK + i), block);
        }
        out
    }

    /// Renders `len` samples at a constant frequency in 128-frame blocks.
    fn render_fixed(table: &WaveTable, frequency: f32, len: usize) -> Vec<f32> {
        let mut out = vec![0.0; len];
        let mut phase = 0.0;
        for block in out.chunks_mut(BLOCK) {
            table.render_constant(&mut phase, frequency, block);
        }
        out
    }

    /// Frequency from upward zero crossings (linearly interpolated).
    fn zero_crossing_frequency(x: &[f32], sample_rate: f64) -> f64 {
        let crossings: Vec<f64> = x
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[0] <= 0.0 && w[1] > 0.0)
            .map(|(n, w)| n as f64 + f64::from(w[0] / (w[0] - w[1])))
            .collect();
        let cycles = (crossings.len() - 1) as f64;
        cycles * sample_rate / (crossings[crossings.len() - 1] - crossings[0])
    }

    /// Largest absolute sample.
    fn peak_of(x: &[f32]) -> f32 {
        x.iter().fold(0.0, |m, &v| m.max(v.abs()))
    }

    /// The ideal band-limited, normalized waveform the scheme should produce
    /// at `frequency`: the same partials as the two tables, cross-faded, the
    /// spec's normalization by the full-band peak, evaluated in `f64`.
    fn ideal(kind: BasicWaveform, frequency: f32, sample_rate: f32, len: usize) -> Vec<f64> {
        let table = WaveTable::basic(kind, sample_rate);
        let pair = table.voice(frequency).pair;
        let half = table.size / 2;
        let keep_hi = partials_for_range(pair.higher / table.size, half).min(half - 1);
        let keep_lo = partials_for_range(pair.lower / table.size, half).min(half - 1);
        let b: Vec<f64> = (0..half)
            .map(|n| {
                if n == 0 {
                    0.0
                } else {
                    f64::from(kind.sine_coefficient(n))
                }
            })
            .collect();
        let sum =
            |x: f64, keep: usize| (1..=keep).map(|k| b[k] * (k as f64 * x).sin()).sum::<f64>();
        let full_peak = (0..table.size)
            .map(|n| sum(2.0 * PI * n as f64 / table.size as f64, half - 1).abs())
            .fold(0.0, f64::max);
        let factor = f64::from(pair.factor);
        (0..len)
            .map(|n| {
                let x = 2.0 * PI * f64::from(frequency) * n as f64 / f64::from(sample_rate);
                ((1.0 - factor) * sum(x, keep_hi) + factor * sum(x, keep_lo)) / full_peak
            })
            .collect()
    }

    /// Magnitude spectrum (dB re its maximum is up to the caller) of `x`
    /// under a 4-term Blackman-Harris window.
    fn spectrum(x: &[f32]) -> Vec<f64> {
        let n = x.len();
        let mut input: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let p = 2.0 * PI * i as f64 / n as f64;
                let w = 0.35875 - 0.48829 * p.cos() + 0.14128 * (2.0 * p).cos()
                    - 0.01168 * (3.0 * p).cos();
                w * f64::from(v)
            })
            .collect();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let mut out = fft.make_output_vec();
        fft.process(&mut input, &mut out)
            .expect("real input has no DC/Nyquist constraint");
        out.iter().map(|c| c.norm()).collect()
    }

    #[test]
    fn table_layout_matches_blink() {
        let t = WaveTable::basic(BasicWaveform::Sine, 48_000.0);
        assert_eq!((t.size, t.ranges), (4096, 36));
        assert_eq!(t.tables.len(), 36 * 4096);
        let t = WaveTable::basic(BasicWaveform::Sine, 22_050.0);
        assert_eq!((t.size, t.ranges), (2048, 33));
        let t = WaveTable::basic(BasicWaveform::Sine, 96_000.0);
        assert_eq!((t.size, t.ranges), (16384, 42));
        let counts: Vec<usize> = (0..7).map(|r| partials_for_range(r, 2048)).collect();
        assert_eq!(counts, [2048, 1625, 1290, 1024, 812, 645, 512]);
        assert_eq!(partials_for_range(33, 2048), 1);
        assert_eq!(partials_for_range(34, 2048), 0);
        // 440 Hz at 48 kHz: p = 1 + 3·log2(440 / 11.71875) = 16.69.
        let pair = WaveTable::basic(BasicWaveform::Sine, 48_000.0).table_pair(440.0);
        assert_eq!((pair.higher / 4096, pair.lower / 4096), (16, 17));
        assert!((pair.factor - 0.6922).abs() < 1e-3, "{}", pair.factor);
    }

    #[test]
    fn basic_waveforms_frequency_and_peak() {
        let sr = 48_000.0;
        for kind in [
            BasicWaveform::Sine,
            BasicWaveform::Square,
            BasicWaveform::Sawtooth,
            BasicWaveform::Triangle,
        ] {
            let table = WaveTable::basic(kind, sr);
            let out = render_fixed(&table, 440.0, 48_000);
            let f = zero_crossing_frequency(&out, f64::from(sr));
            assert!((f - 440.0).abs() < 0.5, "{kind:?}: {f} Hz");
            let expected = ideal(kind, 440.0, sr, 48_000);
            let ideal_peak = expected.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
            let peak = peak_of(&out);
            // Over 0.1 s: later the f32 phase increment (as in Blink) drifts
            // by up to ~1e-4 per second at 440 Hz.
            let max_error = out[..4800]
                .iter()
                .zip(&expected)
                .map(|(&a, b)| (f64::from(a) - b).abs())
                .fold(0.0, f64::max);
            println!(
                "{kind:?}: {f:.4} Hz, peak {peak:.5} (ideal {ideal_peak:.5}), max error {max_error:.2e}"
            );
            assert!((f64::from(peak) - ideal_peak).abs() < 1e-3, "{kind:?}");
            // Linear interpolation between table samples: ~4e-7 for the sine
            // (plus ~1e-5 of drift from the f32 increment, as in Blink),
            // ~3e-4 at the band-limited square's steepest edge.
            let tolerance = if kind == BasicWaveform::Sine {
                1e-4
            } else {
                1e-3
            };
            assert!(max_error < tolerance, "{kind:?}: {max_error}");
            match kind {
                BasicWaveform::Sine => assert!((peak - 1.0).abs() < 1e-3),
                // The full-band table peaks at 1 (normalization); with the
                // ~50 partials used at 440 Hz the Gibbs overshoot is about the
                // same, the triangle's corners slightly rounded.
                BasicWaveform::Square | BasicWaveform::Sawtooth => {
                    assert!((0.97..1.01).contains(&peak))
                }
                BasicWaveform::Triangle => assert!((0.98..1.0).contains(&peak)),
            }
        }
    }

    #[test]
    fn basic_waveform_signs_follow_the_spec() {
        // All rise from 0 at phase 0; square is +1 over the first half cycle.
        let sr = 48_000.0;
        for kind in [
            BasicWaveform::Square,
            BasicWaveform::Sawtooth,
            BasicWaveform::Triangle,
        ] {
            let out = render_fixed(&WaveTable::basic(kind, sr), 100.0, 480);
            assert!(out[0].abs() < 0.05, "{kind:?} starts at {}", out[0]);
            assert!(out[60] > 0.2, "{kind:?} at 1/8 cycle: {}", out[60]);
            assert!(out[300] < -0.2, "{kind:?} at 5/8 cycle: {}", out[300]);
        }
        let triangle = render_fixed(&WaveTable::basic(BasicWaveform::Triangle, sr), 100.0, 480);
        assert!((triangle[120] - 1.0).abs() < 0.01, "{}", triangle[120]);
        let saw = render_fixed(&WaveTable::basic(BasicWaveform::Sawtooth, sr), 100.0, 480);
        // Sawtooth: a straight ramp, half way up at a quarter cycle.
        // (Within the ripple of the ~180 partials used at 100 Hz.)
        assert!(
            (saw[120] / saw[60] - 2.0).abs() < 0.02,
            "{} {}",
            saw[60],
            saw[120]
        );
        // 1/8 cycle of x/π is 0.25, over the full-band Gibbs peak 1.179.
        assert!((saw[60] - 0.25 / 1.179).abs() < 0.003, "{}", saw[60]);
    }

    #[test]
    fn sine_matches_exact_values() {
        let sr = 48_000.0;
        let table = WaveTable::basic(BasicWaveform::Sine, sr);
        for f in [440.0f32, 1000.0, 7040.0, 15_000.0] {
            let out = render_fixed(&table, f, 4800);
            // Against the exact sine at the f32 phase increment the scheme
            // (like Blink) uses: only the table and its interpolation err.
            let increment = f64::from(f * table.rate_scale);
            let table_error = out
                .iter()
                .enumerate()
                .map(|(n, &v)| {
                    (f64::from(v) - (2.0 * PI * increment * n as f64 / 4096.0).sin()).abs()
                })
                .fold(0.0, f64::max);
            // Against sin(2π f n / sr): adds the drift from rounding the
            // increment to f32 (relative ~1e-8, so 1e-4 needs f·t < ~800).
            let exact_error = out[..2400]
                .iter()
                .enumerate()
                .map(|(n, &v)| {
                    (f64::from(v) - (2.0 * PI * f64::from(f) * n as f64 / 48_000.0).sin()).abs()
                })
                .fold(0.0, f64::max);
            println!("sine {f} Hz: max error {table_error:.2e} (table), {exact_error:.2e} (exact)");
            assert!(table_error < 2e-6, "{f} Hz: {table_error}");
            assert!(exact_error < 1e-4, "{f} Hz: {exact_error}");
        }
    }

    #[test]
    fn sawtooth_is_band_limited() {
        for (f, sr) in [
            (4000.0f32, 44_100.0f32),
            (4100.0, 48_000.0),
            (4000.0, 48_000.0),
        ] {
            let out = render_fixed(&WaveTable::basic(BasicWaveform::Sawtooth, sr), f, 32_768);
            let mag = spectrum(&out);
            let bin_hz = f64::from(sr) / 32_768.0;
            let fundamental = mag[(f64::from(f) / bin_hz).round() as usize];
            let worst = mag
                .iter()
                .enumerate()
                .filter(|&(k, _)| {
                    let hz = k as f64 * bin_hz;
                    let harmonic = (hz / f64::from(f)).round() * f64::from(f);
                    (hz - harmonic).abs() > 20.0 * bin_hz
                })
                .map(|(_, &m)| m)
                .fold(0.0, f64::max);
            let db = 20.0 * (worst / fundamental).log10();
            println!("sawtooth {f} Hz at {sr} Hz: worst non-harmonic {db:.1} dB");
            assert!(db < -60.0, "{f} Hz at {sr}: {db} dB");
        }
    }

    #[test]
    fn custom_wave_is_hand_computable() {
        let sr = 48_000.0;
        // imag = [0, 1] is the sine table, normalized or not.
        let sine = render_fixed(&WaveTable::basic(BasicWaveform::Sine, sr), 440.0, 4800);
        for disable in [false, true] {
            let custom = WaveTable::from_coefficients(&[0.0, 0.0], &[0.0, 1.0], disable, sr);
            assert_eq!(render_fixed(&custom, 440.0, 4800), sine);
        }
        // sin(x) + 0.5 sin(2x) without normalization; DC (index 0) ignored.
        let table = WaveTable::from_coefficients(&[7.0, 0.0, 0.0], &[3.0, 1.0, 0.5], true, sr);
        let out = render_fixed(&table, 440.0, 4800);
        let err = out
            .iter()
            .enumerate()
            .map(|(n, &v)| {
                let x = 2.0 * PI * 440.0 * n as f64 / 48_000.0;
                (f64::from(v) - (x.sin() + 0.5 * (2.0 * x).sin())).abs()
            })
            .fold(0.0, f64::max);
        assert!(err < 1e-4, "{err}");
        // max of sin x + 0.5 sin 2x is 1.2990 (at cos x = (√33 − 1)/8).
        assert!((peak_of(&render_fixed(&table, 50.0, 960)) - 1.2990).abs() < 1e-3);
        // Normalized, the same wave peaks at 1.
        let normalized =
            WaveTable::from_coefficients(&[0.0, 0.0, 0.0], &[0.0, 1.0, 0.5], false, sr);
        let peak = peak_of(&render_fixed(&normalized, 50.0, 960));
        assert!((peak - 1.0).abs() < 1e-3, "{peak}");
        // Cosine terms: real = [0, 2] is 2·cos(x), starting at 2.
        let cosine = WaveTable::from_coefficients(&[0.0, 2.0], &[0.0, 0.0], true, sr);
        let out = render_fixed(&cosine, 440.0, 4800);
        assert!((out[0] - 2.0).abs() < 1e-6);
        let err = out
            .iter()
            .enumerate()
            .map(|(n, &v)| {
                (f64::from(v) - 2.0 * (2.0 * PI * 440.0 * n as f64 / 48_000.0).cos()).abs()
            })
            .fold(0.0, f64::max);
        assert!(err < 2e-4, "{err}");
        // All-zero coefficients: silence, no NaN from the normalization.
        let zero = WaveTable::from_coefficients(&[0.0, 0.0], &[0.0, 0.0], false, sr);
        assert!(render_fixed(&zero, 440.0, 256).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn constant_and_per_sample_render_agree_bit_for_bit() {
        let table = WaveTable::basic(BasicWaveform::Sawtooth, 44_100.0);
        for f in [
            440.0f32,
            -440.0,
            1.0,
            2.5,
            -0.7,
            0.0,
            12_345.6,
            22_050.0,
            f32::NAN,
        ] {
            let (mut p1, mut p2) = (0.25, 0.25);
            let (mut a, mut b) = ([0.0; BLOCK], [0.0; BLOCK]);
            for _ in 0..40 {
                table.render_constant(&mut p1, f, &mut a);
                table.render(&mut p2, |_| f, &mut b);
                assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits), "{f} Hz");
                assert_eq!(p1.to_bits(), p2.to_bits(), "{f} Hz");
            }
        }
    }

    #[test]
    fn negative_frequency_plays_backwards() {
        let sr = 48_000.0;
        for kind in [BasicWaveform::Sine, BasicWaveform::Sawtooth] {
            let table = WaveTable::basic(kind, sr);
            let forward = render_fixed(&table, 440.0, 4800);
            let backward = render_fixed(&table, -440.0, 4800);
            // The waveforms are odd: x(−t) = −x(t).
            let err = forward
                .iter()
                .zip(&backward)
                .map(|(a, b)| (a + b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-4, "{kind:?}: {err}");
        }
    }

    #[test]
    fn nyquist_and_non_finite_frequencies_are_silent() {
        let table = WaveTable::basic(BasicWaveform::Square, 48_000.0);
        for f in [
            24_000.0f32,
            30_000.0,
            -24_000.0,
            -1e9,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            let mut phase = 0.0;
            let mut out = [1.0; BLOCK];
            table.render_constant(&mut phase, f, &mut out);
            assert!(out.iter().all(|&v| v == 0.0), "{f}");
            assert!(
                phase.is_finite() && (0.0..4096.0).contains(&phase),
                "{f}: {phase}"
            );
            let mut out = [1.0; BLOCK];
            table.render(&mut phase, |i| if i % 2 == 0 { f } else { -f }, &mut out);
            assert!(out.iter().all(|&v| v == 0.0), "{f}");
            assert!(phase.is_finite());
        }
        // Just below Nyquist only the fundamental, faded out, is left.
        let out = render_fixed(&table, 23_900.0, 1024);
        assert!(peak_of(&out) < 0.05, "{}", peak_of(&out));
        // A non-finite running phase restarts at 0 instead of poisoning.
        let mut phase = f64::NAN;
        let mut out = [0.0; BLOCK];
        table.render_constant(&mut phase, 440.0, &mut out);
        assert!(out.iter().all(|v| v.is_finite()) && phase.is_finite());
    }

    #[test]
    fn slow_oscillator_uses_lagrange_and_stays_smooth() {
        // 0.5 and 2.5 Hz at 48 kHz: increments 0.043 and 0.21 table samples.
        let table = WaveTable::basic(BasicWaveform::Sine, 48_000.0);
        for f in [0.5f32, 2.5] {
            let out = render_fixed(&table, f, 9600);
            let err = out
                .iter()
                .enumerate()
                .map(|(n, &v)| {
                    (f64::from(v) - (2.0 * PI * f64::from(f) * n as f64 / 48_000.0).sin()).abs()
                })
                .fold(0.0, f64::max);
            assert!(err < 1e-6, "{f} Hz: {err}");
        }
    }

    /// Chromium's render of a case, if the conformance folder is present.
    fn chromium_reference(name: &str) -> Option<Vec<f32>> {
        let path = format!(
            "{}/../tests/conformance/reference/{name}.f32",
            env!("CARGO_MANIFEST_DIR")
        );
        match std::fs::read(&path) {
            Ok(bytes) => Some(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Err(_) => {
                println!("skipping: {path} not found");
                None
            }
        }
    }

    /// The conformance metric: error energy relative to the reference, in dB.
    fn error_db(test: &[f32], reference: &[f32]) -> f64 {
        let (mut err, mut energy) = (0.0, 0.0);
        for (&t, &r) in test.iter().zip(reference) {
            err += (f64::from(t) - f64::from(r)).powi(2);
            energy += f64::from(r).powi(2);
        }
        10.0 * (err / energy).log10()
    }

    /// Blink's x86 linear ramp from `value1` at 0 s to `value2` at `time2`,
    /// at frame `n`: per 128-frame quantum, four lanes started from the ramp
    /// formula and then stepped by a rounded `4/sr · slope`, all in `f32`.
    fn blink_linear_ramp(value1: f32, value2: f32, time2: f64, n: usize) -> f32 {
        let sr = 48_000.0f64;
        let k = (1.0 / time2) as f32;
        let delta = value2 - value1;
        let start = n - n % BLOCK;
        let (lane, steps) = ((n % 4) as f32, (n % BLOCK) / 4);
        let mut v = (1.0 / sr) as f32 * lane;
        v += (start as f64 / sr) as f32;
        v *= k * delta;
        v += value1;
        let increment = (4.0 / sr * f64::from(k) * f64::from(delta)) as f32;
        for _ in 0..steps {
            v += increment;
        }
        v
    }

    /// The automation cases' computed frequency over their first 0.1 s, as
    /// Blink computes it: frequency ramps linearly 440 → 880 Hz over 0.1 s,
    /// detune 0 → 100 cents over 0.2 s, multiplied as `f · 2^(d/1200)`.
    fn automation_frequency(n: usize) -> f32 {
        let frequency = blink_linear_ramp(440.0, 880.0, 0.1, n);
        let detune = blink_linear_ramp(0.0, 100.0, 0.2, n);
        frequency * (detune * (1.0 / 1200.0)).exp2()
    }

    #[test]
    fn matches_chromium_on_automation_cases() {
        let sr = 48_000.0;
        let sawtooth = [("sawtooth", BasicWaveform::Sawtooth)];
        let cases = [
            ("sine", BasicWaveform::Sine),
            ("square", BasicWaveform::Square),
        ];
        for (name, kind) in cases.iter().chain(&sawtooth) {
            let Some(reference) = chromium_reference(&format!("conf_osc_{name}_automation")) else {
                return;
            };
            let out = render_blocks(&WaveTable::basic(*kind, sr), automation_frequency, 4800);
            let db = error_db(&out, &reference[..4800]);
            println!("conf_osc_{name}_automation, first 4800 frames: {db:.1} dB");
            assert!(db < -120.0, "{name}: {db} dB");
        }
        let Some(reference) = chromium_reference("conf_osc_custom_automation") else {
            return;
        };
        let real = [0.0, 0.2, 0.0, 0.1, 0.0];
        let imag = [0.0, 1.0, 0.5, 0.33, 0.25];
        let table = WaveTable::from_coefficients(&real, &imag, false, sr);
        let out = render_blocks(&table, automation_frequency, 4800);
        let db = error_db(&out, &reference[..4800]);
        println!("conf_osc_custom_automation, first 4800 frames: {db:.1} dB");
        assert!(db < -120.0, "custom: {db} dB");
    }

    #[test]
    fn matches_chromium_on_sawtooth_sweep_to_nyquist() {
        let Some(reference) = chromium_reference("conf_osc_sawtooth_sweep_to_nyquist") else {
            return;
        };
        // Blink's exponential ramp 20 → 22000 Hz over 1 s: the value at each
        // block start from pow, then a running product within the block.
        let multiplier = 1100f64.powf(1.0 / 48_000.0);
        let frequency: Vec<f32> = (0..48_000)
            .map(|n: usize| {
                let start = n - n % BLOCK;
                let mut value = f64::from((20.0 * 1100f64.powf(start as f64 / 48_000.0)) as f32);
                for _ in start..n {
                    value *= multiplier;
                }
                value as f32
            })
            .collect();
        let table = WaveTable::basic(BasicWaveform::Sawtooth, 48_000.0);
        let out = render_blocks(&table, |n| frequency[n], 48_000);
        let db = error_db(&out, &reference);
        let db_first = error_db(&out[..24_000], &reference[..24_000]);
        println!("conf_osc_sawtooth_sweep_to_nyquist: {db:.1} dB (first half {db_first:.1} dB)");
        assert!(db < -120.0, "{db} dB");
    }
}
