//! The `file` kind against real trees: Dockerfiles of every shape, globs over
//! backups whose mtimes are set with `touch -d`, JSON/YAML/TOML documents,
//! binary files, modes, and escapes from the root through `..` and through
//! a symlink (refused). Last, the repo-hygiene pack against this repository.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `vouch run --format json` on a probe file; the exit code and report.
fn run(file: &Path, extra: &[&str]) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["run", "--format", "json"])
        .args(extra)
        .arg(file)
        .env("NO_COLOR", "1")
        .output()
        .expect("vouch runs");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

/// A probe file of one item with one `file` probe, in `dir`.
fn probe_file(dir: &Path, defaults: &str, probe: &str) -> std::path::PathBuf {
    let path = dir.join("probes.yaml");
    let indented: String = probe.lines().map(|l| format!("          {l}\n")).collect();
    std::fs::write(
        &path,
        format!(
            "version: 1\ndefaults:\n  timeout: 5s\n{defaults}items:\n  - item: it\n    probes:\n      - file:\n{indented}"
        ),
    )
    .expect("write probe file");
    path
}

fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, content).expect("write");
}

/// The single probe of a one-probe report.
fn probe(report: &Value) -> &Value {
    &report["items"][0]["probes"][0]
}

fn check<'a>(probe: &'a Value, name: &str) -> &'a Value {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {probe:#}"))
}

fn dockerfile_probe(dir: &Path, dockerfile: &str, expect: &str) -> Value {
    write(dir, "Dockerfile", dockerfile);
    let file = probe_file(
        dir,
        "",
        &format!("path: Dockerfile\nexpect:\n  dockerfile:\n{expect}"),
    );
    run(&file, &[]).1
}

#[test]
fn a_multi_stage_non_root_dockerfile_passes_and_is_summarized() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dockerfile_probe(
        dir.path(),
        "# syntax=docker/dockerfile:1\nARG BASE=gcr.io/distroless/static\nFROM golang:1.22 AS build\nRUN go build \\\n    -o /app \\\n    ./cmd/app\nFROM golang:1.22 AS test\nRUN go test ./...\nFROM ${BASE}\nCOPY --from=build /app /app\nUSER app\nHEALTHCHECK --interval=30s CMD [\"/app\", \"health\"]\nEXPOSE 8080\n",
        "    stages: { min: 2 }\n    user: { ne: root }\n    healthcheck: true\n    base: { matches: 'alpine|distroless|scratch|slim' }\n    expose: [8080]\n",
    );
    let p = probe(&report);
    assert_eq!(p["verdict"], "pass", "{p:#}");
    assert_eq!(
        p["summary"],
        "Dockerfile: 3 stages, USER app, HEALTHCHECK, FROM gcr.io/distroless/static"
    );
    let facts = &p["evidence"]["contents"][0]["dockerfile"];
    assert_eq!(facts["stages"][2]["written"], "${BASE}");
    assert_eq!(facts["expose"][0], "8080/tcp");
}

#[test]
fn root_users_fail_in_every_spelling() {
    for user in ["", "USER 0\n", "USER root:root\n", "USER root\n"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let report = dockerfile_probe(
            dir.path(),
            &format!("FROM alpine:3.20\nRUN adduser -D app\n{user}"),
            "    user: { ne: root }\n",
        );
        let p = probe(&report);
        assert_eq!(p["verdict"], "fail", "{user:?}: {p:#}");
        let actual = check(p, "user")["actual"].as_str().expect("actual");
        assert!(actual.contains("root"), "{user:?}: {actual}");
    }
}

#[test]
fn heredocs_and_healthcheck_none_are_parsed_not_grepped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dockerfile_probe(
        dir.path(),
        "FROM python:3.12-slim AS base\nHEALTHCHECK CMD curl -f http://localhost/\nFROM base\nRUN <<EOF\nset -e\nUSER nobody\nEOF\nHEALTHCHECK NONE\n",
        "    healthcheck: true\n    user: { ne: root }\n    base: { matches: slim }\n",
    );
    let p = probe(&report);
    assert_eq!(p["verdict"], "fail", "{p:#}");
    assert_eq!(check(p, "healthcheck")["actual"], "none");
    assert_eq!(check(p, "user")["actual"], "root (no USER)");
    assert!(check(p, "base")["passed"].as_bool().expect("bool"));
}

