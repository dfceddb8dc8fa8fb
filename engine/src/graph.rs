//! The schedule compiler (control side): turns the node/edge graph into a [`Schedule`] — the
//! processing order, cycle handling and buffer assignment — which is sent to the render
//! thread and swapped in whole.
//!
//! - Order: topological (Kahn), stable in node-id order so renders are deterministic.
//! - Cycles: a cycle that contains a `DelayNode` is broken at the delay, which is split into
//!   a read step (first) and a write step (after its inputs); its delay is then at least one
//!   render quantum (spec, "DelayNode"). The nodes of a cycle with no delay are muted.
//! - Buffers: each output gets a pool buffer, reused once its last consumer has run.
//! - Channel bounds: the most channels each output can carry, so buffers never grow.

use std::collections::HashMap;

use crate::command::RenderId;
use crate::node::{ChannelConfig, NodeShape, OutputChannels, ProcessPhase};
use crate::param::ParamSlot;
use crate::render::bus::MAX_CHANNELS;
use crate::render::mix::computed_number_of_channels;
use crate::render::schedule::{Schedule, Step, StepKind};

/// Where an edge ends: a node input or a param (by its typed id's slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdgeTarget {
    /// Input `n`.
    Input(usize),
    /// A param, by the slot of its typed id (`NodeParams::slot`).
    Param(ParamSlot),
}

/// One connection, by render ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Edge {
    /// The source node.
    pub from: RenderId,
    /// The source node's output index.
    pub output: usize,
    /// The destination node.
    pub to: RenderId,
    /// The input or param it feeds.
    pub target: EdgeTarget,
}

/// What the compiler knows about a node.
#[derive(Clone, Debug)]
pub struct GraphNode {
    /// Inputs, outputs, delay-ness.
    pub shape: NodeShape,
    /// channelCount / mode / interpretation.
    pub config: ChannelConfig,
    /// The channel rule of each output.
    pub outputs: Vec<OutputChannels>,
}

/// The whole graph as the ECS sees it.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Nodes by render id.
    pub nodes: HashMap<RenderId, GraphNode>,
    /// Every connection.
    pub edges: Vec<Edge>,
    /// The destination's render id.
    pub destination: Option<RenderId>,
    /// The listener's render id (the first `AudioListener`), if any.
    pub listener: Option<RenderId>,
    /// Nodes that read the listener's params: ordered after it.
    pub listener_readers: Vec<RenderId>,
}

/// What the compiler decided, for diagnostics and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompileReport {
    /// Delay nodes that break a cycle.
    pub cycle_delays: Vec<RenderId>,
    /// Nodes muted because they sit in a cycle without a delay.
    pub muted: Vec<RenderId>,
    /// Pool buffers allocated.
    pub buffers: usize,
}

impl Graph {
    /// Compiles the schedule. Allocates: control thread only.
    pub fn compile(&self) -> (Schedule, CompileReport) {
        let ids = self.sorted_ids();
        let (cycle_delays, muted) = self.break_cycles(&ids);
        let order = self.order(&ids, &cycle_delays, &muted);
        let bounds = self.channel_bounds(&order);
        let capacity = bounds.values().copied().max().unwrap_or(1).max(2);
        let (steps, buffers) = self.assign(&order, &bounds, capacity);
        let report = CompileReport {
            cycle_delays: sorted(cycle_delays),
            muted: sorted(muted),
            buffers,
        };
        let max_inputs = self
            .nodes
            .values()
            .map(|n| n.shape.inputs)
            .max()
            .unwrap_or(0);
        let max_outputs = self
            .nodes
            .values()
            .map(|n| n.shape.outputs)
            .max()
            .unwrap_or(0);
        let destination = self.destination.and_then(|d| {
            steps
                .iter()
                .find(|s| s.node == d && s.kind == StepKind::Process(ProcessPhase::Whole))
                .and_then(|s| s.outputs.first().copied())
        });
        let mut schedule = Schedule::new(
            steps,
            buffers,
            capacity,
            max_inputs,
            max_outputs,
            destination,
        );
        schedule.listener = self.listener.filter(|l| self.nodes.contains_key(l));
        (schedule, report)
    }

