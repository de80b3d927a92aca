//! `vouch diff` on reports of real runs against an in-process target that
//! degrades between runs (and recovers), through files and `--history`:
//! every exit code, every format, and inputs that are not reports.

#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use server::{Output, Server, Vouch, text, write_file};

const CHECKLIST: &str =
    "# Shop\n\n## Operations\n\n- [x] Health endpoint answers\n- [x] Orders endpoint answers\n";

struct Fixture {
    dir: tempfile::TempDir,
    broken: Arc<AtomicBool>,
    _target: Server,
}

fn fixture() -> Fixture {
    let broken = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&broken);
    let target = Server::http(move |request| match request.path() {
        "/orders" if flag.load(Ordering::SeqCst) => text(503, "down"),
        _ => text(200, "ok"),
    });
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "checklist.md", CHECKLIST);
    let probes = format!(
        "version: 1\ntarget: {}\nchecklist: checklist.md\nitems:\n  - item: Health endpoint answers\n    probes:\n      - http: {{ get: /health, expect: {{ status: 200 }} }}\n  - item: Orders endpoint answers\n    probes:\n      - http: {{ get: /orders, expect: {{ status: 200 }} }}\n",
        target.url()
    );
    write_file(dir.path(), "probes.yaml", &probes);
    Fixture {
        dir,
        broken,
        _target: target,
    }
}

impl Fixture {
    /// `vouch run` into `name`, also stored in `history/`.
    fn run(&self, name: &str) -> Output {
        Vouch::new([
            "run",
            "probes.yaml",
            "--format",
            "json",
            "--output",
            name,
            "--history",
            "history",
        ])
        .current_dir(self.dir.path())
        .run()
    }

    fn vouch(&self, args: &[&str]) -> Output {
        Vouch::new(args).current_dir(self.dir.path()).run()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[test]
fn a_target_that_degrades_is_a_regression_and_recovery_is_a_fix() {
    let f = fixture();
    f.run("good.json").assert_code(0);
    f.broken.store(true, Ordering::SeqCst);
    f.run("bad.json").assert_code(1);

    let out = f.vouch(&["diff", "good.json", "bad.json"]);
    out.assert_code(1);
    assert!(
        out.stdout
            .contains("regressed  operations/orders-endpoint-answers  verified → refuted"),
        "{}",
        out.dump()
    );
    assert!(out.stdout.contains("status: 200 → 503"), "{}", out.dump());
    assert!(out.stdout.contains("1 regressed"), "{}", out.dump());
    assert!(!out.stdout.contains("health-endpoint"), "{}", out.dump());

    let out = f.vouch(&["diff", "bad.json", "good.json", "--format", "json"]);
    out.assert_code(0);
    let diff = out.json();
    assert_eq!(diff["schema"], "vouch.diff/v1");
    assert_eq!(diff["items"][0]["change"], "fixed");
    assert_eq!(diff["items"][0]["from"], "refuted");
    assert_eq!(diff["items"][0]["to"], "verified");
    assert_eq!(diff["items"][0]["evidence"][0], "status: 503 → 200");

    let out = f.vouch(&["diff", "good.json", "bad.json", "--format", "markdown"]);
    out.assert_code(1);
    assert!(
        out.stdout.contains(
            "| regressed | Orders endpoint answers | verified | refuted | status: 200 → 503 |"
        ),
        "{}",
        out.dump()
    );

    // The history holds both runs, gzipped, and the checklist written back.
    let stored = std::fs::read_dir(f.path().join("history"))
        .expect("history")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        stored.iter().filter(|n| n.ends_with(".json.gz")).count(),
        2,
        "{stored:?}"
    );
    assert!(
        stored.iter().any(|n| n == "last-checklist.md"),
        "{stored:?}"
    );
    let out = f.vouch(&["diff", "--history", "history"]);
    out.assert_code(1);
    assert!(out.stdout.contains("1 regressed"), "{}", out.dump());
}

#[test]
fn unchanged_runs_pass_the_gate() {
    let f = fixture();
    f.run("a.json").assert_code(0);
    f.run("b.json").assert_code(0);
    let out = f.vouch(&["diff", "a.json", "b.json"]);
    out.assert_code(0);
    assert!(out.stdout.contains("no item changed"), "{}", out.dump());
}

#[test]
fn inputs_that_are_not_reports_exit_2() {
    let f = fixture();
    f.run("a.json").assert_code(0);
    write_file(f.path(), "other.json", "{\"schema\": \"something/v2\"}");
    write_file(f.path(), "garbage.json", "not json at all");
    let out = f.vouch(&["diff", "a.json", "other.json"]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("`other.json` is not a vouch report: its schema is `something/v2`"),
        "{}",
        out.dump()
    );
    f.vouch(&["diff", "garbage.json", "a.json"]).assert_code(2);
    f.vouch(&["diff", "a.json", "missing.json"]).assert_code(2);
    let out = f.vouch(&["diff", "--history", "nowhere"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("holds 0 stored report(s)"),
        "{}",
        out.dump()
    );
    f.vouch(&["diff", "a.json"]).assert_code(2);
}

#[test]
fn reports_of_different_checklists_exit_2() {
    let f = fixture();
    f.run("a.json").assert_code(0);
    write_file(
        f.path(),
        "other.md",
        "# Elsewhere\n\n- [x] Health endpoint answers\n- [ ] Orders endpoint answers\n",
    );
    let out = f.vouch(&[
        "run",
        "probes.yaml",
        "--checklist",
        "other.md",
        "--format",
        "json",
        "--output",
        "b.json",
    ]);
    out.assert_code(0);
    let out = f.vouch(&["diff", "a.json", "b.json"]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("the reports are of different checklists"),
        "{}",
        out.dump()
    );
}
