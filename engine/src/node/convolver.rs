//! `ConvolverNode`'s render side: linear convolution with an impulse response (a host's
//! audio buffer, given here as channel slices), by uniformly partitioned overlap-save FFT
//! convolution.
//!
//! - **Partitions of one render quantum.** The impulse response is cut into blocks of 128
//!   frames. The first block is applied directly in the time domain (128 taps: no latency,
//!   and a response shorter than a quantum is exact, e.g. a unit impulse reproduces the input
//!   bit for bit). Every later block is zero-padded to 256 and transformed once, on the
//!   control side, when the buffer is resolved; every quantum the processor transforms the
//!   last two input blocks (256 frames), pushes the spectrum into a frequency-domain delay
//!   line, multiplies the spectra of earlier quanta with the partition spectra, sums, and
//!   transforms back (overlap-save): the last 128 frames are the output. So there is **no
//!   latency**, as in the browsers.
//! - **Normalization** (`normalize`, default `true`): the spec's `calculateNormalizationScale`
//!   (equal-power RMS analysis, calibration at 44.1 kHz, ×0.5 for four channels) is computed
//!   in `f64` when the buffer is set and folded into the taps and partition spectra. The
//!   calibration gain is the browsers' `10^(−58/20)` ≈ 0.0012589 (Blink, WebKit and Gecko all
//!   share that `GainCalibration = -58` dB constant); the spec's text rounds it to 0.00125,
//!   which makes every normalized output 0.062 dB (0.71 %) quieter than in a browser and
//!   measures −43 dB against Chromium on `conf_convolver_stereo_ir`
//!   ([`GAIN_CALIBRATION`], [`SPEC_GAIN_CALIBRATION`], [`normalization_scale_of`]). As the
//!   spec says, changing `normalize` takes effect the next time the buffer is set.
//! - **Channels** ("Channel Configurations for Input, Impulse Response and Output"): the input
//!   is mono or stereo (`channelCount` ≤ 2, `channelCountMode` not `max`); a mono input with a
//!   mono impulse response gives a mono output, every other combination a stereo one:
//!   mono IR: `L = in_L∗h`, `R = in_R∗h`; stereo IR: `L = in_L∗h_L`, `R = in_R∗h_R`;
//!   four channels ("true stereo"): `L = in_L∗h₀ + in_R∗h₂`, `R = in_L∗h₁ + in_R∗h₃`. A mono
//!   input feeds both `in_L` and `in_R` (the speakers up-mix), which gives the spec's mono-input
//!   diagrams.
//! - **Tail**: after the input goes silent the node renders the rest of the response (its
//!   length rounded up to a quantum), then outputs one channel of silence without doing any
//!   work (the spec's "not actively processing").
//! - **Buffers arrive late**: the host prepares a [`Convolution`] (spectra, delay line and FFT
//!   plans, all sized on the control side) when its buffer is resolved and sends it in a
//!   [`ConvolverMessage`]; the one it replaces travels back in the message. Without one the
//!   node outputs one channel of silence.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;
use crate::render::bus::RENDER_QUANTUM;

/// Partition length in frames (one render quantum: zero latency).
const BLOCK: usize = RENDER_QUANTUM;
/// FFT length (two blocks, for overlap-save).
const FFT: usize = 2 * BLOCK;
/// Complex bins of a real FFT of length [`FFT`].
const BINS: usize = FFT / 2 + 1;

/// The calibration gain of the browsers' normalization: `10^(−58/20)` (`GainCalibration =
/// -58` dB in Blink's, WebKit's and Gecko's `Reverb`).
pub const GAIN_CALIBRATION: f64 = 0.001_258_925_411_794_167_5;

/// The calibration gain as the spec's `calculateNormalizationScale` writes it (0.00125, the
/// browsers' value rounded).
pub const SPEC_GAIN_CALIBRATION: f64 = 0.00125;

/// The spec's `calculateNormalizationScale` over an impulse response's channels (all of one
/// length) recorded at `sample_rate`, in `f64` as its JavaScript is, with calibration gain
/// `calibration` ([`GAIN_CALIBRATION`] is what the node applies when `normalize` is set;
/// [`SPEC_GAIN_CALIBRATION`] gives the spec's text exactly).
pub fn normalization_scale_of<C: AsRef<[f32]>>(
    channels: &[C],
    sample_rate: f32,
    calibration: f64,
) -> f64 {
    const GAIN_CALIBRATION_SAMPLE_RATE: f64 = 44100.0;
    const MIN_POWER: f64 = 0.000125;
    let length = channels.first().map_or(0, |c| c.as_ref().len());
    let mut power = 0.0;
    for data in channels {
        power += data
            .as_ref()
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>();
    }
    power = (power / (channels.len() * length) as f64).sqrt();
    if !power.is_finite() || power < MIN_POWER {
        power = MIN_POWER;
    }
    let mut scale = 1.0 / power * calibration;
    scale *= GAIN_CALIBRATION_SAMPLE_RATE / f64::from(sample_rate);
    if channels.len() == 4 {
        scale *= 0.5;
    }
    scale
}

