//! WaveShaperNode: the spec's curve formula sample by sample, the edge behaviour, errors,
//! aliasing with and without oversampling, and Chromium's conformance renders.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::reference::{self, add_buffer, error_db};
use crate::support::*;

/// The spec's formula, written out independently in f64.
fn spec_curve(curve: &[f32], x: f32) -> f32 {
    let n = curve.len() as f64;
    let v = (n - 1.0) / 2.0 * (f64::from(x) + 1.0);
    if v < 0.0 {
        return curve[0];
    }
    if v >= n - 1.0 {
        return curve[curve.len() - 1];
    }
    let k = v.floor();
    let f = v - k;
    let k = k as usize;
    ((1.0 - f) * f64::from(curve[k]) + f * f64::from(curve[k + 1])) as f32
}

/// buffer source (`input`) ─▶ shaper ─▶ destination; returns the rendered mono output.
fn shape(input: Vec<f32>, shaper: WaveShaperNode) -> Vec<f32> {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let len = input.len();
    let buffer = add_buffer(&mut app, vec![input], SR as f32);
    let mut src = AudioBufferSourceNode::new(buffer);
    src.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let ws = c.spawn(shaper).connect(dest).id();
    c.spawn(src).connect(ws);
    app.update();
    app.render(len).unwrap().remove(0)
}

#[test]
fn none_matches_the_spec_formula_exactly_on_a_ramp() {
    // −1.5 ..= 1.5: below, inside and beyond the curve's range, hitting every curve point.
    let ramp: Vec<f32> = (0..4096).map(|i| -1.5 + 3.0 * i as f32 / 4095.0).collect();
    let curves: [Vec<f32>; 4] = [
        vec![-0.5, 0.75],                      // length 2
        vec![-1.0, -0.6875, 0.0, 0.6875, 1.0], // odd: c[2] is the value at 0
        vec![0.3, -0.2, 0.9, 0.1, -0.7, 0.25], // even: 0 falls between c[2] and c[3]
        (0..1025).map(|i| ((i as f32) * 0.37).sin()).collect(),
    ];
    for curve in curves {
        let out = shape(
            ramp.clone(),
            WaveShaperNode::new(Some(&curve), OverSampleType::None).unwrap(),
        );
        let mut mismatches = 0;
        for (&x, &y) in ramp.iter().zip(&out) {
            if y.to_bits() != spec_curve(&curve, x).to_bits() {
                mismatches += 1;
            }
        }
        assert_eq!(mismatches, 0, "curve of {} values", curve.len());
        // Edges: below −1 is c[0], at and above +1 is c[N−1].
        assert_eq!(out[0], curve[0]);
        assert_eq!(out[4095], *curve.last().unwrap());
        println!(
            "curve of {}: {} samples bit-equal to the spec formula",
            curve.len(),
            out.len()
        );
    }
    // An even curve at 0 interpolates between the two central values.
    let even = [0.3, -0.2, 0.9, 0.1, -0.7, 0.25];
    assert!((WaveShaperNode::apply_curve(&even, 0.0) - 0.5).abs() < 1e-7);
}

#[test]
fn no_curve_is_a_wire_and_a_dc_curve_outputs_dc_without_input() {
    let ramp: Vec<f32> = (0..512).map(|i| -2.0 + i as f32 / 128.0).collect();
    for oversample in [OverSampleType::None, OverSampleType::X2, OverSampleType::X4] {
        let out = shape(
            ramp.clone(),
            WaveShaperNode::default().with_oversample(oversample),
        );
        assert_eq!(out, ramp, "{oversample:?}");
    }
    // Nothing connected: the curve's value at 0 comes out (spec note).
    let out = render_node(
        WaveShaperNode::new(Some(&[0.25, 0.25, 0.25]), OverSampleType::None).unwrap(),
        256,
    );
    assert!(out.iter().all(|&v| v == 0.25), "{:?}", &out[..4]);
}

