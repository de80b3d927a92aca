//! `cors` probes end to end: the real `vouch` binary against in-process
//! servers with strict, reflecting, wildcard and missing CORS configurations.

#[path = "support/server.rs"]
mod server;

use server::{
    Request, Response, Server, check_names, check_of, closed_port_url, probe_file, probe_of,
    respond, run_report, with_header,
};

const APP: &str = "https://app.example";
const ADMIN: &str = "https://admin.example";

/// Answers with the CORS headers `grant` decides for the request's origin.
fn cors_server(grant: fn(&Request) -> Vec<(&'static str, String)>) -> Server {
    Server::http(move |r: Request| {
        let status = if r.method == "OPTIONS" { 204 } else { 200 };
        let body = if status == 204 { "" } else { "{}" };
        grant(&r)
            .into_iter()
            .fold(respond(status, "application/json", body), |resp, (n, v)| {
                with_header(resp, n, &v)
            })
    })
}

/// Echoes the two allowed origins with credentials, methods and headers.
fn strict(r: &Request) -> Vec<(&'static str, String)> {
    match r.header("origin") {
        Some(o) if o == APP || o == ADMIN => vec![
            ("access-control-allow-origin", o.to_owned()),
            ("access-control-allow-credentials", "true".to_owned()),
            (
                "access-control-allow-methods",
                "GET, PUT, DELETE".to_owned(),
            ),
            (
                "access-control-allow-headers",
                "Authorization, Content-Type".to_owned(),
            ),
            ("vary", "Origin".to_owned()),
        ],
        _ => vec![("vary", "Origin".to_owned())],
    }
}

/// Echoes any origin, with credentials: every origin is trusted.
fn reflecting(r: &Request) -> Vec<(&'static str, String)> {
    vec![
        (
            "access-control-allow-origin",
            r.header("origin").unwrap_or("").to_owned(),
        ),
        ("access-control-allow-credentials", "true".to_owned()),
        ("access-control-allow-methods", "*".to_owned()),
    ]
}

/// `*` with credentials, which browsers reject and which is never right.
fn wildcard(_: &Request) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", "*".to_owned()),
        ("access-control-allow-credentials", "true".to_owned()),
        ("access-control-allow-methods", "*".to_owned()),
        ("access-control-allow-headers", "*".to_owned()),
    ]
}

fn item(name: &str, settings: &str) -> String {
    format!("  - item: {name}\n    probes:\n      - cors:\n{settings}")
}

const STRICT_SETTINGS: &str = "          url: /api/items
          allowed_origins: [https://app.example, https://admin.example]
          method: PUT
          request_headers: [authorization, content-type]
          expect:
            methods: [GET, PUT]
            credentials: true
";

#[test]
fn a_strict_configuration_passes_and_the_server_sees_real_preflights() {
    let server = cors_server(strict);
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item("CORS configured properly", STRICT_SETTINGS);
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(0);
    let probe = probe_of(&report, "CORS configured properly");
    assert_eq!(probe["kind"], "cors");
    assert_eq!(
        check_names(probe),
        [
            "preflight from https://app.example",
            "preflight from https://app.example: methods",
            "preflight from https://app.example: headers",
            "request from https://app.example",
            "preflight from https://admin.example",
            "preflight from https://admin.example: methods",
            "preflight from https://admin.example: headers",
            "request from https://admin.example",
            "preflight from https://evil.example",
            "request from https://evil.example",
            "no * with credentials",
        ]
    );
    let preflight = check_of(probe, "preflight from https://app.example");
    assert_eq!(
        preflight["expected"],
        r#"2xx with Access-Control-Allow-Origin "https://app.example" with Access-Control-Allow-Credentials "true""#
    );
    assert_eq!(
        preflight["actual"],
        r#"204; Access-Control-Allow-Origin "https://app.example"; Access-Control-Allow-Credentials "true""#
    );
    assert_eq!(
        check_of(probe, "preflight from https://evil.example")["actual"],
        "204; no Access-Control-Allow-Origin"
    );
    assert_eq!(
        check_of(probe, "no * with credentials")["actual"],
        "held on 6 responses"
    );
    assert_eq!(
        probe["summary"],
        "CORS /api/items → 6 requests from 3 origins; allowed origins get their origin back; https://evil.example is not allowed"
    );

    // What went over the wire: a browser's preflight and a simple GET per origin.
    let log = server.log();
    assert_eq!(log.len(), 6);
    let preflights: Vec<&Request> = log.iter().filter(|r| r.method == "OPTIONS").collect();
    assert_eq!(preflights.len(), 3);
    for p in &preflights {
        assert_eq!(p.path(), "/api/items");
        assert_eq!(p.header("access-control-request-method"), Some("PUT"));
        assert_eq!(
            p.header("access-control-request-headers"),
            Some("authorization,content-type")
        );
    }
    let mut origins: Vec<&str> = log.iter().filter_map(|r| r.header("origin")).collect();
    origins.sort_unstable();
    assert_eq!(
        origins,
        [
            ADMIN,
            ADMIN,
            APP,
            APP,
            "https://evil.example",
            "https://evil.example"
        ]
    );
    assert!(
        log.iter()
            .filter(|r| r.method != "OPTIONS")
            .all(|r| r.method == "GET")
    );

    let exchanges = probe["evidence"]["exchanges"]
        .as_array()
        .expect("exchanges");
    assert_eq!(exchanges.len(), 6);
    assert_eq!(exchanges[0]["name"], "preflight from https://app.example");
    assert_eq!(exchanges[0]["request"]["method"], "OPTIONS");
    assert_eq!(exchanges[0]["request"]["headers"]["origin"], APP);
    assert_eq!(
        exchanges[0]["response"]["headers"]["access-control-allow-origin"],
        APP
    );
}

#[test]
fn a_reflected_foreign_origin_fails_both_its_requests() {
    let server = cors_server(reflecting);
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "CORS configured properly",
        "          allowed_origins: [https://app.example]\n          foreign_origin: https://attacker.example\n",
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "CORS configured properly");
    assert_eq!(
        check_of(probe, "preflight from https://app.example")["passed"],
        true
    );
    for name in [
        "preflight from https://attacker.example",
        "request from https://attacker.example",
    ] {
        let check = check_of(probe, name);
        assert_eq!(check["passed"], false, "{name}");
        assert_eq!(
            check["expected"],
            r#"not allowed: no Access-Control-Allow-Origin "https://attacker.example" or "*""#
        );
    }
    assert_eq!(
        check_of(probe, "request from https://attacker.example")["actual"],
        r#"200; Access-Control-Allow-Origin "https://attacker.example"; Access-Control-Allow-Credentials "true""#
    );
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with(
            "CORS / → 4 requests from 2 origins; preflight from https://attacker.example: expected not allowed"
        ),
        "{summary}"
    );
}

