//! `PeriodicWave`: a custom oscillator waveform from Fourier coefficients, with the spec's
//! validation. The band-limited tables built from it live in `wavetable.rs`.

use serde::{Deserialize, Serialize};

use crate::error::WebAudioError;

/// The spec's `PeriodicWave`: `real` (cosine) and `imag` (sine) coefficients, index 0 (DC)
/// ignored, normalized to a peak of 1 unless `disable_normalization`.
///
/// # Examples
/// ```
/// use webaudio_engine::node::periodic_wave::PeriodicWave;
/// let wave = PeriodicWave::new(Some(vec![0.0, 0.0]), Some(vec![0.0, 1.0]), false)?;
/// assert!(PeriodicWave::new(Some(vec![0.0]), None, false).is_err());
/// # Ok::<(), webaudio_engine::WebAudioError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct PeriodicWave {
    real: Vec<f32>,
    imag: Vec<f32>,
    disable_normalization: bool,
}

impl PeriodicWave {
    /// `new PeriodicWave(ctx, { real, imag, disableNormalization })`. A missing array is
    /// zeros of the other's length; with neither, the wave is a sine (`imag = [0, 1]`).
    ///
    /// # Errors
    /// `IndexSizeError` when the lengths differ or are below 2; `RangeError` for non-finite
    /// coefficients.
    pub fn new(
        real: Option<Vec<f32>>,
        imag: Option<Vec<f32>>,
        disable_normalization: bool,
    ) -> Result<Self, WebAudioError> {
        let (real, imag) = match (real, imag) {
            (Some(r), Some(i)) => (r, i),
            (Some(r), None) => {
                let n = r.len();
                (r, vec![0.0; n])
            }
            (None, Some(i)) => (vec![0.0; i.len()], i),
            (None, None) => (vec![0.0, 0.0], vec![0.0, 1.0]),
        };
        if real.len() != imag.len() {
            return Err(WebAudioError::IndexSize(format!(
                "real ({}) and imag ({}) must have the same length",
                real.len(),
                imag.len()
            )));
        }
        if real.len() < 2 {
            return Err(WebAudioError::IndexSize(
                "a PeriodicWave needs at least 2 coefficients".into(),
            ));
        }
        if real.iter().chain(&imag).any(|v| !v.is_finite()) {
            return Err(WebAudioError::Range(
                "PeriodicWave coefficients must be finite".into(),
            ));
        }
        Ok(Self {
            real,
            imag,
            disable_normalization,
        })
    }

    /// The cosine coefficients.
    pub fn real(&self) -> &[f32] {
        &self.real
    }

    /// The sine coefficients.
    pub fn imag(&self) -> &[f32] {
        &self.imag
    }

    /// Whether normalization is off.
    pub fn disable_normalization(&self) -> bool {
        self.disable_normalization
    }
}
