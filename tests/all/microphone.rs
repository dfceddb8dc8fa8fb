//! The microphone (issue 10), with numbers: analysis on synthetic signals, exact overflow
//! counting, jitter and clock drift on simulated clocks (computed, never slept), zero
//! allocations in the capture callback and the source node, the ECS path on a simulated
//! input, a missing device, and a loopback on the virtual sound card.

use std::f64::consts::TAU;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::engine::render::bus::RENDER_QUANTUM;
use bevy_webaudio::microphone::analysis::{
    AnalysisSettings, Analyzer, MIN_DBFS, VoiceDetector, VoiceEdge, rms_dbfs,
};
use bevy_webaudio::microphone::{
    ConsumerKind, MediaStream, MicrophoneConfig, MicrophoneInput, MicrophoneStatus,
};
use bevy_webaudio::node::media_stream_audio_source::{MediaStreamSourceProcessor, SourceLatency};
use bevy_webaudio::prelude::*;

use crate::alloc_counter;
use crate::support::peak_frequency;

fn sine(frequency: f64, amplitude: f64, rate: f64, frames: usize, start: u64) -> Vec<f32> {
    (0..frames)
        .map(|i| (amplitude * (TAU * frequency * (start + i as u64) as f64 / rate).sin()) as f32)
        .collect()
}

/// Runs the analyzer over `signal`; returns every window's analysis and the voice edges
/// with the frame at which they happened.
fn analyse(signal: &[f32], rate: f32) -> (Vec<Analysis>, Vec<(VoiceEdge, u64)>) {
    let mut analyzer = Analyzer::new(AnalysisSettings::default(), rate);
    let (mut windows, mut edges) = (Vec::new(), Vec::new());
    for chunk in signal.chunks(333) {
        analyzer.push(chunk, |a, edge| {
            windows.push(*a);
            if let Some(e) = edge {
                edges.push((e, a.frames));
            }
        });
    }
    (windows, edges)
}

use bevy_webaudio::microphone::Analysis;

#[test]
fn mic_pitch_of_a_220_hz_sine_within_one_hz() {
    for (rate, amplitude) in [(48_000.0, 0.5), (44_100.0, 0.1), (16_000.0, 0.8)] {
        let signal = sine(220.0, amplitude, rate, rate as usize, 0);
        let (windows, _) = analyse(&signal, rate as f32);
        let pitches: Vec<f32> = windows
            .iter()
            .skip(4)
            .map(|a| a.pitch_hz.unwrap())
            .collect();
        let worst = pitches
            .iter()
            .map(|p| (p - 220.0).abs())
            .fold(0.0f32, f32::max);
        let confidence = windows.last().unwrap().pitch_confidence;
        println!(
            "{rate} Hz: {} windows, worst pitch error {worst:.4} Hz, confidence {confidence:.4}",
            pitches.len()
        );
        assert!(
            worst < 1.0,
            "220 Hz within 1 Hz at {rate} Hz, worst {worst}"
        );
        assert!(confidence > 0.95);
    }
    // Voiced speech-like: 150 Hz with harmonics is still 150 Hz (not an octave off).
    let rate = 48_000.0;
    let signal: Vec<f32> = (0..48_000)
        .map(|i| {
            let t = f64::from(i) / rate;
            (0.4 * (TAU * 150.0 * t).sin()
                + 0.3 * (TAU * 300.0 * t).sin()
                + 0.2 * (TAU * 450.0 * t).sin()) as f32
        })
        .collect();
    let (windows, _) = analyse(&signal, rate as f32);
    let p = windows.last().unwrap().pitch_hz.unwrap();
    assert!((p - 150.0).abs() < 1.0, "harmonic tone: {p}");
    // Noise has low confidence and no pitch.
    let mut seed = 0x1234_5678u32;
    let noise: Vec<f32> = (0..48_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32 - 0.5) * 0.5
        })
        .collect();
    let (windows, _) = analyse(&noise, rate as f32);
    let voiced = windows.iter().filter(|a| a.pitch_hz.is_some()).count();
    println!("noise: {voiced} of {} windows voiced", windows.len());
    assert!(voiced * 20 < windows.len(), "noise is mostly unvoiced");
}

#[test]
fn mic_levels_in_dbfs_are_exact() {
    // DC 0.25 → 20·log10(0.25) = −12.0412 dB exactly.
    let dc = vec![0.25f32; 4800];
    assert!((rms_dbfs(&dc) - (-12.041_2)).abs() < 1e-3);
    // A sine of amplitude a over whole periods: 20·log10(a/√2).
    let s = sine(1000.0, 0.5, 48_000.0, 4800, 0);
    let expected = 20.0 * (0.5f64 / 2f64.sqrt()).log10();
    assert!(
        (f64::from(rms_dbfs(&s)) - expected).abs() < 1e-3,
        "{}",
        rms_dbfs(&s)
    );
    assert_eq!(rms_dbfs(&[0.0; 64]), MIN_DBFS);
    // A sine whose RMS is −12 dBFS, through the sliding analyzer (windows not aligned to
    // periods): every window within 0.5 dB (measured: within 0.05).
    let amplitude = 10f64.powf(-12.0 / 20.0) * 2f64.sqrt();
    let signal = sine(220.0, amplitude, 48_000.0, 96_000, 0);
    let (windows, _) = analyse(&signal, 48_000.0);
    let worst = windows
        .iter()
        .skip(4)
        .map(|a| (a.level_dbfs + 12.0).abs())
        .fold(0.0f32, f32::max);
    let peak = windows.last().unwrap().peak;
    println!("-12 dBFS sine: worst window error {worst:.4} dB, peak {peak:.4}");
    assert!(worst < 0.1);
    assert!((f64::from(peak) - amplitude).abs() < 0.001);
    // The envelope settles at the RMS.
    let env = windows.last().unwrap().envelope;
    assert!(
        (f64::from(env) - amplitude / 2f64.sqrt()).abs() < 0.005,
        "{env}"
    );
}

