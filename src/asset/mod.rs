//! `AudioBuffer`, a Bevy asset (ARCHITECTURE.md, decision 12): immutable planar samples in an
//! `Arc`, shared by every source and convolver that holds its `Handle`. Procedural audio is
//! `Assets<AudioBuffer>::add(AudioBuffer::from_samples(..)?)`.

use std::sync::Arc;

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
