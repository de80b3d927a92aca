//! `--format human`: items grouped by file, a mark and verdict per item, the
//! evidence line under it, failing checks spelled out, and a summary.

use std::fmt::Write;

use super::Report;
use crate::outcome::{ItemOutcome, ItemVerdict, Verdict};

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
    let mut out = String::new();
    for file in &report.files {
        let name = file.name.as_deref().unwrap_or(&file.path);
        let target = file.target.as_deref().unwrap_or("(no target)");
        let _ = writeln!(out, "{} {} {}", p.bold(name), p.dim("→"), target);
    }
    if !report.files.is_empty() {
        out.push('\n');
    }
    for item in &report.items {
        render_item(&mut out, &p, item);
    }
    render_summary(&mut out, &p, report);
    out
}

fn mark(p: &Paint, verdict: ItemVerdict) -> String {
    match verdict {
        ItemVerdict::Verified => p.green("✔"),
        ItemVerdict::Failed => p.red("✘"),
        ItemVerdict::Error => p.yellow("!"),
        ItemVerdict::Attested => p.blue("≈"),
        ItemVerdict::Manual => p.dim("·"),
        ItemVerdict::Skipped => p.dim("-"),
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
    }
}

fn render_item(out: &mut String, p: &Paint, item: &ItemOutcome) {
    let flaky = if item.flaky {
        format!(" {}", p.yellow("(flaky)"))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{} {}  {}{flaky}",
        mark(p, item.verdict),
        item.item,
        verdict_word(p, item.verdict)
    );
    if let Some(a) = &item.attestation {
        let note = a
            .note
            .as_deref()
            .map(|n| format!("; {n}"))
            .unwrap_or_default();
        let line = if a.stale {
            format!(
                "attested by {} on {}: stale since {}{note}",
                a.by,
                a.on,
                &a.expires[..10]
            )
        } else {
            format!(
                "attested by {} on {}, valid until {}{note}",
                a.by,
                a.on,
                &a.expires[..10]
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
        let _ = writeln!(out, "    {probe_mark} {}", probe.summary);
        if probe.verdict == Verdict::Fail {
            for check in probe.checks.iter().filter(|c| !c.passed) {
                let _ = writeln!(
                    out,
                    "        {} expected {}, got {}",
                    p.dim(&format!("{}:", check.name)),
                    check.expected,
                    check.actual
                );
            }
            let _ = writeln!(out, "        {}", p.dim(&format!("at {}", probe.location)));
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
    let fail_on: Vec<String> = s
        .fail_on
        .iter()
        .map(|c| format!("{c:?}").to_lowercase())
        .collect();
    let gate = if report.interrupted {
        p.yellow("INTERRUPTED")
    } else if s.passed {
        p.green("PASSED")
    } else {
        p.red("FAILED")
    };
    let _ = writeln!(out, "gate: {gate} (--fail-on {})", fail_on.join(","));
}
