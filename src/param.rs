//! `AudioParam`, the component side: the intrinsic value, the automation rate, and the
//! automation events not yet sent to the render thread .
//!
//! Every automation method validates its arguments exactly as the spec says and returns
//! `Result<&mut AudioParam, AudioParamError>`, so calls chain with `?`. The sync system drains
//! the pending events of changed components, in call order, into the command queue. The
//! computed (automated) value lives on the render side and is only read back for display.

use bevy::prelude::*;

use crate::error::{self, AudioParamError, WebAudioError};
pub use webaudio_engine::param::{AutomationRate, NodeParams, ParamDescriptor, ParamId, ParamSlot};
use webaudio_engine::render::timeline::AutomationEvent;

/// A scheduled time span for the spec's value-curve overlap checks.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    start: f64,
    end: f64,
    curve: bool,
}

/// An automatable parameter, as a field of a node component (`GainNode { gain: AudioParam }`).
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut gain = GainNode::default();
/// gain.gain
///     .set_value_at_time(0.0, 0.0)?
///     .linear_ramp_to_value_at_time(1.0, 0.5)?
///     .exponential_ramp_to_value_at_time(0.01, 2.0)?;
/// assert!(gain.gain.exponential_ramp_to_value_at_time(0.0, 3.0).is_err());
/// # Ok::<(), bevy_webaudio::WebAudioError>(())
/// ```
#[derive(Clone, Debug, Reflect)]
pub struct AudioParam {
    value: f32,
    automation_rate: AutomationRate,
    #[reflect(ignore)]
    descriptor: ParamDescriptor,
    #[reflect(ignore)]
    pending: Vec<AutomationEvent>,
    #[reflect(ignore)]
    spans: Vec<Span>,
    #[reflect(ignore)]
    sent_value: f32,
    #[reflect(ignore)]
    sent_rate: AutomationRate,
    /// Whether `descriptor` came from a declaration (`false` when reflection rebuilt the
    /// param, e.g. from a scene: descriptors are not serialized).
    #[reflect(ignore)]
    declared: bool,
}

impl AudioParam {
    /// The render side's starting state of this param (descriptor, value, rate).
    /// A non-finite value (only reflection can store one: a scene, an inspector edit) starts
    /// at the default instead, so no NaN reaches the render thread.
    pub fn render_init(&self) -> webaudio_engine::render::ParamInit {
        let value = if self.value.is_finite() {
            self.value
        } else {
            self.descriptor.default_value
        };
        webaudio_engine::render::ParamInit {
            descriptor: self.descriptor(),
            value,
            rate: self.automation_rate(),
        }
    }

    /// A param at its default value.
    pub fn new(descriptor: ParamDescriptor) -> Self {
        Self::unchecked(descriptor, descriptor.default_value)
    }

    /// A param with an initial value (a node option such as `GainOptions::gain`). The initial
    /// value is the intrinsic value before any automation, not an event.
    ///
    /// A non-finite `value` (which the spec's `float` option rejects) is replaced by the
    /// descriptor's default, with a warning; [`AudioParam::try_with_value`] returns the error
    /// instead.
    pub fn with_value(descriptor: ParamDescriptor, value: f32) -> Self {
        Self::try_with_value(descriptor, value).unwrap_or_else(|error| {
            warn!("{error}; using the default {}", descriptor.default_value);
            Self::new(descriptor)
        })
    }

    /// As [`AudioParam::with_value`], checked.
    ///
    /// # Errors
    /// `RangeError` for a non-finite value (the spec's WebIDL `TypeError`).
    pub fn try_with_value(
        descriptor: ParamDescriptor,
        value: f32,
    ) -> Result<Self, AudioParamError> {
        error::finite("initial param value", f64::from(value))?;
        Ok(Self::unchecked(descriptor, value))
    }

    fn unchecked(descriptor: ParamDescriptor, value: f32) -> Self {
        Self {
            value,
            automation_rate: descriptor.rate,
            descriptor,
            pending: Vec::new(),
            spans: Vec::new(),
            sent_value: value,
            sent_rate: descriptor.rate,
            declared: true,
        }
    }

    /// Gives a param rebuilt by reflection (a scene load) its descriptor back from its node's
    /// declaration; a param made by its node keeps its own. Called by the sync when the node
    /// is added.
    pub(crate) fn adopt_declaration(&mut self, descriptor: ParamDescriptor) {
        if !self.declared {
            self.descriptor = descriptor;
            self.declared = true;
        }
    }

    /// The intrinsic value last set (`value` attribute as set by code; the render side's
    /// computed value is read back separately).
    pub fn value(&self) -> f32 {
        self.value
    }

