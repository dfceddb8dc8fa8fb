//! The inspector's own cost on a 50-node graph.
//!
//! ```text
//! cargo bench --features inspector_panels --bench inspector
//! ```
//!
//! The graph: 10 voices of oscillator → biquad → gain → delay (with a feedback gain) →
//! compressor-bus, plus two analysers: 50 nodes with the destination, every node `Metered`.
//! Measured per frame, median of [`FRAMES`] frames after a warm-up:
//!
//! * **baseline**: `app.update()` of the graph (the plugin's own sync systems);
//! * **closed**: a system gated by a `run_if` flag that is false, run on its own (what the
//!   plugin costs while its window is closed);
//! * **open**: one [`inspector_frame`] on a headless `egui::Context` (snapshot, every panel
//!   laid out, edits applied: the inspector's system), then egui's end of pass and
//!   tessellation timed apart (bevy_egui's work on any UI's output), and each panel alone;
//! * **render**: × real time of rendering the graph with and without the meters, so the
//!   render-side cost of `Metered` shows as a ratio.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) each case runs once on a tiny
//! length and the outputs are checked for finiteness.

use std::hint::black_box;
use std::time::Instant;

use bevy::prelude::*;
use bevy_webaudio::inspector::{InspectorView, inspector_frame};
use bevy_webaudio::prelude::*;

const SR: u32 = 48_000;
/// Frames measured per case (median reported).
const FRAMES: usize = 200;
/// Audio rendered for the × real time figures.
const RENDER_SECONDS: usize = 5;

/// 49 nodes + the destination, all metered when `metered`.
fn graph(metered: bool) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, WebAudioPlugin::offline(SR, 2)));
    app.update();
    let dest = app.world().resource::<AudioContext>().destination();
    let mut c = app.world_mut().commands();
    let meter = |c: &mut Commands, e: Entity| {
        if metered {
            c.entity(e).insert(Metered::default());
        }
    };
    let bus = c
        .spawn(DynamicsCompressorNode::default())
        .connect(dest)
        .id();
    meter(&mut c, bus);
    for i in 0..9 {
        let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, 110.0 * (i + 1) as f32);
        osc.start(0.0).unwrap();
        let gain = c.spawn(GainNode::new(0.05)).id();
        let delay = c
            .spawn(DelayNode::with_delay(1.0, 0.25).unwrap())
            .connect(bus)
            .id();
        let feedback = c.spawn(GainNode::new(0.4)).connect(delay).id();
        c.entity(delay).connect(feedback);
        c.entity(gain).connect(delay);
        let filter = c
            .spawn(BiquadFilterNode::new(BiquadFilterType::Lowpass))
            .connect(gain)
            .id();
        let osc = c.spawn(osc).connect(filter).id();
        for e in [gain, delay, feedback, filter, osc] {
            meter(&mut c, e);
        }
    }
    for _ in 0..3 {
        let analyser = c.spawn(AnalyserNode::default()).id();
        c.entity(bus).connect(analyser);
        meter(&mut c, analyser);
    }
    app.update();
    app.render(4096).unwrap();
    app.update();
    app
}

#[derive(Resource)]
struct Closed(bool);

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median µs of `frame` over `n` runs after `n / 10` warm-up runs.
fn time(n: usize, mut frame: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        frame();
    }
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                frame();
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect(),
    )
}

/// Starts an egui pass on a 1600 × 900 screen.
fn begin_pass(ctx: &egui::Context) {
    ctx.begin_pass(egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 900.0),
        )),
        ..Default::default()
    });
}

/// Ends the pass. No renderer here uploads the font atlas: its updates are dropped on purpose
/// (epaint asserts on undrained ones in debug builds).
fn end_pass(ctx: &egui::Context) -> egui::FullOutput {
    let mut output = ctx.end_pass();
    output.textures_delta.clear();
    output
}

/// One open-inspector frame: the inspector's system (snapshot, every panel laid out, edits
/// applied: what `WebAudioInspectorPlugin` runs) and then egui's end of pass and
/// tessellation (what bevy_egui does with any UI's output). Returns their µs and the meshes.
fn open_frame(app: &mut App, ctx: &egui::Context, view: &mut InspectorView) -> (f64, f64, usize) {
    let mut open = true;
    begin_pass(ctx);
    let t = Instant::now();
    inspector_frame(app.world_mut(), ctx, view, &mut open);
    let system = t.elapsed().as_secs_f64() * 1e6;
    let t = Instant::now();
    let output = end_pass(ctx);
    let meshes = ctx.tessellate(output.shapes, output.pixels_per_point);
    let egui = t.elapsed().as_secs_f64() * 1e6;
    (system, egui, black_box(meshes.len()))
}

