//! Bad input everywhere: every public constructor and setter of the node components, the
//! `AudioParam` methods and the `AudioBuffer` constructors fed the spec's bad inputs (NaN,
//! ±infinity, negative, zero, out of range, empty, mismatched, too many). Each test is one row
//! of the "Bad input" table in DESIGN.md: it gets the spec's exception (as a `WebAudioError`
//! variant; WebIDL's `TypeError` for a non-finite number is `Range`) or the spec's value, never
//! a panic, a silent drop or a NaN.

use bevy::prelude::*;
use bevy::reflect::structs::GetField;
use bevy_webaudio::asset::export::wav_bytes;
use bevy_webaudio::engine::render::bus::AudioBus;
use bevy_webaudio::microphone::MediaStream;
use bevy_webaudio::node::AudioNode;
use bevy_webaudio::node::ProcessContext;
use bevy_webaudio::node::audio_worklet::{
    AudioParamDescriptor, AudioWorkletNode, AudioWorkletProcessor, WorkletParams, WorkletScope,
};
use bevy_webaudio::node::convolver::{GAIN_CALIBRATION, normalization_scale};
use bevy_webaudio::node::media_element_audio_source::MediaElementAudioSourceNode;
use bevy_webaudio::node::media_stream_audio_source::{SourceLatency, sanitize_latency};
use bevy_webaudio::prelude::*;

use crate::asset_loader::{signal, temp_dir};
use crate::support::*;

/// Asserts that `$expr` is `Err(WebAudioError::$variant(_))`.
macro_rules! assert_err {
    ($expr:expr, $variant:ident) => {{
        let result = $expr;
        assert!(
            matches!(result, Err(WebAudioError::$variant(_))),
            "expected {}, got {:?}",
            stringify!($variant),
            result.as_ref().err()
        );
    }};
}

/// A worklet processor that does nothing.
struct Quiet;

impl AudioWorkletProcessor for Quiet {
    fn process(
        &mut self,
        _: &[AudioBus],
        _: &mut [AudioBus],
        _: &WorkletParams,
        _: &ProcessContext,
    ) -> bool {
        false
    }
}

#[test]
fn param_set_value_nan() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value(f32::NAN), Range);
}

#[test]
fn param_set_value_infinity() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value(f32::INFINITY), Range);
}

#[test]
fn param_set_value_at_time_negative_time() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value_at_time(1.0, -1.0), Range);
}

#[test]
fn param_set_value_at_time_nan_time() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value_at_time(1.0, f64::NAN), Range);
}

#[test]
fn param_linear_ramp_negative_infinity_value() {
    let mut p = GainNode::default().gain;
    assert_err!(
        p.linear_ramp_to_value_at_time(f32::NEG_INFINITY, 1.0),
        Range
    );
}

#[test]
fn param_linear_ramp_negative_end_time() {
    let mut p = GainNode::default().gain;
    assert_err!(p.linear_ramp_to_value_at_time(1.0, -0.5), Range);
}

#[test]
fn param_exponential_ramp_to_zero() {
    let mut p = GainNode::default().gain;
    assert_err!(p.exponential_ramp_to_value_at_time(0.0, 1.0), Range);
}

#[test]
fn param_exponential_ramp_to_negative_zero() {
    let mut p = GainNode::default().gain;
    assert_err!(p.exponential_ramp_to_value_at_time(-0.0, 1.0), Range);
}

#[test]
fn param_exponential_ramp_infinite_end_time() {
    let mut p = GainNode::default().gain;
    assert_err!(
        p.exponential_ramp_to_value_at_time(0.5, f64::INFINITY),
        Range
    );
}

#[test]
fn param_set_target_negative_time_constant() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_target_at_time(0.0, 0.0, -1.0), Range);
}

#[test]
fn param_set_target_nan_target() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_target_at_time(f32::NAN, 0.0, 0.1), Range);
}

#[test]
fn param_set_target_zero_time_constant_is_accepted() {
    let mut p = GainNode::default().gain;
    assert!(p.set_target_at_time(0.5, 0.0, 0.0).is_ok());
}

#[test]
fn param_value_curve_empty() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value_curve_at_time(&[], 0.0, 1.0), InvalidState);
}

#[test]
fn param_value_curve_one_value() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value_curve_at_time(&[1.0], 0.0, 1.0), InvalidState);
}

#[test]
fn param_value_curve_nan_value() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value_curve_at_time(&[0.0, f32::NAN], 0.0, 1.0), Range);
}

#[test]
fn param_value_curve_zero_duration() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value_curve_at_time(&[0.0, 1.0], 0.0, 0.0), Range);
}