    /// Assigns `value`, which the spec defines as `setValueAtTime(value, currentTime)`.
    ///
    /// # Errors
    /// `RangeError` for a non-finite value.
    pub fn set_value(&mut self, value: f32) -> Result<&mut Self, AudioParamError> {
        error::finite("value", f64::from(value))?;
        self.value = value;
        self.sent_value = value;
        self.pending
            .push(AutomationEvent::SetValue { value, time: 0.0 });
        Ok(self)
    }

    /// Assigns `values` to `params` in order (the deprecated vector setters of `PannerNode` and
    /// `AudioListener`: `setPosition`, `setOrientation`). Every argument is checked first, as
    /// WebIDL converts them all before the method runs: on an error no param changes.
    ///
    /// # Errors
    /// `RangeError` for a non-finite value.
    pub fn set_values<const N: usize>(
        params: [&mut AudioParam; N],
        values: [f32; N],
    ) -> Result<(), AudioParamError> {
        for value in values {
            error::finite("value", f64::from(value))?;
        }
        for (param, value) in params.into_iter().zip(values) {
            param.set_value(value)?;
        }
        Ok(())
    }

    /// `defaultValue`.
    pub fn default_value(&self) -> f32 {
        self.descriptor.default_value
    }

    /// `minValue`.
    pub fn min_value(&self) -> f32 {
        self.descriptor.min_value
    }

    /// `maxValue`.
    pub fn max_value(&self) -> f32 {
        self.descriptor.max_value
    }

    /// The fixed facts of this param.
    pub fn descriptor(&self) -> ParamDescriptor {
        self.descriptor
    }

    /// `automationRate`.
    pub fn automation_rate(&self) -> AutomationRate {
        self.automation_rate
    }

    /// Sets `automationRate`.
    ///
    /// # Errors
    /// `InvalidStateError` when the spec fixes this param's rate and `rate` differs.
    pub fn set_automation_rate(
        &mut self,
        rate: AutomationRate,
    ) -> Result<&mut Self, AudioParamError> {
        if self.descriptor.fixed_rate && rate != self.descriptor.rate {
            return Err(WebAudioError::InvalidState(format!(
                "this param's automationRate must stay {:?}",
                self.descriptor.rate
            )));
        }
        self.automation_rate = rate;
        Ok(self)
    }

    /// `setValueAtTime(value, start_time)`.
    ///
    /// # Errors
    /// `RangeError` for a non-finite value or a negative/non-finite time; `NotSupportedError`
    /// inside a scheduled value curve.
    pub fn set_value_at_time(
        &mut self,
        value: f32,
        start_time: f64,
    ) -> Result<&mut Self, AudioParamError> {
        error::finite("value", f64::from(value))?;
        error::time("startTime", start_time)?;
        self.push(AutomationEvent::SetValue {
            value,
            time: start_time,
        })
    }

    /// `linearRampToValueAtTime(value, end_time)`.
    ///
    /// # Errors
    /// As [`AudioParam::set_value_at_time`].
    pub fn linear_ramp_to_value_at_time(
        &mut self,
        value: f32,
        end_time: f64,
    ) -> Result<&mut Self, AudioParamError> {
        error::finite("value", f64::from(value))?;
        error::time("endTime", end_time)?;
        self.push(AutomationEvent::LinearRamp { value, end_time })
    }

    /// `exponentialRampToValueAtTime(value, end_time)`. A ramp whose ends differ in sign, or
    /// that starts at 0, holds its start value until `end_time` (spec), which is not an error.
    ///
    /// # Errors
    /// `RangeError` when `value` is 0, not finite, or the time is negative or not finite.
    pub fn exponential_ramp_to_value_at_time(
        &mut self,
        value: f32,
        end_time: f64,
    ) -> Result<&mut Self, AudioParamError> {
        error::finite("value", f64::from(value))?;
        if value == 0.0 {
            return Err(WebAudioError::Range(
                "exponentialRampToValueAtTime cannot ramp to 0".into(),
            ));
        }
        error::time("endTime", end_time)?;
        self.push(AutomationEvent::ExponentialRamp { value, end_time })
    }

    /// `setTargetAtTime(target, start_time, time_constant)`; a time constant of 0 jumps to the
    /// target (spec).
    ///
    /// # Errors
    /// `RangeError` for a non-finite target, a negative or non-finite start time, or a negative
    /// or non-finite time constant.
    pub fn set_target_at_time(
        &mut self,
        target: f32,
        start_time: f64,
        time_constant: f64,
    ) -> Result<&mut Self, AudioParamError> {
        error::finite("target", f64::from(target))?;
        error::time("startTime", start_time)?;
        error::time("timeConstant", time_constant)?;
        self.push(AutomationEvent::SetTarget {
            target,
            start_time,
            time_constant,
        })
    }

