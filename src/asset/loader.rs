//! Decoding files into [`AudioBuffer`]s (the crate's `decodeAudioData`) with symphonia: WAV
//! (PCM 8/16/24/32-bit integer and 32/64-bit float), FLAC, Ogg Vorbis and MP3 (gapless: the
//! encoder's delay and padding are removed when the file says how much).
//!
//! [`AudioLoader`] is the Bevy [`AssetLoader`]; it runs on Bevy's IO task pool. The buffer keeps
//! the file's rate and channel layout (channels in file order, planar); the asset plugin then
//! resamples it once to the context's rate (see [`resample`](super::resample)).
//!
//! A file that cannot be decoded fails the load with an [`AudioLoadError`] saying why (empty,
//! not audio, unsupported codec, corrupt, truncated); the asset server logs it and marks the
//! handle failed, and the game keeps running.

use std::io::{Cursor, ErrorKind};

use bevy::asset::io::Reader;
use bevy::asset::{AssetLoader, LoadContext};
use bevy::prelude::*;
use symphonia::core::audio::{AudioBuffer as DecodedBuffer, AudioBufferRef, Signal};
use symphonia::core::codecs::{CODEC_TYPE_NULL, CodecType, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader, Track};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use thiserror::Error;

use super::AudioBuffer;
use crate::error::WebAudioError;

/// Why a file could not be decoded (the spec's `decodeAudioData` rejects with an
/// `EncodingError`; these say which kind).
#[derive(Debug, Error)]
pub enum AudioLoadError {
    /// The file could not be read.
    #[error("EncodingError: could not read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file has no bytes.
    #[error("EncodingError: the file is empty")]
    Empty,
    /// No format reader recognised the bytes (a text file renamed `.wav`, an unsupported
    /// container).
    #[error(
        "EncodingError: not an audio file this crate decodes (WAV, FLAC, Ogg Vorbis, MP3): {0}"
    )]
    UnrecognizedFormat(String),
    /// The container was recognised but its codec or a feature it uses is not supported.
    #[error("EncodingError: unsupported codec or feature: {0}")]
    UnsupportedCodec(String),
    /// The file has no audio track.
    #[error("EncodingError: the file has no audio track")]
    NoAudioTrack,
    /// The data is malformed (a bad header, a frame failing its checksum, ...).
    #[error("EncodingError: corrupt audio data after {frames} decoded frames: {reason}")]
    Corrupt {
        /// Frames decoded before the error.
        frames: usize,
        /// The decoder's description.
        reason: String,
    },
    /// The file ends before the length its header states.
    #[error(
        "EncodingError: truncated file: the header states {expected} frames, only {decoded} could be read"
    )]
    Truncated {
        /// Frames the header promises.
        expected: u64,
        /// Frames decoded.
        decoded: usize,
    },
    /// The decoded audio is not a valid `AudioBuffer` (no frames, more than 32 channels, a
    /// sample rate outside 3–768 kHz).
    #[error("EncodingError: the decoded audio is not a valid AudioBuffer: {0}")]
    InvalidBuffer(WebAudioError),
    /// The decoded audio would exceed [`MAX_DECODED_SAMPLES`] (a small, highly compressible
    /// file can decode to more memory than a machine has): stream such a file with a
    /// `MediaElementAudioSourceNode` instead.
    #[error(
        "EncodingError: the decoded audio would exceed {limit} samples ({} MiB of f32); stream it with a MediaElementAudioSourceNode",
        limit * 4 / (1024 * 1024)
    )]
    TooLarge {
        /// The limit, in samples (frames × channels).
        limit: usize,
    },
}

/// The most samples (frames × channels, 4 bytes each) a file may decode to: 1 GiB of audio,
/// about 46 minutes of 48 kHz stereo.
pub const MAX_DECODED_SAMPLES: usize = 1 << 28;

/// The file extensions [`AudioLoader`] claims.
pub const EXTENSIONS: &[&str] = &["wav", "wave", "flac", "ogg", "oga", "mp3"];

