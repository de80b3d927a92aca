//! `tls` probes (and the redirect to HTTPS, security headers and CORS over
//! HTTPS) against a real nginx presenting certificates made with the openssl
//! command line (`scripts/tls-certs.sh`), started by `scripts/test.sh`
//! (`scripts/nginx-tls.sh`): a private CA's valid leaf, an expired leaf, one
//! expiring in 10 days, one for the wrong host, a self-signed one and a leaf
//! behind an intermediate that expires first, the valid leaf sent with an
//! expired CA certificate not on its path, the valid leaf on a port that also
//! allows TLS 1.0 and 1.1 (`refuses`); plus an HTTP port answering 301 to the
//! valid HTTPS port. Without `VOUCH_TEST_NGINX_TLS_VALID`, every test
//! prints a note and passes — unless `VOUCH_REQUIRE_PEERS` is set, when it fails.

#[path = "support/server.rs"]
mod server;

use serde_json::Value;
use server::{Output, Vouch, check_of, probe_of, write_file};

/// The endpoints and CA that scripts/nginx-tls.sh started.
struct Nginx {
    ca: String,
}

impl Nginx {
    /// `127.0.0.1:PORT` of the HTTPS port presenting `case` (VALID, EXPIRED, …)
    /// or of the plain HTTP redirect (`HTTP_REDIRECT`).
    fn endpoint(&self, case: &str) -> String {
        let name = if case == "HTTP_REDIRECT" {
            "VOUCH_TEST_NGINX_HTTP_REDIRECT".to_owned()
        } else {
            format!("VOUCH_TEST_NGINX_TLS_{case}")
        };
        std::env::var(&name).unwrap_or_else(|_| panic!("{name} is not set"))
    }

    fn port(&self, case: &str) -> String {
        self.endpoint(case)
            .rsplit(':')
            .next()
            .expect("port")
            .to_owned()
    }
}

/// The TLS nginx, or `None` (with a note) when the script did not start one.
fn nginx() -> Option<Nginx> {
    match (
        std::env::var("VOUCH_TEST_NGINX_TLS_VALID"),
        std::env::var("VOUCH_TEST_TLS_CA"),
    ) {
        (Ok(valid), Ok(ca)) if !valid.is_empty() && !ca.is_empty() => Some(Nginx { ca }),
        _ => {
            assert!(
                std::env::var_os("VOUCH_REQUIRE_PEERS").is_none(),
                "VOUCH_REQUIRE_PEERS is set but VOUCH_TEST_NGINX_TLS_VALID / VOUCH_TEST_TLS_CA \
                 are not: start nginx with TLS (scripts/test.sh, scripts/nginx-tls.sh)"
            );
            eprintln!(
                "note: VOUCH_TEST_NGINX_TLS_VALID is not set; skipping (scripts/test.sh starts \
                 nginx with TLS and sets it)"
            );
            None
        }
    }
}

/// Runs a probe file with `items` against `target` and returns the output and report.
fn run_items(target: &str, items: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\nname: nginx tls\ntarget: {target}\ndefaults:\n  timeout: 5s\nitems:\n{items}"
    );
    let file = write_file(dir.path(), "probes.yaml", &yaml);
    let out = Vouch::new([
        "run",
        "--format",
        "json",
        file.to_str().expect("utf-8 path"),
    ])
    .current_dir(dir.path())
    .run();
    let report = out.json();
    (out, report)
}

/// Runs one `tls` probe (`settings`: the YAML flow map's inside) against the
/// HTTPS port presenting `case`, with SNI `localhost`.
fn tls(nginx: &Nginx, case: &str, settings: &str) -> Value {
    let items =
        format!("  - item: TLS\n    probes:\n      - tls: {{ sni: localhost, {settings} }}\n");
    let (_, report) = run_items(&format!("https://{}", nginx.endpoint(case)), &items);
    probe_of(&report, "TLS").clone()
}

fn ca(nginx: &Nginx) -> String {
    format!("ca: '{}'", nginx.ca)
}

fn summary(probe: &Value) -> &str {
    probe["summary"].as_str().expect("summary")
}

fn str_of<'v>(value: &'v Value, what: &str) -> &'v str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

