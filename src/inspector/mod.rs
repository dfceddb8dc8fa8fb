//! The audio graph inspector (features `inspector_panels` and `inspector`).
//!
//! Every panel is a plain function over an [`InspectorSnapshot`] that returns the
//! [`InspectorEdit`]s the user asked for, so a game's own editor (or a dock of
//! bevy-inspector-egui) can host them:
//! - [`graph_view`](fn@graph_view): nodes, param ports and wires, laid out by [`layout::layered`];
//! - [`node_details`](fn@node_details): params (editable), render-side values, node-specific views;
//! - [`meters`](fn@meters): output peak/RMS of every [`Metered`](crate::ecs::meter::Metered) node;
//! - [`engine_panel`](fn@engine_panel): device, latency, render load, xruns, queue, microphone.
//!
//! [`inspector_ui`] lays them all out; [`inspector_frame`] is one whole frame (snapshot,
//! window, edits applied) on any `egui::Context`. With the `inspector` feature,
//! `WebAudioInspectorPlugin` runs it in a bevy_egui window toggled with F2.

pub mod edit;
pub mod engine_panel;
pub mod graph_view;
pub mod layout;
pub mod meters;
pub mod node_details;
#[cfg(feature = "inspector")]
pub mod plugin;
pub mod snapshot;

use bevy::prelude::*;
pub use {egui, egui_plot, egui_snarl};

pub use edit::{InspectorEdit, apply_edits};
pub use engine_panel::engine_panel;
pub use graph_view::{GraphViewState, graph_view};
pub use meters::meters;
pub use node_details::node_details;
#[cfg(feature = "inspector")]
pub use plugin::{InspectorSelection, InspectorState, WebAudioInspectorPlugin};
pub use snapshot::InspectorSnapshot;

/// Width of the side column (details, meters, engine), in points.
const SIDE_WIDTH: f32 = 470.0;
/// Above this many nodes the node list and the meters list start collapsed (the graph's
/// nodes show their meters already).
const COLLAPSE_ABOVE: usize = 12;

/// The inspector's UI state across frames.
#[derive(Default)]
pub struct InspectorView {
    /// The graph view (positions, selection).
    pub graph: GraphViewState,
}

impl InspectorView {
    /// The selected node entity.
    pub fn selected(&self) -> Option<Entity> {
        self.graph.selected
    }
}

/// All panels: the graph on the left; node list, details, meters and engine on the right.
pub fn inspector_ui(
    ui: &mut egui::Ui,
    snapshot: &InspectorSnapshot,
    view: &mut InspectorView,
) -> Vec<InspectorEdit> {
    let mut edits = Vec::new();
    let size = ui.available_size();
    ui.horizontal_top(|ui| {
        let graph_size = egui::vec2((size.x - SIDE_WIDTH - 16.0).max(200.0), size.y);
        ui.allocate_ui(graph_size, |ui| {
            ui.set_min_size(graph_size);
            edits.extend(graph_view(ui, snapshot, &mut view.graph));
        });
        ui.separator();
        ui.vertical(|ui| {
            ui.set_width(SIDE_WIDTH);
            egui::ScrollArea::both().show(ui, |ui| {
                side_column(ui, snapshot, view, &mut edits);
            });
        });
    });
    edits
}

fn side_column(
    ui: &mut egui::Ui,
    snapshot: &InspectorSnapshot,
    view: &mut InspectorView,
    edits: &mut Vec<InspectorEdit>,
) {
    egui::CollapsingHeader::new("nodes")
        .default_open(snapshot.nodes.len() <= COLLAPSE_ABOVE)
        .show(ui, |ui| {
            for node in &snapshot.nodes {
                let selected = view.graph.selected == Some(node.entity);
                if ui
                    .selectable_label(selected, format!("select {}", node.label))
                    .clicked()
                {
                    view.graph.selected = Some(node.entity);
                }
            }
        });
    match view.graph.selected {
        Some(entity) => edits.extend(node_details(ui, snapshot, entity)),
        None => {
            ui.weak("Click a node to see its details.");
        }
    }
    ui.separator();
    egui::CollapsingHeader::new("meters")
        .default_open(snapshot.nodes.len() <= COLLAPSE_ABOVE)
        .show(ui, |ui| meters(ui, snapshot));
    egui::CollapsingHeader::new("engine")
        .default_open(true)
        .show(ui, |ui| engine_panel(ui, snapshot));
}

/// One inspector frame on `ctx`: snapshots `world`, shows the panels in a window (closing
/// it sets `open` to false), and applies the edits. Failed edits are logged as warnings.
pub fn inspector_frame(
    world: &mut World,
    ctx: &egui::Context,
    view: &mut InspectorView,
    open: &mut bool,
) {
    let snapshot = InspectorSnapshot::build(world);
    let mut edits = Vec::new();
    egui::Window::new("Audio graph inspector")
        .open(open)
        .default_size([1560.0, 940.0])
        .show(ctx, |ui| edits = inspector_ui(ui, &snapshot, view));
    for error in apply_edits(world, &edits) {
        warn!("inspector edit failed: {error}");
    }
}
