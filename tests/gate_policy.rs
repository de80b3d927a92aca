//! The gate policy end to end: `severity:` on items, `--fail-on` with
//! severities, `--min-score` (overall and per section), `--min-coverage`;
//! each rule trips and passes, and every format says which rule failed the
//! gate. The real binary against an in-process server.

#[path = "support/server.rs"]
mod server;

use std::path::Path;

use serde_json::Value;
use server::{Output, Server, Vouch, text};

/// Core: Health (critical, verified), Orders (minor, ticked, fails: refuted),
/// Search (major, fails); Ops: Backups (verified), Paging (ticked, no probe).
/// Scores: Core 33.3, Ops 50, readiness 41.7; coverage 80%.
const CHECKLIST: &str = "# Release\n\n## Core\n\n- [x] Health works\n- [x] Orders work\n- [ ] Search works\n\n## Ops\n\n- [ ] Backups tested\n- [x] Paging set up\n";

fn items() -> &'static str {
    "  - item: Health works\n    severity: critical\n    probes:\n      - http: {get: /ok}\n  - item: Orders work\n    severity: minor\n    probes:\n      - http: {get: /bad}\n  - item: Search works\n    probes:\n      - http: {get: /bad}\n  - item: Backups tested\n    probes:\n      - http: {get: /ok}\n"
}

fn server() -> Server {
    Server::http(|request| match request.path() {
        "/ok" => text(200, "ok"),
        _ => text(500, "broken"),
    })
}

struct Setup {
    _server: Server,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let server = server();
    let dir = tempfile::tempdir().expect("temp dir");
    let probes = format!(
        "version: 1\ntarget: {}\nchecklist: checklist.md\nitems:\n{}",
        server.url(),
        items()
    );
    std::fs::write(dir.path().join("probes.yaml"), probes).expect("write");
    std::fs::write(dir.path().join("checklist.md"), CHECKLIST).expect("write");
    Setup {
        _server: server,
        dir,
    }
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["run", "probes.yaml", "--no-progress"];
    all.extend_from_slice(args);
    Vouch::new(all).current_dir(dir).run()
}

/// Runs with `--format json` and returns the report's gate.
fn gate(dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = run(dir, &all);
    let code = out.code();
    (code, out.json()["summary"]["gate"].clone())
}

fn tripped_rules(gate: &Value) -> Vec<String> {
    gate["tripped"]
        .as_array()
        .expect("tripped is a list")
        .iter()
        .map(|t| t["rule"].as_str().expect("rule").to_owned())
        .collect()
}

