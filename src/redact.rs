//! Redaction: secrets never leave vouch. Secret values (see
//! [`crate::spec::vars`] for which), credential headers and credentials in
//! URLs become `«redacted»` in every summary, check and evidence record
//! before any report sees them — in every spelling a target may echo them:
//! JSON escapes, percent-encoding, HTML references, hex and base64 (see
//! [`spellings`]).

mod decode;
pub mod spellings;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;

use decode::Decoded;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "«redacted»";

/// Secrets shorter than this are not masked: masking `1` or `on` everywhere
/// would garble reports, and such values protect nothing.
pub const MIN_SECRET_LEN: usize = 4;

/// The mark of a cut excerpt (see [`crate::expect::excerpt`]).
const CUT: &str = "…";

/// Above this many bytes of spellings the matcher is an NFA, not a DFA.
const DFA_MAX_PATTERN_BYTES: usize = 4 * 1024;

/// Header names whose values are always redacted (compared case-insensitively).
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
];

/// Endings of header names that carry credentials (`X-Vault-Token`,
/// `X-Goog-Api-Key`, `Client-Secret`), compared case-insensitively.
const CREDENTIAL_HEADER_ENDINGS: &[&str] =
    &["-token", "-api-key", "-apikey", "-secret", "-password"];

/// Whether a header's value must never be shown.
pub fn is_credential_header(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || CREDENTIAL_HEADER_ENDINGS.iter().any(|end| {
            name.len() > end.len()
                && name
                    .get(name.len() - end.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(end))
        })
}

/// Query parameters whose values are credentials (compared case-insensitively).
pub const TOKEN_PARAMS: &[&str] = &[
    "access_token",
    "id_token",
    "refresh_token",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "key",
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "sig",
    "signature",
    "auth",
];

/// Whether a query parameter's value must never be shown.
pub fn is_token_param(name: &str) -> bool {
    TOKEN_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Setting keys whose (scalar) value is a credential, besides the
/// credential headers: `bearer:`, `password:` and the like.
const CREDENTIAL_SETTINGS: &[&str] = &[
    "bearer",
    "password",
    "passwd",
    "pwd",
    "token",
    "secret",
    "client_secret",
    "access_token",
    "api_key",
    "apikey",
];

/// Whether the scalar value of a probe-file key is a credential.
pub fn is_credential_setting(key: &str) -> bool {
    is_credential_header(key)
        || CREDENTIAL_SETTINGS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
}

/// Records the credentials a URL written in a probe file carries: the
/// userinfo's password (and the Basic `user:password` pair) and the values
/// of token-like query parameters, in absolute URLs and in `/path?query`.
pub fn add_url_credentials(text: &str, secrets: &mut Secrets) {
    if !text.contains('@') && !text.contains('?') {
        return;
    }
    for word in text.split_whitespace() {
        // The scheme starts after the last character that cannot be in one
        // (which may be several bytes long: `Ӟttp://…`).
        let scheme_start = word.find("://").map(|end| {
            word[..end]
                .char_indices()
                .rfind(|&(_, c)| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
                .map_or(0, |(i, c)| i + c.len_utf8())
        });
        if let Some(start) = scheme_start
            && let Ok(url) = url::Url::parse(&word[start..])
            && let Some(password) = url.password()
        {
            // The URL keeps the password percent-encoded; it travels decoded.
            let query = format!("p={}", password.replace('+', "%2B"));
            let decoded = url::form_urlencoded::parse(query.as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let user = url.username();
            secrets.add_pair(user, password);
            secrets.add_pair(user, &decoded);
        }
        if let Some((_, query)) = word.split_once('?') {
            let query = query.split('#').next().unwrap_or_default();
            for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
                if is_token_param(&name) {
                    secrets.add(&value);
                }
            }
        }
    }
}

/// Why a variable's value is a secret, for `vouch check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretSource {
    /// Read with `${secret:NAME}`.
    SecretRef,
    /// Read with `${env:NAME}`, and NAME says credential (`API_TOKEN`).
    NameSaysCredential,
    /// Read with `${env:NAME}` into a credential (a password, an
    /// `Authorization` header, URL userinfo…).
    UsedAsCredential,
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecretSource::SecretRef => "secret:",
            SecretSource::NameSaysCredential => "env, name says credential",
            SecretSource::UsedAsCredential => "env, used as a credential",
        })
    }
}

