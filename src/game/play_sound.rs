//! One-shot and looping sounds in one line: `commands.play_sound(handle)` spawns a
//! [`PlaySound`] request; the plugin turns it into an ordinary chain of node entities
//! (nothing bypasses the graph):
//!
//! ```text
//! sound entity: AudioBufferSourceNode ─► child: GainNode (volume, fades)
//!                                         ─► child: PannerNode + SpatialAudio (optional)
//!                                         ─► bus GainNode (MixBuses) ─► … ─► destination
//! ```
//!
//! The sound entity carries [`Voice`] once it is admitted ([`voices`](super::voices) decides:
//! bus voice limits, virtualisation), and [`DespawnOnEnded`] unless
//! [`SoundSettingsExt::keep_after_end`] was called, so a finished one-shot leaves nothing
//! behind. Control it later through its entity ([`SoundControlExt`](super::SoundControlExt):
//! stop with a fade, volume, pause, resume, seek).

use bevy::ecs::system::EntityCommands;
use bevy::prelude::*;

use super::bus::{MixBus, MixBuses};
use super::despawn::DespawnOnEnded;
use super::volume::{Fade, Volume, fade_param};
use crate::asset::AudioBuffer;
use crate::context::AudioContext;
use crate::ecs::AudioGraphError;
use crate::ecs::connection::AudioConnectExt;
use crate::ecs::spatial::SpatialAudio;
use crate::error::WebAudioError;
use crate::node::audio_buffer_source::AudioBufferSourceNode;
use crate::node::gain::GainNode;
use crate::node::panner::{DistanceModel, PannerNode, PanningModel};

/// A request to play a buffer. Spawn it (or use [`PlaySoundExt::play_sound`]); the plugin
/// builds the voice's nodes in the same frame's `PostUpdate`.
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
pub struct PlaySound {
    /// The samples.
    pub buffer: Handle<AudioBuffer>,
    /// Linear gain (≥ 0).
    pub volume: f32,
    /// A fade from silence to `volume`, from the start (`None`: full volume at once). A voice
    /// that starts virtual (out of range) comes in later at full volume.
    pub fade_in: Option<Fade>,
    /// `playbackRate` of the source.
    pub playback_rate: f32,
    /// `detune` of the source, in cents.
    pub detune: f32,
    /// Loop the whole buffer.
    pub looping: bool,
    /// Seconds from now until it starts (≥ 0).
    pub delay: f64,
    /// The bus it plays into.
    pub bus: MixBus,
    /// For [`StealPolicy::LowestPriority`](super::bus::StealPolicy::LowestPriority):
    /// higher survives.
    pub priority: i32,
    /// A panner that follows the sound entity's `GlobalTransform` (`None`: not spatial).
    pub spatial: Option<PannerNode>,
    /// Beyond this distance from the listener the voice is virtual: not rendered, its time
    /// still running (`None`: the panner's `maxDistance` for a linear model with rolloff ≥ 1,
    /// where the distance gain reaches 0; never otherwise).
    pub audible_distance: Option<f32>,
    /// Despawn the sound entity and its chain when it ends (default `true`).
    pub despawn_on_ended: bool,
}

impl PlaySound {
    /// `buffer` at volume 1, rate 1, on the effects bus, despawned when it ends.
    pub fn new(buffer: Handle<AudioBuffer>) -> Self {
        Self {
            buffer,
            volume: 1.0,
            fade_in: None,
            playback_rate: 1.0,
            detune: 0.0,
            looping: false,
            delay: 0.0,
            bus: MixBus::EFFECTS,
            priority: 0,
            spatial: None,
            audible_distance: None,
            despawn_on_ended: true,
        }
    }

    /// The spec's `computedPlaybackRate` (buffer seconds per context second).
    pub fn computed_rate(&self) -> f64 {
        f64::from(self.playback_rate) * (f64::from(self.detune) / 1200.0).exp2()
    }

    /// The distance beyond which the voice is virtual (see [`PlaySound::audible_distance`]).
    pub fn virtual_distance(&self) -> Option<f32> {
        let panner = self.spatial.as_ref()?;
        self.audible_distance.or_else(|| {
            (panner.distance_model() == DistanceModel::Linear && panner.rolloff_factor() >= 1.0)
                .then_some(panner.max_distance() as f32)
        })
    }

    /// The spec's errors for the numbers a request carries.
    pub(crate) fn validate(&self) -> Result<(), WebAudioError> {
        if !(self.volume.is_finite() && self.volume >= 0.0) {
            return Err(WebAudioError::Range(format!(
                "volume must be finite and ≥ 0, got {}",
                self.volume
            )));
        }
        crate::error::finite("playbackRate", f64::from(self.playback_rate))?;
        crate::error::finite("detune", f64::from(self.detune))?;
        crate::error::time("delay", self.delay)?;
        Ok(())
    }
}

