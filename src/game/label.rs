//! Typed names for buses ([`MixBus`](super::MixBus)) and ducking flags
//! ([`DuckFlag`](super::DuckFlag)): the game names them with values of its own types (usually
//! an enum implementing [`AudioLabel`]), so a misspelt bus is a compile error instead of a
//! sound that silently bypasses the mix. Two labels are equal when they come from the same
//! type and have the same name.

use bevy::prelude::*;

/// A name for a bus or a ducking flag, from a type of the game's own.
///
/// # Examples
/// ```
/// use bevy_webaudio::prelude::*;
///
/// #[derive(Clone, Copy)]
/// enum GameBus {
///     Ambience,
///     Ui,
/// }
///
/// impl AudioLabel for GameBus {
///     fn name(&self) -> &'static str {
///         match self {
///             GameBus::Ambience => "ambience",
///             GameBus::Ui => "ui",
///         }
///     }
/// }
///
/// let plugin = GameAudioPlugin::default()
///     .with_bus(BusConfig::new(GameBus::Ambience, Some(MixBus::MASTER)).with_volume(0.5));
/// assert_eq!(MixBus::of(GameBus::Ambience).name(), "ambience");
/// assert_ne!(MixBus::of(GameBus::Ui), MixBus::of(GameBus::Ambience));
/// ```
pub trait AudioLabel: Send + Sync + 'static {
    /// The name shown in logs and in the inspector.
    fn name(&self) -> &'static str;
}

/// A label's identity: the type it came from and its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Reflect)]
pub(crate) struct Label {
    /// `type_name` of the label's type (a fixed string for the crate's own labels).
    pub kind: &'static str,
    /// [`AudioLabel::name`].
    pub name: &'static str,
}

impl Label {
    /// A label of this crate's own (the built-in buses).
    pub(crate) const fn builtin(name: &'static str) -> Self {
        Self {
            kind: "bevy_webaudio",
            name,
        }
    }

    /// The identity of `label`.
    pub(crate) fn of<L: AudioLabel>(label: &L) -> Self {
        Self {
            kind: std::any::type_name::<L>(),
            name: label.name(),
        }
    }
}

/// `of`, `name`, `From<impl AudioLabel>` and `Debug` for a newtype over [`Label`].
macro_rules! labelled {
    ($type:ident, $what:literal) => {
        impl $type {
            #[doc = concat!($what, " named by `label`.")]
            pub fn of(label: impl $crate::game::AudioLabel) -> Self {
                Self($crate::game::label::Label::of(&label))
            }

            /// Its name.
            pub fn name(&self) -> &'static str {
                self.0.name
            }
        }

        impl<L: $crate::game::AudioLabel> From<L> for $type {
            fn from(label: L) -> Self {
                Self::of(label)
            }
        }

        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($type), "({})"), self.0.name)
            }
        }
    };
}

pub(crate) use labelled;