/// Bevy's loader for `AudioBuffer` assets (`asset_server.load("sounds/hit.ogg")`).
#[derive(Default, TypePath)]
pub struct AudioLoader;

impl AssetLoader for AudioLoader {
    type Asset = AudioBuffer;
    type Settings = ();
    type Error = AudioLoadError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        load_context: &mut LoadContext<'_>,
    ) -> Result<AudioBuffer, AudioLoadError> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        let extension = load_context
            .path()
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_owned);
        decode_audio_data(bytes, extension.as_deref())
    }

    fn extensions(&self) -> &[&str] {
        EXTENSIONS
    }
}

/// Decodes a whole file held in memory (`decodeAudioData`). `extension` is a hint for the
/// format probe; the bytes decide.
///
/// # Errors
/// An [`AudioLoadError`] saying why the bytes are not decodable audio.
pub fn decode_audio_data(
    bytes: Vec<u8>,
    extension: Option<&str>,
) -> Result<AudioBuffer, AudioLoadError> {
    if bytes.is_empty() {
        return Err(AudioLoadError::Empty);
    }
    let mut stream = OpenStream::open(Box::new(Cursor::new(bytes)), extension)?;
    let too_large = AudioLoadError::TooLarge {
        limit: MAX_DECODED_SAMPLES,
    };
    // A header that states more than the limit fails before anything is decoded.
    if stream
        .n_frames
        .unwrap_or(0)
        .saturating_mul(stream.channels as u64)
        > MAX_DECODED_SAMPLES as u64
    {
        return Err(too_large);
    }
    // Exact formats (PCM, FLAC) time their packets in frames: a frame lost to corruption
    // (skipped by the decoder, or by the reader resyncing) leaves a gap, filled with silence so
    // the rest keeps its place; a file that ends early is `Truncated`.
    let exact = stream.promised_frames().is_some();
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut samples = 0usize;
    let mut gaps = 0u64;
    while let Some((start, frames)) = stream.next_frames_at()? {
        if channels.is_empty() {
            channels = vec![Vec::new(); frames.len()];
        }
        let written = channels.first().map_or(0, Vec::len) as u64;
        let gap = if exact {
            start.saturating_sub(written)
        } else {
            0
        };
        samples += (gap as usize + frames.first().map_or(0, |c| c.len())) * frames.len();
        if samples > MAX_DECODED_SAMPLES {
            return Err(too_large);
        }
        gaps += gap;
        for (out, data) in channels.iter_mut().zip(frames) {
            out.resize(out.len() + gap as usize, 0.0);
            out.extend_from_slice(data);
        }
    }
    let decoded = channels.first().map_or(0, Vec::len);
    if let Some(expected) = stream.promised_frames()
        && (decoded as u64) < expected
    {
        return Err(AudioLoadError::Truncated { expected, decoded });
    }
    if stream.skipped_packets > 0 || gaps > 0 {
        bevy::log::warn!(
            "corrupt audio data: {} packet(s) skipped, {gaps} frames of silence in their place",
            stream.skipped_packets
        );
    }
    AudioBuffer::decoded(channels, stream.sample_rate as f32).map_err(AudioLoadError::InvalidBuffer)
}

/// A packet's frames (one slice per channel) and where they start in the stream, in frames.
pub(crate) type TimedFrames<'a> = (u64, Vec<&'a [f32]>);

/// A probed file with a decoder for its first audio track, yielding planar f32 frames.
pub(crate) struct OpenStream {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track: u32,
    codec: CodecType,
    /// Frames the header promises, when it states them.
    n_frames: Option<u64>,
    /// The file's rate in Hz.
    pub sample_rate: u32,
    /// The file's channel count.
    pub channels: usize,
    scratch: Option<DecodedBuffer<f32>>,
    /// Frames to drop from the next packets (an accurate seek lands on the packet holding the
    /// wanted frame, which may start earlier).
    skip: usize,
    /// Frames decoded so far.
    pub decoded: usize,
    /// Corrupt packets skipped so far.
    pub skipped_packets: usize,
    /// Where the last packet read starts, in frames (its timestamp).
    packet_start: u64,
}

