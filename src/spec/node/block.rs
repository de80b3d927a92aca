//! The fast path of [`parse`](super::parse): the block-style YAML most probe
//! files are written in (block mappings and sequences, one scalar per line,
//! plain or quoted without escapes), read line by line into the same
//! [`Builder`] granit's events feed. On anything else (flow collections,
//! anchors, tags, block or multi-line scalars, escapes, tabs, document
//! markers, any error) it gives up, and granit reads the document.

use std::borrow::Cow;

use serde_saphyr::granit_parser::ScalarStyle;

use super::{Builder, ItemSink, Node, Pos};

/// Deeper documents are left to granit, which applies the nesting limit.
const MAX_LEVELS: usize = 48;
/// Longer keys are left to granit, which applies YAML's limit on keys.
const MAX_KEY_BYTES: usize = 512;

/// The tree of `source`, or `None` when granit must read it.
pub(super) fn parse<'s>(source: &'s str, sink: Option<&mut dyn ItemSink<'s>>) -> Option<Node<'s>> {
    let mut reader = Reader {
        tree: Builder::new(source, sink),
        levels: Vec::new(),
        pending: None,
    };
    for (index, text) in source.split('\n').enumerate() {
        reader.line(&Line::new(index + 1, text)?)?;
    }
    reader.finish()
}

struct Reader<'s, 'k> {
    tree: Builder<'s, 'k>,
    /// The open collections, innermost last.
    levels: Vec<Level>,
    /// The `:` of a key whose value is not on its line: a collection on the
    /// next lines, or null.
    pending: Option<Pos>,
}

#[derive(Clone, Copy)]
struct Level {
    /// The column (0-based, in bytes: indentation is spaces) of its keys or dashes.
    indent: usize,
    is_map: bool,
}

struct Line<'s> {
    number: usize,
    text: &'s str,
    is_ascii: bool,
}

