//! Game-facing audio: one-shot cleanup, `play_sound`, mix buses and ducking, voice limits,
//! virtualisation. Offline apps: every number is sample-exact.

use std::time::Instant;

use bevy::prelude::*;
use bevy_webaudio::game::VOLUME_GLIDE;
use bevy_webaudio::prelude::*;

use crate::support::*;

/// An offline app with `plugin` (buses, ducking, limits). `TransformPlugin` is not part of
/// `MinimalPlugins`: without it no `GlobalTransform` is ever propagated, and every spatial
/// sound would sit at the origin.
pub(crate) fn game_app(channels: u16, plugin: GameAudioPlugin) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        TransformPlugin,
        WebAudioPlugin::offline(SR, channels),
        plugin,
    ));
    app.update();
    app
}

/// The tests' own bus and ducking-flag names.
#[derive(Clone, Copy)]
enum Label {
    World,
    Menu,
}

impl AudioLabel for Label {
    fn name(&self) -> &'static str {
        match self {
            Label::World => "world",
            Label::Menu => "menu",
        }
    }
}

pub(crate) fn buffer(app: &mut App, samples: Vec<f32>) -> Handle<AudioBuffer> {
    let buffer = AudioBuffer::from_samples(vec![samples], SR as f32).unwrap();
    app.world_mut()
        .resource_mut::<Assets<AudioBuffer>>()
        .add(buffer)
}

fn entity_count(app: &mut App) -> usize {
    app.world_mut().query::<()>().iter(app.world()).count()
}

fn counts(app: &mut App) -> (usize, usize, u64) {
    let context = app.world().resource::<AudioContext>();
    let (nodes, render_nodes) = (context.node_count(), context.render_node_count());
    (entity_count(app), nodes, render_nodes)
}

pub(crate) fn voices(app: &mut App) -> Vec<(Entity, Voice)> {
    app.world_mut()
        .query::<(Entity, &Voice)>()
        .iter(app.world())
        .map(|(e, v)| (e, v.clone()))
        .collect()
}

/// 1,000 one-shots fired in one frame all play (their samples sum exactly at the output) and
/// leave nothing behind: entities, control-side and render-side node counts return to the
/// baseline.
#[test]
fn thousand_one_shots_play_and_clean_up() {
    let mut app = game_app(1, GameAudioPlugin::default());
    let click = buffer(&mut app, vec![0.5; 480]);
    app.render(128).unwrap();
    app.update();
    let baseline = counts(&mut app);
    assert_eq!(baseline.1, 5, "destination + 4 buses");
    assert_eq!(baseline.2, 5, "the render side holds the same nodes");

    let started = Instant::now();
    {
        let mut commands = app.world_mut().commands();
        for _ in 0..1000 {
            // 0.5 × 2^-11 per shot: dyadic, so the sum of 1,000 is exact in f32.
            commands.play_sound(click.clone()).volume(1.0 / 1024.0);
        }
    }
    app.update();
    let frame = started.elapsed();
    // `AudioContext`'s node counts are a snapshot the plugin refreshes in `First` (with the
    // clock): the nodes created in this frame's `PostUpdate` show from the next frame on.
    app.update();
    let live = counts(&mut app);
    let out = app.render(1024).unwrap().remove(0);
    assert_eq!(live.1, baseline.1 + 2000, "a source and a gain per shot");
    let expected = 1000.0 * 0.5 / 1024.0;
    assert!(
        out[..480].iter().all(|&v| v == expected),
        "every shot reaches the output: {} vs {expected}",
        out[..480]
            .iter()
            .fold(0.0f32, |m, &v| m.max((v - expected).abs()))
    );
    assert!(out[480..].iter().all(|&v| v == 0.0));
    app.update(); // 'ended' arrives: despawn
    app.update(); // the removals go out
    app.render(128).unwrap(); // the render side applies them
    app.update();
    assert_eq!(
        counts(&mut app),
        baseline,
        "(entities, nodes, render nodes)"
    );
    eprintln!(
        "1000 one-shots: spawn+admit+build+sync frame {:.1} ms, {:.0} one-shots/ms; \
         {} entities and {} nodes at peak, back to {} / {}",
        frame.as_secs_f64() * 1e3,
        1000.0 / (frame.as_secs_f64() * 1e3),
        live.0,
        live.1,
        baseline.0,
        baseline.1,
    );
}

