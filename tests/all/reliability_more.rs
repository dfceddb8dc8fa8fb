//! Reliability, continued: a burst of commands after a suspension is applied a budget per
//! quantum and the graph ends right; moves of spatial entities are held back while suspended;
//! automation that piles up is never dropped (and a drop would be counted and reported); a
//! looping stream with nothing decodable ends with an error; microphone edges survive an app
//! that stops updating; a microphone reader beyond the limit is refused where it is connected
//! (a typed error, or a reader marked refused) and counted, and a reader of another width
//! gets every frame converted.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::support::*;

fn context(app: &mut App) -> Mut<'_, AudioContext> {
    app.world_mut().resource_mut::<AudioContext>()
}

/// A constant source (offset 0) into the destination; returns the source.
fn constant_source(app: &mut App) -> Entity {
    let dest = destination(app);
    let mut source = ConstantSourceNode::new(0.0);
    source.start(0.0).unwrap();
    app.world_mut().commands().spawn(source).connect(dest).id()
}

#[test]
fn automation_that_piles_up_while_suspended_is_all_applied_in_order() {
    let mut app = offline_app(1);
    let source = constant_source(&mut app);
    app.update();
    app.render(256).unwrap();
    context(&mut app).suspend().unwrap();
    app.update();
    // 300 frames of `setValueAtTime(k, now)` while nothing renders: the last one wins.
    for k in 0..300 {
        let now = app.world().resource::<AudioContext>().current_time();
        let mut node = app
            .world_mut()
            .get_mut::<ConstantSourceNode>(source)
            .unwrap();
        if k % 2 == 0 {
            node.offset.set_value_at_time(k as f32, now).unwrap();
        } else {
            // The reflected value (an inspector or a scene edits it).
            node.offset.set_value(k as f32).unwrap();
        }
        app.update();
    }
    context(&mut app).resume().unwrap();
    app.update();
    let out = app.render(128).unwrap().remove(0);
    app.update();
    let counters = app.world().resource::<AudioContext>().counters();
    assert_eq!(counters.automation_dropped, 0);
    assert!(out.iter().all(|&v| v == 299.0), "{}", out[0]);
    assert!(messages::<AudioNodeFault>(&app).is_empty());
}

fn null_app() -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin {
            backend: Backend::Null {
                sample_rate: 48_000,
                channels: 1,
            },
            render_hooks: None,
        },
    ));
    app
}