impl<'s> Line<'s> {
    /// `None` for a line with a character left to granit: a tab, a carriage
    /// return, another control character or a non-printable one.
    fn new(number: usize, text: &'s str) -> Option<Line<'s>> {
        let is_ascii = text.bytes().all(|b| (b' '..=b'~').contains(&b));
        (is_ascii || text.chars().all(is_printable)).then_some(Line {
            number,
            text,
            is_ascii,
        })
    }

    /// The position of byte `at`.
    fn pos(&self, at: usize) -> Pos {
        let column = if self.is_ascii {
            at
        } else {
            self.text[..at].chars().count()
        };
        Pos {
            line: self.number,
            column: column + 1,
        }
    }
}

fn is_printable(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

impl<'s> Reader<'s, '_> {
    fn line(&mut self, line: &Line<'s>) -> Option<()> {
        let indent = line.text.bytes().take_while(|&b| b == b' ').count();
        let rest = &line.text[indent..];
        if rest.is_empty() || rest.starts_with('#') {
            return Some(());
        }
        if indent == 0 && (rest.starts_with("---") || rest.starts_with("...")) {
            return None;
        }
        let is_item = rest.starts_with('-');
        if let Some(colon) = self.pending.take() {
            if indent > self.levels.last()?.indent {
                self.open(!is_item, line, indent)?;
            } else {
                let null = Cow::Borrowed("~");
                self.tree
                    .scalar(null, ScalarStyle::Plain, 0, None, colon)
                    .ok()?;
            }
        } else if self.levels.is_empty() {
            self.open(!is_item, line, indent)?;
        }
        while self.levels.last().is_some_and(|l| l.indent > indent) {
            self.levels.pop();
            self.tree.close().ok()?;
        }
        let level = *self.levels.last()?;
        if level.indent != indent {
            return None;
        }
        if level.is_map {
            self.entry(line, indent, key(rest)?)
        } else {
            self.item(line, indent)
        }
    }

    fn open(&mut self, is_map: bool, line: &Line<'s>, indent: usize) -> Option<()> {
        if self.levels.len() >= MAX_LEVELS {
            return None;
        }
        self.tree.open(is_map, 0, line.pos(indent)).ok()?;
        self.levels.push(Level { indent, is_map });
        Some(())
    }

    /// `- value` or `- key: …`, the dash at `dash`.
    fn item(&mut self, line: &Line<'s>, dash: usize) -> Option<()> {
        let rest = line.text[dash..].strip_prefix("- ")?;
        let at = line.text.len() - rest.trim_start_matches(' ').len();
        let content = &line.text[at..];
        if content.is_empty() || content.starts_with(['#', '-']) {
            return None;
        }
        match key(content) {
            Some(key) => {
                self.open(true, line, at)?;
                self.entry(line, at, key)
            }
            None => self.value(line, at),
        }
    }

    /// `key: value` or `key:`, the key at `at`.
    fn entry(&mut self, line: &Line<'s>, at: usize, key: KeyAt<'s>) -> Option<()> {
        let (name, style, colon) = key;
        self.tree
            .scalar(Cow::Borrowed(name), style, 0, None, line.pos(at))
            .ok()?;
        let colon = at + colon;
        let after = &line.text[colon + 1..];
        let value_at = line.text.len() - after.trim_start_matches(' ').len();
        let value = &line.text[value_at..];
        if value.is_empty() || value.starts_with('#') {
            self.pending = Some(line.pos(colon));
            return Some(());
        }
        self.value(line, value_at)
    }

    /// A scalar that runs to the end of the line (or to a comment).
    fn value(&mut self, line: &Line<'s>, at: usize) -> Option<()> {
        let rest = &line.text[at..];
        let (text, style) = match quoted(rest) {
            Some((text, style, end)) => {
                let tail = &rest[end..];
                let comment = tail.trim_start_matches(' ');
                let ends =
                    comment.is_empty() || (comment.starts_with('#') && comment.len() < tail.len());
                if !ends {
                    return None;
                }
                (text, style)
            }
            None => {
                let (text, None) = plain(rest) else {
                    return None;
                };
                let starts_well = match text.as_bytes() {
                    [b'-', b'0'..=b'9' | b'.', ..] => true,
                    [first, ..] => !is_indicator(*first),
                    [] => false,
                };
                if !starts_well {
                    return None;
                }
                (text, ScalarStyle::Plain)
            }
        };
        self.tree
            .scalar(Cow::Borrowed(text), style, 0, None, line.pos(at))
            .ok()
    }

    fn finish(mut self) -> Option<Node<'s>> {
        if self.levels.is_empty() {
            return None;
        }
        if let Some(colon) = self.pending.take() {
            let null = Cow::Borrowed("~");
            self.tree
                .scalar(null, ScalarStyle::Plain, 0, None, colon)
                .ok()?;
        }
        while self.levels.pop().is_some() {
            self.tree.close().ok()?;
        }
        Some(self.tree.finish())
    }
}

/// A key, its style, and the byte offset of the `:` after it.
type KeyAt<'t> = (&'t str, ScalarStyle, usize);

/// The key at the start of `text`, if a `:` follows it, then a space or the
/// end of the line.
fn key(text: &str) -> Option<KeyAt<'_>> {
    let (name, style, colon) = match quoted(text) {
        Some((name, style, end)) => (name, style, end),
        None => {
            let (name, Some(colon)) = plain(text) else {
                return None;
            };
            if name.is_empty() || is_indicator(name.as_bytes()[0]) {
                return None;
            }
            (name, ScalarStyle::Plain, colon)
        }
    };
    let after = text.as_bytes().get(colon + 1);
    let separated = text.as_bytes().get(colon) == Some(&b':') && matches!(after, None | Some(b' '));
    (separated && colon <= MAX_KEY_BYTES).then_some((name, style, colon))
}

