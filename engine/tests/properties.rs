//! Property test of the render side through the command ring under back-pressure (no Bevy):
//! random sequences of graph operations (add and remove nodes with immediate slot reuse,
//! connect and disconnect, start/stop, param automation, buffer changes, late commands for
//! removed ids) are sent through a 16-slot command ring and a 4-slot feedback ring that the
//! control side drains only now and then, so commands wait in the control side's backlog and
//! feedback in the render side's overflow queue. After every step one or more quanta render.
//!
//! Checked: no panic; every output sample finite (and no quantum needed scrubbing); every
//! `Feedback::Ended(id)` names an id the control side handed out, for a scheduled source that
//! was started, whose end (a stop time, or its buffer's end) can have come, of the generation
//! that was live when it was started, and at most once; no fault, leak or message mismatch;
//! `RenderShared::live_nodes` equals the ids still allocated, and once everything is removed,
//! only the destination.
//!
//! `PROPTEST_CASES=2000 cargo test -p webaudio_engine --test properties` runs longer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

use webaudio_engine::command::{self, Command, ControlChannel, Feedback, RenderId, RenderIds};
use webaudio_engine::graph::{Edge, EdgeTarget, Graph, GraphNode};
use webaudio_engine::node::audio_buffer_source::{
    AudioBufferSourceParam, AudioBufferSourceProcessor, BufferChannels, BufferMessage,
    BufferSettings,
};
use webaudio_engine::node::biquad_filter::{
    BiquadFilterParam, BiquadFilterProcessor, BiquadFilterType,
};
use webaudio_engine::node::constant_source::{ConstantSourceParam, ConstantSourceProcessor};
use webaudio_engine::node::delay::{DelayParam, DelayProcessor};
use webaudio_engine::node::destination::DestinationProcessor;
use webaudio_engine::node::gain::{GainParam, GainProcessor};
use webaudio_engine::node::oscillator::{
    OscillatorParam, OscillatorProcessor, OscillatorType, WaveTableCache,
};
use webaudio_engine::node::scheduled::ScheduleEvent;
use webaudio_engine::node::{ChannelConfig, NodeMessage, NodeShape, OutputChannels};
use webaudio_engine::param::{NodeParams, ParamSlot};
use webaudio_engine::render::fault::NodeFault;
use webaudio_engine::render::timeline::{AutomationEvent, Timeline};
use webaudio_engine::render::{NodeArena, ParamInit, RenderNode, Renderer};

const SR: f32 = 48_000.0;
const QUANTUM: u64 = 128;
/// Events each param's timeline holds at first (grown with `ReplaceTimeline`, as the Bevy
/// layer does).
const TIMELINE: usize = 4;
/// Cases per run: well under a second in the debug test profile.
const CASES: u32 = 512;

fn frame_at(when: f64) -> u64 {
    (when * f64::from(SR)).ceil().max(0.0) as u64
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Constant,
    Oscillator,
    Gain,
    Delay,
    Biquad,
    /// A procedural mono buffer of `frames` frames.
    Buffer {
        frames: u16,
        looping: bool,
    },
}

impl Kind {
    fn is_source(self) -> bool {
        matches!(
            self,
            Kind::Constant | Kind::Oscillator | Kind::Buffer { .. }
        )
    }

    /// Each param's slot and a sane range for its values.
    fn params(self) -> Vec<(ParamSlot, f32, f32)> {
        match self {
            Kind::Constant => vec![(ConstantSourceParam::Offset.slot(), -1.0, 1.0)],
            Kind::Oscillator => vec![
                (OscillatorParam::Frequency.slot(), 20.0, 4000.0),
                (OscillatorParam::Detune.slot(), -1200.0, 1200.0),
            ],
            Kind::Gain => vec![(GainParam::Gain.slot(), -2.0, 2.0)],
            Kind::Delay => vec![(DelayParam::DelayTime.slot(), 0.0, 0.1)],
            Kind::Biquad => vec![
                (BiquadFilterParam::Frequency.slot(), 20.0, 8000.0),
                (BiquadFilterParam::Detune.slot(), -1200.0, 1200.0),
                (BiquadFilterParam::Q.slot(), 0.1, 20.0),
                (BiquadFilterParam::Gain.slot(), -24.0, 24.0),
            ],
            Kind::Buffer { .. } => vec![
                (AudioBufferSourceParam::PlaybackRate.slot(), -2.0, 4.0),
                (AudioBufferSourceParam::Detune.slot(), -1200.0, 1200.0),
            ],
        }
    }

