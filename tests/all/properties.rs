//! Property test of the whole command path through the ECS (offline backend): random sequences
//! of spawns (constant source, oscillator, gain, delay, biquad, buffer source over a procedural
//! `AudioBuffer`, panner), connection entities spawned and despawned
//! (`connect` / `connect_param` / `disconnect`), param automation (values, ramps, targets,
//! curves, cancels), start/stop, buffer changes, despawns and `AudioContext` suspend/resume,
//! rendering after each step.
//!
//! Checked: no panic; every output sample finite; 'ended' (`Ended`) only for scheduled sources
//! that were started and stopped (or, a buffer source, could have played out), not before they
//! could end, at most once, and never for a node spawned after another was despawned (whose
//! render slot it may reuse); no leak, fault or mismatch in `AudioContext::counters()`; the
//! render side's node count matches the ECS's audio entities, and after despawning everything
//! both are back to the destination alone.
//!
//! The render side's own property test (ids, the command ring under back-pressure) is
//! `engine/tests/properties.rs`. `PROPTEST_CASES=200` runs longer.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

use crate::support::*;

/// Cases per run (each builds an app and renders up to ~40 steps).
const CASES: u32 = 128;
const QUANTUM: f64 = 128.0 / SR as f64;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Constant,
    Oscillator,
    Gain,
    Delay,
    Biquad,
    Buffer { frames: u16, looping: bool },
    Panner,
}

impl Kind {
    fn is_source(self) -> bool {
        matches!(
            self,
            Kind::Constant | Kind::Oscillator | Kind::Buffer { .. }
        )
    }

    fn has_input(self) -> bool {
        !self.is_source()
    }

    /// Each param's name and a sane range for its values.
    fn params(self) -> &'static [(ParamId, f32, f32)] {
        match self {
            Kind::Constant => &[(ParamId::Offset, -1.0, 1.0)],
            Kind::Oscillator => &[
                (ParamId::Frequency, 20.0, 4000.0),
                (ParamId::Detune, -1200.0, 1200.0),
            ],
            Kind::Gain => &[(ParamId::Gain, -2.0, 2.0)],
            Kind::Delay => &[(ParamId::DelayTime, 0.0, 0.1)],
            Kind::Biquad => &[
                (ParamId::Frequency, 20.0, 8000.0),
                (ParamId::Detune, -1200.0, 1200.0),
                (ParamId::Q, 0.1, 20.0),
                (ParamId::Gain, -24.0, 24.0),
            ],
            Kind::Buffer { .. } => &[
                (ParamId::PlaybackRate, -2.0, 4.0),
                (ParamId::Detune, -1200.0, 1200.0),
            ],
            Kind::Panner => &[
                (ParamId::PositionX, -10.0, 10.0),
                (ParamId::PositionY, -10.0, 10.0),
                (ParamId::PositionZ, -10.0, 10.0),
            ],
        }
    }
}

fn buffer(frames: u16) -> AudioBuffer {
    let samples = (0..frames)
        .map(|i| (f32::from(i) * 0.05).sin() * 0.5)
        .collect();
    AudioBuffer::from_samples(vec![samples], SR as f32).unwrap()
}

#[derive(Clone, Debug)]
enum Auto {
    Set { u: f32, dt: u8 },
    Linear { u: f32, dt: u8 },
    Exponential { u: f32, dt: u8 },
    Target { u: f32, dt: u8, tc: u8 },
    Curve { us: Vec<f32>, dt: u8, len: u8 },
    Cancel { dt: u8 },
    Hold { dt: u8 },
}

#[derive(Clone, Debug)]
enum Op {
    Spawn(Kind),
    Connect {
        from: Index,
        to: Index,
        param: Option<Index>,
    },
    Disconnect {
        from: Index,
        to: Index,
    },
    /// `start(now + delay / 8 quanta)`, and maybe `stop` `stop / 8` quanta after it.
    Start {
        node: Index,
        delay: u8,
        stop: Option<u8>,
    },
    Stop {
        node: Index,
        delay: u8,
    },
    Automate {
        node: Index,
        param: Index,
        events: Vec<Auto>,
    },
    /// A new `AudioBuffer` under a buffer source's handle.
    ChangeBuffer {
        node: Index,
        frames: u16,
    },
    Despawn(Index),
    Suspend,
    Resume,
}

