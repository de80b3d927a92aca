//! Quantities in an item's text, with their units, in the forms checklists
//! write them: `p95 < 2ms`, `< 100ms (p95)`, `500 concurrent users`,
//! `0% error rate`, `149 req/s`, `10 RPS`, `100 requests / 15 minutes`,
//! `valid for 30 days`, `4 tools`, `returns 201`, `for 5 minutes`.

use std::sync::LazyLock;

use regex::Regex;

/// The quantities found in one claim's text. Each is `None` (or empty) when the
/// text does not state it; nothing here is a default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quantities {
    /// Latency percentiles with their upper bound: `("p95", "2ms")`.
    pub percentiles: Vec<(String, String)>,
    /// An upper bound on latency without a percentile (`responds < 50ms`).
    pub latency: Option<String>,
    /// Concurrent users or requests (`500 concurrent users`, `100+ concurrent requests`).
    pub concurrency: Option<u64>,
    /// The most errors allowed, as a percentage (`0%`).
    pub error_rate: Option<String>,
    /// A sustained rate: `149/s`, `1000/min` (`149 req/s`, `10 RPS`).
    pub throughput: Option<Rate>,
    /// A fixed-window limit: so many requests per window (`100 requests / 15 minutes`).
    pub window: Option<(u64, String)>,
    /// A number of days (`valid for 30 days`, `< 30 days`).
    pub days: Option<u64>,
    /// How long something runs (`for 5 minutes` → `5m`, `after 1hr run` → `1h`).
    pub duration: Option<String>,
    /// Counted things: `(4, "tools")`.
    pub counts: Vec<(u64, String)>,
    /// An HTTP status the text says is answered (`returns 201`).
    pub status: Option<u16>,
    /// A threshold as written (`> 5%`, `> 3s`), for alerting rules.
    pub threshold: Option<String>,
}

/// A rate: so many per second or per minute.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// How many.
    pub count: u64,
    /// `s` or `min`.
    pub per: &'static str,
}

impl Rate {
    /// As vouch writes it: `149/s`.
    pub fn text(&self) -> String {
        format!("{}/{}", self.count, self.per)
    }

    /// Requests per second, rounded up.
    pub fn per_second(&self) -> u64 {
        match self.per {
            "min" => self.count.div_ceil(60),
            _ => self.count,
        }
    }
}

impl Quantities {
    /// Whether the text states anything a load test could be held to.
    pub fn has_load_numbers(&self) -> bool {
        !self.percentiles.is_empty()
            || self.latency.is_some()
            || self.concurrency.is_some()
            || self.error_rate.is_some()
            || self.throughput.is_some()
    }

    /// The count of a thing (`tools`), if stated.
    pub fn count_of(&self, noun: &str) -> Option<u64> {
        self.counts.iter().find(|(_, n)| n == noun).map(|(c, _)| *c)
    }
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the patterns of this module are valid")
}

const NUM: &str = r"(\d+(?:\.\d+)?)";
const LESS: &str = r"(?:<=|<|≤|under|below|within|of|at most|max)";
const TIME_UNIT: &str = r"(ms|s|sec|seconds?|µs|us|μs)\b";

