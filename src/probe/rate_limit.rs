//! `rate_limit`: a bounded burst (`burst: N`) or a paced run (`rate: R/s` for
//! `duration`) against one URL, until the limiter answers `429` (or the
//! configured status); `Retry-After` and `RateLimit-*` headers; recovery after
//! the window. Runs in the isolated phase.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hyper::header::HeaderMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use tokio::time::Instant;

use super::fetch::{format_latency, millis};
use super::http::HeaderExpect;
use super::traffic::{Answer, Connection, Endpoint, Failure, header_value, kept_headers};
use super::{Budget, Check, Context, Findings, Phase, Probe, ProbeError};
use crate::expect::{Dur, Rate, format_number};

/// Without `duration:`, the longest a burst may take.
const DEFAULT_BURST_TIME: Duration = Duration::from_secs(10);

/// Pause between recovery requests.
const RECOVERY_POLL: Duration = Duration::from_millis(250);

/// Settings of a `rate_limit` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "RateLimitSettings")]
#[schemars(with = "RateLimitSettings")]
pub struct RateLimit {
    s: RateLimitSettings,
    method: String,
    url: String,
    mode: Mode,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Burst(u64),
    Paced { rate: f64, duration: Duration },
}

super::with_tls! {
    /// The `rate_limit:` settings as written.
    #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct RateLimitSettings {
        /// `get: /path` — shorthand for `method: GET` + `url`.
        #[serde(default)]
        get: Option<String>,
        /// `post: /path`.
        #[serde(default)]
        post: Option<String>,
        /// A path (resolved against the target) or an absolute URL.
        #[serde(default)]
        url: Option<String>,
        /// The method, with `url` (default `GET`).
        #[serde(default)]
        method: Option<String>,
        /// Request headers (e.g. the API key the limit is counted against).
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// A text body.
        #[serde(default)]
        body: Option<String>,
        /// Send N requests as fast as the target answers them.
        #[serde(default)]
        burst: Option<u64>,
        /// Or send at this pace (`10/s`, `600/min`) for `duration`.
        #[serde(default)]
        rate: Option<Rate>,
        /// With `rate`: how long to send. With `burst`: the longest the burst may
        /// take (default 10s).
        #[serde(default)]
        duration: Option<Dur>,
        /// Requests in flight at once (default 1: the index of the first limited
        /// response is then exact).
        #[serde(default)]
        concurrency: Option<usize>,
        /// How long to wait before the recovery request when the limited
        /// response has no usable `Retry-After` (default 1s).
        #[serde(default)]
        wait: Option<Dur>,
        /// What must hold.
        #[serde(default)]
        expect: RateLimitExpect,
    }
}

/// Expectations on a rate limiter.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitExpect {
    /// `true` (default): some response is limited. `false`: none is (the
    /// limit is not too tight for this rate).
    #[serde(default)]
    limited: Option<bool>,
    /// The first limited response comes at or before request N.
    #[serde(default)]
    within: Option<u64>,
    /// `present` (with a sane value: seconds or an HTTP date, at most a day)
    /// or `absent`, on the first limited response.
    #[serde(default)]
    retry_after: Option<Presence>,
    /// Header name → matcher, on the first limited response (on the first
    /// response when none is limited): `ratelimit-policy: { exists: true }`,
    /// `x-ratelimit-limit: { min: 1 }`.
    #[serde(default)]
    headers: BTreeMap<String, HeaderExpect>,
    /// After the `Retry-After` (or `wait`), a request succeeds again within
    /// this long of the last limited response.
    #[serde(default)]
    recovers_within: Option<Dur>,
    /// The status that means "limited" (default 429; some proxies answer 503).
    #[serde(default)]
    limited_status: Option<u16>,
}

/// `present` or `absent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// The header is sent, with a valid value.
    Present,
    /// The header is not sent.
    Absent,
}

impl TryFrom<RateLimitSettings> for RateLimit {
    type Error = String;