#[test]
fn backups_by_glob_count_and_age_of_the_newest() {
    let dir = tempfile::tempdir().expect("tempdir");
    for day in 1..=7 {
        let name = format!("backups/db-{day}.tar.gz");
        write(dir.path(), &name, "x");
        let status = Command::new("touch")
            .args(["-d", &format!("{} hours ago", day * 24 + 2)])
            .arg(dir.path().join(&name))
            .status()
            .expect("touch");
        assert!(status.success());
    }
    write(dir.path(), "backups/notes.txt", "not a backup");
    let file = probe_file(
        dir.path(),
        "",
        "path: backups/*.tar.gz\nexpect:\n  count: { min: 7 }\n  age: { max: 24h }\n",
    );
    let (code, report) = run(&file, &[]);
    let p = probe(&report);
    assert_eq!(code, 1, "{p:#}");
    assert_eq!(check(p, "count")["actual"], "7");
    assert!(check(p, "count")["passed"].as_bool().expect("bool"));
    let age = check(p, "age");
    assert_eq!(age["passed"], false, "the newest is 26h old: {age:#}");
    assert!(
        age["actual"]
            .as_str()
            .expect("text")
            .contains("backups/db-1.tar.gz"),
        "{age:#}"
    );
    // A fresh backup makes it hold.
    write(dir.path(), "backups/db-0.tar.gz", "x");
    let (code, report) = run(&file, &[]);
    assert_eq!(code, 0, "{:#}", probe(&report));
}

#[test]
fn json_yaml_and_toml_are_parsed_then_queried() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "package.json",
        r#"{"name": "svc", "scripts": {"test": "jest"}, "engines": {"node": ">=20"}}"#,
    );
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  api:\n    image: svc:1.2\n    restart: always\n",
    );
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = \"svc\"\nrequires-python = \">=3.11\"\n[tool.pytest.ini_options]\naddopts = \"--cov\"\n",
    );
    let cases = [
        (
            "path: package.json\nexpect:\n  json:\n    $.scripts.test: { exists: true }\n    $.engines.node: { contains: '20' }\n",
            true,
        ),
        (
            "path: compose.yaml\nexpect:\n  yaml:\n    $.services.api.restart: always\n",
            true,
        ),
        (
            "path: pyproject.toml\nexpect:\n  toml:\n    $.tool.pytest.ini_options.addopts: { contains: '--cov' }\n",
            true,
        ),
        (
            "path: package.json\nexpect:\n  json:\n    $.scripts.lint: { exists: true }\n",
            false,
        ),
        ("path: compose.yaml\nexpect:\n  toml:\n    $.x: 1\n", false),
    ];
    for (probe_text, passes) in cases {
        let file = probe_file(dir.path(), "", probe_text);
        let (_, report) = run(&file, &[]);
        let p = probe(&report);
        assert_eq!(p["verdict"] == "pass", passes, "{probe_text}: {p:#}");
        if passes {
            assert!(p["evidence"]["values"][0]["value"].is_string(), "{p:#}");
        }
    }
}

