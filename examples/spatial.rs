//! Spatial audio in a 3D scene: sound sources orbit the camera, which carries the
//! `AudioListener`.
//!
//! Every source is a visible sphere with a `PannerNode` and `SpatialAudio`, so its panner
//! follows the sphere's `GlobalTransform`; the listener follows the camera's. Three sources
//! loop a short plucked blip (an `AudioBufferSourceNode` over a generated buffer: transients
//! are easy to localise), two hum (an `OscillatorNode`). Each orbit is drawn as a ring, and
//! an inset camera shows the scene from above, the listener as a white arrow.
//!
//! Keys: `Space` toggles every panner between `equalpower` and `HRTF` (headphones make the
//! difference obvious: HRTF also tells front from back and up from down), `D` toggles the
//! velocity-based `Doppler` on every source, `←`/`→` turn the head (camera and listener).
//!
//! Run: `cargo run --release --example spatial --features examples`

use std::f32::consts::{PI, TAU};

use bevy::camera::{ClearColorConfig, Viewport};
use bevy::prelude::*;
use bevy::ui::IsDefaultUiCamera;
use bevy::window::PrimaryWindow;
use bevy_webaudio::prelude::*;

#[path = "support/mod.rs"]
mod support;

/// A source's orbit around the listener: radius (m), angular speed (rad/s), height, phase.
#[derive(Component, Clone, Copy)]
struct Orbit {
    radius: f32,
    speed: f32,
    height: f32,
    phase: f32,
}

impl Orbit {
    fn position(&self, t: f32) -> Vec3 {
        let a = self.phase + self.speed * t;
        Vec3::new(self.radius * a.sin(), self.height, -self.radius * a.cos())
    }
}

/// What a source plays.
#[derive(Clone, Copy)]
enum Voice {
    /// A looped blip: pitch (Hz) and loop period (s).
    Blip(f32, f32),
    /// A continuous oscillator: waveform and pitch (Hz).
    Hum(OscillatorType, f32),
}

/// The sources: orbit, colour, sound.
const SOURCES: [(Orbit, Color, Voice); 5] = [
    (
        orbit(3.0, 0.9, 1.2, -0.6),
        Color::srgb(1.0, 0.35, 0.2),
        Voice::Blip(880.0, 0.45),
    ),
    (
        orbit(4.5, -0.6, 0.6, 0.2),
        Color::srgb(0.25, 0.8, 1.0),
        Voice::Blip(660.0, 0.6),
    ),
    (
        orbit(6.0, 0.45, 2.2, 0.7),
        Color::srgb(0.4, 1.0, 0.35),
        Voice::Blip(1320.0, 0.75),
    ),
    (
        orbit(5.0, 1.3, 0.3, -1.4),
        Color::srgb(1.0, 0.85, 0.2),
        Voice::Hum(OscillatorType::Sawtooth, 110.0),
    ),
    (
        orbit(7.5, -0.35, 3.0, PI),
        Color::srgb(0.85, 0.4, 1.0),
        Voice::Hum(OscillatorType::Triangle, 220.0),
    ),
];

const fn orbit(radius: f32, speed: f32, height: f32, phase: f32) -> Orbit {
    Orbit {
        radius,
        speed,
        height,
        phase,
    }
}

/// Height of the camera (the listener's ears).
const EYE: f32 = 1.2;

/// Which options are on; the source node entities (for Doppler).
#[derive(Resource)]
struct Settings {
    model: PanningModel,
    doppler: bool,
    sources: Vec<(Entity, Entity)>,
}

#[derive(Component)]
struct StatusText;

fn main() {
    App::new()
        .add_plugins((
            DefaultPlugins.set(WindowPlugin {
                primary_window: Some(Window {
                    title: "bevy_webaudio spatial".into(),
                    resolution: (1024, 576).into(),
                    ..default()
                }),
                ..default()
            }),
            support::audio_plugin(),
            support::ExampleSupportPlugin,
        ))
        .add_systems(Startup, setup)
        .add_systems(Update, (orbit_sources, turn_head, toggle, show_status))
        .run();
}

