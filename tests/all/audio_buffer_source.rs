//! AudioBufferSourceNode: exact samples at rate 1, sub-sample start, pitch at rate 2, loop
//! points, offset/duration, late-loaded buffers, errors, and Chromium's conformance renders.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::reference::{self, add_buffer, error_db, frames, noise, sine};
use crate::support::*;

/// Renders one source straight into a `channels`-channel destination.
fn play(
    channels: u16,
    buffer: Vec<Vec<f32>>,
    buffer_rate: f32,
    setup: impl FnOnce(&mut AudioBufferSourceNode),
    len: usize,
) -> Vec<Vec<f32>> {
    let mut app = offline_app(channels);
    let dest = destination(&app);
    let handle = add_buffer(&mut app, buffer, buffer_rate);
    let mut node = AudioBufferSourceNode::new(handle);
    setup(&mut node);
    app.world_mut().commands().spawn(node).connect(dest);
    app.update();
    app.render(len).unwrap()
}

fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 + 1.0).collect()
}

#[test]
fn rate_1_plays_the_exact_samples_then_ends() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let handle = add_buffer(&mut app, vec![ramp(300)], 48_000.0);
    let mut node = AudioBufferSourceNode::new(handle);
    node.start(0.0).unwrap();
    let entity = app.world_mut().commands().spawn(node).connect(dest).id();
    app.update();
    let out = app.render(512).unwrap().remove(0);
    assert_eq!(&out[..300], &ramp(300)[..]);
    assert!(out[300..].iter().all(|&v| v == 0.0));
    app.update();
    let ended: Vec<Ended> = app
        .world_mut()
        .resource_mut::<Messages<Ended>>()
        .drain()
        .collect();
    assert_eq!(ended, vec![Ended { entity }], "'ended' once");
}

#[test]
fn start_is_sub_sample_accurate() {
    // when = 100.25 frames: the first frame is 101, where the playhead is 0.75 frames in.
    let out = play(
        1,
        vec![ramp(64)],
        48_000.0,
        |n| {
            n.start(100.25 / 48_000.0).unwrap();
        },
        256,
    )
    .remove(0);
    assert!(out[..101].iter().all(|&v| v == 0.0));
    for k in 0..62 {
        let expected = 1.75 + k as f32;
        assert!(
            (out[101 + k] - expected).abs() < 1e-5,
            "frame {}: {} vs {expected}",
            101 + k,
            out[101 + k]
        );
    }
    // The last frame (63.75) extrapolates from the last two, as Blink does: 64.75.
    assert!((out[164] - 64.75).abs() < 1e-5, "{}", out[164]);
    assert!(out[165..].iter().all(|&v| v == 0.0));
}

#[test]
fn rate_2_doubles_the_pitch_and_detune_composes() {
    let buffer = sine(&[440.0], 0.5, 48_000.0, 96_000);
    let out = play(
        1,
        buffer.clone(),
        48_000.0,
        |n| {
            n.playback_rate.set_value(2.0).unwrap();
            n.start(0.0).unwrap();
        },
        48_000,
    )
    .remove(0);
    let f = zero_crossing_frequency(&out, 48_000.0);
    assert!((f - 880.0).abs() < 0.05, "rate 2: {f} Hz");
    // playbackRate 0.5 and detune +1200 cents: computedPlaybackRate 1.
    let out = play(
        1,
        buffer,
        48_000.0,
        |n| {
            n.playback_rate.set_value(0.5).unwrap();
            n.detune.set_value(1200.0).unwrap();
            n.start(0.0).unwrap();
        },
        48_000,
    )
    .remove(0);
    let f = zero_crossing_frequency(&out, 48_000.0);
    assert!((f - 440.0).abs() < 0.05, "rate 0.5 × 2^(1200/1200): {f} Hz");
}

#[test]
fn a_buffer_at_another_rate_is_resampled() {
    // A 441 Hz sine at 44.1 kHz stays 441 Hz in a 48 kHz context.
    let buffer = sine(&[441.0], 0.5, 44_100.0, 44_100);
    let out = play(
        1,
        buffer,
        44_100.0,
        |n| {
            n.start(0.0).unwrap();
        },
        24_000,
    )
    .remove(0);
    let f = zero_crossing_frequency(&out, 48_000.0);
    assert!((f - 441.0).abs() < 0.05, "{f} Hz");
}

#[test]
fn loop_points_are_sample_exact() {
    // Loop frames 10..20 of 1, 2, 3, ...: 1..=20, then 11..=20 forever.
    let out = play(
        1,
        vec![ramp(100)],
        48_000.0,
        |n| {
            n.looping = true;
            n.loop_start = 10.0 / 48_000.0;
            n.loop_end = 20.0 / 48_000.0;
            n.start(0.0).unwrap();
        },
        256,
    )
    .remove(0);
    for (i, &v) in out.iter().enumerate() {
        let expected = if i < 20 { i + 1 } else { 11 + (i - 20) % 10 } as f32;
        assert_eq!(v, expected, "frame {i}");
    }
    // Invalid loop points (start ≥ end) loop the whole buffer.
    let out = play(
        1,
        vec![ramp(50)],
        48_000.0,
        |n| {
            n.looping = true;
            n.loop_start = 30.0 / 48_000.0;
            n.loop_end = 20.0 / 48_000.0;
            n.start(0.0).unwrap();
        },
        128,
    )
    .remove(0);
    for (i, &v) in out.iter().enumerate() {
        assert_eq!(v, (i % 50 + 1) as f32, "frame {i}");
    }
}

