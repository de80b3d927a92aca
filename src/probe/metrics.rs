//! `metrics`: scrapes a Prometheus or OpenMetrics endpoint (OpenMetrics
//! asked first, text 0.0.4 accepted, gzip welcome), parses the exposition and
//! checks series, label matchers, values, histogram quantiles, cardinality
//! and the rules `promtool check metrics` applies.

mod lint;
mod quantile;
mod select;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value as Json, json};

pub use lint::{LintExpect, Rule as LintRule, problems as lint_problems};
pub use quantile::{NoEstimate, histogram_quantile};
pub use select::{LabelMatcher, Labels, show_value};

use super::fetch::{self, Response};
use super::http::{evidence, slim, unreachable_findings};
use super::{Check, Context, Findings, Probe, ProbeError, append_failures};
use crate::expect::{self, Matcher, Size};
use crate::exposition::{self, Exposition, MetricType, Mode};

/// The default cap on a scraped exposition: large ones run to tens of MiB.
pub const DEFAULT_BODY_LIMIT: u64 = 32 << 20;

/// The most lines of an exposition evaluated; beyond it the probe fails
/// rather than hold millions of samples in memory.
pub const MAX_LINES: usize = 1_000_000;

/// What a Prometheus server sends: OpenMetrics first, then text 0.0.4.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Samples kept as evidence per check.
const SHOWN_SAMPLES: usize = 3;

/// Problems spelled out per lint rule (all are counted).
const SHOWN_PROBLEMS: usize = 5;

/// Histogram series whose estimates are kept as evidence (all are judged).
const SHOWN_QUANTILES: usize = 20;

/// The most characters of a parse error: it may quote a 30 MB line.
const ERROR_CHARS: usize = 300;

super::with_tls! {
    /// Settings of a `metrics` probe.
    #[derive(Debug, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Metrics {
        /// A path (resolved against the target) or an absolute URL; default `/metrics`.
        #[serde(default = "default_url")]
        pub url: String,
        /// Request headers (e.g. `authorization` for a protected endpoint).
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// The most bytes of (decompressed) exposition read; default 32 MiB, or
        /// the run's body limit when that is larger.
        #[serde(default)]
        pub body_limit: Option<Size>,
        /// Parse as strict OpenMetrics 1.0 (default: what Prometheus accepts).
        #[serde(default)]
        pub strict: bool,
        /// What the exposition must hold.
        #[serde(default)]
        pub expect: MetricsExpect,
    }
}

fn default_url() -> String {
    "/metrics".to_owned()
}

/// Expectations on an exposition. With none, the exposition must parse.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsExpect {
    /// Series that must be present (or counted), with their type and values.
    #[serde(default)]
    pub series: Vec<SeriesExpect>,
    /// Histogram quantiles estimated from the buckets: one or a list.
    #[serde(default)]
    pub quantile: OneOrMany<QuantileExpect>,
    /// Bounds on the number of series.
    #[serde(default)]
    pub cardinality: Option<CardinalityExpect>,
    /// The `promtool check metrics` rules: `true` or a list of rules.
    #[serde(default)]
    pub lint: LintExpect,
}

/// Series that must be present.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesExpect {
    /// The sample name (`http_requests_total`), or a family's name: a
    /// counter's `_total` samples, a histogram's or summary's `_count` ones.
    pub name: String,
    /// Label name → matcher (`GET`, `!=GET`, `=~5..`, `!~5..`).
    #[serde(default)]
    pub labels: Labels,
    /// A matcher every selected sample's value must satisfy.
    #[serde(default)]
    pub value: Option<Matcher>,
    /// The family's declared type.
    #[serde(default, rename = "type")]
    pub kind: Option<TypeName>,
    /// A matcher on the number of selected series (default: at least one).
    #[serde(default)]
    pub count: Option<Matcher>,
}

/// A metric type as written in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TypeName {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `summary`.
    Summary,
    /// `gaugehistogram`.
    Gaugehistogram,
    /// `info`.
    Info,
    /// `stateset`.
    Stateset,
    /// `unknown` (also `untyped` and no `# TYPE`).
    Unknown,
}

