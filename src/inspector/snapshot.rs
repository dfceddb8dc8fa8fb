//! [`InspectorSnapshot`]: everything the panels show, copied out of the `World` once per
//! frame (nodes with their params and read-backs, edges, engine and microphone readings), so
//! the panels are plain functions over data and can be embedded or tested without Bevy.

use bevy::prelude::*;

use std::any::TypeId;

use webaudio_engine::command::COMMAND_CAPACITY;
use webaudio_engine::render::probe::NodeProbe;

use crate::context::{AudioContext, AudioContextState};
use crate::ecs::access::{AudioNodeRegistry, ParamInfo};
use crate::ecs::connection::{AudioConnection, ConnectionFrom, ConnectionTarget, ConnectionTo};
use crate::ecs::engine::AudioEngine;
use crate::ecs::meter::Metered;
use crate::microphone::Microphone;
use crate::microphone::analysis::amplitude_to_dbfs;
use crate::node::analyser::AnalyserNode;
use crate::node::audio_buffer_source::AudioBufferSourceNode;
use crate::node::biquad_filter::BiquadFilterNode;
use crate::node::dynamics_compressor::DynamicsCompressorNode;
use crate::node::media_stream_audio_source::MediaStreamAudioSourceNode;
use crate::param::{AutomationRate, ParamId};

/// Points of a biquad's frequency-response curve.
pub const RESPONSE_POINTS: usize = 128;
/// Points of an analyser's waveform plot (the most recent frames).
pub const WAVEFORM_POINTS: usize = 512;

/// One param as the panels show it.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSnapshot {
    /// Which param.
    pub id: ParamId,
    /// The intrinsic value on the component (what the slider edits).
    pub value: f32,
    /// `defaultValue`.
    pub default: f32,
    /// `minValue` at this context's sample rate.
    pub min: f32,
    /// `maxValue` at this context's sample rate.
    pub max: f32,
    /// `automationRate`.
    pub rate: AutomationRate,
    /// The render side's computed value and whether automation runs (metered nodes only).
    pub render: Option<RenderParam>,
}

/// A param's render-side state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderParam {
    /// The computed value at the end of the last quantum.
    pub value: f32,
    /// Varying within the quantum, or events still to come.
    pub automating: bool,
}

/// A metered node's output level over the last window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeterReading {
    /// Peak (linear).
    pub peak: f32,
    /// RMS (linear).
    pub rms: f32,
    /// Windows measured so far.
    pub windows: u64,
}

impl MeterReading {
    /// Peak in dBFS.
    pub fn peak_dbfs(&self) -> f32 {
        amplitude_to_dbfs(self.peak)
    }

    /// RMS in dBFS.
    pub fn rms_dbfs(&self) -> f32 {
        amplitude_to_dbfs(self.rms)
    }
}

/// Views only some node types have.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum NodeExtra {
    /// Nothing special.
    #[default]
    None,
    /// A biquad's magnitude response: `(frequency Hz, dB)` on a log-spaced grid, at the
    /// render-side param values when metered, else the intrinsic ones.
    Biquad(Vec<[f64; 2]>),
    /// A compressor's `reduction` in dB.
    Compressor {
        /// dB, 0 or negative.
        reduction: f32,
    },
    /// A buffer source's playhead in seconds (None: not playing or not metered).
    BufferSource {
        /// Seconds of buffer time.
        position: Option<f32>,
    },
    /// An analyser's current data.
    Analyser(Box<AnalyserData>),
    /// The microphone's readings (a `MediaStreamAudioSourceNode` with a `Microphone`).
    Microphone,
}

/// An analyser's data for the plots.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnalyserData {
    /// `getFloatFrequencyData`, dB per bin.
    pub spectrum: Vec<f32>,
    /// Hz per bin.
    pub bin_hz: f32,
    /// `minDecibels`, `maxDecibels`.
    pub decibels: (f64, f64),
    /// The most recent frames (`getFloatTimeDomainData`, the tail).
    pub waveform: Vec<f32>,
}

