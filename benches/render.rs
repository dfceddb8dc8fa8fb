//! Offline render speed, in × real time, through the public API.
//!
//! ```text
//! cargo bench --bench render            # every case
//! cargo bench --bench render -- osc     # only cases whose name contains "osc"
//! FIXED_SECONDS=10 cargo bench --bench render -- granular   # a fixed audio length
//! ```
//!
//! Each case's audio length is calibrated to take about a second; set `FIXED_SECONDS` to compare
//! two builds at one length (a case such as granular, whose node count grows with its length,
//! costs more per second in a longer render).
//!
//! Without `--bench` in the arguments (as `cargo test --all-targets` runs it, in debug) it is a
//! smoke test instead: every case renders [`SMOKE_SECONDS`] of audio once, and the run fails if
//! any output sample is not finite or a source case is silent.
//!
//! Besides the engine's basic cases, the cases of Paul Adenot's webaudio-benchmark that the
//! node set makes possible, in the same shapes (a looped noise "file", 48 kHz): convolution
//! reverb (4 s stereo decaying-noise impulse response), the subtractive synth (sawtooth →
//! envelope → resonant lowpass biquad with automated cutoff) and a biquad-heavy 16-voice
//! version of it, granular playback (a grain every 5 ms: a short `AudioBufferSourceNode` with
//! its own gain envelope, about 200 sources alive at a time), and — in the same style, as that
//! suite has no case for them — a dynamics compressor, a 4× oversampled wave shaper and an
//! analyser whose spectrum is read every 800 frames (a 60 fps game frame). The perf_* cases of
//! `tests/conformance` (timed against web-audio-api-rs and Chromium by `bench-peers/`, see
//! BENCHMARKS.md) cover the rest of that suite.
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

/// Audio rendered per case in smoke mode.
const SMOKE_SECONDS: f64 = 0.05;
/// Frames per `app.render` call for cases that read results back each game frame (60 fps).
const GAME_FRAME: usize = 800;

/// A benchmark case: a name, a function that populates a fresh app for `seconds` of audio,
/// and what the game does after every [`GAME_FRAME`] frames (`None`: renders in [`CHUNK`]s).
struct Case {
    name: &'static str,
    build: fn(&mut App, f64),
    per_frame: Option<fn(&mut World)>,
}

impl Case {
    const fn new(name: &'static str, build: fn(&mut App, f64)) -> Self {
        Self {
            name,
            build,
            per_frame: None,
        }
    }
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

/// What a render produced, besides its wall time.
#[derive(Default)]
struct Output {
    peak: f32,
    non_finite: usize,
}

/// A deterministic noise source for the buffers (xorshift32, as the conformance generators).
struct Noise(u32);

impl Noise {
    /// Uniform in [-1, 1).
    fn bipolar(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 >> 8) as f32 / 8_388_608.0 - 1.0
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        f64::from(self.bipolar()) * 0.5 + 0.5
    }
}

/// Adds a buffer of `channels` × `frames` noise at 48 kHz; `decay > 0` shapes each channel
/// by `(1 − i/frames)^decay` (the benchmark's reverb impulse response).
fn noise_buffer(app: &mut App, channels: usize, frames: usize, decay: i32) -> Handle<AudioBuffer> {
    let mut noise = Noise(0x9E37_79B9 ^ frames as u32);
    let data = (0..channels)
        .map(|_| {
            (0..frames)
                .map(|i| 0.5 * noise.bipolar() * (1.0 - i as f32 / frames as f32).powi(decay))
                .collect()
        })
        .collect();
    let buffer = AudioBuffer::from_samples(data, SR as f32).expect("valid buffer");
    app.world_mut()
        .resource_mut::<Assets<AudioBuffer>>()
        .add(buffer)
}

/// The benchmark's looped "file" (2.1 s of noise) playing from 0 into `target`.
fn looped_file(app: &mut App, channels: usize, target: Entity) {
    let file = noise_buffer(app, channels, 101_129, 0);
    let mut source = AudioBufferSourceNode::new(file);
    source.looping = true;
    source.start(0.0).expect("valid start");
    app.world_mut().commands().spawn(source).connect(target);
}

/// Looped mono file → convolver with a 4 s stereo decaying-noise impulse response → destination.
fn convolution_reverb(app: &mut App, _: f64) {
    let ir = noise_buffer(app, 2, 4 * SR as usize, 10);
    let dest = destination(app);
    let convolver = app
        .world_mut()
        .commands()
        .spawn(ConvolverNode::new(ir))
        .connect(dest)
        .id();
    looped_file(app, 1, convolver);
}

