//! The first hour with vouch, tried as a new user would (issue 21): the
//! mistakes a newcomer makes get an answer that says what to do, and the
//! commands the README shows work on a fresh checkout.

#[path = "support/server.rs"]
mod server;

use server::{Server, Vouch, item_of, text, with_header, write_file};

/// Two checklists with different items, each bound by its own probe file,
/// and a third probe file that names no checklist.
fn two_checklists(dir: &std::path::Path) {
    write_file(
        dir,
        "api.md",
        "# API\n\n## Core\n\n- [x] Health endpoint returns 200\n- [ ] Errors are JSON\n",
    );
    write_file(
        dir,
        "edge.md",
        "# Edge\n\n## TLS\n\n- [x] Certificate valid for 30 days\n",
    );
    write_file(
        dir,
        "api.yaml",
        "version: 1\nchecklist: api.md\ntarget: http://127.0.0.1:1\nitems:\n  - item: Health endpoint returns 200\n    probes: [{http: {get: /health}}]\n",
    );
    write_file(
        dir,
        "edge.yaml",
        "version: 1\nchecklist: edge.md\ntarget: https://127.0.0.1:1\nitems:\n  - item: Certificate valid\n    probes: [{tls: {}}]\n",
    );
    write_file(
        dir,
        "loose.yaml",
        "version: 1\ntarget: http://127.0.0.1:1\nitems:\n  - item: Something no checklist lists\n    probes: [{http: {get: /}}]\n",
    );
}

