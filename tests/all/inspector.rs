//! The inspector panels, headless (egui_kittest, no renderer): nodes and params found by
//! label, a gain slider dragged into the ECS and on to the render thread, a wire removed and
//! added, meters showing the level of a known signal, the auto layout, and the render-side
//! read-backs of `Metered` nodes.

use bevy::prelude::*;
use bevy_webaudio::inspector::layout::{LAYER_SPACING, LayoutNode, layered};
use bevy_webaudio::inspector::snapshot::NodeExtra;
use bevy_webaudio::inspector::{
    InspectorEdit, InspectorSnapshot, InspectorView, apply_edits, inspector_ui,
};
use bevy_webaudio::prelude::*;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::support::*;

/// 375 Hz at 48 kHz: exactly one cycle per quantum, so a meter window holds whole cycles.
const FREQ: f32 = 375.0;

struct Graph {
    app: App,
    osc: Entity,
    amp: Entity,
}

/// osc (sine 375 Hz, metered) ─▶ amp (gain 0.5, metered) ─▶ destination, rendered 0.2 s.
fn graph() -> Graph {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut c = app.world_mut().commands();
    let amp = c
        .spawn((GainNode::new(0.5), Name::new("amp"), Metered::default()))
        .connect(dest)
        .id();
    let mut osc = OscillatorNode::new(OscillatorType::Sine, FREQ);
    osc.start(0.0).unwrap();
    let osc = c
        .spawn((osc, Name::new("osc"), Metered::default()))
        .connect(amp)
        .id();
    let mut graph = Graph { app, osc, amp };
    settle(&mut graph.app);
    graph
}

/// Syncs, renders 0.2 s, and reads the feedback back.
fn settle(app: &mut App) {
    app.update();
    app.render(9600).unwrap();
    app.update();
}

struct UiState {
    snapshot: InspectorSnapshot,
    view: InspectorView,
    edits: Vec<InspectorEdit>,
}

fn harness(app: &mut App) -> Harness<'static, UiState> {
    let state = UiState {
        snapshot: InspectorSnapshot::build(app.world_mut()),
        view: InspectorView::default(),
        edits: Vec::new(),
    };
    let mut harness = Harness::builder()
        .with_size([1200.0, 900.0])
        .build_ui_state(
            |ui, s: &mut UiState| {
                let edits = inspector_ui(ui, &s.snapshot, &mut s.view);
                s.edits.extend(edits);
            },
            state,
        );
    harness.run();
    harness
}

/// Applies the harness's edits to the app, renders, and shows a fresh snapshot.
fn apply(harness: &mut Harness<'static, UiState>, app: &mut App) -> Vec<InspectorEdit> {
    let edits = std::mem::take(&mut harness.state_mut().edits);
    assert!(apply_edits(app.world_mut(), &edits).is_empty());
    settle(app);
    harness.state_mut().snapshot = InspectorSnapshot::build(app.world_mut());
    harness.run();
    edits
}

/// How many widgets carry exactly `label`.
fn count(harness: &Harness<'static, UiState>, label: &str) -> usize {
    harness.query_all_by_label(label).count()
}

/// Clicks the graph view's widget labelled `label` (the graph is the left part), with the mouse.
///
/// egui reports a widget's accessibility rect in its layer's coordinates, and egui-snarl draws
/// in a pannable, zoomable layer (`Scene`): the click goes to where that layer's transform puts
/// the widget on screen.
fn click_in_graph(harness: &mut Harness<'static, UiState>, label: &str) {
    let to_screen = graph_layer_transform(harness);
    let rect = harness
        .query_all_by_label(label)
        .map(|n| n.rect())
        .find(|r| (to_screen * r.center()).x < 700.0)
        .unwrap_or_else(|| panic!("no {label} in the graph view"));
    let at = to_screen * rect.center();
    harness.hover_at(at);
    harness.run();
    for pressed in [true, false] {
        harness.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::default(),
        });
    }
    harness.run();
}

/// The transform of the graph view's layer (the only transformed one) to the screen.
fn graph_layer_transform(harness: &Harness<'static, UiState>) -> egui::emath::TSTransform {
    let ctx = &harness.ctx;
    let layers: Vec<egui::LayerId> = ctx.memory(|m| m.layer_ids().collect());
    layers
        .into_iter()
        .find_map(|layer| ctx.layer_transform_to_global(layer))
        .unwrap_or_default()
}

fn select(harness: &mut Harness<'static, UiState>, label: &str) {
    harness.get_by_label(&format!("select {label}")).click();
    harness.run();
}