/// One egui pass with `panel` in a window (laid out, not tessellated).
fn panel_frame(ctx: &egui::Context, panel: impl FnMut(&mut egui::Ui)) {
    begin_pass(ctx);
    egui::Window::new("panel")
        .default_size([1100.0, 850.0])
        .show(ctx, panel);
    black_box(end_pass(ctx).shapes.len());
}

fn render_speed(metered: bool, seconds: usize) -> f64 {
    let mut app = graph(metered);
    let t = Instant::now();
    for _ in 0..seconds {
        let out = app.render(SR as usize).unwrap();
        assert!(out.iter().flatten().all(|x| x.is_finite()));
    }
    seconds as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (frames, seconds) = if bench {
        (FRAMES, RENDER_SECONDS)
    } else {
        (1, 1)
    };

    let mut app = graph(true);
    let nodes = app.world().resource::<AudioContext>().node_count();
    assert_eq!(nodes, 50);
    let baseline = time(frames, || app.update());

    // Closed: the plugin's per-frame work is its run condition on a flag. Measured on its
    // own (a schedule holding just the gated system), since the ±30 µs noise of a whole
    // app.update() would hide it.
    let mut world = World::new();
    world.insert_resource(Closed(false));
    let mut gated = Schedule::default();
    gated.add_systems(
        (|world: &mut World| {
            black_box(bevy_webaudio::inspector::InspectorSnapshot::build(world));
        })
        .run_if(|c: Res<Closed>| c.0),
    );
    let closed = time(frames * 10, || gated.run(&mut world));

    let ctx = egui::Context::default();
    let mut view = InspectorView::default();
    // egui shows a new window from its second frame (the first one measures it).
    let (_, _, meshes) = (0..3)
        .map(|_| open_frame(&mut app, &ctx, &mut view))
        .last()
        .unwrap_or_default();
    assert!(meshes > 0);
    let runs: Vec<(f64, f64)> = (0..frames)
        .map(|_| {
            let (system, egui, _) = open_frame(&mut app, &ctx, &mut view);
            (system, egui)
        })
        .collect();
    let open_system = median(runs.iter().map(|r| r.0).collect());
    let open_egui = median(runs.iter().map(|r| r.1).collect());
    let snapshot = time(frames, || {
        black_box(bevy_webaudio::inspector::InspectorSnapshot::build(
            app.world_mut(),
        ));
    });
    let shot = bevy_webaudio::inspector::InspectorSnapshot::build(app.world_mut());
    let panel_ctx = egui::Context::default();
    let mut graph_state = bevy_webaudio::inspector::GraphViewState::default();
    let graph_only = time(frames, || {
        panel_frame(&panel_ctx, |ui| {
            black_box(bevy_webaudio::inspector::graph_view(
                ui,
                &shot,
                &mut graph_state,
            ));
        })
    });
    let meters_only = time(frames, || {
        panel_frame(&panel_ctx, |ui| bevy_webaudio::inspector::meters(ui, &shot))
    });
    let engine_only = time(frames, || {
        panel_frame(&panel_ctx, |ui| {
            bevy_webaudio::inspector::engine_panel(ui, &shot)
        })
    });

    let plain = render_speed(false, seconds);
    let metered = render_speed(true, seconds);
    if !bench {
        println!("inspector bench: smoke pass ok (run with `cargo bench` for figures)");
        return;
    }
    println!("inspector cost, {nodes} nodes, all metered, 3 analysers (median of {frames} frames)");
    println!("  app.update() of the graph, no inspector  {baseline:8.1} µs");
    println!("  inspector closed: its run condition      {closed:8.2} µs");
    println!(
        "  inspector open: its system               {open_system:8.1} µs  ({:.2} × the app.update())",
        open_system / baseline
    );
    println!("    of which the snapshot                  {snapshot:8.1} µs");
    println!(
        "    panels alone (one egui pass each): graph view {graph_only:.1} µs, meters list {meters_only:.1} µs, engine {engine_only:.1} µs"
    );
    println!("  + egui end of pass and tessellation      {open_egui:8.1} µs (bevy_egui's systems)");
    println!(
        "render, × real time: plain {plain:.1}, all 50 metered {metered:.1} (cost ratio {:.3})",
        plain / metered
    );
}