/// Volume, rate × detune, and delay, checked against a ramp buffer (value = index / N).
#[test]
fn play_sound_settings_follow_the_spec_formulas() {
    let mut app = game_app(1, GameAudioPlugin::default());
    let n = 4096;
    let ramp = buffer(&mut app, (0..n).map(|i| i as f32 / n as f32).collect());
    app.world_mut()
        .commands()
        .play_sound(ramp)
        .volume(0.5)
        .playback_rate(1.5)
        .detune(1200.0) // × 2: computedPlaybackRate = 3
        .delay(0.005); // 240 frames
    app.update();
    let out = app.render(1536).unwrap().remove(0);
    assert!(
        out[..240].iter().all(|&v| v == 0.0),
        "silent before the delay"
    );
    for (k, &v) in out.iter().enumerate().take(1500).skip(240) {
        let expected = 0.5 * 3.0 * (k - 240) as f32 / n as f32;
        assert!((v - expected).abs() < 1e-5, "frame {k}: {v} vs {expected}");
    }
}

/// A bad request is a typed error, not a panic or NaN.
#[test]
fn invalid_request_is_an_audio_graph_error() {
    let mut app = game_app(1, GameAudioPlugin::default());
    let b = buffer(&mut app, vec![1.0; 64]);
    let entity = app
        .world_mut()
        .commands()
        .play_sound(b)
        .volume(f32::NAN)
        .id();
    app.update();
    let messages = app.world().resource::<Messages<AudioGraphError>>();
    let errors: Vec<_> = messages.get_cursor().read(messages).cloned().collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].entity, entity);
    assert!(matches!(errors[0].error, WebAudioError::Range(_)));
    assert!(app.world().get_entity(entity).is_err());
    let out = app.render(128).unwrap().remove(0);
    assert!(out.iter().all(|v| *v == 0.0));
}

/// `stop_sound(fade)`: the gain falls linearly to 0 over exactly the fade, then the voice ends
/// and is despawned.
#[test]
fn stop_sound_fades_linearly_then_despawns() {
    let mut app = game_app(1, GameAudioPlugin::default());
    let tone = buffer(&mut app, vec![1.0; 480]);
    let sound = app
        .world_mut()
        .commands()
        .play_sound(tone)
        .volume(0.8)
        .looping()
        .id();
    app.update();
    let out = app.render(1024).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 0.8), "looping at volume 0.8");
    app.world_mut().commands().entity(sound).stop_sound(0.01); // 480 frames
    app.update();
    let out = app.render(1024).unwrap().remove(0);
    for (k, &v) in out.iter().enumerate() {
        let expected = (0.8 * (1.0 - k as f64 / 480.0)).max(0.0) as f32;
        assert!((v - expected).abs() < 1e-5, "frame {k}: {v} vs {expected}");
    }
    app.update();
    assert!(
        app.world().get_entity(sound).is_err(),
        "despawned when it ended"
    );
}

/// A spatial one-shot pans by its transform and follows it.
#[test]
fn spatial_sound_follows_its_transform() {
    let mut app = game_app(2, GameAudioPlugin::default());
    let tone = buffer(&mut app, vec![1.0; 4800]);
    let sound = app
        .world_mut()
        .commands()
        .play_sound(tone)
        .looping()
        .at(Vec3::new(3.0, 0.0, 0.0))
        .id();
    app.update();
    let out = app.render(256).unwrap();
    // Inverse distance: 1 / (1 + (3 − 1)) = 1/3; azimuth 90°: all right.
    assert!(
        out[0][128..].iter().all(|v| v.abs() < 1e-6),
        "left {}",
        out[0][200]
    );
    assert!(
        out[1][128..].iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-5),
        "right {}",
        out[1][200]
    );
    app.world_mut()
        .entity_mut(sound)
        .insert(Transform::from_xyz(-3.0, 0.0, 0.0));
    app.update();
    app.render(SR as usize / 10).unwrap(); // the glide (≤ 100 ms)
    app.update();
    let out = app.render(256).unwrap();
    assert!(
        out[0].iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-5),
        "left {}",
        out[0][0]
    );
    assert!(out[1].iter().all(|v| v.abs() < 1e-5), "right {}", out[1][0]);
}

const DUCK: DuckRule = DuckRule {
    target: MixBus::MUSIC,
    trigger: DuckTrigger::Bus(MixBus::VOICE),
    level: 0.25,
    attack: 0.1,
    release: 0.2,
};

