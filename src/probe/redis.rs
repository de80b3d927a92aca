//! `redis`: a real, read-only Redis session — whether an unauthenticated
//! `PING` is refused, `AUTH` (with an ACL user), `INFO` fields, `CONFIG GET`
//! parameters and the TTLs of a bounded sample of keys (`SCAN`, never `KEYS`).
//! RESP2 is spoken here (`redis/resp.rs`), with every reply bounded.

mod keys;
mod resp;
mod session;

use std::collections::{BTreeMap, BTreeSet};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::{Budget, Check, Context, Findings, Probe, ProbeError, TlsSettings};
use crate::expect::Matcher;
use keys::{scan, ttl_check};
use resp::Value;
use session::{Refusal, Session};

/// The port when neither `address` nor the target names one.
pub const DEFAULT_PORT: u16 = 6379;

/// `COUNT` of each `SCAN` call: how many keys the server looks at per call.
pub const SCAN_COUNT: u64 = 100;

/// The most `SCAN` calls per pattern: about 1,000 keys looked at in all.
pub const MAX_SCAN_CALLS: u64 = 10;

/// The most matching keys whose `TTL` is read, per pattern.
pub const MAX_SAMPLE: usize = 20;

/// Settings of a `redis` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "RedisSettings")]
#[schemars(with = "RedisSettings")]
pub struct Redis {
    address: Option<Address>,
    tls: Option<TlsSettings>,
    user: Option<String>,
    password: Option<String>,
    expect: RedisExpect,
}

super::with_tls! {
    /// The `redis:` settings as written.
    #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct RedisSettings {
        /// `host:port`, `[v6]:port`, `host` (port 6379) or `:port` (the
        /// target's host); default: the target's host and port (6379 when
        /// the target names none).
        #[serde(default)]
        address: Option<Address>,
        /// Speak TLS (`rediss://`), with `ca`, `client_cert`/`client_key`
        /// and `insecure` as for `http`.
        #[serde(default)]
        tls: bool,
        /// The ACL user of `AUTH user password` (Redis 6+); default: the
        /// `default` user (`AUTH password`).
        #[serde(default)]
        user: Option<String>,
        /// The password: write `${secret:NAME}`. Never shown.
        #[serde(default)]
        password: Option<String>,
        /// What must hold.
        #[serde(default)]
        expect: RedisExpect,
    }
}

/// Expectations of a `redis` probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisExpect {
    /// Whether a `PING` without `AUTH` must be refused (`-NOAUTH`).
    #[serde(default)]
    pub auth_required: Option<bool>,
    /// `INFO` fields by `section.field` (`server.redis_version`,
    /// `replication.role`); dotted versions compare as versions.
    #[serde(default)]
    pub info: BTreeMap<String, Matcher>,
    /// `CONFIG GET` parameters by name (`maxmemory: { min: 1GiB }`).
    #[serde(default)]
    pub config: BTreeMap<String, Matcher>,
    /// Key patterns (`SCAN … MATCH`), each checked on a bounded sample.
    #[serde(default)]
    pub keys: BTreeMap<String, KeysExpect>,
}

/// What the keys matching one pattern must show.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysExpect {
    /// The TTL of every sampled key, in seconds or as a duration
    /// (`max: 24h`); a key without a TTL counts as absent, so it fails
    /// `min`/`max` and passes `absent: true`.
    #[serde(default)]
    pub ttl: Option<Matcher>,
    /// Whether some key must match (`true`) or none may (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
}

/// An address as written: host and port, either of them from the target.
#[derive(Debug, Clone)]
pub struct Address {
    text: String,
    host: Option<String>,
    port: Option<u16>,
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (host, port) = super::tcp::parse_address(&text).map_err(de::Error::custom)?;
        Ok(Address { text, host, port })
    }
}

impl JsonSchema for Address {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RedisAddress".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "`host:port`, `[v6]:port`, `host` (port 6379) or `:port` (the target's host)."
        })
    }
}

impl TryFrom<RedisSettings> for Redis {
    type Error = String;

