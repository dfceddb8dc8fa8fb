//! PannerNode and AudioListener: the spec's formulas at exact samples, errors, and the
//! Chromium conformance cases.

use std::f64::consts::FRAC_PI_2;

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::reference::{self, add_buffer, error_db, frames, noise};
use crate::support::*;

/// Renders `frames` of a constant 1.0 (mono) through `panner` (stereo app), with an optional
/// listener entity.
fn render_constant(
    panner: PannerNode,
    listener: Option<AudioListener>,
    frames: usize,
) -> Vec<Vec<f32>> {
    let mut app = offline_app(2);
    let dest = destination(&app);
    if let Some(l) = listener {
        app.world_mut().spawn(l);
    }
    let mut src = ConstantSourceNode::new(1.0);
    src.start(0.0).unwrap();
    let p = app.world_mut().commands().spawn(panner).connect(dest).id();
    app.world_mut().commands().spawn(src).connect(p);
    app.update();
    app.render(frames).unwrap()
}

fn mono_gains(azimuth_deg: f64) -> (f64, f64) {
    let x = (azimuth_deg + 90.0) / 180.0;
    ((x * FRAC_PI_2).cos(), (x * FRAC_PI_2).sin())
}

fn close(a: f32, b: f64, what: &str) {
    assert!(
        (f64::from(a) - b).abs() < 1e-6,
        "{what}: got {a}, expected {b}"
    );
}

#[test]
fn equal_power_gains_match_the_spec_at_five_azimuths() {
    for az in [-90.0f64, -45.0, 0.0, 45.0, 90.0] {
        // Distance 1 = refDistance: distance gain 1. Spec azimuth: +90 = listener's right (+X).
        let (x, z) = (az.to_radians().sin(), -az.to_radians().cos());
        let panner = PannerNode::default().with_position(x as f32, 0.0, z as f32);
        let out = render_constant(panner, None, 256);
        let (gl, gr) = mono_gains(az);
        for i in [0, 127, 255] {
            close(out[0][i], gl, &format!("L at {az}°"));
            close(out[1][i], gr, &format!("R at {az}°"));
        }
    }
}

#[test]
fn behind_folds_onto_the_front() {
    // Azimuth 135° (behind, right) pans like 45°.
    let a = 135f64.to_radians();
    let panner = PannerNode::default().with_position(a.sin() as f32, 0.0, -a.cos() as f32);
    let out = render_constant(panner, None, 128);
    let (gl, gr) = mono_gains(45.0);
    close(out[0][64], gl, "L");
    close(out[1][64], gr, "R");
}

/// `distanceGain(d, dref, dmax, rolloff)` as the spec writes it.
type Formula = fn(f64, f64, f64, f64) -> f64;

#[test]
fn each_distance_model_matches_its_formula() {
    let c = std::f64::consts::FRAC_1_SQRT_2; // equal-power gain straight ahead
    let cases: [(DistanceModel, f64, f64, f64, Formula); 3] = [
        (DistanceModel::Linear, 2.0, 20.0, 0.8, |d, r, m, f| {
            1.0 - f * (d.clamp(r, m) - r) / (m - r)
        }),
        (DistanceModel::Inverse, 2.0, 20.0, 1.5, |d, r, _, f| {
            r / (r + f * (d.max(r) - r))
        }),
        (DistanceModel::Exponential, 2.0, 20.0, 1.5, |d, r, _, f| {
            (d.max(r) / r).powf(-f)
        }),
    ];
    for (model, r, m, f, formula) in cases {
        for d in [0.5, 2.0, 3.0, 7.5, 19.0, 40.0] {
            let mut panner = PannerNode::default().with_position(0.0, 0.0, -d as f32);
            panner
                .set_distance_model(model)
                .set_ref_distance(r)
                .unwrap()
                .set_max_distance(m)
                .unwrap()
                .set_rolloff_factor(f)
                .unwrap();
            let out = render_constant(panner, None, 128);
            let expected = c * formula(d, r, m, f);
            close(out[0][100], expected, &format!("{model:?} at {d}"));
            close(out[1][100], expected, &format!("{model:?} at {d}"));
        }
    }
}

#[test]
fn distance_model_edge_cases() {
    // Linear clamps the rolloff to 1; refDistance 0 silences inverse and exponential.
    let mut p = PannerNode::default().with_position(0.0, 0.0, -5.0);
    p.set_distance_model(DistanceModel::Linear)
        .set_rolloff_factor(3.0)
        .unwrap()
        .set_max_distance(9.0)
        .unwrap();
    let out = render_constant(p, None, 128);
    let expected = std::f64::consts::FRAC_1_SQRT_2 * (1.0 - (5.0 - 1.0) / (9.0 - 1.0));
    close(out[0][0], expected, "linear, rolloff clamped");
    for model in [DistanceModel::Inverse, DistanceModel::Exponential] {
        let mut p = PannerNode::default().with_position(0.0, 0.0, -5.0);
        p.set_distance_model(model).set_ref_distance(0.0).unwrap();
        let out = render_constant(p, None, 128);
        close(out[0][0], 0.0, "refDistance 0");
    }
}

