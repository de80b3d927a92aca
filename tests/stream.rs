//! A large run streamed into its reports as items finish: 20,000 items
//! against an in-process server, some failing, some with two probes, an
//! attested and a manual one. The streamed JSON and human reports hold
//! every item once, in file order, with the right counts, and are the
//! reports of the same run with its outcomes kept in memory
//! (`VOUCH_STREAM=0`), timings and the run's own times masked. The file is
//! block style, and the streamed run keeps its probes as text and reads each
//! again when it runs, as for a file of 16 MiB or more (`VOUCH_TEXT_FROM=0`);
//! the run kept in memory reads and keeps every probe: the reports are the
//! same.

#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;
use server::{Output, Request, Server, Vouch, json, text, wait_output, write_file};

const ITEMS: usize = 20_000;
/// Every this many items, the item fails (a 500).
const FAILING_EVERY: usize = 997;
/// Every this many items, the item has a second probe.
const TWO_PROBES_EVERY: usize = 500;

fn deployment() -> Server {
    Server::http(|r: Request| match r.path() {
        "/ok" => json(r#"{"count":2}"#),
        _ => text(500, "broken"),
    })
}

/// The probe file: `ITEMS` http items, then an attested and a manual one.
fn probes(target: &str) -> String {
    let mut yaml = format!("version: 1\nname: stream\ntarget: {target}\nitems:\n");
    for i in 0..ITEMS {
        let path = if i % FAILING_EVERY == 0 {
            "/broken"
        } else {
            "/ok"
        };
        yaml.push_str(&format!(
            "  - item: \"probe {i}\"\n    probes:\n      - http:\n          get: {path}\n          expect:\n            status: 200\n"
        ));
        if i % TWO_PROBES_EVERY == 0 {
            yaml.push_str(
                "      - http:\n          get: /ok\n          expect:\n            status: 200\n            json:\n              $.count: 2\n",
            );
        }
    }
    yaml.push_str("  - item: Restore rehearsed\n    attested:\n      by: ops@example.com\n      on: 2026-11-01\n      valid_for: 3650d\n");
    yaml.push_str("  - item: On-call rota published\n");
    yaml
}

/// Runs the probe file with a JSON and a human report; `stream` false keeps
/// the outcomes in memory.
fn run(dir: &Path, stream: bool) -> (Value, String) {
    let (json, human) = if stream {
        ("streamed.json", "streamed.txt")
    } else {
        ("kept.json", "kept.txt")
    };
    let child = Vouch::new([
        "run",
        "probes.yaml",
        "--concurrency",
        "64",
        "--quiet",
        "-o",
        &format!("json={json}"),
        "-o",
        &format!("human={human}"),
    ])
    .env("VOUCH_STREAM", if stream { "1" } else { "0" })
    // Streamed: the probes kept as text, as in a large file.
    .env(
        "VOUCH_TEXT_FROM",
        if stream { "0" } else { "1000000000000" },
    )
    .env("VOUCH_LOG", "vouch=debug")
    .current_dir(dir)
    .spawn();
    let out: Output = wait_output(child, Instant::now(), Duration::from_secs(600));
    out.assert_code(1);
    let report = std::fs::read_to_string(dir.join(json)).expect("the JSON report");
    let report: Value = serde_json::from_str(&report).expect("the JSON report parses");
    let human = std::fs::read_to_string(dir.join(human)).expect("the human report");
    // Every probe of the streamed run was kept as text (none has settings).
    let kept = if stream {
        ITEMS + ITEMS.div_ceil(TWO_PROBES_EVERY)
    } else {
        0
    };
    let said = format!("{kept} probes kept as text");
    assert_eq!(
        out.stderr.contains(&said),
        stream,
        "{said}?\n{}",
        out.stderr
    );
    (report, human)
}

/// Masks what changes from run to run: timestamps, durations (in texts
/// too), `date`.
fn mask_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match key.as_str() {
                    "started_at" | "finished_at" if v.is_string() => *v = Value::from("[TIME]"),
                    "date" if v.is_string() => *v = Value::from("[DATE]"),
                    k if k.ends_with("_ms") && v.is_number() => *v = Value::from(0),
                    _ => mask_json(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::String(text) => *text = mask_text(text),
        _ => {}
    }
}

fn mask_text(text: &str) -> String {
    static RULES: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
        [
            (r" in \d+ ms\b", " in [N] ms"),
            (r" in \d+\.\d+ s\b", " in [N] s"),
        ]
        .into_iter()
        .map(|(pattern, replacement)| (Regex::new(pattern).expect("mask regex"), replacement))
        .collect()
    });
    RULES
        .iter()
        .fold(text.to_owned(), |text, (pattern, replacement)| {
            pattern.replace_all(&text, *replacement).into_owned()
        })
}