    fn try_from(mut s: RedisSettings) -> Result<Redis, String> {
        // An empty `password:` (`${secret:REDIS_PASSWORD:-}` unset) is none.
        s.password = s.password.filter(|p| !p.is_empty());
        if s.user.is_some() && s.password.is_none() {
            return Err("`user` needs `password`: AUTH sends both".to_owned());
        }
        let e = &s.expect;
        if let Some(bad) = e.info.keys().find(|k| !is_section_field(k)) {
            return Err(format!(
                "`{bad}` is not an INFO field: write `section.field`, like `server.redis_version`"
            ));
        }
        if let Some(bad) = e
            .config
            .keys()
            .find(|k| k.is_empty() || k.contains(['*', '?', '[', ' ']))
        {
            return Err(format!(
                "`{bad}` is not a CONFIG parameter name: give one name, not a pattern"
            ));
        }
        if let Some((bad, _)) = e
            .keys
            .iter()
            .find(|(_, k)| k.ttl.is_none() && k.exists.is_none())
        {
            return Err(format!(
                "keys `{bad}` expects nothing: give `ttl:` or `exists:`"
            ));
        }
        if let Some((bad, _)) = e
            .keys
            .iter()
            .find(|(p, k)| p.is_empty() || (k.exists == Some(false) && k.ttl.is_some()))
        {
            return Err(format!(
                "keys `{bad}`: a pattern that must match nothing has no TTL to check"
            ));
        }
        let tls = s.tls();
        let tls = if s.tls {
            Some(tls)
        } else if tls != TlsSettings::default() {
            return Err(
                "`ca`, `client_cert`, `client_key` and `insecure` need `tls: true`".to_owned(),
            );
        } else {
            None
        };
        Ok(Redis {
            address: s.address,
            tls,
            user: s.user,
            password: s.password,
            expect: s.expect,
        })
    }
}

fn is_section_field(name: &str) -> bool {
    name.split_once('.')
        .is_some_and(|(section, field)| !section.is_empty() && !field.is_empty())
}

impl Redis {
    /// `redis 10.0.0.5:6379`, `redis target`, `redis :6380 tls`.
    pub fn describe(&self) -> String {
        let mut line = match &self.address {
            Some(a) => format!("redis {}", a.text),
            None => "redis target".to_owned(),
        };
        if self.tls.is_some() {
            line.push_str(" tls");
        }
        line
    }

    /// `[""]` when the host comes from the target (a port alone does not
    /// make an address; a host alone gets port 6379).
    pub fn target_paths(&self) -> Vec<&str> {
        match self.address.as_ref().and_then(|a| a.host.as_ref()) {
            Some(_) => Vec::new(),
            None => vec![""],
        }
    }

    /// The host and port to connect to, filled in from the target.
    fn endpoint(&self, cx: &Context) -> Result<(String, u16), ProbeError> {
        let target = cx.target.as_ref();
        let written = self.address.as_ref();
        let host = match written.and_then(|a| a.host.clone()) {
            Some(h) => h,
            None => match target.and_then(url::Url::host) {
                Some(url::Host::Ipv6(ip)) => ip.to_string(),
                Some(h) => h.to_string(),
                None => {
                    return Err(ProbeError::Setup(
                        "`redis` has no host: give `address: host:port`, or `target:` / `--target`"
                            .to_owned(),
                    ));
                }
            },
        };
        let port = match written {
            Some(Address { port: Some(p), .. }) => *p,
            Some(Address { host: Some(_), .. }) => DEFAULT_PORT,
            _ => target.and_then(url::Url::port).unwrap_or(DEFAULT_PORT),
        };
        Ok((host, port))
    }

    /// The INFO sections asked for, lowercase.
    fn sections(&self) -> BTreeSet<String> {
        self.expect
            .info
            .keys()
            .filter_map(|k| k.split_once('.'))
            .map(|(section, _)| section.to_ascii_lowercase())
            .collect()
    }

    /// The most commands one run sends.
    pub fn budget(&self) -> Budget {
        let e = &self.expect;
        let commands = 3 // PING, AUTH, INFO
            + self.sections().len() as u64
            + e.config.len() as u64
            + e.keys.len() as u64 * (MAX_SCAN_CALLS + MAX_SAMPLE as u64);
        Budget {
            max_requests: commands,
            ..Budget::SINGLE
        }
    }
}

/// The checks of one run, and why the ones not run were not.
struct Run {
    checks: Vec<Check>,
    record: Json,
    /// Why commands after `PING` cannot run (no password, AUTH refused).
    blocked: Option<String>,
}

impl Run {
    fn check(
        &mut self,
        name: impl Into<String>,
        expected: impl Into<String>,
        actual: String,
        ok: bool,
    ) {
        self.checks.push(Check::new(name, expected, actual, ok));
    }
}

