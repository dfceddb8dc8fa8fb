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

/// The frame-`k` pose of the moving source of the glide test.
fn pose(k: usize) -> Transform {
    let k = k as f32;
    Transform::from_xyz(-2.0 + 0.3 * k, 0.5 - 0.05 * k, -1.0 + 0.1 * k)
        .with_rotation(Quat::from_rotation_y(0.2 * k) * Quat::from_rotation_x(0.05 * k))
}

#[test]
fn a_moving_source_sends_one_glide_a_frame_rendered_as_the_spec_ramps() {
    const FRAMES: usize = 12;
    // An equal-power panner with a cone, so orientation matters too.
    let cone = |mut p: PannerNode| {
        p.set_cone_inner_angle(60.0).unwrap();
        p.set_cone_outer_angle(200.0).unwrap();
        p.set_cone_outer_gain(0.1).unwrap();
        p
    };
    // Each app: a listener at the origin and a constant source into `panner`.
    let build = |panner: (PannerNode, Option<(SpatialAudio, Transform)>)| {
        let mut app = spatial_app();
        let dest = app.world().resource::<AudioContext>().destination();
        app.world_mut()
            .spawn((AudioListener::default(), Transform::default()));
        let mut commands = app.world_mut().commands();
        let mut entity = commands.spawn(panner.0);
        if let Some(spatial) = panner.1 {
            entity.insert(spatial);
        }
        let p = entity.connect(dest).id();
        let mut src = ConstantSourceNode::new(1.0);
        src.start(0.0).unwrap();
        commands.spawn(src).connect(p);
        (app, p)
    };
    // A SpatialAudio panner following its transform ...
    let model = || PannerNode::new(PanningModel::EqualPower);
    let (mut spatial, p) = build((cone(model()), Some((SpatialAudio, pose(0)))));
    // ... against a plain panner whose six params get, each frame, the spec's
    // cancelAndHoldAtTime(now) + linearRampToValueAtTime(value, now + frame) by hand.
    let values = |k: usize| {
        let g = GlobalTransform::from(pose(k));
        let (p, f) = (g.translation(), g.forward());
        [p.x, p.y, p.z, f.x, f.y, f.z]
    };
    let [x, y, z, fx, fy, fz] = values(0);
    let plain = model().with_position(x, y, z).with_orientation(fx, fy, fz);
    let (mut manual, q) = build((cone(plain), None));
    for app in [&mut spatial, &mut manual] {
        app.update();
        app.render(800).unwrap();
    }
    let backlog = |app: &App| app.world().resource::<AudioContext>().command_backlog();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for k in 1..=FRAMES {
        *spatial.world_mut().get_mut::<Transform>(p).unwrap() = pose(k);
        spatial.update();
        spatial.update(); // reads back the backlog the first update left
        assert_eq!(backlog(&spatial), 1, "frame {k}: one command for the move");
        let now = manual.world().resource::<AudioContext>().current_time();
        let end = now + manual.world().resource::<Time>().delta_secs_f64();
        let mut node = manual.world_mut().get_mut::<PannerNode>(q).unwrap();
        let node = &mut *node;
        let params = [
            &mut node.position_x,
            &mut node.position_y,
            &mut node.position_z,
            &mut node.orientation_x,
            &mut node.orientation_y,
            &mut node.orientation_z,
        ];
        for (param, value) in params.into_iter().zip(values(k)) {
            param
                .cancel_and_hold_at_time(now)
                .unwrap()
                .linear_ramp_to_value_at_time(value, end)
                .unwrap();
        }
        manual.update();
        manual.update();
        for (out, app) in [(&mut a, &mut spatial), (&mut b, &mut manual)] {
            let chunk = app.render(800).unwrap();
            out.extend(chunk[0].iter().zip(&chunk[1]).map(|(&l, &r)| (l, r)));
        }
    }
    assert_eq!(a.len(), FRAMES * 800);
    let moved = a
        .first()
        .zip(a.last())
        .is_some_and(|(s, e)| (s.1 - e.1).abs() > 0.3);
    assert!(
        moved,
        "the balance moves: {:?} -> {:?}",
        a[0],
        a[a.len() - 1]
    );
    for (n, (s, m)) in a.iter().zip(&b).enumerate() {
        assert!(s == m, "sample {n}: spatial {s:?}, by hand {m:?}");
    }
}
