//! Binaural rendering for `panningModel = "HRTF"` with the impulse responses every browser
//! ships: IRCAM LISTEN's "Composite" subject (IRC_Composite_C_R0195, 15° steps, elevations
//! −45° … 90°), stored in this crate (public domain: see `hrtf/LICENSE-HRTF-DATA.md`).
//!
//! The scheme is the browsers' (re-implemented from its description), so the rendered ears
//! match theirs in level and timing:
//!
//! - **Database** ([`HrtfDatabase`], built once per sample rate on the control thread): the
//!   measured responses resampled to the context rate, each split into a frame delay (its
//!   average group delay less 20 samples: the interaural time difference) and a short kernel
//!   (`fft_size / 2` samples, 256 at 44.1 and 48 kHz); 192 azimuths per elevation (seven
//!   interpolated between measured ones), 10 elevations (not interpolated: the 15° step at or
//!   below the source).
//! - **Per quantum**: the source's azimuth picks a kernel index (1.875° steps) and a blend
//!   that interpolates the frame delays between neighbouring indices; each ear's input runs
//!   through a fractional delay line (linear interpolation) of that ear's frame delay, then
//!   an FFT convolver (overlap-add of `fft_size / 2`-sample blocks: the output trails the
//!   input by `fft_size / 2` samples, as in the browsers).
//! - **Motion**: when the kernel index or the elevation changes, a second set of convolvers
//!   renders the new direction and the output crossfades linearly over 2048 frames (4096
//!   above 48 kHz); direction changes during a crossfade wait for it to end.
//!
//! Real-time safe: every buffer and FFT plan is made in [`HrtfRenderer::new`]; `process`
//! neither allocates, locks nor panics.

mod database;

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

pub use database::{AZIMUTHS, ELEVATIONS, HrtfDatabase, fft_size_for, raw_response};

use crate::render::bus::{AudioBus, RENDER_QUANTUM};

/// Longest interaural delay line, seconds (the database's frame delays stay well below).
const MAX_DELAY_SECONDS: f64 = 0.002;

/// Overlap-add FFT convolution of a stream with a kernel chosen per block.
struct Convolver {
    half: usize,
    /// Input block (first half) and zero padding (second half).
    input: Box<[f32]>,
    /// Scratch copy of `input` for the transform (realfft overwrites its input).
    work: Box<[f32]>,
    output: Box<[f32]>,
    overlap: Box<[f32]>,
    spectrum: Box<[Complex<f32>]>,
    scratch: Box<[Complex<f32>]>,
    index: usize,
}

impl Convolver {
    fn new(
        fft_size: usize,
        forward: &dyn RealToComplex<f32>,
        inverse: &dyn ComplexToReal<f32>,
    ) -> Self {
        let scratch = forward.get_scratch_len().max(inverse.get_scratch_len());
        Self {
            half: fft_size / 2,
            input: vec![0.0; fft_size].into_boxed_slice(),
            work: vec![0.0; fft_size].into_boxed_slice(),
            output: vec![0.0; fft_size].into_boxed_slice(),
            overlap: vec![0.0; fft_size / 2].into_boxed_slice(),
            spectrum: vec![Complex::new(0.0, 0.0); fft_size / 2 + 1].into_boxed_slice(),
            scratch: vec![Complex::new(0.0, 0.0); scratch].into_boxed_slice(),
            index: 0,
        }
    }

    fn clear(&mut self) {
        self.input.fill(0.0);
        self.output.fill(0.0);
        self.overlap.fill(0.0);
        self.index = 0;
    }

