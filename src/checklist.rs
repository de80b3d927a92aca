//! Markdown checklists: the task-list items (`- [ ]`, `- [x]`) a team ticks by
//! hand, with the headings they sit under, their nesting, and where each one is
//! in the source so that it can be matched, reported and rewritten.

pub mod annotate;
pub mod bind;
pub mod init;
mod normalize;
mod parse;
mod slug;
pub mod verdict;

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use normalize::normalize;
pub use parse::parse;
pub use slug::slug;

/// A parsed checklist: its title and its task items in document order.
///
/// Headings and sections are defined on [`ChecklistItem`]; the document title
/// is the text of the document's first heading when that heading is the only
/// level-1 heading in the document. A document with several level-1 headings
/// has no title: its level-1 headings are sections like any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checklist {
    /// The file the checklist was read from; `None` when parsed from a string.
    pub path: Option<PathBuf>,
    /// The source text the offsets refer to (earlier vouch annotations removed
    /// when read with [`Checklist::read`]).
    #[serde(skip)]
    pub source: String,
    /// The document title (see above), markdown stripped.
    pub title: Option<String>,
    /// Every task item, in document order. A parent comes before its children.
    pub items: Vec<ChecklistItem>,
}

/// One task-list item: `- [ ] text`, `* [x] text`, `1. [X] text`, at any depth,
/// also inside block quotes. Bullets without a box are not items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecklistItem {
    /// Stable id, unique within the file: the [`slug`]s of the heading path and
    /// of the text, joined by `/` (`security/rate-limiting-configured`). Empty
    /// slugs are left out; an item whose text has no slug is `item`. The second
    /// item with the same id gets `-2` appended, the third `-3`, and so on.
    pub id: String,
    /// The item's label as plain text: the paragraph that holds the box, with
    /// emphasis, backticks and link targets removed and whitespace collapsed.
    /// Nested lists, code blocks and further paragraphs of the item are not part
    /// of it.
    pub text: String,
    /// The label as written: the raw markdown after the box, trimmed, with the
    /// lines of a label that wraps joined by single spaces.
    pub display: String,
    /// Whether the box is ticked (`[x]` or `[X]`).
    pub claimed: bool,
    /// Texts of the headings the item sits under, outermost first, markdown
    /// stripped. The document title is not part of it (see [`Checklist`]), nor
    /// are headings whose text is empty.
    pub headings: Vec<String>,
    /// The top-level section: the first entry of `headings`. With a `#` title
    /// that is the enclosing `##` heading (or the outermost heading below the
    /// title); `None` for items above the first heading or directly under the
    /// title.
    pub section: Option<String>,
    /// Index in [`Checklist::items`] of the nearest enclosing task item. A task
    /// nested under a plain bullet gets the task above that bullet, if any.
    pub parent: Option<usize>,
    /// 1-based line of the box.
    pub line: usize,
    /// Byte range of the box (`[ ]`, `[x]`, `[X]`) in the source, as given
    /// (a leading byte-order mark counts).
    pub box_range: Range<usize>,
    /// Byte offset where the line on which the label ends stops, before its
    /// line ending: where a writer inserts lines after the item's label. For
    /// a label on one line, the end of the box's own line.
    pub line_end: usize,
}

/// Why a checklist file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ChecklistError {
    /// The file could not be read.
    #[error("cannot read checklist `{}`: {error}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: io::Error,
    },
    /// The file is not UTF-8 (offsets for rewriting must be exact, so it is
    /// not decoded lossily).
    #[error("checklist `{}` is not valid UTF-8 (line {line})", .path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
    },
}

/// A checklist and which probe-file items verify its items.
pub type Bound = (std::sync::Arc<Checklist>, bind::Binding);

/// Finds, reads and binds the checklist of a run: `explicit` (`--checklist`)
/// or the `checklist:` the files name (see [`load_each`]). Files that name
/// different checklists are an error: one run verifies one checklist.
pub fn load_for(
    files: &[crate::spec::ProbeFile],
    explicit: Option<&Path>,
) -> Result<Option<Bound>, Vec<crate::spec::Diagnostic>> {
    let mut bound = load_each(files, explicit)?;
    if let [first, second, ..] = bound.as_slice() {
        let path = |b: &Bound| b.0.path.clone().unwrap_or_default();
        let (first, second) = (path(first), path(second));
        let file = files
            .iter()
            .find(|f| f.checklist.as_ref().map(|c| f.base_dir().join(c)) == Some(second.clone()))
            .map_or_else(|| second.clone(), |f| f.path.clone());
        return Err(vec![crate::spec::Diagnostic::new(
            &file,
            "",
            crate::spec::node::Pos::default(),
            format!(
                "probe files name different checklists (`{}` and `{}`); one run verifies one checklist: run them separately, or give --checklist",
                first.display(),
                second.display()
            ),
        )]);
    }
    Ok(bound.pop())
}

