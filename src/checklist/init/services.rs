//! Services a checklist names (PostgreSQL, Redis, Grafana…): their default
//! port, how vouch greets them, and the variable a proposal declares for
//! their address. One row per service; add a row to teach `init` another.

/// How a service is reached by the probe `init` proposes for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A TCP connection, with vouch's greeting when it has one.
    Tcp(Option<&'static str>),
    /// The `redis` kind: a session that reads INFO, CONFIG and keys.
    Redis,
    /// The `postgres` kind: a read-only login, by a libpq URL.
    Postgres,
    /// Its health endpoint (understood by `health`), at this path.
    Health(&'static str),
    /// Its web UI or API, with `http` at this path.
    Http(&'static str),
}

/// A named service.
#[derive(Debug)]
pub struct Service {
    /// Name used in variables and dependency lists (`postgres`).
    pub name: &'static str,
    /// Words that name it (normalised, whole words).
    pub words: &'static [&'static str],
    /// Its default port.
    pub port: u16,
    /// How a proposal reaches it.
    pub reach: Reach,
}

impl Service {
    /// The variable a proposal declares for its address: `redis_address`
    /// for TCP services, `postgres_url` and `grafana_url` for URLs.
    pub fn var(&self) -> String {
        match self.reach {
            Reach::Tcp(_) | Reach::Redis => format!("{}_address", self.name),
            Reach::Postgres | Reach::Health(_) | Reach::Http(_) => format!("{}_url", self.name),
        }
    }

    /// The variable's environment name: the one its clients read
    /// (`REDIS_ADDR`, `DATABASE_URL`), else the variable's in capitals.
    pub fn env(&self) -> String {
        match self.reach {
            Reach::Redis => "REDIS_ADDR".to_owned(),
            Reach::Postgres => "DATABASE_URL".to_owned(),
            _ => self.var().to_uppercase(),
        }
    }

    /// The variable's default: the target's host on the default port for
    /// TCP (`:6379`), a libpq URL on the loopback host for PostgreSQL, else
    /// `port` on the loopback host as a URL, or the URL the text gave.
    pub fn default_address(&self, url_in_text: Option<&str>) -> String {
        match (self.reach, url_in_text) {
            (Reach::Tcp(_) | Reach::Redis, _) => format!(":{}", self.port),
            (Reach::Postgres, _) => format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
            (_, Some(url)) => base_of(url),
            _ => format!("http://127.0.0.1:{}", self.port),
        }
    }
}

/// `http://localhost:9090/targets` → `http://localhost:9090`.
pub fn base_of(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    match url[scheme_end..].find('/') {
        Some(i) => url[..scheme_end + i].to_owned(),
        None => url.trim_end_matches('/').to_owned(),
    }
}

/// The services `init` knows.
pub const SERVICES: &[Service] = &[
    Service {
        name: "postgres",
        words: &[
            "postgres",
            "postgresql",
            "timescaledb",
            "pgbouncer",
            "pgvector",
            "postgis",
        ],
        port: 5432,
        reach: Reach::Postgres,
    },
    Service {
        name: "redis",
        words: &["redis", "valkey"],
        port: 6379,
        reach: Reach::Redis,
    },
    Service {
        name: "mongodb",
        words: &["mongodb", "mongo"],
        port: 27017,
        reach: Reach::Tcp(None),
    },
    Service {
        name: "mysql",
        words: &["mysql", "mariadb"],
        port: 3306,
        reach: Reach::Tcp(None),
    },
    Service {
        name: "memcached",
        words: &["memcached"],
        port: 11211,
        reach: Reach::Tcp(None),
    },
    Service {
        name: "rabbitmq",
        words: &["rabbitmq", "amqp"],
        port: 5672,
        reach: Reach::Tcp(None),
    },
    Service {
        name: "kafka",
        words: &["kafka"],
        port: 9092,
        reach: Reach::Tcp(None),
    },
    Service {
        name: "nats",
        words: &["nats"],
        port: 4222,
        reach: Reach::Tcp(None),
    },
    Service {
        name: "etcd",
        words: &["etcd"],
        port: 2379,
        reach: Reach::Health("/health"),
    },
    Service {
        name: "consul",
        words: &["consul"],
        port: 8500,
        reach: Reach::Http("/v1/status/leader"),
    },
    Service {
        name: "elasticsearch",
        words: &["elasticsearch", "opensearch"],
        port: 9200,
        reach: Reach::Http("/_cluster/health"),
    },
    Service {
        name: "qdrant",
        words: &["qdrant"],
        port: 6333,
        reach: Reach::Http("/healthz"),
    },
    Service {
        name: "prometheus",
        words: &["prometheus"],
        port: 9090,
        reach: Reach::Http("/-/healthy"),
    },
    Service {
        name: "grafana",
        words: &["grafana"],
        port: 3000,
        reach: Reach::Http("/api/health"),
    },
    Service {
        name: "jaeger",
        words: &["jaeger"],
        port: 16686,
        reach: Reach::Http("/"),
    },
    Service {
        name: "alertmanager",
        words: &["alertmanager"],
        port: 9093,
        reach: Reach::Http("/-/healthy"),
    },
    Service {
        name: "loki",
        words: &["loki"],
        port: 3100,
        reach: Reach::Http("/ready"),
    },
];

/// The services named in normalised `text` (` words `, padded), in table order.
pub fn named_in(padded: &str) -> Vec<&'static Service> {
    SERVICES
        .iter()
        .filter(|s| s.words.iter().any(|w| padded.contains(&format!(" {w} "))))
        .collect()
}

/// The service whose default port a URL names (`http://localhost:16686` → Jaeger).
pub fn by_port(url: &str) -> Option<&'static Service> {
    let base = base_of(url);
    let port: u16 = base.rsplit_once(':')?.1.parse().ok()?;
    SERVICES.iter().find(|s| s.port == port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ports_and_variables() {
        let named = named_in(" postgresql running and accessible ");
        assert_eq!(named.len(), 1);
        assert_eq!(
            (named[0].port, named[0].var(), named[0].env()),
            (5432, "postgres_url".into(), "DATABASE_URL".into())
        );
        assert_eq!(
            named[0].default_address(None),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        let redis = named_in(" redis up ");
        assert_eq!(
            (
                redis[0].var(),
                redis[0].env(),
                redis[0].default_address(None)
            ),
            ("redis_address".into(), "REDIS_ADDR".into(), ":6379".into())
        );
        assert_eq!(
            by_port("http://localhost:16686").map(|s| s.name),
            Some("jaeger")
        );
        assert_eq!(
            by_port("http://localhost:3000/login").map(|s| s.name),
            Some("grafana")
        );
        let grafana = by_port("http://localhost:3000").expect("grafana");
        assert_eq!(
            grafana.default_address(Some("http://localhost:3000/login")),
            "http://localhost:3000"
        );
        assert!(named_in(" support rota ").is_empty());
    }
}
