//! `jsonrpc`: a JSON-RPC 2.0 call, notification or batch over HTTP POST. Every
//! response envelope is checked against the spec (`jsonrpc`, matching `id`,
//! result xor error, error shape); optionally the spec's error cases
//! (`compliance: true`) and N concurrent calls matched by id.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::fetch::{self, Response};
use super::http::{JsonExpect, LatencyExpect, evidence, unreachable_findings};
use super::{Budget, Check, Context, Findings, Probe, ProbeError, TlsSettings};
use crate::expect::{self, Matcher};

/// The most calls `concurrent:` may send at once.
pub const MAX_CONCURRENT: u32 = 1000;

/// Settings of a `jsonrpc` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "JsonrpcSettings")]
#[schemars(with = "JsonrpcSettings")]
pub struct Jsonrpc {
    url: String,
    headers: BTreeMap<String, String>,
    tls: TlsSettings,
    /// One call (or notification), or the calls of a batch.
    calls: Vec<Call>,
    batch: bool,
    compliance: bool,
    invalid_params: Option<Json>,
    concurrent: Option<u32>,
    latency: Option<LatencyExpect>,
}

/// One call of a request or batch, ready to send.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    params: Option<Json>,
    /// `None` for a notification; else the given id, or `None` until generated.
    id: Option<Json>,
    notification: bool,
    expect: CallExpect,
}

super::with_tls! {
    /// The `jsonrpc:` settings as written.
    #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct JsonrpcSettings {
        /// The endpoint: a path (resolved against the target) or an absolute URL; default `/`.
        #[serde(default)]
        url: Option<String>,
        /// The method to call.
        #[serde(default)]
        method: Option<String>,
        /// The call's params: an object (named) or an array (positional).
        #[serde(default)]
        params: Option<Json>,
        /// The request id (a string or an integer); generated when not given.
        #[serde(default)]
        id: Option<Json>,
        /// Send a notification (no id): the server must answer with no body.
        #[serde(default)]
        notification: bool,
        /// Send these calls as one batch instead of `method`.
        #[serde(default)]
        batch: Vec<BatchCall>,
        /// Request headers (e.g. `authorization: Bearer ${env:TOKEN}`).
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// Also run the spec's error cases (-32700, -32600, -32601, -32602, empty
        /// and mixed batches) against the endpoint, one check per rule.
        #[serde(default)]
        compliance: bool,
        /// The params the compliance suite sends to `method` to provoke -32602
        /// (default: an array when the call's params are an object, else an object).
        #[serde(default)]
        invalid_params: Option<Json>,
        /// Also send this many copies of the call at once; each response must carry its own id.
        #[serde(default)]
        concurrent: Option<u32>,
        /// What the response must hold.
        #[serde(default)]
        expect: JsonrpcExpect,
    }
}

/// One call of a `batch:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCall {
    /// The method.
    method: String,
    /// Its params (object or array).
    #[serde(default)]
    params: Option<Json>,
    /// Its id (generated when not given).
    #[serde(default)]
    id: Option<Json>,
    /// A notification: no id, no response expected.
    #[serde(default)]
    notification: bool,
    /// What its response must hold.
    #[serde(default)]
    expect: CallExpect,
}

/// Expectations on a JSON-RPC response.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonrpcExpect {
    /// JSONPath (RFC 9535, `$` is the `result` member) → matcher.
    #[serde(default)]
    pub result: JsonExpect,
    /// The call must fail with this error (`code`, `message` matchers).
    #[serde(default)]
    pub error: Option<ErrorExpect>,
    /// Bounds on the time to the full response.
    #[serde(default)]
    pub latency: Option<LatencyExpect>,
}

/// Expectations on one call of a batch.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallExpect {
    /// JSONPath (`$` is the `result` member) → matcher.
    #[serde(default)]
    pub result: JsonExpect,
    /// The call must fail with this error.
    #[serde(default)]
    pub error: Option<ErrorExpect>,
}

/// An expected JSON-RPC error.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorExpect {
    /// The error code (`-32601`, or a matcher).
    #[serde(default)]
    pub code: Option<Matcher>,
    /// The error message (a matcher: `{contains: not found}`).
    #[serde(default)]
    pub message: Option<Matcher>,
}

fn check_params(params: &Option<Json>, at: &str) -> Result<(), String> {
    match params {
        None | Some(Json::Object(_)) | Some(Json::Array(_)) => Ok(()),
        Some(other) => Err(format!(
            "`params`{at} must be an object or an array, not {}",
            expect::show(other)
        )),
    }
}

