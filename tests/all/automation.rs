//! AudioParam automation: each method's values at exact sample indices against the spec's
//! formulas, the special cases the spec defines, and every error case. A ConstantSourceNode's
//! `offset` goes straight to a mono destination, so the output is the param's value.

use bevy_webaudio::prelude::*;

use crate::support::*;

const FS: f64 = 48_000.0;

fn t(frame: usize) -> f64 {
    frame as f64 / FS
}

/// Renders `frames` frames of a constant source whose offset `automate` configures.
fn render_offset(initial: f32, automate: impl FnOnce(&mut AudioParam), frames: usize) -> Vec<f32> {
    let mut source = ConstantSourceNode::new(initial);
    source.start(0.0).unwrap();
    automate(&mut source.offset);
    render_node(source, frames)
}

fn assert_close(actual: f32, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (f64::from(actual) - expected).abs() <= tolerance,
        "{what}: {actual} vs {expected}"
    );
}

#[test]
fn set_value_at_time_is_sample_accurate() {
    let out = render_offset(
        0.0,
        |p| {
            p.set_value_at_time(0.5, t(100)).unwrap();
            p.set_value_at_time(-0.25, t(300)).unwrap();
        },
        512,
    );
    assert!(out[..100].iter().all(|&v| v == 0.0));
    assert!(out[100..300].iter().all(|&v| v == 0.5));
    assert!(out[300..].iter().all(|&v| v == -0.25));
}

#[test]
fn linear_ramp_follows_the_formula() {
    let (t0, t1, v0, v1) = (t(64), t(1064), 0.2, 1.4);
    let out = render_offset(
        0.0,
        |p| {
            p.set_value_at_time(v0 as f32, t0).unwrap();
            p.linear_ramp_to_value_at_time(v1 as f32, t1).unwrap();
        },
        2048,
    );
    // The values come from the browsers' f32 arithmetic (groups of four frames from an f32
    // slope, then f32 increments, as Chromium computes them; the delay-line conformance cases
    // need it bit for bit), which drifts up to a few tens of ulps from the exact formula over
    // a long ramp: 2e-5 is -95 dB of this ramp's 1.2 span, and a wrong slope, start or end
    // frame is off by 1e-3 or more.
    for (n, &v) in out.iter().enumerate().skip(64) {
        let tt = t(n);
        let expected = if tt < t1 {
            v0 + (v1 - v0) * (tt - t0) / (t1 - t0)
        } else {
            v1
        };
        assert_close(v, expected, 2e-5, &format!("frame {n}"));
    }
}

#[test]
fn exponential_ramp_follows_the_formula() {
    let (t0, t1, v0, v1) = (t(0), t(2000), 0.01f64, 1.0f64);
    let out = render_offset(
        0.0,
        |p| {
            p.set_value_at_time(v0 as f32, t0).unwrap();
            p.exponential_ramp_to_value_at_time(v1 as f32, t1).unwrap();
        },
        2560,
    );
    for (n, &v) in out.iter().enumerate() {
        let tt = t(n);
        let expected = if tt < t1 {
            v0 * (v1 / v0).powf((tt - t0) / (t1 - t0))
        } else {
            v1
        };
        assert_close(
            v,
            expected,
            1e-6 * expected.max(1e-3),
            &format!("frame {n}"),
        );
    }
}

#[test]
fn exponential_ramp_across_a_sign_change_or_from_zero_holds_v0() {
    let out = render_offset(
        0.0,
        |p| {
            p.set_value_at_time(-1.0, 0.0).unwrap();
            p.exponential_ramp_to_value_at_time(1.0, t(1000)).unwrap();
        },
        1200,
    );
    assert!(out[..1000].iter().all(|&v| v == -1.0), "holds V0 until T1");
    assert!(out[1000..].iter().all(|&v| v == 1.0), "then V1");
    let out = render_offset(
        0.0,
        |p| {
            p.set_value_at_time(0.0, 0.0).unwrap();
            p.exponential_ramp_to_value_at_time(0.5, t(700)).unwrap();
        },
        800,
    );
    assert!(out[..700].iter().all(|&v| v == 0.0));
    assert!(out[700..].iter().all(|&v| v == 0.5));
}

