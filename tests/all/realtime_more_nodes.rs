//! Real-time safety of the processors no other counted test renders: AudioBufferSourceNode,
//! DelayNode (plain and split in a cycle), BiquadFilterNode, IIRFilterNode, StereoPannerNode,
//! ChannelSplitterNode, ChannelMergerNode and MediaElementAudioSourceNode.
//!
//! Each scenario builds its nodes with the plugin's own `build_render_node`, compiles a
//! `Graph`, and runs a `Renderer` on a thread counted under the allocator's
//! [`MORE_NODES_TEST`](alloc_counter::MORE_NODES_TEST) tag from its very first quantum (the
//! one that applies the `AddNode`s and the schedule) while the control side automates params,
//! sends attribute messages and start/stop calls. Every scenario must end with 0 allocations
//! and 0 frees on the render thread, an output that is finite everywhere, and an audible peak
//! at the destination and at every metered node (so nothing passes by rendering silence).
//! The scenarios run one after the other in one test: they share the tag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::asset::export::wav_bytes;
use bevy_webaudio::engine::command::{
    self, Command, ControlChannel, Feedback, RenderId, RenderShared,
};
use bevy_webaudio::engine::graph::{CompileReport, Edge, EdgeTarget, Graph, GraphNode};
use bevy_webaudio::engine::node::audio_buffer_source::{
    AudioBufferSourceParam, AudioBufferSourceProcessor,
};
use bevy_webaudio::engine::node::biquad_filter::{BiquadFilterParam, BiquadFilterProcessor};
use bevy_webaudio::engine::node::delay::DelayParam;
use bevy_webaudio::engine::node::media_element_audio_source::MediaElementProcessor;
use bevy_webaudio::engine::node::stereo_panner::StereoPannerParam;
use bevy_webaudio::engine::node::{AudioProcessor, NodeMessage, ProcessPhase};
use bevy_webaudio::engine::param::{NodeParams, ParamSlot};
use bevy_webaudio::engine::render::Renderer;
use bevy_webaudio::engine::render::probe::NodeProbe;
use bevy_webaudio::engine::render::schedule::StepKind;
use bevy_webaudio::engine::render::timeline::AutomationEvent;
use bevy_webaudio::node::oscillator::WaveTableCache;
use bevy_webaudio::node::scheduled::ScheduleEvent;
use bevy_webaudio::node::{AudioNode, BuildContext, ChannelConfig, build_render_node};
use bevy_webaudio::prelude::*;

use crate::alloc_counter;
use crate::asset_loader::{signal, temp_dir};

const SR: f32 = 48_000.0;
const TAG: usize = alloc_counter::MORE_NODES_TEST;
/// Timeline capacity of every param (the control side never has more than a few events
/// pending per param: each round waits for the previous round's events to pass).
const TIMELINE: usize = 64;
/// The quietest peak that counts as audible.
const AUDIBLE: f32 = 0.01;

fn rid(slot: u32) -> RenderId {
    RenderId::new(slot, 0)
}

/// A metered node: its probe, and the largest peak and the params seen automating, read by
/// the render thread after every quantum.
struct Meter {
    name: String,
    probe: Arc<NodeProbe>,
    slots: Vec<ParamSlot>,
    peak: f32,
    /// The largest peak after [`Rig::late_from`] seconds.
    late_peak: f32,
    automated: Vec<bool>,
}

impl Meter {
    /// Reads the probe after a quantum (render thread: atomics only, no allocation).
    fn observe(&mut self, late: bool) {
        let peak = self.probe.peak();
        if peak.is_finite() {
            self.peak = self.peak.max(peak);
            if late {
                self.late_peak = self.late_peak.max(peak);
            }
        }
        for (seen, &slot) in self.automated.iter_mut().zip(&self.slots) {
            *seen |= self.probe.automating(slot);
        }
    }
}

/// The control side of one scenario.
struct Rig {
    control: ControlChannel,
    shared: Arc<RenderShared>,
    graph: Graph,
    cache: WaveTableCache,
    assets: Assets<AudioBuffer>,
    meters: Vec<Meter>,
    late_from: f64,
    messages: usize,
    param_events: usize,
    garbage: usize,
    ended: Vec<RenderId>,
    other_feedback: usize,
}

/// What the render thread measured.
struct Outcome {
    name: &'static str,
    allocs: u64,
    frees: u64,
    quanta: u64,
    peak: f32,
    finite: bool,
}

