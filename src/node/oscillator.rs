//! `OscillatorNode`: a scheduled source playing a periodic waveform from band-limited
//! wavetables (the WebKit/Blink scheme, `wavetable.rs`), with a-rate `frequency` and `detune`.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use super::periodic_wave::PeriodicWave;
use super::scheduled::{AudioScheduledSourceNode, ScheduleEvent, ScheduledSource, SourceClock};
use super::wavetable::{BasicWaveform, WaveTable};
use super::{
    AudioNode, AudioProcessor, BuildContext, ChannelConfig, NodeMessage, NodeShape, OutputChannels,
    ProcessContext, ProcessIo, ProcessPhase, ProcessStatus,
};
use crate::error::WebAudioError;
use crate::param::{AudioParam, ParamDescriptor, ParamId};
use crate::render::bus::RENDER_QUANTUM;

/// The spec's `OscillatorType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Reflect, Serialize, Deserialize)]
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
    /// A [`PeriodicWave`] set with [`OscillatorNode::set_periodic_wave`].
    Custom,
}

/// The spec's `OscillatorNode`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, 110.0);
/// osc.start(0.0)?.stop(1.0)?;
/// assert!(osc.set_type(OscillatorType::Custom).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct OscillatorNode {
    /// `frequency` in Hz: a-rate, default 440, nominal range ±Nyquist.
    pub frequency: AudioParam,
    /// `detune` in cents: a-rate, default 0, nominal range ±153600.
    pub detune: AudioParam,
    oscillator_type: OscillatorType,
    periodic_wave: Option<PeriodicWave>,
    /// start/stop state.
    pub source: ScheduledSource,
}

const FREQUENCY: ParamDescriptor = ParamDescriptor::a_rate(440.0, -1.0, 1.0).nyquist();
const DETUNE: ParamDescriptor = ParamDescriptor::a_rate(0.0, -153_600.0, 153_600.0);

impl Default for OscillatorNode {
    fn default() -> Self {
        Self::new(OscillatorType::Sine, 440.0)
    }
}

impl OscillatorNode {
    /// An oscillator with `OscillatorOptions { type, frequency }` (`type` must not be
    /// `Custom`: use [`OscillatorNode::with_periodic_wave`]).
    pub fn new(oscillator_type: OscillatorType, frequency: f32) -> Self {
        let oscillator_type = match oscillator_type {
            OscillatorType::Custom => OscillatorType::Sine,
            t => t,
        };
        Self {
            frequency: AudioParam::with_value(FREQUENCY, frequency),
            detune: AudioParam::new(DETUNE),
            oscillator_type,
            periodic_wave: None,
            source: ScheduledSource::default(),
        }
    }

    /// An oscillator playing a custom wave (`OscillatorOptions { periodicWave }`).
    pub fn with_periodic_wave(wave: PeriodicWave, frequency: f32) -> Self {
        let mut osc = Self::new(OscillatorType::Sine, frequency);
        osc.set_periodic_wave(wave);
        osc
    }

    /// `type`.
    pub fn oscillator_type(&self) -> OscillatorType {
        self.oscillator_type
    }

    /// Sets `type`.
    ///
    /// # Errors
    /// `InvalidStateError` for `Custom` (the spec requires `setPeriodicWave`).
    pub fn set_type(
        &mut self,
        oscillator_type: OscillatorType,
    ) -> Result<&mut Self, WebAudioError> {
        if oscillator_type == OscillatorType::Custom {
            return Err(WebAudioError::InvalidState(
                "type 'custom' is set with set_periodic_wave()".into(),
            ));
        }
        self.oscillator_type = oscillator_type;
        self.periodic_wave = None;
        Ok(self)
    }

    /// `setPeriodicWave(wave)`: the type becomes `Custom`.
    pub fn set_periodic_wave(&mut self, wave: PeriodicWave) -> &mut Self {
        self.oscillator_type = OscillatorType::Custom;
        self.periodic_wave = Some(wave);
        self
    }

