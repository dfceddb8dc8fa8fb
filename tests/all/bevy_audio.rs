//! This crate beside Bevy's own audio plugin (`bevy_audio`, rodio): the app starts and plays
//! either way. Both decode the same `.wav` as their own asset types from one `AssetServer`;
//! on the (virtual) sound card both output streams open and the sound server mixes them, so
//! the monitor hears this crate's 440 Hz and `bevy_audio`'s 1 kHz `Pitch` at once; with
//! `bevy_audio` disabled only the 440 Hz.

use std::path::Path;
use std::time::{Duration, Instant};

use bevy::asset::{AssetPlugin, LoadState};
use bevy::audio::{AudioPlayer, AudioSink, AudioSource, Pitch};
use bevy::prelude::*;
use bevy_webaudio::ActiveBackend;
use bevy_webaudio::prelude::*;

use crate::asset_loader::wait_for_load;
use crate::support::spectrum;

/// The repository's `assets/` folder.
fn assets() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .to_string_lossy()
        .into_owned()
}

/// Bevy's `DefaultPlugins` (its `AudioPlugin` removed unless `bevy_audio`; its log plugin
/// removed, as the test binary has its own logger) with `web_audio` added.
fn app_with(bevy_audio: bool, web_audio: WebAudioPlugin) -> App {
    let mut plugins = DefaultPlugins
        .build()
        .disable::<bevy::log::LogPlugin>()
        .set(AssetPlugin {
            file_path: assets(),
            ..default()
        });
    if !bevy_audio {
        plugins = plugins.disable::<bevy::audio::AudioPlugin>();
    }
    let mut app = App::new();
    app.add_plugins((plugins, web_audio));
    app.update();
    app
}

#[test]
fn both_plugins_load_the_same_wav_as_their_own_asset() {
    // bevy_audio may open the sound card: keep off it while the device tests use it.
    let _card = crate::device::device_guard();
    let mut app = app_with(true, WebAudioPlugin::offline(48_000, 1));
    let server = app.world().resource::<AssetServer>().clone();
    // Both register a loader for `.wav`; the handle's type picks the loader.
    let ours: Handle<AudioBuffer> = server.load("sounds/click.wav");
    let theirs: Handle<AudioSource> = server.load("sounds/click.wav");
    assert!(matches!(wait_for_load(&mut app, &ours), LoadState::Loaded));
    let start = Instant::now();
    while !server.is_loaded(&theirs) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "bevy_audio's load"
        );
        app.update();
    }
    let path = Path::new(&assets()).join("sounds/click.wav");
    let file = std::fs::read(&path).unwrap();
    let source = app.world().resource::<Assets<AudioSource>>().get(&theirs);
    assert_eq!(
        source.unwrap().bytes.len(),
        file.len(),
        "bevy_audio keeps the file bytes"
    );
    // Ours is decoded: the samples hound reads from the file, as floats.
    let mut reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    let expected: Vec<f32> = reader
        .samples::<i16>()
        .step_by(usize::from(spec.channels))
        .map(|s| f32::from(s.unwrap()) / 32_768.0)
        .collect();
    let buffer = app.world().resource::<Assets<AudioBuffer>>().get(&ours);
    let buffer = buffer.unwrap();
    assert_eq!(buffer.sample_rate(), spec.sample_rate as f32);
    assert_eq!(buffer.channel_data(0).unwrap(), expected.as_slice());
    // And it plays through the graph, sample for sample.
    let dest = app.world().resource::<AudioContext>().destination();
    let mut player = AudioBufferSourceNode::new(ours);
    player.start(0.0).unwrap();
    app.world_mut().commands().spawn(player).connect(dest);
    app.update();
    let out = app.render(expected.len().div_ceil(128) * 128).unwrap();
    assert_eq!(&out[0][..expected.len()], expected.as_slice());
}

/// The spectrum's level at `frequency` in dB relative to its strongest bin.
fn level_db(signal: &[f32], sample_rate: f64, frequency: f64) -> f64 {
    let mags = spectrum(signal);
    let bin = (frequency * signal.len() as f64 / sample_rate).round() as usize;
    let peak = mags[bin - 2..=bin + 2].iter().copied().fold(0.0, f64::max);
    let strongest = mags.iter().copied().fold(0.0, f64::max);
    20.0 * (peak / strongest).log10()
}

/// Plays this crate's 440 Hz (and, with `bevy_audio`, its 1 kHz `Pitch`) on the default
/// device for 1.5 s and checks what the sink's monitor heard.
fn plays_with_or_without_bevy_audio(bevy_audio: bool) {
    let mut app = app_with(bevy_audio, WebAudioPlugin::default());
    assert_eq!(
        app.world().resource::<AudioContext>().backend(),
        ActiveBackend::Cpal
    );
    let dest = app.world().resource::<AudioContext>().destination();
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    osc.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let gain = c.spawn(GainNode::new(0.3)).connect(dest).id();
    c.spawn(osc).connect(gain);
    let pitch = bevy_audio.then(|| {
        let tone = app
            .world_mut()
            .resource_mut::<Assets<Pitch>>()
            .add(Pitch::new(1000.0, Duration::from_secs(5)));
        app.world_mut().spawn(AudioPlayer(tone)).id()
    });
    let (input, recorded, channels) = crate::device::record();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        app.update();
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(input);
    if let Some(pitch) = pitch {
        assert!(
            app.world().get::<AudioSink>(pitch).is_some(),
            "bevy_audio opened its output and plays the Pitch"
        );
    }
    let mono: Vec<f32> = recorded
        .try_iter()
        .flat_map(|block| {
            block
                .chunks(usize::from(channels))
                .map(|f| f[0])
                .collect::<Vec<_>>()
        })
        .collect();
    let tail = &mono[mono.len().saturating_sub(32_768)..];
    assert!(tail.len() >= 16_384, "recorded {} frames", mono.len());
    let (ours, theirs) = (
        level_db(tail, 48_000.0, 440.0),
        level_db(tail, 48_000.0, 1000.0),
    );
    println!("beside bevy_audio = {bevy_audio}: 440 Hz {ours:.1} dB, 1 kHz {theirs:.1} dB");
    // Our 0.3 sine against rodio's full-scale one: both within 20 dB of the loudest.
    assert!(ours > -20.0, "this crate's 440 Hz is heard ({ours:.1} dB)");
    if bevy_audio {
        assert!(
            theirs > -20.0,
            "bevy_audio's 1 kHz is heard ({theirs:.1} dB)"
        );
    } else {
        assert!(
            theirs < -80.0,
            "no 1 kHz without bevy_audio ({theirs:.1} dB)"
        );
    }
}

/// Part of `device::device_suite` (needs the sound card).
pub fn the_app_plays_beside_bevy_audio_and_without_it() {
    plays_with_or_without_bevy_audio(true);
    plays_with_or_without_bevy_audio(false);
}
