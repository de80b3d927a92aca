//! `http` probes end to end: the real `vouch` binary against in-process
//! servers (plain, slow, broken, TLS and mTLS), checking verdicts, the
//! evidence that decided them, scheduling and exit codes.

#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use server::{
    Output, Pki, RawServer, Request, Server, Vouch, closed_port_url, item_of,
    json as json_response, probe_file, probe_of, respond, text, vouch, with_header, write_file,
};

/// The API the expectation tests probe.
const API_BODY: &str = r#"{"status":"healthy","version":"1.2.3","items":[{"id":1,"name":"kettle"},{"id":2,"name":"mug"}]}"#;

fn api_server() -> Server {
    Server::http_async(|r: Request| async move {
        match r.path() {
            "/api" => with_header(json_response(API_BODY), "x-api-version", "7"),
            "/slowish" => {
                tokio::time::sleep(Duration::from_millis(150)).await;
                json_response(API_BODY)
            }
            "/moved" => with_header(text(301, "moved"), "location", "/api"),
            _ => text(404, "not found"),
        }
    })
}

/// Writes a probe file into `dir` and runs `vouch run --format json` on it.
fn run_json(dir: &Path, yaml: &str, extra: &[&str]) -> (Output, Value) {
    let file = write_file(dir, "probes.yaml", yaml);
    let out = run_file(&file, "json", extra);
    let report = out.json();
    (out, report)
}

fn run_file(file: &Path, format: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run".to_owned(),
        "--format".to_owned(),
        format.to_owned(),
        file.display().to_string(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    vouch(&args)
}

/// `(name, expected, actual, passed)` of every check of a probe outcome.
fn checks(probe: &Value) -> Vec<(String, String, String, bool)> {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                c["expected"].as_str().expect("expected").to_owned(),
                c["actual"].as_str().expect("actual").to_owned(),
                c["passed"].as_bool().expect("passed"),
            )
        })
        .collect()
}

fn check<'p>(probe: &'p Value, name: &str) -> &'p Value {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {probe:#}"))
}

fn evidence_error(probe: &Value) -> String {
    probe["evidence"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no evidence.error in {probe:#}"))
        .to_owned()
}

#[test]
fn every_kind_of_expectation_passes_against_a_matching_response() {
    let server = api_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: API answers as specified
    probes:
      - http:
          get: /api
          expect:
            status: 200
            headers:
              content-type: { contains: application/json }
              x-api-version: "7"
              x-powered-by: absent
            json:
              $.status: healthy
              $.version: { matches: '^\d+\.\d+\.\d+$' }
              $.items[*].id: { min: 1, max: 2 }
            body:
              contains: [kettle, mug]
              matches: '"name":"mug"'
            latency: { max: 5s }
            redirect: { contains: /api }
"#;
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), items), &[]);
    out.assert_code(0);
    let item = item_of(&report, "API answers as specified");
    assert_eq!(item["verdict"], "verified", "{}", out.dump());
    let probe = &item["probes"][0];
    assert_eq!(probe["verdict"], "pass");
    let names: Vec<String> = checks(probe).into_iter().map(|c| c.0).collect();
    assert_eq!(
        names,
        [
            "status",
            "header content-type",
            "header x-api-version",
            "header x-powered-by",
            "$.status",
            "$.version",
            "$.items[*].id",
            "body",
            "body",
            "body",
            "latency",
            "redirect",
        ]
    );
    assert!(checks(probe).iter().all(|c| c.3), "{probe:#}");
    assert_eq!(
        check(probe, "$.items[*].id")["actual"],
        "2 nodes, all matching"
    );
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with("GET /api → 200 in ") && summary.contains(r#"$.status = "healthy""#),
        "{summary}"
    );
}

