//! A custom processor (this crate's AudioWorklet): a bit crusher written in Rust, with a
//! `bits` param automated from 8 bits down to 2, fed by an oscillator and followed by an
//! analyser read from the ECS. Renders offline (no device needed) and prints what the
//! analyser sees each 0.25 s.
//!
//! ```text
//!  OscillatorNode ──▶ AudioWorkletNode "bit-crusher" ──▶ AnalyserNode ──▶ destination
//! ```
//!
//! Run: `cargo run --example worklet`

use bevy::prelude::*;
use bevy_webaudio::engine::render::bus::AudioBus;
use bevy_webaudio::node::ProcessContext;
use bevy_webaudio::prelude::*;

/// Quantizes each sample to `bits` bits (rounded to a whole number). Runs on the render
/// thread: no allocation.
struct BitCrusher;

impl AudioWorkletProcessor for BitCrusher {
    fn process(
        &mut self,
        inputs: &[AudioBus],
        outputs: &mut [AudioBus],
        params: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        let steps = (params.at(0, 0).round() - 1.0).exp2();
        for (out, inp) in outputs[0]
            .channels_mut()
            .iter_mut()
            .zip(inputs[0].channels_slice())
        {
            for (o, &x) in out.iter_mut().zip(inp) {
                *o = (x * steps).round() / steps;
            }
        }
        // An effect: active only while its input sounds.
        false
    }
}

fn main() -> Result {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, WebAudioPlugin::offline(48_000, 1)));
    app.update();
    let destination = app.world().resource::<AudioContext>().destination();

    let mut crusher = AudioWorkletNode::builder("bit-crusher", |_: &WorkletScope| BitCrusher)
        .param(
            AudioParamDescriptor::new("bits")
                .default_value(8.0)
                .range(1.0, 16.0)
                .automation_rate(AutomationRate::KRate),
        )
        .build()?;
    crusher
        .param_mut("bits")
        .expect("declared above")
        .set_value_at_time(8.0, 0.0)?
        .linear_ramp_to_value_at_time(2.0, 1.0)?;
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    osc.start(0.0)?;

    let mut commands = app.world_mut().commands();
    let analyser = commands
        .spawn(AnalyserNode::default())
        .connect(destination)
        .id();
    let crusher = commands.spawn(crusher).connect(analyser).id();
    commands.spawn(osc).connect(crusher);
    app.update();

    for step in 1..=4 {
        app.render(12_000)?;
        let mut node = app
            .world_mut()
            .get_mut::<AnalyserNode>(analyser)
            .expect("spawned above");
        let mut spectrum = vec![0.0f32; node.frequency_bin_count()];
        node.get_float_frequency_data(&mut spectrum);
        let mut wave = vec![0.0f32; node.fft_size()];
        node.get_float_time_domain_data(&mut wave);
        let mut levels: Vec<f32> = wave.clone();
        levels.sort_by(f32::total_cmp);
        levels.dedup();
        // Energy above 2 kHz: the quantization's harmonics.
        let bin_hz = 48_000.0 / node.fft_size() as f32;
        let harmonics = spectrum
            .iter()
            .enumerate()
            .filter(|(k, _)| *k as f32 * bin_hz > 2000.0)
            .map(|(_, db)| db)
            .fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        println!(
            "t = {:.2} s: {} distinct sample levels, loudest bin above 2 kHz {harmonics:.1} dB",
            step as f32 * 0.25,
            levels.len()
        );
    }
    Ok(())
}
