//! Sounds the game asked for that never played: a [`SoundDropped`] message for each, and the
//! first drop on each bus logged as a warning (unless
//! [`AudioWarnings::dropped_sounds`](crate::AudioWarnings::dropped_sounds) is off), so a full
//! bus never swallows sounds without a word.

use bevy::prelude::*;

use super::bus::MixBus;
use crate::ecs::warnings::{AudioWarnings, WarnOnce};

/// Why a sound was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Reflect)]
pub enum DropReason {
    /// Its bus was at its [`VoiceLimit`](super::VoiceLimit) and the policy kept every playing
    /// voice (or the sound was stolen in the frame it was admitted, before making a sound).
    VoiceLimit,
}

/// A [`PlaySound`](super::PlaySound) request was dropped before it made a sound (its entity
/// is despawned).
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoundDropped {
    /// The sound entity (despawned).
    pub entity: Entity,
    /// The bus it was meant for.
    pub bus: MixBus,
    /// Why.
    pub reason: DropReason,
}

/// Logs the first dropped sound of each bus. `Last`.
pub(crate) fn log_dropped_sounds(
    mut dropped: MessageReader<SoundDropped>,
    warnings: Option<Res<AudioWarnings>>,
    mut logged: Local<WarnOnce<MixBus>>,
) {
    let enabled = warnings.is_none_or(|w| w.dropped_sounds);
    for sound in dropped.read() {
        if enabled && logged.first(sound.bus) {
            warn!(
                "bus {}: sound {} dropped ({:?}: the bus is at its voice limit); further drops \
                 on this bus are not logged: read SoundDropped messages",
                sound.bus, sound.entity, sound.reason
            );
        }
    }
}
