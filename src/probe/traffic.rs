//! The HTTP/1.1 client behind the traffic kinds (`rate_limit`, `load`): one
//! keep-alive connection per virtual user, on hyper directly, like oha. The
//! shared reqwest layer (`fetch`) costs too much per request to generate load.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

use super::fetch::{self, error_chain};
use super::{Context, ProbeError, TlsSettings};

/// The method and URL of `get: /path`, `post: /path`, or `method` + `url`
/// (default `GET`), as the traffic kinds write them.
pub fn method_and_url(
    get: Option<&str>,
    post: Option<&str>,
    url: Option<&str>,
    method: Option<&str>,
) -> Result<(String, String), String> {
    match (get, post, url) {
        (Some(u), None, None) if method.is_none() => Ok(("GET".to_owned(), u.to_owned())),
        (None, Some(u), None) if method.is_none() => Ok(("POST".to_owned(), u.to_owned())),
        (None, None, Some(u)) => Ok((method.unwrap_or("GET").to_owned(), u.to_owned())),
        (None, None, None) => Err("give the URL: `get: /path` or `url:`".to_owned()),
        _ => Err("give the URL once: `get:`, `post:`, or `method` + `url`".to_owned()),
    }
}

/// Where a traffic probe sends its requests, and what it sends.
pub struct Endpoint {
    /// The absolute URL.
    pub url: Url,
    /// The method.
    pub method: Method,
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// One open keep-alive connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

/// The head of an answer (the body was read and dropped).
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
}

/// Why an exchange got no answer, grouped for counts (`connection refused`,
/// `timed out after 5s`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Failure {
    /// Why, as people read it.
    pub reason: String,
    /// No connection could be opened (TCP or TLS): the request never left.
    pub unconnected: bool,
}

impl Failure {
    /// No connection could be opened.
    pub fn connecting(reason: String) -> Failure {
        Failure {
            reason,
            unconnected: true,
        }
    }

    /// The connection was open: the request was sent, or being sent.
    pub fn exchanging(reason: String) -> Failure {
        Failure {
            reason,
            unconnected: false,
        }
    }
}

