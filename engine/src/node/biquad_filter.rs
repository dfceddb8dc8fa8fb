//! `BiquadFilterNode`'s render side: its params, its type, and the spec's eight second-order filters, with coefficients exactly from
//! its "Filters Characteristics" section (the Audio EQ Cookbook formulas).
//!
//! - `frequency`, `detune`, `Q`, `gain` are a-rate; `computedFrequency = frequency ×
//!   2^(detune / 1200)`. When every param is constant over a render quantum the coefficients
//!   are computed once for it (and kept for the next quanta while the params and the type
//!   stay); when any is automated (or driven by audio) they are computed for every sample.
//! - The limits where the formulas degenerate (frequency 0 or Nyquist, `Q` ≤ 0 for the types
//!   using `α_Q`) take the formulas' limiting values, as the browsers do: e.g. a lowpass at
//!   Nyquist is a wire, a bandpass at 0 Hz is silence, a peaking filter with `Q` = 0 is the
//!   gain `A²`.
//! - The difference equation runs in `f64` (state and coefficients) with the output rounded to
//!   `f32` per sample, as Blink does; the tail after the input goes silent is rendered until
//!   the state decays to zero (denormals are flushed).
//! - Changing `type` clears the state (`x1, x2, y1, y2`), as the browsers do; the spec leaves
//!   it open. Param changes keep it.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{NodeParams, ParamDescriptor, ParamId};
use crate::render::bus::{MAX_CHANNELS, RENDER_QUANTUM};

/// The spec's `BiquadFilterType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum BiquadFilterType {
    /// 12 dB/octave low-pass; `Q` (in dB) is the resonance.
    #[default]
    Lowpass,
    /// 12 dB/octave high-pass; `Q` (in dB) is the resonance.
    Highpass,
    /// Band-pass around `frequency`, width from `Q`.
    Bandpass,
    /// Low shelf: `gain` dB below `frequency`.
    Lowshelf,
    /// High shelf: `gain` dB above `frequency`.
    Highshelf,
    /// Peaking: `gain` dB around `frequency`, width from `Q`.
    Peaking,
    /// Notch (band-stop) at `frequency`, width from `Q`.
    Notch,
    /// All-pass: phase change around `frequency`, width from `Q`.
    Allpass,
}

impl BiquadFilterType {
    /// Every type.
    pub const ALL: [Self; 8] = [
        Self::Lowpass,
        Self::Highpass,
        Self::Bandpass,
        Self::Lowshelf,
        Self::Highshelf,
        Self::Peaking,
        Self::Notch,
        Self::Allpass,
    ];
}

node_params! {
    /// `BiquadFilterNode`'s params.
    pub enum BiquadFilterParam {
        /// `frequency` in Hz: a-rate, default 350, nominal range 0..=Nyquist.
        Frequency = (ParamId::Frequency, ParamDescriptor::a_rate(350.0, 0.0, 1.0).nyquist()),
        /// `detune` in cents: a-rate, default 0, nominal range ±153600 (1200 × log2 of the
        /// most-positive-single-float).
        Detune = (ParamId::Detune, ParamDescriptor::a_rate(0.0, -153_600.0, 153_600.0)),
        /// `Q`: a-rate, default 1 (in dB for lowpass and highpass), nominal range ±3.4e38.
        Q = (ParamId::Q, ParamDescriptor::a_rate(1.0, -ParamDescriptor::MAX, ParamDescriptor::MAX)),
        /// `gain` in dB: a-rate, default 0, at most ≈1541 (40 × log10 of the
        /// most-positive-single-float).
        Gain = (ParamId::Gain, ParamDescriptor::a_rate(0.0, -ParamDescriptor::MAX, 1_541.273_6)),
    }
}

/// Normalized coefficients `[b0, b1, b2, a1, a2]` (divided by `a0`).
pub type Coefficients = [f64; 5];

const WIRE: Coefficients = [1.0, 0.0, 0.0, 0.0, 0.0];

fn gain_only(g: f64) -> Coefficients {
    [g, 0.0, 0.0, 0.0, 0.0]
}

