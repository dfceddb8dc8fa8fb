//! Real-time safety, proven: the render thread renders while the
//! control side sends every `Command` variant — thousands of automation events, node adds and
//! removes, schedule swaps, timeline and arena growth, processor messages — with the feedback
//! queue left full, and not one allocation or free happens on the render thread. Also: no
//! lock types in render-side code.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bevy_webaudio::engine::command::{self, Command, Feedback, RenderId};
use bevy_webaudio::engine::graph::{Edge, EdgeTarget, Graph, GraphNode};
use bevy_webaudio::engine::node::NodeMessage;
use bevy_webaudio::engine::node::audio_listener::ListenerParam;
use bevy_webaudio::engine::node::dynamics_compressor::CompressorProcessor;
use bevy_webaudio::engine::node::gain::GainParam;
use bevy_webaudio::engine::node::oscillator::{OscillatorParam, OscillatorProcessor};
use bevy_webaudio::engine::node::panner::{PannerParam, PannerProcessor};
use bevy_webaudio::engine::node::wave_shaper::WaveShaperProcessor;
use bevy_webaudio::engine::param::NodeParams;
use bevy_webaudio::engine::render::probe::NodeProbe;
use bevy_webaudio::engine::render::timeline::{AutomationEvent, Timeline};
use bevy_webaudio::engine::render::{RenderNode, Renderer};
use bevy_webaudio::node::oscillator::WaveTableCache;
use bevy_webaudio::node::scheduled::ScheduleEvent;
use bevy_webaudio::node::{AudioNode, BuildContext, ChannelConfig, build_render_node};
use bevy_webaudio::prelude::*;

use crate::alloc_counter;

const SR: f32 = 48_000.0;

/// Builds a node's render half with the plugin's own function, and its graph entry.
fn build<T: AudioNode>(mut node: T, cache: &mut WaveTableCache) -> (Box<RenderNode>, GraphNode) {
    let mut ctx = BuildContext {
        sample_rate: SR,
        max_channels: 2,
        wavetables: cache,
        buffers: None,
    };
    let render_node = build_render_node(&mut node, &mut ctx, 4);
    let shape = node.shape();
    let graph_node = GraphNode {
        shape,
        config: ChannelConfig::default().0,
        outputs: (0..shape.outputs)
            .map(|k| node.output_channels(k))
            .collect(),
    };
    (render_node, graph_node)
}

/// The first generation of arena slot `slot`.
fn rid(slot: u32) -> RenderId {
    RenderId::new(slot, 0)
}

