//! `--format human`: items grouped by file, a mark and verdict per item, the
//! evidence line under it, failing checks spelled out, and a summary.

use std::fmt::Write;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Report;
use super::escape::terminal as esc;
use crate::outcome::{ChecklistOutcome, ItemOutcome, ItemVerdict, Verdict};

struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    fn blue(&self, t: &str) -> String {
        self.paint("34", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
}

/// Renders the report for people.
pub fn render(report: &Report, color: bool) -> String {
    let p = Paint { color };
    let mut out = head(report, color);
    for item in report.items.iter().filter(|i| !i.not_in_shard) {
        render_item(&mut out, &p, item);
    }
    let elsewhere = report.items.iter().filter(|i| i.not_in_shard).count();
    if elsewhere > 0 {
        let _ = writeln!(
            out,
            "{}",
            p.dim(&format!(
                "  {elsewhere} item{} in other shards, not run here",
                if elsewhere == 1 { "" } else { "s" }
            ))
        );
    }
    out.push_str(&tail(report, color));
    out
}

/// What comes before the items: the files, the checklist, the shard, the
/// refutations and the unverified ticks.
pub(crate) fn head(report: &Report, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    for file in &report.files {
        let name = esc(file.name.as_deref().unwrap_or(&file.path));
        let target = esc(file.target.as_deref().unwrap_or("(no target)"));
        let _ = writeln!(out, "{} {} {target}", p.bold(&name), p.dim("→"));
    }
    if let Some(checklist) = &report.checklist {
        let path = esc(checklist.path.as_deref().unwrap_or("(checklist)"));
        match &checklist.title {
            Some(title) => {
                let title = esc(title);
                let _ = writeln!(out, "{} {path} ({title})", p.dim("checklist:"));
            }
            None => {
                let _ = writeln!(out, "{} {path}", p.dim("checklist:"));
            }
        }
    }
    if let Some(shard) = report.shard {
        let _ = writeln!(
            out,
            "{} {} of {} (counts, score and coverage are over this shard's items)",
            p.dim("shard:"),
            shard.index,
            shard.count
        );
    }
    if !report.files.is_empty() {
        out.push('\n');
    }
    if let Some(checklist) = &report.checklist {
        render_refutations(&mut out, &p, checklist);
        render_unverified(&mut out, &p, checklist);
    }
    out
}

/// One item's lines.
pub(crate) fn item(item: &ItemOutcome, color: bool) -> String {
    let mut out = String::new();
    render_item(&mut out, &Paint { color }, item);
    out
}

/// What comes after the items: the sections, the score and the summary.
pub(crate) fn tail(report: &Report, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    if let Some(checklist) = &report.checklist {
        render_sections(&mut out, &p, checklist);
    }
    render_summary(&mut out, &p, report);
    out
}

/// Refuted items first: the checklist says done, the deployment says no.
fn render_refutations(out: &mut String, p: &Paint, checklist: &ChecklistOutcome) {
    let refuted: Vec<_> = checklist.items.iter().filter(|i| i.refuted).collect();
    if refuted.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{} ({}): ticked in the checklist, refuted by the deployment",
        p.red(&p.bold("REFUTED")),
        refuted.len()
    );
    for item in refuted {
        let _ = writeln!(
            out,
            "  {} {} {}",
            p.red("✘"),
            esc(&item.text),
            p.dim(&format!("(line {})", item.line))
        );
        if let Some(reason) = &item.reason {
            let _ = writeln!(out, "      {}", esc(reason));
        }
    }
    out.push('\n');
}

/// After the refutations: ticks nothing verified, which would otherwise pass
/// for verified ones.
fn render_unverified(out: &mut String, p: &Paint, checklist: &ChecklistOutcome) {
    let unverified: Vec<_> = checklist
        .items
        .iter()
        .filter(|i| i.claimed && i.verdict == ItemVerdict::Manual && !i.not_in_shard)
        .collect();
    if unverified.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{} ({}): ticked in the checklist, no probe or attestation behind it",
        p.yellow(&p.bold("CLAIMED, NOT VERIFIED")),
        unverified.len()
    );
    for item in unverified {
        let _ = writeln!(
            out,
            "  {} {} {}",
            p.dim("·"),
            esc(&item.text),
            p.dim(&format!("(line {})", item.line))
        );
    }
    out.push('\n');
}