    /// Convolves `x` into `y` (same length) with `kernel` (pre-scaled spectrum).
    fn process(
        &mut self,
        kernel: &[Complex<f32>],
        x: &[f32],
        y: &mut [f32],
        forward: &dyn RealToComplex<f32>,
        inverse: &dyn ComplexToReal<f32>,
    ) {
        let mut done = 0;
        while done < x.len() {
            let n = (self.half - self.index).min(x.len() - done);
            let (i, j) = (self.index, self.index + n);
            self.input[i..j].copy_from_slice(&x[done..done + n]);
            y[done..done + n].copy_from_slice(&self.output[i..j]);
            self.index = j;
            done += n;
            if self.index == self.half {
                self.work.copy_from_slice(&self.input);
                // Sizes are fixed at construction, so the transforms cannot fail.
                let _ = forward.process_with_scratch(
                    &mut self.work,
                    &mut self.spectrum,
                    &mut self.scratch,
                );
                for (s, k) in self.spectrum.iter_mut().zip(kernel) {
                    *s *= *k;
                }
                // realfft wants real DC and Nyquist bins; the kernels' are real already.
                self.spectrum[0].im = 0.0;
                self.spectrum[self.half].im = 0.0;
                let _ = inverse.process_with_scratch(
                    &mut self.spectrum,
                    &mut self.output,
                    &mut self.scratch,
                );
                let half = self.half;
                for (o, v) in self.output[..half].iter_mut().zip(self.overlap.iter()) {
                    *o += *v;
                }
                self.overlap.copy_from_slice(&self.output[half..]);
                self.index = 0;
            }
        }
    }
}

/// A fractional delay line (linear interpolation), delay fixed per quantum.
struct DelayLine {
    buffer: Box<[f32]>,
    write: usize,
    max_delay: f64,
}

impl DelayLine {
    fn new(sample_rate: f64) -> Self {
        let max_delay = MAX_DELAY_SECONDS * sample_rate;
        let size = (max_delay as usize + RENDER_QUANTUM + 2).next_power_of_two();
        Self {
            buffer: vec![0.0; size].into_boxed_slice(),
            write: 0,
            max_delay,
        }
    }

    fn clear(&mut self) {
        self.buffer.fill(0.0);
        self.write = 0;
    }

    /// `y[n] = x[n − delay]` for one quantum.
    fn process(&mut self, x: &[f32], y: &mut [f32], delay: f64) {
        let len = self.buffer.len();
        let mask = len - 1;
        let delay = if delay.is_finite() {
            delay.clamp(0.0, self.max_delay)
        } else {
            0.0
        };
        let mut read = self.write as f64 + len as f64 - delay;
        if read >= len as f64 {
            read -= len as f64;
        }
        let whole = read as usize;
        let frac = (read - whole as f64) as f32;
        for (i, (&xi, yi)) in x.iter().zip(y.iter_mut()).enumerate() {
            self.buffer[(self.write + i) & mask] = xi;
            let a = self.buffer[(whole + i) & mask];
            let b = self.buffer[(whole + i + 1) & mask];
            *yi = a + (b - a) * frac;
        }
        self.write = (self.write + x.len()) & mask;
    }
}

/// Which convolver set is current when no crossfade runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Selection {
    First,
    Second,
}

/// The render-side HRTF state of one panner. Every method but `new` is called on the
/// real-time thread.
pub struct HrtfRenderer {
    database: Arc<HrtfDatabase>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// `[left, right]` delay lines.
    delays: [DelayLine; 2],
    /// Convolvers `[set][ear]`: set 0 renders direction 1, set 1 direction 2.
    convolvers: [[Convolver; 2]; 2],
    /// Per-ear delayed input, and the two sets' outputs while crossfading.
    delayed: [[f32; RENDER_QUANTUM]; 2],
    faded: [[[f32; RENDER_QUANTUM]; 2]; 2],
    /// Directions 1 and 2: kernel index and elevation (degrees); `None` until the first
    /// audible quantum.
    direction: [Option<(usize, f64)>; 2],
    crossfade_x: f32,
    crossfade_incr: f32,
    selection: Selection,
    fade_frames: f32,
    /// Samples rendered since the input was last audible, and how long the tail lasts.
    silent_for: usize,
    tail: usize,
}

