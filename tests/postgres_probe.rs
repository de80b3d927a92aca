//! `postgres` probes end to end: the real `vouch` binary against the real
//! PostgreSQL `scripts/test.sh` starts (`scripts/postgres.sh`: TLS with a
//! test CA, roles with and without passwords, a table of many types, a
//! streaming replica: `VOUCH_TEST_POSTGRES`, `VOUCH_TEST_POSTGRES_CA`,
//! `VOUCH_TEST_POSTGRES_PASSWORD`, `VOUCH_TEST_POSTGRES_REPLICA`), and
//! in-process hostile servers: one that answers garbage, one that never
//! answers.
//!
//! Without the peer's variables its tests print a note and pass, unless
//! `VOUCH_REQUIRE_PEERS` is set (the test script sets it): then they fail.

#[path = "support/server.rs"]
mod server;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::{Output, RawServer, Vouch, check_of, probe_of, write_file};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The real server's settings from the environment, or `None` with a note.
struct Peer {
    primary: String,
    replica: String,
    ca: String,
    password: String,
}

fn peer() -> Option<Peer> {
    let vars = [
        "VOUCH_TEST_POSTGRES",
        "VOUCH_TEST_POSTGRES_REPLICA",
        "VOUCH_TEST_POSTGRES_CA",
        "VOUCH_TEST_POSTGRES_PASSWORD",
    ];
    let values: Vec<Option<String>> = vars
        .iter()
        .map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .collect();
    if let Some(missing) = vars.iter().zip(&values).find(|(_, v)| v.is_none()) {
        if std::env::var_os("VOUCH_REQUIRE_PEERS").is_some() {
            panic!(
                "{} is not set, and VOUCH_REQUIRE_PEERS is: scripts/test.sh starts the peer and sets it",
                missing.0
            );
        }
        eprintln!(
            "note: {} is not set; skipping (scripts/test.sh starts the peer and sets it)",
            missing.0
        );
        return None;
    }
    let mut values = values.into_iter().flatten();
    let mut next = || values.next().unwrap_or_default();
    Some(Peer {
        primary: next(),
        replica: next(),
        ca: next(),
        password: next(),
    })
}

/// Runs `items` (YAML under `items:`) with `timeout` and the password in
/// `PG_PASSWORD`; returns the output and the report.
fn run(items: &str, timeout: &str, password: &str) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!(
        "version: 1\nname: postgres test\ndefaults:\n  timeout: {timeout}\nitems:\n{items}"
    );
    write_file(dir.path(), "probes.yaml", &yaml);
    let out = Vouch::new(["run", "--format", "json", "probes.yaml"])
        .env("PG_PASSWORD", password)
        .current_dir(dir.path())
        .run();
    let report = out.json();
    (out, report)
}

fn summary(probe: &Value) -> &str {
    probe["summary"].as_str().expect("summary")
}

