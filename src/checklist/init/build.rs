//! The builders of the rule table: one function per rule, from a claim's
//! facts to the settings of its probe, with why each value and what was
//! guessed. A builder returns `None` when its rule does not fit the claim.

use super::claims::{Facts, has_any};
use super::render::Node;
use super::rules::Draft;
use super::services::{self, Reach};

/// `${var:prometheus_url}`, declared with the URL the text gives or the default port.
fn prometheus_url(d: &mut Draft, f: &Facts) -> String {
    let default = f
        .urls
        .iter()
        .find(|u| services::by_port(u).is_some_and(|s| s.name == "prometheus"))
        .map_or_else(
            || "http://127.0.0.1:9090".to_owned(),
            |u| services::base_of(u),
        );
    d.var("prometheus_url", "PROMETHEUS_URL", &default)
}

/// Tools whose command line, in backticks, `init` runs as given.
const TOOLS: &[&str] = &[
    "pnpm",
    "npm",
    "npx",
    "yarn",
    "make",
    "go",
    "cargo",
    "pytest",
    "python",
    "python3",
    "gofmt",
    "golangci-lint",
    "helm",
    "trivy",
    "gosec",
    "govulncheck",
    "mvn",
    "gradle",
    "bundle",
    "tox",
    "just",
    "terraform",
];

/// A command in backticks: `` `pnpm test` `` → `exec: { run: [pnpm, test] }`.
pub fn exec_command(f: &Facts) -> Option<Draft> {
    let command = f.code.iter().find(|c| {
        c.split_whitespace()
            .next()
            .is_some_and(|first| TOOLS.contains(&first))
    })?;
    let argv: Vec<&str> = command.split_whitespace().collect();
    let mut settings = Node::map().with("run", Node::list(argv.iter().copied()));
    if argv.iter().any(|a| a.contains("test")) {
        settings.set("exclusive", Node::s("true"));
    }
    settings.set("expect/exit", Node::s("0"));
    Some(Draft::new("exec", settings).why(format!("runs `{command}`, named in the item")))
}

/// Commands named without backticks, and generic test/audit claims.
const NAMED: &[(&[&str], &str)] = &[
    (&["cargo audit"], "cargo audit"),
    (&["npm audit"], "npm audit --audit-level=high"),
    (&["pnpm audit"], "pnpm audit --audit-level=high"),
    (&["yarn audit"], "yarn audit"),
    (&["govulncheck"], "govulncheck ./..."),
    (&["gosec"], "gosec ./..."),
    (&["golangci lint"], "golangci-lint run ./..."),
    (&["go vet"], "go vet ./..."),
    (&["cargo test"], "cargo test --locked"),
    (&["go test"], "go test ./..."),
    (&["npm test"], "npm test"),
    (&["pytest"], "python3 -m pytest"),
    (&["helm lint", "helm charts"], "helm lint ."),
    (
        &["trivy"],
        "trivy image --exit-code 1 --severity HIGH,CRITICAL app:latest",
    ),
];

/// `gosec`, `golangci-lint`, "unit tests", "dependency audit" → `exec`.
pub fn exec_named(f: &Facts) -> Option<Draft> {
    if let Some((_, command)) = NAMED.iter().find(|(words, _)| f.has(words)) {
        let argv: Vec<&str> = command.split_whitespace().collect();
        let mut settings = Node::map().with("run", Node::list(argv.iter().copied()));
        if command.contains("test") {
            settings.set("exclusive", Node::s("true"));
        }
        settings.set("expect/exit", Node::s("0"));
        return Some(
            Draft::new("exec", settings).why(format!("runs `{command}`, the tool the item names")),
        );
    }
    if f.has(&["gofmt"]) {
        let settings = Node::map()
            .with("run", Node::list(["gofmt", "-l", "."]))
            .with("expect/exit", Node::s("0"))
            .with("expect/stdout/empty", Node::s("true"));
        return Some(
            Draft::new("exec", settings).why("`gofmt -l .` lists unformatted files: none expected"),
        );
    }
    let (command, what) = if f.has(&[
        "audit",
        "vulnerability",
        "vulnerabilities",
        "scan",
        "scanning",
    ]) {
        ("make audit", "the project's audit command")
    } else if f.has(&["coverage"]) {
        ("make coverage", "the project's coverage command")
    } else if f.has(&["lint", "linting", "static analysis"]) {
        ("make lint", "the project's lint command")
    } else if f.has(&["type checking"]) {
        ("make typecheck", "the project's type check")
    } else if f.has(&["build verification"]) {
        ("make build", "the project's build")
    } else {
        ("make test", "the project's test command")
    };
    let argv: Vec<&str> = command.split_whitespace().collect();
    let mut settings = Node::map().with("run", Node::list(argv.iter().copied()));
    if command.contains("test") || command.contains("coverage") {
        settings.set("exclusive", Node::s("true"));
    }
    settings.set("expect/exit", Node::s("0"));
    Some(
        Draft::new("exec", settings)
            .why(format!(
                "runs `{command}`: {what}; the item names no command"
            ))
            .guessed("the command"),
    )
}

