//! `http`: one request (method, URL, headers, query, body) and expectations on
//! the response: status, headers, JSONPath, body text, latency, redirect target.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Value as Json, json};
use serde_json_path::JsonPath;

use super::fetch::{self, Response};
use super::{Check, Context, Findings, Probe, ProbeError, TlsSettings};
use crate::expect::{self, Dur, Matcher};

/// Settings of an `http` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "HttpSettings")]
#[schemars(with = "HttpSettings")]
pub struct Http {
    method: reqwest::Method,
    url: String,
    follow_redirects: bool,
    expect: HttpExpect,
    /// Headers, query, body and TLS files, when any is given: most probes
    /// give none, and a large probe file holds many probes.
    extras: Option<Box<RequestExtras>>,
}

/// The parts of a request most probes leave out.
#[derive(Debug, Clone, Default)]
struct RequestExtras {
    headers: BTreeMap<String, String>,
    query: BTreeMap<String, String>,
    body: Option<BodySpec>,
    tls: TlsSettings,
}

static NO_EXTRAS: RequestExtras = RequestExtras {
    headers: BTreeMap::new(),
    query: BTreeMap::new(),
    body: None,
    tls: TlsSettings {
        ca: None,
        client_cert: None,
        client_key: None,
        insecure: false,
    },
};

#[derive(Debug, Clone)]
enum BodySpec {
    Json(Json),
    Text(String),
}

super::with_tls! {
    /// The `http:` settings as written.
    #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct HttpSettings {
        /// `get: /path` — shorthand for `method: GET` + `url`.
        #[serde(default)]
        get: Option<String>,
        /// `post: /path`.
        #[serde(default)]
        post: Option<String>,
        /// `put: /path`.
        #[serde(default)]
        put: Option<String>,
        /// `patch: /path`.
        #[serde(default)]
        patch: Option<String>,
        /// `delete: /path`.
        #[serde(default)]
        delete: Option<String>,
        /// `head: /path`.
        #[serde(default)]
        head: Option<String>,
        /// `options: /path`.
        #[serde(default)]
        options: Option<String>,
        /// The method, with `url` (default `GET`).
        #[serde(default)]
        method: Option<String>,
        /// A path (resolved against the target) or an absolute URL.
        #[serde(default)]
        url: Option<String>,
        /// Request headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// Query parameters, appended to the URL.
        #[serde(default)]
        query: BTreeMap<String, String>,
        /// A JSON body (sets `Content-Type: application/json`).
        #[serde(default)]
        json: Option<Json>,
        /// A text body.
        #[serde(default)]
        body: Option<String>,
        /// Follow redirects (default true, at most 10).
        #[serde(default)]
        follow_redirects: Option<bool>,
        /// What the response must look like.
        #[serde(default)]
        expect: HttpExpect,
    }
}

/// Expectations on an HTTP response.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    /// The status: a number, a list of numbers or a matcher (default: 2xx or 3xx).
    #[serde(default)]
    pub status: Option<Matcher>,
    /// Header name → matcher; `absent` for headers that must not be sent.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderExpect>,
    /// JSONPath (RFC 9535) → matcher, for every node the path selects.
    #[serde(default)]
    pub json: JsonExpect,
    /// Expectations on the body text.
    // Boxed: few probes have them, and a large file holds many probes.
    #[serde(default)]
    pub body: Option<Box<BodyExpect>>,
    /// Bounds on the time to the full response.
    #[serde(default)]
    pub latency: Option<LatencyExpect>,
    /// A matcher on the final URL after redirects.
    #[serde(default)]
    pub redirect: Option<Matcher>,
}

/// A header expectation: a matcher, or the word `absent`.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(with = "Matcher")]
pub struct HeaderExpect(pub Matcher);

impl<'de> Deserialize<'de> for HeaderExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let matcher = Matcher::deserialize(deserializer)?;
        // A bare `absent` reads as "this header must not be sent".
        if matcher.as_eq_str() == Some("absent") {
            return Ok(HeaderExpect(Matcher::absent()));
        }
        Ok(HeaderExpect(matcher))
    }
}