#[test]
fn check_binds_each_file_to_its_own_checklist() {
    let dir = tempfile::tempdir().expect("temp dir");
    two_checklists(dir.path());
    let out = Vouch::new(["check", "api.yaml", "edge.yaml", "loose.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("ok: checklist api.md: 2 items, 1 bound to probe-file items, 1 manual"),
        "{}",
        out.dump()
    );
    assert!(
        out.stderr
            .contains("ok: checklist edge.md: 1 items, 1 bound to probe-file items, 0 manual"),
        "{}",
        out.dump()
    );
    assert!(
        out.stderr.contains("ok: 3 files, 3 items, 3 probes"),
        "{}",
        out.dump()
    );
}

#[test]
fn check_still_reports_an_item_missing_from_its_own_checklist() {
    let dir = tempfile::tempdir().expect("temp dir");
    two_checklists(dir.path());
    // An api item bound against the edge checklist would match nothing.
    write_file(
        dir.path(),
        "edge.yaml",
        "version: 1\nchecklist: edge.md\ntarget: https://127.0.0.1:1\nitems:\n  - item: Errors are JSON\n    probes: [{tls: {}}]\n",
    );
    let out = Vouch::new(["check", "api.yaml", "edge.yaml", "loose.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("no item of checklist `./edge.md` matches `Errors are JSON`")
            || out
                .stderr
                .contains("no item of checklist `edge.md` matches `Errors are JSON`"),
        "{}",
        out.dump()
    );
    assert!(out.stderr.contains("1 problem in 1 file"), "{}", out.dump());
}

#[test]
fn run_with_two_checklists_says_one_checklist_per_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    two_checklists(dir.path());
    let out = Vouch::new(["run", "api.yaml", "edge.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("probe files name different checklists"),
        "{}",
        out.dump()
    );
    assert!(out.stderr.contains("one run verifies one checklist"));
}

#[test]
fn the_shipped_probe_files_check_together() {
    let probes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("probes");
    let mut files: Vec<String> = std::fs::read_dir(&probes)
        .expect("probes/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut args = vec!["check".to_owned()];
    args.extend(files);
    args.extend(["--target".to_owned(), "https://127.0.0.1:1".to_owned()]);
    let out = Vouch::new(args).run();
    out.assert_code(0);
    assert!(
        out.stderr.contains("ok: checklist ") && out.stderr.contains("demo-checklist.md: "),
        "{}",
        out.dump()
    );
}

#[test]
fn a_target_without_a_scheme_suggests_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "p.yaml",
        "version: 1\nitems:\n  - item: Home\n    probes: [{http: {get: /}}]\n",
    );
    let out = Vouch::new(["check", "p.yaml", "--target", "example.com"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains(
            "--target: invalid target URL `example.com`: relative URL without a base; did you mean `https://example.com`?"
        ),
        "{}",
        out.dump()
    );
}

#[test]
fn a_checklist_where_a_probe_file_belongs_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let checklist = "# Readiness\n\n## Core\n\n- [x] Health endpoint returns 200\n";
    write_file(dir.path(), "READINESS.md", checklist);
    write_file(dir.path(), "checklist.txt", checklist);
    for name in ["READINESS.md", "checklist.txt"] {
        let out = Vouch::new(["run", name]).current_dir(dir.path()).run();
        out.assert_code(2);
        assert!(
            out.stderr.contains(&format!(
                "`{name}` is a markdown checklist, not a probe file"
            )),
            "{}",
            out.dump()
        );
        assert!(
            out.stderr
                .contains(&format!("vouch init {name} -o probes.yaml")),
            "{}",
            out.dump()
        );
        assert!(!out.stderr.contains("invalid YAML"), "{}", out.dump());
    }
}

/// The verdict `probes/http-api.yaml` gives "Responses do not leak the server
/// stack" against a server that sends `server` (or no `Server` at all).
fn stack_leak_verdict(server_header: Option<&'static str>) -> String {
    let server = Server::http(move |_| {
        let response = text(200, "ok");
        match server_header {
            Some(value) => with_header(response, "server", value),
            None => response,
        }
    });
    let pack = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/http-api.yaml");
    let url = server.url();
    let out = Vouch::new([
        "run",
        &pack.display().to_string(),
        "--target",
        &url,
        "--only",
        "leak the server stack",
        "--format",
        "json",
    ])
    .run();
    let report = out.json();
    assert!(server.requests() >= 1, "{}", out.dump());
    let item = item_of(&report, "Responses do not leak the server stack");
    item["verdict"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn the_http_api_pack_passes_a_server_that_sends_no_server_header() {
    assert_eq!(stack_leak_verdict(None), "verified");
    assert_eq!(stack_leak_verdict(Some("nginx")), "verified");
    assert_eq!(stack_leak_verdict(Some("nginx/1.25.3")), "failed");
}

/// `GET path` over plain HTTP/1.1; the status line and body.
fn http_get(url: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the demo");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn demo_serve_keeps_the_deployment_up_until_sigterm() {
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    let mut child = Vouch::new(["demo", "--serve", "--no-progress"]).spawn();
    let stdout = child.stdout.take().expect("stdout");
    let drain = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let stderr = child.stderr.take().expect("stderr");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    let (mut url, mut ca) = (None, None);
    while ca.is_none() {
        let left = Duration::from_secs(60).saturating_sub(started.elapsed());
        let Ok(line) = received.recv_timeout(left) else {
            let _ = child.kill();
            panic!("no URL and CA file within 60 s:\n{}", seen.join("\n"));
        };
        if let Some(rest) = line.strip_prefix("url: ") {
            url = Some(rest.to_owned());
        }
        if let Some(rest) = line.strip_prefix("ca file: ") {
            ca = Some(rest.to_owned());
        }
        seen.push(line);
    }
    let transcript = seen.join("\n");
    let url = url.unwrap_or_else(|| panic!("no url line:\n{transcript}"));
    assert!(
        transcript.contains("these failures are on purpose"),
        "{transcript}"
    );
    assert!(
        transcript.contains("The checklist has 21 items: 19 bound"),
        "{transcript}"
    );
    let ca = std::path::PathBuf::from(ca.unwrap_or_default());
    let pem = std::fs::read_to_string(&ca).expect("the CA file exists");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");

    // After its own run, the deployment still answers.
    let health = http_get(&url, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with(r#"{"status":"UP"}"#), "{health}");
    assert!(child.try_wait().expect("wait").is_none(), "still serving");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let stopping = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if stopping.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("SIGTERM did not stop `vouch demo --serve` within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0), "{transcript}");
    // The sender closes when stderr ends.
    let rest: Vec<String> = received.iter().collect();
    assert!(rest.iter().any(|l| l == "vouch demo: stopped"), "{rest:?}");
    assert!(std::net::TcpStream::connect(url.trim_start_matches("http://")).is_err());
    let report = drain.join().expect("stdout reader");
    assert!(report.contains("gate: FAILED"), "{report}");
}

#[test]
fn completions_and_a_man_page() {
    let bash = Vouch::new(["completions", "bash"]).run();
    bash.assert_code(0);
    assert!(bash.stdout.contains("_vouch()"), "{}", bash.dump());
    assert!(bash.stdout.contains("run"), "{}", bash.dump());
    assert!(bash.stdout.contains("--fail-on"), "{}", bash.dump());
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = Vouch::new(["completions", shell]).run();
        out.assert_code(0);
        assert!(out.stdout.contains("vouch"), "{shell}: {}", out.dump());
    }
    let bad = Vouch::new(["completions", "tcsh"]).run();
    bad.assert_code(2);

    let man = Vouch::new(["man"]).run();
    man.assert_code(0);
    assert!(man.stdout.starts_with(".ie"), "{}", man.dump());
    assert!(man.stdout.contains("\n.TH vouch 1"), "{}", man.dump());
    assert!(man.stdout.contains("\n.SH NAME\n"), "{}", man.dump());
    assert!(man.stdout.contains("\n.SH SUBCOMMANDS\n"), "{}", man.dump());
    // groff, where installed, reads it without a warning (`-ww`: all of them).
    let groff = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    match groff {
        Ok(mut groff) => {
            use std::io::Write;
            let mut stdin = groff.stdin.take().expect("stdin");
            stdin.write_all(man.stdout.as_bytes()).expect("write");
            drop(stdin);
            let out = groff.wait_with_output().expect("groff");
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && warnings.is_empty(), "{warnings}");
        }
        Err(_) => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\ntest completions_and_a_man_page ... groff check skipped: no groff"
            );
        }
    }
    // Roff: every request line starts with a dot and a name.
    for line in man.stdout.lines().filter(|l| l.starts_with('.')) {
        assert!(
            line.len() > 1 && line[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '\\'),
            "{line}"
        );
    }
}

#[test]
fn color_auto_always_never() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "p.yaml",
        &format!(
            "version: 1\ntarget: {}\nitems:\n  - item: Home\n    probes: [{{http: {{get: /}}}}]\n",
            server.url()
        ),
    );
    let run = |extra: &[&str], no_color: Option<&str>| {
        let mut args = vec!["run", "p.yaml", "--no-progress"];
        args.extend_from_slice(extra);
        // An empty NO_COLOR counts as unset.
        let out = Vouch::new(args)
            .current_dir(dir.path())
            .env("NO_COLOR", no_color.unwrap_or_default())
            .run();
        out.assert_code(0);
        out.stdout.contains("\x1b[")
    };
    // stdout is a pipe here: `auto` means no color.
    assert!(!run(&[], None));
    assert!(!run(&["--color", "auto"], None));
    assert!(run(&["--color", "always"], None));
    // A flag beats NO_COLOR.
    assert!(run(&["--color", "always"], Some("1")));
    assert!(!run(&["--color", "never"], None));
    let bad = Vouch::new(["run", "p.yaml", "--color", "sometimes"])
        .current_dir(dir.path())
        .run();
    bad.assert_code(2);
}