impl Probe for Redis {
    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let (host, port) = self.endpoint(cx)?;
        let tls = match &self.tls {
            Some(own) => {
                let mut config = super::fetch::client_tls_config(&own.or(&cx.tls), &cx.base_dir)
                    .map_err(ProbeError::Setup)?;
                // A Redis port speaks no HTTP: offering `h2` could only confuse it.
                config.alpn_protocols.clear();
                Some(std::sync::Arc::new(config))
            }
            None => None,
        };
        let address = super::tcp::join_host_port(&host, port);
        let mut run = Run {
            checks: Vec::new(),
            record: json!({"address": address, "tls": tls.is_some()}),
            blocked: None,
        };
        let mut session = match Session::open(cx, &host, port, tls).await {
            Ok(session) => session,
            Err(why) => {
                run.record["error"] = json!(why);
                run.check("connect", "a Redis server", why.clone(), false);
                return Ok(Findings {
                    checks: run.checks,
                    summary: format!("redis {address} → {why}"),
                    evidence: run.record,
                });
            }
        };
        run.record["connect_ms"] = json!(super::fetch::millis(session.connected_after));
        self.ping(&mut session, &mut run).await;
        if run.blocked.is_none() {
            self.auth(&mut session, &mut run).await;
        }
        let server = self.info(&mut session, &mut run).await;
        self.config(&mut session, &mut run).await;
        self.keys(&mut session, &mut run).await;
        run.record["commands"] = Json::Array(session.log);
        let failed: Vec<&Check> = run.checks.iter().filter(|c| !c.passed).collect();
        let held = run.checks.len() - failed.len();
        let mut summary = format!("redis {address} → ");
        match (&server.version, &server.role) {
            (Some(v), Some(r)) => summary.push_str(&format!("{v} {r}, ")),
            (Some(v), None) => summary.push_str(&format!("{v}, ")),
            // INFO did not run or answer: what PING said is all there is.
            _ => {
                if let Some(ping) = run.record["ping"].as_str() {
                    summary.push_str(&format!("PING {ping}, "));
                }
            }
        }
        summary.push_str(&format!("{held}/{} checks held", run.checks.len()));
        super::append_failures(&mut summary, &failed, 2, true);
        Ok(Findings {
            checks: run.checks,
            summary,
            evidence: run.record,
        })
    }
}

/// What INFO said of the server, for the summary.
#[derive(Debug, Default, Serialize)]
struct Server {
    version: Option<String>,
    role: Option<String>,
}

impl Redis {
    /// `PING` before `AUTH`: tells a Redis server, and whether it wants a password.
    async fn ping(&self, session: &mut Session, run: &mut Run) {
        let reply = session.command(&[b"PING"], "PING").await;
        let (is_redis, needs_password, shown) = match &reply {
            Ok(Value::Simple(s)) if s == "PONG" => (true, false, "+PONG".to_owned()),
            Ok(Value::Error(e)) if e.starts_with("NOAUTH") => {
                (true, true, format!("-{}", session.shown(e)))
            }
            Ok(other) => (false, false, session.describe(other)),
            Err(e) => (false, false, e.clone()),
        };
        run.record["ping"] = json!(shown);
        run.check(
            "redis",
            "+PONG or -NOAUTH (a Redis server)",
            shown.clone(),
            is_redis,
        );
        if !is_redis {
            run.blocked = Some(format!("not run: PING answered {shown}"));
        }
        if let Some(required) = self.expect.auth_required {
            let actual = match (is_redis, needs_password) {
                (true, true) => format!("required ({shown})"),
                (true, false) => "not required (PING answered +PONG)".to_owned(),
                (false, _) => format!("unknown ({shown})"),
            };
            run.check(
                "auth required",
                if required { "required" } else { "not required" },
                actual,
                is_redis && needs_password == required,
            );
        }
        if is_redis && needs_password && self.password.is_none() {
            run.blocked = Some(
                "not run: the server requires a password and the probe gives none (`password:`)"
                    .to_owned(),
            );
        }
    }