/// The plain scalar at the start of `text`, without trailing spaces: it ends
/// at a comment (` #`), at the end of the line, or at a `:` followed by a
/// space or the end of the line, whose offset comes with it.
fn plain(text: &str) -> (&str, Option<usize>) {
    let bytes = text.as_bytes();
    let trimmed = |end: usize| text[..end].trim_end_matches(' ');
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'#' if i > 0 && bytes[i - 1] == b' ' => return (trimmed(i), None),
            b':' if matches!(bytes.get(i + 1), None | Some(b' ')) => return (trimmed(i), Some(i)),
            _ => {}
        }
    }
    (trimmed(bytes.len()), None)
}

/// A quoted scalar without escapes at the start of `text`, and the byte
/// offset after its closing quote.
fn quoted(text: &str) -> Option<(&str, ScalarStyle, usize)> {
    let (quote, style) = match text.as_bytes().first()? {
        b'"' => ('"', ScalarStyle::DoubleQuoted),
        b'\'' => ('\'', ScalarStyle::SingleQuoted),
        _ => return None,
    };
    let end = 1 + text[1..].find(quote)? + 1;
    let inner = &text[1..end - 1];
    let escaped = match quote {
        '"' => inner.contains('\\'),
        _ => text[end..].starts_with('\''),
    };
    (!escaped).then_some((inner, style, end))
}

