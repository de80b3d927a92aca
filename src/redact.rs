//! Redaction: secrets never leave vouch. Values read from `${env:…}`,
//! credential headers and credentials in URLs become `«redacted»` in every
//! summary, check and evidence record before any report sees them.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "«redacted»";

/// Secrets shorter than this are not masked: masking `1` or `on` everywhere
/// would garble reports, and such values protect nothing.
pub const MIN_SECRET_LEN: usize = 4;

/// The mark of a cut excerpt (see [`crate::expect::excerpt`]).
const CUT: &str = "…";

/// Header names whose values are always redacted (compared case-insensitively).
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
];

/// Whether a header's value must never be shown.
pub fn is_credential_header(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// The set of secret values collected while loading probe files.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: BTreeSet<String>,
}

impl Secrets {
    /// Records a secret value (ignored when too short to matter), with the
    /// forms it takes in URLs.
    pub fn add(&mut self, value: &str) {
        if value.chars().count() < MIN_SECRET_LEN {
            return;
        }
        self.values.insert(value.to_owned());
        let query: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let percent = percent_encode(value);
        // As it appears inside JSON strings and Rust's `{:?}` output.
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json.trim_matches('"').to_owned();
        let debug = format!("{value:?}").trim_matches('"').to_owned();
        for encoded in [query, percent, json, debug] {
            if encoded != value {
                self.values.insert(encoded);
            }
        }
    }

    /// Whether `value` was recorded.
    pub fn contains(&self, value: &str) -> bool {
        self.values.contains(value)
    }

    /// Adds every secret of `other`.
    pub fn extend(&mut self, other: &Secrets) {
        self.values.extend(other.values.iter().cloned());
    }

    /// Whether no secret was recorded.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Every byte outside RFC 3986's unreserved set, percent-encoded.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Applies every redaction rule to text and JSON records.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
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
        let mut secrets: Vec<String> = secrets.values.iter().cloned().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }

    /// Redacts secrets and URL credentials in free text.
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
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
        if !self.secrets.is_empty()
            && out.contains(CUT)
            && let Some(s) = self.mask_cut_secrets(&out)
        {
            out = Cow::Owned(s);
        }
        out
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
        self.secrets
            .iter()
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
        self.secrets
            .iter()
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
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