/// Asserts that a certificate's dates are RFC 3339 UTC and `days` apart.
fn assert_dates(cert: &Value, days: u64) {
    let from = humantime::parse_rfc3339(str_of(&cert["not_before"], "not_before"))
        .unwrap_or_else(|e| panic!("not_before: {e}: {cert:#}"));
    let to = humantime::parse_rfc3339(str_of(&cert["not_after"], "not_after"))
        .unwrap_or_else(|e| panic!("not_after: {e}: {cert:#}"));
    let span = to.duration_since(from).expect("not_after after not_before");
    assert_eq!(span.as_secs(), days * 86_400, "{cert:#}");
}

#[test]
fn the_valid_leaf_of_the_private_ca_passes_with_its_dates() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(&nginx, "VALID", &ca(&nginx));
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    let e = &probe["evidence"];
    assert_eq!(e["sni"], "localhost");
    assert_eq!(e["version"], "TLSv1.3");
    assert_eq!(e["verification"]["trusted"], true);
    assert_eq!(e["verification"]["hostname"], true);
    let leaf = &e["certificates"][0];
    assert_eq!(leaf["subject"], "CN=localhost");
    assert_eq!(leaf["issuer"], "CN=vouch nginx test CA");
    assert_eq!(leaf["sans"], serde_json::json!(["localhost", "127.0.0.1"]));
    assert_eq!(leaf["days_left"], 89); // never rounded up
    assert_eq!(leaf["ca"], false);
    assert_dates(leaf, 90);
    assert_eq!(e["certificates"].as_array().expect("chain").len(), 1);
    assert!(
        summary(&probe).contains("CN=localhost expires in 89 days 23 hours"),
        "{}",
        summary(&probe)
    );

    // Without the CA, the same chain is untrusted, and still read.
    let probe = tls(
        &nginx,
        "VALID",
        "expect: { trusted: false, hostname: true }",
    );
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(check_of(&probe, "trusted")["actual"], "no (unknown issuer)");
    assert_eq!(probe["evidence"]["certificates"][0]["days_left"], 89);
}

#[test]
fn the_expired_leaf_fails_with_negative_days() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(&nginx, "EXPIRED", &ca(&nginx));
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check_of(&probe, "trusted")["actual"], "no (expired)");
    assert_eq!(check_of(&probe, "hostname")["passed"], true, "{probe:#}");
    assert_eq!(probe["evidence"]["verification"]["reason"], "expired");
    let leaf = &probe["evidence"]["certificates"][0];
    assert_eq!(leaf["days_left"], -4, "{probe:#}"); // 3 days and some seconds ago
    assert_dates(leaf, 27);
    let expiry = check_of(&probe, "expires_in");
    assert_eq!(expiry["passed"], false);
    let not_after = str_of(&leaf["not_after"], "not_after");
    assert_eq!(
        expiry["actual"],
        format!("expired 3 days ago (not after {not_after})"),
        "{expiry:#}"
    );
    assert!(
        summary(&probe).contains("expired 3 days ago"),
        "{}",
        summary(&probe)
    );
}

#[test]
fn the_leaf_expiring_in_10_days_fails_a_30_day_minimum() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(
        &nginx,
        "SOON",
        &format!(
            "{}, expect: {{ trusted: true, expires_in: {{ min: 30d }} }}",
            ca(&nginx)
        ),
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check_of(&probe, "trusted")["passed"], true, "{probe:#}");
    let expiry = check_of(&probe, "expires_in");
    assert_eq!(expiry["expected"], ">= 30d");
    assert!(
        str_of(&expiry["actual"], "actual").starts_with("9 days 23 hours left"),
        "{expiry:#}"
    );
    let leaf = &probe["evidence"]["certificates"][0];
    assert_eq!(leaf["days_left"], 9);
    assert_dates(leaf, 10);
    // The default expectations (not expired) still hold.
    let probe = tls(&nginx, "SOON", &ca(&nginx));
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
}

#[test]
fn the_wrong_host_leaf_fails_hostname_only() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(&nginx, "WRONGHOST", &ca(&nginx));
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check_of(&probe, "trusted")["passed"], true, "{probe:#}");
    assert_eq!(check_of(&probe, "expires_in")["passed"], true, "{probe:#}");
    let hostname = check_of(&probe, "hostname");
    assert_eq!(hostname["passed"], false);
    assert_eq!(hostname["actual"], "no (names: wrong.example)");
    let leaf = &probe["evidence"]["certificates"][0];
    assert_eq!(leaf["subject"], "CN=wrong.example");
    assert_eq!(leaf["days_left"], 89); // never rounded up
    assert_dates(leaf, 90);
}

