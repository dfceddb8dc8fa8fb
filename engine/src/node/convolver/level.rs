//! The partitioned part of the convolution: a chain of uniformly partitioned overlap-save
//! segments ("levels") of growing block length, chosen by a cost model, each with a static
//! per-quantum schedule that spreads its transforms and spectral products over the quanta
//! of one block.
//!
//! A level of block length `L` (FFT length `2L`, `n = L / 128` quanta per block) covers the
//! response taps `[start, start + partitions·L)`. Block `j` of the input (frames
//! `[jL, (j+1)L)`) is complete in the quantum that receives its last frame; that quantum is
//! the level's phase 0 for block `j`, and the work for block `j` runs in phases `0..n`, i.e.
//! in that quantum and the `n − 1` after it: the forward transforms of the last `2L` input
//! frames (one per input channel, into the frequency-domain delay line), the products of the
//! delay line with the partition spectra (summed per output channel), and one inverse
//! transform per output channel, whose last `L` samples are the level's output for frames
//! `[jL + start, jL + start + L)`. They are written into an output ring at the last phase, in
//! the quantum starting at frame `(j+2)L − 256` at the latest, so a level may start at tap
//! `2L − 256` and the whole convolution has no latency. The ring is read one quantum at a
//! time as the frames come due.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::BLOCK;

/// The largest block length the cost model considers.
const MAX_BLOCK: usize = 16_384;

/// Estimated cost (ns, on the machine the model was fitted on) of one real FFT of length `n`,
/// either direction: `0.12·n·log₂ n` plus a call overhead (realfft 3.5, fitted on 256 to
/// 65 536 points).
fn fft_cost(n: usize) -> f64 {
    let n = n as f64;
    0.12 * n * n.log2() + 100.0
}

/// Estimated cost (ns) of one complex multiply-add of the spectral products.
const MAC_COST: f64 = 0.5;

/// Weight of the largest level's transform in the cost of a chain: a transform is done in one
/// quantum (it cannot be split), so that quantum's work exceeds the others' by about its
/// cost; the chain minimizes the mean work per quantum plus this fraction of that excess.
/// For a 4 s response this picks 128, 1024 and 8192-frame blocks (mean 2 % above the
/// cheapest chain, whose 16 384-frame blocks would make the worst quantum's transform twice
/// as long).
const PEAK_WEIGHT: f64 = 0.1;

/// Estimated cost (ns) of one quantum of the direct 128-tap head, per path.
pub(super) const DIRECT_COST: f64 = 2500.0;

/// Where a level sits in the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    /// Block (partition) length in frames, a power of two ≥ 128.
    pub block: usize,
    /// First response tap the level covers.
    pub start: usize,
    /// Partitions of `block` taps.
    pub partitions: usize,
}

/// Lays out the chain of block lengths `chain` (the first is 128) over a response of `length`
/// frames (> 128), each level starting as early as zero latency allows (`2L − 256`) and as late
/// as the previous level's partitions reach. `None` when a level of the chain would start past
/// the response (a shorter chain covers it).
fn layout(chain: &[usize], length: usize) -> Option<Vec<Shape>> {
    let mut shapes = Vec::with_capacity(chain.len());
    let mut start = BLOCK;
    for (i, &block) in chain.iter().enumerate() {
        if start >= length {
            return None;
        }
        let partitions = match chain.get(i + 1) {
            Some(&next) => (2 * next - 2 * BLOCK)
                .max(start + block)
                .saturating_sub(start)
                .div_ceil(block),
            None => (length - start).div_ceil(block),
        };
        shapes.push(Shape {
            block,
            start,
            partitions,
        });
        start += partitions * block;
    }
    (start >= length).then_some(shapes)
}

/// Estimated cost per quantum of a level with `paths` (input, response) channel products
/// summed into two outputs from two inputs.
fn level_cost(shape: &Shape, paths: usize) -> f64 {
    let bins = (shape.block + 1) as f64;
    let per_block =
        4.0 * fft_cost(2 * shape.block) + paths as f64 * shape.partitions as f64 * bins * MAC_COST;
    per_block * BLOCK as f64 / shape.block as f64
}