    fn shape(self) -> (NodeShape, OutputChannels) {
        match self {
            Kind::Constant | Kind::Oscillator | Kind::Buffer { .. } => {
                (NodeShape::SOURCE, OutputChannels::Fixed(1))
            }
            Kind::Gain | Kind::Biquad => (NodeShape::ONE_TO_ONE, OutputChannels::FollowInput),
            Kind::Delay => (
                NodeShape {
                    is_delay: true,
                    ..NodeShape::ONE_TO_ONE
                },
                OutputChannels::FollowInput,
            ),
        }
    }
}

fn buffer_message(frames: u16, looping: bool) -> BufferMessage {
    let samples: Box<[f32]> = (0..frames)
        .map(|i| (f32::from(i) * 0.05).sin() * 0.5)
        .collect();
    let channels: BufferChannels = Arc::from(vec![samples]);
    BufferMessage {
        buffer: Some(channels),
        sample_rate: f64::from(SR),
        length: usize::from(frames),
        has_handle: true,
        settings: BufferSettings {
            looping,
            ..BufferSettings::default()
        },
    }
}

/// One automation call; `u` picks a value in the param's range, times are in eighths of a
/// quantum after the control side's clock.
#[derive(Clone, Debug)]
enum Auto {
    Set { u: f32, dt: u8 },
    Linear { u: f32, dt: u8 },
    Exponential { u: f32, dt: u8 },
    Target { u: f32, dt: u8, tc: u8 },
    Curve { us: Vec<f32>, dt: u8, len: u8 },
    Cancel { dt: u8 },
    Hold { dt: u8 },
}

#[derive(Clone, Debug)]
enum StaleKind {
    Start,
    Stop,
    Param,
    Remove,
    Buffer,
}

#[derive(Clone, Debug)]
enum Op {
    Spawn(Kind),
    /// `from` into `to`'s input, or into its param `param` (picked among its params).
    Connect {
        from: Index,
        to: Index,
        param: Option<Index>,
    },
    Disconnect(Index),
    /// `start(now + delay / 8 quanta)`, and maybe `stop` `stop / 8` quanta after it.
    Start {
        node: Index,
        delay: u8,
        stop: Option<u8>,
    },
    Stop {
        node: Index,
        delay: u8,
    },
    Automate {
        node: Index,
        param: Index,
        events: Vec<Auto>,
    },
    ChangeBuffer {
        node: Index,
        frames: u16,
        looping: bool,
    },
    Remove(Index),
    /// A command for an id whose node was removed (a late command racing a removal): the render
    /// side must ignore it, whatever reused the slot.
    Stale {
        id: Index,
        kind: StaleKind,
    },
    /// Renders this many more quanta.
    Wait(u8),
}

#[derive(Clone, Debug)]
struct Step {
    op: Op,
    /// Feedback messages the control side reads after this step (the ring holds 4; mostly
    /// none, so feedback waits in the render side's overflow queue).
    drain: u8,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Constant),
        Just(Kind::Oscillator),
        Just(Kind::Gain),
        Just(Kind::Delay),
        Just(Kind::Biquad),
        (1u16..1500, any::<bool>()).prop_map(|(frames, looping)| Kind::Buffer { frames, looping }),
    ]
}