/// One node entity.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSnapshot {
    /// The node's entity.
    pub entity: Entity,
    /// Its Web Audio interface name.
    pub kind: &'static str,
    /// Its `Name`, else the kind and entity.
    pub label: String,
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Params in render order.
    pub params: Vec<ParamSnapshot>,
    /// Output level, when the entity is [`Metered`].
    pub meter: Option<MeterReading>,
    /// Node-specific data.
    pub extra: NodeExtra,
}

/// One connection entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeSnapshot {
    /// The connection entity.
    pub entity: Entity,
    /// Source node.
    pub from: Entity,
    /// Destination node.
    pub to: Entity,
    /// Source output index.
    pub output: u32,
    /// Destination input or param.
    pub target: ConnectionTarget,
}

/// The engine's readings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineSnapshot {
    /// Output device name.
    pub device: String,
    /// Which backend renders (`Cpal`, `Null`, `Offline`).
    pub backend: String,
    /// Running or suspended.
    pub running: bool,
    /// Hz.
    pub sample_rate: f32,
    /// Output channels.
    pub channels: u16,
    /// Frames per device callback (0: not observed).
    pub buffer_frames: u32,
    /// `baseLatency` in seconds.
    pub base_latency: f64,
    /// `outputLatency` in seconds.
    pub output_latency: f64,
    /// Render load `(last, average, peak)`.
    pub render_load: (f32, f32, f32),
    /// Device xruns plus overruns.
    pub xruns: u64,
    /// Commands in the ring not yet applied.
    pub queue_in_flight: usize,
    /// The ring's capacity.
    pub queue_capacity: usize,
    /// Commands waiting for room in the ring.
    pub queue_backlog: usize,
    /// Frames the ring was full.
    pub back_pressure: u64,
    /// Nodes alive on the render side.
    pub node_count: usize,
    /// `currentTime` in seconds.
    pub current_time: f64,
}

/// The microphone's readings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MicrophoneSnapshot {
    /// Input device name (empty when unavailable).
    pub device: String,
    /// Capturing.
    pub available: bool,
    /// RMS level in dBFS.
    pub level_dbfs: f32,
    /// Peak in dBFS.
    pub peak_dbfs: f32,
    /// Estimated pitch in Hz.
    pub pitch_hz: Option<f32>,
    /// Voice activity.
    pub voice_active: bool,
    /// Frames captured.
    pub captured: u64,
    /// Frames dropped (a full ring).
    pub dropped: u64,
    /// Underruns of the render side's reads.
    pub underruns: u64,
    /// Device xruns.
    pub xruns: u64,
}

/// Everything the panels show, for one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InspectorSnapshot {
    /// Node entities, in a stable order (by entity).
    pub nodes: Vec<NodeSnapshot>,
    /// Connection entities.
    pub edges: Vec<EdgeSnapshot>,
    /// Engine readings.
    pub engine: EngineSnapshot,
    /// Microphone readings, when a `Microphone` resource exists.
    pub microphone: Option<MicrophoneSnapshot>,
}

impl InspectorSnapshot {
    /// Copies the graph and the readings out of `world` (needs the `WebAudioPlugin`'s
    /// resources; an empty snapshot without them). Marks nothing changed.
    pub fn build(world: &mut World) -> Self {
        let Some(entities) = node_entities(world) else {
            return Self::default();
        };
        let sample_rate = world.resource::<AudioContext>().sample_rate();
        let nodes = entities
            .into_iter()
            .filter_map(|(entity, kind, name)| {
                node_snapshot(world, entity, kind, name, sample_rate)
            })
            .collect();
        Self {
            nodes,
            edges: edges(world),
            engine: engine(world),
            microphone: world.get_resource::<Microphone>().map(microphone),
        }
    }

    /// The node of `entity`.
    pub fn node(&self, entity: Entity) -> Option<&NodeSnapshot> {
        self.nodes.iter().find(|n| n.entity == entity)
    }