impl TypeName {
    fn of(kind: MetricType) -> TypeName {
        match kind {
            MetricType::Counter => TypeName::Counter,
            MetricType::Gauge => TypeName::Gauge,
            MetricType::Histogram => TypeName::Histogram,
            MetricType::GaugeHistogram => TypeName::Gaugehistogram,
            MetricType::Summary => TypeName::Summary,
            MetricType::Info => TypeName::Info,
            MetricType::StateSet => TypeName::Stateset,
            MetricType::Unknown => TypeName::Unknown,
        }
    }
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TypeName::Counter => "counter",
            TypeName::Gauge => "gauge",
            TypeName::Histogram => "histogram",
            TypeName::Summary => "summary",
            TypeName::Gaugehistogram => "gaugehistogram",
            TypeName::Info => "info",
            TypeName::Stateset => "stateset",
            TypeName::Unknown => "unknown",
        })
    }
}

/// A quantile of a histogram, estimated like PromQL's `histogram_quantile`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantileExpect {
    /// The histogram family (`http_request_duration_seconds`).
    pub histogram: String,
    /// Label matchers selecting its series.
    #[serde(default)]
    pub labels: Labels,
    /// The quantile, 0 to 1 (`0.95`).
    #[serde(deserialize_with = "unit_interval")]
    pub q: f64,
    /// Sum series by these labels first (`[]`: all into one); default: each
    /// series on its own, as `histogram_quantile` without `sum`.
    #[serde(default)]
    pub by: Option<Vec<String>>,
    /// The most the estimate may be: a number, a duration (`100ms`, read as
    /// seconds) or a size (`2MiB`, read as bytes).
    #[serde(default)]
    pub max: Option<Quantity>,
    /// The least the estimate may be.
    #[serde(default)]
    pub min: Option<Quantity>,
}

fn unit_interval<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let q = f64::deserialize(deserializer)?;
    if (0.0..=1.0).contains(&q) {
        Ok(q)
    } else {
        Err(de::Error::custom(format!(
            "invalid quantile {q}: expected a number from 0 to 1, like 0.95"
        )))
    }
}

/// A number written as people write it: `0.25`, `100ms` (seconds), `2MiB` (bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The value, in seconds for durations and bytes for sizes.
    pub value: f64,
    /// As written.
    pub text: String,
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Json::deserialize(deserializer)?;
        let parsed = match &raw {
            Json::Number(n) => n.as_f64(),
            Json::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .or_else(|| expect::parse_duration(s).ok().map(|d| d.as_secs_f64()))
                .or_else(|| expect::parse_size(s).ok().map(|b| b as f64)),
            _ => None,
        };
        let text = match &raw {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        parsed
            .map(|value| Quantity { value, text })
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "invalid bound {}: expected a number, a duration like `100ms` or a size like `2MiB`",
                    expect::show(&raw)
                ))
            })
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["number", "string"],
            "description": "A number, a duration (`100ms`, in seconds) or a size (`2MiB`, in bytes)."
        })
    }
}

/// Bounds on the number of series.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardinalityExpect {
    /// The most series in the whole exposition.
    #[serde(default)]
    pub max: Option<u64>,
    /// The most series in any one family.
    #[serde(default)]
    pub max_per_family: Option<u64>,
    /// Family name → the most series it may have.
    #[serde(default)]
    pub families: BTreeMap<String, u64>,
}

/// One item or a list of them.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(with = "OneOrManySchema<T>")]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

/// The schema of [`OneOrMany`].
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum OneOrManySchema<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map or a list of maps")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OneOrMany<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<OneOrMany<T>, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany)
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

impl Metrics {
    /// `GET /metrics`.
    pub fn describe(&self) -> String {
        format!("GET {}", self.url)
    }

    fn request(&self, cx: &Context) -> Result<fetch::Request, ProbeError> {
        let has_accept = self
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("accept"));
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !has_accept {
            headers.push(("accept".to_owned(), ACCEPT.to_owned()));
        }
        Ok(fetch::Request {
            method: reqwest::Method::GET,
            url: cx.resolve(&self.url)?,
            headers,
            body: None,
            follow_redirects: true,
            tls: self.tls(),
        })
    }
}

impl Probe for Metrics {
    fn sends_http(&self) -> bool {
        true
    }