/// What a sound is doing.
#[derive(Clone, Copy, Debug, PartialEq, Reflect)]
pub enum VoiceState {
    /// Its nodes render.
    Playing,
    /// Paused ([`SoundControlExt::pause_sound`](super::SoundControlExt::pause_sound)): its
    /// source's play head holds still from `at` (context seconds) until it is resumed; it
    /// keeps its nodes and its place in its bus's voice limit.
    Paused {
        /// When the play head stopped (the end of the pause's short fade).
        at: f64,
    },
    /// Fading out; its source stops at `until` (context seconds) and it is then despawned.
    Stopping {
        /// The end of the fade.
        until: f64,
    },
    /// Too far to hear: no nodes, time still running.
    Virtual,
}

/// An admitted sound (inserted on the [`PlaySound`] entity by the plugin).
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
pub struct Voice {
    /// The bus it plays into.
    pub bus: MixBus,
    /// The state.
    pub state: VoiceState,
    /// Context time at which buffer position 0 plays (the start plus the delay; moved on by
    /// pauses and seeks).
    pub started_at: f64,
    /// Admission order (for [`StealPolicy::Oldest`](super::bus::StealPolicy::Oldest)).
    pub sequence: u64,
    /// The voice's `GainNode` (a child) while it has nodes.
    pub gain: Option<Entity>,
}

impl Voice {
    /// Whether it counts against its bus's voice limit: it has nodes and is not fading out
    /// (playing or paused).
    pub fn is_playing(&self) -> bool {
        matches!(self.state, VoiceState::Playing | VoiceState::Paused { .. })
    }
}

/// `commands.play_sound(handle)`.
pub trait PlaySoundExt {
    /// Spawns a [`PlaySound`] request with the defaults; chain [`SoundSettingsExt`] methods on
    /// the result to change them. Returns the sound entity's commands.
    fn play_sound(&mut self, buffer: Handle<AudioBuffer>) -> EntityCommands<'_>;
}

impl PlaySoundExt for Commands<'_, '_> {
    fn play_sound(&mut self, buffer: Handle<AudioBuffer>) -> EntityCommands<'_> {
        self.spawn((PlaySound::new(buffer), Name::new("sound")))
    }
}

/// Settings of a [`PlaySound`] request, chained after [`PlaySoundExt::play_sound`] (they
/// apply before the voice starts; later, use [`SoundControlExt`](super::SoundControlExt)).
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
/// fn shoot(mut commands: Commands, sounds: Res<Sounds>) {
///     commands
///         .play_sound(sounds.shot.clone())
///         .volume(0.5)
///         .playback_rate(1.1)
///         .at(Vec3::new(3.0, 0.0, -2.0))
///         .bus(MixBus::EFFECTS);
/// }
/// # #[derive(Resource)] struct Sounds { shot: Handle<AudioBuffer> }
/// ```
pub trait SoundSettingsExt {
    /// Edits the request.
    fn edit_sound(&mut self, f: impl FnOnce(&mut PlaySound) + Send + 'static) -> &mut Self;

    /// Volume: linear (`0.5`) or in decibels (`Volume::Decibels(-6.0)`).
    fn volume(&mut self, volume: impl Into<Volume>) -> &mut Self {
        let volume = volume.into().to_linear();
        self.edit_sound(move |s| s.volume = volume)
    }
    /// Fades in from silence over `fade` (seconds for a linear fade, or a [`Fade`]).
    fn fade_in(&mut self, fade: impl Into<Fade>) -> &mut Self {
        let fade = fade.into();
        self.edit_sound(move |s| s.fade_in = Some(fade))
    }
    /// `playbackRate`.
    fn playback_rate(&mut self, rate: f32) -> &mut Self {
        self.edit_sound(move |s| s.playback_rate = rate)
    }
    /// `detune` in cents.
    fn detune(&mut self, cents: f32) -> &mut Self {
        self.edit_sound(move |s| s.detune = cents)
    }
    /// Loop the whole buffer (a looping sound plays until stopped).
    fn looping(&mut self) -> &mut Self {
        self.edit_sound(|s| s.looping = true)
    }
    /// Start `seconds` from now.
    fn delay(&mut self, seconds: f64) -> &mut Self {
        self.edit_sound(move |s| s.delay = seconds)
    }
    /// The output bus.
    fn bus(&mut self, bus: impl Into<MixBus>) -> &mut Self {
        let bus = bus.into();
        self.edit_sound(move |s| s.bus = bus)
    }
    /// Priority for voice stealing.
    fn priority(&mut self, priority: i32) -> &mut Self {
        self.edit_sound(move |s| s.priority = priority)
    }
    /// Spatial through `panner` (its position follows the entity's transform).
    fn spatial(&mut self, panner: PannerNode) -> &mut Self {
        self.edit_sound(move |s| s.spatial = Some(panner))
    }
    /// Virtual beyond `distance` from the listener.
    fn audible_distance(&mut self, distance: f32) -> &mut Self {
        self.edit_sound(move |s| s.audible_distance = Some(distance))
    }
    /// Keep the entity when the sound ends (it is despawned by default).
    fn keep_after_end(&mut self) -> &mut Self {
        self.edit_sound(|s| s.despawn_on_ended = false)
    }
    /// Spatial (equal-power panner unless one was set) at `position`.
    fn at(&mut self, position: Vec3) -> &mut Self;
    /// Spatial, following `emitter`'s transform (the sound becomes its child).
    fn attach_to(&mut self, emitter: Entity) -> &mut Self;
}

fn ensure_spatial(sound: &mut PlaySound) {
    if sound.spatial.is_none() {
        sound.spatial = Some(PannerNode::new(PanningModel::EqualPower));
    }
}

impl SoundSettingsExt for EntityCommands<'_> {
    fn edit_sound(&mut self, f: impl FnOnce(&mut PlaySound) + Send + 'static) -> &mut Self {
        self.queue(move |mut entity: EntityWorldMut| {
            if let Some(mut sound) = entity.get_mut::<PlaySound>() {
                f(&mut sound);
            }
        })
    }