/// One voice of the subtractive synth: sawtooth at `freq` → gain envelope (1, then decaying
/// with τ 0.1 s, on every 16th note at 140 bpm) → lowpass biquad, Q 20, its cutoff jumping to
/// 0 and rising to 3500 Hz with τ 0.03 s on the same notes → `target`.
fn subtractive_voice(app: &mut App, seconds: f64, freq: f32, level: f32, target: Entity) {
    let step = 140.0 / 60.0 / 16.0;
    let mut env = GainNode::new(0.0);
    let mut filter = BiquadFilterNode::with_options(BiquadFilterType::Lowpass, 0.0, 20.0, 0.0);
    let mut offset = 0.0;
    while offset < seconds {
        env.gain
            .set_value_at_time(level, offset)
            .and_then(|g| g.set_target_at_time(0.0, offset, 0.1))
            .and_then(|_| filter.frequency.set_value_at_time(0.0, offset))
            .and_then(|f| f.set_target_at_time(3500.0, offset, 0.03))
            .expect("valid automation");
        offset += step;
    }
    let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, freq);
    osc.start(0.0).expect("valid start");
    let mut commands = app.world_mut().commands();
    let filter = commands.spawn(filter).connect(target).id();
    let env = commands.spawn(env).connect(filter).id();
    commands.spawn(osc).connect(env);
}

/// Paul Adenot's "Substractive synth": one automated voice.
fn subtractive_synth(app: &mut App, seconds: f64) {
    let dest = destination(app);
    subtractive_voice(app, seconds, 110.0, 1.0, dest);
}

/// The subtractive synth with 16 voices (a chord over four octaves): 16 biquads whose cutoff
/// is automated at a-rate, so their coefficients are recomputed every sample.
fn biquad_synth(app: &mut App, seconds: f64) {
    let dest = destination(app);
    for i in 0..16 {
        let freq = 55.0 * 2f32.powf(i as f32 * 4.0 / 12.0 / 1.33);
        subtractive_voice(app, seconds, freq, 1.0 / 16.0, dest);
    }
}

/// Granular playback: every 5 ms a grain of 0–5 ms from a random place of the file, through
/// its own gain envelope (5 ms attack, 50 ms release): ~200 short sources a second, ~11
/// envelopes sounding at a time.
fn granular(app: &mut App, seconds: f64) {
    let dest = destination(app);
    let file = noise_buffer(app, 1, 101_129, 0);
    let file_seconds = 101_129.0 / f64::from(SR);
    let mut rng = Noise(48_001);
    let mut commands = app.world_mut().commands();
    let mut offset = 0.0;
    while offset < seconds {
        let start = rng.unit() * (file_seconds - 0.01);
        let length = 0.005 * 0.999 * rng.unit();
        let mut grain = AudioBufferSourceNode::new(file.clone());
        grain
            .start_with(offset, start, Some(length))
            .expect("valid start");
        let mut env = GainNode::new(0.0);
        let release = offset + length;
        env.gain
            .set_value_at_time(0.0, offset)
            .and_then(|g| g.linear_ramp_to_value_at_time(0.5, offset + 0.005))
            .and_then(|g| g.set_value_at_time(0.5, release.max(offset + 0.005)))
            .and_then(|g| g.linear_ramp_to_value_at_time(0.0, release.max(offset + 0.005) + 0.05))
            .expect("valid automation");
        let env = commands.spawn(env).connect(dest).id();
        commands.spawn(grain).connect(env);
        offset += 0.005;
    }
}

/// Looped stereo file (−6 dBFS noise, 18 dB over the threshold) → dynamics compressor with the
/// default settings → destination.
fn compressor(app: &mut App, _: f64) {
    let dest = destination(app);
    let node = DynamicsCompressorNode::new(DynamicsCompressorOptions::default());
    let comp = app.world_mut().commands().spawn(node).connect(dest).id();
    looped_file(app, 2, comp);
}

/// Looped stereo file → wave shaper (1025-point `tanh(3x)` curve, 4× oversampling) →
/// destination.
fn wave_shaper(app: &mut App, _: f64) {
    let dest = destination(app);
    let curve: Vec<f32> = (0..1025)
        .map(|i| (3.0 * (2.0 * i as f32 / 1024.0 - 1.0)).tanh())
        .collect();
    let node = WaveShaperNode::new(Some(&curve), OverSampleType::X4).expect("valid curve");
    let shaper = app.world_mut().commands().spawn(node).connect(dest).id();
    looped_file(app, 2, shaper);
}

