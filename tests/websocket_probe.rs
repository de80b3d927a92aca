//! `websocket` probes end to end: the real `vouch` binary against in-process
//! WebSocket servers (tokio-tungstenite) — an echo that negotiates a
//! subprotocol, one that speaks first, one that answers wrongly, one that
//! drops the connection without a close frame, one over TLS — an HTTP server
//! that refuses the upgrade, a closed port, and the demo's `/ws`; and a real
//! feed that greets first, on PyPI `websockets` (`tests/peers/ws_greeter.py`,
//! started by `scripts/ws-greeter.sh`; its `http://` URL in
//! `VOUCH_TEST_WS_GREETER`).

#[path = "support/server.rs"]
mod server;

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use server::{Output, Pki, RawServer, Server, Vouch, closed_port_url, probe_of, text, write_file};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// What a WebSocket server does once the upgrade is done.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Sends every text or binary message back.
    Echo,
    /// Says `welcome` first, then echoes.
    Greet,
    /// Answers every message in upper case.
    Shout,
    /// Drops the connection at once, without a close frame.
    Drop,
    /// A market feed: says `welcome` first; to `subscribe NAME` sends three
    /// heartbeats, then `snapshot NAME`, then a tick; echoes anything else.
    Feed,
}

/// Upgrade headers each connection arrived with.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

// The handshake callback's error type is tungstenite's HTTP response.
#[allow(clippy::result_large_err)]
async fn serve<S>(stream: S, behaviour: Behaviour, seen: Seen)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let callback = |request: &Request, mut response: Response| {
        let headers = request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        seen.lock().expect("lock").push(headers);
        let offered = request
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if offered.split(',').any(|p| p.trim() == "chat.v2") {
            response.headers_mut().insert(
                "sec-websocket-protocol",
                "chat.v2".parse().expect("header value"),
            );
        }
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    behave(&mut ws, behaviour).await;
}

async fn behave<S>(ws: &mut WebSocketStream<S>, behaviour: Behaviour)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match behaviour {
        Behaviour::Drop => return,
        Behaviour::Greet | Behaviour::Feed => {
            if ws.send(Message::text("welcome to vouch")).await.is_err() {
                return;
            }
        }
        Behaviour::Echo | Behaviour::Shout => {}
    }
    // A close frame is answered by tungstenite; the stream then ends.
    while let Some(Ok(message)) = ws.next().await {
        if let (Message::Text(t), Behaviour::Feed) = (&message, behaviour)
            && let Some(name) = t.as_str().strip_prefix("subscribe ")
        {
            let mut replies: Vec<String> = (1..=3).map(|i| format!("heartbeat {i}")).collect();
            replies.push(format!("snapshot {name}"));
            replies.push(format!("tick {name} 1"));
            for reply in replies {
                if ws.send(Message::text(reply)).await.is_err() {
                    return;
                }
            }
            continue;
        }
        let reply = match (&message, behaviour) {
            (Message::Text(t), Behaviour::Shout) => Message::text(t.as_str().to_uppercase()),
            (Message::Text(_) | Message::Binary(_), _) => message,
            _ => continue,
        };
        if ws.send(reply).await.is_err() {
            break;
        }
    }
}

fn ws_server(behaviour: Behaviour) -> (RawServer, Seen) {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let server = RawServer::start(move |stream| serve(stream, behaviour, Arc::clone(&record)));
    (server, seen)
}

fn wss_server(pki: &Pki) -> RawServer {
    let acceptor = pki.acceptor();
    RawServer::start(move |stream| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(tls) = acceptor.accept(stream).await {
                serve(tls, Behaviour::Echo, Arc::default()).await;
            }
        }
    })
}

/// Runs `items` (YAML under `items:`) against `target` and returns the report.
fn run(target: &str, items: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\nname: websocket test\ntarget: {target}\ndefaults:\n  timeout: 5s\nitems:\n{items}"
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

fn check<'p>(probe: &'p Value, name: &str) -> &'p Value {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {probe:#}"))
}

fn summary(probe: &Value) -> &str {
    probe["summary"].as_str().expect("summary")
}

