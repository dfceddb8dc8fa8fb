//! A bounded soak test: a real `App` with a busy graph on the sound card for 10 minutes (or
//! `--seconds N`), while one-shots are spawned and despawned all the time and the main thread
//! stalls at random for up to 200 ms. At the end it tears everything down, prints what it
//! measured and exits non-zero when a hard limit fails:
//!
//! - frames delivered to the device (`AudioContext::device_frames`; the clock on the null
//!   backend) within 3 % of the wall time × the sample rate;
//! - no microphone frame lost (the `Microphone` resource's per-reader `dropped` counters);
//! - no node slot leaked: after despawning everything the render side holds the baseline's
//!   nodes again (destination + the game layer's 4 buses) and `counters().leaked == 0`
//!   (faulted nodes, non-finite quanta and message mismatches must stay at 0 too);
//! - resident memory flat: `VmRSS` sampled every second, least-squares slope after a 30 s
//!   warm-up (the second half of a shorter run) under 100 KB/min — a hard limit in runs of
//!   2 minutes or more, reported in shorter ones (memory is still settling in the first minute);
//! - xruns are reported; they fail the run only with `--strict-xruns` (two cores shared with
//!   everything else cannot promise zero).
//!
//! With `WEBAUDIO_DEVICE_TESTS=1` (as `scripts/test.sh` sets, with a PulseAudio null sink from
//! `scripts/pulse.sh`) it plays on the default device through cpal and listens on the default
//! input (the sink's monitor); without it, it runs on the null backend with a simulated
//! microphone fed in real time from a thread, and says so.
//!
//! Run: `cargo run --example soak -- [--seconds N] [--seed S] [--strict-xruns] [--latency L]`
//! (`L`: the context's latency hint, `interactive`, `balanced` (default), `playback` or a frame
//! count).

use std::f32::consts::TAU;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bevy::app::PluginsState;
use bevy::platform::cell::SyncCell;
use bevy::prelude::*;
use bevy_webaudio::ActiveBackend;
use bevy_webaudio::microphone::MicrophoneSystems;
use bevy_webaudio::node::media_stream_audio_source::SourceLatency;
use bevy_webaudio::prelude::*;

const RATE: u32 = 48_000;
/// Sources (oscillators and looping buffer sources), each through its own biquad filter.
const SOURCES: usize = 64;
/// Moving `SpatialAudio` panners, each mixing `SOURCES / PANNERS` filtered sources.
const PANNERS: usize = 16;
/// Of those, how many render HRTF (the rest equal-power).
const HRTF_PANNERS: usize = 4;
/// The longest main-thread stall.
const MAX_STALL: Duration = Duration::from_millis(200);
/// One-shots fired per second (a burst after a stall, at most 16 in a frame).
const SHOTS_PER_SECOND: f64 = 20.0;
/// The frame pacing of the loop (60 fps when nothing stalls).
const FRAME: Duration = Duration::from_micros(16_667);
/// Frames delivered may differ from wall time × rate by this fraction.
const FRAME_TOLERANCE: f64 = 0.03;
/// The resident-memory slope limit, KB per minute.
const RSS_SLOPE_LIMIT: f64 = 100.0;
/// Runs shorter than this (seconds) report the memory slope without failing on it.
const RSS_HARD_LIMIT_AFTER: f64 = 120.0;
/// Seconds before the memory slope is measured (halved for runs shorter than 60 s).
const RSS_WARM_UP: f64 = 30.0;
/// Seconds of warm-up before frames, xruns and microphone counts are measured.
const MEASURE_FROM: f64 = 2.0;

struct Args {
    seconds: f64,
    seed: u64,
    strict_xruns: bool,
    latency: LatencyHint,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 600.0,
        seed: 0x5eed_cafe,
        strict_xruns: false,
        latency: LatencyHint::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a value")?;
                args.seconds = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 4.0)
                    .ok_or_else(|| format!("--seconds: a number ≥ 4, got {v:?}"))?;
            }
            "--seed" => {
                let v = it.next().ok_or("--seed needs a value")?;
                args.seed = v
                    .parse()
                    .map_err(|_| format!("--seed: an integer, got {v:?}"))?;
            }
            "--strict-xruns" => args.strict_xruns = true,
            "--latency" => {
                let v = it.next().ok_or("--latency needs a value")?;
                args.latency = parse_latency(&v)?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: soak [--seconds N (default 600)] [--seed S] [--strict-xruns] \
                     [--latency interactive|balanced|playback|FRAMES (default balanced)]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// The device buffer a `--latency` value asks for (the context's `latencyHint`).
fn parse_latency(v: &str) -> Result<LatencyHint, String> {
    match v {
        "interactive" => Ok(LatencyHint::Interactive),
        "balanced" => Ok(LatencyHint::Balanced),
        "playback" => Ok(LatencyHint::Playback),
        frames => frames
            .parse()
            .ok()
            .filter(|&n: &u32| n > 0)
            .map(LatencyHint::Frames)
            .ok_or_else(|| {
                format!("--latency: interactive, balanced, playback or frames, got {v:?}")
            }),
    }
}

/// xorshift64*: deterministic for a seed.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..1`.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
}

