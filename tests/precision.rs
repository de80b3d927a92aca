//! Issue 22's smaller points, end to end against in-process servers: a
//! probe's own `retry_delay`.

#[path = "support/server.rs"]
mod server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use server::{Server, run_report, text};

/// A server that always answers 503 and records when each request came.
fn down_server() -> (Server, Arc<Mutex<Vec<Instant>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = Server::http(move |_| {
        log.lock().expect("log").push(Instant::now());
        text(503, "down")
    });
    (server, seen)
}

/// The pauses between the requests a probe made.
fn pauses(seen: &Mutex<Vec<Instant>>) -> Vec<Duration> {
    let seen = seen.lock().expect("log");
    seen.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn a_probe_entry_sets_its_own_retry_delay_over_the_defaults() {
    let (server, seen) = down_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\ntarget: {}\ndefaults:\n  retries: 1\n  retry_delay: 10ms\nitems:\n  - item: Spaced\n    probes:\n      - retries: 2\n        retry_delay: 300ms\n        http: {{ get: /health }}\n",
        server.url()
    );
    let (out, report) = run_report(dir.path(), &yaml, &[]);
    out.assert_code(1);
    let probe = server::probe_of(&report, "Spaced");
    assert_eq!(probe["attempts"].as_array().expect("attempts").len(), 3);
    let gaps = pauses(&seen);
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    // 300ms, then doubled: 600ms (the defaults' 10ms would be 10ms and 20ms).
    assert!(gaps[0] >= Duration::from_millis(300), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(600), "{gaps:?}");

    // Without its own, the probe keeps the defaults' spacing.
    let (server, seen) = down_server();
    let yaml = format!(
        "version: 1\ntarget: {}\ndefaults:\n  retries: 1\n  retry_delay: 10ms\nitems:\n  - item: Default\n    probes:\n      - http: {{ get: /health }}\n",
        server.url()
    );
    let (out, _) = run_report(dir.path(), &yaml, &[]);
    out.assert_code(1);
    let gaps = pauses(&seen);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0] < Duration::from_millis(300), "{gaps:?}");
}

#[test]
fn a_bad_retry_delay_is_a_diagnostic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "version: 1\ntarget: http://127.0.0.1:9\nitems:\n  - item: X\n    probes:\n      - retry_delay: soon\n        http: { get: /health }\n";
    server::write_file(dir.path(), "probes.yaml", yaml);
    let out = server::Vouch::new(["check", "probes.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(out.stderr.contains("probes.yaml:6:"), "{}", out.dump());
    assert!(out.stderr.contains("soon"), "{}", out.dump());
}
