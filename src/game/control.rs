//! Control of one playing sound through its entity ([`SoundControlExt`] on `EntityCommands`):
//! stop with a fade, change its volume, pause, resume, seek. All of it is automation on the
//! voice's own nodes; nothing bypasses the graph.
//!
//! - **Stop** fades the voice's gain to silence along a [`Fade`] and calls `stop()` on its
//!   source at the fade's end; the voice is then despawned as usual.
//! - **Pause** fades the gain out over [`PAUSE_FADE`] (linear, no click) and then sets the
//!   source's `playbackRate` to 0: the play head holds still where it is (the spec's
//!   `AudioBufferSourceNode` allows a rate of 0), the nodes stay, the voice keeps its place in
//!   its bus. **Resume** sets the rate back and fades the gain in over [`PAUSE_FADE`]: playback
//!   continues from the sample where it held. `playbackRate` is k-rate, so the hold starts and
//!   ends on render-quantum boundaries (128 frames).
//! - **Seek** starts the voice again from another buffer position: its source and chain are
//!   rebuilt there (a cut, as any jump in a recording is); a paused voice stays paused there,
//!   a virtual one only moves its clock.

use bevy::ecs::system::EntityCommands;
use bevy::prelude::*;

use super::bus::MixBuses;
use super::play_sound::{PlaySound, Voice, VoiceStart, VoiceState, build_voice, bus_output};
use super::volume::{Fade, Volume, fade_param};
use crate::asset::AudioBuffer;
use crate::context::AudioContext;
use crate::node::audio_buffer_source::AudioBufferSourceNode;
use crate::node::gain::GainNode;

/// The fade of a pause and of a resume: 10 ms, linear.
pub const PAUSE_FADE: f64 = 0.01;

/// Control of a playing sound through its entity.
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
/// fn control(mut commands: Commands, music: Single<Entity, With<Voice>>) {
///     let mut music = commands.entity(*music);
///     music.set_sound_volume(Volume::Decibels(-6.0), Fade::equal_power(1.0));
///     music.pause_sound();
///     music.resume_sound();
///     music.seek_sound(12.5);
///     music.stop_sound(Fade::equal_power(2.0)); // fade out, then stop and despawn
/// }
/// ```
pub trait SoundControlExt {
    /// Fades to silence along `fade` (seconds for a linear fade, or a [`Fade`]) and stops the
    /// source at its end; the voice is then despawned as usual. A sound that makes no sound
    /// (virtual, paused, or not admitted yet) is despawned at once.
    #[doc(alias = "fade_out")]
    fn stop_sound(&mut self, fade: impl Into<Fade>) -> &mut Self;
    /// Moves the voice's volume to `volume` (linear or [`Volume::Decibels`]) along `fade`.
    fn set_sound_volume(&mut self, volume: impl Into<Volume>, fade: impl Into<Fade>) -> &mut Self;
    /// Pauses: the gain fades out over [`PAUSE_FADE`], then the play head holds still.
    fn pause_sound(&mut self) -> &mut Self;
    /// Resumes a paused sound from where its play head holds.
    fn resume_sound(&mut self) -> &mut Self;
    /// Plays from `position` seconds into the buffer (wrapped into it for a looping sound).
    /// Negative or non-finite positions are ignored.
    fn seek_sound(&mut self, position: f64) -> &mut Self;
}

impl SoundControlExt for EntityCommands<'_> {
    fn stop_sound(&mut self, fade: impl Into<Fade>) -> &mut Self {
        let fade = fade.into();
        self.queue(move |entity: EntityWorldMut| {
            let id = entity.id();
            stop_voice(entity.into_world_mut(), id, fade);
        })
    }

    fn set_sound_volume(&mut self, volume: impl Into<Volume>, fade: impl Into<Fade>) -> &mut Self {
        let (volume, fade) = (volume.into().to_linear(), fade.into());
        self.queue(move |entity: EntityWorldMut| {
            let id = entity.id();
            set_volume(entity.into_world_mut(), id, volume, fade);
        })
    }

    fn pause_sound(&mut self) -> &mut Self {
        self.queue(|entity: EntityWorldMut| {
            let id = entity.id();
            pause(entity.into_world_mut(), id);
        })
    }

    fn resume_sound(&mut self) -> &mut Self {
        self.queue(|entity: EntityWorldMut| {
            let id = entity.id();
            resume(entity.into_world_mut(), id);
        })
    }

    fn seek_sound(&mut self, position: f64) -> &mut Self {
        self.queue(move |entity: EntityWorldMut| {
            let id = entity.id();
            seek(entity.into_world_mut(), id, position);
        })
    }
}

fn now(world: &World) -> f64 {
    world.resource::<AudioContext>().current_time()
}

/// The voice's gain node, while it has nodes.
fn voice_gain(world: &mut World, entity: Entity) -> Option<Mut<'_, GainNode>> {
    let gain = world.get::<Voice>(entity)?.gain?;
    world.get_mut::<GainNode>(gain)
}

