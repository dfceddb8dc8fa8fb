//! The showcase's heads-up display: the microphone's level (with the jump threshold), the
//! pitch against the reference, the voice lamp, the score, the audio engine's render load and
//! xruns, how to play, and a banner when there is no microphone.

use bevy::prelude::*;
use bevy_webaudio::prelude::*;

use crate::{Stats, VoiceControl};

/// Width of the level and pitch bars, in pixels.
const BAR: f32 = 240.0;
/// The level bar's range, in dBFS.
const LEVEL_FLOOR_DB: f32 = -60.0;
/// The pitch bar shows this many semitones either side of the reference.
const PITCH_SPAN: f32 = 12.0;
/// Text and panel colours.
const TEXT: Color = Color::srgb(0.88, 0.88, 0.95);
const DIM: Color = Color::srgb(0.6, 0.6, 0.72);
const PANEL: Color = Color::srgba(0.03, 0.03, 0.1, 0.72);
const TRACK: Color = Color::srgb(0.16, 0.16, 0.26);

#[derive(Component)]
struct LevelFill;
#[derive(Component)]
struct ThresholdTick;
#[derive(Component)]
struct LevelText;
#[derive(Component)]
struct PitchMarker;
#[derive(Component)]
struct PitchText;
#[derive(Component)]
struct Lamp;
#[derive(Component)]
struct LampText;
#[derive(Component)]
struct ScoreText;
#[derive(Component)]
struct StatsText;
#[derive(Component)]
struct EngineText;
#[derive(Component)]
struct HelpText;
#[derive(Component)]
struct Banner;

/// Builds the HUD and keeps it up to date.
pub struct HudPlugin;

impl Plugin for HudPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, setup).add_systems(
            Update,
            (show_meters, show_texts, show_banner).after(crate::animate_player),
        );
    }
}

/// A text of `size` px in `color`.
fn text(value: impl Into<String>, size: f32, color: Color) -> (Text, TextFont, TextColor) {
    (
        Text::new(value),
        TextFont::from_font_size(size),
        TextColor(color),
    )
}

/// A rounded, translucent panel laid out as a column.
fn panel(position: Node) -> (Node, BackgroundColor) {
    (
        Node {
            position_type: PositionType::Absolute,
            flex_direction: FlexDirection::Column,
            padding: UiRect::all(Val::Px(14.0)),
            row_gap: Val::Px(7.0),
            border_radius: BorderRadius::all(Val::Px(10.0)),
            ..position
        },
        BackgroundColor(PANEL),
    )
}

/// A row: a fixed-width label, then the rest.
fn row() -> Node {
    Node {
        align_items: AlignItems::Center,
        column_gap: Val::Px(10.0),
        ..default()
    }
}

/// An empty bar track.
fn track() -> (Node, BackgroundColor) {
    (
        Node {
            width: Val::Px(BAR),
            height: Val::Px(14.0),
            border_radius: BorderRadius::all(Val::Px(3.0)),
            ..default()
        },
        BackgroundColor(TRACK),
    )
}

/// A mark on a bar at `left` px, `width` px wide.
fn mark(left: f32, width: f32, color: Color) -> (Node, BackgroundColor) {
    (
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(left),
            width: Val::Px(width),
            height: Val::Percent(100.0),
            ..default()
        },
        BackgroundColor(color),
    )
}

fn label(value: &str) -> impl Bundle {
    (
        text(value, 14.0, DIM),
        Node {
            width: Val::Px(44.0),
            ..default()
        },
    )
}

fn setup(mut commands: Commands) {
    commands
        .spawn(panel(Node {
            left: Val::Px(16.0),
            top: Val::Px(16.0),
            ..default()
        }))
        .with_children(|hud| {
            hud.spawn(text("bevy_webaudio showcase", 22.0, TEXT));
            hud.spawn(row()).with_children(|r| {
                r.spawn(label("mic"));
                r.spawn(track()).with_children(|bar| {
                    bar.spawn((mark(0.0, 0.0, Color::srgb(0.25, 0.85, 0.4)), LevelFill));
                    bar.spawn((mark(0.0, 3.0, Color::WHITE), ThresholdTick));
                });
                r.spawn((text("", 14.0, TEXT), LevelText));
            });
            hud.spawn(row()).with_children(|r| {
                r.spawn(label("pitch"));
                r.spawn(track()).with_children(|bar| {
                    bar.spawn(mark(BAR / 2.0 - 1.0, 2.0, DIM));
                    bar.spawn((
                        mark(0.0, 8.0, Color::srgb(1.0, 0.75, 0.2)),
                        Visibility::Hidden,
                        PitchMarker,
                    ));
                });
                r.spawn((text("", 14.0, TEXT), PitchText));
            });
            hud.spawn(row()).with_children(|r| {
                r.spawn(label("voice"));
                r.spawn((
                    Node {
                        width: Val::Px(14.0),
                        height: Val::Px(14.0),
                        border_radius: BorderRadius::all(Val::Px(7.0)),
                        ..default()
                    },
                    BackgroundColor(TRACK),
                    Lamp,
                ));
                r.spawn((text("", 14.0, TEXT), LampText));
            });
            hud.spawn((text("", 15.0, TEXT), StatsText));
            hud.spawn((text("", 13.0, DIM), EngineText));
        });
    commands
        .spawn(panel(Node {
            right: Val::Px(16.0),
            top: Val::Px(16.0),
            ..default()
        }))
        .with_child((text("", 14.0, TEXT), HelpText));
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            width: Val::Percent(100.0),
            top: Val::Px(12.0),
            justify_content: JustifyContent::Center,
            ..default()
        })
        .with_child((text("0", 56.0, Color::WHITE), ScoreText));
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            width: Val::Percent(100.0),
            bottom: Val::Px(20.0),
            justify_content: JustifyContent::Center,
            ..default()
        })
        .with_child((
            Node {
                padding: UiRect::axes(Val::Px(16.0), Val::Px(8.0)),
                border_radius: BorderRadius::all(Val::Px(8.0)),
                ..default()
            },
            BackgroundColor(Color::srgba(0.6, 0.08, 0.1, 0.85)),
            Visibility::Hidden,
            Banner,
            children![text("", 16.0, Color::WHITE)],
        ));
}