    /// `AUTH [user] password`; the password never reaches the log.
    async fn auth(&self, session: &mut Session, run: &mut Run) {
        let Some(password) = &self.password else {
            return;
        };
        let (args, shown): (Vec<&[u8]>, String) = match &self.user {
            Some(user) => (
                vec![b"AUTH", user.as_bytes(), password.as_bytes()],
                format!("AUTH {user} «password»"),
            ),
            None => (
                vec![b"AUTH", password.as_bytes()],
                "AUTH «password»".to_owned(),
            ),
        };
        let reply = session.command(&args, &shown).await;
        let user = self.user.as_deref().unwrap_or("default");
        let actual = match &reply {
            Ok(Value::Simple(s)) if s == "OK" => {
                run.record["auth"] = json!({"user": user, "result": "+OK"});
                run.check("auth", format!("+OK (as `{user}`)"), "+OK".to_owned(), true);
                return;
            }
            Ok(other) => session.describe(other),
            Err(e) => e.clone(),
        };
        run.record["auth"] = json!({"user": user, "result": actual});
        run.check("auth", format!("+OK (as `{user}`)"), actual.clone(), false);
        run.blocked = Some(format!("not run: AUTH refused ({actual})"));
    }

    /// `INFO` (and `INFO section` for sections it leaves out): the fields
    /// asked for, and the version and role for the summary.
    async fn info(&self, session: &mut Session, run: &mut Run) -> Server {
        let mut server = Server::default();
        if let Some(why) = run.blocked.clone() {
            for (field, matcher) in &self.expect.info {
                run.check(
                    format!("info {field}"),
                    matcher.to_string(),
                    why.clone(),
                    false,
                );
            }
            return server;
        }
        let mut fields = match session.command(&[b"INFO"], "INFO").await {
            Ok(Value::Bulk(Some(text))) => parse_info(&String::from_utf8_lossy(&text)),
            other => {
                let why = refused("INFO", &other, session);
                run.record["info_error"] = json!(why);
                for (field, matcher) in &self.expect.info {
                    run.check(
                        format!("info {field}"),
                        matcher.to_string(),
                        why.clone(),
                        false,
                    );
                }
                return server;
            }
        };
        for section in self.sections() {
            if fields.contains_key(&section) {
                continue;
            }
            if let Ok(Value::Bulk(Some(text))) = session
                .command(&[b"INFO", section.as_bytes()], &format!("INFO {section}"))
                .await
            {
                fields.extend(parse_info(&String::from_utf8_lossy(&text)));
            }
        }
        let get = |section: &str, field: &str| fields.get(section).and_then(|s| s.get(field));
        server.version = get("server", "redis_version").cloned();
        server.role = get("replication", "role").cloned();
        let mut record = json!({
            "version": server.version,
            "mode": get("server", "redis_mode"),
            "role": server.role,
        });
        if server.role.as_deref() == Some("slave") {
            record["master"] = json!(format!(
                "{}:{}",
                get("replication", "master_host").map_or("?", String::as_str),
                get("replication", "master_port").map_or("?", String::as_str)
            ));
            record["master_link_status"] = json!(get("replication", "master_link_status"));
        }
        run.record["server"] = record;
        let mut seen = serde_json::Map::new();
        for (name, matcher) in &self.expect.info {
            let (section, field) = name.split_once('.').unwrap_or((name, ""));
            let section = section.to_ascii_lowercase();
            let value = get(&section, field);
            seen.insert(name.clone(), json!(value));
            let actual = match value {
                Some(v) => format!("{:?}", crate::expect::excerpt(v, 120)),
                None if fields.contains_key(&section) => {
                    format!("missing (INFO {section} has no `{field}`)")
                }
                None => format!("missing (INFO has no section `{section}`)"),
            };
            let ok = matcher.check_str(value.map(String::as_str)).is_ok();
            run.check(format!("info {name}"), matcher.to_string(), actual, ok);
        }
        if !seen.is_empty() {
            run.record["info"] = Json::Object(seen);
        }
        server
    }

