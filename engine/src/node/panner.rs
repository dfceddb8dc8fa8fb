//! `PannerNode`'s render side: its six params, its attributes ([`PannerAttributes`]: panning
//! and distance models, cone), the spec's geometry in `f64`, and its processor.
//!
//! - **equalpower**: the spec's algorithm exactly (azimuth, elevation, distance and cone gain
//!   per sample whenever a panner or listener param is automated this quantum, once per
//!   quantum otherwise), in `f64`.
//! - **HRTF**: see [`hrtf`] — the browsers' measured set (IRCAM LISTEN "Composite", public
//!   domain, stored in the crate) and their scheme: per-ear frame delay plus FFT convolution,
//!   kernels every 1.875° of azimuth and 15° of elevation, a crossfade when the direction
//!   changes. As the spec says, its params are effectively k-rate: position and orientation
//!   are sampled at each quantum's first frame.
//! - Distance (`linear`, `inverse`, `exponential`) and cone gains follow the spec's
//!   formulas. The cone uses the listener-minus-source vector, as browsers do: the spec's
//!   pseudo-code writes `sourcePosition.diff(listenerPosition)`, which would put a source
//!   facing the listener in its *outer* cone.
//!
//! The listener is read from [`ProcessIo::listener`] (the node's
//! [`SpatialRole`](super::SpatialRole) is `Panner`, so it runs after the listener).

pub mod hrtf;

use serde::{Deserialize, Serialize};

use super::audio_listener::ListenerValues;
use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{NodeParams, ParamDescriptor, ParamId, Params};
use crate::render::bus::RENDER_QUANTUM;

const fn unbounded(default: f32) -> ParamDescriptor {
    ParamDescriptor::a_rate(default, -ParamDescriptor::MAX, ParamDescriptor::MAX)
}

node_params! {
    /// `PannerNode`'s params: position and orientation, all a-rate and unbounded.
    pub enum PannerParam {
        /// `positionX` (default 0).
        PositionX = (ParamId::PositionX, unbounded(0.0)),
        /// `positionY` (default 0).
        PositionY = (ParamId::PositionY, unbounded(0.0)),
        /// `positionZ` (default 0).
        PositionZ = (ParamId::PositionZ, unbounded(0.0)),
        /// `orientationX` (default 1).
        OrientationX = (ParamId::OrientationX, unbounded(1.0)),
        /// `orientationY` (default 0).
        OrientationY = (ParamId::OrientationY, unbounded(0.0)),
        /// `orientationZ` (default 0).
        OrientationZ = (ParamId::OrientationZ, unbounded(0.0)),
    }
}

/// `PanningModelType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum PanningModel {
    /// `"equalpower"`: the spec's equal-power panning (elevation ignored).
    #[default]
    EqualPower,
    /// `"HRTF"`: binaural rendering with interaural time and level differences.
    Hrtf,
}

/// `DistanceModelType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum DistanceModel {
    /// `1 − f·(clamp(d, d'ref, d'max) − d'ref)/(d'max − d'ref)`, `f` clamped to 0..=1.
    Linear,
    /// `dref / (dref + f·(max(d, dref) − dref))`.
    #[default]
    Inverse,
    /// `(max(d, dref)/dref)^−f`.
    Exponential,
}

/// The panner's attributes that are not params (sent to the processor when they change).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct PannerAttributes {
    /// `panningModel`.
    pub panning_model: PanningModel,
    /// `distanceModel`.
    pub distance_model: DistanceModel,
    /// `refDistance` (≥ 0).
    pub ref_distance: f64,
    /// `maxDistance` (> 0).
    pub max_distance: f64,
    /// `rolloffFactor` (≥ 0).
    pub rolloff_factor: f64,
    /// `coneInnerAngle` in degrees.
    pub cone_inner_angle: f64,
    /// `coneOuterAngle` in degrees.
    pub cone_outer_angle: f64,
    /// `coneOuterGain` (0..=1).
    pub cone_outer_gain: f64,
}