#[test]
fn curve_errors() {
    let e = WaveShaperNode::new(Some(&[]), OverSampleType::None).unwrap_err();
    assert!(matches!(e, WebAudioError::InvalidState(_)), "{e:?}");
    let mut ws = WaveShaperNode::new(Some(&[-1.0, 1.0]), OverSampleType::X2).unwrap();
    // [[curve set]]: a second curve is refused, null is allowed, and a curve again refused.
    assert!(matches!(
        ws.set_curve(Some(&[0.0, 1.0])),
        Err(WebAudioError::InvalidState(_))
    ));
    ws.set_curve(None).unwrap();
    assert!(ws.curve().is_none());
    assert!(ws.set_curve(Some(&[0.0, 1.0])).is_err());
    let mut fresh = WaveShaperNode::default();
    fresh.set_curve(Some(&[0.0, 1.0])).unwrap();
    assert_eq!(fresh.curve(), Some(&[0.0, 1.0][..]));
}

/// Energy (dB, relative to the total) outside ±3 bins of 5 kHz and 15 kHz: what a hard-clipped
/// 5 kHz sine gets from aliased harmonics.
fn aliasing_db(signal: &[f32]) -> f64 {
    let mags = spectrum(signal);
    let bin_hz = f64::from(SR) / signal.len() as f64;
    let (mut alias, mut total) = (0.0, 0.0);
    for (k, m) in mags.iter().enumerate() {
        let f = k as f64 * bin_hz;
        let p = m * m;
        total += p;
        if [5_000.0, 15_000.0]
            .iter()
            .all(|h: &f64| (f - h).abs() > 3.0 * bin_hz)
        {
            alias += p;
        }
    }
    10.0 * (alias / total).log10()
}

#[test]
fn oversampling_4x_reduces_aliasing_of_a_hard_clipped_sine_by_20_db() {
    // A 5 kHz sine at amplitude 2 into a hard clip at ±1. 9600 frames = 5 Hz bins, so every
    // harmonic and alias sits on a bin.
    let n = 9600;
    let sine: Vec<f32> = (0..n + 4096)
        .map(|i| (2.0 * (std::f64::consts::TAU * 5000.0 * i as f64 / 48_000.0).sin()) as f32)
        .collect();
    let clip = [-1.0, 1.0];
    let mut results = Vec::new();
    for oversample in [OverSampleType::None, OverSampleType::X2, OverSampleType::X4] {
        let out = shape(
            sine.clone(),
            WaveShaperNode::new(Some(&clip), oversample).unwrap(),
        );
        // Skip the resamplers' latency and start-up.
        let a = aliasing_db(&out[2048..2048 + n]);
        println!("aliasing energy, {oversample:?}: {a:.1} dB");
        results.push(a);
    }
    let gain = results[0] - results[2];
    println!(
        "4x reduces aliasing by {gain:.1} dB (2x: {:.1} dB)",
        results[0] - results[1]
    );
    assert!(gain >= 20.0, "{gain:.1} dB");
    assert!(results[1] < results[0]);
}

#[test]
fn oversampling_latency_is_blinks() {
    // An impulse through an identity curve comes out with the resamplers' group delay:
    // 64 + 64 frames for 2x, plus (64 + 64)/2 for 4x.
    let mut impulse = vec![0.0f32; 1024];
    impulse[100] = 0.5;
    let identity = [-1.0, 1.0];
    for (oversample, latency) in [(OverSampleType::X2, 128), (OverSampleType::X4, 192)] {
        let out = shape(
            impulse.clone(),
            WaveShaperNode::new(Some(&identity), oversample).unwrap(),
        );
        let peak_at = out
            .iter()
            .enumerate()
            .fold((0, 0.0f32), |(bi, bv), (i, &v)| {
                if v.abs() > bv { (i, v.abs()) } else { (bi, bv) }
            })
            .0;
        println!(
            "{oversample:?}: impulse peak at +{} frames, {}",
            peak_at - 100,
            out[peak_at]
        );
        assert_eq!(peak_at, 100 + latency, "{oversample:?}");
        // A linear curve through linear-phase low-pass filters: the impulse's energy is kept
        // but for the band above the half-band filters' cut-off.
        let energy: f32 = out.iter().map(|v| v * v).sum::<f32>() / 0.25;
        println!("{oversample:?}: impulse energy kept {energy:.4}");
        assert!((0.85..=1.0).contains(&energy), "{energy}");
    }
}

