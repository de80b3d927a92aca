//! `load` against real servers: in-process ones with known latency and
//! errors, and nginx (`/bench`, base URL in `VOUCH_TEST_NGINX`). Behaviour
//! only; speed is measured by `scripts/bench-load.sh`, not here.

#[path = "support/server.rs"]
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use server::{Request, Server, check_of, probe_file, probe_of, run_report, text};

fn nginx() -> Option<String> {
    match std::env::var("VOUCH_TEST_NGINX") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("VOUCH_REQUIRE_PEERS").is_none(),
                "VOUCH_REQUIRE_PEERS is set but VOUCH_TEST_NGINX is not: start nginx (scripts/test.sh)"
            );
            eprintln!("note: VOUCH_TEST_NGINX is not set; skipping (scripts/test.sh starts nginx)");
            None
        }
    }
}

fn run(target: &str, items: &str, extra: &[&str]) -> (server::Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["--cool-down", "0s"];
    args.extend_from_slice(extra);
    run_report(dir.path(), &probe_file(target, items), &args)
}

fn ms(probe: &Value, field: &str) -> f64 {
    probe["evidence"]["latency_ms"][field]
        .as_f64()
        .unwrap_or_else(|| panic!("no latency_ms.{field} in {probe:#}"))
}

/// Answers after `delay`.
fn slow_server(delay: Duration) -> Server {
    Server::http_async(move |_: Request| async move {
        tokio::time::sleep(delay).await;
        text(200, "ok")
    })
}

#[test]
fn closed_model_percentiles_reflect_the_servers_latency() {
    let server = slow_server(Duration::from_millis(20));
    let items = r#"  - item: fast enough
    probes:
      - load:
          get: /x
          concurrency: 4
          duration: 1s
          expect: { p50: 500ms, p99: 1s, error_rate: { max: 0% } }
  - item: too slow
    probes:
      - load:
          get: /x
          concurrency: 4
          duration: 500ms
          expect: { p50: 5ms, throughput: { min: 10000/s } }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let fast = probe_of(&report, "fast enough");
    assert_eq!(fast["verdict"], "pass", "{}", out.dump());
    assert!(
        ms(fast, "p50") >= 20.0 && ms(fast, "p50") < 200.0,
        "{fast:#}"
    );
    let sent = fast["evidence"]["sent"].as_u64().expect("sent");
    // 4 users × 1 s / ≥ 20 ms each.
    assert!((40..=200).contains(&sent), "{sent}");
    assert_eq!(server.max_in_flight(), 4);
    let slow = probe_of(&report, "too slow");
    assert_eq!(slow["verdict"], "fail");
    assert_eq!(check_of(slow, "latency p50")["passed"], false);
    assert_eq!(check_of(slow, "throughput")["passed"], false);
}

#[test]
fn errors_are_counted_by_cause_against_the_bound() {
    // Every 5th answer is a 503: an error rate of 20%.
    let count = Arc::new(AtomicUsize::new(0));
    let server = Server::http(move |_: Request| {
        if count.fetch_add(1, Ordering::SeqCst) % 5 == 4 {
            text(503, "busy")
        } else {
            text(200, "ok")
        }
    });
    let items = r#"  - item: strict
    probes:
      - load: { get: /x, concurrency: 1, requests: 100, expect: { error_rate: { max: 1% } } }
  - item: lenient
    probes:
      - load: { get: /x, concurrency: 1, requests: 100, expect: { error_rate: { max: 25% } } }
  - item: 503 allowed
    probes:
      - load: { get: /x, concurrency: 1, requests: 100, ok_status: [200, 503] }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let strict = probe_of(&report, "strict");
    assert_eq!(strict["verdict"], "fail", "{}", out.dump());
    assert_eq!(strict["evidence"]["sent"], 100);
    assert_eq!(strict["evidence"]["errors"]["count"], 20);
    assert_eq!(strict["evidence"]["errors"]["by_cause"]["status 503"], 20);
    assert_eq!(
        check_of(strict, "error rate")["actual"],
        "20% (20 of 100; most: status 503 ×20)"
    );
    assert_eq!(probe_of(&report, "lenient")["verdict"], "pass");
    assert_eq!(probe_of(&report, "503 allowed")["verdict"], "pass");
    assert_eq!(server.requests(), 300);
}

#[test]
fn open_model_counts_queueing_and_says_when_it_could_not_keep_up() {
    // One connection, 100 ms per answer, 40 asked per second: at most ~10 a
    // second get out. Latency from the schedule grows with the queue; a
    // closed-loop measurement would report a flat 100 ms.
    let server = slow_server(Duration::from_millis(100));
    let items = r#"  - item: behind schedule
    probes:
      - load:
          get: /x
          rate: 40/s
          duration: 1s
          concurrency: 1
          expect: { p99: 150ms }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let probe = probe_of(&report, "behind schedule");
    assert_eq!(probe["verdict"], "fail", "{}", out.dump());
    let kept = check_of(probe, "rate kept");
    assert_eq!(kept["passed"], false, "{kept:#}");
    assert!(
        kept["actual"]
            .as_str()
            .expect("actual")
            .contains("could not keep up"),
        "{kept:#}"
    );
    assert_eq!(probe["evidence"]["kept_up"], false);
    assert!(
        probe["evidence"]["never_sent"]
            .as_u64()
            .expect("never sent")
            > 10,
        "{probe:#}"
    );
    assert!(ms(probe, "p99") > 500.0, "queueing not counted: {probe:#}");
    assert!(ms(probe, "min") >= 100.0);
}

