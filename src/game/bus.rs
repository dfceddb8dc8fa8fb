//! Mix buses: named [`GainNode`] entities that sounds route into (e.g. master, music,
//! effects, voice), each optionally through effect inserts (any chain of nodes: a filter, a
//! convolver reverb) and a [`DynamicsCompressorNode`], each feeding its parent bus or the
//! destination. Nothing bypasses the graph: a bus is an ordinary node entity with a [`Bus`]
//! marker, and its volume and ducking are automation on its `gain`.
//!
//! - **Names** are typed ([`MixBus::of`] a value of the game's own
//!   [`AudioLabel`](super::AudioLabel) type, or
//!   one of the built-in [`MixBus::MASTER`], [`MixBus::MUSIC`], [`MixBus::EFFECTS`],
//!   [`MixBus::VOICE`]): a misspelt bus does not compile.
//! - **Volumes** come from the [`BusVolumes`] resource, linear or in decibels ([`Volume`]). A
//!   change glides to the new value over [`VOLUME_GLIDE`] (no zipper noise), or along the
//!   [`Fade`] given to [`BusVolumes::fade_to`] (linear or equal-power).
//! - **Ducking** ([`DuckRule`]): while a trigger is active (another bus has playing voices,
//!   the microphone hears a voice, or a [`DuckFlag`] is raised in [`DuckFlags`]) the target
//!   bus's gain goes to `volume × level` along a linear ramp of `attack` seconds, and back to
//!   `volume` along a ramp of `release` seconds once no rule holds it down. Each change is
//!   `cancelAndHoldAtTime(now)` then `linearRampToValueAtTime(target, now + time)`, so a
//!   release during an attack starts from wherever the gain is.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bevy::prelude::*;

use super::label::Label;
use super::volume::{Fade, Volume};
use crate::context::AudioContext;
use crate::ecs::connection::AudioConnectExt;
use crate::node::dynamics_compressor::{DynamicsCompressorNode, DynamicsCompressorOptions};
use crate::node::gain::GainNode;

/// How long a volume change from [`BusVolumes::set`] glides, in seconds.
pub const VOLUME_GLIDE: f64 = 0.02;

/// A bus: one of the built-in four or [`MixBus::of`] a label of the game's own type (see
/// [`AudioLabel`](super::AudioLabel)). Every API that takes a bus takes `impl Into<MixBus>`, so
/// a label value can be passed as it is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reflect)]
pub struct MixBus(Label);

impl MixBus {
    /// Everything ends here; it feeds the destination.
    pub const MASTER: Self = Self(Label::builtin("master"));
    /// Music.
    pub const MUSIC: Self = Self(Label::builtin("music"));
    /// Sound effects (the default bus of a one-shot).
    pub const EFFECTS: Self = Self(Label::builtin("effects"));
    /// Dialogue and voice chat.
    pub const VOICE: Self = Self(Label::builtin("voice"));
}

super::label::labelled!(MixBus, "The bus");

impl std::fmt::Display for MixBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

/// A manual ducking flag ([`DuckTrigger::Manual`]), named by a label of the game's own type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Reflect)]
pub struct DuckFlag(Label);

super::label::labelled!(DuckFlag, "The flag");

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Reflect)]
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
#[derive(Clone, Copy, Debug, PartialEq, Reflect)]
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

/// An effect insert on a bus: spawns one node (a filter, a convolver, …) and returns its
/// entity. Made by [`BusConfig::with_insert`].
#[derive(Clone)]
pub struct BusInsert {
    spawn: Arc<dyn Fn(&mut Commands) -> Entity + Send + Sync>,
    type_name: &'static str,
}

impl std::fmt::Debug for BusInsert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BusInsert({})", self.type_name)
    }
}

/// One bus of the mix.
#[derive(Clone, Debug, Reflect)]
pub struct BusConfig {
    /// Its name.
    pub bus: MixBus,
    /// The bus it feeds (`None`: the destination).
    pub parent: Option<MixBus>,
    /// Initial volume (the `gain` of its `GainNode`).
    pub volume: f32,
    /// Effect nodes after the gain, in order (each feeds the next). Not reflected (they are
    /// spawners); the nodes they spawn are ordinary, reflected entities.
    #[reflect(ignore)]
    pub inserts: Vec<BusInsert>,
    /// A compressor after the gain and the inserts.
    pub compressor: Option<DynamicsCompressorOptions>,
    /// A cap on voices playing at once, with a stealing policy.
    pub limit: Option<VoiceLimit>,
}

impl BusConfig {
    /// A bus at volume 1 feeding `parent`, no inserts, no compressor, no voice limit.
    pub fn new(bus: impl Into<MixBus>, parent: Option<MixBus>) -> Self {
        Self {
            bus: bus.into(),
            parent,
            volume: 1.0,
            inserts: Vec::new(),
            compressor: None,
            limit: None,
        }
    }

    /// With this initial volume (linear or [`Volume::Decibels`]).
    pub fn with_volume(mut self, volume: impl Into<Volume>) -> Self {
        self.volume = volume.into().to_linear();
        self
    }