/// Looped stereo file → analyser (fftSize 2048) → destination; the spectrum is read once per
/// game frame ([`read_spectrum`]).
fn analyser(app: &mut App, _: f64) {
    let dest = destination(app);
    let node = AnalyserNode::default();
    let analyser = app.world_mut().commands().spawn(node).connect(dest).id();
    looped_file(app, 2, analyser);
}

/// What a game does with an analyser each frame: `getFloatFrequencyData` of every analyser.
fn read_spectrum(world: &mut World) {
    let mut bins = [0.0f32; 1024];
    let mut analysers = world.query::<&mut AnalyserNode>();
    for mut analyser in analysers.iter_mut(world) {
        analyser.get_float_frequency_data(&mut bins);
        black_box(&bins);
    }
}

/// Builds the case and renders `seconds` of audio. Returns the wall time of the rendering
/// (and of the per-frame reads, if any) and the output's peak and non-finite sample count.
fn run_case(case: &Case, seconds: f64) -> (Duration, Output) {
    let mut app = offline_app();
    (case.build)(&mut app, seconds);
    app.update();
    let mut frames = (seconds * f64::from(SR)).round() as usize;
    let chunk = if case.per_frame.is_some() {
        GAME_FRAME
    } else {
        CHUNK
    };
    let mut output = Output::default();
    let mut wall = Duration::ZERO;
    while frames > 0 {
        let n = frames.min(chunk);
        let start = Instant::now();
        let out = app.render(n).expect("offline context");
        if let Some(per_frame) = case.per_frame {
            per_frame(app.world_mut());
        }
        wall += start.elapsed();
        for x in out.iter().flatten() {
            output.peak = output.peak.max(x.abs());
            output.non_finite += usize::from(!x.is_finite());
        }
        black_box(&out);
        frames -= n;
    }
    (wall, output)
}

fn time_case(case: &Case, seconds: f64) -> Duration {
    run_case(case, seconds).0
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
    let seconds = std::env::var("FIXED_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| calibrate(&time));
    let ms = median_ms(&time, seconds);
    Row { name, seconds, ms }
}

/// Every case, the baselines first.
fn cases() -> Vec<Case> {
    vec![
        Case::new("(baseline) empty graph", empty),
        Case::new("osc -> gain -> dest", one_oscillator),
        Case::new("100 x (osc -> gain) -> dest", hundred_oscillators),
        Case::new("1000 constant sources -> dest", thousand_constants),
        Case::new("osc, a-rate freq automation", automated_oscillator),
        Case::new("convolution reverb (4 s IR)", convolution_reverb),
        Case::new("subtractive synth (biquad)", subtractive_synth),
        Case::new("16-voice biquad synth", biquad_synth),
        Case::new("granular (200 sources/s)", granular),
        Case::new("dynamics compressor", compressor),
        Case::new("wave shaper, 4x oversampling", wave_shaper),
        Case {
            per_frame: Some(read_spectrum),
            ..Case::new("analyser, spectrum per frame", analyser)
        },
    ]
}

/// `cargo test --all-targets` runs this binary without `--bench`: render every case once,
/// briefly, and check the output.
fn smoke(cases: &[Case]) {
    for case in cases {
        let (_, out) = run_case(case, SMOKE_SECONDS);
        assert_eq!(out.non_finite, 0, "{}: non-finite output", case.name);
        let silent_expected = case.name.starts_with("(baseline)");
        assert!(
            silent_expected || out.peak > 1e-4,
            "{}: silent output (peak {})",
            case.name,
            out.peak
        );
        println!("smoke {:<36} ok, peak {:.3}", case.name, out.peak);
    }
    println!("{} passed, 0 failed", cases.len());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases = cases();
    if !args.iter().any(|a| a == "--bench") {
        smoke(&cases);
        return;
    }
    // Anything not starting with `--` is a name filter.
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (empty_case, cases) = cases.split_first().expect("the baseline comes first");
    let empty_row = measure(empty_case.name, |s| time_case(empty_case, s));
    let sine_row = measure("(baseline) raw f32::sin loop", time_raw_sine);
    let mut rows = vec![];
    for case in cases {
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
