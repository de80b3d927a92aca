//! Regressions found in review: each test names the problem it pins.

use std::process::{Command, Output};

use vouch::demo::Deployment;

fn vouch(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("vouch runs")
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Review P1-1: `retry_delay * 2^n` overflowed, the worker panicked, and the
/// probe was reported as skipped with the gate passing.
#[test]
fn an_enormous_retry_delay_neither_panics_nor_passes_the_gate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = format!(
        "version: 1\ntarget: http://127.0.0.1:{}\ndefaults: {{retries: 2, retry_delay: 500000000000y}}\nitems:\n  - item: H\n    probes:\n      - http: {{get: /health}}\n",
        closed_port()
    );
    std::fs::write(dir.path().join("p.yaml"), file).expect("write");
    let out = vouch(dir.path(), &["run", "p.yaml", "--timeout", "1s"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("✘ H  failed"), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// Review P1-3: credentials in the target URL and secrets in names showed in
/// the report headers.
#[test]
fn target_credentials_and_secret_names_are_redacted_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = closed_port();
    let file = format!(
        "version: 1\nname: deploy ${{env:VOUCH_T_SECRET}}\ntarget: http://bob:hunter2pass@127.0.0.1:{port}/api?token=abcdef123\nitems:\n  - item: Item ${{env:VOUCH_T_SECRET}}\n    probes:\n      - http: {{get: /health}}\n  - item: Attested\n    attested: {{by: \"${{env:VOUCH_T_SECRET}}\", on: 2026-11-01, valid_for: 30d}}\n"
    );
    std::fs::write(dir.path().join("p.yaml"), file).expect("write");
    for format in ["human", "json", "junit"] {
        let out = vouch(
            dir.path(),
            &["run", "p.yaml", "--format", format],
            &[("VOUCH_T_SECRET", "s3cr3t-name-42")],
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in ["hunter2pass", "abcdef123", "s3cr3t-name-42"] {
            assert!(!text.contains(secret), "{format} shows `{secret}`:\n{text}");
        }
        assert!(text.contains("«redacted»"), "{format}:\n{text}");
    }
}

/// Review P2-5: with `--only`, every item left out was unticked in the
/// markdown write-back although nothing had been checked.
#[tokio::test(flavor = "multi_thread")]
async fn items_left_out_by_only_keep_their_boxes_in_the_write_back() {
    let deployment = Deployment::start().await.expect("demo starts");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("demo.yaml"), vouch::demo::PROBE_FILE).expect("write");
    std::fs::write(dir.path().join("demo-checklist.md"), vouch::demo::CHECKLIST).expect("write");
    let out = vouch(
        dir.path(),
        &[
            "run",
            "demo.yaml",
            "--target",
            &deployment.url(),
            "--only",
            "version",
            "--format",
            "markdown",
        ],
        &[],
    );
    deployment.stop().await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("- [x] Version endpoint exposes the release\n  - ✔ GET /version"),
        "{text}"
    );
    assert!(
        text.contains("- [x] Orders API responds\n"),
        "left-out claims stay:\n{text}"
    );
    assert!(!text.contains("was [x]"), "{text}");
}

/// Fuzzing (issue 15): these probe files took up to a minute each to load,
/// because a long value in a credential position made the redactor build a
/// DFA over every spelling of it. They load (and fail) with diagnostics
/// that point into the file; the redactor's matcher choice is pinned in
/// `redact::tests::long_secrets_get_a_matcher_built_in_linear_time`.
#[test]
fn slow_fuzz_inputs_load_with_diagnostics_inside_the_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/slow-units");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/slow-units") {
        let path = entry.expect("entry").path();
        let lines = std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count();
        let out = vouch(&dir, &["check", path.to_str().expect("utf-8 path")], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let mut located = 0;
        for line in stderr.lines().filter_map(|l| l.trim().strip_prefix("--> ")) {
            let (_, pos) = line
                .split_once(name)
                .expect("the diagnostic names the file");
            let row: usize = pos
                .trim_start_matches(':')
                .split(':')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("line number");
            assert!(row >= 1 && row <= lines + 1, "{line}");
            located += 1;
        }
        assert!(located > 0, "{}: {stderr}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "the slow units are kept in fuzz/slow-units");
}
