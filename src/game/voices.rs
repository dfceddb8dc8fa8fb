//! Voice management: which [`PlaySound`] requests get nodes.
//!
//! - **Limits.** A bus with a [`VoiceLimit`](super::bus::VoiceLimit) never has more than `max` voices playing. A new
//!   request on a full bus either steals a playing voice, chosen by the [`StealPolicy`], or is
//!   dropped when every playing voice outranks it. A stolen voice that already renders fades to
//!   silence over the limit's `fade` (linear, then `stop()`: no click) and stops counting at
//!   once; one admitted earlier in the same frame, which has not produced a sample yet, is
//!   simply dropped. Requests are taken in spawn order, so a burst of any size holds the cap.
//! - **Virtualisation.** A spatial voice farther from the listener than its
//!   [`PlaySound::virtual_distance`] has no nodes: its source, gain and panner are despawned
//!   and only its clock ([`Voice::started_at`]) remains. When it comes back in range its nodes
//!   are rebuilt and its source starts from the buffer position it would have reached,
//!   `(now − started_at) × computedPlaybackRate`, wrapped into the buffer for a loop; a
//!   non-looping voice whose time ran out while virtual ends (its [`Ended`] is sent and it is
//!   despawned as usual). A voice coming back to a full bus stays virtual until there is room.

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;

use super::bus::{MixBus, MixBuses, StealPolicy};
use super::control::stop_voice;
use super::play_sound::{
    PlaySound, Voice, VoiceStart, VoiceState, build_voice, bus_output, reject,
};
use super::volume::Fade;
use super::warnings::{DropReason, SoundDropped};
use crate::asset::AudioBuffer;
use crate::context::AudioContext;
use crate::ecs::spatial::SpatialSettings;
use crate::ecs::{AudioGraphError, Ended};
use crate::node::audio_buffer_source::AudioBufferSourceNode;
use crate::node::audio_listener::AudioListener;
use crate::node::panner::distance_gain;

/// The ranking a policy compares.
#[derive(Clone, Copy, Debug)]
struct Rank {
    entity: Entity,
    sequence: u64,
    audibility: f32,
    distance: f32,
    priority: i32,
    /// Admitted this frame (no sample rendered yet).
    fresh: bool,
}

/// The index of the voice `policy` gives up for `new`, if it gives one up.
fn victim(policy: StealPolicy, playing: &[Rank], new: &Rank) -> Option<usize> {
    let pick = |better: &dyn Fn(&Rank, &Rank) -> bool| {
        let mut best: Option<usize> = None;
        for (i, r) in playing.iter().enumerate() {
            if best.is_none_or(|b| better(r, &playing[b])) {
                best = Some(i);
            }
        }
        best
    };
    let older = |a: &Rank, b: &Rank| a.sequence < b.sequence;
    match policy {
        StealPolicy::None => None,
        StealPolicy::Oldest => pick(&older),
        StealPolicy::Quietest => pick(&|a, b| a.audibility < b.audibility)
            .filter(|&i| playing[i].audibility <= new.audibility),
        StealPolicy::Farthest => {
            pick(&|a, b| a.distance > b.distance).filter(|&i| playing[i].distance >= new.distance)
        }
        StealPolicy::LowestPriority => {
            pick(&|a, b| a.priority < b.priority || (a.priority == b.priority && older(a, b)))
                .filter(|&i| playing[i].priority <= new.priority)
        }
    }
}

/// The listener as distances are measured: its audio-space position (the origin without an
/// [`AudioListener`] entity, as the spec's default listener) and the world → audio mapping.
struct Ears {
    position: Vec3,
    settings: SpatialSettings,
}

impl Ears {
    fn new(
        listeners: &Query<&GlobalTransform, With<AudioListener>>,
        settings: Option<&SpatialSettings>,
    ) -> Self {
        let settings = settings.copied().unwrap_or_default();
        let world = listeners
            .iter()
            .next()
            .map_or(Vec3::ZERO, GlobalTransform::translation);
        Self {
            position: settings.position(world),
            settings,
        }
    }

    /// The distance from `position` (world space; the origin when absent), in metres.
    fn distance(&self, position: Option<&GlobalTransform>) -> f32 {
        let world = position.map_or(Vec3::ZERO, GlobalTransform::translation);
        self.settings.position(world).distance(self.position)
    }
}

