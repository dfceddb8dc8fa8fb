//! Problems a game should hear about without reading messages: graph errors
//! ([`AudioGraphError`]) and, with the game layer, sounds a full bus dropped. Each kind is
//! logged once, as a warning that names the first entity and says how to read the rest (the
//! messages themselves are always sent); [`AudioWarnings`] turns the logging off.

use std::collections::HashSet;

use bevy::prelude::*;

use super::AudioGraphError;

/// Which problems are logged (once per kind). Both on by default; the messages are sent
/// either way.
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
/// let mut app = App::new();
/// app.add_plugins((MinimalPlugins, WebAudioPlugin::offline(48_000, 2)))
///     .insert_resource(AudioWarnings {
///         graph_errors: false,
///         dropped_sounds: true,
///     });
/// ```
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq, Reflect)]
#[reflect(Resource)]
pub struct AudioWarnings {
    /// Log the first [`AudioGraphError`] of each kind (RangeError, NotSupportedError, …).
    pub graph_errors: bool,
    /// Log the first sound each bus drops for its voice limit
    /// ([`SoundDropped`](crate::game::SoundDropped)).
    pub dropped_sounds: bool,
}

impl Default for AudioWarnings {
    fn default() -> Self {
        Self {
            graph_errors: true,
            dropped_sounds: true,
        }
    }
}

/// Remembers which kinds were logged.
#[derive(Debug)]
pub(crate) struct WarnOnce<K>(HashSet<K>);

impl<K> Default for WarnOnce<K> {
    fn default() -> Self {
        Self(HashSet::new())
    }
}

impl<K: std::hash::Hash + Eq> WarnOnce<K> {
    /// Whether `kind` is new (and remembers it).
    pub(crate) fn first(&mut self, kind: K) -> bool {
        self.0.insert(kind)
    }
}

/// Logs the first [`AudioGraphError`] of each kind. `Last`.
pub(crate) fn log_graph_errors(
    mut errors: MessageReader<AudioGraphError>,
    warnings: Option<Res<AudioWarnings>>,
    mut logged: Local<WarnOnce<&'static str>>,
) {
    let enabled = warnings.is_none_or(|w| w.graph_errors);
    for AudioGraphError { entity, error } in errors.read() {
        if enabled && logged.first(error.name()) {
            warn!(
                "audio graph error on {entity}: {error} (further {} errors are not logged: \
                 read AudioGraphError messages)",
                error.name()
            );
        }
    }
}
