//! `tcp` probes end to end: the real `vouch` binary against real Redis
//! (with and without `requirepass`) and PostgreSQL started by
//! `scripts/test.sh` (`VOUCH_TEST_REDIS`, `VOUCH_TEST_REDIS_AUTH`,
//! `VOUCH_TEST_POSTGRES`), and in-process peers for the rest: a closed port,
//! a port whose connects go unanswered, an SSLRequest listener that says
//! `N`, a banner, an echo, a TLS server and an HTTP server.
//!
//! Without a peer's variable its tests print a note and pass, unless
//! `VOUCH_REQUIRE_PEERS` is set (the test script sets it): then they fail.

#[path = "support/server.rs"]
mod server;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use server::{
    Output, Pki, RawServer, Server, Vouch, closed_port_url, item_of, probe_of, text, write_file,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A peer's address from the environment, or `None` with a note.
fn peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!(
                "{var} is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts the peer and sets it"
            )
        }
        _ => {
            eprintln!(
                "note: {var} is not set; skipping (scripts/test.sh starts the peer and sets it)"
            );
            None
        }
    }
}

/// Runs `items` (YAML under `items:`) against `target` and returns the report.
fn run(target: &str, items: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\nname: tcp test\ntarget: {target}\ndefaults:\n  timeout: 5s\nitems:\n{items}"
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
fn redis_without_a_password_answers_pong_and_refutes_password_set() {
    let Some(redis) = peer("VOUCH_TEST_REDIS") else {
        return;
    };
    let items = format!(
        r#"  - item: Redis running and accessible
    probes:
      - tcp: {{ address: "{redis}", hello: redis }}
  - item: Redis password set
    probes:
      - tcp: {{ address: "{redis}", hello: redis, expect: {{ auth_required: true }} }}
"#
    );
    let (out, report) = run("http://127.0.0.1:1", &items);
    out.assert_code(1);

    let running = probe_of(&report, "Redis running and accessible");
    assert_eq!(running["verdict"], "pass", "{running:#}");
    assert!(
        summary(running).starts_with(&format!("tcp {redis} → open, connected in ")),
        "{}",
        summary(running)
    );
    assert!(
        summary(running).ends_with(" ms; redis PING → +PONG"),
        "{}",
        summary(running)
    );
    let evidence = &running["evidence"];
    assert_eq!(evidence["address"], redis.as_str());
    assert_eq!(evidence["connections"][0]["state"], "open");
    assert!(evidence["connections"][0]["connect_ms"].is_number());
    assert_eq!(evidence["greeting"]["sent"], "*1\\r\\n$4\\r\\nPING\\r\\n");
    assert_eq!(evidence["greeting"]["received"], "+PONG\\r\\n");
    assert_eq!(evidence["greeting"]["verdict"], "pong");

    let password = probe_of(&report, "Redis password set");
    assert_eq!(password["verdict"], "fail", "{password:#}");
    let c = check(password, "password");
    assert_eq!(c["expected"], "required");
    assert_eq!(c["actual"], "not required (PING answered +PONG)");
    assert!(
        summary(password)
            .ends_with("; password: expected required, got not required (PING answered +PONG)"),
        "{}",
        summary(password)
    );
}

#[test]
fn redis_with_requirepass_is_reported_as_password_required() {
    let Some(redis) = peer("VOUCH_TEST_REDIS_AUTH") else {
        return;
    };
    let items = format!(
        r#"  - item: Redis running and accessible
    probes:
      - tcp: {{ address: "{redis}", hello: redis }}
  - item: Redis password set
    probes:
      - tcp: {{ address: "{redis}", hello: redis, expect: {{ auth_required: true }} }}
  - item: Redis open to all
    probes:
      - tcp: {{ address: "{redis}", hello: redis, expect: {{ auth_required: false }} }}
"#
    );
    let (out, report) = run("http://127.0.0.1:1", &items);
    out.assert_code(1);
    let running = probe_of(&report, "Redis running and accessible");
    assert_eq!(running["verdict"], "pass", "{running:#}");
    assert!(
        summary(running)
            .ends_with("; redis PING → \"-NOAUTH Authentication required.\": password required"),
        "{}",
        summary(running)
    );
    assert_eq!(
        running["evidence"]["greeting"]["verdict"],
        "password required"
    );

    let password = probe_of(&report, "Redis password set");
    assert_eq!(password["verdict"], "pass", "{password:#}");
    assert_eq!(
        check(password, "password")["actual"],
        "required (\"-NOAUTH Authentication required.\")"
    );
    let open = probe_of(&report, "Redis open to all");
    assert_eq!(open["verdict"], "fail", "{open:#}");
    assert_eq!(check(open, "password")["expected"], "not required");
}

#[test]
fn postgres_answers_sslrequest_with_tls_offered() {
    let Some(postgres) = peer("VOUCH_TEST_POSTGRES") else {
        return;
    };
    let items = format!(
        r#"  - item: PostgreSQL running and accessible
    probes:
      - tcp: {{ address: "{postgres}", hello: postgres, expect: {{ tls_offered: true }} }}
  - item: PostgreSQL without TLS
    probes:
      - tcp: {{ address: "{postgres}", hello: postgres, expect: {{ tls_offered: false }} }}
"#
    );
    let (out, report) = run("http://127.0.0.1:1", &items);
    out.assert_code(1);
    let tls = probe_of(&report, "PostgreSQL running and accessible");
    assert_eq!(tls["verdict"], "pass", "{tls:#}");
    assert!(
        summary(tls).ends_with("; postgres SSLRequest → S: TLS offered"),
        "{}",
        summary(tls)
    );
    assert_eq!(
        tls["evidence"]["greeting"]["sent"],
        "\\x00\\x00\\x00\\x08\\x04\\xd2\\x16/"
    );
    assert_eq!(tls["evidence"]["greeting"]["received"], "S");
    assert_eq!(tls["evidence"]["greeting"]["tls_offered"], true);
    let plain = probe_of(&report, "PostgreSQL without TLS");
    assert_eq!(plain["verdict"], "fail");
    assert_eq!(check(plain, "tls offered")["actual"], "yes (S)");
}

/// An in-process listener that speaks the SSLRequest exchange: it reads the
/// 8-byte request and answers `N`, like a PostgreSQL without TLS.
fn postgres_without_tls() -> (RawServer, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    let server = RawServer::start(move |mut stream| {
        let record = std::sync::Arc::clone(&record);
        async move {
            let mut request = [0u8; 8];
            if stream.read_exact(&mut request).await.is_ok() {
                record.lock().expect("lock").extend_from_slice(&request);
                let _ = stream.write_all(b"N").await;
                // A client that gets `N` goes on in plain text; we stop here.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    (server, seen)
}

#[test]
fn a_postgres_without_tls_answers_n_and_fails_tls_offered() {
    let (pg, seen) = postgres_without_tls();
    let items = r#"  - item: PostgreSQL offers TLS
    probes:
      - tcp: { hello: postgres, expect: { tls_offered: true } }
"#;
    let (out, report) = run(&pg.url(), items);
    out.assert_code(1);
    let probe = probe_of(&report, "PostgreSQL offers TLS");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check(probe, "postgres")["actual"], "N: TLS not offered");
    assert_eq!(check(probe, "postgres")["passed"], true);
    assert_eq!(check(probe, "tls offered")["actual"], "no (N)");
    assert_eq!(
        *seen.lock().expect("lock"),
        vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
        "the SSLRequest: length 8, code 80877103"
    );
}

#[test]
fn hello_redis_against_an_http_server_fails_as_not_redis() {
    let http = Server::http(|_| text(200, "ok"));
    let items = r#"  - item: Redis running and accessible
    probes:
      - tcp: { hello: redis }
"#;
    let (_, report) = run(&http.url(), items);
    let probe = probe_of(&report, "Redis running and accessible");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(probe["evidence"]["greeting"]["verdict"], "not redis");
    assert_eq!(
        check(probe, "redis")["actual"],
        "\"HTTP/1.1 400 Bad Request\""
    );
}

#[test]
fn a_closed_port_fails_open_and_passes_must_be_closed() {
    let closed = closed_port_url();
    let port = closed.rsplit(':').next().expect("port");
    let items = format!(
        r#"  - item: Service reachable
    probes:
      - tcp: {{}}
  - item: No debug port exposed
    probes:
      - tcp: {{ address: ":{port}", expect: {{ open: false }} }}
"#
    );
    let (out, report) = run(&closed, &items);
    out.assert_code(1);
    let open = probe_of(&report, "Service reachable");
    assert_eq!(open["verdict"], "fail");
    assert_eq!(
        summary(open),
        format!("tcp 127.0.0.1:{port} → connection refused")
    );
    assert_eq!(open["evidence"]["connections"][0]["state"], "refused");
    let closed = probe_of(&report, "No debug port exposed");
    assert_eq!(closed["verdict"], "pass", "{closed:#}");
    assert_eq!(
        summary(closed),
        format!("tcp 127.0.0.1:{port} → closed (connection refused)")
    );
    assert_eq!(closed["evidence"]["expect"], "closed");
}

/// A loopback port whose connects are never answered: a listener with a
/// backlog of 0 whose queue is already full, so the kernel drops new SYNs —
/// what a firewall that drops packets looks like from outside.
struct Unanswered {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
    _listener: tokio::net::TcpListener,
    _held: Vec<std::net::TcpStream>,
}

impl Unanswered {
    fn start() -> Unanswered {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .bind("127.0.0.1:0".parse().expect("addr"))
                .expect("bind");
            socket.listen(0).expect("listen")
        });
        let addr = listener.local_addr().expect("addr");
        let mut held = Vec::new();
        loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(stream) => held.push(stream),
                Err(_) => break,
            }
            assert!(held.len() < 64, "the backlog never filled");
        }
        Unanswered {
            addr,
            _runtime: runtime,
            _listener: listener,
            _held: held,
        }
    }
}

