//! The graph view: every node entity as an egui-snarl node with its inputs, params (as input
//! pins) and outputs, connection entities as wires, laid out by [`layout::layered`]. Dragging
//! a wire asks for a connection entity, removing one (right-click a pin, or drag it off) for
//! a despawn; clicking a node selects its entity. A new layout is fitted into the view; a
//! graph of more than [`COMPACT_ABOVE`] nodes is compact (unconnected param pins show on the
//! selected node only).

use std::collections::{HashMap, HashSet};

use bevy::prelude::Entity;
use egui::emath::TSTransform;
use egui::{Color32, Pos2, Rect, Ui, Vec2};
use egui_snarl::ui::{
    BackgroundPattern, NodeLayout, PinInfo, SnarlStyle, SnarlViewer, SnarlWidget, WireStyle,
};
use egui_snarl::{InPin, InPinId, NodeId, OutPin, OutPinId, Snarl};

use super::edit::InspectorEdit;
use super::layout::{self, LayoutNode};
use super::meters::meter_bar;
use super::snapshot::{EdgeSnapshot, InspectorSnapshot, NodeSnapshot};
use crate::ecs::connection::ConnectionTarget;
use crate::param::ParamId;

/// Wire and pin colour of audio connections.
const AUDIO_COLOR: Color32 = Color32::from_rgb(90, 170, 255);
/// Wire and pin colour of connections into params.
const PARAM_COLOR: Color32 = Color32::from_rgb(255, 170, 60);
/// The smallest zoom the automatic fit uses (labels stay readable; drag to see the rest).
const MIN_FIT_SCALE: f32 = 0.5;
/// Margin around the graph when fitting (graph points).
const FIT_MARGIN: f32 = 24.0;
/// Above this many nodes the graph is compact: a node shows only its connected param pins
/// unless it is selected. Every pin is a few egui widgets laid out each frame; on the
/// 50-node benchmark graph this takes the inspector's frame from about 1.1 ms to under 1 ms.
pub const COMPACT_ABOVE: usize = 12;

/// The param pins each node shows, in order: all of them in a small graph; in a compact one
/// (more than [`COMPACT_ABOVE`] nodes) the connected ones, and all of the selected node's.
fn shown_params(
    snapshot: &InspectorSnapshot,
    selected: Option<Entity>,
) -> HashMap<Entity, Vec<ParamId>> {
    let compact = snapshot.nodes.len() > COMPACT_ABOVE;
    let connected: HashSet<(Entity, ParamId)> = snapshot
        .edges
        .iter()
        .filter_map(|e| match e.target {
            ConnectionTarget::Param(p) => Some((e.to, p)),
            ConnectionTarget::Input(_) => None,
        })
        .collect();
    snapshot
        .nodes
        .iter()
        .map(|n| {
            let all = !compact || selected == Some(n.entity);
            let shown = n.params.iter().map(|p| p.id);
            let shown = shown.filter(|&p| all || connected.contains(&(n.entity, p)));
            (n.entity, shown.collect())
        })
        .collect()
}

/// The graph view's state across frames: the snarl (node positions) and the selection.
#[derive(Default)]
pub struct GraphViewState {
    snarl: Snarl<Entity>,
    ids: HashMap<Entity, NodeId>,
    topology: (Vec<Entity>, Vec<Entity>),
    snarl_selection: Vec<NodeId>,
    /// The param pins each node shows (see [`shown_params`]).
    shown: HashMap<Entity, Vec<ParamId>>,
    /// The laid-out graph's size, while the view still has to be fitted to it.
    fit: Option<Vec2>,
    /// The selected node entity.
    pub selected: Option<Entity>,
}

impl GraphViewState {
    /// Where the view placed `entity` (top-left, graph coordinates).
    pub fn position(&self, entity: Entity) -> Option<Pos2> {
        let id = self.ids.get(&entity)?;
        self.snarl.get_node_info(*id).map(|n| n.pos)
    }

