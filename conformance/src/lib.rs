//! Conformance runner for `bevy_webaudio`: reads a Web Audio graph case (the JSON format of
//! `tests/conformance/FORMAT.md`), builds it **through the crate's public API** (node
//! entities with their components, connection entities, `AudioParam` methods, in a Bevy `App`
//! with `WebAudioPlugin::offline`), renders it offline, and measures it against Chromium's
//! reference renders with the metrics of the conformance README.
//!
//! Anything a case uses that the crate cannot express yet is a [`CaseError::Unsupported`]
//! naming what is missing; nothing is silently skipped.

pub mod build;
pub mod case;
pub mod generators;
pub mod inventory;
pub mod metrics;
pub mod peers;

use std::fmt;

pub use build::{Outcome, build_and_render, run_case};
pub use case::Case;

/// Why a case could not be rendered.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseError {
    /// The file is not a case (JSON syntax, wrong types).
    Parse(String),
    /// The case uses something the crate cannot express yet (a node type, option, attribute,
    /// param, method): names what is missing.
    Unsupported(String),
    /// The case is malformed, or the crate rejected a call with the spec's error (Chromium
    /// would have thrown too).
    Invalid(String),
    /// The engine reported an error while building or rendering.
    Engine(String),
    /// A crate call returned the spec's exception `name` (`NotSupportedError`,
    /// `InvalidStateError`, `RangeError`, `IndexSizeError`, `InvalidAccessError`, ...) at the
    /// case's step `at` (FORMAT.md, "Expected errors"; empty until the step is known).
    Thrown {
        /// The step: a node id, `destination`, `listener`, `actions[I].do[J]`, `readbacks[K]`.
        at: String,
        /// The exception's name.
        name: &'static str,
        /// What the crate said.
        message: String,
    },
}

impl CaseError {
    /// Whether this is a missing feature rather than a broken case or engine failure.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Self::Unsupported(_))
    }
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(m) => write!(f, "parse error: {m}"),
            Self::Unsupported(m) => write!(f, "unsupported: {m}"),
            Self::Invalid(m) => write!(f, "invalid: {m}"),
            Self::Engine(m) => write!(f, "engine error: {m}"),
            Self::Thrown { at, name, message } => write!(f, "{name} at `{at}`: {message}"),
        }
    }
}

impl std::error::Error for CaseError {}

/// A rendered case.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The case's name.
    pub name: String,
    /// The context's sample rate in Hz.
    pub sample_rate: f64,
    /// Planar output: one `Vec` of `length` frames per destination channel.
    pub channels: Vec<Vec<f32>>,
    /// Frames rendered.
    pub length: usize,
    /// Wall-clock time of the graph construction (App, nodes, first sync), in ms.
    pub build_ms: f64,
    /// Wall-clock time of `render()` only, in ms.
    pub render_ms: f64,
}