/// Updates `app` every 5 ms until `done` or `limit` passes; returns whether `done` held.
fn update_until(app: &mut App, limit: Duration, mut done: impl FnMut(&mut App) -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        app.update();
        if done(app) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn a_burst_after_resume_is_applied_a_budget_per_quantum_and_ends_right() {
    let mut app = null_app();
    let dest = destination(&app);
    let analyser = app
        .world_mut()
        .commands()
        .spawn(AnalyserNode::default())
        .connect(dest)
        .id();
    let mut source = ConstantSourceNode::new(0.0);
    source.start(0.0).unwrap();
    let source = app
        .world_mut()
        .commands()
        .spawn(source)
        .connect(analyser)
        .id();
    let rendering = |app: &mut App| app.world().resource::<AudioContext>().current_frame() > 0;
    assert!(update_until(&mut app, Duration::from_secs(5), rendering));
    context(&mut app).suspend().unwrap();
    app.update();
    assert_eq!(
        app.world().resource::<AudioContext>().state(),
        AudioContextState::Suspended
    );
    // 30 frames of 100 `setValueAtTime(k, now)` each: 3,000 commands wait in the ring.
    for frame in 0..30 {
        let now = app.world().resource::<AudioContext>().current_time();
        let mut node = app
            .world_mut()
            .get_mut::<ConstantSourceNode>(source)
            .unwrap();
        for k in 0..100 {
            node.offset
                .set_value_at_time((frame * 100 + k) as f32, now)
                .unwrap();
        }
        app.update();
    }
    let before = app.world().resource::<AudioContext>().counters();
    assert!(before.peak_commands_per_quantum < 1024, "{before:?}");
    context(&mut app).resume().unwrap();
    let settled = |app: &mut App| {
        let mut data = vec![0.0; 2048];
        let node = app.world().get::<AnalyserNode>(analyser).unwrap();
        node.get_float_time_domain_data(&mut data);
        data.iter().all(|&v| v == 2999.0)
    };
    assert!(
        update_until(&mut app, Duration::from_secs(10), settled),
        "the last value applied wins"
    );
    let counters = app.world().resource::<AudioContext>().counters();
    assert_eq!(counters.peak_commands_per_quantum, 1024, "{counters:?}");
    assert!(counters.deferred_command_quanta >= 2, "{counters:?}");
    assert_eq!(counters.automation_dropped, 0);
    assert_eq!(app.world().resource::<AudioContext>().command_backlog(), 0);
}

#[test]
fn spatial_moves_are_held_back_while_suspended_and_sent_once_on_resume() {
    let mut app = offline_app(2);
    let dest = destination(&app);
    let panner = app
        .world_mut()
        .commands()
        .spawn((
            PannerNode::default(),
            SpatialAudio,
            GlobalTransform::from_xyz(-10.0, 0.0, 0.0),
        ))
        .connect(dest)
        .id();
    let mut source = ConstantSourceNode::new(1.0);
    source.start(0.0).unwrap();
    app.world_mut().commands().spawn(source).connect(panner);
    app.update();
    app.render(1024).unwrap();
    context(&mut app).suspend().unwrap();
    app.update();
    let backlog = |app: &App| app.world().resource::<AudioContext>().command_backlog();
    let held = backlog(&app);
    // 50 frames of motion while nothing renders: no command piles up.
    for k in 0..50 {
        let x = -10.0 + 0.4 * (k + 1) as f32;
        *app.world_mut().get_mut::<GlobalTransform>(panner).unwrap() =
            GlobalTransform::from_xyz(x, 0.0, 0.0);
        app.update();
    }
    assert_eq!(backlog(&app), held, "nothing sent while suspended");
    context(&mut app).resume().unwrap();
    // (The backlog is read at the start of a frame: what a frame sends shows the next one.)
    app.update();
    app.update();
    // One glide on resume: a single command carrying the six params' new values (the render
    // side applies cancelAndHold + linearRamp to each).
    assert_eq!(backlog(&app), held + 1);
    app.update();
    assert_eq!(backlog(&app), held + 1, "unmoved since: nothing more");
    // The glide ends on the right (x = +10): the left channel goes silent.
    let out = app.render(48_000).unwrap();
    let tail = 40_000..48_000;
    assert!(
        out[0][tail.clone()].iter().all(|v| v.abs() < 1e-6),
        "{}",
        out[0][47_999]
    );
    assert!(out[1][tail].iter().all(|&v| v > 0.05), "{}", out[1][47_999]);
}

/// A 16-bit mono WAV whose data chunk is empty: a valid header and no frames at all.
fn empty_wav() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&36u32.to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&48_000u32.to_le_bytes());
    b.extend_from_slice(&96_000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}

#[test]
fn a_looping_stream_with_no_decodable_frames_ends_failed_instead_of_spinning() {
    let dir = crate::asset_loader::temp_dir("stream_loop_empty");
    let path = dir.join("empty.wav");
    std::fs::write(&path, empty_wav()).unwrap();
    let mut node = MediaElementAudioSourceNode::open(&path).unwrap();
    node.looping = true;
    let status = node.status().unwrap().clone();
    let mut app = offline_app(1);
    let dest = destination(&app);
    let entity = app.world_mut().commands().spawn(node).connect(dest).id();
    app.update();
    // The decoder gives up on its second empty pass at most, well within a second.
    let start = Instant::now();
    while !status.failed() && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        status.failed(),
        "the decoder is still looping an empty file"
    );
    assert_eq!(status.decoded_frames(), 0);
    let out = app.render(1024).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 0.0));
    app.update();
    assert_eq!(messages::<Ended>(&app), vec![Ended { entity }]);
    assert!(status.ended());
}

#[test]
fn microphone_edges_survive_an_app_that_stops_updating() {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(48_000, 1),
        MicrophonePlugin::simulated(48_000, 1),
    ));
    app.update();
    let input = app
        .world()
        .resource::<Microphone>()
        .simulated_input()
        .unwrap();
    // 60 s of 3 s on (a −12 dBFS tone) / 3 s off, with no app update: about 5,600 analysis
    // windows, more than the 4,096 events the ring to the app holds. Fed a quarter second at a
    // time, slowly enough for the worker (its input ring holds 0.5 s).
    let amplitude = 10f32.powf(-12.0 / 20.0) * 2f32.sqrt();
    let chunk = 12_000;
    let mut fed = 0usize;
    for _ in 0..240 {
        let samples: Vec<f32> = (fed..fed + chunk)
            .map(|i| {
                if (i / 144_000) % 2 == 0 {
                    amplitude * (std::f32::consts::TAU * 220.0 * i as f32 / 48_000.0).sin()
                } else {
                    0.0
                }
            })
            .collect();
        input.write(&samples);
        fed += chunk;
        std::thread::sleep(Duration::from_millis(15));
    }
    std::thread::sleep(Duration::from_millis(200));
    app.update();
    let mic = app.world().resource::<Microphone>();
    assert_eq!(mic.dropped_frames(), 0, "the worker kept up with the input");
    let started = messages::<VoiceStarted>(&app).len();
    let stopped = messages::<VoiceStopped>(&app).len();
    assert_eq!(
        (started, stopped),
        (10, 10),
        "every edge of 60 s, in one update"
    );
    // The latest reading follows one update later (it waited for room in the ring).
    std::thread::sleep(Duration::from_millis(50));
    app.update();
    let mic = app.world().resource::<Microphone>();
    assert!(
        mic.analysis().frames + 2048 >= fed as u64,
        "{}",
        mic.analysis().frames
    );
    assert!(!mic.voice_active());
}