/// The chain of levels for a response of `length` frames with `paths` channel products
/// (2, or 4 for true stereo): of every chain 128, then any increasing subset of 256, 512, …,
/// [`MAX_BLOCK`], the one of least estimated cost per quantum (plus [`PEAK_WEIGHT`] times
/// its longest transform). Control thread only.
pub(super) fn choose(length: usize, paths: usize) -> Vec<Shape> {
    if length <= BLOCK {
        return Vec::new();
    }
    let sizes: Vec<usize> = (0..)
        .map(|k| (2 * BLOCK) << k)
        .take_while(|&b| b <= MAX_BLOCK)
        .collect();
    let mut best: Option<(f64, Vec<Shape>)> = None;
    for mask in 0u32..1 << sizes.len() {
        let chain: Vec<usize> = std::iter::once(BLOCK)
            .chain(
                sizes
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, &b)| b),
            )
            .collect();
        let Some(shapes) = layout(&chain, length) else {
            continue;
        };
        let longest = shapes.last().map_or(BLOCK, |s| s.block);
        let cost: f64 = shapes.iter().map(|s| level_cost(s, paths)).sum::<f64>()
            + PEAK_WEIGHT * fft_cost(2 * longest);
        if best.as_ref().is_none_or(|(c, _)| cost < *c) {
            best = Some((cost, shapes));
        }
    }
    best.map(|(_, shapes)| shapes).unwrap_or_default()
}

/// One product term: output channel `out` gets input channel `input`'s delay line times
/// partition `partition` of response channel `ir`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Product {
    pub out: usize,
    pub input: usize,
    pub ir: usize,
    pub partition: usize,
}

/// What one phase (quantum) of a level does, in this order.
#[derive(Clone, Copy, Debug, Default)]
struct Step {
    /// Forward transforms of input channel 0 and 1.
    forward: [bool; 2],
    /// The spectral products `[from, to)` of the flattened `[product][bin]` work.
    products: (usize, usize),
    /// Inverse transforms of output channel 0 and 1.
    inverse: [bool; 2],
}

/// The input of the last `len` frames of both channels, a power of two ≥ twice the longest
/// block plus one block (a level's forward transforms read their window up to a block after
/// it completes).
pub(super) struct InputRing {
    data: Box<[f32]>,
    len: usize,
}

impl InputRing {
    pub(super) fn new(longest_block: usize) -> Self {
        let len = (4 * longest_block).max(4 * BLOCK);
        Self {
            data: vec![0.0; 2 * len].into_boxed_slice(),
            len,
        }
    }

    /// Stores one quantum of channel `c` at frame `frame` (a multiple of 128).
    pub(super) fn write(&mut self, c: usize, frame: u64, input: &[f32; BLOCK]) {
        let at = (frame % self.len as u64) as usize;
        self.data[c * self.len + at..c * self.len + at + BLOCK].copy_from_slice(input);
    }

    /// Copies channel `c`'s frames `[end − dst.len(), end)` into `dst`.
    fn read(&self, c: usize, end: u64, dst: &mut [f32]) {
        let ring = &self.data[c * self.len..(c + 1) * self.len];
        let begin = ((end + (self.len - dst.len()) as u64) % self.len as u64) as usize;
        let first = dst.len().min(self.len - begin);
        dst[..first].copy_from_slice(&ring[begin..begin + first]);
        let rest = dst.len() - first;
        dst[first..].copy_from_slice(&ring[..rest]);
    }
}

/// One uniformly partitioned segment of the response (see the module doc).
pub(super) struct Level {
    shape: Shape,
    /// Quanta per block.
    phases: usize,
    /// Complex bins of a real FFT of length `2·block`.
    bins: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// Partition spectra, `[ir_channel][partition][bin]`, scaled by the normalization and by
    /// `1 / (2·block)` (realfft does not normalize).
    spectra: Box<[Complex<f32>]>,
    /// Input spectra of the last `partitions` blocks, `[input_channel][slot][bin]`.
    delay_line: Box<[Complex<f32>]>,
    /// The slot of the newest input spectrum.
    newest: usize,
    /// Sums of products of the block being processed, `[output_channel][bin]`.
    accumulator: Box<[Complex<f32>]>,
    time: Box<[f32]>,
    scratch: Box<[Complex<f32>]>,
    /// Output frames not yet read, `[output_channel][ring_len]`, indexed by frame modulo
    /// `ring_len` (a multiple of 128 ≥ `start + 128`).
    ring: Box<[f32]>,
    ring_len: usize,
    products: Box<[Product]>,
    steps: Box<[Step]>,
}

