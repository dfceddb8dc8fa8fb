//! `SpatialAudio` and `AudioListener` following Bevy transforms: the mapping (Bevy forward
//! −Z, up +Y) pinned with a source in front of, left of, right of and behind the listener.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::support::SR;

/// An offline stereo app with transform propagation.
pub fn spatial_app() -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        TransformPlugin,
        WebAudioPlugin::offline(SR, 2),
    ));
    // 60 fps frames, whatever the wall clock does: the glide lasts one 16.7 ms frame.
    app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(
        std::time::Duration::from_secs_f64(1.0 / 60.0),
    ));
    app.update();
    app
}

/// Spawns a listener at `listener` and a constant-1 source on a `SpatialAudio` panner at
/// `source`; returns the source entity.
fn scene(app: &mut App, listener: Transform, source: Vec3) -> Entity {
    let dest = app.world().resource::<AudioContext>().destination();
    app.world_mut().spawn((AudioListener::default(), listener));
    let mut src = ConstantSourceNode::new(1.0);
    src.start(0.0).unwrap();
    let p = app
        .world_mut()
        .commands()
        .spawn((
            PannerNode::default(),
            SpatialAudio,
            Transform::from_translation(source),
        ))
        .connect(dest)
        .id();
    app.world_mut().commands().spawn(src).connect(p);
    app.update();
    p
}

/// Left and right output at the end of a render of `frames`.
fn levels(app: &mut App, frames: usize) -> (f32, f32) {
    let out = app.render(frames).unwrap();
    (out[0][frames - 1], out[1][frames - 1])
}

#[test]
fn front_left_right_behind_give_the_equal_power_gains() {
    // Distance 2, refDistance 1, inverse: distance gain 0.5.
    let h = std::f32::consts::FRAC_1_SQRT_2 * 0.5;
    for (name, pos, (l, r)) in [
        ("front", Vec3::new(0.0, 0.0, -2.0), (h, h)),
        ("left", Vec3::new(-2.0, 0.0, 0.0), (0.5, 0.0)),
        ("right", Vec3::new(2.0, 0.0, 0.0), (0.0, 0.5)),
        ("behind", Vec3::new(0.0, 0.0, 2.0), (h, h)),
    ] {
        let mut app = spatial_app();
        scene(&mut app, Transform::default(), pos);
        let (gl, gr) = levels(&mut app, 256);
        assert!(
            (gl - l).abs() < 1e-5 && (gr - r).abs() < 1e-5,
            "{name}: {gl} {gr}"
        );
    }
}

#[test]
fn the_listener_follows_its_transform() {
    // A camera looking along +X: world −Z is on its left, +Z on its right.
    let look_x = Transform::from_xyz(1.0, 0.0, 0.0).looking_to(Vec3::X, Vec3::Y);
    let mut app = spatial_app();
    scene(&mut app, look_x, Vec3::new(1.0, 0.0, -2.0));
    let (l, r) = levels(&mut app, 256);
    assert!((l - 0.5).abs() < 1e-5 && r.abs() < 1e-5, "{l} {r}");
}

#[test]
fn moving_an_entity_glides_the_balance_without_jumps() {
    let mut app = spatial_app();
    let p = scene(&mut app, Transform::default(), Vec3::new(-2.0, 0.0, -0.5));
    let (l, r) = levels(&mut app, 128);
    assert!(l > r + 0.3, "starts left: {l} {r}");
    // Move it to the right, passing in front of the listener, in one frame.
    app.world_mut().get_mut::<Transform>(p).unwrap().translation = Vec3::new(2.0, 0.0, -0.5);
    app.update();
    let out = app.render(SR as usize / 5).unwrap();
    let n = out[0].len();
    assert!(out[1][n - 1] > out[0][n - 1] + 0.3, "ends right");
    assert!((out[1][n - 1] - l).abs() < 1e-5 && (out[0][n - 1] - r).abs() < 1e-5);
    // A glide over one frame (800 samples), not a step: no sample-to-sample jump above 1% of
    // full scale, and the balance is still moving 10 ms after the change.
    assert!((out[1][0] - r).abs() < 0.01, "starts where it was");
    assert!(
        (out[1][480] - out[1][n - 1]).abs() > 0.05,
        "still gliding at 10 ms"
    );
    for ch in &out {
        let jump = ch
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(jump < 0.01, "jump {jump}");
    }
}
