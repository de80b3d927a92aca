//! The hostile-target suite, part one: peers that misbehave at the protocol
//! level (an endless event stream, a WebSocket flood and an oversize frame,
//! garbage TCP replies, nesting bombs). Each case asserts the verdict, that
//! the run ends within the probe's timeout plus a second, and that the report
//! stays small whatever the peer sent. (`hostile_fetch.rs` and
//! `hostile_evidence.rs` hold the HTTP and evidence cases.)

#[path = "support/server.rs"]
mod server;

use std::time::Duration;

use server::{RawServer, Server, probe_file, probe_of, respond, run_report};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The probes' timeout in these files.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes a one-probe JSON report may take, whatever the peer sent.
const REPORT_CAP: usize = 64 * 1024;

/// Runs one item against `target` and returns its only probe's outcome,
/// after asserting the run's time and report size bounds.
fn run_one(target: &str, item: &str, probe: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = format!("  - item: {item}\n    probes:\n{probe}");
    let yaml = probe_file(target, &items).replace(
        "items:\n",
        &format!("defaults:\n  timeout: {}s\nitems:\n", TIMEOUT.as_secs()),
    );
    let (out, report) = run_report(dir.path(), &yaml, &[]);
    // The process's wall time also holds its start and exit, slow on a
    // loaded machine: the bound of a second is on the probe's own time.
    assert!(
        out.elapsed < TIMEOUT + Duration::from_secs(3),
        "`{item}` took {:?} (timeout {TIMEOUT:?})\n{}",
        out.elapsed,
        out.dump()
    );
    assert!(
        out.stdout.len() < REPORT_CAP,
        "`{item}`: a {} B report",
        out.stdout.len()
    );
    let probe = probe_of(&report, item).clone();
    let took = probe["duration_ms"].as_f64().unwrap_or(f64::MAX);
    assert!(
        took < (TIMEOUT + Duration::from_secs(1)).as_secs_f64() * 1e3,
        "`{item}`: the probe took {took} ms\n{probe:#}"
    );
    probe
}

/// Reads an HTTP request head (up to the blank line), ignoring its body.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The `Sec-WebSocket-Accept` answer to a key (RFC 6455 §4.2.2).
fn accept_key(head: &str) -> String {
    let key = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes())
}

/// Answers the upgrade, then hands the stream to `after`.
fn websocket_server<F, Fut>(after: F) -> RawServer
where
    F: Fn(TcpStream) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    RawServer::start(move |mut stream| async move {
        let head = read_head(&mut stream).await;
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&head)
        );
        if stream.write_all(answer.as_bytes()).await.is_ok() {
            after(stream).await;
        }
    })
}