#[test]
fn an_echo_passes_with_the_exchange_and_the_close_as_evidence() {
    let (echo, seen) = ws_server(Behaviour::Echo);
    let items = r#"  - item: WebSocket accepts connections
    probes:
      - websocket:
          url: /ws
          headers: { origin: "https://shop.example" }
          subprotocols: [chat.v2, chat.v1]
          send: hello vouch
          expect:
            subprotocol: chat.v2
            receive: hello vouch
"#;
    let (out, report) = run(&echo.url(), items);
    out.assert_code(0);
    let probe = probe_of(&report, "WebSocket accepts connections");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    let s = summary(probe);
    assert!(s.starts_with("websocket /ws → 101 in "), "{s}");
    assert!(
        s.ends_with("; sent \"hello vouch\", received \"hello vouch\", closed 1000 (normal)"),
        "{s}"
    );
    let evidence = &probe["evidence"];
    assert_eq!(
        evidence["request"]["url"],
        format!("{}/ws", echo.url().replace("http://", "ws://"))
    );
    assert_eq!(evidence["response"]["status"], 101);
    assert!(evidence["response"]["headers"]["sec-websocket-accept"].is_string());
    assert_eq!(evidence["subprotocol"], "chat.v2");
    assert_eq!(evidence["messages"][0]["direction"], "sent");
    assert_eq!(evidence["messages"][1]["direction"], "received");
    assert_eq!(evidence["messages"][1]["data"], "hello vouch");
    assert_eq!(evidence["close"]["code"], 1000);
    assert_eq!(evidence["close"]["clean"], true);
    assert!(evidence["timings"]["upgrade_ms"].is_number());
    let headers = &seen.lock().expect("lock")[0];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("origin"), Some("https://shop.example"));
    assert_eq!(header("sec-websocket-protocol"), Some("chat.v2, chat.v1"));
}

#[test]
fn unmet_expectations_fail_with_what_came_back() {
    let (shout, _) = ws_server(Behaviour::Shout);
    let items = r#"  - item: Echo echoes
    probes:
      - websocket:
          url: /ws
          subprotocols: [chat.v2]
          send: hello
          expect:
            subprotocol: chat.v1
            receive: hello
"#;
    let (out, report) = run(&shout.url(), items);
    out.assert_code(1);
    let probe = probe_of(&report, "Echo echoes");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check(probe, "subprotocol")["actual"], "\"chat.v2\"");
    assert_eq!(check(probe, "receive")["expected"], "\"hello\"");
    assert_eq!(check(probe, "receive")["actual"], "\"HELLO\"");
    assert_eq!(check(probe, "close")["passed"], true);
    assert!(
        summary(probe).ends_with(
            "; subprotocol: expected \"chat.v1\", got \"chat.v2\"; receive: expected \"hello\", got \"HELLO\""
        ),
        "{}",
        summary(probe)
    );
}

#[test]
fn a_message_the_server_sends_first_is_received_without_sending() {
    let (greeter, _) = ws_server(Behaviour::Greet);
    let items = r#"  - item: Server greets
    probes:
      - websocket: { url: /ws, expect: { receive: { contains: welcome } } }
"#;
    let (out, report) = run(&greeter.url(), items);
    out.assert_code(0);
    let probe = probe_of(&report, "Server greets");
    assert_eq!(probe["evidence"]["messages"][0]["data"], "welcome to vouch");
}

