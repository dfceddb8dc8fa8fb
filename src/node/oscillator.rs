//! `OscillatorNode`: a scheduled source playing a periodic waveform from band-limited
//! wavetables (the WebKit/Blink scheme, `wavetable.rs`), with a-rate `frequency` and `detune`.

use bevy::prelude::*;

use webaudio_engine::node::oscillator::{OscillatorParam, OscillatorProcessor};
use webaudio_engine::param::NodeParams;

use super::periodic_wave::PeriodicWave;
use super::scheduled::{AudioScheduledSourceNode, ScheduledSource};
use super::{AudioNode, BuildContext, ChannelConfig, MessageOf, NodeShape, OutputChannels};
use crate::error::WebAudioError;
use crate::param::AudioParam;

pub use webaudio_engine::node::oscillator::{OscillatorType, WaveTableCache};

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

impl Default for OscillatorNode {
    fn default() -> Self {
        Self::new(OscillatorType::Sine, 440.0)
    }
}

impl OscillatorNode {
    /// An oscillator with `OscillatorOptions { type, frequency }` (`type` must not be
    /// `Custom`: use [`OscillatorNode::with_periodic_wave`]). `Custom` without a wave plays a
    /// sine and a non-finite `frequency` the default 440 Hz, each with a warning;
    /// [`OscillatorNode::try_new`] returns the spec's errors instead.
    pub fn new(oscillator_type: OscillatorType, frequency: f32) -> Self {
        let oscillator_type = match oscillator_type {
            OscillatorType::Custom => {
                warn!("OscillatorNode type 'custom' without a PeriodicWave plays a sine");
                OscillatorType::Sine
            }
            t => t,
        };
        Self {
            frequency: AudioParam::with_value(OscillatorParam::Frequency.descriptor(), frequency),
            detune: AudioParam::new(OscillatorParam::Detune.descriptor()),
            oscillator_type,
            periodic_wave: None,
            source: ScheduledSource::default(),
        }
    }

    /// `new OscillatorNode(ctx, { type, frequency })`, checked.
    ///
    /// # Errors
    /// `InvalidStateError` for `Custom` (the spec requires a `periodicWave` with it: use
    /// [`OscillatorNode::try_with_periodic_wave`]); `RangeError` for a non-finite
    /// `frequency` (the spec's WebIDL `TypeError`).
    pub fn try_new(oscillator_type: OscillatorType, frequency: f32) -> Result<Self, WebAudioError> {
        if oscillator_type == OscillatorType::Custom {
            return Err(WebAudioError::InvalidState(
                "type 'custom' needs a periodicWave".into(),
            ));
        }
        Ok(Self {
            frequency: AudioParam::try_with_value(
                OscillatorParam::Frequency.descriptor(),
                frequency,
            )?,
            ..Self::new(oscillator_type, 440.0)
        })
    }

    /// `new OscillatorNode(ctx, { periodicWave, frequency })`, checked.
    ///
    /// # Errors
    /// `RangeError` for a non-finite `frequency`.
    pub fn try_with_periodic_wave(
        wave: PeriodicWave,
        frequency: f32,
    ) -> Result<Self, WebAudioError> {
        let mut osc = Self::try_new(OscillatorType::Sine, frequency)?;
        osc.set_periodic_wave(wave);
        Ok(osc)
    }

    /// An oscillator playing a custom wave (`OscillatorOptions { periodicWave }`; a
    /// non-finite `frequency` is handled as by [`OscillatorNode::new`]).
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

    fn table(
        &self,
        ctx: &mut BuildContext,
    ) -> std::sync::Arc<webaudio_engine::node::wavetable::WaveTable> {
        ctx.wavetables.table(
            self.oscillator_type,
            self.periodic_wave.as_ref(),
            ctx.sample_rate,
        )
    }
}

impl AudioNode for OscillatorNode {
    type Processor = OscillatorProcessor;
    type Attributes = (OscillatorType, Option<PeriodicWave>);
    const NAME: &'static str = "OscillatorNode";

    fn shape(&self) -> NodeShape {
        NodeShape::SOURCE
    }

    fn param_mut(&mut self, param: OscillatorParam) -> &mut AudioParam {
        match param {
            OscillatorParam::Frequency => &mut self.frequency,
            OscillatorParam::Detune => &mut self.detune,
        }
    }

    fn attributes(&self) -> Self::Attributes {
        (self.oscillator_type, self.periodic_wave.clone())
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> OscillatorProcessor {
        OscillatorProcessor::new(self.table(ctx), ctx.sample_rate)
    }

    fn attributes_message(&self, ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(self.table(ctx))
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(1)
    }

    fn scheduled(&mut self) -> Option<&mut ScheduledSource> {
        Some(&mut self.source)
    }
}

impl AudioScheduledSourceNode for OscillatorNode {
    fn scheduled_source(&mut self) -> &mut ScheduledSource {
        &mut self.source
    }
}