    fn at(&mut self, position: Vec3) -> &mut Self {
        self.insert(Transform::from_translation(position))
            .edit_sound(ensure_spatial)
    }

    fn attach_to(&mut self, emitter: Entity) -> &mut Self {
        self.insert((Transform::default(), ChildOf(emitter)))
            .edit_sound(ensure_spatial)
    }
}

/// Where and when a voice's nodes start.
pub(crate) struct VoiceStart {
    /// The node the voice feeds (its bus).
    pub output: Entity,
    /// `start(when)`.
    pub when: f64,
    /// `start(.., offset)`, in buffer seconds.
    pub offset: f64,
    /// The sound entity's propagated transform: the panner starts there (it is spawned after
    /// this frame's propagation, so its own would only be right next frame).
    pub global: GlobalTransform,
    /// A fade from silence from `when` on (a first start; not a voice coming back).
    pub fade_in: Option<Fade>,
    /// Built paused: the source's rate and the gain at 0 until it is resumed.
    pub paused: bool,
}

/// Builds the nodes of an admitted voice: the source on the sound entity, its gain (and
/// panner) as children, into its bus. Returns the gain entity.
pub(crate) fn build_voice(
    commands: &mut Commands,
    entity: Entity,
    sound: &PlaySound,
    start: &VoiceStart,
) -> Result<Entity, WebAudioError> {
    let (output, when, offset) = (start.output, start.when, start.offset);
    let mut source = AudioBufferSourceNode::new(sound.buffer.clone());
    source.looping = sound.looping;
    let rate = if start.paused {
        0.0
    } else {
        sound.playback_rate
    };
    source.playback_rate.set_value(rate)?;
    source.detune.set_value(sound.detune)?;
    source.start_with(when, offset, None)?;
    let mut gain = GainNode::new(sound.volume);
    if start.paused {
        gain.gain.set_value(0.0)?;
    } else if let Some(fade) = start.fade_in {
        gain.gain.set_value(0.0)?;
        fade_param(&mut gain.gain, 0.0, sound.volume, when, fade);
    }
    let gain = commands.spawn((gain, ChildOf(entity))).id();
    match &sound.spatial {
        Some(panner) => {
            let panner = commands
                .spawn((
                    panner.clone(),
                    SpatialAudio,
                    Transform::default(),
                    start.global,
                    ChildOf(entity),
                ))
                .connect(output)
                .id();
            commands.entity(gain).connect(panner);
        }
        None => {
            commands.entity(gain).connect(output);
        }
    }
    let mut sound_entity = commands.entity(entity);
    sound_entity.insert(source).connect(gain);
    if sound.spatial.is_some() {
        sound_entity.insert_if_new(Transform::default());
    }
    if sound.despawn_on_ended {
        sound_entity.insert(DespawnOnEnded);
    }
    Ok(gain)
}

/// The node a voice on `bus` connects to: the bus, or the destination without buses.
pub(crate) fn bus_output(buses: Option<&MixBuses>, bus: MixBus, context: &AudioContext) -> Entity {
    buses
        .and_then(|b| b.entity(bus))
        .unwrap_or(context.destination())
}

/// Reports a request whose numbers the spec rejects, and drops it.
pub(crate) fn reject(
    commands: &mut Commands,
    errors: &mut MessageWriter<AudioGraphError>,
    entity: Entity,
    error: WebAudioError,
) {
    errors.write(AudioGraphError { entity, error });
    commands.entity(entity).try_despawn();
}
