//! Velocity-based Doppler shift for spatial sources, off unless a [`Doppler`] component asks
//! for it (Web Audio removed its own Doppler; games want one).
//!
//! Each frame, after transform propagation, the velocities of the emitter (an entity with a
//! `GlobalTransform`, usually the [`SpatialAudio`](super::spatial::SpatialAudio) panner's) and
//! of the listener are taken from their positions in this frame and the last, divided by
//! `Time`'s delta. Their components along the source→listener line give the classic pitch
//! ratio
//!
//! ```text
//! ratio = (c − k·v_listener) / (c − k·v_source)
//! ```
//!
//! (`c` speed of sound, `k` the Doppler factor, `v_source` positive when the source moves
//! towards the listener, `v_listener` positive when the listener moves away from the source),
//! clamped to `1/max_ratio ..= max_ratio`. The ratio becomes `1200·log2(ratio)` cents on the
//! source node's `detune` param (an [`OscillatorNode`]'s or an [`AudioBufferSourceNode`]'s),
//! glided over one frame like the spatial sync's positions (one command a frame) so the pitch
//! never steps. While a `Doppler` is attached it owns `detune`: keep your own pitch on
//! `frequency` / `playbackRate`. Removing the component glides `detune` back to 0.

use bevy::math::DVec3;
use bevy::prelude::*;

use super::engine::AudioEngine;
use super::spatial::{SpatialSettings, glide, glide_window};
use crate::context::AudioContext;
use crate::error::{WebAudioError, finite};
use crate::node::audio_buffer_source::AudioBufferSourceNode;
use crate::node::audio_listener::AudioListener;
use crate::node::oscillator::OscillatorNode;
use crate::param::AudioParam;
use webaudio_engine::node::audio_buffer_source::AudioBufferSourceParam;
use webaudio_engine::node::oscillator::OscillatorParam;
use webaudio_engine::param::NodeParams;

/// Changes smaller than this (in cents) are not sent: a hundredth of a cent is inaudible.
const MIN_CHANGE_CENTS: f64 = 0.01;

/// Put on a source node entity ([`OscillatorNode`] or [`AudioBufferSourceNode`]) to shift its
/// pitch by the relative motion of `emitter` and the listener. See the [module docs](self).
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
///
/// fn spawn_car(mut commands: Commands, ctx: Res<AudioContext>) -> Result {
///     let panner = commands
///         .spawn((PannerNode::default(), SpatialAudio, Transform::default()))
///         .connect(ctx.destination())
///         .id();
///     let mut engine = OscillatorNode::new(OscillatorType::Sawtooth, 80.0);
///     engine.start(0.0)?;
///     // Exaggerated (factor 2), at most half an octave either way.
///     let doppler = Doppler::new(panner).with_factor(2.0)?.with_max_ratio(2f64.sqrt())?;
///     commands.spawn((engine, doppler)).connect(panner);
///     Ok(())
/// }
/// # assert!(Doppler::new(Entity::PLACEHOLDER).with_speed_of_sound(0.0).is_err());
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
pub struct Doppler {
    emitter: Entity,
    speed_of_sound: f64,
    factor: f64,
    max_ratio: f64,
    #[reflect(ignore)]
    history: Option<History>,
    ratio: f64,
    /// The detune last sent, in cents.
    sent_cents: f64,
}

/// Positions seen last frame.
#[derive(Clone, Copy, Debug)]
struct History {
    emitter: DVec3,
    listener: DVec3,
}

impl Doppler {
    /// Speed of sound in air at 20 °C, m/s (the default).
    pub const SPEED_OF_SOUND: f64 = 343.0;

    /// Doppler for the motion of `emitter` (an entity with a `GlobalTransform`), with
    /// c = 343 m/s, factor 1 and a pitch ratio clamped to an octave either way.
    pub fn new(emitter: Entity) -> Self {
        Self {
            emitter,
            speed_of_sound: Self::SPEED_OF_SOUND,
            factor: 1.0,
            max_ratio: 2.0,
            history: None,
            ratio: 1.0,
            sent_cents: 0.0,
        }
    }