/// The per-section table, the score and the coverage.
fn render_sections(out: &mut String, p: &Paint, checklist: &ChecklistOutcome) {
    let width = checklist
        .sections
        .iter()
        .map(|s| esc(&s.name).width())
        .max()
        .unwrap_or(7)
        .clamp(7, 48);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>5}  {:>7}  {:>8}  {:>8}  {:>6}  {:>7}  {:>6}  {:>5}",
        "section",
        "items",
        "claimed",
        "verified",
        "attested",
        "failed",
        "refuted",
        "manual",
        "score"
    );
    for section in &checklist.sections {
        let c = &section.counts;
        let mut name = String::new();
        for c in esc(&section.name).chars() {
            if name.width() + c.width().unwrap_or(0) > width {
                break;
            }
            name.push(c);
        }
        let pad = width.saturating_sub(name.width());
        let _ = writeln!(
            out,
            "{name}{}  {:>5}  {:>7}  {:>8}  {:>8}  {:>6}  {:>7}  {:>6}  {:>5.0}",
            " ".repeat(pad),
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
    let c = &checklist.counts;
    let score = format!("readiness {:.0}/100", checklist.score);
    let _ = writeln!(
        out,
        "\n{} · coverage {:.0}% · claimed {}/{}, verified {}, attested {}, refuted {}, ticked but unverified {}, failed {}, manual {}",
        p.bold(&score),
        checklist.coverage,
        c.claimed,
        c.items,
        c.verified,
        c.attested,
        if c.refuted > 0 {
            p.red(&c.refuted.to_string())
        } else {
            c.refuted.to_string()
        },
        if c.unverified > 0 {
            p.yellow(&c.unverified.to_string())
        } else {
            c.unverified.to_string()
        },
        c.failed,
        c.manual
    );
}

fn mark(p: &Paint, verdict: ItemVerdict) -> String {
    match verdict {
        ItemVerdict::Verified => p.green("✔"),
        ItemVerdict::Failed => p.red("✘"),
        ItemVerdict::Error => p.yellow("!"),
        ItemVerdict::Attested => p.blue("≈"),
        ItemVerdict::Manual => p.dim("·"),
        ItemVerdict::Skipped => p.dim("-"),
        ItemVerdict::Partial => p.yellow("◐"),
    }
}

fn verdict_word(p: &Paint, verdict: ItemVerdict) -> String {
    let word = verdict.as_str();
    match verdict {
        ItemVerdict::Verified => p.green(word),
        ItemVerdict::Failed => p.red(word),
        ItemVerdict::Error => p.yellow(word),
        ItemVerdict::Attested => p.blue(word),
        ItemVerdict::Manual | ItemVerdict::Skipped => p.dim(word),
        ItemVerdict::Partial => p.yellow("partially verified"),
    }
}

fn render_item(out: &mut String, p: &Paint, item: &ItemOutcome) {
    let flaky = if item.flaky {
        format!(" {}", p.yellow("(flaky)"))
    } else {
        String::new()
    };
    // `major` is the default and goes without saying.
    let severity = match item.severity {
        crate::spec::Severity::Major => String::new(),
        crate::spec::Severity::Critical => format!(" {}", p.red("[critical]")),
        crate::spec::Severity::Minor => format!(" {}", p.dim("[minor]")),
    };
    let _ = writeln!(
        out,
        "{} {}  {}{severity}{flaky}",
        mark(p, item.verdict),
        esc(&item.item),
        verdict_word(p, item.verdict)
    );
    if let Some(a) = &item.attestation {
        let note = a
            .note
            .as_deref()
            .map(|n| format!("; {}", esc(n)))
            .unwrap_or_default();
        let line = if a.stale {
            format!(
                "attested by {} on {}: stale since {}{note}",
                esc(&a.by),
                esc(&a.on),
                esc(a.expires.get(..10).unwrap_or(&a.expires))
            )
        } else {
            format!(
                "attested by {} on {}, valid until {}{note}",
                esc(&a.by),
                esc(&a.on),
                esc(a.expires.get(..10).unwrap_or(&a.expires))
            )
        };
        let _ = writeln!(
            out,
            "    {}",
            if a.stale { p.red(&line) } else { p.dim(&line) }
        );
    }
    for probe in &item.probes {
        let probe_mark = match probe.verdict {
            Verdict::Pass => p.green("✔"),
            Verdict::Fail => p.red("✘"),
            Verdict::Error => p.yellow("!"),
            Verdict::Skip => p.dim("-"),
        };
        let _ = writeln!(out, "    {probe_mark} {}", esc(&probe.summary));
        if probe.verdict == Verdict::Fail {
            for check in probe.checks.iter().filter(|c| !c.passed) {
                let _ = writeln!(
                    out,
                    "        {} expected {}, got {}",
                    p.dim(&format!("{}:", esc(&check.name))),
                    esc(&check.expected),
                    esc(&check.actual)
                );
            }
            let at = format!("at {}", esc(&probe.location));
            let _ = writeln!(out, "        {}", p.dim(&at));
        }
        if probe.attempts.len() > 1 {
            let trail: Vec<&str> = probe.attempts.iter().map(|a| a.verdict.as_str()).collect();
            let _ = writeln!(
                out,
                "        {}",
                p.dim(&format!("attempts: {}", trail.join(" → ")))
            );
        }
    }
}

fn render_summary(out: &mut String, p: &Paint, report: &Report) {
    let s = &report.summary;
    let mut parts = Vec::new();
    for (count, word) in [
        (s.verified, "verified"),
        (s.failed, "failed"),
        (s.error, "error"),
        (s.attested, "attested"),
        (s.manual, "manual"),
        (s.skipped, "skipped"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {word}"));
        }
    }
    if s.flaky > 0 {
        parts.push(format!("{} flaky", s.flaky));
    }
    if s.unverified > 0 {
        parts.push(format!("{} ticked but unverified", s.unverified));
    }
    let items = if s.items == 1 { "item" } else { "items" };
    let probes = if s.probes.total == 1 {
        "probe"
    } else {
        "probes"
    };
    let _ = writeln!(
        out,
        "\n{} {items}: {} · {} {probes} in {:.2} s",
        s.items,
        if parts.is_empty() {
            "nothing to run".to_owned()
        } else {
            parts.join(", ")
        },
        s.probes.total,
        report.duration_ms / 1000.0
    );
    let gate = if report.interrupted {
        p.yellow("INTERRUPTED")
    } else if s.passed {
        p.green("PASSED")
    } else {
        p.red("FAILED")
    };
    let rules = if s.gate.rules.is_empty() {
        format!("--fail-on {}", s.fail_on.join(","))
    } else {
        s.gate.rules.join("; ")
    };
    let _ = writeln!(out, "gate: {gate} ({})", esc(&rules));
    for tripped in &s.gate.tripped {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            p.red("✘"),
            esc(&tripped.rule),
            esc(&tripped.reason)
        );
        for item in &tripped.items {
            let _ = writeln!(out, "      {}", esc(item));
        }
    }
}
