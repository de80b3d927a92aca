//! An item's text as claims: split where it makes two checkable claims
//! ("HTTP redirects to HTTPS and HSTS is set"), and the facts of each claim —
//! methods, paths, URLs, commands, services, negation, quantities — with the
//! parent item and headings as context.

use super::numbers::{self, Quantities};
use super::services::{self, Service};

/// Where an item sits: its parent items and its headings, nearest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Parent items' texts, the nearest first.
    pub parents: Vec<String>,
    /// Headings' texts, the innermost first.
    pub headings: Vec<String>,
}

impl Context {
    /// Parents, then headings.
    pub fn texts(&self) -> Vec<String> {
        self.parents.iter().chain(&self.headings).cloned().collect()
    }
}

/// What one claim says, as the rules read it.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The claim as written (markdown stripped).
    pub text: String,
    /// The claim normalised and padded with spaces: ` health checks passing `.
    pub words: String,
    /// Parent item and headings, innermost first, each normalised and padded.
    pub context: Vec<String>,
    /// The parent item's and headings' text as written, innermost first.
    pub context_text: Vec<String>,
    /// How many entries of `context` are parent items (the rest are headings).
    pub parents: usize,
    /// The quantities in the claim.
    pub q: Quantities,
    /// Whether the claim says something must not be (`no exposed ports`, `disabled`).
    pub negated: bool,
    /// An HTTP method written in capitals (`POST /orders`); "post" the word is not one.
    pub method: Option<&'static str>,
    /// Paths in the claim (`/health`, `` `/api/v1/users` ``).
    pub paths: Vec<String>,
    /// Absolute URLs in the claim, else in its context.
    pub urls: Vec<String>,
    /// Text in backticks.
    pub code: Vec<String>,
    /// Services named in the claim, else in its context.
    pub services: Vec<&'static Service>,
}

impl Facts {
    /// The facts of `text`, with `context` (parent item, then headings, innermost first).
    pub fn new(text: &str, around: &Context) -> Facts {
        let context = around.texts();
        let context = context.as_slice();
        let words = padded(text);
        let context_words: Vec<String> = context.iter().map(|c| padded(c)).collect();
        let mut urls = urls_in(text);
        if urls.is_empty() {
            urls = context.iter().flat_map(|c| urls_in(c)).collect();
        }
        let mut services = services::named_in(&words);
        if services.is_empty()
            && let Some(s) = urls.first().and_then(|u| services::by_port(u))
        {
            services.push(s);
        }
        if services.is_empty() {
            services = context_words
                .iter()
                .map(|c| services::named_in(c))
                .find(|s| !s.is_empty())
                .unwrap_or_default();
        }
        Facts {
            text: text.to_owned(),
            q: numbers::read(text),
            negated: is_negated(&words),
            method: method_in(text),
            paths: paths_in(text),
            urls,
            code: code_in(text),
            services,
            words,
            context: context_words,
            context_text: context.to_vec(),
            parents: around.parents.len(),
        }
    }

    /// Whether the claim has one of `words` (normalised, whole words).
    pub fn has(&self, words: &[&str]) -> bool {
        has_any(&self.words, words)
    }

    /// Whether the claim or its context has one of `words`.
    pub fn has_around(&self, words: &[&str]) -> bool {
        self.has(words) || self.context.iter().any(|c| has_any(c, words))
    }

    /// The first path, if any.
    pub fn path(&self) -> Option<&str> {
        self.paths.first().map(String::as_str)
    }
}

/// ` text folded `, padded so that whole words match as ` word `.
pub fn padded(text: &str) -> String {
    format!(" {} ", crate::checklist::normalize(text))
}

/// Whether padded `text` holds one of `words` (normalised on the fly) whole.
pub fn has_any(text: &str, words: &[&str]) -> bool {
    words
        .iter()
        .any(|w| text.contains(&format!(" {} ", crate::checklist::normalize(w))))
}

/// Words that turn a claim around: it says something must not be.
const NEGATIONS: &[&str] = &[
    "no",
    "not",
    "never",
    "disabled",
    "without",
    "none",
    "nothing",
    "removed",
    "blocked",
    "closed",
    "hidden",
    "unreachable",
    "not exposed",
    "must not",
    "isnt",
    "arent",
    "doesnt",
    "dont",
    "off",
];

