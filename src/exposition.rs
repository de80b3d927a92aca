//! Parser for metrics expositions: the Prometheus text format 0.0.4 and
//! OpenMetrics 1.0. Pure and streaming over lines: only the family being read
//! is held open, and every error names its line and column.

mod line;
mod rules;

use std::collections::HashSet;

use line::Cursor;

/// How strictly to read an exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// What Prometheus itself accepts: text format 0.0.4 and OpenMetrics,
    /// with comments, blank lines, `untyped`, free whitespace and an optional
    /// `# EOF`.
    #[default]
    Lenient,
    /// OpenMetrics 1.0 exactly, as its reference parser and test suite define.
    Strict,
}

/// The type a family declares with `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`: `_total` and `_created` samples.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`: `_bucket{le}`, `_count`, `_sum`, `_created`.
    Histogram,
    /// `gaugehistogram`: `_bucket{le}`, `_gcount`, `_gsum`.
    GaugeHistogram,
    /// `summary`: quantiles, `_count`, `_sum`, `_created`.
    Summary,
    /// `info`: `_info` samples of value 1.
    Info,
    /// `stateset`: one label named after the family, values 0 or 1.
    StateSet,
    /// `unknown` (or `untyped` in lenient mode), and families without `# TYPE`.
    Unknown,
}

impl MetricType {
    /// Reads a `# TYPE` value; `untyped` only in lenient mode.
    fn from_word(word: &str, mode: Mode) -> Option<Self> {
        Some(match word {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "gaugehistogram" => Self::GaugeHistogram,
            "summary" => Self::Summary,
            "info" => Self::Info,
            "stateset" => Self::StateSet,
            "unknown" => Self::Unknown,
            "untyped" if mode == Mode::Lenient => Self::Unknown,
            _ => return None,
        })
    }

    /// The suffixes its samples may add to the family name.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Self::Counter => &["_total", "_created"],
            Self::Histogram => &["_count", "_sum", "_bucket", "_created"],
            Self::GaugeHistogram => &["_gcount", "_gsum", "_bucket"],
            Self::Summary => &["_count", "_sum", "_created", ""],
            Self::Info => &["_info"],
            Self::Gauge | Self::StateSet | Self::Unknown => &[""],
        }
    }
}

/// A parsed exposition: its metric families in order of appearance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposition {
    /// The families, in order.
    pub families: Vec<Family>,
}

/// One metric family: its metadata and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family name (without sample suffixes such as `_total`).
    pub name: String,
    /// The declared type, [`MetricType::Unknown`] when undeclared.
    pub kind: MetricType,
    /// The `# HELP` text, unescaped.
    pub help: Option<String>,
    /// The `# UNIT` value.
    pub unit: Option<String>,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample name, with its suffix (`http_requests_total`, `x_bucket`).
    pub name: String,
    /// The labels in written order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value (`NaN`, `+Inf` and `-Inf` included).
    pub value: f64,
    /// The timestamp as written: seconds in OpenMetrics, milliseconds in 0.0.4.
    pub timestamp: Option<f64>,
    /// The exemplar after ` # `, if any.
    pub exemplar: Option<Exemplar>,
    /// The 1-based line it was read from.
    pub line: usize,
}

impl Sample {
    /// The value of the label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An exemplar: `# {labels} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels.
    pub labels: Vec<(String, String)>,
    /// The exemplar's value.
    pub value: f64,
    /// The exemplar's timestamp, in seconds.
    pub timestamp: Option<f64>,
}

/// Why an exposition could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            column: 1,
            message: message.into(),
        }
    }
}

/// Parses a whole exposition.
pub fn parse(text: &str, mode: Mode) -> Result<Exposition, ParseError> {
    let mut parser = Parser::new(mode);
    let mut last = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        last = index + 1;
        let mut content = raw.strip_suffix('\n').unwrap_or(raw);
        if mode == Mode::Lenient {
            content = content.strip_suffix('\r').unwrap_or(content);
        }
        parser.line(content, index + 1)?;
    }
    parser.finish(last.max(1))
}

/// The family being read, with what strict mode needs to check its grouping.
struct Open {
    family: Family,
    kind: Option<MetricType>,
    line: usize,
    group: Option<Vec<(String, String)>>,
    group_timestamp: Option<f64>,
    seen_groups: HashSet<Vec<(String, String)>>,
}

impl Open {
    fn new(name: &str, kind: Option<MetricType>, line: usize) -> Self {
        Self {
            family: Family {
                name: name.to_owned(),
                kind: kind.unwrap_or(MetricType::Unknown),
                help: None,
                unit: None,
                samples: Vec::new(),
            },
            kind,
            line,
            group: None,
            group_timestamp: None,
            seen_groups: HashSet::new(),
        }
    }

