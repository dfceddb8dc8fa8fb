//! Resampling decoded buffers to the context's rate (44.1 → 48 kHz and back: frequency kept,
//! aliasing and images below −80 dB, phase aligned), the background resample of a loaded
//! asset, and hot reload while playing (switch at a quantum boundary, no gap, the old samples
//! given back by the render side and dropped on the control side).

use std::sync::Arc;

use bevy::prelude::*;
use bevy_webaudio::asset::export::{WavFormat, wav_bytes};
use bevy_webaudio::asset::resample::PendingResamples;
use bevy_webaudio::prelude::*;
use realfft::RealFftPlanner;

use crate::asset_loader::{asset_app, temp_dir, wait_for_load};
use crate::support::*;

fn sine(frequency: f64, rate: f64, frames: usize, amplitude: f64) -> Vec<f32> {
    (0..frames)
        .map(|i| (amplitude * (std::f64::consts::TAU * frequency * i as f64 / rate).sin()) as f32)
        .collect()
}

/// Magnitudes in dB relative to the strongest bin, with a 4-term Blackman-Harris window
/// (sidelobes below −92 dB).
fn spectrum_db(signal: &[f32]) -> Vec<f64> {
    let n = signal.len();
    let mut input: Vec<f64> = signal
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let p = std::f64::consts::TAU * i as f64 / n as f64;
            let w =
                0.35875 - 0.48829 * p.cos() + 0.14128 * (2.0 * p).cos() - 0.01168 * (3.0 * p).cos();
            f64::from(x) * w
        })
        .collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut out = fft.make_output_vec();
    fft.process(&mut input, &mut out).unwrap();
    let max = out.iter().map(|c| c.norm()).fold(0.0, f64::max);
    out.iter()
        .map(|c| 20.0 * (c.norm() / max).log10())
        .collect()
}

/// (peak frequency, strongest other component in dB) of `signal` at `rate`, ignoring ±`guard`
/// Hz around the peak.
fn tone_and_spurs(signal: &[f32], rate: f64, guard: f64) -> (f64, f64) {
    let peak = peak_frequency(signal, rate);
    let db = spectrum_db(signal);
    let bin = rate / signal.len() as f64;
    let spur = db
        .iter()
        .enumerate()
        .filter(|&(k, _)| (k as f64 * bin - peak).abs() > guard)
        .map(|(_, &d)| d)
        .fold(f64::NEG_INFINITY, f64::max);
    (peak, spur)
}

#[test]
fn resampling_44k1_to_48k_keeps_1khz_with_aliasing_below_80_db() {
    let tone = sine(1000.0, 44_100.0, 44_100, 0.5);
    let buffer = AudioBuffer::decoded(vec![tone], 44_100.0).unwrap();
    let out = buffer.resampled(48_000.0).unwrap();
    assert_eq!(out.sample_rate(), 48_000.0);
    assert_eq!(out.file_sample_rate(), Some(44_100.0));
    assert_eq!(out.length(), 48_000, "ceil(44100 × 48000 / 44100)");
    let data = out.channel_data(0).unwrap();
    // The middle 32768 frames (away from the edges' filter transients).
    let middle = &data[7_616..7_616 + 32_768];
    let (peak, spur) = tone_and_spurs(middle, 48_000.0, 60.0);
    println!("44.1 -> 48 kHz: tone at {peak:.3} Hz, strongest alias or image {spur:.1} dB");
    // Parabolic peak interpolation on a Hann window is biased by up to ~2 % of a 1.46 Hz bin.
    assert!((peak - 1000.0).abs() < 0.05, "tone at {peak} Hz");
    assert!(spur < -80.0, "strongest alias or image at {spur:.1} dB");
    // Aligned in time: the output is the 1 kHz sine sampled at 48 kHz (filter delay removed).
    let ideal = sine(1000.0, 48_000.0, 48_000, 0.5);
    let error = data[1_000..47_000]
        .iter()
        .zip(&ideal[1_000..47_000])
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(error < 1e-3, "max error against the ideal sine {error}");
    println!("44.1→48 kHz: peak {peak:.4} Hz, spurs {spur:.1} dB, max error {error:.2e}");
}

