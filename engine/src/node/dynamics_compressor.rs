//! `DynamicsCompressorNode`'s render side: its params, its options, its reduction meter and
//! its processor, the WebKit/Blink compressor kernel, which the spec's processing
//! section describes in simplified form (its choices are the ones the spec leaves open, taken
//! from the browsers so that a graph measures as in Chromium):
//!
//! - **Look-ahead**: the signal is delayed by 6 ms (288 frames at 48 kHz) while the detector
//!   reads the undelayed input, so the gain is already down when a transient comes out.
//! - **Static curve** (the spec's compression curve): the identity up to `threshold`, then an
//!   exponential soft knee `y = T + (1 − e^{−k(x − T)})/k` (linear units, first derivative
//!   matched at `T`), whose `k` is found by bisection so that its slope in dB at
//!   `threshold + knee` equals `1/ratio`, then a constant `1/ratio` slope in dB.
//! - **Make-up gain**: `(1 / curve(1.0))^0.6`, a fixed gain that only depends on the params.
//! - **Detector**: per frame, the attenuation `curve(|x|)/|x|` of the loudest channel; the
//!   detector average falls to it at once and rises back at a rate that grows with the
//!   attenuation (the "saturation release", ≥ 2 dB per 2.5 ms).
//! - **Envelope**: every 32 frames the gain heads for the detector average (pre-warped by
//!   `asin`, the applied gain being `sin(π/2 · gain)`): attacking at a rate set by `attack` and
//!   the largest dB difference seen in this attack, releasing at an adaptive rate — a quartic
//!   through 9 %, 16 %, 42 % and 98 % of `release` (per 5 dB) chosen by how much compression
//!   is left to release, so heavy compression lets go faster.
//! - **`reduction`**: a meter of the applied gain in dB that follows drops at once and
//!   recovers with a 0.325 s time constant, published once per render quantum through an atomic
//!   shared with the component (latest value wins: a meter needs no history).
//!
//! The params are k-rate (their rate cannot change), sampled once per render quantum.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{NodeParams, ParamDescriptor, ParamId};
use crate::render::bus::RENDER_QUANTUM;

node_params! {
    /// `DynamicsCompressorNode`'s params: all k-rate, their rate fixed.
    pub enum DynamicsCompressorParam {
        /// `threshold` in dB: default −24, nominal range −100..=0.
        Threshold = (ParamId::Threshold, ParamDescriptor::k_rate(-24.0, -100.0, 0.0).fixed()),
        /// `knee` in dB: default 30, nominal range 0..=40.
        Knee = (ParamId::Knee, ParamDescriptor::k_rate(30.0, 0.0, 40.0).fixed()),
        /// `ratio`: default 12, nominal range 1..=20.
        Ratio = (ParamId::Ratio, ParamDescriptor::k_rate(12.0, 1.0, 20.0).fixed()),
        /// `attack` in seconds: default 0.003, nominal range 0..=1.
        Attack = (ParamId::Attack, ParamDescriptor::k_rate(0.003, 0.0, 1.0).fixed()),
        /// `release` in seconds: default 0.25, nominal range 0..=1.
        Release = (ParamId::Release, ParamDescriptor::k_rate(0.25, 0.0, 1.0).fixed()),
    }
}

