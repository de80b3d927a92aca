//! `--format junit`: JUnit XML for CI dashboards. With a checklist, one
//! testsuite per top-level section and one testcase per bound item; without,
//! one testsuite per probe file. Failures carry the evidence; manual items are
//! skipped.

use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::outcome::{ItemOutcome, ItemVerdict};

/// Renders the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut junit = quick_junit::Report::new("vouch");
    junit.set_time(Duration::from_secs_f64(report.duration_ms / 1000.0));
    match &report.checklist {
        Some(checklist) => {
            for section in &checklist.sections {
                let mut suite = TestSuite::new(section.name.as_str());
                for item in checklist.items.iter().filter(|i| {
                    i.section
                        .as_deref()
                        .unwrap_or(crate::checklist::verdict::NO_SECTION)
                        == section.name
                }) {
                    let outcomes: Vec<&ItemOutcome> = report
                        .items
                        .iter()
                        .filter(|o| item.bound.contains(&o.location))
                        .collect();
                    let detail = evidence(&outcomes);
                    let mut case = TestCase::new(
                        item.text.as_str(),
                        status(item.verdict, item.refuted, item.reason.as_deref(), &detail),
                    );
                    case.set_classname(format!("{}.{}", section.name, item.id));
                    case.set_time(Duration::from_secs_f64(
                        outcomes
                            .iter()
                            .flat_map(|o| &o.probes)
                            .map(|p| p.duration_ms)
                            .sum::<f64>()
                            / 1000.0,
                    ));
                    if !detail.is_empty() {
                        case.set_system_out(detail);
                    }
                    suite.add_test_case(case);
                }
                junit.add_test_suite(suite);
            }
        }
        None => {
            for file in &report.files {
                let mut suite = TestSuite::new(file.name.as_deref().unwrap_or(&file.path));
                for item in report.items.iter().filter(|i| i.file == file.path) {
                    let detail = evidence(&[item]);
                    let mut case = TestCase::new(
                        item.item.as_str(),
                        status(item.verdict, false, item.reason.as_deref(), &detail),
                    );
                    case.set_classname(item.location.as_str());
                    case.set_time(Duration::from_secs_f64(
                        item.probes.iter().map(|p| p.duration_ms).sum::<f64>() / 1000.0,
                    ));
                    suite.add_test_case(case);
                }
                junit.add_test_suite(suite);
            }
        }
    }
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- vouch: cannot write JUnit XML: {e} -->\n"))
}

fn status(
    verdict: ItemVerdict,
    refuted: bool,
    reason: Option<&str>,
    detail: &str,
) -> TestCaseStatus {
    let reason = reason.unwrap_or("");
    match verdict {
        ItemVerdict::Verified | ItemVerdict::Attested => TestCaseStatus::success(),
        ItemVerdict::Failed => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(if refuted {
                format!("refuted: {reason}")
            } else {
                reason.to_owned()
            });
            status.set_type(if refuted { "refuted" } else { "failed" });
            status.set_description(detail);
            status
        }
        ItemVerdict::Error => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(reason);
            status.set_description(detail);
            status
        }
        ItemVerdict::Manual | ItemVerdict::Partial | ItemVerdict::Skipped => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(verdict.as_str());
            status
        }
    }
}

/// Every probe's summary and failing checks, one per line.
fn evidence(outcomes: &[&ItemOutcome]) -> String {
    let mut lines = Vec::new();
    for outcome in outcomes {
        if let Some(a) = &outcome.attestation {
            lines.push(format!(
                "attested by {} on {} (until {})",
                a.by, a.on, a.expires
            ));
        }
        for probe in &outcome.probes {
            lines.push(format!(
                "[{}] {} ({})",
                probe.verdict.as_str(),
                probe.summary,
                probe.location
            ));
            for check in probe.checks.iter().filter(|c| !c.passed) {
                lines.push(format!(
                    "  {}: expected {}, got {}",
                    check.name, check.expected, check.actual
                ));
            }
        }
    }
    lines.join("\n")
}