#[test]
fn param_value_curve_negative_duration() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value_curve_at_time(&[0.0, 1.0], 0.0, -1.0), Range);
}

#[test]
fn param_value_curve_infinite_duration() {
    let mut p = GainNode::default().gain;
    assert_err!(
        p.set_value_curve_at_time(&[0.0, 1.0], 0.0, f64::INFINITY),
        Range
    );
}

#[test]
fn param_value_curve_negative_start() {
    let mut p = GainNode::default().gain;
    assert_err!(p.set_value_curve_at_time(&[0.0, 1.0], -1.0, 1.0), Range);
}

#[test]
fn param_event_inside_value_curve() {
    let mut p = GainNode::default().gain;
    p.set_value_curve_at_time(&[0.0, 1.0], 1.0, 2.0).unwrap();
    assert_err!(p.set_value_at_time(0.5, 2.0), NotSupported);
}

#[test]
fn param_value_curve_over_an_event() {
    let mut p = GainNode::default().gain;
    p.set_value_at_time(0.5, 2.0).unwrap();
    assert_err!(
        p.set_value_curve_at_time(&[0.0, 1.0], 1.0, 2.0),
        NotSupported
    );
}

#[test]
fn param_cancel_scheduled_values_negative() {
    let mut p = GainNode::default().gain;
    assert_err!(p.cancel_scheduled_values(-1.0), Range);
}

#[test]
fn param_cancel_and_hold_infinite() {
    let mut p = GainNode::default().gain;
    assert_err!(p.cancel_and_hold_at_time(f64::INFINITY), Range);
}

#[test]
fn param_automation_rate_of_a_fixed_param() {
    let mut source = AudioBufferSourceNode::default();
    assert_err!(
        source
            .playback_rate
            .set_automation_rate(AutomationRate::ARate),
        InvalidState
    );
}

#[test]
fn param_try_with_value_nan() {
    assert_err!(
        AudioParam::try_with_value(GainNode::default().gain.descriptor(), f32::NAN),
        Range
    );
}

#[test]
fn param_with_value_nan_is_the_default() {
    let p = AudioParam::with_value(GainNode::default().gain.descriptor(), f32::NAN);
    assert_eq!(p.value(), 1.0);
}

#[test]
fn param_reflected_nan_value_renders_the_default() {
    let mut node = ConstantSourceNode::default();
    *node.offset.get_field_mut::<f32>("value").unwrap() = f32::NAN;
    node.start(0.0).unwrap();
    let out = render_node(node, 256);
    assert!(out.iter().all(|&v| v == 1.0), "{:?}", &out[..4]);
}

#[test]
fn panner_set_position_nan_changes_nothing() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_position(1.0, f32::NAN, 2.0), Range);
    assert_eq!(panner.position_x.value(), 0.0);
}

#[test]
fn listener_set_orientation_infinity_changes_nothing() {
    let mut listener = AudioListener::default();
    assert_err!(
        listener.set_orientation(1.0, 0.0, 0.0, 0.0, 1.0, f32::INFINITY),
        Range
    );
    assert_eq!(listener.forward_x.value(), 0.0);
}

#[test]
fn listener_set_position_nan() {
    let mut listener = AudioListener::default();
    assert_err!(listener.set_position(f32::NAN, 0.0, 0.0), Range);
}

#[test]
fn start_negative_when() {
    let mut osc = OscillatorNode::default();
    assert_err!(osc.start(-1.0), Range);
}

#[test]
fn start_nan_when() {
    let mut osc = OscillatorNode::default();
    assert_err!(osc.start(f64::NAN), Range);
}

#[test]
fn start_twice() {
    let mut osc = OscillatorNode::default();
    osc.start(0.0).unwrap();
    assert_err!(osc.start(1.0), InvalidState);
}

#[test]
fn start_twice_with_bad_when_is_invalid_state() {
    let mut osc = OscillatorNode::default();
    osc.start(0.0).unwrap();
    assert_err!(osc.start(-1.0), InvalidState);
}

#[test]
fn stop_before_start() {
    let mut osc = OscillatorNode::default();
    assert_err!(osc.stop(1.0), InvalidState);
}

#[test]
fn stop_before_start_with_bad_when_is_invalid_state() {
    let mut osc = OscillatorNode::default();
    assert_err!(osc.stop(-1.0), InvalidState);
}

#[test]
fn stop_infinite_when() {
    let mut osc = OscillatorNode::default();
    osc.start(0.0).unwrap();
    assert_err!(osc.stop(f64::INFINITY), Range);
}

#[test]
fn buffer_source_start_negative_offset() {
    let mut source = AudioBufferSourceNode::default();
    assert_err!(source.start_with(0.0, -1.0, None), Range);
}

