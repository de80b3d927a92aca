//! Matchers shared by every probe kind (`eq`, `ne`, `one_of`, `min`, `max`,
//! `contains`, `matches`, `exists`, `absent`) and the human quantities they
//! are written in: durations (`50ms`, `30d`) and sizes (`2GiB`).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use regex::Regex;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

/// The matcher names accepted in a matcher map.
pub const MATCHER_NAMES: &[&str] = &[
    "eq", "ne", "one_of", "min", "max", "contains", "matches", "exists", "absent",
];

/// An expectation on one value: all its rules must hold.
#[derive(Debug, Clone)]
pub struct Matcher {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
enum Rule {
    Eq(Json),
    Ne(Json),
    OneOf(Vec<Json>),
    Min(Bound),
    Max(Bound),
    Contains(String),
    Matches(Regex),
    Exists,
    Absent,
}

/// A bound, remembering how it was written (`50ms`, `2GiB`, `10`, `"7.0"`):
/// a number, and when written as a dotted version (`"7.0"`, `"7.2.4"`) also
/// its components, for values that are versions rather than numbers.
#[derive(Debug, Clone)]
struct Bound {
    value: Option<f64>,
    version: Option<Vec<u64>>,
    text: String,
}

impl Bound {
    /// How `actual` compares to the bound: as numbers when both are
    /// numbers (so `0.75` stays a number), else as dotted versions when
    /// both read as versions (`"7.0.15"` against `"7.0"`); `None` when they
    /// cannot be compared.
    fn compare(&self, actual: &Json) -> Option<std::cmp::Ordering> {
        if let (Some(n), Some(bound)) = (as_number(actual), self.value) {
            return n.partial_cmp(&bound);
        }
        let bound = self.version.as_ref()?;
        let Json::String(text) = actual else {
            return None;
        };
        Some(compare_versions(&parse_version(text)?, bound))
    }
}

/// The leading dotted version of a text: `7.0.15` → `[7, 0, 15]`,
/// `v1.25.3-alpine` → `[1, 25, 3]`, `14.10 (Debian 14.10-1)` → `[14, 10]`.
/// At least one dot: a bare number is a number, not a version.
pub fn parse_version(text: &str) -> Option<Vec<u64>> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let head = text[..end].trim_end_matches('.');
    if !head.contains('.') {
        return None;
    }
    head.split('.').map(|part| part.parse().ok()).collect()
}

/// Compares dotted versions component by component, a missing component
/// counting as 0 (`7.0` = `7.0.0` < `7.0.15`).
pub fn compare_versions(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            x.cmp(&y)
        })
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

impl Matcher {
    /// A matcher for plain equality.
    pub fn eq(value: impl Into<Json>) -> Matcher {
        Matcher {
            rules: vec![Rule::Eq(value.into())],
        }
    }

    /// A matcher that wants the value absent.
    pub fn absent() -> Matcher {
        Matcher {
            rules: vec![Rule::Absent],
        }
    }

    /// The string of a plain string-equality matcher.
    pub fn as_eq_str(&self) -> Option<&str> {
        match self.rules.as_slice() {
            [Rule::Eq(Json::String(s))] => Some(s),
            _ => None,
        }
    }

    /// Whether the matcher is satisfied by a missing value.
    pub fn wants_absent(&self) -> bool {
        self.rules.iter().any(|r| matches!(r, Rule::Absent))
    }

    /// Checks a value (`None` when it is missing). `Err` says what was wrong.
    pub fn check(&self, actual: Option<&Json>) -> Result<(), String> {
        for rule in &self.rules {
            rule.check(actual)?;
        }
        Ok(())
    }

    /// Checks a string value (headers, bodies).
    pub fn check_str(&self, actual: Option<&str>) -> Result<(), String> {
        match actual {
            Some(s) => self.check(Some(&Json::String(s.to_owned()))),
            None => self.check(None),
        }
    }

