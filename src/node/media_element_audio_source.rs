//! `MediaElementAudioSourceNode`: a long file (music, ambience) streamed from disk instead of
//! decoded whole into an [`AudioBuffer`](crate::asset::AudioBuffer).
//!
//! The spec's node plays an `HTMLMediaElement`; here the element is a [`MediaElement`] (an
//! open file and its decoder thread, see [`stream`](crate::asset::stream)) and the element's
//! controls are on the component: `loop` ([`looping`](MediaElementAudioSourceNode::looping)),
//! `paused`, `currentTime` ([`seek`](MediaElementAudioSourceNode::seek) and
//! [`current_time`](MediaElementAudioSourceNode::current_time)), and 'ended' (an
//! [`Ended`](crate::Ended) message when a non-looping file has played to its end).
//!
//! The render thread only copies frames out of the ring. When the decoder has not kept up
//! (a slow disk), the missing frames are silence and the quantum is counted
//! ([`StreamStatus::underruns`]); it never waits. Playback of a session starts once the ring
//! holds a quarter of its capacity (or the whole rest of the file), so the start of a stream
//! is not counted as an underrun.
//!
//! After 'ended' the processor is finished, like a scheduled source: to play the file again,
//! spawn a new node (or use `looping`).
//!
//! The processor and the ring's reading end live in the engine
//! (`webaudio_engine::node::media_element_audio_source`, `webaudio_engine::stream`).

use std::path::Path;
use std::sync::Arc;

use bevy::prelude::*;

use webaudio_engine::node::media_element_audio_source::MIN_RING_FRAMES;
pub use webaudio_engine::node::media_element_audio_source::{
    ElementMessage, MediaElementProcessor,
};
use webaudio_engine::param::NoParams;
use webaudio_engine::stream::{RingReader, StreamStatus};

use super::{AudioNode, BuildContext, ChannelConfig, MessageOf, NodeShape, OutputChannels};
use crate::asset::AudioLoadError;
use crate::asset::stream::MediaElement;
use crate::error::{self, WebAudioError};
use crate::param::AudioParam;

/// The spec's `MediaElementAudioSourceNode`, playing a file streamed from disk.
///
/// # Examples
/// ```no_run
/// # use bevy::prelude::*;
/// # use bevy_webaudio::prelude::*;
/// fn music(mut commands: Commands, context: Res<AudioContext>) -> Result {
///     let mut track = MediaElementAudioSourceNode::open("assets/sounds/chord.ogg")?;
///     track.looping = true;
///     commands.spawn(track).connect(context.destination());
///     Ok(())
/// }
/// ```
#[derive(Component, Clone, Debug, Reflect)]
#[reflect(Component)]
#[require(ChannelConfig)]
pub struct MediaElementAudioSourceNode {
    #[reflect(ignore)]
    element: Option<Arc<MediaElement>>,
    /// The element's `loop`: at the end of the file, play on from its start without a gap.
    pub looping: bool,
    /// The element's `paused`: output silence and hold the playhead.
    pub paused: bool,
    /// The ring's length in seconds (read when playback starts or seeks). Used within
    /// [`MAX_BUFFER_SECONDS`]: a value that is not finite and positive means the default 1 s,
    /// a larger one the maximum ([`MediaElementAudioSourceNode::set_buffer_seconds`] rejects
    /// both).
    pub buffer_seconds: f32,
    seek_to: f64,
    seek_generation: u32,
}

impl Default for MediaElementAudioSourceNode {
    fn default() -> Self {
        Self {
            element: None,
            looping: false,
            paused: false,
            buffer_seconds: 1.0,
            seek_to: 0.0,
            seek_generation: 0,
        }
    }
}

/// The longest ring a [`MediaElementAudioSourceNode`] allocates, in seconds.
pub const MAX_BUFFER_SECONDS: f32 = 60.0;

