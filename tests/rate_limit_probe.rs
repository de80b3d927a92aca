//! `rate_limit` against real limiters: an in-process server with an exact
//! token bucket (and `Retry-After`, `RateLimit-*` headers), and nginx's
//! `limit_req` in three variants (429, 503, no limit; `tests/nginx/`, base URL
//! in `VOUCH_TEST_NGINX`). Also the isolated phase, the caps and `--dry-run`.

#[path = "support/server.rs"]
mod server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use server::{
    Request, Response, Server, check_of, item_of, probe_file, probe_of, run_report, text,
    with_header,
};

/// The nginx base URL; `None` (with a note) without one, a failure when
/// `VOUCH_REQUIRE_PEERS` is set.
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

/// An exact token bucket: `capacity` tokens, one more every `refill`.
struct Bucket {
    capacity: u32,
    refill: Duration,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: u32, refill: Duration) -> Bucket {
        Bucket {
            capacity,
            refill,
            tokens: f64::from(capacity),
            last: Instant::now(),
        }
    }

    /// Takes a token, or says how long until the next one.
    fn take(&mut self) -> Result<u32, Duration> {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() / self.refill.as_secs_f64();
        self.tokens = (self.tokens + earned).min(f64::from(self.capacity));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(self.tokens.floor() as u32)
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) * self.refill.as_secs_f64(),
            ))
        }
    }
}

/// A server limited by a bucket, answering `status` when limited, with
/// `Retry-After` (whole seconds, rounded up) when `retry_after`.
fn limited_server(capacity: u32, refill: Duration, status: u16, retry_after: bool) -> Server {
    let bucket = Arc::new(Mutex::new(Bucket::new(capacity, refill)));
    Server::http(move |_: Request| -> Response {
        let taken = bucket.lock().expect("bucket").take();
        let policy = format!("{capacity};w={}", refill.as_secs().max(1));
        match taken {
            Ok(remaining) => {
                let r = with_header(text(200, "ok"), "ratelimit-policy", &policy);
                with_header(
                    r,
                    "ratelimit",
                    &format!("limit={capacity}, remaining={remaining}, reset=1"),
                )
            }
            Err(wait) => {
                let r = with_header(text(status, "slow down"), "ratelimit-policy", &policy);
                let r = with_header(
                    r,
                    "ratelimit",
                    &format!("limit={capacity}, remaining=0, reset=1"),
                );
                if retry_after {
                    with_header(r, "retry-after", &wait.as_secs_f64().ceil().to_string())
                } else {
                    r
                }
            }
        }
    })
}

fn run(target: &str, items: &str, extra: &[&str]) -> (server::Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = extra.to_vec();
    if !extra.contains(&"--cool-down") {
        args.extend(["--cool-down", "100ms"]);
    }
    run_report(dir.path(), &probe_file(target, items), &args)
}

#[test]
fn the_first_limited_response_is_found_at_its_exact_index_and_recovery_is_timed() {
    // 5 tokens, one more per second: requests 1-5 pass, 6 is the first 429.
    let server = limited_server(5, Duration::from_secs(1), 429, true);
    let items = r#"  - item: limited early enough
    probes:
      - rate_limit:
          get: /api
          burst: 12
          expect:
            within: 6
            retry_after: present
            headers:
              ratelimit-policy: { exists: true }
              ratelimit: { contains: "remaining=0" }
            recovers_within: 2s
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let probe = probe_of(&report, "limited early enough");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    let evidence = &probe["evidence"];
    assert_eq!(evidence["first_limited"]["index"], 6, "{evidence:#}");
    assert_eq!(evidence["statuses"]["200"], 5);
    assert_eq!(evidence["statuses"]["429"], 7);
    assert_eq!(evidence["first_limited"]["headers"]["retry-after"], "1");
    assert_eq!(
        evidence["first_limited"]["headers"]["ratelimit-policy"],
        "5;w=1"
    );
    let recovered = evidence["recovery"]["recovered_after_ms"]
        .as_f64()
        .expect("recovered");
    assert!((900.0..2000.0).contains(&recovered), "{evidence:#}");
    // 12 in the burst, then the recovery request(s).
    assert!(server.requests() >= 13, "{}", server.requests());
    let summary = probe["summary"].as_str().expect("summary");
    assert!(summary.contains("first 429 at request 6"), "{summary}");
}

