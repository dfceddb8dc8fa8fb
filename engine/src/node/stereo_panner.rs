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
        let params = io.params;
        let pan_at = |i: usize| params.at(StereoPannerParam::Pan, i);
        output.set_channels(2);
        let [left, right] = output.channels_mut() else {
            return ProcessStatus::Active;
        };
        let mut memo = GainMemo::new();
        if input.channels() == 1 {
            let mono = input.channel(0);
            for i in 0..mono.len() {
                let (gl, gr) = memo.get(pan_at(i), |p| equal_power((p + 1.0) / 2.0));
                left[i] = mono[i] * gl;
                right[i] = mono[i] * gr;
            }
        } else {
            let (in_l, in_r) = (input.channel(0), input.channel(1));
            for i in 0..in_l.len() {
                let p = pan_at(i);
                let (gl, gr) = memo.get(p, |p| equal_power(if p <= 0.0 { p + 1.0 } else { p }));
                if p <= 0.0 {
                    left[i] = in_l[i] + in_r[i] * gl;
                    right[i] = in_r[i] * gr;
                } else {
                    left[i] = in_l[i] * gl;
                    right[i] = in_r[i] + in_l[i] * gr;
                }
            }
        }
        ProcessStatus::Active
    }
}