/// Fades a voice out along `fade` and stops its source then; despawns a voice that makes no
/// sound.
pub(crate) fn stop_voice(world: &mut World, entity: Entity, fade: Fade) {
    let now = now(world);
    let Some(voice) = world.get::<Voice>(entity).cloned() else {
        world.commands().entity(entity).try_despawn();
        return;
    };
    match voice.state {
        VoiceState::Playing => {}
        VoiceState::Virtual | VoiceState::Paused { .. } => {
            world.commands().entity(entity).try_despawn();
            return;
        }
        VoiceState::Stopping { .. } => return,
    }
    let volume = world.get::<PlaySound>(entity).map_or(1.0, |s| s.volume);
    if let Some(mut gain) = voice_gain(world, entity) {
        fade_param(&mut gain.gain, volume, 0.0, now, fade);
    }
    let until = now + fade.seconds();
    if let Some(mut source) = world.get_mut::<AudioBufferSourceNode>(entity) {
        // Started (it is playing): `stop` cannot fail for a finite, non-negative time.
        let _ = source.source.stop(until);
    }
    if let Some(mut voice) = world.get_mut::<Voice>(entity) {
        voice.state = VoiceState::Stopping { until };
    }
}

fn set_volume(world: &mut World, entity: Entity, volume: f32, fade: Fade) {
    if !(volume.is_finite() && volume >= 0.0) {
        return;
    }
    let now = now(world);
    let Some(mut sound) = world.get_mut::<PlaySound>(entity) else {
        return;
    };
    let from = std::mem::replace(&mut sound.volume, volume);
    let playing = world
        .get::<Voice>(entity)
        .is_some_and(|v| v.state == VoiceState::Playing);
    if let (true, Some(mut gain)) = (playing, voice_gain(world, entity)) {
        fade_param(&mut gain.gain, from, volume, now, fade);
    }
}

fn pause(world: &mut World, entity: Entity) {
    let now = now(world);
    let Some(voice) = world.get::<Voice>(entity) else {
        return;
    };
    // When the play head stops: after the fade for a voice with nodes; now for a virtual one
    // (it has no nodes, only its clock).
    let at = match voice.state {
        VoiceState::Playing => {
            let at = now + PAUSE_FADE;
            let volume = world.get::<PlaySound>(entity).map_or(1.0, |s| s.volume);
            if let Some(mut gain) = voice_gain(world, entity) {
                fade_param(&mut gain.gain, volume, 0.0, now, Fade::linear(PAUSE_FADE));
            }
            if let Some(mut source) = world.get_mut::<AudioBufferSourceNode>(entity) {
                // Finite, non-negative times: these cannot fail.
                let _ = source.playback_rate.cancel_scheduled_values(now);
                let _ = source.playback_rate.set_value_at_time(0.0, at);
            }
            at
        }
        VoiceState::Virtual => now,
        VoiceState::Paused { .. } | VoiceState::Stopping { .. } => return,
    };
    if let Some(mut voice) = world.get_mut::<Voice>(entity) {
        voice.state = VoiceState::Paused { at };
    }
}

fn resume(world: &mut World, entity: Entity) {
    let now = now(world);
    let Some(VoiceState::Paused { at }) = world.get::<Voice>(entity).map(|v| v.state) else {
        return;
    };
    let (volume, rate) = world
        .get::<PlaySound>(entity)
        .map_or((1.0, 1.0), |s| (s.volume, s.playback_rate));
    let built = world.get::<Voice>(entity).is_some_and(|v| v.gain.is_some());
    if let Some(mut source) = world.get_mut::<AudioBufferSourceNode>(entity) {
        let _ = source.playback_rate.cancel_scheduled_values(now);
        let _ = source.playback_rate.set_value_at_time(rate, now);
    }
    if let Some(mut gain) = voice_gain(world, entity) {
        fade_param(&mut gain.gain, 0.0, volume, now, Fade::linear(PAUSE_FADE));
    }
    if let Some(mut voice) = world.get_mut::<Voice>(entity) {
        voice.started_at += (now - at).max(0.0);
        // Without nodes it comes back through virtualisation (when in range and there is room).
        voice.state = if built {
            VoiceState::Playing
        } else {
            VoiceState::Virtual
        };
    }
}

fn seek(world: &mut World, entity: Entity, position: f64) {
    if !(position.is_finite() && position >= 0.0) {
        return;
    }
    let now = now(world);
    let (Some(voice), Some(sound)) = (
        world.get::<Voice>(entity).cloned(),
        world.get::<PlaySound>(entity).cloned(),
    ) else {
        return;
    };
    let duration = world
        .resource::<Assets<AudioBuffer>>()
        .get(&sound.buffer)
        .map(AudioBuffer::duration);
    let position = match duration {
        Some(d) if sound.looping && d > 0.0 => position.rem_euclid(d),
        _ => position,
    };
    let rate = sound.computed_rate();
    let started_at = if rate > 0.0 {
        now - position / rate
    } else {
        now
    };
    let paused = matches!(voice.state, VoiceState::Paused { .. });
    let mut voice = Voice {
        started_at,
        ..voice
    };
    if voice.gain.is_some() && !matches!(voice.state, VoiceState::Stopping { .. }) {
        let output = {
            let context = world.resource::<AudioContext>();
            bus_output(world.get_resource::<MixBuses>(), voice.bus, context)
        };
        let start = VoiceStart {
            output,
            when: now,
            offset: position,
            global: world
                .get::<GlobalTransform>(entity)
                .copied()
                .unwrap_or_default(),
            fade_in: None,
            paused,
        };
        let mut commands = world.commands();
        commands
            .entity(entity)
            .remove::<AudioBufferSourceNode>()
            .despawn_related::<Children>();
        // The request passed validation when it was admitted: its numbers build.
        voice.gain = build_voice(&mut commands, entity, &sound, &start).ok();
    }
    if paused {
        voice.state = VoiceState::Paused { at: now };
    }
    world.entity_mut(entity).insert(voice);
}
