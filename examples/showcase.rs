//! The showcase: a small voice-reactive game. Shout "hop!" to jump over the crates, hum
//! higher than a reference pitch to run right, lower to run left. Everything heard is the
//! crate's audio graph:
//!
//! - the **music** is a graph of nodes: a square-wave arpeggio and a detuned sawtooth pad
//!   through a low-pass whose cutoff sweeps by `AudioParam` automation, a feedback delay, a
//!   triangle bass (`showcase/audio.rs`). It plays into the music bus, which has a
//!   `DynamicsCompressorNode` and is ducked while the player speaks
//!   (`DuckTrigger::Microphone`);
//! - every **crate** hums its own note through a `PannerNode` with `SpatialAudio` on the crate
//!   entity, with a tremolo (the rings pulse with it) and an exaggerated Doppler: crates are
//!   heard on the right before they are seen, and leave on the left. The `AudioListener`
//!   runs with the player, 3 m in front of the play plane (towards the screen), so a crate
//!   straight ahead is centred and one 3 m away is half-way to one side;
//! - **hits** are one-shots from `assets/sounds/` (`play_sound`): the jump, a point, a crash
//!   (spatial, where the crate stood), a chord every fifth point, "hello" at the first voice;
//! - the **microphone** (`MicrophonePlugin`) gives the level (jumps), pitch (steering) and
//!   voice activity (ducking, the lamp).
//!
//! Without a microphone the game says so on screen and plays from the keyboard: `Space`
//! jumps, `←`/`→` run (they also work with one). `R` makes the pitch you hum the reference,
//! `+`/`-` move the jump threshold, `F2` opens the inspector (built with `--features
//! inspector`). `SHOWCASE_REFERENCE_HZ` sets the starting reference (default 220 Hz).
//!
//! Run: `cargo run --example showcase --features inspector` (or `--features examples`,
//! without the inspector). On exit it prints, besides the audio report,
//! `showcase: jumps=N voice_jumps=N steer=LR ... mic=ok|missing`: `steer` lists the
//! directions the voice steered in, in order (each held at least 0.25 s).
//! `scripts/showcase-voice.sh` plays tones into a virtual microphone and checks that line.

use bevy::asset::AssetPlugin;
use bevy::camera::ScalingMode;
use bevy::prelude::*;
use bevy_webaudio::prelude::*;

#[path = "showcase/audio.rs"]
mod audio;
#[path = "showcase/hud.rs"]
mod hud;
#[path = "support/mod.rs"]
mod support;
#[path = "showcase/world.rs"]
mod world;

use audio::Sounds;

/// Metres of world the window shows vertically (the world is in metres, so the panners'
/// distances are too).
const VIEW_HEIGHT: f32 = 11.25;
/// The top of the ground.
pub const GROUND_Y: f32 = -3.2;
/// The player is a ball this big.
pub const PLAYER_RADIUS: f32 = 0.45;
/// Where the player can run.
const PLAYER_X: (f32, f32) = (-8.5, 5.0);
/// Running speed at full steer, in m/s.
const RUN_SPEED: f32 = 6.0;
/// Gravity, in m/s².
pub const GRAVITY: f32 = -32.0;
/// Take-off speed of a jump (2.6 m high, 0.8 s in the air).
const JUMP_SPEED: f32 = 13.0;
/// A jump asked for in the air happens if the player lands within this time.
const JUMP_BUFFER: f32 = 0.2;
/// The jump threshold at the start, in dBFS (RMS): crossing it upwards jumps.
const JUMP_DBFS: f32 = -26.0;
/// The level must fall this far below the threshold before the voice can jump again.
const JUMP_REARM_DB: f32 = 6.0;
/// No steering within this many semitones of the reference...
const DEAD_ZONE_SEMITONES: f32 = 1.0;
/// ... full speed from this many on.
const FULL_STEER_SEMITONES: f32 = 5.0;
/// A pitch steers only when the detector is at least this sure of it.
const MIN_PITCH_CONFIDENCE: f32 = 0.8;
/// A voice steering direction enters the exit line's `steer=` once held this long.
const STEER_HOLD: f32 = 0.25;
/// The listener's distance in front of the play plane.
const EARS_Z: f32 = 3.0;