    /// Whether `sample` belongs to this family.
    fn accepts(&self, sample: &str, mode: Mode) -> bool {
        let Some(suffix) = sample.strip_prefix(self.family.name.as_str()) else {
            return false;
        };
        match self.kind {
            None => suffix.is_empty(),
            Some(kind) => {
                kind.suffixes().contains(&suffix) || (mode == Mode::Lenient && suffix.is_empty())
            }
        }
    }
}

struct Parser {
    mode: Mode,
    families: Vec<Family>,
    open: Option<Open>,
    seen_names: HashSet<String>,
    eof: bool,
}

impl Parser {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            families: Vec::new(),
            open: None,
            seen_names: HashSet::new(),
            eof: false,
        }
    }

    fn line(&mut self, text: &str, number: usize) -> Result<(), ParseError> {
        let strict = self.mode == Mode::Strict;
        if self.eof {
            if strict || !text.trim().is_empty() {
                return Err(ParseError::at(number, "text after `# EOF`"));
            }
            return Ok(());
        }
        if text.is_empty() || (!strict && text.trim().is_empty()) {
            if strict {
                return Err(ParseError::at(number, "blank line"));
            }
            return Ok(());
        }
        let is_eof = if strict {
            text == "# EOF"
        } else {
            text.trim_end() == "# EOF"
        };
        if is_eof {
            self.eof = true;
            return Ok(());
        }
        if text.starts_with('#') {
            return self.metadata(text, number);
        }
        let sample = Cursor::new(text, number, self.mode).sample()?;
        self.sample(sample)
    }

    /// Reads a `#` line: `HELP`, `TYPE` or `UNIT`; other comments only in
    /// lenient mode.
    fn metadata(&mut self, text: &str, number: usize) -> Result<(), ParseError> {
        let strict = self.mode == Mode::Strict;
        let parts = if strict {
            split_metadata_strict(text)
        } else {
            split_metadata_lenient(text)
        };
        let Some((keyword, name, value)) = parts else {
            if strict {
                return Err(ParseError::at(
                    number,
                    "expected `# HELP`, `# TYPE` or `# UNIT` with a name and a value",
                ));
            }
            return Ok(());
        };
        if !line::is_metric_name(name) {
            // `name` is a slice of `text`, so its offset is its column.
            let offset = (name.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
            return Err(ParseError {
                line: number,
                column: text.get(..offset).map_or(1, |s| s.chars().count() + 1),
                message: format!("invalid metric name `{name}`"),
            });
        }
        let same = self.open.as_ref().is_some_and(|o| o.family.name == name);
        if same {
            if strict
                && self
                    .open
                    .as_ref()
                    .is_some_and(|o| !o.family.samples.is_empty())
            {
                return Err(ParseError::at(
                    number,
                    format!("`# {keyword}` for `{name}` after its samples"),
                ));
            }
        } else {
            self.close()?;
            self.open = Some(Open::new(name, None, number));
        }
        let open = self.open.as_mut().expect("a family was just opened");
        let duplicate =
            |what: &str| ParseError::at(number, format!("more than one `# {what}` for `{name}`"));
        match keyword {
            "HELP" => {
                if strict && open.family.help.is_some() {
                    return Err(duplicate("HELP"));
                }
                open.family.help = Some(line::unescape_help(value));
            }
            "TYPE" => {
                if strict && open.kind.is_some() {
                    return Err(duplicate("TYPE"));
                }
                let kind = MetricType::from_word(value, self.mode).ok_or_else(|| {
                    ParseError::at(number, format!("unknown metric type `{value}`"))
                })?;
                open.kind = Some(kind);
                open.family.kind = kind;
            }
            _ => {
                if strict && open.family.unit.is_some() {
                    return Err(duplicate("UNIT"));
                }
                open.family.unit = Some(value.to_owned());
            }
        }
        Ok(())
    }

    fn sample(&mut self, sample: Sample) -> Result<(), ParseError> {
        let belongs = self
            .open
            .as_ref()
            .is_some_and(|o| o.accepts(&sample.name, self.mode));
        if !belongs {
            self.close()?;
            self.open = Some(Open::new(
                &sample.name,
                Some(MetricType::Unknown),
                sample.line,
            ));
        }
        let open = self.open.as_mut().expect("a family is open");
        if self.mode == Mode::Strict {
            rules::check_sample(open, &sample)?;
        }
        open.family.samples.push(sample);
        Ok(())
    }

    /// Closes the open family, checking it as a whole in strict mode.
    fn close(&mut self) -> Result<(), ParseError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        if self.mode == Mode::Strict {
            rules::check_family(&open, &mut self.seen_names)?;
        }
        self.families.push(open.family);
        Ok(())
    }

    fn finish(mut self, last_line: usize) -> Result<Exposition, ParseError> {
        self.close()?;
        if self.mode == Mode::Strict && !self.eof {
            return Err(ParseError::at(last_line, "missing `# EOF` at the end"));
        }
        Ok(Exposition {
            families: self.families,
        })
    }
}

