//! Latency on the (virtual) sound card: how long an ECS param change takes to reach the
//! device and the loopback, and how long the microphone takes to come out of the speaker
//! through the graph (issue 20). Figures, not assertions: run it on a quiet machine.
//!
//! ```text
//! scripts/pulse.sh start
//! WEBAUDIO_DEVICE_TESTS=1 cargo bench --bench latency                 # 40 trials each
//! WEBAUDIO_DEVICE_TESTS=1 cargo bench --bench latency -- --trials 20
//! ```
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) only the onset finder and the
//! statistics are checked on synthetic signals: no sound card is needed.
//!
//! **1. ECS param change → first changed output sample.** `ConstantSourceNode(1.0) →
//! GainNode(0) → probe → destination`, where the probe is an `AudioWorkletNode` that passes
//! its input through and notes the context frame and the wall time of the first sample above
//! 0.5 (its processor runs inside the device callback that renders that quantum). One trial:
//! `t0` is the wall time just before the `app.update()` that follows `gain.set_value(1.0)`
//! (the update's commit sends the event; the render side applies it at its next quantum).
//! - *to the device*: `t0` → the callback that renders the first changed sample and hands
//!   it to the device (the sample is the first of its quantum: a quantum is rendered when the
//!   callback needs its first frame, so it leaves in that callback). This is the crate's part:
//!   the update and commit, the wait for the next callback (up to one device period), and the
//!   quanta rendered before it in that callback.
//! - *to the speaker*: the device then plays it `outputLatency` later, plus its place in
//!   that callback's buffer (reported beside; the device's part).
//! - *through the loopback*: `t0` → the input callback of a separate cpal stream on the
//!   sink's monitor (the default input) that delivers the first sample above 0.5: the output
//!   buffers, the sound server and the capture buffer, added to the crate's part.
//!
//! **2. Microphone → speaker through the graph.** `MicrophonePlugin` (device buffer
//! `--mic-buffer`, 128 frames requested by default, the lowest this crate asks for) feeding
//! `MediaStreamAudioSourceNode` (with `SourceLatency::min_target_ms` 0, its lowest setting)
//! → `GainNode(0.5)` → destination, with the output at `LatencyHint::Interactive`. A click (a
//! 2 ms `ConstantSourceNode`, 0.8) is played into the destination; the monitor hears it
//! (arrival 1), the microphone captures it, the graph plays it again at half the level
//! (arrival 2). Both arrivals are found in one recording of the monitor (a separate cpal
//! input stream), so their distance is counted in frames of one clock: the whole
//! microphone → speaker path (capture buffer, the source node's ring fill and resampler, the
//! wait for the output callback, the output buffer). Reported beside the device buffers (the
//! output callback and `outputLatency`, the input callback) and what is left after taking
//! them off.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::engine::render::bus::AudioBus;
use bevy_webaudio::node::ProcessContext;
use bevy_webaudio::node::media_stream_audio_source::SourceLatency;
use bevy_webaudio::prelude::*;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

mod support;
use support::arg;

const SR: f64 = 48_000.0;
/// Level a sample must pass to count as "changed" (the step goes 0 → 1).
const STEP_THRESHOLD: f32 = 0.5;
/// The click's level and length (frames).
const CLICK_LEVEL: f32 = 0.8;
const CLICK_FRAMES: usize = 96;
/// The level the microphone's replay is found at (it plays at half the click's level).
const REPLAY_THRESHOLD: f32 = 0.15;

/// Median and max of `values` (sorted copy).
fn summary(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    };
    (v[0], median, v[n - 1])
}

fn show(name: &str, ms: &[f64]) -> String {
    let (min, median, max) = summary(ms);
    format!(
        "{name}: median {median:.2} ms, min {min:.2}, max {max:.2} ({} trials)",
        ms.len()
    )
}

/// The first index at or after `from` whose magnitude exceeds `threshold`.
fn onset(signal: &[f32], from: usize, threshold: f32) -> Option<usize> {
    signal
        .get(from..)?
        .iter()
        .position(|s| s.abs() > threshold)
        .map(|i| i + from)
}

