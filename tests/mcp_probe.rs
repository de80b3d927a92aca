//! `mcp` probes end to end: the real `vouch` binary against real MCP servers
//! started by `scripts/test.sh` (`scripts/mcp-peers.sh`: npm
//! `@modelcontextprotocol/server-everything` with SSE answers in
//! `VOUCH_TEST_MCP_EVERYTHING`, the Python SDK `mcp` with SSE answers in
//! `VOUCH_TEST_MCP_PYTHON` and with JSON answers in
//! `VOUCH_TEST_MCP_PYTHON_JSON`), the demo's `/mcp`, and in-process servers
//! that break the protocol one way each.
//!
//! Without a peer's variable its test prints a note and passes, unless
//! `VOUCH_REQUIRE_PEERS` is set, when it fails.

#[path = "support/server.rs"]
mod server;

use std::time::Duration;

use serde_json::{Value, json};
use server::{
    Output, RawServer, Request, Server, Vouch, check_of, closed_port_url, probe_file, probe_of,
    respond, with_header, write_file,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn peer(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() => {
            panic!(
                "{name} is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts the MCP peers"
            )
        }
        _ => {
            eprintln!("note: {name} is not set; skipping (scripts/test.sh starts the MCP peers)");
            None
        }
    }
}

fn run_format(target: &str, items: &str, format: &str, timeout: &str) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "mcp.yaml", &probe_file(target, items));
    let path = file.display().to_string();
    Vouch::new([
        "run",
        "--format",
        format,
        "--timeout",
        timeout,
        path.as_str(),
    ])
    .run()
}

fn run(target: &str, items: &str) -> (Output, Value) {
    let out = run_format(target, items, "json", "10s");
    let report = out.json();
    (out, report)
}

fn item(name: &str, settings: &str) -> String {
    format!("  - item: {name}\n    probes:\n      - mcp:\n{settings}")
}

fn failed_checks(probe: &Value) -> Vec<String> {
    probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().expect("name").to_owned())
        .collect()
}

fn summary(probe: &Value) -> &str {
    probe["summary"].as_str().expect("summary")
}

/// The base URL of a peer's endpoint (`http://127.0.0.1:P/mcp` → target + `/mcp`).
fn split(endpoint: &str) -> (String, String) {
    let at = endpoint.rfind("/mcp").expect("endpoint ends in /mcp");
    (endpoint[..at].to_owned(), endpoint[at..].to_owned())
}

#[test]
fn server_everything_lists_and_calls_tools_over_sse() {
    let Some(endpoint) = peer("VOUCH_TEST_MCP_EVERYTHING") else {
        return;
    };
    let (target, path) = split(&endpoint);
    let items = item(
        "All MCP tools implemented and tested",
        &format!(
            "          url: {path}\n          expect:\n            server_name: {{contains: everything}}\n            tools: [echo, get-sum]\n            call:\n              - tool: echo\n                arguments: {{message: hi}}\n                expect: {{text: {{contains: 'Echo: hi'}}}}\n              - tool: get-sum\n                arguments: {{a: 2, b: 40}}\n                expect: {{text: {{matches: '\\b42\\b'}}}}\n"
        ),
    );
    let (out, report) = run(&target, &items);
    out.assert_code(0);
    let probe = probe_of(&report, "All MCP tools implemented and tested");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    let evidence = &probe["evidence"];
    assert_eq!(evidence["protocol_version"], "2025-11-25");
    assert!(
        evidence["capabilities"]["tools"].is_object(),
        "{evidence:#}"
    );
    let tools = evidence["tools"].as_array().expect("tools");
    assert!(tools.len() >= 10, "{evidence:#}");
    assert_eq!(evidence["calls"][0]["text_excerpt"], "Echo: hi");
    // Every answer came as SSE, with the session id carried after initialize.
    let exchanges = evidence["exchanges"].as_array().expect("exchanges");
    let posts: Vec<&Value> = exchanges.iter().filter(|e| e["http"] == "POST").collect();
    assert!(
        posts
            .iter()
            .filter(|e| e["id"].is_number())
            .all(|e| e["transport"] == "sse"),
        "{exchanges:#?}"
    );
    assert!(posts[1..].iter().all(|e| e["session_id_sent"] == true));
    assert_eq!(posts[1]["protocol_version_header"], "2025-11-25");
    let last = exchanges.last().expect("delete");
    assert_eq!(last["http"], "DELETE");
    assert_eq!(last["status"], 200);
    assert!(
        summary(probe).contains("2025-11-25, mcp-servers/everything"),
        "{}",
        summary(probe)
    );
}

