//! Compiler-style diagnostics for probe files: `file:line:column`, the source
//! line, a caret under the culprit and, where we can guess, "did you mean".

use std::fmt;
use std::path::{Path, PathBuf};

use super::node::Pos;

/// One problem in one probe file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The file, as given on the command line.
    pub file: PathBuf,
    /// Where in the file (line 0 when the whole file is at fault).
    pub pos: Pos,
    /// What is wrong, lowercase, names in backticks.
    pub message: String,
    /// A hint, such as "did you mean `timeout`?".
    pub help: Option<String>,
    /// The offending source line, without its line ending.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `pos` in `file`, quoting the line from `source`.
    pub fn new(file: &Path, source: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        let line = (pos.line > 0)
            .then(|| source.lines().nth(pos.line - 1))
            .flatten();
        Diagnostic::quoting(file, line, pos, message)
    }

    /// A diagnostic at `pos` in `file` quoting `line`, the source line
    /// `pos.line` (from [`Lines::get`] when there may be many diagnostics).
    pub fn quoting(
        file: &Path,
        line: Option<&str>,
        pos: Pos,
        message: impl Into<String>,
    ) -> Diagnostic {
        let message = message.into();
        let help = did_you_mean(&message);
        let source_line = line.map(|line| line.trim_end_matches('\r').to_owned());
        Diagnostic {
            file: file.to_owned(),
            pos,
            message,
            help,
            source_line,
        }
    }

    /// Adds or replaces the hint.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// `file:line:column`, the way editors and terminals link it.
    pub fn location(&self) -> String {
        if self.pos.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}", self.file.display(), self.pos)
        }
    }
}

/// The lines of a source text, found in one pass: a file with a problem in
/// every item would otherwise have each quoted line searched from the start.
pub struct Lines<'s> {
    source: &'s str,
    /// Where each line starts, and after the last `\n`.
    starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    /// Indexes the lines of `source`.
    pub fn new(source: &'s str) -> Lines<'s> {
        let breaks = source.match_indices('\n').map(|(at, _)| at + 1);
        Lines {
            source,
            starts: std::iter::once(0).chain(breaks).collect(),
        }
    }

    /// Line `number` (1-based) as `str::lines` gives it, or `None`.
    pub fn get(&self, number: usize) -> Option<&'s str> {
        let start = *self.starts.get(number.checked_sub(1)?)?;
        if start >= self.source.len() {
            return None;
        }
        Some(match self.starts.get(number) {
            Some(next) => {
                let line = &self.source[start..next - 1];
                line.strip_suffix('\r').unwrap_or(line)
            }
            None => &self.source[start..],
        })
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let gutter = self.pos.line.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(f, "{pad}--> {}", self.location())?;
        if let Some(line) = &self.source_line {
            let column = self.pos.column.max(1);
            let prefix: String = line
                .chars()
                .take(column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let width = token_width(line, column);
            writeln!(f, "{pad} |")?;
            writeln!(f, "{} | {line}", self.pos.line)?;
            writeln!(f, "{pad} | {prefix}{}", "^".repeat(width))?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// The width of the token starting at `column`: up to whitespace, `:` or `,`.
fn token_width(line: &str, column: usize) -> usize {
    let rest: String = line.chars().skip(column - 1).collect();
    let mut chars = rest.chars().peekable();
    let quote = match chars.peek() {
        Some(c @ ('"' | '\'')) => Some(*c),
        _ => None,
    };
    // A `${…}` reference is one token, colons and all.
    if rest.starts_with("${")
        && let Some(end) = rest.find('}')
    {
        return rest[..=end].chars().count();
    }
    let width = match quote {
        Some(q) => rest[1..]
            .find(q)
            .map_or(rest.chars().count(), |end| rest[..end + 2].chars().count()),
        None => rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ':' && *c != ',')
            .count(),
    };
    width.max(1)
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (and variants),
/// the closest expected name.
fn did_you_mean(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field ")
        .or_else(|| message.strip_prefix("unknown variant "))
        .or_else(|| message.strip_prefix("unknown probe kind "))?;
    let mut names = backticked(rest);
    let given = names.next()?;
    let candidates: Vec<&str> = names.collect();
    closest(given, &candidates).map(|best| format!("did you mean `{best}`?"))
}

fn backticked(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

/// The candidate nearest to `given` by edit distance, if near enough to be a typo.
pub fn closest<'c>(given: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let given = given.to_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&given, &c.to_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.chars().count().max(given.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance between two strings, in characters.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let source = "items:\n  - item: x\n    timout: 5s\n";
        let d = Diagnostic::new(
            Path::new("p.yaml"),
            source,
            Pos { line: 3, column: 5 },
            "unknown field `timout`, expected one of `item`, `probes`, `timeout`",
        );
        let text = d.to_string();
        assert_eq!(
            text,
            "error: unknown field `timout`, expected one of `item`, `probes`, `timeout`\n \
             --> p.yaml:3:5\n  |\n3 |     timout: 5s\n  |     ^^^^^^\n  = help: did you mean `timeout`?\n"
        );
    }

    #[test]
    fn indexed_lines_are_those_of_str_lines() {
        for source in [
            "",
            "\n",
            "a",
            "a\n",
            "a\n\n",
            "a\r\nb\r\n",
            "a\r",
            "\r\n\nx\r\ry",
            "é\nü",
        ] {
            let lines = Lines::new(source);
            for number in 0..6_usize {
                let expected = number.checked_sub(1).and_then(|i| source.lines().nth(i));
                assert_eq!(lines.get(number), expected, "{source:?} line {number}");
            }
        }
    }

    #[test]
    fn a_reference_is_underlined_whole() {
        assert_eq!(token_width("  x: ${env:TOKEN} y", 6), 12);
    }

    #[test]
    fn suggests_nothing_for_distant_names() {
        assert_eq!(closest("zzzzzz", &["timeout", "expect"]), None);
        assert_eq!(closest("htp", &["http", "health"]), Some("http"));
    }

    #[test]
    fn edit_distance_of_known_pairs() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }
}