#[test]
fn buffer_source_start_negative_duration() {
    let mut source = AudioBufferSourceNode::default();
    assert_err!(source.start_with(0.0, 0.0, Some(-1.0)), Range);
}

#[test]
fn buffer_source_start_nan_duration() {
    let mut source = AudioBufferSourceNode::default();
    assert_err!(source.start_with(0.0, 0.0, Some(f64::NAN)), Range);
}

#[test]
fn buffer_source_start_twice_with_bad_offset() {
    let mut source = AudioBufferSourceNode::default();
    source.start_with(0.0, 0.0, None).unwrap();
    assert_err!(source.start_with(0.0, -1.0, None), InvalidState);
}

#[test]
fn buffer_source_set_buffer_twice() {
    let mut source = AudioBufferSourceNode::new(Handle::default());
    assert_err!(source.set_buffer(Handle::default()), InvalidState);
}

#[test]
fn buffer_source_loop_start_nan() {
    let mut source = AudioBufferSourceNode::default();
    assert_err!(source.set_loop_start(f64::NAN), Range);
}

#[test]
fn buffer_source_loop_end_infinity() {
    let mut source = AudioBufferSourceNode::default();
    assert_err!(source.set_loop_end(f64::INFINITY), Range);
}

#[test]
fn buffer_source_nan_loop_field_counts_as_zero() {
    let mut app = offline_app(1);
    let buffer = app
        .world_mut()
        .resource_mut::<Assets<AudioBuffer>>()
        .add(AudioBuffer::from_samples(vec![vec![0.25, 0.5, 0.75, 1.0]], 48_000.0).unwrap());
    let mut source = AudioBufferSourceNode::new(buffer);
    source.looping = true;
    source.loop_start = f64::NAN;
    source.loop_end = 2.0 / 48_000.0;
    source.start(0.0).unwrap();
    let dest = destination(&app);
    app.world_mut().commands().spawn(source).connect(dest);
    app.update();
    let out = app.render(256).unwrap().remove(0);
    for (i, &v) in out.iter().enumerate() {
        assert_eq!(v, [0.25, 0.5][i % 2], "frame {i}");
    }
}

#[test]
fn analyser_fft_size_zero() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_fft_size(0), IndexSize);
}

#[test]
fn analyser_fft_size_not_power_of_two() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_fft_size(1000), IndexSize);
}

#[test]
fn analyser_fft_size_too_small() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_fft_size(16), IndexSize);
}

#[test]
fn analyser_fft_size_too_large() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_fft_size(65_536), IndexSize);
}

#[test]
fn analyser_min_decibels_equal_to_max() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_min_decibels(-30.0), IndexSize);
}

#[test]
fn analyser_min_decibels_negative_infinity() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_min_decibels(f64::NEG_INFINITY), IndexSize);
}

#[test]
fn analyser_max_decibels_infinity() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_max_decibels(f64::INFINITY), IndexSize);
}

#[test]
fn analyser_max_decibels_nan() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_max_decibels(f64::NAN), IndexSize);
}

#[test]
fn analyser_max_decibels_below_min() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_max_decibels(-120.0), IndexSize);
}

#[test]
fn analyser_smoothing_negative() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_smoothing_time_constant(-0.1), IndexSize);
}

#[test]
fn analyser_smoothing_above_one() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_smoothing_time_constant(1.1), IndexSize);
}

#[test]
fn analyser_smoothing_infinity() {
    let mut a = AnalyserNode::default();
    assert_err!(a.set_smoothing_time_constant(f64::INFINITY), IndexSize);
}

#[test]
fn analyser_new_min_above_max() {
    assert_err!(AnalyserNode::new(2048, -20.0, -30.0, 0.8), IndexSize);
}

#[test]
fn analyser_new_infinite_min() {
    assert_err!(
        AnalyserNode::new(2048, f64::NEG_INFINITY, -30.0, 0.8),
        IndexSize
    );
}

#[test]
fn buffer_zero_channels() {
    assert_err!(AudioBuffer::new(0, 10, 48_000.0), NotSupported);
}

#[test]
fn buffer_33_channels() {
    assert_err!(AudioBuffer::new(33, 10, 48_000.0), NotSupported);
}

#[test]
fn buffer_zero_length() {
    assert_err!(AudioBuffer::new(1, 0, 48_000.0), NotSupported);
}

#[test]
fn buffer_rate_below_range() {
    assert_err!(AudioBuffer::new(1, 10, 2_999.0), NotSupported);
}

#[test]
fn buffer_rate_infinite() {
    assert_err!(AudioBuffer::new(1, 10, f32::INFINITY), NotSupported);
}