#[test]
fn cone_gain_inside_between_and_outside() {
    // Source 2 m ahead of the listener; inner 60°, outer 180°, outer gain 0.25.
    // The orientation's angle from the source→listener direction (+Z) sets the cone gain.
    for (angle, expected) in [
        (0.0f64, 1.0),
        (25.0, 1.0),
        (60.0, 1.0 - 0.5 + 0.25 * 0.5), // halfway between 30° and 90°
        (90.0, 0.25),
        (180.0, 0.25),
    ] {
        let a = angle.to_radians();
        let mut p = PannerNode::default()
            .with_position(0.0, 0.0, -2.0)
            .with_orientation(a.sin() as f32, 0.0, a.cos() as f32);
        p.set_ref_distance(2.0)
            .unwrap()
            .set_cone_inner_angle(60.0)
            .unwrap()
            .set_cone_outer_angle(180.0)
            .unwrap()
            .set_cone_outer_gain(0.25)
            .unwrap();
        let out = render_constant(p, None, 128);
        close(
            out[0][10],
            std::f64::consts::FRAC_1_SQRT_2 * expected,
            &format!("cone at {angle}°"),
        );
    }
}

#[test]
fn attribute_errors_are_the_spec_s() {
    let mut p = PannerNode::default();
    assert!(matches!(
        p.set_ref_distance(-1.0),
        Err(WebAudioError::Range(_))
    ));
    assert!(p.set_ref_distance(0.0).is_ok());
    assert!(matches!(
        p.set_max_distance(0.0),
        Err(WebAudioError::Range(_))
    ));
    assert!(matches!(
        p.set_max_distance(-3.0),
        Err(WebAudioError::Range(_))
    ));
    assert!(matches!(
        p.set_rolloff_factor(-0.1),
        Err(WebAudioError::Range(_))
    ));
    assert!(matches!(
        p.set_cone_outer_gain(1.5),
        Err(WebAudioError::InvalidState(_))
    ));
    assert!(matches!(
        p.set_cone_outer_gain(-0.1),
        Err(WebAudioError::InvalidState(_))
    ));
    assert!(p.set_cone_outer_gain(1.0).is_ok());
    use ChannelCountMode as M;
    let cfg = |n, m| ChannelConfig::new(n, m, ChannelInterpretation::Speakers);
    assert!(matches!(
        PannerNode::validate_channels(&cfg(3, M::ClampedMax)),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        PannerNode::validate_channels(&cfg(2, M::Max)),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(PannerNode::validate_channels(&cfg(1, M::Explicit)).is_ok());
}

#[test]
fn invalid_channel_config_is_reported() {
    let mut app = offline_app(2);
    let e = app
        .world_mut()
        .spawn((
            PannerNode::default(),
            ChannelConfig::new(2, ChannelCountMode::Max, ChannelInterpretation::Speakers),
        ))
        .id();
    app.update();
    let messages = app.world().resource::<Messages<AudioGraphError>>();
    let mut cursor = messages.get_cursor();
    let errors: Vec<_> = cursor.read(messages).collect();
    assert!(
        errors
            .iter()
            .any(|m| m.entity == e && matches!(m.error, WebAudioError::NotSupported(_))),
        "{errors:?}"
    );
}

#[test]
fn a_rate_position_is_evaluated_per_sample() {
    // positionX ramps from −1 to 1 over 128 frames at z = −1: gains follow the spec per frame.
    let mut p = PannerNode::default().with_position(-1.0, 0.0, -1.0);
    p.set_ref_distance(10.0).unwrap(); // no distance attenuation
    let t = 128.0 / f64::from(SR);
    p.position_x
        .set_value_at_time(-1.0, 0.0)
        .unwrap()
        .linear_ramp_to_value_at_time(1.0, t)
        .unwrap();
    let out = render_constant(p, None, 128);
    for i in [0usize, 31, 64, 100, 127] {
        let x = -1.0 + 2.0 * i as f64 / 128.0;
        let az = x.atan2(1.0).to_degrees();
        let (gl, gr) = mono_gains(az);
        assert!((f64::from(out[0][i]) - gl).abs() < 1e-5, "L[{i}]");
        assert!((f64::from(out[1][i]) - gr).abs() < 1e-5, "R[{i}]");
    }
}

#[test]
fn listener_position_and_orientation_are_used() {
    // Listener at (10, 0, 0) looking along +X (forward), up +Y; source at (10, 0, 1):
    // +Z is the listener's right (forward × up = +X × +Y = +Z), so the source is at +90°.
    let mut listener = AudioListener::default();
    listener.set_position(10.0, 0.0, 0.0).unwrap();
    listener
        .set_orientation(1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
        .unwrap();
    let p = PannerNode::default().with_position(10.0, 0.0, 1.0);
    let out = render_constant(p, Some(listener), 128);
    close(out[0][5], 0.0, "L");
    close(out[1][5], 1.0, "R");
}

#[test]
fn listener_automation_is_a_rate() {
    // The listener walks from x = 1 to x = −1 past a source at (0, 0, −1) in one quantum.
    let mut listener = AudioListener::default();
    let t = 128.0 / f64::from(SR);
    listener
        .position_x
        .set_value_at_time(1.0, 0.0)
        .unwrap()
        .linear_ramp_to_value_at_time(-1.0, t)
        .unwrap();
    let mut p = PannerNode::default().with_position(0.0, 0.0, -1.0);
    p.set_ref_distance(10.0).unwrap();
    let out = render_constant(p, Some(listener), 256);
    for i in [0usize, 40, 64, 127] {
        let lx = 1.0 - 2.0 * i as f64 / 128.0;
        let az = (-lx).atan2(1.0).to_degrees();
        let (gl, gr) = mono_gains(az);
        assert!((f64::from(out[0][i]) - gl).abs() < 1e-5, "L[{i}]");
        assert!((f64::from(out[1][i]) - gr).abs() < 1e-5, "R[{i}]");
    }
    // After the ramp the listener holds at x = −1: the source is 45° to its right.
    let (gl, gr) = mono_gains(45.0);
    close(out[0][200], gl, "L held");
    close(out[1][200], gr, "R held");
}

#[test]
fn a_second_listener_is_ignored() {
    let mut app = offline_app(2);
    let dest = destination(&app);
    let mut first = AudioListener::default();
    first.set_orientation(1.0, 0.0, 0.0, 0.0, 1.0, 0.0).unwrap(); // looking +X
    app.world_mut().spawn(first);
    app.update();
    let second = app.world_mut().spawn(AudioListener::default()).id(); // looking −Z
    let mut src = ConstantSourceNode::new(1.0);
    src.start(0.0).unwrap();
    let p = app
        .world_mut()
        .commands()
        .spawn(PannerNode::default().with_position(0.0, 0.0, 1.0))
        .connect(dest)
        .id();
    app.world_mut().commands().spawn(src).connect(p);
    app.update();
    let out = app.render(128).unwrap();
    // Seen from the first listener (+Z is its right) the source is hard right.
    close(out[0][10], 0.0, "L");
    close(out[1][10], 1.0, "R");
    let _ = second;
}

fn conformance(name: &str, out: &[Vec<f32>], limit: f64) -> Option<f64> {
    let reference = reference::load(name, 2)?;
    let e = error_db(out, &reference);
    println!("{name}: {e:.1} dB (limit {limit})");
    assert!(e <= limit, "{name}: error {e:.1} dB > {limit} dB");
    Some(e)
}

#[test]
fn conf_panner_equalpower_moving() {
    let mut app = offline_app(2);
    let dest = destination(&app);
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    osc.start(0.0).unwrap();
    let mut p = PannerNode::new(PanningModel::EqualPower).with_position(-5.0, 0.0, -1.0);
    p.set_distance_model(DistanceModel::Inverse);
    p.position_x
        .set_value_at_time(-5.0, 0.0)
        .unwrap()
        .linear_ramp_to_value_at_time(5.0, 0.5)
        .unwrap();
    p.position_z
        .set_value_at_time(-1.0, 0.0)
        .unwrap()
        .linear_ramp_to_value_at_time(-3.0, 0.5)
        .unwrap();
    let p = app.world_mut().commands().spawn(p).connect(dest).id();
    app.world_mut().commands().spawn(osc).connect(p);
    app.update();
    let out = app.render(24_000).unwrap();
    conformance("conf_panner_equalpower_moving", &out, -80.0);
}

#[test]
fn conf_panner_equalpower_stereo_input() {
    let mut app = offline_app(2);
    let dest = destination(&app);
    let handle = add_buffer(&mut app, noise(5, 2, frames(0.5, 48_000.0), 0.5), 48_000.0);
    let mut src = AudioBufferSourceNode::new(handle);
    src.start(0.0).unwrap();
    let mut p = PannerNode::new(PanningModel::EqualPower).with_position(3.0, 0.0, -1.0);
    p.position_x
        .set_value_at_time(3.0, 0.0)
        .unwrap()
        .linear_ramp_to_value_at_time(-3.0, 0.5)
        .unwrap();
    let p = app.world_mut().commands().spawn(p).connect(dest).id();
    app.world_mut().commands().spawn(src).connect(p);
    app.update();
    let out = app.render(24_000).unwrap();
    conformance("conf_panner_equalpower_stereo_input", &out, -80.0);
}
