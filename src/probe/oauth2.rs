//! `oauth2:`: an access token from the client-credentials grant (RFC 6749
//! §4.4) for the requests of HTTP-based probes. The token is fetched once
//! and shared by every probe that names the same endpoint, client and scope,
//! until shortly before it expires (so `vouch watch` cycles reuse it too);
//! concurrent probes wait for the one request in flight. Evidence records
//! the token request, never the token.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio::time::Instant;

use super::fetch::{self, Request};
use super::{Context, TlsSettings};

/// `oauth2:` settings: the client-credentials grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// The token endpoint: a path (resolved against the target) or an absolute URL.
    pub token_url: String,
    /// The client's id.
    pub client_id: String,
    /// The client's secret: give it with `${secret:NAME}`. Always redacted.
    pub client_secret: String,
    /// The scope asked for (space-separated), if any.
    #[serde(default)]
    pub scope: Option<String>,
    /// How the client authenticates: `basic` (HTTP Basic,
    /// `client_secret_basic`, the default) or `post` (in the form body,
    /// `client_secret_post`).
    #[serde(default)]
    pub auth_method: AuthMethod,
}

/// How the client's credentials travel to the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// `Authorization: Basic base64(id:secret)` (`client_secret_basic`).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
}

impl AuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
        }
    }
}

/// A token is renewed this long before it expires (or at half its life,
/// when that is sooner), so no probe starts with a token about to lapse.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// How long a token without `expires_in` is kept.
pub const UNDATED_LIFETIME: Duration = Duration::from_secs(300);

/// How long a failed token request is remembered: the probes that start
/// together share one failed request rather than each sending their own.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(10);

/// What the token request gave a probe.
#[derive(Debug, Clone)]
pub enum Obtained {
    /// A token: the `Authorization` value to send, the token itself (a
    /// secret for the run), and the record of its request.
    Token {
        /// `Bearer …`.
        authorization: Arc<str>,
        /// The access token.
        token: Arc<str>,
        /// The token request, for evidence (no token in it).
        record: Json,
    },
    /// No token: why (the endpoint's answer), and the record of the request.
    Failed {
        /// `POST http://…/token → 401: {"error":"invalid_client"}`.
        reason: String,
        /// The token request and what came back.
        record: Json,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    obtained: Obtained,
    until: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

/// The process-wide cache, by endpoint, client, secret, scope and method.
static CACHE: LazyLock<Mutex<HashMap<(String, OAuth2), Slot>>> = LazyLock::new(Default::default);

/// The token for `settings`: cached while valid, else fetched now (one
/// request however many probes ask at once). The cached record says so.
pub async fn obtain(settings: &OAuth2, cx: &Context) -> Obtained {
    let url = match cx.resolve(&settings.token_url) {
        Ok(url) => url,
        Err(e) => {
            return Obtained::Failed {
                reason: format!("oauth2: {e}"),
                record: json!({"token_url": settings.token_url, "error": e.to_string()}),
            };
        }
    };
    let slot = {
        let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            cache
                .entry((url.to_string(), settings.clone()))
                .or_default(),
        )
    };
    let mut entry = slot.lock().await;
    if let Some(cached) = entry.as_ref()
        && Instant::now() < cached.until
    {
        return with_cached(&cached.obtained);
    }
    let fetched = fetch(settings, &url, cx).await;
    *entry = Some(fetched.clone());
    fetched.obtained
}

/// The same result, its record marked as reused.
fn with_cached(obtained: &Obtained) -> Obtained {
    let mut obtained = obtained.clone();
    match &mut obtained {
        Obtained::Token { record, .. } | Obtained::Failed { record, .. } => {
            record["cached"] = Json::Bool(true);
        }
    }
    obtained
}

/// The form body of the token request.
fn form(settings: &OAuth2) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = &settings.scope {
        form.append_pair("scope", scope);
    }
    if settings.auth_method == AuthMethod::Post {
        form.append_pair("client_id", &settings.client_id);
        form.append_pair("client_secret", &settings.client_secret);
    }
    form.finish()
}