    fn try_from(s: RateLimitSettings) -> Result<RateLimit, String> {
        let (method, url) = super::traffic::method_and_url(
            s.get.as_deref(),
            s.post.as_deref(),
            s.url.as_deref(),
            s.method.as_deref(),
        )?;
        let mode = match (s.burst, s.rate, s.duration) {
            (Some(0), _, _) => return Err("`burst` must be at least 1".to_owned()),
            (Some(n), None, _) => Mode::Burst(n),
            (None, Some(rate), Some(duration)) => {
                if duration.0.is_zero() {
                    return Err("`duration` must be more than zero".to_owned());
                }
                Mode::Paced {
                    rate: rate.0,
                    duration: duration.0,
                }
            }
            (None, Some(_), None) => {
                return Err("`rate` needs `duration` (how long to send)".to_owned());
            }
            (Some(_), Some(_), _) => {
                return Err("give `burst` or `rate`, not both".to_owned());
            }
            (None, None, _) => {
                return Err("give `burst: N` or `rate: R/s` with `duration`".to_owned());
            }
        };
        if s.concurrency == Some(0) || s.concurrency.is_some_and(|c| c > 1000) {
            return Err("`concurrency` must be from 1 to 1000".to_owned());
        }
        let limited = s.expect.limited.unwrap_or(true);
        if !limited && (s.expect.within.is_some() || s.expect.recovers_within.is_some()) {
            return Err("`within` and `recovers_within` need `limited: true`".to_owned());
        }
        if s.expect.within == Some(0) {
            return Err("`within` counts requests from 1".to_owned());
        }
        if let Some(status) = s.expect.limited_status
            && !(100..=599).contains(&status)
        {
            return Err(format!("`limited_status` {status} is not an HTTP status"));
        }
        Ok(RateLimit {
            method,
            url,
            mode,
            s,
        })
    }
}

impl RateLimit {
    /// `rate_limit GET /api ×20`.
    pub fn describe(&self) -> String {
        match self.mode {
            Mode::Burst(n) => format!("rate_limit {} {} ×{n}", self.method, self.url),
            Mode::Paced { rate, duration } => format!(
                "rate_limit {} {} at {}/s for {}",
                self.method,
                self.url,
                format_number(rate),
                humantime::format_duration(duration)
            ),
        }
    }

    fn planned(&self) -> u64 {
        match self.mode {
            Mode::Burst(n) => n,
            Mode::Paced { rate, duration } => (rate * duration.as_secs_f64()).ceil() as u64,
        }
    }

    fn send_time(&self) -> Duration {
        match self.mode {
            Mode::Burst(_) => self.s.duration.map_or(DEFAULT_BURST_TIME, |d| d.0),
            Mode::Paced { duration, .. } => duration,
        }
    }

    fn recovery_requests(&self) -> u64 {
        self.s.expect.recovers_within.map_or(0, |d| {
            (d.0.as_millis() / RECOVERY_POLL.as_millis()) as u64 + 1
        })
    }

    fn limited_status(&self) -> u16 {
        self.s.expect.limited_status.unwrap_or(429)
    }
}

/// One request of the burst, as recorded.
struct Record {
    index: u64,
    at: Duration,
    result: Result<u16, Failure>,
    /// Every header, kept for request 1 and for each worker's first limited
    /// response: expectations may name any of them.
    headers: Option<HeaderMap>,
}

impl Probe for RateLimit {
    fn sends_http(&self) -> bool {
        true
    }

    fn budget(&self) -> Budget {
        Budget {
            phase: Phase::Isolated,
            max_requests: self.planned().saturating_add(self.recovery_requests()),
            duration: Some(
                self.send_time().saturating_add(
                    self.s
                        .expect
                        .recovers_within
                        .map_or(Duration::ZERO, |d| d.0),
                ),
            ),
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let endpoint = Arc::new(Endpoint::new(
            cx,
            &self.url,
            &self.method,
            &self.s.headers,
            self.s.body.as_deref(),
            &self.s.tls(),
        )?);
        let limited_status = self.limited_status();
        let planned = self.planned();
        let started = Instant::now();
        let stop_at = started + self.send_time();
        let next = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.s.concurrency.unwrap_or(1).min(planned as usize).max(1) {
            let (endpoint, next, stop) =
                (Arc::clone(&endpoint), Arc::clone(&next), Arc::clone(&stop));
            let (mode, timeout) = (self.mode, cx.timeout);
            workers.spawn(async move {
                let mut records = Vec::new();
                let mut connection: Option<Connection> = None;
                let mut kept_limited = false;
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= planned {
                        break;
                    }
                    if let Mode::Paced { rate, .. } = mode {
                        tokio::time::sleep_until(
                            started + Duration::from_secs_f64(i as f64 / rate),
                        )
                        .await;
                    }
                    if Instant::now() >= stop_at {
                        break;
                    }
                    let result = endpoint.exchange(&mut connection, timeout).await;
                    let at = started.elapsed();
                    let (result, headers) = match result {
                        Ok(Answer { status, headers }) => {
                            let keep = i == 0 || (status == limited_status && !kept_limited);
                            kept_limited |= status == limited_status;
                            (Ok(status), keep.then_some(headers))
                        }
                        Err(failure) => {
                            // A target that does not answer will not start to
                            // within the burst: stop rather than wait out every request.
                            stop.store(true, Ordering::Relaxed);
                            (Err(failure), None)
                        }
                    };
                    records.push(Record {
                        index: i + 1,
                        at,
                        result,
                        headers,
                    });
                }
                records
            });
        }
        let mut records: Vec<Record> = Vec::with_capacity(planned.min(100_000) as usize);
        while let Some(done) = workers.join_next().await {
            if let Ok(mut part) = done {
                records.append(&mut part);
            }
        }
        records.sort_by_key(|r| r.index);
        let burst_time = started.elapsed();
        Ok(self
            .judge(cx, &endpoint, records, started, burst_time)
            .await)
    }
}