/// Splits `# KEYWORD name value` on single spaces; the value may be empty.
fn split_metadata_strict(text: &str) -> Option<(&str, &str, &str)> {
    let rest = text.strip_prefix("# ")?;
    let (keyword, rest) = rest.split_once(' ')?;
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return None;
    }
    let (name, value) = rest.split_once(' ')?;
    Some((keyword, name, value))
}

/// Splits `#  KEYWORD  name  value` on any blanks; the value may be missing.
fn split_metadata_lenient(text: &str) -> Option<(&str, &str, &str)> {
    let blank = |c: char| c == ' ' || c == '\t';
    let rest = text.strip_prefix('#')?.trim_start_matches(blank);
    let (keyword, rest) = rest.split_once(blank)?;
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return None;
    }
    let rest = rest.trim_start_matches(blank);
    let (name, value) = rest.split_once(blank).unwrap_or((rest, ""));
    let value = value.trim_start_matches(blank);
    let value = if keyword == "HELP" {
        value
    } else {
        value.trim_end()
    };
    Some((keyword, name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_sample(text: &str, mode: Mode) -> Sample {
        let exposition = parse(text, mode).expect("parses");
        exposition.families[0].samples[0].clone()
    }

    #[test]
    fn label_value_with_brace_comma_and_hash() {
        let s = one_sample("a{x=\"} , # {\",y=\"z\"} 1\n# EOF\n", Mode::Strict);
        assert_eq!(s.label("x"), Some("} , # {"));
        assert_eq!(s.label("y"), Some("z"));
    }

    #[test]
    fn metric_name_with_colons() {
        let s = one_sample("job:requests:rate5m 3\n", Mode::Lenient);
        assert_eq!(s.name, "job:requests:rate5m");
        assert_eq!(s.value, 3.0);
    }

    #[test]
    fn label_value_escapes() {
        let s = one_sample("a{x=\"q\\\"b\\\\s\\nn\\z\"} 1\n", Mode::Lenient);
        assert_eq!(s.label("x"), Some("q\"b\\s\nn\\z"));
    }

    #[test]
    fn help_escapes() {
        let e = parse("# HELP a one\\ntwo \\\\ three\n", Mode::Lenient).expect("parses");
        assert_eq!(e.families[0].help.as_deref(), Some("one\ntwo \\ three"));
    }

    #[test]
    fn exemplar_with_timestamp() {
        let text = "# TYPE a counter\na_total 3 # {trace_id=\"abc\"} 0.5 1.25\n# EOF\n";
        let s = one_sample(text, Mode::Strict);
        let exemplar = s.exemplar.expect("has an exemplar");
        assert_eq!(exemplar.labels, vec![("trace_id".into(), "abc".into())]);
        assert_eq!(exemplar.value, 0.5);
        assert_eq!(exemplar.timestamp, Some(1.25));
    }

    #[test]
    fn float_timestamp() {
        let s = one_sample("a 1 1520879607.789\n# EOF", Mode::Strict);
        assert_eq!(s.timestamp, Some(1_520_879_607.789));
    }

    #[test]
    fn nan_and_infinities() {
        let e = parse(
            "a{x=\"1\"} NaN\na{x=\"2\"} +Inf\na{x=\"3\"} -Inf\n",
            Mode::Lenient,
        )
        .expect("parses");
        let values: Vec<f64> = e.families[0].samples.iter().map(|s| s.value).collect();
        assert!(values[0].is_nan());
        assert_eq!(values[1], f64::INFINITY);
        assert_eq!(values[2], f64::NEG_INFINITY);
    }

    #[test]
    fn error_names_line_and_column() {
        let err = parse("a 1\nb{x=1} 2\n", Mode::Lenient).expect_err("rejects");
        assert_eq!((err.line, err.column), (2, 5));
        assert_eq!(
            err.to_string(),
            "line 2, column 5: expected `\"` to open the label value"
        );
    }

    #[test]
    fn strict_requires_eof() {
        assert!(parse("a 1\n", Mode::Strict).is_err());
        assert!(parse("a 1\n", Mode::Lenient).is_ok());
    }

    #[test]
    fn lenient_accepts_untyped_comments_and_blank_lines() {
        let text = "# a comment\n\n# TYPE x untyped\nx  1   \n";
        let e = parse(text, Mode::Lenient).expect("parses");
        assert_eq!(e.families[0].kind, MetricType::Unknown);
        assert_eq!(e.families[0].samples[0].value, 1.0);
    }
}
