//! The command line as people use it: `vouch demo`, a report piped into
//! `head`, Ctrl-C in the middle of a run, and `vouch schema`.

#[path = "support/server.rs"]
mod server;

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

use server::{Request, Server, Vouch, probe_file, text, vouch, wait_output, write_file};

#[test]
fn demo_verifies_refutes_and_attests_items_of_its_own_deployment() {
    let out = vouch(&["demo"]);
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    for verdict in ["verified", "failed", "attested"] {
        assert!(
            lines.iter().any(|l| l.ends_with(&format!("  {verdict}"))),
            "no {verdict} item:\n{}",
            out.dump()
        );
    }
    assert!(
        out.stdout.contains("✘ Orders API responds  failed"),
        "the broken endpoint is refuted:\n{}",
        out.dump()
    );
    assert!(
        out.stdout.contains("status: expected 200, got 500"),
        "with evidence:\n{}",
        out.dump()
    );
    assert!(
        out.stderr
            .contains("a demo deployment is listening on http://127.0.0.1:"),
        "{}",
        out.dump()
    );
}

#[test]
fn demo_json_report_counts_each_kind_of_verdict() {
    let out = vouch(&["demo", "--format", "json"]);
    out.assert_code(0);
    let report = out.json();
    let summary = &report["summary"];
    for key in ["verified", "failed", "attested"] {
        assert!(
            summary[key].as_u64().is_some_and(|n| n > 0),
            "{key}: {summary:#}"
        );
    }
    assert_eq!(summary["passed"], false, "the demo fails items on purpose");
}

/// A report far larger than a pipe's buffer, so writing it hits a closed pipe.
fn big_probe_file(dir: &std::path::Path, target: &str) -> std::path::PathBuf {
    let padding = "x".repeat(300);
    let items: String = (0..300)
        .map(|i| {
            format!("  - item: Item {i:03} {padding}\n    probes:\n      - http: {{ get: /ok }}\n")
        })
        .collect();
    write_file(dir, "big.yaml", &probe_file(target, &items))
}

fn read_one_line_then_hang_up(format: &str) {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = big_probe_file(dir.path(), &server.url());
    let started = Instant::now();
    let mut child = Vouch::new([
        "run".to_owned(),
        "--format".to_owned(),
        format.to_owned(),
        file.display().to_string(),
    ])
    .spawn();
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).expect("read the first line");
    drop(reader); // `| head -1` exits here
    let out = wait_output(child, started, Duration::from_secs(30));
    match format {
        "json" => assert_eq!(first, "{\n"),
        _ => assert!(first.starts_with("test → http://127.0.0.1:"), "{first}"),
    }
    assert_eq!(server.requests(), 300, "the run finished before writing");
    assert!(!out.stderr.contains("panicked"), "{}", out.dump());
    assert!(
        !out.stderr.to_lowercase().contains("broken pipe"),
        "{}",
        out.dump()
    );
    assert!(out.stderr.is_empty(), "exits quietly: {}", out.dump());
    out.assert_code(0);
}

#[test]
fn a_human_report_piped_into_head_exits_quietly() {
    read_one_line_then_hang_up("human");
}

#[test]
fn a_json_report_piped_into_head_exits_quietly() {
    read_one_line_then_hang_up("json");
}