    /// `CONFIG GET name`, one parameter at a time (older servers take one).
    async fn config(&self, session: &mut Session, run: &mut Run) {
        let mut seen = serde_json::Map::new();
        let mut disabled: Option<String> = None;
        for (name, matcher) in &self.expect.config {
            let check = format!("config {name}");
            let why = run.blocked.clone().or_else(|| disabled.clone());
            if let Some(why) = why {
                run.check(check, matcher.to_string(), why, false);
                continue;
            }
            let reply = session
                .command(
                    &[b"CONFIG", b"GET", name.as_bytes()],
                    &format!("CONFIG GET {name}"),
                )
                .await;
            let value = match &reply {
                Ok(Value::Array(Some(items))) => config_value(items, name),
                _ => None,
            };
            let actual = match (&reply, &value) {
                (_, Some(v)) => format!("{:?}", crate::expect::excerpt(v, 120)),
                (Ok(Value::Array(Some(_))), None) => {
                    format!("no such parameter (CONFIG GET {name} returned nothing)")
                }
                _ => {
                    let why = refused("CONFIG", &reply, session);
                    if matches!(session.refusal(&reply), Some(Refusal::Disabled)) {
                        disabled = Some(format!(
                            "CONFIG is disabled on this server (renamed or removed; `CONFIG GET {name}` was refused)"
                        ));
                    }
                    why
                }
            };
            seen.insert(name.clone(), json!(value.as_deref().unwrap_or(&actual)));
            let ok = value.is_some() && matcher.check_str(value.as_deref()).is_ok();
            run.check(check, matcher.to_string(), actual, ok);
        }
        if !seen.is_empty() {
            run.record["config"] = Json::Object(seen);
        }
    }

    /// Per pattern: `SCAN` with `MATCH` and `COUNT`, bounded, then `TTL` of a sample.
    async fn keys(&self, session: &mut Session, run: &mut Run) {
        let mut seen = serde_json::Map::new();
        for (pattern, expect) in &self.expect.keys {
            if let Some(why) = run.blocked.clone() {
                if let Some(exists) = expect.exists {
                    run.check(
                        format!("keys {pattern} exist"),
                        exists_wanted(exists),
                        why.clone(),
                        false,
                    );
                }
                if let Some(m) = &expect.ttl {
                    run.check(format!("keys {pattern} ttl"), m.to_string(), why, false);
                }
                continue;
            }
            let scan = scan(session, pattern).await;
            let mut record = json!({
                "scan_calls": scan.calls,
                "complete": scan.complete,
                "matched": scan.keys.len(),
            });
            let scope = scan.scope();
            if let Some(why) = &scan.error {
                record["error"] = json!(why);
            }
            if let Some(exists) = expect.exists {
                let (actual, ok) = match &scan.error {
                    Some(why) if scan.keys.is_empty() => (why.clone(), false),
                    _ => (
                        format!("{} matched ({scope})", scan.keys.len()),
                        scan.keys.is_empty() != exists,
                    ),
                };
                run.check(
                    format!("keys {pattern} exist"),
                    exists_wanted(exists),
                    actual,
                    ok,
                );
            }
            if let Some(matcher) = &expect.ttl {
                let (actual, ok, samples) = ttl_check(session, pattern, &scan, matcher).await;
                record["sampled"] = Json::Array(samples);
                run.check(
                    format!("keys {pattern} ttl"),
                    matcher.to_string(),
                    actual,
                    ok,
                );
            }
            seen.insert(pattern.clone(), record);
        }
        if !seen.is_empty() {
            run.record["keys"] = Json::Object(seen);
        }
    }
}

fn exists_wanted(exists: bool) -> &'static str {
    if exists {
        "some key matches"
    } else {
        "no key matches"
    }
}

/// Why a command's reply is not what was asked for, as people read it:
/// `CONFIG is disabled on this server (renamed or removed): …`.
fn refused(command: &str, reply: &Result<Value, String>, session: &Session) -> String {
    match reply {
        Err(e) => e.clone(),
        Ok(Value::Error(e)) => {
            let shown = session.shown(e);
            match session.refusal(reply) {
                Some(Refusal::Disabled) => {
                    format!("{command} is disabled on this server (renamed or removed): -{shown}")
                }
                Some(Refusal::NoPermission) => {
                    format!("{command} is not permitted for this user (ACL): -{shown}")
                }
                Some(Refusal::NoAuth) => format!("a password is required: -{shown}"),
                None => format!("-{shown}"),
            }
        }
        Ok(other) => format!("unexpected reply: {}", session.describe(other)),
    }
}

/// `INFO` text as section → field → value (sections lowercase).
fn parse_info(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(heading) = line.strip_prefix('#') {
            current = heading.trim().to_ascii_lowercase();
            sections.entry(current.clone()).or_default();
        } else if let Some((field, value)) = line.split_once(':') {
            sections
                .entry(current.clone())
                .or_default()
                .insert(field.to_owned(), value.to_owned());
        }
    }
    sections
}

