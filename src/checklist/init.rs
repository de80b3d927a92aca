//! `vouch init`: proposes a probe file for a checklist. Every item is listed
//! by id with its text as a comment; items whose text names something
//! probeable get a skeleton of the right kind, the rest an `attested:`
//! template. Kinds this build does not have yet are proposed commented out,
//! so the file always passes `vouch check` unchanged.

use std::fmt::Write;

use super::{Checklist, ChecklistItem};
use crate::probe::KINDS;

/// One keyword rule: if an item's text (lowercased) contains any of `words`,
/// propose `kind` with this YAML skeleton (indented under `probes:`).
pub struct Rule {
    /// The probe kind proposed.
    pub kind: &'static str,
    /// Lowercase substrings that trigger it.
    pub words: &'static [&'static str],
    /// The skeleton's settings, YAML, one level under the kind key.
    pub skeleton: &'static str,
}

/// The keyword rules, first match wins. Order matters: specific before general.
pub const RULES: &[Rule] = &[
    // Repository and host items (`exec`, `file`): a command named in the
    // text first, then the Dockerfile, then the generic claims.
    Rule {
        kind: "exec",
        words: &["cargo audit"],
        skeleton: "run: [cargo, audit]\nexpect:\n  exit: 0",
    },
    Rule {
        kind: "exec",
        words: &["npm audit"],
        skeleton: "run: [npm, audit, --json]\nexpect:\n  exit: { one_of: [0, 1] }\n  json:\n    $.metadata.vulnerabilities.critical: 0\n    $.metadata.vulnerabilities.high: 0",
    },
    Rule {
        kind: "exec",
        words: &["govulncheck"],
        skeleton: "run: [govulncheck, ./...]\nexpect:\n  exit: 0",
    },
    Rule {
        kind: "exec",
        words: &["gosec"],
        skeleton: "run: [gosec, ./...]\nexpect:\n  exit: 0",
    },
    Rule {
        kind: "exec",
        words: &["cargo test"],
        skeleton: "run: [cargo, test, --locked]\nexclusive: true\nexpect:\n  exit: 0\n  stdout: { absent: FAILED }",
    },
    Rule {
        kind: "exec",
        words: &["go test"],
        skeleton: "run: [go, test, ./...]\nexclusive: true\nexpect:\n  exit: 0",
    },
    Rule {
        kind: "exec",
        words: &["npm test"],
        skeleton: "run: [npm, test]\nexclusive: true\nexpect:\n  exit: 0",
    },
    Rule {
        kind: "exec",
        words: &["pytest"],
        skeleton: "run: [python3, -m, pytest]\nexclusive: true\nexpect:\n  exit: 0",
    },
    Rule {
        kind: "file",
        words: &[
            "dockerfile",
            "multi stage",
            "non root",
            "docker image",
            "container image",
            "base image",
            "distroless",
        ],
        skeleton: "path: Dockerfile\nexpect:\n  dockerfile:\n    stages: { min: 2 }\n    user: { ne: root }\n    healthcheck: true\n    base: { matches: 'alpine|distroless|scratch|slim' }",
    },
    Rule {
        kind: "exec",
        words: &[
            "dependency audit",
            "vulnerability scan",
            "vulnerability scanning",
            "security audit",
            "known vulnerabilities",
        ],
        skeleton: "run: [make, audit]           # the project's audit command\nexpect:\n  exit: 0",
    },
    Rule {
        kind: "exec",
        words: &[
            "unit tests",
            "integration tests",
            "tests passing",
            "tests pass",
            "test suite",
            "test coverage",
            "coverage",
        ],
        skeleton: "run: [make, test]            # the project's test command\nexclusive: true\nexpect:\n  exit: 0",
    },
    Rule {
        kind: "file",
        words: &["backup", "backups"],
        skeleton: "path: /var/backups/*\nallow_outside_root: true\nexpect:\n  count: { min: 1 }\n  age: { max: 24h }",
    },
    Rule {
        kind: "file",
        words: &["logrotate", "log rotation"],
        skeleton: "path: /etc/logrotate.d/app\nallow_outside_root: true\nexpect:\n  contains: rotate",
    },
    Rule {
        kind: "file",
        words: &["env example"],
        skeleton: "path: .env.example\nexpect:\n  lines: { min: 1 }",
    },
    Rule {
        kind: "file",
        words: &["runbook", "runbooks", "playbook", "playbooks"],
        skeleton: "path: \"docs/**/*{runbook,playbook}*\"\nexpect:\n  count: { min: 1 }",
    },
    Rule {
        kind: "file",
        words: &["readme"],
        skeleton: "path: README.md\nexpect:\n  lines: { min: 10 }",
    },
    Rule {
        kind: "file",
        words: &["license", "licence"],
        skeleton: "path: \"{LICENSE,LICENSE.*,LICENSE-*,COPYING}\"\nexpect:\n  count: { min: 1 }",
    },
    Rule {
        kind: "mcp",
        words: &[
            "mcp",
            "tools/list",
            "tools/call",
            "model context protocol",
            "mcp tools",
        ],
        skeleton: "url: /mcp\nexpect:\n  tools: []",
    },
    Rule {
        kind: "jsonrpc",
        words: &["json-rpc", "jsonrpc", "rpc"],
        skeleton: "url: /rpc\nmethod: ping\ncompliance: true",
    },
    Rule {
        kind: "rate_limit",
        words: &[
            "rate limit",
            "rate limits",
            "rate limiting",
            "rate limited",
            "429",
            "too many requests",
            "throttling",
            "throttled",
        ],
        skeleton: "get: /\nburst: 50\nexpect:\n  limited: true",
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
            "req/s",
            "rps",
            "load test",
            "load testing",
            "under load",
            "stress test",
            "stress testing",
        ],
        skeleton: "get: /\nconcurrency: 10\nduration: 10s\nexpect:\n  p95: { max: 100ms }",
    },
    Rule {
        kind: "tls",
        words: &["ssl", "tls", "certificate", "certificates", "https"],
        skeleton: "expect:\n  trusted: true\n  expires_in: { min: 30d }",
    },
    Rule {
        kind: "cors",
        words: &["cors", "cross origin"],
        skeleton: "url: /\nallowed_origins: [https://app.example]\nforeign_origin: https://evil.example",
    },
    Rule {
        kind: "headers",
        words: &[
            "security headers",
            "security header",
            "hsts",
            "content security policy",
            "csp",
            "x frame options",
            "nosniff",
        ],
        skeleton: "url: /\npolicy: baseline",
    },
    Rule {
        kind: "auth",
        words: &[
            "api key",
            "api keys",
            "authentication",
            "unauthorized",
            "401",
            "jwt",
            "bearer",
        ],
        skeleton: "url: /\nbearer: ${env:API_TOKEN:-change-me}",
    },
    Rule {
        kind: "prometheus",
        words: &[
            "targets up",
            "alert",
            "alerts",
            "alerting",
            "alerting rules",
            "alertmanager",
            "promql",
        ],
        skeleton: "url: ${env:PROMETHEUS_URL:-http://127.0.0.1:9090}\nexpect:\n  targets: all_up\n  rules: []",
    },
    Rule {
        kind: "metrics",
        words: &["prometheus", "metrics", "metrics endpoint"],
        skeleton: "url: /metrics\nexpect:\n  series:\n    - name: http_requests_total",
    },
    Rule {
        kind: "tcp",
        words: &[
            "redis",
            "postgres",
            "postgresql",
            "etcd",
            "mongodb",
            "memcached",
            "exposed ports",
            "open ports",
        ],
        skeleton: "address: localhost:6379\nexpect:\n  open: true",
    },
    Rule {
        kind: "health",
        words: &[
            "health",
            "healthy",
            "health check",
            "health checks",
            "readiness",
            "liveness",
            "ready",
        ],
        skeleton: "url: /health\nexpect:\n  dependencies: all_healthy",
    },
    Rule {
        kind: "http",
        words: &[
            "endpoint",
            "endpoints",
            "returns 200",
            "get",
            "post",
            "http",
            "api responds",
        ],
        skeleton: "get: /\nexpect:\n  status: 200",
    },
];

