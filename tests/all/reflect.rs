//! Every component and resource a game touches is reflected and registered by the plugin that
//! owns it: the node components (each one the plugin adds as an audio node, found through the
//! node registry, plus the list below, so a node type added without registration fails), the
//! connection, spatial and meter components, the context, the microphone and their data.
//! Reflection is what scenes and inspectors go through, so each component is also rebuilt from
//! its reflection (`FromReflect`), as a scene load does.

use std::any::TypeId;

use bevy::ecs::reflect::{ReflectComponent, ReflectResource};
use bevy::prelude::*;
use bevy::reflect::{FromReflect, GetTypeRegistration, ReflectFromReflect, TypeRegistry};
use bevy_webaudio::ecs::access::AudioNodeRegistry;
use bevy_webaudio::ecs::connection::{AudioConnection, ConnectionFrom, ConnectionTo};
use bevy_webaudio::ecs::spatial::SpatialSettings;
use bevy_webaudio::microphone::InputDeviceInfo;
use bevy_webaudio::prelude::*;
use bevy_webaudio::{AudioContext, AudioWarnings};

/// The offline context with the simulated microphone (no device), after one update.
fn app() -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(48_000, 2),
        MicrophonePlugin::simulated(48_000, 1),
    ));
    app.update();
    app
}

/// What is missing from `T`'s registration: the registration itself, `ReflectComponent`,
/// `ReflectFromReflect` (a scene load builds the component through it).
fn missing_component_data(registry: &TypeRegistry, kind: TypeId, name: &str) -> Vec<String> {
    let Some(registration) = registry.get(kind) else {
        return vec![format!("{name}: not registered")];
    };
    let mut missing = Vec::new();
    if registration.data::<ReflectComponent>().is_none() {
        missing.push(format!("{name}: no ReflectComponent"));
    }
    if registration.data::<ReflectFromReflect>().is_none() {
        missing.push(format!("{name}: no ReflectFromReflect"));
    }
    missing
}

fn component<T: Component + GetTypeRegistration>(registry: &TypeRegistry) -> Vec<String> {
    missing_component_data(registry, TypeId::of::<T>(), std::any::type_name::<T>())
}

fn resource<T: Resource + GetTypeRegistration>(registry: &TypeRegistry) -> Vec<String> {
    let name = std::any::type_name::<T>();
    match registry.get(TypeId::of::<T>()) {
        None => vec![format!("{name}: not registered")],
        Some(r) if r.data::<ReflectResource>().is_none() => {
            vec![format!("{name}: no ReflectResource")]
        }
        Some(r) if r.data::<ReflectFromReflect>().is_none() => {
            vec![format!("{name}: no ReflectFromReflect")]
        }
        Some(_) => Vec::new(),
    }
}

#[test]
fn every_component_and_resource_is_reflected_and_registered() {
    let app = app();
    let world = app.world();
    let registry = world.resource::<AppTypeRegistry>().read();
    let mut missing = Vec::new();

    // Every node type the plugin adds, as its registry lists them.
    let nodes = world.resource::<AudioNodeRegistry>();
    let mut node_kinds = 0;
    for (kind, access) in nodes.iter() {
        node_kinds += 1;
        missing.extend(missing_component_data(&registry, kind, access.name));
        if let Some(registration) = registry.get(kind) {
            assert!(
                registration
                    .type_info()
                    .type_path()
                    .starts_with("bevy_webaudio::node::"),
                "{}",
                registration.type_info().type_path()
            );
        }
    }

    // The node module's components by name, so this list and the plugin's stay in step.
    let listed = [
        component::<AudioDestinationNode>(&registry),
        component::<GainNode>(&registry),
        component::<OscillatorNode>(&registry),
        component::<ConstantSourceNode>(&registry),
        component::<DelayNode>(&registry),
        component::<StereoPannerNode>(&registry),
        component::<AudioBufferSourceNode>(&registry),
        component::<ChannelSplitterNode>(&registry),
        component::<ChannelMergerNode>(&registry),
        component::<BiquadFilterNode>(&registry),
        component::<IIRFilterNode>(&registry),
        component::<MediaStreamAudioSourceNode>(&registry),
        component::<MediaElementAudioSourceNode>(&registry),
        component::<ConvolverNode>(&registry),
        component::<AnalyserNode>(&registry),
        component::<AudioWorkletNode>(&registry),
        component::<WaveShaperNode>(&registry),
        component::<DynamicsCompressorNode>(&registry),
        component::<PannerNode>(&registry),
        component::<AudioListener>(&registry),
    ];
    assert_eq!(
        node_kinds,
        listed.len(),
        "the plugin registers {node_kinds} node types, this test lists {}: add the new one here",
        listed.len()
    );
    missing.extend(listed.into_iter().flatten());

    // The other components: channel settings, connections, spatial, Doppler, meters, probes.
    missing.extend(component::<ChannelConfig>(&registry));
    missing.extend(component::<ConnectionFrom>(&registry));
    missing.extend(component::<ConnectionTo>(&registry));
    missing.extend(component::<AudioConnection>(&registry));
    missing.extend(component::<AudioOutputs>(&registry));
    missing.extend(component::<AudioInputs>(&registry));
    missing.extend(component::<SpatialAudio>(&registry));
    missing.extend(component::<Doppler>(&registry));
    missing.extend(component::<Metered>(&registry));
    missing.extend(component::<LatencyProbe>(&registry));

    // Resources.
    missing.extend(resource::<AudioContext>(&registry));
    missing.extend(resource::<AudioNodeRegistry>(&registry));
    missing.extend(resource::<AudioWarnings>(&registry));
    missing.extend(resource::<SpatialSettings>(&registry));
    missing.extend(resource::<Microphone>(&registry));

    assert!(missing.is_empty(), "{missing:#?}");
}

