//! The checks `promtool check metrics` makes, each its own rule: counters
//! end in `_total`, every family has HELP, names use base units and
//! snake_case; and two it does not: no series repeats, and histogram buckets
//! are ordered and end in `+Inf`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::quantile::parse_le;
use super::select::show_sample;
use crate::exposition::{Exposition, MetricType};

/// One lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Counters end in `_total`; nothing else does.
    CounterTotal,
    /// Every family has `# HELP`.
    Help,
    /// Names use base units: `seconds`, not `milliseconds`; `bytes`, not `kilobytes`.
    BaseUnits,
    /// Metric and label names are snake_case, not camelCase.
    SnakeCase,
    /// No series (name and label set) appears twice.
    UniqueSeries,
    /// Histogram buckets: `le` numeric and ascending, counts not falling, a `+Inf` bucket.
    Buckets,
}

/// Every rule, in the order checks are reported.
pub const RULES: [Rule; 6] = [
    Rule::CounterTotal,
    Rule::Help,
    Rule::BaseUnits,
    Rule::SnakeCase,
    Rule::UniqueSeries,
    Rule::Buckets,
];

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::CounterTotal => "counter_total",
            Rule::Help => "help",
            Rule::BaseUnits => "base_units",
            Rule::SnakeCase => "snake_case",
            Rule::UniqueSeries => "unique_series",
            Rule::Buckets => "buckets",
        })
    }
}

/// `lint: true` (every rule), `lint: false`, or a list of rules.
#[derive(Debug, Clone, Default)]
pub struct LintExpect(pub Vec<Rule>);

impl<'de> Deserialize<'de> for LintExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LintExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`true`, `false`, or a list of lint rules (`counter_total`, `help`, `base_units`, `snake_case`, `unique_series`, `buckets`)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LintExpect, E> {
                Ok(LintExpect(if v { RULES.to_vec() } else { Vec::new() }))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LintExpect, A::Error> {
                let mut rules = Vec::new();
                while let Some(rule) = seq.next_element::<Rule>()? {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
                Ok(LintExpect(rules))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for LintExpect {
    fn schema_name() -> Cow<'static, str> {
        "LintExpect".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "`true` for every rule, or a list of rules.",
            "anyOf": [
                {"type": "boolean"},
                {"type": "array", "items": {"enum": ["counter_total", "help", "base_units", "snake_case", "unique_series", "buckets"]}}
            ]
        })
    }
}

/// The problems one rule finds, each naming its line.
pub fn problems(rule: Rule, exposition: &Exposition) -> Vec<String> {
    let mut found = Found::keeping(usize::MAX);
    find(rule, exposition, &mut found);
    found.first
}

/// How many problems one rule finds, and the first `keep` of them: an
/// exposition of a million bad series never becomes a million strings.
pub fn count_problems(rule: Rule, exposition: &Exposition, keep: usize) -> Found {
    let mut found = Found::keeping(keep);
    find(rule, exposition, &mut found);
    found
}

/// Problems found: all counted, the first few spelled out.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// How many.
    pub count: usize,
    /// The first ones, each naming its line.
    pub first: Vec<String>,
    keep: usize,
}

impl Found {
    fn keeping(keep: usize) -> Found {
        Found {
            keep,
            ..Found::default()
        }
    }

    /// Counts a problem, spelling it out only while there is room.
    fn push(&mut self, problem: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.len() < self.keep {
            self.first.push(problem());
        }
    }
}

fn find(rule: Rule, exposition: &Exposition, found: &mut Found) {
    match rule {
        Rule::CounterTotal => counter_total(exposition, found),
        Rule::Help => help(exposition, found),
        Rule::BaseUnits => base_units(exposition, found),
        Rule::SnakeCase => snake_case(exposition, found),
        Rule::UniqueSeries => unique_series(exposition, found),
        Rule::Buckets => buckets(exposition, found),
    }
}

