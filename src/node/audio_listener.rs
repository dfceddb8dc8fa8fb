//! `AudioListener`: the context's listener — position, forward and up, as a-rate params.
//!
//! # Design
//! In the spec the listener is not a node but a context attribute whose params every
//! `PannerNode` reads. Here it is a component on one entity (usually the camera) and, on the
//! render side, a node with no inputs and no outputs: its params get everything params have
//! (the timeline, automation, audio-rate connections into `positionX` …, timeline growth)
//! without special cases. The schedule compiler puts it before every node whose
//! [`SpatialRole`] is `Panner` (an implicit ordering edge), and the renderer copies its nine
//! computed params into a render-side slot, [`ListenerValues`], right after computing them;
//! every later processor sees that slot as [`ProcessIo::listener`](super::ProcessIo). Without
//! a listener entity the slot holds the spec's defaults (origin, forward −Z, up +Y).
//!
//! One listener per context: a second `AudioListener` entity is ignored with a warning (the
//! first one added stays the listener until it is removed; then the next oldest takes over).
//!
//! With [`SpatialAudio`](crate::ecs::spatial::SpatialAudio)'s sync, an `AudioListener` on an
//! entity with a `GlobalTransform` follows it: position, forward = Bevy's −Z, up = +Y.

use bevy::prelude::*;

use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, NodeShape, ProcessContext, ProcessIo,
    ProcessPhase, ProcessStatus, SpatialRole,
};
use crate::error::AudioParamError;
use crate::param::{AudioParam, ParamDescriptor, ParamId};
use crate::render::bus::RENDER_QUANTUM;

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

/// The spec's defaults, in [`ListenerValues`] order: position, forward, up.
pub const LISTENER_DEFAULTS: [f32; 9] = [0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0];

const fn param(default: f32) -> ParamDescriptor {
    ParamDescriptor::a_rate(default, -ParamDescriptor::MAX, ParamDescriptor::MAX)
}

impl Default for AudioListener {
    fn default() -> Self {
        let p = |k: usize| AudioParam::new(param(LISTENER_DEFAULTS[k]));
        Self {
            position_x: p(0),
            position_y: p(1),
            position_z: p(2),
            forward_x: p(3),
            forward_y: p(4),
            forward_z: p(5),
            up_x: p(6),
            up_y: p(7),
            up_z: p(8),
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

    /// The params in [`ListenerValues`] order.
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

    fn for_each_param(&mut self, f: &mut dyn FnMut(ParamId, &mut AudioParam)) {
        let ids = [
            ParamId::PositionX,
            ParamId::PositionY,
            ParamId::PositionZ,
            ParamId::ForwardX,
            ParamId::ForwardY,
            ParamId::ForwardZ,
            ParamId::UpX,
            ParamId::UpY,
            ParamId::UpZ,
        ];
        for (id, p) in ids.into_iter().zip(self.params_mut()) {
            f(id, p);
        }
    }

    fn attributes(&self) {}

    fn build_processor(&self, _ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(ListenerProcessor)
    }
}

/// The listener's render-side node does nothing itself: the renderer copies its computed
/// params into [`ListenerValues`].
struct ListenerProcessor;

impl AudioProcessor for ListenerProcessor {
    fn process(&mut self, _: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        ProcessStatus::Active
    }
}

/// The listener's nine computed params for the current quantum (render side): position,
/// forward, up, each 1 value (constant this quantum) or 128 (a-rate, automated).
#[derive(Clone, Debug)]
pub struct ListenerValues {
    values: [[f32; RENDER_QUANTUM]; 9],
    len: [usize; 9],
}

impl Default for ListenerValues {
    fn default() -> Self {
        let mut v = Self {
            values: [[0.0; RENDER_QUANTUM]; 9],
            len: [1; 9],
        };
        v.reset();
        v
    }
}

impl ListenerValues {
    /// Back to the spec's defaults. Called on the real-time thread.
    pub fn reset(&mut self) {
        for (k, d) in LISTENER_DEFAULTS.iter().enumerate() {
            self.values[k][0] = *d;
            self.len[k] = 1;
        }
    }

    /// Sets param `k` (0..9) from a computed param. Called on the real-time thread.
    pub fn set(&mut self, k: usize, values: &[f32]) {
        if k < 9 {
            let n = values.len().clamp(1, RENDER_QUANTUM);
            self.values[k][..n].copy_from_slice(&values[..n]);
            self.len[k] = n;
        }
    }

    /// Param `k`'s values this quantum (1 or 128 of them).
    pub fn param(&self, k: usize) -> &[f32] {
        &self.values[k][..self.len[k]]
    }

    /// Whether any param changes within this quantum.
    pub fn is_automated(&self) -> bool {
        self.len.iter().any(|&n| n > 1)
    }

    /// All nine at sample `i` (a constant param repeats its value).
    #[inline]
    pub fn at(&self, i: usize) -> [f32; 9] {
        std::array::from_fn(|k| {
            if self.len[k] > 1 {
                self.values[k][i]
            } else {
                self.values[k][0]
            }
        })
    }
}