/// The largest difference between `tone` taken from `from` to `to` Hz and the same sine
/// generated at `to` Hz, away from the edges' transients (the input starts and stops
/// abruptly; the 256-tap filter rings for 256 input frames around each edge).
fn misalignment(frequency: f64, from: f64, to: f64) -> f32 {
    let input = sine(frequency, from, from as usize, 0.5);
    let out = AudioBuffer::decoded(vec![input], from as f32)
        .unwrap()
        .resampled(to as f32)
        .unwrap();
    let data = out.channel_data(0).unwrap();
    let ideal = sine(frequency, to, data.len(), 0.5);
    let edge = (256.0 * to / from).ceil() as usize;
    data[edge..data.len() - edge]
        .iter()
        .zip(&ideal[edge..])
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()))
}

#[test]
fn resampled_buffers_are_aligned_with_their_input_at_common_rates() {
    for (from, to) in [
        (44_100.0, 48_000.0),
        (48_000.0, 44_100.0),
        (96_000.0, 44_100.0),
        (22_050.0, 48_000.0),
        (32_000.0, 48_000.0),
        (8_000.0, 48_000.0),
    ] {
        // The alignment is exact to rubato's table step, 1/256 input frame, at worst (whole-number
        // ratios such as 8 → 48 kHz; see `alignment` in src/asset/resample.rs): at 1 kHz and
        // amplitude 0.5 that is an error of 0.5 × 2π × 1000 / (256 × from), plus 2e-4 of passband
        // ripple. A shift of a whole output frame would be 30 to 400 times that.
        let bound = (0.5 * std::f64::consts::TAU * 1000.0 / (256.0 * from) + 2e-4) as f32;
        let error = misalignment(1000.0, from, to);
        println!(
            "{from} → {to} Hz: max error against the ideal 1 kHz sine {error:.2e} (bound {bound:.2e})"
        );
        assert!(error < bound, "{from} → {to} Hz: max error {error}");
    }
}

#[test]
fn an_impulse_keeps_its_time_through_resampling() {
    // A click at 10 ms (frame 441 at 44.1 kHz) must peak at 10 ms at 48 kHz: frame 480.
    let mut click = vec![0.0; 4_410];
    click[441] = 1.0;
    let out = AudioBuffer::decoded(vec![click], 44_100.0)
        .unwrap()
        .resampled(48_000.0)
        .unwrap();
    let data = out.channel_data(0).unwrap();
    let peak = (0..data.len())
        .max_by(|&a, &b| data[a].total_cmp(&data[b]))
        .unwrap();
    assert_eq!(peak, 480, "the click moved to frame {peak}");
    // An upsampler passes the input samples through at instants the two rates share; the
    // filter's cutoff below 22.05 kHz takes a few percent off a one-sample click.
    println!("click height after 44.1 → 48 kHz: {}", data[480]);
    assert!(data[480] > 0.9 && data[480] <= 1.0, "{}", data[480]);
}

#[test]
fn resampling_96k_to_44k1_keeps_1khz_and_rejects_content_above_nyquist() {
    // 1 kHz plus a 30 kHz tone that the new Nyquist (22.05 kHz) must remove, not fold to 14.1.
    let tone: Vec<f32> = sine(1000.0, 96_000.0, 96_000, 0.5)
        .iter()
        .zip(sine(30_000.0, 96_000.0, 96_000, 0.25))
        .map(|(a, b)| a + b)
        .collect();
    let buffer = AudioBuffer::decoded(vec![tone], 96_000.0).unwrap();
    let out = buffer.resampled(44_100.0).unwrap();
    assert_eq!(out.length(), 44_100);
    let data = out.channel_data(0).unwrap();
    let (peak, spur) = tone_and_spurs(&data[5_000..5_000 + 32_768], 44_100.0, 60.0);
    println!("96→44.1 kHz: peak {peak:.4} Hz, spurs {spur:.1} dB");
    assert!((peak - 1000.0).abs() < 0.01, "tone at {peak} Hz");
    assert!(spur < -80.0, "strongest alias at {spur:.1} dB");
}

