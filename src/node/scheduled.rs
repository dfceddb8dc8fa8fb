//! `start(when)` / `stop(when)` for AudioScheduledSourceNode types (oscillator, constant
//! source, buffer source): the control-side state with the spec's errors. The render-side
//! clock is the engine's [`SourceClock`](webaudio_engine::node::scheduled::SourceClock).

use bevy::prelude::*;

use crate::error::{self, WebAudioError};
pub use webaudio_engine::node::scheduled::ScheduleEvent;

/// The spec's `AudioScheduledSourceNode`: `start(when)` / `stop(when)`, shared by every source
/// node (in the prelude). A node only says where its [`ScheduledSource`] is.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
/// let mut osc = OscillatorNode::default();
/// osc.start(0.5)?.stop(1.0)?;
/// assert!(osc.start(2.0).is_err(), "start may only be called once");
/// # Ok::<(), WebAudioError>(())
/// ```
pub trait AudioScheduledSourceNode: Sized {
    /// The node's start/stop state.
    fn scheduled_source(&mut self) -> &mut ScheduledSource;

    /// `start(when)`.
    ///
    /// # Errors
    /// See [`ScheduledSource::start`].
    fn start(&mut self, when: f64) -> Result<&mut Self, WebAudioError> {
        self.scheduled_source().start(when)?;
        Ok(self)
    }

    /// `stop(when)`.
    ///
    /// # Errors
    /// See [`ScheduledSource::stop`].
    fn stop(&mut self, when: f64) -> Result<&mut Self, WebAudioError> {
        self.scheduled_source().stop(when)?;
        Ok(self)
    }
}

/// The control-side half: remembers what was called so the spec's errors can be raised, and
/// queues the calls for the sync.
///
/// What was called is reflected (`start_time`, `stop_time`), so a source saved in a scene and
/// loaded again is still started: when the sync builds a node's render side it sends the
/// recorded `start(when)` and the latest `stop(when)`, whether the calls were made on this
/// component or on the one it was rebuilt from. A time already past when it is loaded takes
/// effect at once, as the spec says of past times (a source started at 0 plays from the
/// loading frame; one stopped in the past ends).
#[derive(Clone, Debug, Default, Reflect)]
pub struct ScheduledSource {
    /// `when` of the `start(when)` call, once made.
    start_time: Option<f64>,
    /// `when` of the latest `stop(when)` call, if any.
    stop_time: Option<f64>,
    /// Calls not yet sent to the render side, in call order (not reflected: the times above
    /// are what a rebuilt component sends).
    #[reflect(ignore)]
    pending: Vec<ScheduleEvent>,
}

impl ScheduledSource {
    /// `start(when)`.
    ///
    /// # Errors
    /// `InvalidStateError` if `start` was already called (checked first, as the spec's steps
    /// do); `RangeError` for a negative or non-finite `when`.
    pub fn start(&mut self, when: f64) -> Result<(), WebAudioError> {
        self.check_not_started()?;
        error::time("when", when)?;
        self.start_time = Some(when);
        self.pending.push(ScheduleEvent::Start(when));
        Ok(())
    }

    /// `stop(when)`; calling it again replaces the stop time.
    ///
    /// # Errors
    /// `InvalidStateError` if `start` was not called (checked first); `RangeError` for a
    /// negative or non-finite `when`.
    pub fn stop(&mut self, when: f64) -> Result<(), WebAudioError> {
        if self.start_time.is_none() {
            return Err(WebAudioError::InvalidState(
                "stop() called before start()".into(),
            ));
        }
        error::time("when", when)?;
        self.stop_time = Some(when);
        self.pending.push(ScheduleEvent::Stop(when));
        Ok(())
    }

    /// The spec's first step of `start`: `InvalidStateError` if `start` was already called
    /// (checked before the arguments).
    ///
    /// # Errors
    /// `InvalidStateError` after `start`.
    pub fn check_not_started(&self) -> Result<(), WebAudioError> {
        if self.start_time.is_some() {
            return Err(WebAudioError::InvalidState(
                "start() may only be called once".into(),
            ));
        }
        Ok(())
    }

    /// Whether `start` has been called.
    pub fn is_started(&self) -> bool {
        self.start_time.is_some()
    }

    /// `when` of the `start(when)` call, once made.
    pub fn start_time(&self) -> Option<f64> {
        self.start_time
    }

    /// `when` of the latest `stop(when)` call, if any.
    pub fn stop_time(&self) -> Option<f64> {
        self.stop_time
    }

    /// For a node whose render side is being built: the calls to send are the recorded ones
    /// (the start, then the latest stop), whatever was queued. Same result for calls made
    /// before the first sync (a later `stop` replaces an earlier one), and the only record for
    /// a component rebuilt through reflection, whose queue is empty.
    pub(crate) fn queue_recorded(&mut self) {
        self.pending.clear();
        if let Some(when) = self.start_time {
            self.pending.push(ScheduleEvent::Start(when));
            if let Some(when) = self.stop_time {
                self.pending.push(ScheduleEvent::Stop(when));
            }
        }
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub(crate) fn drain(&mut self) -> impl Iterator<Item = ScheduleEvent> + '_ {
        self.pending.drain(..)
    }
}