fn check_id(id: &Option<Json>, notification: bool, at: &str) -> Result<(), String> {
    match id {
        Some(_) if notification => Err(format!(
            "a notification has no id: drop `id`{at} or `notification: true`"
        )),
        None | Some(Json::String(_)) => Ok(()),
        Some(Json::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        Some(other) => Err(format!(
            "`id`{at} must be a string or an integer, not {}",
            expect::show(other)
        )),
    }
}

impl TryFrom<JsonrpcSettings> for Jsonrpc {
    type Error = String;

    fn try_from(s: JsonrpcSettings) -> Result<Jsonrpc, String> {
        let tls = s.tls();
        let batch = !s.batch.is_empty();
        let calls = match (&s.method, batch) {
            (Some(_), true) => return Err("give `method` or `batch`, not both".to_owned()),
            (None, false) => {
                return Err(
                    "missing call: write `method:` (or `batch:` with a list of calls)".to_owned(),
                );
            }
            (Some(method), false) => {
                check_params(&s.params, "")?;
                check_id(&s.id, s.notification, "")?;
                if s.notification && (s.expect.error.is_some() || !s.expect.result.0.is_empty()) {
                    return Err(
                        "a notification gets no response: `expect.result` and `expect.error` cannot hold"
                            .to_owned(),
                    );
                }
                vec![Call {
                    method: method.clone(),
                    params: s.params.clone(),
                    id: s.id.clone(),
                    notification: s.notification,
                    expect: CallExpect {
                        result: s.expect.result.clone(),
                        error: s.expect.error.clone(),
                    },
                }]
            }
            (None, true) => {
                if s.params.is_some() || s.id.is_some() || s.notification {
                    return Err(
                        "`params`, `id` and `notification` go on each call of `batch`".to_owned(),
                    );
                }
                if s.expect.error.is_some() || !s.expect.result.0.is_empty() {
                    return Err("in a batch, give `expect` on each call".to_owned());
                }
                let mut calls = Vec::with_capacity(s.batch.len());
                for (i, c) in s.batch.iter().enumerate() {
                    let at = format!(" of batch call {}", i + 1);
                    check_params(&c.params, &at)?;
                    check_id(&c.id, c.notification, &at)?;
                    calls.push(Call {
                        method: c.method.clone(),
                        params: c.params.clone(),
                        id: c.id.clone(),
                        notification: c.notification,
                        expect: c.expect.clone(),
                    });
                }
                let mut seen = HashSet::new();
                for id in calls.iter().filter_map(|c| c.id.as_ref()) {
                    if !seen.insert(id.to_string()) {
                        return Err(format!("batch calls share the id {id}: ids must be unique"));
                    }
                }
                calls
            }
        };
        if let Some(n) = s.concurrent {
            if n == 0 || n > MAX_CONCURRENT {
                return Err(format!(
                    "`concurrent` must be 1 to {MAX_CONCURRENT}, not {n}"
                ));
            }
            if batch || s.notification {
                return Err(
                    "`concurrent` sends copies of one call: not with `batch` or `notification`"
                        .to_owned(),
                );
            }
        }
        check_params(&s.invalid_params, " (invalid_params)")?;
        Ok(Jsonrpc {
            url: s.url.unwrap_or_else(|| "/".to_owned()),
            headers: s.headers,
            tls,
            calls,
            batch,
            compliance: s.compliance,
            invalid_params: s.invalid_params,
            concurrent: s.concurrent,
            latency: s.expect.latency,
        })
    }
}

/// A fresh id for a call that names none: unlikely to be echoed by accident.
fn generate_id() -> Json {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()) % 1_000_000)
        .unwrap_or(0);
    Json::from(seed * 1000 + NEXT.fetch_add(1, Ordering::Relaxed) % 1000 + 1)
}

/// A request object: `{"jsonrpc":"2.0","method":…,"params":…,"id":…}`.
pub fn request_object(method: &str, params: Option<&Json>, id: Option<&Json>) -> Json {
    let mut object = serde_json::Map::with_capacity(4);
    object.insert("jsonrpc".to_owned(), Json::from("2.0"));
    object.insert("method".to_owned(), Json::from(method));
    if let Some(params) = params {
        object.insert("params".to_owned(), params.clone());
    }
    if let Some(id) = id {
        object.insert("id".to_owned(), id.clone());
    }
    Json::Object(object)
}