/// The player: a ball that runs and jumps.
#[derive(Component, Default)]
pub struct Player {
    velocity_y: f32,
    grounded: bool,
    /// Seconds left to perform a requested jump, and whether the voice asked for it.
    jump_request: Option<(f32, bool)>,
    /// Seconds left of the red flash after a crash.
    pub flash: f32,
}

/// The `AudioListener`: follows the player's x, in front of the play plane.
#[derive(Component)]
struct Ears;

/// The player's shadow on the ground.
#[derive(Component)]
struct Shadow;

/// The ring around the player that swells with the microphone level.
#[derive(Component)]
struct Aura;

/// How the voice drives the player.
#[derive(Resource)]
pub struct VoiceControl {
    /// Humming above this runs right, below it runs left (Hz).
    pub reference_hz: f32,
    /// Crossing this level upwards jumps (dBFS).
    pub jump_dbfs: f32,
    /// Whether the level has fallen back below the threshold since the last voice jump.
    armed: bool,
    /// This frame's steering, −1 (full left) ..= 1 (full right), and whether the voice gave it.
    pub steer: f32,
    /// The pitch's distance from the reference in semitones, when the voice steers.
    pub semitones: Option<f32>,
    /// Whether a voice has been heard yet (the first one is greeted).
    greeted: bool,
}

/// What the game counts, for the HUD and the exit line.
#[derive(Resource, Default)]
pub struct Stats {
    /// Crates jumped over.
    pub score: u32,
    /// Crates crashed into.
    pub hits: u32,
    /// Jumps, and how many of them the voice started.
    pub jumps: u32,
    /// See `jumps`.
    pub voice_jumps: u32,
    /// Seconds the voice steered left and right.
    steer_left_s: f32,
    steer_right_s: f32,
    /// The directions the voice steered in, in order (`L`, `R`), each held ≥ [`STEER_HOLD`].
    steer_path: String,
    /// The voice's current direction and for how long it has been held.
    held: Option<(char, f32)>,
}

impl Stats {
    /// Accounts `dt` seconds of voice steering `steer` (`None`: the voice is not steering).
    fn record_steer(&mut self, steer: Option<f32>, dt: f32) {
        let direction = match steer {
            Some(s) if s < 0.0 => Some('L'),
            Some(s) if s > 0.0 => Some('R'),
            _ => None,
        };
        match direction {
            Some('L') => self.steer_left_s += dt,
            Some(_) => self.steer_right_s += dt,
            None => {}
        }
        self.held = match (direction, self.held) {
            (Some(d), Some((h, t))) if d == h => Some((d, t + dt)),
            (Some(d), _) => Some((d, dt)),
            (None, _) => None,
        };
        if let Some((d, t)) = self.held
            && t >= STEER_HOLD
            && !self.steer_path.ends_with(d)
        {
            self.steer_path.push(d);
        }
    }
}

