//! A differential test against a real Prometheus blackbox_exporter: on the
//! same nginx HTTPS endpoints (`scripts/nginx-tls.sh`), vouch's earliest
//! not-after of the presented chain (`evidence.chain_expires.not_after`)
//! equals blackbox's `probe_ssl_earliest_cert_expiry`, to the second.
//! `scripts/test.sh` starts blackbox (`scripts/blackbox.sh`, module
//! `tls_connect`: TCP + TLS trusting the test CA, server name `localhost`) and
//! sets `VOUCH_TEST_BLACKBOX`. Without it, every test prints a note and passes
//! — unless `VOUCH_REQUIRE_PEERS` is set, when it fails.

#[path = "support/server.rs"]
mod server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use server::{Vouch, probe_of, write_file};

/// blackbox's base URL and the TLS test nginx's CA, or `None` with a note.
fn peers() -> Option<(String, String)> {
    match (
        std::env::var("VOUCH_TEST_BLACKBOX"),
        std::env::var("VOUCH_TEST_TLS_CA"),
    ) {
        (Ok(blackbox), Ok(ca)) if !blackbox.is_empty() && !ca.is_empty() => {
            Some((blackbox.trim_end_matches('/').to_owned(), ca))
        }
        _ => {
            assert!(
                std::env::var_os("VOUCH_REQUIRE_PEERS").is_none(),
                "VOUCH_REQUIRE_PEERS is set but VOUCH_TEST_BLACKBOX / VOUCH_TEST_TLS_CA are not: \
                 scripts/test.sh starts blackbox_exporter and nginx with TLS"
            );
            eprintln!(
                "note: VOUCH_TEST_BLACKBOX is not set; skipping (scripts/test.sh starts \
                 blackbox_exporter and sets it)"
            );
            None
        }
    }
}

fn endpoint(case: &str) -> String {
    let name = format!("VOUCH_TEST_NGINX_TLS_{case}");
    std::env::var(&name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// `GET {blackbox}/probe?module=tls_connect&target={target}`: the exposition text.
fn blackbox_probe(blackbox: &str, target: &str) -> String {
    let authority = blackbox
        .strip_prefix("http://")
        .expect("VOUCH_TEST_BLACKBOX is http://host:port");
    let mut stream = TcpStream::connect(authority).expect("connect to blackbox_exporter");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    write!(
        stream,
        "GET /probe?module=tls_connect&target={target} HTTP/1.0\r\nHost: {authority}\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_owned()
}

/// The value of an unlabelled metric in an exposition, e.g. `1.795743242e+09`.
fn metric(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name).then(|| {
            value
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{name}: bad value {value}: {e}"))
        })
    })
}

/// Runs vouch's `tls` probe against `endpoint` (trusting `ca`, SNI localhost).
fn vouch_tls(endpoint: &str, ca: &str) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\nname: blackbox diff\ntarget: https://{endpoint}\nitems:\n  - item: TLS\n    probes:\n      - tls: {{ sni: localhost, ca: '{ca}' }}\n"
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
    probe_of(&out.json(), "TLS").clone()
}

fn unix_seconds(rfc3339: &Value) -> i64 {
    let text = rfc3339.as_str().expect("an RFC 3339 string");
    let time = humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let secs = time
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(secs).expect("fits")
}

/// Asserts that vouch and blackbox agree on the earliest expiry at `case`,
/// and returns it.
fn assert_same_earliest_expiry(case: &str) -> Option<i64> {
    let (blackbox, ca) = peers()?;
    let target = endpoint(case);
    let exposition = blackbox_probe(&blackbox, &target);
    assert_eq!(
        metric(&exposition, "probe_success"),
        Some(1.0),
        "{case}: {exposition}"
    );
    let theirs = metric(&exposition, "probe_ssl_earliest_cert_expiry")
        .unwrap_or_else(|| panic!("{case}: no probe_ssl_earliest_cert_expiry in {exposition}"));
    let theirs = theirs.round() as i64;

    let probe = vouch_tls(&target, &ca);
    assert_eq!(probe["verdict"], "pass", "{case}: {probe:#}");
    let evidence = &probe["evidence"];
    let ours = unix_seconds(&evidence["chain_expires"]["not_after"]);
    let min_over_chain = evidence["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .map(|c| unix_seconds(&c["not_after"]))
        .min()
        .expect("a certificate");
    assert_eq!(ours, min_over_chain, "{case}: {evidence:#}");
    assert_eq!(
        ours, theirs,
        "{case}: vouch says {}, blackbox_exporter {theirs}",
        evidence["chain_expires"]["not_after"]
    );
    Some(ours)
}

#[test]
fn the_valid_leaf_expires_when_blackbox_says() {
    if let Some(expiry) = assert_same_earliest_expiry("VALID") {
        eprintln!("VALID: earliest not-after {expiry} (both)");
    }
}

#[test]
fn the_short_lived_intermediate_is_the_earliest_for_both() {
    let Some(expiry) = assert_same_earliest_expiry("SHORTCHAIN") else {
        return;
    };
    // The intermediate (5 days), not the leaf (60 days), expires first.
    let (_, ca) = peers().expect("peers");
    let probe = vouch_tls(&endpoint("SHORTCHAIN"), &ca);
    let leaf = unix_seconds(&probe["evidence"]["certificates"][0]["not_after"]);
    assert!(expiry < leaf, "{probe:#}");
    assert_eq!(
        probe["evidence"]["chain_expires"]["subject"],
        "CN=vouch nginx test intermediate"
    );
}

#[test]
fn after_expiry_blackbox_has_no_date_and_vouch_still_reports_it() {
    let Some((blackbox, ca)) = peers() else {
        return;
    };
    let target = endpoint("EXPIRED");
    let exposition = blackbox_probe(&blackbox, &target);
    assert_eq!(
        metric(&exposition, "probe_success"),
        Some(0.0),
        "{exposition}"
    );
    assert_eq!(
        metric(&exposition, "probe_ssl_earliest_cert_expiry"),
        None,
        "{exposition}"
    );
    let probe = vouch_tls(&target, &ca);
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    // 3 days and some seconds ago: whole days rounded down.
    assert_eq!(probe["evidence"]["chain_expires"]["days_left"], -4);
}