#[test]
fn silence_between_bursts_resets_the_resamplers_exactly() {
    // Two buffer sources play the same burst at frames 0 and 4096; in between the input is
    // silence (nothing playing). With a curve mapping 0 to 0 the oversampled node goes quiet,
    // skips its work, and the second burst comes out bit-identical to the first.
    let burst: Vec<f32> = (0..1024).map(|i| 0.9 * (i as f32 * 0.05).sin()).collect();
    let curve: Vec<f32> = (0..33)
        .map(|i| ((i as f32 / 16.0 - 1.0) * 2.0).tanh())
        .collect();
    for oversample in [OverSampleType::X2, OverSampleType::X4] {
        let mut app = offline_app(1);
        let dest = destination(&app);
        let buffer = add_buffer(&mut app, vec![burst.clone()], SR as f32);
        let mut c = app.world_mut().commands();
        let ws = c
            .spawn(WaveShaperNode::new(Some(&curve), oversample).unwrap())
            .connect(dest)
            .id();
        for start in [0.0, 4096.0 / 48_000.0] {
            let mut src = AudioBufferSourceNode::new(buffer.clone());
            src.start(start).unwrap();
            c.spawn(src).connect(ws);
        }
        app.update();
        let out = app.render(8192).unwrap().remove(0);
        assert!(peak(&out[..1024]) > 0.5);
        assert!(out[2048..4096].iter().all(|&v| v == 0.0), "{oversample:?}");
        assert_eq!(out[..4096], out[4096..], "{oversample:?}");
    }
}

#[test]
fn changing_oversample_on_a_running_node() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    osc.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let ws = c
        .spawn(WaveShaperNode::new(Some(&[-0.5, 0.0, 0.5]), OverSampleType::None).unwrap())
        .connect(dest)
        .id();
    c.spawn(osc).connect(ws);
    app.update();
    let before = app.render(1024).unwrap().remove(0);
    app.world_mut()
        .get_mut::<WaveShaperNode>(ws)
        .unwrap()
        .oversample = OverSampleType::X4;
    app.update();
    let after = app.render(4096 - 1024).unwrap().remove(0);
    assert!(peak(&before) > 0.49 && peak(&before) <= 0.5);
    // The curve is y = x/2; after the switch the fresh resamplers delay it by 192 frames (the
    // first few hundred frames carry their start-up transient).
    let expected =
        |frame: usize| 0.5 * (std::f64::consts::TAU * 440.0 * frame as f64 / 48_000.0).sin() as f32;
    let worst = (1024 + 512..4096)
        .map(|i| (after[i - 1024] - expected(i - 192)).abs())
        .fold(0.0f32, f32::max);
    println!("after switching to 4x: largest deviation from the delayed sine {worst:.2e}");
    assert!(worst < 1e-3, "{worst}");
}

// --- Chromium's renders ----------------------------------------------------------------------

/// `{"gen":"curve","shape":"cubic","n":N}`.
fn cubic_curve(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = (2 * i) as f64 / (n - 1) as f64 - 1.0;
            (1.5 * x - 0.5 * x * x * x) as f32
        })
        .collect()
}

/// oscillator 1 kHz ─▶ gain 1.2 ─▶ shaper (cubic, 1025) ─▶ destination, 12000 frames.
fn conformance(name: &str, oversample: OverSampleType, limit: f64) {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 1000.0);
    osc.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let ws = c
        .spawn(WaveShaperNode::new(Some(&cubic_curve(1025)), oversample).unwrap())
        .connect(dest)
        .id();
    let drive = c.spawn(GainNode::new(1.2)).connect(ws).id();
    c.spawn(osc).connect(drive);
    app.update();
    let out = app.render(12_000).unwrap();
    let Some(reference) = reference::load(name, 1) else {
        return;
    };
    let e = error_db(&out, &reference);
    println!("{name}: {e:.1} dB (limit {limit})");
    assert!(e <= limit, "{name}: {e:.1} dB");
}

#[test]
fn conf_waveshaper_none() {
    conformance("conf_waveshaper_none", OverSampleType::None, -80.0);
}

#[test]
fn conf_waveshaper_4x() {
    conformance("conf_waveshaper_4x", OverSampleType::X4, -60.0);
}
