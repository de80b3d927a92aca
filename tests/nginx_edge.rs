//! `headers`, `cors` and `auth` probes against a real nginx, started by
//! `scripts/test.sh` (`scripts/nginx.sh`) with the locations in
//! `tests/nginx/nginx.conf.template`: with and without security headers,
//! strict, permissive and reflecting CORS, `auth_basic` and key checks.
//! Without `VOUCH_TEST_NGINX`, every test prints a note and passes — unless
//! `VOUCH_REQUIRE_PEERS` is set, when it fails.

#[path = "support/server.rs"]
mod server;

use serde_json::Value;
use server::{Output, Vouch, check_of, item_of, probe_file, probe_of, write_file};

/// The credentials scripts/nginx.sh and the template configure (test fixtures).
const BASIC_USER: &str = "vouch";
const BASIC_PASSWORD: &str = "nginx-test-password";
const API_KEY: &str = "nginx-test-api-key";
const QUERY_KEY: &str = "nginx-test-query-key";
const TOKEN: &str = "nginx-test-token";

/// The nginx base URL, or `None` (with a note) when the script did not start one.
fn nginx() -> Option<String> {
    match std::env::var("VOUCH_TEST_NGINX") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("VOUCH_REQUIRE_PEERS").is_none(),
                "VOUCH_REQUIRE_PEERS is set but VOUCH_TEST_NGINX is not: start nginx (scripts/test.sh)"
            );
            eprintln!(
                "note: VOUCH_TEST_NGINX is not set; skipping (scripts/test.sh starts nginx and sets it)"
            );
            None
        }
    }
}

/// Runs the probe file with the nginx credentials in the environment.
fn run(yaml: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "edge.yaml", yaml);
    let out = Vouch::new(["run", "--format", "json", "edge.yaml"])
        .env("EDGE_BASIC_PASSWORD", BASIC_PASSWORD)
        .env("EDGE_API_KEY", API_KEY)
        .env("EDGE_QUERY_KEY", QUERY_KEY)
        .env("EDGE_TOKEN", TOKEN)
        .current_dir(dir.path())
        .run();
    let report = out.json();
    (out, report)
}

