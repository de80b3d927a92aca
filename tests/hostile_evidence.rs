//! Evidence stays bounded and true whatever a hostile or broken target
//! sends (issue 15, "Bounded memory and bounded reports" and "False verdicts
//! found"): the real `vouch` binary against in-process servers that answer
//! a 30 MB metrics line, a million series, 100,000 health dependencies, a
//! huge JSON body, headers a rate-limit probe must see, and resets on every
//! connection. Each asserts the verdict, a small report, a summary of at
//! most 300 characters, and the totals kept as numbers.

#[path = "support/server.rs"]
mod server;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use serde_json::Value;
use server::{
    Output, RawServer, Request, Response, Server, check_of, probe_file, probe_of, respond,
    run_report, text, with_header,
};

/// The most one probe may add to a JSON report, whatever the target sent.
const MAX_PROBE_REPORT: usize = 200 * 1024;

/// The longest summary line.
const MAX_SUMMARY: usize = 300;

fn run(target: &str, items: &str, extra: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["--cool-down", "0s"];
    args.extend_from_slice(extra);
    run_report(dir.path(), &probe_file(target, items), &args)
}

/// The report is small and every summary (and reason) is one short line.
fn assert_bounded(out: &Output, report: &Value, probes: usize) {
    let size = out.stdout.len();
    assert!(
        size < MAX_PROBE_REPORT * probes,
        "a report of {probes} probes is {size} bytes"
    );
    for item in report["items"].as_array().expect("items") {
        if let Some(reason) = item["reason"].as_str() {
            assert!(reason.chars().count() <= MAX_SUMMARY, "reason: {reason}");
        }
        for probe in item["probes"].as_array().expect("probes") {
            let summary = probe["summary"].as_str().expect("summary");
            assert!(
                summary.chars().count() <= MAX_SUMMARY,
                "{} characters: {summary}",
                summary.chars().count()
            );
            assert!(
                probe["checks"].as_array().expect("checks").len() <= 50,
                "{}",
                probe["checks"]
            );
        }
    }
}

fn metrics(body: Bytes) -> Response {
    respond(200, "text/plain; version=0.0.4", body)
}

/// One line of ~30 MB: a label value no reader should copy whole.
fn huge_line() -> Bytes {
    let mut body = String::with_capacity(30_000_100);
    body.push_str("# HELP big A gauge with a huge label.\n# TYPE big gauge\n");
    body.push_str("big{l=\"");
    body.push_str(&"a".repeat(30_000_000));
    body.push_str("\"} 1\n");
    Bytes::from(body)
}

/// The same series twice, each line ~12 MB: the repeat is a lint problem
/// that quotes the sample.
fn repeated_huge_line() -> Bytes {
    let line = format!("dup{{l=\"{}\"}} 1\n", "b".repeat(12_000_000));
    Bytes::from(format!(
        "# HELP dup Repeated.\n# TYPE dup gauge\n{line}{line}"
    ))
}

/// `n` tiny series of one family.
fn series(n: usize) -> Bytes {
    let mut body = String::with_capacity(n * 16 + 64);
    body.push_str("# HELP s Tiny.\n# TYPE s gauge\n");
    for i in 0..n {
        let _ = writeln!(body, "s{{i=\"{i}\"}} 1");
    }
    Bytes::from(body)
}

#[test]
fn a_30_mb_metrics_line_makes_a_small_report() {
    let (line, repeated) = (huge_line(), repeated_huge_line());
    let server = Server::http(move |r: Request| match r.path() {
        "/line" => metrics(line.clone()),
        "/repeated" => metrics(repeated.clone()),
        _ => text(404, "no"),
    });
    let items = r#"  - item: huge line
    probes:
      - metrics: { url: /line, expect: { series: [{ name: big, value: 1 }] } }
  - item: repeated line
    probes:
      - metrics: { url: /repeated, expect: { lint: [unique_series] } }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    assert_eq!(
        probe_of(&report, "huge line")["verdict"],
        "pass",
        "{}",
        out.stderr
    );
    let repeated = probe_of(&report, "repeated line");
    assert_eq!(repeated["verdict"], "fail", "{repeated:#}");
    let lint = check_of(repeated, "lint unique_series");
    let actual = lint["actual"].as_str().expect("actual");
    assert!(actual.contains("repeats the series of line"), "{actual}");
    assert!(actual.len() < 1024, "{} bytes", actual.len());
    assert_eq!(repeated["evidence"]["lint"]["unique_series"]["problems"], 1);
    assert_bounded(&out, &report, 2);
}

