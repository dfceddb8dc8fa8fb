//! Faults on the render thread are contained: a processor that panics goes silent and is
//! reported once while the rest of the graph and the clock go on; NaN and infinity never reach
//! the output, the node that made them is named, and filters recover from them.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::engine::render::bus::AudioBus;
use bevy_webaudio::node::ProcessContext;
use bevy_webaudio::prelude::*;

use crate::alloc_counter;
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
    let faults = messages::<AudioNodeFault>(&app);
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
    assert_eq!(messages::<AudioNodeFault>(&app).len(), 1, "reported once");
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
    let faults = messages::<AudioNodeFault>(&app);
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
    let faults = messages::<AudioNodeFault>(&app);
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

/// The one place a render thread allocates is the fault path: unwinding a panic (its payload,
/// the unwinder). Counted apart here: zero before and after, some only in the quantum that
/// panics, and the payload is freed on the control side, not here.
#[test]
fn only_the_quantum_that_panics_allocates_on_the_render_thread() {
    use bevy_webaudio::engine::command::{self, Command, Feedback, RenderId};
    use bevy_webaudio::engine::graph::{Edge, EdgeTarget, Graph, GraphNode};
    use bevy_webaudio::engine::node::oscillator::WaveTableCache;
    use bevy_webaudio::engine::render::Renderer;
    use bevy_webaudio::node::{AudioNode, BuildContext, ChannelConfig, build_render_node};

    let (mut control, channel) = command::channel(64, 64);
    let mut renderer = Renderer::new(channel, command::shared(), 48_000.0, 1, 8);
    let mut cache = WaveTableCache::default();
    let mut graph = Graph::default();
    let (dest, worklet) = (RenderId::new(0, 0), RenderId::new(1, 0));
    let mut build = |node: &mut dyn FnMut(&mut BuildContext) -> _, id| {
        let mut ctx = BuildContext {
            sample_rate: 48_000.0,
            max_channels: 1,
            wavetables: &mut cache,
            buffers: None,
        };
        let (render_node, graph_node) = node(&mut ctx);
        control.send(Command::AddNode {
            id,
            node: render_node,
        });
        graph.nodes.insert(id, graph_node);
    };
    fn parts<T: AudioNode>(
        mut node: T,
        ctx: &mut BuildContext,
    ) -> (Box<bevy_webaudio::engine::render::RenderNode>, GraphNode) {
        let render_node = build_render_node(&mut node, ctx, 4);
        let shape = node.shape();
        let outputs = (0..shape.outputs)
            .map(|k| node.output_channels(k))
            .collect();
        let config = ChannelConfig::default().0;
        (
            render_node,
            GraphNode {
                shape,
                config,
                outputs,
            },
        )
    }
    build(&mut |ctx| parts(AudioDestinationNode::default(), ctx), dest);
    build(&mut |ctx| parts(panicking_worklet(), ctx), worklet);
    graph.destination = Some(dest);
    graph.edges.push(Edge {
        from: worklet,
        output: 0,
        to: dest,
        target: EdgeTarget::Input(0),
    });
    control.send(Command::SetSchedule(Box::new(graph.compile().0)));
    for command in control.take_backlog() {
        renderer.apply(command);
    }
    let mut counted = |quanta: usize| {
        let before = alloc_counter::counts(alloc_counter::FAULT_TEST);
        alloc_counter::mark(alloc_counter::FAULT_TEST);
        for _ in 0..quanta {
            renderer.render_quantum();
        }
        alloc_counter::unmark();
        let after = alloc_counter::counts(alloc_counter::FAULT_TEST);
        (after.0 - before.0, after.1 - before.1)
    };
    assert_eq!(counted(2), (0, 0), "two clean quanta");
    let (fault_allocs, fault_frees) = counted(1);
    println!("the panicking quantum: {fault_allocs} allocations, {fault_frees} frees");
    assert!(
        fault_allocs > 0,
        "unwinding allocates (the payload at least)"
    );
    assert_eq!(counted(200), (0, 0), "nothing after the fault");
    let faults: Vec<_> = std::iter::from_fn(|| control.receive())
        .filter_map(|f| match f {
            Feedback::Fault(id, fault) => Some((id, fault.message())),
            _ => None,
        })
        .collect();
    assert_eq!(faults, vec![(worklet, "boom on quantum 3".to_owned())]);
}

