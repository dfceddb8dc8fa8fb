//! Builds a case's graph through the public API a game uses, in FORMAT.md's build order, and
//! renders it offline.
//!
//! Build order (FORMAT.md): create the context; create all `buffers`; set `destination`
//! attributes; apply `listener` automation; create every node in list order (constructor with
//! `options`, then `set`); apply every node's `params` (node order, then param order as
//! written, then event order); make every connection (list order); call `start`/`stop` (node
//! order). Then `app.update()` syncs the ECS to the renderer and `app.render(length)` renders.
//!
//! Adding a node type is one function (its constructor from `options`, see [`oscillator`]) and
//! one line in [`node_kind`].

use std::collections::HashMap;
use std::time::Instant;

use bevy::prelude::*;
use bevy_webaudio::node::AudioNode;
use bevy_webaudio::prelude::*;
use serde_json::{Map, Value};

use crate::case::{Case, Connection, Target};
use crate::generators;
use crate::{CaseError, Rendered};

/// Everything a node constructor may need besides its options.
pub struct BuildCtx<'a> {
    /// The context's sample rate.
    pub sample_rate: f64,
    /// The case's named buffers, as asset handles.
    pub buffers: &'a HashMap<String, Handle<AudioBuffer>>,
    /// Where inline buffer generators are added.
    pub assets: &'a mut Assets<AudioBuffer>,
}

/// A node's `options` (or `set`) dictionary, tracking which keys were used so that an unknown
/// one is reported, never ignored.
pub struct Options<'a> {
    what: String,
    map: &'a Map<String, Value>,
    used: Vec<String>,
}

impl<'a> Options<'a> {
    fn new(what: String, map: &'a Map<String, Value>) -> Self {
        Self {
            what,
            map,
            used: Vec::new(),
        }
    }

    /// The raw value of `key`, marking it used.
    pub fn take(&mut self, key: &str) -> Option<&'a Value> {
        self.used.push(key.to_string());
        self.map.get(key)
    }

    /// A number option.
    ///
    /// # Errors
    /// [`CaseError::Invalid`] when present and not a number.
    pub fn number(&mut self, key: &str) -> Result<Option<f64>, CaseError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| self.invalid(key, v)),
        }
    }

    /// A string option.
    ///
    /// # Errors
    /// [`CaseError::Invalid`] when present and not a string.
    pub fn string(&mut self, key: &str) -> Result<Option<&'a str>, CaseError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| self.invalid(key, v)),
        }
    }

    /// An error for a bad value of `key`.
    pub fn invalid(&self, key: &str, v: &Value) -> CaseError {
        CaseError::Invalid(format!("{} `{key}`: bad value {v}", self.what))
    }

    /// An error for a value the crate cannot express.
    pub fn unsupported(&self, key: &str, v: &Value) -> CaseError {
        CaseError::Unsupported(format!("{} `{key}` = {v}", self.what))
    }

    /// Errors on the first key no one used.
    fn finish(&self) -> Result<(), CaseError> {
        match self.map.keys().find(|k| !self.used.contains(k)) {
            Some(k) => Err(CaseError::Unsupported(format!("{} `{k}`", self.what))),
            None => Ok(()),
        }
    }
}

/// The type-specific parts of building a node, behind one object per node type.
pub trait NodeKind {
    /// Spawns the node from `options` (constructor) then `set` (attributes); the
    /// `AudioNodeOptions` keys are applied to its [`ChannelConfig`] by the caller.
    fn spawn(
        &self,
        world: &mut World,
        options: &mut Options,
        set: &mut Options,
        sample_rate: f64,
    ) -> Result<Entity, CaseError>;
    /// Runs `f` on the param named `id`; `Ok(false)` when the node has no such param.
    fn with_param(
        &self,
        world: &mut World,
        e: Entity,
        id: ParamId,
        f: &mut dyn FnMut(&mut AudioParam) -> Result<(), CaseError>,
    ) -> Result<bool, CaseError>;
    /// `start(...args)`.
    fn start(&self, world: &mut World, e: Entity, args: &[f64]) -> Result<(), CaseError>;
    /// `stop(when)`.
    fn stop(&self, world: &mut World, e: Entity, when: f64) -> Result<(), CaseError>;
}

/// A node constructor: the component from its `options`.
pub type Construct<T> = fn(&mut Options, &mut BuildCtx) -> Result<T, CaseError>;
/// An attribute setter (`node[key] = value`): `Ok(false)` when the key is not an attribute.
pub type SetAttribute<T> = fn(&mut T, &str, &Value) -> Result<bool, CaseError>;
/// `start(...args)` on the component.
pub type Start<T> = fn(&mut T, &str, &[f64]) -> Result<(), CaseError>;

struct Kind<T: AudioNode> {
    name: &'static str,
    construct: Construct<T>,
    set: SetAttribute<T>,
    start: Start<T>,
}

/// `start(when)` through [`AudioNode::scheduled`]: the AudioScheduledSourceNode types whose
/// `start` takes only `when`.
fn scheduled_start<T: AudioNode>(node: &mut T, name: &str, args: &[f64]) -> Result<(), CaseError> {
    let Some(source) = node.scheduled() else {
        return Err(CaseError::Invalid(format!("{name} has no start()")));
    };
    match args {
        [when] => source
            .start(*when)
            .map_err(|e| web_error(format!("{name}.start"), e)),
        _ => Err(CaseError::Unsupported(format!(
            "{name}.start with {} arguments",
            args.len()
        ))),
    }
}

