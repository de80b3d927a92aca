//! Hostile and broken HTTP, TLS and MCP peers (issue 15): servers that stall,
//! drip, never end, lie about lengths, redirect in circles or to closed
//! ports, and flood headers. Each run must end within its timeout plus one
//! second, with the right verdict, and a timeout must name the phase it
//! struck in and what had been reached.

#[path = "support/server.rs"]
mod server;

use std::time::Duration;

use serde_json::Value;
use server::{Output, Pki, RawServer, Server, closed_port_url, json, probe_of, respond};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The timeout every run here is given.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Runs one probe (YAML under `probes:`) against `target` with a 1 s
/// timeout, asserts the run ended within the timeout plus one second, and
/// returns the output and the probe's outcome.
fn run_probe(target: &str, probe: &str, extra: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = server::probe_file(
        target,
        &format!("  - item: Hostile\n    probes:\n      - {probe}\n"),
    );
    let mut args = vec!["run", "--format", "json", "--timeout", "1s", "probes.yaml"];
    args.extend_from_slice(extra);
    server::write_file(dir.path(), "probes.yaml", &yaml);
    let out = server::Vouch::new(args).current_dir(dir.path()).run();
    assert!(
        out.elapsed <= TIMEOUT + Duration::from_secs(1),
        "the run took {:?}, over the timeout + 1 s\n{}",
        out.elapsed,
        out.dump()
    );
    let report = out.json();
    let probe = probe_of(&report, "Hostile").clone();
    (out, probe)
}

fn summary(probe: &Value) -> &str {
    probe["summary"].as_str().expect("summary")
}

