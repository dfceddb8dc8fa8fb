//! The showcase's world: the scenery (sky, moon, stars, two layers of mountains and the
//! ground, scrolling at different speeds), and the obstacles — crates that hum, come in from
//! the right, are jumped over for a point or crashed into, and leave on the left.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::audio::{self, OBSTACLE_NOTES, Sounds};
use crate::{GROUND_Y, PLAYER_RADIUS, Player, Stats};

/// Obstacles appear at this x (just off the right edge of a 16:9 window)...
const SPAWN_X: f32 = 12.5;
/// ... start fading out at this one...
const FADE_X: f32 = -10.5;
/// ... and are gone this long after.
const FADE_SECONDS: f32 = 0.3;
/// Scrolling speed at the start, and its cap, in m/s.
const SPEED: (f32, f32) = (5.0, 9.0);
/// Speed gained per point.
const SPEED_PER_POINT: f32 = 0.12;
/// Seconds between two obstacles (at the starting speed).
const GAP_SECONDS: (f32, f32) = (1.5, 2.8);

/// A small deterministic random generator (an LCG), for a world that is the same every run.
#[derive(Resource)]
pub struct Rng(pub u32);

impl Rng {
    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        lo + (hi - lo) * ((self.0 >> 8) as f32 / (1u32 << 24) as f32)
    }
}

/// How fast the world scrolls, and when the next obstacle comes.
#[derive(Resource)]
pub struct Spawner {
    /// The scrolling speed in m/s.
    pub speed: f32,
    countdown: f32,
}

impl Default for Spawner {
    fn default() -> Self {
        Self {
            speed: SPEED.0,
            countdown: 1.0,
        }
    }
}

/// Scenery that scrolls at `factor` × the world's speed and wraps around every `wrap` metres.
#[derive(Component)]
struct Scroll {
    factor: f32,
    wrap: f32,
}

/// A humming crate.
#[derive(Component)]
pub struct Obstacle {
    /// Half its width and height.
    half: Vec2,
    /// Its voice's fade gain.
    fade: Entity,
    /// Its tremolo rate and the audio time it started, for rings that pulse with it.
    tremolo_hz: f32,
    born: f64,
    /// Jumped over (scored) or crashed into: it scores or hurts only once.
    done: bool,
}

/// A ring around an obstacle that pulses with its tremolo.
#[derive(Component)]
struct SoundRing;

/// Fading out; despawned when the time runs out.
#[derive(Component)]
struct Leaving(f32);

/// The mesh of a crate's fragments.
#[derive(Resource)]
struct Shard(Handle<Mesh>);

/// A fragment of a smashed crate.
#[derive(Component)]
struct Debris {
    velocity: Vec2,
    life: f32,
}

/// Registers the world's resources and systems.
pub struct WorldPlugin;

impl Plugin for WorldPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Rng(0x5eed))
            .init_resource::<Spawner>()
            .add_systems(Startup, setup_scenery)
            .add_systems(
                Update,
                (
                    scroll_scenery,
                    spawn_obstacles,
                    move_obstacles,
                    collide_and_score,
                    pulse_rings,
                    fly_debris,
                    despawn_left,
                )
                    .chain()
                    .after(crate::move_player),
            );
    }
}

/// A flat-coloured 2D shape.
fn shape(
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<ColorMaterial>,
    mesh: impl Into<Mesh>,
    color: Color,
) -> (Mesh2d, MeshMaterial2d<ColorMaterial>) {
    (
        Mesh2d(meshes.add(mesh)),
        MeshMaterial2d(materials.add(color)),
    )
}

