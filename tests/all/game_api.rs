//! The game API's conveniences, rendered offline and checked sample by sample against their
//! formulas: fades (linear, equal-power) per sound and per bus, volumes in decibels, pause /
//! resume / seek, typed bus labels and effect inserts, dropped sounds and warnings,
//! `SpatialAudio`'s required `Transform`, the distance scale and the 2D mode.

use std::f64::consts::FRAC_PI_2;
use std::sync::Arc;

use crossbeam_queue::SegQueue;

use bevy::log::tracing;
use bevy::log::tracing_subscriber::layer::{Context, SubscriberExt};
use bevy::log::tracing_subscriber::{Layer, Registry};
use bevy::prelude::*;
use bevy_webaudio::game::PAUSE_FADE;
use bevy_webaudio::prelude::*;

use crate::game::{buffer, game_app, voices};
use crate::support::*;

/// Frames in `seconds`.
fn frames(seconds: f64) -> usize {
    (seconds * f64::from(SR)).round() as usize
}

/// A looping sound of constant 1 on the effects bus, set up by `edit`; one update.
fn constant_sound(app: &mut App, edit: impl FnOnce(&mut EntityCommands)) -> Entity {
    let one = buffer(app, vec![1.0; 4800]);
    let mut commands = app.world_mut().commands();
    let mut sound = commands.play_sound(one);
    sound.looping();
    edit(&mut sound);
    let id = sound.id();
    app.update();
    id
}

fn assert_follows(out: &[f32], expected: impl Fn(usize) -> f64, tolerance: f64, what: &str) {
    for (k, &v) in out.iter().enumerate() {
        let e = expected(k);
        assert!(
            (f64::from(v) - e).abs() < tolerance,
            "{what}, frame {k}: {v} vs {e}"
        );
    }
}

/// `.fade_in(0.01)`: the gain rises along a straight line from 0 to the volume.
#[test]
fn linear_fade_in_rises_along_a_line() {
    let mut app = game_app(1, GameAudioPlugin::default());
    constant_sound(&mut app, |s| {
        s.volume(0.5).fade_in(0.01);
    });
    let out = app.render(1024).unwrap().remove(0);
    let n = frames(0.01) as f64;
    assert_follows(
        &out,
        |k| 0.5 * (k as f64 / n).min(1.0),
        1e-6,
        "linear fade-in",
    );
}

/// An equal-power fade-in is `volume·sin(πt/2)`; an equal-power stop `volume·cos(πt/2)`, then
/// silence and a despawned entity.
#[test]
fn equal_power_fades_follow_sine_and_cosine() {
    let mut app = game_app(1, GameAudioPlugin::default());
    let sound = constant_sound(&mut app, |s| {
        s.volume(0.8).fade_in(Fade::equal_power(0.02));
    });
    let n = frames(0.02) as f64;
    let out = app.render(1024).unwrap().remove(0);
    let sine = |k: usize| 0.8 * (FRAC_PI_2 * (k as f64 / n).min(1.0)).sin();
    assert_follows(&out, sine, 1e-5, "equal-power fade-in");

    app.world_mut()
        .commands()
        .entity(sound)
        .stop_sound(Fade::equal_power(0.02));
    app.update();
    let out = app.render(1024).unwrap().remove(0);
    let cosine = |k: usize| 0.8 * (FRAC_PI_2 * (k as f64 / n).min(1.0)).cos();
    assert_follows(&out, cosine, 1e-5, "equal-power stop");
    app.update();
    assert!(
        app.world().get_entity(sound).is_err(),
        "despawned at its end"
    );
}

