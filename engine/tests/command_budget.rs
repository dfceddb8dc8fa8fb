//! The render side applies at most `COMMAND_BUDGET` commands before a quantum (a burst is
//! spread over the next quanta, in order, and sample accuracy comes back once it is through),
//! and an automation event a full timeline cannot take is counted and reported, not lost
//! silently. Driven through the engine's public API and the real command ring (no Bevy).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use webaudio_engine::command::{self, Command, ControlChannel, Feedback, RenderShared};
use webaudio_engine::node::constant_source::ConstantSourceParam;
use webaudio_engine::param::{NodeParams, ParamSlot};
use webaudio_engine::render::fault::NodeFault;
use webaudio_engine::render::timeline::{AutomationEvent, Timeline};
use webaudio_engine::render::{COMMAND_BUDGET, Renderer};

mod common;

use common::SR;

/// A destination and a constant source (offset 0, timeline room for `capacity` events)
/// playing into it. Every command goes through the ring; nothing is applied yet.
fn setup(capacity: usize) -> (ControlChannel, Renderer, command::RenderId) {
    common::constant_source_into_destination(0.0, capacity)
}

fn offset() -> ParamSlot {
    ConstantSourceParam::Offset.slot()
}

fn applied(shared: &Arc<RenderShared>) -> u64 {
    shared.commands_applied.load(Ordering::Relaxed)
}

#[test]
fn a_burst_of_commands_is_applied_a_budget_per_quantum_in_order() {
    // Suspended: nothing renders while 3,000 `setValueAtTime(k, 0)` pile up behind the four
    // setup commands. Equal times: the last one applied wins, so each quantum's output names
    // the last command applied before it.
    let (mut control, mut renderer, source) = setup(4096);
    const EVENTS: usize = 3000;
    for k in 0..EVENTS {
        control.send(Command::ParamEvent {
            node: source,
            param: offset(),
            event: AutomationEvent::SetValue {
                value: k as f32,
                time: 0.0,
            },
        });
    }
    assert_eq!(control.flush(), 0, "all of it fits in the ring");
    let shared = renderer.shared().clone();
    let total = EVENTS + 4;
    let mut outputs = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..4 {
        let out = renderer.render_quantum().channel(0).to_vec();
        assert!(
            out.iter().all(|&v| v == out[0]),
            "constant within a quantum"
        );
        outputs.push(out[0]);
        counts.push(applied(&shared));
    }
    let budget = COMMAND_BUDGET as u64;
    assert_eq!(
        counts,
        vec![budget, 2 * budget, total as u64, total as u64],
        "at most the budget per quantum, the rest the next quanta"
    );
    // After 1,024 commands: the setup and values 0..=1019; then 1020..=2043; then the rest.
    let last = |n: usize| (n - 4 - 1) as f32;
    assert_eq!(
        outputs,
        vec![last(1024), last(2048), last(total), last(total)]
    );
    assert_eq!(shared.deferred_quanta.load(Ordering::Relaxed), 2);
    assert_eq!(
        shared.peak_commands_per_quantum.load(Ordering::Relaxed),
        budget
    );

    // Through the burst, sample accuracy is back: a value sent ahead for frame 64 of the
    // next quantum lands on exactly that frame.
    let frame = renderer.frame() + 64;
    control.send(Command::ParamEvent {
        node: source,
        param: offset(),
        event: AutomationEvent::SetValue {
            value: -1.0,
            time: frame as f64 / f64::from(SR),
        },
    });
    control.flush();
    let out = renderer.render_quantum().channel(0).to_vec();
    assert!(out[..64].iter().all(|&v| v == last(total)), "{}", out[63]);
    assert!(out[64..].iter().all(|&v| v == -1.0), "{}", out[64]);
}

#[test]
fn automation_a_full_timeline_cannot_take_is_counted_and_reported_once() {
    // Room for two events; five distinct future `setValueAtTime`s and then a linear ramp
    // arrive with no larger timeline sent first (the Bevy layer always sends one).
    let (mut control, mut renderer, source) = setup(2);
    let event = |k: u32| Command::ParamEvent {
        node: source,
        param: offset(),
        event: AutomationEvent::SetValue {
            value: k as f32,
            time: 1.0 + f64::from(k),
        },
    };
    for k in 0..5 {
        control.send(event(k));
    }
    control.send(Command::ParamEvent {
        node: source,
        param: offset(),
        event: AutomationEvent::LinearRamp {
            value: 9.0,
            end_time: 20.0,
        },
    });
    control.flush();
    let shared = renderer.shared().clone();
    renderer.render_quantum();
    assert_eq!(shared.automation_dropped.load(Ordering::Relaxed), 4);
    // A larger timeline that is still too small for what is there drops (and counts) too.
    control.send(Command::ReplaceTimeline {
        node: source,
        param: offset(),
        timeline: Box::new(Timeline::new(0.0, 1)),
    });
    control.flush();
    renderer.render_quantum();
    assert_eq!(shared.automation_dropped.load(Ordering::Relaxed), 5);
    let mut faults = Vec::new();
    while let Some(feedback) = control.receive() {
        if let Feedback::Fault(id, fault) = feedback {
            faults.push((id, format!("{fault:?}")));
        }
    }
    assert_eq!(faults, vec![(source, "AutomationDropped".to_owned())]);
    assert!(matches!(
        NodeFault::AutomationDropped.message().as_str(),
        m if m.contains("timeline was full")
    ));
    // What was kept still plays: the first event (value 0 from 1 s on).
    assert_eq!(renderer.render_quantum().channel(0)[0], 0.0);
}
