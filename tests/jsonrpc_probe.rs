//! `jsonrpc` probes end to end: the real `vouch` binary against the demo's
//! JSON-RPC endpoint (fully compliant) and in-process servers that break one
//! rule each (wrong id, no `jsonrpc`, result and error together, an HTML page
//! with status 200, a 10 MB answer, a body for a notification).

#[path = "support/server.rs"]
mod server;

use serde_json::{Value, json};
use server::{
    Output, Request, Server, Vouch, check_of, closed_port_url, item_of, json as json_response,
    probe_file, probe_of, respond, write_file,
};

fn run_with(target: &str, items: &str, format: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(dir.path(), "rpc.yaml", &probe_file(target, items));
    let path = file.display().to_string();
    let mut vouch = Vouch::new(["run", "--format", format, "--timeout", "5s", path.as_str()]);
    for (name, value) in env {
        vouch = vouch.env(name, value);
    }
    vouch.run()
}

fn run(target: &str, items: &str) -> (Output, Value) {
    let out = run_with(target, items, "json", &[]);
    let report = out.json();
    (out, report)
}

fn item(name: &str, settings: &str) -> String {
    format!("  - item: {name}\n    probes:\n      - jsonrpc:\n{settings}")
}

/// A server that answers every call with `answer(request body)`.
fn rpc_server(answer: impl Fn(&Value) -> String + Send + Sync + 'static) -> Server {
    Server::http(move |r: Request| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        json_response(&answer(&body))
    })
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

fn demo_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_demo_endpoint_passes_the_example_file_with_every_compliance_rule() {
    let rt = demo_runtime();
    let deployment = rt
        .block_on(vouch::demo::Deployment::start())
        .expect("demo starts");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/jsonrpc.yaml");
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
    let report = out.json();
    let probe = probe_of(&report, "JSON-RPC 2.0 compliance verified");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    let rules: Vec<&Value> = probe["evidence"]["compliance"]
        .as_array()
        .expect("compliance records")
        .iter()
        .collect();
    assert_eq!(rules.len(), 6, "{probe:#}");
    assert!(rules.iter().all(|r| r["passed"] == true), "{probe:#}");
    assert_eq!(rules[0]["rule"], "-32700 malformed JSON");
    assert!(
        probe["summary"].as_str().expect("summary").contains(
            "compliance 6/6: -32700 ✔, -32600 ✔, -32601 ✔, -32602 ✔, empty batch ✔, mixed batch ✔"
        ),
        "{probe:#}"
    );
    assert_eq!(check_of(probe, "result $")["actual"], "5");
    let concurrent = probe_of(&report, "Concurrent requests handled properly");
    assert_eq!(
        concurrent["evidence"]["concurrent"]["matched"], 20,
        "{concurrent:#}"
    );
    // The human report shows the per-rule results on the probe's line.
    let human = Vouch::new(["run", "--target", &deployment.url(), example]).run();
    human.assert_code(0);
    assert!(
        human.stdout.contains("compliance 6/6: -32700 ✔"),
        "{}",
        human.dump()
    );
    rt.block_on(deployment.stop());
}