#[test]
fn an_unanswered_connect_is_told_from_a_refused_one() {
    let quiet = Unanswered::start();
    let port = quiet.addr.port();
    let items = format!(
        r#"  - item: Service reachable
    probes:
      - tcp: {{ address: "127.0.0.1:{port}", connect_timeout: 400ms }}
  - item: No debug port exposed
    probes:
      - tcp: {{ address: "127.0.0.1:{port}", connect_timeout: 400ms, expect: {{ open: false }} }}
"#
    );
    let (out, report) = run("http://127.0.0.1:1", &items);
    out.assert_code(1);
    let open = probe_of(&report, "Service reachable");
    assert_eq!(open["verdict"], "fail", "{open:#}");
    assert_eq!(
        summary(open),
        format!("tcp 127.0.0.1:{port} → connect timed out after 400ms (no answer)")
    );
    assert_eq!(open["evidence"]["connections"][0]["state"], "no_answer");
    let closed = probe_of(&report, "No debug port exposed");
    assert_eq!(closed["verdict"], "pass", "{closed:#}");
    assert_eq!(
        summary(closed),
        format!("tcp 127.0.0.1:{port} → closed (connect timed out after 400ms (no answer))")
    );
    assert!(out.elapsed < Duration::from_secs(4), "{:?}", out.elapsed);
}