#[test]
fn the_python_sdk_server_over_sse_and_json() {
    let peers = [
        ("VOUCH_TEST_MCP_PYTHON", "sse"),
        ("VOUCH_TEST_MCP_PYTHON_JSON", "json"),
    ];
    for (name, transport) in peers {
        let Some(endpoint) = peer(name) else {
            continue;
        };
        let (target, path) = split(&endpoint);
        let items = item(
            "Tool execution functional",
            &format!(
                "          url: {path}\n          expect:\n            server_name: vouch-python-peer\n            tools: {{names: [add, shout, fail], exactly: true}}\n            resources: ['vouch://motd']\n            call:\n              - tool: add\n                arguments: {{a: 2, b: 3}}\n                expect: {{structured_content: {{$.result: 5}}}}\n              - tool: fail\n                arguments: {{reason: boom}}\n                expect: {{is_error: true}}\n"
            ),
        );
        let (out, report) = run(&target, &items);
        out.assert_code(0);
        let probe = probe_of(&report, "Tool execution functional");
        assert_eq!(probe["verdict"], "pass", "{name}: {probe:#}");
        let evidence = &probe["evidence"];
        assert_eq!(
            evidence["exchanges"][0]["transport"], transport,
            "{evidence:#}"
        );
        assert_eq!(
            evidence["resource_read"]["excerpt"],
            "1 item(s): all systems nominal"
        );
        assert_eq!(evidence["prompts"], json!(["greet"]));
        assert_eq!(evidence["calls"][1]["is_error"], true);
        assert_eq!(
            check_of(probe, "tools/call add structuredContent $.result")["actual"],
            "5"
        );
        // A wrong expectation is refuted with the call's result as evidence.
        let refuted = item(
            "Shout works",
            &format!(
                "          url: {path}\n          expect:\n            tools: [add, missing-tool]\n            call:\n              - tool: shout\n                arguments: {{text: hi}}\n                expect: {{text: {{contains: hi}}}}\n"
            ),
        );
        let (out, report) = run(&target, &refuted);
        out.assert_code(1);
        let probe = probe_of(&report, "Shout works");
        assert_eq!(
            failed_checks(probe),
            ["tool missing-tool", "tools/call shout text"],
            "{probe:#}"
        );
        assert_eq!(
            check_of(probe, "tool missing-tool")["actual"],
            "absent (listed: add, shout, fail)"
        );
        assert_eq!(check_of(probe, "tools/call shout text")["actual"], "HI");
    }
}

#[test]
fn the_shipped_mcp_pack_passes_against_every_real_server() {
    let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/probes/mcp-server.yaml");
    for name in [
        "VOUCH_TEST_MCP_EVERYTHING",
        "VOUCH_TEST_MCP_PYTHON",
        "VOUCH_TEST_MCP_PYTHON_JSON",
    ] {
        let Some(endpoint) = peer(name) else {
            continue;
        };
        let (target, _) = split(&endpoint);
        let out = Vouch::new(["run", "--format", "json", "--target", &target, pack]).run();
        out.assert_code(0);
        let report = out.json();
        let probe = probe_of(&report, "MCP session initializes over Streamable HTTP");
        assert_eq!(probe["verdict"], "pass", "{name}: {probe:#}");
    }
}

#[test]
fn the_demo_passes_the_example_and_its_broken_tool_is_refuted() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let deployment = rt
        .block_on(vouch::demo::Deployment::start())
        .expect("demo starts");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mcp.yaml");
    let out = Vouch::new([
        "run",
        "--format",
        "json",
        "--target",
        &deployment.url(),
        example,
    ])
    .run();
    out.assert_code(0);
    let items = item(
        "Orders tool works",
        "          expect:\n            call:\n              - tool: lookup_order\n                arguments: {id: 1}\n",
    );
    let (out, report) = run(&deployment.url(), &items);
    out.assert_code(1);
    let probe = probe_of(&report, "Orders tool works");
    assert_eq!(
        failed_checks(probe),
        ["tools/call lookup_order isError"],
        "{probe:#}"
    );
    assert_eq!(
        check_of(probe, "tools/call lookup_order isError")["actual"],
        "true: order service unavailable: connection pool exhausted (max 10)"
    );
    // The demo declares no prompts: it is not failed for lacking prompts/list.
    assert_eq!(probe["evidence"]["prompts"], "not declared");
    rt.block_on(deployment.stop());
}

