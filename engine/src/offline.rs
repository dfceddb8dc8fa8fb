//! The offline backend: no thread and no device. The renderer
//! lives on the control side; `render(frames)` applies every pending command synchronously
//! (no back-pressure) and renders on the calling thread as fast as the CPU allows.

use crate::command::ControlChannel;
use crate::render::Renderer;

/// The renderer of an offline context.
pub struct OfflineBackend {
    renderer: Box<Renderer>,
}

impl OfflineBackend {
    /// Wraps a renderer.
    pub fn new(renderer: Renderer) -> Self {
        Self {
            renderer: Box::new(renderer),
        }
    }

    /// Applies every queued command, then renders `frames` frames into planar channels.
    pub fn render(&mut self, control: &mut ControlChannel, frames: usize) -> Vec<Vec<f32>> {
        for command in control.take_backlog() {
            self.renderer.apply(command);
        }
        let channels = self.renderer.channels();
        let mut out: Vec<Vec<f32>> = (0..channels).map(|_| Vec::with_capacity(frames)).collect();
        self.renderer.render_planar(frames, &mut out);
        out
    }

    /// Frames the renderer has rendered: whole quanta, at or ahead of the frames returned.
    pub fn frame(&self) -> u64 {
        self.renderer.frame()
    }

    /// The sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.renderer.sample_rate() as u32
    }

    /// Output channels.
    pub fn channels(&self) -> u16 {
        self.renderer.channels() as u16
    }

    /// The renderer (for tests and tools).
    pub fn renderer_mut(&mut self) -> &mut Renderer {
        &mut self.renderer
    }
}
