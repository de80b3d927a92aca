//! `auth` probes end to end: the real `vouch` binary against in-process
//! servers that check a header key, a bearer token, HTTP Basic or a query
//! key — and one that checks nothing; and the right credential, from the
//! environment or written literally, in no output of any format.

#[path = "support/server.rs"]
mod server;

use std::path::Path;

use server::{
    Output, Request, Response, Server, Vouch, check_names, check_of, closed_port_url, probe_file,
    probe_of, respond, text, with_header, write_file,
};

const TOKEN: &str = "tok-3f9a1c7e5b2d8046";
const KEY: &str = "key-9d8c7b6a5f4e3d2c";
const PASSWORD: &str = "pw-Correct-Horse-42";
const REDACTED: &str = "«redacted»";

/// Base64 of `user:password`, as `Authorization: Basic` carries it.
fn basic(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
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
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// 401 (with a challenge) without a credential, 403 with a wrong one, 200
/// with the right one; `/open` lets everyone in; every body echoes the request.
fn guarded(r: &Request) -> Response {
    let echo = respond(200, "text/plain", r.dump());
    if r.path() == "/open" {
        return echo;
    }
    let bearer = r.header("authorization");
    let key = r.header("x-api-key");
    let query_key = r
        .uri
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("api_key=")));
    let right_basic = format!("Basic {}", basic("alice", PASSWORD));
    let given = bearer.is_some() || key.is_some() || query_key.is_some();
    let right = bearer == Some(&format!("Bearer {TOKEN}"))
        || bearer == Some(right_basic.as_str())
        || key == Some(KEY)
        || query_key == Some(KEY);
    if right {
        echo
    } else if given {
        respond(403, "text/plain", r.dump())
    } else {
        with_header(
            text(401, "no credentials"),
            "www-authenticate",
            "Bearer realm=\"api\"",
        )
    }
}

fn item(name: &str, settings: &str) -> String {
    format!("  - item: {name}\n    probes:\n      - auth:\n{settings}")
}

fn run(dir: &Path, yaml: &str) -> (Output, serde_json::Value) {
    write_file(dir, "probes.yaml", yaml);
    let out = Vouch::new(["run", "--format", "json", "probes.yaml"])
        .env("VOUCH_TEST_SECRET", TOKEN)
        .current_dir(dir)
        .run();
    let report = out.json();
    (out, report)
}

#[test]
fn a_bearer_protected_endpoint_passes_all_three_requests() {
    let server = Server::http(|r: Request| guarded(&r));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "Without API key → 401",
        "          url: /api/orders\n          bearer: ${env:VOUCH_TEST_SECRET}\n",
    );
    let (out, report) = run(dir.path(), &probe_file(&server.url(), &items));
    out.assert_code(0);
    let probe = probe_of(&report, "Without API key → 401");
    assert_eq!(probe["kind"], "auth");
    assert_eq!(probe["name"], "GET /api/orders (bearer)");
    assert_eq!(
        check_names(probe),
        [
            "/api/orders: no credentials",
            "/api/orders: wrong credentials",
            "/api/orders: valid credentials",
        ]
    );
    let none = check_of(probe, "/api/orders: no credentials");
    assert_eq!(none["expected"], "one of [401, 403]");
    assert_eq!(
        none["actual"],
        r#"401; WWW-Authenticate "Bearer realm=\"api\"""#
    );
    assert_eq!(
        check_of(probe, "/api/orders: wrong credentials")["actual"],
        "403"
    );
    assert_eq!(
        check_of(probe, "/api/orders: valid credentials")["actual"],
        "200"
    );
    assert_eq!(
        probe["summary"],
        "GET /api/orders (bearer) → 401 without credentials, 403 with wrong ones, 200 with valid ones"
    );

    // What the server saw: nothing, a made-up token of the same shape, the token.
    let log = server.log();
    assert_eq!(log.len(), 3);
    let mut seen: Vec<Option<&str>> = log.iter().map(|r| r.header("authorization")).collect();
    seen.sort();
    assert_eq!(seen[0], None);
    let right = format!("Bearer {TOKEN}");
    assert!(seen.contains(&Some(right.as_str())));
    let wrong = seen
        .iter()
        .flatten()
        .find(|v| **v != right)
        .expect("a wrong token");
    assert_eq!(wrong.len(), right.len());
    // Letters stay letters, digits digits, the dash stays put.
    let token = wrong.strip_prefix("Bearer ").expect("a bearer token");
    for (w, r) in token.chars().zip(TOKEN.chars()) {
        assert_eq!(w.is_ascii_digit(), r.is_ascii_digit(), "{token}");
        assert_eq!(w == '-', r == '-', "{token}");
    }

    let exchanges = probe["evidence"]["exchanges"]
        .as_array()
        .expect("exchanges");
    assert_eq!(exchanges.len(), 3);
    assert_eq!(exchanges[0]["credentials"], "none");
    assert_eq!(
        exchanges[1]["credentials"],
        "wrong (made up, same shape as the right one)"
    );
    assert_eq!(exchanges[2]["credentials"], "valid");
    assert_eq!(
        exchanges[2]["request"]["headers"]["authorization"],
        REDACTED
    );
    assert_eq!(probe["evidence"]["scheme"], "bearer");
}

