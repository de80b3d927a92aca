//! Multi-step HTTP: `capture:` from one probe's response into the later
//! probes of its item (`${capture:NAME}`), and `oauth2:` client-credentials
//! tokens. Against an in-process server (a login, a token endpoint, a
//! resource that echoes the credentials it gets) and, when
//! `scripts/test.sh` started it, the real npm `oauth2-mock-server`
//! (`VOUCH_TEST_OAUTH2`). Every output format is searched for the captured
//! session token, the access token and the client secret.

#[path = "support/server.rs"]
mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use server::{Output, Request, Server, Vouch, json, respond, text, with_header, write_file};

/// The session token the login hands out.
const SESSION: &str = "sess-Q7w9Xk2Lm4Np8Rt6";
/// The access token the token endpoint hands out.
const ACCESS: &str = "acc-Z3y5Vb7Nm9Kq1Wp4";
/// The client secret.
const CLIENT_SECRET: &str = "cl13nt-S3cret-8h7g6f";
const REDACTED: &str = "«redacted»";

/// `Basic base64(app:CLIENT_SECRET)`.
fn basic() -> String {
    let pair = format!("app:{CLIENT_SECRET}");
    format!("Basic {}", base64(pair.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
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
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The deployment: `POST /login` (a session token in JSON, `Location` of
/// the new item), `GET /me` (wants the session, echoes it), `/items/42`,
/// `POST /token` (client credentials; counts requests), `GET /api` (wants
/// the access token, echoes it).
fn deployment(token_requests: Arc<AtomicUsize>) -> Server {
    Server::http(move |r: Request| match (r.method.as_str(), r.path()) {
        ("POST", "/login") => with_header(
            json(&format!(
                r#"{{"session":{{"token":"{SESSION}"}},"id":42,"note":"id=abc123;"}}"#
            )),
            "location",
            "/items/42",
        ),
        ("GET", "/me") => match r.header("authorization") {
            Some(auth) if auth == format!("Bearer {SESSION}") => text(
                200,
                &format!("hello; you sent {auth} and cookie {:?}", r.header("cookie")),
            ),
            _ => text(401, "no session"),
        },
        ("GET", "/items/42") => text(200, "item 42"),
        ("GET", "/items/abc123") => text(200, "item abc123"),
        ("POST", "/token") => {
            token_requests.fetch_add(1, Ordering::SeqCst);
            let body = String::from_utf8_lossy(&r.body).into_owned();
            let post_auth = body.contains(&format!("client_secret={CLIENT_SECRET}"));
            let basic_auth = r.header("authorization") == Some(basic().as_str());
            if !body.contains("grant_type=client_credentials") {
                return respond(
                    400,
                    "application/json",
                    r#"{"error":"unsupported_grant_type"}"#,
                );
            }
            if basic_auth || post_auth {
                json(&format!(
                    r#"{{"access_token":"{ACCESS}","token_type":"bearer","expires_in":3600,"scope":"read"}}"#
                ))
            } else {
                // A careless endpoint echoes what it got.
                respond(
                    401,
                    "application/json",
                    format!(r#"{{"error":"invalid_client","got":"{body}"}}"#),
                )
            }
        }
        ("GET", "/api") => match r.header("authorization") {
            Some(auth) if auth == format!("Bearer {ACCESS}") => {
                text(200, &format!("welcome; token {ACCESS}"))
            }
            _ => text(401, "token required"),
        },
        _ => text(404, "not found"),
    })
}

/// Runs `vouch run` on a probe file in every format (markdown writes back
/// a checklist of the file's items, all ticked); the outputs.
fn run_all_formats(dir: &std::path::Path, file: &std::path::Path) -> Vec<(String, Output)> {
    let probes = std::fs::read_to_string(file).expect("probe file");
    let checklist: String = probes
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- item: "))
        .map(|item| format!("- [x] {item}\n"))
        .collect();
    let checklist = write_file(dir, "checklist.md", &format!("# Ready\n\n{checklist}"));
    ["json", "human", "junit", "markdown"]
        .iter()
        .map(|format| {
            let out = Vouch::new([
                "run".as_ref(),
                file.as_os_str(),
                "--checklist".as_ref(),
                checklist.as_os_str(),
                "--format".as_ref(),
                format.as_ref(),
            ])
            .env("VOUCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
            // Streamed into the JSON, human and markdown reports, as by
            // default (junit keeps its items in memory).
            .env("VOUCH_STREAM", "1")
            .current_dir(dir)
            .run();
            ((*format).to_owned(), out)
        })
        .collect()
}

fn assert_never_shown(outputs: &[(String, Output)], secrets: &[&str]) {
    for (format, out) in outputs {
        for secret in secrets {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{secret} leaked in the {format} output:\n{}",
                out.dump()
            );
        }
    }
}

#[test]
fn captures_chain_an_items_probes_and_credentials_stay_secret() {
    let server = deployment(Arc::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &format!(
            r#"version: 1
target: {}
items:
  - item: A logged-in user sees their profile
    probes:
      - name: log in
        http:
          post: /login
          json: {{user: demo}}
        capture:
          session: $.session.token
          item: {{header: Location}}
          code: {{regex: "id=(\\w+);"}}
      - http:
          get: /me
          headers: {{Authorization: "Bearer ${{capture:session}}"}}
          expect: {{status: 200, body: {{contains: hello}}}}
      - http:
          get: ${{capture:item}}
          expect: {{status: 200}}
      - http:
          get: /items/${{capture:code}}
          expect: {{status: 200, body: {{contains: abc123}}}}
  - item: The profile page is empty
    probes:
      - http: {{post: /login}}
        capture: {{session: $.session.token}}
      - http:
          get: /me
          headers: {{Authorization: "Bearer ${{capture:session}}"}}
          expect: {{body: {{matches: "^$"}}}}
"#,
            server.url()
        ),
    );
    let outputs = run_all_formats(dir.path(), &file);
    for (_, out) in &outputs {
        out.assert_code(1);
    }
    let report = outputs[0].1.json();
    assert_eq!(report["items"][1]["verdict"], "failed", "{report:#}");
    let item = &report["items"][0];
    assert_eq!(item["verdict"], "verified", "{report:#}");
    let probes = item["probes"].as_array().expect("probes");
    assert_eq!(probes.len(), 4);
    // The capture checks: the session (its name says credential) is
    // redacted; the item path and the regex group are shown.
    let checks = probes[0]["checks"].as_array().expect("checks");
    let check = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {checks:?}"))
            .clone()
    };
    assert_eq!(check("capture session")["actual"], REDACTED);
    assert_eq!(check("capture item")["actual"], "/items/42");
    assert_eq!(check("capture code")["actual"], "abc123");
    assert_eq!(
        probes[0]["evidence"]["captures"]["item"]["from"],
        "header Location"
    );
    // Later probes ran with the values: the paths show them.
    assert!(
        probes[2]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("/items/42")
    );
    // The server echoed the session back in the body of /me: redacted there too.
    let shown = probes[1].to_string();
    assert!(shown.contains(REDACTED), "{shown}");
    assert_never_shown(&outputs, &[SESSION]);
    // The failed probe's body excerpt (the echo) is in each format, redacted.
    for (format, out) in &outputs {
        assert!(out.stdout.contains(REDACTED), "{format}: {}", out.dump());
    }
}

/// A deployment whose `/debug` shows the session and the access token
/// right away, while the login and the token endpoint take half a second:
/// an item that reads `/debug` has long finished when either is learnt.
fn slow_secrets() -> Server {
    Server::http_async(|r: Request| async move {
        let slowly = || tokio::time::sleep(std::time::Duration::from_millis(500));
        match (r.method.as_str(), r.path()) {
            ("GET", "/debug") => {
                // Plain words: no credential position redacts these.
                text(200, &format!("debug: recent values {SESSION}, {ACCESS}"))
            }
            ("POST", "/login") => {
                slowly().await;
                json(&format!(r#"{{"session":{{"token":"{SESSION}"}}}}"#))
            }
            ("POST", "/token") => {
                slowly().await;
                json(&format!(
                    r#"{{"access_token":"{ACCESS}","token_type":"bearer","expires_in":3600}}"#
                ))
            }
            ("GET", "/me") => match r.header("authorization") {
                Some(auth) if auth == format!("Bearer {SESSION}") => text(200, "hello"),
                _ => text(401, "no session"),
            },
            ("GET", "/api") => match r.header("authorization") {
                Some(auth) if auth == format!("Bearer {ACCESS}") => text(200, "welcome"),
                _ => text(401, "token required"),
            },
            _ => text(404, "not found"),
        }
    })
}

/// Runs a debug item (its page shows `secret`) before `learner`, an item
/// that learns `secret` half a second later, in every format: the debug
/// item is redacted with it all the same, because a run that can learn
/// secrets holds its items until it ends rather than stream them into the
/// reports as they finish.
fn assert_learnt_later_is_redacted_earlier(learner: &str, secret: &str) {
    let server = slow_secrets();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &format!(
            r#"version: 1
target: {}
items:
  - item: The debug page says nothing of credentials
    probes:
      - http:
          get: /debug
          expect: {{body: {{contains: nothing-to-see}}}}
{learner}"#,
            server.url()
        ),
    );
    let outputs = run_all_formats(dir.path(), &file);
    for (_, out) in &outputs {
        out.assert_code(1);
    }
    let report = outputs[0].1.json();
    assert_eq!(report["items"][0]["verdict"], "failed", "{report:#}");
    assert_eq!(report["items"][1]["verdict"], "verified", "{report:#}");
    // The debug page's body is in the first item's evidence, the secret in
    // it redacted although it was learnt only after the item ended.
    let shown = report["items"][0]["probes"][0].to_string();
    assert!(shown.contains("debug: recent values"), "{shown}");
    assert!(shown.contains(REDACTED), "{shown}");
    assert_never_shown(&outputs, &[secret, CLIENT_SECRET]);
    for (format, out) in &outputs {
        assert!(out.stdout.contains(REDACTED), "{format}: {}", out.dump());
    }
}

#[test]
fn a_session_captured_after_an_item_finished_is_redacted_in_that_item() {
    assert_learnt_later_is_redacted_earlier(
        r#"  - item: A logged-in user sees their profile
    probes:
      - http: {post: /login}
        capture: {session: $.session.token}
      - http:
          get: /me
          headers: {Authorization: "Bearer ${capture:session}"}
          expect: {status: 200}
"#,
        SESSION,
    );
}

#[test]
fn an_oauth2_token_obtained_after_an_item_finished_is_redacted_in_that_item() {
    assert_learnt_later_is_redacted_earlier(
        r#"  - item: The API takes a client's token
    probes:
      - http: {get: /api, expect: {status: 200}}
        oauth2:
          token_url: /token
          client_id: app
          client_secret: ${secret:VOUCH_TEST_CLIENT_SECRET}
"#,
        ACCESS,
    );
}

#[test]
fn a_missing_capture_fails_the_steps_that_use_it() {
    let server = deployment(Arc::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &format!(
            r#"version: 1
target: {}
items:
  - item: Login gives a token
    probes:
      - http: {{post: /login}}
        capture: {{token: $.access_token}}
      - http:
          get: /me
          headers: {{Authorization: "Bearer ${{capture:token}}"}}
      - http: {{get: /items/42}}
"#,
            server.url()
        ),
    );
    let out = Vouch::new([
        "run".as_ref(),
        file.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ])
    .run();
    out.assert_code(1);
    let report = out.json();
    let probes = report["items"][0]["probes"]
        .as_array()
        .expect("probes")
        .clone();
    assert_eq!(probes[0]["verdict"], "fail", "{report:#}");
    assert!(
        probes[0]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("capture `token` missing ($.access_token: nothing there)"),
        "{}",
        probes[0]["summary"]
    );
    assert_eq!(probes[1]["verdict"], "fail");
    assert!(
        probes[1]["summary"]
            .as_str()
            .unwrap_or_default()
            .ends_with("not run: capture `token` missing"),
        "{}",
        probes[1]["summary"]
    );
    // A step that does not use the capture still runs.
    assert_eq!(probes[2]["verdict"], "pass");
    // /me was never asked: only the login and the item reached the server.
    let paths: Vec<String> = server.log().iter().map(|r| r.path().to_owned()).collect();
    assert!(!paths.iter().any(|p| p == "/me"), "{paths:?}");
}

#[test]
fn a_capture_no_earlier_probe_makes_is_a_load_error_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(
        dir.path(),
        "probes.yaml",
        r#"version: 1
target: http://127.0.0.1:9
items:
  - item: Chained
    probes:
      - http:
          get: /a?token=${capture:token}
      - http: {post: /login}
        capture: {token: $.token}
      - http:
          get: /b
          headers: {Authorization: "Bearer ${capture:tokn}"}
      - tcp: {address: "127.0.0.1:9"}
        capture: {x: $.x}
      - tcp: {address: "127.0.0.1:9"}
        oauth2: {token_url: /token, client_id: a, client_secret: b}
"#,
    );
    let out = Vouch::new(["check".as_ref(), file.as_os_str()]).run();
    out.assert_code(2);
    let err = &out.stderr;
    assert!(
        err.contains("no earlier probe of this item captures `token`")
            && err.contains("probes.yaml:7:25"),
        "{}",
        out.dump()
    );
    assert!(
        err.contains("captures `tokn`; did you mean `token`?"),
        "{}",
        out.dump()
    );
    assert!(err.contains("probes.yaml:12:44"), "{}", out.dump());
    assert!(err.contains("`tcp` probes keep none"), "{}", out.dump());
    assert!(
        err.contains("`tcp` probes do not take one"),
        "{}",
        out.dump()
    );
}

#[test]
fn oauth2_fetches_one_token_for_many_probes_and_never_shows_it() {
    let token_requests = Arc::new(AtomicUsize::new(0));
    let server = deployment(Arc::clone(&token_requests));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut items = String::new();
    for i in 0..12 {
        items.push_str(&format!(
            "  - item: API call {i}\n    probes:\n      - http: {{get: /api, expect: {{status: 200}}}}\n"
        ));
    }
    // The traffic path (its own HTTP client) carries the token too.
    items.push_str(
        "  - item: Under load\n    probes:\n      - load: {get: /api, concurrency: 2, duration: 300ms, max_requests: 40, expect: {error_rate: {max: 0%}}}\n",
    );
    // One probe with its own client, sending the secret in the body.
    items.push_str(
        "  - item: Posted client\n    probes:\n      - http:\n          get: /api\n        oauth2:\n          token_url: /token\n          client_id: other\n          client_secret: ${secret:VOUCH_TEST_CLIENT_SECRET}\n          auth_method: post\n",
    );
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &format!(
            "version: 1\ntarget: {}\ndefaults:\n  oauth2:\n    token_url: /token\n    client_id: app\n    client_secret: ${{secret:VOUCH_TEST_CLIENT_SECRET}}\n    scope: read\nitems:\n{items}",
            server.url()
        ),
    );
    let out = Vouch::new([
        "run".as_ref(),
        file.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
        "--cool-down".as_ref(),
        "0s".as_ref(),
    ])
    .env("VOUCH_TEST_CLIENT_SECRET", CLIENT_SECRET)
    .run();
    out.assert_code(0);
    // Twelve probes at once, one token request; the other client its own.
    assert_eq!(token_requests.load(Ordering::SeqCst), 2);
    let report = out.json();
    let first = &report["items"][0]["probes"][0]["evidence"]["oauth2"];
    assert_eq!(first["client_id"], "app", "{report:#}");
    assert_eq!(first["scope"], "read");
    assert_eq!(first["auth_method"], "client_secret_basic");
    assert_eq!(first["status"], 200);
    let cached = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["probes"][0]["evidence"]["oauth2"]["cached"] == true)
        .count();
    // Eleven of the dozen, and the load probe.
    assert_eq!(cached, 12, "{report:#}");
    assert_eq!(report["items"][12]["verdict"], "verified", "{report:#}");
    assert_eq!(
        report["items"][13]["probes"][0]["evidence"]["oauth2"]["auth_method"],
        "client_secret_post"
    );
    let outputs = run_all_formats(dir.path(), &file);
    assert_never_shown(&outputs, &[ACCESS, CLIENT_SECRET]);
    // `/api` echoes the token: the reports say so, redacted.
    assert!(
        outputs[0].1.stdout.contains(&format!("token {REDACTED}")),
        "{}",
        outputs[0].1.dump()
    );
}

#[test]
fn a_refused_token_request_fails_the_probe_with_the_endpoints_answer() {
    let token_requests = Arc::new(AtomicUsize::new(0));
    let server = deployment(Arc::clone(&token_requests));
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = "wr0ng-S3cret-1a2b3c";
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &format!(
            "version: 1\ntarget: {}\ndefaults:\n  oauth2: {{token_url: /token, client_id: app, client_secret: '${{secret:WRONG}}', auth_method: post}}\nitems:\n  - item: One\n    probes:\n      - http: {{get: /api}}\n  - item: Two\n    probes:\n      - http: {{get: /api}}\n  - item: Not HTTP\n    probes:\n      - tcp: {{address: '{}'}}\n",
            server.url(),
            server.url().trim_start_matches("http://")
        ),
    );
    let out = Vouch::new([
        "run".as_ref(),
        file.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ])
    .env("WRONG", wrong)
    .run();
    out.assert_code(1);
    let report = out.json();
    let probe = &report["items"][0]["probes"][0];
    assert_eq!(probe["verdict"], "fail", "{report:#}");
    let summary = probe["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("not run: oauth2 token request POST"),
        "{summary}"
    );
    assert!(
        summary.contains("401") && summary.contains("invalid_client"),
        "{summary}"
    );
    assert_eq!(probe["evidence"]["oauth2"]["status"], 401);
    // The failure is shared, not asked again by the second probe.
    assert_eq!(token_requests.load(Ordering::SeqCst), 1);
    // A kind that sends no HTTP does not wait for a token.
    assert_eq!(report["items"][2]["verdict"], "verified", "{report:#}");
    assert!(!out.stdout.contains(wrong), "{}", out.dump());
    // No request reached the resource without its token.
    assert!(!server.log().iter().any(|r| r.path() == "/api"));
}

/// The real npm `oauth2-mock-server` as the token endpoint; the resource
/// is the in-process server, which keeps the token it was sent.
#[test]
fn a_token_from_the_real_oauth2_mock_server_is_sent_and_redacted() {
    let Some(issuer) = peer() else { return };
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = Arc::clone(&seen);
    let resource = Server::http(move |r: Request| {
        let auth = r.header("authorization").unwrap_or_default().to_owned();
        kept.lock().expect("lock").push(auth.clone());
        // A JWT: three base64url parts.
        match auth.strip_prefix("Bearer ") {
            Some(jwt) if jwt.split('.').count() == 3 => text(200, &format!("you are {jwt}")),
            _ => text(401, "bearer JWT required"),
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_file(
        dir.path(),
        "probes.yaml",
        &format!(
            "version: 1\ntarget: {}\ndefaults:\n  oauth2:\n    token_url: {issuer}/token\n    client_id: vouch\n    client_secret: ${{secret:VOUCH_TEST_CLIENT_SECRET}}\n    scope: read\nitems:\n  - item: Resource\n    probes:\n      - http: {{get: /one, expect: {{status: 200}}}}\n      - http: {{get: /two, expect: {{status: 200}}}}\n",
            resource.url()
        ),
    );
    let outputs = run_all_formats(dir.path(), &file);
    for (_, out) in &outputs {
        out.assert_code(0);
    }
    let report = outputs[0].1.json();
    let record = &report["items"][0]["probes"][0]["evidence"]["oauth2"];
    assert_eq!(record["status"], 200, "{report:#}");
    assert_eq!(record["granted_scope"], "read");
    let tokens = seen.lock().expect("lock").clone();
    let token = tokens[0].trim_start_matches("Bearer ").to_owned();
    assert!(token.len() > 20, "{tokens:?}");
    assert_never_shown(&outputs, &[&token, CLIENT_SECRET]);
}

/// The real token endpoint's base URL, or `None` with a note.
fn peer() -> Option<String> {
    match std::env::var("VOUCH_TEST_OAUTH2") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("VOUCH_REQUIRE_PEERS").is_none(),
                "VOUCH_REQUIRE_PEERS is set but VOUCH_TEST_OAUTH2 is not: scripts/test.sh starts \
                 oauth2-mock-server"
            );
            eprintln!(
                "note: VOUCH_TEST_OAUTH2 is not set; skipped (scripts/test.sh starts \
                 oauth2-mock-server and sets it)"
            );
            None
        }
    }
}
