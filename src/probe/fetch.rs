//! HTTP exchanges shared by every HTTP-based kind: one pooled client per TLS
//! and redirect setting, trust from the system roots plus private CAs, and
//! response bodies read up to a cap, never further.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::time::Instant;
use url::Url;

use super::{Context, ProbeError, TlsSettings};
use crate::redact;

mod direct;

/// The most redirects followed before a probe fails with a redirect loop.
pub const MAX_REDIRECTS: usize = 10;

/// The most bytes of a response head (status line and header fields) read,
/// as browsers bound it (Chrome: 256 KiB); hyper's default is 100 fields,
/// which real responses pass (curl and browsers read them).
pub const MAX_HEAD_BYTES: usize = 256 * 1024;

/// The most header fields in a response head.
pub const MAX_HEADER_FIELDS: usize = 1024;

/// Why a response head was refused: the limits, named.
pub fn head_too_large() -> String {
    format!(
        "response head too large: vouch reads at most {} and {MAX_HEADER_FIELDS} header fields",
        crate::expect::format_size(MAX_HEAD_BYTES as u64)
    )
}

/// Pooled HTTP clients, built on first use and shared by every probe that
/// runs on the same thread: a connection's task belongs to the runtime that
/// opened it, and the runner gives each core a runtime of its own.
#[derive(Default)]
pub struct Clients {
    cache: Mutex<ClientCache>,
    idle: direct::Idle,
}

/// Clients by TLS settings, redirects followed at most (`None`: redirects
/// are answers), and thread.
type ClientCache =
    HashMap<(TlsSettings, Option<usize>, std::thread::ThreadId), Result<reqwest::Client, String>>;

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clients")
    }
}

impl Clients {
    /// The client for these settings (relative paths resolved against `base_dir`).
    pub fn get(
        &self,
        tls: &TlsSettings,
        follow_redirects: bool,
        base_dir: &Path,
    ) -> Result<reqwest::Client, ProbeError> {
        let redirects = follow_redirects.then_some(MAX_REDIRECTS);
        self.get_limited(tls, redirects, base_dir)
    }

    /// The client for these settings that follows at most `redirects`.
    fn get_limited(
        &self,
        tls: &TlsSettings,
        redirects: Option<usize>,
        base_dir: &Path,
    ) -> Result<reqwest::Client, ProbeError> {
        // Relative paths mean different files for different probe files.
        let tls = TlsSettings {
            ca: tls.ca.as_deref().map(|p| resolve(base_dir, p)),
            client_cert: tls.client_cert.as_deref().map(|p| resolve(base_dir, p)),
            client_key: tls.client_key.as_deref().map(|p| resolve(base_dir, p)),
            insecure: tls.insecure,
        };
        let tls = &tls;
        let key = (tls.clone(), redirects, std::thread::current().id());
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| ProbeError::Setup("client cache poisoned".to_owned()))?;
        cache
            .entry(key)
            .or_insert_with(|| build_client(tls, redirects, base_dir))
            .clone()
            .map_err(ProbeError::Setup)
    }
}

fn build_client(
    tls: &TlsSettings,
    redirects: Option<usize>,
    base_dir: &Path,
) -> Result<reqwest::Client, String> {
    let config = client_tls_config(tls, base_dir)?;
    let redirects = match redirects {
        Some(most) => reqwest::redirect::Policy::limited(most),
        None => reqwest::redirect::Policy::none(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .redirect(redirects)
        // Where a request came from is not the target's business (and the
        // direct path does not send it either).
        .referer(false)
        // The runner owns retries, and records every attempt.
        .retry(reqwest::retry::never())
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true)
        .http1_max_headers(MAX_HEADER_FIELDS)
        .http2_max_header_list_size(MAX_HEAD_BYTES as u32)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {}", error_chain(&e)))
}

/// The system's trusted roots, read once. `SSL_CERT_FILE` and `SSL_CERT_DIR`
/// are honoured (rustls-native-certs reads them).
fn system_roots() -> &'static Vec<CertificateDer<'static>> {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::debug!("reading system roots: {error}");
        }
        loaded.certs
    })
}

fn resolve(base_dir: &Path, path: &Path) -> std::path::PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base_dir.join(path)
    }
}

