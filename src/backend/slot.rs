//! The hand-off slot between the backend supervisor and whichever thread renders (the cpal
//! callback or the null backend's thread).
//!
//! The renderer sits in a one-element lock-free queue. The rendering thread pops it, renders,
//! and pushes it back — a wait-free move of a `Box`, no allocation, no lock. To move the
//! graph to another backend, the supervisor stops the current one (so nothing pops any more)
//! and pops the renderer itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::ArrayQueue;

use crate::render::Renderer;

/// Functions called on the render thread right before and after each render — to mark the
/// thread for an allocation checker, or for a profiler's scope. They must themselves be
/// real-time safe.
#[derive(Clone, Copy, Debug)]
pub struct RenderHooks {
    /// Called before rendering.
    pub enter: fn(),
    /// Called after rendering.
    pub exit: fn(),
}

/// Where the renderer lives between callbacks.
///
/// A device stream *claims* the slot on its first callback; the null thread stops rendering
/// as soon as it sees the claim. That lets the supervisor open a new stream while the null
/// backend keeps the clock running, with no gap and no moment where both render.
#[derive(Clone)]
pub struct RendererSlot {
    queue: Arc<ArrayQueue<Box<Renderer>>>,
    claimed: Arc<AtomicBool>,
    hooks: Option<RenderHooks>,
}

impl RendererSlot {
    /// An empty slot; `hooks` run around every render.
    pub fn new(hooks: Option<RenderHooks>) -> Self {
        Self {
            queue: Arc::new(ArrayQueue::new(1)),
            claimed: Arc::new(AtomicBool::new(false)),
            hooks,
        }
    }

    /// A device stream takes over (called in its callback; real-time safe).
    #[cfg_attr(not(feature = "cpal"), allow(dead_code))]
    pub fn claim(&self) {
        self.claimed.store(true, Ordering::Release);
    }

    /// Back to the null backend (control side, after the stream is gone).
    pub fn release(&self) {
        self.claimed.store(false, Ordering::Release);
    }

    /// Whether a device stream has taken over.
    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// Puts the renderer in (control side, or the render thread returning it).
    /// Returns it back if the slot is somehow occupied.
    pub fn put(&self, renderer: Box<Renderer>) -> Result<(), Box<Renderer>> {
        self.queue.push(renderer)
    }

    /// Takes the renderer out, if it is there.
    pub fn take(&self) -> Option<Box<Renderer>> {
        self.queue.pop()
    }

    /// Runs `f` with the renderer if it is in the slot; returns whether it was. Called on the
    /// real-time thread: a lock-free pop and push.
    pub fn with<R>(&self, f: impl FnOnce(&mut Renderer) -> R) -> Option<R> {
        let mut renderer = self.queue.pop()?;
        if let Some(hooks) = self.hooks {
            (hooks.enter)();
        }
        let result = f(&mut renderer);
        if let Some(hooks) = self.hooks {
            (hooks.exit)();
        }
        if let Err(renderer) = self.queue.push(renderer) {
            // Unreachable by construction (only one renderer exists); never free here.
            std::mem::forget(renderer);
        }
        Some(result)
    }
}