#[test]
fn render_thread_never_allocates_under_every_command() {
    // A tiny feedback ring that the control side does not drain until the end: full.
    let (mut control, render_channel) = command::channel(1 << 16, 4);
    let shared = command::shared();
    let mut renderer = Renderer::new(render_channel, shared.clone(), SR, 2, 8);
    let mut cache = WaveTableCache::default();
    let mut graph = Graph::default();
    let (dest, dest_node) = build(AudioDestinationNode::default(), &mut cache);
    control.send(Command::AddNode {
        id: rid(0),
        node: dest,
    });
    graph.nodes.insert(rid(0), dest_node);
    graph.destination = Some(rid(0));
    let (schedule, _) = graph.compile();
    control.send(Command::SetSchedule(Box::new(schedule)));
    control.flush();
    // Warm up on this thread (nothing is counted here).
    renderer.render_quantum();

    let running = Arc::new(AtomicBool::new(true));
    let flag = running.clone();
    let render_thread = std::thread::spawn(move || {
        alloc_counter::mark(alloc_counter::ENGINE_TEST);
        let before = alloc_counter::counts(alloc_counter::ENGINE_TEST);
        let mut quanta = 0u64;
        while flag.load(Ordering::Acquire) || quanta < 64 {
            renderer.render_quantum();
            quanta += 1;
        }
        // A few more to apply what is still queued.
        for _ in 0..64 {
            renderer.render_quantum();
        }
        let after = alloc_counter::counts(alloc_counter::ENGINE_TEST);
        alloc_counter::unmark();
        (after.0 - before.0, after.1 - before.1, quanta, renderer)
    });

    let mut sent: HashSet<&'static str> = HashSet::new();
    let mut send = |control: &mut command::ControlChannel, c: Command| {
        sent.insert(c.name());
        control.send(c);
        while control.flush() > 0 {
            std::thread::yield_now();
        }
    };
    let mut next_id = 1u32;
    let mut live: HashMap<RenderId, ()> = HashMap::new();
    for round in 0..40 {
        // Grow the arena past its initial 8 slots.
        if round == 2 {
            send(
                &mut control,
                Command::ReplaceArena((0..256).map(|_| None).collect()),
            );
        }
        // Add an oscillator → gain chain.
        let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, 220.0 + round as f32);
        osc.start(0.0).unwrap();
        let (osc_node, osc_graph) = build(osc.clone(), &mut cache);
        let (gain_node, gain_graph) = build(GainNode::new(0.1), &mut cache);
        let (o, g) = (rid(next_id), rid(next_id + 1));
        next_id += 2;
        send(
            &mut control,
            Command::AddNode {
                id: o,
                node: osc_node,
            },
        );
        send(
            &mut control,
            Command::AddNode {
                id: g,
                node: gain_node,
            },
        );
        graph.nodes.insert(o, osc_graph);
        graph.nodes.insert(g, gain_graph);
        graph.edges.push(Edge {
            from: o,
            output: 0,
            to: g,
            target: EdgeTarget::Input(0),
        });
        graph.edges.push(Edge {
            from: g,
            output: 0,
            to: rid(0),
            target: EdgeTarget::Input(0),
        });
        let (schedule, _) = graph.compile();
        send(&mut control, Command::SetSchedule(Box::new(schedule)));
        live.insert(o, ());
        send(
            &mut control,
            Command::Schedule {
                node: o,
                event: ScheduleEvent::Start(0.0),
            },
        );
        // Thousands of automation events over the run (including curves, which carry heap
        // data, and cancels, which release it), with a timeline growth first.
        send(
            &mut control,
            Command::ReplaceTimeline {
                node: g,
                param: GainParam::Gain.slot(),
                timeline: Box::new(Timeline::new(0.0, 512)),
            },
        );
        for i in 0..100 {
            let t = f64::from(i) * 0.001;
            send(
                &mut control,
                Command::ParamEvent {
                    node: g,
                    param: GainParam::Gain.slot(),
                    event: AutomationEvent::LinearRamp {
                        value: 0.1 + (i % 7) as f32 * 0.01,
                        end_time: t,
                    },
                },
            );
        }
        send(
            &mut control,
            Command::ParamEvent {
                node: g,
                param: GainParam::Gain.slot(),
                event: AutomationEvent::SetValueCurve {
                    values: vec![0.0, 0.2, 0.1].into(),
                    start_time: 10.0,
                    duration: 1.0,
                },
            },
        );
        send(
            &mut control,
            Command::ParamEvent {
                node: g,
                param: GainParam::Gain.slot(),
                event: AutomationEvent::CancelScheduledValues { cancel_time: 5.0 },
            },
        );
        send(
            &mut control,
            Command::ParamEvent {
                node: o,
                param: OscillatorParam::Frequency.slot(),
                event: AutomationEvent::SetTarget {
                    target: 440.0,
                    start_time: 0.0,
                    time_constant: 0.01,
                },
            },
        );
        send(
            &mut control,
            Command::SetAutomationRate {
                node: o,
                param: OscillatorParam::Detune.slot(),
                rate: AutomationRate::KRate,
            },
        );
        // Change the oscillator's type: a message whose box comes back with the old table.
        osc.set_type(OscillatorType::Square).unwrap();
        let mut ctx = BuildContext {
            sample_rate: SR,
            max_channels: 2,
            wavetables: &mut cache,
            buffers: None,
        };
        if let Some(message) = osc.attributes_message(&mut ctx) {
            let message = NodeMessage::new::<OscillatorProcessor>(message);
            send(&mut control, Command::Message { node: o, message });
        }
        send(
            &mut control,
            Command::Schedule {
                node: o,
                event: ScheduleEvent::Stop(1000.0),
            },
        );
        // Meter both nodes (the inspector's probes); replace one probe and detach another:
        // the old ones come back as garbage, removed nodes take theirs along.
        for node in [o, g, g] {
            let probe = Some(Arc::new(NodeProbe::default()));
            send(&mut control, Command::SetProbe { node, probe });
        }
        if round % 2 == 1 {
            send(
                &mut control,
                Command::SetProbe {
                    node: o,
                    probe: None,
                },
            );
        }
        // Remove an older chain: schedule without it first, then the nodes.
        if round >= 3 {
            let (old_o, old_g) = (rid(o.slot() - 6), rid(g.slot() - 6));
            graph.nodes.remove(&old_o);
            graph.nodes.remove(&old_g);
            graph.edges.retain(|e| e.from != old_o && e.from != old_g);
            let (schedule, _) = graph.compile();
            send(&mut control, Command::SetSchedule(Box::new(schedule)));
            send(&mut control, Command::RemoveNode { id: old_o });
            send(&mut control, Command::RemoveNode { id: old_g });
            live.remove(&old_o);
        }
    }
    running.store(false, Ordering::Release);
    let (allocs, frees, quanta, renderer) = render_thread.join().unwrap();
    let mut garbage = 0;
    while let Some(f) = control.receive() {
        if matches!(f, Feedback::Garbage(_)) {
            garbage += 1;
        }
    }
    let expected: HashSet<&str> = [
        "AddNode",
        "RemoveNode",
        "SetSchedule",
        "ParamEvent",
        "SetAutomationRate",
        "ReplaceTimeline",
        "Schedule",
        "Message",
        "ReplaceArena",
        "SetProbe",
    ]
    .into_iter()
    .collect();
    assert_eq!(sent, expected, "every Command variant was sent");
    let stalls = shared.feedback_stalls.load(Ordering::Relaxed);
    println!(
        "rendered {quanta} quanta, {} commands applied, {stalls} feedback stalls, {garbage} garbage items back; render thread: {allocs} allocations, {frees} frees",
        shared.commands_applied.load(Ordering::Relaxed)
    );
    assert!(stalls > 0, "the feedback queue was full at some point");
    assert!(shared.commands_applied.load(Ordering::Relaxed) > 4000);
    assert_eq!(
        (allocs, frees),
        (0, 0),
        "no allocation or free on the render thread"
    );
    assert_eq!(shared.leaked.load(Ordering::Relaxed), 0, "nothing leaked");
    drop(renderer);
}

