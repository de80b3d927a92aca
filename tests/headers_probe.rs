//! `headers` probes end to end: the real `vouch` binary against in-process
//! HTTP and HTTPS servers with and without the baseline security headers.

#[path = "support/server.rs"]
mod server;

use serde_json::Value;
use server::{
    Pki, Request, Response, Server, check_names, check_of, closed_port_url, probe_file, probe_of,
    run_report, text, with_header,
};

/// Every header of the baseline, as a well-configured site sends them.
fn secure(response: Response) -> Response {
    [
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains; preload",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'self'",
        ),
        ("referrer-policy", "no-referrer"),
        ("server", "edge"),
    ]
    .into_iter()
    .fold(response, |r, (name, value)| with_header(r, name, value))
}

/// What a default PHP-behind-nginx setup sends.
fn leaky(response: Response) -> Response {
    [
        ("strict-transport-security", "max-age=3600"),
        ("x-powered-by", "PHP/8.1.2"),
        ("server", "nginx/1.22.1"),
        ("content-security-policy-report-only", "default-src 'self'"),
    ]
    .into_iter()
    .fold(response, |r, (name, value)| with_header(r, name, value))
}

const BASELINE: [&str; 8] = [
    "status",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "frame protection",
    "Content-Security-Policy",
    "Referrer-Policy",
    "X-Powered-By",
    "Server",
];

fn item(name: &str, settings: &str) -> String {
    format!("  - item: {name}\n    probes:\n      - headers:\n{settings}")
}

