//! Text from a target on its way out: one function per output format, beside
//! redaction, so evidence stays evidence. A body that sends `ESC [2J`, a fake
//! `- [x]` line or `<script>` is shown as what it is, never obeyed by the
//! terminal, the markdown renderer or the XML parser that reads the report.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as itself: C0 controls (line breaks
/// included — every field vouch prints is one line), DEL, C1 controls, and
/// the bidirectional embeddings, overrides and isolates that reorder what
/// follows them (U+202A–U+202E, U+2066–U+2069; "Trojan Source").
pub fn is_unsafe_for_terminal(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether XML 1.0 forbids `c` anywhere in a document (its `Char`
/// production): C0 controls other than tab, LF and CR, and U+FFFE and U+FFFF.
/// Surrogates cannot occur in a Rust string.
pub fn is_forbidden_in_xml(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\u{fffe}' | '\u{ffff}')
}

/// Writes the visible form of an unsafe character: `\n`, `\r`, `\t`, `\x1b`
/// for C0 and DEL, `\u{85}` and `\u{202e}` above ASCII.
fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0'..='\x7f' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// Copies `text` only when some character needs rewriting.
fn rewrite(
    text: &str,
    needs: impl Fn(char) -> bool,
    write: impl Fn(&mut String, char),
) -> Cow<'_, str> {
    let Some(first) = text.find(&needs) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        write(&mut out, c);
    }
    Cow::Owned(out)
}

/// One line of target text for a terminal (the human report): controls and
/// bidirectional overrides written visibly (`\x1b`, `\n`, `\u{202e}`), so a
/// target can neither drive the terminal nor add lines to the report.
/// Backslashes are kept as they are: the JSON report is the exact record.
pub fn terminal(text: &str) -> Cow<'_, str> {
    rewrite(text, is_unsafe_for_terminal, |out, c| {
        if is_unsafe_for_terminal(c) {
            push_visible(out, c);
        } else {
            out.push(c);
        }
    })
}

/// Whether markdown's inline syntax gives `c` a meaning vouch escapes: HTML
/// (`<`, `>`, `&`), links and images (`[`, `]`) and code spans (`` ` ``).
fn is_markdown_syntax(c: char) -> bool {
    matches!(c, '<' | '>' | '&' | '[' | ']' | '`')
}

/// One line of target text inside a markdown line vouch writes (the evidence
/// under a checklist item): what [`terminal`] escapes, plus HTML as entities
/// (`&lt;script&gt;`) and link and code characters with a backslash. With no
/// line break and no `<` left, the text can start no list item, box, heading
/// or `<!-- vouch -->` marker of its own, and renders as written.
///
/// A backslash is doubled only where markdown would read it as an escape
/// (before punctuation, or last), so `\d+` and `\r` read as sent.
pub fn markdown(text: &str) -> Cow<'_, str> {
    let needs = |c: char| is_unsafe_for_terminal(c) || is_markdown_syntax(c) || c == '\\';
    let Some(first) = text.find(needs) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    let mut chars = text[first..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '[' | ']' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => {
                // What follows in the output starts with punctuation when
                // the next character is punctuation or gets escaped itself.
                let escapes_next = chars
                    .peek()
                    .is_none_or(|&n| n.is_ascii_punctuation() || is_unsafe_for_terminal(n));
                out.push_str(if escapes_next { "\\\\" } else { "\\" });
            }
            c if is_unsafe_for_terminal(c) => push_visible(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Target text for an XML document (JUnit): every character XML 1.0 forbids
/// becomes U+FFFD, so one stray byte cannot make a CI system drop the whole
/// report. Markup itself is escaped by the XML writer.
pub fn xml(text: &str) -> Cow<'_, str> {
    rewrite(text, is_forbidden_in_xml, |out, c| {
        out.push(if is_forbidden_in_xml(c) {
            '\u{fffd}'
        } else {
            c
        });
    })
}

/// One line of target text for HTML element content or a quoted attribute:
/// `& < > " '` as entities, controls and bidirectional overrides as for
/// [`terminal`].
pub fn html(text: &str) -> Cow<'_, str> {
    rewrite(
        text,
        |c| is_unsafe_for_terminal(c) || matches!(c, '<' | '>' | '&' | '"' | '\''),
        |out, c| match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_unsafe_for_terminal(c) => push_visible(out, c),
            c => out.push(c),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "a\x1b[2J\x1b]0;title\x07b\0c\r\n- [x] forged\u{202e}dlrow\u{2066}\u{85}\u{9b}\x7f";

    #[test]
    fn terminal_writes_controls_and_bidi_overrides_visibly() {
        assert_eq!(
            terminal(HOSTILE),
            "a\\x1b[2J\\x1b]0;title\\x07b\\x00c\\r\\n- [x] forged\\u{202e}dlrow\\u{2066}\\u{85}\\u{9b}\\x7f"
        );
        assert_eq!(terminal("tab\there"), "tab\\there");
    }

    #[test]
    fn terminal_borrows_clean_text_and_keeps_printable_unicode() {
        let clean = "GET /health → 200 in 3 ms; $.name = \"Zoë 日本\" \\d+ <b>";
        assert!(matches!(terminal(clean), Cow::Borrowed(_)));
        assert_eq!(terminal("\u{a0}\u{200f}\u{fffe}"), "\u{a0}\u{200f}\u{fffe}");
    }

    #[test]
    fn markdown_escapes_html_links_and_controls() {
        assert_eq!(
            markdown("<script>alert(1)</script> & <!-- vouch -->"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!-- vouch --&gt;"
        );
        assert_eq!(
            markdown("x\n- [x] forged\r\n# heading"),
            "x\\n- \\[x\\] forged\\r\\n# heading"
        );
        assert_eq!(
            markdown("\\![pixel](http://t/p.png) `code` \\[x]"),
            "\\\\!\\[pixel\\](http://t/p.png) \\`code\\` \\\\\\[x\\]"
        );
        // Backslashes markdown reads literally stay single.
        assert_eq!(markdown("^\\d+$ \\r\\n"), "^\\d+$ \\r\\n");
        assert_eq!(markdown("end\\"), "end\\\\");
        assert_eq!(markdown("\\\x1b"), "\\\\\\x1b");
        assert_eq!(markdown("\u{202e}"), "\\u{202e}");
    }

    #[test]
    fn markdown_output_has_no_line_break_or_angle_bracket() {
        let out = markdown(HOSTILE);
        assert!(
            !out.contains(['\n', '\r', '<', '>', '\x1b', '\u{202e}']),
            "{out}"
        );
    }

    #[test]
    fn xml_replaces_what_xml_1_0_forbids_and_keeps_the_rest() {
        assert_eq!(
            xml("a\0b\x1bc\u{fffe}d\u{ffff}e\x0b"),
            "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e\u{fffd}"
        );
        let allowed = "tab\t lf\n cr\r del\x7f c1\u{85} <&> \u{10ffff}";
        assert!(matches!(xml(allowed), Cow::Borrowed(_)));
    }

    #[test]
    fn html_escapes_markup_quotes_and_controls() {
        assert_eq!(
            html("<a href=\"x\" title='y'>&\x1b</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;\\x1b&lt;/a&gt;"
        );
    }
}