fn no_attributes<T>(_: &mut T, _: &str, _: &Value) -> Result<bool, CaseError> {
    Ok(false)
}

fn web_error(what: impl std::fmt::Display, e: impl std::fmt::Display) -> CaseError {
    CaseError::Invalid(format!("{what}: {e}"))
}

impl<T: AudioNode> NodeKind for Kind<T> {
    fn spawn(
        &self,
        world: &mut World,
        options: &mut Options,
        set: &mut Options,
        sample_rate: f64,
    ) -> Result<Entity, CaseError> {
        let component = world.resource_scope(|world, mut assets: Mut<Assets<AudioBuffer>>| {
            let buffers = world.resource::<CaseBuffers>().0.clone();
            let mut ctx = BuildCtx {
                sample_rate,
                buffers: &buffers,
                assets: &mut assets,
            };
            (self.construct)(options, &mut ctx)
        })?;
        let mut component = component;
        let map = set.map;
        for key in map.keys() {
            if is_channel_key(key) {
                continue;
            }
            let value = set.take(key).unwrap_or(&Value::Null);
            if !(self.set)(&mut component, key, value)? {
                return Err(set.unsupported(key, value));
            }
        }
        Ok(world.spawn((component, Name::new(self.name))).id())
    }

    fn with_param(
        &self,
        world: &mut World,
        e: Entity,
        id: ParamId,
        f: &mut dyn FnMut(&mut AudioParam) -> Result<(), CaseError>,
    ) -> Result<bool, CaseError> {
        let mut node = world
            .get_mut::<T>(e)
            .ok_or_else(|| CaseError::Engine(format!("{} entity vanished", self.name)))?;
        match node.param_by_id(id) {
            Some(param) => f(param).map(|()| true),
            None => Ok(false),
        }
    }

    fn start(&self, world: &mut World, e: Entity, args: &[f64]) -> Result<(), CaseError> {
        let mut node = world
            .get_mut::<T>(e)
            .ok_or_else(|| CaseError::Engine(format!("{} entity vanished", self.name)))?;
        (self.start)(&mut node, self.name, args)
    }

    fn stop(&self, world: &mut World, e: Entity, when: f64) -> Result<(), CaseError> {
        let mut node = world
            .get_mut::<T>(e)
            .ok_or_else(|| CaseError::Engine(format!("{} entity vanished", self.name)))?;
        let Some(source) = node.scheduled() else {
            return Err(CaseError::Invalid(format!("{} has no stop()", self.name)));
        };
        source
            .stop(when)
            .map_err(|e| web_error(format!("{}.stop", self.name), e))
    }
}

/// The node types the crate implements: one line each. `None`: not implemented yet.
pub fn node_kind(type_name: &str) -> Option<Box<dyn NodeKind>> {
    fn kind<T: AudioNode>(
        name: &'static str,
        construct: Construct<T>,
        set: SetAttribute<T>,
    ) -> Option<Box<dyn NodeKind>> {
        Some(Box::new(Kind {
            name,
            construct,
            set,
            start: scheduled_start::<T>,
        }))
    }
    match type_name {
        "OscillatorNode" => kind("OscillatorNode", oscillator, oscillator_set),
        "GainNode" => kind("GainNode", gain, no_attributes),
        "ConstantSourceNode" => kind("ConstantSourceNode", constant_source, no_attributes),
        "DelayNode" => kind("DelayNode", delay, no_attributes),
        "StereoPannerNode" => kind("StereoPannerNode", stereo_panner, no_attributes),
        "AudioBufferSourceNode" => Some(Box::new(Kind {
            name: "AudioBufferSourceNode",
            construct: buffer_source,
            set: buffer_source_set,
            start: buffer_source_start,
        })),
        "ChannelSplitterNode" => kind("ChannelSplitterNode", channel_splitter, no_attributes),
        "ChannelMergerNode" => kind("ChannelMergerNode", channel_merger, no_attributes),
        "BiquadFilterNode" => kind("BiquadFilterNode", biquad_filter, biquad_filter_set),
        "IIRFilterNode" => kind("IIRFilterNode", iir_filter, no_attributes),
        "ConvolverNode" => kind("ConvolverNode", convolver, no_attributes),
        "WaveShaperNode" => kind("WaveShaperNode", wave_shaper, wave_shaper_set),
        "DynamicsCompressorNode" => {
            kind("DynamicsCompressorNode", dynamics_compressor, no_attributes)
        }
        "PannerNode" => kind("PannerNode", panner, panner_set),
        _ => None,
    }
}

fn param_value(o: &mut Options, key: &str, default: f32) -> Result<f32, CaseError> {
    Ok(o.number(key)?.map_or(default, |v| v as f32))
}

fn oscillator_type(o: &Options, key: &str, v: &Value) -> Result<OscillatorType, CaseError> {
    Ok(match v.as_str() {
        Some("sine") => OscillatorType::Sine,
        Some("square") => OscillatorType::Square,
        Some("sawtooth") => OscillatorType::Sawtooth,
        Some("triangle") => OscillatorType::Triangle,
        Some("custom") => {
            return Err(CaseError::Invalid(format!(
                "{}: type 'custom' needs periodicWave",
                o.what
            )));
        }
        _ => return Err(o.invalid(key, v)),
    })
}

