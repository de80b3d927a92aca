//! `redis` probes end to end: the real `vouch` binary against the real
//! Redis servers `scripts/test.sh` starts — plain (`VOUCH_TEST_REDIS`), with
//! `requirepass` and a read-only ACL user (`VOUCH_TEST_REDIS_AUTH`,
//! `VOUCH_TEST_REDIS_PASSWORD`, `VOUCH_TEST_REDIS_ACL=user:password`), with
//! AOF on and CONFIG disabled (`VOUCH_TEST_REDIS_AOF`) and its TLS port
//! (`VOUCH_TEST_REDIS_TLS`, certificate signed by `VOUCH_TEST_TLS_CA`), and a
//! replica of the first (`VOUCH_TEST_REDIS_REPLICA`) — and in-process hostile servers (a
//! huge bulk length, an endless array, garbage, an endless line).
//!
//! Without a peer's variable its tests print a note and pass, unless
//! `VOUCH_REQUIRE_PEERS` is set (the test script sets it): then they fail.

#[path = "support/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use server::{Output, RawServer, Vouch, check_of, probe_of, write_file};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A peer's value from the environment, or `None` with a note.
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

/// Runs `items` (YAML under `items:`) with `env` and returns the report.
fn run(items: &str, env: &[(&str, &str)]) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = format!("version: 1\nname: redis test\ndefaults:\n  timeout: 5s\nitems:\n{items}");
    let file = write_file(dir.path(), "probes.yaml", &yaml);
    let mut vouch = Vouch::new([
        "run",
        "--format",
        "json",
        file.to_str().expect("utf-8 path"),
    ])
    .current_dir(dir.path());
    for (name, value) in env {
        vouch = vouch.env(name, value);
    }
    let out = vouch.run();
    let report = out.json();
    (out, report)
}

fn summary(probe: &Value) -> &str {
    probe["summary"].as_str().expect("summary")
}

fn actual<'p>(probe: &'p Value, check: &str) -> &'p str {
    check_of(probe, check)["actual"].as_str().expect("actual")
}

fn passed(probe: &Value, check: &str) -> bool {
    check_of(probe, check)["passed"] == true
}

