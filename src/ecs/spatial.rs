//! Spatial sync: `GlobalTransform`s become panner and listener param glides.
//!
//! Runs in [`WebAudioSystems::Spatial`](crate::WebAudioSystems::Spatial) of the
//! [`WebAudioSync`](crate::WebAudioSync) schedule, after transform propagation; the glides go
//! out at the same frame's commit. Only changed transforms are sent. Each change becomes, per
//! param, `cancelAndHoldAtTime(now)` then `linearRampToValueAtTime(new, now + frame delta)`:
//! the value glides from wherever it is to the new one over one frame, so fast motion does not
//! zipper, and the render side needs no smoothing of its own (explicit automation of the same
//! params behaves exactly as the spec says). That pair is applied on the render side from one
//! `Glide` command per moving panner and frame (two for the listener), which carries the
//! latest position and orientation; the panner component itself is not touched, so a moving
//! source costs the node sync nothing. The first sync of an entity sets the values directly.
//! While the context is suspended, moves are held back and the first frame after resuming
//! sends one glide per entity that moved (no pile of superseded commands).
//!
//! Mapping ([`SpatialSettings`]): world units are divided by `units_per_metre` (the panner's
//! distances, the speed of sound and the Doppler shift are in metres). In 3D a panner's
//! position is the entity's translation and its orientation Bevy's forward (−Z); the
//! listener's position is its translation, forward −Z and up +Y. In 2D
//! ([`SpatialMode::TwoD`]) the screen's plane is the ground: `(x, y)` becomes `(x, 0, −y)`,
//! the listener always faces up the screen (its rotation is ignored, so right on the screen
//! is the right ear) and a panner's orientation is its local +X (a sprite's facing at
//! rotation 0), mapped the same way.

use bevy::ecs::change_detection::Tick;
use bevy::ecs::system::SystemChangeTick;
use bevy::prelude::*;

use super::engine::AudioEngine;
use crate::context::{AudioContext, AudioContextState};
use crate::node::audio_listener::AudioListener;
use crate::node::panner::PannerNode;
use crate::param::AudioParam;
use webaudio_engine::command::ParamGlide;
use webaudio_engine::node::audio_listener::ListenerParam;
use webaudio_engine::node::panner::PannerParam;
use webaudio_engine::param::NodeParams;

/// Makes the entity's [`PannerNode`] follow its `GlobalTransform` (position and orientation).
/// An [`AudioListener`] follows its entity's transform without a marker. Requires
/// `Transform` (inserted with its default when missing).
#[derive(Component, Clone, Copy, Debug, Default, Reflect)]
#[reflect(Component)]
#[require(Transform)]
pub struct SpatialAudio;

/// How world space maps to audio space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Reflect)]
pub enum SpatialMode {
    /// Bevy's 3D axes as they are.
    #[default]
    ThreeD,
    /// A 2D game: the screen's plane is the ground, the listener faces up the screen.
    TwoD,
}

/// Distance scale and 2D/3D mapping of the spatial sync (a resource; the defaults are 3D and
/// one world unit per metre).
///
/// # Examples
/// ```
/// use bevy::prelude::*;
/// use bevy_webaudio::prelude::*;
/// // A 2D game with 100 pixels to the metre.
/// let settings = SpatialSettings::two_d(100.0);
/// assert_eq!(settings.position(Vec3::new(300.0, 400.0, 5.0)), Vec3::new(3.0, 0.0, -4.0));
/// App::new().insert_resource(settings);
/// ```
#[derive(Resource, Clone, Copy, Debug, PartialEq, Reflect)]
#[reflect(Resource)]
pub struct SpatialSettings {
    /// World units in a metre (> 0; other values count as 1).
    pub units_per_metre: f32,
    /// 3D or 2D.
    pub mode: SpatialMode,
}

impl Default for SpatialSettings {
    fn default() -> Self {
        Self {
            units_per_metre: 1.0,
            mode: SpatialMode::ThreeD,
        }
    }
}

impl SpatialSettings {
    /// A 2D game with `units_per_metre` world units (pixels) to the metre.
    pub fn two_d(units_per_metre: f32) -> Self {
        Self {
            units_per_metre,
            mode: SpatialMode::TwoD,
        }
    }

    /// A world position in audio space (metres, the listener's axes).
    pub fn position(&self, world: Vec3) -> Vec3 {
        let scale = self.units_per_metre;
        let metres = if scale.is_finite() && scale > 0.0 {
            world / scale
        } else {
            world
        };
        self.direction(metres)
    }

    /// A world direction in audio space.
    pub fn direction(&self, world: Vec3) -> Vec3 {
        match self.mode {
            SpatialMode::ThreeD => world,
            SpatialMode::TwoD => Vec3::new(world.x, 0.0, -world.y),
        }
    }

    /// A panner's orientation: forward (−Z) in 3D, local +X in 2D.
    fn panner_orientation(&self, transform: &GlobalTransform) -> Vec3 {
        match self.mode {
            SpatialMode::ThreeD => *transform.forward(),
            SpatialMode::TwoD => self.direction(*transform.right()),
        }
    }

    /// The listener's forward and up: Bevy's −Z and +Y in 3D; up the screen and out of it in
    /// 2D.
    fn listener_axes(&self, transform: &GlobalTransform) -> (Vec3, Vec3) {
        match self.mode {
            SpatialMode::ThreeD => (*transform.forward(), *transform.up()),
            SpatialMode::TwoD => (Vec3::NEG_Z, Vec3::Y),
        }
    }
}

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
    (now, end): (f64, f64),
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
    (
        Entity,
        Ref<'static, GlobalTransform>,
        Mut<'static, PannerNode>,
    ),
    (
        With<SpatialAudio>,
        Or<(Changed<GlobalTransform>, Added<PannerNode>)>,
    ),