#[test]
fn severity_is_in_the_json_report_with_major_by_default() {
    let s = setup();
    let report = run(s.dir.path(), &["--format", "json"]).json();
    let severity = |name: &str| {
        report["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["item"] == name)
            .map(|i| i["severity"].clone())
            .expect("item")
    };
    assert_eq!(severity("Health works"), "critical");
    assert_eq!(severity("Orders work"), "minor");
    assert_eq!(severity("Search works"), "major");
    let checklist = &report["checklist"];
    assert_eq!(checklist["score"], 41.7);
    assert_eq!(checklist["coverage"], 80.0);
}

#[test]
fn an_unknown_severity_is_a_probe_file_error() {
    let s = setup();
    let file = s.dir.path().join("probes.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("severity: minor", "severity: urgent")).expect("write");
    let out = run(s.dir.path(), &[]);
    out.assert_code(2);
    assert!(out.stderr.contains("urgent"), "{}", out.dump());
}

#[test]
fn the_default_fail_on_names_the_failed_items() {
    let s = setup();
    let (code, gate) = gate(s.dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(tripped_rules(&gate), ["--fail-on failed"]);
    assert_eq!(
        gate["tripped"][0]["items"],
        serde_json::json!(["Orders work", "Search works"])
    );
    assert_eq!(gate["tripped"][0]["reason"], "2 items failed");
}

#[test]
fn fail_on_a_severity_counts_only_that_severity() {
    let s = setup();
    let (code, gate) = gate(s.dir.path(), &["--fail-on", "critical:failed"]);
    assert_eq!(code, 0, "no critical item failed: {gate}");
    assert_eq!(gate["passed"], true);
    let (code, gate) = gate_of(&s, &["--fail-on", "minor:failed"]);
    assert_eq!(code, 1);
    assert_eq!(
        gate["tripped"][0]["items"],
        serde_json::json!(["Orders work"])
    );
    assert_eq!(gate["tripped"][0]["reason"], "1 minor item failed");
}

fn gate_of(s: &Setup, args: &[&str]) -> (i32, Value) {
    gate(s.dir.path(), args)
}

#[test]
fn critical_failures_and_every_refutation() {
    let s = setup();
    // Orders work is minor, ticked and failing: `refuted` catches it.
    let (code, gate) = gate_of(&s, &["--fail-on", "critical:failed,refuted"]);
    assert_eq!(code, 1);
    assert_eq!(tripped_rules(&gate), ["--fail-on refuted"]);
    assert_eq!(
        gate["tripped"][0]["items"],
        serde_json::json!(["Orders work (line 6)"])
    );
    // Refutations of critical items only: none.
    let (code, _) = gate_of(&s, &["--fail-on", "critical:failed,critical:refuted"]);
    assert_eq!(code, 0);
}

#[test]
fn todays_spellings_still_work() {
    let s = setup();
    let (code, gate) = gate_of(&s, &["--fail-on", "flaky"]);
    assert_eq!(code, 0, "nothing was flaky: {gate}");
    let (code, gate) = gate_of(&s, &["--fail-on", "failed,error"]);
    assert_eq!(code, 1);
    assert_eq!(tripped_rules(&gate), ["--fail-on failed"]);
    let out = run(s.dir.path(), &["--fail-on", "refuted,urgent"]);
    out.assert_code(2);
}

#[test]
fn min_score_overall_trips_and_passes() {
    let s = setup();
    let (code, gate) = gate_of(&s, &["--fail-on", "flaky", "--min-score", "40"]);
    assert_eq!(code, 0, "{gate}");
    let (code, gate) = gate_of(&s, &["--fail-on", "flaky", "--min-score", "50"]);
    assert_eq!(code, 1);
    assert_eq!(tripped_rules(&gate), ["--min-score 50"]);
    assert_eq!(gate["tripped"][0]["reason"], "readiness 41.7 is below 50");
}

#[test]
fn min_score_per_section_trips_and_passes() {
    let s = setup();
    let (code, gate) = gate_of(
        &s,
        &[
            "--fail-on",
            "flaky",
            "--min-score",
            "Ops=50",
            "--min-score",
            "core=30",
        ],
    );
    assert_eq!(code, 0, "{gate}");
    let (code, gate) = gate_of(
        &s,
        &[
            "--fail-on",
            "flaky",
            "--min-score",
            "Ops=50",
            "--min-score",
            "Core=50",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(tripped_rules(&gate), ["--min-score Core=50"]);
    assert_eq!(
        gate["tripped"][0]["reason"],
        "section `Core` scores 33.3, below 50"
    );
    let (code, gate) = gate_of(&s, &["--fail-on", "flaky", "--min-score", "Nope=1"]);
    assert_eq!(code, 1);
    let reason = gate["tripped"][0]["reason"].as_str().expect("reason");
    assert!(reason.contains("no section `Nope`"), "{reason}");
}

#[test]
fn min_coverage_trips_and_passes() {
    let s = setup();
    let (code, gate) = gate_of(&s, &["--fail-on", "flaky", "--min-coverage", "80"]);
    assert_eq!(code, 0, "{gate}");
    let (code, gate) = gate_of(&s, &["--fail-on", "flaky", "--min-coverage", "90%"]);
    assert_eq!(code, 1);
    assert_eq!(tripped_rules(&gate), ["--min-coverage 90"]);
    assert_eq!(gate["tripped"][0]["reason"], "coverage 80% is below 90%");
    run(s.dir.path(), &["--min-coverage", "101"]).assert_code(2);
}

#[test]
fn score_rules_without_a_checklist_are_refused_before_any_traffic() {
    let server = server();
    let dir = tempfile::tempdir().expect("temp dir");
    let probes = format!("version: 1\ntarget: {}\nitems:\n{}", server.url(), items());
    std::fs::write(dir.path().join("probes.yaml"), probes).expect("write");
    let out = run(dir.path(), &["--min-score", "10"]);
    out.assert_code(2);
    assert!(out.stderr.contains("checklist"), "{}", out.dump());
    assert_eq!(server.requests(), 0);
}

#[test]
fn every_format_explains_the_gate() {
    let s = setup();
    let args = ["--fail-on", "critical:failed,refuted", "--min-score", "50"];
    let human = run(s.dir.path(), &args);
    human.assert_code(1);
    let text = &human.stdout;
    assert!(
        text.contains("gate: FAILED (--fail-on refuted,critical:failed; --min-score 50)"),
        "{text}"
    );
    assert!(
        text.contains("✘ --fail-on refuted: 1 item is ticked but refuted by the deployment"),
        "{text}"
    );
    assert!(text.contains("      Orders work (line 6)"), "{text}");
    assert!(
        text.contains("✘ --min-score 50: readiness 41.7 is below 50"),
        "{text}"
    );
    assert!(text.contains("Health works  verified [critical]"), "{text}");

    let mut with = vec!["--format", "markdown"];
    with.extend_from_slice(&args);
    let markdown = run(s.dir.path(), &with).stdout;
    assert!(markdown.contains("gate **failed**"), "{markdown}");
    assert!(
        markdown.contains("readiness 41.7 is below 50"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- [x] Health works\n  - ✔ \\[critical\\] GET /ok"),
        "{markdown}"
    );
    assert!(
        markdown.contains("  - ✘ refuted: \\[minor\\] GET /bad"),
        "{markdown}"
    );

    let mut with = vec!["--format", "junit"];
    with.extend_from_slice(&args);
    let junit = run(s.dir.path(), &with).stdout;
    assert!(junit.contains("<testsuite name=\"vouch gate\""), "{junit}");
    // Paging is ticked with no probe behind it: said so, not plain "manual".
    let paging = junit
        .split("<testcase ")
        .find(|case| case.contains("name=\"Paging set up\""))
        .expect("a case for Paging");
    assert!(
        paging.contains("<skipped message=\"ticked but unverified\""),
        "{paging}"
    );
    let backups = junit
        .split("<testcase ")
        .find(|case| case.contains("name=\"Backups tested\""))
        .expect("a case for Backups");
    assert!(!backups.contains("ticked but unverified"), "{backups}");
    assert!(junit.contains("name=\"--min-score 50\""), "{junit}");
    assert!(
        junit.contains("<property name=\"severity\" value=\"critical\""),
        "{junit}"
    );

    let passing = run(s.dir.path(), &["--format", "junit", "--fail-on", "flaky"]);
    passing.assert_code(0);
    assert!(
        passing.stdout.contains("<testcase name=\"gate\""),
        "{}",
        passing.stdout
    );
}
