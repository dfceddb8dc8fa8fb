//! `PannerNode`: positions a mono or stereo input in 3D relative to the context's
//! [`AudioListener`](super::audio_listener::AudioListener), with the spec's equal-power panning
//! or binaural (HRTF) rendering, distance models and sound cones.
//!
//! - **equalpower**: the spec's algorithm exactly (azimuth, elevation, distance and cone gain
//!   per sample whenever a panner or listener param is automated this quantum, once per
//!   quantum otherwise), in `f64`.
//! - **HRTF**: see [`hrtf`] — an analytic spherical-head model (Brown–Duda) computed in
//!   Rust, no data files. As the spec says, its params are effectively k-rate: position and
//!   orientation are sampled at each quantum's first frame, and the renderer glides between
//!   quanta so motion is click-free.
//! - Distance (`linear`, `inverse`, `exponential`) and cone gains follow the spec's
//!   formulas. The cone uses the listener-minus-source vector, as browsers do: the spec's
//!   pseudo-code writes `sourcePosition.diff(listenerPosition)`, which would put a source
//!   facing the listener in its *outer* cone.

pub mod hrtf;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use super::audio_listener::ListenerValues;
use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, ChannelCountMode,
    ChannelInterpretation, NodeMessage, NodeShape, OutputChannels, ProcessContext, ProcessIo,
    ProcessPhase, ProcessStatus, SpatialRole,
};
use crate::error::{AudioParamError, WebAudioError};
use crate::param::{AudioParam, ParamDescriptor, ParamId};
use crate::render::bus::RENDER_QUANTUM;

/// `PanningModelType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Reflect, Serialize, Deserialize)]
pub enum PanningModel {
    /// `"equalpower"`: the spec's equal-power panning (elevation ignored).
    #[default]
    EqualPower,
    /// `"HRTF"`: binaural rendering with interaural time and level differences.
    Hrtf,
}

/// `DistanceModelType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Reflect, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Reflect, Serialize, Deserialize)]
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

/// The spec's `PannerNode`. Params are public; attributes have validating setters (the spec's
/// `RangeError`/`InvalidStateError`). `channelCount` is at most 2 and `channelCountMode` is
/// never `max` ([`PannerNode::validate_channels`]). The output is always stereo.
///
/// Add [`SpatialAudio`](crate::ecs::spatial::SpatialAudio) to the entity to make position and
/// orientation follow its `GlobalTransform`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut panner = PannerNode::new(PanningModel::Hrtf);
/// panner.set_distance_model(DistanceModel::Linear).set_max_distance(50.0)?;
/// panner.set_position(2.0, 0.0, -1.0)?;
/// assert!(panner.set_ref_distance(-1.0).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig = ChannelConfig::new(2, ChannelCountMode::ClampedMax, ChannelInterpretation::Speakers))]
pub struct PannerNode {
    /// `positionX` (a-rate, default 0).
    pub position_x: AudioParam,
    /// `positionY` (a-rate, default 0).
    pub position_y: AudioParam,
    /// `positionZ` (a-rate, default 0).
    pub position_z: AudioParam,
    /// `orientationX` (a-rate, default 1).
    pub orientation_x: AudioParam,
    /// `orientationY` (a-rate, default 0).
    pub orientation_y: AudioParam,
    /// `orientationZ` (a-rate, default 0).
    pub orientation_z: AudioParam,
    attributes: PannerAttributes,
}

const fn unbounded(default: f32) -> ParamDescriptor {
    ParamDescriptor::a_rate(default, -ParamDescriptor::MAX, ParamDescriptor::MAX)
}

impl Default for PannerNode {
    fn default() -> Self {
        Self::new(PanningModel::EqualPower)
    }
}

impl PannerNode {
    /// A panner with the spec's defaults and the given panning model.
    pub fn new(panning_model: PanningModel) -> Self {
        Self {
            position_x: AudioParam::new(unbounded(0.0)),
            position_y: AudioParam::new(unbounded(0.0)),
            position_z: AudioParam::new(unbounded(0.0)),
            orientation_x: AudioParam::new(unbounded(1.0)),
            orientation_y: AudioParam::new(unbounded(0.0)),
            orientation_z: AudioParam::new(unbounded(0.0)),
            attributes: PannerAttributes {
                panning_model,
                ..default()
            },
        }
    }