#[derive(Clone, Debug)]
struct Step {
    op: Op,
    /// Frames rendered after the step.
    frames: u16,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Constant),
        Just(Kind::Oscillator),
        Just(Kind::Gain),
        Just(Kind::Delay),
        Just(Kind::Biquad),
        (1u16..1500, any::<bool>()).prop_map(|(frames, looping)| Kind::Buffer { frames, looping }),
        Just(Kind::Panner),
    ]
}

fn auto() -> impl Strategy<Value = Auto> {
    let u = 0.0f32..=1.0;
    prop_oneof![
        (u.clone(), 0u8..64).prop_map(|(u, dt)| Auto::Set { u, dt }),
        (u.clone(), 0u8..64).prop_map(|(u, dt)| Auto::Linear { u, dt }),
        (u.clone(), 0u8..64).prop_map(|(u, dt)| Auto::Exponential { u, dt }),
        (u.clone(), 0u8..64, 0u8..16).prop_map(|(u, dt, tc)| Auto::Target { u, dt, tc }),
        (prop::collection::vec(u, 2..6), 0u8..64, 1u8..32).prop_map(|(us, dt, len)| Auto::Curve {
            us,
            dt,
            len
        }),
        (0u8..64).prop_map(|dt| Auto::Cancel { dt }),
        (0u8..64).prop_map(|dt| Auto::Hold { dt }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => kind().prop_map(Op::Spawn),
        4 => (any::<Index>(), any::<Index>(), prop::option::weighted(0.3, any::<Index>()))
            .prop_map(|(from, to, param)| Op::Connect { from, to, param }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(from, to)| Op::Disconnect { from, to }),
        4 => (any::<Index>(), 0u8..32, prop::option::of(0u8..32))
            .prop_map(|(node, delay, stop)| Op::Start { node, delay, stop }),
        2 => (any::<Index>(), 0u8..32).prop_map(|(node, delay)| Op::Stop { node, delay }),
        2 => (any::<Index>(), any::<Index>(), prop::collection::vec(auto(), 1..12))
            .prop_map(|(node, param, events)| Op::Automate { node, param, events }),
        1 => (any::<Index>(), 1u16..1500)
            .prop_map(|(node, frames)| Op::ChangeBuffer { node, frames }),
        3 => any::<Index>().prop_map(Op::Despawn),
        1 => Just(Op::Suspend),
        1 => Just(Op::Resume),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (op(), 0u16..640).prop_map(|(op, frames)| Step { op, frames }),
        1..40,
    )
}

/// What the test knows of one node entity.
struct NodeRec {
    entity: Entity,
    kind: Kind,
    buffer: Option<Handle<AudioBuffer>>,
    started: Option<f64>,
    /// The earliest stop time asked for.
    stop: Option<f64>,
    ended: bool,
}

struct Model {
    app: App,
    dest: Entity,
    recs: Vec<NodeRec>,
    /// Indices into `recs` of live nodes, in spawn order.
    alive: Vec<usize>,
}

impl Model {
    fn pick(&self, index: &Index) -> Option<usize> {
        (!self.alive.is_empty()).then(|| self.alive[index.index(self.alive.len())])
    }

    fn now(&self) -> f64 {
        self.app.world().resource::<AudioContext>().current_time()
    }

    fn spawn(&mut self, kind: Kind) {
        let mut handle = None;
        let mut commands = self.app.world_mut().commands();
        let entity = match kind {
            Kind::Constant => commands.spawn(ConstantSourceNode::new(0.5)).id(),
            Kind::Oscillator => commands
                .spawn(OscillatorNode::new(OscillatorType::Sawtooth, 220.0))
                .id(),
            Kind::Gain => commands.spawn(GainNode::new(0.5)).id(),
            Kind::Delay => commands.spawn(DelayNode::new(0.1).unwrap()).id(),
            Kind::Biquad => commands
                .spawn(BiquadFilterNode::new(BiquadFilterType::Peaking))
                .id(),
            Kind::Panner => commands
                .spawn(PannerNode::new(PanningModel::EqualPower).with_position(1.0, 0.0, -1.0))
                .id(),
            Kind::Buffer { frames, looping } => {
                let h = self
                    .app
                    .world_mut()
                    .resource_mut::<Assets<AudioBuffer>>()
                    .add(buffer(frames));
                let mut node = AudioBufferSourceNode::new(h.clone());
                node.looping = looping;
                handle = Some(h);
                self.app.world_mut().commands().spawn(node).id()
            }
        };
        self.app.world_mut().flush();
        self.alive.push(self.recs.len());
        self.recs.push(NodeRec {
            entity,
            kind,
            buffer: handle,
            started: None,
            stop: None,
            ended: false,
        });
    }

    fn connect(&mut self, from: &Index, to: &Index, param: Option<&Index>) {
        let Some(from) = self.pick(from) else { return };
        let from = self.recs[from].entity;
        // Any live node or the destination.
        let k = to.index(self.alive.len() + 1);
        let (to, kind) = match self.alive.get(k) {
            Some(&r) => (self.recs[r].entity, Some(self.recs[r].kind)),
            None => (self.dest, None),
        };
        let mut commands = self.app.world_mut().commands();
        match (param, kind) {
            (Some(p), Some(kind)) => {
                let params = kind.params();
                let (id, ..) = params[p.index(params.len())];
                commands.entity(from).connect_param(to, id);
            }
            (None, Some(kind)) if !kind.has_input() => {}
            (Some(_), None) => {}
            (None, _) => {
                commands.entity(from).connect(to);
            }
        }
        self.app.world_mut().flush();
    }

    fn disconnect(&mut self, from: &Index, to: &Index) {
        let Some(from) = self.pick(from) else { return };
        let from = self.recs[from].entity;
        let k = to.index(self.alive.len() + 1);
        let to = self
            .alive
            .get(k)
            .map_or(self.dest, |&r| self.recs[r].entity);
        self.app.world_mut().commands().entity(from).disconnect(to);
        self.app.world_mut().flush();
    }

    /// `start` or `stop` through the component, as a game calls them.
    fn schedule(&mut self, node: &Index, delay: u8, start: bool) {
        let Some(r) = self.pick(node) else { return };
        let when = self.now() + f64::from(delay) / 8.0 * QUANTUM;
        let (entity, kind) = (self.recs[r].entity, self.recs[r].kind);
        let world = self.app.world_mut();
        fn call<
            T: AudioScheduledSourceNode + Component<Mutability = bevy::ecs::component::Mutable>,
        >(
            world: &mut World,
            entity: Entity,
            start: bool,
            when: f64,
        ) -> bool {
            let mut node = world.get_mut::<T>(entity).unwrap();
            if start {
                node.start(when).is_ok()
            } else {
                node.stop(when).is_ok()
            }
        }
        let ok = match kind {
            Kind::Constant => call::<ConstantSourceNode>(world, entity, start, when),
            Kind::Oscillator => call::<OscillatorNode>(world, entity, start, when),
            Kind::Buffer { .. } => call::<AudioBufferSourceNode>(world, entity, start, when),
            _ => false,
        };
        let rec = &mut self.recs[r];
        if ok && start {
            rec.started = Some(when);
        } else if ok {
            rec.stop = Some(rec.stop.map_or(when, |s| s.min(when)));
        }
    }

    fn automate(&mut self, node: &Index, param: &Index, events: &[Auto]) {
        let Some(r) = self.pick(node) else { return };
        let (entity, kind) = (self.recs[r].entity, self.recs[r].kind);
        let params = kind.params();
        let k = param.index(params.len());
        let (_, lo, hi) = params[k];
        let now = self.now();
        let value = |u: f32| lo + (hi - lo) * u;
        let at = |dt: u8| now + f64::from(dt) / 8.0 * QUANTUM;
        let world = self.app.world_mut();
        let apply = |p: &mut AudioParam| {
            // Errors (a curve overlapping an event, ...) are the control side's to raise; the
            // calls that pass go to the render side.
            for auto in events {
                let _ = match auto {
                    Auto::Set { u, dt } => p.set_value_at_time(value(*u), at(*dt)).map(|_| ()),
                    Auto::Linear { u, dt } => p
                        .linear_ramp_to_value_at_time(value(*u), at(*dt))
                        .map(|_| ()),
                    Auto::Exponential { u, dt } => {
                        let v = value(*u);
                        let v = if v.abs() < 1e-3 { 1e-3 } else { v };
                        p.exponential_ramp_to_value_at_time(v, at(*dt)).map(|_| ())
                    }
                    Auto::Target { u, dt, tc } => p
                        .set_target_at_time(value(*u), at(*dt), f64::from(*tc) * QUANTUM / 4.0)
                        .map(|_| ()),
                    Auto::Curve { us, dt, len } => {
                        let values: Vec<f32> = us.iter().map(|&u| value(u)).collect();
                        p.set_value_curve_at_time(&values, at(*dt), f64::from(*len) / 8.0 * QUANTUM)
                            .map(|_| ())
                    }
                    Auto::Cancel { dt } => p.cancel_scheduled_values(at(*dt)).map(|_| ()),
                    Auto::Hold { dt } => p.cancel_and_hold_at_time(at(*dt)).map(|_| ()),
                };
            }
        };
        match kind {
            Kind::Constant => {
                apply(&mut world.get_mut::<ConstantSourceNode>(entity).unwrap().offset)
            }
            Kind::Oscillator => {
                let mut n = world.get_mut::<OscillatorNode>(entity).unwrap();
                let n = &mut *n;
                apply([&mut n.frequency, &mut n.detune][k]);
            }
            Kind::Gain => apply(&mut world.get_mut::<GainNode>(entity).unwrap().gain),
            Kind::Delay => apply(&mut world.get_mut::<DelayNode>(entity).unwrap().delay_time),
            Kind::Biquad => {
                let mut n = world.get_mut::<BiquadFilterNode>(entity).unwrap();
                let n = &mut *n;
                apply([&mut n.frequency, &mut n.detune, &mut n.q, &mut n.gain][k]);
            }
            Kind::Buffer { .. } => {
                let mut n = world.get_mut::<AudioBufferSourceNode>(entity).unwrap();
                let n = &mut *n;
                apply([&mut n.playback_rate, &mut n.detune][k]);
            }
            Kind::Panner => {
                let mut n = world.get_mut::<PannerNode>(entity).unwrap();
                let n = &mut *n;
                apply([&mut n.position_x, &mut n.position_y, &mut n.position_z][k]);
            }
        }
    }

    fn change_buffer(&mut self, node: &Index, frames: u16) {
        let Some(r) = self.pick(node) else { return };
        let Some(handle) = self.recs[r].buffer.clone() else {
            return;
        };
        self.app
            .world_mut()
            .resource_mut::<Assets<AudioBuffer>>()
            .insert(handle.id(), buffer(frames))
            .unwrap();
    }

    fn despawn(&mut self, r: usize) {
        self.alive.retain(|&a| a != r);
        self.app.world_mut().despawn(self.recs[r].entity);
    }

    fn context(&mut self) -> Mut<'_, AudioContext> {
        self.app.world_mut().resource_mut::<AudioContext>()
    }

    /// Updates, renders `frames` frames, updates again (feedback arrives) and checks the
    /// output and every `Ended`.
    fn render(&mut self, frames: usize) -> Result<(), TestCaseError> {
        self.app.update();
        let out = self.app.render(frames).unwrap();
        for channel in &out {
            prop_assert!(channel.iter().all(|v| v.is_finite()), "non-finite output");
        }
        self.app.update();
        self.check_ended()
    }

    fn check_ended(&mut self) -> Result<(), TestCaseError> {
        let frame = self.app.world().resource::<AudioContext>().current_frame();
        let ended: Vec<Ended> = self
            .app
            .world_mut()
            .resource_mut::<Messages<Ended>>()
            .drain()
            .collect();
        for Ended { entity } in ended {
            let Some(rec) = self.recs.iter_mut().find(|r| r.entity == entity) else {
                return Err(TestCaseError::fail(format!(
                    "'ended' for {entity}, not a node of the test"
                )));
            };
            prop_assert!(rec.kind.is_source(), "'ended' for a {:?}", rec.kind);
            let Some(start) = rec.started else {
                return Err(TestCaseError::fail(format!(
                    "'ended' for {entity} ({:?}), never started",
                    rec.kind
                )));
            };
            let frame_at = |t: f64| (t * f64::from(SR)).ceil() as u64;
            let earliest = match (rec.stop, rec.kind) {
                (Some(stop), _) => frame_at(start).min(frame_at(stop)),
                (None, Kind::Buffer { .. }) => frame_at(start),
                (None, kind) => {
                    return Err(TestCaseError::fail(format!(
                        "'ended' for {entity} ({kind:?}), started and never stopped"
                    )));
                }
            };
            prop_assert!(
                earliest <= frame,
                "'ended' for {entity} at frame {frame}, before it could end ({earliest})"
            );
            prop_assert!(!rec.ended, "'ended' twice for {entity}");
            rec.ended = true;
        }
        Ok(())
    }

    fn check_counters(&self) -> Result<(), TestCaseError> {
        let counters = self.app.world().resource::<AudioContext>().counters();
        prop_assert_eq!(counters.leaked, 0, "leaked");
        prop_assert_eq!(counters.faulted_nodes, 0, "faulted nodes");
        prop_assert_eq!(counters.message_mismatches, 0, "message mismatches");
        prop_assert_eq!(counters.non_finite_quanta, 0, "non-finite quanta");
        Ok(())
    }

    /// The render side's and the control side's node counts against the live entities (and
    /// the destination).
    fn check_counts(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..3 {
            self.render(128)?;
        }
        let expected = self.alive.len() + 1;
        let ctx = self.app.world().resource::<AudioContext>();
        prop_assert_eq!(ctx.node_count(), expected, "control side's node count");
        prop_assert_eq!(
            ctx.render_node_count(),
            expected as u64,
            "render side's node count"
        );
        Ok(())
    }
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let app = offline_app(2);
    let dest = destination(&app);
    let mut model = Model {
        app,
        dest,
        recs: Vec::new(),
        alive: Vec::new(),
    };
    for step in steps {
        match &step.op {
            Op::Spawn(kind) => model.spawn(*kind),
            Op::Connect { from, to, param } => model.connect(from, to, param.as_ref()),
            Op::Disconnect { from, to } => model.disconnect(from, to),
            Op::Start { node, delay, stop } => {
                model.schedule(node, *delay, true);
                if let Some(stop) = stop {
                    model.schedule(node, delay.saturating_add(*stop), false);
                }
            }
            Op::Stop { node, delay } => model.schedule(node, *delay, false),
            Op::Automate {
                node,
                param,
                events,
            } => model.automate(node, param, events),
            Op::ChangeBuffer { node, frames } => model.change_buffer(node, *frames),
            Op::Despawn(node) => {
                if let Some(r) = model.pick(node) {
                    model.despawn(r);
                }
            }
            Op::Suspend => {
                let _ = model.context().suspend();
            }
            Op::Resume => {
                let _ = model.context().resume();
            }
        }
        model.render(usize::from(step.frames))?;
    }
    let _ = model.context().resume();
    model.check_counts()?;
    model.check_counters()?;
    while let Some(&r) = model.alive.first() {
        model.despawn(r);
    }
    model.check_counts()?;
    model.check_counters()?;
    Ok(())
}

/// `CASES`, or `PROPTEST_CASES` for a longer run by hand.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // A failing case is printed, shrunk; nothing is written next to the test.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_graph_operations_through_the_ecs_keep_nodes_and_ended_straight(
        steps in steps()
    ) {
        run(&steps)?;
    }
}