/// A request's distance to the listener (0 when not spatial) and `volume × distance gain`.
fn loudness(sound: &PlaySound, position: Option<&GlobalTransform>, ears: &Ears) -> (f32, f32) {
    let Some(panner) = &sound.spatial else {
        return (0.0, sound.volume);
    };
    let distance = ears.distance(position);
    let gain = distance_gain(f64::from(distance), &panner.attributes()) as f32;
    (distance, sound.volume * gain)
}

fn is_out_of_range(sound: &PlaySound, distance: f32) -> bool {
    sound.virtual_distance().is_some_and(|d| distance > d)
}

/// Counters for admission order.
#[derive(Default)]
pub(crate) struct Admissions {
    next: u64,
}

/// Admits new requests: validates them, applies the bus's voice limit, builds the nodes of the
/// admitted ones (or makes them virtual when out of range). `PostUpdate`, after transform
/// propagation (positions are this frame's), before the sync.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn admit_sounds(
    requests: Query<(Entity, &PlaySound, Option<&GlobalTransform>), Without<Voice>>,
    voices: Query<(Entity, &Voice, &PlaySound, Option<&GlobalTransform>)>,
    listeners: Query<&GlobalTransform, With<AudioListener>>,
    settings: Option<Res<SpatialSettings>>,
    buses: Option<Res<MixBuses>>,
    context: Res<AudioContext>,
    mut admissions: Local<Admissions>,
    mut errors: MessageWriter<AudioGraphError>,
    mut dropped: MessageWriter<SoundDropped>,
    mut commands: Commands,
) {
    if requests.is_empty() {
        return;
    }
    let ears = Ears::new(&listeners, settings.as_deref());
    let rank = |entity, sequence, sound: &PlaySound, position: Option<&GlobalTransform>| {
        let (distance, audibility) = loudness(sound, position, &ears);
        Rank {
            entity,
            sequence,
            audibility,
            distance,
            priority: sound.priority,
            fresh: false,
        }
    };
    let mut per_bus: HashMap<MixBus, Vec<Rank>> = HashMap::new();
    for (entity, voice, sound, position) in &voices {
        if voice.is_playing() {
            let r = rank(entity, voice.sequence, sound, position);
            per_bus.entry(voice.bus).or_default().push(r);
        }
    }
    let now = context.current_time();
    let mut admitted: Vec<(Entity, u64, bool)> = Vec::new();
    for (entity, sound, position) in &requests {
        if let Err(error) = sound.validate() {
            reject(&mut commands, &mut errors, entity, error);
            continue;
        }
        let sequence = admissions.next;
        admissions.next += 1;
        let new = Rank {
            fresh: true,
            ..rank(entity, sequence, sound, position)
        };
        if is_out_of_range(sound, new.distance) {
            admitted.push((entity, sequence, false));
            continue;
        }
        let limit = buses
            .as_deref()
            .and_then(|b| b.config(sound.bus))
            .and_then(|c| c.limit);
        let playing = per_bus.entry(sound.bus).or_default();
        if let Some(limit) = limit
            && playing.len() >= limit.max
        {
            let Some(i) = victim(limit.policy, playing, &new) else {
                drop_sound(&mut commands, &mut dropped, entity, sound.bus);
                continue;
            };
            let stolen = playing.swap_remove(i);
            if stolen.fresh {
                drop_sound(&mut commands, &mut dropped, stolen.entity, sound.bus);
            } else {
                let (victim, fade) = (stolen.entity, Fade::linear(limit.fade));
                commands.queue(move |world: &mut World| stop_voice(world, victim, fade));
            }
        }
        playing.push(new);
        admitted.push((entity, sequence, true));
    }
    let fresh: HashSet<Entity> = per_bus
        .values()
        .flat_map(|playing| playing.iter().filter(|r| r.fresh).map(|r| r.entity))
        .collect();
    for (entity, sequence, audible) in admitted {
        let Ok((_, sound, position)) = requests.get(entity) else {
            continue;
        };
        if audible && !fresh.contains(&entity) {
            continue; // stolen in the same frame: already despawned
        }
        let started_at = now + sound.delay;
        let mut voice = Voice {
            bus: sound.bus,
            state: VoiceState::Virtual,
            started_at,
            sequence,
            gain: None,
        };
        if audible {
            let start = VoiceStart {
                output: bus_output(buses.as_deref(), sound.bus, &context),
                when: started_at,
                offset: 0.0,
                global: position.copied().unwrap_or_default(),
                fade_in: sound.fade_in,
                paused: false,
            };
            match build_voice(&mut commands, entity, sound, &start) {
                Ok(gain) => {
                    voice.state = VoiceState::Playing;
                    voice.gain = Some(gain);
                }
                Err(error) => {
                    reject(&mut commands, &mut errors, entity, error);
                    continue;
                }
            }
        }
        commands.entity(entity).insert(voice);
    }
}