    /// Checks a duration. Bounds and values written as durations are read
    /// as durations here: `{max: 5m}` is five minutes, where a plain matcher
    /// reads `5m` as the size 5 MB; plain numbers are seconds. `Err` shows
    /// the duration as people write it (`got 10m`).
    pub fn check_duration(&self, actual: Option<Duration>) -> Result<(), String> {
        let seconds = |text: &str| parse_duration(text).ok().map(|d| d.as_secs_f64());
        let as_seconds = |value: &Json| match value {
            Json::String(s) => seconds(s).map_or_else(|| value.clone(), Json::from),
            other => other.clone(),
        };
        let bound = |b: &Bound| Bound {
            value: seconds(&b.text).or(b.value),
            version: None,
            text: b.text.clone(),
        };
        let value = actual.map(|d| Json::from(d.as_secs_f64()));
        for rule in &self.rules {
            let rule = match rule {
                Rule::Eq(v) => Rule::Eq(as_seconds(v)),
                Rule::Ne(v) => Rule::Ne(as_seconds(v)),
                Rule::OneOf(vs) => Rule::OneOf(vs.iter().map(as_seconds).collect()),
                Rule::Min(b) => Rule::Min(bound(b)),
                Rule::Max(b) => Rule::Max(bound(b)),
                other => other.clone(),
            };
            if let Err(why) = rule.check(value.as_ref()) {
                return Err(match actual {
                    Some(d) => format!("got {}", format_duration(d)),
                    None => why,
                });
            }
        }
        Ok(())
    }
}

/// A duration as people write it: `5m`, `1h 30m`, `36d`, `0s`; below a
/// second in milliseconds (`250ms`). Days are the largest unit (no months).
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let parts: Vec<String> = [
        (secs / 86_400, "d"),
        (secs % 86_400 / 3600, "h"),
        (secs % 3600 / 60, "m"),
        (secs % 60, "s"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n}{unit}"))
    .collect();
    parts.join(" ")
}

/// Dotted versions (`15.4`, `7.0.15`), for the kinds whose values are
/// versions: [`Matcher::check_version`] and [`Matcher::version_bounds`].
impl Matcher {
    /// Checks a version string (`15.4 (Debian 15.4-1)`: its leading dotted
    /// number counts). `min` and `max` compare part by part as numbers, a
    /// missing part being 0 (`15.10` is above `15.9`; `14` is `14.0`);
    /// `eq`, `ne` and `one_of` compare as a prefix of parts (`eq: "15"` holds
    /// for `15.4`, not for `150.1`); the other rules read the text as is.
    pub fn check_version(&self, actual: Option<&str>) -> Result<(), String> {
        let Some(text) = actual else {
            return self.check(None);
        };
        let got = || format!("got {}", excerpt(&format!("{text:?}"), 120));
        let version = leading_version(text);
        let prefix_of = |expected: &Json| {
            let want = match expected {
                Json::String(s) => leading_version(s),
                Json::Number(n) => leading_version(&n.to_string()),
                _ => None,
            };
            match (want, &version) {
                (Some(want), Some(have)) => {
                    have.len() >= want.len() && have[..want.len()] == want[..]
                }
                _ => loosely_equal(expected, &Json::String(text.to_owned())),
            }
        };
        for rule in &self.rules {
            let ok = match rule {
                Rule::Min(b) | Rule::Max(b) => {
                    let bound = version_bound(&b.text)
                        .ok_or_else(|| format!("`{}` is not a version", b.text))?;
                    let Some(have) = &version else {
                        return Err(format!("{}: not a version", got()));
                    };
                    let order = compare_versions(have, &bound);
                    if matches!(rule, Rule::Min(_)) {
                        order.is_ge()
                    } else {
                        order.is_le()
                    }
                }
                Rule::Eq(v) => prefix_of(v),
                Rule::Ne(v) => !prefix_of(v),
                Rule::OneOf(vs) => vs.iter().any(prefix_of),
                other => {
                    other.check(Some(&Json::String(text.to_owned())))?;
                    true
                }
            };
            if !ok {
                return Err(got());
            }
        }
        Ok(())
    }

    /// Whether every `min`/`max` bound is a dotted version; says which is not
    /// (for loading, so `min: 1GiB` on a version is an error before any run).
    pub fn version_bounds(&self) -> Result<(), String> {
        for rule in &self.rules {
            if let Rule::Min(b) | Rule::Max(b) = rule
                && version_bound(&b.text).is_none()
            {
                return Err(format!(
                    "`{}` is not a version: write it like `14` or `7.0.15`",
                    b.text
                ));
            }
        }
        Ok(())
    }
}