/// A new convolution for a running processor (`None`: no buffer); the old one comes back in
/// it.
pub type ConvolverMessage = Option<Box<Convolution>>;

/// Everything the render side needs for one impulse response, sized on the control side
/// ([`Convolution::new`]).
pub struct Convolution {
    /// The first partition's taps, `[ir_channel][128]`, scaled by the normalization.
    direct: Box<[f32]>,
    /// Non-zero taps of the first partition.
    direct_len: usize,
    /// Partition spectra, `[ir_channel][partition][bin]`, scaled by the normalization and by
    /// `1 / FFT` (realfft does not normalize); partition 0 is unused (applied directly).
    spectra: Box<[Complex<f32>]>,
    ir_channels: usize,
    partitions: usize,
    /// Input spectra of the last `partitions` quanta, `[input_channel][slot][bin]`, for the
    /// two input channels.
    delay_line: Box<[Complex<f32>]>,
    /// The slot of the newest input spectrum.
    newest: usize,
    /// The previous and the current input block of each input channel.
    history: [[f32; FFT]; 2],
    /// Silent quanta since the last audible input (saturating).
    silent_quanta: usize,
    /// Whether the last processed input was mono.
    mono_input: bool,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    time: Box<[f32; FFT]>,
    accumulator: Box<[Complex<f32>; BINS]>,
    scratch: Box<[Complex<f32>]>,
}

impl Convolution {
    /// Cuts the impulse response `channels` (1, 2 or 4 of them, all of one length) into
    /// partitions, scales them by `scale` (the normalization, or 1) and transforms them.
    /// Control thread only (allocates and plans FFTs).
    pub fn new<C: AsRef<[f32]>>(channels: &[C], scale: f64) -> Self {
        debug_assert!(
            matches!(channels.len(), 1 | 2 | 4),
            "a convolver response has 1, 2 or 4 channels"
        );
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(FFT);
        let inverse = planner.plan_fft_inverse(FFT);
        let ir_channels = channels.len();
        let length = channels.first().map_or(0, |c| c.as_ref().len());
        // At least one partition, so that the delay line's slot arithmetic stays defined.
        let partitions = length.div_ceil(BLOCK).max(1);
        let mut spectra = vec![Complex::default(); ir_channels * partitions * BINS];
        let gain = scale / FFT as f64;
        let mut direct = vec![0.0f32; ir_channels * BLOCK];
        let direct_len = length.min(BLOCK);
        for (c, data) in channels.iter().enumerate() {
            let data = data.as_ref();
            for (d, &s) in direct[c * BLOCK..].iter_mut().zip(&data[..direct_len]) {
                *d = (f64::from(s) * scale) as f32;
            }
        }
        let mut time = [0.0f32; FFT];
        let mut scratch =
            vec![Complex::default(); forward.get_scratch_len().max(inverse.get_scratch_len())];
        for (c, data) in channels.iter().enumerate() {
            let data = data.as_ref();
            for (p, block) in data.chunks(BLOCK).enumerate().skip(1) {
                time.fill(0.0);
                for (t, &s) in time.iter_mut().zip(block) {
                    *t = (f64::from(s) * gain) as f32;
                }
                let start = (c * partitions + p) * BINS;
                let out = &mut spectra[start..start + BINS];
                forward
                    .process_with_scratch(&mut time, out, &mut scratch)
                    .expect("FFT lengths are fixed");
            }
        }
        Self {
            direct: direct.into_boxed_slice(),
            direct_len,
            spectra: spectra.into_boxed_slice(),
            ir_channels,
            partitions,
            delay_line: vec![Complex::default(); 2 * partitions * BINS].into_boxed_slice(),
            newest: 0,
            history: [[0.0; FFT]; 2],
            silent_quanta: usize::MAX,
            mono_input: true,
            forward,
            inverse,
            time: Box::new([0.0; FFT]),
            accumulator: Box::new([Complex::default(); BINS]),
            scratch: scratch.into_boxed_slice(),
        }
    }

    /// The `(input channel, IR channel)` pairs summed into output channel `out` (0 or 1).
    fn paths(&self, out: usize) -> [(usize, usize); 2] {
        match (self.ir_channels, out) {
            (4, 0) => [(0, 0), (1, 2)],
            (4, _) => [(0, 1), (1, 3)],
            (_, 0) => [(0, 0), (usize::MAX, 0)],
            (n, _) => [(1, n.min(2) - 1), (usize::MAX, 0)],
        }
    }

