//! Decoding files into [`AudioBuffer`]s (the crate's `decodeAudioData`) with symphonia: WAV
//! (PCM 8/16/24/32-bit integer and 32/64-bit float), FLAC, Ogg Vorbis and MP3 (gapless: the
//! encoder's delay and padding are removed when the file says how much).
//!
//! Each codec is a cargo feature of this crate, all on by default: `wav`, `flac`, `vorbis`,
//! `mp3` ([`CODECS`] lists this build's). The loader claims the extensions of the enabled ones
//! only ([`EXTENSIONS`]); bytes of a disabled codec fail with
//! [`AudioLoadError::UnsupportedCodec`] naming the feature to turn on.
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
        "EncodingError: not an audio file this build decodes (WAV, FLAC, Ogg Vorbis, MP3, each a cargo feature): {0}"
    )]
    UnrecognizedFormat(String),
    /// The container was recognised but its codec or a feature it uses is not supported, or
    /// the codec's cargo feature is off in this build (the message names it).
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

/// The codecs this build decodes: each is a cargo feature (all on by default), with the file
/// extensions [`AudioLoader`] claims for it.
pub const CODECS: &[Codec] = &[
    #[cfg(feature = "wav")]
    Codec::WAV,
    #[cfg(feature = "flac")]
    Codec::FLAC,
    #[cfg(feature = "vorbis")]
    Codec::VORBIS,
    #[cfg(feature = "mp3")]
    Codec::MP3,
];

/// The file extensions [`AudioLoader`] claims: those of the codecs whose cargo features are on
/// ([`CODECS`]). A disabled codec's files are left to other loaders (Bevy reports "no loader"
/// for them if there is none); decoding such bytes directly fails with
/// [`AudioLoadError::UnsupportedCodec`] naming the feature.
pub const EXTENSIONS: &[&str] = &[
    #[cfg(feature = "wav")]
    "wav",
    #[cfg(feature = "wav")]
    "wave",
    #[cfg(feature = "flac")]
    "flac",
    #[cfg(feature = "vorbis")]
    "ogg",
    #[cfg(feature = "vorbis")]
    "oga",
    #[cfg(feature = "mp3")]
    "mp3",
];

/// A codec this crate can decode, and the cargo feature that turns it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec {
    /// Its name, as error messages give it.
    pub name: &'static str,
    /// The cargo feature of this crate that decodes it.
    pub feature: &'static str,
    /// The file extensions that name it.
    pub extensions: &'static [&'static str],
}

impl Codec {
    /// WAV (PCM integer and float), feature `wav`.
    pub const WAV: Codec = Codec {
        name: "WAV",
        feature: "wav",
        extensions: &["wav", "wave"],
    };
    /// FLAC, feature `flac`.
    pub const FLAC: Codec = Codec {
        name: "FLAC",
        feature: "flac",
        extensions: &["flac"],
    };
    /// Ogg Vorbis, feature `vorbis`.
    pub const VORBIS: Codec = Codec {
        name: "Ogg Vorbis",
        feature: "vorbis",
        extensions: &["ogg", "oga"],
    };
    /// MP3, feature `mp3`.
    pub const MP3: Codec = Codec {
        name: "MP3",
        feature: "mp3",
        extensions: &["mp3"],
    };
    /// Every codec the crate has a feature for, on or off in this build.
    pub const ALL: [Codec; 4] = [Codec::WAV, Codec::FLAC, Codec::VORBIS, Codec::MP3];

    /// Whether this build decodes it (its cargo feature is on).
    pub fn enabled(&self) -> bool {
        CODECS.contains(self)
    }

    /// The codec a file's first bytes announce (`RIFF….WAVE`, `fLaC`, `OggS`, an ID3 tag or an
    /// MPEG audio frame header), if any.
    pub fn sniff(head: &[u8]) -> Option<Codec> {
        match head {
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'A',
                b'V',
                b'E',
                ..,
            ] => Some(Codec::WAV),
            [b'f', b'L', b'a', b'C', ..] => Some(Codec::FLAC),
            [b'O', b'g', b'g', b'S', ..] => Some(Codec::VORBIS),
            [b'I', b'D', b'3', ..] => Some(Codec::MP3),
            // An MPEG audio frame: 11 sync bits, a version other than "reserved" (01), layer III.
            [0xFF, b, ..] if b & 0xE0 == 0xE0 && b & 0x18 != 0x08 && b & 0x06 == 0x02 => {
                Some(Codec::MP3)
            }
            _ => None,
        }
    }

    /// The codec an extension names (case-insensitive), if any.
    pub fn from_extension(extension: &str) -> Option<Codec> {
        Codec::ALL.into_iter().find(|codec| {
            codec
                .extensions
                .iter()
                .any(|e| e.eq_ignore_ascii_case(extension))
        })
    }

    /// The error for a file of this codec when its feature is off.
    fn disabled_error(&self) -> AudioLoadError {
        AudioLoadError::UnsupportedCodec(format!(
            "{} decoding is off in this build: enable bevy_webaudio's `{}` cargo feature",
            self.name, self.feature
        ))
    }
}

/// The disabled codec `source` (or, if its bytes do not say, `extension`) is, if any. Reads the
/// first bytes of a seekable source and seeks back; costs nothing when every codec is on.
fn disabled_codec(
    source: &mut dyn symphonia::core::io::MediaSource,
    extension: Option<&str>,
) -> Option<Codec> {
    use std::io::SeekFrom;
    if CODECS.len() == Codec::ALL.len() {
        return None;
    }
    let mut head = [0u8; 12];
    let mut sniffed = None;
    if source.is_seekable() {
        let mut read = 0;
        while read < head.len() {
            match source.read(&mut head[read..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        source.seek(SeekFrom::Start(0)).ok()?;
        sniffed = Codec::sniff(&head[..read]);
    }
    sniffed
        .or_else(|| extension.and_then(Codec::from_extension))
        .filter(|codec| !codec.enabled())
}

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
        mut source: Box<dyn symphonia::core::io::MediaSource>,
        extension: Option<&str>,
    ) -> Result<Self, AudioLoadError> {
        if let Some(codec) = disabled_codec(source.as_mut(), extension) {
            return Err(codec.disabled_error());
        }
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