/// Music is ducked while the voice bus plays: the music bus gain follows the attack ramp down
/// to `level` and the release ramp back, as automation (checked sample by sample).
#[test]
fn ducking_follows_attack_and_release() {
    let mut app = game_app(1, GameAudioPlugin::default().with_ducking(DUCK));
    let one = buffer(&mut app, vec![1.0; 4800]);
    app.world_mut()
        .commands()
        .play_sound(one.clone())
        .bus(MixBus::MUSIC)
        .looping();
    app.update();
    // A whole number of render quanta (38 × 128): the offline renderer renders whole quanta,
    // so after `render(4800)` its clock would stand 64 frames past `current_time()`, and the
    // ramp, scheduled at `current_time()` (in the render side's past), would start at the
    // render clock (the spec clamps past automation times to the current time).
    let out = app.render(4864).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 1.0));
    // A silent line on the voice bus: only the music is heard.
    let line = app
        .world_mut()
        .commands()
        .play_sound(one)
        .bus(MixBus::VOICE)
        .volume(0.0)
        .looping()
        .id();
    app.update();
    let out = app.render(9600).unwrap().remove(0);
    for (k, &v) in out.iter().enumerate() {
        let t = k as f64 / f64::from(SR);
        let expected = if t < 0.1 { 1.0 - 0.75 * t / 0.1 } else { 0.25 } as f32;
        assert!(
            (v - expected).abs() < 1e-5,
            "attack, frame {k}: {v} vs {expected}"
        );
    }
    // The line stops: the release ramp starts from the ducked gain.
    app.world_mut().commands().entity(line).stop_sound(0.0);
    app.update();
    let out = app.render(4800).unwrap().remove(0);
    for (k, &v) in out.iter().enumerate() {
        let t = k as f64 / f64::from(SR);
        let expected = (0.25 + 0.75 * t / 0.2) as f32;
        assert!(
            (v - expected).abs() < 1e-5,
            "release, frame {k}: {v} vs {expected}"
        );
    }
}

/// A manual flag ducks too, and bus volumes from the resource glide over `VOLUME_GLIDE`.
#[test]
fn manual_ducking_and_bus_volume_resource() {
    let rule = DuckRule {
        trigger: DuckTrigger::Manual(DuckFlag::of(Label::Menu)),
        ..DUCK
    };
    let mut app = game_app(1, GameAudioPlugin::default().with_ducking(rule));
    let one = buffer(&mut app, vec![1.0; 4800]);
    app.world_mut()
        .commands()
        .play_sound(one)
        .bus(MixBus::MUSIC)
        .looping();
    app.update();
    app.render(128).unwrap();
    app.world_mut()
        .resource_mut::<BusVolumes>()
        .set(MixBus::MUSIC, 0.5);
    app.update();
    let out = app.render(1920).unwrap().remove(0);
    let glide = (VOLUME_GLIDE * f64::from(SR)) as usize;
    for (k, &v) in out.iter().enumerate() {
        let expected = (1.0 - 0.5 * (k as f64 / glide as f64).min(1.0)) as f32;
        assert!(
            (v - expected).abs() < 1e-5,
            "volume, frame {k}: {v} vs {expected}"
        );
    }
    app.world_mut()
        .resource_mut::<DuckFlags>()
        .set(Label::Menu, true);
    app.update();
    let out = app.render(9600).unwrap().remove(0);
    assert!((out[4800 - 1] - (0.5 - 0.375 * 4799.0 / 4800.0)).abs() < 1e-5);
    assert!(
        out[4800..].iter().all(|&v| (v - 0.125).abs() < 1e-6),
        "0.5 × 0.25"
    );
}

/// A burst of 10,000 requests on a bus limited to 8 voices leaves exactly 8 playing.
#[test]
fn voice_cap_holds_under_a_burst_of_ten_thousand() {
    let plugin = GameAudioPlugin::default()
        .with_limit(MixBus::EFFECTS, VoiceLimit::new(8, StealPolicy::Oldest));
    let mut app = game_app(1, plugin);
    let one = buffer(&mut app, vec![1.0; 480]);
    app.render(128).unwrap();
    app.update();
    let baseline = counts(&mut app);
    let started = Instant::now();
    {
        let mut commands = app.world_mut().commands();
        for _ in 0..10_000 {
            commands.play_sound(one.clone()).looping();
        }
    }
    app.update();
    let frame = started.elapsed();
    let playing = voices(&mut app);
    assert_eq!(playing.len(), 8);
    assert!(playing.iter().all(|(_, v)| v.is_playing()));
    // The oldest were stolen (before they rendered): the last 8 requests survive.
    let mut sequences: Vec<u64> = playing.iter().map(|(_, v)| v.sequence).collect();
    sequences.sort_unstable();
    assert_eq!(sequences[0] + 7, sequences[7]);
    assert_eq!(
        counts(&mut app).0,
        baseline.0 + 8 * 4,
        "8 × (sound, gain, 2 edges)"
    );
    let out = app.render(1024).unwrap().remove(0);
    assert!(
        out.iter().all(|&v| v == 8.0),
        "8 voices at volume 1: {}",
        out[0]
    );
    eprintln!(
        "10,000 requests on an 8-voice bus: {:.1} ms for the frame, 8 playing",
        frame.as_secs_f64() * 1e3
    );
}