    /// Speed of sound in world units per second.
    ///
    /// # Errors
    /// `RangeError` unless finite and positive.
    pub fn with_speed_of_sound(mut self, c: f64) -> Result<Self, WebAudioError> {
        finite("speedOfSound", c)?;
        if c <= 0.0 {
            return Err(WebAudioError::Range(format!(
                "speed of sound must be positive, got {c}"
            )));
        }
        self.speed_of_sound = c;
        Ok(self)
    }

    /// Scales both velocities (0 turns the shift off, > 1 exaggerates it).
    ///
    /// # Errors
    /// `RangeError` unless finite and not negative.
    pub fn with_factor(mut self, factor: f64) -> Result<Self, WebAudioError> {
        finite("dopplerFactor", factor)?;
        if factor < 0.0 {
            return Err(WebAudioError::Range(format!(
                "Doppler factor must not be negative, got {factor}"
            )));
        }
        self.factor = factor;
        Ok(self)
    }

    /// Largest pitch ratio (and smallest, as its inverse): keeps supersonic motion and
    /// teleports from sending the pitch to infinity.
    ///
    /// # Errors
    /// `RangeError` unless finite and at least 1.
    pub fn with_max_ratio(mut self, max_ratio: f64) -> Result<Self, WebAudioError> {
        finite("maxRatio", max_ratio)?;
        if max_ratio < 1.0 {
            return Err(WebAudioError::Range(format!(
                "max ratio must be at least 1, got {max_ratio}"
            )));
        }
        self.max_ratio = max_ratio;
        Ok(self)
    }

    /// The entity whose motion is followed.
    pub fn emitter(&self) -> Entity {
        self.emitter
    }

    /// Speed of sound.
    pub fn speed_of_sound(&self) -> f64 {
        self.speed_of_sound
    }

    /// Doppler factor.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Largest pitch ratio.
    pub fn max_ratio(&self) -> f64 {
        self.max_ratio
    }

    /// The pitch ratio computed last frame (1 until two frames have been seen).
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Forgets last frame's positions: call after teleporting the emitter or the listener, so
    /// the jump is not taken for motion.
    pub fn reset(&mut self) {
        self.history = None;
    }

    /// The pitch ratio for these velocities (world units per second) and the vector from the
    /// source to the listener.
    pub fn pitch_ratio(
        &self,
        source_velocity: DVec3,
        listener_velocity: DVec3,
        source_to_listener: DVec3,
    ) -> f64 {
        let Some(u) = source_to_listener.try_normalize() else {
            return 1.0;
        };
        let c = self.speed_of_sound;
        let towards = self.factor * source_velocity.dot(u);
        let away = self.factor * listener_velocity.dot(u);
        let (num, den) = (c - away, c - towards);
        let ratio = if den <= 0.0 {
            self.max_ratio
        } else {
            num.max(0.0) / den
        };
        ratio.clamp(1.0 / self.max_ratio, self.max_ratio)
    }

    /// Takes this frame's positions; returns the new ratio once two frames have been seen.
    fn update(&mut self, emitter: DVec3, listener: DVec3, dt: f64) -> Option<f64> {
        let last = self.history.replace(History { emitter, listener })?;
        let ratio = self.pitch_ratio(
            (emitter - last.emitter) / dt,
            (listener - last.listener) / dt,
            listener - emitter,
        );
        self.ratio = ratio;
        Some(ratio)
    }
}

/// The `detune` param Doppler drives on a source entity.
fn detune<'a>(
    oscillator: Option<Mut<'a, OscillatorNode>>,
    buffer_source: Option<Mut<'a, AudioBufferSourceNode>>,
) -> Option<&'a mut AudioParam> {
    match (oscillator, buffer_source) {
        (Some(o), _) => Some(&mut o.into_inner().detune),
        (None, Some(b)) => Some(&mut b.into_inner().detune),
        (None, None) => None,
    }
}

