//! The metric families of a real run against a partly broken in-process
//! target: the right series and values, a strict OpenMetrics exposition, and
//! one `promtool check metrics` accepts (promtool comes with Debian's
//! `prometheus`; the test is skipped without it unless `VOUCH_REQUIRE_PEERS`
//! is set).

#[path = "support/server.rs"]
mod server;

use std::io::Write;
use std::process::{Command, Stdio};

use server::{Server, Vouch, text, write_file};
use vouch::export::{self, DaemonStats, Metrics, Since, TextFormat};
use vouch::exposition::{self, Mode};
use vouch::report::Report;

const CHECKLIST: &str = "# Shop\n\n## Operations\n\n- [x] Health endpoint answers\n- [x] Orders endpoint answers\n- [ ] Backups restored monthly\n";

/// A report of a real run: `/health` answers 200, `/orders` 503, and the
/// checklist claims both done.
fn partly_broken_report() -> Report {
    let target = Server::http(|request| match request.path() {
        "/health" => text(200, "ok"),
        _ => text(503, "down"),
    });
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "checklist.md", CHECKLIST);
    let probes = format!(
        "version: 1\ntarget: {}\nchecklist: checklist.md\nitems:\n  - item: Health endpoint answers\n    probes:\n      - http: {{ get: /health, expect: {{ status: 200 }} }}\n  - item: Orders endpoint answers\n    probes:\n      - http: {{ get: /orders, expect: {{ status: 200 }} }}\n",
        target.url()
    );
    write_file(dir.path(), "probes.yaml", &probes);
    let out = Vouch::new(["run", "--format", "json", "probes.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(1);
    serde_json::from_value(out.json()).expect("a vouch report")
}

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let parsed = exposition::parse(text, Mode::Lenient).expect("parses");
    parsed
        .families
        .iter()
        .flat_map(|f| &f.samples)
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

#[test]
fn a_partly_broken_target_exports_refuted_and_status() {
    let report = partly_broken_report();
    let mut since = Since::default();
    let states = export::item_states(&report);
    since.observe(&states, 1_000.0);
    let text = Metrics::of(Some(&report), &since, None).encode(TextFormat::OpenMetrics);
    exposition::parse(&text, Mode::Strict).unwrap_or_else(|e| panic!("{e}\n{text}"));

    let orders = "operations/orders-endpoint-answers";
    let health = "operations/health-endpoint-answers";
    assert_eq!(
        value(
            &text,
            "vouch_item_state",
            &[("item", orders), ("state", "refuted")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "vouch_item_state",
            &[("item", health), ("state", "verified")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "vouch_item_state",
            &[
                ("item", "operations/backups-restored-monthly"),
                ("state", "manual")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "vouch_probe_failure_info",
            &[("item", orders), ("reason", "status")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "vouch_probe_success", &[("item", orders)]),
        Some(0.0)
    );
    assert_eq!(
        value(&text, "vouch_probe_success", &[("item", health)]),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "vouch_items", &[("state", "refuted")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "vouch_item_state_since_timestamp_seconds",
            &[("item", orders)]
        ),
        Some(1_000.0)
    );
    // No failure series for the probe that passed.
    assert_eq!(
        value(&text, "vouch_probe_failure_info", &[("item", health)]),
        None
    );
}

#[test]
fn promtool_accepts_the_exposition() {
    let Some(promtool) = promtool() else { return };
    let report = partly_broken_report();
    let daemon = DaemonStats {
        reload_ok: true,
        ..DaemonStats::default()
    };
    let metrics = Metrics::of(Some(&report), &Since::default(), Some(&daemon));
    let text = metrics.encode(TextFormat::Prometheus);
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match found {
        true => Some("promtool"),
        false if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!(
                "promtool is missing and VOUCH_REQUIRE_PEERS is set: install Debian's prometheus"
            )
        }
        false => {
            eprintln!("note: promtool not found; skipping (Debian's prometheus has it)");
            None
        }
    }
}

/// The shipped alert rules pass their own `promtool test rules` unit tests,
/// and the metric names they use are the ones vouch exports.
#[test]
fn alert_rules_pass_promtool_test_rules() {
    let Some(promtool) = promtool() else { return };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/prometheus");
    let out = Command::new(promtool)
        .args(["test", "rules", "vouch-alerts.test.yml"])
        .current_dir(&dir)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool test rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = std::fs::read_to_string(dir.join("vouch-alerts.yml")).expect("rules");
    let exported = Metrics::of(
        Some(&partly_broken_report()),
        &Since::default(),
        Some(&DaemonStats::default()),
    )
    .encode(TextFormat::Prometheus);
    for name in [
        "vouch_item_state",
        "vouch_probe_success",
        "vouch_probe_failure_info",
        "vouch_readiness_score",
    ] {
        assert!(rules.contains(name), "the rules use {name}");
        assert!(
            exported.contains(&format!("\n{name}{{")),
            "vouch exports {name}"
        );
    }
    assert!(rules.contains("vouch_tls_chain_earliest_not_after_timestamp_seconds"));
}
