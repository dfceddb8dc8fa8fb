//! The compiled schedule the render thread walks each quantum: steps in processing order and
//! the buffer pool they read and write. Built by `crate::graph` on the control thread and
//! swapped in whole; the replaced one goes back to be dropped there.

use super::bus::AudioBus;
use crate::command::RenderId;
use crate::node::{ChannelConfig, ProcessPhase};
use crate::param::ParamSlot;

/// What a step does with its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Run the processor in this phase.
    Process(ProcessPhase),
    /// The node is in a cycle without a delay: its outputs are silence.
    Silent,
}

/// One node's work in the order.
#[derive(Clone, Debug)]
pub struct Step {
    /// The node's render id.
    pub node: RenderId,
    /// What to do.
    pub kind: StepKind,
    /// Its channel configuration (for input mixing).
    pub config: ChannelConfig,
    /// Per input: the pool buffers summed into it.
    pub inputs: Vec<Vec<usize>>,
    /// Per connected param (by its slot): the pool buffers summed into it.
    pub params: Vec<(ParamSlot, Vec<usize>)>,
    /// The pool buffer of each output.
    pub outputs: Vec<usize>,
}

/// Steps plus the storage they need, all allocated on the control thread.
#[derive(Debug)]
pub struct Schedule {
    pub(crate) steps: Vec<Step>,
    pub(crate) buffers: Vec<AudioBus>,
    /// Input mixing scratch (one per input of the widest node).
    pub(crate) inputs: Vec<AudioBus>,
    /// Output staging (outputs are moved here while a processor runs).
    pub(crate) outputs: Vec<AudioBus>,
    /// Mono scratch for down-mixing a param's audio-rate input.
    pub(crate) param_input: AudioBus,
    /// The destination's output buffer, if there is a destination.
    pub(crate) destination: Option<usize>,
    /// The listener node's render id: its params are copied into the listener slot after
    /// they are computed (the compiler orders it before every panner).
    pub(crate) listener: Option<RenderId>,
}

impl Schedule {
    /// A schedule with `buffers` pool buffers of `capacity` channels.
    pub fn new(
        steps: Vec<Step>,
        buffers: usize,
        capacity: usize,
        max_inputs: usize,
        max_outputs: usize,
        destination: Option<usize>,
    ) -> Self {
        Self {
            steps,
            buffers: (0..buffers)
                .map(|_| AudioBus::with_capacity(capacity))
                .collect(),
            inputs: (0..max_inputs)
                .map(|_| AudioBus::with_capacity(capacity))
                .collect(),
            outputs: Vec::with_capacity(max_outputs),
            param_input: AudioBus::with_capacity(1),
            destination,
            listener: None,
        }
    }

    /// An empty schedule (no nodes): renders silence.
    pub fn empty() -> Self {
        Self::new(Vec::new(), 0, 1, 0, 0, None)
    }

    /// The steps, in processing order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}
