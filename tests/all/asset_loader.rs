//! Decoding files into AudioBuffers: round trips for WAV (8/16/24/32-bit integer, float), FLAC,
//! Ogg Vorbis and MP3 with the samples compared within each format's precision, the channel
//! layout, a load through the AssetServer, and one test per kind of bad file.

use std::path::{Path, PathBuf};
use std::process::Command;

use bevy::asset::{AssetPlugin, LoadState};
use bevy::prelude::*;
use bevy_webaudio::asset::export::{WavFormat, quantize, wav_bytes};
use bevy_webaudio::asset::loader::{CODECS, Codec, EXTENSIONS};
use bevy_webaudio::asset::{AudioLoadError, AudioLoader, decode_audio_data};
use bevy_webaudio::prelude::*;

use crate::support::*;

/// A test signal: channel `c` is a sum of two sines at (300 + 200c) Hz and (1100 + 200c) Hz,
/// peak 0.8.
pub fn signal(channels: usize, frames: usize, rate: u32) -> Vec<Vec<f32>> {
    (0..channels)
        .map(|c| {
            let (f1, f2) = (300.0 + 200.0 * c as f64, 1100.0 + 200.0 * c as f64);
            (0..frames)
                .map(|i| {
                    let t = i as f64 / f64::from(rate);
                    let tau = std::f64::consts::TAU;
                    (0.5 * (tau * f1 * t).sin() + 0.3 * (tau * f2 * t).sin()) as f32
                })
                .collect()
        })
        .collect()
}

/// A fresh directory under the system temp dir for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bevy_webaudio_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `channels` as a WAV of `bits`-bit integers (8..=32) with hound.
fn int_wav(channels: &[Vec<f32>], rate: u32, bits: u16) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..channels[0].len() {
        for c in channels {
            let q = quantize(c[i], u32::from(bits));
            if bits == 8 {
                writer.write_sample(q as i8).unwrap();
            } else {
                writer.write_sample(q).unwrap();
            }
        }
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

/// The largest absolute difference over all channels (same lengths asserted).
fn max_error(a: &AudioBuffer, b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.number_of_channels(), b.len(), "channel count");
    b.iter()
        .enumerate()
        .map(|(c, expected)| {
            let got = a.channel_data(c).unwrap();
            assert_eq!(got.len(), expected.len(), "length of channel {c}");
            got.iter()
                .zip(expected)
                .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        })
        .fold(0.0, f32::max)
}

#[test]
fn wav_integer_formats_decode_to_n_over_2_pow_bits_minus_1() {
    let original = signal(2, 4_800, 48_000);
    for bits in [8u16, 16, 24, 32] {
        let bytes = int_wav(&original, 48_000, bits);
        let buffer = decode_audio_data(bytes, Some("wav")).unwrap();
        assert_eq!(buffer.sample_rate(), 48_000.0);
        assert_eq!(buffer.file_sample_rate(), Some(48_000.0));
        let scale = f64::from(1u32 << (bits - 1));
        let expected: Vec<Vec<f32>> = original
            .iter()
            .map(|c| {
                c.iter()
                    .map(|&x| (f64::from(quantize(x, u32::from(bits))) / scale) as f32)
                    .collect()
            })
            .collect();
        // Exact for 8..24 bits; 32-bit integers round once more to f32's 24-bit mantissa.
        let tolerance = if bits == 32 { 6e-8 } else { 0.0 };
        let error = max_error(&buffer, &expected);
        assert!(error <= tolerance, "{bits}-bit: error {error}");
        // And within half a step of the original signal.
        let step_error = max_error(&buffer, &original);
        assert!(
            f64::from(step_error) <= 0.5 / scale + 1e-7,
            "{bits}-bit: {step_error} from the original"
        );
    }
}