/// `new OscillatorNode(ctx, { type, frequency, detune, periodicWave })`.
pub fn oscillator(o: &mut Options, _: &mut BuildCtx) -> Result<OscillatorNode, CaseError> {
    let frequency = param_value(o, "frequency", 440.0)?;
    let detune = o.number("detune")?;
    let osc_type = match o.take("type") {
        None => OscillatorType::Sine,
        Some(v) if v.as_str() == Some("custom") => OscillatorType::Custom,
        Some(v) => oscillator_type(o, "type", v)?,
    };
    let mut osc = match o.take("periodicWave") {
        Some(pw) => {
            let obj = pw
                .as_object()
                .ok_or_else(|| o.invalid("periodicWave", pw))?;
            let mut p = Options::new(format!("{} periodicWave", o.what), obj);
            let array = |p: &mut Options, key: &str| -> Result<Option<Vec<f32>>, CaseError> {
                match p.take(key) {
                    None => Ok(None),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|x| {
                            x.as_f64()
                                .map(|x| x as f32)
                                .ok_or_else(|| p.invalid(key, x))
                        })
                        .collect::<Result<Vec<f32>, _>>()
                        .map(Some),
                    Some(v) => Err(p.invalid(key, v)),
                }
            };
            let real = array(&mut p, "real")?;
            let imag = array(&mut p, "imag")?;
            let disable = match p.take("disableNormalization") {
                None => false,
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| p.invalid("disableNormalization", v))?,
            };
            p.finish()?;
            let wave =
                PeriodicWave::new(real, imag, disable).map_err(|e| web_error("PeriodicWave", e))?;
            OscillatorNode::with_periodic_wave(wave, frequency)
        }
        None if osc_type == OscillatorType::Custom => {
            return Err(CaseError::Invalid(format!(
                "{}: type 'custom' without periodicWave",
                o.what
            )));
        }
        None => OscillatorNode::new(osc_type, frequency),
    };
    if let Some(d) = detune {
        osc.detune
            .set_value(d as f32)
            .map_err(|e| web_error("detune", e))?;
    }
    Ok(osc)
}

fn oscillator_set(osc: &mut OscillatorNode, key: &str, v: &Value) -> Result<bool, CaseError> {
    if key != "type" {
        return Ok(false);
    }
    let empty = Map::new();
    let o = Options::new("OscillatorNode attribute".into(), &empty);
    let t = oscillator_type(&o, key, v)?;
    osc.set_type(t)
        .map_err(|e| web_error("OscillatorNode.type", e))?;
    Ok(true)
}

/// `new GainNode(ctx, { gain })`.
pub fn gain(o: &mut Options, _: &mut BuildCtx) -> Result<GainNode, CaseError> {
    Ok(GainNode::new(param_value(o, "gain", 1.0)?))
}

/// `new ConstantSourceNode(ctx, { offset })`.
pub fn constant_source(o: &mut Options, _: &mut BuildCtx) -> Result<ConstantSourceNode, CaseError> {
    Ok(ConstantSourceNode::new(param_value(o, "offset", 1.0)?))
}

/// `new DelayNode(ctx, { maxDelayTime, delayTime })`.
pub fn delay(o: &mut Options, _: &mut BuildCtx) -> Result<DelayNode, CaseError> {
    let max = o.number("maxDelayTime")?.unwrap_or(1.0);
    let time = param_value(o, "delayTime", 0.0)?;
    DelayNode::with_delay(max, time).map_err(|e| web_error("DelayNode", e))
}

/// `new StereoPannerNode(ctx, { pan })`.
pub fn stereo_panner(o: &mut Options, _: &mut BuildCtx) -> Result<StereoPannerNode, CaseError> {
    Ok(StereoPannerNode::new(param_value(o, "pan", 0.0)?))
}

/// `new PannerNode(ctx, { panningModel, distanceModel, refDistance, maxDistance, rolloffFactor,
/// coneInnerAngle, coneOuterAngle, coneOuterGain, positionX/Y/Z, orientationX/Y/Z })`.
pub fn panner(o: &mut Options, _: &mut BuildCtx) -> Result<PannerNode, CaseError> {
    let position = [
        param_value(o, "positionX", 0.0)?,
        param_value(o, "positionY", 0.0)?,
        param_value(o, "positionZ", 0.0)?,
    ];
    let orientation = [
        param_value(o, "orientationX", 1.0)?,
        param_value(o, "orientationY", 0.0)?,
        param_value(o, "orientationZ", 0.0)?,
    ];
    let mut node = PannerNode::default()
        .with_position(position[0], position[1], position[2])
        .with_orientation(orientation[0], orientation[1], orientation[2]);
    for key in [
        "panningModel",
        "distanceModel",
        "refDistance",
        "maxDistance",
        "rolloffFactor",
        "coneInnerAngle",
        "coneOuterAngle",
        "coneOuterGain",
    ] {
        if let Some(v) = o.take(key) {
            panner_set(&mut node, key, v)?;
        }
    }
    Ok(node)
}

