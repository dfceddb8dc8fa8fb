//! Game-facing audio on top of the graph: what every game audio library offers, built from
//! ordinary node entities and automation (nothing here bypasses the graph).
//!
//! - [`despawn`]: [`DespawnOnEnded`] — a finished source and the chain it owns are despawned
//!   (the ECS has no garbage collector; without it every fired sound leaks an entity and a
//!   render node). Part of [`GameAudioPlugin`].
//! - [`play_sound`]: `commands.play_sound(handle)` with volume (linear or dB), fade-in, rate,
//!   detune, loop, delay, position and bus.
//! - [`control`]: stop with a fade (linear or equal-power), volume, pause, resume, seek.
//! - [`bus`]: mix buses named by typed labels ([`label`]), volumes from a resource with fades,
//!   effect inserts, a compressor, and ducking.
//! - [`volume`]: [`Volume`] (linear or dB) and [`Fade`] (linear or equal-power).
//! - [`voices`]: per-bus voice limits with stealing, and virtualisation of inaudible voices.
//! - [`suspend`]: optionally suspend the context while the game is paused or unfocused.
//! - [`warnings`]: [`SoundDropped`], and the first drop on each bus logged.
//!
//! Add [`GameAudioPlugin`] with `WebAudioPlugin` (in either order).

pub mod bus;
pub mod control;
pub mod despawn;
mod ducking;
pub mod label;
pub mod play_sound;
pub mod suspend;
pub mod voices;
pub mod volume;
pub mod warnings;

use bevy::prelude::*;
use bevy::transform::TransformSystems;

use crate::WebAudioSystems;
pub use bus::{
    Bus, BusConfig, BusInsert, BusVolumes, DuckFlag, DuckFlags, DuckRule, DuckTrigger, MixBus,
    MixBuses, StealPolicy, VOLUME_GLIDE, VoiceLimit,
};
pub use control::{PAUSE_FADE, SoundControlExt};
pub use despawn::DespawnOnEnded;
pub use label::AudioLabel;
pub use play_sound::{PlaySound, PlaySoundExt, SoundSettingsExt, Voice, VoiceState};
pub use suspend::{SuspendPolicy, WindowFocusState};
pub use volume::{Fade, FadeCurve, Volume};
pub use warnings::{DropReason, SoundDropped};

/// The game layer, on top of the graph: one-shots ([`PlaySoundExt::play_sound`]) and
/// [`DespawnOnEnded`], mix buses, ducking, voice limits and virtualisation. `WebAudioPlugin`
/// alone is the bare graph: without this plugin `PlaySound` requests are never admitted.
///
/// # Examples
/// ```no_run
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
/// App::new().add_plugins((
///     MinimalPlugins,
///     WebAudioPlugin::default(),
///     GameAudioPlugin::default().with_ducking(DuckRule {
///         target: MixBus::MUSIC,
///         trigger: DuckTrigger::Bus(MixBus::VOICE),
///         level: 0.3,
///         attack: 0.1,
///         release: 0.5,
///     }),
/// ));
/// ```
#[derive(Clone, Debug)]
pub struct GameAudioPlugin {
    /// The buses ([`bus::default_buses`] by default).
    pub buses: Vec<BusConfig>,
    /// Ducking rules (none by default).
    pub ducking: Vec<DuckRule>,
}

impl Default for GameAudioPlugin {
    fn default() -> Self {
        Self {
            buses: bus::default_buses(),
            ducking: Vec::new(),
        }
    }
}

impl GameAudioPlugin {
    /// Adds a ducking rule.
    pub fn with_ducking(mut self, rule: DuckRule) -> Self {
        self.ducking.push(rule);
        self
    }

    /// Adds a bus, or replaces the one with the same name (a bus must be added after the
    /// bus it feeds, or that one must be a default bus).
    pub fn with_bus(mut self, config: BusConfig) -> Self {
        match self.buses.iter_mut().find(|c| c.bus == config.bus) {
            Some(existing) => *existing = config,
            None => self.buses.push(config),
        }
        self
    }

    /// Sets a bus's voice limit (adds the bus under master if it is not there).
    pub fn with_limit(mut self, bus: impl Into<MixBus>, limit: VoiceLimit) -> Self {
        let bus = bus.into();
        match self.buses.iter_mut().find(|c| c.bus == bus) {
            Some(config) => config.limit = Some(limit),
            None => self
                .buses
                .push(BusConfig::new(bus, Some(MixBus::MASTER)).with_limit(limit)),
        }
        self
    }
}

/// The game-audio systems' order within `PostUpdate`.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GameAudioSystems;

impl Plugin for GameAudioPlugin {
    fn build(&self, app: &mut App) {
        let volumes = BusVolumes::from_configs(&self.buses);
        app.insert_resource(MixBuses::new(self.buses.clone(), self.ducking.clone()))
            .insert_resource(volumes)
            .init_resource::<DuckFlags>()
            .init_resource::<SuspendPolicy>()
            .init_resource::<WindowFocusState>()
            .add_message::<SoundDropped>()
            .register_type::<DespawnOnEnded>()
            .register_type::<Bus>()
            .register_type::<PlaySound>()
            .register_type::<Voice>()
            .register_type::<MixBuses>()
            .register_type::<BusVolumes>()
            .register_type::<DuckFlags>()
            .register_type::<SuspendPolicy>()
            .register_type::<WindowFocusState>()
            .add_systems(Last, warnings::log_dropped_sounds)
            .add_systems(
                First,
                despawn::despawn_ended.after(WebAudioSystems::Feedback),
            )
            .configure_sets(
                PostUpdate,
                GameAudioSystems
                    .after(TransformSystems::Propagate)
                    .in_set(WebAudioSystems::WriteNodes),
            )
            .add_systems(
                PostUpdate,
                (voices::virtualize_voices, voices::admit_sounds)
                    .chain()
                    .in_set(GameAudioSystems),
            )
            .add_systems(PreStartup, bus::spawn_buses)
            .add_systems(Last, suspend::apply_suspend_policy)
            .add_systems(
                PostUpdate,
                ducking::drive_bus_gains
                    .after(GameAudioSystems)
                    .in_set(WebAudioSystems::WriteNodes),
            );
        #[cfg(feature = "window")]
        app.add_systems(
            PreUpdate,
            suspend::track_focus.run_if(resource_exists::<Messages<bevy::window::WindowFocused>>),
        );
    }

    fn finish(&self, app: &mut App) {
        if !app.is_plugin_added::<crate::WebAudioPlugin>() {
            warn!(
                "GameAudioPlugin without WebAudioPlugin: add WebAudioPlugin too, or no sound plays"
            );
        }
        // `MinimalPlugins` has no transform propagation: spatial sounds would all sit at the
        // origin (no panning, no distance, no virtualisation) without a word.
        if !app.is_plugin_added::<bevy::transform::TransformPlugin>() {
            warn!(
                "GameAudioPlugin without TransformPlugin: GlobalTransforms are never \
                 propagated, so spatial sounds stay at the origin"
            );
        }
    }
}
