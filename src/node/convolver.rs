//! `ConvolverNode`: linear convolution with an impulse response held as a
//! `Handle<AudioBuffer>`, by uniformly partitioned overlap-save FFT convolution.
//!
//! - **Partitions of one render quantum.** The impulse response is cut into blocks of 128
//!   frames. The first block is applied directly in the time domain (128 taps: no latency,
//!   and a response shorter than a quantum is exact, e.g. a unit impulse reproduces the input
//!   bit for bit). Every later block is zero-padded to 256 and transformed once, on the
//!   control side, when the buffer is resolved; every quantum the processor transforms the
//!   last two input blocks (256 frames), pushes the spectrum into a frequency-domain delay
//!   line, multiplies the spectra of earlier quanta with the partition spectra, sums, and
//!   transforms back (overlap-save): the last 128 frames are the output. So there is **no
//!   latency**, as in the browsers.
//! - **Normalization** (`normalize`, default `true`): the spec's `calculateNormalizationScale`
//!   (equal-power RMS analysis, calibration at 44.1 kHz, ×0.5 for four channels) is computed
//!   in `f64` when the buffer is set and folded into the taps and partition spectra. The
//!   calibration gain is the browsers' `10^(−58/20)` ≈ 0.0012589 (Blink, WebKit and Gecko all
//!   share that `GainCalibration = -58` dB constant); the spec's text rounds it to 0.00125,
//!   which makes every normalized output 0.062 dB (0.71 %) quieter than in a browser and
//!   measures −43 dB against Chromium on `conf_convolver_stereo_ir`
//!   ([`GAIN_CALIBRATION`], [`SPEC_GAIN_CALIBRATION`], [`normalization_scale_with`]). As the
//!   spec says, changing `normalize` takes effect the next time the buffer is set
//!   ([`ConvolverNode::set_buffer`]).
//! - **Channels** ("Channel Configurations for Input, Impulse Response and Output"): the input
//!   is mono or stereo (`channelCount` ≤ 2, `channelCountMode` not `max`); a mono input with a
//!   mono impulse response gives a mono output, every other combination a stereo one:
//!   mono IR: `L = in_L∗h`, `R = in_R∗h`; stereo IR: `L = in_L∗h_L`, `R = in_R∗h_R`;
//!   four channels ("true stereo"): `L = in_L∗h₀ + in_R∗h₂`, `R = in_L∗h₁ + in_R∗h₃`. A mono
//!   input feeds both `in_L` and `in_R` (the speakers up-mix), which gives the spec's mono-input
//!   diagrams.
//! - **Tail**: after the input goes silent the node renders the rest of the response (its
//!   length rounded up to a quantum), then outputs one channel of silence without doing any
//!   work (the spec's "not actively processing").
//! - **Buffers arrive late**, as for [`AudioBufferSourceNode`](super::audio_buffer_source):
//!   [`resync_convolvers`](crate::asset::resync_buffer_nodes) bumps the node when its asset
//!   appears, and the prepared convolution (spectra, delay line and FFT plans, all sized on the
//!   control side) travels in an attributes message; the one it replaces travels back in the
//!   message box. A buffer whose channel count is not 1, 2 or 4 or whose sample rate differs
//!   from the context's is the spec's `NotSupportedError`: [`ConvolverNode::set_buffer_checked`]
//!   returns it when the asset is at hand; a buffer found invalid when it loads is reported as
//!   an [`AudioGraphError`](crate::ecs::AudioGraphError) and the node stays silent.

use bevy::prelude::*;

use webaudio_engine::node::convolver::{Convolution, ConvolverProcessor, normalization_scale_of};
use webaudio_engine::param::NoParams;

use super::{
    AudioNode, BuildContext, ChannelConfig, ChannelCountMode, ChannelInterpretation, MessageOf,
    NodeShape, OutputChannels,
};
use crate::asset::{AudioBuffer, BufferNode};
use crate::error::WebAudioError;
use crate::param::AudioParam;

pub use webaudio_engine::node::convolver::{GAIN_CALIBRATION, SPEC_GAIN_CALIBRATION};

