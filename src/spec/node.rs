//! A YAML document as a tree of nodes that remember where they were written,
//! so every later error can name `file:line:column`. Built in one pass over
//! granit-parser events, with depth, size and alias expansion bounded; plain
//! block-style documents take a faster path to the same tree (`node/block.rs`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use serde_saphyr::granit_parser::{
    ErrorKind, Event, Marker, Options, Parser, ScalarStyle, ScanError, Span, Tag,
};

mod block;

/// Deepest nesting of collections accepted, aliases expanded.
const MAX_DEPTH: usize = 64;
/// Most nodes (keys included) aliases may add to a document. What is written
/// out is bounded by the file itself; only expansion can multiply it.
const MAX_COPIED_NODES: usize = 1_000_000;
/// Most scalar text, in bytes, aliases may add to a document.
const MAX_COPIED_BYTES: usize = 64 << 20;
/// Mappings smaller than this look for duplicate keys by scanning.
const SCANNED_KEYS: usize = 16;
/// The name given to a key that is a sequence or a mapping.
const COMPLEX_KEY: &str = "<complex key>";

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML node and where it starts. Its text borrows from the source
/// where it is written as it reads (no escapes, folding or interpolation).
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'s> {
    /// Where the node starts.
    pub pos: Pos,
    /// What the node holds.
    pub value: Value<'s>,
}

/// The shapes a node can take.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'s> {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string scalar.
    Str(Cow<'s, str>),
    /// A sequence.
    Seq(Vec<Node<'s>>),
    /// A mapping, in source order.
    Map(Vec<(Key<'s>, Node<'s>)>),
}

/// A mapping key and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key<'s> {
    /// The key's text (non-string keys are turned into text).
    pub name: Cow<'s, str>,
    /// Where the key starts.
    pub pos: Pos,
}

impl<'s> Node<'s> {
    /// A short name of the node's shape, for "expected X, found Y" messages.
    pub fn shape(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The entries of a mapping node, or `None`.
    pub fn as_map(&self) -> Option<&[(Key<'s>, Node<'s>)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The text of a string scalar, or `None`.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Turns the node into JSON, dropping positions.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.to_string()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Why a probe file is not a YAML document we accept.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// What is wrong, lowercase, without the "invalid YAML" prefix.
    pub message: String,
    /// Where the problem was found.
    pub pos: Pos,
}

impl ParseError {
    fn new(pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            pos,
        }
    }

    fn too_deep(pos: Pos) -> ParseError {
        ParseError::new(pos, format!("nesting deeper than {MAX_DEPTH} levels"))
    }

    fn from_scan(source: &str, error: &ScanError) -> ParseError {
        let marker = *error.marker();
        let message = match error.kind() {
            ErrorKind::RecursionLimitExceeded => {
                return ParseError::too_deep(pos_of(marker));
            }
            ErrorKind::UnknownAnchor => match alias_at(source, marker) {
                Some(alias) => format!("unknown anchor in alias `{alias}`"),
                None => error.info(),
            },
            _ => error.info(),
        };
        ParseError::new(pos_of(marker), message)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses the first YAML document of `source` into a node tree.
///
/// Plain scalars resolve by the YAML 1.2 core schema (`on` and `yes` stay
/// strings); aliases and `<<` merge keys are expanded. Hostile input fails
/// fast: nesting is capped at 64 levels, and the expanded document at a
/// million nodes and 64 MiB of scalar text.
pub fn parse(source: &str) -> Result<Node<'_>, ParseError> {
    match block::parse(source, None) {
        Some(node) => Ok(node),
        None => parse_events(source, None),
    }
}

/// Takes the entries of the root mapping's `items:` sequence as each is
/// complete, so that a large file is never held as one tree.
pub trait ItemSink<'s> {
    /// One entry of `items:` (aliases expanded). `top` holds the root
    /// mapping's entries written before `items:`, complete.
    fn item(&mut self, top: &mut [(Key<'s>, Node<'s>)], item: Node<'s>);
    /// Parsing starts over from the top (the fast path gave up): forget
    /// every item taken so far.
    fn restart(&mut self);
}

/// [`parse`], handing each entry of the root's `items:` sequence to `sink`
/// instead of keeping it: that sequence comes back empty.
pub fn parse_items<'s>(
    source: &'s str,
    sink: &mut dyn ItemSink<'s>,
) -> Result<Node<'s>, ParseError> {
    match block::parse(source, Some(&mut *sink)) {
        Some(node) => Ok(node),
        None => {
            sink.restart();
            parse_events(source, Some(sink))
        }
    }
}

/// Parses with granit's events: every document the fast path leaves.
fn parse_events<'s>(
    source: &'s str,
    sink: Option<&mut dyn ItemSink<'s>>,
) -> Result<Node<'s>, ParseError> {
    let mut options = Options::default();
    options.flow_nesting_limit = MAX_DEPTH;
    options.block_nesting_limit = MAX_DEPTH;
    options.set_emit_comments(false);
    let mut parser = Parser::new_from_str_with_options(source, options);
    let mut tree = Builder::new(source, sink);
    let mut documents = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| ParseError::from_scan(source, &e))?;
        let pos = pos_of(span.start);
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(ParseError::new(
                        pos,
                        "expected one YAML document, found several",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                tree.scalar(text, style, anchor, tag.as_deref(), pos)?;
            }
            Event::SequenceStart(_, anchor, _) => tree.open(false, anchor, pos)?,
            Event::MappingStart(_, anchor, _) => tree.open(true, anchor, pos)?,
            Event::SequenceEnd | Event::MappingEnd => tree.close()?,
            Event::Alias(anchor) => tree.alias(anchor, &span, pos)?,
            // Stream and document boundaries; comments and anchor names are
            // presentation, and unresolved aliases are not enabled.
            _ => {}
        }
    }
    Ok(tree.finish())
}