#[test]
fn wav_float_round_trips_bit_exact() {
    let original = signal(1, 4_800, 44_100);
    let bytes = wav_bytes(&original, 44_100, WavFormat::Float32).unwrap();
    let buffer = decode_audio_data(bytes, Some("wav")).unwrap();
    assert_eq!(buffer.sample_rate(), 44_100.0);
    assert_eq!(max_error(&buffer, &original), 0.0);
}

#[test]
fn channel_layout_is_kept_in_file_order() {
    // Five channels, each a different constant: channel c holds (c + 1) / 8.
    let channels: Vec<Vec<f32>> = (0..5).map(|c| vec![(c + 1) as f32 / 8.0; 256]).collect();
    let bytes = wav_bytes(&channels, 48_000, WavFormat::Int16).unwrap();
    let buffer = decode_audio_data(bytes, Some("wav")).unwrap();
    assert_eq!(buffer.number_of_channels(), 5);
    assert_eq!(max_error(&buffer, &channels), 0.0);
}

/// Runs an encoder command line; `None` (with a printed note) when the encoder is missing and
/// WEBAUDIO_DEVICE_TESTS is unset (CI installs the encoders and sets it: there a missing
/// encoder fails).
fn encode(program: &str, args: &[&str]) -> Option<()> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Some(()),
        Ok(out) => panic!("{program} failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if std::env::var_os("WEBAUDIO_DEVICE_TESTS").is_none() => {
            println!(
                "note: skipping, {program} is not installed ({e}); scripts/test.sh installs it"
            );
            None
        }
        Err(e) => panic!("{program} is required (scripts/test.sh installs it): {e}"),
    }
}

/// Writes `original` as 16-bit WAV in `dir`, encodes it with `program args.. in out`, decodes
/// the result.
fn encoded(
    dir: &Path,
    original: &[Vec<f32>],
    rate: u32,
    program: &str,
    args: &[&str],
    extension: &str,
) -> Option<AudioBuffer> {
    let input = dir.join("in.wav");
    let output = dir.join(format!("out.{extension}"));
    std::fs::write(&input, int_wav(original, rate, 16)).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    let (i, o) = (input.to_str().unwrap(), output.to_str().unwrap());
    match program {
        "flac" | "oggenc" => all.extend(["-o", o, i]),
        _ => all.extend([i, o]),
    }
    encode(program, &all)?;
    Some(decode_audio_data(std::fs::read(&output).unwrap(), Some(extension)).unwrap())
}

/// `original` quantized to 16 bits (what the lossless encoders received).
fn as_16_bit(original: &[Vec<f32>]) -> Vec<Vec<f32>> {
    original
        .iter()
        .map(|c| {
            c.iter()
                .map(|&x| quantize(x, 16) as f32 / 32768.0)
                .collect()
        })
        .collect()
}

#[test]
#[cfg_attr(not(feature = "flac"), ignore = "needs the `flac` feature")]
fn flac_round_trips_losslessly() {
    let dir = temp_dir("flac");
    let original = signal(2, 22_050, 44_100);
    let Some(buffer) = encoded(&dir, &original, 44_100, "flac", &["--silent", "-8"], "flac") else {
        return;
    };
    assert_eq!(buffer.sample_rate(), 44_100.0);
    assert_eq!(max_error(&buffer, &as_16_bit(&original)), 0.0);
}

/// Signal-to-error ratio in dB of `decoded` against `original` over the middle of the signal
/// (lossy codecs), and the strongest frequency of channel 0.
fn lossy_quality(decoded: &AudioBuffer, original: &[Vec<f32>], rate: u32) -> (f64, f64) {
    let mut signal = 0.0f64;
    let mut error = 0.0f64;
    for (c, expected) in original.iter().enumerate() {
        let got = decoded.channel_data(c).unwrap();
        let n = expected.len();
        for i in n / 8..n * 7 / 8 {
            signal += f64::from(expected[i]).powi(2);
            error += f64::from(got[i] - expected[i]).powi(2);
        }
    }
    let snr = 10.0 * (signal / error).log10();
    let channel0 = decoded.channel_data(0).unwrap();
    (snr, peak_frequency(&channel0[..16_384], f64::from(rate)))
}

