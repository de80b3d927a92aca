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
use crate::expect::{Dur, Matcher, excerpt};
use crate::outcome::bound::format_count;

/// Up to this many dependencies, each is its own check and evidence entry;
/// past it (an endpoint may report 100,000), the unhealthy ones come first,
/// up to [`SHOWN_UNHEALTHY`], and the rest are counted.
const MAX_LISTED: usize = 40;

/// Unhealthy dependencies named one by one when there are too many to list.
const SHOWN_UNHEALTHY: usize = 20;

/// The most characters of a dependency name in a summary or a check.
const NAME_CHARS: usize = 60;

/// The most characters the dependencies take in a summary line.
const SUMMARY_DEPENDENCIES: usize = 160;

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
        // A dependency named `""` would read as `dependency : DOWN`
        // (found by the `health` fuzz target).
        let name = if name.trim().is_empty() {
            "(unnamed)".to_owned()
        } else {
            name
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
    fn sends_http(&self) -> bool {
        true
    }

    fn records_response(&self) -> bool {
        true
    }

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
        record["health"] = report_evidence(&report);
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
                checks.extend(all_healthy_checks(&report.dependencies));
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

/// A check per dependency, or when there are too many, one per unhealthy
/// dependency up to [`SHOWN_UNHEALTHY`] and a count of the rest: 100,000
/// dependencies never become 100,000 checks.
fn all_healthy_checks(dependencies: &[Dependency]) -> Vec<Check> {
    if dependencies.len() <= MAX_LISTED {
        return dependencies.iter().map(dependency_check).collect();
    }
    let mut checks = Vec::new();
    let (mut unhealthy, mut healthy) = (0usize, 0usize);
    let mut worst_states = BTreeMap::new();
    for d in dependencies {
        if d.state == State::Healthy {
            healthy += 1;
            continue;
        }
        unhealthy += 1;
        if unhealthy <= SHOWN_UNHEALTHY {
            checks.push(dependency_check(d));
        } else {
            *worst_states.entry(d.state.to_string()).or_insert(0usize) += 1;
        }
    }
    let rest = unhealthy.saturating_sub(SHOWN_UNHEALTHY);
    if rest > 0 {
        let states = if worst_states.len() == 1 {
            worst_states.keys().next().cloned().unwrap_or_default()
        } else {
            "not healthy".to_owned()
        };
        checks.push(Check::new(
            "more dependencies",
            "healthy",
            format!(
                "{} more dependencies {states} ({} of {} not healthy)",
                format_count(rest),
                format_count(unhealthy),
                format_count(dependencies.len())
            ),
            false,
        ));
    }
    if healthy > 0 {
        checks.push(Check::new(
            "healthy dependencies",
            "healthy",
            format!(
                "{} of {} healthy",
                format_count(healthy),
                format_count(dependencies.len())
            ),
            true,
        ));
    }
    checks
}

fn dependency_check(d: &Dependency) -> Check {
    Check::new(
        format!("dependency {}", excerpt(&d.name, NAME_CHARS)),
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
        summary.push_str("; dependencies: ");
        summary.push_str(&dependencies_line(&report.dependencies));
    }
    if let Some(c) = checks.iter().find(|c| !c.passed && c.name == "latency") {
        summary.push_str(&format!("; latency {} > {}", c.actual, &c.expected[3..]));
    }
    summary
}

/// `db healthy, redis unhealthy`; when that would not fit in a line, the
/// count and the unhealthy ones first: `50,000 of 100,000 not healthy: dep0
/// unhealthy, dep2 unhealthy and 49,998 more`.
fn dependencies_line(dependencies: &[Dependency]) -> String {
    let shown = |d: &Dependency| format!("{} {}", excerpt(&d.name, NAME_CHARS), d.state);
    let mut all = String::new();
    for d in dependencies {
        if !all.is_empty() {
            all.push_str(", ");
        }
        all.push_str(&shown(d));
        if all.chars().count() > SUMMARY_DEPENDENCIES {
            break;
        }
    }
    if all.chars().count() <= SUMMARY_DEPENDENCIES {
        return all;
    }
    let total = format_count(dependencies.len());
    let bad: Vec<&Dependency> = dependencies
        .iter()
        .filter(|d| d.state != State::Healthy)
        .collect();
    if bad.is_empty() {
        return format!("all {total} healthy");
    }
    let mut line = format!("{} of {total} not healthy: ", format_count(bad.len()));
    let mut named = 0;
    for d in &bad {
        let next = shown(d);
        if named > 0 && line.chars().count() + next.chars().count() > SUMMARY_DEPENDENCIES {
            break;
        }
        if named > 0 {
            line.push_str(", ");
        }
        line.push_str(&next);
        named += 1;
    }
    if named < bad.len() {
        line.push_str(&format!(" and {} more", format_count(bad.len() - named)));
    }
    line
}

/// The health record: every dependency when there are few; past
/// [`MAX_LISTED`], the unhealthy ones first and the totals as numbers.
fn report_evidence(report: &Report) -> Json {
    let deps = &report.dependencies;
    if deps.len() <= MAX_LISTED {
        return json!(report);
    }
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    for d in deps {
        *by_state.entry(d.state.to_string()).or_default() += 1;
    }
    let unhealthy = deps.iter().filter(|d| d.state != State::Healthy);
    let healthy = deps.iter().filter(|d| d.state == State::Healthy);
    let listed: Vec<&Dependency> = unhealthy
        .take(SHOWN_UNHEALTHY)
        .chain(healthy)
        .take(MAX_LISTED)
        .collect();
    json!({
        "format": report.format,
        "state": report.state,
        "reported": report.reported,
        "dependencies": listed,
        "dependency_count": deps.len(),
        "by_state": by_state,
    })
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
    fn a_dependency_without_a_name_is_shown_as_unnamed() {
        let report = read(200, None, br#"{"checks":{"":{"status":"down"}}}"#);
        assert_eq!(report.dependencies[0].name, "(unnamed)");
        assert_eq!(report.state, State::Unhealthy);
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

    fn many(n: usize) -> Vec<Dependency> {
        (0..n)
            .map(|i| {
                let word = if i % 2 == 0 { "DOWN" } else { "UP" };
                Dependency {
                    name: format!("dep{i}"),
                    state: classify(word),
                    reported: word.to_owned(),
                }
            })
            .collect()
    }

    #[test]
    fn a_hundred_thousand_dependencies_make_a_few_checks_and_a_short_line() {
        let deps = many(100_000);
        let checks = all_healthy_checks(&deps);
        assert_eq!(checks.len(), SHOWN_UNHEALTHY + 2);
        assert_eq!(checks[0].name, "dependency dep0");
        assert_eq!(
            checks[SHOWN_UNHEALTHY].actual,
            "49,980 more dependencies unhealthy (50,000 of 100,000 not healthy)"
        );
        assert!(checks[SHOWN_UNHEALTHY + 1].passed);
        let line = dependencies_line(&deps);
        assert!(
            line.starts_with("50,000 of 100,000 not healthy: dep0 unhealthy, dep2 unhealthy"),
            "{line}"
        );
        assert!(line.ends_with(" more"), "{line}");
        assert!(line.chars().count() < SUMMARY_DEPENDENCIES + 40, "{line}");
        let report = Report {
            format: "spring",
            state: State::Healthy,
            reported: "UP".to_owned(),
            dependencies: deps,
        };
        let record = report_evidence(&report);
        assert_eq!(record["dependency_count"], 100_000);
        assert_eq!(record["by_state"]["unhealthy"], 50_000);
        assert_eq!(
            record["dependencies"].as_array().map(Vec::len),
            Some(MAX_LISTED)
        );
    }

    #[test]
    fn a_few_dependencies_are_listed_as_before() {
        let deps = many(3);
        assert_eq!(all_healthy_checks(&deps).len(), 3);
        assert_eq!(
            dependencies_line(&deps),
            "dep0 unhealthy, dep1 healthy, dep2 unhealthy"
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
