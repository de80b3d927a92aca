//! `--format github` and the job summary (issue 17): the real binary against
//! an in-process server, with a checklist. Annotations land at the checklist
//! lines, in order of weight; text from the target cannot issue a workflow
//! command; `$GITHUB_STEP_SUMMARY` gets the summary whatever the format.

#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use server::{Output, Request, Server, Vouch, probe_file, respond, text, write_file};

/// What the failing endpoint answers: a line break followed by workflow
/// commands, an encoded line break, markup and table syntax.
const HOSTILE: &str = "down\n::set-output name=gate::passed\r\n::add-mask::hunter2\n%0A::error::forged | <script>x</script>";

/// The checklist; each item's line is found by its text.
const CHECKLIST: &str = "# Release gate

## Security

- [x] TLS: everywhere, always
- [ ] Health endpoint answers
- [x] Origins are checked

## Operations

- [ ] Warm start
- [x] Home page loads
- [ ] Runbook written
";

fn line_of(text: &str) -> usize {
    CHECKLIST
        .lines()
        .position(|l| l.ends_with(text))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{text}` is not in the checklist"))
}

/// `/hostile` fails with [`HOSTILE`], `/down` fails plainly, `/warm` fails
/// once then answers, `/ok` answers.
fn deployment() -> Server {
    let warm = Arc::new(AtomicUsize::new(0));
    Server::http(move |r: Request| match r.path() {
        "/hostile" => respond(500, "text/plain", HOSTILE.to_owned()),
        "/down" => text(503, "unavailable"),
        "/warm" if warm.fetch_add(1, Ordering::SeqCst) == 0 => text(503, "warming up"),
        "/warm" | "/ok" => text(200, "ok"),
        _ => text(404, "no"),
    })
}

const ITEMS: &str = "  - item: \"TLS: everywhere, always\"
    probes:
      - http: { get: /hostile, expect: { status: 200, body: { contains: never } } }
  - item: Health endpoint answers
    probes:
      - http: { get: /down, expect: { status: 200 } }
  - item: Origins are checked
    probes:
      - cors:
          allowed_origins: [https://evil.example]
  - item: Warm start
    probes:
      - retries: 1
        http: { get: /warm, expect: { status: 200 } }
  - item: Home page loads
    probes:
      - http: { get: /ok, expect: { status: 200 } }
";

/// The probe file in `dir/probes/` naming `../checklist.md`, so the path
/// vouch reads is `probes/../checklist.md`.
fn write_files(dir: &Path, target: &str) {
    std::fs::create_dir_all(dir.join("probes")).expect("probes dir");
    let file = probe_file(target, ITEMS).replacen(
        "items:\n",
        "checklist: ../checklist.md\ndefaults:\n  retry_delay: 10ms\nitems:\n",
        1,
    );
    write_file(&dir.join("probes"), "probes.yaml", &file);
    write_file(dir, "checklist.md", CHECKLIST);
}

fn run(dir: &Path, args: &[&str], summary: Option<&Path>) -> Output {
    let mut all = vec!["run", "probes/probes.yaml", "--no-progress"];
    all.extend_from_slice(args);
    let mut vouch = Vouch::new(all).current_dir(dir);
    vouch = match summary {
        Some(path) => vouch.env("GITHUB_STEP_SUMMARY", path),
        None => vouch.env("GITHUB_STEP_SUMMARY", ""),
    };
    vouch.run()
}

#[test]
fn annotations_mark_checklist_lines_refuted_first() {
    let server = deployment();
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &server.url());
    let out = run(dir.path(), &["--format", "github"], None);
    out.assert_code(1);
    let commands: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("::"))
        .collect();
    let heads: Vec<String> = commands
        .iter()
        .map(|l| l.split("::").take(2).collect::<Vec<_>>().join("::"))
        .collect();
    assert_eq!(
        heads,
        [
            format!(
                "::error file=checklist.md,line={},title=refuted%3A TLS%3A everywhere%2C always",
                line_of("TLS: everywhere, always")
            ),
            format!(
                "::error file=checklist.md,line={},title=failed%3A Health endpoint answers",
                line_of("Health endpoint answers")
            ),
            format!(
                "::warning file=checklist.md,line={},title=error%3A Origins are checked",
                line_of("Origins are checked")
            ),
            format!(
                "::warning file=checklist.md,line={},title=flaky%3A Warm start",
                line_of("Warm start")
            ),
        ],
        "{}",
        out.dump()
    );
    // The failed item's message carries its evidence, lines joined by %0A.
    assert!(commands[1].contains("503"), "{}", out.dump());
    assert!(commands[3].contains("[pass, flaky]"), "{}", out.dump());
    let last = out.stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with("vouch: gate failed against http://127.0.0.1:"),
        "{last}"
    );
}

#[test]
fn target_text_cannot_issue_a_workflow_command() {
    let server = deployment();
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &server.url());
    let out = run(dir.path(), &["--format", "github"], None);
    out.assert_code(1);
    // Every line is one of vouch's own: four annotations and the summary.
    for line in out.stdout.lines() {
        assert!(
            line.starts_with("::error file=checklist.md,")
                || line.starts_with("::warning file=checklist.md,")
                || line.starts_with("vouch: "),
            "a line vouch did not write: {line:?}\n{}",
            out.dump()
        );
    }
    assert!(!out.stdout.contains('\r'), "{}", out.dump());
    let refuted = out.stdout.lines().next().unwrap_or("");
    // The payload is there, visibly: a literal `\n` before each command,
    // `%` encoded so the runner decodes `%0A` to the text `%0A`.
    assert!(
        refuted.contains(
            "down\\n::set-output name=gate::passed\\r\\n::add-mask::hunter2\\n%250A::error::forged"
        ),
        "{}",
        out.dump()
    );
    // Decoding as the runner does gives one line per line vouch wrote, and
    // none of them starts a command.
    let message = refuted.splitn(3, "::").nth(2).unwrap_or("");
    let decoded = message
        .replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%25", "%");
    for line in decoded.lines() {
        assert!(!line.trim_start().starts_with("::"), "{line:?}");
    }
    assert!(decoded.contains("%0A::error::forged"), "{decoded}");
}

#[test]
fn without_a_checklist_annotations_point_at_the_probe_file() {
    let server = deployment();
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Down\n    probes:\n      - http: { get: /down, expect: { status: 200 } }\n  - item: Up\n    probes:\n      - http: { get: /ok }\n";
    write_file(dir.path(), "probes.yaml", &probe_file(&server.url(), items));
    let out = Vouch::new(["run", "./probes.yaml", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", "")
        .current_dir(dir.path())
        .run();
    out.assert_code(1);
    let first = out.stdout.lines().next().unwrap_or("");
    assert!(
        first.starts_with("::error file=probes.yaml,line=5,col=11,title=failed%3A Down::"),
        "{}",
        out.dump()
    );
    assert_eq!(
        out.stdout.lines().filter(|l| l.starts_with("::")).count(),
        1,
        "{}",
        out.dump()
    );
}

#[test]
fn the_step_summary_is_appended_whatever_the_format() {
    let server = deployment();
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &server.url());
    let summary = write_file(dir.path(), "summary.md", "previous step\n");
    let out = run(
        dir.path(),
        &["--format", "junit", "-o", "junit.xml"],
        Some(&summary),
    );
    out.assert_code(1);
    assert!(out.stderr.is_empty(), "{}", out.dump());
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert!(
        text.starts_with("previous step\n## vouch: ❌ gate failed against `http://127.0.0.1:"),
        "{text}"
    );
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` is not in the summary:\n{text}"))
    };
    // Refuted first, then the score per section, then every item, collapsed.
    let refuted = at("### ❌ Refuted (1): ticked in the checklist, refuted by the deployment");
    let line = line_of("TLS: everywhere, always");
    at(&format!("- **TLS: everywhere, always** (line {line})"));
    let sections = at(
        "| section | items | claimed | verified | attested | failed | refuted | manual | score |",
    );
    at("| Security | 3 | 2 | 0 | 0 | 2 | 1 | 0 | 0 |");
    at("| Operations | 3 | 1 | 2 | 0 | 0 | 0 | 1 | 67 |");
    let details = at(
        "<details><summary>All 6 checklist items</summary>\n\n| | line | item | verdict | why |",
    );
    assert!(refuted < sections && sections < details, "{text}");
    at(&format!(
        "| ❌ | {line} | TLS: everywhere, always | refuted |"
    ));
    at(&format!(
        "| ⬜ | {} | Runbook written | manual |",
        line_of("Runbook written")
    ));
    assert!(text.ends_with("</details>\n\n"), "{text}");
    // Target text stays inside its cell and renders as written.
    assert!(!text.contains("<script>"), "{text}");
    for row in text.lines().filter(|l| l.starts_with("| ")) {
        let cells = row.replace("\\|", "").matches('|').count();
        assert!(cells == 6 || cells == 10, "a row with a stray `|`: {row}");
    }
    // Appended, not replaced: a second run adds a second summary.
    run(
        dir.path(),
        &["--format", "json", "-o", "r.json"],
        Some(&summary),
    )
    .assert_code(1);
    let again = std::fs::read_to_string(&summary).expect("summary");
    assert_eq!(again.matches("## vouch: ").count(), 2, "{again}");
    // The report itself was written as asked.
    assert!(
        std::fs::read_to_string(dir.path().join("junit.xml"))
            .expect("junit")
            .starts_with("<?xml")
    );
}

#[test]
fn an_unwritable_step_summary_is_a_warning() {
    let server = deployment();
    let dir = tempfile::tempdir().expect("temp dir");
    write_files(dir.path(), &server.url());
    // A directory cannot be appended to.
    let out = run(dir.path(), &["--format", "json"], Some(dir.path()));
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("warning: cannot append the step summary to"),
        "{}",
        out.dump()
    );
    assert_eq!(out.json()["summary"]["items"], 5);
}
