//! `vouch check` on broken probe files: every problem of every file in one
//! run, rendered like a compiler (`file:line:column`, the line, a caret, a
//! hint), pinned by golden files; hostile YAML rejected fast; exit codes.

#[path = "support/golden.rs"]
mod golden;
#[path = "support/server.rs"]
mod server;

use std::time::Duration;

use server::{Output, Server, Vouch, probe_file, text, write_file};

/// Several mistakes people make, one of each kind, in one file.
const MANY_ERRORS: &str = r#"version: 1
name: broken api
target: http://127.0.0.1:9
defaults:
  timeout: 5s
  retries: many
items:
  - item: Health endpoint
    probes:
      - http:
          get: /health
          hedaers: { accept: application/json }
      - http:
          get: /health
          expect:
            latency: { max: soon }
  - item: Metrics are scraped
    probes:
      - htpp: { get: /metrics }
  - item: Profile needs a token
    probes:
      - http:
          get: /me
          headers:
            authorization: "Bearer ${env:VOUCH_TEST_UNSET_TOKEN}"
"#;

/// A YAML syntax error: an unclosed flow sequence.
const SYNTAX_ERROR: &str = "version: 1\nitems:\n  - item: Health\n    probes: [ { http: { get: /health } }\n  - item: Next\n";

fn check_in(dir: &std::path::Path, files: &[&str]) -> Output {
    let mut args = vec!["check"];
    args.extend_from_slice(files);
    Vouch::new(args).current_dir(dir).run()
}

#[test]
fn every_error_of_every_file_is_reported_in_one_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "api.yaml", MANY_ERRORS);
    write_file(dir.path(), "syntax.yaml", SYNTAX_ERROR);
    let out = check_in(dir.path(), &["api.yaml", "syntax.yaml"]);
    out.assert_code(2);
    assert!(out.stdout.is_empty(), "{}", out.dump());
    golden::assert_golden("check_many_errors.stderr", &out.stderr);

    // Beyond the golden text: the essentials, so a careless rewrite shows.
    for needle in [
        "api.yaml:6:12",
        "api.yaml:12:11",
        "help: did you mean `headers`?",
        "api.yaml:16:29",
        "invalid duration `soon`",
        "api.yaml:19:9",
        "unknown probe kind `htpp`",
        "help: did you mean `http`?",
        "environment variable `VOUCH_TEST_UNSET_TOKEN` is not set",
        "syntax.yaml:",
        "invalid YAML",
        "error: 6 problems in 2 files; nothing was run",
    ] {
        assert!(
            out.stderr.contains(needle),
            "missing `{needle}`:\n{}",
            out.stderr
        );
    }
}

#[test]
fn the_unset_variable_is_pointed_at_inside_the_quoted_string() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "api.yaml", MANY_ERRORS);
    let out = check_in(dir.path(), &["api.yaml"]);
    out.assert_code(2);
    // Line 25, column of `$` in `"Bearer ${env:…}"`.
    let line = 25;
    let source = MANY_ERRORS.lines().nth(line - 1).expect("line 25");
    let column = source.find("${").expect("reference") + 1;
    assert!(
        out.stderr.contains(&format!("api.yaml:{line}:{column}")),
        "expected api.yaml:{line}:{column}\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{line} | {source}\n")),
        "quotes the source line\n{}",
        out.stderr
    );
}

/// STYLE.md: "Probe-file errors: collect them all". Within one probe's
/// settings, deserialization stops at the first mistake, so a second one
/// only shows after the first is fixed.
#[test]

fn two_mistakes_in_one_probe_are_both_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "two.yaml",
        "version: 1\ntarget: http://127.0.0.1:9\nitems:\n  - item: Health\n    probes:\n      - http:\n          get: /health\n          hedaers: { accept: application/json }\n          expect:\n            latency: { max: soon }\n",
    );
    let out = check_in(dir.path(), &["two.yaml"]);
    out.assert_code(2);
    assert!(out.stderr.contains("two.yaml:8:11"), "{}", out.dump());
    assert!(out.stderr.contains("two.yaml:10:29"), "{}", out.dump());
    assert!(
        out.stderr.contains("error: 2 problems in 1 file"),
        "{}",
        out.dump()
    );
}

