//! Spatial audio speed, in × real time, through the public API: many moving sources, each an
//! oscillator into a [`SpatialAudio`] panner whose entity orbits the listener.
//!
//! ```text
//! cargo bench --bench spatial            # every case
//! cargo bench --bench spatial -- HRTF    # only cases whose name contains "HRTF"
//! ```
//!
//! Each case builds a Bevy `App` with `MinimalPlugins`, `TransformPlugin` and
//! `WebAudioPlugin::offline(48000, 2)`, then runs the game loop the way a game would at
//! 60 fps: move every source's `Transform` along its orbit, `app.update()` (transform
//! propagation, the spatial sync's param ramps, the graph commit), `app.render(800)`. The
//! whole loop is timed, and separately the `app.render` calls alone. Figures are medians of
//! [`REPEATS`] fresh apps, each rendering enough audio for about [`TARGET_WALL`].
//!
//! Baselines, measured in the same run: the empty graph with the same loop (the fixed cost of
//! a frame), and the same oscillators wired straight to the destination without panners
//! (static, so the difference is what panning and motion cost).
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) every case runs once for a few
//! frames and checks the output is finite, then exits.

use std::f32::consts::TAU;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_webaudio::prelude::*;

const SR: u32 = 48_000;
/// Game frames per second: one `app.update()` and one render of `SR / FPS` frames each.
const FPS: u32 = 60;
const FRAME: usize = (SR / FPS) as usize;
const REPEATS: usize = 5;
const TARGET_WALL: Duration = Duration::from_millis(750);

/// How the sources reach the destination.
#[derive(Clone, Copy)]
enum Wiring {
    /// Oscillators straight into the destination.
    Direct,
    /// Oscillator → moving `PannerNode` with this model → destination.
    Panned(PanningModel),
}

struct Case {
    name: &'static str,
    sources: usize,
    wiring: Wiring,
}

/// An orbiting source: radius, angular speed (rad/s), height.
#[derive(Component)]
struct Orbit(f32, f32, f32);

fn build(case: &Case) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        TransformPlugin,
        WebAudioPlugin::offline(SR, 2),
    ))
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
        1.0 / f64::from(FPS),
    )));
    app.update();
    let dest = app.world().resource::<AudioContext>().destination();
    app.world_mut()
        .spawn((AudioListener::default(), Transform::default()));
    for i in 0..case.sources {
        let mut osc = OscillatorNode::new(OscillatorType::Sine, 110.0 + 3.0 * i as f32);
        osc.start(0.0).expect("valid start");
        let mut commands = app.world_mut().commands();
        let target = match case.wiring {
            Wiring::Direct => dest,
            Wiring::Panned(model) => {
                let k = i as f32;
                commands
                    .spawn((
                        PannerNode::new(model),
                        SpatialAudio,
                        Transform::default(),
                        Orbit(2.0 + (k % 7.0), 0.5 + (k % 5.0) * 0.3, (k % 3.0) - 1.0),
                    ))
                    .connect(dest)
                    .id()
            }
        };
        commands.spawn(osc).connect(target);
    }
    app.update();
    app
}

/// Moves every orbiting source to its place at time `t`.
fn move_sources(app: &mut App, t: f32) {
    let mut query = app.world_mut().query::<(&Orbit, &mut Transform)>();
    for (Orbit(r, w, y), mut transform) in query.iter_mut(app.world_mut()) {
        let a = w * t;
        transform.translation = Vec3::new(r * a.sin(), *y, -r * a.cos());
        transform.rotation = Quat::from_rotation_y(-a + TAU / 4.0);
    }
}

/// Runs `frames` game frames; returns (whole loop, render calls only, last output).
fn run(case: &Case, frames: usize) -> (Duration, Duration, Vec<Vec<f32>>) {
    let mut app = build(case);
    let mut render = Duration::ZERO;
    let mut last = Vec::new();
    let start = Instant::now();
    for f in 0..frames {
        move_sources(&mut app, f as f32 / FPS as f32);
        app.update();
        let r = Instant::now();
        last = app.render(FRAME).expect("offline context");
        render += r.elapsed();
        black_box(&last);
    }
    (start.elapsed(), render, last)
}