fn setup_scenery(
    mut commands: Commands,
    mut rng: ResMut<Rng>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    commands.insert_resource(Shard(meshes.add(Rectangle::new(0.16, 0.16))));
    let (meshes, materials) = (&mut *meshes, &mut *materials);
    // Sky: bands from deep blue at the top to violet at the horizon.
    for i in 0..8 {
        let t = i as f32 / 7.0;
        let color = Color::srgb(0.05 + 0.17 * t, 0.05 + 0.07 * t, 0.15 + 0.15 * t);
        let y = 6.0 - (6.0 - GROUND_Y) * (i as f32 + 0.5) / 8.0;
        let band = Rectangle::new(60.0, (6.0 - GROUND_Y) / 8.0 + 0.02);
        commands.spawn((
            shape(meshes, materials, band, color),
            Transform::from_xyz(0.0, y, -20.0),
        ));
    }
    for _ in 0..60 {
        let (x, y) = (rng.range(-14.0, 14.0), rng.range(-0.5, 5.8));
        let star = Circle::new(rng.range(0.02, 0.055));
        commands.spawn((
            shape(meshes, materials, star, Color::srgba(1.0, 1.0, 0.95, 0.8)),
            Transform::from_xyz(x, y, -19.0),
        ));
    }
    let moon = Vec3::new(6.8, 3.7, -18.0);
    commands.spawn((
        shape(
            meshes,
            materials,
            Circle::new(0.85),
            Color::srgb(1.0, 0.95, 0.8),
        ),
        Transform::from_translation(moon),
    ));
    commands.spawn((
        shape(
            meshes,
            materials,
            Annulus::new(0.85, 1.7),
            Color::srgba(1.0, 0.9, 0.7, 0.07),
        ),
        Transform::from_translation(moon - Vec3::Z * 0.1),
    ));
    // Mountains: far and slow, near and faster.
    for (count, height, color, factor, z) in [
        (9, (2.5, 5.5), Color::srgb(0.17, 0.13, 0.3), 0.12, -15.0),
        (12, (1.2, 3.0), Color::srgb(0.1, 0.14, 0.25), 0.35, -12.0),
    ] {
        let wrap = 48.0;
        for i in 0..count {
            let (h, w) = (rng.range(height.0, height.1), rng.range(5.0, 9.0));
            let peak = Triangle2d::new(
                Vec2::new(-w / 2.0, 0.0),
                Vec2::new(w / 2.0, 0.0),
                Vec2::new(rng.range(-1.0, 1.0), h),
            );
            let x = -wrap / 2.0 + wrap * i as f32 / count as f32;
            commands.spawn((
                shape(meshes, materials, peak, color),
                Transform::from_xyz(x, GROUND_Y - 0.05, z),
                Scroll { factor, wrap },
            ));
        }
    }
    // The ground, a grass edge, and stripes that scroll with the obstacles.
    commands.spawn((
        shape(
            meshes,
            materials,
            Rectangle::new(60.0, 4.0),
            Color::srgb(0.1, 0.3, 0.29),
        ),
        Transform::from_xyz(0.0, GROUND_Y - 2.0, -5.0),
    ));
    commands.spawn((
        shape(
            meshes,
            materials,
            Rectangle::new(60.0, 0.16),
            Color::srgb(0.3, 0.8, 0.55),
        ),
        Transform::from_xyz(0.0, GROUND_Y - 0.08, -4.0),
    ));
    let stripe = meshes.add(Rectangle::new(0.7, 3.6));
    let stripe_color = materials.add(Color::srgb(0.08, 0.25, 0.25));
    for i in 0..22 {
        commands.spawn((
            Mesh2d(stripe.clone()),
            MeshMaterial2d(stripe_color.clone()),
            Transform::from_xyz(-22.0 + 2.0 * i as f32, GROUND_Y - 2.0, -4.5),
            Scroll {
                factor: 1.0,
                wrap: 44.0,
            },
        ));
    }
}

fn scroll_scenery(
    time: Res<Time>,
    spawner: Res<Spawner>,
    mut scenery: Query<(&Scroll, &mut Transform)>,
) {
    for (scroll, mut transform) in &mut scenery {
        let x = transform.translation.x - spawner.speed * scroll.factor * time.delta_secs();
        transform.translation.x =
            (x + scroll.wrap / 2.0).rem_euclid(scroll.wrap) - scroll.wrap / 2.0;
    }
}