#[test]
fn a_misspelt_timeout_inside_the_kind_is_pointed_beside_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Health\n    probes:\n      - http: { get: /health, timout: 5s }\n  - item: Tools\n    probes:\n      - mcp:\n          url: /mcp\n          expect:\n            call:\n              - { tool: echo, nme: x }\n";
    write_file(
        dir.path(),
        "p.yaml",
        &probe_file("http://127.0.0.1:9", items),
    );
    let out = check_in(dir.path(), &["p.yaml"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains(
            "= help: did you mean `timeout`? It belongs to the probe entry, beside the kind"
        ),
        "{}",
        out.dump()
    );
    // A tool call's fields are not the probe's: no hint towards `name`.
    assert!(
        out.stderr.contains("unknown field `nme`") && !out.stderr.contains("did you mean `name`"),
        "{}",
        out.dump()
    );
}

#[test]
fn deep_nesting_is_rejected_fast() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!("version: 1\nitems: {}\n", "[".repeat(100_000));
    write_file(dir.path(), "deep.yaml", &yaml);
    let out = check_in(dir.path(), &["deep.yaml"]);
    out.assert_code(2);
    assert!(
        out.elapsed < Duration::from_secs(2),
        "took {:?}",
        out.elapsed
    );
    assert!(out.stderr.contains("deep.yaml:2:"), "{}", out.dump());
    assert!(!out.stderr.contains("panicked"), "{}", out.dump());
    assert!(
        out.stderr.contains("nest") || out.stderr.contains("deep"),
        "says why: {}",
        out.dump()
    );
}

#[test]
fn a_billion_laughs_alias_bomb_is_rejected_fast() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut yaml = String::from("version: 1\n");
    yaml.push_str(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{previous}"); 9].join(",");
        yaml.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    yaml.push_str("items: []\n");
    write_file(dir.path(), "bomb.yaml", &yaml);
    let out = check_in(dir.path(), &["bomb.yaml"]);
    out.assert_code(2);
    assert!(
        out.elapsed < Duration::from_secs(2),
        "took {:?}",
        out.elapsed
    );
    assert!(out.stderr.contains("bomb.yaml:"), "{}", out.dump());
    assert!(out.stderr.contains("too large"), "says why: {}", out.dump());
}

#[test]
fn a_valid_file_prints_ok_and_exits_0_without_touching_the_network() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Health\n    probes:\n      - http: { get: /health }\n      - health: {}\n  - item: Backups\n    attested: { by: ops, on: 2026-01-01, valid_for: 90d }\n";
    write_file(dir.path(), "ok.yaml", &probe_file(&server.url(), items));
    let out = check_in(dir.path(), &["ok.yaml"]);
    out.assert_code(0);
    assert_eq!(
        out.stderr,
        "ok: 1 file, 2 items, 2 probes\n",
        "{}",
        out.dump()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.requests(), 0, "check never touches the network");
}

#[test]
fn a_missing_file_is_reported_and_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = check_in(dir.path(), &["nope.yaml"]);
    out.assert_code(2);
    assert!(
        out.stderr.starts_with("error: cannot read `nope.yaml`: "),
        "{}",
        out.dump()
    );
    assert!(out.stderr.contains("--> nope.yaml\n"), "{}", out.dump());
}

#[test]
fn a_bad_target_on_the_command_line_is_an_invalid_argument() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "ok.yaml",
        "version: 1\nitems:\n  - item: Health\n    probes:\n      - http: { get: /health }\n",
    );
    let out = Vouch::new(["check", "--target", "ftp://example.test", "ok.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("--target: invalid target URL `ftp://example.test`"),
        "{}",
        out.dump()
    );
}

/// The checklist the one-pass file below binds to.
const CHECKLIST: &str = "# Ready\n\n- [ ] Health endpoint returns 200\n- [ ] Private CA is trusted\n- [ ] Metrics are exposed\n";

/// Every mistake a load can find before any traffic, one of each, in one
/// file: a missing CA file, a CA file that is not PEM, a regex and a
/// JSONPath that do not compile, an item name that binds to nothing, a
/// structural typo, and a path with no target to resolve it against.
const EVERY_KIND: &str = r#"version: 1
name: one pass
checklist: list.md
defaults:
  ca: certs/missing-ca.pem