/// The value of `name` in a `CONFIG GET` reply (`[name, value, …]`).
fn config_value(items: &[Value], name: &str) -> Option<String> {
    items.chunks(2).find_map(|pair| match pair {
        [k, v] if k.text().is_some_and(|k| k.eq_ignore_ascii_case(name)) => v.text(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis(yaml: &str) -> Result<Redis, String> {
        crate::spec::de::from_yaml(yaml)
    }

    fn cx(target: Option<&str>) -> Context {
        Context {
            target: target.map(|t| url::Url::parse(t).expect("url")),
            tls: TlsSettings::default(),
            body_limit: super::super::DEFAULT_BODY_LIMIT,
            base_dir: std::path::PathBuf::from("."),
            root: None,
            clients: std::sync::Arc::default(),
            timeout: super::super::DEFAULT_TIMEOUT,
            progress: Default::default(),
            redactor: std::sync::Arc::default(),
            authorization: None,
            recorder: None,
        }
    }

    #[test]
    fn rejects_settings_that_cannot_work() {
        let err = |yaml: &str| redis(yaml).expect_err(yaml);
        assert!(err("user: app\n").contains("`user` needs `password`"));
        assert!(err("expect: {info: {redis_version: 7}}\n").contains("write `section.field`"));
        assert!(err("expect: {config: {'max*': 1}}\n").contains("not a pattern"));
        assert!(err("expect: {keys: {'s:*': {}}}\n").contains("give `ttl:` or `exists:`"));
        assert!(
            err("expect: {keys: {'s:*': {exists: false, ttl: {max: 1h}}}}\n")
                .contains("no TTL to check")
        );
        assert!(err("ca: ca.pem\n").contains("need `tls: true`"));
        assert!(err("address: 'redis://db:6379'\n").contains("not a URL"));
        assert!(err("expect: {auth: true}\n").contains("unknown field `auth`"));
        assert!(
            err("expect: {info: {server.redis_version: {min: new}}}\n").contains("invalid bound")
        );
    }

    #[test]
    fn describes_and_fills_the_address_from_the_target() {
        let probe = |yaml: &str| redis(yaml).expect(yaml);
        assert_eq!(probe("address: db:6380\n").describe(), "redis db:6380");
        assert_eq!(probe("tls: true\n").describe(), "redis target tls");
        let endpoint = |yaml: &str, target: Option<&str>| {
            probe(yaml).endpoint(&cx(target)).map_err(|e| e.to_string())
        };
        assert_eq!(endpoint("address: db\n", None), Ok(("db".to_owned(), 6379)));
        assert_eq!(
            endpoint("address: ':6380'\n", Some("http://cache.internal")),
            Ok(("cache.internal".to_owned(), 6380))
        );
        assert_eq!(
            endpoint("{}", Some("http://cache.internal")),
            Ok(("cache.internal".to_owned(), 6379))
        );
        assert_eq!(
            endpoint("{}", Some("redis://[::1]:7000")),
            Ok(("::1".to_owned(), 7000))
        );
        assert!(
            endpoint("{}", None)
                .expect_err("no host")
                .contains("no host")
        );
        assert!(probe("address: db\n").target_paths().is_empty());
        assert_eq!(probe("address: ':1'\n").target_paths(), [""]);
    }

    #[test]
    fn the_budget_counts_every_command() {
        let probe = redis(
            "expect: {info: {server.a: 1, memory.b: 2, server.c: 3}, config: {x: 1}, keys: {'k:*': {exists: true}}}\n",
        )
        .expect("valid");
        // PING, AUTH, INFO, INFO server, INFO memory, CONFIG GET x, 10 SCAN + 20 TTL.
        assert_eq!(probe.budget().max_requests, 3 + 2 + 1 + 30);
    }

    #[test]
    fn reads_info_by_section_and_config_pairs() {
        let info = parse_info(
            "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
        );
        assert_eq!(info["server"]["redis_version"], "7.0.15");
        assert_eq!(info["keyspace"]["db0"], "keys=1,expires=0,avg_ttl=0");
        let reply = [
            Value::Bulk(Some(b"maxmemory".to_vec())),
            Value::Bulk(Some(b"0".to_vec())),
        ];
        assert_eq!(config_value(&reply, "MAXMEMORY"), Some("0".to_owned()));
        assert_eq!(config_value(&reply, "maxclients"), None);
        assert_eq!(config_value(&reply[..1], "maxmemory"), None);
    }
}
