//! `headers`: the security headers of one response — the `baseline` policy
//! (HSTS on HTTPS, nosniff, frame protection, CSP, Referrer-Policy, no
//! `X-Powered-By`, no version in `Server`), each its own check, plus per-header matchers.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::fetch::{self, Response};
use super::http::{HeaderExpect, check_headers, evidence, summarize, unreachable_findings};
use super::{Check, Context, Findings, Probe, ProbeError};
use crate::expect::{self, Matcher};

/// The least HSTS `max-age` the baseline accepts: 180 days, in seconds.
pub const HSTS_MIN_MAX_AGE: u64 = 15_552_000;

super::with_tls! {
    /// Settings of a `headers` probe.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Headers {
        /// A path (resolved against the target) or an absolute URL; default `/`.
        #[serde(default = "default_url")]
        pub url: String,
        /// Request headers.
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// Follow redirects and check the final response (default true).
        #[serde(default = "yes")]
        pub follow_redirects: bool,
        /// The header policy: `baseline` (default) or `none` (only `expect.headers`).
        #[serde(default)]
        pub policy: Policy,
        /// What the response must look like besides the policy.
        #[serde(default)]
        pub expect: HeadersExpect,
    }
}

fn default_url() -> String {
    "/".to_owned()
}

fn yes() -> bool {
    true
}

/// Which set of security headers is required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// HSTS (`max-age` ≥ 180 days, on HTTPS), `X-Content-Type-Options: nosniff`,
    /// `X-Frame-Options` or CSP `frame-ancestors`, a `Content-Security-Policy`,
    /// a `Referrer-Policy` (not `unsafe-url`), no `X-Powered-By`, no version in `Server`.
    #[default]
    Baseline,
    /// No policy: only the matchers in `expect.headers`.
    #[serde(rename = "none")]
    Off,
}

/// Expectations besides the policy.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadersExpect {
    /// The status: a number, a list or a matcher (default: 2xx or 3xx).
    #[serde(default)]
    pub status: Option<Matcher>,
    /// Header name → matcher, as in `http`; `absent` for headers that must not be sent.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderExpect>,
}

impl Headers {
    /// `GET /`.
    pub fn describe(&self) -> String {
        format!("GET {}", self.url)
    }

    fn request(&self, cx: &Context) -> Result<fetch::Request, ProbeError> {
        Ok(fetch::Request {
            method: reqwest::Method::GET,
            url: cx.resolve(&self.url)?,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body: None,
            follow_redirects: self.follow_redirects,
            tls: self.tls(),
        })
    }

    fn check(&self, r: &Response) -> Vec<Check> {
        let mut checks = vec![match &self.expect.status {
            Some(m) => Check::new(
                "status",
                m.to_string(),
                r.status.to_string(),
                m.check(Some(&Json::from(r.status))).is_ok(),
            ),
            None => Check::new(
                "status",
                "2xx or 3xx",
                r.status.to_string(),
                (200..400).contains(&r.status),
            ),
        }];
        if self.policy == Policy::Baseline {
            checks.extend(baseline(r));
        }
        checks.extend(check_headers(&self.expect.headers, r));
        checks
    }
}

impl Probe for Headers {
    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let request = self.request(cx)?;
        let line = self.describe();
        let response = match fetch::send(cx, &request).await? {
            Ok(r) => r,
            Err(unreachable) => return Ok(unreachable_findings(&line, &request, &unreachable, cx)),
        };
        let checks = self.check(&response);
        let https = is_https(&response);
        let mut summary = summarize(&line, &response, &checks);
        if checks.iter().all(|c| c.passed) {
            let headers = checks.len().saturating_sub(1);
            summary.push_str(&format!("; {headers} header checks held"));
            if self.policy == Policy::Baseline && !https {
                summary.push_str(" (HSTS not applicable on plain HTTP)");
            }
        }
        let mut record = evidence(&request, Some(&response), cx);
        record["policy"] = json!(match self.policy {
            Policy::Baseline => "baseline",
            Policy::Off => "none",
        });
        record["https"] = json!(https);
        Ok(Findings {
            checks,
            summary,
            evidence: record,
        })
    }
}