impl Rig {
    fn new() -> (Self, Renderer) {
        let (control, render_channel) = command::channel(1 << 14, 1 << 12);
        let shared = command::shared();
        let renderer = Renderer::new(render_channel, shared.clone(), SR, 2, 32);
        let rig = Self {
            control,
            shared,
            graph: Graph::default(),
            cache: WaveTableCache::default(),
            assets: Assets::default(),
            meters: Vec::new(),
            late_from: f64::INFINITY,
            messages: 0,
            param_events: 0,
            garbage: 0,
            ended: Vec::new(),
            other_feedback: 0,
        };
        (rig, renderer)
    }

    fn ctx(&mut self) -> BuildContext<'_> {
        BuildContext {
            sample_rate: SR,
            max_channels: 2,
            wavetables: &mut self.cache,
            buffers: Some(&self.assets),
        }
    }

    /// Builds `node`'s render half on this (control) thread and sends it as node `id`; a
    /// `meter` name attaches a probe to it.
    fn add<T: AudioNode>(
        &mut self,
        id: u32,
        node: &mut T,
        config: ChannelConfig,
        meter: Option<&str>,
    ) {
        let render_node = build_render_node(node, &mut self.ctx(), TIMELINE);
        let shape = node.shape();
        self.graph.nodes.insert(
            rid(id),
            GraphNode {
                shape,
                config: config.0,
                outputs: (0..shape.outputs)
                    .map(|k| node.output_channels(k))
                    .collect(),
            },
        );
        self.send(Command::AddNode {
            id: rid(id),
            node: render_node,
        });
        if let Some(name) = meter {
            let probe = Arc::new(NodeProbe::default());
            let slots: Vec<ParamSlot> = node.params().iter().map(|p| p.slot()).collect();
            self.meters.push(Meter {
                name: name.to_owned(),
                probe: probe.clone(),
                automated: vec![false; slots.len()],
                slots,
                peak: 0.0,
                late_peak: 0.0,
            });
            self.send(Command::SetProbe {
                node: rid(id),
                probe: Some(probe),
            });
        }
    }

    fn destination(&mut self) {
        let config = ChannelConfig::new(
            2,
            ChannelCountMode::Explicit,
            ChannelInterpretation::Speakers,
        );
        self.add(0, &mut AudioDestinationNode::default(), config, None);
        self.graph.destination = Some(rid(0));
    }

    fn connect(&mut self, from: u32, output: usize, to: u32, input: usize) {
        self.graph.edges.push(Edge {
            from: rid(from),
            output,
            to: rid(to),
            target: EdgeTarget::Input(input),
        });
    }

    /// Compiles the graph and sends the schedule.
    fn commit(&mut self) -> CompileReport {
        let (schedule, report) = self.graph.compile();
        self.send(Command::SetSchedule(Box::new(schedule)));
        report
    }

    fn send(&mut self, command: Command) {
        self.control.send(command);
        self.control.flush();
    }

    fn schedule(&mut self, node: u32, event: ScheduleEvent) {
        self.send(Command::Schedule {
            node: rid(node),
            event,
        });
    }

    fn automate(&mut self, node: u32, param: ParamSlot, event: AutomationEvent) {
        self.param_events += 1;
        self.send(Command::ParamEvent {
            node: rid(node),
            param,
            event,
        });
    }

    /// Sends processor `P`'s message to node `node` (built on this thread).
    fn message<P: AudioProcessor>(&mut self, node: u32, message: P::Message) {
        self.messages += 1;
        self.send(Command::Message {
            node: rid(node),
            message: NodeMessage::new::<P>(message),
        });
    }

    /// The render clock in seconds.
    fn now(&self) -> f64 {
        self.shared.frames() as f64 / f64::from(SR)
    }

    /// Drains feedback.
    fn poll(&mut self) {
        self.control.flush();
        while let Some(feedback) = self.control.receive() {
            match feedback {
                Feedback::Garbage(_) => self.garbage += 1,
                Feedback::Ended(id) => self.ended.push(id),
                _ => self.other_feedback += 1,
            }
        }
    }

    /// Polls until the render clock reaches `seconds` (bounded in wall time).
    fn wait_until(&mut self, seconds: f64) {
        let start = Instant::now();
        while self.now() < seconds {
            self.poll();
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the render thread stalled at {} s",
                self.now()
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        self.poll();
    }

    /// `rounds` rounds of `round` seconds of audio: each starts with `each(rig, round, now)`
    /// sending its commands, then waits for the clock to pass the round.
    fn rounds(&mut self, rounds: u32, round: f64, mut each: impl FnMut(&mut Self, u32, f64)) {
        for k in 0..rounds {
            let now = self.now();
            each(self, k, now);
            self.wait_until(now + round);
        }
    }

    fn meter(&self, name: &str) -> &Meter {
        self.meters
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no meter {name}"))
    }
}