/// `n` interleaved frames of `channels`, frame `k` (from `from`) carrying `k + c / 8` on
/// channel `c`: every value exact in f32, so order and channel can be checked.
fn numbered_frames(from: usize, n: usize, channels: usize) -> Vec<f32> {
    (from..from + n)
        .flat_map(|k| (0..channels).map(move |c| k as f32 + c as f32 / 8.0))
        .collect()
}

#[test]
fn a_33rd_microphone_reader_is_refused_and_counted_and_the_32_lose_nothing() {
    use bevy_webaudio::microphone::capture::MAX_CONSUMERS;
    use bevy_webaudio::microphone::{ConsumerKind, MediaStream, MicrophoneError};

    let (stream, slot) = MediaStream::new(48_000, 2);
    let mut readers: Vec<_> = (0..MAX_CONSUMERS)
        .map(|_| stream.try_connect(ConsumerKind::Tap, 48_000).unwrap())
        .collect();
    assert_eq!(stream.live_readers(), 32);
    // The 33rd: a typed error where it is connected, and counted.
    assert_eq!(
        stream.try_connect(ConsumerKind::Tap, 48_000).unwrap_err(),
        MicrophoneError::TooManyConsumers(32)
    );
    assert_eq!(stream.refused_consumers(), 1);
    // The infallible form (what `Microphone::tap` and a source node use): a reader marked
    // refused, counted too.
    let mut refused = stream.connect(ConsumerKind::Tap, 48_000);
    assert!(refused.refused());
    assert_eq!(stream.refused_consumers(), 2);
    // One second in 100 callbacks: each of the 32 gets every frame, in order.
    for k in 0..100 {
        slot.write(&numbered_frames(k * 480, 480, 2));
    }
    assert_eq!(stream.active_consumers(), 32);
    let mut out = vec![0.0f32; 2 * 48_000];
    for reader in &mut readers {
        assert_eq!(
            (reader.stats().written(), reader.stats().dropped()),
            (48_000, 0)
        );
        assert_eq!(reader.read(&mut out), 48_000);
        assert_eq!(out, numbered_frames(0, 48_000, 2));
    }
    assert_eq!((refused.read(&mut out), refused.stats().written()), (0, 0));
    // A reader dropped and replaced between two callbacks takes its predecessor's place
    // (the callback retires before it adopts): no refusal, nothing lost.
    drop(refused);
    readers.swap_remove(0);
    let mut replacement = stream.try_connect(ConsumerKind::Tap, 4_800).unwrap();
    slot.write(&numbered_frames(48_000, 480, 2));
    assert_eq!(stream.refused_consumers(), 2);
    assert_eq!(stream.active_consumers(), 32);
    assert_eq!(replacement.read(&mut out), 480);
    assert_eq!(out[..960], numbered_frames(48_000, 480, 2)[..]);
    for reader in &mut readers {
        assert_eq!(reader.read(&mut out), 480);
        assert_eq!(reader.stats().dropped(), 0);
    }
    // With no device calling back, readers connected and dropped at once never fill the
    // handover queue for a live one.
    let (stream, slot) = MediaStream::new(48_000, 1);
    for _ in 0..100 {
        drop(stream.try_connect(ConsumerKind::Tap, 16).unwrap());
    }
    let mut late = stream.try_connect(ConsumerKind::Tap, 16).unwrap();
    slot.write(&[0.25f32; 8]);
    assert_eq!(
        (late.read(&mut [0.0; 8]), stream.refused_consumers()),
        (8, 0)
    );
}