/// A minimal MCP server with JSON answers: `tweak(method, id, answer)` may
/// change any answer before it goes out (`None` keeps it).
fn mcp_server(
    capabilities: Value,
    tweak: impl Fn(&str, &Request, &Value) -> Option<server::Response> + Send + Sync + 'static,
) -> Server {
    Server::http(move |r: Request| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let method = body["method"].as_str().unwrap_or("").to_owned();
        let id = body["id"].clone();
        if id.is_null() {
            return respond(202, "", "");
        }
        let result = match method.as_str() {
            "initialize" => json!({
                "protocolVersion": "2025-06-18",
                "capabilities": capabilities,
                "serverInfo": {"name": "in-process", "version": "1"}
            }),
            "tools/list" => match body["params"]["cursor"].as_str() {
                None => {
                    json!({"tools": [{"name": "one", "inputSchema": {"type": "object"}}], "nextCursor": "page-2"})
                }
                Some(_) => json!({"tools": [{"name": "two", "inputSchema": {"type": "object"}}]}),
            },
            "ping" => json!({}),
            _ => {
                let error = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}});
                return tweak(&method, &r, &error)
                    .unwrap_or_else(|| server::json(&error.to_string()));
            }
        };
        let answer = json!({"jsonrpc": "2.0", "id": id, "result": result});
        let response =
            tweak(&method, &r, &answer).unwrap_or_else(|| server::json(&answer.to_string()));
        if method == "initialize" {
            with_header(response, "mcp-session-id", "in-process-session-1")
        } else {
            response
        }
    })
}

