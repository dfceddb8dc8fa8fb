//! web-audio-api-rs 1.7.0's figures on the conformance cases, from
//! `tests/conformance/web_audio_api_rs.json` (written by `scripts/peer-conformance.sh`, which
//! renders every case through web-audio-api-rs and measures it against Chromium's reference
//! with the case's metric). A case missing there falls back to the value stored in
//! thresholds.json.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::metrics::Threshold;

/// One case's figure.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct PeerFigure {
    /// The metric's value in dB; `None`: see `note`.
    pub value: Option<f64>,
    /// `bit-identical`, or why there is no value (unsupported, panicked, expectError case).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize)]
struct File {
    cases: BTreeMap<String, PeerFigure>,
}

/// The figures by case name.
#[derive(Clone, Debug, Default)]
pub struct PeerFigures(pub BTreeMap<String, PeerFigure>);

impl PeerFigures {
    /// Reads `web_audio_api_rs.json` beside `thresholds` (none: empty).
    ///
    /// # Errors
    /// A file that exists but does not parse.
    pub fn beside(thresholds: &Path) -> Result<Self, String> {
        let path = thresholds.with_file_name("web_audio_api_rs.json");
        match std::fs::read_to_string(&path) {
            Err(_) => Ok(Self::default()),
            Ok(text) => serde_json::from_str::<File>(&text)
                .map(|f| Self(f.cases))
                .map_err(|e| format!("{}: {e}", path.display())),
        }
    }

    /// Whether web-audio-api-rs meets `th`'s limit on `name` (bit-identical passes; no figure
    /// does not), falling back to thresholds.json's stored value (none stored: not measured,
    /// not a pass).
    pub fn passes(&self, name: &str, th: &Threshold) -> bool {
        match self.0.get(name) {
            Some(PeerFigure { value: Some(v), .. }) => *v <= th.limit,
            Some(PeerFigure { value: None, note }) => note.as_deref() == Some("bit-identical"),
            None => th.web_audio_api_rs.is_some_and(|v| v <= th.limit),
        }
    }

    /// The table cell for `name`.
    pub fn cell(&self, name: &str, th: &Threshold) -> String {
        match self.0.get(name) {
            Some(PeerFigure { value: Some(v), .. }) => format!("{v:.1}"),
            Some(PeerFigure { note, .. }) => note.clone().unwrap_or_else(|| "—".into()),
            None => th.web_audio_api_rs_cell(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_judge_against_the_limit() {
        let th = Threshold {
            metric: "error".into(),
            limit: -80.0,
            web_audio_api_rs: Some(-90.0),
            web_audio_api_rs_note: None,
            why: None,
            readbacks: Default::default(),
        };
        let f: File = serde_json::from_str(
            r#"{"cases": {"a": {"value": -70.0}, "b": {"value": null, "note": "bit-identical"},
                          "c": {"value": null, "note": "unsupported: x"}}}"#,
        )
        .unwrap();
        let figs = PeerFigures(f.cases);
        assert!(!figs.passes("a", &th));
        assert!(figs.passes("b", &th));
        assert!(!figs.passes("c", &th));
        assert!(figs.passes("stored", &th), "falls back to thresholds.json");
        assert_eq!(figs.cell("a", &th), "-70.0");
        assert_eq!(figs.cell("c", &th), "unsupported: x");
        assert_eq!(figs.cell("stored", &th), "-90.0");
        let unmeasured = Threshold {
            web_audio_api_rs: None,
            ..th
        };
        assert!(!figs.passes("new", &unmeasured), "no figure is no pass");
        assert_eq!(figs.cell("new", &unmeasured), "not measured");
    }
}