#[test]
fn each_unmet_expectation_fails_with_what_was_expected_and_what_was_seen() {
    let server = api_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: API answers as specified
    probes:
      - http:
          get: /api
          expect:
            status: 201
            headers:
              x-api-version: "8"
              x-request-id: { exists: true }
            json:
              $.status: degraded
              $.items[*].id: { max: 1 }
              $.missing: { exists: true }
            body:
              contains: unicorn
              matches: '^\{"status":"down"'
            redirect: { contains: /elsewhere }
  - item: API is fast
    probes:
      - http:
          get: /slowish
          expect:
            latency: { max: 20ms }
"#;
    let yaml = probe_file(&server.url(), items);
    let (out, report) = run_json(dir.path(), &yaml, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "API answers as specified");
    assert_eq!(probe["verdict"], "fail");
    let url = format!("{}/api", server.url());
    let body_excerpt = format!("{}…", &API_BODY[..80]);
    let s = |t: &str| t.to_owned();
    assert_eq!(
        checks(probe),
        vec![
            (s("status"), s("201"), s("200"), false),
            (s("header x-api-version"), s(r#""8""#), s(r#""7""#), false),
            (s("header x-request-id"), s("present"), s("absent"), false),
            (s("$.status"), s(r#""degraded""#), s(r#""healthy""#), false),
            (s("$.items[*].id"), s("<= 1"), s("2"), false),
            (s("$.missing"), s("present"), s("no match"), false),
            (
                s("body"),
                s(r#"contains "unicorn""#),
                body_excerpt.clone(),
                false
            ),
            (
                s("body"),
                s(r#"matches /^\{"status":"down"/"#),
                body_excerpt,
                false
            ),
            (s("redirect"), s(r#"contains "/elsewhere""#), url, false),
        ],
        "{probe:#}"
    );
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with("GET /api → 200 in ")
            && summary.ends_with(
                r#"; status: expected 201, got 200; header x-api-version: expected "8", got "7"; and 7 more"#
            ),
        "{summary}"
    );

    let slow = probe_of(&report, "API is fast");
    let latency = check(slow, "latency");
    assert_eq!(latency["expected"], "<= 20ms");
    let seen = latency["actual"].as_str().expect("actual");
    let ms: u64 = seen
        .strip_suffix(" ms")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("latency shown as `{seen}`"));
    assert!(ms >= 150, "the server sleeps 150 ms, vouch saw {seen}");

    // The human report spells out every failed check under the probe, and where it was written.
    let human = run_file(&dir.path().join("probes.yaml"), "human", &[]);
    human.assert_code(1);
    for line in [
        "✘ API answers as specified  failed",
        "        status: expected 201, got 200",
        r#"        $.status: expected "degraded", got "healthy""#,
        "        $.missing: expected present, got no match",
        r#"        body: expected contains "unicorn", got {"status""#,
        "        latency: expected <= 20ms, got ",
        &format!(
            "        at {}:7:9",
            dir.path().join("probes.yaml").display()
        ),
    ] {
        assert!(
            human.stdout.contains(line),
            "missing `{line}`:\n{}",
            human.dump()
        );
    }
}

/// DESIGN.md: `http` expects a "body regex"; the settings document
/// `body.matches` as "a regex the body must match". A plain string there is
/// read as an equality matcher instead, so `matches: 'UP'` fails on `{"status":"UP"}`.
#[test]

fn body_matches_takes_a_plain_regex_as_documented() {
    let server = api_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: Body has a version
    probes:
      - http:
          get: /api
          expect:
            body:
              matches: '"version":"\d+\.\d+\.\d+"'
"#;
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), items), &[]);
    let probe = probe_of(&report, "Body has a version");
    let body = check(probe, "body");
    assert_eq!(
        body["expected"], r#"matches /"version":"\d+\.\d+\.\d+"/"#,
        "{probe:#}"
    );
    assert_eq!(body["passed"], true, "{probe:#}");
    out.assert_code(0);
}

#[test]
fn without_following_redirects_the_probe_sees_the_301_and_its_location() {
    let server = api_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: Old path redirects
    probes:
      - http:
          get: /moved
          follow_redirects: false
          expect:
            status: 301
            headers:
              location: /api
  - item: Old path ends at the API
    probes:
      - http:
          get: /moved
          expect:
            status: 200
            redirect: { matches: '/api$' }
"#;
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), items), &[]);
    out.assert_code(0);
    let moved = probe_of(&report, "Old path redirects");
    assert_eq!(moved["verdict"], "pass", "{moved:#}");
    assert_eq!(moved["evidence"]["response"]["status"], 301);
    assert_eq!(moved["evidence"]["response"]["headers"]["location"], "/api");
    assert_eq!(check(moved, "header location")["actual"], r#""/api""#);
    let followed = probe_of(&report, "Old path ends at the API");
    assert_eq!(followed["verdict"], "pass", "{followed:#}");
    assert_eq!(
        followed["evidence"]["response"]["final_url"],
        format!("{}/api", server.url())
    );
    // Two requests each: the unfollowed 301, then the 301 and the API.
    assert_eq!(server.requests(), 3);
}

#[test]
fn a_redirect_loop_fails_with_redirect_in_the_evidence() {
    let server = Server::http(|_| with_header(text(302, ""), "location", "/loop"));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Loop\n    probes:\n      - http: { get: /loop }\n";
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Loop");
    assert_eq!(probe["verdict"], "fail");
    let error = evidence_error(probe);
    assert!(error.contains("redirect"), "{error}");
    assert_eq!(check(probe, "response")["actual"], error.as_str());
    // It gave up after a bounded number of hops, not never.
    assert!(
        (2..=12).contains(&server.requests()),
        "{} requests",
        server.requests()
    );
}

#[test]
fn a_slow_endpoint_fails_at_the_probe_timeout_not_when_it_answers() {
    let server = Server::http_async(|_| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        text(200, "finally")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items =
        "  - item: Slow\n    probes:\n      - timeout: 300ms\n        http: { get: /slow }\n";
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), items), &[]);
    out.assert_code(1);
    assert!(
        out.elapsed < Duration::from_secs(3),
        "took {:?}",
        out.elapsed
    );
    let probe = probe_of(&report, "Slow");
    assert_eq!(probe["verdict"], "fail");
    // The phase the timeout struck in is named (issue 15).
    let waiting = "timed out after 300ms waiting for the response headers (connected in ";
    assert!(evidence_error(probe).starts_with(waiting), "{probe:#}");
    assert!(
        probe["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("GET /slow → {waiting}"))),
        "{probe:#}"
    );
    assert_eq!(probe["evidence"]["timeout_ms"], 300.0);
    let took = probe["duration_ms"].as_f64().expect("duration_ms");
    assert!((300.0..1500.0).contains(&took), "probe took {took} ms");
}