#[test]
fn text_mode_size_and_binary_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "app.conf", "listen 8080\nuser app\n# end\n");
    let mut binary = b"\x7fELF\x02\x01".to_vec();
    binary.extend_from_slice(b"\x00\x00VERSION=1.2.3\x00\xff");
    std::fs::write(dir.path().join("app.bin"), &binary).expect("write");
    Command::new("chmod")
        .args(["0666", "app.conf"])
        .current_dir(dir.path())
        .status()
        .expect("chmod");
    let file = probe_file(
        dir.path(),
        "",
        "path: app.conf\nexpect:\n  contains: [listen, 'user app']\n  matches: '^user\\s+\\w+$'\n  lines: 3\n  size: { max: 1KiB }\n  mode: { max: \"0644\" }\n",
    );
    let (_, report) = run(&file, &[]);
    let p = probe(&report);
    assert_eq!(p["verdict"], "fail", "{p:#}");
    assert_eq!(check(p, "mode")["actual"], "0666");
    assert_eq!(check(p, "matches")["actual"], "line 2: user app");
    assert!(check(p, "lines")["passed"].as_bool().expect("bool"));
    assert!(
        check(p, "contains \"listen\"")["passed"]
            .as_bool()
            .expect("bool")
    );

    let file = probe_file(
        dir.path(),
        "",
        "path: app.bin\nexpect:\n  matches: 'VERSION=\\d+\\.\\d+'\n  contains: ELF\n",
    );
    let (code, report) = run(&file, &[]);
    let p = probe(&report);
    assert_eq!(code, 0, "{p:#}");
    let contents = &p["evidence"]["contents"][0];
    assert_eq!(contents["binary"], true);
    assert!(
        contents["excerpt"]
            .as_str()
            .expect("excerpt")
            .starts_with("\\x7fELF\\x02\\x01\\x00\\x00VERSION"),
        "{contents:#}"
    );
}

#[test]
fn reads_stop_at_the_body_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "big.log", &"line\n".repeat(10_000));
    write(
        dir.path(),
        "tail.log",
        &format!("{}NEEDLE\n", "x".repeat(5000)),
    );
    let file = probe_file(
        dir.path(),
        "",
        "path: tail.log\nbody_limit: 1KiB\nexpect:\n  contains: NEEDLE\n",
    );
    let (_, report) = run(&file, &[]);
    let p = probe(&report);
    assert_eq!(p["verdict"], "fail", "{p:#}");
    assert_eq!(
        check(p, "contains \"NEEDLE\"")["actual"],
        "not found in the first 1.0 KiB"
    );
    assert_eq!(p["evidence"]["contents"][0]["bytes_read"], 1024);
}

#[test]
fn missing_files_and_exists_false() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), ".env.example", "DATABASE_URL=\n");
    let file = probe_file(dir.path(), "", "path: .env\nexpect:\n  exists: false\n");
    assert_eq!(run(&file, &[]).0, 0);
    let file = probe_file(
        dir.path(),
        "",
        "path: .env.example\nexpect:\n  exists: false\n",
    );
    assert_eq!(run(&file, &[]).0, 1);
    let file = probe_file(dir.path(), "", "path: docs/runbook.md\n");
    let (code, report) = run(&file, &[]);
    assert_eq!(code, 1);
    let actual = check(probe(&report), "exists")["actual"]
        .as_str()
        .expect("actual")
        .to_owned();
    assert!(
        actual.starts_with("missing (searched ") && actual.ends_with("docs)"),
        "{actual}"
    );
}

#[test]
fn escapes_through_dotdot_and_symlinks_are_refused() {
    let outside = tempfile::tempdir().expect("tempdir");
    write(outside.path(), "secret.txt", "top secret");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("link.txt"))
        .expect("symlink");
    let escape = format!(
        "../../{}/secret.txt",
        outside.path().file_name().expect("name").to_string_lossy()
    );
    // The probe file lives in the repository; its root is its directory.
    for (path, says) in [
        (escape.as_str(), "leaves the root"),
        ("link.txt", "outside the root"),
        ("*.txt", "outside the root"),
    ] {
        let file = probe_file(
            &root,
            "",
            &format!("path: '{path}'\nexpect:\n  contains: secret\n"),
        );
        let (code, report) = run(&file, &[]);
        let p = probe(&report);
        assert_eq!(code, 1, "{path}: {p:#}");
        assert_eq!(p["verdict"], "error", "{path}: {p:#}");
        let summary = p["summary"].as_str().expect("summary");
        assert!(summary.contains(says), "{path}: {summary}");
        assert!(summary.contains("allow_outside_root"), "{summary}");
        assert!(!report.to_string().contains("top secret"));
    }
    // Allowed explicitly, the same link is read.
    let file = probe_file(
        &root,
        "",
        "path: link.txt\nallow_outside_root: true\nexpect:\n  kind: symlink\n  contains: secret\n",
    );
    assert_eq!(run(&file, &[]).0, 0);
    // `root:` in defaults moves the base and the boundary.
    write(&root, "sub/README.md", "# sub\n");
    let file = probe_file(&root, "  root: sub\n", "path: README.md\n");
    assert_eq!(run(&file, &[]).0, 0);
    let file = probe_file(&root, "  root: sub\n", "path: ../link.txt\n");
    assert_eq!(probe(&run(&file, &[]).1)["verdict"], "error");
}

