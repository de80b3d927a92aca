//! Slugs and item ids: short ASCII names that survive emoji, broken encodings
//! and punctuation, and stay the same from one run to the next.

use std::collections::HashSet;

use super::normalize::is_apostrophe;

/// The slug of `text`: ASCII letters (lowercased) and digits, with every run of
/// other characters between them turned into one `-`.
///
/// Letters outside ASCII are dropped without a separator and apostrophes are
/// dropped, so `Don't` gives `dont`. Dropping non-ASCII letters matters for
/// mojibake: `✅ Core Systems` and its Windows-1252 misreading `âœ… Core Systems`
/// both give `core-systems`. Text in other scripts may give an empty slug.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else if !(c.is_alphanumeric() || is_apostrophe(c)) {
            gap = true;
        }
    }
    out
}

/// Hands out item ids, unique within one checklist.
#[derive(Debug, Default)]
pub(super) struct Ids {
    taken: HashSet<String>,
}

impl Ids {
    /// The id for an item with this heading path and text: non-empty slugs
    /// joined by `/`, the text's slug `item` when empty; `-2`, `-3`, … appended
    /// until unused.
    pub(super) fn assign(&mut self, headings: &[String], text: &str) -> String {
        let text_slug = match slug(text) {
            s if s.is_empty() => "item".to_owned(),
            s => s,
        };
        let base = headings
            .iter()
            .map(|heading| slug(heading))
            .filter(|s| !s.is_empty())
            .chain(std::iter::once(text_slug))
            .collect::<Vec<_>>()
            .join("/");
        let mut id = base.clone();
        let mut n = 2usize;
        while self.taken.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        self.taken.insert(id.clone());
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_joins_words_with_dashes() {
        assert_eq!(slug("Docker & Containerization"), "docker-containerization");
        assert_eq!(
            slug("  **Rate Limiting** - Per-IP (10 RPS)  "),
            "rate-limiting-per-ip-10-rps"
        );
    }

    #[test]
    fn drops_emoji_and_mojibake_alike() {
        assert_eq!(slug("✅ Core Systems"), "core-systems");
        assert_eq!(slug("âœ… Core Systems"), "core-systems");
        assert_eq!(slug("ðŸš€ Quick Start"), "quick-start");
        // A byte Windows-1252 leaves undefined often survives as a C1 control.
        assert_eq!(slug("ðŸ”\u{90} Secrets"), "secrets");
    }

    #[test]
    fn drops_apostrophes_and_non_ascii_letters_without_a_gap() {
        assert_eq!(slug("Let's Encrypt"), "lets-encrypt");
        assert_eq!(slug("naïve café"), "nave-caf");
        assert_eq!(slug("日本語"), "");
    }

    #[test]
    fn ids_join_heading_slugs_and_text_slug() {
        let mut ids = Ids::default();
        let headings = ["✅ Security".to_owned(), "API".to_owned()];
        assert_eq!(
            ids.assign(&headings, "Rate limiting"),
            "security/api/rate-limiting"
        );
        assert_eq!(ids.assign(&[], "Rate limiting"), "rate-limiting");
    }

    #[test]
    fn ids_skip_empty_heading_slugs_and_name_empty_text_item() {
        let mut ids = Ids::default();
        let headings = ["🚀".to_owned(), "Deploy".to_owned()];
        assert_eq!(ids.assign(&headings, "**`***`**"), "deploy/item");
    }

    #[test]
    fn colliding_ids_get_numbered_suffixes() {
        let mut ids = Ids::default();
        assert_eq!(ids.assign(&[], "Run smoke tests"), "run-smoke-tests");
        assert_eq!(ids.assign(&[], "Run smoke tests!"), "run-smoke-tests-2");
        assert_eq!(ids.assign(&[], "run smoke tests"), "run-smoke-tests-3");
        // A text whose own slug is a suffixed id does not collide either.
        assert_eq!(ids.assign(&[], "Run smoke tests 2"), "run-smoke-tests-2-2");
    }
}
