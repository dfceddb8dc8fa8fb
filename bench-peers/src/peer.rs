//! Builds a case (FORMAT.md) with web-audio-api-rs 1.7.0's `OfflineAudioContext`, in the
//! build order FORMAT.md gives, and renders it. The case parser, the buffer generators and the
//! connection parser are the `webaudio-conformance` crate's, so both engines get bit-identical
//! inputs. Covers the node types, options, attributes, automation, param connections, listener,
//! destination and timed actions (through `suspend_sync`) that the perf and conformance cases
//! use; anything else is a [`CaseError::Unsupported`]. Read-backs are not taken (only the
//! rendered audio is compared).

// The nodes are shared with the timed actions' `suspend_sync` callbacks, which must be `Send +
// Sync`: a mutex here (a benchmark peer outside the crate; the real-time rule of clippy.toml is
// about the crate's render path).
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Map, Value};
use web_audio_api::context::{BaseAudioContext, OfflineAudioContext};
use web_audio_api::node::{
    AnalyserNode, AudioBufferSourceNode, AudioDestinationNode, AudioNode, AudioScheduledSourceNode,
    BiquadFilterNode, BiquadFilterType, ChannelCountMode, ChannelInterpretation, ChannelMergerNode,
    ChannelSplitterNode, ConstantSourceNode, ConvolverNode, DelayNode, DistanceModelType,
    DynamicsCompressorNode, GainNode, IIRFilterNode, OscillatorNode, OscillatorType,
    OverSampleType, PannerNode, PanningModelType, StereoPannerNode, WaveShaperNode,
};
use web_audio_api::{
    AudioBuffer, AudioListener, AudioParam, AutomationRate, PeriodicWave, PeriodicWaveOptions,
};
use webaudio_conformance::case::{Connection, Target};
use webaudio_conformance::generators::generate;
use webaudio_conformance::{Case, CaseError};

/// One node of the peer's graph, kept alive until rendering ends.
enum PeerNode {
    Source(AudioBufferSourceNode),
    Gain(GainNode),
    Oscillator(OscillatorNode),
    Biquad(BiquadFilterNode),
    Convolver(ConvolverNode),
    Panner(PannerNode),
    StereoPanner(StereoPannerNode),
    Delay(DelayNode),
    Constant(ConstantSourceNode),
    Compressor(DynamicsCompressorNode),
    Shaper(WaveShaperNode),
    Splitter(ChannelSplitterNode),
    Merger(ChannelMergerNode),
    Iir(IIRFilterNode),
    Analyser(AnalyserNode),
    Destination(AudioDestinationNode),
    Listener(AudioListener),
}

impl PeerNode {
    fn node(&self) -> Option<&dyn AudioNode> {
        Some(match self {
            Self::Source(n) => n,
            Self::Gain(n) => n,
            Self::Oscillator(n) => n,
            Self::Biquad(n) => n,
            Self::Convolver(n) => n,
            Self::Panner(n) => n,
            Self::StereoPanner(n) => n,
            Self::Delay(n) => n,
            Self::Constant(n) => n,
            Self::Compressor(n) => n,
            Self::Shaper(n) => n,
            Self::Splitter(n) => n,
            Self::Merger(n) => n,
            Self::Iir(n) => n,
            Self::Analyser(n) => n,
            Self::Destination(n) => n,
            Self::Listener(_) => return None,
        })
    }