fn failed_checks(probe: &Value) -> Vec<String> {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn security_headers_with_and_without_the_baseline() {
    let Some(base) = nginx() else { return };
    let items = "  - item: Secure page
    probes:
      - headers: { url: /secure }
  - item: Insecure page
    probes:
      - headers: { url: /insecure }
";
    let (out, report) = run(&probe_file(&base, items));
    out.assert_code(1);
    let secure = probe_of(&report, "Secure page");
    assert_eq!(secure["verdict"], "pass", "{secure:#}");
    assert_eq!(check_of(secure, "Server")["actual"], r#""nginx""#);
    assert_eq!(
        check_of(secure, "frame protection")["actual"],
        "CSP frame-ancestors 'none'"
    );
    // nginx sends HSTS on plain HTTP too; browsers ignore it there.
    assert_eq!(
        check_of(secure, "Strict-Transport-Security")["passed"],
        true
    );

    let insecure = probe_of(&report, "Insecure page");
    assert_eq!(
        failed_checks(insecure),
        [
            "X-Content-Type-Options",
            "frame protection",
            "Content-Security-Policy",
            "Referrer-Policy",
            "X-Powered-By",
            "Server",
        ]
    );
    assert_eq!(
        check_of(insecure, "X-Powered-By")["actual"],
        r#""PHP/8.1.2""#
    );
    let server = check_of(insecure, "Server")["actual"]
        .as_str()
        .expect("server")
        .to_owned();
    assert!(server.starts_with("\"nginx/1."), "{server}");
    assert!(
        check_of(insecure, "Referrer-Policy")["actual"]
            .as_str()
            .expect("actual")
            .contains("unsafe-url")
    );
}

#[test]
fn strict_cors_passes_and_permissive_or_reflecting_cors_fails() {
    let Some(base) = nginx() else { return };
    let items = "  - item: Strict CORS
    probes:
      - cors:
          url: /cors/strict
          allowed_origins: [https://app.example]
          method: PUT
          request_headers: [authorization, content-type]
          expect: { methods: [GET, PUT], credentials: true }
  - item: Permissive CORS
    probes:
      - cors: { url: /cors/permissive, allowed_origins: [https://app.example] }
  - item: Reflecting CORS
    probes:
      - cors: { url: /cors/reflect, allowed_origins: [https://app.example] }
";
    let (out, report) = run(&probe_file(&base, items));
    out.assert_code(1);
    let strict = probe_of(&report, "Strict CORS");
    assert_eq!(strict["verdict"], "pass", "{strict:#}");
    assert_eq!(
        check_of(strict, "preflight from https://app.example: methods")["actual"],
        r#"Access-Control-Allow-Methods "GET, POST, PUT""#
    );
    assert_eq!(
        check_of(strict, "preflight from https://evil.example")["actual"],
        "204; no Access-Control-Allow-Origin"
    );

    let permissive = probe_of(&report, "Permissive CORS");
    assert_eq!(
        failed_checks(permissive),
        [
            "preflight from https://app.example",
            "request from https://app.example",
            "preflight from https://evil.example",
            "request from https://evil.example",
            "no * with credentials",
        ]
    );
    assert_eq!(
        check_of(permissive, "no * with credentials")["actual"],
        "both sent on preflight from https://app.example, request from https://app.example, preflight from https://evil.example, request from https://evil.example"
    );

    let reflect = probe_of(&report, "Reflecting CORS");
    assert_eq!(
        failed_checks(reflect),
        [
            "preflight from https://evil.example",
            "request from https://evil.example"
        ]
    );
}

#[test]
fn basic_auth_key_query_and_bearer_checks_pass() {
    let Some(base) = nginx() else { return };
    let items = format!(
        "  - item: Basic auth
    probes:
      - auth:
          url: /private
          basic: {{ user: {BASIC_USER}, password: \"${{env:EDGE_BASIC_PASSWORD}}\" }}
          expect: {{ unauthenticated: 401, www_authenticate: true }}
  - item: API key in a header
    probes:
      - auth:
          url: /apikey
          header: {{ name: X-API-Key, value: \"${{env:EDGE_API_KEY}}\" }}
  - item: API key in the query
    probes:
      - auth:
          url: /apikey/query
          query: {{ name: api_key, value: \"${{env:EDGE_QUERY_KEY}}\" }}
  - item: Bearer token
    probes:
      - auth:
          url: /bearer
          bearer: ${{env:EDGE_TOKEN}}
          expect: {{ www_authenticate: true }}
"
    );
    let (out, report) = run(&probe_file(&base, &items));
    out.assert_code(0);
    for item in [
        "Basic auth",
        "API key in a header",
        "API key in the query",
        "Bearer token",
    ] {
        assert_eq!(item_of(&report, item)["verdict"], "verified", "{item}");
    }
    let basic = probe_of(&report, "Basic auth");
    assert_eq!(
        check_of(basic, "/private: no credentials")["actual"],
        r#"401; WWW-Authenticate "Basic realm=\"vouch test\"""#
    );
    assert_eq!(
        basic["evidence"]["exchanges"][2]["response"]["body_excerpt"],
        r#"{"private":true}"#
    );
    let key = probe_of(&report, "API key in a header");
    assert_eq!(check_of(key, "/apikey: wrong credentials")["actual"], "403");
    for secret in [BASIC_PASSWORD, API_KEY, QUERY_KEY, TOKEN] {
        assert!(
            !out.stdout.contains(secret),
            "{secret} shown:\n{}",
            out.stdout
        );
    }
}

#[test]
fn an_unprotected_path_among_several_fails_on_its_own() {
    let Some(base) = nginx() else { return };
    let items = "  - item: API key validation on all endpoints
    probes:
      - auth:
          paths: [/apikey, /health]
          header: { name: X-API-Key, value: \"${env:EDGE_API_KEY}\" }
";
    let (out, report) = run(&probe_file(&base, items));
    out.assert_code(1);
    let probe = probe_of(&report, "API key validation on all endpoints");
    assert_eq!(
        failed_checks(probe),
        ["/health: no credentials", "/health: wrong credentials"]
    );
    assert_eq!(check_of(probe, "/health: no credentials")["actual"], "200");
}