/// The look-ahead delay.
const PRE_DELAY_SECONDS: f32 = 0.006;
/// Capacity of the look-ahead delay line (a power of two).
const MAX_PRE_DELAY_FRAMES: usize = 1024;
/// Frames between envelope-rate updates.
const DIVISION_FRAMES: usize = 32;
/// The adaptive release takes these fractions of `release` per 5 dB when 12, 8, 4 and 0 dB of
/// compression are left to release (Blink's defaults): heavy compression lets go faster.
const RELEASE_ZONES: [f32; 4] = [0.09, 0.16, 0.42, 0.98];
/// The quartic's coefficients `[a, b, c, d, e]` (of `1, x, x², x³, x⁴`) as weights of the four
/// zone frame counts: the Lagrange fit through x = 0, 1, 2, 3 that Blink uses.
#[allow(clippy::excessive_precision)]
#[rustfmt::skip]
const RELEASE_FIT: [[f64; 4]; 5] = [
    [0.9999999999999998, 1.8432219684323923e-16, -1.9373394351676423e-16, 8.824516011816245e-18],
    [-1.5788320352845888, 2.3305837032074286, -0.9141194204840429, 0.1623677525612032],
    [0.5334142869106424, -1.272736789213631, 0.9258856042207512, -0.18656310191776226],
    [0.08783463138207234, -0.1694162967925622, 0.08588057951595272, -0.00429891410546283],
    [-0.042416883008123074, 0.1115693827987602, -0.09764676325265872, 0.028494263462021576],
];
/// The detector's release time.
const SATURATION_RELEASE_SECONDS: f32 = 0.0025;
/// The meter's release time constant.
const METERING_RELEASE_SECONDS: f32 = 0.325;
/// Most channels the compressor processes (spec: `channelCount` ≤ 2).
const CHANNELS: usize = 2;

/// The spec's `DynamicsCompressorOptions` (every member optional, with these defaults).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct DynamicsCompressorOptions {
    /// `attack` in seconds (default 0.003).
    pub attack: f32,
    /// `knee` in dB (default 30).
    pub knee: f32,
    /// `ratio` (default 12).
    pub ratio: f32,
    /// `release` in seconds (default 0.25).
    pub release: f32,
    /// `threshold` in dB (default −24).
    pub threshold: f32,
}

impl Default for DynamicsCompressorOptions {
    fn default() -> Self {
        Self {
            attack: DynamicsCompressorParam::Attack.descriptor().default_value,
            knee: DynamicsCompressorParam::Knee.descriptor().default_value,
            ratio: DynamicsCompressorParam::Ratio.descriptor().default_value,
            release: DynamicsCompressorParam::Release.descriptor().default_value,
            threshold: DynamicsCompressorParam::Threshold
                .descriptor()
                .default_value,
        }
    }
}

/// The render side's `reduction`, shared with the component: `f32` bits in an atomic.
///
/// A clone gets a meter of its own (a cloned component becomes a new node when spawned).
#[derive(Debug, Default)]
pub struct ReductionMeter(Arc<AtomicU32>);

impl Clone for ReductionMeter {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl ReductionMeter {
    /// The last published reduction in dB (0 before the processor has rendered).
    pub fn get(&self) -> f32 {
        f32::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Identifies the meter (the processor is told when the component holds another one).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// The processor's end of this meter (the same atomic, for
    /// [`CompressorProcessor::new`] and [`MeterUpdate`]).
    pub fn shared(&self) -> Arc<AtomicU32> {
        self.0.clone()
    }
}

/// A new meter for the processor (the component holds another [`ReductionMeter`]); the old
/// one comes back in it.
#[derive(Debug)]
pub struct MeterUpdate(pub Option<Arc<AtomicU32>>);

fn db_to_linear(db: f32) -> f32 {
    10f32.powf(0.05 * db)
}

fn linear_to_db(x: f32) -> f32 {
    20.0 * x.log10()
}

/// The compression curve at one setting of `threshold`, `knee` and `ratio` (the spec's
/// compression curve, with Blink's exponential knee).
#[derive(Clone, Copy, Debug)]
pub struct StaticCurve {
    db_threshold: f32,
    db_knee: f32,
    ratio: f32,
    linear_threshold: f32,
    /// `1 / ratio`.
    slope: f32,
    /// `threshold + knee`, linear and in dB.
    knee_end: f32,
    knee_end_db: f32,
    /// The curve's output at the knee's end, in dB.
    knee_end_out_db: f32,
    /// The knee's exponential constant.
    k: f32,
}

impl StaticCurve {
    /// The curve for `threshold` and `knee` in dB and `ratio`.
    pub fn new(db_threshold: f32, db_knee: f32, ratio: f32) -> Self {
        let mut c = Self {
            db_threshold,
            db_knee,
            ratio,
            linear_threshold: db_to_linear(db_threshold),
            slope: 1.0 / ratio,
            knee_end: 0.0,
            knee_end_db: 0.0,
            knee_end_out_db: 0.0,
            k: 0.0,
        };
        c.k = c.k_at_slope(1.0 / ratio);
        c.knee_end_db = db_threshold + db_knee;
        c.knee_end = db_to_linear(c.knee_end_db);
        c.knee_end_out_db = linear_to_db(c.knee_curve(c.knee_end, c.k));
        c
    }