#[test]
fn mic_voice_hysteresis_thresholds() {
    let mut v = VoiceDetector::new(-40.0, -50.0, 0.2);
    let dt = 0.01;
    assert_eq!(v.update(-45.0, dt), None, "between thresholds: stays off");
    assert_eq!(v.update(-40.5, dt), None);
    assert_eq!(v.update(-40.0, dt), Some(VoiceEdge::Started), "on at −40");
    assert_eq!(v.update(-45.0, dt), None, "between thresholds: stays on");
    let mut quiet = 0;
    let edge = loop {
        quiet += 1;
        if let Some(e) = v.update(-55.0, dt) {
            break e;
        }
        assert!(quiet < 100);
    };
    assert_eq!(edge, VoiceEdge::Stopped);
    assert_eq!(
        quiet, 20,
        "off after 0.2 s under −50 (20 readings of 10 ms)"
    );
    // A brief dip does not turn it off.
    v.update(-30.0, dt);
    for _ in 0..10 {
        assert_eq!(v.update(-60.0, dt), None);
    }
    assert_eq!(
        v.update(-45.0, dt),
        None,
        "back between thresholds resets the hang"
    );
    for _ in 0..19 {
        assert_eq!(v.update(-60.0, dt), None);
    }
    assert_eq!(v.update(-60.0, dt), Some(VoiceEdge::Stopped));

    // A tone burst through the whole analysis: 0.5 s silence, 0.5 s of −12 dBFS, 1 s silence.
    let rate = 48_000.0;
    let mut signal = vec![0.0f32; 24_000];
    signal.extend(sine(220.0, 0.35, rate, 24_000, 0));
    signal.extend(vec![0.0f32; 48_000]);
    let (_, edges) = analyse(&signal, rate as f32);
    println!("burst edges (frame): {edges:?}");
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[0].0, VoiceEdge::Started);
    assert_eq!(edges[1].0, VoiceEdge::Stopped);
    let on_ms = (edges[0].1 as f64 - 24_000.0) / 48.0;
    let off_ms = (edges[1].1 as f64 - 48_000.0) / 48.0;
    println!("voice on {on_ms:.1} ms after the burst starts, off {off_ms:.1} ms after it ends");
    assert!((0.0..=11.0).contains(&on_ms), "on within one hop");
    assert!(
        (200.0..=260.0).contains(&off_ms),
        "off after the window drains + 200 ms hang"
    );
}