/// The soak's state in the world.
#[derive(Resource)]
struct Soak {
    rng: Rng,
    /// Fire one-shots, stall, automate (off while tearing down).
    running: bool,
    pending_shots: f64,
    shots: u64,
    loops: u64,
    stalls: u64,
    longest_stall: Duration,
    stalled: Duration,
    since_forced_stall: f32,
    /// Looping one-shots and when to stop them (`stop_sound`).
    looping: Vec<(Entity, f64)>,
    /// Every node entity of the permanent graph (despawned at the end).
    graph: Vec<Entity>,
    sounds: Vec<Handle<AudioBuffer>>,
}

/// What `First` saw right after the render side was read back: the wall time of that
/// reading, with the device's frames and the clock.
#[derive(Resource, Clone, Copy)]
struct Stamp {
    at: Instant,
    device_frames: u64,
    clock: u64,
    xruns: u64,
    /// Frames the microphone delivered (read after the microphone's own update).
    mic_captured: u64,
}

/// A raw microphone tap read on the (stalling) main thread, like a recorder would.
#[derive(Resource)]
struct MicReader {
    tap: SyncCell<MicrophoneTap>,
    buffer: Vec<f32>,
    frames: u64,
}

#[derive(Resource, Default)]
struct Faults {
    backend: Vec<String>,
    microphone: Vec<String>,
    nodes: Vec<String>,
    graph: Vec<String>,
}

/// A panner moving on a circle around the listener.
#[derive(Component)]
struct Orbit {
    radius: f32,
    speed: f32,
    phase: f32,
    height: f32,
}

