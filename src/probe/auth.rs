//! `auth`: one endpoint (or several), three requests each — without
//! credentials, with wrong ones and with the right ones (header, bearer, basic
//! or query key) — expecting 401/403, 401/403 and 2xx. The right credential
//! never appears in what it records.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use url::Url;

use super::cors::Method;
use super::fetch::{self, Response, Unreachable};
use super::http::{evidence, unreachable_findings};
use super::{Budget, Check, Context, Findings, Probe, ProbeError, TlsSettings};
use crate::expect::Matcher;
use crate::redact::{REDACTED, Redactor, Secrets};

/// Settings of an `auth` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "AuthSettings")]
#[schemars(with = "AuthSettings")]
pub struct Auth {
    paths: Vec<String>,
    method: reqwest::Method,
    headers: BTreeMap<String, String>,
    credential: Credential,
    wrong: Option<String>,
    follow_redirects: bool,
    tls: TlsSettings,
    expect: AuthExpect,
}

super::with_tls! {
    /// The `auth:` settings as written.
    #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct AuthSettings {
        /// A path (resolved against the target) or an absolute URL; default `/`.
        #[serde(default)]
        url: Option<String>,
        /// Several paths or URLs, each checked the same way (instead of `url`).
        #[serde(default)]
        paths: Option<Vec<String>>,
        /// The method of every request (default `GET`).
        #[serde(default)]
        method: Option<Method>,
        /// Extra request headers on every request (not the credential's own).
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// The credential in a header: `{name: X-API-Key, value: …}`.
        #[serde(default)]
        header: Option<NamedSecret>,
        /// The credential as `Authorization: Bearer TOKEN`.
        #[serde(default)]
        bearer: Option<String>,
        /// The credential as HTTP Basic: `{user, password}`.
        #[serde(default)]
        basic: Option<BasicSecret>,
        /// The credential as a query parameter: `{name: api_key, value: …}`.
        #[serde(default)]
        query: Option<NamedSecret>,
        /// The wrong credential to try (the header value, token, password or query
        /// value); default: a made-up value of the same shape as the right one.
        #[serde(default)]
        wrong: Option<String>,
        /// Follow redirects (default false: a redirect to a login page is seen as a 3xx).
        #[serde(default)]
        follow_redirects: bool,
        /// The statuses expected.
        #[serde(default)]
        expect: AuthExpect,
    }
}

/// A credential sent under a name (a header or a query parameter).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedSecret {
    /// The header or query parameter name.
    pub name: String,
    /// The secret value (write `${secret:NAME}`, or `${env:NAME}`: a secret either way).
    pub value: String,
}

/// HTTP Basic credentials.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicSecret {
    /// The user name.
    pub user: String,
    /// The password (write `${secret:NAME}`, or `${env:NAME}`: a secret either way).
    pub password: String,
}

/// The statuses an `auth` probe expects.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthExpect {
    /// Without or with wrong credentials (default `[401, 403]`).
    #[serde(default)]
    pub unauthenticated: Option<Matcher>,
    /// Require a `WWW-Authenticate` header on every 401 (default false).
    #[serde(default)]
    pub www_authenticate: bool,
    /// With the right credentials (default: any 2xx).
    #[serde(default)]
    pub authenticated: Option<Matcher>,
}

/// How the credential is sent.
#[derive(Debug, Clone)]
enum Credential {
    Header { name: String, value: String },
    Bearer(String),
    Basic { user: String, password: String },
    Query { name: String, value: String },
}

impl Credential {
    /// `header X-API-Key`, `bearer`, `basic`, `query api_key`.
    fn scheme(&self) -> String {
        match self {
            Credential::Header { name, .. } => format!("header {name}"),
            Credential::Bearer(_) => "bearer".to_owned(),
            Credential::Basic { .. } => "basic".to_owned(),
            Credential::Query { name, .. } => format!("query {name}"),
        }
    }

    /// The secret part: what `wrong:` replaces.
    fn secret(&self) -> &str {
        match self {
            Credential::Header { value, .. }
            | Credential::Bearer(value)
            | Credential::Query { value, .. } => value,
            Credential::Basic { password, .. } => password,
        }
    }

    /// The header this credential travels in, if any.
    fn header_name(&self) -> Option<&str> {
        match self {
            Credential::Header { name, .. } => Some(name),
            Credential::Bearer(_) | Credential::Basic { .. } => Some("authorization"),
            Credential::Query { .. } => None,
        }
    }

