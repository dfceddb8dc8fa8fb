//! DelayNode: an exact sample offset, fractional delays, a feedback loop through a delay
//! decaying as computed, the spec's one-quantum minimum inside a cycle, a cycle without a
//! delay muted, and the read position's precision following `delayTime`'s automation rate.

use bevy_webaudio::prelude::*;

use crate::reference::add_buffer;
use crate::support::*;

/// A one-quantum pulse: 1.0 for frames 0..n.
fn pulse(frames: usize) -> ConstantSourceNode {
    let mut c = ConstantSourceNode::new(1.0);
    c.start(0.0)
        .unwrap()
        .stop(frames as f64 / 48_000.0)
        .unwrap();
    c
}

#[test]
fn delay_shifts_by_an_exact_number_of_samples() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let delay = DelayNode::with_delay(1.0, 300.0 / 48_000.0).unwrap();
    let d = app.world_mut().commands().spawn(delay).connect(dest).id();
    app.world_mut().commands().spawn(pulse(10)).connect(d);
    app.update();
    let out = app.render(512).unwrap().remove(0);
    for (n, &v) in out.iter().enumerate() {
        // delayTime is a float: 300/48000 rounds to 299.99999 frames, hence the 1e-5.
        let expected = if (300..310).contains(&n) { 1.0 } else { 0.0 };
        assert!((v - expected).abs() < 1e-5, "frame {n}: {v}");
    }
}

#[test]
fn fractional_delay_interpolates_linearly() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let delay = DelayNode::with_delay(1.0, 100.25 / 48_000.0).unwrap();
    let d = app.world_mut().commands().spawn(delay).connect(dest).id();
    app.world_mut().commands().spawn(pulse(1)).connect(d);
    app.update();
    let out = app.render(256).unwrap().remove(0);
    // x[n - 100.25] between x[n-101] (weight 0.25) and x[n-100] (weight 0.75).
    assert!((out[100] - 0.75).abs() < 1e-4, "{}", out[100]);
    assert!((out[101] - 0.25).abs() < 1e-4, "{}", out[101]);
    assert!(out[102].abs() < 1e-6 && out[99].abs() < 1e-6);
}

#[test]
fn zero_delay_outside_a_cycle_passes_through() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let d = app
        .world_mut()
        .commands()
        .spawn(DelayNode::default())
        .connect(dest)
        .id();
    app.world_mut().commands().spawn(pulse(3)).connect(d);
    app.update();
    let out = app.render(128).unwrap().remove(0);
    assert_eq!(&out[..4], &[1.0, 1.0, 1.0, 0.0]);
}

/// ```text
/// pulse → gain(1) → destination
///            ↑   ↓
///      fb(0.6) ← delay(600 frames)
/// ```
#[test]
fn feedback_loop_decays_as_computed() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let delay = DelayNode::with_delay(1.0, 600.0 / 48_000.0).unwrap();
    let (sum, d, fb) = {
        let mut c = app.world_mut().commands();
        let sum = c.spawn(GainNode::new(1.0)).connect(dest).id();
        let d = c.spawn(delay).id();
        let fb = c.spawn(GainNode::new(0.6)).id();
        (sum, d, fb)
    };
    {
        let mut c = app.world_mut().commands();
        c.entity(sum).connect(d);
        c.entity(d).connect(fb);
        c.entity(fb).connect(sum);
        c.spawn(pulse(5)).connect(sum);
    }
    app.update();
    let out = app.render(4096).unwrap().remove(0);
    // Echo k arrives at 600k frames with gain 0.6^k (the spec: no extra quantum in the loop).
    for k in 0..6 {
        let expected = 0.6f32.powi(k);
        let echo = 600 * k as usize;
        for (n, v) in out.iter().enumerate().skip(echo).take(5) {
            assert!((v - expected).abs() < 1e-5, "echo {k}, frame {n}: {v}");
        }
        // (delayTime as f32 is 599.99999 frames: a 1e-5 sliver leaks into the next frame)
        let gap = 600 * k as usize + 6..600 * (k as usize + 1);
        assert!(
            out[gap].iter().all(|v| v.abs() < 1e-6),
            "silence between echoes {k}"
        );
    }
}

