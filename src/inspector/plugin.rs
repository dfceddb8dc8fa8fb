//! [`WebAudioInspectorPlugin`]: the inspector in a bevy_egui window, toggled with a key
//! (F2 by default). While closed, its only per-frame work is the run condition's flag check.

use bevy::input::ButtonInput;
use bevy::input::keyboard::KeyCode;
use bevy::prelude::*;
use bevy_egui::{EguiContext, EguiPlugin, EguiPrimaryContextPass, PrimaryEguiContext};

use super::{InspectorView, inspector_frame};

/// Adds the inspector window (and `EguiPlugin` if the app has none).
#[derive(Clone, Debug)]
pub struct WebAudioInspectorPlugin {
    /// The key that opens and closes the window.
    pub toggle_key: KeyCode,
    /// Whether the window starts open.
    pub open: bool,
}

impl Default for WebAudioInspectorPlugin {
    fn default() -> Self {
        Self {
            toggle_key: KeyCode::F2,
            open: false,
        }
    }
}

/// The inspector's state: open or not, the key, and the view (positions, selection).
#[derive(Resource)]
pub struct InspectorState {
    /// Whether the window shows.
    pub open: bool,
    /// The toggle key.
    pub toggle_key: KeyCode,
    view: InspectorView,
}

impl InspectorState {
    /// Selects a node entity (its details show).
    pub fn select(&mut self, entity: Option<Entity>) {
        self.view.graph.selected = entity;
    }
}

/// The node entity selected in the inspector (for a game's own tools to follow).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq, Reflect)]
#[reflect(Resource)]
pub struct InspectorSelection(pub Option<Entity>);

impl Plugin for WebAudioInspectorPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.insert_resource(InspectorState {
            open: self.open,
            toggle_key: self.toggle_key,
            view: InspectorView::default(),
        })
        .init_resource::<InspectorSelection>()
        .register_type::<InspectorSelection>()
        .add_systems(Update, toggle_inspector)
        .add_systems(
            EguiPrimaryContextPass,
            inspector_window.run_if(inspector_open),
        );
    }
}

/// The run condition: the window is open.
pub fn inspector_open(state: Res<InspectorState>) -> bool {
    state.open
}

fn toggle_inspector(keys: Option<Res<ButtonInput<KeyCode>>>, mut state: ResMut<InspectorState>) {
    if keys.is_some_and(|k| k.just_pressed(state.toggle_key)) {
        state.open = !state.open;
    }
}

fn inspector_window(world: &mut World) {
    let mut contexts = world.query_filtered::<&mut EguiContext, With<PrimaryEguiContext>>();
    let Ok(mut context) = contexts.single_mut(world) else {
        return;
    };
    let ctx = context.get_mut().clone();
    world.resource_scope(|world, mut state: Mut<InspectorState>| {
        let state = &mut *state;
        inspector_frame(world, &ctx, &mut state.view, &mut state.open);
        let selected = state.view.selected();
        world
            .resource_mut::<InspectorSelection>()
            .set_if_neq(InspectorSelection(selected));
    });
}
