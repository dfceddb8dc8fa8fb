//! `PannerNode`: positions a mono or stereo input in 3D relative to the context's
//! [`AudioListener`](super::audio_listener::AudioListener), with the spec's equal-power panning
//! or binaural (HRTF) rendering, distance models and sound cones.
//!
//! - **equalpower**: the spec's algorithm exactly (azimuth, elevation, distance and cone gain
//!   per sample whenever a panner or listener param is automated this quantum, once per
//!   quantum otherwise), in `f64`.
//! - **HRTF**: see [`webaudio_engine::node::panner::hrtf`] — the measured set every browser
//!   ships (IRCAM LISTEN "Composite", public domain, stored in the engine crate) rendered with
//!   the browsers' scheme (per-ear frame delay + FFT convolution, crossfade on direction
//!   changes). As the spec says, its params are effectively k-rate: position and
//!   orientation are sampled at each quantum's first frame, and the renderer glides between
//!   quanta so motion is click-free.
//! - Distance (`linear`, `inverse`, `exponential`) and cone gains follow the spec's
//!   formulas. The cone uses the listener-minus-source vector, as browsers do: the spec's
//!   pseudo-code writes `sourcePosition.diff(listenerPosition)`, which would put a source
//!   facing the listener in its *outer* cone.

//!
//! The processor, the params' declarations ([`PannerParam`]) and the geometry helpers
//! ([`geometry`], [`distance_gain`], [`equal_power_gains`], ...) live in
//! `webaudio_engine::node::panner` and are re-exported here.

use bevy::prelude::*;

pub use webaudio_engine::node::panner::{
    DistanceModel, PannerAttributes, PannerParam, PannerProcessor, PanningModel, SourceGeometry,
    distance_gain, equal_power_gains, fold_azimuth, geometry, hrtf,
};
use webaudio_engine::param::NodeParams;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, MessageOf,
    NodeShape, OutputChannels, SpatialRole,
};
use crate::error::{AudioParamError, WebAudioError};
use crate::param::AudioParam;

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

impl Default for PannerNode {
    fn default() -> Self {
        Self::new(PanningModel::EqualPower)
    }
}

impl PannerNode {
    /// A panner with the spec's defaults and the given panning model.
    pub fn new(panning_model: PanningModel) -> Self {
        Self {
            position_x: AudioParam::new(PannerParam::PositionX.descriptor()),
            position_y: AudioParam::new(PannerParam::PositionY.descriptor()),
            position_z: AudioParam::new(PannerParam::PositionZ.descriptor()),
            orientation_x: AudioParam::new(PannerParam::OrientationX.descriptor()),
            orientation_y: AudioParam::new(PannerParam::OrientationY.descriptor()),
            orientation_z: AudioParam::new(PannerParam::OrientationZ.descriptor()),
            attributes: PannerAttributes {
                panning_model,
                ..default()
            },
        }
    }

    /// Initial position (`PannerOptions.positionX/Y/Z`): the params' intrinsic values (a
    /// non-finite one becomes 0, with a warning; [`PannerNode::try_with_position`] returns the
    /// error).
    pub fn with_position(mut self, x: f32, y: f32, z: f32) -> Self {
        self.position_x = AudioParam::with_value(PannerParam::PositionX.descriptor(), x);
        self.position_y = AudioParam::with_value(PannerParam::PositionY.descriptor(), y);
        self.position_z = AudioParam::with_value(PannerParam::PositionZ.descriptor(), z);
        self
    }

    /// Initial position, checked.
    ///
    /// # Errors
    /// `RangeError` for a non-finite coordinate (the spec's WebIDL `TypeError`).
    pub fn try_with_position(mut self, x: f32, y: f32, z: f32) -> Result<Self, WebAudioError> {
        let p = |id: PannerParam, v: f32| AudioParam::try_with_value(id.descriptor(), v);
        let (px, py, pz) = (
            p(PannerParam::PositionX, x)?,
            p(PannerParam::PositionY, y)?,
            p(PannerParam::PositionZ, z)?,
        );
        (self.position_x, self.position_y, self.position_z) = (px, py, pz);
        Ok(self)
    }

    /// Initial orientation, checked.
    ///
    /// # Errors
    /// `RangeError` for a non-finite component (the spec's WebIDL `TypeError`).
    pub fn try_with_orientation(mut self, x: f32, y: f32, z: f32) -> Result<Self, WebAudioError> {
        let p = |id: PannerParam, v: f32| AudioParam::try_with_value(id.descriptor(), v);
        let (ox, oy, oz) = (
            p(PannerParam::OrientationX, x)?,
            p(PannerParam::OrientationY, y)?,
            p(PannerParam::OrientationZ, z)?,
        );
        (self.orientation_x, self.orientation_y, self.orientation_z) = (ox, oy, oz);
        Ok(self)
    }

    /// Initial orientation (`PannerOptions.orientationX/Y/Z`).
    pub fn with_orientation(mut self, x: f32, y: f32, z: f32) -> Self {
        self.orientation_x = AudioParam::with_value(PannerParam::OrientationX.descriptor(), x);
        self.orientation_y = AudioParam::with_value(PannerParam::OrientationY.descriptor(), y);
        self.orientation_z = AudioParam::with_value(PannerParam::OrientationZ.descriptor(), z);
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
    type Processor = PannerProcessor;
    type Attributes = PannerAttributes;
    const NAME: &'static str = "PannerNode";
    const SPATIAL: SpatialRole = SpatialRole::Panner;

    fn shape(&self) -> NodeShape {
        NodeShape::ONE_TO_ONE
    }

    fn param_mut(&mut self, param: PannerParam) -> &mut AudioParam {
        match param {
            PannerParam::PositionX => &mut self.position_x,
            PannerParam::PositionY => &mut self.position_y,
            PannerParam::PositionZ => &mut self.position_z,
            PannerParam::OrientationX => &mut self.orientation_x,
            PannerParam::OrientationY => &mut self.orientation_y,
            PannerParam::OrientationZ => &mut self.orientation_z,
        }
    }

    fn attributes(&self) -> PannerAttributes {
        self.attributes
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> PannerProcessor {
        PannerProcessor::new(self.attributes, ctx.sample_rate)
    }

    fn attributes_message(&self, _ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(self.attributes)
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(2)
    }

    fn validate_channels(&self, config: &ChannelConfig) -> Result<(), WebAudioError> {
        Self::validate_channels(config)
    }
}