/// Drops a request a full bus has no room for: despawned before it made a sound, and
/// reported.
fn drop_sound(
    commands: &mut Commands,
    dropped: &mut MessageWriter<SoundDropped>,
    entity: Entity,
    bus: MixBus,
) {
    dropped.write(SoundDropped {
        entity,
        bus,
        reason: DropReason::VoiceLimit,
    });
    commands.entity(entity).try_despawn();
}

/// Moves spatial voices between playing and virtual as they cross their audible distance.
/// `PostUpdate`, after transform propagation, before admission.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn virtualize_voices(
    mut voices: Query<(Entity, &mut Voice, &PlaySound, Option<&GlobalTransform>)>,
    listeners: Query<&GlobalTransform, With<AudioListener>>,
    settings: Option<Res<SpatialSettings>>,
    buses: Option<Res<MixBuses>>,
    context: Res<AudioContext>,
    buffers: Res<Assets<AudioBuffer>>,
    mut ended: MessageWriter<Ended>,
    mut errors: MessageWriter<AudioGraphError>,
    mut commands: Commands,
) {
    let ears = Ears::new(&listeners, settings.as_deref());
    let now = context.current_time();
    let mut playing: HashMap<MixBus, usize> = HashMap::new();
    for (_, voice, _, _) in &voices {
        if voice.is_playing() {
            *playing.entry(voice.bus).or_default() += 1;
        }
    }
    for (entity, mut voice, sound, position) in &mut voices {
        if sound.virtual_distance().is_none() {
            continue;
        }
        let (distance, _) = loudness(sound, position, &ears);
        let far = is_out_of_range(sound, distance);
        match voice.state {
            VoiceState::Playing if far => {
                commands
                    .entity(entity)
                    .remove::<AudioBufferSourceNode>()
                    .despawn_related::<Children>();
                voice.state = VoiceState::Virtual;
                voice.gain = None;
                *playing.entry(voice.bus).or_default() -= 1;
            }
            VoiceState::Virtual if !far => {
                let playing = playing.entry(voice.bus).or_default();
                let full = buses
                    .as_deref()
                    .and_then(|b| b.config(voice.bus))
                    .and_then(|c| c.limit)
                    .is_some_and(|l| *playing >= l.max);
                if full {
                    continue;
                }
                let Some(offset) = resume_offset(sound, &voice, now, &buffers) else {
                    ended.write(Ended { entity });
                    commands.trigger(Ended { entity });
                    if sound.despawn_on_ended {
                        commands.entity(entity).try_despawn();
                    }
                    continue;
                };
                let start = VoiceStart {
                    output: bus_output(buses.as_deref(), voice.bus, &context),
                    when: now.max(voice.started_at),
                    offset,
                    global: position.copied().unwrap_or_default(),
                    fade_in: None,
                    paused: false,
                };
                match build_voice(&mut commands, entity, sound, &start) {
                    Ok(gain) => {
                        voice.state = VoiceState::Playing;
                        voice.gain = Some(gain);
                        *playing += 1;
                    }
                    Err(error) => reject(&mut commands, &mut errors, entity, error),
                }
            }
            _ => {}
        }
    }
}

/// The buffer position (seconds) a voice resuming at `now` plays from, or `None` when a
/// non-looping voice has run past its end. A buffer not loaded yet starts from 0.
fn resume_offset(
    sound: &PlaySound,
    voice: &Voice,
    now: f64,
    buffers: &Assets<AudioBuffer>,
) -> Option<f64> {
    let Some(buffer) = buffers.get(&sound.buffer) else {
        return Some(0.0);
    };
    let duration = buffer.duration();
    let position = (now - voice.started_at).max(0.0) * sound.computed_rate();
    if sound.looping {
        Some(position.rem_euclid(duration))
    } else if (0.0..duration).contains(&position) {
        Some(position)
    } else {
        None
    }
}
