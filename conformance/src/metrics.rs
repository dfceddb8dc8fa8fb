//! The metrics of the conformance README (and `tools/judge.py`): `error` in dB over every
//! sample of every channel, `envelope` (per 1024-frame block RMS ratio, for HRTF), and the
//! read-back metrics (`max_abs`, `max_db`, `max_steps`, `response`; FORMAT.md *Read-backs*).

use std::path::Path;

use serde::Deserialize;

/// `10·log10(Σ(test − ref)² / Σ ref²)` over all channels; `-inf` when identical, `+inf` when
/// the reference is silent and the test is not. Channels must already have equal shapes.
pub fn error_db(test: &[Vec<f32>], reference: &[Vec<f32>]) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (t, r) in test.iter().zip(reference) {
        for (&x, &y) in t.iter().zip(r) {
            let d = f64::from(x) - f64::from(y);
            num += d * d;
            den += f64::from(y) * f64::from(y);
        }
    }
    if num == 0.0 {
        f64::NEG_INFINITY
    } else if den > 0.0 {
        10.0 * (num / den).log10()
    } else {
        f64::INFINITY
    }
}

/// Largest `|20·log10(rms_test / rms_ref)|` over channels and whole 1024-frame blocks whose
/// reference RMS is above 1e-3.
pub fn envelope_db(test: &[Vec<f32>], reference: &[Vec<f32>]) -> f64 {
    const BLOCK: usize = 1024;
    let rms = |x: &[f32]| {
        (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / BLOCK as f64).sqrt()
    };
    let mut worst = 0.0f64;
    for (t, r) in test.iter().zip(reference) {
        for (tb, rb) in t.chunks_exact(BLOCK).zip(r.chunks_exact(BLOCK)) {
            let rr = rms(rb);
            if rr <= 1e-3 {
                continue;
            }
            let tt = rms(tb).max(1e-12);
            worst = worst.max((20.0 * (tt / rr).log10()).abs());
        }
    }
    worst
}

/// One entry of `thresholds.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct Threshold {
    /// `"error"` or `"envelope"`.
    pub metric: String,
    /// Pass when the metric is at most this (dB).
    pub limit: f64,
    /// web-audio-api-rs 1.7.0's value on the same case (null: see the note).
    #[serde(default)]
    pub web_audio_api_rs: Option<f64>,
    /// e.g. "bit-identical".
    #[serde(default)]
    pub web_audio_api_rs_note: Option<String>,
    /// Why this limit.
    #[serde(default)]
    pub why: Option<String>,
    /// Limits of the case's read-backs, by read-back id.
    #[serde(default)]
    pub readbacks: std::collections::BTreeMap<String, ReadbackLimit>,
}

/// The limit of one read-back (`thresholds.json`: `"readbacks": {"ID": {...}}`).
#[derive(Clone, Debug, Deserialize)]
pub struct ReadbackLimit {
    /// `max_abs` (float data: largest `|test − ref|`), `max_db` (`getFloatFrequencyData`:
    /// largest `|test − ref|` in dB over bins where the reference is at least `floor_db`),
    /// `max_steps` (byte data: largest difference in steps), `response`
    /// (`getFrequencyResponse`: largest `|20·log10(mag_test / mag_ref)|` in dB, and largest
    /// wrapped phase difference in radians, where the reference magnitude exceeds 1e-6).
    pub metric: String,
    /// Pass when the value is at most this.
    pub limit: f64,
    /// `response`: the phase limit in radians.
    #[serde(default)]
    pub phase_limit: Option<f64>,
    /// `max_db`: bins whose reference is below this (dB) are not compared (default −100).
    #[serde(default)]
    pub floor_db: Option<f64>,
    /// Why this limit.
    #[serde(default)]
    pub why: Option<String>,
}

/// A read-back number: a JSON number, or `"Infinity"` / `"-Infinity"` / `"NaN"`.
fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => match s.as_str() {
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            "NaN" => Some(f64::NAN),
            _ => None,
        },
        _ => None,
    }
}