    /// The param pins `entity` shows (all of its params, unless the graph is compact: see
    /// [`COMPACT_ABOVE`]).
    pub fn shown_params(&self, entity: Entity) -> &[ParamId] {
        self.shown.get(&entity).map_or(&[], Vec::as_slice)
    }

    /// Brings the snarl in line with the snapshot: new and removed nodes re-run the layout;
    /// wires follow the connection entities and the pins shown.
    fn sync(&mut self, snapshot: &InspectorSnapshot) {
        let nodes: Vec<Entity> = snapshot.nodes.iter().map(|n| n.entity).collect();
        let edges: Vec<Entity> = snapshot.edges.iter().map(|e| e.entity).collect();
        let shown = shown_params(snapshot, self.selected);
        if self.topology.0 != nodes {
            self.relayout(snapshot);
        }
        if self.topology.0 != nodes || self.topology.1 != edges || self.shown != shown {
            self.shown = shown;
            self.rewire(snapshot);
            self.topology = (nodes, edges);
        }
    }

    /// Places every node afresh.
    pub fn relayout(&mut self, snapshot: &InspectorSnapshot) {
        let nodes: Vec<LayoutNode> = snapshot
            .nodes
            .iter()
            .map(|n| LayoutNode {
                entity: n.entity,
                rows: n.inputs + n.params.len() + n.outputs + usize::from(n.meter.is_some()),
            })
            .collect();
        let links: Vec<_> = snapshot.edges.iter().map(|e| (e.from, e.to)).collect();
        let positions = layout::layered(&nodes, &links);
        self.fit = (!nodes.is_empty()).then(|| layout::extent(&nodes, &positions).into());
        self.snarl = Snarl::new();
        self.ids.clear();
        for node in &snapshot.nodes {
            let [x, y] = positions.get(&node.entity).copied().unwrap_or_default();
            let id = self.snarl.insert_node(Pos2::new(x, y), node.entity);
            self.ids.insert(node.entity, id);
        }
    }

    fn rewire(&mut self, snapshot: &InspectorSnapshot) {
        let wires: Vec<_> = self.snarl.wires().collect();
        for (from, to) in wires {
            self.snarl.disconnect(from, to);
        }
        for edge in &snapshot.edges {
            if let Some((from, to)) = self.pins(snapshot, edge) {
                self.snarl.connect(from, to);
            }
        }
    }

    fn pins(
        &self,
        snapshot: &InspectorSnapshot,
        edge: &EdgeSnapshot,
    ) -> Option<(OutPinId, InPinId)> {
        let from = *self.ids.get(&edge.from)?;
        let to_node = snapshot.node(edge.to)?;
        let to = *self.ids.get(&edge.to)?;
        let input = match edge.target {
            ConnectionTarget::Input(i) => i as usize,
            ConnectionTarget::Param(p) => {
                to_node.inputs + self.shown.get(&edge.to)?.iter().position(|&q| q == p)?
            }
        };
        Some((
            OutPinId {
                node: from,
                output: edge.output as usize,
            },
            InPinId { node: to, input },
        ))
    }
}

/// Shows the graph; returns the edits asked for (connect, disconnect). Updates
/// `state.selected` when a node is clicked.
pub fn graph_view(
    ui: &mut Ui,
    snapshot: &InspectorSnapshot,
    state: &mut GraphViewState,
) -> Vec<InspectorEdit> {
    state.sync(snapshot);
    let index: HashMap<Entity, &NodeSnapshot> =
        snapshot.nodes.iter().map(|n| (n.entity, n)).collect();
    let mut viewer = Viewer {
        snapshot,
        index,
        shown: &state.shown,
        edits: Vec::new(),
        selected: state.selected,
        clicked: None,
        fit: state
            .fit
            .take()
            .map(|size| fit(size, ui.available_rect_before_wrap())),
    };
    let style = SnarlStyle {
        collapsible: Some(false),
        wire_width: Some(2.5),
        node_layout: Some(NodeLayout::sandwich()),
        bg_pattern: Some(BackgroundPattern::NoPattern),
        wire_style: Some(WireStyle::Bezier3),
        ..SnarlStyle::new()
    };
    let widget = SnarlWidget::new().id_salt("webaudio_graph").style(style);
    widget.show(&mut state.snarl, &mut viewer, ui);
    let selected = widget.get_selected_nodes(ui);
    if selected != state.snarl_selection {
        if let Some(&entity) = selected.last().and_then(|n| state.snarl.get_node(*n)) {
            state.selected = Some(entity);
        }
        state.snarl_selection = selected;
    }
    if let Some(entity) = viewer.clicked {
        state.selected = Some(entity);
    }
    viewer.edits
}

