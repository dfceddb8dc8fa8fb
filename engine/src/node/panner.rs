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
use crate::param::{ParamDescriptor, ParamId, Params};
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

/// The listener-to-source vector's components along the listener's `right` and `forward`
/// axes (both 0 when the listener's forward and up are parallel).
#[inline]
fn frame_components(to_source: V3, frame: &ListenerFrame) -> (f64, f64) {
    match frame.axes {
        Some([right, forward, _]) => (dot(to_source, right), dot(to_source, forward)),
        None => (0.0, 0.0),
    }
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

/// How the distance gain depends on the distance, decided once per quantum from the
/// attributes: [`DistanceGain::Constant`] when it does not (a rolloff of 0, `refDistance` 0, or
/// a linear model whose `refDistance` equals `maxDistance`), so the per-sample path skips it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DistanceGain {
    Constant(f64),
    Linear { r: f64, m: f64, f: f64 },
    Inverse { d_ref: f64, f: f64 },
    Exponential { d_ref: f64, f: f64 },
}

impl DistanceGain {
    fn new(a: &PannerAttributes) -> Self {
        let (d_ref, d_max, f) = (a.ref_distance, a.max_distance, a.rolloff_factor);
        match a.distance_model {
            DistanceModel::Linear => {
                let (r, m) = (d_ref.min(d_max), d_ref.max(d_max));
                let f = f.clamp(0.0, 1.0);
                if r == m {
                    Self::Constant(1.0 - f)
                } else if f == 0.0 {
                    Self::Constant(1.0)
                } else {
                    Self::Linear { r, m, f }
                }
            }
            DistanceModel::Inverse if d_ref == 0.0 => Self::Constant(0.0),
            DistanceModel::Exponential if d_ref == 0.0 => Self::Constant(0.0),
            // d_ref / (d_ref + 0·x) and x^-0 are exactly 1 for every finite distance.
            DistanceModel::Inverse | DistanceModel::Exponential
                if f == 0.0 && d_ref.is_finite() =>
            {
                Self::Constant(1.0)
            }
            DistanceModel::Inverse => Self::Inverse { d_ref, f },
            DistanceModel::Exponential => Self::Exponential { d_ref, f },
        }
    }

    /// [`distance_gain`] at `distance`, with the attributes folded in.
    #[inline(always)]
    fn at(self, distance: f64) -> f64 {
        match self {
            Self::Constant(g) => g,
            Self::Linear { r, m, f } => 1.0 - f * (distance.clamp(r, m) - r) / (m - r),
            Self::Inverse { d_ref, f } => d_ref / (d_ref + f * (distance.max(d_ref) - d_ref)),
            Self::Exponential { d_ref, f } => (distance.max(d_ref) / d_ref).powf(-f),
        }
    }
}

/// The spec's equal-power gains `(gainL, gainR)` in closed form, without trigonometry, from
/// the listener-to-source vector's components along the listener's `right` and `forward`
/// axes (any common scale; both 0, a source straight above or below, is azimuth 0).
///
/// Folding the azimuth `φ` into −90..=90 keeps `sin φ = right / h` and makes
/// `cos φ = |forward| / h` (`h` the horizontal length). Mono input: `x = (φ + 90)/180`, so
/// `cos²(xπ/2) = (1 − sin φ)/2` and `sin²(xπ/2) = (1 + sin φ)/2`. Stereo input:
/// `(cos(xπ/2), sin(xπ/2))` is `(−sin φ, cos φ)` for `φ ≤ 0` and `(cos φ, sin φ)` otherwise.
/// Equal to [`equal_power_gains`] of the spec's azimuth within 1e-8 (square roots near 0
/// double the rounding's relative size).
#[inline(always)]
pub fn equal_power_gains_closed_form(right: f64, forward: f64, stereo: bool) -> (f64, f64) {
    let (gl, gr, _) = closed_form(right, forward, stereo);
    (gl, gr)
}

/// [`equal_power_gains_closed_form`] and `sin φ` (whose sign picks the stereo mix).
#[inline(always)]
fn closed_form(right: f64, forward: f64, stereo: bool) -> (f64, f64, f64) {
    let h = (right * right + forward * forward).sqrt();
    let (sin, cos) = if h > 0.0 {
        (right / h, forward.abs() / h)
    } else {
        (0.0, 1.0)
    };
    if !stereo {
        (
            ((1.0 - sin) * 0.5).max(0.0).sqrt(),
            ((1.0 + sin) * 0.5).max(0.0).sqrt(),
            sin,
        )
    } else if sin <= 0.0 {
        (-sin, cos, sin)
    } else {
        (cos, sin, sin)
    }
}

