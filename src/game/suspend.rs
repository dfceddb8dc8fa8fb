//! Optional automatic suspension: the context suspends while the game's virtual time is
//! paused and/or while its window has lost focus, and resumes when both are over. Only a
//! suspension this policy made is undone by it: a context the game suspended itself stays
//! suspended.

use bevy::prelude::*;

use crate::context::{AudioContext, AudioContextState};

/// When to suspend the [`AudioContext`] automatically (both off by default).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq, Reflect)]
#[reflect(Resource)]
pub struct SuspendPolicy {
    /// While `Time<Virtual>` is paused.
    pub when_paused: bool,
    /// While no window has focus (needs the `window` feature; the game reports focus through
    /// [`WindowFocusState`] otherwise).
    pub on_focus_lost: bool,
}

/// Whether the game's window has focus (updated from Bevy's `WindowFocused` with the
/// `window` feature; set it by hand otherwise).
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq, Reflect)]
#[reflect(Resource)]
pub struct WindowFocusState(pub bool);

impl Default for WindowFocusState {
    fn default() -> Self {
        Self(true)
    }
}

/// Suspends or resumes by the policy. `Last`, so the request is applied at the start of the
/// next frame.
pub(crate) fn apply_suspend_policy(
    policy: Res<SuspendPolicy>,
    focus: Res<WindowFocusState>,
    time: Option<Res<Time<Virtual>>>,
    mut context: ResMut<AudioContext>,
    mut suspended_by_policy: Local<bool>,
) {
    let paused = policy.when_paused && time.is_some_and(|t| t.is_paused());
    let unfocused = policy.on_focus_lost && !focus.0;
    let want_suspended = paused || unfocused;
    match (want_suspended, *suspended_by_policy, context.state()) {
        (true, false, AudioContextState::Running) => {
            *suspended_by_policy = context.suspend().is_ok();
        }
        (false, true, AudioContextState::Suspended) => {
            *suspended_by_policy = context.resume().is_err();
        }
        (false, true, _) => *suspended_by_policy = false,
        _ => {}
    }
}

/// Mirrors Bevy's `WindowFocused` into [`WindowFocusState`].
#[cfg(feature = "window")]
pub(crate) fn track_focus(
    mut events: MessageReader<bevy::window::WindowFocused>,
    mut focus: ResMut<WindowFocusState>,
) {
    if let Some(event) = events.read().last() {
        focus.0 = event.focused;
    }
}