#[test]
fn buffer_rate_negative() {
    assert_err!(AudioBuffer::new(1, 10, -48_000.0), NotSupported);
}

#[test]
fn buffer_from_no_channels() {
    assert_err!(AudioBuffer::from_samples(vec![], 48_000.0), NotSupported);
}

#[test]
fn buffer_from_empty_channel() {
    assert_err!(
        AudioBuffer::from_samples(vec![vec![]], 48_000.0),
        NotSupported
    );
}

#[test]
fn buffer_from_mismatched_lengths() {
    assert_err!(
        AudioBuffer::from_samples(vec![vec![0.0; 3], vec![0.0; 4]], 48_000.0),
        NotSupported
    );
}

#[test]
fn buffer_from_nan_sample() {
    assert_err!(
        AudioBuffer::from_samples(vec![vec![0.0, f32::NAN]], 48_000.0),
        Range
    );
}

#[test]
fn buffer_from_infinite_sample() {
    assert_err!(
        AudioBuffer::from_samples(vec![vec![0.0], vec![f32::NEG_INFINITY]], 48_000.0),
        Range
    );
}

#[test]
fn buffer_get_channel_data_out_of_range() {
    assert_err!(
        AudioBuffer::new(1, 4, 48_000.0)
            .unwrap()
            .get_channel_data(1)
            .map(<[f32]>::len),
        IndexSize
    );
}

#[test]
fn buffer_resampled_to_zero_rate() {
    assert_err!(
        AudioBuffer::new(1, 4, 48_000.0).unwrap().resampled(0.0),
        NotSupported
    );
}

#[test]
fn splitter_zero_outputs() {
    assert_err!(ChannelSplitterNode::new(0), IndexSize);
}

#[test]
fn splitter_33_outputs() {
    assert_err!(ChannelSplitterNode::new(33), IndexSize);
}

#[test]
fn merger_zero_inputs() {
    assert_err!(ChannelMergerNode::new(0), IndexSize);
}

#[test]
fn merger_33_inputs() {
    assert_err!(ChannelMergerNode::new(33), IndexSize);
}

#[test]
fn channel_config_zero_count() {
    assert_err!(
        ChannelConfig::new(0, ChannelCountMode::Max, ChannelInterpretation::Speakers).validate(),
        NotSupported
    );
}

#[test]
fn channel_config_33_count() {
    assert_err!(
        ChannelConfig::new(
            33,
            ChannelCountMode::Explicit,
            ChannelInterpretation::Discrete
        )
        .validate(),
        NotSupported
    );
}

#[test]
fn merger_channel_count_two() {
    assert_err!(
        ChannelMergerNode::validate_channels(&ChannelConfig::new(
            2,
            ChannelCountMode::Explicit,
            ChannelInterpretation::Speakers
        )),
        InvalidState
    );
}

#[test]
fn merger_mode_max() {
    assert_err!(
        ChannelMergerNode::validate_channels(&ChannelConfig::new(
            1,
            ChannelCountMode::Max,
            ChannelInterpretation::Speakers
        )),
        InvalidState
    );
}

#[test]
fn splitter_interpretation_speakers() {
    assert_err!(
        ChannelSplitterNode::validate_channels(&ChannelConfig::new(
            6,
            ChannelCountMode::Explicit,
            ChannelInterpretation::Speakers
        )),
        InvalidState
    );
}

#[test]
fn splitter_count_other_than_outputs() {
    assert_err!(
        <ChannelSplitterNode as AudioNode>::validate_channels(
            &ChannelSplitterNode::new(2).unwrap(),
            &ChannelConfig::new(
                4,
                ChannelCountMode::Explicit,
                ChannelInterpretation::Discrete
            )
        ),
        InvalidState
    );
}

#[test]
fn stereo_panner_three_channels() {
    assert_err!(
        StereoPannerNode::validate_channels(&ChannelConfig::new(
            3,
            ChannelCountMode::ClampedMax,
            ChannelInterpretation::Speakers
        )),
        NotSupported
    );
}

#[test]
fn panner_mode_max() {
    assert_err!(
        PannerNode::validate_channels(&ChannelConfig::new(
            2,
            ChannelCountMode::Max,
            ChannelInterpretation::Speakers
        )),
        NotSupported
    );
}

#[test]
fn compressor_three_channels() {
    assert_err!(
        DynamicsCompressorNode::validate_channels(&ChannelConfig::new(
            3,
            ChannelCountMode::Explicit,
            ChannelInterpretation::Speakers
        )),
        NotSupported
    );
}

#[test]
fn convolver_three_channels() {
    assert_err!(
        ConvolverNode::validate_channels(&ChannelConfig::new(
            3,
            ChannelCountMode::ClampedMax,
            ChannelInterpretation::Speakers
        )),
        NotSupported
    );
}

