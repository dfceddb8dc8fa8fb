//! The conformance suite's buffer generators (tests/conformance/FORMAT.md) and its
//! reference renders, for node tests that compare with Chromium's output.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

/// Where the Chromium reference renders live, in order: `$WEBAUDIO_CONFORMANCE/reference`, then
/// the repository's `tests/conformance/reference`.
fn reference_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("WEBAUDIO_CONFORMANCE") {
        dirs.push(std::path::PathBuf::from(dir).join("reference"));
    }
    dirs.push(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/reference").into());
    dirs
}

/// The reference render `name` as planar channels, or `None` (comparison skipped, with a
/// note) when no reference folder holds it.
pub fn load(name: &str, channels: usize) -> Option<Vec<Vec<f32>>> {
    let Some(bytes) = reference_dirs()
        .into_iter()
        .find_map(|dir| std::fs::read(dir.join(format!("{name}.f32"))).ok())
    else {
        eprintln!("skipping the comparison with {name}.f32: no reference folder holds it");
        return None;
    };
    let samples: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let length = samples.len() / channels;
    Some(samples.chunks_exact(length).map(<[f32]>::to_vec).collect())
}

/// The suite's `error` metric: `10·log10(Σ(test − ref)² / Σ ref²)` over every channel.
pub fn error_db(test: &[Vec<f32>], reference: &[Vec<f32>]) -> f64 {
    assert_eq!(test.len(), reference.len(), "channel count");
    let (mut err, mut energy) = (0.0f64, 0.0f64);
    for (t, r) in test.iter().zip(reference) {
        assert_eq!(t.len(), r.len(), "length");
        for (&a, &b) in t.iter().zip(r) {
            assert!(a.is_finite(), "non-finite output");
            err += (f64::from(a) - f64::from(b)).powi(2);
            energy += f64::from(b).powi(2);
        }
    }
    10.0 * (err / energy).log10()
}

/// xorshift32, as FORMAT.md defines it.
struct XorShift(u32);

impl XorShift {
    fn new(seed: u32) -> Self {
        Self(if seed == 0 { 0x6D2B_79F5 } else { seed })
    }
    fn draw(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    fn bipolar(&mut self) -> f64 {
        f64::from(self.draw() >> 8) / 16_777_216.0 * 2.0 - 1.0
    }
}

/// `{"gen":"noise", seed, amp}`, channel-major.
pub fn noise(seed: u32, channels: usize, frames: usize, amp: f64) -> Vec<Vec<f32>> {
    let mut rng = XorShift::new(seed);
    (0..channels)
        .map(|_| (0..frames).map(|_| (rng.bipolar() * amp) as f32).collect())
        .collect()
}

/// `{"gen":"decayingNoise", seed, decay, amp}`, channel-major: `v · (1 − i/n)^K · amp`, the
/// power by `K` repeated multiplications.
pub fn decaying_noise(
    seed: u32,
    channels: usize,
    frames: usize,
    decay: u32,
    amp: f64,
) -> Vec<Vec<f32>> {
    let mut rng = XorShift::new(seed);
    (0..channels)
        .map(|_| {
            (0..frames)
                .map(|i| {
                    let v = rng.bipolar();
                    let e = 1.0 - i as f64 / frames as f64;
                    let mut p = 1.0;
                    for _ in 0..decay {
                        p *= e;
                    }
                    (v * p * amp) as f32
                })
                .collect()
        })
        .collect()
}

/// `{"gen":"sine", freq, amp}` with one frequency per channel, phase 0.
pub fn sine(freqs: &[f64], amp: f64, sample_rate: f64, frames: usize) -> Vec<Vec<f32>> {
    freqs
        .iter()
        .map(|&f| {
            (0..frames)
                .map(|i| {
                    (amp * (2.0 * std::f64::consts::PI * f * i as f64 / sample_rate).sin()) as f32
                })
                .collect()
        })
        .collect()
}

/// `Math.round(seconds * sampleRate)`.
pub fn frames(seconds: f64, sample_rate: f64) -> usize {
    (seconds * sample_rate + 0.5).floor() as usize
}

/// Adds a buffer asset to the app.
pub fn add_buffer(app: &mut App, channels: Vec<Vec<f32>>, sample_rate: f32) -> Handle<AudioBuffer> {
    let buffer = AudioBuffer::from_samples(channels, sample_rate).unwrap();
    app.world_mut()
        .resource_mut::<Assets<AudioBuffer>>()
        .add(buffer)
}
