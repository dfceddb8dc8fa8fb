//! A Bevy App with the offline backend: spawn, connect, automate, despawn, and check samples.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::support::*;

#[test]
fn spawn_connect_automate_despawn() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(1.0);
    source.start(0.0).unwrap();
    let mut gain = GainNode::new(0.5);
    gain.gain
        .linear_ramp_to_value_at_time(1.5, 128.0 / 48_000.0)
        .unwrap();
    let (source, gain) = {
        let mut commands = app.world_mut().commands();
        let gain = commands.spawn(gain).connect(dest).id();
        let source = commands.spawn(source).connect(gain).id();
        (source, gain)
    };
    app.update();
    let out = app.render(256).unwrap().remove(0);
    // A ramp with no earlier event starts at the intrinsic value (0.5) at the call time (0).
    for (i, &v) in out[..128].iter().enumerate() {
        let expected = 0.5 + (1.5 - 0.5) * i as f32 / 128.0;
        assert!((v - expected).abs() < 1e-6, "frame {i}: {v} vs {expected}");
    }
    assert!(out[128..].iter().all(|&v| v == 1.5));
    // Despawning the gain removes its edges: silence.
    app.world_mut().despawn(gain);
    app.update();
    let out = app.render(128).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 0.0), "{:?}", &out[..4]);
    // Connecting the source straight to the destination plays it again.
    app.world_mut().commands().entity(source).connect(dest);
    app.update();
    assert_eq!(
        app.world().resource::<AudioContext>().node_count(),
        2,
        "destination + source"
    );
    let out = app.render(128).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 1.0));
    assert_eq!(app.world().resource::<AudioContext>().current_frame(), 512);
}

#[test]
fn ended_arrives_as_message_and_observer() {
    #[derive(Resource, Default)]
    struct Seen(Vec<Entity>);
    let mut app = offline_app(1);
    app.init_resource::<Seen>();
    let mut source = ConstantSourceNode::default();
    source.start(0.0).unwrap().stop(0.001).unwrap();
    let entity = app.world_mut().spawn(source).id();
    app.world_mut()
        .entity_mut(entity)
        .observe(|ended: On<Ended>, mut seen: ResMut<Seen>| seen.0.push(ended.entity));
    app.update();
    app.render(256).unwrap();
    app.update();
    assert_eq!(app.world().resource::<Seen>().0, vec![entity]);
    let messages = app.world().resource::<Messages<Ended>>();
    let mut cursor = messages.get_cursor();
    let got: Vec<_> = cursor.read(messages).map(|e| e.entity).collect();
    assert_eq!(got, vec![entity]);
}