/// Runs `renderer` on a counted thread while `script` drives `rig` on this one. The render
/// thread sleeps `pace` after every quantum (a device's pace for a stream fed by a decoder
/// thread; otherwise a little, so the control side's event times stay ahead of the clock).
fn run(
    name: &'static str,
    rig: &mut Rig,
    mut renderer: Renderer,
    pace: Option<Duration>,
    script: impl FnOnce(&mut Rig),
) -> Outcome {
    let pace = pace.unwrap_or(Duration::from_micros(100));
    let running = AtomicBool::new(true);
    let mut meters = std::mem::take(&mut rig.meters);
    let late_frame = (rig.late_from * f64::from(SR)).min(u64::MAX as f64) as u64;
    let (allocs, frees, quanta, peak, finite) = std::thread::scope(|scope| {
        let render = scope.spawn(|| {
            alloc_counter::mark(TAG);
            let before = alloc_counter::counts(TAG);
            let (mut quanta, mut peak, mut finite) = (0u64, 0.0f32, true);
            let mut tail = 0;
            // After the script, a few more quanta apply what is still queued.
            while tail < 32 {
                if !running.load(Ordering::Acquire) {
                    tail += 1;
                }
                let out = renderer.render_quantum();
                for c in 0..out.channels() {
                    for &v in out.channel(c) {
                        finite &= v.is_finite();
                        peak = peak.max(v.abs());
                    }
                }
                let late = renderer.frame() >= late_frame;
                for meter in &mut meters {
                    meter.observe(late);
                }
                quanta += 1;
                std::thread::sleep(pace);
            }
            let after = alloc_counter::counts(TAG);
            alloc_counter::unmark();
            (after.0 - before.0, after.1 - before.1, quanta, peak, finite)
        });
        script(rig);
        running.store(false, Ordering::Release);
        render.join().unwrap()
    });
    rig.meters = meters;
    rig.poll();
    let outcome = Outcome {
        name,
        allocs,
        frees,
        quanta,
        peak,
        finite,
    };
    println!(
        "{name}: {quanta} quanta, {} param events, {} messages, {} garbage back, {} ended, {} \
         other feedback; render thread: {allocs} allocations, {frees} frees; destination peak \
         {peak:.3}, finite: {finite}",
        rig.param_events,
        rig.messages,
        rig.garbage,
        rig.ended.len(),
        rig.other_feedback,
    );
    for m in &rig.meters {
        println!(
            "  {:<22} peak {:.3}  late peak {:.3}  windows {}  automated {:?}",
            m.name,
            m.peak,
            m.late_peak,
            m.probe.windows(),
            m.automated
        );
    }
    outcome
}

/// Asserts the common conditions of a scenario.
fn check(outcome: &Outcome, rig: &Rig) {
    let name = outcome.name;
    assert_eq!(
        (outcome.allocs, outcome.frees),
        (0, 0),
        "{name}: allocations/frees on the render thread"
    );
    assert!(outcome.finite, "{name}: a non-finite sample");
    assert!(
        outcome.peak > AUDIBLE,
        "{name}: inaudible, peak {}",
        outcome.peak
    );
    assert!(outcome.quanta > 200, "{name}: {} quanta", outcome.quanta);
    for m in &rig.meters {
        assert!(m.probe.windows() > 0, "{name}: {} never metered", m.name);
        assert!(
            m.peak > AUDIBLE,
            "{name}: {} inaudible, peak {}",
            m.name,
            m.peak
        );
    }
    assert!(
        rig.garbage >= rig.messages,
        "{name}: {} messages but {} garbage items back",
        rig.messages,
        rig.garbage
    );
    assert_eq!(
        rig.other_feedback, 0,
        "{name}: feedback other than 'ended' and garbage (a node fault)"
    );
    assert_eq!(
        rig.shared.message_mismatches.load(Ordering::Relaxed),
        0,
        "{name}: mismatched messages"
    );
    assert_eq!(
        rig.shared.leaked.load(Ordering::Relaxed),
        0,
        "{name}: leaked garbage"
    );
}

