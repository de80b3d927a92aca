//! Probes kept as where their text is. A large probe file's probes are
//! checked at load and then kept as their item's place in the file (24 bytes
//! instead of several hundred): each is read again from the file, still
//! open, with the variables and environment the load saw, when it runs.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use super::node::{self, Node, Pos, Value};
use super::{Head, Loader, Spec, preflight};
use crate::probe::{Budget, KINDS, ProbeSpec};

/// Where a probe kept as text is: its item's text in the file, and its
/// place among the item's probes.
#[derive(Debug, Clone)]
pub(super) struct TextSpec {
    file: Arc<FileText>,
    /// The byte offset of the item's first line (its `- `) and the item's
    /// length in bytes.
    offset: u32,
    len: u32,
    /// A hash of the item's text: a file changed since it was loaded is
    /// an error, never a different probe.
    hash: u32,
    /// The probe's index in the item's `probes:`.
    probe: u16,
    /// [`ProbeSpec::sends_http`], for the run's plan.
    sends_http: bool,
    /// Its kind's index in [`KINDS`], for reports of probes that did not run.
    kind: u8,
}

impl TextSpec {
    /// `spec`, the `probe`th of `item` in `file`, kept as text when it can be
    /// read again from there alone: one exchange, no program.
    pub(super) fn new(
        file: &Arc<FileText>,
        item: ItemText,
        probe: usize,
        spec: &ProbeSpec,
    ) -> Option<TextSpec> {
        if spec.budget() != Budget::SINGLE || spec.runs_programs() {
            return None;
        }
        let kind = KINDS.iter().position(|&k| k == spec.kind())?;
        Some(TextSpec {
            file: Arc::clone(file),
            offset: u32::try_from(item.offset).ok()?,
            len: u32::try_from(item.len).ok()?,
            hash: item.hash,
            probe: u16::try_from(probe).ok()?,
            sends_http: spec.sends_http(),
            kind: u8::try_from(kind).ok()?,
        })
    }

    /// The probe, read again (it was written at `pos`).
    pub(super) fn read(&self, pos: Pos) -> Result<Arc<ProbeSpec>, String> {
        self.file.read(self, pos)
    }

    /// [`ProbeSpec::sends_http`].
    pub(super) fn sends_http(&self) -> bool {
        self.sends_http
    }

    /// [`ProbeSpec::kind`].
    pub(super) fn kind(&self) -> &'static str {
        KINDS
            .get(usize::from(self.kind))
            .copied()
            .unwrap_or("probe")
    }
}

