//! A playable synthesizer: the computer keyboard is a piano.
//!
//! Each key press spawns an `OscillatorNode` → `GainNode` voice whose gain follows an ADSR
//! envelope made of AudioParam automation (a linear attack, a `setTargetAtTime` decay to the
//! sustain level, and on release `cancelAndHoldAtTime` + `setTargetAtTime` to silence). Voices
//! stop themselves and are despawned when their oscillator reports `Ended`. All voices go
//! through a master gain and a feedback echo (a `DelayNode` in a cycle) to the destination.
//!
//! ```text
//! voice osc → voice gain ─┬──────────────────────────→ master → destination
//!                         └→ echo delay → feedback ─┬→ master
//!                                ↑__________________┘
//! ```
//!
//! Keys: `A S D F G H J K L` white keys, `W E T Y U O P` black keys, `Z`/`X` octave down/up,
//! `1`–`4` sine / square / sawtooth / triangle, `Space` toggles the echo.
//!
//! Run: `cargo run --release --example synth --features examples`

use std::collections::HashMap;

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

#[path = "support/mod.rs"]
mod support;

/// Keys in piano order with their semitone offset from C.
const KEYS: [(KeyCode, i32); 16] = [
    (KeyCode::KeyA, 0),
    (KeyCode::KeyW, 1),
    (KeyCode::KeyS, 2),
    (KeyCode::KeyE, 3),
    (KeyCode::KeyD, 4),
    (KeyCode::KeyF, 5),
    (KeyCode::KeyT, 6),
    (KeyCode::KeyG, 7),
    (KeyCode::KeyY, 8),
    (KeyCode::KeyH, 9),
    (KeyCode::KeyU, 10),
    (KeyCode::KeyJ, 11),
    (KeyCode::KeyK, 12),
    (KeyCode::KeyO, 13),
    (KeyCode::KeyL, 14),
    (KeyCode::KeyP, 15),
];

/// Envelope shape, in seconds and linear gain.
const ATTACK: f64 = 0.01;
const DECAY: f64 = 0.15;
const PEAK: f32 = 0.25;
const SUSTAIN: f32 = 0.12;
const RELEASE: f64 = 0.12;

#[derive(Resource)]
struct Synth {
    master: Entity,
    echo_send: Entity,
    octave: i32,
    waveform: OscillatorType,
    echo: bool,
    /// Held keys → (oscillator, voice gain).
    voices: HashMap<KeyCode, (Entity, Entity)>,
}

#[derive(Component)]
struct StatusText;

fn main() {
    App::new()
        .add_plugins((
            DefaultPlugins.set(WindowPlugin {
                primary_window: Some(Window {
                    title: "bevy_webaudio synth".into(),
                    resolution: (720, 360).into(),
                    ..default()
                }),
                ..default()
            }),
            support::audio_plugin(),
            support::ExampleSupportPlugin,
        ))
        .add_systems(Startup, setup)
        .add_systems(Update, (play_keys, switch_sound, show_status))
        .run();
}

fn setup(mut commands: Commands, context: Res<AudioContext>) {
    commands.spawn(Camera2d);
    commands.spawn((
        Text::new(""),
        TextFont::from_font_size(18.0),
        Node {
            margin: UiRect::all(Val::Px(16.0)),
            ..default()
        },
        StatusText,
    ));
    let master = commands
        .spawn(GainNode::new(0.8))
        .connect(context.destination())
        .id();
    // A feedback echo: 300 ms delay, 40 % fed back — a cycle, legal because of the delay.
    let delay = DelayNode::with_delay(1.0, 0.3).expect("valid delay");
    let echo_send = commands.spawn(GainNode::new(0.35)).id();
    let echo = commands.spawn(delay).id();
    let feedback = commands.spawn(GainNode::new(0.4)).id();
    commands.entity(echo_send).connect(echo);
    commands.entity(echo).connect(feedback);
    commands.entity(feedback).connect(echo).connect(master);
    commands.insert_resource(Synth {
        master,
        echo_send,
        octave: 4,
        waveform: OscillatorType::Sawtooth,
        echo: true,
        voices: HashMap::new(),
    });
}

/// MIDI-style equal temperament: A4 = 440 Hz.
fn frequency(octave: i32, semitone: i32) -> f32 {
    let midi = 12 * (octave + 1) + semitone;
    440.0 * 2f32.powf((midi - 69) as f32 / 12.0)
}

