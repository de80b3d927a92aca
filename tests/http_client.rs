//! What vouch's HTTP client sends and follows, seen from the servers' side:
//! default headers, gzip, keep-alive, redirects (method and body rules,
//! credentials across origins, the hop budget across plain HTTP and HTTPS),
//! and a proxy named by the environment.

#[path = "support/server.rs"]
mod server;

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;
use server::{
    Output, Pki, RawServer, Request, Server, Vouch, closed_port_url, json as json_response,
    probe_file, probe_of, respond, text, with_header, write_file,
};

/// Runs `vouch run --format json` on a probe file with `items` against `target`.
fn run(dir: &Path, target: &str, items: &str, env: &[(&str, &str)]) -> (Output, Value) {
    let file = write_file(dir, "probes.yaml", &probe_file(target, items));
    let file = file.display().to_string();
    let mut command = Vouch::new(["run", "--format", "json", &file]).current_dir(dir);
    for (name, value) in env {
        command = command.env(name, value);
    }
    let out = command.run();
    let report = out.json();
    (out, report)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[test]
fn requests_carry_default_headers_that_the_probe_file_can_replace() {
    let server = Server::http(|_| json_response(r#"{"ok":true}"#));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: Defaults
    probes:
      - http: { get: /defaults }
  - item: Replaced
    probes:
      - http:
          get: /replaced
          headers: { Accept: application/json, User-Agent: smoke/1, Accept-Encoding: identity }
"#;
    let (out, _) = run(dir.path(), &server.url(), items, &[]);
    out.assert_code(0);
    let log = server.log();
    let seen = |path: &str, name: &str| -> Vec<String> {
        let request = log.iter().find(|r| r.path() == path).expect("request");
        request
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let user_agent = concat!("vouch/", env!("CARGO_PKG_VERSION"));
    assert_eq!(seen("/defaults", "user-agent"), [user_agent]);
    assert_eq!(seen("/defaults", "accept"), ["*/*"]);
    assert_eq!(seen("/defaults", "accept-encoding"), ["gzip"]);
    assert_eq!(
        seen("/defaults", "host"),
        [server.url().replace("http://", "")]
    );
    assert_eq!(seen("/replaced", "user-agent"), ["smoke/1"]);
    assert_eq!(seen("/replaced", "accept"), ["application/json"]);
    assert_eq!(seen("/replaced", "accept-encoding"), ["identity"]);
}

#[test]
fn a_gzipped_body_is_checked_decompressed() {
    let body = gzip(br#"{"status":"healthy","items":[1,2,3]}"#);
    let server = Server::http(move |_| {
        with_header(
            respond(200, "application/json", body.clone()),
            "content-encoding",
            "gzip",
        )
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: Compressed
    probes:
      - http:
          get: /api
          expect:
            json: { $.status: healthy, "$.items[2]": 3 }
            body: { contains: healthy }
"#;
    let (out, report) = run(dir.path(), &server.url(), items, &[]);
    let probe = probe_of(&report, "Compressed");
    assert_eq!(probe["verdict"], "pass", "{probe:#}\n{}", out.dump());
    assert_eq!(
        probe["evidence"]["response"]["body_bytes"], 36,
        "decompressed length: {probe:#}"
    );
}

#[test]
fn a_broken_gzip_body_fails_with_evidence() {
    let server = Server::http(|_| {
        with_header(
            respond(200, "application/json", b"\x1f\x8bnot gzip at all".to_vec()),
            "content-encoding",
            "gzip",
        )
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Broken\n    probes:\n      - http: { get: /api }\n";
    let (out, report) = run(dir.path(), &server.url(), items, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Broken");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let error = probe["evidence"]["error"].as_str().expect("error");
    assert!(error.contains("gzip"), "{error}");
}

#[test]
fn probes_to_one_origin_share_keep_alive_connections() {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let server = RawServer::start(|stream| async move {
        let service = service_fn(|_| async {
            Ok::<_, std::convert::Infallible>(json_response(r#"{"ok":true}"#))
        });
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items: String = (0..40)
        .map(|i| format!("  - item: Probe {i}\n    probes:\n      - http: {{ get: /p{i} }}\n"))
        .collect();
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &probe_file(&server.url(), &items),
    );
    let file = file.display().to_string();
    let out = Vouch::new(["run", "--format", "json", "--concurrency", "1", &file]).run();
    out.assert_code(0);
    assert_eq!(out.json()["summary"]["probes"]["pass"], 40);
    // One connection per probe thread at most, not one per probe.
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(
        server.accepted() <= threads,
        "{} connections for 40 sequential probes on {threads} threads",
        server.accepted()
    );
}

/// A server whose `/see-other`, `/found` and `/temporary` redirect to
/// `/landing`, which echoes what arrived.
fn redirecting_server() -> Server {
    Server::http(|r: Request| match r.path() {
        "/see-other" => with_header(text(303, ""), "location", "/landing"),
        "/found" => with_header(text(302, ""), "location", "/landing"),
        "/temporary" => with_header(text(307, ""), "location", "/landing"),
        _ => json_response(
            &serde_json::json!({
                "method": r.method,
                "body": String::from_utf8_lossy(&r.body),
                "type": r.header("content-type").unwrap_or(""),
            })
            .to_string(),
        ),
    })
}

#[test]
fn a_303_or_302_turns_a_post_into_a_get_without_body_and_a_307_keeps_both() {
    let server = redirecting_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: See other
    probes:
      - http:
          post: /see-other
          json: { order: 1 }
          expect: { json: { $.method: GET, $.body: "", $.type: "" } }
  - item: Found
    probes:
      - http:
          post: /found
          json: { order: 2 }
          expect: { json: { $.method: GET, $.body: "" } }
  - item: Temporary
    probes:
      - http:
          post: /temporary
          json: { order: 3 }
          expect: { json: { $.method: POST, $.body: '{"order":3}', $.type: application/json } }
"#;
    let (out, report) = run(dir.path(), &server.url(), items, &[]);
    for item in ["See other", "Found", "Temporary"] {
        let probe = probe_of(&report, item);
        assert_eq!(
            probe["verdict"],
            "pass",
            "{item}: {probe:#}\n{}",
            out.dump()
        );
        assert_eq!(
            probe["evidence"]["response"]["final_url"],
            format!("{}/landing", server.url())
        );
    }
    out.assert_code(0);
}

#[test]
fn credentials_follow_a_redirect_within_the_origin_but_not_to_another() {
    let other = Server::http(|_| json_response(r#"{"where":"other"}"#));
    let elsewhere = format!("{}/landing", other.url());
    let home = Server::http(move |r: Request| match r.path() {
        "/away" => with_header(text(302, ""), "location", &elsewhere),
        "/near" => with_header(text(302, ""), "location", "/landing"),
        _ => json_response(r#"{"where":"home"}"#),
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = r#"  - item: Away
    probes:
      - http:
          get: /away
          headers: { Authorization: Bearer t0ken, X-API-Key: k3y, X-Trace: keep }
          expect: { json: { $.where: other } }
  - item: Near
    probes:
      - http:
          get: /near
          headers: { Authorization: Bearer t0ken }
          expect: { json: { $.where: home } }
"#;
    let (out, _) = run(dir.path(), &home.url(), items, &[]);
    out.assert_code(0);
    let landed = other.log();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].header("authorization"), None);
    assert_eq!(landed[0].header("x-api-key"), None);
    assert_eq!(landed[0].header("x-trace"), Some("keep"));
    assert_eq!(
        landed[0].header("host"),
        Some(other.url().trim_start_matches("http://"))
    );
    let home_log = home.log();
    let near = home_log
        .iter()
        .find(|r| r.path() == "/landing")
        .expect("same-origin hop");
    assert_eq!(near.header("authorization"), Some("Bearer t0ken"));
}

#[test]
fn a_redirect_from_http_to_https_is_followed_with_the_probes_trust() {
    let pki = Pki::new();
    let secure = Server::https(&pki, |r: Request| {
        json_response(&format!(r#"{{"path":"{}"}}"#, r.path()))
    });
    let upgrade = format!("{}/secure", secure.url());
    let plain = Server::http(move |_| with_header(text(301, ""), "location", &upgrade));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = format!(
        "  - item: Upgraded\n    probes:\n      - http:\n          get: /\n          ca: {}\n          expect: {{ json: {{ $.path: /secure }} }}\n",
        pki.ca_path().display()
    );
    let (out, report) = run(dir.path(), &plain.url(), &items, &[]);
    let probe = probe_of(&report, "Upgraded");
    assert_eq!(probe["verdict"], "pass", "{probe:#}\n{}", out.dump());
    assert_eq!(
        probe["evidence"]["response"]["final_url"],
        format!("{}/secure", secure.url())
    );
}

#[test]
fn the_redirect_budget_counts_hops_on_both_sides_of_an_upgrade() {
    // Six hops on plain HTTP, then an HTTPS server that redirects forever:
    // the probe gives up after ten redirects in all, eleven requests.
    let pki = Pki::new();
    let secure = Server::https(&pki, |r: Request| {
        let n: u32 = r.path().trim_start_matches("/s").parse().unwrap_or(0);
        with_header(text(302, ""), "location", &format!("/s{}", n + 1))
    });
    let secure_url = secure.url();
    let plain = Server::http(move |r: Request| {
        let n: u32 = r.path().trim_start_matches("/p").parse().unwrap_or(0);
        let next = if n < 6 {
            format!("/p{}", n + 1)
        } else {
            format!("{secure_url}/s0")
        };
        with_header(text(302, ""), "location", &next)
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = format!(
        "  - item: Endless\n    probes:\n      - http:\n          get: /p0\n          ca: {}\n",
        pki.ca_path().display()
    );
    let (out, report) = run(dir.path(), &plain.url(), &items, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Endless");
    let error = probe["evidence"]["error"].as_str().expect("error");
    assert!(error.contains("redirect"), "{error}");
    assert_eq!(plain.requests(), 7, "p0..p6");
    assert_eq!(
        secure.requests(),
        4,
        "s0..s3: the last redirect is the 11th"
    );
}

#[test]
fn a_proxy_named_by_the_environment_carries_plain_http() {
    // The target's port is closed: only the proxy can answer.
    let target = closed_port_url();
    let proxy = Server::http(|r: Request| json_response(&format!(r#"{{"proxied":"{}"}}"#, r.uri)));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = "  - item: Through the proxy\n    probes:\n      - http: { get: /health }\n";
    let (out, report) = run(
        dir.path(),
        &target,
        items,
        &[("HTTP_PROXY", proxy.url().as_str())],
    );
    out.assert_code(0);
    let probe = probe_of(&report, "Through the proxy");
    let body = probe["evidence"]["response"]["body_excerpt"]
        .as_str()
        .expect("body");
    assert_eq!(body, format!(r#"{{"proxied":"{target}/health"}}"#));
    assert_eq!(proxy.requests(), 1);
}
