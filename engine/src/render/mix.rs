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

/// Makes `dst` `src` up- or down-mixed to `channels` channels: the same samples as
/// [`mix_into`] on `channels` channels of silence, with the usual single-connection cases
/// (the input's own width, mono up-mixed to stereo speakers) done as copies instead of a
/// clear and an add. Called on the real-time thread.
pub fn mix_single(
    dst: &mut AudioBus,
    src: &AudioBus,
    channels: usize,
    interpretation: ChannelInterpretation,
) {
    if src.channels() == channels {
        dst.copy_from(src);
        return;
    }
    if !src.is_silent()
        && src.channels() == 1
        && channels == 2
        && interpretation == ChannelInterpretation::Speakers
        && dst.capacity() >= 2
    {
        dst.set_channels(2);
        let mono = src.channel(0);
        for ch in dst.channels_mut() {
            ch.copy_from_slice(mono);
        }
        return;
    }
    dst.make_silent(channels);
    mix_into(dst, src, interpretation);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A bus of `channels` channels whose samples all differ (channel `c`, frame `i`).
    fn ramp_bus(channels: usize) -> AudioBus {
        let mut bus = AudioBus::with_capacity(6);
        bus.set_channels(channels);
        for (c, ch) in bus.channels_mut().iter_mut().enumerate() {
            for (i, x) in ch.iter_mut().enumerate() {
                *x = (c * RENDER_QUANTUM + i) as f32 * 0.001 - 0.3;
            }
        }
        bus
    }

    #[test]
    fn a_single_connection_mixes_as_a_mix_into_silence() {
        for interpretation in [
            ChannelInterpretation::Speakers,
            ChannelInterpretation::Discrete,
        ] {
            for n_in in [1, 2, 4, 6] {
                for n_out in [1, 2, 4, 6] {
                    let src = ramp_bus(n_in);
                    let mut expected = AudioBus::with_capacity(6);
                    expected.make_silent(n_out);
                    mix_into(&mut expected, &src, interpretation);
                    // A destination bus holding stale audio, as a reused input bus does.
                    let mut got = ramp_bus(6);
                    mix_single(&mut got, &src, n_out, interpretation);
                    let case = format!("{interpretation:?} {n_in} -> {n_out}");
                    assert_eq!(got.channels(), n_out, "{case}");
                    assert_eq!(got.channels_slice(), expected.channels_slice(), "{case}");
                }
            }
        }
        // Silence stays silent (and flagged so) at the new width.
        let mut got = ramp_bus(6);
        let mut silent = AudioBus::with_capacity(2);
        silent.make_silent(1);
        mix_single(&mut got, &silent, 2, ChannelInterpretation::Speakers);
        assert!(got.is_silent() && got.channels() == 2);
        assert!(got.channels_slice().iter().flatten().all(|&x| x == 0.0));
    }
}
