//! `health`: a health endpoint in any common shape — a plain 200,
//! `{"status":"UP"}` (Spring Actuator, with `components`), IETF
//! `application/health+json` (`pass`/`warn`/`fail` with `checks`), and
//! `{"checks":{"db":"ok"}}` — with every dependency's state as evidence.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::fetch::{self, Response};
use super::http::{evidence, unreachable_findings};
use super::{Check, Context, Findings, Probe, ProbeError};
use crate::expect::{Dur, Matcher};

super::with_tls! {
    /// Settings of a `health` probe.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Health {
        /// A path (resolved against the target) or an absolute URL; default `/health`.
        #[serde(default = "default_url")]
        pub url: String,
        /// Request headers (e.g. auth for a detailed health view).
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// What must hold.
        #[serde(default)]
        pub expect: HealthExpect,
    }
}

fn default_url() -> String {
    "/health".to_owned()
}

/// Expectations on a health endpoint.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthExpect {
    /// The overall state: `healthy` (default), `degraded`, `unhealthy`, or a matcher
    /// such as `[healthy, degraded]`.
    #[serde(default)]
    pub status: Option<Matcher>,
    /// `all_healthy`, or the names of dependencies that must be present and healthy.
    #[serde(default)]
    pub dependencies: Option<Dependencies>,
    /// Bounds on the time to the full response.
    #[serde(default)]
    pub latency: Option<super::http::LatencyExpect>,
}

/// Which dependencies must be healthy.
#[derive(Debug, Clone)]
pub enum Dependencies {
    /// Every dependency the endpoint reports (`all_healthy`).
    AllHealthy,
    /// These, by name.
    Named(Vec<String>),
}

impl JsonSchema for Dependencies {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Dependencies".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`all_healthy`, or the names of dependencies that must be healthy.",
            "anyOf": [
                {"const": "all_healthy"},
                {"type": "array", "items": {"type": "string"}}
            ]
        })
    }
}

impl<'de> Deserialize<'de> for Dependencies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Names(Vec<String>),
        }
        match Raw::deserialize(deserializer) {
            Ok(Raw::Word(w)) if w == "all_healthy" => Ok(Dependencies::AllHealthy),
            Ok(Raw::Word(w)) => Err(serde::de::Error::custom(format!(
                "invalid dependencies `{w}`: expected `all_healthy` or a list of names"
            ))),
            Ok(Raw::Names(names)) => Ok(Dependencies::Named(names)),
            Err(_) => Err(serde::de::Error::custom(
                "expected `all_healthy` or a list of dependency names",
            )),
        }
    }
}

/// A normalised health state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// UP, ok, healthy, pass, true.
    Healthy,
    /// warn, degraded.
    Degraded,
    /// DOWN, fail, unhealthy, error, OUT_OF_SERVICE.
    Unhealthy,
    /// A status word vouch does not know.
    Unknown,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Healthy => "healthy",
            State::Degraded => "degraded",
            State::Unhealthy => "unhealthy",
            State::Unknown => "unknown",
        })
    }
}

/// Classifies a status word as the common health formats spell it.
pub fn classify(word: &str) -> State {
    match word.trim().to_ascii_lowercase().as_str() {
        "up" | "ok" | "healthy" | "pass" | "passed" | "true" | "green" | "serving" | "alive"
        | "ready" => State::Healthy,
        "warn" | "warning" | "degraded" | "yellow" | "partial" => State::Degraded,
        "down" | "fail" | "failed" | "failure" | "unhealthy" | "error" | "critical" | "false"
        | "red" | "out_of_service" | "not_serving" | "dead" => State::Unhealthy,
        _ => State::Unknown,
    }
}

/// One dependency as the endpoint reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dependency {
    /// Its name (`db`, `db:responseTime`).
    pub name: String,
    /// The normalised state.
    pub state: State,
    /// The status word as written.
    pub reported: String,
}

/// What a health body says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Which format was recognised.
    pub format: &'static str,
    /// The overall state.
    pub state: State,
    /// The overall status word as written (or the HTTP status for plain endpoints).
    pub reported: String,
    /// Each dependency.
    pub dependencies: Vec<Dependency>,
}