    fn param(&self, name: &str) -> Option<&AudioParam> {
        Some(match (self, name) {
            (Self::Source(n), "playbackRate") => n.playback_rate(),
            (Self::Source(n), "detune") => n.detune(),
            (Self::Gain(n), "gain") => n.gain(),
            (Self::Oscillator(n), "frequency") => n.frequency(),
            (Self::Oscillator(n), "detune") => n.detune(),
            (Self::Biquad(n), "frequency") => n.frequency(),
            (Self::Biquad(n), "detune") => n.detune(),
            (Self::Biquad(n), "Q") => n.q(),
            (Self::Biquad(n), "gain") => n.gain(),
            (Self::Panner(n), "positionX") => n.position_x(),
            (Self::Panner(n), "positionY") => n.position_y(),
            (Self::Panner(n), "positionZ") => n.position_z(),
            (Self::Panner(n), "orientationX") => n.orientation_x(),
            (Self::Panner(n), "orientationY") => n.orientation_y(),
            (Self::Panner(n), "orientationZ") => n.orientation_z(),
            (Self::StereoPanner(n), "pan") => n.pan(),
            (Self::Delay(n), "delayTime") => n.delay_time(),
            (Self::Constant(n), "offset") => n.offset(),
            (Self::Compressor(n), "threshold") => n.threshold(),
            (Self::Compressor(n), "knee") => n.knee(),
            (Self::Compressor(n), "ratio") => n.ratio(),
            (Self::Compressor(n), "attack") => n.attack(),
            (Self::Compressor(n), "release") => n.release(),
            (Self::Listener(n), "positionX") => n.position_x(),
            (Self::Listener(n), "positionY") => n.position_y(),
            (Self::Listener(n), "positionZ") => n.position_z(),
            (Self::Listener(n), "forwardX") => n.forward_x(),
            (Self::Listener(n), "forwardY") => n.forward_y(),
            (Self::Listener(n), "forwardZ") => n.forward_z(),
            (Self::Listener(n), "upX") => n.up_x(),
            (Self::Listener(n), "upY") => n.up_y(),
            (Self::Listener(n), "upZ") => n.up_z(),
            _ => return None,
        })
    }

    /// `start(when)` (`stop: false`) or `stop(when)` of a source node.
    fn schedule(&mut self, when: f64, stop: bool) -> Result<(), CaseError> {
        match (self, stop) {
            (Self::Source(n), false) => n.start_at(when),
            (Self::Source(n), true) => n.stop_at(when),
            (Self::Oscillator(n), false) => n.start_at(when),
            (Self::Oscillator(n), true) => n.stop_at(when),
            (Self::Constant(n), false) => n.start_at(when),
            (Self::Constant(n), true) => n.stop_at(when),
            _ => return Err(unsupported("start/stop on a node that is not a source")),
        }
        Ok(())
    }
}

/// A render by web-audio-api-rs.
pub struct PeerRender {
    /// Planar output, one `Vec` per destination channel.
    pub channels: Vec<Vec<f32>>,
    /// Wall-clock time of `start_rendering_sync()` only, in ms.
    pub render_ms: f64,
}

fn unsupported(what: impl Into<String>) -> CaseError {
    CaseError::Unsupported(what.into())
}

fn number(v: &Value, what: &str) -> Result<f64, CaseError> {
    v.as_f64()
        .ok_or_else(|| CaseError::Invalid(format!("{what}: {v} is not a number")))
}

fn string<'a>(v: &'a Value, what: &str) -> Result<&'a str, CaseError> {
    v.as_str()
        .ok_or_else(|| CaseError::Invalid(format!("{what}: {v} is not a string")))
}

/// What resolving an option value needs: the named buffers and the case.
#[derive(Clone)]
struct Env {
    buffers: HashMap<String, AudioBuffer>,
    sample_rate: f64,
}

impl Env {
    fn buffer(&self, v: &Value) -> Result<AudioBuffer, CaseError> {
        match v {
            Value::String(name) => self
                .buffers
                .get(name)
                .cloned()
                .ok_or_else(|| CaseError::Invalid(format!("no buffer named `{name}`"))),
            _ => {
                let b = generate("inline buffer", v, self.sample_rate)?;
                Ok(AudioBuffer::from(b.channels, b.sample_rate as f32))
            }
        }
    }
}

/// Makes the case's named buffers with the conformance crate's generators.
fn buffers(case: &Case) -> Result<HashMap<String, AudioBuffer>, CaseError> {
    case.buffers
        .iter()
        .map(|(name, spec)| {
            let b = generate(name, spec, case.sample_rate)?;
            Ok((
                name.clone(),
                AudioBuffer::from(b.channels, b.sample_rate as f32),
            ))
        })
        .collect()
}

fn oscillator_type(v: &Value) -> Result<OscillatorType, CaseError> {
    Ok(match v.as_str() {
        Some("sine") => OscillatorType::Sine,
        Some("square") => OscillatorType::Square,
        Some("sawtooth") => OscillatorType::Sawtooth,
        Some("triangle") => OscillatorType::Triangle,
        _ => return Err(unsupported(format!("OscillatorNode type {v}"))),
    })
}