/// The commands a probe sent, as its evidence shows them.
fn sent(probe: &Value) -> Vec<&str> {
    probe["evidence"]["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .map(|c| c["sent"].as_str().expect("sent"))
        .collect()
}

#[test]
fn a_plain_redis_shows_its_version_and_role_and_refutes_what_it_lacks() {
    let Some(redis) = peer("VOUCH_TEST_REDIS") else {
        return;
    };
    let items = format!(
        r#"  - item: Redis is recent and a master
    probes:
      - redis:
          address: "{redis}"
          expect:
            info:
              server.redis_version: {{ min: "7.0" }}
              replication.role: master
  - item: Redis is production-ready
    probes:
      - redis:
          address: "{redis}"
          expect:
            auth_required: true
            info:
              server.redis_version: {{ min: "99.1.2" }}
              persistence.aof_enabled: 1
              memory.maxmemory_policy: {{ ne: noeviction }}
              stats.no_such_field: {{ exists: true }}
            config: {{ maxmemory: {{ min: 1GiB }}, no-such-parameter: x }}
"#
    );
    let (out, report) = run(&items, &[]);
    out.assert_code(1);

    let good = probe_of(&report, "Redis is recent and a master");
    assert_eq!(good["verdict"], "pass", "{good:#}");
    let version = good["evidence"]["server"]["version"]
        .as_str()
        .expect("version");
    assert!(version.starts_with("7."), "{version}");
    assert_eq!(
        summary(good),
        format!("redis {redis} → {version} master, 3/3 checks held")
    );
    assert_eq!(good["evidence"]["ping"], "+PONG");
    assert_eq!(sent(good), ["PING", "INFO"]);

    let bad = probe_of(&report, "Redis is production-ready");
    assert_eq!(bad["verdict"], "fail", "{bad:#}");
    assert_eq!(
        actual(bad, "auth required"),
        "not required (PING answered +PONG)"
    );
    assert!(!passed(bad, "info server.redis_version"));
    assert_eq!(
        actual(bad, "info server.redis_version"),
        format!("{version:?}")
    );
    assert_eq!(actual(bad, "info persistence.aof_enabled"), "\"0\"");
    assert_eq!(
        actual(bad, "info memory.maxmemory_policy"),
        "\"noeviction\""
    );
    assert_eq!(
        actual(bad, "info stats.no_such_field"),
        "missing (INFO stats has no `no_such_field`)"
    );
    assert_eq!(actual(bad, "config maxmemory"), "\"0\"");
    assert_eq!(check_of(bad, "config maxmemory")["expected"], ">= 1GiB");
    assert_eq!(
        actual(bad, "config no-such-parameter"),
        "no such parameter (CONFIG GET no-such-parameter returned nothing)"
    );
    assert!(
        summary(bad).starts_with(&format!(
            "redis {redis} → {version} master, 1/8 checks held; auth required: expected required"
        )),
        "{}",
        summary(bad)
    );
    assert!(summary(bad).ends_with("; and 5 more"), "{}", summary(bad));
    // Read-only: nothing but these was sent.
    assert_eq!(
        sent(bad),
        [
            "PING",
            "INFO",
            "CONFIG GET maxmemory",
            "CONFIG GET no-such-parameter"
        ]
    );
}

#[test]
fn requirepass_is_required_and_the_password_never_shows() {
    let (Some(redis), Some(password)) = (
        peer("VOUCH_TEST_REDIS_AUTH"),
        peer("VOUCH_TEST_REDIS_PASSWORD"),
    ) else {
        return;
    };
    let items = format!(
        r#"  - item: Redis password set
    probes:
      - redis:
          address: "{redis}"
          password: ${{secret:REDIS_PASSWORD}}
          expect:
            auth_required: true
            info: {{ replication.role: master, persistence.aof_enabled: 0 }}
            config: {{ maxmemory-policy: noeviction }}
  - item: Redis with a wrong password
    probes:
      - redis:
          address: "{redis}"
          password: ${{secret:REDIS_WRONG}}
          expect: {{ info: {{ replication.role: master }} }}
  - item: Redis without a password
    probes:
      - redis:
          address: "{redis}"
          expect: {{ auth_required: true, info: {{ replication.role: master }} }}
"#
    );
    let wrong = "not-the-password-7f3a";
    let (out, report) = run(
        &items,
        &[("REDIS_PASSWORD", &password), ("REDIS_WRONG", wrong)],
    );
    out.assert_code(1);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(&password), "password shown:\n{}", out.dump());
        assert!(
            !text.contains(wrong),
            "wrong password shown:\n{}",
            out.dump()
        );
    }

    let good = probe_of(&report, "Redis password set");
    assert_eq!(good["verdict"], "pass", "{good:#}");
    assert_eq!(
        actual(good, "auth required"),
        "required (-NOAUTH Authentication required.)"
    );
    assert_eq!(check_of(good, "auth")["expected"], "+OK (as `default`)");
    assert_eq!(sent(good)[..2], ["PING", "AUTH «password»"]);
    assert_eq!(good["evidence"]["auth"]["result"], "+OK");
    assert!(
        summary(good).ends_with(" master, 6/6 checks held"),
        "{}",
        summary(good)
    );

    let refused = probe_of(&report, "Redis with a wrong password");
    assert_eq!(refused["verdict"], "fail", "{refused:#}");
    assert!(
        actual(refused, "auth").starts_with("-WRONGPASS"),
        "{refused:#}"
    );
    assert!(
        actual(refused, "info replication.role").starts_with("not run: AUTH refused (-WRONGPASS"),
        "{refused:#}"
    );
    assert_eq!(sent(refused), ["PING", "AUTH «password»"]);

    let without = probe_of(&report, "Redis without a password");
    assert_eq!(without["verdict"], "fail", "{without:#}");
    assert!(passed(without, "auth required"));
    assert_eq!(
        actual(without, "info replication.role"),
        "not run: the server requires a password and the probe gives none (`password:`)"
    );
    assert_eq!(sent(without), ["PING"]);
    assert!(
        summary(without).starts_with(&format!(
            "redis {redis} → PING -NOAUTH Authentication required., 2/3 checks held; info replication.role: expected \"master\", got not run: the server requires a password"
        )),
        "{}",
        summary(without)
    );
}