#[test]
fn the_self_signed_leaf_fails_trust_only() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(&nginx, "SELFSIGNED", &ca(&nginx));
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check_of(&probe, "trusted")["passed"], false, "{probe:#}");
    assert_eq!(check_of(&probe, "hostname")["passed"], true, "{probe:#}");
    assert_eq!(check_of(&probe, "expires_in")["passed"], true, "{probe:#}");
    let leaf = &probe["evidence"]["certificates"][0];
    assert_eq!(leaf["subject"], "CN=localhost");
    assert_eq!(leaf["issuer"], "CN=localhost");
    assert_eq!(leaf["ca"], false);
    assert_dates(leaf, 90);
}

#[test]
fn the_intermediate_expiring_before_the_leaf_is_reported() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(
        &nginx,
        "SHORTCHAIN",
        &format!(
            "{}, expect: {{ trusted: true, hostname: true, expires_in: {{ min: 30d }}, chain_expires_in: {{ min: 30d }} }}",
            ca(&nginx)
        ),
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check_of(&probe, "trusted")["passed"], true, "{probe:#}");
    assert_eq!(check_of(&probe, "expires_in")["passed"], true, "{probe:#}");
    let e = &probe["evidence"];
    let certs = e["certificates"].as_array().expect("chain");
    assert_eq!(certs.len(), 2, "{probe:#}");
    assert_eq!(certs[0]["days_left"], 59);
    assert_eq!(certs[0]["issuer"], "CN=vouch nginx test intermediate");
    assert_dates(&certs[0], 60);
    assert_eq!(certs[1]["ca"], true);
    assert_eq!(certs[1]["days_left"], 4);
    assert_dates(&certs[1], 5);
    assert_eq!(
        e["chain_expires"]["subject"],
        "CN=vouch nginx test intermediate"
    );
    assert_eq!(e["chain_expires"]["not_after"], certs[1]["not_after"]);
    let chain = check_of(&probe, "chain_expires_in");
    assert_eq!(chain["passed"], false);
    let not_after = str_of(&certs[1]["not_after"], "not_after");
    assert_eq!(
        chain["actual"],
        format!("4 days 23 hours left (CN=vouch nginx test intermediate; not after {not_after})"),
        "{chain:#}"
    );
}

#[test]
fn plain_http_redirects_to_https_and_https_has_the_headers_and_cors() {
    let Some(nginx) = nginx() else { return };
    let valid = nginx.port("VALID");
    let items = format!(
        "  - item: Redirect
    probes:
      - http:
          url: /some/page?x=1
          follow_redirects: false
          expect:
            status: 301
            headers: {{ location: 'https://127.0.0.1:{valid}/some/page?x=1' }}
  - item: Followed
    probes:
      - http:
          url: /
          ca: '{ca}'
          expect:
            status: 200
            redirect: {{ matches: '^https://127\\.0\\.0\\.1:{valid}/$' }}
            body: {{ contains: valid }}
  - item: Headers
    probes:
      - headers: {{ url: /, ca: '{ca}' }}
  - item: CORS
    probes:
      # CORS never follows redirects (browsers do not for a preflight).
      - cors:
          url: https://127.0.0.1:{valid}/
          ca: '{ca}'
          allowed_origins: [https://app.example]
          expect: {{ credentials: true }}
",
        ca = nginx.ca
    );
    let (out, report) = run_items(
        &format!("http://{}", nginx.endpoint("HTTP_REDIRECT")),
        &items,
    );
    out.assert_code(0);
    let redirect = probe_of(&report, "Redirect");
    assert_eq!(redirect["verdict"], "pass", "{redirect:#}");
    assert_eq!(check_of(redirect, "status")["actual"], "301");
    let headers = probe_of(&report, "Headers");
    let hsts = check_of(headers, "Strict-Transport-Security");
    assert_eq!(hsts["passed"], true, "{headers:#}");
    assert!(
        !str_of(&hsts["actual"], "actual").contains("not applicable"),
        "HSTS must be judged on HTTPS: {hsts:#}"
    );
}

/// probes/tls-edge.yaml, with the test CA added to its `defaults:`, run with
/// `--target https://ENDPOINT` and `http_url` set to the redirecting port.
fn run_edge_pack(nginx: &Nginx, case: &str) -> (Output, Value) {
    let pack =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/probes/tls-edge.yaml"))
            .expect("probes/tls-edge.yaml");
    assert!(pack.contains("\ndefaults:\n"), "{pack}");
    let pack = pack.replace(
        "\ndefaults:\n",
        &format!("\ndefaults:\n  ca: '{}'\n", nginx.ca),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "tls-edge.yaml", &pack);
    let http_url = format!("http_url=http://{}/", nginx.endpoint("HTTP_REDIRECT"));
    let target = format!("https://{}", nginx.endpoint(case));
    let out = Vouch::new([
        "run",
        "--format",
        "json",
        "--target",
        &target,
        "--set",
        &http_url,
        file.to_str().expect("utf-8 path"),
    ])
    .current_dir(dir.path())
    .run();
    let report = out.json();
    (out, report)
}

fn failed_items(report: &Value) -> Vec<String> {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["verdict"] != "verified")
        .map(|i| str_of(&i["item"], "item").to_owned())
        .collect()
}

