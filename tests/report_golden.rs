//! The human and JSON reports of one run against a deterministic in-process
//! server, pinned by golden files (timings, timestamps, ports and the version
//! masked); the JSON report validated against `vouch schema --report`.

#[path = "support/golden.rs"]
mod golden;
#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use regex::Regex;
use serde_json::Value;
use server::{Output, Request, Server, Vouch, respond, text, vouch, write_file};

/// A small deployment: healthy, degraded, broken and flaky endpoints.
fn deployment() -> Server {
    let flaky = Arc::new(AtomicUsize::new(0));
    Server::http(move |r: Request| match r.path() {
        "/health" => respond(200, "application/json", r#"{"status":"UP"}"#),
        "/ready" => respond(
            200,
            "application/health+json",
            r#"{"status":"warn","checks":{"postgres":[{"status":"pass"}],"search:indexLag":[{"status":"warn","output":"7 minutes behind"}]}}"#,
        ),
        "/api/products" => respond(
            200,
            "application/json",
            r#"{"items":[{"id":1,"price":39.9},{"id":2,"price":24.5}],"count":2}"#,
        ),
        "/api/orders" => respond(
            500,
            "application/json",
            r#"{"error":"connection pool exhausted (max 10)"}"#,
        ),
        "/warm" => {
            if flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                text(503, "warming up")
            } else {
                text(200, "warm")
            }
        }
        _ => text(404, "not found"),
    })
}

const PROBES: &str = r#"version: 1
name: golden deployment
target: ${env:GOLDEN_TARGET}
defaults:
  timeout: 5s
  retry_delay: 10ms
items:
  - item: Health endpoint returns 200
    probes:
      - http:
          get: /health
          expect:
            status: 200
            json:
              $.status: UP
  - item: Readiness reports every dependency healthy
    probes:
      - health:
          url: /ready
          expect:
            dependencies: all_healthy
  - item: Product API serves JSON
    probes:
      - name: list products
        http:
          get: /api/products
          expect:
            headers:
              content-type: { contains: application/json }
            json:
              $.count: { min: 1 }
              $.items[*].price: { min: 0 }
  - item: Orders API responds
    probes:
      - http:
          get: /api/orders
          expect:
            status: 200
            json:
              $.orders: { exists: true }
  - item: Cache warms up
    probes:
      - retries: 2
        http: { get: /warm, expect: { status: 200 } }
  - item: Custom request headers are sent
    probes:
      - http: { get: /health, headers: { "bad header": x } }
  - item: Restore from backup rehearsed
    attested: { by: ops@example.com, on: 2026-11-01, valid_for: 3650d, note: restore drill OPS-123 }
  - item: Disaster recovery drill
    attested: { by: sre@example.com, on: 2020-01-01, valid_for: 30d }
  - item: On-call rota published
"#;

/// Runs the golden probe file in `format` against a fresh deployment (the
/// flaky endpoint counts per server); returns the output and the directory.
fn run(format: &str) -> (Output, tempfile::TempDir) {
    let server = deployment();
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "probes.yaml", PROBES);
    let out = Vouch::new(["run", "--format", format, "probes.yaml"])
        .env("GOLDEN_TARGET", server.url())
        .current_dir(dir.path())
        .run();
    (out, dir)
}

/// Masks what changes from run to run in text: timings, ports, the temp dir.
fn mask_text(text: &str, dir: &Path) -> String {
    let text = text.replace(&dir.display().to_string(), "[DIR]");
    let rules = [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r" in \d+ ms\b", " in [N] ms"),
        (r" in \d+\.\d+ s\b", " in [N] s"),
    ];
    rules.iter().fold(text, |text, (pattern, replacement)| {
        Regex::new(pattern)
            .expect("mask regex")
            .replace_all(&text, *replacement)
            .into_owned()
    })
}

/// Masks a JSON report: timestamps, durations, the version and `date` headers.
fn mask_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match key.as_str() {
                    "started_at" | "finished_at" if v.is_string() => {
                        *v = Value::from("[TIME]");
                    }
                    "vouch_version" => *v = Value::from("[VERSION]"),
                    "date" if v.is_string() => *v = Value::from("[DATE]"),
                    k if k.ends_with("_ms") && v.is_number() => *v = Value::from(0),
                    _ => mask_json(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

#[test]
fn the_human_report_matches_its_golden_file() {
    let (out, dir) = run("human");
    out.assert_code(1);
    assert!(out.stderr.is_empty(), "{}", out.dump());
    golden::assert_golden("report.human.txt", &mask_text(&out.stdout, dir.path()));
}

#[test]
fn the_json_report_matches_its_golden_file() {
    let (out, dir) = run("json");
    out.assert_code(1);
    let mut report = out.json();
    // The masks only hide what varies: check it is there first.
    assert!(
        report["started_at"]
            .as_str()
            .expect("started_at")
            .ends_with('Z')
    );
    assert!(report["duration_ms"].as_f64().expect("duration_ms") > 0.0);
    assert_eq!(report["vouch_version"], env!("CARGO_PKG_VERSION"));
    mask_json(&mut report);
    let text = serde_json::to_string_pretty(&report).expect("serialise") + "\n";
    golden::assert_golden("report.json", &mask_text(&text, dir.path()));
}

#[test]
fn the_human_report_summarises_every_verdict() {
    let (out, _dir) = run("human");
    out.assert_code(1);
    for line in [
        "golden deployment → http://127.0.0.1:",
        "✔ Health endpoint returns 200  verified\n",
        "✘ Orders API responds  failed\n",
        "✔ Cache warms up  verified (flaky)\n",
        "        attempts: fail → pass\n",
        "! Custom request headers are sent  error\n",
        "≈ Restore from backup rehearsed  attested\n",
        "    attested by ops@example.com on 2026-11-01, valid until 2036-10-29; restore drill OPS-123\n",
        "✘ Disaster recovery drill  failed\n",
        "    attested by sre@example.com on 2020-01-01: stale since 2020-01-31\n",
        "· On-call rota published  manual\n",
        "9 items: 3 verified, 3 failed, 1 error, 1 attested, 1 manual, 1 flaky · 6 probes in ",
        "gate: FAILED (--fail-on failed,error)\n",
    ] {
        assert!(
            out.stdout.contains(line),
            "missing `{line}`:\n{}",
            out.dump()
        );
    }
}

fn report_validator() -> jsonschema::Validator {
    let out = vouch(&["schema", "--report"]);
    out.assert_code(0);
    let schema = out.json();
    assert_eq!(
        schema["$id"],
        "https://vouch.dev/schemas/vouch.report.v1.json"
    );
    jsonschema::validator_for(&schema).expect("the report schema compiles")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn the_json_report_is_valid_against_the_report_schema() {
    let validator = report_validator();
    let (out, _dir) = run("json");
    let report = out.json();
    let problems = errors(&validator, &report);
    assert!(problems.is_empty(), "{problems:#?}\n{report:#}");

    // The schema is strict enough to fail a broken document.
    let mut broken = report.clone();
    broken["items"][0]["verdict"] = Value::from("probably");
    assert!(!validator.is_valid(&broken), "an unknown verdict must fail");
    let mut broken = report.clone();
    broken.as_object_mut().expect("object").remove("summary");
    assert!(!validator.is_valid(&broken), "a missing summary must fail");
    let mut broken = report;
    broken["summary"]["passed"] = Value::from("no");
    assert!(
        !validator.is_valid(&broken),
        "a string for a bool must fail"
    );
}
