//! The case file (FORMAT.md, version 1), parsed with serde_json (`float_roundtrip` so every
//! number is the exact IEEE double JavaScript wrote; `preserve_order` so params and buffers keep
//! the order they are written in).

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::CaseError;

/// One case: a graph rendered offline from time 0 for `length` frames.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    /// Unique name; output files are `NAME.f32` / `NAME.json`.
    pub name: String,
    /// `"conformance"` (default) or `"perf"`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The context's sample rate in Hz.
    pub sample_rate: f64,
    /// Frames to render.
    pub length: usize,
    /// Destination channels.
    pub number_of_channels: usize,
    /// Named buffer generators, in creation order.
    #[serde(default)]
    pub buffers: Map<String, Value>,
    /// Attributes of `ctx.destination`.
    #[serde(default)]
    pub destination: Option<Map<String, Value>>,
    /// `{"params": {...}}`: automation of the AudioListener.
    #[serde(default)]
    pub listener: Option<Map<String, Value>>,
    /// Nodes in creation order.
    pub nodes: Vec<NodeSpec>,
    /// Connections in connection order (array or object form).
    #[serde(default)]
    pub connections: Vec<Value>,
    /// Timed actions: changes applied at quantum-aligned context times while rendering.
    #[serde(default)]
    pub actions: Vec<ActionEntry>,
    /// AnalyserNode data and filter frequency responses to record.
    #[serde(default)]
    pub readbacks: Vec<Readback>,
    /// The exception the case must throw, and where.
    #[serde(default)]
    pub expect_error: Option<ExpectError>,
}

/// One entry of `actions`: what to do at `time`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionEntry {
    /// Context time in seconds (a multiple of 128 / sampleRate).
    pub time: f64,
    /// The actions, each an object with one key (`set`, `call`, `params`, `connect`,
    /// `disconnect`).
    #[serde(rename = "do")]
    pub actions: Vec<Value>,
}

/// One entry of `readbacks`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readback {
    /// Unique within the case; names the result and its threshold.
    pub id: String,
    /// The node read.
    pub node: String,
    /// `getFloatTimeDomainData`, `getByteTimeDomainData`, `getFloatFrequencyData`,
    /// `getByteFrequencyData` or `getFrequencyResponse`; empty for an attribute read.
    #[serde(default)]
    pub method: String,
    /// A read-only attribute read instead of a method (`reduction`), recorded as
    /// `data: [value]`.
    #[serde(default)]
    pub attribute: Option<String>,
    /// Context time of the read; `None`: once built (only `getFrequencyResponse`).
    #[serde(default)]
    pub time: Option<f64>,
    /// `getFrequencyResponse`'s frequencies in Hz.
    #[serde(default)]
    pub frequencies: Vec<f64>,
    /// `getFrequencyResponse`: the length of `magResponse` (default: the frequencies').
    #[serde(default, rename = "magResponseLength")]
    pub mag_response_length: Option<usize>,
    /// `getFrequencyResponse`: the length of `phaseResponse` (default: the frequencies').
    #[serde(default, rename = "phaseResponseLength")]
    pub phase_response_length: Option<usize>,
}

/// `expectError`: the exception `name` thrown at the step `at`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpectError {
    /// A node id, `destination`, `listener`, `connections[K]`, `actions[I].do[J]`,
    /// `readbacks[K]`.
    pub at: String,
    /// The exception's name.
    pub name: String,
}

/// One node of a case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique id (`"destination"` is reserved).
    pub id: String,
    /// The Web Audio interface name.
    #[serde(rename = "type")]
    pub node_type: String,
    /// Constructor options.
    #[serde(default)]
    pub options: Map<String, Value>,
    /// Attributes assigned after construction.
    #[serde(default)]
    pub set: Map<String, Value>,
    /// Param name -> list of automation events `[method, ...args]`.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// `start(when)` or `start(...args)`.
    #[serde(default)]
    pub start: Option<Value>,
    /// `stop(when)`.
    #[serde(default)]
    pub stop: Option<f64>,
}

