//! Real-time safety of the convolver, the analyser and custom processors: a render thread
//! runs a constant source → ConvolverNode → AudioWorkletNode → AnalyserNode → destination
//! graph while the control thread swaps the convolver's impulse response (the old one comes
//! back in the message box), automates the worklet's param and reads the analyser; not one
//! allocation or free happens on the render thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bevy::prelude::*;
use bevy_webaudio::engine::command::{self, Command, RenderId};
use bevy_webaudio::engine::graph::{Edge, EdgeTarget, Graph, GraphNode};
use bevy_webaudio::engine::node::NodeMessage;
use bevy_webaudio::engine::node::convolver::ConvolverProcessor;
use bevy_webaudio::engine::param::NodeParams;
use bevy_webaudio::engine::render::bus::AudioBus;
use bevy_webaudio::engine::render::timeline::AutomationEvent;
use bevy_webaudio::engine::render::{RenderNode, Renderer};
use bevy_webaudio::node::oscillator::WaveTableCache;
use bevy_webaudio::node::scheduled::ScheduleEvent;
use bevy_webaudio::node::{
    AudioNode, BuildContext, ChannelConfig, ProcessContext, build_render_node,
};
use bevy_webaudio::prelude::*;

use crate::alloc_counter;
use crate::reference::noise;

const SR: f32 = 48_000.0;

fn build<T: AudioNode>(
    node: &mut T,
    config: ChannelConfig,
    cache: &mut WaveTableCache,
    buffers: &Assets<AudioBuffer>,
) -> (Box<RenderNode>, GraphNode) {
    let mut ctx = BuildContext {
        sample_rate: SR,
        max_channels: 2,
        wavetables: cache,
        buffers: Some(buffers),
    };
    let render_node = build_render_node(node, &mut ctx, 64);
    let shape = node.shape();
    let graph_node = GraphNode {
        shape,
        config: config.0,
        outputs: (0..shape.outputs)
            .map(|k| node.output_channels(k))
            .collect(),
    };
    (render_node, graph_node)
}

struct Crusher;

impl AudioWorkletProcessor for Crusher {
    fn process(
        &mut self,
        inputs: &[AudioBus],
        outputs: &mut [AudioBus],
        params: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        let steps = (params.at(0, 0) - 1.0).exp2();
        for (out, inp) in outputs[0]
            .channels_mut()
            .iter_mut()
            .zip(inputs[0].channels_slice())
        {
            for (o, &x) in out.iter_mut().zip(inp) {
                *o = (x * steps).round() / steps;
            }
        }
        true
    }
}