/// Body text expectations.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyExpect {
    /// Substrings that must all appear.
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany")]
    pub contains: Vec<String>,
    /// A regex the body must match.
    #[serde(default)]
    pub matches: Option<expect::Pattern>,
}

/// Latency bounds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyExpect {
    /// The most the full response may take.
    pub max: Dur,
}

/// JSONPath expectations in written order.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(with = "BTreeMap<String, Matcher>")]
pub struct JsonExpect(pub Vec<(PathKey, Matcher)>);

/// A parsed JSONPath and how it was written. Probes that write the same
/// path share one parse: a large probe file writes `$.status` thousands of
/// times.
#[derive(Debug, Clone)]
pub struct PathKey {
    /// As written.
    pub text: String,
    /// Parsed.
    pub path: Arc<JsonPath>,
}

/// Distinct paths parsed on this thread, at most this many kept.
const SHARED_PATHS: usize = 4096;

thread_local! {
    static PATHS: std::cell::RefCell<HashMap<String, Arc<JsonPath>>> =
        std::cell::RefCell::new(HashMap::new());
}

impl<'de> Deserialize<'de> for PathKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if let Some(path) = PATHS.with(|paths| paths.borrow().get(&text).cloned()) {
            return Ok(PathKey { text, path });
        }
        let path = Arc::new(
            JsonPath::parse(&text)
                .map_err(|e| de::Error::custom(format!("invalid JSONPath `{text}`: {e}")))?,
        );
        PATHS.with(|paths| {
            let mut paths = paths.borrow_mut();
            if paths.len() >= SHARED_PATHS {
                paths.clear();
            }
            paths.insert(text.clone(), Arc::clone(&path));
        });
        Ok(PathKey { text, path })
    }
}

impl<'de> Deserialize<'de> for JsonExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of JSONPath → matcher")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonExpect, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<PathKey>()? {
                    entries.push((key, map.next_value()?));
                }
                // A vector grows four at a time: most probes check one path.
                entries.shrink_to_fit();
                Ok(JsonExpect(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// One string or a list of strings (schema only).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl TryFrom<HttpSettings> for Http {
    type Error = String;

    fn try_from(s: HttpSettings) -> Result<Http, String> {
        let tls = s.tls();
        let shorthands = [
            ("GET", &s.get),
            ("POST", &s.post),
            ("PUT", &s.put),
            ("PATCH", &s.patch),
            ("DELETE", &s.delete),
            ("HEAD", &s.head),
            ("OPTIONS", &s.options),
        ];
        let given: Vec<(&str, &String)> = shorthands
            .iter()
            .filter_map(|(m, v)| v.as_ref().map(|v| (*m, v)))
            .collect();
        let (method, url) = match (given.as_slice(), &s.url) {
            ([(m, path)], None) => {
                if s.method.is_some() {
                    return Err(format!(
                        "`method` conflicts with `{}:`; write `method` + `url`, or the shorthand alone",
                        m.to_lowercase()
                    ));
                }
                ((*m).to_owned(), (*path).clone())
            }
            ([], Some(url)) => (
                s.method.clone().unwrap_or_else(|| "GET".to_owned()),
                url.clone(),
            ),
            ([], None) => {
                return Err(
                    "missing request: write `get: /path` (or `post:`, …) or `url:`".to_owned(),
                );
            }
            _ => {
                return Err(
                    "more than one request given: use one of `get:`, `post:`, … or `url:`"
                        .to_owned(),
                );
            }
        };
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
            .map_err(|_| format!("invalid method `{method}`"))?;
        let body = match (s.json, s.body) {
            (Some(_), Some(_)) => return Err("give `json:` or `body:`, not both".to_owned()),
            (Some(j), None) => Some(BodySpec::Json(j)),
            (None, Some(t)) => Some(BodySpec::Text(t)),
            (None, None) => None,
        };
        let extras = RequestExtras {
            headers: s.headers,
            query: s.query,
            body,
            tls,
        };
        let given = !extras.headers.is_empty()
            || !extras.query.is_empty()
            || extras.body.is_some()
            || extras.tls != TlsSettings::default();
        Ok(Http {
            method,
            url,
            follow_redirects: s.follow_redirects.unwrap_or(true),
            expect: s.expect,
            extras: given.then(|| Box::new(extras)),
        })
    }
}

impl Http {
    /// `GET /health`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.url)
    }

    fn extras(&self) -> &RequestExtras {
        self.extras.as_deref().unwrap_or(&NO_EXTRAS)
    }

    fn request(&self, cx: &Context) -> Result<fetch::Request, ProbeError> {
        let extras = self.extras();
        let mut url = cx.resolve(&self.url)?;
        if !extras.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&extras.query);
        }
        let mut headers: Vec<(String, String)> = extras
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let body = match &extras.body {
            Some(BodySpec::Json(j)) => {
                if !extras
                    .headers
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("content-type".to_owned(), "application/json".to_owned()));
                }
                Some(Bytes::from(j.to_string()))
            }
            Some(BodySpec::Text(t)) => Some(Bytes::from(t.clone())),
            None => None,
        };
        Ok(fetch::Request {
            method: self.method.clone(),
            url,
            headers,
            body,
            follow_redirects: self.follow_redirects,
            tls: extras.tls.clone(),
        })
    }
}