impl Case {
    /// Parses a case from JSON text.
    ///
    /// # Errors
    /// [`CaseError::Parse`] for invalid JSON or an unknown top-level / node key.
    pub fn from_json(text: &str) -> Result<Self, CaseError> {
        serde_json::from_str(text).map_err(|e| CaseError::Parse(e.to_string()))
    }

    /// Reads and parses a case file.
    ///
    /// # Errors
    /// As [`Case::from_json`], and [`CaseError::Parse`] when the file cannot be read.
    pub fn from_path(path: &Path) -> Result<Self, CaseError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CaseError::Parse(format!("{}: {e}", path.display())))?;
        Self::from_json(&text)
    }

    /// Whether this is a performance case.
    pub fn is_perf(&self) -> bool {
        self.kind.as_deref() == Some("perf")
    }

    /// Rendered duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.length as f64 / self.sample_rate
    }

    /// The frame of a timed step's `time`: `round(time · sampleRate)`, which must be within
    /// 1e-6 of `time · sampleRate`, a multiple of 128, and inside `(0, length)` (FORMAT.md,
    /// "Timed actions": Chromium's `suspend` rounds up to a quantum boundary).
    ///
    /// # Errors
    /// [`CaseError::Invalid`] otherwise.
    pub fn suspend_frame(&self, time: f64, what: &str) -> Result<usize, CaseError> {
        let x = time * self.sample_rate;
        let f = x.round();
        // within 1e-6 of a whole frame (false for NaN), and that frame on a quantum boundary
        let on_frame = (x - f).abs() <= 1e-6;
        if !on_frame || f.rem_euclid(128.0) != 0.0 {
            return Err(CaseError::Invalid(format!(
                "{what}: time {time} is not a multiple of 128 / sampleRate (frame {x})"
            )));
        }
        if !(f > 0.0 && f < self.length as f64) {
            return Err(CaseError::Invalid(format!(
                "{what}: time {time} is outside (0, length / sampleRate)"
            )));
        }
        Ok(f as usize)
    }
}

/// A parsed connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// Source node id.
    pub from: String,
    /// Destination node id (or `"destination"`).
    pub to: String,
    /// Output index of the source.
    pub output: u32,
    /// What it feeds.
    pub target: Target,
}

/// A connection's target at its destination.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A node input by index.
    Input(u32),
    /// A param by its spec name.
    Param(String),
}

fn index(v: &Value, what: &str) -> Result<u32, CaseError> {
    v.as_u64()
        .and_then(|x| u32::try_from(x).ok())
        .ok_or_else(|| {
            CaseError::Invalid(format!(
                "connection {what} must be a non-negative integer, got {v}"
            ))
        })
}