static PERCENTILE_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(p50|p90|p95|p99)\b\s*(?:latency)?\s*:?\s*\(?\s*{LESS}?\s*{NUM}\s*{TIME_UNIT}"
    ))
});
static BOUND_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"{LESS}\s*{NUM}\s*{TIME_UNIT}\s*\(?\s*(?:at\s+)?(p50|p90|p95|p99)\b"
    ))
});
static BARE_LATENCY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?:latency|response time|responds?|respond in|answers?|health check)\D{{0,12}}?{LESS}\s*{NUM}\s*{TIME_UNIT}"
    ))
});
static CONCURRENCY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(\d+)\s*\+?\s*(?:concurrent|parallel|simultaneous|virtual users|vus?\b)")
});
static ERROR_RATE_AFTER: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"{NUM}\s*%\s*(?:error|errors|failure|failed)")));
static ERROR_RATE_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?:error rate|errors?|failure rate)[^\d%>]{{0,12}}?(?:<=|<|≤|below|under|of|at most)\s*{NUM}\s*%"
    ))
});
static PER_SECOND: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(\d+)\s*\+?\s*(?:req/s|req/sec|reqs/s|requests/s|requests/sec|requests per second|rps|qps|calls/s)\b",
    )
});
static PER_MINUTE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\d+)\s*\+?\s*(?:[a-z]+)\s*(?:/|per)\s*(?:minute|min)\b"));
static WINDOW: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(\d+)\s*(?:requests?|reqs?|calls|hits)\s*(?:/|per|every|in)\s*(\d+)?\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b",
    )
});
static DAYS: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+)\s*(?:days?|d)\b"));
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:for|after|over)\s+(?:an?\s+)?(\d+)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h)\b",
    )
});
static COUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(\d+)\s+(?:mcp\s+|registered\s+|declared\s+)?(tools|resources|prompts|replicas|instances|targets)\b",
    )
});
static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:returns?|returning|answers?|answered|responds?|responding|status|with|gets?|gives?)\s+(?:an?\s+|http\s+|a\s+status\s+(?:of\s+)?)?([1-5]\d\d)\b",
    )
});
static THRESHOLD: LazyLock<Regex> =
    LazyLock::new(|| re(r"(>=|>|≥|<=|<|≤)\s*(\d+(?:\.\d+)?\s*(?:%|ms|s|days?|gb|mb)?)"));

/// Reads the quantities of `text` (any case).
pub fn read(text: &str) -> Quantities {
    let lower = text.to_lowercase();
    let mut q = Quantities::default();
    for c in PERCENTILE_FIRST.captures_iter(&lower) {
        push_percentile(&mut q, &c[1], &c[2], &c[3]);
    }
    for c in BOUND_FIRST.captures_iter(&lower) {
        push_percentile(&mut q, &c[3], &c[1], &c[2]);
    }
    if q.percentiles.is_empty() {
        q.latency = BARE_LATENCY
            .captures(&lower)
            .map(|c| duration(&c[1], &c[2]));
    }
    q.concurrency = CONCURRENCY.captures(&lower).and_then(|c| c[1].parse().ok());
    q.error_rate = ERROR_RATE_AFTER
        .captures(&lower)
        .or_else(|| ERROR_RATE_BEFORE.captures(&lower))
        .map(|c| format!("{}%", &c[1]));
    q.throughput = PER_SECOND
        .captures(&lower)
        .and_then(|c| c[1].parse().ok())
        .map(|count| Rate { count, per: "s" })
        .or_else(|| {
            PER_MINUTE
                .captures(&lower)
                .and_then(|c| c[1].parse().ok())
                .map(|count| Rate { count, per: "min" })
        });
    q.window = WINDOW.captures(&lower).and_then(|c| {
        let count = c[1].parse().ok()?;
        let n = c.get(2).map_or("1", |m| m.as_str());
        Some((count, format!("{n}{}", unit(&c[3]))))
    });
    q.days = DAYS.captures(&lower).and_then(|c| c[1].parse().ok());
    q.duration = DURATION
        .captures(&lower)
        .map(|c| format!("{}{}", &c[1], unit(&c[2])));
    q.counts = COUNT
        .captures_iter(&lower)
        .filter_map(|c| Some((c[1].parse().ok()?, c[2].to_owned())))
        .collect();
    q.status = STATUS.captures(&lower).and_then(|c| c[1].parse().ok());
    q.threshold = THRESHOLD
        .captures(&lower)
        .map(|c| format!("{} {}", &c[1], c[2].replace(' ', "")));
    q
}

fn push_percentile(q: &mut Quantities, name: &str, number: &str, unit: &str) {
    if !q.percentiles.iter().any(|(n, _)| n == name) {
        q.percentiles
            .push((name.to_owned(), duration(number, unit)));
    }
}

static ANY_DURATION: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(\d+)\s*(ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h|days?|d)\b")
});
static SIZE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(\d+(?:\.\d+)?)\s*(kb|mb|gb|tb|kib|mib|gib|tib)\b"));

/// The first duration anywhere in `text` (`TTL of 24 hours` → `24h`, `lag
/// under 30s` → `30s`, `7 days` → `7d`), for settings that are durations.
pub fn any_duration(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let c = ANY_DURATION.captures(&lower)?;
    let unit = &c[2];
    Some(if unit.starts_with('d') {
        format!("{}d", &c[1])
    } else {
        duration(&c[1], unit)
    })
}