/// Both ends of a linear ramp, alternating by round.
fn swing(round: u32, low: f32, high: f32) -> f32 {
    if round.is_multiple_of(2) { high } else { low }
}

// -------------------------------------------------------------------------------------------
// AudioBufferSourceNode

fn buffer_sources() -> Outcome {
    let (mut rig, renderer) = Rig::new();
    let stereo_48k = rig
        .assets
        .add(AudioBuffer::from_samples(signal(2, 12_000, 48_000), 48_000.0).unwrap());
    let mono_44k = rig
        .assets
        .add(AudioBuffer::from_samples(signal(1, 11_025, 44_100), 44_100.0).unwrap());
    rig.destination();
    let stereo = ChannelConfig::default();

    // 1: a loop inside the buffer, rate and detune automated, its buffer swapped back and
    // forth between the two assets (another rate, another channel count).
    let mut looped = AudioBufferSourceNode::new(stereo_48k.clone());
    looped.looping = true;
    looped.loop_start = 0.05;
    looped.loop_end = 0.2;
    looped.start_with(0.0, 0.1, None).unwrap();
    rig.add(1, &mut looped, stereo, Some("looped"));
    // 2: played backwards (negative rate) through its loop, the rate automated through zero.
    let mut reverse = AudioBufferSourceNode::new(stereo_48k.clone());
    reverse.looping = true;
    reverse.playback_rate.set_value(-1.0).unwrap();
    reverse.start_with(0.0, 0.2, None).unwrap();
    rig.add(2, &mut reverse, stereo, Some("reverse"));
    // 3: a one-shot at a sub-sample start time: plays the buffer once and ends.
    let mut one_shot = AudioBufferSourceNode::new(stereo_48k.clone());
    one_shot.start_with(0.1, 0.0, None).unwrap();
    rig.add(3, &mut one_shot, stereo, Some("one-shot"));
    // 4: a looping source with a `duration` at rate 1.3 (interpolated): ends by duration.
    let mut limited = AudioBufferSourceNode::new(mono_44k.clone());
    limited.looping = true;
    limited.playback_rate.set_value(1.3).unwrap();
    limited.start_with(0.0, 0.0, Some(0.4)).unwrap();
    rig.add(4, &mut limited, stereo, Some("duration"));
    // 5: a loop stopped by stop(when) sent while it plays.
    let mut stopped = AudioBufferSourceNode::new(mono_44k.clone());
    stopped.looping = true;
    stopped.start_with(0.0, 0.0, None).unwrap();
    rig.add(5, &mut stopped, stereo, Some("stopped"));
    for id in 1..=5 {
        rig.connect(id, 0, 0, 0);
    }
    rig.commit();
    for (id, when) in [(1, 0.0), (2, 0.0), (3, 0.100_001_3), (4, 0.0), (5, 0.0)] {
        rig.schedule(id, ScheduleEvent::Start(when));
    }

    // Messages for the swap, built from components over the other asset with node 1's
    // settings.
    let mut over_mono = AudioBufferSourceNode::new(mono_44k.clone());
    over_mono.looping = true;
    over_mono.loop_start = 0.05;
    over_mono.loop_end = 0.2;
    let over_stereo = looped.clone();

    let rate = AudioBufferSourceParam::PlaybackRate.slot();
    let detune = AudioBufferSourceParam::Detune.slot();
    let outcome = run("AudioBufferSourceNode", &mut rig, renderer, None, |rig| {
        rig.rounds(24, 0.05, |rig, round, now| {
            let end = now + 0.04;
            rig.automate(
                1,
                rate,
                AutomationEvent::LinearRamp {
                    value: swing(round, 0.5, 1.75),
                    end_time: end,
                },
            );
            rig.automate(
                2,
                rate,
                AutomationEvent::LinearRamp {
                    value: swing(round, -2.0, 0.75),
                    end_time: end,
                },
            );
            let curve: Box<[f32]> = [0.0, 700.0, -500.0, 0.0].into();
            rig.automate(
                1,
                detune,
                AutomationEvent::SetValueCurve {
                    values: curve,
                    start_time: now + 0.002,
                    duration: 0.03,
                },
            );
            rig.automate(
                2,
                detune,
                AutomationEvent::LinearRamp {
                    value: swing(round, -300.0, 300.0),
                    end_time: end,
                },
            );
            if round % 3 == 1 {
                let component = if round.is_multiple_of(2) {
                    &over_stereo
                } else {
                    &over_mono
                };
                let message = component.attributes_message(&mut rig.ctx()).unwrap();
                rig.message::<AudioBufferSourceProcessor>(1, message);
            }
            if round == 8 {
                rig.schedule(5, ScheduleEvent::Stop(now + 0.01));
            }
        });
    });
    check(&outcome, &rig);
    for m in ["looped", "reverse"] {
        assert!(
            rig.meter(m).automated.iter().all(|&a| a),
            "{m}: rate and detune automated"
        );
    }
    let mut ended = rig.ended.clone();
    ended.sort();
    assert_eq!(
        ended,
        vec![rid(3), rid(4), rid(5)],
        "one-shot, duration, stop"
    );
    outcome
}

