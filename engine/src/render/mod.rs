//! The render side: real-time safe code only (no Bevy types, no allocation, no locks, no
//! logging, no panics in steady state).
//!
//! [`Renderer`] owns the node arena and the compiled schedule, applies [`Command`]s at the
//! start of each render quantum, runs the steps, and hands out the destination's output. The
//! cpal callback, the null backend's thread and the offline `render()` all drive the same
//! `Renderer`.

pub mod bus;
pub mod fault;
pub mod mix;
pub mod probe;
pub mod schedule;
pub mod timeline;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bus::{AudioBus, RENDER_QUANTUM};
use schedule::{Schedule, StepKind};
use timeline::{AutomationEvent, Timeline};

use crate::command::{Command, Feedback, Garbage, RenderChannel, RenderId, RenderShared};
use crate::node::audio_listener::ListenerValues;
use crate::node::{
    AudioProcessor, BoxedProcessor, ChannelInterpretation, ErasedIo, ProcessContext, ProcessPhase,
    ProcessStatus,
};
use crate::param::{AutomationRate, NodeParams, ParamDescriptor, ParamSlot};

/// The most params one node may have.
pub const MAX_PARAMS: usize = 16;

/// The most commands applied from the ring before one render quantum; the rest wait for the
/// next quanta, in order (see [`RenderShared::deferred_quanta`]). Offline rendering applies
/// its backlog directly, without a budget.
pub const COMMAND_BUDGET: usize = 1024;

/// Node slots, indexed by [`RenderId::slot`].
pub type NodeArena = Vec<Option<Box<RenderNode>>>;

/// One param's render-side state: timeline, rate, range, and this quantum's values.
#[derive(Debug)]
pub struct ParamState {
    timeline: Timeline,
    rate: AutomationRate,
    min: f32,
    max: f32,
    default: f32,
    values: [f32; RENDER_QUANTUM],
    len: usize,
}

impl ParamState {
    /// A param holding `initial`, with room for `capacity` events. Control thread only.
    pub fn new(
        descriptor: &ParamDescriptor,
        sample_rate: f32,
        initial: f32,
        rate: AutomationRate,
        capacity: usize,
    ) -> Self {
        let (min, max) = descriptor.range_at(sample_rate);
        Self {
            timeline: Timeline::new(initial, capacity),
            rate,
            min,
            max,
            default: descriptor.default_value,
            values: [initial; RENDER_QUANTUM],
            len: 1,
        }
    }

    /// This quantum's computed values (1 when constant or k-rate, else 128).
    pub fn values(&self) -> &[f32] {
        &self.values[..self.len]
    }

    /// The timeline's event capacity.
    pub fn capacity(&self) -> usize {
        self.timeline.capacity()
    }

    /// Computes the intrinsic values for the quantum at `frame`.
    fn compute(&mut self, frame: u64, sample_rate: f64, garbage: &mut impl FnMut(Box<[f32]>)) {
        self.len = match self.rate {
            AutomationRate::KRate => {
                self.timeline
                    .compute(frame, sample_rate, &mut self.values[..1], garbage);
                1
            }
            AutomationRate::ARate => {
                // Only values[0] is read while the param is constant: no 128-value fill.
                if let Some(v) = self.timeline.constant(frame, sample_rate, RENDER_QUANTUM) {
                    self.values[0] = v;
                    1
                } else {
                    self.timeline
                        .compute_varying(frame, sample_rate, &mut self.values, garbage);
                    RENDER_QUANTUM
                }
            }
        };
    }

    /// Advances the timeline through the quantum at `frame` without computing values (the
    /// node does not read this param this quantum); `values()` keeps the previous ones.
    fn skip(&mut self, frame: u64, sample_rate: f64, garbage: &mut impl FnMut(Box<[f32]>)) {
        let len = match self.rate {
            AutomationRate::KRate => 1,
            AutomationRate::ARate => RENDER_QUANTUM,
        };
        self.timeline.skip(frame, sample_rate, len, garbage);
    }

    /// Whether this quantum's single value holds for good (no events, no running automation):
    /// the renderer may then stop computing the param until a command changes it.
    fn is_settled(&self) -> bool {
        self.len == 1 && self.timeline.is_held()
    }

