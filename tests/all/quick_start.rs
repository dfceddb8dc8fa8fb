//! The README's quick start (`examples/quick_start.rs`, included here as it is) runs offline and
//! the file it plays reaches the output sample for sample; the README shows that file verbatim.

use bevy::asset::{AssetPlugin, LoadState};
use bevy::prelude::*;
use bevy_webaudio::prelude::*;

/// The example's code, pasted in (its `main` opens a window and is not called).
#[allow(dead_code, clippy::module_inception)]
mod quick_start {
    include!("../../examples/quick_start.rs");

    /// The example's startup system, added to a test app.
    pub(super) fn add_to(app: &mut App) {
        app.add_systems(Startup, play_music);
    }
}

/// The rate of `assets/sounds/chord.ogg`, so the buffer plays without resampling.
const RATE: u32 = 44_100;

#[test]
fn the_readme_shows_the_quick_start_example_verbatim() {
    let readme = include_str!("../../README.md");
    let example = include_str!("../../examples/quick_start.rs");
    assert!(
        readme.contains(&format!("```rust,no_run\n{example}```")),
        "README.md's quick start differs from examples/quick_start.rs"
    );
    assert!(
        example.lines().count() <= 25,
        "the quick start is over 25 lines"
    );
}

#[test]
fn the_quick_start_plays_its_file_sample_for_sample() {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        AssetPlugin {
            file_path: concat!(env!("CARGO_MANIFEST_DIR"), "/assets").into(),
            ..default()
        },
        WebAudioPlugin::offline(RATE, 2),
        GameAudioPlugin::default(),
    ));
    quick_start::add_to(&mut app);
    let handle = wait_until_loaded(&mut app);
    app.update();
    let frames = RATE as usize;
    let out = app.render(frames).expect("an open context renders");
    let buffers = app.world().resource::<Assets<AudioBuffer>>();
    let buffer = buffers.get(&handle).expect("loaded");
    assert_eq!(buffer.sample_rate(), RATE as f32);
    for (channel, rendered) in out.iter().enumerate() {
        let file = buffer.channel_data(channel).expect("a stereo file");
        let start = first_sound(rendered).expect("the file is heard") - first_sound(file).unwrap();
        let worst = rendered[start..]
            .iter()
            .zip(file)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-6,
            "channel {channel}: worst difference {worst} against the file from frame {start}"
        );
        assert!(
            frames - start > RATE as usize / 2,
            "plays for half a second at least"
        );
    }
}

/// Updates until the one `AudioBuffer` the quick start loads is ready; returns its handle.
fn wait_until_loaded(app: &mut App) -> Handle<AudioBuffer> {
    for _ in 0..10_000 {
        app.update();
        let world = app.world_mut();
        let handle = world
            .query::<&PlaySound>()
            .iter(world)
            .next()
            .map(|sound| sound.buffer.clone());
        if let Some(handle) = handle {
            match world.resource::<AssetServer>().load_state(&handle) {
                LoadState::Loaded => return handle,
                LoadState::Failed(error) => panic!("chord.ogg failed to load: {error}"),
                _ => {}
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("chord.ogg did not load in 10 s");
}

fn first_sound(samples: &[f32]) -> Option<usize> {
    samples.iter().position(|s| s.abs() > 1e-4)
}