/// An error response's code and message, as people read them: `-32601 "Method not found"`.
pub fn show_error(error: &Json) -> String {
    let code = error
        .get("code")
        .map_or("(no code)".to_owned(), expect::show);
    match error.get("message").and_then(Json::as_str) {
        Some(m) => format!(
            "{code} {}",
            expect::show(&Json::from(expect::excerpt(m, 80).into_owned()))
        ),
        None => code,
    }
}

/// What a response object says, in a few words: `result {"sum":3}` or `error -32601 "…"`.
pub fn show_outcome(response: &Json) -> String {
    if let Some(error) = response.get("error") {
        format!("error {}", show_error(error))
    } else if let Some(result) = response.get("result") {
        format!("result {}", expect::excerpt(&expect::show(result), 80))
    } else {
        "neither result nor error".to_owned()
    }
}

/// The spec's envelope rules for one response object, as checks named
/// `PREFIXjsonrpc`, `PREFIXid`, `PREFIXresult xor error`, `PREFIXerror.code`,
/// `PREFIXerror.message`. `id` is the request's id (`Json::Null` when the
/// server cannot know it, as for a parse error).
pub fn check_envelope(prefix: &str, response: &Json, id: &Json) -> Vec<Check> {
    let mut checks = Vec::with_capacity(5);
    let Some(object) = response.as_object() else {
        checks.push(Check::new(
            format!("{prefix}response object"),
            "a JSON object",
            expect::excerpt(&expect::show(response), 80).into_owned(),
            false,
        ));
        return checks;
    };
    let version = object.get("jsonrpc");
    checks.push(Check::new(
        format!("{prefix}jsonrpc"),
        "\"2.0\"",
        version.map_or("absent".to_owned(), expect::show),
        version == Some(&Json::from("2.0")),
    ));
    let seen = object.get("id");
    checks.push(Check::new(
        format!("{prefix}id"),
        format!("{} (the request's)", expect::show(id)),
        seen.map_or("absent".to_owned(), expect::show),
        seen == Some(id),
    ));
    let (result, error) = (object.get("result"), object.get("error"));
    checks.push(Check::new(
        format!("{prefix}result xor error"),
        "exactly one of `result` and `error`",
        match (result, error) {
            (Some(_), Some(_)) => "both",
            (None, None) => "neither",
            (Some(_), None) => "result",
            (None, Some(_)) => "error",
        },
        result.is_some() != error.is_some(),
    ));
    if let Some(error) = error {
        let code = error.get("code");
        checks.push(Check::new(
            format!("{prefix}error.code"),
            "an integer",
            code.map_or("absent".to_owned(), expect::show),
            code.is_some_and(|c| c.is_i64()),
        ));
        let message = error.get("message");
        checks.push(Check::new(
            format!("{prefix}error.message"),
            "a string",
            message.map_or("absent".to_owned(), |m| {
                expect::excerpt(&expect::show(m), 80).into_owned()
            }),
            message.is_some_and(Json::is_string),
        ));
    }
    checks
}

/// Checks a response object against a call's expectations: the wanted error,
/// or a result whose JSONPaths match.
fn check_expect(prefix: &str, response: &Json, expect: &CallExpect) -> Vec<Check> {
    let mut checks = Vec::new();
    let error = response.get("error");
    match &expect.error {
        Some(wanted) => {
            let Some(error) = error else {
                checks.push(Check::new(
                    format!("{prefix}outcome"),
                    "an error",
                    show_outcome(response),
                    false,
                ));
                return checks;
            };
            if let Some(m) = &wanted.code {
                let code = error.get("code");
                checks.push(Check::new(
                    format!("{prefix}error code"),
                    m.to_string(),
                    code.map_or("absent".to_owned(), expect::show),
                    m.check(code).is_ok(),
                ));
            }
            if let Some(m) = &wanted.message {
                let message = error.get("message");
                checks.push(Check::new(
                    format!("{prefix}error message"),
                    m.to_string(),
                    message.map_or("absent".to_owned(), |v| {
                        expect::excerpt(&expect::show(v), 120).into_owned()
                    }),
                    m.check(message).is_ok(),
                ));
            }
            if wanted.code.is_none() && wanted.message.is_none() {
                checks.push(Check::new(
                    format!("{prefix}outcome"),
                    "an error",
                    show_outcome(response),
                    true,
                ));
            }
        }
        None => {
            let result = response.get("result");
            let Some(result) = result.filter(|_| error.is_none()) else {
                checks.push(Check::new(
                    format!("{prefix}outcome"),
                    "a result",
                    show_outcome(response),
                    false,
                ));
                return checks;
            };
            for (key, m) in &expect.result.0 {
                let nodes = key.path.query(result).all();
                let name = format!("{prefix}result {}", key.text);
                if nodes.is_empty() {
                    checks.push(Check::new(
                        name,
                        m.to_string(),
                        "no match",
                        m.check(None).is_ok(),
                    ));
                    continue;
                }
                let failing = nodes.iter().find(|n| m.check(Some(n)).is_err());
                let shown = match failing {
                    Some(n) => expect::show(n),
                    None if nodes.len() == 1 => expect::show(nodes[0]),
                    None => format!("{} nodes, all matching", nodes.len()),
                };
                checks.push(Check::new(
                    name,
                    m.to_string(),
                    expect::excerpt(&shown, 120).into_owned(),
                    failing.is_none(),
                ));
            }
        }
    }
    checks
}

