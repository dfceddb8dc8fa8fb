//! What every windowed example shares: the audio plugin they open the device with, and the
//! report and smoke mode that keep them from rotting.
//!
//! - `WEBAUDIO_BUFFER_FRAMES=1024` asks the device for that buffer size (default: the
//!   `Balanced` latency hint).
//! - `WEBAUDIO_SMOKE_SECONDS=3` makes the example exit with status 0 after that much wall
//!   time, counted from its first frame. CI runs every example so (`scripts/examples.sh`).
//! - On exit (smoke or a closed window) one line reports the backend, how much audio the
//!   device took in how much wall time, the xruns and the render load:
//!   `audio report: backend=Cpal rate=48000 buffer=1024 played_s=3.001 wall_s=3.010 xruns=0 load_avg=0.031 load_peak=0.094`.
//!
//! Examples include it with `#[path = "support/mod.rs"] mod support;` (a folder without a
//! `main.rs` is not an example of its own).

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

/// `WebAudioPlugin` on the default device, with the buffer size from `WEBAUDIO_BUFFER_FRAMES`
/// when it is set.
pub fn audio_plugin() -> WebAudioPlugin {
    let mut config = AudioOutputConfig::default();
    if let Some(frames) = env_number::<u32>("WEBAUDIO_BUFFER_FRAMES") {
        config.latency = LatencyHint::Frames(frames);
    }
    WebAudioPlugin {
        backend: Backend::Cpal(config),
        render_hooks: None,
    }
}

/// The exit report, and the smoke timer when `WEBAUDIO_SMOKE_SECONDS` is set.
pub struct ExampleSupportPlugin;

impl Plugin for ExampleSupportPlugin {
    fn build(&self, app: &mut App) {
        let smoke = env_number::<f64>("WEBAUDIO_SMOKE_SECONDS").map(Duration::from_secs_f64);
        app.insert_resource(Run { smoke, first: None })
            .add_systems(Update, (mark_first_frame, end_smoke_run).chain())
            .add_systems(Last, report_on_exit);
    }
}

/// When the first frame ran, with the device's frame count then.
#[derive(Resource)]
struct Run {
    smoke: Option<Duration>,
    first: Option<(Instant, u64)>,
}

fn mark_first_frame(mut run: ResMut<Run>, context: Res<AudioContext>) {
    if run.first.is_none() {
        run.first = Some((Instant::now(), context.device_frames()));
    }
}

fn end_smoke_run(run: Res<Run>, mut exit: MessageWriter<AppExit>) {
    let (Some(limit), Some((start, _))) = (run.smoke, run.first) else {
        return;
    };
    if start.elapsed() >= limit {
        exit.write(AppExit::Success);
    }
}

fn report_on_exit(run: Res<Run>, context: Res<AudioContext>, mut exits: MessageReader<AppExit>) {
    if exits.read().next().is_none() {
        return;
    }
    let (wall, frames) = run.first.map_or((0.0, 0), |(start, frames)| {
        (
            start.elapsed().as_secs_f64(),
            context.device_frames().saturating_sub(frames),
        )
    });
    let (_, load_avg, load_peak) = context.render_load();
    println!(
        "audio report: backend={:?} rate={} buffer={} played_s={:.3} wall_s={wall:.3} xruns={} \
         load_avg={load_avg:.3} load_peak={load_peak:.3}",
        context.backend(),
        context.sample_rate(),
        context.buffer_frames(),
        frames as f64 / f64::from(context.sample_rate()),
        context.xruns(),
    );
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    let parsed = value.parse().ok();
    if parsed.is_none() {
        eprintln!("{name}={value} is not a number; ignored");
    }
    parsed
}
