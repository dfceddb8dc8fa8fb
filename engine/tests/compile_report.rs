//! What the schedule compiler reports: which delays break a cycle, which nodes are muted for
//! sitting in a cycle without one, how many pool buffers the schedule needs, and the order of
//! its steps.

use webaudio_engine::command::RenderId;
use webaudio_engine::graph::{Edge, EdgeTarget, Graph, GraphNode};
use webaudio_engine::node::{ChannelConfig, NodeShape, OutputChannels, ProcessPhase};
use webaudio_engine::render::schedule::StepKind;

fn id(slot: u32) -> RenderId {
    RenderId::new(slot, 0)
}

fn node(inputs: usize, is_delay: bool) -> GraphNode {
    GraphNode {
        shape: NodeShape {
            inputs,
            outputs: 1,
            is_delay,
        },
        config: ChannelConfig::default(),
        outputs: vec![OutputChannels::FollowInput],
    }
}

fn wire(graph: &mut Graph, from: u32, to: u32) {
    graph.edges.push(Edge {
        from: id(from),
        output: 0,
        to: id(to),
        target: EdgeTarget::Input(0),
    });
}

/// destination 0 ← gain 1 ← source 2; gain 1 ↔ delay 3 (a feedback loop through a delay);
/// gains 4 ↔ 5 (a loop without a delay) → destination.
fn graph() -> Graph {
    let mut g = Graph::default();
    g.nodes.insert(id(0), node(1, false));
    g.nodes.insert(id(1), node(1, false));
    g.nodes.insert(id(2), node(0, false));
    g.nodes.insert(id(3), node(1, true));
    g.nodes.insert(id(4), node(1, false));
    g.nodes.insert(id(5), node(1, false));
    g.destination = Some(id(0));
    wire(&mut g, 2, 1);
    wire(&mut g, 1, 0);
    wire(&mut g, 1, 3);
    wire(&mut g, 3, 1);
    wire(&mut g, 4, 5);
    wire(&mut g, 5, 4);
    wire(&mut g, 5, 0);
    g
}

#[test]
fn the_report_names_cycle_delays_muted_nodes_and_buffers() {
    let (schedule, report) = graph().compile();
    assert_eq!(report.cycle_delays, vec![id(3)]);
    assert_eq!(report.muted, vec![id(4), id(5)]);
    // Six outputs; buffers are reused after their last reader, the destination's is kept.
    assert!(
        (2..=6).contains(&report.buffers),
        "{} buffers",
        report.buffers
    );
    let steps: Vec<(RenderId, StepKind)> =
        schedule.steps().iter().map(|s| (s.node, s.kind)).collect();
    let at = |node, kind| steps.iter().position(|&s| s == (node, kind)).unwrap();
    let whole = StepKind::Process(ProcessPhase::Whole);
    // The delay in the loop is split: its read runs before the gain, its write after.
    let read = at(id(3), StepKind::Process(ProcessPhase::CycleRead));
    let write = at(id(3), StepKind::Process(ProcessPhase::CycleWrite));
    assert!(
        read < at(id(1), whole) && at(id(1), whole) < write,
        "{steps:?}"
    );
    assert!(at(id(2), whole) < at(id(1), whole));
    assert!(
        at(id(1), whole) < at(id(0), whole),
        "the destination runs last"
    );
    // The muted loop's nodes are in the schedule, but never processed.
    for muted in [id(4), id(5)] {
        assert!(
            steps
                .iter()
                .any(|&(n, kind)| n == muted && !matches!(kind, StepKind::Process(_))),
            "{muted} is scheduled as silence: {steps:?}"
        );
    }
}

#[test]
fn a_graph_without_cycles_reports_none() {
    let mut g = graph();
    // Cut both loops' back edges: delay 3 → gain 1 and gain 5 → gain 4.
    g.edges
        .retain(|e| (e.from, e.to) != (id(3), id(1)) && (e.from, e.to) != (id(5), id(4)));
    let (_, report) = g.compile();
    assert!(report.cycle_delays.is_empty(), "{report:?}");
    assert!(report.muted.is_empty(), "{report:?}");
}
