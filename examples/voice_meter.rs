//! A voice meter: a bar follows the microphone's level, a marker follows its pitch on a
//! labelled Hz scale, a lamp shows voice activity, and a clear message (on screen and in the
//! log) says when there is no microphone. The game keeps running either way; plug a
//! microphone in and it is picked up within two seconds.
//!
//! Keys: `T` toggles a 220 Hz test tone on the output (on a loopback sound card, or with
//! speakers near the microphone, the meter shows it), `L` measures the input→output latency
//! with a `LatencyProbe` (plays a short chirp).
//!
//! Run: `cargo run --features examples --example voice_meter`
//! (`VOICE_METER_TONE=1` starts with the test tone on.)

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

#[path = "support/mod.rs"]
mod support;

/// Width of the level bar and the pitch scale, in pixels.
const SCALE_WIDTH: f32 = 640.0;
/// The level bar's range in dBFS.
const LEVEL_FLOOR_DB: f32 = -60.0;
/// The pitch scale's range in Hz (logarithmic).
const PITCH_RANGE: (f32, f32) = (60.0, 1000.0);
/// Labelled ticks on the pitch scale.
const PITCH_TICKS: [f32; 8] = [60.0, 100.0, 150.0, 220.0, 330.0, 440.0, 660.0, 1000.0];

#[derive(Component)]
struct LevelFill;
#[derive(Component)]
struct PitchMarker;
#[derive(Component)]
struct VoiceLamp;
#[derive(Component)]
struct Readout;
#[derive(Component)]
struct Alert;

/// The test tone's gain node (gain 0 when off).
#[derive(Resource)]
struct TestTone(Entity);

fn main() {
    App::new()
        .add_plugins((
            DefaultPlugins.set(WindowPlugin {
                primary_window: Some(Window {
                    title: "bevy_webaudio voice meter".into(),
                    resolution: (720, 420).into(),
                    ..default()
                }),
                ..default()
            }),
            support::audio_plugin(),
            support::ExampleSupportPlugin,
            MicrophonePlugin::default(),
        ))
        .add_systems(Startup, (setup_ui, setup_audio))
        .add_systems(
            Update,
            (show_level, show_pitch, show_voice, show_status, keys),
        )
        .run();
}

/// Where `hz` sits on the pitch scale, 0..=1 (logarithmic).
fn pitch_position(hz: f32) -> f32 {
    let (lo, hi) = PITCH_RANGE;
    ((hz.clamp(lo, hi) / lo).ln() / (hi / lo).ln()).clamp(0.0, 1.0)
}

fn label(text: impl Into<String>, size: f32) -> (Text, TextFont, TextColor) {
    (
        Text::new(text),
        TextFont::from_font_size(size),
        TextColor(Color::srgb(0.85, 0.85, 0.9)),
    )
}

/// The dark colour of empty tracks and the lamp when off.
const TRACK: Color = Color::srgb(0.15, 0.15, 0.2);

/// An empty horizontal track (the level bar's and the pitch scale's background).
fn track_bar() -> impl Bundle {
    (
        Node {
            width: Val::Px(SCALE_WIDTH),
            height: Val::Px(26.0),
            ..default()
        },
        BackgroundColor(TRACK),
    )
}

fn setup_ui(mut commands: Commands) {
    commands.spawn(Camera2d);
    commands
        .spawn(Node {
            flex_direction: FlexDirection::Column,
            padding: UiRect::all(Val::Px(24.0)),
            row_gap: Val::Px(10.0),
            ..default()
        })
        .with_children(|root| {
            root.spawn(label("bevy_webaudio voice meter", 22.0));
            root.spawn((
                Text::new(""),
                TextFont::from_font_size(20.0),
                TextColor(Color::srgb(1.0, 0.35, 0.3)),
                Alert,
            ));
            // Level: a bar from −60 to 0 dBFS.
            root.spawn(label("level (RMS, dBFS)", 14.0));
            root.spawn(track_bar()).with_child((
                Node {
                    width: Val::Percent(0.0),
                    height: Val::Percent(100.0),
                    ..default()
                },
                BackgroundColor(Color::srgb(0.2, 0.8, 0.35)),
                LevelFill,
            ));
            root.spawn(scale_labels(
                [-60.0f32, -48.0, -36.0, -24.0, -12.0, 0.0]
                    .map(|db| ((db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB, format!("{db}"))),
            ));
            // Pitch: a marker on a logarithmic Hz scale.
            root.spawn(label("pitch (Hz)", 14.0));
            root.spawn(track_bar()).with_children(|scale| {
                for hz in PITCH_TICKS {
                    scale.spawn((
                        Node {
                            position_type: PositionType::Absolute,
                            left: Val::Px(pitch_position(hz) * SCALE_WIDTH),
                            width: Val::Px(1.0),
                            height: Val::Percent(100.0),
                            ..default()
                        },
                        BackgroundColor(Color::srgb(0.4, 0.4, 0.5)),
                    ));
                }
                scale.spawn((
                    Node {
                        position_type: PositionType::Absolute,
                        left: Val::Px(0.0),
                        width: Val::Px(6.0),
                        height: Val::Percent(100.0),
                        ..default()
                    },
                    BackgroundColor(Color::srgb(1.0, 0.75, 0.2)),
                    Visibility::Hidden,
                    PitchMarker,
                ));
            });
            root.spawn(scale_labels(
                PITCH_TICKS.map(|hz| (pitch_position(hz), format!("{hz}"))),
            ));
            // Voice activity lamp.
            root.spawn(Node {
                column_gap: Val::Px(12.0),
                align_items: AlignItems::Center,
                ..default()
            })
            .with_children(|row| {
                row.spawn((
                    Node {
                        width: Val::Px(22.0),
                        height: Val::Px(22.0),
                        ..default()
                    },
                    BackgroundColor(TRACK),
                    VoiceLamp,
                ));
                row.spawn(label("voice activity", 16.0));
            });
            root.spawn((label("", 13.0), Readout));
        });
}

/// A row of labels at fractions of the scale width.
fn scale_labels<const N: usize>(ticks: [(f32, String); N]) -> impl Bundle {
    let children: Vec<_> = ticks
        .into_iter()
        .map(|(at, text)| {
            (
                Node {
                    position_type: PositionType::Absolute,
                    left: Val::Px(at * SCALE_WIDTH - 8.0),
                    ..default()
                },
                label(text, 12.0),
            )
        })
        .collect();
    (
        Node {
            width: Val::Px(SCALE_WIDTH),
            height: Val::Px(16.0),
            ..default()
        },
        Children::spawn(SpawnIter(children.into_iter())),
    )
}

fn setup_audio(mut commands: Commands, context: Res<AudioContext>) -> Result {
    let on = std::env::var("VOICE_METER_TONE").is_ok_and(|v| v == "1");
    let gain = commands
        .spawn(GainNode::new(if on { 0.35 } else { 0.0 }))
        .connect(context.destination())
        .id();
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 220.0);
    osc.start(0.0)?;
    commands.spawn(osc).connect(gain);
    commands.insert_resource(TestTone(gain));
    Ok(())
}

