//! `webaudio-conformance`: render Web Audio graph cases through bevy_webaudio and compare them
//! with reference renders.
//!
//! ```text
//! webaudio-conformance render CASE.json|DIR OUTDIR [--runs N] [--only PREFIX]
//! webaudio-conformance compare OUTDIR REFDIR THRESHOLDS.json [--md FILE]
//! webaudio-conformance perf OUTDIR PERF_REFERENCE.json
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};
use webaudio_conformance::metrics::{self, fmt_db};
use webaudio_conformance::{Case, CaseError, Outcome, run_case};

const USAGE: &str = "\
usage:
  webaudio-conformance render CASE.json|DIR OUTDIR [--runs N] [--only PREFIX]
      Renders one case, or every *.json case in DIR, into OUTDIR/NAME.f32 (planar little-endian
      f32) and OUTDIR/NAME.json (sampleRate, channels, length, render_ms, ...). Perf cases are
      rendered 5 times (render_ms = median), conformance cases once, unless --runs is given.
      A case the crate cannot express yet gets OUTDIR/NAME.json with \"unsupported\".
  webaudio-conformance compare OUTDIR REFDIR THRESHOLDS.json [--md FILE]
      Judges every case of THRESHOLDS.json: prints case, metric, value, limit, pass/fail and
      web-audio-api-rs's figure, then `N passed, N failed`. Exit status 1 if any failed.
  webaudio-conformance perf OUTDIR PERF_REFERENCE.json
      Render times in OUTDIR against Chromium's and web-audio-api-rs's stored times.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("render") => render(&args[1..]),
        Some("compare") => compare(&args[1..]),
        Some("perf") => perf(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Positional arguments, then `(flag, value)` pairs.
type SplitArgs = (Vec<String>, Vec<(String, String)>);

/// Splits `--flag value` options from positional arguments.
fn split_args(args: &[String], flags: &[&str]) -> Result<SplitArgs, String> {
    let (mut pos, mut opts) = (Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(flag) = a.strip_prefix("--") {
            if !flags.contains(&flag) {
                return Err(format!("unknown option --{flag}"));
            }
            let v = it.next().ok_or_else(|| format!("--{flag} needs a value"))?;
            opts.push((flag.to_string(), v.clone()));
        } else {
            pos.push(a.clone());
        }
    }
    Ok((pos, opts))
}

fn opt<'a>(opts: &'a [(String, String)], name: &str) -> Option<&'a str> {
    opts.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn case_files(input: &Path) -> Result<Vec<PathBuf>, String> {
    if input.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(input)
            .map_err(|e| format!("{}: {e}", input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        Ok(files)
    } else {
        Ok(vec![input.to_path_buf()])
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn write_json(path: &Path, v: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

fn render(args: &[String]) -> Result<bool, String> {
    let (pos, opts) = split_args(args, &["runs", "only"])?;
    let [input, outdir] = pos.as_slice() else {
        return Err("render needs CASE.json|DIR OUTDIR".into());
    };
    let runs_override = opt(&opts, "runs")
        .map(str::parse::<usize>)
        .transpose()
        .map_err(|e| format!("--runs: {e}"))?;
    let only = opt(&opts, "only");
    let outdir = Path::new(outdir);
    std::fs::create_dir_all(outdir).map_err(|e| format!("{}: {e}", outdir.display()))?;
    let (mut ok, mut unsupported, mut errors) = (0, 0, 0);
    for file in case_files(Path::new(input))? {
        let case = match Case::from_path(&file) {
            Ok(c) => c,
            Err(e) => {
                println!("{:<44} {e}", file.display());
                errors += 1;
                continue;
            }
        };
        if only.is_some_and(|p| !case.name.starts_with(p)) {
            continue;
        }
        let runs = runs_override
            .unwrap_or(if case.is_perf() { 5 } else { 1 })
            .max(1);
        let f32_path = outdir.join(format!("{}.f32", case.name));
        let json_path = outdir.join(format!("{}.json", case.name));
        let mut times = Vec::new();
        let mut build_times = Vec::new();
        let mut first: Option<Vec<Vec<f32>>> = None;
        let mut deterministic = true;
        let mut failure: Option<CaseError> = None;
        let mut outcome: Option<Outcome> = None;
        for _ in 0..runs {
            let run = run_case(&case).and_then(|o| {
                o.check_errors(&case).map_err(CaseError::Invalid)?;
                Ok(o)
            });
            match run {
                Ok(mut o) => {
                    if let Some(r) = o.rendered.take() {
                        times.push(r.render_ms);
                        build_times.push(r.build_ms);
                        match &first {
                            None => first = Some(r.channels),
                            Some(f) => deterministic &= *f == r.channels,
                        }
                    }
                    outcome.get_or_insert(o);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let readback_path = outdir.join(format!("{}.readback.json", case.name));
        let _ = std::fs::remove_file(&readback_path);
        if let Some(e) = failure {
            let _ = std::fs::remove_file(&f32_path);
            write_json(
                &json_path,
                &json!({"name": case.name, "kind": case.kind.as_deref().unwrap_or("conformance"),
                        "error": e.to_string(), "unsupported": e.is_unsupported()}),
            )?;
            println!("{:<44} {e}", case.name);
            if e.is_unsupported() {
                unsupported += 1;
            } else {
                errors += 1;
            }
            continue;
        }
        let outcome = outcome.expect("at least one run");
        if let Some(rb) = outcome.readback_json(&case) {
            write_json(&readback_path, &rb)?;
        }
        let Some(channels) = first else {
            // The expected exception ended the case while building: no render (FORMAT.md).
            let _ = std::fs::remove_file(&f32_path);
            write_json(
                &json_path,
                &json!({"name": case.name, "kind": case.kind.as_deref().unwrap_or("conformance"),
                        "rendered": false, "error": outcome.error_json()}),
            )?;
            println!("{:<44} ok  threw as expected while building", case.name);
            ok += 1;
            continue;
        };
        metrics::write_f32(&f32_path, &channels)
            .map_err(|e| format!("{}: {e}", f32_path.display()))?;
        let stats: Vec<Value> = channels
            .iter()
            .map(|c| {
                let peak = c.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let rms = (c.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>()
                    / c.len().max(1) as f64)
                    .sqrt();
                let nonfinite = c.iter().filter(|x| !x.is_finite()).count();
                json!({"peak": peak, "rms": rms, "nonfinite": nonfinite})
            })
            .collect();
        let render_ms = median(&times);
        write_json(
            &json_path,
            &json!({
                "name": case.name,
                "kind": case.kind.as_deref().unwrap_or("conformance"),
                "sampleRate": case.sample_rate,
                "channels": channels.len(),
                "length": channels.first().map_or(0, Vec::len),
                "duration_s": case.duration_s(),
                "render_ms": render_ms,
                "render_ms_runs": times,
                "build_ms": median(&build_times),
                "runs": runs,
                "realtime_factor": case.duration_s() * 1e3 / render_ms,
                "deterministic": deterministic,
                "stats": stats,
                "error": outcome.error_json(),
                "readback_file": outcome.readback_json(&case).map(|_| format!("{}.readback.json", case.name)),
                "engine": concat!("bevy_webaudio (webaudio-conformance ", env!("CARGO_PKG_VERSION"), ")"),
                "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
            }),
        )?;
        println!(
            "{:<44} ok  render {render_ms:9.2} ms  ({} run{})",
            case.name,
            runs,
            if runs == 1 { "" } else { "s" }
        );
        ok += 1;
    }
    println!("{ok} rendered, {unsupported} unsupported, {errors} errors");
    Ok(errors == 0)
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The head of the Markdown report written by `compare --md`.
const MD_HEADER: &str = "\
# Conformance against Chromium

Generated by `scripts/conformance.sh` (which renders every `conf_*` case of
`tests/conformance/cases` with `webaudio-conformance render` and then runs
`webaudio-conformance compare OUTDIR tests/conformance/reference tests/conformance/thresholds.json
--md CONFORMANCE.md`); do not edit by hand. Each case's graph is built through bevy_webaudio's
public API and rendered offline; `value` is the case's metric against Chromium's render
(`error`: error energy relative to the reference, `envelope`: largest per-block level
difference), `limit` is thresholds.json's, and the last column is web-audio-api-rs 1.7.0's value
on the same case with the same metric (`tests/conformance/web_audio_api_rs.json`, written by
`scripts/peer-conformance.sh`; `bit-identical`, or why there is no figure). The metrics and the
tiers behind each limit are in `tests/conformance/README.md` and `thresholds.json`.

";

fn compare(args: &[String]) -> Result<bool, String> {
    let (pos, opts) = split_args(args, &["md"])?;
    let [outdir, refdir, thresholds] = pos.as_slice() else {
        return Err("compare needs OUTDIR REFDIR THRESHOLDS.json".into());
    };
    let (outdir, refdir) = (Path::new(outdir), Path::new(refdir));
    let peers = webaudio_conformance::peers::PeerFigures::beside(Path::new(thresholds))?;
    let thresholds = metrics::read_thresholds(Path::new(thresholds))?;
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| case | metric | value dB | limit dB | result | web-audio-api-rs dB |"
    );
    let _ = writeln!(table, "|---|---|---|---|---|---|");
    let (mut passed, mut failed, mut unsupported) = (0, 0, Vec::new());
    let mut wa_pass = 0;
    for (name, th) in &thresholds {
        let wa_ok = peers.passes(name, th);
        if wa_ok {
            wa_pass += 1;
        }
        let meta = read_json(&refdir.join(format!("{name}.json")))?;
        let channels = meta["channels"].as_u64().unwrap_or(0) as usize;
        let reference = match meta["data_file"].is_null() && meta["rendered"] == json!(false) {
            true => None,
            false => Some(metrics::read_f32(
                &refdir.join(format!("{name}.f32")),
                channels,
            )?),
        };
        let ref_rb = read_json(&refdir.join(format!("{name}.readback.json"))).ok();
        let test_meta = read_json(&outdir.join(format!("{name}.json"))).ok();
        let test_rb = read_json(&outdir.join(format!("{name}.readback.json"))).ok();
        // `error` as a string: the runner failed; as an object: the exception the case threw.
        let failure = test_meta
            .as_ref()
            .and_then(|m| m.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let (value, result) = match failure {
            Some(err) => {
                if test_meta.as_ref().and_then(|m| m["unsupported"].as_bool()) == Some(true) {
                    unsupported.push((name.clone(), err.clone()));
                }
                ("—".to_string(), format!("FAIL ({err})"))
            }
            None => {
                let test_path = outdir.join(format!("{name}.f32"));
                let test_channels = test_meta
                    .as_ref()
                    .and_then(|m| m["channels"].as_u64())
                    .map_or(channels, |c| c as usize);
                let test = match test_meta.as_ref().map(|m| m["rendered"] == json!(false)) {
                    Some(true) => Ok(None),
                    _ if !test_path.exists() => Err("no render".to_string()),
                    _ => metrics::read_f32(&test_path, test_channels.max(1)).map(Some),
                };
                match test {
                    Err(e) => ("—".to_string(), format!("FAIL ({e})")),
                    Ok(test) => {
                        let err = |m: &Option<Value>| {
                            m.as_ref()
                                .and_then(|m| m.get("error"))
                                .filter(|e| e.is_object())
                                .cloned()
                        };
                        let (test_err, ref_err) = (err(&test_meta), err(&Some(meta.clone())));
                        let v = metrics::judge_case(
                            metrics::CaseData {
                                channels: test.as_deref(),
                                error: test_err.as_ref(),
                                readbacks: test_rb.as_ref(),
                            },
                            metrics::CaseData {
                                channels: reference.as_deref(),
                                error: ref_err.as_ref(),
                                readbacks: ref_rb.as_ref(),
                            },
                            th,
                        );
                        let value = v.value.map_or("—".to_string(), fmt_db);
                        let result = match (v.pass, v.note) {
                            (true, Some(n)) => format!("pass ({n})"),
                            (true, None) => "pass".to_string(),
                            (false, Some(n)) => format!("FAIL ({n})"),
                            (false, None) => "FAIL".to_string(),
                        };
                        (value, result)
                    }
                }
            }
        };
        if result.starts_with("pass") {
            passed += 1;
        } else {
            failed += 1;
        }
        let _ = writeln!(
            table,
            "| {name} | {} | {value} | {} | {result} | {} |",
            th.metric,
            th.limit,
            peers.cell(name, th)
        );
    }
    let total = thresholds.len();
    let _ = writeln!(table);
    let _ = writeln!(
        table,
        "bevy_webaudio: {passed}/{total}; web-audio-api-rs 1.7.0 on the same limits: {wa_pass}/{total}"
    );
    if !unsupported.is_empty() {
        let _ = writeln!(table, "\nunsupported ({}):", unsupported.len());
        for (name, err) in &unsupported {
            let _ = writeln!(table, "- {name}: {err}");
        }
    }
    print!("{table}");
    if let Some(md) = opt(&opts, "md") {
        std::fs::write(md, MD_HEADER.to_string() + &table).map_err(|e| format!("{md}: {e}"))?;
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

fn perf(args: &[String]) -> Result<bool, String> {
    let (pos, _) = split_args(args, &[])?;
    let [outdir, reference] = pos.as_slice() else {
        return Err("perf needs OUTDIR PERF_REFERENCE.json".into());
    };
    let reference = read_json(Path::new(reference))?;
    let cases = reference["cases"]
        .as_object()
        .ok_or("perf reference without cases")?;
    println!(
        "| case | duration s | render ms | x real time | chromium ms | speed-up vs chromium | web-audio-api-rs ms | speed-up vs web-audio-api-rs |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, r) in cases {
        let duration = r["duration_s"].as_f64().unwrap_or(0.0);
        let chromium = r["chromium_ms"].as_f64();
        let wa = r["web_audio_api_rs_ms"].as_f64();
        let meta = read_json(&Path::new(outdir).join(format!("{name}.json"))).ok();
        let ms = meta.as_ref().and_then(|m| m["render_ms"].as_f64());
        let cell = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:.1}"));
        // peer time / this engine's time: > 1 means this engine is that many times faster
        let ratio = |peer: Option<f64>| match (peer, ms) {
            (Some(p), Some(m)) if m > 0.0 => format!("{:.2}", p / m),
            _ => "—".to_string(),
        };
        let note = match (ms, meta.as_ref().and_then(|m| m["error"].as_str())) {
            (None, Some(e)) => e.to_string(),
            (None, None) => "no render".to_string(),
            _ => cell(ms),
        };
        println!(
            "| {name} | {duration} | {note} | {} | {} | {} | {} | {} |",
            ms.map_or("—".to_string(), |m| format!("{:.0}", duration * 1e3 / m)),
            cell(chromium),
            ratio(chromium),
            cell(wa),
            ratio(wa)
        );
    }
    Ok(true)
}
