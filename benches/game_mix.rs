//! The 256-voice game mix, rendered offline through the public ECS API, in × real time.
//!
//! ```text
//! cargo bench --bench game_mix                        # 30 s, median of 3 renders
//! cargo bench --bench game_mix -- --seconds 5 --runs 5
//! cargo bench --bench game_mix -- --write-cases DIR   # the scene as FORMAT.md cases
//! cargo bench --bench game_mix -- --frame-loop        # + the 60 fps game-loop variant
//! WEBAUDIO_DEVICE_TESTS=1 cargo bench --bench game_mix -- --device 60   # on the sound card
//! ```
//!
//! The scene (issue 20): 256 looping `AudioBufferSourceNode`s (eight mono noise buffers of
//! different lengths, playback rates 0.6–1.8) → a lowpass `BiquadFilterNode` each (cutoff
//! 300–6300 Hz, Q 0.7–4.7) → an equal-power `PannerNode` each whose position wanders around
//! the listener (a linear ramp of `positionX`/`positionZ` every second, passing beside and
//! behind the listener, 1.5–20 m away) → a `GainNode` envelope each (`setTargetAtTime`
//! attack, a duck every 2 s and a recovery) → one `DynamicsCompressorNode` → the stereo
//! destination. The listener stays at its default place.
//!
//! The same scene, as data, is both built here (ECS components, `connect`, param automation)
//! and written as the conformance cases `perf_game_mix_256.json` (30 s, timed against
//! Chromium and web-audio-api-rs) and `conf_game_mix_256_excerpt.json` (its first second,
//! checked against Chromium's render) with `--write-cases`; the noise buffers use FORMAT.md's
//! `noise` generator, reproduced here bit for bit.
//!
//! Each run builds a fresh `App` (not timed), then times `app.render` of the whole scene in
//! one-second calls. Without `--bench` (as `cargo test --all-targets` runs it) a 0.1 s render
//! is checked for finite, non-silent output, then the bench exits.
//!
//! `--frame-loop` adds the scene as a game runs it: the panners are [`SpatialAudio`] entities
//! whose `Transform`s the loop moves every frame along the same paths (no position
//! automation), at 60 fps: set the 256 transforms, `app.update()` (transform propagation, the
//! spatial sync's glides, the commit), `app.render(800)`; the update and the render are timed
//! together. Runs alternate with the offline renders, and the report gives the ratio of the
//! two medians (issue 20: at most 1.2).
//!
//! `--device SECONDS` plays the scene on the default output device (the virtual sound card of
//! `scripts/pulse.sh`, `LatencyHint::Balanced`) while a 60 fps loop calls `app.update()`,
//! and reports the render load the engine measures (render time / audio time of each device
//! callback: the last reading sampled every frame, averaged, and the context's peak) and the
//! xruns, beside the offline render's time / audio time for the same scene in the same run.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_webaudio::prelude::*;

mod support;
use support::arg;

const SR: u32 = 48_000;
/// Game frames per second of the `--frame-loop` variant.
const FPS: u32 = 60;
const VOICES: usize = 256;
const BUFFERS: usize = 8;
/// Seconds between two position keyframes.
const SEGMENT: f64 = 1.0;
/// Seconds between two ducks of a voice's envelope.
const DUCK_PERIOD: f64 = 2.0;

/// xorshift32, FORMAT.md's PRNG (seed 0 becomes 0x6D2B79F5).
struct XorShift(u32);

