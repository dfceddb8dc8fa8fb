//! The hand-off slot between the backend supervisor and whichever thread renders (the cpal
//! callback or the null backend's thread).
//!
//! The renderer sits in a one-element lock-free queue. The rendering thread pops it, renders,
//! and pushes it back — a wait-free move of a `Box`, no allocation, no lock. To move the
//! graph to another backend, the supervisor stops the current one (so nothing pops any more)
//! and pops the renderer itself.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use crate::render::Renderer;

/// Where the renderer lives between callbacks.
#[derive(Clone)]
pub struct RendererSlot(Arc<ArrayQueue<Box<Renderer>>>);

impl Default for RendererSlot {
    fn default() -> Self {
        Self(Arc::new(ArrayQueue::new(1)))
    }
}

impl RendererSlot {
    /// Puts the renderer in (control side, or the render thread returning it).
    /// Returns it back if the slot is somehow occupied.
    pub fn put(&self, renderer: Box<Renderer>) -> Result<(), Box<Renderer>> {
        self.0.push(renderer)
    }

    /// Takes the renderer out, if it is there.
    pub fn take(&self) -> Option<Box<Renderer>> {
        self.0.pop()
    }

    /// Runs `f` with the renderer if it is in the slot; returns whether it was. Called on the
    /// real-time thread: a lock-free pop and push.
    pub fn with<R>(&self, f: impl FnOnce(&mut Renderer) -> R) -> Option<R> {
        let mut renderer = self.0.pop()?;
        let result = f(&mut renderer);
        if let Err(renderer) = self.0.push(renderer) {
            // Unreachable by construction (only one renderer exists); never free here.
            std::mem::forget(renderer);
        }
        Some(result)
    }
}