/// Reads a health response in any of the common shapes.
pub fn read(status: u16, media_type: Option<&str>, body: &[u8]) -> Report {
    let http_state = if (200..300).contains(&status) {
        State::Healthy
    } else {
        State::Unhealthy
    };
    let Ok(doc) = serde_json::from_slice::<Json>(body) else {
        return Report {
            format: "plain",
            state: http_state,
            reported: format!("HTTP {status}"),
            dependencies: Vec::new(),
        };
    };
    let word = doc
        .get("status")
        .or_else(|| doc.get("health"))
        .and_then(status_word);
    let mut dependencies = Vec::new();
    let mut format = "json";
    for key in ["components", "details", "checks", "dependencies"] {
        if let Some(section) = doc.get(key) {
            let found = read_dependencies(section);
            if !found.is_empty() {
                format = match key {
                    "components" | "details" => "spring",
                    _ if media_type == Some("application/health+json") => "ietf",
                    _ if section
                        .as_object()
                        .is_some_and(|m| m.values().all(Json::is_array)) =>
                    {
                        "ietf"
                    }
                    _ => "checks",
                };
                dependencies = found;
                break;
            }
        }
    }
    if format == "json" && media_type == Some("application/health+json") {
        format = "ietf";
    }
    if format == "json"
        && word
            .as_deref()
            .is_some_and(|w| w.eq_ignore_ascii_case("up"))
    {
        format = "spring";
    }
    let (state, reported) = match word {
        Some(w) => {
            let state = match classify(&w) {
                // A failing status is never healthy, whatever the body says.
                _ if http_state == State::Unhealthy => State::Unhealthy,
                s => s,
            };
            (state, w)
        }
        None => {
            // No overall word: the worst dependency, else the HTTP status.
            let worst = dependencies
                .iter()
                .map(|d| d.state)
                .max_by_key(|s| severity(*s))
                .unwrap_or(http_state);
            let state = if http_state == State::Unhealthy {
                State::Unhealthy
            } else {
                worst
            };
            (state, format!("HTTP {status}"))
        }
    };
    Report {
        format,
        state,
        reported,
        dependencies,
    }
}

fn severity(state: State) -> u8 {
    match state {
        State::Healthy => 0,
        State::Unknown => 1,
        State::Degraded => 2,
        State::Unhealthy => 3,
    }
}

fn status_word(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Object(o) => o.get("status").and_then(status_word),
        _ => None,
    }
}

