//! The metrics of the conformance README (and `tools/judge.py`): `error` in dB over every
//! sample of every channel, and `envelope` (per 1024-frame block RMS ratio, for HRTF).

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
}

impl Threshold {
    /// web-audio-api-rs's figure for a table cell.
    pub fn web_audio_api_rs_cell(&self) -> String {
        match (self.web_audio_api_rs, &self.web_audio_api_rs_note) {
            (Some(v), _) => format!("{v:.1}"),
            (None, Some(note)) => note.clone(),
            (None, None) => "exact".into(),
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
        };
        assert!(judge(&r, &r, &th).pass);
        assert!(!judge(&t, &r, &th).pass);
        assert!(!judge(&r[..1], &r, &th).pass);
        assert!(!judge(&[vec![f32::NAN, 0.0], vec![0.0, 0.0]], &r, &th).pass);
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