/// The set of secret values collected while loading probe files, and the
/// names of the variables they came from.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: BTreeSet<String>,
    variables: BTreeMap<String, SecretSource>,
}

impl Secrets {
    /// Records a secret value (ignored when too short to matter). Its
    /// spellings are derived when a [`Redactor`] is built.
    pub fn add(&mut self, value: &str) {
        if value.chars().count() < MIN_SECRET_LEN {
            return;
        }
        self.values.insert(value.to_owned());
    }

    /// Records an HTTP Basic pair: the password, and `user:password` (whose
    /// base64 is what travels).
    pub fn add_pair(&mut self, user: &str, password: &str) {
        self.add(password);
        if !password.is_empty() {
            self.add(&format!("{user}:{password}"));
        }
    }

    /// Records that variable `name` holds a secret, and why (the first
    /// reason given is kept).
    pub fn add_variable(&mut self, name: &str, source: SecretSource) {
        self.variables.entry(name.to_owned()).or_insert(source);
    }

    /// The variables whose values are secrets, by name.
    pub fn variables(&self) -> impl Iterator<Item = (&str, SecretSource)> {
        self.variables.iter().map(|(n, s)| (n.as_str(), *s))
    }

    /// Whether `value` was recorded.
    pub fn contains(&self, value: &str) -> bool {
        self.values.contains(value)
    }

    /// Adds every secret of `other`.
    pub fn extend(&mut self, other: &Secrets) {
        self.values.extend(other.values.iter().cloned());
        for (name, source) in &other.variables {
            self.add_variable(name, *source);
        }
    }

    /// Whether no secret was recorded.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Applies every redaction rule to text, bytes and JSON records.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every spelling of every secret, longest first (for cut excerpts).
    spellings: Vec<String>,
    /// Finds any spelling, the longest at a position winning. Built when
    /// first needed: a redactor that sees a few short texts (the
    /// diagnostics of a probe file that did not load) scans them instead.
    matcher: OnceLock<Option<AhoCorasick>>,
    /// Short inputs scanned without the matcher so far.
    scans: Scans,
}

/// Inputs up to this many bytes may be scanned spelling by spelling.
const SCANNED_BYTES: usize = 512;
/// After this many scans the matcher is built (a run redacts much more).
const SCANS_BEFORE_MATCHER: usize = 32;

/// A count that a clone of its redactor starts from.
#[derive(Debug, Default)]
struct Scans(AtomicUsize);

impl Clone for Scans {
    fn clone(&self) -> Scans {
        Scans(AtomicUsize::new(self.0.load(Ordering::Relaxed)))
    }
}

static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@").expect("static regex is valid")
});

static AUTH_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(basic|bearer|token)(\s+)([A-Za-z0-9._~+/=-]{8,})")
        .expect("static regex is valid")
});

/// Whether a word after `Basic`/`Bearer` looks like a credential, not prose:
/// it has a digit, a symbol or an inner capital.
fn looks_like_token(word: &str) -> bool {
    word.chars()
        .any(|c| c.is_ascii_digit() || "._~+/=-".contains(c))
        || word.chars().skip(1).any(|c| c.is_ascii_uppercase())
}

static URL_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)([?&](?:access_token|id_token|token|api_key|apikey|api-key|key|password|passwd|pwd|secret|client_secret|sig|signature|auth)=)[^&\s#]+",
    )
    .expect("static regex is valid")
});

impl Redactor {
    /// A redactor for the given secrets.
    pub fn new(secrets: &Secrets) -> Redactor {
        let mut all = BTreeSet::new();
        for value in &secrets.values {
            all.extend(spellings::spellings(value));
        }
        let mut spellings: Vec<String> = all.into_iter().filter(|s| !s.is_empty()).collect();
        spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor {
            spellings,
            matcher: OnceLock::new(),
            scans: Scans::default(),
        }
    }

    /// The matcher over every spelling, built on first use; `None` when
    /// there is no spelling or it could not be built (then inputs are
    /// scanned).
    fn matcher(&self) -> Option<&AhoCorasick> {
        self.matcher
            .get_or_init(|| {
                if self.spellings.is_empty() {
                    return None;
                }
                // A DFA searches fastest but costs time and memory per state
                // times byte class to build: past a few KiB of spellings (a
                // long value in a credential position) the NFA is built in
                // linear time and searches almost as fast.
                let total: usize = self.spellings.iter().map(String::len).sum();
                let kind =
                    (total > DFA_MAX_PATTERN_BYTES).then_some(AhoCorasickKind::ContiguousNFA);
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(kind)
                    .build(&self.spellings)
                    .ok()
            })
            .as_ref()
    }