/// The spec's playhead for a buffer looped whole from frame 0, frame by frame: linear
/// interpolation with the frame after the last one wrapping to frame 0.
fn looped_reference(channel: &[f32], step: f64, frames: usize) -> Vec<f32> {
    let n = channel.len();
    let mut position = 0.0f64;
    (0..frames)
        .map(|_| {
            if position >= n as f64 {
                position %= n as f64;
            }
            let i0 = position as usize;
            let frac = position - i0 as f64;
            let (s0, s1) = (f64::from(channel[i0]), f64::from(channel[(i0 + 1) % n]));
            let v = if frac == 0.0 {
                s0
            } else {
                (1.0 - frac) * s0 + frac * s1
            };
            position += step;
            v as f32
        })
        .collect()
}

#[test]
fn long_looped_playback_matches_the_frame_by_frame_reference() {
    // Several seconds and many loop wraps: the whole-frame copies (rate 1) and the runs of
    // interpolated frames away from the buffer's edges give exactly the per-frame values.
    let frames = 3 * 48_000;
    for (rate, buffer_frames) in [(38_000.0f32, 10_007), (48_000.0, 10_007), (44_100.0, 4_410)] {
        let buffer = noise(7, 2, buffer_frames, 0.5);
        let out = play(
            2,
            buffer.clone(),
            rate,
            |n| {
                n.looping = true;
                n.start(0.0).unwrap();
            },
            frames,
        );
        let step = f64::from(rate) / 48_000.0;
        for (c, (got, data)) in out.iter().zip(&buffer).enumerate() {
            let expected = looped_reference(data, step, frames);
            let first = got.iter().zip(&expected).position(|(a, b)| a != b);
            assert_eq!(first, None, "{rate} Hz buffer, channel {c}: first mismatch");
        }
    }
    // Loop points on whole frames at rate 1: frames 0..960, then 480..960 again and again.
    let buffer = noise(9, 1, 2_000, 0.5);
    let out = play(
        1,
        buffer.clone(),
        48_000.0,
        |n| {
            n.looping = true;
            n.loop_start = 0.01;
            n.loop_end = 0.02;
            n.start(0.0).unwrap();
        },
        48_000,
    )
    .remove(0);
    for (i, &v) in out.iter().enumerate() {
        let j = if i < 960 { i } else { 480 + (i - 960) % 480 };
        assert_eq!(v, buffer[0][j], "frame {i}");
    }
}

#[test]
fn offset_duration_and_stop() {
    // offset 10 frames, duration 20 frames: samples 11..=30, then silence.
    let out = play(
        1,
        vec![ramp(100)],
        48_000.0,
        |n| {
            n.start_with(0.0, 10.0 / 48_000.0, Some(20.0 / 48_000.0))
                .unwrap();
        },
        128,
    )
    .remove(0);
    for (i, &v) in out.iter().enumerate() {
        let expected = if i < 20 { (i + 11) as f32 } else { 0.0 };
        assert_eq!(v, expected, "frame {i}");
    }
    // A looping source with a duration plays `duration` of buffer content across loops.
    let out = play(
        1,
        vec![ramp(10)],
        48_000.0,
        |n| {
            n.looping = true;
            n.start_with(0.0, 0.0, Some(25.0 / 48_000.0)).unwrap();
        },
        128,
    )
    .remove(0);
    for (i, &v) in out.iter().enumerate() {
        let expected = if i < 25 { (i % 10 + 1) as f32 } else { 0.0 };
        assert_eq!(v, expected, "frame {i}");
    }
    // stop(when) ends at ceil(when × sr), even while looping.
    let out = play(
        1,
        vec![ramp(10)],
        48_000.0,
        |n| {
            n.looping = true;
            n.start(0.0).unwrap().stop(77.5 / 48_000.0).unwrap();
        },
        128,
    )
    .remove(0);
    assert_eq!(out[77], 8.0);
    assert!(out[78..].iter().all(|&v| v == 0.0));
}

#[test]
fn stereo_buffer_gives_a_stereo_output() {
    let out = play(
        2,
        vec![vec![0.25; 64], vec![-0.5; 64]],
        48_000.0,
        |n| {
            n.start(0.0).unwrap();
        },
        128,
    );
    assert!(out[0][..64].iter().all(|&v| v == 0.25));
    assert!(out[1][..64].iter().all(|&v| v == -0.5));
}