items:
  - item: Helth endpoint returns 200
    probes:
      - http:
          get: /health
          expect:
            body: { matches: "(unclosed" }
  - item: Private CA is trusted
    probes:
      - http:
          get: https://127.0.0.1:9/
          ca: not-pem.pem
          hedaers: { accept: text/plain }
  - item: Metrics are exposed
    probes:
      - http:
          get: https://127.0.0.1:9/metrics
          expect:
            json:
              "$.[": 1
"#;

/// Issue 15: regex, JSONPath, file and binding mistakes showed one round of
/// fixes after the structural ones; now one run reports them all.
#[test]
fn every_kind_of_mistake_in_one_file_is_reported_in_one_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "list.md", CHECKLIST);
    write_file(dir.path(), "not-pem.pem", "just some text\n");
    write_file(dir.path(), "api.yaml", EVERY_KIND);
    let out = check_in(dir.path(), &["api.yaml"]);
    out.assert_code(2);
    // The tried path is absolute: pin it as `$DIR`.
    let root = std::fs::canonicalize(dir.path()).expect("canonical temp dir");
    let stderr = out
        .stderr
        .replace(&root.display().to_string(), "$DIR")
        .replace(&dir.path().display().to_string(), "$DIR");
    golden::assert_golden("check_every_kind_of_mistake.stderr", &stderr);
    for needle in [
        "api.yaml:5:7",
        "cannot read the CA file `certs/missing-ca.pem`: no such file (tried `$DIR/certs/missing-ca.pem`, relative to the probe file)",
        "api.yaml:7:11",
        "no item of checklist `list.md` matches `Helth endpoint returns 200`; did you mean `Health endpoint returns 200`",
        "api.yaml:10:16",
        "`/health` is a path on the target, but no target is set",
        "api.yaml:12:30",
        "invalid regex `(unclosed`: unclosed group",
        "api.yaml:17:15",
        "the CA file `not-pem.pem` holds no PEM certificate",
        "api.yaml:18:11",
        "unknown field `hedaers`",
        "api.yaml:25:15",
        "invalid JSONPath `$.[`",
        "error: 7 problems in 1 file; nothing was run",
    ] {
        assert!(stderr.contains(needle), "missing `{needle}`:\n{stderr}");
    }
}

/// A file with no `target:`, as a new user writes it (issue 15).
const NO_TARGET: &str =
    "version: 1\nitems:\n  - item: Health\n    probes:\n      - http: { get: /health }\n";

#[test]
fn a_path_without_any_target_fails_check_naming_the_probe() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "p.yaml", NO_TARGET);
    let out = check_in(dir.path(), &["p.yaml"]);
    out.assert_code(2);
    assert_eq!(
        out.stderr,
        "error: `/health` is a path on the target, but no target is set\n \
         --> p.yaml:5:22\n  |\n5 |       - http: { get: /health }\n  |                      ^^^^^^^\n  \
         = help: give `target: https://…` at the top of the file or `--target URL` on the command line, or an absolute URL here\n\n\
         error: 1 problem in 1 file; nothing was run\n",
        "{}",
        out.dump()
    );
}

#[test]
fn run_without_a_target_exits_2_and_sends_nothing() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    // One probe the run could send (an absolute URL), one it could not.
    let items = format!(
        "{NO_TARGET}  - item: Home\n    probes:\n      - http: {{ get: \"{}/\" }}\n",
        server.url()
    );
    write_file(dir.path(), "p.yaml", &items);
    let out = Vouch::new(["run", "p.yaml"]).current_dir(dir.path()).run();
    out.assert_code(2);
    assert!(out.stdout.is_empty(), "no report: {}", out.dump());
    assert!(
        out.stderr.contains("p.yaml:5:22") && out.stderr.contains("no target is set"),
        "{}",
        out.dump()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.requests(), 0, "nothing was sent");
}

#[test]
fn a_target_on_the_command_line_satisfies_every_probe() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "p.yaml", NO_TARGET);
    let check = Vouch::new(["check", "--target", &server.url(), "p.yaml"])
        .current_dir(dir.path())
        .run();
    check.assert_code(0);
    let run = Vouch::new(["run", "--target", &server.url(), "p.yaml"])
        .current_dir(dir.path())
        .run();
    run.assert_code(0);
    assert_eq!(server.requests(), 1, "{}", run.dump());
}

