//! Secrets never leave vouch: a secret `${env:…}` value (its variable's name
//! says credential) sent every way a probe can send it (header, query, JSON body, bearer token, URL userinfo, `vars:`,
//! path) to a server that echoes the request back in its body and in a
//! response header, then every output (human and JSON, stdout, stderr and
//! `--output` files, `vouch check`) is searched for it.

#[path = "support/server.rs"]
mod server;

use std::path::Path;

use server::{Output, Request, Server, Vouch, respond, text, with_header, write_file};

/// The secret. Plain characters: its URL and JSON spellings equal the raw one.
const SECRET: &str = "s3cr3t-Tok3n-9f8e7d6c5b4a";
const REDACTED: &str = "«redacted»";

/// Echoes the whole request in the body and all its headers in `x-echo`.
fn echo_server() -> Server {
    Server::http(|r: Request| {
        let headers: Vec<String> = r.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let response = respond(200, "text/plain", r.dump());
        with_header(response, "x-echo", &headers.join("; "))
    })
}

/// The probe file. With `named`, the probes whose URL holds the secret carry
/// a `name:` (unnamed, a probe is named after its request line).
fn secret_probes(target: &str, named: bool) -> String {
    let authority = target.trim_start_matches("http://");
    let (userinfo_name, path_name) = if named {
        (
            "      - name: userinfo probe
        http:
",
            "      - name: path probe
        http:
",
        )
    } else {
        (
            "      - http:
",
            "      - http:
",
        )
    };
    format!(
        r#"version: 1
name: secrets
target: {target}
vars:
  token: ${{env:VOUCH_TEST_SECRET}}
items:
  - item: Secret in a header
    probes:
      - http:
          get: /header
          headers:
            x-custom-secret: ${{env:VOUCH_TEST_SECRET}}
          expect:
            body: {{ contains: never-there }}
  - item: Secret in a query parameter
    probes:
      - http:
          get: /query
          query:
            q: ${{env:VOUCH_TEST_SECRET}}
          expect:
            body: {{ contains: never-there }}
  - item: Secret in a JSON body
    probes:
      - http:
          post: /json
          json:
            credentials:
              value: ${{env:VOUCH_TEST_SECRET}}
          expect:
            body: {{ contains: never-there }}
  - item: Secret as a bearer token
    probes:
      - http:
          get: /bearer
          headers:
            authorization: Bearer ${{env:VOUCH_TEST_SECRET}}
          expect:
            body: {{ contains: never-there }}
  - item: Secret in the URL userinfo
    probes:
{userinfo_name}          url: http://user:${{env:VOUCH_TEST_SECRET}}@{authority}/userinfo
          expect:
            body: {{ contains: never-there }}
  - item: Secret through vars
    probes:
      - http:
          get: /vars
          headers:
            x-from-vars: ${{var:token}}
          expect:
            body: {{ contains: never-there }}
  - item: Secret in the path
    probes:
{path_name}          get: /path/${{env:VOUCH_TEST_SECRET}}
          expect:
            status: 200
"#
    )
}

/// Runs `vouch ARGS` in `dir` with the secret in the environment.
fn run_with_secret(dir: &Path, args: &[&str]) -> Output {
    Vouch::new(args)
        .env("VOUCH_TEST_SECRET", SECRET)
        .current_dir(dir)
        .run()
}

/// Asserts the secret is nowhere in `text`.
fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "the secret appears in {what}:\n{text}"
    );
}

