//! `vouch run --shard K/N` and `vouch merge`, end to end against an
//! in-process server: the shards of 1, 3 and 7 merge into the report of one
//! unsharded run (timings aside), every item runs in exactly one shard
//! (isolated-phase probes too), and bad shards or mixed files are refused.

#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use server::{Request, Server, text, vouch, with_header, write_file};

/// Items per section; every fifth fails, every seventh is left manual.
const SECTIONS: [&str; 3] = ["Core", "Operations", "Security"];
const PER_SECTION: usize = 10;

fn is_failing(i: usize) -> bool {
    i % 5 == 3
}

fn is_manual(i: usize) -> bool {
    i % 7 == 6
}

/// A checklist of 30 items (a parent with two children in each section,
/// some ticked) and the probe file that binds most of them.
fn write_files(dir: &Path, target: &str) -> (PathBuf, PathBuf) {
    let mut checklist = String::from("# Shard service\n");
    let mut probes = format!(
        "version: 1\nname: shards\nchecklist: checklist.md\ntarget: {target}\nweights:\n  Security: 50\ndefaults:\n  timeout: 2s\nitems:\n"
    );
    let mut i = 0;
    for section in SECTIONS {
        checklist.push_str(&format!("\n## {section}\n\n"));
        for n in 0..PER_SECTION {
            let text = format!("{section} check number {n}");
            // The item after each parent is its first child, the next its second.
            let indent = if n == 2 || n == 3 { "  " } else { "" };
            let tick = if i % 2 == 0 { "x" } else { " " };
            checklist.push_str(&format!("{indent}- [{tick}] {text}\n"));
            if !is_manual(i) {
                let path = if is_failing(i) { "fail" } else { "ok" };
                probes.push_str(&format!(
                    "  - item: {text}\n    probes:\n      - http:\n          get: /{path}/{i}\n          expect:\n            status: 200\n"
                ));
            }
            i += 1;
        }
    }
    // Two isolated-phase probes, and an item with no checklist entry.
    probes.push_str(
        "  - item: Core check number 0\n    probes:\n      - rate_limit:\n          get: /limited/a\n          burst: 3\n          expect:\n            limited: true\n",
    );
    probes.push_str(
        "  - item: Security check number 9\n    probes:\n      - rate_limit:\n          get: /limited/b\n          burst: 3\n          expect:\n            limited: true\n",
    );
    (
        write_file(dir, "probes.yaml", &probes),
        write_file(dir, "checklist.md", &checklist),
    )
}

/// `/ok/*` answers 200, `/fail/*` 500, `/limited/*` 429; counts `/limited`.
fn target() -> (Server, Arc<AtomicUsize>) {
    let limited = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&limited);
    let server = Server::http(move |r: Request| {
        if r.path().starts_with("/ok/") {
            text(200, "ok")
        } else if r.path().starts_with("/limited/") {
            counter.fetch_add(1, Ordering::SeqCst);
            with_header(text(429, "slow down"), "retry-after", "1")
        } else {
            text(500, "broken")
        }
    });
    (server, limited)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `vouch run` of the files, as JSON into `out` (with `--shard` when given).
fn run(probes: &Path, out: &Path, shard: Option<&str>) -> Value {
    let out_arg = format!("json={}", path(out));
    let mut args = vec![
        "run",
        path(probes),
        "-o",
        &out_arg,
        "--quiet",
        "--no-progress",
        "--cool-down",
        "0s",
    ];
    if let Some(shard) = shard {
        args.extend(["--shard", shard]);
    }
    let output = vouch(&args);
    // Some items fail: exit 1 by the gate, never 2 or 3.
    assert!(
        matches!(output.code, Some(0 | 1)),
        "{shard:?}\n{}",
        output.dump()
    );
    read(out)
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read report")).expect("JSON")
}