#[test]
fn convolver_mode_max() {
    assert_err!(
        ConvolverNode::validate_channels(&ChannelConfig::new(
            2,
            ChannelCountMode::Max,
            ChannelInterpretation::Speakers
        )),
        NotSupported
    );
}

#[test]
fn convolver_buffer_three_channels() {
    assert_err!(
        ConvolverNode::check_buffer(&AudioBuffer::new(3, 8, 48_000.0).unwrap(), 48_000.0),
        NotSupported
    );
}

#[test]
fn convolver_buffer_other_rate() {
    assert_err!(
        ConvolverNode::check_buffer(&AudioBuffer::new(1, 8, 44_100.0).unwrap(), 48_000.0),
        NotSupported
    );
}

#[test]
fn convolver_set_buffer_checked_unloaded() {
    assert_err!(
        ConvolverNode::default()
            .set_buffer_checked(
                Handle::default(),
                &Assets::<AudioBuffer>::default(),
                48_000.0
            )
            .map(|_| ()),
        InvalidState
    );
}

#[test]
fn convolver_silent_buffer_normalization_is_finite() {
    let silent = AudioBuffer::new(2, 256, 48_000.0).unwrap();
    let scale = normalization_scale(&silent);
    let expected = GAIN_CALIBRATION / 0.000125 * 44_100.0 / 48_000.0;
    assert!(
        (scale - expected).abs() < 1e-9 * expected,
        "{scale} vs {expected}"
    );
}

#[test]
fn delay_max_zero() {
    assert_err!(DelayNode::new(0.0), NotSupported);
}

#[test]
fn delay_max_negative() {
    assert_err!(DelayNode::new(-1.0), NotSupported);
}

#[test]
fn delay_max_three_minutes() {
    assert_err!(DelayNode::new(180.0), NotSupported);
}

#[test]
fn delay_max_infinite() {
    assert_err!(DelayNode::new(f64::INFINITY), NotSupported);
}

#[test]
fn delay_initial_delay_nan() {
    assert_err!(DelayNode::with_delay(1.0, f32::NAN), Range);
}

#[test]
fn delay_initial_delay_above_max_is_kept() {
    let d = DelayNode::with_delay(1.0, 5.0).unwrap();
    assert_eq!((d.delay_time.value(), d.delay_time.max_value()), (5.0, 1.0));
}

#[test]
fn iir_empty_feedforward() {
    assert_err!(IIRFilterNode::new(&[], &[1.0]), NotSupported);
}

#[test]
fn iir_empty_feedback() {
    assert_err!(IIRFilterNode::new(&[1.0], &[]), NotSupported);
}

#[test]
fn iir_21_feedforward() {
    assert_err!(IIRFilterNode::new(&[0.1; 21], &[1.0]), NotSupported);
}

#[test]
fn iir_21_feedback() {
    assert_err!(IIRFilterNode::new(&[1.0], &[1.0; 21]), NotSupported);
}

#[test]
fn iir_all_zero_feedforward() {
    assert_err!(IIRFilterNode::new(&[0.0, 0.0, 0.0], &[1.0]), InvalidState);
}

#[test]
fn iir_first_feedback_zero() {
    assert_err!(IIRFilterNode::new(&[1.0], &[0.0, 0.5]), InvalidState);
}

#[test]
fn iir_nan_feedforward() {
    assert_err!(IIRFilterNode::new(&[1.0, f64::NAN], &[1.0]), Range);
}

#[test]
fn iir_infinite_feedback() {
    assert_err!(IIRFilterNode::new(&[1.0], &[1.0, f64::INFINITY]), Range);
}

#[test]
fn iir_unstable_is_accepted() {
    assert!(IIRFilterNode::new(&[1.0], &[1.0, -2.0]).is_ok());
}

#[test]
fn iir_response_mismatched_lengths() {
    assert_err!(
        IIRFilterNode::default().get_frequency_response(
            48_000.0,
            &[1.0, 2.0, 3.0],
            &mut [0.0; 2],
            &mut [0.0; 3]
        ),
        InvalidAccess
    );
}

#[test]
fn iir_response_zero_rate() {
    assert_err!(
        IIRFilterNode::default().get_frequency_response(0.0, &[0.0], &mut [0.0], &mut [0.0]),
        NotSupported
    );
}

#[test]
fn iir_response_outside_nyquist_is_nan() {
    let (mut mag, mut phase) = ([0.0f32; 2], [0.0f32; 2]);
    IIRFilterNode::default()
        .get_frequency_response(48_000.0, &[-1.0, 30_000.0], &mut mag, &mut phase)
        .unwrap();
    assert!(mag.iter().chain(&phase).all(|v| v.is_nan()));
}