impl Level {
    /// Transforms the level's partitions of `channels` (scaled by `scale`) and schedules its
    /// work over its phases on top of `load` (the estimated cost per quantum of the levels
    /// before it, periodic in its length), which it then extends with its own. Control
    /// thread only.
    pub(super) fn new<C: AsRef<[f32]>>(
        shape: Shape,
        channels: &[C],
        scale: f64,
        products: &[Product],
        planner: &mut RealFftPlanner<f32>,
        load: &mut Vec<f64>,
    ) -> Self {
        let Shape {
            block,
            start,
            partitions,
        } = shape;
        let fft = 2 * block;
        let bins = block + 1;
        let forward = planner.plan_fft_forward(fft);
        let inverse = planner.plan_fft_inverse(fft);
        let mut scratch =
            vec![Complex::default(); forward.get_scratch_len().max(inverse.get_scratch_len())];
        let mut time = vec![0.0f32; fft];
        let gain = scale / fft as f64;
        let mut spectra = vec![Complex::default(); channels.len() * partitions * bins];
        for (c, data) in channels.iter().enumerate() {
            let data = data.as_ref();
            for p in 0..partitions {
                let from = (start + p * block).min(data.len());
                let to = (start + (p + 1) * block).min(data.len());
                time.fill(0.0);
                for (t, &s) in time.iter_mut().zip(&data[from..to]) {
                    *t = (f64::from(s) * gain) as f32;
                }
                let at = (c * partitions + p) * bins;
                forward
                    .process_with_scratch(&mut time, &mut spectra[at..at + bins], &mut scratch)
                    .expect("FFT lengths are fixed");
            }
        }
        let phases = block / BLOCK;
        let steps = schedule(phases, bins, fft_cost(fft), products, load);
        let ring_len = start + BLOCK;
        Self {
            shape,
            phases,
            bins,
            forward,
            inverse,
            spectra: spectra.into_boxed_slice(),
            delay_line: vec![Complex::default(); 2 * partitions * bins].into_boxed_slice(),
            newest: 0,
            accumulator: vec![Complex::default(); 2 * bins].into_boxed_slice(),
            time: time.into_boxed_slice(),
            scratch: scratch.into_boxed_slice(),
            ring: vec![0.0; 2 * ring_len].into_boxed_slice(),
            ring_len,
            products: products.into(),
            steps: steps.into_boxed_slice(),
        }
    }

    /// Where the level sits in the response.
    pub(super) fn shape(&self) -> Shape {
        self.shape
    }

    /// The level's work in quantum `quantum` (1 for the first one; its input is in `input`).
    /// `mono_since`: the first frame from which both input channels have been equal. Called
    /// on the real-time thread.
    pub(super) fn run(&mut self, quantum: u64, input: &InputRing, mono_since: u64) {
        let phase = (quantum % self.phases as u64) as usize;
        // The last frame of the block being processed (+1).
        let block_end = (quantum - phase as u64) * BLOCK as u64;
        let step = self.steps[phase];
        let (partitions, bins) = (self.shape.partitions, self.bins);
        if phase == 0 {
            self.newest = (self.newest + 1) % partitions;
        }
        for c in 0..2 {
            if !step.forward[c] {
                continue;
            }
            let at = (c * partitions + self.newest) * bins;
            let window_start = block_end.saturating_sub(2 * self.shape.block as u64);
            if c == 1 && mono_since <= window_start {
                // Both channels were equal over the whole window: same spectrum.
                let from = self.newest * bins;
                self.delay_line.copy_within(from..from + bins, at);
                continue;
            }
            input.read(c, block_end, &mut self.time);
            // Lengths are fixed at construction, so this cannot fail.
            let _ = self.forward.process_with_scratch(
                &mut self.time,
                &mut self.delay_line[at..at + bins],
                &mut self.scratch,
            );
        }
        self.products(step.products.0, step.products.1);
        for o in 0..2 {
            if step.inverse[o] {
                self.inverse(o, block_end);
            }
        }
    }

    /// The spectral products `[from, to)` of the flattened `[product][bin]` work.
    fn products(&mut self, from: usize, to: usize) {
        let (partitions, bins) = (self.shape.partitions, self.bins);
        let mut i = from;
        while i < to {
            let term = self.products[i / bins];
            let first = i % bins;
            let last = bins.min(first + (to - i));
            // Partition p multiplies the input spectrum of p blocks ago.
            let slot = (self.newest + partitions - term.partition) % partitions;
            let x = &self.delay_line[(term.input * partitions + slot) * bins..][first..last];
            let h = &self.spectra[(term.ir * partitions + term.partition) * bins..][first..last];
            let acc = &mut self.accumulator[term.out * bins..][first..last];
            for ((a, x), h) in acc.iter_mut().zip(x).zip(h) {
                *a += x * h;
            }
            i += last - first;
        }
    }