/// Where `db` sits on the level bar, in px.
fn level_px(db: f32) -> f32 {
    ((db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB).clamp(0.0, 1.0) * BAR
}

/// The level bar, the threshold tick, the pitch marker and the lamp.
#[allow(clippy::type_complexity)]
fn show_meters(
    mic: Res<Microphone>,
    voice: Res<VoiceControl>,
    mut fill: Single<(&mut Node, &mut BackgroundColor), With<LevelFill>>,
    mut tick: Single<&mut Node, (With<ThresholdTick>, Without<LevelFill>)>,
    mut marker: Single<
        (&mut Node, &mut Visibility),
        (
            With<PitchMarker>,
            Without<LevelFill>,
            Without<ThresholdTick>,
        ),
    >,
    mut lamp: Single<&mut BackgroundColor, (With<Lamp>, Without<LevelFill>)>,
) {
    let level = mic.level_dbfs();
    fill.0.width = Val::Px(level_px(level));
    fill.1.0 = if level >= voice.jump_dbfs {
        Color::srgb(1.0, 0.8, 0.2)
    } else {
        Color::srgb(0.25, 0.85, 0.4)
    };
    tick.left = Val::Px(level_px(voice.jump_dbfs) - 1.5);
    let (node, visibility) = &mut *marker;
    match voice.semitones {
        Some(st) => {
            let at = (st / PITCH_SPAN).clamp(-1.0, 1.0) * 0.5 + 0.5;
            node.left = Val::Px(at * BAR - 4.0);
            **visibility = Visibility::Inherited;
        }
        None => **visibility = Visibility::Hidden,
    }
    lamp.0 = if mic.voice_active() {
        Color::srgb(0.3, 1.0, 0.4)
    } else {
        TRACK
    };
}

/// Every text of the HUD.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn show_texts(
    mic: Res<Microphone>,
    voice: Res<VoiceControl>,
    stats: Res<Stats>,
    context: Res<AudioContext>,
    mut texts: ParamSet<(
        Single<&mut Text, With<LevelText>>,
        Single<&mut Text, With<PitchText>>,
        Single<&mut Text, With<LampText>>,
        Single<&mut Text, With<StatsText>>,
        Single<&mut Text, With<EngineText>>,
        Single<&mut Text, With<HelpText>>,
        Single<&mut Text, With<ScoreText>>,
    )>,
) {
    set(
        texts.p0().into_inner(),
        format!("{:.0} dBFS", mic.level_dbfs().max(LEVEL_FLOOR_DB)),
    );
    set(
        texts.p1().into_inner(),
        match mic.pitch_hz().filter(|_| mic.voice_active()) {
            Some(hz) => format!("{hz:.0} Hz / {:.0} Hz", voice.reference_hz),
            None => format!("- / {:.0} Hz", voice.reference_hz),
        },
    );
    set(
        texts.p2().into_inner(),
        if mic.voice_active() {
            "speaking: music ducked".into()
        } else {
            "quiet".into()
        },
    );
    set(
        texts.p3().into_inner(),
        format!(
            "crashes {}   jumps {} (by voice {})",
            stats.hits, stats.jumps, stats.voice_jumps
        ),
    );
    let (_, load_avg, load_peak) = context.render_load();
    set(
        texts.p4().into_inner(),
        format!(
            "audio {:?} {} Hz, {} nodes\nrender load {:.1} % (peak {:.1} %), xruns {}",
            context.backend(),
            context.sample_rate(),
            context.node_count(),
            100.0 * load_avg,
            100.0 * load_peak,
            context.xruns(),
        ),
    );
    set(
        texts.p5().into_inner(),
        format!(
            "HOW TO PLAY\n\
         shout \"hop!\" to jump (level over {:.0} dBFS)\n\
         hum higher than {:.0} Hz to run right,\n\
         lower to run left\n\
         crates hum too: listen for them on the right\n\n\
         keyboard: Space jump, Left/Right run\n\
         R: your pitch is the reference\n\
         +/-: jump threshold   F2: inspector",
            voice.jump_dbfs, voice.reference_hz
        ),
    );
    set(texts.p6().into_inner(), stats.score.to_string());
}

/// Replaces a text only when it changed (a changed text is laid out again).
fn set(mut text: Mut<Text>, value: String) {
    text.set_if_neq(Text(value));
}

/// The banner says when there is no microphone, and why.
fn show_banner(
    mic: Res<Microphone>,
    mut banner: Single<(&mut Visibility, &Children), With<Banner>>,
    mut texts: Query<&mut Text>,
) {
    let (visibility, children) = &mut *banner;
    let Some(error) = mic.error() else {
        **visibility = Visibility::Hidden;
        return;
    };
    **visibility = Visibility::Inherited;
    if let Some(mut text) = children.first().and_then(|&c| texts.get_mut(c).ok()) {
        text.0 = format!(
            "No microphone ({error}): play with the keyboard, Space jumps, arrows run. \
             Plug one in: it is picked up within 2 s."
        );
    }
}