/// The click's first arrival and the graph's replay of it in a recording, in frames.
fn arrivals(signal: &[f32]) -> Option<(usize, usize)> {
    let first = onset(signal, 0, 0.5 * CLICK_LEVEL)?;
    // Past the click itself (and any ringing of the sound server's resampling).
    let second = onset(signal, first + CLICK_FRAMES + 48, REPLAY_THRESHOLD)?;
    Some((first, second))
}

/// What the probe saw: the context frame and wall time (ns since `epoch`) of the last
/// rising edge, and how many edges so far.
struct Edge {
    epoch: Instant,
    frame: AtomicU64,
    nanos: AtomicU64,
    count: AtomicU64,
}

/// Passes its input through and notes each rising edge across [`STEP_THRESHOLD`]. Runs on
/// the render thread: no allocation.
struct EdgeProbe {
    edge: Arc<Edge>,
    high: bool,
}

impl AudioWorkletProcessor for EdgeProbe {
    fn process(
        &mut self,
        inputs: &[AudioBus],
        outputs: &mut [AudioBus],
        _: &WorkletParams,
        context: &ProcessContext,
    ) -> bool {
        let now = self.edge.epoch.elapsed().as_nanos() as u64;
        let Some(input) = inputs[0].channels_slice().first() else {
            self.high = false;
            return true;
        };
        for (i, &x) in input.iter().enumerate() {
            let high = x > STEP_THRESHOLD;
            if high && !self.high {
                self.edge
                    .frame
                    .store(context.frame + i as u64, Ordering::Relaxed);
                self.edge.nanos.store(now, Ordering::Relaxed);
                self.edge.count.fetch_add(1, Ordering::Release);
            }
            self.high = high;
        }
        for (out, inp) in outputs[0]
            .channels_mut()
            .iter_mut()
            .zip(inputs[0].channels_slice())
        {
            out.copy_from_slice(inp);
        }
        true
    }
}

/// A recording of the default input (the sink's monitor): each block's first channel with
/// the wall time its callback ran.
struct Recorder {
    _stream: cpal::Stream,
    blocks: mpsc::Receiver<(Instant, Vec<f32>)>,
    callback_frames: Arc<AtomicU64>,
}

impl Recorder {
    fn start(buffer_frames: u32) -> Self {
        let device = cpal::default_host()
            .default_input_device()
            .expect("an input device (scripts/pulse.sh start)");
        let supported = device.default_input_config().expect("input config");
        let channels = usize::from(supported.channels());
        let mut config = supported.config();
        config.buffer_size = cpal::BufferSize::Fixed(buffer_frames);
        let (tx, blocks) = mpsc::channel();
        let callback_frames = Arc::new(AtomicU64::new(0));
        let frames = callback_frames.clone();
        let stream = device
            .build_input_stream::<f32, _, _>(
                config,
                move |data: &[f32], _: &cpal::InputCallbackInfo| {
                    let now = Instant::now();
                    frames.store((data.len() / channels) as u64, Ordering::Relaxed);
                    let mono = data.chunks(channels).map(|f| f[0]).collect();
                    let _ = tx.send((now, mono));
                },
                |e| eprintln!("recorder: {e}"),
                None,
            )
            .expect("input stream");
        stream.play().expect("record");
        Self {
            _stream: stream,
            blocks,
            callback_frames,
        }
    }

    /// Drops what was recorded so far.
    fn clear(&self) {
        while self.blocks.try_recv().is_ok() {}
    }
}

fn output_app(latency: LatencyHint, microphone: Option<MicrophoneConfig>) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin {
            backend: Backend::Cpal(AudioOutputConfig {
                latency,
                ..default()
            }),
            render_hooks: None,
        },
    ));
    if let Some(config) = microphone {
        app.add_plugins(MicrophonePlugin { config });
    }
    app.update();
    assert_eq!(
        app.world().resource::<AudioContext>().backend(),
        bevy_webaudio::ActiveBackend::Cpal,
        "no output device: run scripts/pulse.sh start"
    );
    app
}