fn normalize(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Coefficients {
    let inv = 1.0 / a0;
    [b0 * inv, b1 * inv, b2 * inv, a1 * inv, a2 * inv]
}

/// The powers of ten the formulas take from `Q` and `gain`: `A = 10^(gain/40)` and
/// `10^(Q/20)` (the lowpass and highpass resonance). Computed once per quantum for params
/// that are constant over it, once per sample otherwise.
#[derive(Clone, Copy, Debug)]
struct Powers {
    a: f64,
    q_linear: f64,
}

impl Powers {
    fn new(q: f64, gain_db: f64) -> Self {
        Self {
            a: 10f64.powf(gain_db / 40.0),
            q_linear: 10f64.powf(q / 20.0),
        }
    }
}

/// The spec's coefficients for `kind` at `normalized` = computedFrequency / Nyquist (so
/// `ω0 = π × normalized`), `q` and `gain_db`, with the formulas' limits at the edges.
pub fn coefficients(kind: BiquadFilterType, normalized: f64, q: f64, gain_db: f64) -> Coefficients {
    coefficients_with(kind, normalized, q, Powers::new(q, gain_db))
}

/// [`coefficients`] with the powers of `q` and `gain_db` given.
fn coefficients_with(kind: BiquadFilterType, normalized: f64, q: f64, p: Powers) -> Coefficients {
    use BiquadFilterType as T;
    let f = if normalized.is_nan() {
        0.0
    } else {
        normalized.clamp(0.0, 1.0)
    };
    let a = p.a;
    let w0 = PI * f;
    let (sin, cos) = w0.sin_cos();
    match kind {
        T::Lowpass | T::Highpass => {
            let low = kind == T::Lowpass;
            if f == 1.0 {
                return if low { WIRE } else { gain_only(0.0) };
            }
            if f == 0.0 {
                return if low { gain_only(0.0) } else { WIRE };
            }
            let alpha = sin / (2.0 * p.q_linear);
            let (b0, b1) = if low {
                ((1.0 - cos) / 2.0, 1.0 - cos)
            } else {
                ((1.0 + cos) / 2.0, -(1.0 + cos))
            };
            normalize(b0, b1, b0, 1.0 + alpha, -2.0 * cos, 1.0 - alpha)
        }
        T::Lowshelf | T::Highshelf => {
            let low = kind == T::Lowshelf;
            if f == 1.0 {
                return if low { gain_only(a * a) } else { WIRE };
            }
            if f == 0.0 {
                return if low { WIRE } else { gain_only(a * a) };
            }
            // α_S = sin ω0 / 2 · √((A + 1/A)(1/S − 1) + 2) with the slope S = 1.
            let slope = 1.0;
            let alpha_s = sin / 2.0 * ((a + 1.0 / a) * (1.0 / slope - 1.0) + 2.0).sqrt();
            let k2 = 2.0 * alpha_s * a.sqrt();
            let (ap, am) = (a + 1.0, a - 1.0);
            if low {
                normalize(
                    a * (ap - am * cos + k2),
                    2.0 * a * (am - ap * cos),
                    a * (ap - am * cos - k2),
                    ap + am * cos + k2,
                    -2.0 * (am + ap * cos),
                    ap + am * cos - k2,
                )
            } else {
                normalize(
                    a * (ap + am * cos + k2),
                    -2.0 * a * (am + ap * cos),
                    a * (ap + am * cos - k2),
                    ap - am * cos + k2,
                    2.0 * (am - ap * cos),
                    ap - am * cos - k2,
                )
            }
        }
        T::Bandpass | T::Notch | T::Allpass | T::Peaking => {
            let q = if q.is_nan() { 0.0 } else { q.max(0.0) };
            if f == 0.0 || f == 1.0 {
                return if kind == T::Bandpass {
                    gain_only(0.0)
                } else {
                    WIRE
                };
            }
            if q == 0.0 {
                return match kind {
                    T::Bandpass => WIRE,
                    T::Notch => gain_only(0.0),
                    T::Allpass => gain_only(-1.0),
                    _ => gain_only(a * a),
                };
            }
            let alpha = sin / (2.0 * q);
            let (a0, a1, a2) = (1.0 + alpha, -2.0 * cos, 1.0 - alpha);
            match kind {
                T::Bandpass => normalize(alpha, 0.0, -alpha, a0, a1, a2),
                T::Notch => normalize(1.0, -2.0 * cos, 1.0, a0, a1, a2),
                T::Allpass => normalize(1.0 - alpha, -2.0 * cos, 1.0 + alpha, a0, a1, a2),
                _ => normalize(
                    1.0 + alpha * a,
                    -2.0 * cos,
                    1.0 - alpha * a,
                    1.0 + alpha / a,
                    -2.0 * cos,
                    1.0 - alpha / a,
                ),
            }
        }
    }
}

/// The coefficients `getFrequencyResponse` uses: those of `kind` at the params' intrinsic
/// values (`frequency` clamped to its nominal range at `sample_rate`, `gain` to its maximum),
/// with `computedFrequency = frequency × 2^(detune / 1200)`.
pub fn intrinsic_coefficients(
    kind: BiquadFilterType,
    sample_rate: f32,
    frequency: f32,
    detune: f32,
    q: f32,
    gain: f32,
) -> Coefficients {
    let nyquist = f64::from(sample_rate) / 2.0;
    let (lo, hi) = BiquadFilterParam::Frequency
        .descriptor()
        .range_at(sample_rate);
    let f0 = f64::from(frequency.clamp(lo, hi)) * (f64::from(detune) / 1200.0).exp2();
    coefficients(
        kind,
        f0 / nyquist,
        f64::from(q),
        f64::from(gain.min(BiquadFilterParam::Gain.descriptor().max_value)),
    )
}

/// `(|H|, arg H)` of coefficients `c` at `normalized` = f / Nyquist, `H(z) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ +
/// a2 z⁻²)`.
pub fn response(c: &Coefficients, normalized: f64) -> (f64, f64) {
    let [b0, b1, b2, a1, a2] = *c;
    let w = -PI * normalized;
    let (zr, zi) = (w.cos(), w.sin()); // z⁻¹
    let (z2r, z2i) = (zr * zr - zi * zi, 2.0 * zr * zi); // z⁻²
    let (nr, ni) = (b0 + b1 * zr + b2 * z2r, b1 * zi + b2 * z2i);
    let (dr, di) = (1.0 + a1 * zr + a2 * z2r, a1 * zi + a2 * z2i);
    let den = dr * dr + di * di;
    let (hr, hi) = ((nr * dr + ni * di) / den, (ni * dr - nr * di) / den);
    (hr.hypot(hi), hi.atan2(hr))
}

/// The biquad's difference equation per channel, with coefficients from the params each
/// quantum (or each sample when they are automated).
pub struct BiquadFilterProcessor {
    kind: BiquadFilterType,
    nyquist: f64,
    /// Per channel: `[x1, x2, y1, y2]`.
    state: [[f64; 4]; MAX_CHANNELS],
    /// Channels whose state is live.
    channels: usize,
    /// Coefficients per sample when the params are automated.
    per_sample: Box<[Coefficients; RENDER_QUANTUM]>,
    /// The last constant params (`frequency`, `detune`, `Q`, `gain`, bit patterns), and the
    /// type and coefficients computed from them: reused while neither changes.
    cached: Option<([u32; 4], BiquadFilterType, Coefficients)>,
}

impl BiquadFilterProcessor {
    /// A filter of `kind` with silent state, for a context at `sample_rate` Hz (allocates).
    pub fn new(kind: BiquadFilterType, sample_rate: f32) -> Self {
        Self {
            kind,
            nyquist: f64::from(sample_rate) / 2.0,
            state: [[0.0; 4]; MAX_CHANNELS],
            channels: 0,
            per_sample: Box::new([WIRE; RENDER_QUANTUM]),
            cached: None,
        }
    }
}

/// One sample of the difference equation; the output is rounded to `f32` and kept so.
#[inline]
fn step(c: &Coefficients, s: &mut [f64; 4], x: f32) -> f32 {
    let [b0, b1, b2, a1, a2] = *c;
    let x = f64::from(x);
    let y = (b0 * x + b1 * s[0] + b2 * s[1] - a1 * s[2] - a2 * s[3]) as f32;
    *s = [x, s[0], f64::from(y), s[2]];
    y
}

/// A quantum of the difference equation with constant coefficients, the state in registers.
#[inline]
fn run(
    c: &Coefficients,
    s: &mut [f64; 4],
    input: &[f32; RENDER_QUANTUM],
    out: &mut [f32; RENDER_QUANTUM],
) {
    let mut state = *s;
    for (o, &x) in out.iter_mut().zip(input) {
        *o = step(c, &mut state, x);
    }
    *s = state;
}

/// Ends a quantum's run of the difference equation: state that went non-finite (an overflowing
/// filter such as a peaking one with an enormous gain, or a NaN input) starts again from
/// silence — the spec would let it stay non-finite for good, so the filter would never recover
/// when its params come back — and denormals are flushed.
fn settle(s: &mut [f64; 4]) {
    if s.iter().any(|v| !v.is_finite()) {
        *s = [0.0; 4];
        return;
    }
    for v in s {
        if v.abs() < f64::from(f32::MIN_POSITIVE) {
            *v = 0.0;
        }
    }
}

impl AudioProcessor for BiquadFilterProcessor {
    type Params = BiquadFilterParam;
    type Message = BiquadFilterType;

    fn process(
        &mut self,
        io: ProcessIo<'_, BiquadFilterParam>,
        _: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let (Some(input), Some(output)) = (io.inputs.first(), io.outputs.first_mut()) else {
            return ProcessStatus::Active;
        };
        let channels = input.channels().min(MAX_CHANNELS);
        if channels > self.channels {
            for s in &mut self.state[self.channels..channels] {
                *s = [0.0; 4];
            }
        }
        self.channels = channels;
        let idle = self.state[..channels]
            .iter()
            .all(|s| s.iter().all(|&v| v == 0.0));
        if input.is_silent() && idle {
            output.make_silent(channels);
            return ProcessStatus::Active;
        }
        let params = io.params;
        let automated = BiquadFilterParam::ALL
            .iter()
            .any(|&p| params.get(p).len() > 1);
        let (kind, nyquist) = (self.kind, self.nyquist);
        let at = |p: BiquadFilterParam, i: usize| f64::from(params.at(p, i));
        let steady = |p: BiquadFilterParam| params.get(p).len() == 1;
        let octaves = |i: usize| (at(BiquadFilterParam::Detune, i) / 1200.0).exp2();
        let powers =
            |i: usize| Powers::new(at(BiquadFilterParam::Q, i), at(BiquadFilterParam::Gain, i));
        // What does not vary over the quantum is computed once.
        let fixed_octaves = steady(BiquadFilterParam::Detune).then(|| octaves(0));
        let fixed_powers =
            (steady(BiquadFilterParam::Q) && steady(BiquadFilterParam::Gain)).then(|| powers(0));
        let coefficients_at = |i: usize| {
            let f0 =
                at(BiquadFilterParam::Frequency, i) * fixed_octaves.unwrap_or_else(|| octaves(i));
            coefficients_with(
                kind,
                f0 / nyquist,
                at(BiquadFilterParam::Q, i),
                fixed_powers.unwrap_or_else(|| powers(i)),
            )
        };
        let constant = if automated {
            for (i, c) in self.per_sample.iter_mut().enumerate() {
                *c = coefficients_at(i);
            }
            self.per_sample[0]
        } else {
            let key: [u32; 4] =
                std::array::from_fn(|k| params.at(BiquadFilterParam::ALL[k], 0).to_bits());
            match self.cached {
                Some((k, t, c)) if k == key && t == kind => c,
                _ => {
                    let c = coefficients_at(0);
                    self.cached = Some((key, kind, c));
                    c
                }
            }
        };
        output.set_channels(channels);
        let silent_input = input.is_silent();
        for (c, out) in output.channels_mut().iter_mut().enumerate() {
            let (Some(s), Some(inp)) = (self.state.get_mut(c), input.channels_slice().get(c))
            else {
                out.fill(0.0);
                continue;
            };
            match (automated, silent_input) {
                (true, _) => {
                    for ((o, &x), c) in out.iter_mut().zip(inp).zip(self.per_sample.iter()) {
                        *o = step(c, s, if silent_input { 0.0 } else { x });
                    }
                }
                (false, true) => run(&constant, s, &[0.0; RENDER_QUANTUM], out),
                (false, false) => run(&constant, s, inp, out),
            }
            settle(s);
        }
        ProcessStatus::Active
    }

    /// A new type starts from silent state (the browsers reset the filter's memory when, and
    /// only when, the type changes; the spec leaves it open). Assigning the same type again
    /// keeps the state.
    fn update(&mut self, message: &mut BiquadFilterType) {
        if *message != self.kind {
            self.kind = *message;
            for s in &mut self.state {
                *s = [0.0; 4];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::audio_listener::ListenerValues;
    use crate::param::Params;
    use crate::render::bus::AudioBus;

    /// One quantum of `p` on `input` (frequency 1 kHz, Q 1, gain 0, detune 0).
    fn run(p: &mut BiquadFilterProcessor, input: &AudioBus) -> AudioBus {
        run_at(p, input, 1_000.0)
    }

    /// One quantum of `p` on `input` at a constant `frequency` (Q 1, gain 0, detune 0).
    fn run_at(p: &mut BiquadFilterProcessor, input: &AudioBus, frequency: f32) -> AudioBus {
        let listener = ListenerValues::default();
        let (f, d, q, g) = ([frequency], [0.0], [1.0], [0.0]);
        let values: [&[f32]; 4] = [&f, &d, &q, &g];
        let mut out = AudioBus::with_capacity(1);
        let io = ProcessIo {
            inputs: std::slice::from_ref(input),
            outputs: std::slice::from_mut(&mut out),
            params: Params::new(&values),
            listener: &listener,
        };
        let ctx = ProcessContext {
            sample_rate: 48_000.0,
            frame: 0,
        };
        p.process(io, &ctx, ProcessPhase::Whole);
        out
    }

    fn impulse_then_silence(mut message: BiquadFilterType) -> f32 {
        let mut p = BiquadFilterProcessor::new(BiquadFilterType::Lowpass, 48_000.0);
        let mut impulse = AudioBus::with_capacity(1);
        impulse.set_channels(1);
        impulse.channel_mut(0).fill(0.0);
        impulse.channel_mut(0)[RENDER_QUANTUM - 1] = 1.0;
        run(&mut p, &impulse);
        p.update(&mut message);
        let mut silence = AudioBus::with_capacity(1);
        silence.set_channels(1);
        silence.channel_mut(0).fill(0.0);
        let out = run(&mut p, &silence);
        out.channel(0).iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    /// Coefficients kept from one quantum to the next are recomputed when a param or the
    /// type changes: each quantum matches the difference equation with that quantum's
    /// coefficients, from the state the previous quanta left.
    #[test]
    fn coefficients_follow_each_quantum_params_and_type() {
        let mut p = BiquadFilterProcessor::new(BiquadFilterType::Lowpass, 48_000.0);
        let mut input = AudioBus::with_capacity(1);
        input.set_channels(1);
        for (i, x) in input.channel_mut(0).iter_mut().enumerate() {
            *x = ((i * 7 % 13) as f32 - 6.0) / 6.0;
        }
        let mut state = [0.0f64; 4];
        let mut kind = BiquadFilterType::Lowpass;
        for (quantum, frequency) in [1_000.0, 1_000.0, 3_000.0, 3_000.0, 3_000.0]
            .into_iter()
            .enumerate()
        {
            if quantum == 4 {
                // Same params, another type: the cached lowpass coefficients must not stay.
                kind = BiquadFilterType::Highpass;
                let mut message = kind;
                p.update(&mut message);
                state = [0.0; 4];
            }
            let out = run_at(&mut p, &input, frequency);
            let c = coefficients(kind, f64::from(frequency) / 24_000.0, 1.0, 0.0);
            for (i, (&got, &x)) in out.channel(0).iter().zip(input.channel(0)).enumerate() {
                let want = step(&c, &mut state, x);
                assert_eq!(got, want, "quantum {quantum}, frame {i}");
            }
        }
    }

    #[test]
    fn a_type_change_clears_the_state_and_the_same_type_keeps_it() {
        // An impulse on the last frame of a quantum leaves x1 = 1 and y1 = b0: a lowpass at
        // 1 kHz rings on into the next quantum unless the state is cleared (Blink's
        // BiquadProcessor resets its kernels when, and only when, the type changes).
        assert_eq!(impulse_then_silence(BiquadFilterType::Highpass), 0.0);
        let kept = impulse_then_silence(BiquadFilterType::Lowpass);
        assert!(kept > 1e-3, "{kept}");
    }
}