#[test]
fn an_acl_user_reads_but_config_get_is_refused_by_name() {
    let (Some(redis), Some(acl)) = (peer("VOUCH_TEST_REDIS_AUTH"), peer("VOUCH_TEST_REDIS_ACL"))
    else {
        return;
    };
    let (user, password) = acl.split_once(':').expect("user:password");
    let items = format!(
        r#"  - item: Redis ACL user
    probes:
      - redis:
          address: "{redis}"
          user: {user}
          password: ${{secret:REDIS_READER_PASSWORD}}
          expect:
            info: {{ server.redis_version: {{ min: "7.0" }} }}
            config: {{ maxmemory: {{ min: 0 }}, maxclients: {{ min: 1 }} }}
"#
    );
    let (out, report) = run(&items, &[("REDIS_READER_PASSWORD", password)]);
    out.assert_code(1);
    assert!(!out.stdout.contains(password), "{}", out.dump());
    let probe = probe_of(&report, "Redis ACL user");
    assert!(passed(probe, "auth"), "{probe:#}");
    assert_eq!(
        check_of(probe, "auth")["expected"],
        format!("+OK (as `{user}`)")
    );
    assert_eq!(sent(probe)[1], format!("AUTH {user} «password»"));
    assert!(passed(probe, "info server.redis_version"), "{probe:#}");
    for name in ["config maxmemory", "config maxclients"] {
        assert!(!passed(probe, name));
        assert!(
            actual(probe, name).starts_with(
                "CONFIG is not permitted for this user (ACL): -NOPERM this user has no permissions to run the 'config|get' command"
            ),
            "{probe:#}"
        );
    }
}

