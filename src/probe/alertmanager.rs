//! `alertmanager`: asks an Alertmanager's v2 API whether alerts can reach
//! people — receivers configured with an integration, no stale or endless
//! silences, an alert with given labels routed to the right receiver, the
//! cluster formed. Read-only: routing is computed from the loaded route
//! tree, no alert is sent.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use url::Url;

use super::fetch;
use super::http::unreachable_findings;
use super::{Budget, Check, Context, Findings, Probe, ProbeError, append_failures};
use crate::expect::{self, Dur, Matcher};

mod route;

use route::Route;

/// Silences kept as evidence.
const SHOWN: usize = 20;

/// The least cap on each API answer: the status carries the configuration.
const DEFAULT_BODY_LIMIT: u64 = 8 << 20;

super::with_tls! {
    /// Settings of an `alertmanager` probe.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Alertmanager {
        /// The Alertmanager's base URL, or a path on the target; default: the target.
        #[serde(default)]
        pub url: Option<String>,
        /// Request headers (e.g. `authorization` in front of a protected server).
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// What must hold.
        #[serde(default)]
        pub expect: AlertmanagerExpect,
    }
}

/// Expectations on an Alertmanager. With none, its status must answer.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerExpect {
    /// Receivers that must be configured, each with at least one integration
    /// (a receiver without one drops what is routed to it).
    #[serde(default)]
    pub receivers: Vec<String>,
    /// Alerts by labels and the receiver the route tree sends each to.
    #[serde(default)]
    pub routes: Vec<RouteExpect>,
    /// Bounds on the active silences.
    #[serde(default)]
    pub silences: Option<SilencesExpect>,
    /// A matcher on the cluster's state (`ready`; `disabled` without gossip).
    #[serde(default)]
    pub cluster: Option<Matcher>,
    /// A matcher on the number of cluster peers, itself included (`{min: 2}` for HA).
    #[serde(default)]
    pub peers: Option<Matcher>,
}

/// An alert's labels and where it must be routed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteExpect {
    /// The alert's labels (`alertname`, `severity`, `team`, …).
    pub labels: BTreeMap<String, String>,
    /// The receiver it must reach (one of several when routes `continue`).
    pub receiver: String,
}

/// Bounds on the active silences (expired and pending ones are not counted).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SilencesExpect {
    /// No active silence started longer ago than this (`7d`).
    #[serde(default)]
    pub max_age: Option<Dur>,
    /// No active silence lasts longer than this from start to end (`30d`).
    #[serde(default)]
    pub max_duration: Option<Dur>,
    /// A matcher on how many silences are active.
    #[serde(default)]
    pub count: Option<Matcher>,
}

impl Alertmanager {
    /// `alertmanager URL`.
    pub fn describe(&self) -> String {
        format!("alertmanager {}", self.url.as_deref().unwrap_or("(target)"))
    }

    /// The paths and URLs it resolves against the target.
    pub fn target_paths(&self) -> Vec<&str> {
        vec![self.url.as_deref().unwrap_or("")]
    }

    fn request(&self, base: &Url, api: &str) -> fetch::Request {
        fetch::Request::api_get(base, api, &[], &self.headers, self.tls())
    }

    fn wants_status(&self) -> bool {
        let e = &self.expect;
        !e.receivers.is_empty()
            || !e.routes.is_empty()
            || e.cluster.is_some()
            || e.peers.is_some()
            || e.silences.is_none()
    }
}

/// Calls one v2 endpoint: its JSON, or why there is none; `Err(findings)`
/// when the server is unreachable.
async fn call(
    cx: &Context,
    request: &fetch::Request,
    line: &str,
) -> Result<Result<Result<Json, String>, Findings>, ProbeError> {
    let response = match fetch::send(cx, request).await? {
        Ok(r) => r,
        Err(unreachable) => {
            return Ok(Err(unreachable_findings(line, request, &unreachable, cx)));
        }
    };
    if response.truncated {
        return Ok(Ok(Err(format!(
            "answer larger than {}",
            expect::format_size(cx.body_limit)
        ))));
    }
    if !(200..300).contains(&response.status) {
        return Ok(Ok(Err(format!(
            "HTTP {}: {}",
            response.status,
            expect::one_line(&response.excerpt(120))
        ))));
    }
    Ok(Ok(serde_json::from_slice(&response.body).map_err(|_| {
        format!(
            "HTTP {}, not an Alertmanager API answer: {}",
            response.status,
            expect::one_line(&response.excerpt(80))
        )
    })))
}

