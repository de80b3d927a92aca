//! `vouch run --push URL`: a run's metric families handed to a Prometheus
//! Pushgateway, for runs that no Prometheus can scrape (a cron job, a CI
//! step, a Kubernetes `CronJob`).
//!
//! The families are those of `vouch watch` ([`Metrics::of`]), sent with
//! `PUT {URL}/metrics/job/{job}/instance/{instance}{/label/value…}`: a `PUT`
//! replaces the whole group, so an item that left the probe files does not
//! linger at the gateway. The Pushgateway convention for batch jobs adds
//! `vouch_last_success_timestamp_seconds`: the end of the last run whose
//! gate passed. A failed run carries the previous value over (read back from
//! the gateway's `/api/v1/metrics`), so "the last success is old" is the
//! alert, and a failed run does not erase when the last good one was.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::export::{self, Metrics, Since, TextFormat, item_states};
use crate::probe::TlsSettings;
use crate::report::Report;

/// The metric a batch job pushes on success.
pub const LAST_SUCCESS: &str = "vouch_last_success_timestamp_seconds";

/// The most characters of a gateway's answer shown in an error.
const ANSWER_MAX: usize = 500;

/// The most bytes of the gateway's `/api/v1/metrics` read back (every group
/// it holds); past it the last success is not carried over.
const GROUPS_MAX: usize = 64 * 1024 * 1024;

/// How to reach the gateway and name the group.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// The gateway's base URL (`http://pushgateway:9091`).
    pub url: url::Url,
    /// The `job` grouping label.
    pub job: String,
    /// The `instance` grouping label.
    pub instance: String,
    /// Further grouping labels, in order.
    pub labels: Vec<(String, String)>,
    /// Credentials, if the gateway wants them.
    pub auth: Option<Auth>,
    /// A PEM bundle of extra trusted CAs.
    pub ca_file: Option<PathBuf>,
    /// How long the whole push may take.
    pub timeout: Duration,
}

/// Credentials for the gateway (read from the environment, never printed).
#[derive(Clone)]
pub enum Auth {
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user}, «redacted»)"),
            Auth::Bearer(_) => f.write_str("Bearer(«redacted»)"),
        }
    }
}

impl Auth {
    fn secret(&self) -> &str {
        match self {
            Auth::Basic { password, .. } => password,
            Auth::Bearer(token) => token,
        }
    }
}

/// Why a push did not land.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// No answer: refused, timed out, TLS failed.
    #[error("cannot push to {gateway}: {reason}")]
    Unreachable {
        /// The gateway (without credentials).
        gateway: String,
        /// What happened.
        reason: String,
    },
    /// The gateway answered with an error status.
    #[error("the Pushgateway at {gateway} refused the push: {status}: {answer}")]
    Refused {
        /// The gateway (without credentials).
        gateway: String,
        /// Its status line.
        status: String,
        /// Its answer, bounded and escaped.
        answer: String,
    },
    /// The client could not be set up (e.g. an unreadable `--ca-file`).
    #[error("cannot push: {0}")]
    Setup(String),
}

/// Checks a grouping label name as the Pushgateway does
/// (`[a-zA-Z_][a-zA-Z0-9_]*`), and that it is not `job` or `instance`,
/// which have flags of their own.
pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || name.starts_with("__") {
        return Err(format!(
            "`{name}` is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading `__`)"
        ));
    }
    if name == "job" || name == "instance" {
        return Err(format!("`{name}` has its own flag (--push-{name})"));
    }
    Ok(())
}