/// Where two JSON values first differ, both sides shown.
fn first_difference(a: &Value, b: &Value) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, v) in x {
                match y.get(key) {
                    Some(w) if v == w => {}
                    Some(w) => return format!(".{key}{}", first_difference(v, w)),
                    None => return format!(".{key} only in the first"),
                }
            }
            format!(
                " keys {:?} / {:?}",
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>()
            )
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .position(|(v, w)| v != w)
            .map(|i| format!("[{i}]{}", first_difference(&x[i], &y[i])))
            .unwrap_or_default(),
        _ => format!(": {a} / {b}"),
    }
}

#[test]
fn a_large_streamed_run_reports_every_item_once_in_order() {
    let server = deployment();
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "probes.yaml", &probes(&server.url()));

    let (mut streamed, streamed_human) = run(dir.path(), true);
    let failing = ITEMS.div_ceil(FAILING_EVERY);
    let two_probes = ITEMS.div_ceil(TWO_PROBES_EVERY);
    let summary = &streamed["summary"];
    assert_eq!(summary["items"], ITEMS + 2, "{summary}");
    assert_eq!(summary["verified"], ITEMS - failing, "{summary}");
    assert_eq!(summary["failed"], failing, "{summary}");
    assert_eq!(summary["attested"], 1, "{summary}");
    assert_eq!(summary["manual"], 1, "{summary}");
    assert_eq!(summary["probes"]["total"], ITEMS + two_probes, "{summary}");
    assert_eq!(summary["probes"]["fail"], failing, "{summary}");
    assert_eq!(
        summary["gate"]["tripped"][0]["items"]
            .as_array()
            .map(Vec::len),
        Some(failing),
        "{summary}"
    );

    let items = streamed["items"].as_array().expect("items");
    let names: Vec<&str> = items.iter().filter_map(|i| i["item"].as_str()).collect();
    let mut expected: Vec<String> = (0..ITEMS).map(|i| format!("probe {i}")).collect();
    expected.extend(["Restore rehearsed".into(), "On-call rota published".into()]);
    assert!(
        names == expected,
        "the items are not those of the file, in order"
    );
    for (i, item) in items.iter().take(ITEMS).enumerate() {
        let probes = item["probes"].as_array().expect("probes");
        assert_eq!(
            probes.len(),
            1 + usize::from(i % TWO_PROBES_EVERY == 0),
            "{item}"
        );
        let verdict = if i % FAILING_EVERY == 0 {
            "failed"
        } else {
            "verified"
        };
        assert_eq!(item["verdict"], verdict, "{item}");
    }

    // The human report lists the items in the same order.
    let lines: Vec<&str> = streamed_human
        .lines()
        .filter(|l| l.contains(" probe ") && (l.starts_with('✔') || l.starts_with('✘')))
        .collect();
    assert_eq!(lines.len(), ITEMS, "{}", &streamed_human[..2000]);
    assert!(
        lines[0].contains("probe 0 ")
            && lines[ITEMS - 1].contains(&format!("probe {} ", ITEMS - 1))
    );

    // The same run with its outcomes in memory writes the same reports.
    let (mut kept, kept_human) = run(dir.path(), false);
    mask_json(&mut streamed);
    mask_json(&mut kept);
    assert!(
        streamed == kept,
        "the streamed JSON report differs from the one kept in memory: {}",
        first_difference(&streamed, &kept)
    );
    assert!(
        mask_text(&streamed_human) == mask_text(&kept_human),
        "the streamed human report differs from the one kept in memory"
    );
}
