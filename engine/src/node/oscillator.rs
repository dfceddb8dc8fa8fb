//! `OscillatorNode`'s render side: its `type` attribute, its params (a-rate `frequency` and
//! `detune`), the context's cache of built-in wavetables, and its processor, a scheduled source
//! playing a periodic waveform from band-limited wavetables (the WebKit/Blink scheme,
//! [`wavetable`](super::wavetable)).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::periodic_wave::PeriodicWave;
use super::scheduled::{ScheduleEvent, SourceClock};
use super::wavetable::{BasicWaveform, WaveTable};
use super::{AudioProcessor, ProcessContext, ProcessIo, ProcessPhase, ProcessStatus};
use crate::node_params;
use crate::param::{ParamDescriptor, ParamId, Params};
use crate::render::bus::RENDER_QUANTUM;

/// The spec's `OscillatorType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum OscillatorType {
    /// A sine wave.
    #[default]
    Sine,
    /// A square wave.
    Square,
    /// A sawtooth wave.
    Sawtooth,
    /// A triangle wave.
    Triangle,
    /// A custom wave from a [`PeriodicWave`] (the spec's `setPeriodicWave`).
    Custom,
}

node_params! {
    /// `OscillatorNode`'s params.
    pub enum OscillatorParam {
        /// `frequency` in Hz: a-rate, default 440, nominal range ±Nyquist.
        Frequency = (ParamId::Frequency, ParamDescriptor::a_rate(440.0, -1.0, 1.0).nyquist()),
        /// `detune` in cents: a-rate, default 0, nominal range ±153600.
        Detune = (ParamId::Detune, ParamDescriptor::a_rate(0.0, -153_600.0, 153_600.0)),
    }
}

/// Built-in waveform tables, shared by every oscillator of a context (built once per type and
/// sample rate, on the control thread).
#[derive(Default)]
pub struct WaveTableCache {
    tables: HashMap<(u8, u32), Arc<WaveTable>>,
}

impl WaveTableCache {
    fn basic(&mut self, kind: BasicWaveform, sample_rate: f32) -> Arc<WaveTable> {
        self.tables
            .entry((kind as u8, sample_rate.to_bits()))
            .or_insert_with(|| Arc::new(WaveTable::basic(kind, sample_rate)))
            .clone()
    }

    /// The table an oscillator of `oscillator_type` plays at `sample_rate`: a shared built-in
    /// one, or for `Custom` one built from `periodic_wave` (a sine without one). Control
    /// thread only (may allocate and run FFTs).
    pub fn table(
        &mut self,
        oscillator_type: OscillatorType,
        periodic_wave: Option<&PeriodicWave>,
        sample_rate: f32,
    ) -> Arc<WaveTable> {
        let basic = match oscillator_type {
            OscillatorType::Sine => BasicWaveform::Sine,
            OscillatorType::Square => BasicWaveform::Square,
            OscillatorType::Sawtooth => BasicWaveform::Sawtooth,
            OscillatorType::Triangle => BasicWaveform::Triangle,
            OscillatorType::Custom => {
                return Arc::new(match periodic_wave {
                    Some(w) => WaveTable::from_coefficients(
                        w.real(),
                        w.imag(),
                        w.disable_normalization(),
                        sample_rate,
                    ),
                    None => WaveTable::basic(BasicWaveform::Sine, sample_rate),
                });
            }
        };
        self.basic(basic, sample_rate)
    }
}

/// The oscillator's processor: renders its table between its start and stop frames.
pub struct OscillatorProcessor {
    table: Arc<WaveTable>,
    /// The running read position, as `WaveTable::render` defines it.
    phase: f64,
    clock: SourceClock,
    sample_rate: f32,
    frequencies: [f32; RENDER_QUANTUM],
}

impl OscillatorProcessor {
    /// A processor playing `table` (from [`WaveTableCache::table`]) at `sample_rate`.
    pub fn new(table: Arc<WaveTable>, sample_rate: f32) -> Self {
        Self {
            table,
            phase: 0.0,
            clock: SourceClock::default(),
            sample_rate,
            frequencies: [0.0; RENDER_QUANTUM],
        }
    }

    /// The spec's computed frequency, `frequency × 2^(detune / 1200)`, per sample.
    fn compute_frequencies(&mut self, params: Params<'_, OscillatorParam>) {
        if let [cents] = params.get(OscillatorParam::Detune) {
            // Constant detune (the usual case): one exp2 per block, same values.
            let ratio = (cents / 1200.0).exp2();
            for (i, f) in self.frequencies.iter_mut().enumerate() {
                *f = params.at(OscillatorParam::Frequency, i) * ratio;
            }
            return;
        }
        for (i, f) in self.frequencies.iter_mut().enumerate() {
            let hz = params.at(OscillatorParam::Frequency, i);
            let cents = params.at(OscillatorParam::Detune, i);
            *f = hz * (cents / 1200.0).exp2();
        }
    }
}

impl AudioProcessor for OscillatorProcessor {
    type Params = OscillatorParam;
    /// A new table (a new `type` or periodic wave); the old one goes back in it.
    type Message = Arc<WaveTable>;

    fn process(
        &mut self,
        io: ProcessIo<'_, OscillatorParam>,
        ctx: &ProcessContext,
        _: ProcessPhase,
    ) -> ProcessStatus {
        let (range, ended) = self.clock.active_range(ctx.frame);
        let output = &mut io.outputs[0];
        if range.is_empty() {
            output.make_silent(1);
            return ProcessStatus::ended_if(ended);
        }
        output.set_channels(1);
        let out = output.channel_mut(0);
        out.fill(0.0);
        let params = io.params;
        if self.clock.start_frame() == Some(ctx.frame + range.start as u64) {
            // A start between two frames: the first frame plays the waveform `start_offset`
            // frames in, i.e. at `frame / sample_rate - when` (Blink: `(1 - offset) *
            // increment`, its offset measured from the frame before). Blink skips this when
            // the frequency is automated sample-accurately in that quantum; it also freezes
            // the automation of a not-yet-started oscillator there, which the spec does not,
            // so that path cannot match it anyway: the offset is applied in both paths.
            let i = range.start;
            let hz = params.at(OscillatorParam::Frequency, i)
                * (params.at(OscillatorParam::Detune, i) / 1200.0).exp2();
            self.phase += self.clock.start_offset() * self.table.phase_increment(hz);
        }
        let slice = &mut out[range.clone()];
        if let ([f], [d]) = (
            params.get(OscillatorParam::Frequency),
            params.get(OscillatorParam::Detune),
        ) {
            let hz = f * (d / 1200.0).exp2();
            self.table.render_constant(&mut self.phase, hz, slice);
        } else {
            self.compute_frequencies(params);
            let freqs = &self.frequencies[range];
            self.table.render(&mut self.phase, |i| freqs[i], slice);
        }
        ProcessStatus::ended_if(ended)
    }

    fn skips_params(&self, ctx: &ProcessContext, _inputs_silent: bool) -> bool {
        self.clock.is_idle(ctx.frame)
    }

    fn schedule(&mut self, event: ScheduleEvent) {
        self.clock.schedule(event, self.sample_rate);
    }

    fn update(&mut self, message: &mut Arc<WaveTable>) {
        std::mem::swap(&mut self.table, message);
    }
}