/// granit counts lines from 1 and columns (in characters) from 0.
fn pos_of(marker: Marker) -> Pos {
    Pos {
        line: marker.line().max(1),
        column: marker.col() + 1,
    }
}

/// The `*name` token starting at `marker`, for messages.
fn alias_at(source: &str, marker: Marker) -> Option<&str> {
    let rest = source.get(marker.byte_offset()?..)?;
    let end = rest
        .find(|c: char| c.is_whitespace() || ",[]{}".contains(c))
        .unwrap_or(rest.len());
    let alias = &rest[..end];
    (alias.len() > 1 && alias.starts_with('*')).then_some(alias)
}

/// Builds the tree from events. Children of open collections wait on two
/// shared stacks and move into an exactly sized `Vec` when their collection
/// closes. An anchored collection is kept once in `anchors` and referred to
/// by placeholders until [`Builder::finish`], so an alias bomb is rejected by
/// arithmetic before anything is copied.
struct Builder<'s, 'k> {
    source: &'s str,
    /// Takes the entries of the root's `items:` instead of the tree.
    sink: Option<&'k mut dyn ItemSink<'s>>,
    frames: Vec<Frame<'s>>,
    items: Vec<Node<'s>>,
    entries: Vec<(Key<'s>, Node<'s>)>,
    anchors: HashMap<usize, Anchored<'s>>,
    /// Placeholder `i` (a null node at line 0, column `i`) stands for a copy
    /// of anchor `refs[i].0` written at `refs[i].1`.
    refs: Vec<(usize, Pos)>,
    /// Nodes and scalar bytes so far, copies included.
    nodes: usize,
    scalar_bytes: usize,
    /// What alias copies added.
    copied_nodes: usize,
    copied_bytes: usize,
    hasher: RandomState,
    root: Option<Node<'s>>,
}

/// An open collection.
struct Frame<'s> {
    pos: Pos,
    anchor: usize,
    /// Where its children start on `items` or `entries`.
    start: usize,
    nodes_before: usize,
    bytes_before: usize,
    /// Nesting levels of its tallest child so far.
    height: usize,
    /// `None` for a sequence.
    map: Option<MapState<'s>>,
}

#[derive(Default)]
struct MapState<'s> {
    /// The key waiting for its value.
    key: Option<Key<'s>>,
    /// The waiting key is `<<`.
    merging: bool,
    /// Values of `<<`, merged when the mapping closes.
    merges: Vec<Node<'s>>,
    /// Where merged entries go: where `<<` was written.
    merge_at: Option<usize>,
    /// Hashes of the first `hashed` key names, once the mapping is large.
    hashes: HashSet<u64>,
    hashed: usize,
}

/// An anchored node and what a copy of it costs.
struct Anchored<'s> {
    /// May hold placeholders.
    node: Node<'s>,
    /// A scalar's text as written, should an alias use it as a key.
    text: Option<Cow<'s, str>>,
    nodes: usize,
    bytes: usize,
    height: usize,
}

impl<'s, 'k> Builder<'s, 'k> {
    fn new(source: &'s str, sink: Option<&'k mut dyn ItemSink<'s>>) -> Builder<'s, 'k> {
        Builder {
            source,
            sink,
            frames: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            anchors: HashMap::new(),
            refs: Vec::new(),
            nodes: 0,
            scalar_bytes: 0,
            copied_nodes: 0,
            copied_bytes: 0,
            hasher: RandomState::new(),
            root: None,
        }
    }

    /// Counts nodes written out (an anchor's size is what was counted
    /// while it was open).
    fn count(&mut self, nodes: usize, bytes: usize) {
        self.nodes = self.nodes.saturating_add(nodes);
        self.scalar_bytes = self.scalar_bytes.saturating_add(bytes);
    }

