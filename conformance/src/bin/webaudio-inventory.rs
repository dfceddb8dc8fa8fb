//! `webaudio-inventory`: prints the conformance inventory (every public Web Audio item of the
//! crate, read from its source, and the checked cases that exercise it) and the gaps, and
//! optionally writes it into a Markdown file between the inventory markers.
//!
//! ```text
//! webaudio-inventory [--md CONFORMANCE.md] [--gaps FILE]
//! ```
//!
//! Exit status 1 when an item has no case.

use std::path::Path;
use std::process::ExitCode;

use webaudio_conformance::inventory;

fn run(args: &[String]) -> Result<bool, String> {
    let (mut md, mut gaps_file) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--md" => md = Some(value()?),
            "--gaps" => gaps_file = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let inv = inventory::from_source(&root)?;
    let cov = inventory::coverage(
        &inv,
        &root.join("tests/conformance/cases"),
        &root.join("tests/conformance/thresholds.json"),
    )?;
    let section = inventory::markdown(&inv, &cov);
    let gaps = inventory::gaps(&cov);
    if let Some(md) = md {
        inventory::write_section(Path::new(&md), &section)?;
    } else {
        print!("{section}");
    }
    if let Some(f) = gaps_file {
        let text: String = gaps.iter().map(|g| format!("{g}\n")).collect();
        std::fs::write(&f, text).map_err(|e| format!("{f}: {e}"))?;
    }
    eprintln!(
        "{} items, {} gaps{}",
        inv.items.len(),
        gaps.len(),
        if gaps.is_empty() { "" } else { ":" }
    );
    for g in &gaps {
        eprintln!("  {g}");
    }
    Ok(gaps.is_empty())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
