//! `--format github`: GitHub Actions workflow commands. Refuted and failed
//! items become `::error` annotations at their checklist lines (or, without a
//! checklist, at their `item:` in the probe file), items in error and flaky
//! ones `::warning`s, so a pull request shows the red marks on the checklist.
//! [`step_summary`] is the job page's summary in GitHub-flavoured markdown.
//!
//! Target text cannot issue a workflow command of its own: the runner reads a
//! command only at the start of a line, and every text here is one line
//! ([`escape::terminal`] writes line breaks visibly) with `%`, CR and LF
//! encoded as the runner decodes them (and `:` and `,` in properties).
//! GitHub shows at most 10 errors and 10 warnings per step: refuted items
//! come first.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::{Report, escape};
use crate::outcome::{ChecklistItemOutcome, ItemOutcome, ItemVerdict, Verdict};

/// Renders the annotations and a closing summary line.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    match &report.checklist {
        Some(checklist) => {
            let file = annotation_path(checklist.path.as_deref().unwrap_or("CHECKLIST.md"));
            let flaky = flaky_locations(report);
            let mut annotated: Vec<(u8, &ChecklistItemOutcome)> = checklist
                .items
                .iter()
                .filter_map(|item| {
                    let flaky = item.bound.iter().any(|l| flaky.contains(l.as_str()));
                    severity(item, flaky).map(|rank| (rank, item))
                })
                .collect();
            // Refuted first: only the first ten errors per step are shown.
            annotated.sort_by_key(|(rank, item)| (*rank, item.line));
            for (rank, item) in annotated {
                let outcomes: Vec<&ItemOutcome> = report
                    .items
                    .iter()
                    .filter(|o| item.bound.contains(&o.location))
                    .collect();
                let mut lines: Vec<String> = item.reason.iter().map(|r| line(r)).collect();
                lines.extend(evidence(&outcomes));
                let (command, word) = match rank {
                    0 => ("error", "refuted"),
                    1 => ("error", "failed"),
                    2 => ("warning", "error"),
                    _ => ("warning", "flaky"),
                };
                let title = format!("{word}: {}", line(&item.text));
                command_line(
                    &mut out,
                    command,
                    &file,
                    item.line,
                    None,
                    &title,
                    &lines.join("\n"),
                );
            }
        }
        None => {
            for item in &report.items {
                let word = match item.verdict {
                    ItemVerdict::Failed => "failed",
                    ItemVerdict::Error => "error",
                    _ if item.flaky => "flaky",
                    _ => continue,
                };
                let command = if word == "failed" { "error" } else { "warning" };
                let (line_no, column) = position(&item.location);
                let mut lines: Vec<String> = item.reason.iter().map(|r| line(r)).collect();
                lines.extend(evidence(&[item]));
                let title = format!("{word}: {}", line(&item.item));
                command_line(
                    &mut out,
                    command,
                    &annotation_path(&item.file),
                    line_no,
                    column,
                    &title,
                    &lines.join("\n"),
                );
            }
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "vouch: gate {} against {}: {} items, {} verified, {} failed, {} error, {} flaky{}",
        if s.passed { "passed" } else { "failed" },
        line(report.target()),
        s.items,
        s.verified,
        s.failed,
        s.error,
        s.flaky,
        report
            .checklist
            .as_ref()
            .map(|c| format!(
                "; readiness {:.0}/100, {} refuted",
                c.score, c.counts.refuted
            ))
            .unwrap_or_default()
    );
    out
}

/// How an item is annotated: 0 refuted, 1 failed (errors), 2 error, 3 flaky
/// (warnings); `None` when not at all. Parents are annotated only when
/// refuted or bound themselves: their children carry the marks.
fn severity(item: &ChecklistItemOutcome, flaky: bool) -> Option<u8> {
    if item.refuted {
        return Some(0);
    }
    if item.bound.is_empty() {
        return None;
    }
    match item.verdict {
        ItemVerdict::Failed => Some(1),
        ItemVerdict::Error => Some(2),
        _ if flaky => Some(3),
        _ => None,
    }
}

/// Locations of the probe-file items where some probe passed only on a retry.
fn flaky_locations(report: &Report) -> BTreeSet<&str> {
    report
        .items
        .iter()
        .filter(|i| i.flaky)
        .map(|i| i.location.as_str())
        .collect()
}