    fn records_response(&self) -> bool {
        true
    }

    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        // reqwest decompresses gzip before the cap counts, so a small
        // compressed bomb still stops at `limit` bytes of exposition.
        let cx = &cx.with_body_limit(self.body_limit.map(|s| s.0), DEFAULT_BODY_LIMIT);
        let request = self.request(cx)?;
        let line = self.describe();
        let response = match fetch::send(cx, &request).await? {
            Ok(r) => r,
            Err(unreachable) => return Ok(unreachable_findings(&line, &request, &unreachable, cx)),
        };
        let mode = if self.strict {
            Mode::Strict
        } else {
            Mode::Lenient
        };
        let scraped = read(&response, cx.body_limit, mode);
        let mut checks = vec![scraped.status_check.clone()];
        let mut record = evidence(&request, Some(&response), cx);
        record["scrape"] = scraped.evidence();
        checks.push(scraped.exposition_check.clone());
        if let Some(exposition) = &scraped.exposition {
            let (more, facts) = self.expect.check(exposition);
            checks.extend(more);
            if let Json::Object(facts) = facts {
                for (k, v) in facts {
                    record[k] = v;
                }
            }
        }
        let mut summary = format!(
            "{line} → {} in {}; {}",
            response.status,
            fetch::format_latency(response.elapsed),
            scraped.headline()
        );
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        append_failures(&mut summary, &failed, 2, true);
        if failed.is_empty() {
            slim(&mut record, std::iter::empty());
        }
        Ok(Findings {
            checks,
            summary,
            evidence: record,
        })
    }
}

/// A scraped response, read as an exposition when it could be.
struct Scraped {
    format: String,
    status_check: Check,
    exposition_check: Check,
    exposition: Option<Exposition>,
}

fn read(response: &Response, limit: u64, mode: Mode) -> Scraped {
    let format = match response.media_type().as_deref() {
        Some("application/openmetrics-text") => "OpenMetrics".to_owned(),
        Some("text/plain") => "Prometheus text 0.0.4".to_owned(),
        Some(other) => other.to_owned(),
        None => "no content type".to_owned(),
    };
    let ok = (200..300).contains(&response.status);
    let status_check = Check::new("status", "2xx", response.status.to_string(), ok);
    let expected = match mode {
        Mode::Strict => "a valid OpenMetrics 1.0 exposition",
        Mode::Lenient => "a valid exposition",
    };
    let not_read = |why: String| Scraped {
        format: format.clone(),
        status_check: status_check.clone(),
        exposition_check: Check::new("exposition", expected, why, false),
        exposition: None,
    };
    if !ok {
        return not_read(format!("not read: HTTP {}", response.status));
    }
    if response.truncated {
        return not_read(format!(
            "more than {} (reading stopped there; raise `body_limit`)",
            expect::format_size(limit)
        ));
    }
    let text = match std::str::from_utf8(&response.body) {
        Ok(text) => text,
        Err(e) => {
            return not_read(format!(
                "not UTF-8 (byte {} of {})",
                e.valid_up_to(),
                response.body.len()
            ));
        }
    };
    let lines = text.bytes().filter(|&b| b == b'\n').count();
    if lines > MAX_LINES {
        return not_read(format!(
            "{lines} lines: more than vouch evaluates ({MAX_LINES})"
        ));
    }
    match exposition::parse(text, mode) {
        Ok(exposition) => {
            let series: usize = exposition.families.iter().map(|f| f.samples.len()).sum();
            Scraped {
                format: format.clone(),
                status_check,
                exposition_check: Check::new(
                    "exposition",
                    expected,
                    format!(
                        "{format}, {} families, {series} series",
                        exposition.families.len()
                    ),
                    true,
                ),
                exposition: Some(exposition),
            }
        }
        Err(e) => not_read(expect::excerpt(&e.to_string(), ERROR_CHARS).into_owned()),
    }
}

impl Scraped {
    fn headline(&self) -> String {
        match &self.exposition {
            Some(_) => self.exposition_check.actual.clone(),
            None => self.format.clone(),
        }
    }

