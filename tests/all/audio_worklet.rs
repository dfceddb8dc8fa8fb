//! Custom processors (AudioWorkletNode): a bit crusher and a ring modulator give exactly the
//! samples computed here; their params automate (k-rate and a-rate, from events and from
//! audio connections, clamped to the declared range); the active-source lifetime; output
//! channel rules; the spec's constructor errors.
//!
//! ```text
//!  AudioBufferSourceNode ──▶ AudioWorkletNode ──▶ destination
//!  ConstantSourceNode ─────▶ (param "custom0")
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bevy::prelude::*;
use bevy_webaudio::engine::render::bus::AudioBus;
use bevy_webaudio::node::ProcessContext;
use bevy_webaudio::prelude::*;

use crate::reference::{add_buffer, noise};
use crate::support::*;

/// Quantizes to `bits` bits (k-rate param 0): `round(x · 2^(b−1)) / 2^(b−1)`.
struct BitCrusher;

fn crush(x: f32, bits: f32) -> f32 {
    let steps = (bits - 1.0).exp2();
    (x * steps).round() / steps
}

impl AudioWorkletProcessor for BitCrusher {
    fn process(
        &mut self,
        inputs: &[AudioBus],
        outputs: &mut [AudioBus],
        params: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        let bits = params.at(0, 0);
        for (out, inp) in outputs[0]
            .channels_mut()
            .iter_mut()
            .zip(inputs[0].channels_slice())
        {
            for (o, &x) in out.iter_mut().zip(inp) {
                *o = crush(x, bits);
            }
        }
        false
    }
}

fn bit_crusher() -> AudioWorkletNode {
    AudioWorkletNode::builder("bit-crusher", |_: &WorkletScope| BitCrusher)
        .param(
            AudioParamDescriptor::new("bits")
                .default_value(8.0)
                .range(1.0, 16.0)
                .automation_rate(AutomationRate::KRate),
        )
        .build()
        .unwrap()
}

/// Multiplies by `sin(2π·phase)`, the phase advancing by `frequency / sampleRate` (a-rate).
struct RingModulator {
    phase: f64,
    sample_rate: f64,
}

impl AudioWorkletProcessor for RingModulator {
    fn process(
        &mut self,
        inputs: &[AudioBus],
        outputs: &mut [AudioBus],
        params: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        let (input, output) = (&inputs[0], &mut outputs[0]);
        for i in 0..128 {
            let carrier = (std::f64::consts::TAU * self.phase).sin() as f32;
            self.phase = (self.phase + f64::from(params.at(0, i)) / self.sample_rate).fract();
            for (out, inp) in output.channels_mut().iter_mut().zip(input.channels_slice()) {
                out[i] = inp[i] * carrier;
            }
        }
        true
    }
}

fn ring_modulator() -> AudioWorkletNode {
    AudioWorkletNode::builder("ring-modulator", |scope: &WorkletScope| RingModulator {
        phase: 0.0,
        sample_rate: f64::from(scope.sample_rate),
    })
    .param(
        AudioParamDescriptor::new("frequency")
            .default_value(440.0)
            .range(0.0, 24_000.0),
    )
    .build()
    .unwrap()
}

/// Plays `input` through `node` to a mono destination for `len` frames.
fn run(node: AudioWorkletNode, input: Vec<f32>, len: usize) -> Vec<f32> {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let buffer = add_buffer(&mut app, vec![input], SR as f32);
    let mut source = AudioBufferSourceNode::new(buffer);
    source.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let node = c.spawn(node).connect(dest).id();
    c.spawn(source).connect(node);
    app.update();
    app.render(len).unwrap().remove(0)
}

#[test]
fn bit_crusher_gives_exact_samples_and_its_k_rate_param_automates() {
    let input = noise(70, 1, 1024, 0.9).remove(0);
    let mut node = bit_crusher();
    // 8 bits until frame 256, 3 bits from there, 2 bits from frame 640 (quantum boundaries:
    // k-rate values are sampled at each quantum's first frame).
    node.param_mut("bits")
        .unwrap()
        .set_value_at_time(3.0, 256.0 / 48_000.0)
        .unwrap()
        .set_value_at_time(2.0, 640.0 / 48_000.0)
        .unwrap();
    let out = run(node, input.clone(), 1024);
    for (i, (&y, &x)) in out.iter().zip(&input).enumerate() {
        let bits = match i {
            0..256 => 8.0,
            256..640 => 3.0,
            _ => 2.0,
        };
        assert_eq!(y, crush(x, bits), "frame {i}");
    }
    assert!(
        out[700..]
            .iter()
            .all(|v| [-1.0, -0.5, 0.0, 0.5, 1.0].contains(v))
    );
}

