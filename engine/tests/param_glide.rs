//! `ParamGlide`, the one-command glide of a moving spatial source: which param slots it
//! carries, in order, and what it refuses to build (more values than it holds, slots past a
//! node's last). The render side's meaning of it (a `cancelAndHoldAtTime` +
//! `linearRampToValueAtTime` pair per param, sample for sample) is checked through the ECS in
//! the root crate's spatial tests.

use webaudio_engine::command::ParamGlide;
use webaudio_engine::node::panner::PannerParam;
use webaudio_engine::param::{NodeParams, ParamSlot};
use webaudio_engine::render::MAX_PARAMS;

#[test]
fn a_glide_carries_consecutive_slots_in_order() {
    let glide = ParamGlide::new(PannerParam::PositionY.slot(), &[1.5, -2.0, 3.25], 0.5, 0.6)
        .expect("three values from slot 1 fit");
    let params: Vec<(usize, f32)> = glide.params().map(|(s, v)| (s.index(), v)).collect();
    assert_eq!(params, [(1, 1.5), (2, -2.0), (3, 3.25)]);
    assert_eq!((glide.start, glide.end), (0.5, 0.6));
}

#[test]
fn a_glide_refuses_what_does_not_fit() {
    let first = PannerParam::PositionX.slot();
    assert!(ParamGlide::new(first, &[0.0; ParamGlide::MAX], 0.0, 1.0).is_some());
    assert!(ParamGlide::new(first, &[0.0; ParamGlide::MAX + 1], 0.0, 1.0).is_none());
    let last_fit = ParamSlot::declared(MAX_PARAMS - ParamGlide::MAX);
    assert!(ParamGlide::new(last_fit, &[0.0; ParamGlide::MAX], 0.0, 1.0).is_some());
    let past = ParamSlot::declared(MAX_PARAMS - ParamGlide::MAX + 1);
    assert!(ParamGlide::new(past, &[0.0; ParamGlide::MAX], 0.0, 1.0).is_none());
}