/// A series named in backticks (`` `http_requests_total` ``): a metrics exposition with it.
pub fn metric_named(f: &Facts) -> Option<Draft> {
    const SUFFIXES: &[&str] = &[
        "_total", "_bytes", "_seconds", "_count", "_sum", "_bucket", "_info", "_ratio",
    ];
    let name = f.code.iter().find(|c| {
        c.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':')
            && SUFFIXES.iter().any(|s| c.ends_with(s))
    })?;
    let settings = Node::map()
        .with(
            "url",
            Node::s(
                f.paths
                    .iter()
                    .find(|p| p.contains("metrics"))
                    .map_or("/metrics", String::as_str),
            ),
        )
        .with(
            "expect/series",
            Node::List(vec![Node::map().with("name", Node::s(name.clone()))]),
        );
    Some(Draft::new("metrics", settings).why(format!("the exposition has the series `{name}`")))
}

/// A file named in backticks (`` `.env.example` ``, `` `pnpm-lock.yaml` ``).
pub fn file_named(f: &Facts) -> Option<Draft> {
    let file = f.code.iter().find(|w| {
        !w.contains(char::is_whitespace)
            && !w.contains("://")
            && !w.starts_with('/')
            && (w.contains('.') || w.contains('/'))
            && !w.starts_with("./")
            && w.rsplit('.')
                .next()
                .is_some_and(|ext| ext.len() <= 8 && ext.chars().all(char::is_alphanumeric))
    })?;
    if f.negated {
        // "`.env` not committed": the file must not be there. "No wildcard
        // versions in `package.json`" is about the file's content: not this rule.
        if !f.has(&[
            "committed",
            "checked in",
            "in the repo",
            "in the repository",
            "present",
            "exist",
            "exists",
        ]) {
            return None;
        }
        let settings = Node::map()
            .with("path", Node::s(file.clone()))
            .with("expect/exists", Node::s("false"));
        return Some(Draft::new("file", settings).why(format!("the file `{file}` must not exist")));
    }
    let settings = Node::map()
        .with("path", Node::s(file.clone()))
        .with("expect/exists", Node::s("true"));
    Some(Draft::new("file", settings).why(format!("the file `{file}` the item names must exist")))
}

/// Dockerfile facts, each from the words that claim it.
pub fn dockerfile(f: &Facts) -> Option<Draft> {
    let about_health = f.has(&["health check", "health checks", "healthcheck"]);
    if about_health && !f.has_around(&["docker", "dockerfile", "container", "containerization"]) {
        return None;
    }
    let mut settings = Node::map().with("path", Node::s("Dockerfile"));
    let mut d = Draft::new("file", Node::map());
    if f.has(&["multi stage", "optimized", "optimised"]) {
        settings.set("expect/dockerfile/stages/min", Node::s("2"));
        d = d.why("multi-stage: at least 2 stages");
    }
    if f.has(&[
        "non root",
        "not root",
        "as root",
        "root user",
        "security",
        "rootless",
    ]) {
        settings.set("expect/dockerfile/user/ne", Node::s("root"));
        d = d.why("non-root: the final USER is not root");
    }
    if about_health {
        settings.set("expect/dockerfile/healthcheck", Node::s("true"));
        d = d.why("a HEALTHCHECK instruction");
    }
    if f.has(&["base image", "alpine", "distroless", "slim", "minimal"]) {
        let base = if f.has(&["alpine"]) {
            "alpine"
        } else if f.has(&["distroless"]) {
            "distroless"
        } else {
            "alpine|distroless|scratch|slim"
        };
        settings.set("expect/dockerfile/base/matches", Node::s(base));
        d = d.why(format!("a minimal base image: FROM matches `{base}`"));
    }
    if settings.get("expect").is_none() {
        settings.set("expect/dockerfile/stages/min", Node::s("2"));
        settings.set("expect/dockerfile/user/ne", Node::s("root"));
        d = d.why("a production Dockerfile: multi-stage, non-root");
    }
    d.settings = settings;
    Some(d)
}

