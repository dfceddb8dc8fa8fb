//! IIRFilterNode: output equals a direct-form reference computed here, normalization by
//! `feedback[0]`, frequency response, the spec's errors, and Chromium's `conf_iir_filter`.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::reference::{self, add_buffer, error_db, frames, noise};
use crate::support::*;

/// Renders `input` (mono, 48 kHz) through the filter.
fn filter(node: IIRFilterNode, input: Vec<f32>) -> Vec<f32> {
    let len = input.len();
    let mut app = offline_app(1);
    let dest = destination(&app);
    let buffer = add_buffer(&mut app, vec![input], 48_000.0);
    let mut src = AudioBufferSourceNode::new(buffer);
    src.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let f = c.spawn(node).connect(dest).id();
    c.spawn(src).connect(f);
    app.update();
    app.render(len).unwrap().remove(0)
}

/// Direct form I, straight from the definition: a0 y[n] = Σ b_k x[n−k] − Σ_{k≥1} a_k y[n−k].
fn direct_form(b: &[f64], a: &[f64], x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f64; x.len()];
    for n in 0..x.len() {
        let mut acc = 0.0;
        for (k, bk) in b.iter().enumerate() {
            if n >= k {
                acc += bk * f64::from(x[n - k]);
            }
        }
        for (k, ak) in a.iter().enumerate().skip(1) {
            if n >= k {
                acc -= ak * y[n - k];
            }
        }
        y[n] = acc / a[0];
    }
    y.into_iter().map(|v| v as f32).collect()
}

#[test]
fn matches_a_direct_form_reference() {
    let x = noise(7, 1, 9600, 0.5).remove(0);
    // Orders 1, 2 and 6 (a 6th-order Butterworth-like low-pass), a0 ≠ 1 to check the
    // normalization, and 20 feedforward taps (an FIR).
    let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
        (vec![0.2], vec![2.0, -1.6]),
        (vec![0.0675, 0.135, 0.0675], vec![1.0, -1.143, 0.4128]),
        (
            vec![
                0.000_340_9,
                0.002_045_5,
                0.005_113_8,
                0.006_818_4,
                0.005_113_8,
                0.002_045_5,
                0.000_340_9,
            ],
            vec![1.0, -3.579_4, 5.658_1, -4.965_5, 2.529_4, -0.705_7, 0.084_0],
        ),
        ((1..=20).map(|k| 1.0 / f64::from(k)).collect(), vec![4.0]),
    ];
    for (b, a) in cases {
        let out = filter(IIRFilterNode::new(&b, &a).unwrap(), x.clone());
        let expected = direct_form(&b, &a, &x);
        let e = error_db(&[out], &[expected]);
        println!("IIR order {}/{}: {e:.1} dB", b.len() - 1, a.len() - 1);
        assert!(e < -120.0, "b {b:?} a {a:?}: {e:.1} dB");
    }
}

#[test]
fn frequency_response() {
    let f = IIRFilterNode::new(&[0.0675, 0.135, 0.0675], &[1.0, -1.143, 0.4128]).unwrap();
    let freqs = [0.0, 12_000.0, 24_000.0, -5.0, 24_001.0];
    let (mut mag, mut phase) = ([0.0f32; 5], [0.0f32; 5]);
    f.get_frequency_response(48_000.0, &freqs, &mut mag, &mut phase)
        .unwrap();
    // DC: Σb / Σa; Nyquist: (b0 − b1 + b2) / (a0 − a1 + a2) = 0; at fs/4 (z⁻¹ = −i):
    // (b0 − b2 − i b1) / (a0 − a2 − i a1).
    let dc = 0.27 / (1.0 - 1.143 + 0.4128);
    assert!((f64::from(mag[0]) - dc).abs() < 1e-6, "{} vs {dc}", mag[0]);
    let quarter = 0.135f64.hypot(0.0) / (1.0f64 - 0.4128).hypot(1.143);
    assert!(
        (f64::from(mag[1]) - quarter).abs() < 1e-6,
        "{} vs {quarter}",
        mag[1]
    );
    assert!(mag[2].abs() < 1e-6, "{}", mag[2]);
    assert!(mag[3].is_nan() && phase[3].is_nan() && mag[4].is_nan() && phase[4].is_nan());
    let mut short = [0.0f32; 1];
    assert!(matches!(
        f.get_frequency_response(48_000.0, &freqs, &mut short, &mut phase),
        Err(WebAudioError::InvalidAccess(_))
    ));
    // The same filter as a BiquadFilterNode-style check: a scaled copy has the same response.
    let g = IIRFilterNode::new(&[0.135, 0.27, 0.135], &[2.0, -2.286, 0.8256]).unwrap();
    let (mut mag2, mut phase2) = ([0.0f32; 5], [0.0f32; 5]);
    g.get_frequency_response(48_000.0, &freqs, &mut mag2, &mut phase2)
        .unwrap();
    for k in 0..3 {
        assert!((mag[k] - mag2[k]).abs() < 1e-6 && (phase[k] - phase2[k]).abs() < 1e-5);
    }
}

#[test]
fn errors() {
    let twenty_one = vec![1.0; 21];
    assert!(matches!(
        IIRFilterNode::new(&[], &[1.0]),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        IIRFilterNode::new(&[1.0], &[]),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        IIRFilterNode::new(&twenty_one, &[1.0]),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        IIRFilterNode::new(&[1.0], &twenty_one),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        IIRFilterNode::new(&[0.0, 0.0], &[1.0]),
        Err(WebAudioError::InvalidState(_))
    ));
    assert!(matches!(
        IIRFilterNode::new(&[1.0], &[0.0, 1.0]),
        Err(WebAudioError::InvalidState(_))
    ));
    assert!(IIRFilterNode::new(&[1.0; 20], &[1.0; 20]).is_ok());
}

#[test]
fn tail_then_silence() {
    // A decaying one-pole: y[n] = x[n] + 0.5 y[n−1]; an impulse gives 0.5^n, then exact zeros.
    let mut x = vec![0.0; 1024];
    x[0] = 1.0;
    let out = filter(IIRFilterNode::new(&[1.0], &[1.0, -0.5]).unwrap(), x);
    for (n, &v) in out.iter().enumerate().take(100) {
        assert_eq!(v, 0.5f32.powi(n as i32), "frame {n}");
    }
    assert!(out[512..].iter().all(|&v| v == 0.0));
}

#[test]
fn conf_iir_filter() {
    let x = noise(2, 1, frames(0.5, 48_000.0), 0.5).remove(0);
    let out = filter(
        IIRFilterNode::new(&[0.0675, 0.135, 0.0675], &[1.0, -1.143, 0.4128]).unwrap(),
        x,
    );
    let Some(reference) = reference::load("conf_iir_filter", 1) else {
        return;
    };
    let e = error_db(&[out], &reference);
    println!("conf_iir_filter: {e:.1} dB (limit -80)");
    assert!(e <= -80.0, "{e:.1} dB");
}
