//! The conformance inventory: every public Web Audio item of the crate (read from its source)
//! must be exercised by a case that CI checks (one listed in thresholds.json).
//!
//! Until the suite covers everything, the uncovered items are listed in [`ALLOWED_GAPS`]. The
//! list may only shrink: an item missing from it fails the test, and so does a listed item
//! that a case now covers or that no longer exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::json;
use webaudio_conformance::inventory::{self, Kind};

/// Items without a checked case today (`"<kind> <Web Audio name>"`, as `webaudio-inventory`
/// prints them). Case writers remove the lines their cases cover.
const ALLOWED_GAPS: &[&str] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn inventory() -> inventory::Inventory {
    inventory::from_source(&root()).expect("the source parses")
}

#[test]
fn every_item_maps_to_a_checked_case() {
    let inv = inventory();
    let cov = inventory::coverage(
        &inv,
        &root().join("tests/conformance/cases"),
        &root().join("tests/conformance/thresholds.json"),
    )
    .unwrap();
    let gaps: BTreeSet<String> = inventory::gaps(&cov).into_iter().collect();
    let allowed: BTreeSet<String> = ALLOWED_GAPS.iter().map(|s| (*s).to_string()).collect();
    println!("{} items, {} gaps:", inv.items.len(), gaps.len());
    for g in &gaps {
        println!("  {g}");
    }
    let new: Vec<&String> = gaps.difference(&allowed).collect();
    let stale: Vec<&String> = allowed.difference(&gaps).collect();
    let mut problems = String::new();
    if !new.is_empty() {
        problems += &format!(
            "\n{} item(s) map to no checked case (add a case, or an EXCLUDED entry with its reason):\n",
            new.len()
        );
        for g in &new {
            problems += &format!("  {g}\n");
        }
    }
    if !stale.is_empty() {
        problems += &format!(
            "\n{} ALLOWED_GAPS entr(y/ies) now covered or gone: remove them:\n",
            stale.len()
        );
        for g in &stale {
            let cases = cov
                .get(*g)
                .map(|c| c.iter().cloned().collect::<Vec<_>>().join(", "));
            problems += &format!(
                "  {g}{}\n",
                cases.map_or(" (no such item)".into(), |c| format!(" (covered by {c})"))
            );
        }
    }
    if !problems.is_empty() {
        problems += "\nALLOWED_GAPS today (also `webaudio-inventory --gaps FILE`):\n";
        for g in &gaps {
            problems += &format!("    \"{g}\",\n");
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

#[test]
fn the_source_is_read_completely() {
    let inv = inventory();
    let has = |id: &str| inv.items.contains_key(id);
    // One of each kind, from different files (a parser that misses a file or a construct
    // fails here, not silently in the gap list).
    for id in [
        "node GainNode",
        "node AudioListener",
        "param BiquadFilterNode.Q",
        "param DelayNode.delayTime",
        "param AudioListener.forwardX",
        "attribute OscillatorNode.type",
        "attribute AudioBufferSourceNode.loop",
        "attribute AnalyserNode.fftSize",
        "attribute AudioParam.automationRate",
        "option DynamicsCompressorNode({attack})",
        "option PannerNode({positionX})",
        "option PeriodicWave({disableNormalization})",
        "option OscillatorNode({periodicWave})",
        "method AudioBufferSourceNode.start(when, offset, duration)",
        "method ConstantSourceNode.stop()",
        "method IIRFilterNode.getFrequencyResponse()",
        "method AudioParam.cancelAndHoldAtTime()",
        "method OscillatorNode.setPeriodicWave()",
        "channel ChannelSplitterNode.channelInterpretation",
        "param-input DynamicsCompressorNode.<AudioParam> ← connect()",
        "error ChannelMergerNode!InvalidStateError",
        "error WaveShaperNode!InvalidStateError",
        "error PeriodicWave!IndexSizeError",
        "error AudioDestinationNode!InvalidStateError",
        "error AudioDestinationNode!NotSupportedError",
    ] {
        assert!(has(id), "inventory lacks {id}");
    }
    // A node with its own channel check throws what it documents (a merger's channelCount 0
    // is an InvalidStateError, never the generic NotSupportedError); an excluded exception
    // (an AudioContext-only one) is no item.
    assert!(!has("error ChannelMergerNode!NotSupportedError"));
    assert!(!has("error ChannelSplitterNode!NotSupportedError"));
    assert!(!has("error AudioDestinationNode!IndexSizeError"));
    assert!(
        inv.excluded
            .contains_key("AudioDestinationNode!IndexSizeError")
    );
    // Source nodes have no input, hence no channel attributes; excluded nodes contribute nothing.
    assert!(!has("channel OscillatorNode.channelCount"));
    assert!(!inv.items.keys().any(|k| k.contains("AudioWorkletNode")));
    assert!(inv.items.len() > 200, "{} items", inv.items.len());
    // Every exclusion names a real item.
    for (rust, _) in inventory::EXCLUDED {
        assert!(
            inv.excluded.contains_key(*rust),
            "EXCLUDED names `{rust}`, which the source does not have"
        );
    }
    assert!(
        inv.items
            .values()
            .all(|i| i.kind != Kind::Node || !i.facts.is_empty())
    );
}

#[test]
fn case_facts_read_every_part_of_the_format() {
    let case = json!({
        "name": "x", "sampleRate": 48000, "length": 128, "numberOfChannels": 2,
        "destination": {"channelInterpretation": "discrete"},
        "listener": {"params": {"forwardX": [["setValueAtTime", 1, 0]]}},
        "nodes": [
            {"id": "src", "type": "AudioBufferSourceNode", "options": {"loop": true},
             "start": [0, 0.1]},
            {"id": "osc", "type": "OscillatorNode",
             "options": {"periodicWave": {"real": [0, 1], "imag": [0, 0]}}, "start": 0, "stop": 1},
            {"id": "g", "type": "GainNode", "set": {"channelCount": 1},
             "params": {"gain": [["cancelAndHoldAtTime", 0]]}},
            {"id": "c", "type": "DynamicsCompressorNode"}
        ],
        "connections": [["osc", "g", "gain"]],
        "actions": [{"time": 0.128, "do": [
            {"set": {"node": "src", "loopEnd": 0.05}},
            {"call": {"node": "osc", "method": "setPeriodicWave", "args": [{"disableNormalization": true}]}},
            {"params": {"node": "listener", "upY": [["value", 1]]}}
        ]}],
        "readbacks": [{"id": "r", "node": "an", "method": "getByteFrequencyData", "time": 0.128},
                      {"id": "red", "node": "c", "attribute": "reduction", "time": 0.128}],
        "expectError": {"at": "actions[0].do[1]", "name": "IndexSizeError"}
    });
    let facts = inventory::case_facts(&case);
    for f in [
        "node:AudioBufferSourceNode",
        "option:AudioBufferSourceNode.loop",
        "call:AudioBufferSourceNode.start+offset",
        "call:OscillatorNode.start",
        "call:OscillatorNode.stop",
        "option:PeriodicWave.real",
        "option:PeriodicWave.disableNormalization",
        "channel:GainNode.channelCount",
        "channel:AudioDestinationNode.channelInterpretation",
        "param:AudioListener.forwardX",
        "param:AudioListener.upY",
        "param:GainNode.gain",
        "input:GainNode",
        "event:setValueAtTime",
        "event:cancelAndHoldAtTime",
        "event:value",
        "assign:AudioBufferSourceNode.loopEnd",
        "call:OscillatorNode.setPeriodicWave",
        "error:OscillatorNode.IndexSizeError",
        "error:PeriodicWave.IndexSizeError",
        "readback:DynamicsCompressorNode.reduction",
    ] {
        assert!(facts.contains(f), "missing fact {f} in {facts:?}");
    }
    // `an` is not a node of the case: no read-back fact; nothing invented.
    assert!(!facts.iter().any(|f| f.starts_with("readback:AnalyserNode")));
    assert!(!facts.contains("call:AudioBufferSourceNode.start"));
    assert!(!facts.contains("error:AudioParam.IndexSizeError"));
}

#[test]
fn names_follow_web_audio() {
    assert_eq!(inventory::web_name("loop_start"), "loopStart");
    assert_eq!(
        inventory::web_name("smoothing_time_constant"),
        "smoothingTimeConstant"
    );
    assert_eq!(inventory::web_name("q"), "Q");
    assert_eq!(inventory::web_name("looping"), "loop");
}
