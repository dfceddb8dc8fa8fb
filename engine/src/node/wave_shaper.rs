//! `WaveShaperNode`'s render side: a memoryless non-linearity given by a curve, optionally oversampled.
//!
//! - **Curve** (spec): for an input `x` and a curve `c` of `N` values,
//!   `v = (N − 1)/2 · (x + 1)`, `k = ⌊v⌋`, `f = v − k`, and the output is `c₀` when `v < 0`,
//!   `c_{N−1}` when `v ≥ N − 1`, else `(1 − f)·c_k + f·c_{k+1}`. It is evaluated in `f64` and
//!   rounded to `f32` once. Without a curve the node is a wire. A curve whose value at 0 is not
//!   0 makes the node output a constant even with nothing connected, as the spec notes.
//! - **Oversampling**: the spec leaves the filters open; these are Blink's, so that a graph
//!   sounds (and measures) as in Chromium. `2x`: the input is up-sampled by a 128-tap
//!   Blackman-windowed sinc interpolator (even output frames are the input delayed by 64 frames,
//!   odd ones are interpolated half-way), the curve is applied, and a 256-tap Blackman-windowed
//!   half-band filter (127 non-zero odd taps plus the centre tap ½) takes it back down. `4x`
//!   runs a second such up/down pair inside the first. Neither compensates its latency: `2x`
//!   delays the signal by 128 frames, `4x` by 192, as in Chromium.
//! - All filter state is allocated on the control thread for the 32 channels an input may
//!   carry. As in Blink, the resamplers are created once and kept when `oversample` changes
//!   (the ×2 pair is the outer stage of `4x` too, so `4x` → `2x` continues seamlessly);
//!   freshly zeroed state is taken only when there was none, and whatever is not used, like
//!   the previous curve, comes back to be freed off the render thread.

use serde::{Deserialize, Serialize};

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;
use crate::render::bus::{MAX_CHANNELS, RENDER_QUANTUM};

/// The spec's `OverSampleType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum OverSampleType {
    /// `"none"`: the curve is applied to the input samples directly.
    #[default]
    None,
    /// `"2x"`: up-sample ×2, apply the curve, down-sample.
    X2,
    /// `"4x"`: up-sample ×4, apply the curve, down-sample.
    X4,
}

/// The spec's curve formula: the output for input `x` through `curve` (at least 2 values;
/// an empty curve gives 0 and a one-value curve that value).
pub fn apply_curve(curve: &[f32], x: f32) -> f32 {
    let Some(last) = curve.len().checked_sub(1) else {
        return 0.0;
    };
    let v = last as f64 * 0.5 * (f64::from(x) + 1.0);
    if v < 0.0 {
        return curve[0];
    }
    if v >= last as f64 {
        return curve[last];
    }
    // 0 ≤ v < N − 1 here, so k + 1 ≤ N − 1 (a NaN input reads k = 0 and gives NaN).
    let k = v as usize;
    let f = v - k as f64;
    let (a, b) = (
        curve.get(k).copied().unwrap_or(0.0),
        curve.get(k + 1).copied().unwrap_or(0.0),
    );
    ((1.0 - f) * f64::from(a) + f * f64::from(b)) as f32
}

/// New attributes for a running [`WaveShaperProcessor`] (built on the control thread, where it
/// allocates); what it replaces travels back in the same message to be freed there.
pub struct WaveShaperUpdate {
    curve: Option<Box<[f32]>>,
    zero_output: f32,
    oversample: OverSampleType,
    /// Fresh (zeroed) resampler state when oversampling.
    bank: Option<Box<OversamplerBank>>,
}

impl WaveShaperUpdate {
    /// The message for `curve` (`None`: a wire; a copy is kept) and `oversample`, with fresh
    /// resampler state when oversampling (allocates).
    pub fn new(curve: Option<&[f32]>, oversample: OverSampleType) -> Self {
        let curve = curve.map(Box::<[f32]>::from);
        Self {
            zero_output: curve.as_deref().map_or(0.0, |c| apply_curve(c, 0.0)),
            curve,
            oversample,
            bank: (oversample != OverSampleType::None).then(OversamplerBank::new),
        }
    }
}

