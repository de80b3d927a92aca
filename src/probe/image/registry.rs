//! The client side of the OCI distribution API, over vouch's HTTP client
//! ([`fetch::send`]: bounded bodies, redirects, TLS settings): read-only
//! `GET`s, and authentication as registries ask for it. A `401` with
//! `WWW-Authenticate: Bearer realm=…,service=…,scope=…` sends vouch to the
//! realm for a token (with the `basic:` credentials when given), kept per
//! realm, service, scope and user until it expires, for every probe of the
//! run; a `Basic` challenge gets the `basic:` credentials. A token never
//! appears in what a probe records: each one becomes a secret of the probe's
//! own redactor ([`Session::secrets`]).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sha2::Digest as _;
use url::Url;

use super::super::auth::base64;
use super::super::fetch::{self, Response, Unreachable};
use super::super::{Context, ProbeError, TlsSettings};
use crate::expect;
use crate::redact::Secrets;

/// The most bytes of a token answer read.
const TOKEN_BODY_LIMIT: u64 = 64 * 1024;

/// A token's life when the realm does not say (the distribution spec's
/// default, and its minimum).
const DEFAULT_TOKEN_LIFE: Duration = Duration::from_secs(60);

/// Tokens kept at most; past this, expired ones are dropped, then all.
const MAX_CACHED_TOKENS: usize = 1024;

/// How vouch authenticated, for evidence (never the credential itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuthUsed {
    /// No challenge came.
    #[default]
    None,
    /// HTTP Basic with the `basic:` credentials.
    Basic,
    /// A bearer token from a realm.
    Bearer {
        /// The realm's URL.
        realm: String,
        /// The `service` of the challenge.
        service: Option<String>,
        /// The scope asked for.
        scope: String,
        /// Whether the token was already held from an earlier request of the run.
        cached: bool,
    },
}

impl AuthUsed {
    /// The record for evidence.
    pub fn evidence(&self) -> Json {
        match self {
            AuthUsed::None => Json::from("none"),
            AuthUsed::Basic => Json::from("basic"),
            AuthUsed::Bearer {
                realm,
                service,
                scope,
                cached,
            } => serde_json::json!({
                "scheme": "bearer",
                "realm": realm,
                "service": service,
                "scope": scope,
                "token": if *cached { "held from earlier in the run" } else { "fetched" },
            }),
        }
    }
}

/// A token kept for the run: the realm, service, scope and user it was
/// asked for (with a hash of the password, not the password).
type TokenKey = (String, String, String, String);

/// Tokens by what they were asked for, with when they expire.
static TOKENS: LazyLock<Mutex<HashMap<TokenKey, (String, Instant)>>> =
    LazyLock::new(Mutex::default);

fn cached_token(key: &TokenKey) -> Option<String> {
    let tokens = TOKENS.lock().ok()?;
    tokens
        .get(key)
        .filter(|(_, expires)| *expires > Instant::now())
        .map(|(token, _)| token.clone())
}

fn keep_token(key: TokenKey, token: &str, life: Duration) {
    let Ok(mut tokens) = TOKENS.lock() else {
        return;
    };
    if tokens.len() >= MAX_CACHED_TOKENS {
        let now = Instant::now();
        tokens.retain(|_, (_, expires)| *expires > now);
        if tokens.len() >= MAX_CACHED_TOKENS {
            tokens.clear();
        }
    }
    // Renewed a little early: a token must not expire between two requests.
    let life = life.saturating_sub(Duration::from_secs(5));
    tokens.insert(key, (token.to_owned(), Instant::now() + life));
}

fn forget_token(key: &TokenKey) {
    if let Ok(mut tokens) = TOKENS.lock() {
        tokens.remove(key);
    }
}

/// What a request got: a response, or none (with the request, for evidence).
pub type Got = Result<Response, (fetch::Request, Unreachable)>;

/// One probe's conversation with a registry.
pub struct Session<'a> {
    cx: &'a Context,
    /// `scheme://host[:port]/`.
    pub base: Url,
    /// `repository:NAME:pull`, the scope asked for when a challenge names none.
    default_scope: String,
    tls: TlsSettings,
    basic: Option<(String, String)>,
    authorization: Option<String>,
    /// The token key of `authorization`, when it is a cached bearer token.
    token_key: Option<TokenKey>,
    /// How vouch authenticated.
    pub auth: AuthUsed,
    /// Why authentication could not be done, when it could not.
    pub auth_problem: Option<String>,
    /// Requests sent so far (token requests included).
    pub sent: u64,
    max: u64,
    /// The tokens received: the caller redacts them from what it records.
    pub secrets: Secrets,
}