    fn sorted_ids(&self) -> Vec<RenderId> {
        let mut ids: Vec<RenderId> = self.nodes.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Edges that define processing order (param edges included; dangling ones dropped).
    fn live_edges(&self) -> impl Iterator<Item = &Edge> {
        self.edges
            .iter()
            .filter(|e| self.nodes.contains_key(&e.from) && self.nodes.contains_key(&e.to))
    }

    /// The live edges into each node, in edge order (which fixes the order inputs are summed
    /// in). Built once per compile, so the passes below stay linear in nodes + edges (a
    /// scan of every edge per node made spawning 1,000 sources in one frame cost 280 ms).
    fn incoming(&self) -> HashMap<RenderId, Vec<&Edge>> {
        let mut incoming: HashMap<RenderId, Vec<&Edge>> = HashMap::with_capacity(self.nodes.len());
        for e in self.live_edges() {
            incoming.entry(e.to).or_default().push(e);
        }
        incoming
    }

    /// Finds cycles: delays inside one are split; cycles left without one are muted.
    fn break_cycles(&self, ids: &[RenderId]) -> (Vec<RenderId>, Vec<RenderId>) {
        let mut split: Vec<RenderId> = Vec::new();
        for scc in self.cycles(ids, &split, &[]) {
            split.extend(
                scc.iter()
                    .copied()
                    .filter(|id| self.nodes[id].shape.is_delay),
            );
        }
        let muted: Vec<RenderId> = self
            .cycles(ids, &split, &[])
            .into_iter()
            .flatten()
            .collect();
        (split, muted)
    }

    /// Strongly connected components that form cycles, ignoring edges out of `split` delays
    /// and edges touching `muted` nodes (Tarjan, iterative).
    fn cycles(
        &self,
        ids: &[RenderId],
        split: &[RenderId],
        muted: &[RenderId],
    ) -> Vec<Vec<RenderId>> {
        let adjacency = self.adjacency(split, muted);
        let mut finder = Tarjan::new(&adjacency);
        for &id in ids {
            finder.visit(id);
        }
        finder
            .components
            .into_iter()
            .filter(|c| c.len() > 1 || adjacency.get(&c[0]).is_some_and(|n| n.contains(&c[0])))
            .collect()
    }

    fn adjacency(
        &self,
        split: &[RenderId],
        muted: &[RenderId],
    ) -> HashMap<RenderId, Vec<RenderId>> {
        let mut adjacency: HashMap<RenderId, Vec<RenderId>> = HashMap::new();
        for e in self.live_edges() {
            if split.contains(&e.from) || muted.contains(&e.from) || muted.contains(&e.to) {
                continue;
            }
            adjacency.entry(e.from).or_default().push(e.to);
        }
        // Implicit ordering edges: the listener's params are computed before its readers.
        if let Some(l) = self.listener.filter(|l| self.nodes.contains_key(l)) {
            for &r in &self.listener_readers {
                if self.nodes.contains_key(&r)
                    && !split.contains(&l)
                    && !muted.contains(&l)
                    && !muted.contains(&r)
                {
                    adjacency.entry(l).or_default().push(r);
                }
            }
        }
        for next in adjacency.values_mut() {
            next.sort_unstable();
            next.dedup();
        }
        adjacency
    }

    /// The processing order: muted nodes and cycle reads first, then Kahn's algorithm.
    fn order(
        &self,
        ids: &[RenderId],
        split: &[RenderId],
        muted: &[RenderId],
    ) -> Vec<(RenderId, StepKind)> {
        let mut order: Vec<(RenderId, StepKind)> =
            muted.iter().map(|&id| (id, StepKind::Silent)).collect();
        order.extend(
            split
                .iter()
                .map(|&id| (id, StepKind::Process(ProcessPhase::CycleRead))),
        );
        let adjacency = self.adjacency(split, muted);
        let mut indegree: HashMap<RenderId, usize> = ids.iter().map(|&id| (id, 0)).collect();
        for next in adjacency.values() {
            for n in next {
                *indegree.entry(*n).or_default() += 1;
            }
        }
        let mut ready: std::collections::BTreeSet<RenderId> = ids
            .iter()
            .copied()
            .filter(|id| indegree[id] == 0 && !muted.contains(id))
            .collect();
        while let Some(id) = ready.pop_first() {
            let phase = if split.contains(&id) {
                ProcessPhase::CycleWrite
            } else {
                ProcessPhase::Whole
            };
            order.push((id, StepKind::Process(phase)));
            for n in adjacency.get(&id).into_iter().flatten() {
                let d = indegree.entry(*n).or_default();
                *d -= 1;
                if *d == 0 && !muted.contains(n) {
                    ready.insert(*n);
                }
            }
        }
        order
    }

    /// The most channels each (node, output) can carry: iterate the rules to a fixed point.
    fn channel_bounds(&self, order: &[(RenderId, StepKind)]) -> HashMap<(RenderId, usize), usize> {
        let mut bounds: HashMap<(RenderId, usize), usize> = HashMap::new();
        let incoming = self.incoming();
        for _ in 0..4 {
            let mut changed = false;
            for (id, _) in order {
                let node = &self.nodes[id];
                let widest = incoming
                    .get(id)
                    .into_iter()
                    .flatten()
                    .filter(|e| matches!(e.target, EdgeTarget::Input(_)))
                    .map(|e| bounds.get(&(e.from, e.output)).copied().unwrap_or(1))
                    .max()
                    .unwrap_or(1);
                let input = computed_number_of_channels(&node.config, widest);
                for (k, rule) in node.outputs.iter().enumerate() {
                    let b = rule.resolve(input).clamp(1, MAX_CHANNELS);
                    if bounds.insert((*id, k), b) != Some(b) {
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        bounds
    }

    /// Builds the steps with their input lists and assigns pool buffers by liveness.
    fn assign(
        &self,
        order: &[(RenderId, StepKind)],
        bounds: &HashMap<(RenderId, usize), usize>,
        _capacity: usize,
    ) -> (Vec<Step>, usize) {
        // The step that reads each node's inputs (its first Whole or CycleWrite step).
        let mut reading_step: HashMap<RenderId, usize> = HashMap::with_capacity(order.len());
        for (index, (id, kind)) in order.iter().enumerate() {
            if matches!(
                kind,
                StepKind::Process(ProcessPhase::Whole | ProcessPhase::CycleWrite)
            ) {
                reading_step.entry(*id).or_insert(index);
            }
        }
        // The step that last reads each (node, output), and what each step is the last to read.
        let mut last_use: HashMap<(RenderId, usize), usize> = HashMap::new();
        for e in self.live_edges() {
            if let Some(&step) = reading_step.get(&e.to) {
                let entry = last_use.entry((e.from, e.output)).or_insert(step);
                *entry = (*entry).max(step);
            }
        }
        let mut released_at: HashMap<usize, Vec<(RenderId, usize)>> = HashMap::new();
        for (&key, &step) in &last_use {
            released_at.entry(step).or_default().push(key);
        }
        let incoming = self.incoming();
        let mut buffer_of: HashMap<(RenderId, usize), usize> = HashMap::new();
        let mut free: Vec<usize> = Vec::new();
        let mut count = 0;
        let mut steps = Vec::with_capacity(order.len());
        for (index, &(id, kind)) in order.iter().enumerate() {
            let node = &self.nodes[&id];
            let writes_outputs = !matches!(kind, StepKind::Process(ProcessPhase::CycleWrite));
            let mut outputs = Vec::new();
            if writes_outputs {
                for k in 0..node.shape.outputs {
                    let b = free.pop().unwrap_or_else(|| {
                        count += 1;
                        count - 1
                    });
                    buffer_of.insert((id, k), b);
                    outputs.push(b);
                }
            } else {
                outputs.extend(
                    (0..node.shape.outputs).filter_map(|k| buffer_of.get(&(id, k)).copied()),
                );
            }
            let reads_inputs = !matches!(
                kind,
                StepKind::Silent | StepKind::Process(ProcessPhase::CycleRead)
            );
            let (inputs, params) = if reads_inputs {
                let edges = incoming.get(&id).map_or(&[][..], Vec::as_slice);
                step_inputs(node, edges, &buffer_of)
            } else {
                (vec![Vec::new(); node.shape.inputs], Vec::new())
            };
            steps.push(Step {
                node: id,
                kind,
                config: node.config,
                inputs,
                params,
                outputs,
            });
            // Release what nobody reads after this step.
            for k in 0..node.shape.outputs {
                let key = (id, k);
                let keep = Some(id) == self.destination;
                if writes_outputs && !keep && !last_use.contains_key(&key) {
                    free.push(buffer_of[&key]);
                }
            }
            for key in released_at.get(&index).into_iter().flatten() {
                if let Some(&b) = buffer_of.get(key) {
                    free.push(b);
                }
            }
            free.sort_unstable_by(|a, b| b.cmp(a));
            free.dedup();
        }
        let _ = bounds;
        (steps, count)
    }
}

/// Per connected param (by index): the pool buffers summed into it.
type ParamFeeds = Vec<(ParamSlot, Vec<usize>)>;

/// For one node: the buffers feeding each input, and each param's feeding buffers, from the
/// node's incoming `edges` in order.
fn step_inputs(
    node: &GraphNode,
    edges: &[&Edge],
    buffer_of: &HashMap<(RenderId, usize), usize>,
) -> (Vec<Vec<usize>>, ParamFeeds) {
    let mut inputs = vec![Vec::new(); node.shape.inputs];
    let mut params: ParamFeeds = Vec::new();
    for e in edges {
        let Some(&b) = buffer_of.get(&(e.from, e.output)) else {
            continue;
        };
        match e.target {
            EdgeTarget::Input(i) if i < inputs.len() => inputs[i].push(b),
            EdgeTarget::Input(_) => {}
            EdgeTarget::Param(p) => match params.iter_mut().find(|(q, _)| *q == p) {
                Some((_, list)) => list.push(b),
                None => params.push((p, vec![b])),
            },
        }
    }
    (inputs, params)
}

fn sorted(mut v: Vec<RenderId>) -> Vec<RenderId> {
    v.sort_unstable();
    v.dedup();
    v
}

/// Tarjan's strongly connected components, iterative so deep graphs cannot overflow the stack.
struct Tarjan<'a> {
    adjacency: &'a HashMap<RenderId, Vec<RenderId>>,
    index: HashMap<RenderId, usize>,
    low: HashMap<RenderId, usize>,
    on_stack: std::collections::HashSet<RenderId>,
    stack: Vec<RenderId>,
    next: usize,
    components: Vec<Vec<RenderId>>,
}

impl<'a> Tarjan<'a> {
    fn new(adjacency: &'a HashMap<RenderId, Vec<RenderId>>) -> Self {
        Self {
            adjacency,
            index: HashMap::new(),
            low: HashMap::new(),
            on_stack: Default::default(),
            stack: Vec::new(),
            next: 0,
            components: Vec::new(),
        }
    }

    fn visit(&mut self, root: RenderId) {
        if self.index.contains_key(&root) {
            return;
        }
        let empty = Vec::new();
        // (node, position in its successor list)
        let mut work: Vec<(RenderId, usize)> = vec![(root, 0)];
        self.open(root);
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            let successors = self.adjacency.get(&v).unwrap_or(&empty);
            if let Some(&w) = successors.get(*pos) {
                *pos += 1;
                if !self.index.contains_key(&w) {
                    self.open(w);
                    work.push((w, 0));
                } else if self.on_stack.contains(&w) {
                    let low = self.low[&v].min(self.index[&w]);
                    self.low.insert(v, low);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                let low = self.low[&parent].min(self.low[&v]);
                self.low.insert(parent, low);
            }
            if self.low[&v] == self.index[&v] {
                self.close(v);
            }
        }
    }

    fn open(&mut self, v: RenderId) {
        self.index.insert(v, self.next);
        self.low.insert(v, self.next);
        self.next += 1;
        self.stack.push(v);
        self.on_stack.insert(v);
    }

    fn close(&mut self, v: RenderId) {
        let mut component = Vec::new();
        while let Some(w) = self.stack.pop() {
            self.on_stack.remove(&w);
            component.push(w);
            if w == v {
                break;
            }
        }
        self.components.push(component);
    }
}
