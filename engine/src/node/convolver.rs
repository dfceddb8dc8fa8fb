//! `ConvolverNode`'s render side: linear convolution with an impulse response (a host's
//! audio buffer, given here as channel slices), by non-uniformly partitioned overlap-save FFT
//! convolution with no latency.
//!
//! - **Direct head.** The first 128 taps are applied directly in the time domain, one tap at a
//!   time over the whole quantum (no latency, and a response shorter than a quantum is exact,
//!   e.g. a unit impulse reproduces the input bit for bit).
//! - **Levels of growing partitions** (the `level` submodule). The rest of the response is cut into a
//!   chain of uniformly partitioned segments whose block length grows along the response:
//!   128 frames right after the head, then longer blocks (powers of two up to 16 384) further
//!   out. A level of block `L` (FFT `2L`) processes one input block every `L / 128` quanta:
//!   forward transforms of the last `2L` input frames into a frequency-domain delay line,
//!   products with the partition spectra (transformed once, on the control side, when the
//!   buffer is resolved), inverse transforms (overlap-save: the last `L` samples are the
//!   output). Its result is needed only `start − L` frames after the block completes, so a
//!   level may begin at tap `2L − 256` and its work is **spread over the `L / 128` quanta** of
//!   the next block on the render thread: a static schedule, made on the control side, puts
//!   each transform in its own quantum (the quietest ones) and water-fills the spectral
//!   products around them and around the shorter levels' work, so every quantum does about
//!   the same bounded work (a transform cannot be split: the quanta holding one do that much
//!   more). There is no worker thread, and offline renders are deterministic. **The output
//!   has no latency**, as in the browsers. The chain is chosen by a cost model (estimated FFT
//!   and multiply-add times; the mean work per quantum plus a tenth of the longest
//!   transform): a 4 s response at 48 kHz takes 128, 1024 and 8192-frame blocks, 49
//!   partitions instead of 1 500 uniform ones. When both input channels were equal over a
//!   block's whole window (a mono input) the right channel's spectrum is a copy of the left
//!   one's.
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
//!   length rounded up to a quantum), then outputs one channel of silence (the spec's "not
//!   actively processing"); its levels keep running on silence until every delay line,
//!   accumulator and output ring holds zeros, and from then on it does no work until the
//!   input returns (the levels resume at the phase they stopped at).
//! - **Buffers arrive late**: the host prepares a [`Convolution`] (spectra, delay lines,
//!   schedules and FFT plans, all sized on the control side) when its buffer is resolved and
//!   sends it in a [`ConvolverMessage`]; the one it replaces travels back in the message.
//!   Without one the node outputs one channel of silence.

mod level;

use realfft::RealFftPlanner;

use self::level::{InputRing, Level, Product};
use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;
use crate::render::bus::RENDER_QUANTUM;

/// The direct head's length and the shortest partition, in frames (one render quantum: zero
/// latency).
const BLOCK: usize = RENDER_QUANTUM;

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
    ir_channels: usize,
    /// The rest of the response, in levels of growing block length.
    levels: Box<[Level]>,
    /// The input of both channels, as far back as the longest level reads.
    input: InputRing,
    /// The previous and the current input quantum of each input channel (the direct head).
    history: [[f32; 2 * BLOCK]; 2],
    /// Quanta pushed so far.
    quantum: u64,
    /// The first frame from which both input channels have been equal.
    mono_since: u64,
    /// Silent quanta since the last audible input (saturating).
    silent_quanta: usize,
    /// Silent quanta after which the output is silent: the response's length in quanta + 1.
    tail_quanta: usize,
    /// Silent quanta after which every level's state holds zeros and the work stops.
    flush_quanta: usize,
    /// Whether the last processed input was mono.
    mono_input: bool,
}