impl XorShift {
    fn new(seed: u32) -> Self {
        Self(if seed == 0 { 0x6D2B_79F5 } else { seed })
    }
    fn draw(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    /// FORMAT.md's `unit`: in [0, 1).
    fn unit(&mut self) -> f64 {
        f64::from(self.draw() >> 8) / 16_777_216.0
    }
    /// FORMAT.md's `bipolar`: in [-1, 1).
    fn bipolar(&mut self) -> f64 {
        self.unit() * 2.0 - 1.0
    }
}

/// Rounds to `digits` decimals so the JSON stays short and both builders read the same value.
fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

/// One automation event: `(method, args)` as FORMAT.md writes it.
#[derive(Clone, Copy)]
enum Event {
    SetValue(f64, f64),
    LinearRamp(f64, f64),
    SetTarget(f64, f64, f64),
}

impl Event {
    fn time(self) -> f64 {
        match self {
            Self::SetValue(_, t) | Self::LinearRamp(_, t) | Self::SetTarget(_, t, _) => t,
        }
    }
    fn json(self) -> String {
        match self {
            Self::SetValue(v, t) => format!("[\"setValueAtTime\",{v},{t}]"),
            Self::LinearRamp(v, t) => format!("[\"linearRampToValueAtTime\",{v},{t}]"),
            Self::SetTarget(v, t, c) => format!("[\"setTargetAtTime\",{v},{t},{c}]"),
        }
    }
    fn apply(self, param: &mut AudioParam) {
        match self {
            Self::SetValue(v, t) => param.set_value_at_time(v as f32, t).map(drop),
            Self::LinearRamp(v, t) => param.linear_ramp_to_value_at_time(v as f32, t).map(drop),
            Self::SetTarget(v, t, c) => param.set_target_at_time(v as f32, t, c).map(drop),
        }
        .expect("valid automation");
    }
}

struct Voice {
    buffer: usize,
    rate: f64,
    start: f64,
    cutoff: f64,
    q: f64,
    /// Initial position (x, y, z); y stays.
    position: [f64; 3],
    x: Vec<Event>,
    z: Vec<Event>,
    envelope: Vec<Event>,
}

/// The full scene's length: [`Scene::new`] draws every voice for this long, whatever part
/// of it is rendered, so an excerpt is the same graph as the whole.
const FULL: f64 = 30.0;

/// The scene for `seconds` of audio (events more than a segment past the end are left out).
struct Scene {
    seconds: f64,
    /// (seed, frames) of each mono noise buffer.
    buffers: Vec<(u32, usize)>,
    voices: Vec<Voice>,
}

impl Scene {
    fn new(seconds: f64) -> Self {
        let mut rng = XorShift::new(20);
        let buffers = (0..BUFFERS)
            .map(|b| (2000 + b as u32, 24_000 + 7_919 * b))
            .collect();
        let keep = |t: f64| t <= FULL + SEGMENT;
        let voices = (0..VOICES)
            .map(|v| {
                let rate = round(0.6 + 1.2 * rng.unit(), 3);
                let start = round(0.25 * rng.unit(), 3);
                let cutoff = round(300.0 + 6000.0 * rng.unit(), 0);
                let q = round(0.7 + 4.0 * rng.unit(), 2);
                let y = round(4.0 * rng.unit() - 2.0, 2);
                // A wander around the listener: angle and distance change every segment.
                let mut angle = std::f64::consts::TAU * rng.unit();
                let mut radius = 1.5 + 18.5 * rng.unit();
                let place = |angle: f64, radius: f64| {
                    (
                        round(radius * angle.sin(), 3),
                        round(-radius * angle.cos(), 3),
                    )
                };
                let (x0, z0) = place(angle, radius);
                let (mut x, mut z) = (
                    vec![Event::SetValue(x0, 0.0)],
                    vec![Event::SetValue(z0, 0.0)],
                );
                let mut k = 1;
                while keep(k as f64 * SEGMENT) {
                    angle += (rng.unit() * 2.0 - 1.0) * std::f64::consts::FRAC_PI_3;
                    radius = (radius + (rng.unit() * 2.0 - 1.0) * 4.0).clamp(1.5, 20.0);
                    let (xk, zk) = place(angle, radius);
                    let t = k as f64 * SEGMENT;
                    x.push(Event::LinearRamp(xk, t));
                    z.push(Event::LinearRamp(zk, t));
                    k += 1;
                }
                let level = round(0.25 + 0.35 * rng.unit(), 3);
                let phase = round(DUCK_PERIOD * rng.unit(), 3);
                let mut envelope = vec![Event::SetTarget(level, start, 0.03)];
                let mut t = start + phase;
                while keep(t) {
                    envelope.push(Event::SetTarget(round(level * 0.3, 4), round(t, 3), 0.15));
                    envelope.push(Event::SetTarget(level, round(t + 0.8, 3), 0.1));
                    t += DUCK_PERIOD;
                }
                Voice {
                    buffer: v % BUFFERS,
                    rate,
                    start,
                    cutoff,
                    q,
                    position: [x0, y, z0],
                    x,
                    z,
                    envelope,
                }
            })
            .collect();
        Self {
            seconds,
            buffers,
            voices,
        }
    }