impl OpenStream {
    /// Probes `source` and opens a decoder for its first audio track.
    pub(crate) fn open(
        source: Box<dyn symphonia::core::io::MediaSource>,
        extension: Option<&str>,
    ) -> Result<Self, AudioLoadError> {
        let stream = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(extension) = extension {
            hint.with_extension(extension);
        }
        let options = FormatOptions {
            enable_gapless: true,
            ..FormatOptions::default()
        };
        let probed = symphonia::default::get_probe()
            .format(&hint, stream, &options, &MetadataOptions::default())
            .map_err(probe_error)?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or(AudioLoadError::NoAudioTrack)?;
        let (sample_rate, channels) = track_shape(track)?;
        let decoder = symphonia::default::get_codecs()
            .make(&track.codec_params, &DecoderOptions { verify: true })
            .map_err(|e| match e {
                SymphoniaError::Unsupported(what) => AudioLoadError::UnsupportedCodec(format!(
                    "{what} (codec {})",
                    codec_name(track.codec_params.codec)
                )),
                other => decode_error(other, 0),
            })?;
        Ok(Self {
            track: track.id,
            codec: track.codec_params.codec,
            n_frames: track.codec_params.n_frames,
            sample_rate,
            channels,
            format,
            decoder,
            scratch: None,
            skip: 0,
            decoded: 0,
            skipped_packets: 0,
            packet_start: 0,
        })
    }

    /// The next packet's frames (one slice per channel), `None` at the end of the stream.
    pub(crate) fn next_frames(&mut self) -> Result<Option<Vec<&[f32]>>, AudioLoadError> {
        Ok(self.next_frames_at()?.map(|(_, frames)| frames))
    }

    /// [`OpenStream::next_frames`] with where its packet starts, in frames (its timestamp).
    pub(crate) fn next_frames_at(&mut self) -> Result<Option<TimedFrames<'_>>, AudioLoadError> {
        let skip = loop {
            let packet = match self.format.next_packet() {
                Ok(packet) => packet,
                Err(SymphoniaError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => {
                    return Ok(None);
                }
                Err(SymphoniaError::ResetRequired) => return Ok(None),
                Err(e) => return Err(decode_error(e, self.decoded)),
            };
            if packet.track_id() != self.track {
                continue;
            }
            self.packet_start = packet.ts();
            let decoded = match self.decoder.decode(&packet) {
                Ok(decoded) => decoded,
                // One corrupt packet (a bad checksum, a damaged frame) is skipped, as
                // symphonia recommends, not the whole file: the rest still plays.
                Err(SymphoniaError::DecodeError(_)) => {
                    self.skipped_packets += 1;
                    continue;
                }
                Err(e) => return Err(decode_error(e, self.decoded)),
            };
            let frames = convert(&mut self.scratch, &decoded);
            let skip = self.skip.min(frames);
            self.skip -= skip;
            if skip < frames {
                self.decoded += frames - skip;
                break skip;
            }
        };
        let Some(scratch) = self.scratch.as_ref() else {
            return Ok(None);
        };
        let channels = scratch.spec().channels.count();
        Ok(Some((
            self.packet_start + skip as u64,
            (0..channels).map(|c| &scratch.chan(c)[skip..]).collect(),
        )))
    }

    /// The frame count the header states, for formats where it is exact (PCM and FLAC; lossy
    /// formats estimate it).
    pub(crate) fn promised_frames(&self) -> Option<u64> {
        let exact = self.codec == symphonia::core::codecs::CODEC_TYPE_FLAC || is_pcm(self.codec);
        self.n_frames.filter(|_| exact)
    }

