//! The spellings of a secret a target may echo: the ways encoders write a
//! value into JSON, URLs, hex and base64. The redactor searches for all of
//! them at once; JSON, percent and HTML escapes in any mix are also found by
//! decoding (the `decode` module), and the written-out forms here are what
//! lets a spelling cut by an excerpt be masked too.

use std::collections::BTreeSet;

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Every spelling of `secret` worth searching for (the secret itself included).
pub fn spellings(secret: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = secret.as_bytes();
    out.insert(secret.to_owned());
    // Rust's `{:?}`, as error messages quote values.
    out.insert(format!("{secret:?}").trim_matches('"').to_owned());
    for json in json_spellings(secret) {
        out.insert(json);
    }
    out.insert(url::form_urlencoded::byte_serialize(bytes).collect());
    for upper in [true, false] {
        out.insert(percent(bytes, false, upper));
        out.insert(percent(bytes, true, upper));
        out.insert(hex(bytes, upper));
    }
    for alphabet in [Alphabet::Standard, Alphabet::UrlSafe] {
        for padded in [true, false] {
            out.insert(base64(bytes, alphabet, padded));
            out.insert(base64(
                format!("Bearer {secret}").as_bytes(),
                alphabet,
                padded,
            ));
        }
        for offset in 0..3 {
            out.insert(base64_middle(bytes, offset, alphabet));
        }
    }
    out.retain(|s| s.chars().count() >= super::MIN_SECRET_LEN);
    out
}

/// The secret as a JSON string's inside: as `serde_json`, Go's
/// `encoding/json` (`&`, `<`, `>` as `\u0026`…), PHP's `json_encode` (`/` as
/// `\/`, non-ASCII as `\uXXXX`), and every character as `\uXXXX` in lower and
/// upper case.
fn json_spellings(secret: &str) -> Vec<String> {
    let plain = serde_json::to_string(secret).unwrap_or_default();
    let plain = plain
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned();
    let go = plain
        .replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let mut php = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '/' => php.push_str("\\/"),
            c if c.is_ascii() => php.push(c),
            c => push_units(&mut php, c, false),
        }
    }
    let mut lower = String::new();
    let mut upper = String::new();
    for c in secret.chars() {
        push_units(&mut lower, c, false);
        push_units(&mut upper, c, true);
    }
    vec![plain, go, php, lower, upper]
}

/// `c` as `\uXXXX` UTF-16 units.
fn push_units(out: &mut String, c: char, upper: bool) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        if upper {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
}

/// Percent-encoding: of every byte (`all`), or of every byte outside RFC
/// 3986's unreserved set.
fn percent(bytes: &[u8], all: bool, upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if !all && (b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
            out.push(char::from(b));
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// The two base64 alphabets.
#[derive(Debug, Clone, Copy)]
pub enum Alphabet {
    /// RFC 4648 §4: `+` and `/`.
    Standard,
    /// RFC 4648 §5: `-` and `_`.
    UrlSafe,
}

/// Base64 of `bytes`.
pub fn base64(bytes: &[u8], alphabet: Alphabet, padded: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(symbol(n >> (18 - 6 * i), alphabet));
            } else if padded {
                out.push('=');
            }
        }
    }
    out
}

fn symbol(sextet: u32, alphabet: Alphabet) -> char {
    let c = char::from(STANDARD[(sextet & 63) as usize]);
    match (alphabet, c) {
        (Alphabet::UrlSafe, '+') => '-',
        (Alphabet::UrlSafe, '/') => '_',
        (_, c) => c,
    }
}

/// The base64 characters that depend on `bytes` alone when they sit
/// `offset` bytes (0, 1 or 2) past a 3-byte boundary inside a larger encoded
/// blob (`Bearer …`, `user:…`, a JSON document): the first and last
/// characters also carry bits of the neighbours, the middle does not.
fn base64_middle(bytes: &[u8], offset: usize, alphabet: Alphabet) -> String {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(bytes);
    let encoded = base64(&padded, alphabet, false);
    // Character k covers bits [6k, 6k + 6); the secret covers [8·offset, 8·(offset + n)).
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + bytes.len())) / 6;
    encoded.get(first..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes(), Alphabet::Standard, true), encoded);
        }
        assert_eq!(base64(&[0xfb, 0xff], Alphabet::UrlSafe, false), "-_8");
    }

    #[test]
    fn every_alignment_of_a_secret_inside_base64_is_found() {
        let secret = "Zk9/q+Tr0ub4dor&3<x>w==";
        let all = spellings(secret);
        for prefix in ["", "a", "ab", "abc", "Bearer ", "user:"] {
            for alphabet in [Alphabet::Standard, Alphabet::UrlSafe] {
                let blob = base64(
                    format!("{prefix}{secret}, and more").as_bytes(),
                    alphabet,
                    true,
                );
                assert!(
                    all.iter()
                        .any(|s| s.len() > 20 && blob.contains(s.as_str())),
                    "{prefix:?}: {blob}"
                );
            }
        }
    }

    #[test]
    fn json_spellings_follow_real_encoders() {
        let all = spellings("a/b&c<d>é");
        for spelling in [
            "a/b&c<d>é",
            r"a/b\u0026c\u003cd\u003eé",
            r"a\/b&c<d>\u00e9",
            r"\u0061\u002f\u0062\u0026\u0063\u003c\u0064\u003e\u00e9",
            r"\u0061\u002F\u0062\u0026\u0063\u003C\u0064\u003E\u00E9",
        ] {
            assert!(all.contains(spelling), "{spelling} missing: {all:?}");
        }
    }

    #[test]
    fn url_and_hex_spellings_in_both_cases() {
        let all = spellings("a+b/");
        for spelling in [
            "a%2Bb%2F",
            "a%2bb%2f",
            "%61%2B%62%2F",
            "%61%2b%62%2f",
            "612b622f",
            "612B622F",
        ] {
            assert!(all.contains(spelling), "{spelling} missing: {all:?}");
        }
    }
}