fn show_level(mic: Res<Microphone>, mut fill: Single<&mut Node, With<LevelFill>>) {
    let level = (mic.level_dbfs() - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB;
    fill.width = Val::Percent(100.0 * level.clamp(0.0, 1.0));
}

fn show_pitch(
    mic: Res<Microphone>,
    mut marker: Single<(&mut Node, &mut Visibility), With<PitchMarker>>,
) {
    let (node, visibility) = &mut *marker;
    match mic.pitch_hz().filter(|_| mic.voice_active()) {
        Some(hz) => {
            node.left = Val::Px(pitch_position(hz) * SCALE_WIDTH - 3.0);
            **visibility = Visibility::Inherited;
        }
        None => **visibility = Visibility::Hidden,
    }
}

fn show_voice(mic: Res<Microphone>, mut lamp: Single<&mut BackgroundColor, With<VoiceLamp>>) {
    lamp.0 = if mic.voice_active() {
        Color::srgb(0.2, 0.9, 0.3)
    } else {
        TRACK
    };
}

fn show_status(
    mic: Res<Microphone>,
    mut faults: MessageReader<MicrophoneFault>,
    mut alert: Single<&mut Text, (With<Alert>, Without<Readout>)>,
    mut readout: Single<&mut Text, (With<Readout>, Without<Alert>)>,
) {
    for MicrophoneFault(error) in faults.read() {
        error!("voice meter: {error} (plug a microphone in; it is retried every 2 s)");
    }
    alert.0 = match mic.error() {
        Some(error) => format!("No microphone: {error}\nThe meter waits; plug one in."),
        None => String::new(),
    };
    let device = mic.device().map_or("none".to_string(), |d| {
        format!(
            "{} ({} Hz, {} ch, {})",
            d.name, d.sample_rate, d.channels, d.sample_format
        )
    });
    let latency = match mic.measured_latency() {
        Some(Ok(m)) => format!("{:.1} ms", m.latency_ms),
        Some(Err(e)) => e.to_string(),
        None => "press L to measure".into(),
    };
    readout.0 = format!(
        "{:.1} dBFS (peak {:.1}), pitch {} (confidence {:.2}), voice {}\n\
         device {device}\n\
         captured {} frames, dropped {}, callback {} frames, input->output latency {latency}\n\
         T: test tone 220 Hz, L: measure latency",
        mic.level_dbfs(),
        mic.peak_dbfs(),
        mic.pitch_hz()
            .map_or("-".to_string(), |hz| format!("{hz:.1} Hz")),
        mic.pitch_confidence(),
        if mic.voice_active() { "on" } else { "off" },
        mic.captured_frames(),
        mic.dropped_frames(),
        mic.callback_frames(),
    );
}

fn keys(
    input: Res<ButtonInput<KeyCode>>,
    tone: Res<TestTone>,
    mic: Res<Microphone>,
    context: Res<AudioContext>,
    probes: Query<(), With<LatencyProbe>>,
    mut gains: Query<&mut GainNode>,
    mut commands: Commands,
) -> Result {
    if input.just_pressed(KeyCode::KeyT)
        && let Ok(mut gain) = gains.get_mut(tone.0)
    {
        let on = gain.gain.value() == 0.0;
        gain.gain.set_value(if on { 0.35 } else { 0.0 })?;
    }
    if input.just_pressed(KeyCode::KeyL) && probes.is_empty() && mic.is_available() {
        commands
            .spawn(LatencyProbe::bundle(mic.stream())?)
            .connect(context.destination());
    }
    Ok(())
}
