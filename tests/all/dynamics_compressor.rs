//! DynamicsCompressorNode: steady-state gain against the static curve, attack and release
//! times, the look-ahead, `reduction` read from the ECS, channel rules, and Chromium's render.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::reference::{self, add_buffer, error_db, frames, noise};
use crate::support::*;

/// The pre-delay at 48 kHz: 6 ms.
const LOOK_AHEAD: usize = 288;

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// source ─▶ compressor ─▶ destination; returns (output, compressor entity, app).
fn compress<S: Bundle>(
    source: S,
    compressor: DynamicsCompressorNode,
    len: usize,
) -> (Vec<f32>, Entity, App) {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut c = app.world_mut().commands();
    let comp = c.spawn(compressor).connect(dest).id();
    c.spawn(source).connect(comp);
    app.update();
    let out = app.render(len).unwrap().remove(0);
    (out, comp, app)
}

/// oscillator (`frequency`) ─▶ gain (`amplitude`) ─▶ compressor ─▶ destination.
fn compress_sine(
    frequency: f32,
    amplitude: f32,
    compressor: DynamicsCompressorNode,
    len: usize,
) -> (Vec<f32>, Entity, App) {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut osc = OscillatorNode::new(OscillatorType::Sine, frequency);
    osc.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let comp = c.spawn(compressor).connect(dest).id();
    let gain = c.spawn(GainNode::new(amplitude)).connect(comp).id();
    c.spawn(osc).connect(gain);
    app.update();
    let out = app.render(len).unwrap().remove(0);
    (out, comp, app)
}

#[test]
fn steady_state_gain_follows_the_static_curve() {
    // (a) A hard knee: threshold −40 dB, ratio 4. Above the threshold the output level is
    // T + (x − T)/R in dB, and the make-up gain is (1/curve(1))^0.6 = −0.6·(T − T/R) dB = 18 dB,
    // all by hand.
    let (t, r) = (-40.0f64, 4.0f64);
    let makeup_db = -0.6 * (t - t / r);
    let hard = || {
        DynamicsCompressorNode::new(DynamicsCompressorOptions {
            threshold: t as f32,
            knee: 0.0,
            ratio: r as f32,
            ..default()
        })
    };
    assert!((db(f64::from(hard().makeup_gain())) - makeup_db).abs() < 0.01);
    let mut worst = 0.0f64;
    for level_db in [-50.0, -40.0, -30.0, -20.0, -10.0, -3.0] {
        let amplitude = 10f64.powf(level_db / 20.0) as f32;
        let (out, _, _) = compress_sine(1000.0, amplitude, hard(), 48_000);
        let measured = db(rms(&out[24_000..]) / (f64::from(amplitude) / 2f64.sqrt()));
        let curve_db = if level_db <= t {
            level_db
        } else {
            t + (level_db - t) / r
        };
        let expected = makeup_db + curve_db - level_db;
        println!(
            "hard knee, sine peak {level_db:>5} dBFS: gain {measured:6.2} dB, static curve \
             {expected:6.2} dB, error {:+.2} dB",
            measured - expected
        );
        worst = worst.max((measured - expected).abs());
    }
    // (b) The defaults (threshold −24, soft knee 30 dB, ratio 12): the knee's curve.
    for level_db in [-40.0, -24.0, -12.0, -6.0, 0.0] {
        let amplitude = 10f64.powf(level_db / 20.0) as f32;
        let node = DynamicsCompressorNode::default();
        let expected = db(f64::from(node.makeup_gain())
            * f64::from(node.compression_curve(amplitude))
            / f64::from(amplitude));
        let (out, _, _) = compress_sine(1000.0, amplitude, node, 48_000);
        let measured = db(rms(&out[24_000..]) / (f64::from(amplitude) / 2f64.sqrt()));
        println!(
            "defaults,  sine peak {level_db:>5} dBFS: gain {measured:6.2} dB, static curve \
             {expected:6.2} dB, error {:+.2} dB",
            measured - expected
        );
        worst = worst.max((measured - expected).abs());
    }
    println!("largest deviation from the static curve: {worst:.2} dB");
    assert!(worst <= 0.5, "{worst:.2} dB");
}

/// Threshold −40 dB, hard knee, ratio 4: a 0 dBFS input is reduced by 22.5 dB.
fn hard_knee() -> DynamicsCompressorOptions {
    DynamicsCompressorOptions {
        threshold: -40.0,
        knee: 0.0,
        ratio: 4.0,
        ..default()
    }
}

