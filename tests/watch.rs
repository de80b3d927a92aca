//! `vouch watch` as a process: a real Prometheus scrapes it (its own,
//! started here with a generated config; skipped without `prometheus` on
//! PATH unless `VOUCH_REQUIRE_PEERS` is set), reloads on SIGHUP and on a file
//! change, overruns never overlap, SIGTERM stops within the probes' timeouts.

#[path = "support/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{Server, Vouch, text, write_file};
use vouch::exposition::{self, Mode};

const CHECKLIST: &str =
    "# Shop\n\n## Operations\n\n- [x] Health endpoint answers\n- [x] Orders endpoint answers\n";
const ORDERS: &str = "operations/orders-endpoint-answers";

fn probes(target: &str, extra: &str) -> String {
    format!(
        "version: 1\ntarget: {target}\nchecklist: checklist.md\nitems:\n  - item: Health endpoint answers\n    probes:\n      - http: {{ get: /health, expect: {{ status: 200 }} }}\n  - item: Orders endpoint answers\n    probes:\n      - http: {{ get: /orders, expect: {{ status: 200 }} }}\n{extra}"
    )
}

/// A running `vouch watch`, killed when dropped.
struct Watch {
    child: Child,
    stderr: Arc<Mutex<String>>,
    addr: String,
}

impl Watch {
    fn start(dir: &Path, args: &[&str]) -> Watch {
        let mut all = vec!["watch", "--listen", "127.0.0.1:0", "--jitter", "0%"];
        all.extend_from_slice(args);
        let mut child = Vouch::new(all).current_dir(dir).spawn();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().expect("stderr");
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut watch = Watch {
            child,
            stderr,
            addr: String::new(),
        };
        watch.addr = watch
            .wait_log(|log| {
                let at = log.find("listening on http://")?;
                let rest = &log[at + "listening on http://".len()..];
                Some(
                    rest.split(|c: char| c == ';' || c.is_whitespace())
                        .next()?
                        .to_owned(),
                )
            })
            .unwrap_or_else(|| panic!("no listen address\n{}", watch.log()));
        watch
    }

