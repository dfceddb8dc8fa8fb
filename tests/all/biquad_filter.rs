//! BiquadFilterNode: the rendered impulse response's spectrum equals `get_frequency_response`
//! for every type, Chromium's conformance renders, edge cases and errors.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;
use realfft::RealFftPlanner;

use crate::reference::{self, add_buffer, error_db, frames, noise};
use crate::support::*;

/// The filter's response to a unit impulse at frame 0.
fn impulse_response(filter: BiquadFilterNode, len: usize) -> Vec<f32> {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut impulse = ConstantSourceNode::new(1.0);
    impulse.start(0.0).unwrap().stop(1.0 / 48_000.0).unwrap();
    let mut c = app.world_mut().commands();
    let f = c.spawn(filter).connect(dest).id();
    c.spawn(impulse).connect(f);
    app.update();
    app.render(len).unwrap().remove(0)
}

fn fft_magnitude(signal: &[f32]) -> Vec<f64> {
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(signal.len());
    let mut input: Vec<f64> = signal.iter().map(|&v| f64::from(v)).collect();
    let mut out = fft.make_output_vec();
    fft.process(&mut input, &mut out).unwrap();
    out.iter().map(|c| c.norm()).collect()
}

#[test]
fn impulse_response_spectrum_matches_get_frequency_response_for_every_type() {
    const N: usize = 16_384;
    for kind in BiquadFilterType::ALL {
        let filter = BiquadFilterNode::with_options(kind, 1000.0, 1.5, 6.0);
        let ir = impulse_response(filter.clone(), N);
        assert!(ir.iter().all(|v| v.is_finite()));
        let measured = fft_magnitude(&ir);
        let freqs: Vec<f32> = (0..measured.len())
            .map(|k| (k as f64 * 48_000.0 / N as f64) as f32)
            .collect();
        let (mut mag, mut phase) = (vec![0.0; freqs.len()], vec![0.0; freqs.len()]);
        filter
            .get_frequency_response(48_000.0, &freqs, &mut mag, &mut phase)
            .unwrap();
        let mut worst = 0.0f64;
        let mut compared = 0;
        for (k, (&h, &m)) in mag.iter().zip(&measured).enumerate() {
            let h_db = 20.0 * f64::from(h).log10();
            if h_db <= -40.0 {
                continue;
            }
            let diff = (20.0 * m.log10() - h_db).abs();
            assert!(diff < 0.5, "{kind:?} at {} Hz: {diff:.3} dB", freqs[k]);
            worst = worst.max(diff);
            compared += 1;
        }
        println!("{kind:?}: {compared} bins above −40 dB, worst difference {worst:.2e} dB");
        assert!(compared > 1000, "{kind:?}: only {compared} bins compared");
    }
}

#[test]
fn get_frequency_response_values_and_errors() {
    let f = BiquadFilterNode::with_options(BiquadFilterType::Lowpass, 1000.0, 0.0, 0.0);
    let (mut mag, mut phase) = ([0.0f32; 4], [0.0f32; 4]);
    f.get_frequency_response(
        48_000.0,
        &[0.0, 1000.0, -1.0, 24_001.0],
        &mut mag,
        &mut phase,
    )
    .unwrap();
    assert!((mag[0] - 1.0).abs() < 1e-6, "DC gain {}", mag[0]);
    // The cookbook lowpass has |H| = Q (linear) at its cutoff, phase −π/2: 1 for Q = 0 dB.
    assert!((mag[1] - 1.0).abs() < 1e-5, "{}", mag[1]);
    assert!(
        (phase[1] + std::f32::consts::FRAC_PI_2).abs() < 1e-5,
        "{}",
        phase[1]
    );
    assert!(mag[2].is_nan() && phase[2].is_nan() && mag[3].is_nan() && phase[3].is_nan());
    let mut short = [0.0f32; 3];
    assert!(matches!(
        f.get_frequency_response(48_000.0, &[0.0; 4], &mut short, &mut phase),
        Err(WebAudioError::InvalidAccess(_))
    ));
    // Peaking: gain dB at the centre; allpass: unity everywhere.
    let p = BiquadFilterNode::with_options(BiquadFilterType::Peaking, 3000.0, 2.0, -9.0);
    let (mut m, mut ph) = ([0.0f32], [0.0f32]);
    p.get_frequency_response(48_000.0, &[3000.0], &mut m, &mut ph)
        .unwrap();
    assert!(
        (20.0 * m[0].log10() + 9.0).abs() < 1e-4,
        "{}",
        20.0 * m[0].log10()
    );
    let a = BiquadFilterNode::with_options(BiquadFilterType::Allpass, 3000.0, 2.0, 0.0);
    let freqs: Vec<f32> = (0..24).map(|k| k as f32 * 1000.0).collect();
    let (mut m, mut ph) = (vec![0.0; 24], vec![0.0; 24]);
    a.get_frequency_response(48_000.0, &freqs, &mut m, &mut ph)
        .unwrap();
    assert!(m.iter().all(|v| (v - 1.0).abs() < 1e-6), "{m:?}");
}