#[test]
fn an_endless_event_stream_fails_within_the_timeout() {
    // One `initialize` answer as SSE that never ends: data lines forever.
    let peer = RawServer::start(|mut stream| async move {
        read_head(&mut stream).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let line = format!("data: {}\n", "x".repeat(4000));
        let chunk = format!("{:x}\r\n{line}\r\n", line.len());
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let probe = run_one(
        &peer.url(),
        "MCP over an endless stream",
        "      - mcp:\n          url: /mcp\n",
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
}

#[test]
fn an_endless_event_line_without_a_newline_fails_within_the_timeout() {
    let peer = RawServer::start(|mut stream| async move {
        read_head(&mut stream).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\ndata: ";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let piece = "y".repeat(8192);
        let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
        while stream.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let probe = run_one(
        &peer.url(),
        "MCP over one endless line",
        "      - mcp:\n          url: /mcp\n",
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
}

#[test]
fn a_websocket_flood_fails_within_the_timeout() {
    // Unsolicited text frames as fast as the socket takes them, none the expected echo.
    let peer = websocket_server(|mut stream| async move {
        let frame = [&[0x81u8, 5][..], b"flood"].concat();
        while stream.write_all(&frame).await.is_ok() {}
    });
    let probe = run_one(
        &peer.url(),
        "WebSocket against a flood",
        "      - websocket:\n          url: /ws\n          send: ping\n          expect:\n            receive: ping\n",
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
}

#[test]
fn an_oversize_websocket_frame_is_refused_not_buffered() {
    // A frame header announcing 8 GiB, then bytes forever.
    let peer = websocket_server(|mut stream| async move {
        let mut header = vec![0x82u8, 127];
        header.extend_from_slice(&(8u64 << 30).to_be_bytes());
        if stream.write_all(&header).await.is_err() {
            return;
        }
        let junk = vec![0u8; 64 * 1024];
        while stream.write_all(&junk).await.is_ok() {}
    });
    let probe = run_one(
        &peer.url(),
        "WebSocket with an oversize frame",
        "      - websocket:\n          url: /ws\n          send: ping\n          expect:\n            receive: ping\n",
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let summary = probe["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("too long") || summary.contains("too big") || summary.contains("limit"),
        "the summary should name the size limit: {summary}"
    );
}

#[test]
fn garbage_tcp_replies_fail_the_protocol_hello() {
    // Binary garbage, including bytes that are no text at all, then close.
    let peer = RawServer::start(|mut stream| async move {
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf).await;
        let garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let _ = stream.write_all(&garbage).await;
    });
    for hello in ["redis", "postgres"] {
        let probe = run_one(
            &peer.url(),
            &format!("{hello} hello against garbage"),
            &format!("      - tcp:\n          hello: {hello}\n"),
        );
        assert_eq!(probe["verdict"], "fail", "{probe:#}");
    }
}

#[test]
fn an_endless_tcp_reply_is_read_up_to_its_cap() {
    let peer = RawServer::start(|mut stream| async move {
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf).await;
        let junk = vec![b'+'; 64 * 1024];
        while stream.write_all(&junk).await.is_ok() {}
    });
    let probe = run_one(
        &peer.url(),
        "An endless reply",
        "      - tcp:\n          send: \"PING\\r\\n\"\n          expect:\n            reply: '^\\+PONG\\r\\n$'\n",
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
}

#[test]
fn a_json_nesting_bomb_fails_cleanly() {
    // 100,000 nested arrays: a recursive reader would overflow its stack.
    let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let peer = Server::http(move |_| respond(200, "application/json", bomb.clone()));
    let probe = run_one(
        &peer.url(),
        "A nesting bomb",
        "      - http:\n          get: /\n          expect:\n            json:\n              $.status: ok\n",
    );
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    // Too deep to be a health document: read as a plain endpoint's 200.
    let health = run_one(
        &peer.url(),
        "A nesting bomb as a health answer",
        "      - health:\n          url: /\n",
    );
    assert_eq!(
        health["evidence"]["health"]["format"], "plain",
        "{health:#}"
    );
}

#[test]
fn a_yaml_nesting_bomb_is_a_load_error_not_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nested = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let yaml = format!("version: 1\nname: bomb\nvars:\n  x: {nested}\nitems: []\n");
    server::write_file(dir.path(), "bomb.yaml", &yaml);
    let out = server::Vouch::new(["check", "bomb.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(out.stderr.contains("bomb.yaml:"), "{}", out.dump());
}

#[test]
fn a_header_with_a_non_ascii_value_is_present_and_matched() {
    // Found by the escaping tests: `HeaderValue::to_str` takes visible ASCII
    // only, so a value with a bidi override or an accented name read as absent.
    let peer = Server::http(|_| {
        let mut response = respond(200, "text/plain", "ok");
        response.headers_mut().insert(
            "x-owner",
            hyper::header::HeaderValue::from_bytes("équipe \u{202e}sre".as_bytes())
                .expect("UTF-8 is a valid header value"),
        );
        response
    });
    let probe = run_one(
        &peer.url(),
        "A non-ASCII header",
        "      - http:\n          get: /\n          expect:\n            headers:\n              x-owner: { contains: équipe }\n",
    );
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    let absent = run_one(
        &peer.url(),
        "A non-ASCII header must be absent",
        "      - http:\n          get: /\n          expect:\n            headers:\n              x-owner: { absent: true }\n",
    );
    assert_eq!(absent["verdict"], "fail", "{absent:#}");
}
