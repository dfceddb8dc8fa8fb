//! `DelayNode`'s render side: its `delayTime` param and a variable delay line with linear
//! interpolation. The only node allowed inside a cycle: there the schedule splits it into a
//! read (first) and a write (after its inputs), and its delay is clamped to at least one render
//! quantum (spec).
//!
//! # The read position
//!
//! The spec says only `output(t) = input(t - delayTime(t))`; how a delay that is not a whole
//! number of frames is read, and in which precision, is left open. The choices here are the
//! browsers' (Blink's delay kernel, the engine the conformance references come from), so that
//! a graph sounds the same as in a browser down to the −70 dB interpolation tier:
//!
//! * **Ring.** One ring per channel of `L = 128 + ceil(maxDelayTime · sampleRate)` frames
//!   (the product first rounded to 1/1024 frame, so that `k / sampleRate` seconds gives back
//!   `k`), and a write index `w` that counts the frames written, modulo `L`. A quantum's input
//!   is written before its output is read (outside a cycle), so a delay of 0 passes the input
//!   through.
//! * **Interpolation.** Linear, between the two neighbouring stored frames:
//!   `p = w + L − delayTime · sampleRate` (wrapped into `0..L`), `i = ⌊p⌋`, `f = p − i`,
//!   `out = x[i] + f · (x[i + 1] − x[i])`. [`read_position`] is that formula.
//! * **Precision, a-rate** (the default rate, automated or not): every step in `f32`, as
//!   browsers' vectorised kernels compute it — `delayTime · sampleRate`, `L − that`, `w + that`,
//!   the wrap, `p − i` and the interpolation. `p` runs up to `2L`, so its fractional part is
//!   coarse far into a long ring (1/128 frame once `p` passes 65536). Computing it in `f64`
//!   instead (the obvious "better" choice, and this node's earlier one) measures −41 dB
//!   against Chromium on a constant fractional delay of noise in the default 1 s line
//!   (`conf_delay_fractional`, now bit-identical) — inaudible, but outside the tier. Given the
//!   same `delayTime` values, the f32 steps reproduce Chromium's output bit for bit.
//! * **Precision, k-rate**: one position per quantum, computed in `f64`
//!   (`delayTime` as f32 widened, `· sampleRate`), its fractional part rounded to `f32`, then
//!   the same `f32` interpolation for every frame.
//! * **Range.** `delayTime` arrives clamped to `0..=maxDelayTime` (the param's nominal range);
//!   inside a cycle the delay is further clamped to at least 128 frames (spec). Chromium instead
//!   adds a quantum inside cycles; there the spec is followed (see the conformance README).
//! * **Channels.** Each input channel has its own ring; channels beyond the input's are written
//!   as silence, and the output has as many channels as the current input.

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{AutomationRate, NodeParams, ParamDescriptor, ParamId};
use crate::render::bus::{AudioBus, MAX_CHANNELS, RENDER_QUANTUM};

node_params! {
    /// `DelayNode`'s params.
    pub enum DelayParam {
        /// `delayTime` in seconds: a-rate, default 0, nominal range `0..=maxDelayTime`. The
        /// declared range is that of the default `maxDelayTime` (1 s); a node's param uses
        /// [`DelayParam::delay_time_descriptor`] with its own.
        DelayTime = (ParamId::DelayTime, ParamDescriptor::a_rate(0.0, 0.0, 1.0)),
    }
}

impl DelayParam {
    /// `delayTime`'s descriptor for a node whose `maxDelayTime` is `max_delay_time` seconds.
    pub fn delay_time_descriptor(max_delay_time: f64) -> ParamDescriptor {
        ParamDescriptor {
            max_value: max_delay_time as f32,
            ..Self::DelayTime.descriptor()
        }
    }
}

/// The ring length for `max_delay_time` seconds at `sample_rate`: one quantum plus the longest
/// delay in frames, that product first rounded to 1/1024 frame (so `k / sampleRate` seconds
/// gives back `k` frames) and then up.
pub fn ring_len(max_delay_time: f64, sample_rate: f32) -> usize {
    let frames = (max_delay_time * f64::from(sample_rate) * 1024.0).round() / 1024.0;
    RENDER_QUANTUM + frames.ceil().max(1.0) as usize
}

