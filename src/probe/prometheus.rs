//! `prometheus`: asks a Prometheus server's HTTP API whether the monitoring
//! itself works — every active target up, alerting rules loaded and healthy,
//! no alert firing that should not, PromQL expressions within bounds.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Value as Json, json};
use url::Url;

use super::fetch;
use super::http::unreachable_findings;
use super::metrics::{LabelMatcher, Labels};
use super::{Budget, Check, Context, Findings, Probe, ProbeError, append_failures};
use crate::expect::{self, Matcher, Size};

mod rules;

pub use rules::{RuleExpect, RulesExpect};
use rules::{RulesSchema, check_rules};

/// The default cap on each API answer: large setups list thousands of targets.
pub const DEFAULT_BODY_LIMIT: u64 = 32 << 20;

/// Rows of each kind kept as evidence.
pub(crate) const SHOWN: usize = 20;

super::with_tls! {
    /// Settings of a `prometheus` probe.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Prometheus {
        /// The server's base URL, or a path on the target; default: the target.
        #[serde(default)]
        pub url: Option<String>,
        /// Request headers (e.g. `authorization` in front of a protected server).
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// The most bytes of each API answer read; default 32 MiB, or the run's
        /// body limit when that is larger.
        #[serde(default)]
        pub body_limit: Option<Size>,
        /// What must hold.
        #[serde(default)]
        pub expect: PrometheusExpect,
    }
}

/// Expectations on a Prometheus server. With none, its build info must answer.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusExpect {
    /// `all_up`, or `{jobs: [node, api]}`: every active target (of those jobs) up.
    #[serde(default, deserialize_with = "targets")]
    #[schemars(with = "TargetsSchema")]
    pub targets: Option<TargetsExpect>,
    /// `[name, …]`: rules (alerting or recording) that must be loaded, with
    /// `health: ok`, each a name or `{name, expr, for, labels, annotations}`;
    /// or `{all_healthy: true, names: [...]}`.
    #[serde(default, deserialize_with = "rules::rules")]
    #[schemars(with = "RulesSchema")]
    pub rules: Option<RulesExpect>,
    /// Firing alerts: label matchers and how many may fire (default none).
    #[serde(default)]
    pub alerts_firing: Option<AlertsExpect>,
    /// Instant PromQL queries; every returned sample must satisfy `value`.
    #[serde(default)]
    pub query: Vec<QueryExpect>,
}

/// Which targets must be up.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetsExpect {
    /// These jobs, each with at least one active target, all up; default: every job.
    #[serde(default)]
    pub jobs: Vec<String>,
}

/// The schema of `targets:`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum TargetsSchema {
    /// `all_up`.
    AllUp(AllUp),
    /// By job.
    Jobs(TargetsExpect),
}

/// The word `all_up`.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum AllUp {
    /// Every active target up.
    #[serde(rename = "all_up")]
    AllUp,
}

/// Reads `all_up` or a map.
fn targets<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<TargetsExpect>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<TargetsExpect>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("`all_up` or `{jobs: [...]}`")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v == "all_up" {
                Ok(Some(TargetsExpect::default()))
            } else {
                Err(E::custom(format!(
                    "invalid targets `{v}`: expected `all_up` or `{{jobs: [...]}}`"
                )))
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            TargetsExpect::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    deserializer.deserialize_any(V)
}

/// Firing alerts that are (not) allowed.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsExpect {
    /// Label matchers selecting alerts (`severity: critical`, `alertname: '=~Disk.*'`).
    #[serde(default)]
    pub labels: Labels,
    /// A matcher on how many selected alerts fire (default `0`).
    #[serde(default)]
    pub count: Option<Matcher>,
}

/// One instant query.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryExpect {
    /// The PromQL expression.
    pub promql: String,
    /// A matcher every returned sample's value must satisfy.
    #[serde(default)]
    pub value: Option<Matcher>,
    /// Pass on an empty result (default: an empty result fails).
    #[serde(default)]
    pub allow_empty: bool,
}

