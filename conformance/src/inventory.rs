//! The conformance inventory: every piece of Web Audio surface the crate offers, read from its
//! source with `syn`, mapped to the conformance cases that exercise it.
//!
//! **What is read** (`src/node/*.rs`, `src/param.rs`, `engine/src/node/*.rs`):
//! - each node component (a type with `impl AudioNode for T { const NAME = "..." }`): the node
//!   itself, its `AudioParam` fields (params), its other public fields (attributes), its
//!   public inherent methods (getters and setters become attributes, `get*` methods are
//!   read-backs, others are methods), the arguments of its constructors (functions without
//!   `self`: options; an argument of a `*Options` struct type contributes that struct's public
//!   fields), `start`/`stop` when it implements `AudioScheduledSourceNode`, the channel
//!   attributes when it requires a `ChannelConfig` and has inputs (with the generic channel
//!   check's exceptions, unless the node has its own `validate_channels`: then the ones its
//!   docs name), "audio into an AudioParam" when it has params, and the exceptions its
//!   methods' `# Errors` docs name;
//! - `AudioParam`'s public methods (automation methods, `value`, `automationRate`, errors);
//! - `PeriodicWave`'s constructor options and errors.
//!
//! **Names**: Rust `snake_case` becomes Web Audio `camelCase`, except the few in [`RENAMES`].
//! Items that are not Web Audio surface (Bevy-side helpers) or that no offline render can
//! observe are in [`EXCLUDED`], each with its reason (an exception by `Node!ErrorName`); every
//! entry there must name an item the source really has.
//!
//! **What counts as exercising an item** (a case's *facts*, see [`case_facts`]): its node type
//! appearing; an option key in `options`; an attribute assigned in `set` or a timed `set`
//! action (a public field also by `options`, as the crate has one field for both; a read-only
//! attribute by `options` or `set` of the same name); a param automated in `params` (node,
//! listener or action) or fed by a connection; an automation method or pseudo-method used on
//! any param; a `start`/`stop` (node keys or `call` actions; `start` with an offset for
//! `start(when, offset, duration)`); a method `call` action; a read-back method; a channel key
//! in `options`, `set`, a `set` action or `destination`; an `expectError` naming that
//! exception at a step of that node type (a step with automation also counts for
//! `AudioParam`, one with a periodic wave for `PeriodicWave`); an attribute read-back. Only
//! cases listed in `thresholds.json` count: those are the ones CI checks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use syn::{Attribute, Expr, Fields, FnArg, ImplItem, Item as SynItem, Lit, Pat, Type, Visibility};

use crate::case::{Connection, Target};

/// What an inventory item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A node interface (`GainNode`).
    Node,
    /// An AudioParam of a node (`GainNode.gain`).
    Param,
    /// Audio connected into one of a node's AudioParams.
    ParamInput,
    /// A constructor option (`OscillatorNode({type})`).
    Option,
    /// An attribute (read, written, or both).
    Attribute,
    /// A method (`start`, `setPeriodicWave`, `getFrequencyResponse`, `setValueAtTime`).
    Method,
    /// `channelCount`, `channelCountMode`, `channelInterpretation` of a node.
    Channel,
    /// An exception a node's (or AudioParam's, PeriodicWave's) methods throw.
    Error,
}

impl Kind {
    /// The label used in item ids and tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Node => "node",
            Self::Param => "param",
            Self::ParamInput => "param-input",
            Self::Option => "option",
            Self::Attribute => "attribute",
            Self::Method => "method",
            Self::Channel => "channel",
            Self::Error => "error",
        }
    }
}

/// One piece of Web Audio surface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub kind: Kind,
    /// Its Web Audio name, e.g. `OscillatorNode.type`, `AudioParam.setValueAtTime()`,
    /// `OscillatorNode({frequency})`, `DelayNode!NotSupportedError`.
    pub web: String,
    /// The Rust items it was read from (`OscillatorNode::set_type`, `GainNode.gain`, ...).
    pub rust: BTreeSet<String>,
    /// The case facts any of which exercises it.
    pub facts: BTreeSet<String>,
}

impl Item {
    /// `"<kind> <web name>"`: the id used in gap lists.
    pub fn id(&self) -> String {
        format!("{} {}", self.kind.label(), self.web)
    }
}

/// Rust names whose Web Audio name is not their camelCase form.
pub const RENAMES: &[(&str, &str)] = &[
    ("oscillator_type", "type"),
    ("filter_type", "type"),
    ("looping", "loop"),
    ("q", "Q"),
    ("wave", "periodicWave"),
    ("set_buffer_checked", "buffer"),
];

/// `set_*` methods that are Web Audio methods, not attribute setters.
const SET_METHODS: &[&str] = &["set_periodic_wave", "set_position", "set_orientation"];