/// An interpolated read position in a ring of `len` frames: the index of the earlier of the two
/// frames and the weight of the later one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadPosition {
    /// `⌊p⌋`, in `0..len`.
    pub index: usize,
    /// `p − ⌊p⌋`, in `[0, 1)`.
    pub frac: f32,
}

/// In which precision a read position is computed (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPrecision {
    /// Every step in `f32` (a-rate).
    Single,
    /// The position in `f64`, only its fractional part rounded to `f32` (k-rate).
    Double,
}

/// The read position of a delay of `delay_frames` (already `delayTime · sampleRate`, in the
/// precision's type) for the frame being written at ring index `write` (`< len`):
/// `p = write + len − delay_frames`, wrapped once into `0..len`. `delay_frames` must lie in
/// `0..=len − 128` (a longer delay would read frames this quantum has not written yet).
pub fn read_position(
    write: usize,
    len: usize,
    delay_frames: f64,
    precision: ReadPrecision,
) -> ReadPosition {
    let (index, frac) = match precision {
        ReadPrecision::Single => {
            let len_f = len as f32;
            let mut p = write as f32 + (len_f - delay_frames as f32);
            if p >= len_f {
                p -= len_f;
            }
            // Truncation (p ≥ 0); `as` saturates, so no input can index out of the ring.
            let index = p as usize;
            (index, p - index as f32)
        }
        ReadPrecision::Double => {
            let mut p = (write + len) as f64 - delay_frames;
            if p >= len as f64 {
                p -= len as f64;
            }
            let index = p as usize;
            (index, (p - index as f64) as f32)
        }
    };
    if index < len {
        ReadPosition { index, frac }
    } else {
        ReadPosition {
            index: 0,
            frac: 0.0,
        }
    }
}

/// Per-channel circular buffers of a common length, and the write index.
struct DelayRing {
    channels: Vec<Vec<f32>>,
    len: usize,
    /// Where the next quantum's first frame goes.
    write: usize,
}

impl DelayRing {
    fn new(channels: usize, len: usize) -> Self {
        Self {
            channels: vec![vec![0.0; len]; channels.clamp(1, MAX_CHANNELS)],
            len,
            write: 0,
        }
    }

    /// Stores one quantum at the write index (channels beyond the input's get silence); the
    /// index stays until [`DelayRing::advance`].
    fn store(&mut self, input: &AudioBus) {
        let base = self.write;
        for (c, ring) in self.channels.iter_mut().enumerate() {
            let source = (c < input.channels() && !input.is_silent()).then(|| input.channel(c));
            for i in 0..RENDER_QUANTUM {
                ring[(base + i) % self.len] = source.map_or(0.0, |s| s[i]);
            }
        }
    }

    /// Moves the write index past the quantum.
    fn advance(&mut self) {
        self.write = (self.write + RENDER_QUANTUM) % self.len;
    }

    /// `x[i] + f · (x[i + 1] − x[i])` on `channel`.
    fn read(&self, channel: usize, at: ReadPosition) -> f32 {
        let ring = &self.channels[channel];
        let next = if at.index + 1 == self.len {
            0
        } else {
            at.index + 1
        };
        let (s1, s2) = (ring[at.index], ring[next]);
        s1 + at.frac * (s2 - s1)
    }
}

/// A delay line of up to `maxDelayTime`, one ring per input channel.
pub struct DelayProcessor {
    ring: DelayRing,
    sample_rate: f32,
    /// `delayTime`'s `automationRate`: it chooses the read position's precision (a k-rate
    /// param and a constant a-rate one both arrive as one value).
    rate: AutomationRate,
    /// The channel count of the most recent input (the output has as many).
    channels: usize,
}