#[test]
fn the_counter_sees_allocations() {
    // The checker itself works: an allocation on a marked thread is counted.
    let before = alloc_counter::counts(alloc_counter::SELF_TEST);
    std::thread::spawn(|| {
        alloc_counter::mark(alloc_counter::SELF_TEST);
        let v: Vec<u8> = Vec::with_capacity(16);
        drop(std::hint::black_box(v));
        alloc_counter::unmark();
    })
    .join()
    .unwrap();
    let after = alloc_counter::counts(alloc_counter::SELF_TEST);
    assert_eq!((after.0 - before.0, after.1 - before.1), (1, 1));
}

/// The engine crate's render code is kept free of locks and printing by its clippy.toml
/// (clippy runs with `-D warnings` in CI); the device callbacks in this crate run on the render
/// thread too and are checked here.
#[test]
fn no_lock_types_in_render_side_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: Vec<_> = [
        "backend/slot.rs",
        "backend/null.rs",
        "backend/cpal.rs",
        "device/stream.rs",
        "device/sample.rs",
    ]
    .iter()
    .map(|f| root.join(f))
    .collect();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests at the bottom of a file are not render code.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for needle in [
            "Mutex",
            "RwLock",
            "Condvar",
            ".lock()",
            "println!",
            "eprintln!",
        ] {
            assert!(
                !text.contains(needle),
                "{} contains {needle}",
                path.display()
            );
        }
    }
}

/// A renderer playing one sawtooth (for callback-size tests).
fn sawtooth_renderer() -> Renderer {
    let (mut control, render_channel) = command::channel(64, 64);
    let mut renderer = Renderer::new(render_channel, command::shared(), SR, 2, 8);
    let mut cache = WaveTableCache::default();
    let mut graph = Graph::default();
    let (dest, dest_node) = build(AudioDestinationNode::default(), &mut cache);
    let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, 261.0);
    osc.start(0.0).unwrap();
    let (osc, osc_node) = build(osc, &mut cache);
    graph.nodes.insert(rid(0), dest_node);
    graph.nodes.insert(rid(1), osc_node);
    graph.destination = Some(rid(0));
    graph.edges.push(Edge {
        from: rid(1),
        output: 0,
        to: rid(0),
        target: EdgeTarget::Input(0),
    });
    for command in [
        Command::AddNode {
            id: rid(0),
            node: dest,
        },
        Command::AddNode {
            id: rid(1),
            node: osc,
        },
        Command::Schedule {
            node: rid(1),
            event: ScheduleEvent::Start(0.0),
        },
        Command::SetSchedule(Box::new(graph.compile().0)),
    ] {
        renderer.apply(command);
    }
    drop(control.receive());
    renderer
}