/// Whether the response came over HTTPS (after redirects): HSTS applies only there.
fn is_https(r: &Response) -> bool {
    r.final_url.scheme() == "https"
}

/// The values of a header that are valid text.
fn values<'r>(r: &'r Response, name: &str) -> Vec<&'r str> {
    r.headers
        .get_all(name)
        .iter()
        .filter_map(crate::probe::fetch::header_str)
        .collect()
}

fn quoted(text: &str) -> String {
    format!("{:?}", expect::excerpt(text, 120))
}

/// The `baseline` policy's checks, one per header.
pub fn baseline(r: &Response) -> Vec<Check> {
    vec![
        hsts(r),
        nosniff(r),
        frame_protection(r),
        csp(r),
        referrer_policy(r),
        powered_by(r),
        server(r),
    ]
}

fn hsts(r: &Response) -> Check {
    const NAME: &str = "Strict-Transport-Security";
    let expected = format!("max-age >= {HSTS_MIN_MAX_AGE} (180 days) on HTTPS");
    if !is_https(r) {
        return Check::new(
            NAME,
            expected,
            "not applicable: plain HTTP (browsers ignore HSTS there)",
            true,
        );
    }
    // Browsers honour only the first HSTS header.
    let Some(value) = values(r, NAME).first().copied() else {
        return Check::new(NAME, expected, "absent", false);
    };
    match hsts_max_age(value) {
        Some(age) => Check::new(NAME, expected, quoted(value), age >= HSTS_MIN_MAX_AGE),
        None => Check::new(
            NAME,
            expected,
            format!("{} (no valid max-age)", quoted(value)),
            false,
        ),
    }
}

/// The `max-age` of an HSTS value (`max-age=31536000; includeSubDomains`).
pub fn hsts_max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|directive| {
        let (name, age) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        age.trim().trim_matches('"').parse().ok()
    })
}

fn nosniff(r: &Response) -> Check {
    const NAME: &str = "X-Content-Type-Options";
    match values(r, NAME).first() {
        Some(v) => Check::new(
            NAME,
            "\"nosniff\"",
            quoted(v),
            v.trim().eq_ignore_ascii_case("nosniff"),
        ),
        None => Check::new(NAME, "\"nosniff\"", "absent", false),
    }
}

/// The `frame-ancestors` directive of an enforced CSP, if any.
fn frame_ancestors(r: &Response) -> Option<String> {
    values(r, "content-security-policy")
        .iter()
        .flat_map(|v| v.split([';', ',']))
        .map(str::trim)
        .find(|d| {
            d.split_whitespace()
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case("frame-ancestors"))
        })
        .map(str::to_owned)
}

fn frame_protection(r: &Response) -> Check {
    const NAME: &str = "frame protection";
    const EXPECTED: &str = "X-Frame-Options DENY or SAMEORIGIN, or CSP frame-ancestors";
    if let Some(directive) = frame_ancestors(r) {
        return Check::new(NAME, EXPECTED, format!("CSP {directive}"), true);
    }
    match values(r, "x-frame-options").first() {
        Some(v) => {
            let word = v.trim();
            let ok = word.eq_ignore_ascii_case("deny") || word.eq_ignore_ascii_case("sameorigin");
            let shown = if ok {
                format!("X-Frame-Options {}", quoted(word))
            } else {
                format!(
                    "X-Frame-Options {} (browsers ignore it), no CSP frame-ancestors",
                    quoted(word)
                )
            };
            Check::new(NAME, EXPECTED, shown, ok)
        }
        None => Check::new(
            NAME,
            EXPECTED,
            "neither X-Frame-Options nor CSP frame-ancestors",
            false,
        ),
    }
}

