//! MediaElementAudioSourceNode: a streamed file plays exactly the samples of the fully decoded
//! buffer, loops without a seam, seeks, sends 'ended' once, and a stalled reader (a slow disk)
//! gives counted underruns of silence without blocking the render thread, then resumes where
//! it stopped.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bevy::prelude::*;
use bevy_webaudio::asset::decode_audio_data;
use bevy_webaudio::asset::export::{WavFormat, wav_bytes};
use bevy_webaudio::asset::stream::MediaElement;
use bevy_webaudio::prelude::*;

use crate::asset_loader::{signal, temp_dir};
use crate::support::*;

/// Waits (wall time, bounded) until the decoder has written `frames` frames of the session.
fn wait_decoded(node: &MediaElementAudioSourceNode, frames: u64) {
    let status = node.status().unwrap().clone();
    for _ in 0..10_000 {
        if status.decoded_frames() >= frames {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!(
        "the decoder wrote {} of {frames} frames",
        status.decoded_frames()
    );
}

/// A stereo app playing `node`; returns the app and the node's entity.
fn play(node: MediaElementAudioSourceNode, channels: u16) -> (App, Entity) {
    let mut app = offline_app(channels);
    let dest = destination(&app);
    let entity = app.world_mut().commands().spawn(node).connect(dest).id();
    app.update();
    (app, entity)
}

fn ended(app: &mut App) -> Vec<Ended> {
    app.world_mut()
        .resource_mut::<Messages<Ended>>()
        .drain()
        .collect()
}

#[test]
fn streaming_plays_the_same_samples_as_the_decoded_buffer_then_ends() {
    let dir = temp_dir("stream_same");
    let path = dir.join("music.wav");
    let bytes = wav_bytes(&signal(2, 24_000, 48_000), 48_000, WavFormat::Int16).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let decoded = decode_audio_data(bytes, Some("wav")).unwrap();

    let mut node = MediaElementAudioSourceNode::open(&path).unwrap();
    node.buffer_seconds = 1.0;
    let status = node.status().unwrap().clone();
    let (mut app, entity) = play(node.clone(), 2);
    wait_decoded(&node, 24_000);
    let out = app.render(24_000 + 1_024).unwrap();
    for (c, out) in out.iter().enumerate() {
        assert_eq!(
            &out[..24_000],
            decoded.channel_data(c).unwrap(),
            "channel {c}"
        );
        assert!(out[24_000..].iter().all(|&v| v == 0.0));
    }
    assert_eq!(status.underruns(), 0);
    app.update();
    assert_eq!(ended(&mut app), vec![Ended { entity }], "'ended' once");
    assert!(status.ended());
    assert!(
        (status.current_time() - 0.5).abs() < 1e-9,
        "{}",
        status.current_time()
    );
}

#[test]
fn looping_stream_wraps_without_a_seam() {
    let dir = temp_dir("stream_loop");
    let path = dir.join("loop.wav");
    // 1000 frames of distinct values: frame i holds (i - 500) / 1024.
    let ramp: Vec<f32> = (0..1_000).map(|i| (i as f32 - 500.0) / 1024.0).collect();
    std::fs::write(
        &path,
        wav_bytes(std::slice::from_ref(&ramp), 48_000, WavFormat::Float32).unwrap(),
    )
    .unwrap();
    let mut node = MediaElementAudioSourceNode::open(&path).unwrap();
    node.looping = true;
    let (mut app, _) = play(node.clone(), 1);
    wait_decoded(&node, 12_000);
    let out = app.render(5_120).unwrap().remove(0);
    for (i, &v) in out.iter().enumerate() {
        assert_eq!(v, ramp[i % 1_000], "frame {i}");
    }
    app.update();
    assert!(ended(&mut app).is_empty(), "a loop does not end");
}

#[test]
fn seek_continues_from_the_new_time() {
    let dir = temp_dir("stream_seek");
    let path = dir.join("long.wav");
    let bytes = wav_bytes(&signal(1, 48_000, 48_000), 48_000, WavFormat::Int16).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let decoded = decode_audio_data(bytes, Some("wav")).unwrap();
    let data = decoded.channel_data(0).unwrap();
    let node = MediaElementAudioSourceNode::open(&path).unwrap();
    let (mut app, entity) = play(node.clone(), 1);
    wait_decoded(&node, 12_000);
    let first = app.render(1_024).unwrap().remove(0);
    assert_eq!(&first[..], &data[..1_024]);

    // currentTime = 0.75 s: frame 36000.
    app.world_mut()
        .get_mut::<MediaElementAudioSourceNode>(entity)
        .unwrap()
        .seek(0.75)
        .unwrap();
    app.update();
    wait_decoded(&node, 12_000);
    let after = app.render(1_024).unwrap().remove(0);
    assert_eq!(&after[..], &data[36_000..37_024]);
    let node = app
        .world()
        .get::<MediaElementAudioSourceNode>(entity)
        .unwrap();
    assert!((node.current_time() - 37_024.0 / 48_000.0).abs() < 1e-9);
    assert!(
        node.clone().seek(-1.0).is_err(),
        "RangeError for a negative time"
    );
}

/// A reader over bytes that stops (blocks) at `limit` until `release` is set: a slow disk.
struct StallingReader {
    bytes: std::io::Cursor<Vec<u8>>,
    limit: u64,
    release: Arc<AtomicBool>,
}

impl Read for StallingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.bytes.position() >= self.limit && !self.release.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let room = if self.release.load(Ordering::Acquire) {
            buf.len()
        } else {
            buf.len().min((self.limit - self.bytes.position()) as usize)
        };
        self.bytes.read(&mut buf[..room])
    }
}

