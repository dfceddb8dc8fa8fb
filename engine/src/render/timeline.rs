//! The render side of an `AudioParam`: its automation timeline and the per-quantum computation
//! of its values, following the spec's formulas ("AudioParam" and "Computation of Value").
//!
//! Events arrive already validated by the control side (`crate::param::AudioParam`). The
//! timeline's storage is preallocated there too; when it could overflow, the control side sends
//! a larger [`Timeline`] through `Command::ReplaceTimeline` first, so inserting never allocates.
//! Events that leave the timeline holding heap data (value curves) are handed back through the
//! caller's garbage sink instead of being freed here.
//!
//! The spec gives each curve as a formula over real numbers; browsers compute it in f32, and
//! a param that drives a delay read or an oscillator phase carries that rounding into the
//! output (a DelayNode under a delayTime ramp differs from Chromium by about -56 dB when the
//! formula is evaluated exactly). So a quantum is cut into pieces where events take over, and
//! each piece is computed as a whole in Blink's arithmetic: linear ramps in groups of four
//! frames from an f32 slope, exponential ramps by a per-frame f64 multiplier, setTarget by its
//! discrete recursion (unrolled by four), continuing from the last value computed (the
//! spec's formula starts each one). Every curve still passes through the spec's values at
//! its events; the recursion is what the spec's "Computation of Value" allows between them.

use std::collections::VecDeque;

use super::bus::RENDER_QUANTUM;

/// One automation event, as the spec's methods create it. Times are context seconds.
#[derive(Clone, Debug, PartialEq)]
pub enum AutomationEvent {
    /// `setValueAtTime(value, time)`.
    SetValue {
        /// The new value.
        value: f32,
        /// When it takes effect.
        time: f64,
    },
    /// `linearRampToValueAtTime(value, end_time)`.
    LinearRamp {
        /// The value reached at `end_time`.
        value: f32,
        /// When the ramp ends.
        end_time: f64,
    },
    /// `exponentialRampToValueAtTime(value, end_time)`.
    ExponentialRamp {
        /// The value reached at `end_time` (never 0).
        value: f32,
        /// When the ramp ends.
        end_time: f64,
    },
    /// `setTargetAtTime(target, start_time, time_constant)`.
    SetTarget {
        /// The value approached.
        target: f32,
        /// When the approach starts.
        start_time: f64,
        /// The first-order time constant in seconds (0 jumps to the target).
        time_constant: f64,
    },
    /// `setValueCurveAtTime(values, start_time, duration)`.
    SetValueCurve {
        /// The curve's points, equally spaced over `duration`.
        values: Box<[f32]>,
        /// When the curve starts.
        start_time: f64,
        /// How long it lasts.
        duration: f64,
    },
    /// `cancelScheduledValues(cancel_time)`.
    CancelScheduledValues {
        /// Events at or after this time are removed.
        cancel_time: f64,
    },
    /// `cancelAndHoldAtTime(cancel_time)`.
    CancelAndHold {
        /// The automation is frozen at its value at this time.
        cancel_time: f64,
    },
}

impl AutomationEvent {
    /// The time that orders this event in the timeline (a ramp's end time, a curve's start).
    pub fn time(&self) -> f64 {
        match *self {
            Self::SetValue { time, .. } => time,
            Self::LinearRamp { end_time, .. } | Self::ExponentialRamp { end_time, .. } => end_time,
            Self::SetTarget { start_time, .. } | Self::SetValueCurve { start_time, .. } => {
                start_time
            }
            Self::CancelScheduledValues { cancel_time } | Self::CancelAndHold { cancel_time } => {
                cancel_time
            }
        }
    }

    /// The time until which this event controls the value, if it has a duration of its own.
    pub fn end_time(&self) -> f64 {
        match *self {
            Self::SetValueCurve {
                start_time,
                duration,
                ..
            } => start_time + duration,
            _ => self.time(),
        }
    }

    fn is_ramp(&self) -> bool {
        matches!(self, Self::LinearRamp { .. } | Self::ExponentialRamp { .. })
    }