#[test]
fn device_callbacks_of_any_size_carry_the_remainder() {
    // Reference: planar render of 5000 frames.
    let mut planar = vec![Vec::new(), Vec::new()];
    sawtooth_renderer().render_planar(5000, &mut planar);
    // The same through interleaved callbacks of awkward sizes (as devices deliver them).
    let mut renderer = sawtooth_renderer();
    let mut interleaved = Vec::new();
    for size in [1usize, 341, 682, 100, 128, 129, 1024, 2595].iter().cycle() {
        let mut block = vec![0.0f32; size * 2];
        renderer.fill_interleaved(&mut block, 2);
        interleaved.extend(block);
        if interleaved.len() >= 10_000 {
            break;
        }
    }
    for frame in 0..5000 {
        assert_eq!(
            interleaved[2 * frame],
            planar[0][frame],
            "left, frame {frame}"
        );
        assert_eq!(
            interleaved[2 * frame + 1],
            planar[1][frame],
            "right, frame {frame}"
        );
    }
    assert!(planar[0].iter().any(|&v| v != 0.0));
}

#[test]
fn panners_and_listener_render_without_allocating() {
    use bevy_webaudio::node::panner::PannerAttributes;
    let (mut control, render_channel) = command::channel(1 << 12, 1 << 12);
    let shared = command::shared();
    let mut renderer = Renderer::new(render_channel, shared, SR, 2, 8);
    let mut cache = WaveTableCache::default();
    let mut graph = Graph::default();
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    osc.start(0.0).unwrap();
    let nodes = [
        build(AudioDestinationNode::default(), &mut cache),
        build(AudioListener::default(), &mut cache),
        build(osc, &mut cache),
        build(PannerNode::new(PanningModel::EqualPower), &mut cache),
        build(PannerNode::new(PanningModel::Hrtf), &mut cache),
    ];
    for (id, (node, graph_node)) in nodes.into_iter().enumerate() {
        control.send(Command::AddNode {
            id: rid(id as u32),
            node,
        });
        graph.nodes.insert(rid(id as u32), graph_node);
    }
    for (from, to) in [(2, 3), (2, 4), (3, 0), (4, 0)] {
        graph.edges.push(Edge {
            from: rid(from),
            output: 0,
            to: rid(to),
            target: EdgeTarget::Input(0),
        });
    }
    graph.destination = Some(rid(0));
    graph.listener = Some(rid(1));
    graph.listener_readers = vec![rid(3), rid(4)];
    let (schedule, _) = graph.compile();
    let order: Vec<RenderId> = schedule.steps().iter().map(|s| s.node).collect();
    let at = |id| order.iter().position(|&n| n == rid(id)).unwrap();
    assert!(at(1) < at(3) && at(1) < at(4), "listener first: {order:?}");
    control.send(Command::SetSchedule(Box::new(schedule)));
    control.send(Command::Schedule {
        node: rid(2),
        event: ScheduleEvent::Start(0.0),
    });
    // Everything moves: the listener walks and turns, both sources circle.
    for (node, param, value) in [
        (1, ListenerParam::PositionX.slot(), 5.0),
        (1, ListenerParam::ForwardX.slot(), 1.0),
        (3, PannerParam::PositionX.slot(), -4.0),
        (4, PannerParam::PositionX.slot(), 4.0),
        (4, PannerParam::PositionY.slot(), 2.0),
    ] {
        control.send(Command::ParamEvent {
            node: rid(node),
            param,
            event: AutomationEvent::LinearRamp {
                value,
                end_time: 1.0,
            },
        });
    }
    control.flush();
    renderer.render_quantum();
    let message = NodeMessage::new::<PannerProcessor>(PannerAttributes {
        panning_model: PanningModel::Hrtf,
        ..Default::default()
    });
    control.send(Command::Message {
        node: rid(3),
        message,
    });
    let handle = std::thread::spawn(move || {
        alloc_counter::mark(alloc_counter::SPATIAL_TEST);
        let before = alloc_counter::counts(alloc_counter::SPATIAL_TEST);
        let mut peak = 0.0f32;
        for q in 0..400 {
            if q == 200 {
                control.flush(); // switch the equal-power panner to HRTF mid-run
            }
            let out = renderer.render_quantum();
            for c in 0..out.channels() {
                peak = out.channel(c).iter().fold(peak, |m, v| m.max(v.abs()));
            }
        }
        let after = alloc_counter::counts(alloc_counter::SPATIAL_TEST);
        alloc_counter::unmark();
        (after.0 - before.0, after.1 - before.1, peak, control)
    });
    let (allocs, frees, peak, _control) = handle.join().unwrap();
    assert!(peak > 0.01, "audible: {peak}");
    assert_eq!(
        (allocs, frees),
        (0, 0),
        "allocations/frees on the render thread"
    );
}

