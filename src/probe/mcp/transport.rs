//! The Streamable HTTP transport as a client sees it: JSON-RPC messages
//! POSTed with `Accept: application/json, text/event-stream`, answers read as
//! JSON or as an SSE stream (stopping at our response), `Mcp-Session-Id` and
//! `MCP-Protocol-Version` carried on every later request, and every exchange
//! recorded as evidence.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value as Json, json};
use tokio::time::Instant;
use url::Url;

use super::super::fetch;
use super::super::progress::Progress;
use super::super::{Context, ProbeError, TlsSettings};
use crate::expect;
use crate::redact;

/// The most SSE events read while waiting for one response (notifications
/// and requests from the server in between).
const MAX_EVENTS: usize = 10_000;

/// An MCP client session over one endpoint.
pub struct Session<'a> {
    cx: &'a Context,
    client: reqwest::Client,
    url: Url,
    headers: Vec<(String, String)>,
    /// The `Mcp-Session-Id` the server assigned at initialize, if any.
    pub session_id: Option<String>,
    /// The negotiated protocol revision, sent as `MCP-Protocol-Version` once known.
    pub protocol: Option<String>,
    next_id: i64,
    /// One record per HTTP exchange, in order.
    pub exchanges: Vec<Json>,
}

/// A JSON-RPC answer as it came over the transport.
#[derive(Debug)]
pub struct Reply {
    /// The response headers.
    pub headers: HeaderMap,
    /// The request id we sent (`None` for notifications).
    pub id: Option<Json>,
    /// The JSON-RPC response with our id (`None` for notifications).
    pub message: Option<Json>,
    /// Time to the response (for SSE: to the event that carried it).
    pub elapsed: Duration,
}

