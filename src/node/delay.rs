//! `DelayNode`: a variable delay line with a-rate `delayTime` and linear interpolation. The
//! only node allowed inside a cycle: there the schedule splits it into a read (first) and a
//! write (after its inputs), and its delay is clamped to at least one render quantum (spec).

use bevy::prelude::*;

use webaudio_engine::node::delay::{DelayParam, DelayProcessor};
use webaudio_engine::param::{AutomationRate, ParamDescriptor};

use super::{AudioNode, BuildContext, ChannelConfig, MessageOf, NodeShape};
use crate::error::WebAudioError;
use crate::param::AudioParam;

/// The spec's `DelayNode`.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut echo = DelayNode::new(2.0)?;
/// echo.delay_time.set_value(0.25)?;
/// assert!(DelayNode::new(180.0).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct DelayNode {
    /// `delayTime` in seconds: a-rate, default 0, nominal range `0..=maxDelayTime`.
    pub delay_time: AudioParam,
    max_delay_time: f64,
}

impl Default for DelayNode {
    fn default() -> Self {
        Self::with_delay(1.0, 0.0).unwrap_or_else(|_| unreachable!("1 s is a valid maxDelayTime"))
    }
}

impl DelayNode {
    /// `new DelayNode(ctx, { maxDelayTime })`.
    ///
    /// # Errors
    /// `NotSupportedError` unless `0 < max_delay_time < 180` (NaN included).
    pub fn new(max_delay_time: f64) -> Result<Self, WebAudioError> {
        Self::with_delay(max_delay_time, 0.0)
    }

    /// `new DelayNode(ctx, { maxDelayTime, delayTime })`. A `delayTime` outside
    /// `0..=maxDelayTime` is kept and clamped when computed (the param's nominal range).
    ///
    /// # Errors
    /// As [`DelayNode::new`], and `RangeError` for a non-finite `delayTime` (the spec's WebIDL
    /// `TypeError`).
    pub fn with_delay(max_delay_time: f64, delay_time: f32) -> Result<Self, WebAudioError> {
        if !(max_delay_time > 0.0 && max_delay_time < 180.0) {
            return Err(WebAudioError::NotSupported(format!(
                "maxDelayTime must be in (0, 180) seconds, got {max_delay_time}"
            )));
        }
        let descriptor = DelayParam::delay_time_descriptor(max_delay_time);
        Ok(Self {
            delay_time: AudioParam::try_with_value(descriptor, delay_time)?,
            max_delay_time,
        })
    }

    /// `maxDelayTime` (fixed at construction).
    pub fn max_delay_time(&self) -> f64 {
        self.max_delay_time
    }
}

impl AudioNode for DelayNode {
    type Processor = DelayProcessor;
    /// `delayTime`'s `automationRate`: it picks the precision of the delay line's read
    /// position (see `webaudio_engine::node::delay`).
    type Attributes = AutomationRate;
    const NAME: &'static str = "DelayNode";

    fn param_descriptor(&self, _param: DelayParam) -> ParamDescriptor {
        DelayParam::delay_time_descriptor(self.max_delay_time)
    }

    fn shape(&self) -> NodeShape {
        NodeShape {
            inputs: 1,
            outputs: 1,
            is_delay: true,
        }
    }

    fn param_mut(&mut self, param: DelayParam) -> &mut AudioParam {
        match param {
            DelayParam::DelayTime => &mut self.delay_time,
        }
    }

    fn attributes(&self) -> AutomationRate {
        self.delay_time.automation_rate()
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> DelayProcessor {
        DelayProcessor::new(self.max_delay_time, ctx.sample_rate, ctx.max_channels)
            .with_automation_rate(self.delay_time.automation_rate())
    }

    fn attributes_message(&self, _ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(self.delay_time.automation_rate())
    }
}
