//! # webaudio_engine
//!
//! The render side of a Web Audio API–style audio graph, with no Bevy, no threads, no locks and
//! no wall clock: every node's processor and param declarations, the param timeline, the
//! schedule compiler, the command/feedback protocol between a control thread and the render
//! thread, and the offline renderer. `bevy_webaudio` is the ECS layer on top; any other host
//! (a test, a tool, a web AudioWorklet) can drive a [`Renderer`](render::Renderer) directly.
//!
//! ```text
//! control thread (host)                          render thread (device callback)
//! graph::compile ─▶ Schedule ┐                   Renderer::render_quantum
//! node processors (boxed)    ├─ Command (rtrb) ─▶  apply commands, compute params,
//! param events, start/stop   ┘                      run the schedule's steps
//! drop garbage, read clock ◀── Feedback (rtrb) ── 'ended', garbage; atomics: clock, load
//! ```
//!
//! Rules the compiler enforces here (this crate's `clippy.toml`, run with `-D warnings`): no
//! `Mutex`/`RwLock`/`Condvar`, no printing, no `thread::spawn`, no `Instant`. Allocation-freedom
//! of the render path is proven by tests under a counting allocator.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod command;
pub mod error;
pub mod graph;
pub mod node;
pub mod offline;
pub mod param;
pub mod render;
pub mod stream;

pub use error::{AudioParamError, WebAudioError};