/// Volumes in decibels: a sound at −6 dB plays at 10^(−6/20); `set_sound_volume` to −20 dB
/// moves it there along a linear fade.
#[test]
fn decibel_volumes_follow_the_formula() {
    let mut app = game_app(1, GameAudioPlugin::default());
    let sound = constant_sound(&mut app, |s| {
        s.volume(Volume::Decibels(-6.0));
    });
    let minus_6 = 10f64.powf(-6.0 / 20.0);
    let out = app.render(256).unwrap().remove(0);
    assert_follows(&out, |_| minus_6, 1e-6, "−6 dB");

    app.world_mut()
        .commands()
        .entity(sound)
        .set_sound_volume(Volume::Decibels(-20.0), 0.01);
    app.update();
    let out = app.render(1024).unwrap().remove(0);
    let n = frames(0.01) as f64;
    let line = |k: usize| minus_6 + (0.1 - minus_6) * (k as f64 / n).min(1.0);
    assert_follows(&out, line, 1e-5, "to −20 dB");
}

/// Pause fades out over `PAUSE_FADE` and holds the play head (silence after the fade);
/// resume fades back in and the buffer continues from the sample where it held: the play
/// head stops at the first render quantum at or after the fade's end (`playbackRate` is
/// k-rate) and moves again from the quantum of the resume.
#[test]
fn pause_holds_the_play_head_and_resume_continues_from_it() {
    let mut app = game_app(1, GameAudioPlugin::default());
    let len = 96_000;
    let ramp: Vec<f32> = (0..len).map(|i| i as f32 / len as f32).collect();
    let ramp = buffer(&mut app, ramp);
    let sound = app.world_mut().commands().play_sound(ramp).id();
    app.update();
    // Whole render quanta (192 × 128), so the clock and the rendered frames agree.
    let played = 24_576;
    app.render(played).unwrap();
    app.world_mut().commands().entity(sound).pause_sound();
    app.update();
    let paused = app.render(played).unwrap().remove(0);
    let fade = frames(PAUSE_FADE);
    let loud = paused[fade..].iter().position(|&v| v != 0.0);
    assert!(
        loud.is_none(),
        "silent while paused: {:?} at {loud:?}, start {:?}",
        loud.map(|k| paused[fade + k]),
        &paused[..4]
    );
    assert!(
        matches!(voices(&mut app)[0].1.state, VoiceState::Paused { .. }),
        "paused state"
    );
    app.world_mut().commands().entity(sound).resume_sound();
    app.update();
    let resumed = app.render(4_800).unwrap().remove(0);
    // Held at the quantum boundary at or after the fade's end: 24,576 + 480 → 25,088.
    let held = (played + fade).div_ceil(128) * 128;
    let continued = |k: usize| (held + k) as f64 / len as f64;
    assert_follows(&resumed[fade..], |k| continued(k + fade), 1e-6, "resumed");
    assert!(voices(&mut app)[0].1.is_playing());
}

/// Seek jumps to a buffer position at once; a paused sound seeks and stays paused.
#[test]
fn seek_plays_from_the_new_position() {
    let mut app = game_app(1, GameAudioPlugin::default());
    let len = 48_000;
    let ramp: Vec<f32> = (0..len).map(|i| i as f32 / len as f32).collect();
    let ramp = buffer(&mut app, ramp);
    let sound = app.world_mut().commands().play_sound(ramp).looping().id();
    app.update();
    app.render(4_096).unwrap();
    app.world_mut().commands().entity(sound).seek_sound(0.75);
    app.update();
    let out = app.render(1_024).unwrap().remove(0);
    assert_follows(
        &out,
        |k| (36_000 + k) as f64 / len as f64,
        1e-6,
        "after seek",
    );

    app.world_mut().commands().entity(sound).pause_sound();
    app.update();
    app.render(2_048).unwrap();
    app.world_mut().commands().entity(sound).seek_sound(1.25); // wraps to 0.25 s
    app.update();
    let out = app.render(1_024).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 0.0), "still paused after the seek");
    app.world_mut().commands().entity(sound).resume_sound();
    app.update();
    let out = app.render(2_048).unwrap().remove(0);
    let fade = frames(PAUSE_FADE);
    assert_follows(
        &out[fade..],
        |k| (12_000 + k + fade) as f64 / len as f64,
        1e-6,
        "resumed at the sought position",
    );
}

