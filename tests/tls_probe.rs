//! `tls` probes end to end: the real `vouch` binary against in-process
//! rustls servers presenting `rcgen` certificates — trusted, untrusted,
//! self-signed, expired, for the wrong host, expiring soon, behind an
//! intermediate that expires first, TLS 1.2 only — and a closed port.

#[path = "support/server.rs"]
mod server;

use serde_json::Value;
use server::{
    Output, Pki, Server, Vouch, check_of, closed_port_url, expired_ca, probe_of, self_signed_leaf,
    text, tls_server, write_file,
};

/// Runs one `tls` probe (`settings` is the YAML flow map's inside) against
/// `target` and returns the output and the probe's outcome.
fn run(target: &str, settings: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\nname: tls test\ntarget: {target}\ndefaults:\n  timeout: 5s\nitems:\n  - item: TLS\n    probes:\n      - tls: {{ {settings} }}\n"
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
    let probe = probe_of(&report, "TLS").clone();
    (out, probe)
}

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Taken off whole days so that the seconds a test takes never change the
/// days and hours it expects: `90 * DAY - SLACK` reads `89 days 23 hours`.
const SLACK: i64 = 1_800;

fn ca(pki: &Pki) -> String {
    format!("ca: '{}'", pki.ca_path().display())
}

fn summary(probe: &Value) -> &str {
    probe["summary"].as_str().expect("summary")
}

#[test]
fn a_chain_to_the_given_ca_is_trusted_and_read() {
    let pki = Pki::new();
    let leaf = pki.leaf_between(&["localhost", "127.0.0.1"], -DAY, 90 * DAY - SLACK);
    let server = tls_server(&leaf, false);
    let (out, probe) = run(&server.url(), &ca(&pki));
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
    let names: Vec<&str> = probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["handshake", "trusted", "hostname", "expires_in"]);
    let e = &probe["evidence"];
    assert_eq!(e["version"], "TLSv1.3");
    assert_eq!(e["alpn"], "http/1.1");
    assert!(e["cipher"].as_str().expect("cipher").starts_with("TLS13_"));
    assert_eq!(e["verification"]["trusted"], true);
    let leaf = &e["certificates"][0];
    assert_eq!(leaf["subject"], "CN=localhost");
    assert_eq!(leaf["issuer"], "CN=vouch test CA");
    assert_eq!(leaf["sans"], serde_json::json!(["localhost", "127.0.0.1"]));
    // 89 days 23 hours and a half: never rounded up.
    assert_eq!(leaf["days_left"], 89);
    let seconds = leaf["seconds_left"].as_i64().expect("seconds_left");
    assert!(
        (90 * DAY - SLACK - 60..=90 * DAY - SLACK).contains(&seconds),
        "{seconds}"
    );
    assert!(leaf["not_after"].as_str().expect("date").ends_with('Z'));
    assert!(!leaf["serial"].as_str().expect("serial").is_empty());
    assert!(
        summary(&probe).contains("CN=localhost expires in 89 days 23 hours"),
        "{}",
        summary(&probe)
    );
}

#[test]
fn without_the_ca_the_chain_is_untrusted_but_still_read() {
    let pki = Pki::new();
    let leaf = pki.leaf_between(&["localhost", "127.0.0.1"], -DAY, 90 * DAY - SLACK);
    let server = tls_server(&leaf, false);
    let (_, probe) = run(&server.url(), "");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check_of(&probe, "trusted")["actual"], "no (unknown issuer)");
    assert_eq!(check_of(&probe, "hostname")["passed"], true);
    assert_eq!(check_of(&probe, "handshake")["passed"], true);
    assert_eq!(
        probe["evidence"]["verification"]["reason"],
        "unknown_issuer"
    );
    assert_eq!(probe["evidence"]["certificates"][0]["days_left"], 89);
}

#[test]
fn a_self_signed_leaf_for_the_right_name_fails_trust_only() {
    let server = tls_server(&self_signed_leaf(&["localhost"]), false);
    let port = server.url().rsplit(':').next().expect("port").to_owned();
    let (_, probe) = run(
        &server.url(),
        &format!("endpoint: '127.0.0.1:{port}', sni: localhost"),
    );
    assert_eq!(check_of(&probe, "trusted")["passed"], false, "{probe:#}");
    assert_eq!(check_of(&probe, "hostname")["passed"], true, "{probe:#}");
    assert_eq!(probe["evidence"]["sni"], "localhost");
}