// --- Blink's resampling filters ---------------------------------------------------------------

/// Taps of the up-sampler's interpolation kernel.
const UP_TAPS: usize = 128;
/// Taps of the down-sampler's half-band kernel (of which the odd ones and the centre are
/// non-zero).
const DOWN_TAPS: usize = 256;
/// Non-zero odd taps of the half-band kernel.
const DOWN_ODD_TAPS: usize = DOWN_TAPS / 2;

/// Blackman window (α = 0.16) at `x` in `[0, 1]`.
fn blackman(x: f64) -> f64 {
    let alpha = 0.16;
    let (a0, a1, a2) = (0.5 * (1.0 - alpha), 0.5, 0.5 * alpha);
    let w = 2.0 * std::f64::consts::PI * x;
    a0 - a1 * w.cos() + a2 * (2.0 * w).cos()
}

fn sinc(s: f64) -> f64 {
    if s == 0.0 { 1.0 } else { s.sin() / s }
}

/// The kernels, stored reversed so that each output is a forward dot product with the newest
/// input last.
struct Kernels {
    /// `h[q] = sinc(π(q − 63.5)) · blackman((q + 0.5)/128)`: interpolates half-way between
    /// input frames 63 and 64 frames ago; reversed.
    up: [f32; UP_TAPS],
    /// The half-band kernel's odd taps `h[2j+1] = ½ sinc(½π(2j + 1 − 128)) ·
    /// blackman((2j + 1)/256)`; reversed. The centre tap `h[128]` is ½.
    down: [f32; DOWN_ODD_TAPS],
}

impl Kernels {
    fn new() -> Self {
        let pi = std::f64::consts::PI;
        let mut up = [0.0; UP_TAPS];
        let half = (UP_TAPS / 2) as f64;
        for (q, tap) in up.iter_mut().rev().enumerate() {
            let q = q as f64;
            *tap = (sinc(pi * (q - half + 0.5)) * blackman((q + 0.5) / UP_TAPS as f64)) as f32;
        }
        let mut down = [0.0; DOWN_ODD_TAPS];
        let half = (DOWN_TAPS / 2) as f64;
        for (j, tap) in down.iter_mut().rev().enumerate() {
            let i = (2 * j + 1) as f64;
            *tap = (0.5 * sinc(0.5 * pi * (i - half)) * blackman(i / DOWN_TAPS as f64)) as f32;
        }
        Self { up, down }
    }
}

/// `Σ a[i]·b[i]` with eight partial sums (so the loop vectorizes).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// A stream's most recent `H` frames followed by the current block (up to `B` frames).
struct Window<const H: usize, const B: usize> {
    /// `H + B` frames, allocated on the control thread.
    data: Box<[f32]>,
}

impl<const H: usize, const B: usize> Default for Window<H, B> {
    fn default() -> Self {
        Self {
            data: vec![0.0; H + B].into_boxed_slice(),
        }
    }
}

impl<const H: usize, const B: usize> Window<H, B> {
    /// Appends `block` after the history; index `H + i` is then the block's frame `i`.
    fn load(&mut self, block: &[f32]) -> &[f32] {
        let n = block.len().min(B);
        self.data[H..H + n].copy_from_slice(&block[..n]);
        &self.data[..H + n]
    }

    /// Keeps the last `H` frames of the `n`-frame block just loaded as the new history.
    fn advance(&mut self, n: usize) {
        self.data.copy_within(n..n + H, 0);
    }

    /// Forgets the history (no allocation).
    fn reset(&mut self) {
        self.data.fill(0.0);
    }
}

/// Blink's ×2 up-sampler for blocks of `B` frames (output `2B` frames).
#[derive(Default)]
struct UpSampler<const B: usize> {
    input: Window<UP_TAPS, B>,
}

