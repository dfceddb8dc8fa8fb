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

use crate::case::{Case, Connection, Readback, Target};
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
    /// `node[key] = value` on the spawned component (a timed `set` action); `Ok(false)` when
    /// the key is not an attribute the crate can set.
    fn set(
        &self,
        world: &mut World,
        e: Entity,
        key: &str,
        value: &Value,
    ) -> Result<bool, CaseError>;
    /// The node's own check of a channel configuration ([`AudioNode::validate_channels`]),
    /// as the exception the assignment throws.
    fn validate_channels(
        &self,
        world: &World,
        e: Entity,
        config: &ChannelConfig,
    ) -> Result<(), CaseError>;
}

/// Runs `f` with the world and a [`BuildCtx`] (the case's buffers, the buffer assets).
fn with_build_ctx<R>(
    world: &mut World,
    sample_rate: f64,
    f: impl FnOnce(&mut World, &mut BuildCtx) -> Result<R, CaseError>,
) -> Result<R, CaseError> {
    world.resource_scope(|world, mut assets: Mut<Assets<AudioBuffer>>| {
        let buffers = world.resource::<CaseBuffers>().0.clone();
        let mut ctx = BuildCtx {
            sample_rate,
            buffers: &buffers,
            assets: &mut assets,
        };
        f(world, &mut ctx)
    })
}

/// [`AudioNode::validate_channels`] of the `T` on `e`.
fn validate_channels_of<T: AudioNode>(
    world: &World,
    e: Entity,
    name: &str,
    config: &ChannelConfig,
) -> Result<(), CaseError> {
    world
        .get::<T>(e)
        .ok_or_else(|| CaseError::Engine(format!("{name} entity vanished")))?
        .validate_channels(config)
        .map_err(|err| web_error(name, err))
}

/// A node constructor: the component from its `options`.
pub type Construct<T> = fn(&mut Options, &mut BuildCtx) -> Result<T, CaseError>;
/// An attribute setter (`node[key] = value`; the context resolves a `buffer`): `Ok(false)` when
/// the key is not an attribute.
pub type SetAttribute<T> = fn(&mut T, &str, &Value, &mut BuildCtx) -> Result<bool, CaseError>;
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

fn no_attributes<T>(_: &mut T, _: &str, _: &Value, _: &mut BuildCtx) -> Result<bool, CaseError> {
    Ok(false)
}

/// The crate's [`WebAudioError`] as the exception the spec throws ([`CaseError::Thrown`]; the
/// case step is filled in by [`at`]).
fn web_error(what: impl std::fmt::Display, e: WebAudioError) -> CaseError {
    let name = e.name();
    CaseError::Thrown {
        at: String::new(),
        name,
        message: format!("{what}: {e}"),
    }
}

/// Tags an exception with the case step it was thrown at (unless an inner step already did).
fn at(step: &str) -> impl FnOnce(CaseError) -> CaseError + '_ {
    move |e| match e {
        CaseError::Thrown { at, name, message } if at.is_empty() => CaseError::Thrown {
            at: step.to_string(),
            name,
            message,
        },
        e => e,
    }
}

impl<T: AudioNode> NodeKind for Kind<T> {
    fn spawn(
        &self,
        world: &mut World,
        options: &mut Options,
        set: &mut Options,
        sample_rate: f64,
    ) -> Result<Entity, CaseError> {
        let component = with_build_ctx(world, sample_rate, |_, ctx| {
            let mut component = (self.construct)(options, ctx)?;
            let map = set.map;
            for key in map.keys() {
                if is_channel_key(key) {
                    continue;
                }
                let value = set.take(key).unwrap_or(&Value::Null);
                if !(self.set)(&mut component, key, value, ctx)? {
                    return Err(set.unsupported(key, value));
                }
            }
            Ok(component)
        })?;
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

    fn set(
        &self,
        world: &mut World,
        e: Entity,
        key: &str,
        value: &Value,
    ) -> Result<bool, CaseError> {
        let sample_rate = world.resource::<AudioContext>().sample_rate();
        with_build_ctx(world, f64::from(sample_rate), |world, ctx| {
            let mut node = world
                .get_mut::<T>(e)
                .ok_or_else(|| CaseError::Engine(format!("{} entity vanished", self.name)))?;
            // The crate's setters check before they change anything, so one that throws
            // leaves the node as it was (as the spec requires).
            (self.set)(&mut node, key, value, ctx)
        })
    }

    fn validate_channels(
        &self,
        world: &World,
        e: Entity,
        config: &ChannelConfig,
    ) -> Result<(), CaseError> {
        validate_channels_of::<T>(world, e, self.name, config)
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
        "ConvolverNode" => kind("ConvolverNode", convolver, convolver_set),
        "AnalyserNode" => kind("AnalyserNode", analyser, analyser_set),
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
        Some("custom") => OscillatorType::Custom,
        _ => return Err(o.invalid(key, v)),
    })
}