#[test]
fn an_expired_leaf_is_reported_with_negative_days() {
    let pki = Pki::new();
    let leaf = pki.leaf_between(&["localhost", "127.0.0.1"], -30 * DAY, -3 * DAY - SLACK);
    let server = tls_server(&leaf, false);
    let (_, probe) = run(&server.url(), &ca(&pki));
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    // Expired 3 days and half an hour ago: whole days rounded down.
    assert_eq!(probe["evidence"]["certificates"][0]["days_left"], -4);
    assert_eq!(check_of(&probe, "trusted")["actual"], "no (expired)");
    let expiry = check_of(&probe, "expires_in");
    assert_eq!(expiry["passed"], false);
    assert!(
        expiry["actual"]
            .as_str()
            .expect("actual")
            .starts_with("expired 3 days ago (not after "),
        "{expiry:#}"
    );
    assert!(
        summary(&probe).contains("expired 3 days ago"),
        "{}",
        summary(&probe)
    );
}

#[test]
fn a_leaf_for_another_host_fails_hostname_and_is_still_read() {
    let pki = Pki::new();
    let server = tls_server(&pki.leaf_for(&["other.example"], -1, 90), false);
    let (_, probe) = run(&server.url(), &ca(&pki));
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check_of(&probe, "trusted")["passed"], true, "{probe:#}");
    let hostname = check_of(&probe, "hostname");
    assert_eq!(hostname["passed"], false);
    assert_eq!(hostname["actual"], "no (names: other.example)");
    assert_eq!(
        probe["evidence"]["certificates"][0]["subject"],
        "CN=other.example"
    );
}