#[test]
fn biquad_response_mismatched_lengths() {
    assert_err!(
        BiquadFilterNode::default().get_frequency_response(
            48_000.0,
            &[100.0],
            &mut [0.0],
            &mut [0.0; 2]
        ),
        InvalidAccess
    );
}

#[test]
fn biquad_response_nan_rate() {
    assert_err!(
        BiquadFilterNode::default().get_frequency_response(
            f32::NAN,
            &[100.0],
            &mut [0.0],
            &mut [0.0]
        ),
        NotSupported
    );
}

#[test]
fn biquad_try_with_options_nan_q() {
    assert_err!(
        BiquadFilterNode::try_with_options(BiquadFilterType::Lowpass, 350.0, f32::NAN, 0.0),
        Range
    );
}

#[test]
fn biquad_with_options_infinite_frequency_is_the_default() {
    assert_eq!(
        BiquadFilterNode::with_options(BiquadFilterType::Lowpass, f32::INFINITY, 1.0, 0.0)
            .frequency
            .value(),
        350.0
    );
}

#[test]
fn shaper_empty_curve() {
    assert_err!(
        WaveShaperNode::new(Some(&[]), OverSampleType::None),
        InvalidState
    );
}

#[test]
fn shaper_one_value_curve() {
    assert_err!(
        WaveShaperNode::new(Some(&[1.0]), OverSampleType::None),
        InvalidState
    );
}

#[test]
fn shaper_nan_curve() {
    assert_err!(
        WaveShaperNode::new(Some(&[0.0, f32::NAN]), OverSampleType::X2),
        Range
    );
}

#[test]
fn shaper_infinite_curve_set() {
    assert_err!(
        WaveShaperNode::default()
            .set_curve(Some(&[f32::INFINITY, 0.0]))
            .map(|_| ()),
        Range
    );
}

#[test]
fn shaper_curve_set_twice() {
    let mut w = WaveShaperNode::new(Some(&[0.0, 1.0]), OverSampleType::None).unwrap();
    assert_err!(w.set_curve(Some(&[1.0, 0.0])).map(|_| ()), InvalidState);
}

#[test]
fn shaper_curve_after_null() {
    let mut w = WaveShaperNode::new(Some(&[0.0, 1.0]), OverSampleType::None).unwrap();
    w.set_curve(None).unwrap();
    assert_err!(w.set_curve(Some(&[1.0, 0.0])).map(|_| ()), InvalidState);
}

#[test]
fn oscillator_try_new_custom() {
    assert_err!(
        OscillatorNode::try_new(OscillatorType::Custom, 440.0),
        InvalidState
    );
}

#[test]
fn oscillator_try_new_nan_frequency() {
    assert_err!(
        OscillatorNode::try_new(OscillatorType::Sine, f32::NAN),
        Range
    );
}

#[test]
fn oscillator_new_custom_is_a_sine() {
    assert_eq!(
        OscillatorNode::new(OscillatorType::Custom, 440.0).oscillator_type(),
        OscillatorType::Sine
    );
}

#[test]
fn oscillator_new_nan_frequency_is_the_default() {
    assert_eq!(
        OscillatorNode::new(OscillatorType::Square, f32::NAN)
            .frequency
            .value(),
        440.0
    );
}

#[test]
fn oscillator_set_type_custom() {
    assert_err!(
        OscillatorNode::default()
            .set_type(OscillatorType::Custom)
            .map(|_| ()),
        InvalidState
    );
}

#[test]
fn oscillator_periodic_wave_infinite_frequency() {
    assert_err!(
        OscillatorNode::try_with_periodic_wave(
            PeriodicWave::new(None, None, false).unwrap(),
            f32::INFINITY
        ),
        Range
    );
}

#[test]
fn periodic_wave_lengths_differ() {
    assert_err!(
        PeriodicWave::new(Some(vec![0.0; 3]), Some(vec![0.0; 2]), false),
        IndexSize
    );
}

#[test]
fn periodic_wave_length_one() {
    assert_err!(
        PeriodicWave::new(Some(vec![0.0]), Some(vec![1.0]), false),
        IndexSize
    );
}

#[test]
fn periodic_wave_imag_only_length_one() {
    assert_err!(PeriodicWave::new(None, Some(vec![1.0]), false), IndexSize);
}

#[test]
fn periodic_wave_empty() {
    assert_err!(PeriodicWave::new(Some(vec![]), None, true), IndexSize);
}

#[test]
fn periodic_wave_nan() {
    assert_err!(
        PeriodicWave::new(Some(vec![0.0, 0.0]), Some(vec![0.0, f32::NAN]), false),
        Range
    );
}

