//! ChannelSplitterNode / ChannelMergerNode: routing, the spec's channel rules and errors, and
//! Chromium's `conf_splitter_merger_swap`.
//!
//! ```text
//!  source (2 ch) ──▶ splitter ─out 0─▶ gain 0.5 ─▶ merger in 1 ─┐
//!                             └out 1─▶ gain −1  ─▶ merger in 0 ─┴▶ destination (2 ch)
//! ```

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::reference::{self, add_buffer, error_db, noise};
use crate::support::*;

/// The swap graph above, on `buffer`.
fn swap_graph(buffer: Vec<Vec<f32>>, frames: usize) -> Vec<Vec<f32>> {
    let mut app = offline_app(2);
    let dest = destination(&app);
    let handle = add_buffer(&mut app, buffer, 48_000.0);
    let mut src = AudioBufferSourceNode::new(handle);
    src.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let merge = c
        .spawn(ChannelMergerNode::new(2).unwrap())
        .connect(dest)
        .id();
    let gl = c.spawn(GainNode::new(0.5)).connect_with(merge, 0, 1).id();
    let gr = c.spawn(GainNode::new(-1.0)).connect_with(merge, 0, 0).id();
    let split = c
        .spawn(ChannelSplitterNode::new(2).unwrap())
        .connect_with(gl, 0, 0)
        .connect_with(gr, 1, 0)
        .id();
    c.spawn(src).connect(split);
    app.update();
    app.render(frames).unwrap()
}

#[test]
fn splitter_and_merger_swap_channels_exactly() {
    let out = swap_graph(vec![vec![0.25; 256], vec![0.75; 256]], 256);
    assert!(out[0].iter().all(|&v| v == -0.75), "{:?}", &out[0][..4]);
    assert!(out[1].iter().all(|&v| v == 0.125), "{:?}", &out[1][..4]);
}

#[test]
fn conf_splitter_merger_swap() {
    let out = swap_graph(noise(12, 2, 12_000, 1.0), 12_000);
    let Some(reference) = reference::load("conf_splitter_merger_swap", 2) else {
        return;
    };
    let e = error_db(&out, &reference);
    println!("conf_splitter_merger_swap: {e:.1} dB (limit -80)");
    assert!(e <= -80.0, "{e:.1} dB");
}

#[test]
fn merger_downmixes_each_input_to_mono_and_splitter_pads_with_silence() {
    // A stereo source (0.25, 0.75) into merger input 1: channel 1 = 0.5, channel 0 silent.
    let mut app = offline_app(2);
    let dest = destination(&app);
    let handle = add_buffer(&mut app, vec![vec![0.25; 128], vec![0.75; 128]], 48_000.0);
    let mut src = AudioBufferSourceNode::new(handle);
    src.start(0.0).unwrap();
    let mut c = app.world_mut().commands();
    let merge = c
        .spawn(ChannelMergerNode::new(2).unwrap())
        .connect(dest)
        .id();
    c.spawn(src).connect_with(merge, 0, 1);
    app.update();
    let out = app.render(128).unwrap();
    assert!(out[0].iter().all(|&v| v == 0.0));
    assert!(out[1].iter().all(|&v| v == 0.5));

    // A mono source into a 3-output splitter: output 0 carries it, outputs 1 and 2 are silent.
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut c = app.world_mut().commands();
    let g1 = c.spawn(GainNode::new(1.0)).connect(dest).id();
    let g2 = c.spawn(GainNode::new(10.0)).connect(dest).id();
    let g3 = c.spawn(GainNode::new(100.0)).connect(dest).id();
    let split = c
        .spawn(ChannelSplitterNode::new(3).unwrap())
        .connect_with(g1, 0, 0)
        .connect_with(g2, 1, 0)
        .connect_with(g3, 2, 0)
        .id();
    let mut k = ConstantSourceNode::new(0.5);
    k.start(0.0).unwrap();
    c.spawn(k).connect(split);
    app.update();
    let out = app.render(128).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 0.5), "{:?}", &out[..4]);
}

#[test]
fn channel_rules_and_errors() {
    assert!(matches!(
        ChannelSplitterNode::new(0),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        ChannelSplitterNode::new(33),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        ChannelMergerNode::new(0),
        Err(WebAudioError::IndexSize(_))
    ));
    assert!(matches!(
        ChannelMergerNode::new(33),
        Err(WebAudioError::IndexSize(_))
    ));
    assert_eq!(ChannelSplitterNode::default().number_of_outputs(), 6);
    assert_eq!(ChannelMergerNode::default().number_of_inputs(), 6);
    let max = ChannelConfig::new(1, ChannelCountMode::Max, ChannelInterpretation::Speakers);
    assert!(matches!(
        ChannelMergerNode::validate_channels(&max),
        Err(WebAudioError::InvalidState(_))
    ));
    let two = ChannelConfig::new(
        2,
        ChannelCountMode::Explicit,
        ChannelInterpretation::Speakers,
    );
    assert!(matches!(
        ChannelMergerNode::validate_channels(&two),
        Err(WebAudioError::InvalidState(_))
    ));
    assert!(matches!(
        ChannelSplitterNode::validate_channels(&two),
        Err(WebAudioError::InvalidState(_))
    ));
    let clamped = ChannelConfig::new(
        2,
        ChannelCountMode::ClampedMax,
        ChannelInterpretation::Discrete,
    );
    assert!(matches!(
        ChannelSplitterNode::validate_channels(&clamped),
        Err(WebAudioError::InvalidState(_))
    ));

    // channelCount follows numberOfOutputs; changing it is an InvalidStateError and is undone.
    let mut app = offline_app(2);
    let split = app
        .world_mut()
        .spawn(ChannelSplitterNode::new(3).unwrap())
        .id();
    let config = *app.world().get::<ChannelConfig>(split).unwrap();
    assert_eq!(
        config,
        ChannelConfig::new(
            3,
            ChannelCountMode::Explicit,
            ChannelInterpretation::Discrete
        )
    );
    app.update();
    app.world_mut()
        .get_mut::<ChannelConfig>(split)
        .unwrap()
        .count = 2;
    app.update();
    assert_eq!(app.world().get::<ChannelConfig>(split).unwrap().count, 3);
    let errors: Vec<AudioGraphError> = app
        .world_mut()
        .resource_mut::<Messages<AudioGraphError>>()
        .drain()
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.entity == split && matches!(e.error, WebAudioError::InvalidState(_))),
        "{errors:?}"
    );
}