impl HrtfRenderer {
    /// State for `sample_rate`. Allocates (and builds the database on first use at this
    /// rate): control thread only.
    pub fn new(sample_rate: f32) -> Self {
        let database = HrtfDatabase::for_sample_rate(sample_rate);
        let fft_size = database.fft_size;
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(fft_size);
        let inverse = planner.plan_fft_inverse(fft_size);
        let sr = f64::from(sample_rate);
        let conv = || Convolver::new(fft_size, forward.as_ref(), inverse.as_ref());
        let convolvers = [[conv(), conv()], [conv(), conv()]];
        let tail = fft_size + (MAX_DELAY_SECONDS * sr) as usize + 2 * RENDER_QUANTUM;
        Self {
            delays: [DelayLine::new(sr), DelayLine::new(sr)],
            convolvers,
            forward,
            inverse,
            database,
            delayed: [[0.0; RENDER_QUANTUM]; 2],
            faded: [[[0.0; RENDER_QUANTUM]; 2]; 2],
            direction: [None; 2],
            crossfade_x: 0.0,
            crossfade_incr: 0.0,
            selection: Selection::First,
            fade_frames: if sample_rate <= 48_000.0 {
                2048.0
            } else {
                4096.0
            },
            silent_for: usize::MAX / 2,
            tail,
        }
    }

    /// The output's delay behind the input, in frames (the convolution's block).
    pub fn latency_frames(&self) -> usize {
        self.database.fft_size / 2
    }

    /// The database this renderer reads.
    pub fn database(&self) -> &HrtfDatabase {
        &self.database
    }

    /// Forgets all state (the panner switched to equal-power).
    pub fn reset(&mut self) {
        if self.direction[0].is_some() || self.silent_for < self.tail {
            for d in &mut self.delays {
                d.clear();
            }
            for c in self.convolvers.iter_mut().flatten() {
                c.clear();
            }
            self.direction = [None; 2];
            self.crossfade_x = 0.0;
            self.crossfade_incr = 0.0;
            self.selection = Selection::First;
            self.silent_for = usize::MAX / 2;
        }
    }

