//! The probe packs for the four published checklists (`probes/packs/`):
//! each loads clean against its checklist in `../shared/checklists` (the
//! coverage it reaches is printed), and each runs against a stand-in stack —
//! what that project's deployment looks like as far as it can be assembled
//! here, from real servers on loopback — with some items broken on purpose,
//! and every item's verdict is asserted.
//!
//! A stand-in stack is a real nginx in front of an in-process service that
//! plays the project's own API (its health endpoints, MCP/JSON-RPC, metrics,
//! its slow or missing parts), a real Prometheus scraping it with the
//! project's alert rules and a real Redis configured as the project's (all
//! started here, `tests/support/stack.rs`), the peers `scripts/test.sh`
//! starts (PostgreSQL, the OCI registry, etcd, the TLS nginx), and a
//! repository and host files written to a temporary directory.
//! What cannot be assembled here (Grafana, Jaeger, MongoDB, Qdrant: no
//! package on this machine's registries) is pointed at a closed port, and
//! its items are expected to fail; each is named in its pack's table
//! (`tests/packs/NAME.rs`: the stack, and the verdict expected of each item).
//!
//! Without `../shared/checklists` every test says *skipped*; without a peer
//! or program, a note — or a failure under `VOUCH_REQUIRE_PEERS`.

#[path = "packs/acai.rs"]
mod acai;
#[path = "packs/axon.rs"]
mod axon;
#[path = "packs/conexus.rs"]
mod conexus;
#[path = "packs/parallax.rs"]
mod parallax;
#[path = "support/server.rs"]
mod server;
#[path = "support/stack.rs"]
mod stack;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::{Request, Response, Server, Vouch, closed_port_url, respond, text, wait_output};
use stack::{Nginx, Prometheus};

/// One stand-in stack at a time: their load and latency probes measure
/// this machine, and four stacks at once would measure each other.
static STACK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the stack lock (a test that panicked while holding it leaves it
/// usable).
fn one_stack_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    STACK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The packs, by checklist name.
const PACKS: &[&str] = &["conexus", "axon", "parallax", "acai"];

/// `../shared/checklists` beside the package (or two levels up);
/// `VOUCH_SHARED_CHECKLISTS` overrides.
fn shared_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VOUCH_SHARED_CHECKLISTS") {
        return Some(PathBuf::from(dir));
    }
    [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/checklists"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/checklists"),
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|dir| dir.is_dir())
}

/// Writes straight to the terminal: the harness hides `eprintln!` of a
/// passing test.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn skipped(test: &str) {
    say(&format!(
        "\ntest {test} ... skipped: no ../shared/checklists beside the package (set VOUCH_SHARED_CHECKLISTS=DIR to run it)"
    ));
}

fn pack_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("probes/packs/{name}.yaml"))
}

/// Every pack passes `vouch check` against its checklist; the coverage it
/// reaches is printed: items bound to probes, items left as attestation
/// templates, and items waiting for a kind this build lacks (`# TODO(kind …)`).
#[test]
fn packs_check_clean_against_their_checklists() {
    let Some(dir) = shared_dir() else {
        skipped("packs_check_clean_against_their_checklists");
        return;
    };
    for name in PACKS {
        let pack = pack_path(name);
        let checklist = dir.join(format!("{name}.md"));
        // `NAME_TLS_CA` unset: the packs' `ca: ${env:NAME_TLS_CA:-}` is
        // then unset too (the system roots), not the pack's directory.
        let out = Vouch::new([
            "check".as_ref(),
            "--checklist".as_ref(),
            checklist.as_os_str(),
            pack.as_os_str(),
        ])
        .run();
        assert_eq!(out.code, Some(0), "{name}: vouch check\n{}", out.dump());
        let line = out
            .stdout
            .lines()
            .chain(out.stderr.lines())
            .find(|line| line.starts_with("ok: checklist"))
            .unwrap_or_else(|| panic!("{name}: no coverage line\n{}", out.dump()));
        let (total, bound, manual) = coverage(line);
        assert_eq!(total, bound + manual, "{name}: {line}");
        let source = std::fs::read_to_string(&pack).expect("read pack");
        let blocks = item_blocks(&source);
        let templates = blocks.iter().filter(|b| b.contains("# attested:")).count();
        let waiting = blocks
            .iter()
            .filter(|b| !b.contains("probes:") && b.contains("# TODO(kind"))
            .count();
        assert_eq!(
            templates, manual,
            "{name}: every item without probes carries an attestation template"
        );
        let probeable = bound + waiting;
        say(&format!(
            "pack {name}: {bound}/{probeable}/{total} items bound/probeable/total ({}% bound); \
             {manual} attestation templates, {waiting} of them waiting for a kind in progress (`# TODO(kind …)`)",
            bound * 100 / total
        ));
    }
}

