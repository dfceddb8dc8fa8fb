//! The showcase's sound, all of it nodes of the crate's graph:
//!
//! - the **music** — a square-wave arpeggio and a detuned sawtooth pad through a low-pass
//!   whose cutoff sweeps by `AudioParam` automation, into a feedback delay; a triangle bass —
//!   played into the music bus (compressed, ducked while the player speaks). Notes are
//!   scheduled on the audio clock a little ahead of time (a look-ahead scheduler), so they
//!   are sample-accurate whatever the frame rate;
//! - the **obstacle voices**: a note with a tremolo, through a `PannerNode` with
//!   `SpatialAudio` on the obstacle entity, with an exaggerated `Doppler`;
//! - the **one-shots**: files from `assets/sounds/` played with `play_sound`.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

/// Tempo of the music.
const BPM: f64 = 112.0;
/// A sixteenth note, in seconds.
const STEP: f64 = 60.0 / BPM / 4.0;
/// Sixteenth notes in a bar.
const STEPS_PER_BAR: u64 = 16;
/// How far ahead of the audio clock notes are scheduled.
const LOOKAHEAD: f64 = 0.3;
/// The chords, one per bar: root (MIDI note) and the arpeggio's intervals (Am, F, C, G).
const PROGRESSION: [(f32, [f32; 4]); 4] = [
    (57.0, [0.0, 3.0, 7.0, 12.0]),
    (53.0, [0.0, 4.0, 7.0, 12.0]),
    (48.0, [0.0, 4.0, 7.0, 12.0]),
    (55.0, [0.0, 4.0, 7.0, 12.0]),
];
/// Which interval of the chord the arpeggio plays on each sixteenth (`None`: a rest).
const ARPEGGIO: [Option<usize>; 16] = [
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(2),
    Some(1),
    None,
    Some(2),
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(3),
    None,
    Some(2),
    Some(1),
];
/// The sixteenths the bass plays on.
const BASS_STEPS: [u64; 4] = [0, 6, 8, 14];
/// The low-pass cutoff at the end of even and odd bars: it opens over one bar and closes over
/// the next.
const CUTOFF: (f32, f32) = (2_800.0, 380.0);
/// Peak level of an obstacle's voice before distance attenuation.
const OBSTACLE_LEVEL: f32 = 0.14;
/// The notes obstacles hum: A minor pentatonic, A3 to A4 (MIDI).
pub const OBSTACLE_NOTES: [f32; 6] = [57.0, 60.0, 62.0, 64.0, 67.0, 69.0];

/// The frequency of a MIDI note.
pub fn midi_hz(note: f32) -> f32 {
    440.0 * ((note - 69.0) / 12.0).exp2()
}

/// The one-shot sounds, loaded from `assets/sounds/`.
#[derive(Resource)]
pub struct Sounds {
    /// A jump: a square glide up an octave.
    pub jump: Handle<AudioBuffer>,
    /// An obstacle cleared: a short click.
    pub score: Handle<AudioBuffer>,
    /// The player hit an obstacle: a swept noise.
    pub crash: Handle<AudioBuffer>,
    /// Every fifth point: a major chord.
    pub milestone: Handle<AudioBuffer>,
    /// A spoken "hello", when the microphone first hears a voice.
    pub hello: Handle<AudioBuffer>,
}

/// Loads the one-shots.
pub fn load_sounds(mut commands: Commands, assets: Res<AssetServer>) {
    commands.insert_resource(Sounds {
        jump: assets.load("sounds/blip.flac"),
        score: assets.load("sounds/click.wav"),
        crash: assets.load("sounds/whoosh.mp3"),
        milestone: assets.load("sounds/chord.ogg"),
        hello: assets.load("sounds/hello.wav"),
    });
}

/// The music graph's entities that the scheduler automates, and where it is in the song.
#[derive(Resource)]
pub struct Music {
    lead: Entity,
    lead_envelope: Entity,
    pads: [Entity; 2],
    bass: Entity,
    bass_envelope: Entity,
    filter: Entity,
    /// The next sixteenth to schedule, counted from the start.
    step: u64,
    /// Its time on the audio clock.
    next: f64,
}

/// A named, metered node (the inspector shows names and meters).
fn part(name: &str) -> (Name, Metered) {
    (Name::new(name.to_owned()), Metered::default())
}

