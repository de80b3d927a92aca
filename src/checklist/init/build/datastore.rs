//! Builders for what a checklist states about a Redis or PostgreSQL server
//! itself (persistence, eviction, key TTLs, extensions, replication, TLS,
//! versions, settings, password-less logins): the `redis` and `postgres`
//! kinds, at the address a variable declares.

use std::sync::LazyLock;

use regex::Regex;

use super::super::claims::Facts;
use super::super::numbers;
use super::super::render::Node;
use super::super::rules::Draft;
use super::super::services::{self, Reach, Service};

/// `7.0 or later`, `15+`, `version 16`: the version a text asks for at least.
static MIN_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:\b(\d+(?:\.\d+)*)(?:\.x)?\s*(?:\+|or\s+(?:later|newer|above|higher)))|(?:version\s+(?:at\s+least\s+|>=?\s*)?(\d+(?:\.\d+)*))",
    )
    .expect("a valid pattern")
});

/// `allkeys-lru`, `volatile-ttl`, `noeviction`: a Redis eviction policy named.
static POLICY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b((?:allkeys|volatile)-(?:lru|lfu|random|ttl)|noeviction)\b")
        .expect("a valid pattern")
});

/// The one Redis or PostgreSQL server the claim names (its own words first,
/// else its parent or heading), with the settings the text states; `None`
/// when it states none (reachability is [`super::service`]'s).
pub fn datastore(f: &Facts) -> Option<Draft> {
    if f.has(&["backup", "backups", "pool", "pooling", "pgbouncer"]) {
        return None;
    }
    let named = services::named_in(&f.words);
    let service = match (named.as_slice(), f.services.as_slice()) {
        ([one], _) | ([], [one]) => *one,
        _ => return None,
    };
    match service.reach {
        Reach::Redis => redis(f, service, false),
        Reach::Postgres => postgres(f, service, false),
        _ => None,
    }
}

/// The address variable of `service`, declared on `d`.
fn address(d: &mut Draft, service: &Service) -> String {
    d.var(
        &service.var(),
        &service.env(),
        &service.default_address(None),
    )
}

