//! The rule table: which words propose which kind, which words veto it
//! (false keyword hits), which context it needs, and the function that turns
//! a claim's facts into the probe's settings. First rule that builds wins,
//! so specific rules come before general ones. Teaching `init` a kind is one
//! entry here and one function in `build/`.

use super::build;
use super::claims::Facts;
use super::render::Node;

/// One rule of the table.
pub struct Rule {
    /// The kind proposed.
    pub kind: &'static str,
    /// Words (normalised, whole) that make a claim this rule's; empty: the
    /// builder decides alone, from the claim's own text only.
    pub words: &'static [&'static str],
    /// Words that veto it: the keyword is there, but the claim is about
    /// something else (`alert` in "alert channels", `latency` in "latency
    /// metrics collected").
    pub unless: &'static [&'static str],
    /// Parent items or headings that hand this kind down to every child,
    /// even one whose own words name another kind (children of "Critical
    /// alerts configured"). `=text` must be the whole heading.
    pub inherit: &'static [&'static str],
    /// Turns the claim's facts into a draft, or `None` when the rule does not
    /// fit after all (a service named without a word that says "reachable").
    pub build: fn(&Facts) -> Option<Draft>,
}

/// A variable a proposal declares at the top (`vars:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// Name, used as `${var:NAME}`.
    pub name: String,
    /// Value: `${env:NAME:-default}`.
    pub value: String,
}

/// What a builder proposes for one claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The kind (the rule's, unless the builder chose a sibling one).
    pub kind: &'static str,
    /// The settings under the kind key.
    pub settings: Node,
    /// Why each value: `p95 max 2ms, from "p95 <2ms"`.
    pub why: Vec<String>,
    /// What was guessed rather than read (`the rule name`), shown as
    /// `# guessed from "…"`.
    pub guessed: Option<String>,
    /// When set, the probe is written commented out with this TODO: it would
    /// check nothing, or plan traffic the text gives no numbers for.
    pub todo: Option<String>,
    /// Variables the settings use.
    pub vars: Vec<Var>,
}

impl Draft {
    /// A draft of `kind` with these settings.
    pub fn new(kind: &'static str, settings: Node) -> Draft {
        Draft {
            kind,
            settings,
            why: Vec::new(),
            guessed: None,
            todo: None,
            vars: Vec::new(),
        }
    }

    /// Notes why a value was chosen.
    #[must_use]
    pub fn why(mut self, reason: impl Into<String>) -> Draft {
        self.why.push(reason.into());
        self
    }

    /// Marks what was guessed.
    #[must_use]
    pub fn guessed(mut self, what: impl Into<String>) -> Draft {
        self.guessed = Some(what.into());
        self
    }

    /// Comments the probe out with a TODO.
    #[must_use]
    pub fn todo(mut self, what: impl Into<String>) -> Draft {
        self.todo = Some(what.into());
        self
    }

    /// Declares a variable; returns `${var:NAME}`.
    pub fn var(&mut self, name: &str, env: &str, default: &str) -> String {
        let var = Var {
            name: name.to_owned(),
            value: format!("${{env:{env}:-{default}}}"),
        };
        if !self.vars.contains(&var) {
            self.vars.push(var);
        }
        format!("${{var:{name}}}")
    }
}

/// Whether `rule` is vetoed for padded `words`.
pub fn vetoed(rule: &Rule, words: &str) -> bool {
    super::claims::has_any(words, rule.unless)
}

/// Whether a parent or heading (padded, normalised) hands `rule` down.
pub fn inherits(rule: &Rule, context: &str) -> bool {
    rule.inherit.iter().any(|w| match w.strip_prefix('=') {
        Some(whole) => context.trim() == crate::checklist::normalize(whole),
        None => super::claims::has_any(context, &[w]),
    }) && !vetoed(rule, context)
}