fn update_for(app: &mut App, duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        app.update();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The device as the context reports it.
fn device_line(app: &App) -> String {
    let c = app.world().resource::<AudioContext>();
    format!(
        "device period {} frames ({:.2} ms), outputLatency {:.2} ms, baseLatency {:.2} ms, \
         {} xruns",
        c.buffer_frames(),
        f64::from(c.buffer_frames()) / SR * 1e3,
        c.output_latency() * 1e3,
        c.base_latency() * 1e3,
        c.xruns()
    )
}

/// Part 1 at one latency hint: `trials` gain steps.
fn param_to_output(latency: LatencyHint, trials: usize) {
    let mut app = output_app(latency, None);
    let edge = Arc::new(Edge {
        epoch: Instant::now(),
        frame: AtomicU64::new(0),
        nanos: AtomicU64::new(0),
        count: AtomicU64::new(0),
    });
    let probe_edge = edge.clone();
    let probe = AudioWorkletNode::builder(
        format!("edge-probe-{latency:?}"),
        move |_: &WorkletScope| EdgeProbe {
            edge: probe_edge.clone(),
            high: false,
        },
    )
    .build()
    .expect("probe");
    let dest = app.world().resource::<AudioContext>().destination();
    let mut source = ConstantSourceNode::new(1.0);
    source.start(0.0).expect("start");
    let mut c = app.world_mut().commands();
    let probe = c.spawn(probe).connect(dest).id();
    let gain = c.spawn(GainNode::new(0.0)).connect(probe).id();
    c.spawn(source).connect(gain);
    let recorder = Recorder::start(128);
    update_for(&mut app, Duration::from_millis(600));
    let xruns_before = app.world().resource::<AudioContext>().xruns();
    let (mut to_device, mut to_loopback, mut speaker_offset) = (Vec::new(), Vec::new(), Vec::new());
    let mut seed = 0x2545_F491_u32;
    let mut on_boundary = 0;
    for _ in 0..trials {
        // Back to silence, settle, then wait a pseudo-random part of a period so the change
        // lands at every phase of the device callbacks.
        set_gain(&mut app, gain, 0.0);
        update_for(&mut app, Duration::from_millis(150));
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        std::thread::sleep(Duration::from_micros(u64::from(seed % 20_000)));
        recorder.clear();
        let edges = edge.count.load(Ordering::Acquire);
        set_gain_no_update(&mut app, gain, 1.0);
        let t0 = Instant::now();
        let t0_nanos = (t0 - edge.epoch).as_nanos() as u64;
        app.update();
        let limit = t0 + Duration::from_secs(2);
        while edge.count.load(Ordering::Acquire) == edges {
            assert!(Instant::now() < limit, "the probe never saw the step");
            std::thread::sleep(Duration::from_micros(200));
        }
        let rendered = edge.nanos.load(Ordering::Relaxed);
        on_boundary += usize::from(edge.frame.load(Ordering::Relaxed).is_multiple_of(128));
        to_device.push((rendered.saturating_sub(t0_nanos)) as f64 / 1e6);
        let arrival = loopback_arrival(&recorder, limit).expect("the step came back");
        to_loopback.push((arrival - t0).as_secs_f64() * 1e3);
        let c = app.world().resource::<AudioContext>();
        speaker_offset.push(c.output_latency() * 1e3);
    }
    let c = app.world().resource::<AudioContext>();
    println!("\n## ECS param change -> first changed sample, {latency:?}");
    println!("{}", device_line(&app));
    println!(
        "recorder callback {} frames",
        recorder.callback_frames.load(Ordering::Relaxed)
    );
    println!(
        "{}",
        show("to the device (callback that renders it)", &to_device)
    );
    println!("{}", show("  + outputLatency as reported", &speaker_offset));
    println!(
        "{}",
        show(
            "through the loopback (monitor input callback)",
            &to_loopback
        )
    );
    println!(
        "first changed sample at a quantum's start in {on_boundary} of {trials} trials; \
         xruns during the trials: {}",
        c.xruns() - xruns_before
    );
}

fn set_gain_no_update(app: &mut App, gain: Entity, value: f32) {
    let mut node = app.world_mut().get_mut::<GainNode>(gain).expect("gain");
    node.gain.set_value(value).expect("finite");
}

fn set_gain(app: &mut App, gain: Entity, value: f32) {
    set_gain_no_update(app, gain, value);
    app.update();
}

/// The wall time of the monitor callback that delivers the first sample above the step
/// threshold.
fn loopback_arrival(recorder: &Recorder, limit: Instant) -> Option<Instant> {
    while Instant::now() < limit {
        match recorder.blocks.recv_timeout(Duration::from_millis(50)) {
            Ok((at, block)) if onset(&block, 0, STEP_THRESHOLD).is_some() => return Some(at),
            _ => {}
        }
    }
    None
}

/// Part 2: clicks through microphone → source node → gain → destination.
fn microphone_to_speaker(trials: usize, mic_buffer: u32, latency: LatencyHint, verbose: bool) {
    let mut app = output_app(
        latency,
        Some(MicrophoneConfig {
            buffer_frames: Some(mic_buffer),
            analysis: None,
            ..default()
        }),
    );
    update_for(&mut app, Duration::from_millis(300));
    let dest = app.world().resource::<AudioContext>().destination();
    let mic = app.world().resource::<Microphone>();
    assert!(mic.is_available(), "no microphone: {:?}", mic.error());
    let node = MediaStreamAudioSourceNode::new(mic.stream()).with_latency(SourceLatency {
        min_target_ms: 0.0,
        ..default()
    });
    let mut c = app.world_mut().commands();
    let gain = c.spawn(GainNode::new(0.5)).connect(dest).id();
    c.spawn(node).connect(gain);
    let recorder = Recorder::start(128);
    update_for(&mut app, Duration::from_millis(1500));
    let xruns_before = app.world().resource::<AudioContext>().xruns();
    let (mut round_trip, mut fills, mut targets) = (Vec::new(), Vec::new(), Vec::new());
    let mut output_latency = Vec::new();
    let (mut lost, mut skipped_before) = (0, source_report(&app).map_or(0, |r| r.skipped));
    for _ in 0..trials {
        recorder.clear();
        let now = app.world().resource::<AudioContext>().current_time();
        let mut click = ConstantSourceNode::new(CLICK_LEVEL);
        click.start(now + 0.05).expect("start");
        click
            .stop(now + 0.05 + CLICK_FRAMES as f64 / SR)
            .expect("stop");
        let id = app.world_mut().commands().spawn(click).connect(dest).id();
        // The ring's fill, sampled at every update (every trial, heard back or not).
        let (mut fill_sum, mut fill_n) = (0.0, 0.0);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(400) {
            app.update();
            if let Some(report) = source_report(&app) {
                fill_sum += f64::from(report.fill_ms);
                fill_n += 1.0;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        app.world_mut().entity_mut(id).despawn();
        fills.push(fill_sum / f64::max(fill_n, 1.0));
        let report = source_report(&app).expect("the source node's ring");
        targets.push(f64::from(report.target_ms));
        output_latency.push(app.world().resource::<AudioContext>().output_latency() * 1e3);
        let skipped = report.skipped - skipped_before;
        skipped_before = report.skipped;
        let mut recording = Vec::new();
        while let Ok((_, block)) = recorder.blocks.try_recv() {
            recording.extend(block);
        }
        let found = arrivals(&recording);
        if let Some((first, second)) = found {
            round_trip.push((second - first) as f64 / SR * 1e3);
        } else {
            lost += 1;
        }
        if verbose {
            println!(
                "trial: round trip {:?} ms, mean ring fill {:.2} ms, target {:.2} ms, \
                 {skipped} frames skipped, underruns {}, output xruns {}",
                found.map(|(a, b)| (b - a) as f64 / SR * 1e3),
                fills[fills.len() - 1],
                report.target_ms,
                report.underruns,
                app.world().resource::<AudioContext>().xruns()
            );
        }
        // Let the echoes (each at half the level before) die away.
        update_for(&mut app, Duration::from_millis(200));
    }
    let c = app.world().resource::<AudioContext>();
    let mic = app.world().resource::<Microphone>();
    let period = f64::from(c.buffer_frames()) / SR * 1e3;
    let input = f64::from(mic.callback_frames()) / SR * 1e3;
    println!("\n## Microphone -> speaker through the graph, {latency:?}");
    println!("{}", device_line(&app));
    println!(
        "microphone callback {} frames ({input:.2} ms, {mic_buffer} requested), \
         recorder callback {} frames, underruns {}, dropped {}",
        mic.callback_frames(),
        recorder.callback_frames.load(Ordering::Relaxed),
        mic.consumers().iter().map(|r| r.underruns).sum::<u64>(),
        mic.dropped_frames()
    );
    println!(
        "{}",
        show("round trip (arrival 1 -> arrival 2)", &round_trip)
    );
    println!(
        "replay not heard in {lost} of {trials} trials (skipped with the frames around it, or lost in an underrun)"
    );
    println!("{}", show("source ring fill, mean over a trial", &fills));
    println!("{}", show("source ring target", &targets));
    let (_, output_latency, _) = summary(&output_latency);
    let buffers = period + output_latency + input;
    let beyond: Vec<f64> = round_trip.iter().map(|r| r - buffers).collect();
    println!(
        "device buffers: output period {period:.2} + outputLatency {output_latency:.2} (median \
         over the trials) + input callback {input:.2} = {buffers:.2} ms"
    );
    println!("{}", show("beyond the device buffers", &beyond));
    println!("xruns during the trials: {}", c.xruns() - xruns_before);
}

/// The source node's ring as the microphone reports it.
fn source_report(app: &App) -> Option<bevy_webaudio::microphone::ConsumerReport> {
    let mic = app.world().resource::<Microphone>();
    mic.consumers()
        .iter()
        .find(|r| matches!(r.kind, bevy_webaudio::microphone::ConsumerKind::SourceNode))
        .cloned()
}

/// Checks the onset finder and the statistics on synthetic signals (no device).
fn smoke() {
    let mut signal = vec![0.0f32; 4000];
    signal[1000..1000 + CLICK_FRAMES].fill(CLICK_LEVEL);
    signal[2500..2500 + CLICK_FRAMES].fill(0.5 * CLICK_LEVEL);
    assert_eq!(arrivals(&signal), Some((1000, 2500)));
    assert_eq!(onset(&signal, 0, 0.9), None);
    assert_eq!(summary(&[3.0, 1.0, 2.0, 10.0]), (1.0, 2.5, 10.0));
    println!("latency smoke: onset finder and statistics ok (run with --bench on a sound card)");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return smoke();
    }
    if std::env::var("WEBAUDIO_DEVICE_TESTS").as_deref() != Ok("1") {
        println!("latency: set WEBAUDIO_DEVICE_TESTS=1 with a sound server (scripts/pulse.sh)");
        return;
    }
    let trials = arg(&args, "--trials").unwrap_or(40);
    let mic_buffer = arg(&args, "--mic-buffer").unwrap_or(128);
    let only = arg::<String>(&args, "--only");
    if only.as_deref().is_none_or(|o| o == "param") {
        for hint in [LatencyHint::Interactive, LatencyHint::Balanced] {
            param_to_output(hint, trials);
        }
    }
    if only.as_deref().is_none_or(|o| o == "mic") {
        let latency = match arg::<String>(&args, "--mic-latency").as_deref() {
            None | Some("interactive") => LatencyHint::Interactive,
            Some("balanced") => LatencyHint::Balanced,
            Some(frames) => LatencyHint::Frames(frames.parse().expect("--mic-latency FRAMES")),
        };
        microphone_to_speaker(
            trials,
            mic_buffer,
            latency,
            args.iter().any(|a| a == "--verbose"),
        );
    }
}
