//! A graph saved as a scene (RON) and loaded again through Bevy's world serialization plays
//! the same: the started oscillator is still started, a source scheduled for later starts at
//! its saved time, and the loaded graph's destination is the running context's.

use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::world_serialization::{DynamicWorldRoot, WorldSerializationPlugin};
use bevy_webaudio::prelude::*;
use bevy_webaudio::scene::audio_graph;

use crate::asset_loader::temp_dir;
use crate::support::*;

/// Mean of a slice.
fn mean(signal: &[f32]) -> f64 {
    signal.iter().map(|&x| f64::from(x)).sum::<f64>() / signal.len() as f64
}

/// A 440 Hz sine at `peak` (zero crossings within 0.05 Hz, peak within 0.2 %), with a mean of
/// `dc` (the segments below are whole numbers of periods).
fn assert_sine(segment: &[f32], peak_expected: f32, dc: f64, what: &str) {
    let centred: Vec<f32> = segment.iter().map(|&x| x - dc as f32).collect();
    let peak = peak(&centred);
    assert!(
        (peak - peak_expected).abs() < peak_expected * 2e-3,
        "{what}: peak {peak}"
    );
    let frequency = zero_crossing_frequency(&centred, f64::from(SR));
    assert!((frequency - 440.0).abs() < 0.05, "{what}: {frequency} Hz");
    let m = mean(segment);
    assert!((m - dc).abs() < 1e-3, "{what}: mean {m}, expected {dc}");
}

#[test]
fn a_graph_saved_as_a_scene_loads_and_plays_the_same_started_sources_included() {
    let dir = temp_dir("scene");
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        AssetPlugin {
            file_path: dir.to_str().unwrap().into(),
            ..default()
        },
        WorldSerializationPlugin,
        WebAudioPlugin::offline(SR, 1),
    ));
    app.update();
    let dest = destination(&app);

    // A sine started at 0 (to stop at 10 s) and, into the same gain, a constant 0.1 that
    // starts at 1 s: the output is 0.5·sin(2π·440·t), plus 0.05 from 1 s on.
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    osc.start(0.0).unwrap().stop(10.0).unwrap();
    let mut later = ConstantSourceNode::new(0.1);
    later.start(1.0).unwrap();
    let (osc, later, gain) = {
        let mut commands = app.world_mut().commands();
        let gain = commands.spawn(GainNode::new(0.5)).connect(dest).id();
        let osc = commands.spawn(osc).connect(gain).id();
        let later = commands.spawn(later).connect(gain).id();
        (osc, later, gain)
    };
    app.update();
    // 0.5 s: 220 whole periods.
    let original = app.render(24_000).unwrap().remove(0);
    assert_sine(&original, 0.5, 0.0, "original");

    // Saved: the graph's entities (the destination included), no resources.
    let ron = {
        let world = app.world();
        let registry = world.resource::<AppTypeRegistry>().read();
        audio_graph(world).serialize(&registry).unwrap()
    };
    assert!(!ron.contains("AudioContext"), "no resources:\n{ron}");
    for saved in [
        "bevy_webaudio::node::oscillator::OscillatorNode",
        "bevy_webaudio::node::constant_source::ConstantSourceNode",
        "bevy_webaudio::node::gain::GainNode",
        "bevy_webaudio::node::destination::AudioDestinationNode",
        "bevy_webaudio::ecs::connection::AudioConnection",
        "start_time: Some(0.0)",
        "stop_time: Some(10.0)",
        "start_time: Some(1.0)",
    ] {
        assert!(ron.contains(saved), "{saved} missing from\n{ron}");
    }
    std::fs::write(dir.join("graph.scn.ron"), &ron).unwrap();

    // Gone: 0.1 s of silence (the clock goes on: 0.6 s).
    for entity in [osc, later, gain] {
        app.world_mut().entity_mut(entity).despawn();
    }
    app.update();
    let gone = app.render(4_800).unwrap().remove(0);
    // The first 64 frames are the rest of the quantum the 24,000-frame render ended inside.
    assert_eq!(peak(&gone[64..]), 0.0);
    assert_eq!(
        app.world().resource::<AudioContext>().current_frame(),
        28_800
    );

    // Loaded as a scene asset, as a game would.
    let handle = app
        .world()
        .resource::<AssetServer>()
        .load::<bevy::world_serialization::DynamicWorld>("graph.scn.ron");
    app.world_mut().spawn(DynamicWorldRoot(handle));
    let mut spawned = false;
    for _ in 0..5_000 {
        app.update();
        let world = app.world_mut();
        if world.query::<&OscillatorNode>().iter(world).count() == 1 {
            spawned = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(spawned, "the scene was not spawned in 5 s");
    app.update();

    // One destination (the loaded one merged into the context's), fed by one edge (the gain).
    let world = app.world_mut();
    let destinations: Vec<Entity> = world
        .query_filtered::<Entity, With<AudioDestinationNode>>()
        .iter(world)
        .collect();
    assert_eq!(destinations, vec![dest]);
    let inputs = world
        .get::<AudioInputs>(dest)
        .map_or(0, |i| i.edges().len());
    assert_eq!(
        inputs, 1,
        "the restored gain feeds the context's destination"
    );
    let restored = world
        .query::<&OscillatorNode>()
        .single(world)
        .unwrap()
        .source
        .clone();
    assert_eq!(
        (restored.start_time(), restored.stop_time()),
        (Some(0.0), Some(10.0))
    );

    // 0.6 to 1.25 s: the sine from the loading frame on (its start time is past), the constant
    // from exactly 1 s (frame 48,000 of the context: 19,200 frames into this render).
    let out = app.render(31_200).unwrap().remove(0);
    assert_sine(&out[..19_200], 0.5, 0.0, "restored, before 1 s"); // 176 periods
    assert_sine(&out[19_200..], 0.5, 0.05, "restored, after 1 s"); // 110 periods
    // The step is at the frame: a sine sample alone before it, the constant added from it on.
    let sine_at =
        |frame: usize| 0.5 * (2.0 * std::f64::consts::PI * 440.0 * frame as f64 / 48e3).sin();
    for frame in [19_198, 19_199] {
        assert!(
            (f64::from(out[frame]) - sine_at(frame)).abs() < 1e-3,
            "{frame}: {}",
            out[frame]
        );
    }
    for frame in [19_200, 19_201] {
        assert!(
            (f64::from(out[frame]) - sine_at(frame) - 0.05).abs() < 1e-3,
            "{frame}: {}",
            out[frame]
        );
    }
}