// -------------------------------------------------------------------------------------------
// DelayNode

fn delays() -> Outcome {
    let (mut rig, renderer) = Rig::new();
    rig.destination();
    let stereo = ChannelConfig::default();
    let mut osc = OscillatorNode::new(OscillatorType::Triangle, 330.0);
    rig.add(1, &mut osc, stereo, None);
    // 2: an echo loop: osc → delay ⇄ feedback gain; the delay feeds the destination.
    let mut echo = DelayNode::with_delay(1.0, 0.12).unwrap();
    rig.add(2, &mut echo, stereo, Some("cycle delay"));
    let mut feedback = GainNode::new(0.7);
    rig.add(3, &mut feedback, stereo, None);
    // 4: a plain delay (not in a cycle) with automated delayTime.
    let mut plain = DelayNode::with_delay(0.5, 0.05).unwrap();
    rig.add(4, &mut plain, stereo, Some("plain delay"));
    for (from, to) in [(1, 2), (2, 3), (3, 2), (2, 0), (1, 4), (4, 0)] {
        rig.connect(from, 0, to, 0);
    }
    let report = rig.commit();
    assert_eq!(
        report.cycle_delays,
        vec![rid(2)],
        "the loop is split at node 2"
    );
    assert!(report.muted.is_empty());
    let (schedule, _) = rig.graph.compile();
    let phases: Vec<(RenderId, StepKind)> = schedule
        .steps()
        .iter()
        .filter(|s| s.node == rid(2) || s.node == rid(4))
        .map(|s| (s.node, s.kind))
        .collect();
    assert_eq!(
        phases
            .iter()
            .filter(|(n, _)| *n == rid(2))
            .map(|(_, k)| *k)
            .collect::<Vec<_>>(),
        vec![
            StepKind::Process(ProcessPhase::CycleRead),
            StepKind::Process(ProcessPhase::CycleWrite)
        ],
        "{phases:?}"
    );
    assert!(phases.contains(&(rid(4), StepKind::Process(ProcessPhase::Whole))));
    rig.schedule(1, ScheduleEvent::Start(0.0));
    // The source stops early: later sound is the loop's own echoes.
    rig.schedule(1, ScheduleEvent::Stop(0.15));

    let delay_time = DelayParam::DelayTime.slot();
    rig.late_from = 0.5;
    let outcome = run("DelayNode", &mut rig, renderer, None, |rig| {
        rig.rounds(20, 0.05, |rig, round, now| {
            rig.automate(
                2,
                delay_time,
                AutomationEvent::LinearRamp {
                    value: swing(round, 0.1, 0.2),
                    end_time: now + 0.04,
                },
            );
            rig.automate(
                4,
                delay_time,
                AutomationEvent::ExponentialRamp {
                    value: swing(round, 0.01, 0.3),
                    end_time: now + 0.03,
                },
            );
        });
    });
    check(&outcome, &rig);
    for m in ["cycle delay", "plain delay"] {
        assert!(rig.meter(m).automated[0], "{m}: delayTime automated");
    }
    let late = rig.meter("cycle delay").late_peak;
    assert!(
        late > AUDIBLE,
        "the loop still echoes after the source stopped: {late}"
    );
    outcome
}

// -------------------------------------------------------------------------------------------
// BiquadFilterNode