impl Prometheus {
    /// `prometheus /api/v1/…`.
    pub fn describe(&self) -> String {
        format!("prometheus {}", self.url.as_deref().unwrap_or("(target)"))
    }

    fn base(&self, cx: &Context) -> Result<Url, ProbeError> {
        cx.resolve(self.url.as_deref().unwrap_or(""))
    }

    fn request(&self, base: &Url, api: &str, query: &[(&str, &str)]) -> fetch::Request {
        fetch::Request::api_get(base, api, query, &self.headers, self.tls())
    }
}

/// One API answer: its `data`, or why there is none.
enum Answer {
    Data(Json),
    Failed(String),
}

/// Calls one API endpoint. `Err(findings)` when the server is unreachable.
async fn call(
    cx: &Context,
    request: &fetch::Request,
    line: &str,
) -> Result<Result<Answer, Findings>, ProbeError> {
    let response = match fetch::send(cx, request).await? {
        Ok(r) => r,
        Err(unreachable) => {
            return Ok(Err(unreachable_findings(line, request, &unreachable, cx)));
        }
    };
    if response.truncated {
        return Ok(Ok(Answer::Failed(format!(
            "answer larger than {} (raise `body_limit`)",
            expect::format_size(cx.body_limit)
        ))));
    }
    let mut doc: Json = match serde_json::from_slice(&response.body) {
        Ok(doc) => doc,
        Err(_) => {
            return Ok(Ok(Answer::Failed(format!(
                "HTTP {}, not a Prometheus API answer: {}",
                response.status,
                expect::one_line(&response.excerpt(80))
            ))));
        }
    };
    if doc["status"] != "success" {
        return Ok(Ok(Answer::Failed(format!(
            "HTTP {}, {}: {}",
            response.status,
            doc["errorType"].as_str().unwrap_or("error"),
            doc["error"].as_str().unwrap_or("no error given")
        ))));
    }
    Ok(Ok(Answer::Data(doc["data"].take())))
}

impl Probe for Prometheus {
    fn sends_http(&self) -> bool {
        true
    }