#[test]
fn open_model_on_schedule_keeps_up_and_warm_up_is_left_out() {
    let server = Server::http(|_: Request| text(200, "ok"));
    let items = r#"  - item: on schedule
    probes:
      - load:
          get: /x
          rate: 50/s
          duration: 1s
          warmup: 400ms
          concurrency: 4
          expect: { throughput: { min: 40/s } }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let probe = probe_of(&report, "on schedule");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    assert_eq!(probe["evidence"]["kept_up"], true);
    let sent = probe["evidence"]["sent"].as_u64().expect("sent");
    assert!((45..=50).contains(&sent), "{sent}");
    // 20 warm-up requests reached the server but no figure.
    assert_eq!(server.requests() as u64, sent + 20, "{probe:#}");
}

#[test]
fn max_requests_stops_a_fast_closed_run() {
    let server = Server::http(|_: Request| text(200, "ok"));
    let items = r#"  - item: capped
    probes:
      - load: { get: /x, concurrency: 4, duration: 20s, max_requests: 300 }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let probe = probe_of(&report, "capped");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    assert_eq!(probe["evidence"]["sent"], 300);
    assert_eq!(probe["evidence"]["stopped_at_cap"], true);
    assert_eq!(server.requests(), 300);
}

#[test]
fn a_fast_target_cannot_spend_the_whole_cap_in_the_warm_up() {
    // 300 requests would be gone long before the 5 s warm-up ends: the
    // warm-up stops at half the cap and the rest is measured.
    let server = Server::http(|_: Request| text(200, "ok"));
    let items = r#"  - item: capped warm-up
    probes:
      - load: { get: /x, concurrency: 4, duration: 20s, warmup: 5s, max_requests: 300 }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let probe = probe_of(&report, "capped warm-up");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    assert_eq!(probe["evidence"]["warmup_requests"], 150, "{probe:#}");
    assert_eq!(probe["evidence"]["sent"], 150, "{probe:#}");
    assert_eq!(probe["evidence"]["stopped_at_cap"], true);
    assert_eq!(server.requests(), 300);
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.contains("150 requests in") && summary.contains("stopped at the cap of 300"),
        "{summary}"
    );
}

#[test]
fn a_fixed_request_count_is_measured_in_full_after_a_warm_up() {
    // 80 measured out of a cap of 100: the warm-up gets the other 20.
    let server = Server::http(|_: Request| text(200, "ok"));
    let items = r#"  - item: counted
    probes:
      - load: { get: /x, concurrency: 4, requests: 80, duration: 20s, warmup: 5s, max_requests: 100 }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let probe = probe_of(&report, "counted");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    assert_eq!(probe["evidence"]["sent"], 80, "{probe:#}");
    assert_eq!(probe["evidence"]["warmup_requests"], 20, "{probe:#}");
    assert_eq!(server.requests(), 100);
}

#[test]
fn a_cap_spent_in_the_warm_up_is_said_so() {
    // Open model: 50 tickets at 100/s are all due within the 1 s warm-up.
    let server = Server::http(|_: Request| text(200, "ok"));
    let items = r#"  - item: all warm-up
    probes:
      - load: { get: /x, rate: 100/s, duration: 1s, warmup: 1s, max_requests: 50 }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let probe = probe_of(&report, "all warm-up");
    assert_eq!(probe["verdict"], "fail", "{}", out.dump());
    let requests = check_of(probe, "requests");
    assert!(
        requests["actual"]
            .as_str()
            .is_some_and(|a| a.contains("the warm-up spent the cap of 50 requests")),
        "{requests:#}"
    );
    assert_eq!(
        check_of(probe, "error rate")["actual"],
        "no measured request"
    );
    assert_eq!(server.requests(), 50);
}

#[test]
fn a_target_that_never_answers_stops_the_run_early() {
    let target = server::closed_port_url();
    let items = r#"  - item: nothing there
    probes:
      - load: { get: /x, concurrency: 3, duration: 20s }
"#;
    let (out, report) = run(&target, items, &[]);
    let probe = probe_of(&report, "nothing there");
    assert_eq!(probe["verdict"], "fail", "{}", out.dump());
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.contains("connection refused: no answer to the first "),
        "{summary}"
    );
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
}

#[test]
fn nginx_serves_a_short_load_without_errors() {
    let Some(base) = nginx() else { return };
    let items = r#"  - item: "p95 < 100ms under load"
    probes:
      - load:
          get: /bench
          concurrency: 8
          duration: 1s
          warmup: 200ms
          expect:
            p95: 100ms
            error_rate: { max: 1% }
            throughput: { min: 149/s }
"#;
    let (out, report) = run(&base, items, &[]);
    let probe = probe_of(&report, "p95 < 100ms under load");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    assert_eq!(probe["evidence"]["errors"]["count"], 0);
    assert_eq!(
        probe["evidence"]["statuses"]["200"],
        probe["evidence"]["sent"]
    );
}