/// The table, in the order rules are tried.
pub const RULES: &[Rule] = &[
    Rule {
        kind: "exec",
        words: &[],
        unless: &[],
        inherit: &[],
        build: build::exec_command,
    },
    Rule {
        kind: "file",
        words: &[],
        unless: &[],
        inherit: &[],
        build: build::file_named,
    },
    Rule {
        kind: "metrics",
        words: &[],
        unless: &[],
        inherit: &[],
        build: build::metric_named,
    },
    Rule {
        kind: "redis",
        words: &[],
        unless: &[],
        inherit: &[],
        build: build::datastore,
    },
    Rule {
        kind: "file",
        words: &[
            "dockerfile",
            "multi stage",
            "non root",
            "not root",
            "as root",
            "root user",
            "docker image",
            "container image",
            "base image",
            "distroless",
            "health check",
            "health checks",
            "healthcheck",
        ],
        unless: &[
            "compose",
            "deployment guide",
            "size",
            "tagged",
            "scanning",
            "trivy",
            "published",
            "registry",
            "pushed",
        ],
        inherit: &[],
        build: build::dockerfile,
    },
    Rule {
        kind: "image",
        words: &[
            "image size",
            "image",
            "images",
            "built and tagged",
            "tagged",
            "image tag",
            "image tags",
            "non root image",
            "previous version kept for rollback",
            "registry",
        ],
        unless: &[
            "scan",
            "scanned",
            "scanning",
            "trivy",
            "vulnerabilities",
            "vulnerability",
            "documented",
            "compose",
        ],
        inherit: &[],
        build: build::image,
    },
    Rule {
        kind: "alertmanager",
        words: &[
            "routed",
            "routing",
            "receiver",
            "receivers",
            "pagerduty",
            "opsgenie",
            "on call",
            "oncall",
            "silence",
            "silences",
            "alertmanager",
            "channel",
            "go to",
            "goes to",
            "sent to",
            "delivered to",
        ],
        unless: &[
            "reviewed",
            "documented",
            "tested",
            "runbook",
            "runbooks",
            "rotation",
        ],
        inherit: &[],
        build: build::alert_routing,
    },
    Rule {
        kind: "prometheus",
        words: &["alert", "alerts", "alerting"],
        unless: &[
            "channel",
            "channels",
            "slack",
            "discord",
            "email",
            "pagerduty",
            "notified",
            "vulnerabilities",
            "vulnerability",
            "configure alerts",
            "reviewed",
            "routing",
            "routed",
            "runbook",
            "runbooks",
            "silence",
            "silences",
            "receiver",
            "receivers",
            "alertmanager",
        ],
        inherit: &[
            "=alerts",
            "=alerting",
            "=alerting rules",
            "alerts configured",
            "alerting rules",
            "alert rules",
        ],
        build: build::alert_rule,
    },
    Rule {
        kind: "prometheus",
        words: &[
            "targets up",
            "targets are up",
            "target up",
            "scrape target",
            "scrape targets",
            "all targets",
            "targets healthy",
        ],
        unless: &[],
        inherit: &[],
        build: build::prometheus_targets,
    },
    Rule {
        kind: "exec",
        words: &[
            "cargo audit",
            "npm audit",
            "pnpm audit",
            "yarn audit",
            "govulncheck",
            "gosec",
            "golangci lint",
            "gofmt",
            "go vet",
            "cargo test",
            "go test",
            "npm test",
            "pytest",
            "helm lint",
            "helm charts",
            "trivy",
            "dependency audit",
            "dependency scanning",
            "vulnerability scan",
            "vulnerability scanning",
            "security audit",
            "security scan",
            "security scanning",
            "known vulnerabilities",
            "unit tests",
            "integration tests",
            "tests passing",
            "tests pass",
            "test suite",
            "integration suite",
            "e2e tests",
            "end to end tests",
            "all tests",
            "test coverage",
            "code coverage",
            "coverage",
            "linting",
            "lint",
            "static analysis",
            "type checking",
            "build verification",
        ],
        unless: &["documented", "plan", "reviewed", "process"],
        inherit: &[],
        build: build::exec_named,
    },
    Rule {
        kind: "file",
        words: &[
            "backup",
            "backups",
            "logrotate",
            "log rotation",
            "logs rotated",
            "runbook",
            "runbooks",
            "playbook",
            "playbooks",
            "readme",
            "license",
            "licence",
            "lock file",
            "lockfile",
            "docker compose",
            "github actions",
            "versions locked",
            "environment variables documented",
            "environment variables properly documented",
            "env vars documented",
            "migration scripts",
        ],
        unless: &[
            "tested",
            "test",
            "procedures",
            "strategy",
            "plan",
            "restoration",
            "restore",
            "integrity",
            "encrypted",
            "separate location",
            "restricted",
            "dependencies",
            "compliance",
            "acceptable",
            "attribution",
            "configuration",
        ],
        inherit: &[],
        build: build::file_fact,
    },
    Rule {
        kind: "mcp",
        words: &[
            "mcp",
            "tools list",
            "tools call",
            "model context protocol",
            "tool discovery",
            "tool execution",
            "mcp tools",
            "resources api",
            "resources list",
            "prompts list",
        ],
        unless: &["api keys", "keys", "rotated", "stored", "documented"],
        inherit: &[],
        build: build::mcp,
    },
    Rule {
        kind: "jsonrpc",
        words: &["json rpc", "jsonrpc", "rpc", "protocol error codes"],
        unless: &["grpc"],
        inherit: &[],
        build: build::jsonrpc,
    },
    Rule {
        kind: "websocket",
        words: &[
            "websocket",
            "websockets",
            "web socket",
            "ws",
            "wss",
            "socket io",
        ],
        unless: &[],
        inherit: &[],
        build: build::websocket,
    },
    Rule {
        kind: "rate_limit",
        words: &[
            "rate limit",
            "rate limits",
            "rate limiting",
            "rate limited",
            "rate limiter",
            "429",
            "too many requests",
            "throttling",
            "throttled",
            "limited to",
            "quota",
            "limit",
        ],
        unless: &[
            "documented",
            "alert",
            "memory",
            "cpu",
            "resource",
            "resources",
            "size",
        ],
        inherit: &[],
        build: build::rate_limit,
    },
    Rule {
        kind: "prometheus",
        words: &[
            "monitor",
            "monitored",
            "normal",
            "acceptable",
            "low",
            "error rate",
            "latency",
            "stays",
        ],
        unless: &[
            "alert",
            "alerts",
            "test",
            "tests",
            "load",
            "benchmark",
            "benchmarks",
            "targets",
        ],
        inherit: &["monitor key metrics"],
        build: build::prometheus_query,
    },
    Rule {
        kind: "load",
        words: &[
            "p50",
            "p90",
            "p95",
            "p99",
            "latency",
            "throughput",
            "concurrent",
            "concurrency",
            "req s",
            "rps",
            "load test",
            "load tests",
            "load testing",
            "under load",
            "stress test",
            "stress tests",
            "stress testing",
            "response time",
            "vus",
            "sustained",
            "sustains",
            "handles",
            "handle",
            "requests minute",
            "requests per minute",
            "requests second",
            "requests per second",
        ],
        unless: &[
            "memory",
            "cpu",
            "metrics",
            "metric",
            "logging",
            "logged",
            "dashboard",
            "trends",
            "leak",
            "leaks",
            "capacity planning",
            "plan",
            "budget",
            "agreed",
            "dashboards",
            "alert",
            "documented",
            "recovery",
            "degradation",
            "degrades",
            "requirements",
            "hit rate",
            "monitor",
            "continuously",
            "gracefully",
        ],
        inherit: &[
            "stress tests performed",
            "load tests performed",
            "performance validation",
            "=load testing",
            "=load testing results",
        ],
        build: build::load,
    },
    Rule {
        kind: "http",
        words: &[
            "redirects to https",
            "redirect to https",
            "http to https",
            "https redirect",
            "forces https",
            "https only",
        ],
        unless: &[],
        inherit: &[],
        build: build::https_redirect,
    },
    Rule {
        kind: "headers",
        words: &[
            "security headers",
            "security header",
            "hsts",
            "strict transport security",
            "content security policy",
            "csp",
            "x frame options",
            "frame options",
            "clickjacking",
            "nosniff",
            "x content type options",
            "helmet",
            "referrer policy",
            "x powered by",
            "server header",
            "xss",
        ],
        unless: &[],
        inherit: &[],
        build: build::headers,
    },
    Rule {
        kind: "tls",
        words: &[
            "ssl",
            "tls",
            "certificate",
            "certificates",
            "cert",
            "certs",
            "https",
            "lets encrypt",
        ],
        unless: &["mtls", "client certificate", "data at rest"],
        inherit: &[],
        build: build::tls,
    },
    Rule {
        kind: "cors",
        words: &[
            "cors",
            "cross origin",
            "allowed origins",
            "preflight",
            "preflights",
        ],
        unless: &[],
        inherit: &[],
        build: build::cors,
    },
    Rule {
        kind: "tcp",
        words: &[],
        unless: &[],
        inherit: &[],
        build: build::service,
    },
    Rule {
        kind: "tcp",
        words: &["exposed ports", "open ports", "ports", "port", "firewall"],
        unless: &["documented", "support"],
        inherit: &[],
        build: build::ports,
    },
    Rule {
        kind: "http",
        words: &[],
        unless: &[],
        inherit: &[],
        build: build::http_explicit,
    },
    Rule {
        kind: "auth",
        words: &[
            "api key",
            "api keys",
            "authentication",
            "unauthenticated",
            "unauthorized",
            "401",
            "jwt",
            "bearer",
            "auth",
            "endpoints protected",
            "endpoint protected",
            "require a token",
            "requires a token",
            "requires authentication",
            "login required",
            "access control",
        ],
        unless: &[
            "logged",
            "logging",
            "hashed",
            "stored",
            "rotated",
            "rotation",
            "constant time",
            "timing",
            "expiration",
            "refresh",
            "signing",
            "hmac",
            "attempts",
            "configured with",
            "workspace",
            "workspaces",
            "context",
            "sensitive data",
        ],
        inherit: &[],
        build: build::auth,
    },
    Rule {
        kind: "health",
        words: &[
            "connectivity",
            "connection check",
            "connections verified",
            "database connections",
            "database connection",
            "database accessible",
            "accessible",
            "reachable",
        ],
        unless: &["pool", "pooling", "alert"],
        inherit: &["dependency health checks"],
        build: build::dependency,
    },
    Rule {
        kind: "metrics",
        words: &[
            "metrics endpoint",
            "metrics",
            "metric",
            "exposition",
            "instrumentation",
            "prometheus metrics",
            "http requests total",
        ],
        unless: &[
            "dashboard",
            "dashboards",
            "identified",
            "key metrics",
            "check metrics",
            "analysis",
            "review",
            "grafana",
            "thresholds",
        ],
        inherit: &[
            "application metrics collected",
            "infrastructure metrics monitored",
            "=metrics",
        ],
        build: build::metrics,
    },
    Rule {
        kind: "health",
        words: &[
            "health",
            "healthy",
            "health check",
            "health checks",
            "healthcheck",
            "health endpoint",
            "health endpoints",
            "readiness probe",
            "readiness check",
            "readiness endpoint",
            "liveness probe",
            "liveness check",
            "liveness endpoint",
            "healthz",
            "readyz",
            "livez",
        ],
        unless: &[
            "overview",
            "dashboard",
            "alert",
            "team",
            "system health",
            "interval",
            "tuned",
            "load balancer",
        ],
        inherit: &["health endpoints implemented", "=health checks"],
        build: build::health,
    },
    Rule {
        kind: "http",
        words: &[
            "endpoint",
            "endpoints",
            "api responds",
            "responds",
            "debug",
            "pprof",
            "actuator",
            "swagger",
            "openapi",
            "stack traces",
            "stack trace",
        ],
        unless: &[
            "documented",
            "documentation",
            "optimized",
            "slow",
            "log",
            "logs",
            "logging",
            "levels",
        ],
        inherit: &[],
        build: build::http,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_already_normalised() {
        for rule in RULES {
            for w in rule.words.iter().chain(rule.unless).chain(rule.inherit) {
                let w = w.trim_start_matches('=');
                assert_eq!(crate::checklist::normalize(w), *w, "{}: {w}", rule.kind);
            }
        }
    }

    #[test]
    fn every_kind_is_in_this_build() {
        for rule in RULES {
            assert!(crate::probe::KINDS.contains(&rule.kind), "{}", rule.kind);
        }
    }
}