/// The PannerNode attributes (`panningModel`, `distanceModel`, `refDistance`, … `coneOuterGain`).
fn panner_set(node: &mut PannerNode, key: &str, v: &Value) -> Result<bool, CaseError> {
    let empty = Map::new();
    let o = Options::new("PannerNode attribute".into(), &empty);
    let number = || v.as_f64().ok_or_else(|| o.invalid(key, v));
    let what = format!("PannerNode.{key}");
    match key {
        "panningModel" => {
            let m = match v.as_str() {
                Some("equalpower") => PanningModel::EqualPower,
                Some("HRTF") => PanningModel::Hrtf,
                _ => return Err(o.invalid(key, v)),
            };
            node.set_panning_model(m);
        }
        "distanceModel" => {
            let m = match v.as_str() {
                Some("linear") => DistanceModel::Linear,
                Some("inverse") => DistanceModel::Inverse,
                Some("exponential") => DistanceModel::Exponential,
                _ => return Err(o.invalid(key, v)),
            };
            node.set_distance_model(m);
        }
        "refDistance" => {
            node.set_ref_distance(number()?)
                .map_err(|e| web_error(what, e))?;
        }
        "maxDistance" => {
            node.set_max_distance(number()?)
                .map_err(|e| web_error(what, e))?;
        }
        "rolloffFactor" => {
            node.set_rolloff_factor(number()?)
                .map_err(|e| web_error(what, e))?;
        }
        "coneInnerAngle" => {
            node.set_cone_inner_angle(number()?)
                .map_err(|e| web_error(what, e))?;
        }
        "coneOuterAngle" => {
            node.set_cone_outer_angle(number()?)
                .map_err(|e| web_error(what, e))?;
        }
        "coneOuterGain" => {
            node.set_cone_outer_gain(number()?)
                .map_err(|e| web_error(what, e))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The case's `listener` (`{"params": {name: events}}`): an [`AudioListener`] entity whose
/// params `positionX/Y/Z`, `forwardX/Y/Z`, `upX/Y/Z` get the events, like a node's params.
fn spawn_listener(world: &mut World, listener: &Map<String, Value>) -> Result<(), CaseError> {
    let mut o = Options::new("listener".into(), listener);
    let mut component = AudioListener::default();
    if let Some(params) = o.take("params") {
        let params = params
            .as_object()
            .ok_or_else(|| o.invalid("params", params))?;
        for (name, events) in params {
            let what = format!("AudioListener.{name}");
            let id = ParamId::from_name(name)
                .ok_or_else(|| CaseError::Unsupported(format!("param `{what}`")))?;
            let events = events
                .as_array()
                .ok_or_else(|| CaseError::Invalid(format!("{what}: events must be an array")))?;
            let found = match component.param_by_id(id) {
                Some(param) => {
                    events
                        .iter()
                        .try_for_each(|ev| apply_event(param, ev, &what))?;
                    true
                }
                None => false,
            };
            if !found {
                return Err(CaseError::Unsupported(format!(
                    "param `{what}` (the listener has none)"
                )));
            }
        }
    }
    o.finish()?;
    world.spawn((component, Name::new("AudioListener")));
    Ok(())
}

fn set_param(param: &mut AudioParam, what: &str, v: f64) -> Result<(), CaseError> {
    param
        .set_value(v as f32)
        .map(drop)
        .map_err(|e| web_error(what, e))
}

fn bool_value(o: &Options, key: &str, v: &Value) -> Result<bool, CaseError> {
    v.as_bool().ok_or_else(|| o.invalid(key, v))
}

fn count(o: &mut Options, key: &str, default: usize) -> Result<usize, CaseError> {
    match o.take(key) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|x| usize::try_from(x).ok())
            .ok_or_else(|| o.invalid(key, v)),
    }
}

fn number_array(o: &mut Options, key: &str) -> Result<Option<Vec<f64>>, CaseError> {
    match o.take(key) {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_f64().ok_or_else(|| o.invalid(key, x)))
            .collect::<Result<Vec<f64>, _>>()
            .map(Some),
        Some(v) => Err(o.invalid(key, v)),
    }
}

/// `new AudioBufferSourceNode(ctx, { buffer, detune, loop, loopEnd, loopStart, playbackRate })`.
pub fn buffer_source(
    o: &mut Options,
    ctx: &mut BuildCtx,
) -> Result<AudioBufferSourceNode, CaseError> {
    let mut node = match o.take("buffer") {
        None | Some(Value::Null) => AudioBufferSourceNode::default(),
        Some(v) => {
            let what = format!("{} `buffer`", o.what);
            AudioBufferSourceNode::new(resolve_buffer(ctx, &what, v)?)
        }
    };
    if let Some(d) = o.number("detune")? {
        set_param(&mut node.detune, "AudioBufferSourceNode detune", d)?;
    }
    if let Some(r) = o.number("playbackRate")? {
        set_param(
            &mut node.playback_rate,
            "AudioBufferSourceNode playbackRate",
            r,
        )?;
    }
    if let Some(v) = o.take("loop") {
        node.looping = bool_value(o, "loop", v)?;
    }
    if let Some(s) = o.number("loopStart")? {
        node.loop_start = s;
    }
    if let Some(e) = o.number("loopEnd")? {
        node.loop_end = e;
    }
    Ok(node)
}

