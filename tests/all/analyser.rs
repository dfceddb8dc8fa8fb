//! AnalyserNode: the spec's Blackman window, FFT scaling and dB conversion measured on sines
//! whose spectra are known in closed form, the smoothing recursion, exact byte conversions,
//! down-mixing, pass-through, and the spec's errors.
//!
//! ```text
//!  source ──▶ AnalyserNode ──▶ destination      (the analyser is read from the ECS)
//! ```

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::reference::add_buffer;
use crate::support::*;

/// An app playing `channels` (looped) through an analyser into the destination; returns the
/// app and the analyser's entity.
fn analysed(channels: Vec<Vec<f32>>, out_channels: u16, analyser: AnalyserNode) -> (App, Entity) {
    let mut app = offline_app(out_channels);
    let dest = destination(&app);
    let buffer = add_buffer(&mut app, channels, SR as f32);
    let mut source = AudioBufferSourceNode::new(buffer);
    source.looping = true;
    source.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let analyser = c.spawn(analyser).connect(dest).id();
    c.spawn(source).connect(analyser);
    app.update();
    (app, analyser)
}

/// A sine of `amp` at bin `k` of an `n`-point FFT (an exact number of periods in `n`).
fn bin_sine(k: usize, n: usize, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (std::f64::consts::TAU * (k * i) as f64 / n as f64).sin()) as f32)
        .collect()
}

fn analyser(world: &mut World, entity: Entity) -> Mut<'_, AnalyserNode> {
    world.get_mut::<AnalyserNode>(entity).unwrap()
}

#[test]
fn a_bin_centred_sine_has_the_blackman_windows_closed_form_spectrum() {
    // For x[n] = A sin(2πkn/N) the spec's X[k] = (1/N) Σ w[n] x[n] e^(−2πikn/N) is exactly
    // A·a0/2 at bin k, A·a1/4 at k ± 1, A·a2/4 at k ± 2 and 0 elsewhere
    // (a0 = 0.42, a1 = 0.5, a2 = 0.08).
    const N: usize = 2048;
    const K: usize = 64; // 1500 Hz
    const A: f64 = 0.5;
    let mut node = AnalyserNode::default();
    node.set_smoothing_time_constant(0.0).unwrap();
    let (mut app, entity) = analysed(vec![bin_sine(K, N, A)], 1, node);
    app.render(4 * N).unwrap();
    let mut db = vec![0.0f32; N / 2];
    analyser(app.world_mut(), entity).get_float_frequency_data(&mut db);
    let expected = |bin: usize| match bin.abs_diff(K) {
        0 => A * 0.42 / 2.0,
        1 => A * 0.5 / 4.0,
        2 => A * 0.08 / 4.0,
        _ => 0.0,
    };
    let mut worst: f64 = 0.0;
    for (k, &got) in db.iter().enumerate().take(K + 3).skip(K - 2) {
        let want = 20.0 * expected(k).log10();
        let diff = (f64::from(got) - want).abs();
        worst = worst.max(diff);
        println!("bin {k}: {got:.6} dB, formula {want:.6} dB");
    }
    assert!(worst < 1e-4, "worst {worst:e} dB");
    let peak_bin = (0..N / 2).max_by(|&a, &b| db[a].total_cmp(&db[b])).unwrap();
    assert_eq!(peak_bin, K);
    let floor = (0..N / 2)
        .filter(|k| k.abs_diff(K) > 2)
        .map(|k| db[k])
        .fold(f32::NEG_INFINITY, f32::max);
    println!("largest other bin: {floor:.1} dB (f32 rounding of the sine)");
    assert!(floor < -120.0, "{floor}");
}

#[test]
fn a_1_khz_oscillator_peaks_in_bin_43() {
    // 1000 Hz / (48000 / 2048) = 42.67: the nearest bin is 43.
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 1000.0);
    osc.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let entity = c.spawn(AnalyserNode::default()).connect(dest).id();
    c.spawn(osc).connect(entity);
    app.update();
    app.render(4096).unwrap();
    let mut node = analyser(app.world_mut(), entity);
    let mut db = vec![0.0f32; node.frequency_bin_count()];
    node.get_float_frequency_data(&mut db);
    let peak_bin = (0..db.len())
        .max_by(|&a, &b| db[a].total_cmp(&db[b]))
        .unwrap();
    assert_eq!(peak_bin, 43);
}