/// The crypto provider vouch uses everywhere (ring).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client configuration for TLS settings.
pub fn client_tls_config(
    tls: &TlsSettings,
    base_dir: &Path,
) -> Result<rustls::ClientConfig, String> {
    let roots = trust_roots(tls, base_dir)?;
    let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(crypto_provider())))
    } else {
        builder.with_root_certificates(roots)
    };
    let mut config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(&resolve(base_dir, cert))?;
            let key_path = resolve(base_dir, key);
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| format!("cannot read private key `{}`: {e}", key_path.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate rejected: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("`client_cert` and `client_key` must be given together".to_owned()),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The system roots plus `ca:` (when given), for verifiers built by hand.
pub fn trust_roots(tls: &TlsSettings, base_dir: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(system_roots().iter().cloned());
    if let Some(ca) = &tls.ca {
        let path = resolve(base_dir, ca);
        let certs = read_certs(&path)?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "`{}` holds no usable CA certificate",
                path.display()
            ));
        }
    }
    Ok(roots)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificates from `{}`: {e}", path.display()))?
        .collect();
    let certs = certs.map_err(|e| format!("invalid PEM in `{}`: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("`{}` holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// The verifier behind `insecure: true`: accepts any certificate, still checks signatures.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: reqwest::Method,
    /// The absolute URL.
    pub url: Url,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Bytes>,
    /// Whether to follow redirects.
    pub follow_redirects: bool,
    /// TLS settings of the probe, before defaults.
    pub tls: TlsSettings,
}

impl Request {
    /// A `GET` of a JSON API path under `base` (`/api/v1/rules` under
    /// `https://h/prom/` is `https://h/prom/api/v1/rules`), with the
    /// probe's own headers, `Accept: application/json` and `query`.
    pub fn api_get(
        base: &Url,
        api: &str,
        query: &[(&str, &str)],
        headers: &std::collections::BTreeMap<String, String>,
        tls: TlsSettings,
    ) -> Request {
        let mut url = base.clone();
        let path = format!("{}{api}", base.path().trim_end_matches('/'));
        url.set_path(&path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Request {
            method: reqwest::Method::GET,
            url,
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain(std::iter::once((
                    "accept".to_owned(),
                    "application/json".to_owned(),
                )))
                .collect(),
            body: None,
            follow_redirects: true,
            tls,
        }
    }

    /// The request's headers as a header map; an invalid name or value is a
    /// setup error.
    fn header_map(&self) -> Result<HeaderMap, ProbeError> {
        let mut headers = HeaderMap::with_capacity(self.headers.len() + 4);
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ProbeError::Setup(format!("invalid header name `{name}`")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ProbeError::Setup(format!("invalid value for header `{name}`")))?;
            headers.append(name, value);
        }
        Ok(headers)
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The HTTP version, e.g. `HTTP/1.1`.
    pub version: String,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most the body limit.
    pub body: Bytes,
    /// Whether the body was longer than the limit (and reading stopped there).
    pub truncated: bool,
    /// The URL of the final response, after redirects.
    pub final_url: Url,
    /// Time until the response headers arrived.
    pub headers_after: Duration,
    /// Time until the body was read.
    pub elapsed: Duration,
}

/// A header value as text when it is UTF-8. `HeaderValue::to_str` takes
/// visible ASCII only, which made a value with one non-ASCII character (a
/// bidi override, an accented name) read as an absent header.
pub fn header_str(value: &HeaderValue) -> Option<&str> {
    std::str::from_utf8(value.as_bytes()).ok()
}

impl Response {
    /// A header's value as text, if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(header_str)
    }

    /// The first `max` characters of the body as text (lossy), marked when
    /// cut; decodes only as much of the body as it shows (a lossy copy of a
    /// whole body that is not UTF-8 is up to three times its size).
    pub fn excerpt(&self, max: usize) -> String {
        body_excerpt(&self.body, max)
    }

    /// The media type, lowercase and without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// The first `max` characters of `bytes` as text (lossy), marked when cut.
/// Only a prefix is decoded: a character is at most four bytes, and a
/// broken one becomes one replacement character per byte or more, so
/// `4 × (max + 1)` bytes hold more than `max` characters whenever there are.
pub fn body_excerpt(bytes: &[u8], max: usize) -> String {
    let prefix = &bytes[..bytes.len().min(max.saturating_add(1).saturating_mul(4))];
    crate::expect::excerpt(&String::from_utf8_lossy(prefix), max).into_owned()
}

/// The first response of a probe's attempt, kept when a later probe of the
/// item captures values from it (`capture:`).
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Option<Response>>);

impl Recorder {
    /// Keeps `response` unless one is kept already.
    fn keep(&self, response: &Response) {
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.is_none() {
            *kept = Some(response.clone());
        }
    }

    /// The response kept, if any.
    pub fn take(&self) -> Option<Response> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Why no response could be had: the deployment's side (a `fail`).
#[derive(Debug, Clone)]
pub struct Unreachable {
    /// What happened, e.g. `connection refused`.
    pub reason: String,
    /// After how long.
    pub after: Duration,
}

/// Sends a request and reads the response, body capped at `cx.body_limit`.
/// `Ok(Err(_))` is a deployment-side failure, `Err(_)` a setup error.
pub async fn send(
    cx: &Context,
    request: &Request,
) -> Result<Result<Response, Unreachable>, ProbeError> {
    // The `oauth2:` token, for a request that brings no credentials of its own.
    let authorized;
    let request = match &cx.authorization {
        Some(value)
            if !request
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("authorization")) =>
        {
            let mut with = request.clone();
            with.headers
                .push(("authorization".to_owned(), value.to_string()));
            authorized = with;
            &authorized
        }
        _ => request,
    };
    let answer = send_authorized(cx, request).await;
    if let (Some(recorder), Ok(Ok(response))) = (&cx.recorder, &answer) {
        recorder.keep(response);
    }
    answer
}

async fn send_authorized(
    cx: &Context,
    request: &Request,
) -> Result<Result<Response, Unreachable>, ProbeError> {
    if direct::serves(&request.url) {
        // Trust files are read whatever the scheme: a missing CA is a
        // broken probe even when this hop needs none (and a redirect may).
        let names_files =
            |t: &TlsSettings| t.ca.is_some() || t.client_cert.is_some() || t.client_key.is_some();
        if names_files(&request.tls) || names_files(&cx.tls) {
            let tls = request.tls.or(&cx.tls);
            cx.clients
                .get(&tls, request.follow_redirects, &cx.base_dir)?;
        }
        return direct::send(cx, request).await;
    }
    let redirects = request.follow_redirects.then_some(MAX_REDIRECTS);
    send_pooled(cx, request, redirects, Instant::now()).await
}

/// [`send`] through reqwest's pooled client, following at most `redirects`;
/// timings count from `started`.
async fn send_pooled(
    cx: &Context,
    request: &Request,
    redirects: Option<usize>,
    started: Instant,
) -> Result<Result<Response, Unreachable>, ProbeError> {
    let tls = request.tls.or(&cx.tls);
    let client = cx.clients.get_limited(&tls, redirects, &cx.base_dir)?;
    let headers = request.header_map()?;
    let mut builder = client
        .request(request.method.clone(), request.url.clone())
        .headers(headers);
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let progress = cx.progress();
    // reqwest connects, shakes hands and waits for the head in one step.
    progress.phase(if request.url.scheme() == "https" {
        "waiting for the connection, the TLS handshake or the response headers"
    } else {
        "waiting for the connection or the response headers"
    });
    let mut response = match builder.send().await {
        Ok(r) => r,
        Err(e) => {
            return Ok(Err(Unreachable {
                reason: describe_error(&e, &request.url),
                after: started.elapsed(),
            }));
        }
    };
    let headers_after = started.elapsed();
    // hyper bounds HTTP/1 heads by its read buffer (400 KiB), not by size:
    // the same limit as on the direct path is applied here.
    if head_size(response.headers()) > MAX_HEAD_BYTES {
        return Ok(Err(Unreachable {
            reason: head_too_large(),
            after: headers_after,
        }));
    }
    let status = response.status().as_u16();
    let version = format!("{:?}", response.version());
    let final_url = response.url().clone();
    let response_headers = std::mem::take(response.headers_mut());
    progress.step(format!(
        "{status} received after {}",
        format_latency(headers_after)
    ));
    progress.phase("reading the body");
    let limit = usize::try_from(cx.body_limit).unwrap_or(usize::MAX);
    let announced = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok());
    let mut body = Capped::new(limit, announced);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.keep(&chunk);
                progress.body_read(body.len());
                if body.truncated() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Ok(Err(Unreachable {
                    reason: format!("reading the body: {}", describe_error(&e, &final_url)),
                    after: started.elapsed(),
                }));
            }
        }
    }
    Ok(Ok(Response {
        status,
        version,
        headers: response_headers,
        truncated: body.truncated(),
        body: body.into_bytes(),
        final_url,
        headers_after,
        elapsed: started.elapsed(),
    }))
}

