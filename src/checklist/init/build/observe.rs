//! Builders for observability: metrics expositions, alerting rules, scrape
//! targets and Prometheus queries for monitored figures.

use super::super::claims::Facts;
use super::super::render::Node;
use super::super::rules::Draft;
use super::super::{numbers, services};
use super::{prometheus_url, strip_parens};

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
    "above",
    "exceeds",
    "exceeding",
    "than",
    "minutes",
    "minute",
    "seconds",
    "hours",
];

/// `2s`, `5m`, `90`: a figure with its unit, not a word of a rule's name.
fn is_figure(word: &str) -> bool {
    let unit = word.trim_start_matches(|c: char| c.is_ascii_digit());
    unit.len() < word.len() && ["", "s", "ms", "m", "h", "d", "gb", "mb"].contains(&unit)
}

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
        .filter(|w| !w.is_empty() && !ALERT_NOISE.contains(w) && !is_figure(w))
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
        super::super::rules::RULES
            .iter()
            .any(|r| r.kind == "prometheus" && super::super::rules::inherits(r, c))
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
        d.settings.set(
            "expect/rules",
            Node::List(vec![Node::map().with("name", Node::s("NameOfTheRule"))]),
        );
        return Some(
            d.todo("name the alerting rules this item means (`rules: [{ name: HighErrorRate }]`)"),
        );
    }
    let mut rule = Node::map().with("name", Node::s(name.clone()));
    d = d
        .why(format!(
            "the alerting rule `{name}` loaded and healthy, named from the item's words"
        ))
        .guessed("the rule name");
    let threshold = f.q.threshold.clone().or_else(|| worded_threshold(&f.text));
    if let Some(threshold) = threshold.as_deref().and_then(promql_threshold) {
        d = d.why(format!(
            "its expression compares `{threshold}`, from the item's figure"
        ));
        rule.set("expr/contains", Node::s(threshold));
    }
    if let Some(wait) = &f.q.duration {
        d = d.why(format!("it fires after at most {wait} (`for`)"));
        rule.set("for/max", Node::s(wait.clone()));
    }
    let severity = if f.has_around(&["critical", "paging", "page", "pages", "sev1", "p1"]) {
        Some("critical")
    } else if f.has_around(&["warning", "warnings", "warn"]) {
        Some("warning")
    } else {
        None
    };
    if let Some(severity) = severity {
        d = d.why(format!(
            "labelled severity {severity}, from the words around it"
        ));
        rule.set("labels/severity", Node::s(severity));
    }
    d.settings.set("expect/rules", Node::List(vec![rule]));
    Some(d)
}

/// "above 85%", "below 10 GB": a threshold in words, as `> 85%`.
fn worded_threshold(text: &str) -> Option<String> {
    static WORDED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b(above|over|exceeds|exceeding|more than|greater than|below|under|less than)\s+(\d+(?:\.\d+)?\s*%?)")
            .expect("a valid pattern")
    });
    let c = WORDED.captures(text)?;
    let op = match c[1].to_lowercase().as_str() {
        "below" | "under" | "less than" => "<",
        _ => ">",
    };
    Some(format!("{op} {}", &c[2]))
}

/// A threshold as a rule's PromQL writes it: `> 5%` → `> 0.05` (a ratio),
/// `> 3s` → `> 3` (seconds), `< 14 days` → `< 14`.
fn promql_threshold(written: &str) -> Option<String> {
    let op_end = written.find(|c: char| c.is_ascii_digit())?;
    let op = match written[..op_end].trim() {
        "≥" => ">=",
        "≤" => "<=",
        other => other,
    };
    let rest = &written[op_end..];
    let number_end = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let number: f64 = rest[..number_end].parse().ok()?;
    let value = if rest[number_end..].trim_start().starts_with('%') {
        number / 100.0
    } else {
        number
    };
    Some(format!("{op} {value}"))
}

/// Where alerts go, in the words checklists use for it: a `#channel`, then
/// the services by name.
const RECEIVERS: &[&str] = &[
    "pagerduty",
    "opsgenie",
    "slack",
    "email",
    "webhook",
    "teams",
];