    fn with_time(mut self, t: f64) -> Self {
        match &mut self {
            Self::SetValue { time, .. } => *time = t,
            Self::LinearRamp { end_time, .. } | Self::ExponentialRamp { end_time, .. } => {
                *end_time = t
            }
            Self::SetTarget { start_time, .. } | Self::SetValueCurve { start_time, .. } => {
                *start_time = t
            }
            Self::CancelScheduledValues { cancel_time } | Self::CancelAndHold { cancel_time } => {
                *cancel_time = t
            }
        }
        self
    }
}

/// The value curve between events: what the param does once the last passed event took over.
#[derive(Debug)]
enum Segment {
    /// A constant value.
    Hold(f32),
    /// An exponential approach that started at `start` from `v0`.
    Target {
        start: f64,
        v0: f32,
        target: f32,
        tau: f64,
    },
    /// A value curve in progress (or finished: then it holds its last value).
    Curve {
        values: Box<[f32]>,
        start: f64,
        duration: f64,
        /// The value before the curve started (restored if the curve is cancelled).
        before: f32,
    },
}

impl Segment {
    fn value_at(&self, t: f64) -> f32 {
        match self {
            Self::Hold(v) => *v,
            Self::Target {
                start,
                v0,
                target,
                tau,
            } => set_target_value(*v0, *target, *start, *tau, t),
            Self::Curve {
                values,
                start,
                duration,
                ..
            } => curve_value(values, *start, *duration, t),
        }
    }
}

/// The spec's setTargetAtTime formula: `V1 + (V0 - V1) e^(-(t - T0)/τ)`.
pub fn set_target_value(v0: f32, v1: f32, t0: f64, tau: f64, t: f64) -> f32 {
    if tau <= 0.0 {
        return v1;
    }
    let (v0, v1) = (f64::from(v0), f64::from(v1));
    (v1 + (v0 - v1) * (-(t - t0) / tau).exp()) as f32
}

/// The spec's setValueCurveAtTime interpolation; holds the last point at and after the end.
pub fn curve_value(values: &[f32], start: f64, duration: f64, t: f64) -> f32 {
    let n = values.len();
    let Some(&last) = values.last() else {
        return 0.0;
    };
    if t >= start + duration || n < 2 {
        return last;
    }
    let pos = (n - 1) as f64 / duration * (t - start).max(0.0);
    let k = pos.floor() as usize;
    if k + 1 >= n {
        return last;
    }
    let (a, b) = (f64::from(values[k]), f64::from(values[k + 1]));
    (a + (b - a) * (pos - k as f64)) as f32
}

/// The spec's linear ramp formula.
pub fn linear_ramp_value(v0: f32, v1: f32, t0: f64, t1: f64, t: f64) -> f32 {
    if t1 <= t0 {
        return v1;
    }
    let (v0, v1) = (f64::from(v0), f64::from(v1));
    (v0 + (v1 - v0) * (t - t0) / (t1 - t0)) as f32
}

/// The spec's exponential ramp formula; holds `v0` when the ends differ in sign or `v0` is 0.
pub fn exponential_ramp_value(v0: f32, v1: f32, t0: f64, t1: f64, t: f64) -> f32 {
    if v0 == 0.0 || (v0 < 0.0) != (v1 < 0.0) {
        return v0;
    }
    if t1 <= t0 {
        return v1;
    }
    let (v0, v1) = (f64::from(v0), f64::from(v1));
    (v0 * (v1 / v0).powf((t - t0) / (t1 - t0))) as f32
}

/// An AudioParam's automation timeline on the render side.
#[derive(Debug)]
pub struct Timeline {
    /// Events not yet passed, sorted by time (stable for equal times).
    events: VecDeque<AutomationEvent>,
    /// What the value does after the last passed event.
    segment: Segment,
    /// Where a following ramp starts from: the time and value of the last passed event.
    origin: (f64, f32),
    /// Whether any event has been passed (a ramp with no preceding event starts "now").
    has_history: bool,
    /// The last frame computed and its value, from which a running setTarget's recursion
    /// continues (see the module docs).
    last_value: Option<(u64, f32)>,
}

impl Timeline {
    /// An empty timeline holding `initial`, with room for `capacity` events.
    /// Allocates: control thread only.
    pub fn new(initial: f32, capacity: usize) -> Self {
        Self {
            events: VecDeque::with_capacity(capacity),
            segment: Segment::Hold(initial),
            origin: (0.0, initial),
            has_history: false,
            last_value: None,
        }
    }