/// Where the probes kept as text are read again from.
pub(super) enum Origin {
    /// The file, open since it was loaded (kept open, it is the same file
    /// even when another is renamed to its path).
    File(std::fs::File),
    /// A text loaded from memory.
    Memory(String),
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(_: &std::fs::File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The hash kept of an item's text.
fn text_hash(text: &[u8]) -> u32 {
    use std::hash::{DefaultHasher, Hasher};
    let mut hasher = DefaultHasher::new();
    hasher.write(text);
    hasher.finish() as u32
}

/// The size of a probe file (16 MiB, some 100,000 probes) from which its
/// probes are kept as text (`VOUCH_TEXT_FROM` sets it in bytes; 0 keeps
/// every file's).
pub const TEXT_FROM: usize = 16 << 20;

pub(super) fn text_from() -> usize {
    std::env::var("VOUCH_TEXT_FROM")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(TEXT_FROM)
}

/// Where a probe file's text is and what its items were read with, for the
/// probes kept as text.
pub(super) struct FileText {
    pub(super) path: PathBuf,
    pub(super) origin: Origin,
    pub(super) head: Head,
    pub(super) has_target: bool,
    pub(super) defaults_identity: preflight::Identity,
    /// Every environment variable the file read, with the value it had:
    /// a probe read again sees what the load saw. Set when the load ends.
    pub(super) env: OnceLock<HashMap<String, Option<String>>>,
    /// The files the load read and checked, with their answers.
    pub(super) checked: OnceLock<HashMap<preflight::Checked, Result<(), String>>>,
}

impl fmt::Debug for FileText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileText")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileText {
    /// Reads the probe of `text`, written at `pos`, again as the load read it.
    fn read(&self, text: &TextSpec, pos: Pos) -> Result<Arc<ProbeSpec>, String> {
        let lost = || {
            format!(
                "{}:{pos}: the probe kept as text could not be read again (a bug in vouch)",
                self.path.display(),
            )
        };
        let changed = || {
            format!(
                "{}:{pos}: the probe file changed since it was loaded: run again (or reload `vouch watch`)",
                self.path.display(),
            )
        };
        let (offset, len) = (text.offset as usize, text.len as usize);
        let read;
        let item = match &self.origin {
            // A text in memory does not change.
            Origin::Memory(source) => source.get(offset..offset + len).ok_or_else(lost)?,
            Origin::File(file) => {
                let mut bytes = vec![0; len];
                match read_at(file, &mut bytes, offset as u64) {
                    Ok(()) if text_hash(&bytes) == text.hash => {}
                    // Shorter now, or other bytes: not what was checked.
                    Ok(()) => return Err(changed()),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return Err(changed());
                    }
                    Err(e) => {
                        let path = self.path.display();
                        return Err(format!("{path}: cannot read the probe again: {e}"));
                    }
                }
                read = bytes;
                std::str::from_utf8(&read).map_err(|_| lost())?
            }
        };
        let mut root = node::parse(item).map_err(|_| lost())?;
        let Value::Seq(items) = &mut root.value else {
            return Err(lost());
        };
        let probes = items
            .first_mut()
            .and_then(|item| match &mut item.value {
                Value::Map(entries) => entries.iter_mut().find(|(k, _)| k.name == "probes"),
                _ => None,
            })
            .map(|(_, probes)| &mut probes.value);
        let Some(Value::Seq(probes)) = probes else {
            return Err(lost());
        };
        let probe = probes.get_mut(usize::from(text.probe)).ok_or_else(lost)?;
        // Lines counted from the item's: moved to the file's.
        let before = pos.line.checked_sub(probe.pos.line).ok_or_else(lost)?;
        shift_lines(probe, before);
        // Its diagnostics are not reported (the load reported them), so
        // the item's text stands for the file's.
        let mut cx = Loader::new(&self.path, item);
        cx.has_target = self.has_target;
        cx.defaults_identity = self.defaults_identity.clone();
        cx.checked = self.checked.get().cloned().unwrap_or_default();
        let env = |name: &str| {
            self.env
                .get()
                .and_then(|env| env.get(name).cloned().flatten())
        };
        cx.interpolate(probe, &self.head.scope(&env));
        match cx.probe(probe).map(|entry| entry.spec) {
            Some(Spec::Read(spec)) if cx.diagnostics.is_empty() => Ok(spec),
            _ => Err(lost()),
        }
    }
}

/// An item's text in its file: from the byte `offset`, `len` bytes, and
/// their hash.
#[derive(Clone, Copy)]
pub(super) struct ItemText {
    offset: usize,
    len: usize,
    hash: u32,
}

impl ItemText {
    /// The item whose `- ` starts at byte `offset` of `source`; `None` when
    /// no `- ` starts there.
    pub(super) fn at(source: &str, offset: usize) -> Option<ItemText> {
        let rest = source.get(offset..)?;
        if !rest.trim_start_matches(' ').starts_with("- ") {
            return None;
        }
        let text = item_text(rest);
        Some(ItemText {
            offset,
            len: text.len(),
            hash: text_hash(text.as_bytes()),
        })
    }
}

/// The item whose `- ` starts `text`: its first line and every following
/// line indented deeper than its dash, blank, or a comment.
fn item_text(text: &str) -> &str {
    let dash = text.bytes().take_while(|&b| b == b' ').count();
    let mut end = text.find('\n').map_or(text.len(), |i| i + 1);
    while end < text.len() {
        let next = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        let line = &text[end..next];
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        let blank = content.trim_end().is_empty() || content.starts_with('#');
        if !blank && indent <= dash {
            break;
        }
        end = next;
    }
    &text[..end]
}

/// Moves every position in `node` down by `lines`.
fn shift_lines(node: &mut Node<'_>, lines: usize) {
    node.pos.line += lines;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| shift_lines(n, lines)),
        Value::Map(entries) => {
            for (key, value) in entries {
                key.pos.line += lines;
                shift_lines(value, lines);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_kept_as_text_ends_where_its_indentation_does() {
        let text = "  - item: a\n    probes:\n\n# note\n      - tcp: x\n  - item: b\n";
        assert_eq!(
            item_text(text),
            "  - item: a\n    probes:\n\n# note\n      - tcp: x\n"
        );
        assert_eq!(
            item_text("- item: a\n  probes: []\nname: n\n"),
            "- item: a\n  probes: []\n"
        );
        assert_eq!(item_text("  - item: last"), "  - item: last");
    }
}