/// Rust items that are not Web Audio surface, or that no offline render or read-back can
/// observe, with the reason. A whole node type is excluded by its type name.
pub const EXCLUDED: &[(&str, &str)] = &[
    (
        "AudioWorkletNode",
        "needs an AudioWorkletProcessor: a script in a browser, a Rust type here; the case format carries neither",
    ),
    (
        "MediaElementAudioSourceNode",
        "an AudioContext-only node (OfflineAudioContext cannot create one); it plays a file or an element",
    ),
    (
        "MediaStreamAudioSourceNode",
        "an AudioContext-only node (OfflineAudioContext cannot create one); it plays a live stream",
    ),
    (
        "AnalyserNode::frames_analysed",
        "Bevy-side counter for systems that poll the analyser; not in the spec",
    ),
    (
        "AudioBufferSourceNode.source",
        "start/stop state; the node's start/stop items cover it",
    ),
    (
        "ConstantSourceNode.source",
        "start/stop state; the node's start/stop items cover it",
    ),
    (
        "OscillatorNode.source",
        "start/stop state; the node's start/stop items cover it",
    ),
    (
        "ChannelMergerNode::validate_channels",
        "the check behind channelCount/channelCountMode (its exceptions are this node's error items)",
    ),
    (
        "ChannelSplitterNode::validate_channels",
        "the check behind channelCountMode/channelInterpretation (its exceptions are this node's error items)",
    ),
    (
        "ConvolverNode::validate_channels",
        "the check behind channelCount/channelCountMode (its exceptions are this node's error items)",
    ),
    (
        "DynamicsCompressorNode::validate_channels",
        "the check behind channelCount/channelCountMode (its exceptions are this node's error items)",
    ),
    (
        "PannerNode::validate_channels",
        "the check behind channelCount/channelCountMode (its exceptions are this node's error items)",
    ),
    (
        "StereoPannerNode::validate_channels",
        "the check behind channelCount/channelCountMode (its exceptions are this node's error items)",
    ),
    (
        "WaveShaperNode::apply_curve",
        "the spec's curve mapping as a function, for tests and tools; the node's curve items cover it",
    ),
    (
        "ConvolverNode::check_buffer",
        "the check behind `buffer` (its exceptions are this node's error items)",
    ),
    (
        "DynamicsCompressorNode::compression_curve",
        "the static curve, for the inspector and unit tests; not in the spec",
    ),
    (
        "DynamicsCompressorNode::makeup_gain",
        "the derived makeup gain, for the inspector and unit tests; not in the spec",
    ),
    (
        "PannerNode::attributes",
        "all non-param attributes as one value, for change detection; each attribute is its own item",
    ),
    (
        "AudioDestinationNode.max_channel_count",
        "maxChannelCount of an output device; an OfflineAudioContext's is its numberOfChannels and nothing renders differently",
    ),
    (
        "AudioDestinationNode!IndexSizeError",
        "an AudioContext's destination only (channelCount above maxChannelCount); an OfflineAudioContext's throws InvalidStateError for any change",
    ),
    (
        "ConvolverNode!InvalidStateError",
        "a buffer asset that is not loaded yet (a Bevy asset state, not a Web Audio one); a case's buffers always are",
    ),
    (
        "AudioParam::new",
        "params are created by their node (the node's options are items)",
    ),
    (
        "AudioParam::with_value",
        "params are created by their node (the node's options are items)",
    ),
    (
        "AudioParam::try_with_value",
        "params are created by their node (the node's options are items)",
    ),
    (
        "AudioParam::render_init",
        "hand-off to the render thread; not in the spec",
    ),
    (
        "AudioParam::descriptor",
        "the declaration as one value, for the inspector; not in the spec",
    ),
    (
        "AudioParam::set_values",
        "the helper behind setPosition/setOrientation (those methods are items)",
    ),
    (
        "AudioParam::default_value",
        "read-only descriptor (defaultValue); no render or read-back observes it (unit tests compare every param's with the spec's tables)",
    ),
    (
        "AudioParam::min_value",
        "read-only descriptor (minValue); a render observes it only through clamping, which the param items cover",
    ),
    (
        "AudioParam::max_value",
        "read-only descriptor (maxValue); a render observes it only through clamping, which the param items cover",
    ),
    (
        "PeriodicWave::real",
        "Web Audio's PeriodicWave exposes no attributes; a getter for the inspector",
    ),
    (
        "PeriodicWave::imag",
        "Web Audio's PeriodicWave exposes no attributes; a getter for the inspector",
    ),
    (
        "PeriodicWave::disable_normalization",
        "Web Audio's PeriodicWave exposes no attributes; a getter for the inspector",
    ),
];

/// Read-only attributes that a read-back observes: through a method (its array length is the
/// attribute) or read itself (an `attribute` read-back).
const READ_BACK_ATTRIBUTES: &[(&str, &str, &str)] = &[
    ("AnalyserNode", "frequencyBinCount", "getFloatFrequencyData"),
    ("AnalyserNode", "frequencyBinCount", "getByteFrequencyData"),
    ("DynamicsCompressorNode", "reduction", "reduction"),
];

/// The exceptions of the spec, as the crate's docs name them (a `WebAudioError` variant or
/// the exception's name).
const ERRORS: &[(&str, &str)] = &[
    ("NotSupported", "NotSupportedError"),
    ("InvalidState", "InvalidStateError"),
    ("IndexSize", "IndexSizeError"),
    ("InvalidAccess", "InvalidAccessError"),
    ("RangeError", "RangeError"),
    ("::Range`", "RangeError"),
    ("::Range]", "RangeError"),
];

/// The channel attributes.
const CHANNEL_KEYS: &[&str] = &["channelCount", "channelCountMode", "channelInterpretation"];

/// `snake_case` → `camelCase`, with [`RENAMES`].
pub fn web_name(rust: &str) -> String {
    if let Some((_, w)) = RENAMES.iter().find(|(r, _)| *r == rust) {
        return (*w).to_string();
    }
    let mut out = String::new();
    let mut upper = false;
    for c in rust.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The inventory read from the source.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Items by id.
    pub items: BTreeMap<String, Item>,
    /// Rust items left out, with the reason (every entry of [`EXCLUDED`] that matched).
    pub excluded: BTreeMap<String, String>,
}