impl Probe for Http {
    fn sends_http(&self) -> bool {
        true
    }

    fn records_response(&self) -> bool {
        true
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let request = self.request(cx)?;
        let response = fetch::send(cx, &request).await?;
        let line = self.describe();
        Ok(match response {
            Ok(response) => {
                let checks = check_response(&self.expect, &response, cx.body_limit);
                let summary = summarize(&line, &response, &checks);
                let record = if checks.iter().all(|c| c.passed) {
                    // Only the headers a pass keeps are turned into JSON.
                    let named = |name: &str| {
                        self.expect
                            .headers
                            .keys()
                            .any(|h| h.eq_ignore_ascii_case(name))
                    };
                    let keep = |name: &str| SELECTED_HEADERS.contains(&name) || named(name);
                    let mut record = evidence_with(&request, Some(&response), cx, &keep);
                    slim(&mut record, self.expect.headers.keys());
                    record
                } else {
                    evidence(&request, Some(&response), cx)
                };
                Findings {
                    checks,
                    summary,
                    evidence: record,
                }
            }
            Err(unreachable) => unreachable_findings(&line, &request, &unreachable, cx),
        })
    }
}

/// Findings for a request that got no response: a failed `response` check.
pub fn unreachable_findings(
    line: &str,
    request: &fetch::Request,
    unreachable: &fetch::Unreachable,
    cx: &Context,
) -> Findings {
    let mut record = evidence(request, None, cx);
    record["error"] = json!(unreachable.reason);
    record["timings"] = json!({"total_ms": fetch::millis(unreachable.after)});
    Findings {
        checks: vec![Check::new(
            "response",
            "an HTTP response",
            unreachable.reason.clone(),
            false,
        )],
        summary: format!("{line} → {}", unreachable.reason),
        evidence: record,
    }
}

/// The structured record of an exchange.
pub fn evidence(request: &fetch::Request, response: Option<&Response>, cx: &Context) -> Json {
    evidence_with(request, response, cx, &|_| true)
}