    /// Whether an event at `t` is part of this render's graph.
    fn keep(&self, t: f64) -> bool {
        t <= self.seconds + SEGMENT
    }

    fn frames(&self) -> usize {
        (self.seconds * f64::from(SR)).round() as usize
    }

    /// FORMAT.md's `{"gen":"noise","seed":S,"frames":N,"amp":0.5}`.
    fn buffer_samples(seed: u32, frames: usize) -> Vec<f32> {
        let mut rng = XorShift::new(seed);
        (0..frames).map(|_| (rng.bipolar() * 0.5) as f32).collect()
    }

    /// The scene as a FORMAT.md case.
    fn case_json(&self, name: &str, kind: &str, description: &str) -> String {
        let events = |evs: &[Event]| {
            let list: Vec<String> = evs
                .iter()
                .filter(|e| self.keep(e.time()))
                .map(|e| e.json())
                .collect();
            format!("[{}]", list.join(","))
        };
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\n  \"name\": \"{name}\",\n  \"kind\": \"{kind}\",\n  \"description\": \"{description}\",\n  \
             \"sampleRate\": {SR},\n  \"length\": {},\n  \"numberOfChannels\": 2,\n  \"buffers\": {{\n",
            self.frames()
        );
        let buffers: Vec<String> = self
            .buffers
            .iter()
            .enumerate()
            .map(|(b, (seed, frames))| {
                format!(
                    "    \"b{b}\": {{\"gen\":\"noise\",\"seed\":{seed},\"frames\":{frames},\"amp\":0.5}}"
                )
            })
            .collect();
        let _ = write!(s, "{}\n  }},\n  \"nodes\": [\n", buffers.join(",\n"));
        let mut nodes = Vec::new();
        let mut connections = Vec::new();
        for (i, v) in self.voices.iter().enumerate() {
            let [x, y, z] = v.position;
            nodes.push(format!(
                "    {{\"id\":\"s{i}\",\"type\":\"AudioBufferSourceNode\",\"options\":{{\"buffer\":\"b{}\",\"loop\":true,\"playbackRate\":{}}},\"start\":{}}}",
                v.buffer, v.rate, v.start
            ));
            nodes.push(format!(
                "    {{\"id\":\"f{i}\",\"type\":\"BiquadFilterNode\",\"options\":{{\"type\":\"lowpass\",\"frequency\":{},\"Q\":{}}}}}",
                v.cutoff, v.q
            ));
            nodes.push(format!(
                "    {{\"id\":\"p{i}\",\"type\":\"PannerNode\",\"options\":{{\"positionX\":{x},\"positionY\":{y},\"positionZ\":{z}}},\"params\":{{\"positionX\":{},\"positionZ\":{}}}}}",
                events(&v.x),
                events(&v.z)
            ));
            nodes.push(format!(
                "    {{\"id\":\"g{i}\",\"type\":\"GainNode\",\"options\":{{\"gain\":0}},\"params\":{{\"gain\":{}}}}}",
                events(&v.envelope)
            ));
            connections.push(format!(
                "    [\"s{i}\",\"f{i}\"],[\"f{i}\",\"p{i}\"],[\"p{i}\",\"g{i}\"],[\"g{i}\",\"comp\"]"
            ));
        }
        nodes.push("    {\"id\":\"comp\",\"type\":\"DynamicsCompressorNode\"}".into());
        connections.push("    [\"comp\",\"destination\"]".into());
        let _ = write!(
            s,
            "{}\n  ],\n  \"connections\": [\n{}\n  ]\n}}\n",
            nodes.join(",\n"),
            connections.join(",\n")
        );
        s
    }