/// Body bytes up to a cap; what goes beyond is dropped and noted.
///
/// Memory stays near one body limit per probe: the buffer is reserved once
/// (the announced length, or small and then the whole limit), never doubled
/// towards the limit, because a growing buffer holds its old and new copies
/// at once and the allocator keeps the discarded ones: a chunked body grown
/// by doubling to a 64 MiB cap peaked at 2.8 times the cap.
pub(crate) struct Capped {
    body: Vec<u8>,
    limit: usize,
    truncated: bool,
}

/// Up to this size a body of unknown length grows by doubling; past it, the
/// buffer is reserved once for the whole limit (untouched pages cost no memory).
const SMALL_BODY: usize = 64 * 1024;

impl Capped {
    /// An empty body; one allocation when the length is announced (a lying
    /// length costs at most the limit, reserved, not touched).
    pub(crate) fn new(limit: usize, announced: Option<usize>) -> Capped {
        let mut body = Vec::new();
        // A reservation the system refuses (a huge limit and a lying
        // length) is not made: the body then grows as it comes.
        let _ = body.try_reserve_exact(announced.unwrap_or(0).min(limit));
        Capped {
            body,
            limit,
            truncated: false,
        }
    }

    /// Keeps what fits of `data`.
    pub(crate) fn keep(&mut self, data: &[u8]) {
        let room = self.limit.saturating_sub(self.body.len());
        let mut take = data.len().min(room);
        let spare = self.body.capacity() - self.body.len();
        if take > spare && !self.grow(take) {
            // Out of memory before the limit: keep what fits, as if cut there.
            take = spare;
        }
        self.body.extend_from_slice(&data[..take]);
        self.truncated |= take < data.len();
    }

