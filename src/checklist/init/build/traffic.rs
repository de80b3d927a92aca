//! Builders that plan traffic: rate limits and load tests, held to the
//! text's figures and never over the caps.

use super::super::claims::Facts;
use super::super::render::Node;
use super::super::rules::Draft;
use super::{CAP_REQUESTS, CAP_SECONDS, request};

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