/// Whether a media type is JSON (`application/json`, `application/*+json`).
fn is_json_media(media: Option<&str>) -> bool {
    media.is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    })
}

/// The transport checks every answer to a call gets: HTTP status, content
/// type, body size, and the body parsed as JSON (`Err` = a failed check).
fn check_transport(r: &Response, body_limit: u64) -> (Vec<Check>, Result<Json, ()>) {
    let mut checks = Vec::new();
    let parsed: Result<Json, String> = if r.truncated {
        Err(format!(
            "more than {} (reading stopped there)",
            expect::format_size(body_limit)
        ))
    } else {
        serde_json::from_slice(&r.body)
            .map_err(|e| format!("not JSON ({e}): {}", expect::one_line(&r.excerpt(80))))
    };
    // A JSON-RPC error may travel with a 4xx/5xx status; anything else must be 2xx.
    let carries_error = parsed
        .as_ref()
        .is_ok_and(|doc| doc.get("error").is_some() || doc.is_array());
    checks.push(Check::new(
        "http status",
        "2xx (or 4xx/5xx carrying a JSON-RPC error)",
        r.status.to_string(),
        (200..300).contains(&r.status) || (r.status >= 400 && carries_error),
    ));
    let media = r.media_type();
    checks.push(Check::new(
        "content-type",
        "application/json",
        media.clone().unwrap_or_else(|| "absent".to_owned()),
        is_json_media(media.as_deref()),
    ));
    match parsed {
        Ok(doc) => (checks, Ok(doc)),
        Err(why) => {
            checks.push(Check::new(
                if r.truncated {
                    "body size"
                } else {
                    "response body"
                },
                if r.truncated {
                    format!("at most {}", expect::format_size(body_limit))
                } else {
                    "a JSON-RPC response".to_owned()
                },
                why,
                false,
            ));
            (checks, Err(()))
        }
    }
}

/// The result of one compliance rule.
struct Rule {
    name: &'static str,
    short: &'static str,
    check: Check,
    record: Json,
}

impl Jsonrpc {
    /// `JSON-RPC sum`, `JSON-RPC batch of 3`.
    pub fn describe(&self) -> String {
        if self.batch {
            format!("JSON-RPC batch of {} → {}", self.calls.len(), self.url)
        } else {
            let c = &self.calls[0];
            let kind = if c.notification { "notification " } else { "" };
            format!("JSON-RPC {kind}{} → {}", c.method, self.url)
        }
    }

    fn request(&self, cx: &Context, body: Bytes) -> Result<fetch::Request, ProbeError> {
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
        ];
        for (name, value) in &self.headers {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.clone(), value.clone()));
        }
        Ok(fetch::Request {
            method: reqwest::Method::POST,
            url: cx.resolve(&self.url)?,
            headers,
            body: Some(body),
            follow_redirects: false,
            tls: self.tls.clone(),
        })
    }

    /// The calls with their ids filled in.
    fn prepared(&self) -> Vec<Call> {
        self.calls
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if !c.notification && c.id.is_none() {
                    c.id = Some(generate_id());
                }
                c
            })
            .collect()
    }

    fn body(&self, calls: &[Call]) -> Bytes {
        let objects: Vec<Json> = calls
            .iter()
            .map(|c| request_object(&c.method, c.params.as_ref(), c.id.as_ref()))
            .collect();
        let doc = if self.batch {
            Json::Array(objects)
        } else {
            objects.into_iter().next().unwrap_or(Json::Null)
        };
        Bytes::from(doc.to_string())
    }
}

/// The requests `compliance: true` adds: one per rule.
const COMPLIANCE_REQUESTS: u64 = 6;

impl Probe for Jsonrpc {
    fn sends_http(&self) -> bool {
        true
    }

    fn records_response(&self) -> bool {
        true
    }

