//! One test binary (each file in tests/ would link Bevy again).

mod alloc_counter;
mod app;
mod automation;
mod delay;
mod device;
mod microphone;
mod mixing;
mod oscillator;
mod realtime;
mod support;