#[test]
fn the_server_really_receives_the_secret_on_every_path() {
    let server = echo_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "secrets.yaml",
        &secret_probes(&server.url(), true),
    );
    let out = run_with_secret(dir.path(), &["run", "secrets.yaml"]);
    out.assert_code(1);
    let log = server.log();
    let by_path = |p: &str| -> Request {
        log.iter()
            .find(|r| r.path().starts_with(p))
            .unwrap_or_else(|| panic!("no request to {p}: {log:#?}"))
            .clone()
    };
    assert_eq!(by_path("/header").header("x-custom-secret"), Some(SECRET));
    assert_eq!(by_path("/query").uri, format!("/query?q={SECRET}"));
    assert_eq!(
        String::from_utf8_lossy(&by_path("/json").body),
        format!(r#"{{"credentials":{{"value":"{SECRET}"}}}}"#)
    );
    assert_eq!(
        by_path("/bearer").header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    let basic = by_path("/userinfo")
        .header("authorization")
        .expect("basic auth from the URL")
        .to_owned();
    assert_eq!(
        basic,
        format!("Basic {}", base64(&format!("user:{SECRET}")))
    );
    assert_eq!(by_path("/vars").header("x-from-vars"), Some(SECRET));
    assert_eq!(by_path("/path/").uri, format!("/path/{SECRET}"));
    // And it came back: the echo carries it in the body and a header.
    assert_eq!(log.len(), 7);
}

#[test]
fn the_secret_appears_in_no_report_format_stdout_or_output_file() {
    let server = echo_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "secrets.yaml",
        &secret_probes(&server.url(), true),
    );

    for format in ["human", "json"] {
        let out = run_with_secret(dir.path(), &["run", "--format", format, "secrets.yaml"]);
        out.assert_code(1);
        assert_clean(&format!("{format} stdout"), &out.stdout);
        assert_clean(&format!("{format} stderr"), &out.stderr);
        assert!(
            out.stdout.contains(REDACTED),
            "{format}: nothing was redacted?\n{}",
            out.dump()
        );

        let file = dir.path().join(format!("report.{format}"));
        let out = run_with_secret(
            dir.path(),
            &[
                "run",
                "--format",
                format,
                "--output",
                &file.display().to_string(),
                "secrets.yaml",
            ],
        );
        out.assert_code(1);
        assert_clean(&format!("{format} --output stdout"), &out.stdout);
        assert_clean(&format!("{format} --output stderr"), &out.stderr);
        let written = std::fs::read_to_string(&file).expect("report file");
        assert_clean(&format!("{format} --output file"), &written);
        assert!(written.contains(REDACTED), "{format} file:\n{written}");
    }
    // Every probe reached the server: the secret was sent 4 × 7 times.
    assert_eq!(server.requests(), 28);
}

#[test]
fn the_echoed_secret_is_redacted_in_the_json_evidence_of_every_probe() {
    let server = echo_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "secrets.yaml",
        &secret_probes(&server.url(), true),
    );
    let out = run_with_secret(dir.path(), &["run", "--format", "json", "secrets.yaml"]);
    let report = out.json();
    for item in report["items"].as_array().expect("items") {
        let probe = &item["probes"][0];
        let evidence = &probe["evidence"];
        assert_clean(item["item"].as_str().expect("item"), &probe.to_string());
        if item["item"] == "Secret in the URL userinfo" {
            // Sent as a Basic credential: the echo holds no raw secret.
            continue;
        }
        // The echo starts with the request line and headers: the secret was in it.
        assert!(
            evidence["response"]["body_excerpt"]
                .as_str()
                .expect("body_excerpt")
                .contains(REDACTED),
            "{}: {evidence:#}",
            item["item"]
        );
    }
    let header = &server::item_of(&report, "Secret in a header")["probes"][0];
    let echo = header["evidence"]["response"]["headers"]["x-echo"]
        .as_str()
        .expect("x-echo");
    assert!(
        echo.contains(&format!("x-custom-secret={REDACTED}")),
        "{echo}"
    );
    assert_eq!(
        header["evidence"]["request"]["headers"]["x-custom-secret"],
        REDACTED
    );
    let query = &server::item_of(&report, "Secret in a query parameter")["probes"][0];
    assert_eq!(
        query["evidence"]["request"]["url"],
        format!("{}/query?q={REDACTED}", server.url())
    );
    let json_body = &server::item_of(&report, "Secret in a JSON body")["probes"][0];
    assert_eq!(
        json_body["evidence"]["request"]["body"],
        format!(r#"{{"credentials":{{"value":"{REDACTED}"}}}}"#)
    );
    let bearer = &server::item_of(&report, "Secret as a bearer token")["probes"][0];
    assert_eq!(
        bearer["evidence"]["request"]["headers"]["authorization"],
        REDACTED
    );
    let userinfo = &server::item_of(&report, "Secret in the URL userinfo")["probes"][0];
    let url = userinfo["evidence"]["request"]["url"]
        .as_str()
        .expect("url");
    assert!(url.starts_with(&format!("http://{REDACTED}@")), "{url}");
}

