//! `http` and `health` probes against a real nginx, started by
//! `scripts/test.sh` (`scripts/nginx.sh`) with the locations in
//! `tests/nginx/nginx.conf.template`; its base URL is in `VOUCH_TEST_NGINX`.
//! Without it, every test prints a note and passes.

#[path = "support/server.rs"]
mod server;

use std::path::Path;

use serde_json::Value;
use server::{Output, Vouch, item_of, probe_file, probe_of, write_file};

/// The nginx base URL, or `None` (with a note) when the script did not start one.
fn nginx() -> Option<String> {
    match std::env::var("VOUCH_TEST_NGINX") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            eprintln!(
                "note: VOUCH_TEST_NGINX is not set; skipping (scripts/test.sh starts nginx and sets it)"
            );
            None
        }
    }
}

fn run(dir: &Path, yaml: &str, args: &[&str]) -> Output {
    let file = write_file(dir, "nginx.yaml", yaml);
    let mut all: Vec<String> = vec!["run".to_owned(), file.display().to_string()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    Vouch::new(all).current_dir(dir).run()
}

fn run_json(yaml: &str, args: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = run(dir.path(), yaml, &all);
    let report = out.json();
    (out, report)
}

fn check<'p>(probe: &'p Value, name: &str) -> &'p Value {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {probe:#}"))
}