fn device_mode() -> bool {
    std::env::var("WEBAUDIO_DEVICE_TESTS").as_deref() == Ok("1")
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("soak: {message}");
            return ExitCode::from(2);
        }
    };
    let device = device_mode();
    let backend = if device {
        Backend::Cpal(AudioOutputConfig {
            latency: args.latency,
            ..AudioOutputConfig::default()
        })
    } else {
        Backend::Null {
            sample_rate: RATE,
            channels: 2,
        }
    };
    let microphone = if device {
        MicrophonePlugin::default()
    } else {
        MicrophonePlugin::simulated(RATE, 2)
    };
    if device {
        println!(
            "soak: WEBAUDIO_DEVICE_TESTS=1: cpal on the default output, microphone on the default input"
        );
    } else {
        println!(
            "soak: no sound card requested (WEBAUDIO_DEVICE_TESTS is not 1): the null backend and a \
             simulated microphone fed in real time; run through scripts/test.sh for the device"
        );
    }

    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        TransformPlugin,
        WebAudioPlugin {
            backend,
            render_hooks: None,
        },
        microphone,
        GameAudioPlugin::default()
            .with_limit(MixBus::EFFECTS, VoiceLimit::new(24, StealPolicy::Oldest)),
    ))
    .init_resource::<Faults>()
    .insert_resource(Stamp {
        at: Instant::now(),
        device_frames: 0,
        clock: 0,
        xruns: 0,
        mic_captured: 0,
    })
    .insert_resource(Soak {
        rng: Rng::new(args.seed),
        // Set once the graph and the one-shot sounds exist (after the baseline frames).
        running: false,
        pending_shots: 0.0,
        shots: 0,
        loops: 0,
        stalls: 0,
        longest_stall: Duration::ZERO,
        stalled: Duration::ZERO,
        since_forced_stall: 0.0,
        looping: Vec::new(),
        graph: Vec::new(),
        sounds: Vec::new(),
    })
    .add_systems(
        First,
        stamp
            .after(WebAudioSystems::Feedback)
            .after(MicrophoneSystems::Update),
    )
    .add_systems(
        Update,
        (
            count_faults,
            read_tap,
            orbit,
            automate,
            fire_one_shots,
            stop_loops,
            stall,
        )
            .chain(),
    );
    while app.plugins_state() == PluginsState::Adding {
        std::thread::yield_now();
    }
    app.finish();
    app.cleanup();

    // The simulated microphone's "device": 10 ms of a quiet 330 Hz tone every 10 ms.
    let feeder_stop = Arc::new(AtomicBool::new(false));
    let feeder = app
        .world()
        .resource::<Microphone>()
        .simulated_input()
        .map(|slot| {
            let stop = feeder_stop.clone();
            std::thread::spawn(move || {
                let block = (RATE / 100) as usize;
                let mut buffer = vec![0.0f32; block * 2];
                let (mut frame, start) = (0u64, Instant::now());
                let mut blocks = 0u32;
                while !stop.load(Ordering::Acquire) {
                    for f in buffer.chunks_mut(2) {
                        let s = 0.1 * (TAU * 330.0 * frame as f32 / RATE as f32).sin();
                        f.fill(s);
                        frame = (frame + 1) % u64::from(RATE);
                    }
                    slot.write(&buffer);
                    blocks += 1;
                    let next = start + Duration::from_millis(10) * blocks;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
            })
        });

    // A raw tap on the microphone, read on the main thread, its ring 2.5 × the longest stall.
    let tap_frames = (2.5 * MAX_STALL.as_secs_f64() * f64::from(RATE)) as usize;
    {
        let mic = app.world().resource::<Microphone>();
        let tap = mic.tap(tap_frames);
        let channels = usize::from(mic.stream().channels());
        app.world_mut().insert_resource(MicReader {
            tap: SyncCell::new(tap),
            buffer: vec![0.0; 4096 * channels],
            frames: 0,
        });
    }
    app.update();
    // The baseline: the destination and the game layer's buses, once the render side holds
    // what the control side sent.
    let settle = Instant::now();
    loop {
        app.update();
        let context = app.world().resource::<AudioContext>();
        if context.render_node_count() == context.node_count() as u64
            || settle.elapsed() > Duration::from_secs(3)
        {
            break;
        }
        std::thread::sleep(FRAME);
    }
    let (baseline_nodes, baseline_render_nodes) = {
        let context = app.world().resource::<AudioContext>();
        (context.node_count(), context.render_node_count())
    };
    let baseline_entities = entities(&mut app);
    let sample_rate = app.world().resource::<AudioContext>().sample_rate();
    build_graph(&mut app);

    // The soak.
    let duration = Duration::from_secs_f64(args.seconds);
    let start = Instant::now();
    let mut rss: Vec<(f64, f64)> = Vec::new();
    let mut next_rss = start;
    let mut next_report = start + Duration::from_secs(10);
    let mut first: Option<Stamp> = None;
    let mut frames = 0u64;
    let mut peak_load = 0.0f32;
    while start.elapsed() < duration {
        let frame_start = Instant::now();
        app.update();
        frames += 1;
        let now = Instant::now();
        let t = (now - start).as_secs_f64();
        if first.is_none() && t >= MEASURE_FROM {
            first = Some(*app.world().resource::<Stamp>());
        }
        peak_load = peak_load.max(app.world().resource::<AudioContext>().render_load().2);
        if now >= next_rss {
            if let Some(kb) = vm_rss_kb() {
                rss.push((t, kb));
            }
            next_rss += Duration::from_secs(1);
        }
        if now >= next_report {
            next_report += Duration::from_secs(10);
            progress(&mut app, t, frames, rss.last().map_or(0.0, |r| r.1));
        }
        std::thread::sleep(FRAME.saturating_sub(frame_start.elapsed()));
    }
    let end_stamp = *app.world().resource::<Stamp>();
    let load_average = app.world().resource::<AudioContext>().render_load().1;
    let (mic_dropped, mic_underruns, mic_device_xruns, mic_consumers) = {
        let mic = app.world().resource::<Microphone>();
        (
            mic.dropped_frames(),
            mic.underruns(),
            mic.device_xruns(),
            mic.consumers().to_vec(),
        )
    };
    let mic_available = app.world().resource::<Microphone>().is_available();
    let mic_rate = app
        .world()
        .resource::<Microphone>()
        .device()
        .map_or(sample_rate, |d| d.sample_rate as f32);
    let tap_read = app.world().resource::<MicReader>().frames;

    // Tear down: no more one-shots, loops stopped, the permanent graph despawned; wait for the
    // one-shots to end and the render side to hand every slot back.
    let teardown = Instant::now();
    {
        let world = app.world_mut();
        let mut soak = world.resource_mut::<Soak>();
        soak.running = false;
        let graph = std::mem::take(&mut soak.graph);
        let loops: Vec<Entity> = soak.looping.drain(..).map(|(e, _)| e).collect();
        for entity in graph {
            world.commands().entity(entity).try_despawn();
        }
        let voices: Vec<Entity> = world
            .query_filtered::<Entity, With<Voice>>()
            .iter(world)
            .collect();
        for entity in voices.into_iter().filter(|e| loops.contains(e)) {
            world.commands().entity(entity).stop_sound(0.02);
        }
        world.flush();
    }
    let (end_nodes, end_render_nodes, counters) = loop {
        app.update();
        std::thread::sleep(FRAME);
        let voices = app.world_mut().query::<&Voice>().iter(app.world()).count();
        let context = app.world().resource::<AudioContext>();
        let done = voices == 0
            && context.node_count() == baseline_nodes
            && context.render_node_count() == baseline_render_nodes;
        if done || teardown.elapsed() > Duration::from_secs(10) {
            break (
                context.node_count(),
                context.render_node_count(),
                context.counters(),
            );
        }
    };
    let teardown_time = teardown.elapsed();
    let left_over: Vec<String> = entities(&mut app)
        .into_iter()
        .filter(|e| !baseline_entities.contains(e))
        .map(|e| describe(app.world(), e))
        .collect();
    feeder_stop.store(true, Ordering::Release);
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }

    // The figures.
    let context = app.world().resource::<AudioContext>().clone();
    let soak = app.world().resource::<Soak>();
    let faults = app.world().resource::<Faults>();
    let mut failures: Vec<String> = Vec::new();
    let backend_name = match context.backend() {
        ActiveBackend::Cpal => format!(
            "cpal on {:?} ({}-frame callbacks)",
            context.device().name,
            context.buffer_frames()
        ),
        other => format!("{other:?} backend"),
    };
    println!();
    println!(
        "soak: {:.1} s on the {backend_name}, {RATE} Hz; {SOURCES} sources through {SOURCES} \
         filters into {PANNERS} moving panners ({HRTF_PANNERS} HRTF), a convolver and a \
         compressor; {} one-shots ({} looping, stopped); {} main-thread stalls (longest {} ms, \
         {:.1} s in all); {frames} frames",
        start.elapsed().as_secs_f64(),
        soak.shots,
        soak.loops,
        soak.stalls,
        soak.longest_stall.as_millis(),
        soak.stalled.as_secs_f64(),
    );
    if device && context.backend() != ActiveBackend::Cpal {
        failures.push(format!(
            "WEBAUDIO_DEVICE_TESTS=1 but the context is on the {:?} backend",
            context.backend()
        ));
    }
    if !device {
        println!("  (null backend: no sound card requested; frames are the render clock)");
    }

    // Frames delivered over the measured window.
    let first_stamp = first.unwrap_or(end_stamp);
    let window = (end_stamp.at - first_stamp.at).as_secs_f64();
    let (delivered, what) = if context.backend() == ActiveBackend::Cpal {
        (
            end_stamp
                .device_frames
                .saturating_sub(first_stamp.device_frames),
            "delivered to the device",
        )
    } else {
        (end_stamp.clock - first_stamp.clock, "rendered (clock)")
    };
    let expected = window * f64::from(sample_rate);
    let off = (delivered as f64 - expected) / expected.max(1.0);
    let ok = off.abs() <= FRAME_TOLERANCE;
    println!(
        "  output frames : {delivered} {what} in {window:.2} s, expected {expected:.0} \
         ({:+.2} %; limit ±{:.0} %) {}",
        off * 100.0,
        FRAME_TOLERANCE * 100.0,
        verdict(ok)
    );
    if !ok {
        failures.push(format!("output frames off by {:+.2} %", off * 100.0));
    }

    // Microphone.
    let captured = end_stamp.mic_captured - first_stamp.mic_captured;
    let expected_mic = window * f64::from(mic_rate);
    let mic_off = (captured as f64 - expected_mic) / expected_mic.max(1.0);
    let per_reader: Vec<String> = mic_consumers
        .iter()
        .map(|c| format!("{:?} {} of {}", c.kind, c.dropped, c.written + c.dropped))
        .collect();
    let ok = mic_dropped == 0 && mic_available && mic_off.abs() <= FRAME_TOLERANCE;
    println!(
        "  microphone    : {captured} frames captured in the window, expected {expected_mic:.0} \
         ({:+.2} %); dropped {mic_dropped} ({}); tap read {tap_read} frames through a \
         {tap_frames}-frame ring; source underruns {mic_underruns}; device xruns \
         {mic_device_xruns} {}",
        mic_off * 100.0,
        per_reader.join(", "),
        verdict(ok)
    );
    if mic_dropped > 0 {
        failures.push(format!("{mic_dropped} microphone frames dropped"));
    }
    if !mic_available {
        failures.push("the microphone was not running at the end".into());
    }
    if mic_off.abs() > FRAME_TOLERANCE {
        failures.push(format!(
            "microphone frames off by {:+.2} %",
            mic_off * 100.0
        ));
    }

    // Node slots.
    let ok = end_render_nodes == baseline_render_nodes
        && end_nodes == baseline_nodes
        && left_over.is_empty()
        && counters.leaked == 0
        && counters.faulted_nodes == 0
        && counters.non_finite_quanta == 0
        && counters.message_mismatches == 0;
    println!(
        "  node slots    : after teardown ({:.2} s) {end_render_nodes} render-side nodes, \
         {end_nodes} control-side (baseline {baseline_render_nodes}/{baseline_nodes}: destination + \
         4 buses); {} entities left over {left_over:?} (baseline {}); leaked {}, faulted {}, \
         non-finite quanta {}, message mismatches {}, feedback stalls {} {}",
        teardown_time.as_secs_f64(),
        left_over.len(),
        baseline_entities.len(),
        counters.leaked,
        counters.faulted_nodes,
        counters.non_finite_quanta,
        counters.message_mismatches,
        counters.feedback_stalls,
        verdict(ok)
    );
    if !ok {
        failures.push(format!(
            "node slots: {end_render_nodes} render-side / {end_nodes} control-side after teardown \
             (baseline {baseline_render_nodes}/{baseline_nodes}), {} entities left over, \
             {counters:?}",
            left_over.len()
        ));
    }

    // Memory.
    let total = start.elapsed().as_secs_f64().min(args.seconds);
    let warm_up = RSS_WARM_UP.min(total / 2.0);
    let tail: Vec<(f64, f64)> = rss.iter().copied().filter(|(t, _)| *t >= warm_up).collect();
    let slope = slope_per_minute(&tail);
    let (rss_first, rss_last) = (
        rss.first().map_or(0.0, |r| r.1),
        rss.last().map_or(0.0, |r| r.1),
    );
    let rss_min = tail.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let rss_max = tail.iter().map(|r| r.1).fold(0.0, f64::max);
    match slope {
        Some(slope) => {
            // Memory settles over the first minute or so (allocator pools, the one-shot
            // churn reaching its steady voice count): the slope is a hard limit only in runs
            // long enough to measure it after that, and reported otherwise.
            let within = slope < RSS_SLOPE_LIMIT;
            let ok = within || total < RSS_HARD_LIMIT_AFTER;
            println!(
                "  memory        : VmRSS {rss_first:.0} kB at start, {rss_last:.0} kB at the end; \
                 {} samples after {warm_up:.0} s: {rss_min:.0}–{rss_max:.0} kB, slope {slope:+.1} \
                 KB/min (limit {RSS_SLOPE_LIMIT:.0}) {}",
                tail.len(),
                if within {
                    verdict(true)
                } else if ok {
                    "reported (a run under 2 minutes does not fail on it)"
                } else {
                    verdict(false)
                }
            );
            if !ok {
                failures.push(format!("resident memory grows {slope:+.1} KB/min"));
            }
        }
        None => println!("  memory        : no VmRSS readings (no /proc/self/status?)"),
    }
    let every_10s: Vec<String> = rss
        .iter()
        .step_by(10)
        .map(|(t, kb)| format!("{t:.0}s {kb:.0}"))
        .collect();
    println!(
        "                  VmRSS (kB) every 10 s: {}",
        every_10s.join(", ")
    );

    // Xruns.
    let xruns = end_stamp.xruns - first_stamp.xruns;
    println!(
        "  xruns         : {xruns} in the window ({} since start); render load average {:.1} %, \
         peak {:.1} % {}",
        context.xruns(),
        load_average * 100.0,
        peak_load * 100.0,
        if args.strict_xruns {
            verdict(xruns == 0)
        } else {
            "(reported; --strict-xruns fails on them)"
        }
    );
    if args.strict_xruns && xruns > 0 {
        failures.push(format!("{xruns} xruns"));
    }

    // Faults.
    let fault_count =
        faults.backend.len() + faults.microphone.len() + faults.nodes.len() + faults.graph.len();
    println!(
        "  faults        : backend {:?}, microphone {:?}, nodes {:?}, graph {:?} {}",
        faults.backend,
        faults.microphone,
        faults.nodes,
        faults.graph,
        verdict(
            fault_count == 0 || (!device && faults.nodes.is_empty() && faults.graph.is_empty())
        )
    );
    if device && !(faults.backend.is_empty() && faults.microphone.is_empty()) {
        failures.push("device faults during the soak".into());
    }
    if !(faults.nodes.is_empty() && faults.graph.is_empty()) {
        failures.push("node or graph faults during the soak".into());
    }

    drop(app);
    if failures.is_empty() {
        println!("soak: PASS");
        ExitCode::SUCCESS
    } else {
        println!("soak: FAIL: {}", failures.join("; "));
        ExitCode::FAILURE
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "FAILED" }
}

