//! `headers`: the security headers of one response — the `baseline` policy
//! (HSTS on HTTPS, nosniff, frame protection, CSP, Referrer-Policy, no
//! `X-Powered-By`, no version in `Server`), each its own check, plus per-header matchers.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::fetch::{self, Response};
use super::http::{HeaderExpect, check_headers, evidence, summarize, unreachable_findings};
use super::{Check, Context, Findings, Probe, ProbeError};
use crate::expect::{self, Dur, Matcher};

/// The least HSTS `max-age` the baseline accepts: 180 days, in seconds.
pub const HSTS_MIN_MAX_AGE: u64 = 15_552_000;

super::with_tls! {
    /// Settings of a `headers` probe, as written.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct HeadersSettings {
        /// A path (resolved against the target) or an absolute URL; default `/`.
        #[serde(default)]
        url: Option<String>,
        /// Several paths or URLs, each checked alike (instead of `url`).
        #[serde(default)]
        paths: Option<Vec<String>>,
        /// Request headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// Follow redirects and check the final response (default true).
        #[serde(default = "yes")]
        follow_redirects: bool,
        /// The header policy: `baseline` (default) or `none` (only `expect.headers`).
        #[serde(default)]
        policy: Policy,
        /// Only these rules of the baseline (default: every one).
        #[serde(default)]
        baseline: Option<Vec<Rule>>,
        /// What the `hsts` rule requires (default: `max-age` of 180 days).
        #[serde(default)]
        hsts: Option<HstsRule>,
        /// What the response must look like besides the policy.
        #[serde(default)]
        expect: HeadersExpect,
    }
}

/// Settings of a `headers` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "HeadersSettings")]
#[schemars(with = "HeadersSettings")]
pub struct Headers {
    /// The paths or URLs checked, each alike (`url:` is one).
    pub paths: Vec<String>,
    /// Request headers.
    pub headers: BTreeMap<String, String>,
    /// Follow redirects and check the final response.
    pub follow_redirects: bool,
    /// The header policy.
    pub policy: Policy,
    /// The baseline rules checked: all of them, those `baseline:` names, or
    /// none with `policy: none`.
    pub rules: Vec<Rule>,
    /// What the `hsts` rule requires.
    pub hsts: HstsRule,
    /// What the response must look like besides the policy.
    pub expect: HeadersExpect,
    tls: super::TlsSettings,
}

impl TryFrom<HeadersSettings> for Headers {
    type Error = String;

    fn try_from(s: HeadersSettings) -> Result<Headers, String> {
        let tls = s.tls();
        let paths = match (s.url, s.paths) {
            (Some(_), Some(_)) => return Err("give `url:` or `paths:`, not both".to_owned()),
            (Some(url), None) => vec![url],
            (None, Some(paths)) if paths.is_empty() => {
                return Err("`paths` is empty: list at least one path".to_owned());
            }
            (None, Some(paths)) => paths,
            (None, None) => vec![default_url()],
        };
        let rules = match (s.policy, s.baseline) {
            (Policy::Off, Some(_)) => {
                return Err(
                    "`baseline:` names rules of the baseline policy: remove `policy: none`"
                        .to_owned(),
                );
            }
            (Policy::Off, None) => Vec::new(),
            (Policy::Baseline, None) => Rule::ALL.to_vec(),
            (Policy::Baseline, Some(rules)) if rules.is_empty() => {
                return Err(
                    "`baseline` is empty: name at least one rule, or write `policy: none`"
                        .to_owned(),
                );
            }
            (Policy::Baseline, Some(mut rules)) => {
                // In the baseline's order, each once.
                rules.sort_by_key(|r| Rule::ALL.iter().position(|a| a == r));
                rules.dedup();
                rules
            }
        };
        if s.hsts.is_some() && !rules.contains(&Rule::Hsts) {
            return Err(
                "`hsts:` sets what the `hsts` rule requires, but the rule is not checked: add `hsts` to `baseline:`"
                    .to_owned(),
            );
        }
        let hsts = s.hsts.unwrap_or_default();
        Ok(Headers {
            paths,
            headers: s.headers,
            follow_redirects: s.follow_redirects,
            policy: s.policy,
            rules,
            hsts,
            expect: s.expect,
            tls,
        })
    }
}

/// One rule of the baseline policy, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// `Strict-Transport-Security` on HTTPS (see `hsts:`).
    Hsts,
    /// `X-Content-Type-Options: nosniff`.
    Nosniff,
    /// `X-Frame-Options` DENY/SAMEORIGIN or CSP `frame-ancestors`.
    FrameProtection,
    /// An enforced `Content-Security-Policy`.
    Csp,
    /// A known `Referrer-Policy`, not `unsafe-url`.
    ReferrerPolicy,
    /// No `X-Powered-By`.
    PoweredBy,
    /// No version in `Server`.
    Server,
}