    /// Seeks to `seconds` (the stream continues from there).
    pub(crate) fn seek(&mut self, seconds: f64) -> Result<(), AudioLoadError> {
        use symphonia::core::formats::{SeekMode, SeekTo};
        use symphonia::core::units::Time;
        let time = Time::new(seconds.trunc() as u64, seconds.fract());
        let seeked = self
            .format
            .seek(
                SeekMode::Accurate,
                SeekTo::Time {
                    time,
                    track_id: Some(self.track),
                },
            )
            .map_err(|e| decode_error(e, self.decoded))?;
        self.decoder.reset();
        self.skip = seeked.required_ts.saturating_sub(seeked.actual_ts) as usize;
        Ok(())
    }
}

/// Whether `codec` is one of symphonia's PCM codecs (their headers state exact lengths).
fn is_pcm(codec: CodecType) -> bool {
    use symphonia::core::codecs as c;
    [
        c::CODEC_TYPE_PCM_S8,
        c::CODEC_TYPE_PCM_U8,
        c::CODEC_TYPE_PCM_S16LE,
        c::CODEC_TYPE_PCM_S24LE,
        c::CODEC_TYPE_PCM_S32LE,
        c::CODEC_TYPE_PCM_F32LE,
        c::CODEC_TYPE_PCM_F64LE,
        c::CODEC_TYPE_PCM_S16BE,
        c::CODEC_TYPE_PCM_S24BE,
        c::CODEC_TYPE_PCM_S32BE,
        c::CODEC_TYPE_PCM_F32BE,
        c::CODEC_TYPE_PCM_F64BE,
        c::CODEC_TYPE_PCM_ALAW,
        c::CODEC_TYPE_PCM_MULAW,
    ]
    .contains(&codec)
}

/// The track's rate and channel count, when the header states them.
fn track_shape(track: &Track) -> Result<(u32, usize), AudioLoadError> {
    let params = &track.codec_params;
    let rate = params.sample_rate.ok_or_else(|| AudioLoadError::Corrupt {
        frames: 0,
        reason: "the header states no sample rate".into(),
    })?;
    let channels = params.channels.map_or(0, |c| c.count());
    Ok((rate, channels))
}

/// `decoded` converted to f32 in `scratch` (grown when a packet is larger than any before);
/// returns its frame count.
fn convert(scratch: &mut Option<DecodedBuffer<f32>>, decoded: &AudioBufferRef) -> usize {
    let spec = *decoded.spec();
    let fits = scratch
        .as_ref()
        .is_some_and(|s| s.capacity() >= decoded.frames() && *s.spec() == spec);
    if !fits {
        *scratch = Some(DecodedBuffer::new(decoded.capacity() as u64, spec));
    }
    let buffer = scratch.get_or_insert_with(|| DecodedBuffer::new(0, spec));
    decoded.convert(buffer);
    buffer.frames()
}

/// Classifies an error from the format probe.
fn probe_error(error: SymphoniaError) -> AudioLoadError {
    match error {
        SymphoniaError::Unsupported(what) if what.contains("no suitable format reader") => {
            AudioLoadError::UnrecognizedFormat(what.into())
        }
        SymphoniaError::Unsupported(what) => AudioLoadError::UnsupportedCodec(what.into()),
        SymphoniaError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
            AudioLoadError::Corrupt {
                frames: 0,
                reason: "the file ends inside its header".into(),
            }
        }
        other => decode_error(other, 0),
    }
}

/// Classifies an error met while decoding, after `frames` frames.
fn decode_error(error: SymphoniaError, frames: usize) -> AudioLoadError {
    match error {
        SymphoniaError::IoError(e) => AudioLoadError::Io(e),
        SymphoniaError::Unsupported(what) => AudioLoadError::UnsupportedCodec(what.into()),
        other => AudioLoadError::Corrupt {
            frames,
            reason: other.to_string(),
        },
    }
}

/// A codec's short name, or its id.
fn codec_name(codec: CodecType) -> String {
    symphonia::default::get_codecs()
        .get_codec(codec)
        .map_or_else(|| format!("{codec:?}"), |d| d.short_name.to_owned())
}