#[test]
fn the_command_line_timeout_replaces_the_default_but_not_a_probe_timeout() {
    let server = Server::http_async(|r: Request| async move {
        let wait = if r.path() == "/two-hundred" {
            200
        } else {
            5000
        };
        tokio::time::sleep(Duration::from_millis(wait)).await;
        text(200, "ok")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Default\n    probes:\n      - http: { get: /slow }\n  - item: Own\n    probes:\n      - timeout: 2s\n        http: { get: /two-hundred }\n";
    let (out, report) = run_json(
        dir.path(),
        &probe_file(&server.url(), items),
        &["--timeout", "100ms"],
    );
    out.assert_code(1);
    assert!(
        evidence_error(probe_of(&report, "Default"))
            .starts_with("timed out after 100ms waiting for"),
        "{report:#}"
    );
    assert_eq!(probe_of(&report, "Own")["verdict"], "pass");
}

#[test]
fn a_body_over_the_default_cap_fails_and_a_larger_body_limit_passes() {
    let server = Server::http(|_| respond(200, "application/octet-stream", vec![b'x'; 10 << 20]));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Download\n    probes:\n      - http: { get: /big }\n";
    let yaml = probe_file(&server.url(), items);
    let (out, report) = run_json(dir.path(), &yaml, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Download");
    assert_eq!(probe["verdict"], "fail");
    let size = check(probe, "body size");
    assert_eq!(size["expected"], "at most 1.0 MiB");
    assert_eq!(size["passed"], false);
    assert_eq!(probe["evidence"]["response"]["truncated"], true);
    assert_eq!(probe["evidence"]["response"]["body_bytes"], 1 << 20);
    assert!(
        probe["summary"]
            .as_str()
            .expect("summary")
            .contains("body size: expected at most 1.0 MiB"),
        "{probe:#}"
    );

    let (out, report) = run_json(dir.path(), &yaml, &["--body-limit", "20MiB"]);
    out.assert_code(0);
    let probe = probe_of(&report, "Download");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(probe["evidence"]["response"]["body_bytes"], 10 << 20);
    assert_eq!(probe["evidence"]["response"]["truncated"], false);
}

#[test]
fn a_connection_closed_without_an_answer_fails_with_evidence() {
    use tokio::io::AsyncReadExt;
    let server = RawServer::start(|mut stream| async move {
        // Read the request, then hang up without a word.
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).await;
        drop(stream);
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = format!(
        "  - item: Hangs up\n    probes:\n      - http: {{ url: {}/x }}\n",
        server.url()
    );
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Hangs up");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let error = evidence_error(probe);
    assert!(
        error.contains("closed") || error.contains("reset") || error.contains("incomplete"),
        "{error}"
    );
    assert_eq!(check(probe, "response")["expected"], "an HTTP response");
    assert_eq!(
        probe["evidence"]["request"]["url"],
        format!("{}/x", server.url())
    );
    assert!(server.accepted() >= 1);
}

#[test]
fn connection_refused_is_a_fail_not_an_error_and_exits_1() {
    let target = closed_port_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Service is up\n    probes:\n      - http: { get: /health }\n";
    let (out, report) = run_json(dir.path(), &probe_file(&target, items), &[]);
    out.assert_code(1);
    let item = item_of(&report, "Service is up");
    assert_eq!(item["verdict"], "failed");
    let probe = &item["probes"][0];
    assert_eq!(probe["verdict"], "fail");
    let error = evidence_error(probe);
    assert!(error.contains("refused"), "{error}");
    assert_eq!(report["summary"]["probes"]["fail"], 1);
    assert_eq!(report["summary"]["probes"]["error"], 0);
    assert_eq!(
        item["reason"],
        format!("GET /health → {error}"),
        "the item says why it failed"
    );
}

#[test]
fn a_json_expectation_on_a_malformed_body_fails_as_not_json() {
    let server = Server::http(|_| respond(200, "application/json", r#"{"status": "UP""#));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: JSON\n    probes:\n      - http:\n          get: /health\n          expect:\n            json:\n              $.status: UP\n";
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "JSON");
    let c = check(probe, "$.status");
    assert_eq!(c["passed"], false);
    assert!(
        c["actual"]
            .as_str()
            .expect("actual")
            .starts_with("not JSON ("),
        "{c}"
    );
    assert_eq!(check(probe, "status")["passed"], true);
}

#[test]
fn a_probe_that_passes_on_its_third_attempt_is_flaky_with_every_attempt_recorded() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let server = Server::http(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) < 2 {
            text(503, "warming up")
        } else {
            text(200, "ok")
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\ntarget: {}\ndefaults:\n  retry_delay: 10ms\nitems:\n  - item: Eventually up\n    probes:\n      - retries: 2\n        http: {{ get: /health, expect: {{ status: 200 }} }}\n",
        server.url()
    );
    let (out, report) = run_json(dir.path(), &yaml, &[]);
    out.assert_code(0);
    let item = item_of(&report, "Eventually up");
    assert_eq!(item["verdict"], "verified");
    assert_eq!(item["flaky"], true);
    let probe = &item["probes"][0];
    assert_eq!(probe["verdict"], "pass");
    assert_eq!(probe["flaky"], true);
    let attempts = probe["attempts"].as_array().expect("attempts");
    let trail: Vec<(&Value, &Value)> = attempts
        .iter()
        .map(|a| (&a["number"], &a["verdict"]))
        .collect();
    assert_eq!(
        trail,
        [
            (&json!(1), &json!("fail")),
            (&json!(2), &json!("fail")),
            (&json!(3), &json!("pass"))
        ]
    );
    assert!(
        attempts[0]["summary"]
            .as_str()
            .expect("summary")
            .contains("expected 200, got 503"),
        "{attempts:#?}"
    );
    assert!(
        probe["summary"]
            .as_str()
            .expect("summary")
            .ends_with("(flaky: passed on attempt 3)"),
        "{probe:#}"
    );
    assert_eq!(report["summary"]["flaky"], 1);
    assert_eq!(server.requests(), 3);

    let human = run_file(&dir.path().join("probes.yaml"), "human", &[]);
    // The server now answers 200 at once: no retry, nothing flaky.
    human.assert_code(0);
    assert!(!human.stdout.contains("flaky"), "{}", human.dump());
}

#[test]
fn retries_that_never_succeed_fail_and_show_every_attempt() {
    let server = Server::http(|_| text(503, "down"));
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\ntarget: {}\ndefaults:\n  retries: 2\n  retry_delay: 10ms\nitems:\n  - item: Never up\n    probes:\n      - http: {{ get: /health }}\n",
        server.url()
    );
    let file = write_file(dir.path(), "probes.yaml", &yaml);
    let out = run_file(&file, "human", &[]);
    out.assert_code(1);
    assert!(
        out.stdout.contains("attempts: fail → fail → fail"),
        "{}",
        out.dump()
    );
    assert!(!out.stdout.contains("flaky"), "{}", out.dump());
    assert_eq!(server.requests(), 3);
}

#[test]
fn only_runs_the_items_whose_text_matches() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Health endpoint\n    probes:\n      - http: { get: /health }\n  - item: Orders API\n    probes:\n      - http: { get: /orders }\n  - item: Payments API\n    probes:\n      - http: { get: /payments }\n";
    let (out, report) = run_json(
        dir.path(),
        &probe_file(&server.url(), items),
        &["--only", "api"],
    );
    out.assert_code(0);
    let names: Vec<&str> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["item"].as_str().expect("item"))
        .collect();
    assert_eq!(names, ["Orders API", "Payments API"]);
    let mut paths: Vec<String> = server.log().iter().map(|r| r.path().to_owned()).collect();
    paths.sort();
    assert_eq!(paths, ["/orders", "/payments"]);
}

#[test]
fn items_are_reported_in_file_order_even_when_the_first_is_slowest() {
    let server = Server::http_async(|r: Request| async move {
        if r.path() == "/first" {
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        text(200, "ok")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: First and slow\n    probes:\n      - http: { get: /first }\n  - item: Second\n    probes:\n      - http: { get: /second }\n  - item: Third\n    probes:\n      - http: { get: /third }\n";
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), items), &[]);
    out.assert_code(0);
    let names: Vec<&str> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["item"].as_str().expect("item"))
        .collect();
    assert_eq!(names, ["First and slow", "Second", "Third"]);
    // It really was the last to finish: the others arrived while it slept.
    let arrivals: Vec<String> = server.log().iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(arrivals.len(), 3);

    let human = run_file(&dir.path().join("probes.yaml"), "human", &[]);
    let first = human.stdout.find("First and slow").expect("first item");
    let second = human.stdout.find("✔ Second").expect("second item");
    let third = human.stdout.find("✔ Third").expect("third item");
    assert!(first < second && second < third, "{}", human.dump());
}

