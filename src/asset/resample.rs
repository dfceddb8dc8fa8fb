//! Resampling decoded buffers to the context's rate, once, off the main and render threads.
//!
//! [`resample`] is rubato's windowed-sinc resampler at its high-quality settings (256 taps,
//! Blackman-Harris², cubic interpolation of a 256× oversampled table): a 1 kHz tone taken
//! from 44.1 to 48 kHz keeps its frequency with aliasing and images below −80 dB (tested).
//!
//! [`start_resampling`] sees decoded buffers that are not at the context's rate (a load, a hot
//! reload, a rate change) and resamples them on Bevy's `AsyncComputeTaskPool`;
//! [`finish_resampling`] stores the results. The asset then changes, which re-sends the samples
//! to the nodes that hold it (see [`resync_buffer_nodes`](super::resync_buffer_nodes)).

use std::collections::HashMap;
use std::sync::Arc;

use bevy::asset::AssetEvent;
use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures::check_ready};
use rubato::{
    Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
    calculate_cutoff,
};

use super::{AudioBuffer, SharedChannels};
use crate::context::AudioContext;

/// Input frames per rubato call.
const CHUNK: usize = 1024;
/// Sinc length (taps) of the high-quality filter.
const SINC_LEN: usize = 256;
/// Oversampling of rubato's sinc table.
const OVERSAMPLING: usize = 256;
/// Where rubato 0.16's `SincFixedIn` samples its input: output frame `n` is the input at time
/// `(n + 1) / ratio − LEAD_IN` input frames (its first output sits one output step after its
/// starting index, and the table lookup lags by one oversampling step). Measured, not taken from
/// `output_delay()` (which reports half the sinc length, a delay this resampler does not have):
/// a 5 Hz sine fitted by least squares gives an output lag of `ratio × LEAD_IN − 1` frames at
/// 44.1→48, 48→44.1, 96→44.1, 22.05→48 and 32→48 kHz to within 1e-4 frames. The alignment tests
/// in `tests/all/asset_resample.rs` fail if a rubato update changes it.
const LEAD_IN: f64 = 1.0 - 1.0 / OVERSAMPLING as f64;
/// The longest run of leading zeros tried to make the alignment a whole number of frames.
const MAX_PAD: usize = 4096;
/// Misalignment (output frames) accepted: a 1/1000-frame shift moves a 10 kHz tone at 48 kHz by
/// 1.3 mrad.
const TOLERANCE: f64 = 1e-3;

/// `channels` at `from` Hz converted to `to` Hz: `ceil(length × to / from)` frames, aligned
/// with the input (the filter's delay removed).
pub fn resample(channels: &[Box<[f32]>], from: f32, to: f32) -> Vec<Vec<f32>> {
    let Some(mut resampler) = StreamResampler::new(from, to, channels.len()) else {
        return channels.iter().map(|c| c.to_vec()).collect();
    };
    let mut out = vec![Vec::new(); channels.len()];
    let input: Vec<&[f32]> = channels.iter().map(|c| &**c).collect();
    resampler.push(&input, &mut out);
    resampler.finish(&mut out);
    out
}

/// The high-quality resampler over a stream that arrives in pieces of any size (a whole
/// buffer, or a streaming decoder's packets): output aligned with the input, the filter's delay
/// removed, `ceil(input frames × ratio)` frames in all once [`StreamResampler::finish`]ed.
pub(crate) struct StreamResampler {
    inner: SincFixedIn<f32>,
    /// The rates, for the exact output length `ceil(input × to / from)`.
    from: f64,
    to: f64,
    /// Input not yet resampled (less than a chunk).
    pending: Vec<Vec<f32>>,
    scratch: Vec<Vec<f32>>,
    /// Output frames still to drop (the leading zeros' output).
    skip: usize,
    frames_in: u64,
    frames_out: u64,
}