fn biquads() -> Outcome {
    let (mut rig, renderer) = Rig::new();
    rig.destination();
    let stereo = ChannelConfig::default();
    let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, 220.0);
    rig.add(1, &mut osc, stereo, None);
    let mut filters: Vec<BiquadFilterNode> = BiquadFilterType::ALL
        .iter()
        .map(|&kind| BiquadFilterNode::with_options(kind, 1000.0, 2.0, 6.0))
        .collect();
    for (k, filter) in filters.iter_mut().enumerate() {
        let id = 2 + k as u32;
        let name = format!("{:?}", filter.filter_type);
        rig.add(id, filter, stereo, Some(&name));
        rig.connect(1, 0, id, 0);
        rig.connect(id, 0, 0, 0);
    }
    rig.commit();
    rig.schedule(1, ScheduleEvent::Start(0.0));

    let outcome = run("BiquadFilterNode", &mut rig, renderer, None, |rig| {
        rig.rounds(24, 0.04, |rig, round, now| {
            for (k, filter) in filters.iter_mut().enumerate() {
                let id = 2 + k as u32;
                // Ramps for the first part of the round (coefficients per sample), then
                // constant values (coefficients per quantum).
                let end = now + 0.025;
                rig.automate(
                    id,
                    BiquadFilterParam::Frequency.slot(),
                    AutomationEvent::ExponentialRamp {
                        value: swing(round + k as u32, 300.0, 4000.0),
                        end_time: end,
                    },
                );
                rig.automate(
                    id,
                    BiquadFilterParam::Q.slot(),
                    AutomationEvent::LinearRamp {
                        value: swing(round, 0.5, 6.0),
                        end_time: end,
                    },
                );
                rig.automate(
                    id,
                    BiquadFilterParam::Gain.slot(),
                    AutomationEvent::SetTarget {
                        target: swing(round, -9.0, 9.0),
                        start_time: now,
                        time_constant: 0.005,
                    },
                );
                let curve: Box<[f32]> = [0.0, 600.0, -600.0, 0.0].into();
                rig.automate(
                    id,
                    BiquadFilterParam::Detune.slot(),
                    AutomationEvent::SetValueCurve {
                        values: curve,
                        start_time: now + 0.002,
                        duration: 0.02,
                    },
                );
                // Every few rounds each filter takes the next type: every node renders
                // every type over the run.
                if round % 3 == 2 {
                    let next = BiquadFilterType::ALL[(k + 1 + round as usize / 3) % 8];
                    filter.filter_type = next;
                    let message = filter.attributes_message(&mut rig.ctx()).unwrap();
                    rig.message::<BiquadFilterProcessor>(id, message);
                }
            }
        });
    });
    check(&outcome, &rig);
    for m in &rig.meters {
        assert!(
            m.automated.iter().all(|&a| a),
            "{}: frequency, detune, Q and gain automated: {:?}",
            m.name,
            m.automated
        );
    }
    assert_eq!(rig.messages, 8 * 8, "type changes");
    outcome
}

// -------------------------------------------------------------------------------------------
// IIRFilterNode

fn iir_filters() -> Outcome {
    let (mut rig, renderer) = Rig::new();
    rig.destination();
    let stereo = ChannelConfig::default();
    // 1 plays, stops; silence lets the tails decay (and the histories reset); then 2 plays.
    let mut first = OscillatorNode::new(OscillatorType::Sawtooth, 110.0);
    rig.add(1, &mut first, stereo, None);
    let mut second = OscillatorNode::new(OscillatorType::Sine, 550.0);
    rig.add(2, &mut second, stereo, None);
    // 3: a mono second-order low-pass (Butterworth at 2 kHz).
    let mut low = IIRFilterNode::new(
        &[0.014_401_3, 0.028_802_6, 0.014_401_3],
        &[1.0, -1.632_993_2, 0.690_598_4],
    )
    .unwrap();
    rig.add(3, &mut low, stereo, Some("iir 2nd order"));
    // 4: stereo input (up-mixed by a 2-channel gain), the most coefficients: a 20-tap moving
    // average with two feedback terms.
    let upmix = ChannelConfig::new(
        2,
        ChannelCountMode::Explicit,
        ChannelInterpretation::Speakers,
    );
    let mut gain = GainNode::new(1.0);
    rig.add(5, &mut gain, upmix, None);
    let mut wide = IIRFilterNode::new(&[0.05; 20], &[1.0, -0.3, 0.1]).unwrap();
    rig.add(4, &mut wide, stereo, Some("iir 20 taps, stereo"));
    for (from, to) in [(1, 3), (2, 3), (1, 5), (2, 5), (5, 4), (3, 0), (4, 0)] {
        rig.connect(from, 0, to, 0);
    }
    rig.commit();
    rig.schedule(1, ScheduleEvent::Start(0.0));
    rig.schedule(1, ScheduleEvent::Stop(0.3));
    rig.schedule(2, ScheduleEvent::Start(0.6));
    rig.late_from = 0.65;
    let outcome = run("IIRFilterNode", &mut rig, renderer, None, |rig| {
        rig.wait_until(1.0);
    });
    check(&outcome, &rig);
    for m in &rig.meters {
        assert!(
            m.late_peak > AUDIBLE,
            "{}: plays again after its tail: {}",
            m.name,
            m.late_peak
        );
    }
    outcome
}