    /// Initial position (`PannerOptions.positionX/Y/Z`): the params' intrinsic values.
    pub fn with_position(mut self, x: f32, y: f32, z: f32) -> Self {
        self.position_x = AudioParam::with_value(unbounded(0.0), x);
        self.position_y = AudioParam::with_value(unbounded(0.0), y);
        self.position_z = AudioParam::with_value(unbounded(0.0), z);
        self
    }

    /// Initial orientation (`PannerOptions.orientationX/Y/Z`).
    pub fn with_orientation(mut self, x: f32, y: f32, z: f32) -> Self {
        self.orientation_x = AudioParam::with_value(unbounded(1.0), x);
        self.orientation_y = AudioParam::with_value(unbounded(0.0), y);
        self.orientation_z = AudioParam::with_value(unbounded(0.0), z);
        self
    }

    /// All attributes.
    pub fn attributes(&self) -> PannerAttributes {
        self.attributes
    }

    /// `panningModel`.
    pub fn panning_model(&self) -> PanningModel {
        self.attributes.panning_model
    }

    /// Sets `panningModel`.
    pub fn set_panning_model(&mut self, model: PanningModel) -> &mut Self {
        self.attributes.panning_model = model;
        self
    }

    /// `distanceModel`.
    pub fn distance_model(&self) -> DistanceModel {
        self.attributes.distance_model
    }

    /// Sets `distanceModel`.
    pub fn set_distance_model(&mut self, model: DistanceModel) -> &mut Self {
        self.attributes.distance_model = model;
        self
    }

    /// `refDistance`.
    pub fn ref_distance(&self) -> f64 {
        self.attributes.ref_distance
    }

    /// Sets `refDistance`.
    ///
    /// # Errors
    /// `RangeError` for a negative (or non-finite) value.
    pub fn set_ref_distance(&mut self, value: f64) -> Result<&mut Self, WebAudioError> {
        crate::error::finite("refDistance", value)?;
        if value < 0.0 {
            return Err(WebAudioError::Range(format!(
                "refDistance must not be negative, got {value}"
            )));
        }
        self.attributes.ref_distance = value;
        Ok(self)
    }

    /// `maxDistance`.
    pub fn max_distance(&self) -> f64 {
        self.attributes.max_distance
    }

    /// Sets `maxDistance`.
    ///
    /// # Errors
    /// `RangeError` for a value ≤ 0 (or non-finite).
    pub fn set_max_distance(&mut self, value: f64) -> Result<&mut Self, WebAudioError> {
        crate::error::finite("maxDistance", value)?;
        if value <= 0.0 {
            return Err(WebAudioError::Range(format!(
                "maxDistance must be positive, got {value}"
            )));
        }
        self.attributes.max_distance = value;
        Ok(self)
    }

    /// `rolloffFactor` (as set; the linear model clamps it to 0..=1 while processing).
    pub fn rolloff_factor(&self) -> f64 {
        self.attributes.rolloff_factor
    }

    /// Sets `rolloffFactor`.
    ///
    /// # Errors
    /// `RangeError` for a negative (or non-finite) value.
    pub fn set_rolloff_factor(&mut self, value: f64) -> Result<&mut Self, WebAudioError> {
        crate::error::finite("rolloffFactor", value)?;
        if value < 0.0 {
            return Err(WebAudioError::Range(format!(
                "rolloffFactor must not be negative, got {value}"
            )));
        }
        self.attributes.rolloff_factor = value;
        Ok(self)
    }

    /// `coneInnerAngle` (degrees).
    pub fn cone_inner_angle(&self) -> f64 {
        self.attributes.cone_inner_angle
    }

    /// Sets `coneInnerAngle` (degrees; the spec leaves values outside 0..=360 undefined, they
    /// are used as given, by absolute value).
    ///
    /// # Errors
    /// `RangeError` for a non-finite value.
    pub fn set_cone_inner_angle(&mut self, degrees: f64) -> Result<&mut Self, WebAudioError> {
        crate::error::finite("coneInnerAngle", degrees)?;
        self.attributes.cone_inner_angle = degrees;
        Ok(self)
    }

    /// `coneOuterAngle` (degrees).
    pub fn cone_outer_angle(&self) -> f64 {
        self.attributes.cone_outer_angle
    }