fn read_dependencies(section: &Json) -> Vec<Dependency> {
    let entry = |name: String, value: &Json| -> Option<Dependency> {
        let reported = match value {
            // IETF: a list of observations; the worst one counts.
            Json::Array(observations) => observations
                .iter()
                .filter_map(status_word)
                .max_by_key(|w| severity(classify(w)))?,
            other => status_word(other)?,
        };
        Some(Dependency {
            name,
            state: classify(&reported),
            reported,
        })
    };
    match section {
        Json::Object(map) => map
            .iter()
            .filter_map(|(name, value)| entry(name.clone(), value))
            .collect(),
        Json::Array(items) => items
            .iter()
            .filter_map(|item| {
                let name = item
                    .get("name")
                    .or_else(|| item.get("componentId"))
                    .or_else(|| item.get("id"))?
                    .as_str()?
                    .to_owned();
                entry(name, item)
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl Health {
    /// `GET /health`.
    pub fn describe(&self) -> String {
        format!("GET {}", self.url)
    }
}

impl Probe for Health {
    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let request = fetch::Request {
            method: reqwest::Method::GET,
            url: cx.resolve(&self.url)?,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain(
                    (!self
                        .headers
                        .keys()
                        .any(|k| k.eq_ignore_ascii_case("accept")))
                    .then(|| {
                        (
                            "accept".to_owned(),
                            "application/health+json, application/json;q=0.9, */*;q=0.5".to_owned(),
                        )
                    }),
                )
                .collect(),
            body: None,
            follow_redirects: true,
            tls: self.tls(),
        };
        let line = self.describe();
        let response = match fetch::send(cx, &request).await? {
            Ok(r) => r,
            Err(unreachable) => return Ok(unreachable_findings(&line, &request, &unreachable, cx)),
        };
        let report = read(
            response.status,
            response.media_type().as_deref(),
            &response.body,
        );
        let checks = self.check(&report, &response);
        let summary = summarize(&line, &response, &report, &checks);
        let mut record = evidence(&request, Some(&response), cx);
        record["health"] = json!(report);
        Ok(Findings {
            checks,
            summary,
            evidence: record,
        })
    }
}

impl Health {
    fn check(&self, report: &Report, response: &Response) -> Vec<Check> {
        let mut checks = Vec::new();
        let shown = if report.reported.starts_with("HTTP") {
            format!("{} ({})", report.state, report.reported)
        } else {
            format!(
                "{} ({}, HTTP {})",
                report.state, report.reported, response.status
            )
        };
        let status = self
            .expect
            .status
            .clone()
            .unwrap_or_else(|| Matcher::eq("healthy"));
        checks.push(Check::new(
            "status",
            status.to_string(),
            shown,
            status
                .check(Some(&Json::from(report.state.to_string())))
                .is_ok(),
        ));
        if response.truncated {
            checks.push(Check::new(
                "body size",
                "within the body limit",
                "cut at the limit",
                false,
            ));
        }
        match &self.expect.dependencies {
            Some(Dependencies::AllHealthy) => {
                if report.dependencies.is_empty() {
                    checks.push(Check::new(
                        "dependencies",
                        "all healthy",
                        "the endpoint reports no dependencies",
                        false,
                    ));
                }
                for d in &report.dependencies {
                    checks.push(dependency_check(d));
                }
            }
            Some(Dependencies::Named(names)) => {
                for name in names {
                    match report.dependencies.iter().find(|d| d.name == *name) {
                        Some(d) => checks.push(dependency_check(d)),
                        None => checks.push(Check::new(
                            format!("dependency {name}"),
                            "healthy",
                            "not reported",
                            false,
                        )),
                    }
                }
            }
            None => {}
        }
        if let Some(latency) = &self.expect.latency {
            let Dur(max) = latency.max;
            checks.push(Check::new(
                "latency",
                format!("<= {}", latency.max),
                fetch::format_latency(response.elapsed),
                response.elapsed <= max,
            ));
        }
        checks
    }
}

fn dependency_check(d: &Dependency) -> Check {
    Check::new(
        format!("dependency {}", d.name),
        "healthy",
        format!("{} ({})", d.state, d.reported),
        d.state == State::Healthy,
    )
}

fn summarize(line: &str, r: &Response, report: &Report, checks: &[Check]) -> String {
    let mut summary = format!(
        "{line} → {} in {}; {} ({})",
        r.status,
        fetch::format_latency(r.elapsed),
        report.state,
        report.reported
    );
    if !report.dependencies.is_empty() {
        let deps: Vec<String> = report
            .dependencies
            .iter()
            .map(|d| format!("{} {}", d.name, d.state))
            .collect();
        summary.push_str(&format!("; dependencies: {}", deps.join(", ")));
    }
    if let Some(c) = checks.iter().find(|c| !c.passed && c.name == "latency") {
        summary.push_str(&format!("; latency {} > {}", c.actual, &c.expected[3..]));
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(report: &Report) -> Vec<(&str, State)> {
        report
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.state))
            .collect()
    }

    #[test]
    fn plain_200_is_healthy_and_503_is_not() {
        assert_eq!(read(200, Some("text/plain"), b"OK").state, State::Healthy);
        assert_eq!(read(503, None, b"").state, State::Unhealthy);
        assert_eq!(read(200, None, b"").format, "plain");
    }

    #[test]
    fn spring_actuator_with_components() {
        let body = br#"{"status":"UP","components":{"db":{"status":"UP","details":{}},"diskSpace":{"status":"DOWN"}}}"#;
        let r = read(
            200,
            Some("application/vnd.spring-boot.actuator.v3+json"),
            body,
        );
        assert_eq!(r.format, "spring");
        assert_eq!(r.state, State::Healthy);
        assert_eq!(
            names(&r),
            vec![("db", State::Healthy), ("diskSpace", State::Unhealthy)]
        );
    }

    #[test]
    fn ietf_health_json_takes_the_worst_observation() {
        let body = br#"{"status":"warn","checks":{"db:responseTime":[{"status":"pass"},{"status":"fail"}],"cache":[{"status":"pass"}]}}"#;
        let r = read(200, Some("application/health+json"), body);
        assert_eq!(r.format, "ietf");
        assert_eq!(r.state, State::Degraded);
        assert_eq!(
            names(&r),
            vec![
                ("db:responseTime", State::Unhealthy),
                ("cache", State::Healthy)
            ]
        );
    }

    #[test]
    fn simple_checks_map_without_overall_status_takes_the_worst() {
        let r = read(
            200,
            Some("application/json"),
            br#"{"checks":{"db":"ok","redis":"down"}}"#,
        );
        assert_eq!(r.format, "checks");
        assert_eq!(r.state, State::Unhealthy);
        assert_eq!(
            names(&r),
            vec![("db", State::Healthy), ("redis", State::Unhealthy)]
        );
    }

    #[test]
    fn etcd_style_health_true() {
        let r = read(200, Some("application/json"), br#"{"health":"true"}"#);
        assert_eq!(r.state, State::Healthy);
    }

    #[test]
    fn a_failing_status_is_never_healthy() {
        assert_eq!(
            read(503, None, br#"{"status":"UP"}"#).state,
            State::Unhealthy
        );
    }

    #[test]
    fn unknown_word_on_503_is_unhealthy() {
        let r = read(503, None, br#"{"status":"maintenance"}"#);
        assert_eq!(r.state, State::Unhealthy);
        assert_eq!(
            read(200, None, br#"{"status":"maintenance"}"#).state,
            State::Unknown
        );
    }
}