impl DelayProcessor {
    /// A silent delay line holding up to `max_delay_time` seconds at `sample_rate` Hz for up to
    /// `max_channels` channels, its `delayTime` a-rate (allocates).
    pub fn new(max_delay_time: f64, sample_rate: f32, max_channels: usize) -> Self {
        Self {
            ring: DelayRing::new(max_channels, ring_len(max_delay_time, sample_rate)),
            sample_rate,
            rate: AutomationRate::ARate,
            channels: 1,
        }
    }

    /// The same with `delayTime`'s `automationRate` (later changes arrive as messages).
    pub fn with_automation_rate(mut self, rate: AutomationRate) -> Self {
        self.rate = rate;
        self
    }

    /// Reads one quantum for the frames written at the ring's write index onwards (the current
    /// quantum is written already outside a cycle, not yet inside one). Inside a cycle
    /// `min_frames` is one quantum.
    fn read_into(&self, output: &mut AudioBus, delay: &[f32], min_frames: f32) {
        let channels = self.channels.min(self.ring.channels.len());
        output.set_channels(channels);
        let len = self.ring.len;
        let longest = (len - RENDER_QUANTUM) as f32;
        let sr = self.sample_rate;
        match (self.rate, delay) {
            (AutomationRate::KRate, &[seconds]) => {
                let frames = (f64::from(seconds) * f64::from(sr))
                    .clamp(f64::from(min_frames), f64::from(longest));
                let start = read_position(self.ring.write, len, frames, ReadPrecision::Double);
                for (c, out) in output.channels_mut().iter_mut().enumerate() {
                    let mut at = start;
                    for o in out.iter_mut() {
                        *o = self.ring.read(c, at);
                        at.index = if at.index + 1 == len { 0 } else { at.index + 1 };
                    }
                }
            }
            _ => {
                for (c, out) in output.channels_mut().iter_mut().enumerate() {
                    let mut write = self.ring.write;
                    for (i, o) in out.iter_mut().enumerate() {
                        let seconds = if let [d] = delay { *d } else { delay[i] };
                        let frames = (seconds * sr).clamp(min_frames, longest);
                        let at =
                            read_position(write, len, f64::from(frames), ReadPrecision::Single);
                        *o = self.ring.read(c, at);
                        write = if write + 1 == len { 0 } else { write + 1 };
                    }
                }
            }
        }
    }
}

impl AudioProcessor for DelayProcessor {
    type Params = DelayParam;
    type Message = AutomationRate;

    fn process(
        &mut self,
        io: ProcessIo<'_, DelayParam>,
        _ctx: &ProcessContext,
        phase: ProcessPhase,
    ) -> ProcessStatus {
        let delay = io.params.get(DelayParam::DelayTime);
        match phase {
            ProcessPhase::Whole => {
                self.channels = io.inputs[0].channels();
                self.ring.store(&io.inputs[0]);
                self.read_into(&mut io.outputs[0], delay, 0.0);
                self.ring.advance();
            }
            ProcessPhase::CycleRead => {
                self.read_into(&mut io.outputs[0], delay, RENDER_QUANTUM as f32);
            }
            ProcessPhase::CycleWrite => {
                self.channels = io.inputs[0].channels();
                self.ring.store(&io.inputs[0]);
                self.ring.advance();
            }
        }
        ProcessStatus::Active
    }