    /// Sets `coneOuterAngle` (degrees; see [`PannerNode::set_cone_inner_angle`]).
    ///
    /// # Errors
    /// `RangeError` for a non-finite value.
    pub fn set_cone_outer_angle(&mut self, degrees: f64) -> Result<&mut Self, WebAudioError> {
        crate::error::finite("coneOuterAngle", degrees)?;
        self.attributes.cone_outer_angle = degrees;
        Ok(self)
    }

    /// `coneOuterGain`.
    pub fn cone_outer_gain(&self) -> f64 {
        self.attributes.cone_outer_gain
    }

    /// Sets `coneOuterGain`.
    ///
    /// # Errors
    /// `InvalidStateError` outside 0..=1 (the spec's error for this attribute).
    pub fn set_cone_outer_gain(&mut self, gain: f64) -> Result<&mut Self, WebAudioError> {
        if !(0.0..=1.0).contains(&gain) {
            return Err(WebAudioError::InvalidState(format!(
                "coneOuterGain must be in [0, 1], got {gain}"
            )));
        }
        self.attributes.cone_outer_gain = gain;
        Ok(self)
    }

    /// The deprecated `setPosition(x, y, z)`: assigns the three params' values.
    ///
    /// # Errors
    /// `RangeError` for a non-finite value.
    pub fn set_position(&mut self, x: f32, y: f32, z: f32) -> Result<&mut Self, AudioParamError> {
        let params = [
            &mut self.position_x,
            &mut self.position_y,
            &mut self.position_z,
        ];
        AudioParam::set_values(params, [x, y, z])?;
        Ok(self)
    }

    /// The deprecated `setOrientation(x, y, z)`: assigns the three params' values.
    ///
    /// # Errors
    /// `RangeError` for a non-finite value.
    pub fn set_orientation(
        &mut self,
        x: f32,
        y: f32,
        z: f32,
    ) -> Result<&mut Self, AudioParamError> {
        let params = [
            &mut self.orientation_x,
            &mut self.orientation_y,
            &mut self.orientation_z,
        ];
        AudioParam::set_values(params, [x, y, z])?;
        Ok(self)
    }

    /// The spec's constraints on this node's channel configuration (as StereoPannerNode's).
    ///
    /// # Errors
    /// `NotSupportedError` for `channelCount` > 2 or mode `max`.
    pub fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate_up_to_stereo(Self::NAME)
    }
}

impl AudioNode for PannerNode {
    type Attributes = PannerAttributes;
    const NAME: &'static str = "PannerNode";
    const SPATIAL: SpatialRole = SpatialRole::Panner;

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn for_each_param(&mut self, f: &mut dyn FnMut(ParamId, &mut AudioParam)) {
        f(ParamId::PositionX, &mut self.position_x);
        f(ParamId::PositionY, &mut self.position_y);
        f(ParamId::PositionZ, &mut self.position_z);
        f(ParamId::OrientationX, &mut self.orientation_x);
        f(ParamId::OrientationY, &mut self.orientation_y);
        f(ParamId::OrientationZ, &mut self.orientation_z);
    }

    fn attributes(&self) -> PannerAttributes {
        self.attributes
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(PannerProcessor {
            attributes: self.attributes,
            hrtf: Box::new(hrtf::HrtfRenderer::new(ctx.sample_rate)),
        })
    }

    fn attributes_message(&self, _ctx: &mut BuildContext) -> Option<NodeMessage> {
        Some(Box::new(self.attributes))
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(2)
    }

    fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        Self::validate_channels(config)
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

struct PannerProcessor {
    attributes: PannerAttributes,
    hrtf: Box<hrtf::HrtfRenderer>,
}

/// Six panner params at sample `i` (a constant param repeats its value).
#[inline]
fn panner_at(params: &[&[f32]], i: usize) -> [f32; 6] {
    std::array::from_fn(|k| {
        let p = params.get(k).copied().unwrap_or(&[]);
        p.get(i).or_else(|| p.first()).copied().unwrap_or(0.0)
    })
}

impl PannerProcessor {
    fn equal_power(&self, io: ProcessIo<'_>) {
        let a = self.attributes;
        let listener: &ListenerValues = io.listener;
        let input = &io.inputs[0];
        let output = &mut io.outputs[0];
        let automated = listener.is_automated() || io.params.iter().any(|p| p.len() > 1);
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
    fn process(
        &mut self,
        io: ProcessIo<'_>,
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

    fn update(&mut self, message: &mut NodeMessage) {
        if let Some(a) = message.downcast_ref::<PannerAttributes>() {
            self.attributes = *a;
        }
    }
}
