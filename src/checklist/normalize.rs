//! Text folding for matching probe-file items to checklist items: two texts
//! that differ only in case, markdown emphasis, punctuation or spacing match.

/// Folds `text` for matching: link targets dropped (`[text](url)` keeps
/// `text`), letters lowercased, apostrophes removed (`don't` = `dont`), every
/// other run of non-alphanumeric characters (emphasis markers, backticks,
/// punctuation, emoji, whitespace) turned into one space, and the ends trimmed.
///
/// Letters of every script are kept, so non-English checklists match too.
/// Plain text and the markdown it came from fold alike:
///
/// ```text
/// **Health checks** passing (`/health`)  ->  health checks passing health
/// Health checks passing /health          ->  health checks passing health
/// ```
pub fn normalize(text: &str) -> String {
    let text = strip_link_targets(text);
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else if !is_apostrophe(c) {
            gap = true;
        }
    }
    out
}

/// Apostrophes join rather than split words, in both [`normalize`] and slugs.
pub(super) fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}')
}

/// Drops the `(destination)` of inline links and the `[label]` of reference
/// links, keeping the link text, so raw markdown folds like its plain text.
fn strip_link_targets(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut open = 0usize;
    let mut kept_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => open += 1,
            b']' if open > 0 => {
                open -= 1;
                let target_end = match bytes.get(i + 1) {
                    Some(b'(') => matching(bytes, i + 1, b'(', b')'),
                    Some(b'[') => matching(bytes, i + 1, b'[', b']'),
                    _ => None,
                };
                if let Some(end) = target_end {
                    // Only ASCII delimiters are cut at, so these are char boundaries.
                    out.push_str(text.get(kept_from..=i).unwrap_or_default());
                    i = end + 1;
                    kept_from = i;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(text.get(kept_from..).unwrap_or_default());
    out
}

/// Index of the delimiter that closes the one at `start`.
fn matching(bytes: &[u8], start: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, &b) in bytes.get(start..)?.iter().enumerate() {
        if b == open {
            depth += 1;
        } else if b == close {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(start + offset);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn folds_case_emphasis_and_code() {
        assert_eq!(
            normalize("**Dockerfile optimized** for _production_ (`multi-stage`)"),
            "dockerfile optimized for production multi stage"
        );
    }

    #[test]
    fn collapses_whitespace_and_trims() {
        assert_eq!(
            normalize("  Rate\tlimiting \r\n configured  "),
            "rate limiting configured"
        );
    }

    #[test]
    fn raw_markdown_and_plain_text_fold_alike() {
        assert_eq!(
            normalize("Health checks passing (`/health` endpoint)"),
            normalize("Health checks passing (/health endpoint)")
        );
        assert_eq!(
            normalize("See the [runbook](https://example.com/run(book)) first"),
            "see the runbook first"
        );
        assert_eq!(
            normalize("See the [runbook][ops] first"),
            "see the runbook first"
        );
    }

    #[test]
    fn keeps_brackets_that_are_not_links() {
        assert_eq!(
            normalize("Retries [optional] (max 3)"),
            "retries optional max 3"
        );
        assert_eq!(
            normalize("unclosed [link](http://x"),
            "unclosed link http x"
        );
        assert_eq!(normalize("stray ] and ["), "stray and");
    }

    #[test]
    fn drops_apostrophes_inside_words() {
        assert_eq!(normalize("Let's Encrypt"), "lets encrypt");
        assert_eq!(normalize("Don\u{2019}t panic"), "dont panic");
    }

    #[test]
    fn drops_emoji_and_symbols_keeps_other_scripts() {
        assert_eq!(normalize("✅ Coverage ≥ 80%"), "coverage 80");
        assert_eq!(
            normalize("Überprüfung der Sicherung"),
            "überprüfung der sicherung"
        );
        assert_eq!(normalize("p95 < 2ms → OK"), "p95 2ms ok");
    }

    #[test]
    fn empty_and_symbol_only_inputs_give_empty() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("*** --- !!! 🚀"), "");
    }
}