/// Queues the glide of the source's `detune` to `cents` as one command (the source component
/// is not touched, so the node sync skips it); `false` when the entity has no synced source
/// node or `cents` is not finite (the param itself glides then, or nothing happens).
fn queue_detune(
    engine: &mut AudioEngine,
    entity: Entity,
    (oscillator, buffer_source): (
        &Option<Mut<OscillatorNode>>,
        &Option<Mut<AudioBufferSourceNode>>,
    ),
    cents: f32,
    window: (f64, f64),
) -> bool {
    let (slot, param) = match (oscillator, buffer_source) {
        (Some(o), _) => (OscillatorParam::Detune.slot(), &o.detune),
        (None, Some(b)) => (AudioBufferSourceParam::Detune.slot(), &b.detune),
        (None, None) => return false,
    };
    cents.is_finite() && engine.queue_glide(entity, slot, &[cents], window, param.scheduled_len())
}

/// The listener's position in audio space: its transform's (mapped by the
/// [`SpatialSettings`]), else its position params', else the origin (the context's default
/// listener).
fn listener_position(
    listener: Option<(Option<&GlobalTransform>, &AudioListener)>,
    settings: &SpatialSettings,
) -> DVec3 {
    match listener {
        Some((Some(t), _)) => settings.position(t.translation()).as_dvec3(),
        Some((None, l)) => DVec3::new(
            f64::from(l.position_x.value()),
            f64::from(l.position_y.value()),
            f64::from(l.position_z.value()),
        ),
        None => DVec3::ZERO,
    }
}

type SourceNodes<'a> = (
    Option<&'a mut OscillatorNode>,
    Option<&'a mut AudioBufferSourceNode>,
);

/// Turns the emitter's and listener's motion into `detune` glides (and glides `detune` back
/// to 0 where a `Doppler` was removed).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sync_doppler(
    context: Res<AudioContext>,
    time: Option<Res<Time>>,
    mut engine: ResMut<AudioEngine>,
    settings: Option<Res<SpatialSettings>>,
    transforms: Query<&GlobalTransform>,
    listeners: Query<(Option<&GlobalTransform>, &AudioListener)>,
    mut sources: Query<(Entity, &mut Doppler, SourceNodes)>,
    mut removed: RemovedComponents<Doppler>,
    mut plain: Query<SourceNodes, Without<Doppler>>,
) {
    let dt = time.as_ref().map_or(0.0, |t| t.delta_secs_f64());
    let (now, end) = glide_window(&context, time.as_deref());
    for entity in removed.read() {
        if let Ok((o, b)) = plain.get_mut(entity)
            && let Some(p) = detune(o, b)
        {
            glide(p, 0.0, now, end, false);
        }
    }
    if dt <= 0.0 {
        return;
    }
    let suspended = context.state() == crate::context::AudioContextState::Suspended;
    let settings = settings.as_deref().copied().unwrap_or_default();
    let listener = listener_position(listeners.iter().next(), &settings);
    for (entity, mut doppler, (o, b)) in &mut sources {
        let Ok(emitter) = transforms.get(doppler.emitter) else {
            continue;
        };
        let position = settings.position(emitter.translation()).as_dvec3();
        let Some(ratio) = doppler.update(position, listener, dt) else {
            continue;
        };
        let cents = 1200.0 * ratio.log2();
        // Suspended: the clock stands still, and each glide would be superseded by the next;
        // the motion is still tracked, and the first frame after resuming glides once.
        if suspended || (cents - doppler.sent_cents).abs() < MIN_CHANGE_CENTS {
            continue;
        }
        if queue_detune(&mut engine, entity, (&o, &b), cents as f32, (now, end)) {
            doppler.sent_cents = cents;
        } else if let Some(p) = detune(o, b) {
            glide(p, cents as f32, now, end, false);
            doppler.sent_cents = cents;
        }
    }
}
