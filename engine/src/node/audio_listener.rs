//! The listener's render side: its nine params' declarations, its (empty) processor, and
//! [`ListenerValues`], the slot every panner reads this quantum's listener from.
//!
//! The listener is not a node in the spec but a context attribute whose params every panner
//! reads. Here it is a render node with no inputs and no outputs, so its params get everything
//! params have (timeline, automation, audio-rate connections, timeline growth). The schedule
//! compiler runs it before every node whose [`SpatialRole`](super::SpatialRole) is `Panner`,
//! and the renderer copies its computed params into [`ListenerValues`] right after computing
//! them. Without a listener the slot holds the spec's defaults (origin, forward −Z, up +Y).

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{NodeParams, ParamDescriptor, ParamId};
use crate::render::bus::RENDER_QUANTUM;

const fn param(default: f32) -> ParamDescriptor {
    ParamDescriptor::a_rate(default, -ParamDescriptor::MAX, ParamDescriptor::MAX)
}

node_params! {
    /// `AudioListener`'s params: position, forward and up, all a-rate and unbounded.
    pub enum ListenerParam {
        /// `positionX` (default 0).
        PositionX = (ParamId::PositionX, param(0.0)),
        /// `positionY` (default 0).
        PositionY = (ParamId::PositionY, param(0.0)),
        /// `positionZ` (default 0).
        PositionZ = (ParamId::PositionZ, param(0.0)),
        /// `forwardX` (default 0).
        ForwardX = (ParamId::ForwardX, param(0.0)),
        /// `forwardY` (default 0).
        ForwardY = (ParamId::ForwardY, param(0.0)),
        /// `forwardZ` (default −1).
        ForwardZ = (ParamId::ForwardZ, param(-1.0)),
        /// `upX` (default 0).
        UpX = (ParamId::UpX, param(0.0)),
        /// `upY` (default 1).
        UpY = (ParamId::UpY, param(1.0)),
        /// `upZ` (default 0).
        UpZ = (ParamId::UpZ, param(0.0)),
    }
}

/// The listener's params in geometry order (position, forward, up), as [`ListenerValues::at`]
/// returns them.
pub const GEOMETRY_ORDER: [ListenerParam; 9] = [
    ListenerParam::PositionX,
    ListenerParam::PositionY,
    ListenerParam::PositionZ,
    ListenerParam::ForwardX,
    ListenerParam::ForwardY,
    ListenerParam::ForwardZ,
    ListenerParam::UpX,
    ListenerParam::UpY,
    ListenerParam::UpZ,
];

/// The listener's render-side node does nothing itself: the renderer copies its computed
/// params into [`ListenerValues`].
pub struct ListenerProcessor;

impl AudioProcessor for ListenerProcessor {
    type Params = ListenerParam;
    type Message = ();

    fn process(
        &mut self,
        _: ProcessIo<'_, ListenerParam>,
        _: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
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
        for &p in ListenerParam::ALL {
            let k = p.slot().index();
            self.values[k][0] = p.descriptor().default_value;
            self.len[k] = 1;
        }
    }

    /// Sets the param in slot `k` (0..9, a [`ListenerParam`] slot) from its computed values.
    /// Called on the real-time thread.
    pub fn set(&mut self, k: usize, values: &[f32]) {
        if k < 9 {
            let n = values.len().clamp(1, RENDER_QUANTUM);
            self.values[k][..n].copy_from_slice(&values[..n]);
            self.len[k] = n;
        }
    }

    /// `param`'s values this quantum (1 or 128 of them).
    pub fn param(&self, param: ListenerParam) -> &[f32] {
        let k = param.slot().index();
        &self.values[k][..self.len[k]]
    }

    /// Whether any param changes within this quantum.
    pub fn is_automated(&self) -> bool {
        self.len.iter().any(|&n| n > 1)
    }

    /// All nine at sample `i` in [`GEOMETRY_ORDER`] (a constant param repeats its value).
    #[inline]
    pub fn at(&self, i: usize) -> [f32; 9] {
        std::array::from_fn(|g| {
            let k = GEOMETRY_ORDER[g].slot().index();
            if self.len[k] > 1 {
                self.values[k][i]
            } else {
                self.values[k][0]
            }
        })
    }
}