    /// Voice `v`'s (x, z) at time `t`: its keyframes, linearly interpolated (what the
    /// automation of `positionX`/`positionZ` renders).
    fn position(&self, v: usize, t: f64) -> (f32, f32) {
        let at = |events: &[Event]| {
            let mut previous = (0.0, 0.0);
            for &e in events {
                let (value, time) = match e {
                    Event::SetValue(v, t) | Event::LinearRamp(v, t) => (v, t),
                    Event::SetTarget(..) => unreachable!("positions are ramps"),
                };
                if time >= t {
                    if time <= previous.1 {
                        return value as f32;
                    }
                    let k = (t - previous.1) / (time - previous.1);
                    return (previous.0 + (value - previous.0) * k) as f32;
                }
                previous = (value, time);
            }
            previous.0 as f32
        };
        let voice = &self.voices[v];
        (at(&voice.x), at(&voice.z))
    }

    /// The scene as an offline `App`, built through the public ECS API. `moving`: the panners
    /// are `SpatialAudio` entities with a `Transform` (for the frame loop to move), without
    /// position automation; returns their entities too.
    fn build(&self, moving: bool) -> (App, Vec<Entity>) {
        self.build_on(moving, WebAudioPlugin::offline(SR, 2))
    }

    fn build_on(&self, moving: bool, plugin: WebAudioPlugin) -> (App, Vec<Entity>) {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, plugin));
        if moving {
            app.add_plugins(TransformPlugin)
                .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(
                    1.0 / f64::from(FPS),
                )));
        }
        app.update();
        let mut panners = Vec::new();
        let world = app.world_mut();
        let dest = world.resource::<AudioContext>().destination();
        let handles: Vec<Handle<AudioBuffer>> = self
            .buffers
            .iter()
            .map(|&(seed, frames)| {
                let b =
                    AudioBuffer::from_samples(vec![Self::buffer_samples(seed, frames)], SR as f32)
                        .expect("valid buffer");
                world.resource_mut::<Assets<AudioBuffer>>().add(b)
            })
            .collect();
        let mut commands = world.commands();
        let comp = commands
            .spawn(DynamicsCompressorNode::new(
                DynamicsCompressorOptions::default(),
            ))
            .connect(dest)
            .id();
        for v in &self.voices {
            let mut gain = GainNode::new(0.0);
            for &e in v.envelope.iter().filter(|e| self.keep(e.time())) {
                e.apply(&mut gain.gain);
            }
            let gain = commands.spawn(gain).connect(comp).id();
            let [x, y, z] = v.position;
            let mut panner = PannerNode::new(PanningModel::EqualPower)
                .with_position(x as f32, y as f32, z as f32);
            let panner = if moving {
                let at = Transform::from_xyz(x as f32, y as f32, z as f32);
                commands.spawn((panner, SpatialAudio, at))
            } else {
                for &e in v.x.iter().filter(|e| self.keep(e.time())) {
                    e.apply(&mut panner.position_x);
                }
                for &e in v.z.iter().filter(|e| self.keep(e.time())) {
                    e.apply(&mut panner.position_z);
                }
                commands.spawn(panner)
            }
            .connect(gain)
            .id();
            panners.push(panner);
            let filter = BiquadFilterNode::with_options(
                BiquadFilterType::Lowpass,
                v.cutoff as f32,
                v.q as f32,
                0.0,
            );
            let filter = commands.spawn(filter).connect(panner).id();
            let mut source = AudioBufferSourceNode::new(handles[v.buffer].clone());
            source.looping = true;
            source
                .playback_rate
                .set_value(v.rate as f32)
                .expect("valid rate");
            source.start_with(v.start, 0.0, None).expect("valid start");
            commands.spawn(source).connect(filter);
        }
        world.flush();
        app.update();
        (app, panners)
    }
}

