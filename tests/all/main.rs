//! One test binary (each file in tests/ would link Bevy again).

mod app;
mod automation;
mod delay;
mod mixing;
mod oscillator;
mod support;
