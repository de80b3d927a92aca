//! Stored reports and their diff. `--history DIR` keeps each run's JSON
//! report gzipped under a time-stamped name (oldest pruned by count and age)
//! with the checklist written back beside it; [`diff`] says which items
//! changed verdict between two reports and what changed in their evidence.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;

use crate::export::{ItemState, State, item_states};
use crate::outcome::ProbeOutcome;
use crate::report::{Format, Report, SCHEMA_ID};

/// The default `--history-keep`.
pub const DEFAULT_KEEP: usize = 100;

/// The default `--history-max-age` (30 days).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// Stored reports are named `PREFIX<time>SUFFIX`.
const PREFIX: &str = "vouch-report-";
const SUFFIX: &str = ".json.gz";

/// The checklist of the last run, written back, beside the reports.
pub const CHECKLIST_NAME: &str = "last-checklist.md";

/// Errors of the history and of `vouch diff`'s inputs.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not a `vouch.report/v1` report.
    #[error("`{path}` is not a vouch report: {why}")]
    NotAReport {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The two reports are of different checklists.
    #[error("the reports are of different checklists: `{old}` and `{new}`")]
    DifferentChecklists {
        /// The old report's checklist.
        old: String,
        /// The new report's checklist.
        new: String,
    },
    /// The history holds fewer than two reports.
    #[error("`{path}` holds {found} stored report(s); a diff needs two")]
    TooFew {
        /// The directory.
        path: String,
        /// How many it holds.
        found: usize,
    },
}

/// A history directory and its retention.
#[derive(Debug, Clone)]
pub struct History {
    /// The directory.
    pub dir: PathBuf,
    /// Reports kept at most.
    pub keep: usize,
    /// Reports older than this are removed.
    pub max_age: Duration,
}

impl History {
    /// Stores a report (and its written-back checklist), then prunes.
    /// Files are written under a temporary name and renamed, so a reader
    /// never sees half a report. Returns the stored report's path.
    pub fn store(&self, report: &Report) -> Result<PathBuf, HistoryError> {
        let io = |action, path: &Path| {
            let path = path.display().to_string();
            move |source| HistoryError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let path = self.dir.join(file_name(report));
        let partial = path.with_extension("partial");
        let file = std::fs::File::create(&partial).map_err(io("write", &partial))?;
        let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::default());
        crate::report::json::write(report, &mut gz)
            .and_then(|()| gz.finish())
            .and_then(|mut out| out.flush())
            .map_err(io("write", &partial))?;
        std::fs::rename(&partial, &path).map_err(io("write", &path))?;
        if report.checklist_doc.is_some() {
            let written = self.dir.join(CHECKLIST_NAME);
            let partial = written.with_extension("partial");
            std::fs::write(&partial, report.render(Format::Markdown, false))
                .and_then(|()| std::fs::rename(&partial, &written))
                .map_err(io("write", &written))?;
        }
        self.prune()?;
        Ok(path)
    }

    /// Removes the oldest reports beyond `keep` and those older than `max_age`.
    pub fn prune(&self) -> Result<(), HistoryError> {
        let stored = list(&self.dir)?;
        let now = SystemTime::now();
        let excess = stored.len().saturating_sub(self.keep);
        for (index, path) in stored.iter().enumerate() {
            let old = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > self.max_age);
            if index < excess || old {
                // Another watcher may have removed it first.
                if let Err(e) = std::fs::remove_file(path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(HistoryError::Io {
                        action: "remove",
                        path: path.display().to_string(),
                        source: e,
                    });
                }
            }
        }
        Ok(())
    }
}

/// `vouch-report-20261207T021955.123Z.json.gz`: sorts by time as text.
fn file_name(report: &Report) -> String {
    let stamp: String = report
        .finished_at
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let stamp = if stamp.is_empty() {
        humantime::format_rfc3339_millis(SystemTime::now())
            .to_string()
            .replace(['-', ':'], "")
    } else {
        stamp
    };
    format!("{PREFIX}{stamp}{SUFFIX}")
}

/// The stored reports in a directory, oldest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, HistoryError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HistoryError::Io {
                action: "read",
                path: dir.display().to_string(),
                source,
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// The last two stored reports, older first.
pub fn last_two(dir: &Path) -> Result<(PathBuf, PathBuf), HistoryError> {
    let mut stored = list(dir)?;
    let found = stored.len();
    match (stored.pop(), stored.pop()) {
        (Some(new), Some(old)) => Ok((old, new)),
        _ => Err(HistoryError::TooFew {
            path: dir.display().to_string(),
            found,
        }),
    }
}