    fn evidence(&self) -> Json {
        let mut record = json!({"format": self.format});
        match &self.exposition {
            Some(e) => {
                record["families"] = json!(e.families.len());
                record["series"] = json!(e.families.iter().map(|f| f.samples.len()).sum::<usize>());
            }
            None => record["error"] = json!(self.exposition_check.actual),
        }
        record
    }
}

impl MetricsExpect {
    /// Every check on a parsed exposition, and the facts behind them.
    fn check(&self, exposition: &Exposition) -> (Vec<Check>, Json) {
        let mut checks = Vec::new();
        let mut facts = serde_json::Map::new();
        if !self.series.is_empty() {
            let mut shown = Vec::new();
            for s in &self.series {
                let (more, fact) = s.check(exposition);
                checks.extend(more);
                shown.push(fact);
            }
            facts.insert("series".to_owned(), Json::Array(shown));
        }
        if !self.quantile.0.is_empty() {
            let mut shown = Vec::new();
            for q in &self.quantile.0 {
                let (check, fact) = q.check(exposition);
                checks.push(check);
                shown.push(fact);
            }
            facts.insert("quantiles".to_owned(), Json::Array(shown));
        }
        if let Some(c) = &self.cardinality {
            let (more, fact) = c.check(exposition);
            checks.extend(more);
            facts.insert("cardinality".to_owned(), fact);
        }
        if !self.lint.0.is_empty() {
            let mut shown = serde_json::Map::new();
            for &rule in &self.lint.0 {
                let found = lint::count_problems(rule, exposition, SHOWN_PROBLEMS);
                let actual = match found.first.first() {
                    None => "none".to_owned(),
                    Some(first) if found.count == 1 => first.clone(),
                    Some(first) => format!("{} problems, first {first}", found.count),
                };
                checks.push(Check::new(
                    format!("lint {rule}"),
                    "no problems",
                    actual,
                    found.count == 0,
                ));
                shown.insert(
                    rule.to_string(),
                    json!({
                        "problems": found.count,
                        "first": found.first,
                    }),
                );
            }
            facts.insert("lint".to_owned(), Json::Object(shown));
        }
        (checks, Json::Object(facts))
    }
}

impl SeriesExpect {
    fn check(&self, exposition: &Exposition) -> (Vec<Check>, Json) {
        let shown_selector = select::selector(&self.name, &self.labels);
        let mut matched = Vec::new();
        let mut kind = None;
        for family in &exposition.families {
            for sample in &family.samples {
                if select::name_matches(&self.name, family, sample)
                    && select::labels_match(&self.labels, sample)
                {
                    kind.get_or_insert(family.kind);
                    matched.push(sample);
                }
            }
        }
        let mut checks = Vec::new();
        let count = matched.len();
        let (expected, passed) = match &self.count {
            Some(m) => (m.to_string(), m.check(Some(&Json::from(count))).is_ok()),
            None => ("at least 1".to_owned(), count > 0),
        };
        checks.push(Check::new(
            format!("series {shown_selector}"),
            expected,
            format!("{count} series"),
            passed,
        ));
        if let Some(want) = self.kind {
            let seen = kind.map(TypeName::of);
            checks.push(Check::new(
                format!("type {}", self.name),
                want.to_string(),
                seen.map_or_else(|| "no such series".to_owned(), |t| t.to_string()),
                seen == Some(want),
            ));
        }
        if let Some(m) = &self.value {
            let failing: Vec<_> = matched
                .iter()
                .filter(|s| m.check(Some(&Json::from(s.value))).is_err())
                .collect();
            let actual = match (failing.first(), matched.first()) {
                (Some(bad), _) if failing.len() > 1 => format!(
                    "{} (and {} more)",
                    select::show_sample(bad),
                    failing.len() - 1
                ),
                (Some(bad), _) => select::show_sample(bad),
                (None, Some(good)) if count > 1 => {
                    format!("all {count} within, e.g. {}", select::show_sample(good))
                }
                (None, Some(good)) => select::show_sample(good),
                (None, None) => "no such series".to_owned(),
            };
            checks.push(Check::new(
                format!("value {shown_selector}"),
                m.to_string(),
                actual,
                failing.is_empty() && count > 0,
            ));
        }
        let samples: Vec<Json> = matched
            .iter()
            .take(SHOWN_SAMPLES)
            .map(|s| {
                json!({
                    "sample": select::show_sample(s),
                    "line": s.line,
                })
            })
            .collect();
        let fact = json!({
            "selector": shown_selector,
            "type": kind.map(|k| TypeName::of(k).to_string()),
            "count": count,
            "samples": samples,
        });
        (checks, fact)
    }
}