#[test]
fn mic_ring_overflow_is_counted_exactly_drop_newest() {
    let (stream, slot) = MediaStream::new(48_000, 2);
    // No consumer: counted as captured, nothing kept, nothing "lost".
    slot.write(&vec![0.5f32; 2 * 300]);
    assert_eq!(stream.captured_frames(), 300);
    let mut a = stream.connect(ConsumerKind::Tap, 1000);
    let b = stream.connect(ConsumerKind::Tap, 4000);
    // Frame k carries the value k on both channels, so what is kept can be checked.
    let frames = |from: usize, n: usize| -> Vec<f32> {
        (from..from + n)
            .flat_map(|k| [k as f32, k as f32])
            .collect()
    };
    slot.write(&frames(0, 1500)); // 500 over a's capacity
    assert_eq!((a.stats().written(), a.stats().dropped()), (1000, 500));
    assert_eq!((b.stats().written(), b.stats().dropped()), (1500, 0));
    let mut out = vec![0.0; 2 * 300];
    assert_eq!(a.read(&mut out), 300);
    assert_eq!(out[0], 0.0, "drop newest: the oldest frames are kept");
    assert_eq!(out[2 * 299], 299.0);
    slot.write(&frames(1500, 400)); // room for 300: 100 more dropped
    assert_eq!((a.stats().written(), a.stats().dropped()), (1300, 600));
    let mut rest = vec![0.0; 2 * 2000];
    let n = a.read(&mut rest);
    assert_eq!(n, 1000);
    assert_eq!(rest[2 * 699], 999.0, "frames 300..1000 of the first burst");
    assert_eq!(rest[2 * 700], 1500.0, "then the first 300 of the second");
    // Conservation: for every consumer, written + dropped = frames captured since it joined.
    let captured = stream.captured_frames() - 300;
    for c in [&a, &b] {
        assert_eq!(c.stats().written() + c.stats().dropped(), captured);
    }
    // Push N over capacity in many small callbacks: exactly N dropped.
    let mut c = stream.connect(ConsumerKind::Tap, 256);
    for k in 0..10 {
        slot.write(&frames(k * 100, 100));
    }
    assert_eq!((c.stats().written(), c.stats().dropped()), (256, 744));
    assert_eq!(c.read(&mut rest), 256);
    // Formats: i16 and u16 converted.
    let (stream, slot) = MediaStream::new(48_000, 1);
    let mut t = stream.connect(ConsumerKind::Tap, 16);
    slot.write(&[0i16, 16_384, -32_768]);
    slot.write(&[32_768u16, 49_152, 0]);
    let mut v = [9.0f32; 6];
    assert_eq!(t.read(&mut v), 6);
    assert_eq!(v, [0.0, 0.5, -1.0, 0.0, 0.5, -1.0]);
    // A dropped reader is retired by the callback and freed on the control side.
    drop(t);
    slot.write(&[0.0f32; 4]);
    assert_eq!(stream.active_consumers(), 0);
    assert_eq!(stream.collect_garbage(), 1);
    drop((a, b, c));
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

#[derive(Debug)]
struct SimReport {
    dropped: u64,
    /// After the settling time.
    underruns: u64,
    /// After the settling time.
    skipped: u64,
    skipped_total: u64,
    /// min/max of the fill (ms of input) after the settling time.
    fill_ms: (f64, f64),
    target_ms: f64,
    /// Mean drift correction after the settling time.
    correction_ppm: f64,
    output_hz: f64,
    quanta: u64,
}

/// Simulates an input device that says it runs at `nominal_in` but whose clock really
/// delivers `in_rate` frames per second (a 440 Hz tone in real time, callbacks every
/// `in_interval()` seconds) feeding a source node rendered by an output device at `out_rate`
/// in blocks of `out_block` frames, for `seconds`, on computed clocks.
fn simulate(
    nominal_in: u32,
    in_rate: f64,
    out_rate: f64,
    out_block: usize,
    seconds: f64,
    settle: f64,
    mut in_interval: impl FnMut() -> f64,
) -> SimReport {
    let (stream, slot) = MediaStream::new(nominal_in, 1);
    let mut processor =
        MediaStreamSourceProcessor::new(Some(&stream), out_rate as f32, SourceLatency::default());
    let stats = processor.stats().unwrap().clone();
    let (mut t_in, mut t_out) = (0.0f64, 0.0f64);
    let mut delivered: u64 = 0;
    let mut buffer = vec![0.0f32; 0];
    buffer.reserve(48_000);
    let mut out = vec![[0.0f32; RENDER_QUANTUM]; 1];
    let mut tail = Vec::with_capacity(65_536);
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    let mut quanta = 0u64;
    let (mut underruns_after_settle, mut skipped_after_settle) = (0, 0);
    let (mut correction_sum, mut correction_n) = (0.0, 0.0);
    let mut settled_underruns = None;
    while t_out < seconds {
        if t_in <= t_out {
            // An input callback at t_in delivers what the input clock produced since the last.
            let due = (t_in * in_rate).floor() as u64;
            let n = (due - delivered) as usize;
            buffer.clear();
            buffer.extend((0..n).map(|i| {
                (0.5 * (TAU * 440.0 * (delivered + i as u64) as f64 / in_rate).sin()) as f32
            }));
            slot.write(&buffer);
            delivered = due;
            t_in += in_interval();
        } else {
            for _ in 0..out_block / RENDER_QUANTUM {
                processor.render(&mut out);
                quanta += 1;
                if t_out > seconds - 1.5 && tail.len() < 65_536 {
                    tail.extend_from_slice(&out[0]);
                }
            }
            if t_out > settle {
                if settled_underruns.is_none() {
                    settled_underruns = Some((stats.underruns(), stats.skipped()));
                }
                let fill = f64::from(stats.fill_frames()) * 1000.0 / in_rate;
                lo = lo.min(fill);
                hi = hi.max(fill);
                correction_sum += processor.correction();
                correction_n += 1.0;
            }
            t_out += out_block as f64 / out_rate;
        }
    }
    if let Some((underruns, skipped)) = settled_underruns {
        underruns_after_settle = stats.underruns() - underruns;
        skipped_after_settle = stats.skipped() - skipped;
    }
    SimReport {
        dropped: stats.dropped(),
        underruns: underruns_after_settle,
        skipped: skipped_after_settle,
        skipped_total: stats.skipped(),
        fill_ms: (lo, hi),
        target_ms: processor.target_frames() * 1000.0 / in_rate,
        correction_ppm: correction_sum / f64::max(correction_n, 1.0) * 1e6,
        output_hz: peak_frequency(&tail[tail.len() - 32_768..], out_rate),
        quanta,
    }
}

#[test]
fn mic_drift_input_clock_faster_than_output_stays_in_band() {
    // 0.1 % faster input for ten minutes; 48 010 vs 48 000 for ten minutes; the reverse.
    for (in_rate, out_rate) in [
        (48_048.0, 48_000.0),
        (48_010.0, 48_000.0),
        (47_952.0, 48_000.0),
    ] {
        let report = simulate(48_000, in_rate, out_rate, 512, 600.0, 30.0, || {
            512.0 / in_rate
        });
        println!("drift {in_rate} → {out_rate} Hz, 600 s: {report:?}");
        assert_eq!(report.dropped, 0, "no drops");
        assert_eq!(report.underruns, 0, "no underruns after settling");
        assert_eq!(report.skipped_total, 0);
        let band = report.fill_ms.1 - report.fill_ms.0;
        assert!(
            report.fill_ms.1 < 40.0 && band < 25.0,
            "fill within its band: {:?}",
            report.fill_ms
        );
        let expected_ppm = (in_rate / out_rate - 1.0) * 1e6;
        assert!(
            (report.correction_ppm - expected_ppm).abs() < 0.05 * expected_ppm.abs() + 5.0,
            "the correction tracks the clock difference ({expected_ppm:.0} ppm)"
        );
        assert!(
            (report.output_hz - 440.0 * 1.0).abs() < 1.0,
            "{}",
            report.output_hz
        );
    }
}

#[test]
fn mic_different_rates_are_converted() {
    // A 44.1 kHz microphone into a 48 kHz context, and 48 → 44.1: 440 Hz stays 440 Hz.
    for (in_rate, out_rate) in [
        (44_100.0, 48_000.0),
        (48_000.0, 44_100.0),
        (16_000.0, 48_000.0),
    ] {
        let report = simulate(in_rate as u32, in_rate, out_rate, 1024, 30.0, 5.0, || {
            480.0 / in_rate
        });
        println!("rates {in_rate} → {out_rate}: {report:?}");
        assert!(
            (report.output_hz - 440.0).abs() < 0.5,
            "{}",
            report.output_hz
        );
        assert_eq!((report.dropped, report.underruns), (0, 0));
    }
}

#[test]
fn mic_jittery_input_sixty_seconds_no_loss() {
    // Callbacks 1–20 ms apart, a 50 ms stall every ~2 s, on a computed clock.
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let report = simulate(48_000, 48_000.0, 48_000.0, 512, 60.0, 10.0, || {
        if rng.next().is_multiple_of(100) {
            0.050
        } else {
            rng.range(0.001, 0.020)
        }
    });
    println!("jitter, 60 s: {report:?}");
    assert_eq!(
        report.dropped, 0,
        "zero lost frames while the ring has room"
    );
    assert_eq!(report.skipped, 0, "nothing skipped once settled");
    assert_eq!(
        report.underruns, 0,
        "the target adapted to the stalls during settling"
    );
    assert!(report.target_ms < 120.0 && report.fill_ms.1 < 150.0);
    assert!(report.quanta > 22_000);
}

#[test]
fn mic_output_stall_is_skipped_back_to_the_target() {
    // The interactive setting on PulseAudio: 85-frame input callbacks, a source node with
    // `min_target_ms` 0, rendered quantum by quantum. At 2 s the output stalls for 30 ms (an
    // output xrun) while the input keeps coming, which leaves 30 ms more in the ring: it must
    // be skipped back to the target within a second, not drained by the drift correction (at
    // most 5 ms a second), or every later sample plays 30 ms late.
    let (stream, slot) = MediaStream::new(48_000, 1);
    let latency = SourceLatency {
        min_target_ms: 0.0,
        ..SourceLatency::default()
    };
    let mut processor = MediaStreamSourceProcessor::new(Some(&stream), 48_000.0, latency);
    let stats = processor.stats().unwrap().clone();
    let (rate, callback, stall) = (48_000.0, 85usize, 2.0..2.030);
    let (mut t_in, mut t_out, mut delivered) = (0.0f64, 0.0f64, 0u64);
    let mut out = vec![[0.0f32; RENDER_QUANTUM]; 1];
    let fill_ms = |stats: &bevy_webaudio::microphone::ConsumerStats| {
        f64::from(stats.fill_frames()) * 1000.0 / rate
    };
    let mut before_stall = None;
    while t_out < 3.0 {
        if t_in <= t_out {
            slot.write(&sine(440.0, 0.5, rate, callback, delivered));
            delivered += callback as u64;
            t_in += callback as f64 / rate;
            continue;
        }
        if !stall.contains(&t_out) {
            processor.render(&mut out);
        }
        if before_stall.is_none() && t_out >= stall.start {
            before_stall = Some((fill_ms(&stats), stats.underruns()));
        }
        t_out += RENDER_QUANTUM as f64 / rate;
    }
    let (fill_before, underruns_before) = before_stall.unwrap();
    let target = processor.target_frames() * 1000.0 / rate;
    let fill_after = fill_ms(&stats);
    println!(
        "output stall: fill {fill_before:.2} ms before, {fill_after:.2} ms 1 s after, target \
         {target:.2} ms, {} frames skipped",
        stats.skipped()
    );
    assert!(
        target < 6.0,
        "the target stays at its least: {target:.2} ms"
    );
    assert!(
        fill_after < target + 3.0,
        "back near the target a second after the stall: {fill_after:.2} ms (target \
         {target:.2})"
    );
    assert!(
        (1_000..=1_800).contains(&stats.skipped()),
        "the stall's 1,440 frames (give or take the fill's ripple) were skipped: {}",
        stats.skipped()
    );
    assert_eq!(stats.underruns(), underruns_before, "no underrun from it");
}

#[test]
fn mic_capture_callback_and_source_node_never_allocate() {
    let (stream, slot) = MediaStream::new(48_000, 2);
    let mut processor =
        MediaStreamSourceProcessor::new(Some(&stream), 48_000.0, SourceLatency::default());
    let f32_buf = vec![0.25f32; 2 * 512];
    let i16_buf = vec![1000i16; 2 * 512];
    let u16_buf = vec![40_000u16; 2 * 9000]; // bigger than one conversion chunk
    let mut out = vec![[0.0f32; RENDER_QUANTUM]; 2];
    let mut taps = Vec::new();
    // Readers of another width: every frame converted in the callback, still no allocation.
    let mono = stream
        .try_connect_channels(ConsumerKind::Tap, 100_000, 1)
        .unwrap();
    let surround = stream
        .try_connect_channels(ConsumerKind::Tap, 100_000, 6)
        .unwrap();
    let before = alloc_counter::counts(alloc_counter::MICROPHONE_TEST);
    for round in 0..200 {
        // Control side: consumers come and go (allocated and freed here, not counted).
        if round % 3 == 0 {
            taps.push(stream.connect(ConsumerKind::Tap, 300));
        }
        if round % 5 == 0 && !taps.is_empty() {
            taps.remove(0);
        }
        stream.collect_garbage();
        // The "callback" and the "render thread", counted.
        alloc_counter::mark(alloc_counter::MICROPHONE_TEST);
        slot.write(&f32_buf);
        slot.write(&i16_buf);
        if round % 50 == 0 {
            slot.write(&u16_buf);
        }
        for _ in 0..4 {
            processor.render(&mut out);
        }
        alloc_counter::unmark();
    }
    let after = alloc_counter::counts(alloc_counter::MICROPHONE_TEST);
    let (allocs, frees) = (after.0 - before.0, after.1 - before.1);
    let stats = processor.stats().unwrap();
    println!(
        "capture + source node: {allocs} allocations / {frees} frees; node played {} frames, \
         dropped {}",
        stats.written(),
        stats.dropped()
    );
    assert_eq!((allocs, frees), (0, 0));
    assert!(stats.written() > 0);
    let fed = stream.captured_frames();
    assert_eq!(mono.stats().written() + mono.stats().dropped(), fed);
    assert_eq!(surround.stats().written(), 100_000);
}

/// Spawns a `MediaStreamAudioSourceNode` of the microphone into the destination and commits
/// it; returns the stream.
fn spawn_source_node(app: &mut App) -> MediaStream {
    let stream = app.world().resource::<Microphone>().stream().clone();
    let dest = app.world().resource::<AudioContext>().destination();
    app.world_mut()
        .commands()
        .spawn(MediaStreamAudioSourceNode::new(&stream))
        .connect(dest);
    app.update();
    stream
}

fn simulated_app() -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(48_000, 1),
        MicrophonePlugin::simulated(48_000, 1),
    ));
    app.update();
    app
}