fn counter_total(exposition: &Exposition, found: &mut Found) {
    for family in &exposition.families {
        let is_counter = family.kind == MetricType::Counter;
        let offending = family.samples.iter().find(|s| {
            let total = s.name.ends_with("_total");
            if is_counter {
                !total && !s.name.ends_with("_created")
            } else {
                total
            }
        });
        if let Some(sample) = offending {
            found.push(|| {
                if is_counter {
                    format!(
                        "line {}: counter `{}` does not end in `_total`",
                        sample.line, sample.name
                    )
                } else {
                    format!(
                        "line {}: `{}` ends in `_total` but is not a counter",
                        sample.line, sample.name
                    )
                }
            });
        }
    }
}

fn help(exposition: &Exposition, found: &mut Found) {
    for f in exposition
        .families
        .iter()
        .filter(|f| f.help.as_deref().is_none_or(|h| h.trim().is_empty()))
    {
        found.push(|| match f.samples.first() {
            Some(s) => format!("line {}: `{}` has no HELP", s.line, f.name),
            None => format!("`{}` has no HELP", f.name),
        });
    }
}

/// Unit prefixes promlint objects to in front of a base unit.
const PREFIXES: &[&str] = &[
    "nano", "micro", "milli", "centi", "deci", "kilo", "mega", "giga", "tera", "peta",
];

/// Base units promlint knows, and what it asks for instead of a prefixed one.
const BASES: &[(&str, &str)] = &[
    ("seconds", "seconds"),
    ("meters", "meters"),
    ("grams", "grams"),
    ("volts", "volts"),
    ("amperes", "amperes"),
    ("joules", "joules"),
    ("bytes", "bytes"),
    ("bits", "bytes"),
];

/// Whole words that are not base units, as `promtool check metrics` reports them.
const NON_BASE_WORDS: &[(&str, &str)] = &[
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("bits", "bytes"),
    ("fahrenheit", "celsius"),
    ("kibibytes", "bytes"),
    ("gibibytes", "bytes"),
    ("tebibytes", "bytes"),
    ("pebibytes", "bytes"),
];

/// The base unit to use instead of `word`, if `word` is a non-base unit.
fn base_unit_for(word: &str) -> Option<&'static str> {
    if let Some((_, base)) = NON_BASE_WORDS.iter().find(|(w, _)| *w == word) {
        return Some(base);
    }
    PREFIXES.iter().find_map(|prefix| {
        let unit = word.strip_prefix(prefix)?;
        BASES
            .iter()
            .find(|(b, _)| *b == unit)
            .map(|(_, base)| *base)
    })
}

fn base_units(exposition: &Exposition, found: &mut Found) {
    for family in &exposition.families {
        let unit = family
            .name
            .split('_')
            .find_map(|word| base_unit_for(word).map(|base| (word, base)));
        if let Some((word, base)) = unit {
            let line = family.samples.first().map_or(0, |s| s.line);
            found.push(|| {
                format!(
                    "line {line}: `{}`: use the base unit `{base}`, not `{word}`",
                    family.name
                )
            });
        }
    }
}