#[test]
fn only_declared_capabilities_are_checked_and_pages_are_followed() {
    let server = mcp_server(json!({"tools": {}}), |_, _, _| None);
    let items = item(
        "Tools only",
        "          expect:\n            tools: {names: [one, two], exactly: true}\n",
    );
    let (out, report) = run(&server.url(), &items);
    out.assert_code(0);
    let probe = probe_of(&report, "Tools only");
    assert_eq!(probe["evidence"]["tools"], json!(["one", "two"]));
    assert_eq!(probe["evidence"]["tools_pages"], 2);
    assert_eq!(probe["evidence"]["resources"], "not declared");
    // Nothing was asked that the server did not declare.
    let asked: Vec<String> = server
        .log()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter_map(|b| b["method"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !asked
            .iter()
            .any(|m| m.starts_with("resources") || m.starts_with("prompts")),
        "{asked:?}"
    );
    // The session id and protocol version header travel on later requests.
    let later = &server.log()[1];
    assert_eq!(later.header("mcp-session-id"), Some("in-process-session-1"));
    assert_eq!(later.header("mcp-protocol-version"), Some("2025-06-18"));
    assert_eq!(
        server.log().last().map(|r| r.method.clone()),
        Some("DELETE".to_owned())
    );
    // Expecting resources from a server that declares none fails.
    let items = item(
        "Resources",
        "          expect:\n            resources: ['x://y']\n",
    );
    let (_, report) = run(&server.url(), &items);
    let probe = probe_of(&report, "Resources");
    assert_eq!(failed_checks(probe), ["capability resources"]);
}

#[test]
fn broken_initialize_answers_fail_the_rule_they_break() {
    type Tweak = fn(&Value) -> server::Response;
    let cases: [(&str, Tweak, &str); 4] = [
        (
            "wrong id",
            |a| {
                let mut a = a.clone();
                a["id"] = json!(999);
                server::json(&a.to_string())
            },
            "initialize id",
        ),
        (
            "missing jsonrpc",
            |a| {
                let mut a = a.clone();
                a.as_object_mut().expect("object").remove("jsonrpc");
                server::json(&a.to_string())
            },
            "initialize jsonrpc",
        ),
        (
            "result and error",
            |a| {
                let mut a = a.clone();
                a["error"] = json!({"code": -32603, "message": "both"});
                server::json(&a.to_string())
            },
            "initialize result xor error",
        ),
        (
            "html page",
            |_| {
                respond(
                    200,
                    "text/html",
                    "<html><body>Welcome to nginx!</body></html>",
                )
            },
            "initialize",
        ),
    ];
    for (name, tweak, failing) in cases {
        let server = mcp_server(json!({"tools": {}}), move |method, _, answer| {
            (method == "initialize").then(|| tweak(answer))
        });
        let (out, report) = run(&server.url(), &item(name, "          url: /mcp\n"));
        out.assert_code(1);
        let probe = probe_of(&report, name);
        assert_eq!(failed_checks(probe), [failing], "{name}: {probe:#}");
        assert!(
            probe["evidence"]["exchanges"][0]["status"] == 200,
            "{probe:#}"
        );
    }
    let html = mcp_server(json!({}), |m, _, _| {
        (m == "initialize").then(|| {
            respond(
                200,
                "text/html",
                "<html><body>Welcome to nginx!</body></html>",
            )
        })
    });
    let (_, report) = run(&html.url(), &item("HTML", "          url: /mcp\n"));
    let probe = probe_of(&report, "HTML");
    assert_eq!(
        check_of(probe, "initialize")["actual"],
        "HTTP 200 with content type text/html, expected application/json or text/event-stream: <html><body>Welcome to nginx!</body></html>"
    );
}

#[test]
fn a_session_the_server_then_rejects_fails_with_the_status() {
    let server = mcp_server(json!({"tools": {}}), |method, r, _| {
        (method != "initialize" && r.header("mcp-session-id").is_some())
            .then(|| respond(404, "application/json", r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}"#))
    });
    let (out, report) = run(&server.url(), &item("Session", "          url: /mcp\n"));
    out.assert_code(1);
    let probe = probe_of(&report, "Session");
    let check = check_of(probe, "ping");
    assert_eq!(
        check["actual"],
        r#"HTTP 404 (the session id the server gave was rejected): {"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}"#
    );
    assert!(
        summary(probe).contains("ping: expected a JSON-RPC response, got HTTP 404 (the session id"),
        "{}",
        summary(probe)
    );
}

#[test]
fn a_ten_megabyte_answer_is_cut_at_the_body_limit() {
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"{}\"}}",
        "x".repeat(10 << 20)
    );
    let server = mcp_server(json!({}), move |method, _, _| {
        (method == "initialize").then(|| server::json(&huge))
    });
    let (out, report) = run(&server.url(), &item("Huge", "          url: /mcp\n"));
    out.assert_code(1);
    let probe = probe_of(&report, "Huge");
    assert_eq!(
        check_of(probe, "initialize")["actual"],
        "more than 1.0 MiB (reading stopped there)"
    );
    // The same over SSE.
    let huge_event = format!(
        "event: message\ndata: {{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"{}\"}}\n\n",
        "x".repeat(10 << 20)
    );
    let server = mcp_server(json!({}), move |method, _, _| {
        (method == "initialize").then(|| respond(200, "text/event-stream", huge_event.clone()))
    });
    let (_, report) = run(&server.url(), &item("Huge SSE", "          url: /mcp\n"));
    let probe = probe_of(&report, "Huge SSE");
    assert!(
        check_of(probe, "initialize")["actual"]
            .as_str()
            .expect("actual")
            .starts_with("the SSE stream passed 1.0 MiB without the response to id 1"),
        "{probe:#}"
    );
}

#[test]
fn an_sse_stream_that_never_answers_fails_at_the_timeout() {
    // Sends the headers and a notification, then keeps the stream open forever.
    let server = RawServer::start(|mut stream| async move {
        let mut buf = vec![0u8; 8192];
        let _ = stream.read(&mut buf).await;
        let event = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"working\"}}\n\n";
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
            event.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let out = run_format(
        &server.url(),
        &item("Silent", "          url: /mcp\n"),
        "json",
        "1s",
    );
    out.assert_code(1);
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
    let report = out.json();
    let probe = probe_of(&report, "Silent");
    assert_eq!(probe["verdict"], "fail");
    assert!(summary(probe).contains("timed out after 1s"), "{probe:#}");
}

#[test]
fn an_sse_stream_that_ends_without_the_response_names_what_came() {
    let server = mcp_server(json!({}), |method, _, _| {
        (method == "initialize").then(|| {
            respond(
                200,
                "text/event-stream",
                "id: prime\ndata:\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n",
            )
        })
    });
    let (_, report) = run(&server.url(), &item("Ends", "          url: /mcp\n"));
    let probe = probe_of(&report, "Ends");
    assert_eq!(
        check_of(probe, "initialize")["actual"],
        "the SSE stream ended after 1 events without the response to id 1"
    );
    assert_eq!(
        probe["evidence"]["exchanges"][0]["other_messages"],
        json!(["notifications/progress"])
    );
}

#[test]
fn auth_headers_are_sent_on_every_request_and_redacted() {
    let server = mcp_server(json!({"tools": {}}), |_, r, _| {
        (r.header("x-api-key") != Some("mcp-secret-key-42"))
            .then(|| respond(401, "application/json", r#"{"error":"unauthorized"}"#))
    });
    let items = item(
        "Auth",
        "          headers:\n            x-api-key: ${env:VOUCH_TEST_SECRET}\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "mcp.yaml", &probe_file(&server.url(), &items));
    let path = file.display().to_string();
    for format in ["json", "human", "junit"] {
        let out = Vouch::new(["run", "--format", format, path.as_str()])
            .env("VOUCH_TEST_SECRET", "mcp-secret-key-42")
            .run();
        out.assert_code(0);
        assert!(
            !out.stdout.contains("mcp-secret-key-42"),
            "{format}: {}",
            out.dump()
        );
    }
    assert!(
        server
            .log()
            .iter()
            .all(|r| r.header("x-api-key") == Some("mcp-secret-key-42"))
    );
}

#[test]
fn a_refused_connection_is_a_failed_check() {
    let (out, report) = run(&closed_port_url(), &item("Down", "          url: /mcp\n"));
    out.assert_code(1);
    let probe = probe_of(&report, "Down");
    assert_eq!(probe["verdict"], "fail");
    assert!(summary(probe).contains("initialize: "), "{probe:#}");
    assert!(summary(probe).contains("refused"), "{probe:#}");
}