impl Rule {
    /// Every rule, in the order they are checked.
    pub const ALL: [Rule; 7] = [
        Rule::Hsts,
        Rule::Nosniff,
        Rule::FrameProtection,
        Rule::Csp,
        Rule::ReferrerPolicy,
        Rule::PoweredBy,
        Rule::Server,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Rule::Hsts => "hsts",
            Rule::Nosniff => "nosniff",
            Rule::FrameProtection => "frame_protection",
            Rule::Csp => "csp",
            Rule::ReferrerPolicy => "referrer_policy",
            Rule::PoweredBy => "powered_by",
            Rule::Server => "server",
        }
    }
}

/// What the `hsts` rule requires: `hsts: {min_age: 180d, include_subdomains: true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HstsRule {
    /// The least `max-age` (default 180d).
    #[serde(default = "default_min_age")]
    pub min_age: Dur,
    /// `includeSubDomains` must be set (default false).
    #[serde(default)]
    pub include_subdomains: bool,
    /// `preload` must be set (default false).
    #[serde(default)]
    pub preload: bool,
}

impl Default for HstsRule {
    fn default() -> HstsRule {
        HstsRule {
            min_age: default_min_age(),
            include_subdomains: false,
            preload: false,
        }
    }
}

fn default_min_age() -> Dur {
    Dur(Duration::from_secs(HSTS_MIN_MAX_AGE))
}

