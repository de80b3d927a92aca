//! Plain `http://` exchanges on hyper directly, on keep-alive connections
//! pooled per thread and origin, like oha. The reqwest stack behind
//! [`super::send`] costs about twice as much per request, and most probes of
//! a large run are plain HTTP to one origin. Everything else (HTTPS, a proxy
//! from the environment, credentials in the URL) goes through reqwest, and so
//! does a redirect chain from the hop that leaves plain HTTP.
//!
//! What reqwest did for these requests is done here too: default `User-Agent`,
//! `Accept` and `Accept-Encoding: gzip` headers; gzip bodies decompressed,
//! with the cap counted on decompressed bytes; redirects followed up to
//! [`MAX_REDIRECTS`], with the method and body rules of RFC 9110 and
//! credential headers dropped when the origin changes.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use url::Url;

use super::{
    Capped, MAX_HEAD_BYTES, MAX_HEADER_FIELDS, MAX_REDIRECTS, Request, Response, Unreachable,
    error_chain, format_latency,
};
use crate::probe::{Context, ProbeError};
use crate::redact;

type Sender = SendRequest<Full<Bytes>>;

/// The most idle connections kept per thread and origin.
const MAX_IDLE: usize = 256;

/// The most of a redirect's own body read so its connection can be reused;
/// a longer one closes the connection instead.
const REDIRECT_BODY_DRAIN: usize = 64 * 1024;

/// Idle keep-alive connections, per thread (a connection's task belongs to
/// the runtime of the thread that opened it) and per `host:port`.
#[derive(Default)]
pub struct Idle {
    senders: Mutex<HashMap<ThreadId, HashMap<String, Vec<Sender>>>>,
}

