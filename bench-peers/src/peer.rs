//! Builds a case (FORMAT.md) with web-audio-api-rs 1.7.0's `OfflineAudioContext`, in the
//! build order FORMAT.md gives, and renders it. The case parser, the buffer generators and the
//! connection parser are the `webaudio-conformance` crate's, so both engines get bit-identical
//! inputs. Covers what the perf_* cases use; anything else is a [`CaseError::Unsupported`].

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Map, Value};
use web_audio_api::context::{BaseAudioContext, OfflineAudioContext};
use web_audio_api::node::{
    AudioBufferSourceNode, AudioNode, AudioScheduledSourceNode, BiquadFilterNode, ConvolverNode,
    GainNode, OscillatorNode, OscillatorType, PannerNode, StereoPannerNode,
};
use web_audio_api::{AudioBuffer, AudioParam};
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
}

impl PeerNode {
    fn node(&self) -> &dyn AudioNode {
        match self {
            Self::Source(n) => n,
            Self::Gain(n) => n,
            Self::Oscillator(n) => n,
            Self::Biquad(n) => n,
            Self::Convolver(n) => n,
            Self::Panner(n) => n,
            Self::StereoPanner(n) => n,
        }
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

fn buffer_option(
    v: &Value,
    named: &HashMap<String, AudioBuffer>,
    case: &Case,
) -> Result<AudioBuffer, CaseError> {
    match v {
        Value::String(name) => named
            .get(name)
            .cloned()
            .ok_or_else(|| CaseError::Invalid(format!("no buffer named `{name}`"))),
        _ => {
            let b = generate("inline buffer", v, case.sample_rate)?;
            Ok(AudioBuffer::from(b.channels, b.sample_rate as f32))
        }
    }
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

/// Creates one node and applies its `options` and `set` attributes.
fn create(
    ctx: &OfflineAudioContext,
    node_type: &str,
    options: &Map<String, Value>,
    named: &HashMap<String, AudioBuffer>,
    case: &Case,
) -> Result<PeerNode, CaseError> {
    let mut node = match node_type {
        "AudioBufferSourceNode" => PeerNode::Source(ctx.create_buffer_source()),
        "GainNode" => PeerNode::Gain(ctx.create_gain()),
        "OscillatorNode" => PeerNode::Oscillator(ctx.create_oscillator()),
        "BiquadFilterNode" => PeerNode::Biquad(ctx.create_biquad_filter()),
        "ConvolverNode" => PeerNode::Convolver(ctx.create_convolver()),
        "PannerNode" => PeerNode::Panner(ctx.create_panner()),
        "StereoPannerNode" => PeerNode::StereoPanner(ctx.create_stereo_panner()),
        other => {
            return Err(unsupported(format!(
                "node type {other} in the peer builder"
            )));
        }
    };
    for (key, v) in options {
        if let Some(p) = node.param(key) {
            p.set_value(number(v, key)? as f32);
            continue;
        }
        match (&mut node, key.as_str()) {
            (PeerNode::Source(n), "buffer") => n.set_buffer(buffer_option(v, named, case)?),
            (PeerNode::Source(n), "loop") => n.set_loop(v.as_bool() == Some(true)),
            (PeerNode::Convolver(n), "buffer") => n.set_buffer(buffer_option(v, named, case)?),
            (PeerNode::Oscillator(n), "type") => n.set_type(oscillator_type(v)?),
            _ => return Err(unsupported(format!("{node_type} option `{key}`"))),
        }
    }
    Ok(node)
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
        Some("value") => param.set_value(arg(1)? as f32),
        other => return Err(unsupported(format!("{what}: automation method {other:?}"))),
    };
    Ok(())
}

fn start_stop(
    node: &mut PeerNode,
    start: Option<&Value>,
    stop: Option<f64>,
) -> Result<(), CaseError> {
    if start.is_none() && stop.is_none() {
        return Ok(());
    }
    if let (PeerNode::Source(n), Some(Value::Array(args))) = (&mut *node, start) {
        let a = |i: usize| args.get(i).map(|v| number(v, "start")).transpose();
        match (a(0)?, a(1)?, a(2)?) {
            (Some(w), Some(o), Some(d)) => n.start_at_with_offset_and_duration(w, o, d),
            (Some(w), Some(o), None) => n.start_at_with_offset(w, o),
            (w, None, None) => n.start_at(w.unwrap_or(0.0)),
            _ => return Err(CaseError::Invalid("start arguments".into())),
        }
    } else if let Some(s) = start {
        let when = match s {
            Value::Array(a) if a.len() <= 1 => a.first().map_or(Ok(0.0), |v| number(v, "start"))?,
            Value::Array(_) => return Err(unsupported("start with offset on this node")),
            v => number(v, "start")?,
        };
        node.schedule(when, false)?;
    }
    if let Some(when) = stop {
        node.schedule(when, true)?;
    }
    Ok(())
}

fn connect(
    nodes: &HashMap<String, PeerNode>,
    ctx: &OfflineAudioContext,
    v: &Value,
) -> Result<(), CaseError> {
    let c = Connection::parse(v)?;
    let from = nodes
        .get(&c.from)
        .ok_or_else(|| CaseError::Invalid(format!("connection from unknown `{}`", c.from)))?
        .node();
    let destination = ctx.destination();
    let to: &dyn AudioNode = if c.to == "destination" {
        &destination
    } else {
        nodes
            .get(&c.to)
            .ok_or_else(|| CaseError::Invalid(format!("connection to unknown `{}`", c.to)))?
            .node()
    };
    match c.target {
        Target::Input(input) => {
            from.connect_from_output_to_input(to, c.output as usize, input as usize);
        }
        Target::Param(p) => return Err(unsupported(format!("connection to param `{p}`"))),
    }
    Ok(())
}

/// Builds `case` with web-audio-api-rs and renders it, timing only `start_rendering_sync()`.
///
/// # Errors
/// [`CaseError::Unsupported`] for anything the perf cases do not use (listener, destination
/// attributes, other node types, params as connection targets).
pub fn render(case: &Case) -> Result<PeerRender, CaseError> {
    if case.destination.is_some() || case.listener.is_some() {
        return Err(unsupported(
            "destination attributes / listener in the peer builder",
        ));
    }
    let mut ctx = OfflineAudioContext::new(
        case.number_of_channels,
        case.length,
        case.sample_rate as f32,
    );
    let named = buffers(case)?;
    let mut nodes = HashMap::new();
    for spec in &case.nodes {
        let mut options = spec.options.clone();
        options.extend(spec.set.clone());
        let node = create(&ctx, &spec.node_type, &options, &named, case)?;
        nodes.insert(spec.id.clone(), node);
    }
    for spec in &case.nodes {
        for (name, events) in &spec.params {
            let what = format!("{}.{name}", spec.id);
            let param = nodes[&spec.id]
                .param(name)
                .ok_or_else(|| unsupported(format!("param {what}")))?;
            for ev in events.as_array().into_iter().flatten() {
                apply_event(param, ev, &what)?;
            }
        }
    }
    for v in &case.connections {
        connect(&nodes, &ctx, v)?;
    }
    for spec in &case.nodes {
        let node = nodes.get_mut(&spec.id).expect("created above");
        start_stop(node, spec.start.as_ref(), spec.stop)?;
    }
    let start = Instant::now();
    let out = ctx.start_rendering_sync();
    let render_ms = start.elapsed().as_secs_f64() * 1e3;
    drop(nodes);
    let channels = (0..out.number_of_channels())
        .map(|c| out.get_channel_data(c).to_vec())
        .collect();
    Ok(PeerRender {
        channels,
        render_ms,
    })
}
