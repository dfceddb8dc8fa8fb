//! The deterministic buffer and curve generators of FORMAT.md ("Buffers", "Curves").
//!
//! All arithmetic is IEEE double, left to right exactly as FORMAT.md writes it; each final
//! sample is rounded once to f32. The test vectors of FORMAT.md are unit tests below.

use serde_json::{Map, Value};

use crate::CaseError;

/// xorshift32, FORMAT.md's PRNG.
#[derive(Clone, Debug)]
pub struct XorShift32(u32);

impl XorShift32 {
    /// Seeds with `seed mod 2^32` (0 becomes `0x6D2B79F5`).
    pub fn new(seed: u64) -> Self {
        let x = (seed & 0xFFFF_FFFF) as u32;
        Self(if x == 0 { 0x6D2B_79F5 } else { x })
    }

    /// One draw: updates and returns the state.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// `(u >> 8) / 16777216`, in [0, 1).
pub fn unit(u: u32) -> f64 {
    f64::from(u >> 8) / 16_777_216.0
}

/// `((u >> 8) / 16777216) * 2 - 1`, in [-1, 1).
pub fn bipolar(u: u32) -> f64 {
    (f64::from(u >> 8) / 16_777_216.0) * 2.0 - 1.0
}

/// A generated buffer: planar f32 channels at `sample_rate`.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedBuffer {
    /// One `Vec` per channel.
    pub channels: Vec<Vec<f32>>,
    /// The buffer's sample rate in Hz.
    pub sample_rate: f64,
}

/// JavaScript's `Math.round` (nearest, halves up) for the non-negative values used here.
fn js_round(x: f64) -> f64 {
    let f = x.floor();
    if x - f >= 0.5 { f + 1.0 } else { f }
}

/// Reads the keys of a generator object, remembering which were used so leftovers are errors.
struct Spec<'a> {
    what: String,
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Spec<'a> {
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key)
    }

    fn number(&mut self, key: &'static str, default: f64) -> Result<f64, CaseError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.invalid(key, "a number")),
        }
    }

    fn integer(&mut self, key: &'static str) -> Result<Option<u64>, CaseError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.invalid(key, "a non-negative integer")),
        }
    }

    /// A number, or an array with one number per channel.
    fn per_channel(
        &mut self,
        key: &'static str,
        default: f64,
        channels: usize,
    ) -> Result<Vec<f64>, CaseError> {
        match self.get(key) {
            None => Ok(vec![default; channels]),
            Some(Value::Array(a)) => {
                if a.len() < channels {
                    return Err(self.invalid(key, "an array with one entry per channel"));
                }
                a.iter()
                    .take(channels)
                    .map(|v| v.as_f64().ok_or_else(|| self.invalid(key, "numbers")))
                    .collect()
            }
            Some(v) => v
                .as_f64()
                .map(|x| vec![x; channels])
                .ok_or_else(|| self.invalid(key, "a number or an array of numbers")),
        }
    }

    fn invalid(&self, key: &str, expected: &str) -> CaseError {
        CaseError::Invalid(format!("{}: `{key}` must be {expected}", self.what))
    }

    fn finish(&self) -> Result<(), CaseError> {
        for key in self.map.keys() {
            if !self.used.iter().any(|u| u == key) {
                return Err(CaseError::Unsupported(format!(
                    "{}: unknown key `{key}`",
                    self.what
                )));
            }
        }
        Ok(())
    }
}