#[test]
fn smoothing_follows_the_specs_recursion() {
    // A steady bin-centred sine: |X[k]| = 0.21·A every block, so after m getter calls in m
    // different quanta X̂ = (1 − τ^m)·0.21·A.
    const N: usize = 1024;
    const K: usize = 32;
    const A: f64 = 0.8;
    let tau = 0.6;
    let mut node = AnalyserNode::default();
    node.set_fft_size(N)
        .unwrap()
        .set_smoothing_time_constant(tau)
        .unwrap();
    let (mut app, entity) = analysed(vec![bin_sine(K, N, A)], 1, node);
    app.render(2 * N).unwrap();
    let magnitude = 0.42 / 2.0 * A;
    let mut db = vec![0.0f32; N / 2];
    for m in 1..=12 {
        analyser(app.world_mut(), entity).get_float_frequency_data(&mut db);
        let want = 20.0 * ((1.0 - tau.powi(m)) * magnitude).log10();
        assert!(
            (f64::from(db[K]) - want).abs() < 1e-4,
            "call {m}: {} dB, recursion {want} dB",
            db[K]
        );
        // A second call in the same render quantum returns the same data, unsmoothed.
        let mut again = vec![0.0f32; N / 2];
        analyser(app.world_mut(), entity).get_float_frequency_data(&mut again);
        assert_eq!(again, db);
        app.render(128).unwrap();
    }
    // A new fftSize resets the previous block: the first call is (1 − τ)·|X|.
    analyser(app.world_mut(), entity)
        .set_fft_size(2048)
        .unwrap();
    let mut db = vec![0.0f32; 1024];
    analyser(app.world_mut(), entity).get_float_frequency_data(&mut db);
    let want = 20.0 * ((1.0 - tau) * magnitude).log10();
    assert!(
        (f64::from(db[2 * K]) - want).abs() < 1e-4,
        "{} vs {want}",
        db[2 * K]
    );
}

#[test]
fn time_domain_data_is_the_latest_input_and_byte_conversions_are_exact() {
    // A 1.5-amplitude sine (so the byte conversion clips at both ends) of 480 frames' period.
    let sine: Vec<f32> = (0..480)
        .map(|i| (1.5 * (std::f64::consts::TAU * i as f64 / 480.0).sin()) as f32)
        .collect();
    let mut node = AnalyserNode::default();
    node.set_fft_size(512).unwrap();
    node.set_min_decibels(-160.0)
        .unwrap()
        .set_max_decibels(-20.0)
        .unwrap()
        .set_smoothing_time_constant(0.0)
        .unwrap();
    let (mut app, entity) = analysed(vec![sine], 1, node);
    let out = app.render(3000).unwrap().remove(0); // not a multiple of 128: 3072 rendered
    let rendered_to = 3072;
    let mut node = analyser(app.world_mut(), entity);
    assert_eq!(node.frames_analysed(), rendered_to as u64);
    // The node passes its input through; the last 512 frames are frames 2560..3072, of which
    // the output so far holds up to 3000 (the sine is periodic: frame f = sine[f % 480]).
    let mut float = vec![0.0f32; 512];
    node.get_float_time_domain_data(&mut float);
    let expected: Vec<f32> = (2560..3072).map(|f| out[f % 480 + 480]).collect();
    assert_eq!(float, expected);
    // A shorter array gets the oldest frames of the window (excess elements dropped).
    let mut short = vec![0.0f32; 100];
    node.get_float_time_domain_data(&mut short);
    assert_eq!(short, expected[..100]);

    let mut bytes = vec![0u8; 600]; // longer than fftSize: the excess is left alone
    bytes[512..].fill(7);
    node.get_byte_time_domain_data(&mut bytes);
    for (b, &x) in bytes.iter().zip(&float) {
        let want = (128.0 * (1.0 + f64::from(x))).floor().clamp(0.0, 255.0) as u8;
        assert_eq!(*b, want, "x = {x}");
    }
    assert!(bytes[512..].iter().all(|&b| b == 7));
    assert!(
        bytes.contains(&0) && bytes.contains(&255),
        "clipped both ways"
    );

    let mut db = vec![0.0f32; 256];
    node.get_float_frequency_data(&mut db);
    let mut fbytes = vec![0u8; 256];
    node.get_byte_frequency_data(&mut fbytes);
    let mut counts = [0usize; 3];
    for (b, &y) in fbytes.iter().zip(&db) {
        let want = (255.0 / 140.0 * (f64::from(y) + 160.0))
            .floor()
            .clamp(0.0, 255.0) as u8;
        assert_eq!(*b, want, "Y = {y}");
        counts[match *b {
            0 => 0,
            255 => 2,
            _ => 1,
        }] += 1;
    }
    println!("byte frequency data: {counts:?} bins at 0 / inside / 255");
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
}