    fn budget(&self) -> Budget {
        let compliance = if self.compliance {
            COMPLIANCE_REQUESTS
        } else {
            0
        };
        Budget {
            max_requests: 1 + compliance + u64::from(self.concurrent.unwrap_or(0)),
            ..Budget::SINGLE
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let calls = self.prepared();
        let request = self.request(cx, self.body(&calls))?;
        let line = self.describe();
        let response = match fetch::send(cx, &request).await? {
            Ok(r) => r,
            Err(unreachable) => return Ok(unreachable_findings(&line, &request, &unreachable, cx)),
        };
        let mut checks = Vec::new();
        let mut outcome = String::new();
        if calls.iter().all(|c| c.notification) {
            checks.push(check_no_body(
                &response,
                if self.batch {
                    "batch of notifications"
                } else {
                    "notification"
                },
            ));
        } else {
            let (transport, doc) = check_transport(&response, cx.body_limit);
            checks.extend(transport);
            if let Ok(doc) = doc {
                if self.batch {
                    checks.extend(check_batch(&doc, &calls));
                    outcome = format!("{} responses", doc.as_array().map_or(0, Vec::len));
                } else {
                    let call = &calls[0];
                    let id = call.id.clone().unwrap_or(Json::Null);
                    checks.extend(check_envelope("envelope ", &doc, &id));
                    checks.extend(check_expect("", &doc, &call.expect));
                    outcome = show_outcome(&doc);
                }
            }
        }
        if let Some(latency) = &self.latency {
            checks.push(Check::new(
                "latency",
                format!("<= {}", latency.max),
                fetch::format_latency(response.elapsed),
                response.elapsed <= latency.max.0,
            ));
        }
        let mut record = evidence(&request, Some(&response), cx);
        record["jsonrpc"] = json!({
            "ids": calls.iter().filter_map(|c| c.id.clone()).collect::<Vec<_>>(),
            "outcome": outcome,
        });
        let mut tail = Vec::new();
        if let Some(n) = self.concurrent {
            let (check, concurrent) = self.run_concurrent(cx, n, &calls[0]).await?;
            tail.push(format!("concurrent {n}: {}", check.actual));
            checks.push(check);
            record["concurrent"] = concurrent;
        }
        if self.compliance {
            let rules = self.run_compliance(cx, &calls[0]).await?;
            let passed = rules.iter().filter(|r| r.check.passed).count();
            let marks: Vec<String> = rules
                .iter()
                .map(|r| format!("{} {}", r.short, if r.check.passed { "✔" } else { "✘" }))
                .collect();
            tail.push(format!(
                "compliance {passed}/{}: {}",
                rules.len(),
                marks.join(", ")
            ));
            record["compliance"] = Json::Array(
                rules
                    .iter()
                    .map(|r| {
                        let mut rec = r.record.clone();
                        rec["rule"] = json!(r.name);
                        rec["passed"] = json!(r.check.passed);
                        rec["expected"] = json!(r.check.expected);
                        rec["actual"] = json!(r.check.actual);
                        rec
                    })
                    .collect(),
            );
            checks.extend(rules.into_iter().map(|r| r.check));
        }
        let mut summary = format!(
            "{line} → {} in {}",
            response.status,
            fetch::format_latency(response.elapsed)
        );
        if !outcome.is_empty() {
            summary.push_str(&format!("; {outcome}"));
        }
        for t in &tail {
            summary.push_str(&format!("; {t}"));
        }
        let failed: Vec<&Check> = checks
            .iter()
            .filter(|c| !c.passed && !c.name.starts_with("compliance"))
            .collect();
        super::append_failures(&mut summary, &failed, 2, true);
        Ok(Findings {
            checks,
            summary,
            evidence: record,
        })
    }
}

/// A notification's answer: no body (204, or 2xx with an empty body).
fn check_no_body(r: &Response, what: &str) -> Check {
    let actual = if r.body.is_empty() {
        format!("{}, no body", r.status)
    } else {
        format!(
            "{} with {} bytes: {}",
            r.status,
            r.body.len(),
            expect::one_line(&r.excerpt(80))
        )
    };
    Check::new(
        format!("{what} response"),
        "no body (204, or 2xx with an empty body)",
        actual,
        (200..300).contains(&r.status) && r.body.is_empty(),
    )
}

/// A batch answer: an array with one response per call that has an id, each
/// matched by id and checked like a single response.
fn check_batch(doc: &Json, calls: &[Call]) -> Vec<Check> {
    let mut checks = Vec::new();
    let expected: Vec<&Call> = calls.iter().filter(|c| !c.notification).collect();
    let Some(responses) = doc.as_array() else {
        checks.push(Check::new(
            "batch response",
            format!("an array of {} responses", expected.len()),
            expect::excerpt(&show_outcome(doc), 120).into_owned(),
            false,
        ));
        return checks;
    };
    checks.push(Check::new(
        "batch response",
        format!(
            "an array of {} responses (one per call with an id)",
            expected.len()
        ),
        format!("{} responses", responses.len()),
        responses.len() == expected.len(),
    ));
    for call in expected {
        let id = call.id.clone().unwrap_or(Json::Null);
        let prefix = format!("batch {} (id {}) ", call.method, expect::show(&id));
        match responses.iter().find(|r| r.get("id") == Some(&id)) {
            Some(r) => {
                checks.extend(check_envelope(&prefix, r, &id));
                checks.extend(check_expect(&prefix, r, &call.expect));
            }
            None => checks.push(Check::new(
                format!("{prefix}response"),
                "a response with this id",
                "none",
                false,
            )),
        }
    }
    let known: Vec<&Json> = calls.iter().filter_map(|c| c.id.as_ref()).collect();
    let strays: Vec<String> = responses
        .iter()
        .filter(|r| !r.get("id").is_some_and(|id| known.contains(&id)))
        .map(|r| r.get("id").map_or("absent".to_owned(), expect::show))
        .collect();
    if !strays.is_empty() {
        checks.push(Check::new(
            "batch ids",
            "only the ids of the calls sent",
            format!("unknown ids: {}", strays.join(", ")),
            false,
        ));
    }
    checks
}

impl Jsonrpc {
    /// `n` copies of the call at once, ids distinct; every response must be a
    /// valid envelope carrying its own call's id.
    async fn run_concurrent(
        &self,
        cx: &Context,
        n: u32,
        call: &Call,
    ) -> Result<(Check, Json), ProbeError> {
        let base = match generate_id() {
            Json::Number(x) => x.as_u64().unwrap_or(1) * 10_000,
            _ => 10_000,
        };
        let mut requests = Vec::with_capacity(n as usize);
        for i in 0..u64::from(n) {
            let id = Json::from(base + i);
            let body = request_object(&call.method, call.params.as_ref(), Some(&id)).to_string();
            requests.push((id, self.request(cx, Bytes::from(body))?));
        }
        let answers = futures_util::future::join_all(
            requests.iter().map(|(_, request)| fetch::send(cx, request)),
        )
        .await;
        let mut matched = 0;
        let mut problems: Vec<String> = Vec::new();
        let mut slowest = std::time::Duration::ZERO;
        for ((id, _), answer) in requests.iter().zip(answers) {
            let problem = match answer? {
                Err(unreachable) => Some(unreachable.reason),
                Ok(r) => {
                    slowest = slowest.max(r.elapsed);
                    match serde_json::from_slice::<Json>(&r.body) {
                        Err(_) => Some(format!("HTTP {}, not JSON", r.status)),
                        Ok(doc) => check_envelope("", &doc, id)
                            .into_iter()
                            .find(|c| !c.passed)
                            .map(|c| format!("{}: {}", c.name, c.actual)),
                    }
                }
            };
            match problem {
                None => matched += 1,
                Some(p) => problems.push(format!("id {}: {p}", expect::show(id))),
            }
        }
        let mut actual = format!("{matched} of {n} matched");
        if let Some(first) = problems.first() {
            actual.push_str(&format!(" ({first}"));
            if problems.len() > 1 {
                actual.push_str(&format!("; and {} more", problems.len() - 1));
            }
            actual.push(')');
        }
        let record = json!({
            "calls": n,
            "matched": matched,
            "slowest_ms": fetch::millis(slowest),
            "problems": problems.iter().take(10).collect::<Vec<_>>(),
        });
        Ok((
            Check::new(
                "concurrent",
                format!("{n} valid responses, each with its own id"),
                actual,
                matched == n as usize,
            ),
            record,
        ))
    }