/// camelCase as promlint sees it: a lowercase letter followed by an uppercase one
/// (`MemFree` is, `TCP_mem` and `Active_anon` are not).
fn is_camel_case(name: &str) -> bool {
    name.as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

fn snake_case(exposition: &Exposition, found: &mut Found) {
    for family in &exposition.families {
        let line = family.samples.first().map_or(0, |s| s.line);
        if is_camel_case(&family.name) {
            found.push(|| format!("line {line}: `{}` is not snake_case", family.name));
            continue;
        }
        let camel = family.samples.iter().find_map(|s| {
            s.labels
                .iter()
                .find(|(k, _)| is_camel_case(k))
                .map(|(k, _)| (s.line, k))
        });
        if let Some((line, label)) = camel {
            found.push(|| {
                format!(
                    "line {line}: label `{label}` of `{}` is not snake_case",
                    family.name
                )
            });
        }
    }
}

/// Label pairs borrowed from a sample.
type LabelRefs<'a> = Vec<(&'a str, &'a str)>;

fn unique_series(exposition: &Exposition, found: &mut Found) {
    let mut seen: HashMap<(&str, LabelRefs), usize> = HashMap::new();
    for family in &exposition.families {
        for sample in &family.samples {
            let mut labels: Vec<(&str, &str)> = sample
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            labels.sort_unstable();
            if let Some(first) = seen.insert((sample.name.as_str(), labels), sample.line) {
                found.push(|| {
                    format!(
                        "line {}: `{}` repeats the series of line {first}",
                        sample.line,
                        show_sample(sample)
                    )
                });
            }
        }
    }
}

fn buckets(exposition: &Exposition, found: &mut Found) {
    for family in &exposition.families {
        if !matches!(
            family.kind,
            MetricType::Histogram | MetricType::GaugeHistogram
        ) {
            continue;
        }
        let bucket_name = format!("{}_bucket", family.name);
        // Per series (labels but `le`): the last bound and count, and the line.
        let mut series: BTreeMap<LabelRefs, (f64, f64, usize)> = BTreeMap::new();
        for sample in family.samples.iter().filter(|s| s.name == bucket_name) {
            let key: LabelRefs = sample
                .labels
                .iter()
                .filter(|(k, _)| k != "le")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let Some(le) = sample.label("le").and_then(parse_le) else {
                found.push(|| {
                    format!(
                        "line {}: `{}` has no numeric `le`",
                        sample.line, sample.name
                    )
                });
                continue;
            };
            if let Some(&(last_le, last_count, _)) = series.get(&key) {
                if le <= last_le {
                    found.push(|| {
                        format!(
                            "line {}: `le` {} does not follow {} in ascending order",
                            sample.line,
                            sample.label("le").unwrap_or(""),
                            last_le
                        )
                    });
                } else if sample.value < last_count {
                    found.push(|| {
                        format!(
                            "line {}: bucket count {} is below the previous bucket's {}",
                            sample.line, sample.value, last_count
                        )
                    });
                }
            }
            series.insert(key, (le, sample.value, sample.line));
        }
        for (key, (last_le, _, line)) in &series {
            if *last_le != f64::INFINITY {
                let labels: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                found.push(|| {
                    format!(
                        "line {line}: `{}{{{}}}` has no `+Inf` bucket",
                        family.name,
                        labels.join(",")
                    )
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Mode, parse};

    fn lint(rule: Rule, text: &str) -> Vec<String> {
        problems(rule, &parse(text, Mode::Lenient).expect("parses"))
    }

    #[test]
    fn a_counter_without_total_and_a_gauge_with_it() {
        let found = lint(
            Rule::CounterTotal,
            "# TYPE requests counter\nrequests 1\n# TYPE open_total gauge\nopen_total 2\n# TYPE ok_total counter\nok_total 3\n",
        );
        assert_eq!(
            found,
            vec![
                "line 2: counter `requests` does not end in `_total`",
                "line 4: `open_total` ends in `_total` but is not a counter"
            ]
        );
    }

    #[test]
    fn help_and_units() {
        let text = "# HELP a_seconds A.\na_seconds 1\nlatency_milliseconds 2\n";
        assert_eq!(
            lint(Rule::Help, text),
            vec!["line 3: `latency_milliseconds` has no HELP"]
        );
        assert_eq!(
            lint(Rule::BaseUnits, text),
            vec!["line 3: `latency_milliseconds`: use the base unit `seconds`, not `milliseconds`"]
        );
    }

    #[test]
    fn duplicate_series_regardless_of_label_order() {
        let found = lint(
            Rule::UniqueSeries,
            "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 1\na{x=\"2\"} 1\n",
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("line 2:"), "{found:?}");
    }

    #[test]
    fn unordered_falling_and_unterminated_buckets() {
        let text = "\
# TYPE h histogram
h_bucket{le=\"1\"} 5
h_bucket{le=\"0.5\"} 6
h_bucket{le=\"2\"} 4
h_count 4
";
        let found = lint(Rule::Buckets, text);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("ascending"), "{found:?}");
        assert!(found[1].contains("below"), "{found:?}");
        assert!(found[2].contains("no `+Inf` bucket"), "{found:?}");
    }
}
