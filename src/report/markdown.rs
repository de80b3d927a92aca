//! `--format markdown`: the original checklist written back, each bound
//! item's box set by the evidence, an evidence line under it and a summary at
//! the top (see [`crate::checklist::annotate`]).

use super::Report;
use crate::checklist::annotate;

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
                "verified this checklist against `{}` on {day} UTC",
                report.target()
            );
            annotate::annotate(doc, outcome, &headline)
        }
        _ => {
            "<!-- vouch: no checklist was given (use `checklist:` or --checklist) -->\n".to_owned()
        }
    }
}