impl<'a> Session<'a> {
    /// A session with `base` for a repository, sending at most `max` requests.
    pub fn new(
        cx: &'a Context,
        base: Url,
        repository: &str,
        tls: TlsSettings,
        basic: Option<(String, String)>,
        max: u64,
    ) -> Session<'a> {
        Session {
            cx,
            base,
            default_scope: format!("repository:{repository}:pull"),
            tls,
            basic,
            authorization: None,
            token_key: None,
            auth: AuthUsed::None,
            auth_problem: None,
            sent: 0,
            max,
            secrets: Secrets::default(),
        }
    }

    /// The context the session's requests run in.
    pub fn context(&self) -> &'a Context {
        self.cx
    }

    /// `base` joined with an API path (`/v2/…`).
    pub fn url(&self, path: &str) -> Result<Url, ProbeError> {
        self.base
            .join(path)
            .map_err(|e| ProbeError::Setup(format!("cannot build the URL of `{path}`: {e}")))
    }

    fn request(&self, url: Url, accept: &str, authorization: Option<&str>) -> fetch::Request {
        let mut headers = vec![("accept".to_owned(), accept.to_owned())];
        if let Some(value) = authorization {
            headers.push(("authorization".to_owned(), value.to_owned()));
        }
        fetch::Request {
            method: reqwest::Method::GET,
            url,
            headers,
            body: None,
            follow_redirects: true,
            tls: self.tls.clone(),
        }
    }

    /// Sends one request within the request cap.
    async fn send(
        &mut self,
        cx: &Context,
        request: fetch::Request,
    ) -> Result<Result<Response, (fetch::Request, Unreachable)>, ProbeError> {
        if self.sent >= self.max {
            let reason = format!(
                "vouch sends at most {} requests for one image probe; more were needed",
                self.max
            );
            return Ok(Err((
                request,
                Unreachable {
                    reason,
                    after: Duration::ZERO,
                },
            )));
        }
        self.sent += 1;
        Ok(match fetch::send(cx, &request).await? {
            Ok(response) => Ok(response),
            Err(unreachable) => Err((request, unreachable)),
        })
    }

    /// `GET url` with `accept`, answering authentication challenges.
    pub async fn get(&mut self, url: Url, accept: &str) -> Result<Got, ProbeError> {
        // A cached token the registry refuses (revoked, or the registry
        // restarted with another key) is dropped and fetched once more.
        let mut attempt = 0;
        loop {
            let request = self.request(url.clone(), accept, self.authorization.as_deref());
            let response = match self.send(self.cx, request).await? {
                Ok(response) => response,
                Err(failed) => return Ok(Err(failed)),
            };
            if response.status != 401 || attempt == 2 {
                return Ok(Ok(response));
            }
            let fresh = match (&self.auth, self.token_key.take()) {
                (AuthUsed::Bearer { cached: true, .. }, Some(key)) => {
                    forget_token(&key);
                    true
                }
                (AuthUsed::None, _) => true,
                // Credentials or a fresh token refused: that is the answer.
                _ => false,
            };
            if !fresh {
                return Ok(Ok(response));
            }
            match self.answer(&response).await? {
                Ok(Some(authorization)) => self.authorization = Some(authorization),
                Ok(None) => return Ok(Ok(response)),
                Err(problem) => {
                    self.auth_problem = Some(problem);
                    return Ok(Ok(response));
                }
            }
            attempt += 1;
        }
    }

    /// The `Authorization` value answering a 401's challenge: `Ok(None)`
    /// when it makes none vouch can answer, `Err` when answering failed.
    async fn answer(
        &mut self,
        response: &Response,
    ) -> Result<Result<Option<String>, String>, ProbeError> {
        let challenges: Vec<Challenge> = response
            .headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(fetch::header_str)
            .flat_map(parse_challenges)
            .collect();
        if let Some(bearer) = challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        {
            return self.bearer(bearer).await;
        }
        if challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("basic"))
        {
            return Ok(match &self.basic {
                Some((user, password)) => {
                    self.auth = AuthUsed::Basic;
                    Ok(Some(format!(
                        "Basic {}",
                        base64(format!("{user}:{password}").as_bytes())
                    )))
                }
                None => Err(
                    "the registry asks for HTTP Basic credentials: give `basic: {user, password}`"
                        .to_owned(),
                ),
            });
        }
        Ok(Ok(None))
    }

    /// A token for a `Bearer` challenge, from the cache or the realm.
    async fn bearer(
        &mut self,
        challenge: &Challenge,
    ) -> Result<Result<Option<String>, String>, ProbeError> {
        let Some(realm_text) = challenge.param("realm") else {
            return Ok(Err(
                "the registry's Bearer challenge names no realm".to_owned()
            ));
        };
        let realm = match Url::parse(realm_text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => url,
            _ => {
                return Ok(Err(format!(
                    "the token realm `{}` is not an HTTP(S) URL",
                    expect::excerpt(realm_text, 120)
                )));
            }
        };
        let service = challenge.param("service").map(str::to_owned);
        let scope = challenge
            .param("scope")
            .map_or_else(|| self.default_scope.clone(), str::to_owned);
        let user = self.basic.as_ref().map(|(user, password)| {
            let hash = sha2::Sha256::digest(format!("{user}:{password}").as_bytes());
            format!("{user}:{}", hex(&hash))
        });
        let key: TokenKey = (
            realm.as_str().to_owned(),
            service.clone().unwrap_or_default(),
            scope.clone(),
            user.unwrap_or_default(),
        );
        let mut used = AuthUsed::Bearer {
            realm: realm.as_str().to_owned(),
            service: service.clone(),
            scope: scope.clone(),
            cached: true,
        };
        if let Some(token) = cached_token(&key) {
            self.secrets.add(&token);
            self.auth = used;
            self.token_key = Some(key);
            return Ok(Ok(Some(format!("Bearer {token}"))));
        }
        if let AuthUsed::Bearer { cached, .. } = &mut used {
            *cached = false;
        }
        self.auth = used;
        // Credentials travel in clear text only where the registry itself is
        // spoken to in clear text.
        if self.basic.is_some() && realm.scheme() == "http" && self.base.scheme() == "https" {
            return Ok(Err(format!(
                "the token realm {realm} is plain HTTP while the registry is HTTPS: vouch does not send credentials there"
            )));
        }
        let mut url = realm.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = &service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", &scope);
        }
        let authorization = self.basic.as_ref().map(|(user, password)| {
            format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
        });
        let request = self.request(url, "application/json", authorization.as_deref());
        let cx = self.cx.with_body_limit(Some(TOKEN_BODY_LIMIT), 0);
        let response = match self.send(&cx, request).await? {
            Ok(response) => response,
            Err((_, unreachable)) => {
                return Ok(Err(format!(
                    "the token realm {realm} is unreachable: {}",
                    unreachable.reason
                )));
            }
        };
        if response.status != 200 {
            let hint = match (response.status, &self.basic) {
                (401 | 403, None) => ": it wants credentials, give `basic: {user, password}`",
                (401 | 403, Some(_)) => ": the `basic:` credentials were refused",
                _ => "",
            };
            return Ok(Err(format!(
                "the token realm {realm} answered {}{hint}",
                response.status
            )));
        }
        if response.truncated {
            return Ok(Err(format!(
                "the token realm's answer is larger than {}",
                expect::format_size(TOKEN_BODY_LIMIT)
            )));
        }
        let Ok(doc) = serde_json::from_slice::<Json>(&response.body) else {
            return Ok(Err("the token realm's answer is not JSON".to_owned()));
        };
        let token = doc["token"]
            .as_str()
            .or_else(|| doc["access_token"].as_str())
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()));
        let Some(token) = token else {
            return Ok(Err(
                "the token realm's answer holds no usable `token` or `access_token`".to_owned(),
            ));
        };
        self.secrets.add(token);
        let life = doc["expires_in"]
            .as_u64()
            .map_or(DEFAULT_TOKEN_LIFE, Duration::from_secs)
            .max(DEFAULT_TOKEN_LIFE);
        keep_token(key.clone(), token, life);
        self.token_key = Some(key);
        Ok(Ok(Some(format!("Bearer {token}"))))
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `algorithm:hex` of bytes, for the algorithms digests are written in.
pub fn digest_of(algorithm: &str, bytes: &[u8]) -> Option<String> {
    match algorithm {
        "sha256" => Some(format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)))),
        "sha512" => Some(format!("sha512:{}", hex(&sha2::Sha512::digest(bytes)))),
        _ => None,
    }
}

