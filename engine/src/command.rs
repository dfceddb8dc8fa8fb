//! The only bridge between the threads: [`Command`]s go from the control
//! side to the render side, [`Feedback`] comes back, both over wait-free SPSC rings (rtrb).
//!
//! Both directions are FIFO because order matters (a node is added before the schedule that
//! uses it; a ramp follows the value it starts from). Read-backs that only need the latest
//! value (the clock, render load, xruns) are atomics in [`RenderShared`] instead: the control
//! side reads them whenever it likes and never waits.
//!
//! Every command that carries heap data to the render side has a way back: what the render
//! side replaces or removes returns as [`Garbage`] and is dropped on the control side.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::node::NodeMessage;
use crate::node::scheduled::ScheduleEvent;
use crate::param::{AutomationRate, ParamSlot};
use crate::render::probe::NodeProbe;
use crate::render::schedule::Schedule;
use crate::render::timeline::{AutomationEvent, Timeline};
use crate::render::{NodeArena, RenderNode};

/// A node's name on the render side: an arena slot and the slot's generation. A slot may be
/// reused as soon as its node is removed; the generation tells the old node's late commands and
/// feedback apart from the new node's (they are ignored on the render side and on the control
/// side respectively). Ordered by slot, so a schedule's tie-breaks are deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RenderId {
    slot: u32,
    generation: u32,
}

impl RenderId {
    /// The id of generation `generation` of arena slot `slot`.
    pub const fn new(slot: u32, generation: u32) -> Self {
        Self { slot, generation }
    }

    /// The arena slot.
    pub const fn slot(self) -> u32 {
        self.slot
    }

    /// The slot's generation.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

impl std::fmt::Display for RenderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}v{}", self.slot, self.generation)
    }
}

/// Hands out [`RenderId`]s on the control side: a freed slot is reused with the next
/// generation, lowest slot first.
#[derive(Debug, Default)]
pub struct RenderIds {
    generations: Vec<u32>,
    free: std::collections::BTreeSet<u32>,
}

impl RenderIds {
    /// A new id (a freed slot's next generation, or a new slot).
    pub fn allocate(&mut self) -> RenderId {
        if let Some(slot) = self.free.pop_first() {
            let generation = &mut self.generations[slot as usize];
            *generation = generation.wrapping_add(1);
            return RenderId::new(slot, *generation);
        }
        let slot = self.generations.len() as u32;
        self.generations.push(0);
        RenderId::new(slot, 0)
    }

    /// Gives `id`'s slot back for reuse (call when its `RemoveNode` is queued; later commands
    /// and feedback of this generation are told apart by the generation).
    pub fn free(&mut self, id: RenderId) {
        if self.generations.get(id.slot as usize) == Some(&id.generation) {
            self.free.insert(id.slot);
        }
    }

    /// Slots handed out so far (the arena must hold this many).
    pub fn slots(&self) -> usize {
        self.generations.len()
    }
}

/// Control → render.
pub enum Command {
    /// Put a node (built on the control side) into arena slot `id`.
    AddNode {
        /// The slot.
        id: RenderId,
        /// The node.
        node: Box<RenderNode>,
    },
    /// Take a node out (it comes back as garbage).
    RemoveNode {
        /// The slot.
        id: RenderId,
    },
    /// Swap in a new schedule (the old one comes back as garbage).
    SetSchedule(Box<Schedule>),
    /// One automation event for one param.
    ParamEvent {
        /// The node's slot.
        node: RenderId,
        /// The param (its typed id's slot).
        param: ParamSlot,
        /// The event.
        event: AutomationEvent,
    },
    /// Consecutive params of one node each glide to a new value: what a moving spatial source
    /// sends once a frame, instead of two [`Command::ParamEvent`]s per param.
    Glide {
        /// The node's slot.
        node: RenderId,
        /// The params, their values and the glide's window.
        glide: ParamGlide,
    },
    /// A param's automation rate changed.
    SetAutomationRate {
        /// The node's slot.
        node: RenderId,
        /// The param (its typed id's slot).
        param: ParamSlot,
        /// The new rate.
        rate: AutomationRate,
    },
    /// A larger timeline for a param (its events move over; the old storage comes back).
    ReplaceTimeline {
        /// The node's slot.
        node: RenderId,
        /// The param (its typed id's slot).
        param: ParamSlot,
        /// The new, larger timeline.
        timeline: Box<Timeline>,
    },
    /// `start(when)` / `stop(when)` of a scheduled source.
    Schedule {
        /// The node's slot.
        node: RenderId,
        /// The call.
        event: ScheduleEvent,
    },
    /// New attributes for a processor (the message comes back as garbage).
    Message {
        /// The node's slot.
        node: RenderId,
        /// The data.
        message: NodeMessage,
    },
    /// A larger node arena (the nodes move over; the old one comes back).
    ReplaceArena(NodeArena),
    /// Attaches (or with `None` detaches) a node's meter probe; the old one comes back.
    SetProbe {
        /// The node's slot.
        node: RenderId,
        /// The probe.
        probe: Option<Arc<NodeProbe>>,
    },
}