/// One sample's (or one quantum's) output mix: `out_l = in_l·ll + in_r·rl`,
/// `out_r = in_l·lr + in_r·rr`, distance and cone gains included. Mono input uses `ll` and `lr`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Mix {
    ll: f64,
    rl: f64,
    lr: f64,
    rr: f64,
}

impl Mix {
    /// The mix for a source at `right`/`forward` in the listener's frame (see
    /// [`equal_power_gains_closed_form`]) with overall gain `g` (distance × cone).
    #[inline(always)]
    fn new(right: f64, forward: f64, g: f64, stereo: bool) -> Self {
        let (gl, gr, sin) = closed_form(right, forward, stereo);
        if !stereo {
            Self {
                ll: gl * g,
                rl: 0.0,
                lr: gr * g,
                rr: 0.0,
            }
        } else if sin <= 0.0 {
            // Azimuth ≤ 0: the left input stays left, the right input is panned.
            Self {
                ll: g,
                rl: gl * g,
                lr: 0.0,
                rr: gr * g,
            }
        } else {
            Self {
                ll: gl * g,
                rl: 0.0,
                lr: gr * g,
                rr: g,
            }
        }
    }
}

/// A param's 1 or 128 values as 128 `f64`s.
#[inline]
fn widen(dst: &mut [f64; RENDER_QUANTUM], src: &[f32]) {
    if let [v] = src {
        dst.fill(f64::from(*v));
    } else {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = f64::from(s);
        }
    }
}

/// Per-sample scratch of the equal-power path (on the stack: 7 × 1 KiB).
struct Lanes {
    /// The source's position (reused for the listener-to-source components along `right`,
    /// `forward`, and the squared distance once they are computed).
    x: [f64; RENDER_QUANTUM],
    y: [f64; RENDER_QUANTUM],
    z: [f64; RENDER_QUANTUM],
    /// Distance × cone gain.
    g: [f64; RENDER_QUANTUM],
    /// Only for a moving listener or a cone: per-sample orientation / listener scratch.
    aux: [[f64; RENDER_QUANTUM]; 3],
}