impl Idle {
    fn take(&self, authority: &str) -> Option<Sender> {
        let mut senders = self.senders.lock().ok()?;
        let idle = senders
            .get_mut(&std::thread::current().id())?
            .get_mut(authority)?;
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn put(&self, authority: &str, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let Ok(mut senders) = self.senders.lock() else {
            return;
        };
        let origins = senders.entry(std::thread::current().id()).or_default();
        let idle = match origins.get_mut(authority) {
            Some(idle) => idle,
            None => origins.entry(authority.to_owned()).or_default(),
        };
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

/// Whether this module serves `url`: plain HTTP, no credentials in the URL
/// (reqwest turns them into `Authorization`), and no proxy in the environment.
pub fn serves(url: &Url) -> bool {
    url.scheme() == "http"
        && url.username().is_empty()
        && url.password().is_none()
        && url.host_str().is_some()
        && !http_proxy_configured()
}

/// Whether the environment names a proxy for plain HTTP (read once). Then
/// reqwest, which knows `NO_PROXY`, carries every request.
fn http_proxy_configured() -> bool {
    static CONFIGURED: OnceLock<bool> = OnceLock::new();
    *CONFIGURED.get_or_init(|| {
        ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    })
}

/// One hop of a request: what is sent to one URL.
struct Hop {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Bytes,
}

impl Hop {
    fn first(request: &Request) -> Result<Hop, ProbeError> {
        let headers = request.header_map()?;
        let method = Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|_| ProbeError::Setup(format!("invalid method `{}`", request.method)))?;
        Ok(Hop {
            method,
            url: request.url.clone(),
            headers,
            body: request.body.clone().unwrap_or_default(),
        })
    }

    /// The next hop after a redirect to `next` (RFC 9110 §15.4, as reqwest
    /// does it): 301, 302 and 303 turn a request other than `GET`/`HEAD` into
    /// a `GET` without body; credentials stay with their origin.
    fn redirected(mut self, status: StatusCode, next: Url) -> Hop {
        if matches!(status.as_u16(), 301..=303) {
            self.body = Bytes::new();
            for name in [
                header::CONTENT_TYPE,
                header::CONTENT_LENGTH,
                header::CONTENT_ENCODING,
                header::TRANSFER_ENCODING,
            ] {
                self.headers.remove(name);
            }
            if self.method != Method::GET && self.method != Method::HEAD {
                self.method = Method::GET;
            }
        }
        if next.origin() != self.url.origin() {
            let credentials: Vec<HeaderName> = self
                .headers
                .keys()
                .filter(|name| redact::is_credential_header(name.as_str()) || *name == "cookie2")
                .cloned()
                .collect();
            for name in credentials {
                self.headers.remove(name);
            }
            self.headers.remove(header::HOST);
        }
        self.url = next;
        self
    }

    /// This hop as a request for reqwest, which carries the chain on.
    fn into_request(self, from: &Request) -> Request {
        Request {
            method: self.method,
            url: self.url,
            headers: self
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body: (!self.body.is_empty()).then_some(self.body),
            follow_redirects: from.follow_redirects,
            tls: from.tls.clone(),
        }
    }
}

/// Sends `request` (which [`serves`] accepts) and reads the response.
pub async fn send(
    cx: &Context,
    request: &Request,
) -> Result<Result<Response, Unreachable>, ProbeError> {
    let started = Instant::now();
    let mut hop = Hop::first(request)?;
    let mut redirects = 0;
    // The status that sent us to this hop, to name the hop when it fails.
    let mut redirected_by: Option<StatusCode> = None;
    cx.progress().exchange();
    loop {
        let authority = authority(&hop.url);
        let (sender, response) = match exchange(cx, &hop, &authority).await {
            Ok(exchanged) => exchanged,
            Err(reason) => {
                let reason = match redirected_by {
                    Some(status) => format!("{} → {}: {reason}", status.as_u16(), hop.url),
                    None => reason,
                };
                return Ok(Err(Unreachable {
                    reason,
                    after: started.elapsed(),
                }));
            }
        };
        let status = response.status();
        let next = if request.follow_redirects && status.is_redirection() {
            response
                .headers()
                .get(header::LOCATION)
                .and_then(|location| location.to_str().ok())
                .and_then(|location| hop.url.join(location).ok())
                .filter(|next| matches!(next.scheme(), "http" | "https"))
        } else {
            None
        };
        let Some(next) = next else {
            return Ok(read(cx, response, sender, &authority, &hop, started).await);
        };
        if redirects == MAX_REDIRECTS {
            return Ok(Err(Unreachable {
                reason: format!(
                    "redirect loop or more than {MAX_REDIRECTS} redirects (the last: {} → {next})",
                    status.as_u16()
                ),
                after: started.elapsed(),
            }));
        }
        redirects += 1;
        cx.progress().step(format!("{} → {next}", status.as_u16()));
        drain(cx, response, sender, &authority).await;
        hop = hop.redirected(status, next);
        redirected_by = Some(status);
        if !serves(&hop.url) {
            let left = MAX_REDIRECTS - redirects;
            let from = format!("{} → {}", status.as_u16(), hop.url);
            let onward = hop.into_request(request);
            let sent = super::send_pooled(cx, &onward, Some(left), started).await?;
            // A hop that fails is named, as on this path.
            return Ok(sent.map_err(|mut unreachable| {
                unreachable.reason = format!("{from}: {}", unreachable.reason);
                unreachable
            }));
        }
    }
}

/// `host:port` as the `Host` header and the pool key.
fn authority(url: &Url) -> String {
    url[url::Position::BeforeHost..url::Position::AfterPort].to_owned()
}

/// Sends one hop on a pooled or fresh connection; the response's head.
async fn exchange(
    cx: &Context,
    hop: &Hop,
    authority: &str,
) -> Result<(Sender, hyper::Response<Incoming>), String> {
    let mut sender = match cx.clients.idle.take(authority) {
        Some(sender) => sender,
        None => connect(cx, &hop.url, authority).await?,
    };
    if sender.ready().await.is_err() {
        sender = connect(cx, &hop.url, authority).await?;
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {}", error_chain(&e)))?;
    }
    let target = &hop.url[url::Position::BeforePath..url::Position::AfterQuery];
    let uri: Uri = target
        .parse()
        .map_err(|_| format!("invalid request target `{target}`"))?;
    let mut request = hyper::Request::new(Full::new(hop.body.clone()));
    *request.method_mut() = hop.method.clone();
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.clone_from(&hop.headers);
    if !headers.contains_key(header::HOST) {
        let host =
            HeaderValue::from_str(authority).map_err(|_| format!("invalid host `{authority}`"))?;
        headers.insert(header::HOST, host);
    }
    headers
        .entry(header::USER_AGENT)
        .or_insert(HeaderValue::from_static(concat!(
            "vouch/",
            env!("CARGO_PKG_VERSION")
        )));
    headers
        .entry(header::ACCEPT)
        .or_insert(HeaderValue::from_static("*/*"));
    if !headers.contains_key(header::ACCEPT_ENCODING) && !headers.contains_key(header::RANGE) {
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    }
    cx.progress().phase("waiting for the response headers");
    let response = sender.send_request(request).await.map_err(|e| {
        if super::is_head_too_large(&e) {
            super::head_too_large()
        } else {
            error_chain(&e)
        }
    })?;
    Ok((sender, response))
}

/// Opens a connection to the URL's host, with the head limits of
/// [`MAX_HEAD_BYTES`] and [`MAX_HEADER_FIELDS`].
async fn connect(cx: &Context, url: &Url, authority: &str) -> Result<Sender, String> {
    cx.progress().phase(format!("connecting to {authority}"));
    let started = Instant::now();
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("tcp connect error: {}", error_chain(&e)))?;
    let _ = stream.set_nodelay(true);
    cx.progress().step(format!(
        "connected in {}",
        format_latency(started.elapsed())
    ));
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_headers(MAX_HEADER_FIELDS)
        .max_header_size(MAX_HEAD_BYTES)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| error_chain(&e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Reads a redirect's body so the connection can carry the next request, or
/// drops the connection when the body is long or broken.
async fn drain(cx: &Context, response: hyper::Response<Incoming>, sender: Sender, authority: &str) {
    let mut body = response.into_body();
    let mut read = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return };
        if let Some(data) = frame.data_ref() {
            read += data.len();
            if read > REDIRECT_BODY_DRAIN {
                return;
            }
        }
    }
    cx.clients.idle.put(authority, sender);
}

/// Reads the final response, body capped at `cx.body_limit` (decompressed
/// bytes for gzip), and returns the connection to the pool when it is clean.
async fn read(
    cx: &Context,
    response: hyper::Response<Incoming>,
    sender: Sender,
    authority: &str,
    hop: &Hop,
    started: Instant,
) -> Result<Response, Unreachable> {
    let headers_after = started.elapsed();
    let (mut parts, mut incoming) = response.into_parts();
    let progress = cx.progress();
    progress.step(format!(
        "{} received after {}",
        parts.status.as_u16(),
        format_latency(headers_after)
    ));
    progress.phase("reading the body");
    let limit = usize::try_from(cx.body_limit).unwrap_or(usize::MAX);
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let gzip = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let mut body = if gzip {
        parts.headers.remove(header::CONTENT_ENCODING);
        parts.headers.remove(header::CONTENT_LENGTH);
        Body::Gzip(Box::new(flate2::write::GzDecoder::new(Capped::new(
            limit, None,
        ))))
    } else {
        Body::Plain(Capped::new(limit, announced))
    };
    let failed = |reason: String| Unreachable {
        reason: format!("reading the body: {reason}"),
        after: started.elapsed(),
    };
    let mut complete = true;
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| failed(error_chain(&e)))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        body.push(data).map_err(failed)?;
        progress.body_read(body.capped().len());
        if body.capped().truncated() {
            complete = false;
            break;
        }
    }
    let capped = body.finish().map_err(failed)?;
    if complete {
        cx.clients.idle.put(authority, sender);
    }
    Ok(Response {
        status: parts.status.as_u16(),
        version: format!("{:?}", parts.version),
        headers: parts.headers,
        truncated: capped.truncated(),
        body: capped.into_bytes(),
        final_url: hop.url.clone(),
        headers_after,
        elapsed: started.elapsed(),
    })
}

/// A body as it arrives: as is, or through a gzip decoder.
enum Body {
    Plain(Capped),
    Gzip(Box<flate2::write::GzDecoder<Capped>>),
}

impl Body {
    fn push(&mut self, data: &[u8]) -> Result<(), String> {
        match self {
            Body::Plain(capped) => {
                capped.keep(data);
                Ok(())
            }
            Body::Gzip(decoder) => decoder
                .write_all(data)
                .map_err(|e| format!("invalid gzip data: {e}")),
        }
    }

    fn capped(&self) -> &Capped {
        match self {
            Body::Plain(capped) => capped,
            Body::Gzip(decoder) => decoder.get_ref(),
        }
    }

    fn finish(self) -> Result<Capped, String> {
        match self {
            Body::Plain(capped) => Ok(capped),
            // A stream cut short is not an error when the cap cut it.
            Body::Gzip(mut decoder) if decoder.get_ref().truncated() => {
                Ok(std::mem::replace(decoder.get_mut(), Capped::new(0, None)))
            }
            Body::Gzip(decoder) => decoder
                .finish()
                .map_err(|e| format!("invalid gzip data: {e}")),
        }
    }
}