impl QuantileExpect {
    fn check(&self, exposition: &Exposition) -> (Check, Json) {
        let name = self
            .histogram
            .strip_suffix("_bucket")
            .unwrap_or(&self.histogram);
        let shown = format!(
            "quantile {} of {}",
            self.q,
            select::selector(name, &self.labels)
        );
        let groups = quantile::groups(exposition, name, &self.labels, self.by.as_deref());
        let mut expected = Vec::new();
        if let Some(min) = &self.min {
            expected.push(format!(">= {}", min.text));
        }
        if let Some(max) = &self.max {
            expected.push(format!("<= {}", max.text));
        }
        let expected = if expected.is_empty() {
            "an estimate".to_owned()
        } else {
            expected.join(" and ")
        };
        // Every group is judged; only the first few are kept as evidence.
        let mut results = Vec::new();
        let mut first_estimate: Option<(f64, f64)> = None;
        let mut worst: Option<String> = None;
        let mut passed = !groups.is_empty();
        for group in &groups {
            let labels: Vec<String> = group
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            let labels = format!("{{{}}}", labels.join(","));
            let observations = group.buckets.last().map_or(0.0, |b| b.1);
            match histogram_quantile(self.q, &group.buckets) {
                Ok(value) => {
                    let within = self.min.as_ref().is_none_or(|m| value >= m.value)
                        && self.max.as_ref().is_none_or(|m| value <= m.value);
                    let text = format!(
                        "{} over {} observations {labels}",
                        show_estimate(value),
                        show_estimate(observations)
                    );
                    if !within && passed {
                        worst = Some(text.clone());
                    }
                    passed &= within;
                    first_estimate.get_or_insert((value, observations));
                    if results.len() < SHOWN_QUANTILES {
                        results.push(json!({
                            "labels": labels,
                            "value": value,
                            "observations": observations,
                            "within": within,
                        }));
                    }
                }
                Err(why) => {
                    if passed {
                        worst = Some(format!("no estimate {labels}: {why}"));
                    }
                    passed = false;
                    if results.len() < SHOWN_QUANTILES {
                        results.push(json!({"labels": labels, "error": why.to_string()}));
                    }
                }
            }
        }
        let actual = match (&worst, groups.len(), first_estimate) {
            (Some(w), _, _) => w.clone(),
            (None, 0, _) => format!("no `{name}_bucket` series"),
            (None, 1, Some((value, observations))) => format!(
                "{} over {} observations",
                show_estimate(value),
                show_estimate(observations)
            ),
            (None, n, _) => format!("all {n} series within"),
        };
        let fact = json!({
            "histogram": name,
            "q": self.q,
            "series_count": groups.len(),
            "series": results,
            "note": "estimated from cumulative buckets, i.e. over everything observed since the process started, with linear interpolation as histogram_quantile does",
        });
        (Check::new(shown, expected, actual, passed), fact)
    }
}

