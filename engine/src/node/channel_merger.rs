//! `ChannelMergerNode`'s render side: each input (down-mixed to mono) becomes one channel of
//! the output; an unconnected input is a silent channel. When no input carries sound (every
//! input bus is silent), the output is one channel of silence, as the spec says for inputs
//! that are not actively processing.

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;

/// Combines its mono inputs into one output whose channel `k` is input `k`.
pub struct ChannelMergerProcessor;

impl ChannelMergerProcessor {
    /// A channel merger (it has no state; the number of inputs is the render node's).
    pub fn new() -> Self {
        Self
    }
}

impl Default for ChannelMergerProcessor {
    fn default() -> Self {
        Self::new()
    }
}

impl AudioProcessor for ChannelMergerProcessor {
    type Params = NoParams;
    type Message = ();

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let Some(output) = io.outputs.first_mut() else {
            return ProcessStatus::Active;
        };
        if io.inputs.iter().all(|input| input.is_silent()) {
            output.make_silent(1);
            return ProcessStatus::Active;
        }
        output.set_channels(io.inputs.len());
        for (out, input) in output.channels_mut().iter_mut().zip(io.inputs) {
            if input.is_silent() {
                out.fill(0.0);
            } else {
                out.copy_from_slice(input.channel(0));
            }
        }
        ProcessStatus::Active
    }
}