#[test]
fn a_conversation_with_a_feed_that_greets_skips_heartbeats_to_the_snapshot() {
    let (feed, _) = ws_server(Behaviour::Feed);
    let items = r#"  - item: Price feed answers a subscription
    probes:
      - websocket:
          url: /ws
          subprotocols: [chat.v2]
          conversation:
            - receive: { contains: welcome }
            - send: subscribe prices
            - receive: { contains: snapshot prices }
              skip: any
              within: 2s
            - receive: { matches: '^tick prices' }
          expect: { subprotocol: chat.v2 }
"#;
    let (out, report) = run(&feed.url(), items);
    out.assert_code(0);
    let probe = probe_of(&report, "Price feed answers a subscription");
    assert_eq!(check(probe, "subprotocol")["actual"], "\"chat.v2\"");
    assert_eq!(check(probe, "receive #1")["actual"], "\"welcome to vouch\"");
    let snapshot = check(probe, "receive #2");
    assert_eq!(
        snapshot["actual"],
        "\"snapshot prices\" after 3 skipped messages"
    );
    assert_eq!(
        snapshot["expected"],
        "contains \"snapshot prices\" (skipping at most any others, within 2s)"
    );
    assert_eq!(check(probe, "receive #3")["actual"], "\"tick prices 1\"");
    let messages: Vec<(String, String)> = probe["evidence"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().expect("direction").to_owned(),
                m["data"].as_str().expect("data").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("received", "welcome to vouch"),
        ("sent", "subscribe prices"),
        ("skipped", "heartbeat 1"),
        ("skipped", "heartbeat 2"),
        ("skipped", "heartbeat 3"),
        ("received", "snapshot prices"),
        ("received", "tick prices 1"),
    ]
    .map(|(d, m)| (d.to_owned(), m.to_owned()));
    assert_eq!(messages, expected, "{probe:#}");

    // Fewer skips allowed than heartbeats come: the third fails the step,
    // and the step after it is not reached.
    let items = r#"  - item: Two heartbeats at most
    probes:
      - websocket:
          url: /ws
          conversation:
            - receive: { contains: welcome }
            - send: subscribe prices
            - receive: { contains: snapshot }
              skip: 2
            - receive: { contains: tick }
"#;
    let (out, report) = run(&feed.url(), items);
    out.assert_code(1);
    let probe = probe_of(&report, "Two heartbeats at most");
    let step = check(probe, "receive #2");
    assert_eq!(step["passed"], false);
    assert_eq!(step["actual"], "\"heartbeat 3\" after 2 skipped messages");
    assert_eq!(
        check(probe, "receive #3")["actual"],
        "not reached (an earlier step failed)"
    );
    // The close handshake still ran.
    assert_eq!(check(probe, "close")["passed"], true, "{probe:#}");

    // A message that never comes fails at `within`, not at the timeout.
    let items = r#"  - item: Never
    probes:
      - websocket:
          url: /ws
          conversation:
            - receive: { contains: never }
              skip: any
              within: 300ms
"#;
    let started = std::time::Instant::now();
    let (out, report) = run(&feed.url(), items);
    out.assert_code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    let probe = probe_of(&report, "Never");
    assert_eq!(
        check(probe, "receive")["actual"],
        "no matching message within 300ms after 1 skipped message"
    );
}

#[test]
fn a_conversation_and_send_are_one_or_the_other() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "version: 1\ntarget: http://127.0.0.1:9\nitems:\n  - item: X\n    probes:\n      - websocket: { url: /ws, send: hi, conversation: [ { send: ho } ] }\n";
    let file = write_file(dir.path(), "probes.yaml", yaml);
    let out = Vouch::new(["check", file.to_str().expect("utf-8 path")]).run();
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("give `conversation:` or `send:`/`expect.receive`, not both"),
        "{}",
        out.dump()
    );
}

#[test]
fn a_connection_dropped_without_a_close_frame_fails_the_close_check() {
    let (rude, _) = ws_server(Behaviour::Drop);
    let items = r#"  - item: Clean close
    probes:
      - websocket: { url: /ws }
"#;
    let (out, report) = run(&rude.url(), items);
    out.assert_code(1);
    let probe = probe_of(&report, "Clean close");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check(probe, "status")["passed"], true);
    let close = check(probe, "close");
    assert_eq!(close["passed"], false);
    assert_eq!(probe["evidence"]["close"]["clean"], false);
    assert!(
        close["actual"].as_str().is_some_and(|a| !a.is_empty()),
        "{close}"
    );
}

#[test]
fn a_refused_upgrade_fails_with_its_status_and_body_unless_refusal_is_expected() {
    let http = Server::http(|_| text(403, "forbidden: no token"));
    let items = r#"  - item: WebSocket accepts connections
    probes:
      - websocket: { url: /ws }
  - item: Upgrades without a token are refused
    probes:
      - websocket: { url: /ws/private, expect: { status: [401, 403] } }
"#;
    let (out, report) = run(&http.url(), items);
    out.assert_code(1);
    let refused = probe_of(&report, "WebSocket accepts connections");
    assert_eq!(refused["verdict"], "fail", "{refused:#}");
    assert!(
        summary(refused).ends_with("; status: expected 101, got 403"),
        "{}",
        summary(refused)
    );
    assert_eq!(refused["evidence"]["response"]["status"], 403);
    assert_eq!(
        refused["evidence"]["response"]["body_excerpt"],
        "forbidden: no token"
    );
    assert_eq!(
        refused["evidence"]["response"]["headers"]["content-type"],
        "text/plain"
    );
    let expected = probe_of(&report, "Upgrades without a token are refused");
    assert_eq!(expected["verdict"], "pass", "{expected:#}");
}