#[test]
fn a_33rd_microphone_reader_through_the_plugin_is_counted_and_reported() {
    use bevy_webaudio::microphone::capture::MAX_CONSUMERS;
    use bevy_webaudio::microphone::{ConsumerKind, MicrophoneError};

    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(48_000, 1),
        MicrophonePlugin::simulated(48_000, 1),
    ));
    app.update();
    let mic = app.world().resource::<Microphone>();
    // The analysis worker is one reader: 31 taps fill the input.
    let taps: Vec<_> = (1..MAX_CONSUMERS)
        .map(|_| mic.try_tap(1_000).unwrap())
        .collect();
    assert_eq!(
        mic.try_tap(1_000).unwrap_err(),
        MicrophoneError::TooManyConsumers(32)
    );
    let tap = mic.tap(1_000);
    assert!(tap.refused());
    // A source node beyond the limit: refused, counted, plays silence.
    let stream = mic.stream().clone();
    let dest = destination(&app);
    app.world_mut()
        .commands()
        .spawn(MediaStreamAudioSourceNode::new(&stream))
        .connect(dest);
    app.update();
    app.update();
    let mic = app.world().resource::<Microphone>();
    assert_eq!(mic.refused_consumers(), 3);
    let refused: Vec<ConsumerKind> = mic
        .consumers()
        .iter()
        .filter(|c| c.refused)
        .map(|c| c.kind)
        .collect();
    assert_eq!(refused, vec![ConsumerKind::Tap, ConsumerKind::SourceNode]);
    assert_eq!(mic.consumers().len(), 34);
    // Dropping the refused tap takes it off the list; the count stays.
    drop(tap);
    app.update();
    let mic = app.world().resource::<Microphone>();
    assert_eq!((mic.consumers().len(), mic.refused_consumers()), (33, 3));
    drop(taps);
}

#[test]
fn a_microphone_reader_of_another_width_gets_every_frame_converted_by_the_speaker_rules() {
    use bevy_webaudio::microphone::{ConsumerKind, MediaStream, MicrophoneError};

    // A mono reader of a stereo input: 0.5·(L + R).
    let (stream, slot) = MediaStream::new(48_000, 2);
    let mut mono = stream
        .try_connect_channels(ConsumerKind::Tap, 1_000, 1)
        .unwrap();
    let input = numbered_frames(0, 600, 2);
    slot.write(&input);
    let mut out = vec![0.0f32; 1_000];
    assert_eq!(mono.read(&mut out), 600);
    for (k, frame) in input.chunks(2).enumerate() {
        assert_eq!(out[k], 0.5 * (frame[0] + frame[1]), "frame {k}");
    }
    assert_eq!(out[599], 599.0625);
    // A stereo reader of a mono input: the channel on both sides.
    let (stream, slot) = MediaStream::new(48_000, 1);
    let mut stereo = stream
        .try_connect_channels(ConsumerKind::Tap, 1_000, 2)
        .unwrap();
    slot.write(&numbered_frames(0, 600, 1));
    let mut out = vec![0.0f32; 2 * 600];
    assert_eq!(stereo.read(&mut out), 600);
    assert_eq!(out[2 * 321..2 * 322], [321.0, 321.0]);
    // 5.1 to stereo: L + √½·(C + SL), R + √½·(C + SR).
    let (stream, slot) = MediaStream::new(48_000, 6);
    let mut stereo = stream
        .try_connect_channels(ConsumerKind::Tap, 10, 2)
        .unwrap();
    slot.write(&[1.0f32, 2.0, 4.0, 100.0, 8.0, 16.0]);
    let mut out = [0.0f32; 2];
    assert_eq!(stereo.read(&mut out), 1);
    let h = std::f32::consts::FRAC_1_SQRT_2;
    assert_eq!(out, [1.0 + h * (4.0 + 8.0), 2.0 + h * (4.0 + 16.0)]);
    // Widths that make no sense are refused where they are asked for.
    for channels in [0, 33] {
        assert_eq!(
            stream
                .try_connect_channels(ConsumerKind::Tap, 10, channels)
                .unwrap_err(),
            MicrophoneError::UnsupportedChannels(channels)
        );
    }

    // A tap connected before the device opened with another channel count (here the
    // simulated input reopened stereo): converted to its width, at the new rate — it got
    // nothing before.
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(48_000, 1),
        MicrophonePlugin::simulated(48_000, 1),
    ));
    app.update();
    let mut tap = app.world().resource::<Microphone>().tap(4_800);
    app.world_mut()
        .resource_mut::<Microphone>()
        .reopen_simulated(44_100, 2)
        .unwrap();
    let input = app
        .world()
        .resource::<Microphone>()
        .simulated_input()
        .unwrap();
    let stereo = numbered_frames(0, 441, 2);
    input.write(&stereo);
    let mut out = vec![0.0f32; 4_800];
    assert_eq!((tap.channels(), tap.read(&mut out)), (1, 441));
    assert_eq!(tap.stats().dropped(), 0);
    for (k, frame) in stereo.chunks(2).enumerate() {
        assert_eq!(out[k], 0.5 * (frame[0] + frame[1]), "frame {k}");
    }
    app.update();
    assert_eq!(app.world().resource::<Microphone>().refused_consumers(), 0);
}