#[test]
fn panels_show_nodes_params_and_meter_numbers() {
    let mut g = graph();
    let mut harness = harness(&mut g.app);
    // Graph view and meters list: both nodes by name; the destination by kind; the gain and
    // frequency params as ports; the node list's entries.
    assert_eq!(count(&harness, "osc"), 2);
    assert_eq!(count(&harness, "amp"), 2);
    // The destination: its graph title and its node-list entry.
    assert_eq!(
        harness
            .query_all_by_label_contains("AudioDestinationNode")
            .count(),
        2
    );
    assert_eq!(count(&harness, "gain"), 1);
    assert_eq!(count(&harness, "frequency"), 1);
    assert_eq!(count(&harness, "select amp"), 1);
    // Meters: a full-scale 375 Hz sine has peak 1 and RMS 1/√2; after the 0.5 gain, half.
    harness.get_by_label("peak 1.000 (0.0 dB) rms 0.707 (-3.0 dB)");
    harness.get_by_label("peak 0.500 (-6.0 dB) rms 0.354 (-9.0 dB)");
    // Engine panel.
    harness.get_by_label("48000 Hz");
    harness.get_by_label("offline (Offline)");
    // Details of the oscillator: its params with the render-side values.
    select(&mut harness, "osc");
    assert_eq!(harness.state().view.selected(), Some(g.osc));
    harness.get_by_role_and_label(Role::Slider, "frequency");
    harness.get_by_role_and_label(Role::Slider, "detune");
    harness.get_by_label("375.000");
}

#[test]
fn clicking_a_graph_node_selects_its_entity() {
    let mut g = graph();
    let mut harness = harness(&mut g.app);
    assert_eq!(harness.state().view.selected(), None);
    click_in_graph(&mut harness, "amp");
    assert_eq!(harness.state().view.selected(), Some(g.amp));
    click_in_graph(&mut harness, "osc");
    assert_eq!(harness.state().view.selected(), Some(g.osc));
}

#[test]
fn dragging_the_gain_slider_changes_the_component_and_the_output() {
    let mut g = graph();
    let mut harness = harness(&mut g.app);
    select(&mut harness, "amp");
    let rect = harness.get_by_role_and_label(Role::Slider, "gain").rect();
    // The gain's slider spans -2..=2 (its nominal range is ±3.4e38): drag to the right end.
    harness.drag_at(rect.left_center());
    harness.run();
    harness.hover_at(rect.right_center() + egui::vec2(40.0, 0.0));
    harness.run();
    harness.drop_at(rect.right_center() + egui::vec2(40.0, 0.0));
    harness.run();
    let edits = apply(&mut harness, &mut g.app);
    assert!(
        edits.iter().any(|e| matches!(e, InspectorEdit::SetParam { node, param: ParamId::Gain, .. } if *node == g.amp)),
        "{edits:?}"
    );
    let gain = g.app.world().get::<GainNode>(g.amp).unwrap().gain.value();
    assert_eq!(gain, 2.0);
    // The render thread has it: computed value 2, output peak 2, RMS √2.
    let amp = harness.state().snapshot.node(g.amp).unwrap().clone();
    assert_eq!(amp.params[0].render.unwrap().value, 2.0);
    let meter = amp.meter.unwrap();
    assert!((meter.peak - 2.0).abs() < 1e-4, "{meter:?}");
    assert!(
        (meter.rms - std::f32::consts::SQRT_2).abs() < 1e-3,
        "{meter:?}"
    );
    assert_eq!(count(&harness, "peak 2.000 (6.0 dB) rms 1.414 (3.0 dB)"), 2); // list + details
}

#[test]
fn removing_a_wire_despawns_the_connection_and_silences_the_output() {
    let mut g = graph();
    let mut harness = harness(&mut g.app);
    select(&mut harness, "amp");
    harness.get_by_label("disconnect osc -> amp.in 0").click();
    harness.run();
    apply(&mut harness, &mut g.app);
    let world = g.app.world();
    assert!(
        world
            .get::<AudioOutputs>(g.osc)
            .is_none_or(|o| o.edges().is_empty())
    );
    let mut edges = g.app.world_mut().query::<&ConnectionFrom>();
    assert!(edges.iter(g.app.world()).all(|f| f.0 != g.osc));
    let amp = harness.state().snapshot.node(g.amp).unwrap().meter.unwrap();
    assert_eq!((amp.peak, amp.rms), (0.0, 0.0));
    assert!(
        harness
            .query_by_label("disconnect osc -> amp.in 0")
            .is_none()
    );

    // Connecting again (what dragging a wire asks for) spawns one connection entity, once.
    let connect = InspectorEdit::Connect {
        from: g.osc,
        to: g.amp,
        output: 0,
        target: ConnectionTarget::Input(0),
    };
    assert!(apply_edits(g.app.world_mut(), &[connect, connect]).is_empty());
    settle(&mut g.app);
    assert_eq!(
        g.app
            .world()
            .get::<AudioOutputs>(g.osc)
            .unwrap()
            .edges()
            .len(),
        1
    );
    let snapshot = InspectorSnapshot::build(g.app.world_mut());
    assert!((snapshot.node(g.amp).unwrap().meter.unwrap().peak - 0.5).abs() < 1e-4);
}