/// Resources read back through their reflection: the context's clock and the microphone's
/// device readings are there. Applying another context's reflection to the running one (a
/// scene that carries the resource) changes its readings but not what the running context is
/// fixed to: its destination, rate and channel count.
#[test]
fn the_context_and_microphone_reflect_their_readings_not_their_identity() {
    let mut app = app();
    app.render(4800).unwrap();
    app.update();
    let world = app.world();
    let context = world.resource::<AudioContext>();
    let field = |name: &str| {
        context
            .reflect_ref()
            .as_struct()
            .unwrap()
            .field(name)
            .and_then(|f| f.try_downcast_ref::<u64>())
            .copied()
    };
    assert_eq!(field("frames"), Some(4864), "38 quanta of 128 frames");

    let mic = world.resource::<Microphone>();
    let info = mic
        .reflect_ref()
        .as_struct()
        .unwrap()
        .field("info")
        .and_then(|f| f.try_downcast_ref::<Option<InputDeviceInfo>>())
        .cloned()
        .flatten()
        .expect("the simulated input's device info");
    assert_eq!(
        (info.name.as_str(), info.sample_rate, info.channels),
        ("simulated", 48_000, 1)
    );
    let status = mic
        .reflect_ref()
        .as_struct()
        .unwrap()
        .field("status")
        .and_then(|f| f.try_downcast_ref::<MicrophoneStatus>())
        .cloned();
    assert_eq!(status, Some(MicrophoneStatus::Running));

    // Another context (another rate, one channel, nothing rendered) applied over this one.
    let other = {
        let mut other = App::new();
        other.add_plugins((MinimalPlugins, WebAudioPlugin::offline(44_100, 1)));
        other.update();
        other.world().resource::<AudioContext>().clone()
    };
    let (destination, rate, channels) = (
        context.destination(),
        context.sample_rate(),
        context.channels(),
    );
    let mut context = app.world_mut().resource_mut::<AudioContext>();
    context.apply(other.as_partial_reflect());
    assert_eq!(context.current_frame(), 0, "the readings are applied");
    assert_eq!(context.destination(), destination);
    assert_eq!(
        (context.sample_rate(), context.channels()),
        (rate, channels)
    );
    assert_eq!((rate, channels), (48_000.0, 2));

    // Built from reflection where there is none: no destination, the reflected clock.
    let rebuilt = AudioContext::from_reflect(other.as_partial_reflect()).unwrap();
    assert_eq!(rebuilt.destination(), Entity::PLACEHOLDER);
    // The microphone likewise: an unopened one with the reflected readings.
    let mic = app.world().resource::<Microphone>();
    let rebuilt = Microphone::from_reflect(mic.as_partial_reflect()).unwrap();
    assert_eq!(rebuilt.status(), &MicrophoneStatus::Running);
}