/// The rule that applies to an item's text, if any.
/// Words match whole: "port" does not fire on "support".
pub fn rule_for(text: &str) -> Option<&'static Rule> {
    let text = format!(" {} ", super::normalize(text));
    RULES.iter().find(|rule| {
        rule.words
            .iter()
            .any(|w| text.contains(&format!(" {} ", super::normalize(w))))
    })
}

/// A path named in the text (`/health`, `` `GET /api/v1/users` ``), if any.
fn path_in(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')' || c == ',')
        .find(|w| {
            w.starts_with('/')
                && w.len() > 1
                && w[1..].chars().next().is_some_and(char::is_alphanumeric)
        })
        .map(|w| w.trim_end_matches(['.', ':', ';']).to_owned())
}

/// The proposed probe file.
pub fn propose(checklist: &Checklist, checklist_path: &str) -> String {
    let mut out = String::new();
    let title = checklist.title.as_deref().unwrap_or("checklist");
    let _ = writeln!(
        out,
        "# Probe file proposed by `vouch init` for {checklist_path}."
    );
    let _ = writeln!(
        out,
        "# Fill in the probes, then: vouch run THIS_FILE --target https://your.service"
    );
    let _ = writeln!(
        out,
        "# Kinds marked \"not in this build yet\" are commented out so the file stays valid."
    );
    if checklist
        .items
        .iter()
        .any(|i| rule_for(&i.text).is_some_and(|r| r.kind == "exec"))
    {
        let _ = writeln!(
            out,
            "# `exec` probes run programs here: only with --allow-exec; `vouch check` lists them."
        );
    }
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(out, "name: {}", yaml_string(title));
    let _ = writeln!(out, "checklist: {}", yaml_string(checklist_path));
    let _ = writeln!(out, "target: ${{env:VOUCH_TARGET:-http://127.0.0.1:8080}}");
    let _ = writeln!(out, "items:");
    let mut section: Option<&str> = None;
    for item in &checklist.items {
        if item.section.as_deref() != section {
            section = item.section.as_deref();
            let _ = writeln!(
                out,
                "\n  # ── {} ──",
                one_line(section.unwrap_or("(no section)"))
            );
        }
        write_item(&mut out, item);
    }
    out
}

