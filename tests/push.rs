//! `vouch run --push`: a real Pushgateway (Debian's
//! `prometheus-pushgateway`, started here on loopback) and a real
//! Prometheus scraping it with `honor_labels: true`. Skipped without them
//! unless `VOUCH_REQUIRE_PEERS` is set. Failed pushes against a closed port
//! and an in-process server that answers 4xx.

#[path = "support/server.rs"]
mod server;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{Server, Vouch, closed_port_url, text, write_file};

/// A target where `/bad` answers 503 and everything else 200.
fn target() -> Server {
    Server::http(|request| match request.path() {
        "/bad" => text(503, "down"),
        _ => text(200, "ok"),
    })
}

/// A probe file `probes.yaml` with one item per `(name, path)`.
fn probes(dir: &Path, target: &Server, items: &[(&str, &str)]) {
    let mut yaml = format!("version: 1\ntarget: {}\nitems:\n", target.url());
    for (name, path) in items {
        yaml.push_str(&format!(
            "  - item: {name}\n    probes:\n      - http: {{ get: {path}, expect: {{ status: 200 }} }}\n"
        ));
    }
    write_file(dir, "probes.yaml", &yaml);
}

fn find(binary: &str, package: &str) -> Option<PathBuf> {
    let found = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match found {
        true => Some(PathBuf::from(binary)),
        false if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!("{binary} is missing and VOUCH_REQUIRE_PEERS is set: install Debian's {package}")
        }
        false => {
            eprintln!("note: {binary} not found; skipping (Debian's {package} has it)");
            None
        }
    }
}

/// A server process of ours on a free loopback port, killed when dropped.
struct Peer {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `binary` with `args(dir, addr)` until `ready` answers 200.
fn start(binary: &Path, ready: &str, args: impl Fn(&Path, &str) -> Vec<String>) -> Peer {
    let dir = tempfile::tempdir().expect("temp dir");
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(binary)
            .args(args(dir.path(), &addr))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start peer");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            if std::net::TcpStream::connect(&addr).is_ok() && get(&addr, ready).0.contains(" 200") {
                return Peer {
                    child,
                    addr,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{} did not start", binary.display());
}

fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.to_owned(), body.to_owned())
}

/// The gateway's groups (`/api/v1/metrics`).
fn groups(gateway: &str) -> Vec<Value> {
    let (_, body) = get(gateway, "/api/v1/metrics");
    let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    answer["data"].as_array().cloned().unwrap_or_default()
}

/// The `item` labels of `vouch_item_state` in a gateway group.
fn group_items(group: &Value) -> BTreeSet<String> {
    group["vouch_item_state"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["labels"]["item"].as_str().map(str::to_owned))
        .collect()
}

fn query(prometheus: &str, promql: &str) -> Vec<Value> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (_, body) = get(prometheus, &format!("/api/v1/query?query={encoded}"));
    let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn push_run(dir: &Path, gateway: &str, extra: &[&str]) -> server::Output {
    let url = format!("http://{gateway}");
    let mut args = vec![
        "run",
        "probes.yaml",
        "--no-progress",
        "-o",
        "json=report.json",
        "--push",
        &url,
        "--push-label",
        "env=staging/eu",
    ];
    args.extend_from_slice(extra);
    Vouch::new(args).current_dir(dir).run()
}