    /// The credential with `secret` in place of the right one.
    fn with_secret(&self, secret: &str) -> Credential {
        match self {
            Credential::Header { name, .. } => Credential::Header {
                name: name.clone(),
                value: secret.to_owned(),
            },
            Credential::Bearer(_) => Credential::Bearer(secret.to_owned()),
            Credential::Basic { user, .. } => Credential::Basic {
                user: user.clone(),
                password: secret.to_owned(),
            },
            Credential::Query { name, .. } => Credential::Query {
                name: name.clone(),
                value: secret.to_owned(),
            },
        }
    }

    /// Records the credential as a secret: the redactor derives every
    /// spelling a response could echo (JSON escapes, percent, hex, base64 of
    /// the value, of `Bearer value` and of the Basic `user:password`).
    fn add_to(&self, secrets: &mut Secrets) {
        match self {
            Credential::Header { value, .. }
            | Credential::Bearer(value)
            | Credential::Query { value, .. } => secrets.add(value),
            Credential::Basic { user, password } => secrets.add_pair(user, password),
        }
    }
}

impl TryFrom<AuthSettings> for Auth {
    type Error = String;

    fn try_from(s: AuthSettings) -> Result<Auth, String> {
        let tls = s.tls();
        let paths = match (s.url, s.paths) {
            (Some(_), Some(_)) => return Err("give `url:` or `paths:`, not both".to_owned()),
            (Some(url), None) => vec![url],
            (None, Some(paths)) if paths.is_empty() => {
                return Err("`paths` is empty: list at least one path".to_owned());
            }
            (None, Some(paths)) => paths,
            (None, None) => vec!["/".to_owned()],
        };
        let mut given = Vec::new();
        if let Some(h) = s.header {
            reqwest::header::HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| format!("invalid header name `{}`", h.name))?;
            given.push(Credential::Header {
                name: h.name,
                value: h.value,
            });
        }
        if let Some(token) = s.bearer {
            given.push(Credential::Bearer(token));
        }
        if let Some(b) = s.basic {
            if b.user.contains(':') {
                return Err("a basic `user` cannot contain `:`".to_owned());
            }
            given.push(Credential::Basic {
                user: b.user,
                password: b.password,
            });
        }
        if let Some(q) = s.query {
            if q.name.is_empty() {
                return Err("the `query` credential needs a `name`".to_owned());
            }
            given.push(Credential::Query {
                name: q.name,
                value: q.value,
            });
        }
        let credential = match <[Credential; 1]>::try_from(given) {
            Ok([one]) => one,
            Err(given) if given.is_empty() => {
                return Err(
                    "missing credential: give one of `header:`, `bearer:`, `basic:` or `query:`"
                        .to_owned(),
                );
            }
            Err(_) => {
                return Err(
                    "more than one credential: give one of `header:`, `bearer:`, `basic:` or `query:`"
                        .to_owned(),
                );
            }
        };
        if credential.secret().trim().is_empty() {
            return Err(format!(
                "the {} credential is empty (an unset `${{env:…}}` default?)",
                credential.scheme()
            ));
        }
        if let Some(name) = credential.header_name()
            && s.headers.keys().any(|k| k.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "`headers` sets `{name}`, the credential's own header: the request without credentials would carry it"
            ));
        }
        if let Credential::Query { name, .. } = &credential
            && let Some(path) = paths.iter().find(|p| has_query_param(p, name))
        {
            return Err(format!(
                "`{path}` already has the query parameter `{name}`: the request without credentials would carry it"
            ));
        }
        if s.wrong.as_deref() == Some(credential.secret()) {
            return Err("`wrong` is the right credential".to_owned());
        }
        Ok(Auth {
            paths,
            method: s.method.map_or(reqwest::Method::GET, |m| m.0),
            headers: s.headers,
            credential,
            wrong: s.wrong,
            follow_redirects: s.follow_redirects,
            tls,
            expect: s.expect,
        })
    }
}

fn has_query_param(path: &str, name: &str) -> bool {
    path.split_once('?').is_some_and(|(_, query)| {
        url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name)
    })
}

