//! Renders every conformance case the crate supports and checks it against Chromium's
//! reference with its limit from thresholds.json.
//!
//! The case folder is `$WEBAUDIO_CONFORMANCE_DIR`, else `<repo>/tests/conformance`, else
//! `../shared/conformance` next to the repository (read-only). Without one the test prints a
//! note and passes.

use std::path::{Path, PathBuf};

use webaudio_conformance::metrics::{self, fmt_db};
use webaudio_conformance::{Case, build_and_render};

/// Cases whose nodes exist but which do not meet their limit yet: (name, measured, reason).
/// A listed case that starts passing fails the test until it is removed, so the list only
/// shrinks.
const EXPECTED_FAILURES: &[(&str, &str, &str)] = &[];

fn conformance_dir() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("WEBAUDIO_CONFORMANCE_DIR").map(PathBuf::from),
        Some(manifest.join("../tests/conformance")),
        Some(manifest.join("../../shared/conformance")),
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
        let rendered = match build_and_render(&case) {
            Ok(r) => r,
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
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("reference").join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let channels = meta["channels"].as_u64().unwrap() as usize;
        assert_eq!(
            meta["length"].as_u64().unwrap() as usize,
            case.length,
            "{name}: reference length"
        );
        let reference =
            metrics::read_f32(&dir.join("reference").join(format!("{name}.f32")), channels)
                .unwrap();
        let verdict = metrics::judge(&rendered.channels, &reference, th);
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
    let e = err(&case(r#"{"id":"n","type":"WaveShaperNode"}"#, ""));
    assert!(
        e.contains("unsupported") && e.contains("WaveShaperNode"),
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
        r#""listener":{"params":{"positionX":[]}},"#,
    ));
    assert!(
        e.contains("unsupported") && e.contains("AudioListener"),
        "{e}"
    );
    // a spec error from the API is reported, not ignored
    let e = err(&case(
        r#"{"id":"n","type":"GainNode","params":{"gain":[["exponentialRampToValueAtTime",0,0.1]]}}"#,
        "",
    ));
    assert!(e.contains("invalid"), "{e}");
    // and a supported one renders, with the option applied through the public API
    let r = build_and_render(&case(
        r#"{"id":"n","type":"ConstantSourceNode","options":{"offset":0.25},"start":0}"#,
        "",
    ))
    .unwrap();
    assert_eq!(r.channels.len(), 1);
    assert!(r.channels[0].iter().all(|&x| x == 0.25));
}