#[test]
fn metering_is_opt_in_and_can_be_switched_from_the_panel() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut osc = OscillatorNode::new(OscillatorType::Square, FREQ);
    osc.start(0.0).unwrap();
    let osc = app
        .world_mut()
        .commands()
        .spawn((osc, Name::new("sq")))
        .connect(dest)
        .id();
    settle(&mut app);
    let snapshot = InspectorSnapshot::build(app.world_mut());
    let node = snapshot.node(osc).unwrap();
    assert!(node.meter.is_none() && node.params[0].render.is_none());
    let mut harness = harness(&mut app);
    select(&mut harness, "sq");
    harness
        .get_by_role_and_label(Role::CheckBox, "meter")
        .click();
    harness.run();
    apply(&mut harness, &mut app);
    assert!(app.world().get::<Metered>(osc).is_some());
    // The meter equals a window of the same oscillator rendered alone (375 Hz repeats every
    // quantum, so any 1024-frame window holds the same 8 cycles).
    let mut alone = OscillatorNode::new(OscillatorType::Square, FREQ);
    alone.start(0.0).unwrap();
    let reference = render_node(alone, 4096);
    let window = &reference[2048..3072];
    let expected_rms = (window.iter().map(|x| x * x).sum::<f32>() / 1024.0).sqrt();
    let meter = harness.state().snapshot.node(osc).unwrap().meter.unwrap();
    assert!(
        (meter.peak - peak(window)).abs() < 1e-4,
        "{meter:?} vs {}",
        peak(window)
    );
    assert!(
        (meter.rms - expected_rms).abs() < 1e-4,
        "{meter:?} vs {expected_rms}"
    );
    assert!(meter.rms > 0.8 && meter.peak < 1.2, "{meter:?}");
}

#[test]
fn automation_and_node_views_are_read_back() {
    let mut app = offline_app(1);
    let dest = destination(&app);
    let mut c = app.world_mut().commands();
    let mut filter = BiquadFilterNode::new(BiquadFilterType::Lowpass);
    filter.frequency.set_value(1000.0).unwrap();
    filter
        .frequency
        .linear_ramp_to_value_at_time(4000.0, 1.0)
        .unwrap();
    let filter = c.spawn((filter, Metered::default())).connect(dest).id();
    let analyser = c.spawn(AnalyserNode::default()).connect(dest).id();
    let mut osc = OscillatorNode::new(OscillatorType::Sine, 1500.0);
    osc.start(0.0).unwrap();
    let osc = c.spawn(osc).connect(filter).id();
    c.entity(osc).connect(analyser);
    app.update();
    app.render(24_000).unwrap(); // 0.5 s: half way up the ramp
    app.update();
    let snapshot = InspectorSnapshot::build(app.world_mut());
    let node = snapshot.node(filter).unwrap();
    let frequency = node.params[0].render.unwrap();
    assert!(frequency.automating);
    assert!((frequency.value - 2500.0).abs() < 10.0, "{frequency:?}");
    // The response curve follows the render-side cutoff: 0 dB well below, about -3 dB… at it.
    let NodeExtra::Biquad(curve) = &node.extra else {
        panic!()
    };
    let at = |hz: f64| {
        curve
            .iter()
            .min_by(|a, b| (a[0] - hz).abs().total_cmp(&(b[0] - hz).abs()))
            .unwrap()[1]
    };
    assert!(at(100.0).abs() < 0.2, "{}", at(100.0));
    assert!(at(12_000.0) < -20.0, "{}", at(12_000.0));
    let NodeExtra::Analyser(data) = &snapshot.node(analyser).unwrap().extra else {
        panic!()
    };
    let peak_bin = data
        .spectrum
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert!(
        (peak_bin as f32 * data.bin_hz - 1500.0).abs() <= data.bin_hz,
        "bin {peak_bin}"
    );
    let wave_peak = data.waveform.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!((wave_peak - 1.0).abs() < 0.01, "{wave_peak}");
    // The engine panel's readings.
    assert_eq!(snapshot.engine.sample_rate, 48_000.0);
    assert!((snapshot.engine.current_time - 0.5).abs() < 0.01);
    assert_eq!(snapshot.engine.node_count, 4);
}