/// The first size in `text` as written, its unit in vouch's spelling
/// (`250mb` → `(250, "MB")`, `2 GiB` → `(2, "GiB")`).
pub fn size(text: &str) -> Option<(String, String)> {
    let lower = text.to_lowercase();
    let c = SIZE.captures(&lower)?;
    let unit = c[2].to_uppercase().replace("IB", "iB");
    Some((c[1].to_owned(), unit))
}

/// `2` + `ms` → `2ms`; `3` + `seconds` → `3s`.
fn duration(number: &str, unit_word: &str) -> String {
    format!("{number}{}", unit(unit_word))
}

/// A unit word as vouch writes durations.
fn unit(word: &str) -> &'static str {
    match word {
        "ms" => "ms",
        "µs" | "us" | "μs" => "us",
        w if w.starts_with('m') => "m",
        w if w.starts_with('h') => "h",
        _ => "s",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_either_way_round() {
        assert_eq!(
            read("p95 <2ms under load").percentiles,
            [("p95".into(), "2ms".into())]
        );
        assert_eq!(
            read("Response time < 100ms (p95)").percentiles,
            [("p95".into(), "100ms".into())]
        );
        assert_eq!(
            read("p50 < 50ms, p99 < 500ms").percentiles,
            [
                ("p50".into(), "50ms".into()),
                ("p99".into(), "500ms".into())
            ]
        );
        assert_eq!(
            read("Latency < 3s p95").percentiles,
            [("p95".into(), "3s".into())]
        );
        assert!(
            read("p95 > 5s").percentiles.is_empty(),
            "a `>` is a threshold, not a target"
        );
        assert_eq!(read("p95 > 5s").threshold.as_deref(), Some("> 5s"));
    }

    #[test]
    fn load_figures() {
        let q = read("Stress testing completed (500 concurrent users, 0% error rate)");
        assert_eq!(
            (q.concurrency, q.error_rate.as_deref()),
            (Some(500), Some("0%"))
        );
        assert_eq!(
            read("149 req/s sustained")
                .throughput
                .map(|r| r.text())
                .as_deref(),
            Some("149/s")
        );
        assert_eq!(
            read("(10 RPS default)")
                .throughput
                .map(|r| r.text())
                .as_deref(),
            Some("10/s")
        );
        assert_eq!(
            read("> 1000 executions/minute")
                .throughput
                .map(|r| r.text())
                .as_deref(),
            Some("1000/min")
        );
        assert_eq!(read("Error rate < 1%").error_rate.as_deref(), Some("1%"));
        assert_eq!(
            read("Handles 100+ concurrent requests").concurrency,
            Some(100)
        );
        assert_eq!(read("300 VUs").concurrency, Some(300));
    }

    #[test]
    fn durations_and_sizes_anywhere() {
        assert_eq!(any_duration("a TTL of 24 hours").as_deref(), Some("24h"));
        assert_eq!(any_duration("lag under 30s").as_deref(), Some("30s"));
        assert_eq!(any_duration("older than 7 days").as_deref(), Some("7d"));
        assert_eq!(any_duration("Redis on 7.0 or later"), None);
        assert_eq!(size("under 250MB"), Some(("250".into(), "MB".into())));
        assert_eq!(size("capped at 2 gib"), Some(("2".into(), "GiB".into())));
        assert_eq!(size("p95 < 2ms"), None);
    }

    #[test]
    fn windows_days_counts_statuses_durations() {
        assert_eq!(
            read("100 requests / 15 minutes").window,
            Some((100, "15m".into()))
        );
        assert_eq!(
            read("60 requests per minute").window,
            Some((60, "1m".into()))
        );
        assert_eq!(read("certificate valid for 30 days").days, Some(30));
        assert_eq!(
            read("All 4 MCP tools implemented").count_of("tools"),
            Some(4)
        );
        assert_eq!(read("POST /orders returns 201").status, Some(201));
        assert_eq!(
            read("Run the load test for 5 minutes").duration.as_deref(),
            Some("5m")
        );
        assert_eq!(read("after 1hr run").duration.as_deref(), Some("1h"));
        assert_eq!(
            read("Health check: < 50ms").latency.as_deref(),
            Some("50ms")
        );
        assert_eq!(read("Code of conduct adopted"), Quantities::default());
    }
}