#[test]
fn gain_try_new_nan() {
    assert_err!(GainNode::try_new(f32::NAN), Range);
}

#[test]
fn gain_new_nan_is_the_default() {
    assert_eq!(GainNode::new(f32::NAN).gain.value(), 1.0);
}

#[test]
fn gain_new_nan_renders_no_nan() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let gain = app
        .world_mut()
        .commands()
        .spawn(GainNode::new(f32::NAN))
        .connect(dest)
        .id();
    let mut one = ConstantSourceNode::default();
    one.start(0.0).unwrap();
    app.world_mut().commands().spawn(one).connect(gain);
    app.update();
    let out = app.render(256).unwrap().remove(0);
    assert!(out.iter().all(|&v| v == 1.0));
}

#[test]
fn constant_source_try_new_infinity() {
    assert_err!(ConstantSourceNode::try_new(f32::INFINITY), Range);
}

#[test]
fn stereo_panner_try_new_nan() {
    assert_err!(StereoPannerNode::try_new(f32::NAN), Range);
}

#[test]
fn stereo_panner_out_of_range_pan_is_kept() {
    let p = StereoPannerNode::new(2.0);
    assert_eq!((p.pan.value(), p.pan.max_value()), (2.0, 1.0));
}

#[test]
fn compressor_try_new_nan_ratio() {
    assert_err!(
        DynamicsCompressorNode::try_new(DynamicsCompressorOptions {
            ratio: f32::NAN,
            ..Default::default()
        }),
        Range
    );
}

#[test]
fn compressor_new_nan_threshold_is_the_default() {
    assert_eq!(
        DynamicsCompressorNode::new(DynamicsCompressorOptions {
            threshold: f32::NAN,
            ..Default::default()
        })
        .threshold
        .value(),
        -24.0
    );
}

#[test]
fn compressor_out_of_range_ratio_is_clamped() {
    let options = |ratio| DynamicsCompressorOptions {
        ratio,
        ..Default::default()
    };
    let (wild, max) = (
        DynamicsCompressorNode::new(options(100.0)),
        DynamicsCompressorNode::new(options(20.0)),
    );
    assert_eq!(wild.compression_curve(1.0), max.compression_curve(1.0));
}

#[test]
fn panner_ref_distance_negative() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_ref_distance(-1.0), Range);
}

#[test]
fn panner_ref_distance_nan() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_ref_distance(f64::NAN), Range);
}

#[test]
fn panner_ref_distance_zero_is_accepted() {
    let mut panner = PannerNode::default();
    assert!(panner.set_ref_distance(0.0).is_ok());
}

#[test]
fn panner_max_distance_zero() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_max_distance(0.0), Range);
}

#[test]
fn panner_max_distance_negative_infinity() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_max_distance(f64::NEG_INFINITY), Range);
}

#[test]
fn panner_rolloff_negative() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_rolloff_factor(-0.5), Range);
}

#[test]
fn panner_rolloff_infinite() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_rolloff_factor(f64::INFINITY), Range);
}

#[test]
fn panner_cone_inner_nan() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_cone_inner_angle(f64::NAN), Range);
}

#[test]
fn panner_cone_outer_infinite() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_cone_outer_angle(f64::INFINITY), Range);
}

#[test]
fn panner_cone_angle_outside_360_is_kept() {
    let mut panner = PannerNode::default();
    panner.set_cone_inner_angle(720.0).unwrap();
    assert_eq!(panner.cone_inner_angle(), 720.0);
}

#[test]
fn panner_cone_outer_gain_above_one() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_cone_outer_gain(1.5), InvalidState);
}

#[test]
fn panner_cone_outer_gain_negative() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_cone_outer_gain(-0.1), InvalidState);
}

#[test]
fn panner_cone_outer_gain_nan() {
    let mut panner = PannerNode::default();
    assert_err!(panner.set_cone_outer_gain(f64::NAN), InvalidState);
}

#[test]
fn panner_try_with_position_nan() {
    assert_err!(
        PannerNode::default().try_with_position(0.0, f32::NAN, 0.0),
        Range
    );
}

#[test]
fn panner_try_with_orientation_infinite() {
    assert_err!(
        PannerNode::default().try_with_orientation(1.0, 0.0, f32::NEG_INFINITY),
        Range
    );
}

#[test]
fn panner_with_position_nan_is_the_origin() {
    assert_eq!(
        PannerNode::default()
            .with_position(f32::NAN, 2.0, 3.0)
            .position_x
            .value(),
        0.0
    );
}

#[test]
fn worklet_no_inputs_no_outputs() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(w().inputs(0).outputs(0).build(), NotSupported);
}