impl<'a> Session<'a> {
    /// A session with the probe's own headers and TLS settings.
    pub fn new(
        cx: &'a Context,
        url: Url,
        headers: Vec<(String, String)>,
        tls: &TlsSettings,
    ) -> Result<Session<'a>, ProbeError> {
        let client = cx.clients.get(&tls.or(&cx.tls), false, &cx.base_dir)?;
        let mut headers = headers;
        // The `oauth2:` token, unless the probe sends credentials of its own.
        if let Some(authorization) = &cx.authorization
            && !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        {
            headers.push(("authorization".to_owned(), authorization.to_string()));
        }
        for (name, value) in &headers {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ProbeError::Setup(format!("invalid header name `{name}`")))?;
            HeaderValue::from_str(value)
                .map_err(|_| ProbeError::Setup(format!("invalid value for header `{name}`")))?;
        }
        Ok(Session {
            cx,
            client,
            url,
            headers,
            session_id: None,
            protocol: None,
            next_id: 0,
            exchanges: Vec::new(),
        })
    }

    /// Notes in the probe's progress that the session is initialized, so a
    /// later call that hangs says so (`initialized, session 3f9c2a1b…`).
    pub fn initialized(&self) {
        let progress = self.cx.progress();
        match &self.protocol {
            Some(version) => progress.fact(format!("initialized ({version})")),
            None => progress.fact("initialized"),
        }
        if let Some(id) = &self.session_id {
            let head: String = id.chars().take(8).collect();
            progress.fact(format!("session {head}…"));
        }
    }

    /// The endpoint.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The request headers this session sends (user headers and the
    /// protocol's own), credential headers masked, for evidence.
    pub fn headers_shown(&self) -> Json {
        let mut map = serde_json::Map::new();
        for (name, value) in &self.headers {
            let shown = if redact::is_credential_header(name) {
                redact::REDACTED.to_owned()
            } else {
                value.clone()
            };
            map.insert(name.clone(), Json::from(shown));
        }
        Json::Object(map)
    }

    fn builder(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let mut builder = self.client.request(method, self.url.clone());
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(id) = &self.session_id {
            builder = builder.header("mcp-session-id", id.as_str());
        }
        if let Some(version) = &self.protocol {
            builder = builder.header("mcp-protocol-version", version.as_str());
        }
        builder
    }

    /// Sends a request and waits for its response. `Ok(Err(reason))` is the
    /// server's failure (no usable answer); `Err` a setup error.
    pub async fn call(
        &mut self,
        method: &str,
        params: Option<Json>,
    ) -> Result<Result<Reply, String>, ProbeError> {
        self.next_id += 1;
        let id = Json::from(self.next_id);
        let body = super::super::jsonrpc::request_object(method, params.as_ref(), Some(&id));
        self.post(method, body, Some(id)).await
    }

    /// Sends a notification; the server must accept it with 202 and no body.
    pub async fn notify(&mut self, method: &str) -> Result<Result<Reply, String>, ProbeError> {
        let body = super::super::jsonrpc::request_object(method, None, None);
        self.post(method, body, None).await
    }

    async fn post(
        &mut self,
        method: &str,
        body: Json,
        id: Option<Json>,
    ) -> Result<Result<Reply, String>, ProbeError> {
        let mut record = json!({
            "method": method,
            "http": "POST",
            "session_id_sent": self.session_id.is_some(),
            "protocol_version_header": self.protocol,
        });
        if let Some(id) = &id {
            record["id"] = id.clone();
        }
        let started = Instant::now();
        let progress = self.cx.progress();
        progress.exchange();
        progress.phase(format!("waiting for {method}"));
        let sent = self
            .builder(reqwest::Method::POST)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string())
            .send()
            .await;
        let outcome = match sent {
            Err(e) => Err(fetch::error_chain(&e)),
            Ok(response) => {
                progress.phase(format!("reading the {method} answer"));
                self.read(response, id.as_ref(), started, &mut record).await
            }
        };
        record["latency_ms"] = json!(fetch::millis(started.elapsed()));
        if let Err(reason) = &outcome {
            record["error"] = json!(reason);
        }
        self.exchanges.push(record);
        Ok(outcome.map(|(_, headers, message)| Reply {
            headers,
            id,
            message,
            elapsed: started.elapsed(),
        }))
    }

    async fn read(
        &self,
        mut response: reqwest::Response,
        id: Option<&Json>,
        started: Instant,
        record: &mut Json,
    ) -> Result<(u16, HeaderMap, Option<Json>), String> {
        let status = response.status().as_u16();
        let progress = self.cx.progress();
        progress.step(format!(
            "{status} received after {}",
            fetch::format_latency(started.elapsed())
        ));
        let headers = std::mem::take(response.headers_mut());
        let media = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        record["status"] = json!(status);
        record["content_type"] = json!(media);
        if let Some(sid) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) {
            record["session_id_received"] = json!(shorten_id(sid));
        }
        let limit = usize::try_from(self.cx.body_limit).unwrap_or(usize::MAX);
        if !(200..300).contains(&status) {
            let (body, _) = read_capped(&mut response, limit.min(4096)).await;
            let text = String::from_utf8_lossy(&body);
            record["body_excerpt"] = json!(expect::excerpt(&text, 300));
            let mut reason = format!("HTTP {status}");
            if self.session_id.is_some() && matches!(status, 400 | 404) {
                reason.push_str(" (the session id the server gave was rejected)");
            }
            if !text.trim().is_empty() {
                reason.push_str(&format!(
                    ": {}",
                    expect::one_line(&expect::excerpt(text.trim(), 120))
                ));
            }
            return Err(reason);
        }
        let Some(id) = id else {
            // A notification: 202 Accepted and no body.
            let (body, _) = read_capped(&mut response, limit.min(4096)).await;
            record["body_bytes"] = json!(body.len());
            if status != 202 || !body.is_empty() {
                return Err(format!(
                    "HTTP {status}{}",
                    if body.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " with a body: {}",
                            expect::one_line(&expect::excerpt(&String::from_utf8_lossy(&body), 80))
                        )
                    }
                ));
            }
            return Ok((status, headers, None));
        };
        match media.as_deref() {
            Some("text/event-stream") => {
                record["transport"] = json!("sse");
                let found = read_sse(
                    &mut response,
                    id,
                    limit,
                    started,
                    record,
                    self.cx.progress(),
                )
                .await?;
                Ok((status, headers, Some(found)))
            }
            Some("application/json") => {
                record["transport"] = json!("json");
                let (body, truncated) = read_capped(&mut response, limit).await;
                record["body_bytes"] = json!(body.len());
                if truncated {
                    return Err(format!(
                        "more than {} (reading stopped there)",
                        expect::format_size(self.cx.body_limit)
                    ));
                }
                let doc: Json = serde_json::from_slice(&body).map_err(|e| {
                    format!(
                        "not JSON ({e}): {}",
                        expect::one_line(&expect::excerpt(&String::from_utf8_lossy(&body), 80))
                    )
                })?;
                record["body_excerpt"] = json!(expect::excerpt(&doc.to_string(), 300));
                Ok((status, headers, Some(doc)))
            }
            other => {
                let (body, _) = read_capped(&mut response, limit.min(4096)).await;
                let text = String::from_utf8_lossy(&body);
                record["body_excerpt"] = json!(expect::excerpt(&text, 300));
                Err(format!(
                    "HTTP {status} with content type {}, expected application/json or text/event-stream: {}",
                    other.unwrap_or("(none)"),
                    expect::one_line(&expect::excerpt(text.trim(), 80))
                ))
            }
        }
    }

    /// Ends the session with `DELETE` (when the server gave a session id):
    /// the status, or why there was none.
    pub async fn delete(&mut self) -> Option<Result<u16, String>> {
        self.session_id.as_ref()?;
        let started = Instant::now();
        let outcome = match self.builder(reqwest::Method::DELETE).send().await {
            Ok(r) => Ok(r.status().as_u16()),
            Err(e) => Err(fetch::error_chain(&e)),
        };
        let mut record = json!({
            "method": "(end session)",
            "http": "DELETE",
            "session_id_sent": true,
            "latency_ms": fetch::millis(started.elapsed()),
        });
        match &outcome {
            Ok(status) => record["status"] = json!(status),
            Err(reason) => record["error"] = json!(reason),
        }
        self.exchanges.push(record);
        Some(outcome)
    }
}

