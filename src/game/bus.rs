//! Mix buses: named [`GainNode`] entities that sounds route into (e.g. master, music,
//! effects, voice), each optionally through a [`DynamicsCompressorNode`], each feeding its
//! parent bus or the destination. Nothing bypasses the graph: a bus is an ordinary node entity
//! with a [`Bus`] marker, and its volume and ducking are automation on its `gain`.
//!
//! - **Volumes** come from the [`BusVolumes`] resource. A change glides to the new value over
//!   [`VOLUME_GLIDE`] (no zipper noise).
//! - **Ducking** ([`DuckRule`]): while a trigger is active (another bus has playing voices,
//!   the microphone hears a voice, or a manual flag is set in [`DuckFlags`]) the target bus's
//!   gain goes to `volume × level` along a linear ramp of `attack` seconds, and back to
//!   `volume` along a ramp of `release` seconds once no rule holds it down. Each change is
//!   `cancelAndHoldAtTime(now)` then `linearRampToValueAtTime(target, now + time)`, so a
//!   release during an attack starts from wherever the gain is.

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;

use super::play_sound::{Voice, VoiceState};
use super::voices::VoiceLimit;
use crate::context::AudioContext;
use crate::ecs::connection::AudioConnectExt;
use crate::microphone::Microphone;
use crate::node::dynamics_compressor::{DynamicsCompressorNode, DynamicsCompressorOptions};
use crate::node::gain::GainNode;

/// How long a volume change from [`BusVolumes`] glides, in seconds.
pub const VOLUME_GLIDE: f64 = 0.02;

/// A bus name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Reflect)]
pub struct MixBus(pub &'static str);

impl MixBus {
    /// Everything ends here; it feeds the destination.
    pub const MASTER: Self = Self("master");
    /// Music.
    pub const MUSIC: Self = Self("music");
    /// Sound effects (the default bus of a one-shot).
    pub const EFFECTS: Self = Self("effects");
    /// Dialogue and voice chat.
    pub const VOICE: Self = Self("voice");
}

impl Default for MixBus {
    fn default() -> Self {
        Self::EFFECTS
    }
}

/// Marks a bus's `GainNode` entity.
#[derive(Component, Clone, Copy, Debug, Reflect)]
#[reflect(Component)]
pub struct Bus(pub MixBus);

/// One bus of the mix.
#[derive(Clone, Debug)]
pub struct BusConfig {
    /// Its name.
    pub bus: MixBus,
    /// The bus it feeds (`None`: the destination).
    pub parent: Option<MixBus>,
    /// Initial volume (the `gain` of its `GainNode`).
    pub volume: f32,
    /// A compressor after the gain.
    pub compressor: Option<DynamicsCompressorOptions>,
    /// A cap on voices playing at once, with a stealing policy.
    pub limit: Option<VoiceLimit>,
}

impl BusConfig {
    /// A bus at volume 1 feeding `parent`, no compressor, no voice limit.
    pub fn new(bus: MixBus, parent: Option<MixBus>) -> Self {
        Self {
            bus,
            parent,
            volume: 1.0,
            compressor: None,
            limit: None,
        }
    }

    /// With a voice limit.
    pub fn with_limit(mut self, limit: VoiceLimit) -> Self {
        self.limit = Some(limit);
        self
    }

    /// With a compressor after the gain.
    pub fn with_compressor(mut self, options: DynamicsCompressorOptions) -> Self {
        self.compressor = Some(options);
        self
    }
}

/// The default mix: master → destination; music, effects and voice → master.
pub fn default_buses() -> Vec<BusConfig> {
    let master = Some(MixBus::MASTER);
    vec![
        BusConfig::new(MixBus::MASTER, None),
        BusConfig::new(MixBus::MUSIC, master),
        BusConfig::new(MixBus::EFFECTS, master),
        BusConfig::new(MixBus::VOICE, master),
    ]
}

/// What makes a [`DuckRule`] hold its bus down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DuckTrigger {
    /// The named bus has at least one playing voice.
    Bus(MixBus),
    /// The microphone's voice activity ([`Microphone::voice_active`]; never active without
    /// the [`MicrophonePlugin`](crate::microphone::MicrophonePlugin)).
    Microphone,
    /// A flag set by the game in [`DuckFlags`].
    Manual(&'static str),
}

/// Lowers `target` to `volume × level` while `trigger` is active.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DuckRule {
    /// The bus that is lowered.
    pub target: MixBus,
    /// What lowers it.
    pub trigger: DuckTrigger,
    /// The gain factor while ducked (0..=1).
    pub level: f32,
    /// Seconds from full to ducked.
    pub attack: f64,
    /// Seconds from ducked back to full.
    pub release: f64,
}