/// `new OscillatorNode(ctx, { type, frequency, detune, periodicWave })`.
pub fn oscillator(o: &mut Options, _: &mut BuildCtx) -> Result<OscillatorNode, CaseError> {
    let frequency = param_value(o, "frequency", 440.0)?;
    let detune = o.number("detune")?;
    let osc_type = match o.take("type") {
        None => OscillatorType::Sine,
        Some(v) => oscillator_type(o, "type", v)?,
    };
    let mut osc = match o.take("periodicWave") {
        Some(pw) => {
            let obj = pw
                .as_object()
                .ok_or_else(|| o.invalid("periodicWave", pw))?;
            OscillatorNode::with_periodic_wave(periodic_wave(&o.what, obj)?, frequency)
        }
        // `custom` without a periodicWave is the spec's InvalidStateError.
        None => OscillatorNode::try_new(osc_type, frequency)
            .map_err(|e| web_error("OscillatorNode", e))?,
    };
    if let Some(d) = detune {
        osc.detune
            .set_value(d as f32)
            .map_err(|e| web_error("detune", e))?;
    }
    Ok(osc)
}

/// `new PeriodicWave(ctx, { real, imag, disableNormalization })` from a `periodicWave` object.
fn periodic_wave(what: &str, obj: &Map<String, Value>) -> Result<PeriodicWave, CaseError> {
    {
        {
            let mut p = Options::new(format!("{what} periodicWave"), obj);
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
            PeriodicWave::new(real, imag, disable).map_err(|e| web_error("PeriodicWave", e))
        }
    }
}

fn oscillator_set(
    osc: &mut OscillatorNode,
    key: &str,
    v: &Value,
    _: &mut BuildCtx,
) -> Result<bool, CaseError> {
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
pub fn panner(o: &mut Options, ctx: &mut BuildCtx) -> Result<PannerNode, CaseError> {
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
            panner_set(&mut node, key, v, ctx)?;
        }
    }
    Ok(node)
}