#[test]
fn a_limit_that_comes_too_late_or_without_retry_after_fails_with_evidence() {
    let server = limited_server(5, Duration::from_secs(30), 429, false);
    let items = r#"  - item: limited too late
    probes:
      - rate_limit:
          get: /api
          burst: 8
          expect:
            within: 3
            retry_after: present
            headers:
              x-ratelimit-limit: { exists: true }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "limited too late");
    assert_eq!(probe["verdict"], "fail");
    let limited = check_of(probe, "limited");
    assert_eq!(limited["passed"], false);
    assert!(
        limited["actual"]
            .as_str()
            .expect("actual")
            .contains("at request 6"),
        "{limited:#}"
    );
    assert_eq!(check_of(probe, "header retry-after")["actual"], "absent");
    assert_eq!(check_of(probe, "header x-ratelimit-limit")["passed"], false);
}

#[test]
fn a_generous_limit_passes_limited_false_and_a_paced_run_stays_under_it() {
    // 50 tokens: a burst of 20 never meets the limit; 5/s for 1s neither.
    let server = limited_server(50, Duration::from_secs(1), 429, true);
    let items = r#"  - item: not too tight
    probes:
      - rate_limit:
          get: /api
          burst: 20
          concurrency: 4
          expect: { limited: false }
      - rate_limit:
          get: /api
          rate: 5/s
          duration: 1s
          expect: { limited: false }
  - item: but limited
    probes:
      - rate_limit:
          get: /api
          burst: 10
          expect: { limited: true }
"#;
    let (out, report) = run(&server.url(), items, &[]);
    let item = item_of(&report, "not too tight");
    assert_eq!(item["verdict"], "verified", "{}", out.dump());
    assert_eq!(item["probes"][1]["evidence"]["sent"], 5);
    let failed = probe_of(&report, "but limited");
    assert_eq!(failed["verdict"], "fail");
    assert!(
        check_of(failed, "limited")["actual"]
            .as_str()
            .expect("actual")
            .starts_with("no 429 in 10 requests"),
        "{failed:#}"
    );
}

#[test]
fn nginx_limit_req_with_429_is_verified_and_recovers() {
    let Some(base) = nginx() else { return };
    // /rl/429: 2 r/s, burst 5, nodelay: the 7th quick request is the first 429.
    let items = r#"  - item: nginx limits
    probes:
      - rate_limit:
          get: /rl/429
          burst: 15
          expect:
            within: 7
            retry_after: present
            recovers_within: 3s
"#;
    let (out, report) = run(&base, items, &[]);
    let probe = probe_of(&report, "nginx limits");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    assert_eq!(probe["evidence"]["first_limited"]["index"], 7);
    assert_eq!(probe["evidence"]["statuses"]["200"], 6);
}

#[test]
fn nginx_limit_req_with_503_needs_limited_status() {
    let Some(base) = nginx() else { return };
    let items = r#"  - item: 503 is not 429
    probes:
      - rate_limit:
          get: /rl/503
          burst: 10
  - item: 503 means limited here
    probes:
      - rate_limit:
          get: /rl/503
          burst: 10
          expect: { limited_status: 503 }
"#;
    let (out, report) = run(&base, items, &["--cool-down", "0s"]);
    let plain = probe_of(&report, "503 is not 429");
    assert_eq!(plain["verdict"], "fail", "{}", out.dump());
    assert!(
        check_of(plain, "limited")["actual"]
            .as_str()
            .expect("actual")
            .contains("no 429 in 10 requests (6×200, 4×503)"),
        "{plain:#}"
    );
    let told = probe_of(&report, "503 means limited here");
    assert_eq!(told["verdict"], "pass", "{told:#}");
    // The zone was drained by the first burst moments before.
    assert!(
        told["evidence"]["first_limited"]["index"]
            .as_u64()
            .expect("index")
            <= 2
    );
}