impl RateLimit {
    async fn judge(
        &self,
        cx: &Context,
        endpoint: &Endpoint,
        records: Vec<Record>,
        started: Instant,
        burst_time: Duration,
    ) -> Findings {
        let expect = &self.s.expect;
        let limited_status = self.limited_status();
        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
        let mut failures: BTreeMap<String, u64> = BTreeMap::new();
        for r in &records {
            match &r.result {
                Ok(status) => *statuses.entry(status.to_string()).or_default() += 1,
                Err(Failure { reason, .. }) => *failures.entry(reason.clone()).or_default() += 1,
            }
        }
        let sent = records.len() as u64;
        let answered = sent - failures.values().sum::<u64>();
        let first_failure = records.iter().find_map(|r| r.result.as_ref().err());
        let first_limited = records
            .iter()
            .find(|r| r.result.as_ref().is_ok_and(|s| *s == limited_status));
        let last_limited_at = records
            .iter()
            .filter(|r| r.result.as_ref().is_ok_and(|s| *s == limited_status))
            .map(|r| r.at)
            .max();
        let first_headers = records
            .first()
            .and_then(|r| r.headers.clone())
            .unwrap_or_default();
        let limited_headers = first_limited.and_then(|r| r.headers.clone());
        // The record keeps the limit headers and those expectations name.
        let named: Vec<String> = expect
            .headers
            .keys()
            .map(|n| n.to_ascii_lowercase())
            .collect();

        let mut checks = Vec::new();
        checks.push(Check::new(
            "responses",
            "an answer to every request",
            match first_failure {
                Some(Failure { reason, .. }) => format!("{reason} after {answered} answers"),
                None => format!("{answered} of {sent} answered"),
            },
            first_failure.is_none(),
        ));
        let counts = status_counts(&statuses);
        let limited_line = first_limited.map(|r| {
            format!(
                "first {limited_status} at request {} after {}",
                r.index,
                format_latency(r.at)
            )
        });
        if expect.limited.unwrap_or(true) {
            let expected = match expect.within {
                Some(n) => format!("a {limited_status} at or before request {n}"),
                None => format!("a {limited_status} within {sent} requests"),
            };
            let passed = first_limited.is_some_and(|r| expect.within.is_none_or(|n| r.index <= n));
            let actual = limited_line
                .clone()
                .unwrap_or_else(|| format!("no {limited_status} in {sent} requests ({counts})"));
            checks.push(Check::new("limited", expected, actual, passed));
        } else {
            checks.push(Check::new(
                "not limited",
                format!("no {limited_status} in {sent} requests"),
                limited_line
                    .clone()
                    .unwrap_or_else(|| format!("none ({counts})")),
                first_limited.is_none() && sent > 0,
            ));
        }
        let judged_headers = limited_headers.as_ref().unwrap_or(&first_headers);
        if let Some(presence) = expect.retry_after {
            let value = limited_headers
                .as_ref()
                .and_then(|h| header_value(h, "retry-after"));
            let (passed, actual) = match (presence, limited_headers.is_some(), value) {
                (_, false, _) => (false, format!("no {limited_status} to read it from")),
                (Presence::Present, true, Some(v)) => match retry_after_seconds(&v) {
                    Some(s) if s <= 86_400.0 => (true, format!("{v:?}")),
                    Some(_) => (false, format!("{v:?} (more than a day)")),
                    None => (false, format!("{v:?} (neither seconds nor an HTTP date)")),
                },
                (Presence::Present, true, None) => (false, "absent".to_owned()),
                (Presence::Absent, true, None) => (true, "absent".to_owned()),
                (Presence::Absent, true, Some(v)) => (false, format!("{v:?}")),
            };
            let expected = match presence {
                Presence::Present => "present: seconds or an HTTP date, at most a day",
                Presence::Absent => "absent",
            };
            checks.push(Check::new("header retry-after", expected, actual, passed));
        }
        for (name, matcher) in &expect.headers {
            let value = header_value(judged_headers, &name.to_ascii_lowercase());
            let result = matcher.0.check_str(value.as_deref());
            checks.push(Check::new(
                format!("header {}", name.to_ascii_lowercase()),
                matcher.0.to_string(),
                match &result {
                    Ok(()) => value.map_or("absent".to_owned(), |v| format!("{v:?}")),
                    Err(e) => e.clone(),
                },
                result.is_ok(),
            ));
        }

        let mut recovery = Json::Null;
        if let Some(within) = expect.recovers_within {
            let (passed, actual, record) = match (last_limited_at, first_failure) {
                (Some(last), None) => {
                    self.recover(
                        cx,
                        endpoint,
                        started + last,
                        limited_headers.as_ref(),
                        within.0,
                    )
                    .await
                }
                (_, Some(Failure { reason, .. })) => (false, reason.clone(), Json::Null),
                (None, None) => (
                    false,
                    format!("no {limited_status} to recover from"),
                    Json::Null,
                ),
            };
            recovery = record;
            checks.push(Check::new(
                "recovery",
                format!(
                    "a success within {} of the last {limited_status}",
                    humantime::format_duration(within.0)
                ),
                actual,
                passed,
            ));
        }

        let mut summary = format!(
            "{} {} ×{sent} → {}",
            self.method,
            self.url,
            match (first_failure, &limited_line) {
                (Some(Failure { reason, .. }), _) => format!("{reason} after {answered} answers"),
                (None, Some(line)) => format!("{line}; {counts}"),
                (None, None) => format!("no {limited_status}; {counts}"),
            }
        );
        if let Some(ms) = recovery.get("recovered_after_ms").and_then(Json::as_f64) {
            summary.push_str(&format!(
                "; recovered after {}",
                format_latency(Duration::from_secs_f64(ms / 1e3))
            ));
        }
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        super::append_failures(&mut summary, &failed, 2, true);

        let mut mode = Map::new();
        match self.mode {
            Mode::Burst(n) => {
                mode.insert("burst".into(), json!(n));
            }
            Mode::Paced { rate, duration } => {
                mode.insert("rate_per_s".into(), json!(rate));
                mode.insert("duration_ms".into(), json!(millis(duration)));
            }
        }
        mode.insert("concurrency".into(), json!(self.s.concurrency.unwrap_or(1)));
        let evidence = json!({
            "request": endpoint.line(),
            "mode": mode,
            "planned": self.planned(),
            "sent": sent,
            "answered": answered,
            "elapsed_ms": millis(burst_time),
            "statuses": statuses,
            "failures": failures,
            "limited_status": limited_status,
            "first_limited": first_limited.map(|r| json!({
                "index": r.index,
                "at_ms": millis(r.at),
                "headers": r.headers.as_ref().map(|h| kept_headers(h, &named)).unwrap_or_default(),
            })),
            "first_response_headers": kept_headers(&first_headers, &named),
            "recovery": recovery,
        });
        Findings {
            checks,
            summary,
            evidence,
        }
    }