/// Whether padded `words` say something must not be. "No high/critical
/// issues" is a negation too; the rules decide what it means for their kind.
pub fn is_negated(words: &str) -> bool {
    has_any(words, NEGATIONS)
}

/// Splits `text` into claims at ` and `, ` + `, `; ` and ` & ` outside
/// parentheses and backticks. The caller keeps the split only when the parts
/// are different probes.
pub fn split(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut in_code = false;
    let mut start = 0;
    let mut skip_to = 0;
    for (i, c) in text.char_indices() {
        if i < skip_to {
            continue;
        }
        match c {
            '(' | '[' if !in_code => depth += 1,
            ')' | ']' if !in_code => depth -= 1,
            '`' => in_code = !in_code,
            _ => {}
        }
        if depth != 0 || in_code {
            continue;
        }
        let rest = &text[i..];
        if let Some(sep) = [" and ", " + ", "; ", " & "]
            .iter()
            .find(|s| rest.starts_with(**s))
        {
            parts.push(text[start..i].trim().to_owned());
            skip_to = i + sep.len();
            start = skip_to;
        }
    }
    parts.push(text[start..].trim().to_owned());
    parts.retain(|p| !p.is_empty());
    parts
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// An HTTP method written as one (capitals, a whole word).
fn method_in(text: &str) -> Option<&'static str> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .find_map(|w| METHODS.iter().find(|m| **m == w).copied())
}

/// Paths (`/health`, `/api/v1/users`) in the text, in order, without
/// duplicates; not the paths inside URLs, nor `50/50` or `list/read`.
pub fn paths_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| c.is_whitespace() || "`()[],\"'".contains(c)) {
        let w = w.trim_end_matches(['.', ':', ';', '!', '?']);
        if w.starts_with('/')
            && w[1..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !w.contains("://")
            && !out.iter().any(|p| p == w)
        {
            out.push(w.to_owned());
        }
    }
    out
}

/// Absolute `http(s)://` and `ws(s)://` URLs in the text.
pub fn urls_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "`()[]<>,\"'".contains(c))
        .filter(|w| {
            ["http://", "https://", "ws://", "wss://"]
                .iter()
                .any(|s| w.starts_with(s))
        })
        .map(|w| w.trim_end_matches(['.', ':', ';']).to_owned())
        .collect()
}

/// Spans in backticks, in the raw text (`display`) or the plain one.
fn code_in(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_two_claims_but_not_a_parenthesis() {
        assert_eq!(
            split("Overall coverage ≥ 80% and ≥ 90%"),
            ["Overall coverage ≥ 80%", "≥ 90%"]
        );
        assert_eq!(
            split("HTTP redirects to HTTPS and HSTS is set"),
            ["HTTP redirects to HTTPS", "HSTS is set"]
        );
        assert_eq!(
            split("Security headers (HSTS and CSP)"),
            ["Security headers (HSTS and CSP)"]
        );
        assert_eq!(
            split("gated by auth + audit logging"),
            ["gated by auth", "audit logging"]
        );
    }

    #[test]
    fn methods_only_in_capitals() {
        assert_eq!(method_in("POST `/api/v1/executions` runs it"), Some("POST"));
        assert_eq!(method_in("post the results to the channel"), None);
    }

    #[test]
    fn paths_urls_and_negations() {
        assert_eq!(paths_in("`/health` and `/ready`"), ["/health", "/ready"]);
        assert!(paths_in("50/50 split, list/read").is_empty());
        assert!(paths_in("UI at http://localhost:16686/search").is_empty());
        assert_eq!(
            urls_in("UP at http://localhost:9090/targets"),
            ["http://localhost:9090/targets"]
        );
        assert!(is_negated(&padded(
            "Network security (firewall, no exposed ports)"
        )));
        assert!(is_negated(&padded("Debug endpoints disabled")));
        assert!(!is_negated(&padded("Notes on the node")));
    }

    #[test]
    fn services_from_the_claim_or_its_context() {
        let f = Facts::new(
            "UI accessible at http://localhost:16686",
            &Context::default(),
        );
        assert_eq!(f.services.first().map(|s| s.name), Some("jaeger"));
        let f = Facts::new(
            "Traces visible",
            &Context {
                parents: vec![],
                headings: vec!["Tracing (Jaeger)".into()],
            },
        );
        assert_eq!(f.services.first().map(|s| s.name), Some("jaeger"));
    }
}