/// Backups, log rotation, runbooks, README, license: facts of files.
pub fn file_fact(f: &Facts) -> Option<Draft> {
    let (settings, why, guess) = if f.has(&["backup", "backups"]) {
        let age = if f.has(&["weekly"]) { "8d" } else { "25h" };
        (
            Node::map()
                .with("path", Node::s("/var/backups/*"))
                .with("allow_outside_root", Node::s("true"))
                .with("expect/count/min", Node::s("1"))
                .with("expect/age/max", Node::s(age)),
            format!("a backup exists and the newest is younger than {age}"),
            true,
        )
    } else if f.has(&["logrotate", "log rotation", "logs rotated"]) {
        (
            Node::map()
                .with("path", Node::s("/etc/logrotate.d/*"))
                .with("allow_outside_root", Node::s("true"))
                .with("expect/contains", Node::s("rotate")),
            "a logrotate rule".to_owned(),
            true,
        )
    } else if f.has(&["runbook", "runbooks", "playbook", "playbooks"]) {
        (
            Node::map()
                .with("path", Node::s("docs/**/*{runbook,playbook}*"))
                .with("expect/count/min", Node::s("1")),
            "a runbook in the repository".to_owned(),
            true,
        )
    } else if f.has(&["github actions"]) {
        (
            Node::map()
                .with("path", Node::s(".github/workflows/*.{yml,yaml}"))
                .with("expect/count/min", Node::s("1")),
            "a GitHub Actions workflow".to_owned(),
            false,
        )
    } else if f.has(&["versions locked", "lock file", "lockfile"]) {
        (
            Node::map()
                .with(
                    "path",
                    Node::s("{Cargo.lock,package-lock.json,pnpm-lock.yaml,yarn.lock,go.sum,poetry.lock}"),
                )
                .with("expect/count/min", Node::s("1")),
            "a lock file committed".to_owned(),
            true,
        )
    } else if f.has(&["docker compose"]) {
        (
            Node::map()
                .with("path", Node::s("{docker-compose,compose}*.{yml,yaml}"))
                .with("expect/count/min", Node::s("1")),
            "a Compose file in the repository".to_owned(),
            true,
        )
    } else if f.has(&["environment variables", "env vars"]) {
        (
            Node::map()
                .with("path", Node::s(".env.example"))
                .with("expect/lines/min", Node::s("1")),
            "the variables listed in `.env.example`".to_owned(),
            true,
        )
    } else if f.has(&["migration scripts"]) {
        (
            Node::map()
                .with("path", Node::s("**/migrations/*"))
                .with("expect/count/min", Node::s("1")),
            "migration scripts in the repository".to_owned(),
            true,
        )
    } else if f.has(&["readme"]) {
        (
            Node::map()
                .with("path", Node::s("README.md"))
                .with("expect/lines/min", Node::s("10")),
            "a README of some length".to_owned(),
            false,
        )
    } else if f.has(&["license", "licence"]) {
        (
            Node::map()
                .with("path", Node::s("{LICENSE,LICENSE.*,LICENSE-*,COPYING}"))
                .with("expect/count/min", Node::s("1")),
            "a license file".to_owned(),
            false,
        )
    } else {
        return None;
    };
    let d = Draft::new("file", settings).why(why);
    Some(if guess { d.guessed("the path") } else { d })
}

/// Words dropped from an alert's text to name its rule.
const ALERT_NOISE: &[&str] = &[
    "alert",
    "alerts",
    "alerting",
    "configured",
    "configure",
    "thresholds",
    "threshold",
    "defined",
    "in",
    "place",
    "rule",
    "rules",
    "exists",
    "exist",
    "is",
    "are",
    "the",
    "a",
    "an",
    "for",
    "on",
    "when",
    "fires",
    "fire",
    "enabled",
    "created",
    "of",
    "requests",
    "with",
    "to",
    "and",
    "or",
    "if",
];