/// The leading dotted number of a version string (`v15.4rc1 (Debian)` →
/// `[15, 4]`, `14` → `[14]`); `None` when it starts with no digit. Unlike
/// [`parse_version`] a bare number is a version here: the caller knows the
/// value is one.
pub fn leading_version(text: &str) -> Option<Vec<u64>> {
    let text = text.trim();
    let text = text
        .strip_prefix(['v', 'V'])
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(text);
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let parts: Option<Vec<u64>> = text[..end]
        .trim_end_matches('.')
        .split('.')
        .map(|p| p.parse().ok())
        .collect();
    parts.filter(|p| !p.is_empty())
}

/// A bound written as a version: all of it (`14`, `v7.0.15`), not just its start.
fn version_bound(text: &str) -> Option<Vec<u64>> {
    let whole = text.trim().trim_start_matches(['v', 'V']);
    whole
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.')
        .then(|| leading_version(whole))
        .flatten()
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            match rule {
                Rule::Eq(v) => write!(f, "{}", show(v))?,
                Rule::Ne(v) => write!(f, "not {}", show(v))?,
                Rule::OneOf(vs) => write!(
                    f,
                    "one of [{}]",
                    vs.iter().map(show).collect::<Vec<_>>().join(", ")
                )?,
                Rule::Min(b) => write!(f, ">= {}", b.text)?,
                Rule::Max(b) => write!(f, "<= {}", b.text)?,
                Rule::Contains(s) => write!(f, "contains {s:?}")?,
                Rule::Matches(r) => write!(f, "matches /{}/", r.as_str())?,
                Rule::Exists => f.write_str("present")?,
                Rule::Absent => f.write_str("absent")?,
            }
        }
        Ok(())
    }
}

/// A JSON value as it reads in a report: strings quoted, the rest as JSON.
pub fn show(value: &Json) -> String {
    match value {
        Json::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Loose equality: numbers by value, and a string equals a scalar with the same text
/// (a header `"10"` equals `10`).
fn loosely_equal(expected: &Json, actual: &Json) -> bool {
    match (expected, actual) {
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        (Json::String(text), Json::Number(_) | Json::Bool(_))
        | (Json::Number(_) | Json::Bool(_), Json::String(text)) => {
            let scalar = if matches!(expected, Json::String(_)) {
                actual
            } else {
                expected
            };
            text.trim() == scalar.to_string().as_str()
        }
        _ => expected == actual,
    }
}

fn as_number(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Rule {
    fn check(&self, actual: Option<&Json>) -> Result<(), String> {
        let Some(actual) = actual else {
            return match self {
                Rule::Absent | Rule::Ne(_) => Ok(()),
                _ => Err("missing".to_owned()),
            };
        };
        let ok = match self {
            Rule::Eq(v) => loosely_equal(v, actual),
            Rule::Ne(v) => !loosely_equal(v, actual),
            Rule::OneOf(vs) => vs.iter().any(|v| loosely_equal(v, actual)),
            Rule::Min(b) => b.compare(actual).is_some_and(|o| o.is_ge()),
            Rule::Max(b) => b.compare(actual).is_some_and(|o| o.is_le()),
            Rule::Contains(s) => match actual {
                Json::String(text) => text.contains(s.as_str()),
                Json::Array(items) => items
                    .iter()
                    .any(|i| loosely_equal(&Json::from(s.as_str()), i)),
                other => other.to_string().contains(s.as_str()),
            },
            Rule::Matches(re) => match actual {
                Json::String(text) => re.is_match(text),
                other => re.is_match(&other.to_string()),
            },
            Rule::Exists => true,
            Rule::Absent => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("got {}", excerpt(&show(actual), 120)))
        }
    }
}

/// Cuts text to at most `max` characters, marking the cut.
pub fn excerpt(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MatcherVisitor)
    }
}

struct MatcherVisitor;