fn biquad_type(v: &Value) -> Result<BiquadFilterType, CaseError> {
    Ok(match v.as_str() {
        Some("lowpass") => BiquadFilterType::Lowpass,
        Some("highpass") => BiquadFilterType::Highpass,
        Some("bandpass") => BiquadFilterType::Bandpass,
        Some("lowshelf") => BiquadFilterType::Lowshelf,
        Some("highshelf") => BiquadFilterType::Highshelf,
        Some("peaking") => BiquadFilterType::Peaking,
        Some("notch") => BiquadFilterType::Notch,
        Some("allpass") => BiquadFilterType::Allpass,
        _ => return Err(unsupported(format!("BiquadFilterNode type {v}"))),
    })
}

fn numbers(v: &Value, what: &str) -> Result<Vec<f64>, CaseError> {
    v.as_array()
        .ok_or_else(|| CaseError::Invalid(format!("{what}: not an array")))?
        .iter()
        .map(|x| number(x, what))
        .collect()
}

/// A `periodicWave` object (`real`, `imag`, `disableNormalization`).
fn periodic_wave(ctx: &OfflineAudioContext, v: &Value) -> Result<PeriodicWave, CaseError> {
    let arr = |k: &str| -> Result<Option<Vec<f32>>, CaseError> {
        v.get(k)
            .map(|a| Ok(numbers(a, k)?.into_iter().map(|x| x as f32).collect()))
            .transpose()
    };
    Ok(ctx.create_periodic_wave(PeriodicWaveOptions {
        real: arr("real")?,
        imag: arr("imag")?,
        disable_normalization: v["disableNormalization"].as_bool() == Some(true),
    }))
}

/// A WaveShaper curve: an array or a curve generator.
fn curve(v: &Value) -> Result<Vec<f32>, CaseError> {
    match v {
        Value::Array(_) => Ok(numbers(v, "curve")?.into_iter().map(|x| x as f32).collect()),
        Value::Object(_) => {
            let n = v["n"].as_u64().unwrap_or(1025) as usize;
            let k = v["k"].as_f64().unwrap_or(1.0);
            let shape = string(&v["shape"], "curve shape")?;
            (0..n)
                .map(|i| {
                    let x = (2.0 * i as f64) / (n as f64 - 1.0) - 1.0;
                    Ok((match shape {
                        "linear" => x,
                        "cubic" => 1.5 * x - 0.5 * x * x * x,
                        "hardclip" => x.clamp(-k, k),
                        "tanh" => (k * x).tanh(),
                        other => return Err(unsupported(format!("curve shape {other}"))),
                    }) as f32)
                })
                .collect()
        }
        _ => Err(CaseError::Invalid(format!("curve {v}"))),
    }
}

/// Creates one node (constructor-only options applied).
fn create(
    ctx: &OfflineAudioContext,
    node_type: &str,
    options: &Map<String, Value>,
) -> Result<PeerNode, CaseError> {
    let count = |k: &str, default: usize| {
        options
            .get(k)
            .and_then(Value::as_u64)
            .map_or(default, |v| v as usize)
    };
    Ok(match node_type {
        "AudioBufferSourceNode" => PeerNode::Source(ctx.create_buffer_source()),
        "GainNode" => PeerNode::Gain(ctx.create_gain()),
        "OscillatorNode" => PeerNode::Oscillator(ctx.create_oscillator()),
        "BiquadFilterNode" => PeerNode::Biquad(ctx.create_biquad_filter()),
        "ConvolverNode" => PeerNode::Convolver(ctx.create_convolver()),
        "PannerNode" => PeerNode::Panner(ctx.create_panner()),
        "StereoPannerNode" => PeerNode::StereoPanner(ctx.create_stereo_panner()),
        "DelayNode" => PeerNode::Delay(
            ctx.create_delay(
                options
                    .get("maxDelayTime")
                    .map_or(Ok(1.0), |v| number(v, "maxDelayTime"))?,
            ),
        ),
        "ConstantSourceNode" => PeerNode::Constant(ctx.create_constant_source()),
        "DynamicsCompressorNode" => PeerNode::Compressor(ctx.create_dynamics_compressor()),
        "WaveShaperNode" => PeerNode::Shaper(ctx.create_wave_shaper()),
        "ChannelSplitterNode" => {
            PeerNode::Splitter(ctx.create_channel_splitter(count("numberOfOutputs", 6)))
        }
        "ChannelMergerNode" => {
            PeerNode::Merger(ctx.create_channel_merger(count("numberOfInputs", 6)))
        }
        "IIRFilterNode" => PeerNode::Iir(ctx.create_iir_filter(
            numbers(&options["feedforward"], "feedforward")?,
            numbers(&options["feedback"], "feedback")?,
        )),
        "AnalyserNode" => PeerNode::Analyser(ctx.create_analyser()),
        other => {
            return Err(unsupported(format!(
                "node type {other} in the peer builder"
            )));
        }
    })
}