impl Probe for Alertmanager {
    /// `/api/v2/status` and `/api/v2/silences`, each only when needed.
    fn budget(&self) -> Budget {
        Budget {
            max_requests: u64::from(self.wants_status())
                + u64::from(self.expect.silences.is_some()),
            ..Budget::SINGLE
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        // A status holds the whole configuration, templates included.
        let cx = &cx.with_body_limit(None, DEFAULT_BODY_LIMIT);
        let base = cx.resolve(self.url.as_deref().unwrap_or(""))?;
        let line = self.describe();
        let e = &self.expect;
        let mut checks = Vec::new();
        let mut record = serde_json::Map::new();
        record.insert("url".to_owned(), json!(base.as_str()));
        if self.wants_status() {
            let request = self.request(&base, "/api/v2/status");
            match call(cx, &request, &line).await? {
                Err(findings) => return Ok(findings),
                Ok(Ok(status)) => {
                    let (more, fact) = check_status(e, &status);
                    checks.extend(more);
                    record.extend(fact);
                }
                Ok(Err(why)) => checks.push(Check::new("status", "an answer", why, false)),
            }
        }
        if let Some(want) = &e.silences {
            let request = self.request(&base, "/api/v2/silences");
            match call(cx, &request, &line).await? {
                Err(findings) => return Ok(findings),
                Ok(Ok(silences)) => {
                    let (more, fact) = check_silences(want, &silences, SystemTime::now());
                    checks.extend(more);
                    record.insert("silences".to_owned(), fact);
                }
                Ok(Err(why)) => checks.push(Check::new("silences", "an answer", why, false)),
            }
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

/// The integrations a configured receiver has: `webhook` ×1, `email` ×2, ….
fn integrations(receiver: &Json) -> Vec<String> {
    receiver
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|(key, value)| {
                    let kind = key.strip_suffix("_configs")?;
                    let n = value.as_array().map_or(0, Vec::len);
                    (n > 0).then(|| format!("{kind} ×{n}"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The checks that read `/api/v2/status`: the version, cluster and peers,
/// receivers and routes (from the loaded configuration), and its evidence.
fn check_status(
    e: &AlertmanagerExpect,
    status: &Json,
) -> (Vec<Check>, serde_json::Map<String, Json>) {
    let mut checks = Vec::new();
    let mut fact = serde_json::Map::new();
    let version = status["versionInfo"]["version"].as_str().unwrap_or("?");
    let cluster = status["cluster"]["status"].as_str().unwrap_or("unknown");
    let peers = status["cluster"]["peers"].as_array().map_or(0, Vec::len);
    fact.insert("version".to_owned(), json!(version));
    fact.insert(
        "cluster".to_owned(),
        json!({"status": cluster, "peers": peers}),
    );
    if e.receivers.is_empty() && e.routes.is_empty() && e.cluster.is_none() && e.peers.is_none() {
        checks.push(Check::new(
            "status",
            "an Alertmanager API answer",
            format!("Alertmanager {version}, cluster {cluster}"),
            status["versionInfo"].is_object(),
        ));
    }
    if let Some(m) = &e.cluster {
        checks.push(Check::new(
            "cluster",
            m.to_string(),
            cluster,
            m.check_str(Some(cluster)).is_ok(),
        ));
    }
    if let Some(m) = &e.peers {
        checks.push(Check::new(
            "cluster peers",
            m.to_string(),
            format!("{peers} (cluster {cluster})"),
            m.check(Some(&Json::from(peers))).is_ok(),
        ));
    }
    if e.receivers.is_empty() && e.routes.is_empty() {
        return (checks, fact);
    }
    let config: Result<Json, String> = status["config"]["original"]
        .as_str()
        .ok_or_else(|| "no `config.original` in the status".to_owned())
        .and_then(|yaml| {
            serde_saphyr::from_str::<Json>(yaml).map_err(|e| {
                format!(
                    "its configuration is not YAML: {}",
                    expect::excerpt(&e.to_string(), 120)
                )
            })
        });
    let config = match config {
        Ok(config) => config,
        Err(why) => {
            for name in &e.receivers {
                checks.push(Check::new(
                    format!("receiver {name}"),
                    "configured",
                    why.clone(),
                    false,
                ));
            }
            for r in &e.routes {
                checks.push(Check::new(
                    route_name(r),
                    format!("routed to {}", r.receiver),
                    why.clone(),
                    false,
                ));
            }
            return (checks, fact);
        }
    };
    let configured: Vec<&Json> = config["receivers"]
        .as_array()
        .map_or(Vec::new(), |r| r.iter().collect());
    let receiver_rows: Vec<Json> = configured
        .iter()
        .map(|r| json!({"name": r["name"], "integrations": integrations(r)}))
        .collect();
    fact.insert("receivers".to_owned(), Json::Array(receiver_rows));
    for name in &e.receivers {
        let found = configured.iter().find(|r| r["name"] == name.as_str());
        let (actual, passed) = match found {
            None => ("not configured".to_owned(), false),
            Some(r) => {
                let kinds = integrations(r);
                if kinds.is_empty() {
                    (
                        "configured, no integration: drops its alerts".to_owned(),
                        false,
                    )
                } else {
                    (format!("configured: {}", kinds.join(", ")), true)
                }
            }
        };
        checks.push(Check::new(
            format!("receiver {name}"),
            "configured, with an integration",
            actual,
            passed,
        ));
    }
    if !e.routes.is_empty() {
        let mut routed = Vec::new();
        match Route::from_config(&config["route"]) {
            Err(why) => {
                for r in &e.routes {
                    checks.push(Check::new(
                        route_name(r),
                        format!("routed to {}", r.receiver),
                        why.clone(),
                        false,
                    ));
                }
            }
            Ok(tree) => {
                for r in &e.routes {
                    let ends = tree.ends(&r.labels);
                    let names: Vec<&str> =
                        ends.iter().map(|(end, _)| end.receiver.as_str()).collect();
                    let shown: Vec<String> = ends
                        .iter()
                        .map(|(end, path)| {
                            if path.is_empty() {
                                format!("{} (the root route)", end.receiver)
                            } else {
                                format!("{} (via {})", end.receiver, path.join(" → "))
                            }
                        })
                        .collect();
                    checks.push(Check::new(
                        route_name(r),
                        format!("routed to {}", r.receiver),
                        shown.join("; "),
                        names.contains(&r.receiver.as_str()),
                    ));
                    routed.push(json!({"labels": r.labels, "receivers": names, "routes": shown}));
                }
            }
        }
        fact.insert("routes".to_owned(), Json::Array(routed));
    }
    (checks, fact)
}

/// `route {severity="critical",team="db"}`.
fn route_name(r: &RouteExpect) -> String {
    let inner: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("route {{{}}}", inner.join(","))
}

/// Seconds from `then` to `now`, negative when `then` is later.
fn seconds_between(then: SystemTime, now: SystemTime) -> f64 {
    match now.duration_since(then) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn timestamp(value: &Json) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(value.as_str()?).ok()
}

/// A silence as people read it: `3f2a… {alertname="Disk"} by ops ("maintenance")`.
fn describe_silence(s: &Json) -> String {
    let matchers: Vec<String> = s["matchers"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|m| {
            let op = match (
                m["isEqual"].as_bool().unwrap_or(true),
                m["isRegex"].as_bool().unwrap_or(false),
            ) {
                (true, false) => "=",
                (false, false) => "!=",
                (true, true) => "=~",
                (false, true) => "!~",
            };
            format!(
                "{}{op}{:?}",
                m["name"].as_str().unwrap_or("?"),
                m["value"].as_str().unwrap_or("")
            )
        })
        .collect();
    let id = s["id"].as_str().unwrap_or("?");
    let short: String = id.chars().take(8).collect();
    format!(
        "{short} {{{}}} by {} ({:?})",
        matchers.join(","),
        s["createdBy"].as_str().unwrap_or("?"),
        expect::excerpt(s["comment"].as_str().unwrap_or(""), 60)
    )
}

/// The checks of `silences:` over `/api/v2/silences`, and its evidence.
fn check_silences(want: &SilencesExpect, silences: &Json, now: SystemTime) -> (Vec<Check>, Json) {
    let active: Vec<&Json> = silences
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|s| s["status"]["state"] == "active")
        .collect();
    let age = |s: &Json| timestamp(&s["startsAt"]).map(|t| seconds_between(t, now));
    let length = |s: &Json| match (timestamp(&s["startsAt"]), timestamp(&s["endsAt"])) {
        (Some(start), Some(end)) => Some(seconds_between(start, end)),
        _ => None,
    };
    let days = |seconds: f64| expect::format_duration(Duration::from_secs_f64(seconds.max(0.0)));
    let mut checks = Vec::new();
    if let Some(m) = &want.count {
        checks.push(Check::new(
            "silences active",
            m.to_string(),
            active.len().to_string(),
            m.check(Some(&Json::from(active.len()))).is_ok(),
        ));
    }
    for (name, bound, measure, what) in [
        (
            "silences age",
            want.max_age,
            &age as &dyn Fn(&Json) -> Option<f64>,
            "started",
        ),
        ("silences duration", want.max_duration, &length, "lasting"),
    ] {
        let Some(Dur(max)) = bound else { continue };
        let over: Vec<String> = active
            .iter()
            .filter_map(|s| {
                let seconds = measure(s)?;
                (seconds > max.as_secs_f64()).then(|| {
                    let when = if what == "started" {
                        format!("{} ago", days(seconds))
                    } else {
                        days(seconds)
                    };
                    format!("{} {what} {when}", describe_silence(s))
                })
            })
            .collect();
        let actual = if over.is_empty() {
            format!("{} active, none over", active.len())
        } else {
            format!(
                "{} of {} active over: {}",
                over.len(),
                active.len(),
                over.join("; ")
            )
        };
        checks.push(Check::new(
            name,
            format!("every active silence <= {}", expect::format_duration(max)),
            actual,
            over.is_empty(),
        ));
    }
    let rows: Vec<Json> = active
        .iter()
        .take(SHOWN)
        .map(|s| {
            json!({
                "silence": describe_silence(s),
                "starts_at": s["startsAt"],
                "ends_at": s["endsAt"],
                "age": age(s).map(days),
            })
        })
        .collect();
    (checks, json!({"active": active.len(), "shown": rows}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn am(yaml: &str) -> Result<Alertmanager, String> {
        crate::spec::de::from_yaml(yaml)
    }

    const CONFIG: &str = r#"
route:
  receiver: default
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: default
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
  - name: pager
    webhook_configs: [{url: "http://127.0.0.1:1/page"}, {url: "http://127.0.0.1:1/page2"}]
  - name: blackhole
"#;

    fn status() -> Json {
        json!({
            "versionInfo": {"version": "0.25.0"},
            "cluster": {"status": "disabled", "peers": []},
            "config": {"original": CONFIG},
        })
    }

    #[test]
    fn settings_read_and_typos_are_named() {
        let a = am("expect: {receivers: [pager], routes: [{labels: {severity: critical}, receiver: pager}], silences: {max_age: 7d}}")
            .expect("valid");
        assert_eq!(a.expect.routes[0].receiver, "pager");
        assert_eq!(a.budget().max_requests, 2);
        assert_eq!(am("{}").expect("valid").budget().max_requests, 1);
        let err = am("expect: {silences: {max_ag: 7d}}").expect_err("typo");
        assert!(err.contains("unknown field `max_ag`"), "{err}");
        let err = am("expect: {routes: [{labels: {a: b}}]}").expect_err("no receiver");
        assert!(err.contains("missing field `receiver`"), "{err}");
    }

    #[test]
    fn receivers_need_an_integration() {
        let e = AlertmanagerExpect {
            receivers: vec!["pager".into(), "blackhole".into(), "team-x".into()],
            ..AlertmanagerExpect::default()
        };
        let (checks, fact) = check_status(&e, &status());
        let shown: Vec<(&str, bool)> = checks
            .iter()
            .map(|c| (c.actual.as_str(), c.passed))
            .collect();
        assert_eq!(
            shown,
            [
                ("configured: webhook ×2", true),
                ("configured, no integration: drops its alerts", false),
                ("not configured", false)
            ]
        );
        assert_eq!(fact["receivers"][0]["integrations"][0], "webhook ×1");
    }

    #[test]
    fn routes_are_computed_and_shown_with_their_path() {
        let e = AlertmanagerExpect {
            routes: vec![
                RouteExpect {
                    labels: [("severity".to_owned(), "critical".to_owned())].into(),
                    receiver: "pager".into(),
                },
                RouteExpect {
                    labels: [("severity".to_owned(), "info".to_owned())].into(),
                    receiver: "pager".into(),
                },
            ],
            ..AlertmanagerExpect::default()
        };
        let (checks, fact) = check_status(&e, &status());
        assert_eq!(checks[0].name, "route {severity=\"critical\"}");
        assert_eq!(checks[0].actual, "pager (via {severity=\"critical\"})");
        assert!(checks[0].passed);
        assert_eq!(checks[1].actual, "default (the root route)");
        assert!(!checks[1].passed);
        assert_eq!(fact["routes"][1]["receivers"][0], "default");
    }

    #[test]
    fn a_status_without_a_configuration_fails_each_check_saying_why() {
        let e = AlertmanagerExpect {
            receivers: vec!["pager".into()],
            peers: Some(serde_json::from_value(json!({"min": 2})).expect("matcher")),
            ..AlertmanagerExpect::default()
        };
        let (checks, _) =
            check_status(&e, &json!({"cluster": {"status": "disabled", "peers": []}}));
        assert_eq!(checks[0].actual, "0 (cluster disabled)");
        assert!(!checks[0].passed);
        assert_eq!(checks[1].actual, "no `config.original` in the status");
    }

    #[test]
    fn stale_and_endless_silences_are_named() {
        let now = humantime::parse_rfc3339("2026-12-07T12:00:00Z").expect("time");
        let silences = json!([
            {"id": "aaaaaaaa-1", "status": {"state": "active"}, "createdBy": "ops", "comment": "disk swap",
             "startsAt": "2026-11-01T12:00:00.000Z", "endsAt": "2027-01-01T12:00:00.000Z",
             "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true}]},
            {"id": "bbbbbbbb-2", "status": {"state": "active"}, "createdBy": "dev", "comment": "",
             "startsAt": "2026-12-07T11:00:00Z", "endsAt": "2026-12-07T13:00:00Z",
             "matchers": [{"name": "job", "value": "api.*", "isRegex": true, "isEqual": true}]},
            {"id": "cccccccc-3", "status": {"state": "expired"}, "createdBy": "old", "comment": "",
             "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2020-01-02T00:00:00Z", "matchers": []}
        ]);
        let want: SilencesExpect =
            crate::spec::de::from_yaml("{max_age: 7d, max_duration: 30d, count: {max: 1}}")
                .expect("valid");
        let (checks, fact) = check_silences(&want, &silences, now);
        assert_eq!(checks[0].actual, "2");
        assert!(!checks[0].passed);
        assert_eq!(
            checks[1].actual,
            "1 of 2 active over: aaaaaaaa {alertname=\"DiskFull\"} by ops (\"disk swap\") started 36d ago"
        );
        assert_eq!(checks[1].expected, "every active silence <= 7d");
        assert!(!checks[1].passed);
        assert!(
            checks[2].actual.contains("lasting 61d"),
            "{}",
            checks[2].actual
        );
        assert_eq!(fact["active"], 2);
        assert_eq!(
            fact["shown"][1]["silence"],
            "bbbbbbbb {job=~\"api.*\"} by dev (\"\")"
        );
        let want: SilencesExpect = crate::spec::de::from_yaml("{max_age: 60d}").expect("valid");
        let (checks, _) = check_silences(&want, &silences, now);
        assert_eq!(checks[0].actual, "2 active, none over");
        assert!(checks[0].passed);
    }
}