/// A `redis` probe: what the text states, or (with `bare`) a session that
/// only has to answer.
pub(super) fn redis(f: &Facts, service: &Service, bare: bool) -> Option<Draft> {
    let mut d = Draft::new("redis", Node::map());
    let var = address(&mut d, service);
    let mut settings = Node::map().with("address", Node::s(var));
    let mut expect = Node::map();
    let mut session = false;
    if f.has(&["password", "auth", "authentication", "requirepass"]) {
        expect.set("auth_required", Node::s("true"));
        d = d.why("a PING without AUTH gets -NOAUTH: a password is required");
    }
    if f.has(&[
        "aof",
        "appendonly",
        "append only",
        "persistence",
        "persistent",
    ]) {
        expect.set("info/persistence.aof_enabled", Node::s("1"));
        d = d.why("INFO persistence: aof_enabled 1");
        session = true;
    }
    let policy_named = f.has(&["maxmemory policy", "eviction", "lru", "lfu"]);
    if policy_named || POLICY.is_match(&f.text) {
        let policy = match POLICY.captures(&f.text) {
            Some(c) => Node::s(c[1].to_lowercase()),
            None if f.has(&["lru"]) => Node::map().with("contains", Node::s("lru")),
            None if f.has(&["lfu"]) => Node::map().with("contains", Node::s("lfu")),
            None => Node::map().with("ne", Node::s("noeviction")),
        };
        d = d.why(format!("INFO memory: maxmemory_policy {}", policy.shown()));
        expect.set("info/memory.maxmemory_policy", policy);
        session = true;
    }
    let maxmemory = f.words.matches(" maxmemory ").count()
        > f.words.matches(" maxmemory policy ").count()
        || f.has(&["memory limit", "max memory"]);
    if maxmemory {
        // Redis reads `2gb` as 2 GiB: say so in vouch's units.
        let value = match numbers::size(&f.text) {
            Some((n, unit)) => {
                Node::s(format!("{n}{}", unit.replace("iB", "B").replace('B', "iB")))
            }
            None => Node::map().with("ne", Node::s("0")),
        };
        d = d.why("CONFIG GET maxmemory: set (0 is no limit)");
        expect.set("config/maxmemory", value);
        session = true;
    }
    if f.has(&["replica", "replicas", "replication", "replicated"]) {
        expect.set("info/replication.role", Node::s("master"));
        expect.set(
            "info/replication.connected_slaves/min",
            Node::s(replicas(f).to_string()),
        );
        d = d.why("INFO replication: a master with its replicas connected");
        session = true;
    }
    if f.has(&["ttl", "ttls", "expire", "expires", "expiry", "expiration"]) {
        let pattern = f
            .code
            .iter()
            .find(|c| c.contains('*') || c.contains(':'))
            .cloned();
        if pattern.is_none() {
            d = d.guessed("the key pattern `*`");
        }
        let pattern = pattern.unwrap_or_else(|| "*".to_owned());
        let ttl = match numbers::any_duration(&f.text) {
            Some(max) => Node::map().with("max", Node::s(max)),
            None => Node::map().with("min", Node::s("1s")),
        };
        d = d.why(format!(
            "SCAN MATCH {pattern}: the sampled keys have a TTL ({})",
            ttl.shown()
        ));
        expect.set(&format!("keys/{pattern}/ttl"), ttl);
        session = true;
    }
    if let Some(version) = min_version(&f.text) {
        expect.set(
            "info/server.redis_version/min",
            Node::s(with_minor(&version)),
        );
        d = d.why(format!("INFO server: redis_version at least {version}"));
        session = true;
    }
    if session {
        // An unset `${secret:…}` fails `vouch check`, and an empty password
        // is an AUTH a server without one refuses: the user adds it.
        d = d.why("add `password: ${secret:REDIS_PASSWORD}` if the server wants one");
    }
    if !expect.is_empty_map() {
        settings.set("expect", expect);
    } else if !bare {
        return None;
    } else {
        d = d.why(format!(
            "Redis answers PING on port {} (a session, no command that writes)",
            service.port
        ));
    }
    d.settings = settings;
    Some(d)
}