async fn fetch(settings: &OAuth2, url: &url::Url, cx: &Context) -> Entry {
    let mut headers = vec![
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("accept".to_owned(), "application/json".to_owned()),
    ];
    if settings.auth_method == AuthMethod::Basic {
        // RFC 6749 §2.3.1: each part form-encoded before the Basic pair.
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!(
            "{}:{}",
            encode(&settings.client_id),
            encode(&settings.client_secret)
        );
        let basic = crate::redact::spellings::base64(
            pair.as_bytes(),
            crate::redact::spellings::Alphabet::Standard,
            true,
        );
        headers.push(("authorization".to_owned(), format!("Basic {basic}")));
    }
    let request = Request {
        method: reqwest::Method::POST,
        url: url.clone(),
        headers,
        body: Some(Bytes::from(form(settings))),
        follow_redirects: false,
        tls: TlsSettings::default(),
    };
    // The token request carries no token of its own and records nothing
    // for captures.
    let cx = Context {
        authorization: None,
        recorder: None,
        ..cx.clone()
    };
    let mut record = json!({
        "request": format!("POST {url}"),
        "token_url": url.as_str(),
        "grant_type": "client_credentials",
        "client_id": settings.client_id,
        "auth_method": settings.auth_method.as_str(),
        "cached": false,
    });
    if let Some(scope) = &settings.scope {
        record["scope"] = json!(scope);
    }
    let failed = |reason: String, mut record: Json| {
        record["error"] = json!(reason);
        Entry {
            obtained: Obtained::Failed {
                reason: format!("oauth2 token request POST {url} failed: {reason}"),
                record,
            },
            until: Instant::now() + FAILURE_MEMORY,
        }
    };
    let sent = tokio::time::timeout(cx.timeout, fetch::send(&cx, &request)).await;
    let response = match sent {
        Err(_) => {
            let limit = humantime::format_duration(cx.timeout);
            return failed(format!("no answer within {limit}"), record);
        }
        Ok(Err(e)) => return failed(e.to_string(), record),
        Ok(Ok(Err(unreachable))) => return failed(unreachable.reason, record),
        Ok(Ok(Ok(response))) => response,
    };
    record["status"] = json!(response.status);
    record["elapsed_ms"] = json!(fetch::millis(response.elapsed));
    let body: Option<Json> = serde_json::from_slice(&response.body).ok();
    let token = body
        .as_ref()
        .and_then(|b| b.get("access_token"))
        .and_then(Json::as_str)
        .filter(|t| !t.is_empty());
    let token = match token {
        Some(token) if (200..300).contains(&response.status) => token.to_owned(),
        _ => {
            // The endpoint's own answer (`{"error":"invalid_client"}`) is
            // the evidence; the runner redacts any secret in it.
            let excerpt = response.excerpt(512);
            record["response"] = json!(excerpt);
            let why = if (200..300).contains(&response.status) {
                format!("{} without an `access_token`: {excerpt}", response.status)
            } else {
                format!("{}: {excerpt}", response.status)
            };
            return failed(why, record);
        }
    };
    let field = |name: &str| body.as_ref().and_then(|b| b.get(name)).cloned();
    if let Some(token_type) = field("token_type") {
        record["token_type"] = token_type;
    }
    let expires_in = field("expires_in").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    });
    if let Some(seconds) = expires_in {
        record["expires_in"] = json!(seconds);
    }
    if let Some(scope) = field("scope") {
        record["granted_scope"] = scope;
    }
    Entry {
        until: Instant::now() + keep_for(expires_in.map(Duration::from_secs)),
        obtained: Obtained::Token {
            authorization: Arc::from(format!("Bearer {token}")),
            token: Arc::from(token),
            record,
        },
    }
}

/// How long a token with this lifetime is used: until [`EXPIRY_MARGIN`]
/// before it lapses, or half its life when that is shorter.
pub fn keep_for(lifetime: Option<Duration>) -> Duration {
    match lifetime {
        None => UNDATED_LIFETIME,
        Some(life) => life.saturating_sub(EXPIRY_MARGIN).max(life / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_renewed_before_it_lapses() {
        assert_eq!(
            keep_for(Some(Duration::from_secs(3600))),
            Duration::from_secs(3570)
        );
        assert_eq!(
            keep_for(Some(Duration::from_secs(40))),
            Duration::from_secs(20)
        );
        assert_eq!(keep_for(Some(Duration::ZERO)), Duration::ZERO);
        assert_eq!(keep_for(None), UNDATED_LIFETIME);
    }

    #[test]
    fn the_form_carries_the_secret_only_for_post() {
        let mut settings = OAuth2 {
            token_url: "/token".to_owned(),
            client_id: "app one".to_owned(),
            client_secret: "s3cr&t".to_owned(),
            scope: Some("read write".to_owned()),
            auth_method: AuthMethod::Basic,
        };
        assert_eq!(
            form(&settings),
            "grant_type=client_credentials&scope=read+write"
        );
        settings.auth_method = AuthMethod::Post;
        assert_eq!(
            form(&settings),
            "grant_type=client_credentials&scope=read+write&client_id=app+one&client_secret=s3cr%26t"
        );
    }
}