/// Options consumed by [`create`].
const CONSTRUCTOR_ONLY: &[&str] = &[
    "maxDelayTime",
    "numberOfOutputs",
    "numberOfInputs",
    "feedforward",
    "feedback",
];

/// `node[key] = value` (an option or an attribute).
fn set_attr(
    ctx: &OfflineAudioContext,
    env: &Env,
    node: &mut PeerNode,
    key: &str,
    v: &Value,
) -> Result<(), CaseError> {
    if let Some(p) = node.param(key) {
        p.set_value(number(v, key)? as f32);
        return Ok(());
    }
    if let Some(n) = node.node() {
        match key {
            "channelCount" => {
                n.set_channel_count(number(v, key)? as usize);
                return Ok(());
            }
            "channelCountMode" => {
                n.set_channel_count_mode(match string(v, key)? {
                    "max" => ChannelCountMode::Max,
                    "clamped-max" => ChannelCountMode::ClampedMax,
                    "explicit" => ChannelCountMode::Explicit,
                    o => return Err(CaseError::Invalid(format!("channelCountMode {o}"))),
                });
                return Ok(());
            }
            "channelInterpretation" => {
                n.set_channel_interpretation(match string(v, key)? {
                    "speakers" => ChannelInterpretation::Speakers,
                    "discrete" => ChannelInterpretation::Discrete,
                    o => return Err(CaseError::Invalid(format!("channelInterpretation {o}"))),
                });
                return Ok(());
            }
            _ => {}
        }
    }
    let b = || v.as_bool() == Some(true);
    match (node, key) {
        (PeerNode::Source(n), "buffer") => n.set_buffer(env.buffer(v)?),
        (PeerNode::Source(n), "loop") => n.set_loop(b()),
        (PeerNode::Source(n), "loopStart") => n.set_loop_start(number(v, key)?),
        (PeerNode::Source(n), "loopEnd") => n.set_loop_end(number(v, key)?),
        (PeerNode::Convolver(n), "buffer") => n.set_buffer(env.buffer(v)?),
        (PeerNode::Convolver(n), "normalize") => n.set_normalize(b()),
        (PeerNode::Convolver(n), "disableNormalization") => n.set_normalize(!b()),
        (PeerNode::Oscillator(n), "type") => n.set_type(oscillator_type(v)?),
        (PeerNode::Oscillator(n), "periodicWave") => n.set_periodic_wave(periodic_wave(ctx, v)?),
        (PeerNode::Biquad(n), "type") => n.set_type(biquad_type(v)?),
        (PeerNode::Shaper(n), "curve") => n.set_curve(curve(v)?),
        (PeerNode::Shaper(n), "oversample") => n.set_oversample(match string(v, key)? {
            "none" => OverSampleType::None,
            "2x" => OverSampleType::X2,
            "4x" => OverSampleType::X4,
            o => return Err(CaseError::Invalid(format!("oversample {o}"))),
        }),
        (PeerNode::Panner(n), "panningModel") => n.set_panning_model(match string(v, key)? {
            "equalpower" => PanningModelType::EqualPower,
            "HRTF" => PanningModelType::HRTF,
            o => return Err(CaseError::Invalid(format!("panningModel {o}"))),
        }),
        (PeerNode::Panner(n), "distanceModel") => n.set_distance_model(match string(v, key)? {
            "linear" => DistanceModelType::Linear,
            "inverse" => DistanceModelType::Inverse,
            "exponential" => DistanceModelType::Exponential,
            o => return Err(CaseError::Invalid(format!("distanceModel {o}"))),
        }),
        (PeerNode::Panner(n), "refDistance") => n.set_ref_distance(number(v, key)?),
        (PeerNode::Panner(n), "maxDistance") => n.set_max_distance(number(v, key)?),
        (PeerNode::Panner(n), "rolloffFactor") => n.set_rolloff_factor(number(v, key)?),
        (PeerNode::Panner(n), "coneInnerAngle") => n.set_cone_inner_angle(number(v, key)?),
        (PeerNode::Panner(n), "coneOuterAngle") => n.set_cone_outer_angle(number(v, key)?),
        (PeerNode::Panner(n), "coneOuterGain") => n.set_cone_outer_gain(number(v, key)?),
        (PeerNode::Analyser(n), "fftSize") => n.set_fft_size(number(v, key)? as usize),
        (PeerNode::Analyser(n), "minDecibels") => n.set_min_decibels(number(v, key)?),
        (PeerNode::Analyser(n), "maxDecibels") => n.set_max_decibels(number(v, key)?),
        (PeerNode::Analyser(n), "smoothingTimeConstant") => {
            n.set_smoothing_time_constant(number(v, key)?);
        }
        (_, k) if CONSTRUCTOR_ONLY.contains(&k) => {}
        _ => return Err(unsupported(format!("attribute/option `{key}`"))),
    }
    Ok(())
}

