//! One test binary (each file in tests/ would link Bevy again).

mod alloc_counter;
mod analyser;
mod app;
mod asset_loader;
mod asset_resample;
mod audio_buffer_source;
mod audio_worklet;
mod automation;
mod bad_input;
mod bevy_audio;
mod biquad_filter;
mod context_state;
mod convolver;
mod delay;
#[cfg(feature = "cpal")]
mod device;
mod device_layer;
mod doppler;
mod dynamics_compressor;
mod faults;
mod game;
mod game_api;
mod hrtf;
mod iir_filter;
#[cfg(feature = "inspector_tests")]
mod inspector;
mod media_element;
mod microphone;
mod mixing;
mod oscillator;
mod panner;
mod properties;
mod quick_start;
mod realtime;
mod realtime_more_nodes;
mod realtime_nodes;
mod reference;
mod reflect;
mod reflected_params;
mod reliability_more;
#[cfg(feature = "scene")]
mod scene;
mod spatial;
mod splitter_merger;
mod support;
mod wave_shaper;
