//! `webaudio-bench-peers conformance`: renders every conformance case CI checks (the keys of
//! thresholds.json) through web-audio-api-rs 1.7.0, measures it against Chromium's reference
//! with the case's own metric (the conformance crate's `judge`), and writes the figures to
//! `tests/conformance/web_audio_api_rs.json`, which the conformance report shows next to
//! bevy_webaudio's.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use webaudio_conformance::Case;
use webaudio_conformance::metrics::{self, fmt_db};

use crate::peer;

/// One case's figure.
enum Figure {
    /// The metric's value in dB (`-inf`: bit-identical).
    Value(f64),
    /// Why there is no value.
    Note(String),
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether the case file has read-backs (only its audio is compared here).
fn has_readbacks(case_file: &Path) -> bool {
    read_json(case_file).is_ok_and(|c| c["readbacks"].as_array().is_some_and(|r| !r.is_empty()))
}

fn figure(case_file: &Path, refdir: &Path, th: &metrics::Threshold) -> Figure {
    let case = match Case::from_path(case_file) {
        Ok(c) => c,
        Err(e) => return Figure::Note(format!("case does not parse: {e}")),
    };
    let meta = match read_json(&refdir.join(format!("{}.json", case.name))) {
        Ok(m) => m,
        Err(e) => return Figure::Note(format!("no reference: {e}")),
    };
    if meta.get("error").is_some_and(|e| !e.is_null()) || case.expect_error.is_some() {
        return Figure::Note(
            "not compared: expectError case (web-audio-api-rs panics instead of throwing)".into(),
        );
    }
    let channels = meta["channels"].as_u64().unwrap_or(0) as usize;
    let reference = match metrics::read_f32(&refdir.join(format!("{}.f32", case.name)), channels) {
        Ok(r) => r,
        Err(e) => return Figure::Note(format!("no reference: {e}")),
    };
    let rendered = catch_unwind(AssertUnwindSafe(|| peer::render(&case)));
    match rendered {
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "panic".into());
            Figure::Note(format!(
                "web-audio-api-rs panicked: {}",
                msg.lines().next().unwrap_or("")
            ))
        }
        Ok(Err(e)) => Figure::Note(e.to_string()),
        Ok(Ok(r)) => {
            let v = metrics::judge(&r.channels, &reference, th);
            match (v.value, v.note) {
                (Some(x), _) => Figure::Value(x),
                (None, Some(n)) => Figure::Note(format!("FAIL ({n})")),
                (None, None) => Figure::Note("FAIL".into()),
            }
        }
    }
}

/// Runs the mode. `args`: `[--only PREFIX] [--out FILE]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let (mut only, mut out) = (None, root.join("web_audio_api_rs.json"));
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--only" => only = Some(value()?),
            "--out" => out = PathBuf::from(value()?),
            s => return Err(format!("unknown argument {s}")),
        }
    }
    let thresholds = metrics::read_thresholds(&root.join("thresholds.json"))?;
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for e in std::fs::read_dir(root.join("cases")).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == "json")
            && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
        {
            files.insert(stem.to_string(), p.clone());
        }
    }
    // Keep the figures of cases this run does not render (--only).
    let mut all: serde_json::Map<String, Value> = read_json(&out)
        .ok()
        .and_then(|v| v.get("cases").and_then(Value::as_object).cloned())
        .unwrap_or_default();
    let (mut passed, mut total) = (0, 0);
    // Silence the default panic message; the figure carries it.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for (name, th) in &thresholds {
        if only.as_ref().is_some_and(|p| !name.starts_with(p.as_str())) {
            continue;
        }
        let f = match files.get(name) {
            Some(file) => figure(file, &root.join("reference"), th),
            None => Figure::Note("no case file".into()),
        };
        total += 1;
        let (entry, shown) = match f {
            Figure::Value(v) => {
                if v <= th.limit {
                    passed += 1;
                }
                let entry = if v == f64::NEG_INFINITY {
                    json!({"value": null, "note": "bit-identical"})
                } else {
                    json!({"value": (v * 10.0).round() / 10.0})
                };
                (entry, format!("{} (limit {})", fmt_db(v), th.limit))
            }
            Figure::Note(n) => (json!({"value": null, "note": n}), n),
        };
        let mut entry = entry;
        if files.get(name).is_some_and(|f| has_readbacks(f)) {
            entry["readbacks"] = json!("not compared (audio only)");
        }
        eprintln!("{name:<48} {shown}");
        all.insert(name.clone(), entry);
    }
    std::panic::set_hook(hook);
    let doc = json!({
        "about": "web-audio-api-rs 1.7.0 on each conformance case, with the case's metric and limit against Chromium's reference (dB); written by scripts/peer-conformance.sh (webaudio-bench-peers conformance). value null: see note (bit-identical, or why no figure).",
        "cases": all,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n";
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "web-audio-api-rs 1.7.0: {passed}/{total} within their limits; wrote {}",
        out.display()
    );
    Ok(())
}