#[test]
fn ring_modulator_gives_exact_samples_and_its_a_rate_param_follows_audio() {
    let input = noise(71, 1, 1024, 0.9).remove(0);
    let sr = f64::from(SR);
    // Constant 1000 Hz.
    let mut node = ring_modulator();
    node.param_mut("frequency")
        .unwrap()
        .set_value(1000.0)
        .unwrap();
    let out = run(node, input.clone(), 1024);
    let mut phase = 0.0f64;
    for (i, (&y, &x)) in out.iter().zip(&input).enumerate() {
        let carrier = (std::f64::consts::TAU * phase).sin() as f32;
        phase = (phase + 1000.0 / sr).fract();
        assert_eq!(y, x * carrier, "frame {i}");
    }

    // The frequency driven by audio: intrinsic 0 plus a connected constant source of 6000
    // (computedValue = intrinsic + input, per sample).
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut node = ring_modulator();
    node.param_mut("frequency").unwrap().set_value(0.0).unwrap();
    let id = node.param_id("frequency").unwrap();
    assert_eq!(id, ParamId::Custom(0));
    let buffer = add_buffer(&mut app, vec![input.clone()], SR as f32);
    let mut source = AudioBufferSourceNode::new(buffer);
    source.start(0.0).unwrap();
    let mut drive = ConstantSourceNode::new(6000.0);
    drive.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let ring = c.spawn(node).connect(dest).id();
    c.spawn(source).connect(ring);
    c.spawn(drive).connect_param(ring, id);
    app.update();
    let out = app.render(1024).unwrap().remove(0);
    let mut phase = 0.0f64;
    for (i, (&y, &x)) in out.iter().zip(&input).enumerate() {
        let carrier = (std::f64::consts::TAU * phase).sin() as f32;
        phase = (phase + 6000.0 / sr).fract();
        assert_eq!(y, x * carrier, "frame {i}");
    }
}

/// Outputs its param's values (a-rate) so the test sees exactly what `process` was given.
struct Probe;

impl AudioWorkletProcessor for Probe {
    fn process(
        &mut self,
        _: &[AudioBus],
        outputs: &mut [AudioBus],
        params: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        for (i, o) in outputs[0].channel_mut(0).iter_mut().enumerate() {
            *o = params.at(0, i);
        }
        true
    }
}

#[test]
fn a_rate_params_carry_automation_and_connections_clamped_to_their_range() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut node = AudioWorkletNode::builder("probe", |_: &WorkletScope| Probe)
        .inputs(0)
        .output_channel_count(vec![1])
        .param(AudioParamDescriptor::new("x").range(-1.0, 1.0))
        .param_value("x", 0.25)
        .build()
        .unwrap();
    // 0.25, then a ramp from 0 at frame 128 to 1 at frame 256, plus 0.5 from audio: the sum
    // clamps at 1 from frame 192 on.
    node.param_mut("x")
        .unwrap()
        .set_value_at_time(0.0, 128.0 / 48_000.0)
        .unwrap()
        .linear_ramp_to_value_at_time(1.0, 256.0 / 48_000.0)
        .unwrap();
    let id = node.param_id("x").unwrap();
    let mut half = ConstantSourceNode::new(0.5);
    half.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let probe = c.spawn(node).connect(dest).id();
    c.spawn(half).connect_param(probe, id);
    app.update();
    let out = app.render(384).unwrap().remove(0);
    for (i, &v) in out.iter().enumerate() {
        let intrinsic = match i {
            0..128 => 0.25,
            128..256 => (i - 128) as f64 / 128.0,
            _ => 1.0,
        };
        let want = (intrinsic + 0.5).min(1.0);
        assert!(
            (f64::from(v) - want).abs() < 1e-6,
            "frame {i}: {v} vs {want}"
        );
    }
}

/// A source of ones for `quanta` quanta, counting its calls.
struct Burst {
    quanta: usize,
    calls: Arc<AtomicUsize>,
}

impl AudioWorkletProcessor for Burst {
    fn process(
        &mut self,
        _: &[AudioBus],
        outputs: &mut [AudioBus],
        _: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        for ch in outputs[0].channels_mut() {
            ch.fill(1.0);
        }
        n < self.quanta
    }
}