/// Whether `bytes` have the digest `digest` (`sha256:…`); `None` for an
/// algorithm vouch does not know.
pub fn has_digest(digest: &str, bytes: &[u8]) -> Option<bool> {
    let (algorithm, _) = digest.split_once(':')?;
    digest_of(algorithm, bytes).map(|d| d == digest)
}

/// The registry's error as people read it: `404 MANIFEST_UNKNOWN: manifest
/// unknown`, or the status and an excerpt of a body that is not the
/// registry's error shape.
pub fn registry_error(response: &Response) -> String {
    let doc: Option<Json> = serde_json::from_slice(&response.body).ok();
    let first = doc.as_ref().and_then(|d| d["errors"].get(0));
    match first {
        Some(error) => {
            let code = error["code"].as_str().unwrap_or("ERROR");
            let message = error["message"].as_str().unwrap_or("");
            format!(
                "{} {}{}",
                response.status,
                expect::excerpt(&expect::one_line(code), 60),
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", expect::excerpt(&expect::one_line(message), 120))
                }
            )
        }
        None if response.body.is_empty() => format!("HTTP {}", response.status),
        None => format!(
            "HTTP {}: {}",
            response.status,
            expect::one_line(&response.excerpt(80))
        ),
    }
}

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `Bearer`, `Basic`.
    pub scheme: String,
    /// Its parameters, names lowercase.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The challenges of one `WWW-Authenticate` value (RFC 9110 §11.6.1):