#[test]
fn nginx_without_a_limit_is_refuted_by_limited_true() {
    let Some(base) = nginx() else { return };
    let items = r#"  - item: no limit configured
    probes:
      - rate_limit:
          get: /rl/none
          burst: 40
          concurrency: 4
  - item: no limit for a slow client
    probes:
      - rate_limit:
          get: /rl/slow
          rate: 1/s
          duration: 2s
          expect: { limited: false }
"#;
    let (out, report) = run(&base, items, &[]);
    let none = probe_of(&report, "no limit configured");
    assert_eq!(none["verdict"], "fail", "{}", out.dump());
    assert_eq!(none["evidence"]["statuses"]["200"], 40);
    assert_eq!(
        probe_of(&report, "no limit for a slow client")["verdict"],
        "pass"
    );
}

fn started(probe: &Value) -> SystemTime {
    humantime::parse_rfc3339(probe["started_at"].as_str().expect("started_at")).expect("rfc3339")
}

fn ended(probe: &Value) -> SystemTime {
    started(probe) + Duration::from_secs_f64(probe["duration_ms"].as_f64().expect("ms") / 1e3)
}

#[test]
fn bursts_run_after_every_other_probe_one_at_a_time_after_a_cool_down() {
    // The isolated probes come first in the file; they must still run last.
    let server = Server::http(|request: Request| text(200, request.path()));
    let items = r#"  - item: burst first in the file
    probes:
      - rate_limit: { get: /burst, burst: 20, concurrency: 4, expect: { limited: false } }
  - item: plain checks
    probes:
      - http: { get: /plain/1 }
      - http: { get: /plain/2 }
  - item: load in the middle
    probes:
      - load: { get: /load, concurrency: 4, duration: 300ms }
  - item: more plain checks
    probes:
      - http: { get: /plain/3 }
"#;
    let (out, report) = run(&server.url(), items, &["--cool-down", "400ms"]);
    out.assert_code(0);
    let numbers = |prefix: &str| -> Vec<usize> {
        server
            .log()
            .iter()
            .filter(|r| r.path().starts_with(prefix))
            .map(|r| r.number)
            .collect()
    };
    let (plain, burst, load) = (numbers("/plain"), numbers("/burst"), numbers("/load"));
    assert_eq!((plain.len(), burst.len()), (3, 20));
    assert!(load.len() > 4, "{}", load.len());
    let max = |v: &[usize]| *v.iter().max().expect("some");
    let min = |v: &[usize]| *v.iter().min().expect("some");
    assert!(
        max(&plain) < min(&burst),
        "a burst ran before a plain probe"
    );
    assert!(max(&burst) < min(&load), "the isolated probes overlapped");
    let burst = probe_of(&report, "burst first in the file");
    let load = probe_of(&report, "load in the middle");
    let gap = started(load)
        .duration_since(ended(burst))
        .expect("load after burst");
    assert!(gap >= Duration::from_millis(390), "cool-down was {gap:?}");
    // Isolated probes are never retried: one attempt each.
    assert_eq!(burst["attempts"].as_array().expect("attempts").len(), 1);
}