/// A DC input stepping `quiet → loud` at 0.5 s and back at 1.5 s; returns the applied
/// reduction in dB (make-up gain removed) per frame of the detector's timeline.
fn step_reduction(attack: f32, release: f32) -> Vec<f64> {
    let (quiet, loud) = (0.01f32, 1.0f32);
    let mut dc = ConstantSourceNode::new(quiet);
    dc.offset
        .set_value_at_time(loud, 0.5)
        .unwrap()
        .set_value_at_time(quiet, 1.5)
        .unwrap();
    dc.start(0.0).unwrap();
    let node = DynamicsCompressorNode::new(DynamicsCompressorOptions {
        attack,
        release,
        ..hard_knee()
    });
    let makeup = f64::from(node.makeup_gain());
    let (out, _, _) = compress(dc, node, 144_000);
    // The gain on output frame t was computed when the detector read input frame t (it is
    // applied to input frame t − 288): index by t, the detector's time.
    (0..144_000)
        .map(|t: usize| {
            let i = t.saturating_sub(LOOK_AHEAD);
            let input = if (24_000..72_000).contains(&i) {
                loud
            } else {
                quiet
            };
            db(f64::from(out[t]) / f64::from(input) / makeup)
        })
        .collect()
}

/// Seconds from `from` until `reduction` first crosses `target` dB (downwards when
/// `falling`).
fn time_to(reduction: &[f64], from: usize, target: f64, falling: bool) -> f64 {
    let i = reduction[from..]
        .iter()
        .position(|&r| if falling { r <= target } else { r >= target })
        .expect("never reached");
    i as f64 / 48_000.0
}

/// The envelope's rate and target are set every 32 frames, from the detector as it was at the
/// start of those 32 frames: a step on a division boundary starts moving the gain one division
/// later.
const DIVISION_SECONDS: f64 = 32.0 / 48_000.0;

#[test]
fn attack_and_release_times() {
    let mut attacks = Vec::new();
    for attack in [0.003f32, 0.03] {
        let r = step_reduction(attack, 0.25);
        let before = r[23_999];
        let loud = r[71_999];
        let t = time_to(&r, 24_000, before - 10.0, true) - DIVISION_SECONDS;
        println!(
            "attack {attack} s: reduction {before:.2} → {loud:.2} dB; 10 dB more reduction after \
             {:.2} ms + one 32-frame division ({:.3} × attack)",
            t * 1e3,
            t / f64::from(attack)
        );
        assert!(loud < before - 25.0);
        assert!((0.2..=1.0).contains(&(t / f64::from(attack))), "{t}");
        attacks.push(t);
    }
    let ratio = attacks[1] / attacks[0];
    println!("attack 0.03 s vs 0.003 s: {ratio:.2}× longer");
    assert!((9.0..=11.0).contains(&ratio), "{ratio}");

    let mut releases = Vec::new();
    for release in [0.25f32, 0.5] {
        let r = step_reduction(0.003, release);
        let loud = r[71_999];
        let t = time_to(&r, 72_000, loud + 10.0, false) - DIVISION_SECONDS;
        let settled = r[r.len() - 1];
        println!(
            "release {release} s: reduction {loud:.2} dB → {settled:.2} dB; 10 dB less reduction \
             after {:.1} ms ({:.2} × release)",
            t * 1e3,
            t / f64::from(release)
        );
        assert!((0.1..=1.0).contains(&(t / f64::from(release))), "{t}");
        assert!(settled > -0.5, "{settled}");
        releases.push(t);
    }
    let ratio = releases[1] / releases[0];
    println!("release 0.5 s vs 0.25 s: {ratio:.2}× longer");
    assert!((1.6..=2.2).contains(&ratio), "{ratio}");
}