/// A made-up credential of the same shape as `right`: letters stay letters of
/// the same case, digits stay digits, everything else stays put. Deterministic,
/// and independent of the right value's characters.
pub fn bogus(right: &str) -> String {
    // A fixed pseudo-random stream (an LCG), so reports are repeatable.
    let mut state: u64 = 0x5DEE_CE66_D1CE_4E5B;
    let mut next = move |n: u8| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        u8::try_from((state >> 33) % u64::from(n)).unwrap_or(0)
    };
    let out: String = right
        .chars()
        .map(|c| match c {
            'a'..='z' => char::from(b'a' + next(26)),
            'A'..='Z' => char::from(b'A' + next(26)),
            '0'..='9' => char::from(b'0' + next(10)),
            other => other,
        })
        .collect();
    if out == right {
        "vouch-invalid-credential".to_owned()
    } else {
        out
    }
}

/// Standard base64 with padding (for HTTP Basic).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Which of the three requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    None,
    Wrong,
    Right,
}

impl Attempt {
    fn label(self) -> &'static str {
        match self {
            Attempt::None => "no credentials",
            Attempt::Wrong => "wrong credentials",
            Attempt::Right => "valid credentials",
        }
    }
}

struct Exchange {
    path: String,
    attempt: Attempt,
    request: fetch::Request,
    outcome: Result<Response, Unreachable>,
}

impl Auth {
    /// `GET /private (basic)`; with several paths, the first two and a count.
    pub fn describe(&self) -> String {
        let paths = match self.paths.as_slice() {
            [one] => one.clone(),
            [a, b] => format!("{a}, {b}"),
            [a, b, rest @ ..] => format!("{a}, {b} and {} more", rest.len()),
            [] => "/".to_owned(),
        };
        format!("{} {paths} ({})", self.method, self.credential.scheme())
    }

    fn wrong_secret(&self) -> String {
        self.wrong
            .clone()
            .unwrap_or_else(|| bogus(self.credential.secret()))
    }

    fn request(&self, url: &Url, credential: Option<&Credential>) -> fetch::Request {
        let mut url = url.clone();
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match credential {
            Some(Credential::Header { name, value }) => headers.push((name.clone(), value.clone())),
            Some(Credential::Bearer(token)) => {
                headers.push(("authorization".to_owned(), format!("Bearer {token}")));
            }
            Some(Credential::Basic { user, password }) => headers.push((
                "authorization".to_owned(),
                format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            )),
            Some(Credential::Query { name, value }) => {
                url.query_pairs_mut().append_pair(name, value);
            }
            None => {}
        }
        fetch::Request {
            method: self.method.clone(),
            url,
            headers,
            body: None,
            follow_redirects: self.follow_redirects,
            tls: self.tls.clone(),
        }
    }

    /// The request as evidence may show it: the credential masked.
    fn shown(&self, request: &fetch::Request) -> fetch::Request {
        let mut shown = request.clone();
        if let Some(name) = self.credential.header_name() {
            for (k, v) in &mut shown.headers {
                if k.eq_ignore_ascii_case(name) {
                    *v = match &self.credential {
                        Credential::Bearer(_) => format!("Bearer {REDACTED}"),
                        Credential::Basic { .. } => format!("Basic {REDACTED}"),
                        _ => REDACTED.to_owned(),
                    };
                }
            }
        }
        shown
    }

    /// A URL with the credential's query value masked.
    fn shown_url(&self, url: &Url) -> String {
        let Credential::Query { name, .. } = &self.credential else {
            return url.to_string();
        };
        if !url.query_pairs().any(|(k, _)| k == name.as_str()) {
            return url.to_string();
        }
        let query: Vec<String> = url
            .query_pairs()
            .map(|(k, v)| {
                let key: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
                if k == name.as_str() {
                    format!("{key}={REDACTED}")
                } else {
                    let value: String =
                        url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
                    format!("{key}={value}")
                }
            })
            .collect();
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        format!("{base}?{}", query.join("&"))
    }