#[test]
fn a_fully_configured_https_site_passes_every_baseline_check() {
    let pki = Pki::new();
    let server = Server::https(&pki, |_: Request| secure(text(200, "home")));
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = pki.ca_path().display().to_string();
    let items = item(
        "Security headers configured",
        &format!("          url: /\n          ca: {ca}\n"),
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(0);
    let probe = probe_of(&report, "Security headers configured");
    assert_eq!(probe["kind"], "headers");
    assert_eq!(check_names(probe), BASELINE);
    let hsts = check_of(probe, "Strict-Transport-Security");
    assert_eq!(
        hsts["actual"],
        r#""max-age=63072000; includeSubDomains; preload""#
    );
    assert_eq!(hsts["passed"], true);
    assert_eq!(
        check_of(probe, "frame protection")["actual"],
        "CSP frame-ancestors 'self'"
    );
    assert_eq!(probe["evidence"]["https"], true);
    assert_eq!(probe["evidence"]["policy"], "baseline");
    assert_eq!(
        probe["evidence"]["response"]["headers"]["x-content-type-options"],
        "nosniff"
    );
    let summary = probe["summary"].as_str().expect("summary");
    assert!(summary.starts_with("GET / → 200 in "), "{summary}");
    assert!(summary.ends_with("; 7 header checks held"), "{summary}");
}

#[test]
fn every_missing_or_leaky_header_is_its_own_failed_check() {
    let pki = Pki::new();
    let server = Server::https(&pki, |_: Request| leaky(text(200, "home")));
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = pki.ca_path().display().to_string();
    let items = item(
        "Security headers configured",
        &format!("          ca: {ca}\n"),
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Security headers configured");
    assert_eq!(probe["verdict"], "fail");
    let failed: Vec<(String, String)> = probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                c["actual"].as_str().expect("actual").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        vec![
            (
                "Strict-Transport-Security".to_owned(),
                r#""max-age=3600""#.to_owned()
            ),
            ("X-Content-Type-Options".to_owned(), "absent".to_owned()),
            (
                "frame protection".to_owned(),
                "neither X-Frame-Options nor CSP frame-ancestors".to_owned()
            ),
            (
                "Content-Security-Policy".to_owned(),
                "absent (only Content-Security-Policy-Report-Only, which enforces nothing)"
                    .to_owned()
            ),
            ("Referrer-Policy".to_owned(), "absent".to_owned()),
            ("X-Powered-By".to_owned(), r#""PHP/8.1.2""#.to_owned()),
            ("Server".to_owned(), r#""nginx/1.22.1""#.to_owned()),
        ]
    );
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.contains(
            r#"Strict-Transport-Security: expected max-age >= 15552000 (180 days) on HTTPS, got "max-age=3600""#
        ),
        "{summary}"
    );
    assert!(summary.ends_with("; and 5 more"), "{summary}");
}

#[test]
fn hsts_is_not_applicable_on_plain_http_and_says_so() {
    let server = Server::http(|_: Request| secure(text(200, "home")));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "Security headers configured",
        "          policy: baseline\n",
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(0);
    let probe = probe_of(&report, "Security headers configured");
    let hsts = check_of(probe, "Strict-Transport-Security");
    assert_eq!(hsts["passed"], true);
    assert_eq!(
        hsts["actual"],
        "not applicable: plain HTTP (browsers ignore HSTS there)"
    );
    assert_eq!(probe["evidence"]["https"], false);
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.ends_with("(HSTS not applicable on plain HTTP)"),
        "{summary}"
    );
}

#[test]
fn redirects_are_followed_and_the_final_page_is_checked() {
    let server = Server::http(|r: Request| match r.path() {
        "/" => with_header(text(301, "moved"), "location", "/home"),
        _ => secure(text(200, "home")),
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item("Headers after redirect", "          url: /\n");
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(0);
    let probe = probe_of(&report, "Headers after redirect");
    assert_eq!(check_of(probe, "status")["actual"], "200");
    assert_eq!(
        probe["evidence"]["response"]["final_url"],
        format!("{}/home", server.url())
    );
}

#[test]
fn policy_none_checks_only_the_per_header_matchers() {
    let server = Server::http(|_: Request| {
        with_header(
            with_header(text(200, "ok"), "cache-control", "no-store"),
            "x-powered-by",
            "Express",
        )
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "API responses are not cached",
        "          url: /api\n          policy: none\n          expect:\n            status: 200\n            headers:\n              cache-control: { contains: no-store }\n              x-powered-by: absent\n",
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "API responses are not cached");
    assert_eq!(
        check_names(probe),
        ["status", "header cache-control", "header x-powered-by"]
    );
    assert_eq!(check_of(probe, "header cache-control")["passed"], true);
    let powered = check_of(probe, "header x-powered-by");
    assert_eq!(powered["passed"], false);
    assert_eq!(powered["actual"], r#""Express""#);
    assert_eq!(probe["evidence"]["policy"], "none");
}

#[test]
fn an_error_status_fails_the_probe_even_with_good_headers() {
    let server = Server::http(|_: Request| secure(text(500, "boom")));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item("Headers on a broken page", "          url: /\n");
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Headers on a broken page");
    let status: &Value = check_of(probe, "status");
    assert_eq!(status["actual"], "500");
    assert_eq!(status["passed"], false);
}

#[test]
fn an_unreachable_site_fails_with_the_connect_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item("Security headers configured", "          url: /\n");
    let (out, report) = run_report(dir.path(), &probe_file(&closed_port_url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Security headers configured");
    assert_eq!(probe["verdict"], "fail");
    let error = probe["evidence"]["error"].as_str().expect("error");
    assert!(error.contains("refused"), "{error}");
    assert_eq!(check_names(probe), ["response"]);
}

#[test]
fn named_rules_only_over_every_listed_path_find_hsts_missing_on_the_api() {
    let pki = Pki::new();
    // The site sets HSTS (a year, with subdomains); the API behind it does not.
    let server = Server::https(&pki, |request: Request| {
        let response = text(200, "ok");
        if request.path().starts_with("/api/") {
            response
        } else {
            with_header(
                response,
                "strict-transport-security",
                "max-age=31536000; includeSubDomains",
            )
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = pki.ca_path().display().to_string();
    let items = item(
        "HSTS of at least 180 days on every response",
        &format!(
            "          paths: [/, /api/]\n          baseline: [hsts]\n          hsts: {{ min_age: 180d, include_subdomains: true }}\n          ca: {ca}\n"
        ),
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "HSTS of at least 180 days on every response");
    // Only the named rule, on each path: no CSP, nosniff, … checks.
    assert_eq!(
        check_names(probe),
        [
            "/ status",
            "/ Strict-Transport-Security",
            "/api/ status",
            "/api/ Strict-Transport-Security",
        ]
    );
    let site = check_of(probe, "/ Strict-Transport-Security");
    assert_eq!(site["passed"], true, "{probe:#}");
    assert_eq!(
        site["expected"],
        "max-age >= 15552000 (180 days), includeSubDomains on HTTPS"
    );
    let api = check_of(probe, "/api/ Strict-Transport-Security");
    assert_eq!(api["passed"], false);
    assert_eq!(api["actual"], "absent");
    let paths = probe["evidence"]["paths"].as_array().expect("paths");
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[1]["path"], "/api/");
    assert_eq!(paths[1]["response"]["rules"], serde_json::json!(["hsts"]));
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with(
            "GET /, /api/ → 1 of 4 checks failed; /api/ Strict-Transport-Security: expected"
        ),
        "{summary}"
    );

    // A shorter max-age than asked, or no includeSubDomains, fails too.
    let items = item(
        "Two years",
        &format!(
            "          url: /\n          baseline: [hsts]\n          hsts: {{ min_age: 730d }}\n          ca: {ca}\n"
        ),
    );
    let (out, report) = run_report(dir.path(), &probe_file(&server.url(), &items), &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Two years");
    assert_eq!(check_names(probe), ["status", "Strict-Transport-Security"]);
    assert_eq!(
        check_of(probe, "Strict-Transport-Security")["passed"],
        false,
        "{probe:#}"
    );
}