    /// The spec's error cases, one request each.
    async fn run_compliance(&self, cx: &Context, call: &Call) -> Result<Vec<Rule>, ProbeError> {
        let unknown = "vouch.no_such_method";
        let invalid_params = self
            .invalid_params
            .clone()
            .unwrap_or_else(|| match &call.params {
                Some(Json::Object(_)) => json!(["vouch-invalid-params", {"unexpected": true}, 3.5]),
                _ => json!({"vouch_invalid_params": ["unexpected"]}),
            });
        let (a, b, c) = (generate_id(), generate_id(), generate_id());
        let cases: Vec<(&'static str, &'static str, String, Expected)> = vec![
            (
                "-32700 malformed JSON",
                "-32700",
                r#"{"jsonrpc":"2.0","method":"vouch","params":"bar","baz]"#.to_owned(),
                Expected::Error(-32700, Json::Null),
            ),
            (
                "-32600 invalid request object",
                "-32600",
                r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#.to_owned(),
                Expected::Error(-32600, Json::Null),
            ),
            (
                "-32601 unknown method",
                "-32601",
                request_object(unknown, None, Some(&a)).to_string(),
                Expected::Error(-32601, a.clone()),
            ),
            (
                "-32602 invalid params",
                "-32602",
                request_object(&call.method, Some(&invalid_params), Some(&b)).to_string(),
                Expected::Error(-32602, b.clone()),
            ),
            (
                "-32600 empty batch",
                "empty batch",
                "[]".to_owned(),
                Expected::Error(-32600, Json::Null),
            ),
            (
                "mixed batch",
                "mixed batch",
                Json::Array(vec![
                    request_object(&call.method, call.params.as_ref(), Some(&c)),
                    request_object(&call.method, call.params.as_ref(), None),
                    request_object(unknown, None, Some(&a)),
                ])
                .to_string(),
                Expected::Mixed(c.clone(), a.clone()),
            ),
        ];
        let mut rules = Vec::with_capacity(cases.len());
        for (name, short, body, expected) in cases {
            let request = self.request(cx, Bytes::from(body.clone()))?;
            let mut record = json!({"sent": expect::excerpt(&body, 300)});
            let actual: Result<(String, bool), String> = match fetch::send(cx, &request).await? {
                Err(unreachable) => Err(unreachable.reason),
                Ok(r) => {
                    record["status"] = json!(r.status);
                    record["response"] = json!(r.excerpt(300));
                    match serde_json::from_slice::<Json>(&r.body) {
                        Err(_) if r.body.is_empty() => Err(format!("HTTP {}, no body", r.status)),
                        Err(_) => Err(format!(
                            "HTTP {}, not JSON: {}",
                            r.status,
                            expect::one_line(&r.excerpt(60))
                        )),
                        Ok(doc) => Ok(expected.judge(&doc, r.status)),
                    }
                }
            };
            let (actual, passed) = actual.unwrap_or_else(|why| (why, false));
            rules.push(Rule {
                name,
                short,
                check: Check::new(
                    format!("compliance {name}"),
                    expected.to_string(),
                    actual,
                    passed,
                ),
                record,
            });
        }
        Ok(rules)
    }
}

/// What a compliance case must get back.
enum Expected {
    /// One error response with this code and id.
    Error(i64, Json),
    /// An array of exactly two responses: a result-or-error for the first id,
    /// error -32601 for the second; nothing for the notification.
    Mixed(Json, Json),
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Error(code, id) => write!(f, "error {code} with id {}", expect::show(id)),
            Expected::Mixed(a, b) => write!(
                f,
                "2 responses (ids {}, {}: -32601), none for the notification",
                expect::show(a),
                expect::show(b)
            ),
        }
    }
}