impl Inventory {
    fn add(&mut self, kind: Kind, web: String, rust: String, facts: &[String]) {
        let item = Item {
            kind,
            web: web.clone(),
            rust: BTreeSet::new(),
            facts: BTreeSet::new(),
        };
        let item = self.items.entry(item.id()).or_insert(item);
        item.rust.insert(rust);
        item.facts.extend(facts.iter().cloned());
    }

    /// Records a `RangeError` that only non-finite numbers raise (not an item: no JSON case can
    /// carry one).
    fn note_non_finite(&mut self, rust: &str, attrs: &[Attribute]) {
        if non_finite_only(attrs) {
            self.excluded.insert(
                format!("{rust} (RangeError for non-finite numbers)"),
                "WebIDL's TypeError for a non-finite number: a JSON case cannot carry one (unit tests check it)".into(),
            );
        }
    }

    fn excluded(&mut self, rust: &str) -> bool {
        match EXCLUDED.iter().find(|(r, _)| *r == rust) {
            Some((r, why)) => {
                self.excluded.insert((*r).to_string(), (*why).to_string());
                true
            }
            None => false,
        }
    }
}

/// A parsed source file's structs and impls.
#[derive(Default)]
struct Parsed {
    structs: BTreeMap<String, syn::ItemStruct>,
    impls: Vec<syn::ItemImpl>,
}

fn parse_files(files: &[PathBuf]) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for item in ast.items {
            match item {
                SynItem::Struct(s) => {
                    parsed.structs.insert(s.ident.to_string(), s);
                }
                SynItem::Impl(i) => parsed.impls.push(i),
                _ => {}
            }
        }
    }
    Ok(parsed)
}

fn rs_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    Ok(files)
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(r) => last_ident(&r.elem),
        _ => None,
    }
}

fn impl_self(i: &syn::ItemImpl) -> Option<String> {
    last_ident(&i.self_ty)
}

fn impl_trait(i: &syn::ItemImpl) -> Option<String> {
    i.trait_
        .as_ref()
        .and_then(|(_, p, _)| p.segments.last())
        .map(|s| s.ident.to_string())
}

fn docs(attrs: &[Attribute]) -> String {
    let mut out = String::new();
    for a in attrs {
        if let syn::Meta::NameValue(nv) = &a.meta
            && nv.path.is_ident("doc")
            && let Expr::Lit(l) = &nv.value
            && let Lit::Str(s) = &l.lit
        {
            out.push_str(&s.value());
            out.push('\n');
        }
    }
    out
}

/// The exceptions named in the `# Errors` section of `attrs`' docs.
fn doc_errors(attrs: &[Attribute]) -> BTreeSet<&'static str> {
    let text = docs(attrs);
    let Some(start) = text.find("# Errors") else {
        return BTreeSet::new();
    };
    let section = &text[start..];
    let section = section[1..]
        .find("\n #")
        .map_or(section, |end| &section[..end + 1]);
    ERRORS
        .iter()
        .filter(|(needle, name)| {
            section
                .match_indices(needle)
                .any(|(at, _)| *name != "RangeError" || !only_non_finite(&section[at..]))
        })
        .map(|(_, name)| *name)
        .collect()
}

/// Whether the clause starting here (up to `;` or the end of the sentence) throws only for
/// non-finite numbers (WebIDL's `TypeError`, which the crate reports as `RangeError`): a
/// JSON case cannot carry a non-finite number, so no case can check it.
fn only_non_finite(clause: &str) -> bool {
    let end = [";", ". ", ".\n"]
        .iter()
        .filter_map(|e| clause.find(e))
        .min()
        .unwrap_or(clause.len());
    let clause = &clause[..end];
    clause.contains("non-finite")
        && ![
            "negative", "≤", "is 0", " 0,", "exceeds", "unless", "fewer", "below", "outside",
        ]
        .iter()
        .any(|w| clause.contains(w))
}

/// The `RangeError`s of `attrs`' docs that only non-finite numbers raise (see
/// [`only_non_finite`]).
fn non_finite_only(attrs: &[Attribute]) -> bool {
    let text = docs(attrs);
    text.find("# Errors").is_some_and(|start| {
        let section = &text[start..];
        ["RangeError", "::Range`", "::Range]"]
            .iter()
            .flat_map(|n| section.match_indices(n))
            .any(|(at, _)| only_non_finite(&section[at..]))
    })
}

fn has_receiver(sig: &syn::Signature) -> bool {
    matches!(sig.inputs.first(), Some(FnArg::Receiver(_)))
}

/// `self` / `mut self` (a builder step), not `&self`.
fn by_value_receiver(sig: &syn::Signature) -> bool {
    matches!(sig.inputs.first(), Some(FnArg::Receiver(r)) if r.reference.is_none())
}

/// Whether `sig` returns `Self` or `ty` (possibly in a `Result`/`Option`): a constructor.
fn returns_self(sig: &syn::Signature, ty: &str) -> bool {
    match &sig.output {
        syn::ReturnType::Default => false,
        syn::ReturnType::Type(_, t) => {
            let mut ts = proc_macro2::TokenStream::new();
            quote::ToTokens::to_tokens(t, &mut ts);
            walk_tokens(ts, "Self") || walk_tokens_str(t, ty)
        }
    }
}

fn walk_tokens_str(t: &Type, ident: &str) -> bool {
    let mut ts = proc_macro2::TokenStream::new();
    quote::ToTokens::to_tokens(t, &mut ts);
    walk_tokens(ts, ident)
}

