//! `AudioContext` state: running / suspended / closed, `statechange` messages, and the
//! automatic suspension policy. Offline: a suspended context renders silence and its clock
//! stays put; a closed one frees its renderer.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::support::*;

fn changes(app: &App) -> Vec<(AudioContextState, AudioContextState)> {
    let messages = app.world().resource::<Messages<AudioContextStateChanged>>();
    messages
        .get_cursor()
        .read(messages)
        .map(|m| (m.previous, m.state))
        .collect()
}

fn context(app: &mut App) -> Mut<'_, AudioContext> {
    app.world_mut().resource_mut::<AudioContext>()
}

#[test]
fn suspend_resume_close_follow_the_spec() {
    use AudioContextState::*;
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut source = ConstantSourceNode::new(1.0);
    source.start(0.0).unwrap();
    app.world_mut().commands().spawn(source).connect(dest);
    app.update();
    assert!(app.render(256).unwrap()[0].iter().all(|&v| v == 1.0));

    context(&mut app).suspend().unwrap();
    app.update();
    assert_eq!(app.world().resource::<AudioContext>().state(), Suspended);
    assert_eq!(changes(&app), vec![(Running, Suspended)]);
    let out = app.render(512).unwrap();
    assert!(out[0].iter().all(|&v| v == 0.0), "silence while suspended");
    app.update();
    assert_eq!(
        app.world().resource::<AudioContext>().current_frame(),
        256,
        "clock stopped"
    );

    context(&mut app).resume().unwrap();
    app.update();
    assert_eq!(app.world().resource::<AudioContext>().state(), Running);
    assert!(app.render(128).unwrap()[0].iter().all(|&v| v == 1.0));
    app.update();
    assert_eq!(app.world().resource::<AudioContext>().current_frame(), 384);
    assert_eq!(
        app.world().resource::<AudioContext>().render_node_count(),
        2
    );

    context(&mut app).close().unwrap();
    assert!(matches!(
        context(&mut app).resume(),
        Err(WebAudioError::InvalidState(_))
    ));
    app.update();
    let ctx = app.world().resource::<AudioContext>();
    assert_eq!(ctx.state(), Closed);
    assert_eq!(
        ctx.render_node_count(),
        0,
        "the renderer and its nodes are freed"
    );
    assert_eq!(ctx.current_frame(), 384);
    assert!(changes(&app).contains(&(Running, Closed)));
    assert!(matches!(
        app.render(128),
        Err(WebAudioError::InvalidState(_))
    ));
    let suspend = context(&mut app).suspend();
    let resume = context(&mut app).resume();
    let close = context(&mut app).close();
    for result in [suspend, resume, close] {
        assert!(matches!(result, Err(WebAudioError::InvalidState(_))));
    }
    // The graph keeps working on the control side; nothing piles up.
    let mut osc = OscillatorNode::default();
    osc.start(0.0).unwrap();
    app.world_mut().commands().spawn(osc).connect(dest);
    app.update();
    app.update();
    assert_eq!(app.world().resource::<AudioContext>().command_backlog(), 0);
}

#[test]
fn suspend_policy_follows_pause_and_focus() {
    use AudioContextState::*;
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(SR, 1),
        GameAudioPlugin::default(),
    ));
    app.insert_resource(SuspendPolicy {
        when_paused: true,
        on_focus_lost: true,
    });
    app.update();
    let state = |app: &App| app.world().resource::<AudioContext>().state();
    app.world_mut().resource_mut::<Time<Virtual>>().pause();
    app.update(); // requested in Last
    app.update(); // applied in First
    assert_eq!(state(&app), Suspended);
    app.world_mut().resource_mut::<Time<Virtual>>().unpause();
    app.update();
    app.update();
    assert_eq!(state(&app), Running);
    app.world_mut().resource_mut::<WindowFocusState>().0 = false;
    app.update();
    app.update();
    assert_eq!(state(&app), Suspended);
    app.world_mut().resource_mut::<WindowFocusState>().0 = true;
    app.update();
    app.update();
    assert_eq!(state(&app), Running);
    // A suspension the game made itself is not undone by the policy.
    context(&mut app).suspend().unwrap();
    app.update();
    app.update();
    assert_eq!(state(&app), Suspended);
}