#[test]
fn two_pushes_leave_exactly_the_second_item_set_at_the_gateway_and_in_prometheus() {
    let (Some(gateway_bin), Some(prometheus_bin)) = (
        find("prometheus-pushgateway", "prometheus-pushgateway"),
        find("prometheus", "prometheus"),
    ) else {
        return;
    };
    let gateway = start(&gateway_bin, "/-/ready", |dir, addr| {
        vec![
            format!("--web.listen-address={addr}"),
            format!("--persistence.file={}", dir.join("gw.data").display()),
        ]
    });
    let gateway_addr = gateway.addr.clone();
    let prometheus = start(&prometheus_bin, "/-/ready", |dir, addr| {
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: [\"{gateway_addr}\"]\n"
        );
        write_file(dir, "prometheus.yml", &config);
        vec![
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address={addr}"),
        ]
    });
    let target = target();
    let dir = tempfile::tempdir().expect("temp dir");

    // First push: a passing run of items a and b.
    probes(dir.path(), &target, &[("Alpha", "/a"), ("Beta", "/b")]);
    push_run(dir.path(), &gateway.addr, &[]).assert_code(0);
    let first = groups(&gateway.addr);
    let group = |groups: &[Value]| {
        groups
            .iter()
            .find(|g| g["labels"]["job"] == "vouch" && g["labels"]["instance"] == "probes")
            .cloned()
            .unwrap_or_else(|| panic!("no vouch group at the gateway: {groups:?}"))
    };
    let g1 = group(&first);
    assert_eq!(g1["labels"]["env"], "staging/eu", "base64 label: {g1}");
    assert_eq!(
        group_items(&g1),
        BTreeSet::from(["alpha".into(), "beta".into()])
    );
    let success = |g: &Value| -> f64 {
        g["vouch_last_success_timestamp_seconds"]["metrics"][0]["value"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no last success in {g}"))
    };
    let first_success = success(&g1);

    // Second push: a failing run of items b and c replaces the group.
    probes(dir.path(), &target, &[("Beta", "/b"), ("Gamma", "/bad")]);
    let out = push_run(dir.path(), &gateway.addr, &[]);
    out.assert_code(1);
    let g2 = group(&groups(&gateway.addr));
    assert_eq!(
        group_items(&g2),
        BTreeSet::from(["beta".into(), "gamma".into()]),
        "{g2}"
    );
    // A failed gate keeps the last success where it was.
    assert_eq!(success(&g2), first_success, "{g2}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report written"),
    )
    .expect("report JSON");
    assert_eq!(report["summary"]["passed"], false);

    // Prometheus, scraping the gateway, holds exactly the second set.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let result = query(
            &prometheus.addr,
            "vouch_item_state{job=\"vouch\",instance=\"probes\",env=\"staging/eu\",state=\"verified\"}",
        );
        let items: BTreeSet<String> = result
            .iter()
            .filter_map(|r| r["metric"]["item"].as_str().map(str::to_owned))
            .collect();
        let gamma_failed = result
            .iter()
            .any(|r| r["metric"]["item"] == "gamma" && r["value"][1] == "0");
        if items == BTreeSet::from(["beta".into(), "gamma".into()]) && gamma_failed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not see exactly the second set within 30 s: {result:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_refused_gateway_is_exit_3_with_the_report_written() {
    let target = target();
    let dir = tempfile::tempdir().expect("temp dir");
    probes(dir.path(), &target, &[("Alpha", "/a")]);
    let closed = closed_port_url();
    let gateway = closed.trim_start_matches("http://");
    let out = push_run(dir.path(), gateway, &[]);
    out.assert_code(3);
    assert!(
        out.stderr.contains("cannot push to http://127.0.0.1:"),
        "{}",
        out.dump()
    );
    let report = std::fs::read_to_string(dir.path().join("report.json")).expect("report written");
    assert!(report.contains("\"passed\": true") || report.contains("\"passed\":true"));

    // --push-optional: the gate's exit code, the failure still reported.
    let out = push_run(dir.path(), gateway, &["--push-optional"]);
    out.assert_code(0);
    assert!(out.stderr.contains("cannot push to"), "{}", out.dump());
    probes(dir.path(), &target, &[("Gamma", "/bad")]);
    push_run(dir.path(), gateway, &["--push-optional"]).assert_code(1);
}

#[test]
fn a_4xx_answer_is_shown_escaped_and_the_token_is_not() {
    let target = target();
    // Echoes the Authorization header back, as a careless proxy might.
    let gateway = Server::http(|request| {
        let auth = request.header("authorization").unwrap_or("").to_owned();
        text(400, &format!("bad push\x1b[31m: {auth}"))
    });
    let dir = tempfile::tempdir().expect("temp dir");
    probes(dir.path(), &target, &[("Alpha", "/a")]);
    let url = gateway.url();
    let out = Vouch::new([
        "run",
        "probes.yaml",
        "--no-progress",
        "--format",
        "json",
        "--push",
        &url,
        "--push-token-env",
        "GW_TOKEN",
    ])
    .env("GW_TOKEN", "s3cr3t-t0ken")
    .current_dir(dir.path())
    .run();
    out.assert_code(3);
    assert!(out.stderr.contains("400 Bad Request"), "{}", out.dump());
    assert!(out.stderr.contains("bad push"), "{}", out.dump());
    assert!(!out.stderr.contains('\x1b'), "{}", out.dump());
    assert!(!out.stderr.contains("s3cr3t-t0ken"), "{}", out.dump());
    assert!(!out.stdout.contains("s3cr3t-t0ken"), "{}", out.dump());
    // The report still went to stdout.
    assert_eq!(out.json()["summary"]["passed"], true);
    // It was a PUT to the group, with the token.
    let log = gateway.log();
    assert_eq!(log.len(), 1, "one request: {log:?}");
    assert_eq!(log[0].method, "PUT");
    assert_eq!(log[0].path(), "/metrics/job/vouch/instance/probes");
    assert_eq!(log[0].header("authorization"), Some("Bearer s3cr3t-t0ken"));

    // A missing credential variable stops before the run.
    let out = Vouch::new([
        "run",
        "probes.yaml",
        "--push",
        &url,
        "--push-user",
        "u",
        "--push-password-env",
        "GW_NOT_SET",
    ])
    .current_dir(dir.path())
    .run();
    out.assert_code(2);
    assert!(out.stderr.contains("GW_NOT_SET"), "{}", out.dump());
}

#[test]
fn https_gateway_is_trusted_through_ca_file_with_basic_auth() {
    let target = target();
    let pki = server::Pki::new();
    let gateway = Server::https(&pki, |_| text(200, ""));
    let dir = tempfile::tempdir().expect("temp dir");
    probes(dir.path(), &target, &[("Alpha", "/a")]);
    let ca = pki.ca_path();
    let url = gateway.url().replace("127.0.0.1", "localhost");
    let push = |with_ca: bool| {
        let mut args = vec![
            "run".to_owned(),
            "probes.yaml".into(),
            "--no-progress".into(),
            "-q".into(),
            "-o".into(),
            "json=report.json".into(),
            "--push".into(),
            url.clone(),
            "--push-user".into(),
            "u".into(),
            "--push-password-env".into(),
            "GW_PASSWORD".into(),
        ];
        if with_ca {
            args.extend(["--ca-file".into(), ca.display().to_string()]);
        }
        Vouch::new(args)
            .env("GW_PASSWORD", "hunter2")
            .current_dir(dir.path())
            .run()
    };
    // Without the CA the gateway's certificate is not trusted: exit 3.
    let out = push(false);
    out.assert_code(3);
    assert!(
        out.stderr.contains("cannot push to https://localhost:"),
        "{}",
        out.dump()
    );
    assert!(
        out.stderr.to_lowercase().contains("certificate"),
        "{}",
        out.dump()
    );
    assert_eq!(gateway.requests(), 0);
    // With it, the push lands, with basic auth.
    push(true).assert_code(0);
    let log = gateway.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].method, "PUT");
    assert_eq!(log[0].header("authorization"), Some("Basic dTpodW50ZXIy"));
    let body = String::from_utf8_lossy(&log[0].body);
    assert!(body.contains("vouch_item_state{"), "{body}");
    assert!(
        body.contains("vouch_last_success_timestamp_seconds "),
        "{body}"
    );
}

#[test]
fn a_gateway_that_never_answers_times_out() {
    let target = target();
    // Accepts and holds the connection without a word.
    let silent = server::RawServer::start(|stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    });
    let dir = tempfile::tempdir().expect("temp dir");
    probes(dir.path(), &target, &[("Alpha", "/a")]);
    let gateway = silent.url();
    let started = Instant::now();
    let out = push_run(
        dir.path(),
        gateway.trim_start_matches("http://"),
        &["--push-timeout", "500ms"],
    );
    out.assert_code(3);
    assert!(out.stderr.contains("timed out"), "{}", out.dump());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(dir.path().join("report.json").exists());
}
