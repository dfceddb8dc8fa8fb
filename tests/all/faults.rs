//! Faults on the render thread are contained: a processor that panics goes silent and is
//! reported once while the rest of the graph and the clock go on; NaN and infinity never reach
//! the output, the node that made them is named, and filters recover from them.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::engine::render::bus::AudioBus;
use bevy_webaudio::node::ProcessContext;
use bevy_webaudio::prelude::*;

use crate::support::*;

/// Outputs 0.25 on its first two quanta, then panics on its third.
struct PanicsOnThirdQuantum(u32);

impl AudioWorkletProcessor for PanicsOnThirdQuantum {
    fn process(
        &mut self,
        _: &[AudioBus],
        outputs: &mut [AudioBus],
        _: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        self.0 += 1;
        if self.0 == 3 {
            panic!("boom on quantum 3");
        }
        outputs[0].set_channels(1);
        outputs[0].channel_mut(0).fill(0.25);
        true
    }
}

fn panicking_worklet() -> AudioWorkletNode {
    AudioWorkletNode::builder("panics", |_: &WorkletScope| PanicsOnThirdQuantum(0))
        .inputs(0)
        .output_channel_count(vec![1])
        .build()
        .unwrap()
}

fn node_faults(app: &App) -> Vec<AudioNodeFault> {
    let messages = app.world().resource::<Messages<AudioNodeFault>>();
    let mut cursor = messages.get_cursor();
    cursor.read(messages).cloned().collect()
}

/// worklet (panics on quantum 3) + constant source 0.5 → destination.
fn spawn_graph(app: &mut App) -> Entity {
    let dest = destination(app);
    let mut constant = ConstantSourceNode::new(0.5);
    constant.start(0.0).unwrap();
    let mut commands = app.world_mut().commands();
    commands.spawn(constant).connect(dest);
    commands.spawn(panicking_worklet()).connect(dest).id()
}

#[test]
fn a_panicking_processor_goes_silent_and_the_rest_plays_on() {
    let mut app = offline_app(1);
    let worklet = spawn_graph(&mut app);
    app.update();
    let out = app.render(128 * 6).unwrap().remove(0);
    // Two quanta of 0.25 + 0.5, then the constant source alone, for good.
    assert!(out[..256].iter().all(|&v| v == 0.75), "{}", out[0]);
    assert!(out[256..].iter().all(|&v| v == 0.5), "{}", out[300]);
    app.update();
    let faults = node_faults(&app);
    assert_eq!(
        faults,
        vec![AudioNodeFault {
            entity: worklet,
            node: "AudioWorkletNode",
            kind: AudioNodeFaultKind::Panic("boom on quantum 3".into()),
        }]
    );
    // Later renders neither panic nor report again; the clock moves on.
    let before = app.world().resource::<AudioContext>().current_time();
    let out = app.render(48_000).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 0.5));
    app.update();
    assert!(app.world().resource::<AudioContext>().current_time() > before + 0.99);
    assert_eq!(node_faults(&app).len(), 1, "reported once");
}

#[test]
fn a_panic_on_the_real_time_thread_does_not_stop_the_clock() {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin {
            backend: Backend::Null {
                sample_rate: 48_000,
                channels: 1,
            },
            ..default()
        },
    ));
    let worklet = spawn_graph(&mut app);
    let start = Instant::now();
    let mut faults = Vec::new();
    let mut cursor = app
        .world()
        .resource::<Messages<AudioNodeFault>>()
        .get_cursor();
    while start.elapsed() < Duration::from_secs(5) {
        app.update();
        let messages = app.world().resource::<Messages<AudioNodeFault>>();
        faults.extend(cursor.read(messages).cloned());
        if !faults.is_empty() && app.world().resource::<AudioContext>().current_time() > 0.5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0].entity, worklet);
    let t0 = app.world().resource::<AudioContext>().current_time();
    std::thread::sleep(Duration::from_millis(200));
    app.update();
    let t1 = app.world().resource::<AudioContext>().current_time();
    assert!(
        t1 - t0 > 0.1,
        "the clock runs on after the fault: {t0} -> {t1}"
    );
}

#[test]
fn non_finite_output_never_reaches_the_destination_and_the_filter_recovers() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 1_000.0);
    osc.start(0.0).unwrap();
    let mut peaking = BiquadFilterNode::new(BiquadFilterType::Peaking);
    peaking.frequency.set_value(1_000.0).unwrap();
    // Clamped to the nominal 1541 dB: a 10^77 boost at the sine's frequency overflows.
    peaking.gain.set_value(1e30).unwrap();
    let filter = {
        let mut commands = app.world_mut().commands();
        let filter = commands.spawn(peaking).connect(dest).id();
        commands.spawn(osc).connect(filter);
        filter
    };
    app.update();
    let out = app.render(1280).unwrap().remove(0);
    assert!(
        out.iter().all(|v| v.is_finite()),
        "no NaN or infinity at the output"
    );
    app.update();
    let faults = node_faults(&app);
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(
        (faults[0].entity, &faults[0].kind),
        (filter, &AudioNodeFaultKind::NonFinite)
    );
    // Gain back to 0 dB: the filter is a wire again, with finite state.
    app.world_mut()
        .get_mut::<BiquadFilterNode>(filter)
        .unwrap()
        .gain
        .set_value(0.0)
        .unwrap();
    app.update();
    app.render(256).unwrap();
    let out = app.render(4800).unwrap().remove(0);
    assert!(out.iter().all(|v| v.is_finite()));
    let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        (peak - 1.0).abs() < 0.01,
        "the sine passes at unity gain: {peak}"
    );
}

#[test]
fn an_unstable_iir_filter_is_contained() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(1.0);
    source.start(0.0).unwrap();
    // A pole at z = 1.5: accepted, as the spec says, and it grows without bound.
    let iir = IIRFilterNode::new(&[1.0], &[1.0, -2.5, 1.5]).unwrap();
    let iir = {
        let mut commands = app.world_mut().commands();
        let iir = commands.spawn(iir).connect(dest).id();
        commands.spawn(source).connect(iir);
        iir
    };
    app.update();
    let out = app.render(48_000).unwrap().remove(0);
    assert!(out.iter().all(|v| v.is_finite()), "contained");
    assert!(
        out.iter().any(|&v| v.abs() > 1.0),
        "but not silenced: it still rings"
    );
    app.update();
    let faults = node_faults(&app);
    assert_eq!(faults.len(), 1, "reported once: {faults:?}");
    assert_eq!(faults[0].entity, iir);
    let shared_quanta = out
        .chunks(128)
        .filter(|q| q.iter().all(|&v| v == 0.0))
        .count();
    assert!(
        shared_quanta < 375,
        "most quanta carry signal: {shared_quanta} silent"
    );
}
