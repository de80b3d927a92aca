//! `vouch run --evidence` and `vouch verify-bundle` end to end: the real
//! binary against an in-process server that echoes the credentials it gets.
//! Bundles are checked by vouch and by the real `sha256sum -c`, `tar` and
//! `openssl` (keys), edited after the run, signed with another key, and
//! searched for the run's secrets.

#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;

use server::{Output, Server, Vouch, json, text};

/// Passed with `--set token=…`: a bearer token on the command line.
const CLI_SECRET: &str = "cli-s3cret-token-4711";
/// Read with `${secret:BUNDLE_API_KEY}`.
const ENV_SECRET: &str = "env-s3cret-key-0815";

const CHECKLIST: &str = "# Shop readiness\n\n## Core\n\n- [x] Health works\n- [x] Admin is closed\n- [ ] Backups tested\n";

fn server() -> Server {
    Server::http(|request| {
        // Echo every header, credentials included: the bundle must not keep them.
        let echoed = request.dump();
        match request.path() {
            "/health" => json(&format!(
                "{{\"status\":\"ok\",\"echo\":{}}}",
                serde_json::Value::from(echoed)
            )),
            _ => text(200, &echoed),
        }
    })
}

fn setup(server: &Server) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let probes = format!(
        "version: 1\nname: Shop\ntarget: {}\nchecklist: checklist.md\nvars:\n  token: placeholder\nitems:\n\
         \x20 - item: Health works\n    probes:\n      - http:\n          get: /health\n          headers:\n            authorization: Bearer ${{var:token}}\n          expect: {{json: {{$.status: ok}}}}\n\
         \x20 - item: Admin is closed\n    probes:\n      - http:\n          get: /admin\n          headers:\n            x-api-key: ${{secret:BUNDLE_API_KEY}}\n          expect: {{status: 401}}\n",
        server.url()
    );
    std::fs::write(dir.path().join("probes.yaml"), probes).expect("write");
    std::fs::write(dir.path().join("checklist.md"), CHECKLIST).expect("write");
    dir
}

fn vouch(dir: &Path, args: &[&str]) -> Output {
    Vouch::new(args)
        .env("BUNDLE_API_KEY", ENV_SECRET)
        .current_dir(dir)
        .run()
}

fn run_with_evidence(dir: &Path, evidence: &str, extra: &[&str]) -> Output {
    let set = format!("token={CLI_SECRET}");
    let mut args = vec![
        "run",
        "probes.yaml",
        "--no-progress",
        "--set",
        &set,
        "--evidence",
        evidence,
    ];
    args.extend_from_slice(extra);
    // "Admin is closed" is refuted (the server answers 200): exit 1.
    let out = vouch(dir, &args);
    out.assert_code(1);
    out
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn sha256sum_check(dir: &Path) -> std::process::Output {
    Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("run sha256sum")
}

/// SHA-256 in hex, with the real `sha256sum`.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let out = child.wait_with_output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_owned()
}

fn openssl_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let status = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&private)
        .status()
        .expect("run openssl genpkey");
    assert!(status.success());
    let status = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("run openssl pkey");
    assert!(status.success());
    (private, public)
}