impl Convolution {
    /// Cuts the impulse response `channels` (1, 2 or 4 of them, all of one length) into the
    /// direct head and the levels, scales them by `scale` (the normalization, or 1),
    /// transforms them and schedules the levels' work. Control thread only (allocates and
    /// plans FFTs).
    pub fn new<C: AsRef<[f32]>>(channels: &[C], scale: f64) -> Self {
        debug_assert!(
            matches!(channels.len(), 1 | 2 | 4),
            "a convolver response has 1, 2 or 4 channels"
        );
        let ir_channels = channels.len();
        let length = channels.first().map_or(0, |c| c.as_ref().len());
        let mut direct = vec![0.0f32; ir_channels * BLOCK];
        let direct_len = length.min(BLOCK);
        for (c, data) in channels.iter().enumerate() {
            let data = data.as_ref();
            for (d, &s) in direct[c * BLOCK..].iter_mut().zip(&data[..direct_len]) {
                *d = (f64::from(s) * scale) as f32;
            }
        }
        let paths: Vec<(usize, usize, usize)> = (0..2)
            .flat_map(|out| {
                paths(ir_channels, out)
                    .into_iter()
                    .filter(|&(input, _)| input < 2)
                    .map(move |(input, ir)| (out, input, ir))
            })
            .collect();
        let shapes = level::choose(length, paths.len());
        let mut planner = RealFftPlanner::<f32>::new();
        let mut load = vec![level::DIRECT_COST * paths.len() as f64];
        let levels: Box<[Level]> = shapes
            .iter()
            .map(|&shape| {
                // Per output, per path, the oldest partitions first: partition 0 (which waits
                // for the newest input spectrum) comes late in the level's schedule.
                let products: Vec<Product> = paths
                    .iter()
                    .flat_map(|&(out, input, ir)| {
                        (0..shape.partitions).rev().map(move |partition| Product {
                            out,
                            input,
                            ir,
                            partition,
                        })
                    })
                    .collect();
                Level::new(shape, channels, scale, &products, &mut planner, &mut load)
            })
            .collect();
        let tail_quanta = length.div_ceil(BLOCK).max(1) + 1;
        let flush_quanta = levels
            .iter()
            .map(Level::flush_quanta)
            .fold(tail_quanta, usize::max);
        Self {
            direct: direct.into_boxed_slice(),
            direct_len,
            ir_channels,
            input: InputRing::new(shapes.last().map_or(BLOCK, |s| s.block)),
            levels,
            history: [[0.0; 2 * BLOCK]; 2],
            quantum: 0,
            mono_since: 0,
            silent_quanta: usize::MAX,
            tail_quanta,
            flush_quanta,
            mono_input: true,
        }
    }

    /// The block lengths of the levels after the direct head, shortest first, with their
    /// partition counts (for tests and benchmarks).
    pub fn levels(&self) -> Vec<(usize, usize)> {
        self.levels
            .iter()
            .map(|l| (l.shape().block, l.shape().partitions))
            .collect()
    }

    /// Pushes one quantum of input (`left`, `right`; `mono`: they are the same channel) and
    /// does this quantum's share of every level's work. Called on the real-time thread.
    fn push(&mut self, inputs: [&[f32; BLOCK]; 2], mono: bool) {
        let frame = self.quantum * BLOCK as u64;
        self.quantum += 1;
        if !mono {
            self.mono_since = self.quantum * BLOCK as u64;
        }
        for (c, input) in inputs.into_iter().enumerate() {
            let history = &mut self.history[c];
            history.copy_within(BLOCK.., 0);
            history[BLOCK..].copy_from_slice(input);
            self.input.write(c, frame, input);
        }
        for level in &mut self.levels {
            level.run(self.quantum, &self.input, self.mono_since);
        }
    }

    /// Renders output channel `out` into `dst`. Called on the real-time thread.
    fn render(&self, out: usize, dst: &mut [f32; BLOCK]) {
        dst.fill(0.0);
        for (input, ir) in paths(self.ir_channels, out) {
            if input > 1 {
                continue;
            }
            let taps = &self.direct[ir * BLOCK..ir * BLOCK + self.direct_len];
            let z = &self.history[input];
            // y[i] = Σ h[m] x[i − m], x[i − m] at z[BLOCK + i − m]: one tap at a time over the
            // whole quantum (vectorizes).
            for (m, &h) in taps.iter().enumerate() {
                for (d, &x) in dst.iter_mut().zip(&z[BLOCK - m..2 * BLOCK - m]) {
                    *d += h * x;
                }
            }
        }
        for level in &self.levels {
            level.add_output(self.quantum, out, dst);
        }
    }
}

/// The `(input channel, IR channel)` pairs summed into output channel `out` (0 or 1) for a
/// response of `ir_channels` channels; an input channel of `usize::MAX` is no pair.
fn paths(ir_channels: usize, out: usize) -> [(usize, usize); 2] {
    match (ir_channels, out) {
        (4, 0) => [(0, 0), (1, 2)],
        (4, _) => [(0, 1), (1, 3)],
        (_, 0) => [(0, 0), (usize::MAX, 0)],
        (n, _) => [(1, n.min(2) - 1), (usize::MAX, 0)],
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
            // Once every level has flushed, the state is all zeros: no work until the input
            // returns (the levels resume at whatever phase they stopped).
            if conv.silent_quanta > conv.flush_quanta {
                output.make_silent(1);
                return ProcessStatus::Active;
            }
        } else {
            conv.silent_quanta = 0;
            conv.mono_input = input.channels() == 1;
        }
        const ZERO: [f32; BLOCK] = [0.0; BLOCK];
        let silent = input.is_silent();
        let left = if silent { &ZERO } else { input.channel(0) };
        let right = if silent {
            &ZERO
        } else if input.channels() >= 2 {
            input.channel(1)
        } else {
            left
        };
        conv.push([left, right], silent || input.channels() == 1);
        // Past the response (its length rounded up to a quantum) only FFT round-off is left
        // while the levels flush: the output is silent.
        if conv.silent_quanta > conv.tail_quanta {
            output.make_silent(1);
            return ProcessStatus::Active;
        }
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
