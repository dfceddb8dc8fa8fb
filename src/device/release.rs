//! Tear-down with a bounded wait.
//!
//! Dropping a cpal stream joins its thread, and when the sound server died that thread can be
//! stuck for good inside the PulseAudio ALSA plugin (its mainloop waits on shared memory the
//! dead server never releases; seen in the device tests). The game must keep running, so
//! streams are dropped on a helper thread and waited for only so long; past that the helper
//! is left behind holding the stream.

use std::sync::mpsc;
use std::time::Duration;

/// How long a stream's drop is waited for before its helper thread is left behind.
pub const RELEASE_TIMEOUT: Duration = Duration::from_millis(500);

/// How a [`release`] went.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// The value was dropped within the timeout.
    Dropped,
    /// The drop did not finish within the timeout: a helper thread still holds the value
    /// (and stays blocked with it if its drop never returns).
    TimedOut,
}

impl Release {
    /// Whether the wait ran out.
    pub fn timed_out(self) -> bool {
        self == Self::TimedOut
    }
}

/// Drops `value` on a helper thread and waits at most `timeout` for the drop to finish.
/// Returns [`Release::TimedOut`] when it did not (the helper thread is left behind holding
/// it); the caller reports that. Control side only (it blocks up to `timeout`).
///
/// If no thread can be spawned the value is dropped on the calling thread (there is nowhere
/// else to put it).
pub fn release<T: Send + 'static>(value: T, timeout: Duration) -> Release {
    let (done, finished) = mpsc::sync_channel::<()>(1);
    let spawned = std::thread::Builder::new()
        .name("webaudio-release".into())
        .spawn(move || {
            drop(value);
            let _ = done.send(());
        });
    let Ok(helper) = spawned else {
        // The closure, and the value in it, was dropped by the failed spawn.
        return Release::Dropped;
    };
    match finished.recv_timeout(timeout) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            // Done (or its drop panicked): the thread is finishing; join it.
            let _ = helper.join();
            Release::Dropped
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Release::TimedOut,
    }
}