    /// One API call per expectation (targets, rules, alerts, each query), or
    /// `buildinfo` when none is asked.
    fn budget(&self) -> Budget {
        let e = &self.expect;
        let calls = u64::from(e.targets.is_some())
            + u64::from(e.rules.is_some())
            + u64::from(e.alerts_firing.is_some())
            + e.query.len() as u64;
        Budget {
            max_requests: calls.max(1),
            ..Budget::SINGLE
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let cx = &cx.with_body_limit(self.body_limit.map(|s| s.0), DEFAULT_BODY_LIMIT);
        let base = self.base(cx)?;
        let line = self.describe();
        let mut checks = Vec::new();
        let mut record = serde_json::Map::new();
        record.insert("url".to_owned(), json!(base.as_str()));
        let e = &self.expect;
        let nothing_asked = e.targets.is_none()
            && e.rules.is_none()
            && e.alerts_firing.is_none()
            && e.query.is_empty();
        if nothing_asked {
            let request = self.request(&base, "/api/v1/status/buildinfo", &[]);
            match call(cx, &request, &line).await? {
                Err(findings) => return Ok(findings),
                Ok(Answer::Data(data)) => {
                    checks.push(Check::new(
                        "buildinfo",
                        "a Prometheus API answer",
                        format!("Prometheus {}", data["version"].as_str().unwrap_or("?")),
                        true,
                    ));
                    record.insert("buildinfo".to_owned(), data);
                }
                Ok(Answer::Failed(why)) => {
                    checks.push(Check::new(
                        "buildinfo",
                        "a Prometheus API answer",
                        why,
                        false,
                    ));
                }
            }
        }
        if let Some(want) = &e.targets {
            let request = self.request(&base, "/api/v1/targets", &[("state", "active")]);
            match call(cx, &request, &line).await? {
                Err(findings) => return Ok(findings),
                Ok(Answer::Data(data)) => {
                    let (more, fact) = check_targets(want, &data);
                    checks.extend(more);
                    record.insert("targets".to_owned(), fact);
                }
                Ok(Answer::Failed(why)) => {
                    checks.push(Check::new("targets", "all up", why, false));
                }
            }
        }
        if let Some(want) = &e.rules {
            // Alerting and recording rules alike.
            let request = self.request(&base, "/api/v1/rules", &[]);
            match call(cx, &request, &line).await? {
                Err(findings) => return Ok(findings),
                Ok(Answer::Data(data)) => {
                    let (more, fact) = check_rules(want, &data);
                    checks.extend(more);
                    record.insert("rules".to_owned(), fact);
                }
                Ok(Answer::Failed(why)) => {
                    checks.push(Check::new("rules", "loaded", why, false));
                }
            }
        }
        if let Some(want) = &e.alerts_firing {
            let request = self.request(&base, "/api/v1/alerts", &[]);
            match call(cx, &request, &line).await? {
                Err(findings) => return Ok(findings),
                Ok(Answer::Data(data)) => {
                    let (check, fact) = check_alerts(want, &data);
                    checks.push(check);
                    record.insert("alerts".to_owned(), fact);
                }
                Ok(Answer::Failed(why)) => {
                    checks.push(Check::new("alerts firing", "an answer", why, false));
                }
            }
        }
        let mut queries = Vec::new();
        for q in &e.query {
            let request = self.request(&base, "/api/v1/query", &[("query", q.promql.as_str())]);
            match call(cx, &request, &line).await? {
                Err(findings) => return Ok(findings),
                Ok(Answer::Data(data)) => {
                    let (check, fact) = check_query(q, &data);
                    checks.push(check);
                    queries.push(fact);
                }
                Ok(Answer::Failed(why)) => {
                    checks.push(Check::new(
                        format!("query {}", q.promql),
                        "a result",
                        why,
                        false,
                    ));
                    queries.push(json!({"promql": q.promql}));
                }
            }
        }
        if !queries.is_empty() {
            record.insert("queries".to_owned(), Json::Array(queries));
        }
        let passed = checks.iter().filter(|c| c.passed).count();
        let mut summary = format!("{line}: {passed}/{} checks held", checks.len());
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        append_failures(&mut summary, &failed, 2, true);
        Ok(Findings {
            checks,
            summary,
            evidence: Json::Object(record),
        })
    }
}

fn label<'a>(labels: &'a Json, name: &str) -> &'a str {
    labels[name].as_str().unwrap_or("")
}