#[test]
fn convolver_analyser_and_worklet_never_allocate_on_the_render_thread() {
    let (mut control, render_channel) = command::channel(1 << 14, 1 << 12);
    let mut renderer = Renderer::new(render_channel, command::shared(), SR, 2, 16);
    let mut cache = WaveTableCache::default();
    let mut assets = Assets::<AudioBuffer>::default();
    let ir_a = assets.add(AudioBuffer::from_samples(noise(80, 2, 3000, 0.3), SR).unwrap());
    let ir_b = assets.add(AudioBuffer::from_samples(noise(81, 4, 20_000, 0.3), SR).unwrap());

    let mut graph = Graph::default();
    let add = |control: &mut command::ControlChannel,
               graph: &mut Graph,
               id,
               built: (Box<RenderNode>, GraphNode)| {
        let id = RenderId::new(id, 0);
        control.send(Command::AddNode { id, node: built.0 });
        graph.nodes.insert(id, built.1);
    };
    let stereo = ChannelConfig::default();
    let dest_config = ChannelConfig::new(
        2,
        ChannelCountMode::Explicit,
        ChannelInterpretation::Speakers,
    );
    let mut dest = AudioDestinationNode::default();
    add(
        &mut control,
        &mut graph,
        0,
        build(&mut dest, dest_config, &mut cache, &assets),
    );
    let mut source = ConstantSourceNode::new(0.5);
    add(
        &mut control,
        &mut graph,
        1,
        build(&mut source, stereo, &mut cache, &assets),
    );
    let mut convolver = ConvolverNode::new(ir_a.clone());
    add(
        &mut control,
        &mut graph,
        2,
        build(&mut convolver, ConvolverNode::CHANNELS, &mut cache, &assets),
    );
    let mut worklet = AudioWorkletNode::builder("crusher", |_: &WorkletScope| Crusher)
        .param(
            AudioParamDescriptor::new("bits")
                .default_value(8.0)
                .range(1.0, 16.0),
        )
        .build()
        .unwrap();
    add(
        &mut control,
        &mut graph,
        3,
        build(&mut worklet, stereo, &mut cache, &assets),
    );
    let mut analyser = AnalyserNode::default();
    analyser.set_fft_size(32768).unwrap();
    add(
        &mut control,
        &mut graph,
        4,
        build(&mut analyser, stereo, &mut cache, &assets),
    );
    for (from, to) in [(1, 2), (2, 3), (3, 4), (4, 0)] {
        graph.edges.push(Edge {
            from: RenderId::new(from, 0),
            output: 0,
            to: RenderId::new(to, 0),
            target: EdgeTarget::Input(0),
        });
    }
    graph.destination = Some(RenderId::new(0, 0));
    let (schedule, _) = graph.compile();
    control.send(Command::SetSchedule(Box::new(schedule)));
    control.send(Command::Schedule {
        node: RenderId::new(1, 0),
        event: ScheduleEvent::Start(0.0),
    });
    control.flush();
    renderer.render_quantum(); // warm-up, not counted

    let running = Arc::new(AtomicBool::new(true));
    let flag = running.clone();
    let render_thread = std::thread::spawn(move || {
        alloc_counter::mark(alloc_counter::NODES_TEST);
        let before = alloc_counter::counts(alloc_counter::NODES_TEST);
        let mut quanta = 0u64;
        while flag.load(Ordering::Acquire) || quanta < 256 {
            renderer.render_quantum();
            quanta += 1;
        }
        let after = alloc_counter::counts(alloc_counter::NODES_TEST);
        alloc_counter::unmark();
        (after.0 - before.0, after.1 - before.1, quanta)
    });

    let mut spectrum = vec![0.0f32; 16384];
    let mut reads = 0;
    for round in 0..20u32 {
        // Swap the impulse response (2 → 4 channels and back): a message whose box returns
        // the previous convolution.
        convolver.set_buffer(Some(if round % 2 == 0 {
            ir_b.clone()
        } else {
            ir_a.clone()
        }));
        let mut ctx = BuildContext {
            sample_rate: SR,
            max_channels: 2,
            wavetables: &mut cache,
            buffers: Some(&assets),
        };
        if let Some(message) = convolver.attributes_message(&mut ctx) {
            let message = NodeMessage::new::<ConvolverProcessor>(message);
            let node = RenderId::new(2, 0);
            control.send(Command::Message { node, message });
        }
        control.send(Command::ParamEvent {
            node: RenderId::new(3, 0),
            param: worklet.params()[0].slot(),
            event: AutomationEvent::SetValue {
                value: 2.0 + (round % 6) as f32,
                time: 0.0,
            },
        });
        while control.flush() > 0 {
            std::thread::yield_now();
        }
        for _ in 0..5 {
            analyser.get_float_frequency_data(&mut spectrum);
            reads += 1;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        while control.receive().is_some() {}
    }
    running.store(false, Ordering::Release);
    let (allocs, frees, quanta) = render_thread.join().unwrap();
    while control.receive().is_some() {}
    println!(
        "rendered {quanta} quanta with 20 IR swaps and {reads} analyser reads; render thread: {allocs} allocations, {frees} frees; analysed {} frames",
        analyser.frames_analysed()
    );
    assert!(analyser.frames_analysed() > 0);
    assert!(spectrum.iter().any(|v| v.is_finite()));
    assert_eq!(
        (allocs, frees),
        (0, 0),
        "no allocation or free on the render thread"
    );
}