impl Default for PannerAttributes {
    fn default() -> Self {
        Self {
            panning_model: PanningModel::EqualPower,
            distance_model: DistanceModel::Inverse,
            ref_distance: 1.0,
            max_distance: 10000.0,
            rolloff_factor: 1.0,
            cone_inner_angle: 360.0,
            cone_outer_angle: 360.0,
            cone_outer_gain: 0.0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry (the spec's "Azimuth and Elevation", "Distance Effects", "Sound Cones"), in f64.

type V3 = [f64; 3];

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}
/// The unit vector, or zero for a zero vector.
fn normalize(a: V3) -> V3 {
    let n = norm(a);
    if n > 0.0 {
        [a[0] / n, a[1] / n, a[2] / n]
    } else {
        [0.0; 3]
    }
}
fn acos_deg(x: f64) -> f64 {
    x.clamp(-1.0, 1.0).acos().to_degrees()
}

/// Where a source is relative to the listener, for one sample (or one quantum).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SourceGeometry {
    /// Azimuth in degrees: 0 ahead, +90 right, −90 left, ±180 behind.
    pub azimuth: f64,
    /// Elevation in degrees: +90 above, −90 below.
    pub elevation: f64,
    /// Distance between source and listener.
    pub distance: f64,
    /// The cone gain (1 without a cone).
    pub cone_gain: f64,
}

/// The listener's orthonormal frame as the spec builds it: `right = forward × up`, then
/// `up = right × forward`, all normalized. `axes` is `None` when forward and up are parallel
/// (the spec's azimuth and elevation are then 0).
#[derive(Clone, Copy, Debug)]
struct ListenerFrame {
    position: V3,
    axes: Option<[V3; 3]>,
}

impl ListenerFrame {
    fn new(listener: [f32; 9]) -> Self {
        let v = |k: usize| -> V3 { [listener[k], listener[k + 1], listener[k + 2]].map(f64::from) };
        let (forward, up) = (v(3), v(6));
        let right = cross(forward, up);
        let axes = (norm(right) != 0.0).then(|| {
            let (right, forward) = (normalize(right), normalize(forward));
            [right, forward, cross(right, forward)]
        });
        Self {
            position: v(0),
            axes,
        }
    }
}

/// The spec's azimuth/elevation, distance and cone gain. `panner` = position then orientation;
/// `listener` = position, forward, up (as [`ListenerValues`]).
pub fn geometry(panner: [f32; 6], listener: [f32; 9], a: &PannerAttributes) -> SourceGeometry {
    let frame = ListenerFrame::new(listener);
    let (pos, to_source) = source_vector(panner, &frame);
    SourceGeometry {
        azimuth: azimuth(to_source, &frame),
        elevation: elevation(to_source, &frame),
        distance: norm(to_source),
        cone_gain: cone_gain(pos, panner_orientation(panner), frame.position, a),
    }
}

/// The source's position and the listener-to-source vector.
fn source_vector(panner: [f32; 6], frame: &ListenerFrame) -> (V3, V3) {
    let pos = [panner[0], panner[1], panner[2]].map(f64::from);
    (pos, sub(pos, frame.position))
}

fn panner_orientation(panner: [f32; 6]) -> V3 {
    [panner[3], panner[4], panner[5]].map(f64::from)
}

/// The spec's azimuth in degrees (0 ahead, +90 right, −180 behind). The spec projects the
/// source onto the listener's horizontal plane and takes `acos` against `right`, corrected by
/// the sign against `forward`; that angle is `atan2(source·right, source·forward)`, computed
/// here without the two normalizations (the panner's hottest path while positions move).
fn azimuth(to_source: V3, frame: &ListenerFrame) -> f64 {
    let Some([right, forward, _]) = frame.axes else {
        return 0.0;
    };
    let az = dot(to_source, right)
        .atan2(dot(to_source, forward))
        .to_degrees();
    // The spec's range is [-180, 180): directly behind is -180.
    if az == 180.0 { -180.0 } else { az }
}

/// The spec's elevation in degrees (+90 above, −90 below).
fn elevation(to_source: V3, frame: &ListenerFrame) -> f64 {
    let Some([_, _, up]) = frame.axes else {
        return 0.0;
    };
    if norm(to_source) == 0.0 {
        return 0.0;
    }
    90.0 - acos_deg(dot(normalize(to_source), up))
}

/// The spec's `coneGain()` (with the listener-minus-source vector, as browsers).
fn cone_gain(pos: V3, orientation: V3, listener: V3, a: &PannerAttributes) -> f64 {
    if norm(orientation) == 0.0 || (a.cone_inner_angle == 360.0 && a.cone_outer_angle == 360.0) {
        return 1.0;
    }
    let to_listener = normalize(sub(listener, pos));
    let angle = acos_deg(dot(to_listener, normalize(orientation))).abs();
    let inner = a.cone_inner_angle.abs() / 2.0;
    let outer = a.cone_outer_angle.abs() / 2.0;
    if angle <= inner {
        1.0
    } else if angle >= outer {
        a.cone_outer_gain
    } else {
        let x = (angle - inner) / (outer - inner);
        (1.0 - x) + a.cone_outer_gain * x
    }
}

/// The spec's `distanceGain` for each distance model.
pub fn distance_gain(distance: f64, a: &PannerAttributes) -> f64 {
    let (d_ref, d_max, f) = (a.ref_distance, a.max_distance, a.rolloff_factor);
    match a.distance_model {
        DistanceModel::Linear => {
            let (r, m) = (d_ref.min(d_max), d_ref.max(d_max));
            let f = f.clamp(0.0, 1.0);
            if r == m {
                return 1.0 - f;
            }
            1.0 - f * (distance.clamp(r, m) - r) / (m - r)
        }
        DistanceModel::Inverse => {
            if d_ref == 0.0 {
                return 0.0;
            }
            d_ref / (d_ref + f * (distance.max(d_ref) - d_ref))
        }
        DistanceModel::Exponential => {
            if d_ref == 0.0 {
                return 0.0;
            }
            (distance.max(d_ref) / d_ref).powf(-f)
        }
    }
}

/// The azimuth folded into −90..=90 (the spec's step 2 of equal-power panning).
pub fn fold_azimuth(azimuth: f64) -> f64 {
    let az = azimuth.clamp(-180.0, 180.0);
    if az < -90.0 {
        -180.0 - az
    } else if az > 90.0 {
        180.0 - az
    } else {
        az
    }
}

/// The spec's equal-power gains `(gainL, gainR)` for an azimuth, mono or stereo input.
pub fn equal_power_gains(azimuth: f64, stereo: bool) -> (f64, f64) {
    let az = fold_azimuth(azimuth);
    let x = if !stereo {
        (az + 90.0) / 180.0
    } else if az <= 0.0 {
        (az + 90.0) / 90.0
    } else {
        az / 90.0
    };
    let (sin, cos) = (x * std::f64::consts::FRAC_PI_2).sin_cos();
    (cos, sin)
}

// ---------------------------------------------------------------------------------------------
// Processor

/// The render-side half of `PannerNode`. Every method but `new` is called on the real-time
/// thread.
pub struct PannerProcessor {
    attributes: PannerAttributes,
    hrtf: Box<hrtf::HrtfRenderer>,
}

impl PannerProcessor {
    /// A processor with `attributes` at the context's `sample_rate` (control side: allocates
    /// the HRTF renderer).
    pub fn new(attributes: PannerAttributes, sample_rate: f32) -> Self {
        Self {
            attributes,
            hrtf: Box::new(hrtf::HrtfRenderer::new(sample_rate)),
        }
    }
}

/// The panner's params in geometry order (position, then orientation), as [`geometry`] takes
/// them: fixed here by name, whatever the declaration order.
const GEOMETRY_ORDER: [PannerParam; 6] = [
    PannerParam::PositionX,
    PannerParam::PositionY,
    PannerParam::PositionZ,
    PannerParam::OrientationX,
    PannerParam::OrientationY,
    PannerParam::OrientationZ,
];

/// The six panner params at sample `i`, position then orientation (a constant param repeats
/// its value).
#[inline]
fn panner_at(params: Params<'_, PannerParam>, i: usize) -> [f32; 6] {
    std::array::from_fn(|k| params.at(GEOMETRY_ORDER[k], i))
}

impl PannerProcessor {
    fn equal_power(&self, io: ProcessIo<'_, PannerParam>) {
        let a = self.attributes;
        let listener: &ListenerValues = io.listener;
        let input = &io.inputs[0];
        let output = &mut io.outputs[0];
        let automated =
            listener.is_automated() || PannerParam::ALL.iter().any(|&p| io.params.get(p).len() > 1);
        let stereo = input.channels() >= 2;
        // The listener's frame is per sample only when the listener itself moves; equal-power
        // panning needs no elevation.
        let fixed_frame = ListenerFrame::new(listener.at(0));
        let gains_at = |i: usize| {
            let frame = if listener.is_automated() {
                ListenerFrame::new(listener.at(i))
            } else {
                fixed_frame
            };
            let panner = panner_at(io.params, i);
            let (pos, to_source) = source_vector(panner, &frame);
            let cone = cone_gain(pos, panner_orientation(panner), frame.position, &a);
            let total = cone * distance_gain(norm(to_source), &a);
            let az = azimuth(to_source, &frame);
            let (l, r) = equal_power_gains(az, stereo);
            (fold_azimuth(az), l, r, total)
        };
        let constant = gains_at(0);
        output.set_channels(2);
        let [left, right] = output.channels_mut() else {
            return;
        };
        if !stereo {
            let mono = input.channel(0);
            for i in 0..RENDER_QUANTUM {
                let (_, gl, gr, total) = if automated { gains_at(i) } else { constant };
                let x = f64::from(mono[i]);
                left[i] = (x * gl * total) as f32;
                right[i] = (x * gr * total) as f32;
            }
        } else {
            let (in_l, in_r) = (input.channel(0), input.channel(1));
            for i in 0..RENDER_QUANTUM {
                let (az, gl, gr, total) = if automated { gains_at(i) } else { constant };
                let (xl, xr) = (f64::from(in_l[i]), f64::from(in_r[i]));
                let (ol, or) = if az <= 0.0 {
                    (xl + xr * gl, xr * gr)
                } else {
                    (xl * gl, xr + xl * gr)
                };
                left[i] = (ol * total) as f32;
                right[i] = (or * total) as f32;
            }
        }
    }
}

impl AudioProcessor for PannerProcessor {
    type Params = PannerParam;
    type Message = PannerAttributes;

    fn process(
        &mut self,
        io: ProcessIo<'_, PannerParam>,
        ctx: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let (Some(input), Some(_)) = (io.inputs.first(), io.outputs.first()) else {
            return ProcessStatus::Active;
        };
        match self.attributes.panning_model {
            PanningModel::EqualPower => {
                if input.is_silent() {
                    io.outputs[0].make_silent(2);
                } else {
                    self.equal_power(io);
                }
                self.hrtf.reset();
            }
            PanningModel::Hrtf => {
                let a = self.attributes;
                let g = geometry(panner_at(io.params, 0), io.listener.at(0), &a);
                let gain = g.cone_gain * distance_gain(g.distance, &a);
                self.hrtf.process(
                    io.inputs,
                    &mut io.outputs[0],
                    g.azimuth,
                    g.elevation,
                    gain,
                    ctx.sample_rate,
                );
            }
        }
        ProcessStatus::Active
    }

    fn update(&mut self, message: &mut PannerAttributes) {
        self.attributes = *message;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTENER: [f32; 9] = [0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0];

    #[test]
    fn azimuth_elevation_and_distance_follow_the_spec() {
        let a = PannerAttributes::default();
        let right = geometry([2.0, 0.0, 0.0, 1.0, 0.0, 0.0], LISTENER, &a);
        assert!((right.azimuth - 90.0).abs() < 1e-9);
        assert_eq!(
            (right.elevation, right.distance, right.cone_gain),
            (0.0, 2.0, 1.0)
        );
        let behind = geometry([0.0, 0.0, 3.0, 1.0, 0.0, 0.0], LISTENER, &a);
        assert_eq!(behind.azimuth, -180.0);
        let above = geometry([0.0, 1.0, 0.0, 1.0, 0.0, 0.0], LISTENER, &a);
        assert!((above.elevation - 90.0).abs() < 1e-9);
    }

    #[test]
    fn distance_models_and_equal_power() {
        let mut a = PannerAttributes::default();
        assert_eq!(distance_gain(3.0, &a), 1.0 / 3.0);
        a.distance_model = DistanceModel::Linear;
        a.max_distance = 11.0;
        assert!((distance_gain(6.0, &a) - 0.5).abs() < 1e-12);
        a.distance_model = DistanceModel::Exponential;
        a.rolloff_factor = 2.0;
        assert!((distance_gain(2.0, &a) - 0.25).abs() < 1e-12);

        assert_eq!(fold_azimuth(135.0), 45.0);
        let (l, r) = equal_power_gains(0.0, false);
        assert!((l - r).abs() < 1e-12 && (l * l + r * r - 1.0).abs() < 1e-12);
        let (l, r) = equal_power_gains(90.0, false);
        assert!(l.abs() < 1e-12 && (r - 1.0).abs() < 1e-12);
    }
}