#[test]
fn a_million_series_are_counted_not_copied() {
    // Half the line limit: parsed and judged in full.
    let parsed = series(500_000);
    // Over it: refused with a reason, in bounded time.
    let over = series(1_200_000);
    let server = Server::http(move |r: Request| match r.path() {
        "/parsed" => metrics(parsed.clone()),
        "/over" => metrics(over.clone()),
        _ => text(404, "no"),
    });
    let items = r#"  - item: parsed
    probes:
      - metrics:
          url: /parsed
          expect:
            series: [{ name: s, value: { max: 0 } }]
            cardinality: { max: 1000 }
            lint: [help, snake_case]
  - item: over
    probes:
      - metrics: { url: /over }
"#;
    let (out, report) = run(&server.url(), items, &["--timeout", "60s"]);
    let parsed = probe_of(&report, "parsed");
    assert_eq!(parsed["verdict"], "fail", "{parsed:#}");
    assert_eq!(
        check_of(parsed, "cardinality")["actual"],
        "500000 series",
        "{parsed:#}"
    );
    assert_eq!(parsed["evidence"]["series"][0]["count"], 500_000);
    assert_eq!(parsed["evidence"]["cardinality"]["series"], 500_000);
    let value = check_of(parsed, "value s")["actual"]
        .as_str()
        .expect("actual");
    assert!(value.ends_with("(and 499999 more)"), "{value}");
    let over = probe_of(&report, "over");
    assert_eq!(over["verdict"], "fail", "{over:#}");
    let exposition = check_of(over, "exposition")["actual"]
        .as_str()
        .expect("actual");
    assert!(
        exposition.contains("more than vouch evaluates"),
        "{exposition}"
    );
    assert_bounded(&out, &report, 2);
}

/// A Spring-style health answer with `n` dependencies, every even one down.
fn many_dependencies(n: usize) -> String {
    let mut body = String::from(r#"{"status":"UP","components":{"#);
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        let status = if i % 2 == 0 { "DOWN" } else { "UP" };
        let _ = write!(body, r#""dep{i}":{{"status":"{status}"}}"#);
    }
    body.push_str("}}");
    body
}

#[test]
fn a_health_answer_with_100000_dependencies_is_a_few_checks() {
    let body = Bytes::from(many_dependencies(100_000));
    let server = Server::http(move |_: Request| respond(200, "application/json", body.clone()));
    let items = r#"  - item: all healthy
    probes:
      - health: { url: /health, expect: { dependencies: all_healthy } }
  - item: named
    probes:
      - health: { url: /health, expect: { dependencies: [dep1, dep2] } }
"#;
    let (out, report) = run(&server.url(), items, &["--body-limit", "16MiB"]);
    let probe = probe_of(&report, "all healthy");
    assert_eq!(probe["verdict"], "fail", "{}", out.stderr);
    // The reason for the fail is never cut: the first unhealthy ones by
    // name, the rest counted.
    assert_eq!(check_of(probe, "dependency dep0")["passed"], false);
    assert_eq!(
        check_of(probe, "more dependencies")["actual"],
        "49,980 more dependencies unhealthy (50,000 of 100,000 not healthy)"
    );
    assert_eq!(check_of(probe, "healthy dependencies")["passed"], true);
    let health = &probe["evidence"]["health"];
    assert_eq!(health["dependency_count"], 100_000);
    assert_eq!(health["by_state"]["unhealthy"], 50_000);
    assert_eq!(health["by_state"]["healthy"], 50_000);
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.contains("dependencies: 50,000 of 100,000 not healthy: dep0 unhealthy"),
        "{summary}"
    );
    let named = probe_of(&report, "named");
    assert_eq!(named["verdict"], "fail");
    assert_eq!(check_of(named, "dependency dep1")["passed"], true);
    assert_eq!(check_of(named, "dependency dep2")["passed"], false);
    assert_bounded(&out, &report, 2);
}