#[test]
fn set_target_follows_the_formula() {
    let (t0, tau, v0, v1) = (t(256), 0.005, 1.0f64, 0.25f64);
    let out = render_offset(
        1.0,
        |p| {
            p.set_target_at_time(v1 as f32, t0, tau).unwrap();
        },
        4096,
    );
    assert!(out[..256].iter().all(|&v| v == 1.0));
    for (n, &v) in out.iter().enumerate().skip(256) {
        let expected = v1 + (v0 - v1) * (-(t(n) - t0) / tau).exp();
        assert_close(v, expected, 1e-6, &format!("frame {n}"));
    }
    // A time constant of 0 jumps to the target.
    let out = render_offset(
        1.0,
        |p| {
            p.set_target_at_time(0.3, t(10), 0.0).unwrap();
        },
        128,
    );
    assert!(out[..10].iter().all(|&v| v == 1.0));
    assert!(out[10..].iter().all(|&v| v == 0.3));
}

#[test]
fn linear_ramp_after_set_target_starts_from_its_value() {
    // Spec: a ramp after a SetTarget that has not started replaces it, from the value just
    // before it: T0 = the SetTarget's start, V0 = the value then.
    let out = render_offset(
        0.0,
        |p| {
            p.set_value_at_time(0.5, 0.0).unwrap();
            p.set_target_at_time(1.0, t(100), 0.01).unwrap();
            p.linear_ramp_to_value_at_time(1.5, t(300)).unwrap();
        },
        400,
    );
    assert!(out[..100].iter().all(|&v| v == 0.5));
    for (n, &v) in out.iter().enumerate().take(300).skip(100) {
        let expected = 0.5 + (1.5 - 0.5) * (t(n) - t(100)) / (t(300) - t(100));
        assert_close(v, expected, 1e-6, &format!("frame {n}"));
    }
}

#[test]
fn value_curve_interpolates_and_holds_its_last_value() {
    let curve = [0.0f32, 1.0, -1.0, 0.5];
    let (t0, duration) = (t(128), t(300));
    let out = render_offset(
        0.25,
        |p| {
            p.set_value_curve_at_time(&curve, t0, duration).unwrap();
        },
        640,
    );
    assert!(out[..128].iter().all(|&v| v == 0.25));
    for (n, &v) in out.iter().enumerate().skip(128) {
        let tt = t(n);
        let expected = if tt >= t0 + duration {
            0.5
        } else {
            let pos = 3.0 / duration * (tt - t0);
            let k = pos.floor() as usize;
            let (a, b) = (f64::from(curve[k]), f64::from(curve[k + 1]));
            a + (b - a) * (pos - k as f64)
        };
        assert_close(v, expected, 1e-6, &format!("frame {n}"));
    }
}

#[test]
fn cancel_scheduled_values_removes_later_events() {
    let out = render_offset(
        0.0,
        |p| {
            p.set_value_at_time(1.0, t(0)).unwrap();
            p.linear_ramp_to_value_at_time(2.0, t(1000)).unwrap();
            p.set_value_at_time(3.0, t(1200)).unwrap();
            p.cancel_scheduled_values(t(500)).unwrap();
        },
        1400,
    );
    // The ramp (time 1000 >= 500) and the set (1200) are gone: the value stays 1.
    assert!(out.iter().all(|&v| v == 1.0));
}

#[test]
fn cancel_and_hold_freezes_a_ramp() {
    let out = render_offset(
        0.0,
        |p| {
            p.set_value_at_time(0.0, 0.0).unwrap();
            p.linear_ramp_to_value_at_time(1.0, t(1000)).unwrap();
            p.cancel_and_hold_at_time(t(400)).unwrap();
        },
        1200,
    );
    for (n, &v) in out.iter().enumerate() {
        let expected = t(n.min(400)) / t(1000);
        assert_close(v, expected, 1e-6, &format!("frame {n}"));
    }
}

#[test]
fn ramp_without_prior_event_starts_now_from_the_intrinsic_value() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(0.5);
    source.start(0.0).unwrap();
    let id = app.world_mut().commands().spawn(source).connect(dest).id();
    app.update();
    app.render(256).unwrap();
    // Called at t = 256 frames: the ramp runs from (256, 0.5) to (512, 1.5).
    app.world_mut()
        .get_mut::<ConstantSourceNode>(id)
        .unwrap()
        .offset
        .linear_ramp_to_value_at_time(1.5, t(512))
        .unwrap();
    app.update();
    let out = app.render(384).unwrap().remove(0);
    for (i, &v) in out.iter().enumerate() {
        let n = 256 + i;
        let expected = if n < 512 {
            0.5 + (n as f64 - 256.0) / 256.0
        } else {
            1.5
        };
        assert_close(v, expected, 1e-6, &format!("frame {n}"));
    }
}