/// The PannerNode attributes (`panningModel`, `distanceModel`, `refDistance`, … `coneOuterGain`).
fn panner_set(
    node: &mut PannerNode,
    key: &str,
    v: &Value,
    _: &mut BuildCtx,
) -> Result<bool, CaseError> {
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
    ctx: &mut BuildCtx,
) -> Result<bool, CaseError> {
    let empty = Map::new();
    let o = Options::new("AudioBufferSourceNode attribute".into(), &empty);
    let number = || v.as_f64().ok_or_else(|| o.invalid(key, v));
    match key {
        "loop" => node.looping = bool_value(&o, key, v)?,
        "loopStart" => node.loop_start = number()?,
        "loopEnd" => node.loop_end = number()?,
        "buffer" => {
            let what = "AudioBufferSourceNode.buffer";
            node.set_buffer(resolve_buffer(ctx, what, v)?)
                .map_err(|e| web_error(what, e))?;
        }
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

fn biquad_filter_set(
    node: &mut BiquadFilterNode,
    key: &str,
    v: &Value,
    _: &mut BuildCtx,
) -> Result<bool, CaseError> {
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
    // The constructor sets `normalize`, then assigns `buffer` with the attribute's checks.
    let mut node = ConvolverNode::with_options(None, disable);
    if let Some(v) = o.take("buffer") {
        convolver_set(&mut node, "buffer", v, ctx)?;
    }
    Ok(node)
}

/// `buffer` (checked against the context as the spec's setter does) and `normalize`.
fn convolver_set(
    node: &mut ConvolverNode,
    key: &str,
    v: &Value,
    ctx: &mut BuildCtx,
) -> Result<bool, CaseError> {
    let what = format!("ConvolverNode.{key}");
    match (key, v) {
        ("buffer", Value::Null) => {
            node.set_buffer(None);
        }
        ("buffer", v) => {
            let buffer = resolve_buffer(ctx, &what, v)?;
            node.set_buffer_checked(buffer, ctx.assets, ctx.sample_rate as f32)
                .map_err(|e| web_error(&what, e))?;
        }
        ("normalize", v) => {
            node.normalize = v
                .as_bool()
                .ok_or_else(|| CaseError::Invalid(format!("{what}: {v} is not a boolean")))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
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

fn wave_shaper_set(
    node: &mut WaveShaperNode,
    key: &str,
    v: &Value,
    _: &mut BuildCtx,
) -> Result<bool, CaseError> {
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

/// `new AnalyserNode(ctx, { fftSize, maxDecibels, minDecibels, smoothingTimeConstant })`.
pub fn analyser(o: &mut Options, _: &mut BuildCtx) -> Result<AnalyserNode, CaseError> {
    let fft = match o.take("fftSize") {
        None => 2048,
        Some(v) => v
            .as_u64()
            .and_then(|x| usize::try_from(x).ok())
            .ok_or_else(|| o.invalid("fftSize", v))?,
    };
    let min = o.number("minDecibels")?.unwrap_or(-100.0);
    let max = o.number("maxDecibels")?.unwrap_or(-30.0);
    let smoothing = o.number("smoothingTimeConstant")?.unwrap_or(0.8);
    AnalyserNode::new(fft, min, max, smoothing).map_err(|e| web_error("AnalyserNode", e))
}

fn analyser_set(
    node: &mut AnalyserNode,
    key: &str,
    v: &Value,
    _: &mut BuildCtx,
) -> Result<bool, CaseError> {
    let empty = Map::new();
    let o = Options::new("AnalyserNode attribute".into(), &empty);
    let number = || v.as_f64().ok_or_else(|| o.invalid(key, v));
    let what = format!("AnalyserNode.{key}");
    match key {
        "fftSize" => {
            let n = v
                .as_u64()
                .and_then(|x| usize::try_from(x).ok())
                .ok_or_else(|| o.invalid(key, v))?;
            node.set_fft_size(n).map_err(|e| web_error(&what, e))?;
        }
        "minDecibels" => {
            node.set_min_decibels(number()?)
                .map_err(|e| web_error(&what, e))?;
        }
        "maxDecibels" => {
            node.set_max_decibels(number()?)
                .map_err(|e| web_error(&what, e))?;
        }
        "smoothingTimeConstant" => {
            node.set_smoothing_time_constant(number()?)
                .map_err(|e| web_error(&what, e))?;
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

/// Applies the channel keys of `maps` to the node on `e` after its own check (`kind`'s, or the
/// destination's when `None`): a rejected configuration throws and changes nothing.
fn set_channel_config(
    world: &mut World,
    e: Entity,
    kind: Option<&dyn NodeKind>,
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
    match kind {
        Some(kind) => kind.validate_channels(world, e, &config)?,
        None => validate_channels_of::<AudioDestinationNode>(world, e, what, &config)?,
    }
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
    type_name: String,
}

/// A built graph: the offline `App` and the entity of every node id.
struct Graph {
    app: App,
    nodes: HashMap<String, Built>,
}

impl Graph {
    fn node(&self, id: &str) -> Result<&Built, CaseError> {
        self.nodes
            .get(id)
            .ok_or_else(|| CaseError::Invalid(format!("unknown node `{id}`")))
    }
}

/// Builds a case into a new offline `App` and returns it, ready for `app.render(case.length)`
/// (the first sync has run). Timed actions and read-backs are not applied: see [`run_case`].
///
/// # Errors
/// See [`CaseError`].
pub fn build(case: &Case) -> Result<App, CaseError> {
    build_graph(case).map(|g| g.app)
}

fn build_graph(case: &Case) -> Result<Graph, CaseError> {
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
        set_channel_config(world, destination, None, "destination", &mut [&mut o])
            .map_err(at("destination"))?;
        o.finish()?;
    }
    // Listener automation.
    if let Some(listener) = &case.listener
        && !listener.is_empty()
    {
        spawn_listener(world, listener).map_err(at("listener"))?;
    }
    // Nodes: constructor with options, then set.
    let mut nodes: HashMap<String, Built> = HashMap::new();
    nodes.insert(
        "destination".into(),
        Built {
            entity: destination,
            kind: None,
            type_name: "AudioDestinationNode".into(),
        },
    );
    for n in &case.nodes {
        if nodes.contains_key(n.id.as_str()) || n.id == "listener" {
            return Err(CaseError::Invalid(format!(
                "duplicate or reserved node id `{}`",
                n.id
            )));
        }
        let kind = node_kind(&n.node_type).expect("checked above");
        let mut options = Options::new(format!("{} option", n.node_type), &n.options);
        let mut set = Options::new(format!("{} attribute", n.node_type), &n.set);
        let entity = kind
            .spawn(world, &mut options, &mut set, case.sample_rate)
            .map_err(at(&n.id))?;
        set_channel_config(
            world,
            entity,
            Some(kind.as_ref()),
            &n.node_type,
            &mut [&mut options, &mut set],
        )
        .map_err(at(&n.id))?;
        options.finish()?;
        set.finish()?;
        nodes.insert(
            n.id.clone(),
            Built {
                entity,
                kind: Some(kind),
                type_name: n.node_type.clone(),
            },
        );
    }
    // Params: node order, param order as written, event order.
    for n in &case.nodes {
        let built = &nodes[n.id.as_str()];
        apply_params(world, built, &n.params).map_err(at(&n.id))?;
    }
    // Connections, in list order.
    for (k, c) in case.connections.iter().enumerate() {
        connect(world, &nodes, c).map_err(at(&format!("connections[{k}]")))?;
    }
    // start / stop, in node order.
    for n in &case.nodes {
        let built = &nodes[n.id.as_str()];
        let kind = built.kind.as_ref().expect("a node");
        if let Some(start) = &n.start {
            kind.start(world, built.entity, &start_args(start, &n.id)?)
                .map_err(at(&n.id))?;
        }
        if let Some(stop) = n.stop {
            kind.stop(world, built.entity, stop).map_err(at(&n.id))?;
        }
    }
    // Sync the ECS to the renderer and report any error the engine raised.
    app.world_mut()
        .resource_mut::<Messages<AudioGraphError>>()
        .clear();
    sync(&mut app)?;
    Ok(Graph { app, nodes })
}

/// `app.update()`: the ECS changes reach the renderer; any error the engine raised fails.
fn sync(app: &mut App) -> Result<(), CaseError> {
    app.update();
    let errors: Vec<String> = app
        .world_mut()
        .resource_mut::<Messages<AudioGraphError>>()
        .drain()
        .map(|e| format!("{:?}: {}", e.entity, e.error))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CaseError::Engine(errors.join("; ")))
    }
}

/// A node's (or the listener's) `params`: param name -> automation events.
fn apply_params(
    world: &mut World,
    built: &Built,
    params: &Map<String, Value>,
) -> Result<(), CaseError> {
    let kind = built.kind.as_ref().ok_or_else(|| {
        CaseError::Unsupported("automation of the destination (it has no params)".into())
    })?;
    for (name, events) in params {
        let what = format!("{}.{name}", built.type_name);
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
    Ok(())
}

/// One connection (any form of FORMAT.md's *Connections*), through `connect` on the source's
/// `EntityCommands`.
fn connect(world: &mut World, nodes: &HashMap<String, Built>, c: &Value) -> Result<(), CaseError> {
    let c = Connection::parse(c)?;
    let from = nodes
        .get(c.from.as_str())
        .ok_or_else(|| CaseError::Invalid(format!("connection from unknown node `{}`", c.from)))?;
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
    Ok(())
}

/// A `disconnect` action (FORMAT.md, *Timed actions*). `disconnect()` and
/// `disconnect(destination)` use the crate's `EntityCommands` methods; the forms naming an
/// output, input or param despawn the matching connection entities, as a game would. A form
/// that names a connection that does not exist throws `InvalidAccessError` (the spec's rule).
fn disconnect(
    world: &mut World,
    nodes: &HashMap<String, Built>,
    d: &Value,
) -> Result<(), CaseError> {
    let bad = || CaseError::Invalid(format!("malformed disconnect {d}"));
    let node = |id: &Value| -> Result<Entity, CaseError> {
        let id = id.as_str().ok_or_else(bad)?;
        nodes
            .get(id)
            .map(|b| b.entity)
            .ok_or_else(|| CaseError::Invalid(format!("disconnect: unknown node `{id}`")))
    };
    let idx = |v: &Value| {
        v.as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(bad)
    };
    // (from, to, output, input, param)
    type Form = (
        Entity,
        Option<Entity>,
        Option<u32>,
        Option<u32>,
        Option<String>,
    );
    let form: Form = match d {
        Value::String(_) => (node(d)?, None, None, None, None),
        Value::Array(a) => {
            let from = node(a.first().ok_or_else(bad)?)?;
            let to = node(a.get(1).ok_or_else(bad)?)?;
            match a.get(2) {
                None => (from, Some(to), None, None, None),
                Some(Value::String(p)) => (
                    from,
                    Some(to),
                    a.get(3).map(idx).transpose()?,
                    None,
                    Some(p.clone()),
                ),
                Some(o) => (
                    from,
                    Some(to),
                    Some(idx(o)?),
                    a.get(3).map(idx).transpose()?,
                    None,
                ),
            }
        }
        Value::Object(o) => {
            for key in o.keys() {
                if !["from", "to", "param", "output", "input"].contains(&key.as_str()) {
                    return Err(CaseError::Unsupported(format!("disconnect key `{key}`")));
                }
            }
            (
                node(o.get("from").ok_or_else(bad)?)?,
                o.get("to").map(node).transpose()?,
                o.get("output").map(idx).transpose()?,
                o.get("input").map(idx).transpose()?,
                o.get("param")
                    .map(|p| p.as_str().map(str::to_string).ok_or_else(bad))
                    .transpose()?,
            )
        }
        _ => return Err(bad()),
    };
    let (from, to, output, input, param) = form;
    if to.is_none() && output.is_none() {
        world.commands().entity(from).disconnect_all();
        world.flush();
        return Ok(());
    }
    if output.is_none() && input.is_none() && param.is_none() {
        let to = to.expect("checked");
        if !edges(world, from).iter().any(|&(_, t, _)| t == to) {
            return Err(not_connected(d));
        }
        world.commands().entity(from).disconnect(to);
        world.flush();
        return Ok(());
    }
    let param = param
        .map(|p| {
            ParamId::from_name(&p)
                .ok_or_else(|| CaseError::Unsupported(format!("disconnect from param `{p}`")))
        })
        .transpose()?;
    let matching: Vec<Entity> = edges(world, from)
        .into_iter()
        .filter(|&(_, t, c)| {
            to.is_none_or(|to| t == to)
                && output.is_none_or(|o| c.output == o)
                && match (param, c.target) {
                    (Some(p), ConnectionTarget::Param(q)) => p == q,
                    (Some(_), ConnectionTarget::Input(_)) => false,
                    (None, ConnectionTarget::Input(i)) => input.is_none_or(|x| x == i),
                    (None, ConnectionTarget::Param(_)) => to.is_none(),
                }
        })
        .map(|(e, ..)| e)
        .collect();
    if matching.is_empty() {
        return Err(not_connected(d));
    }
    for e in matching {
        world.despawn(e);
    }
    Ok(())
}

fn not_connected(d: &Value) -> CaseError {
    web_error(
        "disconnect",
        WebAudioError::InvalidAccess(format!("{d}: no such connection")),
    )
}

/// The connection entities leaving `from`: (edge, destination, connection).
fn edges(world: &mut World, from: Entity) -> Vec<(Entity, Entity, AudioConnection)> {
    let mut q = world.query::<(Entity, &ConnectionFrom, &ConnectionTo, &AudioConnection)>();
    q.iter(world)
        .filter(|(_, f, ..)| f.0 == from)
        .map(|(e, _, t, c)| (e, t.0, *c))
        .collect()
}

/// One timed action (FORMAT.md, *Timed actions*), applied to the ECS as a game would.
fn apply_action(
    world: &mut World,
    graph: &Graph,
    sample_rate: f64,
    action: &Value,
) -> Result<(), CaseError> {
    let bad = || CaseError::Invalid(format!("malformed action {action}"));
    let obj = action
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(bad)?;
    let (kind, v) = obj.iter().next().expect("one key");
    fn target<'v>(v: &'v Value, action: &Value) -> Result<&'v str, CaseError> {
        v.get("node")
            .and_then(Value::as_str)
            .ok_or_else(|| CaseError::Invalid(format!("action {action} names no node")))
    }
    match kind.as_str() {
        "set" => {
            let id = target(v, action)?;
            let built = graph.node(id)?;
            let attrs = v.as_object().ok_or_else(bad)?;
            for (key, value) in attrs {
                if key == "node" {
                    continue;
                }
                if is_channel_key(key) {
                    let mut one = Map::new();
                    one.insert(key.clone(), value.clone());
                    let mut o = Options::new(format!("{} attribute", built.type_name), &one);
                    set_channel_config(
                        world,
                        built.entity,
                        built.kind.as_deref(),
                        &built.type_name,
                        &mut [&mut o],
                    )?;
                    continue;
                }
                let known = match &built.kind {
                    Some(k) => k.set(world, built.entity, key, value)?,
                    None => false,
                };
                if !known {
                    return Err(CaseError::Unsupported(format!(
                        "{} attribute `{key}` set while rendering",
                        built.type_name
                    )));
                }
            }
            let _ = sample_rate;
            Ok(())
        }
        "call" => {
            let id = target(v, action)?;
            let method = v.get("method").and_then(Value::as_str).ok_or_else(bad)?;
            let args: &[Value] = match v.get("args") {
                None => &[],
                Some(Value::Array(a)) => a,
                Some(_) => return Err(bad()),
            };
            let numbers = || -> Result<Vec<f64>, CaseError> {
                (0..args.len())
                    .map(|i| number_arg(args, i, method))
                    .collect()
            };
            if id == "listener" {
                return listener_call(world, method, &numbers()?);
            }
            let built = graph.node(id)?;
            let kind = built.kind.as_ref().ok_or_else(|| {
                CaseError::Unsupported(format!("destination.{method}() while rendering"))
            })?;
            match method {
                "start" => kind.start(world, built.entity, &numbers()?),
                "stop" => {
                    let when = numbers()?.first().copied().unwrap_or(0.0);
                    kind.stop(world, built.entity, when)
                }
                "setPeriodicWave" if built.type_name == "OscillatorNode" => {
                    let obj = args.first().and_then(Value::as_object).ok_or_else(bad)?;
                    let wave = periodic_wave("OscillatorNode.setPeriodicWave", obj)?;
                    let mut osc = world
                        .get_mut::<OscillatorNode>(built.entity)
                        .ok_or_else(|| CaseError::Engine("oscillator vanished".into()))?;
                    osc.set_periodic_wave(wave);
                    Ok(())
                }
                "setPosition" | "setOrientation" if built.type_name == "PannerNode" => {
                    let what = format!("PannerNode.{method}");
                    let [x, y, z] = vector_args::<3>(&what, &numbers()?)?;
                    let mut panner = world
                        .get_mut::<PannerNode>(built.entity)
                        .ok_or_else(|| CaseError::Engine("panner vanished".into()))?;
                    let set = if method == "setPosition" {
                        panner.set_position(x, y, z)
                    } else {
                        panner.set_orientation(x, y, z)
                    };
                    set.map(drop).map_err(|e| web_error(what, e))
                }
                _ => Err(CaseError::Unsupported(format!(
                    "{}.{method}() as a timed action",
                    built.type_name
                ))),
            }
        }
        "params" => {
            let id = target(v, action)?;
            let mut params = v.as_object().ok_or_else(bad)?.clone();
            params.remove("node");
            if id == "listener" {
                return listener_params(world, &params);
            }
            apply_params(world, graph.node(id)?, &params)
        }
        "connect" => connect(world, &graph.nodes, v),
        "disconnect" => disconnect(world, &graph.nodes, v),
        _ => Err(CaseError::Unsupported(format!("action `{kind}`"))),
    }
}

/// The `AudioListener` entity (spawned by the build, else now).
fn listener_entity(world: &mut World) -> Entity {
    let mut q = world.query_filtered::<Entity, With<AudioListener>>();
    match q.iter(world).next() {
        Some(e) => e,
        None => world
            .spawn((AudioListener::default(), Name::new("AudioListener")))
            .id(),
    }
}

/// `N` numbers as `f32`, for the deprecated vector setters.
fn vector_args<const N: usize>(what: &str, args: &[f64]) -> Result<[f32; N], CaseError> {
    let v: Vec<f32> = args.iter().map(|&x| x as f32).collect();
    v.try_into()
        .map_err(|_| CaseError::Invalid(format!("{what} takes {N} numbers, got {}", args.len())))
}

/// `listener.setPosition(x, y, z)` / `listener.setOrientation(x, y, z, xUp, yUp, zUp)`.
fn listener_call(world: &mut World, method: &str, args: &[f64]) -> Result<(), CaseError> {
    let entity = listener_entity(world);
    let what = format!("AudioListener.{method}");
    let mut listener = world
        .get_mut::<AudioListener>(entity)
        .ok_or_else(|| CaseError::Engine("listener vanished".into()))?;
    let set = match method {
        "setPosition" => {
            let [x, y, z] = vector_args::<3>(&what, args)?;
            listener.set_position(x, y, z)
        }
        "setOrientation" => {
            let [x, y, z, ux, uy, uz] = vector_args::<6>(&what, args)?;
            listener.set_orientation(x, y, z, ux, uy, uz)
        }
        _ => {
            return Err(CaseError::Unsupported(format!(
                "{what}() as a timed action"
            )));
        }
    };
    set.map(drop).map_err(|e| web_error(what, e))
}

/// Automation of the `AudioListener` entity (spawned by the build, else now).
fn listener_params(world: &mut World, params: &Map<String, Value>) -> Result<(), CaseError> {
    let entity = listener_entity(world);
    for (name, events) in params {
        let what = format!("AudioListener.{name}");
        let id = ParamId::from_name(name)
            .ok_or_else(|| CaseError::Unsupported(format!("param `{what}`")))?;
        let events = events
            .as_array()
            .ok_or_else(|| CaseError::Invalid(format!("{what}: events must be an array")))?;
        let mut listener = world
            .get_mut::<AudioListener>(entity)
            .ok_or_else(|| CaseError::Engine("listener vanished".into()))?;
        let param = listener
            .param_by_id(id)
            .ok_or_else(|| CaseError::Unsupported(format!("param `{what}`")))?;
        events
            .iter()
            .try_for_each(|ev| apply_event(param, ev, &what))?;
    }
    Ok(())
}

/// A float as JSON: finite numbers as numbers, others as `"Infinity"`, `"-Infinity"`, `"NaN"`
/// (FORMAT.md, *Read-backs*).
pub fn json_number(x: f64) -> Value {
    match serde_json::Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::String("NaN".into()),
        None if x > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// One read-back, as the object written to `NAME.readback.json`.
fn read_back(
    world: &mut World,
    graph: &Graph,
    sample_rate: f64,
    r: &Readback,
) -> Result<Value, CaseError> {
    let built = graph.node(&r.node)?;
    let e = built.entity;
    let mut out = serde_json::json!({
        "id": r.id, "node": r.node, "method": r.method,
        "time": r.time.map_or(Value::Null, json_number),
    });
    let floats = |v: &[f32]| Value::Array(v.iter().map(|&x| json_number(f64::from(x))).collect());
    let bytes = |v: &[u8]| Value::Array(v.iter().map(|&x| Value::from(x)).collect());
    let vanished = || CaseError::Engine(format!("node `{}` vanished", r.node));
    if let Some(attribute) = &r.attribute {
        let value = match (built.type_name.as_str(), attribute.as_str()) {
            ("DynamicsCompressorNode", "reduction") => world
                .get::<DynamicsCompressorNode>(e)
                .ok_or_else(vanished)?
                .reduction(),
            (ty, a) => {
                return Err(CaseError::Unsupported(format!("read-back of {ty}.{a}")));
            }
        };
        out["attribute"] = Value::from(attribute.as_str());
        out["data"] = floats(&[value]);
        return Ok(out);
    }
    if r.method == "getFrequencyResponse" {
        let freqs: Vec<f32> = r.frequencies.iter().map(|&f| f as f32).collect();
        let mut mag = vec![0.0f32; r.mag_response_length.unwrap_or(freqs.len())];
        let mut phase = vec![0.0f32; r.phase_response_length.unwrap_or(freqs.len())];
        let sr = sample_rate as f32;
        let res = match built.type_name.as_str() {
            "BiquadFilterNode" => world
                .get::<BiquadFilterNode>(e)
                .ok_or_else(vanished)?
                .get_frequency_response(sr, &freqs, &mut mag, &mut phase),
            "IIRFilterNode" => world
                .get::<IIRFilterNode>(e)
                .ok_or_else(vanished)?
                .get_frequency_response(sr, &freqs, &mut mag, &mut phase),
            other => {
                return Err(CaseError::Invalid(format!(
                    "{other} has no getFrequencyResponse"
                )));
            }
        };
        res.map_err(|e| web_error("getFrequencyResponse", e))?;
        out["frequencies"] = floats(&freqs);
        out["magResponse"] = floats(&mag);
        out["phaseResponse"] = floats(&phase);
        return Ok(out);
    }
    if built.type_name != "AnalyserNode" {
        return Err(CaseError::Invalid(format!(
            "{}.{}: not an AnalyserNode",
            r.node, r.method
        )));
    }
    let mut an = world.get_mut::<AnalyserNode>(e).ok_or_else(vanished)?;
    let (fft, bins) = (an.fft_size(), an.frequency_bin_count());
    out["data"] = match r.method.as_str() {
        "getFloatTimeDomainData" => {
            let mut a = vec![0.0f32; fft];
            an.get_float_time_domain_data(&mut a);
            floats(&a)
        }
        "getByteTimeDomainData" => {
            let mut a = vec![0u8; fft];
            an.get_byte_time_domain_data(&mut a);
            bytes(&a)
        }
        "getFloatFrequencyData" => {
            let mut a = vec![0.0f32; bins];
            an.get_float_frequency_data(&mut a);
            floats(&a)
        }
        "getByteFrequencyData" => {
            let mut a = vec![0u8; bins];
            an.get_byte_frequency_data(&mut a);
            bytes(&a)
        }
        other => {
            return Err(CaseError::Unsupported(format!(
                "read-back method `{other}`"
            )));
        }
    };
    Ok(out)
}

/// What running a case produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The render; `None` when the case threw while building (FORMAT.md, *Expected errors*).
    pub rendered: Option<Rendered>,
    /// The read-backs in `readbacks` order, as written to `NAME.readback.json`.
    pub readbacks: Vec<Value>,
    /// Every exception thrown (each a [`CaseError::Thrown`]), in order.
    pub thrown: Vec<CaseError>,
}

impl Outcome {
    /// The `NAME.readback.json` document, when the case has read-backs.
    pub fn readback_json(&self, case: &Case) -> Option<Value> {
        (!case.readbacks.is_empty())
            .then(|| serde_json::json!({"name": case.name, "readbacks": self.readbacks}))
    }

    /// The first exception as `{"at", "name", "message"}` (`NAME.json`'s `error`).
    pub fn error_json(&self) -> Option<Value> {
        match self.thrown.first() {
            Some(CaseError::Thrown { at, name, message }) => {
                Some(serde_json::json!({"at": at, "name": name, "message": message}))
            }
            _ => None,
        }
    }

    /// Checks the exceptions against the case's `expectError`: exactly the one expected (same
    /// name, same step), or none when nothing is expected.
    ///
    /// # Errors
    /// A message saying what differs.
    pub fn check_errors(&self, case: &Case) -> Result<(), String> {
        let show = |e: &CaseError| e.to_string();
        match (&case.expect_error, self.thrown.as_slice()) {
            (None, []) => Ok(()),
            (None, t) => Err(format!(
                "unexpected exception: {}",
                t.iter().map(show).collect::<Vec<_>>().join("; ")
            )),
            (Some(e), []) => Err(format!(
                "expected {} at {}, nothing was thrown",
                e.name, e.at
            )),
            (Some(e), [CaseError::Thrown { at, name, .. }]) if *at == e.at && *name == e.name => {
                Ok(())
            }
            (Some(e), t) => Err(format!(
                "expected {} at {}, got {}",
                e.name,
                e.at,
                t.iter().map(show).collect::<Vec<_>>().join("; ")
            )),
        }
    }
}

/// Runs a case as FORMAT.md describes: builds it through the public API, takes the read-backs
/// without a time, then renders in pieces: up to each action or read-back time, reads back,
/// applies the actions to the ECS (as a game would between two frames), syncs, and renders on.
/// Exceptions (the crate's [`WebAudioError`]s) are collected in [`Outcome::thrown`], not
/// returned: a build-time one ends the case without a render, an action's skips that action.
/// Only the `render` calls are timed in `render_ms`.
///
/// # Errors
/// Any other [`CaseError`] (a malformed case, a missing feature, an engine failure).
pub fn run_case(case: &Case) -> Result<Outcome, CaseError> {
    // The timed steps, by frame: (read-back indices, action-entry indices).
    let mut timed: std::collections::BTreeMap<usize, (Vec<usize>, Vec<usize>)> =
        std::collections::BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    for (k, r) in case.readbacks.iter().enumerate() {
        if !ids.insert(r.id.as_str()) {
            return Err(CaseError::Invalid(format!("readbacks[{k}]: duplicate id")));
        }
        match r.time {
            Some(t) => timed
                .entry(case.suspend_frame(t, &format!("readbacks[{k}]"))?)
                .or_default()
                .0
                .push(k),
            None if r.method != "getFrequencyResponse" => {
                return Err(CaseError::Invalid(format!(
                    "readbacks[{k}]: an analyser or attribute read-back needs a time"
                )));
            }
            None => {}
        }
    }
    let mut last = 0;
    for (i, entry) in case.actions.iter().enumerate() {
        let f = case.suspend_frame(entry.time, &format!("actions[{i}]"))?;
        if f <= last {
            return Err(CaseError::Invalid(format!(
                "actions[{i}]: times must strictly increase"
            )));
        }
        last = f;
        timed.entry(f).or_default().1.push(i);
    }
    let ended = |e: CaseError| -> Result<Outcome, CaseError> {
        if case.expect_error.is_some() && matches!(e, CaseError::Thrown { .. }) {
            Ok(Outcome {
                rendered: None,
                readbacks: Vec::new(),
                thrown: vec![e],
            })
        } else {
            Err(e)
        }
    };
    let t0 = Instant::now();
    let mut graph = match build_graph(case) {
        Ok(g) => g,
        Err(e) => return ended(e),
    };
    let mut readbacks = vec![Value::Null; case.readbacks.len()];
    let mut app = std::mem::replace(&mut graph.app, App::empty());
    for (k, r) in case.readbacks.iter().enumerate() {
        if r.time.is_none() {
            match read_back(app.world_mut(), &graph, case.sample_rate, r)
                .map_err(at(&format!("readbacks[{k}]")))
            {
                Ok(v) => readbacks[k] = v,
                Err(e) => return ended(e),
            }
        }
    }
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut channels: Vec<Vec<f32>> =
        vec![Vec::with_capacity(case.length); case.number_of_channels];
    let mut render_ms = 0.0;
    let mut render_to = |app: &mut App, channels: &mut Vec<Vec<f32>>, frames: usize| {
        let t = Instant::now();
        let out = app
            .render(frames)
            .map_err(|e| CaseError::Engine(e.to_string()))?;
        render_ms += t.elapsed().as_secs_f64() * 1e3;
        if out.len() != channels.len() {
            return Err(CaseError::Engine(format!(
                "rendered {} channels, expected {}",
                out.len(),
                channels.len()
            )));
        }
        for (c, o) in channels.iter_mut().zip(out) {
            c.extend(o);
        }
        Ok(())
    };
    let mut thrown = Vec::new();
    let mut pos = 0;
    for (&frame, (rbs, entries)) in &timed {
        render_to(&mut app, &mut channels, frame - pos)?;
        pos = frame;
        for &k in rbs {
            match read_back(
                app.world_mut(),
                &graph,
                case.sample_rate,
                &case.readbacks[k],
            )
            .map_err(at(&format!("readbacks[{k}]")))
            {
                Ok(v) => readbacks[k] = v,
                Err(e @ CaseError::Thrown { .. }) => thrown.push(e),
                Err(e) => return Err(e),
            }
        }
        for &i in entries {
            for (j, action) in case.actions[i].actions.iter().enumerate() {
                match apply_action(app.world_mut(), &graph, case.sample_rate, action)
                    .map_err(at(&format!("actions[{i}].do[{j}]")))
                {
                    Ok(()) => {}
                    Err(e @ CaseError::Thrown { .. }) => thrown.push(e),
                    Err(e) => return Err(e),
                }
            }
        }
        sync(&mut app)?;
    }
    render_to(&mut app, &mut channels, case.length - pos)?;
    Ok(Outcome {
        rendered: Some(Rendered {
            name: case.name.clone(),
            sample_rate: case.sample_rate,
            length: case.length,
            channels,
            build_ms,
            render_ms,
        }),
        readbacks,
        thrown,
    })
}

/// Builds a case through the public API and renders it offline (with its timed actions).
/// Only `render()` is timed in `render_ms`.
///
/// # Errors
/// See [`CaseError`]; also [`CaseError::Invalid`] when the exceptions thrown differ from the
/// case's `expectError`, and the exception itself when the case ended while building.
pub fn build_and_render(case: &Case) -> Result<Rendered, CaseError> {
    let outcome = run_case(case)?;
    outcome.check_errors(case).map_err(CaseError::Invalid)?;
    match outcome.rendered {
        Some(r) => Ok(r),
        None => Err(outcome.thrown.into_iter().next().expect("an exception")),
    }
}