/// Whether the tokens contain the identifier `ident`.
fn walk_tokens(ts: proc_macro2::TokenStream, ident: &str) -> bool {
    ts.into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == ident,
        proc_macro2::TokenTree::Group(g) => walk_tokens(g.stream(), ident),
        _ => false,
    })
}

/// `(name, type)` of the non-receiver arguments.
fn args(sig: &syn::Signature) -> Vec<(String, Option<String>)> {
    sig.inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(i) => Some((i.ident.to_string(), last_ident(&t.ty))),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

fn is_pub(v: &Visibility) -> bool {
    matches!(v, Visibility::Public(_))
}

fn requires_channel_config(s: &syn::ItemStruct) -> bool {
    s.attrs.iter().any(|a| {
        a.path().is_ident("require")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().contains("ChannelConfig"))
    })
}

fn fact(kind: &str, owner: &str, name: &str) -> String {
    format!("{kind}:{owner}.{name}")
}

/// Attribute bookkeeping before its facts are decided.
#[derive(Default)]
struct Attr {
    rust: BTreeSet<String>,
    field: bool,
    setter: bool,
}

/// Reads the inventory from the crate's source under `root` (the repository).
///
/// # Errors
/// A file that cannot be read or parsed.
pub fn from_source(root: &Path) -> Result<Inventory, String> {
    let mut inv = Inventory::default();
    let node_dir = root.join("src/node");
    let nodes = parse_files(&rs_files(&node_dir)?)?;
    let engine = parse_files(&rs_files(&root.join("engine/src/node"))?)?;
    let params = parse_files(&[root.join("src/param.rs")])?;

    // The generic channel check (engine `ChannelConfig::validate`).
    let mut generic_channel_errors = BTreeSet::new();
    let mut scheduled_errors = BTreeMap::new();
    for i in &engine.impls {
        if impl_self(i).as_deref() == Some("ChannelConfig") && impl_trait(i).is_none() {
            for it in &i.items {
                if let ImplItem::Fn(f) = it
                    && f.sig.ident == "validate"
                {
                    generic_channel_errors.extend(doc_errors(&f.attrs));
                }
            }
        }
    }
    for i in &nodes.impls {
        if impl_self(i).as_deref() == Some("ScheduledSource") && impl_trait(i).is_none() {
            for it in &i.items {
                if let ImplItem::Fn(f) = it
                    && (f.sig.ident == "start" || f.sig.ident == "stop")
                {
                    scheduled_errors.insert(f.sig.ident.to_string(), doc_errors(&f.attrs));
                }
            }
        }
    }
    if generic_channel_errors.is_empty() || scheduled_errors.len() != 2 {
        return Err(
            "source layout changed: ChannelConfig::validate or ScheduledSource::start/stop not found"
                .into(),
        );
    }

    // Node types: `impl AudioNode for T { const NAME: &str = "..." }`.
    let mut node_types = Vec::new();
    for i in &nodes.impls {
        if impl_trait(i).as_deref() != Some("AudioNode") {
            continue;
        }
        let Some(ty) = impl_self(i) else { continue };
        for it in &i.items {
            if let ImplItem::Const(c) = it
                && c.ident == "NAME"
                && let Expr::Lit(l) = &c.expr
                && let Lit::Str(s) = &l.lit
            {
                node_types.push((ty.clone(), s.value(), i.clone()));
            }
        }
    }
    if node_types.len() < 15 {
        return Err(format!(
            "only {} node types found in {}",
            node_types.len(),
            node_dir.display()
        ));
    }

    let mut options_structs = engine.structs.clone();
    options_structs.extend(nodes.structs.clone());

    for (ty, web, audio_node_impl) in &node_types {
        if inv.excluded(ty) {
            continue;
        }
        let strukt = nodes
            .structs
            .get(ty)
            .ok_or_else(|| format!("struct {ty} not found"))?;
        inv.add(
            Kind::Node,
            web.clone(),
            ty.clone(),
            &[format!("node:{web}")],
        );
        let is_source = audio_node_impl.items.iter().any(|it| match it {
            ImplItem::Fn(f) if f.sig.ident == "shape" => {
                let body = &f.block;
                block_contains(body, "SOURCE")
            }
            _ => false,
        });
        let is_listener = web == "AudioListener";
        let mut errors: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        let mut attrs: BTreeMap<String, Attr> = BTreeMap::new();
        let mut has_params = false;
        // A node with its own channel check throws what that check documents, not
        // necessarily the generic check's exceptions.
        let mut own_channel_check = false;

        if let Fields::Named(fields) = &strukt.fields {
            for f in &fields.named {
                if !is_pub(&f.vis) {
                    continue;
                }
                let name = f.ident.as_ref().expect("named").to_string();
                let rust = format!("{ty}.{name}");
                if inv.excluded(&rust) {
                    continue;
                }
                let w = web_name(&name);
                if last_ident(&f.ty).as_deref() == Some("AudioParam") {
                    has_params = true;
                    inv.add(
                        Kind::Param,
                        format!("{web}.{w}"),
                        rust,
                        &[fact("param", web, &w)],
                    );
                } else {
                    let a = attrs.entry(w).or_default();
                    a.rust.insert(rust);
                    a.field = true;
                }
            }
        }

        for i in nodes
            .impls
            .iter()
            .filter(|i| impl_self(i).as_deref() == Some(ty))
        {
            let tr = impl_trait(i);
            if tr.as_deref() == Some("AudioScheduledSourceNode") {
                for m in ["start", "stop"] {
                    let rust = format!("AudioScheduledSourceNode::{m} for {ty}");
                    inv.add(
                        Kind::Method,
                        format!("{web}.{m}()"),
                        rust.clone(),
                        &[fact("call", web, m)],
                    );
                    for e in &scheduled_errors[m] {
                        errors.entry(e).or_default().insert(rust.clone());
                    }
                }
                continue;
            }
            if tr.as_deref() == Some("AudioNode") {
                for it in &i.items {
                    if let ImplItem::Fn(f) = it
                        && f.sig.ident == "validate_channels"
                    {
                        own_channel_check = true;
                        for e in doc_errors(&f.attrs) {
                            errors
                                .entry(e)
                                .or_default()
                                .insert(format!("AudioNode::validate_channels for {ty}"));
                        }
                    }
                }
                continue;
            }
            if tr.is_some() {
                continue;
            }
            for it in &i.items {
                let ImplItem::Fn(f) = it else { continue };
                if !is_pub(&f.vis) {
                    continue;
                }
                let name = f.sig.ident.to_string();
                let rust = format!("{ty}::{name}");
                let errs = doc_errors(&f.attrs);
                if inv.excluded(&rust) {
                    own_channel_check |= name == "validate_channels";
                    // A check behind an attribute: its exceptions are still the node's.
                    if name.starts_with("validate_") || name.starts_with("check_") {
                        for e in errs {
                            errors.entry(e).or_default().insert(rust.clone());
                        }
                    }
                    continue;
                }
                for e in &errs {
                    errors.entry(e).or_default().insert(rust.clone());
                }
                inv.note_non_finite(&rust, &f.attrs);
                let fn_args = args(&f.sig);
                let builder = by_value_receiver(&f.sig)
                    && (name.starts_with("with_") || name.starts_with("try_with_"));
                if (!has_receiver(&f.sig) && returns_self(&f.sig, ty)) || builder {
                    constructor_options(&mut inv, web, &rust, &name, &fn_args, &options_structs);
                } else if name == "start_with" {
                    inv.add(
                        Kind::Method,
                        format!("{web}.start(when, offset, duration)"),
                        rust,
                        &[fact("call", web, "start+offset")],
                    );
                } else if SET_METHODS.contains(&name.as_str()) || name.starts_with("get_") {
                    let w = web_name(&name);
                    let k = if name.starts_with("get_") {
                        "readback"
                    } else {
                        "call"
                    };
                    inv.add(
                        Kind::Method,
                        format!("{web}.{w}()"),
                        rust,
                        &[fact(k, web, &w)],
                    );
                } else if RENAMES.iter().any(|(r, _)| *r == name) && !fn_args.is_empty() {
                    let a = attrs.entry(web_name(&name)).or_default();
                    a.rust.insert(rust);
                    a.setter = true;
                } else if let Some(attr) = name.strip_prefix("set_") {
                    let a = attrs.entry(web_name(attr)).or_default();
                    a.rust.insert(rust);
                    a.setter = true;
                } else if fn_args.is_empty() && has_receiver(&f.sig) {
                    attrs.entry(web_name(&name)).or_default().rust.insert(rust);
                } else {
                    let w = web_name(&name);
                    inv.add(
                        Kind::Method,
                        format!("{web}.{w}()"),
                        rust,
                        &[fact("call", web, &w)],
                    );
                }
            }
        }

        for (w, a) in attrs {
            let mut facts = vec![fact("assign", web, &w)];
            // `options` reach an attribute through its field, its getter-only value, or (when
            // no constructor takes it) the setter the builder must call.
            let constructor_takes_it = inv.items.contains_key(&format!("option {web}({{{w}}})"));
            if a.field || !a.setter || !constructor_takes_it {
                facts.push(fact("option", web, &w));
            }
            for (n, attr, method) in READ_BACK_ATTRIBUTES {
                if n == web && *attr == w {
                    facts.push(fact("readback", web, method));
                }
            }
            let web_item = format!("{web}.{w}");
            for rust in a.rust {
                inv.add(Kind::Attribute, web_item.clone(), rust, &facts);
            }
        }

        if requires_channel_config(strukt) && !is_source && !is_listener {
            for k in CHANNEL_KEYS {
                inv.add(
                    Kind::Channel,
                    format!("{web}.{k}"),
                    format!("ChannelConfig on {ty}"),
                    &[fact("channel", web, k)],
                );
            }
            if !own_channel_check {
                for e in &generic_channel_errors {
                    errors
                        .entry(e)
                        .or_default()
                        .insert("ChannelConfig::validate".into());
                }
            }
        }
        if has_params && !is_listener {
            inv.add(
                Kind::ParamInput,
                format!("{web}.<AudioParam> ← connect()"),
                format!("AudioParam fields of {ty}"),
                &[format!("input:{web}")],
            );
        }
        for (e, rust) in errors {
            if inv.excluded(&format!("{web}!{e}")) {
                continue;
            }
            for r in rust {
                inv.add(
                    Kind::Error,
                    format!("{web}!{e}"),
                    r,
                    &[fact("error", web, e)],
                );
            }
        }
    }

    // AudioParam.
    for i in params
        .impls
        .iter()
        .filter(|i| impl_self(i).as_deref() == Some("AudioParam") && impl_trait(i).is_none())
    {
        for it in &i.items {
            let ImplItem::Fn(f) = it else { continue };
            if !is_pub(&f.vis) {
                continue;
            }
            let name = f.sig.ident.to_string();
            let rust = format!("AudioParam::{name}");
            if inv.excluded(&rust) {
                continue;
            }
            inv.note_non_finite(&rust, &f.attrs);
            for e in doc_errors(&f.attrs) {
                inv.add(
                    Kind::Error,
                    format!("AudioParam!{e}"),
                    rust.clone(),
                    &[fact("error", "AudioParam", e)],
                );
            }
            let attr = name.strip_prefix("set_").unwrap_or(&name);
            if name.ends_with("_at_time") || name.starts_with("cancel_") {
                let w = web_name(&name);
                inv.add(
                    Kind::Method,
                    format!("AudioParam.{w}()"),
                    rust,
                    &[format!("event:{w}")],
                );
            } else {
                let w = web_name(attr);
                inv.add(
                    Kind::Attribute,
                    format!("AudioParam.{w}"),
                    rust,
                    &[format!("event:{w}")],
                );
            }
        }
    }

    // PeriodicWave (engine).
    for i in engine
        .impls
        .iter()
        .filter(|i| impl_self(i).as_deref() == Some("PeriodicWave") && impl_trait(i).is_none())
    {
        for it in &i.items {
            let ImplItem::Fn(f) = it else { continue };
            if !is_pub(&f.vis) {
                continue;
            }
            let name = f.sig.ident.to_string();
            let rust = format!("PeriodicWave::{name}");
            if inv.excluded(&rust) {
                continue;
            }
            inv.note_non_finite(&rust, &f.attrs);
            for e in doc_errors(&f.attrs) {
                inv.add(
                    Kind::Error,
                    format!("PeriodicWave!{e}"),
                    rust.clone(),
                    &[fact("error", "PeriodicWave", e)],
                );
            }
            if !has_receiver(&f.sig) {
                constructor_options(
                    &mut inv,
                    "PeriodicWave",
                    &rust,
                    &name,
                    &args(&f.sig),
                    &options_structs,
                );
            } else {
                return Err(format!("unclassified public method {rust}"));
            }
        }
    }
    Ok(inv)
}

