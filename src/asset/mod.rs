//! `AudioBuffer`, a Bevy asset (ARCHITECTURE.md, decision 12): immutable planar samples in an
//! `Arc`, shared by every source and convolver that holds its `Handle`. Procedural audio is
//! `Assets<AudioBuffer>::add(AudioBuffer::from_samples(..)?)`.

use std::sync::Arc;

use bevy::asset::AssetEvent;
use bevy::prelude::*;

use crate::error::WebAudioError;
use crate::render::bus::MAX_CHANNELS;

/// The spec's `AudioBuffer`: `numberOfChannels` channels of `length` frames at `sampleRate`.
///
/// # Examples
/// ```
/// use bevy_webaudio::asset::AudioBuffer;
/// let click = AudioBuffer::from_samples(vec![vec![1.0, 0.5, 0.25]], 48_000.0)?;
/// assert_eq!(click.length(), 3);
/// assert!(AudioBuffer::new(1, 0, 48_000.0).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Asset, TypePath, Clone, Debug)]
pub struct AudioBuffer {
    channels: Arc<[Box<[f32]>]>,
    sample_rate: f32,
    length: usize,
}

/// The sample rates the spec requires a context to support (3 kHz to 768 kHz).
const RATES: std::ops::RangeInclusive<f32> = 3000.0..=768_000.0;

impl AudioBuffer {
    /// `new AudioBuffer({ numberOfChannels, length, sampleRate })`: silence.
    ///
    /// # Errors
    /// `NotSupportedError` for 0 or more than 32 channels, a zero length, or a sample rate
    /// outside 3–768 kHz.
    pub fn new(channels: usize, length: usize, sample_rate: f32) -> Result<Self, WebAudioError> {
        Self::from_samples(vec![vec![0.0; length]; channels], sample_rate)
    }

    /// A buffer holding `channels` (each the same length).
    ///
    /// # Errors
    /// As [`AudioBuffer::new`], and `NotSupportedError` when channel lengths differ.
    pub fn from_samples(channels: Vec<Vec<f32>>, sample_rate: f32) -> Result<Self, WebAudioError> {
        if channels.is_empty() || channels.len() > MAX_CHANNELS {
            return Err(WebAudioError::NotSupported(format!(
                "numberOfChannels must be 1..=32, got {}",
                channels.len()
            )));
        }
        let length = channels[0].len();
        if length == 0 {
            return Err(WebAudioError::NotSupported(
                "length must be at least 1".into(),
            ));
        }
        if channels.iter().any(|c| c.len() != length) {
            return Err(WebAudioError::NotSupported(
                "every channel must have the same length".into(),
            ));
        }
        if !RATES.contains(&sample_rate) {
            return Err(WebAudioError::NotSupported(format!(
                "sampleRate must be 3000..=768000 Hz, got {sample_rate}"
            )));
        }
        Ok(Self {
            channels: channels.into_iter().map(Vec::into_boxed_slice).collect(),
            sample_rate,
            length,
        })
    }

    /// `numberOfChannels`.
    pub fn number_of_channels(&self) -> usize {
        self.channels.len()
    }

    /// `length` in frames.
    pub fn length(&self) -> usize {
        self.length
    }

    /// `sampleRate`.
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    /// `duration` in seconds.
    pub fn duration(&self) -> f64 {
        self.length as f64 / f64::from(self.sample_rate)
    }

    /// `getChannelData(channel)`.
    pub fn channel_data(&self, channel: usize) -> Option<&[f32]> {
        self.channels.get(channel).map(|c| &**c)
    }

    /// The shared sample storage (what a processor holds; cloning is an `Arc` clone).
    pub fn shared_channels(&self) -> Arc<[Box<[f32]>]> {
        self.channels.clone()
    }
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
    nodes: Query<(Entity, &T), Changed<T>>,
    buffers: Res<Assets<AudioBuffer>>,
    context: Res<crate::context::AudioContext>,
    mut checked: Local<std::collections::HashMap<Entity, AssetId<AudioBuffer>>>,
    mut errors: MessageWriter<crate::ecs::AudioGraphError>,
) {
    for (entity, node) in &nodes {
        let Some(id) = node.buffer_id() else {
            checked.remove(&entity);
            continue;
        };
        if checked.get(&entity) == Some(&id) {
            continue;
        }
        let Some(buffer) = buffers.get(id) else {
            continue;
        };
        checked.insert(entity, id);
        if let Err(error) = T::check_buffer(buffer, context.sample_rate()) {
            errors.write(crate::ecs::AudioGraphError { entity, error });
        }
    }
}
