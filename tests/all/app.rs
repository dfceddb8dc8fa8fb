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

#[test]
fn bad_connections_are_typed_errors_and_are_removed() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(0.5);
    source.start(0.0).unwrap();
    let (src, gain) = {
        let mut c = app.world_mut().commands();
        let gain = c.spawn(GainNode::new(1.0)).connect(dest).id();
        let src = c.spawn(source).id();
        c.entity(src).connect_with(gain, 3, 0); // no output 3
        c.entity(src).connect_with(gain, 0, 2); // no input 2
        c.entity(src).connect_param(gain, ParamId::Frequency); // a gain has no frequency
        (src, gain)
    };
    app.update();
    let errors = messages::<AudioGraphError>(&app);
    assert_eq!(errors.len(), 3, "{errors:?}");
    let index = errors
        .iter()
        .filter(|e| matches!(e.error, WebAudioError::IndexSize(_)))
        .count();
    let state = errors
        .iter()
        .filter(|e| matches!(e.error, WebAudioError::InvalidState(_)))
        .count();
    assert_eq!((index, state), (2, 1), "{errors:?}");
    app.update();
    assert!(
        app.world().get::<AudioOutputs>(src).is_none(),
        "the bad edges were despawned"
    );
    // The graph still works, and connecting twice is a no-op (one edge, one contribution).
    app.world_mut()
        .commands()
        .entity(src)
        .connect(gain)
        .connect(gain);
    app.update();
    assert_eq!(
        app.world().get::<AudioOutputs>(src).unwrap().edges().len(),
        1
    );
    let out = app.render(128).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 0.5));
}

#[test]
fn an_invalid_channel_config_is_reported() {
    let mut app = offline_app(2);
    let panner = app
        .world_mut()
        .spawn((
            StereoPannerNode::default(),
            ChannelConfig::new(2, ChannelCountMode::Max, ChannelInterpretation::Speakers),
        ))
        .id();
    app.update();
    let errors = messages::<AudioGraphError>(&app);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].entity, panner);
    assert!(matches!(errors[0].error, WebAudioError::NotSupported(_)));
}

#[test]
fn offline_chunks_of_any_size_equal_one_render() {
    let build = || {
        let mut app = offline_app(1);
        let dest = destination(&app);
        let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, 330.0);
        osc.start(0.0).unwrap();
        osc.frequency
            .linear_ramp_to_value_at_time(660.0, 0.05)
            .unwrap();
        app.world_mut().commands().spawn(osc).connect(dest);
        app.update();
        app
    };
    let whole = build().render(4800).unwrap().remove(0);
    let mut app = build();
    let mut chunks = Vec::new();
    for size in [1, 100, 127, 128, 129, 1000, 3315] {
        chunks.extend(app.render(size).unwrap().remove(0));
        app.update();
    }
    assert_eq!(chunks.len(), 4800);
    assert_eq!(whole, chunks, "block size does not change the output");
    // currentTime is the spec's: after the last rendered quantum (4,864 = 38 × 128 frames),
    // ahead of the 4,800 returned; the other 64 wait for the next render.
    let time = app.world().resource::<AudioContext>().current_time();
    assert_eq!(time, 4864.0 / 48_000.0);
    let mut next = app.render(64).unwrap().remove(0);
    app.update();
    assert_eq!(app.world().resource::<AudioContext>().current_time(), time);
    let mut longer = build().render(4864).unwrap().remove(0);
    assert_eq!(next.len(), 64);
    assert_eq!(longer.split_off(4800), std::mem::take(&mut next));
}

#[test]
fn suspend_stops_the_clock_and_resume_continues() {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin {
            backend: Backend::Null {
                sample_rate: 48_000,
                channels: 2,
            },
            render_hooks: None,
        },
    ));
    let wait = |app: &mut App, ms| {
        let end = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        while std::time::Instant::now() < end {
            app.update();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    wait(&mut app, 150);
    let running = app.world().resource::<AudioContext>().current_frame();
    assert!(running > 0, "the null backend renders in real time");
    app.world_mut()
        .resource_mut::<AudioContext>()
        .suspend()
        .unwrap();
    wait(&mut app, 50);
    let suspended = app.world().resource::<AudioContext>().current_frame();
    assert_eq!(
        app.world().resource::<AudioContext>().state(),
        AudioContextState::Suspended
    );
    wait(&mut app, 150);
    assert_eq!(
        app.world().resource::<AudioContext>().current_frame(),
        suspended
    );
    app.world_mut()
        .resource_mut::<AudioContext>()
        .resume()
        .unwrap();
    wait(&mut app, 150);
    assert!(app.world().resource::<AudioContext>().current_frame() > suspended + 2048);
}

#[test]
fn automation_at_current_time_lands_on_the_next_quantum_after_a_partial_render() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(1.0);
    source.start(0.0).unwrap();
    let gain = app
        .world_mut()
        .commands()
        .spawn(GainNode::new(1.0))
        .connect(dest)
        .id();
    app.world_mut().commands().spawn(source).connect(gain);
    app.update();
    let mut out = app.render(100).unwrap().remove(0);
    app.update();
    // The renderer has rendered one quantum: currentTime is 128 frames, not 100.
    let now = app.world().resource::<AudioContext>().current_time();
    assert_eq!(now, 128.0 / 48_000.0);
    let mut node = app.world_mut().get_mut::<GainNode>(gain).unwrap();
    node.gain.set_value_at_time(0.0, now).unwrap();
    app.update();
    out.extend(app.render(156).unwrap().remove(0));
    // Frames 0..128 were rendered before the change; from frame 128 on, silence: exactly.
    assert!(out[..128].iter().all(|&v| v == 1.0), "{:?}", &out[..128]);
    assert!(out[128..].iter().all(|&v| v == 0.0), "{:?}", &out[128..]);
}

/// Registering a node type twice changes nothing: no second sync system (which would send
/// every command twice), no second registry entry.
#[test]
fn a_node_type_registered_twice_is_registered_once() {
    use bevy::ecs::schedule::Schedules;
    let mut app = offline_app(1);
    let systems = |app: &mut App| {
        app.world_mut()
            .resource_mut::<Schedules>()
            .get_mut(PostUpdate)
            .map_or(0, |s| s.systems_len())
    };
    let before = systems(&mut app);
    app.add_audio_node::<GainNode>();
    assert_eq!(systems(&mut app), before, "no system added");
    // And the one sync still sends each event once: a ramp from 0 to 1 over 128 frames.
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(1.0);
    source.start(0.0).unwrap();
    let mut gain = GainNode::new(0.0);
    gain.gain
        .linear_ramp_to_value_at_time(1.0, 128.0 / 48_000.0)
        .unwrap();
    {
        let mut commands = app.world_mut().commands();
        let gain = commands.spawn(gain).connect(dest).id();
        commands.spawn(source).connect(gain);
    }
    app.update();
    let out = app.render(256).unwrap().remove(0);
    assert!((out[64] - 0.5).abs() < 1e-6, "{}", out[64]);
    assert_eq!(out[200], 1.0);
}