/// A `postgres` probe: what the text states, or (with `bare`) a read-only
/// login.
pub(super) fn postgres(f: &Facts, service: &Service, bare: bool) -> Option<Draft> {
    let mut d = Draft::new("postgres", Node::map());
    let var = address(&mut d, service);
    let mut settings = Node::map().with("url", Node::s(var));
    let mut expect = Node::map();
    let lower = f.text.to_lowercase();
    if f.has(&[
        "without a password",
        "password less",
        "passwordless",
        "no password",
        "trust",
    ]) {
        expect.set("login_refused", Node::s("true"));
        d = d
            .why("the URL's user, without a password, is refused")
            .guessed("the user: the one in the URL");
        settings.set("expect", expect);
        d.settings = settings;
        return Some(d);
    }
    let mut extensions: Vec<String> = f
        .code
        .iter()
        .filter(|c| {
            !c.is_empty()
                && c.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
        })
        .cloned()
        .collect();
    for (word, name) in [
        ("pgvector", "vector"),
        ("postgis", "postgis"),
        ("timescaledb", "timescaledb"),
        ("pg_stat_statements", "pg_stat_statements"),
        ("pgcrypto", "pgcrypto"),
        ("pg_trgm", "pg_trgm"),
        ("uuid-ossp", "uuid-ossp"),
    ] {
        if lower.contains(word) && !extensions.iter().any(|e| e == name) {
            extensions.push(name.to_owned());
        }
    }
    if f.has(&["extension", "extensions"])
        || !extensions.is_empty() && f.has(&["installed", "enabled", "loaded", "available"])
    {
        if extensions.is_empty() {
            extensions.push("NAME".to_owned());
            d = d.todo("name the extensions this item means (`WHERE extname IN ('vector')`)");
        }
        let list: Vec<String> = extensions.iter().map(|e| format!("'{e}'")).collect();
        settings.set(
            "query",
            Node::s(format!(
                "SELECT extname FROM pg_extension WHERE extname IN ({})",
                list.join(", ")
            )),
        );
        expect.set("rows/min", Node::s(extensions.len().to_string()));
        d = d.why(format!("pg_extension lists {}", extensions.join(", ")));
    }
    if f.has(&[
        "replication",
        "replicated",
        "replica",
        "replicas",
        "standby",
        "standbys",
    ]) {
        expect.set("replication/role", Node::s("primary"));
        expect.set("replication/replicas/min", Node::s(replicas(f).to_string()));
        d = d.why("the primary streams to its replicas (pg_stat_replication)");
        if f.has(&["lag"])
            && let Some(max) = numbers::any_duration(&f.text)
        {
            expect.set("replication/lag/max", Node::s(max.clone()));
            d = d.why(format!("replication lag at most {max}"));
        }
    }
    if f.has(&["tls", "ssl", "encrypted", "encryption"]) {
        expect.set("tls", Node::s("true"));
        d = d.why("the session is encrypted");
    }
    if let Some(version) = min_version(&f.text) {
        expect.set("version/min", Node::s(version.clone()));
        d = d.why(format!("server_version at least {version}"));
    }
    if f.has(&["max connections"]) {
        let figure = f
            .text
            .split(|c: char| !c.is_ascii_digit())
            .find(|n| !n.is_empty());
        let bound = match figure {
            Some(n) => Node::map().with("min", Node::s(n)),
            None => {
                d = d.guessed("100 connections");
                Node::map().with("min", Node::s("100"))
            }
        };
        d = d.why(format!("pg_settings: max_connections {}", bound.shown()));
        expect.set("settings/max_connections", bound);
    }
    if !expect.is_empty_map() {
        settings.set("expect", expect);
    } else if !bare {
        return None;
    } else {
        d = d.why(format!(
            "PostgreSQL on port {} accepts a read-only login",
            service.port
        ));
    }
    d.settings = settings;
    Some(d)
}

/// How many replicas the text asks for: `2 replicas`, `two standbys`; 1 when it says none.
fn replicas(f: &Facts) -> u64 {
    if let Some(n) = f.q.count_of("replicas") {
        return n;
    }
    let words: Vec<&str> = f.words.split_whitespace().collect();
    words
        .windows(2)
        .chain(words.windows(3))
        .find_map(|w| {
            let last = w[w.len() - 1];
            if !["replicas", "standbys", "slaves"].contains(&last) {
                return None;
            }
            ["one", "two", "three", "four", "five"]
                .iter()
                .position(|n| *n == w[0])
                .map(|i| i as u64 + 1)
        })
        .unwrap_or(1)
}

/// The least version a text asks for: `7.0 or later` → `7.0`, `15+` → `15`.
fn min_version(text: &str) -> Option<String> {
    let c = MIN_VERSION.captures(text)?;
    c.get(1).or_else(|| c.get(2)).map(|m| m.as_str().to_owned())
}

/// `7` → `7.0`: Redis versions are written with their minor.
fn with_minor(version: &str) -> String {
    if version.contains('.') {
        version.to_owned()
    } else {
        format!("{version}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_asked_for() {
        assert_eq!(min_version("Redis on 7.0 or later").as_deref(), Some("7.0"));
        assert_eq!(min_version("PostgreSQL 15+").as_deref(), Some("15"));
        assert_eq!(min_version("running version 16.2").as_deref(), Some("16.2"));
        assert_eq!(min_version("PostgreSQL accepting connections"), None);
        assert_eq!(with_minor("7"), "7.0");
    }
}
