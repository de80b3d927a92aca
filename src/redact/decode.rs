//! A decoded view of text that holds escapes — JSON and Rust/C backslash
//! escapes (`\u0026`, `\/`, `\x41`, `\u{e9}`), percent-encoding (`%2F`, `%2f`)
//! and HTML character references (`&amp;`, `&#x2F;`) — that remembers where
//! each decoded byte came from. The redactor searches the view for a secret
//! and masks the escapes that spelt it, in whatever mix of escapes and case
//! an encoder chose, rather than listing every combination.

/// A run of the view and the input it came from.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Where the run starts in the view.
    out: usize,
    /// Where its source starts in the input.
    input: usize,
    /// The source's length; for a copied run, also the run's length.
    len: usize,
    /// Decoded from one escape (else copied byte for byte).
    escape: bool,
}

/// The decoded bytes and the map back to the input.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The text with every recognised escape decoded.
    pub bytes: Vec<u8>,
    segments: Vec<Segment>,
}

impl Decoded {
    /// Decodes `input`; `None` when it holds no escape.
    pub fn new(input: &[u8]) -> Option<Decoded> {
        if !input.iter().any(|b| matches!(b, b'\\' | b'%' | b'&')) {
            return None;
        }
        let mut d = Decoded {
            bytes: Vec::with_capacity(input.len()),
            segments: Vec::new(),
        };
        let mut copied_from = 0;
        let mut i = 0;
        let mut any = false;
        while i < input.len() {
            let decoded = match input[i] {
                b'\\' => backslash(&input[i..]),
                b'%' => percent(&input[i..]),
                b'&' => entity(&input[i..]),
                _ => None,
            };
            let Some((value, used)) = decoded else {
                i += 1;
                continue;
            };
            any = true;
            d.copy(input, copied_from, i);
            d.segments.push(Segment {
                out: d.bytes.len(),
                input: i,
                len: used,
                escape: true,
            });
            match value {
                Value::Byte(b) => d.bytes.push(b),
                Value::Char(c) => d
                    .bytes
                    .extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
            i += used;
            copied_from = i;
        }
        d.copy(input, copied_from, input.len());
        any.then_some(d)
    }

    fn copy(&mut self, input: &[u8], from: usize, to: usize) {
        if from < to {
            self.segments.push(Segment {
                out: self.bytes.len(),
                input: from,
                len: to - from,
                escape: false,
            });
            self.bytes.extend_from_slice(&input[from..to]);
        }
    }

    /// The input range that view range `start..end` (not empty) came from.
    pub fn source(&self, start: usize, end: usize) -> (usize, usize) {
        let (from, _) = self.source_of(start);
        let (_, to) = self.source_of(end.saturating_sub(1).max(start));
        (from, to)
    }

    /// The input range view byte `at` came from.
    fn source_of(&self, at: usize) -> (usize, usize) {
        let i = self
            .segments
            .partition_point(|s| s.out <= at)
            .saturating_sub(1);
        match self.segments.get(i) {
            Some(s) if s.escape => (s.input, s.input + s.len),
            Some(s) => {
                let p = s.input + (at - s.out);
                (p, p + 1)
            }
            None => (at, at + 1),
        }
    }
}

enum Value {
    Byte(u8),
    Char(char),
}

fn hex_value(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// `\uXXXX` (with surrogate pairs), `\u{X…}`, `\xNN`, `\0`, and the one-letter escapes.
fn backslash(s: &[u8]) -> Option<(Value, usize)> {
    let simple = |c: char| Some((Value::Char(c), 2));
    match *s.get(1)? {
        b'u' if s.get(2) == Some(&b'{') => {
            let close = s.iter().take(10).position(|&b| b == b'}')?;
            let c = char::from_u32(hex_value(&s[3..close])?)?;
            Some((Value::Char(c), close + 1))
        }
        b'u' => {
            let unit = hex_value(s.get(2..6)?)?;
            if (0xD800..0xDC00).contains(&unit) {
                let low = s
                    .get(6..8)
                    .filter(|p| *p == b"\\u")
                    .and_then(|_| hex_value(s.get(8..12)?))
                    .filter(|low| (0xDC00..0xE000).contains(low))?;
                let c = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?;
                return Some((Value::Char(c), 12));
            }
            Some((Value::Char(char::from_u32(unit)?), 6))
        }
        b'x' => {
            let b = u8::try_from(hex_value(s.get(2..4)?)?).ok()?;
            Some((Value::Byte(b), 4))
        }
        b'"' => simple('"'),
        b'\\' => simple('\\'),
        b'/' => simple('/'),
        b'\'' => simple('\''),
        b'b' => simple('\u{8}'),
        b'f' => simple('\u{c}'),
        b'n' => simple('\n'),
        b'r' => simple('\r'),
        b't' => simple('\t'),
        b'0' => simple('\0'),
        _ => None,
    }
}

/// `%NN`, either case.
fn percent(s: &[u8]) -> Option<(Value, usize)> {
    let b = u8::try_from(hex_value(s.get(1..3)?)?).ok()?;
    Some((Value::Byte(b), 3))
}

/// The five named XML references and numeric ones (`&#47;`, `&#x2f;`).
fn entity(s: &[u8]) -> Option<(Value, usize)> {
    let end = s.iter().take(12).position(|&b| b == b';')?;
    let name = &s[1..end];
    let c = match name {
        b"amp" => '&',
        b"lt" => '<',
        b"gt" => '>',
        b"quot" => '"',
        b"apos" => '\'',
        [b'#', b'x' | b'X', digits @ ..] => char::from_u32(hex_value(digits)?)?,
        [b'#', digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            char::from_u32(std::str::from_utf8(digits).ok()?.parse().ok()?)?
        }
        _ => return None,
    };
    Some((Value::Char(c), end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(input: &str) -> String {
        let d = Decoded::new(input.as_bytes()).expect("has escapes");
        String::from_utf8_lossy(&d.bytes).into_owned()
    }

    #[test]
    fn decodes_every_escape_family() {
        assert_eq!(view(r"a\u0026b\u003C\/\u00E9\ud83d\ude00"), "a&b</é😀");
        assert_eq!(view(r#"\"q\" \\ \x41\u{e9}"#), "\"q\" \\ Aé");
        assert_eq!(view("%2F%2b%41"), "/+A");
        assert_eq!(view("&amp;&lt;&#x2F;&#47;&quot;"), "&<//\"");
    }

    #[test]
    fn leaves_what_is_not_an_escape() {
        assert!(Decoded::new(br"\q %zz &nope; 100% \ud800 &").is_none());
        assert!(Decoded::new(b"plain").is_none());
        assert_eq!(view(r"\q %41"), r"\q A");
    }

    #[test]
    fn maps_view_ranges_back_to_the_input() {
        let input = r"xx\u0026yy%41";
        let d = Decoded::new(input.as_bytes()).expect("escapes");
        assert_eq!(d.bytes, b"xx&yyA");
        // `&yy` is the escape plus two copied bytes.
        assert_eq!(d.source(2, 5), (2, 10));
        assert_eq!(d.source(5, 6), (10, 13));
        assert_eq!(d.source(0, 1), (0, 1));
    }
}
