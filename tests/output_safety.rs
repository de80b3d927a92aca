//! Reports a hostile target cannot subvert (issue 15): text from the target
//! is data in every human-facing format — no terminal control, bidi override,
//! forged checklist line or XML-invalid character gets through — and a report
//! file survives the end of a run, SIGTERM and SIGHUP included.

#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use server::{Request, Server, Vouch, probe_file, respond, text, wait_output, write_file};

/// What a hostile or broken target sends back, one piece per endpoint so no
/// excerpt cuts one off: screen clearing, a terminal title, NUL, carriage
/// returns and fake report lines, markup and checklist syntax, bidi
/// overrides and isolates, XML-invalid characters, DEL and C1 controls.
const PIECES: &[&str] = &[
    "clear\x1b[2Jscreen",
    "title\x1b]0;pwned\x07bell",
    "nul\0byte",
    "cr\roverwrite\r\n✔ Fake item  verified\n- [x] forged",
    "<script>alert(1)</script> <!-- vouch -->",
    "bidi\u{202e}exe.txt\u{2066}iso\u{2069}",
    "xml\u{fffe}bad\u{ffff}\x0bvt",
    "del\x7f csi\u{9b}2J nel\u{85}",
];

/// The escaped forms a reader must see instead.
const SHOWN: &[&str] = &[
    "clear\\x1b[2Jscreen",
    "title\\x1b]0;pwned\\x07bell",
    "nul\\x00byte",
    "cr\\roverwrite\\r\\n✔ Fake item  verified\\n- [x] forged",
    "bidi\\u{202e}exe.txt\\u{2066}iso\\u{2069}",
    "del\\x7f csi\\u{9b}2J nel\\u{85}",
];

/// A deployment whose every answer carries hostile text: `/body/N` a plain
/// body, `/json` a JSON value, `/health` dependency names. (Headers cannot
/// carry ASCII controls: the HTTP client refuses the response.)
fn hostile_server() -> Server {
    Server::http(|r: Request| {
        let path = r.path().to_owned();
        if let Some(n) = path.strip_prefix("/body/") {
            let piece = PIECES[n.parse::<usize>().expect("index")];
            return respond(500, "text/plain", piece.to_owned());
        }
        match path.as_str() {
            "/json" => {
                let body = serde_json::json!({ "name": PIECES.concat() }).to_string();
                respond(200, "application/json", body)
            }
            "/health" => {
                let checks: serde_json::Map<String, serde_json::Value> = PIECES
                    .iter()
                    .map(|p| ((*p).to_owned(), serde_json::json!({"status": "down"})))
                    .collect();
                let body = serde_json::json!({"status": "down", "checks": checks}).to_string();
                respond(503, "application/json", body)
            }
            _ => text(404, "no"),
        }
    })
}

/// The probe file (bound to `checklist.md`) and the checklist.
fn write_files(dir: &Path, target: &str) {
    let mut items = String::new();
    let mut checklist = String::from("# Hostile\n\n## Answers\n\n");
    for n in 0..PIECES.len() {
        items.push_str(&format!(
            "  - item: Body {n}\n    probes:\n      - http:\n          get: /body/{n}\n          expect:\n            status: 200\n            body: {{ contains: never }}\n"
        ));
        checklist.push_str(&format!("- [x] Body {n}\n"));
    }
    items.push_str("  - item: Json\n    probes:\n      - http:\n          get: /json\n          expect:\n            json:\n              $.name: plain\n");
    items.push_str("  - item: Health\n    probes:\n      - health:\n          url: /health\n          expect: { dependencies: all_healthy }\n");
    checklist.push_str("- [x] Json\n- [ ] Health\n\n## Last\n\n- [ ] Untouched\n");
    let file =
        probe_file(target, &items).replacen("items:\n", "checklist: checklist.md\nitems:\n", 1);
    write_file(dir, "probes.yaml", &file);
    write_file(dir, "checklist.md", &checklist);
}