/// Stealing a rendering voice fades it out over the limit's fade (10 ms), with no step.
#[test]
fn stolen_voice_fades_within_the_stated_time() {
    let plugin = GameAudioPlugin::default()
        .with_limit(MixBus::EFFECTS, VoiceLimit::new(4, StealPolicy::Oldest));
    let mut app = game_app(1, plugin);
    let one = buffer(&mut app, vec![1.0; 480]);
    for _ in 0..4 {
        app.world_mut().commands().play_sound(one.clone()).looping();
    }
    app.update();
    app.render(1024).unwrap();
    for _ in 0..2 {
        app.world_mut().commands().play_sound(one.clone()).looping();
    }
    app.update();
    let states: Vec<VoiceState> = voices(&mut app).into_iter().map(|(_, v)| v.state).collect();
    assert_eq!(
        states.iter().filter(|s| **s == VoiceState::Playing).count(),
        4
    );
    assert_eq!(
        states
            .iter()
            .filter(|s| matches!(s, VoiceState::Stopping { .. }))
            .count(),
        2
    );
    let out = app.render(1024).unwrap().remove(0);
    let fade = (VoiceLimit::DEFAULT_FADE * f64::from(SR)) as usize;
    for (k, &v) in out.iter().enumerate() {
        // 2 survivors + 2 new, and the 2 stolen fading linearly.
        let expected = (4.0 + 2.0 * (1.0 - k as f64 / fade as f64).max(0.0)) as f32;
        assert!((v - expected).abs() < 1e-5, "frame {k}: {v} vs {expected}");
    }
    app.update();
    assert_eq!(voices(&mut app).len(), 4, "the stolen voices are gone");
}

/// Policies: lowest priority loses; a lower-priority request on a full bus is dropped.
#[test]
fn lowest_priority_and_farthest_policies() {
    let plugin = GameAudioPlugin::default()
        .with_limit(
            MixBus::EFFECTS,
            VoiceLimit::new(2, StealPolicy::LowestPriority),
        )
        .with_limit(Label::World, VoiceLimit::new(2, StealPolicy::Farthest));
    let mut app = game_app(2, plugin);
    let one = buffer(&mut app, vec![1.0; 480]);
    let spawn = |app: &mut App, priority: i32| {
        app.world_mut()
            .commands()
            .play_sound(one.clone())
            .looping()
            .priority(priority)
            .id()
    };
    let (a, b) = (spawn(&mut app, 5), spawn(&mut app, 1));
    app.update();
    let low = spawn(&mut app, 0);
    app.update();
    assert!(
        app.world().get_entity(low).is_err(),
        "priority 0 < every playing voice"
    );
    let high = spawn(&mut app, 3);
    app.update();
    let state = |app: &App, e| app.world().get::<Voice>(e).map(|v| v.state);
    assert_eq!(state(&app, a), Some(VoiceState::Playing));
    assert!(
        matches!(state(&app, b), Some(VoiceState::Stopping { .. })),
        "priority 1 stolen"
    );
    assert_eq!(state(&app, high), Some(VoiceState::Playing));

    let at = |app: &mut App, x: f32| {
        app.world_mut()
            .commands()
            .play_sound(one.clone())
            .looping()
            .bus(Label::World)
            .at(Vec3::new(x, 0.0, 0.0))
            .id()
    };
    let (near, far) = (at(&mut app, 2.0), at(&mut app, 20.0));
    app.update();
    app.update(); // transforms propagate
    let farther = at(&mut app, 30.0);
    app.update();
    assert!(
        app.world().get_entity(farther).is_err(),
        "farther than every playing voice"
    );
    let close = at(&mut app, 1.0);
    app.update();
    assert_eq!(state(&app, near), Some(VoiceState::Playing));
    assert!(matches!(
        state(&app, far),
        Some(VoiceState::Stopping { .. })
    ));
    assert_eq!(state(&app, close), Some(VoiceState::Playing));
}

