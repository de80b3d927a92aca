//! Builders for reachability: named services on their default ports, ports
//! that must be closed, and dependencies the app's health endpoint reports.

use super::super::claims::Facts;
use super::super::render::Node;
use super::super::rules::Draft;
use super::super::services::{self, Reach};

/// Words that say a service is reachable, up, or guarded.
const REACHABLE: &[&str] = &[
    "running",
    "accessible",
    "reachable",
    "connection",
    "connections",
    "connect",
    "healthy",
    "up",
    "available",
    "listening",
    "responds",
    "ui",
    "login",
    "password",
    "exposed",
    "open",
    "works",
    "working",
    "initialized",
    "green",
    "answering",
    "answers",
    "status",
];

/// A named service: PostgreSQL → `postgres` at `${var:postgres_url}`, Redis →
/// `redis` (what the text states, see `datastore`), MongoDB → `tcp` on 27017,
/// etcd → its `/health`, Grafana → `http` on 3000; one that must not be
/// reachable → `tcp` with `open: false`.
pub fn service(f: &Facts) -> Option<Draft> {
    let named_here = services::named_in(&f.words);
    let service = match (named_here.as_slice(), f.services.as_slice()) {
        ([one], _) => *one,
        ([], [one, ..]) if f.urls.iter().any(|u| services::by_port(u).is_some()) => *one,
        _ => return None,
    };
    // "**Redis** - Cache layer": an item led by the service's name is about it.
    let lead = f.text.split(" - ").next().map(super::super::claims::padded);
    let led_by_name = f.text.contains(" - ")
        && lead.is_some_and(|l| {
            services::named_in(&l).len() == 1 && l.split_whitespace().count() == 1
        });
    if !(f.has(REACHABLE) || led_by_name)
        || f.has(&[
            "pool",
            "pooling",
            "backup",
            "backups",
            "cache hit",
            "eviction",
            "memory",
            "persistence",
            "index",
            "indexes",
            "migration",
            "migrations",
            "credentials",
            "health check",
            "health checks",
            "ci",
            "dashboard",
            "dashboards",
            "metrics",
            "data source",
            "caching",
        ])
    {
        return None;
    }
    let url_in_text = f
        .urls
        .iter()
        .find(|u| services::by_port(u).is_some_and(|s| s.name == service.name));
    let closed = f.negated && f.has(&["exposed", "public", "reachable", "open"]);
    match service.reach {
        Reach::Redis if !closed => return super::datastore::redis(f, service, true),
        Reach::Postgres if !closed => return super::datastore::postgres(f, service, true),
        Reach::Redis | Reach::Postgres => {
            // Must not answer at all: the port closed, whatever speaks on it.
            let mut d = Draft::new("tcp", Node::map());
            let name = format!("{}_address", service.name);
            let var = d.var(&name, &name.to_uppercase(), &format!(":{}", service.port));
            d.settings.set("address", Node::s(var));
            d.settings.set("expect/open", Node::s("false"));
            return Some(d.why(format!(
                "{} (port {}) must not be reachable: open false",
                service.name, service.port
            )));
        }
        _ => {}
    }
    let mut d = Draft::new("tcp", Node::map());
    let var = d.var(
        &service.var(),
        &service.env(),
        &service.default_address(url_in_text.map(String::as_str)),
    );
    match service.reach {
        Reach::Redis | Reach::Postgres => None,
        Reach::Tcp(hello) => {
            d.settings.set("address", Node::s(var));
            if closed {
                d.settings.set("expect/open", Node::s("false"));
                return Some(d.why(format!(
                    "{} (port {}) must not be reachable: open false",
                    service.name, service.port
                )));
            }
            if let Some(hello) = hello {
                d.settings.set("hello", Node::s(hello));
            }
            d.settings.set("expect/open", Node::s("true"));
            Some(d.why(format!(
                "{} on its port {}{}",
                service.name,
                service.port,
                hello.map_or(String::new(), |h| format!(", greeted with `hello: {h}`"))
            )))
        }
        Reach::Health(path) => {
            d.kind = "health";
            d.settings.set("url", Node::s(format!("{var}{path}")));
            d.settings.set("expect/status", Node::s("healthy"));
            Some(d.why(format!(
                "{}'s own health endpoint `{path}` on port {}",
                service.name, service.port
            )))
        }
        Reach::Http(path) => {
            d.kind = "http";
            let path = match url_in_text.map(|u| &u[services::base_of(u).len()..]) {
                Some(p) if p.len() > 1 => p.to_owned(),
                _ if f.has(&["login"]) => "/login".to_owned(),
                _ => path.to_owned(),
            };
            d.settings.set("get", Node::s(format!("{var}{path}")));
            d.settings.set("expect/status", Node::s("200"));
            Some(d.why(format!(
                "{} answers `GET {path}` on port {}",
                service.name, service.port
            )))
        }
    }
}

/// Ports that must be closed ("no exposed ports"), or one that must be open.
pub fn ports(f: &Facts) -> Option<Draft> {
    // "port 8081", "pprof `:6060`": the ports the text names.
    let named: Vec<u16> = f
        .text
        .split(|c: char| c.is_whitespace() || "`(),".contains(c))
        .collect::<Vec<_>>()
        .windows(2)
        .filter_map(
            |w| match (w[0].to_ascii_lowercase().as_str(), w[1].strip_prefix(':')) {
                (_, Some(n)) => n.parse().ok(),
                ("port", None) => w[1].parse().ok(),
                _ => None,
            },
        )
        .chain(
            f.text
                .split(|c: char| c.is_whitespace() || "`(),".contains(c))
                .take(1)
                .filter_map(|w| w.strip_prefix(':')?.parse().ok()),
        )
        .collect();
    let port = named.first().copied();
    if f.negated || f.has(&["firewall"]) {
        let mut d = Draft::new("tcp", Node::map());
        let list: Vec<String> = match port {
            Some(_) => named.iter().map(u16::to_string).collect(),
            None => [
                "22", "2375", "2379", "3306", "5432", "6379", "9200", "27017",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        };
        d.settings = Node::map()
            .with("ports", Node::list(list))
            .with("expect/open", Node::s("false"));
        d = d.why("these ports of the target's host must be closed: open false");
        if port.is_none() {
            d = d.guessed("the usual admin and database ports");
        }
        return Some(d);
    }
    let port = port?;
    Some(
        Draft::new(
            "tcp",
            Node::map()
                .with("address", Node::s(format!(":{port}")))
                .with("expect/open", Node::s("true")),
        )
        .why(format!("port {port} of the target's host is open")),
    )
}

/// "Database connectivity verified": the app's health endpoint lists its dependencies healthy.
pub fn dependency(f: &Facts) -> Option<Draft> {
    if !f.has_around(&[
        "database",
        "db",
        "cache",
        "redis",
        "mongodb",
        "postgres",
        "qdrant",
        "connection",
        "connectivity",
        "dependency",
        "dependencies",
    ]) {
        return None;
    }
    let names: Vec<&str> = f.services.iter().map(|s| s.name).collect();
    let mut settings = Node::map().with("url", Node::s("/health"));
    let d = if names.is_empty() {
        settings.set("expect/dependencies", Node::s("all_healthy"));
        Draft::new("health", settings)
            .why("the app's health endpoint reports every dependency healthy")
    } else {
        settings.set("expect/dependencies", Node::list(names.iter().copied()));
        Draft::new("health", settings).why(format!(
            "the app's health endpoint reports {} healthy",
            names.join(", ")
        ))
    };
    Some(d.guessed("the health endpoint /health"))
}