#[test]
fn worklet_output_channel_count_zero() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(w().output_channel_count(vec![0]).build(), NotSupported);
}

#[test]
fn worklet_output_channel_count_33() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(w().output_channel_count(vec![33]).build(), NotSupported);
}

#[test]
fn worklet_output_channel_count_length() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(w().output_channel_count(vec![2, 2]).build(), IndexSize);
}

#[test]
fn worklet_33_inputs() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(w().inputs(33).build(), IndexSize);
}

#[test]
fn worklet_duplicate_param() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(
        w().param(AudioParamDescriptor::new("gain"))
            .param(AudioParamDescriptor::new("gain"))
            .build(),
        NotSupported
    );
}

#[test]
fn worklet_default_outside_range() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(
        w().param(
            AudioParamDescriptor::new("p")
                .default_value(2.0)
                .range(0.0, 1.0)
        )
        .build(),
        InvalidState
    );
}

#[test]
fn worklet_17_params() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(
        (0..17)
            .fold(w(), |b, i| b
                .param(AudioParamDescriptor::new(format!("p{i}"))))
            .build(),
        NotSupported
    );
}

#[test]
fn worklet_nan_default() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(
        w().param(AudioParamDescriptor::new("p").default_value(f32::NAN))
            .build(),
        Range
    );
}

#[test]
fn worklet_infinite_min() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(
        w().param(AudioParamDescriptor::new("p").range(f32::NEG_INFINITY, 1.0))
            .build(),
        Range
    );
}

#[test]
fn worklet_param_value_nan() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(
        w().param(AudioParamDescriptor::new("p"))
            .param_value("p", f32::NAN)
            .build(),
        Range
    );
}

#[test]
fn worklet_param_value_undeclared() {
    let w = || AudioWorkletNode::builder("w", |_: &WorkletScope| Quiet);
    assert_err!(w().param_value("nope", 1.0).build(), NotSupported);
}

#[test]
fn media_element_seek_negative() {
    assert_err!(
        MediaElementAudioSourceNode::default()
            .seek(-1.0)
            .map(|_| ()),
        Range
    );
}

#[test]
fn media_element_seek_nan() {
    assert_err!(
        MediaElementAudioSourceNode::default()
            .seek(f64::NAN)
            .map(|_| ()),
        Range
    );
}

#[test]
fn media_element_buffer_seconds_infinite() {
    assert_err!(
        MediaElementAudioSourceNode::default()
            .set_buffer_seconds(f32::INFINITY)
            .map(|_| ()),
        Range
    );
}

#[test]
fn media_element_buffer_seconds_zero() {
    assert_err!(
        MediaElementAudioSourceNode::default()
            .set_buffer_seconds(0.0)
            .map(|_| ()),
        Range
    );
}

#[test]
fn media_element_infinite_buffer_field_plays() {
    let dir = temp_dir("bad_input_ring");
    let path = dir.join("tone.wav");
    let samples = signal(1, 4_800, 48_000);
    std::fs::write(
        &path,
        wav_bytes(&samples, 48_000, WavFormat::Float32).unwrap(),
    )
    .unwrap();
    let mut node = MediaElementAudioSourceNode::open(&path).unwrap();
    node.buffer_seconds = f32::INFINITY;
    let status = node.status().unwrap().clone();
    let mut app = offline_app(1);
    let dest = destination(&app);
    app.world_mut().commands().spawn(node).connect(dest);
    app.update();
    for _ in 0..10_000 {
        if status.decoded_frames() >= 4_800 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let out = app.render(1_024).unwrap().remove(0);
    assert_eq!(&out[..], &samples[0][..1_024]);
}

#[test]
fn media_stream_latency_infinite_ring() {
    assert_err!(
        MediaStreamAudioSourceNode::default().try_with_latency(SourceLatency {
            ring_ms: f32::INFINITY,
            ..Default::default()
        }),
        Range
    );
}

#[test]
fn media_stream_latency_negative_step() {
    assert_err!(
        MediaStreamAudioSourceNode::default().try_with_latency(SourceLatency {
            step_ms: -1.0,
            ..Default::default()
        }),
        Range
    );
}

#[test]
fn media_stream_infinite_ring_builds() {
    let (stream, _slot) = MediaStream::new(48_000, 1);
    let latency = SourceLatency {
        ring_ms: f32::INFINITY,
        min_target_ms: f32::NAN,
        ..Default::default()
    };
    assert_eq!(sanitize_latency(latency), SourceLatency::default());
    let node = MediaStreamAudioSourceNode::new(&stream).with_latency(latency);
    let _processor = node.processor(48_000.0);
}