#[test]
fn a_bundle_holds_the_run_verifies_and_keeps_no_secret() {
    let server = server();
    let dir = setup(&server);
    let out = run_with_evidence(dir.path(), "evidence", &[]);
    assert!(out.stdout.contains("Admin is closed"), "{}", out.dump());
    let bundle = dir.path().join("evidence");
    for name in [
        "report.json",
        "report.html",
        "checklist.verified.md",
        "manifest.json",
        "SHA256SUMS",
    ] {
        assert!(bundle.join(name).is_file(), "{name} missing");
    }
    // The inputs, byte for byte.
    assert_eq!(
        std::fs::read(bundle.join("inputs/probe-files/01-probes.yaml")).expect("probe copy"),
        std::fs::read(dir.path().join("probes.yaml")).expect("probes")
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("inputs/checklist/checklist.md")).expect("copy"),
        CHECKLIST
    );
    // Each probe's evidence as its own file.
    let probes: Vec<String> = std::fs::read_dir(bundle.join("probes"))
        .expect("probes dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(probes.len(), 2, "{probes:?}");
    let health = std::fs::read_to_string(bundle.join("probes/001-health-works-get-health.json"))
        .expect("health evidence");
    let health: serde_json::Value = serde_json::from_str(&health).expect("json");
    assert_eq!(health["item"], "Health works");
    assert_eq!(health["probe"]["verdict"], "pass");
    // The manifest: version, times, target, inputs, the redacted command line.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    assert_eq!(manifest["schema"], "vouch.bundle/v1");
    assert_eq!(manifest["target"], server.url().trim_end_matches('/'));
    assert!(
        manifest["started_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(manifest["inputs"][0]["role"], "probe_file");
    assert_eq!(manifest["inputs"][1]["role"], "checklist");
    let command_line: Vec<&str> = manifest["command_line"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(command_line.contains(&"--evidence"), "{command_line:?}");
    assert!(
        command_line.contains(&"token=«redacted»"),
        "{command_line:?}"
    );
    // No secret anywhere, in any file.
    let mut searched = 0;
    for file in files_under(&bundle) {
        let bytes = std::fs::read(&file).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for secret in [CLI_SECRET, ENV_SECRET] {
            assert!(!text.contains(secret), "{secret} in {}", file.display());
        }
        searched += 1;
    }
    assert!(searched >= 9, "{searched} files");
    // The server did get the secrets (else the search proves nothing).
    assert!(
        server
            .log()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {CLI_SECRET}")))
    );
    assert!(
        server
            .log()
            .iter()
            .any(|r| r.header("x-api-key") == Some(ENV_SECRET))
    );

    // vouch and the real sha256sum both agree it is intact.
    let verified = vouch(dir.path(), &["verify-bundle", "evidence"]);
    verified.assert_code(0);
    assert!(verified.stdout.contains("ok:"), "{}", verified.dump());
    let sums = sha256sum_check(&bundle);
    assert!(
        sums.status.success(),
        "{}",
        String::from_utf8_lossy(&sums.stdout)
    );
}

#[test]
fn a_bundle_edited_after_the_run_fails_naming_the_file() {
    let server = server();
    let dir = setup(&server);
    run_with_evidence(dir.path(), "evidence", &[]);
    let bundle = dir.path().join("evidence");
    let report = bundle.join("report.json");
    let edited = std::fs::read_to_string(&report).expect("report").replacen(
        "\"passed\": false",
        "\"passed\": true",
        1,
    );
    std::fs::write(&report, edited).expect("edit");
    std::fs::write(bundle.join("extra.txt"), "slipped in").expect("add");
    std::fs::remove_file(bundle.join("report.html")).expect("remove");

    let out = vouch(dir.path(), &["verify-bundle", "evidence"]);
    out.assert_code(1);
    assert!(
        out.stdout.contains("changed: report.json"),
        "{}",
        out.dump()
    );
    assert!(out.stdout.contains("added: extra.txt"), "{}", out.dump());
    assert!(
        out.stdout.contains("missing: report.html"),
        "{}",
        out.dump()
    );
    assert!(!sha256sum_check(&bundle).status.success());

    // A bundle that is not there is unreadable input: exit 2.
    vouch(dir.path(), &["verify-bundle", "no-such-bundle"]).assert_code(2);
}

#[test]
fn a_signature_verifies_with_its_key_and_fails_with_another() {
    let server = server();
    let dir = setup(&server);
    let (private, public) = openssl_key(dir.path(), "release");
    let (_, other) = openssl_key(dir.path(), "other");
    let key = private.display().to_string();
    run_with_evidence(dir.path(), "signed", &["--sign-key", &key]);
    assert!(dir.path().join("signed/manifest.json.sig").is_file());

    let public = public.display().to_string();
    let out = vouch(
        dir.path(),
        &["verify-bundle", "signed", "--pub-key", &public],
    );
    out.assert_code(0);
    assert!(out.stdout.contains("signature: valid"), "{}", out.dump());

    let other = other.display().to_string();
    let out = vouch(
        dir.path(),
        &["verify-bundle", "signed", "--pub-key", &other],
    );
    out.assert_code(1);
    assert!(out.stdout.contains("signature: INVALID"), "{}", out.dump());

    // Edited with every hash recomputed, in SHA256SUMS and the manifest:
    // the hashes alone cannot tell, the signature can.
    let signed = dir.path().join("signed");
    let report = std::fs::read_to_string(signed.join("report.json"))
        .expect("report")
        .replacen("\"passed\": false", "\"passed\": true", 1);
    std::fs::write(signed.join("report.json"), &report).expect("edit");
    let new_hash = sha256_hex(report.as_bytes());
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(signed.join("manifest.json")).expect("manifest"))
            .expect("json");
    manifest["files"]["report.json"] = serde_json::Value::from(new_hash.clone());
    let manifest = serde_json::to_string_pretty(&manifest).expect("json") + "\n";
    std::fs::write(signed.join("manifest.json"), &manifest).expect("write");
    let sums: String = std::fs::read_to_string(signed.join("SHA256SUMS"))
        .expect("sums")
        .lines()
        .map(|line| match line.split_once("  ") {
            Some((_, "report.json")) => format!("{new_hash}  report.json\n"),
            Some((_, "manifest.json")) => {
                format!("{}  manifest.json\n", sha256_hex(manifest.as_bytes()))
            }
            _ => format!("{line}\n"),
        })
        .collect();
    std::fs::write(signed.join("SHA256SUMS"), sums).expect("write");
    assert!(sha256sum_check(&signed).status.success());
    vouch(dir.path(), &["verify-bundle", "signed"]).assert_code(0);
    let out = vouch(
        dir.path(),
        &["verify-bundle", "signed", "--pub-key", &public],
    );
    out.assert_code(1);
    assert!(out.stdout.contains("signature: INVALID"), "{}", out.dump());

    // An unsigned bundle fails a signature check.
    run_with_evidence(dir.path(), "unsigned", &[]);
    vouch(
        dir.path(),
        &["verify-bundle", "unsigned", "--pub-key", &public],
    )
    .assert_code(1);

    // A key that is not a key stops the run before any traffic: exit 2.
    let before = server.requests();
    let out = vouch(
        dir.path(),
        &[
            "run",
            "probes.yaml",
            "--evidence",
            "x",
            "--sign-key",
            "checklist.md",
        ],
    );
    out.assert_code(2);
    assert_eq!(server.requests(), before);
}

#[test]
fn a_tarball_round_trips_through_tar_and_sha256sum() {
    let server = server();
    let dir = setup(&server);
    run_with_evidence(dir.path(), "evidence.tar.gz", &[]);
    let out = vouch(dir.path(), &["verify-bundle", "evidence.tar.gz"]);
    out.assert_code(0);

    let listing = Command::new("tar")
        .args(["tzf", "evidence.tar.gz"])
        .current_dir(dir.path())
        .output()
        .expect("run tar");
    assert!(listing.status.success());
    let names: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries in a fixed order");
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");

    let extracted = dir.path().join("extracted");
    std::fs::create_dir(&extracted).expect("mkdir");
    let status = Command::new("tar")
        .args(["xzf", "../evidence.tar.gz"])
        .current_dir(&extracted)
        .status()
        .expect("run tar");
    assert!(status.success());
    assert!(sha256sum_check(&extracted).status.success());
    vouch(dir.path(), &["verify-bundle", "extracted"]).assert_code(0);

    // Not a tarball: exit 2.
    std::fs::write(dir.path().join("junk.tar.gz"), "not gzip").expect("write");
    vouch(dir.path(), &["verify-bundle", "junk.tar.gz"]).assert_code(2);
}

#[test]
fn a_bundle_that_cannot_be_written_is_exit_3_with_the_report_emitted() {
    let server = server();
    let dir = setup(&server);
    std::fs::write(dir.path().join("a-file"), "").expect("write");
    let out = vouch(
        dir.path(),
        &[
            "run",
            "probes.yaml",
            "--no-progress",
            "--evidence",
            "a-file/b.tar.gz",
        ],
    );
    out.assert_code(3);
    assert!(out.stdout.contains("Health works"), "{}", out.dump());
    assert!(out.stderr.contains("evidence bundle"), "{}", out.dump());

    // A directory holding other files is refused before any traffic.
    std::fs::create_dir(dir.path().join("busy")).expect("mkdir");
    std::fs::write(dir.path().join("busy/notes.txt"), "mine").expect("write");
    let before = server.requests();
    vouch(dir.path(), &["run", "probes.yaml", "--evidence", "busy"]).assert_code(2);
    assert_eq!(server.requests(), before);
    assert!(dir.path().join("busy/notes.txt").is_file());
}

#[test]
fn the_demo_writes_a_bundle_beside_its_checklist_and_prints_its_path() {
    let out = Vouch::new(["demo", "--no-progress"]).run();
    out.assert_code(0);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("The evidence bundle"))
        .unwrap_or_else(|| panic!("no bundle line\n{}", out.dump()));
    let path = PathBuf::from(line.rsplit(": ").next().expect("a path"));
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("demo-evidence")
    );
    let beside = path.with_file_name("demo-checklist.verified.md");
    assert!(beside.is_file(), "{}", beside.display());
    let checked = Vouch::new(["verify-bundle".as_ref(), path.as_os_str()]).run();
    checked.assert_code(0);
    assert!(sha256sum_check(&path).status.success());
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
