//! `webaudio-bench-peers`: renders every perf_* case through bevy_webaudio (the
//! `webaudio-conformance` runner, i.e. the public ECS API + the offline backend) and through
//! web-audio-api-rs 1.7.0, each [`RUNS`] times in the same process, and prints the median
//! render time of both, × real time, and the ratios against web-audio-api-rs (same run) and
//! Chromium (perf_reference.json's stored times).
//!
//! This crate is its own workspace (the root workspace excludes it), so `cargo test
//! --workspace` at the root never builds web-audio-api-rs. Run it in release mode:
//!
//! ```text
//! cd bench-peers && cargo run --release -- [CASES_DIR] [--only PREFIX] [--runs N] [--md FILE]
//! ```
//!
//! or `scripts/bench-peers.sh`, which also writes the table into BENCHMARKS.md.
//!
//! `webaudio-bench-peers conformance [--only PREFIX] [--out FILE]` instead renders the
//! conformance cases through web-audio-api-rs and writes its figures against Chromium (see
//! [`conformance`]; `scripts/peer-conformance.sh`).

mod conformance;
mod peer;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;
use webaudio_conformance::metrics::{error_db, fmt_db};
use webaudio_conformance::{Case, build_and_render};

/// Renders per engine and case (the median is reported), as in perf_reference.json.
const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One measured case.
struct Row {
    name: String,
    duration_s: f64,
    ours_ms: f64,
    peer_ms: f64,
    chromium_ms: Option<f64>,
    /// Error of web-audio-api-rs's output against ours (FORMAT.md's `error` metric), dB.
    peer_diff_db: f64,
}

/// Renders `case` `runs` times with each engine, alternating (ours, peer, ours, ...) so that
/// both see the same allocator state: every render writes its output into fresh memory, and
/// the previous output of the same engine is freed first.
fn measure(case: &Case, runs: usize, chromium_ms: Option<f64>) -> Result<Row, String> {
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    let (mut ours_out, mut peer_out) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        drop(std::mem::take(&mut ours_out));
        let r = build_and_render(case).map_err(|e| format!("bevy_webaudio: {e}"))?;
        ours.push(r.render_ms);
        ours_out = r.channels;
        drop(std::mem::take(&mut peer_out));
        let r = peer::render(case).map_err(|e| format!("web-audio-api-rs: {e}"))?;
        peer.push(r.render_ms);
        peer_out = r.channels;
    }
    Ok(Row {
        name: case.name.clone(),
        duration_s: case.duration_s(),
        ours_ms: median(ours),
        peer_ms: median(peer),
        chromium_ms,
        peer_diff_db: error_db(&peer_out, &ours_out),
    })
}

/// `model name` of /proc/cpuinfo, the logical CPU count and the widest SIMD the CPU offers.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split(':').nth(1))
            .map_or(String::from("unknown"), |v| v.trim().to_string())
    };
    let cpus = info.lines().filter(|l| l.starts_with("processor")).count();
    let flags = field("flags");
    let simd = ["avx512f", "avx2", "sse4_2"]
        .into_iter()
        .find(|f| flags.split(' ').any(|x| x == *f))
        .unwrap_or("baseline");
    format!(
        "{} ({cpus} logical CPUs, widest SIMD: {simd})",
        field("model name")
    )
}

fn table(rows: &[Row], runs: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "Machine: {}  ", machine());
    let _ = writeln!(
        t,
        "Median of {runs} renders per engine, alternating, same process, release build; only rendering is timed. \
         Ratios are the peer's time / bevy_webaudio's time (> 1: bevy_webaudio is faster). \
         Chromium's times are perf_reference.json's stored figures (another machine of this kind).\n"
    );
    let _ = writeln!(
        t,
        "| case | audio s | bevy_webaudio ms | × real time | web-audio-api-rs ms | vs web-audio-api-rs | Chromium ms (stored) | vs Chromium | outputs differ by dB |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let chromium = r.chromium_ms.map_or("—".into(), |c| format!("{c:.1}"));
        let vs_chromium = r
            .chromium_ms
            .map_or("—".into(), |c| format!("{:.2}", c / r.ours_ms));
        let _ = writeln!(
            t,
            "| {} | {} | {:.1} | {:.0} | {:.1} | {:.2} | {chromium} | {vs_chromium} | {} |",
            r.name,
            r.duration_s,
            r.ours_ms,
            r.duration_s * 1e3 / r.ours_ms,
            r.peer_ms,
            r.peer_ms / r.ours_ms,
            fmt_db(r.peer_diff_db),
        );
    }
    let ahead_peer = rows.iter().filter(|r| r.peer_ms > r.ours_ms).count();
    let twice_chromium = rows
        .iter()
        .filter(|r| r.chromium_ms.is_some_and(|c| c >= 2.0 * r.ours_ms))
        .count();
    let _ = writeln!(
        t,
        "\nAhead of web-audio-api-rs on {ahead_peer}/{n} cases; at least 2× Chromium's stored time on {twice_chromium}/{n}.",
        n = rows.len()
    );
    t
}

fn run(args: &[String]) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let (mut dir, mut only, mut runs, mut md) = (root.join("cases"), None, RUNS, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--only" => only = Some(value()?),
            "--runs" => runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--md" => md = Some(PathBuf::from(value()?)),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => dir = PathBuf::from(s),
        }
    }
    let reference: Value = std::fs::read_to_string(root.join("perf_reference.json"))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for file in files {
        let case = Case::from_path(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        if !case.is_perf()
            || only
                .as_ref()
                .is_some_and(|p| !case.name.starts_with(p.as_str()))
        {
            continue;
        }
        let chromium = reference["cases"][&case.name]["chromium_ms"].as_f64();
        let row =
            measure(&case, runs.max(1), chromium).map_err(|e| format!("{}: {e}", case.name))?;
        eprintln!(
            "{:<44} bevy_webaudio {:9.1} ms   web-audio-api-rs {:9.1} ms",
            row.name, row.ours_ms, row.peer_ms
        );
        rows.push(row);
    }
    let t = table(&rows, runs.max(1));
    print!("{t}");
    if let Some(md) = md {
        std::fs::write(&md, t).map_err(|e| format!("{}: {e}", md.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; timings are meaningless (use --release)");
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("conformance") => conformance::run(&args[1..]),
        _ => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