/// [`evidence`] with only the response headers `keep` accepts.
fn evidence_with(
    request: &fetch::Request,
    response: Option<&Response>,
    cx: &Context,
    keep: &dyn Fn(&str) -> bool,
) -> Json {
    // Built by hand rather than with `json!`: this runs once per probe, and
    // thousands of probes are the common case.
    fn object(entries: Vec<(&str, Json)>) -> Json {
        Json::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }
    let headers: serde_json::Map<String, Json> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Json::from(v.as_str())))
        .collect();
    let mut sent = vec![
        ("method", Json::from(request.method.as_str())),
        ("url", Json::from(request.url.as_str())),
        ("headers", Json::Object(headers)),
    ];
    if let Some(body) = &request.body {
        sent.push(("body", Json::from(fetch::body_excerpt(body, 512))));
    }
    let mut record = vec![("request", object(sent))];
    if request.tls.insecure || cx.tls.insecure {
        record.push((
            "tls",
            object(vec![
                ("insecure", Json::Bool(true)),
                ("note", Json::from("certificate verification was skipped")),
            ]),
        ));
    }
    if let Some(r) = response {
        record.push((
            "response",
            object(vec![
                ("status", Json::from(r.status)),
                ("version", Json::from(r.version.as_str())),
                ("headers", fetch::headers_json_where(&r.headers, keep)),
                ("body_excerpt", Json::from(r.excerpt(512))),
                ("body_bytes", Json::from(r.body.len())),
                ("truncated", Json::Bool(r.truncated)),
                ("final_url", Json::from(r.final_url.as_str())),
            ]),
        ));
        record.push((
            "timings",
            object(vec![
                ("headers_ms", Json::from(fetch::millis(r.headers_after))),
                ("total_ms", Json::from(fetch::millis(r.elapsed))),
            ]),
        ));
    }
    object(record)
}

/// Response headers a passing probe's evidence keeps: those that say what
/// came back, plus the ones its expectations named.
const SELECTED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "location",
];

/// The most of a passing probe's body kept as evidence.
const PASSING_EXCERPT: usize = 160;

/// Trims a passing probe's record to the selected headers and a shorter
/// body excerpt: a failure keeps everything, a pass keeps what proves it
/// (thousands of passing probes are the common case, and memory is bounded).
pub fn slim<'a>(record: &mut Json, expected: impl Iterator<Item = &'a String>) {
    let expected: Vec<String> = expected.map(|h| h.to_ascii_lowercase()).collect();
    let Some(response) = record.get_mut("response").and_then(Json::as_object_mut) else {
        return;
    };
    if let Some(Json::Object(headers)) = response.get_mut("headers") {
        headers.retain(|name, _| {
            SELECTED_HEADERS.contains(&name.as_str()) || expected.iter().any(|e| e == name)
        });
    }
    if let Some(Json::String(excerpt)) = response.get_mut("body_excerpt")
        && let std::borrow::Cow::Owned(short) = expect::excerpt(excerpt, PASSING_EXCERPT)
    {
        *excerpt = short;
    }
}

/// Checks a response against every expectation.
pub fn check_response(expect: &HttpExpect, r: &Response, body_limit: u64) -> Vec<Check> {
    let mut checks = Vec::new();
    match &expect.status {
        Some(m) => {
            let ok = m.check(Some(&Json::from(r.status))).is_ok();
            checks.push(Check::new(
                "status",
                m.to_string(),
                r.status.to_string(),
                ok,
            ));
        }
        None => checks.push(Check::new(
            "status",
            "2xx or 3xx",
            r.status.to_string(),
            (200..400).contains(&r.status),
        )),
    }
    if r.truncated {
        checks.push(Check::new(
            "body size",
            format!("at most {}", expect::format_size(body_limit)),
            format!(
                "more than {} (reading stopped there)",
                expect::format_size(body_limit)
            ),
            false,
        ));
    }
    checks.extend(check_headers(&expect.headers, r));
    if !expect.json.0.is_empty() {
        checks.extend(check_json(&expect.json, r));
    }
    if let Some(body) = &expect.body {
        let seen = expect::one_line(&r.excerpt(80)).into_owned();
        for needle in &body.contains {
            checks.push(Check::new(
                "body",
                format!("contains {needle:?}"),
                seen.clone(),
                match std::str::from_utf8(&r.body) {
                    Ok(text) => text.contains(needle.as_str()),
                    Err(_) => bytes_match(&r.body, &regex::escape(needle)),
                },
            ));
        }
        if let Some(expect::Pattern(re)) = &body.matches {
            checks.push(Check::new(
                "body",
                format!("matches /{}/", re.as_str()),
                seen.clone(),
                match std::str::from_utf8(&r.body) {
                    Ok(text) => re.is_match(text),
                    Err(_) => bytes_match(&r.body, re.as_str()),
                },
            ));
        }
    }
    if let Some(latency) = &expect.latency {
        checks.push(Check::new(
            "latency",
            format!("<= {}", latency.max),
            fetch::format_latency(r.elapsed),
            r.elapsed <= latency.max.0,
        ));
    }
    if let Some(m) = &expect.redirect {
        checks.push(Check::new(
            "redirect",
            m.to_string(),
            r.final_url.to_string(),
            m.check_str(Some(r.final_url.as_str())).is_ok(),
        ));
    }
    checks
}

