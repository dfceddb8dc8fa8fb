//! Audio assets: the [`AudioBuffer`] asset, loading it from files
//! ([`loader`]), resampling it once to the context's rate ([`resample`]), writing renders to WAV
//! files ([`export`]), and the systems that re-send a buffer to the nodes holding it when the
//! asset arrives or changes.
//!
//! **Hot reload (a deviation from the spec).** The spec sets a source's buffer once. Here a
//! buffer asset that changes — a file edited while Bevy's file watcher runs, an
//! `AssetServer::reload`, `Assets::get_mut`, or the resample to the context's rate — is sent
//! again to every [`AudioBufferSourceNode`](crate::node::audio_buffer_source::AudioBufferSourceNode)
//! and [`ConvolverNode`](crate::node::convolver::ConvolverNode) that holds it. A playing source
//! switches to the new samples at the next render-quantum boundary, keeping its playhead time
//! (in seconds), and the old samples travel back to the control side to be dropped there.

use bevy::asset::AssetEvent;
use bevy::prelude::*;

use crate::error::WebAudioError;

mod audio_buffer;
pub mod export;
pub mod loader;
pub mod resample;
pub mod stream;

pub use audio_buffer::{AudioBuffer, SharedChannels};
pub use loader::{AudioLoadError, AudioLoader, decode_audio_data};

/// Registers the asset, its loader and the resample systems (with an `AssetServer`), or just
/// the `Assets` store (without one).
pub(crate) fn register(app: &mut App) {
    if !app.world().contains_resource::<AssetServer>() {
        app.init_resource::<Assets<AudioBuffer>>();
        return;
    }
    app.init_asset::<AudioBuffer>()
        .init_asset_loader::<AudioLoader>()
        .init_resource::<resample::PendingResamples>()
        .add_systems(
            PostUpdate,
            (resample::start_resampling, resample::finish_resampling)
                .chain()
                .before(bevy::asset::AssetEventSystems),
        );
}

/// Whether [`register`] ran before the `AssetServer` existed (a plugin order that loses the
/// loader): the server is there now, the loader's resample state is not.
pub(crate) fn registered_too_early(app: &App) -> bool {
    let world = app.world();
    world.contains_resource::<AssetServer>()
        && !world.contains_resource::<resample::PendingResamples>()
}

/// Installs what a node type holding a `Handle<AudioBuffer>` needs (called from its
/// [`AudioNode::register`](crate::node::AudioNode::register)): a resync when its asset arrives
/// or changes (with the asset plugin), and the node's buffer checks.
pub(crate) fn register_buffer_node<T: BufferNode>(app: &mut App) {
    app.add_systems(
        crate::WebAudioSync,
        check_buffer_nodes::<T>.in_set(crate::WebAudioSystems::WriteNodes),
    );
    if app.world().contains_resource::<AssetServer>() {
        app.add_systems(
            crate::WebAudioSync,
            (resync_buffer_nodes::<T>, fail_buffer_nodes::<T>)
                .in_set(crate::WebAudioSystems::WriteNodes)
                .before(check_buffer_nodes::<T>),
        );
    }
}

/// Marks the nodes of type `T` whose buffer's file just failed to load as changed, so
/// [`check_buffer_nodes`] reports them (once) and makes them play as nodes without a buffer.
pub fn fail_buffer_nodes<T: BufferNode>(
    mut failures: MessageReader<bevy::asset::AssetLoadFailedEvent<AudioBuffer>>,
    mut nodes: Query<&mut T>,
) {
    let failed: Vec<AssetId<AudioBuffer>> = failures.read().map(|f| f.id).collect();
    if failed.is_empty() {
        return;
    }
    for mut node in &mut nodes {
        if node.buffer_id().is_some_and(|id| failed.contains(&id)) {
            node.set_changed();
        }
    }
}

fn fail<T: BufferNode>(
    entity: Entity,
    node: &mut T,
    message: &str,
    errors: &mut MessageWriter<crate::ecs::AudioGraphError>,
) {
    node.buffer_failed();
    // The loader's error, without the backtrace Bevy's error type appends.
    let message = message.lines().next().unwrap_or_default();
    errors.write(crate::ecs::AudioGraphError {
        entity,
        error: WebAudioError::Encoding(format!("the buffer failed to load: {message}")),
    });
}