/// Applies one automation event `[method, ...args]`.
fn apply_event(param: &AudioParam, ev: &Value, what: &str) -> Result<(), CaseError> {
    let ev = ev
        .as_array()
        .ok_or_else(|| CaseError::Invalid(format!("{what}: event is not an array")))?;
    let arg = |i: usize| -> Result<f64, CaseError> {
        ev.get(i).map_or(
            Err(CaseError::Invalid(format!("{what}: missing argument"))),
            |v| number(v, what),
        )
    };
    match ev.first().and_then(Value::as_str) {
        Some("setValueAtTime") => param.set_value_at_time(arg(1)? as f32, arg(2)?),
        Some("linearRampToValueAtTime") => {
            param.linear_ramp_to_value_at_time(arg(1)? as f32, arg(2)?)
        }
        Some("exponentialRampToValueAtTime") => {
            param.exponential_ramp_to_value_at_time(arg(1)? as f32, arg(2)?)
        }
        Some("setTargetAtTime") => param.set_target_at_time(arg(1)? as f32, arg(2)?, arg(3)?),
        Some("setValueCurveAtTime") => {
            let values: Vec<f32> = numbers(&ev[1], what)?
                .into_iter()
                .map(|x| x as f32)
                .collect();
            param.set_value_curve_at_time(&values, arg(2)?, arg(3)?)
        }
        Some("cancelScheduledValues") => param.cancel_scheduled_values(arg(1)?),
        Some("cancelAndHoldAtTime") => param.cancel_and_hold_at_time(arg(1)?),
        Some("value") => param.set_value(arg(1)? as f32),
        Some("automationRate") => {
            param.set_automation_rate(match ev.get(1).and_then(Value::as_str) {
                Some("k-rate") => AutomationRate::K,
                _ => AutomationRate::A,
            });
            param
        }
        other => return Err(unsupported(format!("{what}: automation method {other:?}"))),
    };
    Ok(())
}

fn start_args(node: &mut PeerNode, args: &[Value]) -> Result<(), CaseError> {
    let a = |i: usize| args.get(i).map(|v| number(v, "start")).transpose();
    let (w, o, d) = (a(0)?, a(1)?, a(2)?);
    if let PeerNode::Source(n) = node {
        match (w, o, d) {
            (Some(w), Some(o), Some(d)) => n.start_at_with_offset_and_duration(w, o, d),
            (Some(w), Some(o), None) => n.start_at_with_offset(w, o),
            (w, None, None) => n.start_at(w.unwrap_or(0.0)),
            _ => return Err(CaseError::Invalid("start arguments".into())),
        }
        return Ok(());
    }
    if o.is_some() {
        return Err(CaseError::Invalid(
            "start offset on a node that has none".into(),
        ));
    }
    node.schedule(w.unwrap_or(0.0), false)
}

fn stop(node: &mut PeerNode, when: f64) -> Result<(), CaseError> {
    node.schedule(when, true)
}

type Nodes = HashMap<String, PeerNode>;

fn get<'a>(nodes: &'a Nodes, id: &str) -> Result<&'a PeerNode, CaseError> {
    nodes
        .get(id)
        .ok_or_else(|| CaseError::Invalid(format!("unknown node `{id}`")))
}

fn connect(nodes: &Nodes, v: &Value) -> Result<(), CaseError> {
    let c = Connection::parse(v)?;
    let from = get(nodes, &c.from)?
        .node()
        .ok_or_else(|| CaseError::Invalid("connection from the listener".into()))?;
    let to = get(nodes, &c.to)?;
    match c.target {
        Target::Input(input) => {
            let to = to
                .node()
                .ok_or_else(|| CaseError::Invalid("connection to the listener".into()))?;
            from.connect_from_output_to_input(to, c.output as usize, input as usize);
        }
        Target::Param(p) => {
            let param = to
                .param(&p)
                .ok_or_else(|| unsupported(format!("connection to param `{p}`")))?;
            from.connect_from_output_to_input(param, c.output as usize, 0);
        }
    }
    Ok(())
}