fn numbers(v: &serde_json::Value, key: &str) -> Result<Vec<f64>, String> {
    v.get(key)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| format!("no `{key}` array"))?
        .iter()
        .map(|x| number(x).ok_or_else(|| format!("`{key}`: {x} is not a number")))
        .collect()
}

/// Whether two values agree where one is not finite (both the same infinity, or both NaN).
fn same_nonfinite(t: f64, r: f64) -> bool {
    (t.is_nan() && r.is_nan()) || t == r
}

/// Judges one read-back object (an element of `NAME.readback.json`'s `readbacks`) against the
/// reference's with `limit`.
pub fn judge_readback(
    test: &serde_json::Value,
    reference: &serde_json::Value,
    limit: &ReadbackLimit,
) -> Verdict {
    let fail = |note: String| Verdict {
        value: None,
        pass: false,
        note: Some(note),
    };
    let verdict = |value: f64, pass: bool, note: Option<String>| Verdict {
        value: Some(value),
        pass: pass && value <= limit.limit,
        note,
    };
    if limit.metric == "response" {
        let get = |v: &serde_json::Value| -> Result<[Vec<f64>; 3], String> {
            Ok([
                numbers(v, "frequencies")?,
                numbers(v, "magResponse")?,
                numbers(v, "phaseResponse")?,
            ])
        };
        let ([tf, tm, tp], [rf, rm, rp]) = match (get(test), get(reference)) {
            (Ok(t), Ok(r)) => (t, r),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
        if tf.len() != rf.len() || tf.iter().zip(&rf).any(|(a, b)| !same_nonfinite(*a, *b)) {
            return fail("frequencies differ from the reference's".into());
        }
        if tm.len() != rm.len() || tp.len() != rp.len() || tm.len() != tf.len() {
            return fail("array lengths differ".into());
        }
        let (mut mag_db, mut phase) = (0.0f64, 0.0f64);
        for i in 0..rf.len() {
            if !rm[i].is_finite() || !rp[i].is_finite() {
                if !(same_nonfinite(tm[i], rm[i]) && same_nonfinite(tp[i], rp[i])) {
                    return fail(format!(
                        "{} Hz: reference {} / {}, got {} / {}",
                        rf[i], rm[i], rp[i], tm[i], tp[i]
                    ));
                }
                continue;
            }
            if rm[i].abs() <= 1e-6 {
                continue;
            }
            if !(tm[i].is_finite() && tp[i].is_finite()) || tm[i] <= 0.0 {
                return fail(format!(
                    "{} Hz: magnitude {} / phase {}",
                    rf[i], tm[i], tp[i]
                ));
            }
            mag_db = mag_db.max((20.0 * (tm[i] / rm[i]).log10()).abs());
            let mut d = (tp[i] - rp[i]).rem_euclid(std::f64::consts::TAU);
            if d > std::f64::consts::PI {
                d -= std::f64::consts::TAU;
            }
            phase = phase.max(d.abs());
        }
        let phase_limit = limit.phase_limit.unwrap_or(0.0);
        return verdict(
            mag_db,
            phase <= phase_limit,
            Some(format!("phase {phase:.3e} rad (limit {phase_limit:e})")),
        );
    }
    let (t, r) = match (numbers(test, "data"), numbers(reference, "data")) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    if t.len() != r.len() {
        return fail(format!("{} elements, expected {}", t.len(), r.len()));
    }
    let floor = match limit.metric.as_str() {
        "max_abs" | "max_steps" => None,
        "max_db" => Some(limit.floor_db.unwrap_or(-100.0)),
        other => return fail(format!("unknown read-back metric `{other}`")),
    };
    let mut worst = 0.0f64;
    for (i, (&x, &y)) in t.iter().zip(&r).enumerate() {
        // below the floor, or NaN
        if floor.is_some_and(|f| y.partial_cmp(&f).is_none_or(std::cmp::Ordering::is_lt)) {
            continue;
        }
        if !x.is_finite() || !y.is_finite() {
            if same_nonfinite(x, y) {
                continue;
            }
            return fail(format!("element {i}: {x}, expected {y}"));
        }
        worst = worst.max((x - y).abs());
    }
    verdict(worst, true, None)
}

impl Threshold {
    /// web-audio-api-rs's figure for a table cell.
    pub fn web_audio_api_rs_cell(&self) -> String {
        match (self.web_audio_api_rs, &self.web_audio_api_rs_note) {
            (Some(v), _) => format!("{v:.1}"),
            (None, Some(note)) => note.clone(),
            (None, None) => "not measured".into(),
        }
    }
}

/// Reads `thresholds.json` (case name -> threshold), sorted by name.
///
/// # Errors
/// I/O or JSON errors as text.
pub fn read_thresholds(
    path: &Path,
) -> Result<std::collections::BTreeMap<String, Threshold>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The outcome of judging one render.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The metric's value (None when the shapes differ or a sample is not finite).
    pub value: Option<f64>,
    /// Whether it passes.
    pub pass: bool,
    /// Why it failed before measuring (shape, NaN), if it did.
    pub note: Option<String>,
}

