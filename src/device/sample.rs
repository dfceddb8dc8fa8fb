//! Sample formats, in one place: which of cpal's formats a stream can be opened with, and the
//! conversion between each of them and the f32 the graph and the capture rings work in.

/// A device sample type the streams convert to and from f32 (full scale is -1.0..=1.0).
///
/// Both directions are exact at the ends and the middle: `from_f32(-1.0)` is the type's
/// lowest value, `from_f32(0.0)` its origin, `from_f32(1.0)` its highest (the positive end
/// of a signed integer saturates one step short of 2^(bits-1)); `to_f32` maps the lowest
/// value to exactly -1.0 and the origin to exactly 0.0. Real-time safe: no allocation.
pub trait DeviceSample: Copy + Send + 'static {
    /// The sample as f32 in -1.0..=1.0.
    fn to_f32(self) -> f32;
    /// The f32 `value` (clamped to -1.0..=1.0, rounded to the nearest step) as this type.
    fn from_f32(value: f32) -> Self;
}

impl DeviceSample for f32 {
    fn to_f32(self) -> f32 {
        self
    }

    fn from_f32(value: f32) -> Self {
        value
    }
}

impl DeviceSample for i16 {
    fn to_f32(self) -> f32 {
        f32::from(self) / 32_768.0
    }

    fn from_f32(value: f32) -> Self {
        // `as` saturates (and maps NaN to 0): 1.0 → 32_767.
        (value.clamp(-1.0, 1.0) * 32_768.0).round() as i16
    }
}

impl DeviceSample for u16 {
    fn to_f32(self) -> f32 {
        (f32::from(self) - 32_768.0) / 32_768.0
    }

    fn from_f32(value: f32) -> Self {
        (i32::from(i16::from_f32(value)) + 32_768) as u16
    }
}

impl DeviceSample for i32 {
    fn to_f32(self) -> f32 {
        (f64::from(self) / 2_147_483_648.0) as f32
    }

    fn from_f32(value: f32) -> Self {
        (f64::from(value.clamp(-1.0, 1.0)) * 2_147_483_648.0).round() as i32
    }
}

#[cfg(feature = "cpal")]
pub use self::formats::*;

#[cfg(feature = "cpal")]
mod formats {
    use cpal::{SampleFormat, SizedSample};

    use super::DeviceSample;
    use crate::device::DeviceError;

    /// The sample formats a stream can be opened with, input or output.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum SampleKind {
        /// 32-bit float (no conversion).
        F32,
        /// Signed 16-bit.
        I16,
        /// Unsigned 16-bit (origin 32_768).
        U16,
        /// Signed 32-bit.
        I32,
    }

    impl SampleKind {
        /// The kind for a device's format; any other format (8/24/64-bit, f64, DSD, and
        /// formats later cpal versions add) is [`DeviceError::UnsupportedFormat`], on both
        /// the output and the input side: never a stream of another type.
        ///
        /// # Errors
        /// [`DeviceError::UnsupportedFormat`] for a format without a conversion here.
        pub fn of(format: SampleFormat) -> Result<Self, DeviceError> {
            match format {
                SampleFormat::F32 => Ok(Self::F32),
                SampleFormat::I16 => Ok(Self::I16),
                SampleFormat::U16 => Ok(Self::U16),
                SampleFormat::I32 => Ok(Self::I32),
                other => Err(DeviceError::UnsupportedFormat(other)),
            }
        }

        /// The cpal format this kind opens.
        pub fn format(self) -> SampleFormat {
            match self {
                Self::F32 => SampleFormat::F32,
                Self::I16 => SampleFormat::I16,
                Self::U16 => SampleFormat::U16,
                Self::I32 => SampleFormat::I32,
            }
        }
    }

    /// Something built for one sample type (a stream's callbacks are generic over it; a
    /// closure cannot be, so each side implements this).
    pub trait WithSample {
        /// What building gives.
        type Output;
        /// Builds for sample type `T`.
        fn run<T: DeviceSample + SizedSample>(self) -> Self::Output;
    }

    /// Runs `builder` with the sample type of `format`: the one dispatch from a device format
    /// to a stream type, for output and input alike.
    ///
    /// # Errors
    /// [`DeviceError::UnsupportedFormat`] for a format [`SampleKind::of`] rejects.
    pub fn with_sample<W: WithSample>(
        format: SampleFormat,
        builder: W,
    ) -> Result<W::Output, DeviceError> {
        Ok(match SampleKind::of(format)? {
            SampleKind::F32 => builder.run::<f32>(),
            SampleKind::I16 => builder.run::<i16>(),
            SampleKind::U16 => builder.run::<u16>(),
            SampleKind::I32 => builder.run::<i32>(),
        })
    }
}
