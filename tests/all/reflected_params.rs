//! Components rebuilt through reflection (as a scene load does) carry no param descriptors
//! (they are not serialized); the sync gives them back from the node's declarations, so a
//! rebuilt node renders exactly as the original.

use bevy::prelude::*;
use bevy::reflect::FromReflect;
use bevy_webaudio::prelude::*;

use crate::support::*;

/// A constant 1 through `filter` into the destination, 2048 frames.
fn render_through(filter: BiquadFilterNode, delay: DelayNode) -> Vec<f32> {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = OscillatorNode::new(OscillatorType::Sawtooth, 220.0);
    source.start(0.0).unwrap();
    {
        let mut commands = app.world_mut().commands();
        let delay = commands.spawn(delay).connect(dest).id();
        let filter = commands.spawn(filter).connect(delay).id();
        commands.spawn(source).connect(filter);
    }
    app.update();
    app.render(2048).unwrap().remove(0)
}

#[test]
fn a_node_rebuilt_by_reflection_gets_its_declared_descriptors_back() {
    let mut filter = BiquadFilterNode::new(BiquadFilterType::Lowpass);
    filter.frequency.set_value(1_000.0).unwrap();
    // Above the nominal range (0..=Nyquist): clamped to 24 kHz by the declared descriptor.
    filter
        .frequency
        .linear_ramp_to_value_at_time(90_000.0, 0.02)
        .unwrap();
    let mut delay = DelayNode::new(0.01).unwrap(); // maxDelayTime 10 ms bounds delayTime
    delay.delay_time.set_value(0.5).unwrap();
    let original = render_through(filter.clone(), delay.clone());

    let rebuilt_filter = BiquadFilterNode::from_reflect(filter.as_partial_reflect()).unwrap();
    let rebuilt_delay = DelayNode::from_reflect(delay.as_partial_reflect()).unwrap();
    // What reflection alone gives: the generic descriptor, not the declared one.
    assert_ne!(
        rebuilt_filter.frequency.descriptor(),
        filter.frequency.descriptor()
    );
    assert_ne!(
        rebuilt_delay.delay_time.descriptor(),
        delay.delay_time.descriptor()
    );
    // Pending automation is not reflected either: send the same events again.
    let mut rebuilt_filter = rebuilt_filter;
    rebuilt_filter
        .frequency
        .linear_ramp_to_value_at_time(90_000.0, 0.02)
        .unwrap();
    let rebuilt = render_through(rebuilt_filter, rebuilt_delay);
    assert!(original.iter().any(|&v| v.abs() > 0.05), "audible");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&original), bits(&rebuilt), "identical render");
}
