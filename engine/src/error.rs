//! Typed errors: the Web Audio API's exceptions as a Rust enum.
//!
//! Where the spec throws `RangeError`, `NotSupportedError`, `InvalidStateError` or
//! `IndexSizeError`, the matching method here returns the matching variant with a message
//! saying what was wrong.

use thiserror::Error;

/// An error from a Web Audio operation, named after the exception the spec throws.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum WebAudioError {
    /// The spec's `RangeError`: a number outside its allowed range (a negative time,
    /// a non-finite value, an exponential ramp to 0, a non-positive duration, ...).
    #[error("RangeError: {0}")]
    Range(String),
    /// The spec's `NotSupportedError`: an unsupported option (a channel count of 0, an
    /// automation event overlapping a value curve, ...).
    #[error("NotSupportedError: {0}")]
    NotSupported(String),
    /// The spec's `InvalidStateError`: the call is not allowed now (`start` called twice,
    /// `stop` before `start`, ...).
    #[error("InvalidStateError: {0}")]
    InvalidState(String),
    /// The spec's `IndexSizeError`: an output or input index that does not exist.
    #[error("IndexSizeError: {0}")]
    IndexSize(String),
    /// The spec's `InvalidAccessError`: arrays whose lengths must match do not
    /// (`getFrequencyResponse`).
    #[error("InvalidAccessError: {0}")]
    InvalidAccess(String),
    /// The spec's `EncodingError`: audio data that cannot be decoded (`decodeAudioData`; here
    /// also a buffer asset whose file failed to load).
    #[error("EncodingError: {0}")]
    Encoding(String),
}

impl WebAudioError {
    /// The name of the exception the spec throws (`"RangeError"`, `"NotSupportedError"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Range(_) => "RangeError",
            Self::NotSupported(_) => "NotSupportedError",
            Self::InvalidState(_) => "InvalidStateError",
            Self::IndexSize(_) => "IndexSizeError",
            Self::InvalidAccess(_) => "InvalidAccessError",
            Self::Encoding(_) => "EncodingError",
        }
    }
}

/// The error type of a host's `AudioParam` automation methods (the spec's checks).
pub type AudioParamError = WebAudioError;

/// Checks that `value` is finite (`RangeError` otherwise; the spec's WebIDL `float` rejects
/// NaN and infinities with a `TypeError`, which this crate folds into `Range`).
pub fn finite(name: &str, value: f64) -> Result<(), WebAudioError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(WebAudioError::Range(format!(
            "{name} must be finite, got {value}"
        )))
    }
}

/// Checks that a time is finite and not negative.
pub fn time(name: &str, value: f64) -> Result<(), WebAudioError> {
    finite(name, value)?;
    if value < 0.0 {
        return Err(WebAudioError::Range(format!(
            "{name} must not be negative, got {value}"
        )));
    }
    Ok(())
}