#[test]
#[cfg_attr(not(feature = "vorbis"), ignore = "needs the `vorbis` feature")]
fn ogg_vorbis_round_trips_within_the_codec_precision() {
    let dir = temp_dir("vorbis");
    let original = signal(2, 44_100, 44_100);
    let Some(buffer) = encoded(&dir, &original, 44_100, "oggenc", &["-Q", "-q", "8"], "ogg") else {
        return;
    };
    assert_eq!(buffer.sample_rate(), 44_100.0);
    assert_eq!(buffer.number_of_channels(), 2);
    assert_eq!(
        buffer.length(),
        44_100,
        "Vorbis' granule positions give the exact length"
    );
    let (snr, peak) = lossy_quality(&buffer, &original, 44_100);
    println!("Vorbis q8: SNR {snr:.1} dB, peak {peak:.3} Hz");
    assert!(snr > 30.0, "Vorbis q8 SNR {snr:.1} dB");
    assert!((peak - 300.0).abs() < 0.5, "peak at {peak} Hz");
}

#[test]
#[cfg_attr(not(feature = "mp3"), ignore = "needs the `mp3` feature")]
fn mp3_round_trips_within_the_codec_precision() {
    let dir = temp_dir("mp3");
    let original = signal(2, 44_100, 44_100);
    let Some(buffer) = encoded(
        &dir,
        &original,
        44_100,
        "lame",
        &["--quiet", "-b", "256"],
        "mp3",
    ) else {
        return;
    };
    assert_eq!(buffer.sample_rate(), 44_100.0);
    assert_eq!(buffer.number_of_channels(), 2);
    assert_eq!(
        buffer.length(),
        44_100,
        "gapless: LAME's delay and padding removed"
    );
    let (snr, peak) = lossy_quality(&buffer, &original, 44_100);
    println!("MP3 256 kbps: SNR {snr:.1} dB, peak {peak:.3} Hz");
    assert!(snr > 30.0, "MP3 256 kbps SNR {snr:.1} dB");
    assert!((peak - 300.0).abs() < 0.5, "peak at {peak} Hz");
}

// ---- bad files: each a typed error with a clear message, no panic ----

fn good_wav() -> Vec<u8> {
    int_wav(&signal(1, 4_800, 48_000), 48_000, 16)
}

#[test]
fn empty_file_is_an_empty_error() {
    let error = decode_audio_data(Vec::new(), Some("wav")).unwrap_err();
    assert!(matches!(error, AudioLoadError::Empty), "{error:?}");
    assert_eq!(error.to_string(), "EncodingError: the file is empty");
}

