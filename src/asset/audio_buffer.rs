//! The [`AudioBuffer`] asset: immutable planar samples in an `Arc`, shared by every source and
//! convolver that holds its `Handle`.
//!
//! A buffer made by [`AudioBuffer::from_samples`] / [`AudioBuffer::new`] plays at its own rate
//! (the source converts per sample). A buffer decoded from a file also keeps the file's samples,
//! so [`resample`](super::resample) can convert it once to the context's rate, and again from
//! the file's samples (not from a copy of a copy) if that rate changes.

use std::sync::Arc;

use bevy::prelude::*;

use crate::error::WebAudioError;
use crate::render::bus::MAX_CHANNELS;

/// Planar samples, one boxed slice per channel, shared by reference count.
pub type SharedChannels = Arc<[Box<[f32]>]>;

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
    channels: SharedChannels,
    sample_rate: f32,
    length: usize,
    /// A decoded file's samples at the file's rate (`None` for procedural buffers).
    file: Option<(SharedChannels, f32)>,
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
        check_shape(channels, length, sample_rate)?;
        Self::from_samples(vec![vec![0.0; length]; channels], sample_rate)
    }

    /// A buffer holding `channels` (each the same length).
    ///
    /// # Errors
    /// As [`AudioBuffer::new`], `NotSupportedError` when channel lengths differ, and
    /// `RangeError` for a non-finite sample (a NaN would play as NaN; the spec's
    /// `Float32Array` would take it, this crate refuses it).
    pub fn from_samples(channels: Vec<Vec<f32>>, sample_rate: f32) -> Result<Self, WebAudioError> {
        let length = channels.first().map_or(0, Vec::len);
        check_shape(channels.len(), length, sample_rate)?;
        if channels.iter().any(|c| c.len() != length) {
            return Err(WebAudioError::NotSupported(
                "every channel must have the same length".into(),
            ));
        }
        for (c, channel) in channels.iter().enumerate() {
            if let Some(i) = channel.iter().position(|v| !v.is_finite()) {
                return Err(WebAudioError::Range(format!(
                    "samples must be finite, got {} at channel {c}, frame {i}",
                    channel[i]
                )));
            }
        }
        Ok(Self {
            channels: channels.into_iter().map(Vec::into_boxed_slice).collect(),
            sample_rate,
            length,
            file: None,
        })
    }

    /// A buffer decoded from a file: as [`AudioBuffer::from_samples`], and it follows the
    /// context's rate (the asset plugin resamples it once, off the main and render threads).
    ///
    /// # Errors
    /// As [`AudioBuffer::from_samples`].
    pub fn decoded(channels: Vec<Vec<f32>>, sample_rate: f32) -> Result<Self, WebAudioError> {
        let mut buffer = Self::from_samples(channels, sample_rate)?;
        buffer.file = Some((buffer.channels.clone(), sample_rate));
        Ok(buffer)
    }

    /// `numberOfChannels`.
    pub fn number_of_channels(&self) -> usize {
        self.channels.len()
    }

    /// `length` in frames.
    pub fn length(&self) -> usize {
        self.length
    }

    /// `sampleRate`: the file's rate until the buffer is resampled, then the context's (as
    /// `decodeAudioData` reports).
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    /// The rate of the decoded file (`None` for a procedural buffer).
    pub fn file_sample_rate(&self) -> Option<f32> {
        self.file.as_ref().map(|&(_, rate)| rate)
    }

    /// `duration` in seconds.
    pub fn duration(&self) -> f64 {
        self.length as f64 / f64::from(self.sample_rate)
    }

    /// `getChannelData(channel)` (`None` for a channel that does not exist).
    pub fn channel_data(&self, channel: usize) -> Option<&[f32]> {
        self.channels.get(channel).map(|c| &**c)
    }

    /// `getChannelData(channel)` with the spec's error.
    ///
    /// # Errors
    /// `IndexSizeError` when `channel` is not below `numberOfChannels`.
    pub fn get_channel_data(&self, channel: usize) -> Result<&[f32], WebAudioError> {
        self.channel_data(channel).ok_or_else(|| {
            WebAudioError::IndexSize(format!(
                "channel {channel} of a buffer with {} channels",
                self.channels.len()
            ))
        })
    }

    /// The shared sample storage (what a processor holds; cloning is an `Arc` clone).
    pub fn shared_channels(&self) -> SharedChannels {
        self.channels.clone()
    }

    /// This buffer converted to `sample_rate` with rubato's high-quality sinc resampler
    /// (from the file's samples for a decoded buffer). Runs on the calling thread.
    ///
    /// # Errors
    /// `NotSupportedError` for a rate outside 3–768 kHz.
    pub fn resampled(&self, sample_rate: f32) -> Result<Self, WebAudioError> {
        check_shape(1, 1, sample_rate)?;
        let (source, rate) = self.resample_source();
        let mut out = self.clone();
        out.set_samples(
            super::resample::resample(&source, rate, sample_rate),
            sample_rate,
        );
        Ok(out)
    }

    /// The samples every resample starts from, and their rate.
    pub(crate) fn resample_source(&self) -> (SharedChannels, f32) {
        self.file
            .clone()
            .unwrap_or_else(|| (self.channels.clone(), self.sample_rate))
    }

    /// For a decoded buffer not yet at `context_rate`: the file's samples and rate to resample.
    pub(crate) fn needs_resample(&self, context_rate: f32) -> Option<(SharedChannels, f32)> {
        (self.file.is_some() && self.sample_rate != context_rate).then(|| self.resample_source())
    }

    /// Replaces the played samples (a resample result; the file's samples stay).
    pub(crate) fn set_samples(&mut self, channels: Vec<Vec<f32>>, sample_rate: f32) {
        self.length = channels.first().map_or(0, Vec::len);
        self.channels = channels.into_iter().map(Vec::into_boxed_slice).collect();
        self.sample_rate = sample_rate;
    }
}

/// The spec's `AudioBuffer` constructor checks (`NotSupportedError`).
fn check_shape(channels: usize, length: usize, sample_rate: f32) -> Result<(), WebAudioError> {
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(WebAudioError::NotSupported(format!(
            "numberOfChannels must be 1..=32, got {channels}"
        )));
    }
    if length == 0 {
        return Err(WebAudioError::NotSupported(
            "length must be at least 1".into(),
        ));
    }
    if !RATES.contains(&sample_rate) {
        return Err(WebAudioError::NotSupported(format!(
            "sampleRate must be 3000..=768000 Hz, got {sample_rate}"
        )));
    }
    Ok(())
}
