//! One contract test over every example and shipped probe file: it loads,
//! runs, honours its timeout, and reports a refused connection as a failed
//! check — never an error, never a hang.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn probe_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["examples", "probes"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("dir exists") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 4,
        "expected the shipped probe files, found {files:?}"
    );
    files
}

fn run(file: &Path, target: &str, extra: &[&str]) -> (i32, serde_json::Value, Duration) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["run", "--format", "json", "--target", target])
        .args(extra)
        .arg(file)
        .env("NO_COLOR", "1")
        .output()
        .expect("vouch runs");
    let elapsed = started.elapsed();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON report ({e}); stderr: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report, elapsed)
}

/// Every probe of a report, but those that want a port closed (a dead
/// target is exactly what they verify) and those of kinds that send no
/// traffic (`file`, `exec`: the repository and the host, not the target).
fn probes(report: &serde_json::Value) -> Vec<&serde_json::Value> {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .flat_map(|i| i["probes"].as_array().expect("probes"))
        .filter(|p| p["evidence"]["expect"] != "closed")
        .filter(|p| !HOST_KINDS.contains(&p["kind"].as_str().unwrap_or_default()))
        .collect()
}

/// Kinds that look at the machine vouch runs on, not at the target.
const HOST_KINDS: &[&str] = &["file", "exec"];

/// Whether every probe of the file is of a host kind: such a file has no
/// target to refuse or to hang (it has its own contract test).
fn host_only(file: &Path) -> bool {
    let text = std::fs::read_to_string(file).expect("readable");
    let kinds = [
        "http:",
        "health:",
        "headers:",
        "cors:",
        "auth:",
        "tcp:",
        "websocket:",
        "tls:",
        "jsonrpc:",
        "mcp:",
        "metrics:",
        "prometheus:",
        "alertmanager:",
        "rate_limit:",
        "load:",
        "image:",
        "redis:",
    ];
    !text.lines().any(|l| {
        let t = l.trim_start().trim_start_matches("- ");
        kinds.iter().any(|k| t.starts_with(k))
    })
}

#[test]
fn every_shipped_probe_file_passes_check() {
    for file in probe_files() {
        // The packs under `probes/` take their target from `--target`, as
        // their comments say; `check` needs one for their paths too.
        let mut command = Command::new(env!("CARGO_BIN_EXE_vouch"));
        command.arg("check");
        if file.parent().is_some_and(|d| d.ends_with("probes")) {
            command.args(["--target", "http://127.0.0.1:9"]);
        }
        let output = command.arg(&file).output().expect("vouch runs");
        assert!(
            output.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn refused_connections_are_failed_checks_not_errors() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let target = format!("http://127.0.0.1:{closed}");
    for file in probe_files().into_iter().filter(|f| !host_only(f)) {
        let (code, report, _) = run(&file, &target, &[]);
        let probes = probes(&report);
        assert!(!probes.is_empty(), "{}: no probes ran", file.display());
        assert_eq!(code, 1, "{}: exit code", file.display());
        for probe in probes {
            assert_eq!(probe["verdict"], "fail", "{}: {probe:#}", file.display());
            let summary = probe["summary"].as_str().expect("summary");
            assert!(
                summary.contains("refused"),
                "{}: summary does not say refused: {summary}",
                file.display()
            );
        }
    }
}

#[test]
fn a_silent_target_fails_at_the_timeout() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = format!("http://{}", listener.local_addr().expect("addr"));
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    for file in probe_files().into_iter().filter(|f| !host_only(f)) {
        let (code, report, elapsed) = run(&file, &target, &["--timeout", "300ms"]);
        assert_eq!(code, 1, "{}", file.display());
        for probe in probes(&report) {
            assert_eq!(probe["verdict"], "fail", "{}: {probe:#}", file.display());
            let summary = probe["summary"].as_str().expect("summary");
            assert!(
                summary.contains("timed out after 300ms"),
                "{}: {summary}",
                file.display()
            );
        }
        // Every probe runs concurrently; retries double at most a few timeouts.
        assert!(
            elapsed < Duration::from_secs(5),
            "{}: took {elapsed:?}",
            file.display()
        );
    }
}

#[test]
fn host_examples_pass_where_they_say() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `file` looks at this repository; `exec` runs only when allowed.
    let (code, report, _) = run(&root.join("examples/file.yaml"), "http://127.0.0.1:9", &[]);
    assert_eq!(code, 0, "{report:#}");
    let (code, report, _) = run(&root.join("examples/exec.yaml"), "http://127.0.0.1:9", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["skipped"], 3, "{:#}", report["summary"]);
    let (code, report, _) = run(
        &root.join("examples/exec.yaml"),
        "http://127.0.0.1:9",
        &["--allow-exec"],
    );
    assert_eq!(code, 0, "{report:#}");
}