fn write_item(out: &mut String, item: &ChecklistItem) {
    let _ = writeln!(out, "  # line {}: {}", item.line, one_line(&item.display));
    let _ = writeln!(out, "  - item: {}", yaml_string(&item.id));
    match rule_for(&item.text) {
        Some(rule) if KINDS.contains(&rule.kind) => {
            let _ = writeln!(out, "    probes:");
            let _ = writeln!(out, "      - {}:", rule.kind);
            for line in skeleton(rule, &item.text).lines() {
                let _ = writeln!(out, "          {line}");
            }
        }
        Some(rule) => {
            let _ = writeln!(out, "    # `{}` is not in this build yet:", rule.kind);
            let _ = writeln!(out, "    # probes:");
            let _ = writeln!(out, "    #   - {}:", rule.kind);
            for line in skeleton(rule, &item.text).lines() {
                let _ = writeln!(out, "    #       {line}");
            }
            attested_template(out);
        }
        None => attested_template(out),
    }
}

fn attested_template(out: &mut String) {
    let _ = writeln!(
        out,
        "    # manual: no probe can verify this; attest it instead:"
    );
    let _ = writeln!(
        out,
        "    # attested: {{ by: you@example.com, on: 2026-01-31, valid_for: 90d, note: \"how it was checked\" }}"
    );
}

/// A file named in backticks in the text (`` `.env.example` ``,
/// `` `docs/runbook.md` ``), for `file` skeletons.
fn file_in(text: &str) -> Option<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .find(|w| {
            !w.is_empty()
                && !w.contains(char::is_whitespace)
                && !w.contains("://")
                && !w.starts_with('/')
                && (w.contains('.') || w.contains('/'))
        })
        .map(str::to_owned)
}

