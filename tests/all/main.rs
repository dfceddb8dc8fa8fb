//! One test binary (each file in tests/ would link Bevy again).

mod app;
mod oscillator;
mod support;
