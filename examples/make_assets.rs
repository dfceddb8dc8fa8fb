//! Synthesizes the repository's sample sounds with the crate's own offline renderer and writes
//! them as WAV files into the directory given as the first argument. `scripts/make_assets.sh`
//! runs it and encodes some of them to FLAC, Ogg Vorbis and MP3 for `assets/sounds/`.
//!
//! Each sound is a small graph rendered offline, so the files are the same on every run.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

/// One sound: file name, sample rate, channels, seconds, and the graph that plays it.
type Build = fn(&mut World) -> Result<(), WebAudioError>;
const SOUNDS: [(&str, u32, u16, f64, Build); 4] = [
    ("click", 48_000, 1, 0.05, click),
    ("blip", 48_000, 1, 0.3, blip),
    ("chord", 44_100, 2, 2.0, chord),
    ("whoosh", 44_100, 1, 1.0, whoosh),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir: PathBuf = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join("bevy_webaudio_assets"),
        Into::into,
    );
    std::fs::create_dir_all(&dir)?;
    for (name, rate, channels, seconds, build) in SOUNDS {
        render(&dir, name, rate, channels, seconds, build)?;
    }
    Ok(())
}

fn render(
    dir: &Path,
    name: &str,
    rate: u32,
    channels: u16,
    seconds: f64,
    build: Build,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, WebAudioPlugin::offline(rate, channels)));
    app.update();
    build(app.world_mut())?;
    app.world_mut().flush();
    app.update();
    let path = dir.join(format!("{name}.wav"));
    let frames = (seconds * f64::from(rate)) as usize;
    app.render_to_wav(frames, &path, WavFormat::Int16)?;
    println!("{}", path.display());
    Ok(())
}

/// An envelope gain (attack 2 ms, exponential decay with `decay` s) at `at`, into `to`.
fn envelope(world: &mut World, to: Entity, peak: f32, decay: f64) -> Result<Entity, WebAudioError> {
    let mut gain = GainNode::new(0.0);
    gain.gain
        .set_value_at_time(0.0, 0.0)?
        .linear_ramp_to_value_at_time(peak, 0.002)?
        .set_target_at_time(0.0, 0.002, decay)?;
    Ok(world.commands().spawn(gain).connect(to).id())
}

/// A 2 kHz sine burst with a 8 ms decay.
fn click(world: &mut World) -> Result<(), WebAudioError> {
    let destination = world.resource::<AudioContext>().destination();
    let env = envelope(world, destination, 0.8, 0.008)?;
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 2000.0);
    osc.start(0.0)?;
    world.commands().spawn(osc).connect(env);
    Ok(())
}

/// A square wave gliding up an octave, 440 → 880 Hz.
fn blip(world: &mut World) -> Result<(), WebAudioError> {
    let destination = world.resource::<AudioContext>().destination();
    let env = envelope(world, destination, 0.3, 0.08)?;
    let mut osc = OscillatorNode::new(OscillatorType::Square, 440.0);
    osc.frequency
        .set_value_at_time(440.0, 0.0)?
        .exponential_ramp_to_value_at_time(880.0, 0.15)?;
    osc.start(0.0)?;
    world.commands().spawn(osc).connect(env);
    Ok(())
}

/// A C-major chord of sawtooths through a low-pass, panned across the stereo field.
fn chord(world: &mut World) -> Result<(), WebAudioError> {
    let destination = world.resource::<AudioContext>().destination();
    let mut filter = BiquadFilterNode::new(BiquadFilterType::Lowpass);
    filter.frequency.set_value(1800.0)?;
    let filter = world.commands().spawn(filter).connect(destination).id();
    let env = envelope(world, filter, 0.5, 0.7)?;
    for (frequency, pan) in [(261.63f32, -0.6f32), (329.63, 0.0), (392.0, 0.6)] {
        let mut panner = StereoPannerNode::default();
        panner.pan.set_value(pan)?;
        let panner = world.commands().spawn(panner).connect(env).id();
        let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, frequency);
        osc.start(0.0)?;
        world.commands().spawn(osc).connect(panner);
    }
    Ok(())
}

/// White noise (a looping buffer of seeded noise) through a band-pass sweeping 300 Hz → 4 kHz
/// and back.
fn whoosh(world: &mut World) -> Result<(), WebAudioError> {
    let destination = world.resource::<AudioContext>().destination();
    let mut state = 0x2545_f491_u32;
    let noise: Vec<f32> = (0..44_100)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as f32 / u32::MAX as f32 * 2.0 - 1.0
        })
        .collect();
    let buffer = AudioBuffer::from_samples(vec![noise], 44_100.0)?;
    let handle = world.resource_mut::<Assets<AudioBuffer>>().add(buffer);
    let mut filter = BiquadFilterNode::new(BiquadFilterType::Bandpass);
    filter.q.set_value(2.0)?;
    filter
        .frequency
        .set_value_at_time(300.0, 0.0)?
        .exponential_ramp_to_value_at_time(4000.0, 0.5)?
        .exponential_ramp_to_value_at_time(300.0, 1.0)?;
    let mut gain = GainNode::new(0.0);
    gain.gain
        .set_value_at_time(0.0, 0.0)?
        .linear_ramp_to_value_at_time(0.9, 0.4)?
        .linear_ramp_to_value_at_time(0.0, 1.0)?;
    let gain = world.commands().spawn(gain).connect(destination).id();
    let filter = world.commands().spawn(filter).connect(gain).id();
    let mut source = AudioBufferSourceNode::new(handle);
    source.looping = true;
    source.start(0.0)?;
    world.commands().spawn(source).connect(filter);
    Ok(())
}
