//! Opt-in read-backs of one node's output level and param values (the inspector's meters).
//!
//! A [`NodeProbe`] is a block of atomics shared between the control side (a
//! `Metered` component holds it in the Bevy layer) and the render node it is
//! attached to. Only nodes with a probe do any of this work, so an idle graph costs nothing.
//! Every quantum the render thread adds the node's output to a [`MeterWindow`] (plain fields,
//! no atomics) and, every [`METER_WINDOW`] frames, publishes the window's peak and RMS; it
//! also stores each param's last computed value, whether it is automating, and a node-specific
//! readout (a buffer source's play position). Stores are `Relaxed`: each value is independent
//! and only the latest matters. Nothing here allocates on the render thread.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::MAX_PARAMS;
use super::bus::{AudioBus, RENDER_QUANTUM};
use crate::param::ParamSlot;

/// Frames per published peak/RMS reading (8 quanta: 21.3 ms at 48 kHz).
pub const METER_WINDOW: usize = 8 * RENDER_QUANTUM;

/// Latest-value read-backs of one node, written by the render thread.
#[derive(Debug)]
pub struct NodeProbe {
    peak: AtomicU32,
    rms: AtomicU32,
    windows: AtomicU64,
    values: [AtomicU32; MAX_PARAMS],
    automating: AtomicU32,
    readout: AtomicU32,
}

impl Default for NodeProbe {
    fn default() -> Self {
        Self {
            peak: AtomicU32::new(0),
            rms: AtomicU32::new(0),
            windows: AtomicU64::new(0),
            values: std::array::from_fn(|_| AtomicU32::new(f32::NAN.to_bits())),
            automating: AtomicU32::new(0),
            readout: AtomicU32::new(f32::NAN.to_bits()),
        }
    }
}

fn load(a: &AtomicU32) -> f32 {
    f32::from_bits(a.load(Ordering::Relaxed))
}

fn store(a: &AtomicU32, v: f32) {
    a.store(v.to_bits(), Ordering::Relaxed);
}

impl NodeProbe {
    /// The largest absolute sample of the node's first output over the last complete window
    /// (all channels).
    pub fn peak(&self) -> f32 {
        load(&self.peak)
    }

    /// The RMS of the node's first output over the last complete window (all samples of all
    /// channels).
    pub fn rms(&self) -> f32 {
        load(&self.rms)
    }

    /// How many windows have been published (0: nothing measured yet).
    pub fn windows(&self) -> u64 {
        self.windows.load(Ordering::Relaxed)
    }

    /// Param `index`'s computed value at the end of the last rendered quantum (NaN before
    /// the node rendered, or while it skipped its params).
    pub fn param_value(&self, param: ParamSlot) -> f32 {
        self.values.get(param.index()).map_or(f32::NAN, load)
    }

    /// Whether `param` varied within the last quantum or has events still to come.
    pub fn automating(&self, param: ParamSlot) -> bool {
        let index = param.index();
        index < 32 && self.automating.load(Ordering::Relaxed) & (1 << index) != 0
    }

    /// The node's own readout ([`AudioProcessor::readout`](crate::node::AudioProcessor::readout)),
    /// NaN when it has none.
    pub fn readout(&self) -> f32 {
        load(&self.readout)
    }

    /// Publishes the params of this quantum. Render thread.
    pub(crate) fn record_params(&self, params: &[super::ParamState]) {
        let mut automating = 0;
        for (k, (state, slot)) in params.iter().zip(&self.values).enumerate() {
            let values = state.values();
            store(slot, values[values.len() - 1]);
            if state.is_automating() {
                automating |= 1 << k;
            }
        }
        self.automating.store(automating, Ordering::Relaxed);
    }

    /// Publishes the node-specific readout. Render thread.
    pub(crate) fn record_readout(&self, value: Option<f32>) {
        store(&self.readout, value.unwrap_or(f32::NAN));
    }
}

/// The render side's running sums for the window being measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct MeterWindow {
    peak: f32,
    sum_squares: f64,
    samples: usize,
    frames: usize,
}

impl MeterWindow {
    /// Adds one quantum of `bus`; publishes into `probe` when the window is full. Render thread.
    pub fn add(&mut self, bus: &AudioBus, probe: &NodeProbe) {
        if !bus.is_silent() {
            for channel in bus.channels_slice() {
                for &s in channel {
                    self.peak = self.peak.max(s.abs());
                    self.sum_squares += f64::from(s) * f64::from(s);
                }
            }
        }
        self.samples += bus.channels().max(1) * RENDER_QUANTUM;
        self.frames += RENDER_QUANTUM;
        if self.frames >= METER_WINDOW {
            let rms = (self.sum_squares / self.samples as f64).sqrt() as f32;
            store(&probe.peak, self.peak);
            store(&probe.rms, rms);
            probe.windows.fetch_add(1, Ordering::Relaxed);
            *self = Self::default();
        }
    }
}