fn note_on(commands: &mut Commands, synth: &Synth, now: f64, hz: f32) -> Result<(Entity, Entity)> {
    let mut osc = OscillatorNode::new(synth.waveform, hz);
    osc.start(now)?;
    let mut gain = GainNode::new(0.0);
    gain.gain
        .set_value_at_time(0.0, now)?
        .linear_ramp_to_value_at_time(PEAK, now + ATTACK)?
        .set_target_at_time(SUSTAIN, now + ATTACK, DECAY / 3.0)?;
    let gain = commands
        .spawn(gain)
        .connect(synth.master)
        .connect(synth.echo_send)
        .id();
    let osc = commands
        .spawn(osc)
        .connect(gain)
        .observe(move |ended: On<Ended>, mut commands: Commands| {
            // The voice finished its release: free its nodes.
            commands.entity(ended.entity).despawn();
            commands.entity(gain).despawn();
        })
        .id();
    Ok((osc, gain))
}

fn play_keys(
    keys: Res<ButtonInput<KeyCode>>,
    context: Res<AudioContext>,
    mut synth: ResMut<Synth>,
    mut oscillators: Query<&mut OscillatorNode>,
    mut gains: Query<&mut GainNode>,
    mut commands: Commands,
) -> Result {
    // Schedule slightly ahead of the clock so the envelope's first event is never late.
    let now = context.current_time() + 0.005;
    for (key, semitone) in KEYS {
        if keys.just_pressed(key) && !synth.voices.contains_key(&key) {
            let voice = note_on(
                &mut commands,
                &synth,
                now,
                frequency(synth.octave, semitone),
            )?;
            synth.voices.insert(key, voice);
        }
        if keys.just_released(key)
            && let Some((osc, gain)) = synth.voices.remove(&key)
        {
            if let Ok(mut gain) = gains.get_mut(gain) {
                gain.gain.cancel_and_hold_at_time(now)?.set_target_at_time(
                    0.0,
                    now,
                    RELEASE / 3.0,
                )?;
            }
            if let Ok(mut osc) = oscillators.get_mut(osc) {
                osc.stop(now + RELEASE * 3.0)?;
            }
        }
    }
    Ok(())
}

fn switch_sound(
    keys: Res<ButtonInput<KeyCode>>,
    mut synth: ResMut<Synth>,
    mut gains: Query<&mut GainNode>,
) -> Result {
    for (key, waveform) in [
        (KeyCode::Digit1, OscillatorType::Sine),
        (KeyCode::Digit2, OscillatorType::Square),
        (KeyCode::Digit3, OscillatorType::Sawtooth),
        (KeyCode::Digit4, OscillatorType::Triangle),
    ] {
        if keys.just_pressed(key) {
            synth.waveform = waveform;
        }
    }
    if keys.just_pressed(KeyCode::KeyZ) {
        synth.octave = (synth.octave - 1).max(1);
    }
    if keys.just_pressed(KeyCode::KeyX) {
        synth.octave = (synth.octave + 1).min(7);
    }
    if keys.just_pressed(KeyCode::Space) {
        synth.echo = !synth.echo;
        if let Ok(mut send) = gains.get_mut(synth.echo_send) {
            send.gain.set_value(if synth.echo { 0.35 } else { 0.0 })?;
        }
    }
    Ok(())
}

fn show_status(
    context: Res<AudioContext>,
    synth: Res<Synth>,
    mut text: Single<&mut Text, With<StatusText>>,
) {
    let (_, average, peak) = context.render_load();
    text.0 = format!(
        "bevy_webaudio synth\n\n\
         keys A..L / W..P play, Z/X octave ({}), 1-4 waveform ({:?}), space echo ({})\n\n\
         device: {} ({:?}), {} Hz, {} ch, {} frames/callback\n\
         time {:.2} s, base latency {:.1} ms, output latency {:.1} ms\n\
         render load avg {:.1} % / peak {:.1} %, xruns {}, nodes {}, voices {}",
        synth.octave,
        synth.waveform,
        if synth.echo { "on" } else { "off" },
        context.device().name,
        context.backend(),
        context.sample_rate(),
        context.channels(),
        context.buffer_frames(),
        context.current_time(),
        context.base_latency() * 1000.0,
        context.output_latency() * 1000.0,
        average * 100.0,
        peak * 100.0,
        context.xruns(),
        context.node_count(),
        synth.voices.len(),
    );
}