    fn check(&self, x: &Exchange, r: &Response) -> Check {
        let name = format!("{}: {}", x.path, x.attempt.label());
        let mut shown = r.status.to_string();
        if (300..400).contains(&r.status)
            && let Some(location) = r.header("location")
        {
            shown.push_str(&format!(" → {location}"));
        }
        let challenge = r.header("www-authenticate");
        if let Some(c) = challenge {
            shown.push_str(&format!("; WWW-Authenticate {c:?}"));
        }
        match x.attempt {
            Attempt::Right => match &self.expect.authenticated {
                Some(m) => Check::new(
                    name,
                    m.to_string(),
                    shown,
                    m.check(Some(&Json::from(r.status))).is_ok(),
                ),
                None => Check::new(name, "2xx", shown, (200..300).contains(&r.status)),
            },
            Attempt::None | Attempt::Wrong => {
                let (mut expected, status_ok) = match &self.expect.unauthenticated {
                    Some(m) => (m.to_string(), m.check(Some(&Json::from(r.status))).is_ok()),
                    None => (
                        "one of [401, 403]".to_owned(),
                        matches!(r.status, 401 | 403),
                    ),
                };
                let mut ok = status_ok;
                if self.expect.www_authenticate {
                    expected.push_str(" (WWW-Authenticate on 401)");
                    if r.status == 401 && challenge.is_none() {
                        shown.push_str(" without WWW-Authenticate");
                        ok = false;
                    }
                }
                Check::new(name, expected, shown, ok)
            }
        }
    }

    fn summarize(&self, line: &str, exchanges: &[Exchange], checks: &[Check]) -> String {
        let mut summary = format!("{line} →");
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        if failed.is_empty() {
            if let [path] = self.paths.as_slice() {
                let status = |a: Attempt| {
                    exchanges
                        .iter()
                        .find(|x| x.attempt == a && &x.path == path)
                        .and_then(|x| x.outcome.as_ref().ok())
                        .map_or_else(String::new, |r| r.status.to_string())
                };
                summary.push_str(&format!(
                    " {} without credentials, {} with wrong ones, {} with valid ones",
                    status(Attempt::None),
                    status(Attempt::Wrong),
                    status(Attempt::Right)
                ));
            } else {
                summary.push_str(&format!(
                    " {} paths each refuse missing and wrong credentials and accept valid ones",
                    self.paths.len()
                ));
            }
            return summary;
        }
        for (i, c) in failed.iter().take(2).enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            summary.push_str(&format!(
                "{sep}{}: expected {}, got {}",
                c.name, c.expected, c.actual
            ));
        }
        if failed.len() > 2 {
            summary.push_str(&format!("; and {} more", failed.len() - 2));
        }
        summary
    }

    fn record(&self, x: &Exchange, cx: &Context) -> Json {
        let shown = self.shown(&x.request);
        let mut record = match &x.outcome {
            Ok(r) => evidence(&shown, Some(r), cx),
            Err(unreachable) => {
                let mut record = evidence(&shown, None, cx);
                record["error"] = json!(unreachable.reason);
                record
            }
        };
        record["request"]["url"] = json!(self.shown_url(&x.request.url));
        if let Ok(r) = &x.outcome {
            record["response"]["final_url"] = json!(self.shown_url(&r.final_url));
        }
        record["path"] = json!(x.path);
        record["credentials"] = json!(match x.attempt {
            Attempt::None => "none".to_owned(),
            Attempt::Wrong if self.wrong.is_some() => "wrong (from `wrong:`)".to_owned(),
            Attempt::Wrong => "wrong (made up, same shape as the right one)".to_owned(),
            Attempt::Right => "valid".to_owned(),
        });
        record
    }

    /// Masks every spelling of the right and wrong credentials, whatever
    /// the server echoed back.
    fn scrub(&self, findings: &mut Findings) {
        let mut secrets = Secrets::default();
        self.credential.add_to(&mut secrets);
        self.credential
            .with_secret(&self.wrong_secret())
            .add_to(&mut secrets);
        let redactor = Redactor::new(&secrets);
        redactor.string(&mut findings.summary);
        for check in &mut findings.checks {
            redactor.string(&mut check.name);
            redactor.string(&mut check.expected);
            redactor.string(&mut check.actual);
        }
        redactor.json(&mut findings.evidence);
    }
}