// -------------------------------------------------------------------------------------------
// StereoPannerNode

fn stereo_panners() -> Outcome {
    let (mut rig, renderer) = Rig::new();
    rig.destination();
    let clamped = ChannelConfig::new(
        2,
        ChannelCountMode::ClampedMax,
        ChannelInterpretation::Speakers,
    );
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 440.0);
    rig.add(1, &mut osc, ChannelConfig::default(), None);
    let mut mono = StereoPannerNode::new(-0.5);
    rig.add(2, &mut mono, clamped, Some("mono input"));
    let upmix = ChannelConfig::new(
        2,
        ChannelCountMode::Explicit,
        ChannelInterpretation::Speakers,
    );
    let mut gain = GainNode::new(0.8);
    rig.add(3, &mut gain, upmix, None);
    let mut stereo = StereoPannerNode::new(0.5);
    rig.add(4, &mut stereo, clamped, Some("stereo input"));
    for (from, to) in [(1, 2), (2, 0), (1, 3), (3, 4), (4, 0)] {
        rig.connect(from, 0, to, 0);
    }
    rig.commit();
    rig.schedule(1, ScheduleEvent::Start(0.0));
    let pan = StereoPannerParam::Pan.slot();
    let outcome = run("StereoPannerNode", &mut rig, renderer, None, |rig| {
        rig.rounds(20, 0.04, |rig, round, now| {
            for id in [2, 4] {
                if round % 4 == 3 {
                    // A constant pan for a while (gains computed once per quantum).
                    rig.automate(
                        id,
                        pan,
                        AutomationEvent::SetValue {
                            value: 0.25,
                            time: now,
                        },
                    );
                } else {
                    rig.automate(
                        id,
                        pan,
                        AutomationEvent::LinearRamp {
                            value: swing(round, -1.0, 1.0),
                            end_time: now + 0.03,
                        },
                    );
                }
            }
        });
    });
    check(&outcome, &rig);
    for m in &rig.meters {
        assert!(m.automated[0], "{}: pan automated", m.name);
    }
    outcome
}

// -------------------------------------------------------------------------------------------
// ChannelSplitterNode and ChannelMergerNode

fn splitter_and_mergers() -> Outcome {
    let (mut rig, renderer) = Rig::new();
    rig.destination();
    let stereo = ChannelConfig::default();
    let merger_config = ChannelConfig::new(
        1,
        ChannelCountMode::Explicit,
        ChannelInterpretation::Speakers,
    );
    let mut a = OscillatorNode::new(OscillatorType::Sine, 440.0);
    rig.add(1, &mut a, stereo, None);
    let mut b = OscillatorNode::new(OscillatorType::Sawtooth, 220.0);
    rig.add(2, &mut b, stereo, None);
    // 3: a → channel 0, b → channel 1.
    let mut merge = ChannelMergerNode::new(2).unwrap();
    rig.add(3, &mut merge, merger_config, Some("merger (a, b)"));
    // 4: four outputs from a two-channel input (outputs 2 and 3 carry silence).
    let mut split = ChannelSplitterNode::new(4).unwrap();
    let split_config = ChannelConfig::new(
        4,
        ChannelCountMode::Explicit,
        ChannelInterpretation::Discrete,
    );
    rig.add(4, &mut split, split_config, Some("splitter"));
    // 5: the channels swapped back together, plus the silent third.
    let mut swap = ChannelMergerNode::new(3).unwrap();
    rig.add(5, &mut swap, merger_config, Some("merger (b, a, -)"));
    rig.connect(1, 0, 3, 0);
    rig.connect(2, 0, 3, 1);
    rig.connect(3, 0, 4, 0);
    rig.connect(4, 0, 5, 1);
    rig.connect(4, 1, 5, 0);
    rig.connect(4, 2, 5, 2);
    rig.connect(5, 0, 0, 0);
    rig.commit();
    // a stops first (one merger input goes silent), then b (every input silent).
    rig.schedule(1, ScheduleEvent::Start(0.0));
    rig.schedule(2, ScheduleEvent::Start(0.0));
    rig.schedule(1, ScheduleEvent::Stop(0.4));
    rig.schedule(2, ScheduleEvent::Stop(0.8));
    let outcome = run(
        "ChannelSplitter/MergerNode",
        &mut rig,
        renderer,
        None,
        |rig| {
            rig.wait_until(1.0);
        },
    );
    check(&outcome, &rig);
    outcome
}

