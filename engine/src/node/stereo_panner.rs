//! `StereoPannerNode`'s render side: its `pan` param and the spec's equal-power stereo panning
//! of a mono or stereo input.

use std::f32::consts::FRAC_PI_2;

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{ParamDescriptor, ParamId};

node_params! {
    /// `StereoPannerNode`'s params.
    pub enum StereoPannerParam {
        /// `pan`: a-rate, default 0, nominal range −1..=1.
        Pan = (ParamId::Pan, ParamDescriptor::a_rate(0.0, -1.0, 1.0)),
    }
}

/// Pans a mono or stereo input to a stereo output by `pan`.
pub struct StereoPannerProcessor;

impl StereoPannerProcessor {
    /// A stereo panner (it has no state).
    pub fn new() -> Self {
        Self
    }
}

impl Default for StereoPannerProcessor {
    fn default() -> Self {
        Self::new()
    }
}

/// The spec's gains for one sample: `(gainL, gainR)` of `x` in 0..=1.
fn equal_power(x: f32) -> (f32, f32) {
    ((x * FRAC_PI_2).cos(), (x * FRAC_PI_2).sin())
}

/// The gains of the last pan value, so a constant (or k-rate) pan costs one `cos`/`sin` pair
/// per quantum instead of one per sample.
struct GainMemo {
    pan: Option<f32>,
    gains: (f32, f32),
}

impl GainMemo {
    const fn new() -> Self {
        Self {
            pan: None,
            gains: (0.0, 0.0),
        }
    }

    /// `gains(pan)`, recomputed only when `pan` differs from the previous call's.
    fn get(&mut self, pan: f32, gains: impl Fn(f32) -> (f32, f32)) -> (f32, f32) {
        if self.pan.is_none_or(|p| p.to_bits() != pan.to_bits()) {
            self.pan = Some(pan);
            self.gains = gains(pan);
        }
        self.gains
    }
}

/// Pans a mono input: `gains(i)` is sample `i`'s `(gainL, gainR)`.
#[inline(always)]
fn pan_mono(
    mono: &[f32],
    left: &mut [f32],
    right: &mut [f32],
    mut gains: impl FnMut(usize) -> (f32, f32),
) {
    for (i, ((&x, l), r)) in mono
        .iter()
        .zip(left.iter_mut())
        .zip(right.iter_mut())
        .enumerate()
    {
        let (gl, gr) = gains(i);
        *l = x * gl;
        *r = x * gr;
    }
}

/// Pans a stereo input `(left, right)`: `pan(i)` is sample `i`'s pan value and its gains.
#[inline(always)]
fn pan_stereo(
    (in_l, in_r): (&[f32], &[f32]),
    left: &mut [f32],
    right: &mut [f32],
    mut pan: impl FnMut(usize) -> (f32, (f32, f32)),
) {
    let frames = in_l
        .iter()
        .zip(in_r)
        .zip(left.iter_mut().zip(right.iter_mut()));
    for (i, ((&xl, &xr), (l, r))) in frames.enumerate() {
        let (p, (gl, gr)) = pan(i);
        if p <= 0.0 {
            *l = xl + xr * gl;
            *r = xr * gr;
        } else {
            *l = xl * gl;
            *r = xr + xl * gr;
        }
    }
}

impl AudioProcessor for StereoPannerProcessor {
    type Params = StereoPannerParam;
    type Message = ();

    fn skips_params(&self, _: &ProcessContext, inputs_silent: bool) -> bool {
        // A silent input gives a silent output without reading the param.
        inputs_silent
    }

    fn process(
        &mut self,
        io: ProcessIo<'_, StereoPannerParam>,
        _: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let input = &io.inputs[0];
        let output = &mut io.outputs[0];
        if input.is_silent() {
            output.make_silent(2);
            return ProcessStatus::Active;
        }
        output.set_channels(2);
        let [left, right] = output.channels_mut() else {
            return ProcessStatus::Active;
        };
        let params = io.params;
        let pan_at = |i: usize| params.at(StereoPannerParam::Pan, i);
        let constant = match params.get(StereoPannerParam::Pan) {
            [p] => Some(*p),
            _ => None,
        };
        let mut memo = GainMemo::new();
        // A constant pan takes one gain pair for the quantum and a loop that vectorizes.
        if input.channels() == 1 {
            let gains = |p: f32| equal_power((p + 1.0) / 2.0);
            let mono = input.channel(0);
            match constant {
                Some(p) => {
                    let g = gains(p);
                    pan_mono(mono, left, right, |_| g);
                }
                None => pan_mono(mono, left, right, |i| memo.get(pan_at(i), gains)),
            }
        } else {
            let gains = |p: f32| equal_power(if p <= 0.0 { p + 1.0 } else { p });
            let inputs: (&[f32], &[f32]) = (input.channel(0), input.channel(1));
            match constant {
                Some(p) => {
                    let g = (p, gains(p));
                    pan_stereo(inputs, left, right, |_| g);
                }
                None => pan_stereo(inputs, left, right, |i| {
                    let p = pan_at(i);
                    (p, memo.get(p, gains))
                }),
            }
        }
        ProcessStatus::Active
    }
}