fn csp(r: &Response) -> Check {
    const NAME: &str = "Content-Security-Policy";
    let found = values(r, NAME).into_iter().find(|v| !v.trim().is_empty());
    match found {
        Some(v) => Check::new(NAME, "present", quoted(v), true),
        None if r
            .headers
            .contains_key("content-security-policy-report-only") =>
        {
            Check::new(
                NAME,
                "present",
                "absent (only Content-Security-Policy-Report-Only, which enforces nothing)",
                false,
            )
        }
        None => Check::new(NAME, "present", "absent", false),
    }
}

/// The referrer policies browsers know; with several, the last known one applies.
const REFERRER_POLICIES: &[&str] = &[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

fn referrer_policy(r: &Response) -> Check {
    const NAME: &str = "Referrer-Policy";
    const EXPECTED: &str = "a known policy, not unsafe-url";
    let all = values(r, NAME);
    if all.is_empty() {
        return Check::new(NAME, EXPECTED, "absent", false);
    }
    let joined = all.join(", ");
    let effective = joined
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .rfind(|t| REFERRER_POLICIES.contains(&t.as_str()));
    match effective {
        Some(policy) if policy == "unsafe-url" => Check::new(
            NAME,
            EXPECTED,
            format!("{} (leaks full URLs to every site)", quoted(&joined)),
            false,
        ),
        Some(_) => Check::new(NAME, EXPECTED, quoted(&joined), true),
        None => Check::new(
            NAME,
            EXPECTED,
            format!("{} (no known policy)", quoted(&joined)),
            false,
        ),
    }
}

fn powered_by(r: &Response) -> Check {
    const NAME: &str = "X-Powered-By";
    let all = values(r, NAME);
    if all.is_empty() && !r.headers.contains_key(NAME) {
        Check::new(NAME, "absent", "absent", true)
    } else {
        Check::new(NAME, "absent", quoted(&all.join(", ")), false)
    }
}

/// A version in a `Server` header: `nginx/1.22.1`, `Apache/2`, `Jetty(9.4.z)`.
static VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(/\s*v?\d|\bv?\d+(\.\d+)+)").expect("static regex is valid"));

/// Whether a `Server` value gives away a version.
pub fn has_version(server: &str) -> bool {
    VERSION.is_match(server)
}

fn server(r: &Response) -> Check {
    const NAME: &str = "Server";
    const EXPECTED: &str = "absent or without a version";
    let all = values(r, NAME);
    if all.is_empty() {
        return Check::new(NAME, EXPECTED, "absent", true);
    }
    let joined = all.join(", ");
    Check::new(NAME, EXPECTED, quoted(&joined), !has_version(&joined))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    use std::time::Duration;

    fn headers(yaml: &str) -> Result<Headers, String> {
        crate::spec::de::from_yaml(yaml)
    }

    fn response(url: &str, pairs: &[(&str, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        Response {
            status: 200,
            version: "HTTP/1.1".to_owned(),
            headers: map,
            body: bytes::Bytes::new(),
            truncated: false,
            final_url: url::Url::parse(url).expect("url"),
            headers_after: Duration::ZERO,
            elapsed: Duration::ZERO,
        }
    }

    const SECURE: &[(&str, &str)] = &[
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", "default-src 'self'"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("server", "nginx"),
    ];

    fn failed(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn defaults_to_the_baseline_on_the_root() {
        let h = headers("{}\n").expect("valid");
        assert_eq!(h.policy, Policy::Baseline);
        assert_eq!(h.describe(), "GET /");
        assert!(h.follow_redirects);
        let h = headers("policy: none\nexpect:\n  headers:\n    x-powered-by: absent\n")
            .expect("valid");
        assert_eq!(h.policy, Policy::Off);
        assert!(h.expect.headers["x-powered-by"].0.wants_absent());
        let err = headers("policy: strict\n").expect_err("unknown policy");
        assert!(err.contains("unknown variant `strict`"), "{err}");
    }

    #[test]
    fn a_full_set_over_https_passes_every_baseline_check() {
        let checks = baseline(&response("https://h.example/", SECURE));
        assert_eq!(failed(&checks), Vec::<&str>::new(), "{checks:#?}");
        assert_eq!(checks.len(), 7);
    }

    #[test]
    fn hsts_is_not_applicable_on_plain_http() {
        let checks = baseline(&response("http://h.example/", &[]));
        let hsts = &checks[0];
        assert!(hsts.passed);
        assert!(hsts.actual.contains("not applicable"), "{}", hsts.actual);
    }

    #[test]
    fn short_or_missing_hsts_fails_on_https() {
        let short = hsts(&response(
            "https://h.example/",
            &[("strict-transport-security", "max-age=86400")],
        ));
        assert!(!short.passed);
        let missing = hsts(&response("https://h.example/", &[]));
        assert_eq!(missing.actual, "absent");
        assert_eq!(
            hsts_max_age("includeSubDomains; MAX-AGE=\"63072000\""),
            Some(63_072_000)
        );
        assert_eq!(hsts_max_age("includeSubDomains"), None);
    }

    #[test]
    fn an_empty_response_fails_all_but_hsts_powered_by_and_server() {
        let checks = baseline(&response("http://h.example/", &[]));
        assert_eq!(
            failed(&checks),
            vec![
                "X-Content-Type-Options",
                "frame protection",
                "Content-Security-Policy",
                "Referrer-Policy"
            ]
        );
    }

    #[test]
    fn csp_frame_ancestors_counts_as_frame_protection() {
        let r = response(
            "https://h.example/",
            &[(
                "content-security-policy",
                "default-src 'self'; frame-ancestors 'none'",
            )],
        );
        let check = frame_protection(&r);
        assert!(check.passed);
        assert_eq!(check.actual, "CSP frame-ancestors 'none'");
        let allow_from = frame_protection(&response(
            "https://h.example/",
            &[("x-frame-options", "ALLOW-FROM https://a.example")],
        ));
        assert!(!allow_from.passed);
    }

    #[test]
    fn report_only_csp_is_not_a_policy() {
        let check = csp(&response(
            "https://h.example/",
            &[("content-security-policy-report-only", "default-src 'self'")],
        ));
        assert!(!check.passed);
        assert!(check.actual.contains("Report-Only"), "{}", check.actual);
    }

    #[test]
    fn unsafe_url_and_unknown_referrer_policies_fail() {
        let ok = referrer_policy(&response(
            "https://h.example/",
            &[(
                "referrer-policy",
                "no-referrer, strict-origin-when-cross-origin",
            )],
        ));
        assert!(ok.passed);
        let leaky = referrer_policy(&response(
            "https://h.example/",
            &[("referrer-policy", "unsafe-url")],
        ));
        assert!(!leaky.passed);
        let unknown = referrer_policy(&response(
            "https://h.example/",
            &[("referrer-policy", "sometimes")],
        ));
        assert!(!unknown.passed);
    }

    #[test]
    fn powered_by_and_versioned_servers_fail() {
        let r = response(
            "https://h.example/",
            &[("x-powered-by", "PHP/8.1"), ("server", "nginx/1.22.1")],
        );
        assert!(!powered_by(&r).passed);
        assert!(!server(&r).passed);
        for versioned in [
            "Apache/2.4.41 (Ubuntu)",
            "Microsoft-IIS/10.0",
            "Jetty(9.4.z)",
            "Apache/2",
        ] {
            assert!(has_version(versioned), "{versioned}");
        }
        for plain in ["nginx", "cloudflare", "AmazonS3", "h2o", "gws"] {
            assert!(!has_version(plain), "{plain}");
        }
    }
}