/// Two quick items and one whose server holds the request for 30 s.
fn interrupted_run(format: &str) -> server::Output {
    let server = Server::http_async(|r: Request| async move {
        if r.path() == "/slow" {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        text(200, "ok")
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Fast one\n    probes:\n      - http: { get: /one }\n  - item: Slow\n    probes:\n      - timeout: 60s\n        http: { get: /slow }\n  - item: Fast two\n    probes:\n      - http: { get: /two }\n";
    write_file(dir.path(), "probes.yaml", &probe_file(&server.url(), items));
    let spawned = Instant::now();
    let child = Vouch::new(["run", "--format", format, "probes.yaml"])
        .current_dir(dir.path())
        .spawn();
    assert!(
        server.wait_for_requests(3, Duration::from_secs(10)),
        "the slow request never arrived"
    );
    // The quick ones are done by now; interrupt a second into the run.
    if let Some(rest) = Duration::from_secs(1).checked_sub(spawned.elapsed()) {
        std::thread::sleep(rest);
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT failed");
    let interrupted = Instant::now();
    let out = wait_output(child, interrupted, Duration::from_secs(10));
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?} to stop after Ctrl-C\n{}",
        out.elapsed,
        out.dump()
    );
    out
}

#[test]
fn ctrl_c_stops_the_run_and_reports_what_finished_with_exit_3() {
    let out = interrupted_run("human");
    out.assert_code(3);
    for line in [
        "✔ Fast one  verified\n",
        "✔ Fast two  verified\n",
        "- Slow  skipped\n",
        "    - GET /slow: not run (interrupted)\n",
        "gate: INTERRUPTED",
    ] {
        assert!(
            out.stdout.contains(line),
            "missing `{line}`:\n{}",
            out.dump()
        );
    }
    // File order holds in a partial report too.
    let one = out.stdout.find("Fast one").expect("one");
    let slow = out.stdout.find("- Slow").expect("slow");
    let two = out.stdout.find("Fast two").expect("two");
    assert!(one < slow && slow < two, "{}", out.dump());
}

#[test]
fn ctrl_c_marks_the_json_report_interrupted_with_the_unfinished_probe_skipped() {
    let out = interrupted_run("json");
    out.assert_code(3);
    let report = out.json();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["summary"]["passed"], false);
    assert_eq!(report["summary"]["verified"], 2);
    assert_eq!(report["summary"]["skipped"], 1);
    assert_eq!(report["summary"]["probes"]["skip"], 1);
    let slow = server::item_of(&report, "Slow");
    assert_eq!(slow["verdict"], "skipped");
    assert_eq!(slow["probes"][0]["verdict"], "skip");
    assert_eq!(
        slow["probes"][0]["summary"],
        "GET /slow: not run (interrupted)"
    );
}

#[test]
fn schema_prints_the_probe_file_schema_with_every_kind() {
    let out = vouch(&["schema"]);
    out.assert_code(0);
    let schema = out.json();
    assert_eq!(schema["title"], "vouch probe file");
    let kinds: Vec<&str> = schema["$defs"]["ProbeEntrySchema"]["oneOf"]
        .as_array()
        .expect("one variant per kind")
        .iter()
        .filter_map(|v| v["required"][0].as_str())
        .collect();
    assert!(kinds.contains(&"http"), "{kinds:?}");
    assert!(kinds.contains(&"health"), "{kinds:?}");
    for required in ["version", "items"] {
        assert!(
            schema["required"]
                .as_array()
                .expect("required")
                .iter()
                .any(|r| r == required),
            "{required} is required: {}",
            schema["required"]
        );
    }
}

#[test]
fn an_unknown_subcommand_is_an_invalid_argument() {
    let out = vouch(&["verify"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("unrecognized subcommand 'verify'"),
        "{}",
        out.dump()
    );
}

#[test]
fn a_ca_file_flag_that_does_not_exist_is_invalid_input_and_sends_nothing() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Health\n    probes:\n      - http: { get: /health }\n";
    write_file(dir.path(), "p.yaml", &probe_file(&server.url(), items));
    let out = server::Vouch::new(["run", "--ca-file", "nope.pem", "p.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(
        out.stderr
            .starts_with("error: --ca-file: cannot read the CA file `")
            && out
                .stderr
                .contains("nope.pem`: no such file; nothing was run"),
        "{}",
        out.dump()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.requests(), 0, "nothing was sent");
}

/// `--ca-file` was read relative to each probe file's directory, so a path
/// given from the shell's directory was not found once the probe file sat
/// elsewhere.
#[test]
fn a_relative_ca_file_flag_is_read_from_the_current_directory() {
    let pki = server::Pki::new();
    let server = Server::https(&pki, |_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    pki.write_ca(&dir.path().join("ca.pem"));
    std::fs::create_dir(dir.path().join("probes")).expect("mkdir");
    let items = "  - item: Health\n    probes:\n      - http: { get: /health }\n";
    write_file(
        &dir.path().join("probes"),
        "p.yaml",
        &probe_file(&server.url(), items),
    );
    let out = server::Vouch::new(["run", "--ca-file", "ca.pem", "probes/p.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(0);
    assert_eq!(server.requests(), 1, "{}", out.dump());
}