#[test]
fn a_verified_session_sees_tls_version_settings_replication_and_typed_rows() {
    let Some(pg) = peer() else { return };
    let items = format!(
        r#"  - item: database ready
    probes:
      - postgres:
          url: postgres://vouch@{primary}/app?sslmode=verify-full
          ca: {ca}
          password: ${{secret:PG_PASSWORD}}
          query: "SELECT * FROM kinds ORDER BY id"
          expect:
            rows: {{ min: 2 }}
            cells:
              "$[0].doc.plan": pro
              "$[0].big": 9007199254740993
              "$[0].created": "2024-01-02T03:04:05.678Z"
              "$[0].tags[1]": "b c"
              "$[1].ratio": "NaN"
            tls: true
            version: {{ min: "14" }}
            settings: {{ max_connections: {{ min: 100 }}, ssl: "on", shared_buffers: {{ min: 100MiB }} }}
            replication: {{ role: primary, replicas: {{ min: 1 }}, lag: {{ max: 30s }} }}
  - item: extension present
    probes:
      - postgres:
          url: postgres://vouch@{primary}/app
          password: ${{secret:PG_PASSWORD}}
          query: "SELECT count(*) AS n FROM pg_extension WHERE extname = 'pgcrypto'"
          expect: {{ cells: {{ "$[0].n": 1 }}, version: {{ min: "99" }}, settings: {{ max_connections: {{ min: 500 }} }} }}
"#,
        primary = pg.primary,
        ca = pg.ca,
    );
    let (out, report) = run(&items, "10s", &pg.password);
    out.assert_code(1);
    assert!(!out.stdout.contains(&pg.password), "{}", out.stdout);
    let ready = probe_of(&report, "database ready");
    assert_eq!(ready["verdict"], "pass", "{ready:#}");
    let evidence = &ready["evidence"];
    assert_eq!(
        evidence["tls"]["certificate"],
        "chain and host name checked (verify-full)"
    );
    assert_eq!(evidence["password_given"], true);
    assert_eq!(evidence["address"], format!("vouch@{}/app", pg.primary));
    assert_eq!(evidence["read_only"], true);
    assert!(evidence["statement_timeout_ms"].as_u64().expect("ms") > 1000);
    let row = &evidence["query"]["rows"][0];
    assert_eq!(row["id"], 1);
    assert_eq!(row["price"], 12.5);
    assert_eq!(row["active"], true);
    assert_eq!(row["scores"], json!([1, 2, 3]));
    assert_eq!(row["tags"], json!(["a", "b c", null]));
    assert_eq!(evidence["query"]["rows"][1]["name"], Value::Null);
    assert_eq!(evidence["settings"]["shared_buffers"]["unit"], "8kB");
    assert_eq!(evidence["replication"]["streaming"], 1);
    assert!(
        summary(ready).contains("TLSv1_3") && summary(ready).ends_with("primary, 2 rows"),
        "{}",
        summary(ready)
    );

    let extension = probe_of(&report, "extension present");
    assert_eq!(extension["verdict"], "fail", "{extension:#}");
    assert_eq!(check_of(extension, "$[0].n")["passed"], true);
    let version = check_of(extension, "version");
    assert_eq!(version["passed"], false);
    let shown = version["actual"].as_str().expect("actual");
    assert!(shown.starts_with(|c: char| c.is_ascii_digit()), "{shown}");
    assert_eq!(
        check_of(extension, "setting max_connections")["actual"],
        "100"
    );
    // sslmode defaults to prefer: encrypted, the certificate not checked.
    assert_eq!(
        extension["evidence"]["tls"]["certificate"],
        "not checked (sslmode does not verify)"
    );
}

#[test]
fn a_write_is_refused_by_the_read_only_transaction_and_nothing_changes() {
    let Some(pg) = peer() else { return };
    let items = format!(
        r#"  - item: write attempt
    probes:
      - postgres:
          url: postgres://vouch@{primary}/app
          password: ${{secret:PG_PASSWORD}}
          query: "DELETE FROM kinds"
          expect: {{ rows: 0 }}
  - item: two statements
    probes:
      - postgres:
          url: postgres://vouch@{primary}/app
          password: ${{secret:PG_PASSWORD}}
          query: "SELECT 1; COMMIT; DELETE FROM kinds"
  - item: rows still there
    probes:
      - postgres:
          url: postgres://vouch@{primary}/app
          password: ${{secret:PG_PASSWORD}}
          query: "SELECT count(*) AS n FROM kinds"
          expect: {{ cells: {{ "$[0].n": 2 }} }}
"#,
        primary = pg.primary
    );
    let (out, report) = run(&items, "10s", &pg.password);
    out.assert_code(1);
    let write = probe_of(&report, "write attempt");
    assert_eq!(write["verdict"], "fail", "{write:#}");
    assert_eq!(
        check_of(write, "query")["actual"],
        "ERROR 25006: cannot execute DELETE in a read-only transaction"
    );
    assert_eq!(
        check_of(write, "rows")["actual"],
        "not run: the query failed"
    );
    let two = probe_of(&report, "two statements");
    assert_eq!(two["verdict"], "fail", "{two:#}");
    assert!(
        check_of(two, "query")["actual"]
            .as_str()
            .expect("actual")
            .contains("cannot insert multiple commands into a prepared statement"),
        "{two:#}"
    );
    let still = probe_of(&report, "rows still there");
    assert_eq!(still["verdict"], "pass", "{still:#}");
}

