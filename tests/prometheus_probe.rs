//! `prometheus` probes end to end against the real Prometheus that
//! `scripts/prometheus.sh` starts: it scrapes itself, a real node_exporter
//! and one port where nothing listens, and evaluates one alerting rule that
//! always fires, one that never does and one with a threshold, `for`, labels
//! and annotations, one healthy recording rule and one whose query fails
//! (`tests/prometheus/rules.yml`).
//! Without `VOUCH_TEST_PROMETHEUS` the tests print a note and pass, unless
//! `VOUCH_REQUIRE_PEERS` is set.

#[path = "support/server.rs"]
mod server;

use std::io::{Read, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{Output, Vouch, check_of, probe_file, probe_of, write_file};

fn prometheus() -> Option<String> {
    let url = match std::env::var("VOUCH_TEST_PROMETHEUS") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!(
                "VOUCH_TEST_PROMETHEUS is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts Prometheus"
            )
        }
        _ => {
            eprintln!(
                "note: VOUCH_TEST_PROMETHEUS is not set; skipping (scripts/prometheus.sh starts it)"
            );
            return None;
        }
    };
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| wait_for_first_scrape(&url));
    Some(url)
}

/// GET over plain HTTP/1.0 on loopback; the body.
fn get(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to Prometheus");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// Waits (at most 30 s) until every target has been scraped once, every
/// rule evaluated and the always-firing alert fires: a target or a rule is
/// `unknown` before its first scrape or evaluation.
fn wait_for_first_scrape(url: &str) {
    let started = Instant::now();
    loop {
        let targets: Value =
            serde_json::from_str(&get(&format!("{url}/api/v1/targets"))).unwrap_or(Value::Null);
        let alerts: Value =
            serde_json::from_str(&get(&format!("{url}/api/v1/alerts"))).unwrap_or(Value::Null);
        let scraped = targets["data"]["activeTargets"]
            .as_array()
            .is_some_and(|t| t.len() == 3 && t.iter().all(|t| t["health"] != "unknown"));
        let firing = alerts["data"]["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["state"] == "firing"));
        let rules: Value =
            serde_json::from_str(&get(&format!("{url}/api/v1/rules"))).unwrap_or(Value::Null);
        let evaluated = rules["data"]["groups"].as_array().is_some_and(|groups| {
            groups.iter().all(|g| {
                g["rules"]
                    .as_array()
                    .is_some_and(|r| r.iter().all(|r| r["health"] != "unknown"))
            })
        });
        if scraped && firing && evaluated {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Prometheus at {url} has not scraped every target and fired its alert within 30 s:\n{targets:#}\n{alerts:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn run(target: &str, expect: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let items =
        format!("  - item: Monitoring\n    probes:\n      - prometheus: {{expect: {expect}}}\n");
    let file = write_file(dir.path(), "p.yaml", &probe_file(target, &items));
    let out = Vouch::new(["run", "--format", "json", &file.display().to_string()]).run();
    let report = out.json();
    (out, report)
}

fn actual(probe: &Value, check: &str) -> String {
    check_of(probe, check)["actual"]
        .as_str()
        .expect("actual")
        .to_owned()
}

fn passed(probe: &Value, check: &str) -> bool {
    check_of(probe, check)["passed"].as_bool().expect("passed")
}

#[test]
fn the_down_target_fails_with_its_last_error() {
    let Some(url) = prometheus() else { return };
    let (out, report) = run(&url, "{targets: all_up}");
    out.assert_code(1);
    let probe = probe_of(&report, "Monitoring");
    assert!(passed(probe, "targets job=node"), "{probe:#}");
    assert!(passed(probe, "targets job=prometheus"), "{probe:#}");
    let down = actual(probe, "targets job=down");
    assert!(
        down.starts_with("0/1 up; down: http://127.0.0.1:") && down.contains("connection refused"),
        "{down}"
    );
    let shown = &probe["evidence"]["targets"];
    assert_eq!(shown["active"], 3);
    assert_eq!(shown["up"], 2);
    assert_eq!(shown["shown"][0]["job"], "down", "down targets first");
    assert!(
        shown["shown"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("connection refused")),
        "{shown:#}"
    );
}

#[test]
fn targets_by_job_pass_when_those_are_up() {
    let Some(url) = prometheus() else { return };
    let (out, report) = run(&url, "{targets: {jobs: [node, prometheus]}}");
    out.assert_code(0);
    let probe = probe_of(&report, "Monitoring");
    assert_eq!(actual(probe, "targets job=node"), "1/1 up");
    let (_, report) = run(&url, "{targets: {jobs: [api]}}");
    let probe = probe_of(&report, "Monitoring");
    assert_eq!(actual(probe, "targets job=api"), "no active targets");
}

#[test]
fn rules_loaded_and_healthy_or_missing() {
    let Some(url) = prometheus() else { return };
    let (out, report) = run(
        &url,
        "{rules: [VouchTestAlwaysFiring, VouchTestNeverFiring, HighErrorRate]}",
    );
    out.assert_code(1);
    let probe = probe_of(&report, "Monitoring");
    assert_eq!(
        actual(probe, "rule VouchTestAlwaysFiring"),
        "loaded, health ok, firing"
    );
    assert_eq!(
        actual(probe, "rule VouchTestNeverFiring"),
        "loaded, health ok, inactive"
    );
    assert!(!passed(probe, "rule HighErrorRate"));
    assert_eq!(actual(probe, "rule HighErrorRate"), "not loaded");
    assert_eq!(probe["evidence"]["rules"]["alerting"], 3);
}

#[test]
fn all_rules_healthy_names_the_broken_recording_rule_with_its_error() {
    let Some(url) = prometheus() else { return };
    let (out, report) = run(&url, "{rules: {all_healthy: true}}");
    out.assert_code(1);
    let probe = probe_of(&report, "Monitoring");
    let all = actual(probe, "rules all healthy");
    assert!(
        all.starts_with("4/5 ok; unhealthy: vouch_test:broken (recording) health err (")
            && all.contains("many-to-many matching not allowed"),
        "{all}"
    );
    let rules = &probe["evidence"]["rules"];
    assert_eq!(rules["alerting"], 3, "{probe:#}");
    assert_eq!(rules["recording"], 2, "{probe:#}");
    assert_eq!(rules["unhealthy"], 1, "{probe:#}");
    assert_eq!(rules["rules"][0]["name"], "vouch_test:broken");
    assert!(
        rules["rules"][0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{probe:#}"
    );

    // Recording rules by name, beside alerting ones.
    let (out, report) = run(
        &url,
        "{rules: {names: ['vouch_test:up:sum', VouchTestNeverFiring]}}",
    );
    out.assert_code(0);
    let probe = probe_of(&report, "Monitoring");
    assert_eq!(actual(probe, "rule vouch_test:up:sum"), "loaded, health ok");
    let (out, report) = run(&url, "{rules: ['vouch_test:broken']}");
    out.assert_code(1);
    let probe = probe_of(&report, "Monitoring");
    assert!(!passed(probe, "rule vouch_test:broken"), "{probe:#}");
    assert!(
        actual(probe, "rule vouch_test:broken").starts_with("loaded, health err ("),
        "{probe:#}"
    );
}

#[test]
fn a_rule_is_checked_against_its_threshold_for_labels_and_annotations() {
    let Some(url) = prometheus() else { return };
    let (out, report) = run(
        &url,
        "{rules: [VouchTestNeverFiring, {name: VouchTestHighErrorRate, expr: {contains: '> 0.05'}, for: {max: 5m}, labels: {severity: critical}, annotations: {runbook_url: {exists: true}}, health: ok, state: {ne: firing}}]}",
    );
    out.assert_code(0);
    let probe = probe_of(&report, "Monitoring");
    assert_eq!(actual(probe, "rule VouchTestHighErrorRate for"), "5m");
    assert_eq!(
        actual(probe, "rule VouchTestHighErrorRate label severity"),
        "\"critical\""
    );
    let checked = &probe["evidence"]["rules"]["checked"][0];
    assert_eq!(checked["name"], "VouchTestHighErrorRate", "{probe:#}");
    assert_eq!(checked["group"], "vouch-test", "{probe:#}");
    assert_eq!(
        checked["annotations"]["runbook_url"], "https://runbooks.example/high-error-rate",
        "{probe:#}"
    );

    // A stricter checklist: each difference is a failed check naming the rule.
    let (out, report) = run(
        &url,
        "{rules: [{name: VouchTestHighErrorRate, expr: {contains: '> 0.01'}, for: {max: 2m}, labels: {severity: page}, annotations: {dashboard: {exists: true}}}]}",
    );
    out.assert_code(1);
    let probe = probe_of(&report, "Monitoring");
    assert!(passed(probe, "rule VouchTestHighErrorRate"), "{probe:#}");
    let failed: Vec<(&str, &str, &str)> = probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| {
            (
                c["name"].as_str().expect("name"),
                c["expected"].as_str().expect("expected"),
                c["actual"].as_str().expect("actual"),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (
                "rule VouchTestHighErrorRate expr",
                "contains \"> 0.01\"",
                "sum(rate(prometheus_http_requests_total{code=~\"5..\"}[5m])) / sum(rate(prometheus_http_requests_total[5m])) > 0.05"
            ),
            ("rule VouchTestHighErrorRate for", "<= 2m", "5m"),
            (
                "rule VouchTestHighErrorRate label severity",
                "\"page\"",
                "\"critical\""
            ),
            (
                "rule VouchTestHighErrorRate annotation dashboard",
                "present",
                "absent"
            ),
        ],
        "{probe:#}"
    );
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.contains("rule VouchTestHighErrorRate expr: expected contains"),
        "{summary}"
    );
}

#[test]
fn firing_alerts_by_label() {
    let Some(url) = prometheus() else { return };
    let (out, report) = run(&url, "{alerts_firing: {labels: {severity: critical}}}");
    out.assert_code(1);
    let probe = probe_of(&report, "Monitoring");
    assert_eq!(
        actual(probe, "alerts firing {severity=\"critical\"}"),
        "1 firing: VouchTestAlwaysFiring"
    );
    let (out, _) = run(
        &url,
        "{alerts_firing: {labels: {severity: '=~warning|info'}}}",
    );
    out.assert_code(0);
    let (out, _) = run(
        &url,
        "{alerts_firing: {labels: {alertname: VouchTestAlwaysFiring}, count: 1}}",
    );
    out.assert_code(0);
}

#[test]
fn every_sample_of_a_query_must_satisfy_the_matcher() {
    let Some(url) = prometheus() else { return };
    let (out, report) = run(
        &url,
        "{query: [{promql: 'up{job=\"node\"}', value: 1}, {promql: up, value: 1}, {promql: 'up{job=\"nope\"}'}, {promql: 'up{job=\"nope\"}', allow_empty: true}, {promql: 'process_resident_memory_bytes', value: {max: 2GB}}, {promql: 'rate(up[', value: 1}]}",
    );
    out.assert_code(1);
    let probe = probe_of(&report, "Monitoring");
    let checks = probe["checks"].as_array().expect("checks");
    let verdicts: Vec<bool> = checks
        .iter()
        .map(|c| c["passed"].as_bool().expect("passed"))
        .collect();
    assert_eq!(
        verdicts,
        [true, false, false, true, true, false],
        "{probe:#}"
    );
    assert!(
        checks[1]["actual"]
            .as_str()
            .is_some_and(|a| a.contains("job=\"down\"") && a.ends_with(" 0")),
        "{probe:#}"
    );
    assert_eq!(checks[2]["actual"], "empty result");
    assert!(
        checks[5]["actual"]
            .as_str()
            .is_some_and(|a| a.contains("bad_data")),
        "{probe:#}"
    );
    let queries = probe["evidence"]["queries"].as_array().expect("queries");
    assert_eq!(queries[4]["samples"], 2, "{probe:#}");
}

#[test]
fn the_prometheus_stack_pack_runs_against_the_real_stack() {
    let Some(url) = prometheus() else { return };
    let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/probes/prometheus-stack.yaml");
    let out = Vouch::new([
        "run",
        "--format",
        "json",
        "--target",
        &url,
        "--set",
        "error_rate_alert=VouchTestAlwaysFiring",
        "--set",
        "requests_metric=prometheus_http_requests_total",
        pack,
    ])
    .run();
    let report = out.json();
    // The down target and the critical alert that fires fail their items;
    // the rest of the stack passes.
    out.assert_code(1);
    let verdicts: Vec<(String, String)> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["item"].as_str().expect("item").to_owned(),
                i["verdict"].as_str().expect("verdict").to_owned(),
            )
        })
        .collect();
    let verdict = |name: &str| {
        verdicts
            .iter()
            .find(|(item, _)| item.starts_with(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no item {name}: {verdicts:?}"))
    };
    assert_eq!(verdict("All targets UP"), "failed");
    assert_eq!(verdict("No critical alert firing"), "failed");
    assert_eq!(verdict("Alerting rules loaded"), "verified");
    assert_eq!(verdict("High failure rate alert configured"), "verified");
    assert_eq!(verdict("Metrics endpoint accessible"), "verified");
    assert_eq!(verdict("Prometheus metrics exposed"), "verified");
    assert_eq!(verdict("Memory usage < 2GB"), "verified");
}