/// A new crate when the countdown runs out: random size and note; its voice on the effects
/// bus.
#[allow(clippy::too_many_arguments)]
fn spawn_obstacles(
    time: Res<Time>,
    context: Res<AudioContext>,
    buses: Res<MixBuses>,
    mut spawner: ResMut<Spawner>,
    mut rng: ResMut<Rng>,
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) -> Result {
    spawner.countdown -= time.delta_secs();
    if spawner.countdown > 0.0 {
        return Ok(());
    }
    let pace = SPEED.0 / spawner.speed;
    spawner.countdown = rng.range(GAP_SECONDS.0, GAP_SECONDS.1) * pace.max(0.6);
    let size = Vec2::new(rng.range(0.9, 1.3), rng.range(0.8, 1.6));
    let note = OBSTACLE_NOTES[rng.range(0.0, 5.99) as usize];
    let hue = 20.0 + (note - 57.0) * 22.0;
    let color = Color::hsl(hue, 0.75, 0.58);
    let (meshes, materials) = (&mut *meshes, &mut *materials);
    let obstacle = commands
        .spawn((
            shape(meshes, materials, Rectangle::from_size(size), color),
            Transform::from_xyz(SPAWN_X, GROUND_Y + size.y / 2.0, 1.0),
        ))
        .with_children(|crate_| {
            let panel = Rectangle::from_size(size - 0.3);
            crate_.spawn((
                shape(meshes, materials, panel, color.darker(0.12)),
                Transform::from_xyz(0.0, 0.0, 0.1),
            ));
            let radius = size.max_element() * 0.75;
            for (inner, alpha) in [(1.0, 0.35), (1.45, 0.18)] {
                let ring = Annulus::new(radius * inner, radius * inner + 0.08);
                crate_.spawn((
                    shape(meshes, materials, ring, color.with_alpha(alpha)),
                    Transform::from_xyz(0.0, 0.0, -0.5),
                    SoundRing,
                ));
            }
        })
        .id();
    let bus = buses
        .entity(MixBus::EFFECTS)
        .ok_or("the effects bus is missing")?;
    let now = context.current_time();
    let tremolo_hz = rng.range(3.0, 7.0);
    let fade = audio::spawn_obstacle_voice(
        &mut commands,
        obstacle,
        bus,
        audio::midi_hz(note),
        tremolo_hz,
        now,
    )?;
    commands.entity(obstacle).insert(Obstacle {
        half: size / 2.0,
        fade,
        tremolo_hz,
        born: now,
        done: false,
    });
    Ok(())
}

/// Moves the crates left; one that reaches the left edge fades out.
fn move_obstacles(
    time: Res<Time>,
    context: Res<AudioContext>,
    spawner: Res<Spawner>,
    mut obstacles: Query<(Entity, &Obstacle, &mut Transform, Has<Leaving>)>,
    mut gains: Query<&mut GainNode>,
    mut commands: Commands,
) -> Result {
    for (entity, obstacle, mut transform, leaving) in &mut obstacles {
        transform.translation.x -= spawner.speed * time.delta_secs();
        if !leaving && transform.translation.x < FADE_X {
            audio::fade_out(
                &mut *gains.get_mut(obstacle.fade)?,
                context.current_time(),
                f64::from(FADE_SECONDS),
            )?;
            commands.entity(entity).insert(Leaving(FADE_SECONDS));
        }
    }
    Ok(())
}