fn buffer_source_set(
    node: &mut AudioBufferSourceNode,
    key: &str,
    v: &Value,
) -> Result<bool, CaseError> {
    let empty = Map::new();
    let o = Options::new("AudioBufferSourceNode attribute".into(), &empty);
    let number = || v.as_f64().ok_or_else(|| o.invalid(key, v));
    match key {
        "loop" => node.looping = bool_value(&o, key, v)?,
        "loopStart" => node.loop_start = number()?,
        "loopEnd" => node.loop_end = number()?,
        // `buffer` needs the build context; no case assigns it after construction.
        _ => return Ok(false),
    }
    Ok(true)
}

/// `start(when, offset, duration)`.
fn buffer_source_start(
    node: &mut AudioBufferSourceNode,
    name: &str,
    args: &[f64],
) -> Result<(), CaseError> {
    let (when, offset, duration) = match *args {
        [] => (0.0, 0.0, None),
        [w] => (w, 0.0, None),
        [w, o] => (w, o, None),
        [w, o, d] => (w, o, Some(d)),
        _ => {
            return Err(CaseError::Invalid(format!(
                "{name}.start with {} arguments",
                args.len()
            )));
        }
    };
    node.start_with(when, offset, duration)
        .map(drop)
        .map_err(|e| web_error(format!("{name}.start"), e))
}

/// `new ChannelSplitterNode(ctx, { numberOfOutputs })`.
pub fn channel_splitter(
    o: &mut Options,
    _: &mut BuildCtx,
) -> Result<ChannelSplitterNode, CaseError> {
    ChannelSplitterNode::new(count(o, "numberOfOutputs", 6)?)
        .map_err(|e| web_error("ChannelSplitterNode", e))
}

/// `new ChannelMergerNode(ctx, { numberOfInputs })`.
pub fn channel_merger(o: &mut Options, _: &mut BuildCtx) -> Result<ChannelMergerNode, CaseError> {
    ChannelMergerNode::new(count(o, "numberOfInputs", 6)?)
        .map_err(|e| web_error("ChannelMergerNode", e))
}

fn biquad_type(o: &Options, key: &str, v: &Value) -> Result<BiquadFilterType, CaseError> {
    Ok(match v.as_str() {
        Some("lowpass") => BiquadFilterType::Lowpass,
        Some("highpass") => BiquadFilterType::Highpass,
        Some("bandpass") => BiquadFilterType::Bandpass,
        Some("lowshelf") => BiquadFilterType::Lowshelf,
        Some("highshelf") => BiquadFilterType::Highshelf,
        Some("peaking") => BiquadFilterType::Peaking,
        Some("notch") => BiquadFilterType::Notch,
        Some("allpass") => BiquadFilterType::Allpass,
        _ => return Err(o.invalid(key, v)),
    })
}

/// `new BiquadFilterNode(ctx, { type, frequency, detune, Q, gain })`.
pub fn biquad_filter(o: &mut Options, _: &mut BuildCtx) -> Result<BiquadFilterNode, CaseError> {
    let filter_type = match o.take("type") {
        None => BiquadFilterType::Lowpass,
        Some(v) => biquad_type(o, "type", v)?,
    };
    let mut node = BiquadFilterNode::with_options(
        filter_type,
        param_value(o, "frequency", 350.0)?,
        param_value(o, "Q", 1.0)?,
        param_value(o, "gain", 0.0)?,
    );
    if let Some(d) = o.number("detune")? {
        set_param(&mut node.detune, "BiquadFilterNode detune", d)?;
    }
    Ok(node)
}

fn biquad_filter_set(node: &mut BiquadFilterNode, key: &str, v: &Value) -> Result<bool, CaseError> {
    if key != "type" {
        return Ok(false);
    }
    let empty = Map::new();
    let o = Options::new("BiquadFilterNode attribute".into(), &empty);
    node.filter_type = biquad_type(&o, key, v)?;
    Ok(true)
}

/// `new IIRFilterNode(ctx, { feedforward, feedback })` (both required).
pub fn iir_filter(o: &mut Options, _: &mut BuildCtx) -> Result<IIRFilterNode, CaseError> {
    let missing = |k: &str| CaseError::Invalid(format!("IIRFilterNode: `{k}` is required"));
    let ff = number_array(o, "feedforward")?.ok_or_else(|| missing("feedforward"))?;
    let fb = number_array(o, "feedback")?.ok_or_else(|| missing("feedback"))?;
    IIRFilterNode::new(&ff, &fb).map_err(|e| web_error("IIRFilterNode", e))
}

/// `new ConvolverNode(ctx, { buffer, disableNormalization })`.
pub fn convolver(o: &mut Options, ctx: &mut BuildCtx) -> Result<ConvolverNode, CaseError> {
    let disable = match o.take("disableNormalization") {
        None => false,
        Some(v) => bool_value(o, "disableNormalization", v)?,
    };
    let buffer = match o.take("buffer") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let what = format!("{} `buffer`", o.what);
            Some(resolve_buffer(ctx, &what, v)?)
        }
    };
    Ok(ConvolverNode::with_options(buffer, disable))
}

fn oversample_type(o: &Options, key: &str, v: &Value) -> Result<OverSampleType, CaseError> {
    Ok(match v.as_str() {
        Some("none") => OverSampleType::None,
        Some("2x") => OverSampleType::X2,
        Some("4x") => OverSampleType::X4,
        _ => return Err(o.invalid(key, v)),
    })
}