    /// Transforms output channel `o`'s sums back and stores the block's output in the ring.
    fn inverse(&mut self, o: usize, block_end: u64) {
        let bins = self.bins;
        let acc = &mut self.accumulator[o * bins..(o + 1) * bins];
        acc[0].im = 0.0;
        acc[bins - 1].im = 0.0;
        let _ = self
            .inverse
            .process_with_scratch(acc, &mut self.time, &mut self.scratch);
        acc.fill(Complex::default());
        // Block j ends at `block_end` = (j+1)L; its output starts at frame jL + start.
        let block = self.shape.block;
        let frame = block_end + (self.shape.start - block) as u64;
        let at = (frame % self.ring_len as u64) as usize;
        let ring = &mut self.ring[o * self.ring_len..(o + 1) * self.ring_len];
        let output = &self.time[block..];
        let first = block.min(self.ring_len - at);
        ring[at..at + first].copy_from_slice(&output[..first]);
        ring[..block - first].copy_from_slice(&output[first..]);
    }

    /// Adds the level's output for quantum `quantum` (1 for the first), channel `o`, to `dst`.
    pub(super) fn add_output(&self, quantum: u64, o: usize, dst: &mut [f32; BLOCK]) {
        let frame = (quantum - 1) * BLOCK as u64;
        let at = o * self.ring_len + (frame % self.ring_len as u64) as usize;
        for (d, s) in dst.iter_mut().zip(&self.ring[at..at + BLOCK]) {
            *d += s;
        }
    }

    /// Quanta of silent input after which every part of this level's state holds zeros:
    /// the delay line has flushed (`partitions + 2` blocks), the last block computed from it
    /// has been read out of the ring (`start + 2·block`), with a block of margin.
    pub(super) fn flush_quanta(&self) -> usize {
        (self.shape.partitions + 4) * self.phases + self.shape.start / BLOCK + 2
    }
}

/// Schedules a level's work over its `phases` quanta: each forward transform, each inverse
/// transform and the `products.len()·bins` complex multiply-adds, water-filled on top of the
/// per-quantum `load` of the levels scheduled before it (periodic in its length), so the total
/// estimated work per quantum is as even as the indivisible transforms allow. Input channel
/// `i`'s transform comes before the products with partition 0 of that channel, output channel
/// `o`'s products before its inverse transform. `load` is extended with this level's work.
fn schedule(
    phases: usize,
    bins: usize,
    fft: f64,
    products: &[Product],
    load: &mut Vec<f64>,
) -> Vec<Step> {
    let base: Vec<f64> = (0..phases).map(|p| load[p % load.len()]).collect();
    let total = products.len() * bins;
    let spread = (phases >= 8)
        .then(|| {
            // The transforms at the quietest phases of the first and last quarter.
            // (Ties: the earliest forward, the latest inverse phase.)
            let quietest = |range: &mut dyn Iterator<Item = usize>| {
                range
                    .min_by(|&a, &b| (base[a] + base[a + 1]).total_cmp(&(base[b] + base[b + 1])))
                    .unwrap_or(0)
            };
            let f = quietest(&mut (0..phases / 4));
            let g = quietest(&mut (phases - phases / 4 - 1..phases - 1).rev());
            try_schedule(&base, bins, fft, products, total, [f, f + 1], [g, g + 1])
        })
        .flatten();
    let (steps, own) = spread.unwrap_or_else(|| {
        try_schedule(
            &base,
            bins,
            fft,
            products,
            total,
            [0, 0],
            [phases - 1, phases - 1],
        )
        .expect("transforms at the first and last phase always fit")
    });
    *load = base.iter().zip(&own).map(|(b, o)| b + o).collect();
    steps
}