#[test]
fn look_ahead_is_6_ms_and_reduction_is_readable_from_the_ecs() {
    // A click after a quiet second comes out 288 frames later.
    let mut click = vec![0.0f32; 48_000 + 1024];
    click[48_000] = 0.5;
    let mut app = offline_app(1);
    let dest = destination(&app);
    let buffer = add_buffer(&mut app, vec![click], 48_000.0);
    let mut src = AudioBufferSourceNode::new(buffer);
    src.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let comp = c
        .spawn(DynamicsCompressorNode::default())
        .connect(dest)
        .id();
    c.spawn(src).connect(comp);
    app.update();
    let out = app.render(48_000 + 1024).unwrap().remove(0);
    let at = out.iter().position(|&v| v != 0.0).unwrap();
    println!("click at frame 48000 comes out at {at}");
    assert_eq!(at, 48_000 + LOOK_AHEAD);

    // A loud sine: the meter shows the applied reduction (make-up gain excluded).
    let node = DynamicsCompressorNode::new(hard_knee());
    let makeup = f64::from(node.makeup_gain());
    assert_eq!(node.reduction(), 0.0);
    let (out, comp, mut app) = compress_sine(1000.0, 1.0, node, 48_000);
    let applied = db(rms(&out[40_000..]) / (1.0 / 2f64.sqrt()) / makeup);
    app.update();
    let reduction = app
        .world()
        .get::<DynamicsCompressorNode>(comp)
        .unwrap()
        .reduction();
    println!("reduction() = {reduction:.2} dB, applied reduction {applied:.2} dB");
    assert!(reduction < -10.0);
    assert!((f64::from(reduction) - applied).abs() < 0.5);

    // A replaced component gets the meter handed over; a spawned clone has its own.
    let clone = app
        .world()
        .get::<DynamicsCompressorNode>(comp)
        .unwrap()
        .clone();
    assert_eq!(clone.reduction(), 0.0);
    app.world_mut().entity_mut(comp).insert(clone);
    app.update();
    app.render(128).unwrap();
    let handed = app
        .world()
        .get::<DynamicsCompressorNode>(comp)
        .unwrap()
        .reduction();
    assert!((handed - reduction).abs() < 0.5, "{handed} vs {reduction}");
}

#[test]
fn channel_rules() {
    use ChannelCountMode as M;
    use ChannelInterpretation as I;
    let ok = |count, mode| {
        DynamicsCompressorNode::validate_channels(&ChannelConfig::new(count, mode, I::Speakers))
    };
    assert!(ok(2, M::ClampedMax).is_ok());
    assert!(ok(1, M::Explicit).is_ok());
    assert!(matches!(
        ok(3, M::ClampedMax),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(ok(2, M::Max), Err(WebAudioError::NotSupported(_))));

    // A mono input gives a mono output; a stereo one is compressed with one linked gain.
    let mut app = offline_app(2);
    let dest = destination(&app);
    let mut left = OscillatorNode::new(OscillatorType::Sine, 500.0);
    left.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let comp = c
        .spawn(DynamicsCompressorNode::default())
        .connect(dest)
        .id();
    let merger = c
        .spawn(ChannelMergerNode::new(2).unwrap())
        .connect(comp)
        .id();
    c.spawn(left).connect_with(merger, 0, 0);
    app.update();
    let out = app.render(48_000).unwrap();
    // Only the left channel carries signal; the right stays silent.
    println!(
        "stereo: left peak {:.3}, right peak {:.3}",
        peak(&out[0][24_000..]),
        peak(&out[1][24_000..])
    );
    assert!(peak(&out[0][24_000..]) > 0.1);
    assert_eq!(peak(&out[1]), 0.0);
}

// --- Chromium's render -----------------------------------------------------------------------

#[test]
fn conf_compressor_loud() {
    // noise (seed 6) + 100 Hz sine ─▶ gain 2 (0.05 from 0.3 s to 0.6 s) ─▶ compressor defaults.
    let mut app = offline_app(1);
    let dest = destination(&app);
    let buffer = add_buffer(&mut app, noise(6, 1, frames(1.0, 48_000.0), 1.0), 48_000.0);
    let mut n = AudioBufferSourceNode::new(buffer);
    n.start(0.0).unwrap();
    let mut s = OscillatorNode::new(OscillatorType::Sine, 100.0);
    s.start(0.0).unwrap();
    let mut g = GainNode::new(2.0);
    g.gain
        .set_value_at_time(2.0, 0.0)
        .unwrap()
        .set_value_at_time(0.05, 0.3)
        .unwrap()
        .set_value_at_time(2.0, 0.6)
        .unwrap();
    let mut c = app.world_mut().commands();
    let comp = c
        .spawn(DynamicsCompressorNode::default())
        .connect(dest)
        .id();
    let g = c.spawn(g).connect(comp).id();
    c.spawn(n).connect(g);
    c.spawn(s).connect(g);
    app.update();
    let out = app.render(48_000).unwrap();
    let Some(reference) = reference::load("conf_compressor_loud", 1) else {
        return;
    };
    let e = error_db(&out, &reference);
    println!("conf_compressor_loud: {e:.1} dB (limit -30)");
    assert!(e <= -30.0, "{e:.1} dB");
}