#[test]
fn login_refused_holds_for_a_user_without_password_and_fails_for_a_trusted_one() {
    let Some(pg) = peer() else { return };
    let items = format!(
        r#"  - item: no password refused
    probes:
      - postgres: {{ url: "postgres://nopass@{primary}/app", expect: {{ login_refused: true }} }}
  - item: trusted user let in
    probes:
      - postgres: {{ url: "postgres://open@{primary}/app", expect: {{ login_refused: true }} }}
  - item: wrong password
    probes:
      - postgres: {{ url: "postgres://vouch:not-the-Password-9@{primary}/app" }}
"#,
        primary = pg.primary
    );
    let (out, report) = run(&items, "10s", &pg.password);
    out.assert_code(1);
    assert!(!out.stdout.contains("not-the-Password-9"), "{}", out.stdout);
    let refused = probe_of(&report, "no password refused");
    assert_eq!(refused["verdict"], "pass", "{refused:#}");
    assert_eq!(
        check_of(refused, "login refused")["actual"],
        "refused: the server asked for a password"
    );
    assert_eq!(refused["attempts"].as_array().map(Vec::len), Some(1));
    let open = probe_of(&report, "trusted user let in");
    assert_eq!(open["verdict"], "fail", "{open:#}");
    assert_eq!(
        check_of(open, "login refused")["actual"],
        "user open let in without a password"
    );
    let wrong = probe_of(&report, "wrong password");
    assert_eq!(wrong["verdict"], "fail", "{wrong:#}");
    assert_eq!(
        check_of(wrong, "login")["actual"],
        "FATAL 28P01: password authentication failed for user \"vouch\""
    );
}

#[test]
fn the_replica_says_so_and_its_lag_is_measured() {
    let Some(pg) = peer() else { return };
    let items = format!(
        r#"  - item: replica
    probes:
      - postgres:
          url: postgres://vouch@{replica}/app?sslmode=disable
          password: ${{secret:PG_PASSWORD}}
          expect: {{ tls: false, replication: {{ role: replica, lag: {{ max: 1m }} }} }}
  - item: replica taken for a primary
    probes:
      - postgres:
          url: postgres://vouch@{replica}/app?sslmode=require
          password: ${{secret:PG_PASSWORD}}
          expect: {{ tls: false, replication: {{ role: primary, replicas: {{ min: 1 }} }} }}
  - item: chain trusted, name not checked
    probes:
      - postgres:
          url: postgres://vouch@{replica}/app?sslmode=verify-ca
          ca: {ca}
          password: ${{secret:PG_PASSWORD}}
          expect: {{ tls: true }}
  - item: name checked
    probes:
      - postgres:
          url: postgres://vouch@{replica}/app?sslmode=verify-full&sslrootcert={ca}
          password: ${{secret:PG_PASSWORD}}
          expect: {{ tls: true }}
"#,
        replica = pg.replica,
        ca = pg.ca,
    );
    let (out, report) = run(&items, "10s", &pg.password);
    out.assert_code(1);
    let replica = probe_of(&report, "replica");
    assert_eq!(replica["verdict"], "pass", "{replica:#}");
    assert_eq!(replica["evidence"]["replication"]["role"], "replica");
    assert_eq!(
        replica["evidence"]["replication"]["wal_receiver"],
        "streaming"
    );
    assert!(
        replica["evidence"]["replication"]["lag_s"].is_number(),
        "{replica:#}"
    );
    // The replica's certificate names only wrong.example.
    let chain = probe_of(&report, "chain trusted, name not checked");
    assert_eq!(chain["verdict"], "pass", "{chain:#}");
    assert_eq!(
        chain["evidence"]["tls"]["certificate"],
        "chain checked, host name not (verify-ca)"
    );
    let name = probe_of(&report, "name checked");
    assert_eq!(name["verdict"], "fail", "{name:#}");
    let login = check_of(name, "login")["actual"].as_str().expect("actual");
    assert!(login.contains("not valid for name"), "{login}");
    let wrong = probe_of(&report, "replica taken for a primary");
    assert_eq!(wrong["verdict"], "fail", "{wrong:#}");
    assert_eq!(check_of(wrong, "replication role")["actual"], "replica");
    assert_eq!(check_of(wrong, "replicas")["actual"], "0 streaming");
    assert!(
        check_of(wrong, "tls")["actual"]
            .as_str()
            .expect("actual")
            .starts_with("TLSv1_3"),
        "{wrong:#}"
    );
}