/// Whether `block`'s tokens contain the identifier `ident`.
fn block_contains(block: &syn::Block, ident: &str) -> bool {
    let mut ts = proc_macro2::TokenStream::new();
    for s in &block.stmts {
        quote::ToTokens::to_tokens(s, &mut ts);
    }
    walk_tokens(ts, ident)
}

/// The options of a constructor `name(args)`.
fn constructor_options(
    inv: &mut Inventory,
    web: &str,
    rust: &str,
    name: &str,
    fn_args: &[(String, Option<String>)],
    structs: &BTreeMap<String, syn::ItemStruct>,
) {
    // `with_position(x, y, z)` → positionX/Y/Z.
    let vector = name
        .strip_prefix("try_with_")
        .or_else(|| name.strip_prefix("with_"))
        .filter(|_| {
            fn_args.len() == 3 && fn_args.iter().map(|(n, _)| n.as_str()).eq(["x", "y", "z"])
        });
    for (arg, ty) in fn_args {
        let keys: Vec<String> = if let Some(v) = vector {
            vec![format!("{}{}", web_name(v), arg.to_uppercase())]
        } else if let Some(s) = ty
            .as_ref()
            .filter(|t| t.ends_with("Options"))
            .and_then(|t| structs.get(t))
        {
            match &s.fields {
                Fields::Named(f) => f
                    .named
                    .iter()
                    .filter(|f| is_pub(&f.vis))
                    .filter_map(|f| f.ident.as_ref().map(|i| web_name(&i.to_string())))
                    .collect(),
                _ => Vec::new(),
            }
        } else {
            vec![web_name(arg)]
        };
        for k in keys {
            inv.add(
                Kind::Option,
                format!("{web}({{{k}}})"),
                rust.to_string(),
                &[fact("option", web, &k)],
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cases.

fn node_types(case: &Value) -> BTreeMap<String, String> {
    let mut types: BTreeMap<String, String> = case["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            Some((
                n["id"].as_str()?.to_string(),
                n["type"].as_str()?.to_string(),
            ))
        })
        .collect();
    types.insert("destination".into(), "AudioDestinationNode".into());
    types.insert("listener".into(), "AudioListener".into());
    types
}

fn event_facts(events: &Value, facts: &mut BTreeSet<String>) {
    for ev in events.as_array().into_iter().flatten() {
        if let Some(m) = ev.get(0).and_then(Value::as_str) {
            facts.insert(format!("event:{m}"));
        }
    }
}

fn periodic_wave_facts(wave: &Value, facts: &mut BTreeSet<String>) {
    for k in wave.as_object().into_iter().flat_map(|o| o.keys()) {
        facts.insert(fact("option", "PeriodicWave", k));
    }
}

/// `key = value` assignments (`set`, `set` actions, `destination`).
fn assign_facts<'a>(
    ty: &str,
    keys: impl Iterator<Item = &'a String>,
    facts: &mut BTreeSet<String>,
) {
    for k in keys {
        if CHANNEL_KEYS.contains(&k.as_str()) {
            facts.insert(fact("channel", ty, k));
        } else {
            facts.insert(fact("assign", ty, k));
        }
    }
}

