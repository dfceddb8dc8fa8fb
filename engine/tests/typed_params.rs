//! Params are bound by typed id, never by position: a node whose param declarations are
//! reordered renders bit-identically, because the processor, the commands and the param
//! connections all go through the same declaration.

mod common;

use std::marker::PhantomData;

use webaudio_engine::command::{self, Command, RenderIds};
use webaudio_engine::graph::{Edge, EdgeTarget, Graph};
use webaudio_engine::node::constant_source::{ConstantSourceParam, ConstantSourceProcessor};
use webaudio_engine::node::destination::DestinationProcessor;
use webaudio_engine::node::scheduled::ScheduleEvent;
use webaudio_engine::node::{
    AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus,
};
use webaudio_engine::node_params;
use webaudio_engine::param::{NodeParams, ParamDescriptor, ParamId};
use webaudio_engine::render::timeline::AutomationEvent;
use webaudio_engine::render::{ParamInit, RenderNode, Renderer};

const SR: f32 = 48_000.0;

const fn unbounded(default: f32) -> ParamDescriptor {
    ParamDescriptor::a_rate(default, -ParamDescriptor::MAX, ParamDescriptor::MAX)
}

node_params! {
    /// Declared scale first.
    enum ScaleFirst {
        Scale = (ParamId::Gain, unbounded(1.0)),
        Offset = (ParamId::Offset, unbounded(0.0)),
    }
}

node_params! {
    /// The same params, declared offset first.
    enum OffsetFirst {
        Offset = (ParamId::Offset, unbounded(0.0)),
        Scale = (ParamId::Gain, unbounded(1.0)),
    }
}

/// Which declared param plays which part.
trait Affine: NodeParams {
    const SCALE: Self;
    const OFFSET: Self;
}

impl Affine for ScaleFirst {
    const SCALE: Self = Self::Scale;
    const OFFSET: Self = Self::Offset;
}

impl Affine for OffsetFirst {
    const SCALE: Self = Self::Scale;
    const OFFSET: Self = Self::Offset;
}

/// output = input × scale + offset.
struct AffineProcessor<P>(PhantomData<P>);

impl<P: Affine> AudioProcessor for AffineProcessor<P> {
    type Params = P;
    type Message = ();

    fn process(
        &mut self,
        io: ProcessIo<'_, P>,
        _: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let input = &io.inputs[0];
        let output = &mut io.outputs[0];
        output.set_channels(1);
        let out = output.channel_mut(0);
        for (i, o) in out.iter_mut().enumerate() {
            let x = if input.is_silent() {
                0.0
            } else {
                input.channel(0)[i]
            };
            *o = x * io.params.at(P::SCALE, i) + io.params.at(P::OFFSET, i);
        }
        ProcessStatus::Active
    }
}

/// Renders a constant source → affine node → destination, with both params automated and the
/// source also connected into `scale`, for 20 quanta.
fn render<P: Affine>() -> Vec<f32> {
    let (mut control, channel) = command::channel(1024, 1024);
    let mut renderer = Renderer::new(channel, command::shared(), SR, 1, 8);
    let mut ids = RenderIds::default();
    let (dest, source, affine) = (ids.allocate(), ids.allocate(), ids.allocate());
    let node = common::graph_node;
    let mut graph = Graph::default();
    graph.nodes.insert(dest, node(1));
    graph.nodes.insert(source, node(0));
    graph.nodes.insert(affine, node(1));
    graph.destination = Some(dest);
    let edge = |from, to, target| Edge {
        from,
        output: 0,
        to,
        target,
    };
    graph.edges.push(edge(source, affine, EdgeTarget::Input(0)));
    graph
        .edges
        .push(edge(source, affine, EdgeTarget::Param(P::SCALE.slot())));
    graph.edges.push(edge(affine, dest, EdgeTarget::Input(0)));
    let commands = [
        Command::AddNode {
            id: dest,
            node: RenderNode::build(DestinationProcessor, SR, [], 8),
        },
        Command::AddNode {
            id: source,
            node: RenderNode::build(
                ConstantSourceProcessor::new(SR),
                SR,
                ParamInit::defaults::<ConstantSourceParam>(),
                8,
            ),
        },
        Command::AddNode {
            id: affine,
            node: RenderNode::build(
                AffineProcessor::<P>(PhantomData),
                SR,
                ParamInit::defaults::<P>(),
                8,
            ),
        },
        Command::SetSchedule(Box::new(graph.compile().0)),
        Command::Schedule {
            node: source,
            event: ScheduleEvent::Start(0.0),
        },
        Command::ParamEvent {
            node: affine,
            param: P::SCALE.slot(),
            event: AutomationEvent::LinearRamp {
                value: -2.0,
                end_time: 0.03,
            },
        },
        Command::ParamEvent {
            node: affine,
            param: P::OFFSET.slot(),
            event: AutomationEvent::SetTarget {
                target: 0.75,
                start_time: 0.01,
                time_constant: 0.005,
            },
        },
    ];
    for command in commands {
        control.send(command);
    }
    for command in control.take_backlog() {
        renderer.apply(command);
    }
    let mut out = vec![Vec::new()];
    renderer.render_planar(20 * 128, &mut out);
    out.pop().unwrap()
}

#[test]
fn reordering_param_declarations_leaves_the_render_bit_identical() {
    assert_ne!(
        ScaleFirst::Scale.slot(),
        OffsetFirst::Scale.slot(),
        "the two declarations put the params in different slots"
    );
    let a = render::<ScaleFirst>();
    let b = render::<OffsetFirst>();
    // The render is not trivial: both params move, and the audio-rate input adds to scale.
    assert!(
        (a[0] - 2.0).abs() < 1e-6,
        "scale 1 + input 1, offset 0: {}",
        a[0]
    );
    assert!(
        a[2559] < 0.0,
        "scale ramps below zero, offset rises: {}",
        a[2559]
    );
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b));
}
