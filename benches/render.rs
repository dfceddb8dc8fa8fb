//! Offline render speed, in × real time, through the public API.
//!
//! ```text
//! cargo bench --bench render            # every case
//! cargo bench --bench render -- osc     # only cases whose name contains "osc"
//! ```
//!
//! Each case builds a Bevy `App` with `MinimalPlugins` and
//! `WebAudioPlugin::offline(48000, 2)`, spawns its nodes, runs `app.update()` so the graph
//! reaches the renderer, and then times `app.render(frames)` alone (in one-second chunks).
//! A fresh app is built for every repetition, so automation always starts from the same
//! point. The audio length of each case is chosen from a one-second calibration render so
//! that one repetition takes about [`TARGET_WALL`] of wall time; the figure reported is the
//! median of [`REPEATS`] repetitions.
//!
//! Two baselines are measured in the same run, so the ratios stay meaningful on a noisy or
//! unknown machine:
//!
//! * **empty graph**: only the destination, i.e. the renderer's fixed cost per quantum;
//! * **raw sine**: a plain Rust loop writing `f32::sin` of a phase accumulator into a buffer,
//!   the cost of "just the DSP" for one sine voice.
//!
//! The table shows, per case: audio seconds rendered, the median wall time, × real time, and
//! the cost per audio second relative to each baseline (`vs empty` = how many empty-graph
//! renders it is worth; `vs sin` = how many raw sine loops).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

/// Sample rate of every case.
const SR: u32 = 48_000;
/// Output channels of every case.
const CHANNELS: u16 = 2;
/// Repetitions per case (the median is reported).
const REPEATS: usize = 5;
/// About how long one repetition should take.
const TARGET_WALL: Duration = Duration::from_millis(750);
/// Frames per `app.render` call.
const CHUNK: usize = SR as usize;

/// A benchmark case: a name and a function that populates a fresh app for `seconds` of audio.
struct Case {
    name: &'static str,
    build: fn(&mut App, f64),
}

fn offline_app() -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, WebAudioPlugin::offline(SR, CHANNELS)));
    app.update();
    app
}

fn destination(app: &App) -> Entity {
    app.world().resource::<AudioContext>().destination()
}

/// Destination only.
fn empty(_: &mut App, _: f64) {}

/// oscillator → gain → destination.
fn one_oscillator(app: &mut App, _: f64) {
    let dest = destination(app);
    let mut commands = app.world_mut().commands();
    let gain = commands.spawn(GainNode::new(0.5)).connect(dest).id();
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    osc.start(0.0).expect("valid start");
    commands.spawn(osc).connect(gain);
}

/// 100 × (oscillator → gain) → destination.
fn hundred_oscillators(app: &mut App, _: f64) {
    let dest = destination(app);
    let mut commands = app.world_mut().commands();
    for i in 0..100 {
        let gain = commands.spawn(GainNode::new(0.01)).connect(dest).id();
        let mut osc = OscillatorNode::new(OscillatorType::Sine, 110.0 + 7.0 * i as f32);
        osc.start(0.0).expect("valid start");
        commands.spawn(osc).connect(gain);
    }
}

/// 1000 constant sources → destination.
fn thousand_constants(app: &mut App, _: f64) {
    let dest = destination(app);
    let mut commands = app.world_mut().commands();
    for _ in 0..1000 {
        let mut source = ConstantSourceNode::new(0.001);
        source.start(0.0).expect("valid start");
        commands.spawn(source).connect(dest);
    }
}

/// One oscillator whose frequency is automated at a-rate for the whole render: an
/// exponential ramp 55 Hz → 7 kHz over the first half, then a 1024-point vibrato curve.
fn automated_oscillator(app: &mut App, seconds: f64) {
    let dest = destination(app);
    let half = seconds / 2.0;
    let curve: Vec<f32> = (0..1024)
        .map(|i| 440.0 + 100.0 * (i as f32 * 0.05).sin())
        .collect();
    let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, 55.0);
    osc.frequency
        .set_value_at_time(55.0, 0.0)
        .and_then(|f| f.exponential_ramp_to_value_at_time(7_000.0, half))
        .and_then(|f| f.set_value_curve_at_time(&curve, half, seconds - half))
        .expect("valid automation");
    osc.start(0.0).expect("valid start");
    let mut commands = app.world_mut().commands();
    let gain = commands.spawn(GainNode::new(0.5)).connect(dest).id();
    commands.spawn(osc).connect(gain);
}