/// Reads a report, gzipped or not.
pub fn load(path: &Path) -> Result<Report, HistoryError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| HistoryError::Io {
        action: "read",
        path: name.clone(),
        source,
    })?;
    let not_a_report = |why: String| HistoryError::NotAReport {
        path: name.clone(),
        why,
    };
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| not_a_report(format!("cannot gunzip it: {e}")))?;
        out
    } else {
        bytes
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| not_a_report(format!("not JSON: {e}")))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA_ID) => {}
        Some(other) => {
            return Err(not_a_report(format!(
                "its schema is `{other}`, expected `{SCHEMA_ID}`"
            )));
        }
        None => return Err(not_a_report(format!("it has no `schema: {SCHEMA_ID}`"))),
    }
    serde_json::from_value(value).map_err(|e| not_a_report(e.to_string()))
}

/// How an item changed between two reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Verified or attested before, failed, refuted or in error now.
    Regressed,
    /// Failed, refuted or in error before, verified or attested now.
    Fixed,
    /// Not in the old report.
    New,
    /// Not in the new report.
    Removed,
    /// Any other change of state (manual → verified, failed → refuted, …).
    Changed,
}

impl Change {
    /// The lowercase word.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Regressed => "regressed",
            Change::Fixed => "fixed",
            Change::New => "new",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }

    fn of(from: State, to: State) -> Change {
        if from.is_good() && to.is_bad() {
            Change::Regressed
        } else if from.is_bad() && to.is_good() {
            Change::Fixed
        } else {
            Change::Changed
        }
    }
}

/// One item that changed.
#[derive(Debug, Clone, Serialize)]
pub struct ItemChange {
    /// The item's stable id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// How it changed.
    pub change: Change,
    /// Its state in the old report.
    pub from: Option<State>,
    /// Its state in the new report.
    pub to: Option<State>,
    /// What changed in its evidence: `status: 200 → 503`.
    pub evidence: Vec<String>,
}

/// The difference between two reports.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// Always `vouch.diff/v1`.
    pub schema: &'static str,
    /// When the old run ended.
    pub old_finished_at: String,
    /// When the new run ended.
    pub new_finished_at: String,
    /// How many items changed, by kind of change.
    pub counts: BTreeMap<Change, usize>,
    /// The items that changed, regressions first.
    pub items: Vec<ItemChange>,
}

impl Diff {
    /// Whether some item regressed: `vouch diff` exits 1.
    pub fn has_regressions(&self) -> bool {
        self.items.iter().any(|i| i.change == Change::Regressed)
    }
}

/// Most evidence lines shown per item.
const MAX_EVIDENCE_LINES: usize = 12;

/// Compares two reports of the same checklist (or both without one).
pub fn diff(old: &Report, new: &Report) -> Result<Diff, HistoryError> {
    let label = |r: &Report| {
        r.checklist
            .as_ref()
            .map(|c| (c.path.clone(), c.title.clone()))
    };
    match (label(old), label(new)) {
        (None, None) => {}
        (Some((op, ot)), Some((np, nt))) => {
            let file = |p: &Option<String>| {
                p.as_deref()
                    .and_then(|p| Path::new(p).file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            };
            let same =
                (file(&op).is_some() && file(&op) == file(&np)) || (ot.is_some() && ot == nt);
            if !same {
                return Err(HistoryError::DifferentChecklists {
                    old: op.or(ot).unwrap_or_default(),
                    new: np.or(nt).unwrap_or_default(),
                });
            }
        }
        (o, n) => {
            let name = |c: Option<(Option<String>, Option<String>)>| {
                c.and_then(|(p, t)| p.or(t))
                    .unwrap_or_else(|| "(no checklist)".to_owned())
            };
            return Err(HistoryError::DifferentChecklists {
                old: name(o),
                new: name(n),
            });
        }
    }
    let old_states = item_states(old);
    let new_states = item_states(new);
    let old_by_id: HashMap<&str, &ItemState> =
        old_states.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut items = Vec::new();
    for n in &new_states {
        match old_by_id.get(n.id.as_str()) {
            None => items.push(ItemChange {
                id: n.id.clone(),
                text: n.text.clone(),
                change: Change::New,
                from: None,
                to: Some(n.state),
                evidence: Vec::new(),
            }),
            Some(o) if o.state != n.state => items.push(ItemChange {
                id: n.id.clone(),
                text: n.text.clone(),
                change: Change::of(o.state, n.state),
                from: Some(o.state),
                to: Some(n.state),
                evidence: evidence_changes(&probes(old, o), &probes(new, n)),
            }),
            Some(_) => {}
        }
    }
    let new_ids: std::collections::HashSet<&str> =
        new_states.iter().map(|s| s.id.as_str()).collect();
    for o in old_states
        .iter()
        .filter(|o| !new_ids.contains(o.id.as_str()))
    {
        items.push(ItemChange {
            id: o.id.clone(),
            text: o.text.clone(),
            change: Change::Removed,
            from: Some(o.state),
            to: None,
            evidence: Vec::new(),
        });
    }
    items.sort_by_key(|i| i.change);
    let mut counts = BTreeMap::new();
    for item in &items {
        *counts.entry(item.change).or_insert(0) += 1;
    }
    Ok(Diff {
        schema: "vouch.diff/v1",
        old_finished_at: old.finished_at.clone(),
        new_finished_at: new.finished_at.clone(),
        counts,
        items,
    })
}

fn probes<'r>(report: &'r Report, state: &ItemState) -> Vec<&'r ProbeOutcome> {
    state
        .sources
        .iter()
        .filter_map(|&i| report.items.get(i))
        .flat_map(|item| &item.probes)
        .collect()
}

