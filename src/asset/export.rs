//! Writing audio to WAV files with hound: [`write_wav`] for planar samples, and
//! [`OfflineExportExt::render_to_wav`] to render an offline context straight to a file (no
//! audio device; see `examples/offline_render.rs`).
//!
//! Integer formats clamp to [-1, 1] and round to the nearest step (`x × 2^(bits−1)`, the
//! inverse of the loader's `n / 2^(bits−1)`); NaN is written as 0.

use std::io::{Seek, Write};
use std::path::Path;

use bevy::prelude::*;
use thiserror::Error;

use crate::error::WebAudioError;
use crate::{AudioContext, OfflineRenderExt};

/// The sample format of a written WAV file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WavFormat {
    /// 16-bit integer PCM.
    #[default]
    Int16,
    /// 24-bit integer PCM.
    Int24,
    /// 32-bit IEEE float.
    Float32,
}

/// Why a WAV file could not be written.
#[derive(Debug, Error)]
pub enum ExportError {
    /// hound (or the file system) failed.
    #[error("could not write the WAV file: {0}")]
    Wav(#[from] hound::Error),
    /// The samples cannot make a WAV file (no channels, more than 65535, channels of
    /// different lengths, a zero rate).
    #[error("cannot write these samples as WAV: {0}")]
    Shape(String),
    /// The offline render failed.
    #[error(transparent)]
    Render(#[from] WebAudioError),
}

/// Writes planar `channels` at `sample_rate` Hz to a WAV file at `path`.
///
/// # Errors
/// [`ExportError`] when the samples have no channels or ragged lengths, or writing fails.
pub fn write_wav(
    path: impl AsRef<Path>,
    channels: &[Vec<f32>],
    sample_rate: u32,
    format: WavFormat,
) -> Result<(), ExportError> {
    let spec = wav_spec(channels, sample_rate, format)?;
    let mut writer = hound::WavWriter::create(path, spec)?;
    write_samples(&mut writer, channels, format)?;
    writer.finalize()?;
    Ok(())
}

/// As [`write_wav`], into memory.
///
/// # Errors
/// As [`write_wav`].
pub fn wav_bytes(
    channels: &[Vec<f32>],
    sample_rate: u32,
    format: WavFormat,
) -> Result<Vec<u8>, ExportError> {
    let spec = wav_spec(channels, sample_rate, format)?;
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec)?;
    write_samples(&mut writer, channels, format)?;
    writer.finalize()?;
    Ok(cursor.into_inner())
}

fn wav_spec(
    channels: &[Vec<f32>],
    sample_rate: u32,
    format: WavFormat,
) -> Result<hound::WavSpec, ExportError> {
    let count = u16::try_from(channels.len())
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| ExportError::Shape(format!("{} channels", channels.len())))?;
    if channels.iter().any(|c| c.len() != channels[0].len()) {
        return Err(ExportError::Shape("channels of different lengths".into()));
    }
    if sample_rate == 0 {
        return Err(ExportError::Shape("a sample rate of 0 Hz".into()));
    }
    let (bits_per_sample, sample_format) = match format {
        WavFormat::Int16 => (16, hound::SampleFormat::Int),
        WavFormat::Int24 => (24, hound::SampleFormat::Int),
        WavFormat::Float32 => (32, hound::SampleFormat::Float),
    };
    Ok(hound::WavSpec {
        channels: count,
        sample_rate,
        bits_per_sample,
        sample_format,
    })
}

/// Interleaves and writes every frame.
fn write_samples<W: Write + Seek>(
    writer: &mut hound::WavWriter<W>,
    channels: &[Vec<f32>],
    format: WavFormat,
) -> Result<(), hound::Error> {
    let frames = channels.first().map_or(0, Vec::len);
    for i in 0..frames {
        for channel in channels {
            let x = if channel[i].is_nan() { 0.0 } else { channel[i] };
            match format {
                WavFormat::Int16 => writer.write_sample(quantize(x, 16) as i16)?,
                WavFormat::Int24 => writer.write_sample(quantize(x, 24))?,
                WavFormat::Float32 => writer.write_sample(x)?,
            }
        }
    }
    Ok(())
}

/// `x` as a `bits`-bit integer: clamped to the format's range, rounded to nearest.
pub fn quantize(x: f32, bits: u32) -> i32 {
    let scale = f64::from(1u32 << (bits - 1));
    (f64::from(x) * scale).round().clamp(-scale, scale - 1.0) as i32
}

/// Renders an offline context into a WAV file.
pub trait OfflineExportExt {
    /// Renders `frames` frames (as [`OfflineRenderExt::render`]) and writes them to `path` at
    /// the context's rate. Returns the rendered channels.
    ///
    /// # Errors
    /// `InvalidStateError` (as [`ExportError::Render`]) when the context is not offline, or an
    /// [`ExportError`] when writing fails.
    fn render_to_wav(
        &mut self,
        frames: usize,
        path: impl AsRef<Path>,
        format: WavFormat,
    ) -> Result<Vec<Vec<f32>>, ExportError>;
}

impl OfflineExportExt for App {
    fn render_to_wav(
        &mut self,
        frames: usize,
        path: impl AsRef<Path>,
        format: WavFormat,
    ) -> Result<Vec<Vec<f32>>, ExportError> {
        let rendered = self.render(frames)?;
        let rate = self.world().resource::<AudioContext>().sample_rate() as u32;
        write_wav(path, &rendered, rate, format)?;
        Ok(rendered)
    }
}
