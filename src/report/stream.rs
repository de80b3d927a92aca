//! A run's items streamed into its reports as they finish, so a run of a
//! million probes holds a few numbers per item rather than every outcome
//! until the end. Each finished item is written at once, in the bytes it
//! will have in the report, to a spool file per format (JSON, the human
//! lines plain and coloured), counted, and dropped; only the items the
//! report's head needs stay in memory: those that did not verify, flaky
//! ones and those bound to the checklist (the gate, the checklist's verdicts
//! and the markdown write-back look at no other). At the end the report's
//! head is built from those and the counts, and each format is written as
//! head, spooled items copied in file order, tail: the same bytes as the
//! report built in memory ([`Report::write`]).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

use super::{ChecklistInput, Format, GatePolicy, Report, Summary, human, json, markdown};
use crate::checklist::bind::Binding;
use crate::outcome::{ItemOutcome, ItemVerdict};
use crate::runner::RunInfo;
use crate::spec::ProbeFile;

/// The most bytes copied from a spool in one read.
const COPY_CHUNK: u64 = 1 << 20;

/// Whether a format can be written from streamed items. The others (JUnit,
/// HTML, GitHub annotations) look at every item's evidence at once, and a
/// run that writes one of them keeps its outcomes in memory.
pub fn supports(format: Format) -> bool {
    matches!(format, Format::Json | Format::Human | Format::Markdown)
}

/// Takes a run's items as they finish (in any order) and spools what each
/// format will say of them.
pub struct Streamer<'a> {
    json: Option<Spool>,
    /// The human lines, plain and coloured.
    human: [Option<Spool>; 2],
    counts: Summary,
    kept: Vec<(usize, ItemOutcome)>,
    binding: Option<&'a Binding>,
    buffer: Vec<u8>,
    /// The first spool write that failed: reported by [`Streamer::finish`].
    error: Option<io::Error>,
}

impl<'a> Streamer<'a> {
    /// A streamer for a run of `items` items that will be written in
    /// `formats` (with colour or not); fails when no temporary file can be
    /// made, before any traffic.
    pub fn new(
        formats: &[(Format, bool)],
        items: usize,
        policy: &GatePolicy,
        binding: Option<&'a Binding>,
    ) -> io::Result<Streamer<'a>> {
        let wants = |format: Format, color: Option<bool>| {
            formats
                .iter()
                .any(|&(f, c)| f == format && color.is_none_or(|color| color == c))
        };
        let spool = |wanted: bool| wanted.then(|| Spool::new(items)).transpose();
        Ok(Streamer {
            json: spool(wants(Format::Json, None))?,
            human: [
                spool(wants(Format::Human, Some(false)))?,
                spool(wants(Format::Human, Some(true)))?,
            ],
            counts: Summary::counting(policy),
            kept: Vec::new(),
            binding,
            buffer: Vec::new(),
            error: None,
        })
    }

    /// Takes the item at `index` (among the run's items in file order).
    pub fn item(&mut self, index: usize, mut item: ItemOutcome) {
        self.counts.count(&item);
        if self.error.is_none()
            && let Err(e) = self.spool(index, &item)
        {
            self.error = Some(e);
        }
        let bound = self
            .binding
            .is_some_and(|b| b.item_for(&item.location).is_some());
        if item.verdict != ItemVerdict::Verified || item.flaky || bound {
            slim(&mut item);
            self.kept.push((index, item));
        }
    }

    fn spool(&mut self, index: usize, item: &ItemOutcome) -> io::Result<()> {
        if let Some(spool) = &mut self.json {
            self.buffer.clear();
            self.buffer.extend_from_slice(b",\n");
            json::element(item, &mut self.buffer)?;
            spool.push(index, &self.buffer)?;
        }
        for (color, spool) in self.human.iter_mut().enumerate() {
            if let Some(spool) = spool {
                spool.push(index, human::item(item, color == 1).as_bytes())?;
            }
        }
        Ok(())
    }

    /// The report, once every item came in: its head from the kept items
    /// and the counts, its items in the spools.
    pub fn finish(
        self,
        run: &RunInfo,
        files: &[ProbeFile],
        policy: &GatePolicy,
        checklist: Option<ChecklistInput<'_>>,
    ) -> io::Result<Streamed> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut kept = self.kept;
        kept.sort_unstable_by_key(|(index, _)| *index);
        let kept = kept.into_iter().map(|(_, item)| item).collect();
        let items = self.counts.items;
        let report = Report::assemble(run, kept, self.counts, files, policy, checklist);
        let [plain, colored] = self.human;
        Ok(Streamed {
            report,
            items,
            json: self.json.map(Spool::finish).transpose()?,
            human: [
                plain.map(Spool::finish).transpose()?,
                colored.map(Spool::finish).transpose()?,
            ],
        })
    }
}

/// A probe's evidence, its passed checks and its attempts are for the
/// formats that were spooled: the report's head needs none of them.
fn slim(item: &mut ItemOutcome) {
    for probe in &mut item.probes {
        if let Ok(null) = serde_json::value::to_raw_value(&serde_json::Value::Null) {
            probe.evidence = null;
        }
        probe.checks.retain(|c| !c.passed);
        probe.attempts = Vec::new();
    }
}