impl Command {
    /// The variant's name, for diagnostics and tests.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AddNode { .. } => "AddNode",
            Self::RemoveNode { .. } => "RemoveNode",
            Self::SetSchedule(_) => "SetSchedule",
            Self::ParamEvent { .. } => "ParamEvent",
            Self::Glide { .. } => "Glide",
            Self::SetAutomationRate { .. } => "SetAutomationRate",
            Self::ReplaceTimeline { .. } => "ReplaceTimeline",
            Self::Schedule { .. } => "Schedule",
            Self::Message { .. } => "Message",
            Self::ReplaceArena(_) => "ReplaceArena",
            Self::SetProbe { .. } => "SetProbe",
        }
    }
}

/// New values for up to [`ParamGlide::MAX`] consecutive params of one node, each reached by a
/// linear glide over `start..end`: on every param, exactly `cancelAndHoldAtTime(start)` then
/// `linearRampToValueAtTime(value, end)` (so sample-accurate, and explicit automation of the
/// same params keeps the spec's meaning).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamGlide {
    /// The slot of the first param (the others follow it in slot order).
    first: u8,
    /// How many of `values` are used.
    count: u8,
    values: [f32; ParamGlide::MAX],
    /// When the glides leave their current values (the control side's current time).
    pub start: f64,
    /// When they reach the new ones.
    pub end: f64,
}

impl ParamGlide {
    /// Most params one glide carries (a panner's position and orientation; a listener's nine
    /// params take two).
    pub const MAX: usize = 6;

    /// Glides the params from slot `first` on to `values`, over `start..end`; `None` when
    /// there are more than [`Self::MAX`] values or they run past the last param slot.
    pub fn new(first: ParamSlot, values: &[f32], start: f64, end: f64) -> Option<Self> {
        if values.len() > Self::MAX || first.index() + values.len() > crate::render::MAX_PARAMS {
            return None;
        }
        let mut glide = Self {
            first: first.index() as u8,
            count: values.len() as u8,
            values: [0.0; Self::MAX],
            start,
            end,
        };
        glide.values[..values.len()].copy_from_slice(values);
        Some(glide)
    }

    /// Each param's slot and new value, in slot order.
    pub fn params(&self) -> impl Iterator<Item = (ParamSlot, f32)> + '_ {
        let first = usize::from(self.first);
        self.values[..usize::from(self.count)]
            .iter()
            .enumerate()
            .map(move |(k, &value)| (ParamSlot::declared(first + k), value))
    }
}

/// Heap data the render side is done with, to be dropped on the control side.
pub enum Garbage {
    /// A removed node.
    Node(Box<RenderNode>),
    /// A replaced schedule.
    Schedule(Box<Schedule>),
    /// A value curve that left a timeline.
    Curve(Box<[f32]>),
    /// A replaced timeline's storage.
    Timeline(Box<Timeline>),
    /// A processor message, now holding what it replaced.
    Message(NodeMessage),
    /// A replaced arena.
    Arena(NodeArena),
    /// A detached meter probe (dropped on the control side: it may hold the last reference).
    Probe(Arc<NodeProbe>),
}

/// Render → control.
pub enum Feedback {
    /// A scheduled source reached its stop time (the id names the node's generation, so an
    /// 'ended' that arrives after its slot was reused never reaches the new node).
    Ended(RenderId),
    /// A node faulted: its processor panicked (it is silent from now on), or it output
    /// non-finite samples (scrubbed before the device). Sent once per node and kind.
    Fault(RenderId, crate::render::fault::NodeFault),
    /// Something to drop.
    Garbage(Garbage),
}