impl HstsRule {
    /// `max-age >= 15552000 (180 days) on HTTPS`, with the directives required.
    fn expected(&self) -> String {
        let secs = self.min_age.0.as_secs();
        let human = if secs.is_multiple_of(86_400) {
            let days = secs / 86_400;
            if days == 1 {
                "1 day".to_owned()
            } else {
                format!("{days} days")
            }
        } else {
            self.min_age.to_string()
        };
        let mut text = format!("max-age >= {secs} ({human})");
        if self.include_subdomains {
            text.push_str(", includeSubDomains");
        }
        if self.preload {
            text.push_str(", preload");
        }
        text.push_str(" on HTTPS");
        text
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
    /// `GET /`; with several paths, the first two and a count.
    pub fn describe(&self) -> String {
        match self.paths.as_slice() {
            [one] => format!("GET {one}"),
            [a, b] => format!("GET {a}, {b}"),
            [a, b, rest @ ..] => format!("GET {a}, {b} and {} more", rest.len()),
            [] => "GET /".to_owned(),
        }
    }

    /// The paths or URLs requested (loading checks a target is set for the
    /// relative ones).
    pub fn target_paths(&self) -> Vec<&str> {
        self.paths.iter().map(String::as_str).collect()
    }

    fn request(&self, cx: &Context, path: &str) -> Result<fetch::Request, ProbeError> {
        Ok(fetch::Request {
            method: reqwest::Method::GET,
            url: cx.resolve(path)?,
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body: None,
            follow_redirects: self.follow_redirects,
            tls: self.tls.clone(),
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
        checks.extend(
            self.rules
                .iter()
                .map(|rule| check_rule(*rule, &self.hsts, r)),
        );
        checks.extend(check_headers(&self.expect.headers, r));
        checks
    }

    /// One path: its checks, summary and evidence.
    async fn run_path(&self, cx: &Context, path: &str) -> Result<Findings, ProbeError> {
        let request = self.request(cx, path)?;
        let line = format!("GET {path}");
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
            if self.rules.contains(&Rule::Hsts) && !https {
                summary.push_str(" (HSTS not applicable on plain HTTP)");
            }
        }
        let mut record = evidence(&request, Some(&response), cx);
        record["policy"] = json!(match self.policy {
            Policy::Baseline => "baseline",
            Policy::Off => "none",
        });
        if self.policy == Policy::Baseline && self.rules.len() != Rule::ALL.len() {
            record["rules"] = json!(self.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>());
        }
        record["https"] = json!(https);
        Ok(Findings {
            checks,
            summary,
            evidence: record,
        })
    }
}

impl Probe for Headers {
    fn sends_http(&self) -> bool {
        true
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        if let [one] = self.paths.as_slice() {
            return self.run_path(cx, one).await;
        }
        // Several paths: every check named after its path, every response
        // in evidence, one summary.
        let mut checks = Vec::new();
        let mut records = Vec::new();
        for path in &self.paths {
            let findings = self.run_path(cx, path).await?;
            checks.extend(findings.checks.into_iter().map(|mut c| {
                c.name = format!("{path} {}", c.name);
                c
            }));
            records.push(json!({
                "path": path,
                "summary": findings.summary,
                "response": findings.evidence,
            }));
        }
        let mut summary = self.describe();
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        if failed.is_empty() {
            summary.push_str(&format!(
                " → {} paths, {} checks held",
                self.paths.len(),
                checks.len()
            ));
        } else {
            summary.push_str(&format!(
                " → {} of {} checks failed",
                failed.len(),
                checks.len()
            ));
            super::append_failures(&mut summary, &failed, 3, true);
        }
        Ok(Findings {
            checks,
            summary,
            evidence: json!({ "paths": records }),
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
    Rule::ALL
        .iter()
        .map(|rule| check_rule(*rule, &HstsRule::default(), r))
        .collect()
}

/// One baseline rule's check.
fn check_rule(rule: Rule, hsts_rule: &HstsRule, r: &Response) -> Check {
    match rule {
        Rule::Hsts => hsts(r, hsts_rule),
        Rule::Nosniff => nosniff(r),
        Rule::FrameProtection => frame_protection(r),
        Rule::Csp => csp(r),
        Rule::ReferrerPolicy => referrer_policy(r),
        Rule::PoweredBy => powered_by(r),
        Rule::Server => server(r),
    }
}

fn hsts(r: &Response, rule: &HstsRule) -> Check {
    const NAME: &str = "Strict-Transport-Security";
    let expected = rule.expected();
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
    let has = |directive: &str| {
        value
            .split(';')
            .any(|d| d.trim().eq_ignore_ascii_case(directive))
    };
    let mut missing = Vec::new();
    if rule.include_subdomains && !has("includeSubDomains") {
        missing.push("no includeSubDomains");
    }
    if rule.preload && !has("preload") {
        missing.push("no preload");
    }
    match hsts_max_age(value) {
        Some(age) => {
            let short = age < rule.min_age.0.as_secs();
            let actual = if missing.is_empty() {
                quoted(value)
            } else {
                format!("{} ({})", quoted(value), missing.join(", "))
            };
            Check::new(NAME, expected, actual, !short && missing.is_empty())
        }
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
    fn named_rules_only_and_hsts_requirements() {
        let h =
            headers("baseline: [server, hsts]\nhsts: {min_age: 365d, include_subdomains: true}\n")
                .expect("valid");
        // In the baseline's order.
        assert_eq!(h.rules, [Rule::Hsts, Rule::Server]);
        let r = response(
            "https://h.example/",
            &[("strict-transport-security", "max-age=31536000")],
        );
        let checks = h.check(&r);
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["status", "Strict-Transport-Security", "Server"]);
        let hsts = &checks[1];
        assert!(!hsts.passed, "{hsts:?}");
        assert_eq!(
            hsts.expected,
            "max-age >= 31536000 (365 days), includeSubDomains on HTTPS"
        );
        assert_eq!(hsts.actual, "\"max-age=31536000\" (no includeSubDomains)");
        let r = response(
            "https://h.example/",
            &[(
                "strict-transport-security",
                "max-age=31536000; includeSubDomains",
            )],
        );
        assert!(h.check(&r)[1].passed);
        let r = response(
            "https://h.example/",
            &[(
                "strict-transport-security",
                "max-age=31535999; includeSubDomains",
            )],
        );
        assert!(!h.check(&r)[1].passed);
    }

    #[test]
    fn rule_lists_and_paths_are_validated() {
        for (yaml, message) in [
            ("policy: none\nbaseline: [hsts]\n", "remove `policy: none`"),
            ("baseline: []\n", "`baseline` is empty"),
            (
                "baseline: [csp]\nhsts: {min_age: 1d}\n",
                "add `hsts` to `baseline:`",
            ),
            ("baseline: [hst]\n", "unknown variant `hst`"),
            ("url: /\npaths: [/a]\n", "not both"),
            ("paths: []\n", "`paths` is empty"),
            ("hsts: {max_age: 1d}\n", "unknown field `max_age`"),
        ] {
            let err = headers(yaml).expect_err(yaml);
            assert!(err.contains(message), "{yaml}: {err}");
        }
        let h = headers("paths: [/, /api/, /b, /c]\n").expect("valid");
        assert_eq!(h.describe(), "GET /, /api/ and 2 more");
        assert_eq!(h.rules.len(), 7);
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
        let rule = HstsRule::default();
        let short = hsts(
            &response(
                "https://h.example/",
                &[("strict-transport-security", "max-age=86400")],
            ),
            &rule,
        );
        assert!(!short.passed);
        let missing = hsts(&response("https://h.example/", &[]), &rule);
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
