//! `cors`: real CORS preflights (`OPTIONS` with `Origin` and
//! `Access-Control-Request-*`) and simple requests, from the allowed origins
//! and from a foreign one; never `*` together with credentials.

use std::collections::BTreeMap;
use std::fmt;

use futures_util::future::join_all;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Value as Json, json};

use super::fetch::{self, Response, Unreachable};
use super::http::{evidence, unreachable_findings};
use super::{Budget, Check, Context, Findings, Probe, ProbeError};

super::with_tls! {
    /// Settings of a `cors` probe.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Cors {
        /// A path (resolved against the target) or an absolute URL; default `/`.
        #[serde(default = "default_url")]
        pub url: String,
        /// Origins that must be allowed: each gets its own origin back.
        #[serde(default)]
        pub allowed_origins: Vec<Origin>,
        /// An origin that must not be allowed (default `https://evil.example`).
        #[serde(default = "default_foreign")]
        pub foreign_origin: Origin,
        /// The method the preflight asks for (`Access-Control-Request-Method`; default `GET`).
        #[serde(default)]
        pub method: Method,
        /// The headers the preflight asks for (`Access-Control-Request-Headers`).
        #[serde(default)]
        pub request_headers: Vec<String>,
        /// Extra request headers on every request.
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// What the allowed origins' preflights must grant.
        #[serde(default)]
        pub expect: CorsExpect,
    }
}

/// The name of the check that no response sent `*` with credentials.
const WILDCARD_CHECK: &str = "no * with credentials";

fn default_url() -> String {
    "/".to_owned()
}

fn default_foreign() -> Origin {
    Origin("https://evil.example".to_owned())
}

/// What the preflights of allowed origins must grant.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsExpect {
    /// Methods that must be allowed (default: `method`, when it is not GET, HEAD or POST).
    #[serde(default)]
    pub methods: Option<Vec<Method>>,
    /// Request headers that must be allowed (default: `request_headers`).
    #[serde(default)]
    pub headers: Option<Vec<String>>,
    /// `true`: allowed origins get `Access-Control-Allow-Credentials: true`;
    /// `false`: they must not. Unchecked when omitted.
    #[serde(default)]
    pub credentials: Option<bool>,
}

/// An origin as browsers send it: `scheme://host[:port]`, or `null`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub struct Origin(pub String);

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_origin(&text).map(Origin).map_err(de::Error::custom)
    }
}

/// Normalises an origin (`https://App.example:443/` → `https://app.example`).
pub fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == "null" {
        return Ok(text.to_owned());
    }
    let bad = |why: &str| format!("invalid origin `{text}`: {why}");
    let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    if !url.has_host() {
        return Err(bad("expected `scheme://host[:port]`"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("an origin has no path, query or fragment"));
    }
    Ok(url.origin().ascii_serialization())
}

/// An HTTP method name, checked when the file is loaded.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub struct Method(pub reqwest::Method);

impl Default for Method {
    fn default() -> Method {
        Method(reqwest::Method::GET)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        reqwest::Method::from_bytes(text.trim().to_uppercase().as_bytes())
            .map(Method)
            .map_err(|_| de::Error::custom(format!("invalid method `{text}`")))
    }
}