#[test]
fn the_tls_edge_pack_passes_on_a_good_edge_and_flags_a_short_chain() {
    let Some(nginx) = nginx() else { return };
    let (out, report) = run_edge_pack(&nginx, "VALID");
    assert_eq!(
        failed_items(&report),
        Vec::<String>::new(),
        "{}",
        out.dump()
    );
    out.assert_code(0);

    // A correctly served chain that also sends an expired certificate.
    let (out, report) = run_edge_pack(&nginx, "EXTRACHAIN");
    assert_eq!(
        failed_items(&report),
        Vec::<String>::new(),
        "{}",
        out.dump()
    );
    out.assert_code(0);

    // The same good edge, but TLS 1.0 and 1.1 still allowed.
    let (out, report) = run_edge_pack(&nginx, "LEGACY");
    out.assert_code(1);
    assert_eq!(
        failed_items(&report),
        ["TLS 1.2 or newer only"],
        "{}",
        out.dump()
    );

    for case in ["SHORTCHAIN", "SOON"] {
        let (out, report) = run_edge_pack(&nginx, case);
        out.assert_code(1);
        assert_eq!(
            failed_items(&report),
            ["TLS certificate trusted, for this host, not expiring within 30 days"],
            "{case}: {}",
            out.dump()
        );
    }
}

#[test]
fn an_expired_certificate_sent_but_not_on_the_path_does_not_count() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(
        &nginx,
        "EXTRACHAIN",
        &format!(
            "{}, expect: {{ trusted: true, hostname: true, expires_in: {{ min: 30d }}, chain_expires_in: {{ min: 14d }} }}",
            ca(&nginx)
        ),
    );
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    let e = &probe["evidence"];
    let certs = e["certificates"].as_array().expect("chain");
    assert_eq!(certs.len(), 2, "{probe:#}");
    assert_eq!(certs[0]["on_path"], true);
    assert_eq!(certs[1]["on_path"], false);
    assert_eq!(certs[1]["subject"], "CN=vouch nginx old root");
    assert!(
        certs[1]["days_left"].as_i64().is_some_and(|d| d < -29),
        "{probe:#}"
    );
    assert_eq!(e["chain_expires"]["subject"], "CN=localhost", "{probe:#}");
    assert_eq!(e["chain_expires"]["over"], "the verified path");
    assert_eq!(e["anchor"]["subject"], "CN=vouch nginx test CA");
    assert_eq!(e["not_on_path"][0]["subject"], "CN=vouch nginx old root");
    assert_eq!(e["not_on_path"][0]["status"], "sent, not on the path");
    assert!(
        check_of(&probe, "chain_expires_in")["actual"]
            .as_str()
            .is_some_and(|a| a.ends_with("; 1 sent certificate not on the path, not counted)")),
        "{probe:#}"
    );
}