#[test]
fn aof_is_seen_and_a_disabled_config_command_is_said_so() {
    let Some(redis) = peer("VOUCH_TEST_REDIS_AOF") else {
        return;
    };
    let items = format!(
        r#"  - item: Redis persistence (AOF)
    probes:
      - redis:
          address: "{redis}"
          expect:
            info: {{ persistence.aof_enabled: 1 }}
            config: {{ appendonly: "yes", maxmemory: {{ min: 1GiB }} }}
"#
    );
    let (out, report) = run(&items, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Redis persistence (AOF)");
    assert!(passed(probe, "info persistence.aof_enabled"), "{probe:#}");
    assert!(!passed(probe, "config appendonly"));
    assert!(
        actual(probe, "config appendonly").starts_with(
            "CONFIG is disabled on this server (renamed or removed): -ERR unknown command 'CONFIG'"
        ),
        "{probe:#}"
    );
    assert!(!passed(probe, "config maxmemory"));
    assert_eq!(
        actual(probe, "config maxmemory"),
        "CONFIG is disabled on this server (renamed or removed; `CONFIG GET appendonly` was refused)"
    );
    // Once disabled, not asked again.
    assert_eq!(sent(probe), ["PING", "INFO", "CONFIG GET appendonly"]);
    assert!(
        summary(probe).contains(" master, 2/4 checks held; config appendonly: expected \"yes\", got CONFIG is disabled on this server"),
        "{}",
        summary(probe)
    );
}

#[test]
fn a_replica_reports_its_role_and_master() {
    let (Some(replica), Some(master)) =
        (peer("VOUCH_TEST_REDIS_REPLICA"), peer("VOUCH_TEST_REDIS"))
    else {
        return;
    };
    let items = format!(
        r#"  - item: Redis replica
    probes:
      - redis:
          address: "{replica}"
          expect: {{ info: {{ replication.role: slave, replication.master_port: "{port}" }} }}
  - item: Redis replica is a master
    probes:
      - redis:
          address: "{replica}"
          expect: {{ info: {{ replication.role: master }} }}
"#,
        port = master.rsplit(':').next().expect("port")
    );
    let (out, report) = run(&items, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Redis replica");
    assert_eq!(probe["verdict"], "pass", "{probe:#}");
    assert_eq!(probe["evidence"]["server"]["role"], "slave");
    assert_eq!(probe["evidence"]["server"]["master"], master.as_str());
    let refuted = probe_of(&report, "Redis replica is a master");
    assert_eq!(actual(refuted, "info replication.role"), "\"slave\"");
}

#[test]
fn a_tls_port_is_spoken_to_with_the_ca_given() {
    let (Some(redis), Some(ca)) = (peer("VOUCH_TEST_REDIS_TLS"), peer("VOUCH_TEST_TLS_CA")) else {
        return;
    };
    let items = format!(
        r#"  - item: Redis over TLS
    probes:
      - redis:
          address: "{redis}"
          tls: true
          ca: "{ca}"
          expect: {{ info: {{ persistence.aof_enabled: 1 }} }}
  - item: Redis over TLS, untrusted
    probes:
      - redis: {{ address: "{redis}", tls: true }}
  - item: Redis TLS port spoken to in plain text
    probes:
      - redis: {{ address: "{redis}" }}
"#
    );
    let (out, report) = run(&items, &[]);
    out.assert_code(1);
    let good = probe_of(&report, "Redis over TLS");
    assert_eq!(good["verdict"], "pass", "{good:#}");
    assert_eq!(good["evidence"]["tls"], true);
    assert!(
        summary(good).starts_with(&format!("redis {redis} → 7.")),
        "{}",
        summary(good)
    );
    let untrusted = probe_of(&report, "Redis over TLS, untrusted");
    assert!(
        actual(untrusted, "connect").starts_with("TLS handshake failed: invalid peer certificate"),
        "{untrusted:#}"
    );
    let plain = probe_of(&report, "Redis TLS port spoken to in plain text");
    assert_eq!(plain["verdict"], "fail", "{plain:#}");
    // Redis closes or resets a connection that does not start a handshake.
    assert!(
        [
            "the server closed the connection",
            "read error: connection reset by peer"
        ]
        .contains(&actual(plain, "redis")),
        "{plain:#}"
    );
}

/// A tiny RESP client for seeding test keys (the probe itself only reads).
struct Seed {
    stream: BufReader<TcpStream>,
}

impl Seed {
    fn connect(address: &str) -> Seed {
        let stream = TcpStream::connect(address).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Seed {
            stream: BufReader::new(stream),
        }
    }

    /// Sends the commands in one write, then reads one single-line reply each.
    fn pipeline(&mut self, commands: &[Vec<String>]) {
        let mut bytes = Vec::new();
        for args in commands {
            bytes.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for a in args {
                bytes.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
            }
        }
        self.stream.get_mut().write_all(&bytes).expect("write");
        for _ in commands {
            let mut line = String::new();
            self.stream.read_line(&mut line).expect("reply");
            assert!(line.starts_with(['+', ':']), "seeding failed: {line}");
        }
    }
}

fn set(key: &str, ttl: Option<u64>) -> Vec<String> {
    let mut args = vec!["SET".to_owned(), key.to_owned(), "v".to_owned()];
    if let Some(ttl) = ttl {
        args.extend(["EX".to_owned(), ttl.to_string()]);
    }
    args
}

#[test]
fn key_ttls_are_read_from_a_bounded_scan() {
    let Some(redis) = peer("VOUCH_TEST_REDIS") else {
        return;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let p = format!("vouch-test-{}-{nanos}", std::process::id());
    let mut seed = Seed::connect(&redis);
    let mut commands: Vec<Vec<String>> = (0..5)
        .map(|i| set(&format!("{p}:session:{i}"), Some(3600)))
        .collect();
    commands.extend((0..3).map(|i| set(&format!("{p}:persistent:{i}"), None)));
    commands.push(set(&format!("{p}:long:0"), Some(2 * 86_400)));
    seed.pipeline(&commands);

    let items = format!(
        r#"  - item: Sessions expire within a day
    probes:
      - redis:
          address: "{redis}"
          expect: {{ keys: {{ "{p}:session:*": {{ ttl: {{ max: 24h }}, exists: true }} }} }}
  - item: Persistent keys expire
    probes:
      - redis:
          address: "{redis}"
          expect: {{ keys: {{ "{p}:persistent:*": {{ ttl: {{ max: 24h }} }}, "{p}:long:*": {{ ttl: {{ max: 24h }} }} }} }}
  - item: Sessions expire within half an hour
    probes:
      - redis:
          address: "{redis}"
          expect: {{ keys: {{ "{p}:session:*": {{ ttl: {{ max: 30m }} }} }} }}
"#
    );
    let (out, report) = run(&items, &[]);
    // Then enough keys that ten SCAN calls of COUNT 100 cannot see them all.
    let bulk: Vec<Vec<String>> = (0..1500)
        .map(|i| set(&format!("{p}:bulk:{i}"), Some(300)))
        .collect();
    seed.pipeline(&bulk);
    let (bounded_out, bounded) = run(
        &format!(
            r#"  - item: No such keys
    probes:
      - redis:
          address: "{redis}"
          expect: {{ keys: {{ "{p}:nothing:*": {{ exists: true }} }} }}
"#
        ),
        &[],
    );
    commands.extend(bulk);
    let mut cleanup: Vec<Vec<String>> = Vec::new();
    for chunk in commands.chunks(500) {
        let mut del = vec!["DEL".to_owned()];
        del.extend(chunk.iter().map(|c| c[1].clone()));
        cleanup.push(del);
    }
    seed.pipeline(&cleanup);
    out.assert_code(1);

    let sessions = probe_of(&report, "Sessions expire within a day");
    assert_eq!(sessions["verdict"], "pass", "{sessions:#}");
    let ttl = actual(sessions, &format!("keys {p}:session:* ttl"));
    assert!(
        ttl.starts_with("all 5 sampled keys hold, the longest "),
        "{ttl}"
    );
    let sampled = &sessions["evidence"]["keys"][format!("{p}:session:*")]["sampled"];
    assert_eq!(sampled.as_array().expect("sampled").len(), 5, "{sampled:#}");
    assert!(sampled[0]["ttl_s"].as_u64().expect("ttl") <= 3600);
    assert!(
        sent(sessions).iter().all(|c| ["PING", "INFO"].contains(c)
            || c.starts_with("SCAN ")
            || c.starts_with("TTL ")),
        "{:?}",
        sent(sessions)
    );
    assert!(sent(sessions)[2].ends_with(&format!("MATCH {p}:session:* COUNT 100")));

    let persistent = probe_of(&report, "Persistent keys expire");
    assert_eq!(persistent["verdict"], "fail", "{persistent:#}");
    let ttl = actual(persistent, &format!("keys {p}:persistent:* ttl"));
    assert!(
        ttl.starts_with(&format!(
            "3 of 3 sampled keys do not: {p}:persistent:0 no TTL"
        )),
        "{ttl}"
    );
    let ttl = actual(persistent, &format!("keys {p}:long:* ttl"));
    assert_eq!(ttl, format!("1 of 1 sampled keys do not: {p}:long:0 2days"));
    // `30m` is thirty minutes here, not the size 30 MB.
    let half_hour = probe_of(&report, "Sessions expire within half an hour");
    assert_eq!(half_hour["verdict"], "fail", "{half_hour:#}");
    let ttl = actual(half_hour, &format!("keys {p}:session:* ttl"));
    assert!(ttl.starts_with("5 of 5 sampled keys do not: "), "{ttl}");

    bounded_out.assert_code(1);
    let nothing = probe_of(&bounded, "No such keys");
    let found = actual(nothing, &format!("keys {p}:nothing:* exist"));
    assert_eq!(
        found,
        "0 matched (scan bounded: 10 SCAN calls of COUNT 100, the keyspace not exhausted)"
    );
    let record = &nothing["evidence"]["keys"][format!("{p}:nothing:*")];
    assert_eq!(record["complete"], false);
    assert_eq!(record["scan_calls"], 10);
}

/// A server that answers `PING` with `+PONG`, then sends `hostile` to the
/// next command and stays open.
fn hostile(hostile: &'static [u8]) -> RawServer {
    RawServer::start(move |mut stream| async move {
        let mut buf = vec![0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"+PONG\r\n").await;
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(hostile).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
}

#[test]
fn hostile_replies_fail_with_evidence_never_hang() {
    let endless_line: &'static [u8] = Box::leak(
        std::iter::once(b'+')
            .chain(std::iter::repeat_n(b'a', 100_000))
            .collect::<Vec<u8>>()
            .into_boxed_slice(),
    );
    let cases: [(&str, &'static [u8], &str); 4] = [
        (
            "huge bulk",
            b"$99999999999\r\n",
            "reply too large: a bulk string of 99999999999 bytes, more than the",
        ),
        (
            "endless array",
            b"*2147483647\r\n+x\r\n+x\r\n",
            "reply too large: arrays of more than 10000 elements in all",
        ),
        (
            "garbage",
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            "not a RESP reply: unexpected first byte 'H' in `HTTP/1.1 400 Bad Request`",
        ),
        (
            "endless line",
            endless_line,
            "reply too large: a line longer than 64.0 KiB without CRLF",
        ),
    ];
    for (name, bytes, why) in cases {
        let server = hostile(bytes);
        let address = server.url().trim_start_matches("http://").to_owned();
        let items = format!(
            r#"  - item: Hostile {name}
    probes:
      - redis:
          address: "{address}"
          expect: {{ info: {{ server.redis_version: {{ min: "7.0" }} }}, config: {{ maxmemory: 0 }} }}
"#
        );
        let (out, report) = run(&items, &[]);
        out.assert_code(1);
        assert!(
            out.elapsed < Duration::from_secs(4),
            "{name}: {:?}",
            out.elapsed
        );
        let probe = probe_of(&report, &format!("Hostile {name}"));
        assert_eq!(probe["verdict"], "fail", "{probe:#}");
        let info = actual(probe, "info server.redis_version");
        assert!(info.starts_with(why), "{name}: {info}");
        assert!(
            actual(probe, "config maxmemory")
                .starts_with("not run: the connection broke at INFO: "),
            "{probe:#}"
        );
        assert_eq!(sent(probe), ["PING", "INFO"], "{name}");
        assert!(
            probe["evidence"]["commands"][1]["error"]
                .as_str()
                .expect("error")
                .starts_with(why)
        );
    }
}

#[test]
fn a_server_that_is_not_redis_fails_the_first_check() {
    let server = RawServer::start(|mut stream| async move {
        let mut buf = vec![0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
    });
    let address = server.url().trim_start_matches("http://").to_owned();
    let items = format!(
        r#"  - item: Not Redis
    probes:
      - redis: {{ address: "{address}", expect: {{ auth_required: true }} }}
"#
    );
    let (out, report) = run(&items, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Not Redis");
    assert_eq!(
        actual(probe, "redis"),
        "not a RESP reply: unexpected first byte 'S' in `SSH-2.0-OpenSSH_9.2`"
    );
    assert_eq!(
        actual(probe, "auth required"),
        "unknown (not a RESP reply: unexpected first byte 'S' in `SSH-2.0-OpenSSH_9.2`)"
    );
}

#[test]
fn a_refused_connection_is_a_failed_check() {
    let closed = server::closed_port_url();
    let address = closed.trim_start_matches("http://");
    let items =
        format!("  - item: Redis down\n    probes:\n      - redis: {{ address: \"{address}\" }}\n");
    let (out, report) = run(&items, &[]);
    out.assert_code(1);
    let probe = probe_of(&report, "Redis down");
    assert_eq!(
        summary(probe),
        format!("redis {address} → connection refused")
    );
    assert_eq!(actual(probe, "connect"), "connection refused");
}
