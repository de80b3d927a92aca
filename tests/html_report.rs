//! `--format html` end to end: the real binary against an in-process server
//! whose answers are hostile. The page is checked with a real HTML parser
//! (Python's html5lib in strict mode): valid, no external URL anywhere, the
//! target's `<script>` and `"><img onerror>` inert text; and it carries what
//! a review needs (gate and why, scores, refuted first, checklist with
//! boxes, evidence, attempts, the latency chart).

#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use server::{Output, Server, Vouch, json, text, with_header};

const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>'><a href=\"https://evil.example/\">x</a>";

const CHECKLIST: &str = "# Release <b>review</b>\n\n## Core\n\n- [x] Health works\n- [x] Orders work\n  - [ ] Orders are paged\n\n## Ops\n\n- [x] Backups tested\n- [ ] Retries are flaky\n- [ ] Load is fine\n";

fn server() -> Server {
    let flaky = Arc::new(AtomicUsize::new(0));
    Server::http(move |request| match request.path() {
        "/ok" => json("{\"status\":\"ok\"}"),
        "/flaky" => {
            if flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                text(503, "not yet")
            } else {
                text(200, "ok")
            }
        }
        _ => with_header(text(500, HOSTILE), "x-hostile", "\"><svg onload=alert(3)>"),
    })
}

fn setup(server: &Server) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let probes = format!(
        "version: 1\nname: Shop\ntarget: {}\nchecklist: checklist.md\nitems:\n\
         \x20 - item: Health works\n    severity: critical\n    probes:\n      - http: {{get: /ok, expect: {{json: {{$.status: ok}}}}}}\n\
         \x20 - item: Orders work\n    probes:\n      - http: {{get: /hostile, expect: {{status: 200}}}}\n\
         \x20 - item: Retries are flaky\n    probes:\n      - http: {{get: /flaky}}\n        retries: 2\n\
         \x20 - item: Load is fine\n    severity: minor\n    probes:\n      - load: {{get: /ok, concurrency: 2, duration: 300ms, warmup: 0s, max_requests: 200}}\n",
        server.url()
    );
    std::fs::write(dir.path().join("probes.yaml"), probes).expect("write");
    std::fs::write(dir.path().join("checklist.md"), CHECKLIST).expect("write");
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["run", "probes.yaml", "--no-progress", "--cool-down", "0s"];
    all.extend_from_slice(args);
    Vouch::new(all).current_dir(dir).run()
}

/// Parses the page with html5lib (strict: any parse error fails) and prints
/// what the assertions need: script count, img count, `on*` attributes,
/// every src/href, and the text of the items' summaries.
const CHECKER: &str = r#"
import sys, html5lib
data = open(sys.argv[1], encoding="utf-8").read()
parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
doc = parser.parse(data)
scripts = doc.findall(".//script")
print("scripts", len(scripts), sum(1 for s in scripts if s.get("src") is not None))
print("imgs", len(doc.findall(".//img")))
print("links", len(doc.findall(".//link")) + len(doc.findall(".//iframe")) + len(doc.findall(".//object")))
handlers = [k for el in doc.iter() for k in el.attrib if k.lower().startswith("on")]
print("handlers", len(handlers))
for el in doc.iter():
    for k in ("src", "href", "action", "xlink:href"):
        if el.get(k) is not None:
            print("url", el.get(k))
for li in doc.iter("li"):
    if li.get("data-verdict"):
        summary = li.find("details/summary")
        print("item", li.get("data-verdict"), "|", " ".join("".join(summary.itertext()).split()))
"#;

fn check_html(path: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args(["-c", CHECKER])
        .arg(path)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'html5lib'") {
        if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() {
            panic!("python3 with html5lib is required (pip install html5lib)");
        }
        // Without html5lib, the stricter of the two checks is unavailable;
        // say so loudly rather than pass.
        panic!("python3 html5lib is missing: pip install html5lib");
    }
    assert!(
        out.status.success(),
        "the page does not parse strictly: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_html_report_is_valid_self_contained_and_inert() {
    let server = server();
    let dir = setup(&server);
    let out = run(
        dir.path(),
        &["--format", "html", "--fail-on", "critical:failed,refuted"],
    );
    out.assert_code(1);
    let page = &out.stdout;
    std::fs::write(dir.path().join("report.html"), page).expect("write");
    let lines = check_html(&dir.path().join("report.html"));
    let has = |line: &str| lines.iter().any(|l| l == line);
    assert!(has("scripts 1 0"), "only our inline script: {lines:?}");
    assert!(has("imgs 0"), "{lines:?}");
    assert!(has("links 0"), "{lines:?}");
    assert!(has("handlers 0"), "{lines:?}");
    for url in lines.iter().filter_map(|l| l.strip_prefix("url ")) {
        assert!(url.starts_with('#'), "only in-page links, found {url}");
    }
    assert!(
        !page.contains("href=\"https://evil"),
        "the hostile link is not a link"
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "shown as text"
    );

    // Items in checklist order with boxes, verdicts and badges.
    let items: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("item "))
        .collect();
    assert_eq!(items.len(), 6, "{items:?}");
    assert_eq!(
        items[0], "verified | [x] Health works verified critical",
        "{items:?}"
    );
    assert!(
        items[1].starts_with("refuted | [x] Orders work failed refuted major"),
        "{items:?}"
    );
    assert!(
        items[2].starts_with("manual | [ ] Orders are paged"),
        "{items:?}"
    );
    assert!(
        items[3].starts_with("manual | [x] Backups tested manual claimed, not verified"),
        "{items:?}"
    );
    assert!(
        items[4].contains("Retries are flaky verified major flaky"),
        "{items:?}"
    );
    assert!(items[5].contains("Load is fine"), "{items:?}");
}