fn entities(app: &mut App) -> Vec<Entity> {
    app.world_mut()
        .query::<Entity>()
        .iter(app.world())
        .collect()
}

/// An entity by its components' short names.
fn describe(world: &World, entity: Entity) -> String {
    let names: Vec<String> = world
        .inspect_entity(entity)
        .map(|components| {
            components
                .map(|c| {
                    let name = c.name().to_string();
                    name.rsplit("::").next().unwrap_or(&name).to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    format!("{entity} [{}]", names.join(", "))
}

/// `VmRSS` of this process in kB.
fn vm_rss_kb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Least-squares slope of `(seconds, kB)` in KB per minute.
fn slope_per_minute(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_m = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (t, m) in points {
        num += (t - mean_t) * (m - mean_m);
        den += (t - mean_t) * (t - mean_t);
    }
    (den > 0.0).then(|| num / den * 60.0)
}

fn progress(app: &mut App, t: f64, frames: u64, rss_kb: f64) {
    let voices = app.world_mut().query::<&Voice>().iter(app.world()).count();
    let world = app.world();
    let context = world.resource::<AudioContext>();
    let mic = world.resource::<Microphone>();
    let soak = world.resource::<Soak>();
    println!(
        "soak: {t:5.0} s  {frames} frames, {} stalls, {} one-shots ({voices} voices), nodes \
         {}/{} render, load {:.1} %, xruns {}, mic {} captured / {} dropped, VmRSS {rss_kb:.0} kB",
        soak.stalls,
        soak.shots,
        context.node_count(),
        context.render_node_count(),
        context.render_load().1 * 100.0,
        context.xruns(),
        mic.captured_frames(),
        mic.dropped_frames(),
    );
}

/// A buffer at the context's rate from `f(t, noise)`.
fn make_buffer(
    buffers: &mut Assets<AudioBuffer>,
    rng: &mut Rng,
    channels: usize,
    seconds: f32,
    f: impl Fn(f32, f32) -> f32,
) -> Handle<AudioBuffer> {
    let rate = RATE as f32;
    let data = (0..channels)
        .map(|_| {
            (0..(seconds * rate) as usize)
                .map(|i| f(i as f32 / rate, rng.range(-1.0, 1.0)))
                .collect()
        })
        .collect();
    buffers.add(AudioBuffer::from_samples(data, rate).expect("a valid buffer"))
}

/// The permanent graph:
/// 64 sources → 64 biquads → 16 moving panners → dry bus → compressor → destination, and the
/// dry bus → convolver (0.6 s stereo reverb) → wet gain → compressor; the microphone through
/// a source node into a silent gain (its ring drained by the render thread).
fn build_graph(app: &mut App) {
    let world = app.world_mut();
    let mut rng = world.resource::<Soak>().rng.clone();
    let destination = world.resource::<AudioContext>().destination();
    let stream = world.resource::<Microphone>().stream().clone();
    let (looped, impulse, sounds) = {
        let mut buffers = world.resource_mut::<Assets<AudioBuffer>>();
        let looped = make_buffer(&mut buffers, &mut rng, 1, 1.5, |t, n| {
            (TAU * 110.0 * t).sin() * 0.5 + n * 0.1
        });
        let impulse = make_buffer(&mut buffers, &mut rng, 2, 0.6, |t, n| n * (-t * 9.0).exp());
        let sounds = vec![
            make_buffer(&mut buffers, &mut rng, 1, 0.06, |t, n| {
                n * (-t * 70.0).exp()
            }),
            make_buffer(&mut buffers, &mut rng, 1, 0.25, |t, n| {
                ((TAU * 70.0 * t).sin() + n * 0.3) * (-t * 12.0).exp()
            }),
            make_buffer(&mut buffers, &mut rng, 2, 0.3, |t, _| {
                (TAU * 660.0 * t).sin() * (-t * 8.0).exp()
            }),
        ];
        (looped, impulse, sounds)
    };
    let mut graph = Vec::new();
    let mut commands = world.commands();
    graph.push(
        commands
            .spawn((AudioListener::default(), Transform::default()))
            .id(),
    );
    let compressor = commands
        .spawn(DynamicsCompressorNode::default())
        .connect(destination)
        .id();
    let dry = commands.spawn(GainNode::new(0.08)).connect(compressor).id();
    let wet = commands.spawn(GainNode::new(0.3)).connect(compressor).id();
    let convolver = commands
        .spawn(ConvolverNode::new(impulse))
        .connect(wet)
        .id();
    commands.entity(dry).connect(convolver);
    graph.extend([compressor, dry, wet, convolver]);
    let panners: Vec<Entity> = (0..PANNERS)
        .map(|i| {
            let model = if i < HRTF_PANNERS {
                PanningModel::Hrtf
            } else {
                PanningModel::EqualPower
            };
            commands
                .spawn((
                    PannerNode::new(model),
                    SpatialAudio,
                    Transform::default(),
                    Orbit {
                        radius: rng.range(1.0, 12.0),
                        speed: rng.range(-1.5, 1.5),
                        phase: rng.range(0.0, TAU),
                        height: rng.range(-2.0, 2.0),
                    },
                ))
                .connect(dry)
                .id()
        })
        .collect();
    graph.extend(&panners);
    let types = [
        BiquadFilterType::Lowpass,
        BiquadFilterType::Bandpass,
        BiquadFilterType::Highpass,
        BiquadFilterType::Peaking,
    ];
    let waves = [
        OscillatorType::Sine,
        OscillatorType::Sawtooth,
        OscillatorType::Square,
        OscillatorType::Triangle,
    ];
    for i in 0..SOURCES {
        let filter = BiquadFilterNode::with_options(
            types[i % types.len()],
            rng.range(200.0, 4000.0),
            rng.range(0.5, 4.0),
            rng.range(-6.0, 6.0),
        );
        let filter = commands.spawn(filter).connect(panners[i % PANNERS]).id();
        let source = if i % 2 == 0 {
            let mut osc = OscillatorNode::new(waves[(i / 2) % waves.len()], rng.range(80.0, 900.0));
            osc.start(0.0).expect("start");
            commands.spawn(osc).connect(filter).id()
        } else {
            let mut src = AudioBufferSourceNode::new(looped.clone());
            src.looping = true;
            let _ = src.playback_rate.set_value(rng.range(0.5, 2.0));
            src.start(0.0).expect("start");
            commands.spawn(src).connect(filter).id()
        };
        graph.extend([filter, source]);
    }
    // The microphone into the graph, silently (the render thread drains its ring), with a
    // ring 2.5 × the longest stall.
    let silent = commands.spawn(GainNode::new(0.0)).connect(destination).id();
    let mic = commands
        .spawn(
            MediaStreamAudioSourceNode::new(&stream).with_latency(SourceLatency {
                ring_ms: 2.5 * MAX_STALL.as_secs_f32() * 1000.0,
                ..SourceLatency::default()
            }),
        )
        .connect(silent)
        .id();
    graph.extend([silent, mic]);
    world.flush();
    let mut soak = world.resource_mut::<Soak>();
    soak.graph = graph;
    soak.sounds = sounds;
    soak.running = true;
    soak.rng = rng;
}

fn stamp(context: Res<AudioContext>, mic: Res<Microphone>, mut stamp: ResMut<Stamp>) {
    *stamp = Stamp {
        at: Instant::now(),
        device_frames: context.device_frames(),
        clock: context.current_frame(),
        xruns: context.xruns(),
        mic_captured: mic.captured_frames(),
    };
}

fn count_faults(
    mut faults: ResMut<Faults>,
    mut backend: MessageReader<AudioBackendFault>,
    mut microphone: MessageReader<MicrophoneFault>,
    mut nodes: MessageReader<AudioNodeFault>,
    mut graph: MessageReader<AudioGraphError>,
) {
    faults
        .backend
        .extend(backend.read().map(|f| f.0.to_string()));
    faults
        .microphone
        .extend(microphone.read().map(|f| f.0.to_string()));
    faults
        .nodes
        .extend(nodes.read().map(|f| format!("{} {:?}", f.node, f.kind)));
    faults
        .graph
        .extend(graph.read().map(|e| e.error.to_string()));
}

/// Drains the tap every frame, stalls or not.
fn read_tap(reader: Option<ResMut<MicReader>>) {
    let Some(mut reader) = reader else { return };
    let reader = &mut *reader;
    loop {
        let n = reader.tap.get().read(&mut reader.buffer);
        if n == 0 {
            break;
        }
        reader.frames += n as u64;
    }
}

fn orbit(time: Res<Time>, mut panners: Query<(&Orbit, &mut Transform)>) {
    let t = time.elapsed_secs();
    for (orbit, mut transform) in &mut panners {
        let a = orbit.phase + orbit.speed * t;
        transform.translation =
            Vec3::new(orbit.radius * a.cos(), orbit.height, orbit.radius * a.sin());
    }
}

/// About twice a second per filter: a ramp of its frequency (timelines keep growing and
/// being consumed).
fn automate(
    time: Res<Time>,
    context: Res<AudioContext>,
    mut soak: ResMut<Soak>,
    mut filters: Query<&mut BiquadFilterNode>,
) {
    if !soak.running {
        return;
    }
    let chance = (time.delta_secs() * 2.0).min(1.0);
    let now = context.current_time();
    for mut filter in &mut filters {
        if soak.rng.unit() < chance {
            let target = soak.rng.range(200.0, 4000.0);
            let _ = filter
                .frequency
                .linear_ramp_to_value_at_time(target, now + 0.4);
        }
    }
}

fn fire_one_shots(
    time: Res<Time>,
    context: Res<AudioContext>,
    mut soak: ResMut<Soak>,
    mut commands: Commands,
) {
    if !soak.running {
        return;
    }
    soak.pending_shots += time.delta_secs_f64() * SHOTS_PER_SECOND;
    let mut fired = 0;
    while soak.pending_shots >= 1.0 && fired < 16 {
        soak.pending_shots -= 1.0;
        fired += 1;
        let which = (soak.rng.next_u64() % soak.sounds.len() as u64) as usize;
        let buffer = soak.sounds[which].clone();
        let volume = soak.rng.range(0.05, 0.3);
        let rate = soak.rng.range(0.8, 1.25);
        let spatial = soak.rng.unit() < 0.5;
        let looping = soak.rng.unit() < 0.1;
        let position = Vec3::new(
            soak.rng.range(-10.0, 10.0),
            0.0,
            soak.rng.range(-10.0, 10.0),
        );
        let until = context.current_time() + f64::from(soak.rng.range(0.3, 2.0));
        let mut sound = commands.play_sound(buffer);
        sound.volume(volume).playback_rate(rate);
        if spatial {
            sound.at(position);
        }
        if looping {
            sound.looping();
        }
        let entity = sound.id();
        soak.shots += 1;
        if looping {
            soak.loops += 1;
            soak.looping.push((entity, until));
        }
    }
    soak.pending_shots = soak.pending_shots.min(16.0);
}

/// Stops looping one-shots when their time is up (voices stolen meanwhile are gone already).
fn stop_loops(
    context: Res<AudioContext>,
    mut soak: ResMut<Soak>,
    voices: Query<(), With<Voice>>,
    mut commands: Commands,
) {
    let now = context.current_time();
    soak.looping.retain(|&(entity, until)| {
        if !voices.contains(entity) {
            // Not admitted yet (spawned this frame) or already gone.
            return until > now - 1.0;
        }
        if until > now {
            return true;
        }
        commands.entity(entity).stop_sound(0.05);
        false
    });
}

/// The main thread stalls: on 4 % of frames for up to 200 ms, and 200 ms exactly every 10 s.
fn stall(time: Res<Time>, mut soak: ResMut<Soak>) {
    if !soak.running {
        return;
    }
    soak.since_forced_stall += time.delta_secs();
    let stall = if soak.since_forced_stall >= 10.0 {
        soak.since_forced_stall = 0.0;
        MAX_STALL
    } else if soak.rng.unit() < 0.04 {
        MAX_STALL.mul_f32(soak.rng.unit())
    } else {
        return;
    };
    std::thread::sleep(stall);
    soak.stalls += 1;
    soak.stalled += stall;
    soak.longest_stall = soak.longest_stall.max(stall);
}