/// Whether a regex matches a body that is not UTF-8, searched as it is
/// rather than copied into text first (a copy as large as the body, or up to
/// three times larger in replacement characters).
fn bytes_match(body: &[u8], pattern: &str) -> bool {
    regex::bytes::Regex::new(pattern).is_ok_and(|re| re.is_match(body))
}

/// Header checks, one per expected header (`header NAME`); a multi-valued
/// header passes when any value matches, and credential headers are never shown.
pub fn check_headers(expected: &BTreeMap<String, HeaderExpect>, r: &Response) -> Vec<Check> {
    expected
        .iter()
        .map(|(name, HeaderExpect(m))| {
            let values: Vec<&str> = r
                .headers
                .get_all(name.as_str())
                .iter()
                .filter_map(crate::probe::fetch::header_str)
                .collect();
            let shown = if values.is_empty() {
                "absent".to_owned()
            } else if crate::redact::is_credential_header(name) {
                format!("present ({})", crate::redact::REDACTED)
            } else {
                format!("{:?}", values.join(", "))
            };
            let ok = if values.is_empty() {
                m.check_str(None).is_ok()
            } else {
                values.iter().any(|v| m.check_str(Some(v)).is_ok())
            };
            Check::new(format!("header {name}"), m.to_string(), shown, ok)
        })
        .collect()
}

/// JSONPath checks: each path must select something (unless `absent` is
/// wanted) and every selected node must match.
pub fn check_json(expect: &JsonExpect, r: &Response) -> Vec<Check> {
    let parsed: Result<Json, _> = serde_json::from_slice(&r.body);
    let doc = match parsed {
        Ok(doc) => doc,
        Err(e) => {
            let why = if r.truncated {
                "body cut at the size limit".to_owned()
            } else {
                format!("not JSON ({e})")
            };
            return expect
                .0
                .iter()
                .map(|(key, m)| Check::new(key.text.clone(), m.to_string(), why.clone(), false))
                .collect();
        }
    };
    expect
        .0
        .iter()
        .map(|(key, m)| {
            let nodes = key.path.query(&doc).all();
            if nodes.is_empty() {
                let ok = m.check(None).is_ok();
                return Check::new(key.text.clone(), m.to_string(), "no match", ok);
            }
            let failing = nodes.iter().find(|n| m.check(Some(n)).is_err());
            let shown = match failing {
                Some(n) => expect::show(n),
                None if nodes.len() == 1 => expect::show(nodes[0]),
                None => format!("{} nodes, all matching", nodes.len()),
            };
            Check::new(
                key.text.clone(),
                m.to_string(),
                expect::excerpt(&shown, 120).into_owned(),
                failing.is_none(),
            )
        })
        .collect()
}