/// Twelve probes to a handler that holds each request for `hold`.
fn concurrency_run(hold: Duration, extra: &[&str]) -> (usize, Duration) {
    let server = Server::http_async(move |_| async move {
        tokio::time::sleep(hold).await;
        text(200, "ok")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items: String = (1..=12)
        .map(|i| format!("  - item: Item {i}\n    probes:\n      - http: {{ get: /p/{i} }}\n"))
        .collect();
    let (out, report) = run_json(dir.path(), &probe_file(&server.url(), &items), extra);
    out.assert_code(0);
    assert_eq!(report["summary"]["verified"], 12);
    assert_eq!(server.requests(), 12);
    (server.max_in_flight(), out.elapsed)
}

#[test]
fn concurrency_bounds_the_requests_in_flight() {
    let hold = Duration::from_millis(100);
    let (three, _) = concurrency_run(hold, &["--concurrency", "3"]);
    assert_eq!(three, 3, "--concurrency 3");
    let (one, took) = concurrency_run(hold, &["--concurrency", "1"]);
    assert_eq!(one, 1, "--concurrency 1");
    assert!(
        took >= Duration::from_millis(1200),
        "12 × 100 ms one at a time took {took:?}"
    );
    // Held longer, so twelve connections surely overlap on a busy machine.
    let (default, _) = concurrency_run(Duration::from_millis(400), &[]);
    assert_eq!(default, 12, "the default (32) runs all twelve at once");
}

#[test]
fn concurrency_zero_is_rejected_as_an_invalid_argument() {
    let out = vouch(&["run", "--concurrency", "0", "nothing.yaml"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("expected a number from 1 to 100000"),
        "{}",
        out.dump()
    );
}

// --- TLS ---------------------------------------------------------------------

fn tls_items(url: &str, settings: &str) -> String {
    format!(
        "  - item: HTTPS answers\n    probes:\n      - http:\n          url: {url}/secure\n{settings}          expect:\n            status: 200\n"
    )
}

fn tls_server(pki: &Pki) -> Server {
    Server::https(pki, |r: Request| {
        json_response(&format!(r#"{{"path":"{}"}}"#, r.path()))
    })
}

fn assert_https_passes(out: &Output, report: &Value) {
    out.assert_code(0);
    let probe = probe_of(report, "HTTPS answers");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(
        probe["evidence"]["response"]["body_excerpt"],
        r#"{"path":"/secure"}"#
    );
    assert!(probe["evidence"].get("tls").is_none(), "{probe:#}");
}

#[test]
fn a_private_ca_named_by_the_probe_is_trusted() {
    let pki = Pki::new();
    let server = tls_server(&pki);
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = format!("          ca: {}\n", pki.ca_path().display());
    let (out, report) = run_json(
        dir.path(),
        &probe_file(&server.url(), &tls_items(&server.url(), &settings)),
        &[],
    );
    assert_https_passes(&out, &report);
}

#[test]
fn a_relative_ca_path_is_read_next_to_the_probe_file() {
    let pki = Pki::new();
    let server = tls_server(&pki);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("certs")).expect("mkdir");
    pki.write_ca(&dir.path().join("certs/ca.pem"));
    let yaml = probe_file(
        &server.url(),
        &tls_items(&server.url(), "          ca: certs/ca.pem\n"),
    );
    let file = write_file(dir.path(), "probes.yaml", &yaml);
    // Run from another directory: `certs/ca.pem` must not be read from there.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let out = Vouch::new([
        "run".to_owned(),
        "--format".to_owned(),
        "json".to_owned(),
        file.display().to_string(),
    ])
    .current_dir(elsewhere.path())
    .run();
    let report = out.json();
    assert_https_passes(&out, &report);
}

#[test]
fn a_private_ca_in_the_defaults_is_trusted() {
    let pki = Pki::new();
    let server = tls_server(&pki);
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\ntarget: {url}\ndefaults:\n  ca: {ca}\nitems:\n{items}",
        url = server.url(),
        ca = pki.ca_path().display(),
        items = tls_items(&server.url(), "")
    );
    let (out, report) = run_json(dir.path(), &yaml, &[]);
    assert_https_passes(&out, &report);
}

#[test]
fn a_private_ca_from_the_ca_file_flag_is_trusted() {
    let pki = Pki::new();
    let server = tls_server(&pki);
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = pki.ca_path().display().to_string();
    let (out, report) = run_json(
        dir.path(),
        &probe_file(&server.url(), &tls_items(&server.url(), "")),
        &["--ca-file", &ca],
    );
    assert_https_passes(&out, &report);
}

#[test]
fn a_private_ca_from_ssl_cert_file_is_trusted() {
    let pki = Pki::new();
    let server = tls_server(&pki);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &probe_file(&server.url(), &tls_items(&server.url(), "")),
    );
    let out = Vouch::new([
        "run".to_owned(),
        "--format".to_owned(),
        "json".to_owned(),
        file.display().to_string(),
    ])
    .env("SSL_CERT_FILE", pki.ca_path())
    .run();
    let report = out.json();
    assert_https_passes(&out, &report);
}