/// The schedule with the forward transforms at phases `forward`, the inverse ones at
/// `inverse` and the products water-filled, with its own per-phase cost; `None` when that
/// breaks an ordering.
fn try_schedule(
    base: &[f64],
    bins: usize,
    fft: f64,
    products: &[Product],
    total: usize,
    forward: [usize; 2],
    inverse: [usize; 2],
) -> Option<(Vec<Step>, Vec<f64>)> {
    let phases = base.len();
    let mut steps = vec![Step::default(); phases];
    let mut own = vec![0.0; phases];
    for c in 0..2 {
        steps[forward[c]].forward[c] = true;
        own[forward[c]] += fft;
        steps[inverse[c]].inverse[c] = true;
        own[inverse[c]] += fft;
    }
    // Water level w: Σ max(0, w − load) = total·MAC_COST.
    let fixed: Vec<f64> = base.iter().zip(&own).map(|(b, o)| b + o).collect();
    let work = total as f64 * MAC_COST;
    let fill = |w: f64| fixed.iter().map(|&l| (w - l).max(0.0)).sum::<f64>();
    let (mut lo, mut hi) = (0.0, fixed.iter().copied().fold(0.0, f64::max) + work);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if fill(mid) < work {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut sum = 0.0;
    let mut from = 0;
    for (p, step) in steps.iter_mut().enumerate() {
        sum += (hi - fixed[p]).max(0.0);
        let to = if p + 1 == phases {
            total
        } else {
            ((sum / MAC_COST).round() as usize).min(total)
        };
        step.products = (from, to.max(from));
        own[p] += (step.products.1 - from) as f64 * MAC_COST;
        from = step.products.1;
    }
    // Orderings: the first bin of a partition-0 product after its input's transform, the last
    // bin of every product of an output before that output's inverse transform.
    let phase_of = |i: usize| steps.iter().position(|s| i < s.products.1);
    for (t, term) in products.iter().enumerate() {
        let first = phase_of(t * bins)?;
        let last = phase_of((t + 1) * bins - 1)?;
        if (term.partition == 0 && first < forward[term.input]) || last > inverse[term.out] {
            return None;
        }
    }
    Some((steps, own))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_tile_the_response_without_latency() {
        for length in [
            129, 1000, 1793, 4096, 20_000, 48_000, 100_003, 192_000, 480_000,
        ] {
            for paths in [2, 4] {
                let shapes = choose(length, paths);
                let mut start = BLOCK;
                for s in &shapes {
                    assert_eq!(s.start, start, "{length}: contiguous");
                    assert!(s.start + 2 * BLOCK >= 2 * s.block, "{length}: zero latency");
                    assert!(s.partitions >= 1);
                    start += s.partitions * s.block;
                }
                assert!(start >= length && start - shapes.last().unwrap().block < length);
            }
        }
        // A 4 s response: 128, 1024 and 8192-frame blocks (49 partitions instead of 1 500 of
        // 128 frames).
        let long = choose(192_000, 2);
        let blocks: Vec<usize> = long.iter().map(|s| s.block).collect();
        assert_eq!(blocks, [128, 1024, 8192], "{long:?}");
        assert_eq!(
            long.iter().map(|s| s.partitions).sum::<usize>(),
            49,
            "{long:?}"
        );
    }

    #[test]
    fn schedules_respect_the_orderings_and_spread_the_work() {
        let products: Vec<Product> = (0..2)
            .flat_map(|out| {
                (0..10).rev().map(move |partition| Product {
                    out,
                    input: out,
                    ir: out,
                    partition,
                })
            })
            .collect();
        let mut load = vec![3000.0];
        let bins = 8193;
        let steps = schedule(64, bins, fft_cost(16_384), &products, &mut load);
        assert_eq!(steps.iter().filter(|s| s.forward[0]).count(), 1);
        assert_eq!(steps.iter().filter(|s| s.inverse[1]).count(), 1);
        assert_eq!(steps.last().unwrap().products.1, products.len() * bins);
        // One transform per quantum at most; every other quantum within 0.1 % of the others.
        for s in &steps {
            let transforms = s.forward.iter().chain(&s.inverse).filter(|&&t| t).count();
            assert!(transforms <= 1, "{steps:?}");
        }
        let mut rest: Vec<f64> = steps
            .iter()
            .zip(&load)
            .filter(|(s, _)| !s.forward.iter().chain(&s.inverse).any(|&t| t))
            .map(|(_, &l)| l)
            .collect();
        rest.sort_by(f64::total_cmp);
        assert_eq!(rest.len(), 60);
        assert!(rest[59] - rest[0] < 1e-3 * rest[0], "{load:?}");
    }
}