/// Methods a browser sends without asking (CORS-safelisted).
fn is_safelisted_method(method: &str) -> bool {
    ["GET", "HEAD", "POST"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// Request headers a browser sends without asking (`content-type` only with
/// form values, so it is not counted here).
fn is_safelisted_header(name: &str) -> bool {
    ["accept", "accept-language", "content-language"]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Preflight,
    Simple,
}

/// One request sent and what came back.
struct Exchange {
    step: Step,
    origin: String,
    allowed: bool,
    request: fetch::Request,
    outcome: Result<Response, Unreachable>,
}

impl Exchange {
    fn name(&self) -> String {
        match self.step {
            Step::Preflight => format!("preflight from {}", self.origin),
            Step::Simple => format!("request from {}", self.origin),
        }
    }
}

/// The CORS response headers of one response.
struct Granted<'r> {
    status: u16,
    origin: Option<&'r str>,
    credentials: bool,
    methods: Option<&'r str>,
    headers: Option<&'r str>,
}

impl<'r> Granted<'r> {
    fn of(r: &'r Response) -> Granted<'r> {
        Granted {
            status: r.status,
            origin: r.header("access-control-allow-origin").map(str::trim),
            credentials: r
                .header("access-control-allow-credentials")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            methods: r.header("access-control-allow-methods"),
            headers: r.header("access-control-allow-headers"),
        }
    }

    /// `204; Access-Control-Allow-Origin "…"; Access-Control-Allow-Credentials "true"`.
    fn shown(&self) -> String {
        let mut text = self.status.to_string();
        match self.origin {
            Some(o) => text.push_str(&format!("; Access-Control-Allow-Origin {o:?}")),
            None => text.push_str("; no Access-Control-Allow-Origin"),
        }
        if self.credentials {
            text.push_str("; Access-Control-Allow-Credentials \"true\"");
        }
        text
    }

    fn is_wildcard_with_credentials(&self) -> bool {
        self.origin == Some("*") && self.credentials
    }

    /// Whether a browser on `origin` may read the response.
    fn allows(&self, origin: &str) -> bool {
        self.origin == Some(origin) || self.origin == Some("*")
    }
}

/// Whether a listed value (`GET, PUT`) grants `wanted`; `*` grants anything
/// but credentialed requests (and never `Authorization`).
fn list_grants(list: Option<&str>, wanted: &str, credentials: bool) -> bool {
    let Some(list) = list else { return false };
    list.split(',').map(str::trim).any(|item| {
        item.eq_ignore_ascii_case(wanted)
            || (item == "*" && !credentials && !wanted.eq_ignore_ascii_case("authorization"))
    })
}

impl Cors {
    /// `CORS /api`.
    pub fn describe(&self) -> String {
        format!("CORS {}", self.url)
    }

    fn request(&self, url: &url::Url, step: Step, origin: &str) -> fetch::Request {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        headers.push(("origin".to_owned(), origin.to_owned()));
        let method = match step {
            Step::Preflight => {
                headers.push((
                    "access-control-request-method".to_owned(),
                    self.method.to_string(),
                ));
                if !self.request_headers.is_empty() {
                    // As browsers send it: lowercase, sorted, comma-separated.
                    let mut names: Vec<String> = self
                        .request_headers
                        .iter()
                        .map(|h| h.trim().to_ascii_lowercase())
                        .collect();
                    names.sort();
                    names.dedup();
                    headers.push(("access-control-request-headers".to_owned(), names.join(",")));
                }
                reqwest::Method::OPTIONS
            }
            // The simple request is always a GET: a probe must not send a
            // DELETE (or any write) to see its CORS headers.
            Step::Simple => reqwest::Method::GET,
        };
        fetch::Request {
            method,
            url: url.clone(),
            headers,
            body: None,
            // Browsers fail a preflight that redirects; so does this probe.
            follow_redirects: false,
            tls: self.tls(),
        }
    }

    fn methods_wanted(&self) -> Option<Vec<String>> {
        match &self.expect.methods {
            Some(methods) => Some(methods.iter().map(ToString::to_string).collect()),
            None if !is_safelisted_method(self.method.0.as_str()) => {
                Some(vec![self.method.to_string()])
            }
            None => None,
        }
    }

    fn headers_wanted(&self) -> Vec<String> {
        self.expect
            .headers
            .clone()
            .unwrap_or_else(|| self.request_headers.clone())
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect()
    }

    fn credentials_wanted(&self) -> &'static str {
        match self.expect.credentials {
            Some(true) => " with Access-Control-Allow-Credentials \"true\"",
            Some(false) => " without Access-Control-Allow-Credentials",
            None => "",
        }
    }

    /// The checks for one exchange that got a response.
    fn check_exchange(&self, x: &Exchange, r: &Response, checks: &mut Vec<Check>) {
        let g = Granted::of(r);
        let name = x.name();
        if !x.allowed {
            checks.push(Check::new(
                name,
                format!(
                    "not allowed: no Access-Control-Allow-Origin {:?} or \"*\"",
                    x.origin
                ),
                g.shown(),
                !g.allows(&x.origin),
            ));
            return;
        }
        let credentials_ok = self.expect.credentials.is_none_or(|c| c == g.credentials);
        let origin_ok = g.origin == Some(x.origin.as_str());
        match x.step {
            Step::Simple => checks.push(Check::new(
                name,
                format!(
                    "Access-Control-Allow-Origin {:?}{}",
                    x.origin,
                    self.credentials_wanted()
                ),
                g.shown(),
                origin_ok && credentials_ok,
            )),
            Step::Preflight => {
                checks.push(Check::new(
                    name.clone(),
                    format!(
                        "2xx with Access-Control-Allow-Origin {:?}{}",
                        x.origin,
                        self.credentials_wanted()
                    ),
                    g.shown(),
                    (200..300).contains(&g.status) && origin_ok && credentials_ok,
                ));
                if let Some(methods) = self.methods_wanted() {
                    let ok = methods.iter().all(|m| {
                        is_safelisted_method(m) || list_grants(g.methods, m, g.credentials)
                    });
                    checks.push(Check::new(
                        format!("{name}: methods"),
                        format!("allows {}", methods.join(", ")),
                        shown_list("Access-Control-Allow-Methods", g.methods),
                        ok,
                    ));
                }
                let headers = self.headers_wanted();
                if !headers.is_empty() {
                    let ok = headers.iter().all(|h| {
                        is_safelisted_header(h) || list_grants(g.headers, h, g.credentials)
                    });
                    checks.push(Check::new(
                        format!("{name}: headers"),
                        format!("allows {}", headers.join(", ")),
                        shown_list("Access-Control-Allow-Headers", g.headers),
                        ok,
                    ));
                }
            }
        }
    }
}

fn shown_list(header: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{header} {v:?}"),
        None => format!("no {header}"),
    }
}