#[test]
fn k_rate_holds_one_value_per_quantum() {
    let out = render_offset(
        0.0,
        |p| {
            p.set_automation_rate(AutomationRate::KRate).unwrap();
            p.set_value_at_time(0.0, 0.0).unwrap();
            p.linear_ramp_to_value_at_time(1.0, t(1024)).unwrap();
        },
        1024,
    );
    for (q, block) in out.chunks(128).enumerate() {
        let expected = (q * 128) as f64 / 1024.0;
        for &v in block {
            assert_close(v, expected, 1e-6, &format!("quantum {q}"));
        }
    }
}

#[test]
fn audio_rate_input_adds_to_the_param_and_the_sum_is_clamped() {
    // A constant 0.75 into a StereoPannerNode's pan (range -1..1) on top of 0.5 → clamped 1:
    // a mono input is then fully right (gainL = cos(pi/2) = 0).
    let mut app = offline_app(2);
    let dest = destination(&app);
    let mut signal = ConstantSourceNode::new(1.0);
    signal.start(0.0).unwrap();
    let mut modulator = ConstantSourceNode::new(0.75);
    modulator.start(0.0).unwrap();
    {
        let mut commands = app.world_mut().commands();
        let panner = commands
            .spawn(StereoPannerNode::new(0.5))
            .connect(dest)
            .id();
        commands.spawn(signal).connect(panner);
        commands
            .spawn(modulator)
            .connect_param(panner, ParamId::Pan);
    }
    app.update();
    let out = app.render(128).unwrap();
    assert!(out[0].iter().all(|&v| v.abs() < 1e-7), "left {}", out[0][0]);
    assert!(
        out[1].iter().all(|&v| (v - 1.0).abs() < 1e-7),
        "right {}",
        out[1][0]
    );
}

#[test]
fn every_error_case() {
    let mut p = GainNode::default().gain;
    let range =
        |r: Result<&mut AudioParam, WebAudioError>| matches!(r, Err(WebAudioError::Range(_)));
    assert!(range(p.set_value_at_time(f32::NAN, 0.0)));
    assert!(range(p.set_value_at_time(1.0, -1.0)));
    assert!(range(p.set_value_at_time(1.0, f64::INFINITY)));
    assert!(range(p.linear_ramp_to_value_at_time(f32::INFINITY, 1.0)));
    assert!(range(p.linear_ramp_to_value_at_time(1.0, -0.5)));
    assert!(range(p.exponential_ramp_to_value_at_time(0.0, 1.0)));
    assert!(range(p.exponential_ramp_to_value_at_time(1.0, f64::NAN)));
    assert!(range(p.set_target_at_time(1.0, -1.0, 0.1)));
    assert!(range(p.set_target_at_time(1.0, 1.0, -0.1)));
    assert!(range(p.set_value_curve_at_time(&[0.0, 1.0], 1.0, 0.0)));
    assert!(range(p.set_value_curve_at_time(&[0.0, f32::NAN], 1.0, 1.0)));
    assert!(range(p.cancel_scheduled_values(-1.0)));
    assert!(range(p.cancel_and_hold_at_time(f64::NAN)));
    assert!(range(p.set_value(f32::NAN)));
    assert!(matches!(
        p.set_value_curve_at_time(&[1.0], 0.0, 1.0),
        Err(WebAudioError::InvalidState(_))
    ));
    // Overlapping value curves, and events inside a curve: NotSupportedError.
    p.set_value_curve_at_time(&[0.0, 1.0], 1.0, 1.0).unwrap();
    assert!(matches!(
        p.set_value_curve_at_time(&[0.0, 1.0], 1.5, 1.0),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        p.set_value_at_time(0.3, 1.2),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        p.set_value_curve_at_time(&[0.0, 1.0], 0.5, 1.0),
        Err(WebAudioError::NotSupported(_))
    ));
    // At the curve's end is fine; so is a curve starting exactly at another event.
    p.set_value_at_time(0.3, 2.0).unwrap();
    p.set_value_curve_at_time(&[0.0, 1.0], 2.0, 1.0).unwrap();
    // Fixed rates (e.g. a compressor's) refuse a-rate; free ones accept.
    assert!(p.set_automation_rate(AutomationRate::KRate).is_ok());
}

#[test]
fn a_failed_call_schedules_nothing() {
    let out = render_offset(
        0.5,
        |p| {
            assert!(p.set_value_at_time(1.0, -1.0).is_err());
            assert!(p.exponential_ramp_to_value_at_time(0.0, t(10)).is_err());
        },
        256,
    );
    assert!(out.iter().all(|&v| v == 0.5));
}