/// Unnamed, a probe is named after its request line in the JSON report's
/// `name`; a secret in the URL must be masked there like in the summary.
#[test]

fn an_unnamed_probe_with_a_secret_in_its_url_is_named_without_it() {
    let server = echo_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "secrets.yaml",
        &secret_probes(&server.url(), false),
    );
    let out = run_with_secret(dir.path(), &["run", "--format", "json", "secrets.yaml"]);
    out.assert_code(1);
    assert_clean("json stdout", &out.stdout);
    let report = out.json();
    assert_eq!(
        server::item_of(&report, "Secret in the path")["probes"][0]["name"],
        format!("GET /path/{REDACTED}")
    );
}

#[test]
fn vouch_check_never_prints_the_secret() {
    let server = echo_server();
    let dir = tempfile::tempdir().expect("temp dir");
    write_file(
        dir.path(),
        "secrets.yaml",
        &secret_probes(&server.url(), true),
    );
    let out = run_with_secret(dir.path(), &["check", "secrets.yaml"]);
    out.assert_code(0);
    assert_clean("check stderr", &out.stderr);
    assert_clean("check stdout", &out.stdout);
    assert_eq!(
        out.stderr,
        "ok: 1 file, 7 items, 7 probes\nsecrets: VOUCH_TEST_SECRET (env, name says credential)\n"
    );
    assert_eq!(server.requests(), 0);
}

/// A secret that makes a setting invalid ends up in the diagnostic's message
/// (`invalid duration `…``): the message must mask it like every report does.
#[test]

fn a_diagnostic_about_a_secret_value_masks_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "version: 1\ntarget: http://127.0.0.1:9\nitems:\n  - item: A\n    probes:\n      - timeout: ${env:VOUCH_TEST_SECRET}\n        http: { get: /a }\n      - http:\n          get: /b\n          expect:\n            json:\n              $.a: { matches: \"${env:VOUCH_TEST_SECRET}(\" }\n";
    write_file(dir.path(), "bad.yaml", yaml);
    for command in ["check", "run"] {
        let out = run_with_secret(dir.path(), &[command, "bad.yaml"]);
        out.assert_code(2);
        assert!(
            out.stderr.contains("invalid duration"),
            "{command}: {}",
            out.dump()
        );
        assert_clean(&format!("{command} stderr"), &out.stderr);
        assert!(out.stderr.contains(REDACTED), "{command}: {}", out.dump());
    }
}

/// A base64 secret in a query parameter is percent-encoded on the wire and in
/// the evidence URL (`/` → `%2F`): that spelling is the same secret.
#[test]

