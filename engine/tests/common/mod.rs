//! Shared by the engine's integration tests: graph nodes and a renderer driven through the
//! real command ring, with a constant source playing into a mono destination.

// Each test crate uses part of this module.
#![allow(dead_code)]

use webaudio_engine::command::{self, Command, ControlChannel, RenderId};
use webaudio_engine::graph::{Edge, EdgeTarget, Graph, GraphNode};
use webaudio_engine::node::constant_source::{ConstantSourceParam, ConstantSourceProcessor};
use webaudio_engine::node::destination::DestinationProcessor;
use webaudio_engine::node::scheduled::ScheduleEvent;
use webaudio_engine::node::{ChannelConfig, NodeShape, OutputChannels};
use webaudio_engine::render::{ParamInit, RenderNode, Renderer};

pub const SR: f32 = 48_000.0;

/// A graph node with `inputs` inputs and one output that follows its input's width.
pub fn graph_node(inputs: usize) -> GraphNode {
    GraphNode {
        shape: NodeShape {
            inputs,
            outputs: 1,
            is_delay: false,
        },
        config: ChannelConfig::default(),
        outputs: vec![OutputChannels::FollowInput],
    }
}

/// A destination and a constant source (offset `value`, timeline room for `capacity` events)
/// started at 0 and playing into it. Every command goes through the ring; nothing is applied
/// yet. Returns the control side, the renderer and the source's id.
pub fn constant_source_into_destination(
    value: f32,
    capacity: usize,
) -> (ControlChannel, Renderer, RenderId) {
    let (mut control, channel) = command::channel(command::COMMAND_CAPACITY, 8192);
    let renderer = Renderer::new(channel, command::shared(), SR, 1, 4);
    let mut ids = command::RenderIds::default();
    let (dest, source) = (ids.allocate(), ids.allocate());
    let mut graph = Graph {
        destination: Some(dest),
        ..Graph::default()
    };
    graph.nodes.insert(dest, graph_node(1));
    graph.nodes.insert(source, graph_node(0));
    graph.edges.push(Edge {
        from: source,
        output: 0,
        to: dest,
        target: EdgeTarget::Input(0),
    });
    control.send(Command::AddNode {
        id: dest,
        node: RenderNode::build(DestinationProcessor, SR, [], 4),
    });
    let params = [ParamInit {
        value,
        ..ParamInit::declared(ConstantSourceParam::Offset)
    }];
    control.send(Command::AddNode {
        id: source,
        node: RenderNode::build(ConstantSourceProcessor::new(SR), SR, params, capacity),
    });
    control.send(Command::Schedule {
        node: source,
        event: ScheduleEvent::Start(0.0),
    });
    control.send(Command::SetSchedule(Box::new(graph.compile().0)));
    (control, renderer, source)
}