    /// `setValueCurveAtTime(values, start_time, duration)`.
    ///
    /// # Errors
    /// `InvalidStateError` for fewer than 2 values; `RangeError` for a non-finite value, a
    /// negative start time or a non-positive duration; `NotSupportedError` when the curve
    /// overlaps another event.
    pub fn set_value_curve_at_time(
        &mut self,
        values: &[f32],
        start_time: f64,
        duration: f64,
    ) -> Result<&mut Self, AudioParamError> {
        if values.len() < 2 {
            return Err(WebAudioError::InvalidState(format!(
                "setValueCurveAtTime needs at least 2 values, got {}",
                values.len()
            )));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(WebAudioError::Range(format!(
                "curve values must be finite, got {v}"
            )));
        }
        error::time("startTime", start_time)?;
        error::finite("duration", duration)?;
        if duration <= 0.0 {
            return Err(WebAudioError::Range(format!(
                "duration must be strictly positive, got {duration}"
            )));
        }
        let end = start_time + duration;
        if self
            .spans
            .iter()
            .any(|s| s.start > start_time && s.start < end)
        {
            return Err(WebAudioError::NotSupported(
                "setValueCurveAtTime overlaps a scheduled event".into(),
            ));
        }
        self.push(AutomationEvent::SetValueCurve {
            values: values.into(),
            start_time,
            duration,
        })
    }

    /// `cancelScheduledValues(cancel_time)`.
    ///
    /// # Errors
    /// `RangeError` for a negative or non-finite time.
    pub fn cancel_scheduled_values(
        &mut self,
        cancel_time: f64,
    ) -> Result<&mut Self, AudioParamError> {
        error::time("cancelTime", cancel_time)?;
        self.spans
            .retain(|s| s.start < cancel_time && !(s.curve && s.end >= cancel_time));
        self.pending
            .push(AutomationEvent::CancelScheduledValues { cancel_time });
        Ok(self)
    }

    /// `cancelAndHoldAtTime(cancel_time)`.
    ///
    /// # Errors
    /// `RangeError` for a negative or non-finite time.
    pub fn cancel_and_hold_at_time(
        &mut self,
        cancel_time: f64,
    ) -> Result<&mut Self, AudioParamError> {
        error::time("cancelTime", cancel_time)?;
        self.spans.retain(|s| s.start <= cancel_time);
        for s in &mut self.spans {
            s.end = s.end.min(cancel_time);
        }
        self.pending
            .push(AutomationEvent::CancelAndHold { cancel_time });
        Ok(self)
    }

    /// Checks the value-curve rule and queues the event.
    fn push(&mut self, event: AutomationEvent) -> Result<&mut Self, AudioParamError> {
        let t = event.time();
        if self
            .spans
            .iter()
            .any(|s| s.curve && t >= s.start && t < s.end)
        {
            return Err(WebAudioError::NotSupported(format!(
                "an automation event at {t} s falls inside a scheduled value curve"
            )));
        }
        self.spans.push(Span {
            start: t,
            end: event.end_time(),
            curve: matches!(event, AutomationEvent::SetValueCurve { .. }),
        });
        self.pending.push(event);
        Ok(self)
    }

    /// Records that the render side starts from the current value and rate.
    pub(crate) fn mark_sent(&mut self) {
        self.sent_value = self.value;
        self.sent_rate = self.automation_rate;
    }

    /// Whether there is anything for the sync to send.
    pub(crate) fn needs_sync(&self) -> bool {
        !self.pending.is_empty()
            || self.value != self.sent_value
            || self.automation_rate != self.sent_rate
    }

    /// Drains what the render side has not seen yet, in call order: a value edited through
    /// reflection (inspector, scene) becomes a `setValueAtTime(value, now)`.
    pub(crate) fn drain_pending(
        &mut self,
        out: &mut impl FnMut(AutomationEvent),
    ) -> Option<AutomationRate> {
        if self.value != self.sent_value && self.value.is_finite() {
            self.sent_value = self.value;
            out(AutomationEvent::SetValue {
                value: self.value,
                time: 0.0,
            });
        }
        for event in self.pending.drain(..) {
            out(event);
        }
        (self.automation_rate != self.sent_rate).then(|| {
            self.sent_rate = self.automation_rate;
            self.automation_rate
        })
    }

    /// Forgets spans that ended before `now` (they can no longer conflict).
    pub(crate) fn forget_before(&mut self, now: f64) {
        if self.spans.len() > 64 {
            self.spans.retain(|s| s.end >= now);
        }
    }

    /// How many events the mirror holds (an upper bound of the render side's timeline length).
    pub(crate) fn scheduled_len(&self) -> usize {
        self.spans.len()
    }
}
