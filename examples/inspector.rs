//! The audio graph inspector, open on a small graph:
//!
//! ```text
//! saw osc → lowpass biquad → delay ⇄ feedback gain
//!              ↑ frequency      └→ compressor → destination
//! LFO → depth ─┘                       └→ analyser
//! ```
//!
//! The biquad's cutoff is automated (an LFO into its `frequency` param) and the source's level
//! is re-scheduled every second, so meters and plots move. Every node is `Metered`. F2 closes
//! and reopens the inspector.
//!
//! Run: `cargo run --example inspector --features inspector`

use bevy::prelude::*;
use bevy_webaudio::inspector::{InspectorState, WebAudioInspectorPlugin};
use bevy_webaudio::prelude::*;

#[path = "support/mod.rs"]
mod support;

#[derive(Resource)]
struct Pulse(Entity);

fn main() {
    App::new()
        .add_plugins((
            DefaultPlugins.set(WindowPlugin {
                primary_window: Some(Window {
                    title: "bevy_webaudio inspector".into(),
                    resolution: (1600, 1000).into(),
                    ..default()
                }),
                ..default()
            }),
            support::audio_plugin(),
            support::ExampleSupportPlugin,
            WebAudioInspectorPlugin {
                open: true,
                ..default()
            },
        ))
        .add_systems(Startup, setup)
        .add_systems(Update, pulse)
        .run();
}

fn setup(
    mut commands: Commands,
    context: Res<AudioContext>,
    mut inspector: ResMut<InspectorState>,
) {
    commands.spawn(Camera2d);
    let metered = |name: &str| (Name::new(name.to_owned()), Metered::default());
    let compressor = commands
        .spawn((DynamicsCompressorNode::default(), metered("compressor")))
        .connect(context.destination())
        .id();
    let analyser = commands
        .spawn((AnalyserNode::default(), metered("analyser")))
        .id();
    commands.entity(compressor).connect(analyser);
    let delay = commands
        .spawn((
            DelayNode::with_delay(1.0, 0.3).expect("valid delay"),
            metered("delay"),
        ))
        .connect(compressor)
        .id();
    let feedback = commands
        .spawn((GainNode::new(0.45), metered("feedback")))
        .connect(delay)
        .id();
    commands.entity(delay).connect(feedback);
    let mut filter = BiquadFilterNode::new(BiquadFilterType::Lowpass);
    filter.frequency.set_value(900.0).expect("finite");
    filter.q.set_value(8.0).expect("finite");
    let filter = commands
        .spawn((filter, metered("lowpass")))
        .connect(delay)
        .id();
    commands.entity(filter).connect(compressor);
    let level = commands
        .spawn((GainNode::new(0.0), metered("level")))
        .connect(filter)
        .id();
    let mut saw = OscillatorNode::new(OscillatorType::Sawtooth, 110.0);
    saw.start(0.0).expect("valid start");
    commands.spawn((saw, metered("saw"))).connect(level);
    let mut lfo = OscillatorNode::new(OscillatorType::Sine, 0.5);
    lfo.start(0.0).expect("valid start");
    let depth = commands
        .spawn((GainNode::new(700.0), metered("lfo depth")))
        .connect_param(filter, ParamId::Frequency)
        .id();
    commands.spawn((lfo, metered("lfo"))).connect(depth);
    commands.insert_resource(Pulse(level));
    inspector.select(Some(filter));
}

/// Re-schedules a decaying note on the level gain every second.
fn pulse(
    context: Res<AudioContext>,
    pulse: Res<Pulse>,
    mut gains: Query<&mut GainNode>,
    mut next: Local<f64>,
) -> Result {
    let now = context.current_time();
    if now < *next {
        return Ok(());
    }
    *next = now.floor() + 1.0;
    let mut gain = gains.get_mut(pulse.0)?;
    gain.gain
        .cancel_scheduled_values(now)?
        .set_value_at_time(0.6, now + 0.02)?
        .set_target_at_time(0.05, now + 0.05, 0.25)?;
    Ok(())
}