/// What changed between the probes of one item: checks whose observed value
/// differs (`status: 200 → 503`), checks that appeared or went, and a probe's
/// summary when its checks say nothing (it could not connect).
fn evidence_changes(old: &[&ProbeOutcome], new: &[&ProbeOutcome]) -> Vec<String> {
    let mut lines = Vec::new();
    for (index, n) in new.iter().enumerate() {
        // The same probe: by name, else by position.
        let Some(o) = old
            .iter()
            .find(|o| o.name == n.name)
            .or_else(|| old.get(index))
        else {
            lines.push(format!("{}: new probe", n.name));
            continue;
        };
        let before = lines.len();
        for check in &n.checks {
            match o.checks.iter().find(|c| c.name == check.name) {
                Some(was) if was.actual != check.actual => {
                    lines.push(format!("{}: {} → {}", check.name, was.actual, check.actual));
                }
                Some(_) => {}
                None => lines.push(format!("{}: (not checked) → {}", check.name, check.actual)),
            }
        }
        for was in o
            .checks
            .iter()
            .filter(|c| !n.checks.iter().any(|k| k.name == c.name))
        {
            lines.push(format!("{}: {} → (not checked)", was.name, was.actual));
        }
        if lines.len() == before && o.summary != n.summary {
            lines.push(format!("{}: {} → {}", n.name, o.summary, n.summary));
        }
    }
    if lines.len() > MAX_EVIDENCE_LINES {
        let more = lines.len() - MAX_EVIDENCE_LINES;
        lines.truncate(MAX_EVIDENCE_LINES);
        lines.push(format!("… and {more} more"));
    }
    lines
}

/// Output formats of `vouch diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Lines for people.
    Human,
    /// `vouch.diff/v1`.
    Json,
    /// A markdown section, for a pull request or a step summary.
    Markdown,
}

/// Renders a diff.
pub fn render(diff: &Diff, format: DiffFormat) -> String {
    match format {
        DiffFormat::Human => render_human(diff),
        DiffFormat::Json => {
            let mut text = serde_json::to_string_pretty(diff).unwrap_or_default();
            text.push('\n');
            text
        }
        DiffFormat::Markdown => render_markdown(diff),
    }
}

fn state_word(state: Option<State>) -> &'static str {
    state.map_or("(absent)", State::as_str)
}