/// A node component that holds a `Handle<AudioBuffer>` and needs to hear when its asset
/// arrives or changes ([`AudioBufferSourceNode`](crate::node::audio_buffer_source::AudioBufferSourceNode),
/// [`ConvolverNode`](crate::node::convolver::ConvolverNode)).
pub trait BufferNode: Component<Mutability = bevy::ecs::component::Mutable> {
    /// The buffer's asset id, if a buffer is set.
    fn buffer_id(&self) -> Option<AssetId<AudioBuffer>>;

    /// The asset was added, loaded, modified or removed: change the node's attributes so the
    /// sync sends the samples again.
    fn buffer_changed(&mut self);

    /// The asset's file failed to load: the node behaves as if it had no buffer (a source then
    /// ends as soon as it would play, so a one-shot of a missing file cleans up after itself).
    /// Default: nothing (a node without a buffer is silent).
    fn buffer_failed(&mut self) {}

    /// The node's synchronous checks on a buffer (the spec's `NotSupportedError`s).
    ///
    /// # Errors
    /// As the node's spec section says; none by default.
    fn check_buffer(_buffer: &AudioBuffer, _context_sample_rate: f32) -> Result<(), WebAudioError> {
        Ok(())
    }
}

/// Bumps the nodes of type `T` whose buffer asset was added, loaded, modified or removed.
/// Registered by the plugin when the asset plugin is present (without it no `AssetEvent` is
/// sent, and only buffers added before their node are resolved).
pub fn resync_buffer_nodes<T: BufferNode>(
    mut events: MessageReader<AssetEvent<AudioBuffer>>,
    mut nodes: Query<&mut T>,
) {
    let mut touched: Vec<AssetId<AudioBuffer>> = Vec::new();
    for event in events.read() {
        match *event {
            AssetEvent::Added { id }
            | AssetEvent::LoadedWithDependencies { id }
            | AssetEvent::Modified { id }
            | AssetEvent::Removed { id } => touched.push(id),
            AssetEvent::Unused { .. } => {}
        }
    }
    if touched.is_empty() {
        return;
    }
    for mut node in &mut nodes {
        if node.buffer_id().is_some_and(|id| touched.contains(&id)) {
            node.buffer_changed();
        }
    }
}

/// Runs [`BufferNode::check_buffer`] once per (node, buffer) as soon as the asset is loaded,
/// and reports a failure as an [`AudioGraphError`](crate::ecs::AudioGraphError) (the node then
/// behaves as if it had no buffer).
pub fn check_buffer_nodes<T: BufferNode>(
    mut nodes: Query<(Entity, &mut T), Changed<T>>,
    buffers: Res<Assets<AudioBuffer>>,
    server: Option<Res<AssetServer>>,
    context: Res<crate::context::AudioContext>,
    mut checked: Local<std::collections::HashMap<Entity, AssetId<AudioBuffer>>>,
    mut errors: MessageWriter<crate::ecs::AudioGraphError>,
) {
    for (entity, mut node) in &mut nodes {
        let Some(id) = node.buffer_id() else {
            checked.remove(&entity);
            continue;
        };
        if checked.get(&entity) == Some(&id) {
            continue;
        }
        let Some(buffer) = buffers.get(id) else {
            // A node spawned with a handle whose load has already failed.
            if let Some(bevy::asset::LoadState::Failed(error)) =
                server.as_ref().map(|s| s.load_state(id))
            {
                checked.insert(entity, id);
                fail(
                    entity,
                    node.bypass_change_detection(),
                    &error.to_string(),
                    &mut errors,
                );
            }
            continue;
        };
        if buffer.needs_resample(context.sample_rate()).is_some() {
            // A decoded file on its way to the context's rate: checked once it is there.
            continue;
        }
        checked.insert(entity, id);
        if let Err(error) = T::check_buffer(buffer, context.sample_rate()) {
            errors.write(crate::ecs::AudioGraphError { entity, error });
        }
    }
}