/// `vouch run probes.yaml --format FORMAT -o OUT` in `dir`; the file written.
fn report(dir: &Path, format: &str, out: &str) -> String {
    let run = Vouch::new(["run", "probes.yaml", "--format", format, "-o", out])
        .current_dir(dir)
        .run();
    run.assert_code(1);
    assert!(run.stderr.is_empty(), "{}", run.dump());
    std::fs::read_to_string(dir.join(out)).expect("report written")
}

fn hostile_report(format: &str) -> String {
    let server = hostile_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &server.url());
    report(dir.path(), format, "report.out")
}

/// The characters that drive a terminal or reorder text: C0 and C1
/// controls, DEL, bidi embeddings, overrides and isolates.
fn is_unsafe(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Every unsafe character in `text` other than the line breaks between its
/// lines, with its line.
fn unsafe_characters(text: &str) -> Vec<(char, String)> {
    text.lines()
        .flat_map(|line| {
            line.chars()
                .filter(|&c| is_unsafe(c))
                .map(|c| (c, line.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn assert_shown(text: &str, forms: &[&str]) {
    for form in forms {
        assert!(text.contains(form), "`{form}` is not shown:\n{text}");
    }
}

#[test]
fn the_human_report_shows_control_and_bidi_characters_escaped() {
    let out = hostile_report("human");
    assert_eq!(unsafe_characters(&out), [], "{out}");
    assert!(!out.contains('\r'), "{out}");
    assert_shown(&out, SHOWN);
    // The dependency names too.
    assert!(
        out.contains("dependency title\\x1b]0;pwned\\x07bell: expected healthy"),
        "{out}"
    );
    // No line the target wrote stands on its own.
    assert!(
        !out.lines().any(|l| l.starts_with("✔ Fake item")),
        "a forged report line:\n{out}"
    );
    assert_eq!(out.lines().filter(|l| l.starts_with("gate: ")).count(), 1);
}

#[test]
fn the_human_report_on_stdout_is_escaped_too() {
    let server = hostile_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &server.url());
    let run = Vouch::new(["run", "probes.yaml"])
        .current_dir(dir.path())
        .run();
    run.assert_code(1);
    assert_eq!(unsafe_characters(&run.stdout), [], "{}", run.dump());
    assert_eq!(unsafe_characters(&run.stderr), [], "{}", run.dump());
    assert_shown(&run.stdout, SHOWN);
}

/// The written-back checklist, with timings and dates masked.
fn masked(text: &str) -> String {
    let latency = regex::Regex::new(r"\d+(\.\d+)? m?s\b").expect("regex");
    let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC").expect("regex");
    let port = regex::Regex::new(r"127\.0\.0\.1:\d+").expect("regex");
    let text = latency.replace_all(text, "<t>");
    let text = stamp.replace_all(&text, "<when>");
    port.replace_all(&text, "<addr>").into_owned()
}

#[test]
fn the_written_back_checklist_escapes_markup_and_forges_no_structure() {
    let server = hostile_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &server.url());
    let original = std::fs::read_to_string(dir.path().join("checklist.md")).expect("read");
    let once = report(dir.path(), "markdown", "written.md");
    assert_eq!(unsafe_characters(&once), [], "{once}");
    assert!(!once.contains('\r'), "{once}");
    assert!(!once.contains("<script>"), "{once}");
    assert!(
        once.contains("&lt;script&gt;alert(1)&lt;/script&gt; &lt;!-- vouch --&gt;"),
        "{once}"
    );
    assert!(once.contains("nul\\x00byte"), "{once}");
    assert!(
        once.contains("bidi\\u{202e}exe.txt\\u{2066}iso\\u{2069}"),
        "{once}"
    );
    assert!(
        once.contains("cr\\roverwrite\\r\\n✔ Fake item  verified\\n- \\[x\\] forged"),
        "{once}"
    );
    // One evidence line per bound item, each ending in vouch's own marker;
    // no line the target wrote.
    let evidence: Vec<&str> = once.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(evidence.len(), PIECES.len() + 2, "{once}");
    assert!(
        evidence.iter().all(|l| l.ends_with("<!-- vouch -->")
            || l.ends_with("<!-- vouch: was [x] -->")
            || l.ends_with("<!-- vouch: was [ ] -->")),
        "{once}"
    );
    assert_eq!(once.matches("<!-- vouch").count(), evidence.len() + 1);
    // As many boxes and headings as the team wrote.
    let boxes = |t: &str| t.lines().filter(|l| l.starts_with("- [")).count();
    let headings = |t: &str| t.lines().filter(|l| l.starts_with('#')).count();
    assert_eq!(boxes(&once), boxes(&original), "{once}");
    assert_eq!(headings(&once), headings(&original), "{once}");
    assert!(once.ends_with("## Last\n\n- [ ] Untouched\n"), "{once}");

    // vouch reads its own output as the checklist it was: written over the
    // checklist and run again, the result is the same.
    std::fs::write(dir.path().join("checklist.md"), &once).expect("write");
    let check = Vouch::new(["check", "probes.yaml"])
        .current_dir(dir.path())
        .run();
    check.assert_code(0);
    assert!(
        check.stderr.contains(&format!(
            "{} items, {} bound",
            PIECES.len() + 3,
            PIECES.len() + 2
        )),
        "{}",
        check.dump()
    );
    let twice = report(dir.path(), "markdown", "checklist.md");
    assert_eq!(masked(&once), masked(&twice));
    let thrice = report(dir.path(), "markdown", "checklist.md");
    assert_eq!(masked(&twice), masked(&thrice));
}

/// Runs `script` with `python3` on `file`: `None` when python3 (or a module
/// it imports) is missing and the peers are not required.
fn python(script: &str, file: &Path) -> Option<String> {
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .ok()
        .filter(|o| {
            o.status.success() || !String::from_utf8_lossy(&o.stderr).contains("No module named")
        });
    let Some(out) = out else {
        if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() {
            panic!("python3 with junitparser is required (pip install junitparser)");
        }
        eprintln!("note: python3 or junitparser not available; skipping the parser check");
        return None;
    };
    assert!(
        out.status.success(),
        "the XML parser rejected the report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn junit_output_is_valid_xml_whatever_the_target_sends() {
    let server = hostile_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &server.url());
    // With a checklist, its manual item is a skipped test case; the gate's
    // suite adds one failing case (`--fail-on failed`).
    let failures = PIECES.len() + 2 + 1;
    for (name, without_checklist, cases) in [
        ("with-checklist.xml", false, failures + 1),
        ("plain.xml", true, failures),
    ] {
        if without_checklist {
            let file = std::fs::read_to_string(dir.path().join("probes.yaml")).expect("read");
            write_file(
                dir.path(),
                "probes.yaml",
                &file.replace("checklist: checklist.md\n", ""),
            );
        }
        let xml = report(dir.path(), "junit", name);
        let forbidden: Vec<char> = xml
            .chars()
            .filter(|&c| {
                matches!(c, '\0'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\u{fffe}' | '\u{ffff}')
            })
            .collect();
        assert_eq!(forbidden, [], "{xml}");
        assert_eq!(unsafe_characters(&xml), [], "{xml}");
        assert_shown(&xml, &["xml\u{fffd}bad\u{fffd}\\x0bvt"]);
        let path = dir.path().join(name);
        // The standard library's parser, then the one CI tools use.
        let text = python(
            "import sys, xml.etree.ElementTree as ET\n\
             root = ET.parse(sys.argv[1]).getroot()\n\
             print(len(root.findall('.//testcase')))\n\
             print('\\n'.join(f.text or '' for f in root.iter('failure')))",
            &path,
        );
        if let Some(text) = text {
            assert!(text.starts_with(&format!("{cases}\n")), "{text}");
            assert_shown(&text, &SHOWN[..4]);
            assert!(
                text.contains("&lt;script&gt;") || text.contains("<script>"),
                "{text}"
            );
        }
        python(
            "import sys\nfrom junitparser import JUnitXml, Failure\n\
             cases = [c for s in JUnitXml.fromfile(sys.argv[1]) for c in s]\n\
             print(len(cases), sum(1 for c in cases for r in c.result if isinstance(r, Failure)))",
            &path,
        )
        .inspect(|counts| assert_eq!(counts.trim(), format!("{cases} {failures}")));
    }
}

/// One quick item and one whose server holds the request for 30 s.
fn slow_server() -> Server {
    Server::http_async(|r: Request| async move {
        if r.path() == "/slow" {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        text(200, "ok")
    })
}

fn write_slow_probes(dir: &Path, target: &str) {
    let items = "  - item: Fast\n    probes:\n      - http: { get: /fast }\n  - item: Slow\n    probes:\n      - timeout: 60s\n        http: { get: /slow }\n";
    write_file(dir, "probes.yaml", &probe_file(target, items));
}

/// Sends `signal` to `child` once the slow request is in, after `check`
/// looked at the run in progress; returns the output.
fn signal_mid_run(
    server: &Server,
    child: std::process::Child,
    signal: &str,
    check: impl FnOnce(),
) -> server::Output {
    assert!(
        server.wait_for_requests(2, Duration::from_secs(10)),
        "the slow request never arrived"
    );
    // Let the fast probe's outcome land (a loaded machine is slow).
    std::thread::sleep(Duration::from_secs(1));
    check();
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
    let signalled = Instant::now();
    let out = wait_output(child, signalled, Duration::from_secs(10));
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?} to stop after SIG{signal}\n{}",
        out.elapsed,
        out.dump()
    );
    out
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn sigterm_writes_a_partial_report_over_the_previous_one_and_exits_3() {
    let server = slow_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_slow_probes(dir.path(), &server.url());
    let out_json = dir.path().join("out.json");
    std::fs::write(&out_json, "{\"previous\": true}\n").expect("write");
    let child = Vouch::new(["run", "probes.yaml", "--format", "json", "-o", "out.json"])
        .current_dir(dir.path())
        .spawn();
    let out = signal_mid_run(&server, child, "TERM", || {
        // The previous report is whole while the run is in progress.
        assert_eq!(
            std::fs::read_to_string(&out_json).expect("read"),
            "{\"previous\": true}\n"
        );
    });
    out.assert_code(3);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_json).expect("read"))
            .unwrap_or_else(|e| panic!("out.json is not JSON ({e})\n{}", out.dump()));
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["summary"]["verified"], 1);
    assert_eq!(report["summary"]["probes"]["skip"], 1);
    let slow = server::item_of(&report, "Slow");
    assert_eq!(slow["probes"][0]["verdict"], "skip");
    assert_eq!(
        slow["probes"][0]["summary"],
        "GET /slow: not run (interrupted)"
    );
    // No temporary file is left beside it.
    assert_eq!(entries(dir.path()), ["out.json", "probes.yaml"]);
}

#[test]
fn sighup_is_treated_like_ctrl_c() {
    let server = slow_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_slow_probes(dir.path(), &server.url());
    let child = Vouch::new(["run", "probes.yaml"])
        .current_dir(dir.path())
        .spawn();
    let out = signal_mid_run(&server, child, "HUP", || {});
    out.assert_code(3);
    for line in [
        "✔ Fast  verified\n",
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
}

#[test]
fn an_unwritable_report_path_fails_before_any_traffic_and_says_so_once() {
    let server = slow_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_slow_probes(dir.path(), &server.url());
    let out = Vouch::new(["run", "probes.yaml", "-o", "missing/out.json"])
        .current_dir(dir.path())
        .run();
    out.assert_code(3);
    assert_eq!(server.requests(), 0, "{}", out.dump());
    assert_eq!(
        out.stderr,
        "error: cannot write the report to `missing/out.json`: No such file or directory (os error 2)\n"
    );
    assert_eq!(entries(dir.path()), ["probes.yaml"]);
}

#[test]
fn a_report_file_replaced_by_a_complete_run_keeps_no_temporary_file() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Fast\n    probes:\n      - http: { get: /fast }\n";
    write_file(dir.path(), "probes.yaml", &probe_file(&server.url(), items));
    std::fs::write(dir.path().join("out.xml"), "old").expect("write");
    let out = Vouch::new(["run", "probes.yaml", "--format", "junit", "-o", "out.xml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(0);
    let xml = std::fs::read_to_string(dir.path().join("out.xml")).expect("read");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(entries(dir.path()), ["out.xml", "probes.yaml"]);
}