#[test]
fn mic_simulated_input_reaches_the_resource_the_tap_and_the_graph() {
    let mut app = simulated_app();
    let input = app
        .world()
        .resource::<Microphone>()
        .simulated_input()
        .unwrap();
    let mut tap = app.world().resource::<Microphone>().tap(48_000);
    spawn_source_node(&mut app);
    let mut rendered = Vec::new();
    let mut fed = 0u64;
    // Voice messages live two updates: count them at every update from the start.
    let mut started = 0;
    let mut cursor = app
        .world()
        .resource::<Messages<VoiceStarted>>()
        .get_cursor();
    let mut update = |app: &mut App| {
        app.update();
        let messages = app.world().resource::<Messages<VoiceStarted>>();
        started += cursor.read(messages).count();
    };
    // 1 s of a −12 dBFS-RMS 220 Hz tone, fed in 10 ms callbacks, the graph rendering along.
    let amplitude = 10f64.powf(-12.0 / 20.0) * 2f64.sqrt();
    for k in 0..100 {
        input.write(&sine(220.0, amplitude, 48_000.0, 480, fed));
        fed += 480;
        rendered.extend(app.render(480).unwrap().remove(0));
        if k % 20 == 19 {
            // Faster than real time: let the worker (0.5 s ring) catch up now and then.
            let deadline = Instant::now() + Duration::from_secs(5);
            while app.world().resource::<Microphone>().analysis().frames + 2048 < fed
                && Instant::now() < deadline
            {
                update(&mut app);
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        update(&mut app);
        let mic = app.world().resource::<Microphone>();
        if mic.analysis().frames >= 47_000 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mic = app.world().resource::<Microphone>();
    println!(
        "resource: level {:.2} dBFS, pitch {:?} ({:.3}), voice {}, captured {}, consumers {:?}",
        mic.level_dbfs(),
        mic.pitch_hz(),
        mic.pitch_confidence(),
        mic.voice_active(),
        mic.captured_frames(),
        mic.consumers()
    );
    assert!((mic.level_dbfs() + 12.0).abs() < 0.5);
    assert!((mic.pitch_hz().unwrap() - 220.0).abs() < 1.0);
    assert!(mic.voice_active());
    assert_eq!(started, 1, "one VoiceStarted message");
    assert_eq!(mic.captured_frames(), 48_000);
    assert_eq!(mic.dropped_frames(), 0);
    assert_eq!(mic.consumers().len(), 3, "analysis, tap, source node");
    let mut recorded = vec![0.0f32; 48_000];
    assert_eq!(tap.read(&mut recorded), 48_000, "the tap has every frame");
    assert_eq!(
        recorded[..480],
        sine(220.0, amplitude, 48_000.0, 480, 0)[..]
    );
    let tail = &rendered[rendered.len() - 16_384..];
    let f = peak_frequency(tail, 48_000.0);
    println!("graph output: {f:.2} Hz");
    assert!((f - 220.0).abs() < 1.0);
}

#[test]
fn mic_source_node_spawned_before_the_device_opens_plays_once_it_does() {
    // The stream's provisional format (48 kHz mono, as before any device opened); the node
    // is spawned now, then the "device" opens as 44.1 kHz stereo.
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(48_000, 2),
        MicrophonePlugin {
            config: MicrophoneConfig {
                input: MicrophoneInput::Simulated {
                    sample_rate: 48_000,
                    channels: 1,
                },
                analysis: None,
                ..default()
            },
        },
    ));
    app.update();
    let stream = spawn_source_node(&mut app);
    let before = app.render(4800).unwrap();
    assert!(before.iter().flatten().all(|&x| x == 0.0), "no input yet");
    assert_eq!(stream.format_generation(), 0);
    app.world_mut()
        .resource_mut::<Microphone>()
        .reopen_simulated(44_100, 2)
        .unwrap();
    assert_eq!(stream.format_generation(), 1);
    app.update(); // the node follows the new format: a new processor and ring
    let input = app
        .world()
        .resource::<Microphone>()
        .simulated_input()
        .unwrap();
    // 1.5 s of 330 Hz (left) and 550 Hz (right) at 44.1 kHz in 10 ms callbacks.
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for k in 0..150u64 {
        let l = sine(330.0, 0.5, 44_100.0, 441, k * 441);
        let r = sine(550.0, 0.5, 44_100.0, 441, k * 441);
        let frames: Vec<f32> = l.iter().zip(&r).flat_map(|(&a, &b)| [a, b]).collect();
        input.write(&frames);
        let mut out = app.render(480).unwrap();
        right.extend(out.pop().unwrap());
        left.extend(out.pop().unwrap());
    }
    app.update();
    let (fl, fr) = (
        peak_frequency(&left[left.len() - 32_768..], 48_000.0),
        peak_frequency(&right[right.len() - 32_768..], 48_000.0),
    );
    let mic = app.world().resource::<Microphone>();
    let nodes: Vec<_> = mic
        .consumers()
        .iter()
        .filter(|c| c.kind == ConsumerKind::SourceNode)
        .collect();
    println!("after the device opened: left {fl:.2} Hz, right {fr:.2} Hz; {nodes:?}");
    assert!((fl - 330.0).abs() < 1.0, "left plays the microphone: {fl}");
    assert!((fr - 550.0).abs() < 1.0, "right plays the microphone: {fr}");
    let written: u64 = nodes.iter().map(|c| c.written).sum();
    let dropped: u64 = nodes.iter().map(|c| c.dropped).sum();
    assert_eq!(
        (written, dropped),
        (150 * 441, 0),
        "the rebuilt ring received every frame"
    );
    assert!(
        app.world_mut()
            .resource_mut::<Microphone>()
            .reopen_simulated(0, 2)
            .is_err(),
        "a zero rate is a typed error"
    );
}

#[test]
fn mic_latency_probe_finds_a_known_delay() {
    use bevy_webaudio::microphone::latency::{chirp, find_lag};
    // The correlation alone: the chirp buried at frame 2345 under noise at −20 dB.
    let reference = chirp(48_000.0);
    let mut rng = XorShift(7);
    let mut recorded: Vec<f32> = (0..24_000).map(|_| rng.range(-0.05, 0.05) as f32).collect();
    for (r, c) in recorded[2345..].iter_mut().zip(&reference) {
        *r += 0.3 * c;
    }
    let found = find_lag(&recorded, &reference, 48_000.0).unwrap();
    println!("chirp in noise: {found:?}");
    assert_eq!(found.frames, 2345);
    assert!(found.correlation > 0.9);
    let noise: Vec<f32> = (0..24_000).map(|_| rng.range(-0.5, 0.5) as f32).collect();
    assert!(matches!(
        find_lag(&noise, &reference, 48_000.0),
        Err(MicrophoneError::ProbeNotHeard(_))
    ));

    // End to end, offline: the graph's output is fed back into the simulated microphone
    // 20 ms (960 frames) later, in 10 ms callbacks. The probe measures that delay plus its
    // source ring's fill (what a MediaStreamAudioSourceNode adds).
    let mut app = simulated_app();
    let input = app
        .world()
        .resource::<Microphone>()
        .simulated_input()
        .unwrap();
    let dest = app.world().resource::<AudioContext>().destination();
    let probe = LatencyProbe::bundle(app.world().resource::<Microphone>().stream()).unwrap();
    let entity = app.world_mut().commands().spawn(probe).connect(dest).id();
    app.update();
    let mut line = std::collections::VecDeque::from(vec![0.0f32; 960]);
    for _ in 0..300 {
        line.extend(app.render(480).unwrap().remove(0));
        let callback: Vec<f32> = line.drain(..480).collect();
        input.write(&callback);
        app.update();
        if app.world().get_entity(entity).is_err() {
            break;
        }
    }
    let mic = app.world().resource::<Microphone>();
    let found = mic.measured_latency().cloned().expect("finished").unwrap();
    let fill = mic
        .consumers()
        .iter()
        .find(|c| c.kind == ConsumerKind::SourceNode);
    println!("offline loop, 20 ms delay: {found:?}; the probe's ring: {fill:?}");
    // Not bit-exact: the drift control stretches the chirp by its ratio (~0.15 % while the
    // fill settles) and the resampler low-passes it.
    assert!(found.correlation > 0.95, "a faithful copy");
    // 20 ms of line delay + the source ring: at least its 1.5-callback start target (15 ms
    // + a quantum), less than 20 ms more than that.
    assert!(
        (35.0..=55.0).contains(&found.latency_ms),
        "{} ms",
        found.latency_ms
    );
}

#[test]
fn mic_missing_device_reports_a_typed_error_and_the_game_runs() {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        MicrophonePlugin {
            config: MicrophoneConfig {
                input: MicrophoneInput::Device,
                device: Some("no such microphone".into()),
                ..default()
            },
        },
    ));
    for _ in 0..3 {
        app.update();
    }
    let mic = app.world().resource::<Microphone>();
    println!("status: {:?}", mic.status());
    assert!(matches!(
        mic.status(),
        MicrophoneStatus::Unavailable(MicrophoneError::NoDevice(_))
    ));
    assert_eq!(mic.level_dbfs(), MIN_DBFS);
    let messages = app.world().resource::<Messages<MicrophoneFault>>();
    let faults: Vec<_> = messages.get_cursor().read(messages).cloned().collect();
    assert_eq!(faults.len(), 1, "reported once: {faults:?}");
}

