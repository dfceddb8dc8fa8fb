//! `Doppler`: the pitch ratio measured from the rendered frequency of moving sources (through
//! `SpatialAudio` and real transforms), off by default, clamping, removal and errors.

use bevy::math::DVec3;
use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::reference::{add_buffer, sine};
use crate::spatial::spatial_app;
use crate::support::{SR, zero_crossing_frequency};

const C: f64 = Doppler::SPEED_OF_SOUND;
/// Frames of one 60 fps app frame.
const FRAME: usize = SR as usize / 60;
/// Base frequency of every source.
const F0: f64 = 440.0;
/// Allowed relative error of a measured pitch ratio: 0.1 % (1.7 cents).
const TOLERANCE: f64 = 1e-3;

#[derive(Clone, Copy, Debug)]
enum Source {
    Oscillator,
    /// A looped one-second 440 Hz sine buffer (whole cycles, so the loop is seamless).
    Buffer,
}

/// A listener at the origin and a 440 Hz source on a `SpatialAudio` panner `distance` m ahead
/// of it at (0, 0, −distance), optionally with Doppler (built from the panner entity).
struct Scene {
    app: App,
    listener: Entity,
    panner: Entity,
    source: Entity,
}

fn scene(kind: Source, doppler: Option<fn(Entity) -> Doppler>, distance: f32) -> Scene {
    let mut app = spatial_app();
    let dest = app.world().resource::<AudioContext>().destination();
    let listener = app
        .world_mut()
        .spawn((AudioListener::default(), Transform::default()))
        .id();
    let panner = app
        .world_mut()
        .commands()
        .spawn((
            PannerNode::default(),
            SpatialAudio,
            Transform::from_xyz(0.0, 0.0, -distance),
        ))
        .connect(dest)
        .id();
    let source = match kind {
        Source::Oscillator => {
            let mut osc = OscillatorNode::new(OscillatorType::Sine, F0 as f32);
            osc.start(0.0).unwrap();
            app.world_mut().commands().spawn(osc).connect(panner).id()
        }
        Source::Buffer => {
            let handle = add_buffer(
                &mut app,
                sine(&[F0], 0.5, f64::from(SR), SR as usize),
                SR as f32,
            );
            let mut src = AudioBufferSourceNode::new(handle);
            src.looping = true;
            src.start(0.0).unwrap();
            app.world_mut().commands().spawn(src).connect(panner).id()
        }
    };
    if let Some(doppler) = doppler {
        app.world_mut()
            .commands()
            .entity(source)
            .insert(doppler(panner));
    }
    app.update();
    Scene {
        app,
        listener,
        panner,
        source,
    }
}

impl Scene {
    /// Runs `frames` 60 fps frames, moving the source and the listener by their velocities
    /// (m/s) each frame and rendering one frame of audio after each; returns the left channel.
    fn run(&mut self, frames: usize, source_v: Vec3, listener_v: Vec3) -> Vec<f32> {
        let mut left = Vec::with_capacity(frames * FRAME);
        for _ in 0..frames {
            for (e, v) in [(self.panner, source_v), (self.listener, listener_v)] {
                self.app
                    .world_mut()
                    .get_mut::<Transform>(e)
                    .unwrap()
                    .translation += v / 60.0;
            }
            self.app.update();
            left.extend_from_slice(&self.app.render(FRAME).unwrap()[0]);
        }
        left
    }

    /// The frequency over the last half second of 40 frames of steady motion, as a ratio to
    /// the source's own 440 Hz.
    fn measured_ratio(&mut self, source_v: Vec3, listener_v: Vec3) -> f64 {
        let left = self.run(40, source_v, listener_v);
        zero_crossing_frequency(&left[left.len() - SR as usize / 2..], f64::from(SR)) / F0
    }
}

fn check(what: &str, measured: f64, expected: f64) {
    println!("{what}: pitch ratio {measured:.5} (expected {expected:.5})");
    assert!(
        (measured / expected - 1.0).abs() < TOLERANCE,
        "{what}: measured ratio {measured:.5}, expected {expected:.5}"
    );
}

#[test]
fn approaching_source_is_raised_by_c_over_c_minus_v() {
    let v = 34.3; // a tenth of the speed of sound: ratio 10/9
    for kind in [Source::Oscillator, Source::Buffer] {
        let mut s = scene(kind, Some(Doppler::new), 60.0);
        let measured = s.measured_ratio(Vec3::new(0.0, 0.0, v as f32), Vec3::ZERO);
        check(&format!("{kind:?} approaching"), measured, C / (C - v));
        // Receding at 20 m/s: c / (c + v).
        let measured = s.measured_ratio(Vec3::new(0.0, 0.0, -20.0), Vec3::ZERO);
        check(&format!("{kind:?} receding"), measured, C / (C + 20.0));
    }
}