/// The spec's `ConvolverNode`.
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
///
/// fn reverb(mut commands: Commands, mut buffers: ResMut<Assets<AudioBuffer>>, ctx: Res<AudioContext>) -> Result {
///     // A 0.5 s exponentially decaying noise tail.
///     let len = (ctx.sample_rate() * 0.5) as usize;
///     let mut seed = 1u32;
///     let ir: Vec<f32> = (0..len)
///         .map(|i| {
///             seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
///             (seed as f32 / u32::MAX as f32 * 2.0 - 1.0) * (-6.0 * i as f32 / len as f32).exp()
///         })
///         .collect();
///     let ir = buffers.add(AudioBuffer::from_samples(vec![ir], ctx.sample_rate())?);
///     let convolver = commands.spawn(ConvolverNode::new(ir)).connect(ctx.destination()).id();
///     let mut osc = OscillatorNode::default();
///     osc.start(0.0)?.stop(0.1)?;
///     commands.spawn(osc).connect(convolver);
///     Ok(())
/// }
/// # let mut c = ConvolverNode::default();
/// # assert!(c.normalize);
/// # assert!(ConvolverNode::validate_channels(&ChannelConfig::new(3, ChannelCountMode::Explicit, ChannelInterpretation::Speakers)).is_err());
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig = ConvolverNode::CHANNELS)]
pub struct ConvolverNode {
    /// `normalize`: scale the response by the spec's equal-power normalization. Read when the
    /// buffer is set (`new`, [`ConvolverNode::set_buffer`]); changing it alone has no effect.
    pub normalize: bool,
    buffer: Option<Handle<AudioBuffer>>,
    /// `normalize` as it was when the buffer was set.
    #[reflect(ignore)]
    applied_normalize: bool,
    /// Bumped by every `set_buffer` (setting the same handle again re-applies `normalize`).
    #[reflect(ignore)]
    set_count: u32,
    /// Bumped when the asset is added, loaded, modified or removed.
    #[reflect(ignore)]
    buffer_generation: u32,
}

impl Default for ConvolverNode {
    fn default() -> Self {
        Self {
            normalize: true,
            buffer: None,
            applied_normalize: true,
            set_count: 0,
            buffer_generation: 0,
        }
    }
}

impl ConvolverNode {
    /// The spec's channel defaults: `channelCount` 2, `clamped-max`, `speakers`.
    pub const CHANNELS: ChannelConfig = ChannelConfig::new(
        2,
        ChannelCountMode::ClampedMax,
        ChannelInterpretation::Speakers,
    );

    /// `new ConvolverNode(ctx, { buffer })`, normalized.
    pub fn new(buffer: Handle<AudioBuffer>) -> Self {
        Self::with_options(Some(buffer), false)
    }

    /// `new ConvolverNode(ctx, { buffer, disableNormalization })`.
    pub fn with_options(buffer: Option<Handle<AudioBuffer>>, disable_normalization: bool) -> Self {
        let normalize = !disable_normalization;
        Self {
            normalize,
            buffer,
            applied_normalize: normalize,
            ..Self::default()
        }
    }

    /// `buffer`.
    pub fn buffer(&self) -> Option<&Handle<AudioBuffer>> {
        self.buffer.as_ref()
    }

    /// Sets `buffer` (`None`: no response, the node outputs silence). The current
    /// `normalize` is applied to it. The spec's checks run when the asset is resolved; use
    /// [`ConvolverNode::set_buffer_checked`] to run them now.
    pub fn set_buffer(&mut self, buffer: Option<Handle<AudioBuffer>>) -> &mut Self {
        self.buffer = buffer;
        self.applied_normalize = self.normalize;
        self.set_count = self.set_count.wrapping_add(1);
        self
    }

    /// Sets `buffer` after the spec's synchronous checks against the loaded asset.
    ///
    /// # Errors
    /// `NotSupportedError` when the buffer's channel count is not 1, 2 or 4, or its sample
    /// rate is not `context_sample_rate`; `InvalidStateError` when the asset is not loaded.
    pub fn set_buffer_checked(
        &mut self,
        buffer: Handle<AudioBuffer>,
        buffers: &Assets<AudioBuffer>,
        context_sample_rate: f32,
    ) -> Result<&mut Self, WebAudioError> {
        let asset = buffers.get(&buffer).ok_or_else(|| {
            WebAudioError::InvalidState("the convolver's buffer is not loaded".into())
        })?;
        Self::check_buffer(asset, context_sample_rate)?;
        Ok(self.set_buffer(Some(buffer)))
    }