fn summary_line(diff: &Diff) -> String {
    if diff.items.is_empty() {
        return "no item changed".to_owned();
    }
    diff.counts
        .iter()
        .map(|(change, n)| format!("{n} {}", change.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_human(diff: &Diff) -> String {
    let mut out = format!(
        "vouch diff: {} → {}\n",
        diff.old_finished_at, diff.new_finished_at
    );
    for item in &diff.items {
        let _ = writeln!(
            out,
            "{:<9}  {}  {} → {}",
            item.change.as_str(),
            terminal(&item.id),
            state_word(item.from),
            state_word(item.to)
        );
        for line in &item.evidence {
            let _ = writeln!(out, "           {}", terminal(line));
        }
    }
    let _ = writeln!(out, "{}", summary_line(diff));
    out
}

fn render_markdown(diff: &Diff) -> String {
    let mut out = format!(
        "### vouch diff\n\n{} → {}: {}\n\n",
        diff.old_finished_at,
        diff.new_finished_at,
        summary_line(diff)
    );
    if diff.items.is_empty() {
        return out;
    }
    out.push_str("| change | item | before | now | evidence |\n|---|---|---|---|---|\n");
    for item in &diff.items {
        let evidence = item
            .evidence
            .iter()
            .map(|l| markdown(l))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            item.change.as_str(),
            markdown(&item.text),
            state_word(item.from),
            state_word(item.to),
            evidence
        );
    }
    out
}

/// Text from a target on a terminal: control characters escaped.
fn terminal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Text from a target in a markdown table cell: data, never markup.
fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ItemVerdict;

    fn fixture() -> Report {
        serde_json::from_str(include_str!("../tests/fixtures/export/report.json"))
            .expect("the fixture is a report")
    }

    #[test]
    fn identical_reports_have_no_changes() {
        let report = fixture();
        let diff = diff(&report, &report).expect("same checklist");
        assert!(diff.items.is_empty());
        assert!(!diff.has_regressions());
        assert!(render(&diff, DiffFormat::Human).contains("no item changed"));
    }

    #[test]
    fn a_verified_item_that_fails_is_a_regression_with_its_evidence() {
        let old = fixture();
        let mut new = fixture();
        // Find a verified item bound to a checklist item and make it fail.
        let c = new.checklist.as_mut().expect("checklist");
        let item = c
            .items
            .iter_mut()
            .find(|i| i.verdict == ItemVerdict::Verified && !i.bound.is_empty())
            .expect("a verified item");
        item.verdict = ItemVerdict::Failed;
        let location = item.bound[0].clone();
        let id = item.id.clone();
        let outcome = new
            .items
            .iter_mut()
            .find(|i| i.location == location)
            .expect("its outcome");
        let check = &mut outcome.probes[0].checks[0];
        let was = check.actual.clone();
        check.actual = "503".to_owned();
        let diff = diff(&old, &new).expect("same checklist");
        assert!(diff.has_regressions());
        let change = &diff.items[0];
        assert_eq!(change.id, id);
        assert_eq!(change.change, Change::Regressed);
        assert!(
            change.evidence[0].ends_with(&format!("{was} → 503")),
            "{:?}",
            change.evidence
        );
        let md = render(&diff, DiffFormat::Markdown);
        assert!(md.contains("| regressed |"), "{md}");
    }

    #[test]
    fn different_checklists_are_refused() {
        let old = fixture();
        let mut new = fixture();
        let c = new.checklist.as_mut().expect("checklist");
        c.path = Some("other.md".to_owned());
        c.title = Some("Other".to_owned());
        assert!(matches!(
            diff(&old, &new),
            Err(HistoryError::DifferentChecklists { .. })
        ));
    }

    #[test]
    fn stores_prunes_and_reads_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = History {
            dir: dir.path().join("h"),
            keep: 2,
            max_age: DEFAULT_MAX_AGE,
        };
        let mut report = fixture();
        for second in ["01", "02", "03"] {
            report.finished_at = format!("2026-12-07T02:00:{second}.000Z");
            history.store(&report).expect("stored");
        }
        let stored = list(&history.dir).expect("listed");
        assert_eq!(stored.len(), 2);
        assert!(
            stored[1]
                .to_string_lossy()
                .ends_with("20261207T020003.000Z.json.gz")
        );
        let back = load(&stored[1]).expect("a report");
        assert_eq!(back.finished_at, report.finished_at);
        assert_eq!(back.items.len(), report.items.len());
        let (old, new) = last_two(&history.dir).expect("two");
        assert!(old < new);
    }

    #[test]
    fn rejects_what_is_not_a_report() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.json");
        std::fs::write(&path, "{\"schema\": \"other/v1\"}").expect("write");
        let e = load(&path).expect_err("not a report");
        assert!(e.to_string().contains("is not a vouch report"), "{e}");
        std::fs::write(&path, "garbage").expect("write");
        assert!(load(&path).is_err());
    }

    #[test]
    fn markdown_cells_escape_target_text() {
        assert_eq!(markdown("a|b <i>"), "a&#124;b &lt;i&gt;");
        assert_eq!(terminal("a\u{1b}[31m"), "a\\u{1b}[31m");
    }
}