impl MediaElementAudioSourceNode {
    /// Sets [`buffer_seconds`](Self::buffer_seconds).
    ///
    /// # Errors
    /// `RangeError` unless `0 < seconds <= MAX_BUFFER_SECONDS`.
    pub fn set_buffer_seconds(&mut self, seconds: f32) -> Result<&mut Self, WebAudioError> {
        if !(seconds > 0.0 && seconds <= MAX_BUFFER_SECONDS) {
            return Err(WebAudioError::Range(format!(
                "buffer_seconds must be in (0, {MAX_BUFFER_SECONDS}], got {seconds}"
            )));
        }
        self.buffer_seconds = seconds;
        Ok(self)
    }

    /// The ring length used: `buffer_seconds` within (0, [`MAX_BUFFER_SECONDS`]], else 1 s.
    fn ring_seconds(&self) -> f32 {
        let s = self.buffer_seconds;
        if s.is_finite() && s > 0.0 {
            s.min(MAX_BUFFER_SECONDS)
        } else {
            1.0
        }
    }

    /// A node streaming the file at `path` (a file-system path, not an asset path), playing
    /// from its start.
    ///
    /// # Errors
    /// An [`AudioLoadError`] when the file cannot be read or is not decodable audio.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AudioLoadError> {
        Ok(Self::new(Arc::new(MediaElement::open(path)?)))
    }

    /// A node playing an opened element.
    pub fn new(element: Arc<MediaElement>) -> Self {
        Self {
            element: Some(element),
            ..Self::default()
        }
    }

    /// The element (file) played.
    pub fn element(&self) -> Option<&Arc<MediaElement>> {
        self.element.as_ref()
    }

    /// Counters: underruns, 'ended', decode failure, `currentTime`.
    pub fn status(&self) -> Option<&Arc<StreamStatus>> {
        self.element.as_ref().map(|e| e.status())
    }

    /// Sets `currentTime`: playback continues from `seconds` into the file.
    ///
    /// # Errors
    /// `RangeError` for a negative or non-finite time.
    pub fn seek(&mut self, seconds: f64) -> Result<&mut Self, WebAudioError> {
        error::time("currentTime", seconds)?;
        self.seek_to = seconds;
        self.seek_generation = self.seek_generation.wrapping_add(1);
        Ok(self)
    }

    /// `currentTime` as of the last render quantum (0 without a file).
    pub fn current_time(&self) -> f64 {
        self.status().map_or(0.0, |s| s.current_time())
    }

    /// A new ring from the seek position, when the seek generation has no session yet (or
    /// `always`).
    fn session(&self, sample_rate: f32, always: bool) -> Option<RingReader> {
        let element = self.element.as_ref()?;
        element.status().set_looping(self.looping);
        if !always && element.started_generation() == self.seek_generation {
            return None;
        }
        let frames = (f64::from(self.ring_seconds()) * f64::from(sample_rate)) as usize;
        Some(element.start(
            self.seek_to,
            sample_rate,
            frames.max(MIN_RING_FRAMES),
            self.seek_generation,
        ))
    }
}

impl AudioNode for MediaElementAudioSourceNode {
    type Processor = MediaElementProcessor;
    type Attributes = (bool, bool, u32);
    const NAME: &'static str = "MediaElementAudioSourceNode";

    fn shape(&self) -> NodeShape {
        NodeShape::SOURCE
    }

    fn param_mut(&mut self, param: NoParams) -> &mut AudioParam {
        match param {}
    }

    fn attributes(&self) -> Self::Attributes {
        (self.looping, self.paused, self.seek_generation)
    }

    fn build_processor(&self, ctx: &mut BuildContext) -> MediaElementProcessor {
        MediaElementProcessor::new(
            self.session(ctx.sample_rate, true),
            self.status().cloned(),
            self.element.as_ref().map_or(1, |e| e.channels()),
            self.paused,
            ctx.sample_rate,
        )
    }

    fn attributes_message(&self, ctx: &mut BuildContext) -> Option<MessageOf<Self>> {
        Some(ElementMessage {
            paused: self.paused,
            ring: self.session(ctx.sample_rate, false),
        })
    }

    fn output_channels(&self, _index: usize) -> OutputChannels {
        OutputChannels::Fixed(self.element.as_ref().map_or(1, |e| e.channels()))
    }
}
