//! The null backend: a thread that renders at the real-time pace with no device, so the
//! clock advances, sources end and the game behaves the same without a sound card.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::slot::RendererSlot;

/// Frames rendered per tick of the null thread.
const TICK_FRAMES: usize = 512;

/// A running null backend; dropping it stops the thread. It also stops by itself when a
/// device stream claims the renderer's slot.
pub struct NullBackend {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NullBackend {
    /// Starts rendering from `slot` at `sample_rate`, discarding the output.
    pub fn start(slot: RendererSlot, sample_rate: f32, channels: usize) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("webaudio-null".into())
            .spawn(move || run(&slot, &flag, sample_rate, channels))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

fn run(slot: &RendererSlot, stop: &AtomicBool, sample_rate: f32, channels: usize) {
    let mut scratch = vec![0.0f32; TICK_FRAMES * channels.max(1)];
    let tick = Duration::from_secs_f64(TICK_FRAMES as f64 / f64::from(sample_rate));
    let mut deadline = Instant::now();
    while !stop.load(Ordering::Acquire) && !slot.is_claimed() {
        let started = Instant::now();
        slot.with(|r| {
            r.fill_interleaved(&mut scratch, channels);
            let load = started.elapsed().as_secs_f32() / tick.as_secs_f32();
            r.shared().record_load(load);
        });
        deadline += tick;
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        } else if now - deadline > tick * 8 {
            deadline = now; // fell far behind (suspended process): do not burst to catch up
        }
    }
}

impl Drop for NullBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