#[test]
fn a_buffer_loaded_after_the_node_is_sent_when_it_arrives() {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        bevy::asset::AssetPlugin::default(),
        WebAudioPlugin::offline(48_000, 1),
    ));
    app.update();
    let dest = destination(&app);
    let handle = app
        .world()
        .resource::<Assets<AudioBuffer>>()
        .reserve_handle();
    let mut node = AudioBufferSourceNode::new(handle.clone());
    node.start(0.0).unwrap();
    app.world_mut().commands().spawn(node).connect(dest);
    app.update();
    let out = app.render(128).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 0.0), "silent while loading");
    let buffer = AudioBuffer::from_samples(vec![ramp(64)], 48_000.0).unwrap();
    app.world_mut()
        .resource_mut::<Assets<AudioBuffer>>()
        .insert(handle.id(), buffer)
        .unwrap();
    app.update();
    let out = app.render(128).unwrap().remove(0);
    assert_eq!(
        &out[..64],
        &ramp(64)[..],
        "plays from the offset once loaded"
    );
    assert!(out[64..].iter().all(|&v| v == 0.0));
}

#[test]
fn errors() {
    let mut n = AudioBufferSourceNode::default();
    assert!(matches!(
        n.playback_rate.set_automation_rate(AutomationRate::ARate),
        Err(WebAudioError::InvalidState(_))
    ));
    assert!(matches!(
        n.detune.set_automation_rate(AutomationRate::ARate),
        Err(WebAudioError::InvalidState(_))
    ));
    assert!(n.detune.set_automation_rate(AutomationRate::KRate).is_ok());
    assert!(matches!(
        n.start_with(0.0, -1.0, None),
        Err(WebAudioError::Range(_))
    ));
    assert!(matches!(
        n.start_with(0.0, 0.0, Some(-1.0)),
        Err(WebAudioError::Range(_))
    ));
    assert!(matches!(
        n.start_with(-1.0, 0.0, None),
        Err(WebAudioError::Range(_))
    ));
    assert!(matches!(n.stop(0.0), Err(WebAudioError::InvalidState(_))));
    n.start(0.0).unwrap();
    assert!(matches!(n.start(0.0), Err(WebAudioError::InvalidState(_))));
    n.set_buffer(Handle::default()).unwrap();
    assert!(matches!(
        n.set_buffer(Handle::default()),
        Err(WebAudioError::InvalidState(_))
    ));
}

// --- Chromium's renders (tests/conformance) --------------------------------------------------

fn conformance(name: &str, channels: usize, out: &[Vec<f32>], limit: f64) {
    let Some(reference) = reference::load(name, channels) else {
        return;
    };
    let e = error_db(out, &reference);
    println!("{name}: {e:.1} dB (limit {limit})");
    assert!(e <= limit, "{name}: error {e:.1} dB > {limit} dB");
}

#[test]
fn conf_abs_playback_rate() {
    let buffer = sine(&[441.0], 0.8, 44_100.0, frames(1.0, 44_100.0));
    let out = play(
        1,
        buffer,
        44_100.0,
        |n| {
            n.playback_rate
                .set_value_at_time(0.5, 0.0)
                .unwrap()
                .linear_ramp_to_value_at_time(2.0, 0.5)
                .unwrap();
            n.start(0.0).unwrap();
        },
        24_000,
    );
    conformance("conf_abs_playback_rate", 1, &out, -70.0);
}

#[test]
fn conf_abs_detune() {
    let buffer = sine(&[500.0, 750.0], 0.7, 48_000.0, 48_000);
    let out = play(
        2,
        buffer,
        48_000.0,
        |n| {
            n.detune = AudioParam::with_value(n.detune.descriptor(), 700.0);
            n.detune
                .set_value_at_time(700.0, 0.096)
                .unwrap()
                .linear_ramp_to_value_at_time(-1200.0, 0.45)
                .unwrap();
            n.start(0.0).unwrap();
        },
        24_000,
    );
    conformance("conf_abs_detune", 2, &out, -70.0);
}

#[test]
fn conf_abs_loop_points() {
    let buffer = noise(15, 1, frames(0.1, 48_000.0), 1.0);
    let out = play(
        1,
        buffer,
        48_000.0,
        |n| {
            n.looping = true;
            n.loop_start = 0.01;
            n.loop_end = 0.0305;
            n.start_with(0.0, 0.02, None).unwrap();
        },
        24_000,
    );
    conformance("conf_abs_loop_points", 1, &out, -80.0);
}

#[test]
fn conf_abs_start_offset_duration() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let noise = add_buffer(&mut app, noise(16, 1, 24_000, 0.5), 48_000.0);
    let sine = add_buffer(&mut app, sine(&[250.0], 0.5, 48_000.0, 24_000), 48_000.0);
    let mut a = AudioBufferSourceNode::new(noise);
    a.start_with(0.0503, 0.1, Some(0.2)).unwrap();
    let mut b = AudioBufferSourceNode::new(sine);
    b.start(0.0).unwrap().stop(0.1234).unwrap();
    app.world_mut().commands().spawn(a).connect(dest);
    app.world_mut().commands().spawn(b).connect(dest);
    app.update();
    let out = app.render(24_000).unwrap();
    conformance("conf_abs_start_offset_duration", 1, &out, -80.0);
}