fn main() {
    let reference_hz = std::env::var("SHOWCASE_REFERENCE_HZ")
        .ok()
        .and_then(|v| v.parse::<f32>().ok())
        .filter(|hz| hz.is_finite() && *hz > 0.0)
        .unwrap_or(220.0);
    let mut game_audio = GameAudioPlugin::default().with_ducking(DuckRule {
        target: MixBus::MUSIC,
        trigger: DuckTrigger::Microphone,
        level: 0.3,
        attack: 0.15,
        release: 0.8,
    });
    for bus in &mut game_audio.buses {
        if bus.bus == MixBus::MUSIC {
            bus.volume = 0.8;
            bus.compressor = Some(DynamicsCompressorOptions {
                threshold: -20.0,
                knee: 12.0,
                ratio: 4.0,
                attack: 0.005,
                release: 0.25,
            });
        }
    }
    let mut app = App::new();
    app.add_plugins((
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "bevy_webaudio showcase: shout to jump, hum to run".into(),
                    resolution: (1280, 720).into(),
                    ..default()
                }),
                ..default()
            })
            // The repository's assets wherever the binary is run from.
            .set(AssetPlugin {
                file_path: concat!(env!("CARGO_MANIFEST_DIR"), "/assets").into(),
                ..default()
            }),
        support::audio_plugin(),
        support::ExampleSupportPlugin,
        game_audio,
        MicrophonePlugin::default(),
        world::WorldPlugin,
        hud::HudPlugin,
    ))
    .insert_resource(ClearColor(Color::srgb(0.05, 0.05, 0.14)))
    .insert_resource(VoiceControl {
        reference_hz,
        jump_dbfs: JUMP_DBFS,
        armed: true,
        steer: 0.0,
        semitones: None,
        greeted: false,
    })
    .init_resource::<Stats>()
    .add_systems(Startup, (setup, audio::load_sounds, audio::setup_music))
    .add_systems(
        Update,
        (
            audio::schedule_music,
            control,
            move_player,
            animate_player,
            announce_microphone,
        )
            .chain(),
    )
    .add_systems(Last, report_on_exit);
    #[cfg(feature = "inspector")]
    app.add_plugins(bevy_webaudio::inspector::WebAudioInspectorPlugin::default());
    app.run();
}

/// A flat-coloured circle.
fn disc(
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<ColorMaterial>,
    radius: f32,
    color: Color,
) -> (Mesh2d, MeshMaterial2d<ColorMaterial>) {
    (
        Mesh2d(meshes.add(Circle::new(radius))),
        MeshMaterial2d(materials.add(color)),
    )
}

/// The camera (metres: the window shows [`VIEW_HEIGHT`] m), the player with its eyes and aura,
/// its shadow, and the listener.
fn setup(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    commands.spawn((
        Camera2d,
        Projection::Orthographic(OrthographicProjection {
            scaling_mode: ScalingMode::FixedVertical {
                viewport_height: VIEW_HEIGHT,
            },
            ..OrthographicProjection::default_2d()
        }),
    ));
    let (meshes, materials) = (&mut *meshes, &mut *materials);
    let start = Vec3::new(-4.0, GROUND_Y + PLAYER_RADIUS, 5.0);
    commands
        .spawn((
            disc(
                meshes,
                materials,
                PLAYER_RADIUS,
                Color::srgb(1.0, 0.62, 0.2),
            ),
            Transform::from_translation(start),
            Player {
                grounded: true,
                ..default()
            },
        ))
        .with_children(|body| {
            for x in [0.02, 0.24] {
                body.spawn((
                    disc(meshes, materials, 0.11, Color::WHITE),
                    Transform::from_xyz(x, 0.12, 0.1),
                ))
                .with_child((
                    disc(meshes, materials, 0.055, Color::srgb(0.1, 0.08, 0.15)),
                    Transform::from_xyz(0.03, 0.0, 0.1),
                ));
            }
            body.spawn((
                Mesh2d(meshes.add(Annulus::new(0.56, 0.62))),
                MeshMaterial2d(materials.add(Color::srgba(1.0, 0.85, 0.4, 0.55))),
                Transform::from_xyz(0.0, 0.0, -0.2),
                Aura,
            ));
        });
    commands.spawn((
        Mesh2d(meshes.add(Ellipse::new(0.5, 0.09))),
        MeshMaterial2d(materials.add(Color::srgba(0.0, 0.0, 0.0, 0.35))),
        Transform::from_xyz(start.x, GROUND_Y, 4.0),
        Shadow,
    ));
    commands.spawn((
        AudioListener::default(),
        Transform::from_xyz(start.x, GROUND_Y + 1.0, EARS_Z),
        Ears,
    ));
}