#[test]
fn timeouts_caps_and_an_untrusted_certificate_are_reported() {
    let Some(pg) = peer() else { return };
    let items = format!(
        r#"  - item: slow query
    probes:
      - postgres:
          url: postgres://vouch@{primary}/app
          password: ${{secret:PG_PASSWORD}}
          query: "SELECT pg_sleep(30)"
  - item: many rows
    probes:
      - postgres:
          url: postgres://vouch@{primary}/app
          password: ${{secret:PG_PASSWORD}}
          query: "SELECT n FROM generate_series(1, 100000) AS n"
          expect: {{ rows: {{ min: 1000 }}, cells: {{ "$[999].n": 1000 }} }}
  - item: untrusted
    probes:
      - postgres:
          url: postgres://vouch@{primary}/app?sslmode=verify-full
          password: ${{secret:PG_PASSWORD}}
          expect: {{ tls: true }}
"#,
        primary = pg.primary
    );
    let started = Instant::now();
    let (out, report) = run(&items, "4s", &pg.password);
    out.assert_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    let slow = probe_of(&report, "slow query");
    assert_eq!(slow["verdict"], "fail", "{slow:#}");
    assert_eq!(
        check_of(slow, "query")["actual"],
        "ERROR 57014: canceling statement due to statement timeout"
    );
    let many = probe_of(&report, "many rows");
    assert_eq!(many["verdict"], "pass", "{many:#}");
    assert_eq!(many["evidence"]["query"]["truncated"], true);
    assert_eq!(many["evidence"]["query"]["row_count"], 1000);
    assert_eq!(
        many["evidence"]["query"]["rows"].as_array().map(Vec::len),
        Some(20)
    );
    assert_eq!(
        check_of(many, "rows")["actual"],
        "at least 1000 rows (reading stopped at the cap)"
    );
    let untrusted = probe_of(&report, "untrusted");
    assert_eq!(untrusted["verdict"], "fail", "{untrusted:#}");
    let login = check_of(untrusted, "login")["actual"]
        .as_str()
        .expect("actual");
    assert!(
        login.contains("UnknownIssuer") || login.contains("unknown issuer"),
        "{login}"
    );
    assert_eq!(check_of(untrusted, "tls")["actual"], "not run: no session");
}

/// Items probing an in-process server at `addr`.
fn hostile_items(addr: &str) -> String {
    format!(
        r#"  - item: hostile
    probes:
      - postgres: {{ url: "postgres://vouch@{addr}/app", password: x-secret-pw, query: "SELECT 1", expect: {{ rows: 1 }} }}
"#
    )
}

#[test]
fn a_server_answering_garbage_fails_the_login_quickly() {
    let server = RawServer::start(|mut stream| async move {
        let mut buf = [0u8; 512];
        let _ = stream.read(&mut buf).await;
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n\xff\xfe garbage")
            .await;
    });
    let addr = server.url().trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let (out, report) = run(&hostile_items(&addr), "5s", "unused");
    out.assert_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let probe = probe_of(&report, "hostile");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let login = check_of(probe, "login");
    assert_eq!(login["passed"], false);
    assert_eq!(check_of(probe, "rows")["actual"], "not run: no session");
    assert!(!out.stdout.contains("x-secret-pw"), "{}", out.stdout);
}

#[test]
fn a_server_that_never_answers_fails_within_the_timeout() {
    let server = RawServer::start(|mut stream| async move {
        let mut buf = [0u8; 512];
        let _ = stream.read(&mut buf).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let addr = server.url().trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let (out, report) = run(&hostile_items(&addr), "2s", "unused");
    out.assert_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let probe = probe_of(&report, "hostile");
    assert_eq!(probe["verdict"], "fail", "{probe:#}");
    let login = check_of(probe, "login")["actual"].as_str().expect("actual");
    assert!(
        login.starts_with("timed out after 1") && login.ends_with("waiting for the login"),
        "{login}"
    );
}