/// A `curve`: an array of numbers or a curve generator.
fn curve_option(o: &mut Options, key: &str) -> Result<Option<Vec<f32>>, CaseError> {
    match o.take(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_f64()
                    .map(|x| x as f32)
                    .ok_or_else(|| o.invalid(key, x))
            })
            .collect::<Result<Vec<f32>, _>>()
            .map(Some),
        Some(v) => crate::generators::curve(&o.what, v).map(Some),
    }
}

/// `new WaveShaperNode(ctx, { curve, oversample })`.
pub fn wave_shaper(o: &mut Options, _: &mut BuildCtx) -> Result<WaveShaperNode, CaseError> {
    let curve = curve_option(o, "curve")?;
    let oversample = match o.take("oversample") {
        None => OverSampleType::None,
        Some(v) => oversample_type(o, "oversample", v)?,
    };
    WaveShaperNode::new(curve.as_deref(), oversample).map_err(|e| web_error("WaveShaperNode", e))
}

fn wave_shaper_set(node: &mut WaveShaperNode, key: &str, v: &Value) -> Result<bool, CaseError> {
    let mut map = Map::new();
    map.insert(key.to_owned(), v.clone());
    let mut o = Options::new("WaveShaperNode attribute".into(), &map);
    match key {
        "oversample" => node.oversample = oversample_type(&o, key, v)?,
        "curve" => {
            let curve = curve_option(&mut o, key)?;
            node.set_curve(curve.as_deref())
                .map_err(|e| web_error("WaveShaperNode.curve", e))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `new DynamicsCompressorNode(ctx, { attack, knee, ratio, release, threshold })`.
pub fn dynamics_compressor(
    o: &mut Options,
    _: &mut BuildCtx,
) -> Result<DynamicsCompressorNode, CaseError> {
    let d = DynamicsCompressorOptions::default();
    Ok(DynamicsCompressorNode::new(DynamicsCompressorOptions {
        attack: param_value(o, "attack", d.attack)?,
        knee: param_value(o, "knee", d.knee)?,
        ratio: param_value(o, "ratio", d.ratio)?,
        release: param_value(o, "release", d.release)?,
        threshold: param_value(o, "threshold", d.threshold)?,
    }))
}

/// The named buffers, available to constructors.
#[derive(Resource, Default)]
struct CaseBuffers(HashMap<String, Handle<AudioBuffer>>);

/// Resolves a `buffer` option: a name of the case's `buffers`, or an inline generator object.
///
/// # Errors
/// [`CaseError::Invalid`] for an unknown name or a bad generator.
pub fn resolve_buffer(
    ctx: &mut BuildCtx,
    what: &str,
    v: &Value,
) -> Result<Handle<AudioBuffer>, CaseError> {
    match v {
        Value::String(name) => ctx
            .buffers
            .get(name)
            .cloned()
            .ok_or_else(|| CaseError::Invalid(format!("{what}: no buffer named `{name}`"))),
        Value::Object(_) => {
            let b = generators::generate(what, v, ctx.sample_rate)?;
            let buffer = AudioBuffer::from_samples(b.channels, b.sample_rate as f32)
                .map_err(|e| web_error(what, e))?;
            Ok(ctx.assets.add(buffer))
        }
        _ => Err(CaseError::Invalid(format!(
            "{what}: `buffer` must be a name or a generator"
        ))),
    }
}

fn is_channel_key(key: &str) -> bool {
    matches!(
        key,
        "channelCount" | "channelCountMode" | "channelInterpretation"
    )
}

/// Applies `channelCount` / `channelCountMode` / `channelInterpretation` from `o` to `config`.
fn apply_channel_keys(o: &mut Options, config: &mut ChannelConfig) -> Result<(), CaseError> {
    if let Some(v) = o.take("channelCount") {
        config.count = v
            .as_u64()
            .and_then(|x| usize::try_from(x).ok())
            .ok_or_else(|| o.invalid("channelCount", v))?;
    }
    if let Some(v) = o.take("channelCountMode") {
        config.mode = match v.as_str() {
            Some("max") => ChannelCountMode::Max,
            Some("clamped-max") => ChannelCountMode::ClampedMax,
            Some("explicit") => ChannelCountMode::Explicit,
            _ => return Err(o.invalid("channelCountMode", v)),
        };
    }
    if let Some(v) = o.take("channelInterpretation") {
        config.interpretation = match v.as_str() {
            Some("speakers") => ChannelInterpretation::Speakers,
            Some("discrete") => ChannelInterpretation::Discrete,
            _ => return Err(o.invalid("channelInterpretation", v)),
        };
    }
    Ok(())
}

fn set_channel_config(
    world: &mut World,
    e: Entity,
    what: &str,
    maps: &mut [&mut Options],
) -> Result<(), CaseError> {
    if !maps.iter().any(|o| o.map.keys().any(|k| is_channel_key(k))) {
        return Ok(());
    }
    let mut config = *world
        .get::<ChannelConfig>(e)
        .ok_or_else(|| CaseError::Engine(format!("{what} has no ChannelConfig")))?;
    for o in maps.iter_mut() {
        apply_channel_keys(o, &mut config)?;
    }
    config.validate().map_err(|e| web_error(what, e))?;
    world.entity_mut(e).insert(config);
    Ok(())
}

fn number_arg(args: &[Value], i: usize, what: &str) -> Result<f64, CaseError> {
    args.get(i)
        .and_then(Value::as_f64)
        .ok_or_else(|| CaseError::Invalid(format!("{what}: argument {i} must be a number")))
}

/// Applies one automation event `[method, ...args]` with the `AudioParam` method of that name.
///
/// # Errors
/// [`CaseError::Unsupported`] for an unknown method; [`CaseError::Invalid`] when the param
/// rejects the call (the spec's exception).
pub fn apply_event(param: &mut AudioParam, event: &Value, what: &str) -> Result<(), CaseError> {
    let ev = event
        .as_array()
        .ok_or_else(|| CaseError::Invalid(format!("{what}: event {event} is not an array")))?;
    let method = ev
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| CaseError::Invalid(format!("{what}: event {event} has no method name")))?;
    let args = &ev[1..];
    let what = format!("{what}.{method}");
    let n = |i| number_arg(args, i, &what);
    let arity = |k: usize| {
        if args.len() == k {
            Ok(())
        } else {
            Err(CaseError::Invalid(format!(
                "{what}: expected {k} arguments, got {}",
                args.len()
            )))
        }
    };
    let r = match method {
        "setValueAtTime" => {
            arity(2)?;
            param.set_value_at_time(n(0)? as f32, n(1)?).map(drop)
        }
        "linearRampToValueAtTime" => {
            arity(2)?;
            param
                .linear_ramp_to_value_at_time(n(0)? as f32, n(1)?)
                .map(drop)
        }
        "exponentialRampToValueAtTime" => {
            arity(2)?;
            param
                .exponential_ramp_to_value_at_time(n(0)? as f32, n(1)?)
                .map(drop)
        }
        "setTargetAtTime" => {
            arity(3)?;
            param
                .set_target_at_time(n(0)? as f32, n(1)?, n(2)?)
                .map(drop)
        }
        "setValueCurveAtTime" => {
            arity(3)?;
            let values = args[0]
                .as_array()
                .ok_or_else(|| CaseError::Invalid(format!("{what}: values must be an array")))?
                .iter()
                .map(|v| v.as_f64().map(|x| x as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| CaseError::Invalid(format!("{what}: values must be numbers")))?;
            param
                .set_value_curve_at_time(&values, n(1)?, n(2)?)
                .map(drop)
        }
        "cancelScheduledValues" => {
            arity(1)?;
            param.cancel_scheduled_values(n(0)?).map(drop)
        }
        "cancelAndHoldAtTime" => {
            arity(1)?;
            param.cancel_and_hold_at_time(n(0)?).map(drop)
        }
        "value" => {
            arity(1)?;
            param.set_value(n(0)? as f32).map(drop)
        }
        "automationRate" => {
            arity(1)?;
            let rate = match args[0].as_str() {
                Some("a-rate") => AutomationRate::ARate,
                Some("k-rate") => AutomationRate::KRate,
                _ => return Err(CaseError::Invalid(format!("{what}: bad rate {}", args[0]))),
            };
            param.set_automation_rate(rate).map(drop)
        }
        other => {
            return Err(CaseError::Unsupported(format!(
                "{what}: automation method `{other}`"
            )));
        }
    };
    r.map_err(|e| web_error(&what, e))
}

fn start_args(v: &Value, id: &str) -> Result<Vec<f64>, CaseError> {
    let bad = || {
        CaseError::Invalid(format!(
            "node `{id}`: `start` must be a number or an array of numbers"
        ))
    };
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().ok_or_else(bad)).collect(),
        x => Ok(vec![x.as_f64().ok_or_else(bad)?]),
    }
}

/// A node of the case being built.
struct Built {
    entity: Entity,
    kind: Option<Box<dyn NodeKind>>, // None: the destination
}

/// Builds a case into a new offline `App` and returns it, ready for `app.render(case.length)`
/// (the first sync has run).
///
/// # Errors
/// See [`CaseError`].
pub fn build(case: &Case) -> Result<App, CaseError> {
    // Check every node type first so a case names what is missing before anything runs.
    for n in &case.nodes {
        if node_kind(&n.node_type).is_none() {
            return Err(CaseError::Unsupported(format!(
                "node type {} (node `{}`)",
                n.node_type, n.id
            )));
        }
    }
    if case.sample_rate.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&case.sample_rate) {
        return Err(CaseError::Unsupported(format!(
            "non-integer sample rate {}",
            case.sample_rate
        )));
    }
    let channels = u16::try_from(case.number_of_channels)
        .map_err(|_| CaseError::Invalid(format!("numberOfChannels {}", case.number_of_channels)))?;
    // The context.
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        WebAudioPlugin::offline(case.sample_rate as u32, channels),
    ));
    app.update();
    let world = app.world_mut();
    let destination = world.resource::<AudioContext>().destination();
    // Buffers.
    let mut handles = HashMap::new();
    for (name, spec) in &case.buffers {
        let b = generators::generate(&format!("buffer `{name}`"), spec, case.sample_rate)?;
        let buffer = AudioBuffer::from_samples(b.channels, b.sample_rate as f32)
            .map_err(|e| web_error(format!("buffer `{name}`"), e))?;
        handles.insert(
            name.clone(),
            world.resource_mut::<Assets<AudioBuffer>>().add(buffer),
        );
    }
    world.insert_resource(CaseBuffers(handles));
    // Destination attributes.
    if let Some(attrs) = &case.destination {
        let mut o = Options::new("destination attribute".into(), attrs);
        set_channel_config(world, destination, "destination", &mut [&mut o])?;
        o.finish()?;
    }
    // Listener automation.
    if let Some(listener) = &case.listener
        && !listener.is_empty()
    {
        spawn_listener(world, listener)?;
    }
    // Nodes: constructor with options, then set.
    let mut nodes: HashMap<&str, Built> = HashMap::new();
    nodes.insert(
        "destination",
        Built {
            entity: destination,
            kind: None,
        },
    );
    for n in &case.nodes {
        if nodes.contains_key(n.id.as_str()) {
            return Err(CaseError::Invalid(format!("duplicate node id `{}`", n.id)));
        }
        let kind = node_kind(&n.node_type).expect("checked above");
        let mut options = Options::new(format!("{} option", n.node_type), &n.options);
        let mut set = Options::new(format!("{} attribute", n.node_type), &n.set);
        let entity = kind.spawn(world, &mut options, &mut set, case.sample_rate)?;
        set_channel_config(world, entity, &n.node_type, &mut [&mut options, &mut set])?;
        options.finish()?;
        set.finish()?;
        nodes.insert(
            n.id.as_str(),
            Built {
                entity,
                kind: Some(kind),
            },
        );
    }
    // Params: node order, param order as written, event order.
    for n in &case.nodes {
        let built = &nodes[n.id.as_str()];
        let kind = built.kind.as_ref().expect("a node");
        for (name, events) in &n.params {
            let what = format!("{}.{name}", n.node_type);
            let id = ParamId::from_name(name)
                .ok_or_else(|| CaseError::Unsupported(format!("param `{what}`")))?;
            let events = events
                .as_array()
                .ok_or_else(|| CaseError::Invalid(format!("{what}: events must be an array")))?;
            let found = kind.with_param(world, built.entity, id, &mut |param| {
                events
                    .iter()
                    .try_for_each(|ev| apply_event(param, ev, &what))
            })?;
            if !found {
                return Err(CaseError::Unsupported(format!(
                    "param `{what}` (the component has none)"
                )));
            }
        }
    }
    // Connections, in list order.
    for c in &case.connections {
        let c = Connection::parse(c)?;
        let from = nodes.get(c.from.as_str()).ok_or_else(|| {
            CaseError::Invalid(format!("connection from unknown node `{}`", c.from))
        })?;
        let to = nodes
            .get(c.to.as_str())
            .ok_or_else(|| CaseError::Invalid(format!("connection to unknown node `{}`", c.to)))?;
        if from.kind.is_none() {
            return Err(CaseError::Unsupported(
                "connections from the destination".into(),
            ));
        }
        let (a, b) = (from.entity, to.entity);
        match &c.target {
            Target::Input(input) => {
                world.commands().entity(a).connect_with(b, c.output, *input);
            }
            Target::Param(name) => {
                let what = format!("param `{name}` of node `{}`", c.to);
                let id =
                    ParamId::from_name(name).ok_or_else(|| CaseError::Unsupported(what.clone()))?;
                let has = match &to.kind {
                    Some(k) => k.with_param(world, b, id, &mut |_| Ok(()))?,
                    None => false,
                };
                if !has {
                    return Err(CaseError::Unsupported(format!(
                        "connection to {what} (no such param)"
                    )));
                }
                world
                    .commands()
                    .entity(a)
                    .connect_param_from(b, id, c.output);
            }
        }
        world.flush();
    }
    // start / stop, in node order.
    for n in &case.nodes {
        let built = &nodes[n.id.as_str()];
        let kind = built.kind.as_ref().expect("a node");
        if let Some(start) = &n.start {
            kind.start(world, built.entity, &start_args(start, &n.id)?)?;
        }
        if let Some(stop) = n.stop {
            kind.stop(world, built.entity, stop)?;
        }
    }
    // Sync the ECS to the renderer and report any error the engine raised.
    world.resource_mut::<Messages<AudioGraphError>>().clear();
    app.update();
    let errors: Vec<String> = app
        .world_mut()
        .resource_mut::<Messages<AudioGraphError>>()
        .drain()
        .map(|e| format!("{:?}: {}", e.entity, e.error))
        .collect();
    if !errors.is_empty() {
        return Err(CaseError::Engine(errors.join("; ")));
    }
    Ok(app)
}

/// Builds a case through the public API and renders it offline. Only `render()` is timed in
/// `render_ms`.
///
/// # Errors
/// See [`CaseError`].
pub fn build_and_render(case: &Case) -> Result<Rendered, CaseError> {
    let t0 = Instant::now();
    let mut app = build(case)?;
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    let channels = app
        .render(case.length)
        .map_err(|e| CaseError::Engine(e.to_string()))?;
    let render_ms = t1.elapsed().as_secs_f64() * 1e3;
    Ok(Rendered {
        name: case.name.clone(),
        sample_rate: case.sample_rate,
        length: case.length,
        channels,
        build_ms,
        render_ms,
    })
}