/// Reads the keyboard and the microphone: steering, jump requests, the reference pitch and
/// the jump threshold.
#[allow(clippy::too_many_arguments)]
fn control(
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time>,
    mic: Res<Microphone>,
    sounds: Res<Sounds>,
    mut voice: ResMut<VoiceControl>,
    mut stats: ResMut<Stats>,
    mut player: Single<&mut Player>,
    mut commands: Commands,
) {
    voice.semitones = voice_semitones(&mic, voice.reference_hz);
    let voice_steer = voice.semitones.map(steer_amount);
    stats.record_steer(voice_steer, time.delta_secs());
    let keyboard = keys.pressed(KeyCode::ArrowRight) as i8 - keys.pressed(KeyCode::ArrowLeft) as i8;
    voice.steer = match keyboard {
        0 => voice_steer.unwrap_or(0.0),
        k => f32::from(k),
    };
    if keys.just_pressed(KeyCode::Space) {
        player.jump_request = Some((JUMP_BUFFER, false));
    }
    if voice_jump(&mic, &mut voice) {
        player.jump_request = Some((JUMP_BUFFER, true));
    }
    if keys.just_pressed(KeyCode::KeyR)
        && let Some(hz) = mic.pitch_hz().filter(|_| mic.voice_active())
    {
        voice.reference_hz = hz;
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        voice.jump_dbfs = (voice.jump_dbfs + 2.0).min(-4.0);
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        voice.jump_dbfs = (voice.jump_dbfs - 2.0).max(-50.0);
    }
    if mic.voice_active() && !voice.greeted {
        voice.greeted = true;
        commands.play_sound(sounds.hello.clone()).volume(0.8);
    }
}

/// The voiced pitch's distance from `reference_hz` in semitones, when there is a voice and
/// the detector is sure of its pitch.
fn voice_semitones(mic: &Microphone, reference_hz: f32) -> Option<f32> {
    let hz = mic
        .pitch_hz()
        .filter(|_| mic.voice_active() && mic.pitch_confidence() >= MIN_PITCH_CONFIDENCE)?;
    Some(12.0 * (hz / reference_hz).log2())
}

/// Steering for a pitch `semitones` from the reference: 0 in the dead zone, then growing to
/// ±1 at [`FULL_STEER_SEMITONES`].
fn steer_amount(semitones: f32) -> f32 {
    let beyond = semitones.abs() - DEAD_ZONE_SEMITONES;
    let range = FULL_STEER_SEMITONES - DEAD_ZONE_SEMITONES;
    (beyond / range).clamp(0.0, 1.0) * semitones.signum()
}

/// Whether the level just crossed the jump threshold upwards (re-armed once it falls
/// [`JUMP_REARM_DB`] below it).
fn voice_jump(mic: &Microphone, voice: &mut VoiceControl) -> bool {
    let level = mic.level_dbfs();
    if voice.armed && level >= voice.jump_dbfs {
        voice.armed = false;
        return true;
    }
    if level < voice.jump_dbfs - JUMP_REARM_DB {
        voice.armed = true;
    }
    false
}

/// Runs, jumps and falls; the listener and the shadow follow.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn move_player(
    time: Res<Time>,
    voice: Res<VoiceControl>,
    sounds: Res<Sounds>,
    mut stats: ResMut<Stats>,
    mut player: Single<(&mut Player, &mut Transform)>,
    mut ears: Single<&mut Transform, (With<Ears>, Without<Player>)>,
    mut shadow: Single<&mut Transform, (With<Shadow>, Without<Player>, Without<Ears>)>,
    mut commands: Commands,
) {
    // A long frame (start-up, a hitch) must not tunnel the player through the ground.
    let dt = time.delta_secs().min(0.05);
    let (body, transform) = &mut *player;
    if let Some((left, by_voice)) = body.jump_request {
        if body.grounded {
            body.velocity_y = JUMP_SPEED;
            body.grounded = false;
            body.jump_request = None;
            stats.jumps += 1;
            stats.voice_jumps += u32::from(by_voice);
            commands
                .play_sound(sounds.jump.clone())
                .volume(0.35)
                .playback_rate(if by_voice { 1.0 } else { 0.9 });
        } else {
            body.jump_request = (left > dt).then_some((left - dt, by_voice));
        }
    }
    let floor = GROUND_Y + PLAYER_RADIUS;
    body.velocity_y += GRAVITY * dt;
    let p = &mut transform.translation;
    p.y += body.velocity_y * dt;
    if p.y <= floor {
        p.y = floor;
        body.velocity_y = 0.0;
        body.grounded = true;
    }
    p.x = (p.x + voice.steer * RUN_SPEED * dt).clamp(PLAYER_X.0, PLAYER_X.1);
    ears.translation.x = p.x;
    shadow.translation.x = p.x;
    let height = p.y - floor;
    shadow.scale = Vec3::splat((1.0 - height / 4.0).clamp(0.3, 1.0));
}

