//! `--format json`: the report as `vouch.report/v1`, one pretty JSON document.
//! Items are serialised in chunks on several threads and written in order;
//! the bytes are exactly those of `serde_json::to_writer_pretty`.

use std::io::{self, Write};
use std::num::NonZero;
use std::sync::mpsc;

use serde::Serialize;
use serde_json::ser::Formatter;

use super::Report;
use crate::outcome::ItemOutcome;

/// Items per serialised chunk. With one HTTP probe each, ~430 KB of JSON:
/// written past the caller's buffer without a copy, and still 40 chunks for
/// 10,000 items to share out between threads.
const ITEMS_PER_CHUNK: usize = 256;

/// More threads than this gain nothing: writing the chunks in order is the
/// limit by then.
const MAX_THREADS: usize = 4;

/// Renders the report as pretty JSON with a final newline.
pub fn render(report: &Report) -> String {
    let mut bytes = Vec::new();
    match write(report, &mut bytes) {
        Ok(()) => String::from_utf8(bytes).expect("serde_json writes UTF-8"),
        Err(e) => format!("{{\"error\": \"cannot serialise the report: {e}\"}}\n"),
    }
}

/// Writes the report as pretty JSON with a final newline, without building
/// the whole text in memory first.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut head = serde_json::to_vec_pretty(&without_items(report))?;
    if report.items.is_empty() {
        head.push(b'\n');
        return out.write_all(&head);
    }
    // `items` is the last field, so the head ends with `"items": []\n}`: the
    // items go between those brackets.
    let Some(open) = head.strip_suffix(b"[]\n}") else {
        // Only if `items` stopped being the last field.
        serde_json::to_writer_pretty(&mut *out, report)?;
        return out.write_all(b"\n");
    };
    out.write_all(open)?;
    out.write_all(b"[")?;
    write_items(&report.items, threads(), out)?;
    out.write_all(b"\n  ]\n}\n")
}

/// The report's other fields, to serialise without its items.
fn without_items(report: &Report) -> Report {
    // No `..`: a new field of `Report` must be added here too.
    let Report {
        schema,
        vouch_version,
        started_at,
        finished_at,
        duration_ms,
        interrupted,
        files,
        summary,
        checklist,
        shard,
        items: _,
        checklist_doc: _,
    } = report;
    Report {
        schema: schema.clone(),
        vouch_version: vouch_version.clone(),
        started_at: started_at.clone(),
        finished_at: finished_at.clone(),
        duration_ms: *duration_ms,
        interrupted: *interrupted,
        files: files.clone(),
        summary: summary.clone(),
        checklist: checklist.clone(),
        shard: *shard,
        items: Vec::new(),
        checklist_doc: None,
    }
}

/// The threads to serialise items on.
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, NonZero::get)
        .min(MAX_THREADS)
}

/// Writes the elements of the `items` array, chunk by chunk in file order,
/// serialising chunks on other threads while earlier ones are written.
fn write_items(items: &[ItemOutcome], threads: usize, out: &mut dyn Write) -> io::Result<()> {
    let chunks: Vec<&[ItemOutcome]> = items.chunks(ITEMS_PER_CHUNK).collect();
    let threads = threads.min(chunks.len());
    if threads <= 1 {
        for (i, chunk) in chunks.iter().enumerate() {
            out.write_all(&serialize_chunk(chunk, i == 0)?)?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        // Thread `t` serialises chunks t, t + threads, …, one ahead at most.
        let receivers: Vec<mpsc::Receiver<io::Result<Vec<u8>>>> = (0..threads)
            .map(|t| {
                let (sender, receiver) = mpsc::sync_channel(1);
                let chunks = &chunks;
                scope.spawn(move || {
                    for (i, chunk) in chunks.iter().enumerate().skip(t).step_by(threads) {
                        if sender.send(serialize_chunk(chunk, i == 0)).is_err() {
                            break; // writing failed: the receiver is gone
                        }
                    }
                });
                receiver
            })
            .collect();
        for i in 0..chunks.len() {
            let bytes = receivers[i % threads]
                .recv()
                .expect("each thread sends every chunk it is given")?;
            out.write_all(&bytes)?;
        }
        Ok(())
    })
}

/// A chunk of items as elements of the `items` array: each on a new line,
/// after a comma unless it is the very first, indented as in the document.
fn serialize_chunk(items: &[ItemOutcome], first: bool) -> io::Result<Vec<u8>> {
    // About an HTTP probe's item each: fewer copies while the buffer grows.
    let mut bytes = Vec::with_capacity(items.len() * 2048);
    for (i, item) in items.iter().enumerate() {
        bytes.extend_from_slice(if first && i == 0 { b"\n" } else { b",\n" });
        element(item, &mut bytes)?;
    }
    Ok(bytes)
}