fn a_secret_with_url_special_characters_is_masked_in_its_encoded_form() {
    const B64: &str = "c2VjcmV0/Zm9v+YmFyYmF6=";
    const ENCODED: &str = "c2VjcmV0%2FZm9v%2BYmFyYmF6%3D";
    let server = Server::http(|r: Request| text(200, &r.uri));
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\ntarget: {}\nitems:\n  - item: Search\n    probes:\n      - http:\n          get: /search\n          query:\n            q: ${{env:VOUCH_TEST_SECRET}}\n          expect:\n            body: {{ contains: never-there }}\n",
        server.url()
    );
    write_file(dir.path(), "b64.yaml", &yaml);
    for format in ["human", "json"] {
        let out = Vouch::new(["run", "--format", format, "b64.yaml"])
            .env("VOUCH_TEST_SECRET", B64)
            .current_dir(dir.path())
            .run();
        out.assert_code(1);
        assert_eq!(server.log()[0].uri, format!("/search?q={ENCODED}"));
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(!text.contains(B64), "{format} {what}:\n{text}");
            assert!(!text.contains(ENCODED), "{format} {what}:\n{text}");
        }
    }
}

/// The credential reqwest derives from `user:${env:…}@` is sent as
/// `Authorization: Basic base64(user:secret)`; a server that reflects it
/// hands it back, and base64 is no mask.
#[test]

fn a_reflected_basic_credential_is_masked() {
    let server = echo_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let authority = server.url().trim_start_matches("http://").to_owned();
    let yaml = format!(
        "version: 1\ntarget: {}\nitems:\n  - item: Basic\n    probes:\n      - http:\n          url: http://user:${{env:VOUCH_TEST_SECRET}}@{authority}/basic\n          expect:\n            body: {{ contains: never-there }}\n",
        server.url()
    );
    write_file(dir.path(), "basic.yaml", &yaml);
    let credential = base64(&format!("user:{SECRET}"));
    for format in ["human", "json"] {
        let out = run_with_secret(dir.path(), &["run", "--format", format, "basic.yaml"]);
        out.assert_code(1);
        assert!(
            server
                .log()
                .iter()
                .any(|r| r.header("authorization") == Some(&format!("Basic {credential}"))),
            "the server got the credential"
        );
        assert!(
            !out.stdout.contains(&credential),
            "{format}: the Basic credential is shown:\n{}",
            out.stdout
        );
    }
}

/// An `Authorization` value written literally in the probe file is a
/// credential too: DESIGN.md lists `Authorization` among the secrets.
#[test]

fn a_literal_authorization_value_is_masked_wherever_it_appears() {
    const LITERAL: &str = "literal-token-0a1b2c3d4e5f";
    let server = echo_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\ntarget: {}\nitems:\n  - item: Literal\n    probes:\n      - http:\n          get: /literal\n          headers:\n            authorization: Bearer {LITERAL}\n          expect:\n            body: {{ contains: never-there }}\n",
        server.url()
    );
    write_file(dir.path(), "literal.yaml", &yaml);
    for format in ["human", "json"] {
        let out = Vouch::new(["run", "--format", format, "literal.yaml"])
            .current_dir(dir.path())
            .run();
        out.assert_code(1);
        assert!(
            !out.stdout.contains(LITERAL),
            "{format}: the token is shown:\n{}",
            out.stdout
        );
    }
}

/// A `Set-Cookie` value is always masked in the response headers record;
/// a probe that checks the header must not print it either.
#[test]

fn a_checked_set_cookie_value_is_masked() {
    const COOKIE: &str = "session=c00kie-v4lue-777";
    let server = Server::http(|_| with_header(text(200, "ok"), "set-cookie", COOKIE));
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\ntarget: {}\nitems:\n  - item: Cookie is secure\n    probes:\n      - http:\n          get: /login\n          expect:\n            headers:\n              set-cookie: {{ contains: Secure }}\n",
        server.url()
    );
    write_file(dir.path(), "cookie.yaml", &yaml);
    for format in ["human", "json"] {
        let out = Vouch::new(["run", "--format", format, "cookie.yaml"])
            .current_dir(dir.path())
            .run();
        out.assert_code(1);
        assert!(out.stdout.contains(REDACTED), "{}", out.dump());
        assert!(
            !out.stdout.contains("c00kie-v4lue-777"),
            "{format}: the cookie is shown:\n{}",
            out.stdout
        );
    }
}