/// Squash and stretch, eyes looking where the player runs, the aura swelling with the
/// microphone level, a red flash after a crash.
#[allow(clippy::type_complexity)]
fn animate_player(
    time: Res<Time>,
    mic: Res<Microphone>,
    voice: Res<VoiceControl>,
    mut player: Single<(&mut Player, &mut Transform, &MeshMaterial2d<ColorMaterial>)>,
    mut aura: Single<&mut Transform, (With<Aura>, Without<Player>)>,
    mut materials: ResMut<Assets<ColorMaterial>>,
    mut was_flashing: Local<bool>,
) {
    let (body, transform, material) = &mut *player;
    let stretch = (body.velocity_y / JUMP_SPEED * 0.18).clamp(-0.15, 0.18);
    transform.scale = Vec3::new(1.0 - stretch, 1.0 + stretch, 1.0);
    transform.rotation = Quat::from_rotation_z(-voice.steer * 0.2);
    let level = ((mic.level_dbfs() + 60.0) / 60.0).clamp(0.0, 1.0);
    aura.scale = Vec3::splat(1.0 + 0.8 * level * level);
    body.flash = (body.flash - time.delta_secs()).max(0.0);
    // Touch the material only while it changes (a changed material is uploaded again).
    let flashing = body.flash > 0.0;
    if (flashing || *was_flashing)
        && let Some(mut material) = materials.get_mut(&material.0)
    {
        let calm = Color::srgb(1.0, 0.62, 0.2);
        material.color = calm.mix(&Color::srgb(1.0, 0.15, 0.2), (body.flash * 2.0).min(1.0));
    }
    *was_flashing = flashing;
}

/// Frames in a row that must each take less than Bevy's longest virtual-time step (0.25 s)
/// before the game says it listens: the first frames of a software renderer compile shaders
/// for seconds, and a frame longer than that step would lose game time (a tone heard then
/// would steer for less than its length).
const STEADY_FRAMES: u32 = 10;

/// Says once whether the game listens to a microphone (`scripts/showcase-voice.sh` waits for
/// `showcase: listening` before it plays its tones), once frames come steadily.
fn announce_microphone(
    mic: Res<Microphone>,
    time: Res<Time<Real>>,
    mut said: Local<bool>,
    mut steady: Local<u32>,
) {
    if *said {
        return;
    }
    *steady = if time.delta_secs() < 0.25 {
        *steady + 1
    } else {
        0
    };
    if mic.is_available() && mic.captured_frames() > 0 && *steady >= STEADY_FRAMES {
        let device = mic.device().map_or("?", |d| d.name.as_str());
        println!("showcase: listening to {device}");
        *said = true;
    } else if let Some(error) = mic.error().filter(|_| time.elapsed_secs() > 3.0) {
        println!("showcase: no microphone ({error}): keyboard only");
        *said = true;
    }
}

/// The exit line the voice test checks.
fn report_on_exit(mut exits: MessageReader<AppExit>, stats: Res<Stats>, mic: Res<Microphone>) {
    if exits.read().next().is_none() {
        return;
    }
    let steer = if stats.steer_path.is_empty() {
        "-"
    } else {
        &stats.steer_path
    };
    println!(
        "showcase: jumps={} voice_jumps={} steer={steer} steer_left_s={:.2} steer_right_s={:.2} \
         score={} hits={} mic={}",
        stats.jumps,
        stats.voice_jumps,
        stats.steer_left_s,
        stats.steer_right_s,
        stats.score,
        stats.hits,
        if mic.is_available() { "ok" } else { "missing" },
    );
}