    /// The exponential knee: the identity below the threshold, then rising towards
    /// `threshold + 1/k`, first-derivative matched at the threshold.
    fn knee_curve(&self, x: f32, k: f32) -> f32 {
        if x < self.linear_threshold {
            return x;
        }
        let t = self.linear_threshold;
        t + (1.0 - (-f64::from(k * (x - t))).exp() as f32) / k
    }

    /// The whole curve: the output level for a steady input level `x` (linear, ≥ 0): the
    /// knee, then a constant ratio after it.
    pub fn saturate(&self, x: f32) -> f32 {
        if x < self.knee_end {
            self.knee_curve(x, self.k)
        } else {
            let x_db = linear_to_db(x);
            db_to_linear(self.knee_end_out_db + self.slope * (x_db - self.knee_end_db))
        }
    }

    /// The knee's slope in dB/dB at `x`, by a finite difference over 0.1 %.
    fn slope_at(&self, x: f32, k: f32) -> f32 {
        if x < self.linear_threshold {
            return 1.0;
        }
        let x2 = (f64::from(x) * 1.001) as f32;
        let (x_db, x2_db) = (linear_to_db(x), linear_to_db(x2));
        let y_db = linear_to_db(self.knee_curve(x, k));
        let y2_db = linear_to_db(self.knee_curve(x2, k));
        (y2_db - y_db) / (x2_db - x_db)
    }

    /// The `k` whose knee has slope `desired` at the knee's end (15 steps of a geometric
    /// bisection over 0.1..10000).
    fn k_at_slope(&self, desired: f32) -> f32 {
        let x = db_to_linear(self.db_threshold + self.db_knee);
        let (mut min_k, mut max_k, mut k) = (0.1f32, 10_000.0f32, 5.0f32);
        for _ in 0..15 {
            if self.slope_at(x, k) < desired {
                max_k = k;
            } else {
                min_k = k;
            }
            k = (min_k * max_k).sqrt();
        }
        k
    }

    /// The make-up gain (linear): `(1 / curve(1))^0.6`.
    pub fn makeup_gain(&self) -> f32 {
        (1.0 / self.saturate(1.0)).powf(0.6)
    }

    fn matches(&self, db_threshold: f32, db_knee: f32, ratio: f32) -> bool {
        self.db_threshold == db_threshold && self.db_knee == db_knee && self.ratio == ratio
    }
}

/// The kernel's state (one detector for all channels, a delay line per channel).
struct Kernel {
    sample_rate: f32,
    curve: StaticCurve,
    pre_delay: Box<[[f32; MAX_PRE_DELAY_FRAMES]; CHANNELS]>,
    pre_delay_frames: usize,
    read: usize,
    write: usize,
    detector_average: f32,
    compressor_gain: f32,
    /// The largest dB difference seen since the current attack began (−1: none).
    max_attack_diff_db: f32,
    metering_gain: f32,
    metering_release_k: f32,
}

impl Kernel {
    fn new(sample_rate: f32) -> Self {
        let pre_delay_frames =
            ((PRE_DELAY_SECONDS * sample_rate) as usize).min(MAX_PRE_DELAY_FRAMES - 1);
        let default = |p: DynamicsCompressorParam| p.descriptor().default_value;
        let curve = StaticCurve::new(
            default(DynamicsCompressorParam::Threshold),
            default(DynamicsCompressorParam::Knee),
            default(DynamicsCompressorParam::Ratio),
        );
        Self {
            sample_rate,
            curve,
            pre_delay: Box::new([[0.0; MAX_PRE_DELAY_FRAMES]; CHANNELS]),
            pre_delay_frames,
            read: 0,
            write: pre_delay_frames,
            detector_average: 0.0,
            compressor_gain: 1.0,
            max_attack_diff_db: -1.0,
            metering_gain: 0.0,
            metering_release_k: 1.0
                - (-1.0 / (f64::from(sample_rate) * f64::from(METERING_RELEASE_SECONDS))).exp()
                    as f32,
        }
    }