#[test]
fn an_endpoint_that_checks_nothing_fails_the_unauthenticated_requests() {
    let server = Server::http(|r: Request| guarded(&r));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "API key validation on all endpoints",
        "          paths: [/api/orders, /open, /api/users]\n          header: { name: X-API-Key, value: key-9d8c7b6a5f4e3d2c }\n",
    );
    let (out, report) = run(dir.path(), &probe_file(&server.url(), &items));
    out.assert_code(1);
    let probe = probe_of(&report, "API key validation on all endpoints");
    assert_eq!(
        probe["name"],
        "GET /api/orders, /open and 1 more (header X-API-Key)"
    );
    assert_eq!(check_names(probe).len(), 9);
    let failed: Vec<String> = probe["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| {
            format!(
                "{} → {}",
                c["name"].as_str().expect("name"),
                c["actual"].as_str().expect("actual")
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            "/open: no credentials → 200",
            "/open: wrong credentials → 200"
        ]
    );
    assert_eq!(
        probe["summary"],
        "GET /api/orders, /open and 1 more (header X-API-Key) → /open: no credentials: expected one of [401, 403], got 200; /open: wrong credentials: expected one of [401, 403], got 200"
    );
    assert_eq!(server.requests(), 9);
    assert!(
        server
            .log()
            .iter()
            .any(|r| r.header("x-api-key") == Some(KEY))
    );
}

#[test]
fn basic_and_query_credentials_and_an_explicit_wrong_one() {
    let server = Server::http(|r: Request| guarded(&r));
    let dir = tempfile::tempdir().expect("temp dir");
    let items = format!(
        "{}{}",
        item(
            "Admin needs a password",
            &format!(
                "          url: /admin\n          basic: {{ user: alice, password: {PASSWORD} }}\n          wrong: hunter2\n          expect:\n            unauthenticated: [401, 403]\n            authenticated: 200\n"
            ),
        ),
        item(
            "Export needs its key",
            &format!(
                "          url: /export?format=csv\n          query: {{ name: api_key, value: {KEY} }}\n"
            ),
        ),
    );
    let (out, report) = run(dir.path(), &probe_file(&server.url(), &items));
    out.assert_code(0);
    let admin = probe_of(&report, "Admin needs a password");
    assert_eq!(admin["verdict"], "pass", "{}", out.dump());
    assert_eq!(
        admin["evidence"]["exchanges"][1]["credentials"],
        "wrong (from `wrong:`)"
    );
    let log = server.log();
    let wrong_basic = format!("Basic {}", basic("alice", "hunter2"));
    assert!(
        log.iter()
            .any(|r| r.header("authorization") == Some(wrong_basic.as_str()))
    );
    let export = probe_of(&report, "Export needs its key");
    let right = check_of(export, "/export?format=csv: valid credentials");
    assert_eq!(right["actual"], "200");
    assert!(
        log.iter()
            .any(|r| r.uri == format!("/export?format=csv&api_key={KEY}")),
        "{log:#?}"
    );
    let url = export["evidence"]["exchanges"][2]["request"]["url"]
        .as_str()
        .expect("url");
    assert_eq!(
        url,
        format!("{}/export?format=csv&api_key={REDACTED}", server.url())
    );
}