impl Endpoint {
    /// Resolves `url` against the target and prepares the request.
    pub fn new(
        cx: &Context,
        url: &str,
        method: &str,
        headers: &BTreeMap<String, String>,
        body: Option<&str>,
        tls: &TlsSettings,
    ) -> Result<Endpoint, ProbeError> {
        let url = cx.resolve(url)?;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(ProbeError::Setup(format!(
                    "`{url}`: scheme `{other}` is not HTTP; traffic probes speak http and https"
                )));
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| ProbeError::Setup(format!("`{url}` has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| ProbeError::Setup(format!("invalid method `{method}`")))?;
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let uri: Uri = path
            .parse()
            .map_err(|_| ProbeError::Setup(format!("invalid request target `{path}`")))?;
        let mut map = HeaderMap::with_capacity(headers.len() + 2);
        let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
        map.insert(
            hyper::header::HOST,
            HeaderValue::from_str(authority)
                .map_err(|_| ProbeError::Setup(format!("invalid host `{authority}`")))?,
        );
        map.insert(
            hyper::header::USER_AGENT,
            HeaderValue::from_static(concat!("vouch/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ProbeError::Setup(format!("invalid header name `{name}`")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| ProbeError::Setup(format!("invalid value for header `{name}`")))?;
            map.insert(header, value);
        }
        // The `oauth2:` token, unless the probe sends credentials of its own.
        if let Some(authorization) = &cx.authorization
            && !map.contains_key(hyper::header::AUTHORIZATION)
        {
            let value = HeaderValue::from_str(authorization).map_err(|_| {
                ProbeError::Setup("the OAuth2 token is not a valid header value".to_owned())
            })?;
            map.insert(hyper::header::AUTHORIZATION, value);
        }
        let tls = if https {
            let settings = tls.or(&cx.tls);
            let mut config =
                fetch::client_tls_config(&settings, &cx.base_dir).map_err(ProbeError::Setup)?;
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            let name = ServerName::try_from(host.clone())
                .map_err(|_| ProbeError::Setup(format!("invalid TLS server name `{host}`")))?;
            Some((TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Endpoint {
            url,
            method,
            host,
            port,
            tls,
            uri,
            headers: map,
            body: Bytes::from(body.unwrap_or_default().to_owned()),
        })
    }

    /// `GET http://host/path`, for summaries.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.url)
    }

    /// Opens a connection (TCP, then TLS for https).
    async fn connect(&self) -> Result<Connection, Failure> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| Failure::connecting(error_chain(&e)))?;
        let _ = stream.set_nodelay(true);
        let sender = match &self.tls {
            None => handshake(stream).await?,
            Some((connector, name)) => {
                let stream = connector.connect(name.clone(), stream).await.map_err(|e| {
                    Failure::connecting(format!("TLS handshake: {}", error_chain(&e)))
                })?;
                handshake(stream).await?
            }
        };
        Ok(Connection { sender })
    }

    /// One exchange on `connection` (opened first when there is none), the
    /// body read and dropped, all within `timeout`. A failed exchange closes
    /// the connection; the next one opens a fresh one.
    pub async fn exchange(
        &self,
        connection: &mut Option<Connection>,
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        // Whether a connection was open when time ran out: a timeout while
        // connecting means the request never left.
        let mut connected = false;
        let result =
            tokio::time::timeout(timeout, self.exchange_inner(connection, &mut connected)).await;
        match result {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(failure)) => {
                *connection = None;
                Err(failure)
            }
            Err(_) => {
                *connection = None;
                let reason = format!("timed out after {}", humantime::format_duration(timeout));
                Err(Failure {
                    reason,
                    unconnected: !connected,
                })
            }
        }
    }

    async fn exchange_inner(
        &self,
        connection: &mut Option<Connection>,
        connected: &mut bool,
    ) -> Result<Answer, Failure> {
        // A connection the server closed is replaced; a live one may still
        // be finishing the last exchange, so wait for it rather than open
        // another (which would cost a handshake per request).
        let conn = match connection {
            Some(conn) if !conn.sender.is_closed() => conn,
            _ => connection.insert(self.connect().await?),
        };
        if conn.sender.ready().await.is_err() {
            *conn = self.connect().await?;
        }
        *connected = true;
        let mut request = hyper::Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        let response = conn
            .sender
            .send_request(request)
            .await
            .map_err(|e| Failure::exchanging(error_chain(&e)))?;
        let (parts, mut body) = response.into_parts();
        // Read to the end so the connection can carry the next request;
        // nothing is kept, so memory stays bounded whatever the body size.
        while let Some(frame) = body.frame().await {
            frame.map_err(|e| {
                Failure::exchanging(format!("reading the body: {}", error_chain(&e)))
            })?;
        }
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
        })
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::connecting(error_chain(&e)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Whether a header is one of the rate-limit family (IETF `RateLimit`,
/// `RateLimit-Policy`, `RateLimit-*`, `X-RateLimit-*`, `X-Rate-Limit-*`,
/// `Retry-After`); `name` lowercase.
pub fn is_limit_header(name: &str) -> bool {
    name.starts_with("ratelimit")
        || name.starts_with("x-ratelimit")
        || name.starts_with("x-rate-limit")
        || name == "retry-after"
}

/// A header's values as one string (repeated fields joined by `, `), or
/// `None` when the response has no such header.
pub fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    let first = values.next()?;
    Some(values.fold(first.into_owned(), |mut all, v| {
        all.push_str(", ");
        all.push_str(&v);
        all
    }))
}

/// The headers worth keeping as evidence: the rate-limit ones and those
/// named in expectations (`named`, lowercase), names lowercase. Expectations
/// are judged on every header; only the record stays small.
pub fn kept_headers(headers: &HeaderMap, named: &[String]) -> BTreeMap<String, String> {
    headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|name| is_limit_header(name) || named.iter().any(|n| n == name))
        .filter_map(|name| Some((name.to_owned(), header_value(headers, name)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_limit_headers_and_the_named_ones() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-policy", HeaderValue::from_static("10;w=1"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("retry-after", HeaderValue::from_static("1"));
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.insert("server", HeaderValue::from_static("x"));
        let kept = kept_headers(&headers, &[]);
        assert_eq!(
            kept.keys().collect::<Vec<_>>(),
            ["ratelimit-policy", "retry-after", "x-ratelimit-remaining"]
        );
        let kept = kept_headers(&headers, &["content-type".to_owned()]);
        assert_eq!(
            kept.get("content-type").map(String::as_str),
            Some("text/plain")
        );
        assert!(!kept.contains_key("server"));
    }

    #[test]
    fn repeated_fields_read_as_one_value() {
        let mut headers = HeaderMap::new();
        headers.append("vary", HeaderValue::from_static("accept"));
        headers.append("vary", HeaderValue::from_static("origin"));
        assert_eq!(
            header_value(&headers, "vary").as_deref(),
            Some("accept, origin")
        );
        assert_eq!(header_value(&headers, "etag"), None);
    }
}