/// Judges `test` against `reference` (`channels` x `length`) with `threshold`.
pub fn judge(test: &[Vec<f32>], reference: &[Vec<f32>], threshold: &Threshold) -> Verdict {
    let fail = |note: String| Verdict {
        value: None,
        pass: false,
        note: Some(note),
    };
    if test.len() != reference.len() {
        return fail(format!(
            "{} channels, expected {}",
            test.len(),
            reference.len()
        ));
    }
    if let Some((c, t)) = test
        .iter()
        .enumerate()
        .find(|(c, t)| t.len() != reference[*c].len())
    {
        return fail(format!(
            "channel {c}: {} frames, expected {}",
            t.len(),
            reference[c].len()
        ));
    }
    if let Some(n) = test.iter().flatten().position(|x| !x.is_finite()) {
        return fail(format!("non-finite sample (#{n} in planar order)"));
    }
    let value = match threshold.metric.as_str() {
        "error" => error_db(test, reference),
        "envelope" => envelope_db(test, reference),
        other => return fail(format!("unknown metric `{other}`")),
    };
    Verdict {
        value: Some(value),
        pass: value <= threshold.limit,
        note: None,
    }
}

/// What a runner produced for one case, to judge against the reference's.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaseData<'a> {
    /// The render (`None`: the case ended while building).
    pub channels: Option<&'a [Vec<f32>]>,
    /// The exception thrown, `{"at", "name", "message"}` (`NAME.json`'s `error`).
    pub error: Option<&'a serde_json::Value>,
    /// `NAME.readback.json`.
    pub readbacks: Option<&'a serde_json::Value>,
}