#[test]
fn several_ports_are_each_their_own_check() {
    let listening = RawServer::start(|_stream| async {});
    let open_port: u16 = listening
        .url()
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("port");
    let closed: u16 = closed_port_url()
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("port");
    let items = format!(
        r#"  - item: No exposed ports
    probes:
      - tcp: {{ address: 127.0.0.1, ports: [{closed}, {open_port}], expect: {{ open: false }} }}
"#
    );
    let (_, report) = run("http://127.0.0.1:1", &items);
    let probe = probe_of(&report, "No exposed ports");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    assert_eq!(check(probe, &format!("port {closed}"))["passed"], true);
    assert_eq!(check(probe, &format!("port {open_port}"))["passed"], false);
    assert!(
        summary(probe).starts_with(&format!(
            "tcp 127.0.0.1 ports {closed}, {open_port} → {open_port} open, connected in "
        )),
        "{}",
        summary(probe)
    );
    assert!(summary(probe).ends_with("(expected closed)"));
    assert_eq!(
        probe["evidence"]["connections"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn a_banner_and_a_raw_exchange_are_matched_by_regex() {
    let ssh = RawServer::start(|mut stream| async move {
        let _ = stream
            .write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
            .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let echo = RawServer::start(|mut stream| async move {
        let mut buf = [0u8; 64];
        if let Ok(n) = stream.read(&mut buf).await {
            let _ = stream.write_all(&buf[..n]).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let ssh_addr = ssh.url().trim_start_matches("http://").to_owned();
    let echo_addr = echo.url().trim_start_matches("http://").to_owned();
    let items = format!(
        r#"  - item: SSH answers
    probes:
      - tcp: {{ address: "{ssh_addr}", hello: banner, expect: {{ reply: '^SSH-2\.0-' }} }}
  - item: SSH is not telnet
    probes:
      - tcp: {{ address: "{ssh_addr}", hello: banner, expect: {{ reply: '^Welcome' }} }}
  - item: Echo echoes
    probes:
      - tcp: {{ address: "{echo_addr}", send: "HELLO vouch\r\n", expect: {{ reply: 'HELLO vouch' }} }}
"#
    );
    let (_, report) = run("http://127.0.0.1:1", &items);
    let banner = probe_of(&report, "SSH answers");
    assert_eq!(banner["verdict"], "pass", "{banner:#}");
    assert_eq!(
        banner["evidence"]["greeting"]["received"],
        "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\r\\n"
    );
    let wrong = probe_of(&report, "SSH is not telnet");
    assert_eq!(wrong["verdict"], "fail");
    assert_eq!(check(wrong, "reply")["expected"], "matches /^Welcome/");
    let echo = probe_of(&report, "Echo echoes");
    assert_eq!(echo["verdict"], "pass", "{echo:#}");
    assert_eq!(echo["evidence"]["greeting"]["sent"], "HELLO vouch\\r\\n");
    assert_eq!(
        echo["evidence"]["greeting"]["received"],
        "HELLO vouch\\r\\n"
    );
}

#[test]
fn hello_tls_completes_a_handshake_trusting_a_private_ca() {
    let pki = Pki::new();
    let https = Server::https(&pki, |_| text(200, "ok"));
    let ca = pki.ca_path();
    let items = format!(
        r#"  - item: TLS with our CA
    probes:
      - tcp: {{ address: "localhost:{port}", hello: tls, ca: "{ca}" }}
  - item: TLS without it
    probes:
      - tcp: {{ address: "localhost:{port}", hello: tls }}
"#,
        port = https.port(),
        ca = ca.display()
    );
    let (_, report) = run("http://127.0.0.1:1", &items);
    let trusted = probe_of(&report, "TLS with our CA");
    assert_eq!(trusted["verdict"], "pass", "{trusted:#}");
    assert_eq!(trusted["evidence"]["greeting"]["version"], "TLSv1_3");
    assert!(
        summary(trusted).contains("; TLS handshake: TLSv1_3, TLS13_"),
        "{}",
        summary(trusted)
    );
    let untrusted = probe_of(&report, "TLS without it");
    assert_eq!(untrusted["verdict"], "fail");
    let actual = check(untrusted, "tls handshake")["actual"]
        .as_str()
        .expect("actual");
    assert!(actual.contains("UnknownIssuer"), "{actual}");
}

#[test]
fn a_silent_peer_fails_at_the_probe_timeout() {
    let silent = RawServer::start(|stream| async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(stream);
    });
    let items = r#"  - item: Redis running and accessible
    probes:
      - timeout: 300ms
        tcp: { hello: redis }
"#;
    let (_, report) = run(&silent.url(), items);
    let probe = &item_of(&report, "Redis running and accessible")["probes"][0];
    assert_eq!(probe["verdict"], "fail");
    // The phase the timeout struck in is named (issue 15).
    assert!(
        summary(probe).starts_with(
            "tcp target hello redis → timed out after 300ms waiting for the reply to PING (connected in "
        ),
        "{probe:#}"
    );
}