fn check_targets(want: &TargetsExpect, data: &Json) -> (Vec<Check>, Json) {
    let active: &[Json] = data["activeTargets"].as_array().map_or(&[], Vec::as_slice);
    let mut by_job: BTreeMap<&str, Vec<&Json>> = BTreeMap::new();
    for target in active {
        by_job
            .entry(label(&target["labels"], "job"))
            .or_default()
            .push(target);
    }
    let jobs: Vec<&str> = if want.jobs.is_empty() {
        by_job.keys().copied().collect()
    } else {
        want.jobs.iter().map(String::as_str).collect()
    };
    let mut checks = Vec::new();
    if want.jobs.is_empty() && active.is_empty() {
        checks.push(Check::new("targets", "all up", "no active targets", false));
    }
    for job in jobs {
        let targets = by_job.get(job).map_or(&[][..], Vec::as_slice);
        let down: Vec<String> = targets
            .iter()
            .filter(|t| t["health"] != "up")
            .map(|t| {
                let error = t["lastError"].as_str().unwrap_or("");
                format!(
                    "{} {}{}",
                    t["scrapeUrl"].as_str().unwrap_or("?"),
                    t["health"].as_str().unwrap_or("?"),
                    if error.is_empty() {
                        String::new()
                    } else {
                        format!(" ({error})")
                    }
                )
            })
            .collect();
        let actual = if targets.is_empty() {
            "no active targets".to_owned()
        } else if down.is_empty() {
            format!("{}/{} up", targets.len(), targets.len())
        } else {
            format!(
                "{}/{} up; down: {}",
                targets.len() - down.len(),
                targets.len(),
                down.join(", ")
            )
        };
        checks.push(Check::new(
            format!("targets job={job}"),
            "all up",
            actual,
            !targets.is_empty() && down.is_empty(),
        ));
    }
    // Down targets first: they are what the evidence is read for.
    let mut shown: Vec<&Json> = active.iter().collect();
    shown.sort_by_key(|t| t["health"] == "up");
    let rows: Vec<Json> = shown
        .iter()
        .take(SHOWN)
        .map(|t| {
            json!({
                "job": label(&t["labels"], "job"),
                "instance": label(&t["labels"], "instance"),
                "scrape_url": t["scrapeUrl"],
                "health": t["health"],
                "last_error": t["lastError"],
                "last_scrape": t["lastScrape"],
            })
        })
        .collect();
    let up = active.iter().filter(|t| t["health"] == "up").count();
    (
        checks,
        json!({"active": active.len(), "up": up, "shown": rows}),
    )
}

fn labels_match(labels: &Labels, alert_labels: &Json) -> bool {
    labels
        .iter()
        .all(|(name, m): (&String, &LabelMatcher)| m.matches(alert_labels[name].as_str()))
}

fn check_alerts(want: &AlertsExpect, data: &Json) -> (Check, Json) {
    let firing: Vec<&Json> = data["alerts"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|a| a["state"] == "firing" && labels_match(&want.labels, &a["labels"]))
        .collect();
    let count = want.count.clone().unwrap_or_else(|| Matcher::eq(0));
    let names: Vec<&str> = firing
        .iter()
        .map(|a| label(&a["labels"], "alertname"))
        .collect();
    let actual = if firing.is_empty() {
        "none firing".to_owned()
    } else {
        format!("{} firing: {}", firing.len(), names.join(", "))
    };
    let selector = if want.labels.is_empty() {
        String::new()
    } else {
        let inner: Vec<String> = want.labels.iter().map(|(k, m)| format!("{k}{m}")).collect();
        format!(" {{{}}}", inner.join(","))
    };
    let check = Check::new(
        format!("alerts firing{selector}"),
        count.to_string(),
        actual,
        count.check(Some(&Json::from(firing.len()))).is_ok(),
    );
    let rows: Vec<Json> = firing
        .iter()
        .take(SHOWN)
        .map(|a| json!({"labels": a["labels"], "active_at": a["activeAt"], "value": a["value"]}))
        .collect();
    (check, json!({"firing": firing.len(), "alerts": rows}))
}