/// An estimate to six decimals, as people read it (`0.3`, not `0.30000000000000004`).
fn show_estimate(value: f64) -> String {
    if !value.is_finite() {
        return select::show_value(value);
    }
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl CardinalityExpect {
    fn check(&self, exposition: &Exposition) -> (Vec<Check>, Json) {
        let mut per_family: Vec<(&str, usize)> = exposition
            .families
            .iter()
            .map(|f| (f.name.as_str(), f.samples.len()))
            .collect();
        let total: usize = per_family.iter().map(|(_, n)| n).sum();
        per_family.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut checks = Vec::new();
        if let Some(max) = self.max {
            checks.push(Check::new(
                "cardinality",
                format!("<= {max} series"),
                format!("{total} series"),
                total as u64 <= max,
            ));
        }
        if let Some(max) = self.max_per_family {
            let (name, n) = per_family.first().copied().unwrap_or(("none", 0));
            checks.push(Check::new(
                "cardinality per family",
                format!("<= {max} series"),
                format!("{n} series in `{name}`"),
                n as u64 <= max,
            ));
        }
        for (family, max) in &self.families {
            let n = per_family
                .iter()
                .find(|(name, _)| name == family)
                .map_or(0, |(_, n)| *n);
            checks.push(Check::new(
                format!("cardinality {family}"),
                format!("<= {max} series"),
                format!("{n} series"),
                n as u64 <= *max,
            ));
        }
        let top: Vec<Json> = per_family
            .iter()
            .take(5)
            .map(|(name, n)| json!({"family": name, "series": n}))
            .collect();
        (checks, json!({"series": total, "largest_families": top}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::parse;

    fn metrics(yaml: &str) -> Result<Metrics, String> {
        crate::spec::de::from_yaml(yaml)
    }

    const TEXT: &str = "\
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method=\"GET\",code=\"200\"} 1027
http_requests_total{method=\"POST\",code=\"500\"} 3
# HELP process_resident_memory_bytes Resident memory.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.5e+07
";

    fn run_expect(yaml: &str) -> Vec<Check> {
        let m = metrics(yaml).expect("valid settings");
        let e = parse(TEXT, Mode::Lenient).expect("parses");
        m.expect.check(&e).0
    }

    #[test]
    fn defaults_are_metrics_path_and_no_expectations() {
        let m = metrics("{}").expect("valid");
        assert_eq!(m.url, "/metrics");
        assert!(m.expect.series.is_empty() && m.expect.lint.0.is_empty());
    }

    #[test]
    fn rejects_unknown_fields_bad_quantiles_and_lint_rules() {
        assert!(metrics("{urll: /m}").is_err());
        let err = metrics("expect: {quantile: {histogram: h, q: 1.5}}").expect_err("q > 1");
        assert!(err.contains("invalid quantile 1.5"), "{err}");
        let err = metrics("expect: {lint: [helpp]}").expect_err("unknown rule");
        assert!(err.contains("helpp"), "{err}");
        let err = metrics("expect: {series: [{name: a, labels: {x: '=~('}}]}").expect_err("regex");
        assert!(err.contains("invalid regex"), "{err}");
    }

    #[test]
    fn quantile_takes_one_map_or_a_list() {
        let one = metrics("expect: {quantile: {histogram: h, q: 0.9, max: 100ms}}").expect("one");
        assert_eq!(one.expect.quantile.0.len(), 1);
        assert_eq!(
            one.expect.quantile.0[0].max.as_ref().map(|m| m.value),
            Some(0.1)
        );
        let two = metrics("expect: {quantile: [{histogram: h, q: 0.5}, {histogram: h, q: 0.99}]}")
            .expect("list");
        assert_eq!(two.expect.quantile.0.len(), 2);
    }

    #[test]
    fn series_by_label_matchers_type_and_value() {
        let checks = run_expect(
            "expect: {series: [{name: http_requests_total, labels: {code: '=~5..'}, type: counter, value: {max: 10}}]}",
        );
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
        assert_eq!(checks[0].actual, "1 series");
        let checks = run_expect(
            "expect: {series: [{name: process_resident_memory_bytes, value: {max: 10MB}}]}",
        );
        assert!(!checks[1].passed, "{checks:#?}");
        assert_eq!(checks[1].actual, "process_resident_memory_bytes 25000000");
    }

    #[test]
    fn a_missing_series_fails_and_count_zero_asserts_absence() {
        let checks = run_expect("expect: {series: [{name: nope_total}]}");
        assert!(!checks[0].passed);
        let checks = run_expect("expect: {series: [{name: nope_total, count: 0}]}");
        assert!(checks[0].passed, "{checks:#?}");
    }

    #[test]
    fn cardinality_total_and_per_family() {
        let checks = run_expect("expect: {cardinality: {max: 2, max_per_family: 2}}");
        assert!(!checks[0].passed && checks[0].actual == "3 series");
        assert!(checks[1].passed, "{checks:#?}");
    }

    #[test]
    fn each_lint_rule_is_its_own_check() {
        let checks = run_expect("expect: {lint: true}");
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "lint counter_total",
                "lint help",
                "lint base_units",
                "lint snake_case",
                "lint unique_series",
                "lint buckets"
            ]
        );
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
    }
}