    /// Whether the value varied within this quantum or events are still to come.
    fn is_automating(&self) -> bool {
        self.len > 1 || !self.timeline.is_empty()
    }

    /// Adds a down-mixed audio-rate input (spec: computedValue = intrinsic + input).
    fn add_input(&mut self, input: &[f32; RENDER_QUANTUM]) {
        match self.rate {
            AutomationRate::KRate => self.values[0] += input[0],
            AutomationRate::ARate => {
                if self.len == 1 {
                    let v = self.values[0];
                    self.values.fill(v);
                    self.len = RENDER_QUANTUM;
                }
                for (v, i) in self.values.iter_mut().zip(input) {
                    *v += i;
                }
            }
        }
    }

    /// Clamps to the nominal range; NaN becomes the default value (spec).
    fn finish(&mut self) {
        let (min, max, default) = (self.min, self.max, self.default);
        if self.len == 1 {
            self.values[0] = clamp_or_default(self.values[0], min, max, default);
        } else {
            // Branch-free over the whole quantum, so it vectorizes.
            for v in &mut self.values {
                *v = clamp_or_default(*v, min, max, default);
            }
        }
    }
}

/// `v` clamped to `min..=max`, or `default` when `v` is NaN (the spec's computedValue rule).
#[inline(always)]
fn clamp_or_default(v: f32, min: f32, max: f32, default: f32) -> f32 {
    let clamped = if v < min {
        min
    } else if v > max {
        max
    } else {
        v
    };
    if v.is_nan() { default } else { clamped }
}

/// A param's starting state, for [`RenderNode::build`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamInit {
    /// Default, nominal range (resolved at the sample rate), rate.
    pub descriptor: ParamDescriptor,
    /// The intrinsic value.
    pub value: f32,
    /// `automationRate`.
    pub rate: AutomationRate,
}

impl ParamInit {
    /// A declared param at its default value and rate.
    pub fn declared(param: impl NodeParams) -> Self {
        let descriptor = param.descriptor();
        Self {
            descriptor,
            value: descriptor.default_value,
            rate: descriptor.rate,
        }
    }

    /// Every param of `P` at its default (in slot order).
    pub fn defaults<P: NodeParams>() -> impl Iterator<Item = Self> {
        P::ALL.iter().map(|&p| Self::declared(p))
    }
}

/// A node on the render side: its processor and its params.
pub struct RenderNode {
    id: RenderId,
    processor: BoxedProcessor,
    params: Vec<ParamState>,
    /// The processor returned [`ProcessStatus::Ended`]: it is not run again and its outputs
    /// are one channel of silence from then on.
    ended: bool,
    /// Its processor panicked: it is never called again and outputs silence.
    faulted: bool,
    /// Its non-finite output was reported (once per node).
    reported_non_finite: bool,
    /// A dropped automation event was reported (once per node).
    reported_dropped_automation: bool,
    /// The inspector's read-backs, when the node's entity is `Metered`.
    probe: Option<Arc<probe::NodeProbe>>,
    meter: probe::MeterWindow,
    /// Params (bit = slot) whose value holds for good and that no audio drives: not computed
    /// again, their value served from `held`, until a command changes them.
    settled: u16,
    /// The value of each settled param.
    held: [f32; MAX_PARAMS],
}

impl std::fmt::Debug for RenderNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderNode")
            .field("params", &self.params.len())
            .finish()
    }
}

impl RenderNode {
    /// A node ready to send. Control thread only.
    /// Its id is given when it is added ([`Command::AddNode`]).
    pub fn new(processor: BoxedProcessor, params: Vec<ParamState>) -> Self {
        Self {
            id: RenderId::new(u32::MAX, u32::MAX),
            processor,
            params,
            ended: false,
            faulted: false,
            reported_non_finite: false,
            reported_dropped_automation: false,
            probe: None,
            meter: probe::MeterWindow::default(),
            settled: 0,
            held: [0.0; MAX_PARAMS],
        }
    }

    /// Param `index` is about to change (a command): computed again from the next quantum.
    /// (Its timeline needs no catching up: whatever the command starts begins at or after the
    /// next quantum, which is computed, so a setTarget never continues from a skipped one.)
    fn unsettle(&mut self, index: usize) {
        self.settled &= !param_bit(index);
    }

