//! A param whose value holds for good is not computed again each quantum (the renderer serves
//! the held value); a later automation event or rate change must bring it back. Checked
//! sample by sample against a timeline computed every quantum, through the engine's public
//! API and the real command ring (no Bevy).

use webaudio_engine::command::{self, Command, ControlChannel};
use webaudio_engine::node::constant_source::ConstantSourceParam;
use webaudio_engine::param::{AutomationRate, NodeParams};
use webaudio_engine::render::Renderer;
use webaudio_engine::render::bus::RENDER_QUANTUM;
use webaudio_engine::render::timeline::{AutomationEvent, Timeline};

mod common;

use common::SR;

const INITIAL: f32 = 0.5;

/// A constant source (offset `INITIAL`) into a mono destination, started at 0.
fn setup() -> (ControlChannel, Renderer, command::RenderId) {
    common::constant_source_into_destination(INITIAL, 8)
}

#[test]
fn a_held_param_follows_events_and_rate_changes_sent_later() {
    let (mut control, mut renderer, source) = setup();
    let offset = ConstantSourceParam::Offset.slot();
    let sr = f64::from(SR);
    let mut reference = Timeline::new(INITIAL, 8);
    let mut garbage = |_: Box<[f32]>| {};
    let mut rate = AutomationRate::ARate;
    // (quantum at which it is sent, event); the rate turns k-rate before quantum 12.
    let events = [
        (
            6,
            AutomationEvent::SetValue {
                value: 0.25,
                time: (6 * RENDER_QUANTUM + 10) as f64 / sr,
            },
        ),
        (
            9,
            AutomationEvent::LinearRamp {
                value: 1.0,
                end_time: (10 * RENDER_QUANTUM + 64) as f64 / sr,
            },
        ),
        (
            14,
            AutomationEvent::SetTarget {
                target: -0.5,
                start_time: (14 * RENDER_QUANTUM + 3) as f64 / sr,
                time_constant: 0.002,
            },
        ),
    ];
    let mut changed = 0;
    for quantum in 0..24 {
        let frame = (quantum * RENDER_QUANTUM) as u64;
        for (_, event) in events.iter().filter(|(q, _)| *q == quantum) {
            control.send(Command::ParamEvent {
                node: source,
                param: offset,
                event: event.clone(),
            });
            assert!(reference.insert(event.clone(), frame as f64 / sr, &mut garbage));
        }
        if quantum == 12 {
            rate = AutomationRate::KRate;
            control.send(Command::SetAutomationRate {
                node: source,
                param: offset,
                rate,
            });
        }
        let mut want = [0.0f32; RENDER_QUANTUM];
        match rate {
            AutomationRate::ARate => reference.compute(frame, sr, &mut want, &mut garbage),
            AutomationRate::KRate => {
                let mut one = [0.0f32];
                let constant = reference.compute(frame, sr, &mut one, &mut garbage);
                want.fill(one[0]);
                constant
            }
        };
        assert_eq!(control.flush(), 0, "every command fits in the ring");
        let got = renderer.render_quantum().channel(0);
        assert_eq!(got, &want, "quantum {quantum}");
        changed += usize::from(want.iter().any(|&v| v != INITIAL));
    }
    // The events did change the output (from quantum 6 on).
    assert_eq!(changed, 18);
}