    /// Pushes one quantum of input (`left`, `right`) into the delay line. Called on the
    /// real-time thread.
    fn push(&mut self, inputs: [&[f32; BLOCK]; 2]) {
        self.newest = (self.newest + 1) % self.partitions;
        for (c, input) in inputs.into_iter().enumerate() {
            let history = &mut self.history[c];
            history.copy_within(BLOCK.., 0);
            history[BLOCK..].copy_from_slice(input);
            if self.partitions == 1 {
                continue;
            }
            self.time.copy_from_slice(history);
            let start = (c * self.partitions + self.newest) * BINS;
            let slot = &mut self.delay_line[start..start + BINS];
            // Lengths are fixed at construction, so this cannot fail.
            let _ = self
                .forward
                .process_with_scratch(&mut self.time[..], slot, &mut self.scratch);
        }
    }

    /// Renders output channel `out` into `dst`. Called on the real-time thread.
    fn render(&mut self, out: usize, dst: &mut [f32; BLOCK]) {
        let paths = self.paths(out);
        dst.fill(0.0);
        for (input, ir) in paths {
            if input > 1 {
                continue;
            }
            let taps = &self.direct[ir * BLOCK..ir * BLOCK + self.direct_len];
            let z = &self.history[input];
            for (i, d) in dst.iter_mut().enumerate() {
                // y[i] = Σ h[m] x[i − m], x[i − m] at z[BLOCK + i − m].
                let window = &z[BLOCK + i + 1 - taps.len()..=BLOCK + i];
                let sum: f32 = taps
                    .iter()
                    .zip(window.iter().rev())
                    .map(|(h, x)| h * x)
                    .sum();
                *d += sum;
            }
        }
        if self.partitions == 1 {
            return;
        }
        let acc = &mut *self.accumulator;
        acc.fill(Complex::default());
        let partitions = self.partitions;
        for (input, ir) in paths {
            if input > 1 {
                continue;
            }
            let lines =
                &self.delay_line[input * partitions * BINS..(input + 1) * partitions * BINS];
            let spectra = &self.spectra[ir * partitions * BINS..(ir + 1) * partitions * BINS];
            for (p, h) in spectra.chunks_exact(BINS).enumerate().skip(1) {
                // Partition p multiplies the input of p quanta ago.
                let slot = (self.newest + partitions - p) % partitions;
                let x = &lines[slot * BINS..(slot + 1) * BINS];
                for ((a, x), h) in acc.iter_mut().zip(x).zip(h) {
                    *a += x * h;
                }
            }
        }
        acc[0].im = 0.0;
        acc[BINS - 1].im = 0.0;
        let _ =
            self.inverse
                .process_with_scratch(&mut acc[..], &mut self.time[..], &mut self.scratch);
        for (d, t) in dst.iter_mut().zip(&self.time[BLOCK..]) {
            *d += t;
        }
    }
}

/// The convolver's processor: its [`Convolution`], or silence without one.
pub struct ConvolverProcessor {
    convolution: Option<Box<Convolution>>,
}

impl ConvolverProcessor {
    /// A processor running `convolution` (`None`: no buffer yet, or an invalid one).
    pub fn new(convolution: Option<Box<Convolution>>) -> Self {
        Self { convolution }
    }
}

impl AudioProcessor for ConvolverProcessor {
    type Params = NoParams;
    type Message = ConvolverMessage;

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let (Some(input), Some(output)) = (io.inputs.first(), io.outputs.first_mut()) else {
            return ProcessStatus::Active;
        };
        let Some(conv) = self.convolution.as_deref_mut() else {
            output.make_silent(1);
            return ProcessStatus::Active;
        };
        if input.is_silent() {
            conv.silent_quanta = conv.silent_quanta.saturating_add(1);
            // The last audible block is in the spectrum pushed one quantum later; after
            // `partitions` more pushes of silence every slot of the delay line (and the
            // history) holds zeros, and the output is silent until the input returns.
            if conv.silent_quanta > conv.partitions + 1 {
                output.make_silent(1);
                return ProcessStatus::Active;
            }
        } else {
            conv.silent_quanta = 0;
            conv.mono_input = input.channels() == 1;
        }
        const ZERO: [f32; BLOCK] = [0.0; BLOCK];
        let left = if input.is_silent() {
            &ZERO
        } else {
            input.channel(0)
        };
        let right = if input.is_silent() {
            &ZERO
        } else if input.channels() >= 2 {
            input.channel(1)
        } else {
            left
        };
        conv.push([left, right]);
        let channels = if conv.mono_input && conv.ir_channels == 1 {
            1
        } else {
            2
        };
        output.set_channels(channels);
        for (c, dst) in output.channels_mut().iter_mut().enumerate() {
            conv.render(c, dst);
        }
        ProcessStatus::Active
    }

    fn update(&mut self, message: &mut ConvolverMessage) {
        // Swap: the old convolution goes back to the control side in the message.
        std::mem::swap(&mut self.convolution, message);
    }
}