impl<'de> Visitor<'de> for MatcherVisitor {
    type Value = Matcher;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, a list of values, or a map of matchers")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Matcher, E> {
        Ok(Matcher::eq(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Matcher, E> {
        Ok(Matcher::eq(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Matcher, E> {
        Ok(Matcher::eq(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Matcher, E> {
        Ok(Matcher::eq(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Matcher, E> {
        Ok(Matcher::eq(v))
    }
    fn visit_unit<E>(self) -> Result<Matcher, E> {
        Ok(Matcher::eq(Json::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Matcher, A::Error> {
        let mut values = Vec::new();
        while let Some(v) = seq.next_element::<Json>()? {
            values.push(v);
        }
        Ok(Matcher {
            rules: vec![Rule::OneOf(values)],
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Matcher, A::Error> {
        let mut rules = Vec::new();
        while let Some(key) = map.next_key::<MatcherName>()? {
            let rule = match key {
                MatcherName::Eq => Rule::Eq(map.next_value()?),
                MatcherName::Ne => Rule::Ne(map.next_value()?),
                MatcherName::OneOf => Rule::OneOf(map.next_value()?),
                MatcherName::Min => Rule::Min(map.next_value::<BoundDe>()?.0),
                MatcherName::Max => Rule::Max(map.next_value::<BoundDe>()?.0),
                MatcherName::Contains => Rule::Contains(map.next_value()?),
                MatcherName::Matches => Rule::Matches(map.next_value::<RegexDe>()?.0),
                MatcherName::Exists => {
                    if map.next_value::<bool>()? {
                        Rule::Exists
                    } else {
                        Rule::Absent
                    }
                }
                MatcherName::Absent => {
                    if map.next_value::<bool>()? {
                        Rule::Absent
                    } else {
                        Rule::Exists
                    }
                }
            };
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err(de::Error::custom(format!(
                "empty matcher: expected one of `{}`",
                MATCHER_NAMES.join("`, `")
            )));
        }
        // A vector grows four at a time: a matcher has one or two rules.
        rules.shrink_to_fit();
        Ok(Matcher { rules })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum MatcherName {
    Eq,
    Ne,
    OneOf,
    Min,
    Max,
    Contains,
    Matches,
    Exists,
    Absent,
}

struct BoundDe(Bound);

impl<'de> Deserialize<'de> for BoundDe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(deserializer)?;
        let bound = match &value {
            Json::Number(n) => n.as_f64().map(|v| Bound {
                value: Some(v),
                version: None,
                text: n.to_string(),
            }),
            Json::String(s) => {
                let value = parse_quantity(s);
                let version = leading_version(s);
                (value.is_some() || version.is_some()).then(|| Bound {
                    value,
                    version,
                    text: s.clone(),
                })
            }
            _ => None,
        };
        bound.map(BoundDe).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid bound {}: expected a number, a duration like `50ms`, a size like `2GiB` or a version like `\"7.0\"`",
                show(&value)
            ))
        })
    }
}

/// A number, a duration (in seconds) or a size (in bytes).
fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<f64>() {
        return Some(n);
    }
    if let Ok(size) = parse_size(text) {
        return Some(size as f64);
    }
    humantime::parse_duration(text)
        .ok()
        .map(|d| d.as_secs_f64())
}

struct RegexDe(Regex);

impl<'de> Deserialize<'de> for RegexDe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pattern = String::deserialize(deserializer)?;
        compile_regex(&pattern)
            .map(RegexDe)
            .map_err(de::Error::custom)
    }
}

/// A regular expression written as a plain string (`matches: 'v\d+'`).
#[derive(Debug, Clone)]
pub struct Pattern(pub Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RegexDe::deserialize(deserializer).map(|r| Pattern(r.0))
    }
}

impl JsonSchema for Pattern {
    fn schema_name() -> Cow<'static, str> {
        "Pattern".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "regex", "description": "A regular expression (Rust `regex` syntax)."})
    }
}

/// Text on one line for summaries: line breaks and tabs shown escaped.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if text.contains(['\n', '\r', '\t']) {
        Cow::Owned(
            text.replace('\r', "\\r")
                .replace('\n', "\\n")
                .replace('\t', "\\t"),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// Compiles a user regex with a size limit, so a hostile pattern cannot eat memory.
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regex `{pattern}`: {}", regex_reason(&e)))
}

/// The reason of a regex error in one line: the crate's syntax errors quote
/// the pattern over several lines, which a diagnostic already shows.
fn regex_reason(error: &regex::Error) -> String {
    match error {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(text)
            .to_owned(),
        regex::Error::CompiledTooBig(limit) => format!(
            "it compiles to more than {}; simplify it",
            format_size(*limit as u64)
        ),
        other => other.to_string(),
    }
}

impl JsonSchema for Matcher {
    fn schema_name() -> Cow<'static, str> {
        "Matcher".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A scalar means equality, a list means one of, a map combines matchers.",
            "anyOf": [
                {"type": ["string", "number", "boolean", "null"]},
                {"type": "array"},
                {
                    "type": "object",
                    "additionalProperties": false,
                    "minProperties": 1,
                    "properties": {
                        "eq": {}, "ne": {}, "one_of": {"type": "array"},
                        "min": {"type": ["number", "string"]}, "max": {"type": ["number", "string"]},
                        "contains": {"type": "string"}, "matches": {"type": "string", "format": "regex"},
                        "exists": {"type": "boolean"}, "absent": {"type": "boolean"}
                    }
                }
            ]
        })
    }
}

/// A duration written as people write it (`5s`, `250ms`, `1m30s`, `30d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map(Dur).map_err(de::Error::custom)
    }
}

/// Parses a human duration with a message fit for a diagnostic.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|_| {
        format!(
            "invalid duration `{text}`: expected a number and a unit, like `5s`, `250ms` or `1m30s`"
        )
    })
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as `5s`, `250ms`, `1m30s` or `30d`.",
            "pattern": "^\\s*[0-9]"
        })
    }
}

