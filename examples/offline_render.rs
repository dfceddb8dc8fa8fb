//! Renders a short piece (a C-major arpeggio of enveloped oscillators through a delay echo)
//! with an offline context and writes it to a WAV file: no audio device, no window.
//!
//! `cargo run --example offline_render [-- out.wav]` (default: `offline_render.wav` in the
//! system temp directory).

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

const RATE: u32 = 48_000;
const SECONDS: f64 = 2.5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join("offline_render.wav"),
        Into::into,
    );
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, WebAudioPlugin::offline(RATE, 2)));
    app.update();
    build_piece(app.world_mut())?;
    app.update();
    let frames = (SECONDS * f64::from(RATE)) as usize;
    let rendered = app.render_to_wav(frames, &path, WavFormat::Int16)?;
    let peak = rendered
        .iter()
        .flatten()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    println!(
        "wrote {} ({frames} frames, {} channels, {RATE} Hz, peak {peak:.3})",
        path.display(),
        rendered.len()
    );
    Ok(())
}

/// Four notes, each an oscillator with an attack/decay envelope, into a feedback echo.
fn build_piece(world: &mut World) -> Result<(), WebAudioError> {
    let destination = world.resource::<AudioContext>().destination();
    let mut commands = world.commands();
    let master = commands.spawn(GainNode::new(0.6)).connect(destination).id();
    let mut delay = DelayNode::new(1.0)?;
    delay.delay_time.set_value(0.3)?;
    let echo = commands.spawn(delay).connect(master).id();
    let feedback = commands.spawn(GainNode::new(0.35)).connect(echo).id();
    commands.entity(echo).connect(feedback);
    for (i, frequency) in [261.63f32, 329.63, 392.0, 523.25].into_iter().enumerate() {
        let at = i as f64 * 0.3;
        let mut envelope = GainNode::new(0.0);
        envelope
            .gain
            .set_value_at_time(0.0, at)?
            .linear_ramp_to_value_at_time(0.4, at + 0.01)?
            .set_target_at_time(0.0, at + 0.05, 0.15)?;
        let envelope = commands.spawn(envelope).connect(master).connect(echo).id();
        let mut oscillator = OscillatorNode::new(OscillatorType::Triangle, frequency);
        oscillator.start(at)?;
        oscillator.stop(at + 1.2)?;
        commands.spawn(oscillator).connect(envelope);
    }
    world.flush();
    Ok(())
}