#[test]
fn the_html_report_has_what_a_review_needs() {
    let server = server();
    let dir = setup(&server);
    let out = run(dir.path(), &["--format", "html", "--min-score", "Ops=90"]);
    out.assert_code(1);
    let page = &out.stdout;
    // Who, what, when.
    assert!(page.contains("<th>deployment</th><td>Shop"), "{page}");
    assert!(page.contains(&format!("<code>{}</code>", server.url())));
    assert!(page.contains("<th>vouch</th><td>"));
    // The title from the checklist.
    assert!(page.contains("<h1>vouch report: Release"), "{page}");
    // The gate and why.
    assert!(page.contains("<span class=\"badge v-failed\">FAILED</span>"));
    assert!(page.contains("<code>--min-score Ops=90</code>: section `Ops` scores"));
    assert!(page.contains("<code>--fail-on failed</code>: 1 item failed<ul><li>Orders work</li>"));
    // Scores as bars, per section and overall.
    assert!(page.contains("<h2>Readiness "));
    assert_eq!(
        page.matches("class=\"bar\"").count(),
        3,
        "overall + 2 sections"
    );
    // Refuted first, then ticked but unverified, then the checklist.
    let refuted = page
        .find("<section id=\"refuted\">")
        .expect("refuted section");
    let unverified = page
        .find("<section id=\"unverified\">")
        .expect("unverified section");
    let items = page.find("<section id=\"items\">").expect("items");
    assert!(refuted < unverified && unverified < items);
    // Headings as written, nesting kept.
    assert!(page.contains("<h3>Core</h3>") && page.contains("<h3>Ops</h3>"));
    assert!(
        page.contains("class=\"item depth1\""),
        "the nested item is indented"
    );
    // Evidence: checks, the request and response with headers, the body.
    assert!(
        page.contains("<td>status</td><td>200</td><td>500</td>"),
        "{page}"
    );
    assert!(page.contains("<dt>x-hostile</dt>"));
    assert!(page.contains("&quot;&gt;&lt;svg onload=alert(3)&gt;"));
    // Attempts of the flaky probe.
    assert!(page.contains("Attempts:</p><ol class=\"attempts\">"));
    // The load run's latency distribution.
    assert!(page.contains("<svg class=\"latency\""));
    for mark in [">p50 ", ">p95 ", ">p99 "] {
        assert!(page.contains(mark), "{mark} marked");
    }
}

#[test]
fn several_outputs_from_one_run() {
    let server = server();
    let dir = setup(&server);
    let out = run(
        dir.path(),
        &[
            "-o",
            "junit=report.xml",
            "-o",
            "report.html",
            "-o",
            "json=out/report.json",
            "--fail-on",
            "flaky",
        ],
    );
    // `out/` does not exist: nothing is run and nothing is written.
    out.assert_code(3);
    assert!(!dir.path().join("report.xml").exists());
    std::fs::create_dir(dir.path().join("out")).expect("mkdir");
    let before = server.requests();
    let out = run(
        dir.path(),
        &[
            "-o",
            "junit=report.xml",
            "-o",
            "report.html",
            "-o",
            "json=out/report.json",
            "--fail-on",
            "refuted",
        ],
    );
    out.assert_code(1);
    // One run: each probe's traffic once (the flaky endpoint answered twice).
    let xml = std::fs::read_to_string(dir.path().join("report.xml")).expect("junit");
    assert!(xml.starts_with("<?xml"), "{xml}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/report.json")).expect("json"),
    )
    .expect("JSON");
    assert_eq!(json["schema"], "vouch.report/v1");
    // The human report still goes to the console.
    assert!(out.stdout.contains("gate: FAILED"), "{}", out.dump());
    assert!(
        out.stdout.contains("CLAIMED, NOT VERIFIED (1)"),
        "{}",
        out.dump()
    );
    let load_and_others = server.requests() - before;
    assert!(
        load_and_others > 3,
        "the run happened once: {load_and_others}"
    );

    // --quiet keeps the console empty.
    let quiet = run(dir.path(), &["-o", "html=again.html", "--quiet"]);
    assert!(quiet.stdout.is_empty(), "{}", quiet.dump());
    assert!(dir.path().join("again.html").exists());
    // A single plain `-o FILE` with --format stays as it was: silent.
    let legacy = run(dir.path(), &["--format", "json", "-o", "legacy.out"]);
    assert!(legacy.stdout.is_empty(), "{}", legacy.dump());
    let legacy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("legacy.out")).expect("written"),
    )
    .expect("--format wins over an unknown extension");
    assert_eq!(legacy["schema"], "vouch.report/v1");
}