/// Issue 15: a `ca:` file that does not exist passed `check`, then `run`
/// reported probe errors and exit 1, as if the deployment had failed.
#[test]
fn a_missing_ca_file_stops_run_with_exit_2_before_any_traffic() {
    let server = Server::http(|_| text(200, "ok"));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Health\n    probes:\n      - http: { get: /health, ca: certs/ca.pem }\n";
    std::fs::create_dir(dir.path().join("probes")).expect("mkdir");
    write_file(
        &dir.path().join("probes"),
        "p.yaml",
        &probe_file(&server.url(), items),
    );
    // The path is relative to the probe file, not to where vouch runs.
    std::fs::create_dir(dir.path().join("certs")).expect("mkdir");
    write_file(&dir.path().join("certs"), "ca.pem", "not a certificate\n");
    let out = Vouch::new(["run", "probes/p.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("--> probes/p.yaml:7:35")
            && out
                .stderr
                .contains("cannot read the CA file `certs/ca.pem`: no such file (tried `")
            && out
                .stderr
                .contains("probes/certs/ca.pem`, relative to the probe file)"),
        "{}",
        out.dump()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.requests(), 0, "nothing was sent");
}

/// Unset variables in every place a value is validated: the target, a var
/// used elsewhere, an address, a basic user, a timeout, a TLS file.
const UNSET_EVERYWHERE: &str = r#"version: 1
name: staging
target: ${env:VOUCH_TEST_UNSET_URL}
vars:
  db: ${env:VOUCH_TEST_UNSET_DB}
  admin: ${env:VOUCH_TEST_UNSET_ADMIN}
items:
  - item: Database port open
    probes:
      - tcp: { address: "${var:db}" }
      - tcp: { address: "${env:VOUCH_TEST_UNSET_CACHE}" }
  - item: Admin area needs a password
    probes:
      - auth:
          url: ${target}/admin/
          basic: { user: "${var:admin}", password: "${env:VOUCH_TEST_UNSET_PASSWORD}" }
  - item: Health
    probes:
      - timeout: ${env:VOUCH_TEST_UNSET_TIMEOUT}
        http: { get: /health }
"#;

#[test]
fn each_unset_variable_is_reported_once_without_follow_ons() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "unset.yaml", UNSET_EVERYWHERE);
    let out = check_in(dir.path(), &["unset.yaml"]);
    out.assert_code(2);
    let problems: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.contains("nothing was run"))
        .collect();
    let names = [
        "VOUCH_TEST_UNSET_URL",
        "VOUCH_TEST_UNSET_DB",
        "VOUCH_TEST_UNSET_ADMIN",
        "VOUCH_TEST_UNSET_CACHE",
        "VOUCH_TEST_UNSET_PASSWORD",
        "VOUCH_TEST_UNSET_TIMEOUT",
    ];
    for name in names {
        let message = format!("environment variable `{name}` is not set");
        assert_eq!(
            out.stderr.matches(&message).count(),
            1,
            "{name}:\n{}",
            out.dump()
        );
    }
    assert_eq!(problems.len(), names.len(), "{}", out.dump());
    for follow_on in [
        "invalid address",
        "cannot contain",
        "invalid target",
        "no target",
        "duration",
    ] {
        assert!(
            !out.stderr.contains(follow_on),
            "{follow_on}:\n{}",
            out.dump()
        );
    }

    // With the variables set, the same file is valid: nothing was hidden
    // that a set variable would not also fix.
    let out = Vouch::new(["check", "unset.yaml"])
        .current_dir(dir.path())
        .env("VOUCH_TEST_UNSET_URL", "http://127.0.0.1:9")
        .env("VOUCH_TEST_UNSET_DB", "127.0.0.1:5432")
        .env("VOUCH_TEST_UNSET_ADMIN", "admin")
        .env("VOUCH_TEST_UNSET_CACHE", "127.0.0.1:6379")
        .env("VOUCH_TEST_UNSET_PASSWORD", "pw")
        .env("VOUCH_TEST_UNSET_TIMEOUT", "2s")
        .run();
    out.assert_code(0);

    // A real mistake beside an unset variable is still reported.
    let broken = UNSET_EVERYWHERE.replace("get: /health", "get: /health, hedaers: {}");
    write_file(dir.path(), "broken.yaml", &broken);
    let out = check_in(dir.path(), &["broken.yaml"]);
    assert!(
        out.stderr.contains("unknown field `hedaers`"),
        "{}",
        out.dump()
    );
}