>;

/// Listeners whose transform changed this frame, or that are new.
type MovedListeners<'w, 's> = Query<
    'w,
    's,
    (
        Entity,
        Ref<'static, GlobalTransform>,
        Mut<'static, AudioListener>,
    ),
    Or<(Changed<GlobalTransform>, Added<AudioListener>)>,
>;

/// Turns changed transforms of spatial panners and of listeners into param glides.
///
/// An ordinary frame only visits the entities whose `GlobalTransform` changed (or that are
/// new): idle sources cost nothing. A moving source sends one [`Command::Glide`] (a listener
/// two), queued in the engine and sent at commit after the frame's own param events, which
/// the render side applies as the `cancelAndHoldAtTime` / `linearRampToValueAtTime` pair on
/// each param. While the context is suspended its clock stands still and nothing renders, so
/// a glide per frame would only pile up commands that later ones supersede: moves are held
/// back (a node added meanwhile still gets its first position) and, on the first frame after
/// resuming, each entity that moved during the suspension gets one glide to where it is now
/// (that frame visits every spatial entity).
///
/// [`Command::Glide`]: webaudio_engine::command::Command::Glide
#[allow(clippy::type_complexity)]
pub(crate) fn sync_spatial(
    context: Res<AudioContext>,
    time: Option<Res<Time>>,
    mut engine: ResMut<AudioEngine>,
    settings: Option<Res<SpatialSettings>>,
    mut moved: ParamSet<(
        MovedPanners,
        MovedListeners,
        Query<(Entity, Ref<GlobalTransform>, Mut<PannerNode>), With<SpatialAudio>>,
        Query<(Entity, Ref<GlobalTransform>, Mut<AudioListener>)>,
    )>,
    ticks: SystemChangeTick,
    mut suspended_since: Local<Option<Tick>>,
) {
    let (now, end) = glide_window(&context, time.as_deref());
    let suspended = context.state() == AudioContextState::Suspended;
    // New settings move everything: one glide per entity, as after a suspension.
    let remapped = settings.as_ref().is_some_and(|s| s.is_changed());
    let settings = settings.as_deref().copied().unwrap_or_default();
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
        if first || remapped {
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
    let mut glide = Glide {
        engine: &mut engine,
        window: (now, end),
        settings,
    };
    if since.is_some() || remapped {
        for (entity, transform, panner) in &mut moved.p2() {
            let first = panner.is_added();
            if moved_since(&transform, first) {
                glide.panner(entity, &transform, panner, first);
            }
        }
        for (entity, transform, listener) in &mut moved.p3() {
            let first = listener.is_added();
            if moved_since(&transform, first) {
                glide.listener(entity, &transform, listener, first);
            }
        }
        return;
    }
    for (entity, transform, panner) in &mut moved.p0() {
        let first = panner.is_added();
        if moved_since(&transform, first) {
            glide.panner(entity, &transform, panner, first);
        }
    }
    for (entity, transform, listener) in &mut moved.p1() {
        let first = listener.is_added();
        if moved_since(&transform, first) {
            glide.listener(entity, &transform, listener, first);
        }
    }
}

/// This frame's glides: queued in the engine as one command per node, or, for a new node
/// (whose values are set directly) or non-finite values, through the params themselves.
struct Glide<'a> {
    engine: &'a mut AudioEngine,
    window: (f64, f64),
    settings: SpatialSettings,
}

impl Glide<'_> {
    /// A panner's position (the translation) and orientation (forward, −Z).
    fn panner(
        &mut self,
        entity: Entity,
        transform: &GlobalTransform,
        mut panner: Mut<PannerNode>,
        first: bool,
    ) {
        let p = self.settings.position(transform.translation());
        let f = self.settings.panner_orientation(transform);
        let values = [p.x, p.y, p.z, f.x, f.y, f.z];
        if !first && values.iter().all(|v| v.is_finite()) {
            let scheduled = panner_params(&panner)
                .map(AudioParam::scheduled_len)
                .into_iter()
                .max()
                .unwrap_or(0);
            let slot = PannerParam::PositionX.slot();
            if self
                .engine
                .queue_glide(entity, slot, &values, self.window, scheduled)
            {
                return;
            }
        }
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
            values,
            self.window,
            first,
        );
    }

    /// The listener's position, forward (−Z) and up (+Y): two glides (six params, then three).
    fn listener(
        &mut self,
        entity: Entity,
        transform: &GlobalTransform,
        mut listener: Mut<AudioListener>,
        first: bool,
    ) {
        let p = self.settings.position(transform.translation());
        let (f, u) = self.settings.listener_axes(transform);
        let values = [p.x, p.y, p.z, f.x, f.y, f.z, u.x, u.y, u.z];
        if !first && values.iter().all(|v| v.is_finite()) {
            let scheduled = listener
                .params()
                .map(AudioParam::scheduled_len)
                .into_iter()
                .max()
                .unwrap_or(0);
            let (head, up) = values.split_at(ParamGlide::MAX);
            let up_slot = ListenerParam::UpX.slot();
            let window = self.window;
            if self.engine.queue_glide(
                entity,
                ListenerParam::PositionX.slot(),
                head,
                window,
                scheduled,
            ) && self
                .engine
                .queue_glide(entity, up_slot, up, window, scheduled)
            {
                return;
            }
        }
        glide_all(listener.params_mut(), values, self.window, first);
    }
}

/// A panner's six spatial params, read only.
fn panner_params(panner: &PannerNode) -> [&AudioParam; 6] {
    [
        &panner.position_x,
        &panner.position_y,
        &panner.position_z,
        &panner.orientation_x,
        &panner.orientation_y,
        &panner.orientation_z,
    ]
}