#[test]
fn input_is_down_mixed_to_mono_and_passed_through() {
    let (mut app, entity) = analysed(
        vec![vec![0.5; 128], vec![0.25; 128]],
        2,
        AnalyserNode::default(),
    );
    let out = app.render(256).unwrap();
    assert!(out[0].iter().all(|&v| v == 0.5) && out[1].iter().all(|&v| v == 0.25));
    let mut node = analyser(app.world_mut(), entity);
    node.set_fft_size(256).unwrap();
    let mut float = vec![0.0f32; 256];
    node.get_float_time_domain_data(&mut float);
    assert!(float.iter().all(|&v| v == 0.375), "0.5 · (L + R)");
}

#[test]
fn before_any_audio_the_data_are_silence() {
    let mut node = AnalyserNode::default();
    let mut float = vec![1.0f32; 2048];
    node.get_float_time_domain_data(&mut float);
    assert!(float.iter().all(|&v| v == 0.0));
    let mut db = vec![0.0f32; 1024];
    node.get_float_frequency_data(&mut db);
    assert!(db.iter().all(|&v| v == f32::NEG_INFINITY));
    let mut bytes = vec![9u8; 1024];
    node.get_byte_frequency_data(&mut bytes);
    assert!(bytes.iter().all(|&b| b == 0));
    let mut bytes = vec![9u8; 2048];
    node.get_byte_time_domain_data(&mut bytes);
    assert!(bytes.iter().all(|&b| b == 128));
}

#[test]
fn spec_errors() {
    let mut node = AnalyserNode::default();
    assert_eq!(node.fft_size(), 2048);
    assert_eq!(node.frequency_bin_count(), 1024);
    assert_eq!((node.min_decibels(), node.max_decibels()), (-100.0, -30.0));
    assert_eq!(node.smoothing_time_constant(), 0.8);
    for bad in [0, 16, 1000, 65536, 33000] {
        assert!(
            matches!(node.set_fft_size(bad), Err(WebAudioError::IndexSize(_))),
            "{bad}"
        );
    }
    for good in [32, 64, 32768] {
        node.set_fft_size(good).unwrap();
        assert_eq!(node.frequency_bin_count(), good / 2);
    }
    assert!(matches!(
        node.set_min_decibels(-30.0),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        node.set_max_decibels(-100.0),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        node.set_max_decibels(-120.0),
        Err(WebAudioError::IndexSize(_))
    ));
    node.set_min_decibels(-40.0).unwrap();
    assert!(matches!(
        node.set_smoothing_time_constant(-0.1),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        node.set_smoothing_time_constant(1.1),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        node.set_smoothing_time_constant(f64::NAN),
        Err(WebAudioError::IndexSize(_))
    ));
    node.set_smoothing_time_constant(1.0).unwrap();
    assert!(AnalyserNode::new(4096, -80.0, -20.0, 0.5).is_ok());
    assert!(matches!(
        AnalyserNode::new(4096, -20.0, -20.0, 0.5),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        AnalyserNode::new(100, -80.0, -20.0, 0.5),
        Err(WebAudioError::IndexSize(_))
    ));
}