impl<const B: usize> UpSampler<B> {
    fn process(&mut self, kernels: &Kernels, source: &[f32], dest: &mut [f32]) {
        let n = source.len().min(B);
        let w = self.input.load(&source[..n]);
        for (i, pair) in dest.chunks_exact_mut(2).take(n).enumerate() {
            // Even frames: the input delayed by half the kernel.
            pair[0] = w[UP_TAPS + i - UP_TAPS / 2];
            // Odd frames: interpolated half-way, Σ h[q]·x[i − q].
            pair[1] = dot(&kernels.up, &w[i + 1..i + 1 + UP_TAPS]);
        }
        self.input.advance(n);
    }

    fn reset(&mut self) {
        self.input.reset();
    }
}

/// Blink's ÷2 half-band down-sampler for blocks of `2B` frames (output `B` frames).
#[derive(Default)]
struct DownSampler<const B: usize> {
    /// The input's odd frames `x[2t − 1]`.
    odd: Window<DOWN_ODD_TAPS, B>,
    /// The input's even frames `x[2t]`, for the centre tap.
    even: Window<{ DOWN_TAPS / 4 }, B>,
    /// The previous block's last frame.
    last: f32,
}

impl<const B: usize> DownSampler<B> {
    fn process(&mut self, kernels: &Kernels, source: &[f32], dest: &mut [f32]) {
        let n = (source.len() / 2).min(B).min(dest.len());
        let (mut odd, mut even) = ([0.0f32; 512], [0.0f32; 512]);
        let mut previous = self.last;
        for (t, pair) in source.chunks_exact(2).take(n).enumerate() {
            odd[t] = previous;
            even[t] = pair[0];
            previous = pair[1];
        }
        self.last = previous;
        let o = self.odd.load(&odd[..n]);
        let e = self.even.load(&even[..n]);
        for (i, out) in dest[..n].iter_mut().enumerate() {
            // Σ h[2j+1]·x[2i − 2j − 1] + ½·x[2i − 128].
            *out = dot(&kernels.down, &o[i + 1..i + 1 + DOWN_ODD_TAPS]) + 0.5 * e[i];
        }
        self.odd.advance(n);
        self.even.advance(n);
    }

    fn reset(&mut self) {
        self.odd.reset();
        self.even.reset();
        self.last = 0.0;
    }
}

/// One channel's resamplers: ×2 around the curve, and a second ×2 inside it for `4x`.
#[derive(Default)]
struct Oversampler {
    up1: UpSampler<RENDER_QUANTUM>,
    up2: UpSampler<{ 2 * RENDER_QUANTUM }>,
    down2: DownSampler<{ 2 * RENDER_QUANTUM }>,
    down1: DownSampler<RENDER_QUANTUM>,
}

impl Oversampler {
    fn reset(&mut self) {
        self.up1.reset();
        self.up2.reset();
        self.down2.reset();
        self.down1.reset();
    }
}

/// Every channel's resamplers.
struct OversamplerBank {
    channels: [Oversampler; MAX_CHANNELS],
}

impl OversamplerBank {
    fn new() -> Box<Self> {
        Box::new(Self {
            channels: std::array::from_fn(|_| Oversampler::default()),
        })
    }
}

// --- The processor ----------------------------------------------------------------------------

/// Silent quanta after which the resamplers hold only zeros (four, plus one to spare).
const SETTLE_QUANTA: u32 = 5;

/// The curve, applied directly or between Blink's resamplers, per channel.
pub struct WaveShaperProcessor {
    curve: Option<Box<[f32]>>,
    /// The curve's output for a zero input.
    zero_output: f32,
    oversample: OverSampleType,
    bank: Option<Box<OversamplerBank>>,
    kernels: Box<Kernels>,
    /// Channels whose filter state is live.
    channels: usize,
    /// Quanta of silent input in a row.
    silent_quanta: u32,
}

impl WaveShaperProcessor {
    /// A shaper with `curve` (`None`: a wire) and `oversample`, its resampler state zeroed
    /// (allocates).
    pub fn new(curve: Option<&[f32]>, oversample: OverSampleType) -> Self {
        let update = WaveShaperUpdate::new(curve, oversample);
        Self {
            zero_output: update.zero_output,
            curve: update.curve,
            oversample: update.oversample,
            bank: update.bank,
            kernels: Box::new(Kernels::new()),
            channels: 0,
            silent_quanta: 0,
        }
    }