/// Part of `device::device_suite` (run before the test that restarts the sound server).
#[cfg(feature = "cpal")]
pub fn microphone_hears_the_output_through_the_loopback() {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin {
            backend: Backend::Cpal(AudioOutputConfig {
                latency: LatencyHint::Frames(1024),
                ..default()
            }),
            render_hooks: None,
        },
        MicrophonePlugin::default(),
    ));
    app.update();
    let mic = app.world().resource::<Microphone>();
    assert!(mic.is_available(), "{:?}", mic.status());
    println!("input: {:?}", mic.device());
    // Silence first, then the tone: the latency is the time from its start to its arrival.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(500) {
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    let quiet = app.world().resource::<Microphone>().level_dbfs();
    let dest = app.world().resource::<AudioContext>().destination();
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    osc.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let gain = c.spawn(GainNode::new(0.5)).connect(dest).id();
    c.spawn(osc).connect(gain);
    app.update(); // commits the tone
    let sent = Instant::now();
    let mut heard = None;
    let (mut pitches, mut levels) = (Vec::new(), Vec::new());
    while sent.elapsed() < Duration::from_secs(2) {
        app.update();
        let mic = app.world().resource::<Microphone>();
        if heard.is_none() && mic.level_dbfs() > -30.0 {
            heard = Some(sent.elapsed());
        }
        if sent.elapsed() > Duration::from_millis(500) {
            pitches.extend(mic.pitch_hz());
            levels.push(mic.level_dbfs());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mic = app.world().resource::<Microphone>();
    let pitch = pitches.iter().sum::<f32>() / pitches.len().max(1) as f32;
    let level = levels.iter().copied().fold(f32::MAX, f32::min);
    let captured = mic.captured_frames();
    println!(
        "loopback: quiet {quiet:.1} dBFS; pitch {pitch:.2} Hz over {} readings, lowest level \
         {level:.1} dBFS; tone heard {:?} after commit (±1 frame + window); captured {captured} \
         frames, callback {} frames, dropped {}, device xruns {}, consumers {:?}",
        pitches.len(),
        heard,
        mic.callback_frames(),
        mic.dropped_frames(),
        mic.device_xruns(),
        mic.consumers()
    );
    assert!(pitches.len() > 20, "pitch reported");
    assert!((pitch - 440.0).abs() < 2.0, "440 ± 2 Hz: {pitch}");
    assert!(level > -30.0, "level above −30 dBFS: {level}");
    assert_eq!(mic.dropped_frames(), 0, "zero dropped frames");
    let elapsed = settle.elapsed().as_secs_f64();
    assert!(
        (captured as f64) > 0.8 * elapsed * 48_000.0,
        "the input delivered about real time: {captured} in {elapsed:.2} s"
    );
    // The measured input→output latency: a probe's chirp out through the graph and back in
    // through the microphone, found by cross-correlation, three times.
    app.world_mut().entity_mut(gain).despawn();
    let latencies: Vec<_> = (0..3).map(|_| measure_latency(&mut app)).collect();
    let ms: Vec<f64> = latencies.iter().map(|m| m.latency_ms).collect();
    println!("measured input→output latency: {latencies:?}");
    for m in &latencies {
        // Measured 0.52–0.99: the drift control stretches the chirp by its ratio, and under
        // full CPU load a probe can catch an underrun mid-chirp; the lag stays consistent.
        assert!(
            m.correlation >= bevy_webaudio::microphone::latency::MIN_CORRELATION,
            "the chirp came back: {m:?}"
        );
        assert!(
            (5.0..=150.0).contains(&m.latency_ms),
            "a plausible latency: {m:?}"
        );
    }
    let spread =
        ms.iter().copied().fold(f64::MIN, f64::max) - ms.iter().copied().fold(f64::MAX, f64::min);
    assert!(spread < 30.0, "stable from run to run: {ms:?}");
}

/// Spawns a latency probe and waits for its result on the resource.
#[cfg(feature = "cpal")]
fn measure_latency(app: &mut App) -> LatencyMeasurement {
    let dest = app.world().resource::<AudioContext>().destination();
    let probe = LatencyProbe::bundle(app.world().resource::<Microphone>().stream()).unwrap();
    let before = app
        .world()
        .resource::<Microphone>()
        .measured_latency()
        .cloned();
    let entity = app.world_mut().commands().spawn(probe).connect(dest).id();
    let start = Instant::now();
    loop {
        app.update();
        let mic = app.world().resource::<Microphone>();
        if app.world().get_entity(entity).is_err() {
            let result = mic.measured_latency().cloned().expect("a result");
            assert_ne!(Some(result.clone()), before, "a new result");
            return result.expect("the chirp was heard");
        }
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "the probe finished: {:?}",
            mic.status()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Part of `device::device_suite`, after the sound server was restarted: the microphone's
/// server is killed (an unplugged device, for real) and started again.
#[cfg(feature = "cpal")]
pub fn microphone_recovers_when_the_sound_server_comes_back() {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, MicrophonePlugin::default()))
        .init_resource::<FaultLog>()
        .add_systems(Update, log_faults);
    let wait = |app: &mut App, limit: Duration, what: &str, done: &dyn Fn(&Microphone) -> bool| {
        let start = Instant::now();
        let mut updates = 0u64;
        loop {
            app.update();
            updates += 1;
            if done(app.world().resource::<Microphone>()) {
                return (start.elapsed(), updates);
            }
            assert!(start.elapsed() < limit, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait(&mut app, Duration::from_secs(5), "input", &|m| {
        m.is_available() && m.captured_frames() > 9600
    });
    let faults = |app: &App| app.world().resource::<FaultLog>().0.clone();
    assert!(faults(&app).is_empty());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pulse.sh");
    let pulse = |arg: &str| {
        let status = std::process::Command::new("bash")
            .args([script, arg])
            .status()
            .unwrap();
        assert!(status.success(), "pulse.sh {arg}");
    };
    pulse("stop");
    let (detected, _) = wait(&mut app, Duration::from_secs(8), "the fault", &|m| {
        m.error().is_some()
    });
    let error = app
        .world()
        .resource::<Microphone>()
        .error()
        .cloned()
        .unwrap();
    println!("microphone unplugged: {error} (detected after {detected:?})");
    assert!(matches!(
        error,
        MicrophoneError::StreamFailed(_) | MicrophoneError::Stalled(_)
    ));
    // The game keeps running through failed retries (every 2 s), reported once.
    let time_before = app.world().resource::<Time>().elapsed();
    let captured = app.world().resource::<Microphone>().captured_frames();
    let start = Instant::now();
    let mut updates = 0;
    while start.elapsed() < Duration::from_millis(4500) {
        app.update();
        updates += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    let mic = app.world().resource::<Microphone>();
    let advanced = app.world().resource::<Time>().elapsed() - time_before;
    let reported = faults(&app);
    println!(
        "during the outage: {updates} updates, game time +{advanced:?}, status {:?}, \
         faults {reported:?}",
        mic.status()
    );
    assert!(updates > 100 && advanced > Duration::from_secs(4));
    assert!(
        mic.error().is_some(),
        "still unavailable: {:?}",
        mic.status()
    );
    assert_eq!(mic.captured_frames(), captured, "no input while unplugged");
    assert_eq!(reported.len(), 1, "one fault for the outage: {reported:?}");
    // Plugged back: the retry opens it, and capture counts again.
    pulse("start");
    let (back, _) = wait(&mut app, Duration::from_secs(15), "the device back", &|m| {
        m.is_available() && m.captured_frames() > captured + 9600
    });
    let mic = app.world().resource::<Microphone>();
    println!(
        "microphone back after {back:?}: {:?}, captured {} (+{}), consumers {:?}",
        mic.device(),
        mic.captured_frames(),
        mic.captured_frames() - captured,
        mic.consumers()
    );
    assert_eq!(mic.dropped_frames(), 0);
    // The analysis worker's ring survived the outage and is fed again.
    let analysis = |m: &Microphone| {
        m.consumers()
            .iter()
            .find(|c| c.kind == ConsumerKind::Analysis)
            .map_or(0, |c| c.written)
    };
    let written = analysis(mic);
    wait(&mut app, Duration::from_secs(2), "analysis input", &|m| {
        analysis(m) > written + 4800
    });
    assert_eq!(faults(&app).len(), 1, "nothing more reported once back");
}

/// Every `MicrophoneFault` seen (messages live two updates; tests run hundreds).
#[cfg(feature = "cpal")]
#[derive(Resource, Default)]
struct FaultLog(Vec<MicrophoneError>);

#[cfg(feature = "cpal")]
fn log_faults(mut faults: MessageReader<MicrophoneFault>, mut log: ResMut<FaultLog>) {
    log.0.extend(faults.read().map(|f| f.0.clone()));
}