/// A streamed run's report: its head in memory, its items spooled.
pub struct Streamed {
    report: Report,
    items: usize,
    json: Option<Spooled>,
    human: [Option<Spooled>; 2],
}

impl Streamed {
    /// The report's head. Its `items` are only those that did not verify,
    /// flaky ones and those bound to the checklist; `summary` counts all.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The report's head, to add to before it is written (the files' hashes).
    pub fn report_mut(&mut self) -> &mut Report {
        &mut self.report
    }

    /// Writes the report in a format: the bytes [`Report::write`] writes of
    /// the same run kept in memory.
    pub fn write(&self, format: Format, color: bool, out: &mut dyn Write) -> io::Result<()> {
        let unspooled = || io::Error::other(format!("the {format:?} report was not spooled"));
        match format {
            Format::Json => {
                let spooled = self.json.as_ref().ok_or_else(unspooled)?;
                // The first element follows the bracket without a comma.
                json::write_spliced(&self.report, self.items, out, |out| spooled.copy(out, 1))
            }
            Format::Human => {
                let spooled = self.human[usize::from(color)]
                    .as_ref()
                    .ok_or_else(unspooled)?;
                out.write_all(human::head(&self.report, color).as_bytes())?;
                spooled.copy(out, 0)?;
                out.write_all(human::tail(&self.report, color).as_bytes())
            }
            Format::Markdown => out.write_all(markdown::render(&self.report).as_bytes()),
            Format::Junit | Format::Github | Format::Html => Err(unspooled()),
        }
    }
}

/// One format's items, appended as they finish, with where each landed.
struct Spool {
    out: BufWriter<File>,
    at: u64,
    /// Offset and length of each item's bytes, by item index.
    spans: Vec<Option<(u64, u32)>>,
}

impl Spool {
    fn new(items: usize) -> io::Result<Spool> {
        Ok(Spool {
            out: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            at: 0,
            spans: vec![None; items],
        })
    }

    fn push(&mut self, index: usize, bytes: &[u8]) -> io::Result<()> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| io::Error::other("an item's report text is over 4 GiB"))?;
        let span = self
            .spans
            .get_mut(index)
            .ok_or_else(|| io::Error::other(format!("item {index} is not one of the run's")))?;
        self.out.write_all(bytes)?;
        *span = Some((self.at, len));
        self.at += u64::from(len);
        Ok(())
    }

    fn finish(self) -> io::Result<Spooled> {
        Ok(Spooled {
            file: self
                .out
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?,
            spans: self.spans,
        })
    }
}

/// A finished spool.
struct Spooled {
    file: File,
    spans: Vec<Option<(u64, u32)>>,
}