/// Side of the top-down inset, in physical pixels.
const MAP: u32 = 260;

fn setup(
    mut commands: Commands,
    context: Res<AudioContext>,
    window: Single<&Window, With<PrimaryWindow>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut buffers: ResMut<Assets<AudioBuffer>>,
) -> Result {
    // The listener's head: the first-person camera. The arrow (a cone behind the eye, tip
    // forward) is only seen from the inset camera.
    commands
        .spawn((
            Camera3d::default(),
            Projection::Perspective(PerspectiveProjection {
                fov: 70f32.to_radians(),
                ..default()
            }),
            Transform::from_xyz(0.0, EYE, 0.0).looking_to(Vec3::new(0.0, -0.15, -1.0), Vec3::Y),
            Visibility::default(),
            IsDefaultUiCamera,
            AudioListener::default(),
        ))
        .with_child((
            Mesh3d(meshes.add(Cone::new(0.35, 0.9))),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color: Color::WHITE,
                emissive: LinearRgba::WHITE,
                ..default()
            })),
            Transform::from_xyz(0.0, 0.0, 0.55).with_rotation(Quat::from_rotation_x(-PI / 2.0)),
        ));
    // The inset: straight down from above, forward (−Z) up.
    let bottom = window.physical_height().saturating_sub(MAP + 12);
    commands.spawn((
        Camera3d::default(),
        Camera {
            order: 1,
            viewport: Some(Viewport {
                physical_position: UVec2::new(12, bottom),
                physical_size: UVec2::splat(MAP),
                ..default()
            }),
            clear_color: ClearColorConfig::Custom(Color::srgb(0.08, 0.09, 0.11)),
            ..default()
        },
        Transform::from_xyz(0.0, 24.0, 0.0).looking_at(Vec3::ZERO, Vec3::NEG_Z),
    ));
    commands.spawn((
        DirectionalLight {
            illuminance: 6_000.0,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::from_xyz(4.0, 10.0, 3.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(60.0, 60.0))),
        MeshMaterial3d(materials.add(Color::srgb(0.18, 0.2, 0.24))),
    ));
    // A marker at the listener's feet.
    commands.spawn((
        Mesh3d(meshes.add(Cylinder::new(0.25, 0.05))),
        MeshMaterial3d(materials.add(Color::WHITE)),
        Transform::from_xyz(0.0, 0.025, 0.0),
    ));
    let master = commands
        .spawn(GainNode::new(0.6))
        .connect(context.destination())
        .id();
    let ring = materials.add(StandardMaterial {
        base_color: Color::srgba(1.0, 1.0, 1.0, 0.35),
        alpha_mode: AlphaMode::Blend,
        unlit: true,
        ..default()
    });
    let sphere = meshes.add(Sphere::new(0.35));
    let mut sources = Vec::new();
    for (orbit, color, voice) in SOURCES {
        let emissive = LinearRgba::from(color) * 2.0;
        let panner = commands
            .spawn((
                panner()?,
                SpatialAudio,
                orbit,
                Transform::from_translation(orbit.position(0.0)),
                Mesh3d(sphere.clone()),
                MeshMaterial3d(materials.add(StandardMaterial {
                    base_color: color,
                    emissive,
                    ..default()
                })),
            ))
            .connect(master)
            .id();
        let source = match voice {
            Voice::Blip(hz, period) => {
                let blip = buffers.add(blip(hz, period, context.sample_rate())?);
                let mut node = AudioBufferSourceNode::new(blip);
                node.looping = true;
                node.start(0.0)?;
                commands.spawn(node).connect(panner).id()
            }
            Voice::Hum(waveform, hz) => {
                let mut node = OscillatorNode::new(waveform, hz);
                node.start(0.0)?;
                let quiet = commands.spawn(GainNode::new(0.15)).connect(panner).id();
                commands.spawn(node).connect(quiet).id()
            }
        };
        sources.push((source, panner));
        commands.spawn((
            Mesh3d(meshes.add(Torus::new(orbit.radius - 0.05, orbit.radius + 0.05))),
            MeshMaterial3d(ring.clone()),
            Transform::from_xyz(0.0, orbit.height, 0.0),
        ));
    }
    commands.spawn((
        Text::new(""),
        TextFont::from_font_size(18.0),
        Node {
            margin: UiRect::all(Val::Px(12.0)),
            ..default()
        },
        StatusText,
    ));
    commands.insert_resource(Settings {
        model: PanningModel::Hrtf,
        doppler: false,
        sources,
    });
    Ok(())
}