/// Builds the case and times rendering `seconds` of audio. Returns the wall time.
fn time_case(case: &Case, seconds: f64) -> Duration {
    let mut app = offline_app();
    (case.build)(&mut app, seconds);
    app.update();
    let mut frames = (seconds * f64::from(SR)).round() as usize;
    let start = Instant::now();
    while frames > 0 {
        let n = frames.min(CHUNK);
        let out = app.render(n).expect("offline context");
        black_box(&out);
        frames -= n;
    }
    start.elapsed()
}

/// The raw-DSP baseline: one sine voice with `f32::sin`, in one-second buffers.
fn time_raw_sine(seconds: f64) -> Duration {
    let mut frames = (seconds * f64::from(SR)).round() as usize;
    let increment = 440.0 / SR as f32;
    let mut phase = 0.0f32;
    let start = Instant::now();
    while frames > 0 {
        let n = frames.min(CHUNK);
        let mut out = vec![0.0f32; n];
        for o in &mut out {
            *o = (phase * std::f32::consts::TAU).sin();
            phase += black_box(increment);
            phase -= phase.floor();
        }
        black_box(&out);
        frames -= n;
    }
    start.elapsed()
}

/// Rounds up to 1, 2 or 5 × a power of ten.
fn nice(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&v| v >= x)
        .unwrap_or(10.0 * p)
}

/// Audio seconds so that one repetition takes about [`TARGET_WALL`].
/// The probe render grows tenfold until it takes at least 100 ms, so that warm-up (first
/// page faults, table builds) does not skew the estimate.
fn calibrate(time: impl Fn(f64) -> Duration) -> f64 {
    let mut probe = 1.0;
    let mut wall = time(probe).as_secs_f64();
    while wall < 0.1 && probe < 10_000.0 {
        probe *= 10.0;
        wall = time(probe).as_secs_f64();
    }
    let per_second = (wall / probe).max(1e-9);
    nice((TARGET_WALL.as_secs_f64() / per_second).clamp(1.0, 100_000.0))
}

/// Median wall time of [`REPEATS`] runs, in ms.
fn median_ms(time: impl Fn(f64) -> Duration, seconds: f64) -> f64 {
    let mut runs: Vec<f64> = (0..REPEATS)
        .map(|_| time(seconds).as_secs_f64() * 1e3)
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[REPEATS / 2]
}

struct Row {
    name: &'static str,
    seconds: f64,
    ms: f64,
}

impl Row {
    /// Wall ms per audio second.
    fn cost(&self) -> f64 {
        self.ms / self.seconds
    }
}

fn measure(name: &'static str, time: impl Fn(f64) -> Duration) -> Row {
    let seconds = calibrate(&time);
    let ms = median_ms(&time, seconds);
    Row { name, seconds, ms }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is a name filter.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let cases = [
        Case {
            name: "osc -> gain -> dest",
            build: one_oscillator,
        },
        Case {
            name: "100 x (osc -> gain) -> dest",
            build: hundred_oscillators,
        },
        Case {
            name: "1000 constant sources -> dest",
            build: thousand_constants,
        },
        Case {
            name: "osc, a-rate freq automation",
            build: automated_oscillator,
        },
    ];
    let empty_case = Case {
        name: "(baseline) empty graph",
        build: empty,
    };
    let empty_row = measure(empty_case.name, |s| time_case(&empty_case, s));
    let sine_row = measure("(baseline) raw f32::sin loop", time_raw_sine);
    let mut rows = vec![];
    for case in &cases {
        if filter.is_empty() || filter.iter().any(|f| case.name.contains(f.as_str())) {
            rows.push(measure(case.name, |s| time_case(case, s)));
        }
    }
    println!(
        "\noffline render at {SR} Hz, {CHANNELS} channels; median of {REPEATS}; {} build\n",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        }
    );
    println!(
        "| {:<32} | {:>9} | {:>10} | {:>12} | {:>9} | {:>9} |",
        "case", "audio s", "median ms", "x real time", "vs empty", "vs sin"
    );
    println!(
        "|{:-<34}|{:->11}|{:->12}|{:->14}|{:->11}|{:->11}|",
        "", "", "", "", "", ""
    );
    for row in [&empty_row, &sine_row].into_iter().chain(&rows) {
        println!(
            "| {:<32} | {:>9} | {:>10.1} | {:>12.0} | {:>9.2} | {:>9.2} |",
            row.name,
            row.seconds,
            row.ms,
            row.seconds * 1e3 / row.ms,
            row.cost() / empty_row.cost(),
            row.cost() / sine_row.cost(),
        );
    }
}
