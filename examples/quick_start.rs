use bevy::prelude::*;
use bevy_webaudio::prelude::*;

fn main() {
    App::new()
        .add_plugins((
            DefaultPlugins,
            WebAudioPlugin::default(),
            GameAudioPlugin::default(),
        ))
        .add_systems(Startup, play_music)
        .run();
}

/// Loads a file and loops it on the music bus (buses lead to the speakers).
fn play_music(mut commands: Commands, assets: Res<AssetServer>) {
    commands
        .play_sound(assets.load("sounds/chord.ogg"))
        .bus(MixBus::MUSIC)
        .looping();
}