    /// A node's label (its entity's debug form when unknown).
    pub fn label(&self, entity: Entity) -> String {
        self.node(entity)
            .map_or_else(|| entity.to_string(), |n| n.label.clone())
    }
}

fn node_entities(world: &mut World) -> Option<Vec<(Entity, TypeId, &'static str)>> {
    let engine = world.get_resource::<AudioEngine>()?;
    let mut entities: Vec<_> = engine
        .nodes
        .iter()
        .map(|(&e, r)| (e, r.kind, r.name))
        .collect();
    entities.sort_by_key(|(e, _, _)| *e);
    Some(entities)
}

fn node_snapshot(
    world: &mut World,
    entity: Entity,
    type_id: TypeId,
    kind: &'static str,
    sample_rate: f32,
) -> Option<NodeSnapshot> {
    let access = world.get_resource::<AudioNodeRegistry>()?.get(type_id)?;
    let shape = access.shape(world, entity)?;
    let mut infos = Vec::new();
    access.params(world, entity, &mut infos);
    let probe = world.get::<Metered>(entity).map(Metered::probe);
    let params = infos
        .iter()
        .map(|info| param_snapshot(info, probe, sample_rate))
        .collect::<Vec<_>>();
    let meter = probe.map(|p| MeterReading {
        peak: p.peak(),
        rms: p.rms(),
        windows: p.windows(),
    });
    let readout = probe.map(NodeProbe::readout);
    let label = world
        .get::<Name>(entity)
        .map_or_else(|| format!("{kind} {entity}"), |n| n.as_str().to_owned());
    let extra = node_extra(world, entity, &params, readout, sample_rate);
    Some(NodeSnapshot {
        entity,
        kind,
        label,
        inputs: shape.inputs,
        outputs: shape.outputs,
        params,
        meter,
        extra,
    })
}

fn param_snapshot(info: &ParamInfo, probe: Option<&NodeProbe>, sample_rate: f32) -> ParamSnapshot {
    let (min, max) = info.descriptor.range_at(sample_rate);
    let render = probe
        .map(|p| RenderParam {
            value: p.param_value(info.slot),
            automating: p.automating(info.slot),
        })
        .filter(|r| !r.value.is_nan());
    ParamSnapshot {
        id: info.id,
        value: info.value,
        default: info.descriptor.default_value,
        min,
        max,
        rate: info.rate,
        render,
    }
}

fn node_extra(
    world: &mut World,
    entity: Entity,
    params: &[ParamSnapshot],
    readout: Option<f32>,
    sample_rate: f32,
) -> NodeExtra {
    if let Some(b) = world.get::<BiquadFilterNode>(entity) {
        return NodeExtra::Biquad(biquad_response(b, params, sample_rate));
    }
    if let Some(c) = world.get::<DynamicsCompressorNode>(entity) {
        return NodeExtra::Compressor {
            reduction: c.reduction(),
        };
    }
    if world.get::<AudioBufferSourceNode>(entity).is_some() {
        return NodeExtra::BufferSource {
            position: readout.filter(|p| !p.is_nan()),
        };
    }
    if let Some(mut a) = world.get_mut::<AnalyserNode>(entity) {
        return NodeExtra::Analyser(Box::new(analyser_data(
            a.bypass_change_detection(),
            sample_rate,
        )));
    }
    if world.get::<MediaStreamAudioSourceNode>(entity).is_some()
        && world.contains_resource::<Microphone>()
    {
        return NodeExtra::Microphone;
    }
    NodeExtra::None
}