#[test]
fn returning_false_ends_a_source_and_an_effect_runs_while_its_input_sounds() {
    // A source: called until it returns false (3 quanta), then silent and never called.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let node = AudioWorkletNode::builder("burst", move |_: &WorkletScope| Burst {
        quanta: 3,
        calls: counter.clone(),
    })
    .inputs(0)
    .output_channel_count(vec![2])
    .build()
    .unwrap();
    let mut app = offline_app(2);
    let dest = destination(&app);
    app.world_mut().commands().spawn(node).connect(dest);
    app.update();
    let out = app.render(1280).unwrap();
    for ch in &out {
        assert!(ch[..384].iter().all(|&v| v == 1.0));
        assert!(ch[384..].iter().all(|&v| v == 0.0));
    }
    assert_eq!(calls.load(Ordering::Relaxed), 3);

    // An effect returning false (the bit crusher) still runs while its input sounds.
    let input = noise(72, 1, 300, 0.5).remove(0);
    let out = run(bit_crusher(), input.clone(), 512);
    for (i, &x) in input.iter().enumerate() {
        assert_eq!(out[i], crush(x, 8.0), "frame {i}");
    }
    assert!(out[300..].iter().all(|&v| v == 0.0));
}

#[test]
fn output_channel_counts_follow_the_spec() {
    // One input, one output, no outputChannelCount: the output follows the input (stereo
    // here, seen through a splitter); with two outputs each has one channel.
    struct Copy;
    impl AudioWorkletProcessor for Copy {
        fn process(
            &mut self,
            inputs: &[AudioBus],
            outputs: &mut [AudioBus],
            _: &WorkletParams,
            _: &ProcessContext,
        ) -> bool {
            for output in outputs.iter_mut() {
                let n = output.channels();
                for (c, ch) in output.channels_mut().iter_mut().enumerate() {
                    ch.fill(if n == inputs[0].channels() {
                        0.5 + c as f32
                    } else {
                        -1.0
                    });
                }
            }
            true
        }
    }
    let mut app = offline_app(2);
    let dest = destination(&app);
    let buffer = add_buffer(&mut app, vec![vec![0.1; 128], vec![0.2; 128]], SR as f32);
    let mut source = AudioBufferSourceNode::new(buffer);
    source.start(0.0).unwrap();
    let node = AudioWorkletNode::builder("copy", |_: &WorkletScope| Copy)
        .build()
        .unwrap();
    let mut c = app.world_mut().commands();
    let w = c.spawn(node).connect(dest).id();
    c.spawn(source).connect(w);
    app.update();
    let out = app.render(128).unwrap();
    assert!(out[0].iter().all(|&v| v == 0.5) && out[1].iter().all(|&v| v == 1.5));

    let two = AudioWorkletNode::builder("copy", |_: &WorkletScope| Copy)
        .outputs(2)
        .build()
        .unwrap();
    use bevy_webaudio::node::{AudioNode, OutputChannels};
    assert_eq!(two.output_channels(0), OutputChannels::Fixed(1));
    assert_eq!(two.output_channels(1), OutputChannels::Fixed(1));
    assert_eq!(two.shape().outputs, 2);
}

#[test]
fn spec_errors_and_param_names() {
    let make = || AudioWorkletNode::builder("x", |_: &WorkletScope| BitCrusher);
    assert!(matches!(
        make().inputs(0).outputs(0).build(),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        make().outputs(2).output_channel_count(vec![1]).build(),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        make().output_channel_count(vec![0]).build(),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        make().output_channel_count(vec![33]).build(),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        make()
            .param(AudioParamDescriptor::new("a"))
            .param(AudioParamDescriptor::new("a"))
            .build(),
        Err(WebAudioError::NotSupported(_))
    ));
    assert!(matches!(
        make()
            .param(
                AudioParamDescriptor::new("a")
                    .default_value(2.0)
                    .range(0.0, 1.0)
            )
            .build(),
        Err(WebAudioError::InvalidState(_))
    ));
    let mut many = make();
    for i in 0..17 {
        many = many.param(AudioParamDescriptor::new(format!("p{i}")));
    }
    assert!(matches!(many.build(), Err(WebAudioError::NotSupported(_))));
    assert!(matches!(
        make().param_value("nope", 1.0).build(),
        Err(WebAudioError::NotSupported(_))
    ));
    let node = bit_crusher();
    assert_eq!(node.param("bits").unwrap().value(), 8.0);
    assert_eq!(
        node.param("bits").unwrap().automation_rate(),
        AutomationRate::KRate
    );
    assert_eq!(node.parameters().count(), 1);
    assert_eq!(ParamId::from_name("custom3"), Some(ParamId::Custom(3)));
    assert_eq!(ParamId::Custom(15).name(), "custom15");
    assert_eq!(ParamId::from_name("gain"), Some(ParamId::Gain));
}