impl Connection {
    /// Parses one entry of `connections` (any of FORMAT.md's forms).
    ///
    /// # Errors
    /// [`CaseError::Invalid`] for a malformed entry, [`CaseError::Unsupported`] for unknown keys.
    pub fn parse(v: &Value) -> Result<Self, CaseError> {
        let bad = || CaseError::Invalid(format!("malformed connection {v}"));
        match v {
            Value::Array(a) => {
                let from = a
                    .first()
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?
                    .to_string();
                let to = a
                    .get(1)
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?
                    .to_string();
                match a.get(2) {
                    None => Ok(Self {
                        from,
                        to,
                        output: 0,
                        target: Target::Input(0),
                    }),
                    Some(Value::String(param)) => {
                        if a.len() > 4 {
                            return Err(bad());
                        }
                        let output = a
                            .get(3)
                            .map(|o| index(o, "output"))
                            .transpose()?
                            .unwrap_or(0);
                        Ok(Self {
                            from,
                            to,
                            output,
                            target: Target::Param(param.clone()),
                        })
                    }
                    Some(out) => {
                        if a.len() > 4 {
                            return Err(bad());
                        }
                        let output = index(out, "output")?;
                        let input = a
                            .get(3)
                            .map(|i| index(i, "input"))
                            .transpose()?
                            .unwrap_or(0);
                        Ok(Self {
                            from,
                            to,
                            output,
                            target: Target::Input(input),
                        })
                    }
                }
            }
            Value::Object(o) => {
                for key in o.keys() {
                    if !["from", "to", "param", "output", "input"].contains(&key.as_str()) {
                        return Err(CaseError::Unsupported(format!("connection key `{key}`")));
                    }
                }
                let from = o
                    .get("from")
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?
                    .to_string();
                let to = o
                    .get("to")
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?
                    .to_string();
                let output = o
                    .get("output")
                    .map(|x| index(x, "output"))
                    .transpose()?
                    .unwrap_or(0);
                let target = match o.get("param") {
                    Some(p) => {
                        if o.contains_key("input") {
                            return Err(bad());
                        }
                        Target::Param(p.as_str().ok_or_else(bad)?.to_string())
                    }
                    None => Target::Input(
                        o.get("input")
                            .map(|x| index(x, "input"))
                            .transpose()?
                            .unwrap_or(0),
                    ),
                };
                Ok(Self {
                    from,
                    to,
                    output,
                    target,
                })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connection_forms() {
        let c = |v| Connection::parse(&v).unwrap();
        assert_eq!(c(json!(["a", "b"])).target, Target::Input(0));
        let x = c(json!(["a", "b", 1, 2]));
        assert_eq!((x.output, x.target), (1, Target::Input(2)));
        let x = c(json!(["a", "b", 1]));
        assert_eq!((x.output, x.target), (1, Target::Input(0)));
        let x = c(json!(["a", "b", "gain"]));
        assert_eq!((x.output, x.target), (0, Target::Param("gain".into())));
        let x = c(json!(["a", "b", "gain", 1]));
        assert_eq!((x.output, x.target), (1, Target::Param("gain".into())));
        let x = c(json!({"from": "a", "to": "b", "param": "gain", "output": 1}));
        assert_eq!((x.output, x.target), (1, Target::Param("gain".into())));
        let x = c(json!({"from": "a", "to": "b", "output": 1, "input": 3}));
        assert_eq!((x.output, x.target), (1, Target::Input(3)));
        assert!(Connection::parse(&json!({"from": "a", "to": "b", "weight": 1})).is_err());
    }

    #[test]
    fn suspend_frames_are_quantum_aligned() {
        let case = Case::from_json(
            r#"{"name":"x","sampleRate":48000,"length":24000,"numberOfChannels":1,"nodes":[],
                "actions":[{"time":0.256,"do":[{"connect":["a","b"]}]}],
                "readbacks":[{"id":"r","node":"an","method":"getByteFrequencyData","time":0.496}],
                "expectError":{"at":"actions[0].do[0]","name":"IndexSizeError"}}"#,
        )
        .unwrap();
        assert_eq!(case.actions[0].actions.len(), 1);
        assert_eq!(case.readbacks[0].time, Some(0.496));
        assert_eq!(case.expect_error.as_ref().unwrap().name, "IndexSizeError");
        assert_eq!(case.suspend_frame(0.256, "t").unwrap(), 12288);
        assert_eq!(case.suspend_frame(0.496, "t").unwrap(), 23808);
        assert_eq!(case.suspend_frame(0.128, "t").unwrap(), 6144);
        // 0.5 s is frame 24000 = 187.5 quanta; 0 and the end are outside.
        assert!(case.suspend_frame(0.25, "t").is_err());
        assert!(case.suspend_frame(0.0, "t").is_err());
        assert!(case.suspend_frame(0.5, "t").is_err());
        assert!(case.suspend_frame(0.1, "t").is_err());
    }

    #[test]
    fn parse_keeps_param_order_and_exact_doubles() {
        let case = Case::from_json(
            r#"{"name":"x","sampleRate":48000,"length":1,"numberOfChannels":1,
                "nodes":[{"id":"g","type":"GainNode","params":{"z":[],"a":[["setValueAtTime",0.1,0.30000000000000004]]}}]}"#,
        )
        .unwrap();
        let keys: Vec<&String> = case.nodes[0].params.keys().collect();
        assert_eq!(keys, ["z", "a"]);
        let t = case.nodes[0].params["a"][0][2].as_f64().unwrap();
        assert_eq!(t, 0.1 + 0.2);
        assert!(Case::from_json(r#"{"name":"x","sampleRate":1,"length":1,"numberOfChannels":1,"nodes":[],"extra":1}"#).is_err());
    }
}