/// A size written as people write it (`512KiB`, `1MiB`, `2GB`, `100`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_size(&text).map(Size).map_err(de::Error::custom)
    }
}

impl JsonSchema for Size {
    fn schema_name() -> Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "integer"],
            "description": "A size in bytes, or with a unit: `512KiB`, `1MiB`, `2GB`."
        })
    }
}

/// Parses `1MiB`, `512 KB`, `100` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid size `{text}`: expected a number and a unit, like `1MiB`"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "ti" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "invalid size `{text}`: unknown unit `{other}` (use B, KB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    Ok((number * factor as f64) as u64)
}

/// Formats a byte count for people: `1.5 MiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

/// A rate written as people write it: `149/s`, `10/s`, `600/min`, `100/15m`
/// (requests per unit of time). Held as requests per second.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_rate(&text).map(Rate).map_err(de::Error::custom)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", format_number(self.0))
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Requests per unit of time: `149/s`, `600/min`, `100/15m`.",
            "pattern": "^\\s*[0-9.]+\\s*/"
        })
    }
}

/// Parses `149/s`, `600/min`, `100/15m` into requests per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let bad = || {
        format!(
            "invalid rate `{text}`: expected requests per unit of time, like `10/s`, `600/min` or `100/15m`"
        )
    };
    let (count, per) = text.trim().split_once('/').ok_or_else(bad)?;
    let count: f64 = count.trim().parse().map_err(|_| bad())?;
    let per = per.trim();
    let seconds = match per {
        "s" | "sec" | "second" => 1.0,
        "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => humantime::parse_duration(other)
            .map_err(|_| bad())?
            .as_secs_f64(),
    };
    if !(count.is_finite() && count > 0.0 && seconds > 0.0) {
        return Err(format!("invalid rate `{text}`: must be more than zero"));
    }
    Ok(count / seconds)
}

/// A share written as a percentage: `1%`, `0.5%` (or a fraction, `0.01`).
/// Held as a fraction from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(deserializer)?;
        let parsed = match &value {
            Json::String(text) => parse_percent(text),
            Json::Number(n) => n
                .as_f64()
                .filter(|f| (0.0..=1.0).contains(f))
                .ok_or_else(|| format!("invalid share `{n}`: expected a percentage like `1%`")),
            other => Err(format!(
                "invalid share {other}: expected a percentage like `1%`"
            )),
        };
        parsed.map(Percent).map_err(de::Error::custom)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", format_number(self.0 * 100.0))
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number"],
            "description": "A percentage such as `1%` or `0.5%` (or a fraction from 0 to 1)."
        })
    }
}

/// Parses `1%`, `0.5 %` into a fraction.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let bad = || {
        format!("invalid percentage `{text}`: expected a number from 0 to 100 and `%`, like `1%`")
    };
    let number = text.trim().strip_suffix('%').ok_or_else(bad)?;
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !(0.0..=100.0).contains(&value) {
        return Err(bad());
    }
    Ok(value / 100.0)
}

