//! Param declarations shared by both sides: a param's name ([`ParamId`]), its automation rate
//! and its fixed facts ([`ParamDescriptor`]: default, nominal range, whether the rate is fixed).

use serde::{Deserialize, Serialize};

/// Names a param by its Web Audio attribute name (`"gain"`, `"frequency"`, `"Q"`, ...),
/// for connections into params, the inspector and scenes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum ParamId {
    /// `gain` (GainNode, BiquadFilterNode).
    Gain,
    /// `frequency` (OscillatorNode, BiquadFilterNode).
    Frequency,
    /// `detune` (OscillatorNode, BiquadFilterNode, AudioBufferSourceNode).
    Detune,
    /// `Q` (BiquadFilterNode).
    Q,
    /// `offset` (ConstantSourceNode).
    Offset,
    /// `delayTime` (DelayNode).
    DelayTime,
    /// `pan` (StereoPannerNode).
    Pan,
    /// `playbackRate` (AudioBufferSourceNode).
    PlaybackRate,
    /// `positionX` (PannerNode, AudioListener).
    PositionX,
    /// `positionY`.
    PositionY,
    /// `positionZ`.
    PositionZ,
    /// `orientationX` (PannerNode).
    OrientationX,
    /// `orientationY`.
    OrientationY,
    /// `orientationZ`.
    OrientationZ,
    /// `forwardX` (AudioListener).
    ForwardX,
    /// `forwardY`.
    ForwardY,
    /// `forwardZ`.
    ForwardZ,
    /// `upX` (AudioListener).
    UpX,
    /// `upY`.
    UpY,
    /// `upZ`.
    UpZ,
    /// `threshold` (DynamicsCompressorNode).
    Threshold,
    /// `knee`.
    Knee,
    /// `ratio`.
    Ratio,
    /// `attack`.
    Attack,
    /// `release`.
    Release,
    /// The param an `AudioWorkletNode` ([`WorkletParamId`](crate::node::audio_worklet::WorkletParamId))
    /// declared at this index (its name is on the node: `AudioWorkletNode::param_id`).
    Custom(u8),
}

/// Names of [`ParamId::Custom`] ids (`"custom0"`..), one per render-side param slot.
const CUSTOM_NAMES: [&str; crate::render::MAX_PARAMS] = [
    "custom0", "custom1", "custom2", "custom3", "custom4", "custom5", "custom6", "custom7",
    "custom8", "custom9", "custom10", "custom11", "custom12", "custom13", "custom14", "custom15",
];

impl ParamId {
    /// Every built-in id, in declaration order ([`ParamId::Custom`] excluded).
    pub const ALL: [ParamId; 25] = [
        Self::Gain,
        Self::Frequency,
        Self::Detune,
        Self::Q,
        Self::Offset,
        Self::DelayTime,
        Self::Pan,
        Self::PlaybackRate,
        Self::PositionX,
        Self::PositionY,
        Self::PositionZ,
        Self::OrientationX,
        Self::OrientationY,
        Self::OrientationZ,
        Self::ForwardX,
        Self::ForwardY,
        Self::ForwardZ,
        Self::UpX,
        Self::UpY,
        Self::UpZ,
        Self::Threshold,
        Self::Knee,
        Self::Ratio,
        Self::Attack,
        Self::Release,
    ];

