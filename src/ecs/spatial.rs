//! Spatial sync: `GlobalTransform`s become panner and listener param events.
//!
//! Runs in [`WebAudioSystems::Spatial`](crate::WebAudioSystems::Spatial) of the
//! [`WebAudioSync`](crate::WebAudioSync) schedule, after transform propagation and before the
//! node sync, so the events go out the same frame. Only changed transforms are sent. Each change becomes, per param, `cancelAndHoldAtTime(now)`
//! then `linearRampToValueAtTime(new, now + frame delta)`: the value glides from wherever it
//! is to the new one over one frame, so fast motion does not zipper, and the render side needs
//! no smoothing of its own (explicit automation of the same params behaves exactly as the
//! spec says). The first sync of an entity sets the values directly. While the context is
//! suspended, moves are held back and the first frame after resuming sends one glide per
//! entity that moved (no pile of superseded commands).
//!
//! Mapping: a panner's position is the entity's translation and its orientation Bevy's
//! forward (−Z); the listener's position is its translation, forward −Z and up +Y.

use bevy::ecs::change_detection::Tick;
use bevy::ecs::system::SystemChangeTick;
use bevy::prelude::*;

use crate::context::{AudioContext, AudioContextState};
use crate::node::audio_listener::AudioListener;
use crate::node::panner::PannerNode;
use crate::param::AudioParam;

/// Makes the entity's [`PannerNode`] follow its `GlobalTransform` (position and orientation).
/// An [`AudioListener`] follows its entity's transform without a marker.
#[derive(Component, Clone, Copy, Debug, Default, Reflect)]
#[reflect(Component)]
pub struct SpatialAudio;

/// Longest glide: a frame that took longer (a hitch, a paused app) still moves within 100 ms.
const MAX_GLIDE: f64 = 0.1;

/// The glide of this frame's changes: from the context's current time to one frame (Time's
/// delta, 1/60 s without `Time`, clamped to 1 ms ..= [`MAX_GLIDE`]) later.
pub(crate) fn glide_window(context: &AudioContext, time: Option<&Time>) -> (f64, f64) {
    let now = context.current_time();
    let delta = time.map_or(1.0 / 60.0, Time::delta_secs_f64);
    (now, now + delta.clamp(1e-3, MAX_GLIDE))
}

/// Moves `param` to `value`: set directly the first time, else a glide from now to `end`.
pub(crate) fn glide(param: &mut AudioParam, value: f32, now: f64, end: f64, first: bool) {
    if !value.is_finite() {
        return;
    }
    if first {
        let _ = param.set_value(value);
        return;
    }
    // Times are finite and non-negative and the value finite: these cannot fail.
    let _ = param.cancel_and_hold_at_time(now);
    let _ = param.linear_ramp_to_value_at_time(value, end);
}

fn glide_all<const N: usize>(
    params: [&mut AudioParam; N],
    values: [f32; N],
    now: f64,
    end: f64,
    first: bool,
) {
    for (p, v) in params.into_iter().zip(values) {
        glide(p, v, now, end, first);
    }
}

/// Spatial panners whose transform changed this frame, or that are new.
type MovedPanners<'w, 's> = Query<
    'w,
    's,
    (Ref<'static, GlobalTransform>, Mut<'static, PannerNode>),
    (
        With<SpatialAudio>,
        Or<(Changed<GlobalTransform>, Added<PannerNode>)>,
    ),
>;

/// Listeners whose transform changed this frame, or that are new.
type MovedListeners<'w, 's> = Query<
    'w,
    's,
    (Ref<'static, GlobalTransform>, Mut<'static, AudioListener>),
    Or<(Changed<GlobalTransform>, Added<AudioListener>)>,
>;

/// Turns changed transforms of spatial panners and of listeners into param events.
///
/// An ordinary frame only visits the entities whose `GlobalTransform` changed (or that are
/// new): idle sources cost nothing. While the context is suspended its clock stands still and
/// nothing renders, so a glide per frame would only pile up commands that later ones
/// supersede: moves are held back (a node added meanwhile still gets its first position) and,
/// on the first frame after resuming, each entity that moved during the suspension gets one
/// glide to where it is now (that frame visits every spatial entity).
#[allow(clippy::type_complexity)]
pub(crate) fn sync_spatial(
    context: Res<AudioContext>,
    time: Option<Res<Time>>,
    mut moved: ParamSet<(
        MovedPanners,
        MovedListeners,
        Query<(Ref<GlobalTransform>, Mut<PannerNode>), With<SpatialAudio>>,
        Query<(Ref<GlobalTransform>, Mut<AudioListener>)>,
    )>,
    ticks: SystemChangeTick,
    mut suspended_since: Local<Option<Tick>>,
) {
    let (now, end) = glide_window(&context, time.as_deref());
    let suspended = context.state() == AudioContextState::Suspended;
    // On the first frame after a suspension: every move since it began.
    let since = match (*suspended_since, suspended) {
        (None, true) => {
            *suspended_since = Some(ticks.last_run());
            None
        }
        (Some(tick), false) => {
            *suspended_since = None;
            Some(tick)
        }
        _ => None,
    };
    let moved_since = |transform: &Ref<GlobalTransform>, first: bool| {
        if first {
            return true;
        }
        if suspended {
            return false;
        }
        match since {
            Some(tick) => transform
                .last_changed()
                .is_newer_than(tick, ticks.this_run()),
            None => true,
        }
    };
    let glide = Glide { now, end };
    if since.is_some() {
        for (transform, panner) in &mut moved.p2() {
            let first = panner.is_added();
            if moved_since(&transform, first) {
                glide.panner(&transform, panner, first);
            }
        }
        for (transform, listener) in &mut moved.p3() {
            let first = listener.is_added();
            if moved_since(&transform, first) {
                glide.listener(&transform, listener, first);
            }
        }
        return;
    }
    for (transform, panner) in &mut moved.p0() {
        let first = panner.is_added();
        if moved_since(&transform, first) {
            glide.panner(&transform, panner, first);
        }
    }
    for (transform, listener) in &mut moved.p1() {
        let first = listener.is_added();
        if moved_since(&transform, first) {
            glide.listener(&transform, listener, first);
        }
    }
}

/// This frame's glide window.
struct Glide {
    now: f64,
    end: f64,
}

impl Glide {
    /// A panner's position (the translation) and orientation (forward, −Z).
    fn panner(&self, transform: &GlobalTransform, mut panner: Mut<PannerNode>, first: bool) {
        let p = transform.translation();
        let f = transform.forward();
        let panner = &mut *panner;
        glide_all(
            [
                &mut panner.position_x,
                &mut panner.position_y,
                &mut panner.position_z,
                &mut panner.orientation_x,
                &mut panner.orientation_y,
                &mut panner.orientation_z,
            ],
            [p.x, p.y, p.z, f.x, f.y, f.z],
            self.now,
            self.end,
            first,
        );
    }

    /// The listener's position, forward (−Z) and up (+Y).
    fn listener(&self, transform: &GlobalTransform, mut listener: Mut<AudioListener>, first: bool) {
        let (p, f, u) = (transform.translation(), transform.forward(), transform.up());
        glide_all(
            listener.params_mut(),
            [p.x, p.y, p.z, f.x, f.y, f.z, u.x, u.y, u.z],
            self.now,
            self.end,
            first,
        );
    }
}
