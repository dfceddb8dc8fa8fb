//! Channel up- and down-mixing, exactly as the Web Audio spec's "Channel up-mixing and
//! down-mixing" section defines it, and the `computedNumberOfChannels` rule.
//!
//! Everything here runs on the real-time thread: no allocation, no locks.

use super::bus::{AudioBus, RENDER_QUANTUM};
use crate::node::{ChannelConfig, ChannelCountMode, ChannelInterpretation};

const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// The spec's `computedNumberOfChannels` for an input whose connections carry
/// `max_connection_channels` channels at most (0 when nothing is connected).
pub fn computed_number_of_channels(
    config: &ChannelConfig,
    max_connection_channels: usize,
) -> usize {
    let widest = max_connection_channels.max(1);
    match config.mode {
        ChannelCountMode::Max => widest,
        ChannelCountMode::ClampedMax => widest.min(config.count),
        ChannelCountMode::Explicit => config.count,
    }
}

/// Adds `src`, up- or down-mixed to `dst`'s channel count, into `dst`.
/// Called on the real-time thread.
pub fn mix_into(dst: &mut AudioBus, src: &AudioBus, interpretation: ChannelInterpretation) {
    if src.is_silent() {
        return;
    }
    let (n_in, n_out) = (src.channels(), dst.channels());
    if n_in == n_out {
        for (d, s) in dst.channels_mut().iter_mut().zip(src.channels_slice()) {
            add(d, s, 1.0);
        }
        return;
    }
    let speakers = interpretation == ChannelInterpretation::Speakers
        && is_speaker_layout(n_in)
        && is_speaker_layout(n_out);
    if speakers {
        mix_speakers(dst, src);
    } else {
        mix_discrete(dst, src);
    }
}

fn is_speaker_layout(channels: usize) -> bool {
    matches!(channels, 1 | 2 | 4 | 6)
}

/// Discrete: fill the first channels, leave the rest (up-mix), or drop the extra (down-mix).
fn mix_discrete(dst: &mut AudioBus, src: &AudioBus) {
    for (d, s) in dst.channels_mut().iter_mut().zip(src.channels_slice()) {
        add(d, s, 1.0);
    }
}

/// `dst += gain * src`, sample by sample.
#[inline]
fn add(dst: &mut [f32; RENDER_QUANTUM], src: &[f32; RENDER_QUANTUM], gain: f32) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += gain * s;
    }
}

/// The speaker rules for mono, stereo, quad and 5.1 (L, R, C, LFE, SL, SR).
fn mix_speakers(dst: &mut AudioBus, src: &AudioBus) {
    let n_out = dst.channels();
    let s = src.channels_slice();
    let d = dst.channels_mut();
    match (s.len(), n_out) {
        // Up-mixing.
        (1, 2) | (1, 4) => {
            add(&mut d[0], &s[0], 1.0);
            add(&mut d[1], &s[0], 1.0);
        }
        (1, 6) => add(&mut d[2], &s[0], 1.0),
        (2, 4) | (2, 6) => {
            add(&mut d[0], &s[0], 1.0);
            add(&mut d[1], &s[1], 1.0);
        }
        (4, 6) => {
            add(&mut d[0], &s[0], 1.0);
            add(&mut d[1], &s[1], 1.0);
            add(&mut d[4], &s[2], 1.0);
            add(&mut d[5], &s[3], 1.0);
        }
        // Down-mixing.
        (2, 1) => {
            add(&mut d[0], &s[0], 0.5);
            add(&mut d[0], &s[1], 0.5);
        }
        (4, 1) => {
            for ch in s {
                add(&mut d[0], ch, 0.25);
            }
        }
        (6, 1) => {
            add(&mut d[0], &s[0], SQRT_HALF);
            add(&mut d[0], &s[1], SQRT_HALF);
            add(&mut d[0], &s[2], 1.0);
            add(&mut d[0], &s[4], 0.5);
            add(&mut d[0], &s[5], 0.5);
        }
        (4, 2) => {
            add(&mut d[0], &s[0], 0.5);
            add(&mut d[0], &s[2], 0.5);
            add(&mut d[1], &s[1], 0.5);
            add(&mut d[1], &s[3], 0.5);
        }
        (6, 2) => {
            add(&mut d[0], &s[0], 1.0);
            add(&mut d[0], &s[2], SQRT_HALF);
            add(&mut d[0], &s[4], SQRT_HALF);
            add(&mut d[1], &s[1], 1.0);
            add(&mut d[1], &s[2], SQRT_HALF);
            add(&mut d[1], &s[5], SQRT_HALF);
        }
        (6, 4) => {
            add(&mut d[0], &s[0], 1.0);
            add(&mut d[0], &s[2], SQRT_HALF);
            add(&mut d[1], &s[1], 1.0);
            add(&mut d[1], &s[2], SQRT_HALF);
            add(&mut d[2], &s[4], 1.0);
            add(&mut d[3], &s[5], 1.0);
        }
        _ => {
            for (dc, sc) in d.iter_mut().zip(s) {
                add(dc, sc, 1.0);
            }
        }
    }
}
