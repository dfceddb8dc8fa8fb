//! `webaudio-bench-peers`: renders every perf_* case through bevy_webaudio (the
//! `webaudio-conformance` runner, i.e. the public ECS API + the offline backend) and through
//! web-audio-api-rs 1.7.0, each [`RUNS`] times in the same process, and prints the median
//! render time of both, × real time, and the ratios against web-audio-api-rs and Chromium.
//! Chromium's times come from a run of `conformance/chromium/run.js` made just before, in the
//! same session (`--chromium DIR`, as `scripts/bench-peers.sh` does), else from
//! perf_reference.json's stored figures (marked as such).
//!
//! Cases split in two tables. A render writes its whole output into fresh memory, and for a
//! simple graph the first touch of those pages (a 120 s stereo output is 46 MB, about 11,000
//! page faults) costs as much as the DSP: such a case measures the memory system, not the
//! engine. Each case's *memory floor* is measured in the same process (allocating and touching
//! an output of the same size), and a case whose floor is at least [`MEMORY_BOUND`] of
//! bevy_webaudio's time goes to the memory-bound table, which also compares the times with
//! the floor taken off.
//!
//! This crate is its own workspace (the root workspace excludes it), so `cargo test
//! --workspace` at the root never builds web-audio-api-rs. Run it in release mode:
//!
//! ```text
//! cd bench-peers && cargo run --release -- [CASES_DIR] [--only PREFIX] [--runs N] [--md FILE]
//!     [--chromium RUN_JS_OUTDIR]
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

/// A case is memory-bound when its memory floor is at least this fraction of bevy_webaudio's
/// render time.
const MEMORY_BOUND: f64 = 0.3;

/// A peer render longer than this (ms) is not repeated: one render of each engine.
const LONG_RENDER_MS: f64 = 20_000.0;

/// The time to allocate and first-touch `channels` × `frames` f32 samples, as a render's
/// output does (median of `runs`).
fn memory_floor_ms(channels: usize, frames: usize, runs: usize) -> f64 {
    let times = (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            let out: Vec<Vec<f32>> = (0..channels).map(|_| vec![0.5f32; frames]).collect();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            std::hint::black_box(&out);
            ms
        })
        .collect();
    median(times)
}

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
    /// Whether `chromium_ms` was measured in this session (else the stored figure).
    chromium_live: bool,
    /// Allocating and touching an output of this case's size, ms.
    floor_ms: f64,
    /// Error of web-audio-api-rs's output against ours (FORMAT.md's `error` metric), dB.
    peer_diff_db: f64,
}