#[test]
fn a_lowpass_at_nyquist_is_a_wire_and_the_tail_decays_to_silence() {
    let mut f = BiquadFilterNode::new(BiquadFilterType::Lowpass);
    f.frequency.set_value(24_000.0).unwrap();
    let ir = impulse_response(f, 256);
    assert_eq!(ir[0], 1.0);
    assert!(ir[1..].iter().all(|&v| v == 0.0));
    // A resonant lowpass rings after the impulse, then reaches exact zero (denormals flushed).
    let ir = impulse_response(
        BiquadFilterNode::with_options(BiquadFilterType::Lowpass, 500.0, 10.0, 0.0),
        96_000,
    );
    assert!(peak(&ir[100..200]) > 1e-3);
    assert!(ir[90_000..].iter().all(|&v| v == 0.0));
}

// --- Chromium's renders ----------------------------------------------------------------------

fn conformance(
    name: &str,
    kind: BiquadFilterType,
    frequency: f32,
    q: f32,
    gain: f32,
    modulated: bool,
) -> f64 {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let buffer = add_buffer(&mut app, noise(2, 1, frames(0.5, 48_000.0), 0.5), 48_000.0);
    let mut src = AudioBufferSourceNode::new(buffer);
    src.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let f = c
        .spawn(BiquadFilterNode::with_options(kind, frequency, q, gain))
        .connect(dest)
        .id();
    c.spawn(src).connect(f);
    if modulated {
        let mut lfo = OscillatorNode::new(OscillatorType::Sine, 7.0);
        lfo.start(0.0).unwrap();
        let depth = c
            .spawn(GainNode::new(12.0))
            .connect_param(f, ParamId::Gain)
            .id();
        c.spawn(lfo).connect(depth);
    }
    app.update();
    let out = app.render(24_000).unwrap();
    let Some(reference) = reference::load(name, 1) else {
        return f64::NEG_INFINITY;
    };
    let e = error_db(&out, &reference);
    println!("{name}: {e:.1} dB (limit -80)");
    e
}

#[test]
fn conf_biquad_every_type() {
    use BiquadFilterType as T;
    let cases = [
        ("conf_biquad_lowpass", T::Lowpass),
        ("conf_biquad_highpass", T::Highpass),
        ("conf_biquad_bandpass", T::Bandpass),
        ("conf_biquad_lowshelf", T::Lowshelf),
        ("conf_biquad_highshelf", T::Highshelf),
        ("conf_biquad_peaking", T::Peaking),
        ("conf_biquad_allpass", T::Allpass),
    ];
    for (name, kind) in cases {
        let e = conformance(name, kind, 1000.0, 4.0, 6.0, false);
        assert!(e <= -80.0, "{name}: {e:.1} dB");
    }
}

#[test]
fn conf_biquad_peaking_gain_modulated() {
    let e = conformance(
        "conf_biquad_peaking_gain_modulated",
        BiquadFilterType::Peaking,
        2000.0,
        2.0,
        0.0,
        true,
    );
    assert!(e <= -80.0, "{e:.1} dB");
}