/// `(labels as text, value)` of every sample in a query result.
fn samples(data: &Json) -> Vec<(String, Option<f64>)> {
    let value_of = |pair: &Json| pair[1].as_str().and_then(parse_value);
    let show_labels = |metric: &Json| {
        let Some(map) = metric.as_object() else {
            return "{}".to_owned();
        };
        let inner: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", v)).collect();
        format!("{{{}}}", inner.join(","))
    };
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|s| (show_labels(&s["metric"]), value_of(&s["value"])))
            .collect(),
        Some("scalar") => vec![("scalar".to_owned(), value_of(&data["result"]))],
        Some("matrix") => data["result"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|s| {
                let last = s["values"].as_array()?.last()?;
                Some((show_labels(&s["metric"]), value_of(last)))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Prometheus writes values as strings, `NaN` and `+Inf` included.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

fn check_query(q: &QueryExpect, data: &Json) -> (Check, Json) {
    let found = samples(data);
    let name = format!("query {}", q.promql);
    let expected = q
        .value
        .as_ref()
        .map_or_else(|| "a non-empty result".to_owned(), Matcher::to_string);
    let show = |(labels, value): &(String, Option<f64>)| {
        format!(
            "{labels} {}",
            value.map_or_else(|| "?".to_owned(), super::metrics::show_value)
        )
    };
    let failing: Vec<&(String, Option<f64>)> = match &q.value {
        Some(m) => found
            .iter()
            .filter(|(_, v)| v.is_none_or(|v| m.check(Some(&Json::from(v))).is_err()))
            .collect(),
        None => Vec::new(),
    };
    let (actual, passed) = if found.is_empty() {
        ("empty result".to_owned(), q.allow_empty)
    } else if let Some(bad) = failing.first() {
        let more = if failing.len() > 1 {
            format!(" (and {} more)", failing.len() - 1)
        } else {
            String::new()
        };
        (format!("{}{more}", show(bad)), false)
    } else if found.len() == 1 {
        (show(&found[0]), true)
    } else {
        (
            format!(
                "all {} samples within, e.g. {}",
                found.len(),
                show(&found[0])
            ),
            true,
        )
    };
    let rows: Vec<String> = found.iter().take(SHOWN).map(show).collect();
    let fact = json!({
        "promql": q.promql,
        "result_type": data["resultType"],
        "samples": found.len(),
        "result": rows,
    });
    (Check::new(name, expected, actual, passed), fact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prometheus(yaml: &str) -> Result<Prometheus, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn targets_all_up_or_by_job() {
        let p = prometheus("expect: {targets: all_up}").expect("valid");
        assert!(p.expect.targets.is_some_and(|t| t.jobs.is_empty()));
        let p = prometheus("expect: {targets: {jobs: [node]}}").expect("valid");
        assert_eq!(
            p.expect.targets.map(|t| t.jobs),
            Some(vec!["node".to_owned()])
        );
        let err = prometheus("expect: {targets: some_up}").expect_err("invalid");
        assert!(err.contains("all_up"), "{err}");
    }

    #[test]
    fn a_down_target_is_named_with_its_error() {
        let data = serde_json::json!({"activeTargets": [
            {"labels": {"job": "node", "instance": "a"}, "scrapeUrl": "http://a/metrics", "health": "up", "lastError": ""},
            {"labels": {"job": "node", "instance": "b"}, "scrapeUrl": "http://b/metrics", "health": "down", "lastError": "connection refused"}
        ]});
        let (checks, fact) = check_targets(&TargetsExpect::default(), &data);
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].passed);
        assert_eq!(
            checks[0].actual,
            "1/2 up; down: http://b/metrics down (connection refused)"
        );
        assert_eq!(fact["shown"][0]["instance"], "b", "down ones first");
    }

    #[test]
    fn an_empty_query_result_fails_unless_allowed() {
        let data = serde_json::json!({"resultType": "vector", "result": []});
        let q: QueryExpect = crate::spec::de::from_yaml("{promql: up == 0}").expect("valid");
        assert!(!check_query(&q, &data).0.passed);
        let q: QueryExpect =
            crate::spec::de::from_yaml("{promql: up == 0, allow_empty: true}").expect("valid");
        assert!(check_query(&q, &data).0.passed);
    }

    #[test]
    fn every_sample_must_satisfy_the_matcher() {
        let data = serde_json::json!({"resultType": "vector", "result": [
            {"metric": {"instance": "a"}, "value": [1.0, "0.002"]},
            {"metric": {"instance": "b"}, "value": [1.0, "0.3"]}
        ]});
        let q: QueryExpect =
            crate::spec::de::from_yaml("{promql: x, value: {max: 0.01}}").expect("valid");
        let (check, _) = check_query(&q, &data);
        assert!(!check.passed);
        assert_eq!(check.actual, "{instance=\"b\"} 0.3");
    }
}