/// The tests' own bus names.
#[derive(Clone, Copy)]
enum GameBus {
    Echo,
}

impl AudioLabel for GameBus {
    fn name(&self) -> &'static str {
        "echo"
    }
}

/// A bus named by a label of the game's own type, with a volume in dB and an effect insert (a
/// delay of 10 ms): a sound on it comes out 480 frames late at 10^(−12/20).
#[test]
fn typed_bus_with_an_insert_and_a_decibel_volume() {
    let delay = DelayNode::with_delay(1.0, 0.01).unwrap();
    let echo = BusConfig::new(GameBus::Echo, Some(MixBus::MASTER))
        .with_volume(Volume::Decibels(-12.0))
        .with_insert(delay);
    let mut app = game_app(1, GameAudioPlugin::default().with_bus(echo));
    constant_sound(&mut app, |s| {
        s.bus(GameBus::Echo);
    });
    let out = app.render(1024).unwrap().remove(0);
    let gain = 10f64.powf(-12.0 / 20.0);
    let late = frames(0.01);
    assert_follows(
        &out,
        |k| if k < late { 0.0 } else { gain },
        1e-6,
        "delayed by the insert",
    );
    let buses = app.world().resource::<MixBuses>();
    assert_eq!(buses.config(GameBus::Echo).unwrap().bus.name(), "echo");
}

/// `BusVolumes::fade_to` with an equal-power fade: the bus gain follows `cos(πt/2)` down.
#[test]
fn bus_fade_out_is_equal_power() {
    let mut app = game_app(1, GameAudioPlugin::default());
    constant_sound(&mut app, |s| {
        s.bus(MixBus::MUSIC);
    });
    app.render(128).unwrap();
    app.world_mut().resource_mut::<BusVolumes>().fade_to(
        MixBus::MUSIC,
        Volume::SILENT,
        Fade::equal_power(0.02),
    );
    app.update();
    let out = app.render(1_024).unwrap().remove(0);
    let n = frames(0.02) as f64;
    let cosine = |k: usize| (FRAC_PI_2 * (k as f64 / n).min(1.0)).cos();
    assert_follows(&out, cosine, 1e-5, "bus fade-out");
}

/// Runs `Last` (where the warnings are logged) on the test's thread, whose log `warnings_during`
/// captures.
fn log_on_this_thread(app: &mut App) {
    app.edit_schedule(Last, |schedule| {
        schedule.set_executor(bevy::ecs::schedule::SingleThreadedExecutor::new());
    });
}

/// Log lines at warn level, captured while `f` runs on this thread.
fn warnings_during(f: impl FnOnce()) -> Vec<String> {
    struct Capture(Arc<SegQueue<String>>);
    struct Message<'a>(&'a mut String);
    impl tracing::field::Visit for Message<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                *self.0 = format!("{value:?}");
            }
        }
    }
    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            if *event.metadata().level() == tracing::Level::WARN {
                let mut text = String::new();
                event.record(&mut Message(&mut text));
                self.0.push(text);
            }
        }
    }
    let lines = Arc::new(SegQueue::new());
    let subscriber = Registry::default().with(Capture(lines.clone()));
    tracing::subscriber::with_default(subscriber, f);
    std::iter::from_fn(|| lines.pop()).collect()
}

/// A full bus that keeps its voices drops new sounds: each is reported as `SoundDropped`, and
/// the first one logged once.
#[test]
fn dropped_sounds_are_reported_and_logged_once() {
    let logged = warnings_during(|| {
        let limit = VoiceLimit::new(1, StealPolicy::None);
        let mut app = game_app(
            1,
            GameAudioPlugin::default().with_limit(MixBus::EFFECTS, limit),
        );
        log_on_this_thread(&mut app);
        let one = buffer(&mut app, vec![1.0; 4800]);
        for _ in 0..3 {
            app.world_mut().commands().play_sound(one.clone());
        }
        app.update();
        let dropped = messages::<SoundDropped>(&app);
        assert_eq!(dropped.len(), 2, "two of three dropped");
        assert!(dropped.iter().all(|d| d.bus == MixBus::EFFECTS));
        assert!(
            dropped
                .iter()
                .all(|d| app.world().get_entity(d.entity).is_err())
        );
        app.world_mut().commands().play_sound(one);
        app.update();
        assert_eq!(voices(&mut app).len(), 1);
    });
    let drops = logged.iter().filter(|l| l.contains("dropped")).count();
    assert_eq!(drops, 1, "logged once: {logged:?}");
}