    /// The spec's attribute name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gain => "gain",
            Self::Frequency => "frequency",
            Self::Detune => "detune",
            Self::Q => "Q",
            Self::Offset => "offset",
            Self::DelayTime => "delayTime",
            Self::Pan => "pan",
            Self::PlaybackRate => "playbackRate",
            Self::PositionX => "positionX",
            Self::PositionY => "positionY",
            Self::PositionZ => "positionZ",
            Self::OrientationX => "orientationX",
            Self::OrientationY => "orientationY",
            Self::OrientationZ => "orientationZ",
            Self::ForwardX => "forwardX",
            Self::ForwardY => "forwardY",
            Self::ForwardZ => "forwardZ",
            Self::UpX => "upX",
            Self::UpY => "upY",
            Self::UpZ => "upZ",
            Self::Threshold => "threshold",
            Self::Knee => "knee",
            Self::Ratio => "ratio",
            Self::Attack => "attack",
            Self::Release => "release",
            Self::Custom(i) => CUSTOM_NAMES
                .get(usize::from(i))
                .copied()
                .unwrap_or("custom"),
        }
    }

    /// Looks an id up by its spec name (or `"customN"`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|id| id.name() == name)
            .or_else(|| {
                let i = CUSTOM_NAMES.iter().position(|n| *n == name)?;
                Some(Self::Custom(i as u8))
            })
    }
}

impl std::fmt::Display for ParamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `a-rate` (a value per sample) or `k-rate` (one value per render quantum).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum AutomationRate {
    /// One value per sample frame.
    #[default]
    ARate,
    /// One value per 128-frame render quantum.
    KRate,
}

/// The fixed facts of a param: default, nominal range, and whether the rate may change.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct ParamDescriptor {
    /// `defaultValue`.
    pub default_value: f32,
    /// `minValue` (the nominal range's lower end).
    pub min_value: f32,
    /// `maxValue`.
    pub max_value: f32,
    /// The default `automationRate`.
    pub rate: AutomationRate,
    /// Whether the spec fixes the rate (changing it is an `InvalidStateError`).
    pub fixed_rate: bool,
    /// Whether the nominal range is ±Nyquist of the context (an oscillator's or filter's
    /// `frequency`); `min_value`/`max_value` are then resolved when the node is built.
    pub nyquist_range: bool,
}

impl Default for ParamDescriptor {
    fn default() -> Self {
        Self::a_rate(0.0, -Self::MAX, Self::MAX)
    }
}

impl ParamDescriptor {
    /// The largest finite f32, the spec's "most-positive-single-float".
    pub const MAX: f32 = f32::MAX;

    /// An a-rate param with the given default and nominal range.
    pub const fn a_rate(default_value: f32, min_value: f32, max_value: f32) -> Self {
        Self {
            default_value,
            min_value,
            max_value,
            rate: AutomationRate::ARate,
            fixed_rate: false,
            nyquist_range: false,
        }
    }

    /// A k-rate param with the given default and nominal range.
    pub const fn k_rate(default_value: f32, min_value: f32, max_value: f32) -> Self {
        Self {
            rate: AutomationRate::KRate,
            ..Self::a_rate(default_value, min_value, max_value)
        }
    }

    /// The same, with the nominal range ±Nyquist (`0..=Nyquist` when `min_value` is 0).
    pub const fn nyquist(self) -> Self {
        Self {
            nyquist_range: true,
            ..self
        }
    }

    /// The nominal range at `sample_rate`.
    pub fn range_at(&self, sample_rate: f32) -> (f32, f32) {
        if self.nyquist_range {
            let nyquist = sample_rate / 2.0;
            let min = if self.min_value == 0.0 { 0.0 } else { -nyquist };
            (min, nyquist)
        } else {
            (self.min_value, self.max_value)
        }
    }

    /// The same, with a rate the spec does not allow to change.
    pub const fn fixed(self) -> Self {
        Self {
            fixed_rate: true,
            ..self
        }
    }
}