    /// A node of processor `processor` whose params start as `params` (one per slot, in slot
    /// order), each with room for `capacity` timeline events. Control thread only: this is how
    /// every host builds a node (the Bevy sync, tests, tools).
    pub fn build<P: AudioProcessor>(
        processor: P,
        sample_rate: f32,
        params: impl IntoIterator<Item = ParamInit>,
        capacity: usize,
    ) -> Box<Self> {
        let states = params
            .into_iter()
            .map(|p| ParamState::new(&p.descriptor, sample_rate, p.value, p.rate, capacity))
            .collect();
        Box::new(Self::new(Box::new(processor), states))
    }

    /// The params' states, in slot order.
    pub fn params(&self) -> &[ParamState] {
        &self.params
    }

    /// The node's id.
    pub fn id(&self) -> RenderId {
        self.id
    }
}

/// Returns feedback without allocating: the ring first, then a preallocated overflow queue
/// that is retried every quantum, oldest first (the protocol is FIFO); only if both are full
/// is garbage leaked (never freed here).
struct FeedbackSink {
    producer: rtrb::Producer<Feedback>,
    overflow: std::collections::VecDeque<Feedback>,
    shared: Arc<RenderShared>,
}

impl FeedbackSink {
    fn push(&mut self, feedback: Feedback) {
        if !self.overflow.is_empty() {
            self.retry();
        }
        let feedback = match self.producer.push(feedback) {
            Ok(()) => return,
            Err(rtrb::PushError::Full(f)) => f,
        };
        self.shared.feedback_stalls.fetch_add(1, Ordering::Relaxed);
        if self.overflow.len() < OVERFLOW_CAPACITY {
            self.overflow.push_back(feedback);
        } else {
            self.shared.leaked.fetch_add(1, Ordering::Relaxed);
            std::mem::forget(feedback);
        }
    }

    fn retry(&mut self) {
        while let Some(f) = self.overflow.pop_front() {
            if let Err(rtrb::PushError::Full(f)) = self.producer.push(f) {
                self.overflow.push_front(f);
                return;
            }
        }
    }

    fn garbage(&mut self, garbage: Garbage) {
        self.push(Feedback::Garbage(garbage));
    }
}

/// How many quanta after non-finite output every node's output is checked, to name the node.
const HUNT_QUANTA: u32 = 64;

/// Capacity of the feedback overflow list.
const OVERFLOW_CAPACITY: usize = 4096;

/// The graph renderer. Every method but [`Renderer::new`] is called on the real-time thread
/// (or the offline caller) and is real-time safe.
pub struct Renderer {
    nodes: NodeArena,
    schedule: Box<Schedule>,
    commands: rtrb::Consumer<Command>,
    sink: FeedbackSink,
    sample_rate: f32,
    channels: usize,
    frame: u64,
    shared: Arc<RenderShared>,
    out: AudioBus,
    out_pos: usize,
    /// The listener's params this quantum, read by panners.
    listener: Box<ListenerValues>,
    /// Quanta left in which every node's output is checked for non-finite samples, to name the
    /// node that made the ones the output had (a producer may make them only now and then).
    hunt_non_finite: u32,
}

impl Renderer {
    /// A renderer with room for `arena` nodes. Allocates: control thread only.
    pub fn new(
        channel: RenderChannel,
        shared: Arc<RenderShared>,
        sample_rate: f32,
        channels: usize,
        arena: usize,
    ) -> Self {
        Self {
            nodes: (0..arena).map(|_| None).collect(),
            schedule: Box::new(Schedule::empty()),
            commands: channel.commands,
            sink: FeedbackSink {
                producer: channel.feedback,
                overflow: std::collections::VecDeque::with_capacity(OVERFLOW_CAPACITY),
                shared: shared.clone(),
            },
            sample_rate,
            channels,
            frame: shared.frames(),
            shared,
            out: AudioBus::with_capacity(channels),
            out_pos: RENDER_QUANTUM,
            listener: Box::default(),
            hunt_non_finite: 0,
        }
    }

    /// The sample rate.
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    /// Output channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames rendered so far.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// The atomics this renderer writes.
    pub fn shared(&self) -> &Arc<RenderShared> {
        &self.shared
    }