/// The `- item:` entries of a pack, each with the comment lines above it
/// (a `# TODO(kind …)` may stand there) and its body.
fn item_blocks(source: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in source.lines() {
        let trimmed = line.trim_start();
        if line.starts_with("  - item:") {
            blocks.push(std::mem::take(&mut pending) + line + "\n");
        } else if line.starts_with("  #") && !trimmed.starts_with("# attested:") {
            pending.push_str(line);
            pending.push('\n');
        } else if let Some(last) = blocks.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    blocks
}

/// `91 items, 63 bound to probe-file items, 28 manual` → (91, 63, 28).
fn coverage(line: &str) -> (usize, usize, usize) {
    let numbers: Vec<usize> = line
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [total, bound, manual] => (total, bound, manual),
        _ => panic!("unexpected coverage line `{line}`"),
    }
}

/// Runs `name`'s pack with `env` against its checklist and returns the
/// checklist items' verdicts by id (`refuted` for a claimed item that failed)
/// and their reasons.
fn run_pack(name: &str, env: &[(&str, String)]) -> BTreeMap<String, (String, String)> {
    let dir = shared_dir().expect("shared checklists");
    let checklist = dir.join(format!("{name}.md"));
    let pack = pack_path(name);
    let mut vouch = Vouch::new([
        "run".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "--cool-down".as_ref(),
        "100ms".as_ref(),
        "--checklist".as_ref(),
        checklist.as_os_str(),
        pack.as_os_str(),
    ]);
    for (key, value) in env {
        vouch = vouch.env(key, value);
    }
    let started = Instant::now();
    let out = wait_output(vouch.spawn(), started, Duration::from_secs(240));
    assert!(
        matches!(out.code, Some(0 | 1)),
        "{name}: vouch run\n{}",
        out.dump()
    );
    let report = out.json();
    // VOUCH_TEST_PACKS_REPORTS=DIR keeps each run's report, to read the
    // evidence behind the verdicts.
    if let Some(dir) = std::env::var_os("VOUCH_TEST_PACKS_REPORTS") {
        let path = Path::new(&dir).join(format!("{name}.json"));
        std::fs::write(&path, &out.stdout).expect("write the report");
    }
    let items = report["checklist"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no checklist items in the report"));
    items
        .iter()
        .map(|item| {
            let verdict = if item["refuted"] == true {
                "refuted".to_owned()
            } else {
                item["verdict"].as_str().unwrap_or("?").to_owned()
            };
            let reason = item["reason"].as_str().unwrap_or_default().to_owned();
            (
                item["id"].as_str().unwrap_or("?").to_owned(),
                (verdict, reason),
            )
        })
        .collect()
}

/// Compares every item's verdict with `expected` (items not listed must be
/// `manual`), prints the tally and why each item failed, and fails with every
/// difference at once. An expected verdict may name what its reason must
/// contain after a `|` (`failed|HEALTHCHECK`): an item broken on purpose
/// must fail for that reason, not another.
fn assert_verdicts(
    name: &str,
    seen: &BTreeMap<String, (String, String)>,
    expected: &[(&str, &str)],
) {
    let mut problems = Vec::new();
    for (id, _) in expected {
        if !seen.contains_key(*id) {
            problems.push(format!("{id}: not in the checklist"));
        }
    }
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, (verdict, reason)) in seen {
        let want = expected
            .iter()
            .find(|(e, _)| e == id)
            .map_or("manual", |(_, v)| *v);
        let (want, because) = want.split_once('|').unwrap_or((want, ""));
        *tally.entry(verdict.as_str()).or_default() += 1;
        if verdict != want || !reason.contains(because) {
            let because = if because.is_empty() {
                String::new()
            } else {
                format!(" for `{because}`")
            };
            problems.push(format!(
                "{id}: expected {want}{because}, got {verdict} ({reason})"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{name}: {} item(s) off:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
    say(&format!(
        "pack {name} against its stand-in stack: {tally:?}"
    ));
    for (id, (verdict, reason)) in seen {
        if matches!(verdict.as_str(), "failed" | "refuted" | "error") {
            let reason: String = reason.chars().take(160).collect();
            say(&format!("  {verdict}: {id}: {reason}"));
        }
    }
}