/// A number for people: no trailing zeros, at most 2 decimals (`149`, `0.5`, `12.35`).
pub fn format_number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A measured rate with the digits that mean something: `31825`, `48.6`,
/// `0.35` (a rate written in a probe file keeps its own, [`format_number`]).
pub fn format_measured(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        let text = format!("{value:.1}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format_number(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matcher(value: Json) -> Matcher {
        serde_json::from_value(value).expect("valid matcher")
    }

    #[test]
    fn measured_rates_keep_three_digits_or_so() {
        assert_eq!(format_measured(31_825.21), "31825");
        assert_eq!(format_measured(149.5), "150");
        assert_eq!(format_measured(48.63), "48.6");
        assert_eq!(format_measured(20.04), "20");
        assert_eq!(format_measured(0.354), "0.35");
        assert_eq!(format_measured(0.0), "0");
    }

    #[test]
    fn scalar_means_equality_and_numbers_match_text() {
        let m = matcher(json!(200));
        assert!(m.check(Some(&json!(200))).is_ok());
        assert!(m.check(Some(&json!("200"))).is_ok());
        assert_eq!(m.check(Some(&json!(500))), Err("got 500".to_owned()));
        assert_eq!(m.check(None), Err("missing".to_owned()));
    }

    #[test]
    fn list_means_one_of() {
        let m = matcher(json!([200, 204]));
        assert!(m.check(Some(&json!(204))).is_ok());
        assert!(m.check(Some(&json!(404))).is_err());
        assert_eq!(m.to_string(), "one of [200, 204]");
    }

    #[test]
    fn map_combines_every_rule() {
        let m = matcher(json!({"min": 10, "max": "1KiB"}));
        assert!(m.check(Some(&json!(512))).is_ok());
        assert!(m.check(Some(&json!(2048))).is_err());
        assert!(m.check(Some(&json!(5))).is_err());
        assert_eq!(m.to_string(), ">= 10 and <= 1KiB");
    }

    #[test]
    fn durations_compare_in_seconds() {
        let m = matcher(json!({"max": "50ms"}));
        assert!(m.check(Some(&json!(0.012))).is_ok());
        assert!(m.check(Some(&json!(0.2))).is_err());
    }

    #[test]
    fn regex_contains_exists_and_absent() {
        assert!(
            matcher(json!({"matches": "^ok"}))
                .check(Some(&json!("okay")))
                .is_ok()
        );
        assert!(
            matcher(json!({"contains": "ea"}))
                .check(Some(&json!("healthy")))
                .is_ok()
        );
        assert!(matcher(json!({"exists": true})).check(None).is_err());
        assert!(matcher(json!({"absent": true})).check(None).is_ok());
        assert!(
            matcher(json!({"absent": true}))
                .check(Some(&json!("x")))
                .is_err()
        );
        assert!(
            matcher(json!({"ne": "down"}))
                .check(Some(&json!("up")))
                .is_ok()
        );
    }

    #[test]
    fn dotted_versions_compare_by_component() {
        let m = matcher(json!({"min": "7.0"}));
        assert!(m.check(Some(&json!("7.0.15"))).is_ok());
        assert!(m.check(Some(&json!("7.0"))).is_ok());
        assert!(m.check(Some(&json!("10.0.1"))).is_ok());
        assert_eq!(
            m.check(Some(&json!("6.2.14"))),
            Err("got \"6.2.14\"".to_owned())
        );
        assert!(m.check(Some(&json!("unknown"))).is_err());
        let m = matcher(json!({"min": "7.2.4", "max": "7.4"}));
        assert!(m.check(Some(&json!("7.2.10"))).is_ok());
        assert!(m.check(Some(&json!("7.2.3"))).is_err());
        assert!(m.check(Some(&json!("7.4.1"))).is_err());
        assert!(
            matcher(json!({"min": "1.25"}))
                .check(Some(&json!("v1.25.3-alpine")))
                .is_ok()
        );
        assert_eq!(m.to_string(), ">= 7.2.4 and <= 7.4");
        // Numbers stay numbers: 0.75 is less than 1.5, whatever its digits.
        let m = matcher(json!({"min": "1.5"}));
        assert!(m.check(Some(&json!("0.75"))).is_err());
        assert!(m.check(Some(&json!(1.75))).is_ok());
        assert_eq!(parse_version("14.10 (Debian 14.10-1)"), Some(vec![14, 10]));
        assert_eq!(parse_version("7"), None);
        assert!(serde_json::from_value::<Matcher>(json!({"min": "new"})).is_err());
    }

    #[test]
    fn rejects_unknown_matchers_and_bad_regexes() {
        let err = serde_json::from_value::<Matcher>(json!({"maxx": 1})).expect_err("unknown");
        assert!(err.to_string().contains("unknown variant `maxx`"), "{err}");
        let err = serde_json::from_value::<Matcher>(json!({"matches": "("})).expect_err("regex");
        assert_eq!(err.to_string(), "invalid regex `(`: unclosed group");
    }

    #[test]
    fn duration_bounds_are_durations_not_sizes() {
        let five_minutes = Duration::from_secs(300);
        let m = matcher(json!({"max": "5m"}));
        assert!(m.check_duration(Some(five_minutes)).is_ok());
        assert_eq!(
            m.check_duration(Some(Duration::from_secs(600))),
            Err("got 10m".to_owned())
        );
        assert!(
            matcher(json!({"min": "5m"}))
                .check_duration(Some(Duration::from_secs(60)))
                .is_err()
        );
        assert!(
            matcher(json!("5m"))
                .check_duration(Some(five_minutes))
                .is_ok()
        );
        assert!(
            matcher(json!(300))
                .check_duration(Some(five_minutes))
                .is_ok()
        );
        assert!(
            matcher(json!(["1m", "5m"]))
                .check_duration(Some(five_minutes))
                .is_ok()
        );
        assert_eq!(
            matcher(json!({"exists": true})).check_duration(None),
            Err("missing".to_owned())
        );
        assert_eq!(format_duration(Duration::from_millis(5_400_250)), "1h 30m");
    }

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2 GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("3 parsecs").is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 secs please").is_err());
        assert_eq!(format_size(1536), "1.5 KiB");
    }

    #[test]
    fn versions_compare_part_by_part_and_equality_is_a_prefix() {
        let check = |m: Json, v: &str| matcher(m).check_version(Some(v));
        assert!(check(json!({"min": "14"}), "15.4 (Debian 15.4-1)").is_ok());
        assert!(check(json!({"min": "14"}), "13.9").is_err());
        assert!(check(json!({"min": "15.9"}), "15.10").is_ok());
        assert!(check(json!({"max": "7.0"}), "7.0.15").is_err());
        assert!(check(json!({"min": 14}), "14").is_ok());
        assert!(check(json!("15"), "15.4").is_ok());
        assert!(check(json!("15"), "150.1").is_err());
        assert!(check(json!({"ne": "7"}), "7.2.4").is_err());
        assert!(check(json!(["6", "7.2"]), "7.2.4").is_ok());
        assert!(check(json!({"matches": "Debian"}), "15.4 (Debian)").is_ok());
        assert_eq!(
            check(json!({"min": "14"}), "devel"),
            Err("got \"devel\": not a version".to_owned())
        );
        assert!(matcher(json!({"min": "14"})).check_version(None).is_err());
        assert!(matcher(json!({"min": "1GiB"})).version_bounds().is_err());
        assert!(matcher(json!({"min": "v7.0"})).version_bounds().is_ok());
        assert!(check(json!({"min": "7.0.15"}), "7.0.16").is_ok());
        assert!(check(json!({"min": "7.0.15"}), "7.0.9").is_err());
        assert_eq!(parse_version("v7.0.15-rc1"), Some(vec![7, 0, 15]));
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn parses_rates_and_percentages() {
        assert_eq!(parse_rate("149/s"), Ok(149.0));
        assert_eq!(parse_rate("600/min"), Ok(10.0));
        assert_eq!(
            parse_rate("100/15m").map(|r| (r * 900.0).round()),
            Ok(100.0)
        );
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert_eq!(parse_percent("0.5 %"), Ok(0.005));
        assert!(parse_percent("150%").is_err());
        assert!(parse_percent("1").is_err());
        assert_eq!(Rate(149.0).to_string(), "149/s");
        assert_eq!(Percent(0.005).to_string(), "0.5%");
    }
}