/// `text` with every number of milliseconds (`in 12 ms`, `after 3ms`) and
/// every `HH:MM` time written as `N`.
fn without_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..start]);
        let digits = rest[start..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(rest.len(), |end| start + end);
        let after = &rest[digits..];
        if after.starts_with(" ms") || after.starts_with("ms") || after.starts_with(':') {
            out.push('N');
        } else {
            out.push_str(&rest[start..digits]);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The report without what differs from run to run: times, durations,
/// evidence (timings inside), milliseconds in one-line summaries.
fn normalized(mut report: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for key in ["started_at", "finished_at", "duration_ms", "evidence"] {
                    map.remove(key);
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::String(s) => *s = without_times(s),
            _ => {}
        }
    }
    walk(&mut report);
    report
}

/// Asserts two reports are equal, showing the first lines that differ.
fn assert_same(merged: &Value, whole: &Value, n: u32) {
    let (a, b) = (
        serde_json::to_string_pretty(merged).expect("JSON"),
        serde_json::to_string_pretty(whole).expect("JSON"),
    );
    if let Some((i, (x, y))) = a
        .lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
    {
        let context: Vec<&str> = b.lines().skip(i.saturating_sub(8)).take(9).collect();
        panic!(
            "{n} shards: line {i}: merged `{x}`, unsharded `{y}`\n{}",
            context.join("\n")
        );
    }
    assert_eq!(a.lines().count(), b.lines().count(), "{n} shards");
}

#[test]
fn shards_of_1_3_and_7_merge_into_the_unsharded_report() {
    let (server, limited) = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let (probes, _) = write_files(dir.path(), &server.url());
    let whole = run(&probes, &dir.path().join("whole.json"), None);
    assert_eq!(limited.load(Ordering::SeqCst), 6, "two bursts of 3");
    assert!(whole.get("shard").is_none());
    let failed = whole["summary"]["failed"].as_u64().expect("failed count");
    assert!(failed >= 5, "some items fail: {failed}");
    assert!(whole["checklist"]["counts"]["refuted"].as_u64() > Some(0));
    let items = whole["items"].as_array().expect("items").len();

    for n in [1u32, 3, 7] {
        limited.store(0, Ordering::SeqCst);
        let shards = dir.path().join(format!("shards-{n}"));
        std::fs::create_dir(&shards).expect("mkdir");
        let mut own = 0;
        let mut own_checklist = 0;
        for k in 0..n {
            let report = run(
                &probes,
                &shards.join(format!("shard-{k}.json")),
                Some(&format!("{k}/{n}")),
            );
            assert_eq!(report["shard"]["index"], k);
            assert_eq!(report["shard"]["count"], n);
            let listed = report["items"].as_array().expect("items");
            assert_eq!(listed.len(), items, "every item is listed in each shard");
            let others = listed
                .iter()
                .filter(|i| i["not_in_shard"] == true)
                .inspect(|i| {
                    assert_eq!(i["verdict"], "skipped");
                    assert_eq!(i["probes"].as_array().map(Vec::len), Some(0));
                })
                .count();
            assert_eq!(report["summary"]["items"], items - others);
            own += items - others;
            // The checklist's counts are over this shard's checklist items.
            let checklist = report["checklist"]["items"]
                .as_array()
                .expect("checklist items");
            let mine = checklist
                .iter()
                .filter(|i| i["not_in_shard"] != true)
                .count();
            assert_eq!(report["checklist"]["counts"]["items"], mine);
            own_checklist += mine;
            assert!(
                checklist
                    .iter()
                    .filter(|i| i["not_in_shard"] == true)
                    .all(|i| i["verdict"] == "skipped" && i["refuted"] == false)
            );
        }
        assert_eq!(own, items, "each item in exactly one of {n} shards");
        assert_eq!(
            own_checklist, 30,
            "each checklist item in one of {n} shards"
        );
        assert_eq!(
            limited.load(Ordering::SeqCst),
            6,
            "each isolated probe ran once across {n} shards"
        );
        let merged_path = dir.path().join(format!("merged-{n}.json"));
        let out = format!("json={}", path(&merged_path));
        let output = vouch(&["merge", path(&shards), "-o", &out, "--quiet"]);
        assert_eq!(
            output.code,
            Some(1),
            "the gate fails as the whole run's\n{}",
            output.dump()
        );
        assert_same(
            &normalized(read(&merged_path)),
            &normalized(whole.clone()),
            n,
        );
    }
}

#[test]
fn merge_writes_the_checklist_back_once_like_run() {
    let (server, _) = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let (probes, _) = write_files(dir.path(), &server.url());
    let whole = vouch(&[
        "run",
        path(&probes),
        "--format",
        "markdown",
        "--no-progress",
        "--cool-down",
        "0s",
    ]);
    let mut reports = Vec::new();
    for k in 0..3 {
        let out = dir.path().join(format!("s{k}.json"));
        run(&probes, &out, Some(&format!("{k}/3")));
        reports.push(out);
    }
    let mut args = vec!["merge", "--format", "markdown"];
    args.extend(reports.iter().map(|p| path(p)));
    let merged = vouch(&args);
    assert_eq!(merged.code, Some(1), "{}", merged.dump());
    assert!(merged.stdout.contains("Shard service"), "{}", merged.dump());
    assert_eq!(without_times(&merged.stdout), without_times(&whole.stdout));
}

/// Shard reports of 3 in `dir`, written with `probes`.
fn three_shards(probes: &Path, dir: &Path) -> Vec<PathBuf> {
    (0..3)
        .map(|k| {
            let out = dir.join(format!("shard-{k}.json"));
            run(probes, &out, Some(&format!("{k}/3")));
            out
        })
        .collect()
}

fn merge_fails(reports: &[&Path], message: &str) {
    let mut args = vec!["merge".to_owned()];
    args.extend(reports.iter().map(|p| path(p).to_owned()));
    let output = vouch(&args);
    assert_eq!(output.code, Some(2), "{}", output.dump());
    assert!(
        output.stderr.contains(message),
        "expected `{message}`\n{}",
        output.dump()
    );
}

#[test]
fn overlapping_missing_and_mixed_shards_are_refused() {
    let (server, _) = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let (probes, _) = write_files(dir.path(), &server.url());
    let shards = three_shards(&probes, dir.path());
    let [a, b, c] = [&shards[0], &shards[1], &shards[2]].map(PathBuf::as_path);
    merge_fails(&[a, b, c, a], "shards overlap");
    merge_fails(&[a, c], "shard 1/3 missing: 2 of 3 shard reports given");
    let whole = dir.path().join("whole.json");
    run(&probes, &whole, None);
    merge_fails(&[&whole], "is not the report of a shard");

    // The same items, but the probe file's bytes changed between shards.
    let text = std::fs::read_to_string(&probes).expect("read") + "# edited\n";
    let edited = write_file(dir.path(), "probes.yaml", &text);
    let changed = dir.path().join("changed-1.json");
    run(&edited, &changed, Some("1/3"));
    merge_fails(&[a, &changed, c], "different probe files");
}

#[test]
fn bad_shards_are_refused_before_running() {
    let (server, _) = target();
    let dir = tempfile::tempdir().expect("tempdir");
    let (probes, _) = write_files(dir.path(), &server.url());
    for bad in ["3/3", "x", "1/0", "2/2"] {
        let output = vouch(&["run", path(&probes), "--shard", bad]);
        assert_eq!(output.code, Some(2), "{bad}\n{}", output.dump());
        assert!(output.stderr.contains("K/N"), "{bad}\n{}", output.dump());
    }
    assert_eq!(server.requests(), 0, "nothing was sent");
}