    fn update(&mut self, message: &mut AutomationRate) {
        self.rate = *message;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `p = w + L − d`, wrapped into `0..L`, split into `⌊p⌋` and `p − ⌊p⌋`, in exact
    /// arithmetic (every figure here is exact in f32 and f64 alike).
    #[test]
    fn read_position_is_the_spec_formula_on_exact_values() {
        for precision in [ReadPrecision::Single, ReadPrecision::Double] {
            let at = |w, d| read_position(w, 1000, d, precision);
            // 997.75: no wrap.
            assert_eq!(
                at(0, 2.25),
                ReadPosition {
                    index: 997,
                    frac: 0.75
                }
            );
            // 1007.75 wraps to 7.75.
            assert_eq!(
                at(10, 2.25),
                ReadPosition {
                    index: 7,
                    frac: 0.75
                }
            );
            // A delay of 0 reads the frame just written; a whole delay has no fraction.
            assert_eq!(
                at(5, 0.0),
                ReadPosition {
                    index: 5,
                    frac: 0.0
                }
            );
            assert_eq!(
                at(5, 6.0),
                ReadPosition {
                    index: 999,
                    frac: 0.0
                }
            );
            // The longest delay (L − 128 frames) reads 128 frames past the write index.
            assert_eq!(
                at(900, 872.0),
                ReadPosition {
                    index: 28,
                    frac: 0.0
                }
            );
            assert_eq!(
                at(999, 0.5),
                ReadPosition {
                    index: 998,
                    frac: 0.5
                }
            );
        }
    }

    /// Far into a 1 s ring at 48 kHz (`L` = 48128) the f32 position is coarse, and the order
    /// of the steps shows: `L − 0.01` rounds to 48127.984375 (1/256-frame steps) before the
    /// write index 40000 is added, so the a-rate weight is 0.984375 — not 0.9921875, which
    /// `(w + L) − d` or the exact position rounded once to f32 would give, nor the exact 0.99
    /// of the k-rate f64 path.
    #[test]
    fn a_rate_positions_round_in_f32_step_by_step_and_k_rate_ones_in_f64() {
        let len = ring_len(1.0, 48_000.0);
        assert_eq!(len, 48_128);
        let d = f64::from(0.01f32);
        let single = read_position(40_000, len, d, ReadPrecision::Single);
        assert_eq!(
            single,
            ReadPosition {
                index: 39_999,
                frac: 0.984_375
            }
        );
        let double = read_position(40_000, len, d, ReadPrecision::Double);
        assert_eq!(
            double,
            ReadPosition {
                index: 39_999,
                frac: 0.99
            }
        );
    }

    #[test]
    fn ring_length_rounds_the_longest_delay_up_after_a_1024th_frame() {
        // 0.02 s · 48 kHz = 960 exactly; 1/3 s · 44.1 kHz = 14700 (within 1/1024 of it).
        assert_eq!(ring_len(0.02, 48_000.0), 128 + 960);
        assert_eq!(ring_len(1.0 / 3.0, 44_100.0), 128 + 14_700);
        assert_eq!(ring_len(0.020_01, 48_000.0), 128 + 961);
        // Never shorter than one quantum plus a frame.
        assert_eq!(ring_len(1e-9, 48_000.0), 129);
    }

    /// A quantum of `x[n] = n + 1` through a 2.5-frame delay: the output is
    /// `x[n − 3] + 0.5 · (x[n − 2] − x[n − 3])`, zeros before the input starts.
    #[test]
    fn process_reads_the_interpolated_delayed_input() {
        use crate::node::audio_listener::ListenerValues;
        use crate::param::Params;
        let mut p = DelayProcessor::new(0.01, 48_000.0, 1);
        let mut input = AudioBus::with_capacity(1);
        input.set_channels(1);
        for (i, v) in input.channel_mut(0).iter_mut().enumerate() {
            *v = i as f32 + 1.0;
        }
        let mut outputs = [AudioBus::with_capacity(1)];
        let seconds = [2.5f32 / 48_000.0];
        let values: [&[f32]; 1] = [&seconds];
        let listener = ListenerValues::default();
        let io = ProcessIo {
            inputs: std::slice::from_ref(&input),
            outputs: &mut outputs,
            params: Params::new(&values),
            listener: &listener,
        };
        let ctx = ProcessContext {
            sample_rate: 48_000.0,
            frame: 0,
        };
        p.process(io, &ctx, ProcessPhase::Whole);
        let out = outputs[0].channel(0);
        assert_eq!(&out[..3], &[0.0, 0.0, 0.5]);
        for (n, &v) in out.iter().enumerate().skip(3) {
            assert!((v - (n as f32 - 1.5)).abs() < 1e-4, "frame {n}: {v}");
        }
    }
}
