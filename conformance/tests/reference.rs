//! Renders every conformance case the crate supports and checks it against Chromium's
//! reference with its limit from thresholds.json.
//!
//! The case folder is `$WEBAUDIO_CONFORMANCE_DIR`, else `<repo>/tests/conformance` (committed,
//! with Chromium's renders).

use std::path::{Path, PathBuf};

use webaudio_conformance::metrics::{self, fmt_db};
use webaudio_conformance::{Case, build_and_render, run_case};

/// Cases whose nodes exist but which do not meet their limit yet: (name, measured, reason).
/// A listed case that starts passing fails the test until it is removed, so the list only
/// shrinks.
const EXPECTED_FAILURES: &[(&str, &str, &str)] = &[];

fn conformance_dir() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("WEBAUDIO_CONFORMANCE_DIR").map(PathBuf::from),
        Some(manifest.join("../tests/conformance")),
    ];
    candidates.into_iter().flatten().find(|d| {
        d.join("thresholds.json").is_file()
            && d.join("reference").is_dir()
            && d.join("cases").is_dir()
    })
}

#[test]
fn conformance_cases_meet_their_limits() {
    let Some(dir) = conformance_dir() else {
        println!("note: no conformance folder (set WEBAUDIO_CONFORMANCE_DIR); skipping");
        return;
    };
    let thresholds = metrics::read_thresholds(&dir.join("thresholds.json")).unwrap();
    let mut problems = Vec::new();
    let (mut passed, mut unsupported) = (0, 0);
    println!(
        "{:<40} {:>9} {:>7} {:>18}  result",
        "case", "value dB", "limit", "web-audio-api-rs"
    );
    for (name, th) in &thresholds {
        let case = Case::from_path(&dir.join("cases").join(format!("{name}.json"))).unwrap();
        let expected_failure = EXPECTED_FAILURES.iter().find(|(n, ..)| n == name);
        let outcome = match run_case(&case) {
            Ok(o) => o,
            Err(e) if e.is_unsupported() => {
                println!(
                    "{name:<40} {:>9} {:>7} {:>18}  {e}",
                    "—",
                    th.limit,
                    th.web_audio_api_rs_cell()
                );
                unsupported += 1;
                continue;
            }
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        if let Err(e) = outcome.check_errors(&case) {
            problems.push(format!("{name}: {e}"));
            continue;
        }
        let refdir = dir.join("reference");
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(refdir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let reference = match meta["rendered"].as_bool() {
            Some(false) => None,
            _ => {
                let channels = meta["channels"].as_u64().unwrap() as usize;
                assert_eq!(
                    meta["length"].as_u64().unwrap() as usize,
                    case.length,
                    "{name}: reference length"
                );
                Some(metrics::read_f32(&refdir.join(format!("{name}.f32")), channels).unwrap())
            }
        };
        let read_json = |p: PathBuf| -> Option<serde_json::Value> {
            serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
        };
        let ref_readbacks = read_json(refdir.join(format!("{name}.readback.json")));
        let readbacks = outcome.readback_json(&case);
        let error = outcome.error_json();
        let verdict = metrics::judge_case(
            metrics::CaseData {
                channels: outcome.rendered.as_ref().map(|r| r.channels.as_slice()),
                error: error.as_ref(),
                readbacks: readbacks.as_ref(),
            },
            metrics::CaseData {
                channels: reference.as_deref(),
                error: meta.get("error").filter(|e| e.is_object()),
                readbacks: ref_readbacks.as_ref(),
            },
            th,
        );
        let value = verdict.value.map_or("—".to_string(), fmt_db);
        let result = match (verdict.pass, expected_failure) {
            (true, None) => {
                passed += 1;
                "pass".to_string()
            }
            (true, Some(_)) => {
                problems.push(format!(
                    "{name} passes ({value} dB): remove it from EXPECTED_FAILURES"
                ));
                "pass (listed as expected failure)".to_string()
            }
            (false, Some((_, measured, why))) => {
                format!("expected failure (was {measured} dB: {why})")
            }
            (false, None) => {
                let note = verdict.note.clone().unwrap_or_default();
                problems.push(format!("{name}: {value} dB, limit {} dB {note}", th.limit));
                format!("FAIL {note}")
            }
        };
        println!(
            "{name:<40} {value:>9} {:>7} {:>18}  {result}",
            th.limit,
            th.web_audio_api_rs_cell()
        );
    }
    println!(
        "{passed} passed, {} failed, {unsupported} unsupported (node not built yet)",
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "conformance failures:\n{}",
        problems.join("\n")
    );
}

/// Anything the crate cannot express is an error naming it, never skipped.
#[test]
fn missing_features_are_named() {
    let case = |nodes: &str, extra: &str| {
        Case::from_json(&format!(
            r#"{{"name":"t","sampleRate":48000,"length":128,"numberOfChannels":1,{extra}"nodes":[{nodes}],"connections":[["n","destination"]]}}"#
        ))
        .unwrap()
    };
    let err = |c: &Case| build_and_render(c).unwrap_err().to_string();
    // (A deprecated node type the crate will not build.)
    let e = err(&case(r#"{"id":"n","type":"ScriptProcessorNode"}"#, ""));
    assert!(
        e.contains("unsupported") && e.contains("ScriptProcessorNode"),
        "{e}"
    );
    let e = err(&case(
        r#"{"id":"n","type":"GainNode","options":{"gian":2}}"#,
        "",
    ));
    assert!(e.contains("unsupported") && e.contains("gian"), "{e}");
    let e = err(&case(
        r#"{"id":"n","type":"GainNode","params":{"frequency":[["setValueAtTime",1,0]]}}"#,
        "",
    ));
    assert!(e.contains("unsupported") && e.contains("frequency"), "{e}");
    let e = err(&case(
        r#"{"id":"n","type":"GainNode","params":{"gain":[["setValueAtTimes",1,0]]}}"#,
        "",
    ));
    assert!(
        e.contains("unsupported") && e.contains("setValueAtTimes"),
        "{e}"
    );
    let e = err(&case(
        r#"{"id":"n","type":"GainNode","set":{"type":"sine"}}"#,
        "",
    ));
    assert!(e.contains("unsupported") && e.contains("type"), "{e}");
    let e = err(&case(
        r#"{"id":"n","type":"GainNode"}"#,
        r#""listener":{"params":{"orientationX":[["setValueAtTime",1,0]]}},"#,
    ));
    assert!(
        e.contains("unsupported") && e.contains("AudioListener.orientationX"),
        "{e}"
    );
    // listener automation is applied: the listener moves to x = 5, so a panner at the origin
    // is on its left
    let r = build_and_render(
        &Case::from_json(
            r#"{"name":"t","sampleRate":48000,"length":256,"numberOfChannels":2,
            "listener":{"params":{"positionX":[["setValueAtTime",5,0]]}},
            "nodes":[{"id":"c","type":"ConstantSourceNode","start":0},
                     {"id":"p","type":"PannerNode","options":{"panningModel":"equalpower"}}],
            "connections":[["c","p"],["p","destination"]]}"#,
        )
        .unwrap(),
    )
    .unwrap();
    let (l, r) = (r.channels[0][200], r.channels[1][200]);
    assert!(l > 0.1 && r.abs() < 1e-3, "left {l}, right {r}");
    // a spec error from the API is reported, not ignored
    let e = err(&case(
        r#"{"id":"n","type":"GainNode","params":{"gain":[["exponentialRampToValueAtTime",0,0.1]]}}"#,
        "",
    ));
    assert!(e.contains("RangeError at `n`"), "{e}");
    // and a supported one renders, with the option applied through the public API
    let r = build_and_render(&case(
        r#"{"id":"n","type":"ConstantSourceNode","options":{"offset":0.25},"start":0}"#,
        "",
    ))
    .unwrap();
    assert_eq!(r.channels.len(), 1);
    assert!(r.channels[0].iter().all(|&x| x == 0.25));
}

/// The buffer source's options and `start(when, offset, duration)` reach the node; named
/// buffers are shared, inline generators work; unknown keys of the new nodes are named.
#[test]
fn buffer_source_builder() {
    let data = r#"{"gen":"data","data":[[0,1,2,3,4,5,6,7,8,9]]}"#;
    let case = |nodes: &str| {
        Case::from_json(&format!(
            r#"{{"name":"t","sampleRate":48000,"length":128,"numberOfChannels":1,"buffers":{{"b":{data}}},"nodes":[{nodes}],"connections":[["n","destination"],["m","destination"]]}}"#
        ))
        .unwrap()
    };
    // two sources on one named buffer, one from an inline generator with offset and duration
    let r = build_and_render(&case(&format!(
        r#"{{"id":"n","type":"AudioBufferSourceNode","options":{{"buffer":"b"}},"start":[2,0]}},
           {{"id":"m","type":"AudioBufferSourceNode","options":{{"buffer":{data}}},"start":[0,0.0000625,0.0000625]}}"#
    )))
    .unwrap();
    // offset 3 frames, duration 3 frames: 3, 4, 5 then silence; `n` starts at 2 s (silent)
    assert_eq!(&r.channels[0][..7], &[3.0, 4.0, 5.0, 0.0, 0.0, 0.0, 0.0]);
    let err = |nodes: &str| build_and_render(&case(nodes)).unwrap_err().to_string();
    let m = r#"{"id":"m","type":"GainNode"}"#;
    for (node, key) in [
        (
            r#"{"id":"n","type":"AudioBufferSourceNode","options":{"buffer":"b","loopp":true}}"#,
            "loopp",
        ),
        (r#"{"id":"n","type":"BiquadFilterNode","set":{"Q":2}}"#, "Q"),
        (
            r#"{"id":"n","type":"ChannelMergerNode","options":{"numberOfOutputs":2}}"#,
            "numberOfOutputs",
        ),
        (
            r#"{"id":"n","type":"IIRFilterNode","options":{"feedforward":[1],"feedback":[1],"order":2}}"#,
            "order",
        ),
    ] {
        let e = err(&format!("{node},{m}"));
        assert!(e.contains("unsupported") && e.contains(key), "{e}");
    }
    let e = err(&format!(
        r#"{{"id":"n","type":"AudioBufferSourceNode","options":{{"buffer":"nope"}}}},{m}"#
    ));
    assert!(e.contains("invalid") && e.contains("nope"), "{e}");
}

/// Timed actions land on their quantum, read-backs see the graph as rendered so far, and an
/// action's exception is recorded with its step while the rest of the case runs.
#[test]
fn timed_actions_readbacks_and_errors() {
    let case = Case::from_json(
        r#"{"name":"t","sampleRate":48000,"length":768,"numberOfChannels":1,
        "nodes":[{"id":"c","type":"ConstantSourceNode","options":{"offset":1},"start":0},
                 {"id":"an","type":"AnalyserNode","options":{"fftSize":32}}],
        "connections":[["c","an"],["an","destination"]],
        "actions":[
          {"time":0.005333333333333333,"do":[{"params":{"node":"c","offset":[["value",0.5]]}},
                                             {"call":{"node":"c","method":"start","args":[0]}}]},
          {"time":0.008,"do":[{"disconnect":["c","an"]}]},
          {"time":0.010666666666666666,"do":[{"connect":["c","an"]}]}],
        "readbacks":[
          {"id":"a","node":"an","method":"getFloatTimeDomainData","time":0.005333333333333333},
          {"id":"b","node":"an","method":"getByteTimeDomainData","time":0.008}],
        "expectError":{"at":"actions[0].do[1]","name":"InvalidStateError"}}"#,
    )
    .unwrap();
    let o = run_case(&case).unwrap();
    o.check_errors(&case).unwrap();
    let x = &o.rendered.as_ref().unwrap().channels[0];
    assert_eq!(x.len(), 768);
    assert!(x[..256].iter().all(|&v| v == 1.0), "{:?}", &x[250..260]);
    assert!(x[256..384].iter().all(|&v| v == 0.5), "{:?}", &x[250..260]);
    assert!(x[384..512].iter().all(|&v| v == 0.0), "{:?}", &x[380..390]);
    assert!(x[512..].iter().all(|&v| v == 0.5), "{:?}", &x[508..516]);
    // the analyser saw 1.0 up to frame 256, and 0.5 up to 384 (bytes: floor(128 * 1.5) = 192)
    let a = o.readbacks[0]["data"].as_array().unwrap();
    assert_eq!(a.len(), 32);
    assert!(a.iter().all(|v| v.as_f64() == Some(1.0)), "{a:?}");
    let b = o.readbacks[1]["data"].as_array().unwrap();
    assert!(b.iter().all(|v| v.as_u64() == Some(192)), "{b:?}");
    let e = o.error_json().unwrap();
    assert_eq!(
        (e["at"].as_str(), e["name"].as_str()),
        (Some("actions[0].do[1]"), Some("InvalidStateError"))
    );
    // an expected exception that is not thrown, and one thrown elsewhere, are failures
    let mut other = case.clone();
    other.expect_error.as_mut().unwrap().at = "actions[0].do[0]".into();
    assert!(o.check_errors(&other).is_err());
    let mut none = case.clone();
    none.expect_error = None;
    assert!(o.check_errors(&none).unwrap_err().contains("unexpected"));
    // a time off the quantum grid is refused (Chromium would apply it elsewhere)
    let mut off = case.clone();
    off.actions[0].time = 0.005;
    assert!(
        run_case(&off)
            .unwrap_err()
            .to_string()
            .contains("not a multiple of 128")
    );
    // a build-time exception ends the case without a render
    let bad = Case::from_json(
        r#"{"name":"t","sampleRate":48000,"length":128,"numberOfChannels":1,
        "nodes":[{"id":"m","type":"ChannelMergerNode","options":{"numberOfInputs":0}}],
        "expectError":{"at":"m","name":"IndexSizeError"}}"#,
    )
    .unwrap();
    let o = run_case(&bad).unwrap();
    assert!(o.rendered.is_none());
    o.check_errors(&bad).unwrap();
}