/// One element of the `items` array as it stands in the document, indented,
/// without the line break (and comma) before it.
pub(crate) fn element(item: &ItemOutcome, bytes: &mut Vec<u8>) -> io::Result<()> {
    indent(bytes, ITEM_DEPTH)?;
    let mut serializer =
        serde_json::Serializer::with_formatter(bytes, Pretty::at_depth(ITEM_DEPTH));
    item.serialize(&mut serializer)?;
    Ok(())
}

/// Writes the report as [`write`] does, with `count` items whose elements
/// `items` writes (each after a line break, and a comma unless first): the
/// items of a run streamed to disk as they finished.
pub(crate) fn write_spliced(
    report: &Report,
    count: usize,
    out: &mut dyn Write,
    items: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut head = serde_json::to_vec_pretty(&without_items(report))?;
    if count == 0 {
        head.push(b'\n');
        return out.write_all(&head);
    }
    let open = head
        .strip_suffix(b"[]\n}")
        .ok_or_else(|| io::Error::other("`items` is no longer the report's last field"))?;
    out.write_all(open)?;
    out.write_all(b"[")?;
    items(out)?;
    out.write_all(b"\n  ]\n}\n")
}

/// The depth of an element of `items`: in the report object, in the array.
const ITEM_DEPTH: usize = 2;

/// `serde_json::ser::PrettyFormatter` with its two-space indent, starting at
/// a given depth, so a value can be serialised alone and spliced in.
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    fn at_depth(depth: usize) -> Pretty {
        Pretty {
            depth,
            has_value: false,
        }
    }
}

/// Two spaces per level, written at once.
fn indent<W: ?Sized + Write>(out: &mut W, depth: usize) -> io::Result<()> {
    const SPACES: &[u8; 32] = b"                                ";
    let mut width = 2 * depth;
    while width > SPACES.len() {
        out.write_all(SPACES)?;
        width -= SPACES.len();
    }
    out.write_all(&SPACES[..width])
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            out.write_all(b"\n")?;
            indent(out, self.depth)?;
        }
        out.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        indent(out, self.depth)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            out.write_all(b"\n")?;
            indent(out, self.depth)?;
        }
        out.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        indent(out, self.depth)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden run's report, its items repeated `copies` times.
    fn report(copies: usize) -> Report {
        let mut report: Report =
            serde_json::from_str(include_str!("../../tests/golden/report.json"))
                .expect("the golden report is a report");
        let items = std::mem::take(&mut report.items);
        report.items = std::iter::repeat_n(items, copies).flatten().collect();
        report
    }

    fn serde_pretty(report: &Report) -> String {
        serde_json::to_string_pretty(report).expect("serialises") + "\n"
    }

    #[test]
    fn writes_what_serde_json_writes_pretty() {
        for copies in [0, 1, 40, 100] {
            let report = report(copies);
            assert_eq!(render(&report), serde_pretty(&report), "{copies} copies");
        }
    }

    #[test]
    fn chunks_come_out_in_order_on_any_number_of_threads() {
        let mut report = report(100);
        for (i, item) in report.items.iter_mut().enumerate() {
            item.item = format!("item {i}");
        }
        let expected = serde_pretty(&report);
        for threads in [1, 2, 3, 7] {
            let mut head = serde_json::to_vec_pretty(&without_items(&report)).expect("serialises");
            head.truncate(head.len() - b"[]\n}".len());
            let mut bytes = head;
            bytes.push(b'[');
            write_items(&report.items, threads, &mut bytes).expect("writes to memory");
            bytes.extend_from_slice(b"\n  ]\n}\n");
            assert_eq!(
                String::from_utf8(bytes).expect("UTF-8"),
                expected,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn indents_deeper_than_the_spaces_at_hand() {
        let value =
            serde_json::json!({"a": [[[[[[[[[[[[[[[[[[[{"b": [], "c": {}}]]]]]]]]]]]]]]]]]]]});
        let mut bytes = Vec::new();
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut bytes, Pretty::at_depth(0));
        value.serialize(&mut serializer).expect("serialises");
        assert_eq!(
            String::from_utf8(bytes).expect("UTF-8"),
            serde_json::to_string_pretty(&value).expect("serialises")
        );
    }
}
