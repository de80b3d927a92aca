//! The committed JSON Schemas are what `vouch schema` generates, and every
//! shipped probe file validates against the probe-file schema.

use std::path::Path;
use std::process::Command;

fn vouch_schema(args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .arg("schema")
        .args(args)
        .output()
        .expect("vouch runs");
    assert!(output.status.success(), "vouch schema failed");
    serde_json::from_slice(&output.stdout).expect("vouch schema prints JSON")
}

fn committed(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("committed schema exists");
    serde_json::from_str(&text).expect("committed schema is JSON")
}

#[test]
fn committed_probe_file_schema_is_current() {
    assert_eq!(
        committed("vouch.probes.v1.json"),
        vouch_schema(&[]),
        "run `cargo run -- schema > schemas/vouch.probes.v1.json`"
    );
}

#[test]
fn committed_report_schema_is_current() {
    assert_eq!(
        committed("vouch.report.v1.json"),
        vouch_schema(&["--report"]),
        "run `cargo run -- schema --report > schemas/vouch.report.v1.json`"
    );
}

#[test]
fn shipped_probe_files_validate_against_the_schema() {
    let schema = committed("vouch.probes.v1.json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for dir in ["examples", "probes"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("dir exists") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let node = vouch::spec::node::parse(&text).expect("valid YAML");
            let errors: Vec<String> = validator
                .iter_errors(&node.to_json())
                .map(|e| format!("{}: {e}", e.instance_path))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} probe files found");
}

#[test]
fn schema_rejects_an_unknown_probe_kind() {
    let schema = committed("vouch.probes.v1.json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let bad = serde_json::json!({"version": 1, "items": [{"item": "x", "probes": [{"htp": {"get": "/"}}]}]});
    assert!(!validator.is_valid(&bad));
}

#[test]
fn the_gate_and_severity_are_in_the_report_schema() {
    let schema = committed("vouch.report.v1.json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/report.json"),
        )
        .expect("golden report"),
    )
    .expect("JSON");
    assert!(golden["summary"]["gate"]["tripped"].is_array());
    assert_eq!(golden["items"][0]["severity"], "major");
    let errors: Vec<String> = validator
        .iter_errors(&golden)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // A severity the schema does not know is rejected.
    let mut bad = golden.clone();
    bad["items"][0]["severity"] = serde_json::Value::from("urgent");
    assert!(!validator.is_valid(&bad));
    let mut bad = golden;
    bad["summary"]["gate"]["tripped"][0]["why"] = serde_json::Value::from("unknown field");
    assert!(
        !validator.is_valid(&bad),
        "gate entries deny unknown fields"
    );
}

#[test]
fn probe_file_schema_knows_severity() {
    let schema = committed("vouch.probes.v1.json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let file = |severity: &str| serde_json::json!({"version": 1, "items": [{"item": "A", "severity": severity, "probes": [{"http": {"get": "/"}}]}]});
    assert!(validator.is_valid(&file("critical")));
    assert!(!validator.is_valid(&file("urgent")));
}
