//! `--format html`: one self-contained page for a readiness review — the
//! gate and why, the scores as bars, refuted items first, then the checklist
//! as written with each item's evidence one click away (`<details>`, so it
//! reads without JavaScript; the inline script only adds filters). No
//! external request of any kind. Evidence is rendered generically from its
//! JSON keys; every text from a target or a file crosses [`escape::html`].

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use super::{Report, escape};
use crate::outcome::{ChecklistItemOutcome, ItemOutcome, ItemVerdict, ProbeOutcome};
use crate::spec::Severity;

/// Evidence nested deeper than this is cut (`…`): a page for people.
const MAX_DEPTH: usize = 8;
/// Array entries shown per list.
const MAX_ENTRIES: usize = 200;

/// Target or file text, escaped for element content and quoted attributes.
fn e(text: &str) -> Cow<'_, str> {
    escape::html(text)
}

/// Multi-line target text for a `<pre>`: each line escaped, breaks kept.
fn pre(text: &str) -> String {
    text.split('\n')
        .map(|line| e(line.strip_suffix('\r').unwrap_or(line)).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// An item of the page, for [`render_watched`]'s "since": a checklist item
/// by its index in the checklist, or (without a checklist) a probe-file item
/// by its index in [`Report::items`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemRef {
    /// `report.checklist.items[i]`.
    Checklist(usize),
    /// `report.items[i]`.
    Item(usize),
}

/// How long each item has been in its state (`3m ago`), when known.
pub type SinceFn<'a> = &'a dyn Fn(ItemRef) -> Option<String>;

/// Renders the report as one HTML page.
pub fn render(report: &Report) -> String {
    page(report, None)
}

/// The page `vouch watch` serves at `/`: the report of its last run, each
/// item with how long it has been in its state, and links to the daemon's
/// `/metrics` and `/report.json`.
pub fn render_watched(report: &Report, since: SinceFn<'_>) -> String {
    page(report, Some(since))
}

fn page(report: &Report, since: Option<SinceFn<'_>>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = match report.checklist.as_ref().and_then(|c| c.title.as_deref()) {
        Some(title) => format!("{} — {}", e(title), e(report.target())),
        None => e(report.target()).into_owned(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>vouch: {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>vouch report: {title}</h1>\n"
    );
    if since.is_some() {
        out.push_str(
            "<p class=\"dim\">The last complete run of <code>vouch watch</code> · \
             <a href=\"/metrics\">metrics</a> · <a href=\"/report.json\">report.json</a></p>\n",
        );
    }
    header(&mut out, report);
    gate(&mut out, report);
    readiness(&mut out, report);
    claims(&mut out, report);
    out.push_str("<section id=\"items\">\n<h2>Items</h2>\n");
    match (&report.checklist, &report.checklist_doc) {
        (Some(outcome), Some(doc)) => {
            checklist(&mut out, report, &outcome.items, doc, since);
            let bound: BTreeSet<&str> = outcome
                .items
                .iter()
                .flat_map(|i| i.bound.iter().map(String::as_str))
                .collect();
            let rest: Vec<(usize, &ItemOutcome)> = report
                .items
                .iter()
                .enumerate()
                .filter(|(_, i)| !bound.contains(i.location.as_str()))
                .collect();
            if !rest.is_empty() {
                out.push_str(
                    "<h3>Probe-file items not in the checklist</h3>\n<ul class=\"list\">\n",
                );
                for (index, item) in rest {
                    probe_item(&mut out, index, item, None);
                }
                out.push_str("</ul>\n");
            }
        }
        _ => {
            for file in &report.files {
                let _ = writeln!(
                    out,
                    "<h3>{}</h3>\n<ul class=\"list\">",
                    e(file.name.as_deref().unwrap_or(&file.path))
                );
                for (index, item) in report.items.iter().enumerate() {
                    if item.file == file.path {
                        probe_item(&mut out, index, item, since);
                    }
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out.push_str("</section>\n</main>\n");
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// Deployment, target, times, version.
fn header(out: &mut String, report: &Report) {
    out.push_str("<table class=\"meta\">\n");
    let row = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
    };
    for file in &report.files {
        let name = match &file.name {
            Some(name) => format!("{} <span class=\"dim\">({})</span>", e(name), e(&file.path)),
            None => e(&file.path).into_owned(),
        };
        row(out, "deployment", &name);
        row(
            out,
            "target",
            &format!(
                "<code>{}</code>",
                e(file.target.as_deref().unwrap_or("(no target)"))
            ),
        );
    }
    if let Some(c) = &report.checklist {
        let path = e(c.path.as_deref().unwrap_or("(checklist)"));
        row(out, "checklist", &path);
    }
    row(
        out,
        "time",
        &format!(
            "{} → {} ({:.2} s)",
            e(&report.started_at),
            e(&report.finished_at),
            report.duration_ms / 1000.0
        ),
    );
    row(out, "vouch", &e(&report.vouch_version));
    if report.interrupted {
        row(out, "run", "<b class=\"v-error\">interrupted</b>");
    }
    out.push_str("</table>\n");
}

/// The gate's result, its rules, and what tripped each failed one.
fn gate(out: &mut String, report: &Report) {
    let gate = &report.summary.gate;
    let (class, word) = if report.interrupted {
        ("v-error", "INTERRUPTED")
    } else if gate.passed {
        ("v-verified", "PASSED")
    } else {
        ("v-failed", "FAILED")
    };
    let _ = writeln!(
        out,
        "<section id=\"gate\">\n<h2>Gate: <span class=\"badge {class}\">{word}</span></h2>"
    );
    let rules: Vec<String> = gate
        .rules
        .iter()
        .map(|r| format!("<code>{}</code>", e(r)))
        .collect();
    let _ = writeln!(out, "<p>Rules: {}</p>", rules.join(", "));
    if !gate.tripped.is_empty() {
        out.push_str("<ul class=\"tripped\">\n");
        for tripped in &gate.tripped {
            let _ = write!(
                out,
                "<li><code>{}</code>: {}",
                e(&tripped.rule),
                e(&tripped.reason)
            );
            if !tripped.items.is_empty() {
                out.push_str("<ul>");
                for item in &tripped.items {
                    let _ = write!(out, "<li>{}</li>", e(item));
                }
                out.push_str("</ul>");
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "<p class=\"dim\">{} items: {} verified, {} failed, {} error, {} attested, {} manual, {} skipped, {} flaky, {} ticked but unverified · {} probes</p>\n</section>",
        s.items,
        s.verified,
        s.failed,
        s.error,
        s.attested,
        s.manual,
        s.skipped,
        s.flaky,
        s.unverified,
        s.probes.total
    );
}

/// Overall score, coverage and one bar per section.
fn readiness(out: &mut String, report: &Report) {
    let Some(c) = &report.checklist else {
        return;
    };
    let k = &c.counts;
    let _ = writeln!(
        out,
        "<section id=\"readiness\">\n<h2>Readiness {:.0}/100</h2>\n{}\n\
         <p>Coverage {:.0}% · claimed {}/{}, verified {}, attested {}, refuted {}, ticked but unverified {}, failed {}, manual {}</p>\n<table class=\"bars\">",
        c.score,
        bar(c.score),
        c.coverage,
        k.claimed,
        k.items,
        k.verified,
        k.attested,
        k.refuted,
        k.unverified,
        k.failed,
        k.manual
    );
    for section in &c.sections {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td><td class=\"num\">{:.0}</td><td class=\"dim\">{} items, {} verified, {} attested, {} failed, {} manual · weight {}</td></tr>",
            e(&section.name),
            bar(section.score),
            section.score,
            section.counts.items,
            section.counts.verified,
            section.counts.attested,
            section.counts.failed,
            section.counts.manual,
            section.weight
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// A 0–100 bar; the number is beside it, so it reads without styles too.
fn bar(score: f64) -> String {
    let width = score.clamp(0.0, 100.0);
    let class = if width >= 80.0 {
        "good"
    } else if width >= 50.0 {
        "fair"
    } else {
        "poor"
    };
    format!(
        "<span class=\"bar\" role=\"img\" aria-label=\"{width:.0} of 100\"><span class=\"fill {class}\" style=\"width:{width:.1}%\"></span></span>"
    )
}

/// Refuted items first, then ticks nothing verified.
fn claims(out: &mut String, report: &Report) {
    let Some(c) = &report.checklist else {
        return;
    };
    let list = |out: &mut String,
                title: &str,
                id: &str,
                items: &[(usize, &ChecklistItemOutcome)]| {
        if items.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "<section id=\"{id}\">\n<h2>{title} ({})</h2>\n<ul>",
            items.len()
        );
        for (index, item) in items {
            let reason = item
                .reason
                .as_deref()
                .map(|r| format!(" — {}", e(r)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<li><a href=\"#c{index}\">{}</a> <span class=\"dim\">(line {})</span>{reason}</li>",
                e(&item.text),
                item.line
            );
        }
        out.push_str("</ul>\n</section>\n");
    };
    let refuted: Vec<_> = c
        .items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.refuted)
        .collect();
    list(
        out,
        "Refuted: ticked, but the deployment says no",
        "refuted",
        &refuted,
    );
    let unverified: Vec<_> = c
        .items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.claimed && i.verdict == ItemVerdict::Manual)
        .collect();
    list(
        out,
        "Ticked but unverified: no probe or attestation behind the tick",
        "unverified",
        &unverified,
    );
}

/// The checklist as written: its headings, its nesting, each item's box,
/// verdict and evidence.
fn checklist(
    out: &mut String,
    report: &Report,
    items: &[ChecklistItemOutcome],
    doc: &crate::checklist::Checklist,
    since: Option<SinceFn<'_>>,
) {
    let mut headings: &[String] = &[];
    let mut open = false;
    for (index, (item, written)) in items.iter().zip(&doc.items).enumerate() {
        if written.headings.as_slice() != headings {
            if open {
                out.push_str("</ul>\n");
            }
            let same = written
                .headings
                .iter()
                .zip(headings)
                .take_while(|(a, b)| a == b)
                .count();
            for (level, heading) in written.headings.iter().enumerate().skip(same) {
                let h = (level + 3).min(6);
                let _ = writeln!(out, "<h{h}>{}</h{h}>", e(heading));
            }
            headings = &written.headings;
            out.push_str("<ul class=\"list\">\n");
            open = true;
        } else if !open {
            out.push_str("<ul class=\"list\">\n");
            open = true;
        }
        let mut depth = 0;
        let mut parent = written.parent;
        while let Some(p) = parent {
            depth += 1;
            parent = doc.items.get(p).and_then(|i| i.parent);
        }
        let outcomes: Vec<&ItemOutcome> = report
            .items
            .iter()
            .filter(|o| item.bound.contains(&o.location))
            .collect();
        let since = since.and_then(|f| f(ItemRef::Checklist(index)));
        checklist_item(out, index, item, depth, &outcomes, since.as_deref());
    }
    if open {
        out.push_str("</ul>\n");
    }
}

fn badge(verdict: ItemVerdict) -> String {
    let word = match verdict {
        ItemVerdict::Partial => "partially verified",
        v => v.as_str(),
    };
    format!("<span class=\"badge v-{}\">{word}</span>", verdict.as_str())
}

fn severity_badge(severity: Severity) -> String {
    format!("<span class=\"badge s-{0}\">{0}</span>", severity.as_str())
}

fn checklist_item(
    out: &mut String,
    index: usize,
    item: &ChecklistItemOutcome,
    depth: usize,
    outcomes: &[&ItemOutcome],
    since: Option<&str>,
) {
    let section = item.section.as_deref().unwrap_or("");
    let unverified = item.claimed && item.verdict == ItemVerdict::Manual;
    let flaky = outcomes.iter().any(|o| o.flaky);
    let _ = write!(
        out,
        "<li id=\"c{index}\" class=\"item depth{}\" data-verdict=\"{}\" data-section=\"{}\" data-text=\"{}\">\n<details>\n<summary><span class=\"box\" title=\"{}\">{}</span> {} {}",
        depth.min(6),
        if item.refuted {
            "refuted"
        } else {
            item.verdict.as_str()
        },
        e(section),
        e(&item.text.to_lowercase()),
        if item.claimed {
            "ticked in the checklist"
        } else {
            "not ticked in the checklist"
        },
        if item.claimed { "[x]" } else { "[ ]" },
        e(&item.text),
        badge(item.verdict)
    );
    if item.refuted {
        out.push_str(" <span class=\"badge v-failed\">refuted</span>");
    }
    if unverified {
        out.push_str(" <span class=\"badge v-error\">claimed, not verified</span>");
    }
    if let Some(severity) = outcomes.iter().map(|o| o.severity).max() {
        out.push(' ');
        out.push_str(&severity_badge(severity));
    }
    if flaky {
        out.push_str(" <span class=\"badge v-error\">flaky</span>");
    }
    since_note(out, since);
    out.push_str("</summary>\n<div class=\"evidence\">\n");
    let _ = writeln!(out, "<p class=\"dim\">line {}</p>", item.line);
    if let Some(reason) = &item.reason {
        let _ = writeln!(out, "<p>{}</p>", e(reason));
    }
    if unverified {
        out.push_str("<p>Ticked in the checklist, but no probe or attestation verifies it.</p>\n");
    } else if outcomes.is_empty() && item.bound.is_empty() {
        out.push_str("<p>Not bound to any probe-file item.</p>\n");
    }
    for outcome in outcomes {
        outcome_body(out, outcome);
    }
    out.push_str("</div>\n</details>\n</li>\n");
}

/// `vouch watch`'s "since" in an item's summary line.
fn since_note(out: &mut String, since: Option<&str>) {
    if let Some(since) = since {
        let _ = write!(
            out,
            " <span class=\"since dim\" title=\"in this state since\">since {}</span>",
            e(since)
        );
    }
}

/// A probe-file item on its own (no checklist, or not in it).
fn probe_item(out: &mut String, index: usize, item: &ItemOutcome, since: Option<SinceFn<'_>>) {
    let _ = write!(
        out,
        "<li id=\"i{index}\" class=\"item\" data-verdict=\"{}\" data-section=\"\" data-text=\"{}\">\n<details>\n<summary>{} {} {}",
        item.verdict.as_str(),
        e(&item.item.to_lowercase()),
        e(&item.item),
        badge(item.verdict),
        severity_badge(item.severity)
    );
    if item.flaky {
        out.push_str(" <span class=\"badge v-error\">flaky</span>");
    }
    since_note(out, since.and_then(|f| f(ItemRef::Item(index))).as_deref());
    out.push_str("</summary>\n<div class=\"evidence\">\n");
    if let Some(reason) = &item.reason {
        let _ = writeln!(out, "<p>{}</p>", e(reason));
    }
    outcome_body(out, item);
    out.push_str("</div>\n</details>\n</li>\n");
}

/// One probe-file item's attestation and probes.
fn outcome_body(out: &mut String, item: &ItemOutcome) {
    let _ = writeln!(
        out,
        "<p class=\"dim\">{} · severity {}</p>",
        e(&item.location),
        item.severity.as_str()
    );
    if let Some(a) = &item.attestation {
        let note = a
            .note
            .as_deref()
            .map(|n| format!("; {}", e(n)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<p>Attested by {} on {}, {} {}{note}</p>",
            e(&a.by),
            e(&a.on),
            if a.stale {
                "stale since"
            } else {
                "valid until"
            },
            e(&a.expires)
        );
    }
    for probe in &item.probes {
        probe_body(out, probe);
    }
}

fn probe_body(out: &mut String, probe: &ProbeOutcome) {
    let _ = writeln!(
        out,
        "<div class=\"probe\">\n<p><span class=\"badge p-{0}\">{0}</span> <b>{1}</b> <code>{2}</code>{3}</p>\n<p>{4}</p>",
        probe.verdict.as_str(),
        e(&probe.kind),
        e(&probe.location),
        if probe.flaky {
            " <span class=\"badge v-error\">flaky</span>"
        } else {
            ""
        },
        e(&probe.summary)
    );
    if !probe.checks.is_empty() {
        out.push_str("<table class=\"checks\"><tr><th></th><th>check</th><th>expected</th><th>actual</th></tr>\n");
        for check in &probe.checks {
            let _ = writeln!(
                out,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if check.passed { "ok" } else { "bad" },
                if check.passed { "✔" } else { "✘" },
                e(&check.name),
                e(&check.expected),
                e(&check.actual)
            );
        }
        out.push_str("</table>\n");
    }
    if probe.attempts.len() > 1 {
        out.push_str("<p>Attempts:</p><ol class=\"attempts\">");
        for attempt in &probe.attempts {
            let _ = write!(
                out,
                "<li><span class=\"badge p-{0}\">{0}</span> {1} <span class=\"dim\">({2:.0} ms, {3})</span></li>",
                attempt.verdict.as_str(),
                e(&attempt.summary),
                attempt.duration_ms,
                e(&attempt.started_at)
            );
        }
        out.push_str("</ol>\n");
    }
    match serde_json::from_str::<Value>(probe.evidence.get()) {
        Ok(Value::Null) | Err(_) => {}
        Ok(evidence) => {
            out.push_str("<details class=\"raw\" open><summary>evidence</summary>\n");
            value(out, &evidence, 0);
            out.push_str("</details>\n");
        }
    }
    out.push_str("</div>\n");
}

/// Any evidence, from its JSON alone: objects as definition lists, lists as
/// lists, long or multi-line text as preformatted. Shapes any kind may use
/// get a picture: `days_left` a coloured count, `p50`/`p95`/`p99` numbers a
/// latency chart, `sent` with `first_limited.index` a strip of requests.
fn value(out: &mut String, v: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        out.push('…');
        return;
    }
    match v {
        Value::Null => out.push_str("<span class=\"dim\">none</span>"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) if s.contains('\n') || s.chars().count() > 120 => {
            let _ = write!(out, "<pre>{}</pre>", pre(s));
        }
        Value::String(s) => {
            let _ = write!(out, "<code>{}</code>", e(s));
        }
        Value::Array(list) if list.is_empty() => out.push_str("<span class=\"dim\">(none)</span>"),
        Value::Array(list) => {
            out.push_str("<ol class=\"json\">");
            for entry in list.iter().take(MAX_ENTRIES) {
                out.push_str("<li>");
                value(out, entry, depth + 1);
                out.push_str("</li>");
            }
            if list.len() > MAX_ENTRIES {
                let _ = write!(out, "<li>… {} more</li>", list.len() - MAX_ENTRIES);
            }
            out.push_str("</ol>");
        }
        Value::Object(map) => {
            if let Some(days) = map.get("days_left").and_then(Value::as_f64) {
                let class = if days < 0.0 {
                    "v-failed"
                } else if days < 30.0 {
                    "v-error"
                } else {
                    "v-verified"
                };
                let _ = write!(out, "<span class=\"badge {class}\">{days} days left</span>");
            }
            latency_chart(out, map);
            limit_strip(out, map);
            out.push_str("<dl class=\"json\">");
            for (key, entry) in map.iter().take(MAX_ENTRIES) {
                let _ = write!(out, "<dt>{}</dt><dd>", e(key));
                value(out, entry, depth + 1);
                out.push_str("</dd>");
            }
            out.push_str("</dl>");
        }
    }
}

/// An inline SVG of a latency distribution, from whichever of `min`, `p50`,
/// `p90`, `p95`, `p99` and `max` the object holds (needs p50, p95 and p99).
fn latency_chart(out: &mut String, map: &serde_json::Map<String, Value>) {
    let at = |k: &str| map.get(k).and_then(Value::as_f64).filter(|n| n.is_finite());
    let (Some(p50), Some(p95), Some(p99)) = (at("p50"), at("p95"), at("p99")) else {
        return;
    };
    let min = at("min").unwrap_or(0.0).min(p50);
    let max = at("max").unwrap_or(p99).max(p99);
    let span = if max > min { max - min } else { 1.0 };
    let (width, left, right) = (480.0, 20.0, 460.0);
    let x = |v: f64| left + (v - min) / span * (right - left);
    let _ = write!(
        out,
        "<svg class=\"latency\" width=\"{width}\" height=\"74\" viewBox=\"0 0 {width} 74\" role=\"img\" aria-label=\"latency: p50 {p50} ms, p95 {p95} ms, p99 {p99} ms\">\
         <rect x=\"{:.1}\" y=\"22\" width=\"{:.1}\" height=\"16\" fill=\"#c8e6c9\"/>\
         <rect x=\"{:.1}\" y=\"22\" width=\"{:.1}\" height=\"16\" fill=\"#ffe0b2\"/>\
         <rect x=\"{:.1}\" y=\"22\" width=\"{:.1}\" height=\"16\" fill=\"#ffcdd2\"/>\
         <line x1=\"{left}\" y1=\"46\" x2=\"{right}\" y2=\"46\" stroke=\"#888\"/>",
        x(min),
        (x(p50) - x(min)).max(0.5),
        x(p50),
        (x(p95) - x(p50)).max(0.5),
        x(p95),
        (x(p99) - x(p95)).max(0.5),
    );
    for (name, v) in [
        ("p50", Some(p50)),
        ("p90", at("p90")),
        ("p95", Some(p95)),
        ("p99", Some(p99)),
    ] {
        let Some(v) = v else { continue };
        let marked = name != "p90";
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" y1=\"18\" x2=\"{0:.1}\" y2=\"46\" stroke=\"{1}\" stroke-width=\"{2}\"/>",
            x(v),
            if marked { "#333" } else { "#999" },
            if marked { 2 } else { 1 }
        );
        if marked {
            let y = match name {
                "p50" => 12,
                "p95" => 12,
                _ => 62,
            };
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{y}\" font-size=\"10\" text-anchor=\"middle\">{name} {}</text>",
                x(v),
                fmt_ms(v)
            );
        }
    }
    let _ = write!(
        out,
        "<text x=\"{left}\" y=\"62\" font-size=\"10\">{}</text><text x=\"{right}\" y=\"72\" font-size=\"10\" text-anchor=\"end\">max {}</text></svg>",
        fmt_ms(min),
        fmt_ms(max)
    );
}

/// A strip of the requests sent, one cell each, from an object holding
/// `sent` and `first_limited.index` (1-based): where the limit struck.
fn limit_strip(out: &mut String, map: &serde_json::Map<String, Value>) {
    let Some(sent) = map.get("sent").and_then(Value::as_u64) else {
        return;
    };
    let Some(index) = map
        .get("first_limited")
        .and_then(|f| f.get("index"))
        .and_then(Value::as_u64)
    else {
        return;
    };
    // Wide bursts are drawn to scale in at most 200 cells.
    let cells = sent.clamp(1, 200);
    let per = sent.div_ceil(cells).max(1);
    let width = 2.4_f64;
    let total = cells as f64 * width;
    let _ = write!(
        out,
        "<svg class=\"strip\" width=\"{:.0}\" height=\"34\" viewBox=\"0 0 {:.0} 34\" role=\"img\" aria-label=\"first limited response at request {index} of {sent}\">",
        total + 4.0,
        total + 4.0
    );
    for cell in 0..cells {
        let first = cell * per + 1;
        let color = if first >= index { "#e57373" } else { "#81c784" };
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"4\" width=\"{:.1}\" height=\"14\" fill=\"{color}\"/>",
            2.0 + cell as f64 * width,
            width - 0.4
        );
    }
    let at = 2.0 + (index.saturating_sub(1) / per) as f64 * width;
    // The label runs away from the nearer edge, so it stays in the picture.
    let anchor = if at > total / 2.0 { "end" } else { "start" };
    let _ = write!(
        out,
        "<text x=\"{at:.1}\" y=\"30\" font-size=\"10\" text-anchor=\"{anchor}\">first limited: request {index} of {sent}</text></svg>"
    );
}

fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1f;background:#fafafa;margin:0}
main{max-width:1100px;margin:0 auto;padding:1em 1.5em 4em}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:1.5em}
.dim{color:#6b6b6b}
table.meta th{text-align:left;padding-right:1em;color:#6b6b6b;font-weight:normal}
.badge{display:inline-block;padding:0 .45em;border-radius:.6em;font-size:.85em;border:1px solid #bbb;background:#eee}
.v-verified,.p-pass{background:#d7f5dc;border-color:#5cb85c}
.v-failed,.p-fail{background:#fbd5d5;border-color:#d9534f}
.v-error,.p-error,.v-partial{background:#fff1c2;border-color:#e0a800}
.v-attested{background:#dbe9ff;border-color:#4a7fd4}
.v-manual,.v-skipped,.p-skip{background:#eee;border-color:#bbb}
.s-critical{background:#5a1010;color:#fff;border-color:#5a1010}.s-minor{color:#6b6b6b}
.bar{display:inline-block;width:16em;height:.8em;background:#e4e4e4;border-radius:.4em;overflow:hidden;vertical-align:middle}
.fill{display:block;height:100%}.good{background:#5cb85c}.fair{background:#e0a800}.poor{background:#d9534f}
table.bars td,table.bars th{padding:.15em .6em;text-align:left}.num{text-align:right}
ul.list{list-style:none;padding-left:0}
li.item{margin:.2em 0}
.depth1{margin-left:1.5em}.depth2{margin-left:3em}.depth3{margin-left:4.5em}.depth4,.depth5,.depth6{margin-left:6em}
.box{font-family:ui-monospace,monospace;color:#6b6b6b}
summary{cursor:pointer}
.evidence{margin:.3em 0 .8em 1.6em;padding:.4em .8em;border-left:3px solid #ddd;background:#fff}
.probe{margin:.4em 0;padding-bottom:.3em;border-bottom:1px dashed #ddd}
table.checks{border-collapse:collapse;margin:.3em 0}table.checks td,table.checks th{border:1px solid #e2e2e2;padding:.1em .5em;text-align:left;vertical-align:top}
tr.bad td{background:#fdecec}
pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.4em;max-height:24em;overflow:auto}
code{word-break:break-all}
dl.json{margin:.2em 0;display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em}
dl.json dt{color:#6b6b6b}dl.json dd{margin:0}
ol.json{margin:.1em 0;padding-left:1.6em}
ul.tripped li{margin:.2em 0}
#filters{position:sticky;top:0;background:#fafafa;padding:.5em 0;border-bottom:1px solid #ddd}
#filters label{margin-right:1em}
"#;

/// Filters only: every item is in the page without it, and `<details>` opens
/// without it.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  var section = document.getElementById("items");
  if (!section) { return; }
  var items = Array.prototype.slice.call(section.querySelectorAll("li.item"));
  function distinct(name) {
    var seen = {};
    items.forEach(function (li) { var v = li.getAttribute(name); if (v) { seen[v] = true; } });
    return Object.keys(seen).sort();
  }
  function select(label, values) {
    var wrap = document.createElement("label");
    wrap.appendChild(document.createTextNode(label + " "));
    var s = document.createElement("select");
    var all = document.createElement("option");
    all.value = ""; all.textContent = "all"; s.appendChild(all);
    values.forEach(function (v) {
      var o = document.createElement("option"); o.value = v; o.textContent = v; s.appendChild(o);
    });
    wrap.appendChild(s);
    return { wrap: wrap, input: s };
  }
  var form = document.createElement("form");
  form.id = "filters";
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
  var verdict = select("verdict", distinct("data-verdict"));
  var sect = select("section", distinct("data-section"));
  var text = document.createElement("input");
  text.type = "search"; text.placeholder = "search items";
  var textWrap = document.createElement("label");
  textWrap.appendChild(document.createTextNode("text "));
  textWrap.appendChild(text);
  form.appendChild(verdict.wrap); form.appendChild(sect.wrap); form.appendChild(textWrap);
  var heading = section.querySelector("h2");
  section.insertBefore(form, heading ? heading.nextSibling : section.firstChild);
  function apply() {
    var v = verdict.input.value, s = sect.input.value, t = text.value.trim().toLowerCase();
    items.forEach(function (li) {
      var show = (!v || li.getAttribute("data-verdict") === v) &&
        (!s || li.getAttribute("data-section") === s) &&
        (!t || (li.getAttribute("data-text") || "").indexOf(t) !== -1);
      li.hidden = !show;
    });
  }
  verdict.input.addEventListener("change", apply);
  sect.input.addEventListener("change", apply);
  text.addEventListener("input", apply);
})();
"#;
