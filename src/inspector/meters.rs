//! Level meters: a bar per metered node (RMS filled, peak as a tick) with the numbers, and
//! the list of every metered node.

use egui::{Color32, Rect, Sense, Stroke, Ui, Vec2};

use super::snapshot::{InspectorSnapshot, MeterReading};

/// The bottom of the meter scale, in dBFS.
pub const METER_FLOOR_DB: f32 = -60.0;

/// Where `db` sits on the meter scale (0 at the floor, 1 at 0 dBFS).
pub fn meter_fraction(db: f32) -> f32 {
    ((db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0)
}

/// The reading as text: `"peak 0.500 (-6.0 dB) rms 0.354 (-9.0 dB)"`.
pub fn meter_text(meter: &MeterReading) -> String {
    format!(
        "peak {:.3} ({:.1} dB) rms {:.3} ({:.1} dB)",
        meter.peak,
        meter.peak_dbfs(),
        meter.rms,
        meter.rms_dbfs()
    )
}

/// Width of the peak-in-dB text beside a meter bar (points).
const DB_TEXT_WIDTH: f32 = 62.0;

/// A horizontal meter bar `width` points wide with the peak in dB beside it: one allocation,
/// painted (no child widgets: a graph of 50 metered nodes shows 50 of these every frame).
pub fn meter_bar(ui: &mut Ui, meter: &MeterReading, width: f32) {
    let height = ui.text_style_height(&egui::TextStyle::Monospace);
    let (rect, _) =
        ui.allocate_exact_size(Vec2::new(width + DB_TEXT_WIDTH, height), Sense::hover());
    if !ui.is_rect_visible(rect) {
        return;
    }
    let painter = ui.painter();
    let bar = Rect::from_min_size(
        egui::pos2(rect.left(), rect.center().y - 5.0),
        Vec2::new(width, 10.0),
    );
    painter.rect_filled(bar, 2.0, Color32::from_gray(40));
    let color = if meter.peak >= 1.0 {
        Color32::from_rgb(230, 60, 50)
    } else {
        Color32::from_rgb(70, 200, 90)
    };
    let rms = bar.width() * meter_fraction(meter.rms_dbfs());
    painter.rect_filled(
        Rect::from_min_size(bar.min, Vec2::new(rms, bar.height())),
        2.0,
        color,
    );
    let x = bar.left() + bar.width() * meter_fraction(meter.peak_dbfs());
    painter.line_segment(
        [egui::pos2(x, bar.top()), egui::pos2(x, bar.bottom())],
        Stroke::new(2.0, Color32::YELLOW),
    );
    painter.text(
        egui::pos2(rect.right(), rect.center().y),
        egui::Align2::RIGHT_CENTER,
        format!("{:.1} dB", meter.peak_dbfs()),
        egui::TextStyle::Monospace.resolve(ui.style()),
        ui.visuals().text_color(),
    );
}

/// Every metered node: label, bar and numbers.
pub fn meters(ui: &mut Ui, snapshot: &InspectorSnapshot) {
    let mut any = false;
    egui::Grid::new("webaudio_meters")
        .striped(true)
        .show(ui, |ui| {
            for node in &snapshot.nodes {
                if let Some(meter) = &node.meter {
                    any = true;
                    ui.label(&node.label);
                    meter_bar(ui, meter, 140.0);
                    ui.monospace(meter_text(meter));
                    ui.end_row();
                }
            }
        });
    if !any {
        ui.weak("No metered nodes: tick \"meter\" in a node's details.");
    }
}
