//! Channel up/down-mixing exactly as the spec's equations, computed channel counts per
//! channelCountMode, fan-in sums, and the StereoPannerNode's equal-power law.

use bevy_webaudio::engine::render::bus::AudioBus;
use bevy_webaudio::engine::render::mix::{computed_number_of_channels, mix_into};
use bevy_webaudio::node::{ChannelConfig, ChannelCountMode, ChannelInterpretation};
use bevy_webaudio::prelude::*;

use crate::support::*;

const S: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Mixes a bus holding `input` (one constant per channel) into `out` channels.
fn mix(input: &[f32], out: usize, interpretation: ChannelInterpretation) -> Vec<f32> {
    let mut src = AudioBus::with_capacity(input.len());
    src.set_channels(input.len());
    for (c, &v) in input.iter().enumerate() {
        src.channel_mut(c).fill(v);
    }
    let mut dst = AudioBus::with_capacity(out);
    dst.make_silent(out);
    mix_into(&mut dst, &src, interpretation);
    (0..out).map(|c| dst.channel(c)[77]).collect()
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
    }
}

#[test]
fn speaker_up_mixing() {
    use ChannelInterpretation::Speakers as Sp;
    close(&mix(&[0.5], 2, Sp), &[0.5, 0.5]);
    close(&mix(&[0.5], 4, Sp), &[0.5, 0.5, 0.0, 0.0]);
    close(&mix(&[0.5], 6, Sp), &[0.0, 0.0, 0.5, 0.0, 0.0, 0.0]);
    close(&mix(&[0.1, 0.2], 4, Sp), &[0.1, 0.2, 0.0, 0.0]);
    close(&mix(&[0.1, 0.2], 6, Sp), &[0.1, 0.2, 0.0, 0.0, 0.0, 0.0]);
    close(
        &mix(&[0.1, 0.2, 0.3, 0.4], 6, Sp),
        &[0.1, 0.2, 0.0, 0.0, 0.3, 0.4],
    );
}

#[test]
fn speaker_down_mixing() {
    use ChannelInterpretation::Speakers as Sp;
    let (l, r, c, lfe, sl, sr) = (0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6);
    close(&mix(&[l, r], 1, Sp), &[0.5 * (l + r)]);
    close(&mix(&[l, r, sl, sr], 1, Sp), &[0.25 * (l + r + sl + sr)]);
    close(
        &mix(&[l, r, c, lfe, sl, sr], 1, Sp),
        &[S * (l + r) + c + 0.5 * (sl + sr)],
    );
    close(
        &mix(&[l, r, sl, sr], 2, Sp),
        &[0.5 * (l + sl), 0.5 * (r + sr)],
    );
    close(
        &mix(&[l, r, c, lfe, sl, sr], 2, Sp),
        &[l + S * (c + sl), r + S * (c + sr)],
    );
    close(
        &mix(&[l, r, c, lfe, sl, sr], 4, Sp),
        &[l + S * c, r + S * c, sl, sr],
    );
}

#[test]
fn discrete_and_non_speaker_layouts() {
    use ChannelInterpretation::{Discrete as D, Speakers as Sp};
    close(&mix(&[0.5], 2, D), &[0.5, 0.0]);
    close(&mix(&[0.1, 0.2, 0.3], 1, D), &[0.1]);
    // 3 channels is not a speaker layout: speakers falls back to discrete.
    close(&mix(&[0.1, 0.2, 0.3], 2, Sp), &[0.1, 0.2]);
    close(&mix(&[0.1, 0.2], 3, Sp), &[0.1, 0.2, 0.0]);
}

#[test]
fn computed_number_of_channels_per_mode() {
    let cfg = |count, mode| ChannelConfig::new(count, mode, ChannelInterpretation::Speakers);
    assert_eq!(
        computed_number_of_channels(&cfg(2, ChannelCountMode::Max), 6),
        6
    );
    assert_eq!(
        computed_number_of_channels(&cfg(2, ChannelCountMode::ClampedMax), 6),
        2
    );
    assert_eq!(
        computed_number_of_channels(&cfg(2, ChannelCountMode::ClampedMax), 1),
        1
    );
    assert_eq!(
        computed_number_of_channels(&cfg(4, ChannelCountMode::Explicit), 1),
        4
    );
    assert_eq!(
        computed_number_of_channels(&cfg(2, ChannelCountMode::Max), 0),
        1
    );
    assert!(cfg(0, ChannelCountMode::Max).validate().is_err());
    assert!(cfg(33, ChannelCountMode::Max).validate().is_err());
}