#[test]
fn shaper_and_compressor_messages_never_allocate_on_the_render_thread() {
    // oscillator ─▶ wave shaper ─▶ compressor ─▶ destination, rendered on this thread (counted
    // only while rendering) while the shaper's curve and oversampling change and the
    // compressor's meter is replaced: the new data arrives in message boxes, the old goes back.
    let (mut control, render_channel) = command::channel(1 << 12, 1 << 12);
    let shared = command::shared();
    let mut renderer = Renderer::new(render_channel, shared.clone(), SR, 2, 8);
    let mut cache = WaveTableCache::default();
    let mut graph = Graph::default();
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 3000.0);
    osc.start(0.0).unwrap();
    let curve: Vec<f32> = (0..65)
        .map(|i| ((i as f32 / 32.0 - 1.0) * 3.0).tanh())
        .collect();
    let mut shaper = WaveShaperNode::new(Some(&curve), OverSampleType::X4).unwrap();
    let compressor = DynamicsCompressorNode::default();
    for (id, (node, graph_node)) in [
        build(AudioDestinationNode::default(), &mut cache),
        build(osc, &mut cache),
        build(shaper.clone(), &mut cache),
        build(compressor.clone(), &mut cache),
    ]
    .into_iter()
    .enumerate()
    {
        let id = rid(id as u32);
        control.send(Command::AddNode { id, node });
        graph.nodes.insert(id, graph_node);
    }
    graph.destination = Some(rid(0));
    for (from, to) in [(1, 2), (2, 3), (3, 0)] {
        graph.edges.push(Edge {
            from: rid(from),
            output: 0,
            to: rid(to),
            target: EdgeTarget::Input(0),
        });
    }
    let (schedule, _) = graph.compile();
    control.send(Command::SetSchedule(Box::new(schedule)));
    control.send(Command::Schedule {
        node: rid(1),
        event: ScheduleEvent::Start(0.0),
    });
    control.flush();
    renderer.render_quantum();

    let render = |renderer: &mut Renderer, quanta: usize| {
        alloc_counter::mark(alloc_counter::SHAPER_TEST);
        for _ in 0..quanta {
            renderer.render_quantum();
        }
        alloc_counter::unmark();
    };
    let before = alloc_counter::counts(alloc_counter::SHAPER_TEST);
    let mut messages = 0;
    for (round, oversample) in [
        OverSampleType::X2,
        OverSampleType::None,
        OverSampleType::X4,
        OverSampleType::X2,
    ]
    .into_iter()
    .enumerate()
    {
        render(&mut renderer, 50);
        shaper.oversample = oversample;
        if round == 2 {
            shaper.set_curve(None).unwrap();
        }
        // A replaced compressor component (a clone has a meter of its own).
        let replaced = compressor.clone();
        let mut ctx = BuildContext {
            sample_rate: SR,
            max_channels: 2,
            wavetables: &mut cache,
            buffers: None,
        };
        for (node, message) in [
            (
                2,
                NodeMessage::new::<WaveShaperProcessor>(
                    shaper.attributes_message(&mut ctx).unwrap(),
                ),
            ),
            (
                3,
                NodeMessage::new::<CompressorProcessor>(
                    replaced.attributes_message(&mut ctx).unwrap(),
                ),
            ),
        ] {
            control.send(Command::Message {
                node: rid(node),
                message,
            });
            messages += 1;
        }
        control.flush();
        render(&mut renderer, 50);
    }
    let after = alloc_counter::counts(alloc_counter::SHAPER_TEST);
    let mut garbage = 0;
    while let Some(f) = control.receive() {
        if matches!(f, Feedback::Garbage(_)) {
            garbage += 1;
        }
    }
    println!(
        "{messages} messages, {garbage} garbage items back; render thread: {} allocations, {} \
         frees",
        after.0 - before.0,
        after.1 - before.1
    );
    assert_eq!((after.0 - before.0, after.1 - before.1), (0, 0));
    assert!(garbage >= messages, "{garbage} < {messages}");
}