    /// Makes room for `more` bytes: doubling while the body is small, then
    /// the whole limit at once, or as needed when the system refuses that.
    fn grow(&mut self, more: usize) -> bool {
        let needed = self.body.len() + more;
        let target = if needed <= SMALL_BODY {
            needed.max(self.body.capacity() * 2).clamp(1024, SMALL_BODY)
        } else {
            self.limit
        };
        let target = target.min(self.limit).max(needed);
        self.body
            .try_reserve_exact(target - self.body.len())
            .or_else(|_| self.body.try_reserve(more))
            .is_ok()
    }

    /// Bytes kept so far.
    pub(crate) fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the body went past the limit.
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }

    /// The kept bytes, without a copy.
    pub(crate) fn into_bytes(self) -> Bytes {
        Bytes::from(self.body)
    }

    /// The kept bytes as a vector, without a copy.
    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.body
    }
}

/// For decoders that write what they decode.
impl std::io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.keep(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reqwest error as people read it: the innermost causes, not "error
/// sending request"; the hop named when it was not the URL asked for.
fn describe_error(error: &reqwest::Error, asked: &Url) -> String {
    if error.is_redirect() {
        return format!("redirect loop or more than {MAX_REDIRECTS} redirects");
    }
    let reason = if is_head_too_large(error) {
        head_too_large()
    } else {
        error_chain(error)
    };
    match error.url() {
        Some(hop) if hop != asked => format!("redirected → {hop}: {reason}"),
        _ => reason,
    }
}

/// Whether hyper refused a response head for its size or field count.
pub fn is_head_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse_too_large)
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// The size of a response head as sent: each field as `name: value\r\n`.
fn head_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// An error and its causes, deduplicated, joined by `: `, in the house style
/// (`tcp connect error: connection refused`).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = tidy(&e.to_string());
        // reqwest's and hyper's outer messages repeat the URL or say nothing new.
        let noise = text.starts_with("error sending request") || text.starts_with("client error (");
        // A cause often repeats its wrapper's text in other case
        // (`Message too long: message too long`): each is said once.
        let folded = text.to_lowercase();
        if !noise && !text.is_empty() {
            match parts
                .iter()
                .position(|p| p.to_lowercase().contains(&folded))
            {
                Some(_) => {}
                None => {
                    // A cause that says more than an earlier part replaces it.
                    parts.retain(|p| !folded.contains(&p.to_lowercase()));
                    parts.push(text);
                }
            }
        }
        current = e.source();
    }
    if parts.is_empty() {
        tidy(&error.to_string())
    } else {
        parts.join(": ")
    }
}