    /// Applies one command (offline: directly, without the ring).
    pub fn apply(&mut self, command: Command) {
        let now = self.frame as f64 / f64::from(self.sample_rate);
        match command {
            Command::AddNode { id, node } => self.add_node(id, node),
            Command::RemoveNode { id } => {
                if let Some(node) = self.take_node(id) {
                    self.shared.live_nodes.fetch_sub(1, Ordering::Relaxed);
                    self.sink.garbage(Garbage::Node(node));
                }
            }
            Command::SetSchedule(schedule) => {
                let old = std::mem::replace(&mut self.schedule, schedule);
                self.sink.garbage(Garbage::Schedule(old));
            }
            Command::ParamEvent { node, param, event } => self.param_event(node, param, event, now),
            Command::Glide { node, glide } => {
                for (param, value) in glide.params() {
                    let hold = AutomationEvent::CancelAndHold {
                        cancel_time: glide.start,
                    };
                    self.param_event(node, param, hold, now);
                    let ramp = AutomationEvent::LinearRamp {
                        value,
                        end_time: glide.end,
                    };
                    self.param_event(node, param, ramp, now);
                }
            }
            Command::SetAutomationRate { node, param, rate } => {
                // A settled param holds one value: either rate gives it, so it stays settled.
                if let Some(state) = self.param_mut(node, param) {
                    state.rate = rate;
                }
            }
            Command::ReplaceTimeline {
                node,
                param,
                mut timeline,
            } => {
                let Self { nodes, sink, .. } = self;
                let mut garbage = |values| sink.garbage(Garbage::Curve(values));
                let dropped = node_in(nodes, node)
                    .and_then(|n| {
                        n.unsettle(param.index());
                        n.params.get_mut(param.index())
                    })
                    .map_or(0, |state| {
                        state.timeline.move_into(&mut timeline, &mut garbage)
                    });
                self.sink.garbage(Garbage::Timeline(timeline));
                if dropped > 0 {
                    self.automation_dropped(node, dropped as u64);
                }
            }
            Command::Schedule { node, event } => {
                if let Some(n) = self.node_mut(node) {
                    n.processor.schedule_erased(event);
                }
            }
            Command::Message { node, mut message } => {
                if let Some(n) = self.node_mut(node)
                    && n.processor.update_erased(&mut message).is_err()
                {
                    self.shared
                        .message_mismatches
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.sink.garbage(Garbage::Message(message));
            }
            Command::ReplaceArena(arena) => self.replace_arena(arena),
            Command::SetProbe { node, probe } => {
                let old = match self.node_mut(node) {
                    Some(n) => {
                        n.meter = probe::MeterWindow::default();
                        std::mem::replace(&mut n.probe, probe)
                    }
                    None => probe,
                };
                if let Some(old) = old {
                    self.sink.garbage(Garbage::Probe(old));
                }
            }
        }
        self.shared.commands_applied.fetch_add(1, Ordering::Relaxed);
    }

    fn add_node(&mut self, id: RenderId, mut node: Box<RenderNode>) {
        node.id = id;
        match self.nodes.get_mut(id.slot() as usize) {
            Some(slot) => match slot.replace(node) {
                Some(old) => self.sink.garbage(Garbage::Node(old)),
                None => {
                    self.shared.live_nodes.fetch_add(1, Ordering::Relaxed);
                }
            },
            None => self.sink.garbage(Garbage::Node(node)),
        }
    }

    fn replace_arena(&mut self, mut arena: NodeArena) {
        for (new, old) in arena.iter_mut().zip(self.nodes.iter_mut()) {
            *new = old.take();
        }
        std::mem::swap(&mut self.nodes, &mut arena);
        self.sink.garbage(Garbage::Arena(arena));
    }

    fn param_event(&mut self, node: RenderId, param: ParamSlot, event: AutomationEvent, now: f64) {
        let Self { nodes, sink, .. } = self;
        let state = nodes
            .get_mut(node.slot() as usize)
            .and_then(|n| n.as_mut())
            .filter(|n| n.id == node)
            .and_then(|n| {
                n.unsettle(param.index());
                n.params.get_mut(param.index())
            });
        let mut garbage = |values| sink.garbage(Garbage::Curve(values));
        match state {
            Some(state) => {
                if !state.timeline.insert(event, now, &mut garbage) {
                    self.automation_dropped(node, 1);
                }
            }
            None => {
                if let AutomationEvent::SetValueCurve { values, .. } = event {
                    garbage(values);
                }
            }
        }
    }

    /// Counts `count` automation events of `node` that a full timeline could not take, and
    /// reports the node once.
    fn automation_dropped(&mut self, node: RenderId, count: u64) {
        self.shared
            .automation_dropped
            .fetch_add(count, Ordering::Relaxed);
        if let Some(n) = node_in(&mut self.nodes, node)
            && !n.reported_dropped_automation
        {
            n.reported_dropped_automation = true;
            self.sink
                .push(Feedback::Fault(node, fault::NodeFault::AutomationDropped));
        }
    }

    /// The node `id` names, if that generation is still in its slot.
    fn node_mut(&mut self, id: RenderId) -> Option<&mut RenderNode> {
        node_in(&mut self.nodes, id)
    }

    /// Takes node `id` out of its slot (only that generation).
    fn take_node(&mut self, id: RenderId) -> Option<Box<RenderNode>> {
        let slot = self.nodes.get_mut(id.slot() as usize)?;
        if slot.as_ref().is_some_and(|n| n.id == id) {
            slot.take()
        } else {
            None
        }
    }

    fn param_mut(&mut self, node: RenderId, param: ParamSlot) -> Option<&mut ParamState> {
        self.node_mut(node)
            .and_then(|n| n.params.get_mut(param.index()))
    }

    /// Applies queued commands, in order, at most [`COMMAND_BUDGET`] per quantum: a burst (the
    /// ring filled up while the context was suspended) is spread over the next quanta instead
    /// of making one quantum miss its deadline. A command applied a quantum late keeps its
    /// absolute times: an event whose time already passed takes effect at once (as for any
    /// command that reaches the render side late).
    fn drain_commands(&mut self) {
        let mut applied = 0;
        while applied < COMMAND_BUDGET {
            let Ok(command) = self.commands.pop() else {
                break;
            };
            self.apply(command);
            applied += 1;
        }
        if applied == COMMAND_BUDGET && !self.commands.is_empty() {
            self.shared.deferred_quanta.fetch_add(1, Ordering::Relaxed);
        }
        self.shared
            .peak_commands_per_quantum
            .fetch_max(applied as u64, Ordering::Relaxed);
    }

    /// Renders one quantum into the internal output bus and advances the clock.
    pub fn render_quantum(&mut self) -> &AudioBus {
        let _flush = fault::FlushDenormals::new();
        self.drain_commands();
        let ctx = ProcessContext {
            sample_rate: self.sample_rate,
            frame: self.frame,
        };
        self.run_steps(&ctx);
        self.copy_destination();
        self.frame += RENDER_QUANTUM as u64;
        self.shared.frames.store(self.frame, Ordering::Release);
        if !self.sink.overflow.is_empty() {
            self.sink.retry();
        }
        &self.out
    }

    fn copy_destination(&mut self) {
        let channels = self.channels;
        match self.schedule.destination {
            // At the output's width (the usual case) this is a copy.
            Some(b) => mix::mix_single(
                &mut self.out,
                &self.schedule.buffers[b],
                channels,
                ChannelInterpretation::Discrete,
            ),
            None => self.out.make_silent(channels),
        }
        // The device never gets a NaN or an infinity; for a while, find who makes them.
        self.hunt_non_finite = self.hunt_non_finite.saturating_sub(1);
        if fault::scrub(&mut self.out) {
            self.hunt_non_finite = HUNT_QUANTA;
            self.shared
                .non_finite_quanta
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn run_steps(&mut self, ctx: &ProcessContext) {
        let Self {
            nodes,
            schedule,
            sink,
            listener,
            hunt_non_finite,
            shared,
            ..
        } = self;
        let Schedule {
            steps,
            buffers,
            inputs,
            outputs,
            param_input,
            listener: listener_id,
            ..
        } = &mut **schedule;
        if listener_id.is_none() {
            listener.reset();
        }
        for step in steps.iter() {
            let node = node_in(nodes, step.node);
            let (Some(node), StepKind::Process(phase)) = (node, step.kind) else {
                for &b in &step.outputs {
                    buffers[b].make_silent(1);
                }
                continue;
            };
            if node.ended || node.faulted {
                // An ended source, or a faulted node, stays silent for good: no mixing, params
                // or processing.
                for &b in &step.outputs {
                    buffers[b].make_silent(1);
                }
                continue;
            }
            mix_inputs(step, buffers, inputs);
            let inputs_silent = inputs[..step.inputs.len()].iter().all(AudioBus::is_silent);
            if node.processor.skips_params_erased(ctx, inputs_silent) {
                skip_params(node, ctx, sink);
            } else {
                compute_params(node, step, buffers, param_input, ctx, sink);
            }
            let values = |k| param_values(&node.params, node.settled, &node.held, k);
            if *listener_id == Some(step.node) {
                for k in 0..node.params.len() {
                    listener.set(k, values(k));
                }
            }
            let mut slices: [&[f32]; MAX_PARAMS] = [&[]; MAX_PARAMS];
            for (k, slot) in slices.iter_mut().enumerate().take(node.params.len()) {
                *slot = values(k);
            }
            for &b in &step.outputs {
                outputs.push(std::mem::take(&mut buffers[b]));
            }
            let io = ErasedIo {
                inputs: &inputs[..step.inputs.len()],
                outputs: &mut outputs[..],
                params: &slices[..node.params.len().min(MAX_PARAMS)],
                listener,
            };
            let processor = &mut node.processor;
            let status = match fault::contain(|| processor.process_erased(io, ctx, phase)) {
                Ok(status) => status,
                Err(payload) => {
                    node.faulted = true;
                    shared.faulted_nodes.fetch_add(1, Ordering::Relaxed);
                    sink.push(Feedback::Fault(step.node, fault::NodeFault::Panic(payload)));
                    // Whatever it left in its outputs is not audio.
                    for bus in outputs.iter_mut() {
                        bus.make_silent(1);
                    }
                    ProcessStatus::Active
                }
            };
            // The producer: non-finite out of finite inputs (nodes downstream only pass it on).
            if *hunt_non_finite > 0
                && !node.reported_non_finite
                && outputs.iter().any(fault::has_non_finite)
                && !inputs[..step.inputs.len()]
                    .iter()
                    .any(fault::has_non_finite)
            {
                node.reported_non_finite = true;
                sink.push(Feedback::Fault(step.node, fault::NodeFault::NonFinite));
            }
            for (&b, bus) in step.outputs.iter().zip(outputs.drain(..)) {
                buffers[b] = bus;
            }
            if let Some(probe) = &node.probe
                && phase != ProcessPhase::CycleWrite
            {
                record_probe(&mut node.meter, probe, &node.params, step, buffers);
                probe.record_readout(node.processor.readout_erased());
            }
            if status == ProcessStatus::Ended {
                node.ended = true;
                sink.push(Feedback::Ended(step.node));
            }
        }
    }

    /// Fills an interleaved device buffer of any size, rendering whole quanta and carrying
    /// the remainder to the next call.
    pub fn fill_interleaved(&mut self, data: &mut [f32], channels: usize) {
        let channels = channels.max(1);
        for frame in data.chunks_exact_mut(channels) {
            if self.out_pos == RENDER_QUANTUM {
                self.render_quantum();
                self.out_pos = 0;
            }
            for (c, sample) in frame.iter_mut().enumerate() {
                *sample = if c < self.out.channels() {
                    self.out.channel(c)[self.out_pos]
                } else {
                    0.0
                };
            }
            self.out_pos += 1;
        }
    }

    /// Appends `frames` frames to planar `out` (one `Vec` per channel), rendering whole
    /// quanta and carrying the remainder to the next call, like [`Renderer::fill_interleaved`].
    /// Offline rendering uses this.
    pub fn render_planar(&mut self, frames: usize, out: &mut [Vec<f32>]) {
        let mut done = 0;
        while done < frames {
            if self.out_pos == RENDER_QUANTUM {
                self.render_quantum();
                self.out_pos = 0;
            }
            let n = (RENDER_QUANTUM - self.out_pos).min(frames - done);
            let range = self.out_pos..self.out_pos + n;
            for (c, dst) in out.iter_mut().enumerate() {
                if c < self.out.channels() {
                    dst.extend_from_slice(&self.out.channel(c)[range.clone()]);
                } else {
                    dst.extend(std::iter::repeat_n(0.0, n));
                }
            }
            self.out_pos += n;
            done += n;
        }
    }
}

/// Param `index`'s bit in [`RenderNode::settled`] (0 past [`MAX_PARAMS`]: never settled).
fn param_bit(index: usize) -> u16 {
    u32::try_from(index)
        .ok()
        .and_then(|i| 1u16.checked_shl(i))
        .unwrap_or(0)
}

/// This quantum's values of param `index` of a node: `held` for a settled one (bit of
/// `settled`), else its state's.
fn param_values<'a>(
    params: &'a [ParamState],
    settled: u16,
    held: &'a [f32; MAX_PARAMS],
    index: usize,
) -> &'a [f32] {
    if settled & param_bit(index) != 0 {
        std::slice::from_ref(&held[index])
    } else {
        params[index].values()
    }
}

/// The node `id` names in `nodes`, if that generation is still in its slot.
fn node_in(nodes: &mut NodeArena, id: RenderId) -> Option<&mut RenderNode> {
    nodes
        .get_mut(id.slot() as usize)
        .and_then(|n| n.as_deref_mut())
        .filter(|n| n.id == id)
}

/// Feeds a metered node's first output and params into its probe.
fn record_probe(
    meter: &mut probe::MeterWindow,
    probe: &probe::NodeProbe,
    params: &[ParamState],
    step: &schedule::Step,
    buffers: &[AudioBus],
) {
    if let Some(&b) = step.outputs.first() {
        meter.add(&buffers[b], probe);
    }
    probe.record_params(params);
}

/// Sums each input's connections into the input scratch, up/down-mixed to the computed
/// channel count.
fn mix_inputs(step: &schedule::Step, buffers: &[AudioBus], inputs: &mut [AudioBus]) {
    for (sources, input) in step.inputs.iter().zip(inputs.iter_mut()) {
        let widest = sources
            .iter()
            .map(|&b| buffers[b].channels())
            .max()
            .unwrap_or(0);
        let channels = mix::computed_number_of_channels(&step.config, widest);
        if let [b] = sources[..] {
            // One connection: the sum is that connection, mixed to the input's width.
            mix::mix_single(input, &buffers[b], channels, step.config.interpretation);
            continue;
        }
        input.make_silent(channels);
        for &b in sources {
            mix::mix_into(input, &buffers[b], step.config.interpretation);
        }
    }
}

/// Advances every param of a node whose processor does not read them this quantum.
fn skip_params(node: &mut RenderNode, ctx: &ProcessContext, sink: &mut FeedbackSink) {
    let sr = f64::from(ctx.sample_rate);
    let mut garbage = |values| sink.garbage(Garbage::Curve(values));
    for (index, state) in node.params.iter_mut().enumerate() {
        if node.settled & param_bit(index) == 0 {
            state.skip(ctx.frame, sr, &mut garbage);
        }
    }
}

/// Computes every param of a node: timeline, plus connected audio (down-mixed to mono),
/// clamped to the nominal range.
fn compute_params(
    node: &mut RenderNode,
    step: &schedule::Step,
    buffers: &[AudioBus],
    param_input: &mut AudioBus,
    ctx: &ProcessContext,
    sink: &mut FeedbackSink,
) {
    let sr = f64::from(ctx.sample_rate);
    let mut garbage = |values| sink.garbage(Garbage::Curve(values));
    let RenderNode {
        params,
        settled,
        held,
        ..
    } = node;
    for (index, state) in params.iter_mut().enumerate() {
        let bit = param_bit(index);
        let connection = step.params.iter().find(|(p, _)| p.index() == index);
        if connection.is_none() && *settled & bit != 0 {
            continue;
        }
        state.compute(ctx.frame, sr, &mut garbage);
        if let Some((_, sources)) = connection {
            param_input.make_silent(1);
            for &b in sources {
                mix::mix_into(param_input, &buffers[b], ChannelInterpretation::Speakers);
            }
            if !param_input.is_silent() {
                state.add_input(param_input.channel(0));
            }
        }
        state.finish();
        if connection.is_none() && bit != 0 && state.is_settled() {
            *settled |= bit;
            held[index] = state.values()[0];
        } else {
            *settled &= !bit;
        }
    }
}