/// Latest-value read-backs, written by the render thread, read by anyone (lock-free).
#[derive(Debug, Default)]
pub struct RenderShared {
    /// Frames rendered since the context started: the clock.
    pub frames: AtomicU64,
    /// Render load of the last callback (busy time / audio time), as f32 bits.
    pub load: AtomicU32,
    /// The highest load seen, as f32 bits.
    pub peak_load: AtomicU32,
    /// Smoothed average load, as f32 bits.
    pub average_load: AtomicU32,
    /// Underruns/overruns reported by the device.
    pub xruns: AtomicU64,
    /// Callbacks that took longer to render than the audio they produced (a sure xrun).
    pub overruns: AtomicU64,
    /// Commands applied on the render thread.
    pub commands_applied: AtomicU64,
    /// Feedback messages that had to wait because the feedback queue was full.
    pub feedback_stalls: AtomicU64,
    /// Garbage that could not be returned (both the queue and the overflow were full) and was
    /// leaked rather than freed on the real-time thread. Zero in any sane configuration.
    pub leaked: AtomicU64,
    /// Nodes held in the render side's arena (added and not yet removed).
    pub live_nodes: AtomicU64,
    /// Processor messages whose type was not the one their processor takes (dropped; zero
    /// unless a host builds messages by hand for the wrong node).
    pub message_mismatches: AtomicU64,
    /// Nodes whose processor panicked (contained: each is silent from then on).
    pub faulted_nodes: AtomicU64,
    /// Quanta whose output had NaN or infinite samples, replaced by 0 before the device.
    pub non_finite_quanta: AtomicU64,
    /// Automation events dropped because their param's timeline was full (zero through the
    /// Bevy layer, which grows a timeline before sending the events that need the room).
    pub automation_dropped: AtomicU64,
    /// Quanta that applied [`crate::render::COMMAND_BUDGET`] commands and left the rest in
    /// the ring for the next quantum (a burst, e.g. after resuming a suspended context).
    pub deferred_quanta: AtomicU64,
    /// The most commands applied before one quantum (at most the budget).
    pub peak_commands_per_quantum: AtomicU64,
}

impl RenderShared {
    /// Records a render load measurement. Called on the real-time thread.
    pub fn record_load(&self, load: f32) {
        self.load.store(load.to_bits(), Ordering::Relaxed);
        let peak = f32::from_bits(self.peak_load.load(Ordering::Relaxed));
        if load > peak {
            self.peak_load.store(load.to_bits(), Ordering::Relaxed);
        }
        let avg = f32::from_bits(self.average_load.load(Ordering::Relaxed));
        let avg = if avg == 0.0 {
            load
        } else {
            avg + (load - avg) * 0.05
        };
        self.average_load.store(avg.to_bits(), Ordering::Relaxed);
    }

    /// Frames rendered (Acquire: pairs with the render thread's Release store).
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Acquire)
    }

    /// `(current, average, peak)` render load.
    pub fn loads(&self) -> (f32, f32, f32) {
        let read = |a: &AtomicU32| f32::from_bits(a.load(Ordering::Relaxed));
        (
            read(&self.load),
            read(&self.average_load),
            read(&self.peak_load),
        )
    }
}

/// Command ring capacity.
pub const COMMAND_CAPACITY: usize = 8192;
/// Feedback ring capacity.
pub const FEEDBACK_CAPACITY: usize = 8192;

/// The control side's ends: it pushes commands (with back-pressure) and pops feedback.
pub struct ControlChannel {
    commands: rtrb::Producer<Command>,
    feedback: rtrb::Consumer<Feedback>,
    backlog: VecDeque<Command>,
    /// How many times commands had to wait for a later frame because the ring was full.
    pub back_pressure: u64,
}

/// The render side's ends.
pub struct RenderChannel {
    pub(crate) commands: rtrb::Consumer<Command>,
    pub(crate) feedback: rtrb::Producer<Feedback>,
}

/// Makes a connected pair of channels.
pub fn channel(commands: usize, feedback: usize) -> (ControlChannel, RenderChannel) {
    let (cp, cc) = rtrb::RingBuffer::new(commands);
    let (fp, fc) = rtrb::RingBuffer::new(feedback);
    (
        ControlChannel {
            commands: cp,
            feedback: fc,
            backlog: VecDeque::new(),
            back_pressure: 0,
        },
        RenderChannel {
            commands: cc,
            feedback: fp,
        },
    )
}

impl ControlChannel {
    /// Queues a command; it goes out now if the ring has room, else at the next `flush`.
    pub fn send(&mut self, command: Command) {
        self.backlog.push_back(command);
    }

    /// Pushes as much of the backlog as fits (real time: the rest waits for the next frame,
    /// counted, never dropped). Returns how many commands still wait.
    pub fn flush(&mut self) -> usize {
        while let Some(command) = self.backlog.pop_front() {
            if let Err(rtrb::PushError::Full(command)) = self.commands.push(command) {
                self.backlog.push_front(command);
                self.back_pressure += 1;
                break;
            }
        }
        self.backlog.len()
    }

    /// Takes the backlog (offline: applied directly, with no back-pressure).
    pub fn take_backlog(&mut self) -> impl Iterator<Item = Command> + '_ {
        self.backlog.drain(..)
    }

    /// Commands waiting for room.
    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    /// Commands in the ring not yet applied by the render side.
    pub fn in_flight(&self) -> usize {
        self.commands.buffer().capacity() - self.commands.slots()
    }

    /// Pops one feedback message.
    pub fn receive(&mut self) -> Option<Feedback> {
        self.feedback.pop().ok()
    }
}

/// Shared atomics, created once per context.
pub fn shared() -> Arc<RenderShared> {
    Arc::new(RenderShared::default())
}