/// Runs the scene as a 60 fps game loop: each frame moves every panner to where its path is at
/// the frame's end (the spatial sync glides there over the frame), then `app.update()` and
/// `app.render` of the frame. Returns (seconds in update + render, last chunk).
fn frame_loop(scene: &Scene, app: &mut App, panners: &[Entity]) -> (f64, Vec<Vec<f32>>) {
    let frames = scene.frames();
    let per_frame = (SR / FPS) as usize;
    let mut elapsed = Duration::ZERO;
    let mut last = Vec::new();
    let mut done = 0;
    while done < frames {
        let n = per_frame.min(frames - done);
        let t = (done + n) as f64 / f64::from(SR);
        for (v, &panner) in panners.iter().enumerate() {
            let (x, z) = scene.position(v, t);
            let mut transform = app
                .world_mut()
                .get_mut::<Transform>(panner)
                .expect("panner");
            transform.translation.x = x;
            transform.translation.z = z;
        }
        let start = Instant::now();
        app.update();
        last = app.render(n).expect("offline context");
        elapsed += start.elapsed();
        black_box(&last);
        done += n;
    }
    (elapsed.as_secs_f64(), last)
}

/// Renders the scene once in one-second calls; returns (render seconds, last chunk).
fn render(app: &mut App, frames: usize) -> (f64, Vec<Vec<f32>>) {
    let mut left = frames;
    let mut last = Vec::new();
    let start = Instant::now();
    while left > 0 {
        let n = left.min(SR as usize);
        last = app.render(n).expect("offline context");
        black_box(&last);
        left -= n;
    }
    (start.elapsed().as_secs_f64(), last)
}

