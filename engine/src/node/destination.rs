//! The destination's processor: passes its mixed input through; the renderer reads its output.

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;

/// Passes the mixed input through; the renderer reads this node's output.
pub struct DestinationProcessor;

impl AudioProcessor for DestinationProcessor {
    type Params = NoParams;
    type Message = ();

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        io.outputs[0].copy_from(&io.inputs[0]);
        ProcessStatus::Active
    }
}
