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
//! * **closed**: the same with a system gated by a `run_if` flag that is false (what the
//!   plugin costs while its window is closed);
//! * **open**: one [`inspector_frame`] on a headless `egui::Context` (snapshot, every panel
//!   laid out and tessellated, edits applied);
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

fn open_frame(app: &mut App, ctx: &egui::Context, view: &mut InspectorView) -> usize {
    let mut open = true;
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 900.0),
        )),
        ..Default::default()
    };
    ctx.begin_pass(input);
    inspector_frame(app.world_mut(), ctx, view, &mut open);
    let output = ctx.end_pass();
    let meshes = ctx.tessellate(output.shapes, output.pixels_per_point);
    black_box(meshes.len())
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

    app.insert_resource(Closed(false));
    app.add_systems(
        Update,
        (|world: &mut World| {
            black_box(bevy_webaudio::inspector::InspectorSnapshot::build(world));
        })
        .run_if(|c: Res<Closed>| c.0),
    );
    let closed = time(frames, || app.update());

    let ctx = egui::Context::default();
    let mut view = InspectorView::default();
    let meshes = open_frame(&mut app, &ctx, &mut view);
    assert!(meshes > 0);
    let open = time(frames, || {
        open_frame(&mut app, &ctx, &mut view);
    });
    let snapshot = time(frames, || {
        black_box(bevy_webaudio::inspector::InspectorSnapshot::build(
            app.world_mut(),
        ));
    });

    let plain = render_speed(false, seconds);
    let metered = render_speed(true, seconds);
    if !bench {
        println!("inspector bench: smoke pass ok (run with `cargo bench` for figures)");
        return;
    }
    println!("inspector cost, {nodes} nodes, all metered, 3 analysers (median of {frames} frames)");
    println!("  app.update() baseline         {baseline:8.1} µs");
    println!(
        "  + inspector closed (flag)     {closed:8.1} µs  ({:+.1} µs)",
        closed - baseline
    );
    println!(
        "  inspector open, whole frame   {open:8.1} µs  ({:.2} × baseline)",
        open / baseline
    );
    println!("    of which the snapshot       {snapshot:8.1} µs");
    println!(
        "render, × real time: plain {plain:.1}, all 50 metered {metered:.1} (cost ratio {:.3})",
        plain / metered
    );
}