/// Plays the scene on the default output device with a 60 fps loop of `app.update()`;
/// returns the render load (mean of the last reading sampled each frame, the context's peak)
/// and the xruns during the run.
fn device_run(scene: &Scene, seconds: f64) -> (f64, f32, u64) {
    let plugin = WebAudioPlugin {
        backend: Backend::Cpal(AudioOutputConfig::default()),
        render_hooks: None,
    };
    let (mut app, _) = scene.build_on(false, plugin);
    let context = app.world().resource::<AudioContext>();
    assert_eq!(
        context.backend(),
        bevy_webaudio::ActiveBackend::Cpal,
        "no output device: run scripts/pulse.sh start"
    );
    let xruns = context.xruns();
    let (mut sum, mut n) = (0.0, 0.0);
    let start = Instant::now();
    let frame = Duration::from_secs_f64(1.0 / f64::from(FPS));
    let mut next = start;
    while start.elapsed().as_secs_f64() < seconds {
        app.update();
        sum += f64::from(app.world().resource::<AudioContext>().render_load().0);
        n += 1.0;
        next += frame;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let context = app.world().resource::<AudioContext>();
    println!(
        "device: {} frames per callback, outputLatency {:.1} ms",
        context.buffer_frames(),
        context.output_latency() * 1e3
    );
    (sum / n, context.render_load().2, context.xruns() - xruns)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(dir) = arg::<String>(&args, "--write-cases") {
        let graph = "256 looping AudioBufferSources (8 mono noise buffers, rates 0.6-1.8) -> \
                     lowpass BiquadFilter each -> equal-power PannerNode each, positionX/Z \
                     ramped every 1 s around the listener -> GainNode envelope each \
                     (setTargetAtTime attack, duck every 2 s) -> one DynamicsCompressor; \
                     written by benches/game_mix.rs --write-cases";
        for (name, kind, seconds, what) in [
            (
                "perf_game_mix_256",
                "perf",
                30.0,
                "The 256-voice game mix (issue 20), 30 s: ",
            ),
            (
                "conf_game_mix_256_excerpt",
                "conformance",
                1.0,
                "The first second of perf_game_mix_256: ",
            ),
        ] {
            let path = format!("{dir}/{name}.json");
            let json = Scene::new(seconds).case_json(name, kind, &format!("{what}{graph}"));
            std::fs::write(&path, json).expect("write the case");
            println!("wrote {path}");
        }
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        let scene = Scene::new(0.1);
        let (mut app, _) = scene.build(false);
        let (_, out) = render(&mut app, scene.frames());
        let (mut app, panners) = scene.build(true);
        let (_, looped) = frame_loop(&scene, &mut app, &panners);
        for out in [out, looped] {
            assert!(
                out.iter().flatten().all(|s| s.is_finite()),
                "non-finite output"
            );
            assert!(out.iter().flatten().any(|&s| s != 0.0), "silent output");
        }
        println!(
            "game_mix bench: smoke pass ok (run with `cargo bench --bench game_mix` to measure)"
        );
        return;
    }
    if let Some(seconds) = arg::<f64>(&args, "--device") {
        assert_eq!(
            std::env::var("WEBAUDIO_DEVICE_TESTS").as_deref(),
            Ok("1"),
            "--device needs WEBAUDIO_DEVICE_TESTS=1 and a sound server (scripts/pulse.sh)"
        );
        let scene = Scene::new(seconds);
        let (load, peak, xruns) = device_run(&scene, seconds);
        let (mut app, _) = scene.build(false);
        let (t, _) = render(&mut app, scene.frames());
        println!(
            "game mix on the device, {seconds} s: render load average {:.3}, peak {peak:.3}, \
             {xruns} xruns; offline, same scene: {:.3} (render time / audio time, {:.2}x real \
             time)",
            load,
            t / seconds,
            seconds / t
        );
        return;
    }
    let seconds = arg(&args, "--seconds").unwrap_or(30.0);
    let runs = arg(&args, "--runs").unwrap_or(3usize).max(1);
    let looped = args.iter().any(|a| a == "--frame-loop");
    let scene = Scene::new(seconds);
    let mut times = Vec::new();
    let mut loop_times = Vec::new();
    for r in 0..runs {
        if looped {
            let (mut app, panners) = scene.build(true);
            let (t, out) = frame_loop(&scene, &mut app, &panners);
            assert!(
                out.iter().flatten().all(|s| s.is_finite()),
                "non-finite output"
            );
            println!(
                "frame loop {}/{runs}: {:.0} ms of update + render for {seconds} s",
                r + 1,
                t * 1e3
            );
            loop_times.push(t);
        }
        let (mut app, _) = scene.build(false);
        let (t, out) = render(&mut app, scene.frames());
        assert!(
            out.iter().flatten().all(|s| s.is_finite()),
            "non-finite output"
        );
        println!(
            "run {}/{runs}: {:.0} ms for {seconds} s ({:.2}x real time)",
            r + 1,
            t * 1e3,
            seconds / t
        );
        times.push(t);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "game mix, {VOICES} voices, {seconds} s at {SR} Hz stereo, {} build: median {:.0} ms = \
         {:.2}x real time ({:.1} ns per voice per sample)",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        },
        median * 1e3,
        seconds / median,
        median * 1e9 / (seconds * f64::from(SR) * VOICES as f64)
    );
    if looped {
        loop_times.sort_by(f64::total_cmp);
        let looped = loop_times[loop_times.len() / 2];
        println!(
            "frame loop at {FPS} fps (moving SpatialAudio panners, update + render): median {:.0} \
             ms = {:.2}x real time, {:.3}x the offline render",
            looped * 1e3,
            seconds / looped,
            looped / median
        );
    }
}