impl Probe for Auth {
    /// Per path: without, with wrong and with the right credentials.
    fn budget(&self) -> Budget {
        Budget {
            max_requests: 3 * self.paths.len() as u64,
            ..Budget::SINGLE
        }
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let wrong = self.credential.with_secret(&self.wrong_secret());
        let mut planned = Vec::new();
        for path in &self.paths {
            let url = cx.resolve(path)?;
            for (attempt, credential) in [
                (Attempt::None, None),
                (Attempt::Wrong, Some(&wrong)),
                (Attempt::Right, Some(&self.credential)),
            ] {
                planned.push((path.clone(), attempt, self.request(&url, credential)));
            }
        }
        let sent = join_all(
            planned
                .into_iter()
                .map(|(path, attempt, request)| async move {
                    let outcome = fetch::send(cx, &request).await?;
                    Ok::<_, ProbeError>(Exchange {
                        path,
                        attempt,
                        request,
                        outcome,
                    })
                }),
        )
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
            // The first request carries no credential; mask anyway.
            let mut findings = unreachable_findings(&line, &self.shown(request), unreachable, cx);
            findings.evidence["request"]["url"] = json!(self.shown_url(&request.url));
            self.scrub(&mut findings);
            return Ok(findings);
        }
        let checks: Vec<Check> = exchanges
            .iter()
            .map(|x| match &x.outcome {
                Ok(r) => self.check(x, r),
                Err(unreachable) => Check::new(
                    format!("{}: {}", x.path, x.attempt.label()),
                    "an HTTP response",
                    unreachable.reason.clone(),
                    false,
                ),
            })
            .collect();
        let summary = self.summarize(&line, &exchanges, &checks);
        let mut findings = Findings {
            checks,
            summary,
            evidence: json!({
                "scheme": self.credential.scheme(),
                "paths": self.paths,
                "exchanges": exchanges.iter().map(|x| self.record(x, cx)).collect::<Vec<_>>(),
            }),
        };
        self.scrub(&mut findings);
        Ok(findings)
    }
}

impl Auth {
    /// The paths and URLs this probe resolves against the target, as
    /// written: loading checks a target is set for each that is a path.
    pub fn target_paths(&self) -> Vec<&str> {
        self.paths.iter().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(yaml: &str) -> Result<Auth, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn one_credential_scheme_is_required() {
        assert!(
            auth("url: /x\n")
                .expect_err("none")
                .contains("missing credential")
        );
        assert!(
            auth("bearer: abcd\nbasic: {user: u, password: p}\n")
                .expect_err("two")
                .contains("more than one credential")
        );
        assert!(
            auth("url: /a\npaths: [/b]\nbearer: abcd\n")
                .expect_err("url and paths")
                .contains("not both")
        );
        assert!(
            auth("bearer: ''\n")
                .expect_err("empty")
                .contains("is empty")
        );
        assert!(
            auth("bearer: tok\nheaders: {Authorization: x}\n")
                .expect_err("conflict")
                .contains("credential's own header")
        );
        assert!(
            auth("url: /a?key=1\nquery: {name: key, value: abcd}\n")
                .expect_err("query conflict")
                .contains("already has the query parameter")
        );
    }

    #[test]
    fn describes_method_paths_and_scheme() {
        let a = auth("paths: [/a, /b, /c]\nmethod: post\nheader: {name: X-API-Key, value: k123}\n")
            .expect("valid");
        assert_eq!(a.describe(), "POST /a, /b and 1 more (header X-API-Key)");
        let a = auth("bearer: tok\n").expect("valid");
        assert_eq!(a.describe(), "GET / (bearer)");
    }

    #[test]
    fn requests_carry_none_wrong_and_right_credentials() {
        let a = auth("basic: {user: alice, password: s3cret}\n").expect("valid");
        let url = Url::parse("http://h.example/p").expect("url");
        assert!(a.request(&url, None).headers.is_empty());
        let right = a.request(&url, Some(&a.credential));
        assert_eq!(
            right.headers,
            vec![(
                "authorization".to_owned(),
                format!("Basic {}", base64(b"alice:s3cret"))
            )]
        );
        let shown = a.shown(&right);
        assert_eq!(shown.headers[0].1, format!("Basic {REDACTED}"));
        let q = auth("query: {name: api_key, value: 'k 1&2'}\n").expect("valid");
        let with_key = q.request(&url, Some(&q.credential));
        assert_eq!(with_key.url.as_str(), "http://h.example/p?api_key=k+1%262");
        assert_eq!(
            q.shown_url(&with_key.url),
            format!("http://h.example/p?api_key={REDACTED}")
        );
    }

    #[test]
    fn bogus_credentials_keep_the_shape_only() {
        let right = "sk-Live_12345.abcDEF";
        let wrong = bogus(right);
        assert_ne!(wrong, right);
        assert_eq!(wrong.len(), right.len());
        assert_eq!(&wrong[2..3], "-");
        assert_eq!(&wrong[7..8], "_");
        assert_eq!(wrong, bogus(right), "deterministic");
        assert_eq!(bogus("----"), "vouch-invalid-credential");
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), encoded);
        }
    }
}
