//! `metrics` probes end to end: the real `vouch` binary against in-process
//! servers (content negotiation, gzip, a gzip bomb, a 100 MB body, garbage
//! lines, duplicate series, a histogram without `+Inf`) and against the real
//! node_exporter and Prometheus started by `scripts/prometheus.sh`, whose
//! `/metrics` the parser also reads directly and whose lint findings are
//! compared with `promtool check metrics`.

#[path = "support/server.rs"]
mod server;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{
    Output, RawServer, Request, Server, Vouch, check_of, closed_port_url, probe_file, probe_of,
    respond, wait_output, with_header, write_file,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vouch::exposition::{Mode, parse};

const OPENMETRICS: &str = "\
# TYPE http_requests counter
# HELP http_requests Requests served.
http_requests_total{method=\"GET\",code=\"200\"} 1027
http_requests_total{method=\"GET\",code=\"500\"} 3
# TYPE http_request_duration_seconds histogram
# HELP http_request_duration_seconds Request latency.
# UNIT http_request_duration_seconds seconds
http_request_duration_seconds_bucket{le=\"0.05\"} 50
http_request_duration_seconds_bucket{le=\"0.1\"} 90
http_request_duration_seconds_bucket{le=\"0.5\"} 100
http_request_duration_seconds_bucket{le=\"+Inf\"} 100
http_request_duration_seconds_count 100
http_request_duration_seconds_sum 4.2
# EOF
";

const TEXT_004: &str = "\
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method=\"GET\",code=\"200\"} 1027
# HELP process_resident_memory_bytes Resident memory.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.5e+07
";

/// Runs `items` against `target`; the report and the output.
fn run(target: &str, items: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "metrics.yaml", &probe_file(target, items));
    let out = Vouch::new(["run", "--format", "json", &file.display().to_string()]).run();
    let report = out.json();
    (out, report)
}

fn item(probe: &str) -> String {
    format!("  - item: Metrics\n    probes:\n      - {probe}\n")
}

fn passed(probe: &Value, check: &str) -> bool {
    check_of(probe, check)["passed"]
        .as_bool()
        .expect("passed is a bool")
}

fn actual(probe: &Value, check: &str) -> String {
    check_of(probe, check)["actual"]
        .as_str()
        .expect("actual is text")
        .to_owned()
}

/// Serves OpenMetrics to clients that ask for it, text 0.0.4 to the rest.
fn negotiating_server() -> Server {
    Server::http(|r: Request| {
        let accept = r.header("accept").unwrap_or("");
        if accept.contains("application/openmetrics-text") {
            respond(
                200,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                OPENMETRICS,
            )
        } else {
            respond(200, "text/plain; version=0.0.4; charset=utf-8", TEXT_004)
        }
    })
}

#[test]
fn asks_for_openmetrics_first_and_gets_it() {
    let server = negotiating_server();
    let (out, report) = run(
        &server.url(),
        &item(
            "metrics: {expect: {series: [{name: http_requests_total, labels: {code: '=~5..'}, type: counter, value: {max: 10}}], quantile: {histogram: http_request_duration_seconds, q: 0.95, max: 400ms}}}",
        ),
    );
    out.assert_code(0);
    let probe = probe_of(&report, "Metrics");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(probe["evidence"]["scrape"]["format"], "OpenMetrics");
    // Rank 95 of 100 falls halfway into (0.1, 0.5]: 0.3.
    assert_eq!(
        actual(probe, "quantile 0.95 of http_request_duration_seconds"),
        "0.3 over 100 observations"
    );
    let note = probe["evidence"]["quantiles"][0]["note"]
        .as_str()
        .expect("note");
    assert!(note.contains("since the process started"), "{note}");
    let log = server.log();
    let accept = log[0].header("accept").expect("an Accept header");
    assert!(
        accept.starts_with("application/openmetrics-text;version=1.0.0")
            && accept.contains("text/plain;version=0.0.4;q=0.5"),
        "{accept}"
    );
    assert_eq!(log[0].header("accept-encoding"), Some("gzip"));
}

#[test]
fn falls_back_to_text_when_openmetrics_is_not_offered() {
    let server =
        Server::http(|_| respond(200, "text/plain; version=0.0.4; charset=utf-8", TEXT_004));
    let (out, report) = run(
        &server.url(),
        &item(
            "metrics: {expect: {series: [{name: process_resident_memory_bytes, type: gauge, value: {max: 2GB}}]}}",
        ),
    );
    out.assert_code(0);
    let probe = probe_of(&report, "Metrics");
    assert_eq!(
        probe["evidence"]["scrape"]["format"],
        "Prometheus text 0.0.4"
    );
    assert_eq!(
        actual(probe, "value process_resident_memory_bytes"),
        "process_resident_memory_bytes 25000000"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("compress")
}

#[test]
fn a_gzipped_exposition_is_read() {
    let body = gzip(TEXT_004.as_bytes());
    let server = Server::http(move |r: Request| {
        assert_eq!(r.header("accept-encoding"), Some("gzip"));
        with_header(
            respond(200, "text/plain; version=0.0.4", body.clone()),
            "content-encoding",
            "gzip",
        )
    });
    let (out, report) = run(
        &server.url(),
        &item("metrics: {expect: {series: [{name: http_requests_total, value: 1027}]}}"),
    );
    out.assert_code(0);
    let probe = probe_of(&report, "Metrics");
    // The body on the wire was gzip: it only parses if it was decompressed.
    assert_eq!(probe["evidence"]["scrape"]["series"], 2, "{probe:#}");
    assert_eq!(server.log()[0].header("accept-encoding"), Some("gzip"));
}

#[test]
fn a_gzip_bomb_stops_at_the_cap_on_decompressed_bytes() {
    // 20 MiB of valid lines in ~100 KB of gzip: a cap counted on compressed
    // bytes would read it all.
    let line = b"bomb_total 1\n";
    let plain: Vec<u8> = line.iter().copied().cycle().take(20 << 20).collect();
    let body = gzip(&plain);
    assert!(body.len() < 1 << 20, "compressed to {} bytes", body.len());
    let server = Server::http(move |_| {
        with_header(
            respond(200, "text/plain; version=0.0.4", body.clone()),
            "content-encoding",
            "gzip",
        )
    });
    let (out, report) = run(&server.url(), &item("metrics: {body_limit: 1MiB}"));
    out.assert_code(1);
    let probe = probe_of(&report, "Metrics");
    assert_eq!(probe["verdict"], "fail");
    assert_eq!(probe["evidence"]["response"]["body_bytes"], 1 << 20);
    assert!(
        actual(probe, "exposition").starts_with("more than 1.0 MiB"),
        "{probe:#}"
    );
}

/// Peak resident memory of a child, polled until it exits.
fn peak_rss_kib(pid: u32) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            match hwm {
                Some(kib) => peak = peak.max(kib),
                None => break, // a zombie: the process has ended
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        peak
    })
}

#[test]
fn a_100_mb_body_is_cut_at_32_mib_in_bounded_memory() {
    // Streams 100 MB of valid lines, never holding them: only the cap can stop it.
    let server = RawServer::start(|mut stream| async move {
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let total: usize = 100_000_000;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {total}\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk: Vec<u8> = b"huge_total{shard=\"0000\"} 1\n"
            .iter()
            .copied()
            .cycle()
            .take(1 << 16)
            .collect();
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            if stream.write_all(&chunk[..n]).await.is_err() {
                return;
            }
            sent += n;
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "huge.yaml",
        &probe_file(&server.url(), &item("metrics: {}")),
    );
    let started = Instant::now();
    let child = Vouch::new(["run", "--format", "json", &file.display().to_string()]).spawn();
    let peak = peak_rss_kib(child.id());
    let out = wait_output(child, started, Duration::from_secs(30));
    let peak_mib = peak.join().expect("poller") / 1024;
    out.assert_code(1);
    let report = out.json();
    let probe = probe_of(&report, "Metrics");
    assert_eq!(probe["verdict"], "fail");
    assert_eq!(probe["evidence"]["response"]["body_bytes"], 32 << 20);
    assert!(
        actual(probe, "exposition").starts_with("more than 32.0 MiB"),
        "{probe:#}"
    );
    // vouch itself (~40 MiB) and the 32 MiB read: less than the body alone.
    assert!(peak_mib < 100, "peak RSS {peak_mib} MiB");
    eprintln!("100 MB body: peak RSS {peak_mib} MiB, {:?}", out.elapsed);
}

#[test]
fn garbage_lines_fail_with_line_and_column() {
    let server = Server::http(|_| {
        respond(
            200,
            "text/plain; version=0.0.4",
            "# TYPE up gauge\nup 1\n<html><body>oops</body></html>\n",
        )
    });
    let (out, report) = run(&server.url(), &item("metrics: {}"));
    out.assert_code(1);
    let probe = probe_of(&report, "Metrics");
    let seen = actual(probe, "exposition");
    assert!(seen.starts_with("line 3, column 1:"), "{seen}");
    let summary = probe["summary"].as_str().expect("summary");
    assert!(summary.contains("line 3, column 1"), "{summary}");
}

#[test]
fn duplicate_series_and_a_histogram_without_inf_are_named() {
    let body = "\
# HELP dup_total Twice.
# TYPE dup_total counter
dup_total{a=\"1\"} 1
dup_total{a=\"1\"} 2
# HELP lat_seconds No +Inf.
# TYPE lat_seconds histogram
lat_seconds_bucket{le=\"0.1\"} 4
lat_seconds_bucket{le=\"1\"} 9
lat_seconds_count 9
lat_seconds_sum 2
";
    let server = Server::http(move |_| respond(200, "text/plain; version=0.0.4", body));
    let (out, report) = run(
        &server.url(),
        &item(
            "metrics: {expect: {lint: true, quantile: {histogram: lat_seconds, q: 0.5, max: 1s}}}",
        ),
    );
    out.assert_code(1);
    let probe = probe_of(&report, "Metrics");
    assert!(passed(probe, "exposition"), "lenient mode reads it");
    assert_eq!(
        actual(probe, "lint unique_series"),
        "line 4: `dup_total{a=\"1\"} 2` repeats the series of line 3"
    );
    assert_eq!(
        actual(probe, "lint buckets"),
        "line 8: `lat_seconds{}` has no `+Inf` bucket"
    );
    assert_eq!(
        actual(probe, "quantile 0.5 of lat_seconds"),
        "no estimate {}: no `+Inf` bucket"
    );
    for rule in ["counter_total", "help", "base_units", "snake_case"] {
        assert!(passed(probe, &format!("lint {rule}")), "{rule}: {probe:#}");
    }
}

#[test]
fn strict_mode_rejects_what_lenient_accepts() {
    let server = Server::http(|_| respond(200, "text/plain; version=0.0.4", TEXT_004));
    let (out, report) = run(&server.url(), &item("metrics: {strict: true}"));
    out.assert_code(1);
    let probe = probe_of(&report, "Metrics");
    assert!(!passed(probe, "exposition"), "{probe:#}");
}

#[test]
fn an_error_status_and_a_refused_connection_fail() {
    let server = Server::http(|_| respond(503, "text/plain", "down for maintenance"));
    let (_, report) = run(&server.url(), &item("metrics: {}"));
    let probe = probe_of(&report, "Metrics");
    assert_eq!(actual(probe, "status"), "503");
    assert_eq!(actual(probe, "exposition"), "not read: HTTP 503");
    let (_, report) = run(&closed_port_url(), &item("metrics: {}"));
    let probe = probe_of(&report, "Metrics");
    assert_eq!(probe["verdict"], "fail");
    assert!(
        probe["summary"]
            .as_str()
            .is_some_and(|s| s.contains("refused")),
        "{probe:#}"
    );
}

#[test]
fn the_authorization_header_is_sent_and_masked() {
    let server = Server::http(|r: Request| {
        if r.header("authorization") == Some("Bearer s3cr3t-metrics-token") {
            respond(200, "text/plain; version=0.0.4", TEXT_004)
        } else {
            respond(401, "text/plain", "unauthorized")
        }
    });
    let (out, report) = run(
        &server.url(),
        &item("metrics: {headers: {authorization: Bearer s3cr3t-metrics-token}}"),
    );
    out.assert_code(0);
    assert!(
        !out.stdout.contains("s3cr3t-metrics-token"),
        "{}",
        out.stdout
    );
    assert_eq!(probe_of(&report, "Metrics")["verdict"], "pass");
}

// ---- real peers -------------------------------------------------------------

/// The URL in `var`, or `None` (with a note) when the peer is not running;
/// with `VOUCH_REQUIRE_PEERS` set, a missing peer fails the test.
fn peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!("{var} is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts the peer")
        }
        _ => {
            eprintln!("note: {var} is not set; skipping (scripts/prometheus.sh starts it)");
            None
        }
    }
}

/// GET over plain HTTP/1.0 (the peers are on loopback): status and body.
fn http_get(url: &str, accept: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the peer");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET /{path} HTTP/1.0\r\nHost: {host}\r\nAccept: {accept}\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_owned())
}

#[test]
fn the_parser_reads_real_node_exporter_and_prometheus_output() {
    let (Some(node), Some(prometheus)) = (
        peer("VOUCH_TEST_NODE_EXPORTER"),
        peer("VOUCH_TEST_PROMETHEUS"),
    ) else {
        return;
    };
    for (name, url) in [("node_exporter", node), ("prometheus", prometheus)] {
        let (status, body) = http_get(&format!("{url}/metrics"), "text/plain");
        assert_eq!(status, 200, "{name}");
        let exposition =
            parse(&body, Mode::Lenient).unwrap_or_else(|e| panic!("{name}'s /metrics: {e}"));
        let series: usize = exposition.families.iter().map(|f| f.samples.len()).sum();
        let lines = body
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(series, lines, "{name}: every sample line read");
        assert!(exposition.families.len() > 50, "{name}");
        // Strict OpenMetrics requires `# EOF`: text 0.0.4 is rightly refused.
        assert!(parse(&body, Mode::Strict).is_err(), "{name}");
    }
}

/// `(family, rule)` pairs `promtool check metrics` reports for `body`.
fn promtool_findings(body: &str) -> Option<BTreeSet<(String, String)>> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(_) if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!("promtool (Debian's prometheus package) is not on PATH")
        }
        Err(_) => {
            eprintln!("note: promtool not on PATH; skipping");
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let output = child.wait_with_output().expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let rule = |message: &str| -> Option<&str> {
        Some(if message.contains("should have \"_total\" suffix") {
            "counter_total"
        } else if message == "no help text" {
            "help"
        } else if message.starts_with("use base unit") {
            "base_units"
        } else if message.contains("snake_case") {
            "snake_case"
        } else {
            return None;
        })
    };
    Some(
        text.lines()
            .filter_map(|line| {
                let (family, message) = line.split_once(' ')?;
                Some((family.to_owned(), rule(message)?.to_owned()))
            })
            .collect(),
    )
}

#[test]
fn lint_agrees_with_promtool_on_real_and_flawed_expositions() {
    let Some(node) = peer("VOUCH_TEST_NODE_EXPORTER") else {
        return;
    };
    let (_, real) = http_get(&format!("{node}/metrics"), "text/plain");
    let flawed = "\
# TYPE requests counter
requests 1
# HELP latency_milliseconds Latency.
# TYPE latency_milliseconds gauge
latency_milliseconds 3
# HELP cacheHits Hits.
# TYPE cacheHits gauge
cacheHits 1
# HELP size_kilobytes Size.
# TYPE size_kilobytes gauge
size_kilobytes 2
# HELP ok_seconds Fine.
# TYPE ok_seconds gauge
ok_seconds 1
";
    for (name, body) in [("node_exporter", real.as_str()), ("flawed", flawed)] {
        let Some(expected) = promtool_findings(body) else {
            return;
        };
        let exposition = parse(body, Mode::Lenient).expect("parses");
        let mut ours = BTreeSet::new();
        for rule in ["counter_total", "help", "base_units", "snake_case"] {
            let server_rule: vouch::probe::metrics::LintRule =
                serde_json::from_value(Value::from(rule)).expect("a rule");
            for problem in vouch::probe::metrics::lint_problems(server_rule, &exposition) {
                let family = problem.split('`').nth(1).expect("a quoted name").to_owned();
                ours.insert((family, rule.to_owned()));
            }
        }
        assert!(!expected.is_empty(), "{name}: promtool found nothing");
        assert_eq!(ours, expected, "{name}");
    }
}

#[test]
fn real_node_exporter_through_the_probe() {
    let Some(node) = peer("VOUCH_TEST_NODE_EXPORTER") else {
        return;
    };
    let (out, report) = run(
        &node,
        &item(
            "metrics: {expect: {series: [{name: node_cpu_seconds_total, labels: {mode: idle}, type: counter, value: {min: 0}}, {name: process_resident_memory_bytes, value: {max: 2GB}}], cardinality: {max: 20000}, lint: [help, counter_total, unique_series, buckets]}}",
        ),
    );
    out.assert_code(0);
    let probe = probe_of(&report, "Metrics");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert!(
        probe["evidence"]["scrape"]["series"]
            .as_u64()
            .is_some_and(|n| n > 100),
        "{probe:#}"
    );
    let samples = probe["evidence"]["series"][0]["samples"]
        .as_array()
        .expect("samples");
    assert!(!samples.is_empty() && samples.len() <= 3, "{probe:#}");
}

// ---- the demo ----------------------------------------------------------------

/// The items proposed for `probes/demo.yaml` (see the README's `metrics`
/// section): the demo's histogram gives a p95, and its always-failing
/// `/api/orders` refutes "no 5xx".
const DEMO_ITEMS: &str = "  - item: Prometheus metrics exposed
    probes:
      - metrics:
          expect:
            series:
              - { name: http_requests_total, labels: { path: /api/products }, type: counter }
            quantile: { histogram: http_request_duration_seconds, labels: { path: /api/products }, q: 0.95, max: 100ms }
            lint: true
  - item: No server errors
    probes:
      - metrics:
          expect:
            series:
              - { name: http_requests_total, labels: { code: '=~5..' }, count: 0 }
";

#[test]
fn the_demo_serves_openmetrics_with_a_histogram() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let demo = runtime
        .block_on(vouch::demo::Deployment::start())
        .expect("the demo starts");
    let (_, report) = run(&demo.url(), DEMO_ITEMS);
    let probe = probe_of(&report, "Prometheus metrics exposed");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(probe["evidence"]["scrape"]["format"], "OpenMetrics");
    // 95% of the warm history's 1,000 product requests took ≤ 25 ms.
    let p95 = &probe["evidence"]["quantiles"][0]["series"][0]["value"];
    assert!(
        p95.as_f64().is_some_and(|v| v > 0.01 && v <= 0.025),
        "{probe:#}"
    );
    let errors = probe_of(&report, "No server errors");
    assert_eq!(errors["verdict"], "fail", "{errors:#}");
    assert_eq!(
        actual(errors, "series http_requests_total{code=~\"5..\"}"),
        "1 series"
    );
    runtime.block_on(demo.stop());
}