/// The view transform that shows a laid-out graph of `size` (from the origin) in `view`:
/// centred, zoomed out as far as needed down to [`MIN_FIT_SCALE`], never zoomed in.
fn fit(size: Vec2, view: Rect) -> TSTransform {
    let graph = Rect::from_min_size(Pos2::ZERO, size).expand(FIT_MARGIN);
    let scaling = (view.size() / graph.size())
        .min_elem()
        .clamp(MIN_FIT_SCALE, 1.0);
    // Centre it, or pin its top-left corner when it is larger than the view at that zoom.
    let centred = view.center() - graph.center().to_vec2() * scaling;
    let top_left = view.min - graph.min.to_vec2() * scaling;
    let translation = Vec2::new(
        if graph.width() * scaling <= view.width() {
            centred.x
        } else {
            top_left.x
        },
        if graph.height() * scaling <= view.height() {
            centred.y
        } else {
            top_left.y
        },
    );
    TSTransform::new(translation, scaling)
}

/// A pin's name: plain text, not selectable (the graph shows hundreds of them every frame).
/// A node's only input or output has none.
fn pin_label(ui: &mut Ui, text: &str) {
    ui.add(egui::Label::new(text).selectable(false));
}

struct Viewer<'a> {
    snapshot: &'a InspectorSnapshot,
    index: HashMap<Entity, &'a NodeSnapshot>,
    shown: &'a HashMap<Entity, Vec<ParamId>>,
    edits: Vec<InspectorEdit>,
    selected: Option<Entity>,
    clicked: Option<Entity>,
    /// The transform that fits a freshly laid-out graph into the view (applied once).
    fit: Option<TSTransform>,
}

impl Viewer<'_> {
    fn node(&self, entity: Entity) -> Option<&NodeSnapshot> {
        self.index.get(&entity).copied()
    }

    /// The target of input pin `input` of `node`.
    fn target(&self, entity: Entity, input: usize) -> Option<ConnectionTarget> {
        let node = self.node(entity)?;
        if input < node.inputs {
            Some(ConnectionTarget::Input(input as u32))
        } else {
            let shown = self.shown.get(&entity)?;
            shown
                .get(input - node.inputs)
                .copied()
                .map(ConnectionTarget::Param)
        }
    }

    /// The connection entities between two pins.
    fn edges_between(&self, from: Entity, output: usize, to: Entity, input: usize) -> Vec<Entity> {
        let target = self.target(to, input);
        self.snapshot
            .edges
            .iter()
            .filter(|e| e.from == from && e.to == to && e.output as usize == output)
            .filter(|e| Some(e.target) == target)
            .map(|e| e.entity)
            .collect()
    }

    fn disconnect_where(&mut self, keep: impl Fn(&EdgeSnapshot) -> bool) {
        let edges: Vec<_> = self
            .snapshot
            .edges
            .iter()
            .filter(|e| keep(e))
            .map(|e| e.entity)
            .collect();
        self.edits.extend(
            edges
                .into_iter()
                .map(|edge| InspectorEdit::Disconnect { edge }),
        );
    }
}