    /// Compresses one quantum of `channels` (1 or 2) channels from `input` into `output`
    /// (a silent input is `None`). Called on the real-time thread.
    fn process(
        &mut self,
        params: [f32; 5],
        input: Option<&[[f32; RENDER_QUANTUM]]>,
        output: &mut [[f32; RENDER_QUANTUM]],
    ) {
        let [threshold, knee, ratio, attack, release] = params;
        if !self.curve.matches(threshold, knee, ratio) {
            self.curve = StaticCurve::new(threshold, knee, ratio);
        }
        let curve = self.curve;
        let sample_rate = self.sample_rate;
        let makeup = curve.makeup_gain();

        let attack_frames = attack.max(0.001) * sample_rate;
        let release_frames = sample_rate * release;
        let saturation_release_frames = SATURATION_RELEASE_SECONDS * sample_rate;

        // A quartic through the four release zones at x = 0, 1, 2, 3.
        let zones = RELEASE_ZONES.map(|z| release_frames * z);
        let [a, b, c, d, e] = RELEASE_FIT.map(|row| {
            row.iter()
                .zip(zones)
                .fold(0.0f32, |sum, (&w, y)| sum + w as f32 * y)
        });

        let channels = output.len().min(CHANNELS);
        let half_pi = std::f32::consts::FRAC_PI_2;
        let mask = MAX_PRE_DELAY_FRAMES - 1;
        for division in 0..RENDER_QUANTUM / DIVISION_FRAMES {
            if !self.detector_average.is_finite() {
                self.detector_average = 1.0;
            }
            let desired_gain = self.detector_average;
            // Pre-warped, so that the sin() below gives back the desired gain.
            let scaled_desired_gain = desired_gain.asin() / half_pi;
            let releasing = scaled_desired_gain > self.compressor_gain;
            let diff_db = if scaled_desired_gain == 0.0 {
                if releasing { -1.0 } else { 1.0 }
            } else {
                linear_to_db(self.compressor_gain / scaled_desired_gain)
            };
            let envelope_rate = if releasing {
                self.max_attack_diff_db = -1.0;
                let diff_db = if diff_db.is_finite() { diff_db } else { -1.0 };
                // −12..0 dB of compression left to release → 0..3.
                let x = 0.25 * (diff_db.clamp(-12.0, 0.0) + 12.0);
                let (x2, x3, x4) = (x * x, x * x * x, x * x * x * x);
                let frames = a + b * x + c * x2 + d * x3 + e * x4;
                db_to_linear(5.0 / frames)
            } else {
                let diff_db = if diff_db.is_finite() { diff_db } else { 1.0 };
                if self.max_attack_diff_db == -1.0 || self.max_attack_diff_db < diff_db {
                    self.max_attack_diff_db = diff_db;
                }
                let effective = self.max_attack_diff_db.max(0.5);
                1.0 - (0.25 / effective).powf(1.0 / attack_frames)
            };

            let (mut detector_average, mut gain) = (self.detector_average, self.compressor_gain);
            for frame in division * DIVISION_FRAMES..(division + 1) * DIVISION_FRAMES {
                // Delay the signal; detect on the undelayed loudest channel. A mono input
                // feeds both delay lines, as Blink duplicates it.
                let mut level = 0.0f32;
                for (ch, line) in self.pre_delay.iter_mut().enumerate() {
                    let x = input.map_or(0.0, |inp| {
                        inp.get(ch)
                            .or_else(|| inp.first())
                            .map_or(0.0, |c| c[frame])
                    });
                    line[self.write] = x;
                    level = level.max(x.abs());
                }
                let shaped = curve.saturate(level);
                let attenuation = if level <= 0.0001 { 1.0 } else { shaped / level };
                let attenuation_db = (-linear_to_db(attenuation)).max(2.0);
                let saturation_release_rate =
                    db_to_linear(attenuation_db / saturation_release_frames) - 1.0;
                let rate = if attenuation > detector_average {
                    saturation_release_rate
                } else {
                    1.0
                };
                detector_average += (attenuation - detector_average) * rate;
                detector_average = detector_average.min(1.0);
                if !detector_average.is_finite() {
                    detector_average = 1.0;
                }

                if envelope_rate < 1.0 {
                    gain += (scaled_desired_gain - gain) * envelope_rate;
                } else {
                    gain = (gain * envelope_rate).min(1.0);
                }
                let warped = (f64::from(half_pi * gain)).sin() as f32;
                let total_gain = makeup * warped;

                let db_real_gain = if warped == 0.0 {
                    -1000.0
                } else {
                    linear_to_db(warped)
                };
                if db_real_gain < self.metering_gain {
                    self.metering_gain = db_real_gain;
                } else {
                    self.metering_gain +=
                        (db_real_gain - self.metering_gain) * self.metering_release_k;
                }

                for (out, line) in output[..channels].iter_mut().zip(self.pre_delay.iter()) {
                    out[frame] = line[self.read] * total_gain;
                }
                self.read = (self.read + 1) & mask;
                self.write = (self.write + 1) & mask;
            }
            self.detector_average = flush_denormal(detector_average);
            self.compressor_gain = flush_denormal(gain);
        }
    }
}

fn flush_denormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

/// The compressor's processor: the kernel, publishing its reduction to a
/// [`ReductionMeter`] every quantum.
pub struct CompressorProcessor {
    kernel: Kernel,
    meter: Arc<AtomicU32>,
    /// The output's channel count (it follows the input's after the look-ahead delay).
    output_channels: usize,
    /// A change of the input's channel count: the new count and the frame at which it was
    /// seen.
    pending: Option<(usize, u64)>,
}

impl CompressorProcessor {
    /// A compressor at `sample_rate` publishing to `meter` ([`ReductionMeter::shared`]).
    pub fn new(sample_rate: f32, meter: Arc<AtomicU32>) -> Self {
        Self {
            kernel: Kernel::new(sample_rate),
            meter,
            output_channels: 1,
            pending: None,
        }
    }