impl Probe for Cors {
    fn sends_http(&self) -> bool {
        true
    }

    /// A preflight and a simple request per allowed origin and for the foreign one.
    fn budget(&self) -> Budget {
        Budget {
            max_requests: 2 * (self.allowed_origins.len() as u64 + 1),
            ..Budget::SINGLE
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let url = cx.resolve(&self.url)?;
        let foreign = self.foreign_origin.0.as_str();
        if self.allowed_origins.iter().any(|o| o.0 == foreign) {
            return Err(ProbeError::Setup(format!(
                "`foreign_origin` {foreign} is also in `allowed_origins`"
            )));
        }
        let mut planned = Vec::new();
        for origin in &self.allowed_origins {
            for step in [Step::Preflight, Step::Simple] {
                planned.push((step, origin.0.clone(), true));
            }
        }
        for step in [Step::Preflight, Step::Simple] {
            planned.push((step, foreign.to_owned(), false));
        }
        let sent = join_all(planned.into_iter().map(|(step, origin, allowed)| {
            let request = self.request(&url, step, &origin);
            async move {
                let outcome = fetch::send(cx, &request).await?;
                Ok::<_, ProbeError>(Exchange {
                    step,
                    origin,
                    allowed,
                    request,
                    outcome,
                })
            }
        }))
        .await;
        let exchanges = sent.into_iter().collect::<Result<Vec<_>, _>>()?;
        let line = self.describe();
        if let Some(Exchange {
            request,
            outcome: Err(unreachable),
            ..
        }) = exchanges.first()
            && exchanges.iter().all(|x| x.outcome.is_err())
        {
            return Ok(unreachable_findings(&line, request, unreachable, cx));
        }

        let mut checks = Vec::new();
        let mut wildcard = Vec::new();
        let mut responses = 0;
        for x in &exchanges {
            match &x.outcome {
                Ok(r) => {
                    responses += 1;
                    self.check_exchange(x, r, &mut checks);
                    if Granted::of(r).is_wildcard_with_credentials() {
                        wildcard.push(x.name());
                    }
                }
                Err(unreachable) => checks.push(Check::new(
                    x.name(),
                    "an HTTP response",
                    unreachable.reason.clone(),
                    false,
                )),
            }
        }
        checks.push(Check::new(
            WILDCARD_CHECK,
            "never Access-Control-Allow-Origin \"*\" with Access-Control-Allow-Credentials \"true\"",
            if wildcard.is_empty() {
                format!("held on {responses} responses")
            } else {
                format!("both sent on {}", wildcard.join(", "))
            },
            wildcard.is_empty(),
        ));

        let summary = self.summarize(&line, &exchanges, &checks);
        let record = json!({
            "url": url.as_str(),
            "allowed_origins": self.allowed_origins.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(),
            "foreign_origin": foreign,
            "exchanges": exchanges.iter().map(|x| exchange_record(x, cx)).collect::<Vec<_>>(),
        });
        Ok(Findings {
            checks,
            summary,
            evidence: record,
        })
    }
}

impl Cors {
    fn summarize(&self, line: &str, exchanges: &[Exchange], checks: &[Check]) -> String {
        let origins = self.allowed_origins.len() + 1;
        let mut summary = format!(
            "{line} → {} requests from {origins} origin{}",
            exchanges.len(),
            if origins == 1 { "" } else { "s" }
        );
        let mut failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        // The worst finding first: `*` with credentials.
        failed.sort_by_key(|c| c.name != WILDCARD_CHECK);
        if failed.is_empty() {
            if !self.allowed_origins.is_empty() {
                summary.push_str("; allowed origins get their origin back");
            }
            summary.push_str(&format!("; {} is not allowed", self.foreign_origin.0));
        } else {
            super::append_failures(&mut summary, &failed, 2, true);
        }
        summary
    }
}

/// One exchange's evidence: what was asked, from which origin, what came back.
fn exchange_record(x: &Exchange, cx: &Context) -> Json {
    let mut record = match &x.outcome {
        Ok(r) => evidence(&x.request, Some(r), cx),
        Err(unreachable) => {
            let mut record = evidence(&x.request, None, cx);
            record["error"] = json!(unreachable.reason);
            record
        }
    };
    record["name"] = json!(x.name());
    record["origin"] = json!(x.origin);
    record["should_be_allowed"] = json!(x.allowed);
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    use std::time::Duration;

    fn cors(yaml: &str) -> Result<Cors, String> {
        crate::spec::de::from_yaml(yaml)
    }

    fn response(status: u16, pairs: &[(&str, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        Response {
            status,
            version: "HTTP/1.1".to_owned(),
            headers: map,
            body: bytes::Bytes::new(),
            truncated: false,
            final_url: url::Url::parse("https://api.example/").expect("url"),
            headers_after: Duration::ZERO,
            elapsed: Duration::ZERO,
        }
    }

    fn exchange(cors: &Cors, step: Step, origin: &str, allowed: bool, r: Response) -> Vec<Check> {
        let url = url::Url::parse("https://api.example/").expect("url");
        let x = Exchange {
            step,
            origin: origin.to_owned(),
            allowed,
            request: cors.request(&url, step, origin),
            outcome: Ok(r.clone()),
        };
        let mut checks = Vec::new();
        cors.check_exchange(&x, &r, &mut checks);
        checks
    }

    #[test]
    fn defaults_and_origin_normalisation() {
        let c = cors("allowed_origins: ['HTTPS://App.example:443/']\n").expect("valid");
        assert_eq!(c.allowed_origins[0].0, "https://app.example");
        assert_eq!(c.foreign_origin.0, "https://evil.example");
        assert_eq!(c.method.0, reqwest::Method::GET);
        assert_eq!(c.describe(), "CORS /");
        let err = cors("allowed_origins: [https://app.example/path]\n").expect_err("path");
        assert!(err.contains("no path"), "{err}");
        let err = cors("method: 'BAD METHOD'\n").expect_err("method");
        assert!(err.contains("invalid method"), "{err}");
    }

    #[test]
    fn preflight_asks_like_a_browser() {
        let c = cors("method: put\nrequest_headers: [X-Trace, Authorization]\n").expect("valid");
        let url = url::Url::parse("https://api.example/x").expect("url");
        let r = c.request(&url, Step::Preflight, "https://app.example");
        assert_eq!(r.method, reqwest::Method::OPTIONS);
        assert!(
            r.headers
                .contains(&("origin".to_owned(), "https://app.example".to_owned()))
        );
        assert!(
            r.headers
                .contains(&("access-control-request-method".to_owned(), "PUT".to_owned()))
        );
        assert!(r.headers.contains(&(
            "access-control-request-headers".to_owned(),
            "authorization,x-trace".to_owned()
        )));
        let simple = c.request(&url, Step::Simple, "https://app.example");
        assert_eq!(simple.method, reqwest::Method::GET);
    }

    #[test]
    fn an_allowed_origin_must_get_itself_back() {
        let c = cors("allowed_origins: [https://app.example]\nexpect: {credentials: true}\n")
            .expect("valid");
        let echoed = response(
            204,
            &[
                ("access-control-allow-origin", "https://app.example"),
                ("access-control-allow-credentials", "true"),
            ],
        );
        let checks = exchange(&c, Step::Preflight, "https://app.example", true, echoed);
        assert!(checks.iter().all(|ch| ch.passed), "{checks:#?}");
        let star = response(204, &[("access-control-allow-origin", "*")]);
        let checks = exchange(&c, Step::Preflight, "https://app.example", true, star);
        assert!(!checks[0].passed);
        assert_eq!(checks[0].actual, "204; Access-Control-Allow-Origin \"*\"");
    }

    #[test]
    fn a_foreign_origin_must_not_be_allowed() {
        let c = cors("{}\n").expect("valid");
        let refused = response(403, &[]);
        assert!(exchange(&c, Step::Preflight, "https://evil.example", false, refused)[0].passed);
        let other = response(
            204,
            &[("access-control-allow-origin", "https://app.example")],
        );
        assert!(exchange(&c, Step::Simple, "https://evil.example", false, other)[0].passed);
        let reflected = response(
            200,
            &[("access-control-allow-origin", "https://evil.example")],
        );
        assert!(!exchange(&c, Step::Simple, "https://evil.example", false, reflected)[0].passed);
        let star = response(200, &[("access-control-allow-origin", "*")]);
        assert!(!exchange(&c, Step::Simple, "https://evil.example", false, star)[0].passed);
    }

    #[test]
    fn methods_and_headers_follow_the_fetch_rules() {
        let c = cors(
            "allowed_origins: [https://app.example]\nmethod: DELETE\nrequest_headers: [authorization, x-trace]\n",
        )
        .expect("valid");
        let ok = response(
            204,
            &[
                ("access-control-allow-origin", "https://app.example"),
                ("access-control-allow-methods", "GET, DELETE"),
                ("access-control-allow-headers", "Authorization, X-Trace"),
            ],
        );
        let checks = exchange(&c, Step::Preflight, "https://app.example", true, ok);
        assert_eq!(checks.len(), 3);
        assert!(checks.iter().all(|ch| ch.passed), "{checks:#?}");
        // `*` never covers Authorization.
        let star = response(
            204,
            &[
                ("access-control-allow-origin", "https://app.example"),
                ("access-control-allow-methods", "*"),
                ("access-control-allow-headers", "*"),
            ],
        );
        let checks = exchange(&c, Step::Preflight, "https://app.example", true, star);
        assert!(checks[1].passed, "{checks:#?}");
        assert!(!checks[2].passed, "{checks:#?}");
        assert!(list_grants(Some("*"), "x-trace", false));
        assert!(!list_grants(Some("*"), "x-trace", true));
    }

    #[test]
    fn safelisted_methods_need_no_methods_check() {
        let c = cors("allowed_origins: [https://app.example]\n").expect("valid");
        assert_eq!(c.methods_wanted(), None);
        let c = cors("allowed_origins: [https://app.example]\nexpect: {methods: [get, patch]}\n")
            .expect("valid");
        assert_eq!(
            c.methods_wanted(),
            Some(vec!["GET".to_owned(), "PATCH".to_owned()])
        );
    }
}