    fn table(&self, ctx: &mut BuildContext) -> Arc<WaveTable> {
        let basic = match self.oscillator_type {
            OscillatorType::Sine => BasicWaveform::Sine,
            OscillatorType::Square => BasicWaveform::Square,
            OscillatorType::Sawtooth => BasicWaveform::Sawtooth,
            OscillatorType::Triangle => BasicWaveform::Triangle,
            OscillatorType::Custom => {
                let wave = self.periodic_wave.as_ref();
                return Arc::new(match wave {
                    Some(w) => WaveTable::from_coefficients(
                        w.real(),
                        w.imag(),
                        w.disable_normalization(),
                        ctx.sample_rate,
                    ),
                    None => WaveTable::basic(BasicWaveform::Sine, ctx.sample_rate),
                });
            }
        };
        ctx.wavetables.basic(basic, ctx.sample_rate)
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
}

impl AudioNode for OscillatorNode {
    type Attributes = (OscillatorType, Option<PeriodicWave>);
    const NAME: &'static str = "OscillatorNode";

    fn shape(&self) -> NodeShape {
        NodeShape::SOURCE
    }

    fn for_each_param(&mut self, f: &mut dyn FnMut(ParamId, &mut AudioParam)) {
        f(ParamId::Frequency, &mut self.frequency);
        f(ParamId::Detune, &mut self.detune);
    }

    fn attributes(&self) -> Self::Attributes {
        (self.oscillator_type, self.periodic_wave.clone())
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> Box<dyn AudioProcessor> {
        Box::new(OscillatorProcessor {
            table: self.table(ctx),
            phase: 0.0,
            clock: SourceClock::default(),
            sample_rate: ctx.sample_rate,
            frequencies: [0.0; RENDER_QUANTUM],
        })
    }

    fn attributes_message(&self, ctx: &mut BuildContext) -> Option<NodeMessage> {
        Some(Box::new(self.table(ctx)))
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(1)
    }

    fn scheduled(&mut self) -> Option<&mut ScheduledSource> {
        Some(&mut self.source)
    }
}

struct OscillatorProcessor {
    table: Arc<WaveTable>,
    /// The running read position, as `WaveTable::render` defines it.
    phase: f64,
    clock: SourceClock,
    sample_rate: f32,
    frequencies: [f32; RENDER_QUANTUM],
}

impl OscillatorProcessor {
    /// The spec's computed frequency, `frequency × 2^(detune / 1200)`, per sample.
    fn compute_frequencies(&mut self, frequency: &[f32], detune: &[f32]) {
        if let [cents] = detune {
            // Constant detune (the usual case): one exp2 per block, same values.
            let ratio = (cents / 1200.0).exp2();
            for (i, f) in self.frequencies.iter_mut().enumerate() {
                *f = frequency.get(i).copied().unwrap_or(frequency[0]) * ratio;
            }
            return;
        }
        for (i, f) in self.frequencies.iter_mut().enumerate() {
            let hz = frequency.get(i).copied().unwrap_or(frequency[0]);
            let cents = detune.get(i).copied().unwrap_or(detune[0]);
            *f = hz * (cents / 1200.0).exp2();
        }
    }
}

impl AudioProcessor for OscillatorProcessor {
    fn process(
        &mut self,
        io: ProcessIo<'_>,
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
        let (frequency, detune) = (io.params[0], io.params[1]);
        if self.clock.start_frame() == Some(ctx.frame + range.start as u64) {
            // A start between two frames: the first frame plays the waveform `start_offset`
            // frames in, i.e. at `frame / sample_rate - when` (Blink: `(1 - offset) *
            // increment`, its offset measured from the frame before). Blink skips this when
            // the frequency is automated sample-accurately in that quantum; it also freezes
            // the automation of a not-yet-started oscillator there, which the spec does not,
            // so that path cannot match it anyway: the offset is applied in both paths.
            let i = range.start;
            let hz = frequency.get(i).copied().unwrap_or(frequency[0])
                * (detune.get(i).copied().unwrap_or(detune[0]) / 1200.0).exp2();
            self.phase += self.clock.start_offset() * self.table.phase_increment(hz);
        }
        let slice = &mut out[range.clone()];
        if let ([f], [d]) = (frequency, detune) {
            let hz = f * (d / 1200.0).exp2();
            self.table.render_constant(&mut self.phase, hz, slice);
        } else {
            self.compute_frequencies(frequency, detune);
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

    fn update(&mut self, message: &mut NodeMessage) {
        if let Some(table) = message.downcast_mut::<Arc<WaveTable>>() {
            std::mem::swap(&mut self.table, table);
        }
    }
}

impl AudioScheduledSourceNode for OscillatorNode {
    fn scheduled_source(&mut self) -> &mut ScheduledSource {
        &mut self.source
    }
}