impl PannerProcessor {
    /// Equal-power panning. Geometry and gains are per quantum unless a position moves within
    /// it (or, with a cone, an orientation; or the listener). Per sample there is no
    /// trigonometry: the gains come from [`equal_power_gains_closed_form`], the distance gain
    /// from its model's formula (skipped when constant), the cone gain only with a cone.
    fn equal_power(&self, io: ProcessIo<'_, PannerParam>) {
        let a = self.attributes;
        let listener: &ListenerValues = io.listener;
        let params = io.params;
        let input = &io.inputs[0];
        let output = &mut io.outputs[0];
        let stereo = input.channels() >= 2;
        let has_cone = !(a.cone_inner_angle == 360.0 && a.cone_outer_angle == 360.0);
        let moves = |p: PannerParam| params.get(p).len() > 1;
        let position_moves = [
            PannerParam::PositionX,
            PannerParam::PositionY,
            PannerParam::PositionZ,
        ]
        .into_iter()
        .any(moves);
        // Without a cone the orientation does not change the output.
        let orientation_moves = has_cone
            && [
                PannerParam::OrientationX,
                PannerParam::OrientationY,
                PannerParam::OrientationZ,
            ]
            .into_iter()
            .any(moves);
        let listener_moves = listener.is_automated();
        let distance = DistanceGain::new(&a);
        output.set_channels(2);
        let [left, right] = output.channels_mut() else {
            return;
        };

        if !(position_moves || orientation_moves || listener_moves) {
            // Everything is constant over the quantum: one mix.
            let frame = ListenerFrame::new(listener.at(0));
            let panner = panner_at(params, 0);
            let (pos, v) = source_vector(panner, &frame);
            let (r, f) = frame_components(v, &frame);
            let cone = if has_cone {
                cone_gain(pos, panner_orientation(panner), frame.position, &a)
            } else {
                1.0
            };
            let m = Mix::new(r, f, distance.at(norm(v)) * cone, stereo);
            if stereo {
                let (in_l, in_r) = (input.channel(0), input.channel(1));
                for i in 0..RENDER_QUANTUM {
                    let (xl, xr) = (f64::from(in_l[i]), f64::from(in_r[i]));
                    left[i] = (xl * m.ll + xr * m.rl) as f32;
                    right[i] = (xl * m.lr + xr * m.rr) as f32;
                }
            } else {
                let mono = input.channel(0);
                for i in 0..RENDER_QUANTUM {
                    let x = f64::from(mono[i]);
                    left[i] = (x * m.ll) as f32;
                    right[i] = (x * m.lr) as f32;
                }
            }
            return;
        }

        let mut l = Lanes {
            x: [0.0; RENDER_QUANTUM],
            y: [0.0; RENDER_QUANTUM],
            z: [0.0; RENDER_QUANTUM],
            g: [1.0; RENDER_QUANTUM],
            aux: [[0.0; RENDER_QUANTUM]; 3],
        };
        widen(&mut l.x, params.get(PannerParam::PositionX));
        widen(&mut l.y, params.get(PannerParam::PositionY));
        widen(&mut l.z, params.get(PannerParam::PositionZ));

        // The cone gain first, while the lanes still hold positions.
        if has_cone {
            let [ox, oy, oz] = &mut l.aux;
            widen(ox, params.get(PannerParam::OrientationX));
            widen(oy, params.get(PannerParam::OrientationY));
            widen(oz, params.get(PannerParam::OrientationZ));
            let fixed = ListenerFrame::new(listener.at(0)).position;
            for i in 0..RENDER_QUANTUM {
                let at = if listener_moves {
                    ListenerFrame::new(listener.at(i)).position
                } else {
                    fixed
                };
                l.g[i] = cone_gain([l.x[i], l.y[i], l.z[i]], [ox[i], oy[i], oz[i]], at, &a);
            }
        }

        // Listener-to-source vector along `right` and `forward` (into x, y) and the squared
        // distance (into z).
        if listener_moves {
            for i in 0..RENDER_QUANTUM {
                let frame = ListenerFrame::new(listener.at(i));
                let v = sub([l.x[i], l.y[i], l.z[i]], frame.position);
                let (r, f) = frame_components(v, &frame);
                (l.x[i], l.y[i], l.z[i]) = (r, f, dot(v, v));
            }
        } else {
            let frame = ListenerFrame::new(listener.at(0));
            let [px, py, pz] = frame.position;
            let [rv, fv, _] = frame.axes.unwrap_or([[0.0; 3]; 3]);
            for i in 0..RENDER_QUANTUM {
                let v = [l.x[i] - px, l.y[i] - py, l.z[i] - pz];
                (l.x[i], l.y[i], l.z[i]) = (dot(v, rv), dot(v, fv), dot(v, v));
            }
        }

        // Distance gain (one loop per model, so each vectorizes).
        match distance {
            DistanceGain::Constant(c) => {
                for g in &mut l.g {
                    *g *= c;
                }
            }
            _ => {
                for (g, &d2) in l.g.iter_mut().zip(&l.z) {
                    *g *= distance.at(d2.sqrt());
                }
            }
        }

        if stereo {
            let (in_l, in_r) = (input.channel(0), input.channel(1));
            for i in 0..RENDER_QUANTUM {
                let m = Mix::new(l.x[i], l.y[i], l.g[i], true);
                let (xl, xr) = (f64::from(in_l[i]), f64::from(in_r[i]));
                left[i] = (xl * m.ll + xr * m.rl) as f32;
                right[i] = (xl * m.lr + xr * m.rr) as f32;
            }
        } else {
            let mono = input.channel(0);
            for i in 0..RENDER_QUANTUM {
                let m = Mix::new(l.x[i], l.y[i], l.g[i], false);
                let x = f64::from(mono[i]);
                left[i] = (x * m.ll) as f32;
                right[i] = (x * m.lr) as f32;
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

    /// The spec's azimuth as its pseudo-code writes it: project the source onto the listener's
    /// horizontal plane, normalize, `acos` against `right`, the sign from `forward`.
    fn spec_azimuth(source: V3, listener: [f32; 9]) -> f64 {
        let frame = ListenerFrame::new(listener);
        let Some([right, forward, up]) = frame.axes else {
            return 0.0;
        };
        let v = sub(source, frame.position);
        if norm(v) == 0.0 {
            return 0.0;
        }
        let v = normalize(v);
        let k = dot(v, up);
        let projected = normalize(sub(v, [up[0] * k, up[1] * k, up[2] * k]));
        let mut az = acos_deg(dot(projected, right));
        if dot(projected, forward) < 0.0 {
            az = 360.0 - az;
        }
        if (0.0..=270.0).contains(&az) {
            90.0 - az
        } else {
            450.0 - az
        }
    }

    /// The spec's output mix for an azimuth: equal-power gains from `cos`/`sin`, stereo input
    /// split on the folded azimuth's sign. Compared as a mix because at azimuth 0 (ahead or
    /// behind) a stereo source's gains jump between `(0, 1)` and `(1, 0)` while the mix stays
    /// the identity, and which side a rounding lands on differs between the formulas.
    fn spec_mix(azimuth: f64, stereo: bool) -> Mix {
        let (gl, gr) = equal_power_gains(azimuth, stereo);
        if !stereo {
            Mix {
                ll: gl,
                rl: 0.0,
                lr: gr,
                rr: 0.0,
            }
        } else if fold_azimuth(azimuth) <= 0.0 {
            Mix {
                ll: 1.0,
                rl: gl,
                lr: 0.0,
                rr: gr,
            }
        } else {
            Mix {
                ll: gl,
                rl: 0.0,
                lr: gr,
                rr: 1.0,
            }
        }
    }

    #[test]
    fn closed_form_gains_match_the_spec_formula_on_a_dense_grid() {
        // Listeners: the default one and a tilted one away from the origin.
        let tilted = {
            let f = normalize([0.3, -0.2, -1.0]);
            let u = normalize(cross(cross(f, [0.1, 1.0, 0.2]), f));
            [
                1.5,
                -2.0,
                0.25,
                f[0] as f32,
                f[1] as f32,
                f[2] as f32,
                u[0] as f32,
                u[1] as f32,
                u[2] as f32,
            ]
        };
        let mut worst = 0.0f64;
        let mut count = 0;
        for listener in [LISTENER, tilted] {
            let frame = ListenerFrame::new(listener);
            let [right, forward, up] = frame.axes.expect("a valid frame");
            // Azimuth every 0.25° (multiples of 90° included), elevation every 2.5° from -87.5
            // to 87.5, distances 0.01 to 1000. (Straight up or down the azimuth is the
            // rounding noise of the horizontal projection in either formula: checked apart.)
            for a in 0..1440 {
                let az = f64::from(a) * 0.25_f64.to_radians();
                for e in -35..=35 {
                    let el = f64::from(e) * 2.5_f64.to_radians();
                    for r in [0.01, 1.0, 37.0, 1000.0] {
                        let (h, vert) = (r * el.cos(), r * el.sin());
                        let (rc, fc) = (h * az.sin(), h * az.cos());
                        let source: V3 = std::array::from_fn(|k| {
                            frame.position[k] + rc * right[k] + fc * forward[k] + vert * up[k]
                        });
                        let (cr, cf) = frame_components(sub(source, frame.position), &frame);
                        let spec = spec_azimuth(source, listener);
                        for stereo in [false, true] {
                            let want = spec_mix(spec, stereo);
                            let got = Mix::new(cr, cf, 1.0, stereo);
                            let diff = [
                                got.ll - want.ll,
                                got.rl - want.rl,
                                got.lr - want.lr,
                                got.rr - want.rr,
                            ]
                            .into_iter()
                            .fold(0.0f64, |m, d| m.max(d.abs()));
                            worst = worst.max(diff);
                            count += 1;
                        }
                        let (gl, gr) = equal_power_gains_closed_form(cr, cf, false);
                        let (sl, sr) = equal_power_gains(spec, false);
                        worst = worst.max((gl - sl).abs()).max((gr - sr).abs());
                    }
                }
            }
        }
        assert!(count > 1_500_000, "{count} directions");
        assert!(worst > 0.0, "compared something");
        assert!(
            worst < 1e-6,
            "closed form differs from the spec by {worst:e}"
        );
        // Straight above / below (exactly) and at the listener: azimuth 0.
        for (r, f) in [(0.0, 0.0), (-0.0, 0.0)] {
            let (gl, gr) = equal_power_gains_closed_form(r, f, false);
            let (sl, sr) = equal_power_gains(0.0, false);
            assert!((gl - sl).abs() < 1e-15 && (gr - sr).abs() < 1e-15);
            let (gl, gr) = equal_power_gains_closed_form(r, f, true);
            assert_eq!((gl.abs(), gr), (0.0, 1.0));
        }
    }

    #[test]
    fn distance_gain_fast_path_matches_the_formula() {
        let mut checked = 0;
        for model in [
            DistanceModel::Linear,
            DistanceModel::Inverse,
            DistanceModel::Exponential,
        ] {
            for (d_ref, d_max) in [
                (1.0, 10000.0),
                (0.0, 5.0),
                (3.0, 3.0),
                (8.0, 2.0),
                (0.5, 40.0),
            ] {
                for f in [0.0, 0.5, 1.0, 2.5] {
                    let a = PannerAttributes {
                        distance_model: model,
                        ref_distance: d_ref,
                        max_distance: d_max,
                        rolloff_factor: f,
                        ..PannerAttributes::default()
                    };
                    let fast = DistanceGain::new(&a);
                    for d in [0.0, 0.25, 1.0, 2.9, 3.0, 7.0, 41.0, 1e6] {
                        assert_eq!(fast.at(d), distance_gain(d, &a), "{a:?} at {d}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 5 * 4 * 8);
        // Rolloff 0 and refDistance 0 are constants (the per-sample path skips them).
        let a = PannerAttributes {
            rolloff_factor: 0.0,
            ..PannerAttributes::default()
        };
        assert_eq!(DistanceGain::new(&a), DistanceGain::Constant(1.0));
    }
}