/// "High failure rate alert configured" → `HighFailureRate`.
pub fn alert_name(text: &str) -> String {
    let mut plain = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    crate::checklist::normalize(&plain)
        .replace("set up", "")
        .replace(" set", "")
        .split(' ')
        .filter(|w| {
            !w.is_empty() && !ALERT_NOISE.contains(w) && !w.chars().all(|c| c.is_ascii_digit())
        })
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// An alerting rule loaded (named from the text), or no alert firing.
pub fn alert_rule(f: &Facts) -> Option<Draft> {
    let handed_down = f.context.iter().any(|c| {
        super::rules::RULES
            .iter()
            .any(|r| r.kind == "prometheus" && super::rules::inherits(r, c))
    });
    if !f.has(&["alert", "alerts", "alerting"]) && !handed_down {
        return None;
    }
    let mut d = Draft::new("prometheus", Node::map());
    let url = prometheus_url(&mut d, f);
    d.settings.set("url", Node::s(url));
    if (f.negated && f.has(&["alert", "alerts", "notifications"])) || f.has(&["should be none"]) {
        d.settings.set("expect/alerts_firing/count", Node::s("0"));
        return Some(d.why("no alert may be firing: alerts_firing count 0"));
    }
    let name = alert_name(&f.text);
    if name.is_empty() {
        d.settings
            .set("expect/rules", Node::list(["NameOfTheRule"]));
        return Some(d.todo("name the alerting rules this item means (`rules: [HighErrorRate]`)"));
    }
    d.settings.set("expect/rules", Node::list([name.clone()]));
    d = d
        .why(format!(
            "the alerting rule `{name}` loaded and healthy, named from the item's words"
        ))
        .guessed("the rule name");
    if let Some(threshold) = &f.q.threshold {
        d = d.why(format!(
            "its threshold `{threshold}` is for the rule's expression"
        ));
    }
    Some(d)
}

/// Every Prometheus target up.
pub fn prometheus_targets(f: &Facts) -> Option<Draft> {
    let mut d = Draft::new("prometheus", Node::map());
    let url = prometheus_url(&mut d, f);
    d.settings.set("url", Node::s(url));
    d.settings.set("expect/targets", Node::s("all_up"));
    Some(d.why("every active target up"))
}

/// An MCP server: initialize, `tools/list`, and what the text counts.
pub fn mcp(f: &Facts) -> Option<Draft> {
    let url = f
        .path()
        .filter(|p| !p.starts_with("/tools"))
        .unwrap_or("/mcp");
    let mut d = Draft::new("mcp", Node::map().with("url", Node::s(url))).why(format!(
        "an MCP server at `{url}`: initialize, ping, tools/list and every tool's input schema"
    ));
    if let Some(n) = f.q.count_of("tools") {
        d = d.why(format!(
            "name the {n} tools under `expect.tools` to check each is listed"
        ));
    }
    if f.has(&["tools call", "tool execution", "call"]) {
        d = d
            .why("a tool call needs a tool name: add `expect.call: [{tool: NAME, arguments: {}}]`");
    }
    if f.has(&["resources", "resources api"]) {
        d = d.why("name a resource under `expect.resources` to have it read");
    }
    Some(d)
}

/// A JSON-RPC endpoint, with the spec's error cases.
pub fn jsonrpc(f: &Facts) -> Option<Draft> {
    let url = match f.path() {
        Some(p) => p.to_owned(),
        None if f.has_around(&["mcp"]) => "/mcp".to_owned(),
        None => "/rpc".to_owned(),
    };
    let settings = Node::map()
        .with("url", Node::s(url.clone()))
        .with("method", Node::s("ping"))
        .with("compliance", Node::s("true"));
    Some(
        Draft::new("jsonrpc", settings)
            .why(format!(
                "JSON-RPC 2.0 at `{url}`: the envelope rules and the spec's error cases"
            ))
            .guessed("the method `ping`"),
    )
}

/// A WebSocket upgrade (or its refusal).
pub fn websocket(f: &Facts) -> Option<Draft> {
    let url = f.path().unwrap_or("/ws");
    let refused = f.negated || f.has(&["rejects", "refuses", "refused", "unauthenticated"]);
    let status = if refused {
        Node::list(["401", "403"])
    } else {
        Node::s("101")
    };
    let mut d = Draft::new(
        "websocket",
        Node::map()
            .with("url", Node::s(url))
            .with("expect/status", status),
    );
    d = if refused {
        d.why("the upgrade must be refused: status 401 or 403")
    } else {
        d.why(format!("the upgrade at `{url}` answers 101"))
    };
    if f.path().is_none() {
        d = d.guessed("the path /ws");
    }
    Some(d)
}

/// The request of a traffic probe: `get: /path`, or the method the text names.
fn request(f: &Facts, settings: &mut Node) -> String {
    let method = f.method.unwrap_or("GET");
    let path = f.path().unwrap_or("/");
    settings.set(&method.to_ascii_lowercase(), Node::s(path));
    format!("{method} {path}")
}

/// A rate limit: a burst past the stated limit.
pub fn rate_limit(f: &Facts) -> Option<Draft> {
    let named = f.has_around(&[
        "rate limit",
        "rate limits",
        "rate limiting",
        "rate limited",
        "rate limiter",
        "429",
        "too many requests",
        "throttling",
        "throttled",
    ]);
    if !named && f.q.window.is_none() && f.q.throughput.is_none() {
        // "Memory limit configured": `limit` alone, without a rate, is not one.
        return None;
    }
    let mut settings = Node::map();
    let request = request(f, &mut settings);
    if f.negated && !f.has(&["no rate", "ddos"]) {
        settings.set("burst", Node::s("20"));
        settings.set("expect/limited", Node::s("false"));
        return Some(
            Draft::new("rate_limit", settings).why(format!("{request} ×20 is never limited")),
        );
    }
    if let Some((count, window)) = &f.q.window {
        let burst = count + 1;
        if burst <= CAP_REQUESTS {
            settings.set("burst", Node::s(burst.to_string()));
            settings.set("expect/limited", Node::s("true"));
            settings.set("expect/within", Node::s(burst.to_string()));
            return Some(Draft::new("rate_limit", settings).why(format!(
                "{count} requests per {window}: request {burst} of a burst of {burst} is limited"
            )));
        }
    }
    if let Some(rate) = &f.q.throughput {
        let burst = rate.per_second().saturating_mul(2).max(2);
        if burst <= CAP_REQUESTS {
            settings.set("burst", Node::s(burst.to_string()));
            settings.set("expect/limited", Node::s("true"));
            return Some(Draft::new("rate_limit", settings).why(format!(
                "a limit of {}: a burst of {burst} (twice the rate) meets it",
                rate.text()
            )));
        }
    }
    settings.set("burst", Node::s("50"));
    settings.set("expect/limited", Node::s("true"));
    Some(
        Draft::new("rate_limit", settings)
            .why("the item states no limit, so no burst size can be derived")
            .todo("the limit's numbers (\"100 requests / 15 minutes\", \"10 RPS\"): set `burst` past it"),
    )
}

/// The most requests a proposal may plan (the runner's cap without `--allow-heavy`).
const CAP_REQUESTS: u64 = 10_000;
/// The longest traffic a proposal may plan, in seconds.
const CAP_SECONDS: u64 = 60;

/// Production figures asked of Prometheus: the error ratio and latency
/// percentiles the text bounds ("Monitor error rates (< 1% acceptable)").
pub fn prometheus_query(f: &Facts) -> Option<Draft> {
    let q = &f.q;
    let monitoring = f.has_around(&[
        "monitor",
        "monitored",
        "monitoring",
        "normal",
        "acceptable",
        "low",
        "production deployment",
        "watch",
        "after deploy",
        "stays",
    ]);
    if !monitoring || (q.error_rate.is_none() && q.percentiles.is_empty()) {
        return None;
    }
    let mut d = Draft::new("prometheus", Node::map());
    let url = prometheus_url(&mut d, f);
    let mut queries = Vec::new();
    if let Some(rate) = &q.error_rate {
        let ratio = rate
            .trim_end_matches('%')
            .parse::<f64>()
            .map(|p| p / 100.0)
            .unwrap_or(0.0);
        queries.push(
            Node::map()
                .with("promql", Node::s(r#"sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))"#))
                .with("value/max", Node::s(format!("{ratio}"))),
        );
        d = d.why(format!(
            "the 5xx ratio over 5 minutes at most {ratio} ({rate})"
        ));
    }
    for (p, max) in &q.percentiles {
        let quantile = format!("0.{}", p.trim_start_matches('p'));
        let seconds = humantime::parse_duration(max)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        queries.push(
            Node::map()
                .with(
                    "promql",
                    Node::s(format!("histogram_quantile({quantile}, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))")),
                )
                .with("value/max", Node::s(format!("{seconds}"))),
        );
        d = d.why(format!("{p} over 5 minutes at most {max} ({seconds} s)"));
    }
    d.settings = Node::map()
        .with("url", Node::s(url))
        .with("expect/query", Node::List(queries));
    let metric = match (q.error_rate.is_some(), q.percentiles.is_empty()) {
        (true, true) => "the metric name http_requests_total",
        (false, _) => "the metric name http_request_duration_seconds",
        (true, false) => "the metric names http_requests_total and http_request_duration_seconds",
    };
    Some(d.guessed(metric))
}

/// Words that say "load test" on their own, figures or not.
const LOAD_WORDS: &[&str] = &[
    "load test",
    "load tests",
    "load testing",
    "stress test",
    "stress tests",
    "stress testing",
    "under load",
    "throughput",
    "concurrent",
    "concurrency",
    "latency",
    "response time",
    "p50",
    "p90",
    "p95",
    "p99",
];

/// A load test held to the text's numbers; without numbers, commented out.
pub fn load(f: &Facts) -> Option<Draft> {
    let q = &f.q;
    if !q.has_load_numbers() && !f.has_around(LOAD_WORDS) {
        // "Handles graceful shutdown": a weak word without figures is no load test.
        return None;
    }
    if !q.has_load_numbers() && q.threshold.as_deref().is_some_and(|t| t.starts_with('>')) {
        // "Latency p95 > 10s for 5 minutes" is a condition to watch for, not a target.
        return None;
    }
    let mut settings = Node::map();
    let request = if f.path().is_none() && f.has(&["health check", "health endpoint"]) {
        settings.set("get", Node::s("/health"));
        "GET /health".to_owned()
    } else {
        request(f, &mut settings)
    };
    let mut d = Draft::new("load", Node::map());
    let mut seconds = 10u64;
    if let Some(text) = &q.duration {
        let asked = humantime::parse_duration(text).map_or(10, |t| t.as_secs());
        if asked > CAP_SECONDS {
            d = d.why(format!(
                "the text asks for {text}, over the {CAP_SECONDS}s cap: {CAP_SECONDS}s proposed"
            ));
            seconds = CAP_SECONDS;
        } else {
            seconds = asked.max(1);
        }
    }
    if let Some(rate) = &q.throughput {
        let per_s = rate.per_second().max(1);
        if per_s * seconds > CAP_REQUESTS {
            seconds = (CAP_REQUESTS / per_s).max(1);
        }
        if per_s * seconds > CAP_REQUESTS {
            settings.set("rate", Node::s(rate.text()));
            settings.set("duration", Node::s("1s"));
            d.settings = settings;
            return Some(d.todo(format!(
                "{} plans more than {CAP_REQUESTS} requests: needs --allow-heavy",
                rate.text()
            )));
        }
        settings.set("rate", Node::s(rate.text()));
        settings.set("duration", Node::s(format!("{seconds}s")));
        settings.set("expect/throughput/min", Node::s(rate.text()));
        d = d.why(format!(
            "{request} at {} for {seconds}s; throughput at least {}",
            rate.text(),
            rate.text()
        ));
    } else {
        let users = q.concurrency.unwrap_or(10);
        settings.set("concurrency", Node::s(users.to_string()));
        settings.set("duration", Node::s(format!("{seconds}s")));
        d = d.why(match q.concurrency {
            Some(n) => format!("{request} with {n} concurrent users for {seconds}s"),
            None => {
                format!("{request} with 10 users for {seconds}s (the text names no concurrency)")
            }
        });
    }
    for (p, max) in &q.percentiles {
        settings.set(&format!("expect/{p}/max"), Node::s(max.clone()));
        d = d.why(format!("{p} at most {max}"));
    }
    if let (true, Some(max)) = (q.percentiles.is_empty(), &q.latency) {
        settings.set("expect/p95/max", Node::s(max.clone()));
        d = d.why(format!("latency at most {max}, read as p95"));
    }
    if let Some(rate) = &q.error_rate {
        settings.set("expect/error_rate/max", Node::s(rate.clone()));
        d = d.why(format!("error rate at most {rate}"));
    }
    d.settings = settings;
    if !q.has_load_numbers() {
        return Some(d.todo(
            "the text gives no figures (p95, concurrency, throughput, error rate): fill them in",
        ));
    }
    Some(d)
}

/// Plain HTTP answers with a redirect to HTTPS.
pub fn https_redirect(f: &Facts) -> Option<Draft> {
    let mut d = Draft::new("http", Node::map());
    let url = d.var("http_url", "VOUCH_HTTP_URL", "http://127.0.0.1/");
    d.settings = Node::map()
        .with("url", Node::s(url))
        .with("follow_redirects", Node::s("false"))
        .with("expect/status", Node::list(["301", "308"]))
        .with("expect/headers/location/matches", Node::s("^https://"));
    let _ = f;
    Some(d.why("plain HTTP answers 301/308 with a `Location` on https://"))
}

/// Security headers: the baseline, or the rules the text names.
pub fn headers(f: &Facts) -> Option<Draft> {
    let named: Vec<&str> = [
        (&["hsts", "strict transport security"][..], "hsts"),
        (&["csp", "content security policy", "xss"][..], "csp"),
        (&["nosniff", "x content type options"][..], "nosniff"),
        (
            &["x frame options", "frame options", "clickjacking"][..],
            "frame_protection",
        ),
        (&["referrer policy"][..], "referrer_policy"),
        (&["x powered by"][..], "powered_by"),
        (&["server header"][..], "server"),
    ]
    .iter()
    .filter(|(words, _)| f.has(words))
    .map(|(_, rule)| *rule)
    .collect();
    let url = f.path().unwrap_or("/");
    let mut settings = Node::map().with("url", Node::s(url));
    let d = if named.is_empty() || f.has(&["security headers", "helmet"]) {
        settings.set("policy", Node::s("baseline"));
        Draft::new("headers", settings).why("the whole baseline: HSTS, nosniff, frame protection, CSP, Referrer-Policy, no X-Powered-By, no version in Server")
    } else {
        settings.set("baseline", Node::list(named.iter().copied()));
        Draft::new("headers", settings).why(format!(
            "the baseline rules the item names: {}",
            named.join(", ")
        ))
    };
    Some(d)
}

/// A TLS endpoint: trusted, hostname, days left, protocol.
pub fn tls(f: &Facts) -> Option<Draft> {
    if f.negated && f.has(&["tls 1 0", "tls 1 1", "tlsv1 0", "tlsv1 1", "sslv3", "ssl"]) {
        let settings = Node::map().with("expect/protocol/min", Node::s("TLSv1.2"));
        return Some(
            Draft::new("tls", settings)
                .why("old protocols refused: needs `refuses:`, not in this build")
                .todo("old protocol versions refused: vouch negotiates TLS 1.2+ only here; check the server's configuration"),
        );
    }
    let mut settings = Node::map()
        .with("expect/trusted", Node::s("true"))
        .with("expect/hostname", Node::s("true"));
    let mut d =
        Draft::new("tls", Node::map()).why("the certificate is trusted and valid for the host");
    if let Some(days) = f.q.days {
        settings.set("expect/expires_in/min", Node::s(format!("{days}d")));
        d = d.why(format!("at least {days} days left"));
    } else if f.has(&[
        "renewal", "renew", "renewed", "expiry", "expiring", "expires",
    ]) {
        settings.set("expect/expires_in/min", Node::s("30d"));
        d = d
            .why("renewal working: at least 30 days left")
            .guessed("30 days");
    }
    for (words, version) in [
        (&["tls 1 3", "tlsv1 3"][..], "TLSv1.3"),
        (&["tls 1 2", "tlsv1 2"][..], "TLSv1.2"),
    ] {
        if f.has(words) {
            settings.set("expect/protocol/min", Node::s(version));
            d = d.why(format!("protocol at least {version}"));
            break;
        }
    }
    d.settings = settings;
    Some(d)
}

/// CORS: an allowed origin gets itself back, a foreign one nothing.
pub fn cors(f: &Facts) -> Option<Draft> {
    let mut d = Draft::new("cors", Node::map());
    let origin = d.var("app_origin", "APP_ORIGIN", "https://app.example");
    let mut settings = Node::map()
        .with("url", Node::s(f.path().unwrap_or("/")))
        .with("allowed_origins", Node::list([origin]));
    if let Some(m) = f.method.filter(|m| *m != "GET") {
        settings.set("method", Node::s(m));
    }
    if f.has(&["credentials"]) {
        settings.set("expect/credentials", Node::s("true"));
        d = d.why("credentials allowed for the allowed origin");
    }
    d.settings = settings;
    Some(
        d.why("the app's origin is allowed (itself, not `*`); https://evil.example is not")
            .guessed("the allowed origin"),
    )
}

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

/// A named service: PostgreSQL → `tcp` with `hello: postgres` on 5432, etcd →
/// its `/health`, Grafana → `http` on 3000; "Redis password set" → `auth_required`.
pub fn service(f: &Facts) -> Option<Draft> {
    let named_here = services::named_in(&f.words);
    let service = match (named_here.as_slice(), f.services.as_slice()) {
        ([one], _) => *one,
        ([], [one, ..]) if f.urls.iter().any(|u| services::by_port(u).is_some()) => *one,
        _ => return None,
    };
    // "**Redis** - Cache layer": an item led by the service's name is about it.
    let lead = f.text.split(" - ").next().map(super::claims::padded);
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
    let mut d = Draft::new("tcp", Node::map());
    let var = d.var(
        &service.var(),
        &service.env(),
        &service.default_address(url_in_text.map(String::as_str)),
    );
    match service.reach {
        Reach::Tcp(hello) => {
            d.settings.set("address", Node::s(var));
            if f.negated && f.has(&["exposed", "public", "reachable", "open"]) {
                d.settings.set("expect/open", Node::s("false"));
                return Some(d.why(format!(
                    "{} (port {}) must not be reachable: open false",
                    service.name, service.port
                )));
            }
            if let Some(hello) = hello {
                d.settings.set("hello", Node::s(hello));
            }
            if service.name == "redis"
                && f.has(&["password", "auth", "authentication", "requirepass"])
            {
                d.settings.set("expect/auth_required", Node::s("true"));
                return Some(d.why("Redis answers PING with NOAUTH: a password is required"));
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

/// API authentication: 401/403 without and with a wrong credential, 2xx with the right one.
pub fn auth(f: &Facts) -> Option<Draft> {
    if !f.services.is_empty()
        && services::named_in(&f.words)
            .iter()
            .any(|s| s.name != "prometheus")
    {
        return None;
    }
    let mut d = Draft::new("auth", Node::map());
    let mut settings = Node::map();
    match f.paths.as_slice() {
        [] if f.has(&["admin"]) => {
            settings.set("url", Node::s("/admin"));
            d = d.guessed("the path /admin");
        }
        [] => settings.set("url", Node::s("/")),
        [one] => settings.set("url", Node::s(one.clone())),
        many => settings.set("paths", Node::list(many.iter().cloned())),
    }
    if let Some(m) = f.method.filter(|m| *m != "GET") {
        settings.set("method", Node::s(m));
    }
    if f.has(&["api key", "api keys", "x api key"]) {
        settings.set("header/name", Node::s("X-API-Key"));
        settings.set("header/value", Node::s("${env:API_KEY:-change-me}"));
        d = d.why("the API key in `X-API-Key`, from $API_KEY");
    } else if f.has(&["basic"]) {
        settings.set("basic/user", Node::s("${env:API_USER:-change-me}"));
        settings.set("basic/password", Node::s("${env:API_PASSWORD:-change-me}"));
        d = d.why("HTTP Basic credentials from $API_USER/$API_PASSWORD");
    } else {
        settings.set("bearer", Node::s("${env:API_TOKEN:-change-me}"));
        d = d.why("a bearer token from $API_TOKEN");
    }
    d.settings = settings;
    Some(d.why("401/403 without and with a wrong credential, 2xx with the right one"))
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

/// Series names for phrases that name a metric.
const SERIES: &[(&[&str], &str)] = &[
    (
        &[
            "request count",
            "requests total",
            "request rate",
            "requests",
        ],
        "http_requests_total",
    ),
    (
        &["latency", "duration", "response time"],
        "http_request_duration_seconds",
    ),
    (&["cpu"], "process_cpu_seconds_total"),
    (
        &["memory", "resource", "resources"],
        "process_resident_memory_bytes",
    ),
    (
        &["error", "errors", "error rates", "5xx", "server errors"],
        "http_requests_total",
    ),
];

/// A metrics exposition with the series the text names (or guesses).
pub fn metrics(f: &Facts) -> Option<Draft> {
    let url = f
        .paths
        .iter()
        .find(|p| p.contains("metrics"))
        .map_or("/metrics", String::as_str);
    let mut d = Draft::new("metrics", Node::map());
    let mut settings = Node::map().with("url", Node::s(url));
    let named: Vec<String> = f
        .code
        .iter()
        .filter(|c| {
            c.contains('_')
                && c.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        })
        .cloned()
        .collect();
    let mut series: Vec<Node> = named
        .iter()
        .map(|n| Node::map().with("name", Node::s(n.clone())))
        .collect();
    if series.is_empty() {
        for (words, name) in SERIES {
            if f.has(words)
                && !series
                    .iter()
                    .any(|s| s.get("name").as_deref() == Some(*name))
            {
                let mut s = Node::map().with("name", Node::s(*name));
                if words.contains(&"error") {
                    s.set("labels/code", Node::s("=~5.."));
                    if f.negated {
                        s.set("count", Node::s("0"));
                        d = d.why("no 5xx series at all: count 0");
                    }
                }
                series.push(s);
            }
        }
        if !series.is_empty() {
            d = d.guessed("the series names");
        }
    }
    if series.is_empty() && f.has(&["documented", "help"]) {
        settings.set("expect/lint", Node::list(["help"]));
        d = d.why("documented: every family has HELP text");
    } else if series.is_empty() {
        let noise = [
            "metrics",
            "metric",
            "collected",
            "tracked",
            "working",
            "exposed",
            "custom",
            "monitored",
            "and",
            "are",
            "is",
            "per",
            "by",
            "the",
        ];
        let name: Vec<String> = crate::checklist::normalize(&strip_parens(&f.text))
            .split(' ')
            .filter(|w| !w.is_empty() && !noise.contains(w))
            .map(str::to_owned)
            .collect();
        if name.is_empty() || f.has(&["endpoint", "accessible", "exposed", "prometheus"]) {
            settings.set("expect/lint", Node::list(["unique_series", "buckets"]));
            d.settings = settings;
            return Some(d.why(format!(
                "`{url}` answers a valid exposition (parsed, no duplicate series, sane buckets)"
            )));
        }
        let name = name.join("_");
        series.push(Node::map().with("name", Node::s(name.clone())));
        d = d.guessed(format!("the series `{name}`: rename it to the real one"));
    }
    if !series.is_empty() {
        let names: Vec<String> = series.iter().filter_map(|s| s.get("name")).collect();
        settings.set("expect/series", Node::List(series));
        d = d.why(format!("`{url}` exposes {}", names.join(", ")));
    }
    d.settings = settings;
    Some(d)
}

fn strip_parens(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `GET /x returns 200`: an explicit request and answer.
pub fn http_explicit(f: &Facts) -> Option<Draft> {
    let path = f.path()?;
    let status = f.q.status;
    let about_health = has_any(
        &f.words,
        &[
            "health",
            "healthy",
            "deps",
            "dependencies",
            "readiness",
            "liveness",
        ],
    );
    if status.is_none() && (f.method.is_none() || about_health) {
        return None;
    }
    let about_auth = f.has(&[
        "unauthenticated",
        "unauthorized",
        "authentication",
        "auth",
        "token",
        "api key",
    ]);
    if f.method.is_none() && about_auth {
        // "Unauthenticated requests to `/graphql` get 401": an `auth` probe
        // checks the wrong and the right credential too.
        return None;
    }
    let method = f.method.unwrap_or("GET");
    let mut settings = Node::map().with(&method.to_ascii_lowercase(), Node::s(path));
    let mut d =
        Draft::new("http", Node::map()).why(format!("{method} {path}, as the item writes it"));
    if let Some(status) = status {
        settings.set("expect/status", Node::s(status.to_string()));
        d = d.why(format!("status {status}"));
    } else {
        d = d.why("any 2xx or 3xx (the item names no status)");
    }
    if let Some(max) = &f.q.latency {
        settings.set("expect/latency/max", Node::s(max.clone()));
        d = d.why(format!("latency at most {max}"));
    }
    d.settings = settings;
    Some(d)
}

/// A health endpoint: status healthy, dependencies as the text says.
pub fn health(f: &Facts) -> Option<Draft> {
    let path = f
        .paths
        .iter()
        .find(|p| {
            has_any(
                &format!(" {} ", crate::checklist::normalize(p)),
                &[
                    "health", "healthz", "ready", "readyz", "live", "livez", "status",
                ],
            )
        })
        .or(f.paths.first())
        .map_or("/health", String::as_str);
    if f.has(&["ready", "live"])
        && !f.has(&[
            "health",
            "healthy",
            "readiness",
            "liveness",
            "health check",
            "health checks",
        ])
        && f.paths.is_empty()
    {
        return None;
    }
    let mut settings = Node::map().with("url", Node::s(path));
    let mut d = Draft::new("health", Node::map()).why(format!("`{path}` reports healthy"));
    let named: Vec<&str> = f
        .services
        .iter()
        .map(|s| s.name)
        .filter(|n| *n != "prometheus")
        .collect();
    if !named.is_empty() && services::named_in(&f.words).len() == f.services.len() {
        settings.set("expect/dependencies", Node::list(named.iter().copied()));
        d = d.why(format!("dependencies {} healthy", named.join(", ")));
    } else if f.has(&[
        "deps",
        "dependencies",
        "dependency",
        "all healthy",
        "readiness",
        "ready",
    ]) {
        settings.set("expect/dependencies", Node::s("all_healthy"));
        d = d.why("every dependency healthy");
    }
    if let Some(max) = &f.q.latency {
        settings.set("expect/latency/max", Node::s(max.clone()));
        d = d.why(format!("latency at most {max}"));
    }
    if f.paths.is_empty() {
        d = d.guessed("the path /health");
    }
    d.settings = settings;
    Some(d)
}

/// An endpoint: answered, or — negated — refused.
pub fn http(f: &Facts) -> Option<Draft> {
    if f.has(&["stack traces", "stack trace"]) {
        let settings = Node::map()
            .with("get", Node::s("/vouch-probe-not-found"))
            .with("expect/status", Node::s("404"));
        return Some(
            Draft::new("http", settings)
                .why("an error answer; vouch cannot yet assert that a body does not contain a text")
                .todo("check the error body holds no stack trace (`expect.body`)"),
        );
    }
    let guessed_path = if f.has(&["debug", "pprof"]) {
        Some("/debug/pprof/")
    } else if f.has(&["actuator"]) {
        Some("/actuator")
    } else if f.has(&["swagger", "openapi"]) {
        Some("/openapi.json")
    } else if f.has(&["version"]) {
        Some("/version")
    } else {
        None
    };
    let path = f
        .path()
        .or(guessed_path.filter(|_| f.negated || f.has(&["endpoint", "endpoints"])))?;
    let method = f.method.unwrap_or("GET");
    let mut settings = Node::map().with(&method.to_ascii_lowercase(), Node::s(path));
    let mut d = Draft::new("http", Node::map());
    if f.negated {
        settings.set("expect/status", Node::list(["401", "403", "404"]));
        d = d.why(format!(
            "{method} {path} must be refused or absent: 401, 403 or 404"
        ));
    } else {
        settings.set(
            "expect/status",
            Node::s(f.q.status.unwrap_or(200).to_string()),
        );
        d = d.why(format!(
            "{method} {path} answers {}",
            f.q.status.unwrap_or(200)
        ));
    }
    if f.path().is_none() {
        d = d.guessed(format!("the path {path}"));
    }
    d.settings = settings;
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_from_words() {
        assert_eq!(
            alert_name("High failure rate alert configured"),
            "HighFailureRate"
        );
        assert_eq!(
            alert_name("High error rate (> 5% of requests)"),
            "HighErrorRate"
        );
        assert_eq!(
            alert_name("Service down (health check fails)"),
            "ServiceDown"
        );
        assert_eq!(alert_name("Alerts configured"), "");
    }
}