impl Seek for StallingReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.bytes.seek(pos)
    }
}

impl symphonia::core::io::MediaSource for StallingReader {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        Some(self.bytes.get_ref().len() as u64)
    }
}

#[test]
fn a_stalled_reader_gives_counted_underruns_then_resumes_without_losing_samples() {
    let bytes = wav_bytes(&signal(1, 48_000, 48_000), 48_000, WavFormat::Float32).unwrap();
    let decoded = decode_audio_data(bytes.clone(), Some("wav")).unwrap();
    let data = decoded.channel_data(0).unwrap();
    let release = Arc::new(AtomicBool::new(false));
    // The header and 16384 frames are there; then the "disk" stalls.
    let reader = StallingReader {
        bytes: std::io::Cursor::new(bytes),
        limit: 44 + 4 * 16_384,
        release: release.clone(),
    };
    let element = MediaElement::from_source(Box::new(reader), Some("wav")).unwrap();
    let mut node = MediaElementAudioSourceNode::new(Arc::new(element));
    node.buffer_seconds = 0.5;
    let status = node.status().unwrap().clone();
    let (mut app, _) = play(node.clone(), 1);
    // Wait until the decoder is stuck on the stalled read (no progress for 100 ms).
    wait_decoded(&node, 6_000);
    let mut delivered = 0;
    while delivered != status.decoded_frames() {
        delivered = status.decoded_frames();
        std::thread::sleep(Duration::from_millis(100));
    }
    let delivered = delivered as usize;
    assert!((6_000..=16_384).contains(&delivered), "{delivered}");
    let start = std::time::Instant::now();
    let out = app.render(32_768).unwrap().remove(0);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "render did not wait for the disk"
    );
    assert_eq!(
        &out[..delivered],
        &data[..delivered],
        "what arrived plays exactly"
    );
    assert!(out[delivered..].iter().all(|&v| v == 0.0), "then silence");
    assert_eq!(status.underrun_frames(), (32_768 - delivered) as u64);
    assert_eq!(
        status.underruns(),
        (32_768 - delivered).div_ceil(128) as u64
    );

    release.store(true, Ordering::Release);
    wait_decoded(&node, delivered as u64 + 8_192);
    let resumed = app.render(4_096).unwrap().remove(0);
    assert_eq!(
        &resumed[..],
        &data[delivered..delivered + 4_096],
        "playback resumes at the next frame, nothing skipped"
    );
}

#[test]
fn opening_a_bad_file_is_a_typed_error() {
    let dir = temp_dir("stream_bad");
    let path = dir.join("notes.wav");
    std::fs::write(&path, "not audio at all").unwrap();
    assert!(matches!(
        MediaElementAudioSourceNode::open(&path),
        Err(AudioLoadError::UnrecognizedFormat(_))
    ));
    assert!(matches!(
        MediaElementAudioSourceNode::open(dir.join("missing.ogg")),
        Err(AudioLoadError::Io(_))
    ));
}