#[test]
fn www_authenticate_is_required_on_a_401_when_asked() {
    let server = Server::http(|r: Request| {
        if r.header("authorization") == Some(&format!("Bearer {TOKEN}")) {
            text(200, "ok")
        } else {
            text(401, "no")
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "Challenges on 401",
        "          bearer: ${env:VOUCH_TEST_SECRET}\n          expect: { unauthenticated: 401, www_authenticate: true }\n",
    );
    let (out, report) = run(dir.path(), &probe_file(&server.url(), &items));
    out.assert_code(1);
    let probe = probe_of(&report, "Challenges on 401");
    let none = check_of(probe, "/: no credentials");
    assert_eq!(none["expected"], "401 (WWW-Authenticate on 401)");
    assert_eq!(none["actual"], "401 without WWW-Authenticate");
    assert_eq!(none["passed"], false);
    assert_eq!(check_of(probe, "/: valid credentials")["passed"], true);
}

#[test]
fn a_redirect_to_a_login_page_is_seen_not_followed() {
    let server = Server::http(|r: Request| {
        if r.header("authorization") == Some(&format!("Bearer {TOKEN}")) {
            text(200, "ok")
        } else {
            with_header(text(302, "login"), "location", "/login")
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "Dashboard needs a login",
        "          url: /dashboard\n          bearer: ${env:VOUCH_TEST_SECRET}\n",
    );
    let (out, report) = run(dir.path(), &probe_file(&server.url(), &items));
    out.assert_code(1);
    let probe = probe_of(&report, "Dashboard needs a login");
    assert_eq!(
        check_of(probe, "/dashboard: no credentials")["actual"],
        "302 → /login"
    );
    assert!(server.log().iter().all(|r| r.path() == "/dashboard"));
}

#[test]
fn an_unreachable_endpoint_fails_with_the_connect_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item(
        "Auth",
        "          paths: [/a, /b]\n          bearer: ${env:VOUCH_TEST_SECRET}\n",
    );
    let (out, report) = run(dir.path(), &probe_file(&closed_port_url(), &items));
    out.assert_code(1);
    let probe = probe_of(&report, "Auth");
    assert_eq!(probe["verdict"], "fail");
    let summary = probe["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with("GET /a, /b (bearer) → ") && summary.contains("refused"),
        "{summary}"
    );
    assert_eq!(check_names(probe), ["response"]);
}

/// Without the variable the file does not load: nothing is sent.
#[test]
fn an_unset_credential_variable_is_a_load_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = item("Auth", "          bearer: ${env:VOUCH_TEST_SECRET}\n");
    write_file(
        dir.path(),
        "probes.yaml",
        &probe_file(&closed_port_url(), &items),
    );
    let out = Vouch::new(["check", "probes.yaml"])
        .current_dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(out.stderr.contains("VOUCH_TEST_SECRET"), "{}", out.dump());
}

/// The right credential must not leave vouch, whether it came from
/// `${env:…}` or was written into the probe file, in any format — even when
/// the server echoes every request back in its body.
#[test]
fn the_right_credential_appears_in_no_output_of_any_format() {
    const LITERAL_KEY: &str = "literal-key-5e6f7a8b9c0d";
    const LITERAL_PASSWORD: &str = "literal-pw-1a2b3c4d";
    // Lets in exactly the right credentials, and echoes every request (line,
    // headers, query) in its body and an `x-echo` header, whatever it answers.
    let server = Server::http(|r: Request| {
        let rights = [
            r.header("authorization") == Some(&format!("Bearer {TOKEN}")),
            r.header("x-custom-key") == Some(LITERAL_KEY),
            r.header("authorization")
                == Some(&format!("Basic {}", basic("alice", LITERAL_PASSWORD))),
            r.uri.ends_with(&format!("?k={LITERAL_KEY}")),
        ];
        let given = r.header("authorization").is_some()
            || r.header("x-custom-key").is_some()
            || r.uri.contains('?');
        let status = if rights.contains(&true) {
            200
        } else if given {
            403
        } else {
            401
        };
        let headers: Vec<String> = r.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
        with_header(
            respond(status, "text/plain", r.dump()),
            "x-echo",
            &headers.join("; "),
        )
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let (literal_key, literal_password) = (LITERAL_KEY, LITERAL_PASSWORD);
    let items = format!(
        "{}{}{}{}",
        item(
            "Bearer from the environment",
            "          url: /a\n          bearer: ${env:VOUCH_TEST_SECRET}\n",
        ),
        item(
            "Header key written literally",
            &format!(
                "          url: /b\n          header: {{ name: X-Custom-Key, value: {literal_key} }}\n"
            ),
        ),
        item(
            "Basic password written literally",
            &format!(
                "          url: /c\n          basic: {{ user: alice, password: {literal_password} }}\n"
            ),
        ),
        item(
            "Query key written literally",
            &format!("          url: /d\n          query: {{ name: k, value: {literal_key} }}\n"),
        ),
    );
    let yaml = probe_file(&server.url(), &items)
        .replace("name: test\n", "name: test\nchecklist: checklist.md\n");
    write_file(dir.path(), "probes.yaml", &yaml);
    write_file(
        dir.path(),
        "checklist.md",
        "# Auth\n\n- [x] Bearer from the environment\n- [x] Header key written literally\n- [x] Basic password written literally\n- [x] Query key written literally\n",
    );
    let secrets = [
        TOKEN.to_owned(),
        literal_key.to_owned(),
        literal_password.to_owned(),
        basic("alice", literal_password),
    ];
    for format in ["human", "json", "junit", "markdown"] {
        let report_file = dir.path().join(format!("report.{format}"));
        let out = Vouch::new([
            "run",
            "--format",
            format,
            "--output",
            &report_file.display().to_string(),
            "probes.yaml",
        ])
        .env("VOUCH_TEST_SECRET", TOKEN)
        .current_dir(dir.path())
        .run();
        assert!(out.code() <= 1, "{format}: {}", out.dump());
        let written = std::fs::read_to_string(&report_file).expect("report file");
        for secret in &secrets {
            for (what, text) in [
                ("stdout", &out.stdout),
                ("stderr", &out.stderr),
                ("report", &written),
            ] {
                assert!(
                    !text.contains(secret.as_str()),
                    "{format} {what} shows `{secret}`:\n{text}"
                );
            }
        }
        if format == "json" {
            let report: serde_json::Value = serde_json::from_str(&written).expect("JSON report");
            for item in report["items"].as_array().expect("items") {
                assert_eq!(item["verdict"], "verified", "{item:#}");
            }
            let header = probe_of(&report, "Header key written literally");
            let right = &header["evidence"]["exchanges"][2];
            assert_eq!(right["request"]["headers"]["X-Custom-Key"], REDACTED);
            let echo = right["response"]["headers"]["x-echo"]
                .as_str()
                .expect("x-echo");
            assert!(echo.contains(&format!("x-custom-key={REDACTED}")), "{echo}");
        }
    }
    // The server did receive every credential.
    let log = server.log();
    assert!(
        log.iter()
            .any(|r| r.header("x-custom-key") == Some(literal_key))
    );
    assert!(log.iter().any(|r| r.uri == format!("/d?k={literal_key}")));
}