/// Standard base64 with padding, for the expected Basic credential.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
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

/// A response body is kept as an excerpt of 512 characters; a secret that
/// straddles the cut would otherwise leave its first characters behind.
#[test]
fn a_secret_cut_by_a_body_excerpt_leaves_nothing_behind() {
    let server = Server::http(|_: Request| text(200, &format!("{}{SECRET} tail", "x".repeat(505))));
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\ntarget: {}\nvars:\n  token: ${{env:VOUCH_TEST_SECRET}}\nitems:\n  - item: Echo\n    probes:\n      - http:\n          get: /\n          expect:\n            body: {{ contains: never-there }}\n",
        server.url()
    );
    write_file(dir.path(), "cut.yaml", &yaml);
    let out = run_with_secret(dir.path(), &["run", "--format", "json", "cut.yaml"]);
    out.assert_code(1);
    let start = &SECRET[..7];
    assert!(
        out.stdout.contains(&format!("{REDACTED}…")),
        "the cut secret is masked where the excerpt ends:\n{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains(start),
        "the start of the secret survives:\n{}",
        out.stdout
    );
}

/// The policy: `${env:STAGING_URL}` is evidence and shows in every report;
/// `${env:API_TOKEN}` and `${secret:…}` values are masked; a variable whose
/// name says nothing is masked once it is used as a credential.
#[test]
fn urls_from_the_environment_are_shown_and_tokens_are_not() {
    const TOKEN: &str = "tok-Qw3rty-0987";
    const DB_PW: &str = "pw-Asdf-6543";
    const PLAIN: &str = "plain-Zxcv-2468";
    let server = echo_server();
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = r#"version: 1
name: staging
target: ${env:STAGING_URL}
items:
  - item: Orders API
    probes:
      - http:
          get: /orders
          headers:
            x-token: ${env:API_TOKEN}
            x-db: ${secret:DB_PW}
            authorization: Bearer ${env:SOME_VALUE}
          expect:
            body: { contains: never-there }
"#;
    write_file(dir.path(), "staging.yaml", yaml);
    write_file(
        dir.path(),
        "checklist.md",
        "# Staging\n\n- [ ] Orders API\n",
    );
    let run = |args: &[&str]| {
        Vouch::new(args)
            .env("STAGING_URL", server.url())
            .env("API_TOKEN", TOKEN)
            .env("DB_PW", DB_PW)
            .env("SOME_VALUE", PLAIN)
            .current_dir(dir.path())
            .run()
    };
    for format in ["human", "json", "junit", "markdown"] {
        let out = run(&[
            "run",
            "--format",
            format,
            "--checklist",
            "checklist.md",
            "staging.yaml",
        ]);
        out.assert_code(1);
        let all = format!("{}{}", out.stdout, out.stderr);
        // JUnit and markdown name probes by their path only.
        if matches!(format, "human" | "json") {
            assert!(
                all.contains(&server.url()),
                "{format}: the target URL is evidence and must show:\n{all}"
            );
        }
        assert!(!all.contains("https://«redacted»"), "{format}:\n{all}");
        for secret in [TOKEN, DB_PW, PLAIN] {
            assert!(!all.contains(secret), "{format} shows {secret}:\n{all}");
        }
        assert!(all.contains(REDACTED), "{format}:\n{all}");
    }
    // The server got the real values.
    let request = &server.log()[0];
    assert_eq!(request.header("x-token"), Some(TOKEN));
    assert_eq!(request.header("x-db"), Some(DB_PW));

    let out = run(&["check", "staging.yaml"]);
    out.assert_code(0);
    assert_eq!(
        out.stderr,
        "ok: 1 file, 1 item, 1 probe\nsecrets: API_TOKEN (env, name says credential), \
         DB_PW (secret:), SOME_VALUE (env, used as a credential)\n"
    );
    assert!(!out.stderr.contains("STAGING_URL"));
}
