//! The device layer shared by the output backend and the microphone (no sound card needed):
//! the bounded tear-down, the sample-format mapping with exact conversions, and an unknown
//! format on the output being a typed error rather than an f32 stream.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use bevy_webaudio::testing::{DeviceSample, Release, release};

/// Blocks forever in its drop (waits on a channel that is never sent to), like a cpal stream
/// whose sound server died.
struct StuckOnDrop {
    never: mpsc::Receiver<()>,
    _sender: mpsc::Sender<()>,
}

impl StuckOnDrop {
    fn new() -> Self {
        let (sender, never) = mpsc::channel();
        Self {
            never,
            _sender: sender,
        }
    }
}

impl Drop for StuckOnDrop {
    fn drop(&mut self) {
        // The sender lives in `self`, so this never returns.
        let _ = self.never.recv();
    }
}

#[test]
fn release_waits_at_most_the_timeout_for_a_drop_that_never_returns() {
    let start = Instant::now();
    let result = release(StuckOnDrop::new(), Duration::from_millis(200));
    let waited = start.elapsed();
    println!("stuck drop: {result:?} after {waited:?}");
    assert_eq!(result, Release::TimedOut, "the timeout is reported");
    assert!(result.timed_out());
    assert!(
        waited >= Duration::from_millis(200),
        "waited the timeout: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(1),
        "returned within a second: {waited:?}"
    );
}

#[test]
fn release_of_a_normal_value_drops_it_and_reports_no_timeout() {
    let (sender, dropped) = mpsc::channel::<()>();
    struct Tells(mpsc::Sender<()>);
    impl Drop for Tells {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    let start = Instant::now();
    let result = release(Tells(sender), Duration::from_millis(200));
    assert_eq!(result, Release::Dropped);
    assert!(!result.timed_out());
    assert!(start.elapsed() < Duration::from_millis(200));
    // Dropped (on the helper thread) before `release` returned.
    assert_eq!(dropped.try_recv(), Ok(()), "the value was dropped");
}

#[test]
fn sample_conversions_are_exact_at_minus_one_zero_and_one() {
    // To the device (output).
    assert_eq!(
        [-1.0, 0.0, 1.0].map(<f32 as DeviceSample>::from_f32),
        [-1.0, 0.0, 1.0]
    );
    assert_eq!(
        [-1.0, 0.0, 1.0].map(<i16 as DeviceSample>::from_f32),
        [-32_768, 0, 32_767]
    );
    assert_eq!(
        [-1.0, 0.0, 1.0].map(<u16 as DeviceSample>::from_f32),
        [0, 32_768, 65_535]
    );
    assert_eq!(
        [-1.0, 0.0, 1.0].map(<i32 as DeviceSample>::from_f32),
        [i32::MIN, 0, i32::MAX]
    );
    // Out of range is clamped, half scale is exact.
    assert_eq!(<i16 as DeviceSample>::from_f32(2.0), 32_767);
    assert_eq!(<i16 as DeviceSample>::from_f32(-2.0), -32_768);
    assert_eq!(<i16 as DeviceSample>::from_f32(0.5), 16_384);
    assert_eq!(<u16 as DeviceSample>::from_f32(-0.5), 16_384);
    assert_eq!(<i32 as DeviceSample>::from_f32(0.5), 1 << 30);

    // From the device (input).
    assert_eq!(
        [-1.0f32, 0.0, 1.0].map(DeviceSample::to_f32),
        [-1.0, 0.0, 1.0]
    );
    assert_eq!(
        [-32_768i16, 0, 32_767].map(DeviceSample::to_f32),
        [-1.0, 0.0, 32_767.0 / 32_768.0]
    );
    assert_eq!(
        [0u16, 32_768, 65_535].map(DeviceSample::to_f32),
        [-1.0, 0.0, 32_767.0 / 32_768.0]
    );
    // i32::MAX / 2^31 rounds to exactly 1.0 in f32.
    assert_eq!(
        [i32::MIN, 0, i32::MAX].map(DeviceSample::to_f32),
        [-1.0, 0.0, 1.0]
    );
    assert_eq!((-16_384i16).to_f32(), -0.5);
    assert_eq!(49_152u16.to_f32(), 0.5);
}

#[cfg(feature = "cpal")]
mod formats {
    use bevy_webaudio::microphone::MicrophoneError;
    use bevy_webaudio::prelude::AudioBackendError;
    use bevy_webaudio::testing::{DeviceError, SampleKind, output_sample_type};
    use cpal::SampleFormat;

    /// Every variant of cpal 0.18's `SampleFormat` (it is `#[non_exhaustive]`, so this list
    /// is checked against cpal's source, `src/sample_format.rs`).
    const ALL: [SampleFormat; 15] = [
        SampleFormat::I8,
        SampleFormat::I16,
        SampleFormat::I24,
        SampleFormat::I32,
        SampleFormat::I64,
        SampleFormat::U8,
        SampleFormat::U16,
        SampleFormat::U24,
        SampleFormat::U32,
        SampleFormat::U64,
        SampleFormat::F32,
        SampleFormat::F64,
        SampleFormat::DsdU8,
        SampleFormat::DsdU16,
        SampleFormat::DsdU32,
    ];

    #[test]
    fn every_cpal_format_maps_to_a_conversion_or_a_typed_error() {
        let mut supported = Vec::new();
        for format in ALL {
            match SampleKind::of(format) {
                Ok(kind) => {
                    assert_eq!(kind.format(), format, "{format:?} opens as itself");
                    supported.push(format);
                }
                Err(error) => {
                    assert_eq!(error, DeviceError::UnsupportedFormat(format));
                    // The same typed error on both sides.
                    assert!(
                        matches!(
                            AudioBackendError::from(error.clone()),
                            AudioBackendError::StreamFailed(ref m) if m.contains(&format!("{format:?}"))
                        ),
                        "output: {format:?}"
                    );
                    assert!(
                        matches!(
                            MicrophoneError::from(error),
                            MicrophoneError::StreamFailed(ref m) if m.contains(&format!("{format:?}"))
                        ),
                        "input: {format:?}"
                    );
                }
            }
        }
        supported.sort();
        assert_eq!(
            supported,
            [
                SampleFormat::I16,
                SampleFormat::I32,
                SampleFormat::U16,
                SampleFormat::F32
            ]
        );
    }

    #[test]
    fn output_opens_the_device_format_or_fails_never_a_silent_f32_stream() {
        for (format, expected) in [
            (SampleFormat::F32, "f32"),
            (SampleFormat::I16, "i16"),
            (SampleFormat::U16, "u16"),
            (SampleFormat::I32, "i32"),
        ] {
            assert_eq!(output_sample_type(format), Ok(expected), "{format:?}");
        }
        for format in ALL {
            if SampleKind::of(format).is_ok() {
                continue;
            }
            let result = output_sample_type(format);
            println!("{format:?}: {result:?}");
            assert!(
                matches!(result, Err(AudioBackendError::StreamFailed(_))),
                "{format:?} is an error, not an f32 stream: {result:?}"
            );
        }
    }
}