/// A node type's params, declared once (with [`node_params!`](crate::node_params)): each value
/// is one param, with its spec name, its descriptor and its slot on the render side. The
/// component side, the command protocol, param connections, the inspector and the processor
/// all use this one typed id, so a param is never bound by a bare position.
///
/// ```compile_fail
/// use webaudio_engine::node::gain::GainParam;
/// use webaudio_engine::node::oscillator::OscillatorParam;
/// use webaudio_engine::param::Params;
/// fn read(params: Params<'_, GainParam>) -> &[f32] {
///     // An oscillator's param id is rejected by a gain node's accessor.
///     params.get(OscillatorParam::Frequency)
/// }
/// ```
pub trait NodeParams: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// Every param of the node type, in slot order.
    const ALL: &'static [Self];

    /// The spec's name.
    fn id(self) -> ParamId;

    /// Default, nominal range and rate.
    fn descriptor(self) -> ParamDescriptor;

    /// The param's slot on the render side (its place in [`NodeParams::ALL`]).
    fn slot(self) -> ParamSlot;

    /// The param named `id`, if this node type has one.
    fn from_id(id: ParamId) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.id() == id)
    }
}

/// A param's slot in its render node: only made from a typed id ([`NodeParams::slot`]), so the
/// command protocol never carries a position that no declaration produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamSlot(u8);

impl ParamSlot {
    /// The slot of the param declared at `index` (used by [`node_params!`](crate::node_params)
    /// and by nodes whose params are declared at run time, such as an `AudioWorkletNode`).
    pub const fn declared(index: usize) -> Self {
        assert!(
            index < crate::render::MAX_PARAMS,
            "a node has at most 16 params"
        );
        Self(index as u8)
    }

    /// The slot as an index into the render node's params.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// The params of a node type that has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoParams {}

impl NodeParams for NoParams {
    const ALL: &'static [Self] = &[];
    fn id(self) -> ParamId {
        match self {}
    }
    fn descriptor(self) -> ParamDescriptor {
        match self {}
    }
    fn slot(self) -> ParamSlot {
        match self {}
    }
}

/// A processor's view of its params' computed values this quantum, read by typed id: one
/// value (constant or k-rate) or 128 (a-rate, varying).
pub struct Params<'a, P> {
    values: &'a [&'a [f32]],
    _params: std::marker::PhantomData<fn() -> P>,
}

impl<P> Clone for Params<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Params<'_, P> {}

impl<'a, P: NodeParams> Params<'a, P> {
    /// Wraps the render node's computed values (one slice per declared param, in slot order).
    pub fn new(values: &'a [&'a [f32]]) -> Self {
        Self {
            values,
            _params: std::marker::PhantomData,
        }
    }

    /// `param`'s values: 1 or 128 of them. The render node holds one state per declared
    /// param, so every typed id has its slot.
    #[inline]
    pub fn get(&self, param: P) -> &'a [f32] {
        self.values[param.slot().index()]
    }

    /// `param`'s value at sample `i` (a constant param repeats its one value).
    #[inline]
    pub fn at(&self, param: P, i: usize) -> f32 {
        let v = self.get(param);
        if v.len() > 1 { v[i] } else { v[0] }
    }

    /// How many params the node has.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the node has no params.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Declares a node type's params once: an enum whose variants are the params, in slot order,
/// each with its [`ParamId`] and [`ParamDescriptor`].
///
/// ```
/// use webaudio_engine::node_params;
/// use webaudio_engine::param::{NodeParams, ParamDescriptor, ParamId};
/// node_params! {
///     /// My node's params.
///     pub enum MyParam {
///         /// `gain`.
///         Gain = (ParamId::Gain, ParamDescriptor::a_rate(1.0, 0.0, 2.0)),
///     }
/// }
/// assert_eq!(MyParam::from_id(ParamId::Gain), Some(MyParam::Gain));
/// assert_eq!(MyParam::Gain.slot().index(), 0);
/// ```
#[macro_export]
macro_rules! node_params {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($id:expr, $descriptor:expr) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $crate::param::NodeParams for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];

            fn id(self) -> $crate::param::ParamId {
                match self { $(Self::$variant => $id),+ }
            }

            fn descriptor(self) -> $crate::param::ParamDescriptor {
                match self { $(Self::$variant => $descriptor),+ }
            }

            fn slot(self) -> $crate::param::ParamSlot {
                $crate::param::ParamSlot::declared(self as usize)
            }
        }
    };
}