/// Renders `case` `runs` times with each engine, alternating (ours, peer, ours, ...) so that
/// both see the same allocator state: every render writes its output into fresh memory, and
/// the previous output of the same engine is freed first.
fn measure(case: &Case, runs: usize, chromium: (Option<f64>, bool)) -> Result<Row, String> {
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    let (mut ours_out, mut peer_out) = (Vec::new(), Vec::new());
    for run in 0..runs {
        if run > 0 && peer.iter().any(|&ms| ms > LONG_RENDER_MS) {
            break;
        }
        drop(std::mem::take(&mut ours_out));
        let r = build_and_render(case).map_err(|e| format!("bevy_webaudio: {e}"))?;
        ours.push(r.render_ms);
        ours_out = r.channels;
        drop(std::mem::take(&mut peer_out));
        let r = peer::render(case).map_err(|e| format!("web-audio-api-rs: {e}"))?;
        peer.push(r.render_ms);
        peer_out = r.channels;
    }
    let channels = ours_out.len().max(1);
    let frames = ours_out.first().map_or(0, Vec::len);
    Ok(Row {
        name: case.name.clone(),
        duration_s: case.duration_s(),
        ours_ms: median(ours),
        peer_ms: median(peer),
        chromium_ms: chromium.0,
        chromium_live: chromium.1,
        floor_ms: memory_floor_ms(channels, frames, runs.max(3)),
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

impl Row {
    /// The faster peer's time (Chromium's only when measured in this session).
    fn fastest_peer_ms(&self) -> f64 {
        match self.chromium_ms {
            Some(c) if self.chromium_live => c.min(self.peer_ms),
            _ => self.peer_ms,
        }
    }

    fn memory_bound(&self) -> bool {
        self.floor_ms >= MEMORY_BOUND * self.ours_ms
    }

    fn chromium_cells(&self) -> (String, String) {
        match self.chromium_ms {
            Some(c) => (
                format!(
                    "{c:.1}{}",
                    if self.chromium_live { "" } else { " (stored)" }
                ),
                format!("{:.2}", c / self.ours_ms),
            ),
            None => ("—".into(), "—".into()),
        }
    }
}

fn dsp_table(t: &mut String, rows: &[&Row]) {
    let _ = writeln!(
        t,
        "| case | audio s | bevy_webaudio ms | × real time | web-audio-api-rs ms | vs web-audio-api-rs | Chromium ms | vs Chromium | vs faster peer | outputs differ by dB |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (chromium, vs_chromium) = r.chromium_cells();
        let _ = writeln!(
            t,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.2} | {chromium} | {vs_chromium} | **{:.2}** | {} |",
            r.name,
            r.duration_s,
            r.ours_ms,
            r.duration_s * 1e3 / r.ours_ms,
            r.peer_ms,
            r.peer_ms / r.ours_ms,
            r.fastest_peer_ms() / r.ours_ms,
            fmt_db(r.peer_diff_db),
        );
    }
    let twice: Vec<&str> = rows
        .iter()
        .filter(|r| r.fastest_peer_ms() < 2.0 * r.ours_ms)
        .map(|r| r.name.as_str())
        .collect();
    let _ = writeln!(
        t,
        "\nAt least 2× the faster peer on {}/{} DSP-bound cases{}.",
        rows.len() - twice.len(),
        rows.len(),
        if twice.is_empty() {
            String::new()
        } else {
            format!("; below: {}", twice.join(", "))
        }
    );
}

fn memory_table(t: &mut String, rows: &[&Row]) {
    let _ = writeln!(
        t,
        "| case | audio s | memory floor ms | bevy_webaudio ms | web-audio-api-rs ms | Chromium ms | vs web-audio-api-rs, floor taken off | outputs differ by dB |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (chromium, _) = r.chromium_cells();
        let above = |ms: f64| (ms - r.floor_ms).max(0.01);
        let _ = writeln!(
            t,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {chromium} | {:.2} | {} |",
            r.name,
            r.duration_s,
            r.floor_ms,
            r.ours_ms,
            r.peer_ms,
            above(r.peer_ms) / above(r.ours_ms),
            fmt_db(r.peer_diff_db),
        );
    }
}

fn table(rows: &[Row], runs: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "Machine: {}  ", machine());
    let live = rows.iter().any(|r| r.chromium_live);
    let _ = writeln!(
        t,
        "Median of {runs} renders per engine (one for renders over {} s), bevy_webaudio and web-audio-api-rs alternating in one process, \
         release build; only rendering is timed. Ratios are the peer's time / bevy_webaudio's time (> 1: bevy_webaudio is faster). {}\n",
        LONG_RENDER_MS / 1e3,
        if live {
            "Chromium's times were measured in the same session, just before (median of 3 renders, one for the game mix)."
        } else {
            "Chromium's times are perf_reference.json's stored figures (another machine of this kind)."
        }
    );
    let (memory, dsp): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| r.memory_bound());
    let _ = writeln!(t, "### DSP-bound cases\n");
    dsp_table(&mut t, &dsp);
    let _ = writeln!(
        t,
        "\n### Memory-bound cases\n\nThe memory floor (allocating and first-touching an output of the case's size, \
         measured in the same process) is at least {:.0} % of bevy_webaudio's time: these cases time page faults more than DSP.\n",
        MEMORY_BOUND * 100.0
    );
    memory_table(&mut t, &memory);
    t
}

fn run(args: &[String]) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let (mut dir, mut only, mut runs, mut md) = (root.join("cases"), None, RUNS, None);
    let mut chromium_dir: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--only" => only = Some(value()?),
            "--runs" => runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--md" => md = Some(PathBuf::from(value()?)),
            "--chromium" => chromium_dir = Some(PathBuf::from(value()?)),
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
        let live = chromium_dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join(format!("{}.json", case.name))).ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|m| m["render_ms"].as_f64())
            .filter(|&ms| ms > 0.0);
        let chromium = match live {
            Some(ms) => (Some(ms), true),
            None => (
                reference["cases"][&case.name]["chromium_ms"].as_f64(),
                false,
            ),
        };
        let row =
            measure(&case, runs.max(1), chromium).map_err(|e| format!("{}: {e}", case.name))?;
        eprintln!(
            "{:<44} bevy_webaudio {:9.1} ms   web-audio-api-rs {:9.1} ms   memory floor {:7.1} ms",
            row.name, row.ours_ms, row.peer_ms, row.floor_ms
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