    fn shape_in_place(curve: &[f32], samples: &mut [f32]) {
        for s in samples {
            *s = apply_curve(curve, *s);
        }
    }
}

impl AudioProcessor for WaveShaperProcessor {
    type Params = NoParams;
    type Message = WaveShaperUpdate;

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let (Some(input), Some(output)) = (io.inputs.first(), io.outputs.first_mut()) else {
            return ProcessStatus::Active;
        };
        let channels = input.channels().min(MAX_CHANNELS);
        let Some(curve) = self.curve.as_deref() else {
            output.copy_from(input);
            return ProcessStatus::Active;
        };
        if let Some(bank) = self.bank.as_deref_mut()
            && channels > self.channels
        {
            for o in &mut bank.channels[self.channels..channels] {
                o.reset();
            }
        }
        self.channels = channels;
        self.silent_quanta = if input.is_silent() {
            self.silent_quanta.saturating_add(1)
        } else {
            0
        };
        if input.is_silent() {
            // Without oversampling a silent quantum is the curve's value at 0, exactly. With
            // it, the four resamplers remember at most 128 + 64 + 64 + 128 input frames: after
            // four quanta of zeros through a curve that maps 0 to 0 they hold only zeros and
            // output exact silence, so the work can be skipped (and resumed exactly).
            let settled = match self.oversample {
                OverSampleType::None => true,
                _ => self.zero_output == 0.0 && self.silent_quanta > SETTLE_QUANTA,
            };
            if settled {
                if self.zero_output == 0.0 {
                    output.make_silent(channels);
                } else {
                    output.set_channels(channels);
                    for out in output.channels_mut() {
                        out.fill(self.zero_output);
                    }
                }
                return ProcessStatus::Active;
            }
        }
        output.set_channels(channels);
        let kernels = &*self.kernels;
        for (c, (out, inp)) in output
            .channels_mut()
            .iter_mut()
            .zip(input.channels_slice())
            .enumerate()
        {
            let bank = self.bank.as_deref_mut();
            match (self.oversample, bank.and_then(|b| b.channels.get_mut(c))) {
                (OverSampleType::X2, Some(o)) => {
                    let mut x2 = [0.0f32; 2 * RENDER_QUANTUM];
                    o.up1.process(kernels, inp, &mut x2);
                    Self::shape_in_place(curve, &mut x2);
                    o.down1.process(kernels, &x2, out);
                }
                (OverSampleType::X4, Some(o)) => {
                    let mut x2 = [0.0f32; 2 * RENDER_QUANTUM];
                    let mut x4 = [0.0f32; 4 * RENDER_QUANTUM];
                    o.up1.process(kernels, inp, &mut x2);
                    o.up2.process(kernels, &x2, &mut x4);
                    Self::shape_in_place(curve, &mut x4);
                    o.down2.process(kernels, &x4, &mut x2);
                    o.down1.process(kernels, &x2, out);
                }
                _ => {
                    out.copy_from_slice(inp);
                    Self::shape_in_place(curve, out);
                }
            }
        }
        ProcessStatus::Active
    }

    fn update(&mut self, update: &mut WaveShaperUpdate) {
        std::mem::swap(&mut self.curve, &mut update.curve);
        self.zero_output = update.zero_output;
        if update.oversample != self.oversample {
            self.oversample = update.oversample;
            // Like Blink, the resamplers are created once and kept across changes: the ×2
            // pair is the outer stage of `4x` too, so `4x` → `2x` goes on without a gap (fresh
            // state would output ~170 frames of near-silence). Fresh state only when there
            // was none; an unused one goes back in the message to be freed.
            if self.bank.is_none() && update.bank.is_some() {
                std::mem::swap(&mut self.bank, &mut update.bank);
                self.channels = MAX_CHANNELS;
            }
            self.silent_quanta = 0;
        }
    }
}