impl Expected {
    /// What was seen and whether it is what the spec requires.
    fn judge(&self, doc: &Json, status: u16) -> (String, bool) {
        match self {
            Expected::Error(code, id) => {
                let envelope_ok = check_envelope("", doc, id).iter().all(|c| c.passed);
                let seen_code = doc
                    .get("error")
                    .and_then(|e| e.get("code"))
                    .and_then(Json::as_i64);
                let mut actual = format!("{} (HTTP {status})", show_outcome(doc));
                if doc.is_array() {
                    actual = format!("an array (HTTP {status})");
                } else if doc.get("id") != Some(id) {
                    actual.push_str(&format!(
                        ", id {}",
                        doc.get("id").map_or("absent".to_owned(), expect::show)
                    ));
                }
                (actual, envelope_ok && seen_code == Some(*code))
            }
            Expected::Mixed(first, second) => {
                let Some(responses) = doc.as_array() else {
                    return (
                        format!("not an array: {} (HTTP {status})", show_outcome(doc)),
                        false,
                    );
                };
                let find = |id: &Json| responses.iter().find(|r| r.get("id") == Some(id));
                let first_ok = find(first)
                    .is_some_and(|r| check_envelope("", r, first).iter().all(|c| c.passed));
                let second_ok = find(second).is_some_and(|r| {
                    check_envelope("", r, second).iter().all(|c| c.passed)
                        && r.get("error")
                            .and_then(|e| e.get("code"))
                            .and_then(Json::as_i64)
                            == Some(-32601)
                });
                let ids: Vec<String> = responses
                    .iter()
                    .map(|r| r.get("id").map_or("absent".to_owned(), expect::show))
                    .collect();
                (
                    format!("{} responses (ids {})", responses.len(), ids.join(", ")),
                    responses.len() == 2 && first_ok && second_ok,
                )
            }
        }
    }
}

