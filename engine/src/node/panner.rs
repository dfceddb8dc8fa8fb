//! `PannerNode`'s render side: its six params, its attributes ([`PannerAttributes`]: panning
//! and distance models, cone), the spec's geometry in `f64`, and its processor.
//!
//! - **equalpower**: the spec's algorithm (azimuth, elevation, distance and cone gain per
//!   sample whenever a panner or listener param is automated this quantum, once per quantum in
//!   `f64` otherwise). Per sample, the common case — positions moving, the listener still, no
//!   cone — runs four `f32` lanes at a time (`FastLanes`, within 1e-6 of the spec's `f64`
//!   formulas); otherwise geometry and distance gain are `f64` lanes and the equal-power
//!   gains come from the same `f32` formulas on components scaled once per quantum.
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
use crate::render::bus::{AudioBus, RENDER_QUANTUM};

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
    /// The HRTF renderer ran since its last reset (an equal-power quantum then resets it;
    /// otherwise its memory is not touched at all).
    hrtf_used: bool,
}

impl PannerProcessor {
    /// A processor with `attributes` at the context's `sample_rate` (control side: allocates
    /// the HRTF renderer).
    pub fn new(attributes: PannerAttributes, sample_rate: f32) -> Self {
        Self {
            attributes,
            hrtf: Box::new(hrtf::HrtfRenderer::new(sample_rate)),
            hrtf_used: false,
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

    /// Multiplies each gain in `g` by the distance gain at the square root of the same lane
    /// of `squared`: one loop per model, the model chosen outside it, so each vectorizes.
    fn apply(self, g: &mut [f64; RENDER_QUANTUM], squared: &[f64; RENDER_QUANTUM]) {
        let lanes = g.iter_mut().zip(squared);
        match self {
            Self::Constant(c) => lanes.for_each(|(g, _)| *g *= c),
            Self::Linear { r, m, f } => {
                lanes.for_each(|(g, &d2)| *g *= linear_gain(d2.sqrt(), r, m, f));
            }
            Self::Inverse { d_ref, f } => {
                lanes.for_each(|(g, &d2)| *g *= inverse_gain(d2.sqrt(), d_ref, f));
            }
            Self::Exponential { .. } => lanes.for_each(|(g, &d2)| *g *= self.at(d2.sqrt())),
        }
    }

    /// [`distance_gain`] at `distance`, with the attributes folded in.
    #[inline(always)]
    fn at(self, distance: f64) -> f64 {
        match self {
            Self::Constant(g) => g,
            Self::Linear { r, m, f } => linear_gain(distance, r, m, f),
            Self::Inverse { d_ref, f } => inverse_gain(distance, d_ref, f),
            Self::Exponential { d_ref, f } => (distance.max(d_ref) / d_ref).powf(-f),
        }
    }
}

/// The linear model's gain with `r = min(refDistance, maxDistance)`, `m` the max (`r < m`).
#[inline(always)]
fn linear_gain(distance: f64, r: f64, m: f64, f: f64) -> f64 {
    1.0 - f * (distance.clamp(r, m) - r) / (m - r)
}

/// The inverse model's gain (`refDistance` ≠ 0).
#[inline(always)]
fn inverse_gain(distance: f64, d_ref: f64, f: f64) -> f64 {
    d_ref / (d_ref + f * (distance.max(d_ref) - d_ref))
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

        if !(has_cone || listener_moves)
            && let Some(fast) = FastLanes::new(params, listener.at(0), distance)
        {
            fast.render(input, left, right);
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

        distance.apply(&mut l.g, &l.z);

        // The gains depend only on the direction: the components are scaled by one factor per
        // quantum (the largest becomes 1) so that their squares neither overflow nor underflow
        // in f32, where the gains are computed four lanes at a time.
        let largest = l.x.iter().chain(&l.y).fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = if largest > 0.0 { 1.0 / largest } else { 1.0 };
        let lane = |i: usize| {
            (
                (l.x[i] * scale) as f32,
                (l.y[i] * scale) as f32,
                l.g[i] as f32,
            )
        };
        if stereo {
            let (in_l, in_r) = (input.channel(0), input.channel(1));
            for i in 0..RENDER_QUANTUM {
                let (r, f, g) = lane(i);
                (left[i], right[i]) = stereo_mix(r, f, g, in_l[i], in_r[i]);
            }
        } else {
            let mono = input.channel(0);
            for i in 0..RENDER_QUANTUM {
                let (r, f, g) = lane(i);
                let (gl, gr) = mono_lane_gains(r, f);
                left[i] = mono[i] * (gl * g);
                right[i] = mono[i] * (gr * g);
            }
        }
    }
}

/// The largest coordinate (in magnitude) the [`FastLanes`] path takes: squares and products
/// of the listener-to-source components stay far from `f32` overflow (2⁴¹ squared is 2⁸²).
const FAST_RANGE: f32 = (1u64 << 40) as f32;

/// The distance gain of a [`DistanceGain`] in `f32`, for [`FastLanes`] (the exponential model,
/// with its `powf`, stays on the `f64` path).
#[derive(Clone, Copy)]
enum DistanceF32 {
    Constant(f32),
    Linear { r: f32, m: f32, f: f32 },
    Inverse { d_ref: f32, f: f32 },
}

impl DistanceF32 {
    /// `None` for the exponential model or attributes outside `f32`'s normal range.
    fn new(d: DistanceGain) -> Option<Self> {
        let ok = |v: f64| v == 0.0 || (v as f32).is_normal();
        match d {
            DistanceGain::Constant(c) if ok(c) => Some(Self::Constant(c as f32)),
            DistanceGain::Linear { r, m, f }
                if ok(r) && ok(m) && ok(f) && (r as f32) < (m as f32) =>
            {
                Some(Self::Linear {
                    r: r as f32,
                    m: m as f32,
                    f: f as f32,
                })
            }
            DistanceGain::Inverse { d_ref, f } if ok(d_ref) && ok(f) => Some(Self::Inverse {
                d_ref: d_ref as f32,
                f: f as f32,
            }),
            _ => None,
        }
    }
}

/// The per-sample equal-power path in `f32` for the common case: positions moving, the
/// listener still, no cone, coordinates within ±[`FAST_RANGE`], a linear, inverse or constant
/// distance gain. One fused loop, four lanes at a time: listener-to-source vector, its
/// components along the listener's `right` and `forward` axes, distance gain, and the gains
/// of [`mono_lane_gains`] / [`stereo_lane_gains`]. Within a few `f32` roundings of the `f64`
/// path (relative 1e-6, far below the −70 dB a moving source is judged at).
struct FastLanes {
    x: [f32; RENDER_QUANTUM],
    y: [f32; RENDER_QUANTUM],
    z: [f32; RENDER_QUANTUM],
    listener: [f32; 3],
    right: [f32; 3],
    forward: [f32; 3],
    distance: DistanceF32,
}

impl FastLanes {
    /// The lanes for this quantum, or `None` when the case is not covered.
    fn new(
        params: Params<'_, PannerParam>,
        listener: [f32; 9],
        distance: DistanceGain,
    ) -> Option<Self> {
        let distance = DistanceF32::new(distance)?;
        let frame = ListenerFrame::new(listener);
        // Without an early exit, so it vectorizes.
        let in_range = |v: &[f32]| v.iter().fold(true, |ok, c| ok & (c.abs() <= FAST_RANGE));
        let coordinates = [
            PannerParam::PositionX,
            PannerParam::PositionY,
            PannerParam::PositionZ,
        ]
        .map(|p| params.get(p));
        if !(coordinates.iter().all(|c| in_range(c)) && in_range(&listener[..3])) {
            return None;
        }
        let [right, forward] = match frame.axes {
            Some([right, forward, _]) => [right, forward].map(|a| a.map(|c| c as f32)),
            // Forward and up parallel: azimuth 0, as both components are 0.
            None => [[0.0; 3]; 2],
        };
        let lane = |src: &[f32]| {
            let mut dst = [0.0; RENDER_QUANTUM];
            match src {
                [v] => dst.fill(*v),
                _ => dst.copy_from_slice(src),
            }
            dst
        };
        let [x, y, z] = coordinates.map(lane);
        Some(Self {
            x,
            y,
            z,
            listener: [listener[0], listener[1], listener[2]],
            right,
            forward,
            distance,
        })
    }

    /// Renders the quantum, the distance model chosen outside the loop so each vectorizes.
    fn render(
        &self,
        input: &AudioBus,
        left: &mut [f32; RENDER_QUANTUM],
        right: &mut [f32; RENDER_QUANTUM],
    ) {
        match self.distance {
            DistanceF32::Constant(c) => self.mix(input, left, right, |_| c),
            DistanceF32::Linear { r, m, f } => self.mix(input, left, right, |d| {
                1.0 - f * (d.clamp(r, m) - r) / (m - r)
            }),
            DistanceF32::Inverse { d_ref, f } => self.mix(input, left, right, |d| {
                d_ref / (d_ref + f * (d.max(d_ref) - d_ref))
            }),
        }
    }

    /// `(right, forward, distance gain)` at lane `i`.
    #[inline(always)]
    fn lane(&self, i: usize, gain: impl Fn(f32) -> f32) -> (f32, f32, f32) {
        let [lx, ly, lz] = self.listener;
        let (vx, vy, vz) = (self.x[i] - lx, self.y[i] - ly, self.z[i] - lz);
        let along = |a: [f32; 3]| vx * a[0] + vy * a[1] + vz * a[2];
        let d = (vx * vx + vy * vy + vz * vz).sqrt();
        (along(self.right), along(self.forward), gain(d))
    }

    #[inline(always)]
    fn mix(
        &self,
        input: &AudioBus,
        left: &mut [f32; RENDER_QUANTUM],
        right: &mut [f32; RENDER_QUANTUM],
        gain: impl Fn(f32) -> f32 + Copy,
    ) {
        if input.channels() >= 2 {
            let (in_l, in_r) = (input.channel(0), input.channel(1));
            for i in 0..RENDER_QUANTUM {
                let (r, f, g) = self.lane(i, gain);
                (left[i], right[i]) = stereo_mix(r, f, g, in_l[i], in_r[i]);
            }
        } else {
            let mono = input.channel(0);
            for i in 0..RENDER_QUANTUM {
                let (r, f, g) = self.lane(i, gain);
                let (gl, gr) = mono_lane_gains(r, f);
                left[i] = mono[i] * (gl * g);
                right[i] = mono[i] * (gr * g);
            }
        }
    }
}

/// One stereo frame `(xl, xr)` panned by the per-sample path's gains, times `g`: azimuth ≤ 0
/// keeps the left input left and pans the right input by `(−sin, cos)`; otherwise the left
/// input is panned by `(cos, sin)`.
#[inline(always)]
fn stereo_mix(r: f32, f: f32, g: f32, xl: f32, xr: f32) -> (f32, f32) {
    let (sin, cos) = stereo_lane_gains(r, f);
    let (ll, rl, lr, rr) = if sin <= 0.0 {
        (1.0, -sin, 0.0, cos)
    } else {
        (cos, 0.0, sin, 1.0)
    };
    ((xl * ll + xr * rl) * g, (xl * lr + xr * rr) * g)
}

/// The per-sample path's equal-power gains `(gainL, gainR)` for mono input, in `f32`, from the
/// listener-to-source components along `right` and `forward` (at most 2⁴¹ in magnitude; both 0
/// is azimuth 0). The same values as [`equal_power_gains_closed_form`], written
/// without cancellation: `gainL² = (h − r)/2h` with `h − r = f²/(h + r)` for `r ≥ 0`, so a
/// source at ±90° gets exactly 0 in the far ear (an `f32` `1 − sin φ` would leave ≈3e-4).
#[inline(always)]
fn mono_lane_gains(r: f32, f: f32) -> (f32, f32) {
    let h = (r * r + f * f).sqrt();
    let near = h + r.abs();
    let d = 2.0 * h * near;
    let k = (1.0 / d).sqrt();
    // The ear on the source's side gets `near·k`, the other `|f|·k`.
    let (far_ear, near_ear) = (f.abs() * k, near * k);
    let half = std::f32::consts::FRAC_1_SQRT_2;
    match (d > 0.0, r >= 0.0) {
        // Both components 0 (or squares below f32's range): azimuth 0.
        (false, _) => (half, half),
        (true, true) => (far_ear, near_ear),
        (true, false) => (near_ear, far_ear),
    }
}

/// The per-sample path's `(sin φ, cos φ)` of the folded azimuth for stereo input, in `f32`
/// (see [`mono_lane_gains`] for the arguments; both 0 is azimuth 0).
#[inline(always)]
fn stereo_lane_gains(r: f32, f: f32) -> (f32, f32) {
    let h = (r * r + f * f).sqrt();
    let inv = 1.0 / h;
    if h > 0.0 {
        (r * inv, f.abs() * inv)
    } else {
        (0.0, 1.0)
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
                if std::mem::take(&mut self.hrtf_used) {
                    self.hrtf.reset();
                }
            }
            PanningModel::Hrtf => {
                self.hrtf_used = true;
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

    /// The f32 lanes ([`FastLanes`]) against the spec's formulas in f64, sample by sample:
    /// sources moving through every quadrant (beside, behind, over the listener's position),
    /// mono and stereo input, inverse, linear and constant distance gains, two listeners.
    #[test]
    fn fast_lanes_match_the_spec_per_sample() {
        let tilted = [1.5, -2.0, 0.25, 0.3, -0.2, -1.0, 0.1, 1.0, 0.2];
        let models = [
            PannerAttributes::default(),
            PannerAttributes {
                distance_model: DistanceModel::Linear,
                max_distance: 30.0,
                rolloff_factor: 0.8,
                ..PannerAttributes::default()
            },
            PannerAttributes {
                rolloff_factor: 0.0,
                ..PannerAttributes::default()
            },
        ];
        let input: [f32; RENDER_QUANTUM] = std::array::from_fn(|i| ((i as f32) * 0.37).sin() * 0.9);
        let other: [f32; RENDER_QUANTUM] = std::array::from_fn(|i| ((i as f32) * 0.11).cos());
        let (mut worst, mut frames) = (0.0f64, 0);
        for listener in [LISTENER, tilted] {
            for a in &models {
                for path in 0..96 {
                    // A ramp of 128 frames from one point to another around the listener; the
                    // first ones cross the listener's position (a line through it).
                    let angle = f64::from(path) * 0.4;
                    let radius = if path < 8 {
                        0.0
                    } else {
                        0.3 + f64::from(path % 13)
                    };
                    let at = |t: f64, k: usize| -> f32 {
                        let c = [angle.sin(), 0.2 * angle.cos(), -angle.cos()][k];
                        let sweep = [3.0, 0.5, 2.0][k] * (t - 0.5);
                        (f64::from(listener[k]) + radius * c + sweep) as f32
                    };
                    let lanes: [[f32; RENDER_QUANTUM]; 3] =
                        std::array::from_fn(|k| std::array::from_fn(|i| at(i as f64 / 127.0, k)));
                    let values: [&[f32]; 6] =
                        [&lanes[0], &lanes[1], &lanes[2], &[1.0], &[0.0], &[0.0]];
                    let params = Params::new(&values);
                    let fast = FastLanes::new(params, listener, DistanceGain::new(a))
                        .expect("the fast path covers this case");
                    for stereo in [false, true] {
                        let mut bus = AudioBus::with_capacity(2);
                        bus.set_channels(1 + usize::from(stereo));
                        bus.channel_mut(0).copy_from_slice(&input);
                        if stereo {
                            bus.channel_mut(1).copy_from_slice(&other);
                        }
                        let (mut left, mut right) = ([0.0; RENDER_QUANTUM], [0.0; RENDER_QUANTUM]);
                        fast.render(&bus, &mut left, &mut right);
                        for i in 0..RENDER_QUANTUM {
                            let g = geometry(panner_at(params, i), listener, a);
                            let m = spec_mix(g.azimuth, stereo);
                            let gain = distance_gain(g.distance, a);
                            let (xl, xr) = (f64::from(input[i]), f64::from(other[i]));
                            let (want_l, want_r) = if stereo {
                                (xl * m.ll + xr * m.rl, xl * m.lr + xr * m.rr)
                            } else {
                                (xl * m.ll, xl * m.lr)
                            };
                            worst = worst
                                .max((f64::from(left[i]) - want_l * gain).abs())
                                .max((f64::from(right[i]) - want_r * gain).abs());
                            frames += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(frames, 2 * 3 * 96 * 2 * RENDER_QUANTUM);
        assert!(worst < 1e-6, "f32 lanes differ from the spec by {worst:e}");
        // A source exactly beside the listener: the far ear gets exactly nothing.
        assert_eq!(mono_lane_gains(3.0, 0.0), (0.0, 1.0));
        assert_eq!(mono_lane_gains(-0.5, 0.0), (1.0, 0.0));
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert_eq!(mono_lane_gains(0.0, 0.0), (half, half));
    }

    /// Coordinates beyond ±2⁴⁰ and the exponential model are left to the f64 path.
    #[test]
    fn fast_lanes_leave_what_they_do_not_cover_to_the_f64_path() {
        let far = [[3.0e12_f32], [0.0], [-1.0]];
        let values: [&[f32]; 6] = [&far[0], &far[1], &far[2], &[1.0], &[0.0], &[0.0]];
        let a = PannerAttributes::default();
        assert!(FastLanes::new(Params::new(&values), LISTENER, DistanceGain::new(&a)).is_none());
        let near = [[3.0_f32], [0.0], [-1.0]];
        let values: [&[f32]; 6] = [&near[0], &near[1], &near[2], &[1.0], &[0.0], &[0.0]];
        let exponential = PannerAttributes {
            distance_model: DistanceModel::Exponential,
            ..a
        };
        let params = Params::new(&values);
        assert!(FastLanes::new(params, LISTENER, DistanceGain::new(&exponential)).is_none());
        assert!(FastLanes::new(params, LISTENER, DistanceGain::new(&a)).is_some());
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
