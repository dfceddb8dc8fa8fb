//! `AudioBus`: the planar block of audio one node output produces per render quantum.
//!
//! A bus holds up to `capacity` channels of [`RENDER_QUANTUM`] frames each. The capacity is
//! fixed when the bus is built on the control thread (the schedule compiler computes the most
//! channels an output can ever carry), so changing the channel count on the real-time thread
//! never allocates.

/// Frames per render quantum, as in the Web Audio API.
pub const RENDER_QUANTUM: usize = 128;

/// The most channels any node input or output may carry (the spec requires at least 32).
pub const MAX_CHANNELS: usize = 32;

/// One render quantum of planar audio: `channels` channels of [`RENDER_QUANTUM`] frames.
#[derive(Clone, Debug, Default)]
pub struct AudioBus {
    data: Vec<[f32; RENDER_QUANTUM]>,
    channels: usize,
    silent: bool,
}

impl AudioBus {
    /// A silent mono bus able to hold `capacity` channels. Allocates: control thread only.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, MAX_CHANNELS);
        Self {
            data: vec![[0.0; RENDER_QUANTUM]; capacity],
            channels: 1,
            silent: true,
        }
    }

    /// How many channels this bus can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// The current channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Whether the bus is known to hold only zeros (a hint that lets mixing skip work).
    /// Invariant: when true, the active channels hold zeros.
    pub fn is_silent(&self) -> bool {
        self.silent
    }

    /// Sets the channel count (clamped to the capacity) and marks the content as audible.
    /// The samples are left as they are: the caller overwrites them. Called on the real-time
    /// thread.
    pub fn set_channels(&mut self, channels: usize) {
        self.channels = channels.clamp(1, self.data.len().max(1));
        self.silent = false;
    }

    /// Makes the bus `channels` channels of silence. Called on the real-time thread.
    ///
    /// Cheap when the bus is already silent: only channels it did not carry are zeroed (the
    /// `silent` flag guarantees the active channels hold zeros, since every writable access
    /// clears it), so a source that stays silent costs no memset per quantum.
    pub fn make_silent(&mut self, channels: usize) {
        let channels = channels.clamp(1, self.data.len().max(1));
        let zero_from = if self.silent {
            self.channels.min(channels)
        } else {
            0
        };
        for ch in &mut self.data[zero_from..channels] {
            ch.fill(0.0);
        }
        self.channels = channels;
        self.silent = true;
    }

    /// One channel's samples.
    pub fn channel(&self, index: usize) -> &[f32; RENDER_QUANTUM] {
        &self.data[index]
    }

    /// One channel's samples, writable. Marks the bus as audible.
    pub fn channel_mut(&mut self, index: usize) -> &mut [f32; RENDER_QUANTUM] {
        self.silent = false;
        &mut self.data[index]
    }

    /// The active channels.
    pub fn channels_slice(&self) -> &[[f32; RENDER_QUANTUM]] {
        &self.data[..self.channels]
    }

    /// The active channels, writable. Marks the bus as audible.
    pub fn channels_mut(&mut self) -> &mut [[f32; RENDER_QUANTUM]] {
        self.silent = false;
        &mut self.data[..self.channels]
    }

    /// Copies `other` into this bus (channel count included, clamped to capacity).
    pub fn copy_from(&mut self, other: &AudioBus) {
        self.channels = other.channels.min(self.data.len()).max(1);
        for (dst, src) in self.data.iter_mut().zip(other.channels_slice()) {
            dst.copy_from_slice(src);
        }
        self.silent = other.silent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_silent_zeroes_what_was_written_and_new_channels() {
        let mut bus = AudioBus::with_capacity(4);
        bus.set_channels(2);
        bus.channels_mut().iter_mut().for_each(|c| c.fill(1.0));
        bus.make_silent(2);
        assert!(bus.channels_slice().iter().flatten().all(|&x| x == 0.0));
        // Channels 2 and 3 were never active: growing a silent bus must still zero them.
        bus.set_channels(4);
        bus.channels_mut().iter_mut().for_each(|c| c.fill(2.0));
        bus.make_silent(1);
        bus.make_silent(4);
        assert!(bus.is_silent());
        assert!(bus.channels_slice().iter().flatten().all(|&x| x == 0.0));
    }
}