#[test]
fn an_untrusted_certificate_fails_with_a_certificate_error() {
    let pki = Pki::new();
    let server = tls_server(&pki);
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, report) = run_json(
        dir.path(),
        &probe_file(&server.url(), &tls_items(&server.url(), "")),
        &[],
    );
    out.assert_code(1);
    let probe = probe_of(&report, "HTTPS answers");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let error = evidence_error(probe);
    assert!(error.contains("certificate"), "{error}");
    assert!(
        error.contains("UnknownIssuer"),
        "names why it is untrusted: {error}"
    );
    assert_eq!(
        server.requests(),
        0,
        "no request over an untrusted connection"
    );
}

#[test]
fn insecure_skips_verification_and_says_so_in_the_evidence() {
    let pki = Pki::new();
    let server = tls_server(&pki);
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, report) = run_json(
        dir.path(),
        &probe_file(
            &server.url(),
            &tls_items(&server.url(), "          insecure: true\n"),
        ),
        &[],
    );
    out.assert_code(0);
    let probe = probe_of(&report, "HTTPS answers");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(probe["evidence"]["tls"]["insecure"], true);
    assert!(
        probe["evidence"]["tls"]["note"]
            .as_str()
            .expect("note")
            .contains("verification was skipped")
    );
}

#[test]
fn mtls_passes_with_a_client_certificate_and_fails_without_one() {
    let pki = Pki::new();
    let (cert, key) = pki.client_identity();
    let server = Server::mtls(&pki, |_| json_response(r#"{"path":"/secure"}"#));
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = pki.ca_path();
    let with_identity = format!(
        "          ca: {}\n          client_cert: {}\n          client_key: {}\n",
        ca.display(),
        cert.display(),
        key.display()
    );
    let (out, report) = run_json(
        dir.path(),
        &probe_file(&server.url(), &tls_items(&server.url(), &with_identity)),
        &[],
    );
    assert_https_passes(&out, &report);
    assert_eq!(server.requests(), 1);

    let without = format!("          ca: {}\n", ca.display());
    let (out, report) = run_json(
        dir.path(),
        &probe_file(&server.url(), &tls_items(&server.url(), &without)),
        &[],
    );
    out.assert_code(1);
    let probe = probe_of(&report, "HTTPS answers");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let error = evidence_error(probe);
    assert!(error.contains("Certificate"), "{error}");
    assert_eq!(
        server.requests(),
        1,
        "the server answered nobody without a certificate"
    );
}

/// Issue 15: a user's mistake in the probe file is invalid input (exit 2,
/// at the field), found before any traffic; not a probe error (exit 1).
#[test]
fn a_client_certificate_without_its_key_is_invalid_input() {
    let pki = Pki::new();
    let (cert, _) = pki.client_identity();
    let server = Server::mtls(&pki, |_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = format!(
        "          ca: {}\n          client_cert: {}\n",
        pki.ca_path().display(),
        cert.display()
    );
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &probe_file(&server.url(), &tls_items(&server.url(), &settings)),
    );
    let out = run_file(&file, "json", &[]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("`client_cert` is given without `client_key`: mTLS needs both")
            && out.stderr.contains("probes.yaml:10:24"),
        "{}",
        out.dump()
    );
    assert_eq!(server.requests(), 0);
}

// --- exit codes ----------------------------------------------------------------

#[test]
fn exit_code_is_0_when_every_item_passes_and_1_when_one_fails() {
    let server = Server::http(|r: Request| match r.path() {
        "/ok" => text(200, "ok"),
        _ => text(500, "boom"),
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let good = "  - item: Good\n    probes:\n      - http: { get: /ok }\n";
    let file = write_file(dir.path(), "good.yaml", &probe_file(&server.url(), good));
    let out = run_file(&file, "human", &[]);
    out.assert_code(0);
    assert!(out.stdout.contains("gate: PASSED"), "{}", out.dump());

    let bad = format!("{good}  - item: Bad\n    probes:\n      - http: {{ get: /boom }}\n");
    let file = write_file(dir.path(), "bad.yaml", &probe_file(&server.url(), &bad));
    let out = run_file(&file, "human", &[]);
    out.assert_code(1);
    assert!(out.stdout.contains("gate: FAILED"), "{}", out.dump());
    assert!(
        out.stdout.contains("status: expected 2xx or 3xx, got 500"),
        "{}",
        out.dump()
    );
}

#[test]
fn an_invalid_probe_file_exits_2_and_the_server_receives_no_request() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let valid = write_file(
        dir.path(),
        "valid.yaml",
        &probe_file(
            &server.url(),
            "  - item: Fine\n    probes:\n      - http: { get: /fine }\n",
        ),
    );
    let invalid = write_file(
        dir.path(),
        "invalid.yaml",
        &probe_file(
            &server.url(),
            "  - item: Broken\n    probes:\n      - http: { get: /broken, timout: 5s }\n",
        ),
    );
    let out = vouch(&[
        "run".to_owned(),
        valid.display().to_string(),
        invalid.display().to_string(),
    ]);
    out.assert_code(2);
    assert!(out.stdout.is_empty(), "{}", out.dump());
    assert!(
        out.stderr.contains("unknown field `timout`"),
        "{}",
        out.dump()
    );
    assert!(
        out.stderr.contains(&format!("{}:7:31", invalid.display())),
        "{}",
        out.dump()
    );
    assert!(out.stderr.contains("nothing was run"), "{}", out.dump());
    // Give a stray request time to arrive before asserting there was none.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        server.requests(),
        0,
        "a valid file beside an invalid one must not run"
    );
}

#[test]
fn an_unwritable_output_path_exits_3_naming_the_path() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &probe_file(
            &server.url(),
            "  - item: Fine\n    probes:\n      - http: { get: /fine }\n",
        ),
    );
    let out = run_file(&file, "json", &["--output", "/nonexistent/dir/x"]);
    out.assert_code(3);
    assert!(
        out.stderr
            .contains("cannot write the report to `/nonexistent/dir/x`"),
        "{}",
        out.dump()
    );
    assert!(out.stdout.is_empty(), "{}", out.dump());
    assert!(!PathBuf::from("/nonexistent/dir/x").exists());
}

#[test]
fn the_report_goes_to_the_output_file_and_not_to_stdout() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &probe_file(
            &server.url(),
            "  - item: Fine\n    probes:\n      - http: { get: /fine }\n",
        ),
    );
    let report_path = dir.path().join("report.json");
    let out = run_file(
        &file,
        "json",
        &["--output", &report_path.display().to_string()],
    );
    out.assert_code(0);
    assert!(out.stdout.is_empty(), "{}", out.dump());
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report written"))
            .expect("report is JSON");
    assert_eq!(written["schema"], "vouch.report/v1");
    assert_eq!(item_of(&written, "Fine")["verdict"], "verified");
}