/// Graph errors are logged once per kind.
#[test]
fn graph_errors_are_logged_once_per_kind() {
    let logged = warnings_during(|| {
        let mut app = game_app(1, GameAudioPlugin::default());
        log_on_this_thread(&mut app);
        for _ in 0..3 {
            // A volume the spec rejects (RangeError).
            let one = buffer(&mut app, vec![1.0; 48]);
            app.world_mut().commands().play_sound(one).volume(-1.0);
            app.update();
        }
    });
    let range = logged.iter().filter(|l| l.contains("RangeError")).count();
    assert_eq!(range, 1, "logged once: {logged:?}");
}

/// `WebAudioPlugin` before `AssetPlugin` loses the loader: a warning says so.
#[test]
fn plugin_order_that_loses_the_loader_is_warned() {
    let warned = |early: bool| {
        warnings_during(|| {
            let mut app = App::new();
            if early {
                app.add_plugins((
                    MinimalPlugins,
                    WebAudioPlugin::offline(SR, 1),
                    AssetPlugin::default(),
                ));
            } else {
                app.add_plugins((
                    MinimalPlugins,
                    AssetPlugin::default(),
                    WebAudioPlugin::offline(SR, 1),
                ));
            }
            app.finish();
        })
        .iter()
        .any(|l| l.contains("before AssetPlugin"))
    };
    assert!(warned(true));
    assert!(!warned(false));
}

/// `SpatialAudio` brings a `Transform` when the entity has none.
#[test]
fn spatial_audio_requires_transform() {
    let mut app = offline_app(2);
    let panner = app
        .world_mut()
        .spawn((PannerNode::new(PanningModel::EqualPower), SpatialAudio))
        .id();
    assert!(app.world().get::<Transform>(panner).is_some());
    assert!(app.world().get::<GlobalTransform>(panner).is_some());
}

/// 2D mode with 100 pixels to the metre: a sound 300 px right of the listener is 3 m away on
/// the right (inverse distance 1/3, right ear only); one 400 px up the screen is 4 m ahead
/// (1/4, both ears at cos(π/4)).
#[test]
fn two_d_mode_scales_and_maps_the_screen() {
    let mut app = game_app(2, GameAudioPlugin::default());
    app.insert_resource(SpatialSettings::two_d(100.0));
    app.world_mut()
        .spawn((AudioListener::default(), Transform::default()));
    let one = buffer(&mut app, vec![1.0; 4800]);
    let right = app
        .world_mut()
        .commands()
        .play_sound(one.clone())
        .looping()
        .at(Vec3::new(300.0, 0.0, 0.0))
        .id();
    app.update();
    let out = app.render(512).unwrap();
    assert_follows(
        &out[0][256..],
        |_| 0.0,
        1e-6,
        "left ear, source on the right",
    );
    assert_follows(&out[1][256..], |_| 1.0 / 3.0, 1e-5, "right ear at 3 m");

    app.world_mut().commands().entity(right).stop_sound(0.0);
    app.world_mut()
        .commands()
        .play_sound(one)
        .looping()
        .at(Vec3::new(0.0, 400.0, 0.0));
    app.update();
    app.update();
    let out = app.render(512).unwrap();
    let ahead = 0.25 * std::f64::consts::FRAC_1_SQRT_2;
    assert_follows(&out[0][256..], |_| ahead, 1e-5, "left ear, ahead at 4 m");
    assert_follows(&out[1][256..], |_| ahead, 1e-5, "right ear, ahead at 4 m");
}