/// `GET /health → 200 in 12 ms; $.status = "healthy"`, or the first failure.
pub fn summarize(line: &str, r: &Response, checks: &[Check]) -> String {
    let mut summary = format!(
        "{line} → {} in {}",
        r.status,
        fetch::format_latency(r.elapsed)
    );
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
    if failed.is_empty() {
        for c in checks.iter().filter(|c| c.name.starts_with('$')).take(2) {
            summary.push_str(&format!("; {} = {}", c.name, c.actual));
        }
    } else {
        super::append_failures(&mut summary, &failed, 2, true);
    }
    summary
}

impl Http {
    /// The paths and URLs this probe resolves against the target, as
    /// written: loading checks a target is set for each that is a path.
    pub fn target_paths(&self) -> Vec<&str> {
        vec![self.url.as_str()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(yaml: &str) -> Result<Http, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn shorthand_sets_method_and_url() {
        let h = http("post: /items\njson: {a: 1}\n").expect("valid");
        assert_eq!(h.method, reqwest::Method::POST);
        assert_eq!(h.describe(), "POST /items");
        assert!(matches!(h.extras().body, Some(BodySpec::Json(_))));
    }

    #[test]
    fn method_and_url_default_to_get() {
        let h = http("url: https://example.test/x\n").expect("valid");
        assert_eq!(h.describe(), "GET https://example.test/x");
    }

    #[test]
    fn rejects_two_requests_and_none() {
        assert!(
            http("get: /a\npost: /b\n")
                .expect_err("two")
                .contains("more than one")
        );
        assert!(
            http("headers: {a: b}\n")
                .expect_err("none")
                .contains("missing request")
        );
        assert!(
            http("get: /a\nbody: x\njson: {}\n")
                .expect_err("both")
                .contains("not both")
        );
    }

    #[test]
    fn rejects_bad_jsonpath_at_load() {
        let err = http("get: /a\nexpect:\n  json:\n    $.[bad: 1\n").expect_err("bad path");
        assert!(err.contains("invalid JSONPath"), "{err}");
    }

    #[test]
    fn a_passing_record_keeps_selected_headers_and_a_short_excerpt() {
        let mut record = json!({"response": {
            "headers": {"content-type": "application/json", "etag": "x", "x-request-id": "7", "server": "nginx"},
            "body_excerpt": "a".repeat(400),
        }});
        let named = ["X-Request-Id".to_owned()];
        slim(&mut record, named.iter());
        let headers = record["response"]["headers"].as_object().expect("headers");
        let kept: Vec<&str> = headers.keys().map(String::as_str).collect();
        assert_eq!(kept, vec!["content-type", "x-request-id"]);
        assert_eq!(
            record["response"]["body_excerpt"]
                .as_str()
                .map(|s| s.chars().count()),
            Some(161)
        );
    }

    #[test]
    fn a_body_that_is_not_utf8_is_matched_as_bytes() {
        let h = http("get: /a\nexpect:\n  body:\n    contains: [\"needle\", \"absent\"]\n    matches: \"ne+dle\"\n")
            .expect("valid");
        let mut body = vec![0xff_u8; 1000];
        body.extend_from_slice(b"a needle");
        let response = Response {
            status: 200,
            version: "HTTP/1.1".to_owned(),
            headers: reqwest::header::HeaderMap::new(),
            body: Bytes::from(body),
            truncated: false,
            final_url: url::Url::parse("http://h/a").expect("url"),
            headers_after: std::time::Duration::ZERO,
            elapsed: std::time::Duration::ZERO,
        };
        let checks = check_response(&h.expect, &response, 1 << 20);
        let body_checks: Vec<bool> = checks
            .iter()
            .filter(|c| c.name == "body")
            .map(|c| c.passed)
            .collect();
        assert_eq!(body_checks, vec![true, false, true]);
    }

    #[test]
    fn bare_absent_means_header_must_be_missing() {
        let h = http("get: /a\nexpect:\n  headers:\n    x-powered-by: absent\n").expect("valid");
        assert!(h.expect.headers["x-powered-by"].0.wants_absent());
    }
}