impl Spooled {
    /// Copies every item's bytes to `out` in item order, leaving out the
    /// first `skip` bytes of the first. Items that finished one after the
    /// other lie side by side and are read together.
    fn copy(&self, out: &mut dyn Write, skip: usize) -> io::Result<()> {
        let mut file = &self.file;
        let mut buffer = Vec::new();
        let mut skip = skip;
        let mut flush = |start: u64, end: u64| -> io::Result<()> {
            let len = usize::try_from(end - start).map_err(io::Error::other)?;
            buffer.resize(len, 0);
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(&mut buffer)?;
            out.write_all(buffer.get(skip..).unwrap_or_default())?;
            skip = 0;
            Ok(())
        };
        let mut run: Option<(u64, u64)> = None;
        for (index, span) in self.spans.iter().enumerate() {
            let (offset, len) = span.ok_or_else(|| {
                io::Error::other(format!("item {index} never reached the report"))
            })?;
            let end = offset + u64::from(len);
            run = match run {
                Some((start, last)) if last == offset && end - start <= COPY_CHUNK => {
                    Some((start, end))
                }
                Some((start, last)) => {
                    flush(start, last)?;
                    Some((offset, end))
                }
                None => Some((offset, end)),
            };
        }
        match run {
            Some((start, end)) => flush(start, end),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::checklist::Checklist;
    use crate::report::FailOnSet;
    use crate::runner::Run;

    /// The golden run's items (every verdict, a flaky one, attestations),
    /// repeated `copies` times, each copy's texts numbered.
    fn items(copies: usize) -> Vec<ItemOutcome> {
        let report: Report = serde_json::from_str(include_str!("../../tests/golden/report.json"))
            .expect("the golden report is a report");
        (0..copies)
            .flat_map(|copy| {
                report.items.iter().cloned().map(move |mut item| {
                    item.item = format!("{} #{copy}", item.item);
                    item
                })
            })
            .collect()
    }

    const CHECKLIST: &str = "# Launch\n\n## Service\n\n- [x] Health endpoint returns 200\n- [x] Readiness reports every dependency healthy\n- [ ] Orders API responds\n\n## Operations\n\n- [x] Restore from backup rehearsed\n- [x] Something nobody checks\n";

    /// A checklist whose items are bound to some of the golden items.
    fn checklist(dir: &std::path::Path) -> (Arc<Checklist>, Binding) {
        let path = dir.join("checklist.md");
        std::fs::write(&path, CHECKLIST).expect("write the checklist");
        let checklist = Checklist::read(&path).expect("a checklist");
        let mut binding = Binding::default();
        for (location, index) in [
            ("probes.yaml:8:11", 0),
            ("probes.yaml:16:11", 1),
            ("probes.yaml:22:11", 2),
            ("probes.yaml:48:11", 3),
        ] {
            binding.by_location.insert(location.to_owned(), index);
        }
        (Arc::new(checklist), binding)
    }

    fn info(items: usize) -> RunInfo {
        let started_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        RunInfo {
            started_at,
            finished_at: started_at + Duration::from_millis(4321),
            duration: Duration::from_millis(4321),
            interrupted: false,
            items,
        }
    }

    /// Every format written from items streamed in `order` is the report
    /// built in memory, byte for byte.
    fn same_bytes(
        items: &[ItemOutcome],
        order: &[usize],
        checklist: Option<&(Arc<Checklist>, Binding)>,
    ) {
        let policy = GatePolicy::fail_on(&FailOnSet::default());
        let input = || {
            checklist.map(|(c, b)| ChecklistInput {
                checklist: Arc::clone(c),
                binding: b,
            })
        };
        let info = info(items.len());
        let run = Run {
            items: items.to_vec(),
            started_at: info.started_at,
            finished_at: info.finished_at,
            duration: info.duration,
            interrupted: false,
        };
        let in_memory = Report::with_policy(run, &[], &policy, input());
        let mut formats = vec![
            (Format::Json, false),
            (Format::Human, false),
            (Format::Human, true),
        ];
        if checklist.is_some() {
            formats.push((Format::Markdown, false));
        }
        let mut streamer = Streamer::new(&formats, items.len(), &policy, checklist.map(|(_, b)| b))
            .expect("spools");
        for &index in order {
            streamer.item(index, items[index].clone());
        }
        let streamed = streamer
            .finish(&info, &[], &policy, input())
            .expect("finishes");
        assert_eq!(streamed.report().summary.items, items.len());
        for (format, color) in formats {
            let mut bytes = Vec::new();
            streamed
                .write(format, color, &mut bytes)
                .expect("writes to memory");
            let expected = in_memory.render(format, color);
            if format == Format::Markdown {
                assert!(
                    expected.contains("Restore from backup rehearsed"),
                    "{expected}"
                );
            }
            assert!(
                bytes == expected.as_bytes(),
                "{format:?} (colour {color}) differs from the report in memory:\n{}\n---\n{expected}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn streamed_reports_are_the_reports_built_in_memory() {
        for copies in [0, 1, 3, 40] {
            let items = items(copies);
            let n = items.len();
            // In order, backwards, and odd ones first: items finish in any order.
            let orders: [Vec<usize>; 3] = [
                (0..n).collect(),
                (0..n).rev().collect(),
                (0..n)
                    .filter(|i| i % 2 == 1)
                    .chain((0..n).step_by(2))
                    .collect(),
            ];
            for order in &orders {
                same_bytes(&items, order, None);
            }
        }
    }

    #[test]
    fn streamed_reports_with_a_checklist_are_the_reports_built_in_memory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let checklist = checklist(dir.path());
        for copies in [1, 5] {
            let items = items(copies);
            let order: Vec<usize> = (0..items.len()).rev().collect();
            same_bytes(&items, &order, Some(&checklist));
        }
    }

    #[test]
    fn verified_items_are_not_kept() {
        let items = items(10);
        let policy = GatePolicy::fail_on(&FailOnSet::default());
        let mut streamer =
            Streamer::new(&[(Format::Json, false)], items.len(), &policy, None).expect("spools");
        for (index, item) in items.iter().enumerate() {
            streamer.item(index, item.clone());
        }
        // Of each copy's nine items, two verified without a retry.
        assert_eq!(streamer.kept.len(), 70);
        assert!(
            streamer
                .kept
                .iter()
                .flat_map(|(_, i)| &i.probes)
                .all(|p| p.evidence.get() == "null" && p.attempts.is_empty())
        );
    }

    #[test]
    fn an_item_that_never_came_is_an_error_not_a_shorter_report() {
        let items = items(1);
        let policy = GatePolicy::fail_on(&FailOnSet::default());
        let mut streamer =
            Streamer::new(&[(Format::Json, false)], items.len(), &policy, None).expect("spools");
        for (index, item) in items.iter().enumerate().skip(1) {
            streamer.item(index, item.clone());
        }
        let streamed = streamer
            .finish(&info(items.len()), &[], &policy, None)
            .expect("finishes");
        let e = streamed
            .write(Format::Json, false, &mut Vec::new())
            .expect_err("item 0 is missing");
        assert!(e.to_string().contains("item 0"), "{e}");
        let e = streamed
            .write(Format::Human, false, &mut Vec::new())
            .expect_err("not spooled");
        assert!(e.to_string().contains("not spooled"), "{e}");
    }
}