/// The rule's skeleton, with a path from the text where the kind takes one.
fn skeleton(rule: &Rule, text: &str) -> String {
    if rule.kind == "file" {
        return match (file_in(text), rule.skeleton.split_once('\n')) {
            (Some(file), Some((_, rest))) => format!("path: {}\n{rest}", yaml_string(&file)),
            _ => rule.skeleton.to_owned(),
        };
    }
    if rule.kind == "exec" {
        return rule.skeleton.to_owned();
    }
    match path_in(text) {
        Some(path) => rule
            .skeleton
            .replacen("url: /health", &format!("url: {path}"), 1)
            .replacen("get: /\n", &format!("get: {path}\n"), 1)
            .replacen("url: /\n", &format!("url: {path}\n"), 1),
        None => rule.skeleton.to_owned(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A YAML double-quoted string.
fn yaml_string(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<&'static str> {
        rule_for(text).map(|r| r.kind)
    }

    #[test]
    fn each_rule_fires_on_its_words() {
        assert_eq!(kind("MCP tools/list works"), Some("mcp"));
        assert_eq!(kind("JSON-RPC 2.0 compliance verified"), Some("jsonrpc"));
        assert_eq!(
            kind("Rate limiting configured (10 RPS default)"),
            Some("rate_limit")
        );
        assert_eq!(kind("Some requests return 429"), Some("rate_limit"));
        assert_eq!(kind("p95 < 100ms under load"), Some("load"));
        assert_eq!(kind("Can handle 100+ concurrent requests"), Some("load"));
        assert_eq!(kind("SSL certificates installed"), Some("tls"));
        assert_eq!(kind("CORS configured properly"), Some("cors"));
        assert_eq!(kind("Security headers configured (HSTS)"), Some("headers"));
        assert_eq!(kind("API key validation on all endpoints"), Some("auth"));
        assert_eq!(kind("Prometheus metrics exposed"), Some("metrics"));
        assert_eq!(kind("All targets UP at /targets"), Some("prometheus"));
        assert_eq!(
            kind("High failure rate alert configured"),
            Some("prometheus")
        );
        assert_eq!(kind("Redis running and accessible"), Some("tcp"));
        assert_eq!(kind("PostgreSQL running and accessible"), Some("tcp"));
        assert_eq!(
            kind("Health checks passing (`/health` endpoint)"),
            Some("health")
        );
        assert_eq!(kind("GET /users endpoint returns 200"), Some("http"));
        assert_eq!(kind("Runbooks written"), Some("file"));
        assert_eq!(kind("Dockerfile optimized (multi-stage)"), Some("file"));
        assert_eq!(kind("Non-root user"), Some("file"));
        assert_eq!(kind("`.env.example` documented"), Some("file"));
        assert_eq!(kind("Newest backup younger than 24 h"), Some("file"));
        assert_eq!(kind("logrotate configured"), Some("file"));
        assert_eq!(kind("Unit tests passing with > 80% coverage"), Some("exec"));
        assert_eq!(kind("`cargo audit` / `npm audit` clean"), Some("exec"));
        assert_eq!(kind("Code of conduct adopted"), None);
        assert_eq!(
            kind("Support rota and report exports"),
            None,
            "whole words only"
        );
    }

    #[test]
    fn every_rule_has_a_known_or_future_kind_and_words() {
        for rule in RULES {
            assert!(!rule.words.is_empty(), "{}", rule.kind);
            assert!(
                rule.words.iter().all(|w| *w == w.to_lowercase()),
                "{}",
                rule.kind
            );
        }
    }

    #[test]
    fn repository_items_get_commands_and_files_of_their_own() {
        let skel = |text: &str| skeleton(rule_for(text).expect(text), text);
        assert!(skel("`cargo audit` clean").starts_with("run: [cargo, audit]"));
        assert!(skel("`npm audit` clean").starts_with("run: [npm, audit, --json]"));
        assert!(skel("Tests pass: `go test ./...`").starts_with("run: [go, test, ./...]"));
        assert!(skel("`pytest` green").starts_with("run: [python3, -m, pytest]"));
        assert_eq!(
            skel("`.env.example` documented"),
            "path: \".env.example\"\nexpect:\n  lines: { min: 1 }"
        );
        assert!(
            skel("Runbooks in `docs/ops/runbook.md`").starts_with("path: \"docs/ops/runbook.md\"")
        );
        assert!(skel("Dockerfile optimized").contains("user: { ne: root }"));
    }

    #[test]
    fn paths_in_the_text_go_into_the_skeleton() {
        assert_eq!(
            path_in("Health checks passing (`/healthz` endpoint)").as_deref(),
            Some("/healthz")
        );
        assert_eq!(
            path_in("GET /api/v1/users returns 200.").as_deref(),
            Some("/api/v1/users")
        );
        assert_eq!(path_in("50/50 split"), None);
        let health = rule_for("health at /livez").expect("rule");
        assert!(skeleton(health, "health at /livez").starts_with("url: /livez"));
    }

    #[test]
    fn proposes_probes_for_known_kinds_and_comments_out_the_rest() {
        let checklist = super::super::parse(
            "# Svc\n\n## Core\n\n- [x] Health checks passing (`/health`)\n- [ ] SSL certificates installed\n- [ ] Rate limiting enabled\n- [ ] MCP tools/list works\n- [ ] Runbooks written\n- [ ] Unit tests passing\n- [ ] Code of conduct adopted\n",
        );
        let text = propose(&checklist, "svc.md");
        assert!(text.contains("  - item: \"core/health-checks-passing-health\"\n    probes:\n      - health:\n          url: /health\n"), "{text}");
        assert!(text.contains("    probes:\n      - tls:\n"), "{text}");
        assert!(
            text.contains("    probes:\n      - rate_limit:\n"),
            "{text}"
        );
        // Commented out while the kind is missing from this build.
        assert_eq!(
            text.contains("    # `mcp` is not in this build yet:"),
            !KINDS.contains(&"mcp"),
            "{text}"
        );
        assert!(text.contains("    # attested: {"), "{text}");
        assert!(text.contains("checklist: \"svc.md\""));
        assert!(text.contains("    probes:\n      - file:\n"), "{text}");
        assert!(text.contains("    probes:\n      - exec:\n"), "{text}");
        assert!(text.contains("only with --allow-exec"), "{text}");
    }
}