fn disconnect(nodes: &Nodes, v: &Value) -> Result<(), CaseError> {
    let node = |id: &Value| -> Result<&dyn AudioNode, CaseError> {
        get(nodes, id.as_str().unwrap_or_default())?
            .node()
            .ok_or_else(|| CaseError::Invalid("disconnect of the listener".into()))
    };
    match v {
        Value::String(_) => node(v)?.disconnect(),
        Value::Object(o) if !o.contains_key("to") => match o.get("output") {
            Some(out) => node(&o["from"])?.disconnect_output(number(out, "output")? as usize),
            None => node(&o["from"])?.disconnect(),
        },
        _ => {
            let c = Connection::parse(v)?;
            let from = node(&Value::String(c.from.clone()))?;
            let to = get(nodes, &c.to)?;
            let explicit_output = match v {
                Value::Array(a) => a.len() >= 3,
                _ => v.get("output").is_some(),
            };
            match c.target {
                Target::Param(p) => {
                    let param = to
                        .param(&p)
                        .ok_or_else(|| unsupported(format!("disconnect from param `{p}`")))?;
                    if explicit_output {
                        from.disconnect_dest_from_output(param, c.output as usize);
                    } else {
                        from.disconnect_dest(param);
                    }
                }
                Target::Input(input) => {
                    let to = to
                        .node()
                        .ok_or_else(|| CaseError::Invalid("disconnect from the listener".into()))?;
                    let explicit_input = match v {
                        Value::Array(a) => a.len() >= 4,
                        _ => v.get("input").is_some(),
                    };
                    if explicit_input {
                        from.disconnect_dest_from_output_to_input(
                            to,
                            c.output as usize,
                            input as usize,
                        );
                    } else if explicit_output {
                        from.disconnect_dest_from_output(to, c.output as usize);
                    } else {
                        from.disconnect_dest(to);
                    }
                }
            }
        }
    }
    Ok(())
}

fn apply_params(nodes: &Nodes, id: &str, params: &Map<String, Value>) -> Result<(), CaseError> {
    let node = get(nodes, id)?;
    for (name, events) in params {
        if name == "node" {
            continue;
        }
        let what = format!("{id}.{name}");
        let param = node
            .param(name)
            .ok_or_else(|| unsupported(format!("param {what}")))?;
        for ev in events.as_array().into_iter().flatten() {
            apply_event(param, ev, &what)?;
        }
    }
    Ok(())
}

/// One timed action (FORMAT.md, *Timed actions*).
fn apply_action(
    ctx: &OfflineAudioContext,
    env: &Env,
    nodes: &mut Nodes,
    action: &Value,
) -> Result<(), CaseError> {
    let (kind, body) = action
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| CaseError::Invalid(format!("action {action}")))?;
    let id = body["node"].as_str().unwrap_or_default();
    match kind.as_str() {
        "set" => {
            let node = nodes
                .get_mut(id)
                .ok_or_else(|| CaseError::Invalid(format!("unknown node `{id}`")))?;
            for (k, v) in body.as_object().into_iter().flatten() {
                if k != "node" {
                    set_attr(ctx, env, node, k, v)?;
                }
            }
        }
        "call" => {
            let node = nodes
                .get_mut(id)
                .ok_or_else(|| CaseError::Invalid(format!("unknown node `{id}`")))?;
            let args = body["args"].as_array().cloned().unwrap_or_default();
            let arg = |i: usize| args.get(i).map_or(Ok(0.0), |v| number(v, "argument"));
            match (body["method"].as_str().unwrap_or_default(), node) {
                ("start", n) => start_args(n, &args)?,
                ("stop", n) => stop(n, arg(0)?)?,
                ("setPeriodicWave", PeerNode::Oscillator(n)) => {
                    n.set_periodic_wave(periodic_wave(ctx, &args[0])?);
                }
                ("setPosition", PeerNode::Panner(n)) => {
                    n.set_position(arg(0)? as f32, arg(1)? as f32, arg(2)? as f32);
                }
                ("setOrientation", PeerNode::Panner(n)) => {
                    n.set_orientation(arg(0)? as f32, arg(1)? as f32, arg(2)? as f32);
                }
                (m, _) => return Err(unsupported(format!("call `{m}` on `{id}`"))),
            }
        }
        "params" => {
            let map = body.as_object().cloned().unwrap_or_default();
            apply_params(nodes, id, &map)?;
        }
        "connect" => connect(nodes, body)?,
        "disconnect" => disconnect(nodes, body)?,
        other => return Err(unsupported(format!("action `{other}`"))),
    }
    Ok(())
}