#[test]
fn probes_over_the_caps_are_refused_before_any_traffic() {
    let server = Server::http(|_: Request| text(200, "ok"));
    let items = r#"  - item: a harmless check
    probes:
      - http: { get: /ok }
  - item: too big a burst
    probes:
      - rate_limit: { get: /burst, burst: 20000 }
  - item: too long a load
    probes:
      - load: { get: /load, duration: 2m }
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    server::write_file(dir.path(), "probes.yaml", &probe_file(&server.url(), items));
    let out = server::Vouch::new(["run", "probes.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert_eq!(server.requests(), 0, "traffic before the refusal");
    assert!(
        out.stderr
            .contains("`rate_limit` probe plans up to 20000 requests, over the cap of 10000"),
        "{}",
        out.dump()
    );
    assert!(out.stderr.contains("probes.yaml:10:9"), "{}", out.dump());
    assert!(
        out.stderr.contains("traffic for 2m, over the cap of 1m"),
        "{}",
        out.dump()
    );
    assert!(out.stderr.contains("--allow-heavy"), "{}", out.dump());

    // --dry-run shows the plan and what needs --allow-heavy; nothing is sent.
    let plan = server::Vouch::new(["run", "probes.yaml", "--dry-run"])
        .current_dir(dir.path())
        .run();
    plan.assert_code(0);
    assert_eq!(server.requests(), 0, "a dry run sent traffic");
    for line in [
        "concurrent phase (up to 32 at once):",
        "isolated phase (one at a time, 1s cool-down before each):",
        "at most 20000 requests over 10s",
        "over the caps (up to 20000 requests, over the cap of 10000): needs --allow-heavy",
        "plan: 3 probes, at most 30001 requests in all; nothing was sent",
    ] {
        assert!(
            plan.stdout.contains(line),
            "no `{line}` in\n{}",
            plan.dump()
        );
    }
    let allowed = server::Vouch::new(["run", "probes.yaml", "--dry-run", "--allow-heavy"])
        .current_dir(dir.path())
        .run();
    assert!(
        !allowed.stdout.contains("needs --allow-heavy"),
        "{}",
        allowed.dump()
    );
}

#[test]
fn a_long_load_is_not_cut_by_the_per_request_timeout() {
    // --timeout 300ms bounds each request; the 1.2s load runs to its end.
    // A 2 ms answer keeps it under the 10,000-request cap on a fast machine.
    let server = Server::http_async(|_: Request| async {
        tokio::time::sleep(Duration::from_millis(2)).await;
        text(200, "ok")
    });
    let items = r#"  - item: a load longer than the timeout
    probes:
      - load: { get: /x, concurrency: 2, duration: 1200ms }
"#;
    let (out, report) = run(&server.url(), items, &["--timeout", "300ms"]);
    let probe = probe_of(&report, "a load longer than the timeout");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    assert!(
        probe["evidence"]["duration_ms"].as_f64().expect("ms") >= 1100.0,
        "{probe:#}"
    );
}

/// The probe proposed for the demo's "Rate limiting configured (10 RPS
/// default)" item (see the demo notes): 10 pass, the 11th is limited.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_deployment_limits_api_limited_at_10_rps() {
    let deployment = vouch::demo::Deployment::start().await.expect("demo starts");
    let items = r#"  - item: Rate limiting configured (10 RPS default)
    probes:
      - rate_limit:
          get: /api/limited
          burst: 15
          expect:
            within: 11
            retry_after: present
            headers:
              ratelimit-policy: "10;w=1"
            recovers_within: 2s
"#;
    let url = deployment.url();
    let (out, report) = tokio::task::spawn_blocking(move || run(&url, items, &[]))
        .await
        .expect("run");
    let probe = probe_of(&report, "Rate limiting configured (10 RPS default)");
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    assert_eq!(probe["evidence"]["first_limited"]["index"], 11);
    deployment.stop().await;
}

#[test]
fn ctrl_c_during_the_isolated_phase_stops_the_load_and_keeps_what_finished() {
    let server = Server::http(|_: Request| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: quick
    probes:
      - http: { get: /quick }
  - item: long load
    probes:
      - load: { get: /load, concurrency: 2, duration: 30s, max_requests: 10000 }
"#;
    server::write_file(dir.path(), "probes.yaml", &probe_file(&server.url(), items));
    let child = server::Vouch::new([
        "run",
        "--format",
        "json",
        "--cool-down",
        "0s",
        "probes.yaml",
    ])
    .current_dir(dir.path())
    .spawn();
    // The load is under way once more than the quick probe's request arrived.
    assert!(
        server.wait_for_requests(50, Duration::from_secs(10)),
        "the load never started"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT failed");
    let interrupted = Instant::now();
    let out = server::wait_output(child, interrupted, Duration::from_secs(10));
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?}\n{}",
        out.elapsed,
        out.dump()
    );
    out.assert_code(3);
    let report = out.json();
    assert_eq!(probe_of(&report, "quick")["verdict"], "pass");
    assert_eq!(probe_of(&report, "long load")["verdict"], "skip");
    // No traffic after the interruption.
    let after = server.requests();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.requests(), after, "the load went on after Ctrl-C");
}