fn auto() -> impl Strategy<Value = Auto> {
    let u = 0.0f32..=1.0;
    prop_oneof![
        (u.clone(), 0u8..64).prop_map(|(u, dt)| Auto::Set { u, dt }),
        (u.clone(), 0u8..64).prop_map(|(u, dt)| Auto::Linear { u, dt }),
        (u.clone(), 0u8..64).prop_map(|(u, dt)| Auto::Exponential { u, dt }),
        (u.clone(), 0u8..64, 0u8..16).prop_map(|(u, dt, tc)| Auto::Target { u, dt, tc }),
        (prop::collection::vec(u, 1..6), 0u8..64, 1u8..32).prop_map(|(us, dt, len)| Auto::Curve {
            us,
            dt,
            len
        }),
        (0u8..64).prop_map(|dt| Auto::Cancel { dt }),
        (0u8..64).prop_map(|dt| Auto::Hold { dt }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let stale = prop_oneof![
        Just(StaleKind::Start),
        Just(StaleKind::Stop),
        Just(StaleKind::Param),
        Just(StaleKind::Remove),
        Just(StaleKind::Buffer),
    ];
    prop_oneof![
        4 => kind().prop_map(Op::Spawn),
        4 => (any::<Index>(), any::<Index>(), prop::option::weighted(0.3, any::<Index>()))
            .prop_map(|(from, to, param)| Op::Connect { from, to, param }),
        1 => any::<Index>().prop_map(Op::Disconnect),
        4 => (any::<Index>(), 0u8..32, prop::option::of(0u8..32))
            .prop_map(|(node, delay, stop)| Op::Start { node, delay, stop }),
        2 => (any::<Index>(), 0u8..32).prop_map(|(node, delay)| Op::Stop { node, delay }),
        2 => (any::<Index>(), any::<Index>(), prop::collection::vec(auto(), 1..40))
            .prop_map(|(node, param, events)| Op::Automate { node, param, events }),
        1 => (any::<Index>(), 1u16..1500, any::<bool>())
            .prop_map(|(node, frames, looping)| Op::ChangeBuffer { node, frames, looping }),
        3 => any::<Index>().prop_map(Op::Remove),
        2 => (any::<Index>(), stale).prop_map(|(id, kind)| Op::Stale { id, kind }),
        1 => (0u8..8).prop_map(Op::Wait),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (op(), prop_oneof![3 => Just(0u8), 1 => 1u8..8]).prop_map(|(op, drain)| Step { op, drain }),
        1..48,
    )
}

/// What the control side knows of one node it added (by serial number, never reused).
struct NodeRec {
    kind: Kind,
    id: RenderId,
    /// `start(when)` was sent.
    started: Option<f64>,
    /// The earliest `stop(when)` sent.
    stop: Option<f64>,
    ended: bool,
    /// Per param: timeline capacity on the render side, and events sent so far.
    timelines: Vec<(usize, usize)>,
}

struct Host {
    control: ControlChannel,
    renderer: Renderer,
    graph: Graph,
    ids: RenderIds,
    arena: usize,
    tables: WaveTableCache,
    recs: Vec<NodeRec>,
    /// Allocated ids → serial (the destination included).
    live: HashMap<RenderId, usize>,
    /// Added nodes still alive, destination excluded, in spawn order (what `Index`es pick).
    alive: Vec<usize>,
    /// Removed ids → serial.
    gone: HashMap<RenderId, usize>,
    /// Removed ids, in removal order (stale commands pick one).
    freed: Vec<RenderId>,
    /// Removed this step: sent `RemoveNode` after the new schedule, then freed.
    removing: Vec<RenderId>,
    dirty: bool,
}

impl Host {
    fn new() -> Self {
        // The smallest rings that still move: 16 commands, 4 feedback messages.
        let (control, channel) = command::channel(16, 4);
        let arena = 4;
        let renderer = Renderer::new(channel, command::shared(), SR, 2, arena);
        let mut host = Self {
            control,
            renderer,
            graph: Graph::default(),
            ids: RenderIds::default(),
            arena,
            tables: WaveTableCache::default(),
            recs: Vec::new(),
            live: HashMap::new(),
            alive: Vec::new(),
            gone: HashMap::new(),
            freed: Vec::new(),
            removing: Vec::new(),
            dirty: true,
        };
        let dest = host.ids.allocate();
        host.control.send(Command::AddNode {
            id: dest,
            node: RenderNode::build(DestinationProcessor, SR, [], TIMELINE),
        });
        host.graph.nodes.insert(
            dest,
            GraphNode {
                shape: NodeShape::ONE_TO_ONE,
                config: ChannelConfig::default(),
                outputs: vec![OutputChannels::FollowInput],
            },
        );
        host.graph.destination = Some(dest);
        host.live.insert(dest, 0);
        host.recs.push(NodeRec {
            kind: Kind::Gain,
            id: dest,
            started: None,
            stop: None,
            ended: false,
            timelines: Vec::new(),
        });
        host
    }

    fn destination(&self) -> RenderId {
        self.graph.destination.unwrap()
    }

    /// The control side's clock (what `AudioContext::current_time` reads).
    fn now(&self) -> f64 {
        self.renderer.shared().frames() as f64 / f64::from(SR)
    }

    fn pick(&self, index: &Index) -> Option<usize> {
        (!self.alive.is_empty()).then(|| self.alive[index.index(self.alive.len())])
    }

    fn spawn(&mut self, kind: Kind) {
        let id = self.ids.allocate();
        if self.ids.slots() > self.arena {
            self.arena = self.ids.slots() * 2;
            let arena: NodeArena = (0..self.arena).map(|_| None).collect();
            self.control.send(Command::ReplaceArena(arena));
        }
        let node = match kind {
            Kind::Constant => {
                let init = ParamInit::defaults::<ConstantSourceParam>();
                RenderNode::build(ConstantSourceProcessor::new(SR), SR, init, TIMELINE)
            }
            Kind::Oscillator => {
                let table = self.tables.table(OscillatorType::Sine, None, SR);
                let init = ParamInit::defaults::<OscillatorParam>();
                RenderNode::build(OscillatorProcessor::new(table, SR), SR, init, TIMELINE)
            }
            Kind::Gain => {
                let init = ParamInit::defaults::<GainParam>();
                RenderNode::build(GainProcessor::new(), SR, init, TIMELINE)
            }
            Kind::Delay => {
                let init = ParamInit::defaults::<DelayParam>();
                RenderNode::build(DelayProcessor::new(0.1, SR, 2), SR, init, TIMELINE)
            }
            Kind::Biquad => {
                let init = ParamInit::defaults::<BiquadFilterParam>();
                let processor = BiquadFilterProcessor::new(BiquadFilterType::Peaking, SR);
                RenderNode::build(processor, SR, init, TIMELINE)
            }
            Kind::Buffer { frames, looping } => {
                let init = ParamInit::defaults::<AudioBufferSourceParam>();
                let processor =
                    AudioBufferSourceProcessor::new(buffer_message(frames, looping), SR);
                RenderNode::build(processor, SR, init, TIMELINE)
            }
        };
        self.control.send(Command::AddNode { id, node });
        let (shape, output) = kind.shape();
        self.graph.nodes.insert(
            id,
            GraphNode {
                shape,
                config: ChannelConfig::default(),
                outputs: vec![output],
            },
        );
        let serial = self.recs.len();
        self.recs.push(NodeRec {
            kind,
            id,
            started: None,
            stop: None,
            ended: false,
            timelines: kind.params().iter().map(|_| (TIMELINE, 0)).collect(),
        });
        self.live.insert(id, serial);
        self.alive.push(serial);
        self.dirty = true;
    }

    fn connect(&mut self, from: &Index, to: &Index, param: Option<&Index>) {
        let Some(from) = self.pick(from) else { return };
        let from = self.recs[from].id;
        // Targets: every live node but sources' inputs; the destination too.
        let mut targets: Vec<RenderId> = self.alive.iter().map(|&s| self.recs[s].id).collect();
        targets.push(self.destination());
        let to = targets[to.index(targets.len())];
        let target = match param {
            Some(p) => {
                let Some(&serial) = self.live.get(&to) else {
                    return;
                };
                let params = self.recs[serial].kind.params();
                if to == self.destination() || params.is_empty() {
                    return;
                }
                EdgeTarget::Param(params[p.index(params.len())].0)
            }
            None => {
                if self.graph.nodes[&to].shape.inputs == 0 {
                    return;
                }
                EdgeTarget::Input(0)
            }
        };
        let edge = Edge {
            from,
            output: 0,
            to,
            target,
        };
        if !self.graph.edges.contains(&edge) {
            self.graph.edges.push(edge);
            self.dirty = true;
        }
    }

    fn schedule(&mut self, node: &Index, delay: u8, start: bool) {
        let Some(serial) = self.pick(node) else {
            return;
        };
        let when = self.now() + f64::from(delay) / 8.0 * QUANTUM as f64 / f64::from(SR);
        let rec = &mut self.recs[serial];
        // The control side's checks: sources only, start once, stop after start.
        if !rec.kind.is_source() {
            return;
        }
        let event = if start {
            if rec.started.is_some() {
                return;
            }
            rec.started = Some(when);
            ScheduleEvent::Start(when)
        } else {
            if rec.started.is_none() {
                return;
            }
            rec.stop = Some(rec.stop.map_or(when, |s| s.min(when)));
            ScheduleEvent::Stop(when)
        };
        let node = rec.id;
        self.control.send(Command::Schedule { node, event });
    }

    fn automate(&mut self, node: &Index, param: &Index, events: &[Auto]) {
        let Some(serial) = self.pick(node) else {
            return;
        };
        let params = self.recs[serial].kind.params();
        let k = param.index(params.len());
        let (slot, lo, hi) = params[k];
        let node = self.recs[serial].id;
        let value = |u: f32| lo + (hi - lo) * u;
        let quantum = QUANTUM as f64 / f64::from(SR);
        let at = |now: f64, dt: u8| now + f64::from(dt) / 8.0 * quantum;
        for auto in events {
            let now = self.now();
            let event = match auto {
                Auto::Set { u, dt } => AutomationEvent::SetValue {
                    value: value(*u),
                    time: at(now, *dt),
                },
                Auto::Linear { u, dt } => AutomationEvent::LinearRamp {
                    value: value(*u),
                    end_time: at(now, *dt),
                },
                Auto::Exponential { u, dt } => {
                    let v = value(*u);
                    AutomationEvent::ExponentialRamp {
                        value: if v.abs() < 1e-3 { 1e-3 } else { v },
                        end_time: at(now, *dt),
                    }
                }
                Auto::Target { u, dt, tc } => AutomationEvent::SetTarget {
                    target: value(*u),
                    start_time: at(now, *dt),
                    time_constant: f64::from(*tc) * quantum / 4.0,
                },
                Auto::Curve { us, dt, len } => AutomationEvent::SetValueCurve {
                    values: us.iter().map(|&u| value(u)).collect(),
                    start_time: at(now, *dt),
                    duration: f64::from(*len) / 8.0 * quantum,
                },
                Auto::Cancel { dt } => AutomationEvent::CancelScheduledValues {
                    cancel_time: at(now, *dt),
                },
                Auto::Hold { dt } => AutomationEvent::CancelAndHold {
                    cancel_time: at(now, *dt),
                },
            };
            // Size the render side's timeline first, as the Bevy layer does (counting every
            // event as two: a ramp or a hold may add one).
            let (capacity, sent) = &mut self.recs[serial].timelines[k];
            if *sent + 2 > *capacity {
                *capacity *= 2;
                let timeline = Box::new(Timeline::new(0.0, *capacity));
                self.control.send(Command::ReplaceTimeline {
                    node,
                    param: slot,
                    timeline,
                });
            }
            *sent += 2;
            self.control.send(Command::ParamEvent {
                node,
                param: slot,
                event,
            });
        }
    }

    fn change_buffer(&mut self, node: &Index, frames: u16, looping: bool) {
        let Some(serial) = self.pick(node) else {
            return;
        };
        let rec = &mut self.recs[serial];
        let Kind::Buffer { .. } = rec.kind else {
            return;
        };
        rec.kind = Kind::Buffer { frames, looping };
        let message =
            NodeMessage::new::<AudioBufferSourceProcessor>(buffer_message(frames, looping));
        let node = rec.id;
        self.control.send(Command::Message { node, message });
    }

    fn remove(&mut self, node: &Index) {
        if let Some(serial) = self.pick(node) {
            self.remove_serial(serial);
        }
    }

    fn remove_serial(&mut self, serial: usize) {
        let id = self.recs[serial].id;
        self.alive.retain(|&s| s != serial);
        self.live.remove(&id);
        self.gone.insert(id, serial);
        self.graph.nodes.remove(&id);
        self.graph.edges.retain(|e| e.from != id && e.to != id);
        self.removing.push(id);
        self.dirty = true;
    }

    fn stale(&mut self, id: &Index, kind: &StaleKind) {
        if self.freed.is_empty() {
            return;
        }
        let id = self.freed[id.index(self.freed.len())];
        let now = self.now();
        let command = match kind {
            StaleKind::Start => Command::Schedule {
                node: id,
                event: ScheduleEvent::Start(now),
            },
            StaleKind::Stop => Command::Schedule {
                node: id,
                event: ScheduleEvent::Stop(now),
            },
            StaleKind::Param => Command::ParamEvent {
                node: id,
                param: GainParam::Gain.slot(),
                event: AutomationEvent::SetValue {
                    value: 100.0,
                    time: now,
                },
            },
            StaleKind::Remove => Command::RemoveNode { id },
            StaleKind::Buffer => Command::Message {
                node: id,
                message: NodeMessage::new::<AudioBufferSourceProcessor>(buffer_message(16, false)),
            },
        };
        self.control.send(command);
    }

    /// The frame of the Bevy layer's `Commit`: a new schedule if the topology changed, then
    /// the removals, whose slots are free for reuse at once.
    fn commit(&mut self) {
        if self.dirty {
            let (schedule, _) = self.graph.compile();
            self.control.send(Command::SetSchedule(Box::new(schedule)));
            self.dirty = false;
        }
        for id in std::mem::take(&mut self.removing) {
            self.control.send(Command::RemoveNode { id });
            self.ids.free(id);
            self.freed.push(id);
        }
    }

    /// Pushes what fits into the ring (the rest waits) and renders `quanta` quanta.
    fn render(&mut self, quanta: usize) -> Result<(), TestCaseError> {
        for _ in 0..quanta {
            self.control.flush();
            let out = self.renderer.render_quantum();
            for c in 0..out.channels() {
                prop_assert!(
                    out.channel(c).iter().all(|v| v.is_finite()),
                    "non-finite output"
                );
            }
        }
        Ok(())
    }

    /// Reads up to `n` feedback messages, checking each.
    fn drain(&mut self, n: usize) -> Result<usize, TestCaseError> {
        let mut read = 0;
        while read < n {
            let Some(feedback) = self.control.receive() else {
                break;
            };
            read += 1;
            match feedback {
                Feedback::Ended(id) => self.ended(id)?,
                Feedback::Fault(id, fault) => {
                    let what = match fault {
                        NodeFault::Panic(_) => "panicked",
                        NodeFault::NonFinite => "output non-finite samples",
                        NodeFault::AutomationDropped => "dropped automation",
                    };
                    return Err(TestCaseError::fail(format!("node {id} {what}")));
                }
                Feedback::Garbage(_) => {}
            }
        }
        Ok(read)
    }

    /// The control side maps an 'ended' to its node by the full id (as the Bevy layer maps it
    /// to an entity): the live node of that id, else the removed one.
    fn ended(&mut self, id: RenderId) -> Result<(), TestCaseError> {
        let frame = self.renderer.frame();
        let Some(&serial) = self.live.get(&id).or_else(|| self.gone.get(&id)) else {
            return Err(TestCaseError::fail(format!(
                "'ended' for {id}, an id never handed out"
            )));
        };
        let rec = &mut self.recs[serial];
        prop_assert!(
            rec.kind.is_source(),
            "'ended' for {id}, a {:?} (serial {serial})",
            rec.kind
        );
        let Some(start) = rec.started else {
            return Err(TestCaseError::fail(format!(
                "'ended' for {id} (serial {serial}, {:?}), never started",
                rec.kind
            )));
        };
        // The earliest it can end: its stop, or (a buffer) as soon as it plays.
        let earliest = match (rec.stop, rec.kind) {
            (Some(stop), _) => frame_at(start).min(frame_at(stop)),
            (None, Kind::Buffer { .. }) => frame_at(start),
            (None, kind) => {
                return Err(TestCaseError::fail(format!(
                    "'ended' for {id} (serial {serial}, {kind:?}), started and never stopped"
                )));
            }
        };
        prop_assert!(
            earliest <= frame,
            "'ended' for {id} (serial {serial}) at frame {frame}, before it could end ({earliest})"
        );
        prop_assert!(!rec.ended, "'ended' twice for {id} (serial {serial})");
        rec.ended = true;
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let mut quanta = 1;
        match &step.op {
            Op::Spawn(kind) => self.spawn(*kind),
            Op::Connect { from, to, param } => self.connect(from, to, param.as_ref()),
            Op::Disconnect(index) => {
                if !self.graph.edges.is_empty() {
                    let k = index.index(self.graph.edges.len());
                    self.graph.edges.remove(k);
                    self.dirty = true;
                }
            }
            Op::Start { node, delay, stop } => {
                self.schedule(node, *delay, true);
                if let Some(stop) = stop {
                    self.schedule(node, delay.saturating_add(*stop), false);
                }
            }
            Op::Stop { node, delay } => self.schedule(node, *delay, false),
            Op::Automate {
                node,
                param,
                events,
            } => self.automate(node, param, events),
            Op::ChangeBuffer {
                node,
                frames,
                looping,
            } => self.change_buffer(node, *frames, *looping),
            Op::Remove(node) => self.remove(node),
            Op::Stale { id, kind } => self.stale(id, kind),
            Op::Wait(n) => quanta += usize::from(*n),
        }
        self.commit();
        self.render(quanta)?;
        self.drain(usize::from(step.drain))?;
        Ok(())
    }

    /// Renders until every command is applied and every feedback message is read.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..10_000 {
            self.render(1)?;
            let read = self.drain(usize::MAX)?;
            if read == 0 && self.control.backlog_len() == 0 && self.control.in_flight() == 0 {
                // One more quantum retries the overflow queue: settled if it brings nothing.
                self.render(1)?;
                if self.drain(usize::MAX)? == 0 {
                    return Ok(());
                }
            }
        }
        Err(TestCaseError::fail("never settled"))
    }

    fn check_counters(&self) -> Result<(), TestCaseError> {
        let shared = self.renderer.shared();
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        prop_assert_eq!(get(&shared.leaked), 0, "leaked garbage");
        prop_assert_eq!(get(&shared.faulted_nodes), 0, "faulted nodes");
        prop_assert_eq!(get(&shared.message_mismatches), 0, "message mismatches");
        prop_assert_eq!(get(&shared.non_finite_quanta), 0, "non-finite quanta");
        Ok(())
    }

    fn live_nodes(&self) -> u64 {
        self.renderer.shared().live_nodes.load(Ordering::Relaxed)
    }
}

/// `CASES`, or `PROPTEST_CASES` for a longer run by hand.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES)
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut host = Host::new();
    for step in steps {
        host.step(step)?;
    }
    host.settle()?;
    host.check_counters()?;
    prop_assert_eq!(
        host.live_nodes(),
        host.live.len() as u64,
        "render side's live nodes vs ids still allocated"
    );
    // Remove everything but the destination.
    while !host.alive.is_empty() {
        host.remove_serial(host.alive[0]);
    }
    host.commit();
    host.settle()?;
    host.check_counters()?;
    prop_assert_eq!(host.live_nodes(), 1, "only the destination is left");
    prop_assert_eq!(host.live.len(), 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // A failing case is printed, shrunk; nothing is written next to the test.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_graph_operations_through_a_full_ring_keep_ids_and_ended_straight(
        steps in steps()
    ) {
        run(&steps)?;
    }
}