    fn log(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    fn wait_log<T>(&self, find: impl Fn(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(found) = find(&self.log()) {
                return Some(found);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// `/metrics` in OpenMetrics, checked by the strict parser.
    fn metrics(&self) -> String {
        let (head, body) = get(
            &self.addr,
            "/metrics",
            Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
        );
        assert!(
            head.to_lowercase()
                .contains("content-type: application/openmetrics-text; version=1.0.0"),
            "{head}"
        );
        exposition::parse(&body, Mode::Strict).unwrap_or_else(|e| panic!("{e}\n{body}"));
        body
    }

    /// Waits until `/metrics` satisfies `ok`; panics with the last scrape.
    fn wait_metrics(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.metrics();
            if ok(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "waited 20 s for {what}\n{text}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to end, at most `limit`; its exit code.
    fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status.code(), started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("vouch watch still runs after {limit:?}\n{}", self.log());
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET over HTTP/1.0: the head and the body.
fn get(addr: &str, path: &str, accept: Option<&str>) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{accept}\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.to_owned(), body.to_owned())
}

/// The value of the first sample named `name` with these labels.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition::parse(text, Mode::Lenient)
        .expect("parses")
        .families
        .iter()
        .flat_map(|f| &f.samples)
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

/// A target whose `/orders` answers 503 while `broken` is set.
fn target(broken: &Arc<AtomicBool>) -> Server {
    let flag = Arc::clone(broken);
    Server::http(move |request| match request.path() {
        "/orders" if flag.load(Ordering::SeqCst) => text(503, "down"),
        _ => text(200, "ok"),
    })
}

fn setup(target: &Server) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "checklist.md", CHECKLIST);
    write_file(dir.path(), "probes.yaml", &probes(&target.url(), ""));
    dir
}

#[test]
fn endpoints_serve_metrics_report_status_page_and_health() {
    let broken = Arc::new(AtomicBool::new(true));
    let target = target(&broken);
    let dir = setup(&target);
    let watch = Watch::start(dir.path(), &["probes.yaml", "--every", "1h"]);
    let text = watch.wait_metrics("the first run", |t| t.contains("vouch_item_state{"));
    assert_eq!(
        value(
            &text,
            "vouch_item_state",
            &[("item", ORDERS), ("state", "refuted")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "vouch_config_last_reload_successful", &[]),
        Some(1.0)
    );
    let (head, body) = get(&watch.addr, "/metrics", None);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(body.contains("# TYPE vouch_runs_total counter"), "{body}");
    assert!(!body.contains("# EOF"));
    let (head, body) = get(&watch.addr, "/report.json", None);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let report: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(report["schema"], "vouch.report/v1");
    assert_eq!(report["checklist"]["counts"]["refuted"], 1);
    let (_, page) = get(&watch.addr, "/", None);
    let refuted = page.find("Orders endpoint answers").expect("orders row");
    let verified = page.find("Health endpoint answers").expect("health row");
    assert!(refuted < verified, "refuted first\n{page}");
    assert!(page.contains(" ago</span>"), "{page}");
    assert!(
        page.contains("<h1>vouch report: "),
        "the HTML report\n{page}"
    );
    let (head, _) = get(&watch.addr, "/-/healthy", None);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let (head, _) = get(&watch.addr, "/-/ready", None);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    let (head, _) = get(&watch.addr, "/nothing", None);
    assert!(head.starts_with("HTTP/1.0 404"), "{head}");
    // The run's log line.
    assert!(watch.log().contains("run finished"), "{}", watch.log());
}

#[test]
fn json_logs_are_one_object_per_line() {
    let broken = Arc::new(AtomicBool::new(false));
    let target = target(&broken);
    let dir = setup(&target);
    let watch = Watch::start(
        dir.path(),
        &["probes.yaml", "--every", "1h", "--log-format", "json"],
    );
    let line = watch
        .wait_log(|log| {
            log.lines()
                .find(|l| l.contains("run finished"))
                .map(str::to_owned)
        })
        .expect("a run line");
    let object: Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(object["fields"]["verified"], 2, "{line}");
    assert_eq!(object["fields"]["result"], "passed", "{line}");
}

#[test]
fn sighup_reloads_and_a_broken_file_keeps_the_old_one() {
    let broken = Arc::new(AtomicBool::new(false));
    let target = target(&broken);
    let dir = setup(&target);
    // The watched path is a symlink into a directory nobody watches, so
    // only the signal can make vouch see the edits.
    let real = dir.path().join("real");
    std::fs::create_dir(&real).expect("mkdir");
    write_file(&real, "probes.yaml", &probes(&target.url(), ""));
    std::fs::write(real.join("checklist.md"), CHECKLIST).expect("write");
    let link = dir.path().join("linked.yaml");
    std::os::unix::fs::symlink(real.join("probes.yaml"), &link).expect("symlink");
    let watch = Watch::start(dir.path(), &["linked.yaml", "--every", "1h"]);
    watch.wait_metrics("the first run", |t| t.contains("vouch_item_state{"));

    // A broken file: the old one keeps running, the metric says so.
    write_file(&real, "probes.yaml", "version: 1\nitems: [ {item: \n");
    watch.signal("HUP");
    let text = watch.wait_metrics("the failed reload", |t| {
        value(t, "vouch_config_last_reload_successful", &[]) == Some(0.0)
    });
    assert_eq!(
        value(
            &text,
            "vouch_item_state",
            &[("item", ORDERS), ("state", "verified")]
        ),
        Some(1.0)
    );
    assert!(
        watch.log().contains("still running the previous files"),
        "{}",
        watch.log()
    );

    // A valid new file with one more probe takes effect at once.
    let extra = "      - http: { get: /orders-v2, expect: { status: 201 } }\n";
    write_file(&real, "probes.yaml", &probes(&target.url(), extra));
    watch.signal("HUP");
    let text = watch.wait_metrics("the reload", |t| {
        value(t, "vouch_config_last_reload_successful", &[]) == Some(1.0)
            && value(
                t,
                "vouch_item_state",
                &[("item", ORDERS), ("state", "refuted")],
            ) == Some(1.0)
    });
    assert_eq!(
        value(
            &text,
            "vouch_probe_failure_info",
            &[("probe", "GET /orders-v2"), ("reason", "status")]
        ),
        Some(1.0)
    );
}

#[test]
fn a_file_change_reloads_without_a_signal() {
    let broken = Arc::new(AtomicBool::new(false));
    let target = target(&broken);
    let dir = setup(&target);
    let watch = Watch::start(dir.path(), &["probes.yaml", "--every", "1h"]);
    watch.wait_metrics("the first run", |t| t.contains("vouch_item_state{"));
    let extra = "  - item: Search answers\n    probes:\n      - http: { get: /search, expect: { status: 200 } }\n";
    write_file(dir.path(), "probes.yaml", &probes(&target.url(), extra));
    // The checklist has no such item: a bind error, so the old files stay.
    watch.wait_metrics("the failed reload", |t| {
        value(t, "vouch_config_last_reload_successful", &[]) == Some(0.0)
    });
    write_file(
        dir.path(),
        "checklist.md",
        &format!("{CHECKLIST}- [ ] Search answers\n"),
    );
    let text = watch.wait_metrics("the reload on the checklist's change", |t| {
        value(t, "vouch_config_last_reload_successful", &[]) == Some(1.0)
    });
    let text = if value(
        &text,
        "vouch_item_state",
        &[("item", "operations/search-answers"), ("state", "verified")],
    ) == Some(1.0)
    {
        text
    } else {
        watch.wait_metrics("the new item", |t| {
            value(
                t,
                "vouch_item_state",
                &[("item", "operations/search-answers"), ("state", "verified")],
            ) == Some(1.0)
        })
    };
    assert!(text.contains("operations/search-answers"));
}

#[test]
fn runs_longer_than_the_interval_never_overlap_and_are_counted() {
    let target = Server::http_async(|_| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        text(200, "slow")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "probes.yaml",
        &format!(
            "version: 1\ntarget: {}\nitems:\n  - item: Slow answers\n    probes:\n      - http: {{ get: /, expect: {{ status: 200 }} }}\n",
            target.url()
        ),
    );
    let watch = Watch::start(dir.path(), &["probes.yaml", "--every", "100ms"]);
    let text = watch.wait_metrics("three overruns", |t| {
        value(t, "vouch_runs_overrun_total", &[]).is_some_and(|v| v >= 3.0)
    });
    assert!(value(&text, "vouch_runs_total", &[("result", "passed")]).is_some_and(|v| v >= 3.0));
    assert_eq!(target.max_in_flight(), 1, "runs overlapped");
}

#[test]
fn sigterm_mid_run_ends_within_the_timeouts_with_exit_0() {
    let target = Server::http_async(|_| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        text(200, "too late")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "probes.yaml",
        &format!(
            "version: 1\ntarget: {}\ndefaults: {{ timeout: 1500ms }}\nitems:\n  - item: Hangs\n    probes:\n      - http: {{ get: /, expect: {{ status: 200 }} }}\n",
            target.url()
        ),
    );
    let mut watch = Watch::start(dir.path(), &["probes.yaml", "--every", "1h"]);
    assert!(target.wait_for_requests(1, Duration::from_secs(10)));
    watch.signal("TERM");
    let (code, took) = watch.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", watch.log());
    assert!(took < Duration::from_millis(1500 + 1000), "took {took:?}");
    // The process has exited; its last lines may still be in the pipe.
    assert!(
        watch
            .wait_log(|l| l.contains("run finished").then_some(()))
            .is_some(),
        "the run completed\n{}",
        watch.log()
    );

    // A second signal does not wait for the run.
    let mut watch = Watch::start(dir.path(), &["probes.yaml", "--every", "1h"]);
    assert!(target.wait_for_requests(2, Duration::from_secs(10)));
    watch.signal("TERM");
    watch.wait_log(|l| l.contains("stopping after the current run").then_some(()));
    watch.signal("INT");
    let (code, took) = watch.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(3), "{}", watch.log());
    assert!(took < Duration::from_millis(1000), "took {took:?}");
}

#[test]
fn a_file_over_the_series_cap_does_not_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "probes.yaml",
        "version: 1\ntarget: http://127.0.0.1:9\nitems:\n  - item: A\n    probes:\n      - http: { get: / }\n",
    );
    let out = Vouch::new([
        "watch",
        "probes.yaml",
        "--max-series",
        "10",
        "--listen",
        "127.0.0.1:0",
    ])
    .current_dir(dir.path())
    .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("over the cap of 10 (--max-series)"),
        "{}",
        out.dump()
    );
}

