//! What the ECS sync costs a frame (issue 20), side by side in one run: a bare
//! `MinimalPlugins` app's `app.update()`, the same with `WebAudioPlugin` and
//! [`NODES`] idle audio node entities (and their connection entities), and that app again in
//! frames where [`CHANGES`] params change.
//!
//! ```text
//! cargo bench --bench ecs
//! cargo bench --bench ecs -- --frames 500 --nodes 20000
//! ```
//!
//! The idle graph: `NODES / 4` voices of a started `OscillatorNode` → lowpass
//! `BiquadFilterNode` → `PannerNode` (with [`SpatialAudio`] and a `Transform` that never
//! moves) → `GainNode` → destination, so every node sync, the spatial sync, the Doppler and
//! meter systems and the connection sync see entities. Each app is warmed up (its first
//! frames add the nodes), then every figure is the median of `--frames` `app.update()`s; the
//! bare app, the idle app and the param frames are measured in rounds that alternate between
//! the three, so a noisy neighbour weighs on all of them alike. In a param frame, before the
//! (timed) update, [`CHANGES`] gains get a `setValueAtTime` each (not timed: user code), and an
//! untimed render of one quantum ends each round so the commands are applied (rendering
//! between every two updates would time a cache the render has just evicted).
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) every case runs a few frames.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

mod support;
use support::arg;

const SR: u32 = 48_000;
/// Idle audio node entities in the audio apps.
const NODES: usize = 10_000;
/// Params changed in each param frame.
const CHANGES: usize = 1_000;
/// Frames per round: the three cases take turns every this many frames.
const ROUND: usize = 20;

fn bare() -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    for _ in 0..10 {
        app.update();
    }
    app
}

/// The idle audio app; returns it with its gain entities.
fn audio(nodes: usize) -> (App, Vec<Entity>) {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, WebAudioPlugin::offline(SR, 2)));
    app.update();
    let dest = app.world().resource::<AudioContext>().destination();
    let mut gains = Vec::with_capacity(nodes / 4);
    {
        let world = app.world_mut();
        let mut commands = world.commands();
        for v in 0..nodes / 4 {
            let k = v as f32;
            let gain = commands.spawn(GainNode::new(0.0)).connect(dest).id();
            let panner = commands
                .spawn((
                    PannerNode::new(PanningModel::EqualPower),
                    SpatialAudio,
                    Transform::from_xyz(k.sin() * 5.0, 0.0, k.cos() * 5.0),
                ))
                .connect(gain)
                .id();
            let filter = commands
                .spawn(BiquadFilterNode::with_options(
                    BiquadFilterType::Lowpass,
                    1000.0,
                    1.0,
                    0.0,
                ))
                .connect(panner)
                .id();
            let mut osc = OscillatorNode::new(OscillatorType::Sine, 110.0 + k);
            osc.start(0.0).expect("valid start");
            commands.spawn(osc).connect(filter);
            gains.push(gain);
        }
        world.flush();
    }
    for _ in 0..10 {
        app.update();
        app.render(128).expect("offline context");
    }
    (app, gains)
}

/// Times one `app.update()`.
fn timed_update(app: &mut App) -> Duration {
    let start = Instant::now();
    app.update();
    let t = start.elapsed();
    black_box(&app);
    t
}

/// Gives `CHANGES` of the gains a new value each, as user code would (not timed).
fn change_params(app: &mut App, gains: &[Entity], step: usize) {
    let world = app.world_mut();
    for (i, &gain) in gains.iter().take(CHANGES).enumerate() {
        let value = ((step + i) % 7) as f32 * 0.01;
        let mut node = world.get_mut::<GainNode>(gain).expect("a gain node");
        node.gain.set_value_at_time(value, 0.0).expect("valid");
    }
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let frames: usize = if bench {
        arg(&args, "--frames").unwrap_or(200)
    } else {
        ROUND
    };
    let nodes = if bench {
        arg(&args, "--nodes").unwrap_or(NODES).max(4 * CHANGES)
    } else {
        4 * CHANGES
    };
    let mut bare_app = bare();
    let (mut idle_app, _) = audio(nodes);
    let (mut param_app, gains) = audio(nodes);
    let (mut bare_t, mut idle_t, mut param_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut step = 0;
    // Profiling: `--only bare|idle|params` runs that case alone.
    let only = arg::<String>(&args, "--only");
    let only = only.as_deref();
    while bare_t.len().max(idle_t.len()).max(param_t.len()) < frames {
        if only.is_none_or(|o| o == "bare") {
            for _ in 0..ROUND {
                bare_t.push(timed_update(&mut bare_app));
            }
        }
        if only.is_none_or(|o| o == "idle") {
            for _ in 0..ROUND {
                idle_t.push(timed_update(&mut idle_app));
            }
        }
        if only.is_none_or(|o| o == "params") {
            for _ in 0..ROUND {
                step += 1;
                change_params(&mut param_app, &gains, step);
                param_t.push(timed_update(&mut param_app));
            }
            param_app.render(128).expect("offline context");
        }
        if only.is_some() {
            for t in [&mut bare_t, &mut idle_t, &mut param_t] {
                t.resize(t.len().max(1), Duration::ZERO);
            }
        }
    }
    let count = |app: &App| app.world().resource::<AudioContext>().node_count();
    assert_eq!(
        count(&idle_app),
        nodes + 1,
        "every node (and the destination)"
    );
    let (bare, idle, params) = (median(bare_t), median(idle_t), median(param_t));
    println!(
        "ECS frame, median of {frames} app.update()s each, {} build:",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        }
    );
    println!("  bare MinimalPlugins                          {bare:9.1} µs");
    println!(
        "  WebAudioPlugin, {nodes} idle nodes + {nodes} edges  {idle:9.1} µs  = {:6.2}x bare",
        idle / bare
    );
    println!(
        "  same, {CHANGES} param changes in the frame      {params:9.1} µs  = {:6.2}x bare",
        params / bare
    );
    if !bench {
        println!("ecs bench: smoke pass ok (run with `cargo bench --bench ecs` for figures)");
    }
}
