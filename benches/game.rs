//! One-shot throughput: how long the frame that fires N one-shots takes (spawn, admission to
//! the bus, node build, sync to the render thread), against the same N sources spawned as a
//! raw graph (an `AudioBufferSourceNode` → `GainNode` → destination, no game layer) and an
//! idle frame, all measured in the same run.
//!
//! ```text
//! cargo bench --bench game
//! ```
//!
//! Each case: median of [`ROUNDS`] rounds; between rounds the sounds play out (480 frames) and
//! are cleaned up, so every round starts from the same baseline. Without `--bench` (as
//! `cargo test --all-targets` runs it) one small round runs and is checked.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

const SR: u32 = 48_000;
const ROUNDS: usize = 15;

fn app() -> (App, Handle<AudioBuffer>) {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        TransformPlugin,
        WebAudioPlugin::offline(SR, 1),
        GameAudioPlugin::default(),
    ));
    app.update();
    let buffer = AudioBuffer::from_samples(vec![vec![0.5; 480]], SR as f32).unwrap();
    let click = app
        .world_mut()
        .resource_mut::<Assets<AudioBuffer>>()
        .add(buffer);
    app.render(128).unwrap();
    app.update();
    (app, click)
}

/// Fires `n` sounds with `fire` (given the destination), times that frame, then plays them out and cleans up.
fn round(app: &mut App, n: usize, fire: &impl Fn(&mut Commands, Entity)) -> Duration {
    let destination = app.world().resource::<AudioContext>().destination();
    let started = Instant::now();
    {
        let mut commands = app.world_mut().commands();
        for _ in 0..n {
            fire(&mut commands, destination);
        }
    }
    app.update();
    let frame = started.elapsed();
    app.update();
    let out = app.render(1024).unwrap().remove(0);
    assert!(out.iter().all(|v| v.is_finite()));
    for _ in 0..3 {
        app.update();
        app.render(128).unwrap();
    }
    app.update();
    frame
}

/// Median frame of `rounds` rounds (after one warm-up round), in ms.
fn measure(n: usize, rounds: usize, fire: impl Fn(&mut Commands, Entity)) -> f64 {
    let (mut app, _) = app();
    let baseline = app.world().resource::<AudioContext>().node_count();
    round(&mut app, n, &fire);
    let mut frames: Vec<f64> = (0..rounds)
        .map(|_| round(&mut app, n, &fire).as_secs_f64() * 1e3)
        .collect();
    assert_eq!(
        app.world().resource::<AudioContext>().node_count(),
        baseline,
        "every round cleaned up"
    );
    frames.sort_by(f64::total_cmp);
    frames[frames.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (sizes, rounds): (&[usize], usize) = if bench {
        (&[100, 1000, 5000], ROUNDS)
    } else {
        (&[10], 1)
    };
    let (_, click) = app();
    let idle = measure(0, rounds, |_, _| {});
    println!("one-shot frame (median of {rounds}; idle frame {idle:.3} ms):");
    for &n in sizes {
        let shots = {
            let click = click.clone();
            measure(n, rounds, move |c, _| {
                c.play_sound(click.clone()).volume(0.001);
            })
        };
        let raw = {
            let click = click.clone();
            measure(n, rounds, move |c, destination| {
                let mut source = AudioBufferSourceNode::new(click.clone());
                source.start(0.0).unwrap();
                let source = c.spawn((source, DespawnOnEnded)).id();
                let gain = c
                    .spawn((GainNode::new(0.001), ChildOf(source)))
                    .connect(destination)
                    .id();
                c.entity(source).connect(gain);
            })
        };
        println!(
            "  {n:5} sounds: play_sound {shots:8.3} ms ({:6.0} /ms)   raw graph {raw:8.3} ms   \
             ratio {:.2}",
            n as f64 / shots,
            shots / raw
        );
    }
    if !bench {
        println!("game bench: smoke pass ok (run with `cargo bench --bench game` for figures)");
    }
}