#[test]
fn a_server_that_ignores_the_spec_fails_each_compliance_rule_by_name() {
    // Answers every body, whatever it is, with a result for id 1.
    let server =
        Server::http(|_r: Request| json_response(r#"{"jsonrpc":"2.0","id":1,"result":"ok"}"#));
    let items = item(
        "JSON-RPC 2.0 compliance verified",
        "          method: sum\n          id: 1\n          compliance: true\n",
    );
    let (out, report) = run(&server.url(), &items);
    out.assert_code(1);
    let probe = probe_of(&report, "JSON-RPC 2.0 compliance verified");
    assert_eq!(
        failed_checks(probe),
        [
            "compliance -32700 malformed JSON",
            "compliance -32600 invalid request object",
            "compliance -32601 unknown method",
            "compliance -32602 invalid params",
            "compliance -32600 empty batch",
            "compliance mixed batch",
        ],
        "{probe:#}"
    );
    let parse = check_of(probe, "compliance -32700 malformed JSON");
    assert_eq!(parse["expected"], "error -32700 with id null");
    assert_eq!(parse["actual"], "result \"ok\" (HTTP 200), id 1");
    let mixed = check_of(probe, "compliance mixed batch");
    assert!(
        mixed["actual"]
            .as_str()
            .expect("actual")
            .starts_with("not an array: result \"ok\""),
        "{mixed:#}"
    );
    // The human report names every failed rule.
    let human = run_with(&server.url(), &items, "human", &[]);
    human.assert_code(1);
    for rule in [
        "-32700 malformed JSON",
        "-32601 unknown method",
        "mixed batch",
    ] {
        assert!(
            human
                .stdout
                .contains(&format!("compliance {rule}: expected")),
            "{}",
            human.dump()
        );
    }
    assert!(human.stdout.contains("compliance 0/6"), "{}", human.dump());
}

#[test]
fn each_broken_envelope_fails_the_rule_it_breaks() {
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "wrong id",
            r#"{"jsonrpc":"2.0","id":"someone-else","result":3}"#,
            &["envelope id"],
        ),
        (
            "missing jsonrpc",
            r#"{"id":"mine","result":3}"#,
            &["envelope jsonrpc"],
        ),
        (
            "result and error",
            r#"{"jsonrpc":"2.0","id":"mine","result":3,"error":{"code":-32000,"message":"x"}}"#,
            &["envelope result xor error", "outcome"],
        ),
    ];
    for (name, answer, failing) in cases {
        let answer = answer.to_owned();
        let server = rpc_server(move |_| answer.clone());
        let items = item(name, "          method: sum\n          id: mine\n");
        let (out, report) = run(&server.url(), &items);
        out.assert_code(1);
        let probe = probe_of(&report, name);
        assert_eq!(probe["verdict"], "fail", "{probe:#}");
        assert_eq!(failed_checks(probe), failing, "{name}: {probe:#}");
        // The exchange is the evidence.
        assert_eq!(probe["evidence"]["request"]["method"], "POST");
        assert!(
            probe["evidence"]["response"]["body_excerpt"]
                .as_str()
                .expect("excerpt")
                .contains("result"),
            "{probe:#}"
        );
    }
    let wrong = rpc_server(|_| r#"{"jsonrpc":"2.0","id":"someone-else","result":3}"#.to_owned());
    let (_, report) = run(
        &wrong.url(),
        &item("Wrong id", "          method: sum\n          id: mine\n"),
    );
    let check = check_of(probe_of(&report, "Wrong id"), "envelope id");
    assert_eq!(check["expected"], "\"mine\" (the request's)");
    assert_eq!(check["actual"], "\"someone-else\"");
}

#[test]
fn an_html_error_page_with_status_200_fails_content_type_and_body() {
    let server = Server::http(|_r: Request| {
        respond(
            200,
            "text/html",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
    });
    let (out, report) = run(&server.url(), &item("HTML", "          method: sum\n"));
    out.assert_code(1);
    let probe = probe_of(&report, "HTML");
    assert_eq!(
        failed_checks(probe),
        ["content-type", "response body"],
        "{probe:#}"
    );
    assert_eq!(check_of(probe, "content-type")["actual"], "text/html");
    assert!(
        check_of(probe, "response body")["actual"]
            .as_str()
            .expect("actual")
            .contains("<html><body><h1>502 Bad Gateway"),
        "{probe:#}"
    );
}

#[test]
fn a_ten_megabyte_answer_is_cut_at_the_body_limit() {
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":"{}"}}"#,
        "x".repeat(10 << 20)
    );
    let server = Server::http(move |_r: Request| json_response(&huge));
    let (out, report) = run(
        &server.url(),
        &item("Huge", "          method: sum\n          id: 1\n"),
    );
    out.assert_code(1);
    let probe = probe_of(&report, "Huge");
    let size = check_of(probe, "body size");
    assert_eq!(size["expected"], "at most 1.0 MiB");
    assert!(
        size["actual"]
            .as_str()
            .expect("actual")
            .starts_with("more than 1.0 MiB"),
        "{probe:#}"
    );
    assert_eq!(probe["evidence"]["response"]["truncated"], true);
}

#[test]
fn expected_errors_notifications_and_batches() {
    let rt = demo_runtime();
    let deployment = rt
        .block_on(vouch::demo::Deployment::start())
        .expect("demo starts");
    let items = [
        item(
            "Unknown method fails as it should",
            "          url: /rpc\n          method: nope\n          expect:\n            error: {code: -32601, message: {contains: not found}}\n",
        ),
        item(
            "A failing call is refuted",
            "          url: /rpc\n          method: orders.count\n",
        ),
        item(
            "Batch",
            "          url: /rpc\n          batch:\n            - {method: sum, params: [1, 2], id: a, expect: {result: {$: 3}}}\n            - {method: sum, params: [5], notification: true}\n            - {method: nope, id: b, expect: {error: {code: -32601}}}\n",
        ),
        item(
            "Notification",
            "          url: /rpc\n          method: sum\n          params: [1]\n          notification: true\n",
        ),
    ]
    .concat();
    let (out, report) = run(&deployment.url(), &items);
    out.assert_code(1);
    assert_eq!(
        probe_of(&report, "Unknown method fails as it should")["verdict"],
        "pass"
    );
    let refuted = probe_of(&report, "A failing call is refuted");
    assert_eq!(failed_checks(refuted), ["outcome"]);
    assert_eq!(
        check_of(refuted, "outcome")["actual"],
        "error -32000 \"order service unavailable: connection pool exhausted\""
    );
    let batch = probe_of(&report, "Batch");
    assert_eq!(batch["verdict"], "pass", "{batch:#}");
    assert_eq!(check_of(batch, "batch response")["actual"], "2 responses");
    let note = probe_of(&report, "Notification");
    assert_eq!(note["verdict"], "pass", "{note:#}");
    assert_eq!(
        check_of(note, "notification response")["actual"],
        "204, no body"
    );
    rt.block_on(deployment.stop());
}

#[test]
fn a_notification_answered_with_a_body_fails() {
    let server = rpc_server(|_| r#"{"jsonrpc":"2.0","id":null,"result":1}"#.to_owned());
    let (_, report) = run(
        &server.url(),
        &item(
            "Note",
            "          method: log\n          notification: true\n",
        ),
    );
    let probe = probe_of(&report, "Note");
    let check = check_of(probe, "notification response");
    assert_eq!(check["passed"], false);
    assert!(
        check["actual"]
            .as_str()
            .expect("actual")
            .starts_with("200 with 38 bytes"),
        "{check:#}"
    );
}

#[test]
fn concurrent_calls_answered_with_one_id_fail() {
    // Echoes the id of the first call it ever saw: a server that mixes up answers.
    let first = std::sync::Mutex::new(None::<Value>);
    let server = rpc_server(move |body| {
        let mut first = first.lock().expect("lock");
        let id = first.get_or_insert_with(|| body["id"].clone()).clone();
        json!({"jsonrpc": "2.0", "id": id, "result": 1}).to_string()
    });
    let (_, report) = run(
        &server.url(),
        &item(
            "Concurrent",
            "          method: sum\n          concurrent: 8\n",
        ),
    );
    let probe = probe_of(&report, "Concurrent");
    let check = check_of(probe, "concurrent");
    assert_eq!(check["passed"], false, "{probe:#}");
    assert_eq!(check["expected"], "8 valid responses, each with its own id");
    assert!(
        check["actual"]
            .as_str()
            .expect("actual")
            .starts_with("0 of 8 matched (id "),
        "{check:#}"
    );
    assert!(server.requests() >= 9);
}

#[test]
fn bearer_tokens_are_sent_and_redacted() {
    let server = Server::http(|r: Request| {
        let ok = r.header("authorization") == Some("Bearer s3cr3t-rpc-token");
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        json_response(&json!({"jsonrpc": "2.0", "id": body["id"], "result": ok}).to_string())
    });
    let items = item(
        "Auth",
        "          method: whoami\n          headers:\n            authorization: Bearer ${env:VOUCH_TEST_SECRET}\n          expect:\n            result:\n              $: true\n",
    );
    for format in ["json", "human", "junit"] {
        let out = run_with(
            &server.url(),
            &items,
            format,
            &[("VOUCH_TEST_SECRET", "s3cr3t-rpc-token")],
        );
        out.assert_code(0);
        assert!(
            !out.stdout.contains("s3cr3t-rpc-token"),
            "{format}: {}",
            out.dump()
        );
    }
}

#[test]
fn a_refused_connection_is_a_failed_check() {
    let (out, report) = run(
        &closed_port_url(),
        &item(
            "Down",
            "          method: sum\n          compliance: true\n",
        ),
    );
    out.assert_code(1);
    let probe = &item_of(&report, "Down")["probes"][0];
    assert_eq!(probe["verdict"], "fail");
    assert!(
        probe["summary"]
            .as_str()
            .expect("summary")
            .contains("refused"),
        "{probe:#}"
    );
}

#[test]
fn bad_settings_are_load_errors_with_positions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item("Bad", "          method: sum\n          params: 3\n");
    let file = write_file(
        dir.path(),
        "rpc.yaml",
        &probe_file("http://127.0.0.1:1", &items),
    );
    let out = Vouch::new(["check".to_owned(), file.display().to_string()]).run();
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("`params` must be an object or an array, not 3"),
        "{}",
        out.dump()
    );
    assert!(out.stderr.contains("rpc.yaml:8:"), "{}", out.dump());
}