#[test]
fn listener_motion_and_factor_enter_the_ratio() {
    // The listener runs away from the source (towards +Z) at 34.3 m/s: (c − v) / c = 0.9.
    let mut s = scene(Source::Oscillator, Some(Doppler::new), 60.0);
    let away = Vec3::new(0.0, 0.0, 34.3);
    check("listener receding", s.measured_ratio(Vec3::ZERO, away), 0.9);
    // Both moving together: no shift.
    check("co-moving", s.measured_ratio(away, away), 1.0);
    // Factor 2 doubles the velocities: c / (c − 2·17.15) = 10/9.
    let mut s = scene(
        Source::Oscillator,
        Some(|e| Doppler::new(e).with_factor(2.0).unwrap()),
        60.0,
    );
    let v = Vec3::new(0.0, 0.0, 17.15);
    check("factor 2", s.measured_ratio(v, Vec3::ZERO), C / (C - 34.3));
}

#[test]
fn doppler_is_off_by_default_and_removable() {
    // Without the component, a source approaching at 34.3 m/s keeps its pitch exactly.
    let mut s = scene(Source::Oscillator, None, 60.0);
    let v = Vec3::new(0.0, 0.0, 34.3);
    check("no Doppler component", s.measured_ratio(v, Vec3::ZERO), 1.0);
    // With it, then removed: the detune glides back to 0.
    let mut s = scene(Source::Oscillator, Some(Doppler::new), 60.0);
    check(
        "with Doppler",
        s.measured_ratio(v, Vec3::ZERO),
        C / (C - 34.3),
    );
    s.app.world_mut().entity_mut(s.source).remove::<Doppler>();
    check("removed", s.measured_ratio(v, Vec3::ZERO), 1.0);
}

#[test]
fn supersonic_motion_is_clamped_to_max_ratio() {
    // 500 m/s towards the listener would be a negative denominator: clamped to 1.5. (It
    // covers 333 m in the 40 frames: it starts 400 m away so it never passes the listener.)
    let mut s = scene(
        Source::Oscillator,
        Some(|e| Doppler::new(e).with_max_ratio(1.5).unwrap()),
        400.0,
    );
    check(
        "supersonic",
        s.measured_ratio(Vec3::new(0.0, 0.0, 500.0), Vec3::ZERO),
        1.5,
    );
    let ratio = s.app.world().get::<Doppler>(s.source).unwrap().ratio();
    assert_eq!(ratio, 1.5);
    // Receding at 200 m/s would be 343/543 = 0.63: clamped to 1/1.5.
    let mut s = scene(
        Source::Oscillator,
        Some(|e| Doppler::new(e).with_max_ratio(1.5).unwrap()),
        60.0,
    );
    check(
        "fast receding",
        s.measured_ratio(Vec3::new(0.0, 0.0, -200.0), Vec3::ZERO),
        1.0 / 1.5,
    );
}

#[test]
fn pitch_ratio_formula_and_errors() {
    let d = Doppler::new(Entity::PLACEHOLDER);
    let z = DVec3::Z;
    assert_eq!(d.pitch_ratio(DVec3::ZERO, DVec3::ZERO, z), 1.0);
    assert!((d.pitch_ratio(z * 34.3, DVec3::ZERO, z) - C / (C - 34.3)).abs() < 1e-12);
    assert!((d.pitch_ratio(DVec3::ZERO, z * 34.3, z) - 0.9).abs() < 1e-12);
    // Motion across the line of sight has no radial part.
    assert_eq!(d.pitch_ratio(DVec3::X * 50.0, DVec3::Y * 20.0, z), 1.0);
    // Source on top of the listener: no direction, no shift.
    assert_eq!(d.pitch_ratio(z * 100.0, DVec3::ZERO, DVec3::ZERO), 1.0);
    // Listener outrunning the sound: clamped to the smallest ratio, not negative.
    assert_eq!(d.pitch_ratio(DVec3::ZERO, z * 1000.0, z), 0.5);
    let off = d.clone().with_factor(0.0).unwrap();
    assert_eq!(off.pitch_ratio(z * 300.0, -z * 300.0, z), 1.0);
    let range = |r: Result<Doppler, WebAudioError>| matches!(r, Err(WebAudioError::Range(_)));
    assert!(range(d.clone().with_speed_of_sound(0.0)));
    assert!(range(d.clone().with_speed_of_sound(f64::NAN)));
    assert!(range(d.clone().with_factor(-1.0)));
    assert!(range(d.clone().with_factor(f64::INFINITY)));
    assert!(range(d.clone().with_max_ratio(0.5)));
    assert!(d.clone().with_speed_of_sound(1.0).is_ok());
}
