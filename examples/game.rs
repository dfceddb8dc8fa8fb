//! A small game scene built on `GameAudioPlugin`: footsteps and impacts as one-shots, a
//! looping ambience, music on its own bus ducked while a key is held, and the live voice count
//! on screen. Every sound is made procedurally (no asset files).
//!
//! Keys: arrows walk (footsteps follow the walker, who is also the listener), `Space` fires a
//! burst of impacts around the walker (the effects bus is capped at 12 voices, farthest stolen),
//! hold `V` to duck the music (attack 150 ms, release 600 ms), `M` mutes/unmutes the music bus.
//!
//! Run: `cargo run --release --example game --features examples`

use std::f32::consts::TAU;

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

#[path = "support/mod.rs"]
mod support;

const SR: f32 = 48_000.0;

#[derive(Resource)]
struct Sounds {
    step: Handle<AudioBuffer>,
    impact: Handle<AudioBuffer>,
}

#[derive(Resource)]
struct Walker {
    listener: Entity,
    next_step: f32,
    rng: u32,
}

impl Walker {
    /// A cheap LCG in `-1..1`.
    fn random(&mut self) -> f32 {
        self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (self.rng >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
}

#[derive(Component)]
struct StatusText;

fn main() {
    App::new()
        .add_plugins((
            DefaultPlugins.set(WindowPlugin {
                primary_window: Some(Window {
                    title: "bevy_webaudio game audio".into(),
                    resolution: (760, 320).into(),
                    ..default()
                }),
                ..default()
            }),
            support::audio_plugin(),
            support::ExampleSupportPlugin,
            GameAudioPlugin::default()
                .with_limit(MixBus::EFFECTS, VoiceLimit::new(12, StealPolicy::Farthest))
                .with_ducking(DuckRule {
                    target: MixBus::MUSIC,
                    trigger: DuckTrigger::Manual(DuckFlag::of(Hold)),
                    level: 0.2,
                    attack: 0.15,
                    release: 0.6,
                }),
        ))
        .add_systems(Startup, setup)
        .add_systems(Update, (walk, impacts, duck_and_mute, show_status))
        .run();
}

/// The manual ducking flag held down by V.
struct Hold;

impl AudioLabel for Hold {
    fn name(&self) -> &'static str {
        "hold"
    }
}

/// Deterministic noise for the procedural buffers.
fn noise(seed: &mut u32) -> f32 {
    *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    (*seed >> 8) as f32 / (1u32 << 23) as f32 - 1.0
}

fn make(
    buffers: &mut Assets<AudioBuffer>,
    seconds: f32,
    f: impl Fn(f32, f32) -> f32,
) -> Handle<AudioBuffer> {
    let mut seed = 7;
    let samples = (0..(seconds * SR) as usize)
        .map(|i| f(i as f32 / SR, noise(&mut seed)))
        .collect();
    buffers.add(AudioBuffer::from_samples(vec![samples], SR).expect("valid buffer"))
}

fn setup(mut commands: Commands, mut buffers: ResMut<Assets<AudioBuffer>>) {
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
    // A footstep: a 60 ms noise burst with a fast decay; an impact: a decaying 70 Hz thud
    // with a noisy crack.
    let step = make(&mut buffers, 0.06, |t, n| n * 0.5 * (-t * 70.0).exp());
    let impact = make(&mut buffers, 0.5, |t, n| {
        ((TAU * 70.0 * t).sin() * 0.8 + n * 0.4 * (-t * 40.0).exp()) * (-t * 8.0).exp()
    });
    // Ambience: 3 s of soft, slowly swelling noise, looped; music: a 4 s arpeggio, looped.
    let wind = make(&mut buffers, 3.0, |t, n| {
        n * 0.06 * (1.0 + 0.5 * (TAU * t / 3.0).sin())
    });
    let music = make(&mut buffers, 4.0, |t, _| {
        let notes = [220.0, 277.18, 329.63, 440.0, 329.63, 277.18, 246.94, 329.63];
        let k = (t * 2.0) as usize % notes.len();
        let local = t * 2.0 - (t * 2.0).floor();
        (TAU * notes[k] * t).sin() * 0.2 * (-local * 3.0).exp()
    });
    commands
        .play_sound(wind)
        .looping()
        .bus(MixBus::EFFECTS)
        .priority(10);
    commands.play_sound(music).looping().bus(MixBus::MUSIC);
    let listener = commands
        .spawn((AudioListener::default(), Transform::default()))
        .id();
    commands.insert_resource(Sounds { step, impact });
    commands.insert_resource(Walker {
        listener,
        next_step: 0.0,
        rng: 1,
    });
}

/// Arrows move the walker (the listener); a footstep every 0.4 s while moving, at the feet.
fn walk(
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time>,
    sounds: Res<Sounds>,
    mut walker: ResMut<Walker>,
    mut transforms: Query<&mut Transform, With<AudioListener>>,
    mut commands: Commands,
) {
    let mut direction = Vec3::ZERO;
    for (key, d) in [
        (KeyCode::ArrowLeft, Vec3::NEG_X),
        (KeyCode::ArrowRight, Vec3::X),
        (KeyCode::ArrowUp, Vec3::NEG_Z),
        (KeyCode::ArrowDown, Vec3::Z),
    ] {
        if keys.pressed(key) {
            direction += d;
        }
    }
    let Ok(mut transform) = transforms.get_mut(walker.listener) else {
        return;
    };
    if direction == Vec3::ZERO {
        walker.next_step = 0.0;
        return;
    }
    transform.translation += direction.normalize() * 3.0 * time.delta_secs();
    walker.next_step -= time.delta_secs();
    if walker.next_step <= 0.0 {
        walker.next_step = 0.4;
        let jitter = walker.random();
        commands
            .play_sound(sounds.step.clone())
            .volume(0.7)
            .playback_rate(1.0 + 0.08 * jitter)
            .at(transform.translation - Vec3::Y * 1.5);
    }
}

/// `Space`: eight impacts at random spots within 15 m, staggered over 400 ms.
fn impacts(
    keys: Res<ButtonInput<KeyCode>>,
    sounds: Res<Sounds>,
    mut walker: ResMut<Walker>,
    listeners: Query<&Transform, With<AudioListener>>,
    mut commands: Commands,
) {
    if !keys.just_pressed(KeyCode::Space) {
        return;
    }
    let centre = listeners
        .get(walker.listener)
        .map_or(Vec3::ZERO, |t| t.translation);
    for i in 0..8 {
        let offset = Vec3::new(walker.random(), 0.0, walker.random()) * 15.0;
        let detune = walker.random() * 200.0;
        commands
            .play_sound(sounds.impact.clone())
            .detune(detune)
            .delay(f64::from(i) * 0.05)
            .at(centre + offset);
    }
}

fn duck_and_mute(
    keys: Res<ButtonInput<KeyCode>>,
    mut flags: ResMut<DuckFlags>,
    mut volumes: ResMut<BusVolumes>,
) {
    flags.set(Hold, keys.pressed(KeyCode::KeyV));
    if keys.just_pressed(KeyCode::KeyM) {
        let v = volumes.get(MixBus::MUSIC);
        volumes.set(MixBus::MUSIC, if v > 0.0 { 0.0 } else { 1.0 });
    }
}

fn show_status(
    context: Res<AudioContext>,
    voices: Query<&Voice>,
    flags: Res<DuckFlags>,
    volumes: Res<BusVolumes>,
    mut text: Single<&mut Text, With<StatusText>>,
) {
    let count = |bus: MixBus| {
        voices
            .iter()
            .filter(|v| v.bus == bus && v.is_playing())
            .count()
    };
    let virtual_voices = voices
        .iter()
        .filter(|v| v.state == VoiceState::Virtual)
        .count();
    text.0 = format!(
        "bevy_webaudio game audio\n\n\
         arrows walk (footsteps), space: impacts, hold V: duck music, M: mute music\n\n\
         voices playing: effects {} / 12, music {}, virtual {}\n\
         music: volume {:.1}, ducked {}\n\
         device: {} ({:?}), time {:.2} s, nodes {} (render side {})",
        count(MixBus::EFFECTS),
        count(MixBus::MUSIC),
        virtual_voices,
        volumes.get(MixBus::MUSIC),
        flags.is_raised(Hold),
        context.device().name,
        context.backend(),
        context.current_time(),
        context.node_count(),
        context.render_node_count(),
    );
}