impl Jsonrpc {
    /// The paths and URLs this probe resolves against the target, as
    /// written: loading checks a target is set for each that is a path.
    pub fn target_paths(&self) -> Vec<&str> {
        vec![self.url.as_str()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonrpc(yaml: &str) -> Result<Jsonrpc, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn a_call_needs_a_method_or_a_batch_not_both() {
        assert!(
            jsonrpc("url: /rpc\n")
                .expect_err("none")
                .contains("missing call")
        );
        let both = "method: a\nbatch:\n  - method: b\n";
        assert!(jsonrpc(both).expect_err("both").contains("not both"));
        let ok =
            jsonrpc("method: sum\nparams: [1, 2]\nexpect:\n  result:\n    $: 3\n").expect("valid");
        assert_eq!(ok.describe(), "JSON-RPC sum → /");
    }

    #[test]
    fn rejects_scalar_params_float_ids_and_ids_on_notifications() {
        assert!(
            jsonrpc("method: a\nparams: 3\n")
                .expect_err("scalar")
                .contains("object or an array")
        );
        assert!(
            jsonrpc("method: a\nid: 1.5\n")
                .expect_err("float")
                .contains("string or an integer")
        );
        assert!(
            jsonrpc("method: a\nid: 1\nnotification: true\n")
                .expect_err("id")
                .contains("no id")
        );
        assert!(
            jsonrpc("method: a\nnotification: true\nexpect:\n  error: {code: -32601}\n")
                .expect_err("expect")
                .contains("no response")
        );
    }

    #[test]
    fn rejects_duplicate_batch_ids_and_bad_concurrency() {
        let dup = "batch:\n  - {method: a, id: 1}\n  - {method: b, id: 1}\n";
        assert!(jsonrpc(dup).expect_err("dup").contains("unique"));
        assert!(
            jsonrpc("method: a\nconcurrent: 0\n")
                .expect_err("zero")
                .contains("1 to")
        );
        assert!(jsonrpc("method: a\nnotification: true\nconcurrent: 3\n").is_err());
        assert!(
            jsonrpc("method: a\ncompliance: true\nconcurent: 3\n")
                .expect_err("typo")
                .contains("concurent")
        );
    }

    #[test]
    fn envelope_rules_name_each_violation() {
        let id = json!(7);
        let good = json!({"jsonrpc": "2.0", "id": 7, "result": 1});
        assert!(check_envelope("", &good, &id).iter().all(|c| c.passed));
        let bad = json!({"id": 8, "result": 1, "error": {"code": "x"}});
        let failed: Vec<String> = check_envelope("", &bad, &id)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            failed,
            [
                "jsonrpc",
                "id",
                "result xor error",
                "error.code",
                "error.message"
            ]
        );
    }

    #[test]
    fn an_expected_error_is_matched_by_code_and_message() {
        let call = jsonrpc(
            "method: a\nexpect:\n  error: {code: -32601, message: {contains: not found}}\n",
        )
        .expect("valid");
        let response = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "Method not found"}});
        let checks = check_expect("", &response, &call.calls[0].expect);
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        let result = json!({"jsonrpc": "2.0", "id": 1, "result": 5});
        let checks = check_expect("", &result, &call.calls[0].expect);
        assert_eq!(checks[0].actual, "result 5");
        assert!(!checks[0].passed);
    }

    #[test]
    fn a_mixed_batch_needs_both_ids_and_no_answer_to_the_notification() {
        let rule = Expected::Mixed(json!(1), json!(2));
        let good = json!([
            {"jsonrpc": "2.0", "id": 1, "result": 3},
            {"jsonrpc": "2.0", "id": 2, "error": {"code": -32601, "message": "nope"}}
        ]);
        assert!(rule.judge(&good, 200).1);
        let extra = json!([
            {"jsonrpc": "2.0", "id": 1, "result": 3},
            {"jsonrpc": "2.0", "id": null, "result": 3},
            {"jsonrpc": "2.0", "id": 2, "error": {"code": -32601, "message": "nope"}}
        ]);
        let (actual, passed) = rule.judge(&extra, 200);
        assert!(!passed);
        assert_eq!(actual, "3 responses (ids 1, null, 2)");
    }
}