/// A session id as evidence: its first characters and its length (the id
/// grants access to the session while it lives).
pub fn shorten_id(id: &str) -> String {
    let head: String = id.chars().take(8).collect();
    format!("{head}… ({} chars)", id.chars().count())
}

/// Reads a body up to `limit` into one buffer reserved once (see
/// [`fetch::Capped`]); whether it was cut.
async fn read_capped(response: &mut reqwest::Response, limit: usize) -> (Vec<u8>, bool) {
    let announced = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok());
    let mut body = fetch::Capped::new(limit, announced);
    while let Ok(Some(chunk)) = response.chunk().await {
        body.keep(&chunk);
        if body.truncated() {
            break;
        }
    }
    let truncated = body.truncated();
    (body.into_vec(), truncated)
}

/// Reads SSE events until the one carrying the response to `id`; other
/// messages (notifications, server requests) are counted and named.
async fn read_sse(
    response: &mut reqwest::Response,
    id: &Json,
    limit: usize,
    started: Instant,
    record: &mut Json,
    progress: &Progress,
) -> Result<Json, String> {
    let mut parser = SseParser::default();
    let mut total = 0usize;
    let mut others: Vec<String> = Vec::new();
    let mut events = 0usize;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                record["events"] = json!(events);
                record["other_messages"] = json!(others);
                return Err(format!(
                    "the SSE stream ended after {events} events without the response to id {}",
                    expect::show(id)
                ));
            }
            Err(e) => {
                record["events"] = json!(events);
                return Err(format!(
                    "reading the SSE stream: {}",
                    fetch::error_chain(&e)
                ));
            }
        };
        total += chunk.len();
        progress.body_read(total);
        if total > limit {
            record["events"] = json!(events);
            return Err(format!(
                "the SSE stream passed {} without the response to id {} (reading stopped there)",
                expect::format_size(limit as u64),
                expect::show(id)
            ));
        }
        for data in parser.feed(&chunk) {
            events += 1;
            if events > MAX_EVENTS {
                return Err(format!(
                    "more than {MAX_EVENTS} SSE events without the response to id {}",
                    expect::show(id)
                ));
            }
            let message: Json = match serde_json::from_str(&data) {
                Ok(m) => m,
                Err(e) => {
                    record["events"] = json!(events);
                    return Err(format!(
                        "an SSE event is not JSON ({e}): {}",
                        expect::one_line(&expect::excerpt(&data, 80))
                    ));
                }
            };
            let is_response = message.get("method").is_none()
                && (message.get("result").is_some() || message.get("error").is_some());
            if is_response && message.get("id") == Some(id) {
                record["events"] = json!(events);
                record["other_messages"] = json!(others);
                record["response_after_ms"] = json!(fetch::millis(started.elapsed()));
                record["body_excerpt"] = json!(expect::excerpt(&data, 300));
                return Ok(message);
            }
            if is_response {
                // A response to something else: the envelope's `id` rule fails on it.
                record["events"] = json!(events);
                record["body_excerpt"] = json!(expect::excerpt(&data, 300));
                return Ok(message);
            }
            let name = message
                .get("method")
                .and_then(Json::as_str)
                .unwrap_or("(not a JSON-RPC message)");
            if others.len() < 20 {
                others.push(name.to_owned());
            }
        }
    }
}

/// An incremental `text/event-stream` parser: yields the `data` of each
/// complete event (lines joined by `\n`); events without data (priming
/// events, comments, retry hints) yield nothing.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<String>,
    has_data: bool,
}

impl SseParser {
    /// Feeds bytes; returns the data of every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut done = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = String::from_utf8_lossy(&self.line).into_owned();
            self.line.clear();
            if line.is_empty() {
                if self.has_data {
                    let data = self.data.join("\n");
                    if !data.trim().is_empty() {
                        done.push(data);
                    }
                }
                self.data.clear();
                self.has_data = false;
            } else if let Some(value) = line.strip_prefix("data") {
                let value = match value.strip_prefix(':') {
                    Some(v) => v.strip_prefix(' ').unwrap_or(v),
                    None if value.is_empty() => "",
                    None => continue,
                };
                self.data.push(value.to_owned());
                self.has_data = true;
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks_and_priming_events_are_skipped() {
        let mut p = SseParser::default();
        assert!(p.feed(b"id: 1\ndata: \n\nevent: message\r\nda").is_empty());
        assert!(p.feed(b"ta: {\"a\":\n").is_empty());
        let events = p.feed(b"data: 1}\r\n\r\n: comment\n\ndata:{}\n\n");
        assert_eq!(events, vec!["{\"a\":\n1}".to_owned(), "{}".to_owned()]);
    }

    #[test]
    fn session_ids_are_shortened_in_evidence() {
        assert_eq!(
            shorten_id("0a40a5d3258f41969b5a3727909eafc4"),
            "0a40a5d3… (32 chars)"
        );
    }
}