/// A started oscillator.
fn oscillator(kind: OscillatorType, hz: f32, detune: f32, at: f64) -> Result<OscillatorNode> {
    let mut osc = OscillatorNode::new(kind, hz);
    osc.detune.set_value(detune)?;
    osc.start(at)?;
    Ok(osc)
}

/// Builds the music graph into the music bus:
///
/// ```text
/// lead (square) -> envelope --+
/// pad (2 saws)  -> pad gain --+-> low-pass (cutoff automated) -+-> music bus
///                                         +-> delay <-> feedback +-> return -+
/// bass (triangle) -> envelope ------------------------------------------------+
/// ```
pub fn setup_music(
    mut commands: Commands,
    context: Res<AudioContext>,
    buses: Res<MixBuses>,
) -> Result {
    let bus = buses
        .entity(MixBus::MUSIC)
        .ok_or("the music bus is missing")?;
    let start = context.current_time() + 0.1;
    let echo_return = commands
        .spawn((GainNode::new(0.45), part("delay return")))
        .connect(bus)
        .id();
    let delay = commands
        .spawn((
            DelayNode::with_delay(1.0, (3.0 * STEP) as f32)?,
            part("delay"),
        ))
        .connect(echo_return)
        .id();
    let feedback = commands
        .spawn((GainNode::new(0.42), part("delay feedback")))
        .connect(delay)
        .id();
    commands.entity(delay).connect(feedback);
    let mut low_pass =
        BiquadFilterNode::with_options(BiquadFilterType::Lowpass, CUTOFF.1, 7.0, 0.0);
    low_pass.frequency.set_value_at_time(CUTOFF.1, start)?;
    let filter = commands
        .spawn((low_pass, part("sweeping low-pass")))
        .connect(bus)
        .connect(delay)
        .id();
    let lead_envelope = commands
        .spawn((GainNode::new(0.0), part("lead envelope")))
        .connect(filter)
        .id();
    let lead = commands
        .spawn((
            oscillator(OscillatorType::Square, 440.0, 0.0, start)?,
            part("lead"),
        ))
        .connect(lead_envelope)
        .id();
    let pad_gain = commands
        .spawn((GainNode::new(0.05), part("pad")))
        .connect(filter)
        .id();
    let mut pads = [Entity::PLACEHOLDER; 2];
    for (pad, detune) in pads.iter_mut().zip([-9.0, 9.0]) {
        *pad = commands
            .spawn((
                oscillator(OscillatorType::Sawtooth, 220.0, detune, start)?,
                part("pad saw"),
            ))
            .connect(pad_gain)
            .id();
    }
    let bass_envelope = commands
        .spawn((GainNode::new(0.0), part("bass envelope")))
        .connect(bus)
        .id();
    let bass = commands
        .spawn((
            oscillator(OscillatorType::Triangle, 110.0, 0.0, start)?,
            part("bass"),
        ))
        .connect(bass_envelope)
        .id();
    commands.insert_resource(Music {
        lead,
        lead_envelope,
        pads,
        bass,
        bass_envelope,
        filter,
        step: 0,
        next: start,
    });
    Ok(())
}