    /// With an effect node after the gain (and after the inserts added before it): any audio
    /// node bundle, e.g. a `BiquadFilterNode` or a `ConvolverNode` with its impulse response.
    /// The node is a child of the bus entity.
    ///
    /// # Examples
    /// ```
    /// use bevy_webaudio::prelude::*;
    /// let mut lowpass = BiquadFilterNode::new(BiquadFilterType::Lowpass);
    /// lowpass.frequency.set_value(800.0).unwrap();
    /// let muffled = BusConfig::new(MixBus::MUSIC, Some(MixBus::MASTER)).with_insert(lowpass);
    /// assert_eq!(muffled.inserts.len(), 1);
    /// ```
    pub fn with_insert<B: Bundle + Clone>(mut self, node: B) -> Self {
        self.inserts.push(BusInsert {
            spawn: Arc::new(move |commands: &mut Commands| commands.spawn(node.clone()).id()),
            type_name: std::any::type_name::<B>(),
        });
        self
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Reflect)]
pub enum DuckTrigger {
    /// The named bus has at least one playing voice.
    Bus(MixBus),
    /// The microphone's voice activity ([`Microphone::voice_active`](crate::microphone::Microphone::voice_active); never active without
    /// the [`MicrophonePlugin`](crate::microphone::MicrophonePlugin)).
    Microphone,
    /// A flag raised by the game in [`DuckFlags`].
    Manual(DuckFlag),
}

/// Lowers `target` to `volume × level` while `trigger` is active.
#[derive(Clone, Copy, Debug, PartialEq, Reflect)]
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
#[derive(Resource, Debug, Default, Reflect)]
#[reflect(Resource)]
pub struct MixBuses {
    entities: HashMap<MixBus, Entity>,
    configs: Vec<BusConfig>,
    /// Ducking rules.
    pub ducking: Vec<DuckRule>,
}

impl MixBuses {
    /// The bus's `GainNode` entity (connect a custom chain to it).
    pub fn entity(&self, bus: impl Into<MixBus>) -> Option<Entity> {
        self.entities.get(&bus.into()).copied()
    }

    /// The bus's settings.
    pub fn config(&self, bus: impl Into<MixBus>) -> Option<&BusConfig> {
        let bus = bus.into();
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

/// Bus volumes (linear gain). Changing one moves the bus's gain there: over
/// [`VOLUME_GLIDE`] after [`BusVolumes::set`], along the fade given to
/// [`BusVolumes::fade_to`].
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
/// fn open_menu(mut volumes: ResMut<BusVolumes>) {
///     volumes.set(MixBus::EFFECTS, Volume::Decibels(-12.0));
///     volumes.fade_to(MixBus::MUSIC, Volume::SILENT, Fade::equal_power(2.0));
/// }
/// ```
#[derive(Resource, Debug, Clone, Default, PartialEq, Reflect)]
#[reflect(Resource)]
pub struct BusVolumes {
    volumes: HashMap<MixBus, f32>,
    fades: HashMap<MixBus, Fade>,
}

impl BusVolumes {
    /// The bus's volume, linear (1 if unset).
    pub fn get(&self, bus: impl Into<MixBus>) -> f32 {
        self.volumes.get(&bus.into()).copied().unwrap_or(1.0)
    }

    /// Sets the bus's volume; the gain glides there over [`VOLUME_GLIDE`]. Negative,
    /// non-finite or NaN volumes are ignored.
    pub fn set(&mut self, bus: impl Into<MixBus>, volume: impl Into<Volume>) {
        self.fade_to(bus, volume, Fade::linear(VOLUME_GLIDE));
    }

    /// Moves the bus's volume to `volume` along `fade` (linear or equal-power), starting in
    /// the frame this is called. Negative, non-finite or NaN volumes are ignored.
    pub fn fade_to(&mut self, bus: impl Into<MixBus>, volume: impl Into<Volume>, fade: Fade) {
        let (bus, volume) = (bus.into(), volume.into().to_linear());
        if volume.is_finite() && volume >= 0.0 {
            self.volumes.insert(bus, volume);
            self.fades.insert(bus, fade);
        }
    }

    /// The fade of the bus's last volume change.
    pub fn fade(&self, bus: impl Into<MixBus>) -> Fade {
        let bus = bus.into();
        self.fades
            .get(&bus)
            .copied()
            .unwrap_or(Fade::linear(VOLUME_GLIDE))
    }

    /// Every bus's configured volume (the plugin's initial values).
    pub(crate) fn from_configs(configs: &[BusConfig]) -> Self {
        Self {
            volumes: configs.iter().map(|c| (c.bus, c.volume)).collect(),
            fades: HashMap::new(),
        }
    }
}

/// Raised manual ducking flags ([`DuckTrigger::Manual`]).
#[derive(Resource, Debug, Clone, Default, Reflect)]
#[reflect(Resource)]
pub struct DuckFlags(HashSet<DuckFlag>);

impl DuckFlags {
    /// Raises or lowers `flag`.
    pub fn set(&mut self, flag: impl Into<DuckFlag>, raised: bool) {
        let flag = flag.into();
        if raised {
            self.0.insert(flag);
        } else {
            self.0.remove(&flag);
        }
    }

    /// Whether `flag` is raised.
    pub fn is_raised(&self, flag: impl Into<DuckFlag>) -> bool {
        self.0.contains(&flag.into())
    }
}

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
    let name = Name::new(format!("bus {}", config.bus));
    let gain = commands
        .spawn((GainNode::new(volume), Bus(config.bus), name))
        .id();
    let mut chain: Vec<Entity> = config
        .inserts
        .iter()
        .map(|insert| (insert.spawn)(commands))
        .collect();
    if let Some(options) = config.compressor {
        chain.push(commands.spawn(DynamicsCompressorNode::new(options)).id());
    }
    let mut last = gain;
    for node in chain {
        commands.entity(node).insert(ChildOf(gain));
        commands.entity(last).connect(node);
        last = node;
    }
    commands.entity(last).connect(output);
    gain
}