/// `3` and `5` of `probes.yaml:3:5` (line 1 when unreadable).
fn position(location: &str) -> (usize, Option<usize>) {
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next().and_then(|c| c.parse().ok());
    let line = parts.next().and_then(|l| l.parse().ok());
    match (line, column) {
        (Some(line), column) => (line, column),
        (None, _) => (1, None),
    }
}

/// The probes that did not pass (or passed on a retry), and their failing
/// checks: one line each.
fn evidence(outcomes: &[&ItemOutcome]) -> Vec<String> {
    let mut lines = Vec::new();
    for outcome in outcomes {
        for probe in outcome
            .probes
            .iter()
            .filter(|p| p.verdict != Verdict::Pass || p.flaky)
        {
            // The item's reason is most often this summary: not twice.
            let summary = if outcome.reason.as_deref() == Some(probe.summary.as_str()) {
                String::new()
            } else {
                format!(": {}", line(&probe.summary))
            };
            lines.push(format!(
                "[{}{}] {} ({}){summary}",
                probe.verdict.as_str(),
                if probe.flaky { ", flaky" } else { "" },
                line(&probe.name),
                line(&probe.location)
            ));
            for check in probe.checks.iter().filter(|c| !c.passed) {
                lines.push(format!(
                    "  {}: expected {}, got {}",
                    line(&check.name),
                    line(&check.expected),
                    line(&check.actual)
                ));
            }
        }
    }
    lines
}

/// One line of target text: controls (line breaks included) written visibly.
fn line(text: &str) -> String {
    escape::terminal(text).into_owned()
}

/// Writes `::COMMAND file=…,line=…[,col=…],title=…::MESSAGE` and a line break.
fn command_line(
    out: &mut String,
    command: &str,
    file: &str,
    line: usize,
    column: Option<usize>,
    title: &str,
    message: &str,
) {
    let _ = write!(out, "::{command} file={},line={line}", property(file));
    if let Some(column) = column {
        let _ = write!(out, ",col={column}");
    }
    let _ = writeln!(out, ",title={}::{}", property(title), data(message));
}