    /// The spec's checks on a convolver buffer.
    ///
    /// # Errors
    /// `NotSupportedError` for a channel count other than 1, 2 or 4, or a sample rate other
    /// than the context's.
    pub fn check_buffer(
        buffer: &AudioBuffer,
        context_sample_rate: f32,
    ) -> Result<(), WebAudioError> {
        if !matches!(buffer.number_of_channels(), 1 | 2 | 4) {
            return Err(WebAudioError::NotSupported(format!(
                "a ConvolverNode buffer must have 1, 2 or 4 channels, not {}",
                buffer.number_of_channels()
            )));
        }
        if buffer.sample_rate() != context_sample_rate {
            return Err(WebAudioError::NotSupported(format!(
                "the ConvolverNode buffer's sample rate {} differs from the context's {}",
                buffer.sample_rate(),
                context_sample_rate
            )));
        }
        Ok(())
    }

    /// The spec's channel constraints: `channelCount` at most 2 and `channelCountMode` not
    /// `max`.
    ///
    /// # Errors
    /// `NotSupportedError` for either violation.
    pub fn validate_channels(config: &ChannelConfig) -> Result<(), WebAudioError> {
        config.validate()?;
        if config.count > 2 {
            return Err(WebAudioError::NotSupported(format!(
                "ConvolverNode's channelCount must be 1 or 2, not {}",
                config.count
            )));
        }
        if config.mode == ChannelCountMode::Max {
            return Err(WebAudioError::NotSupported(
                "ConvolverNode's channelCountMode cannot be max".into(),
            ));
        }
        Ok(())
    }

    /// The prepared convolution for the resolved, valid buffer.
    fn prepare(&self, ctx: &BuildContext) -> Option<Box<Convolution>> {
        let asset = self.buffer.as_ref().and_then(|h| ctx.buffers?.get(h))?;
        Self::check_buffer(asset, ctx.sample_rate).ok()?;
        let scale = if self.applied_normalize {
            normalization_scale(asset)
        } else {
            1.0
        };
        Some(Box::new(Convolution::new(
            &asset.shared_channels()[..],
            scale,
        )))
    }
}

/// The spec's `calculateNormalizationScale` with the browsers' calibration gain
/// ([`GAIN_CALIBRATION`]): what the node applies when `normalize` is set.
pub fn normalization_scale(buffer: &AudioBuffer) -> f64 {
    normalization_scale_with(buffer, GAIN_CALIBRATION)
}

/// The spec's `calculateNormalizationScale`, in `f64` as its JavaScript is, with calibration
/// gain `calibration` ([`SPEC_GAIN_CALIBRATION`] gives the spec's text exactly).
pub fn normalization_scale_with(buffer: &AudioBuffer, calibration: f64) -> f64 {
    normalization_scale_of(
        &buffer.shared_channels()[..],
        buffer.sample_rate(),
        calibration,
    )
}

impl BufferNode for ConvolverNode {
    fn buffer_id(&self) -> Option<AssetId<AudioBuffer>> {
        self.buffer.as_ref().map(Handle::id)
    }

    fn buffer_changed(&mut self) {
        self.buffer_generation = self.buffer_generation.wrapping_add(1);
    }

    fn check_buffer(buffer: &AudioBuffer, context_sample_rate: f32) -> Result<(), WebAudioError> {
        Self::check_buffer(buffer, context_sample_rate)
    }
}

/// The attributes compared by the sync: the buffer's id, how often it was set, and the
/// asset's generation.
pub type ConvolverAttributes = (Option<AssetId<AudioBuffer>>, u32, u32);

impl AudioNode for ConvolverNode {
    type Processor = ConvolverProcessor;
    type Attributes = ConvolverAttributes;
    const NAME: &'static str = "ConvolverNode";

    fn register(app: &mut App) {
        crate::asset::register_buffer_node::<Self>(app);
    }

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: 1,
            is_delay: false,
        }
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) -> Self::Attributes {
        (
            self.buffer.as_ref().map(Handle::id),
            self.set_count,
            self.buffer_generation,
        )
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> ConvolverProcessor {
        ConvolverProcessor::new(self.prepare(ctx))
    }

    fn attributes_message(&self, ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(self.prepare(ctx))
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(2)
    }

    fn validate_channels(&self, config: &ChannelConfig) -> Result<(), WebAudioError> {
        Self::validate_channels(config)
    }
}