/// Lowercases the first letter and drops `(os error N)`.
fn tidy(text: &str) -> String {
    let text = match text.find(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if chars.clone().next().is_some_and(char::is_lowercase) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

/// Response headers as a JSON object (multi-valued headers as arrays),
/// credential headers already masked.
pub fn headers_json(headers: &HeaderMap) -> serde_json::Value {
    headers_json_where(headers, &|_| true)
}

/// [`headers_json`] of the headers `keep` accepts (by lowercase name).
pub fn headers_json_where(headers: &HeaderMap, keep: &dyn Fn(&str) -> bool) -> serde_json::Value {
    use serde_json::Value;
    // One pass in wire order; a repeated header becomes an array.
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        if !keep(name.as_str()) {
            continue;
        }
        let value: Value = if redact::is_credential_header(name.as_str()) {
            Value::String(redact::REDACTED.to_owned())
        } else {
            match value.to_str() {
                Ok(text) => Value::String(text.to_owned()),
                Err(_) => Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            }
        };
        match map.get_mut(name.as_str()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                map.insert(name.as_str().to_owned(), Value::Array(vec![first, value]));
            }
            None => {
                map.insert(name.as_str().to_owned(), value);
            }
        }
    }
    Value::Object(map)
}

/// Milliseconds with a fraction, for evidence.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A latency as people read it: `12 ms`, `1.20 s`.
pub fn format_latency(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a message and an optional cause, like tungstenite's and io's.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    // Issue 15: `Message too long: …: message too long: …` said its cause twice.
    #[test]
    fn a_cause_repeating_its_wrapper_in_other_case_is_said_once() {
        let error = Layer(
            "Space limit exceeded: Message too long: 20 > 16",
            Some(Box::new(Layer("Message too long: 20 > 16", None))),
        );
        assert_eq!(
            error_chain(&error),
            "space limit exceeded: Message too long: 20 > 16"
        );
        let error = Layer(
            "WebSocket protocol error: Key mismatch in \"Sec-WebSocket-Accept\" header",
            Some(Box::new(Layer(
                "Key mismatch in \"Sec-WebSocket-Accept\" header",
                None,
            ))),
        );
        let text = error_chain(&error);
        assert_eq!(
            text.to_lowercase().matches("key mismatch").count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn distinct_causes_are_joined_and_a_fuller_one_replaces_its_prefix() {
        let error = Layer(
            "tcp connect error",
            Some(Box::new(Layer("Connection refused (os error 111)", None))),
        );
        assert_eq!(error_chain(&error), "tcp connect error: connection refused");
        let error = Layer(
            "invalid gzip",
            Some(Box::new(Layer("invalid gzip header", None))),
        );
        assert_eq!(error_chain(&error), "invalid gzip header");
    }

    #[test]
    fn a_body_is_reserved_once_and_cut_at_the_limit() {
        let mut body = Capped::new(100, None);
        body.keep(&[1; 60]);
        body.keep(&[2; 60]);
        assert!(body.truncated());
        assert_eq!(body.len(), 100);
        let mut body = Capped::new(1 << 20, Some(10));
        body.keep(&[0; 10]);
        body.keep(&[0; SMALL_BODY]);
        // Past the small size, the whole limit is reserved at once.
        assert_eq!(body.body.capacity(), 1 << 20);
        assert!(!body.truncated());
    }

    #[test]
    fn a_limit_too_large_to_reserve_grows_as_the_body_comes() {
        let huge = usize::MAX / 2;
        let mut body = Capped::new(huge, Some(huge));
        body.keep(&[7; 3 * SMALL_BODY]);
        assert_eq!(body.len(), 3 * SMALL_BODY);
        assert!(!body.truncated());
    }

    #[test]
    fn an_excerpt_decodes_only_what_it_shows() {
        let mut bytes = vec![0xff; 10_000];
        bytes.extend_from_slice(b"tail");
        let excerpt = body_excerpt(&bytes, 5);
        assert_eq!(excerpt, "\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}…");
        assert_eq!(body_excerpt("héllo".as_bytes(), 10), "héllo");
        assert_eq!(body_excerpt("héllo wörld".as_bytes(), 5), "héllo…");
    }
}