impl SnarlViewer<Entity> for Viewer<'_> {
    /// After a new layout, shows the whole graph (or as much as fits at a readable zoom).
    fn current_transform(&mut self, to_global: &mut TSTransform, _snarl: &mut Snarl<Entity>) {
        if let Some(fit) = self.fit.take() {
            *to_global = fit;
        }
    }

    fn title(&mut self, node: &Entity) -> String {
        self.node(*node)
            .map_or_else(|| node.to_string(), |n| n.label.clone())
    }

    /// The title is a selectable label: clicking it selects the node's entity.
    fn show_header(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<Entity>,
    ) {
        let entity = snarl[node];
        let title = self.title(&entity);
        if ui
            .selectable_label(self.selected == Some(entity), title)
            .clicked()
        {
            self.clicked = Some(entity);
        }
    }

    fn inputs(&mut self, node: &Entity) -> usize {
        let shown = self.shown.get(node).map_or(0, Vec::len);
        self.node(*node).map_or(0, |n| n.inputs + shown)
    }

    fn outputs(&mut self, node: &Entity) -> usize {
        self.node(*node).map_or(0, |n| n.outputs)
    }

    fn show_input(
        &mut self,
        pin: &InPin,
        ui: &mut Ui,
        snarl: &mut Snarl<Entity>,
    ) -> impl egui_snarl::ui::SnarlPin + 'static {
        let entity = snarl[pin.id.node];
        match self.target(entity, pin.id.input) {
            Some(ConnectionTarget::Param(p)) => {
                pin_label(ui, p.name());
                PinInfo::square()
                    .with_fill(PARAM_COLOR)
                    .with_wire_color(PARAM_COLOR)
            }
            _ => {
                if self.node(entity).is_some_and(|n| n.inputs > 1) {
                    pin_label(ui, &format!("in {}", pin.id.input));
                }
                PinInfo::circle()
                    .with_fill(AUDIO_COLOR)
                    .with_wire_color(AUDIO_COLOR)
            }
        }
    }

    fn show_output(
        &mut self,
        pin: &OutPin,
        ui: &mut Ui,
        snarl: &mut Snarl<Entity>,
    ) -> impl egui_snarl::ui::SnarlPin + 'static {
        if self.node(snarl[pin.id.node]).is_some_and(|n| n.outputs > 1) {
            pin_label(ui, &format!("out {}", pin.id.output));
        }
        PinInfo::circle()
            .with_fill(AUDIO_COLOR)
            .with_wire_color(AUDIO_COLOR)
    }

    fn has_body(&mut self, node: &Entity) -> bool {
        self.node(*node).is_some_and(|n| n.meter.is_some())
    }

    fn show_body(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<Entity>,
    ) {
        if let Some(meter) = self.node(snarl[node]).and_then(|n| n.meter) {
            meter_bar(ui, &meter, 64.0);
        }
    }

    fn connect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<Entity>) {
        let (source, dest) = (snarl[from.id.node], snarl[to.id.node]);
        if let Some(target) = self.target(dest, to.id.input) {
            self.edits.push(InspectorEdit::Connect {
                from: source,
                to: dest,
                output: from.id.output as u32,
                target,
            });
        }
    }

    fn disconnect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<Entity>) {
        let edges = self.edges_between(
            snarl[from.id.node],
            from.id.output,
            snarl[to.id.node],
            to.id.input,
        );
        self.edits.extend(
            edges
                .into_iter()
                .map(|edge| InspectorEdit::Disconnect { edge }),
        );
    }

    fn drop_outputs(&mut self, pin: &OutPin, snarl: &mut Snarl<Entity>) {
        let (node, output) = (snarl[pin.id.node], pin.id.output as u32);
        self.disconnect_where(|e| e.from == node && e.output == output);
    }

    fn drop_inputs(&mut self, pin: &InPin, snarl: &mut Snarl<Entity>) {
        let node = snarl[pin.id.node];
        let target = self.target(node, pin.id.input);
        self.disconnect_where(|e| e.to == node && Some(e.target) == target);
    }
}
