//! Shared helpers: an offline app, signal measurements (FFT, zero crossings).

use bevy::prelude::*;
use bevy_webaudio::prelude::*;
use realfft::RealFftPlanner;

/// Sample rate used by most tests.
pub const SR: u32 = 48_000;

/// An offline app with MinimalPlugins-free scheduling (no wall-clock pacing needed).
pub fn offline_app(channels: u16) -> App {
    offline_app_at(SR, channels)
}

/// An offline app at a given rate.
pub fn offline_app_at(sample_rate: u32, channels: u16) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(sample_rate, channels),
    ));
    app.update();
    app
}

/// The destination entity.
pub fn destination(app: &App) -> Entity {
    app.world().resource::<AudioContext>().destination()
}

/// Spawns `bundle` connected to the destination and renders `frames` frames (mono app).
pub fn render_node<B: Bundle>(bundle: B, frames: usize) -> Vec<f32> {
    let mut app = offline_app(1);
    let dest = destination(&app);
    app.world_mut().commands().spawn(bundle).connect(dest);
    app.update();
    app.render(frames).unwrap().remove(0)
}

/// Magnitude spectrum (Hann window), bins of sr / n.
pub fn spectrum(signal: &[f32]) -> Vec<f64> {
    let n = signal.len();
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n);
    let mut input: Vec<f64> = signal
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos();
            f64::from(x) * w
        })
        .collect();
    let mut out = fft.make_output_vec();
    fft.process(&mut input, &mut out).unwrap();
    out.iter().map(|c| c.norm()).collect()
}

/// The frequency of the strongest bin, refined by parabolic interpolation.
pub fn peak_frequency(signal: &[f32], sample_rate: f64) -> f64 {
    let mags = spectrum(signal);
    let (k, _) =
        mags.iter().enumerate().skip(1).fold(
            (0, 0.0),
            |(bk, bm), (k, &m)| if m > bm { (k, m) } else { (bk, bm) },
        );
    let (a, b, c) = (mags[k - 1].ln(), mags[k].ln(), mags[k + 1].ln());
    let offset = 0.5 * (a - c) / (a - 2.0 * b + c);
    (k as f64 + offset) * sample_rate / signal.len() as f64
}

/// Frequency from rising zero crossings (linearly interpolated).
pub fn zero_crossing_frequency(signal: &[f32], sample_rate: f64) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..signal.len() {
        let (a, b) = (signal[i - 1], signal[i]);
        if a < 0.0 && b >= 0.0 {
            crossings.push(i as f64 - 1.0 + f64::from(-a / (b - a)));
        }
    }
    let n = crossings.len() - 1;
    n as f64 * sample_rate / (crossings[n] - crossings[0])
}

/// Peak absolute value.
pub fn peak(signal: &[f32]) -> f32 {
    signal.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Every message of type `M` still held by the app (the last two updates' worth).
pub fn messages<M: Message + Clone>(app: &App) -> Vec<M> {
    let messages = app.world().resource::<Messages<M>>();
    let mut cursor = messages.get_cursor();
    cursor.read(messages).cloned().collect()
}
