//! Secrets in every spelling a target can echo: a hostile deployment writes a
//! password back JSON-escaped as Go and PHP do, every character `\uXXXX`,
//! base64 (standard and URL-safe, with and without padding, of the password,
//! of `Bearer password` and of `alice:password`, and a piece cut by the body
//! excerpt), hex in both cases, every byte percent-encoded in both cases and
//! as HTML references — in bodies, headers, `Location`, error bodies, SSE,
//! WebSocket text and binary frames, TCP replies, and the `auth` kind's
//! valid-credential exchange. The real `vouch` binary runs against it with
//! every `--format`, and no spelling may appear on stdout, stderr or in the
//! `--output` file.

#[path = "support/server.rs"]
mod server;

use std::path::Path;

use futures_util::{SinkExt, StreamExt};
use server::{RawServer, Request, Server, Vouch, respond, with_header, write_file};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// The password: `/`, `+`, `&`, `<`, `>` and `=` make every encoder spell it
/// differently from the raw text.
const PASSWORD: &str = "Zk9/q+Tr0ub4dor&3<x>w==";
const USER: &str = "alice";
const REDACTED: &str = "«redacted»";

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64, written here independently of vouch's own encoder.
fn base64(bytes: &[u8], url_safe: bool, padded: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let c = char::from(STANDARD[((n >> (18 - 6 * i)) & 63) as usize]);
                out.push(match (url_safe, c) {
                    (true, '+') => '-',
                    (true, '/') => '_',
                    (_, c) => c,
                });
            } else if padded {
                out.push('=');
            }
        }
    }
    out
}

/// Every spelling the server echoes, by name. The names travel in paths,
/// WebSocket messages and TCP lines.
fn spellings() -> Vec<(&'static str, String)> {
    let pw = PASSWORD.as_bytes();
    let each = |f: &dyn Fn(u8) -> String| pw.iter().map(|&b| f(b)).collect::<String>();
    let bearer = format!("Bearer {PASSWORD}");
    let pair = format!("{USER}:{PASSWORD}");
    vec![
        ("raw", PASSWORD.to_owned()),
        // Go's encoding/json: & < > as \u0026 \u003c \u003e.
        (
            "json-go",
            r#"{"password":"Zk9/q+Tr0ub4dor\u00263\u003cx\u003ew=="}"#.to_owned(),
        ),
        // PHP's json_encode: / as \/.
        (
            "json-php",
            r#"{"password":"Zk9\/q+Tr0ub4dor&3<x>w=="}"#.to_owned(),
        ),
        ("json-u-upper", each(&|b| format!("\\u{b:04X}"))),
        ("json-u-lower", each(&|b| format!("\\u{b:04x}"))),
        ("b64-std-pad", base64(pw, false, true)),
        ("b64-std-nopad", base64(pw, false, false)),
        ("b64-url-pad", base64(pw, true, true)),
        ("b64-url-nopad", base64(pw, true, false)),
        ("b64-bearer", base64(bearer.as_bytes(), false, true)),
        ("b64-bearer-url", base64(bearer.as_bytes(), true, false)),
        ("b64-basic", base64(pair.as_bytes(), false, true)),
        (
            "b64-in-blob",
            base64(
                format!(r#"{{"user":"{USER}","token":"{PASSWORD}","ok":true}}"#).as_bytes(),
                false,
                true,
            ),
        ),
        ("hex-lower", each(&|b| format!("{b:02x}"))),
        ("hex-upper", each(&|b| format!("{b:02X}"))),
        ("pct-upper", each(&|b| format!("%{b:02X}"))),
        ("pct-lower", each(&|b| format!("%{b:02x}"))),
        ("html", "Zk9&#x2F;q+Tr0ub4dor&amp;3&lt;x&gt;w==".to_owned()),
    ]
}

fn spelling(name: &str) -> String {
    spellings()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| format!("unknown spelling {name}"))
}