/// A Prometheus of our own, scraping the watch every second.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus_binary() -> Option<PathBuf> {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match found {
        true => Some(PathBuf::from("prometheus")),
        false if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!(
                "prometheus is missing and VOUCH_REQUIRE_PEERS is set: install Debian's prometheus"
            )
        }
        false => {
            eprintln!("note: prometheus not found; skipping (Debian's prometheus has it)");
            None
        }
    }
}

fn start_prometheus(binary: &Path, scrape: &str) -> Prometheus {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: vouch\n    static_configs:\n      - targets: [\"{scrape}\"]\n"
    );
    write_file(dir.path(), "prometheus.yml", &config);
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let url = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            if std::net::TcpStream::connect(&url).is_ok()
                && get(&url, "/-/ready", None).0.contains(" 200")
            {
                return Prometheus {
                    child,
                    url,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("prometheus did not start");
}

impl Prometheus {
    /// The values of an instant query, by the value of `label`.
    fn query(&self, promql: &str) -> Vec<(Value, f64)> {
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (_, body) = get(&self.url, &format!("/api/v1/query?query={encoded}"), None);
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        answer["data"]["result"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|r| {
                        let v = r["value"][1].as_str().and_then(|v| v.parse().ok());
                        (r["metric"].clone(), v.unwrap_or(f64::NAN))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn wait_for(&self, what: &str, promql: &str, ok: impl Fn(&[(Value, f64)]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = self.query(promql);
            if ok(&result) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus did not see {what} within 30 s: {promql} = {result:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn prometheus_sees_the_refuted_item_and_then_its_fix() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let broken = Arc::new(AtomicBool::new(true));
    let target = target(&broken);
    let dir = setup(&target);
    let watch = Watch::start(dir.path(), &["probes.yaml", "--every", "500ms"]);
    let prometheus = start_prometheus(&binary, &watch.addr);

    let refuted = format!("vouch_item_state{{item=\"{ORDERS}\",state=\"refuted\"}}");
    prometheus.wait_for("the refuted item", &refuted, |r| {
        r.len() == 1 && r[0].1 == 1.0
    });
    let failure = "vouch_probe_failure_info{reason=\"status\"}";
    prometheus.wait_for("the status failure", failure, |r| {
        r.len() == 1 && r[0].1 == 1.0 && r[0].0["item"] == ORDERS && r[0].0["kind"] == "http"
    });
    prometheus.wait_for(
        "the verified health item",
        "vouch_item_state{item=\"operations/health-endpoint-answers\",state=\"verified\"}",
        |r| r.len() == 1 && r[0].1 == 1.0,
    );

    broken.store(false, Ordering::SeqCst);
    prometheus.wait_for("the fix", &refuted, |r| r.len() == 1 && r[0].1 == 0.0);
    // The failure series is gone from the exposition, so stale in Prometheus.
    prometheus.wait_for("the failure gone", failure, <[_]>::is_empty);
    prometheus.wait_for(
        "the transition counted",
        "vouch_item_transitions_total{to=\"verified\"}",
        |r| r.len() == 1 && r[0].1 >= 1.0,
    );
    prometheus.wait_for("the target up", "up{job=\"vouch\"}", |r| {
        r.len() == 1 && r[0].1 == 1.0
    });
}

/// Counts requests to `/load` apart from the rest.
fn counting_target(load: &Arc<std::sync::atomic::AtomicUsize>) -> Server {
    let load = Arc::clone(load);
    Server::http(move |request| {
        if request.path() == "/load" {
            load.fetch_add(1, Ordering::SeqCst);
        }
        text(200, "ok")
    })
}

fn traffic_probes(target: &Server) -> String {
    format!(
        "version: 1\ntarget: {}\nitems:\n  - item: Health answers\n    probes:\n      - http: {{ get: /health, expect: {{ status: 200 }} }}\n  - item: Handles load\n    probes:\n      - load: {{ get: /load, concurrency: 1, requests: 5, warmup: 0s, expect: {{ error_rate: {{ max: 1% }} }} }}\n",
        target.url()
    )
}

#[test]
fn traffic_probes_do_not_run_without_traffic_every() {
    let load = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let target = counting_target(&load);
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "probes.yaml", &traffic_probes(&target));
    let watch = Watch::start(dir.path(), &["probes.yaml", "--every", "100ms"]);
    let text = watch.wait_metrics("three runs", |t| {
        value(t, "vouch_runs_total", &[("result", "passed")]).is_some_and(|v| v >= 3.0)
    });
    assert_eq!(load.load(Ordering::SeqCst), 0, "a traffic probe ran");
    assert_eq!(
        value(
            &text,
            "vouch_item_state",
            &[("item", "handles-load"), ("state", "skipped")]
        ),
        Some(1.0)
    );
    let (_, body) = get(&watch.addr, "/report.json", None);
    assert!(body.contains("not run by `vouch watch` yet"), "{body}");
}

#[test]
fn traffic_probes_run_at_most_every_traffic_every_and_keep_their_verdict() {
    let load = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let target = counting_target(&load);
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "probes.yaml", &traffic_probes(&target));
    let watch = Watch::start(
        dir.path(),
        &[
            "probes.yaml",
            "--every",
            "100ms",
            "--traffic-every",
            "1h",
            "--cool-down",
            "0s",
        ],
    );
    let text = watch.wait_metrics("four runs", |t| {
        value(t, "vouch_runs_total", &[("result", "passed")]).is_some_and(|v| v >= 4.0)
    });
    assert_eq!(load.load(Ordering::SeqCst), 5, "the load probe ran once");
    assert_eq!(
        value(
            &text,
            "vouch_item_state",
            &[("item", "handles-load"), ("state", "verified")]
        ),
        Some(1.0)
    );
    let (_, body) = get(&watch.addr, "/report.json", None);
    assert!(body.contains("(traffic probe, last run "), "{body}");
}

#[test]
fn item_changes_are_logged_with_their_evidence_and_counted() {
    let broken = Arc::new(AtomicBool::new(true));
    let target = target(&broken);
    let dir = setup(&target);
    let watch = Watch::start(dir.path(), &["probes.yaml", "--every", "100ms"]);
    watch.wait_metrics("the refuted item", |t| {
        value(
            t,
            "vouch_item_state",
            &[("item", ORDERS), ("state", "refuted")],
        ) == Some(1.0)
    });
    broken.store(false, Ordering::SeqCst);
    let text = watch.wait_metrics("the fix", |t| {
        value(
            t,
            "vouch_item_state",
            &[("item", ORDERS), ("state", "verified")],
        ) == Some(1.0)
    });
    assert_eq!(
        value(&text, "vouch_item_transitions_total", &[("to", "verified")]),
        Some(1.0)
    );
    let line = watch
        .wait_log(|log| {
            log.lines()
                .find(|l| l.contains("item changed state"))
                .map(str::to_owned)
        })
        .expect("a change line");
    assert!(line.contains(ORDERS), "{line}");
    assert!(line.contains("status: 503 → 200"), "{line}");
    let (_, page) = get(&watch.addr, "/", None);
    assert!(page.contains("verified"), "{page}");
}
