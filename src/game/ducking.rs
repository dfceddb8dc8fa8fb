//! Ducking and bus volumes in motion: each frame, turns [`BusVolumes`] changes and the
//! [`DuckRule`]s that hold (another bus playing, the microphone hearing a voice, a manual flag)
//! into glides on the buses' gains. Above both the buses and the voices (it counts playing
//! voices per bus), so neither imports the other's systems.

use std::collections::HashMap;

use bevy::prelude::*;

use super::bus::{Bus, BusVolumes, DuckFlags, DuckRule, DuckTrigger, MixBus, MixBuses};
use super::play_sound::{Voice, VoiceState};
use super::volume::{Fade, fade_param};
use crate::context::AudioContext;
use crate::microphone::Microphone;
use crate::node::gain::GainNode;

/// Whether each ducking rule holds its bus down this frame.
fn rule_active(
    rule: &DuckRule,
    playing: &HashMap<MixBus, usize>,
    microphone: Option<&Microphone>,
    flags: &DuckFlags,
) -> bool {
    match rule.trigger {
        DuckTrigger::Bus(bus) => playing.get(&bus).copied().unwrap_or(0) > 0,
        DuckTrigger::Microphone => microphone.is_some_and(Microphone::voice_active),
        DuckTrigger::Manual(flag) => flags.is_raised(flag),
    }
}

/// Per bus: the gain it is heading to and its ducking factor.
#[derive(Default)]
pub(crate) struct BusTargets(HashMap<MixBus, (f32, f32)>);

/// Turns volume changes and ducking into ramps on the buses' gains: a ducking change along
/// its rule's linear attack or release, a volume change alone along its [`Fade`]
/// ([`BusVolumes::fade_to`]). `PostUpdate`, before the sync.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive_bus_gains(
    buses: Res<MixBuses>,
    volumes: Res<BusVolumes>,
    flags: Res<DuckFlags>,
    microphone: Option<Res<Microphone>>,
    context: Res<AudioContext>,
    voices: Query<&Voice>,
    mut gains: Query<&mut GainNode, With<Bus>>,
    mut targets: Local<BusTargets>,
) {
    let mut playing: HashMap<MixBus, usize> = HashMap::new();
    for voice in &voices {
        if voice.state == VoiceState::Playing {
            *playing.entry(voice.bus).or_default() += 1;
        }
    }
    let now = context.current_time();
    for config in buses.configs() {
        let rules = buses.ducking.iter().filter(|r| r.target == config.bus);
        let active: Vec<&DuckRule> = rules
            .filter(|r| rule_active(r, &playing, microphone.as_deref(), &flags))
            .collect();
        let duck = active.iter().map(|r| r.level).fold(1.0_f32, f32::min);
        let volume = volumes.get(config.bus);
        let (old_volume, old_duck) = targets
            .0
            .insert(config.bus, (volume, duck))
            .unwrap_or((volume, 1.0));
        if (old_volume, old_duck) == (volume, duck) {
            continue;
        }
        let fade = if duck < old_duck {
            Fade::linear(active.iter().map(|r| r.attack).fold(0.0, f64::max))
        } else if duck > old_duck {
            let rules = buses.ducking.iter().filter(|r| r.target == config.bus);
            Fade::linear(rules.map(|r| r.release).fold(0.0, f64::max))
        } else {
            volumes.fade(config.bus)
        };
        if let Some(mut gain) = buses.entity(config.bus).and_then(|e| gains.get_mut(e).ok()) {
            let (from, to) = (old_volume * old_duck, volume * duck);
            fade_param(&mut gain.gain, from, to, now, fade);
        }
    }
}