#[test]
fn a_huge_json_body_is_matched_in_full_and_shown_in_part() {
    let mut body = String::from(r#"{"items":["#);
    for i in 0..100_000 {
        if i > 0 {
            body.push(',');
        }
        let _ = write!(body, r#"{{"id":{i},"name":"{}"}}"#, "x".repeat(40));
    }
    body.push_str(r#"],"status":"ok"}"#);
    let body = Bytes::from(body);
    let server = Server::http(move |_: Request| respond(200, "application/json", body.clone()));
    let items = r#"  - item: held
    probes:
      - http:
          get: /big
          expect:
            status: 200
            json:
              $.status: ok
              $.items[99999].id: 99999
  - item: not held
    probes:
      - http:
          get: /big
          expect:
            json:
              $.items: { contains: nothing }
"#;
    let (out, report) = run(&server.url(), items, &["--body-limit", "64MiB"]);
    assert_eq!(
        probe_of(&report, "held")["verdict"],
        "pass",
        "{}",
        out.stderr
    );
    let failed = probe_of(&report, "not held");
    assert_eq!(failed["verdict"], "fail", "{failed:#}");
    let actual = check_of(failed, "$.items")["actual"]
        .as_str()
        .expect("actual");
    assert!(actual.len() <= 4 * 1024, "{} bytes", actual.len());
    assert_bounded(&out, &report, 2);
}

/// Answers 200 twice, then 429 with `Retry-After`; every answer carries
/// `content-type` and `server`, never `x-debug`.
fn limiter() -> Server {
    let count = Arc::new(AtomicUsize::new(0));
    Server::http(move |_: Request| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        let response = if n % 5 < 2 {
            text(200, "ok")
        } else {
            with_header(text(429, "slow down"), "retry-after", "1")
        };
        with_header(response, "server", "hostile/1")
    })
}

#[test]
fn rate_limit_header_expectations_see_every_header() {
    // Regression (issue 15): only rate-limit headers were kept, so
    // `exists: true` on `content-type` failed and `absent` always passed.
    let server = limiter();
    let items = r#"  - item: right
    probes:
      - rate_limit:
          get: /api
          burst: 5
          expect:
            headers:
              content-type: { exists: true }
              x-debug: absent
  - item: sent after all
    probes:
      - rate_limit:
          get: /api
          burst: 5
          expect:
            headers:
              server: absent
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let right = probe_of(&report, "right");
    assert_eq!(right["verdict"], "pass", "{right:#}");
    assert_eq!(
        check_of(right, "header content-type")["actual"],
        r#""text/plain""#
    );
    assert_eq!(check_of(right, "header x-debug")["actual"], "absent");
    // The record keeps the limit headers and the named ones, not every header.
    let kept = &right["evidence"]["first_limited"]["headers"];
    assert_eq!(kept["retry-after"], "1", "{kept:#}");
    assert_eq!(kept["content-type"], "text/plain", "{kept:#}");
    assert!(kept.get("server").is_none(), "{kept:#}");
    let wrong = probe_of(&report, "sent after all");
    assert_eq!(wrong["verdict"], "fail", "{wrong:#}");
    let server_check = check_of(wrong, "header server");
    assert_eq!(server_check["passed"], false, "{server_check:#}");
    assert_bounded(&out, &report, 2);
}

/// Accepts every connection and resets it at once (`SO_LINGER` 0).
fn resetting_server() -> RawServer {
    RawServer::start(|stream| async move {
        // Linger 0 resets at once instead of blocking on drop.
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(std::time::Duration::ZERO));
        drop(stream);
    })
}

#[test]
fn load_against_resets_counts_what_was_sent_and_what_failed_to_connect() {
    // Regression (issue 15): "0 sent" beside "no answer to the first 99 requests".
    let server = resetting_server();
    let items = r#"  - item: closed
    probes:
      - load: { get: /, concurrency: 4, duration: 5s }
  - item: warm-up
    probes:
      - load: { get: /, concurrency: 4, duration: 5s, warmup: 2s }
  - item: open
    probes:
      - load: { get: /, rate: 50/s, duration: 5s }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    assert!(
        out.elapsed < std::time::Duration::from_secs(10),
        "{:?}",
        out.elapsed
    );
    for item in ["closed", "warm-up", "open"] {
        let probe = probe_of(&report, item);
        assert_eq!(probe["verdict"], "fail", "{probe:#}");
        let e = &probe["evidence"];
        let attempted = e["attempted"].as_u64().expect("attempted");
        let sent = e["sent"].as_u64().expect("sent");
        let unconnected = e["failed_to_connect"].as_u64().expect("failed_to_connect");
        assert!(attempted > 0, "{probe:#}");
        assert_eq!(attempted, sent + unconnected, "{probe:#}");
        assert_eq!(e["answered"], 0);
        let answers = check_of(probe, "answers")["actual"]
            .as_str()
            .expect("actual");
        assert!(
            answers.contains(&format!(
                "no answer to the first {attempted} requests ({sent} sent, {unconnected} failed to connect)"
            )),
            "{answers}"
        );
        // What the requests check says agrees with the counts.
        let requests = check_of(probe, "requests")["actual"]
            .as_str()
            .expect("actual");
        let measured = e["measured"].as_u64().expect("measured");
        if measured == 0 {
            assert_eq!(item, "warm-up");
            assert!(
                requests.contains(&format!("stopped in the warm-up, after {attempted}")),
                "{requests}"
            );
        } else if unconnected > 0 {
            assert_eq!(
                requests,
                format!("{sent} sent, {unconnected} failed to connect")
            );
        } else {
            assert_eq!(requests, format!("{sent} sent"));
        }
        // A run vouch stopped is not the generator's fault.
        let summary = probe["summary"].as_str().expect("summary");
        assert!(!summary.contains("keep up"), "{summary}");
    }
    assert_bounded(&out, &report, 3);
}

#[test]
fn an_open_model_stopped_at_its_cap_does_not_blame_the_generator() {
    let server = Server::http(|_: Request| text(200, "ok"));
    let items = r#"  - item: capped
    probes:
      - load: { get: /, rate: 100/s, duration: 3s, max_requests: 30 }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let probe = probe_of(&report, "capped");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(check_of(probe, "rate kept")["passed"], true);
    assert_eq!(probe["evidence"]["stopped_at_cap"], true);
    let summary = probe["summary"].as_str().expect("summary");
    assert!(summary.contains("stopped at the cap of 30"), "{summary}");
    assert!(!summary.contains("keep up"), "{summary}");
    assert!(
        out.elapsed < std::time::Duration::from_secs(3),
        "{:?}",
        out.elapsed
    );
}

#[test]
fn a_probe_that_never_finished_has_a_null_start() {
    // Regression (issue 15): `"started_at": ""` for a skipped probe.
    let server = Server::http_async(|_: Request| async {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        text(200, "late")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Slow\n    probes:\n      - timeout: 60s\n        http: { get: /slow }\n";
    server::write_file(dir.path(), "probes.yaml", &probe_file(&server.url(), items));
    let child = server::Vouch::new(["run", "--format", "json", "probes.yaml"])
        .current_dir(dir.path())
        .spawn();
    assert!(
        server.wait_for_requests(1, std::time::Duration::from_secs(10)),
        "the request never arrived"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT failed");
    let out = server::wait_output(
        child,
        std::time::Instant::now(),
        std::time::Duration::from_secs(10),
    );
    let report = out.json();
    let probe = probe_of(&report, "Slow");
    assert_eq!(probe["verdict"], "skip", "{probe:#}");
    assert!(probe["started_at"].is_null(), "{probe:#}");
}