/// The buses' entities and settings (inserted by [`GameAudioPlugin`](super::GameAudioPlugin)).
#[derive(Resource, Debug, Default)]
pub struct MixBuses {
    entities: HashMap<MixBus, Entity>,
    configs: Vec<BusConfig>,
    /// Ducking rules.
    pub ducking: Vec<DuckRule>,
}

impl MixBuses {
    /// The bus's `GainNode` entity (connect a custom chain to it).
    pub fn entity(&self, bus: MixBus) -> Option<Entity> {
        self.entities.get(&bus).copied()
    }

    /// The bus's settings.
    pub fn config(&self, bus: MixBus) -> Option<&BusConfig> {
        self.configs.iter().find(|c| c.bus == bus)
    }

    /// Every bus's settings.
    pub fn configs(&self) -> &[BusConfig] {
        &self.configs
    }

    pub(crate) fn new(configs: Vec<BusConfig>, ducking: Vec<DuckRule>) -> Self {
        Self {
            entities: HashMap::new(),
            configs,
            ducking,
        }
    }
}

/// Bus volumes (linear gain). Changing one glides the bus's gain there.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct BusVolumes(pub HashMap<MixBus, f32>);

impl BusVolumes {
    /// The bus's volume (1 if unset).
    pub fn get(&self, bus: MixBus) -> f32 {
        self.0.get(&bus).copied().unwrap_or(1.0)
    }

    /// Sets the bus's volume (negative or non-finite values are ignored).
    pub fn set(&mut self, bus: MixBus, volume: f32) {
        if volume.is_finite() && volume >= 0.0 {
            self.0.insert(bus, volume);
        }
    }
}

/// Manual ducking flags ([`DuckTrigger::Manual`]).
#[derive(Resource, Debug, Clone, Default)]
pub struct DuckFlags(pub HashSet<&'static str>);

/// Spawns the buses (parents first, so each can connect to its parent). `PreStartup`.
pub(crate) fn spawn_buses(
    mut buses: ResMut<MixBuses>,
    volumes: Res<BusVolumes>,
    context: Res<AudioContext>,
    mut commands: Commands,
) {
    let buses = &mut *buses;
    let mut pending: Vec<BusConfig> = buses.configs.clone();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|config| {
            let output = match config.parent {
                None => context.destination(),
                Some(parent) => match buses.entities.get(&parent) {
                    Some(&e) => e,
                    None => return true, // its parent comes later
                },
            };
            let entity = spawn_bus(&mut commands, config, volumes.get(config.bus), output);
            buses.entities.insert(config.bus, entity);
            false
        });
        if pending.len() == before {
            for config in &pending {
                warn!(
                    "mix bus {:?}: unknown parent {:?}",
                    config.bus, config.parent
                );
            }
            break;
        }
    }
}

fn spawn_bus(commands: &mut Commands, config: &BusConfig, volume: f32, output: Entity) -> Entity {
    let name = Name::new(format!("bus {}", config.bus.0));
    let gain = commands
        .spawn((GainNode::new(volume), Bus(config.bus), name))
        .id();
    match config.compressor {
        Some(options) => {
            let compressor = commands
                .spawn((DynamicsCompressorNode::new(options), ChildOf(gain)))
                .connect(output)
                .id();
            commands.entity(gain).connect(compressor);
        }
        None => {
            commands.entity(gain).connect(output);
        }
    }
    gain
}

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
        DuckTrigger::Manual(name) => flags.0.contains(name),
    }
}

/// Per bus: the gain it is heading to and its ducking factor.
#[derive(Default)]
pub(crate) struct BusTargets(HashMap<MixBus, (f32, f32)>);

/// Turns volume changes and ducking into ramps on the buses' gains. `PostUpdate`, before the
/// sync.
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
    for config in &buses.configs {
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
        let time = if duck < old_duck {
            active.iter().map(|r| r.attack).fold(0.0, f64::max)
        } else if duck > old_duck {
            buses
                .ducking
                .iter()
                .filter(|r| r.target == config.bus)
                .map(|r| r.release)
                .fold(0.0, f64::max)
        } else {
            VOLUME_GLIDE
        };
        if let Some(mut gain) = buses.entity(config.bus).and_then(|e| gains.get_mut(e).ok()) {
            glide_to(&mut gain, volume * duck, now, time);
        }
    }
}

/// `cancelAndHoldAtTime(now)` then a linear ramp to `value` at `now + time`.
pub(crate) fn glide_to(gain: &mut GainNode, value: f32, now: f64, time: f64) {
    // `now` is a finite, non-negative clock reading and `value` finite: these cannot fail.
    let _ = gain.gain.cancel_and_hold_at_time(now);
    let _ = gain
        .gain
        .linear_ramp_to_value_at_time(value, now + time.max(0.0));
}