/// Chromium on PATH, or `None` (a failure when `VOUCH_REQUIRE_PEERS` is set,
/// as `scripts/test.sh` does after installing it).
fn chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser"] {
        let found = Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return Some(name.to_owned());
        }
    }
    if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() {
        panic!("chromium is required (scripts/ensure-packages.sh chromium=chromium)");
    }
    eprintln!("note: chromium not available; skipping the browser check");
    None
}

#[test]
fn a_real_browser_renders_the_report_and_runs_its_script() {
    let Some(chromium) = chromium() else { return };
    let server = server();
    let dir = setup(&server);
    run(dir.path(), &["-o", "html=report.html", "--quiet"]).assert_code(1);
    let page = dir.path().join("report.html");
    let profile = tempfile::tempdir().expect("profile dir");
    let child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let out = server::wait_output(
        child,
        std::time::Instant::now(),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "{}", out.dump());
    let dom = &out.stdout;
    // The script ran: it added the filters, with the verdicts it found.
    assert!(dom.contains("<form id=\"filters\">"), "{dom}");
    for verdict in ["verified", "refuted", "manual"] {
        assert!(
            dom.contains(&format!("<option value=\"{verdict}\">{verdict}</option>")),
            "{verdict}: {dom}"
        );
    }
    // The items and their verdicts are in the DOM.
    for item in [
        "Health works",
        "Orders work",
        "Backups tested",
        "Retries are flaky",
        "Load is fine",
    ] {
        assert!(dom.contains(item), "{item}: {dom}");
    }
    assert!(dom.contains("data-verdict=\"refuted\""));
    assert!(dom.contains("<span class=\"badge v-failed\">refuted</span>"));
    // The hostile body stayed text: no element came of it.
    assert!(!dom.contains("<img"), "{dom}");
    assert_eq!(dom.matches("<script>").count(), 1, "{dom}");
    // No script error reached the console.
    assert!(
        !out.stderr.contains("Uncaught") && !out.stderr.contains("SyntaxError"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_a_checklist_items_are_listed_by_file() {
    let server = server();
    let dir = setup(&server);
    let file = dir.path().join("probes.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("checklist: checklist.md\n", "")).expect("write");
    run(dir.path(), &["-o", "html=report.html", "--quiet"]).assert_code(1);
    let lines = check_html(&dir.path().join("report.html"));
    let items: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("item "))
        .collect();
    assert_eq!(
        items,
        [
            "verified | Health works verified critical",
            "failed | Orders work failed major",
            "verified | Retries are flaky verified major flaky",
            "verified | Load is fine verified minor",
        ],
        "{lines:?}"
    );
    let page = std::fs::read_to_string(dir.path().join("report.html")).expect("page");
    assert!(
        page.contains("<h3>Shop</h3>"),
        "grouped under the file's name"
    );
    assert!(
        !page.contains("<section id=\"readiness\">"),
        "no checklist, no score"
    );
}

#[test]
fn a_rate_limit_is_drawn_where_it_struck() {
    let count = Arc::new(AtomicUsize::new(0));
    let server = Server::http(move |_| {
        if count.fetch_add(1, Ordering::SeqCst) >= 4 {
            with_header(text(429, "slow down"), "retry-after", "1")
        } else {
            text(200, "ok")
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let probes = format!(
        "version: 1\ntarget: {}\nitems:\n  - item: Limited\n    probes:\n      - rate_limit: {{get: /api, burst: 12, expect: {{limited: true, within: 10}}}}\n",
        server.url()
    );
    std::fs::write(dir.path().join("probes.yaml"), probes).expect("write");
    run(dir.path(), &["-o", "html=report.html", "--quiet"]).assert_code(0);
    check_html(&dir.path().join("report.html"));
    let page = std::fs::read_to_string(dir.path().join("report.html")).expect("page");
    assert!(
        page.contains("aria-label=\"first limited response at request 5 of "),
        "{page}"
    );
    assert!(page.contains("first limited: request 5 of "), "{page}");
}
