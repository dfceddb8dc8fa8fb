//! OscillatorNode: frequency and amplitude of every type, band-limiting, detune, start/stop.

use bevy_webaudio::prelude::*;

use crate::support::*;

fn osc(kind: OscillatorType, frequency: f32) -> OscillatorNode {
    let mut osc = OscillatorNode::new(kind, frequency);
    osc.start(0.0).unwrap();
    osc
}

#[test]
fn every_type_has_the_right_frequency_and_amplitude() {
    // Peak of the normalized band-limited waveforms at 440 Hz / 48 kHz.
    let cases = [
        (OscillatorType::Sine, 1.0, 0.001),
        (OscillatorType::Square, 0.99, 0.01),
        (OscillatorType::Sawtooth, 0.97, 0.01),
        (OscillatorType::Triangle, 0.99, 0.01),
    ];
    for (kind, expected_peak, tolerance) in cases {
        let out = render_node(osc(kind, 440.0), 48_000);
        let f = zero_crossing_frequency(&out, 48_000.0);
        assert!((f - 440.0).abs() < 0.05, "{kind:?}: measured {f} Hz");
        let f = peak_frequency(&out, 48_000.0);
        assert!((f - 440.0).abs() < 0.5, "{kind:?}: FFT peak at {f} Hz");
        let p = peak(&out);
        assert!((p - expected_peak).abs() < tolerance, "{kind:?}: peak {p}");
    }
}

#[test]
fn sine_matches_the_formula() {
    let out = render_node(osc(OscillatorType::Sine, 1000.0), 4800);
    for (n, &v) in out.iter().enumerate() {
        let expected = (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 48_000.0).sin();
        assert!(
            (f64::from(v) - expected).abs() < 2e-4,
            "sample {n}: {v} vs {expected}"
        );
    }
}

#[test]
fn sawtooth_at_4k_has_no_aliasing_above_minus_60_db() {
    // 4 kHz at 44.1 kHz: aliases of harmonics above Nyquist would land between harmonics.
    let mut app = offline_app_at(44_100, 1);
    let dest = destination(&app);
    app.world_mut()
        .commands()
        .spawn(osc(OscillatorType::Sawtooth, 4000.0))
        .connect(dest);
    app.update();
    let out = app.render(44_100).unwrap().remove(0);
    let mags = spectrum(&out);
    let bin_hz = 44_100.0 / out.len() as f64;
    let fundamental = mags[(4000.0 / bin_hz) as usize - 3..(4000.0 / bin_hz) as usize + 4]
        .iter()
        .cloned()
        .fold(0.0, f64::max);
    let mut worst = f64::MIN;
    for (k, &m) in mags.iter().enumerate() {
        let f = k as f64 * bin_hz;
        let harmonic = (f / 4000.0).round() * 4000.0;
        if (f - harmonic).abs() > 40.0 && f > 40.0 {
            worst = worst.max(20.0 * (m / fundamental).log10());
        }
    }
    assert!(worst < -60.0, "strongest aliased partial at {worst:.1} dB");
}

#[test]
fn detune_raises_by_cents() {
    let mut o = osc(OscillatorType::Sine, 440.0);
    o.detune.set_value(1200.0).unwrap();
    let out = render_node(o, 48_000);
    let f = zero_crossing_frequency(&out, 48_000.0);
    assert!((f - 880.0).abs() < 0.1, "measured {f}");
}

#[test]
fn custom_periodic_wave_is_normalized() {
    let wave = PeriodicWave::new(None, Some(vec![0.0, 1.0, 0.5]), false).unwrap();
    let mut o = OscillatorNode::with_periodic_wave(wave, 100.0);
    o.start(0.0).unwrap();
    let out = render_node(o, 4800);
    assert!((peak(&out) - 1.0).abs() < 1e-3, "peak {}", peak(&out));
    let raw = PeriodicWave::new(None, Some(vec![0.0, 1.0, 0.5]), true).unwrap();
    let mut o = OscillatorNode::with_periodic_wave(raw, 100.0);
    o.start(0.0).unwrap();
    let out = render_node(o, 4800);
    // sin x + 0.5 sin 2x peaks at 1.299.
    assert!((peak(&out) - 1.299).abs() < 2e-3, "peak {}", peak(&out));
}

#[test]
fn start_and_stop_are_sample_accurate() {
    // Frame 1000 and 3000 exactly, for a constant source (exact values) and an oscillator.
    let mut c = ConstantSourceNode::new(0.25);
    c.start(1000.0 / 48_000.0)
        .unwrap()
        .stop(3000.0 / 48_000.0)
        .unwrap();
    let out = render_node(c, 4096);
    assert!(out[..1000].iter().all(|&v| v == 0.0));
    assert!(out[1000..3000].iter().all(|&v| v == 0.25));
    assert!(out[3000..].iter().all(|&v| v == 0.0));
    let mut o = OscillatorNode::new(OscillatorType::Sine, 1000.0);
    o.start(1000.0 / 48_000.0)
        .unwrap()
        .stop(3000.0 / 48_000.0)
        .unwrap();
    let out = render_node(o, 4096);
    assert!(
        out[..1001].iter().all(|&v| v == 0.0),
        "sine starts at phase 0"
    );
    let expected = (2.0 * std::f32::consts::PI * 1000.0 / 48_000.0).sin();
    assert!(
        (out[1001] - expected).abs() < 1e-4,
        "{} vs {expected}",
        out[1001]
    );
    assert_ne!(out[2999], 0.0, "last frame plays");
    assert!(out[3000..].iter().all(|&v| v == 0.0));
}

#[test]
fn oscillator_errors() {
    let mut o = OscillatorNode::default();
    assert!(matches!(
        o.set_type(OscillatorType::Custom),
        Err(WebAudioError::InvalidState(_))
    ));
    assert!(matches!(o.stop(1.0), Err(WebAudioError::InvalidState(_))));
    assert!(matches!(o.start(-1.0), Err(WebAudioError::Range(_))));
    o.start(0.0).unwrap();
    assert!(matches!(o.start(0.0), Err(WebAudioError::InvalidState(_))));
    assert!(matches!(
        PeriodicWave::new(Some(vec![0.0, 1.0]), Some(vec![0.0]), false),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        PeriodicWave::new(Some(vec![0.0]), None, false),
        Err(WebAudioError::IndexSize(_))
    ));
}