/// An HRTF panner with a gentle inverse roll-off (full level within 1.5 m).
fn panner() -> Result<PannerNode> {
    let mut panner = PannerNode::new(PanningModel::Hrtf);
    panner.set_ref_distance(1.5)?.set_rolloff_factor(0.8)?;
    Ok(panner)
}

/// A plucked blip: a decaying sine of `hz` lasting 80 ms, then silence up to `period`.
fn blip(hz: f32, period: f32, sample_rate: f32) -> Result<AudioBuffer> {
    let n = (period * sample_rate) as usize;
    let samples = (0..n)
        .map(|i| {
            let t = i as f32 / sample_rate;
            let envelope = (-t / 0.02).exp() * (t * 2000.0).min(1.0);
            0.8 * envelope * (TAU * hz * t).sin()
        })
        .collect();
    Ok(AudioBuffer::from_samples(vec![samples], sample_rate)?)
}

fn orbit_sources(time: Res<Time>, mut sources: Query<(&Orbit, &mut Transform)>) {
    let t = time.elapsed_secs();
    for (orbit, mut transform) in &mut sources {
        let p = orbit.position(t);
        // Face the direction of travel (the panner's orientation follows; cones are off).
        let ahead = orbit.position(t + 0.01 * orbit.speed.signum());
        *transform = Transform::from_translation(p).looking_at(ahead, Vec3::Y);
    }
}

fn turn_head(
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time>,
    mut camera: Query<&mut Transform, With<AudioListener>>,
) {
    let turn = keys.pressed(KeyCode::ArrowLeft) as i32 - keys.pressed(KeyCode::ArrowRight) as i32;
    if turn != 0 {
        for mut transform in &mut camera {
            transform.rotate_y(turn as f32 * 1.5 * time.delta_secs());
        }
    }
}

fn toggle(
    keys: Res<ButtonInput<KeyCode>>,
    mut settings: ResMut<Settings>,
    mut panners: Query<&mut PannerNode>,
    mut commands: Commands,
) {
    if keys.just_pressed(KeyCode::Space) {
        settings.model = match settings.model {
            PanningModel::EqualPower => PanningModel::Hrtf,
            PanningModel::Hrtf => PanningModel::EqualPower,
        };
        for mut panner in &mut panners {
            panner.set_panning_model(settings.model);
        }
    }
    if keys.just_pressed(KeyCode::KeyD) {
        settings.doppler = !settings.doppler;
        for &(source, panner) in &settings.sources {
            if settings.doppler {
                commands.entity(source).insert(Doppler::new(panner));
            } else {
                commands.entity(source).remove::<Doppler>();
            }
        }
    }
}

fn show_status(settings: Res<Settings>, mut text: Single<&mut Text, With<StatusText>>) {
    if !settings.is_changed() {
        return;
    }
    let model = match settings.model {
        PanningModel::EqualPower => "equalpower",
        PanningModel::Hrtf => "HRTF (Brown-Duda spherical head)",
    };
    let doppler = if settings.doppler { "on" } else { "off" };
    text.0 = format!(
        "Panning: {model}    Doppler: {doppler}\n\
         [Space] equalpower / HRTF    [D] Doppler    [Left/Right] turn head\n\
         {} sources orbit the listener (the camera); headphones recommended",
        SOURCES.len()
    );
}
