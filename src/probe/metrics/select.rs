//! Choosing samples the way PromQL selectors do: a metric name and label
//! matchers written `=`, `!=`, `=~`, `!~` (regexes anchored at both ends).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer};

use crate::expect::{compile_regex, excerpt};
use crate::exposition::{Family, MetricType, Sample};

/// One label matcher: `"GET"` or `"=GET"` (equal), `"!=GET"`, `"=~5.."`,
/// `"!~5.."`. A missing label reads as the empty string, as in PromQL.
#[derive(Debug, Clone)]
pub enum LabelMatcher {
    /// `=`.
    Eq(String),
    /// `!=`.
    Ne(String),
    /// `=~`, anchored.
    Re(Regex, String),
    /// `!~`, anchored.
    NotRe(Regex, String),
}

impl LabelMatcher {
    /// Reads the written form.
    pub fn parse(text: &str) -> Result<LabelMatcher, String> {
        let anchored = |pattern: &str| compile_regex(&format!("^(?:{pattern})$"));
        Ok(if let Some(p) = text.strip_prefix("=~") {
            LabelMatcher::Re(anchored(p)?, p.to_owned())
        } else if let Some(p) = text.strip_prefix("!~") {
            LabelMatcher::NotRe(anchored(p)?, p.to_owned())
        } else if let Some(v) = text.strip_prefix("!=") {
            LabelMatcher::Ne(v.to_owned())
        } else {
            LabelMatcher::Eq(text.strip_prefix('=').unwrap_or(text).to_owned())
        })
    }

    /// Whether a label value (`None`: the label is absent) matches.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let value = value.unwrap_or("");
        match self {
            LabelMatcher::Eq(v) => value == v,
            LabelMatcher::Ne(v) => value != v,
            LabelMatcher::Re(re, _) => re.is_match(value),
            LabelMatcher::NotRe(re, _) => !re.is_match(value),
        }
    }
}

impl fmt::Display for LabelMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelMatcher::Eq(v) => write!(f, "={v:?}"),
            LabelMatcher::Ne(v) => write!(f, "!={v:?}"),
            LabelMatcher::Re(_, p) => write!(f, "=~{p:?}"),
            LabelMatcher::NotRe(_, p) => write!(f, "!~{p:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for LabelMatcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        LabelMatcher::parse(&text).map_err(de::Error::custom)
    }
}

impl JsonSchema for LabelMatcher {
    fn schema_name() -> Cow<'static, str> {
        "LabelMatcher".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A label value (`GET`), or a PromQL matcher: `=GET`, `!=GET`, `=~5..`, `!~5..` (regexes anchored)."
        })
    }
}

/// Label name → matcher; all must hold.
pub type Labels = BTreeMap<String, LabelMatcher>;

/// Whether every matcher holds for the sample's labels.
pub fn labels_match(labels: &Labels, sample: &Sample) -> bool {
    labels.iter().all(|(name, m)| m.matches(sample.label(name)))
}

/// A selector as PromQL writes it: `name{a="x",b=~"y"}`.
pub fn selector(name: &str, labels: &Labels) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let inner: Vec<String> = labels.iter().map(|(k, m)| format!("{k}{m}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// Whether `sample` of `family` answers to `name`: its own name, or the
/// family's name for a counter's `_total` sample and a histogram's or
/// summary's `_count` sample.
pub fn name_matches(name: &str, family: &Family, sample: &Sample) -> bool {
    if sample.name == name {
        return true;
    }
    if family.name != name {
        return false;
    }
    let suffix = &sample.name[family.name.len().min(sample.name.len())..];
    match family.kind {
        MetricType::Counter => suffix == "_total",
        MetricType::Histogram | MetricType::Summary => suffix == "_count",
        MetricType::GaugeHistogram => suffix == "_gcount",
        MetricType::Info => suffix == "_info",
        _ => false,
    }
}

/// The most characters of a name or label value in a shown sample: a
/// target may send a 30 MB label, and a sample is shown in checks and evidence.
const SHOWN_CHARS: usize = 120;

/// The most labels of a shown sample.
const SHOWN_LABELS: usize = 20;

/// A sample as the exposition writes it: `name{a="x"} 1`, each name and
/// value cut to a readable length and at most 20 labels.
pub fn show_sample(sample: &Sample) -> String {
    let value = show_value(sample.value);
    let name = excerpt(&sample.name, SHOWN_CHARS);
    if sample.labels.is_empty() {
        return format!("{name} {value}");
    }
    let mut labels: Vec<String> = sample
        .labels
        .iter()
        .take(SHOWN_LABELS)
        .map(|(k, v)| {
            format!(
                "{}={:?}",
                excerpt(k, SHOWN_CHARS),
                excerpt(v, SHOWN_CHARS).as_ref()
            )
        })
        .collect();
    if sample.labels.len() > SHOWN_LABELS {
        labels.push(format!("… {} more", sample.labels.len() - SHOWN_LABELS));
    }
    format!("{name}{{{}}} {value}", labels.join(","))
}

/// A sample value as the exposition writes it (`NaN`, `+Inf`).
pub fn show_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_label_is_shown_cut() {
        let text = format!("x{{l=\"{}\"}} 1\n", "a".repeat(100_000));
        let e = crate::exposition::parse(&text, crate::exposition::Mode::Lenient).expect("parses");
        let shown = show_sample(&e.families[0].samples[0]);
        assert!(shown.chars().count() < 150, "{shown}");
        assert!(
            shown.starts_with("x{l=\"aaa") && shown.ends_with("…\"} 1"),
            "{shown}"
        );
    }

    #[test]
    fn the_four_promql_operators() {
        let m = |t: &str| LabelMatcher::parse(t).expect("valid");
        assert!(m("GET").matches(Some("GET")));
        assert!(m("=GET").matches(Some("GET")));
        assert!(m("!=GET").matches(Some("POST")));
        assert!(m("=~5..").matches(Some("503")));
        assert!(!m("=~5..").matches(Some("1503")), "anchored");
        assert!(m("!~5..").matches(Some("200")));
        assert!(m("").matches(None), "an absent label is empty");
        assert_eq!(m("=~5..").to_string(), "=~\"5..\"");
        assert!(LabelMatcher::parse("=~(").is_err());
    }

    #[test]
    fn selectors_read_like_promql() {
        let mut labels = Labels::new();
        labels.insert("code".into(), LabelMatcher::parse("=~5..").expect("ok"));
        labels.insert("method".into(), LabelMatcher::parse("GET").expect("ok"));
        assert_eq!(
            selector("http_requests_total", &labels),
            "http_requests_total{code=~\"5..\",method=\"GET\"}"
        );
    }
}