/// Finds, reads and binds every checklist the files name, each to the files
/// that name it (`checklist:`, relative to the file): a file binds to its own
/// checklist, never to another file's, and a file that names none binds to
/// none. With `explicit` (`--checklist`) every file binds to that one. In the
/// order the files first name them; all problems together.
pub fn load_each(
    files: &[crate::spec::ProbeFile],
    explicit: Option<&Path>,
) -> Result<Vec<Bound>, Vec<crate::spec::Diagnostic>> {
    use crate::spec::Diagnostic;
    use crate::spec::node::Pos;
    // Each checklist with the files bound to it.
    let mut groups: Vec<(PathBuf, Vec<&crate::spec::ProbeFile>)> = Vec::new();
    for file in files {
        let path = match (explicit, &file.checklist) {
            (Some(path), _) => path.to_owned(),
            (None, Some(named)) => file.base_dir().join(named),
            (None, None) => continue,
        };
        match groups.iter_mut().find(|(p, _)| *p == path) {
            Some((_, group)) => group.push(file),
            None => groups.push((path, vec![file])),
        }
    }
    if let (Some(path), true) = (explicit, groups.is_empty()) {
        groups.push((path.to_owned(), Vec::new()));
    }
    let mut bound = Vec::new();
    let mut diagnostics = Vec::new();
    for (path, group) in groups {
        let checklist = match Checklist::read(&path) {
            Ok(checklist) => checklist,
            Err(e) => {
                diagnostics.push(Diagnostic::new(&path, "", Pos::default(), e.to_string()));
                continue;
            }
        };
        if checklist.items.is_empty() {
            diagnostics.push(Diagnostic::new(
                &path,
                "",
                Pos::default(),
                "the checklist has no task items (`- [ ] …` or `- [x] …`)",
            ));
            continue;
        }
        match bind::bind(&checklist, &group) {
            Ok(binding) => bound.push((std::sync::Arc::new(checklist), binding)),
            Err(mut found) => diagnostics.append(&mut found),
        }
    }
    if diagnostics.is_empty() {
        Ok(bound)
    } else {
        Err(diagnostics)
    }
}

impl Checklist {
    /// Reads and parses the checklist at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or is not UTF-8.
    pub fn read(path: &Path) -> Result<Checklist, ChecklistError> {
        let bytes = std::fs::read(path).map_err(|error| ChecklistError::Read {
            path: path.to_owned(),
            error,
        })?;
        let source = String::from_utf8(bytes).map_err(|err| {
            let valid = err.utf8_error().valid_up_to();
            let line = 1 + err.as_bytes()[..valid]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            ChecklistError::NotUtf8 {
                path: path.to_owned(),
                line,
            }
        })?;
        let mut checklist = parse(&annotate::strip(&source));
        checklist.path = Some(path.to_owned());
        Ok(checklist)
    }

    /// How many items are ticked.
    pub fn claimed_count(&self) -> usize {
        self.items.iter().filter(|item| item.claimed).count()
    }

    /// The distinct top-level sections that hold items, in document order.
    pub fn sections(&self) -> Vec<&str> {
        let mut sections: Vec<&str> = Vec::new();
        for section in self.items.iter().filter_map(|item| item.section.as_deref()) {
            if !sections.contains(&section) {
                sections.push(section);
            }
        }
        sections
    }

    /// The direct children of the item at `index`, with their indices.
    pub fn children(&self, index: usize) -> impl Iterator<Item = (usize, &ChecklistItem)> {
        self.items
            .iter()
            .enumerate()
            .skip(index.saturating_add(1))
            .filter(move |(_, item)| item.parent == Some(index))
    }