/// Texts that must appear in no output: every 10-character window of the
/// parts of each spelling that encode only the password (a base64 blob's
/// first characters encode `Bearer `/`alice:`, its edges mix in neighbours).
fn forbidden() -> Vec<String> {
    let mut out = Vec::new();
    for (name, s) in spellings() {
        let core: String = match name {
            "json-go" | "json-php" => s
                .trim_start_matches(r#"{"password":""#)
                .trim_end_matches(r#""}"#)
                .to_owned(),
            "b64-bearer" | "b64-bearer-url" => s.chars().skip(10).take(30).collect(),
            "b64-basic" => s.chars().skip(8).take(30).collect(),
            "b64-in-blob" => s.chars().skip(40).take(30).collect(),
            _ => s,
        };
        let chars: Vec<char> = core.chars().collect();
        for window in chars.windows(10) {
            out.push(window.iter().collect());
        }
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    for piece in forbidden() {
        assert!(
            !text.contains(&piece),
            "{what} shows `{piece}` of a spelling of the password:\n{text}"
        );
    }
    assert!(!text.contains("Tr0ub4dor"), "{what}:\n{text}");
}

/// `/body/NAME`, `/header/NAME`, `/location/NAME` (a redirect that carries
/// it), `/error/NAME` (500), `/sse/NAME` (an event stream), `/cut` (a body
/// whose excerpt ends inside the base64 of `Bearer password`) and `/auth`
/// (200 with the right Basic credential, echoing it in every spelling).
fn http_server() -> Server {
    Server::http(|r: Request| {
        let path = r.path().to_owned();
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let place = parts.next().unwrap_or_default();
        let name = parts.next().unwrap_or_default();
        let echo = spelling(name);
        match place {
            "body" => respond(200, "application/json", format!("echo: {echo} end")),
            "header" => with_header(respond(200, "text/plain", "see x-echo"), "x-echo", &echo),
            "location" => with_header(
                respond(302, "text/plain", "moved"),
                "location",
                &format!("/landed?p={echo}"),
            ),
            "landed" => respond(200, "text/plain", "landed"),
            "error" => respond(500, "text/plain", format!("panic: bad password {echo}")),
            "sse" => respond(
                200,
                "text/event-stream",
                format!("event: login\ndata: {echo}\n\n"),
            ),
            "cut" => {
                let blob = spelling("b64-bearer");
                respond(200, "text/plain", format!("{}{blob}", "x".repeat(490)))
            }
            "auth" => {
                let right = format!("Basic {}", spelling("b64-basic"));
                if r.header("authorization") == Some(right.as_str()) {
                    let all: Vec<String> = spellings()
                        .into_iter()
                        .map(|(n, s)| format!("{n}={s}"))
                        .collect();
                    with_header(
                        respond(200, "text/plain", all.join("\n")),
                        "x-you-sent",
                        &right,
                    )
                } else {
                    with_header(
                        respond(401, "text/plain", "who are you"),
                        "www-authenticate",
                        "Basic realm=\"x\"",
                    )
                }
            }
            _ => respond(404, "text/plain", "no such place"),
        }
    })
}

/// A WebSocket server: a text message `NAME` is answered with that spelling
/// in a text frame; `binary` with the password's raw bytes in a binary frame.
fn websocket_server() -> RawServer {
    RawServer::start(|stream| async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        while let Some(Ok(message)) = ws.next().await {
            let Message::Text(name) = message else {
                continue;
            };
            let reply = if name.as_str() == "binary" {
                let mut bytes = vec![0u8, 0xff, 0x10];
                bytes.extend_from_slice(PASSWORD.as_bytes());
                bytes.push(0x80);
                Message::binary(bytes)
            } else {
                Message::text(format!("echo {}", spelling(name.as_str())))
            };
            let _ = ws.send(reply).await;
        }
    })
}

/// A TCP server: a line `NAME` is answered with `-ERR …` and that
/// spelling; `binary` with the password's raw bytes among others.
fn tcp_server() -> RawServer {
    RawServer::start(|stream| async move {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        if let Ok(Some(line)) = lines.next_line().await {
            let name = line.trim();
            let reply = if name == "binary" {
                let mut bytes = b"\x00\x01\xfe-ERR ".to_vec();
                bytes.extend_from_slice(PASSWORD.as_bytes());
                bytes.extend_from_slice(b"\xc3\r\n");
                bytes
            } else {
                format!("-ERR invalid password {}\r\n", spelling(name)).into_bytes()
            };
            let _ = write.write_all(&reply).await;
        }
    })
}

/// The probe file: a failing probe per spelling and place, so every echo is
/// evidence.
fn probe_file(http: &str, ws: &str, tcp: &str) -> (String, String) {
    let mut yaml = format!(
        "version: 1\nname: hostile\ntarget: {http}\nvars:\n  pw: ${{env:APP_PASSWORD}}\nitems:\n"
    );
    let mut checklist = "# Hostile\n\n".to_owned();
    let mut item = |title: String, probe: String| {
        yaml.push_str(&format!(
            "  - item: {title}\n    probes:\n      - {probe}\n"
        ));
        checklist.push_str(&format!("- [ ] {title}\n"));
    };
    let never = "expect: { body: { contains: never-there } }";
    for (name, _) in spellings() {
        for place in ["body", "header", "location", "error", "sse"] {
            item(
                format!("{place} {name}"),
                format!("http: {{ get: /{place}/{name}, {never} }}"),
            );
        }
        item(
            format!("hop {name}"),
            format!("http: {{ get: /location/{name}, follow_redirects: false, {never} }}"),
        );
        item(
            format!("websocket {name}"),
            format!(
                "websocket: {{ url: \"{ws}/\", send: \"{name}\", expect: {{ receive: {{ contains: never-there }} }} }}"
            ),
        );
        item(
            format!("tcp {name}"),
            format!(
                "tcp: {{ address: \"{tcp}\", send: \"{name}\\n\", expect: {{ reply: \"^never\" }} }}"
            ),
        );
    }
    item(
        "websocket binary".to_owned(),
        format!(
            "websocket: {{ url: \"{ws}/\", send: binary, expect: {{ receive: {{ contains: never-there }} }} }}"
        ),
    );
    item(
        "tcp binary".to_owned(),
        format!(
            "tcp: {{ address: \"{tcp}\", send: \"binary\\n\", expect: {{ reply: \"^never\" }} }}"
        ),
    );
    item("cut".to_owned(), format!("http: {{ get: /cut, {never} }}"));
    item(
        "auth".to_owned(),
        format!(
            "auth: {{ url: /auth, basic: {{ user: {USER}, password: \"${{env:APP_PASSWORD}}\" }}, expect: {{ authenticated: 201 }} }}"
        ),
    );
    (yaml, checklist)
}

fn run(dir: &Path, args: &[&str]) -> server::Output {
    Vouch::new(args)
        .env("APP_PASSWORD", PASSWORD)
        .current_dir(dir)
        .run()
}

#[test]
fn no_spelling_of_the_password_reaches_any_output_format() {
    let http = http_server();
    let ws = websocket_server();
    let tcp = tcp_server();
    let ws_url = ws.url().replace("http://", "ws://");
    let tcp_address = tcp.url().trim_start_matches("http://").to_owned();
    let (yaml, checklist) = probe_file(&http.url(), &ws_url, &tcp_address);
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(dir.path(), "hostile.yaml", &yaml);
    write_file(dir.path(), "hostile.md", &checklist);
    let items = yaml.matches("  - item: ").count();

    for format in ["human", "json", "junit", "markdown", "html", "github"] {
        let file = dir.path().join(format!("report.{format}"));
        let file_arg = file.display().to_string();
        let base = ["run", "--format", format, "--checklist", "hostile.md"];
        for output in [None, Some(file_arg.as_str())] {
            let mut args = base.to_vec();
            if let Some(path) = output {
                args.extend(["--output", path]);
            }
            args.push("hostile.yaml");
            let out = run(dir.path(), &args);
            out.assert_code(1);
            assert_clean(&format!("{format} stdout"), &out.stdout);
            assert_clean(&format!("{format} stderr"), &out.stderr);
            if output.is_some() {
                let written = std::fs::read_to_string(&file).expect("report file");
                assert_clean(&format!("{format} --output file"), &written);
                assert!(written.contains(REDACTED), "{format}:\n{written}");
            }
        }
    }

    // The echoes were real: every probe got its answer and the JSON evidence
    // of each shows where the password was masked.
    let out = run(dir.path(), &["run", "--format", "json", "hostile.yaml"]);
    let report = out.json();
    let probes: Vec<&serde_json::Value> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["probes"][0])
        .collect();
    assert_eq!(probes.len(), items);
    for (item, probe) in report["items"]
        .as_array()
        .expect("items")
        .iter()
        .zip(probes)
    {
        let title = item["item"].as_str().unwrap_or_default();
        let text = probe.to_string();
        assert_ne!(probe["verdict"], "error", "{title}: {text}");
        if title.starts_with("header ") {
            // A header the probe does not check is kept in the record.
            assert!(text.contains("x-echo"), "{title}: {text}");
        }
        assert!(text.contains(REDACTED), "{title}: nothing masked: {text}");
    }
    let auth = server::item_of(&report, "auth")["probes"][0].to_string();
    assert!(auth.contains("valid"), "{auth}");
    assert!(http.log().iter().any(|r| r.path() == "/auth"));
}

/// `vouch check` names the variable, never its value.
#[test]
fn check_lists_the_password_variable_by_name_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (yaml, _) = probe_file("http://127.0.0.1:9", "ws://127.0.0.1:9", "127.0.0.1:9");
    write_file(dir.path(), "hostile.yaml", &yaml);
    let out = run(dir.path(), &["check", "hostile.yaml"]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("secrets: APP_PASSWORD (env, name says credential)\n"),
        "{}",
        out.stderr
    );
    assert_clean("check stderr", &out.stderr);
}