/// The magnitude response on a log grid from 10 Hz to Nyquist, at the render-side values of
/// the params when known.
fn biquad_response(
    node: &BiquadFilterNode,
    params: &[ParamSnapshot],
    sample_rate: f32,
) -> Vec<[f64; 2]> {
    let mut node = node.clone();
    for p in params {
        if let Some(render) = p.render {
            let param = match p.id {
                ParamId::Frequency => &mut node.frequency,
                ParamId::Q => &mut node.q,
                ParamId::Gain => &mut node.gain,
                ParamId::Detune => &mut node.detune,
                _ => continue,
            };
            let _ = param.set_value(render.value);
        }
    }
    let nyquist = sample_rate / 2.0;
    let (lo, hi) = (10f32.ln(), nyquist.ln());
    let freqs: Vec<f32> = (0..RESPONSE_POINTS)
        .map(|k| {
            (lo + (hi - lo) * k as f32 / (RESPONSE_POINTS - 1) as f32)
                .exp()
                .min(nyquist)
        })
        .collect();
    let (mut mag, mut phase) = (vec![0.0; RESPONSE_POINTS], vec![0.0; RESPONSE_POINTS]);
    if node
        .get_frequency_response(sample_rate, &freqs, &mut mag, &mut phase)
        .is_err()
    {
        return Vec::new();
    }
    freqs
        .iter()
        .zip(&mag)
        .map(|(&f, &m)| [f64::from(f), f64::from(amplitude_to_dbfs(m))])
        .collect()
}

fn analyser_data(node: &mut AnalyserNode, sample_rate: f32) -> AnalyserData {
    let mut spectrum = vec![0.0; node.frequency_bin_count()];
    node.get_float_frequency_data(&mut spectrum);
    let mut window = vec![0.0; node.fft_size()];
    node.get_float_time_domain_data(&mut window);
    let tail = window.len().saturating_sub(WAVEFORM_POINTS);
    AnalyserData {
        spectrum,
        bin_hz: sample_rate / node.fft_size() as f32,
        decibels: (node.min_decibels(), node.max_decibels()),
        waveform: window.split_off(tail),
    }
}

fn edges(world: &mut World) -> Vec<EdgeSnapshot> {
    let mut query = world.query::<(Entity, &ConnectionFrom, &ConnectionTo, &AudioConnection)>();
    let mut edges: Vec<_> = query
        .iter(world)
        .map(|(entity, from, to, c)| EdgeSnapshot {
            entity,
            from: from.0,
            to: to.0,
            output: c.output,
            target: c.target,
        })
        .collect();
    edges.sort_by_key(|e| e.entity);
    edges
}

fn engine(world: &mut World) -> EngineSnapshot {
    let (in_flight, backlog) = {
        let mut engine = world.resource_mut::<AudioEngine>();
        let control = engine.control.get();
        (control.in_flight(), control.backlog_len())
    };
    let ctx = world.resource::<AudioContext>();
    EngineSnapshot {
        device: ctx.device().name.clone(),
        backend: format!("{:?}", ctx.backend()),
        running: ctx.state() == AudioContextState::Running,
        sample_rate: ctx.sample_rate(),
        channels: ctx.channels(),
        buffer_frames: ctx.buffer_frames(),
        base_latency: ctx.base_latency(),
        output_latency: ctx.output_latency(),
        render_load: ctx.render_load(),
        xruns: ctx.xruns(),
        queue_in_flight: in_flight,
        queue_capacity: COMMAND_CAPACITY,
        queue_backlog: backlog,
        back_pressure: ctx.back_pressure(),
        node_count: ctx.node_count(),
        current_time: ctx.current_time(),
    }
}

fn microphone(mic: &Microphone) -> MicrophoneSnapshot {
    MicrophoneSnapshot {
        device: mic.device().map(|d| d.name.clone()).unwrap_or_default(),
        available: mic.is_available(),
        level_dbfs: mic.level_dbfs(),
        peak_dbfs: mic.peak_dbfs(),
        pitch_hz: mic.pitch_hz(),
        voice_active: mic.voice_active(),
        captured: mic.captured_frames(),
        dropped: mic.dropped_frames(),
        underruns: mic.underruns(),
        xruns: mic.device_xruns(),
    }
}