/// Frames so that one repetition takes about [`TARGET_WALL`] (probe of at least 100 ms).
fn calibrate(case: &Case) -> usize {
    let mut probe = FPS as usize;
    let mut wall = run(case, probe).0.as_secs_f64();
    while wall < 0.1 && probe < 1000 * FPS as usize {
        probe *= 10;
        wall = run(case, probe).0.as_secs_f64();
    }
    ((TARGET_WALL.as_secs_f64() / wall * probe as f64).ceil() as usize).max(FPS as usize)
}

struct Row {
    name: &'static str,
    seconds: f64,
    total_ms: f64,
    render_ms: f64,
}

impl Row {
    fn realtime(&self) -> f64 {
        self.seconds * 1e3 / self.total_ms
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure(case: &Case) -> Row {
    let frames = calibrate(case);
    let runs: Vec<(Duration, Duration)> = (0..REPEATS)
        .map(|_| {
            let (t, r, _) = run(case, frames);
            (t, r)
        })
        .collect();
    Row {
        name: case.name,
        seconds: frames as f64 / f64::from(FPS),
        total_ms: median(runs.iter().map(|r| r.0.as_secs_f64() * 1e3).collect()),
        render_ms: median(runs.iter().map(|r| r.1.as_secs_f64() * 1e3).collect()),
    }
}

/// One pass of a few frames per case, checking the output is finite and not silent.
fn smoke(cases: &[Case]) {
    for case in cases {
        let (_, _, out) = run(case, 3);
        assert!(
            out.iter().flatten().all(|s| s.is_finite()),
            "{}: non-finite output",
            case.name
        );
        let silent = out.iter().flatten().all(|&s| s == 0.0);
        assert_eq!(silent, case.sources == 0, "{}: silence", case.name);
    }
    println!("spatial bench: smoke pass ok (run with `cargo bench --bench spatial` to measure)");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let cases = [
        Case {
            name: "(baseline) empty graph",
            sources: 0,
            wiring: Wiring::Direct,
        },
        Case {
            name: "(baseline) 64 osc, no panner",
            sources: 64,
            wiring: Wiring::Direct,
        },
        Case {
            name: "64 moving HRTF sources",
            sources: 64,
            wiring: Wiring::Panned(PanningModel::Hrtf),
        },
        Case {
            name: "(baseline) 256 osc, no panner",
            sources: 256,
            wiring: Wiring::Direct,
        },
        Case {
            name: "256 moving equalpower sources",
            sources: 256,
            wiring: Wiring::Panned(PanningModel::EqualPower),
        },
    ];
    if !args.iter().any(|a| a == "--bench") {
        smoke(&cases);
        return;
    }
    let rows: Vec<Row> = cases
        .iter()
        .filter(|c| {
            c.name.starts_with("(baseline)")
                || filter.is_empty()
                || filter.iter().any(|f| c.name.contains(f.as_str()))
        })
        .map(measure)
        .collect();
    let empty = rows[0].total_ms / rows[0].seconds;
    println!(
        "\n{FPS} fps game loop (move transforms, app.update, app.render({FRAME})) at {SR} Hz \
         stereo; median of {REPEATS}; {} build\n",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        }
    );
    println!(
        "| {:<32} | {:>7} | {:>9} | {:>11} | {:>9} | {:>8} |",
        "case", "audio s", "median ms", "x real time", "render ms", "vs empty"
    );
    println!(
        "|{:-<34}|{:->9}|{:->11}|{:->13}|{:->11}|{:->10}|",
        "", "", "", "", "", ""
    );
    for row in &rows {
        println!(
            "| {:<32} | {:>7.1} | {:>9.1} | {:>11.1} | {:>9.1} | {:>8.2} |",
            row.name,
            row.seconds,
            row.total_ms,
            row.realtime(),
            row.render_ms,
            row.total_ms / row.seconds / empty,
        );
    }
    for (base, case) in [(1, 2), (3, 4)] {
        if let (Some(b), Some(c)) = (
            rows.iter().find(|r| r.name == cases[base].name),
            rows.iter().find(|r| r.name == cases[case].name),
        ) {
            println!(
                "{}: {:.2}x the cost of its unpanned baseline ({:.1} µs of wall per source per audio second)",
                c.name,
                (c.total_ms / c.seconds) / (b.total_ms / b.seconds),
                (c.total_ms / c.seconds - b.total_ms / b.seconds) * 1e3
                    / cases[case].sources as f64
            );
        }
    }
}