#[test]
fn a_wildcard_with_credentials_is_always_a_failed_check() {
    let server = cors_server(wildcard);
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item("Public CORS", "          url: /public\n");
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Public CORS");
    let check = check_of(probe, "no * with credentials");
    assert_eq!(check["passed"], false);
    assert_eq!(
        check["actual"],
        "both sent on preflight from https://evil.example, request from https://evil.example"
    );
    assert_eq!(
        check_of(probe, "request from https://evil.example")["actual"],
        r#"200; Access-Control-Allow-Origin "*"; Access-Control-Allow-Credentials "true""#
    );
}

#[test]
fn a_wildcard_never_grants_authorization_and_is_not_an_echo() {
    fn star(_: &Request) -> Vec<(&'static str, String)> {
        vec![
            ("access-control-allow-origin", "*".to_owned()),
            ("access-control-allow-methods", "*".to_owned()),
            ("access-control-allow-headers", "*".to_owned()),
        ]
    }
    let server = cors_server(star);
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "CORS for the app",
        "          allowed_origins: [https://app.example]\n          method: DELETE\n          request_headers: [authorization, x-trace]\n",
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "CORS for the app");
    // `*` lets any origin read, but it is not the allowed origin given back.
    assert_eq!(
        check_of(probe, "preflight from https://app.example")["passed"],
        false
    );
    assert_eq!(
        check_of(probe, "preflight from https://app.example: methods")["passed"],
        true
    );
    let headers = check_of(probe, "preflight from https://app.example: headers");
    assert_eq!(headers["passed"], false);
    assert_eq!(headers["expected"], "allows authorization, x-trace");
    assert_eq!(headers["actual"], r#"Access-Control-Allow-Headers "*""#);
    assert_eq!(check_of(probe, "no * with credentials")["passed"], true);
}

#[test]
fn no_cors_at_all_fails_the_allowed_origins_only() {
    let server = Server::http(|r: Request| -> Response {
        if r.method == "OPTIONS" {
            respond(405, "text/plain", "method not allowed")
        } else {
            respond(200, "application/json", "{}")
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "CORS for the app",
        "          allowed_origins: [https://app.example]\n",
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "CORS for the app");
    assert_eq!(
        check_of(probe, "preflight from https://app.example")["actual"],
        "405; no Access-Control-Allow-Origin"
    );
    assert_eq!(
        check_of(probe, "request from https://app.example")["passed"],
        false
    );
    assert_eq!(
        check_of(probe, "preflight from https://evil.example")["passed"],
        true
    );
}

#[test]
fn a_foreign_origin_among_the_allowed_ones_is_a_setup_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "Contradiction",
        "          allowed_origins: [https://evil.example]\n",
    );
    let (out, report) = run_report(dir.path(), &probe_file(&closed_port_url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Contradiction");
    assert_eq!(probe["verdict"], "error");
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.contains("is also in `allowed_origins`"),
        "{summary}"
    );
}

#[test]
fn an_unreachable_site_fails_with_the_connect_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item("CORS configured properly", STRICT_SETTINGS);
    let (out, report) = run_report(dir.path(), &probe_file(&closed_port_url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "CORS configured properly");
    assert_eq!(probe["verdict"], "fail");
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with("CORS /api/items → ") && summary.contains("refused"),
        "{summary}"
    );
}