/// Builds `case` with web-audio-api-rs and renders it, timing only `start_rendering_sync()`.
///
/// # Errors
/// [`CaseError::Unsupported`] for what the builder does not cover (read-backs are ignored:
/// only the audio is rendered); [`CaseError::Invalid`] for a case that expects an exception
/// (web-audio-api-rs panics instead of throwing: there is nothing to compare).
pub fn render(case: &Case) -> Result<PeerRender, CaseError> {
    if case.expect_error.is_some() {
        return Err(unsupported(
            "expectError (web-audio-api-rs panics instead of throwing)",
        ));
    }
    let mut ctx = OfflineAudioContext::new(
        case.number_of_channels,
        case.length,
        case.sample_rate as f32,
    );
    let env = Env {
        buffers: buffers(case)?,
        sample_rate: case.sample_rate,
    };
    let mut nodes: Nodes = HashMap::new();
    nodes.insert(
        "destination".into(),
        PeerNode::Destination(ctx.destination()),
    );
    nodes.insert("listener".into(), PeerNode::Listener(ctx.listener()));
    if let Some(d) = &case.destination {
        let dest = nodes.get_mut("destination").expect("inserted");
        for (k, v) in d {
            set_attr(&ctx, &env, dest, k, v)?;
        }
    }
    if let Some(l) = &case.listener {
        for (k, v) in l {
            match (k.as_str(), v.as_object()) {
                ("params", Some(p)) => apply_params(&nodes, "listener", p)?,
                _ => return Err(unsupported(format!("listener key `{k}`"))),
            }
        }
    }
    for spec in &case.nodes {
        let mut node = create(&ctx, &spec.node_type, &spec.options)?;
        // `normalize` before `buffer` (the spec's constructor order: the buffer is normalized
        // when it is set).
        let (first, rest): (Vec<_>, Vec<_>) = spec
            .options
            .iter()
            .partition(|(k, _)| *k == "disableNormalization");
        for (k, v) in first.into_iter().chain(rest).chain(&spec.set) {
            set_attr(&ctx, &env, &mut node, k, v)?;
        }
        nodes.insert(spec.id.clone(), node);
    }
    for spec in &case.nodes {
        apply_params(&nodes, &spec.id, &spec.params)?;
    }
    for v in &case.connections {
        connect(&nodes, v)?;
    }
    for spec in &case.nodes {
        let node = nodes.get_mut(&spec.id).expect("created above");
        match &spec.start {
            None => {}
            Some(Value::Array(args)) => start_args(node, args)?,
            Some(v) => start_args(node, std::slice::from_ref(v))?,
        }
        if let Some(when) = spec.stop {
            stop(node, when)?;
        }
    }
    let nodes = Arc::new(Mutex::new(nodes));
    let failure: Arc<Mutex<Option<CaseError>>> = Arc::new(Mutex::new(None));
    for entry in &case.actions {
        let (nodes, failure, env) = (Arc::clone(&nodes), Arc::clone(&failure), env.clone());
        let actions = entry.actions.clone();
        ctx.suspend_sync(entry.time, move |ctx| {
            let mut nodes = nodes.lock().expect("not poisoned");
            for a in &actions {
                if let Err(e) = apply_action(ctx, &env, &mut nodes, a) {
                    failure.lock().expect("not poisoned").get_or_insert(e);
                }
            }
        });
    }
    let start = Instant::now();
    let out = ctx.start_rendering_sync();
    let render_ms = start.elapsed().as_secs_f64() * 1e3;
    if let Some(e) = failure.lock().expect("not poisoned").take() {
        return Err(e);
    }
    drop(nodes);
    let channels = (0..out.number_of_channels())
        .map(|c| out.get_channel_data(c).to_vec())
        .collect();
    Ok(PeerRender {
        channels,
        render_ms,
    })
}
