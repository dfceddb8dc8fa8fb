//! One device layer for output (the [`backend`](crate::backend)) and input (the
//! [`microphone`](crate::microphone)).
//!
//! - **Lookup** ([`plan`], through `output_device` / `input_device`): a device by name or the
//!   host's default, and the stream config to open it with (the requested rate and channels,
//!   or what the device gives).
//! - **Sample formats** ([`SampleKind`], [`DeviceSample`], [`with_sample`]): which cpal
//!   formats a stream opens with and the conversion to and from f32; any other format is a
//!   typed [`DeviceError::UnsupportedFormat`] on both sides.
//! - **Supervision** ([`StreamHealth`], and the watchdog in every [`Stream`]): what the callbacks
//!   report and when a stream counts as dead (errors and no data, no callback, a fatal cpal
//!   error), with each side's thresholds ([`OUTPUT`], [`INPUT`]).
//! - **Tear-down** ([`release`], [`Stream`]): a stream is always dropped on a helper thread
//!   with a bounded wait, since dropping one whose sound server died can block forever.

// Without the `cpal` feature only the sample conversions and `release` are used (by the
// simulated microphone and the tests).
#![cfg_attr(not(feature = "cpal"), allow(dead_code, unused_imports))]

mod release;
mod sample;
#[cfg(feature = "cpal")]
mod stream;

pub use release::{RELEASE_TIMEOUT, Release, release};
pub use sample::DeviceSample;
#[cfg(feature = "cpal")]
pub use sample::{SampleKind, WithSample, with_sample};
#[cfg(feature = "cpal")]
pub use stream::{
    Death, DeviceError, DeviceFault, Direction, INPUT, OUTPUT, Plan, Request, Stream, StreamHealth,
    build_input, build_output, plan,
};