/// A looping voice taken out of range stops rendering (no nodes), keeps its time, and comes
/// back at the sample offset it would have reached.
#[test]
fn virtualised_loop_resumes_at_the_right_sample_offset() {
    let mut app = game_app(2, GameAudioPlugin::default());
    let n = 1000;
    let ramp = buffer(&mut app, (0..n).map(|i| i as f32 / n as f32).collect());
    let mut panner = PannerNode::new(PanningModel::EqualPower);
    panner
        .set_distance_model(DistanceModel::Linear)
        .set_max_distance(10.0)
        .unwrap();
    app.render(128).unwrap();
    app.update();
    let baseline = counts(&mut app);
    let sound = app
        .world_mut()
        .commands()
        .play_sound(ramp)
        .looping()
        .spatial(panner)
        .at(Vec3::new(0.0, 0.0, -1.0))
        .id();
    app.update();
    let start = 128; // the frame it started at
    let g = std::f32::consts::FRAC_1_SQRT_2; // equal power, straight ahead, distance gain 1
    let check = |out: &[f32], first: usize| {
        for (i, &v) in out.iter().enumerate() {
            let expected = g * ((first + i - start) % n) as f32 / n as f32;
            assert!(
                (v - expected).abs() < 1e-5,
                "frame {}: {v} vs {expected}",
                first + i
            );
        }
    };
    let out = app.render(2048).unwrap();
    check(&out[0], start);
    // Out of range (linear model, maxDistance 10): virtual.
    app.world_mut()
        .entity_mut(sound)
        .insert(Transform::from_xyz(0.0, 0.0, -50.0));
    app.update(); // transform propagates
    app.update(); // virtualised
    assert_eq!(
        app.world().get::<Voice>(sound).unwrap().state,
        VoiceState::Virtual
    );
    app.update();
    app.render(128).unwrap();
    app.update();
    assert_eq!(counts(&mut app).1, baseline.1, "no nodes while virtual");
    let out = app.render(4352).unwrap();
    assert!(out[0].iter().all(|&v| v == 0.0));
    // Back in range: resumes in sync.
    app.world_mut()
        .entity_mut(sound)
        .insert(Transform::from_xyz(0.0, 0.0, -1.0));
    app.update();
    app.update();
    assert_eq!(
        app.world().get::<Voice>(sound).unwrap().state,
        VoiceState::Playing
    );
    let now = app.world().resource::<AudioContext>().current_frame() as usize;
    let out = app.render(3000).unwrap();
    check(&out[0], now);
}

/// With the `MicrophonePlugin`, voice activity ducks the music along the same ramps.
#[test]
fn microphone_voice_activity_ducks_the_music() {
    let rule = DuckRule {
        trigger: DuckTrigger::Microphone,
        ..DUCK
    };
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(SR, 1),
        MicrophonePlugin::simulated(SR, 1),
        GameAudioPlugin::default().with_ducking(rule),
    ));
    app.update();
    let one = buffer(&mut app, vec![1.0; 4800]);
    app.world_mut()
        .commands()
        .play_sound(one)
        .bus(MixBus::MUSIC)
        .looping();
    app.update();
    // Whole render quanta (38 × 128), as in `ducking_follows_attack_and_release`.
    assert!(app.render(4864).unwrap()[0].iter().all(|&v| v == 1.0));
    // Half a second of a −12 dBFS 220 Hz tone into the simulated microphone; the graph's
    // clock stands still (nothing renders) until the analysis worker reports the voice.
    let input = app
        .world()
        .resource::<Microphone>()
        .simulated_input()
        .unwrap();
    let tone: Vec<f32> = (0..24_000)
        .map(|i| 0.35 * (std::f32::consts::TAU * 220.0 * i as f32 / SR as f32).sin())
        .collect();
    input.write(&tone);
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while !app.world().resource::<Microphone>().voice_active() {
        assert!(Instant::now() < deadline, "no voice activity");
        app.update();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    app.update(); // the frame that sees the voice ducks (if it had not already)
    let out = app.render(4800).unwrap().remove(0);
    for (k, &v) in out.iter().enumerate() {
        let expected = (1.0 - 0.75 * k as f64 / 4800.0) as f32;
        assert!(
            (v - expected).abs() < 1e-5,
            "attack, frame {k}: {v} vs {expected}"
        );
    }
}