#[test]
fn a_leaf_expiring_in_10_days_fails_a_30_day_minimum() {
    let pki = Pki::new();
    let leaf = pki.leaf_between(&["localhost", "127.0.0.1"], -80 * DAY, 10 * DAY - SLACK);
    let server = tls_server(&leaf, false);
    let (_, probe) = run(
        &server.url(),
        &format!(
            "{}, expect: {{ trusted: true, expires_in: {{ min: 30d }} }}",
            ca(&pki)
        ),
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let expiry = check_of(&probe, "expires_in");
    assert_eq!(expiry["expected"], ">= 30d");
    assert!(
        expiry["actual"]
            .as_str()
            .expect("actual")
            .starts_with("9 days 23 hours left"),
        "{expiry:#}"
    );
    assert_eq!(probe["evidence"]["certificates"][0]["days_left"], 9);
    assert!(summary(&probe).contains("expires_in: expected >= 30d, got 9 days 23 hours left"));
}

#[test]
fn days_left_are_never_rounded_up_across_a_threshold() {
    let pki = Pki::new();
    let hour = 3_600;
    // 29 days 22 hours (and a minute, so that the seconds the test takes do not matter).
    let leaf = pki.leaf_between(
        &["localhost", "127.0.0.1"],
        -86_400,
        29 * 86_400 + 22 * hour + 60,
    );
    let server = tls_server(&leaf, false);
    let (_, probe) = run(
        &server.url(),
        &format!("{}, expect: {{ expires_in: {{ min: 30d }} }}", ca(&pki)),
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let expiry = check_of(&probe, "expires_in");
    assert_eq!(expiry["passed"], false);
    assert!(
        expiry["actual"]
            .as_str()
            .expect("actual")
            .starts_with("29 days 22 hours left (not after "),
        "{expiry:#}"
    );
    let cert = &probe["evidence"]["certificates"][0];
    assert_eq!(cert["days_left"], 29, "{cert:#}");
    let seconds = cert["seconds_left"].as_i64().expect("seconds_left");
    assert!(
        (29 * 86_400 + 22 * hour..=29 * 86_400 + 22 * hour + 60).contains(&seconds),
        "{seconds}"
    );
    assert_eq!(probe["evidence"]["chain_expires"]["days_left"], 29);
    assert!(
        summary(&probe).contains("expected >= 30d, got 29 days 22 hours left"),
        "{}",
        summary(&probe)
    );
}

#[test]
fn an_intermediate_expiring_first_is_reported_separately() {
    let pki = Pki::new();
    let server = tls_server(
        &pki.leaf_via_intermediate_seconds(5 * DAY - SLACK, 60 * DAY),
        false,
    );
    let (_, probe) = run(
        &server.url(),
        &format!(
            "{}, expect: {{ trusted: true, expires_in: {{ min: 30d }}, chain_expires_in: {{ min: 30d }} }}",
            ca(&pki)
        ),
    );
    assert_eq!(check_of(&probe, "trusted")["passed"], true, "{probe:#}");
    assert_eq!(check_of(&probe, "expires_in")["passed"], true, "{probe:#}");
    let chain = check_of(&probe, "chain_expires_in");
    assert_eq!(chain["passed"], false);
    assert!(
        chain["actual"]
            .as_str()
            .expect("actual")
            .starts_with("4 days 23 hours left (CN=vouch test intermediate; not after"),
        "{chain:#}"
    );
    let e = &probe["evidence"];
    assert_eq!(e["certificates"].as_array().expect("chain").len(), 2);
    assert_eq!(e["certificates"][1]["ca"], true);
    assert_eq!(e["chain_expires"]["days_left"], 4);
    assert_eq!(e["chain_expires"]["subject"], "CN=vouch test intermediate");
}

#[test]
fn an_expired_certificate_sent_but_not_on_the_path_does_not_count() {
    let pki = Pki::new();
    let mut identity = pki.leaf_via_intermediate(60, 50);
    identity.chain.push(expired_ca("vouch old root"));
    let server = tls_server(&identity, false);
    let (out, probe) = run(
        &server.url(),
        &format!(
            "{}, expect: {{ trusted: true, hostname: true, expires_in: {{ min: 30d }}, chain_expires_in: {{ min: 14d }} }}",
            ca(&pki)
        ),
    );
    assert_eq!(probe["verdict"], "pass", "{}\n{probe:#}", out.dump());
    let e = &probe["evidence"];
    let certs = e["certificates"].as_array().expect("chain");
    assert_eq!(certs.len(), 3, "{probe:#}");
    assert_eq!(certs[0]["on_path"], true);
    assert_eq!(certs[1]["on_path"], true);
    assert_eq!(certs[2]["on_path"], false);
    assert!(
        certs[2]["seconds_left"]
            .as_i64()
            .is_some_and(|s| s <= -30 * DAY),
        "{probe:#}"
    );
    // The earliest on the path is the leaf (50 days); the anchor is the test CA.
    assert_eq!(e["chain_expires"]["subject"], "CN=localhost", "{probe:#}");
    assert_eq!(e["chain_expires"]["over"], "the verified path");
    assert_eq!(e["anchor"]["subject"], "CN=vouch test CA", "{probe:#}");
    let extra = e["not_on_path"].as_array().expect("not_on_path");
    assert_eq!(extra.len(), 1);
    assert_eq!(extra[0]["subject"], "CN=vouch old root");
    assert_eq!(extra[0]["status"], "sent, not on the path");
    let chain = check_of(&probe, "chain_expires_in");
    assert!(
        chain["actual"]
            .as_str()
            .expect("actual")
            .ends_with("; 1 sent certificate not on the path, not counted)"),
        "{chain:#}"
    );

    // Behind an intermediate that expires first, with the same extra
    // certificate: the intermediate, on the path, is the earliest.
    let mut identity = pki.leaf_via_intermediate_seconds(5 * DAY - SLACK, 60 * DAY);
    identity.chain.push(expired_ca("vouch old root"));
    let server = tls_server(&identity, false);
    let (_, probe) = run(
        &server.url(),
        &format!(
            "{}, expect: {{ chain_expires_in: {{ min: 14d }} }}",
            ca(&pki)
        ),
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(
        probe["evidence"]["chain_expires"]["subject"], "CN=vouch test intermediate",
        "{probe:#}"
    );
    assert!(
        check_of(&probe, "chain_expires_in")["actual"]
            .as_str()
            .expect("actual")
            .starts_with("4 days 23 hours left (CN=vouch test intermediate; "),
        "{probe:#}"
    );

    // Untrusted (no `ca`): no path was built, so everything sent counts, and
    // the check says so.
    let (_, probe) = run(&server.url(), "expect: { chain_expires_in: { min: 14d } }");
    let e = &probe["evidence"];
    assert_eq!(
        e["chain_expires"]["subject"], "CN=vouch old root",
        "{probe:#}"
    );
    assert_eq!(
        e["chain_expires"]["over"],
        "the certificates as sent (the chain did not verify)"
    );
    assert!(e["not_on_path"].is_null());
    assert!(e["certificates"][0]["on_path"].is_null());
    assert!(
        check_of(&probe, "chain_expires_in")["actual"]
            .as_str()
            .expect("actual")
            .contains("over the certificates as sent (the chain did not verify)"),
        "{probe:#}"
    );
}

#[test]
fn protocol_minimum_and_exact_version() {
    let pki = Pki::new();
    let leaf = pki.leaf_for(&["localhost", "127.0.0.1"], -1, 90);
    let modern = tls_server(&leaf, false);
    let (_, probe) = run(
        &modern.url(),
        &format!("{}, expect: {{ protocol: {{ min: TLSv1.2 }} }}", ca(&pki)),
    );
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(check_of(&probe, "protocol")["actual"], "TLSv1.3");

    let old = tls_server(&leaf, true);
    let (_, probe) = run(
        &old.url(),
        &format!("{}, expect: {{ protocol: TLSv1.3 }}", ca(&pki)),
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let protocol = check_of(&probe, "protocol");
    assert_eq!(protocol["expected"], "TLSv1.3");
    assert_eq!(protocol["actual"], "TLSv1.2");
    assert_eq!(probe["evidence"]["version"], "TLSv1.2");
    assert!(
        probe["evidence"]["cipher"]
            .as_str()
            .expect("cipher")
            .starts_with("TLS_ECDHE_ECDSA_")
    );
}

#[test]
fn key_type_and_size_of_an_ecdsa_p256_leaf() {
    let pki = Pki::new();
    let server = tls_server(&pki.leaf_for(&["localhost", "127.0.0.1"], -1, 90), false);
    let (_, probe) = run(
        &server.url(),
        &format!(
            "{}, expect: {{ key: {{ type: ecdsa, min_bits: 256 }} }}",
            ca(&pki)
        ),
    );
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(check_of(&probe, "key type")["actual"], "ecdsa P-256");
    assert_eq!(check_of(&probe, "key bits")["actual"], "256");
    let (_, probe) = run(
        &server.url(),
        &format!(
            "{}, expect: {{ key: {{ type: rsa, min_bits: 2048 }} }}",
            ca(&pki)
        ),
    );
    assert_eq!(check_of(&probe, "key type")["passed"], false);
    assert_eq!(check_of(&probe, "key bits")["passed"], false);
}

#[test]
fn san_subject_issuer_and_ocsp_matchers() {
    let pki = Pki::new();
    let server = tls_server(&pki.leaf_for(&["localhost", "127.0.0.1"], -1, 90), false);
    let (_, probe) = run(
        &server.url(),
        &format!(
            "{}, expect: {{ san: {{ contains: localhost }}, subject: CN=localhost, issuer: {{ matches: 'vouch test' }}, ocsp_stapled: false }}",
            ca(&pki)
        ),
    );
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    let (_, probe) = run(
        &server.url(),
        &format!(
            "{}, expect: {{ san: {{ contains: api.example.com }}, ocsp_stapled: true }}",
            ca(&pki)
        ),
    );
    assert_eq!(check_of(&probe, "san")["passed"], false, "{probe:#}");
    assert_eq!(check_of(&probe, "ocsp_stapled")["actual"], "no");
}

#[test]
fn mtls_with_a_client_certificate_completes() {
    let pki = Pki::new();
    let server = Server::mtls(&pki, |_| text(200, "ok"));
    let (cert, key) = pki.client_identity();
    let (out, probe) = run(
        &server.url(),
        &format!(
            "{}, client_cert: '{}', client_key: '{}'",
            ca(&pki),
            cert.display(),
            key.display()
        ),
    );
    assert_eq!(probe["verdict"], "pass", "{}", out.dump());
}

#[test]
fn a_closed_port_fails_as_refused() {
    let (_, probe) = run(&closed_port_url(), "");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert!(summary(&probe).contains("refused"), "{}", summary(&probe));
    assert_eq!(check_of(&probe, "connect")["actual"], "connection refused");
}

#[test]
fn the_tls_edge_pack_passes_a_good_chain_that_also_sends_an_expired_certificate() {
    // A correctly served chain (leaf → intermediate → the CA, all valid for
    // months) plus an expired old root the server still sends.
    let pki = Pki::new();
    let mut identity = pki.leaf_via_intermediate(120, 90);
    identity.chain.push(expired_ca("vouch old root"));
    let server = tls_server(&identity, false);
    let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/probes/tls-edge.yaml");
    let out = Vouch::new([
        "run",
        "--format",
        "json",
        "--target",
        &server.url().replacen("http://", "https://", 1),
        "--only",
        "TLS",
        pack,
    ])
    // The pack is used as shipped: the private CA comes in as a system root.
    .env("SSL_CERT_FILE", pki.ca_path())
    .run();
    let report = out.json();
    let item = &report["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| {
            i["item"]
                .as_str()
                .is_some_and(|n| n.starts_with("TLS certificate trusted"))
        })
        .unwrap_or_else(|| panic!("no TLS item:\n{}", out.dump()))
        .clone();
    assert_eq!(item["verdict"], "verified", "{item:#}\n{}", out.dump());
    let probe = &item["probes"][0];
    assert_eq!(check_of(probe, "chain_expires_in")["passed"], true);
    assert_eq!(
        probe["evidence"]["not_on_path"][0]["subject"], "CN=vouch old root",
        "{probe:#}"
    );
    out.assert_code(0);
}