/// `Bearer realm="…",service="…",scope="…"`, several separated by commas.
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut challenges: Vec<Challenge> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let token_end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        if token_end == 0 {
            break;
        }
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if let Some(value_part) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let (value, remaining) = parse_param_value(value_part.trim_start());
            if let Some(current) = challenges.last_mut() {
                current.params.push((token.to_ascii_lowercase(), value));
            }
            rest = remaining;
        } else {
            challenges.push(Challenge {
                scheme: token.to_owned(),
                params: Vec::new(),
            });
            rest = after;
        }
    }
    challenges
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A parameter value (a token or a quoted string) and what follows it.
fn parse_param_value(text: &str) -> (String, &str) {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[i + 1..]),
                _ => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = text.find([',', ' ', '\t']).unwrap_or(text.len());
        (text[..end].to_owned(), &text[end..])
    }
}

/// The `rel="next"` target of a `Link` header, if any.
pub fn next_link(value: &str) -> Option<&str> {
    value.split(',').find_map(|link| {
        let link = link.trim();
        let (target, params) = link.strip_prefix('<')?.split_once('>')?;
        params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .any(|(name, value)| {
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
            .then_some(target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_gives_realm_service_and_scope() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:shop/api:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "Bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.example/token"));
        assert_eq!(c[0].param("service"), Some("registry.example"));
        assert_eq!(c[0].param("scope"), Some("repository:shop/api:pull"));
    }

    #[test]
    fn several_challenges_escapes_and_bare_tokens_parse() {
        let c = parse_challenges(
            r#"Basic realm="a \"quoted\" realm", Bearer realm=https://t.example/x, error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].param("realm"), Some(r#"a "quoted" realm"#));
        assert_eq!(c[1].scheme, "Bearer");
        assert_eq!(c[1].param("realm"), Some("https://t.example/x"));
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges("=,=\"").is_empty());
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://x/prev>; rel=prev, <https://x/next>; rel="next""#),
            Some("https://x/next")
        );
        assert_eq!(next_link(r#"<https://x/prev>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn digests_are_checked_by_their_algorithm() {
        let d = digest_of("sha256", b"").expect("known");
        assert_eq!(
            d,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(has_digest(&d, b""), Some(true));
        assert_eq!(has_digest(&d, b"x"), Some(false));
        assert_eq!(has_digest("md5:00", b""), None);
    }
}