#[test]
fn two_node_components_on_one_entity_are_an_error_not_a_cross_wiring() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(0.5);
    source.start(0.0).unwrap();
    let mut gain = GainNode::new(1.0);
    // Were the two cross-wired, this ramp (slot 0 of the gain) would move the offset.
    gain.gain.linear_ramp_to_value_at_time(4.0, 0.01).unwrap();
    let both = app
        .world_mut()
        .commands()
        .spawn((source, gain))
        .connect(dest)
        .id();
    app.update();
    let out = app.render(1024).unwrap().remove(0);
    app.update();
    let errors = messages::<AudioGraphError>(&app);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].entity, both);
    assert!(matches!(errors[0].error, WebAudioError::InvalidState(_)));
    // Whichever synced first is the node; the other changed nothing.
    let constant = out.iter().all(|&v| v == 0.5);
    let silent = out.iter().all(|&v| v == 0.0);
    assert!(
        constant || silent,
        "one node, untouched by the other: {}",
        out[600]
    );
}

#[test]
fn a_cycle_without_a_delay_is_reported() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let (a, b) = {
        let mut commands = app.world_mut().commands();
        let a = commands.spawn(GainNode::new(0.5)).connect(dest).id();
        let b = commands.spawn(GainNode::new(0.5)).connect(a).id();
        commands.entity(a).connect(b);
        (a, b)
    };
    app.update();
    app.update();
    let mut muted: Vec<Entity> = messages::<AudioGraphError>(&app)
        .into_iter()
        .filter(|e| matches!(e.error, WebAudioError::NotSupported(_)))
        .map(|e| e.entity)
        .collect();
    muted.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(muted, expected, "both nodes of the loop, once");
}

#[test]
fn a_context_sample_rate_of_zero_falls_back_with_a_typed_error() {
    for backend in [
        Backend::Offline {
            sample_rate: 0,
            channels: 1,
        },
        Backend::Null {
            sample_rate: 0,
            channels: 0,
        },
    ] {
        let mut app = App::new();
        app.add_plugins((
            MinimalPlugins,
            WebAudioPlugin {
                backend,
                ..default()
            },
        ));
        app.update();
        let context = app.world().resource::<AudioContext>();
        assert_eq!(context.sample_rate(), 48_000.0);
        let messages = app.world().resource::<Messages<AudioBackendFault>>();
        let mut cursor = messages.get_cursor();
        let faults: Vec<_> = cursor.read(messages).cloned().collect();
        assert!(
            matches!(
                faults.as_slice(),
                [AudioBackendFault(AudioBackendError::NotSupported(_))]
            ),
            "{faults:?}"
        );
    }
}

#[test]
fn the_render_counters_are_read_back() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(1.0);
    source.start(0.0).unwrap();
    let iir = IIRFilterNode::new(&[1.0], &[1.0, -2.5, 1.5]).unwrap();
    {
        let mut commands = app.world_mut().commands();
        let iir = commands.spawn(iir).connect(dest).id();
        commands.spawn(source).connect(iir);
    }
    app.update();
    app.render(4800).unwrap();
    app.update();
    let counters = app.world().resource::<AudioContext>().counters();
    assert!(counters.non_finite_quanta > 0, "{counters:?}");
    assert_eq!(
        (
            counters.leaked,
            counters.faulted_nodes,
            counters.message_mismatches
        ),
        (0, 0, 0)
    );
}
