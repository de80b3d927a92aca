//! `--format markdown`: the original checklist written back, each bound
//! item's box set by the evidence, an evidence line under it and a summary at
//! the top (see [`crate::checklist::annotate`]).

use super::{Report, escape};
use crate::checklist::annotate;
use crate::outcome::ChecklistOutcome;
use crate::spec::Severity;

/// Renders the checklist with evidence; without a checklist, says so.
pub fn render(report: &Report) -> String {
    match (&report.checklist_doc, &report.checklist) {
        (Some(doc), Some(outcome)) => {
            let day = report
                .finished_at
                .get(..16)
                .unwrap_or(&report.finished_at)
                .replace('T', " ");
            let headline = format!(
                "verified this checklist against `{}` on {day} UTC; {}",
                report.target(),
                gate_sentence(report)
            );
            annotate::annotate(doc, &with_severity(report, outcome), &headline)
        }
        _ => {
            "<!-- vouch: no checklist was given (use `checklist:` or --checklist) -->\n".to_owned()
        }
    }
}

/// The gate's decision in one sentence: which rules failed it and on what.
/// Item texts come from the checklist and the probe files, and are escaped
/// like every other line vouch writes into the checklist.
fn gate_sentence(report: &Report) -> String {
    let gate = &report.summary.gate;
    if gate.passed {
        return format!("gate **passed** ({})", gate.rules.join("; "));
    }
    let why: Vec<String> = gate
        .tripped
        .iter()
        .map(|t| {
            let items = if t.items.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.items.join("; "))
            };
            escape::markdown(&format!("`{}`: {}{items}", t.rule, t.reason)).into_owned()
        })
        .collect();
    format!("gate **failed** — {}", why.join("; "))
}

/// The outcome with `[critical]` or `[minor]` before the evidence line of
/// items bound to such probe-file items (`major`, the default, goes without
/// saying), so the write-back shows severity like every other format.
fn with_severity(report: &Report, outcome: &ChecklistOutcome) -> ChecklistOutcome {
    let mut outcome = outcome.clone();
    for item in &mut outcome.items {
        let severity = report
            .items
            .iter()
            .filter(|o| item.bound.contains(&o.location))
            .map(|o| o.severity)
            .max();
        let tag = match severity {
            Some(Severity::Critical) => "[critical] ",
            Some(Severity::Minor) => "[minor] ",
            Some(Severity::Major) | None => continue,
        };
        item.reason = Some(format!("{tag}{}", item.reason.as_deref().unwrap_or("")));
    }
    outcome
}
