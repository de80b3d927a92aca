//! `alertmanager` probes end to end against the real Alertmanager that
//! `scripts/alertmanager.sh` starts with `tests/alertmanager/alertmanager.yml`
//! (a route tree with `continue`, regex and legacy matchers, an inherited
//! receiver; receivers with webhooks and one without). Routing is compared
//! with Alertmanager's own `amtool config routes test` on the same file.
//! Without `VOUCH_TEST_ALERTMANAGER` the tests print a note and pass, unless
//! `VOUCH_REQUIRE_PEERS` is set.

#[path = "support/server.rs"]
mod server;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use server::{Output, Vouch, check_of, probe_file, probe_of, write_file};

const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/alertmanager/alertmanager.yml"
);

fn alertmanager() -> Option<String> {
    match std::env::var("VOUCH_TEST_ALERTMANAGER") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!(
                "VOUCH_TEST_ALERTMANAGER is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts Alertmanager"
            )
        }
        _ => {
            eprintln!(
                "note: VOUCH_TEST_ALERTMANAGER is not set; skipping (scripts/alertmanager.sh starts it)"
            );
            None
        }
    }
}

/// One HTTP/1.0 exchange on loopback: the status and the body.
fn exchange(url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let host = url.strip_prefix("http://").expect("an http:// URL");
    let mut stream = std::net::TcpStream::connect(host).expect("connect to Alertmanager");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn run(target: &str, expect: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let items =
        format!("  - item: Alerting\n    probes:\n      - alertmanager: {{expect: {expect}}}\n");
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
fn with_no_expectation_the_status_answers() {
    let Some(url) = alertmanager() else { return };
    let (out, report) = run(&url, "{}");
    out.assert_code(0);
    let probe = probe_of(&report, "Alerting");
    assert_eq!(
        actual(probe, "status"),
        "Alertmanager 0.25.0, cluster disabled"
    );
    assert_eq!(probe["evidence"]["cluster"]["status"], "disabled");
}

#[test]
fn receivers_without_an_integration_or_missing_fail() {
    let Some(url) = alertmanager() else { return };
    let (out, report) = run(
        &url,
        "{receivers: [default, pager, blackhole, team-x], cluster: ready, peers: {min: 2}}",
    );
    out.assert_code(1);
    let probe = probe_of(&report, "Alerting");
    assert_eq!(actual(probe, "receiver default"), "configured: webhook ×1");
    assert_eq!(actual(probe, "receiver pager"), "configured: webhook ×2");
    assert!(passed(probe, "receiver pager"));
    assert_eq!(
        actual(probe, "receiver blackhole"),
        "configured, no integration: drops its alerts"
    );
    assert!(!passed(probe, "receiver blackhole"));
    assert_eq!(actual(probe, "receiver team-x"), "not configured");
    // Started without gossip: the cluster is off, one instance alone.
    assert_eq!(actual(probe, "cluster"), "disabled");
    assert!(!passed(probe, "cluster"));
    assert_eq!(actual(probe, "cluster peers"), "0 (cluster disabled)");
    let receivers = probe["evidence"]["receivers"]
        .as_array()
        .expect("receivers");
    assert_eq!(receivers.len(), 4, "{probe:#}");
}

/// The receivers `amtool config routes test` gives for these labels.
fn amtool_receivers(labels: &[(&str, &str)]) -> Option<Vec<String>> {
    let mut command = Command::new("amtool");
    command.args(["config", "routes", "test", "--config.file", CONFIG]);
    command.args(labels.iter().map(|(k, v)| format!("{k}={v}")));
    let output = match command.output() {
        Ok(output) => output,
        Err(_) if std::env::var_os("VOUCH_REQUIRE_PEERS").is_none() => {
            eprintln!("note: amtool not found; routing not compared with it");
            return None;
        }
        Err(e) => panic!("amtool (prometheus-alertmanager) did not run: {e}"),
    };
    assert!(output.status.success(), "amtool: {output:?}");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    Some(text.trim().split(',').map(str::to_owned).collect())
}

#[test]
fn routing_agrees_with_amtool_and_names_the_path() {
    let Some(url) = alertmanager() else { return };
    let cases: [&[(&str, &str)]; 6] = [
        &[("alertname", "X")],
        &[("severity", "critical"), ("team", "db")],
        &[("team", "storage"), ("env", "staging")],
        &[("team", "dbx")],
        &[("service", "api-users")],
        &[("service", "api-users"), ("env", "staging")],
    ];
    let routes: Vec<String> = cases
        .iter()
        .map(|labels| {
            let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{labels: {{{}}}, receiver: default}}", inner.join(", "))
        })
        .collect();
    let (_, report) = run(&url, &format!("{{routes: [{}]}}", routes.join(", ")));
    let probe = probe_of(&report, "Alerting");
    let routed = probe["evidence"]["routes"].as_array().expect("routes");
    assert_eq!(routed.len(), cases.len(), "{probe:#}");
    for (labels, row) in cases.iter().zip(routed) {
        let ours: Vec<String> = row["receivers"]
            .as_array()
            .expect("receivers")
            .iter()
            .map(|r| r.as_str().expect("name").to_owned())
            .collect();
        if let Some(theirs) = amtool_receivers(labels) {
            assert_eq!(ours, theirs, "labels {labels:?}: {row:#}");
        }
    }
    // The receivers as the tree gives them (and amtool agreed above).
    let receivers: Vec<&Value> = routed.iter().map(|r| &r["receivers"]).collect();
    assert_eq!(
        receivers,
        [
            &serde_json::json!(["default"]),
            &serde_json::json!(["pager", "team-db"]),
            &serde_json::json!(["blackhole"]),
            &serde_json::json!(["default"]),
            &serde_json::json!(["default"]),
            &serde_json::json!(["default"]),
        ]
    );

    // A pass and a failure, the failure naming where the alert went.
    let (out, report) = run(
        &url,
        "{routes: [{labels: {severity: critical, team: db}, receiver: team-db}, {labels: {team: storage, env: staging}, receiver: team-db}]}",
    );
    out.assert_code(1);
    let probe = probe_of(&report, "Alerting");
    assert_eq!(
        actual(probe, "route {severity=\"critical\",team=\"db\"}"),
        "pager (via {severity=\"critical\"}); team-db (via {team=~\"db|storage\"})"
    );
    assert!(passed(probe, "route {severity=\"critical\",team=\"db\"}"));
    assert_eq!(
        actual(probe, "route {env=\"staging\",team=\"storage\"}"),
        "blackhole (via {team=~\"db|storage\"} → {env=\"staging\"})"
    );
    assert!(!passed(probe, "route {env=\"staging\",team=\"storage\"}"));
}

#[test]
fn a_stale_or_endless_silence_is_named() {
    let Some(url) = alertmanager() else { return };
    // The test's own setup: one silence for 40 days, made through the API.
    let now = std::time::SystemTime::now();
    let starts = humantime::format_rfc3339_seconds(now);
    let ends = humantime::format_rfc3339_seconds(now + Duration::from_secs(40 * 86_400));
    let silence = format!(
        r#"{{"matchers":[{{"name":"alertname","value":"VouchTestSilenced","isRegex":false,"isEqual":true}}],"startsAt":"{starts}","endsAt":"{ends}","createdBy":"vouch-test","comment":"forgotten maintenance"}}"#
    );
    let (status, body) = exchange(&url, "POST", "/api/v2/silences", &silence);
    assert_eq!(status, 200, "{body}");
    let created: Value = serde_json::from_str(&body).expect("JSON");
    let id = created["silenceID"].as_str().expect("silenceID").to_owned();
    std::thread::sleep(Duration::from_millis(2100));

    let (out, report) = run(
        &url,
        "{silences: {max_age: 1s, max_duration: 30d, count: {max: 0}}}",
    );
    let (lenient_out, lenient) = run(&url, "{silences: {max_age: 1h, max_duration: 60d}}");
    let (status, body) = exchange(&url, "DELETE", &format!("/api/v2/silence/{id}"), "");
    assert_eq!(status, 200, "{body}");

    out.assert_code(1);
    let probe = probe_of(&report, "Alerting");
    let short: String = id.chars().take(8).collect();
    let named = format!(
        "{short} {{alertname=\"VouchTestSilenced\"}} by vouch-test (\"forgotten maintenance\")"
    );
    let age = actual(probe, "silences age");
    assert!(
        age.starts_with(&format!("1 of 1 active over: {named} started ")) && age.ends_with("s ago"),
        "{age}"
    );
    // Alertmanager moves a start in the past to its own now: 40 days, or
    // a fraction of a second less.
    let duration = actual(probe, "silences duration");
    let prefix = format!("1 of 1 active over: {named} lasting ");
    assert!(
        duration == format!("{prefix}40d") || duration.starts_with(&format!("{prefix}39d 23h 59m")),
        "{duration}"
    );
    assert_eq!(actual(probe, "silences active"), "1");
    assert_eq!(probe["evidence"]["silences"]["shown"][0]["silence"], named);
    lenient_out.assert_code(0);
    let probe = probe_of(&lenient, "Alerting");
    assert_eq!(actual(probe, "silences age"), "1 active, none over");
}