    /// Renders one quantum for a source at `azimuth`/`elevation` (degrees, the spec's
    /// convention) with a distance × cone `gain` (applied to the output): mono input feeds
    /// both ears, a stereo input's left channel the left ear and right channel the right ear.
    /// The output is stereo.
    pub fn process(
        &mut self,
        inputs: &[AudioBus],
        output: &mut AudioBus,
        azimuth: f64,
        elevation: f64,
        gain: f64,
        _sample_rate: f32,
    ) {
        let Some(input) = inputs.first() else {
            output.make_silent(2);
            return;
        };
        let silent = input.is_silent() || input.channels() == 0;
        if silent {
            self.silent_for = self.silent_for.saturating_add(RENDER_QUANTUM);
            if self.silent_for > self.tail {
                output.make_silent(2);
                return;
            }
        } else {
            self.silent_for = 0;
        }
        let (index, blend) = HrtfDatabase::azimuth_index(azimuth);
        let elevation = if elevation.is_finite() {
            elevation
        } else {
            0.0
        };
        let desired = (index, elevation);
        // Start at the first direction seen.
        for d in &mut self.direction {
            d.get_or_insert(desired);
        }
        if self.crossfade_x == 0.0
            && self.selection == Selection::First
            && self.direction[0] != Some(desired)
        {
            self.crossfade_incr = 1.0 / self.fade_frames;
            self.direction[1] = Some(desired);
        }
        if self.crossfade_x == 1.0
            && self.selection == Selection::Second
            && self.direction[1] != Some(desired)
        {
            self.crossfade_incr = -1.0 / self.fade_frames;
            self.direction[0] = Some(desired);
        }
        let db = &*self.database;
        let [Some((az1, el1)), Some((az2, el2))] = self.direction else {
            return;
        };
        let (e1, e2) = (
            HrtfDatabase::elevation_index(el1),
            HrtfDatabase::elevation_index(el2),
        );
        let x = f64::from(self.crossfade_x);
        // Delay lines: each ear's frame delay, crossfaded between the two directions.
        for ear in 0..2 {
            let d = (1.0 - x) * db.blended_delay(e1, az1, blend, ear)
                + x * db.blended_delay(e2, az2, blend, ear);
            let src: &[f32; RENDER_QUANTUM] = if silent {
                &[0.0; RENDER_QUANTUM]
            } else {
                input.channel(ear.min(input.channels() - 1))
            };
            self.delays[ear].process(src, &mut self.delayed[ear], d);
        }
        output.set_channels(2);
        let crossfading = self.crossfade_x != 0.0 || self.crossfade_incr != 0.0;
        let (fwd, inv) = (self.forward.as_ref(), self.inverse.as_ref());
        let sets = [(az1, e1, Selection::First), (az2, e2, Selection::Second)];
        for (set, &(az, el, which)) in sets.iter().enumerate() {
            if !(crossfading || self.selection == which) {
                continue;
            }
            for ear in 0..2 {
                let kernel = db.spectrum(el, az, ear);
                let dst: &mut [f32] = if crossfading {
                    &mut self.faded[set][ear]
                } else {
                    &mut output.channels_mut()[ear]
                };
                self.convolvers[set][ear].process(kernel, &self.delayed[ear], dst, fwd, inv);
            }
        }
        if crossfading {
            let incr = self.crossfade_incr;
            for (ear, out) in output.channels_mut().iter_mut().enumerate() {
                let mut x = self.crossfade_x;
                for (i, o) in out.iter_mut().enumerate() {
                    *o = (1.0 - x) * self.faded[0][ear][i] + x * self.faded[1][ear][i];
                    x += incr;
                }
            }
            self.crossfade_x += incr * RENDER_QUANTUM as f32;
            if incr > 0.0 && (self.crossfade_x - 1.0).abs() < incr {
                self.selection = Selection::Second;
                self.crossfade_x = 1.0;
                self.crossfade_incr = 0.0;
            } else if incr < 0.0 && self.crossfade_x.abs() < -incr {
                self.selection = Selection::First;
                self.crossfade_x = 0.0;
                self.crossfade_incr = 0.0;
            }
        }
        let g = if gain.is_finite() { gain as f32 } else { 0.0 };
        for out in output.channels_mut() {
            for o in out.iter_mut() {
                *o *= g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders mono `input` at a fixed direction (gain 1), `frames` frames of stereo.
    fn render(
        input: &[f32],
        azimuth: f64,
        elevation: f64,
        sr: f32,
        frames: usize,
    ) -> [Vec<f32>; 2] {
        let mut r = HrtfRenderer::new(sr);
        let mut inp = AudioBus::with_capacity(2);
        let mut out = AudioBus::with_capacity(2);
        let mut ears = [Vec::new(), Vec::new()];
        for q in 0..frames.div_ceil(RENDER_QUANTUM) {
            inp.set_channels(1);
            let ch = inp.channel_mut(0);
            for (i, v) in ch.iter_mut().enumerate() {
                *v = input.get(q * RENDER_QUANTUM + i).copied().unwrap_or(0.0);
            }
            if ch.iter().all(|&v| v == 0.0) {
                inp.make_silent(1);
            }
            r.process(
                std::slice::from_ref(&inp),
                &mut out,
                azimuth,
                elevation,
                1.0,
                sr,
            );
            for (e, ear) in ears.iter_mut().enumerate() {
                ear.extend_from_slice(out.channel(e.min(out.channels() - 1)));
            }
        }
        ears
    }

    #[test]
    #[ignore = "writes probe renders to $HRTF_DUMP for comparison with Chromium"]
    fn dump_probes() {
        let dir = std::env::var("HRTF_DUMP").unwrap_or_else(|_| "/tmp".into());
        for sr in [48_000.0f32, 44_100.0] {
            for az in [0.0, 90.0, -90.0] {
                let mut imp = vec![0.0; 4096];
                imp[0] = 1.0;
                let ears = render(&imp, az, 0.0, sr, 4096);
                let bytes: Vec<u8> = ears
                    .iter()
                    .flatten()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                std::fs::write(format!("{dir}/probe_{sr}_az{az}.f32"), bytes).unwrap();
            }
        }
    }
}