/// Reads a request head (up to the blank line) so the peer sees an answer
/// only after it asked.
async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// A server that reads the request, writes `answer`, then holds the
/// connection open without a word more.
fn answers_then_stalls(answer: &'static [u8]) -> RawServer {
    RawServer::start(move |mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(answer).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
}

#[test]
fn slow_headers_time_out_waiting_for_the_response_headers() {
    let server = answers_then_stalls(b"");
    let (_, probe) = run_probe(&server.url(), "http: {get: /slow}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("timed out after 1s waiting for the response headers (connected in "),
        "{summary}"
    );
    let progress = &probe["evidence"]["progress"];
    assert_eq!(progress["phase"], "waiting for the response headers");
}

#[test]
fn a_dripping_body_times_out_reading_the_body_with_what_came() {
    let server = RawServer::start(|mut stream| async move {
        read_head(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\n";
        let _ = stream.write_all(head).await;
        let _ = stream.write_all(&[b'a'; 4096]).await;
        for _ in 0..600 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(b"a").await.is_err() {
                return;
            }
        }
    });
    let (_, probe) = run_probe(&server.url(), "http: {get: /drip}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("timed out after 1s reading the body (connected in "),
        "{summary}"
    );
    assert!(summary.contains("200 received after "), "{summary}");
    assert!(summary.contains(" KiB read)"), "{summary}");
    let progress = &probe["evidence"]["progress"];
    assert_eq!(progress["phase"], "reading the body");
    assert!(progress["body_bytes"].as_u64().is_some_and(|n| n >= 4096));
}

#[test]
fn an_endless_chunked_body_is_cut_at_the_limit() {
    let server = RawServer::start(|mut stream| async move {
        read_head(&mut stream).await;
        let head =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        let _ = stream.write_all(head).await;
        let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let (_, probe) = run_probe(
        &server.url(),
        "http: {get: /endless}",
        &["--body-limit", "64KiB"],
    );
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("body size: expected at most 64.0 KiB, got more than 64.0 KiB"),
        "{summary}"
    );
    assert_eq!(probe["evidence"]["response"]["body_bytes"], 64 * 1024);
}

#[test]
fn an_endless_slow_chunked_body_times_out_reading_the_body() {
    let server = RawServer::start(|mut stream| async move {
        read_head(&mut stream).await;
        let head =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        let _ = stream.write_all(head).await;
        let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
        while stream.write_all(chunk.as_bytes()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let (_, probe) = run_probe(&server.url(), "http: {get: /endless}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("timed out after 1s reading the body ("),
        "{summary}"
    );
    assert!(summary.contains(" KiB read)"), "{summary}");
}

#[test]
fn a_lying_content_length_times_out_reading_the_body() {
    let server = answers_then_stalls(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\nonly ten b",
    );
    let (_, probe) = run_probe(&server.url(), "http: {get: /short}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("timed out after 1s reading the body (") && summary.contains("10 B read)"),
        "{summary}"
    );
}

#[test]
fn a_lying_content_length_then_close_is_a_failed_body() {
    let server = RawServer::start(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly ten b")
            .await;
    });
    let (_, probe) = run_probe(&server.url(), "http: {get: /short}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(summary.contains("reading the body: "), "{summary}");
}

/// A TCP server that accepts and reads, never answering (a TLS peer that
/// never sends its ServerHello).
fn silent_peer() -> RawServer {
    RawServer::start(|mut stream| async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    })
}

#[test]
fn tls_that_never_answers_the_client_hello_names_the_phase() {
    let server = silent_peer();
    let target = server.url().replace("http://", "https://");
    let (_, probe) = run_probe(&target, "tls: {}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("timed out after 1s waiting for the TLS ServerHello (connected in "),
        "{summary}"
    );
    assert_eq!(
        probe["evidence"]["progress"]["phase"],
        "waiting for the TLS ServerHello"
    );
}

#[test]
fn https_that_never_answers_names_the_phase() {
    let server = silent_peer();
    let target = server.url().replace("http://", "https://");
    let (_, probe) = run_probe(&target, "http: {get: /}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains(
            "timed out after 1s waiting for the connection, the TLS handshake or the response headers"
        ),
        "{summary}"
    );
}

#[test]
fn a_tcp_hello_without_a_reply_names_the_phase() {
    let server = silent_peer();
    let address = server.url().replace("http://", "");
    let (_, probe) = run_probe(
        "http://127.0.0.1",
        &format!("tcp: {{address: \"{address}\", hello: redis}}"),
        &[],
    );
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("timed out after 1s waiting for the reply to PING (connected in "),
        "{summary}"
    );
}

#[test]
fn an_mcp_server_silent_after_initialize_names_the_call_and_the_session() {
    let server = Server::http_async(|request| async move {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        if body.contains("\"initialize\"") {
            let answer = json(
                r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"hostile","version":"1"}}}"#,
            );
            return server::with_header(answer, "mcp-session-id", "abc12345-session-token-xyz");
        }
        if body.contains("notifications/initialized") {
            return respond(202, "application/json", "");
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        respond(500, "text/plain", "late")
    });
    let (_, probe) = run_probe(&server.url(), "mcp: {url: /mcp}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("timed out after 1s waiting for "),
        "{summary}"
    );
    assert!(
        summary.contains("initialized (2025-06-18), session abc12345…"),
        "{summary}"
    );
    assert!(!summary.contains("session-token"), "{summary}");
}

#[test]
fn an_endless_sse_stream_without_the_answer_names_the_call() {
    let server = RawServer::start(|mut stream| async move {
        read_head(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let _ = stream.write_all(head).await;
        let event = "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n";
        let chunk = format!("{:x}\r\n{event}\r\n", event.len());
        while stream.write_all(chunk.as_bytes()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let (_, probe) = run_probe(&server.url(), "mcp: {url: /mcp}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("timed out after 1s reading the initialize answer (200 received after "),
        "{summary}"
    );
    assert!(summary.contains(" read)"), "{summary}");
}

#[test]
fn a_redirect_loop_fails_and_names_the_last_hop() {
    let server = Server::http(|request| {
        let next = if request.path() == "/a" { "/b" } else { "/a" };
        server::with_header(respond(302, "text/plain", ""), "location", next)
    });
    let (_, probe) = run_probe(&server.url(), "http: {get: /a}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("redirect loop or more than 10 redirects (the last: 302 → "),
        "{summary}"
    );
}

#[test]
fn a_redirect_to_a_refused_port_names_the_hop() {
    let refused = format!("{}/", closed_port_url());
    let location = refused.clone();
    let server = Server::http(move |_| {
        server::with_header(respond(302, "text/plain", ""), "location", &location)
    });
    let (_, probe) = run_probe(&server.url(), "http: {get: /start}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains(&format!("302 → {refused}: ")) && summary.contains("connection refused"),
        "{summary}"
    );
}

#[test]
fn a_redirect_to_https_that_refuses_names_the_hop() {
    let refused = format!("{}/", closed_port_url().replace("http://", "https://"));
    let location = refused.clone();
    let server = Server::http(move |_| {
        server::with_header(respond(301, "text/plain", ""), "location", &location)
    });
    let (_, probe) = run_probe(&server.url(), "http: {get: /start}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains(&format!("301 → {refused}: ")) && summary.contains("connection refused"),
        "{summary}"
    );
}

/// A raw response with `count` header fields of `value_len` bytes each.
fn many_headers(count: usize, value_len: usize) -> &'static [u8] {
    let mut head = String::from("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n");
    for i in 0..count {
        head.push_str(&format!("x-field-{i}: {}\r\n", "v".repeat(value_len)));
    }
    head.push_str("content-length: 2\r\nconnection: close\r\n\r\nok");
    Box::leak(head.into_bytes().into_boxed_slice())
}

#[test]
fn a_response_with_150_header_fields_passes() {
    let server = answers_then_stalls(many_headers(150, 4));
    let (_, probe) = run_probe(&server.url(), "http: {get: /many}", &[]);
    assert_eq!(probe["verdict"], "pass", "{}", summary(&probe));
}

#[test]
fn a_300_kib_header_flood_fails_with_the_limit_named() {
    let server = answers_then_stalls(many_headers(300, 1024));
    let (_, probe) = run_probe(&server.url(), "http: {get: /flood}", &[]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("response head too large: vouch reads at most 256.0 KiB"),
        "{summary}"
    );
}

#[test]
fn over_https_150_header_fields_pass_and_a_flood_fails_with_the_limit_named() {
    let pki = Pki::new();
    let server = Server::https(&pki, |request| {
        let (count, len) = if request.path() == "/flood" {
            (300, 1024)
        } else {
            (150, 4)
        };
        let mut response = respond(200, "text/plain", "ok");
        for i in 0..count {
            let name = hyper::header::HeaderName::from_bytes(format!("x-field-{i}").as_bytes())
                .expect("header name");
            let value = hyper::header::HeaderValue::from_str(&"v".repeat(len)).expect("value");
            response.headers_mut().insert(name, value);
        }
        response
    });
    let ca = pki.ca_path();
    let ca = ca.to_str().expect("utf-8 path");
    let (_, probe) = run_probe(&server.url(), "http: {get: /many}", &["--ca-file", ca]);
    assert_eq!(probe["verdict"], "pass", "{}", summary(&probe));
    let (_, probe) = run_probe(&server.url(), "http: {get: /flood}", &["--ca-file", ca]);
    assert_eq!(probe["verdict"], "fail");
    let summary = summary(&probe);
    assert!(
        summary.contains("response head too large: vouch reads at most 256.0 KiB"),
        "{summary}"
    );
}
