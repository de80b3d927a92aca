//! Tokenizing one exposition line: metric names, label sets, numbers and
//! exemplars, with the byte position kept so errors can name the column.

use super::{Exemplar, Mode, ParseError, Sample};

/// The longest exemplar label set, in code points of names plus values.
const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

/// A position inside one line.
pub(super) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    mode: Mode,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(text: &'a str, line: usize, mode: Mode) -> Self {
        Self {
            text,
            pos: 0,
            line,
            mode,
        }
    }

    /// An error at the current position.
    pub(super) fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        let column = self.text.get(..pos).map_or(pos, |s| s.chars().count()) + 1;
        ParseError {
            line: self.line,
            column,
            message: message.into(),
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn is_at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}`")))
        }
    }

    fn is_blank(c: char) -> bool {
        c == ' ' || c == '\t'
    }

    /// Skips spaces and tabs, which Prometheus tolerates between tokens.
    fn skip_blanks_if_lenient(&mut self) {
        if self.mode == Mode::Lenient {
            while self.peek().is_some_and(Self::is_blank) {
                self.pos += 1;
            }
        }
    }

    /// One separator: exactly one space in strict mode, one or more blanks
    /// in lenient mode.
    fn separator(&mut self) -> Result<(), ParseError> {
        match self.mode {
            Mode::Strict => self.expect(' '),
            Mode::Lenient => {
                if !self.peek().is_some_and(Self::is_blank) {
                    return Err(self.error("expected a space"));
                }
                self.skip_blanks_if_lenient();
                Ok(())
            }
        }
    }

    /// Reads a name made of `[a-zA-Z_]` then `[a-zA-Z0-9_]`, plus `:` when
    /// `colon` (metric names allow it, label names do not).
    fn name(&mut self, colon: bool, what: &str) -> Result<&'a str, ParseError> {
        let start = self.pos;
        for (i, c) in self.rest().char_indices() {
            let ok = c.is_ascii_alphabetic()
                || c == '_'
                || (colon && c == ':')
                || (i > 0 && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos = start + i + c.len_utf8();
        }
        if self.pos == start {
            return Err(self.error(format!("expected a {what}")));
        }
        Ok(self.text.get(start..self.pos).unwrap_or(""))
    }

    /// Reads a metric name.
    pub(super) fn metric_name(&mut self) -> Result<&'a str, ParseError> {
        self.name(true, "metric name")
    }

    /// Reads up to the next separator (or the end of the line).
    fn token(&mut self) -> (usize, &'a str) {
        let start = self.pos;
        let lenient = self.mode == Mode::Lenient;
        let end = self
            .rest()
            .find(|c: char| c == ' ' || (lenient && c == '\t'))
            .map_or(self.text.len(), |i| start + i);
        self.pos = end;
        (start, self.text.get(start..end).unwrap_or(""))
    }

    /// Reads a sample or exemplar value.
    fn value(&mut self, what: &str) -> Result<f64, ParseError> {
        let (start, token) = self.token();
        parse_float(token).ok_or_else(|| self.error_at(start, format!("invalid {what} `{token}`")))
    }

    /// Reads a timestamp: any finite number.
    fn timestamp(&mut self) -> Result<f64, ParseError> {
        let (start, token) = self.token();
        parse_float(token)
            .filter(|t| t.is_finite())
            .ok_or_else(|| self.error_at(start, format!("invalid timestamp `{token}`")))
    }

    /// Reads a quoted label value, after its opening quote, resolving the
    /// escapes `\\`, `\"` and `\n`; any other backslash is kept as written.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                },
                other => out.push(other),
            }
        }
        Err(self.error_at(start.saturating_sub(1), "unterminated label value"))
    }

    /// Reads a label set after its opening `{`, through the closing `}`.
    pub(super) fn labels(&mut self) -> Result<Vec<(String, String)>, ParseError> {
        let mut labels: Vec<(String, String)> = Vec::new();
        let mut after_comma = false;
        loop {
            self.skip_blanks_if_lenient();
            if self.peek() == Some('}') {
                if after_comma && self.mode == Mode::Strict {
                    return Err(self.error("trailing comma in label set"));
                }
                self.pos += 1;
                return Ok(labels);
            }
            let start = self.pos;
            let name = self.name(false, "label name")?;
            self.skip_blanks_if_lenient();
            self.expect('=')?;
            self.skip_blanks_if_lenient();
            if !self.eat('"') {
                return Err(self.error("expected `\"` to open the label value"));
            }
            let value = self.quoted()?;
            if labels.iter().any(|(n, _)| n == name) {
                return Err(self.error_at(start, format!("duplicate label `{name}`")));
            }
            labels.push((name.to_owned(), value));
            self.skip_blanks_if_lenient();
            if self.eat(',') {
                after_comma = true;
            } else if self.peek() == Some('}') {
                after_comma = false;
            } else {
                return Err(self.error("expected `,` or `}` after a label"));
            }
        }
    }

    /// Reads a whole sample line.
    pub(super) fn sample(&mut self) -> Result<Sample, ParseError> {
        let name = self.metric_name()?.to_owned();
        let labels = if self.eat('{') {
            self.labels()?
        } else {
            Vec::new()
        };
        self.separator()?;
        let value = self.value("value")?;
        let mut sample = Sample {
            name,
            labels,
            value,
            timestamp: None,
            exemplar: None,
            line: self.line,
        };
        if self.end_or_separator()? {
            return Ok(sample);
        }
        if self.peek() != Some('#') {
            sample.timestamp = Some(self.timestamp()?);
            if self.end_or_separator()? {
                return Ok(sample);
            }
        }
        sample.exemplar = Some(self.exemplar()?);
        Ok(sample)
    }

    /// True at the end of the line (lenient mode allows trailing blanks);
    /// otherwise consumes one separator and returns false.
    fn end_or_separator(&mut self) -> Result<bool, ParseError> {
        if self.is_at_end() {
            return Ok(true);
        }
        self.separator()?;
        if self.mode == Mode::Lenient && self.is_at_end() {
            return Ok(true);
        }
        if self.is_at_end() {
            return Err(self.error("unexpected trailing space"));
        }
        Ok(false)
    }

    /// Reads `# {labels} value [timestamp]` through the end of the line.
    fn exemplar(&mut self) -> Result<Exemplar, ParseError> {
        self.expect('#')?;
        self.separator()?;
        let start = self.pos;
        self.expect('{')?;
        let labels = self.labels()?;
        let length: usize = labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum();
        if length > MAX_EXEMPLAR_LABEL_CHARS {
            return Err(self.error_at(
                start,
                format!("exemplar labels are {length} characters long, more than {MAX_EXEMPLAR_LABEL_CHARS}"),
            ));
        }
        self.separator()?;
        let value = self.value("exemplar value")?;
        let mut exemplar = Exemplar {
            labels,
            value,
            timestamp: None,
        };
        if self.end_or_separator()? {
            return Ok(exemplar);
        }
        exemplar.timestamp = Some(self.timestamp()?);
        if self.mode == Mode::Lenient {
            self.skip_blanks_if_lenient();
        }
        if !self.is_at_end() {
            return Err(self.error("unexpected text after the exemplar"));
        }
        Ok(exemplar)
    }
}

