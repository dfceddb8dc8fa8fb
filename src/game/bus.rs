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

use crate::context::AudioContext;
use crate::ecs::connection::AudioConnectExt;
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

/// Which voice a full bus gives up for a new one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StealPolicy {
    /// The one started first (always steals).
    #[default]
    Oldest,
    /// The one with the lowest `volume × distance gain`; the new sound is dropped if it would
    /// be quieter still.
    Quietest,
    /// The one farthest from the listener; the new sound is dropped if it is farther still.
    Farthest,
    /// The one with the lowest [`PlaySound::priority`](crate::game::PlaySound::priority) (the oldest among equals); the new
    /// sound is dropped if its priority is lower.
    LowestPriority,
    /// Never steal: drop the new sound.
    None,
}

/// A cap on a bus's playing voices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VoiceLimit {
    /// At most this many voices play at once.
    pub max: usize,
    /// Which voice a full bus gives up.
    pub policy: StealPolicy,
    /// Fade of a stolen voice, in seconds.
    pub fade: f64,
}

impl VoiceLimit {
    /// Default fade of a stolen voice: 10 ms (linear), short and click-free.
    pub const DEFAULT_FADE: f64 = 0.01;

    /// `max` voices, stealing by `policy` with the default fade.
    pub fn new(max: usize, policy: StealPolicy) -> Self {
        Self {
            max,
            policy,
            fade: Self::DEFAULT_FADE,
        }
    }
}

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
    /// The microphone's voice activity ([`Microphone::voice_active`](crate::microphone::Microphone::voice_active); never active without
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

/// `cancelAndHoldAtTime(now)` then a linear ramp to `value` at `now + time`.
pub(crate) fn glide_to(gain: &mut GainNode, value: f32, now: f64, time: f64) {
    // `now` is a finite, non-negative clock reading and `value` finite: these cannot fail.
    let _ = gain.gain.cancel_and_hold_at_time(now);
    let _ = gain
        .gain
        .linear_ramp_to_value_at_time(value, now + time.max(0.0));
}