    /// Waits out `Retry-After` (or `wait`), then asks again every 250 ms
    /// until an answer is not limited or `within` of the last limited
    /// response has passed.
    async fn recover(
        &self,
        cx: &Context,
        endpoint: &Endpoint,
        last_limited: Instant,
        headers: Option<&HeaderMap>,
        within: Duration,
    ) -> (bool, String, Json) {
        let limited_status = self.limited_status();
        let advertised = headers
            .and_then(|h| header_value(h, "retry-after"))
            .and_then(|v| retry_after_seconds(&v));
        let wait = advertised
            .map(Duration::from_secs_f64)
            .or(self.s.wait.map(|d| d.0))
            .unwrap_or(Duration::from_secs(1))
            .min(within);
        let give_up = last_limited + within;
        tokio::time::sleep_until(last_limited + wait).await;
        let mut connection: Option<Connection> = None;
        let mut attempts = Vec::new();
        let mut outcome = None;
        for _ in 0..self.recovery_requests() {
            let sent_at = Instant::now();
            if sent_at > give_up {
                break;
            }
            let result = endpoint.exchange(&mut connection, cx.timeout).await;
            let after = sent_at.saturating_duration_since(last_limited);
            match result {
                Ok(Answer { status, .. }) if status != limited_status && status < 400 => {
                    attempts.push(json!({"after_ms": millis(after), "status": status}));
                    outcome = Some(after);
                    break;
                }
                Ok(Answer { status, .. }) => {
                    attempts.push(json!({"after_ms": millis(after), "status": status}));
                }
                Err(Failure { reason, .. }) => {
                    attempts.push(json!({"after_ms": millis(after), "error": reason}));
                }
            }
            tokio::time::sleep(RECOVERY_POLL).await;
        }
        let record = json!({
            "retry_after_s": advertised,
            "waited_ms": millis(wait),
            "recovered_after_ms": outcome.map(millis),
            "attempts": attempts,
        });
        match outcome {
            Some(after) if after <= within => {
                (true, format!("after {}", format_latency(after)), record)
            }
            Some(after) => (
                false,
                format!("only after {}", format_latency(after)),
                record,
            ),
            None => (
                false,
                format!(
                    "still limited {} after the last {limited_status}",
                    humantime::format_duration(within)
                ),
                record,
            ),
        }
    }
}