impl StreamResampler {
    /// A resampler from `from` to `to` Hz, `None` when the rates are equal or invalid.
    pub(crate) fn new(from: f32, to: f32, channels: usize) -> Option<Self> {
        let ratio = f64::from(to) / f64::from(from);
        if from == to || !ratio.is_finite() || ratio <= 0.0 || channels == 0 {
            return None;
        }
        let window = WindowFunction::BlackmanHarris2;
        let params = SincInterpolationParameters {
            sinc_len: SINC_LEN,
            f_cutoff: calculate_cutoff(SINC_LEN, window),
            interpolation: SincInterpolationType::Cubic,
            oversampling_factor: OVERSAMPLING,
            window,
        };
        let inner = SincFixedIn::<f32>::new(ratio, 1.0, params, CHUNK, channels).ok()?;
        let (pad, skip) = alignment(ratio);
        let mut resampler = Self {
            skip,
            scratch: inner.output_buffer_allocate(true),
            pending: vec![Vec::with_capacity(CHUNK); channels],
            inner,
            from: f64::from(from),
            to: f64::from(to),
            frames_in: 0,
            frames_out: 0,
        };
        let zeros = vec![0.0; pad];
        resampler.feed(&vec![zeros.as_slice(); channels], &mut Vec::new());
        Some(resampler)
    }

    /// Resamples `input` (one slice per channel), appending what is ready to `out`.
    pub(crate) fn push(&mut self, input: &[&[f32]], out: &mut [Vec<f32>]) {
        self.frames_in += input.first().map_or(0, |c| c.len()) as u64;
        self.feed(input, out);
    }

    /// Resamples `input` without counting it as the stream's (the leading zeros).
    fn feed(&mut self, input: &[&[f32]], out: &mut [Vec<f32>]) {
        let length = input.first().map_or(0, |c| c.len());
        let mut position = 0;
        while position < length {
            let room = CHUNK - self.pending[0].len();
            let end = (position + room).min(length);
            for (p, c) in self.pending.iter_mut().zip(input) {
                p.extend_from_slice(&c[position..end]);
            }
            position = end;
            if self.pending[0].len() == CHUNK {
                let result = self
                    .inner
                    .process_into_buffer(&self.pending, &mut self.scratch, None);
                self.emit(result, out);
                self.pending.iter_mut().for_each(Vec::clear);
            }
        }
    }

    /// Resamples the rest and flushes the filter: `out` then holds `ceil(input × ratio)`
    /// frames in all since the start.
    pub(crate) fn finish(&mut self, out: &mut [Vec<f32>]) {
        let wanted = (self.frames_in as f64 * self.to / self.from).ceil() as u64;
        let tail = std::mem::take(&mut self.pending);
        let result =
            self.inner
                .process_partial_into_buffer(Some(tail.as_slice()), &mut self.scratch, None);
        self.emit(result, out);
        self.pending = tail;
        self.pending.iter_mut().for_each(Vec::clear);
        while self.frames_out < wanted {
            let result = self.inner.process_partial_into_buffer(
                None::<&[Vec<f32>]>,
                &mut self.scratch,
                None,
            );
            if !self.emit(result, out) {
                break;
            }
        }
        let excess = (self.frames_out - wanted.min(self.frames_out)) as usize;
        for o in out.iter_mut() {
            o.truncate(o.len().saturating_sub(excess));
        }
        self.frames_out = wanted.min(self.frames_out);
    }

    /// Appends a rubato result to `out`, dropping the delay frames first. `false` when rubato
    /// failed or produced nothing.
    fn emit(
        &mut self,
        result: rubato::ResampleResult<(usize, usize)>,
        out: &mut [Vec<f32>],
    ) -> bool {
        let Ok((_, written)) = result else {
            return false;
        };
        let skipped = self.skip.min(written);
        self.skip -= skipped;
        for (o, s) in out.iter_mut().zip(&self.scratch) {
            o.extend_from_slice(&s[skipped..written]);
        }
        self.frames_out += (written - skipped) as u64;
        written > 0
    }
}