/// Parses a number as the formats write it: decimal or scientific notation,
/// `NaN`, `+Inf`, `-Inf` (hexadecimal and `_` separators are rejected).
pub(super) fn parse_float(token: &str) -> Option<f64> {
    if token.is_empty() || token.contains('_') {
        return None;
    }
    token.parse().ok()
}

/// True for a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub(super) fn is_metric_name(name: &str) -> bool {
    let mut cursor = Cursor::new(name, 0, Mode::Strict);
    cursor.metric_name().is_ok() && cursor.is_at_end()
}

/// Resolves the escapes `\\` and `\n` in HELP text; Prometheus and the
/// OpenMetrics reference parser also resolve `\"`.
pub(super) fn unescape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_reject_hex_and_underscores() {
        assert_eq!(parse_float("1.5e3"), Some(1500.0));
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_float("0x1"), None);
        assert_eq!(parse_float("1_000"), None);
        assert_eq!(parse_float(""), None);
    }

    #[test]
    fn help_keeps_unknown_escapes() {
        assert_eq!(unescape_help(r#"a\tb\\c\nd\"e"#), "a\\tb\\c\nd\"e");
    }

    #[test]
    fn strict_exemplar_needs_single_spaces() {
        let mut cursor = Cursor::new("a_total 1  # {} 1", 1, Mode::Strict);
        assert!(cursor.sample().is_err());
        let mut cursor = Cursor::new("a_total 1  # {} 1", 1, Mode::Lenient);
        assert!(cursor.sample().is_ok_and(|s| s.exemplar.is_some()));
    }

    #[test]
    fn error_column_counts_characters() {
        let mut cursor = Cursor::new("a{é=\"x\"} 1", 3, Mode::Strict);
        let err = cursor.sample().expect_err("non-ASCII label name");
        assert_eq!((err.line, err.column), (3, 3));
    }
}