/// 49 named nodes + the destination: 9 voices of osc → filter → gain → delay ⇄ feedback into a
/// compressor bus, and 3 analysers on the bus; every node metered.
fn fifty_node_graph() -> (App, Vec<String>) {
    let mut app = offline_app(2);
    let dest = destination(&app);
    let mut names = Vec::new();
    let mut c = app.world_mut().commands();
    let mut node =
        |c: &mut Commands, name: String, bundle: Box<dyn FnOnce(&mut Commands) -> Entity>| {
            let e = bundle(c);
            c.entity(e)
                .insert((Name::new(name.clone()), Metered::default()));
            names.push(name);
            e
        };
    let bus = node(
        &mut c,
        "bus".into(),
        Box::new(|c| c.spawn(DynamicsCompressorNode::default()).id()),
    );
    c.entity(bus).connect(dest);
    for v in 0..9 {
        let delay = node(
            &mut c,
            format!("delay {v}"),
            Box::new(|c| c.spawn(DelayNode::with_delay(1.0, 0.25).unwrap()).id()),
        );
        c.entity(delay).connect(bus);
        let feedback = node(
            &mut c,
            format!("feedback {v}"),
            Box::new(|c| c.spawn(GainNode::new(0.4)).id()),
        );
        c.entity(feedback).connect(delay);
        c.entity(delay).connect(feedback);
        let gain = node(
            &mut c,
            format!("gain {v}"),
            Box::new(|c| c.spawn(GainNode::new(0.05)).id()),
        );
        c.entity(gain).connect(delay);
        let filter = node(
            &mut c,
            format!("filter {v}"),
            Box::new(|c| {
                c.spawn(BiquadFilterNode::new(BiquadFilterType::Lowpass))
                    .id()
            }),
        );
        c.entity(filter).connect(gain);
        let osc = node(
            &mut c,
            format!("osc {v}"),
            Box::new(move |c| {
                let mut osc = OscillatorNode::new(OscillatorType::Sawtooth, 110.0 * (v + 1) as f32);
                osc.start(0.0).unwrap();
                c.spawn(osc).id()
            }),
        );
        c.entity(osc).connect(filter);
    }
    for a in 0..3 {
        let analyser = node(
            &mut c,
            format!("analyser {a}"),
            Box::new(|c| c.spawn(AnalyserNode::default()).id()),
        );
        c.entity(bus).connect(analyser);
    }
    settle(&mut app);
    (app, names)
}

#[test]
fn fifty_nodes_fit_in_the_graph_view_without_dragging() {
    let (mut app, names) = fifty_node_graph();
    assert_eq!(app.world().resource::<AudioContext>().node_count(), 50);
    let mut harness = harness(&mut app);
    harness.run();
    let to_screen = graph_layer_transform(&harness);
    // Zoomed out to fit, but not below half size (labels stay readable).
    assert!(
        (0.5..=1.0).contains(&to_screen.scaling),
        "zoom {}",
        to_screen.scaling
    );
    // Every node's title is on screen inside the graph view (the left 1200 − 470 points).
    let graph_width = 1200.0 - 470.0;
    for name in &names {
        let title = harness
            .query_all_by_label(name)
            .map(|n| to_screen * n.rect().center())
            .find(|p| p.x < graph_width)
            .unwrap_or_else(|| panic!("{name} is not in the graph view"));
        assert!(
            (0.0..900.0).contains(&title.y) && title.x > 0.0,
            "{name} at {title:?}, outside the view"
        );
    }
    // Compact: no node shows its unconnected param pins (Q is a biquad's) until it is
    // selected; then that node shows all of its own.
    assert_eq!(count(&harness, "Q"), 0);
    click_in_graph(&mut harness, "filter 4");
    let filter = named(&mut app, "filter 4");
    assert_eq!(harness.state().view.selected(), Some(filter));
    let graph = &harness.state().view.graph;
    assert_eq!(
        graph.shown_params(filter),
        [
            ParamId::Frequency,
            ParamId::Detune,
            ParamId::Q,
            ParamId::Gain
        ]
    );
    assert!(graph.shown_params(named(&mut app, "filter 3")).is_empty());
}

fn named(app: &mut App, name: &str) -> Entity {
    app.world_mut()
        .query::<(Entity, &Name)>()
        .iter(app.world())
        .find(|(_, n)| n.as_str() == name)
        .map(|(e, _)| e)
        .unwrap()
}

#[test]
fn layout_places_a_chain_with_feedback_in_layers() {
    let mut world = World::new();
    let e: Vec<Entity> = (0..4).map(|_| world.spawn_empty().id()).collect();
    let nodes: Vec<_> = e
        .iter()
        .map(|&entity| LayoutNode { entity, rows: 2 })
        .collect();
    // 0 → 1 → 2 → 3 and 2 → 1 (a feedback loop through a delay).
    let edges = [(e[0], e[1]), (e[1], e[2]), (e[2], e[3]), (e[2], e[1])];
    let pos = layered(&nodes, &edges);
    let x: Vec<f32> = e.iter().map(|k| pos[k][0]).collect();
    assert_eq!(
        x,
        [0.0, LAYER_SPACING, 2.0 * LAYER_SPACING, 3.0 * LAYER_SPACING]
    );
}