    /// How many events fit without allocating.
    pub fn capacity(&self) -> usize {
        self.events.capacity()
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no events are pending (the value is then constant).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Whether the value holds for good: no events pending and no setTarget or curve running.
    pub fn is_held(&self) -> bool {
        self.events.is_empty() && matches!(self.segment, Segment::Hold(_))
    }

    /// Moves this timeline's events into `bigger` (which has more capacity) and keeps that
    /// storage; `bigger` is left holding the old, empty storage, to be dropped on the control
    /// side. Called on the real-time thread.
    ///
    /// Returns how many events did not fit (dropped; never through the Bevy layer, which only
    /// ever sends a larger timeline). A dropped event's curve goes to `garbage`.
    pub fn move_into(
        &mut self,
        bigger: &mut Timeline,
        garbage: &mut impl FnMut(Box<[f32]>),
    ) -> usize {
        bigger.events.clear();
        let mut dropped = 0;
        while let Some(e) = self.events.pop_front() {
            if bigger.events.len() < bigger.events.capacity() {
                bigger.events.push_back(e);
            } else {
                dropped += 1;
                if let AutomationEvent::SetValueCurve { values, .. } = e {
                    garbage(values);
                }
            }
        }
        std::mem::swap(&mut self.events, &mut bigger.events);
        dropped
    }

    /// The value right now (`t` = the current time), for the "current value" of ramps and
    /// for read-back.
    pub fn value_at_now(&self, t: f64) -> f32 {
        match self.events.front() {
            // A ramp runs from the end of the previous event (`origin.0`): after a value
            // curve that is the curve's end, so the curve plays out first.
            Some(e) if e.is_ramp() && t < e.time() && t >= self.origin.0 => self.ramp_value(e, t),
            _ => self.segment.value_at(t),
        }
    }

    /// Inserts an event (or applies a cancel) at `now` seconds. `garbage` receives any heap
    /// data that leaves the timeline. Called on the real-time thread; never allocates as long as
    /// the control side sized the timeline (it does, see the module docs).
    ///
    /// Returns `false` if the timeline was full and the event was dropped (rather than
    /// allocating here); the renderer counts and reports that. Never through the Bevy layer,
    /// which grows a timeline before it can fill.
    #[must_use = "a dropped event must be counted and reported"]
    pub fn insert(
        &mut self,
        event: AutomationEvent,
        now: f64,
        garbage: &mut impl FnMut(Box<[f32]>),
    ) -> bool {
        let event = if event.time() < now {
            event.with_time(now)
        } else {
            event
        };
        if self.events.len() + 2 > self.events.capacity() {
            // Nearly full (many events sent while nothing rendered, e.g. a suspended context):
            // the ones already due make room. Passing them now is exactly what the next quantum
            // would do first, so the output is the same.
            self.advance_to(now, garbage);
        }
        match event {
            AutomationEvent::CancelScheduledValues { cancel_time } => {
                self.cancel_from(cancel_time, garbage);
                true
            }
            AutomationEvent::CancelAndHold { cancel_time } => {
                self.cancel_and_hold(cancel_time, now, garbage)
            }
            e if e.is_ramp() => self.insert_ramp(e, now, garbage),
            e => self.insert_sorted(e, garbage),
        }
    }

    /// Inserts after every event at the same time (spec). If the control side's sizing was
    /// ever wrong and the timeline is full, the event is dropped (its curve data, if any, goes
    /// to `garbage`) rather than allocating here, and `false` is returned.
    fn insert_sorted(
        &mut self,
        event: AutomationEvent,
        garbage: &mut impl FnMut(Box<[f32]>),
    ) -> bool {
        let t = event.time();
        let index = self.events.partition_point(|e| e.time() <= t);
        if self.events.len() < self.events.capacity() {
            self.events.insert(index, event);
            return true;
        }
        if let AutomationEvent::SetValueCurve { values, .. } = event {
            garbage(values);
        }
        false
    }

    /// A ramp starts from the previous event; with none, from the current value now; after a
    /// SetTarget, from that SetTarget's value (spec, linearRampToValueAtTime).
    fn insert_ramp(
        &mut self,
        ramp: AutomationEvent,
        now: f64,
        garbage: &mut impl FnMut(Box<[f32]>),
    ) -> bool {
        let t = ramp.time();
        let index = self.events.partition_point(|e| e.time() <= t);
        let previous = index.checked_sub(1).map(|i| &self.events[i]);
        // Room for the ramp and the start point it may need, or neither goes in.
        let needs_start = previous.is_none()
            && (!self.has_history || matches!(self.segment, Segment::Target { .. }));
        let needed = if needs_start { 2 } else { 1 };
        if self.events.len() + needed > self.events.capacity() {
            return false;
        }
        match previous {
            None if !self.has_history => {
                let value = self.value_at_now(now);
                self.insert_sorted(AutomationEvent::SetValue { value, time: now }, garbage);
            }
            None if matches!(self.segment, Segment::Target { .. }) => {
                // The SetTarget already started: the ramp starts now from its current value.
                let value = self.segment.value_at(now);
                self.insert_sorted(AutomationEvent::SetValue { value, time: now }, garbage);
            }
            Some(AutomationEvent::SetTarget { start_time, .. }) => {
                // Not started yet: the ramp replaces it, from the value just before it.
                let start = *start_time;
                let before = self.value_before(index - 1, start);
                self.events[index - 1] = AutomationEvent::SetValue {
                    value: before,
                    time: start,
                };
            }
            _ => {}
        }
        self.insert_sorted(ramp, garbage)
    }

    /// The value the timeline has at `t` from the events before `index` alone.
    fn value_before(&self, index: usize, t: f64) -> f32 {
        let mut origin = self.origin;
        let mut last: Option<&AutomationEvent> = None;
        for e in self.events.range(..index) {
            last = Some(e);
            origin = (e.end_time(), Self::event_end_value(e, origin));
        }
        match last {
            None => self.segment.value_at(t),
            Some(AutomationEvent::SetTarget {
                target,
                start_time,
                time_constant,
            }) => set_target_value(origin.1, *target, *start_time, *time_constant, t),
            // A curve still running at `t` (cancelAndHoldAtTime inside it holds its value there).
            Some(AutomationEvent::SetValueCurve {
                values,
                start_time,
                duration,
            }) => curve_value(values, *start_time, *duration, t),
            Some(_) => origin.1,
        }
    }

    /// The value an event leaves behind once it has run, given where it started from.
    fn event_end_value(e: &AutomationEvent, origin: (f64, f32)) -> f32 {
        match e {
            AutomationEvent::SetValue { value, .. }
            | AutomationEvent::LinearRamp { value, .. }
            | AutomationEvent::ExponentialRamp { value, .. } => *value,
            AutomationEvent::SetValueCurve { values, .. } => values.last().copied().unwrap_or(0.0),
            _ => origin.1,
        }
    }

    /// cancelScheduledValues: events at or after `cancel_time` go, and so does a value curve
    /// whose span contains it (restoring the value from before the curve).
    fn cancel_from(&mut self, cancel_time: f64, garbage: &mut impl FnMut(Box<[f32]>)) {
        let mut keep = self.events.partition_point(|e| e.time() < cancel_time);
        if keep > 0
            && let Some(e @ AutomationEvent::SetValueCurve { .. }) = self.events.get(keep - 1)
            && e.end_time() >= cancel_time
        {
            keep -= 1;
        }
        self.cancel_from_index(keep, garbage);
        if let Segment::Curve {
            start,
            duration,
            before,
            ..
        } = self.segment
            && cancel_time <= start + duration
        {
            self.origin = (start, before);
            if let Segment::Curve { values, .. } =
                std::mem::replace(&mut self.segment, Segment::Hold(before))
            {
                garbage(values);
            }
        }
    }

    /// cancelAndHoldAtTime: freeze the automation at its value at `cancel_time`.
    fn cancel_and_hold(
        &mut self,
        cancel_time: f64,
        now: f64,
        garbage: &mut impl FnMut(Box<[f32]>),
    ) -> bool {
        let hold = self.value_at_time(cancel_time, now);
        let index = self.events.partition_point(|e| e.time() <= cancel_time);
        // A ramp in progress at `cancel_time` is cut short and ends at the held value.
        let cut_ramp = match self.events.get(index) {
            Some(AutomationEvent::LinearRamp { .. }) => Some(AutomationEvent::LinearRamp {
                value: hold,
                end_time: cancel_time,
            }),
            Some(AutomationEvent::ExponentialRamp { .. }) => {
                Some(AutomationEvent::ExponentialRamp {
                    value: hold,
                    end_time: cancel_time,
                })
            }
            _ => None,
        };
        self.cancel_from_index(index, garbage);
        let hold_event = cut_ramp.unwrap_or(AutomationEvent::SetValue {
            value: hold,
            time: cancel_time,
        });
        self.insert_sorted(hold_event, garbage)
    }

    fn cancel_from_index(&mut self, index: usize, garbage: &mut impl FnMut(Box<[f32]>)) {
        while self.events.len() > index {
            if let Some(AutomationEvent::SetValueCurve { values, .. }) = self.events.pop_back() {
                garbage(values);
            }
        }
    }

    /// The timeline's value at a time at or after `now`, without changing anything.
    fn value_at_time(&self, t: f64, now: f64) -> f32 {
        let index = self.events.partition_point(|e| e.time() <= t);
        match self.events.get(index) {
            Some(e) if e.is_ramp() => {
                let origin = self.origin_before(index, now);
                ramp_formula(e, origin, t)
            }
            _ => self.value_before(index, t),
        }
    }

    /// Where a ramp at `index` starts from.
    fn origin_before(&self, index: usize, _now: f64) -> (f64, f32) {
        let mut origin = self.origin;
        for e in self.events.range(..index) {
            origin = (e.end_time(), Self::event_end_value(e, origin));
        }
        origin
    }

    fn ramp_value(&self, ramp: &AutomationEvent, t: f64) -> f32 {
        ramp_formula(ramp, self.origin, t)
    }

    /// Passes every event whose time has come by `t`. Returns heap data that left through
    /// `garbage`. Called on the real-time thread.
    fn advance_to(&mut self, t: f64, garbage: &mut impl FnMut(Box<[f32]>)) {
        while let Some(front) = self.events.front() {
            if front.time() > t {
                break;
            }
            let Some(event) = self.events.pop_front() else {
                break;
            };
            self.pass(event, garbage);
        }
    }

    fn pass(&mut self, event: AutomationEvent, garbage: &mut impl FnMut(Box<[f32]>)) {
        let t = event.time();
        let value_before = self.segment.value_at(t);
        let (origin, segment) = match event {
            AutomationEvent::SetValue { value, time } => ((time, value), Segment::Hold(value)),
            AutomationEvent::LinearRamp { value, end_time }
            | AutomationEvent::ExponentialRamp { value, end_time } => {
                ((end_time, value), Segment::Hold(value))
            }
            AutomationEvent::SetTarget {
                target,
                start_time,
                time_constant,
            } => (
                (start_time, value_before),
                Segment::Target {
                    start: start_time,
                    v0: value_before,
                    target,
                    tau: time_constant,
                },
            ),
            AutomationEvent::SetValueCurve {
                values,
                start_time,
                duration,
            } => {
                let last = values.last().copied().unwrap_or(value_before);
                (
                    (start_time + duration, last),
                    Segment::Curve {
                        values,
                        start: start_time,
                        duration,
                        before: value_before,
                    },
                )
            }
            // Cancels are applied on insertion and never stored.
            AutomationEvent::CancelScheduledValues { .. }
            | AutomationEvent::CancelAndHold { .. } => {
                ((t, value_before), Segment::Hold(value_before))
            }
        };
        self.origin = origin;
        if let Segment::Curve { values, .. } = std::mem::replace(&mut self.segment, segment) {
            garbage(values);
        }
        self.has_history = true;
    }

    /// Replaces a converged setTarget by a hold of its target (so a quiet param costs a fill
    /// per quantum instead of a recursion per sample), judged on the value the setTarget has
    /// at `frame` as [`Timeline::compute_varying`] would compute it. `step` is the distance in
    /// frames between computed values (1 a-rate, a quantum k-rate).
    fn settle_target(&mut self, frame: u64, sample_rate: f64, step: u64) {
        let t = frame as f64 / sample_rate;
        if let Segment::Target { start, target, .. } = self.segment
            && t >= start
            && self
                .events
                .front()
                .is_none_or(|e| e.time() > t && !e.is_ramp())
            && set_target_converged(self.target_first_value(frame, sample_rate, step), target)
        {
            self.hold_target(t, target);
        }
    }

    fn hold_target(&mut self, t: f64, target: f32) {
        self.segment = Segment::Hold(target);
        self.origin = (t, target);
    }

    /// The running setTarget's value at `frame`: the spec's formula at its first frame, else
    /// one step of the recursion from the previous computed value (`step` frames earlier:
    /// at k-rate that is the value before the setTarget started, as in Chromium), or the
    /// formula again when there is none (the param was not computed then).
    fn target_first_value(&self, frame: u64, sample_rate: f64, step: u64) -> f32 {
        let Segment::Target {
            start,
            v0,
            target,
            tau,
        } = self.segment
        else {
            return self.segment.value_at(frame as f64 / sample_rate);
        };
        let tau32 = f64::from(tau as f32);
        if tau32 <= 0.0 {
            return target;
        }
        let start_frame = start * sample_rate;
        let f = frame as f64;
        match self.last_value {
            Some((last_frame, last))
                if !(start_frame <= f && f < start_frame + 1.0)
                    && last_frame.checked_add(step) == Some(frame) =>
            {
                let c = discrete_time_constant(tau32, sample_rate / step as f64);
                last + (target - last) * c
            }
            _ => {
                let decay = (-(f / sample_rate - start) / tau32).exp();
                (f64::from(target) + f64::from(v0 - target) * decay) as f32
            }
        }
    }

    /// Fills `out` with the timeline's value at each sample time `t0 + i / sample_rate`
    /// (a-rate), or `out[0]` only (k-rate: pass a one-element slice). Returns whether every
    /// written value is the same (no automation running). Called on the real-time thread.
    pub fn compute(
        &mut self,
        start_frame: u64,
        sample_rate: f64,
        out: &mut [f32],
        garbage: &mut impl FnMut(Box<[f32]>),
    ) -> bool {
        if let Some(v) = self.constant(start_frame, sample_rate, out.len()) {
            out.fill(v);
            return true;
        }
        self.compute_varying(start_frame, sample_rate, out, garbage);
        false
    }

    /// The first step of [`Timeline::compute`]: the value, if it is the same for all `len`
    /// samples from `start_frame` (no automation running). `len` 1 means k-rate. Called on the
    /// real-time thread.
    pub fn constant(&mut self, start_frame: u64, sample_rate: f64, len: usize) -> Option<f32> {
        let last = (start_frame + len as u64 - 1) as f64 / sample_rate;
        self.settle_target(start_frame, sample_rate, frame_step(len));
        match self.segment {
            Segment::Hold(v)
                if self
                    .events
                    .front()
                    .is_none_or(|e| e.time() > last && !e.is_ramp()) =>
            {
                self.last_value = Some((start_frame + len as u64 - 1, v));
                Some(v)
            }
            _ => None,
        }
    }

    /// The second step of [`Timeline::compute`], when [`Timeline::constant`] returned `None`
    /// for the same quantum: every sample's value (a one-element `out` is k-rate). The
    /// quantum is cut where events take over; each piece is computed as a whole (see the
    /// module docs). Called on the real-time thread.
    pub fn compute_varying(
        &mut self,
        start_frame: u64,
        sample_rate: f64,
        out: &mut [f32],
        garbage: &mut impl FnMut(Box<[f32]>),
    ) {
        let step = frame_step(out.len());
        let n = out.len();
        let mut i = 0;
        while i < n {
            let frame = start_frame + i as u64;
            let t = frame as f64 / sample_rate;
            self.advance_to(t, garbage);
            let ramp = match self.events.front() {
                Some(e) if e.is_ramp() && t >= self.origin.0 => Some(e),
                _ => None,
            };
            // The piece ends where the next event takes over (or, for a ramp waiting for a
            // value curve to end, where the ramp starts).
            let boundary = match self.events.front() {
                Some(e) if e.is_ramp() && t < self.origin.0 => Some(self.origin.0),
                Some(e) => Some(e.time()),
                None => None,
            };
            let j = boundary.map_or(n, |b| piece_end(b, start_frame, i, n, sample_rate));
            let piece = &mut out[i..j];
            match ramp {
                Some(&AutomationEvent::LinearRamp { value, end_time }) => linear_ramp_piece(
                    self.origin.1,
                    self.origin.0,
                    value,
                    end_time,
                    frame,
                    sample_rate,
                    piece,
                ),
                Some(&AutomationEvent::ExponentialRamp { value, end_time }) => {
                    exponential_ramp_piece(
                        self.origin.1,
                        self.origin.0,
                        value,
                        end_time,
                        frame,
                        sample_rate,
                        piece,
                    )
                }
                _ => self.segment_piece(frame, sample_rate, step, piece),
            }
            if let Some(&last) = piece.last() {
                self.last_value = Some((frame + step * (piece.len() as u64 - 1), last));
            }
            i = j;
        }
    }

    /// The values of the current segment for the frames of `piece`, from `frame` on.
    fn segment_piece(&mut self, frame: u64, sample_rate: f64, step: u64, piece: &mut [f32]) {
        match self.segment {
            Segment::Hold(v) => piece.fill(v),
            Segment::Target {
                start, target, tau, ..
            } if frame as f64 / sample_rate >= start => {
                let first = self.target_first_value(frame, sample_rate, step);
                if set_target_converged(first, target) {
                    piece.fill(target);
                    self.hold_target(frame as f64 / sample_rate, target);
                    return;
                }
                let c = discrete_time_constant(f64::from(tau as f32), sample_rate / step as f64);
                set_target_piece(first, target, c, piece);
            }
            _ => {
                for (k, o) in piece.iter_mut().enumerate() {
                    *o = self
                        .segment
                        .value_at((frame + step * k as u64) as f64 / sample_rate);
                }
            }
        }
    }

    /// Moves the timeline through the `len` samples from `start_frame` without computing
    /// their values, leaving it exactly as [`Timeline::compute`] would (for a quantum whose
    /// node does not read the param). Called on the real-time thread.
    pub fn skip(
        &mut self,
        start_frame: u64,
        sample_rate: f64,
        len: usize,
        garbage: &mut impl FnMut(Box<[f32]>),
    ) {
        let last = (start_frame + len as u64 - 1) as f64 / sample_rate;
        self.settle_target(start_frame, sample_rate, frame_step(len));
        self.advance_to(last, garbage);
    }
}

/// The distance in frames between the values of a computation of `len` values: a-rate
/// values are a frame apart, a k-rate value (`len` 1) stands for its quantum.
fn frame_step(len: usize) -> u64 {
    if len == 1 { RENDER_QUANTUM as u64 } else { 1 }
}

/// The index in `i + 1 ..= n` of the first frame from `start_frame + i + 1` whose time is at
/// or after `boundary` (the frame where [`Timeline::advance_to`] passes an event at that
/// time), or `n`.
fn piece_end(boundary: f64, start_frame: u64, i: usize, n: usize, sample_rate: f64) -> usize {
    let reaches = |j: usize| (start_frame + j as u64) as f64 / sample_rate >= boundary;
    let estimate = (boundary * sample_rate).ceil() - start_frame as f64;
    let mut j = if estimate >= n as f64 {
        n
    } else if estimate <= (i + 1) as f64 {
        i + 1
    } else {
        estimate as usize
    };
    while j > i + 1 && reaches(j - 1) {
        j -= 1;
    }
    while j < n && !reaches(j) {
        j += 1;
    }
    j
}

/// A setTarget is over once within this (relative) of a non-zero target: about -116 dB, below
/// every conformance tier.
const SET_TARGET_RELATIVE: f32 = 1.5e-6;

/// ... or within this of a zero target.
const SET_TARGET_ZERO: f32 = 1e-9;

/// Whether a setTarget at `value` is over: `value` is within [`SET_TARGET_RELATIVE`] of a
/// non-zero target or [`SET_TARGET_ZERO`] of a zero one. From then on the value is the
/// target, exactly; what that buys is that a settled envelope costs a fill per quantum for
/// the rest of the node's life. Chromium stops earlier, ten time constants after the start
/// (a step of up to -87 dB of the distance travelled); the spec's curve has no end, so the
/// crate follows it until the difference is below f32 resolution of the value.
fn set_target_converged(value: f32, target: f32) -> bool {
    if target == 0.0 {
        value.abs() <= SET_TARGET_ZERO
    } else {
        (target - value).abs() <= SET_TARGET_RELATIVE * target.abs()
    }
}

/// The setTarget recursion's coefficient: the fraction of the remaining distance covered per
/// value at `rate` values per second, `1 - e^(-1 / (rate τ))`, rounded to f32.
fn discrete_time_constant(tau: f64, rate: f64) -> f32 {
    (1.0 - (-1.0 / (rate * tau)).exp()) as f32
}

/// A linear ramp from `(t1, v1)` to `(t2, v2)` over the frames of `out`, from `frame` on, in
/// Blink's arithmetic: groups of four values from an f32 time offset and slope, then each
/// group a fixed f32 increment; the last `len % 4` values from the formula in f32.
fn linear_ramp_piece(
    v1: f32,
    t1: f64,
    v2: f32,
    t2: f64,
    frame: u64,
    sample_rate: f64,
    out: &mut [f32],
) {
    let dt = t2 - t1;
    let k = if dt <= f64::from(f32::MIN_POSITIVE) {
        0.0
    } else {
        (1.0 / dt) as f32
    };
    let dv = v2 - v1;
    let grouped = out.len() / 4 * 4;
    let (head, tail) = out.split_at_mut(grouped);
    if !head.is_empty() {
        let period = (1.0 / sample_rate) as f32;
        let offset = (frame as f64 / sample_rate - t1) as f32;
        let slope = k * dv;
        let increment = (4.0 / sample_rate * f64::from(k) * f64::from(dv)) as f32;
        let mut lanes = [0.0f32, 1.0, 2.0, 3.0].map(|m| (period * m + offset) * slope + v1);
        for group in head.chunks_exact_mut(4) {
            group.copy_from_slice(&lanes);
            for lane in &mut lanes {
                *lane += increment;
            }
        }
    }
    for (m, o) in tail.iter_mut().enumerate() {
        let f = frame + (grouped + m) as u64;
        let x = ((f as f64 / sample_rate - t1) * f64::from(k)) as f32;
        *o = v1 + x * dv;
    }
}

/// An exponential ramp from `(t1, v1)` to `(t2, v2)` over the frames of `out`, from `frame`
/// on, in Blink's arithmetic: the formula for the first value (rounded to f32), then a
/// per-frame multiplier `(v2/v1)^(1/frames)` in f64. Holds `v1` when the ends differ in sign
/// or one is 0.
fn exponential_ramp_piece(
    v1: f32,
    t1: f64,
    v2: f32,
    t2: f64,
    frame: u64,
    sample_rate: f64,
    out: &mut [f32],
) {
    if v1 * v2 <= 0.0 || t1 >= t2 {
        out.fill(v1);
        return;
    }
    let dt = t2 - t1;
    let multiplier = f64::from(v2 / v1).powf(1.0 / (dt * sample_rate));
    let ratio = f64::from(v2) / f64::from(v1);
    let first = (f64::from(v1) * ratio.powf((frame as f64 / sample_rate - t1) / dt)) as f32;
    let mut accumulator = f64::from(first);
    for o in out {
        *o = accumulator as f32;
        accumulator *= multiplier;
    }
}

/// A setTarget approach over `out` from `first`, in Blink's arithmetic: groups of four values
/// `v + (target - v) c_m` with f32 coefficients `c_m = 1 - (1 - c)^m`, each group advancing
/// `v` by `c_4`; the last `len % 4` values one step of `v += (target - v) c` each.
fn set_target_piece(first: f32, target: f32, c: f32, out: &mut [f32]) {
    let c1 = c * (2.0 - c);
    let c2 = c * ((c - 3.0) * c + 3.0);
    let c3 = c * (c * ((4.0 - c) * c - 6.0) + 4.0);
    let coefficients = [0.0, c, c1, c2];
    let grouped = out.len() / 4 * 4;
    let (head, tail) = out.split_at_mut(grouped);
    let mut value = first;
    for group in head.chunks_exact_mut(4) {
        let delta = target - value;
        for (o, &cm) in group.iter_mut().zip(&coefficients) {
            *o = value + delta * cm;
        }
        value += delta * c3;
    }
    for o in tail {
        *o = value;
        value += (target - value) * c;
    }
}

fn ramp_formula(ramp: &AutomationEvent, origin: (f64, f32), t: f64) -> f32 {
    match *ramp {
        AutomationEvent::LinearRamp { value, end_time } => {
            linear_ramp_value(origin.1, value, origin.0, end_time, t)
        }
        AutomationEvent::ExponentialRamp { value, end_time } => {
            exponential_ramp_value(origin.1, value, origin.0, end_time, t)
        }
        _ => origin.1,
    }
}