#[test]
fn a_delay_in_a_cycle_is_at_least_one_quantum() {
    // Asked for 10 frames inside a loop: the spec clamps to 128.
    let mut app = offline_app(1);
    let dest = destination(&app);
    let delay = DelayNode::with_delay(1.0, 10.0 / 48_000.0).unwrap();
    let (sum, d) = {
        let mut c = app.world_mut().commands();
        let sum = c.spawn(GainNode::new(1.0)).connect(dest).id();
        let d = c.spawn(delay).id();
        (sum, d)
    };
    {
        let mut c = app.world_mut().commands();
        c.entity(sum).connect(d);
        let fb = c.spawn(GainNode::new(0.5)).connect(sum).id();
        c.entity(d).connect(fb);
        c.spawn(pulse(1)).connect(sum);
    }
    app.update();
    let out = app.render(512).unwrap().remove(0);
    assert_eq!(out[0], 1.0);
    assert!(out[1..128].iter().all(|&v| v == 0.0));
    assert_eq!(out[128], 0.5);
    assert_eq!(out[256], 0.25);
}

#[test]
fn a_cycle_without_a_delay_is_muted() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let (a, b) = {
        let mut c = app.world_mut().commands();
        let a = c.spawn(GainNode::new(0.5)).id();
        let b = c.spawn(GainNode::new(0.5)).id();
        (a, b)
    };
    {
        let mut c = app.world_mut().commands();
        c.entity(a).connect(b);
        c.entity(b).connect(a);
        c.entity(b).connect(dest);
        let mut input = ConstantSourceNode::new(1.0);
        input.start(0.0).unwrap();
        c.spawn(input).connect(a);
        // Something outside the cycle still plays.
        let mut other = ConstantSourceNode::new(0.125);
        other.start(0.0).unwrap();
        c.spawn(other).connect(dest);
    }
    app.update();
    let out = app.render(256).unwrap().remove(0);
    assert!(
        out.iter().all(|&v| v == 0.125),
        "cycle muted, the rest plays: {}",
        out[0]
    );
    // Breaking the cycle brings it back.
    let edge = app.world().get::<AudioOutputs>(b).unwrap().edges().to_vec();
    for e in edge {
        if app.world().get::<ConnectionTo>(e).map(|t| t.0) == Some(a) {
            app.world_mut().despawn(e);
        }
    }
    app.update();
    let out = app.render(1).unwrap().remove(0);
    assert_eq!(out[0], 0.125 + 0.25);
}

#[test]
fn delay_errors() {
    assert!(matches!(
        DelayNode::new(0.0),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        DelayNode::new(180.0),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        DelayNode::new(f64::NAN),
        Err(WebAudioError::NotSupported(_))
    ));
    // delayTime is clamped to maxDelayTime.
    let d = DelayNode::with_delay(0.5, 2.0).unwrap();
    assert_eq!(d.delay_time.max_value(), 0.5);
}

/// Frame 40000 of `1, −1, 1, −1, …` through a 0.01-frame delay in a 1 s delay line (a ring of
/// 48128 frames, so frame 40000 is written at index 40000): `x[n−1] + f · (x[n] − x[n−1])`
/// = `−1 + 2f`. An a-rate `delayTime` computes the position in f32, as browsers do:
/// `40000 + (48128 − 0.01)` rounds to `…127.984375`, `f` = 0.984375. A k-rate one computes it
/// in f64: `f` = 0.99. `switch_at` sets k-rate after that many frames (0: at spawn).
fn alternating_through_a_tiny_delay(rate: AutomationRate, switch_at: usize) -> f32 {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let handle = add_buffer(&mut app, vec![vec![1.0, -1.0]], 48_000.0);
    let mut source = AudioBufferSourceNode::new(handle);
    source.looping = true;
    source.start(0.0).unwrap();
    let mut delay = DelayNode::with_delay(1.0, 0.01 / 48_000.0).unwrap();
    if switch_at == 0 {
        delay.delay_time.set_automation_rate(rate).unwrap();
    }
    let d = app.world_mut().commands().spawn(delay).connect(dest).id();
    app.world_mut().commands().spawn(source).connect(d);
    app.update();
    let mut out = Vec::new();
    if switch_at > 0 {
        out = app.render(switch_at).unwrap().remove(0);
        let mut node = app.world_mut().get_mut::<DelayNode>(d).unwrap();
        node.delay_time.set_automation_rate(rate).unwrap();
        app.update();
    }
    out.extend(app.render(40_064 - out.len()).unwrap().remove(0));
    out[40_000]
}

#[test]
fn the_read_position_precision_follows_the_automation_rate() {
    let a_rate = alternating_through_a_tiny_delay(AutomationRate::ARate, 0);
    assert_eq!(a_rate, -1.0 + 2.0 * 0.984_375);
    let k_rate = alternating_through_a_tiny_delay(AutomationRate::KRate, 0);
    assert!((k_rate - 0.98).abs() < 1e-6, "{k_rate}");
    // Changed while running: the processor hears of it.
    let switched = alternating_through_a_tiny_delay(AutomationRate::KRate, 1280);
    assert!((switched - 0.98).abs() < 1e-6, "{switched}");
}
