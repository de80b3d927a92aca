//! The CI examples in `examples/ci/` (issue 17): each validates against its
//! CI system's published schema with PyPI `check-jsonschema`
//! (`vendor.github-workflows`, `vendor.gitlab-ci`), a broken copy does not,
//! and every vouch flag they use exists.
//!
//! Without `check-jsonschema` on PATH the schema tests say "skipped" — and
//! fail when `VOUCH_REQUIRE_PEERS` is set (scripts/test.sh installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

const EXAMPLES: &[(&str, &str)] = &[
    ("github-actions.yml", "vendor.github-workflows"),
    ("gitlab-ci.yml", "vendor.gitlab-ci"),
];

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/ci")
        .join(name)
}

/// Whether `check-jsonschema` runs; says "skipped" when it does not.
fn have_validator() -> bool {
    let found = Command::new("check-jsonschema")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("VOUCH_REQUIRE_PEERS").is_none(),
            "VOUCH_REQUIRE_PEERS is set but check-jsonschema is missing: pip install check-jsonschema (scripts/test.sh does)"
        );
        eprintln!(
            "skipped: check-jsonschema is not installed (pip install check-jsonschema; scripts/test.sh does)"
        );
    }
    found
}

/// Runs `check-jsonschema --builtin-schema SCHEMA FILE`: success and output.
fn validate(schema: &str, file: &Path) -> (bool, String) {
    let out = Command::new("check-jsonschema")
        .args(["--builtin-schema", schema])
        .arg(file)
        .output()
        .expect("run check-jsonschema");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn examples_validate_against_their_ci_schemas() {
    if !have_validator() {
        return;
    }
    for (name, schema) in EXAMPLES {
        let (ok, output) = validate(schema, &example(name));
        assert!(ok, "{name} does not validate as {schema}:\n{output}");
    }
}

#[test]
fn the_validator_rejects_a_broken_copy() {
    if !have_validator() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    // A job without `runs-on`, and a GitLab job whose `script` is a number.
    let broken = [
        (
            "github-actions.yml",
            "    runs-on: ubuntu-latest\n",
            "    runs_on: ubuntu-latest\n",
        ),
        ("gitlab-ci.yml", "  script:\n", "  script: 42\n  scripts:\n"),
    ];
    for ((name, schema), (_, from, to)) in EXAMPLES.iter().zip(broken) {
        let text = std::fs::read_to_string(example(name)).expect("example");
        assert!(text.contains(from), "{name} no longer has {from:?}");
        let path = dir.path().join(name);
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write copy");
        let (ok, output) = validate(schema, &path);
        assert!(!ok, "a broken {name} validated as {schema}:\n{output}");
    }
}

/// Every `--flag` on a line that is not a comment, in both examples.
fn flags_used() -> Vec<(String, String)> {
    let mut flags = Vec::new();
    for (name, _) in EXAMPLES {
        let text = std::fs::read_to_string(example(name)).expect("example");
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            for word in line.split_whitespace() {
                if let Some(flag) = word.strip_prefix("--")
                    && flag.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                {
                    let flag: String = flag
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                        .collect();
                    flags.push(((*name).to_owned(), format!("--{flag}")));
                }
            }
        }
    }
    flags
}

/// Whether `help` lists `flag` as a whole word (`--only`, not `--only-x`).
fn has_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        !help[at + flag.len()..].starts_with(|c: char| c.is_ascii_lowercase() || c == '-')
    })
}

#[test]
fn every_vouch_flag_in_the_examples_exists() {
    let help = |command: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args([command, "--help"])
            .output()
            .expect("vouch --help");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let known = format!("{}{}", help("run"), help("check"));
    // `cargo install`'s, in the install steps.
    let cargo = ["--locked", "--git", "--tag"];
    let used = flags_used();
    assert!(
        used.iter().any(|(_, f)| f == "--format") && used.iter().any(|(_, f)| f == "--fail-on"),
        "{used:?}"
    );
    for (file, flag) in &used {
        assert!(
            cargo.contains(&flag.as_str()) || has_flag(&known, flag),
            "{file} uses `{flag}`, which neither `vouch run` nor `vouch check` has"
        );
    }
    for (name, _) in EXAMPLES {
        let text = std::fs::read_to_string(example(name)).expect("example");
        assert!(text.contains(" -o reports/junit.xml"), "{name}");
        assert!(text.contains(" -o reports/vouch-report.json"), "{name}");
    }
}
