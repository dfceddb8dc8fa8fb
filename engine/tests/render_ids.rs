//! Render ids under reuse: a slot freed and reused at once never lets the old node's late
//! 'ended' or commands reach the new node, and feedback that waited in the overflow queue comes
//! back oldest first. Driven through the engine's public API only (no Bevy).

use webaudio_engine::command::{self, Command, ControlChannel, Feedback, RenderId, RenderIds};
use webaudio_engine::graph::{Edge, EdgeTarget, Graph, GraphNode};
use webaudio_engine::node::constant_source::{ConstantSourceParam, ConstantSourceProcessor};
use webaudio_engine::node::destination::DestinationProcessor;
use webaudio_engine::node::scheduled::ScheduleEvent;
use webaudio_engine::node::{ChannelConfig, NodeShape, OutputChannels};
use webaudio_engine::param::NodeParams;
use webaudio_engine::render::timeline::AutomationEvent;
use webaudio_engine::render::{ParamInit, RenderNode, Renderer};

const SR: f32 = 48_000.0;
const QUANTUM: f64 = 128.0 / 48_000.0;

struct Host {
    control: ControlChannel,
    renderer: Renderer,
    graph: Graph,
    ids: RenderIds,
}

impl Host {
    /// A renderer whose feedback ring holds only `feedback` messages, with a destination.
    fn new(feedback: usize) -> Self {
        let (control, channel) = command::channel(1024, feedback);
        let renderer = Renderer::new(channel, command::shared(), SR, 1, 16);
        let mut host = Self {
            control,
            renderer,
            graph: Graph::default(),
            ids: RenderIds::default(),
        };
        let dest = host.ids.allocate();
        host.add(dest, RenderNode::build(DestinationProcessor, SR, [], 4), 1);
        host.graph.destination = Some(dest);
        host
    }

    fn add(&mut self, id: RenderId, node: Box<RenderNode>, inputs: usize) {
        self.control.send(Command::AddNode { id, node });
        let shape = NodeShape {
            inputs,
            outputs: 1,
            is_delay: false,
        };
        let config = ChannelConfig::default();
        let outputs = vec![OutputChannels::FollowInput];
        self.graph.nodes.insert(
            id,
            GraphNode {
                shape,
                config,
                outputs,
            },
        );
    }

    /// A constant source (offset `offset`) playing from 0 until `stop` seconds, into the
    /// destination.
    fn source(&mut self, offset: f32, stop: f64) -> RenderId {
        let id = self.ids.allocate();
        let params = [ParamInit {
            value: offset,
            ..ParamInit::declared(ConstantSourceParam::Offset)
        }];
        let node = RenderNode::build(ConstantSourceProcessor::new(SR), SR, params, 4);
        self.add(id, node, 0);
        self.graph.edges.push(Edge {
            from: id,
            output: 0,
            to: self.graph.destination.unwrap(),
            target: EdgeTarget::Input(0),
        });
        for event in [ScheduleEvent::Start(0.0), ScheduleEvent::Stop(stop)] {
            self.control.send(Command::Schedule { node: id, event });
        }
        id
    }

    /// Removes `id` the way the Bevy layer does: a schedule without it, then the node; the
    /// slot is free for the next `allocate` at once.
    fn remove(&mut self, id: RenderId) {
        self.graph.nodes.remove(&id);
        self.graph.edges.retain(|e| e.from != id);
        self.control.send(Command::RemoveNode { id });
        self.ids.free(id);
    }

    /// Sends a fresh schedule and every queued command, then renders one quantum.
    fn render(&mut self) -> f32 {
        let (schedule, _) = self.graph.compile();
        self.control.send(Command::SetSchedule(Box::new(schedule)));
        for command in self.control.take_backlog() {
            self.renderer.apply(command);
        }
        self.renderer.render_quantum().channel(0)[127]
    }

    fn ended(&mut self) -> Vec<RenderId> {
        let mut ended = Vec::new();
        while let Some(feedback) = self.control.receive() {
            if let Feedback::Ended(id) = feedback {
                ended.push(id);
            }
        }
        ended
    }
}

#[test]
fn a_reused_slot_gets_a_new_generation_and_ignores_the_old_nodes_ended_and_commands() {
    // A two-slot feedback ring: garbage from the schedule swaps fills it, so the old
    // source's 'ended' waits in the overflow queue (back-pressure on the feedback side).
    let mut host = Host::new(2);
    let old = host.source(0.25, QUANTUM / 2.0);
    host.render(); // the old source ends within this quantum
    host.render();
    host.remove(old);
    let new = host.source(0.5, 10.0);
    assert_eq!(new.slot(), old.slot(), "the freed slot is reused at once");
    assert_ne!(new.generation(), old.generation());
    // A late command for the old node (its param) must not reach the new one.
    host.control.send(Command::ParamEvent {
        node: old,
        param: ConstantSourceParam::Offset.slot(),
        event: AutomationEvent::SetValue {
            value: 9.0,
            time: 0.0,
        },
    });
    let mut last = 0.0;
    for _ in 0..8 {
        last = host.render();
    }
    assert_eq!(
        last, 0.5,
        "the new node plays its own offset, untouched by the old id"
    );
    let ended = host.ended();
    assert_eq!(ended, vec![old], "only the old generation ended");
    assert!(
        !ended.contains(&new),
        "the old node's 'ended' names its own generation, not the slot's new node"
    );
}

#[test]
fn feedback_waiting_in_the_overflow_queue_comes_back_oldest_first() {
    let mut host = Host::new(1);
    // Four sources ending one quantum apart, while the one-slot ring is full of garbage.
    let sources: Vec<RenderId> = (1..=4)
        .map(|k| host.source(0.1, QUANTUM * f64::from(k) - QUANTUM / 2.0))
        .collect();
    for _ in 0..6 {
        host.render();
    }
    let stalls = host
        .renderer
        .shared()
        .feedback_stalls
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        stalls > 4,
        "feedback waited in the overflow queue ({stalls} stalls)"
    );
    // Drain the ring repeatedly while rendering: the overflow is retried every quantum.
    let mut ended = Vec::new();
    for _ in 0..64 {
        ended.extend(host.ended());
        host.renderer.render_quantum();
    }
    ended.extend(host.ended());
    assert_eq!(
        ended, sources,
        "'ended' arrives in the order the sources ended"
    );
}