fn constant(value: f32) -> ConstantSourceNode {
    let mut c = ConstantSourceNode::new(value);
    c.start(0.0).unwrap();
    c
}

#[test]
fn fan_in_sums_and_the_destination_up_mixes() {
    // Two mono sources into a stereo destination (speakers): L = R = sum.
    let mut app = offline_app(2);
    let dest = destination(&app);
    app.world_mut()
        .commands()
        .spawn(constant(0.25))
        .connect(dest);
    app.world_mut()
        .commands()
        .spawn(constant(0.5))
        .connect(dest);
    app.update();
    let out = app.render(256).unwrap();
    assert!(out[0].iter().chain(&out[1]).all(|&v| v == 0.75));
    // Discrete destination: only the left channel.
    let mut app = offline_app(2);
    let dest = destination(&app);
    app.world_mut().entity_mut(dest).insert(ChannelConfig::new(
        2,
        ChannelCountMode::Explicit,
        ChannelInterpretation::Discrete,
    ));
    app.world_mut()
        .commands()
        .spawn(constant(0.25))
        .connect(dest);
    app.update();
    let out = app.render(128).unwrap();
    assert!(out[0].iter().all(|&v| v == 0.25) && out[1].iter().all(|&v| v == 0.0));
    // 5.1 destination: mono goes to the centre channel.
    let mut app = offline_app(6);
    let dest = destination(&app);
    app.world_mut()
        .commands()
        .spawn(constant(0.5))
        .connect(dest);
    app.update();
    let out = app.render(128).unwrap();
    for (c, channel) in out.iter().enumerate() {
        let expected = if c == 2 { 0.5 } else { 0.0 };
        assert!(channel.iter().all(|&v| v == expected), "channel {c}");
    }
}

#[test]
fn stereo_panner_equal_power() {
    for pan in [-1.0f32, -0.5, 0.0, 0.3, 1.0] {
        let mut app = offline_app(2);
        let dest = destination(&app);
        let panner = app
            .world_mut()
            .commands()
            .spawn(StereoPannerNode::new(pan))
            .connect(dest)
            .id();
        app.world_mut()
            .commands()
            .spawn(constant(0.8))
            .connect(panner);
        app.update();
        let out = app.render(128).unwrap();
        let x = (pan + 1.0) / 2.0;
        let (gl, gr) = (
            (x * std::f32::consts::FRAC_PI_2).cos(),
            (x * std::f32::consts::FRAC_PI_2).sin(),
        );
        assert!(
            (out[0][5] - 0.8 * gl).abs() < 1e-6,
            "pan {pan}: L {}",
            out[0][5]
        );
        assert!(
            (out[1][5] - 0.8 * gr).abs() < 1e-6,
            "pan {pan}: R {}",
            out[1][5]
        );
    }
    // Stereo input, pan -0.5: L = inL + inR cos(x pi/2), R = inR sin(x pi/2), x = pan + 1.
    let mut app = offline_app(2);
    let dest = destination(&app);
    let panner = app
        .world_mut()
        .commands()
        .spawn(StereoPannerNode::new(-0.5))
        .connect(dest)
        .id();
    // A stereo signal: a mono 0.4 up-mixed to stereo by a 2-channel explicit gain.
    let wide = app
        .world_mut()
        .spawn((
            GainNode::new(1.0),
            ChannelConfig::new(
                2,
                ChannelCountMode::Explicit,
                ChannelInterpretation::Speakers,
            ),
        ))
        .id();
    app.world_mut().commands().entity(wide).connect(panner);
    app.world_mut()
        .commands()
        .spawn(constant(0.4))
        .connect(wide);
    app.update();
    let out = app.render(128).unwrap();
    let x = 0.5f32 * std::f32::consts::FRAC_PI_2;
    assert!((out[0][9] - (0.4 + 0.4 * x.cos())).abs() < 1e-6);
    assert!((out[1][9] - 0.4 * x.sin()).abs() < 1e-6);
    assert!(
        StereoPannerNode::validate_channels(&ChannelConfig::new(
            3,
            ChannelCountMode::ClampedMax,
            ChannelInterpretation::Speakers
        ))
        .is_err()
    );
}