/// A crate the player touches smashes (a spatial crash where it stood); one the player is past
/// scores a point (a click, and a chord every fifth point).
#[allow(clippy::too_many_arguments)]
fn collide_and_score(
    context: Res<AudioContext>,
    sounds: Res<Sounds>,
    mut stats: ResMut<Stats>,
    mut spawner: ResMut<Spawner>,
    (mut rng, shard): (ResMut<Rng>, Res<Shard>),
    mut player: Single<(&mut Player, &Transform)>,
    mut obstacles: Query<(
        Entity,
        &mut Obstacle,
        &Transform,
        &MeshMaterial2d<ColorMaterial>,
    )>,
    mut gains: Query<&mut GainNode>,
    mut commands: Commands,
) -> Result {
    let centre = player.1.translation.truncate();
    for (entity, mut obstacle, transform, material) in &mut obstacles {
        if obstacle.done {
            continue;
        }
        let at = transform.translation.truncate();
        let nearest = centre.clamp(at - obstacle.half, at + obstacle.half);
        if centre.distance(nearest) < PLAYER_RADIUS * 0.85 {
            obstacle.done = true;
            stats.hits += 1;
            player.0.flash = 0.5;
            let now = context.current_time();
            audio::fade_out(&mut *gains.get_mut(obstacle.fade)?, now, 0.05)?;
            commands
                .play_sound(sounds.crash.clone())
                .volume(0.9)
                .at(transform.translation);
            commands
                .entity(entity)
                .insert((Leaving(0.08), Visibility::Hidden));
            for _ in 0..10 {
                let velocity = Vec2::new(rng.range(-4.0, 4.0), rng.range(2.0, 9.0));
                commands.spawn((
                    Mesh2d(shard.0.clone()),
                    material.clone(),
                    Transform::from_translation(transform.translation.with_z(6.0)),
                    Debris {
                        velocity,
                        life: 0.9,
                    },
                ));
            }
        } else if at.x + obstacle.half.x < centre.x - PLAYER_RADIUS {
            obstacle.done = true;
            stats.score += 1;
            spawner.speed = (SPEED.0 + SPEED_PER_POINT * stats.score as f32).min(SPEED.1);
            commands.play_sound(sounds.score.clone()).volume(0.5);
            if stats.score % 5 == 0 {
                commands.play_sound(sounds.milestone.clone()).volume(0.45);
            }
        }
    }
    Ok(())
}

/// Rings scale with their obstacle's tremolo, read on the audio clock so they pulse with what
/// is heard.
fn pulse_rings(
    context: Res<AudioContext>,
    obstacles: Query<(&Obstacle, &Children)>,
    mut rings: Query<&mut Transform, With<SoundRing>>,
) {
    let now = context.current_time();
    for (obstacle, children) in &obstacles {
        let phase = std::f64::consts::TAU * f64::from(obstacle.tremolo_hz) * (now - obstacle.born);
        let scale = 1.0 + 0.12 * phase.sin() as f32;
        let mut iter = rings.iter_many_mut(children);
        while let Some(mut transform) = iter.fetch_next() {
            transform.scale = Vec3::splat(scale);
        }
    }
}

/// Fragments fly, fall and vanish.
fn fly_debris(
    time: Res<Time>,
    mut debris: Query<(Entity, &mut Debris, &mut Transform)>,
    mut commands: Commands,
) {
    let dt = time.delta_secs();
    for (entity, mut piece, mut transform) in &mut debris {
        piece.velocity.y += crate::GRAVITY * dt;
        transform.translation += (piece.velocity * dt).extend(0.0);
        transform.rotate_z(8.0 * dt);
        piece.life -= dt;
        transform.scale = Vec3::splat(piece.life.clamp(0.0, 1.0));
        if piece.life <= 0.0 {
            commands.entity(entity).despawn();
        }
    }
}

/// Despawns what has faded out: the obstacle, its visuals and its nodes (its children).
fn despawn_left(
    time: Res<Time>,
    mut leaving: Query<(Entity, &mut Leaving)>,
    mut commands: Commands,
) {
    for (entity, mut left) in &mut leaving {
        left.0 -= time.delta_secs();
        if left.0 <= 0.0 {
            commands.entity(entity).despawn();
        }
    }
}