#[test]
fn a_closed_port_fails_as_connection_refused() {
    let items = r#"  - item: WebSocket accepts connections
    probes:
      - websocket: { url: /ws }
"#;
    let (out, report) = run(&closed_port_url(), items);
    out.assert_code(1);
    let probe = probe_of(&report, "WebSocket accepts connections");
    assert_eq!(summary(probe), "websocket /ws → connection refused");
    assert_eq!(probe["evidence"]["connection"]["state"], "refused");
    assert_eq!(check(probe, "upgrade")["expected"], "status 101");
}

#[test]
fn wss_trusts_a_private_ca_and_fails_without_it() {
    let pki = Pki::new();
    let secure = wss_server(&pki);
    let url = secure.url().replace("http://127.0.0.1", "wss://localhost");
    let items = format!(
        r#"  - item: Secure WebSocket with our CA
    probes:
      - websocket: {{ url: "{url}/ws", ca: "{ca}", send: hi, expect: {{ receive: hi }} }}
  - item: Secure WebSocket without it
    probes:
      - websocket: {{ url: "{url}/ws" }}
"#,
        ca = pki.ca_path().display()
    );
    let (_, report) = run("http://127.0.0.1:1", &items);
    let trusted = probe_of(&report, "Secure WebSocket with our CA");
    assert_eq!(trusted["verdict"], "pass", "{trusted:#}");
    let untrusted = probe_of(&report, "Secure WebSocket without it");
    assert_eq!(untrusted["verdict"], "fail");
    assert!(
        summary(untrusted)
            .contains("TLS handshake failed: invalid peer certificate: UnknownIssuer"),
        "{}",
        summary(untrusted)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_deployment_echoes_on_ws() {
    let deployment = vouch::demo::Deployment::start().await.expect("demo starts");
    let items = r#"  - item: WebSocket /ws accepts connections
    probes:
      - websocket: { url: /ws, send: ping, expect: { receive: ping } }
"#;
    let (out, report) = run(&deployment.url(), items);
    out.assert_code(0);
    let probe = probe_of(&report, "WebSocket /ws accepts connections");
    assert_eq!(probe["evidence"]["close"]["code"], 1000);
    deployment.stop().await;
}

/// The real greeting feed of `scripts/ws-greeter.sh` (PyPI `websockets`),
/// or `None` with a note when it was not started (a failure under
/// `VOUCH_REQUIRE_PEERS`).
fn greeter() -> Option<String> {
    match std::env::var("VOUCH_TEST_WS_GREETER") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => panic!(
            "VOUCH_TEST_WS_GREETER is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts the greeter"
        ),
        _ => {
            eprintln!(
                "note: VOUCH_TEST_WS_GREETER is not set; skipping (scripts/ws-greeter.sh starts it)"
            );
            None
        }
    }
}

#[test]
fn a_real_websockets_feed_that_greets_first_is_verified() {
    let Some(url) = greeter() else { return };
    let items = r#"  - item: Feed greets
    probes:
      - websocket: { url: /, expect: { receive: { contains: welcome } } }
  - item: Feed answers a subscription
    probes:
      - websocket:
          url: /
          subprotocols: [feed.v1]
          conversation:
            - receive: { contains: '"welcome"' }
            - send: '{"op": "subscribe", "channel": "prices"}'
            - receive: { contains: '"snapshot"' }
              skip: any
              within: 2s
          expect: { subprotocol: feed.v1 }
  - item: A greeting is not an answer
    probes:
      - websocket:
          url: /
          conversation:
            - send: ping
            - receive: pong
"#;
    let (out, report) = run(&url, items);
    out.assert_code(1);
    let probe = probe_of(&report, "Feed greets");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(
        probe["evidence"]["messages"][0]["data"],
        r#"{"type": "welcome", "server": "vouch-test-feed"}"#,
        "{probe:#}"
    );
    let probe = probe_of(&report, "Feed answers a subscription");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(check(probe, "subprotocol")["actual"], "\"feed.v1\"");
    assert_eq!(
        check(probe, "receive #2")["actual"],
        r#""{\"type\": \"snapshot\", \"channel\": \"prices\"}" after 2 skipped messages"#
    );
    assert_eq!(check(probe, "close")["passed"], true, "{probe:#}");
    // The server speaks first: the message after `ping` is its greeting, and
    // no skip was allowed (one send and one receive read as `send`/`receive`).
    let probe = probe_of(&report, "A greeting is not an answer");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let step = check(probe, "receive");
    assert_eq!(step["passed"], false);
    assert!(
        step["actual"]
            .as_str()
            .is_some_and(|a| a.contains("welcome")),
        "{step:#}"
    );
}