/// The leading zeros `pad` and the output frames `skip` to drop after them so that output frame
/// `k` is the input at time `k / ratio` exactly: rubato puts output `n` at input time
/// `(n + 1) / ratio − LEAD_IN − pad`, so `skip = ratio × (pad + LEAD_IN) − 1`, and `pad` is the
/// smallest that makes this whole to within [`TOLERANCE`] frames, or the nearest to whole
/// within [`MAX_PAD`] if none does: for a whole-number ratio (8 → 48 kHz) the fraction
/// `ratio × LEAD_IN` is the same whatever the pad, and the output keeps a lead of
/// `ratio / OVERSAMPLING` output frames (1/256 of an input frame, 0.5 µs at 8 kHz).
fn alignment(ratio: f64) -> (usize, usize) {
    let misalignment = |pad: usize| {
        let frames = ratio * (pad as f64 + LEAD_IN);
        (frames - frames.round()).abs()
    };
    let pad = (0..=MAX_PAD)
        .find(|&pad| misalignment(pad) < TOLERANCE)
        .unwrap_or_else(|| {
            (0..=MAX_PAD)
                .min_by(|&a, &b| misalignment(a).total_cmp(&misalignment(b)))
                .unwrap_or(0)
        });
    let skip = (ratio * (pad as f64 + LEAD_IN)).round() as usize;
    (pad, skip.saturating_sub(1))
}

/// Resamples in flight, by asset.
#[derive(Resource, Default)]
pub struct PendingResamples(HashMap<AssetId<AudioBuffer>, PendingResample>);

struct PendingResample {
    /// The file samples being resampled (to check the asset still holds them).
    source: SharedChannels,
    rate: f32,
    task: Task<Vec<Vec<f32>>>,
}

impl PendingResamples {
    /// How many resamples are running.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is running.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Starts a background resample for every decoded buffer that was loaded or changed and is not
/// at the context's rate, and for all of them when that rate changes.
pub fn start_resampling(
    mut events: MessageReader<AssetEvent<AudioBuffer>>,
    buffers: Res<Assets<AudioBuffer>>,
    context: Res<AudioContext>,
    mut pending: ResMut<PendingResamples>,
    mut last_rate: Local<f32>,
) {
    let rate = context.sample_rate();
    let changed: Vec<AssetId<AudioBuffer>> = if *last_rate == rate {
        events
            .read()
            .filter_map(|event| match *event {
                AssetEvent::Added { id }
                | AssetEvent::LoadedWithDependencies { id }
                | AssetEvent::Modified { id } => Some(id),
                _ => None,
            })
            .collect()
    } else {
        events.clear();
        *last_rate = rate;
        buffers.ids().collect()
    };
    for id in changed {
        let Some((source, from)) = buffers.get(id).and_then(|b| b.needs_resample(rate)) else {
            continue;
        };
        let running = pending
            .0
            .get(&id)
            .is_some_and(|p| p.rate == rate && Arc::ptr_eq(&p.source, &source));
        if running {
            continue;
        }
        let input = source.clone();
        let task = AsyncComputeTaskPool::get().spawn(async move { resample(&input, from, rate) });
        pending.0.insert(id, PendingResample { source, rate, task });
    }
}

/// Stores finished resamples in their assets (if the asset still holds the same file samples
/// and the context still has that rate; a stale result is dropped).
pub fn finish_resampling(
    mut buffers: ResMut<Assets<AudioBuffer>>,
    mut pending: ResMut<PendingResamples>,
    context: Res<AudioContext>,
) {
    let rate = context.sample_rate();
    pending.0.retain(|&id, job| {
        let Some(samples) = check_ready(&mut job.task) else {
            return true;
        };
        let current = buffers
            .get(id)
            .and_then(|b| b.needs_resample(rate))
            .is_some_and(|(source, _)| job.rate == rate && Arc::ptr_eq(&source, &job.source));
        if current && let Some(mut buffer) = buffers.get_mut(id) {
            buffer.set_samples(samples, rate);
        }
        false
    });
}