/// Updates until no resample is pending and `id` is at `rate` (bounded wall time: the
/// resample runs on the async compute pool).
fn wait_for_resample(app: &mut App, handle: &Handle<AudioBuffer>, rate: f32) {
    for _ in 0..20_000 {
        app.update();
        let idle = app.world().resource::<PendingResamples>().is_empty();
        let at_rate = app
            .world()
            .resource::<Assets<AudioBuffer>>()
            .get(handle)
            .is_some_and(|b| b.sample_rate() == rate);
        if idle && at_rate {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the buffer was not resampled to {rate} Hz");
}

#[test]
fn a_loaded_44k1_file_is_resampled_once_to_the_context_rate_and_plays_at_1khz() {
    let dir = temp_dir("resample_asset");
    let tone = sine(1000.0, 44_100.0, 22_050, 0.5);
    std::fs::write(
        dir.join("tone.wav"),
        wav_bytes(&[tone], 44_100, WavFormat::Float32).unwrap(),
    )
    .unwrap();
    let mut app = asset_app(&dir, 48_000);
    let handle: Handle<AudioBuffer> = app.world().resource::<AssetServer>().load("tone.wav");
    wait_for_load(&mut app, &handle);
    wait_for_resample(&mut app, &handle, 48_000.0);
    let buffer = app
        .world()
        .resource::<Assets<AudioBuffer>>()
        .get(&handle)
        .unwrap();
    assert_eq!(buffer.length(), 24_000);
    assert_eq!(buffer.file_sample_rate(), Some(44_100.0));
    let mut source = AudioBufferSourceNode::new(handle);
    source.start(0.0).unwrap();
    let dest = destination(&app);
    app.world_mut().commands().spawn(source).connect(dest);
    app.update();
    let out = app.render(16_384).unwrap().remove(0);
    let frequency = peak_frequency(&out, 48_000.0);
    assert!((frequency - 1000.0).abs() < 0.05, "{frequency} Hz");
}

#[test]
fn hot_reload_while_playing_switches_at_a_quantum_boundary_without_a_gap() {
    let dir = temp_dir("hot_reload");
    let constant = |v: f32| wav_bytes(&[vec![v; 4_800]], 48_000, WavFormat::Int16).unwrap();
    std::fs::write(dir.join("loop.wav"), constant(0.5)).unwrap();
    let mut app = asset_app(&dir, 48_000);
    let server = app.world().resource::<AssetServer>().clone();
    let handle: Handle<AudioBuffer> = server.load("loop.wav");
    wait_for_load(&mut app, &handle);
    let old = app
        .world()
        .resource::<Assets<AudioBuffer>>()
        .get(&handle)
        .unwrap()
        .shared_channels();
    let mut source = AudioBufferSourceNode::new(handle.clone());
    source.looping = true;
    source.start(0.0).unwrap();
    let dest = destination(&app);
    app.world_mut().commands().spawn(source).connect(dest);
    app.update();
    let before = app.render(1_024).unwrap().remove(0);
    assert!(before.iter().all(|&v| v == 0.5), "plays the first version");

    // Rewrite the file and reload it (what the file watcher does), while playing.
    std::fs::write(dir.join("loop.wav"), constant(0.25)).unwrap();
    server.reload("loop.wav");
    for _ in 0..10_000 {
        app.update();
        let now = app.world().resource::<Assets<AudioBuffer>>().get(&handle);
        if now.is_some_and(|b| b.channel_data(0).unwrap()[0] == 0.25) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    app.update();
    let after = app.render(1_024).unwrap().remove(0);
    assert_eq!(
        after.iter().filter(|&&v| v != 0.25).count(),
        0,
        "the new data from the first frame of the next quantum, no silent gap"
    );
    // The render side gave the old samples back; the control side dropped them.
    app.update();
    app.update();
    assert_eq!(
        Arc::strong_count(&old),
        1,
        "only the test still holds the old samples"
    );
}
