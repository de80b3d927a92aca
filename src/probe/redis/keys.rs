//! The keys of a `redis` probe: a bounded `SCAN … MATCH … COUNT` for a
//! pattern, and the `TTL` of each sampled key checked against a matcher.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::resp::Value;
use super::session::Session;
use super::{MAX_SAMPLE, MAX_SCAN_CALLS, SCAN_COUNT, refused};
use crate::expect::Matcher;

/// What a bounded scan found.
pub struct Scan {
    /// The matching keys, at most [`MAX_SAMPLE`].
    pub keys: BTreeSet<Vec<u8>>,
    /// `SCAN` calls made.
    pub calls: u64,
    /// The cursor came back to 0: every key was looked at.
    pub complete: bool,
    /// Why scanning stopped early (a refusal, a broken reply).
    pub error: Option<String>,
}

impl Scan {
    /// `whole keyspace scanned`, `first 10 SCAN calls of COUNT 100`.
    pub fn scope(&self) -> String {
        if self.complete {
            "the whole keyspace scanned".to_owned()
        } else if self.keys.len() >= MAX_SAMPLE {
            format!("stopped at {MAX_SAMPLE} keys")
        } else {
            format!(
                "scan bounded: {} SCAN calls of COUNT {SCAN_COUNT}, the keyspace not exhausted",
                self.calls
            )
        }
    }
}

/// `SCAN cursor MATCH pattern COUNT 100` until the cursor returns to 0,
/// [`MAX_SAMPLE`] keys match, or [`MAX_SCAN_CALLS`] calls were made.
pub async fn scan(session: &mut Session, pattern: &str) -> Scan {
    let mut scan = Scan {
        keys: BTreeSet::new(),
        calls: 0,
        complete: false,
        error: None,
    };
    let mut cursor = "0".to_owned();
    let count = SCAN_COUNT.to_string();
    while scan.calls < MAX_SCAN_CALLS && scan.keys.len() < MAX_SAMPLE {
        scan.calls += 1;
        let reply = session
            .command(
                &[
                    b"SCAN",
                    cursor.as_bytes(),
                    b"MATCH",
                    pattern.as_bytes(),
                    b"COUNT",
                    count.as_bytes(),
                ],
                &format!("SCAN {cursor} MATCH {pattern} COUNT {count}"),
            )
            .await;
        let (next, keys) = match &reply {
            Ok(Value::Array(Some(items))) => match items.as_slice() {
                [Value::Bulk(Some(next)), Value::Array(Some(keys))] => (next.clone(), keys),
                _ => {
                    let shape = reply
                        .as_ref()
                        .map(|v| session.describe(v))
                        .unwrap_or_default();
                    scan.error = Some(format!("unexpected SCAN reply: {shape}"));
                    break;
                }
            },
            _ => {
                scan.error = Some(refused("SCAN", &reply, session));
                break;
            }
        };
        for key in keys {
            if let Value::Bulk(Some(k)) = key
                && scan.keys.len() < MAX_SAMPLE
            {
                scan.keys.insert(k.clone());
            }
        }
        cursor = match next_cursor(&next) {
            Ok(next) => next,
            Err(why) => {
                scan.error = Some(why);
                break;
            }
        };
        if cursor == "0" {
            scan.complete = true;
            break;
        }
    }
    scan
}

/// The cursor a `SCAN` reply gives for the next call: digits, at most 20
/// (a 64-bit number), so a hostile server cannot make the next command, or
/// its line in evidence, grow.
fn next_cursor(bytes: &[u8]) -> Result<String, String> {
    if !bytes.is_empty() && bytes.len() <= 20 && bytes.iter().all(u8::is_ascii_digit) {
        Ok(String::from_utf8_lossy(bytes).into_owned())
    } else {
        Err(format!(
            "unexpected SCAN cursor {:?}: expected a number",
            crate::probe::tcp::printable(bytes, 40)
        ))
    }
}

/// Reads the TTL of every sampled key and checks each against `matcher`.
pub async fn ttl_check(
    session: &mut Session,
    pattern: &str,
    scan: &Scan,
    matcher: &Matcher,
) -> (String, bool, Vec<Json>) {
    if scan.keys.is_empty() {
        let why = match &scan.error {
            Some(e) => e.clone(),
            None => format!("no key matches `{pattern}` ({})", scan.scope()),
        };
        return (why, false, Vec::new());
    }
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    let mut longest: Option<Ttl> = None;
    let mut read = 0usize;
    for key in &scan.keys {
        let name = session.shown_bytes(key, 80);
        let reply = session
            .command(&[b"TTL", key], &format!("TTL {name}"))
            .await;
        let ttl = match reply {
            Ok(Value::Integer(-2)) => {
                samples.push(json!({"key": name, "ttl": "gone (expired since SCAN)"}));
                continue;
            }
            Ok(Value::Integer(-1)) => Ttl::Persistent,
            Ok(Value::Integer(n)) if n >= 0 => Ttl::Seconds(n.unsigned_abs()),
            other => {
                let why = refused("TTL", &other, session);
                return (why, false, samples);
            }
        };
        read += 1;
        samples.push(json!({"key": name, "ttl": ttl.to_string(), "ttl_s": ttl.seconds()}));
        // As a duration: `{max: 30m}` is thirty minutes, not 30 MB.
        if matcher
            .check_duration(ttl.seconds().map(Duration::from_secs))
            .is_err()
        {
            failures.push(format!("{name} {ttl}"));
        }
        if longest.is_none_or(|l| ttl > l) {
            longest = Some(ttl);
        }
    }
    if read == 0 {
        return (
            "every sampled key expired before its TTL was read".to_owned(),
            false,
            samples,
        );
    }
    let actual = if failures.is_empty() {
        let longest = longest.map_or_else(String::new, |l| format!(", the longest {l}"));
        format!("all {read} sampled keys hold{longest} ({})", scan.scope())
    } else {
        let shown: Vec<&str> = failures.iter().take(3).map(String::as_str).collect();
        let more = if failures.len() > 3 { ", …" } else { "" };
        format!(
            "{} of {read} sampled keys do not: {}{more}",
            failures.len(),
            shown.join(", ")
        )
    };
    (actual, failures.is_empty(), samples)
}

/// A key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ttl {
    Seconds(u64),
    /// No expiry (`TTL` = -1); orders after every finite TTL.
    Persistent,
}

impl Ttl {
    fn seconds(self) -> Option<u64> {
        match self {
            Ttl::Seconds(s) => Some(s),
            Ttl::Persistent => None,
        }
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ttl::Seconds(s) => write!(f, "{}", humantime::format_duration(Duration::from_secs(*s))),
            Ttl::Persistent => f.write_str("no TTL"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_cursor_is_a_number() {
        assert_eq!(next_cursor(b"17"), Ok("17".to_owned()));
        assert_eq!(
            next_cursor(b"18446744073709551615").as_deref(),
            Ok("18446744073709551615")
        );
        assert!(next_cursor(b"").is_err());
        assert!(next_cursor(b"1 MATCH *").is_err());
        let long = next_cursor(&[b'9'; 10_000]).expect_err("too long");
        assert!(long.len() < 100, "{long}");
    }

    #[test]
    fn a_key_without_ttl_outlives_every_ttl() {
        assert!(Ttl::Persistent > Ttl::Seconds(u64::MAX));
        assert_eq!(Ttl::Seconds(90_000).to_string(), "1day 1h");
        assert_eq!(Ttl::Persistent.to_string(), "no TTL");
    }
}