#[test]
fn health_and_api_endpoints_pass_their_expectations() {
    let Some(base) = nginx() else { return };
    let items = r#"  - item: Health endpoint returns UP
    probes:
      - http:
          get: /health
          expect:
            status: 200
            headers:
              content-type: application/json
              server: { contains: nginx }
            json:
              $.status: UP
            latency: { max: 2s }
  - item: Items API lists items
    probes:
      - http:
          get: /api/items
          expect:
            json:
              $.count: 2
              $.items[*].id: { min: 1 }
              $.items[1].name: b
  - item: Health probe says healthy
    probes:
      - health: { url: /health }
"#;
    let (out, report) = run_json(&probe_file(&base, items), &[]);
    out.assert_code(0);
    assert_eq!(report["summary"]["verified"], 3, "{}", out.dump());
    let health = probe_of(&report, "Health endpoint returns UP");
    assert_eq!(
        health["evidence"]["response"]["body_excerpt"],
        r#"{"status":"UP"}"#
    );
    assert_eq!(check(health, "$.status")["actual"], r#""UP""#);
    let items_probe = probe_of(&report, "Items API lists items");
    assert_eq!(
        check(items_probe, "$.items[*].id")["actual"],
        "2 nodes, all matching"
    );
    let probe = probe_of(&report, "Health probe says healthy");
    assert_eq!(probe["evidence"]["health"]["format"], "spring");
    assert_eq!(check(probe, "status")["actual"], "healthy (UP, HTTP 200)");
}

#[test]
fn ietf_health_with_a_warning_check_fails_all_healthy_naming_it() {
    let Some(base) = nginx() else { return };
    let items = "  - item: Every dependency healthy\n    probes:\n      - health:\n          url: /health/ietf\n          expect:\n            dependencies: all_healthy\n";
    let (out, report) = run_json(&probe_file(&base, items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Every dependency healthy");
    assert_eq!(probe["evidence"]["health"]["format"], "ietf");
    assert_eq!(check(probe, "status")["passed"], true);
    assert_eq!(check(probe, "dependency db:responseTime")["passed"], true);
    let cache = check(probe, "dependency cache");
    assert_eq!(cache["actual"], "degraded (warn)");
    assert_eq!(cache["passed"], false);
}

#[test]
fn error_statuses_fail_with_the_status_seen() {
    let Some(base) = nginx() else { return };
    let items = "  - item: Missing page\n    probes:\n      - http: { get: /status/404, expect: { status: 200 } }\n  - item: Server error\n    probes:\n      - http: { get: /status/500 }\n  - item: Health of a failing endpoint\n    probes:\n      - health: { url: /status/500 }\n";
    let (out, report) = run_json(&probe_file(&base, items), &[]);
    out.assert_code(1);
    let missing = check(probe_of(&report, "Missing page"), "status");
    assert_eq!(
        (&missing["expected"], &missing["actual"]),
        (&"200".into(), &"404".into())
    );
    let error = check(probe_of(&report, "Server error"), "status");
    assert_eq!(error["expected"], "2xx or 3xx");
    assert_eq!(error["actual"], "500");
    let health = check(probe_of(&report, "Health of a failing endpoint"), "status");
    assert_eq!(health["actual"], "unhealthy (HTTP 500)");
    assert_eq!(report["summary"]["failed"], 3);
}

#[test]
fn redirects_are_seen_unfollowed_and_followed_to_their_end() {
    let Some(base) = nginx() else { return };
    let items = r#"  - item: Redirect as sent
    probes:
      - http:
          get: /redirect
          follow_redirects: false
          expect:
            status: 302
            headers:
              location: /health
  - item: Redirect followed
    probes:
      - http:
          get: /redirect
          expect:
            status: 200
            redirect: { matches: '/health$' }
            json:
              $.status: UP
  - item: Absolute redirect followed
    probes:
      - http:
          get: /redirect/absolute
          expect:
            redirect: { matches: '/health$' }
  - item: Redirect loop
    probes:
      - http: { get: /loop }
"#;
    let (out, report) = run_json(&probe_file(&base, items), &[]);
    out.assert_code(1);
    assert_eq!(
        item_of(&report, "Redirect as sent")["verdict"],
        "verified",
        "{}",
        out.dump()
    );
    let followed = probe_of(&report, "Redirect followed");
    assert_eq!(followed["verdict"], "pass", "{followed:#}");
    assert_eq!(
        followed["evidence"]["response"]["final_url"],
        format!("{base}/health")
    );
    assert_eq!(
        item_of(&report, "Absolute redirect followed")["verdict"],
        "verified"
    );
    let looping = probe_of(&report, "Redirect loop");
    assert_eq!(looping["verdict"], "fail");
    assert!(
        looping["evidence"]["error"]
            .as_str()
            .expect("error")
            .contains("redirect"),
        "{looping:#}"
    );
}

#[test]
fn a_header_that_must_be_absent_fails_showing_its_value() {
    let Some(base) = nginx() else { return };
    let items = "  - item: No technology disclosure\n    probes:\n      - http:\n          get: /headers\n          expect:\n            headers:\n              x-powered-by: absent\n";
    let (out, report) = run_json(&probe_file(&base, items), &[]);
    out.assert_code(1);
    let c = check(
        probe_of(&report, "No technology disclosure"),
        "header x-powered-by",
    );
    assert_eq!(c["expected"], "absent");
    assert_eq!(c["actual"], r#""PHP/8.1""#);
}

#[test]
fn a_body_over_the_cap_fails_until_the_limit_is_raised() {
    let Some(base) = nginx() else { return };
    let items = "  - item: Big download\n    probes:\n      - http: { get: /big }\n";
    let yaml = probe_file(&base, items);
    let (out, report) = run_json(&yaml, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Big download");
    assert_eq!(check(probe, "body size")["passed"], false);
    assert_eq!(
        probe["evidence"]["response"]["headers"]["content-length"],
        "2097152"
    );
    let (out, report) = run_json(&yaml, &["--body-limit", "4MiB"]);
    out.assert_code(0);
    let probe = probe_of(&report, "Big download");
    assert_eq!(probe["evidence"]["response"]["body_bytes"], 2 * 1024 * 1024);
}

/// nginx answers `/headers` with `Set-Cookie: session=abc123`.
const COOKIE_VALUE: &str = "abc123";

/// Runs `yaml` in human and JSON formats, to stdout and to `--output`, and
/// returns every byte vouch wrote, with what it was.
fn every_output(yaml: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut seen = Vec::new();
    for format in ["human", "json"] {
        let out = run(dir.path(), yaml, &["--format", format]);
        assert!(matches!(out.code, Some(0 | 1)), "{}", out.dump());
        seen.push((format!("{format} stdout"), out.stdout));
        seen.push((format!("{format} stderr"), out.stderr));
        let path = dir.path().join(format!("report.{format}"));
        let out = run(
            dir.path(),
            yaml,
            &["--format", format, "--output", &path.display().to_string()],
        );
        seen.push((format!("{format} --output stderr"), out.stderr));
        seen.push((
            format!("{format} --output file"),
            std::fs::read_to_string(&path).expect("report file"),
        ));
    }
    seen
}

#[test]
fn the_set_cookie_value_never_appears_in_any_output() {
    let Some(base) = nginx() else { return };
    let items = "  - item: Headers page\n    probes:\n      - http: { get: /headers, expect: { body: { contains: headers } } }\n  - item: Headers page leaks nothing\n    probes:\n      - http:\n          get: /headers\n          expect:\n            headers:\n              x-powered-by: absent\n";
    let outputs = every_output(&probe_file(&base, items));
    let json_file = &outputs
        .iter()
        .find(|(what, _)| what == "json --output file")
        .expect("json file")
        .1;
    // The header was there, and masked.
    // Evidence records are embedded compactly; accept either spacing.
    assert!(
        json_file.contains(r#""set-cookie": "«redacted»""#)
            || json_file.contains(r#""set-cookie":"«redacted»""#),
        "{json_file}"
    );
    for (what, text) in &outputs {
        assert!(
            !text.contains(COOKIE_VALUE),
            "`{COOKIE_VALUE}` appears in {what}:\n{text}"
        );
    }
}

#[test]

fn the_set_cookie_value_never_appears_even_when_a_probe_checks_it() {
    let Some(base) = nginx() else { return };
    let items = "  - item: Session cookie is set\n    probes:\n      - http:\n          get: /headers\n          expect:\n            headers:\n              set-cookie: { contains: session= }\n  - item: Session cookie is secure\n    probes:\n      - http:\n          get: /headers\n          expect:\n            headers:\n              set-cookie: { contains: Secure }\n";
    let outputs = every_output(&probe_file(&base, items));
    for (what, text) in &outputs {
        assert!(
            !text.contains(COOKIE_VALUE),
            "`{COOKIE_VALUE}` appears in {what}:\n{text}"
        );
    }
    let human = &outputs
        .iter()
        .find(|(what, _)| what == "human stdout")
        .expect("human")
        .1;
    assert!(
        human.contains("header set-cookie: expected contains \"Secure\", got present («redacted»)"),
        "{human}"
    );
}