#[test]
fn bad_settings_are_load_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (probe_text, says) in [
        (
            "path: x\nexpect:\n  exists: false\n  contains: y\n",
            "exists: false",
        ),
        (
            "path: x\nexpect:\n  json: {$.a: 1}\n  yaml: {$.a: 1}\n",
            "one of `json`",
        ),
        ("path: x\nexpect:\n  mode: \"0999\"\n", "invalid mode"),
        ("path: x\nexpect:\n  kind: socket\n", "unknown variant"),
    ] {
        let file = probe_file(dir.path(), "", probe_text);
        let output = Command::new(env!("CARGO_BIN_EXE_vouch"))
            .arg("check")
            .arg(&file)
            .output()
            .expect("vouch runs");
        assert_eq!(output.status.code(), Some(2), "{probe_text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{probe_text}: {stderr}");
    }
}

#[test]
fn the_repo_hygiene_pack_passes_on_this_repository() {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/repo-hygiene.yaml");
    let (code, report) = run(&pack, &[]);
    assert_eq!(code, 0, "{report:#}");
    for item in report["items"].as_array().expect("items") {
        for p in item["probes"].as_array().expect("probes") {
            let expected = if p["kind"] == "exec" { "skip" } else { "pass" };
            assert_eq!(p["verdict"], expected, "{p:#}");
        }
    }
    // The test command is listed for review, not run.
    let output = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .arg("check")
        .arg(&pack)
        .output()
        .expect("vouch runs");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cargo test --locked"));
}

#[test]
fn a_dockerfile_built_from_a_named_base_stage_inherits_its_user() {
    // The shape of vouch's own image: ARG-substituted builder, a `scratch`
    // base stage with the user, and final stages built `FROM base`.
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dockerfile_probe(
        dir.path(),
        "ARG RUST_VERSION=1.89\n\nFROM docker.io/library/rust:${RUST_VERSION}-bookworm AS builder\nWORKDIR /src\nENV RUSTFLAGS=\"-C target-feature=+crt-static\"\nRUN cargo build --release --locked \\\n    && install -D -m 0755 target/release/vouch /out/vouch\n\nFROM scratch AS base\nARG VERSION=0.1.0\nLABEL org.opencontainers.image.version=\"${VERSION}\" \\\n      org.opencontainers.image.licenses=\"MIT OR Apache-2.0\"\nUSER 65532:65532\nENTRYPOINT [\"/vouch\"]\n\nFROM base AS prebuilt\nCOPY target/image/vouch /vouch\n\nFROM base AS runtime\nCOPY --from=builder /out/vouch /vouch\n",
        "    stages: 4\n    user: { ne: root }\n    base: scratch\n    healthcheck: false\n",
    );
    let p = probe(&report);
    assert_eq!(p["verdict"], "pass", "{p:#}");
    assert_eq!(
        p["summary"],
        "Dockerfile: 4 stages, USER 65532:65532, no HEALTHCHECK, FROM scratch"
    );
    assert_eq!(
        p["evidence"]["contents"][0]["dockerfile"]["stages"][0]["base"],
        "docker.io/library/rust:1.89-bookworm"
    );
}

#[test]
fn a_fifo_is_not_read_and_does_not_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new("mkfifo")
        .arg(dir.path().join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let file = probe_file(dir.path(), "", "path: pipe\nexpect:\n  contains: x\n");
    let started = std::time::Instant::now();
    let (code, report) = run(&file, &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(code, 1);
    let p = probe(&report);
    assert_eq!(
        check(p, "contains \"x\"")["actual"],
        "not a regular file: not read",
        "{p:#}"
    );
}