/// Produces the buffer a generator object describes (`case_rate`: the case's sample rate,
/// the default buffer rate).
///
/// # Errors
/// [`CaseError::Unsupported`] for an unknown generator or key, [`CaseError::Invalid`] for a
/// malformed one.
pub fn generate(what: &str, spec: &Value, case_rate: f64) -> Result<GeneratedBuffer, CaseError> {
    let map = spec.as_object().ok_or_else(|| {
        CaseError::Invalid(format!("{what}: a buffer generator must be an object"))
    })?;
    let mut s = Spec {
        what: what.to_string(),
        map,
        used: Vec::new(),
    };
    let gen_name = s
        .get("gen")
        .and_then(Value::as_str)
        .ok_or_else(|| CaseError::Invalid(format!("{what}: missing `gen`")))?
        .to_string();
    let sample_rate = s.number("sampleRate", case_rate)?;
    if gen_name == "data" {
        let data = s
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| s.invalid("data", "an array of channel arrays"))?;
        let mut channels = Vec::with_capacity(data.len());
        for ch in data {
            let ch = ch
                .as_array()
                .ok_or_else(|| s.invalid("data", "an array of channel arrays"))?;
            let samples = ch
                .iter()
                .map(|v| {
                    v.as_f64()
                        .map(|x| x as f32)
                        .ok_or_else(|| s.invalid("data", "numbers"))
                })
                .collect::<Result<Vec<f32>, _>>()?;
            channels.push(samples);
        }
        // `channels`/`frames` come from the arrays; accept (and ignore) them if given.
        s.get("channels");
        s.get("frames");
        s.finish()?;
        return Ok(GeneratedBuffer {
            channels,
            sample_rate,
        });
    }
    let nch = s.integer("channels")?.unwrap_or(1) as usize;
    let n = match (s.integer("frames")?, s.get("seconds")) {
        (Some(frames), _) => frames as usize,
        (None, Some(seconds)) => {
            let seconds = seconds
                .as_f64()
                .ok_or_else(|| s.invalid("seconds", "a number"))?;
            js_round(seconds * sample_rate) as usize
        }
        (None, None) => return Err(s.invalid("frames", "given (or `seconds`)")),
    };
    let mut out = vec![vec![0.0f32; n]; nch];
    match gen_name.as_str() {
        "noise" => {
            let amp = s.per_channel("amp", 1.0, nch)?;
            let mut rng = XorShift32::new(s.integer("seed")?.unwrap_or(1));
            for (c, ch) in out.iter_mut().enumerate() {
                for x in ch.iter_mut() {
                    *x = (bipolar(rng.next()) * amp[c]) as f32;
                }
            }
        }
        "decayingNoise" => {
            let amp = s.per_channel("amp", 1.0, nch)?;
            let mut rng = XorShift32::new(s.integer("seed")?.unwrap_or(1));
            let k = s.integer("decay")?.unwrap_or(10);
            for (c, ch) in out.iter_mut().enumerate() {
                for (i, x) in ch.iter_mut().enumerate() {
                    let v = bipolar(rng.next());
                    let e = 1.0 - i as f64 / n as f64;
                    let mut p = 1.0f64;
                    for _ in 0..k {
                        p *= e;
                    }
                    *x = (v * p * amp[c]) as f32;
                }
            }
        }
        "sine" => {
            let amp = s.per_channel("amp", 1.0, nch)?;
            let freq = s.per_channel("freq", 440.0, nch)?;
            let phase = s.per_channel("phase", 0.0, nch)?;
            for (c, ch) in out.iter_mut().enumerate() {
                for (i, x) in ch.iter_mut().enumerate() {
                    let arg =
                        2.0 * std::f64::consts::PI * freq[c] * i as f64 / sample_rate + phase[c];
                    *x = (amp[c] * arg.sin()) as f32;
                }
            }
        }
        "impulse" => {
            let amp = s.per_channel("amp", 1.0, nch)?;
            let at = s.per_channel("at", 0.0, nch)?;
            for (c, ch) in out.iter_mut().enumerate() {
                let at = at[c];
                if at >= 0.0 && at.fract() == 0.0 && (at as usize) < n {
                    ch[at as usize] = amp[c] as f32;
                }
            }
        }
        "silence" => {}
        other => {
            return Err(CaseError::Unsupported(format!(
                "{what}: buffer generator `{other}`"
            )));
        }
    }
    s.finish()?;
    Ok(GeneratedBuffer {
        channels: out,
        sample_rate,
    })
}

