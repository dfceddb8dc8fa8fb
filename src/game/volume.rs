//! Volumes and fades as a game speaks of them: [`Volume`] in linear gain or decibels, and
//! [`Fade`]s (linear or equal-power) that become ordinary automation on a `GainNode`'s `gain`.
//!
//! - A **linear** fade is `cancelAndHoldAtTime(start)` then `linearRampToValueAtTime(to,
//!   start + duration)`: the gain moves along a straight line from wherever it is.
//! - An **equal-power** fade is `cancelAndHoldAtTime(start)` then `setValueCurveAtTime` with
//!   [`EQUAL_POWER_POINTS`] points of `g(t) = √(from²·cos²(πt/2) + to²·sin²(πt/2))`, `t` from 0
//!   to 1: the power `g²` moves linearly between `from²` and `to²` and a fade-in from silence
//!   is `to·sin(πt/2)`, a fade-out `from·cos(πt/2)` — two overlapping equal-power fades keep the
//!   sum of their powers constant (no dip in a crossfade). The curve is interpolated linearly
//!   between its points by the param (the spec's rule), within 5·10⁻⁶ of the formula.

use bevy::prelude::*;

use crate::param::AudioParam;

/// A volume: linear gain or decibels (`Volume::from(0.5)` is linear).
///
/// # Examples
/// ```
/// use bevy_webaudio::game::Volume;
/// assert!((Volume::Decibels(-6.0).to_linear() - 0.501_187).abs() < 1e-6);
/// assert!((Volume::Linear(0.1).to_decibels() + 20.0).abs() < 1e-4);
/// assert_eq!(Volume::SILENT.to_decibels(), f32::NEG_INFINITY);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Reflect)]
pub enum Volume {
    /// A gain factor (≥ 0; 1 leaves the signal as it is).
    Linear(f32),
    /// Decibels relative to full scale gain 1 (0 dB = gain 1, −6 dB ≈ 0.5, `-inf` = silence).
    Decibels(f32),
}

impl Volume {
    /// Gain 0.
    pub const SILENT: Self = Self::Linear(0.0);

    /// The gain factor: `10^(dB/20)` for decibels.
    pub fn to_linear(self) -> f32 {
        match self {
            Self::Linear(gain) => gain,
            Self::Decibels(db) => 10f32.powf(db / 20.0),
        }
    }

    /// Decibels: `20·log10(gain)` (`-inf` for silence).
    pub fn to_decibels(self) -> f32 {
        match self {
            Self::Linear(gain) => 20.0 * gain.log10(),
            Self::Decibels(db) => db,
        }
    }
}

impl Default for Volume {
    fn default() -> Self {
        Self::Linear(1.0)
    }
}

impl From<f32> for Volume {
    fn from(gain: f32) -> Self {
        Self::Linear(gain)
    }
}

/// The shape of a [`Fade`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Reflect)]
pub enum FadeCurve {
    /// The gain moves along a straight line (`linearRampToValueAtTime`).
    #[default]
    Linear,
    /// The power moves along a straight line: `sin`/`cos` shaped in and out, no dip in a
    /// crossfade.
    EqualPower,
}

/// A change of volume over time. `Fade::from(0.5)` is a linear fade of 0.5 s.
///
/// # Examples
/// ```
/// use bevy_webaudio::game::{Fade, FadeCurve};
/// let fade = Fade::equal_power(2.0);
/// assert_eq!((fade.duration, fade.curve), (2.0, FadeCurve::EqualPower));
/// assert_eq!(Fade::from(0.5), Fade::linear(0.5));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Reflect)]
pub struct Fade {
    /// Seconds (0 or less: a jump at once).
    pub duration: f64,
    /// Its shape.
    pub curve: FadeCurve,
}

impl Fade {
    /// A linear fade of `duration` seconds.
    pub fn linear(duration: f64) -> Self {
        Self {
            duration,
            curve: FadeCurve::Linear,
        }
    }

    /// An equal-power fade of `duration` seconds.
    pub fn equal_power(duration: f64) -> Self {
        Self {
            duration,
            curve: FadeCurve::EqualPower,
        }
    }

    /// The duration as automation can use it: finite and ≥ 0.
    pub(crate) fn seconds(self) -> f64 {
        if self.duration.is_finite() {
            self.duration.max(0.0)
        } else {
            0.0
        }
    }
}

impl From<f64> for Fade {
    fn from(duration: f64) -> Self {
        Self::linear(duration)
    }
}

/// Points of an equal-power fade's curve.
pub const EQUAL_POWER_POINTS: usize = 257;

/// The equal-power gain between `from` and `to` at `t` in 0..=1.
pub fn equal_power_gain(from: f32, to: f32, t: f64) -> f32 {
    let (sin, cos) = (t * std::f64::consts::FRAC_PI_2).sin_cos();
    let (from, to) = (f64::from(from), f64::from(to));
    (from * from * cos * cos + to * to * sin * sin).sqrt() as f32
}

/// Moves `param` from `from` (the value it holds at `start`) to `to` along `fade`, starting at
/// `start` (context seconds). Values must be finite and times finite and ≥ 0 (they are for
/// every caller: a clock reading plus a [`Fade::seconds`]).
pub(crate) fn fade_param(param: &mut AudioParam, from: f32, to: f32, start: f64, fade: Fade) {
    let duration = fade.seconds();
    // Finite, non-negative times and finite values: none of these can fail.
    let _ = param.cancel_and_hold_at_time(start);
    if duration == 0.0 {
        let _ = param.set_value_at_time(to, start);
        return;
    }
    match fade.curve {
        FadeCurve::Linear => {
            let _ = param.linear_ramp_to_value_at_time(to, start + duration);
        }
        FadeCurve::EqualPower => {
            let last = (EQUAL_POWER_POINTS - 1) as f64;
            let curve: Vec<f32> = (0..EQUAL_POWER_POINTS)
                .map(|i| equal_power_gain(from, to, i as f64 / last))
                .collect();
            let _ = param.set_value_curve_at_time(&curve, start, duration);
        }
    }
}