/// Judges a whole case: the exception (same `name` at the same `at` as the reference's, or
/// none when the reference has none), the render with the case's metric (when the reference
/// rendered), and every read-back with its limit from `threshold.readbacks` (each of the
/// reference's read-backs needs one). `value` is the render's metric; the notes say what else
/// was measured or failed.
pub fn judge_case(test: CaseData, reference: CaseData, threshold: &Threshold) -> Verdict {
    let mut notes = Vec::new();
    let mut pass = true;
    let exception = |e: Option<&serde_json::Value>| {
        e.map(|e| {
            (
                e["name"].as_str().unwrap_or("?").to_string(),
                e["at"].as_str().unwrap_or("?").to_string(),
            )
        })
    };
    match (exception(test.error), exception(reference.error)) {
        (t, r) if t == r => {
            if let Some((name, at)) = t {
                notes.push(format!("{name} at {at} as the reference"));
            }
        }
        (t, r) => {
            pass = false;
            let show = |x: Option<(String, String)>| {
                x.map_or("nothing".to_string(), |(n, a)| format!("{n} at {a}"))
            };
            notes.push(format!(
                "threw {}, the reference threw {}",
                show(t),
                show(r)
            ));
        }
    }
    let mut value = None;
    match (test.channels, reference.channels) {
        (Some(t), Some(r)) => {
            let v = judge(t, r, threshold);
            value = v.value;
            pass &= v.pass;
            notes.extend(v.note);
        }
        (None, None) => notes.push("no render (ended while building, as the reference)".into()),
        (Some(_), None) => {
            pass = false;
            notes.push("rendered, but the reference ended while building".into());
        }
        (None, Some(_)) => {
            pass = false;
            notes.push("no render".into());
        }
    }
    let list = |v: Option<&serde_json::Value>| -> Vec<serde_json::Value> {
        v.and_then(|v| v["readbacks"].as_array())
            .cloned()
            .unwrap_or_default()
    };
    let (test_rb, ref_rb) = (list(test.readbacks), list(reference.readbacks));
    for r in &ref_rb {
        let id = r["id"].as_str().unwrap_or("?");
        let Some(limit) = threshold.readbacks.get(id) else {
            pass = false;
            notes.push(format!("read-back {id}: no limit in thresholds.json"));
            continue;
        };
        let Some(t) = test_rb.iter().find(|t| t["id"].as_str() == Some(id)) else {
            pass = false;
            notes.push(format!("read-back {id}: missing"));
            continue;
        };
        let v = judge_readback(t, r, limit);
        pass &= v.pass;
        let shown = v.value.map_or("—".to_string(), |x| format!("{x:.3e}"));
        notes.push(format!(
            "{id} {} {shown} (limit {:e}){}{}",
            limit.metric,
            limit.limit,
            v.note.map(|n| format!(", {n}")).unwrap_or_default(),
            if v.pass { "" } else { " FAIL" }
        ));
    }
    for id in threshold.readbacks.keys() {
        if !ref_rb.iter().any(|r| r["id"].as_str() == Some(id)) {
            pass = false;
            notes.push(format!("read-back {id}: not in the reference"));
        }
    }
    Verdict {
        value,
        pass,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// Formats a dB value as the tables do (`exact` for -inf).
pub fn fmt_db(v: f64) -> String {
    if v == f64::NEG_INFINITY {
        "exact".into()
    } else {
        format!("{v:.1}")
    }
}

/// Reads a planar little-endian f32 file into `channels` channels.
///
/// # Errors
/// I/O errors, or a size that is not `channels` x whole frames.
pub fn read_f32(path: &Path, channels: usize) -> Result<Vec<Vec<f32>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() % 4 != 0 || channels == 0 || (bytes.len() / 4) % channels != 0 {
        return Err(format!(
            "{}: {} bytes is not {channels} channels of f32",
            path.display(),
            bytes.len()
        ));
    }
    let samples: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let n = samples.len() / channels;
    Ok(samples
        .chunks_exact(n.max(1))
        .take(channels)
        .map(<[f32]>::to_vec)
        .collect())
}

/// Writes planar little-endian f32.
///
/// # Errors
/// I/O errors.
pub fn write_f32(path: &Path, channels: &[Vec<f32>]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(channels.iter().map(Vec::len).sum::<usize>() * 4);
    for ch in channels {
        for x in ch {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_metric() {
        let r = vec![vec![1.0f32, -1.0], vec![0.0, 0.0]];
        assert_eq!(error_db(&r, &r), f64::NEG_INFINITY);
        let t = vec![vec![1.1f32, -1.0], vec![0.0, 0.0]];
        let want = 10.0 * ((f64::from(1.1f32) - 1.0).powi(2) / 2.0).log10();
        assert!((error_db(&t, &r) - want).abs() < 1e-9);
        assert_eq!(
            error_db(&t, &[vec![0.0, 0.0], vec![0.0, 0.0]]),
            f64::INFINITY
        );
        let th = Threshold {
            metric: "error".into(),
            limit: -80.0,
            web_audio_api_rs: None,
            web_audio_api_rs_note: None,
            why: None,
            readbacks: Default::default(),
        };
        assert!(judge(&r, &r, &th).pass);
        assert!(!judge(&t, &r, &th).pass);
        assert!(!judge(&r[..1], &r, &th).pass);
        assert!(!judge(&[vec![f32::NAN, 0.0], vec![0.0, 0.0]], &r, &th).pass);
    }

    #[test]
    fn readback_metrics() {
        use serde_json::json;
        let lim = |metric: &str, limit: f64| ReadbackLimit {
            metric: metric.into(),
            limit,
            phase_limit: Some(1e-3),
            floor_db: None,
            why: None,
        };
        let r = json!({"data": [0.5, -0.25, "-Infinity"]});
        let v = judge_readback(
            &json!({"data": [0.5, -0.2, "-Infinity"]}),
            &r,
            &lim("max_abs", 0.1),
        );
        assert!(v.pass && (v.value.unwrap() - 0.05).abs() < 1e-12);
        assert!(
            !judge_readback(
                &json!({"data": [0.5, -0.2, "-Infinity"]}),
                &r,
                &lim("max_abs", 0.01)
            )
            .pass
        );
        // a finite value where the reference has -inf fails max_abs; max_db skips it below the floor
        let t = json!({"data": [0.5, -0.25, -300.0]});
        assert!(!judge_readback(&t, &r, &lim("max_abs", 1.0)).pass);
        let db = json!({"data": [-20.0, -150.0, "-Infinity"]});
        let v = judge_readback(
            &json!({"data": [-20.5, -90.0, -200.0]}),
            &db,
            &lim("max_db", 1.0),
        );
        assert_eq!((v.pass, v.value), (true, Some(0.5)));
        assert!(
            !judge_readback(
                &json!({"data": [1, 2]}),
                &json!({"data": [1, 2, 3]}),
                &lim("max_steps", 9.0)
            )
            .pass
        );
        let v = judge_readback(
            &json!({"data": [1, 5, 3]}),
            &json!({"data": [1, 2, 3]}),
            &lim("max_steps", 3.0),
        );
        assert_eq!((v.pass, v.value), (true, Some(3.0)));
        // response: 0.1 dB off at 1 kHz, NaN where the reference is NaN, tiny magnitudes skipped;
        // phases compare modulo 2π
        let rr = json!({"frequencies": [1000, -1, 24000], "magResponse": [2.0, "NaN", 1e-9], "phaseResponse": [3.1, "NaN", 0.5]});
        let tt = json!({"frequencies": [1000, -1, 24000], "magResponse": [2.0 * 10f64.powf(0.1 / 20.0), "NaN", 1.0], "phaseResponse": [3.1 - std::f64::consts::TAU, "NaN", -2.0]});
        let v = judge_readback(&tt, &rr, &lim("response", 0.2));
        assert!(v.pass && (v.value.unwrap() - 0.1).abs() < 1e-9, "{v:?}");
        assert!(!judge_readback(&tt, &rr, &lim("response", 0.05)).pass);
        let bad_phase = json!({"frequencies": [1000, -1, 24000], "magResponse": [2.0, "NaN", 1e-9], "phaseResponse": [3.0, "NaN", 0.5]});
        assert!(!judge_readback(&bad_phase, &rr, &lim("response", 0.2)).pass);
        let no_nan = json!({"frequencies": [1000, -1, 24000], "magResponse": [2.0, 1.0, 1e-9], "phaseResponse": [3.1, 0.0, 0.5]});
        assert!(!judge_readback(&no_nan, &rr, &lim("response", 0.2)).pass);
    }

    #[test]
    fn envelope_metric() {
        let r = vec![vec![0.5f32; 2048 + 100]];
        let t = vec![vec![0.25f32; 2048 + 100]];
        assert!((envelope_db(&t, &r) - 20.0 * 2f64.log10()).abs() < 1e-9);
        let quiet = vec![vec![1e-4f32; 2048]];
        assert_eq!(envelope_db(&t, &quiet), 0.0);
    }
}