/// A command's message, encoded as the runner decodes it: `%`, CR and LF.
pub fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value: as [`data`], plus `:` and `,`, which end it.
pub fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The path GitHub matches against the repository: `probes/../CHECKLIST.md`
/// as `CHECKLIST.md`, an absolute path under the working directory (the
/// checkout, in a workflow) relative to it.
fn annotation_path(path: &str) -> String {
    let path = Path::new(path);
    let path = match std::env::current_dir() {
        Ok(cwd) if path.is_absolute() => path.strip_prefix(&cwd).unwrap_or(path).to_owned(),
        _ => path.to_owned(),
    };
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(normal.components().next_back(), Some(Component::Normal(_))) =>
            {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal.display().to_string()
}

/// The job summary: the gate, refuted items first, the score per section, and
/// every item in a collapsed table. Every text crosses [`escape::markdown`].
pub fn step_summary(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(
        out,
        "## vouch: {} against `{}`\n",
        if s.passed {
            "✅ gate passed"
        } else {
            "❌ gate failed"
        },
        code(report.target())
    );
    if report.interrupted {
        out.push_str("**Interrupted**: unfinished probes are reported as skipped.\n\n");
    }
    let _ = writeln!(
        out,
        "{} items: {} verified, {} failed, {} error, {} attested, {} manual, {} skipped, {} flaky · {} probes in {:.1} s\n",
        s.items,
        s.verified,
        s.failed,
        s.error,
        s.attested,
        s.manual,
        s.skipped,
        s.flaky,
        s.probes.total,
        report.duration_ms / 1000.0
    );
    match &report.checklist {
        Some(checklist) => {
            let refuted: Vec<&ChecklistItemOutcome> =
                checklist.items.iter().filter(|i| i.refuted).collect();
            if !refuted.is_empty() {
                let _ = writeln!(
                    out,
                    "### ❌ Refuted ({}): ticked in the checklist, refuted by the deployment\n",
                    refuted.len()
                );
                for item in refuted {
                    let _ = write!(out, "- **{}** (line {})", cell(&item.text), item.line);
                    match &item.reason {
                        Some(reason) => {
                            let _ = writeln!(out, ": {}", cell(reason));
                        }
                        None => out.push('\n'),
                    }
                }
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "### Readiness {:.0}/100 · coverage {:.0}%{}\n",
                checklist.score,
                checklist.coverage,
                checklist
                    .path
                    .as_deref()
                    .map(|p| format!(" · `{}`", code(&annotation_path(p))))
                    .unwrap_or_default()
            );
            out.push_str("| section | items | claimed | verified | attested | failed | refuted | manual | score |\n");
            out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
            for section in &checklist.sections {
                let c = &section.counts;
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
                    cell(&section.name),
                    c.items,
                    c.claimed,
                    c.verified,
                    c.attested,
                    c.failed,
                    c.refuted,
                    c.manual,
                    section.score
                );
            }
            let _ = writeln!(
                out,
                "\n<details><summary>All {} checklist items</summary>\n",
                checklist.items.len()
            );
            out.push_str("| | line | item | verdict | why |\n|---|--:|---|---|---|\n");
            for item in &checklist.items {
                let verdict = if item.refuted {
                    "refuted"
                } else {
                    item.verdict.as_str()
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {verdict} | {} |",
                    icon(item.verdict, item.refuted),
                    item.line,
                    cell(&item.text),
                    cell(item.reason.as_deref().unwrap_or(""))
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
                "<details><summary>All {} items</summary>\n",
                report.items.len()
            );
            out.push_str("| | item | verdict | where | why |\n|---|---|---|---|---|\n");
            for item in &report.items {
                let _ = writeln!(
                    out,
                    "| {} | {} | {}{} | {} | {} |",
                    icon(item.verdict, false),
                    cell(&item.item),
                    item.verdict.as_str(),
                    if item.flaky { ", flaky" } else { "" },
                    cell(&item.location),
                    cell(item.reason.as_deref().unwrap_or(""))
                );
            }
        }
    }
    out.push_str("\n</details>\n\n");
    out
}

/// Appends [`step_summary`] to `path` (the file `$GITHUB_STEP_SUMMARY` names).
///
/// # Errors
///
/// When the file cannot be opened or written.
pub fn append_step_summary(report: &Report, path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(step_summary(report).as_bytes())
}

fn icon(verdict: ItemVerdict, refuted: bool) -> &'static str {
    if refuted {
        return "❌";
    }
    match verdict {
        ItemVerdict::Verified => "✅",
        ItemVerdict::Failed => "🔴",
        ItemVerdict::Error => "⚠️",
        ItemVerdict::Attested => "📝",
        ItemVerdict::Manual => "⬜",
        ItemVerdict::Skipped => "⏭️",
        ItemVerdict::Partial => "◐",
    }
}

/// Target text in a markdown table cell: [`escape::markdown`], and `|`,
/// which would end the cell.
fn cell(text: &str) -> String {
    escape::markdown(text).replace('|', "\\|")
}

/// Text inside a code span vouch writes: backticks would end it, controls
/// are written visibly.
fn code(text: &str) -> String {
    escape::terminal(text).replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_data_and_properties_as_the_runner_decodes_them() {
        assert_eq!(data("100%\r\n::add-mask::x"), "100%25%0D%0A::add-mask::x");
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn reads_line_and_column_of_a_location() {
        assert_eq!(position("probes/a.yaml:12:5"), (12, Some(5)));
        assert_eq!(position("C:/x.yaml:3:1"), (3, Some(1)));
        assert_eq!(position("nowhere"), (1, None));
    }

    #[test]
    fn normalises_checklist_paths() {
        assert_eq!(annotation_path("probes/../CHECKLIST.md"), "CHECKLIST.md");
        assert_eq!(annotation_path("./docs/./c.md"), "docs/c.md");
        assert_eq!(annotation_path("../up.md"), "../up.md");
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(
            annotation_path(&cwd.join("a/b.md").display().to_string()),
            "a/b.md"
        );
    }

    #[test]
    fn table_cells_cannot_end_the_cell_or_the_line() {
        assert_eq!(cell("a|b\n<x>"), "a\\|b\\n&lt;x&gt;");
    }
}