/// Alert routing, receivers and silences: `alertmanager` at `${var:alertmanager_url}`.
pub fn alert_routing(f: &Facts) -> Option<Draft> {
    let silences = f.has(&["silence", "silences"]);
    if !silences && !f.has_around(&["alert", "alerts", "alerting", "alertmanager"]) {
        return None;
    }
    let mut d = Draft::new("alertmanager", Node::map());
    let default = f
        .urls
        .iter()
        .find(|u| services::by_port(u).is_some_and(|s| s.name == "alertmanager"))
        .map_or_else(
            || "http://127.0.0.1:9093".to_owned(),
            |u| services::base_of(u),
        );
    let url = d.var("alertmanager_url", "ALERTMANAGER_URL", &default);
    let mut settings = Node::map().with("url", Node::s(url));
    if silences {
        let age = numbers::any_duration(&f.text).unwrap_or_else(|| {
            d = d.clone().guessed("7 days");
            "7d".to_owned()
        });
        settings.set("expect/silences/max_age", Node::s(age.clone()));
        d.settings = settings;
        return Some(d.why(format!("no active silence older than {age}")));
    }
    let channel = f
        .text
        .split(|c: char| c.is_whitespace() || "`(),".contains(c))
        .find_map(|w| w.strip_prefix('#'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase);
    let named: Vec<&str> = RECEIVERS.iter().copied().filter(|r| f.has(&[r])).collect();
    if f.has(&["receiver", "receivers"]) {
        let names: Vec<String> = channel
            .into_iter()
            .chain(named.iter().map(|s| (*s).to_owned()))
            .collect();
        if names.is_empty() {
            settings.set("expect/receivers", Node::list(["NAME"]));
            d.settings = settings;
            return Some(d.todo("name the receivers this item means (`receivers: [pager]`)"));
        }
        d = d
            .why(format!(
                "receivers {} configured, each with an integration",
                names.join(", ")
            ))
            .guessed("the receiver names");
        settings.set("expect/receivers", Node::list(names));
        d.settings = settings;
        return Some(d);
    }
    let receiver = channel.or_else(|| named.first().map(|s| (*s).to_owned()))?;
    let severity = if f.has_around(&["warning", "warnings"]) {
        "warning"
    } else {
        "critical"
    };
    let route = Node::map()
        .with("labels/severity", Node::s(severity))
        .with("receiver", Node::s(receiver.clone()));
    settings.set("expect/routes", Node::List(vec![route]));
    d.settings = settings;
    Some(
        d.why(format!(
            "an alert labelled severity {severity} is routed to `{receiver}` (the route tree, read-only)"
        ))
        .guessed("the receiver name"),
    )
}

/// Every Prometheus target up.
pub fn prometheus_targets(f: &Facts) -> Option<Draft> {
    let mut d = Draft::new("prometheus", Node::map());
    let url = prometheus_url(&mut d, f);
    d.settings.set("url", Node::s(url));
    d.settings.set("expect/targets", Node::s("all_up"));
    Some(d.why("every active target up"))
}

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
        assert_eq!(alert_name("p99 latency > 2s for 10 minutes"), "P99Latency");
        assert_eq!(alert_name("High 5xx ratio"), "High5xxRatio");
    }

    #[test]
    fn thresholds_as_promql_writes_them() {
        assert_eq!(promql_threshold("> 5%").as_deref(), Some("> 0.05"));
        assert_eq!(promql_threshold("> 90%").as_deref(), Some("> 0.9"));
        assert_eq!(promql_threshold(">= 3s").as_deref(), Some(">= 3"));
        assert_eq!(promql_threshold("< 14 days").as_deref(), Some("< 14"));
        assert_eq!(promql_threshold("≤ 1.5").as_deref(), Some("<= 1.5"));
        assert_eq!(promql_threshold("> much"), None);
        assert_eq!(
            worded_threshold("Disk usage above 85% for 15 minutes").as_deref(),
            Some("> 85%")
        );
        assert_eq!(
            worded_threshold("free memory under 10").as_deref(),
            Some("< 10")
        );
    }
}