    /// The output channel count for the quantum starting at `frame`, after an input of
    /// `channels` channels: a change reaches the output with the delayed signal (a wider input
    /// widens the output in the quantum where it comes out; a narrower one narrows it once the
    /// wider signal is all out).
    fn output_channels(&mut self, channels: usize, frame: u64) -> usize {
        match self.pending {
            Some((pending, _)) if pending == channels => {}
            _ if channels == self.output_channels => self.pending = None,
            _ => self.pending = Some((channels, frame)),
        }
        if let Some((pending, since)) = self.pending {
            let due = since + self.kernel.pre_delay_frames as u64;
            let end = frame + RENDER_QUANTUM as u64;
            if (pending > self.output_channels && end > due) || frame >= due {
                self.output_channels = pending;
                self.pending = None;
            }
        }
        self.output_channels
    }
}

impl AudioProcessor for CompressorProcessor {
    type Params = DynamicsCompressorParam;
    type Message = MeterUpdate;

    fn process(
        &mut self,
        io: ProcessIo<'_, DynamicsCompressorParam>,
        ctx: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let (Some(input), Some(output)) = (io.inputs.first(), io.outputs.first_mut()) else {
            return ProcessStatus::Active;
        };
        // k-rate: one value per quantum.
        let params = [
            DynamicsCompressorParam::Threshold,
            DynamicsCompressorParam::Knee,
            DynamicsCompressorParam::Ratio,
            DynamicsCompressorParam::Attack,
            DynamicsCompressorParam::Release,
        ]
        .map(|p| io.params.at(p, 0));
        let channels = self.output_channels(input.channels().min(CHANNELS), ctx.frame);
        output.set_channels(channels);
        let source = (!input.is_silent()).then(|| input.channels_slice());
        self.kernel.process(params, source, output.channels_mut());
        self.meter
            .store(self.kernel.metering_gain.to_bits(), Ordering::Relaxed);
        ProcessStatus::Active
    }

    fn update(&mut self, message: &mut MeterUpdate) {
        if let MeterUpdate(Some(meter)) = message {
            std::mem::swap(&mut self.meter, meter);
        }
    }
}