#[test]
fn text_renamed_wav_is_not_recognised() {
    let text = b"This is a README, not a sound.\nIt was renamed to .wav by mistake.\n".to_vec();
    let error = decode_audio_data(text, Some("wav")).unwrap_err();
    assert!(
        matches!(error, AudioLoadError::UnrecognizedFormat(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("not an audio file"), "{error}");
}

#[test]
fn truncated_wav_reports_the_missing_frames() {
    let mut bytes = good_wav();
    bytes.truncate(44 + 2 * 1_000 + 1); // the 44-byte header and 1000.5 frames of 4800
    let error = decode_audio_data(bytes, Some("wav")).unwrap_err();
    match error {
        AudioLoadError::Truncated { expected, decoded } => {
            assert_eq!(expected, 4_800);
            assert!(decoded <= 1_000, "{decoded}");
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn wav_cut_inside_its_header_is_corrupt() {
    let mut bytes = good_wav();
    bytes.truncate(30);
    let error = decode_audio_data(bytes, Some("wav")).unwrap_err();
    assert!(
        matches!(
            error,
            AudioLoadError::Corrupt { .. } | AudioLoadError::UnrecognizedFormat(_)
        ),
        "{error:?}"
    );
}

#[test]
fn corrupt_wav_header_is_an_error() {
    // A zero block alignment and channel count in the fmt chunk.
    let mut bytes = good_wav();
    bytes[22..24].copy_from_slice(&0u16.to_le_bytes());
    bytes[32..34].copy_from_slice(&0u16.to_le_bytes());
    let error = decode_audio_data(bytes, Some("wav")).unwrap_err();
    assert!(
        matches!(
            error,
            AudioLoadError::Corrupt { .. } | AudioLoadError::UnsupportedCodec(_)
        ),
        "{error:?}"
    );
}

#[test]
fn unsupported_wav_codec_is_named() {
    // Format tag 0x0055 (MPEG layer 3 inside RIFF), which this crate does not decode.
    let mut bytes = good_wav();
    bytes[20..22].copy_from_slice(&0x0055u16.to_le_bytes());
    let error = decode_audio_data(bytes, Some("wav")).unwrap_err();
    assert!(
        matches!(error, AudioLoadError::UnsupportedCodec(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("unsupported"), "{error}");
}

#[test]
#[cfg_attr(not(feature = "flac"), ignore = "needs the `flac` feature")]
fn corrupt_and_truncated_flac_are_errors() {
    let dir = temp_dir("bad_flac");
    let original = signal(1, 44_100, 44_100);
    let input = dir.join("in.wav");
    let output = dir.join("out.flac");
    std::fs::write(&input, int_wav(&original, 44_100, 16)).unwrap();
    let (i, o) = (input.to_str().unwrap(), output.to_str().unwrap());
    if encode("flac", &["--silent", "-o", o, i]).is_none() {
        return;
    }
    let bytes = std::fs::read(&output).unwrap();
    // Flip bits in the middle of the audio frames: a frame fails its CRC.
    let mut corrupt = bytes.clone();
    let middle = corrupt.len() / 2;
    for b in &mut corrupt[middle..middle + 64] {
        *b ^= 0x5a;
    }
    // A corrupt frame is skipped (silence in its place), not the whole file.
    let buffer = decode_audio_data(corrupt, Some("flac")).unwrap();
    assert_eq!(buffer.length(), 44_100);
    let mut truncated = bytes;
    truncated.truncate(middle);
    let error = decode_audio_data(truncated, Some("flac")).unwrap_err();
    match error {
        AudioLoadError::Truncated { expected, decoded } => {
            assert_eq!(expected, 44_100);
            assert!(decoded < 44_100, "{decoded}");
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

/// MinimalPlugins + AssetPlugin reading `dir` + an offline context.
pub fn asset_app(dir: &Path, rate: u32) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        AssetPlugin {
            file_path: dir.to_str().unwrap().into(),
            ..default()
        },
        WebAudioPlugin::offline(rate, 1),
    ));
    app.update();
    app
}

/// Updates until `handle` is loaded or failed (at most 10 s of wall time: loading runs on
/// the IO task pool).
pub fn wait_for_load(app: &mut App, handle: &Handle<AudioBuffer>) -> LoadState {
    for _ in 0..10_000 {
        app.update();
        let state = app.world().resource::<AssetServer>().load_state(handle);
        if matches!(state, LoadState::Loaded | LoadState::Failed(_)) {
            return state;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the asset did not load in 10 s");
}

#[test]
fn asset_server_loads_good_files_and_fails_bad_ones_with_the_message() {
    let dir = temp_dir("server");
    std::fs::write(dir.join("tone.wav"), good_wav()).unwrap();
    std::fs::write(dir.join("readme.wav"), b"just text").unwrap();
    std::fs::write(dir.join("empty.ogg"), b"").unwrap();
    let mut app = asset_app(&dir, 48_000);
    let server = app.world().resource::<AssetServer>().clone();
    let good: Handle<AudioBuffer> = server.load("tone.wav");
    let text: Handle<AudioBuffer> = server.load("readme.wav");
    let empty: Handle<AudioBuffer> = server.load("empty.ogg");
    assert!(matches!(wait_for_load(&mut app, &good), LoadState::Loaded));
    let buffer = app
        .world()
        .resource::<Assets<AudioBuffer>>()
        .get(&good)
        .unwrap();
    assert_eq!((buffer.length(), buffer.sample_rate()), (4_800, 48_000.0));
    for (handle, words) in [(&text, "not an audio file"), (&empty, "the file is empty")] {
        let LoadState::Failed(error) = wait_for_load(&mut app, handle) else {
            panic!("a bad file loaded");
        };
        assert!(error.to_string().contains(words), "{error}");
    }
    // The app keeps running and rendering.
    app.update();
    assert_eq!(app.render(128).unwrap()[0].len(), 128);
}

#[test]
fn audio_buffer_constructors_throw_the_spec_errors() {
    let not_supported =
        |r: Result<AudioBuffer, WebAudioError>| matches!(r, Err(WebAudioError::NotSupported(_)));
    assert!(
        not_supported(AudioBuffer::new(0, 10, 48_000.0)),
        "0 channels"
    );
    assert!(
        not_supported(AudioBuffer::new(33, 10, 48_000.0)),
        "33 channels"
    );
    assert!(
        not_supported(AudioBuffer::new(1, 0, 48_000.0)),
        "zero length"
    );
    assert!(
        not_supported(AudioBuffer::new(1, 10, 2_999.0)),
        "rate below 3 kHz"
    );
    assert!(
        not_supported(AudioBuffer::new(1, 10, 768_001.0)),
        "rate above 768 kHz"
    );
    assert!(not_supported(AudioBuffer::new(1, 10, f32::NAN)), "NaN rate");
    assert!(not_supported(AudioBuffer::from_samples(vec![], 48_000.0)));
    assert!(not_supported(AudioBuffer::from_samples(
        vec![vec![0.0; 3], vec![0.0; 4]],
        48_000.0
    )));
    let ok = AudioBuffer::new(32, 10, 3_000.0).unwrap();
    assert_eq!(
        (
            ok.number_of_channels(),
            ok.length(),
            ok.sample_rate(),
            ok.file_sample_rate()
        ),
        (32, 10, 3_000.0, None)
    );
    assert_eq!(ok.channel_data(31).unwrap(), &[0.0; 10]);
    assert!((AudioBuffer::new(1, 24_000, 48_000.0).unwrap().duration() - 0.5).abs() < 1e-12);
}

#[test]
fn repository_sounds_decode_with_their_rates_and_layouts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sounds");
    // (file, rate, channels, frames): frames exact for lossless files and gapless MP3/Vorbis.
    let expected = [
        ("click.wav", 48_000.0, 1, Some(2_400)),
        ("blip.flac", 48_000.0, 1, Some(14_400)),
        ("chord.ogg", 44_100.0, 2, Some(88_200)),
        ("whoosh.mp3", 44_100.0, 1, Some(44_100)),
        ("hello.wav", 22_050.0, 1, None),
    ];
    for (file, rate, channels, frames) in expected {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let extension = file.rsplit('.').next();
        let codec = Codec::sniff(&bytes).unwrap();
        if !codec.enabled() {
            // Its cargo feature is off: see `a_disabled_codec_is_unsupported_and_names_its_feature`.
            continue;
        }
        let buffer = decode_audio_data(bytes, extension).unwrap();
        assert_eq!(buffer.sample_rate(), rate, "{file}");
        assert_eq!(buffer.number_of_channels(), channels, "{file}");
        if let Some(frames) = frames {
            assert_eq!(buffer.length(), frames, "{file}");
        }
        let loudest = (0..channels)
            .map(|c| peak(buffer.channel_data(c).unwrap()))
            .fold(0.0, f32::max);
        assert!(loudest > 0.05 && loudest <= 1.0, "{file}: peak {loudest}");
    }
}

/// A source whose file fails to load ends (it plays as a source without a buffer), so a
/// one-shot of a missing or broken file cleans up after itself; the failure is an
/// `EncodingError` naming the node. Both orders: spawned before and after the load fails.
#[test]
fn a_source_whose_file_fails_to_load_ends() {
    let dir = temp_dir("failed-source");
    std::fs::write(dir.join("readme.wav"), b"just text").unwrap();
    let mut app = asset_app(&dir, 48_000);
    let server = app.world().resource::<AssetServer>().clone();
    let dest = app.world().resource::<AudioContext>().destination();
    let spawn = |app: &mut App, handle: Handle<AudioBuffer>| {
        let mut source = AudioBufferSourceNode::new(handle);
        source.start(0.0).unwrap();
        app.world_mut().commands().spawn(source).connect(dest).id()
    };
    let broken: Handle<AudioBuffer> = server.load("readme.wav");
    let early = spawn(&mut app, broken.clone());
    assert!(matches!(
        wait_for_load(&mut app, &broken),
        LoadState::Failed(_)
    ));
    let late = spawn(&mut app, broken.clone());
    let mut ended = Vec::new();
    let mut errors = Vec::new();
    let mut ended_cursor = app.world().resource::<Messages<Ended>>().get_cursor();
    let mut error_cursor = app
        .world()
        .resource::<Messages<AudioGraphError>>()
        .get_cursor();
    for _ in 0..8 {
        app.update();
        app.render(256).unwrap();
        let world = app.world();
        ended.extend(
            ended_cursor
                .read(world.resource::<Messages<Ended>>())
                .map(|e| e.entity),
        );
        errors.extend(
            error_cursor
                .read(world.resource::<Messages<AudioGraphError>>())
                .cloned(),
        );
    }
    ended.sort();
    let mut both = vec![early, late];
    both.sort();
    assert_eq!(ended, both, "both sources ended");
    let mut failed: Vec<Entity> = errors
        .iter()
        .filter(|e| matches!(e.error, WebAudioError::Encoding(_)))
        .map(|e| e.entity)
        .collect();
    failed.sort();
    assert_eq!(failed, both, "{errors:?}");
}

/// A WAV whose header states more audio than the decode limit fails at once with a typed error
/// (a small, highly compressible file must not decode to more memory than the machine has).
#[test]
fn a_file_that_would_decode_past_the_limit_is_too_large() {
    use bevy_webaudio::asset::loader::MAX_DECODED_SAMPLES;
    let mut wav = good_wav();
    // The RIFF and data chunks' size fields: claim 4 GiB of 16-bit mono.
    wav[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let data = wav.windows(4).position(|w| w == b"data").unwrap() + 4;
    wav[data..data + 4].copy_from_slice(&(u32::MAX - 64).to_le_bytes());
    let error = decode_audio_data(wav, Some("wav")).unwrap_err();
    assert!(
        matches!(error, AudioLoadError::TooLarge { limit } if limit == MAX_DECODED_SAMPLES),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("MediaElementAudioSourceNode"),
        "{error}"
    );
}

/// One corrupt FLAC frame (its checksum fails) is skipped, silence in its place; the rest of
/// the file decodes, in its place.
#[test]
#[cfg_attr(not(feature = "flac"), ignore = "needs the `flac` feature")]
fn one_corrupt_packet_does_not_fail_the_whole_file() {
    let dir = temp_dir("corrupt-flac");
    let original = signal(1, 48_000, 48_000);
    let input = dir.join("in.wav");
    let output = dir.join("out.flac");
    std::fs::write(&input, int_wav(&original, 48_000, 16)).unwrap();
    let (i, o) = (input.to_str().unwrap(), output.to_str().unwrap());
    if encode("flac", &["-s", "-f", "--blocksize=1152", "-o", o, i]).is_none() {
        return;
    }
    let mut bytes = std::fs::read(&output).unwrap();
    // Damage a few bytes in the middle of the audio frames.
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 8] {
        *b ^= 0x5a;
    }
    let buffer = decode_audio_data(bytes, Some("flac")).expect("decodes around the bad frame");
    assert_eq!(buffer.length(), 48_000, "every frame keeps its place");
    let data = buffer.get_channel_data(0).unwrap();
    let silent_blocks = data
        .chunks(1152)
        .filter(|b| b.iter().all(|&v| v == 0.0))
        .count();
    assert!(
        (1..=2).contains(&silent_blocks),
        "{silent_blocks} blocks lost"
    );
    // Away from the damage the samples are the original's (16-bit quantized).
    let exact = data[..1152]
        .iter()
        .zip(&original[0][..1152])
        .all(|(a, b)| (a - b).abs() < 1e-4);
    assert!(exact, "the first block is intact");
}

/// Each codec is a cargo feature: the loader claims exactly the extensions of the codecs this
/// build has, the repository's files announce their codecs in their first bytes, and a file
/// whose codec is off fails with `UnsupportedCodec` naming the feature (through
/// `decode_audio_data`, a stream, and the asset server, which has no loader for it) while the
/// others decode. Run with `--no-default-features --features cpal,wav` to see the off side.
#[test]
fn a_disabled_codec_is_unsupported_and_names_its_feature() {
    use bevy::asset::AssetLoader;
    let on = |feature: &str| match feature {
        "wav" => cfg!(feature = "wav"),
        "flac" => cfg!(feature = "flac"),
        "vorbis" => cfg!(feature = "vorbis"),
        "mp3" => cfg!(feature = "mp3"),
        other => panic!("no codec feature {other}"),
    };
    let claimed: Vec<&str> = Codec::ALL
        .iter()
        .filter(|codec| on(codec.feature))
        .flat_map(|codec| codec.extensions.iter().copied())
        .collect();
    assert_eq!(AudioLoader.extensions(), claimed.as_slice());
    assert_eq!(EXTENSIONS, claimed.as_slice());
    assert_eq!(
        CODECS.len(),
        Codec::ALL.iter().filter(|c| on(c.feature)).count()
    );

    let sounds = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sounds");
    let files = [
        ("click.wav", Codec::WAV),
        ("blip.flac", Codec::FLAC),
        ("chord.ogg", Codec::VORBIS),
        ("whoosh.mp3", Codec::MP3),
    ];
    let dir = temp_dir("codec-features");
    let mut app = asset_app(&dir, 48_000);
    for (file, codec) in files {
        let bytes = std::fs::read(sounds.join(file)).unwrap();
        assert_eq!(Codec::sniff(&bytes), Some(codec), "{file}");
        let extension = file.rsplit('.').next().unwrap();
        assert_eq!(Codec::from_extension(extension), Some(codec), "{file}");
        assert_eq!(codec.enabled(), on(codec.feature), "{file}");
        std::fs::write(dir.join(file), &bytes).unwrap();
        let handle: Handle<AudioBuffer> = app.world().resource::<AssetServer>().load(file);
        let state = wait_for_load(&mut app, &handle);
        if codec.enabled() {
            assert!(
                decode_audio_data(bytes.clone(), Some(extension)).is_ok(),
                "{file}"
            );
            // Without its extension the bytes decide.
            assert!(decode_audio_data(bytes, None).is_ok(), "{file}");
            assert!(matches!(state, LoadState::Loaded), "{file}: {state:?}");
            continue;
        }
        for hint in [Some(extension), None] {
            match decode_audio_data(bytes.clone(), hint) {
                Err(AudioLoadError::UnsupportedCodec(why)) => {
                    assert!(
                        why.contains(&format!("`{}` cargo feature", codec.feature))
                            && why.contains(codec.name),
                        "{file}: {why}"
                    );
                }
                other => panic!("{file} ({hint:?}): {other:?}"),
            }
        }
        let streamed = MediaElementAudioSourceNode::open(dir.join(file));
        assert!(
            matches!(&streamed, Err(e) if e.to_string().contains(codec.feature)),
            "{file}: {:?}",
            streamed.err()
        );
        assert!(matches!(state, LoadState::Failed(_)), "{file}: {state:?}");
    }
}
