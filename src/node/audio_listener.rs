//! `AudioListener`: the context's listener — position, forward and up, as a-rate params.
//!
//! # Design
//! In the spec the listener is not a node but a context attribute whose params every
//! `PannerNode` reads. Here it is a component on one entity (usually the camera) and, on the
//! render side, a node with no inputs and no outputs: its params get everything params have
//! (the timeline, automation, audio-rate connections into `positionX` …, timeline growth)
//! without special cases. The schedule compiler puts it before every node whose
//! [`SpatialRole`] is `Panner` (an implicit ordering edge), and the renderer copies its nine
//! computed params into a render-side slot, `ListenerValues`, right after computing them;
//! every later processor sees that slot as `ProcessIo::listener`. Without
//! a listener entity the slot holds the spec's defaults (origin, forward −Z, up +Y).
//!
//! One listener per context: a second `AudioListener` entity is ignored with a warning (the
//! first one added stays the listener until it is removed; then the next oldest takes over).
//!
//! With [`SpatialAudio`](crate::ecs::spatial::SpatialAudio)'s sync, an `AudioListener` on an
//! entity with a `GlobalTransform` follows it: position, forward = Bevy's −Z, up = +Y.

use bevy::prelude::*;

use webaudio_engine::node::audio_listener::{ListenerParam, ListenerProcessor};
use webaudio_engine::param::NodeParams;

use super::{AudioNode, BuildContext, ChannelConfig, NodeShape, SpatialRole};
use crate::error::AudioParamError;
use crate::param::AudioParam;

/// The spec's `AudioListener` as a component: nine a-rate params. Put it on one entity (the
/// camera, usually); with a `GlobalTransform` it follows the entity.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut listener = AudioListener::default();
/// listener.position_x.linear_ramp_to_value_at_time(3.0, 1.0)?;
/// listener.set_orientation(1.0, 0.0, 0.0, 0.0, 1.0, 0.0)?; // look along +X
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct AudioListener {
    /// `positionX` (default 0).
    pub position_x: AudioParam,
    /// `positionY` (default 0).
    pub position_y: AudioParam,
    /// `positionZ` (default 0).
    pub position_z: AudioParam,
    /// `forwardX` (default 0).
    pub forward_x: AudioParam,
    /// `forwardY` (default 0).
    pub forward_y: AudioParam,
    /// `forwardZ` (default −1).
    pub forward_z: AudioParam,
    /// `upX` (default 0).
    pub up_x: AudioParam,
    /// `upY` (default 1).
    pub up_y: AudioParam,
    /// `upZ` (default 0).
    pub up_z: AudioParam,
}

impl Default for AudioListener {
    fn default() -> Self {
        let p = |param: ListenerParam| AudioParam::new(param.descriptor());
        Self {
            position_x: p(ListenerParam::PositionX),
            position_y: p(ListenerParam::PositionY),
            position_z: p(ListenerParam::PositionZ),
            forward_x: p(ListenerParam::ForwardX),
            forward_y: p(ListenerParam::ForwardY),
            forward_z: p(ListenerParam::ForwardZ),
            up_x: p(ListenerParam::UpX),
            up_y: p(ListenerParam::UpY),
            up_z: p(ListenerParam::UpZ),
        }
    }
}

impl AudioListener {
    /// The deprecated `setPosition(x, y, z)`: assigns the three params' values.
    ///
    /// # Errors
    /// `RangeError` for a non-finite value.
    pub fn set_position(&mut self, x: f32, y: f32, z: f32) -> Result<&mut Self, AudioParamError> {
        let [px, py, pz, ..] = self.params_mut();
        AudioParam::set_values([px, py, pz], [x, y, z])?;
        Ok(self)
    }

    /// The deprecated `setOrientation(x, y, z, xUp, yUp, zUp)`: assigns forward and up.
    ///
    /// # Errors
    /// `RangeError` for a non-finite value.
    pub fn set_orientation(
        &mut self,
        x: f32,
        y: f32,
        z: f32,
        x_up: f32,
        y_up: f32,
        z_up: f32,
    ) -> Result<&mut Self, AudioParamError> {
        let [_, _, _, fx, fy, fz, ux, uy, uz] = self.params_mut();
        AudioParam::set_values([fx, fy, fz, ux, uy, uz], [x, y, z, x_up, y_up, z_up])?;
        Ok(self)
    }

    /// The params in geometry order: position, forward, up.
    pub(crate) fn params(&self) -> [&AudioParam; 9] {
        [
            &self.position_x,
            &self.position_y,
            &self.position_z,
            &self.forward_x,
            &self.forward_y,
            &self.forward_z,
            &self.up_x,
            &self.up_y,
            &self.up_z,
        ]
    }

    /// The params in geometry order: position, forward, up.
    pub(crate) fn params_mut(&mut self) -> [&mut AudioParam; 9] {
        [
            &mut self.position_x,
            &mut self.position_y,
            &mut self.position_z,
            &mut self.forward_x,
            &mut self.forward_y,
            &mut self.forward_z,
            &mut self.up_x,
            &mut self.up_y,
            &mut self.up_z,
        ]
    }
}

impl AudioNode for AudioListener {
    type Processor = ListenerProcessor;
    type Attributes = ();
    const NAME: &'static str = "AudioListener";
    const SPATIAL: SpatialRole = SpatialRole::Listener;

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 0,
            outputs: 0,
            is_delay: false,
        }
    }

    fn param_mut(&mut self, param: ListenerParam) -> &mut AudioParam {
        match param {
            ListenerParam::PositionX => &mut self.position_x,
            ListenerParam::PositionY => &mut self.position_y,
            ListenerParam::PositionZ => &mut self.position_z,
            ListenerParam::ForwardX => &mut self.forward_x,
            ListenerParam::ForwardY => &mut self.forward_y,
            ListenerParam::ForwardZ => &mut self.forward_z,
            ListenerParam::UpX => &mut self.up_x,
            ListenerParam::UpY => &mut self.up_y,
            ListenerParam::UpZ => &mut self.up_z,
        }
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> ListenerProcessor {
        ListenerProcessor
    }
}
