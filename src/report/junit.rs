//! `--format junit`: JUnit XML for CI dashboards. With a checklist, one
//! testsuite per top-level section and one testcase per bound item; without,
//! one testsuite per probe file. Failures carry the evidence; manual items are
//! skipped. Every text crosses [`escape::terminal`] and [`escape::xml`] on its way in,
//! so whatever a target sent, the file parses.

use std::borrow::Cow;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::{Report, escape};
use crate::outcome::{ItemOutcome, ItemVerdict};

/// Renders the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut junit = quick_junit::Report::new("vouch");
    junit.set_time(Duration::from_secs_f64(report.duration_ms / 1000.0));
    match &report.checklist {
        Some(checklist) => {
            for section in &checklist.sections {
                let mut suite = TestSuite::new(field(&section.name));
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
                        field(&item.text),
                        status(
                            item.verdict,
                            item.refuted,
                            item.claimed,
                            item.reason.as_deref(),
                            &detail,
                        ),
                    );
                    case.set_classname(field(&format!("{}.{}", section.name, item.id)));
                    if let Some(severity) = outcomes.iter().map(|o| o.severity).max() {
                        case.add_property(Property::new("severity", severity.as_str()));
                    }
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
                let mut suite = TestSuite::new(field(file.name.as_deref().unwrap_or(&file.path)));
                for item in report.items.iter().filter(|i| i.file == file.path) {
                    let detail = evidence(&[item]);
                    let mut case = TestCase::new(
                        field(&item.item),
                        status(item.verdict, false, false, item.reason.as_deref(), &detail),
                    );
                    case.set_classname(field(&item.location));
                    case.add_property(Property::new("severity", item.severity.as_str()));
                    case.set_time(Duration::from_secs_f64(
                        item.probes.iter().map(|p| p.duration_ms).sum::<f64>() / 1000.0,
                    ));
                    suite.add_test_case(case);
                }
                junit.add_test_suite(suite);
            }
        }
    }
    junit.add_test_suite(gate_suite(report));
    match junit.to_string() {
        // Every field went through `field` already; this pass keeps the
        // file valid should a new one be added without it.
        Ok(xml) => match escape::xml(&xml) {
            Cow::Borrowed(_) => xml,
            Cow::Owned(clean) => clean,
        },
        Err(e) => format!("<!-- vouch: cannot write JUnit XML: {e} -->\n"),
    }
}

/// The gate as its own suite: one passing case naming the rules, or one
/// failing case per rule that failed it, with the items that tripped it.
fn gate_suite(report: &Report) -> TestSuite {
    let gate = &report.summary.gate;
    let mut suite = TestSuite::new("vouch gate");
    if gate.passed {
        let mut case = TestCase::new("gate", TestCaseStatus::success());
        case.set_classname("vouch.gate");
        case.set_system_out(field(&gate.rules.join("; ")));
        suite.add_test_case(case);
    }
    for tripped in &gate.tripped {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(field(&tripped.reason));
        status.set_type("gate");
        let items: Vec<String> = tripped.items.iter().map(|i| field(i)).collect();
        status.set_description(items.join("\n"));
        let mut case = TestCase::new(field(&tripped.rule), status);
        case.set_classname("vouch.gate");
        suite.add_test_case(case);
    }
    suite
}

/// One line of text for the XML: controls and bidirectional overrides
/// written visibly, as in the human report (CI pages and logs show these
/// fields to people), then what XML 1.0 forbids replaced.
fn field(text: &str) -> String {
    match escape::terminal(text) {
        Cow::Borrowed(text) => escape::xml(text).into_owned(),
        Cow::Owned(text) => escape::xml(&text).into_owned(),
    }
}

/// A case's status; `claimed` is whether the checklist ticks the item, so a
/// ticked item with nothing behind it reads as such, not as plain manual.
fn status(
    verdict: ItemVerdict,
    refuted: bool,
    claimed: bool,
    reason: Option<&str>,
    detail: &str,
) -> TestCaseStatus {
    let reason = field(reason.unwrap_or(""));
    match verdict {
        ItemVerdict::Verified | ItemVerdict::Attested => TestCaseStatus::success(),
        ItemVerdict::Failed => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(if refuted {
                format!("refuted: {reason}")
            } else {
                reason
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
            if claimed && verdict == ItemVerdict::Manual {
                status.set_message("ticked but unverified");
                status
                    .set_description("ticked in the checklist, no probe or attestation behind it");
            } else {
                status.set_message(verdict.as_str());
            }
            status
        }
    }
}

/// Every probe's summary and failing checks, one per line, each field
/// through [`field`].
fn evidence(outcomes: &[&ItemOutcome]) -> String {
    let mut lines = Vec::new();
    for outcome in outcomes {
        if let Some(a) = &outcome.attestation {
            lines.push(format!(
                "attested by {} on {} (until {})",
                field(&a.by),
                field(&a.on),
                field(&a.expires)
            ));
        }
        for probe in &outcome.probes {
            lines.push(format!(
                "[{}] {} ({})",
                probe.verdict.as_str(),
                field(&probe.summary),
                field(&probe.location)
            ));
            for check in probe.checks.iter().filter(|c| !c.passed) {
                lines.push(format!(
                    "  {}: expected {}, got {}",
                    field(&check.name),
                    field(&check.expected),
                    field(&check.actual)
                ));
            }
        }
    }
    lines.join("\n")
}
