//! `ChannelSplitterNode`'s render side: one input, one mono output per channel; output `k`
//! carries input channel `k` (silence when the input has fewer channels).

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::param::NoParams;

/// Splits its input's channels into mono outputs.
pub struct ChannelSplitterProcessor;

impl ChannelSplitterProcessor {
    /// A channel splitter (it has no state; the number of outputs is the render node's).
    pub fn new() -> Self {
        Self
    }
}

impl Default for ChannelSplitterProcessor {
    fn default() -> Self {
        Self::new()
    }
}

impl AudioProcessor for ChannelSplitterProcessor {
    type Params = NoParams;
    type Message = ();

    fn process(&mut self, io: ProcessIo<'_>, _: &ProcessContext, _: ProcessPhase) -> ProcessStatus {
        let Some(input) = io.inputs.first() else {
            return ProcessStatus::Active;
        };
        for (k, output) in io.outputs.iter_mut().enumerate() {
            if input.is_silent() || k >= input.channels() {
                output.make_silent(1);
            } else {
                output.set_channels(1);
                output.channel_mut(0).copy_from_slice(input.channel(k));
            }
        }
        ProcessStatus::Active
    }
}