// -------------------------------------------------------------------------------------------
// MediaElementAudioSourceNode

/// Waits (wall time, bounded) until the decoder has written `frames` frames of the session.
fn wait_decoded(node: &MediaElementAudioSourceNode, frames: u64) {
    let status = node.status().unwrap().clone();
    let start = Instant::now();
    while status.decoded_frames() < frames {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the decoder wrote {} of {frames} frames",
            status.decoded_frames()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn media_elements() -> Outcome {
    let dir = temp_dir("realtime_media");
    let long = dir.join("long.wav");
    let short = dir.join("short.wav");
    std::fs::write(
        &long,
        wav_bytes(&signal(2, 48_000, 48_000), 48_000, WavFormat::Int16).unwrap(),
    )
    .unwrap();
    std::fs::write(
        &short,
        wav_bytes(&signal(1, 9_600, 48_000), 48_000, WavFormat::Float32).unwrap(),
    )
    .unwrap();

    let (mut rig, renderer) = Rig::new();
    rig.destination();
    let stereo = ChannelConfig::default();
    // 1: a looping stereo stream that seeks and pauses while it plays.
    let mut music = MediaElementAudioSourceNode::open(&long).unwrap();
    music.looping = true;
    music.buffer_seconds = 0.25;
    rig.add(1, &mut music, stereo, Some("looping stream"));
    // 2: a short mono stream that plays to its end.
    let mut jingle = MediaElementAudioSourceNode::open(&short).unwrap();
    jingle.buffer_seconds = 0.25;
    rig.add(2, &mut jingle, stereo, Some("stream to its end"));
    rig.connect(1, 0, 0, 0);
    rig.connect(2, 0, 0, 0);
    rig.commit();
    wait_decoded(&music, 3_000);
    wait_decoded(&jingle, 3_000);
    let music_status = music.status().unwrap().clone();
    let jingle_status = jingle.status().unwrap().clone();

    // About a device's pace (2.67 ms a quantum), so the decoder thread keeps up.
    let pace = Duration::from_micros(2_500);
    let outcome = run(
        "MediaElementAudioSourceNode",
        &mut rig,
        renderer,
        Some(pace),
        |rig| {
            rig.rounds(16, 0.1, |rig, round, _| {
                match round {
                    4 => {
                        music.seek(0.5).unwrap();
                    }
                    7 => music.paused = true,
                    9 => music.paused = false,
                    11 => {
                        music.seek(0.9).unwrap();
                    }
                    _ => return,
                }
                let message = music.attributes_message(&mut rig.ctx()).unwrap();
                let ring = message.ring.is_some();
                rig.message::<MediaElementProcessor>(1, message);
                if ring {
                    wait_decoded(&music, 3_000);
                }
            });
        },
    );
    check(&outcome, &rig);
    assert_eq!(rig.messages, 4);
    assert_eq!(rig.ended, vec![rid(2)], "the short stream ended, once");
    assert!(jingle_status.ended());
    assert!(!music_status.ended(), "a loop does not end");
    println!(
        "  underruns: looping {} ({} frames), to its end {}",
        music_status.underruns(),
        music_status.underrun_frames(),
        jingle_status.underruns()
    );
    outcome
}

#[test]
fn more_processors_never_allocate_on_the_render_thread() {
    // One after the other: the scenarios share the counter's tag.
    let outcomes = [
        buffer_sources(),
        delays(),
        biquads(),
        iir_filters(),
        stereo_panners(),
        splitter_and_mergers(),
        media_elements(),
    ];
    for o in &outcomes {
        println!(
            "{:<30} {:>5} quanta  {} allocations  {} frees  peak {:.3}",
            o.name, o.quanta, o.allocs, o.frees, o.peak
        );
    }
}