/// The version `openssl s_client` negotiates when it offers only `flag`
/// (`-tls1`, `-tls1_1`), or `None` when the server refuses it.
fn openssl_negotiates(endpoint: &str, flag: &str) -> Option<String> {
    let output = std::process::Command::new("openssl")
        .args(["s_client", "-connect", endpoint, flag])
        .args(["-cipher", "DEFAULT:@SECLEVEL=0", "-servername", "localhost"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    // On a refusal it still prints the version it asked for, with no cipher.
    if text.contains("Cipher is (NONE)") {
        return None;
    }
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Protocol  : "))
        .map(str::to_owned)
}

fn refusal(probe: &Value, version: &str) -> (bool, String) {
    let check = check_of(probe, &format!("refuses {version}"));
    (
        check["passed"].as_bool().expect("passed"),
        str_of(&check["actual"], "actual").to_owned(),
    )
}

#[test]
fn a_server_allowing_tls_1_0_and_1_1_is_caught_as_openssl_sees_it() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(
        &nginx,
        "LEGACY",
        "expect: { refuses: [SSLv3, TLSv1.0, TLSv1.1] }",
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    // Only `refuses` asked: no rustls handshake, one connection per version.
    assert!(probe["evidence"].get("certificates").is_none(), "{probe:#}");
    let (refused, actual) = refusal(&probe, "TLSv1.0");
    assert!(!refused);
    assert!(
        actual.starts_with("accepted: ServerHello TLSv1.0, ECDHE-ECDSA-AES"),
        "{actual}"
    );
    let (refused, actual) = refusal(&probe, "TLSv1.1");
    assert!(!refused);
    assert!(
        actual.starts_with("accepted: ServerHello TLSv1.1, "),
        "{actual}"
    );
    // Debian's OpenSSL 3 has no SSLv3 at all.
    let (refused, actual) = refusal(&probe, "SSLv3");
    assert!(refused, "{actual}");
    assert!(actual.starts_with("refused: alert fatal "), "{actual}");
    let tried = probe["evidence"]["refuses"].as_array().expect("refuses");
    assert_eq!(tried.len(), 3);
    assert_eq!(tried[1]["version"], "TLSv1.0");
    assert_eq!(tried[1]["refused"], false);
    assert_eq!(tried[1]["offered"]["sni"], true);

    // The same server, asked by openssl: the same verdicts.
    let endpoint = nginx.endpoint("LEGACY");
    assert_eq!(
        openssl_negotiates(&endpoint, "-tls1").as_deref(),
        Some("TLSv1")
    );
    assert_eq!(
        openssl_negotiates(&endpoint, "-tls1_1").as_deref(),
        Some("TLSv1.1")
    );
}

#[test]
fn a_tls_1_2_and_1_3_server_refuses_the_old_versions_with_an_alert() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(
        &nginx,
        "VALID",
        &format!(
            "{}, expect: {{ trusted: true, protocol: TLSv1.3, refuses: [SSLv3, TLSv1.0, TLSv1.1] }}",
            ca(&nginx)
        ),
    );
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    for version in ["TLSv1.0", "TLSv1.1"] {
        assert_eq!(
            refusal(&probe, version),
            (
                true,
                "refused: alert fatal protocol_version (70)".to_owned()
            ),
            "{probe:#}"
        );
    }
    // Beside the rustls handshake and its checks.
    assert_eq!(check_of(&probe, "trusted")["passed"], true);
    assert!(
        summary(&probe).contains("TLSv1.0 refused: alert fatal protocol_version (70)"),
        "{}",
        summary(&probe)
    );
    let endpoint = nginx.endpoint("VALID");
    assert_eq!(openssl_negotiates(&endpoint, "-tls1"), None);

    // TLS 1.2 is on: a hand-made TLS 1.2 hello is accepted.
    let probe = tls(&nginx, "VALID", "expect: { refuses: [TLSv1.2] }");
    let (refused, actual) = refusal(&probe, "TLSv1.2");
    assert!(!refused);
    assert!(
        actual.starts_with("accepted: ServerHello TLSv1.2, "),
        "{actual}"
    );
}

#[test]
fn a_server_that_is_not_tls_leaves_the_refusal_unknown() {
    let Some(nginx) = nginx() else { return };
    let probe = tls(&nginx, "HTTP_REDIRECT", "expect: { refuses: [TLSv1.0] }");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(
        refusal(&probe, "TLSv1.0"),
        (
            false,
            "unknown: not a TLS answer: first bytes 48 54 54 50 2f (\"HTTP/\")".to_owned()
        )
    );
}