    /// Counts the copy an alias makes, within the bounds on expansion.
    fn copy(&mut self, nodes: usize, bytes: usize, pos: Pos) -> Result<(), ParseError> {
        self.count(nodes, bytes);
        self.copied_nodes = self.copied_nodes.saturating_add(nodes);
        self.copied_bytes = self.copied_bytes.saturating_add(bytes);
        if self.copied_nodes > MAX_COPIED_NODES {
            return Err(ParseError::new(
                pos,
                format!("document too large: aliases expand to more than {MAX_COPIED_NODES} nodes"),
            ));
        }
        if self.copied_bytes > MAX_COPIED_BYTES {
            return Err(ParseError::new(
                pos,
                format!(
                    "document too large: aliases expand to more than {} MiB of text",
                    MAX_COPIED_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }

    fn expects_key(&self) -> bool {
        self.frames
            .last()
            .and_then(|frame| frame.map.as_ref())
            .is_some_and(|map| map.key.is_none())
    }

    fn open(&mut self, is_map: bool, anchor: usize, pos: Pos) -> Result<(), ParseError> {
        if self.frames.len() >= MAX_DEPTH {
            return Err(ParseError::too_deep(pos));
        }
        let (nodes_before, bytes_before) = (self.nodes, self.scalar_bytes);
        self.count(1, 0);
        self.frames.push(Frame {
            pos,
            anchor,
            start: if is_map {
                self.entries.len()
            } else {
                self.items.len()
            },
            nodes_before,
            bytes_before,
            height: 0,
            map: is_map.then(MapState::default),
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        let value = match frame.map {
            None => Value::Seq(self.items.split_off(frame.start)),
            Some(map) => {
                let mut entries = self.entries.split_off(frame.start);
                if let Some(at) = map.merge_at {
                    self.merge(&mut entries, at, map.merges)?;
                }
                Value::Map(entries)
            }
        };
        let node = Node {
            pos: frame.pos,
            value,
        };
        let height = frame.height + 1;
        let node = if frame.anchor == 0 {
            node
        } else {
            let anchored = Anchored {
                node,
                text: None,
                nodes: self.nodes.saturating_sub(frame.nodes_before),
                bytes: self.scalar_bytes.saturating_sub(frame.bytes_before),
                height,
            };
            self.anchors.insert(frame.anchor, anchored);
            self.placeholder(frame.anchor, frame.pos)
        };
        self.place(node, frame.pos, height)
    }

    fn scalar(
        &mut self,
        text: Cow<'s, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> Result<(), ParseError> {
        self.count(1, text.len());
        if self.expects_key() {
            let is_merge = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
            if anchor != 0 {
                let value = scalar_value(text.clone(), style, tag)
                    .map_err(|message| ParseError::new(pos, message))?;
                self.anchor_scalar(anchor, Node { pos, value }, text.clone());
            }
            return self.key(Key { name: text, pos }, is_merge);
        }
        let written = (anchor != 0).then(|| text.clone());
        let value =
            scalar_value(text, style, tag).map_err(|message| ParseError::new(pos, message))?;
        let node = Node { pos, value };
        if let Some(written) = written {
            self.anchor_scalar(anchor, node.clone(), written);
        }
        self.place(node, pos, 0)
    }

    fn anchor_scalar(&mut self, anchor: usize, node: Node<'s>, text: Cow<'s, str>) {
        let anchored = Anchored {
            node,
            nodes: 1,
            bytes: text.len(),
            text: Some(text),
            height: 0,
        };
        self.anchors.insert(anchor, anchored);
    }

    fn alias(&mut self, anchor: usize, span: &Span, pos: Pos) -> Result<(), ParseError> {
        let Some(anchored) = self.anchors.get(&anchor) else {
            // granit resolves an alias to the innermost anchor of that name,
            // which we only store once its node is complete.
            let alias = span.slice(self.source).unwrap_or("*");
            return Err(ParseError::new(
                pos,
                format!("alias `{alias}` refers to a node that contains it"),
            ));
        };
        let (nodes, bytes, height) = (anchored.nodes, anchored.bytes, anchored.height);
        if self.frames.len() + height > MAX_DEPTH {
            return Err(ParseError::too_deep(pos));
        }
        if self.expects_key() {
            let name = anchored.text.clone().unwrap_or(Cow::Borrowed(COMPLEX_KEY));
            self.copy(nodes, bytes, pos)?;
            return self.key(Key { name, pos }, false);
        }
        let node = if height == 0 {
            Node {
                pos,
                value: anchored.node.value.clone(),
            }
        } else {
            self.placeholder(anchor, pos)
        };
        self.copy(nodes, bytes, pos)?;
        self.place(node, pos, height)
    }

    fn placeholder(&mut self, anchor: usize, pos: Pos) -> Node<'s> {
        self.refs.push((anchor, pos));
        Node {
            pos: Pos {
                line: 0,
                column: self.refs.len() - 1,
            },
            value: Value::Null,
        }
    }

    /// Puts a complete node where the innermost open collection expects one.
    fn place(&mut self, node: Node<'s>, pos: Pos, height: usize) -> Result<(), ParseError> {
        if self.sink.is_some() && self.is_top_items() {
            self.stream(node);
            return Ok(());
        }
        let Some(frame) = self.frames.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        frame.height = frame.height.max(height);
        let Some(map) = &mut frame.map else {
            self.items.push(node);
            return Ok(());
        };
        match map.key.take() {
            Some(_) if map.merging => {
                map.merging = false;
                map.merge_at = Some(self.entries.len().saturating_sub(frame.start));
                map.merges.push(node);
            }
            Some(key) => self.entries.push((key, node)),
            None => {
                let key = Key {
                    name: Cow::Borrowed(COMPLEX_KEY),
                    pos,
                };
                return self.key(key, false);
            }
        }
        Ok(())
    }

    /// Whether the innermost open collection is the root mapping's
    /// `items:` sequence (not anchored: an alias could copy it), with no
    /// `<<` before it (its entries join the root only when it closes).
    fn is_top_items(&self) -> bool {
        let [root, items] = self.frames.as_slice() else {
            return false;
        };
        items.map.is_none()
            && items.anchor == 0
            && root.map.as_ref().is_some_and(|map| {
                !map.merging
                    && map.merge_at.is_none()
                    && map.key.as_ref().is_some_and(|key| key.name == "items")
            })
    }

    /// Hands an entry of the root's `items:` to the sink, with the root's
    /// entries so far; both without placeholders.
    fn stream(&mut self, mut node: Node<'s>) {
        let start = self.frames[0].start;
        let mut top = self.entries.split_off(start);
        if !self.refs.is_empty() {
            self.materialize(&mut node);
            for (_, value) in &mut top {
                self.materialize(value);
            }
        }
        if let Some(sink) = self.sink.as_mut() {
            sink.item(&mut top, node);
        }
        self.entries.append(&mut top);
    }

    /// Makes `key` the key waiting for its value, unless it is a duplicate.
    fn key(&mut self, key: Key<'s>, is_merge: bool) -> Result<(), ParseError> {
        let Some(frame) = self.frames.last_mut() else {
            return Ok(());
        };
        let Some(map) = &mut frame.map else {
            return Ok(());
        };
        let own = self.entries.get(frame.start..).unwrap_or_default();
        let duplicate = if is_merge {
            map.merge_at.is_some()
        } else if key.name == COMPLEX_KEY {
            false
        } else if own.len() < SCANNED_KEYS {
            own.iter().any(|(k, _)| k.name == key.name)
        } else {
            for (k, _) in own.get(map.hashed..).unwrap_or_default() {
                map.hashes.insert(self.hasher.hash_one(&*k.name));
            }
            map.hashed = own.len();
            map.hashes.contains(&self.hasher.hash_one(&*key.name))
                && own.iter().any(|(k, _)| k.name == key.name)
        };
        if duplicate {
            return Err(ParseError::new(
                key.pos,
                format!("duplicate key `{}`", key.name),
            ));
        }
        map.key = Some(key);
        map.merging = is_merge;
        Ok(())
    }

    /// Adds the entries of the `<<` values not written explicitly; of two
    /// merged mappings the earlier wins.
    fn merge(
        &self,
        own: &mut Vec<(Key<'s>, Node<'s>)>,
        at: usize,
        sources: Vec<Node<'s>>,
    ) -> Result<(), ParseError> {
        let mut names: HashSet<Cow<'s, str>> = own.iter().map(|(k, _)| k.name.clone()).collect();
        let mut merged = Vec::new();
        let mut take = |entries: Vec<(Key<'s>, Node<'s>)>| {
            for (key, value) in entries {
                if names.insert(key.name.clone()) {
                    merged.push((key, value));
                }
            }
        };
        for source in sources {
            let source = self.resolved(source);
            match source.value {
                Value::Map(entries) => take(entries),
                Value::Seq(items) => {
                    for item in items {
                        let item = self.resolved(item);
                        let Value::Map(entries) = item.value else {
                            return Err(not_mergeable(item.pos));
                        };
                        take(entries);
                    }
                }
                _ => return Err(not_mergeable(source.pos)),
            }
        }
        let at = at.min(own.len());
        own.splice(at..at, merged);
        Ok(())
    }

    /// A placeholder's anchored node (one level deep), or the node itself.
    fn resolved(&self, node: Node<'s>) -> Node<'s> {
        match self.reference(&node) {
            Some((anchored, pos)) => Node {
                pos,
                value: anchored.node.value.clone(),
            },
            None => node,
        }
    }

    fn reference(&self, node: &Node<'s>) -> Option<(&Anchored<'s>, Pos)> {
        if node.pos.line != 0 {
            return None;
        }
        let (anchor, pos) = *self.refs.get(node.pos.column)?;
        Some((self.anchors.get(&anchor)?, pos))
    }

    fn finish(mut self) -> Node<'s> {
        let mut root = self.root.take().unwrap_or(Node {
            pos: Pos { line: 1, column: 1 },
            value: Value::Null,
        });
        if !self.refs.is_empty() {
            self.materialize(&mut root);
        }
        root
    }

    /// Replaces every placeholder in `node` by a copy of its anchored node.
    fn materialize(&self, node: &mut Node<'s>) {
        if let Some(copy) = self.expanded_reference(node) {
            *node = copy;
            return;
        }
        match &mut node.value {
            Value::Seq(items) => items.iter_mut().for_each(|item| self.materialize(item)),
            Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| self.materialize(v)),
            _ => {}
        }
    }

    fn expanded_reference(&self, node: &Node<'s>) -> Option<Node<'s>> {
        let (anchored, pos) = self.reference(node)?;
        let mut copy = self.expanded(&anchored.node);
        copy.pos = pos;
        Some(copy)
    }

    /// A copy of `node` without placeholders. Anchors only refer to earlier,
    /// complete anchors, and depth was checked, so this terminates shallowly.
    fn expanded(&self, node: &Node<'s>) -> Node<'s> {
        if let Some(copy) = self.expanded_reference(node) {
            return copy;
        }
        let value = match &node.value {
            Value::Seq(items) => Value::Seq(items.iter().map(|n| self.expanded(n)).collect()),
            Value::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), self.expanded(v)))
                    .collect(),
            ),
            other => other.clone(),
        };
        Node {
            pos: node.pos,
            value,
        }
    }
}

fn not_mergeable(pos: Pos) -> ParseError {
    ParseError::new(
        pos,
        "merge key `<<` expects a mapping or a list of mappings",
    )
}

/// Resolves a scalar: an explicit core tag decides, quoted and block
/// scalars (and `! x`) are strings, plain ones follow the YAML 1.2 core schema.
fn scalar_value<'s>(
    text: Cow<'s, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<Value<'s>, String> {
    let invalid = |kind: &str, text: &str| format!("invalid `!!{kind}` value `{text}`");
    match tag.and_then(Tag::core_suffix) {
        Some("str") => Ok(Value::Str(text)),
        Some("null") => match text.as_ref() {
            "" | "~" | "null" | "Null" | "NULL" => Ok(Value::Null),
            other => Err(invalid("null", other)),
        },
        Some("bool") => parse_bool(&text)
            .map(Value::Bool)
            .ok_or_else(|| invalid("bool", &text)),
        Some("int") => parse_int(&text).ok_or_else(|| invalid("int", &text)),
        Some("float") => parse_float(&text)
            .or_else(|| match parse_int(&text) {
                Some(Value::Int(i)) => Some(i as f64),
                Some(Value::Float(f)) => Some(f),
                _ => None,
            })
            .map(Value::Float)
            .ok_or_else(|| invalid("float", &text)),
        _ if style != ScalarStyle::Plain || tag.is_some_and(is_non_specific) => {
            Ok(Value::Str(text))
        }
        _ => Ok(resolve_plain(text)),
    }
}

/// `! x`: the non-specific tag, which makes a plain scalar a string.
fn is_non_specific(tag: &Tag) -> bool {
    tag.parts() == ("", "!")
}

fn resolve_plain(text: Cow<'_, str>) -> Value<'_> {
    let Some(first) = text.bytes().next() else {
        return Value::Null;
    };
    // Most plain scalars are words: skip the number parsers for them.
    if matches!(
        first,
        b'0'..=b'9' | b'+' | b'-' | b'.' | b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F'
    ) {
        match text.as_ref() {
            "~" | "null" | "Null" | "NULL" => return Value::Null,
            _ => {}
        }
        if let Some(b) = parse_bool(&text) {
            return Value::Bool(b);
        }
        if let Some(number) = parse_int(&text) {
            return number;
        }
        if let Some(f) = parse_float(&text) {
            return Value::Float(f);
        }
    }
    Value::Str(text)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `[-+]?[0-9]+`, `0x[0-9a-fA-F]+` or `0o[0-7]+`; too big for `i64` is a float.
fn parse_int(text: &str) -> Option<Value<'static>> {
    if let Some(hex) = text.strip_prefix("0x") {
        return parse_radix(hex, 16);
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return parse_radix(octal, 8);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match text.parse::<i64>() {
        Ok(i) => Some(Value::Int(i)),
        Err(_) => text.parse::<f64>().ok().map(Value::Float),
    }
}

fn parse_radix(digits: &str, radix: u32) -> Option<Value<'static>> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(match i64::from_str_radix(digits, radix) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::Float(digits.chars().fold(0.0, |acc, c| {
            acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
        })),
    })
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf`, `.nan`.
fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    match unsigned {
        ".inf" | ".Inf" | ".INF" if text.starts_with('-') => return Some(f64::NEG_INFINITY),
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    let mantissa_ok = is_digits(whole)
        && fraction.is_none_or(is_digits)
        && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && is_digits(e)
    });
    if mantissa_ok && exponent_ok {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_positions_of_keys_and_values() {
        let node = parse("a: 1\nb:\n  - x\n  - {c: true}\n").expect("valid yaml");
        let map = node.as_map().expect("map");
        assert_eq!(map[1].0.name, "b");
        assert_eq!(map[1].0.pos, Pos { line: 2, column: 1 });
        let Value::Seq(items) = &map[1].1.value else {
            panic!("seq")
        };
        assert_eq!(items[1].pos.line, 4);
        assert_eq!(items[0].as_str(), Some("x"));
    }

    #[test]
    fn rejects_deep_nesting_quickly() {
        let started = std::time::Instant::now();
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let node = parse("on: yes\n").expect("valid yaml");
        let map = node.as_map().expect("map");
        assert_eq!(map[0].0.name, "on");
        assert_eq!(map[0].1.as_str(), Some("yes"));
    }

    #[test]
    fn converts_to_json() {
        let node = parse("a: [1, 2.5, x, null, true]").expect("valid yaml");
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": [1, 2.5, "x", null, true]})
        );
    }

    fn value(source: &str) -> Value<'_> {
        parse(source).expect("valid yaml").value
    }

    fn error(source: &str) -> ParseError {
        parse(source).expect_err("invalid yaml")
    }

    fn at(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    /// The values of a flow sequence of plain scalars.
    fn scalars(source: &str) -> Vec<Value<'_>> {
        match value(source) {
            Value::Seq(items) => items.into_iter().map(|n| n.value).collect(),
            other => panic!("expected a list, got {other:?}"),
        }
    }

    #[test]
    fn resolves_plain_scalars_by_the_core_schema() {
        use Value::{Bool, Float, Int, Map, Null, Str};
        let s = |t: &'static str| Str(t.into());
        assert_eq!(
            scalars("[null, Null, NULL, ~, true, True, TRUE, false, False, FALSE]"),
            [Null, Null, Null, Null, Bool(true), Bool(true), Bool(true)]
                .into_iter()
                .chain([Bool(false), Bool(false), Bool(false)])
                .collect::<Vec<_>>()
        );
        assert_eq!(
            value("a:\n"),
            Map(vec![(
                Key {
                    name: "a".into(),
                    pos: at(1, 1)
                },
                Node {
                    pos: at(1, 2),
                    value: Null
                }
            )])
        );
        assert_eq!(
            scalars("[yes, no, on, off, y, nULL, tRUE, 'null']"),
            ["yes", "no", "on", "off", "y", "nULL", "tRUE", "null"].map(s)
        );
        assert_eq!(
            scalars("[0, 42, -7, +3, 007, 0x1F, 0o17, 9223372036854775807]"),
            [0, 42, -7, 3, 7, 31, 15, i64::MAX].map(Int)
        );
        assert_eq!(
            scalars("[9223372036854775808, 1.5, -2.5e3, 1e3, .5, 1., +1E-2]"),
            [
                9.223_372_036_854_776e18,
                1.5,
                -2500.0,
                1000.0,
                0.5,
                1.0,
                0.01
            ]
            .map(Float)
        );
        let Float(inf) = value(".inf") else { panic!() };
        let Float(minus_inf) = value("-.Inf") else {
            panic!()
        };
        let Float(nan) = value(".NaN") else { panic!() };
        assert!(inf == f64::INFINITY && minus_inf == f64::NEG_INFINITY && nan.is_nan());
        assert_eq!(
            scalars("[1_000, 0x, 0xG, -0x1, 1.5.3, 2026-11-01, 1e, e3, ., -.nan, 12abc, inf]"),
            [
                "1_000",
                "0x",
                "0xG",
                "-0x1",
                "1.5.3",
                "2026-11-01",
                "1e",
                "e3",
                ".",
                "-.nan",
                "12abc",
                "inf"
            ]
            .map(s)
        );
    }

    #[test]
    fn quoted_and_block_scalars_stay_strings() {
        let node =
            parse("a: \"1\"\nb: 'true'\nc: |\n  12\nd: >-\n  null\ne: \"\"\n").expect("valid");
        let map = node.as_map().expect("map");
        let texts: Vec<_> = map.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            texts,
            [
                Some("1"),
                Some("true"),
                Some("12\n"),
                Some("null"),
                Some("")
            ]
        );
    }

    #[test]
    fn respects_explicit_tags() {
        use Value::{Bool, Float, Int, Null, Str};
        assert_eq!(
            scalars("[!!str 1, !!str true, !!int '12', !!int 0x10, !!float 1, !!float '2.5']"),
            [
                Str("1".into()),
                Str("true".into()),
                Int(12),
                Int(16),
                Float(1.0),
                Float(2.5)
            ]
        );
        assert_eq!(
            scalars("[!!bool \"true\", !!null '', !custom 12, ! 12, !!binary x]"),
            [Bool(true), Null, Int(12), Str("12".into()), Str("x".into())]
        );
        assert!(matches!(value("!!map {a: 1}"), Value::Map(_)));
        let e = error("a: !!int abc\n");
        assert_eq!(
            (e.message.as_str(), e.pos),
            ("invalid `!!int` value `abc`", at(1, 10))
        );
        assert!(parse("!!bool yes").is_err());
        assert!(parse("!!float x").is_err());
    }

    #[test]
    fn keys_keep_their_text_as_written() {
        let node =
            parse("200: a\ntrue: b\n0x10: c\n~: d\n\"q\": e\n1.50: f\n[x]: g\n? {y: 1}\n: h\n")
                .expect("valid");
        let names: Vec<_> = node
            .as_map()
            .expect("map")
            .iter()
            .map(|(k, _)| k.name.as_ref())
            .collect();
        assert_eq!(
            names,
            [
                "200",
                "true",
                "0x10",
                "~",
                "q",
                "1.50",
                COMPLEX_KEY,
                COMPLEX_KEY
            ]
        );
    }

    #[test]
    fn rejects_duplicate_keys_at_the_second() {
        let e = error("a: 1\nb: 2\na: 3\n");
        assert_eq!((e.message.as_str(), e.pos), ("duplicate key `a`", at(3, 1)));
        let e = error("x: {k: 1, \"k\": 2}\n");
        assert_eq!(
            (e.message.as_str(), e.pos),
            ("duplicate key `k`", at(1, 11))
        );
        // Large mappings look keys up by hash.
        let mut big: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        assert!(parse(&big).is_ok());
        big.push_str("k42: again\n");
        let e = error(&big);
        assert_eq!(
            (e.message.as_str(), e.pos),
            ("duplicate key `k42`", at(101, 1))
        );
        // Equal names in different mappings are fine.
        assert!(parse("a: {x: 1}\nb: {x: 2}\n").is_ok());
    }

    #[test]
    fn expands_aliases_at_the_alias() {
        let node = parse("a: &x {k: [1, &s two]}\nb: *x\nc: *s\n").expect("valid");
        let map = node.as_map().expect("map");
        assert_eq!(map[1].1.pos, at(2, 4));
        assert_eq!(map[1].1.to_json(), serde_json::json!({"k": [1, "two"]}));
        assert_eq!(map[0].1.as_map().expect("map")[0].1.pos, at(1, 11));
        assert_eq!(map[1].1.as_map().expect("map")[0].1.pos, at(1, 11));
        assert_eq!((map[2].1.as_str(), map[2].1.pos), (Some("two"), at(3, 4)));
        // An anchor can be redefined; an alias takes the latest.
        let node = parse("- &a 1\n- &a [2]\n- *a\n- &k key: *a\n- {*k : 3}\n").expect("valid");
        assert_eq!(
            node.to_json(),
            serde_json::json!([1, [2], [2], {"key": [2]}, {"key": 3}])
        );
        let e = error("a: &a [1, *a]\n");
        assert_eq!(e.message, "alias `*a` refers to a node that contains it");
        assert_eq!(e.pos, at(1, 11));
        let e = error("a: 1\nb: *undefined\n");
        assert_eq!(
            (e.message.as_str(), e.pos),
            ("unknown anchor in alias `*undefined`", at(2, 4))
        );
    }

    #[test]
    fn merges_mapping_entries_with_explicit_keys_winning() {
        let node = parse(
            "base: &b {x: 1, y: 2}\nmore: &m {y: 20, z: 30}\n\
             one:\n  y: 3\n  <<: *b\n\
             two: {<<: [*m, *b], w: 0}\n\
             three: {<<: {q: 1}}\n\
             quoted: {\"<<\": 1}\n",
        )
        .expect("valid");
        assert_eq!(
            node.to_json(),
            serde_json::json!({
                "base": {"x": 1, "y": 2},
                "more": {"y": 20, "z": 30},
                "one": {"y": 3, "x": 1},
                "two": {"y": 20, "z": 30, "x": 1, "w": 0},
                "three": {"q": 1},
                "quoted": {"<<": 1},
            })
        );
        let one = node.as_map().expect("map")[2].1.as_map().expect("map");
        assert_eq!((one[1].0.name.as_ref(), one[1].0.pos), ("x", at(1, 11)));
        let e = error("a: {<<: 1}\n");
        assert_eq!(
            e.message,
            "merge key `<<` expects a mapping or a list of mappings"
        );
        assert_eq!(e.pos, at(1, 9));
        assert!(parse("a: {<<: [{x: 1}, 2]}\n").is_err());
        assert_eq!(
            error("a: {<<: {x: 1}, <<: {y: 1}}\n").message,
            "duplicate key `<<`"
        );
    }

    #[test]
    fn rejects_billion_laughs_fast() {
        let mut doc = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        for pair in names.windows(2) {
            let refs = vec![format!("*{}", pair[0]); 9].join(",");
            doc.push_str(&format!("{n}: &{n} [{refs}]\n", n = pair[1]));
        }
        let started = std::time::Instant::now();
        let e = error(&doc);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(
            e.message,
            "document too large: aliases expand to more than 1000000 nodes"
        );
        assert_eq!(e.pos.line, 7);
        // Long strings instead of many nodes.
        let long = "x".repeat(1 << 20);
        let doc = format!("a: &a [{long}]\nb: [{}]\n", vec!["*a"; 70].join(", "));
        assert_eq!(
            error(&doc).message,
            "document too large: aliases expand to more than 64 MiB of text"
        );
    }

    #[test]
    fn limits_nesting_to_64_levels() {
        let flow = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let block = |n: usize| format!("{}x\n", "- ".repeat(n));
        let mapping = |n: usize| {
            (0..n)
                .map(|i| format!("{}k:\n", "  ".repeat(i)))
                .collect::<String>()
        };
        for make in [flow, block, mapping] {
            assert!(parse(&make(64)).is_ok());
            assert_eq!(error(&make(65)).message, "nesting deeper than 64 levels");
        }
        // Mixed block and flow, and depth reached through an alias.
        let mixed = format!("{}{}", "- ".repeat(40), flow(25));
        assert_eq!(error(&mixed).message, "nesting deeper than 64 levels");
        let deep = format!(
            "a: &a {}\nb: {}*a{}\n",
            flow(40),
            "[".repeat(30),
            "]".repeat(30)
        );
        let e = error(&deep);
        assert_eq!(
            (e.message.as_str(), e.pos),
            ("nesting deeper than 64 levels", at(2, 34))
        );
    }

    #[test]
    fn rejects_pathological_nesting_without_overflow() {
        let started = std::time::Instant::now();
        for deep in [
            "[".repeat(100_000),
            "{".repeat(100_000),
            "- ".repeat(100_000),
            (0..2_000)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect(),
        ] {
            assert_eq!(error(&deep).message, "nesting deeper than 64 levels");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn reads_only_one_document() {
        let e = error("a: 1\n---\nb: 2\n");
        assert_eq!(
            (e.message.as_str(), e.pos),
            ("expected one YAML document, found several", at(2, 1))
        );
        assert!(parse("a: 1\n...\nb: 2\n").is_err());
        assert!(matches!(value("---\na: 1\n...\n"), Value::Map(_)));
        assert_eq!(value("# just a comment\n---\n"), Value::Null);
    }

    #[test]
    fn empty_input_is_null_at_the_start() {
        for source in ["", "\n\n", "# nothing\n"] {
            assert_eq!(
                parse(source).expect("valid"),
                Node {
                    pos: at(1, 1),
                    value: Value::Null
                }
            );
        }
    }

    #[test]
    fn positions_in_flow_and_block_collections() {
        let node = parse("top:\n  list:\n    - 'q'\n    - {k: [1, x], \"j\": v}\n  é: ü\n")
            .expect("valid");
        assert_eq!(node.pos, at(1, 1));
        let top = &node.as_map().expect("map")[0].1;
        assert_eq!(top.pos, at(2, 3));
        let map = top.as_map().expect("map");
        assert_eq!(map[0].0.pos, at(2, 3));
        let list = &map[0].1;
        assert_eq!(list.pos, at(3, 5));
        let Value::Seq(items) = &list.value else {
            panic!()
        };
        assert_eq!(items[0].pos, at(3, 7));
        assert_eq!(items[1].pos, at(4, 7));
        let flow = items[1].as_map().expect("map");
        assert_eq!((flow[0].0.pos, flow[0].1.pos), (at(4, 8), at(4, 11)));
        let Value::Seq(inner) = &flow[0].1.value else {
            panic!()
        };
        assert_eq!((inner[0].pos, inner[1].pos), (at(4, 12), at(4, 15)));
        assert_eq!((flow[1].0.pos, flow[1].1.pos), (at(4, 19), at(4, 24)));
        // Columns count characters, not bytes.
        assert_eq!((map[1].0.pos, map[1].1.pos), (at(5, 3), at(5, 6)));
    }

    #[test]
    fn handles_crlf_and_a_byte_order_mark() {
        let node = parse("a: 1\r\nb:\r\n  - x\r\n  - \"y\"\r\n").expect("valid");
        assert_eq!(node.to_json(), serde_json::json!({"a": 1, "b": ["x", "y"]}));
        let map = node.as_map().expect("map");
        let Value::Seq(items) = &map[1].1.value else {
            panic!()
        };
        assert_eq!((map[1].0.pos, items[1].pos), (at(2, 1), at(4, 5)));
        let node = parse("\u{feff}a: 1\n").expect("valid");
        assert_eq!(node.as_map().expect("map")[0].0.pos, at(1, 1));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = error("version: 1\nitems: [\n");
        assert_eq!(
            (e.message.as_str(), e.pos),
            ("unclosed bracket '['", at(2, 8))
        );
    }

    #[test]
    fn never_panics_on_nasty_input() {
        for source in [
            "a: \"unterminated\n",
            "a: 'unterminated",
            "\t- a\n",
            "a:\tb\n",
            "a:\n\t- b\n",
            ": :\n",
            "? : :\n",
            "*undefined",
            "&a [*a]",
            "&a {*a : 1}",
            "a: &a\n  b: *a\n",
            "<<: *x",
            "<<: [1]",
            "{<<: }",
            "[<<]",
            "- <<: {a: 1}\n  <<: {b: 1}\n",
            "%YAML 1.2\n---\na",
            "%TAG ! tag:x\n--- !a b",
            "!<tag:yaml.org,2002:int> 0xZZ",
            "!!int",
            "!!float",
            "--- |\n  text\n...\n--- >\n",
            "]",
            "}{",
            "a: b: c",
            "- a\nb: c",
            "&anchor",
            "!!str &a",
            "? [a, b]\n: *a",
            "\u{0}",
            "\u{feff}\u{feff}",
            "'\\u{10FFFF}'",
        ] {
            let _ = parse(source);
        }
    }

    #[test]
    fn a_large_document_written_out_is_no_alias_bomb() {
        // Past the bound on what aliases may add, by both readers: the
        // line-based one (block style) and granit (flow style).
        let n = MAX_COPIED_NODES + 10;
        let block = "- 1\n".repeat(n);
        let flow = format!("[{}1]", "1,".repeat(n - 1));
        for source in [block, flow] {
            match parse(&source).expect("written out, not expanded").value {
                Value::Seq(items) => assert_eq!(items.len(), n),
                other => panic!("not a list: {other:?}"),
            }
        }
    }

    /// What a sink was given.
    #[derive(Default)]
    struct Taken {
        items: Vec<serde_json::Value>,
        /// Each item's `top`, as JSON.
        tops: Vec<serde_json::Value>,
        /// Restarts after items were given.
        restarts: usize,
    }

    impl<'s> ItemSink<'s> for Taken {
        fn item(&mut self, top: &mut [(Key<'s>, Node<'s>)], item: Node<'s>) {
            let top = Node {
                pos: Pos::default(),
                value: Value::Map(top.to_vec()),
            };
            self.tops.push(top.to_json());
            self.items.push(item.to_json());
        }

        fn restart(&mut self) {
            self.restarts += usize::from(!self.items.is_empty());
            self.items.clear();
            self.tops.clear();
        }
    }

    /// The root's `items:` of `node`, taken out (an empty list left).
    fn take_items(node: &mut Node<'_>) -> Vec<serde_json::Value> {
        let Value::Map(entries) = &mut node.value else {
            panic!("not a mapping")
        };
        let (_, items) = entries
            .iter_mut()
            .find(|(k, _)| k.name == "items")
            .expect("items");
        let Value::Seq(list) = &mut items.value else {
            panic!("items is not a list")
        };
        std::mem::take(list).iter().map(Node::to_json).collect()
    }

    #[test]
    fn hands_over_each_root_item_with_the_entries_before_it() {
        let block = "version: 1\nvars:\n  a: 1\nitems:\n  - item: one\n    items:\n      - nested\n  - item: two\nname: after\n";
        // The fast path gives up at the flow mapping of the last item: granit
        // starts over, and the sink with it.
        let late_flow =
            "version: 1\nvars:\n  a: 1\nitems:\n  - item: one\n  - item: two\n  - {item: three}\n";
        // Anchors (granit only): expanded in the items and in `top`.
        let aliased = "version: 1\nvars: &v\n  a: 1\ndefaults: *v\nitems:\n  - item: one\n    with: *v\n  - *v\n";
        for (source, restarts) in [(block, 0), (late_flow, 1), (aliased, 0)] {
            let mut taken = Taken::default();
            let mut streamed = parse_items(source, &mut taken).expect("valid");
            let mut whole = parse(source).expect("valid");
            assert_eq!(taken.items, take_items(&mut whole), "{source}");
            assert!(take_items(&mut streamed).is_empty(), "{source}");
            assert_eq!(streamed, whole, "{source}");
            assert_eq!(taken.restarts, restarts, "{source}");
            // Each item saw the root's entries before `items:`, complete.
            let entries = whole.as_map().expect("map").iter();
            let before = entries.take_while(|(k, _)| k.name != "items").cloned();
            let before = Node {
                pos: Pos::default(),
                value: Value::Map(before.collect()),
            }
            .to_json();
            assert_eq!(taken.tops, vec![before; taken.items.len()], "{source}");
        }
    }

    #[test]
    fn an_anchored_or_nested_items_list_stays_in_the_tree() {
        for source in [
            "items: &all\n  - a\n  - b\ncopy: *all\n",
            "top:\n  items:\n    - a\n",
            "- items:\n    - a\n",
            "base: &b {x: 1}\n<<: {vars: *b}\nitems:\n  - a\n",
        ] {
            let mut taken = Taken::default();
            let streamed = parse_items(source, &mut taken).expect("valid");
            assert!(taken.items.is_empty(), "{source}");
            assert_eq!(streamed, parse(source).expect("valid"), "{source}");
        }
    }

    /// `cargo test --release --lib -- --ignored --nocapture node::`
    #[test]
    #[ignore = "timing; run in release"]
    fn parses_ten_thousand_items_quickly() {
        let mut source =
            String::from("version: 1\nname: bench\ntarget: http://127.0.0.1:1\nitems:\n");
        for i in 0..10_000 {
            source.push_str(&format!(
                "  - item: \"probe {i}\"\n    probes:\n      - http:\n          get: /api/items\n          expect:\n            status: 200\n            json:\n              $.count: 2\n"
            ));
        }
        let mut best = std::time::Duration::MAX;
        for _ in 0..5 {
            let started = std::time::Instant::now();
            let node = parse(&source).expect("valid");
            best = best.min(started.elapsed());
            assert_eq!(node.as_map().map(<[_]>::len), Some(4));
        }
        println!("parsed {} bytes in {best:?}", source.len());
    }
}