/// `6×200, 14×429`.
fn status_counts(statuses: &BTreeMap<String, u64>) -> String {
    if statuses.is_empty() {
        return "no answers".to_owned();
    }
    statuses
        .iter()
        .map(|(status, n)| format!("{n}×{status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `Retry-After` value in seconds from now: delay-seconds or an HTTP date
/// (a date in the past is 0).
fn retry_after_seconds(value: &str) -> Option<f64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds as f64);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(std::time::SystemTime::now())
            .map_or(0.0, |d| d.as_secs_f64()),
    )
}

impl RateLimit {
    /// The paths and URLs this probe resolves against the target, as
    /// written: loading checks a target is set for each that is a path.
    pub fn target_paths(&self) -> Vec<&str> {
        vec![self.url.as_str()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<RateLimit, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn burst_and_paced_modes_declare_their_budget() {
        let burst =
            parse("get: /api\nburst: 20\nexpect: { recovers_within: 2s }\n").expect("valid");
        let budget = burst.budget();
        assert_eq!(budget.phase, Phase::Isolated);
        assert_eq!(budget.max_requests, 20 + 9);
        assert_eq!(budget.duration, Some(Duration::from_secs(12)));
        let paced = parse("get: /api\nrate: 10/s\nduration: 3s\n").expect("valid");
        assert_eq!(paced.budget().max_requests, 30);
        assert_eq!(paced.budget().duration, Some(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_contradictory_settings() {
        for (yaml, message) in [
            ("get: /a\n", "give `burst: N`"),
            ("get: /a\nburst: 0\n", "at least 1"),
            ("get: /a\nrate: 5/s\n", "needs `duration`"),
            ("get: /a\nburst: 5\nrate: 5/s\nduration: 1s\n", "not both"),
            ("burst: 5\n", "give the URL"),
            (
                "get: /a\nburst: 5\nexpect: { limited: false, within: 3 }\n",
                "need `limited: true`",
            ),
            ("get: /a\nburst: 5\nconcurrency: 0\n", "from 1 to 1000"),
        ] {
            let err = parse(yaml).expect_err(yaml);
            assert!(err.contains(message), "{yaml}: {err}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after_seconds("2"), Some(2.0));
        assert_eq!(
            retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(0.0)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        assert!(retry_after_seconds(&later).is_some_and(|s| s > 100.0 && s <= 120.0));
        assert_eq!(retry_after_seconds("soon"), None);
    }

    #[test]
    fn counts_read_as_people_write_them() {
        let statuses = BTreeMap::from([("200".to_owned(), 6), ("429".to_owned(), 14)]);
        assert_eq!(status_counts(&statuses), "6×200, 14×429");
    }
}