impl Gateway {
    /// The group's URL: `{URL}/metrics/job/{job}/instance/{instance}/…`.
    pub fn group_url(&self) -> String {
        let mut path = self.url.as_str().trim_end_matches('/').to_owned();
        path.push_str("/metrics");
        let labels = [("job", self.job.as_str()), ("instance", &self.instance)]
            .into_iter()
            .chain(self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (name, value) in labels {
            path.push('/');
            path.push_str(&label_segment(name, value));
        }
        path
    }

    /// The gateway as shown in messages: scheme, host and port only.
    pub fn shown(&self) -> String {
        let mut shown = format!(
            "{}://{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or("")
        );
        if let Some(port) = self.url.port() {
            shown.push_str(&format!(":{port}"));
        }
        shown
    }

    /// Pushes the report's families, replacing the group.
    pub async fn push(&self, report: &Report) -> Result<(), PushError> {
        let client = self.client()?;
        let finished = export::unix_seconds(&report.finished_at).unwrap_or_default();
        let last_success = if report.summary.passed {
            Some(finished)
        } else {
            // Best effort: without it the metric is left out, which the
            // alert treats as "no success recorded".
            self.previous_success(&client).await
        };
        let body = body(report, last_success);
        let request = self.authorize(client.put(self.group_url()));
        let response = request
            .header(
                reqwest::header::CONTENT_TYPE,
                export::PROMETHEUS_CONTENT_TYPE,
            )
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = answer_prefix(response).await;
        let answer = crate::probe::tcp::printable(&bytes, ANSWER_MAX);
        Err(PushError::Refused {
            gateway: self.shown(),
            status: status.to_string(),
            answer: self.mask(&answer),
        })
    }

    fn client(&self) -> Result<reqwest::Client, PushError> {
        let tls = TlsSettings {
            ca: self.ca_file.clone(),
            ..TlsSettings::default()
        };
        let config = crate::probe::fetch::client_tls_config(&tls, std::path::Path::new("."))
            .map_err(PushError::Setup)?;
        reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .timeout(self.timeout)
            // Credentials go to the gateway named, nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PushError::Setup(crate::probe::fetch::error_chain(&e)))
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Some(Auth::Basic { user, password }) => request.basic_auth(user, Some(password)),
            Some(Auth::Bearer(token)) => request.bearer_auth(token),
            None => request,
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> PushError {
        let reason = if error.is_timeout() {
            format!("timed out after {:?}", self.timeout)
        } else {
            crate::probe::fetch::error_chain(error)
        };
        PushError::Unreachable {
            gateway: self.shown(),
            reason: self.mask(&reason),
        }
    }

    /// `text` with the credential's secret masked (a gateway or proxy
    /// that echoes the request must not put it on stderr).
    fn mask(&self, text: &str) -> String {
        match &self.auth {
            Some(auth) if !auth.secret().is_empty() => text.replace(auth.secret(), "«redacted»"),
            _ => text.to_owned(),
        }
    }

    /// The group's `vouch_last_success_timestamp_seconds` at the gateway.
    async fn previous_success(&self, client: &reqwest::Client) -> Option<f64> {
        let url = format!("{}/api/v1/metrics", self.url.as_str().trim_end_matches('/'));
        let response = self.authorize(client.get(url)).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.ok()? {
            body.extend_from_slice(&chunk);
            if body.len() > GROUPS_MAX {
                return None;
            }
        }
        let answer: Value = serde_json::from_slice(&body).ok()?;
        let wanted = self.grouping();
        answer["data"].as_array()?.iter().find_map(|group| {
            let labels = group["labels"].as_object()?;
            let same = labels.len() == wanted.len()
                && wanted
                    .iter()
                    .all(|(k, v)| labels.get(*k).and_then(Value::as_str) == Some(v));
            if !same {
                return None;
            }
            group[LAST_SUCCESS]["metrics"][0]["value"]
                .as_str()?
                .parse()
                .ok()
        })
    }

    fn grouping(&self) -> Vec<(&str, &str)> {
        [("job", self.job.as_str()), ("instance", &self.instance)]
            .into_iter()
            .chain(self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect()
    }
}

/// The start of an error answer: enough for [`ANSWER_MAX`] characters.
async fn answer_prefix(mut response: reqwest::Response) -> Vec<u8> {
    let mut bytes = Vec::new();
    while bytes.len() <= 4 * (ANSWER_MAX + 1) {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes
}

/// The pushed text: the report's families in the Prometheus text format
/// 0.0.4 (what every Pushgateway version parses), plus the last success.
pub fn body(report: &Report, last_success: Option<f64>) -> String {
    let mut since = Since::default();
    let finished = export::unix_seconds(&report.finished_at).unwrap_or_default();
    since.observe(&item_states(report), finished);
    let mut text = Metrics::of(Some(report), &since, None).encode(TextFormat::Prometheus);
    if let Some(at) = last_success {
        text.push_str(&format!(
            "# HELP {LAST_SUCCESS} When the last run whose gate passed finished.\n# TYPE {LAST_SUCCESS} gauge\n{LAST_SUCCESS} {at}\n"
        ));
    }
    text
}

/// One `/name/value` pair of a group's path, as the Pushgateway reads it:
/// the value percent-encoded, or `name@base64/…` (URL-safe base64) when it
/// holds a `/` or is empty, which a path segment cannot carry.
pub fn label_segment(name: &str, value: &str) -> String {
    if value.is_empty() {
        return format!("{name}@base64/=");
    }
    if value.contains('/') {
        return format!("{name}@base64/{}", base64_url(value.as_bytes()));
    }
    let escaped: String = value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{name}/{escaped}")
}

/// RFC 4648 base64 with the URL-safe alphabet, padded.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64_url(plain.as_bytes()), encoded, "{plain}");
        }
        // The URL-safe alphabet: `-` and `_` instead of `+` and `/`.
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8=");
    }

    #[test]
    fn label_values_are_escaped_as_the_pushgateway_reads_them() {
        assert_eq!(label_segment("env", "prod"), "env/prod");
        assert_eq!(label_segment("env", "a b%"), "env/a%20b%25");
        assert_eq!(label_segment("path", "/a/b"), "path@base64/L2EvYg==");
        assert_eq!(label_segment("shard", ""), "shard@base64/=");
    }

    #[test]
    fn label_names_are_checked() {
        assert!(check_label_name("shard").is_ok());
        assert!(check_label_name("_x1").is_ok());
        for bad in ["", "1x", "a-b", "__x", "job", "instance", "é"] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_are_never_shown() {
        let auth = Auth::Basic {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Bearer("tok".into())).contains("tok"));
    }
}