fn connection_facts(v: &Value, types: &BTreeMap<String, String>, facts: &mut BTreeSet<String>) {
    if let Ok(c) = Connection::parse(v)
        && let Target::Param(p) = &c.target
        && let Some(ty) = types.get(&c.to)
    {
        facts.insert(fact("param", ty, p));
        facts.insert(format!("input:{ty}"));
    }
}

fn start_facts(ty: &str, start: &Value, facts: &mut BTreeSet<String>) {
    let with_offset = start.as_array().is_some_and(|a| a.len() >= 2);
    facts.insert(fact(
        "call",
        ty,
        if with_offset { "start+offset" } else { "start" },
    ));
}

/// The node ids (and what they did) at an `expectError` step.
fn error_step(case: &Value, at: &str) -> Vec<(String, bool, bool)> {
    // (node id, the step automates params, the step makes a periodic wave)
    let node_step = |id: &str| -> (String, bool, bool) {
        let n = case["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["id"] == id);
        let params = n.is_some_and(|n| n["params"].as_object().is_some_and(|p| !p.is_empty()))
            || (id == "listener" && !case["listener"].is_null());
        let wave = n.is_some_and(|n| !n["options"]["periodicWave"].is_null());
        (id.to_string(), params, wave)
    };
    let ends = |v: &Value| -> Vec<(String, bool, bool)> {
        match Connection::parse(v) {
            Ok(c) => vec![(c.from, false, false), (c.to, false, false)],
            Err(_) => match v {
                Value::String(s) => vec![(s.clone(), false, false)],
                _ => v["from"]
                    .as_str()
                    .map(|s| vec![(s.to_string(), false, false)])
                    .unwrap_or_default(),
            },
        }
    };
    let index = |s: &str| s.trim_end_matches(']').parse::<usize>().ok();
    if let Some(k) = at.strip_prefix("connections[").and_then(index) {
        return ends(&case["connections"][k]);
    }
    if let Some(k) = at.strip_prefix("readbacks[").and_then(index) {
        return case["readbacks"][k]["node"]
            .as_str()
            .map(|n| vec![(n.to_string(), false, false)])
            .unwrap_or_default();
    }
    if let Some(rest) = at.strip_prefix("actions[")
        && let Some((i, j)) = rest.split_once("].do[")
        && let (Some(i), Some(j)) = (i.parse::<usize>().ok(), index(j))
    {
        let action = &case["actions"][i]["do"][j];
        let Some((kind, body)) = action.as_object().and_then(|o| o.iter().next()) else {
            return Vec::new();
        };
        return match kind.as_str() {
            "connect" | "disconnect" => ends(body),
            _ => body["node"]
                .as_str()
                .map(|n| {
                    let wave = kind == "call" && body["method"] == "setPeriodicWave";
                    vec![(n.to_string(), kind == "params", wave)]
                })
                .unwrap_or_default(),
        };
    }
    vec![node_step(at)]
}

/// What one case exercises (see the module docs).
pub fn case_facts(case: &Value) -> BTreeSet<String> {
    let types = node_types(case);
    let mut facts = BTreeSet::new();
    for n in case["nodes"].as_array().into_iter().flatten() {
        let Some(ty) = n["type"].as_str() else {
            continue;
        };
        facts.insert(format!("node:{ty}"));
        if let Some(o) = n["options"].as_object() {
            for (k, v) in o {
                if CHANNEL_KEYS.contains(&k.as_str()) {
                    facts.insert(fact("channel", ty, k));
                } else {
                    facts.insert(fact("option", ty, k));
                }
                if k == "periodicWave" {
                    periodic_wave_facts(v, &mut facts);
                }
            }
        }
        if let Some(s) = n["set"].as_object() {
            assign_facts(ty, s.keys(), &mut facts);
        }
        for (p, events) in n["params"].as_object().into_iter().flatten() {
            facts.insert(fact("param", ty, p));
            event_facts(events, &mut facts);
        }
        if let Some(s) = n.get("start").filter(|s| !s.is_null()) {
            start_facts(ty, s, &mut facts);
        }
        if n.get("stop").is_some_and(|s| !s.is_null()) {
            facts.insert(fact("call", ty, "stop"));
        }
    }
    if let Some(d) = case["destination"].as_object() {
        facts.insert("node:AudioDestinationNode".into());
        assign_facts("AudioDestinationNode", d.keys(), &mut facts);
    }
    for (p, events) in case["listener"]["params"].as_object().into_iter().flatten() {
        facts.insert("node:AudioListener".into());
        facts.insert(fact("param", "AudioListener", p));
        event_facts(events, &mut facts);
    }
    for c in case["connections"].as_array().into_iter().flatten() {
        connection_facts(c, &types, &mut facts);
    }
    for entry in case["actions"].as_array().into_iter().flatten() {
        for action in entry["do"].as_array().into_iter().flatten() {
            let Some(o) = action.as_object() else {
                continue;
            };
            for (kind, body) in o {
                let ty = body["node"].as_str().and_then(|id| types.get(id));
                match (kind.as_str(), ty) {
                    ("set", Some(ty)) => {
                        assign_facts(
                            ty,
                            body.as_object()
                                .into_iter()
                                .flat_map(|b| b.keys())
                                .filter(|k| *k != "node"),
                            &mut facts,
                        );
                    }
                    ("call", Some(ty)) => {
                        let method = body["method"].as_str().unwrap_or_default();
                        if method == "start" {
                            start_facts(ty, &body["args"], &mut facts);
                        } else {
                            facts.insert(fact("call", ty, method));
                        }
                        if method == "setPeriodicWave" {
                            periodic_wave_facts(&body["args"][0], &mut facts);
                        }
                    }
                    ("params", Some(ty)) => {
                        for (p, events) in body.as_object().into_iter().flatten() {
                            if p != "node" {
                                facts.insert(fact("param", ty, p));
                                event_facts(events, &mut facts);
                            }
                        }
                    }
                    ("connect", _) => connection_facts(body, &types, &mut facts),
                    _ => {}
                }
            }
        }
    }
    for r in case["readbacks"].as_array().into_iter().flatten() {
        if let (Some(ty), Some(m)) = (
            r["node"].as_str().and_then(|id| types.get(id)),
            r["method"].as_str().or_else(|| r["attribute"].as_str()),
        ) {
            facts.insert(fact("readback", ty, m));
        }
    }
    if let (Some(at), Some(name)) = (
        case["expectError"]["at"].as_str(),
        case["expectError"]["name"].as_str(),
    ) {
        for (id, params, wave) in error_step(case, at) {
            if let Some(ty) = types.get(&id) {
                facts.insert(fact("error", ty, name));
            }
            if params {
                facts.insert(fact("error", "AudioParam", name));
            }
            if wave {
                facts.insert(fact("error", "PeriodicWave", name));
            }
        }
    }
    facts
}

/// Item id → the checked cases that exercise it (empty: a gap).
pub type Coverage = BTreeMap<String, BTreeSet<String>>;

/// Maps every item to the cases of `cases_dir` that exercise it, counting only cases whose
/// name is a key of `thresholds.json` (the ones CI checks).
///
/// # Errors
/// A file that cannot be read or parsed.
pub fn coverage(inv: &Inventory, cases_dir: &Path, thresholds: &Path) -> Result<Coverage, String> {
    let text = std::fs::read_to_string(thresholds)
        .map_err(|e| format!("{}: {e}", thresholds.display()))?;
    let checked: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", thresholds.display()))?;
    let checked = checked
        .as_object()
        .ok_or_else(|| format!("{}: not an object", thresholds.display()))?;
    let mut cov: Coverage = inv
        .items
        .keys()
        .map(|k| (k.clone(), BTreeSet::new()))
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir)
        .map_err(|e| format!("{}: {e}", cases_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let case: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let Some(name) = case["name"].as_str() else {
            continue;
        };
        if !checked.contains_key(name) {
            continue;
        }
        let facts = case_facts(&case);
        for (id, item) in &inv.items {
            if !item.facts.is_disjoint(&facts) {
                cov.get_mut(id)
                    .expect("every item")
                    .insert(name.to_string());
            }
        }
    }
    Ok(cov)
}

/// The ids of the items no checked case exercises.
pub fn gaps(cov: &Coverage) -> Vec<String> {
    cov.iter()
        .filter(|(_, cases)| cases.is_empty())
        .map(|(id, _)| id.clone())
        .collect()
}

/// The first line of the inventory section in CONFORMANCE.md.
pub const MD_BEGIN: &str =
    "<!-- inventory:begin (generated by webaudio-inventory; do not edit) -->";
/// The last line of the inventory section in CONFORMANCE.md.
pub const MD_END: &str = "<!-- inventory:end -->";

/// The inventory section (between [`MD_BEGIN`] and [`MD_END`]).
pub fn markdown(inv: &Inventory, cov: &Coverage) -> String {
    const SHOWN: usize = 6;
    let gaps = gaps(cov);
    let mut t = String::new();
    let _ = writeln!(t, "{MD_BEGIN}");
    let _ = writeln!(t, "## Inventory\n");
    let _ = writeln!(
        t,
        "Generated from the source (`webaudio-inventory`, `conformance/src/inventory.rs`): every public \
         node, param, attribute, method, constructor option, channel attribute and documented exception, \
         by its Web Audio name, with the Rust items it was read from and the checked cases \
         (listed in `thresholds.json`) that exercise it. {} items, {} covered, {} gaps.\n",
        inv.items.len(),
        inv.items.len() - gaps.len(),
        gaps.len()
    );
    let _ = writeln!(t, "| kind | Web Audio | Rust | cases |");
    let _ = writeln!(t, "|---|---|---|---|");
    for (id, item) in &inv.items {
        let cases = &cov[id];
        let mut cell: Vec<String> = cases.iter().take(SHOWN).cloned().collect();
        if cases.len() > SHOWN {
            cell.push(format!("… ({} cases)", cases.len()));
        }
        let cell = if cases.is_empty() {
            "**GAP**".to_string()
        } else {
            cell.join(", ")
        };
        let rust: Vec<String> = item.rust.iter().map(|r| format!("`{r}`")).collect();
        let _ = writeln!(
            t,
            "| {} | `{}` | {} | {cell} |",
            item.kind.label(),
            item.web.replace('|', "\\|"),
            rust.join(", ")
        );
    }
    let _ = writeln!(
        t,
        "\nNot inventoried (not Web Audio surface, or not observable offline):\n"
    );
    let _ = writeln!(t, "| Rust item | why |");
    let _ = writeln!(t, "|---|---|");
    for (rust, why) in &inv.excluded {
        let _ = writeln!(t, "| `{rust}` | {why} |");
    }
    let _ = writeln!(t, "{MD_END}");
    t
}

/// Replaces the inventory section of the Markdown file `md` (appends it when absent).
///
/// # Errors
/// I/O errors.
pub fn write_section(md: &Path, section: &str) -> Result<(), String> {
    let old = std::fs::read_to_string(md).unwrap_or_default();
    let new = match (old.find(MD_BEGIN), old.find(MD_END)) {
        (Some(b), Some(e)) if e > b => {
            format!(
                "{}{}{}",
                &old[..b],
                section,
                &old[e + MD_END.len()..].trim_start_matches('\n')
            )
        }
        _ if old.is_empty() => section.to_string(),
        _ => format!(
            "{}\n{section}",
            old.trim_end_matches('\n').to_string() + "\n"
        ),
    };
    std::fs::write(md, new).map_err(|e| format!("{}: {e}", md.display()))
}