    /// The item with this id.
    pub fn get(&self, id: &str) -> Option<&ChecklistItem> {
        self.items.iter().find(|item| item.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# Readiness

## Edge

- [x] TLS on
  - [ ] HSTS header
  - [x] OCSP stapling
- [ ] CDN warm

## Data

- [x] Backups nightly
";

    #[test]
    fn counts_claimed_items() {
        assert_eq!(parse(SAMPLE).claimed_count(), 3);
    }

    #[test]
    fn lists_sections_once_in_order() {
        assert_eq!(parse(SAMPLE).sections(), ["Edge", "Data"]);
    }

    #[test]
    fn children_are_direct_only() {
        let checklist = parse(SAMPLE);
        let children: Vec<&str> = checklist
            .children(0)
            .map(|(_, item)| item.text.as_str())
            .collect();
        assert_eq!(children, ["HSTS header", "OCSP stapling"]);
        assert_eq!(checklist.children(1).count(), 0);
        assert_eq!(checklist.children(usize::MAX).count(), 0);
    }

    #[test]
    fn finds_item_by_id() {
        let checklist = parse(SAMPLE);
        let item = checklist.get("data/backups-nightly").map(|item| item.line);
        assert_eq!(item, Some(12));
        assert!(checklist.get("nope").is_none());
    }

    #[test]
    fn read_sets_path_and_reports_missing_file() {
        let dir = std::env::temp_dir().join(format!("vouch-checklist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        let path = dir.join("ok.md");
        std::fs::write(&path, SAMPLE).expect("temp file is writable");
        let checklist = Checklist::read(&path).expect("file was just written");
        assert_eq!(checklist.path.as_deref(), Some(path.as_path()));
        assert_eq!(checklist.items.len(), 5);

        let missing = dir.join("missing.md");
        let err = Checklist::read(&missing).expect_err("file does not exist");
        assert!(
            err.to_string().starts_with("cannot read checklist `"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).expect("temp dir is removable");
    }

    #[test]
    fn read_rejects_invalid_utf8_with_line() {
        let dir = std::env::temp_dir().join(format!("vouch-checklist-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        let path = dir.join("latin1.md");
        std::fs::write(&path, b"# T\n\n- [ ] caf\xe9\n").expect("temp file is writable");
        let err = Checklist::read(&path).expect_err("not UTF-8");
        assert!(
            matches!(err, ChecklistError::NotUtf8 { line: 3, .. }),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).expect("temp dir is removable");
    }

    /// Items, claimed items, sections, lines and parents of a fixture.
    struct Expected<'a> {
        title: &'a str,
        claimed: usize,
        sections: &'a [&'a str],
        lines: &'a [usize],
        parents: &'a [Option<usize>],
    }

    fn check_fixture(source: &str, expected: &Expected<'_>) -> Checklist {
        let checklist = parse(source);
        assert_eq!(checklist.title.as_deref(), Some(expected.title));
        let lines: Vec<usize> = checklist.items.iter().map(|item| item.line).collect();
        assert_eq!(lines, expected.lines, "item lines");
        let parents: Vec<Option<usize>> = checklist.items.iter().map(|item| item.parent).collect();
        assert_eq!(parents, expected.parents, "item parents");
        assert_eq!(checklist.claimed_count(), expected.claimed, "claimed items");
        assert_eq!(checklist.sections(), expected.sections, "sections");
        for item in &checklist.items {
            let mark = &source[item.box_range.clone()];
            assert_eq!(item.claimed, mark != "[ ]", "{mark}");
            assert!(["[ ]", "[x]", "[X]"].contains(&mark), "{mark}");
        }
        checklist
    }

    #[test]
    fn fixture_flat_bold_lead_ins() {
        let source = include_str!("../tests/fixtures/checklists/flat_bold.md");
        let checklist = check_fixture(
            source,
            &Expected {
                title: "Launch Readiness Checklist",
                claimed: 9,
                sections: &[
                    "✅ Platform",
                    "✅ Protection",
                    "✅ Telemetry",
                    "Release Checklist",
                ],
                lines: &[5, 6, 7, 8, 12, 13, 14, 15, 19, 20, 43, 44, 48, 49],
                parents: &[None; 14],
            },
        );
        let item = &checklist.items[7];
        assert_eq!(item.id, "protection/health-endpoint-healthz-and-readyz");
        assert_eq!(item.text, "Health Endpoint - /healthz and /readyz");
        assert_eq!(
            item.display,
            "**Health Endpoint** - `/healthz` and `/readyz`"
        );
        assert!(checklist.items[5].claimed, "`[X]` counts as claimed");
        assert!(!checklist.items[6].claimed);
        assert_eq!(
            checklist.items[12].headings,
            ["Release Checklist", "After Release"]
        );
    }

    #[test]
    fn fixture_nested_items_code_blocks_and_tables() {
        let source = include_str!("../tests/fixtures/checklists/nested.md");
        let checklist = check_fixture(
            source,
            &Expected {
                title: "Go-Live Checklist",
                claimed: 4,
                sections: &["Before Launch", "Safety", "Sign-Off"],
                lines: &[
                    19, 20, 21, 22, 24, 32, 38, 39, 43, 44, 45, 47, 57, 58, 64, 65, 71, 72,
                ],
                parents: &[
                    None,
                    Some(0),
                    Some(0),
                    Some(0),
                    None,
                    None,
                    Some(5),
                    Some(5),
                    None,
                    Some(8),
                    Some(9),
                    // Under a plain bullet: the task above it is the parent.
                    Some(8),
                    None,
                    None,
                    None,
                    Some(14),
                    None,
                    None,
                ],
            },
        );
        let children: Vec<usize> = checklist.children(5).map(|(index, _)| index).collect();
        assert_eq!(children, [6, 7]);
        assert_eq!(checklist.items[5].text, "Dependencies audited");
        assert_eq!(checklist.items[4].text, "Configuration documented");
        assert_eq!(checklist.items[14].text, "Quoted reminder: page the owner");
        assert_eq!(checklist.items[16].id, "sign-off/engineering-date");
        assert_eq!(checklist.items[16].text, "Engineering: _ Date: ___");
    }

    #[test]
    fn fixture_subsections_and_numbered_tasks() {
        let source = include_str!("../tests/fixtures/checklists/subsections.md");
        let checklist = check_fixture(
            source,
            &Expected {
                title: "Beacon Readiness Checklist",
                claimed: 8,
                sections: &[
                    "✅ Delivery & Queues",
                    "✅ Interfaces",
                    "Launch Day",
                    "Sign-Off",
                ],
                lines: &[15, 16, 19, 20, 21, 28, 29, 37, 38, 61, 62, 65],
                parents: &[None; 12],
            },
        );
        let item = &checklist.items[3];
        assert_eq!(item.headings, ["✅ Delivery & Queues", "Workers"]);
        assert_eq!(
            item.id,
            "delivery-queues/workers/poison-messages-routed-to-a-parking-queue"
        );
        assert_eq!(
            item.display,
            "**Poison messages** routed to a parking queue"
        );
        assert_eq!(
            checklist.items[8].headings,
            ["Launch Day", "Final Checks (Before Switching DNS)"]
        );
    }

    #[test]
    fn fixture_mojibake_headings() {
        let source = include_str!("../tests/fixtures/checklists/mojibake.md");
        let checklist = check_fixture(
            source,
            &Expected {
                title: "Production Readiness Checklist",
                claimed: 0,
                sections: &[
                    "\u{e2}\u{153}\u{2026} Storage",
                    "\u{e2}\u{153}\u{2026} Gateway",
                    "\u{f0}\u{178}\u{201d}\u{90} Secrets",
                    "\u{f0}\u{178}\u{201c}\u{2039} Sign-off",
                ],
                lines: &[15, 16, 19, 24, 25, 26, 29, 34, 53, 54],
                parents: &[None; 10],
            },
        );
        let ids: Vec<&str> = checklist
            .items
            .iter()
            .map(|item| item.id.as_str())
            .collect();
        assert_eq!(ids[0], "storage/database/mariadb-primary-reachable");
        assert_eq!(ids[3], "gateway/endpoints/get-health-returns-200");
        assert_eq!(ids[7], "secrets/vault/tokens-rotated-weekly");
        assert_eq!(ids[9], "sign-off/rollback-rehearsed");
        assert_eq!(checklist.items[3].text, "GET /health returns 200");
        assert_eq!(checklist.items[3].display, "GET `/health` returns 200");
    }

    #[test]
    fn fixture_crlf_and_bom() {
        let source = include_str!("../tests/fixtures/checklists/crlf_bom.md");
        assert!(
            source.starts_with('\u{feff}') && source.contains("\r\n"),
            "fixture lost its BOM or CRLF"
        );
        let checklist = check_fixture(
            source,
            &Expected {
                title: "Relay Checklist",
                claimed: 3,
                sections: &["Network", "Storage"],
                lines: &[5, 6, 7, 12, 13],
                parents: &[None, Some(0), None, None, None],
            },
        );
        let wrapped = &checklist.items[2];
        assert_eq!(wrapped.text, "Port 8080 closed to the public");
        assert_eq!(wrapped.display, "Port 8080 closed to the public");
        assert!(source[..wrapped.line_end].ends_with("  to the public"));
        assert_eq!(&source[wrapped.line_end..wrapped.line_end + 2], "\r\n");
        let first = &checklist.items[0];
        assert_eq!(
            &source[first.box_range.start - 2..first.line_end],
            "- [x] Port 443 open"
        );
        assert_eq!(checklist.items[4].display, "Snapshots **hourly**");
    }
}
