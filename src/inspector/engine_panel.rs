//! The engine panel: device, format, latency, render load, xruns, the command queue, and the
//! microphone's counters.

use egui::Ui;

use super::snapshot::{InspectorSnapshot, MicrophoneSnapshot};

fn row(ui: &mut Ui, name: &str, value: String) {
    ui.label(name);
    ui.monospace(value);
    ui.end_row();
}

/// Shows the engine readings.
pub fn engine_panel(ui: &mut Ui, snapshot: &InspectorSnapshot) {
    let e = &snapshot.engine;
    egui::Grid::new("webaudio_engine")
        .striped(true)
        .show(ui, |ui| {
            row(ui, "device", format!("{} ({})", e.device, e.backend));
            row(
                ui,
                "state",
                (if e.running { "running" } else { "suspended" }).to_owned(),
            );
            row(ui, "sample rate", format!("{} Hz", e.sample_rate));
            row(ui, "channels", e.channels.to_string());
            row(ui, "buffer", format!("{} frames", e.buffer_frames));
            row(
                ui,
                "base latency",
                format!("{:.2} ms", e.base_latency * 1e3),
            );
            row(
                ui,
                "output latency",
                format!("{:.2} ms", e.output_latency * 1e3),
            );
            let (last, avg, peak) = e.render_load;
            row(
                ui,
                "render load",
                format!(
                    "{:.1}% avg {:.1}% peak {:.1}%",
                    last * 100.0,
                    avg * 100.0,
                    peak * 100.0
                ),
            );
            row(ui, "xruns", e.xruns.to_string());
            row(
                ui,
                "command queue",
                format!(
                    "{}/{} backlog {}",
                    e.queue_in_flight, e.queue_capacity, e.queue_backlog
                ),
            );
            row(ui, "back-pressure", e.back_pressure.to_string());
            row(ui, "nodes", e.node_count.to_string());
            row(ui, "currentTime", format!("{:.3} s", e.current_time));
            if let Some(mic) = &snapshot.microphone {
                microphone_rows(ui, mic);
            }
        });
}

fn microphone_rows(ui: &mut Ui, mic: &MicrophoneSnapshot) {
    let state = if mic.available {
        "capturing"
    } else {
        "unavailable"
    };
    row(ui, "microphone", format!("{} ({state})", mic.device));
    row(
        ui,
        "mic captured/dropped",
        format!("{} / {}", mic.captured, mic.dropped),
    );
    row(
        ui,
        "mic underruns/xruns",
        format!("{} / {}", mic.underruns, mic.xruns),
    );
}

/// The microphone's level, pitch and voice activity (a `MediaStreamAudioSourceNode`'s view).
pub fn microphone_readings(ui: &mut Ui, mic: &MicrophoneSnapshot) {
    egui::Grid::new("webaudio_mic").show(ui, |ui| {
        row(
            ui,
            "level",
            format!("{:.1} dBFS (peak {:.1})", mic.level_dbfs, mic.peak_dbfs),
        );
        row(
            ui,
            "pitch",
            mic.pitch_hz
                .map_or_else(|| "-".to_owned(), |p| format!("{p:.1} Hz")),
        );
        row(
            ui,
            "voice",
            (if mic.voice_active { "active" } else { "silent" }).to_owned(),
        );
    });
}