    /// Every spelling in `input`, leftmost first and the longest at a
    /// position winning (as the matcher's leftmost-longest search).
    fn matches(&self, input: &[u8]) -> Vec<(usize, usize)> {
        if self.spellings.is_empty() {
            return Vec::new();
        }
        let scan = self.matcher.get().is_none()
            && input.len() <= SCANNED_BYTES
            && self.scans.0.fetch_add(1, Ordering::Relaxed) < SCANS_BEFORE_MATCHER;
        if scan {
            return self.scan(input);
        }
        match self.matcher() {
            Some(matcher) => matcher
                .find_iter(input)
                .map(|m| (m.start(), m.end()))
                .collect(),
            None => self.scan(input),
        }
    }

    /// [`Redactor::matches`] without the matcher: at each position the
    /// first (so longest) spelling that starts there.
    fn scan(&self, input: &[u8]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut at = 0;
        while at < input.len() {
            let rest = &input[at..];
            match self
                .spellings
                .iter()
                .find(|s| rest.starts_with(s.as_bytes()))
            {
                Some(s) => {
                    found.push((at, at + s.len()));
                    at += s.len();
                }
                None => at += 1,
            }
        }
        found
    }

    /// Redacts secrets and URL credentials in free text.
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        if let Some(masked) = self.mask_spellings(text.as_bytes(), true) {
            // Spans were widened to character boundaries and `«redacted»` is
            // UTF-8: the result is valid, the lossy path never taken.
            out = Cow::Owned(String::from_utf8_lossy(&masked).into_owned());
        }
        if out.contains("://")
            && out.contains('@')
            && let Cow::Owned(s) = URL_USERINFO.replace_all(&out, format!("${{1}}{REDACTED}@"))
        {
            out = Cow::Owned(s);
        }
        if AUTH_TOKEN.is_match(&out) {
            let replaced = AUTH_TOKEN.replace_all(&out, |c: &regex::Captures<'_>| {
                if looks_like_token(&c[3]) {
                    format!("{}{}{REDACTED}", &c[1], &c[2])
                } else {
                    c[0].to_owned()
                }
            });
            if let Cow::Owned(s) = replaced {
                out = Cow::Owned(s);
            }
        }
        if out.contains('=')
            && (out.contains('?') || out.contains('&'))
            && let Cow::Owned(s) = URL_TOKEN.replace_all(&out, format!("${{1}}{REDACTED}"))
        {
            out = Cow::Owned(s);
        }
        if !self.spellings.is_empty()
            && out.contains(CUT)
            && let Some(s) = self.mask_cut_secrets(&out)
        {
            out = Cow::Owned(s);
        }
        out
    }

    /// Redacts every spelling of a secret in raw bytes (a TCP reply, a
    /// binary WebSocket frame) before they are escaped or encoded for
    /// evidence: once encoded, the secret's spelling depends on its
    /// alignment in the encoding.
    pub fn bytes<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        match self.mask_spellings(bytes, false) {
            Some(masked) => Cow::Owned(masked),
            None => Cow::Borrowed(bytes),
        }
    }

    /// Where a spelling of a secret is in raw bytes: sorted, disjoint
    /// ranges, for a caller that escapes bytes itself (`\xNN`) and writes
    /// [`REDACTED`] in their place.
    pub fn spans(&self, bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut spans = self.find_spans(bytes);
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (a, b) in spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
    }

    /// Every spelling found as written, then every spelling found in the
    /// decoded view (two levels deep: JSON inside JSON, `\\x41` from a
    /// debug-printed escape); the ranges may overlap.
    fn find_spans(&self, input: &[u8]) -> Vec<(usize, usize)> {
        if self.spellings.is_empty() {
            return Vec::new();
        }
        let mut spans = self.matches(input);
        if let Some(first) = Decoded::new(input) {
            for (start, end) in self.matches(&first.bytes) {
                spans.push(first.source(start, end));
            }
            if let Some(second) = Decoded::new(&first.bytes) {
                for (start, end) in self.matches(&second.bytes) {
                    let (a, b) = second.source(start, end);
                    spans.push(first.source(a, b));
                }
            }
        }
        spans
    }

    /// `input` with every spelling of a secret replaced by [`REDACTED`];
    /// `None` when there was none. For text, ranges are widened to whole
    /// characters.
    fn mask_spellings(&self, input: &[u8], text: bool) -> Option<Vec<u8>> {
        let mut spans = self.find_spans(input);
        if spans.is_empty() {
            return None;
        }
        if text {
            for (a, b) in &mut spans {
                while *a > 0 && !is_char_start(input, *a) {
                    *a -= 1;
                }
                while *b < input.len() && !is_char_start(input, *b) {
                    *b += 1;
                }
            }
        }
        spans.sort_unstable();
        let mut out = Vec::with_capacity(input.len());
        let mut at = 0;
        for (a, b) in spans {
            if b <= at {
                continue;
            }
            if a >= at {
                out.extend_from_slice(&input[at..a]);
                out.extend_from_slice(REDACTED.as_bytes());
            }
            at = b;
        }
        out.extend_from_slice(&input[at.min(input.len())..]);
        Some(out)
    }

    /// Masks what is left of a secret where an excerpt cut it: the start of
    /// a secret just before `…`, or its end just after.
    fn mask_cut_secrets(&self, text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut pieces = text.split(CUT).peekable();
        let mut first = true;
        while let Some(piece) = pieces.next() {
            let mut piece = Cow::Borrowed(piece);
            if !first && let Some(end) = self.cut_suffix_len(&piece) {
                piece = Cow::Owned(format!("{REDACTED}{}", &piece[end..]));
                changed = true;
            }
            if pieces.peek().is_some()
                && let Some(start) = self.cut_prefix_start(&piece)
            {
                piece = Cow::Owned(format!("{}{REDACTED}", &piece[..start]));
                changed = true;
            }
            if !first {
                out.push_str(CUT);
            }
            out.push_str(&piece);
            first = false;
        }
        changed.then_some(out)
    }

    /// Where the longest start of a secret (at least [`MIN_SECRET_LEN`]
    /// characters, not the whole secret) that ends `text` begins.
    fn cut_prefix_start(&self, text: &str) -> Option<usize> {
        self.spellings
            .iter()
            .filter(|secret| {
                // Cheap test first: the secret's head is near the end of `text`.
                let head = first_chars(secret, MIN_SECRET_LEN);
                let mut from = text.len().saturating_sub(secret.len());
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                text[from..].contains(head)
            })
            .filter_map(|secret| {
                secret
                    .char_indices()
                    .skip(MIN_SECRET_LEN)
                    .map(|(i, _)| &secret[..i])
                    .filter(|start| text.ends_with(start))
                    .map(|start| text.len() - start.len())
                    .min()
            })
            .min()
    }

    /// How long the longest end of a secret (at least [`MIN_SECRET_LEN`]
    /// characters, not the whole secret) that starts `text` is.
    fn cut_suffix_len(&self, text: &str) -> Option<usize> {
        let head = first_chars(text, MIN_SECRET_LEN);
        if head.chars().count() < MIN_SECRET_LEN {
            return None;
        }
        self.spellings
            .iter()
            // Cheap test first: the start of `text` is inside the secret.
            .filter(|secret| secret.contains(head))
            .filter_map(|secret| {
                secret
                    .char_indices()
                    .skip(1)
                    .map(|(i, _)| &secret[i..])
                    .filter(|end| end.chars().count() >= MIN_SECRET_LEN && text.starts_with(end))
                    .map(str::len)
                    .max()
            })
            .max()
    }

    /// Redacts a string in place.
    pub fn string(&self, text: &mut String) {
        if let Cow::Owned(s) = self.text(text) {
            *text = s;
        }
    }

    /// Redacts a JSON record in place: every string, and the whole value of
    /// any key named like a credential header.
    pub fn json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => self.string(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if is_credential_header(key) {
                        *v = serde_json::Value::String(REDACTED.to_owned());
                    } else {
                        self.json(v);
                    }
                }
                // A target may echo a secret as a header or field name too.
                if !self.spellings.is_empty()
                    && map.keys().any(|k| matches!(self.text(k), Cow::Owned(_)))
                {
                    let entries = std::mem::take(map);
                    for (key, v) in entries {
                        map.insert(self.text(&key).into_owned(), v);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The first `n` characters of `text` (all of it when shorter).
fn first_chars(text: &str, n: usize) -> &str {
    text.char_indices().nth(n).map_or(text, |(i, _)| &text[..i])
}

/// Whether `at` starts a UTF-8 character (or is the end).
fn is_char_start(bytes: &[u8], at: usize) -> bool {
    bytes.get(at).is_none_or(|&b| (b as i8) >= -0x40)
}

/// The run's secrets, growing while it runs: values learnt from the
/// target (a captured session token, an OAuth2 access token) join the
/// secrets of the probe files. Readers take the current [`Redactor`];
/// adding rebuilds it once per new value.
#[derive(Debug, Default)]
pub struct RunSecrets {
    state: std::sync::Mutex<(Secrets, std::sync::Arc<Redactor>)>,
    grew: std::sync::atomic::AtomicBool,
}

impl RunSecrets {
    /// The run's secrets, starting with those of the probe files.
    pub fn new(secrets: &Secrets) -> RunSecrets {
        RunSecrets {
            state: std::sync::Mutex::new((
                secrets.clone(),
                std::sync::Arc::new(Redactor::new(secrets)),
            )),
            grew: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Adds a secret learnt at run time (ignored when known or too short).
    pub fn add(&self, value: &str) {
        if value.chars().count() < MIN_SECRET_LEN {
            return;
        }
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.0.contains(value) {
            return;
        }
        state.0.add(value);
        state.1 = std::sync::Arc::new(Redactor::new(&state.0));
        self.grew.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The redactor for every secret known now.
    pub fn redactor(&self) -> std::sync::Arc<Redactor> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::sync::Arc::clone(&state.1)
    }

    /// Whether a secret was added since the run started: outcomes redacted
    /// before it was known must be redacted again.
    pub fn grew(&self) -> bool {
        self.grew.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_secrets_grow_and_the_new_redactor_masks_every_spelling() {
        let mut start = Secrets::default();
        start.add("from-the-file-1");
        let run = RunSecrets::new(&start);
        let before = run.redactor();
        assert!(!run.grew());
        run.add("abc");
        assert!(!run.grew(), "too short to matter");
        run.add("from-the-file-1");
        assert!(!run.grew(), "known already");
        run.add("captured/Tok+en=9");
        assert!(run.grew());
        let after = run.redactor();
        let echoed = "a captured%2FTok%2Ben%3D9 and from-the-file-1";
        assert_eq!(
            before.text(echoed),
            "a captured%2FTok%2Ben%3D9 and «redacted»"
        );
        assert_eq!(after.text(echoed), "a «redacted» and «redacted»");
    }

    fn redactor(secrets: &[&str]) -> Redactor {
        let mut s = Secrets::default();
        secrets.iter().for_each(|v| s.add(v));
        Redactor::new(&s)
    }

    #[test]
    fn masks_secret_values_anywhere_in_text() {
        let r = redactor(&["hunter22", "hunter2233"]);
        assert_eq!(
            r.text("key=hunter2233 and hunter22"),
            "key=«redacted» and «redacted»"
        );
    }

    #[test]
    fn ignores_secrets_too_short_to_matter() {
        let r = redactor(&["on"]);
        assert_eq!(r.text("on and on"), "on and on");
    }

    #[test]
    fn masks_encoded_forms_of_secrets() {
        let r = redactor(&["a+b/c=="]);
        assert_eq!(r.text("q=a%2Bb%2Fc%3D%3D"), "q=«redacted»");
        assert_eq!(r.text("q=a%2Bb%2Fc%3D%3D&x=1"), "q=«redacted»&x=1");
    }

    #[test]
    fn masks_authorization_tokens_but_not_prose() {
        let r = redactor(&[]);
        assert_eq!(
            r.text("Authorization: Basic dXNlcjpwYXNz"),
            "Authorization: Basic «redacted»"
        );
        assert_eq!(r.text("Bearer eyJhbGciOi.x.y"), "Bearer «redacted»");
        assert_eq!(
            r.text("Bearer authentication required"),
            "Bearer authentication required"
        );
    }

    #[test]
    fn masks_credentials_in_urls() {
        let r = redactor(&[]);
        assert_eq!(
            r.text("GET https://bob:pw@api.example/x?api_key=abc&page=2"),
            "GET https://«redacted»@api.example/x?api_key=«redacted»&page=2"
        );
    }

    #[test]
    fn masks_what_an_excerpt_left_of_a_secret() {
        let r = redactor(&["s3cr3t-token-value"]);
        assert_eq!(r.text("token: s3cr3t-to…"), "token: «redacted»…");
        assert_eq!(r.text("…en-value rest"), "…«redacted» rest");
        assert_eq!(
            r.text("…oken-value and s3cr…"),
            "…«redacted» and «redacted»…"
        );
        // Too little of it left to tell; and ordinary cut text stays.
        assert_eq!(r.text("a s3c…"), "a s3c…");
        assert_eq!(r.text("plain text…"), "plain text…");
    }

    #[test]
    fn masks_escaped_forms_of_secrets() {
        let r = redactor(&["pa\"ss\\word"]);
        assert_eq!(r.text(r#"{"p":"pa\"ss\\word"}"#), r#"{"p":"«redacted»"}"#);
    }

    /// The password of the spelling tests: every JSON-escaped, URL-encoded
    /// and base64 form of it differs from the raw one.
    const PASSWORD: &str = "Zk9/q+Tr0ub4dor&3<x>w==";

    fn clean(r: &Redactor, text: &str) -> String {
        let out = r.text(text).into_owned();
        assert!(
            out.contains(REDACTED),
            "nothing masked in {text:?}: {out:?}"
        );
        for piece in ["Zk9", "Tr0ub4dor", "ub4d", "WnM5", "5a39"] {
            assert!(
                !out.contains(piece),
                "{piece} left in {out:?} (from {text:?})"
            );
        }
        out
    }

    #[test]
    fn masks_json_escapes_as_go_and_php_write_them() {
        let r = redactor(&[PASSWORD]);
        // Go's encoding/json, PHP's json_encode, every character escaped, mixed case.
        for text in [
            r#"{"p":"Zk9/q+Tr0ub4dor\u00263\u003cx\u003ew=="}"#,
            r#"{"p":"Zk9\/q+Tr0ub4dor&3<x>w=="}"#,
            r#"{"p":"Zk9\/q+Tr0ub4dor\u00263\u003Cx\u003Ew=="}"#,
            r#"\u005a\u006b\u0039\u002f\u0071\u002B\u0054\u0072\u0030\u0075\u0062\u0034\u0064\u006f\u0072\u0026\u0033\u003c\u0078\u003e\u0077\u003d\u003d"#,
        ] {
            assert_eq!(clean(&r, text).matches(REDACTED).count(), 1, "{text}");
        }
        assert_eq!(
            r.text(r#"{"a":1,"p":"Zk9\/q+Tr0ub4dor\u00263\u003cx\u003ew==","b":2}"#),
            r#"{"a":1,"p":"«redacted»","b":2}"#
        );
    }

    #[test]
    fn masks_json_inside_json() {
        let r = redactor(&[PASSWORD]);
        clean(
            &r,
            r#"{"log":"{\"p\":\"Zk9\\/q+Tr0ub4dor\\u00263\\u003cx\\u003ew==\"}"}"#,
        );
    }

    #[test]
    fn masks_every_percent_encoding_in_either_case() {
        let r = redactor(&[PASSWORD]);
        let bytes = PASSWORD.as_bytes();
        let upper: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        let lower: String = bytes.iter().map(|b| format!("%{b:02x}")).collect();
        for text in [
            format!("/cb?p={upper}&x=1"),
            format!("/cb?p={lower}&x=1"),
            "/cb?p=Zk9%2Fq%2BTr0ub4dor%263%3Cx%3Ew%3D%3D&x=1".to_owned(),
            "/cb?p=Zk9%2fq%2bTr0ub4dor%263%3cx%3ew%3d%3d&x=1".to_owned(),
            "/cb?p=Zk9/q%2BTr0ub4dor%263<x>w==&x=1".to_owned(),
        ] {
            let out = clean(&r, &text);
            assert!(out.ends_with("&x=1"), "{text} → {out}");
        }
    }

    #[test]
    fn masks_hex_in_either_case() {
        let r = redactor(&[PASSWORD]);
        let lower: String = PASSWORD.bytes().map(|b| format!("{b:02x}")).collect();
        clean(&r, &format!("digest input {lower}"));
        clean(&r, &format!("digest input {}", lower.to_uppercase()));
    }

    #[test]
    fn masks_base64_of_the_secret_of_bearer_and_of_basic_pairs() {
        use spellings::{Alphabet, base64};
        let mut secrets = Secrets::default();
        secrets.add(PASSWORD);
        secrets.add_pair("alice", PASSWORD);
        let r = Redactor::new(&secrets);
        for plain in [
            PASSWORD.to_owned(),
            format!("Bearer {PASSWORD}"),
            format!("alice:{PASSWORD}"),
            format!("bob:{PASSWORD}"),
            format!("{{\"token\":\"{PASSWORD}\",\"n\":1}}"),
        ] {
            for alphabet in [Alphabet::Standard, Alphabet::UrlSafe] {
                for padded in [true, false] {
                    let encoded = base64(plain.as_bytes(), alphabet, padded);
                    let out = clean(&r, &format!("echo: {encoded} end"));
                    assert!(out.starts_with("echo: ") && out.ends_with(" end"), "{out}");
                }
            }
        }
        // The whole encoding goes, padding included.
        let whole = base64(PASSWORD.as_bytes(), Alphabet::Standard, true);
        assert_eq!(r.text(&format!("[{whole}]")), "[«redacted»]");
    }

    #[test]
    fn masks_a_base64_spelling_cut_by_an_excerpt() {
        use spellings::{Alphabet, base64};
        let r = redactor(&[PASSWORD]);
        let encoded = base64(
            format!("Bearer {PASSWORD}").as_bytes(),
            Alphabet::Standard,
            true,
        );
        let cut = format!("{}…", &encoded[..20]);
        let out = r.text(&cut);
        assert!(out.ends_with("«redacted»…"), "{out}");
        assert!(!out.contains(&encoded[12..20]), "{out}");
    }

    #[test]
    fn masks_html_references_and_debug_escapes() {
        let r = redactor(&[PASSWORD]);
        clean(&r, "<p>Zk9&#x2F;q+Tr0ub4dor&amp;3&lt;x&gt;w==</p>");
        clean(&r, r#"got "Zk9/q+Tr0ub4dor\x263<x>w==""#);
    }

    #[test]
    fn masks_raw_bytes_before_they_are_encoded() {
        let r = redactor(&[PASSWORD]);
        let mut reply = b"\x00\x01+OK ".to_vec();
        reply.extend_from_slice(PASSWORD.as_bytes());
        reply.extend_from_slice(b"\r\n\xff");
        let masked = r.bytes(&reply);
        let mut expected = b"\x00\x01+OK ".to_vec();
        expected.extend_from_slice(REDACTED.as_bytes());
        expected.extend_from_slice(b"\r\n\xff");
        assert_eq!(masked.as_ref(), expected.as_slice());
        assert!(matches!(r.bytes(b"nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn masks_secrets_in_record_keys() {
        let r = redactor(&[PASSWORD]);
        let mut record = json!({"headers": {format!("x-{PASSWORD}"): "1", "a": "b"}});
        r.json(&mut record);
        assert_eq!(record, json!({"headers": {"x-«redacted»": "1", "a": "b"}}));
    }

    /// Fuzzing found probe files that took a minute to load: a long value in
    /// a credential position made the matcher a DFA over ~50 KiB of
    /// spellings (fuzz/slow-units/). Long secrets get the linear-time NFA,
    /// and are still masked in every spelling.
    #[test]
    fn long_secrets_get_a_matcher_built_in_linear_time() {
        let long: String = (0..1500)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        let r = redactor(&[&long]);
        let kind = r.matcher().map(AhoCorasick::kind);
        assert_eq!(kind, Some(AhoCorasickKind::ContiguousNFA));
        let hex = spellings::spellings(&long)
            .into_iter()
            .find(|s| s.len() == 2 * long.len() && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .expect("a hex spelling");
        let text = format!("echo {long} and {hex}.");
        assert_eq!(r.text(&text), format!("echo {REDACTED} and {REDACTED}."));
        let short = redactor(&["s3cr3t-pw"]);
        let kind = short.matcher().map(AhoCorasick::kind);
        assert_eq!(kind, Some(AhoCorasickKind::DFA));
    }

    /// Short inputs are scanned spelling by spelling until the matcher is
    /// built: the scan finds exactly what the matcher finds.
    #[test]
    fn a_scan_finds_what_the_matcher_finds() {
        let secrets = [PASSWORD, "s3cr3t", "s3cr3t-longer", "user:pa55"];
        let r = redactor(&secrets);
        let pieces: Vec<&str> = r
            .spellings
            .iter()
            .map(String::as_str)
            .chain(["x", "%", "\\u00", "==", " ", "s3c", "r3t", "é"])
            .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n
        };
        let matcher = r.matcher().expect("a matcher");
        for _ in 0..2_000 {
            let input: String = (0..next(12)).map(|_| pieces[next(pieces.len())]).collect();
            let found: Vec<(usize, usize)> = matcher
                .find_iter(input.as_bytes())
                .map(|m| (m.start(), m.end()))
                .collect();
            assert_eq!(r.scan(input.as_bytes()), found, "in {input:?}");
        }

        let fresh = redactor(&[PASSWORD]);
        let text = format!("invalid header `{PASSWORD}`");
        assert_eq!(fresh.text(&text), format!("invalid header `{REDACTED}`"));
        assert!(fresh.matcher.get().is_none(), "a short text is scanned");
        let long = format!("{}{PASSWORD}", "x".repeat(SCANNED_BYTES));
        assert!(fresh.text(&long).ends_with(REDACTED));
        assert!(
            fresh.matcher.get().is_some(),
            "a long one builds the matcher"
        );
    }

    #[test]
    fn leaves_text_without_secrets_alone() {
        let r = redactor(&[PASSWORD]);
        for text in [
            "a&amp;b %41 \\u0041 plain",
            "SGVsbG8gd29ybGQ=",
            "100% sure & done",
        ] {
            assert!(matches!(r.text(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn arbitrary_input_never_panics_and_text_stays_text() {
        let r = redactor(&[PASSWORD, "é-ü-secret"]);
        // A fixed pseudo-random stream over an alphabet rich in escape starts.
        let alphabet: Vec<char> = "\\%&#;xuU{}0123456789abcdefABCDEF/+=Zk9q<>é…"
            .chars()
            .collect();
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(state % 64) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let _ = r.text(&text);
            let _ = r.bytes(text.as_bytes());
            let _ = r.spans(&text.as_bytes()[..text.len() / 2]);
        }
    }

    #[test]
    fn credentials_in_written_urls_are_recorded() {
        let mut s = Secrets::default();
        add_url_credentials(
            "GET https://bob:p%40ss-w0rd@db.example/x?access_token=tok-12345&page=2",
            &mut s,
        );
        add_url_credentials("/search?api_key=key-67890#top", &mut s);
        for secret in ["p@ss-w0rd", "bob:p@ss-w0rd", "tok-12345", "key-67890"] {
            assert!(s.contains(secret), "{secret}");
        }
        assert!(!s.contains("page"));
        assert!(!s.contains("bob"));
    }

    /// Fuzzing (probe_file): a non-ASCII character right before `ttp://`
    /// made the scheme start inside it, and slicing there panicked.
    #[test]
    fn a_url_after_a_multibyte_character_is_read_without_panicking() {
        let mut secrets = Secrets::default();
        add_url_credentials("x:\u{4de}ttp://127.0.0.1:8080}", &mut secrets);
        add_url_credentials("\u{4de}https://user:s3cr3t-pw@h/", &mut secrets);
        assert!(secrets.contains("s3cr3t-pw"));
    }

    #[test]
    fn credential_headers_by_name_and_by_ending() {
        for name in [
            "Authorization",
            "x-api-key",
            "X-Vault-Token",
            "x-goog-api-key",
            "Client-Secret",
        ] {
            assert!(is_credential_header(name), "{name}");
        }
        for name in [
            "accept",
            "token",
            "sec-websocket-key",
            "access-control-allow-credentials",
        ] {
            assert!(!is_credential_header(name), "{name}");
        }
    }

    #[test]
    fn masks_credential_headers_in_records() {
        let r = redactor(&[]);
        let mut record = json!({"request": {"headers": {"Authorization": "Bearer x", "accept": "*/*"}},
                                "response": {"headers": {"set-cookie": ["a=b"]}}});
        r.json(&mut record);
        assert_eq!(record["request"]["headers"]["Authorization"], REDACTED);
        assert_eq!(record["request"]["headers"]["accept"], "*/*");
        assert_eq!(record["response"]["headers"]["set-cookie"], REDACTED);
    }
}
