//! The node details panel: every param (intrinsic value editable, render-side value and
//! automation state when metered), the node's connections (each removable), and the views
//! only some nodes have: a biquad's frequency response, a compressor's reduction, a buffer
//! source's play position, an analyser's spectrum and waveform, the microphone's readings.

use std::ops::RangeInclusive;

use egui::{Slider, SliderClamping, Ui};
use egui_plot::{GridMark, Line, Plot, PlotPoints};

use super::edit::InspectorEdit;
use super::engine_panel::microphone_readings;
use super::meters::meter_text;
use super::snapshot::{AnalyserData, InspectorSnapshot, NodeExtra, NodeSnapshot, ParamSnapshot};

/// Widest range a slider spans; params with a wider nominal range get a range around their
/// default and value instead (a gain's nominal range is ±3.4e38).
const MAX_SLIDER_SPAN: f32 = 1.0e5;

/// The range a param's slider spans: its nominal range when that is usable, else
/// `±2·max(|default|, |value|, 1)` cut to the nominal range.
pub fn slider_range(p: &ParamSnapshot) -> RangeInclusive<f32> {
    if p.max - p.min <= MAX_SLIDER_SPAN {
        return p.min..=p.max;
    }
    let span = 2.0 * p.default.abs().max(p.value.abs()).max(1.0);
    let lo = if p.min < 0.0 {
        (-span).max(p.min)
    } else {
        p.min
    };
    lo..=span.min(p.max)
}

/// Shows `entity`'s details; returns the edits asked for.
pub fn node_details(
    ui: &mut Ui,
    snapshot: &InspectorSnapshot,
    entity: bevy::prelude::Entity,
) -> Vec<InspectorEdit> {
    let mut edits = Vec::new();
    let Some(node) = snapshot.node(entity) else {
        ui.weak("Select a node in the graph.");
        return edits;
    };
    ui.heading(&node.label);
    ui.label(format!(
        "{} · {entity} · {} in / {} out",
        node.kind, node.inputs, node.outputs
    ));
    let mut metered = node.meter.is_some();
    if ui.checkbox(&mut metered, "meter").changed() {
        edits.push(InspectorEdit::SetMetered {
            node: entity,
            metered,
        });
    }
    if let Some(meter) = &node.meter {
        ui.monospace(meter_text(meter));
    }
    params(ui, node, &mut edits);
    connections(ui, snapshot, node, &mut edits);
    extra(ui, snapshot, node);
    edits
}

fn params(ui: &mut Ui, node: &NodeSnapshot, edits: &mut Vec<InspectorEdit>) {
    if node.params.is_empty() {
        return;
    }
    egui::Grid::new(("webaudio_params", node.entity))
        .striped(true)
        .show(ui, |ui| {
            ui.strong("param");
            ui.strong("render");
            ui.end_row();
            for p in &node.params {
                let mut value = p.value;
                let range = slider_range(p);
                let log = *range.start() >= 0.0 && range.end() - range.start() > 1000.0;
                let slider = Slider::new(&mut value, range)
                    .text(p.id.name())
                    .logarithmic(log)
                    .clamping(SliderClamping::Never);
                if ui.add(slider).changed() && value.is_finite() {
                    edits.push(InspectorEdit::SetParam {
                        node: node.entity,
                        param: p.id,
                        value,
                    });
                }
                match p.render {
                    Some(r) => ui.monospace(format!(
                        "{:.3}{}",
                        r.value,
                        if r.automating { " auto" } else { "" }
                    )),
                    None => ui.weak("-"),
                };
                ui.end_row();
            }
        });
}

fn connections(
    ui: &mut Ui,
    snapshot: &InspectorSnapshot,
    node: &NodeSnapshot,
    edits: &mut Vec<InspectorEdit>,
) {
    let edges = snapshot
        .edges
        .iter()
        .filter(|e| e.from == node.entity || e.to == node.entity);
    ui.separator();
    ui.strong("connections");
    for edge in edges {
        let target = match edge.target {
            crate::ecs::connection::ConnectionTarget::Input(i) => format!("in {i}"),
            crate::ecs::connection::ConnectionTarget::Param(p) => p.name().to_owned(),
        };
        let text = format!(
            "disconnect {} -> {}.{}",
            snapshot.label(edge.from),
            snapshot.label(edge.to),
            target
        );
        if ui.button(text).clicked() {
            edits.push(InspectorEdit::Disconnect { edge: edge.entity });
        }
    }
}

fn extra(ui: &mut Ui, snapshot: &InspectorSnapshot, node: &NodeSnapshot) {
    match &node.extra {
        NodeExtra::None => {}
        NodeExtra::Biquad(points) => {
            ui.strong("frequency response (dB)");
            log_plot(
                ui,
                ("webaudio_biquad", node.entity),
                points.clone(),
                Some((-40.0, 20.0)),
            );
        }
        NodeExtra::Compressor { reduction } => {
            ui.label(format!("reduction {reduction:.2} dB"));
            ui.add(egui::ProgressBar::new((-reduction / 40.0).clamp(0.0, 1.0)));
        }
        NodeExtra::BufferSource { position } => {
            ui.label(position.map_or_else(
                || "position - (meter the node to read it)".to_owned(),
                |p| format!("position {p:.3} s"),
            ));
        }
        NodeExtra::Analyser(data) => analyser_plots(ui, node, data),
        NodeExtra::Microphone => {
            if let Some(mic) = &snapshot.microphone {
                microphone_readings(ui, mic);
            }
        }
    }
}

/// The spectrum (dB over log frequency) and waveform of an analyser.
pub fn analyser_plots(ui: &mut Ui, node: &NodeSnapshot, data: &AnalyserData) {
    ui.strong("spectrum (dB)");
    let spectrum: Vec<[f64; 2]> = data
        .spectrum
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, &db)| {
            let db = f64::from(db).max(data.decibels.0);
            [f64::from(k as f32 * data.bin_hz), db]
        })
        .collect();
    log_plot(
        ui,
        ("webaudio_spectrum", node.entity),
        spectrum,
        Some(data.decibels),
    );
    ui.strong("waveform");
    let wave: Vec<[f64; 2]> = data
        .waveform
        .iter()
        .enumerate()
        .map(|(k, &x)| [k as f64, f64::from(x)])
        .collect();
    Plot::new(("webaudio_wave", node.entity))
        .height(90.0)
        .include_y(-1.0)
        .include_y(1.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.line(Line::new("waveform", PlotPoints::from(wave)))
        });
}

/// A plot of `(Hz, dB)` points over a log-frequency axis.
fn log_plot(ui: &mut Ui, id: impl egui::AsId, points: Vec<[f64; 2]>, y: Option<(f64, f64)>) {
    let points: Vec<[f64; 2]> = points
        .into_iter()
        .filter(|[f, v]| *f > 0.0 && v.is_finite())
        .map(|[f, v]| [f.log10(), v])
        .collect();
    let mut plot = Plot::new(id)
        .height(110.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .x_axis_formatter(|mark: GridMark, _| format!("{:.0}", 10f64.powf(mark.value)));
    if let Some((lo, hi)) = y {
        plot = plot.include_y(lo).include_y(hi);
    }
    plot.show(ui, |plot| {
        plot.line(Line::new("response", PlotPoints::from(points)))
    });
}