/// Characters that cannot start a plain scalar (or start one only in cases
/// the fast path leaves to granit).
fn is_indicator(byte: u8) -> bool {
    b"-?:,[]{}#&*!|>'\"%@`".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::node::parse_events;

    /// The fast path's tree, which must be granit's.
    fn fast(source: &str) -> Node<'_> {
        let node = parse(source, None).expect("in the subset");
        assert_eq!(Ok(&node), parse_events(source, None).as_ref(), "{source:?}");
        node
    }

    #[test]
    fn reads_the_common_subset_as_granit_does() {
        for source in [
            "a: 1\nb: x y\nc: \"q\"\nd: 'r'\ne:\nf: ~\n",
            "version: 1\nitems:\n  - item: \"probe 0\"\n    probes:\n      - http:\n          get: /api/items\n          expect:\n            status: 200\n            json:\n              $.count: 2\n",
            "- a\n- b: 1\n  c: 2\n-   d: 3\n    e:\n      - f\n",
            "a:\n  b:\n    c:\n      d: 1\n  e: 2\nf: 3",
            "a: x # c\nb: 'y'  # c\nc: \"z\" #c\n# c\n   # c\n\nd: u#v\ne: # c\n",
            "é: ü\nkey ü: \"日本\"\n",
            "$.items[0].name: x\n\"a: b\": c\n'#': d\nurl: http://h/p#f\nk: a:b\n",
            "n: -7\nf: -.5\nh: 0x1F\nb: true\nt: 2026-11-01\ns: a,b]{}\n",
            "<<:\n  a: 1\nb: 2\n",
            "a:\n  - x\nb:\n    - y\n    - z\nc: 1",
        ] {
            fast(source);
        }
        let node = fast("top:\n  list:\n    - 'q'\n  é: ü\n  k:\n");
        let top = &node.as_map().expect("map")[0].1;
        assert_eq!(top.pos, Pos { line: 2, column: 3 });
        let entries = top.as_map().expect("map");
        assert_eq!(entries[1].1.pos, Pos { line: 4, column: 6 });
        assert_eq!(entries[2].1.pos, Pos { line: 5, column: 4 });
    }

    #[test]
    fn leaves_everything_else_to_granit() {
        for source in [
            "",
            "# only a comment\n",
            "scalar\n",
            "---\na: 1\n",
            "a: 1\n...\n",
            "%YAML 1.2\n---\na: 1\n",
            "\u{feff}a: 1\n",
            "a: 1\r\nb: 2\r\n",
            "a:\tb\n",
            "a: [1, 2]\n",
            "a: {b: 1}\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "a: \"esc\\n\"\n",
            "a: 'it''s'\n",
            "a: \"two\n  lines\"\n",
            "a: two\n  lines\n",
            "- two\n  lines\n",
            "a:\n- indentless\n",
            "-\n  a: 1\n",
            "- - nested\n",
            "? complex\n: key\n",
            "a: b: c\n",
            "a: 1\na: 2\n",
            "a: 1\n b: 2\n",
            "  a: 1\nb: 2\n",
            "a: \u{85}\n",
            "a: -\n",
            "a: @x\n",
            "a: `x\n",
        ] {
            assert!(parse(source, None).is_none(), "{source:?}");
        }
        let long = format!("{}: 1\n", "k".repeat(MAX_KEY_BYTES + 1));
        assert!(parse(&long, None).is_none());
        let deep: String = (0..=MAX_LEVELS)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect();
        assert!(parse(&deep, None).is_none());
    }

    /// Documents near the subset, mostly in it, some just outside: whatever
    /// the fast path reads, granit must read the same.
    #[test]
    fn agrees_with_granit_on_generated_documents() {
        let mut documents = Generator(0x9E37_79B9_7F4A_7C15);
        let mut read = 0;
        for _ in 0..30_000 {
            let source = documents.document();
            if let Some(node) = parse(&source, None) {
                read += 1;
                assert_eq!(Ok(node), parse_events(&source, None), "{source:?}");
            }
        }
        assert!(read > 3_000, "only {read} documents in the subset");
    }

    const KEYS: &[&str] = &[
        "a",
        "item",
        "$.a[0].b",
        "<<",
        "~",
        "200",
        "true",
        "é",
        "a b",
        "a#b",
        "\"q\"",
        "'s'",
        "a:b",
        "日本",
        "a,b",
        "a #b",
        "-a",
        "?a",
        ":a",
        "'it''s'",
        "\"e\\\"\"",
        "\"x",
        "key  ",
        "[x]",
        "{y: 1}",
        "&a k",
        "*a",
        "!t k",
        "a\u{a0}",
        "a\u{85}b",
        "%x",
        "@x",
        "...",
        "a\tb",
        "x\r",
        "\"a:b\"",
        "''",
    ];
    const VALUES: &[&str] = &[
        "x",
        "1",
        "-7",
        "-.5",
        "\"a b\"",
        "'x'",
        "a:b",
        "x #c",
        "x#c",
        "~",
        "1e3",
        ".inf",
        "yes",
        "a,b",
        "http://x/#f",
        "\"\"",
        "''",
        "a - b",
        "[a]b",
        "é ü",
        "-",
        "- x",
        "a: b",
        "#c",
        "[1]",
        "{a: 1}",
        "&a x",
        "*a",
        "!!str 1",
        "|",
        ">",
        "...",
        "---",
        "%x",
        "@x",
        "x   ",
        "\"unterminated",
        "'un",
        "\"a\" x",
        "\"a\"#c",
        "\"a\" #c",
        "x: ",
        "? x",
        ":x",
        "- - x",
        "x:",
        "'a''b'",
        "\"a\\nb\"",
        "-x",
        "\u{feff}",
        "\u{85}",
        "' '",
        "'a'b'",
    ];

    /// A small xorshift generator of documents (no dependency, same every run).
    struct Generator(u64);

    impl Generator {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        /// Mostly the first `common` entries of `pool`.
        fn pick(&mut self, pool: &[&'static str], common: usize) -> &'static str {
            if self.below(10) == 0 {
                pool[self.below(pool.len())]
            } else {
                pool[self.below(common)]
            }
        }

        fn key(&mut self) -> String {
            let key = self.pick(KEYS, 16);
            if self.below(8) > 0 && !key.starts_with(['"', '\'']) {
                format!("{key}{}", self.below(1000))
            } else {
                key.to_owned()
            }
        }

        fn document(&mut self) -> String {
            let mut lines = Vec::new();
            if self.below(2) == 0 {
                let indent = self.below(2) * 2;
                self.map(&mut lines, indent, 0);
            } else {
                self.seq(&mut lines, 0, 0);
            }
            for _ in 0..[0, 0, 0, 1, 2][self.below(5)] {
                self.mutate(&mut lines);
            }
            let mut source = lines.join("\n");
            if self.below(4) > 0 {
                source.push('\n');
            }
            source
        }

        fn map(&mut self, lines: &mut Vec<String>, indent: usize, depth: usize) {
            for _ in 0..=self.below(4) {
                let key = self.key();
                self.entry(lines, " ".repeat(indent), &key, indent, depth);
            }
        }

        fn entry(
            &mut self,
            lines: &mut Vec<String>,
            prefix: String,
            key: &str,
            indent: usize,
            depth: usize,
        ) {
            match self.below(if depth > 4 { 3 } else { 6 }) {
                0 | 1 => {
                    let value = self.pick(VALUES, 20);
                    lines.push(format!("{prefix}{key}: {value}"));
                }
                2 => {
                    let rest = ["", " ", "   # c", " #c"][self.below(4)];
                    lines.push(format!("{prefix}{key}:{rest}"));
                }
                _ => {
                    let rest = ["", "", " # c", "  "][self.below(4)];
                    lines.push(format!("{prefix}{key}:{rest}"));
                    let step = [0, 1, 2, 2, 2, 2, 3, 4][self.below(8)];
                    if self.below(2) == 0 {
                        self.map(lines, indent + step.max(1), depth + 1);
                    } else {
                        self.seq(lines, indent + step, depth + 1);
                    }
                }
            }
        }

        fn seq(&mut self, lines: &mut Vec<String>, indent: usize, depth: usize) {
            for _ in 0..=self.below(4) {
                let pad = " ".repeat(indent);
                match self.below(if depth > 4 { 4 } else { 12 }) {
                    0..=3 => {
                        let value = self.pick(VALUES, 20);
                        lines.push(format!("{pad}- {value}"));
                    }
                    4..=8 => {
                        let gap = [" ", " ", " ", "  ", "   "][self.below(5)];
                        let inner = indent + 1 + gap.len();
                        let key = self.key();
                        self.entry(lines, format!("{pad}-{gap}"), &key, inner, depth + 1);
                        if self.below(3) > 0 {
                            self.map(lines, inner, depth + 1);
                        }
                    }
                    9 => {
                        lines.push(format!("{pad}-"));
                        self.map(lines, indent + 2, depth + 1);
                    }
                    10 => lines.push(format!("{pad}- - x")),
                    _ => lines.push(format!("{pad}-")),
                }
            }
        }

        /// Re-indents, inserts a character, swaps, copies, drops or adds a line.
        fn mutate(&mut self, lines: &mut Vec<String>) {
            let i = self.below(lines.len());
            match self.below(7) {
                0 => lines[i].insert(0, ' '),
                1 => {
                    if lines[i].starts_with(' ') {
                        lines[i].remove(0);
                    }
                }
                2 => {
                    let text = [
                        "#", ":", " ", "\"", "'", "-", "\t", "{", "&", "é", "\r", ": ", " #", "\\",
                    ][self.below(14)];
                    let cuts: Vec<usize> = lines[i].char_indices().map(|(at, _)| at).collect();
                    let at = cuts
                        .get(self.below(cuts.len() + 1))
                        .copied()
                        .unwrap_or(lines[i].len());
                    lines[i].insert_str(at, text);
                }
                3 => {
                    let j = self.below(lines.len());
                    lines.swap(i, j);
                }
                4 => {
                    let copy = lines[i].clone();
                    lines.insert(i, copy);
                }
                5 => {
                    lines.remove(i);
                    if lines.is_empty() {
                        lines.push(String::new());
                    }
                }
                _ => {
                    let line =
                        ["", "# c", "   # c", "---", "...", "  ", "\t", "  x"][self.below(8)];
                    lines.insert(i, line.to_owned());
                }
            }
        }
    }
}
