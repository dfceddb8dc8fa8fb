//! `WaveShaperNode`: a memoryless non-linearity given by a curve, optionally oversampled.
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
//!   carry; switching `oversample` sends freshly zeroed state (Blink resets its resamplers
//!   too), and the previous curve and state come back to be freed off the render thread.

use bevy::prelude::*;

use webaudio_engine::node::wave_shaper::{WaveShaperProcessor, WaveShaperUpdate};
use webaudio_engine::param::NoParams;

pub use webaudio_engine::node::wave_shaper::OverSampleType;

use super::{AudioNode, BuildContext, ChannelConfig, MessageOf, NodeShape};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// The spec's `WaveShaperNode`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// // A soft clipper, oversampled four times.
/// let curve: Vec<f32> = (0..1025)
///     .map(|i| (3.0 * (i as f32 / 512.0 - 1.0)).tanh())
///     .collect();
/// let shaper = WaveShaperNode::new(Some(&curve), OverSampleType::X4)?;
/// assert_eq!(shaper.curve().map(<[f32]>::len), Some(1025));
/// assert_eq!(WaveShaperNode::apply_curve(&[-1.0, 0.0, 1.0], 0.5), 0.5);
/// // Curves shorter than 2 values are an InvalidStateError.
/// assert!(WaveShaperNode::new(Some(&[1.0]), OverSampleType::None).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Default, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct WaveShaperNode {
    curve: Option<Vec<f32>>,
    /// The spec's `[[curve set]]`: a curve was given once.
    curve_set: bool,
    /// `oversample`; changing it resets the resampling filters.
    pub oversample: OverSampleType,
}

impl WaveShaperNode {
    /// `new WaveShaperNode(ctx, { curve, oversample })`.
    ///
    /// # Errors
    /// As [`WaveShaperNode::set_curve`]: `InvalidStateError` when `curve` has fewer than 2
    /// values, `RangeError` for a non-finite value.
    pub fn new(curve: Option<&[f32]>, oversample: OverSampleType) -> Result<Self, WebAudioError> {
        let mut node = Self {
            oversample,
            ..Self::default()
        };
        node.set_curve(curve)?;
        Ok(node)
    }

    /// The curve (`None`: the node is a wire).
    pub fn curve(&self) -> Option<&[f32]> {
        self.curve.as_deref()
    }

    /// Sets the `curve` attribute (a copy is kept), as the spec's setter does.
    ///
    /// # Errors
    /// `InvalidStateError` when the curve has fewer than 2 values, or when a curve was already
    /// set (the spec's `[[curve set]]`; setting `None` is always allowed); `RangeError` for a
    /// non-finite value (the constructor's `sequence<float>` raises WebIDL's `TypeError`; the
    /// attribute's `Float32Array` would take NaN and output it, which this crate refuses).
    pub fn set_curve(&mut self, curve: Option<&[f32]>) -> Result<&mut Self, WebAudioError> {
        if let Some(curve) = curve {
            if curve.len() < 2 {
                return Err(WebAudioError::InvalidState(format!(
                    "a WaveShaperNode curve needs at least 2 values, got {}",
                    curve.len()
                )));
            }
            if self.curve_set {
                return Err(WebAudioError::InvalidState(
                    "the WaveShaperNode curve was already set".into(),
                ));
            }
            if let Some(v) = curve.iter().find(|v| !v.is_finite()) {
                return Err(WebAudioError::Range(format!(
                    "WaveShaperNode curve values must be finite, got {v}"
                )));
            }
            self.curve_set = true;
        }
        self.curve = curve.map(<[f32]>::to_vec);
        Ok(self)
    }

    /// Builder form of setting [`oversample`](Self::oversample).
    pub fn with_oversample(mut self, oversample: OverSampleType) -> Self {
        self.oversample = oversample;
        self
    }

    /// The spec's curve formula: the output for input `x` through `curve` (at least 2 values;
    /// an empty curve gives 0 and a one-value curve that value).
    pub fn apply_curve(curve: &[f32], x: f32) -> f32 {
        webaudio_engine::node::wave_shaper::apply_curve(curve, x)
    }
}

impl AudioNode for WaveShaperNode {
    type Processor = WaveShaperProcessor;
    type Attributes = (Option<Vec<f32>>, OverSampleType);
    const NAME: &'static str = "WaveShaperNode";

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: 1,
            is_delay: false,
        }
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) -> Self::Attributes {
        (self.curve.clone(), self.oversample)
    }

    fn build_processor(&self, _ctx: &mut BuildContext) -> WaveShaperProcessor {
        WaveShaperProcessor::new(self.curve.as_deref(), self.oversample)
    }

    fn attributes_message(&self, _ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(WaveShaperUpdate::new(
            self.curve.as_deref(),
            self.oversample,
        ))
    }
}