/// Schedules every sixteenth that starts within [`LOOKAHEAD`] of the audio clock.
pub fn schedule_music(
    context: Res<AudioContext>,
    mut music: ResMut<Music>,
    mut oscillators: Query<&mut OscillatorNode>,
    mut gains: Query<&mut GainNode>,
    mut filters: Query<&mut BiquadFilterNode>,
) -> Result {
    let now = context.current_time();
    // After a stall (a long frame, a suspended context) resume on time instead of piling up
    // notes in the past.
    if music.next < now {
        music.next = now + 0.05;
    }
    while music.next < now + LOOKAHEAD {
        let (step, at) = (music.step, music.next);
        let bar = step / STEPS_PER_BAR;
        let (root, intervals) = PROGRESSION[(bar % PROGRESSION.len() as u64) as usize];
        let beat = step % STEPS_PER_BAR;
        if let Some(index) = ARPEGGIO[beat as usize] {
            let hz = midi_hz(root + 12.0 + intervals[index]);
            oscillators
                .get_mut(music.lead)?
                .frequency
                .set_value_at_time(hz, at)?;
            pluck(&mut *gains.get_mut(music.lead_envelope)?, 0.16, 0.09, at)?;
        }
        if BASS_STEPS.contains(&beat) {
            let hz = midi_hz(root - 12.0);
            oscillators
                .get_mut(music.bass)?
                .frequency
                .set_value_at_time(hz, at)?;
            pluck(&mut *gains.get_mut(music.bass_envelope)?, 0.4, 0.2, at)?;
        }
        if beat == 0 {
            for (pad, interval) in music.pads.into_iter().zip([intervals[1], 7.0]) {
                let hz = midi_hz(root + interval);
                oscillators
                    .get_mut(pad)?
                    .frequency
                    .set_value_at_time(hz, at)?;
            }
            let cutoff = if bar % 2 == 0 { CUTOFF.0 } else { CUTOFF.1 };
            let bar_seconds = STEP * STEPS_PER_BAR as f64;
            filters
                .get_mut(music.filter)?
                .frequency
                .exponential_ramp_to_value_at_time(cutoff, at + bar_seconds)?;
        }
        music.step += 1;
        music.next += STEP;
    }
    Ok(())
}

/// A plucked envelope on `gain`: up to `peak` in a few milliseconds at `at`, then an
/// exponential decay with time constant `decay`.
fn pluck(gain: &mut GainNode, peak: f32, decay: f64, at: f64) -> Result {
    gain.gain
        .set_target_at_time(peak, at, 0.004)?
        .set_target_at_time(0.0, at + 0.03, decay)?;
    Ok(())
}

/// Gives `obstacle` a voice: a square wave of `note_hz` with a `tremolo_hz` tremolo, through
/// a `PannerNode` + `SpatialAudio` on the obstacle itself (it follows the obstacle's
/// transform), into `bus`. The nodes are the obstacle's children, so despawning it silences
/// them. Returns the voice's fade gain (see [`fade_out`]).
///
/// ```text
/// tone (+ Doppler) -> tremolo gain -> fade gain -> panner (the obstacle) -> bus
/// lfo -> depth ----------^ (gain param)
/// ```
pub fn spawn_obstacle_voice(
    commands: &mut Commands,
    obstacle: Entity,
    bus: Entity,
    note_hz: f32,
    tremolo_hz: f32,
    now: f64,
) -> Result<Entity> {
    let mut panner = PannerNode::new(PanningModel::EqualPower);
    panner.set_ref_distance(3.0)?.set_rolloff_factor(1.0)?;
    commands
        .entity(obstacle)
        .insert((panner, SpatialAudio))
        .connect(bus);
    let mut fade = GainNode::new(0.0);
    fade.gain
        .set_value_at_time(0.0, now)?
        .linear_ramp_to_value_at_time(OBSTACLE_LEVEL, now + 0.6)?;
    let fade = commands
        .spawn((fade, Name::new("obstacle fade"), ChildOf(obstacle)))
        .connect(obstacle)
        .id();
    let tremolo = commands
        .spawn((GainNode::new(0.55), ChildOf(obstacle)))
        .connect(fade)
        .id();
    let depth = commands
        .spawn((GainNode::new(0.45), ChildOf(obstacle)))
        .connect_param(tremolo, ParamId::Gain)
        .id();
    commands
        .spawn((
            oscillator(OscillatorType::Sine, tremolo_hz, 0.0, now)?,
            ChildOf(obstacle),
        ))
        .connect(depth);
    // Doppler ×3: the pitch drops by more than a semitone as an obstacle passes.
    let doppler = Doppler::new(obstacle).with_factor(3.0)?;
    commands
        .spawn((
            oscillator(OscillatorType::Square, note_hz, 0.0, now)?,
            doppler,
            Name::new("obstacle tone"),
            ChildOf(obstacle),
        ))
        .connect(tremolo);
    Ok(fade)
}

/// Fades an obstacle's voice to silence over `seconds` (before it is despawned: no click).
pub fn fade_out(fade: &mut GainNode, now: f64, seconds: f64) -> Result {
    fade.gain
        .cancel_and_hold_at_time(now)?
        .linear_ramp_to_value_at_time(0.0, now + seconds)?;
    Ok(())
}