/// A WaveShaperNode curve generator (`{"gen": "curve", "shape", "n", "k"}`).
///
/// # Errors
/// [`CaseError::Unsupported`] for an unknown shape or key.
pub fn curve(what: &str, spec: &Value) -> Result<Vec<f32>, CaseError> {
    let map = spec.as_object().ok_or_else(|| {
        CaseError::Invalid(format!("{what}: a curve generator must be an object"))
    })?;
    let mut s = Spec {
        what: what.to_string(),
        map,
        used: Vec::new(),
    };
    if s.get("gen").and_then(Value::as_str) != Some("curve") {
        return Err(s.invalid("gen", "\"curve\""));
    }
    let shape = s
        .get("shape")
        .and_then(Value::as_str)
        .ok_or_else(|| s.invalid("shape", "a string"))?
        .to_string();
    let n = s.integer("n")?.unwrap_or(1025) as usize;
    let k = s.number("k", 1.0)?;
    s.finish()?;
    let f: fn(f64, f64) -> f64 = match shape.as_str() {
        "linear" => |x, _| x,
        "cubic" => |x, _| 1.5 * x - 0.5 * x * x * x,
        "hardclip" => |x, k| {
            if x < -k {
                -k
            } else if x > k {
                k
            } else {
                x
            }
        },
        "tanh" => |x, k| (k * x).tanh(),
        other => {
            return Err(CaseError::Unsupported(format!(
                "{what}: curve shape `{other}`"
            )));
        }
    };
    Ok((0..n)
        .map(|i| {
            let x = (2.0 * i as f64) / (n as f64 - 1.0) - 1.0;
            f(x, k) as f32
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn g(spec: Value) -> Vec<Vec<f32>> {
        generate("test", &spec, 48_000.0).unwrap().channels
    }

    #[test]
    fn xorshift32_vectors() {
        let mut r = XorShift32::new(1);
        let draws: Vec<u32> = (0..5).map(|_| r.next()).collect();
        assert_eq!(
            draws,
            [
                270_369,
                67_634_689,
                2_647_435_461,
                307_599_695,
                2_398_689_233
            ]
        );
        let mut r = XorShift32::new(0);
        assert_eq!([r.next(), r.next()], [1_085_196_063, 2_447_379_481]);
        // seed mod 2^32
        let mut r = XorShift32::new(1 << 32);
        assert_eq!(r.next(), 1_085_196_063);
        assert!(unit(u32::MAX) < 1.0 && bipolar(0) == -1.0);
    }

    #[test]
    fn noise_vector() {
        let x = g(json!({"gen": "noise", "seed": 1, "frames": 4}));
        let bits: Vec<u32> = x[0].iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, [0xbf7f_f7c0, 0xbf77_eff4, 0x3e6e_6540, 0xbf5b_54ce]);
        let want = [
            -0.9998741149902344,
            -0.9685051441192627,
            0.23280811309814453,
            -0.8567627668380737,
        ];
        for (a, b) in x[0].iter().zip(want) {
            assert_eq!(f64::from(*a), b);
        }
        // default seed is 1; channel-major consumption
        let y = g(json!({"gen": "noise", "frames": 2, "channels": 2}));
        assert_eq!(y[0], x[0][..2]);
        assert_eq!(y[1], x[0][2..]);
    }

    #[test]
    fn decaying_noise_vector() {
        let x = g(json!({"gen": "decayingNoise", "seed": 5, "frames": 4, "decay": 10}));
        let want = [
            -0.9993705749511719,
            -0.04749885946512222,
            0.0006026356713846326,
            6.362364501910633e-07,
        ];
        for (a, b) in x[0].iter().zip(want) {
            assert_eq!(a.to_bits(), (b as f32).to_bits());
            assert_eq!(f64::from(*a), b);
        }
    }

    #[test]
    fn sine_vector() {
        let x = g(json!({"gen": "sine", "freq": 1000.5, "phase": 0.3, "amp": 0.8, "frames": 3}));
        let want = [
            0.23641616106033325,
            0.33419832587242126,
            0.42625653743743896,
        ];
        for (a, b) in x[0].iter().zip(want) {
            assert_eq!(f64::from(*a), b);
        }
        // per-channel arrays
        let y = g(
            json!({"gen": "sine", "freq": [1000.5, 1000.5], "phase": [0, 0.3], "amp": [1, 0.8], "frames": 3, "channels": 2}),
        );
        assert_eq!(y[1], x[0]);
    }

    #[test]
    fn impulse_silence_data_seconds() {
        let x =
            g(json!({"gen": "impulse", "at": [1, 3], "amp": [0.5, 2], "frames": 4, "channels": 2}));
        assert_eq!(x, vec![vec![0.0, 0.5, 0.0, 0.0], vec![0.0, 0.0, 0.0, 2.0]]);
        let x = g(json!({"gen": "silence", "seconds": 0.1}));
        assert_eq!(x[0].len(), 4800);
        assert!(x[0].iter().all(|v| *v == 0.0));
        // Math.round: halves up (0.5 frame -> 1)
        let x = g(json!({"gen": "silence", "seconds": 1.5, "sampleRate": 1}));
        assert_eq!(x[0].len(), 2);
        let b = generate(
            "t",
            &json!({"gen": "data", "data": [[0.1, 1], [2, 3]]}),
            48_000.0,
        )
        .unwrap();
        assert_eq!(b.channels, vec![vec![0.1f32, 1.0], vec![2.0, 3.0]]);
        assert_eq!(b.sample_rate, 48_000.0);
        assert!(matches!(
            generate("t", &json!({"gen": "pink", "frames": 1}), 48_000.0),
            Err(CaseError::Unsupported(_))
        ));
        assert!(matches!(
            generate(
                "t",
                &json!({"gen": "noise", "frames": 1, "colour": 1}),
                48_000.0
            ),
            Err(CaseError::Unsupported(_))
        ));
    }

    #[test]
    fn curve_vectors() {
        let c = curve("t", &json!({"gen": "curve", "shape": "cubic", "n": 5})).unwrap();
        assert_eq!(c, [-1.0, -0.6875, 0.0, 0.6875, 1.0]);
        let c = curve(
            "t",
            &json!({"gen": "curve", "shape": "tanh", "n": 5, "k": 3}),
        )
        .unwrap();
        let want = [
            -0.9950547814369202,
            -0.9051482677459717,
            0.0,
            0.9051482677459717,
            0.9950547814369202,
        ];
        for (a, b) in c.iter().zip(want) {
            assert_eq!(f64::from(*a), b);
        }
        let c = curve(
            "t",
            &json!({"gen": "curve", "shape": "hardclip", "n": 5, "k": 0.5}),
        )
        .unwrap();
        assert_eq!(c, [-0.5, -0.5, 0.0, 0.5, 0.5]);
        let c = curve("t", &json!({"gen": "curve", "shape": "linear", "n": 3})).unwrap();
        assert_eq!(c, [-1.0, 0.0, 1.0]);
        assert_eq!(
            curve("t", &json!({"gen": "curve", "shape": "linear"}))
                .unwrap()
                .len(),
            1025
        );
    }
}
